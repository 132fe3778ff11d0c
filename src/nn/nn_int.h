/* nn_int.h -- private to src/nn: the graph IR, the op table, plans.
 *
 * The IR is two flat arrays, tensors and nodes, addressed by index (a
 * tensor index of -1 is an absent optional input). A model's IR never
 * changes after loading. A plan starts as a copy of it (sharing names,
 * attributes and weight data) and is then specialised in place: shapes
 * resolved, constants folded, nodes fused or killed, activations given
 * arena offsets.
 *
 * Element storage: float tensors are float32 (fp16 weights widened at
 * load); every integer and bool tensor is int64, which is all the shape
 * arithmetic of the supported models needs. */
#ifndef KADR_NN_INT_H
#define KADR_NN_INT_H

#include "nn.h"
#include "util.h"

/* NN_HOT marks a plain-C kernel loop to be compiled three times (AVX-512,
 * AVX2+FMA, baseline x86-64) and picked at load time by the CPU: the build
 * itself targets baseline x86-64, where auto-vectorisation stops at SSE2.
 * GCC only: clang 14 drops the dispatcher of external functions. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define NN_HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NN_HOT
#endif

typedef struct {
    int rank;
    int64_t d[NN_MAX_RANK];
} nn__dims;

typedef struct nn__tensor {
    char *name;           /* owned by the model */
    int dtype;            /* NN_F32 or NN_I64 */
    nn__dims shape;       /* in a model: declared (<0 symbolic); in a plan: concrete */
    char **dim_names;     /* model inputs/outputs only, rank entries, may be NULL */
    void *data;           /* constant data, NULL for activations */
    int owns_data;        /* data freed with this IR (model weights; plan-made constants) */
    int producer;         /* node index, -1 for inputs and constants */
    /* planning */
    int first, last;      /* execution step range the value must live for */
    size_t offset;        /* in the arena */
} nn__tensor;

typedef struct {
    char *name;
    int type;             /* ONNX AttributeType */
    float f;
    int64_t i;
    char *s;
    int n;                /* count of floats/ints */
    float *floats;
    int64_t *ints;
    int tensor;           /* TENSOR attribute: index into the model's attr tensors */
} nn__attr;

/* Fused activation applied to a Conv/Gemm result. */
enum { NN_ACT_NONE, NN_ACT_RELU, NN_ACT_CLIP, NN_ACT_LEAKY, NN_ACT_PRELU, NN_ACT_SIGMOID };

typedef struct {
    int kind;
    float a, b;           /* clip min/max, leaky alpha */
    const float *slope;   /* PRelu, one per channel (or a single value if nslope == 1) */
    int64_t nslope;
} nn__act;

struct nn__opdef;

typedef struct nn__node {
    char *name;
    char *op_type;
    const struct nn__opdef *op;
    int nin, nout;
    int *in, *out;        /* tensor indices */
    int nattr;
    nn__attr *attrs;      /* shared with the model */
    /* plan-time state */
    void *params;         /* op-specific, freed with ut_free */
    nn__act act;
    int dead;
    double flops;
    const char *label;    /* profile name when finer than op_type ("Conv/depthwise"), else NULL */
    size_t scratch;       /* bytes of per-run scratch this node needs, per thread */
    size_t zeros;         /* bytes of read-only zeros it reads (padding rows) */
} nn__node;

typedef struct {
    int ntensors, cap_tensors;
    nn__tensor *tensors;
    int nnodes;
    nn__node *nodes;
    int ninputs, noutputs;
    int *inputs, *outputs;
    int opset;
    nn__tensor *attr_tensors;  /* tensors held by attributes (Constant value); model-owned */
    int nattr_tensors;
} nn__graph;

struct nn_model {
    nn__graph g;
    size_t weight_bytes;
};

/* What a kernel sees at run time. */
typedef struct nn__exec {
    const nn__graph *g;
    void **ptr;           /* per tensor: its data */
    char *scratch;        /* the plan's max node scratch, per thread slot */
    size_t scratch_stride;
    const float *zeros;   /* at least the plan's max node->zeros bytes of 0.0f */
    struct nn__team *team; /* NULL when single-threaded */
    int nthreads;
} nn__exec;

typedef struct nn__opdef {
    const char *name;
    int min_in, max_in, nout;
    /* Check attributes, set output dtype/shape from input shapes (and from
     * constant inputs' values where the op needs them). Returns UT_OK or an
     * error naming the problem; the caller adds node and op. */
    int (*prepare)(nn__graph *g, nn__node *n);
    /* Compute. Never fails: everything checkable was checked in prepare. */
    void (*run)(const nn__exec *x, const nn__node *n);
    int shape_only;       /* output depends only on input shapes (Shape) */
} nn__opdef;

const nn__opdef *nn__op_find(const char *name);

struct nn_plan {
    const nn_model *model;
    nn__graph g;
    int *order;           /* live nodes in execution order */
    int norder;
    size_t arena_bytes;
    size_t scratch_bytes; /* per thread */
    size_t zeros_bytes;
    nn_plan_stats stats;
};

/* ---- graph helpers (graph.c) ---- */
size_t nn__numel(const nn__dims *d);
size_t nn__dtype_size(int dtype);
const nn__attr *nn__attr_get(const nn__node *n, const char *name);
int64_t nn__attr_int(const nn__node *n, const char *name, int64_t dflt);
float nn__attr_float(const nn__node *n, const char *name, float dflt);
const char *nn__attr_str(const nn__node *n, const char *name, const char *dflt);
/* Attribute ints into out[max]; returns count, or -1 if absent/too many. */
int nn__attr_ints(const nn__node *n, const char *name, int64_t *out, int max);
nn__tensor *nn__in(nn__graph *g, const nn__node *n, int i);   /* NULL if absent */
nn__tensor *nn__out(nn__graph *g, const nn__node *n, int i);
/* Constant int64 input i as values (converts float); count or -1 if not constant. */
int nn__const_ints(nn__graph *g, const nn__node *n, int i, int64_t *out, int max);
int nn__dims_str(const nn__dims *d, char *buf, size_t len);
void nn__graph_free(nn__graph *g, int free_shared);
/* Add a tensor to g (grows the array; pointers into it become stale). */
int nn__graph_add_tensor(nn__graph *g, nn__tensor **out);
/* Broadcast a and b (numpy rules) into out; UT_EINVAL if incompatible. */
int nn__broadcast(const nn__dims *a, const nn__dims *b, nn__dims *out);

/* ---- worker team (team.c) ---- */
typedef struct nn__team nn__team;
/* Chunk `chunk` of a launch, run on the thread with scratch slot `slot`. */
typedef void (*nn__chunk_fn)(void *arg, unsigned chunk, int slot);
int nn__team_create(int nworkers, nn__team **out);
void nn__team_free(nn__team *t);
/* Run chunks 0..nchunks-1 on whichever threads claim them (the caller
 * included, slot 0); returns when all are done. */
void nn__team_run(nn__team *t, nn__chunk_fn fn, void *arg, unsigned nchunks);

/* ---- parallel helper (run.c) ---- */
/* fn(ctx, begin, end, slot): slot < x->nthreads is unique among the chunks
 * running at once, for indexing per-thread scratch. flops: the work, to
 * keep tiny kernels on one thread. */
typedef void (*nn__range_fn)(void *ctx, size_t begin, size_t end, int slot);
void nn__parallel(const nn__exec *x, size_t n, double flops, nn__range_fn fn, void *ctx);

/* ---- kernels shared between ops ---- */
void nn__act_apply(const nn__act *a, float *restrict y, size_t n, int64_t channel);
/* Naive-free GEMM entry: C[MxN] = A[MxK] * B[KxN] (+C if accumulate), row-major, lda/ldb/ldc. */
void nn__sgemm(int transa, int transb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
               int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

/* ---- convolution GEMM (gemm_avx2.c) ---- */
int nn__gemm_ok(void);
/* Scratch floats nn__gemm_run needs beside its operands for depth k. */
size_t nn__gemm_edge_floats(int64_t k);
size_t nn__gemm_packed_floats(int64_t m, int64_t k);
void nn__gemm_pack(const float *a, int64_t m, int64_t k, float *out);
void nn__gemm_run(const float *pa, int64_t m, int64_t k, const float *b, int64_t ldb, int64_t n, float *c, int64_t ldc,
                  const float *bias, const nn__act *act, float *edge);
/* The same with one column: y[m] = A x + bias, activation. */
void nn__gemv_packed(const float *pa, int64_t m, int64_t k, const float *x, float *y, const float *bias, const nn__act *act);

/* ---- optimisation (opt.c, ops_elem.c, ops_conv.c) ---- */
int nn__act_of(nn__graph *g, const nn__node *n, int64_t channels, nn__act *out);
int nn__bn_coeffs(nn__graph *g, const nn__node *nd, float *a, float *b, int64_t c);
extern const nn__opdef nn__op_conv, nn__op_gemm, nn__op_bn, nn__op_relu, nn__op_sigmoid, nn__op_clip, nn__op_leaky,
    nn__op_prelu;
int nn__fuse(nn_plan *p);

#endif

/* nn.h -- kadr's ONNX inference engine: the module's whole contract.
 *
 * Lifecycle, in three separate steps (ggml's split of graph, memory and
 * compute):
 *
 *   nn_model   the parsed ONNX graph and its weights. Immutable after
 *              nn_model_open*; share it read-only between threads.
 *   nn_plan    the model specialised for concrete input shapes: shapes
 *              inferred, constants folded, Conv+BatchNorm+activation fused,
 *              dead nodes removed, tensor lifetimes packed into one arena
 *              layout. Immutable too; it borrows the model's weights, so
 *              free plans before their model.
 *   nn_ctx     per-thread scratch (the arena) and a thread pool to run one
 *              plan; nn_ctx_run allocates nothing. One ctx per calling
 *              thread; many ctxs may run the same plan at once.
 *
 * Errors are values: every fallible call returns UT_OK or a negative UT_E*
 * code and leaves a one-line message in ut_errmsg(). Bad model files,
 * unsupported ops and impossible shapes fail at open or plan time, naming
 * the node and op; nn_ctx_run never fails on a plan that was built.
 *
 * Tensors crossing the API are dense row-major float32 (NCHW as the model
 * declares it). */
#ifndef KADR_NN_H
#define KADR_NN_H

#include <stddef.h>
#include <stdint.h>

#define NN_MAX_RANK 8

/* Element types, numbered as ONNX TensorProto.DataType. */
enum { NN_F32 = 1, NN_U8 = 2, NN_I8 = 3, NN_I32 = 6, NN_I64 = 7, NN_BOOL = 9, NN_F16 = 10 };

typedef struct nn_model nn_model;
typedef struct nn_plan nn_plan;
typedef struct nn_ctx nn_ctx;

/* A graph input or output. In a model, dims[i] < 0 is symbolic and
 * dim_names[i] holds its name ("batch", "height") or NULL when the file
 * leaves it unnamed. In a plan every dim is concrete. Strings point into
 * the model/plan and live as long as it does. */
typedef struct {
    const char *name;
    int dtype;
    int rank;
    int64_t dims[NN_MAX_RANK];
    const char *dim_names[NN_MAX_RANK];
} nn_info;

/* The shape chosen for one input at plan time. */
typedef struct {
    const char *name;
    int rank;
    int64_t dims[NN_MAX_RANK];
} nn_shape;

/* ---- model ------------------------------------------------------------- */

/* Parse an ONNX file (or bytes; data is not kept). Every op is checked
 * against the engine's op table here. *out is freed with nn_model_free. */
int nn_model_open(const char *path, nn_model **out);
int nn_model_open_mem(const void *data, size_t len, nn_model **out);
void nn_model_free(nn_model *m);

int nn_model_ninputs(const nn_model *m);
int nn_model_noutputs(const nn_model *m);
/* i out of range: UT_ERANGE. */
int nn_model_input(const nn_model *m, int i, nn_info *out);
int nn_model_output(const nn_model *m, int i, nn_info *out);
/* Number of nodes; op type of node i (NULL out of range). */
int nn_model_nnodes(const nn_model *m);
const char *nn_model_node_op(const nn_model *m, int i);
/* Bytes of weights held (fp32 after conversion). */
size_t nn_model_weight_bytes(const nn_model *m);

/* Decode one serialized ONNX TensorProto (the input_N.pb/output_N.pb files
 * of ONNX test data) into float32 values (integers converted); info gets
 * the original dtype and the dims (name NULL). *values is freed with
 * ut_free. */
int nn_tensor_decode(const void *data, size_t len, nn_info *info, float **values);

/* 1 if the engine implements this ONNX op type (default domain). */
int nn_op_supported(const char *op_type);

/* ---- plan -------------------------------------------------------------- */

/* Specialise m for input shapes. shapes may name some inputs (NULL/0 for
 * none); symbolic dims of inputs not named default to 1, and batch, when
 * > 0, replaces dim 0 of every input that did not get an explicit shape.
 * Fails with a message on a shape the graph cannot take. */
int nn_plan_create(const nn_model *m, const nn_shape *shapes, int nshapes, int batch, nn_plan **out);
void nn_plan_free(nn_plan *p);

int nn_plan_ninputs(const nn_plan *p);
int nn_plan_noutputs(const nn_plan *p);
int nn_plan_input(const nn_plan *p, int i, nn_info *out);
int nn_plan_output(const nn_plan *p, int i, nn_info *out);
/* Number of float elements of input/output i (0 if out of range). */
size_t nn_plan_input_size(const nn_plan *p, int i);
size_t nn_plan_output_size(const nn_plan *p, int i);

typedef struct {
    int nodes;          /* nodes left to execute after optimisation */
    int folded;         /* nodes evaluated at plan time */
    int fused;          /* BatchNorm/activation nodes merged into their producer */
    double flops;       /* multiply-adds x2 per run */
    size_t arena_bytes; /* activation memory per ctx */
} nn_plan_stats;
void nn_plan_get_stats(const nn_plan *p, nn_plan_stats *out);

/* ---- context ----------------------------------------------------------- */

/* nthreads <= 0 means 1. The ctx borrows p: free ctxs before their plan. */
int nn_ctx_create(const nn_plan *p, int nthreads, nn_ctx **out);
void nn_ctx_free(nn_ctx *c);

/* Run once. inputs[i] holds nn_plan_input_size(p, i) floats, outputs[i]
 * receives nn_plan_output_size(p, i) floats. */
int nn_ctx_run(nn_ctx *c, const float *const *inputs, float *const *outputs);

/* Profiling: when on, each run also times every node (a clock read per
 * node, off by default). nn_ctx_profile sums the time per op type over all
 * profiled runs since it was turned on, slowest first; returns the number
 * of entries written (at most max). Strings live as long as the plan. */
typedef struct {
    const char *op;
    int nodes;      /* nodes of this type per run */
    double ms;      /* total over profiled runs */
    double flops;   /* per run */
} nn_op_time;
void nn_ctx_set_profiling(nn_ctx *c, int on);
int nn_ctx_profile(const nn_ctx *c, nn_op_time *out, int max);

#endif

/* plan.c -- specialise a model for concrete input shapes.
 *
 * Steps, in order: copy the IR (borrowing names, attributes and weights);
 * walk the nodes in their (topological) file order, letting each op infer
 * its outputs' shapes and evaluating at once every node whose inputs are
 * all constant (constant folding; this also turns the Shape/Gather/Concat
 * arithmetic of dynamic-shape models into constants, which is what makes
 * Reshape targets known); fuse BatchNorm and activations into convolutions
 * (opt.c); drop nodes no output depends on; then give every remaining
 * activation an arena offset so that tensors whose lifetimes overlap never
 * share bytes (greedy best-fit, largest first).
 *
 * Invariant of a finished plan: every tensor a live node reads is either
 * constant (data != NULL) or has an offset in [0, arena_bytes). */
#include "nn_int.h"

#include <stdlib.h>
#include <string.h>

#define ALIGN 64

static int copy_graph(const nn__graph *src, nn__graph *g) {
    memset(g, 0, sizeof *g);
    g->opset = src->opset;
    g->attr_tensors = src->attr_tensors;
    g->nattr_tensors = src->nattr_tensors;
    g->tensors = ut_malloc((size_t)(src->ntensors + 1) * sizeof *g->tensors);
    g->nodes = ut_calloc((size_t)src->nnodes + 1, sizeof *g->nodes);
    g->inputs = ut_malloc((size_t)src->ninputs * sizeof(int) + 1);
    g->outputs = ut_malloc((size_t)src->noutputs * sizeof(int) + 1);
    if (!g->tensors || !g->nodes || !g->inputs || !g->outputs) return ut_fail(UT_ENOMEM, "out of memory");
    memcpy(g->tensors, src->tensors, (size_t)src->ntensors * sizeof *g->tensors);
    g->ntensors = g->cap_tensors = src->ntensors;
    for (int i = 0; i < g->ntensors; i++) g->tensors[i].owns_data = 0;
    memcpy(g->inputs, src->inputs, (size_t)src->ninputs * sizeof(int));
    memcpy(g->outputs, src->outputs, (size_t)src->noutputs * sizeof(int));
    g->ninputs = src->ninputs;
    g->noutputs = src->noutputs;
    for (int i = 0; i < src->nnodes; i++, g->nnodes++) {
        nn__node *n = &g->nodes[i];
        *n = src->nodes[i];
        n->params = NULL;
        n->in = ut_malloc((size_t)n->nin * sizeof(int) + 1);
        n->out = ut_malloc((size_t)n->nout * sizeof(int) + 1);
        if (!n->in || !n->out) {
            g->nnodes++;
            return ut_fail(UT_ENOMEM, "out of memory");
        }
        memcpy(n->in, src->nodes[i].in, (size_t)n->nin * sizeof(int));
        memcpy(n->out, src->nodes[i].out, (size_t)n->nout * sizeof(int));
    }
    return UT_OK;
}

/* Concrete shapes for the graph inputs. */
static int set_input_shapes(nn__graph *g, const nn_shape *shapes, int nshapes, int batch) {
    for (int s = 0; s < nshapes; s++) {
        int found = 0;
        for (int i = 0; i < g->ninputs; i++) found |= !strcmp(g->tensors[g->inputs[i]].name, shapes[s].name);
        if (!found) return ut_fail(UT_ENOENT, "the model has no input '%s'", shapes[s].name);
    }
    for (int i = 0; i < g->ninputs; i++) {
        nn__tensor *t = &g->tensors[g->inputs[i]];
        const nn_shape *given = NULL;
        for (int s = 0; s < nshapes; s++)
            if (!strcmp(t->name, shapes[s].name)) given = &shapes[s];
        char want[128];
        nn__dims_str(&t->shape, want, sizeof want);
        if (given) {
            if (given->rank != t->shape.rank) return ut_fail(UT_EINVAL, "input '%s' has rank %d, got a shape of rank %d", t->name, t->shape.rank, given->rank);
            for (int d = 0; d < given->rank; d++) {
                if (given->dims[d] <= 0 || given->dims[d] > (1 << 24))
                    return ut_fail(UT_EINVAL, "input '%s': dimension %d must be 1..16777216", t->name, d);
                if (t->shape.d[d] > 0 && t->shape.d[d] != given->dims[d])
                    return ut_fail(UT_EINVAL, "input '%s': dimension %d is fixed at %lld, got %lld", t->name, d,
                                   (long long)t->shape.d[d], (long long)given->dims[d]);
                t->shape.d[d] = given->dims[d];
            }
        } else {
            for (int d = 0; d < t->shape.rank; d++)
                if (t->shape.d[d] <= 0) t->shape.d[d] = d == 0 && batch > 0 ? batch : 1;
            if (batch > 0 && t->shape.rank > 0 && t->shape.d[0] != batch)
                return ut_fail(UT_EINVAL, "input '%s' has a fixed batch of %lld", t->name, (long long)t->shape.d[0]);
        }
    }
    return UT_OK;
}

/* Evaluate node n now; its inputs are constant (or only their shapes matter). */
static int fold(nn__graph *g, nn__node *n) {
    void **ptr = ut_calloc((size_t)g->ntensors, sizeof *ptr);
    if (!ptr) return ut_fail(UT_ENOMEM, "out of memory");
    for (int i = 0; i < n->nin; i++)
        if (n->in[i] >= 0) ptr[n->in[i]] = g->tensors[n->in[i]].data;
    int rc = UT_OK;
    for (int i = 0; i < n->nout && !rc; i++) {
        nn__tensor *t = nn__out(g, n, i);
        if (!t) continue;
        size_t bytes = nn__numel(&t->shape) * nn__dtype_size(t->dtype);
        if (!(t->data = ut_calloc(1, bytes ? bytes : 1))) rc = ut_fail(UT_ENOMEM, "out of memory");
        t->owns_data = 1;
        ptr[n->out[i]] = t->data;
    }
    char *scratch = NULL;
    float *zeros = NULL;
    if (!rc && n->scratch && !(scratch = ut_malloc(n->scratch))) rc = ut_fail(UT_ENOMEM, "out of memory");
    if (!rc && n->zeros && !(zeros = ut_calloc(1, n->zeros))) rc = ut_fail(UT_ENOMEM, "out of memory");
    if (!rc) {
        nn__exec x = {.g = g, .ptr = ptr, .scratch = scratch, .scratch_stride = n->scratch, .nthreads = 1, .zeros = zeros};
        n->op->run(&x, n);
        n->dead = 1;
    }
    ut_free(scratch);
    ut_free(zeros);
    ut_free(ptr);
    return rc;
}

static int foldable(nn__graph *g, const nn__node *n) {
    if (n->op->shape_only) return 1;
    for (int i = 0; i < n->nin; i++)
        if (n->in[i] >= 0 && !g->tensors[n->in[i]].data) return 0;
    return 1;
}

/* Limits that keep a hostile or broken file from asking for absurd memory:
 * no activation above 2^28 elements (1 GiB of fp32; the largest real
 * activations here are ~7e7), no constant folded at plan time above 2^24. */
#define MAX_ELEMS ((int64_t)1 << 28)
#define MAX_FOLDED_ELEMS ((int64_t)1 << 24)

static int check_size(const nn__tensor *t, int64_t limit) {
    int64_t n = 1;
    for (int i = 0; i < t->shape.rank; i++) {
        int64_t d = t->shape.d[i];
        if (d < 0 || (d > 0 && n > limit / d)) return ut_fail(UT_ETOOBIG, "output '%s' would be too large", t->name);
        n *= d;
    }
    return n <= limit ? UT_OK : ut_fail(UT_ETOOBIG, "output '%s' would be too large", t->name);
}

static int prepare_all(nn_plan *p) {
    nn__graph *g = &p->g;
    for (int i = 0; i < g->nnodes; i++) {
        nn__node *n = &g->nodes[i];
        for (int k = 0; k < n->nout; k++) {
            nn__tensor *t = nn__out(g, n, k);
            if (t) t->dtype = NN_F32, t->shape.rank = 0;
        }
        int rc = UT_OK;
        for (int k = 0; k < n->op->min_in && !rc; k++)
            if (n->in[k] < 0) rc = ut_fail(UT_EFORMAT, "required input %d is missing", k);
        if (!rc && n->out[0] < 0) rc = ut_fail(UT_EFORMAT, "the first output has no name");
        for (int k = n->op->nout; k < n->nout && !rc; k++)
            if (n->out[k] >= 0) rc = ut_fail(UT_EUNSUPPORTED, "output %d ('%s') is not supported", k, g->tensors[n->out[k]].name);
        if (!rc) rc = n->op->prepare(g, n);
        int fold_it = !rc && foldable(g, n);
        for (int k = 0; !rc && k < n->nout; k++)
            if (n->out[k] >= 0) rc = check_size(&g->tensors[n->out[k]], fold_it ? MAX_FOLDED_ELEMS : MAX_ELEMS);
        if (rc) return ut_failf_wrap(rc, "node '%s' (%s)", n->name, n->op_type);
        if (fold_it) {
            if ((rc = fold(g, n))) return rc;
            p->stats.folded++;
        }
    }
    return UT_OK;
}

/* Kill nodes no graph output depends on. */
static void remove_dead(nn__graph *g) {
    char *need = ut_calloc((size_t)g->ntensors + 1, 1);
    if (!need) return;  /* keeping every node is correct, only slower */
    for (int i = 0; i < g->noutputs; i++) need[g->outputs[i]] = 1;
    for (int i = g->nnodes - 1; i >= 0; i--) {
        nn__node *n = &g->nodes[i];
        if (n->dead) continue;
        int used = 0;
        for (int k = 0; k < n->nout; k++) used |= n->out[k] >= 0 && need[n->out[k]];
        if (!used) {
            n->dead = 1;
            continue;
        }
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] >= 0) need[n->in[k]] = 1;
    }
    ut_free(need);
}

typedef struct {
    int idx;
    size_t bytes;
} slot_req;

static int by_size_desc(const void *a, const void *b) {
    const slot_req *x = a, *y = b;
    return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : x->idx - y->idx;
}

/* Lifetimes in execution steps, then greedy placement, largest first. */
static int plan_memory(nn_plan *p) {
    nn__graph *g = &p->g;
    for (int i = 0; i < g->ntensors; i++) g->tensors[i].first = g->tensors[i].last = -1;
    for (int i = 0; i < g->ninputs; i++) g->tensors[g->inputs[i]].first = g->tensors[g->inputs[i]].last = 0;
    for (int s = 0; s < p->norder; s++) {
        const nn__node *n = &g->nodes[p->order[s]];
        for (int k = 0; k < n->nout; k++)
            if (n->out[k] >= 0) g->tensors[n->out[k]].first = g->tensors[n->out[k]].last = s;
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] >= 0) g->tensors[n->in[k]].last = s;
    }
    for (int i = 0; i < g->noutputs; i++) g->tensors[g->outputs[i]].last = p->norder;
    slot_req *req = ut_malloc((size_t)g->ntensors * sizeof *req + 1);
    if (!req) return ut_fail(UT_ENOMEM, "out of memory");
    int nreq = 0;
    for (int i = 0; i < g->ntensors; i++) {
        nn__tensor *t = &g->tensors[i];
        if (t->data || t->first < 0) continue;
        size_t bytes = nn__numel(&t->shape) * nn__dtype_size(t->dtype);
        req[nreq++] = (slot_req){i, (bytes + ALIGN - 1) / ALIGN * ALIGN};
    }
    qsort(req, (size_t)nreq, sizeof *req, by_size_desc);
    size_t top = 0;
    for (int r = 0; r < nreq; r++) {
        nn__tensor *t = &g->tensors[req[r].idx];
        /* lowest offset that fits between already-placed overlapping tensors */
        size_t off = 0;
        for (int moved = 1; moved;) {
            moved = 0;
            for (int q = 0; q < r; q++) {
                const nn__tensor *o = &g->tensors[req[q].idx];
                if (o->last < t->first || t->last < o->first) continue;
                if (off < o->offset + req[q].bytes && o->offset < off + req[r].bytes) {
                    off = o->offset + req[q].bytes;
                    moved = 1;
                }
            }
        }
        t->offset = off;
        if (off + req[r].bytes > top) top = off + req[r].bytes;
    }
    ut_free(req);
    p->arena_bytes = top;
    return UT_OK;
}

static int finish(nn_plan *p) {
    nn__graph *g = &p->g;
    for (int i = 0; i < g->noutputs; i++) {
        const nn__tensor *t = &g->tensors[g->outputs[i]];
        int declared = p->model->g.tensors[g->outputs[i]].dtype;  /* from the file's value_info */
        if (t->dtype != NN_F32 || (declared && declared != NN_F32))
            return ut_fail(UT_EUNSUPPORTED, "output '%s' is not float32 (type %d)", t->name, declared ? declared : t->dtype);
    }
    remove_dead(g);
    if (!(p->order = ut_malloc((size_t)g->nnodes * sizeof *p->order + 1))) return ut_fail(UT_ENOMEM, "out of memory");
    for (int i = 0; i < g->nnodes; i++) {
        const nn__node *n = &g->nodes[i];
        if (n->dead) continue;
        p->order[p->norder++] = i;
        p->stats.flops += n->flops;
        if (n->scratch > p->scratch_bytes) p->scratch_bytes = n->scratch;
        if (n->zeros > p->zeros_bytes) p->zeros_bytes = n->zeros;
    }
    p->stats.nodes = p->norder;
    int rc = plan_memory(p);
    p->stats.arena_bytes = p->arena_bytes;
    return rc;
}

int nn_plan_create(const nn_model *m, const nn_shape *shapes, int nshapes, int batch, nn_plan **out) {
    *out = NULL;
    nn_plan *p = ut_calloc(1, sizeof *p);
    if (!p) return ut_fail(UT_ENOMEM, "out of memory");
    p->model = m;
    int rc = copy_graph(&m->g, &p->g);
    if (!rc) rc = set_input_shapes(&p->g, shapes, nshapes, batch);
    if (!rc) rc = prepare_all(p);
    if (!rc) rc = nn__fuse(p);
    if (!rc) rc = finish(p);
    if (rc) {
        nn_plan_free(p);
        return rc;
    }
    *out = p;
    return UT_OK;
}

void nn_plan_free(nn_plan *p) {
    if (!p) return;
    nn__graph_free(&p->g, 0);
    ut_free(p->order);
    ut_free(p);
}

/* opt.c -- graph rewrites on a plan after shapes are known and constants
 * folded: BatchNormalization folded into the preceding Conv's weights, and
 * an activation (Relu, Clip, LeakyRelu, PRelu, Sigmoid) applied in the
 * producer's epilogue instead of as a separate pass over memory.
 *
 * A rewrite only happens when the intermediate tensor has a single reader
 * and is not a graph output, so nothing else can observe the difference.
 * New weights belong to the plan; the model's stay untouched. */
#include "nn_int.h"

#include <string.h>

/* How many live nodes (and graph outputs) read each tensor. */
static int *count_uses(const nn__graph *g) {
    int *uses = ut_calloc((size_t)g->ntensors + 1, sizeof *uses);
    if (!uses) return NULL;
    for (int i = 0; i < g->nnodes; i++) {
        const nn__node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] >= 0) uses[n->in[k]]++;
    }
    for (int i = 0; i < g->noutputs; i++) uses[g->outputs[i]] += 2;
    return uses;
}

/* The single live reader of tensor t after node idx, or NULL. */
static nn__node *sole_reader(nn__graph *g, const int *uses, int t, int idx) {
    if (t < 0 || uses[t] != 1) return NULL;
    for (int i = idx + 1; i < g->nnodes; i++) {
        nn__node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] == t) return k == 0 ? n : NULL;
    }
    return NULL;
}

static int new_const(nn__graph *g, const char *name, int64_t count, int *idx) {
    nn__tensor *t;
    if (nn__graph_add_tensor(g, &t)) return UT_ENOMEM;
    t->name = (char *)name;  /* borrowed, like every plan tensor name */
    t->dtype = NN_F32;
    t->shape = (nn__dims){1, {count}};
    if (!(t->data = ut_calloc((size_t)count + 1, sizeof(float)))) return ut_fail(UT_ENOMEM, "out of memory");
    t->owns_data = 1;
    *idx = g->ntensors - 1;
    return UT_OK;
}

/* W'[m] = W[m] * a[m], b'[m] = b[m] * a[m] + c[m] with a, c from the BN. */
static int fold_bn(nn__graph *g, nn__node *conv, nn__node *bn) {
    const nn__tensor *w = nn__in(g, conv, 1);
    int64_t m = w->shape.d[0], per = (int64_t)nn__numel(&w->shape) / m;
    float *a = ut_malloc(2 * (size_t)m * sizeof(float));
    if (!a) return ut_fail(UT_ENOMEM, "out of memory");
    int rc = nn__bn_coeffs(g, bn, a, a + m, m);
    int wi = -1, bi = -1;
    char *wname = w->name;  /* w dangles once new_const grows the tensor array */
    if (!rc) rc = new_const(g, wname, m * per, &wi);
    if (!rc) rc = new_const(g, wname, m, &bi);
    if (rc) {
        ut_free(a);
        return rc == UT_EUNSUPPORTED ? UT_OK : rc;  /* non-constant BN: leave it */
    }
    w = nn__in(g, conv, 1);  /* the tensor array may have moved */
    const nn__tensor *b = nn__in(g, conv, 2);
    float *nw = g->tensors[wi].data, *nb = g->tensors[bi].data;
    g->tensors[wi].shape = w->shape;
    for (int64_t i = 0; i < m; i++) {
        for (int64_t k = 0; k < per; k++) nw[i * per + k] = ((const float *)w->data)[i * per + k] * a[i];
        nb[i] = (b ? ((const float *)b->data)[i] : 0.0f) * a[i] + a[m + i];
    }
    ut_free(a);
    int *in = ut_realloc(conv->in, 3 * sizeof *in);
    if (!in) return ut_fail(UT_ENOMEM, "out of memory");
    conv->in = in;
    conv->nin = 3;
    in[1] = wi, in[2] = bi;
    conv->out[0] = bn->out[0];
    g->tensors[bn->out[0]].producer = (int)(conv - g->nodes);
    bn->dead = 1;
    return 1;
}

int nn__fuse(nn_plan *p) {
    nn__graph *g = &p->g;
    for (int i = 0; i < g->nnodes; i++) {
        nn__node *n = &g->nodes[i];
        if (n->dead || (n->op != &nn__op_conv && n->op != &nn__op_gemm && n->op != &nn__op_bn)) continue;
        for (int changed = 1; changed;) {
            changed = 0;
            int *uses = count_uses(g);
            if (!uses) return ut_fail(UT_ENOMEM, "out of memory");
            nn__node *next = sole_reader(g, uses, n->out[0], i);
            ut_free(uses);
            if (!next || n->act.kind != NN_ACT_NONE) break;
            int64_t channels = g->tensors[n->out[0]].shape.rank >= 2 ? g->tensors[n->out[0]].shape.d[1] : 1;
            const nn__tensor *cw = nn__in(g, n, 1), *cb = nn__in(g, n, 2);
            if (n->op == &nn__op_conv && next->op == &nn__op_bn && cw->data && (!cb || cb->data)) {
                int rc = fold_bn(g, n, next);
                if (rc < 0) return rc;
                if (rc) {
                    p->stats.fused++;
                    /* BN changed the weights: re-derive the op's parameters */
                    if ((rc = n->op->prepare(g, n))) return rc;
                    changed = 1;
                }
                continue;
            }
            nn__act act;
            if (!nn__act_of(g, next, channels, &act)) break;
            if (n->op == &nn__op_gemm && act.kind == NN_ACT_PRELU) break;
            n->act = act;
            n->out[0] = next->out[0];
            g->tensors[next->out[0]].producer = i;
            next->dead = 1;
            p->stats.fused++;
        }
    }
    return UT_OK;
}

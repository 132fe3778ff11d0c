/* ops_elem.c -- elementwise ops: broadcasting binary arithmetic (float and
 * int64, the latter for shape arithmetic), PRelu, and unary activations.
 *
 * Binary ops iterate the output row by row (all dims but the last); each
 * operand has a per-dim stride that is 0 where it broadcasts, so one loop
 * covers same-shape, scalar and per-channel operands. */
#include "nn_int.h"

#include <math.h>
#include <string.h>

enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_PRELU, OP_POW, OP_MAX, OP_MIN };

typedef struct {
    int kind;
    nn__dims y;
    int64_t sa[NN_MAX_RANK], sb[NN_MAX_RANK];  /* operand strides in y's dims, 0 = broadcast */
    size_t na, nb;
} binary_p;

static void strides_for(const nn__dims *x, const nn__dims *y, int64_t *s) {
    int64_t acc = 1;
    for (int i = y->rank - 1; i >= 0; i--) {
        int ix = i - (y->rank - x->rank);
        int64_t d = ix >= 0 ? x->d[ix] : 1;
        s[i] = d == 1 ? 0 : acc;
        acc *= d;
    }
}

static int binary_prepare_kind(nn__graph *g, nn__node *nd, int kind) {
    nn__tensor *a = nn__in(g, nd, 0), *b = nn__in(g, nd, 1), *y = nn__out(g, nd, 0);
    if (!a || !b) return ut_fail(UT_EFORMAT, "missing input");
    binary_p *p = ut_calloc(1, sizeof *p);
    if (!p) return ut_fail(UT_ENOMEM, "out of memory");
    ut_free(nd->params);
    nd->params = p;
    p->kind = kind;
    if (a->dtype != b->dtype) return ut_fail(UT_EINVAL, "operand types differ (%d, %d)", a->dtype, b->dtype);
    if (nn__broadcast(&a->shape, &b->shape, &p->y)) return ut_fail(UT_EINVAL, "shapes do not broadcast");
    if (kind == OP_PRELU && a->dtype != NN_F32) return ut_fail(UT_EINVAL, "PRelu needs float input");
    strides_for(&a->shape, &p->y, p->sa);
    strides_for(&b->shape, &p->y, p->sb);
    p->na = nn__numel(&a->shape), p->nb = nn__numel(&b->shape);
    y->dtype = a->dtype;
    y->shape = p->y;
    return UT_OK;
}

#define BINARY_LOOP(T, EXPR)                                                        \
    do {                                                                            \
        const T *A = a;                                                             \
        const T *B = b;                                                             \
        T *Y = y;                                                                   \
        if (p->na == n && p->nb == n) {                                             \
            for (size_t i = 0; i < n; i++) { T u = A[i], v = B[i]; Y[i] = (EXPR); } \
        } else if (p->nb == 1 && p->na == n) {                                      \
            T v = B[0];                                                             \
            for (size_t i = 0; i < n; i++) { T u = A[i]; Y[i] = (EXPR); }           \
        } else {                                                                    \
            for (size_t row = 0; row < rows; row++) {                               \
                size_t rem = row;                                                   \
                int64_t oa = 0, ob = 0;                                             \
                for (int d = r - 2; d >= 0; d--) {                                  \
                    int64_t idx = (int64_t)(rem % (size_t)p->y.d[d]);               \
                    rem /= (size_t)p->y.d[d];                                       \
                    oa += idx * p->sa[d], ob += idx * p->sb[d];                     \
                }                                                                   \
                T *yr = Y + row * inner;                                            \
                for (int64_t i = 0; i < inner; i++) {                               \
                    T u = A[oa + i * sa], v = B[ob + i * sb];                       \
                    yr[i] = (EXPR);                                                 \
                }                                                                   \
            }                                                                       \
        }                                                                           \
    } while (0)

NN_HOT static void binary_f32(const binary_p *p, const void *a, const void *b, void *y, size_t n, size_t rows, int64_t inner,
                       int r, int64_t sa, int64_t sb) {
    switch (p->kind) {
    case OP_ADD: BINARY_LOOP(float, u + v); break;
    case OP_SUB: BINARY_LOOP(float, u - v); break;
    case OP_MUL: BINARY_LOOP(float, u * v); break;
    case OP_DIV: BINARY_LOOP(float, u / v); break;
    case OP_PRELU: BINARY_LOOP(float, u >= 0 ? u : u * v); break;
    case OP_POW: BINARY_LOOP(float, powf(u, v)); break;
    case OP_MAX: BINARY_LOOP(float, u > v ? u : v); break;
    case OP_MIN: BINARY_LOOP(float, u < v ? u : v); break;
    }
}

static void binary_i64(const binary_p *p, const void *a, const void *b, void *y, size_t n, size_t rows, int64_t inner,
                       int r, int64_t sa, int64_t sb) {
    switch (p->kind) {
    case OP_ADD: BINARY_LOOP(int64_t, (int64_t)((uint64_t)u + (uint64_t)v)); break;
    case OP_SUB: BINARY_LOOP(int64_t, (int64_t)((uint64_t)u - (uint64_t)v)); break;
    case OP_MUL: BINARY_LOOP(int64_t, (int64_t)((uint64_t)u * (uint64_t)v)); break;
    case OP_DIV: BINARY_LOOP(int64_t, v == 0 || (v == -1 && u == INT64_MIN) ? 0 : u / v); break;
    case OP_POW: BINARY_LOOP(int64_t, (int64_t)pow((double)u, (double)v)); break;
    case OP_MAX: BINARY_LOOP(int64_t, u > v ? u : v); break;
    case OP_MIN: BINARY_LOOP(int64_t, u < v ? u : v); break;
    default: break;
    }
}

static void binary_run(const nn__exec *x, const nn__node *nd) {
    const binary_p *p = nd->params;
    int r = p->y.rank;
    size_t n = nn__numel(&p->y);
    int64_t inner = r ? p->y.d[r - 1] : 1;
    size_t rows = inner ? n / (size_t)inner : 0;
    int64_t sa = r ? p->sa[r - 1] : 0, sb = r ? p->sb[r - 1] : 0;
    const void *a = x->ptr[nd->in[0]], *b = x->ptr[nd->in[1]];
    void *y = x->ptr[nd->out[0]];
    if (x->g->tensors[nd->out[0]].dtype == NN_I64) binary_i64(p, a, b, y, n, rows, inner, r, sa, sb);
    else binary_f32(p, a, b, y, n, rows, inner, r, sa, sb);
    if (nd->act.kind) nn__act_apply(&nd->act, y, n, 0);
}

#define BINARY_OP(sym, name, kind)                                                                      \
    static int sym##_prepare(nn__graph *g, nn__node *nd) { return binary_prepare_kind(g, nd, kind); }  \
    const nn__opdef nn__op_##sym = {name, 2, 2, 1, sym##_prepare, binary_run, 0};
BINARY_OP(add, "Add", OP_ADD)
BINARY_OP(sub, "Sub", OP_SUB)
BINARY_OP(mul, "Mul", OP_MUL)
BINARY_OP(div, "Div", OP_DIV)
BINARY_OP(prelu, "PRelu", OP_PRELU)
BINARY_OP(pow, "Pow", OP_POW)

/* ---- unary float ops ---- */

enum { U_RELU, U_SIGMOID, U_EXP, U_TANH, U_CLIP, U_LEAKY, U_NEG, U_SQRT, U_ABS, U_HSIGMOID, U_HSWISH, U_ERF };

typedef struct {
    int kind;
    float a, b;
    size_t n;
} unary_p;

static int unary_prepare_kind(nn__graph *g, nn__node *nd, int kind) {
    nn__tensor *x = nn__in(g, nd, 0), *y = nn__out(g, nd, 0);
    if (x->dtype != NN_F32) return ut_fail(UT_EINVAL, "input must be float32");
    unary_p *p = ut_calloc(1, sizeof *p);
    if (!p) return ut_fail(UT_ENOMEM, "out of memory");
    ut_free(nd->params);
    nd->params = p;
    p->kind = kind;
    p->n = nn__numel(&x->shape);
    if (kind == U_CLIP) {
        p->a = -INFINITY, p->b = INFINITY;
        if (g->opset < 11) {
            p->a = nn__attr_float(nd, "min", -INFINITY), p->b = nn__attr_float(nd, "max", INFINITY);
        } else {
            for (int i = 1; i < 3; i++) {
                const nn__tensor *t = nn__in(g, nd, i);
                if (!t) continue;
                if (!t->data || nn__numel(&t->shape) != 1) return ut_fail(UT_EUNSUPPORTED, "min/max must be constant scalars");
                float v = t->dtype == NN_F32 ? *(const float *)t->data : (float)*(const int64_t *)t->data;
                if (i == 1) p->a = v; else p->b = v;
            }
        }
    } else if (kind == U_LEAKY) {
        p->a = nn__attr_float(nd, "alpha", 0.01f);
    } else if (kind == U_HSIGMOID) {
        p->a = nn__attr_float(nd, "alpha", 0.2f), p->b = nn__attr_float(nd, "beta", 0.5f);
    }
    y->dtype = NN_F32;
    y->shape = x->shape;
    return UT_OK;
}

NN_HOT static void unary_run(const nn__exec *x, const nn__node *nd) {
    const unary_p *p = nd->params;
    const float *in = x->ptr[nd->in[0]];
    float *y = x->ptr[nd->out[0]];
    size_t n = p->n;
    switch (p->kind) {
    case U_RELU: for (size_t i = 0; i < n; i++) y[i] = in[i] > 0 ? in[i] : 0; break;
    case U_SIGMOID: for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-in[i])); break;
    case U_EXP: for (size_t i = 0; i < n; i++) y[i] = expf(in[i]); break;
    case U_TANH: for (size_t i = 0; i < n; i++) y[i] = tanhf(in[i]); break;
    case U_CLIP: for (size_t i = 0; i < n; i++) y[i] = in[i] < p->a ? p->a : in[i] > p->b ? p->b : in[i]; break;
    case U_LEAKY: for (size_t i = 0; i < n; i++) y[i] = in[i] >= 0 ? in[i] : in[i] * p->a; break;
    case U_NEG: for (size_t i = 0; i < n; i++) y[i] = -in[i]; break;
    case U_SQRT: for (size_t i = 0; i < n; i++) y[i] = sqrtf(in[i]); break;
    case U_ABS: for (size_t i = 0; i < n; i++) y[i] = fabsf(in[i]); break;
    case U_ERF: for (size_t i = 0; i < n; i++) y[i] = erff(in[i]); break;
    case U_HSIGMOID:
        for (size_t i = 0; i < n; i++) {
            float v = p->a * in[i] + p->b;
            y[i] = v < 0 ? 0 : v > 1 ? 1 : v;
        }
        break;
    case U_HSWISH:
        for (size_t i = 0; i < n; i++) {
            float v = in[i] / 6.0f + 0.5f;
            y[i] = in[i] * (v < 0 ? 0 : v > 1 ? 1 : v);
        }
        break;
    }
}

#define UNARY_OP(sym, name, kind, maxin)                                                               \
    static int sym##_prepare(nn__graph *g, nn__node *nd) { return unary_prepare_kind(g, nd, kind); }  \
    const nn__opdef nn__op_##sym = {name, 1, maxin, 1, sym##_prepare, unary_run, 0};
UNARY_OP(relu, "Relu", U_RELU, 1)
UNARY_OP(sigmoid, "Sigmoid", U_SIGMOID, 1)
UNARY_OP(exp, "Exp", U_EXP, 1)
UNARY_OP(tanh, "Tanh", U_TANH, 1)
UNARY_OP(clip, "Clip", U_CLIP, 3)
UNARY_OP(leaky, "LeakyRelu", U_LEAKY, 1)
UNARY_OP(neg, "Neg", U_NEG, 1)
UNARY_OP(sqrt, "Sqrt", U_SQRT, 1)
UNARY_OP(abs, "Abs", U_ABS, 1)
UNARY_OP(erf, "Erf", U_ERF, 1)
UNARY_OP(hsigmoid, "HardSigmoid", U_HSIGMOID, 1)
UNARY_OP(hswish, "HardSwish", U_HSWISH, 1)

/* The activation node n computes, as a fused epilogue for a producer with
 * `channels` output channels; 0 if n is not a fusable activation. */
int nn__act_of(nn__graph *g, const nn__node *n, int64_t channels, nn__act *out) {
    const unary_p *u = n->params;
    memset(out, 0, sizeof *out);
    if (n->op == &nn__op_relu) out->kind = NN_ACT_RELU;
    else if (n->op == &nn__op_sigmoid) out->kind = NN_ACT_SIGMOID;
    else if (n->op == &nn__op_clip) out->kind = NN_ACT_CLIP, out->a = u->a, out->b = u->b;
    else if (n->op == &nn__op_leaky) out->kind = NN_ACT_LEAKY, out->a = u->a;
    else if (n->op == &nn__op_prelu) {
        const nn__tensor *s = nn__in(g, n, 1), *x = nn__in(g, n, 0);
        size_t k = s ? nn__numel(&s->shape) : 0;
        /* slope must be per channel: [C], [C,1,1] or a scalar */
        if (!s || !s->data || !(k == 1 || (k == (size_t)channels && x->shape.rank >= 2 &&
                                           s->shape.rank <= x->shape.rank - 1 && s->shape.d[0] == channels)))
            return 0;
        out->kind = NN_ACT_PRELU, out->slope = s->data, out->nslope = (int64_t)k;
    }
    return out->kind != NN_ACT_NONE;
}

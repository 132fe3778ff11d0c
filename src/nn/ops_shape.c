/* ops_shape.c -- ops that move data without arithmetic: Shape, Reshape,
 * Flatten, Squeeze, Unsqueeze, Identity, Concat, Gather, Slice, Transpose,
 * Cast, Constant, ConstantOfShape.
 *
 * They work on float32 and int64 alike (element size from the dtype). With
 * static input shapes most of them run only at plan time, folded, which is
 * how dynamic-shape models get concrete Reshape targets. */
#include "nn_int.h"

#include <string.h>

static size_t esize(const nn__graph *g, int t) { return nn__dtype_size(g->tensors[t].dtype); }

/* out[i] = in[i]: for reshapes the bytes are identical. */
static void copy_run(const nn__exec *x, const nn__node *nd) {
    const nn__tensor *t = &x->g->tensors[nd->out[0]];
    size_t bytes = nn__numel(&t->shape) * nn__dtype_size(t->dtype);
    if (x->ptr[nd->out[0]] != x->ptr[nd->in[0]]) memcpy(x->ptr[nd->out[0]], x->ptr[nd->in[0]], bytes);
}

/* ---- Shape ---- */

static int shape_prepare(nn__graph *g, nn__node *nd) {
    nn__tensor *x = nn__in(g, nd, 0), *y = nn__out(g, nd, 0);
    y->dtype = NN_I64;
    y->shape = (nn__dims){1, {x->shape.rank}};
    return UT_OK;
}

static void shape_run(const nn__exec *x, const nn__node *nd) {
    const nn__tensor *in = &x->g->tensors[nd->in[0]];
    int64_t *y = x->ptr[nd->out[0]];
    for (int i = 0; i < in->shape.rank; i++) y[i] = in->shape.d[i];
}

const nn__opdef nn__op_shape = {"Shape", 1, 1, 1, shape_prepare, shape_run, 1};

/* ---- Reshape / Flatten / Squeeze / Unsqueeze / Identity ---- */

static int reshape_prepare(nn__graph *g, nn__node *nd) {
    nn__tensor *x = nn__in(g, nd, 0), *y = nn__out(g, nd, 0);
    int64_t want[NN_MAX_RANK];
    int n = nd->nin > 1 ? nn__const_ints(g, nd, 1, want, NN_MAX_RANK) : nn__attr_ints(nd, "shape", want, NN_MAX_RANK);
    if (n < 0) return ut_fail(UT_EUNSUPPORTED, "the target shape must be constant (rank <= %d)", NN_MAX_RANK);
    size_t total = nn__numel(&x->shape), known = 1;
    int infer = -1;
    y->dtype = x->dtype;
    y->shape.rank = n;
    for (int i = 0; i < n; i++) {
        int64_t d = want[i];
        if (d == 0) {
            if (i >= x->shape.rank) return ut_fail(UT_EINVAL, "0 at dim %d beyond the input's rank", i);
            d = x->shape.d[i];
        }
        if (d == -1) {
            if (infer >= 0) return ut_fail(UT_EINVAL, "more than one -1 in the target shape");
            infer = i;
            continue;
        }
        if (d < 0) return ut_fail(UT_EINVAL, "bad target dim %lld", (long long)d);
        y->shape.d[i] = d;
        known *= (size_t)d;
    }
    if (infer >= 0) {
        if (!known || total % known) return ut_fail(UT_EINVAL, "cannot infer -1: %zu elements into %zu", total, known);
        y->shape.d[infer] = (int64_t)(total / known);
        known = total;
    }
    if (known != total) return ut_fail(UT_EINVAL, "%zu elements cannot take the target shape (%zu)", total, known);
    return UT_OK;
}

const nn__opdef nn__op_reshape = {"Reshape", 1, 2, 1, reshape_prepare, copy_run, 0};

static int flatten_prepare(nn__graph *g, nn__node *nd) {
    nn__tensor *x = nn__in(g, nd, 0), *y = nn__out(g, nd, 0);
    int64_t axis = nn__attr_int(nd, "axis", 1);
    if (axis < 0) axis += x->shape.rank;
    if (axis < 0 || axis > x->shape.rank) return ut_fail(UT_EINVAL, "axis out of range");
    int64_t a = 1, b = 1;
    for (int i = 0; i < x->shape.rank; i++) *(i < axis ? &a : &b) *= x->shape.d[i];
    y->dtype = x->dtype;
    y->shape = (nn__dims){2, {a, b}};
    return UT_OK;
}

const nn__opdef nn__op_flatten = {"Flatten", 1, 1, 1, flatten_prepare, copy_run, 0};

static int axes_of(nn__graph *g, nn__node *nd, int64_t *axes) {
    if (nd->nin > 1) return nn__const_ints(g, nd, 1, axes, NN_MAX_RANK);
    return nn__attr_get(nd, "axes") ? nn__attr_ints(nd, "axes", axes, NN_MAX_RANK) : 0;
}

static int squeeze_prepare(nn__graph *g, nn__node *nd) {
    nn__tensor *x = nn__in(g, nd, 0), *y = nn__out(g, nd, 0);
    int64_t axes[NN_MAX_RANK];
    int na = axes_of(g, nd, axes);
    if (na < 0) return ut_fail(UT_EUNSUPPORTED, "axes must be constant");
    int drop[NN_MAX_RANK] = {0};
    for (int i = 0; i < na; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + x->shape.rank : axes[i];
        if (a < 0 || a >= x->shape.rank || x->shape.d[a] != 1) return ut_fail(UT_EINVAL, "cannot squeeze axis %lld", (long long)axes[i]);
        drop[a] = 1;
    }
    y->dtype = x->dtype;
    y->shape.rank = 0;
    for (int i = 0; i < x->shape.rank; i++)
        if (!(na ? drop[i] : x->shape.d[i] == 1)) y->shape.d[y->shape.rank++] = x->shape.d[i];
    return UT_OK;
}

const nn__opdef nn__op_squeeze = {"Squeeze", 1, 2, 1, squeeze_prepare, copy_run, 0};

static int unsqueeze_prepare(nn__graph *g, nn__node *nd) {
    nn__tensor *x = nn__in(g, nd, 0), *y = nn__out(g, nd, 0);
    int64_t axes[NN_MAX_RANK];
    int na = axes_of(g, nd, axes);
    int r = x->shape.rank + na;
    if (na <= 0 || r > NN_MAX_RANK) return ut_fail(UT_EUNSUPPORTED, "axes must be constant, rank <= %d", NN_MAX_RANK);
    int ins[NN_MAX_RANK] = {0};
    for (int i = 0; i < na; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + r : axes[i];
        if (a < 0 || a >= r || ins[a]) return ut_fail(UT_EINVAL, "bad axis %lld", (long long)axes[i]);
        ins[a] = 1;
    }
    y->dtype = x->dtype;
    y->shape.rank = r;
    for (int i = 0, k = 0; i < r; i++) y->shape.d[i] = ins[i] ? 1 : x->shape.d[k++];
    return UT_OK;
}

const nn__opdef nn__op_unsqueeze = {"Unsqueeze", 1, 2, 1, unsqueeze_prepare, copy_run, 0};

static int identity_prepare(nn__graph *g, nn__node *nd) {
    nn__tensor *x = nn__in(g, nd, 0), *y = nn__out(g, nd, 0);
    y->dtype = x->dtype;
    y->shape = x->shape;
    return UT_OK;
}

const nn__opdef nn__op_identity = {"Identity", 1, 1, 1, identity_prepare, copy_run, 0};
const nn__opdef nn__op_dropout = {"Dropout", 1, 3, 1, identity_prepare, copy_run, 0};

/* ---- Concat ---- */

typedef struct {
    int64_t outer, inner_out;  /* inner_out: elements per outer step of y */
} concat_p;

static int concat_prepare(nn__graph *g, nn__node *nd) {
    nn__tensor *x0 = nn__in(g, nd, 0), *y = nn__out(g, nd, 0);
    if (!x0) return ut_fail(UT_EFORMAT, "missing input");
    int64_t axis = nn__attr_int(nd, "axis", 0);
    if (axis < 0) axis += x0->shape.rank;
    if (axis < 0 || axis >= x0->shape.rank) return ut_fail(UT_EINVAL, "axis out of range");
    y->dtype = x0->dtype;
    y->shape = x0->shape;
    y->shape.d[axis] = 0;
    for (int i = 0; i < nd->nin; i++) {
        nn__tensor *t = nn__in(g, nd, i);
        if (!t || t->shape.rank != x0->shape.rank || t->dtype != x0->dtype) return ut_fail(UT_EINVAL, "input %d differs in rank or type", i);
        for (int d = 0; d < t->shape.rank; d++)
            if (d != axis && t->shape.d[d] != x0->shape.d[d]) return ut_fail(UT_EINVAL, "input %d differs in dim %d", i, d);
        y->shape.d[axis] += t->shape.d[axis];
    }
    concat_p *p = ut_calloc(1, sizeof *p);
    if (!p) return ut_fail(UT_ENOMEM, "out of memory");
    ut_free(nd->params);
    nd->params = p;
    p->outer = 1;
    for (int d = 0; d < axis; d++) p->outer *= y->shape.d[d];
    p->inner_out = p->outer ? (int64_t)nn__numel(&y->shape) / p->outer : 0;
    return UT_OK;
}

static void concat_run(const nn__exec *x, const nn__node *nd) {
    const concat_p *p = nd->params;
    size_t es = esize(x->g, nd->out[0]);
    char *y = x->ptr[nd->out[0]];
    int64_t off = 0;
    for (int i = 0; i < nd->nin; i++) {
        const nn__tensor *t = &x->g->tensors[nd->in[i]];
        int64_t chunk = p->outer ? (int64_t)nn__numel(&t->shape) / p->outer : 0;
        const char *src = x->ptr[nd->in[i]];
        for (int64_t o = 0; o < p->outer; o++)
            memcpy(y + (size_t)(o * p->inner_out + off) * es, src + (size_t)(o * chunk) * es, (size_t)chunk * es);
        off += chunk;
    }
}

const nn__opdef nn__op_concat = {"Concat", 1, 64, 1, concat_prepare, concat_run, 0};

/* ---- Gather ---- */

typedef struct {
    int64_t outer, axis_len, inner, nidx;
} gather_p;

static int gather_prepare(nn__graph *g, nn__node *nd) {
    nn__tensor *x = nn__in(g, nd, 0), *idx = nn__in(g, nd, 1), *y = nn__out(g, nd, 0);
    int64_t axis = nn__attr_int(nd, "axis", 0);
    if (axis < 0) axis += x->shape.rank;
    if (axis < 0 || axis >= x->shape.rank) return ut_fail(UT_EINVAL, "axis out of range");
    if (idx->dtype != NN_I64) return ut_fail(UT_EINVAL, "indices must be integers");
    if (x->shape.rank - 1 + idx->shape.rank > NN_MAX_RANK) return ut_fail(UT_EUNSUPPORTED, "output rank too large");
    gather_p *p = ut_calloc(1, sizeof *p);
    if (!p) return ut_fail(UT_ENOMEM, "out of memory");
    ut_free(nd->params);
    nd->params = p;
    p->outer = p->inner = 1;
    y->dtype = x->dtype;
    y->shape.rank = 0;
    for (int d = 0; d < axis; d++) p->outer *= x->shape.d[d], y->shape.d[y->shape.rank++] = x->shape.d[d];
    for (int d = 0; d < idx->shape.rank; d++) y->shape.d[y->shape.rank++] = idx->shape.d[d];
    for (int d = (int)axis + 1; d < x->shape.rank; d++) p->inner *= x->shape.d[d], y->shape.d[y->shape.rank++] = x->shape.d[d];
    p->axis_len = x->shape.d[axis];
    p->nidx = (int64_t)nn__numel(&idx->shape);
    if (idx->data)  /* constant indices are checked now; others are clamped at run time */
        for (int64_t i = 0; i < p->nidx; i++) {
            int64_t v = ((const int64_t *)idx->data)[i];
            if (v < -p->axis_len || v >= p->axis_len) return ut_fail(UT_ERANGE, "index %lld out of range", (long long)v);
        }
    return UT_OK;
}

static void gather_run(const nn__exec *x, const nn__node *nd) {
    const gather_p *p = nd->params;
    size_t es = esize(x->g, nd->out[0]), blk = (size_t)p->inner * es;
    const char *src = x->ptr[nd->in[0]];
    const int64_t *ix = x->ptr[nd->in[1]];
    char *y = x->ptr[nd->out[0]];
    for (int64_t o = 0; o < p->outer; o++)
        for (int64_t i = 0; i < p->nidx; i++) {
            int64_t v = ix[i] < 0 ? ix[i] + p->axis_len : ix[i];
            v = v < 0 ? 0 : v >= p->axis_len ? p->axis_len - 1 : v;
            memcpy(y + (size_t)(o * p->nidx + i) * blk, src + (size_t)(o * p->axis_len + v) * blk, blk);
        }
}

const nn__opdef nn__op_gather = {"Gather", 2, 2, 1, gather_prepare, gather_run, 0};

/* ---- strided copy, shared by Slice and Transpose ---- */

typedef struct {
    nn__dims y;
    int64_t start;                 /* element offset of y[0...0] in x */
    int64_t stride[NN_MAX_RANK];   /* x element step per y index step, per dim */
} strided_p;

static void strided_copy(const strided_p *p, const char *x, char *y, size_t es) {
    int r = p->y.rank;
    size_t n = nn__numel(&p->y);
    if (!n) return;
    if (r == 0) {
        memcpy(y, x + (size_t)p->start * es, es);
        return;
    }
    int64_t inner = p->y.d[r - 1], is = p->stride[r - 1];
    int64_t idx[NN_MAX_RANK] = {0};
    int64_t off = p->start;
    for (size_t row = 0; row < n / (size_t)inner; row++) {
        if (es == 4) {
            const float *s = (const float *)x + off;
            float *d = (float *)y + row * (size_t)inner;
            if (is == 1) memcpy(d, s, (size_t)inner * 4);
            else for (int64_t i = 0; i < inner; i++) d[i] = s[i * is];
        } else {
            for (int64_t i = 0; i < inner; i++) memcpy(y + (row * (size_t)inner + (size_t)i) * es, x + (size_t)(off + i * is) * es, es);
        }
        for (int d = r - 2; d >= 0; d--) {  /* odometer over the outer dims */
            off += p->stride[d];
            if (++idx[d] < p->y.d[d]) break;
            off -= p->stride[d] * p->y.d[d];
            idx[d] = 0;
        }
    }
}

static void strided_run(const nn__exec *x, const nn__node *nd) {
    strided_copy(nd->params, x->ptr[nd->in[0]], x->ptr[nd->out[0]], esize(x->g, nd->out[0]));
}

static int new_strided(nn__node *nd, strided_p **out) {
    strided_p *p = ut_calloc(1, sizeof *p);
    if (!p) return ut_fail(UT_ENOMEM, "out of memory");
    ut_free(nd->params);
    nd->params = p;
    *out = p;
    return UT_OK;
}

static void dense_strides(const nn__dims *d, int64_t *s) {
    int64_t acc = 1;
    for (int i = d->rank - 1; i >= 0; i--) s[i] = acc, acc *= d->d[i];
}

static int transpose_prepare(nn__graph *g, nn__node *nd) {
    nn__tensor *x = nn__in(g, nd, 0), *y = nn__out(g, nd, 0);
    int r = x->shape.rank;
    int64_t perm[NN_MAX_RANK], xs[NN_MAX_RANK];
    int np = nn__attr_get(nd, "perm") ? nn__attr_ints(nd, "perm", perm, NN_MAX_RANK) : -2;
    if (np == -2)
        for (int i = 0; i < r; i++) perm[i] = r - 1 - i;
    else if (np != r) return ut_fail(UT_EINVAL, "perm has %d entries for rank %d", np, r);
    int seen[NN_MAX_RANK] = {0};
    strided_p *p = NULL;
    if (new_strided(nd, &p)) return UT_ENOMEM;
    dense_strides(&x->shape, xs);
    y->dtype = x->dtype;
    y->shape.rank = r;
    for (int i = 0; i < r; i++) {
        if (perm[i] < 0 || perm[i] >= r || seen[perm[i]]++) return ut_fail(UT_EINVAL, "bad perm");
        y->shape.d[i] = x->shape.d[perm[i]];
        p->stride[i] = xs[perm[i]];
    }
    p->y = y->shape;
    return UT_OK;
}

const nn__opdef nn__op_transpose = {"Transpose", 1, 1, 1, transpose_prepare, strided_run, 0};

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

static int slice_prepare(nn__graph *g, nn__node *nd) {
    nn__tensor *x = nn__in(g, nd, 0), *y = nn__out(g, nd, 0);
    int r = x->shape.rank;
    int64_t st[NN_MAX_RANK], en[NN_MAX_RANK], ax[NN_MAX_RANK], sp[NN_MAX_RANK], xs[NN_MAX_RANK];
    int ns, ne, na, nsp;
    if (g->opset < 10) {
        ns = nn__attr_ints(nd, "starts", st, NN_MAX_RANK), ne = nn__attr_ints(nd, "ends", en, NN_MAX_RANK);
        na = nn__attr_get(nd, "axes") ? nn__attr_ints(nd, "axes", ax, NN_MAX_RANK) : -2;
        nsp = -2;
    } else {
        ns = nn__const_ints(g, nd, 1, st, NN_MAX_RANK), ne = nn__const_ints(g, nd, 2, en, NN_MAX_RANK);
        na = nn__in(g, nd, 3) ? nn__const_ints(g, nd, 3, ax, NN_MAX_RANK) : -2;
        nsp = nn__in(g, nd, 4) ? nn__const_ints(g, nd, 4, sp, NN_MAX_RANK) : -2;
    }
    if (ns < 0 || ne != ns || na == -1 || nsp == -1) return ut_fail(UT_EUNSUPPORTED, "starts/ends/axes/steps must be constant and agree");
    if (na == -2) {
        for (int i = 0; i < ns; i++) ax[i] = i;
        na = ns;
    }
    if (nsp == -2) {
        for (int i = 0; i < ns; i++) sp[i] = 1;
        nsp = ns;
    }
    if (na != ns || nsp != ns) return ut_fail(UT_EINVAL, "starts/ends/axes/steps differ in length");
    strided_p *p = NULL;
    if (new_strided(nd, &p)) return UT_ENOMEM;
    dense_strides(&x->shape, xs);
    y->dtype = x->dtype;
    y->shape = x->shape;
    for (int d = 0; d < r; d++) p->stride[d] = xs[d];
    for (int i = 0; i < ns; i++) {
        int64_t a = ax[i] < 0 ? ax[i] + r : ax[i], dim, s = sp[i], b, e;
        if (a < 0 || a >= r || s == 0) return ut_fail(UT_EINVAL, "bad axis or step");
        dim = x->shape.d[a];
        b = st[i] < 0 ? st[i] + dim : st[i];
        e = en[i] < 0 ? en[i] + dim : en[i];
        if (s > 0) b = clamp64(b, 0, dim), e = clamp64(e, 0, dim);
        else b = clamp64(b, 0, dim - 1), e = clamp64(e, -1, dim - 1);
        int64_t len = s > 0 ? (e > b ? (e - b + s - 1) / s : 0) : (b > e ? (b - e + (-s) - 1) / (-s) : 0);
        y->shape.d[a] = len;
        p->start += b * xs[a];
        p->stride[a] = xs[a] * s;
    }
    p->y = y->shape;
    return UT_OK;
}

const nn__opdef nn__op_slice = {"Slice", 1, 5, 1, slice_prepare, strided_run, 0};

/* ---- Cast ---- */

static int cast_prepare(nn__graph *g, nn__node *nd) {
    nn__tensor *x = nn__in(g, nd, 0), *y = nn__out(g, nd, 0);
    int64_t to = nn__attr_int(nd, "to", 0);
    if (to == 0 || to == 8 || to > 16) return ut_fail(UT_EUNSUPPORTED, "cast to type %lld", (long long)to);
    y->dtype = to == 1 || to == 10 || to == 11 || to == 16 ? NN_F32 : NN_I64;
    y->shape = x->shape;
    nd->flops = (double)(to == 9);  /* remember bool: nonzero -> 1 */
    return UT_OK;
}

static void cast_run(const nn__exec *x, const nn__node *nd) {
    const nn__tensor *in = &x->g->tensors[nd->in[0]], *out = &x->g->tensors[nd->out[0]];
    size_t n = nn__numel(&in->shape);
    const void *s = x->ptr[nd->in[0]];
    void *d = x->ptr[nd->out[0]];
    int to_bool = nd->flops != 0;
    for (size_t i = 0; i < n; i++) {
        double v = in->dtype == NN_F32 ? ((const float *)s)[i] : (double)((const int64_t *)s)[i];
        if (to_bool) v = v != 0;
        if (out->dtype == NN_F32) ((float *)d)[i] = (float)v;
        else ((int64_t *)d)[i] = v >= 9.2e18 ? INT64_MAX : v <= -9.2e18 ? INT64_MIN : (int64_t)v;
    }
}

const nn__opdef nn__op_cast = {"Cast", 1, 1, 1, cast_prepare, cast_run, 0};

/* ---- Constant / ConstantOfShape ---- */

static int constant_prepare(nn__graph *g, nn__node *nd) {
    nn__tensor *y = nn__out(g, nd, 0);
    const nn__attr *a = nn__attr_get(nd, "value");
    if (a && a->tensor >= 0) {
        y->dtype = g->attr_tensors[a->tensor].dtype;
        y->shape = g->attr_tensors[a->tensor].shape;
    } else if ((a = nn__attr_get(nd, "value_float")) || (a = nn__attr_get(nd, "value_int"))) {
        y->dtype = a->type == 1 ? NN_F32 : NN_I64;
        y->shape.rank = 0;
    } else if ((a = nn__attr_get(nd, "value_floats")) || (a = nn__attr_get(nd, "value_ints"))) {
        y->dtype = a->type == 6 ? NN_F32 : NN_I64;
        y->shape = (nn__dims){1, {a->n}};
    } else {
        return ut_fail(UT_EUNSUPPORTED, "no supported value attribute");
    }
    return UT_OK;
}

static void constant_run(const nn__exec *x, const nn__node *nd) {
    const nn__attr *a = nn__attr_get(nd, "value");
    const nn__tensor *y = &x->g->tensors[nd->out[0]];
    void *d = x->ptr[nd->out[0]];
    if (a && a->tensor >= 0) {
        memcpy(d, x->g->attr_tensors[a->tensor].data, nn__numel(&y->shape) * nn__dtype_size(y->dtype));
    } else if ((a = nn__attr_get(nd, "value_float"))) {
        *(float *)d = a->f;
    } else if ((a = nn__attr_get(nd, "value_int"))) {
        *(int64_t *)d = a->i;
    } else if ((a = nn__attr_get(nd, "value_floats"))) {
        memcpy(d, a->floats, (size_t)a->n * sizeof(float));
    } else if ((a = nn__attr_get(nd, "value_ints"))) {
        memcpy(d, a->ints, (size_t)a->n * sizeof(int64_t));
    }
}

const nn__opdef nn__op_constant = {"Constant", 0, 0, 1, constant_prepare, constant_run, 0};

static int cos_prepare(nn__graph *g, nn__node *nd) {
    nn__tensor *y = nn__out(g, nd, 0);
    int64_t dims[NN_MAX_RANK];
    int n = nn__const_ints(g, nd, 0, dims, NN_MAX_RANK);
    if (n < 0) return ut_fail(UT_EUNSUPPORTED, "the shape must be constant (rank <= %d)", NN_MAX_RANK);
    y->shape.rank = n;
    for (int i = 0; i < n; i++) {
        if (dims[i] < 0 || dims[i] > (1 << 30)) return ut_fail(UT_EINVAL, "bad dim %lld", (long long)dims[i]);
        y->shape.d[i] = dims[i];
    }
    const nn__attr *a = nn__attr_get(nd, "value");
    y->dtype = a && a->tensor >= 0 ? g->attr_tensors[a->tensor].dtype : NN_F32;
    if (a && a->tensor >= 0 && nn__numel(&g->attr_tensors[a->tensor].shape) != 1) return ut_fail(UT_EINVAL, "value must have one element");
    return UT_OK;
}

static void cos_run(const nn__exec *x, const nn__node *nd) {
    const nn__tensor *y = &x->g->tensors[nd->out[0]];
    const nn__attr *a = nn__attr_get(nd, "value");
    size_t n = nn__numel(&y->shape);
    if (y->dtype == NN_F32) {
        float v = a && a->tensor >= 0 ? *(const float *)x->g->attr_tensors[a->tensor].data : 0.0f;
        for (size_t i = 0; i < n; i++) ((float *)x->ptr[nd->out[0]])[i] = v;
    } else {
        int64_t v = a && a->tensor >= 0 ? *(const int64_t *)x->g->attr_tensors[a->tensor].data : 0;
        for (size_t i = 0; i < n; i++) ((int64_t *)x->ptr[nd->out[0]])[i] = v;
    }
}

const nn__opdef nn__op_constant_of_shape = {"ConstantOfShape", 1, 1, 1, cos_prepare, cos_run, 0};

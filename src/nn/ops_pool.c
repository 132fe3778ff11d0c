/* ops_pool.c -- MaxPool, AveragePool, GlobalAveragePool, Softmax, Resize
 * and Upsample, all over NCHW float32. */
#include "nn_int.h"

#include <math.h>
#include <string.h>

typedef struct {
    int64_t nc, h, w, oh, ow, kh, kw, sh, sw, pt, pl;
    int is_max, count_pad;
} pool_p;

static int pool_prepare_kind(nn__graph *g, nn__node *nd, int is_max, int global) {
    nn__tensor *x = nn__in(g, nd, 0), *y = nn__out(g, nd, 0);
    if (x->shape.rank != 4) return ut_fail(UT_EUNSUPPORTED, "only 2-D pooling (rank 4 input)");
    pool_p *p = ut_calloc(1, sizeof *p);
    if (!p) return ut_fail(UT_ENOMEM, "out of memory");
    ut_free(nd->params);
    nd->params = p;
    p->is_max = is_max;
    p->nc = x->shape.d[0] * x->shape.d[1], p->h = x->shape.d[2], p->w = x->shape.d[3];
    int64_t k[2] = {p->h, p->w}, s[2] = {1, 1}, pads[4] = {0, 0, 0, 0}, d[2] = {1, 1};
    if (!global) {
        if (nn__attr_ints(nd, "kernel_shape", k, 2) != 2) return ut_fail(UT_EINVAL, "kernel_shape must have 2 values");
        if (nn__attr_get(nd, "strides") && nn__attr_ints(nd, "strides", s, 2) != 2) return ut_fail(UT_EINVAL, "bad strides");
        if (nn__attr_get(nd, "pads") && nn__attr_ints(nd, "pads", pads, 4) != 4) return ut_fail(UT_EINVAL, "bad pads");
        if (nn__attr_get(nd, "dilations") && (nn__attr_ints(nd, "dilations", d, 2) != 2 || d[0] != 1 || d[1] != 1))
            return ut_fail(UT_EUNSUPPORTED, "dilated pooling");
    }
    const char *ap = nn__attr_str(nd, "auto_pad", "NOTSET");
    int ceil_mode = (int)nn__attr_int(nd, "ceil_mode", 0);
    p->count_pad = (int)nn__attr_int(nd, "count_include_pad", 0);
    int64_t in[2] = {p->h, p->w}, out[2];
    for (int i = 0; i < 2; i++) {
        if (k[i] < 1 || s[i] < 1 || pads[i] < 0 || pads[i + 2] < 0) return ut_fail(UT_EINVAL, "bad kernel/strides/pads");
        if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
            out[i] = (in[i] + s[i] - 1) / s[i];
            int64_t total = (out[i] - 1) * s[i] + k[i] - in[i];
            if (total < 0) total = 0;
            pads[i] = !strcmp(ap, "SAME_UPPER") ? total / 2 : total - total / 2;
            pads[i + 2] = total - pads[i];
        } else {
            if (!strcmp(ap, "VALID")) pads[i] = pads[i + 2] = 0;
            int64_t span = in[i] + pads[i] + pads[i + 2] - k[i];
            out[i] = (ceil_mode ? (span + s[i] - 1) / s[i] : span / s[i]) + 1;
            /* ceil mode never starts a window inside the end padding */
            if (ceil_mode && (out[i] - 1) * s[i] >= in[i] + pads[i]) out[i]--;
        }
        if (out[i] <= 0) return ut_fail(UT_EINVAL, "the input is smaller than the window");
    }
    p->kh = k[0], p->kw = k[1], p->sh = s[0], p->sw = s[1], p->pt = pads[0], p->pl = pads[1];
    p->oh = out[0], p->ow = out[1];
    y->dtype = NN_F32;
    y->shape = (nn__dims){4, {x->shape.d[0], x->shape.d[1], p->oh, p->ow}};
    nd->flops = (double)(p->nc * p->oh * p->ow * p->kh * p->kw);
    return UT_OK;
}

typedef struct {
    const pool_p *p;
    const float *x;
    float *y;
} pool_job;

/* One output row; columns [lo, hi) have their whole window inside the
 * input horizontally, so their loops carry no clamps. */
NN_HOT static void pool_row(const pool_p *p, const float *restrict x, float *restrict y, int64_t oy, int64_t lo, int64_t hi) {
    const int64_t lo0 = lo;
    int64_t y0 = oy * p->sh - p->pt, y1 = y0 + p->kh;
    int64_t pad_rows = (y1 < p->h + p->pt ? y1 : p->h + p->pt) - y0;
    if (y0 < 0) y0 = 0;
    if (y1 > p->h) y1 = p->h;
    if (p->is_max && p->kw == 2 && p->sw == 2 && y1 - y0 == 2) {  /* the common 2x2/2 max pool */
        const float *restrict r0 = x + y0 * p->w - p->pl, *restrict r1 = r0 + p->w;
        for (int64_t ox = lo; ox < hi; ox++) {
            float a = r0[2 * ox] > r0[2 * ox + 1] ? r0[2 * ox] : r0[2 * ox + 1];
            float b = r1[2 * ox] > r1[2 * ox + 1] ? r1[2 * ox] : r1[2 * ox + 1];
            y[ox] = a > b ? a : b;
        }
        lo = hi;
    }
    for (int64_t ox = lo; ox < hi; ox++) {
        const float *w = x + ox * p->sw - p->pl;
        float acc = p->is_max ? -INFINITY : 0.0f;
        for (int64_t iy = y0; iy < y1; iy++)
            for (int64_t kx = 0; kx < p->kw; kx++) {
                float v = w[iy * p->w + kx];
                acc = p->is_max ? (v > acc ? v : acc) : acc + v;
            }
        if (!p->is_max) acc /= (float)((p->count_pad ? pad_rows : y1 - y0) * p->kw);
        y[ox] = acc;
    }
    for (int64_t ox = 0; ox < p->ow; ox++) {
        if (ox >= lo0 && ox < hi) ox = hi;
        if (ox >= p->ow) break;
        int64_t x0 = ox * p->sw - p->pl, x1 = x0 + p->kw;
        int64_t pad_cols = (x1 < p->w + p->pl ? x1 : p->w + p->pl) - x0;
        if (x0 < 0) x0 = 0;
        if (x1 > p->w) x1 = p->w;
        float acc = p->is_max ? -INFINITY : 0.0f;
        for (int64_t iy = y0; iy < y1; iy++)
            for (int64_t ix = x0; ix < x1; ix++) {
                float v = x[iy * p->w + ix];
                acc = p->is_max ? (v > acc ? v : acc) : acc + v;
            }
        if (!p->is_max) {
            int64_t cnt = p->count_pad ? pad_rows * pad_cols : (y1 - y0) * (x1 - x0);
            acc = cnt > 0 ? acc / (float)cnt : 0.0f;
        }
        y[ox] = acc;
    }
}

static void pool_items(void *arg, size_t begin, size_t end, int slot) {
    (void)slot;
    const pool_job *j = arg;
    const pool_p *p = j->p;
    int64_t lo = (p->pl + p->sw - 1) / p->sw;
    int64_t hi = p->w - p->kw + p->pl < 0 ? 0 : (p->w - p->kw + p->pl) / p->sw + 1;
    if (hi > p->ow) hi = p->ow;
    if (lo > hi) lo = hi;
    for (size_t c = begin; c < end; c++)
        for (int64_t oy = 0; oy < p->oh; oy++)
            pool_row(p, j->x + c * (size_t)(p->h * p->w), j->y + c * (size_t)(p->oh * p->ow) + oy * p->ow, oy, lo, hi);
}

static void pool_run(const nn__exec *x, const nn__node *nd) {
    pool_job j = {nd->params, x->ptr[nd->in[0]], x->ptr[nd->out[0]]};
    nn__parallel(x, (size_t)j.p->nc, nd->flops, pool_items, &j);
}

static int maxpool_prepare(nn__graph *g, nn__node *nd) {
    if (nd->nout > 1 && nd->out[1] >= 0) return ut_fail(UT_EUNSUPPORTED, "the Indices output");
    return pool_prepare_kind(g, nd, 1, 0);
}
static int avgpool_prepare(nn__graph *g, nn__node *nd) { return pool_prepare_kind(g, nd, 0, 0); }
static int gap_prepare(nn__graph *g, nn__node *nd) { return pool_prepare_kind(g, nd, 0, 1); }
static int gmp_prepare(nn__graph *g, nn__node *nd) { return pool_prepare_kind(g, nd, 1, 1); }

const nn__opdef nn__op_maxpool = {"MaxPool", 1, 1, 2, maxpool_prepare, pool_run, 0};
const nn__opdef nn__op_avgpool = {"AveragePool", 1, 1, 1, avgpool_prepare, pool_run, 0};
const nn__opdef nn__op_gap = {"GlobalAveragePool", 1, 1, 1, gap_prepare, pool_run, 0};
const nn__opdef nn__op_gmp = {"GlobalMaxPool", 1, 1, 1, gmp_prepare, pool_run, 0};

/* ---- Softmax ----
 * Before opset 13 the input is coerced to 2-D at axis (default 1) and the
 * softmax spans everything after it; from 13 it runs along one axis
 * (default -1). Both are outer x len x inner with inner = 1 for the old. */

typedef struct {
    int64_t outer, len, inner;
} softmax_p;

static int softmax_prepare(nn__graph *g, nn__node *nd) {
    nn__tensor *x = nn__in(g, nd, 0), *y = nn__out(g, nd, 0);
    int r = x->shape.rank;
    int64_t axis = nn__attr_int(nd, "axis", g->opset < 13 ? 1 : -1);
    if (axis < 0) axis += r;
    if (axis < 0 || axis >= (r ? r : 1)) return ut_fail(UT_EINVAL, "axis out of range");
    softmax_p *p = ut_calloc(1, sizeof *p);
    if (!p) return ut_fail(UT_ENOMEM, "out of memory");
    ut_free(nd->params);
    nd->params = p;
    p->outer = p->len = p->inner = 1;
    for (int d = 0; d < r; d++) {
        if (d < axis) p->outer *= x->shape.d[d];
        else if (d == axis || g->opset < 13) p->len *= x->shape.d[d];
        else p->inner *= x->shape.d[d];
    }
    y->dtype = NN_F32;
    y->shape = x->shape;
    return UT_OK;
}

static void softmax_run(const nn__exec *x, const nn__node *nd) {
    const softmax_p *p = nd->params;
    const float *in = x->ptr[nd->in[0]];
    float *y = x->ptr[nd->out[0]];
    for (int64_t o = 0; o < p->outer; o++)
        for (int64_t i = 0; i < p->inner; i++) {
            const float *s = in + o * p->len * p->inner + i;
            float *d = y + o * p->len * p->inner + i, mx = -INFINITY, sum = 0;
            for (int64_t k = 0; k < p->len; k++) mx = s[k * p->inner] > mx ? s[k * p->inner] : mx;
            for (int64_t k = 0; k < p->len; k++) sum += d[k * p->inner] = expf(s[k * p->inner] - mx);
            for (int64_t k = 0; k < p->len; k++) d[k * p->inner] /= sum;
        }
}

const nn__opdef nn__op_softmax = {"Softmax", 1, 1, 1, softmax_prepare, softmax_run, 0};

/* ---- Resize / Upsample (nearest and linear over the last two dims) ---- */

enum { CT_HALF_PIXEL, CT_ASYMMETRIC, CT_ALIGN_CORNERS, CT_PYTORCH_HALF_PIXEL, CT_TF_HALF_PIXEL };
enum { NR_ROUND_PREFER_FLOOR, NR_ROUND_PREFER_CEIL, NR_FLOOR, NR_CEIL };

typedef struct {
    int64_t nc, h, w, oh, ow;
    float scale_h, scale_w;
    int linear, ctm, nearest_mode;
} resize_p;

static int resize_prepare(nn__graph *g, nn__node *nd) {
    nn__tensor *x = nn__in(g, nd, 0), *y = nn__out(g, nd, 0);
    int r = x->shape.rank;
    if (r != 4) return ut_fail(UT_EUNSUPPORTED, "only rank-4 inputs");
    resize_p *p = ut_calloc(1, sizeof *p);
    if (!p) return ut_fail(UT_ENOMEM, "out of memory");
    ut_free(nd->params);
    nd->params = p;
    const char *mode = nn__attr_str(nd, "mode", "nearest");
    p->linear = !strcmp(mode, "linear") || !strcmp(mode, "bilinear");
    if (!p->linear && strcmp(mode, "nearest")) return ut_fail(UT_EUNSUPPORTED, "mode '%s'", mode);
    int is_upsample = !strcmp(nd->op_type, "Upsample");
    const char *ctm = nn__attr_str(nd, "coordinate_transformation_mode", is_upsample || g->opset < 11 ? "asymmetric" : "half_pixel");
    const char *nm = nn__attr_str(nd, "nearest_mode", is_upsample || g->opset < 11 ? "floor" : "round_prefer_floor");
    static const char *ctms[] = {"half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel", "tf_half_pixel_for_nn"};
    static const char *nms[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    p->ctm = p->nearest_mode = -1;
    for (int i = 0; i < 5; i++) if (!strcmp(ctm, ctms[i])) p->ctm = i;
    for (int i = 0; i < 4; i++) if (!strcmp(nm, nms[i])) p->nearest_mode = i;
    if (p->ctm < 0 || p->nearest_mode < 0) return ut_fail(UT_EUNSUPPORTED, "coordinate mode '%s' / nearest mode '%s'", ctm, nm);
    float scales[NN_MAX_RANK];
    int64_t sizes[NN_MAX_RANK];
    int have_sizes = 0, ns = -1;
    if (is_upsample || g->opset < 10) {
        const nn__attr *a = nn__attr_get(nd, "scales");
        if (a && a->n == r) { for (int i = 0; i < r; i++) scales[i] = a->floats[i]; ns = r; }
        else if (nn__in(g, nd, 1)) {
            const nn__tensor *t = nn__in(g, nd, 1);
            if (t->data && t->dtype == NN_F32 && nn__numel(&t->shape) == (size_t)r) { memcpy(scales, t->data, (size_t)r * 4); ns = r; }
        }
    } else {
        int si = g->opset < 11 ? 1 : 2;
        const nn__tensor *t = nn__in(g, nd, si), *sz = nn__in(g, nd, si + 1);
        if (sz && nn__numel(&sz->shape) == (size_t)r && nn__const_ints(g, nd, si + 1, sizes, NN_MAX_RANK) == r) have_sizes = 1;
        else if (t && t->data && t->dtype == NN_F32 && nn__numel(&t->shape) == (size_t)r) { memcpy(scales, t->data, (size_t)r * 4); ns = r; }
    }
    if (!have_sizes && ns != r) return ut_fail(UT_EUNSUPPORTED, "scales or sizes must be constant");
    if (!have_sizes)
        for (int i = 0; i < r; i++) sizes[i] = (int64_t)floorf((float)x->shape.d[i] * scales[i]);
    else
        for (int i = 0; i < r; i++) scales[i] = (float)sizes[i] / (float)x->shape.d[i];
    if (sizes[0] != x->shape.d[0] || sizes[1] != x->shape.d[1]) return ut_fail(UT_EUNSUPPORTED, "resizing N or C");
    p->nc = x->shape.d[0] * x->shape.d[1], p->h = x->shape.d[2], p->w = x->shape.d[3];
    p->oh = sizes[2], p->ow = sizes[3], p->scale_h = scales[2], p->scale_w = scales[3];
    if (p->oh <= 0 || p->ow <= 0 || p->oh > (1 << 20) || p->ow > (1 << 20)) return ut_fail(UT_EINVAL, "bad output size");
    y->dtype = NN_F32;
    y->shape = (nn__dims){4, {x->shape.d[0], x->shape.d[1], p->oh, p->ow}};
    nd->scratch = (size_t)p->ow * sizeof(int64_t);
    return UT_OK;
}

static float src_coord(const resize_p *p, int64_t o, float scale, int64_t in, int64_t out) {
    switch (p->ctm) {
    case CT_ASYMMETRIC: return (float)o / scale;
    case CT_ALIGN_CORNERS: return out == 1 ? 0.0f : (float)o * (float)(in - 1) / (float)(out - 1);
    case CT_PYTORCH_HALF_PIXEL: return out > 1 ? ((float)o + 0.5f) / scale - 0.5f : 0.0f;
    case CT_TF_HALF_PIXEL: return ((float)o + 0.5f) / scale;
    default: return ((float)o + 0.5f) / scale - 0.5f;
    }
}

static int64_t nearest_idx(const resize_p *p, float c, int64_t in) {
    int64_t i;
    switch (p->nearest_mode) {
    case NR_FLOOR: i = (int64_t)floorf(c); break;
    case NR_CEIL: i = (int64_t)ceilf(c); break;
    case NR_ROUND_PREFER_CEIL: i = (int64_t)floorf(c + 0.5f); break;
    default: i = c == floorf(c) + 0.5f ? (int64_t)floorf(c) : (int64_t)roundf(c); break;
    }
    return i < 0 ? 0 : i >= in ? in - 1 : i;
}

static void resize_run(const nn__exec *x, const nn__node *nd) {
    const resize_p *p = nd->params;
    const float *in = x->ptr[nd->in[0]];
    float *out = x->ptr[nd->out[0]];
    if (!p->linear) {  /* nearest: source column per output column, computed once */
        int64_t *ix = (int64_t *)x->scratch;
        for (int64_t ox = 0; ox < p->ow; ox++) ix[ox] = nearest_idx(p, src_coord(p, ox, p->scale_w, p->w, p->ow), p->w);
        for (int64_t c = 0; c < p->nc; c++)
            for (int64_t oy = 0; oy < p->oh; oy++) {
                const float *s = in + (c * p->h + nearest_idx(p, src_coord(p, oy, p->scale_h, p->h, p->oh), p->h)) * p->w;
                float *d = out + (c * p->oh + oy) * p->ow;
                for (int64_t ox = 0; ox < p->ow; ox++) d[ox] = s[ix[ox]];
            }
        return;
    }
    for (int64_t c = 0; c < p->nc; c++) {
        const float *s = in + c * p->h * p->w;
        float *d = out + c * p->oh * p->ow;
        for (int64_t oy = 0; oy < p->oh; oy++) {
            float cy = src_coord(p, oy, p->scale_h, p->h, p->oh);
            for (int64_t ox = 0; ox < p->ow; ox++) {
                float cx = src_coord(p, ox, p->scale_w, p->w, p->ow);
                if (!p->linear) {
                    d[oy * p->ow + ox] = s[nearest_idx(p, cy, p->h) * p->w + nearest_idx(p, cx, p->w)];
                    continue;
                }
                float fy = cy < 0 ? 0 : cy > (float)(p->h - 1) ? (float)(p->h - 1) : cy;
                float fx = cx < 0 ? 0 : cx > (float)(p->w - 1) ? (float)(p->w - 1) : cx;
                int64_t y0 = (int64_t)fy, x0 = (int64_t)fx, y1 = y0 + 1 < p->h ? y0 + 1 : y0, x1 = x0 + 1 < p->w ? x0 + 1 : x0;
                float ay = fy - (float)y0, ax = fx - (float)x0;
                float top = s[y0 * p->w + x0] * (1 - ax) + s[y0 * p->w + x1] * ax;
                float bot = s[y1 * p->w + x0] * (1 - ax) + s[y1 * p->w + x1] * ax;
                d[oy * p->ow + ox] = top * (1 - ay) + bot * ay;
            }
        }
    }
}

const nn__opdef nn__op_resize = {"Resize", 1, 4, 1, resize_prepare, resize_run, 0};
const nn__opdef nn__op_upsample = {"Upsample", 1, 2, 1, resize_prepare, resize_run, 0};

/* ops_conv.c -- Conv, Gemm, MatMul, BatchNormalization.
 *
 * Layout is NCHW, as the models declare it. A convolution with one input
 * channel per group (depthwise) runs a direct kernel over whole rows; any
 * other convolution is, per image and group, a GEMM of the weights
 * [Cout/g, Cin/g*kh*kw] with the im2col matrix of the input, computed in
 * column tiles small enough to stay in cache (a 1x1 stride-1 convolution
 * reads the input in place). Tiles are the unit of parallel work, so each
 * thread only ever writes its own tile of the output and its own scratch.
 * Bias and a fused activation are applied to each tile while it is hot. */
#include "nn_int.h"

#include <math.h>
#include <string.h>

/* Portable GEMM for what the packed AVX2 path does not take (MatMul with
 * two activations, CPUs without AVX2): C = alpha * op(A) op(B) + beta * C,
 * row-major. The j loop is innermost so it vectorises without reassociating
 * any sum; transposed B is read with a stride, which only fallbacks see. */
void nn__sgemm(int transa, int transb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
               int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    for (int64_t i = 0; i < m; i++) {
        float *restrict ci = c + i * ldc;
        for (int64_t j = 0; j < n; j++) ci[j] = beta == 0.0f ? 0.0f : beta * ci[j];
        for (int64_t kk = 0; kk < k; kk++) {
            float av = alpha * (transa ? a[kk * lda + i] : a[i * lda + kk]);
            if (transb)
                for (int64_t j = 0; j < n; j++) ci[j] += av * b[j * ldb + kk];
            else {
                const float *restrict bk = b + kk * ldb;
                for (int64_t j = 0; j < n; j++) ci[j] += av * bk[j];
            }
        }
    }
}

/* Locals and restrict so that each loop vectorises: y may not alias a. */
NN_HOT void nn__act_apply(const nn__act *a, float *restrict y, size_t n, int64_t channel) {
    float lo = a->a, hi = a->b;
    switch (a->kind) {
    case NN_ACT_RELU:
        for (size_t i = 0; i < n; i++) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
        break;
    case NN_ACT_CLIP:
        for (size_t i = 0; i < n; i++) {
            float v = y[i] < lo ? lo : y[i];
            y[i] = v > hi ? hi : v;
        }
        break;
    case NN_ACT_LEAKY:
        for (size_t i = 0; i < n; i++) y[i] = y[i] >= 0.0f ? y[i] : y[i] * lo;
        break;
    case NN_ACT_PRELU: {
        float s = a->slope[a->nslope == 1 ? 0 : channel];
        for (size_t i = 0; i < n; i++) y[i] = y[i] >= 0.0f ? y[i] : y[i] * s;
        break;
    }
    case NN_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-y[i]));
        break;
    default:
        break;
    }
}

/* ---- Conv ---- */

#define SMALL_PLANE 1024  /* planes up to this many pixels take the flat 3x3 depthwise kernel */

typedef struct {
    int64_t n, c, h, w;       /* input */
    int64_t m, oh, ow;        /* output channels and size */
    int64_t kh, kw, sh, sw, dh, dw, pt, pl;
    int64_t group, cg, mg, k; /* per-group in/out channels, GEMM depth */
    int64_t tile, ntiles;     /* output columns per work item */
    int64_t mchunk, nmchunks; /* output channels per work item (packed 1x1 only) */
    int pointwise, dw3x3, dw3x3_flat;
    float *packed;            /* AVX2 path: weights in 6-row panels, per group; NULL for BLAS */
    size_t packed_group;      /* floats per group */
} conv_p;

static int conv_pads(nn__node *nd, conv_p *p, const int64_t *in_hw, const int64_t *k, const int64_t *s, const int64_t *d,
                     int64_t *pads, int64_t *out_hw) {
    const char *ap = nn__attr_str(nd, "auto_pad", "NOTSET");
    for (int i = 0; i < 2; i++) {
        int64_t ek = (k[i] - 1) * d[i] + 1;
        if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
            out_hw[i] = (in_hw[i] + s[i] - 1) / s[i];
            int64_t total = (out_hw[i] - 1) * s[i] + ek - in_hw[i];
            if (total < 0) total = 0;
            pads[i] = !strcmp(ap, "SAME_UPPER") ? total / 2 : total - total / 2;
            pads[i + 2] = total - pads[i];
        } else {
            if (!strcmp(ap, "VALID")) pads[i] = pads[i + 2] = 0;
            else if (strcmp(ap, "NOTSET")) return ut_fail(UT_EUNSUPPORTED, "auto_pad '%s'", ap);
            out_hw[i] = (in_hw[i] + pads[i] + pads[i + 2] - ek) / s[i] + 1;
        }
        if (out_hw[i] <= 0) return ut_fail(UT_EINVAL, "the input is smaller than the kernel");
    }
    (void)p;
    return UT_OK;
}

static int conv_prepare(nn__graph *g, nn__node *nd) {
    nn__tensor *x = nn__in(g, nd, 0), *w = nn__in(g, nd, 1), *b = nn__in(g, nd, 2), *y = nn__out(g, nd, 0);
    if (!x || !w || !y) return ut_fail(UT_EFORMAT, "missing input");
    if (x->shape.rank != 4 || w->shape.rank != 4)
        return ut_fail(UT_EUNSUPPORTED, "only 2-D convolution is supported (input rank %d)", x->shape.rank);
    if (b && nn__numel(&b->shape) != (size_t)w->shape.d[0]) return ut_fail(UT_EINVAL, "bad bias");
    conv_p *p = ut_calloc(1, sizeof *p);
    if (!p) return ut_fail(UT_ENOMEM, "out of memory");
    ut_free(nd->params);
    nd->params = p;
    int64_t k[2] = {w->shape.d[2], w->shape.d[3]}, s[2] = {1, 1}, d[2] = {1, 1}, pads[4] = {0, 0, 0, 0}, ks[2];
    int nk = nn__attr_ints(nd, "kernel_shape", ks, 2);
    if (nk == 2 && (ks[0] != k[0] || ks[1] != k[1])) return ut_fail(UT_EINVAL, "kernel_shape does not match the weights");
    if (nn__attr_get(nd, "strides") && nn__attr_ints(nd, "strides", s, 2) != 2) return ut_fail(UT_EINVAL, "bad strides");
    if (nn__attr_get(nd, "dilations") && nn__attr_ints(nd, "dilations", d, 2) != 2) return ut_fail(UT_EINVAL, "bad dilations");
    if (nn__attr_get(nd, "pads") && nn__attr_ints(nd, "pads", pads, 4) != 4) return ut_fail(UT_EINVAL, "bad pads");
    for (int i = 0; i < 2; i++)
        if (s[i] < 1 || d[i] < 1 || pads[i] < 0 || pads[i + 2] < 0 || k[i] < 1) return ut_fail(UT_EINVAL, "bad strides/dilations/pads");
    p->group = nn__attr_int(nd, "group", 1);
    p->n = x->shape.d[0], p->c = x->shape.d[1], p->h = x->shape.d[2], p->w = x->shape.d[3];
    p->m = w->shape.d[0];
    if (p->group < 1 || p->c % p->group || p->m % p->group || w->shape.d[1] * p->group != p->c)
        return ut_fail(UT_EINVAL, "input has %lld channels, weights [%lld,%lld,..] with group %lld", (long long)p->c,
                       (long long)p->m, (long long)w->shape.d[1], (long long)p->group);
    int64_t hw[2] = {p->h, p->w}, ohw[2];
    if (conv_pads(nd, p, hw, k, s, d, pads, ohw)) return UT_EINVAL;
    p->oh = ohw[0], p->ow = ohw[1];
    p->kh = k[0], p->kw = k[1], p->sh = s[0], p->sw = s[1], p->dh = d[0], p->dw = d[1], p->pt = pads[0], p->pl = pads[1];
    p->cg = p->c / p->group, p->mg = p->m / p->group, p->k = p->cg * p->kh * p->kw;
    p->pointwise = p->kh == 1 && p->kw == 1 && p->sh == 1 && p->sw == 1 && !pads[0] && !pads[1] && !pads[2] && !pads[3];
    int64_t cols = p->oh * p->ow;
    p->tile = p->k > 0 ? (131072 / p->k + 15) / 16 * 16 : cols;
    if (p->tile < 64) p->tile = 64;
    if (p->pointwise) p->tile = 1024;
    if (p->tile > cols) p->tile = cols;
    p->ntiles = (cols + p->tile - 1) / p->tile;
    p->mchunk = p->mg, p->nmchunks = 1;
    p->dw3x3 = p->cg == 1 && p->kh == 3 && p->kw == 3 && p->dh == 1 && p->dw == 1 && !p->pointwise;
    p->dw3x3_flat = p->dw3x3 && p->sh == 1 && p->sw == 1 && pads[0] == 1 && pads[1] == 1 && pads[2] == 1 && pads[3] == 1 &&
                    p->h * p->w <= SMALL_PLANE;
    /* im2col tiles; for 3x3 depthwise a zero row as wide as the input */
    nd->scratch = p->cg == 1 || p->pointwise ? 0 : (size_t)(p->k * p->tile) * sizeof(float);
    if (p->cg != 1 || p->pointwise) {
        /* weights computed at run time (rare) take the unpacked path */
        if (nn__gemm_ok() && w->data) {
            /* pack the weights behind the params; the edge buffer goes after the im2col tile */
            size_t per = nn__gemm_packed_floats(p->mg, p->k);
            conv_p *q = ut_realloc(p, sizeof *p + 64 + per * (size_t)p->group * sizeof(float));
            if (!q) return ut_fail(UT_ENOMEM, "out of memory");
            nd->params = p = q;
            p->packed = (float *)(((uintptr_t)(p + 1) + 63) & ~(uintptr_t)63);
            p->packed_group = per;
            for (int64_t g2 = 0; g2 < p->group; g2++)
                nn__gemm_pack((const float *)w->data + g2 * p->mg * p->k, p->mg, p->k, p->packed + g2 * per);
            nd->scratch += nn__gemm_edge_floats(p->k) * sizeof(float);
            /* 1x1 layers on small planes have few column tiles: split the
             * output channels too (48 rows: whole panels for 6 and 8) so
             * threads have work; im2col layers would repeat their im2col. */
            if (p->pointwise && p->mg > 48) p->mchunk = 48, p->nmchunks = (p->mg + 47) / 48;
        } else {
            p->packed = NULL;
        }
    }
    nd->zeros = p->dw3x3 ? (size_t)(p->w + 8) * sizeof(float) : 0;
    nd->label = p->cg == 1 && !p->pointwise ? "Conv/depthwise" : p->pointwise ? "Conv/1x1" : "Conv/im2col";
    nd->flops = 2.0 * (double)(p->n * p->m * cols) * (double)p->k;
    y->dtype = NN_F32;
    y->shape = (nn__dims){4, {p->n, p->m, p->oh, p->ow}};
    return UT_OK;
}

typedef struct {
    const conv_p *p;
    const float *x, *w, *b;
    float *y;
    const nn__act *act;
    const nn__exec *ex;
} conv_job;

/* Rows [k] x columns [c0, c1) of the im2col matrix of one image and group,
 * one output row segment at a time: the valid input span of a segment is
 * computed once, so the inner loops are plain copies (memcpy at stride 1)
 * with zero fill only at the padded edges. */
NN_HOT static void im2col_tile(const conv_p *p, const float *restrict x, int64_t c0, int64_t c1, float *restrict col) {
    int64_t tw = c1 - c0, sw = p->sw;
    for (int64_t c = 0; c < p->cg; c++)
        for (int64_t ky = 0; ky < p->kh; ky++)
            for (int64_t kx = 0; kx < p->kw; kx++) {
                float *dst = col + ((c * p->kh + ky) * p->kw + kx) * tw;
                const float *src = x + c * p->h * p->w;
                int64_t off = kx * p->dw - p->pl;  /* ix = ox * sw + off */
                int64_t lo = off < 0 ? (-off + sw - 1) / sw : 0;
                int64_t hi = p->w - 1 - off < 0 ? 0 : (p->w - 1 - off) / sw + 1;
                if (hi > p->ow) hi = p->ow;
                for (int64_t j = c0; j < c1;) {
                    int64_t oy = j / p->ow, ox0 = j % p->ow, ox1 = p->ow < ox0 + (c1 - j) ? p->ow : ox0 + (c1 - j);
                    int64_t iy = oy * p->sh - p->pt + ky * p->dh;
                    float *d = dst + (j - c0) - ox0;  /* d[ox] is column (oy, ox) */
                    if (iy < 0 || iy >= p->h || lo >= hi) {
                        memset(d + ox0, 0, (size_t)(ox1 - ox0) * sizeof *d);
                    } else {
                        const float *row = src + iy * p->w + off;
                        int64_t a = ox0 > lo ? ox0 : lo, b = ox1 < hi ? ox1 : hi;
                        if (a > ox0) memset(d + ox0, 0, (size_t)((a < ox1 ? a : ox1) - ox0) * sizeof *d);
                        if (a < b) {
                            if (sw == 1) memcpy(d + a, row + a, (size_t)(b - a) * sizeof *d);
                            else for (int64_t ox = a; ox < b; ox++) d[ox] = row[ox * sw];
                        }
                        if (b < ox1) {
                            int64_t z = b > ox0 ? b : ox0;
                            memset(d + z, 0, (size_t)(ox1 - z) * sizeof *d);
                        }
                    }
                    j += ox1 - ox0;
                }
            }
}

static void conv_gemm_items(void *arg, size_t begin, size_t end, int slot) {
    const conv_job *j = arg;
    const conv_p *p = j->p;
    int64_t cols = p->oh * p->ow;
    float *col = (float *)(j->ex->scratch + (size_t)slot * j->ex->scratch_stride);
    for (size_t it = begin; it < end; it++) {
        int64_t mc = (int64_t)it % p->nmchunks, rest = (int64_t)it / p->nmchunks;
        int64_t tile = rest % p->ntiles, ng = rest / p->ntiles, g = ng % p->group, n = ng / p->group;
        int64_t c0 = tile * p->tile, c1 = c0 + p->tile < cols ? c0 + p->tile : cols;
        int64_t m0 = mc * p->mchunk, rows = p->mg - m0 < p->mchunk ? p->mg - m0 : p->mchunk;
        const float *x = j->x + (n * p->c + g * p->cg) * p->h * p->w;
        const float *w = j->w + g * p->mg * p->k;
        float *y = j->y + (n * p->m + g * p->mg) * cols + c0;
        if (p->packed) {
            const float *b = x + c0;
            int64_t ldb = cols;
            float *edge = col;
            if (!p->pointwise) {
                im2col_tile(p, x, c0, c1, col);
                b = col, ldb = c1 - c0, edge = col + p->k * p->tile;
            }
            nn__act act = *j->act;
            if (act.kind == NN_ACT_PRELU && act.nslope > 1) act.slope += g * p->mg + m0;
            nn__gemm_run(p->packed + (size_t)g * p->packed_group + (size_t)(m0 * p->k), rows, p->k, b, ldb, c1 - c0,
                         y + m0 * cols, cols, j->b ? j->b + g * p->mg + m0 : NULL, &act, edge);
            continue;
        }
        if (p->pointwise) {
            nn__sgemm(0, 0, p->mg, c1 - c0, p->k, 1.0f, w, p->k, x + c0, cols, 0.0f, y, cols);
        } else {
            im2col_tile(p, x, c0, c1, col);
            nn__sgemm(0, 0, p->mg, c1 - c0, p->k, 1.0f, w, p->k, col, c1 - c0, 0.0f, y, cols);
        }
        for (int64_t m = 0; m < p->mg; m++) {
            float *row = y + m * cols, bias = j->b ? j->b[g * p->mg + m] : 0.0f;
            if (bias != 0.0f)
                for (int64_t i = 0; i < c1 - c0; i++) row[i] += bias;
            nn__act_apply(j->act, row, (size_t)(c1 - c0), g * p->mg + m);
        }
    }
}

/* One output channel of a convolution with one input channel per group. */
NN_HOT static void conv_direct_channel(const conv_p *p, const float *restrict x, const float *restrict w, float bias,
                                float *restrict y) {
    const int64_t sw = p->sw;
    for (int64_t oy = 0; oy < p->oh; oy++) {
        float *restrict out = y + oy * p->ow;
        for (int64_t ox = 0; ox < p->ow; ox++) out[ox] = bias;
        for (int64_t ky = 0; ky < p->kh; ky++) {
            int64_t iy = oy * p->sh - p->pt + ky * p->dh;
            if (iy < 0 || iy >= p->h) continue;
            const float *restrict in = x + iy * p->w;
            for (int64_t kx = 0; kx < p->kw; kx++) {
                float wv = w[ky * p->kw + kx];
                int64_t off = kx * p->dw - p->pl;  /* ix = ox*sw + off */
                int64_t lo = off < 0 ? (-off + p->sw - 1) / p->sw : 0;
                int64_t hi = (p->w - 1 - off) < 0 ? 0 : (p->w - 1 - off) / p->sw + 1;
                if (hi > p->ow) hi = p->ow;
                if (sw == 1)
                    for (int64_t ox = lo; ox < hi; ox++) out[ox] += wv * in[ox + off];
                else if (sw == 2)
                    for (int64_t ox = lo; ox < hi; ox++) out[ox] += wv * in[2 * ox + off];
                else
                    for (int64_t ox = lo; ox < hi; ox++) out[ox] += wv * in[ox * sw + off];
            }
        }
    }
}

/* 3x3 depthwise, dilation 1: all nine taps of an output row in one pass
 * over it. Rows above or below the input read a zero row; the columns
 * where a tap would fall off the left or right edge are done tap by tap. */
NN_HOT static void conv_dw3x3_channel(const conv_p *p, const float *restrict x, const float *restrict w, float bias,
                               float *restrict y, const float *restrict zero) {
    const int64_t sw = p->sw, W = p->w, ow = p->ow;
    int64_t lo = (p->pl + sw - 1) / sw;                      /* first ox with ix(kx=0) >= 0 */
    int64_t hi = W - 3 + p->pl < 0 ? 0 : (W - 3 + p->pl) / sw + 1; /* ox with ix(kx=2) < W */
    if (hi > ow) hi = ow;
    if (lo > hi) lo = hi;
    for (int64_t oy = 0; oy < p->oh; oy++) {
        const float *r[3];
        for (int ky = 0; ky < 3; ky++) {
            int64_t iy = oy * p->sh - p->pt + ky;
            r[ky] = iy >= 0 && iy < p->h ? x + iy * W - p->pl : zero - p->pl;
        }
        const float *restrict r0 = r[0], *restrict r1 = r[1], *restrict r2 = r[2];
        float *restrict out = y + oy * ow;
        const float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6], w7 = w[7], w8 = w[8];
        if (sw == 1) {
            for (int64_t ox = lo; ox < hi; ox++)
                out[ox] = bias + w0 * r0[ox] + w1 * r0[ox + 1] + w2 * r0[ox + 2] + w3 * r1[ox] + w4 * r1[ox + 1] +
                          w5 * r1[ox + 2] + w6 * r2[ox] + w7 * r2[ox + 1] + w8 * r2[ox + 2];
        } else {
            for (int64_t ox = lo; ox < hi; ox++) {
                int64_t i = ox * sw;
                out[ox] = bias + w0 * r0[i] + w1 * r0[i + 1] + w2 * r0[i + 2] + w3 * r1[i] + w4 * r1[i + 1] +
                          w5 * r1[i + 2] + w6 * r2[i] + w7 * r2[i + 1] + w8 * r2[i + 2];
            }
        }
        for (int64_t ox = 0; ox < ow; ox++) {
            if (ox == lo) ox = hi > lo ? hi : lo;
            if (ox >= ow) break;
            float acc = bias;
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++) {
                    int64_t ix = ox * sw + kx - p->pl;
                    if (ix >= 0 && ix < W) acc += w[ky * 3 + kx] * r[ky][ix + p->pl];
                }
            out[ox] = acc;
        }
    }
}

/* 3x3 stride-1 "same" depthwise on a small plane (rows too short to
 * vectorise): the plane is treated as one flat vector and each tap is a
 * shifted multiply-add over all of it; the column masks zero the taps that
 * would wrap around a row edge, and the shift range keeps reads inside. */
NN_HOT static void conv_dw3x3_flat(const conv_p *p, const float *restrict x, const float *restrict w, float bias,
                                   float *restrict y, const float *restrict not_first, const float *restrict not_last) {
    const int64_t W = p->w, hw = p->h * p->w;
    for (int64_t i = 0; i < hw; i++) y[i] = bias;
    for (int ky = 0; ky < 3; ky++)
        for (int kx = 0; kx < 3; kx++) {
            int64_t sft = (ky - 1) * W + (kx - 1), lo = sft < 0 ? -sft : 0, hi = sft > 0 ? hw - sft : hw;
            const float wv = w[ky * 3 + kx];
            const float *restrict mask = kx == 0 ? not_first : kx == 2 ? not_last : NULL;
            if (mask)
                for (int64_t i = lo; i < hi; i++) y[i] += wv * x[i + sft] * mask[i];
            else
                for (int64_t i = lo; i < hi; i++) y[i] += wv * x[i + sft];
        }
}

static void conv_direct_items(void *arg, size_t begin, size_t end, int slot) {
    (void)slot;
    const conv_job *j = arg;
    const conv_p *p = j->p;
    int64_t cols = p->oh * p->ow;
    float not_first[SMALL_PLANE], not_last[SMALL_PLANE];
    if (p->dw3x3_flat)
        for (int64_t i = 0; i < cols; i++) not_first[i] = i % p->w != 0, not_last[i] = i % p->w != p->w - 1;
    for (size_t it = begin; it < end; it++) {
        int64_t n = (int64_t)it / p->m, m = (int64_t)it % p->m, g = m / p->mg;
        float *y = j->y + (n * p->m + m) * cols;
        const float *x = j->x + (n * p->c + g) * p->h * p->w, *w = j->w + m * p->kh * p->kw;
        if (p->dw3x3_flat)
            conv_dw3x3_flat(p, x, w, j->b ? j->b[m] : 0.0f, y, not_first, not_last);
        else if (p->dw3x3)
            conv_dw3x3_channel(p, x, w, j->b ? j->b[m] : 0.0f, y, j->ex->zeros);
        else
            conv_direct_channel(p, x, w, j->b ? j->b[m] : 0.0f, y);
        nn__act_apply(j->act, y, (size_t)cols, m);
    }
}

static void conv_run(const nn__exec *x, const nn__node *nd) {
    const conv_p *p = nd->params;
    conv_job j = {p, x->ptr[nd->in[0]], x->ptr[nd->in[1]], nd->nin > 2 && nd->in[2] >= 0 ? x->ptr[nd->in[2]] : NULL,
                  x->ptr[nd->out[0]], &nd->act, x};
    if (p->cg == 1 && !p->pointwise)
        nn__parallel(x, (size_t)(p->n * p->m), nd->flops, conv_direct_items, &j);
    else
        nn__parallel(x, (size_t)(p->n * p->group * p->ntiles * p->nmchunks), nd->flops, conv_gemm_items, &j);
}

const nn__opdef nn__op_conv = {"Conv", 2, 3, 1, conv_prepare, conv_run, 0};

/* ---- Gemm: Y = alpha * A' * B' + beta * C ---- */

typedef struct {
    int64_t m, n, k;
    int ta, tb;
    float alpha, beta;
    nn__dims cshape;
    float *packed, *bias;  /* AVX2 path: alpha * B as [N, K] panels, beta * C per column */
} gemm_p;

/* Constant B and a per-column (or absent) C: run as Y' = W A' with the
 * packed convolution kernel, W = alpha * B' packed once here. */
static int gemm_pack(nn__node *nd, gemm_p *p, const nn__tensor *b, const nn__tensor *c) {
    size_t per = nn__gemm_packed_floats(p->n, p->k);
    float *w = ut_malloc((size_t)(p->n * p->k) * sizeof(float) + 1);
    gemm_p *q = ut_realloc(p, sizeof *p + 64 + (per + (size_t)p->n) * sizeof(float));  /* p is stale after this */
    if (!q || !w) {
        if (q) nd->params = q;
        ut_free(w);
        return ut_fail(UT_ENOMEM, "out of memory");
    }
    nd->params = p = q;
    p->packed = (float *)(((uintptr_t)(p + 1) + 63) & ~(uintptr_t)63);
    p->bias = p->packed + per;
    const float *bd = b->data;
    for (int64_t j = 0; j < p->n; j++)
        for (int64_t kk = 0; kk < p->k; kk++) w[j * p->k + kk] = p->alpha * (p->tb ? bd[j * p->k + kk] : bd[kk * p->n + j]);
    nn__gemm_pack(w, p->n, p->k, p->packed);
    ut_free(w);
    size_t nc = c ? nn__numel(&c->shape) : 0;
    for (int64_t j = 0; j < p->n; j++) p->bias[j] = c ? p->beta * ((const float *)c->data)[nc == 1 ? 0 : j] : 0.0f;
    nd->scratch = ((size_t)(p->k * p->m + p->n * p->m) + nn__gemm_edge_floats(p->k)) * sizeof(float);
    return UT_OK;
}

static int gemm_prepare(nn__graph *g, nn__node *nd) {
    nn__tensor *a = nn__in(g, nd, 0), *b = nn__in(g, nd, 1), *c = nn__in(g, nd, 2), *y = nn__out(g, nd, 0);
    if (!a || !b || a->shape.rank != 2 || b->shape.rank != 2) return ut_fail(UT_EINVAL, "A and B must be 2-D");
    gemm_p *p = ut_calloc(1, sizeof *p);
    if (!p) return ut_fail(UT_ENOMEM, "out of memory");
    ut_free(nd->params);
    nd->params = p;
    p->ta = (int)nn__attr_int(nd, "transA", 0), p->tb = (int)nn__attr_int(nd, "transB", 0);
    p->alpha = nn__attr_float(nd, "alpha", 1.0f), p->beta = nn__attr_float(nd, "beta", 1.0f);
    p->m = a->shape.d[p->ta ? 1 : 0], p->k = a->shape.d[p->ta ? 0 : 1], p->n = b->shape.d[p->tb ? 0 : 1];
    if (b->shape.d[p->tb ? 1 : 0] != p->k) return ut_fail(UT_EINVAL, "inner dimensions differ (%lld, %lld)", (long long)p->k, (long long)b->shape.d[p->tb ? 1 : 0]);
    y->dtype = NN_F32;
    y->shape = (nn__dims){2, {p->m, p->n}};
    nn__dims bc;
    if (c) {
        if (nn__broadcast(&c->shape, &y->shape, &bc) || bc.d[0] != p->m || bc.d[1] != p->n || c->shape.rank > 2)
            return ut_fail(UT_EINVAL, "C does not broadcast to [%lld,%lld]", (long long)p->m, (long long)p->n);
        p->cshape = c->shape;
    }
    nd->flops = 2.0 * (double)(p->m * p->n * p->k);
    size_t nc = c ? nn__numel(&c->shape) : 0;
    if (nn__gemm_ok() && b->data && b->dtype == NN_F32 && (!c || (c->data && (nc == 1 || (nc == (size_t)p->n && c->shape.d[c->shape.rank - 1] == p->n)))))
        return gemm_pack(nd, p, b, c);
    return UT_OK;
}

static void gemm_run_packed(const nn__exec *x, const nn__node *nd, const gemm_p *p) {
    const float *a = x->ptr[nd->in[0]], *at = a;
    float *y = x->ptr[nd->out[0]], *s = (float *)x->scratch, *yt = s + p->k * p->m, *edge = yt + p->n * p->m;
    if (p->m == 1) {  /* batch 1: A is one contiguous row (or column) */
        nn__gemv_packed(p->packed, p->n, p->k, a, y, p->bias, &nd->act);
        return;
    }
    if (!p->ta) {  /* A' as [K, M] */
        for (int64_t i = 0; i < p->m; i++)
            for (int64_t kk = 0; kk < p->k; kk++) s[kk * p->m + i] = a[i * p->k + kk];
        at = s;
    }
    nn__gemm_run(p->packed, p->n, p->k, at, p->m, p->m, yt, p->m, p->bias, &nd->act, edge);
    for (int64_t i = 0; i < p->m; i++)
        for (int64_t j = 0; j < p->n; j++) y[i * p->n + j] = yt[j * p->m + i];
}

static void gemm_run(const nn__exec *x, const nn__node *nd) {
    const gemm_p *p = nd->params;
    if (p->packed) {
        gemm_run_packed(x, nd, p);
        return;
    }
    const float *a = x->ptr[nd->in[0]], *b = x->ptr[nd->in[1]];
    const float *c = nd->nin > 2 && nd->in[2] >= 0 ? x->ptr[nd->in[2]] : NULL;
    float *y = x->ptr[nd->out[0]];
    float beta = 0.0f;
    if (c && p->beta != 0.0f) {
        int64_t cr = p->cshape.rank == 2 ? p->cshape.d[0] : 1, cc = p->cshape.rank >= 1 ? p->cshape.d[p->cshape.rank - 1] : 1;
        for (int64_t i = 0; i < p->m; i++)
            for (int64_t jn = 0; jn < p->n; jn++) y[i * p->n + jn] = p->beta * c[(cr == 1 ? 0 : i) * cc + (cc == 1 ? 0 : jn)];
        beta = 1.0f;
    }
    nn__sgemm(p->ta, p->tb, p->m, p->n, p->k, p->alpha, a, p->ta ? p->m : p->k, b, p->tb ? p->k : p->n, beta, y, p->n);
    for (int64_t i = 0; i < p->m; i++) nn__act_apply(&nd->act, y + i * p->n, (size_t)p->n, 0);
}

const nn__opdef nn__op_gemm = {"Gemm", 2, 3, 1, gemm_prepare, gemm_run, 0};

/* ---- MatMul (numpy semantics, batch dims broadcast) ---- */

typedef struct {
    nn__dims a, b, y;  /* a, b padded to y's rank, 1-D operands promoted */
    int64_t m, n, k, batch;
} matmul_p;

static int matmul_prepare(nn__graph *g, nn__node *nd) {
    nn__tensor *a = nn__in(g, nd, 0), *b = nn__in(g, nd, 1), *y = nn__out(g, nd, 0);
    if (a->shape.rank < 1 || b->shape.rank < 1) return ut_fail(UT_EINVAL, "scalar operand");
    matmul_p *p = ut_calloc(1, sizeof *p);
    if (!p) return ut_fail(UT_ENOMEM, "out of memory");
    ut_free(nd->params);
    nd->params = p;
    nn__dims da = a->shape, db = b->shape;
    int a1 = da.rank == 1, b1 = db.rank == 1;
    if (a1) da = (nn__dims){2, {1, da.d[0]}};
    if (b1) db = (nn__dims){2, {db.d[0], 1}};
    p->m = da.d[da.rank - 2], p->k = da.d[da.rank - 1], p->n = db.d[db.rank - 1];
    if (db.d[db.rank - 2] != p->k) return ut_fail(UT_EINVAL, "inner dimensions differ (%lld, %lld)", (long long)p->k, (long long)db.d[db.rank - 2]);
    nn__dims ba = {da.rank - 2, {0}}, bb = {db.rank - 2, {0}}, by;
    memcpy(ba.d, da.d, sizeof(int64_t) * (size_t)ba.rank);
    memcpy(bb.d, db.d, sizeof(int64_t) * (size_t)bb.rank);
    if (nn__broadcast(&ba, &bb, &by) || by.rank + 2 > NN_MAX_RANK) return ut_fail(UT_EINVAL, "batch dimensions do not broadcast");
    p->batch = (int64_t)nn__numel(&by);
    p->y = by;
    p->a.rank = p->b.rank = by.rank;
    for (int i = 0; i < by.rank; i++) {
        int ia = i - (by.rank - ba.rank), ib = i - (by.rank - bb.rank);
        p->a.d[i] = ia >= 0 ? ba.d[ia] : 1;
        p->b.d[i] = ib >= 0 ? bb.d[ib] : 1;
    }
    y->dtype = NN_F32;
    y->shape = by;
    if (!a1) y->shape.d[y->shape.rank++] = p->m;
    if (!b1) y->shape.d[y->shape.rank++] = p->n;
    nd->flops = 2.0 * (double)(p->batch * p->m * p->n * p->k);
    return UT_OK;
}

static void matmul_run(const nn__exec *x, const nn__node *nd) {
    const matmul_p *p = nd->params;
    const float *a = x->ptr[nd->in[0]], *b = x->ptr[nd->in[1]];
    float *y = x->ptr[nd->out[0]];
    for (int64_t bi = 0; bi < p->batch; bi++) {
        int64_t rem = bi, oa = 0, ob = 0, sa = 1, sb = 1;
        for (int i = p->y.rank - 1; i >= 0; i--) {
            int64_t idx = rem % p->y.d[i];
            rem /= p->y.d[i];
            oa += (p->a.d[i] == 1 ? 0 : idx) * sa;
            ob += (p->b.d[i] == 1 ? 0 : idx) * sb;
            sa *= p->a.d[i];
            sb *= p->b.d[i];
        }
        nn__sgemm(0, 0, p->m, p->n, p->k, 1.0f, a + oa * p->m * p->k, p->k, b + ob * p->k * p->n, p->n, 0.0f,
                  y + bi * p->m * p->n, p->n);
    }
}

const nn__opdef nn__op_matmul = {"MatMul", 2, 2, 1, matmul_prepare, matmul_run, 0};

/* ---- BatchNormalization (inference): y = x * a[c] + b[c] ---- */

typedef struct {
    int64_t n, c, inner;
    float *a, *b;  /* 2*c floats after the struct */
} bn_p;

int nn__bn_coeffs(nn__graph *g, const nn__node *nd, float *a, float *b, int64_t c) {
    const nn__tensor *t[4];
    for (int i = 0; i < 4; i++) {
        t[i] = nn__in(g, nd, i + 1);
        if (!t[i] || !t[i]->data || t[i]->dtype != NN_F32 || nn__numel(&t[i]->shape) != (size_t)c)
            return ut_fail(UT_EUNSUPPORTED, "scale, bias, mean and var must be constant with %lld values", (long long)c);
    }
    float eps = nn__attr_float(nd, "epsilon", 1e-5f);
    const float *sc = t[0]->data, *bi = t[1]->data, *mean = t[2]->data, *var = t[3]->data;
    for (int64_t i = 0; i < c; i++) {
        a[i] = sc[i] / sqrtf(var[i] + eps);
        b[i] = bi[i] - mean[i] * a[i];
    }
    return UT_OK;
}

static int bn_prepare(nn__graph *g, nn__node *nd) {
    nn__tensor *x = nn__in(g, nd, 0), *y = nn__out(g, nd, 0);
    if (x->shape.rank < 2) return ut_fail(UT_EINVAL, "input rank %d < 2", x->shape.rank);
    int64_t c = x->shape.d[1];
    bn_p *p = ut_calloc(1, sizeof *p + 2 * (size_t)c * sizeof(float));
    if (!p) return ut_fail(UT_ENOMEM, "out of memory");
    ut_free(nd->params);
    nd->params = p;
    p->a = (float *)(p + 1), p->b = p->a + c;
    p->n = x->shape.d[0], p->c = c, p->inner = (int64_t)nn__numel(&x->shape) / (p->n * c != 0 ? p->n * c : 1);
    y->dtype = NN_F32;
    y->shape = x->shape;
    return nn__bn_coeffs(g, nd, p->a, p->b, c);
}

static void bn_run(const nn__exec *x, const nn__node *nd) {
    const bn_p *p = nd->params;
    const float *in = x->ptr[nd->in[0]];
    float *y = x->ptr[nd->out[0]];
    for (int64_t n = 0; n < p->n; n++)
        for (int64_t c = 0; c < p->c; c++) {
            const float *src = in + (n * p->c + c) * p->inner;
            float *dst = y + (n * p->c + c) * p->inner, a = p->a[c], b = p->b[c];
            for (int64_t i = 0; i < p->inner; i++) dst[i] = src[i] * a + b;
            nn__act_apply(&nd->act, dst, (size_t)p->inner, c);
        }
}

const nn__opdef nn__op_bn = {"BatchNormalization", 5, 5, 1, bn_prepare, bn_run, 0};

/* test_ops.c -- each op through the whole engine (one-op ONNX models built
 * in memory: loader, planner, fusion, arena, kernels) against a naive
 * double-precision reference written here.
 *
 * Error bound: max |engine - reference| <= 1e-5 * (1 + max |reference|)
 * for ops with reductions (float32 accumulation over up to a few hundred
 * terms of magnitude <= 1), exact for data movement ops. Every conv case
 * also runs on 2 threads and must equal the 1-thread result bit for bit
 * (tiles are the unit of work, so the arithmetic is the same; kernels
 * under 1 MFLOP stay on one thread, so the last cases are the big ones). */
#include "nn.h"
#include "onnxw.h"
#include "test.h"
#include "util.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>

static uint32_t rng_state = 1;
static float frand(void) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) / 16777216.0 * 2 - 1);
}
static float *randv(size_t n) {
    float *v = malloc(n * sizeof *v + 1);
    for (size_t i = 0; i < n; i++) v[i] = frand();
    return v;
}
static size_t prod(int r, const int64_t *d) {
    size_t n = 1;
    for (int i = 0; i < r; i++) n *= (size_t)d[i];
    return n;
}

/* Open, plan (optional shape for input 0), run; outputs malloc'd into out[]. */
static int run_model(mb *m, const nn_shape *shape, const float **in, float **out, int nout, int threads, nn_plan_stats *st) {
    uint8_t *bytes;
    size_t len = mb_finish(m, &bytes);
    nn_model *model = NULL;
    nn_plan *p = NULL;
    nn_ctx *c = NULL;
    int rc = nn_model_open_mem(bytes, len, &model);
    free(bytes);
    if (!rc) rc = nn_plan_create(model, shape, shape ? 1 : 0, 0, &p);
    if (!rc) rc = nn_ctx_create(p, threads, &c);
    for (int i = 0; !rc && i < nout; i++) out[i] = calloc(nn_plan_output_size(p, i) + 1, sizeof(float));
    if (!rc) rc = nn_ctx_run(c, in, out);
    if (!rc && st) nn_plan_get_stats(p, st);
    if (rc) fprintf(stderr, "engine: %s\n", ut_errmsg());
    nn_ctx_free(c);
    nn_plan_free(p);
    nn_model_free(model);
    return rc;
}

static double max_err(const float *a, const double *ref, size_t n, double *maxref) {
    double e = 0, mr = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - ref[i]);
        if (!(d <= e)) e = d;
        if (fabs(ref[i]) > mr) mr = fabs(ref[i]);
    }
    if (maxref) *maxref = mr;
    return e;
}

static int close_enough(const float *a, const double *ref, size_t n, const char *what) {
    double mr, e = max_err(a, ref, n, &mr);
    if (e <= 1e-5 * (1 + mr)) return 1;
    fprintf(stderr, "%s: max abs error %.3g (max |ref| %.3g)\n", what, e, mr);
    return 0;
}

/* ---- Conv ---- */

typedef struct {
    int64_t n, c, h, w, m, kh, kw, sh, sw, dh, dw, pt, pl, pb_, pr, group;
    int bias;
} conv_cfg;

static void conv_ref(const conv_cfg *k, const float *x, const float *w, const float *b, double *y, int64_t oh, int64_t ow) {
    int64_t cg = k->c / k->group, mg = k->m / k->group;
    for (int64_t n = 0; n < k->n; n++)
        for (int64_t m = 0; m < k->m; m++)
            for (int64_t oy = 0; oy < oh; oy++)
                for (int64_t ox = 0; ox < ow; ox++) {
                    double acc = b ? b[m] : 0;
                    int64_t g = m / mg;
                    for (int64_t c = 0; c < cg; c++)
                        for (int64_t ky = 0; ky < k->kh; ky++)
                            for (int64_t kx = 0; kx < k->kw; kx++) {
                                int64_t iy = oy * k->sh - k->pt + ky * k->dh, ix = ox * k->sw - k->pl + kx * k->dw;
                                if (iy < 0 || iy >= k->h || ix < 0 || ix >= k->w) continue;
                                acc += (double)x[((n * k->c + g * cg + c) * k->h + iy) * k->w + ix] *
                                       w[((m * cg + c) * k->kh + ky) * k->kw + kx];
                            }
                    y[((n * k->m + m) * oh + oy) * ow + ox] = acc;
                }
}

static int conv_case(const conv_cfg *k) {
    int64_t xd[4] = {k->n, k->c, k->h, k->w}, wd[4] = {k->m, k->c / k->group, k->kh, k->kw}, bd[1] = {k->m};
    int64_t oh = (k->h + k->pt + k->pb_ - ((k->kh - 1) * k->dh + 1)) / k->sh + 1;
    int64_t ow = (k->w + k->pl + k->pr - ((k->kw - 1) * k->dw + 1)) / k->sw + 1;
    float *x = randv(prod(4, xd)), *w = randv(prod(4, wd)), *b = randv((size_t)k->m), *y[2][1] = {{0}};
    double *ref = malloc(sizeof(double) * (size_t)(k->n * k->m * oh * ow));
    int ok = 1;
    for (int t = 0; t < 2 && ok; t++) {
        mb m = {0};
        pb a = {0};
        int64_t pads[4] = {k->pt, k->pl, k->pb_, k->pr}, s[2] = {k->sh, k->sw}, d[2] = {k->dh, k->dw};
        mb_input(&m, "x", 4, xd);
        mb_init(&m, "w", 4, wd, w);
        if (k->bias) mb_init(&m, "b", 1, bd, b);
        attr_ints(&a, "pads", 4, pads), attr_ints(&a, "strides", 2, s), attr_ints(&a, "dilations", 2, d);
        attr_int(&a, "group", k->group);
        mb_node(&m, "Conv", "conv", k->bias ? "x,w,b" : "x,w", "y", &a);
        mb_output(&m, "y");
        const float *in[1] = {x};
        ok = run_model(&m, NULL, in, y[t], 1, t + 1, NULL) == 0;
    }
    conv_ref(k, x, w, k->bias ? b : NULL, ref, oh, ow);
    size_t n = (size_t)(k->n * k->m * oh * ow);
    if (ok) ok = close_enough(y[0][0], ref, n, "conv");
    if (ok && memcmp(y[0][0], y[1][0], n * sizeof(float))) ok = 0, fprintf(stderr, "conv: 2 threads differ from 1\n");
    free(x), free(w), free(b), free(ref), free(y[0][0]), free(y[1][0]);
    return ok;
}

TEST(conv_cases) {
    static const conv_cfg cases[] = {
        /* n  c  h   w   m  kh kw sh sw dh dw pt pl pb pr g bias */
        {1, 8, 9, 7, 16, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1},   /* pointwise */
        {1, 3, 17, 13, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},  /* 3x3 same */
        {2, 4, 16, 16, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0},  /* stride 2, batch 2, no bias */
        {1, 8, 15, 12, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 8, 1},  /* depthwise */
        {1, 8, 15, 12, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 8, 1},  /* depthwise stride 2 */
        {1, 4, 10, 11, 8, 3, 3, 1, 1, 1, 1, 0, 1, 2, 1, 4, 1},  /* depth multiplier 2, asymmetric pads */
        {1, 8, 12, 12, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1}, /* grouped */
        {1, 4, 14, 14, 5, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1, 1},  /* dilated */
        {1, 3, 23, 31, 4, 7, 5, 2, 3, 1, 1, 3, 2, 3, 2, 1, 1},  /* non-square kernel and stride */
        {1, 8, 40, 40, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, /* several column tiles */
        {1, 6, 9, 9, 6, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 6, 0},    /* depthwise 5x5 */
        {1, 8, 33, 35, 16, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1}, /* pointwise, >1024 columns */
        /* big enough (> 1 MFLOP) to be split across threads: */
        {1, 32, 64, 61, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 32, 1},   /* depthwise */
        {2, 32, 64, 61, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 32, 1},   /* depthwise stride 2, batch 2 */
        {1, 64, 40, 37, 48, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1},    /* pointwise */
        {1, 16, 20, 21, 100, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1},   /* pointwise split by output channels */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (!conv_case(&cases[i])) fprintf(stderr, "conv case %zu failed\n", i);
        CHECK(conv_case(&cases[i]));
    }
}

/* Conv -> BatchNormalization -> activation folds into one node. */
static int fused_case(const char *act, int opset) {
    int64_t xd[4] = {1, 4, 6, 5}, wd[4] = {6, 4, 3, 3}, cd[1] = {6}, one[1] = {1};
    float *x = randv(120), *w = randv(216), *b = randv(6), *sc = randv(6), *bb = randv(6), *mean = randv(6), *var = randv(6), *slope = randv(6);
    for (int i = 0; i < 6; i++) var[i] = fabsf(var[i]) + 0.1f;
    mb m = {.opset = opset};
    pb a = {0};
    int64_t pads[4] = {1, 1, 1, 1};
    float lo = -0.3f, hi = 0.4f;
    mb_input(&m, "x", 4, xd);
    mb_init(&m, "w", 4, wd, w), mb_init(&m, "b", 1, cd, b);
    mb_init(&m, "sc", 1, cd, sc), mb_init(&m, "bb", 1, cd, bb), mb_init(&m, "mean", 1, cd, mean), mb_init(&m, "var", 1, cd, var);
    attr_ints(&a, "pads", 4, pads);
    mb_node(&m, "Conv", "conv", "x,w,b", "c", &a);
    attr_float(&a, "epsilon", 1e-3f);
    mb_node(&m, "BatchNormalization", "bn", "c,sc,bb,mean,var", "n", &a);
    if (!strcmp(act, "Clip")) {
        mb_init(&m, "lo", 0, one, &lo), mb_init(&m, "hi", 0, one, &hi);
        mb_node(&m, "Clip", "act", "n,lo,hi", "y", NULL);
    } else if (!strcmp(act, "PRelu")) {
        int64_t sd[3] = {6, 1, 1};
        mb_init(&m, "slope", 3, sd, slope);
        mb_node(&m, "PRelu", "act", "n,slope", "y", NULL);
    } else {
        if (!strcmp(act, "LeakyRelu")) attr_float(&a, "alpha", 0.1f);
        mb_node(&m, act, "act", "n", "y", &a);
    }
    mb_output(&m, "y");
    const float *in[1] = {x};
    float *y[1] = {0};
    nn_plan_stats st;
    int ok = run_model(&m, NULL, in, y, 1, 1, &st) == 0;
    conv_cfg k = {1, 4, 6, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    double ref[180];
    conv_ref(&k, x, w, b, ref, 6, 5);
    for (int c = 0; c < 6; c++)
        for (int i = 0; i < 30; i++) {
            double v = (ref[c * 30 + i] - mean[c]) / sqrt((double)var[c] + 1e-3) * sc[c] + bb[c];
            if (!strcmp(act, "Relu")) v = v > 0 ? v : 0;
            else if (!strcmp(act, "Clip")) v = v < lo ? lo : v > hi ? hi : v;
            else if (!strcmp(act, "LeakyRelu")) v = v >= 0 ? v : 0.1 * v;
            else if (!strcmp(act, "PRelu")) v = v >= 0 ? v : slope[c] * v;
            else if (!strcmp(act, "Sigmoid")) v = 1 / (1 + exp(-v));
            ref[c * 30 + i] = v;
        }
    if (ok) ok = close_enough(y[0], ref, 180, act);
    if (ok && (st.fused != 2 || st.nodes != 1)) ok = 0, fprintf(stderr, "%s: fused %d, %d nodes left\n", act, st.fused, st.nodes);
    free(x), free(w), free(b), free(sc), free(bb), free(mean), free(var), free(slope), free(y[0]);
    return ok;
}

/* 1x1 conv with more than 48 output channels and a per-channel PRelu: the
 * work is split by channel chunks, each must use its own slopes. */
TEST(pointwise_channel_chunks_prelu) {
    int64_t xd[4] = {1, 16, 20, 21}, wd[4] = {100, 16, 1, 1}, sd[3] = {100, 1, 1};
    float *x = randv(16 * 420), *w = randv(1600), *slope = randv(100), *y[2][1] = {{0}};
    for (int t = 0; t < 2; t++) {
        mb m = {0};
        mb_input(&m, "x", 4, xd);
        mb_init(&m, "w", 4, wd, w), mb_init(&m, "s", 3, sd, slope);
        mb_node(&m, "Conv", "conv", "x,w", "c", NULL);
        mb_node(&m, "PRelu", "act", "c,s", "y", NULL);
        mb_output(&m, "y");
        const float *in[1] = {x};
        nn_plan_stats st;
        CHECK(run_model(&m, NULL, in, y[t], 1, t + 1, &st) == 0);
        CHECK_EQ_INT(st.nodes, 1);
    }
    double *ref = malloc(42000 * sizeof *ref);
    for (int mo = 0; mo < 100; mo++)
        for (int i = 0; i < 420; i++) {
            double acc = 0;
            for (int c = 0; c < 16; c++) acc += (double)w[mo * 16 + c] * x[c * 420 + i];
            ref[mo * 420 + i] = acc >= 0 ? acc : acc * slope[mo];
        }
    CHECK(close_enough(y[0][0], ref, 42000, "pointwise prelu"));
    CHECK(memcmp(y[0][0], y[1][0], 42000 * sizeof(float)) == 0);
    free(x), free(w), free(slope), free(ref), free(y[0][0]), free(y[1][0]);
}

TEST(conv_bn_act_fusion) {
    CHECK(fused_case("Relu", 13));
    CHECK(fused_case("Clip", 13));
    CHECK(fused_case("LeakyRelu", 13));
    CHECK(fused_case("PRelu", 13));
    CHECK(fused_case("Sigmoid", 13));
}

/* ---- pooling ---- */

static int pool_case(const char *op, int64_t k, int64_t s, int64_t pad, int ceil_mode, int count_pad) {
    int64_t xd[4] = {2, 3, 11, 10};
    float *x = randv(660), *y[1] = {0};
    mb m = {0};
    pb a = {0};
    int global = !strcmp(op, "GlobalAveragePool");
    int64_t ks[2] = {k, k}, st[2] = {s, s}, pads[4] = {pad, pad, pad, pad};
    if (!global) {
        attr_ints(&a, "kernel_shape", 2, ks), attr_ints(&a, "strides", 2, st), attr_ints(&a, "pads", 4, pads);
        attr_int(&a, "ceil_mode", ceil_mode);
        if (count_pad) attr_int(&a, "count_include_pad", 1);
    } else {
        k = 11, s = 1, pad = 0;
    }
    mb_input(&m, "x", 4, xd);
    mb_node(&m, op, "pool", "x", "y", &a);
    mb_output(&m, "y");
    const float *in[1] = {x};
    int ok = run_model(&m, NULL, in, y, 1, 2, NULL) == 0;
    int64_t oh, ow;
    if (global) oh = ow = 1;
    else {
        oh = (11 + 2 * pad - k + (ceil_mode ? s - 1 : 0)) / s + 1, ow = (10 + 2 * pad - k + (ceil_mode ? s - 1 : 0)) / s + 1;
        if (ceil_mode && (oh - 1) * s >= 11 + pad) oh--;
        if (ceil_mode && (ow - 1) * s >= 10 + pad) ow--;
    }
    int64_t kw = global ? 10 : k;
    double *ref = calloc((size_t)(6 * oh * ow), sizeof *ref);
    for (int64_t c = 0; c < 6; c++)
        for (int64_t oy = 0; oy < oh; oy++)
            for (int64_t ox = 0; ox < ow; ox++) {
                double acc = !strcmp(op, "MaxPool") ? -INFINITY : 0;
                int cnt = 0, cntpad = 0;
                for (int64_t ky = 0; ky < k; ky++)
                    for (int64_t kx = 0; kx < kw; kx++) {
                        int64_t iy = oy * s - pad + ky, ix = ox * s - pad + kx;
                        if (iy < 11 + pad && ix < 10 + pad) cntpad++;
                        if (iy < 0 || iy >= 11 || ix < 0 || ix >= 10) continue;
                        double v = x[(c * 11 + iy) * 10 + ix];
                        cnt++;
                        if (!strcmp(op, "MaxPool")) acc = v > acc ? v : acc;
                        else acc += v;
                    }
                if (strcmp(op, "MaxPool")) acc /= count_pad ? cntpad : cnt;
                ref[(c * oh + oy) * ow + ox] = acc;
            }
    if (ok) ok = close_enough(y[0], ref, (size_t)(6 * oh * ow), op);
    free(x), free(y[0]), free(ref);
    return ok;
}

TEST(pools) {
    CHECK(pool_case("MaxPool", 3, 2, 1, 0, 0));
    CHECK(pool_case("MaxPool", 2, 2, 0, 1, 0));
    CHECK(pool_case("MaxPool", 3, 1, 1, 0, 0));
    CHECK(pool_case("AveragePool", 3, 2, 1, 0, 0));
    CHECK(pool_case("AveragePool", 3, 2, 1, 0, 1));
    CHECK(pool_case("AveragePool", 2, 2, 0, 1, 0));
    CHECK(pool_case("GlobalAveragePool", 0, 0, 0, 0, 0));
}

/* ---- Gemm, MatMul, Softmax ---- */

static int gemm_case(int64_t m_rows, int transb) {
    int64_t ad[2] = {m_rows, 7}, bd[2] = {transb ? 5 : 7, transb ? 7 : 5}, cd[1] = {5};
    float *a = randv((size_t)m_rows * 7), *b = randv(35), *c = randv(5), *y[1] = {0};
    mb m = {0};
    pb at = {0};
    mb_input(&m, "a", 2, ad);
    mb_init(&m, "b", 2, bd, b), mb_init(&m, "c", 1, cd, c);
    attr_int(&at, "transB", transb), attr_float(&at, "alpha", 0.5f), attr_float(&at, "beta", 2.0f);
    mb_node(&m, "Gemm", "fc", "a,b,c", "g", &at);
    mb_node(&m, "Relu", "act", "g", "y", NULL);
    mb_output(&m, "y");
    const float *in[1] = {a};
    int ok = run_model(&m, NULL, in, y, 1, 1, NULL) == 0;
    double ref[40];
    for (int i = 0; i < m_rows; i++)
        for (int j = 0; j < 5; j++) {
            double acc = 0;
            for (int k = 0; k < 7; k++) acc += (double)a[i * 7 + k] * (transb ? b[j * 7 + k] : b[k * 5 + j]);
            acc = 0.5 * acc + 2.0 * c[j];
            ref[i * 5 + j] = acc > 0 ? acc : 0;
        }
    if (ok) ok = close_enough(y[0], ref, (size_t)m_rows * 5, "gemm");
    free(a), free(b), free(c), free(y[0]);
    return ok;
}

/* batch 1 takes the GEMV path, batch 3 the GEMM path; B either way round */
TEST(gemm_bias_relu) {
    CHECK(gemm_case(1, 1));
    CHECK(gemm_case(1, 0));
    CHECK(gemm_case(3, 1));
    CHECK(gemm_case(8, 0));
}

TEST(matmul_broadcast) {
    int64_t ad[3] = {2, 3, 4}, bd[2] = {4, 5};
    float *a = randv(24), *b = randv(20), *y[1] = {0};
    mb m = {0};
    mb_input(&m, "a", 3, ad);
    mb_init(&m, "b", 2, bd, b);
    mb_node(&m, "MatMul", "mm", "a,b", "y", NULL);
    mb_output(&m, "y");
    const float *in[1] = {a};
    CHECK(run_model(&m, NULL, in, y, 1, 1, NULL) == 0);
    double ref[30];
    for (int n = 0; n < 2; n++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 5; j++) {
                double acc = 0;
                for (int k = 0; k < 4; k++) acc += (double)a[(n * 3 + i) * 4 + k] * b[k * 5 + j];
                ref[(n * 3 + i) * 5 + j] = acc;
            }
    CHECK(close_enough(y[0], ref, 30, "matmul"));
    free(a), free(b), free(y[0]);
}

static int softmax_case(int opset, int64_t axis) {
    int64_t xd[3] = {2, 3, 4};
    float *x = randv(24), *y[1] = {0};
    mb m = {.opset = opset};
    pb a = {0};
    attr_int(&a, "axis", axis);
    mb_input(&m, "x", 3, xd);
    mb_node(&m, "Softmax", "sm", "x", "y", &a);
    mb_output(&m, "y");
    const float *in[1] = {x};
    int ok = run_model(&m, NULL, in, y, 1, 1, NULL) == 0;
    double ref[24];
    /* opset < 13: softmax over the flattened dims from axis on; >= 13: along axis */
    int64_t outer = 1, len = 1, inner = 1;
    for (int d = 0; d < 3; d++) {
        if (d < axis) outer *= xd[d];
        else if (d == axis || opset < 13) len *= xd[d];
        else inner *= xd[d];
    }
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            double sum = 0;
            for (int64_t k = 0; k < len; k++) sum += exp(x[(o * len + k) * inner + i]);
            for (int64_t k = 0; k < len; k++) ref[(o * len + k) * inner + i] = exp(x[(o * len + k) * inner + i]) / sum;
        }
    if (ok) ok = close_enough(y[0], ref, 24, "softmax");
    free(x), free(y[0]);
    return ok;
}

TEST(softmax) {
    CHECK(softmax_case(13, 1));
    CHECK(softmax_case(13, 2));
    CHECK(softmax_case(11, 1));
}

/* ---- Resize ---- */

TEST(resize_nearest_and_linear) {
    int64_t xd[4] = {1, 2, 3, 4}, sd[1] = {4};
    float *x = randv(24), *y[1] = {0}, scales[4] = {1, 1, 2, 2};
    /* nearest, asymmetric, floor: y[i] = x[floor(i / 2)] */
    mb m = {0};
    pb a = {0};
    attr_str(&a, "mode", "nearest"), attr_str(&a, "coordinate_transformation_mode", "asymmetric"), attr_str(&a, "nearest_mode", "floor");
    mb_input(&m, "x", 4, xd);
    mb_init(&m, "scales", 1, sd, scales);
    mb_node(&m, "Resize", "rs", "x,,scales", "y", &a);
    mb_output(&m, "y");
    const float *in[1] = {x};
    CHECK(run_model(&m, NULL, in, y, 1, 1, NULL) == 0);
    double ref[96];
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 8; j++) ref[(c * 6 + i) * 8 + j] = x[(c * 3 + i / 2) * 4 + j / 2];
    CHECK(close_enough(y[0], ref, 96, "resize nearest"));
    free(y[0]);
    /* linear, half_pixel: src = (i + 0.5) / 2 - 0.5 clamped to the edges */
    mb m2 = {0};
    attr_str(&a, "mode", "linear");
    mb_input(&m2, "x", 4, xd);
    mb_init(&m2, "scales", 1, sd, scales);
    mb_node(&m2, "Resize", "rs", "x,,scales", "y", &a);
    mb_output(&m2, "y");
    CHECK(run_model(&m2, NULL, in, y, 1, 1, NULL) == 0);
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 8; j++) {
                double sy = fmin(fmax((i + 0.5) / 2 - 0.5, 0), 2), sx = fmin(fmax((j + 0.5) / 2 - 0.5, 0), 3);
                int y0 = (int)sy, x0 = (int)sx, y1 = y0 + 1 < 3 ? y0 + 1 : y0, x1 = x0 + 1 < 4 ? x0 + 1 : x0;
                double ay = sy - y0, ax = sx - x0;
                const float *s = x + c * 12;
                ref[(c * 6 + i) * 8 + j] = (s[y0 * 4 + x0] * (1 - ax) + s[y0 * 4 + x1] * ax) * (1 - ay) +
                                           (s[y1 * 4 + x0] * (1 - ax) + s[y1 * 4 + x1] * ax) * ay;
            }
    CHECK(close_enough(y[0], ref, 96, "resize linear"));
    free(x), free(y[0]);
}

/* ---- elementwise broadcasting ---- */

TEST(broadcast_binary) {
    static const char *ops[] = {"Add", "Sub", "Mul", "Div"};
    int64_t ad[4] = {2, 3, 4, 5}, bd[3] = {3, 1, 5};
    for (int o = 0; o < 4; o++) {
        float *a = randv(120), *b = randv(15), *y[1] = {0};
        for (int i = 0; i < 15; i++) b[i] = b[i] > 0 ? b[i] + 0.5f : b[i] - 0.5f;  /* no division by ~0 */
        mb m = {0};
        mb_input(&m, "a", 4, ad);
        mb_init(&m, "b", 3, bd, b);
        mb_node(&m, ops[o], "op", "a,b", "y", NULL);
        mb_output(&m, "y");
        const float *in[1] = {a};
        CHECK(run_model(&m, NULL, in, y, 1, 1, NULL) == 0);
        double ref[120];
        for (int n = 0; n < 2; n++)
            for (int c = 0; c < 3; c++)
                for (int h = 0; h < 4; h++)
                    for (int w = 0; w < 5; w++) {
                        double u = a[((n * 3 + c) * 4 + h) * 5 + w], v = b[c * 5 + w];
                        ref[((n * 3 + c) * 4 + h) * 5 + w] = o == 0 ? u + v : o == 1 ? u - v : o == 2 ? u * v : u / v;
                    }
        CHECK(close_enough(y[0], ref, 120, ops[o]));
        free(a), free(b), free(y[0]);
    }
}

/* ---- data movement ---- */

TEST(transpose_slice_concat_gather) {
    int64_t xd[3] = {2, 3, 4};
    float *x = randv(24), *y[4] = {0};
    int64_t perm[3] = {2, 0, 1}, starts[2] = {-1, 0}, ends[2] = {-100, 3}, axes[2] = {2, 1}, steps[2] = {-2, 2}, idx[2] = {2, 0};
    mb m = {0};
    pb a = {0};
    mb_input(&m, "x", 3, xd);
    attr_ints(&a, "perm", 3, perm);
    mb_node(&m, "Transpose", "t", "x", "t_out", &a);
    mb_init_i64(&m, "starts", 2, starts), mb_init_i64(&m, "ends", 2, ends), mb_init_i64(&m, "axes", 2, axes), mb_init_i64(&m, "steps", 2, steps);
    mb_node(&m, "Slice", "s", "x,starts,ends,axes,steps", "s_out", NULL);
    attr_int(&a, "axis", 1);
    mb_node(&m, "Concat", "c", "x,x", "c_out", &a);
    int64_t one = 2;
    mb_init_raw(&m, "idx", 7, 1, &one, idx, 16);
    attr_int(&a, "axis", 1);
    mb_node(&m, "Gather", "g", "x,idx", "g_out", &a);
    mb_output(&m, "t_out"), mb_output(&m, "s_out"), mb_output(&m, "c_out"), mb_output(&m, "g_out");
    const float *in[1] = {x};
    CHECK(run_model(&m, NULL, in, y, 4, 1, NULL) == 0);
    double rt[24], rs[8], rc[48], rg[16];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++) {
                double v = x[(i * 3 + j) * 4 + k];
                rt[(k * 2 + i) * 3 + j] = v;          /* [4,2,3] */
                rc[(i * 6 + j) * 4 + k] = v;          /* [2,6,4] */
                rc[(i * 6 + 3 + j) * 4 + k] = v;
            }
    /* slice: dim1 rows 0,2; dim2 cols 3,1 -> [2,2,2] */
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 2; k++) rs[(i * 2 + j) * 2 + k] = x[(i * 3 + j * 2) * 4 + (3 - 2 * k)];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 4; k++) rg[(i * 2 + j) * 4 + k] = x[(i * 3 + idx[j]) * 4 + k];
    CHECK(close_enough(y[0], rt, 24, "transpose"));
    CHECK(close_enough(y[1], rs, 8, "slice"));
    CHECK(close_enough(y[2], rc, 48, "concat"));
    CHECK(close_enough(y[3], rg, 16, "gather"));
    for (int i = 0; i < 4; i++) free(y[i]);
    free(x);
}

/* Shape -> Gather -> Unsqueeze -> Concat -> Reshape on a symbolic input:
 * the planner must fold the shape arithmetic for each concrete shape. */
TEST(dynamic_shape_folding) {
    int64_t xd[4] = {-1, 3, -1, -1}, zero[1] = {0}, minus1[1] = {-1}, ax0[1] = {0};
    for (int h = 2; h <= 5; h += 3) {
        mb m = {0};
        pb a = {0};
        mb_input(&m, "x", 4, xd);
        mb_node(&m, "Shape", "shape", "x", "s", NULL);
        mb_init_i64(&m, "zero", 1, zero), mb_init_i64(&m, "minus1", 1, minus1), mb_init_i64(&m, "ax0", 1, ax0);
        mb_node(&m, "Gather", "batch", "s,zero", "n", NULL);
        attr_int(&a, "axis", 0);
        mb_node(&m, "Concat", "target", "n,minus1", "t", &a);
        mb_node(&m, "Reshape", "flat", "x,t", "r", NULL);
        mb_node(&m, "Relu", "relu", "r", "y", NULL);
        mb_output(&m, "y");
        nn_shape sh = {"x", 4, {2, 3, h, 4}};
        size_t n = (size_t)(2 * 3 * h * 4);
        float *x = randv(n), *y[1] = {0};
        const float *in[1] = {x};
        nn_plan_stats st;
        CHECK(run_model(&m, &sh, in, y, 1, 1, &st) == 0);
        double *ref = malloc(n * sizeof *ref);
        for (size_t i = 0; i < n; i++) ref[i] = x[i] > 0 ? x[i] : 0;
        CHECK(close_enough(y[0], ref, n, "dynamic"));
        CHECK_EQ_INT(st.folded, 3);  /* Shape, Gather, Concat */
        free(x), free(y[0]), free(ref);
    }
}

/* Tensors whose lifetimes do not overlap share arena bytes. */
TEST(arena_reuse) {
    int64_t xd[2] = {64, 1024};
    mb m = {0};
    mb_input(&m, "x", 2, xd);
    char prev[8] = "x", cur[8];
    for (int i = 0; i < 10; i++) {
        snprintf(cur, sizeof cur, i == 9 ? "y" : "t%d", i);
        mb_node(&m, i % 2 ? "Sigmoid" : "Neg", cur, prev, cur, NULL);
        memcpy(prev, cur, sizeof cur);
    }
    mb_output(&m, "y");
    float *x = randv(65536), *y[1] = {0};
    const float *in[1] = {x};
    nn_plan_stats st;
    CHECK(run_model(&m, NULL, in, y, 1, 1, &st) == 0);
    CHECK(st.arena_bytes <= 3 * 65536 * sizeof(float));
    double *ref = malloc(65536 * sizeof *ref);
    for (int i = 0; i < 65536; i++) {
        double v = x[i];
        for (int k = 0; k < 10; k++) v = k % 2 ? 1 / (1 + exp(-v)) : -v;
        ref[i] = v;
    }
    CHECK(close_enough(y[0], ref, 65536, "chain"));
    free(x), free(y[0]), free(ref);
}

/* One plan, two threads, each with its own ctx (one of them with its own
 * 2-thread team): both must keep producing the single-threaded answer. */
typedef struct {
    const nn_plan *p;
    const float *x;
    const float *want;
    size_t n;
    int threads, bad;
} runner;

static void *run_many(void *arg) {
    runner *r = arg;
    nn_ctx *c;
    if (nn_ctx_create(r->p, r->threads, &c)) {
        r->bad = 1;
        return NULL;
    }
    float *y = malloc(r->n * sizeof *y);
    const float *in[1] = {r->x};
    float *out[1] = {y};
    for (int i = 0; i < 20 && !r->bad; i++) {
        nn_ctx_run(c, in, out);
        r->bad = memcmp(y, r->want, r->n * sizeof *y) != 0;
    }
    free(y);
    nn_ctx_free(c);
    return NULL;
}

TEST(contexts_share_a_plan) {
    int64_t xd[4] = {1, 16, 48, 48}, wd[4] = {32, 16, 3, 3}, bd[1] = {32}, pads[4] = {1, 1, 1, 1};
    float *x = randv(16 * 48 * 48), *w = randv(32 * 16 * 9), *b = randv(32);
    mb m = {0};
    pb a = {0};
    mb_input(&m, "x", 4, xd);
    mb_init(&m, "w", 4, wd, w), mb_init(&m, "b", 1, bd, b);
    attr_ints(&a, "pads", 4, pads);
    mb_node(&m, "Conv", "conv", "x,w,b", "c", &a);
    mb_node(&m, "Relu", "relu", "c", "y", NULL);
    mb_output(&m, "y");
    uint8_t *bytes;
    size_t len = mb_finish(&m, &bytes);
    nn_model *model;
    nn_plan *p;
    nn_ctx *c;
    CHECK_EQ_INT(nn_model_open_mem(bytes, len, &model), UT_OK);
    free(bytes);
    CHECK_EQ_INT(nn_plan_create(model, NULL, 0, 0, &p), UT_OK);
    CHECK_EQ_INT(nn_ctx_create(p, 1, &c), UT_OK);
    size_t n = nn_plan_output_size(p, 0);
    float *want = malloc(n * sizeof *want);
    const float *in[1] = {x};
    float *out[1] = {want};
    CHECK_EQ_INT(nn_ctx_run(c, in, out), UT_OK);
    nn_ctx_free(c);
    runner r[2] = {{p, x, want, n, 1, 0}, {p, x, want, n, 2, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, run_many, &r[i]);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    CHECK(!r[0].bad && !r[1].bad);
    free(x), free(w), free(b), free(want);
    nn_plan_free(p);
    nn_model_free(model);
}

int main(int argc, char **argv) { return test_main(argc, argv); }

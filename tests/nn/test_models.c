/* test_models.c -- every face model kadr needs, run by the nn engine and by
 * ONNX Runtime (../shared/tools/ort-ref, installed into build/ort-ref by
 * scripts/setup.sh test) on the same pseudo-random input; outputs must
 * agree within
 *
 *     max |kadr - ort| <= 1e-4 * range(ort output) + 5e-7
 *
 * The absolute 5e-7 floor covers outputs whose whole range is tiny: YuNet's
 * obj_* are sigmoids of very negative logits (range ~1e-5), where ONNX
 * Runtime's approximate logistic differs from expf by ~1e-7 absolute.
 * Models missing from $KADR_HOME/models or ../shared skip with a message;
 * so does everything when node or ort-ref is absent. */
#include "nn.h"
#include "test.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *ort_ref(void) {
    const char *p = getenv("KADR_ORT_REF");
    return p && test_exists(p) && system("node --version >/dev/null 2>&1") == 0 ? p : NULL;
}

/* $KADR_HOME/models/NAME.onnx, else XDG/home like the product (cli_data_home). */
static char *installed_model(const char *name) {
    const char *home = getenv("KADR_HOME"), *xdg = getenv("XDG_DATA_HOME");
    if (home && *home) return ut_asprintf("%s/models/%s.onnx", home, name);
    if (xdg && *xdg == '/') return ut_asprintf("%s/kadr/models/%s.onnx", xdg, name);
    return ut_asprintf("%s/.local/share/kadr/models/%s.onnx", getenv("HOME") ? getenv("HOME") : "", name);
}

static float *read_floats(const char *path, size_t n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    float *b = malloc(n * sizeof *b + 1);
    size_t got = b ? fread(b, sizeof *b, n, f) : 0;
    int extra = fgetc(f) != EOF;
    fclose(f);
    if (got != n || extra) {
        free(b);
        return NULL;
    }
    return b;
}

static void safe(const char *s, char *out) {
    for (; *s; s++) *out++ = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || strchr("_.-", *s) ? *s : '_';
    *out = 0;
}

/* Run path through both engines with input shape `shape` (NULL: model's,
 * symbolic dims 1) and compare. Returns 0 on success. */
static int compare(const char *path, const char *shape_arg, int threads) {
    const char *ref = ort_ref();
    if (!ref) {
        test_skip("node or build/ort-ref missing (run scripts/setup.sh test)");
        return 0;
    }
    if (!test_exists(path)) {
        char why[600];
        snprintf(why, sizeof why, "%s not installed (scripts/setup.sh test installs it)", path);
        test_skip(why);
        return 0;
    }
    nn_model *m = NULL;
    nn_plan *p = NULL;
    nn_ctx *c = NULL;
    int bad = 0;
    if (nn_model_open(path, &m)) {
        fprintf(stderr, "open: %s\n", ut_errmsg());
        return 1;
    }
    nn_info in;
    nn_model_input(m, 0, &in);
    nn_shape sh = {in.name, 0, {0}};
    char dir[512], cmd[3072], shape_opt[300] = "";
    if (shape_arg) {
        snprintf(shape_opt, sizeof shape_opt, "--shape '%s=%s'", in.name, shape_arg);
        for (const char *s = shape_arg; *s; s = *s == 'x' ? s + 1 : s) sh.dims[sh.rank++] = strtoll(s, (char **)&s, 10);
    }
    const char *base = strrchr(path, '/') + 1;
    snprintf(dir, sizeof dir, "%s/%s.t%d", test_tmpdir(), base, threads);
    snprintf(cmd, sizeof cmd, "node '%s' '%s' --threads 1 --iters 1 --warmup 0 %s --dump '%s' >/dev/null 2>&1", ref, path, shape_opt, dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "ort-ref failed: %s\n", cmd);
        nn_model_free(m);
        return 1;
    }
    if (nn_plan_create(m, shape_arg ? &sh : NULL, shape_arg ? 1 : 0, 0, &p) || nn_ctx_create(p, threads, &c)) {
        fprintf(stderr, "plan: %s\n", ut_errmsg());
        nn_plan_free(p);
        nn_model_free(m);
        return 1;
    }
    int nin = nn_plan_ninputs(p), nout = nn_plan_noutputs(p);
    float **bufs = calloc((size_t)(nin + nout) + 1, sizeof *bufs);
    for (int i = 0; i < nin; i++) {
        char f[1024], nm[256];
        nn_plan_input(p, i, &in);
        safe(in.name, nm);
        snprintf(f, sizeof f, "%s/%s.in.bin", dir, nm);
        if (!(bufs[i] = read_floats(f, nn_plan_input_size(p, i)))) bad = fprintf(stderr, "cannot read %s\n", f);
    }
    for (int i = 0; i < nout; i++) bufs[nin + i] = calloc(nn_plan_output_size(p, i) + 1, sizeof(float));
    if (!bad && nn_ctx_run(c, (const float *const *)bufs, bufs + nin)) bad = fprintf(stderr, "run: %s\n", ut_errmsg());
    double worst = 0, worst_abs = 0, worst_range = 0;
    for (int i = 0; !bad && i < nout; i++) {
        char f[1024], nm[256];
        nn_info o;
        nn_plan_output(p, i, &o);
        safe(o.name, nm);
        snprintf(f, sizeof f, "%s/%s.bin", dir, nm);
        size_t n = nn_plan_output_size(p, i);
        float *want = read_floats(f, n);
        if (!want) {
            bad = fprintf(stderr, "%s: ort-ref output %s missing or of another size\n", base, o.name);
            break;
        }
        float lo = INFINITY, hi = -INFINITY;
        double err = 0;
        for (size_t k = 0; k < n; k++) {
            lo = fminf(lo, want[k]), hi = fmaxf(hi, want[k]);
            double d = fabs((double)bufs[nin + i][k] - want[k]);
            if (!(d <= err)) err = d;  /* NaN counts as the worst */
        }
        double range = n ? (double)hi - lo : 0, bound = 1e-4 * range + 5e-7;
        if (err / (range > 0 ? range : 1) > worst) worst = err / (range > 0 ? range : 1), worst_abs = err, worst_range = range;
        if (!(err <= bound)) bad = fprintf(stderr, "%s: output %s max abs error %.3g > bound %.3g (range %.3g)\n", base, o.name, err, bound, range);
        free(want);
    }
    printf("  %-32s %-12s threads=%d max-abs-error/range = %.2e (%.2g over a range of %.2g)%s\n", base,
           shape_arg ? shape_arg : "default", threads, worst, worst_abs, worst_range, bad ? " FAIL" : "");
    for (int i = 0; i < nin + nout; i++) free(bufs[i]);
    free(bufs);
    nn_ctx_free(c);
    nn_plan_free(p);
    nn_model_free(m);
    return bad;
}

static int shared_model(const char *rel, const char *shape, int threads) {
    char *path = ut_asprintf("%s/models/%s", test_shared(), rel);
    int rc = compare(path, shape, threads);
    ut_free(path);
    return rc;
}

static int npm_model(const char *name, int threads) {
    char *path = installed_model(name);
    int rc = compare(path, NULL, threads);
    ut_free(path);
    return rc;
}

TEST(yunet_s_640) { CHECK(shared_model("face-detect/yunet_s_640_640.onnx", NULL, 1) == 0); }
TEST(yunet_n_640) { CHECK(shared_model("face-detect/yunet_n_640_640.onnx", NULL, 2) == 0); }
TEST(yunet_s_dynamic) { CHECK(shared_model("face-detect/yunet_s_dynamic.onnx", "1x3x320x256", 1) == 0); }
TEST(yunet_n_dynamic) { CHECK(shared_model("face-detect/yunet_n_dynamic.onnx", "2x3x160x224", 2) == 0); }
TEST(scrfd_2_5g) { CHECK(shared_model("face-detect/scrfd_2.5g_bnkps.onnx", "1x3x640x640", 1) == 0); }
TEST(scrfd_500m) { CHECK(shared_model("face-detect/scrfd_500m_bnkps.onnx", "1x3x480x352", 2) == 0); }
TEST(retinaface) { CHECK(shared_model("face-detect/retinaface_mnet025_640.onnx", NULL, 2) == 0); }
TEST(rfb320) { CHECK(shared_model("face-detect/rfb320.onnx", NULL, 1) == 0); }
TEST(mobilefacenet128) { CHECK(shared_model("face-embed/mobilefacenet128.onnx", NULL, 1) == 0); }
TEST(fr_detect) { CHECK(npm_model("fr_detect", 1) == 0); }
TEST(fr_landmark) { CHECK(npm_model("fr_landmark", 2) == 0); }
TEST(fr_feature) { CHECK(npm_model("fr_feature", 1) == 0); }
TEST(blazeface_back) { CHECK(npm_model("blazeface_back", 1) == 0); }
TEST(blazeface_front) { CHECK(npm_model("blazeface_front", 2) == 0); }

int main(int argc, char **argv) { return test_main(argc, argv); }

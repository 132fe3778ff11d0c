/* test_conformance.c -- the ONNX backend node tests shipped by Debian's
 * libonnx-testdata (/usr/share/libonnx-testdata/data/node/test_*): each is
 * a one-node model with inputs and expected outputs as TensorProto files.
 *
 * A test the engine refuses (unsupported op, non-float input, a shape input
 * that is not constant...) is "refused": a clean error is the contract. A
 * test it accepts must match: |out - expected| <= 1e-4 + 1e-3 * |expected|
 * (the ONNX backend suite's rtol 1e-3, with a small atol). Any accepted
 * test with a wrong answer fails this test; the pass rate per op type is
 * printed either way. Skips when the test data is not installed. */
#include "nn.h"
#include "test.h"
#include "util.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define NODE_DIR "/usr/share/libonnx-testdata/data/node"

typedef struct {
    char op[48];
    int accepted, passed, refused;
} op_stat;

static op_stat stats[256];
static int nstats;

static op_stat *stat_for(const char *op) {
    for (int i = 0; i < nstats; i++)
        if (!strcmp(stats[i].op, op)) return &stats[i];
    if (nstats == 256) return &stats[255];
    snprintf(stats[nstats].op, sizeof stats[nstats].op, "%s", op);
    return &stats[nstats++];
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    ut_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) ut_buf_append(&b, chunk, n);
    fclose(f);
    *len = b.len;
    return b.data ? b.data : ut_strdup("");
}

static float *load_pb(const char *dir, const char *kind, int i, nn_info *info) {
    char path[1200];
    snprintf(path, sizeof path, "%s/test_data_set_0/%s_%d.pb", dir, kind, i);
    size_t len;
    char *bytes = slurp(path, &len);
    if (!bytes) return NULL;
    float *v = NULL;
    if (nn_tensor_decode(bytes, len, info, &v)) v = NULL;
    ut_free(bytes);
    return v;
}

/* 1 pass, 0 refused, -1 wrong answer. */
static int run_case(const char *dir, const char *name, op_stat **st) {
    char path[1200];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    nn_model *m = NULL;
    nn_plan *p = NULL;
    nn_ctx *c = NULL;
    *st = NULL;
    if (nn_model_open(path, &m)) return 0;
    *st = stat_for(nn_model_node_op(m, 0) ? nn_model_node_op(m, 0) : "?");
    int nin = nn_model_ninputs(m), nout = nn_model_noutputs(m), result = 0;
    float **bufs = calloc((size_t)(nin + nout) + 1, sizeof *bufs);
    nn_shape *shapes = calloc((size_t)nin + 1, sizeof *shapes);
    int ok = 1;
    for (int i = 0; i < nin && ok; i++) {
        nn_info want, in;
        nn_model_input(m, i, &in);
        ok = (bufs[i] = load_pb(dir, "input", i, &want)) != NULL;
        shapes[i].name = in.name;
        shapes[i].rank = want.rank;
        memcpy(shapes[i].dims, want.dims, sizeof shapes[i].dims);
        for (int d = 0; d < want.rank; d++) ok &= want.dims[d] > 0;  /* empty tensors: refused */
    }
    if (ok && !nn_plan_create(m, shapes, nin, 0, &p) && !nn_ctx_create(p, 1, &c)) {
        for (int i = 0; i < nout; i++) bufs[nin + i] = calloc(nn_plan_output_size(p, i) + 1, sizeof(float));
        result = 1;
        nn_ctx_run(c, (const float *const *)bufs, bufs + nin);
        for (int i = 0; i < nout && result == 1; i++) {
            nn_info want;
            float *exp = load_pb(dir, "output", i, &want);
            size_t n = nn_plan_output_size(p, i), wn = 1;
            for (int d = 0; d < want.rank; d++) wn *= (size_t)want.dims[d];
            if (!exp || wn != n) {
                fprintf(stderr, "%s: output %d has %zu values, expected %zu\n", name, i, n, wn);
                result = -1;
            }
            for (size_t k = 0; result == 1 && k < n; k++) {
                float a = bufs[nin + i][k], b = exp[k];
                if ((isnan(a) && isnan(b)) || a == b) continue;
                if (!(fabsf(a - b) <= 1e-4f + 1e-3f * fabsf(b))) {
                    fprintf(stderr, "%s: output %d[%zu] = %g, expected %g\n", name, i, k, a, b);
                    result = -1;
                }
            }
            ut_free(exp);
        }
    }
    for (int i = 0; i < nin + nout; i++) ut_free(bufs[i]);
    free(bufs);
    free(shapes);
    nn_ctx_free(c);
    nn_plan_free(p);
    nn_model_free(m);
    return result;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

TEST(onnx_node_tests) {
    DIR *d = opendir(NODE_DIR);
    if (!d) {
        test_skip(NODE_DIR " not installed (apt-get install libonnx-testdata; scripts/setup.sh test does)");
        return;
    }
    char *names[2048];
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < 2048;)
        if (!strncmp(e->d_name, "test_", 5)) names[n++] = ut_strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, by_name);
    int wrong = 0, refused = 0, passed = 0;
    for (int i = 0; i < n; i++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/%s", NODE_DIR, names[i]);
        op_stat *st;
        int r = run_case(dir, names[i], &st);
        if (r == 0) refused++;
        if (r == 1) passed++;
        if (r < 0) wrong++;
        if (st) {
            st->accepted += r != 0;
            st->passed += r == 1;
            st->refused += r == 0;
        }
        ut_free(names[i]);
    }
    printf("  ONNX node tests: %d run, %d passed, %d refused cleanly, %d wrong\n", n, passed, refused, wrong);
    printf("  %-22s %8s %8s\n", "op (supported)", "passed", "refused");
    for (int i = 0; i < nstats; i++)
        printf("  %-22s %4d/%-3d %8d\n", stats[i].op, stats[i].passed, stats[i].accepted, stats[i].refused);
    CHECK_EQ_INT(wrong, 0);
    CHECK(passed > 100);
}

int main(int argc, char **argv) { return test_main(argc, argv); }

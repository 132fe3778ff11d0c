/* test_cli.c -- `kadr nn info|run|bench` end to end on the real binary with
 * small models written to the test's tmpdir: outputs dumped like ort-ref,
 * --in files read, and the errors users see (unknown op, bad shape, wrong
 * input size) with their exit codes. */
#include "http.h"
#include "onnxw.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>

/* x[1,2,-1,-1] (symbolic H, W) -> Relu -> y, or an unknown op. */
static char *write_model(const char *name, const char *op) {
    mb m = {0};
    int64_t xd[4] = {1, 2, -1, -1};
    mb_input(&m, "x", 4, xd);
    mb_node(&m, op, "n1", "x", "y", NULL);
    mb_output(&m, "y");
    uint8_t *b;
    size_t n = mb_finish(&m, &b);
    static char path[3][512];
    static int k;
    char *p = path[k++ % 3];
    snprintf(p, 512, "%s/%s", test_tmpdir(), name);
    FILE *f = fopen(p, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
    free(b);
    return p;
}

static char out[8192], err[4096];

TEST(info_lists_inputs_and_ops) {
    const char *model = write_model("relu.onnx", "Relu");
    const char *args[] = {"nn", "info", model, NULL};
    CHECK_EQ_INT(kadr_run(args, out, sizeof out, err, sizeof err), 0);
    CHECK(strstr(out, "input  x float32 [1,2,N,N]") != NULL);
    CHECK(strstr(out, "Relu") != NULL);
}

TEST(run_dumps_like_ort_ref) {
    const char *model = write_model("relu.onnx", "Relu");
    char in[600], dir[600], path[700];
    snprintf(in, sizeof in, "%s/x.bin", test_tmpdir());
    snprintf(dir, sizeof dir, "%s/dump", test_tmpdir());
    float x[12];
    for (int i = 0; i < 12; i++) x[i] = (float)i - 5.5f;
    FILE *f = fopen(in, "wb");
    fwrite(x, 4, 12, f);
    fclose(f);
    char inarg[700];
    snprintf(inarg, sizeof inarg, "x=%s", in);
    const char *args[] = {"nn", "run", model, "--shape", "x=1x2x3x2", "--in", inarg, "--dump", dir, NULL};
    CHECK_EQ_INT(kadr_run(args, out, sizeof out, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/y.bin", dir);
    float y[13];
    f = fopen(path, "rb");
    CHECK(f != NULL);
    CHECK_EQ_INT(fread(y, 4, 13, f), 12);
    fclose(f);
    for (int i = 0; i < 12; i++) CHECK(y[i] == (x[i] > 0 ? x[i] : 0));
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    f = fopen(path, "rb");
    CHECK(f != NULL);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = 0;
    fclose(f);
    CHECK(strstr(out, "\"name\": \"y\", \"shape\": [1, 2, 3, 2]") != NULL);
    /* a file of the wrong size is refused */
    const char *bad[] = {"nn", "run", model, "--shape", "x=1x2x4x2", "--in", inarg, NULL};
    CHECK_EQ_INT(kadr_run(bad, out, sizeof out, err, sizeof err), 1);
    CHECK(strstr(err, "16 float32") != NULL);
}

TEST(errors_and_exit_codes) {
    const char *model = write_model("odd.onnx", "NoSuchOp");
    const char *args[] = {"nn", "info", model, NULL};
    CHECK_EQ_INT(kadr_run(args, out, sizeof out, err, sizeof err), 1);
    CHECK(strstr(err, "NoSuchOp") != NULL && strstr(err, "n1") != NULL);
    const char *relu = write_model("relu2.onnx", "Relu");
    const char *shape[] = {"nn", "run", relu, "--shape", "x=1x3x2x2", NULL};
    CHECK_EQ_INT(kadr_run(shape, out, sizeof out, err, sizeof err), 1);
    CHECK(strstr(err, "fixed at 2") != NULL);
    const char *usage[] = {"nn", "explode", relu, NULL};
    CHECK_EQ_INT(kadr_run(usage, out, sizeof out, err, sizeof err), 2);
    const char *bench[] = {"nn", "bench", relu, "--threads", "2", "--iters", "3", "--batch", "1", NULL};
    CHECK_EQ_INT(kadr_run(bench, out, sizeof out, err, sizeof err), 0);
    CHECK(strstr(out, "median=") != NULL);
    const char *prof[] = {"nn", "bench", relu, "--iters", "2", "--profile", NULL};
    CHECK_EQ_INT(kadr_run(prof, out, sizeof out, err, sizeof err), 0);
    CHECK(strstr(out, "Relu ") != NULL && strstr(out, "ms/run") != NULL);
}

int main(int argc, char **argv) { return test_main(argc, argv); }

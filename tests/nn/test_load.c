/* test_load.c -- the loader and planner on bad input: truncated and corrupt
 * bytes, unsupported ops (named with their node), fp16 and int64
 * initializers, impossible shapes, allocation failure at every step. Each
 * must end in a clear error, never a crash or a leak (ASan runs these). */
#include "nn.h"
#include "onnxw.h"
#include "test.h"
#include "util.h"

#include <math.h>
#include <stdio.h>

/* x[1,2,4,4] -> Conv 3x3 (2->3) -> Relu -> y, with a weight initializer. */
static size_t small_model(uint8_t **out, const char *act) {
    mb m = {0};
    int64_t xd[4] = {1, 2, 4, 4}, wd[4] = {3, 2, 3, 3};
    float w[54];
    for (int i = 0; i < 54; i++) w[i] = (float)(i % 7) / 7.0f - 0.4f;
    mb_input(&m, "x", 4, xd);
    mb_init(&m, "w", 4, wd, w);
    mb_node(&m, "Conv", "conv1", "x,w", "c", NULL);
    mb_node(&m, act, "act1", "c", "y", NULL);
    mb_output(&m, "y");
    return mb_finish(&m, out);
}

TEST(opens_and_describes) {
    uint8_t *b;
    size_t n = small_model(&b, "Relu");
    nn_model *m;
    CHECK_EQ_INT(nn_model_open_mem(b, n, &m), UT_OK);
    free(b);
    nn_info in;
    CHECK_EQ_INT(nn_model_ninputs(m), 1);
    CHECK_EQ_INT(nn_model_input(m, 0, &in), UT_OK);
    CHECK_EQ_STR(in.name, "x");
    CHECK_EQ_INT(in.rank, 4);
    CHECK_EQ_INT(in.dims[3], 4);
    CHECK_EQ_INT(nn_model_input(m, 1, &in), UT_ERANGE);
    CHECK_EQ_INT(nn_model_nnodes(m), 2);
    CHECK_EQ_STR(nn_model_node_op(m, 0), "Conv");
    CHECK_EQ_INT(nn_model_weight_bytes(m), 54 * 4);
    nn_plan *p;
    CHECK_EQ_INT(nn_plan_create(m, NULL, 0, 0, &p), UT_OK);
    CHECK_EQ_INT(nn_plan_output_size(p, 0), 3 * 2 * 2);
    nn_plan_free(p);
    nn_model_free(m);
    nn_model_free(NULL);
    nn_plan_free(NULL);
    nn_ctx_free(NULL);
}

TEST(unknown_op_names_op_and_node) {
    uint8_t *b;
    size_t n = small_model(&b, "FancyActivation");
    nn_model *m = (nn_model *)1;
    CHECK_EQ_INT(nn_model_open_mem(b, n, &m), UT_EUNSUPPORTED);
    free(b);
    CHECK(m == NULL);
    CHECK(strstr(ut_errmsg(), "FancyActivation") != NULL);
    CHECK(strstr(ut_errmsg(), "act1") != NULL);
}

/* Every proper prefix of a valid model fails cleanly (or, rarely, parses
 * as a smaller valid message and then fails validation or succeeds). */
TEST(truncated_files) {
    uint8_t *b;
    size_t n = small_model(&b, "Relu");
    int failed = 0;
    for (size_t len = 0; len < n; len++) {
        nn_model *m = NULL;
        int rc = nn_model_open_mem(b, len, &m);
        if (rc) {
            failed++;
            CHECK(m == NULL);
            CHECK(ut_errmsg()[0] != 0);
        }
        nn_model_free(m);
    }
    CHECK(failed > (int)n / 2);
    free(b);
}

TEST(corrupt_bytes) {
    uint8_t *b;
    size_t n = small_model(&b, "Relu");
    uint32_t s = 7;
    for (int round = 0; round < 400; round++) {
        uint8_t *c = malloc(n);
        memcpy(c, b, n);
        for (int k = 0; k < 3; k++) {
            s = s * 1103515245u + 12345u;
            c[(s >> 8) % n] ^= (uint8_t)(1u << (s >> 28 & 7));
        }
        nn_model *m = NULL;
        if (nn_model_open_mem(c, n, &m) == UT_OK) {
            /* a flip that still parses must still plan safely or fail cleanly */
            nn_plan *p = NULL;
            if (nn_plan_create(m, NULL, 0, 0, &p) == UT_OK) {
                nn_ctx *ctx = NULL;
                if (nn_ctx_create(p, 1, &ctx) == UT_OK && nn_plan_ninputs(p) == 1 && nn_plan_noutputs(p) == 1) {
                    float *in = calloc(nn_plan_input_size(p, 0) + 1, 4), *out = calloc(nn_plan_output_size(p, 0) + 1, 4);
                    const float *ins[1] = {in};
                    float *outs[1] = {out};
                    nn_ctx_run(ctx, ins, outs);
                    free(in), free(out);
                }
                nn_ctx_free(ctx);
            }
            nn_plan_free(p);
        }
        nn_model_free(m);
        free(c);
    }
    free(b);
    CHECK_EQ_INT(nn_model_open_mem("\xff\xff\xff", 3, &(nn_model *){NULL}), UT_EFORMAT);
    nn_model *m;
    CHECK(nn_model_open("/nonexistent/model.onnx", &m) != UT_OK);
    CHECK(strstr(ut_errmsg(), "/nonexistent/model.onnx") != NULL);
}

static uint16_t to_half(float f) {
    /* exact for the small dyadic values used here */
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = x >> 16 & 0x8000, exp = (x >> 23 & 0xff), man = x & 0x7fffff;
    if (!exp) return (uint16_t)sign;
    return (uint16_t)(sign | (exp - 112) << 10 | man >> 13);
}

TEST(fp16_initializer_widened) {
    mb m = {0};
    int64_t xd[2] = {2, 3}, bd[1] = {3};
    float bv[3] = {0.5f, -1.25f, 3.0f};
    uint16_t h[3] = {to_half(bv[0]), to_half(bv[1]), to_half(bv[2])};
    mb_input(&m, "x", 2, xd);
    mb_init_raw(&m, "b", 10, 1, bd, h, sizeof h);
    mb_node(&m, "Add", "add", "x,b", "y", NULL);
    mb_output(&m, "y");
    uint8_t *bytes;
    size_t n = mb_finish(&m, &bytes);
    nn_model *model;
    nn_plan *p;
    nn_ctx *c;
    CHECK_EQ_INT(nn_model_open_mem(bytes, n, &model), UT_OK);
    free(bytes);
    CHECK_EQ_INT(nn_plan_create(model, NULL, 0, 0, &p), UT_OK);
    CHECK_EQ_INT(nn_ctx_create(p, 1, &c), UT_OK);
    float x[6] = {1, 2, 3, 4, 5, 6}, y[6];
    const float *in[1] = {x};
    float *out[1] = {y};
    CHECK_EQ_INT(nn_ctx_run(c, in, out), UT_OK);
    for (int i = 0; i < 6; i++) CHECK(y[i] == x[i] + bv[i % 3]);
    nn_ctx_free(c);
    nn_plan_free(p);
    nn_model_free(model);
}

TEST(bad_shapes_fail_at_plan) {
    uint8_t *b;
    size_t n = small_model(&b, "Relu");
    nn_model *m;
    CHECK_EQ_INT(nn_model_open_mem(b, n, &m), UT_OK);
    free(b);
    nn_plan *p = NULL;
    nn_shape wrong_rank = {"x", 3, {1, 2, 4}}, fixed = {"x", 4, {1, 2, 5, 4}}, nobody = {"z", 4, {1, 2, 4, 4}};
    CHECK_EQ_INT(nn_plan_create(m, &wrong_rank, 1, 0, &p), UT_EINVAL);
    CHECK(strstr(ut_errmsg(), "rank") != NULL);
    CHECK_EQ_INT(nn_plan_create(m, &fixed, 1, 0, &p), UT_EINVAL);
    CHECK_EQ_INT(nn_plan_create(m, &nobody, 1, 0, &p), UT_ENOENT);
    CHECK(p == NULL);
    nn_model_free(m);
    /* a kernel larger than the input fails at plan time, naming the node */
    mb mm = {0};
    int64_t xd[4] = {1, 2, -1, -1}, wd[4] = {3, 2, 3, 3};
    float w[54] = {0};
    mb_input(&mm, "x", 4, xd);
    mb_init(&mm, "w", 4, wd, w);
    mb_node(&mm, "Conv", "conv1", "x,w", "y", NULL);
    mb_output(&mm, "y");
    n = mb_finish(&mm, &b);
    CHECK_EQ_INT(nn_model_open_mem(b, n, &m), UT_OK);
    free(b);
    nn_shape tiny = {"x", 4, {1, 2, 2, 2}};
    CHECK(nn_plan_create(m, &tiny, 1, 0, &p) != UT_OK);
    CHECK(strstr(ut_errmsg(), "conv1") != NULL);
    nn_shape ok = {"x", 4, {1, 2, 5, 6}};
    CHECK_EQ_INT(nn_plan_create(m, &ok, 1, 0, &p), UT_OK);
    CHECK_EQ_INT(nn_plan_output_size(p, 0), 3 * 3 * 4);
    nn_plan_free(p);
    nn_model_free(m);
}

/* Fail the k-th allocation for every k: each must give an error (or, once
 * past the last allocation, success) and leak nothing. */
TEST(allocation_failures) {
    uint8_t *b;
    size_t n = small_model(&b, "Relu");
    int succeeded = 0;
    for (long k = 1; k < 400 && !succeeded; k++) {
        nn_model *m = NULL;
        nn_plan *p = NULL;
        nn_ctx *c = NULL;
        ut_mem_fail_at(k);
        int rc = nn_model_open_mem(b, n, &m);
        if (!rc) rc = nn_plan_create(m, NULL, 0, 0, &p);
        if (!rc) rc = nn_ctx_create(p, 2, &c);
        ut_mem_fail_at(0);
        if (rc) CHECK(rc == UT_ENOMEM || rc == UT_EFORMAT);
        else succeeded = 1;
        nn_ctx_free(c);
        nn_plan_free(p);
        nn_model_free(m);
    }
    CHECK(succeeded);
    free(b);
}

int main(int argc, char **argv) { return test_main(argc, argv); }

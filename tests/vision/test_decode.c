/* Detector decoding on planted outputs: each face is written into the
 * tensors the way the model would emit it, and must come back at the
 * position the reference decoder gives (values worked out by hand). */
#include "test.h"
#include "util.h"
#include "vision.h"

#include <math.h>
#include <stdlib.h>

#define NEAR(a, b) (fabsf((float)(a) - (float)(b)) < 1e-3f)

static vis_tensor tensor(const char *name, float *data, int64_t rows, int64_t last) {
    vis_tensor t = {name, data, {1, rows, last}, 3};
    return t;
}

TEST(yunet_planted_face) {
    /* 64x64 input: strides 8/16/32 give 8x8, 4x4, 2x2 cells. */
    float *buf[12];
    int64_t cells[3] = {64, 16, 4};
    static const char *names[12] = {"cls_8", "cls_16", "cls_32", "obj_8", "obj_16", "obj_32",
                                    "bbox_8", "bbox_16", "bbox_32", "kps_8", "kps_16", "kps_32"};
    vis_tensor t[12];
    for (int i = 0; i < 12; i++) {
        int64_t last = i < 6 ? 1 : i < 9 ? 4 : 10;
        buf[i] = ut_calloc((size_t)(cells[i % 3] * last), sizeof(float));
        t[i] = tensor(names[i], buf[i], cells[i % 3], last);
    }
    /* stride 16, row 2, col 1 (cell 9): cls 0.81, obj 1 -> score 0.9 */
    buf[1][9] = 0.81f;
    buf[4][9] = 1.0f;
    float *bb = buf[7] + 4 * 9, *kp = buf[10] + 10 * 9;
    bb[0] = 0.5f; bb[1] = 0.25f; bb[2] = logf(2.0f); bb[3] = 0.0f;
    for (int p = 0; p < 5; p++) { kp[2 * p] = 0.1f * p; kp[2 * p + 1] = -0.1f * p; }
    /* A sub-threshold candidate must not appear. */
    buf[0][3] = 0.2f;
    buf[3][3] = 0.2f;
    vis_face *f;
    size_t n;
    CHECK_EQ_INT(vis_decode(VIS_DET_YUNET, t, 12, 64, 64, 0.5f, &f, &n), UT_OK);
    CHECK_EQ_INT(n, 1);
    /* cx = (1 + 0.5) * 16 = 24, cy = (2 + 0.25) * 16 = 36, w = 32, h = 16 */
    CHECK(NEAR(f[0].score, 0.9f));
    CHECK(NEAR(f[0].x1, 8) && NEAR(f[0].y1, 28) && NEAR(f[0].x2, 40) && NEAR(f[0].y2, 44));
    CHECK(NEAR(f[0].kps[3][0], (1 + 0.3f) * 16) && NEAR(f[0].kps[3][1], (2 - 0.3f) * 16));
    CHECK_EQ_INT(f[0].nkps, 5);
    ut_free(f);
    /* A missing output is a format error naming it. */
    CHECK_EQ_INT(vis_decode(VIS_DET_YUNET, t, 11, 64, 64, 0.5f, &f, &n), UT_EFORMAT);
    CHECK(strstr(ut_errmsg(), "kps_32"));
    /* Wrong input size for the tensors: also a format error, no overread. */
    CHECK_EQ_INT(vis_decode(VIS_DET_YUNET, t, 12, 128, 64, 0.5f, &f, &n), UT_EFORMAT);
    for (int i = 0; i < 12; i++) ut_free(buf[i]);
}

TEST(scrfd_found_by_shape) {
    /* 32x32 input: anchors 4*4*2=32, 2*2*2=8, 1*1*2=2; names are arbitrary. */
    int64_t anchors[3] = {32, 8, 2};
    float *buf[9];
    vis_tensor t[9];
    static const char *names[9] = {"446", "466", "486", "449", "469", "489", "452", "472", "492"};
    for (int i = 0; i < 9; i++) {
        int64_t last = i < 3 ? 1 : i < 6 ? 4 : 10;
        buf[i] = ut_calloc((size_t)(anchors[i % 3] * last), sizeof(float));
        t[i] = (vis_tensor){names[i], buf[i], {anchors[i % 3], last}, 2};
    }
    /* stride 8, anchor 11 = cell 5 (row 1, col 1), second anchor: centre (8, 8) */
    buf[0][11] = 0.7f;
    float *b = buf[3] + 4 * 11;
    b[0] = 0.5f; b[1] = 1.0f; b[2] = 1.5f; b[3] = 2.0f;
    buf[6][10 * 11 + 4] = 0.25f; /* nose x */
    vis_face *f;
    size_t n;
    CHECK_EQ_INT(vis_decode(VIS_DET_SCRFD, t, 9, 32, 32, 0.5f, &f, &n), UT_OK);
    CHECK_EQ_INT(n, 1);
    CHECK(NEAR(f[0].x1, 4) && NEAR(f[0].y1, 0) && NEAR(f[0].x2, 20) && NEAR(f[0].y2, 24));
    CHECK(NEAR(f[0].kps[2][0], 10) && NEAR(f[0].kps[2][1], 8));
    ut_free(f);
    for (int i = 0; i < 9; i++) ut_free(buf[i]);
}

TEST(retinaface_priors) {
    /* 32x32 input: priors 4*4*2 + 2*2*2 + 1*1*2 = 42 */
    float *loc = ut_calloc(42 * 4, sizeof(float)), *conf = ut_calloc(42 * 2, sizeof(float));
    float *lm = ut_calloc(42 * 10, sizeof(float));
    vis_tensor t[3] = {tensor("output0", loc, 42, 4), tensor("572", conf, 42, 2), tensor("571", lm, 42, 10)};
    /* prior 33: stride 16 block starts at 32; 33-32=1 -> row 0, col 0, min size 128 */
    conf[2 * 33 + 1] = 0.95f;
    loc[4 * 33 + 0] = 1.0f;                 /* cx = 8 + 1*0.1*128 = 20.8 */
    loc[4 * 33 + 2] = logf(0.5f) / 0.2f;    /* w = 128 * 0.5 = 64 */
    lm[10 * 33 + 1] = -0.5f;                /* eye y = 8 - 0.5*0.1*128 = 1.6 */
    vis_face *f;
    size_t n;
    CHECK_EQ_INT(vis_decode(VIS_DET_RETINAFACE, t, 3, 32, 32, 0.5f, &f, &n), UT_OK);
    CHECK_EQ_INT(n, 1);
    CHECK(NEAR(f[0].x1, 20.8f - 32) && NEAR(f[0].x2, 20.8f + 32));
    CHECK(NEAR(f[0].y1, 8 - 64) && NEAR(f[0].y2, 8 + 64));
    CHECK(NEAR(f[0].kps[0][1], 1.6f));
    ut_free(f);
    ut_free(loc);
    ut_free(conf);
    ut_free(lm);
}

TEST(rfb320_and_blazeface) {
    float scores[3 * 2] = {0.9f, 0.1f, 0.2f, 0.8f, 0.4f, 0.6f};
    float boxes[3 * 4] = {0, 0, 1, 1, 0.25f, 0.5f, 0.5f, 1.0f, 0, 0, 0.1f, 0.1f};
    vis_tensor t[2] = {tensor("scores", scores, 3, 2), tensor("boxes", boxes, 3, 4)};
    vis_face *f;
    size_t n;
    CHECK_EQ_INT(vis_decode(VIS_DET_RFB320, t, 2, 320, 240, 0.7f, &f, &n), UT_OK);
    CHECK_EQ_INT(n, 1);
    CHECK(NEAR(f[0].x1, 80) && NEAR(f[0].y1, 120) && NEAR(f[0].x2, 160) && NEAR(f[0].y2, 240));
    CHECK_EQ_INT(f[0].nkps, 0);
    ut_free(f);

    float *s0 = ut_calloc(512, sizeof(float)), *s1 = ut_calloc(384, sizeof(float));
    float *r0 = ut_calloc(512 * 16, sizeof(float)), *r1 = ut_calloc(384 * 16, sizeof(float));
    for (int i = 0; i < 512; i++) s0[i] = -10;
    for (int i = 0; i < 384; i++) s1[i] = -10;
    /* 8x8 grid, 6 anchors per cell: anchor 6*9+2 = cell 9 (row 1, col 1): centre (48, 48) */
    s1[56] = 2.0f;
    float *r = r1 + 16 * 56;
    r[0] = 2; r[1] = -2; r[2] = 40; r[3] = 50; r[4] = -10; r[5] = -8;
    vis_tensor b[4] = {tensor("Identity:0", s0, 512, 1), tensor("Identity_1:0", s1, 384, 1),
                       tensor("Identity_2:0", r0, 512, 16), tensor("Identity_3:0", r1, 384, 16)};
    CHECK_EQ_INT(vis_decode(VIS_DET_BLAZEFACE, b, 4, 256, 256, 0.5f, &f, &n), UT_OK);
    CHECK_EQ_INT(n, 1);
    CHECK(NEAR(f[0].score, 1 / (1 + expf(-2))));
    CHECK(NEAR(f[0].x1, 30) && NEAR(f[0].x2, 70) && NEAR(f[0].y1, 21) && NEAR(f[0].y2, 71));
    CHECK(NEAR(f[0].kps[0][0], 38) && NEAR(f[0].kps[0][1], 40));
    CHECK_EQ_INT(f[0].nkps, 4);
    ut_free(f);
    ut_free(s0); ut_free(s1); ut_free(r0); ut_free(r1);
}

TEST(nan_scores_are_not_faces) {
    float scores[2] = {0.0f, NAN};
    float boxes[4] = {0, 0, 1, 1};
    vis_tensor t[2] = {tensor("scores", scores, 1, 2), tensor("boxes", boxes, 1, 4)};
    vis_face *f;
    size_t n;
    CHECK_EQ_INT(vis_decode(VIS_DET_RFB320, t, 2, 320, 240, 0.5f, &f, &n), UT_OK);
    CHECK_EQ_INT(n, 0);
}

TEST(manifests) {
    CHECK_EQ_INT(vis_det_find("scrfd"), VIS_DET_SCRFD);
    CHECK_EQ_INT(vis_det_find("nope"), VIS_DET_COUNT);
    const vis_det_info *y = vis_det_get(VIS_DET_YUNET);
    CHECK_EQ_INT(y->in_w, 640);
    CHECK_EQ_INT(y->colour, VIS_BGR);
    CHECK(vis_det_get(VIS_DET_COUNT) == NULL);
}

int main(int argc, char **argv) { return test_main(argc, argv); }

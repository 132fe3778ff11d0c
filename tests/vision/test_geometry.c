/* NMS, letterbox mapping, similarity alignment, 68 -> 5 landmarks. */
#include "test.h"
#include "util.h"
#include "vision.h"

#include <math.h>

static vis_face box(float x1, float y1, float x2, float y2, float score) {
    vis_face f = {x1, y1, x2, y2, score, {{0}}, 0};
    return f;
}

TEST(nms_keeps_best_of_overlaps) {
    vis_face f[5] = {
        box(0, 0, 10, 10, 0.6f), box(1, 1, 11, 11, 0.9f),  /* IoU 0.68 with the first */
        box(20, 20, 30, 30, 0.7f), box(0, 0, 10, 5, 0.8f), /* IoU 0.5 with the first */
        box(100, 100, 100, 100, 0.95f),                    /* empty box: IoU 0 with all */
    };
    size_t n = vis_nms(f, 5, 0.4f);
    CHECK_EQ_INT(n, 4);
    CHECK(f[0].score == 0.95f && f[1].score == 0.9f && f[2].score == 0.8f && f[3].score == 0.7f);
    CHECK_EQ_INT(vis_nms(f, 0, 0.4f), 0);
    CHECK_EQ_INT(vis_nms(NULL, 0, 0.4f), 0); /* no faces: decoders return NULL */
    CHECK_EQ_INT(vis_drop_contained(NULL, 0, 0.8f), 0);
}

/* A stray box on an eye of a close-up (as RFB-320 gives on bbt/amy2.png)
 * lies inside the face: IoU NMS keeps it, containment drops it. A
 * neighbour that only partly overlaps stays. */
TEST(contained_boxes_are_not_faces) {
    vis_face f[3] = {box(13, 0, 150, 149, 1.0f), box(91, 38, 124, 60, 0.94f), box(120, 20, 220, 150, 0.9f)};
    size_t n = vis_nms(f, 3, 0.4f);
    CHECK_EQ_INT(n, 3);
    n = vis_drop_contained(f, n, 0.8f);
    CHECK_EQ_INT(n, 2);
    CHECK(f[0].score == 1.0f && f[1].score == 0.9f);
}

TEST(letterbox_round_trip) {
    vis_letterbox lb = vis_letterbox_fit(1280, 960, 640, 640);
    CHECK(fabsf(lb.scale - 0.5f) < 1e-6f);
    vis_face f = box(100, 50, 300, 250, 1);
    f.nkps = 5;
    f.kps[2][0] = 200;
    f.kps[2][1] = 150;
    vis_faces_unletterbox(&f, 1, &lb);
    CHECK(f.x1 == 200 && f.y1 == 100 && f.x2 == 600 && f.y2 == 500);
    CHECK(f.kps[2][0] == 400 && f.kps[2][1] == 300);
    /* Boxes reaching into the padding are clamped to the photo. */
    vis_face g = box(-10, 400, 700, 600, 1);
    vis_faces_unletterbox(&g, 1, &lb);
    CHECK(g.x1 == 0 && g.x2 == 1280 && g.y2 == 960);
    vis_face h[2] = {box(0, 0, 10, 40, 1), box(0, 0, 40, 40, 1)};
    CHECK_EQ_INT(vis_faces_min_size(h, 2, 20), 1);
    CHECK(h[0].x2 == 40);
}

static double sq_error(const double M[6], const float (*s)[2], const float (*d)[2], int n) {
    double e = 0;
    for (int i = 0; i < n; i++) {
        double x = M[0] * s[i][0] + M[1] * s[i][1] + M[2] - d[i][0];
        double y = M[3] * s[i][0] + M[4] * s[i][1] + M[5] - d[i][1];
        e += x * x + y * y;
    }
    return e;
}

TEST(similarity_recovers_known_transform) {
    float src[5][2] = {{10, 20}, {50, 22}, {30, 40}, {15, 60}, {45, 61}}, dst[5][2];
    double th = 0.5, sc = 1.7, tx = -12, ty = 33;
    for (int i = 0; i < 5; i++) {
        dst[i][0] = (float)(sc * (cos(th) * src[i][0] - sin(th) * src[i][1]) + tx);
        dst[i][1] = (float)(sc * (sin(th) * src[i][0] + cos(th) * src[i][1]) + ty);
    }
    double M[6];
    CHECK_EQ_INT(vis_similarity((const float (*)[2])src, (const float (*)[2])dst, 5, M), UT_OK);
    CHECK(fabs(M[0] - sc * cos(th)) < 1e-4 && fabs(M[3] - sc * sin(th)) < 1e-4);
    CHECK(fabs(M[2] - tx) < 1e-3 && fabs(M[5] - ty) < 1e-3);
    double inv[6], id[6];
    CHECK_EQ_INT(vis_affine_invert(M, inv), UT_OK);
    id[0] = M[0] * inv[0] + M[1] * inv[3];
    id[1] = M[0] * inv[1] + M[1] * inv[4];
    CHECK(fabs(id[0] - 1) < 1e-9 && fabs(id[1]) < 1e-9);
}

/* With noisy and even mirrored points the result must be the least-squares
 * optimum among similarities: every small perturbation of its four degrees
 * of freedom (a, b, tx, ty) raises the error. */
TEST(similarity_is_least_squares_optimum) {
    float src[5][2] = {{38, 51}, {73, 52}, {56, 72}, {41, 92}, {71, 92}};
    float mirrored[5][2];
    for (int i = 0; i < 5; i++) { mirrored[i][0] = 200 - src[i][0]; mirrored[i][1] = src[i][1] + (i % 2) * 3; }
    double M[6];
    CHECK_EQ_INT(vis_similarity((const float (*)[2])mirrored, (const float (*)[2])src, 5, M), UT_OK);
    CHECK(fabs(M[0] - M[4]) < 1e-12 && fabs(M[1] + M[3]) < 1e-12); /* a proper similarity */
    double best = sq_error(M, (const float (*)[2])mirrored, (const float (*)[2])src, 5);
    for (int k = 0; k < 4; k++)
        for (int sgn = -1; sgn <= 1; sgn += 2) {
            double P[6] = {M[0], M[1], M[2], M[3], M[4], M[5]};
            double eps = sgn * (k < 2 ? 1e-4 : 1e-2);
            if (k == 0) { P[0] += eps; P[4] += eps; }
            if (k == 1) { P[3] += eps; P[1] -= eps; }
            if (k == 2) P[2] += eps;
            if (k == 3) P[5] += eps;
            CHECK(sq_error(P, (const float (*)[2])mirrored, (const float (*)[2])src, 5) > best);
        }
}

TEST(similarity_degenerate) {
    float same[3][2] = {{5, 5}, {5, 5}, {5, 5}};
    double M[6];
    CHECK_EQ_INT(vis_similarity((const float (*)[2])same, (const float (*)[2])same, 3, M), UT_EINVAL);
    CHECK_EQ_INT(vis_similarity((const float (*)[2])same, (const float (*)[2])same, 1, M), UT_EINVAL);
}

TEST(align_to_template) {
    /* A face whose keypoints are the template itself, scaled by 2 and
     * shifted, must map back onto the template exactly. */
    vis_face f = box(0, 0, 1, 1, 1);
    f.nkps = 5;
    for (int p = 0; p < 5; p++) {
        f.kps[p][0] = vis_arcface_112[p][0] * 2 + 100;
        f.kps[p][1] = vis_arcface_112[p][1] * 2 + 7;
    }
    double M[6];
    CHECK_EQ_INT(vis_align_transform(&f, 112, M), UT_OK);
    CHECK(fabs(M[0] - 0.5) < 1e-6 && fabs(M[1]) < 1e-6 && fabs(M[2] + 50) < 1e-4 && fabs(M[5] + 3.5) < 1e-4);
    CHECK_EQ_INT(vis_align_transform(&f, 224, M), UT_OK);
    CHECK(fabs(M[0] - 1.0) < 1e-6);
    f.nkps = 0;
    CHECK_EQ_INT(vis_align_transform(&f, 112, M), UT_EINVAL);
}

TEST(lm68_to_5) {
    float pts[68][2] = {{0}};
    for (int i = 0; i < 68; i++) { pts[i][0] = (float)i; pts[i][1] = (float)(2 * i); }
    float out[5][2];
    vis_lm68_to_5(pts, out);
    CHECK(out[0][0] == 39.0f && out[1][0] == 45.0f && out[2][0] == 30.0f);
    CHECK(out[3][0] == 54.0f && out[4][0] == 59.0f && out[4][1] == 118.0f);
}

int main(int argc, char **argv) { return test_main(argc, argv); }

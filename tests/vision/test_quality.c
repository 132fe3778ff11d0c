/* Face quality measures: pose from keypoints, sharpness, limits. */
#include "test.h"
#include "util.h"
#include "vision.h"

#include <math.h>
#include <stdlib.h>

static vis_face template_face(float scale) {
    vis_face f = {0, 0, 112 * scale, 112 * scale, 1, {{0}}, 5};
    for (int p = 0; p < 5; p++) {
        f.kps[p][0] = vis_arcface_112[p][0] * scale;
        f.kps[p][1] = vis_arcface_112[p][1] * scale;
    }
    return f;
}

TEST(frontal_face_is_frontal) {
    vis_face f = template_face(2);
    vis_quality q;
    vis_quality_geometry(&f, &q);
    CHECK(q.size == 224);
    CHECK(q.yaw < 0.02f);
    CHECK(q.roll < 0.5f);
    CHECK(q.pitch < 0.1f);
}

TEST(turned_and_tilted_faces_measure_more) {
    vis_face f = template_face(1);
    f.kps[2][0] += 15; /* nose moves sideways: head turned */
    vis_quality q;
    vis_quality_geometry(&f, &q);
    CHECK(q.yaw > 0.4f);
    /* Rotating the whole face changes roll but not yaw or pitch. */
    vis_face r = template_face(1);
    float c = cosf(0.5f), s = sinf(0.5f);
    for (int p = 0; p < 5; p++) {
        float x = r.kps[p][0], y = r.kps[p][1];
        r.kps[p][0] = c * x - s * y;
        r.kps[p][1] = s * x + c * y;
    }
    vis_quality qr, q0;
    vis_quality_geometry(&r, &qr);
    vis_face f0 = template_face(1);
    vis_quality_geometry(&f0, &q0);
    /* The template's own eye line is tilted by atan2(-0.195, 35.24). */
    float tilt = atan2f(vis_arcface_112[1][1] - vis_arcface_112[0][1], vis_arcface_112[1][0] - vis_arcface_112[0][0]);
    CHECK(fabsf(qr.roll - (0.5f + tilt) * 180 / (float)M_PI) < 0.01f);
    CHECK(fabsf(qr.yaw - q0.yaw) < 1e-4f && fabsf(qr.pitch - q0.pitch) < 1e-4f);
}

TEST(blur_ranks_sharp_above_smooth) {
    enum { W = 32 };
    uint8_t sharp[W * W * 3], smooth[W * W * 3];
    for (int y = 0; y < W; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 3; c++) {
                sharp[(y * W + x) * 3 + c] = ((x / 2 + y / 2) % 2) ? 220 : 30;
                smooth[(y * W + x) * 3 + c] = (uint8_t)(x * 4 + y * 2);
            }
    float bs = vis_quality_blur(sharp, W, W, W * 3, 3), bm = vis_quality_blur(smooth, W, W, W * 3, 3);
    CHECK(bs > 1000);
    CHECK(bm < 1); /* a linear ramp has zero Laplacian */
    CHECK(vis_quality_blur(sharp, 2, 2, 6, 3) == 0);
}

TEST(limits) {
    vis_quality q = {.size = 30, .blur = 50, .yaw = 0.3f, .roll = 5, .pitch = 0.1f};
    vis_quality_limits none = {0}, strict = {.min_size = 40}, pose = {.max_yaw = 0.2f};
    const char *why;
    CHECK(vis_quality_pass(&q, &none, &why) && why == NULL);
    CHECK(!vis_quality_pass(&q, &strict, &why));
    CHECK_EQ_STR(why, "size");
    CHECK(!vis_quality_pass(&q, &pose, &why));
    CHECK_EQ_STR(why, "yaw");
}

TEST(l2_normalize) {
    float v[3] = {3, 0, 4}, z[3] = {0, 0, 0}, bad[2] = {NAN, 1};
    CHECK_EQ_INT(vis_l2_normalize(v, 3), UT_OK);
    CHECK(fabsf(v[0] - 0.6f) < 1e-6f && fabsf(v[2] - 0.8f) < 1e-6f);
    CHECK_EQ_INT(vis_l2_normalize(z, 3), UT_EINVAL);
    CHECK_EQ_INT(vis_l2_normalize(bad, 2), UT_EINVAL);
}

int main(int argc, char **argv) { return test_main(argc, argv); }

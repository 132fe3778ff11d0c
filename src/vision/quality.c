/* quality.c -- face quality measures: size, sharpness, head pose.
 *
 * Pose comes from the five keypoints alone (no extra model): for a frontal
 * face the nose tip lies on the perpendicular bisector of the eyes, and the
 * nose sits about half-way from the eye line to the mouth line. The
 * measures are rough but monotone, which is all a threshold needs. */
#include "vision_int.h"

#include <math.h>

void vis_quality_geometry(const vis_face *f, vis_quality *q) {
    float w = f->x2 - f->x1, h = f->y2 - f->y1;
    q->size = w < h ? w : h;
    q->yaw = q->roll = q->pitch = 0;
    q->blur = 0;
    if (f->nkps < 4) return;
    float ex = f->kps[1][0] - f->kps[0][0], ey = f->kps[1][1] - f->kps[0][1];
    float eye_dist = sqrtf(ex * ex + ey * ey);
    if (eye_dist < 1e-6f) return;
    float ux = ex / eye_dist, uy = ey / eye_dist; /* along the eye line */
    float mx = (f->kps[0][0] + f->kps[1][0]) / 2, my = (f->kps[0][1] + f->kps[1][1]) / 2;
    float nx = f->kps[2][0] - mx, ny = f->kps[2][1] - my;
    q->yaw = fabsf(nx * ux + ny * uy) / eye_dist;
    q->roll = fabsf(atan2f(ey, ex)) * 180.0f / (float)M_PI;
    float mouth_x = f->nkps == 5 ? (f->kps[3][0] + f->kps[4][0]) / 2 : f->kps[3][0];
    float mouth_y = f->nkps == 5 ? (f->kps[3][1] + f->kps[4][1]) / 2 : f->kps[3][1];
    /* Heights measured perpendicular to the eye line. */
    float nose_h = -nx * uy + ny * ux;
    float mouth_h = -(mouth_x - mx) * uy + (mouth_y - my) * ux;
    q->pitch = fabsf(mouth_h) > 1e-6f ? fabsf(nose_h / mouth_h - 0.5f) : 1.0f;
}

float vis_quality_blur(const uint8_t *px, int w, int h, int stride, int channels) {
    if (w < 3 || h < 3) return 0;
    double sum = 0, sum2 = 0;
    long n = 0;
#define GREY(x, y)                                                                            \
    (channels == 1 ? px[(y) * stride + (x)]                                                   \
                   : (0.299f * px[(y) * stride + 3 * (x)] + 0.587f * px[(y) * stride + 3 * (x) + 1] + \
                      0.114f * px[(y) * stride + 3 * (x) + 2]))
    for (int y = 1; y < h - 1; y++)
        for (int x = 1; x < w - 1; x++) {
            double lap = (double)GREY(x - 1, y) + GREY(x + 1, y) + GREY(x, y - 1) + GREY(x, y + 1) - 4.0 * GREY(x, y);
            sum += lap;
            sum2 += lap * lap;
            n++;
        }
#undef GREY
    double mean = sum / (double)n;
    return (float)(sum2 / (double)n - mean * mean);
}

int vis_quality_pass(const vis_quality *q, const vis_quality_limits *lim, const char **why) {
    const char *fail = NULL;
    if (lim->min_size > 0 && q->size < lim->min_size) fail = "size";
    else if (lim->min_blur > 0 && q->blur < lim->min_blur) fail = "blur";
    else if (lim->max_yaw > 0 && q->yaw > lim->max_yaw) fail = "yaw";
    else if (lim->max_roll > 0 && q->roll > lim->max_roll) fail = "roll";
    else if (lim->max_pitch > 0 && q->pitch > lim->max_pitch) fail = "pitch";
    if (why) *why = fail;
    return fail == NULL;
}

int vis_l2_normalize(float *v, size_t n) {
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (double)v[i] * v[i];
    if (!(ss > 1e-24) || !isfinite(ss)) return ut_fail(UT_EINVAL, "embedding is zero or not finite");
    float inv = (float)(1.0 / sqrt(ss));
    for (size_t i = 0; i < n; i++) v[i] *= inv;
    return UT_OK;
}

/* align.c -- similarity transforms onto the ArcFace template.
 *
 * In 2-D the least-squares similarity (Umeyama 1991, as used by
 * InsightFace's norm_crop through skimage) has a closed form: with centred
 * points, a = sum(s.d), b = sum(s x d), var = sum |s|^2, the rotation-scale
 * is [[a, -b], [b, a]] / var. This equals Umeyama's SVD solution including
 * its reflection correction, without an SVD. */
#include "vision_int.h"

#include <math.h>

const float vis_arcface_112[5][2] = {
    {38.2946f, 51.6963f}, {73.5318f, 51.5014f}, {56.0252f, 71.7366f},
    {41.5493f, 92.3655f}, {70.7299f, 92.2041f},
};

int vis_similarity(const float (*src)[2], const float (*dst)[2], int n, double M[6]) {
    if (n < 2) return ut_fail(UT_EINVAL, "similarity needs at least 2 points, got %d", n);
    double msx = 0, msy = 0, mdx = 0, mdy = 0;
    for (int i = 0; i < n; i++) {
        msx += src[i][0]; msy += src[i][1];
        mdx += dst[i][0]; mdy += dst[i][1];
    }
    msx /= n; msy /= n; mdx /= n; mdy /= n;
    double a = 0, b = 0, var = 0;
    for (int i = 0; i < n; i++) {
        double sx = src[i][0] - msx, sy = src[i][1] - msy;
        double dx = dst[i][0] - mdx, dy = dst[i][1] - mdy;
        a += sx * dx + sy * dy;
        b += sx * dy - sy * dx;
        var += sx * sx + sy * sy;
    }
    if (!(var > 1e-12) || !isfinite(a) || !isfinite(b))
        return ut_fail(UT_EINVAL, "similarity of coincident or non-finite points");
    double c = a / var, s = b / var;
    M[0] = c; M[1] = -s; M[2] = mdx - (c * msx - s * msy);
    M[3] = s; M[4] = c;  M[5] = mdy - (s * msx + c * msy);
    return UT_OK;
}

int vis_align_transform(const vis_face *face, int size, double M[6]) {
    float tmpl[5][2];
    float k = (float)size / 112.0f;
    for (int p = 0; p < 5; p++) {
        tmpl[p][0] = vis_arcface_112[p][0] * k;
        tmpl[p][1] = vis_arcface_112[p][1] * k;
    }
    if (face->nkps == 4) { /* BlazeFace: mouth centre */
        tmpl[3][0] = (tmpl[3][0] + tmpl[4][0]) / 2;
        tmpl[3][1] = (tmpl[3][1] + tmpl[4][1]) / 2;
    } else if (face->nkps != 5) {
        return ut_fail(UT_EINVAL, "face has %d keypoints; alignment needs 4 or 5", face->nkps);
    }
    return vis_similarity((const float (*)[2])face->kps, (const float (*)[2])tmpl, face->nkps, M);
}

int vis_affine_invert(const double M[6], double inv[6]) {
    double det = M[0] * M[4] - M[1] * M[3];
    if (fabs(det) < 1e-12) return ut_fail(UT_EINVAL, "singular affine transform");
    inv[0] = M[4] / det;
    inv[1] = -M[1] / det;
    inv[3] = -M[3] / det;
    inv[4] = M[0] / det;
    inv[2] = -(inv[0] * M[2] + inv[1] * M[5]);
    inv[5] = -(inv[3] * M[2] + inv[4] * M[5]);
    return UT_OK;
}

static void mean_of(const float pts[68][2], const int *idx, int n, float out[2]) {
    out[0] = out[1] = 0;
    for (int i = 0; i < n; i++) {
        out[0] += pts[idx[i]][0] / (float)n;
        out[1] += pts[idx[i]][1] / (float)n;
    }
}

void vis_lm68_to_5(const float pts[68][2], float out[5][2]) {
    static const int left_eye[4] = {37, 38, 40, 41}, right_eye[4] = {43, 44, 46, 47};
    static const int nose[1] = {30}, mouth_l[2] = {48, 60}, mouth_r[2] = {54, 64};
    mean_of(pts, left_eye, 4, out[0]);
    mean_of(pts, right_eye, 4, out[1]);
    mean_of(pts, nose, 1, out[2]);
    mean_of(pts, mouth_l, 2, out[3]);
    mean_of(pts, mouth_r, 2, out[4]);
}

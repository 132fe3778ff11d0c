/* decode.c -- from detector outputs to faces in model-input pixels.
 *
 * One function per detector family. Each follows its reference decoder
 * (OpenCV FaceDetectorYN for YuNet, InsightFace scrfd.py for SCRFD, the
 * Pytorch_Retinaface prior boxes, Ultra-Light-Fast RFB-320's pre-decoded
 * corners, MediaPipe TensorsToDetections for BlazeFace) and checks every
 * output's shape before reading it: these tensors come from user-supplied
 * model files. */
#include "vision_int.h"

#include <math.h>

static int missing(const char *det, const char *what) {
    return ut_fail(UT_EFORMAT, "%s detector: output %s missing or of unexpected shape", det, what);
}

static float clamp01(float v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

/* YuNet: per stride, cls/obj scores, bbox (dx, dy, log w, log h) and kps
 * (dx, dy) x5 relative to the grid cell, in stride units. */
int vis__decode_yunet(const vis_tensor *o, int n, int w, int h, float thr, vis__faces *out) {
    static const int strides[3] = {8, 16, 32};
    for (int s = 0; s < 3; s++) {
        int st = strides[s], cols = w / st, rows = h / st;
        char name[4][16];
        snprintf(name[0], 16, "cls_%d", st);
        snprintf(name[1], 16, "obj_%d", st);
        snprintf(name[2], 16, "bbox_%d", st);
        snprintf(name[3], 16, "kps_%d", st);
        const vis_tensor *cls = vis__by_name(o, n, name[0]), *obj = vis__by_name(o, n, name[1]);
        const vis_tensor *bb = vis__by_name(o, n, name[2]), *kp = vis__by_name(o, n, name[3]);
        int64_t cells = (int64_t)cols * rows;
        for (int i = 0; i < 4; i++) {
            const vis_tensor *t = i == 0 ? cls : i == 1 ? obj : i == 2 ? bb : kp;
            int64_t last = i < 2 ? 1 : i == 2 ? 4 : 10;
            if (!t || vis__rows(t) != cells || t->shape[t->ndim - 1] != last) return missing("yunet", name[i]);
        }
        for (int64_t i = 0; i < cells; i++) {
            float score = sqrtf(clamp01(cls->data[i]) * clamp01(obj->data[i]));
            if (!(score >= thr)) continue;
            const float *b = bb->data + 4 * i, *k = kp->data + 10 * i;
            float c = (float)(i % cols), r = (float)(i / cols);
            float cx = (c + b[0]) * st, cy = (r + b[1]) * st;
            float bw = expf(b[2]) * st, bh = expf(b[3]) * st;
            vis_face f = {cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2, score, {{0}}, 5};
            for (int p = 0; p < 5; p++) {
                f.kps[p][0] = (k[2 * p] + c) * st;
                f.kps[p][1] = (k[2 * p + 1] + r) * st;
            }
            if (vis__faces_push(out, &f)) return UT_ENOMEM;
        }
    }
    return UT_OK;
}

/* SCRFD: two anchors per cell; bbox = distances (l, t, r, b) from the cell
 * corner in stride units, kps likewise. Outputs are found by shape because
 * exports name them differently. */
int vis__decode_scrfd(const vis_tensor *o, int n, int w, int h, float thr, vis__faces *out) {
    static const int strides[3] = {8, 16, 32};
    for (int s = 0; s < 3; s++) {
        int st = strides[s], cols = w / st, rows = h / st;
        int64_t anchors = (int64_t)cols * rows * 2;
        const vis_tensor *sc = vis__by_shape(o, n, anchors, 1);
        const vis_tensor *bb = vis__by_shape(o, n, anchors, 4);
        const vis_tensor *kp = vis__by_shape(o, n, anchors, 10);
        if (!sc) return missing("scrfd", "scores");
        if (!bb) return missing("scrfd", "boxes");
        for (int64_t a = 0; a < anchors; a++) {
            float score = sc->data[a];
            if (!(score >= thr)) continue;
            int64_t cell = a / 2;
            float cx = (float)(cell % cols) * st, cy = (float)(cell / cols) * st;
            const float *b = bb->data + 4 * a;
            vis_face f = {cx - b[0] * st, cy - b[1] * st, cx + b[2] * st, cy + b[3] * st, score, {{0}}, kp ? 5 : 0};
            for (int p = 0; kp && p < 5; p++) {
                f.kps[p][0] = cx + kp->data[10 * a + 2 * p] * st;
                f.kps[p][1] = cy + kp->data[10 * a + 2 * p + 1] * st;
            }
            if (vis__faces_push(out, &f)) return UT_ENOMEM;
        }
    }
    return UT_OK;
}

/* RetinaFace (MobileNet-0.25): SSD prior boxes, variances 0.1 / 0.2. */
int vis__decode_retinaface(const vis_tensor *o, int n, int w, int h, float thr, vis__faces *out) {
    static const int steps[3] = {8, 16, 32}, min_sizes[3][2] = {{16, 32}, {64, 128}, {256, 512}};
    int64_t priors = 0;
    for (int s = 0; s < 3; s++) priors += (int64_t)((h + steps[s] - 1) / steps[s]) * ((w + steps[s] - 1) / steps[s]) * 2;
    const vis_tensor *loc = vis__by_shape(o, n, priors, 4);
    const vis_tensor *conf = vis__by_shape(o, n, priors, 2);
    const vis_tensor *lm = vis__by_shape(o, n, priors, 10);
    if (!loc) return missing("retinaface", "boxes");
    if (!conf) return missing("retinaface", "scores");
    int64_t a = 0;
    for (int s = 0; s < 3; s++) {
        int st = steps[s], rows = (h + st - 1) / st, cols = (w + st - 1) / st;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                for (int m = 0; m < 2; m++, a++) {
                    float score = conf->data[2 * a + 1];
                    if (!(score >= thr)) continue;
                    float pcx = (c + 0.5f) * st, pcy = (r + 0.5f) * st, ps = (float)min_sizes[s][m];
                    const float *l = loc->data + 4 * a;
                    float cx = pcx + l[0] * 0.1f * ps, cy = pcy + l[1] * 0.1f * ps;
                    float bw = ps * expf(l[2] * 0.2f), bh = ps * expf(l[3] * 0.2f);
                    vis_face f = {cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2, score, {{0}}, lm ? 5 : 0};
                    for (int p = 0; lm && p < 5; p++) {
                        f.kps[p][0] = pcx + lm->data[10 * a + 2 * p] * 0.1f * ps;
                        f.kps[p][1] = pcy + lm->data[10 * a + 2 * p + 1] * 0.1f * ps;
                    }
                    if (vis__faces_push(out, &f)) return UT_ENOMEM;
                }
    }
    return UT_OK;
}

/* RFB-320: boxes already decoded to corners normalised to [0, 1]; scores
 * are (background, face) softmax pairs. No keypoints. */
int vis__decode_rfb320(const vis_tensor *o, int n, int w, int h, float thr, vis__faces *out) {
    const vis_tensor *sc = vis__by_name(o, n, "scores"), *bx = vis__by_name(o, n, "boxes");
    if (!sc || sc->shape[sc->ndim - 1] != 2) return missing("rfb320", "scores");
    if (!bx || bx->shape[bx->ndim - 1] != 4 || vis__rows(bx) != vis__rows(sc)) return missing("rfb320", "boxes");
    for (int64_t i = 0; i < vis__rows(sc); i++) {
        float score = sc->data[2 * i + 1];
        if (!(score >= thr)) continue;
        const float *b = bx->data + 4 * i;
        vis_face f = {b[0] * w, b[1] * h, b[2] * w, b[3] * h, score, {{0}}, 0};
        if (vis__faces_push(out, &f)) return UT_ENOMEM;
    }
    return UT_OK;
}

/* BlazeFace (MediaPipe "back", 256): 896 fixed-size anchors, 16x16x2 then
 * 8x8x6; regressors (dx, dy, w, h, then 6 keypoints) in input pixels;
 * scores are logits. We keep eyes, nose and mouth centre. */
int vis__decode_blazeface(const vis_tensor *o, int n, int w, int h, float thr, vis__faces *out) {
    static const int grids[2] = {16, 8}, per_cell[2] = {2, 6};
    static const char *score_names[2] = {"Identity:0", "Identity_1:0"};
    static const char *reg_names[2] = {"Identity_2:0", "Identity_3:0"};
    for (int g = 0; g < 2; g++) {
        int64_t anchors = (int64_t)grids[g] * grids[g] * per_cell[g];
        const vis_tensor *sc = vis__by_name(o, n, score_names[g]), *rg = vis__by_name(o, n, reg_names[g]);
        if (!sc || vis__rows(sc) != anchors) return missing("blazeface", score_names[g]);
        if (!rg || vis__rows(rg) != anchors || rg->shape[rg->ndim - 1] != 16) return missing("blazeface", reg_names[g]);
        for (int64_t a = 0; a < anchors; a++) {
            float logit = sc->data[a];
            logit = logit < -80 ? -80 : logit > 80 ? 80 : logit;
            float score = 1.0f / (1.0f + expf(-logit));
            if (!(score >= thr)) continue;
            int64_t cell = a / per_cell[g];
            float ax = ((float)(cell % grids[g]) + 0.5f) / grids[g] * w;
            float ay = ((float)(cell / grids[g]) + 0.5f) / grids[g] * h;
            const float *r = rg->data + 16 * a;
            float cx = ax + r[0], cy = ay + r[1];
            vis_face f = {cx - r[2] / 2, cy - r[3] / 2, cx + r[2] / 2, cy + r[3] / 2, score, {{0}}, 4};
            for (int p = 0; p < 4; p++) {
                f.kps[p][0] = ax + r[4 + 2 * p];
                f.kps[p][1] = ay + r[5 + 2 * p];
            }
            if (vis__faces_push(out, &f)) return UT_ENOMEM;
        }
    }
    return UT_OK;
}

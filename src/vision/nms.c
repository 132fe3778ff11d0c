/* nms.c -- non-maximum suppression and face-list filters. */
#include "vision_int.h"

#include <stdlib.h>

static int by_score_desc(const void *a, const void *b) {
    float sa = ((const vis_face *)a)->score, sb = ((const vis_face *)b)->score;
    return (sa < sb) - (sa > sb);
}

static float area(const vis_face *f) {
    float w = f->x2 - f->x1, h = f->y2 - f->y1;
    return (w > 0 ? w : 0) * (h > 0 ? h : 0);
}

static float intersection(const vis_face *a, const vis_face *b);

static float iou(const vis_face *a, const vis_face *b) {
    float inter = intersection(a, b);
    return inter / (area(a) + area(b) - inter + 1e-9f);
}

size_t vis_nms(vis_face *faces, size_t n, float thr) {
    if (n < 2) return n; /* also: faces may be NULL when n is 0, which qsort may not get */
    qsort(faces, n, sizeof *faces, by_score_desc);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        int keep = 1;
        for (size_t j = 0; j < kept && keep; j++) keep = iou(&faces[i], &faces[j]) <= thr;
        if (keep) faces[kept++] = faces[i];
    }
    return kept;
}

static float intersection(const vis_face *a, const vis_face *b) {
    float x1 = a->x1 > b->x1 ? a->x1 : b->x1, y1 = a->y1 > b->y1 ? a->y1 : b->y1;
    float x2 = a->x2 < b->x2 ? a->x2 : b->x2, y2 = a->y2 < b->y2 ? a->y2 : b->y2;
    return (x2 > x1 ? x2 - x1 : 0) * (y2 > y1 ? y2 - y1 : 0);
}

size_t vis_drop_contained(vis_face *faces, size_t n, float frac) {
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        int inside = 0;
        for (size_t j = 0; j < kept && !inside; j++) inside = intersection(&faces[i], &faces[j]) > frac * area(&faces[i]);
        if (!inside) faces[kept++] = faces[i];
    }
    return kept;
}

vis_letterbox vis_letterbox_fit(int src_w, int src_h, int dst_w, int dst_h) {
    float sx = (float)dst_w / (float)src_w, sy = (float)dst_h / (float)src_h;
    vis_letterbox lb = {sx < sy ? sx : sy, src_w, src_h, dst_w, dst_h};
    return lb;
}

static float clampf(float v, float hi) { return v < 0 ? 0 : v > hi ? hi : v; }

void vis_faces_unletterbox(vis_face *faces, size_t n, const vis_letterbox *lb) {
    float inv = 1.0f / lb->scale, W = (float)lb->src_w, H = (float)lb->src_h;
    for (size_t i = 0; i < n; i++) {
        vis_face *f = &faces[i];
        f->x1 = clampf(f->x1 * inv, W);
        f->y1 = clampf(f->y1 * inv, H);
        f->x2 = clampf(f->x2 * inv, W);
        f->y2 = clampf(f->y2 * inv, H);
        for (int p = 0; p < f->nkps; p++) {
            f->kps[p][0] *= inv;
            f->kps[p][1] *= inv;
        }
    }
}

size_t vis_faces_min_size(vis_face *faces, size_t n, float min_px) {
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        float w = faces[i].x2 - faces[i].x1, h = faces[i].y2 - faces[i].y1;
        if ((w < h ? w : h) >= min_px) faces[kept++] = faces[i];
    }
    return kept;
}

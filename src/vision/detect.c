/* detect.c -- detector manifests, output lookup and the decode dispatcher.
 *
 * The manifests record each detector's published contract (see the model
 * cards in shared/models/MODELS.md and the reference pipeline): the input
 * normalisation here must match the one the model was trained with, or
 * detection quietly degrades. */
#include "vision_int.h"

#include <string.h>

static const vis_det_info detectors[VIS_DET_COUNT] = {
    [VIS_DET_YUNET] = {"yunet", 640, 640, 1, 32, VIS_NCHW, VIS_BGR, {0, 0, 0}, {1, 1, 1}, 5},
    [VIS_DET_SCRFD] = {"scrfd", 640, 640, 1, 32, VIS_NCHW, VIS_RGB, {127.5f, 127.5f, 127.5f},
                       {128, 128, 128}, 5},
    [VIS_DET_RETINAFACE] = {"retinaface", 640, 640, 0, 32, VIS_NCHW, VIS_BGR, {104, 117, 123},
                            {1, 1, 1}, 5},
    [VIS_DET_RFB320] = {"rfb320", 320, 240, 0, 1, VIS_NCHW, VIS_RGB, {127, 127, 127}, {128, 128, 128}, 0},
    [VIS_DET_BLAZEFACE] = {"blazeface", 256, 256, 0, 1, VIS_NHWC, VIS_RGB, {127.5f, 127.5f, 127.5f},
                           {127.5f, 127.5f, 127.5f}, 4},
};

const vis_det_info *vis_det_get(vis_det_kind kind) {
    return kind >= 0 && kind < VIS_DET_COUNT ? &detectors[kind] : NULL;
}

vis_det_kind vis_det_find(const char *name) {
    for (int k = 0; k < VIS_DET_COUNT; k++)
        if (strcmp(detectors[k].name, name) == 0) return (vis_det_kind)k;
    return VIS_DET_COUNT;
}

int64_t vis__rows(const vis_tensor *t) {
    int64_t rows = 1;
    for (int i = 0; i + 1 < t->ndim; i++) rows *= t->shape[i];
    return rows;
}

const vis_tensor *vis__by_name(const vis_tensor *outs, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (outs[i].name && strcmp(outs[i].name, name) == 0) return &outs[i];
    return NULL;
}

const vis_tensor *vis__by_shape(const vis_tensor *outs, int n, int64_t rows, int64_t last) {
    for (int i = 0; i < n; i++)
        if (outs[i].ndim >= 2 && outs[i].shape[outs[i].ndim - 1] == last && vis__rows(&outs[i]) == rows)
            return &outs[i];
    return NULL;
}

int vis__faces_push(vis__faces *f, const vis_face *face) {
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        vis_face *v = ut_realloc(f->v, cap * sizeof *v);
        if (!v) return ut_fail(UT_ENOMEM, "out of memory decoding faces");
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n++] = *face;
    return UT_OK;
}

typedef int (*decode_fn)(const vis_tensor *, int, int, int, float, vis__faces *);

static const decode_fn decoders[VIS_DET_COUNT] = {
    [VIS_DET_YUNET] = vis__decode_yunet,
    [VIS_DET_SCRFD] = vis__decode_scrfd,
    [VIS_DET_RETINAFACE] = vis__decode_retinaface,
    [VIS_DET_RFB320] = vis__decode_rfb320,
    [VIS_DET_BLAZEFACE] = vis__decode_blazeface,
};

int vis_decode(vis_det_kind kind, const vis_tensor *outs, int nouts, int in_w, int in_h,
               float min_score, vis_face **faces, size_t *n) {
    *faces = NULL;
    *n = 0;
    if (kind < 0 || kind >= VIS_DET_COUNT) return ut_fail(UT_EINVAL, "unknown detector kind %d", kind);
    if (in_w <= 0 || in_h <= 0) return ut_fail(UT_EINVAL, "bad detector input size %dx%d", in_w, in_h);
    vis__faces f = {0};
    int rc = decoders[kind](outs, nouts, in_w, in_h, min_score, &f);
    if (rc) {
        ut_free(f.v);
        return rc;
    }
    *faces = f.v;
    *n = f.n;
    return UT_OK;
}

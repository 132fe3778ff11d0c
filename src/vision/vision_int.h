/* vision_int.h -- shared inside src/vision only. */
#ifndef KADR_VISION_INT_H
#define KADR_VISION_INT_H

#include "vision.h"
#include "util.h"

/* A growable array of faces. */
typedef struct {
    vis_face *v;
    size_t n, cap;
} vis__faces;

int vis__faces_push(vis__faces *f, const vis_face *face);

/* Output lookup: by exact name, or by (rows, last dim) for models whose
 * output names vary between exports (SCRFD). rows counts every leading
 * dimension except the last. NULL if absent. */
const vis_tensor *vis__by_name(const vis_tensor *outs, int n, const char *name);
const vis_tensor *vis__by_shape(const vis_tensor *outs, int n, int64_t rows, int64_t last);
int64_t vis__rows(const vis_tensor *t);

int vis__decode_yunet(const vis_tensor *o, int n, int w, int h, float thr, vis__faces *out);
int vis__decode_scrfd(const vis_tensor *o, int n, int w, int h, float thr, vis__faces *out);
int vis__decode_retinaface(const vis_tensor *o, int n, int w, int h, float thr, vis__faces *out);
int vis__decode_rfb320(const vis_tensor *o, int n, int w, int h, float thr, vis__faces *out);
int vis__decode_blazeface(const vis_tensor *o, int n, int w, int h, float thr, vis__faces *out);

#endif

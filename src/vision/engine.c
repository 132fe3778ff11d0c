/* engine.c -- the face engine: photo -> faces with embeddings.
 *
 * Per photo: one shrink-on-load decode for detection, decoding and NMS in
 * model pixels, mapping back to photo pixels, landmarks for detectors that
 * have no keypoints, quality measures, then one img_warp call that cuts
 * every aligned crop from the full-resolution photo, and the embedder.
 *
 * The engine owns models and plans (immutable after creation, shared by all
 * workers); a worker owns the inference contexts and scratch buffers, so
 * workers on different threads never share mutable state. */
#include "vision_int.h"

#include "img.h"
#include "nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LM_SIZE 64
#define CROP 112

/* Thresholds: mbf512's were chosen on lfw-dev with `kadr faces eval --pick
 * center --sweep`: at 0.60 BCubed F 0.9938 (precision 0.9993; one large
 * false merge appears from 0.64 on), 0.9951 with the attach pass at
 * 0.75/0.15, which also places the bearded and background faces of
 * bbt-groups; BGR beats RGB at every threshold. The other embedders use
 * the same values, not measured here. */
static const vis_emb_info embedders[] = {
    {"mbf512", VIS_BGR, 127.0f, 128.0f, 0.60f, 0.75f, 0.15f},   /* faceplugin fr_feature.onnx */
    {"mfn128", VIS_RGB, 127.5f, 127.5f, 0.60f, 0.75f, 0.15f},   /* MobileFaceNet-128 */
    {"arcface", VIS_RGB, 127.5f, 127.5f, 0.60f, 0.75f, 0.15f},  /* InsightFace w600k_r50 and kin */
};

const vis_emb_info *vis_emb_find(const char *name) {
    for (size_t i = 0; i < sizeof embedders / sizeof embedders[0]; i++)
        if (strcmp(embedders[i].name, name) == 0) return &embedders[i];
    return NULL;
}

typedef struct {
    nn_model *model;
    nn_plan *plan;
} stage;

struct vis_engine {
    vis_engine_opts opts;   /* its paths point at the copies below */
    char *det_path, *lm_path, *emb_path;
    const vis_det_info *det;
    const vis_emb_info *emb;
    int det_w, det_h;
    stage detect, landmarks, embed;
    int dim;
};

struct vis_worker {
    vis_engine *e;
    nn_ctx *det_ctx, *lm_ctx, *emb_ctx;
    float *det_in;   /* NHWC detectors need a converted input */
    float **det_out;
    float *lm_in, *lm_out;
    float *emb_in;
};

static void stage_free(stage *s) {
    nn_plan_free(s->plan);
    nn_model_free(s->model);
}

static int stage_open(stage *s, const char *path, const nn_shape *shape) {
    int rc = nn_model_open(path, &s->model);
    if (!rc) rc = nn_plan_create(s->model, shape, shape ? 1 : 0, 1, &s->plan);
    if (rc) ut_failf_wrap(rc, "%s", path);
    return rc;
}

/* Detector input size: fixed models say it in their input dims; dynamic
 * ones get det_size, rounded down to the model's alignment. */
static int detector_size(vis_engine *e, const nn_info *in) {
    int h_dim = e->det->layout == VIS_NHWC ? 1 : 2, w_dim = h_dim + 1;
    int size = e->opts.det_size > 0 ? e->opts.det_size : 640;
    size -= size % e->det->align;
    e->det_w = in->dims[w_dim] > 0 ? (int)in->dims[w_dim] : size;
    e->det_h = in->dims[h_dim] > 0 ? (int)in->dims[h_dim] : size;
    if (e->det_w < 32 || e->det_h < 32) return ut_fail(UT_EINVAL, "detector input %dx%d is too small", e->det_w, e->det_h);
    return UT_OK;
}

static int open_detector(vis_engine *e) {
    int rc = nn_model_open(e->opts.det_path, &e->detect.model);
    nn_info in;
    if (!rc && nn_model_ninputs(e->detect.model) != 1) rc = ut_fail(UT_EFORMAT, "detector must have one input");
    if (!rc) rc = nn_model_input(e->detect.model, 0, &in);
    if (!rc && in.rank != 4) rc = ut_fail(UT_EFORMAT, "detector input must be 4-D, is %d-D", in.rank);
    if (!rc) rc = detector_size(e, &in);
    if (rc) return ut_failf_wrap(rc, "%s", e->opts.det_path);
    nn_shape sh = {in.name, 4, {1, 3, e->det_h, e->det_w}};
    if (e->det->layout == VIS_NHWC) {
        sh.dims[1] = e->det_h;
        sh.dims[2] = e->det_w;
        sh.dims[3] = 3;
    }
    rc = nn_plan_create(e->detect.model, &sh, 1, 1, &e->detect.plan);
    return rc ? ut_failf_wrap(rc, "%s", e->opts.det_path) : UT_OK;
}

static int open_embedder(vis_engine *e) {
    int rc = stage_open(&e->embed, e->opts.emb_path, NULL);
    if (rc) return rc;
    nn_info in, out;
    nn_plan_input(e->embed.plan, 0, &in);
    nn_plan_output(e->embed.plan, 0, &out);
    if (in.rank != 4 || in.dims[1] != 3 || in.dims[2] != CROP || in.dims[3] != CROP)
        return ut_fail(UT_EFORMAT, "%s: embedder input must be 1x3x112x112", e->opts.emb_path);
    e->dim = (int)nn_plan_output_size(e->embed.plan, 0);
    if (e->dim < 16 || e->dim > 8192) return ut_fail(UT_EFORMAT, "%s: embedding size %d", e->opts.emb_path, e->dim);
    return UT_OK;
}

void vis_engine_free(vis_engine *e) {
    if (!e) return;
    stage_free(&e->detect);
    stage_free(&e->landmarks);
    stage_free(&e->embed);
    ut_free(e->det_path);
    ut_free(e->lm_path);
    ut_free(e->emb_path);
    ut_free(e);
}

int vis_engine_create(const vis_engine_opts *opts, vis_engine **out) {
    *out = NULL;
    const vis_det_info *det = vis_det_get(opts->detector);
    const vis_emb_info *emb = vis_emb_find(opts->embedder ? opts->embedder : "arcface");
    if (!det) return ut_fail(UT_EINVAL, "unknown detector");
    if (!opts->det_path || !opts->emb_path) return ut_fail(UT_EINVAL, "the face engine needs a detector and an embedder file");
    if (!emb) return ut_fail(UT_EINVAL, "unknown embedder conventions '%s'", opts->embedder);
    if (det->nkps == 0 && !opts->lm_path)
        return ut_fail(UT_EINVAL, "detector %s has no keypoints: a landmark model is needed", det->name);
    vis_engine *e = ut_calloc(1, sizeof *e);
    if (!e) return ut_fail(UT_ENOMEM, "out of memory");
    e->opts = *opts;
    /* Keep the paths: error messages name the files after creation. */
    e->opts.det_path = e->det_path = opts->det_path ? ut_strdup(opts->det_path) : NULL;
    e->opts.lm_path = e->lm_path = opts->lm_path ? ut_strdup(opts->lm_path) : NULL;
    e->opts.emb_path = e->emb_path = opts->emb_path ? ut_strdup(opts->emb_path) : NULL;
    if ((opts->det_path && !e->det_path) || (opts->lm_path && !e->lm_path) || (opts->emb_path && !e->emb_path)) {
        vis_engine_free(e);
        return ut_fail(UT_ENOMEM, "out of memory");
    }
    e->det = det;
    e->emb = emb;
    if (e->opts.min_score <= 0) e->opts.min_score = 0.5f;
    if (e->opts.nms_iou <= 0) e->opts.nms_iou = 0.4f;
    int rc = open_detector(e);
    if (!rc && det->nkps == 0) rc = stage_open(&e->landmarks, opts->lm_path, NULL);
    if (!rc) rc = open_embedder(e);
    if (rc) {
        vis_engine_free(e);
        return rc;
    }
    *out = e;
    return UT_OK;
}

int vis_engine_dim(const vis_engine *e) { return e->dim; }

const vis_emb_info *vis_engine_embedder(const vis_engine *e) { return e->emb; }

void vis_worker_free(vis_worker *w) {
    if (!w) return;
    nn_ctx_free(w->det_ctx);
    nn_ctx_free(w->lm_ctx);
    nn_ctx_free(w->emb_ctx);
    if (w->det_out)
        for (int i = 0; i < nn_plan_noutputs(w->e->detect.plan); i++) ut_free(w->det_out[i]);
    ut_free(w->det_out);
    ut_free(w->det_in);
    ut_free(w->lm_in);
    ut_free(w->lm_out);
    ut_free(w->emb_in);
    ut_free(w);
}

int vis_worker_create(vis_engine *e, int nthreads, vis_worker **out) {
    *out = NULL;
    vis_worker *w = ut_calloc(1, sizeof *w);
    if (!w) return ut_fail(UT_ENOMEM, "out of memory");
    w->e = e;
    int nout = nn_plan_noutputs(e->detect.plan), rc = UT_OK;
    w->det_out = ut_calloc((size_t)nout, sizeof *w->det_out);
    w->det_in = ut_malloc(nn_plan_input_size(e->detect.plan, 0) * sizeof(float));
    w->emb_in = ut_malloc(3 * CROP * CROP * sizeof(float));
    if (!w->det_out || !w->det_in || !w->emb_in) rc = ut_fail(UT_ENOMEM, "out of memory");
    for (int i = 0; !rc && i < nout; i++)
        if (!(w->det_out[i] = ut_malloc(nn_plan_output_size(e->detect.plan, i) * sizeof(float))))
            rc = ut_fail(UT_ENOMEM, "out of memory");
    if (!rc) rc = nn_ctx_create(e->detect.plan, nthreads, &w->det_ctx);
    if (!rc) rc = nn_ctx_create(e->embed.plan, nthreads, &w->emb_ctx);
    if (!rc && e->landmarks.plan) {
        rc = nn_ctx_create(e->landmarks.plan, nthreads, &w->lm_ctx);
        w->lm_in = ut_malloc(LM_SIZE * LM_SIZE * sizeof(float));
        w->lm_out = ut_malloc(nn_plan_output_size(e->landmarks.plan, 0) * sizeof(float));
        if (!rc && (!w->lm_in || !w->lm_out)) rc = ut_fail(UT_ENOMEM, "out of memory");
        if (!rc && nn_plan_output_size(e->landmarks.plan, 0) != 136)
            rc = ut_fail(UT_EFORMAT, "%s: landmark model must output 68 points", e->opts.lm_path);
    }
    if (rc) {
        vis_worker_free(w);
        return rc;
    }
    *out = w;
    return UT_OK;
}

/* Wrap the detector's outputs as the decoders see them. */
static int det_tensors(const vis_worker *w, vis_tensor *t, int max) {
    const nn_plan *p = w->e->detect.plan;
    int n = nn_plan_noutputs(p);
    if (n > max) return ut_fail(UT_EFORMAT, "detector has %d outputs, at most %d expected", n, max);
    for (int i = 0; i < n; i++) {
        nn_info info;
        nn_plan_output(p, i, &info);
        t[i].name = info.name;
        t[i].data = w->det_out[i];
        t[i].ndim = info.rank < 6 ? info.rank : 6;
        for (int d = 0; d < t[i].ndim; d++) t[i].shape[d] = info.dims[d];
    }
    return n;
}

/* 8-bit pixels (3 channels, in the detector's colour order) of a w x h
 * region -> the detector's input tensor in its layout, normalised. */
static void fill_input(const vis_engine *e, const uint8_t *px, int stride, float *in) {
    int W = e->det_w, H = e->det_h, nchw = e->det->layout == VIS_NCHW;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 3; c++) {
                float v = ((float)px[(size_t)y * stride + 3 * x + c] - e->det->mean[c]) / e->det->std[c];
                if (nchw) in[((size_t)c * H + y) * W + x] = v;
                else in[((size_t)y * W + x) * 3 + c] = v;
            }
}

/* Letterboxed input in the detector's layout; returns the coordinate map. */
static int det_input(vis_worker *w, img_photo *ph, const float **input, img_map *map, img_tensor *owned) {
    const vis_engine *e = w->e;
    img_load_opts lo = {.fit = IMG_FIT_LETTERBOX, .width = e->det_w, .height = e->det_h, .pad = 0,
                        .center = 0, .order = e->det->colour == VIS_BGR ? IMG_BGR : IMG_RGB, .upscale = 1};
    if (e->det->layout == VIS_NCHW) {
        int rc = img_load_tensor(ph, &lo, e->det->mean, e->det->std, owned);
        if (rc) return rc;
        *input = owned->data;
        *map = owned->map;
        return UT_OK;
    }
    img_pixels px;
    int rc = img_load(ph, &lo, &px);
    if (rc) return rc;
    fill_input(e, px.pixels, px.stride, w->det_in);
    *input = w->det_in;
    *map = px.map;
    img_pixels_free(&px);
    return UT_OK;
}

static void face_to_orig(vis_face *f, const img_map *m) {
    double x, y;
    img_to_orig(m, f->x1, f->y1, &x, &y);
    f->x1 = (float)(x < 0 ? 0 : x > m->orig_w ? m->orig_w : x);
    f->y1 = (float)(y < 0 ? 0 : y > m->orig_h ? m->orig_h : y);
    img_to_orig(m, f->x2, f->y2, &x, &y);
    f->x2 = (float)(x < 0 ? 0 : x > m->orig_w ? m->orig_w : x);
    f->y2 = (float)(y < 0 ? 0 : y > m->orig_h ? m->orig_h : y);
    for (int p = 0; p < f->nkps; p++) {
        img_to_orig(m, f->kps[p][0], f->kps[p][1], &x, &y);
        f->kps[p][0] = (float)x;
        f->kps[p][1] = (float)y;
    }
}

/* Run the detector on input and decode its faces (model pixels). */
static int run_detector(vis_worker *w, const float *input, vis_face **faces, size_t *n) {
    const vis_engine *e = w->e;
    vis_tensor t[16];
    int rc = nn_ctx_run(w->det_ctx, &input, w->det_out);
    int nt = rc ? 0 : det_tensors(w, t, 16);
    if (nt < 0) rc = nt;
    if (!rc) rc = vis_decode(e->opts.detector, t, nt, e->det_w, e->det_h, e->opts.min_score, faces, n);
    return rc;
}

static int append(vis__faces *all, const vis_face *f, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (vis__faces_push(all, &f[i])) return UT_ENOMEM;
    return UT_OK;
}

/* Tiled pass. A face needs about 20 model pixels to be found: 250 pixels of
 * a 4000-pixel photo seen whole by a 320-pixel detector. Photos this large
 * are also cut into overlapping tiles seen at TILE_ZOOM times the whole-photo
 * scale (all tiles in one img_warp call: one shrunk decode), so faces down to
 * about 100 pixels are found too. Square crops are cut; the detector reads
 * their top-left det_w x det_h. */
#define TILE_MIN_SIDE 2000
#define TILE_ZOOM 2.5
#define TILE_MAX 16
/* A tile cuts a face's surroundings away, and the detector is less sure
 * there: stray boxes on part of a face score 0.5-0.6 where whole small faces
 * score 0.9 and more. The tiled pass, which only adds what the whole-photo
 * pass missed, keeps confident faces only. */
#define TILE_MIN_SCORE 0.75f

static int detect_tiles(vis_worker *w, img_photo *ph, vis__faces *all) {
    const vis_engine *e = w->e;
    int W = img_width(ph), H = img_height(ph), side = e->det_w > e->det_h ? e->det_w : e->det_h;
    double st = fmin(1.0, TILE_ZOOM * fmin((double)e->det_w / W, (double)e->det_h / H));
    double tw = e->det_w / st, th = e->det_h / st; /* a tile, in photo pixels */
    int nx = W > tw ? (int)ceil((W - tw) / (0.75 * tw)) + 1 : 1;
    int ny = H > th ? (int)ceil((H - th) / (0.75 * th)) + 1 : 1;
    if (nx * ny > TILE_MAX) return UT_OK; /* a panorama: the whole-photo pass must do */
    int n = nx * ny;
    ut_debug("tiled pass: %d x %d tiles of %.0f x %.0f photo pixels at scale %.3f", nx, ny, tw, th, st);
    double (*M)[6] = ut_malloc((size_t)n * sizeof *M);
    uint8_t *pix = ut_malloc((size_t)n * side * side * 3);
    uint8_t **outs = ut_malloc((size_t)n * sizeof *outs);
    int rc = M && pix && outs ? UT_OK : ut_fail(UT_ENOMEM, "out of memory");
    for (int i = 0; !rc && i < n; i++) {
        double x0 = nx > 1 ? (W - tw) * (i % nx) / (nx - 1) : 0, y0 = ny > 1 ? (H - th) * (i / nx) / (ny - 1) : 0;
        double m[6] = {st, 0, -st * x0, 0, st, -st * y0};
        memcpy(M[i], m, sizeof m);
        outs[i] = pix + (size_t)i * side * side * 3;
    }
    int order = e->det->colour == VIS_BGR ? IMG_BGR : IMG_RGB;
    if (!rc) rc = img_warp(ph, (const double (*)[6])M, n, side, order, outs);
    for (int i = 0; !rc && i < n; i++) {
        fill_input(e, outs[i], side * 3, w->det_in);
        vis_face *f = NULL;
        size_t k = 0;
        rc = run_detector(w, w->det_in, &f, &k);
        size_t kept = 0;
        for (size_t j = 0; j < k; j++)
            if (f[j].score >= TILE_MIN_SCORE) f[kept++] = f[j];
        k = kept;
        for (size_t j = 0; !rc && j < k; j++) { /* model -> photo pixels: x = (mx - M[2]) / st */
            f[j].x1 = (float)((f[j].x1 - M[i][2]) / st);
            f[j].x2 = (float)((f[j].x2 - M[i][2]) / st);
            f[j].y1 = (float)((f[j].y1 - M[i][5]) / st);
            f[j].y2 = (float)((f[j].y2 - M[i][5]) / st);
            for (int p = 0; p < f[j].nkps; p++) {
                f[j].kps[p][0] = (float)((f[j].kps[p][0] - M[i][2]) / st);
                f[j].kps[p][1] = (float)((f[j].kps[p][1] - M[i][5]) / st);
            }
        }
        if (!rc) rc = append(all, f, k);
        ut_free(f);
    }
    ut_free(M);
    ut_free(pix);
    ut_free(outs);
    return rc;
}

static int detect(vis_worker *w, img_photo *ph, vis_face **faces, size_t *n) {
    const vis_engine *e = w->e;
    img_tensor owned = {0};
    const float *input;
    img_map map;
    vis__faces all = {0};
    vis_face *f = NULL;
    size_t k = 0;
    int rc = det_input(w, ph, &input, &map, &owned);
    if (!rc) rc = run_detector(w, input, &f, &k);
    img_tensor_free(&owned);
    for (size_t i = 0; !rc && i < k; i++) face_to_orig(&f[i], &map);
    if (!rc) rc = append(&all, f, k);
    ut_free(f);
    int W = img_width(ph), H = img_height(ph);
    if (!rc && e->opts.tiles && (W > H ? W : H) >= TILE_MIN_SIDE) rc = detect_tiles(w, ph, &all);
    if (rc) {
        ut_free(all.v);
        return rc;
    }
    /* Whole-photo and tile faces of one person overlap: keep the best. */
    all.n = vis_nms(all.v, all.n, e->opts.nms_iou);
    all.n = vis_drop_contained(all.v, all.n, 0.8f);
    *faces = all.v;
    *n = all.n;
    return UT_OK;
}

/* The crop the 68-point model was trained on (faceplugin alignLandmarkImage
 * at scale 1): the integer box, shifted to lie inside the photo, resized to
 * 64x64 as cv2.resize does (pixel centres: src = (dst + 0.5) * s - 0.5). */
static int landmark_crop(const vis_face *f, int W, int H, double M[6], int box[4]) {
    int x1 = (int)f->x1, y1 = (int)f->y1, x2 = (int)f->x2, y2 = (int)f->y2;
    int bw = abs(x2 - x1), bh = abs(y2 - y1);
    if (bw < 2 || bh < 2) return 0;
    double l = x1, t = y1, r = x1 + bw, b = y1 + bh;
    if (l < 0) { r -= l; l = 0; }
    if (t < 0) { b -= t; t = 0; }
    if (r > W - 1) { l -= r - W + 1; r = W - 1; }
    if (b > H - 1) { t -= b - H + 1; b = H - 1; }
    int rx = l > 0 ? (int)l : 0, ry = t > 0 ? (int)t : 0;
    int rw = (int)(r - l) < W - 1 ? (int)(r - l) : W - 1, rh = (int)(b - t) < H - 1 ? (int)(b - t) : H - 1;
    if (rw > W - rx) rw = W - rx;
    if (rh > H - ry) rh = H - ry;
    if (rw < 1 || rh < 1) return 0;
    double sx = (double)LM_SIZE / rw, sy = (double)LM_SIZE / rh;
    M[0] = sx; M[1] = 0; M[2] = (0.5 - rx) * sx - 0.5;
    M[3] = 0; M[4] = sy; M[5] = (0.5 - ry) * sy - 0.5;
    box[0] = x1; box[1] = y1; box[2] = bw; box[3] = bh;
    return 1;
}

/* Keypoints for every face from the 68-point model; faces whose crop is
 * degenerate are dropped. */
static int landmarks(vis_worker *w, img_photo *ph, vis_face *faces, size_t *n) {
    size_t k = *n;
    if (!k) return UT_OK;
    double (*M)[6] = ut_malloc(k * sizeof *M);
    int (*box)[4] = ut_malloc(k * sizeof *box);
    uint8_t *pix = ut_malloc(k * LM_SIZE * LM_SIZE * 3);
    uint8_t **outs = ut_malloc(k * sizeof *outs);
    int rc = M && box && pix && outs ? UT_OK : ut_fail(UT_ENOMEM, "out of memory");
    size_t kept = 0;
    for (size_t i = 0; !rc && i < k; i++)
        if (landmark_crop(&faces[i], img_width(ph), img_height(ph), M[kept], box[kept])) {
            faces[kept] = faces[i];
            outs[kept] = pix + kept * LM_SIZE * LM_SIZE * 3;
            kept++;
        }
    if (!rc && kept) rc = img_warp(ph, (const double (*)[6])M, (int)kept, LM_SIZE, IMG_RGB, outs);
    for (size_t i = 0; !rc && i < kept; i++) {
        for (int p = 0; p < LM_SIZE * LM_SIZE; p++) {
            const uint8_t *q = outs[i] + 3 * p;
            w->lm_in[p] = (0.299f * q[0] + 0.587f * q[1] + 0.114f * q[2]) / 256.0f;
        }
        const float *in = w->lm_in;
        rc = nn_ctx_run(w->lm_ctx, &in, &w->lm_out);
        float pts[68][2];
        for (int p = 0; p < 68; p++) {
            pts[p][0] = w->lm_out[2 * p] * (float)box[i][2] + (float)box[i][0];
            pts[p][1] = w->lm_out[2 * p + 1] * (float)box[i][3] + (float)box[i][1];
        }
        vis_lm68_to_5((const float (*)[2])pts, faces[i].kps);
        faces[i].nkps = 5;
    }
    *n = rc ? 0 : kept;
    ut_free(M);
    ut_free(box);
    ut_free(pix);
    ut_free(outs);
    return rc;
}

static int embed_crop(vis_worker *w, const uint8_t *crop, float *emb) {
    const vis_emb_info *ei = w->e->emb;
    for (int c = 0; c < 3; c++)
        for (int p = 0; p < CROP * CROP; p++)
            w->emb_in[c * CROP * CROP + p] = ((float)crop[3 * p + c] - ei->mean) / ei->std;
    const float *in = w->emb_in;
    int rc = nn_ctx_run(w->emb_ctx, &in, &emb);
    return rc ? rc : vis_l2_normalize(emb, (size_t)w->e->dim);
}

/* Align, measure, filter and embed the detected faces into out. */
static int align_and_embed(vis_worker *w, img_photo *ph, vis_face *faces, size_t n, vis_photo_faces *out) {
    const vis_engine *e = w->e;
    double (*M)[6] = ut_malloc((n ? n : 1) * sizeof *M);
    uint8_t *pix = ut_malloc((n ? n : 1) * CROP * CROP * 3);
    uint8_t **crops = ut_malloc((n ? n : 1) * sizeof *crops);
    out->faces = ut_calloc(n ? n : 1, sizeof *out->faces);
    out->emb_store = ut_malloc((n ? n : 1) * (size_t)e->dim * sizeof(float));
    int rc = M && pix && crops && out->faces && out->emb_store ? UT_OK : ut_fail(UT_ENOMEM, "out of memory");
    size_t m = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        vis_quality q;
        vis_quality_geometry(&faces[i], &q);
        if ((e->opts.min_face > 0 && q.size < e->opts.min_face) || vis_align_transform(&faces[i], CROP, M[m])) {
            out->rejected++;
            continue;
        }
        faces[m] = faces[i];
        crops[m] = pix + m * CROP * CROP * 3;
        m++;
    }
    int order = e->emb->colour == VIS_BGR ? IMG_BGR : IMG_RGB;
    if (!rc && m) rc = img_warp(ph, (const double (*)[6])M, (int)m, CROP, order, crops);
    for (size_t i = 0; !rc && i < m; i++) {
        vis_found *f = &out->faces[out->n];
        f->face = faces[i];
        vis_quality_geometry(&faces[i], &f->q);
        f->q.blur = vis_quality_blur(crops[i], CROP, CROP, CROP * 3, 3);
        if (!vis_quality_pass(&f->q, &e->opts.quality, NULL)) {
            out->rejected++;
            continue;
        }
        f->emb = out->emb_store + out->n * (size_t)e->dim;
        rc = embed_crop(w, crops[i], f->emb);
        if (rc == UT_EINVAL) { /* a degenerate embedding: not a usable face */
            out->rejected++;
            rc = UT_OK;
            continue;
        }
        out->n++;
    }
    ut_free(M);
    ut_free(pix);
    ut_free(crops);
    return rc;
}

int vis_worker_photo(vis_worker *w, img_photo *ph, vis_photo_faces *out) {
    memset(out, 0, sizeof *out);
    out->dim = w->e->dim;
    out->width = img_width(ph);
    out->height = img_height(ph);
    vis_face *faces = NULL;
    size_t n = 0;
    int rc = detect(w, ph, &faces, &n);
    if (!rc && w->e->det->nkps == 0) rc = landmarks(w, ph, faces, &n);
    if (!rc) rc = align_and_embed(w, ph, faces, n, out);
    ut_free(faces);
    if (rc) vis_photo_faces_free(out);
    return rc;
}

void vis_photo_faces_free(vis_photo_faces *pf) {
    ut_free(pf->faces);
    ut_free(pf->emb_store);
    pf->faces = NULL;
    pf->emb_store = NULL;
    pf->n = 0;
}

/* vision.h -- faces: detector manifests and decoding, NMS, alignment.
 *
 * This layer turns model outputs into faces and faces into aligned crops.
 * It knows each detector's contract (input size, layout, colour order,
 * normalisation, how its outputs decode); it does not run models itself:
 * the caller feeds it the tensors a model produced, by output name and
 * shape, so decoding is testable without an inference engine.
 *
 * Coordinates: decoders return faces in model-input pixels; the caller maps
 * them back to the photo with vis_faces_unletterbox(). Keypoints follow the
 * ArcFace order: eye on image-left, eye on image-right, nose, mouth-left,
 * mouth-right. BlazeFace gives 4 (both eyes, nose, mouth centre).
 */
#ifndef KADR_VISION_H
#define KADR_VISION_H

#include <stddef.h>
#include <stdint.h>

struct img_photo;

typedef struct {
    float x1, y1, x2, y2;
    float score;
    float kps[5][2];
    int nkps; /* 5, 4 (BlazeFace) or 0 (RFB-320: needs the landmark model) */
} vis_face;

typedef enum {
    VIS_DET_YUNET,
    VIS_DET_SCRFD,
    VIS_DET_RETINAFACE,
    VIS_DET_RFB320,
    VIS_DET_BLAZEFACE,
    VIS_DET_COUNT
} vis_det_kind;

enum { VIS_NCHW, VIS_NHWC };
enum { VIS_RGB, VIS_BGR, VIS_GRAY };

/* How to feed a detector: input = (pixel - mean[c]) / std[c] in the given
 * colour order and layout, image letterboxed (aspect kept, top-left, zero
 * padding) into in_w x in_h. */
typedef struct {
    const char *name;       /* "yunet", "scrfd", "retinaface", "rfb320", "blazeface" */
    int in_w, in_h;         /* default input size */
    int dynamic;            /* 1: any size that is a multiple of `align` */
    int align;
    int layout, colour;
    float mean[3], std[3];
    int nkps;
} vis_det_info;

const vis_det_info *vis_det_get(vis_det_kind kind);
/* Look a detector up by name; returns VIS_DET_COUNT if unknown. */
vis_det_kind vis_det_find(const char *name);

/* One output tensor of a model, as the decoders see it. */
typedef struct {
    const char *name;
    const float *data;
    int64_t shape[6];
    int ndim;
} vis_tensor;

/* Decode a detector's outputs for one image of in_w x in_h: faces with
 * score >= min_score, before NMS, in input pixels. *faces is allocated
 * (ut_free) and may be NULL when *n is 0. Missing or mis-shaped outputs
 * give UT_EFORMAT naming the output. */
int vis_decode(vis_det_kind kind, const vis_tensor *outs, int nouts, int in_w, int in_h,
               float min_score, vis_face **faces, size_t *n);

/* Greedy NMS: sort by score (descending), drop faces whose IoU with a kept
 * one exceeds iou. Keeps the survivors at the front; returns their count. */
size_t vis_nms(vis_face *faces, size_t n, float iou);

/* Drop faces whose box lies mostly (more than frac of its area) inside the
 * box of a face before it in the list (call after vis_nms, which sorts by
 * score). IoU cannot catch these: a detector's stray box on an eye or a
 * mouth of a close-up lies inside the real face and overlaps it little by
 * IoU. Returns the new count. */
size_t vis_drop_contained(vis_face *faces, size_t n, float frac);

/* Letterbox geometry: scale s, and the photo size it came from. */
typedef struct {
    float scale;      /* model pixels per photo pixel */
    int src_w, src_h; /* photo size (oriented) */
    int dst_w, dst_h; /* model input size */
} vis_letterbox;

vis_letterbox vis_letterbox_fit(int src_w, int src_h, int dst_w, int dst_h);
/* Map faces from model input to photo pixels, clamping boxes to the photo. */
void vis_faces_unletterbox(vis_face *faces, size_t n, const vis_letterbox *lb);
/* Drop faces whose shorter box side is below min_px (photo pixels). */
size_t vis_faces_min_size(vis_face *faces, size_t n, float min_px);

/* The ArcFace 112x112 five-point template. */
extern const float vis_arcface_112[5][2];

/* Least-squares similarity transform (Umeyama) taking the n points src to
 * dst: dst ~ M * [x y 1]'. M is 2x3 row-major. Returns UT_EINVAL for
 * degenerate input (n < 2, coincident points). */
int vis_similarity(const float (*src)[2], const float (*dst)[2], int n, double M[6]);
/* Transform mapping a face's keypoints onto the ArcFace template scaled to
 * size x size (4 keypoints use the template's mouth centre). */
int vis_align_transform(const vis_face *face, int size, double M[6]);
/* Invert a 2x3 affine transform. */
int vis_affine_invert(const double M[6], double inv[6]);

/* Five points from the 68-point landmark layout (iBUG 300-W): eye centres
 * from the eyelid points, nose tip, mouth corners averaged over outer and
 * inner lip -- the faceplugin convention for fr_landmark.onnx. */
void vis_lm68_to_5(const float pts68[68][2], float out[5][2]);

/* ---- face quality -------------------------------------------------------
 * Filters users turn on to keep poor faces out of clustering: a blurred,
 * tiny or strongly turned face embeds badly and drags clusters together. */

typedef struct {
    float size;  /* shorter side of the box, photo pixels */
    float blur;  /* variance of the Laplacian of the aligned grey crop; low = blurred */
    float yaw;   /* nose offset from the eye midline, in inter-eye distances: 0 frontal, ~0.5 profile */
    float roll;  /* eye-line angle, degrees */
    float pitch; /* (eye-nose height) / (eye-mouth height) minus its frontal value ~0.5 */
} vis_quality;

typedef struct {
    float min_size; /* 0 = off */
    float min_blur;
    float max_yaw;
    float max_roll;
    float max_pitch;
} vis_quality_limits;

/* Geometry measures from the box and keypoints (size, yaw, roll, pitch).
 * Faces without keypoints get yaw = roll = pitch = 0. */
void vis_quality_geometry(const vis_face *face, vis_quality *q);
/* Sharpness of an aligned crop: 8-bit interleaved RGB (or grey when
 * channels == 1), w x h, row stride in bytes. */
float vis_quality_blur(const uint8_t *pixels, int w, int h, int stride, int channels);
/* 1 if q is within every limit that is set (non-zero), else 0; *why names
 * the first failed limit ("size", "blur", "yaw", "roll", "pitch"). */
int vis_quality_pass(const vis_quality *q, const vis_quality_limits *lim, const char **why);

/* ---- model registry -----------------------------------------------------
 * DATA/models/registry.tsv, copied there by scripts/install-models.mjs from
 * models/registry.tsv: one model a line, tab-separated name, task, npm
 * package@version, member, sha256, licence; '#' starts a comment line.
 * Models live beside it as <name>.onnx. */

typedef struct {
    char *name, *task, *package, *member, *sha256, *licence;
} vis_model_entry;

typedef struct vis_registry vis_registry;

/* Parse a registry; a malformed line is UT_EFORMAT naming its number. */
int vis_registry_parse(const char *text, size_t len, vis_registry **out);
int vis_registry_load(const char *path, vis_registry **out);
void vis_registry_free(vis_registry *reg);
size_t vis_registry_count(const vis_registry *reg);
const vis_model_entry *vis_registry_at(const vis_registry *reg, size_t i);
const vis_model_entry *vis_registry_find(const vis_registry *reg, const char *name);

enum { VIS_MODEL_OK, VIS_MODEL_MISSING, VIS_MODEL_CORRUPT };
/* Check DIR/<name>.onnx against the entry's sha256 (reads the whole file). */
int vis_model_check(const char *dir, const vis_model_entry *e, int *state);

/* Scale v (n floats) to unit L2 norm; UT_EINVAL for a zero or non-finite
 * vector (a model that produced garbage). */
int vis_l2_normalize(float *v, size_t n);

/* ---- face engine ----------------------------------------------------------
 * Photo in, faces with embeddings out: detect (letterboxed, shrink-on-load),
 * landmarks when the detector gives none (RFB-320 + 68-point model),
 * quality measures, alignment onto the ArcFace template from the original
 * pixels, embedding, L2 normalisation.
 *
 * Lifecycle: one vis_engine per process (models and plans, read-only, shared
 * by threads), one vis_worker per thread (inference contexts and scratch). */

typedef struct vis_engine vis_engine;
typedef struct vis_worker vis_worker;

/* How an embedder wants its 112x112 aligned crop. */
typedef struct {
    const char *name; /* "mbf512", "mfn128", "arcface" */
    int colour;       /* VIS_RGB or VIS_BGR */
    float mean, std;  /* input = (pixel - mean) / std */
    float threshold;  /* cosine distance that separates people (average linkage) */
    float attach_dist, attach_margin; /* unassigned faces: see clu_attach_noise */
} vis_emb_info;

const vis_emb_info *vis_emb_find(const char *name);

typedef struct {
    vis_det_kind detector;
    const char *det_path;      /* detector .onnx */
    const char *lm_path;       /* 68-point landmark .onnx, for detectors without keypoints */
    const char *emb_path;      /* embedder .onnx */
    const char *embedder;      /* a vis_emb_find name; NULL = "arcface" conventions */
    int det_size;              /* input side for dynamic detectors (default 640) */
    float min_score;           /* default 0.5 */
    float nms_iou;             /* default 0.4 */
    float min_face;            /* shorter box side in photo pixels; 0 = any */
    int tiles;                 /* 1: a tiled pass for small faces in large photos */
    vis_quality_limits quality;
} vis_engine_opts;

typedef struct {
    vis_face face;  /* photo pixels (oriented) */
    vis_quality q;
    float *emb;     /* dim floats, unit length; points into the vis_photo_faces */
} vis_found;

typedef struct {
    vis_found *faces;
    size_t n;
    int dim;
    int width, height; /* oriented photo size */
    int rejected;      /* faces dropped by min_face or quality limits */
    float *emb_store;
} vis_photo_faces;

int vis_engine_create(const vis_engine_opts *opts, vis_engine **out);
void vis_engine_free(vis_engine *e);
int vis_engine_dim(const vis_engine *e);
/* The embedder's conventions, including its calibrated threshold. */
const vis_emb_info *vis_engine_embedder(const vis_engine *e);

/* nthreads: intra-op threads for this worker's inference (1 is best when
 * there are as many workers as cores). */
int vis_worker_create(vis_engine *e, int nthreads, vis_worker **out);
void vis_worker_free(vis_worker *w);
/* Faces of one opened photo. out is filled even when no face is found. */
int vis_worker_photo(vis_worker *w, struct img_photo *ph, vis_photo_faces *out);
void vis_photo_faces_free(vis_photo_faces *pf);

#endif

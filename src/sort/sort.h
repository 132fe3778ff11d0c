/* sort.h -- sorting by people: the pipeline behind `kadr sort` and the server's sort jobs: scan a folder,
 * find and embed the faces of every photo (in parallel), cluster them into
 * people (two faces of one photo never share a person), and turn that into
 * an organize plan: shown as a dry run, or carried out under the journal. */
#ifndef KADR_SORT_H
#define KADR_SORT_H

#include "cluster.h"
#include "organize.h"
#include "vision.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *dir;          /* library root to sort */
    const char *out;          /* where person folders go; NULL = dir */
    const char *models_dir;   /* DATA/models */
    const char *detector;     /* "rfb320" (default), "yunet", "scrfd", "retinaface", "blazeface" */
    const char *det_model;    /* detector file; NULL = the installed default for `detector` */
    const char *embedder;     /* "mbf512" (installed fr_feature, default), or a path to an ONNX file */
    int det_size;             /* dynamic detectors: input side (640) */
    float min_score;          /* 0.5 */
    float min_face;           /* photo pixels; 0 = any */
    vis_quality_limits quality; /* blur and pose filters; 0 = off */
    int tiles;                /* tiled pass for small faces in large photos (default off, for
                                 speed: on 12 camera photos it added 5 real faces the whole-photo
                                 pass missed and 1 false one) */
    clu_opts cluster;         /* threshold 0 = the embedder's calibrated one */
    float attach_dist;        /* unassigned faces: attach within this distance... (0 = off, <0 = the embedder's) */
    float attach_margin;      /* ...when the next person is this much farther (<0 = the embedder's) */
    int threads;              /* photos analysed in parallel (default: cores) */
} sort_opts;

void sort_opts_default(sort_opts *o);

typedef struct {
    size_t done, total;       /* photos analysed */
    size_t faces;             /* faces found so far */
    const char *path;         /* the photo just analysed */
    double elapsed;           /* seconds since start */
} sort_progress;

typedef void (*sort_progress_fn)(void *ctx, const sort_progress *p);

typedef struct {
    size_t photos, faces, unreadable, no_face, noise_faces;
    int people;
    double t_scan, t_faces, t_cluster;   /* stage times, seconds */
} sort_stats;

/* The face engine for o's detector and embedder (installed defaults from
 * o->models_dir unless files are given). Also used by the index job. */
int sort_engine_open(const sort_opts *o, vis_engine **out);

/* The stages, shared by sorting and `kadr faces eval`. */
typedef struct {
    char *rel;        /* path relative to the root */
    int readable;     /* decoded (0: not an image, broken, a symlink) */
    int width, height;
    size_t nfaces;
    vis_face *faces;  /* photo pixels */
    float *emb;       /* nfaces x dim, unit length */
} sort_photo;

typedef struct {
    sort_photo *v;
    size_t n, cap;
    int dim;
    const vis_emb_info *emb; /* the embedder's conventions and calibrated distances */
} sort_faces;

/* Every file under root, sorted by path; hidden entries and "общие"
 * folders are not part of the collection. */
int sort_faces_scan(const char *root, sort_faces *out);
/* Faces and embeddings of every photo of set, in parallel. */
int sort_faces_analyse(const sort_opts *o, const char *root, sort_faces *set, sort_progress_fn progress,
                      void *ctx);
/* Cluster all faces (photo = cannot-link group); o->threshold 0 means the
 * embedder's calibrated threshold. *labels has one entry per
 * face in set order, person numbers 0.. by decreasing size, -1 = unassigned. */
int sort_faces_cluster(const sort_opts *o, const sort_faces *set, int32_t **labels, int *npeople, size_t *noise);
void sort_faces_free(sort_faces *set);

/* Analyse dir and build the plan (nothing on disk changes). *plan is
 * destroyed with org_plan_destroy. progress may be NULL. */
int sort_plan(const sort_opts *o, sort_progress_fn progress, void *ctx,
                  org_plan **plan, sort_stats *stats);

#endif

/* sort.c -- the sort-by-people pipeline: folder -> faces -> people -> plan.
 *
 * Stages: scan (the folder tree, skipping "общие" folders and kadr's own
 * state), faces (every photo through the face engine, one worker per
 * thread, each with its own inference contexts), cluster (all embeddings at
 * once; the photo is the cannot-link group), plan (person folders named by
 * cluster, largest first). Nothing on disk changes here: executing the plan
 * is organize's job, under its journal. */
#include "sort.h"

#include "img.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


void sort_opts_default(sort_opts *o) {
    memset(o, 0, sizeof *o);
    o->detector = "rfb320";
    o->embedder = "mbf512";
    o->det_size = 640;
    o->min_score = 0.5f;
    clu_opts_default(&o->cluster);
    o->cluster.threshold = 0; /* the embedder's own */
    o->attach_dist = o->attach_margin = -1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = cores > 0 ? (int)cores : 1;
}

/* ---- scan ---------------------------------------------------------------- */

static int push_photo(sort_faces *l, const char *rel) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        sort_photo *v = ut_realloc(l->v, cap * sizeof *v);
        if (!v) return ut_fail(UT_ENOMEM, "out of memory listing photos");
        l->v = v;
        l->cap = cap;
    }
    memset(&l->v[l->n], 0, sizeof l->v[0]);
    if (!(l->v[l->n].rel = ut_strdup(rel))) return ut_fail(UT_ENOMEM, "out of memory listing photos");
    l->n++;
    return UT_OK;
}

/* Walk dir/rel depth-first. Hidden entries (kadr's .kadr-sort state among
 * them) and "общие" folders are not part of the collection. */
static int scan(const char *root, const char *rel, sort_faces *out) {
    char *path = rel[0] ? ut_asprintf("%s/%s", root, rel) : ut_strdup(root);
    if (!path) return ut_fail(UT_ENOMEM, "out of memory");
    DIR *d = opendir(path);
    if (!d) {
        int err = errno;
        ut_free(path);
        return ut_fail(ut_from_errno(err), "cannot read folder %s: %s", rel[0] ? rel : root, strerror(err));
    }
    int rc = UT_OK;
    for (struct dirent *e; rc == UT_OK && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char *child = rel[0] ? ut_asprintf("%s/%s", rel, e->d_name) : ut_strdup(e->d_name);
        char *full = ut_asprintf("%s/%s", path, e->d_name);
        struct stat st;
        if (!child || !full) rc = ut_fail(UT_ENOMEM, "out of memory");
        else if (lstat(full, &st) != 0) rc = UT_OK; /* vanished meanwhile */
        else if (S_ISDIR(st.st_mode)) rc = org_is_shared_folder(e->d_name) ? UT_OK : scan(root, child, out);
        else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) rc = push_photo(out, child);
        ut_free(child);
        ut_free(full);
    }
    closedir(d);
    ut_free(path);
    return rc;
}

static int by_path(const void *a, const void *b) {
    return strcmp(((const sort_photo *)a)->rel, ((const sort_photo *)b)->rel);
}

void sort_faces_free(sort_faces *l) {
    for (size_t i = 0; i < l->n; i++) {
        ut_free(l->v[i].rel);
        ut_free(l->v[i].emb);
        ut_free(l->v[i].faces);
    }
    ut_free(l->v);
    memset(l, 0, sizeof *l);
}

int sort_faces_scan(const char *root, sort_faces *out) {
    memset(out, 0, sizeof *out);
    int rc = scan(root, "", out);
    if (rc) sort_faces_free(out);
    else if (out->n) qsort(out->v, out->n, sizeof *out->v, by_path);
    return rc;
}

/* ---- models ---------------------------------------------------------------- */

/* Owned paths of the models a run uses. */
typedef struct {
    char *det, *lm, *emb;
} model_paths;

static void model_paths_free(model_paths *m) {
    ut_free(m->det);
    ut_free(m->lm);
    ut_free(m->emb);
}

static int installed(const char *models_dir, const char *name, char **out) {
    *out = ut_asprintf("%s/%s.onnx", models_dir, name);
    if (!*out) return ut_fail(UT_ENOMEM, "out of memory");
    if (access(*out, R_OK) != 0)
        return ut_fail(UT_ENOENT, "model %s is not installed in %s (run `make models`)", name, models_dir);
    return UT_OK;
}

/* The installed defaults: RFB-320 and its landmark model from faceplugin,
 * BlazeFace from keijiro; other detectors need --det-model. */
static int resolve_models(const sort_opts *o, vis_engine_opts *eo, model_paths *m) {
    eo->detector = vis_det_find(o->detector);
    if (eo->detector == VIS_DET_COUNT)
        return ut_fail(UT_EINVAL, "unknown detector '%s' (yunet, scrfd, retinaface, rfb320, blazeface)", o->detector);
    int rc = UT_OK;
    if (o->det_model) rc = (m->det = ut_strdup(o->det_model)) ? UT_OK : UT_ENOMEM;
    else if (eo->detector == VIS_DET_RFB320) rc = installed(o->models_dir, "fr_detect", &m->det);
    else if (eo->detector == VIS_DET_BLAZEFACE) rc = installed(o->models_dir, "blazeface_back", &m->det);
    else rc = ut_fail(UT_EINVAL, "detector %s is not installed by default: give its file with --det-model", o->detector);
    if (!rc && vis_det_get(eo->detector)->nkps == 0) rc = installed(o->models_dir, "fr_landmark", &m->lm);
    const char *emb = o->embedder ? o->embedder : "mbf512";
    int is_file = strchr(emb, '/') || strstr(emb, ".onnx");
    if (!rc && is_file) {
        rc = (m->emb = ut_strdup(emb)) ? UT_OK : UT_ENOMEM;
        eo->embedder = "arcface";
    } else if (!rc && strcmp(emb, "mbf512") == 0) {
        rc = installed(o->models_dir, "fr_feature", &m->emb);
        eo->embedder = "mbf512";
    } else if (!rc) {
        rc = ut_fail(UT_EINVAL, "unknown embedder '%s' (mbf512, or the path of an ArcFace-style ONNX file)", emb);
    }
    eo->det_path = m->det;
    eo->lm_path = m->lm;
    eo->emb_path = m->emb;
    eo->det_size = o->det_size;
    eo->min_score = o->min_score;
    eo->min_face = o->min_face;
    eo->quality = o->quality;
    eo->tiles = o->tiles;
    return rc;
}

/* ---- faces ----------------------------------------------------------------- */

typedef struct {
    const sort_opts *o;
    const char *root;
    sort_faces *photos;
    vis_worker **idle;      /* a stack of workers not in use */
    int nidle;
    pthread_mutex_t mu;
    size_t done, faces;
    double t0;
    int rc;                 /* first hard error (out of memory, model failure) */
    sort_progress_fn progress;
    void *progress_ctx;
} analysis;

/* Faces and embeddings of one photo; unreadable photos are recorded, not errors. */
static int analyse_one(vis_worker *w, const char *root, sort_photo *p) {
    char *full = ut_asprintf("%s/%s", root, p->rel);
    if (!full) return ut_fail(UT_ENOMEM, "out of memory");
    struct stat st;
    img_photo *ph = NULL;
    int rc = UT_OK;
    if (lstat(full, &st) == 0 && S_ISREG(st.st_mode) && img_open_file(full, &ph) == UT_OK) {
        vis_photo_faces pf;
        rc = vis_worker_photo(w, ph, &pf);
        if (rc == UT_EFORMAT || rc == UT_EUNSUPPORTED || rc == UT_ETOOBIG || rc == UT_EIO) {
            ut_debug("%s: %s", p->rel, ut_errmsg());
            rc = UT_OK; /* a photo that fails to decode is reported as unreadable */
        } else if (rc == UT_OK) {
            p->readable = 1;
            p->nfaces = pf.n;
            p->width = pf.width;
            p->height = pf.height;
            size_t dim = (size_t)pf.dim;
            if (pf.n && (!(p->emb = ut_malloc(pf.n * dim * sizeof(float))) || !(p->faces = ut_malloc(pf.n * sizeof *p->faces))))
                rc = ut_fail(UT_ENOMEM, "out of memory");
            for (size_t i = 0; !rc && i < pf.n; i++) {
                memcpy(p->emb + i * dim, pf.faces[i].emb, dim * sizeof(float));
                p->faces[i] = pf.faces[i].face;
            }
            vis_photo_faces_free(&pf);
        }
    }
    img_close(ph);
    ut_free(full);
    return rc;
}

static void analyse_range(void *ctx, size_t begin, size_t end) {
    analysis *a = ctx;
    pthread_mutex_lock(&a->mu);
    vis_worker *w = a->nidle ? a->idle[--a->nidle] : NULL;
    pthread_mutex_unlock(&a->mu);
    for (size_t i = begin; w && i < end; i++) {
        pthread_mutex_lock(&a->mu);
        int stop = a->rc;
        pthread_mutex_unlock(&a->mu);
        int rc = stop ? stop : analyse_one(w, a->root, &a->photos->v[i]);
        pthread_mutex_lock(&a->mu);
        if (rc && !a->rc) a->rc = rc;
        a->done++;
        a->faces += a->photos->v[i].nfaces;
        sort_progress pr = {a->done, a->photos->n, a->faces, a->photos->v[i].rel, ut_now() - a->t0};
        if (a->progress) a->progress(a->progress_ctx, &pr);
        pthread_mutex_unlock(&a->mu);
    }
    pthread_mutex_lock(&a->mu);
    if (w) a->idle[a->nidle++] = w;
    pthread_mutex_unlock(&a->mu);
}

static int analyse_all(analysis *a, vis_engine *engine) {
    int nw = a->o->threads > 0 ? a->o->threads : 1, rc = UT_OK;
    ut_pool *pool = NULL;
    a->idle = ut_calloc((size_t)nw, sizeof *a->idle);
    if (!a->idle) return ut_fail(UT_ENOMEM, "out of memory");
    for (int i = 0; !rc && i < nw; i++) {
        rc = vis_worker_create(engine, 1, &a->idle[i]);
        if (!rc) a->nidle++;
    }
    if (!rc && nw > 1) rc = ut_pool_create(nw - 1, &pool);
    pthread_mutex_init(&a->mu, NULL);
    a->t0 = ut_now();
    /* Grain 1 with a worker checked out per chunk: photos vary a lot in cost. */
    if (!rc) ut_pool_for(pool, a->photos->n, 1, analyse_range, a);
    ut_pool_destroy(pool);
    pthread_mutex_destroy(&a->mu);
    for (int i = 0; i < a->nidle; i++) vis_worker_free(a->idle[i]);
    ut_free(a->idle);
    return rc ? rc : a->rc;
}

int sort_engine_open(const sort_opts *o, vis_engine **out) {
    vis_engine_opts eo = {0};
    model_paths mp = {0};
    *out = NULL;
    int rc = resolve_models(o, &eo, &mp);
    if (!rc) rc = vis_engine_create(&eo, out);
    model_paths_free(&mp); /* the engine has loaded the files */
    return rc;
}

int sort_faces_analyse(const sort_opts *o, const char *root, sort_faces *set, sort_progress_fn progress,
                      void *ctx) {
    vis_engine *engine = NULL;
    int rc = sort_engine_open(o, &engine);
    if (!rc) {
        analysis a = {.o = o, .root = root, .photos = set, .progress = progress, .progress_ctx = ctx};
        rc = analyse_all(&a, engine);
        set->dim = vis_engine_dim(engine);
        set->emb = vis_engine_embedder(engine);
    }
    vis_engine_free(engine);
    return rc;
}

/* ---- people ---------------------------------------------------------------- */

typedef struct {
    int32_t label;
    size_t size;
} cluster_size;

static int by_size_desc(const void *a, const void *b) {
    const cluster_size *x = a, *y = b;
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    return (x->label > y->label) - (x->label < y->label);
}

/* Cluster every face; then rename labels so person 1 is the largest. */
int sort_faces_cluster(const sort_opts *o, const sort_faces *photos, int32_t **labels_out, int *npeople,
                      size_t *noise) {
    const clu_opts *co = &o->cluster;
    int dim = photos->dim;
    size_t n = 0;
    for (size_t i = 0; i < photos->n; i++) n += photos->v[i].nfaces;
    *labels_out = NULL;
    *npeople = 0;
    *noise = 0;
    if (n == 0) return UT_OK;
    float *x = ut_malloc(n * (size_t)dim * sizeof(float));
    int32_t *group = ut_malloc(n * sizeof *group);
    if (!x || !group) {
        ut_free(x);
        ut_free(group);
        return ut_fail(UT_ENOMEM, "out of memory gathering %zu embeddings", n);
    }
    size_t k = 0;
    for (size_t i = 0; i < photos->n; i++)
        for (size_t f = 0; f < photos->v[i].nfaces; f++, k++) {
            memcpy(x + k * (size_t)dim, photos->v[i].emb + f * (size_t)dim, (size_t)dim * sizeof(float));
            group[k] = (int32_t)i;
        }
    clu_result r = {0};
    clu_opts with_threshold = *co;
    if (with_threshold.threshold <= 0) with_threshold.threshold = photos->emb->threshold;
    float attach = o->attach_dist < 0 ? photos->emb->attach_dist : o->attach_dist;
    float margin = o->attach_margin < 0 ? photos->emb->attach_margin : o->attach_margin;
    int rc = clu_cluster(x, n, (size_t)dim, group, &with_threshold, &r);
    size_t attached = 0;
    if (!rc && attach > 0) rc = clu_attach_noise(x, n, (size_t)dim, group, r.labels, r.nclusters, attach, margin, &attached);
    ut_free(x);
    ut_free(group);
    if (rc) {
        clu_result_free(&r);
        return rc;
    }
    cluster_size *sizes = ut_calloc((size_t)r.nclusters + 1, sizeof *sizes);
    if (!sizes) {
        clu_result_free(&r);
        return ut_fail(UT_ENOMEM, "out of memory");
    }
    for (int c = 0; c < r.nclusters; c++) sizes[c].label = c;
    for (size_t i = 0; i < n; i++) {
        if (r.labels[i] >= 0) sizes[r.labels[i]].size++;
        else (*noise)++;
    }
    qsort(sizes, (size_t)r.nclusters, sizeof *sizes, by_size_desc);
    int32_t *rank = ut_malloc(((size_t)r.nclusters + 1) * sizeof *rank);
    if (!rank) rc = ut_fail(UT_ENOMEM, "out of memory");
    for (int c = 0; !rc && c < r.nclusters; c++) rank[sizes[c].label] = c;
    for (size_t i = 0; !rc && i < n; i++) r.labels[i] = r.labels[i] >= 0 ? rank[r.labels[i]] : -1;
    *npeople = r.nclusters;
    if (!rc) {
        *labels_out = r.labels;
        r.labels = NULL;
    }
    ut_free(rank);
    ut_free(sizes);
    clu_result_free(&r);
    return rc;
}

/* Person folders are named by cluster until the user names them. */
static void person_name(int label, char out[32]) { snprintf(out, 32, "person_%03d", label + 1); }

static int build_plan(const sort_opts *o, sort_faces *photos, const int32_t *labels, int npeople,
                      org_plan **plan) {
    int rc = org_plan_create(o->dir, o->out, plan);
    char (*names)[32] = ut_malloc(((size_t)npeople + 1) * sizeof *names);
    const char **people = ut_malloc(((size_t)npeople + 1) * sizeof *people);
    if (!rc && (!names || !people)) rc = ut_fail(UT_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; !rc && i < photos->n; i++) {
        size_t np = 0;
        for (size_t f = 0; f < photos->v[i].nfaces; f++, k++) {
            if (labels[k] < 0) continue;
            /* cannot-link keeps one photo's faces in different people */
            person_name(labels[k], names[np]);
            people[np] = names[np];
            np++;
        }
        rc = org_plan_add(*plan, photos->v[i].rel, people, np, NULL);
    }
    if (!rc) rc = org_plan_finish(*plan);
    ut_free(names);
    ut_free(people);
    if (rc) {
        org_plan_destroy(*plan);
        *plan = NULL;
    }
    return rc;
}

int sort_plan(const sort_opts *o, sort_progress_fn progress, void *ctx, org_plan **plan,
                  sort_stats *stats) {
    *plan = NULL;
    memset(stats, 0, sizeof *stats);
    sort_faces photos = {0};
    int32_t *labels = NULL;
    size_t noise = 0;
    double t = ut_now();
    int rc = sort_faces_scan(o->dir, &photos);
    stats->t_scan = ut_now() - t;
    t = ut_now();
    if (!rc) rc = sort_faces_analyse(o, o->dir, &photos, progress, ctx);
    stats->t_faces = ut_now() - t;
    t = ut_now();
    if (!rc) rc = sort_faces_cluster(o, &photos, &labels, &stats->people, &noise);
    stats->t_cluster = ut_now() - t;
    if (!rc) rc = build_plan(o, &photos, labels, stats->people, plan);
    stats->photos = photos.n;
    stats->noise_faces = noise;
    for (size_t i = 0; i < photos.n; i++) {
        stats->faces += photos.v[i].nfaces;
        stats->unreadable += !photos.v[i].readable;
        stats->no_face += photos.v[i].readable && photos.v[i].nfaces == 0;
    }
    ut_free(labels);
    sort_faces_free(&photos);
    return rc;
}

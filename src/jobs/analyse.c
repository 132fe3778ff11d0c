/* analyse.c -- the index job's analyser: photo metadata and faces.
 *
 * The index job calls the hook from several worker threads at once. The
 * face engine (models, plans) is shared; each thread needs its own
 * vis_worker, so workers wait in a small free list and are made on first
 * need. Metadata comes from img (EXIF date, camera, GPS, oriented size). */
#include "jobs_int.h"

#include "img.h"
#include "sort.h"
#include "vision.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct job_photo_analyser {
    vis_engine *engine;
    char model[64];          /* "<detector>+<embedder>", stored with the faces */
    pthread_mutex_t mu;
    vis_worker **idle;
    int nidle, cap;
};

/* "YYYY-MM-DDTHH:MM:SS[.sss][+hh:mm]" -> ms since the epoch. A date
 * without an offset is camera local time; it is stored as if UTC, which
 * keeps the wall-clock reading the photo shows. */
static int64_t date_ms(const char *s) {
    struct tm tm = {0};
    int off_h = 0, off_m = 0;
    char sign = 0;
    if (sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    const char *tz = s + 19;
    while (*tz == '.' || (*tz >= '0' && *tz <= '9')) tz++;
    if ((*tz == '+' || *tz == '-') && sscanf(tz + 1, "%d:%d", &off_h, &off_m) == 2) sign = *tz;
    int64_t t = (int64_t)timegm(&tm);
    if (sign) t -= (sign == '+' ? 1 : -1) * (off_h * 3600 + off_m * 60);
    return t * 1000;
}

static int metadata(void *user, const char *path, cat_photo *photo) {
    img_photo *ph;
    img_meta m;
    int rc = img_open_file(path, &ph);
    if (!rc) rc = img_meta_get(ph, &m);
    img_close(ph);
    if (rc == UT_EFORMAT || rc == UT_EUNSUPPORTED) return UT_OK; /* indexed, not analysable */
    if (rc) return rc;
    photo->width = m.width;
    photo->height = m.height;
    photo->taken_ms = m.date[0] ? date_ms(m.date) : 0;
    photo->has_gps = m.has_gps;
    photo->lat = m.lat;
    photo->lon = m.lon;
    if (m.make[0] || m.model[0]) {
        /* "Canon Canon EOS 5D" reads badly: drop the make when the model repeats it. */
        int repeats = m.make[0] && strncmp(m.model, m.make, strlen(m.make)) == 0;
        photo->camera = repeats || !m.make[0] ? ut_strdup(m.model) : !m.model[0] ? ut_strdup(m.make)
                                                                                 : ut_asprintf("%s %s", m.make, m.model);
        if (!photo->camera) return ut_fail(UT_ENOMEM, "out of memory");
    }
    (void)user;
    return UT_OK;
}

static int take_worker(job_photo_analyser *a, vis_worker **w) {
    pthread_mutex_lock(&a->mu);
    *w = a->nidle ? a->idle[--a->nidle] : NULL;
    pthread_mutex_unlock(&a->mu);
    return *w ? UT_OK : vis_worker_create(a->engine, 1, w);
}

static void give_worker(job_photo_analyser *a, vis_worker *w) {
    pthread_mutex_lock(&a->mu);
    if (a->nidle == a->cap) {
        int cap = a->cap ? a->cap * 2 : 4;
        vis_worker **v = ut_realloc(a->idle, (size_t)cap * sizeof *v);
        if (v) {
            a->idle = v;
            a->cap = cap;
        }
    }
    if (a->nidle < a->cap) {
        a->idle[a->nidle++] = w;
        w = NULL;
    }
    pthread_mutex_unlock(&a->mu);
    vis_worker_free(w); /* only when the list could not grow */
}

static int to_cat_faces(const vis_photo_faces *pf, const char *model, cat_face **out) {
    *out = ut_calloc(pf->n ? pf->n : 1, sizeof **out);
    if (!*out) return ut_fail(UT_ENOMEM, "out of memory");
    for (size_t i = 0; i < pf->n; i++) {
        const vis_found *f = &pf->faces[i];
        cat_face *c = &(*out)[i];
        c->box[0] = f->face.x1;
        c->box[1] = f->face.y1;
        c->box[2] = f->face.x2 - f->face.x1;
        c->box[3] = f->face.y2 - f->face.y1;
        for (int p = 0; p < 5; p++) {
            c->landmarks[2 * p] = f->face.kps[p][0];
            c->landmarks[2 * p + 1] = f->face.kps[p][1];
        }
        c->score = f->face.score;
        c->quality = f->q.blur;
        c->dim = pf->dim;
        c->embedding = ut_malloc((size_t)pf->dim * sizeof(float));
        c->model = ut_strdup(model);
        if (!c->embedding || !c->model) {
            cat_faces_free(*out, pf->n);
            *out = NULL;
            return ut_fail(UT_ENOMEM, "out of memory");
        }
        memcpy(c->embedding, f->emb, (size_t)pf->dim * sizeof(float));
    }
    return UT_OK;
}

static int faces(void *user, const char *path, cat_face **out, size_t *n) {
    job_photo_analyser *a = user;
    *out = NULL;
    *n = 0;
    img_photo *ph;
    if (img_open_file(path, &ph)) return UT_OK; /* not decodable: no faces to record */
    vis_worker *w;
    int rc = take_worker(a, &w);
    vis_photo_faces pf;
    if (!rc) rc = vis_worker_photo(w, ph, &pf);
    if (!rc) {
        rc = to_cat_faces(&pf, a->model, out);
        if (!rc) *n = pf.n;
        vis_photo_faces_free(&pf);
    } else if (rc == UT_EFORMAT || rc == UT_EUNSUPPORTED || rc == UT_ETOOBIG) {
        rc = UT_OK; /* a broken photo is indexed without faces, not a failed job */
    }
    if (w) give_worker(a, w);
    img_close(ph);
    return rc;
}

int job_analyser_open(const sort_opts *o, int with_faces, job_photo_analyser **out, job_analyser *hook) {
    *out = NULL;
    memset(hook, 0, sizeof *hook);
    job_photo_analyser *a = ut_calloc(1, sizeof *a);
    if (!a) return ut_fail(UT_ENOMEM, "out of memory");
    pthread_mutex_init(&a->mu, NULL);
    int rc = img_init(1);
    if (!rc && with_faces) rc = sort_engine_open(o, &a->engine);
    if (rc) {
        job_analyser_close(a);
        return rc;
    }
    if (with_faces) snprintf(a->model, sizeof a->model, "%s+%s", o->detector, vis_engine_embedder(a->engine)->name);
    hook->metadata = metadata;
    hook->faces = with_faces ? faces : NULL;
    hook->faces_model = with_faces ? a->model : NULL;
    hook->user = a;
    *out = a;
    return UT_OK;
}

void job_analyser_close(job_photo_analyser *a) {
    if (!a) return;
    for (int i = 0; i < a->nidle; i++) vis_worker_free(a->idle[i]);
    ut_free(a->idle);
    vis_engine_free(a->engine);
    pthread_mutex_destroy(&a->mu);
    ut_free(a);
}

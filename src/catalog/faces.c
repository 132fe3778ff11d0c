/* faces.c -- faces, people and face->person assignments.
 *
 * Invariants: a face has at most one assignment (face_person's primary
 * key). An assignment's source says who made it: CAT_SRC_CLUSTER rows are
 * the clustering's and are replaced wholesale by cat_assign_replace;
 * CAT_SRC_USER rows and named people are the user's and survive every
 * re-clustering. Embeddings are float32 BLOBs in host byte order (every
 * platform kadr targets is little-endian). */
#include "catalog_int.h"

#include <string.h>

static int oom(void) { return ut_fail(UT_ENOMEM, "catalog: out of memory"); }

/* Grow *arr (element size sz) so that index n fits. */
static int grow(void **arr, size_t *cap, size_t n, size_t sz) {
    if (n < *cap) return UT_OK;
    size_t nc = *cap ? *cap * 2 : 16;
    while (nc <= n) nc *= 2;
    void *p = ut_realloc(*arr, nc * sz);
    if (!p) return oom();
    *arr = p;
    *cap = nc;
    return UT_OK;
}

/* ---- faces ------------------------------------------------------------- */

static int insert_face(cat_db *db, int64_t photo_id, const char *model, cat_face *f) {
    if (f->dim < 0 || (f->dim > 0 && !f->embedding)) return ut_fail(UT_EINVAL, "catalog: face embedding missing");
    int rc = cat__exec(db,
                       "INSERT INTO faces(photo_id, model, x, y, w, h, landmarks, score, quality, dim, embedding) "
                       "VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                       "itddddbddib", photo_id, model, (double)f->box[0], (double)f->box[1],
                       (double)f->box[2], (double)f->box[3], (const void *)f->landmarks,
                       (int)sizeof f->landmarks, (double)f->score, (double)f->quality, (int64_t)f->dim,
                       (const void *)f->embedding, (int)(f->dim * sizeof(float)));
    if (!rc) f->id = cat__last_id(db);
    return rc;
}

int cat_photo_set_faces(cat_db *db, int64_t photo_id, const char *model, cat_face *faces, size_t n) {
    if (!model || !*model) return ut_fail(UT_EINVAL, "catalog: faces need a model id");
    int rc = cat_begin(db);
    if (rc) return rc;
    rc = cat__require(db, "SELECT 1 FROM photos WHERE id = ?", photo_id, "photo");
    if (!rc) rc = cat__exec(db, "DELETE FROM faces WHERE photo_id = ?", "i", photo_id);
    for (size_t i = 0; !rc && i < n; i++) rc = insert_face(db, photo_id, model, &faces[i]);
    if (!rc)
        rc = cat__exec(db, "UPDATE photos SET state = 1, nfaces = ?, faces_model = ? WHERE id = ?", "iti",
                       (int64_t)n, model, photo_id);
    if (rc) {
        cat_rollback(db);
        return rc;
    }
    return cat_commit(db);
}

#define FACE_COLS                                                                             \
    "f.id, f.photo_id, f.x, f.y, f.w, f.h, f.landmarks, f.score, f.quality, f.dim, f.embedding, " \
    "f.model, coalesce(a.person_id, 0), coalesce(a.source, 0)"
#define FACE_FROM " FROM faces f LEFT JOIN face_person a ON a.face_id = f.id "

static int read_face(sqlite3_stmt *st, cat_face *f) {
    memset(f, 0, sizeof *f);
    f->id = sqlite3_column_int64(st, 0);
    f->photo_id = sqlite3_column_int64(st, 1);
    for (int i = 0; i < 4; i++) f->box[i] = (float)sqlite3_column_double(st, 2 + i);
    const void *lm = sqlite3_column_blob(st, 6);
    if (lm && sqlite3_column_bytes(st, 6) == (int)sizeof f->landmarks) memcpy(f->landmarks, lm, sizeof f->landmarks);
    f->score = (float)sqlite3_column_double(st, 7);
    f->quality = (float)sqlite3_column_double(st, 8);
    f->person_id = sqlite3_column_int64(st, 12);
    f->source = sqlite3_column_int(st, 13);
    int dim = sqlite3_column_int(st, 9);
    const void *emb = sqlite3_column_blob(st, 10);
    if (dim > 0 && emb && sqlite3_column_bytes(st, 10) == dim * (int)sizeof(float)) {
        if (!(f->embedding = ut_malloc((size_t)dim * sizeof(float)))) return oom();
        memcpy(f->embedding, emb, (size_t)dim * sizeof(float));
        f->dim = dim;
    }
    int rc = cat__col_str(st, 11, &f->model);
    if (rc) cat_face_free(f);
    return rc;
}

int cat_face_get(cat_db *db, int64_t id, cat_face *out) {
    sqlite3_stmt *st = NULL;
    memset(out, 0, sizeof *out);
    int rc = cat__stmt(db, "SELECT " FACE_COLS FACE_FROM "WHERE f.id = ?", &st, "i", id);
    if (rc || (rc = cat__step(db, st)) <= 0)
        return rc < 0 ? rc : ut_fail(UT_ENOENT, "catalog: no face with id %lld", (long long)id);
    rc = read_face(st, out);
    cat__done(st);
    return rc;
}

int cat_faces_of_photo(cat_db *db, int64_t photo_id, cat_face **out, size_t *n) {
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    int rc = cat__require(db, "SELECT 1 FROM photos WHERE id = ?", photo_id, "photo");
    if (!rc) rc = cat__stmt(db, "SELECT " FACE_COLS FACE_FROM "WHERE f.photo_id = ? ORDER BY f.id", &st, "i", photo_id);
    while (!rc && (rc = cat__step(db, st)) == 1) {
        rc = UT_OK;
        rc = grow((void **)out, &cap, *n, sizeof **out);
        if (!rc) rc = read_face(st, &(*out)[*n]);
        if (!rc) ++*n;
    }
    if (rc < 0) {
        cat__done(st);
        cat_faces_free(*out, *n);
        *out = NULL;
        *n = 0;
        return rc;
    }
    return UT_OK;
}

void cat_face_free(cat_face *f) {
    if (!f) return;
    ut_free(f->embedding);
    ut_free(f->model);
    f->embedding = NULL;
    f->model = NULL;
}

void cat_faces_free(cat_face *f, size_t n) {
    if (!f) return;
    for (size_t i = 0; i < n; i++) cat_face_free(&f[i]);
    ut_free(f);
}

int cat_face_matrix(cat_db *db, const char *model, int which, int64_t **ids, float **emb, size_t *n, int *dim) {
    sqlite3_stmt *st = NULL;
    size_t cap = 0, ecap = 0;
    *ids = NULL;
    *emb = NULL;
    *n = 0;
    *dim = 0;
    int rc = cat__stmt(db,
                       "SELECT f.id, f.dim, f.embedding FROM faces f LEFT JOIN face_person a ON a.face_id = f.id "
                       "WHERE f.model = ? AND f.dim > 0 AND (? = 0 OR (? = 1 AND a.face_id IS NULL) OR "
                       "(? = 2 AND coalesce(a.source, 0) <> 2)) ORDER BY f.id",
                       &st, "tiii", model, (int64_t)which, (int64_t)which, (int64_t)which);
    while (!rc && (rc = cat__step(db, st)) == 1) {
        rc = UT_OK;
        int d = sqlite3_column_int(st, 1);
        if (*dim && d != *dim) {
            rc = ut_fail(UT_EFORMAT, "catalog: model %s has embeddings of %d and %d floats", model, *dim, d);
            break;
        }
        *dim = d;
        if ((rc = grow((void **)ids, &cap, *n, sizeof **ids))) break;
        if ((rc = grow((void **)emb, &ecap, (*n + 1) * (size_t)d, sizeof **emb))) break;
        const void *blob = sqlite3_column_blob(st, 2);
        if (!blob || sqlite3_column_bytes(st, 2) != d * (int)sizeof(float)) {
            rc = ut_fail(UT_EFORMAT, "catalog: face %lld has a damaged embedding", (long long)sqlite3_column_int64(st, 0));
            break;
        }
        (*ids)[*n] = sqlite3_column_int64(st, 0);
        memcpy(*emb + *n * (size_t)d, blob, (size_t)d * sizeof(float));
        ++*n;
    }
    if (rc < 0) {
        cat__done(st);
        ut_free(*ids);
        ut_free(*emb);
        *ids = NULL;
        *emb = NULL;
        *n = 0;
        return rc;
    }
    return UT_OK;
}

/* ---- people ------------------------------------------------------------ */

int cat_person_create(cat_db *db, const char *name, int64_t *id) {
    int64_t now = ut_wall_ms();
    int rc = cat__exec(db, "INSERT INTO people(name, created_ms, updated_ms) VALUES(?, ?, ?)", "tii",
                       name && *name ? name : NULL, now, now);
    if (!rc) *id = cat__last_id(db);
    return rc;
}

#define PERSON_SQL                                                                          \
    "SELECT p.id, p.name, coalesce(p.cover_face, 0), p.created_ms, p.updated_ms, "          \
    "(SELECT count(*) FROM face_person a WHERE a.person_id = p.id) FROM people p "

static int read_person(sqlite3_stmt *st, cat_person *p) {
    memset(p, 0, sizeof *p);
    p->id = sqlite3_column_int64(st, 0);
    p->cover_face = sqlite3_column_int64(st, 2);
    p->created_ms = sqlite3_column_int64(st, 3);
    p->updated_ms = sqlite3_column_int64(st, 4);
    p->nfaces = sqlite3_column_int64(st, 5);
    return cat__col_str(st, 1, &p->name);
}

int cat_person_get(cat_db *db, int64_t id, cat_person *out) {
    sqlite3_stmt *st = NULL;
    memset(out, 0, sizeof *out);
    int rc = cat__stmt(db, PERSON_SQL "WHERE p.id = ?", &st, "i", id);
    if (rc || (rc = cat__step(db, st)) <= 0)
        return rc < 0 ? rc : ut_fail(UT_ENOENT, "catalog: no person with id %lld", (long long)id);
    rc = read_person(st, out);
    cat__done(st);
    return rc;
}

int cat_person_list(cat_db *db, cat_person **out, size_t *n) {
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    int rc = cat__stmt(db, PERSON_SQL "ORDER BY p.id", &st, "");
    while (!rc && (rc = cat__step(db, st)) == 1) {
        rc = UT_OK;
        rc = grow((void **)out, &cap, *n, sizeof **out);
        if (!rc) rc = read_person(st, &(*out)[*n]);
        if (!rc) ++*n;
    }
    if (rc < 0) {
        cat__done(st);
        cat_people_free(*out, *n);
        *out = NULL;
        *n = 0;
        return rc;
    }
    return UT_OK;
}

static int touched(cat_db *db, int64_t id, const char *what) {
    return cat__changes(db) ? UT_OK : ut_fail(UT_ENOENT, "catalog: no %s with id %lld", what, (long long)id);
}

int cat_person_rename(cat_db *db, int64_t id, const char *name) {
    int rc = cat__exec(db, "UPDATE people SET name = ?, updated_ms = ? WHERE id = ?", "tii",
                       name && *name ? name : NULL, ut_wall_ms(), id);
    return rc ? rc : touched(db, id, "person");
}

int cat_person_set_cover(cat_db *db, int64_t id, int64_t face_id) {
    int rc = cat_begin(db);
    if (rc) return rc;
    if (face_id) rc = cat__require(db, "SELECT 1 FROM faces WHERE id = ?", face_id, "face");
    if (!rc) rc = cat__exec(db, "UPDATE people SET cover_face = ?, updated_ms = ? WHERE id = ?", "zii", face_id, ut_wall_ms(), id);
    if (!rc) rc = touched(db, id, "person");
    if (rc) {
        cat_rollback(db);
        return rc;
    }
    return cat_commit(db);
}

int cat_person_merge(cat_db *db, int64_t into, int64_t from) {
    if (into == from) return ut_fail(UT_EINVAL, "catalog: cannot merge a person into itself");
    int rc = cat_begin(db);
    if (rc) return rc;
    rc = cat__require(db, "SELECT 1 FROM people WHERE id = ?", into, "person");
    if (!rc) rc = cat__require(db, "SELECT 1 FROM people WHERE id = ?", from, "person");
    /* Merging is a user decision: the moved faces become the user's. */
    if (!rc) rc = cat__exec(db, "UPDATE face_person SET person_id = ?, source = 2 WHERE person_id = ?", "ii", into, from);
    if (!rc) rc = cat__exec(db, "UPDATE people SET updated_ms = ?, name = coalesce(name, (SELECT name FROM people "
                                "WHERE id = ?)) WHERE id = ?", "iii", ut_wall_ms(), from, into);
    if (!rc) rc = cat__exec(db, "DELETE FROM people WHERE id = ?", "i", from);
    if (rc) {
        cat_rollback(db);
        return rc;
    }
    return cat_commit(db);
}

int cat_person_delete(cat_db *db, int64_t id) {
    int rc = cat__exec(db, "DELETE FROM people WHERE id = ?", "i", id);
    return rc ? rc : touched(db, id, "person");
}

int cat_face_assign(cat_db *db, int64_t face_id, int64_t person_id, int source) {
    if (source != CAT_SRC_CLUSTER && source != CAT_SRC_USER) return ut_fail(UT_EINVAL, "catalog: bad assignment source %d", source);
    int rc = cat_begin(db);
    if (rc) return rc;
    rc = cat__require(db, "SELECT 1 FROM faces WHERE id = ?", face_id, "face");
    if (!rc && person_id) rc = cat__require(db, "SELECT 1 FROM people WHERE id = ?", person_id, "person");
    if (!rc && !person_id) rc = cat__exec(db, "DELETE FROM face_person WHERE face_id = ?", "i", face_id);
    if (!rc && person_id)
        rc = cat__exec(db, "INSERT INTO face_person(face_id, person_id, source, created_ms) VALUES(?,?,?,?) "
                           "ON CONFLICT(face_id) DO UPDATE SET person_id = excluded.person_id, "
                           "source = excluded.source, created_ms = excluded.created_ms",
                       "iiii", face_id, person_id, (int64_t)source, ut_wall_ms());
    if (rc) {
        cat_rollback(db);
        return rc;
    }
    return cat_commit(db);
}

static int id_list(cat_db *db, const char *sql, int64_t key, int64_t **ids, size_t *n) {
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    *ids = NULL;
    *n = 0;
    int rc = cat__stmt(db, sql, &st, "i", key);
    while (!rc && (rc = cat__step(db, st)) == 1) {
        rc = UT_OK;
        rc = grow((void **)ids, &cap, *n, sizeof **ids);
        if (!rc) (*ids)[(*n)++] = sqlite3_column_int64(st, 0);
    }
    if (rc < 0) {
        cat__done(st);
        ut_free(*ids);
        *ids = NULL;
        *n = 0;
        return rc;
    }
    return UT_OK;
}

int cat_person_faces(cat_db *db, int64_t person_id, int64_t **face_ids, size_t *n) {
    int rc = cat__require(db, "SELECT 1 FROM people WHERE id = ?", person_id, "person");
    return rc ? rc : id_list(db, "SELECT face_id FROM face_person WHERE person_id = ? ORDER BY face_id", person_id, face_ids, n);
}

int cat_person_photos(cat_db *db, int64_t person_id, int64_t **photo_ids, size_t *n) {
    int rc = cat__require(db, "SELECT 1 FROM people WHERE id = ?", person_id, "person");
    return rc ? rc
              : id_list(db, "SELECT DISTINCT p.id FROM photos p JOIN faces f ON f.photo_id = p.id "
                            "JOIN face_person a ON a.face_id = f.id WHERE a.person_id = ? ORDER BY p.path",
                        person_id, photo_ids, n);
}

void cat_person_free(cat_person *p) {
    if (p) {
        ut_free(p->name);
        p->name = NULL;
    }
}

void cat_people_free(cat_person *p, size_t n) {
    if (!p) return;
    for (size_t i = 0; i < n; i++) cat_person_free(&p[i]);
    ut_free(p);
}

/* ---- anchors and re-clustering ---------------------------------------- */

static int add_anchor_face(cat_anchor *a, int64_t face_id, const void *blob, int dim) {
    int64_t *ids = ut_realloc(a->face_ids, (a->nfaces + 1) * sizeof *ids);
    if (!ids) return oom();
    a->face_ids = ids;
    float *emb = ut_realloc(a->emb, (a->nfaces + 1) * (size_t)dim * sizeof *emb);
    if (!emb) return oom();
    a->emb = emb;
    memcpy(emb + a->nfaces * (size_t)dim, blob, (size_t)dim * sizeof(float));
    a->face_ids[a->nfaces++] = face_id;
    a->dim = dim;
    return UT_OK;
}

int cat_anchors(cat_db *db, const char *model, cat_anchor **out, size_t *n) {
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    int rc = cat__stmt(db,
                       "SELECT p.id, p.name, f.id, f.dim, f.embedding FROM people p "
                       "JOIN face_person a ON a.person_id = p.id JOIN faces f ON f.id = a.face_id "
                       "WHERE p.name IS NOT NULL AND f.model = ? AND f.dim > 0 ORDER BY p.id, f.id",
                       &st, "t", model);
    while (!rc && (rc = cat__step(db, st)) == 1) {
        rc = UT_OK;
        int64_t pid = sqlite3_column_int64(st, 0);
        int dim = sqlite3_column_int(st, 3);
        const void *blob = sqlite3_column_blob(st, 4);
        if (!blob || sqlite3_column_bytes(st, 4) != dim * (int)sizeof(float)) continue;
        if (!*n || (*out)[*n - 1].person_id != pid) {
            if ((rc = grow((void **)out, &cap, *n, sizeof **out))) break;
            cat_anchor *a = &(*out)[(*n)++];
            memset(a, 0, sizeof *a);
            a->person_id = pid;
            if ((rc = cat__col_str(st, 1, &a->name))) break;
        }
        cat_anchor *a = &(*out)[*n - 1];
        if (a->nfaces && a->dim != dim) {
            rc = ut_fail(UT_EFORMAT, "catalog: model %s has embeddings of different lengths", model);
            break;
        }
        rc = add_anchor_face(a, sqlite3_column_int64(st, 2), blob, dim);
    }
    if (rc < 0) {
        cat__done(st);
        cat_anchors_free(*out, *n);
        *out = NULL;
        *n = 0;
        return rc;
    }
    return UT_OK;
}

void cat_anchors_free(cat_anchor *a, size_t n) {
    if (!a) return;
    for (size_t i = 0; i < n; i++) {
        ut_free(a[i].name);
        ut_free(a[i].face_ids);
        ut_free(a[i].emb);
    }
    ut_free(a);
}

static int apply_one(cat_db *db, const cat_assignment *a, const int64_t *made, int64_t now) {
    int64_t person = a->person_id > 0 ? a->person_id : a->cluster >= 0 ? made[a->cluster] : 0;
    if (!person) return UT_OK;
    /* DO NOTHING keeps any user assignment of that face. */
    return cat__exec(db, "INSERT INTO face_person(face_id, person_id, source, created_ms) VALUES(?,?,1,?) "
                         "ON CONFLICT(face_id) DO NOTHING", "iii", a->face_id, person, now);
}

int cat_assign_replace(cat_db *db, const cat_assignment *a, size_t n, int64_t **new_people, int *nclusters) {
    int k = 0;
    for (size_t i = 0; i < n; i++)
        if (a[i].cluster >= k) k = a[i].cluster + 1;
    int64_t *made = ut_calloc((size_t)k + 1, sizeof *made);
    if (!made) return oom();
    int64_t now = ut_wall_ms();
    int rc = cat_begin(db), began = rc == UT_OK;
    /* Unnamed people emptied here are deleted only at the end, so that a[]
     * may keep a cluster on the person it had before (stable ids). */
    if (!rc) rc = cat__exec(db, "DELETE FROM face_person WHERE source = 1", "");
    for (int c = 0; !rc && c < k; c++) rc = cat_person_create(db, NULL, &made[c]);
    for (size_t i = 0; !rc && i < n; i++) {
        if (a[i].person_id > 0) rc = cat__require(db, "SELECT 1 FROM people WHERE id = ?", a[i].person_id, "person");
        if (!rc) rc = apply_one(db, &a[i], made, now);
        if (rc == UT_EEXIST) rc = ut_fail(UT_ENOENT, "catalog: no face with id %lld", (long long)a[i].face_id);
    }
    /* Unnamed people left without faces: old clusters not kept, and
     * clusters whose every face was user-assigned. */
    if (!rc) rc = cat__exec(db, "DELETE FROM people WHERE name IS NULL AND NOT EXISTS "
                                "(SELECT 1 FROM face_person a WHERE a.person_id = people.id)", "");
    if (!rc) rc = cat_commit(db);
    else if (began) cat_rollback(db);
    if (rc) {
        ut_free(made);
        return rc;
    }
    for (int c = 0; c < k; c++)
        if (cat__require(db, "SELECT 1 FROM people WHERE id = ?", made[c], "person")) made[c] = 0;
    ut_err_clear();
    if (nclusters) *nclusters = k;
    if (new_people) *new_people = made;
    else ut_free(made);
    return UT_OK;
}

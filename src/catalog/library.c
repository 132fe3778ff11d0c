/* library.c -- library roots and photos, and the two-step "is this file
 * new or changed" check behind incremental indexing:
 *
 *   1. cat_file_status: same (size, mtime) as stored -> unchanged, skip.
 *   2. otherwise the caller hashes the file and calls cat_photo_upsert:
 *      same hash -> only the stat fields move (a touch or a copy back);
 *      new hash  -> faces and results are dropped, state back to INDEXED.
 *
 * Photo paths are stored relative to their root, so a root can move on
 * disk by updating one row. */
#include "catalog_int.h"

#include <string.h>

/* ---- roots ------------------------------------------------------------- */

int cat_root_add(cat_db *db, const char *abs_path, int64_t *id) {
    if (!abs_path || abs_path[0] != '/')
        return ut_fail(UT_EINVAL, "catalog: a library root must be an absolute path");
    int rc = cat__exec(db, "INSERT INTO roots(path, created_ms) VALUES(?, ?) ON CONFLICT(path) DO NOTHING",
                       "ti", abs_path, ut_wall_ms());
    if (rc) return rc;
    return cat_root_find(db, abs_path, id);
}

int cat_root_find(cat_db *db, const char *abs_path, int64_t *id) {
    int rc = cat__query_i64(db, "SELECT id FROM roots WHERE path = ?", id, "t", abs_path);
    if (rc == UT_ENOENT) return ut_fail(UT_ENOENT, "catalog: %s is not a library root", abs_path);
    return rc;
}

int cat_root_for_path(cat_db *db, const char *abs_path, int64_t *id) {
    cat_root *roots;
    size_t n;
    int rc = cat_root_list(db, &roots, &n);
    if (rc) return rc;
    size_t best = 0, best_len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(roots[i].path);
        if (ut_path_within(roots[i].path, abs_path) && len > best_len) {
            best = i;
            best_len = len;
        }
    }
    if (best_len) *id = roots[best].id;
    cat_roots_free(roots, n);
    return best_len ? UT_OK : ut_fail(UT_ENOENT, "catalog: %s is not inside a library root", abs_path);
}

static int read_root(sqlite3_stmt *st, cat_root *r) {
    r->id = sqlite3_column_int64(st, 0);
    r->created_ms = sqlite3_column_int64(st, 2);
    return cat__col_str(st, 1, &r->path);
}

int cat_root_get(cat_db *db, int64_t id, cat_root *out) {
    sqlite3_stmt *st = NULL;
    memset(out, 0, sizeof *out);
    int rc = cat__stmt(db, "SELECT id, path, created_ms FROM roots WHERE id = ?", &st, "i", id);
    if (rc || (rc = cat__step(db, st)) <= 0)
        return rc < 0 ? rc : ut_fail(UT_ENOENT, "catalog: no library root with id %lld", (long long)id);
    rc = read_root(st, out);
    cat__done(st);
    return rc;
}

int cat_root_list(cat_db *db, cat_root **out, size_t *n) {
    sqlite3_stmt *st = NULL;
    *out = NULL;
    *n = 0;
    int rc = cat__stmt(db, "SELECT id, path, created_ms FROM roots ORDER BY id", &st, "");
    size_t cap = 0;
    while (!rc && (rc = cat__step(db, st)) == 1) {
        rc = UT_OK;
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            cat_root *grown = ut_realloc(*out, cap * sizeof **out);
            if (!grown) {
                rc = ut_fail(UT_ENOMEM, "catalog: out of memory");
                break;
            }
            *out = grown;
        }
        memset(&(*out)[*n], 0, sizeof **out);
        rc = read_root(st, &(*out)[(*n)++]);
    }
    cat__done(st);
    if (rc < 0) {
        cat_roots_free(*out, *n);
        *out = NULL;
        *n = 0;
        return rc;
    }
    return UT_OK;
}

int cat_root_remove(cat_db *db, int64_t id) {
    int rc = cat__exec(db, "DELETE FROM roots WHERE id = ?", "i", id);
    if (!rc && cat__changes(db) == 0) return ut_fail(UT_ENOENT, "catalog: no library root with id %lld", (long long)id);
    return rc;
}

void cat_root_free(cat_root *r) {
    if (r) ut_free(r->path);
}

void cat_roots_free(cat_root *r, size_t n) {
    if (!r) return;
    for (size_t i = 0; i < n; i++) cat_root_free(&r[i]);
    ut_free(r);
}

/* ---- photos ------------------------------------------------------------ */

#define PHOTO_COLS                                                                         \
    "id, root_id, path, hash, size, mtime_ns, format, taken_ms, camera, lat, lon, width, " \
    "height, state, nfaces, faces_model, indexed_ms"

static void copy_text(sqlite3_stmt *st, int col, char *dst, size_t cap) {
    const char *s = (const char *)sqlite3_column_text(st, col);
    dst[0] = 0;
    if (s) snprintf(dst, cap, "%s", s);
}

static int read_photo(sqlite3_stmt *st, cat_photo *p) {
    memset(p, 0, sizeof *p);
    p->id = sqlite3_column_int64(st, 0);
    p->root_id = sqlite3_column_int64(st, 1);
    copy_text(st, 3, p->hash, sizeof p->hash);
    p->size = sqlite3_column_int64(st, 4);
    p->mtime_ns = sqlite3_column_int64(st, 5);
    copy_text(st, 6, p->format, sizeof p->format);
    p->taken_ms = sqlite3_column_int64(st, 7);
    p->has_gps = sqlite3_column_type(st, 9) != SQLITE_NULL;
    p->lat = sqlite3_column_double(st, 9);
    p->lon = sqlite3_column_double(st, 10);
    p->width = sqlite3_column_int(st, 11);
    p->height = sqlite3_column_int(st, 12);
    p->state = sqlite3_column_int(st, 13);
    p->nfaces = sqlite3_column_int(st, 14);
    p->indexed_ms = sqlite3_column_int64(st, 16);
    int rc = cat__col_str(st, 2, &p->path);
    if (!rc) rc = cat__col_str(st, 8, &p->camera);
    if (!rc) rc = cat__col_str(st, 15, &p->faces_model);
    if (rc) cat_photo_free(p);
    return rc;
}

int cat_file_status(cat_db *db, int64_t root_id, const char *rel, int64_t size, int64_t mtime_ns,
                    int *status, int64_t *photo_id) {
    sqlite3_stmt *st = NULL;
    int rc = cat__stmt(db, "SELECT id, size, mtime_ns, state FROM photos WHERE root_id = ? AND path = ?",
                       &st, "it", root_id, rel);
    if (rc) return rc;
    rc = cat__step(db, st);
    if (rc < 0) return rc;
    *status = CAT_FILE_NEW;
    *photo_id = 0;
    if (rc == 1) {
        *photo_id = sqlite3_column_int64(st, 0);
        int same = sqlite3_column_int64(st, 1) == size && sqlite3_column_int64(st, 2) == mtime_ns &&
                   sqlite3_column_int(st, 3) != CAT_PHOTO_MISSING;
        *status = same ? CAT_FILE_UNCHANGED : CAT_FILE_STAT_CHANGED;
        cat__done(st);
    }
    return UT_OK;
}

static int insert_photo(cat_db *db, cat_photo *p) {
    int rc = cat__exec(db,
                       "INSERT INTO photos(root_id, path, hash, size, mtime_ns, format, taken_ms, camera, "
                       "lat, lon, width, height, state, nfaces, indexed_ms) "
                       "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,0,0,?)",
                       "ittiitztttiii", p->root_id, p->path, p->hash, p->size, p->mtime_ns,
                       p->format[0] ? p->format : NULL, p->taken_ms, p->camera, NULL, NULL,
                       (int64_t)p->width, (int64_t)p->height, ut_wall_ms());
    if (rc) return rc;
    p->id = cat__last_id(db);
    if (p->has_gps)
        rc = cat__exec(db, "UPDATE photos SET lat = ?, lon = ? WHERE id = ?", "ddi", p->lat, p->lon, p->id);
    p->state = CAT_PHOTO_INDEXED;
    return rc;
}

/* Refresh stat fields and any metadata the caller knows; keep the rest. */
static int refresh_photo(cat_db *db, const cat_photo *p, int content_changed) {
    int rc = cat__exec(db,
                       "UPDATE photos SET hash = ?, size = ?, mtime_ns = ?, "
                       "format = coalesce(?, format), taken_ms = coalesce(?, taken_ms), "
                       "camera = coalesce(?, camera), width = coalesce(?, width), "
                       "height = coalesce(?, height), indexed_ms = ? WHERE id = ?",
                       "tiitztzzii", p->hash, p->size, p->mtime_ns, p->format[0] ? p->format : NULL,
                       p->taken_ms, p->camera, (int64_t)p->width, (int64_t)p->height, ut_wall_ms(), p->id);
    if (!rc && p->has_gps)
        rc = cat__exec(db, "UPDATE photos SET lat = ?, lon = ? WHERE id = ?", "ddi", p->lat, p->lon, p->id);
    if (rc) return rc;
    if (content_changed) {
        rc = cat__exec(db, "DELETE FROM faces WHERE photo_id = ?", "i", p->id);
        if (!rc) rc = cat__exec(db, "DELETE FROM results WHERE photo_id = ?", "i", p->id);
        if (!rc) rc = cat__exec(db, "UPDATE photos SET state = 0, nfaces = 0, faces_model = NULL WHERE id = ?", "i", p->id);
    } else {
        /* A photo found again after being missing is back in its old state. */
        rc = cat__exec(db, "UPDATE photos SET state = CASE WHEN faces_model IS NULL THEN 0 ELSE 1 END "
                           "WHERE id = ? AND state = 3", "i", p->id);
    }
    return rc;
}

int cat_photo_upsert(cat_db *db, cat_photo *p, int *what) {
    if (!p->path || !p->path[0] || p->path[0] == '/')
        return ut_fail(UT_EINVAL, "catalog: a photo path must be relative to its root");
    int rc = cat_begin(db);
    if (rc) return rc;
    sqlite3_stmt *st = NULL;
    rc = cat__stmt(db, "SELECT id, hash FROM photos WHERE root_id = ? AND path = ?", &st, "it", p->root_id, p->path);
    if (!rc) rc = cat__step(db, st);
    if (rc == 0) {
        rc = insert_photo(db, p);
        if (what) *what = CAT_UPSERT_NEW;
    } else if (rc == 1) {
        p->id = sqlite3_column_int64(st, 0);
        const char *old = (const char *)sqlite3_column_text(st, 1);
        int changed = !old || strcmp(old, p->hash) != 0;
        cat__done(st);
        rc = refresh_photo(db, p, changed);
        if (what) *what = changed ? CAT_UPSERT_CHANGED : CAT_UPSERT_SAME;
    }
    if (rc) {
        cat_rollback(db);
        if (rc == UT_EEXIST) return ut_fail(UT_ENOENT, "catalog: no library root with id %lld", (long long)p->root_id);
        return rc;
    }
    return cat_commit(db);
}

static int get_one(cat_db *db, sqlite3_stmt *st, cat_photo *out, const char *what) {
    int rc = cat__step(db, st);
    if (rc <= 0) return rc < 0 ? rc : ut_fail(UT_ENOENT, "catalog: no photo %s", what);
    rc = read_photo(st, out);
    cat__done(st);
    return rc;
}

int cat_photo_get(cat_db *db, int64_t id, cat_photo *out) {
    sqlite3_stmt *st = NULL;
    memset(out, 0, sizeof *out);
    int rc = cat__stmt(db, "SELECT " PHOTO_COLS " FROM photos WHERE id = ?", &st, "i", id);
    if (rc) return rc;
    char what[48];
    snprintf(what, sizeof what, "with id %lld", (long long)id);
    return get_one(db, st, out, what);
}

int cat_photo_find(cat_db *db, int64_t root_id, const char *rel, cat_photo *out) {
    sqlite3_stmt *st = NULL;
    memset(out, 0, sizeof *out);
    int rc = cat__stmt(db, "SELECT " PHOTO_COLS " FROM photos WHERE root_id = ? AND path = ?", &st, "it",
                       root_id, rel);
    if (rc) return rc;
    return get_one(db, st, out, rel);
}

int cat_photo_set_state(cat_db *db, int64_t id, int state) {
    if (state < CAT_PHOTO_INDEXED || state > CAT_PHOTO_MISSING) return ut_fail(UT_EINVAL, "catalog: bad photo state %d", state);
    int rc = cat__exec(db, "UPDATE photos SET state = ? WHERE id = ?", "ii", (int64_t)state, id);
    if (!rc && cat__changes(db) == 0) return ut_fail(UT_ENOENT, "catalog: no photo with id %lld", (long long)id);
    return rc;
}

int cat_photo_list(cat_db *db, int64_t root_id, int state_filter, int64_t offset, int64_t limit,
                   cat_photo **out, size_t *n) {
    sqlite3_stmt *st = NULL;
    *out = NULL;
    *n = 0;
    int rc = cat__stmt(db, "SELECT " PHOTO_COLS " FROM photos WHERE root_id = ? AND (? < 0 OR state = ?) "
                           "ORDER BY path LIMIT ? OFFSET ?", &st, "iiiii", root_id, (int64_t)state_filter,
                       (int64_t)state_filter, limit > 0 ? limit : INT64_MAX, offset);
    size_t cap = 0;
    while (!rc && (rc = cat__step(db, st)) == 1) {
        rc = UT_OK;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            cat_photo *grown = ut_realloc(*out, cap * sizeof **out);
            if (!grown) {
                rc = ut_fail(UT_ENOMEM, "catalog: out of memory");
                break;
            }
            *out = grown;
        }
        rc = read_photo(st, &(*out)[*n]);
        if (!rc) ++*n;
    }
    cat__done(st);
    if (rc < 0) {
        cat_photos_free(*out, *n);
        *out = NULL;
        *n = 0;
        return rc;
    }
    return UT_OK;
}

int cat_photo_count(cat_db *db, int64_t root_id, int state_filter, int64_t *count) {
    return cat__query_i64(db, "SELECT count(*) FROM photos WHERE root_id = ? AND (? < 0 OR state = ?)", count,
                          "iii", root_id, (int64_t)state_filter, (int64_t)state_filter);
}

int cat_photo_mark_missing(cat_db *db, int64_t root_id, int64_t job_id, int64_t *marked) {
    int rc = cat__exec(db, "UPDATE photos SET state = 3 WHERE root_id = ? AND state <> 3 AND path NOT IN "
                           "(SELECT key FROM job_items WHERE job_id = ?)", "ii", root_id, job_id);
    if (!rc && marked) *marked = cat__changes(db);
    return rc;
}

void cat_photo_free(cat_photo *p) {
    if (!p) return;
    ut_free(p->path);
    ut_free(p->camera);
    ut_free(p->faces_model);
    p->path = p->camera = p->faces_model = NULL;
}

void cat_photos_free(cat_photo *p, size_t n) {
    if (!p) return;
    for (size_t i = 0; i < n; i++) cat_photo_free(&p[i]);
    ut_free(p);
}

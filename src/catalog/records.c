/* records.c -- analysis results, history, uploads and the folder queue:
 * small tables whose payloads are JSON stored as text. */
#include "catalog_int.h"

#include <string.h>

static int oom(void) { return ut_fail(UT_ENOMEM, "catalog: out of memory"); }

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

static int changed_or_enoent(cat_db *db, const char *what, int64_t id) {
    return cat__changes(db) ? UT_OK : ut_fail(UT_ENOENT, "catalog: no %s with id %lld", what, (long long)id);
}

/* ---- results ----------------------------------------------------------- */

int cat_result_put(cat_db *db, int64_t photo_id, const char *model, const char *kind, const char *json) {
    if (!model || !*model || !kind || !json) return ut_fail(UT_EINVAL, "catalog: a result needs model, kind and JSON");
    int rc = cat__exec(db, "INSERT INTO results(photo_id, model, kind, data, created_ms) VALUES(?,?,?,?,?) "
                           "ON CONFLICT(photo_id, model) DO UPDATE SET kind = excluded.kind, "
                           "data = excluded.data, created_ms = excluded.created_ms",
                       "ittti", photo_id, model, kind, json, ut_wall_ms());
    if (rc == UT_EEXIST) return ut_fail(UT_ENOENT, "catalog: no photo with id %lld", (long long)photo_id);
    return rc;
}

int cat_result_get(cat_db *db, int64_t photo_id, const char *model, char **kind, char **json) {
    sqlite3_stmt *st = NULL;
    *json = NULL;
    if (kind) *kind = NULL;
    int rc = cat__stmt(db, "SELECT kind, data FROM results WHERE photo_id = ? AND model = ?", &st, "it", photo_id, model);
    if (rc || (rc = cat__step(db, st)) <= 0)
        return rc < 0 ? rc : ut_fail(UT_ENOENT, "catalog: no %s result for photo %lld", model, (long long)photo_id);
    rc = cat__col_str(st, 1, json);
    if (!rc && kind) rc = cat__col_str(st, 0, kind);
    cat__done(st);
    if (rc) {
        ut_free(*json);
        *json = NULL;
    }
    return rc;
}

int cat_result_delete(cat_db *db, int64_t photo_id, const char *model) {
    int rc = cat__exec(db, "DELETE FROM results WHERE photo_id = ? AND model = ?", "it", photo_id, model);
    return rc ? rc : changed_or_enoent(db, "result for photo", photo_id);
}

int cat_result_photos(cat_db *db, const char *model, int64_t **photo_ids, size_t *n) {
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    *photo_ids = NULL;
    *n = 0;
    int rc = cat__stmt(db, "SELECT photo_id FROM results WHERE model = ? ORDER BY photo_id", &st, "t", model);
    while (!rc && (rc = cat__step(db, st)) == 1) {
        rc = UT_OK;
        rc = grow((void **)photo_ids, &cap, *n, sizeof **photo_ids);
        if (!rc) (*photo_ids)[(*n)++] = sqlite3_column_int64(st, 0);
    }
    if (rc < 0) {
        cat__done(st);
        ut_free(*photo_ids);
        *photo_ids = NULL;
        *n = 0;
        return rc;
    }
    return UT_OK;
}

/* ---- history ----------------------------------------------------------- */

int cat_history_add(cat_db *db, const char *kind, const char *subject, const char *json, int64_t *id) {
    if (!kind || !*kind) return ut_fail(UT_EINVAL, "catalog: history needs a kind");
    int rc = cat__exec(db, "INSERT INTO history(ts_ms, kind, subject, data) VALUES(?,?,?,?)", "ittt", ut_wall_ms(),
                       kind, subject, json);
    if (!rc && id) *id = cat__last_id(db);
    return rc;
}

int cat_history_list(cat_db *db, const char *kind, int64_t before_id, int limit, cat_history **out, size_t *n) {
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    int rc = cat__stmt(db, "SELECT id, ts_ms, kind, subject, data FROM history WHERE (? IS NULL OR kind = ?) "
                           "AND (? = 0 OR id < ?) ORDER BY id DESC LIMIT ?",
                       &st, "ttiii", kind, kind, before_id, before_id, (int64_t)(limit > 0 ? limit : 100));
    while (!rc && (rc = cat__step(db, st)) == 1) {
        rc = UT_OK;
        if ((rc = grow((void **)out, &cap, *n, sizeof **out))) break;
        cat_history *h = &(*out)[(*n)++];
        memset(h, 0, sizeof *h);
        h->id = sqlite3_column_int64(st, 0);
        h->ts_ms = sqlite3_column_int64(st, 1);
        rc = cat__col_str(st, 2, &h->kind);
        if (!rc) rc = cat__col_str(st, 3, &h->subject);
        if (!rc) rc = cat__col_str(st, 4, &h->data);
    }
    if (rc < 0) {
        cat__done(st);
        cat_history_free(*out, *n);
        *out = NULL;
        *n = 0;
        return rc;
    }
    return UT_OK;
}

void cat_history_free(cat_history *h, size_t n) {
    if (!h) return;
    for (size_t i = 0; i < n; i++) {
        ut_free(h[i].kind);
        ut_free(h[i].subject);
        ut_free(h[i].data);
    }
    ut_free(h);
}

/* ---- uploads ----------------------------------------------------------- */

int cat_upload_add(cat_db *db, const cat_upload *u, int64_t *id) {
    if (!u->path || !*u->path) return ut_fail(UT_EINVAL, "catalog: an upload needs a path");
    int rc = cat__exec(db, "INSERT INTO uploads(root_id, path, name, content_type, size, hash, created_ms) "
                           "VALUES(?,?,?,?,?,?,?)",
                       "ztttiti", u->root_id, u->path, u->name, u->content_type, u->size,
                       u->hash[0] ? u->hash : NULL, ut_wall_ms());
    if (rc == UT_EEXIST) return ut_fail(UT_ENOENT, "catalog: no library root with id %lld", (long long)u->root_id);
    if (!rc && id) *id = cat__last_id(db);
    return rc;
}

#define UPLOAD_COLS "id, coalesce(root_id, 0), path, name, content_type, size, hash, created_ms"

static int read_upload(sqlite3_stmt *st, cat_upload *u) {
    memset(u, 0, sizeof *u);
    u->id = sqlite3_column_int64(st, 0);
    u->root_id = sqlite3_column_int64(st, 1);
    u->size = sqlite3_column_int64(st, 5);
    const char *h = (const char *)sqlite3_column_text(st, 6);
    if (h) snprintf(u->hash, sizeof u->hash, "%s", h);
    u->created_ms = sqlite3_column_int64(st, 7);
    int rc = cat__col_str(st, 2, &u->path);
    if (!rc) rc = cat__col_str(st, 3, &u->name);
    if (!rc) rc = cat__col_str(st, 4, &u->content_type);
    if (rc) cat_upload_free(u);
    return rc;
}

int cat_upload_get(cat_db *db, int64_t id, cat_upload *out) {
    sqlite3_stmt *st = NULL;
    memset(out, 0, sizeof *out);
    int rc = cat__stmt(db, "SELECT " UPLOAD_COLS " FROM uploads WHERE id = ?", &st, "i", id);
    if (rc || (rc = cat__step(db, st)) <= 0)
        return rc < 0 ? rc : ut_fail(UT_ENOENT, "catalog: no upload with id %lld", (long long)id);
    rc = read_upload(st, out);
    cat__done(st);
    return rc;
}

int cat_upload_list(cat_db *db, int64_t offset, int64_t limit, cat_upload **out, size_t *n) {
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    int rc = cat__stmt(db, "SELECT " UPLOAD_COLS " FROM uploads ORDER BY id LIMIT ? OFFSET ?", &st, "ii",
                       limit > 0 ? limit : INT64_MAX, offset);
    while (!rc && (rc = cat__step(db, st)) == 1) {
        rc = UT_OK;
        rc = grow((void **)out, &cap, *n, sizeof **out);
        if (!rc) rc = read_upload(st, &(*out)[*n]);
        if (!rc) ++*n;
    }
    if (rc < 0) {
        cat__done(st);
        cat_uploads_free(*out, *n);
        *out = NULL;
        *n = 0;
        return rc;
    }
    return UT_OK;
}

int cat_upload_delete(cat_db *db, int64_t id) {
    int rc = cat__exec(db, "DELETE FROM uploads WHERE id = ?", "i", id);
    return rc ? rc : changed_or_enoent(db, "upload", id);
}

void cat_upload_free(cat_upload *u) {
    if (!u) return;
    ut_free(u->path);
    ut_free(u->name);
    ut_free(u->content_type);
    u->path = u->name = u->content_type = NULL;
}

void cat_uploads_free(cat_upload *u, size_t n) {
    if (!u) return;
    for (size_t i = 0; i < n; i++) cat_upload_free(&u[i]);
    ut_free(u);
}

/* ---- folder queue ------------------------------------------------------ */

int cat_folder_add(cat_db *db, const char *abs_path, int64_t *id) {
    if (!abs_path || abs_path[0] != '/') return ut_fail(UT_EINVAL, "catalog: a queued folder must be an absolute path");
    int rc = cat__exec(db, "INSERT INTO folder_queue(path, added_ms) VALUES(?, ?) ON CONFLICT(path) DO NOTHING",
                       "ti", abs_path, ut_wall_ms());
    if (!rc) rc = cat__query_i64(db, "SELECT id FROM folder_queue WHERE path = ?", id, "t", abs_path);
    return rc;
}

int cat_folder_list(cat_db *db, cat_folder **out, size_t *n) {
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    int rc = cat__stmt(db, "SELECT id, path, added_ms, coalesce(job_id, 0) FROM folder_queue ORDER BY id", &st, "");
    while (!rc && (rc = cat__step(db, st)) == 1) {
        rc = UT_OK;
        if ((rc = grow((void **)out, &cap, *n, sizeof **out))) break;
        cat_folder *f = &(*out)[(*n)++];
        memset(f, 0, sizeof *f);
        f->id = sqlite3_column_int64(st, 0);
        f->added_ms = sqlite3_column_int64(st, 2);
        f->job_id = sqlite3_column_int64(st, 3);
        rc = cat__col_str(st, 1, &f->path);
    }
    if (rc < 0) {
        cat__done(st);
        cat_folders_free(*out, *n);
        *out = NULL;
        *n = 0;
        return rc;
    }
    return UT_OK;
}

int cat_folder_set_job(cat_db *db, int64_t id, int64_t job_id) {
    int rc = cat__exec(db, "UPDATE folder_queue SET job_id = ? WHERE id = ?", "zi", job_id, id);
    if (rc == UT_EEXIST) return ut_fail(UT_ENOENT, "catalog: no job with id %lld", (long long)job_id);
    return rc ? rc : changed_or_enoent(db, "queued folder", id);
}

int cat_folder_remove(cat_db *db, int64_t id) {
    int rc = cat__exec(db, "DELETE FROM folder_queue WHERE id = ?", "i", id);
    return rc ? rc : changed_or_enoent(db, "queued folder", id);
}

int cat_folder_clear(cat_db *db) { return cat__exec(db, "DELETE FROM folder_queue WHERE job_id IS NULL", ""); }

void cat_folders_free(cat_folder *f, size_t n) {
    if (!f) return;
    for (size_t i = 0; i < n; i++) ut_free(f[i].path);
    ut_free(f);
}

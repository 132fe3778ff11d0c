/* db.c -- opening the catalog, the statement cache, transactions and the
 * small helpers every other catalog file uses.
 *
 * A connection is configured for durable, concurrent use: WAL journal
 * (readers never block the writer), synchronous=NORMAL (a commit is
 * durable once the WAL is checkpointed; a crash never corrupts),
 * foreign_keys=ON, a busy timeout so writers queue instead of failing.
 * Writes that need more than one statement take the write lock up front
 * (BEGIN IMMEDIATE) so two writers never deadlock upgrading read locks. */
#include "catalog_int.h"

#include <stdarg.h>
#include <string.h>

#ifndef CAT_PAGE_SIZE
#define CAT_PAGE_SIZE "8192"
#endif
#ifndef CAT_WAL_PAGES
#define CAT_WAL_PAGES "4000"
#endif

int cat__fail(cat_db *db, int rc, const char *what) {
    int code;
    switch (rc & 0xff) {
    case SQLITE_NOMEM: code = UT_ENOMEM; break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: code = UT_EBUSY; break;
    case SQLITE_CONSTRAINT: code = rc == SQLITE_CONSTRAINT_CHECK ? UT_EINVAL : UT_EEXIST; break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: code = UT_EFORMAT; break;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY: code = UT_EACCES; break;
    case SQLITE_TOOBIG: code = UT_ETOOBIG; break;
    case SQLITE_RANGE:
    case SQLITE_MISUSE: code = UT_EINVAL; break;
    default: code = UT_EIO;
    }
    const char *msg = db && db->db ? sqlite3_errmsg(db->db) : sqlite3_errstr(rc);
    return ut_fail(code, "catalog: %s: %s", what, msg);
}

static sqlite3_stmt *cache_find(cat_db *db, const char *sql) {
    for (int i = 0; i < db->ncached; i++)
        if (db->cache[i].sql == sql) return db->cache[i].st;
    for (int i = 0; i < db->ncached; i++)
        if (strcmp(db->cache[i].sql, sql) == 0) return db->cache[i].st;
    return NULL;
}

static int prepare(cat_db *db, const char *sql, sqlite3_stmt **out) {
    sqlite3_stmt *st = cache_find(db, sql);
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        *out = st;
        return UT_OK;
    }
    int rc = sqlite3_prepare_v3(db->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK) return cat__fail(db, rc, "prepare");
    if (db->ncached < CAT_STMT_CACHE) db->cache[db->ncached++] = (cat__cached){sql, st};
    else {
        /* Cache full (should not happen: the SQL set is fixed); evict the
         * oldest entry so memory stays bounded. */
        sqlite3_finalize(db->cache[0].st);
        memmove(db->cache, db->cache + 1, (CAT_STMT_CACHE - 1) * sizeof db->cache[0]);
        db->cache[CAT_STMT_CACHE - 1] = (cat__cached){sql, st};
    }
    *out = st;
    return UT_OK;
}

static int bind_all(cat_db *db, sqlite3_stmt *st, const char *fmt, va_list ap) {
    int rc = SQLITE_OK;
    for (int i = 1; fmt && *fmt && rc == SQLITE_OK; fmt++, i++) {
        switch (*fmt) {
        case 'i': rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t)); break;
        case 'z': {
            int64_t v = va_arg(ap, int64_t);
            rc = v ? sqlite3_bind_int64(st, i, v) : sqlite3_bind_null(st, i);
            break;
        }
        case 'd': rc = sqlite3_bind_double(st, i, va_arg(ap, double)); break;
        case 't': {
            const char *s = va_arg(ap, const char *);
            rc = s ? sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
            break;
        }
        case 'b': {
            const void *p = va_arg(ap, const void *);
            int n = va_arg(ap, int);
            rc = p ? sqlite3_bind_blob(st, i, p, n, SQLITE_STATIC) : sqlite3_bind_null(st, i);
            break;
        }
        case 'n': rc = sqlite3_bind_null(st, i); break;
        default: return ut_fail(UT_EINVAL, "catalog: bad bind format '%c'", *fmt);
        }
    }
    return rc == SQLITE_OK ? UT_OK : cat__fail(db, rc, "bind");
}

static int vstmt(cat_db *db, const char *sql, sqlite3_stmt **st, const char *fmt, va_list ap) {
    int rc = prepare(db, sql, st);
    if (rc) return rc;
    rc = bind_all(db, *st, fmt, ap);
    if (rc) sqlite3_reset(*st);
    return rc;
}

int cat__stmt(cat_db *db, const char *sql, sqlite3_stmt **st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = vstmt(db, sql, st, fmt, ap);
    va_end(ap);
    return rc;
}

int cat__step(cat_db *db, sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) return 1;
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return 0;
    }
    int err = cat__fail(db, rc, "step");
    sqlite3_reset(st);
    return err;
}

void cat__done(sqlite3_stmt *st) {
    if (st) sqlite3_reset(st);
}

int cat__exec(cat_db *db, const char *sql, const char *fmt, ...) {
    sqlite3_stmt *st = NULL;
    va_list ap;
    va_start(ap, fmt);
    int rc = vstmt(db, sql, &st, fmt, ap);
    va_end(ap);
    if (rc) return rc;
    while ((rc = cat__step(db, st)) == 1) {}
    return rc;
}

int cat__exec_script(cat_db *db, const char *sql) {
    char *err = NULL;
    int rc = sqlite3_exec(db->db, sql, NULL, NULL, &err);
    if (rc == SQLITE_OK) return UT_OK;
    int code = cat__fail(db, rc, "exec");
    sqlite3_free(err);
    return code;
}

int cat__query_i64(cat_db *db, const char *sql, int64_t *out, const char *fmt, ...) {
    sqlite3_stmt *st = NULL;
    va_list ap;
    va_start(ap, fmt);
    int rc = vstmt(db, sql, &st, fmt, ap);
    va_end(ap);
    if (rc) return rc;
    rc = cat__step(db, st);
    if (rc < 0) return rc;
    if (rc == 0) return UT_ENOENT;
    *out = sqlite3_column_int64(st, 0);
    cat__done(st);
    return UT_OK;
}

int64_t cat__changes(cat_db *db) { return sqlite3_changes64(db->db); }
int64_t cat__last_id(cat_db *db) { return sqlite3_last_insert_rowid(db->db); }

int cat__col_str(sqlite3_stmt *st, int col, char **out) {
    *out = NULL;
    if (sqlite3_column_type(st, col) == SQLITE_NULL) return UT_OK;
    const char *s = (const char *)sqlite3_column_text(st, col);
    if (!s) return ut_fail(UT_ENOMEM, "catalog: out of memory reading a column");
    *out = ut_strdup(s);
    return *out ? UT_OK : ut_fail(UT_ENOMEM, "catalog: out of memory");
}

int cat__require(cat_db *db, const char *sql, int64_t id, const char *what) {
    int64_t one;
    int rc = cat__query_i64(db, sql, &one, "i", id);
    if (rc == UT_ENOENT) return ut_fail(UT_ENOENT, "catalog: no %s with id %lld", what, (long long)id);
    return rc;
}

/* ---- open / close ------------------------------------------------------ */

/* Switching a fresh file to WAL needs an exclusive lock and SQLite does
 * not run the busy handler for it, so two processes creating the catalog
 * at once retry here. */
static int set_wal(cat_db *db, int timeout_ms) {
    double deadline = ut_now() + timeout_ms / 1000.0;
    for (;;) {
        int rc = sqlite3_exec(db->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
        if (rc == SQLITE_OK) return UT_OK;
        if ((rc & 0xff) != SQLITE_BUSY || ut_now() > deadline) return cat__fail(db, rc, "journal_mode=WAL");
        sqlite3_sleep(5);
    }
}

static int configure(cat_db *db, const cat_options *opt) {
    int timeout = opt->busy_timeout_ms > 0 ? opt->busy_timeout_ms : 10000;
    int rc = sqlite3_busy_timeout(db->db, timeout);
    if (rc != SQLITE_OK) return cat__fail(db, rc, "busy timeout");
    if (opt->readonly) return cat__exec_script(db, "PRAGMA foreign_keys=ON;");
    /* Before the first table: 8 KiB pages hold three 512-d face rows
     * (2 KiB of embedding each) where 4 KiB pages hold one. */
    if ((rc = cat__exec_script(db, "PRAGMA page_size=" CAT_PAGE_SIZE))) return rc;
    if ((rc = set_wal(db, timeout))) return rc;
    /* Checkpoint every 4000 pages (32 MiB of WAL): a page rewritten by
     * many small commits is copied to the database once per checkpoint. */
    return cat__exec_script(db, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;"
                                "PRAGMA wal_autocheckpoint=" CAT_WAL_PAGES ";");
}

int cat_open_ex(const char *path, const cat_options *opt, cat_db **out) {
    static const cat_options defaults = {0};
    if (!opt) opt = &defaults;
    *out = NULL;
    if (!path || !*path) return ut_fail(UT_EINVAL, "catalog: empty database path");
    cat_db *db = ut_calloc(1, sizeof *db);
    if (!db) return ut_fail(UT_ENOMEM, "catalog: out of memory");
    if (!(db->path = ut_strdup(path))) {
        ut_free(db);
        return ut_fail(UT_ENOMEM, "catalog: out of memory");
    }
    int flags = opt->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(path, &db->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = cat__fail(db, rc, path);
        cat_close(db);
        return rc;
    }
    sqlite3_extended_result_codes(db->db, 1);
    rc = configure(db, opt);
    if (!rc && !opt->readonly) rc = cat__migrate(db, opt->target_version);
    if (!rc && opt->readonly) {
        int v;
        rc = cat_schema_version(db, &v);
        if (!rc && v > cat_schema_latest())
            rc = ut_fail(UT_EUNSUPPORTED, "catalog: %s has schema version %d, newer than this kadr (%d)",
                         path, v, cat_schema_latest());
    }
    if (rc) {
        if (rc != UT_EUNSUPPORTED) ut_failf_wrap(rc, "opening %s", path);
        cat_close(db);
        return rc;
    }
    *out = db;
    return UT_OK;
}

int cat_open(const char *path, cat_db **out) { return cat_open_ex(path, NULL, out); }

void cat_close(cat_db *db) {
    if (!db) return;
    for (int i = 0; i < db->ncached; i++) sqlite3_finalize(db->cache[i].st);
    if (db->db) sqlite3_close_v2(db->db);
    ut_free(db->path);
    ut_free(db);
}

int cat_schema_version(cat_db *db, int *version) {
    int64_t v;
    int rc = cat__query_i64(db, "PRAGMA user_version", &v, "");
    if (rc) return rc;
    *version = (int)v;
    return UT_OK;
}

int cat_integrity_check(cat_db *db, char **report) {
    ut_buf b = {0};
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db->db, "PRAGMA integrity_check", -1, &st, NULL);
    if (rc != SQLITE_OK) return cat__fail(db, rc, "integrity_check");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (b.len) ut_buf_puts(&b, "\n");
        if (ut_buf_puts(&b, (const char *)sqlite3_column_text(st, 0))) break;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        ut_buf_free(&b);
        return rc == SQLITE_ROW ? ut_fail(UT_ENOMEM, "catalog: out of memory") : cat__fail(db, rc, "integrity_check");
    }
    *report = ut_buf_steal(&b);
    return *report ? UT_OK : ut_fail(UT_ENOMEM, "catalog: out of memory");
}

/* ---- transactions ------------------------------------------------------ */

int cat_begin(cat_db *db) {
    char sql[40];
    if (db->depth == 0) snprintf(sql, sizeof sql, "BEGIN IMMEDIATE");
    else snprintf(sql, sizeof sql, "SAVEPOINT s%d", db->depth);
    int rc = cat__exec_script(db, sql);
    if (!rc) db->depth++;
    return rc;
}

int cat_commit(cat_db *db) {
    if (db->depth == 0) return ut_fail(UT_ESTATE, "catalog: commit without begin");
    char sql[40];
    if (db->depth == 1) snprintf(sql, sizeof sql, "COMMIT");
    else snprintf(sql, sizeof sql, "RELEASE s%d", db->depth - 1);
    int rc = cat__exec_script(db, sql);
    if (rc) {
        cat_rollback(db);
        return rc;
    }
    db->depth--;
    return UT_OK;
}

int cat_rollback(cat_db *db) {
    if (db->depth == 0) return ut_fail(UT_ESTATE, "catalog: rollback without begin");
    char sql[64];
    if (db->depth == 1) snprintf(sql, sizeof sql, "ROLLBACK");
    else snprintf(sql, sizeof sql, "ROLLBACK TO s%d; RELEASE s%d", db->depth - 1, db->depth - 1);
    db->depth--;
    /* A failed rollback (the transaction was already rolled back by
     * SQLite after an I/O error) leaves nothing to undo. */
    char *err = NULL;
    sqlite3_exec(db->db, sql, NULL, NULL, &err);
    sqlite3_free(err);
    return UT_OK;
}

void cat_strings_free(char **s, size_t n) {
    if (!s) return;
    for (size_t i = 0; i < n; i++) ut_free(s[i]);
    ut_free(s);
}

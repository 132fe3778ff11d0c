/* catalog_int.h -- shared inside src/catalog only: the connection struct,
 * the prepared-statement cache and binding helpers.
 *
 * Invariants: every SQL text passed to cat__stmt is a string literal, so
 * the cache is keyed by the pointer (with a strcmp fallback). A statement
 * from the cache is reset and its bindings cleared before reuse; callers
 * finish with it (cat__step to DONE or cat__done) before the next
 * cat__stmt on the same SQL. */
#ifndef KADR_CATALOG_INT_H
#define KADR_CATALOG_INT_H

#include "catalog.h"
#include "util.h"

#include <sqlite3.h>

#define CAT_STMT_CACHE 128

typedef struct {
    const char *sql;
    sqlite3_stmt *st;
} cat__cached;

struct cat_db {
    sqlite3 *db;
    char *path;
    int depth;            /* transaction nesting: 0 none, 1 BEGIN, >1 savepoints */
    int ncached;
    cat__cached cache[CAT_STMT_CACHE];
};

/* Map a SQLite result code to UT_E* and record "catalog: what: msg". */
int cat__fail(cat_db *db, int rc, const char *what);
/* Prepare (cached) and bind. fmt has one char per parameter:
 *   i int64   d double   t text (NULL binds NULL)   b blob (ptr, int len)
 *   n NULL    z int64 where 0 binds NULL. */
int cat__stmt(cat_db *db, const char *sql, sqlite3_stmt **st, const char *fmt, ...);
/* Step: 1 = a row, 0 = done (statement reset), <0 = error (reset). */
int cat__step(cat_db *db, sqlite3_stmt *st);
void cat__done(sqlite3_stmt *st);
/* Prepare, bind, run to completion. */
int cat__exec(cat_db *db, const char *sql, const char *fmt, ...);
/* Run several statements without parameters (schema, pragmas). */
int cat__exec_script(cat_db *db, const char *sql);
/* A single int64 from a one-row query; UT_ENOENT if no row. */
int cat__query_i64(cat_db *db, const char *sql, int64_t *out, const char *fmt, ...);
int64_t cat__changes(cat_db *db);
int64_t cat__last_id(cat_db *db);

/* Copy a text column (NULL stays NULL); UT_ENOMEM on failure. */
int cat__col_str(sqlite3_stmt *st, int col, char **out);
/* 1 if a row with that id exists in table (a literal) */
int cat__require(cat_db *db, const char *sql, int64_t id, const char *what);

/* schema.c */
int cat__migrate(cat_db *db, int target);

#endif

/* Schema migrations: from an empty database and from every earlier
 * version (with data in it), the "newer than this binary" refusal, two
 * processes creating the same database at once, and the connection
 * settings (WAL, foreign keys). */
#include "catalog.h"
#include "test.h"
#include "util.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static char *db_path(const char *name) { return ut_asprintf("%s/%s", test_tmpdir(), name); }

static int raw_exec(const char *path, const char *sql) {
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK) return -1;
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK) fprintf(stderr, "  sql: %s\n", err ? err : "?");
    sqlite3_free(err);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

/* The schema as text, for comparing two databases. */
static char *schema_text(const char *path) {
    sqlite3 *db;
    sqlite3_stmt *st;
    ut_buf b = {0};
    if (sqlite3_open(path, &db) != SQLITE_OK) return NULL;
    sqlite3_prepare_v2(db, "SELECT type, name, coalesce(sql, '') FROM sqlite_master ORDER BY type, name", -1, &st, NULL);
    while (sqlite3_step(st) == SQLITE_ROW)
        ut_buf_printf(&b, "%s %s %s\n", sqlite3_column_text(st, 0), sqlite3_column_text(st, 1), sqlite3_column_text(st, 2));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return ut_buf_steal(&b);
}

TEST(fresh_database_is_latest) {
    char *p = db_path("fresh.db");
    cat_db *db;
    CHECK_EQ_INT(cat_open(p, &db), UT_OK);
    int v;
    CHECK_EQ_INT(cat_schema_version(db, &v), UT_OK);
    CHECK_EQ_INT(v, cat_schema_latest());
    CHECK(cat_schema_latest() >= 3);
    char *report;
    CHECK_EQ_INT(cat_integrity_check(db, &report), UT_OK);
    CHECK_EQ_STR(report, "ok");
    ut_free(report);
    cat_close(db);
    /* WAL and foreign keys are what the connection promises. */
    sqlite3 *raw;
    sqlite3_stmt *st;
    CHECK_EQ_INT(sqlite3_open(p, &raw), SQLITE_OK);
    sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &st, NULL);
    CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
    CHECK_EQ_STR((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(raw);
    /* Re-opening an up-to-date database changes nothing. */
    char *before = schema_text(p);
    CHECK_EQ_INT(cat_open(p, &db), UT_OK);
    cat_close(db);
    char *after = schema_text(p);
    CHECK_EQ_STR(after, before);
    ut_free(before);
    ut_free(after);
    ut_free(p);
}

TEST(foreign_keys_enforced) {
    char *p = db_path("fk.db");
    cat_db *db;
    CHECK_EQ_INT(cat_open(p, &db), UT_OK);
    cat_photo ph = {.root_id = 42, .path = "a.jpg", .hash = "ab"};
    int what;
    CHECK_EQ_INT(cat_photo_upsert(db, &ph, &what), UT_ENOENT); /* no root 42 */
    cat_close(db);
    ut_free(p);
}

/* Data each old version can hold, written with raw SQL as that version's
 * kadr would have. */
static const char *const seed_v1 =
    "INSERT INTO roots VALUES(1, '/photos', 1000);"
    "INSERT INTO photos(id, root_id, path, size, mtime_ns, hash, format, state, nfaces, faces_model) "
    "VALUES(1, 1, 'a/b.jpg', 123, 456, 'deadbeef', 'jpeg', 1, 1, 'm1');"
    "INSERT INTO people VALUES(1, 'Ann', NULL, 1000, 1000);"
    "INSERT INTO faces(id, photo_id, model, x, y, w, h, score, dim, embedding) "
    "VALUES(1, 1, 'm1', 1, 2, 3, 4, 0.9, 2, x'0000803f00000040');"
    "INSERT INTO face_person VALUES(1, 1, 2, 1000);";
static const char *const seed_v2 =
    "INSERT INTO jobs(id, type, params, state, root_id, total, done, created_ms) "
    "VALUES(1, 'index', '{}', 2, 1, 1, 1, 1000);"
    "INSERT INTO job_items VALUES(1, 1, 'a/b.jpg', 1, 'new', NULL);";

static void check_seeded(cat_db *db, int from) {
    cat_photo ph;
    CHECK_EQ_INT(cat_photo_get(db, 1, &ph), UT_OK);
    CHECK_EQ_STR(ph.path, "a/b.jpg");
    CHECK_EQ_STR(ph.hash, "deadbeef");
    CHECK_EQ_INT(ph.nfaces, 1);
    cat_photo_free(&ph);
    cat_face f;
    CHECK_EQ_INT(cat_face_get(db, 1, &f), UT_OK);
    CHECK_EQ_INT(f.dim, 2);
    CHECK(f.embedding[0] == 1.0f && f.embedding[1] == 2.0f);
    CHECK(f.quality == 0.0f); /* added by 2 -> 3 with a default */
    CHECK_EQ_INT(f.person_id, 1);
    CHECK_EQ_INT(f.source, CAT_SRC_USER);
    cat_face_free(&f);
    if (from >= 2) {
        cat_job j;
        CHECK_EQ_INT(cat_job_get(db, 1, &j), UT_OK);
        CHECK_EQ_STR(j.type, "index");
        CHECK_EQ_INT(j.state, CAT_JOB_DONE);
        cat_job_free(&j);
    }
    /* Tables of later versions work after the migration. */
    CHECK_EQ_INT(cat_result_put(db, 1, "clip", "tags", "{\"cat\":0.9}"), UT_OK);
}

TEST(migrate_from_every_version) {
    char *ref = db_path("ref.db");
    cat_db *db;
    CHECK_EQ_INT(cat_open(ref, &db), UT_OK);
    cat_close(db);
    char *want = schema_text(ref);
    for (int v = 0; v < cat_schema_latest(); v++) {
        char name[32];
        snprintf(name, sizeof name, "v%d.db", v);
        char *p = db_path(name);
        if (v > 0) {
            cat_options o = {.target_version = v};
            CHECK_EQ_INT(cat_open_ex(p, &o, &db), UT_OK);
            int got;
            CHECK_EQ_INT(cat_schema_version(db, &got), UT_OK);
            CHECK_EQ_INT(got, v);
            cat_close(db);
            CHECK_EQ_INT(raw_exec(p, seed_v1), 0);
            if (v >= 2) CHECK_EQ_INT(raw_exec(p, seed_v2), 0);
        }
        CHECK_EQ_INT(cat_open(p, &db), UT_OK);
        int got;
        CHECK_EQ_INT(cat_schema_version(db, &got), UT_OK);
        CHECK_EQ_INT(got, cat_schema_latest());
        if (v > 0) check_seeded(db, v);
        char *report;
        CHECK_EQ_INT(cat_integrity_check(db, &report), UT_OK);
        CHECK_EQ_STR(report, "ok");
        ut_free(report);
        cat_close(db);
        char *have = schema_text(p);
        CHECK_EQ_STR(have, want);
        ut_free(have);
        ut_free(p);
    }
    ut_free(want);
    ut_free(ref);
}

TEST(newer_database_refused) {
    char *p = db_path("newer.db");
    cat_db *db;
    CHECK_EQ_INT(cat_open(p, &db), UT_OK);
    cat_close(db);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version=%d", cat_schema_latest() + 1);
    CHECK_EQ_INT(raw_exec(p, sql), 0);
    CHECK_EQ_INT(cat_open(p, &db), UT_EUNSUPPORTED);
    CHECK(db == NULL);
    CHECK(strstr(ut_errmsg(), "newer than this kadr"));
    cat_options ro = {.readonly = 1};
    CHECK_EQ_INT(cat_open_ex(p, &ro, &db), UT_EUNSUPPORTED);
    cat_options bad = {.target_version = cat_schema_latest() + 5};
    char *q = db_path("bad.db");
    CHECK_EQ_INT(cat_open_ex(q, &bad, &db), UT_EINVAL);
    ut_free(q);
    ut_free(p);
}

TEST(not_a_database) {
    char *p = db_path("junk.db");
    FILE *f = fopen(p, "w");
    fputs("this is not a database, just text that is long enough to have a header......", f);
    fclose(f);
    cat_db *db;
    int rc = cat_open(p, &db);
    CHECK(rc == UT_EFORMAT);
    CHECK(db == NULL);
    CHECK_EQ_INT(cat_open("", &db), UT_EINVAL);
    CHECK(cat_open("/nonexistent-dir/x/kadr.db", &db) == UT_EACCES);
    ut_free(p);
}

/* Two processes opening a fresh file at once: both must end up with a
 * migrated database (the version is re-read inside the write lock). */
TEST(concurrent_first_open) {
    for (int trial = 0; trial < 5; trial++) {
        char name[32];
        snprintf(name, sizeof name, "race%d.db", trial);
        char *p = db_path(name);
        pid_t kids[3];
        for (int k = 0; k < 3; k++) {
            kids[k] = fork();
            if (kids[k] == 0) {
                cat_db *db;
                int rc = cat_open(p, &db);
                if (rc) fprintf(stderr, "  child: %s\n", ut_errmsg());
                cat_close(db);
                _exit(rc ? 1 : 0);
            }
        }
        for (int k = 0; k < 3; k++) {
            int status;
            waitpid(kids[k], &status, 0);
            CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        ut_free(p);
    }
}

int main(int argc, char **argv) { return test_main(argc, argv); }

/* Torn writes: a writer killed with SIGKILL in the middle of its
 * transactions leaves a database that passes PRAGMA integrity_check and
 * holds only whole transactions (every batch of photos with its faces and
 * its history row, or none of it). */
#include "catalog.h"
#include "test.h"
#include "util.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define BATCH 50

/* The writer: batches of BATCH photos, one face each, one history row per
 * batch, forever. Signals the parent once the first batch committed. */
static void writer(const char *path, int ready_fd, int trial) {
    cat_db *db;
    int64_t root;
    if (cat_open(path, &db) || cat_root_add(db, "/lib", &root)) _exit(2);
    float emb[128] = {0};
    for (long b = 0;; b++) {
        if (cat_begin(db)) _exit(3);
        for (int i = 0; i < BATCH; i++) {
            char rel[64];
            snprintf(rel, sizeof rel, "t%d/b%ld/p%d.jpg", trial, b, i);
            cat_photo p = {.root_id = root, .path = rel, .size = i, .mtime_ns = b, .hash = "h"};
            int what;
            emb[0] = (float)i;
            cat_face f = {.dim = 128, .embedding = emb, .score = 1};
            if (cat_photo_upsert(db, &p, &what) || cat_photo_set_faces(db, p.id, "m", &f, 1)) _exit(4);
        }
        if (cat_history_add(db, "batch", NULL, "{}", NULL) || cat_commit(db)) _exit(5);
        if (b == 0 && write(ready_fd, "r", 1) != 1) _exit(6);
    }
}

static long long count(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st;
    long long v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

TEST(kill_during_transactions) {
    char *path = ut_asprintf("%s/torn.db", test_tmpdir());
    srand((unsigned)getpid());
    long long last = 0;
    for (int trial = 0; trial < 6; trial++) {
        int fds[2];
        CHECK_EQ_INT(pipe(fds), 0);
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            writer(path, fds[1], trial);
        }
        close(fds[1]);
        char c;
        CHECK_EQ_INT(read(fds[0], &c, 1), 1);
        close(fds[0]);
        usleep((useconds_t)(1000 + rand() % 60000));
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

        cat_db *db;
        CHECK_EQ_INT(cat_open(path, &db), UT_OK);
        char *report;
        CHECK_EQ_INT(cat_integrity_check(db, &report), UT_OK);
        CHECK_EQ_STR(report, "ok");
        ut_free(report);
        cat_close(db);
        sqlite3 *raw;
        CHECK_EQ_INT(sqlite3_open(path, &raw), SQLITE_OK);
        long long photos = count(raw, "SELECT count(*) FROM photos");
        long long faces = count(raw, "SELECT count(*) FROM faces");
        long long batches = count(raw, "SELECT count(*) FROM history WHERE kind = 'batch'");
        long long processed = count(raw, "SELECT count(*) FROM photos WHERE state = 1 AND nfaces = 1");
        long long orphans = count(raw, "SELECT count(*) FROM pragma_foreign_key_check");
        sqlite3_close(raw);
        CHECK(photos > last);
        CHECK_EQ_INT(photos % BATCH, 0);
        CHECK_EQ_INT(faces, photos);
        CHECK_EQ_INT(processed, photos);
        CHECK_EQ_INT(batches * BATCH, photos);
        CHECK_EQ_INT(orphans, 0);
        last = photos;
    }
    ut_free(path);
}

int main(int argc, char **argv) { return test_main(argc, argv); }

/* The "index" job: format sniffing, incremental re-index (unchanged,
 * touched, changed, missing, non-images), the analyser hook (metadata and
 * faces recorded, "processed, 0 faces" not re-analysed), unreadable files
 * as failed items, and `kadr index` / `kadr jobs` end to end. */
#include "catalog.h"
#include "http.h"
#include "jobs.h"
#include "test.h"
#include "util.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void put(const char *dir, const char *name, const void *data, size_t n) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    char *slash = strrchr(p, '/');
    *slash = 0;
    ut_mkdirs(p);
    *slash = '/';
    FILE *f = fopen(p, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
}

static const unsigned char jpg[] = {0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4};
static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0};

TEST(sniff_formats) {
    struct {
        const char *bytes;
        size_t n;
        const char *want;
    } cases[] = {
        {"\xff\xd8\xff\xdb", 4, "jpeg"},
        {"\x89PNG\r\n\x1a\n", 8, "png"},
        {"GIF89a..", 8, "gif"},
        {"GIF87a", 6, "gif"},
        {"RIFF\x10\0\0\0WEBPVP8 ", 16, "webp"},
        {"II*\0\x08\0\0\0", 8, "tiff"},
        {"MM\0*\0\0\0\x08", 8, "tiff"},
        {"BM\x36\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0", 18, "bmp"},
        {"\0\0\0\x18" "ftypheic\0\0\0\0", 16, "heif"},
        {"\0\0\0\x18" "ftypmif1\0\0\0\0", 16, "heif"},
        {"\0\0\0\x1c" "ftypavif\0\0\0\0", 16, "avif"},
        {"\0\0\0\x18" "ftypisom\0\0\0\0", 16, NULL}, /* an MP4 video */
        {"BM is not a bitmap here", 22, NULL},
        {"RIFF\x10\0\0\0WAVEfmt ", 16, NULL},
        {"\xff\xd8", 2, NULL},
        {"hello", 5, NULL},
        {"", 0, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = job_sniff_format(cases[i].bytes, cases[i].n);
        if (cases[i].want) CHECK_EQ_STR(got, cases[i].want);
        else CHECK(got == NULL);
    }
    CHECK(job_sniff_format(NULL, 10) == NULL);
}

/* ---- a fake analyser: files named *face* have one face ---------------- */

static atomic_int meta_calls, face_calls;

static int fake_meta(void *user, const char *path, cat_photo *p) {
    atomic_fetch_add(&meta_calls, 1);
    p->width = 640;
    p->height = 480;
    p->camera = ut_strdup("FakeCam");
    return p->camera ? UT_OK : UT_ENOMEM;
}

static int fake_faces(void *user, const char *path, cat_face **faces, size_t *n) {
    atomic_fetch_add(&face_calls, 1);
    if (strstr(path, "broken")) return ut_fail(UT_EFORMAT, "cannot decode %s", path);
    *faces = NULL;
    *n = 0;
    if (!strstr(path, "face")) return UT_OK;
    *faces = ut_calloc(1, sizeof **faces);
    (*faces)[0].dim = 4;
    (*faces)[0].embedding = ut_calloc(4, sizeof(float));
    (*faces)[0].embedding[0] = 1;
    (*faces)[0].score = 0.99f;
    *n = 1;
    return UT_OK;
}

static const job_analyser fake = {.metadata = fake_meta, .faces = fake_faces, .faces_model = "fake-1"};

typedef struct {
    int64_t notes[8];
} tally;

static const char *const note_names[] = {"new", "changed", "touched", "unchanged", "not-image", "vanished", "analysed", NULL};

static int run_index(const char *db, const char *dir, const job_analyser *an, int *state, tally *t) {
    job_mgr *m;
    int64_t root, id;
    int rc = job_mgr_open(db, NULL, &m);
    if (rc) return rc;
    rc = job_index_register(m, an);
    if (!rc) rc = job_mgr_start(m);
    job_mgr_lock(m);
    if (!rc) rc = cat_root_add(job_mgr_db(m), dir, &root);
    job_mgr_unlock(m);
    if (!rc) rc = job_enqueue(m, "index", NULL, root, &id);
    if (!rc) rc = job_run(m, id, state);
    memset(t, 0, sizeof *t);
    char **notes;
    int64_t *counts;
    size_t n;
    job_mgr_lock(m);
    if (!rc) rc = cat_job_item_notes(job_mgr_db(m), id, &notes, &counts, &n);
    job_mgr_unlock(m);
    for (size_t i = 0; !rc && i < n; i++)
        for (int k = 0; note_names[k]; k++)
            if (strcmp(notes[i], note_names[k]) == 0) t->notes[k] = counts[i];
    if (!rc) {
        cat_strings_free(notes, n);
        ut_free(counts);
    }
    job_mgr_close(m);
    return rc;
}

TEST(incremental_index_with_analyser) {
    char dir[600], db[600];
    snprintf(dir, sizeof dir, "%s/lib", test_tmpdir());
    snprintf(db, sizeof db, "%s/idx.db", test_tmpdir());
    put(dir, "a_face.jpg", jpg, sizeof jpg);
    put(dir, "sub/b.png", png, sizeof png);
    put(dir, "sub/deeper/c_face.jpg", jpg, 6);
    put(dir, "notes.txt", "hello", 5);
    put(dir, ".hidden/x.jpg", jpg, sizeof jpg);
    int state;
    tally t;
    CHECK_EQ_INT(run_index(db, dir, &fake, &state, &t), UT_OK);
    CHECK_EQ_INT(state, CAT_JOB_DONE);
    CHECK_EQ_INT(t.notes[0], 3); /* new */
    CHECK_EQ_INT(t.notes[4], 1); /* not-image */
    CHECK_EQ_INT(atomic_load(&meta_calls), 3);
    CHECK_EQ_INT(atomic_load(&face_calls), 3);
    cat_db *cat;
    CHECK_EQ_INT(cat_open(db, &cat), UT_OK);
    int64_t root;
    CHECK_EQ_INT(cat_root_find(cat, dir, &root), UT_OK);
    cat_photo p;
    CHECK_EQ_INT(cat_photo_find(cat, root, "sub/deeper/c_face.jpg", &p), UT_OK);
    CHECK_EQ_INT(p.nfaces, 1);
    CHECK_EQ_INT(p.state, CAT_PHOTO_PROCESSED);
    CHECK_EQ_STR(p.format, "jpeg");
    CHECK_EQ_STR(p.camera, "FakeCam");
    CHECK_EQ_INT(p.width, 640);
    CHECK_EQ_INT(strlen(p.hash), 64);
    cat_photo_free(&p);
    CHECK_EQ_INT(cat_photo_find(cat, root, "sub/b.png", &p), UT_OK);
    CHECK_EQ_INT(p.nfaces, 0); /* processed, 0 faces */
    CHECK_EQ_INT(p.state, CAT_PHOTO_PROCESSED);
    cat_photo_free(&p);
    CHECK_EQ_INT(cat_photo_find(cat, root, ".hidden/x.jpg", &p), UT_ENOENT);
    cat_close(cat);

    /* Nothing changed: nothing analysed again. */
    CHECK_EQ_INT(run_index(db, dir, &fake, &state, &t), UT_OK);
    CHECK_EQ_INT(t.notes[3], 3); /* unchanged */
    CHECK_EQ_INT(atomic_load(&face_calls), 3);

    /* Touch one (same bytes, new mtime), change one, delete one, add a
     * broken one (analyser fails: the item fails, the job says so). */
    sleep(0);
    struct timespec ts[2] = {{.tv_sec = 1000000}, {.tv_sec = 1000000}};
    char p1[700];
    snprintf(p1, sizeof p1, "%s/a_face.jpg", dir);
    CHECK_EQ_INT(utimensat(AT_FDCWD, p1, ts, 0), 0);
    put(dir, "sub/b.png", png, 9);
    snprintf(p1, sizeof p1, "%s/sub/deeper/c_face.jpg", dir);
    unlink(p1);
    put(dir, "broken.jpg", jpg, sizeof jpg);
    CHECK_EQ_INT(run_index(db, dir, &fake, &state, &t), UT_OK);
    CHECK_EQ_INT(state, CAT_JOB_FAILED);
    CHECK_EQ_INT(t.notes[2], 1); /* touched */
    CHECK_EQ_INT(t.notes[1], 1); /* changed */
    CHECK_EQ_INT(atomic_load(&face_calls), 3 + 2); /* changed b.png + broken; not the touched one */
    CHECK_EQ_INT(cat_open(db, &cat), UT_OK);
    CHECK_EQ_INT(cat_photo_find(cat, root, "sub/deeper/c_face.jpg", &p), UT_OK);
    CHECK_EQ_INT(p.state, CAT_PHOTO_MISSING);
    cat_photo_free(&p);
    CHECK_EQ_INT(cat_photo_find(cat, root, "broken.jpg", &p), UT_ENOENT); /* rolled back with its item */
    CHECK_EQ_INT(cat_photo_find(cat, root, "a_face.jpg", &p), UT_OK);
    CHECK_EQ_INT(p.nfaces, 1); /* touched: analysis kept */
    cat_photo_free(&p);
    cat_close(cat);

    /* Metadata-only indexing (no analyser) of the same folder is fine. */
    CHECK_EQ_INT(run_index(db, dir, NULL, &state, &t), UT_OK);
}

/* ---- the CLI ----------------------------------------------------------- */

static char out[1 << 16], err[1 << 16];

TEST(cli_index_and_jobs) {
    char dir[600], home[600];
    snprintf(dir, sizeof dir, "%s/clilib", test_tmpdir());
    snprintf(home, sizeof home, "%s/home", test_tmpdir());
    for (int i = 0; i < 30; i++) {
        char name[32];
        snprintf(name, sizeof name, "d%d/%02d.jpg", i % 3, i);
        put(dir, name, jpg, sizeof jpg - (size_t)(i % 4));
    }
    put(dir, "readme.md", "# hi", 4);
    setenv("KADR_HOME", home, 1);
    const char *a1[] = {"index", dir, "--json", NULL};
    CHECK_EQ_INT(kadr_run(a1, out, sizeof out, err, sizeof err), 0);
    CHECK(strstr(out, "\"new\": 30"));
    CHECK(strstr(out, "\"not_images\": 1"));
    CHECK(strstr(out, "\"state\": \"done\""));
    char dbpath[700];
    snprintf(dbpath, sizeof dbpath, "%s/kadr.db", home);
    CHECK(test_exists(dbpath));
    const char *a2[] = {"index", dir, NULL};
    CHECK_EQ_INT(kadr_run(a2, out, sizeof out, err, sizeof err), 0);
    CHECK(strstr(out, "30 unchanged (skipped)"));
    CHECK(strstr(out, "1 not images (skipped)"));
    const char *a3[] = {"jobs", "list", "--json", NULL};
    CHECK_EQ_INT(kadr_run(a3, out, sizeof out, err, sizeof err), 0);
    CHECK(strstr(out, "\"id\": 2"));
    CHECK(strstr(out, "\"type\": \"index\""));
    const char *a4[] = {"jobs", "show", "1", "--db", dbpath, NULL};
    CHECK_EQ_INT(kadr_run(a4, out, sizeof out, err, sizeof err), 0);
    CHECK(strstr(out, "job 1 (index): done"));
    CHECK(strstr(out, "new       30"));
    const char *a5[] = {"jobs", "show", "999", NULL};
    CHECK_EQ_INT(kadr_run(a5, out, sizeof out, err, sizeof err), 1);
    CHECK(strstr(err, "no job with id 999"));
    const char *a6[] = {"jobs", "cancel", "1", NULL};
    CHECK_EQ_INT(kadr_run(a6, out, sizeof out, err, sizeof err), 1);
    CHECK(strstr(err, "already done"));
    const char *a7[] = {"jobs", "retry", "1", NULL};
    CHECK_EQ_INT(kadr_run(a7, out, sizeof out, err, sizeof err), 1);
    const char *bad[][5] = {{"jobs", NULL}, {"jobs", "frob", NULL}, {"jobs", "show", NULL},
                            {"jobs", "show", "x", NULL}, {"index", NULL}, {NULL}};
    for (int i = 0; bad[i][0]; i++) CHECK_EQ_INT(kadr_run(bad[i], out, sizeof out, err, sizeof err), 2);
    const char *a8[] = {"index", "/no/such/folder", NULL};
    CHECK_EQ_INT(kadr_run(a8, out, sizeof out, err, sizeof err), 1);
    CHECK(strstr(err, "not a readable folder"));
    /* A database from the future is refused with a clear message. */
    char future[700];
    snprintf(future, sizeof future, "%s/future.db", test_tmpdir());
    sqlite3 *raw;
    CHECK_EQ_INT(sqlite3_open(future, &raw), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(raw, "PRAGMA user_version=999", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    const char *a9[] = {"jobs", "list", "--db", future, NULL};
    CHECK_EQ_INT(kadr_run(a9, out, sizeof out, err, sizeof err), 1);
    CHECK(strstr(err, "newer than this kadr"));
}

static long long sql1(const char *path, const char *sql) {
    sqlite3 *raw;
    sqlite3_stmt *st;
    long long v = -1;
    if (sqlite3_open_v2(path, &raw, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(raw, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(raw);
    return v;
}

/* `kadr index` killed with SIGKILL part-way: the next run says it resumes
 * the interrupted job and the two runs together index every file once. */
TEST(cli_index_killed_and_resumed) {
    char dir[600], home[600];
    snprintf(dir, sizeof dir, "%s/killlib", test_tmpdir());
    snprintf(home, sizeof home, "%s/killhome", test_tmpdir());
    for (int i = 0; i < 4000; i++) {
        char name[32];
        snprintf(name, sizeof name, "d%d/%04d.jpg", i % 10, i);
        char data[64];
        memcpy(data, jpg, 4);
        snprintf(data + 4, sizeof data - 4, "%d", i);
        put(dir, name, data, 4 + strlen(data + 4));
    }
    setenv("KADR_HOME", home, 1);
    char dbpath[700];
    snprintf(dbpath, sizeof dbpath, "%s/kadr.db", home);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execl(kadr_bin(), "kadr", "index", dir, (char *)NULL);
        _exit(127);
    }
    /* Kill once some photos are in the catalog. */
    long long n = 0;
    for (int tries = 0; tries < 4000 && n < 200; tries++) {
        usleep(2000);
        sqlite3 *raw;
        sqlite3_stmt *st;
        if (sqlite3_open_v2(dbpath, &raw, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
            sqlite3_prepare_v2(raw, "SELECT count(*) FROM photos", -1, &st, NULL) == SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
            sqlite3_finalize(st);
        }
        sqlite3_close(raw);
    }
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    if (!WIFSIGNALED(status)) {
        test_skip("kadr index finished before it could be killed");
        return;
    }
    CHECK(n >= 200 && n < 4000);
    long long committed = sql1(dbpath, "SELECT count(*) FROM photos");
    long long last_ms = sql1(dbpath, "SELECT max(indexed_ms) FROM photos");
    CHECK(committed >= n && committed < 4000);
    usleep(5000); /* so that a redone photo would get a later indexed_ms */
    const char *args[] = {"index", dir, "--json", NULL};
    char o2[1 << 14], e2[1 << 14];
    CHECK_EQ_INT(kadr_run(args, o2, sizeof o2, e2, sizeof e2), 0);
    CHECK(strstr(o2, "\"job_id\": 1")); /* the same job, resumed */
    CHECK(strstr(o2, "\"photos\": 4000"));
    CHECK(strstr(o2, "\"new\": 4000")); /* each file new once over both runs */
    /* Photos the killed run committed were not indexed again. */
    char q[128];
    snprintf(q, sizeof q, "SELECT count(*) FROM photos WHERE indexed_ms <= %lld", last_ms);
    CHECK_EQ_INT(sql1(dbpath, q), committed);
}

int main(int argc, char **argv) { return test_main(argc, argv); }

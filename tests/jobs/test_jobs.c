/* The job queue: running, events (published and stored, rate-limited),
 * cancel within one item, retry of failed items, resume after SIGKILL
 * without redoing finished items, shutdown and resume, exclusivity per
 * root, readers during a writing job, unknown ids, the folder queue. */
#include "catalog.h"
#include "jobs.h"
#include "test.h"
#include "util.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- a job type for tests: "count" ------------------------------------ */

static struct {
    int n;             /* items to plan */
    int sleep_us;      /* per item */
    int fail_odd;      /* odd items fail while the file "failflag" exists */
    char log[512];     /* each call appends "key\n" */
    atomic_int calls;
    atomic_int in_root, max_in_root;
} cfg;

static int count_plan(job_ctx *c, void *user) {
    for (int i = 0; i < cfg.n; i++) {
        char key[16];
        snprintf(key, sizeof key, "i%d", i);
        int rc = job_add_item(c, key);
        if (rc) return rc;
    }
    return UT_OK;
}

static int count_item(job_ctx *c, const char *key, void *user) {
    atomic_fetch_add(&cfg.calls, 1);
    int now = atomic_fetch_add(&cfg.in_root, 1) + 1;
    int max = atomic_load(&cfg.max_in_root);
    while (now > max && !atomic_compare_exchange_weak(&cfg.max_in_root, &max, now)) {}
    if (cfg.log[0]) {
        int fd = open(cfg.log, O_WRONLY | O_APPEND | O_CREAT, 0644);
        char line[32];
        int len = snprintf(line, sizeof line, "%s\n", key);
        if (fd >= 0 && write(fd, line, (size_t)len) != len) {}
        if (fd >= 0) close(fd);
    }
    if (cfg.sleep_us) usleep((useconds_t)cfg.sleep_us);
    atomic_fetch_sub(&cfg.in_root, 1);
    char flag[600];
    snprintf(flag, sizeof flag, "%s/failflag", test_tmpdir());
    if (cfg.fail_odd && atoi(key + 1) % 2 && test_exists(flag)) return ut_fail(UT_EIO, "item %s failed on purpose", key);
    /* A write through the job's connection, to prove it commits with the item. */
    if (job_write(c)) return -1;
    return cat_history_add(job_db(c), "count", key, NULL, NULL) ? -1 : JOB_ITEM_DONE;
}

static char *dbfile(const char *name) { return ut_asprintf("%s/%s", test_tmpdir(), name); }

static job_mgr *open_mgr(const char *name, int workers, int exclusive) {
    char *p = dbfile(name);
    job_config jc = {.workers = workers, .progress_publish_ms = 1, .progress_store_ms = 100000};
    job_mgr *m = NULL;
    if (job_mgr_open(p, &jc, &m)) fprintf(stderr, "  %s\n", ut_errmsg());
    ut_free(p);
    job_type t = {.name = "count", .exclusive = exclusive, .plan = count_plan, .item = count_item};
    if (m && job_register(m, &t)) fprintf(stderr, "  %s\n", ut_errmsg());
    return m;
}

static long long sql_count(const char *name, const char *sql) {
    char *p = dbfile(name);
    sqlite3 *db;
    sqlite3_stmt *st;
    long long v = -1;
    sqlite3_open(p, &db);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    ut_free(p);
    return v;
}

/* ---- listeners --------------------------------------------------------- */

typedef struct {
    pthread_mutex_t lock;
    int states[16], nstates;
    int progress;
    int64_t last_done;
    int monotonic;
} seen;

static void listen(const job_event *ev, void *user) {
    seen *s = user;
    pthread_mutex_lock(&s->lock);
    if (ev->kind == JOB_EV_STATE && s->nstates < 16) s->states[s->nstates++] = ev->state;
    if (ev->kind == JOB_EV_PROGRESS) {
        s->progress++;
        if (ev->done < s->last_done) s->monotonic = 0;
        s->last_done = ev->done;
    }
    pthread_mutex_unlock(&s->lock);
}

TEST(runs_with_workers_and_events) {
    cfg.n = 300;
    job_mgr *m = open_mgr("basic.db", 2, 0);
    CHECK(m);
    seen s = {.lock = PTHREAD_MUTEX_INITIALIZER, .monotonic = 1};
    int token;
    CHECK_EQ_INT(job_subscribe(m, listen, &s, &token), UT_OK);
    CHECK_EQ_INT(job_mgr_start(m), UT_OK);
    int workers, running;
    job_mgr_status(m, &workers, &running);
    CHECK_EQ_INT(workers, 2);
    CHECK_EQ_INT(running, 0);
    int64_t id;
    CHECK_EQ_INT(job_enqueue(m, "count", "{\"n\":300}", 0, &id), UT_OK);
    int state;
    CHECK_EQ_INT(job_wait(m, id, 30000, &state), UT_OK);
    CHECK_EQ_INT(state, CAT_JOB_DONE);
    job_unsubscribe(m, token);
    cat_job j;
    CHECK_EQ_INT(job_get(m, id, &j), UT_OK);
    CHECK_EQ_INT(j.total, 300);
    CHECK_EQ_INT(j.done, 300);
    CHECK_EQ_INT(j.failed, 0);
    CHECK_EQ_INT(j.attempts, 1);
    CHECK_EQ_STR(cat_job_state_name(j.state), "done");
    cat_job_free(&j);
    CHECK_EQ_INT(atomic_load(&cfg.calls), 300);
    /* Listeners saw queued, running, done in order and monotonic progress. */
    CHECK_EQ_INT(s.nstates, 3);
    CHECK_EQ_INT(s.states[0], CAT_JOB_QUEUED);
    CHECK_EQ_INT(s.states[1], CAT_JOB_RUNNING);
    CHECK_EQ_INT(s.states[2], CAT_JOB_DONE);
    CHECK(s.progress >= 2);
    CHECK(s.monotonic);
    CHECK_EQ_INT(s.last_done, 300);
    job_mgr_close(m);
    /* Stored history: every state change, but progress rate-limited (the
     * store interval is 100 s here: only the forced first one). */
    CHECK_EQ_INT(sql_count("basic.db", "SELECT count(*) FROM job_events WHERE kind = 'state'"), 3);
    CHECK(sql_count("basic.db", "SELECT count(*) FROM job_events WHERE kind = 'progress'") <= 2);
    CHECK_EQ_INT(sql_count("basic.db", "SELECT count(*) FROM history WHERE kind = 'count'"), 300);
}

TEST(many_items_run_in_caller_thread) {
    cfg.n = 1000;
    job_mgr *m = open_mgr("batch.db", 0, 0);
    CHECK_EQ_INT(job_mgr_start(m), UT_OK);
    int64_t id;
    int state;
    CHECK_EQ_INT(job_enqueue(m, "count", NULL, 0, &id), UT_OK);
    CHECK_EQ_INT(job_run(m, id, &state), UT_OK);
    CHECK_EQ_INT(state, CAT_JOB_DONE);
    CHECK_EQ_INT(job_run(m, id, &state), UT_ESTATE);
    job_mgr_close(m);
    CHECK_EQ_INT(sql_count("batch.db", "SELECT count(*) FROM history"), 1000);
    CHECK_EQ_INT(sql_count("batch.db", "SELECT count(*) FROM job_items WHERE state = 1"), 1000);
}

/* Cancel while an item runs: at most that one item finishes afterwards. */
static void *cancel_after(void *arg) {
    job_mgr *m = arg;
    while (atomic_load(&cfg.calls) < 5) usleep(1000);
    int before = atomic_load(&cfg.calls);
    if (job_cancel(m, 1)) fprintf(stderr, "  cancel: %s\n", ut_errmsg());
    return (void *)(intptr_t)before;
}

TEST(cancel_stops_within_one_item) {
    cfg.n = 200;
    cfg.sleep_us = 20000;
    job_mgr *m = open_mgr("cancel.db", 1, 0);
    CHECK_EQ_INT(job_mgr_start(m), UT_OK);
    int64_t id;
    CHECK_EQ_INT(job_enqueue(m, "count", NULL, 0, &id), UT_OK);
    CHECK_EQ_INT(id, 1);
    pthread_t t;
    pthread_create(&t, NULL, cancel_after, m);
    void *before;
    pthread_join(t, &before);
    int state;
    CHECK_EQ_INT(job_wait(m, id, 10000, &state), UT_OK);
    CHECK_EQ_INT(state, CAT_JOB_CANCELLED);
    CHECK(atomic_load(&cfg.calls) <= (int)(intptr_t)before + 1);
    CHECK_EQ_INT(job_cancel(m, id), UT_ESTATE);
    /* Cancelling a queued job ends it without running anything. */
    int64_t id2;
    job_mgr_close(m);
    m = open_mgr("cancel.db", 0, 0);
    CHECK_EQ_INT(job_enqueue(m, "count", NULL, 0, &id2), UT_OK);
    CHECK_EQ_INT(job_cancel(m, id2), UT_OK);
    cat_job j;
    CHECK_EQ_INT(job_get(m, id2, &j), UT_OK);
    CHECK_EQ_INT(j.state, CAT_JOB_CANCELLED);
    cat_job_free(&j);
    /* A cancelled job can be retried and finishes only what was left. */
    int calls = atomic_load(&cfg.calls);
    cfg.sleep_us = 0;
    CHECK_EQ_INT(job_retry(m, id, NULL), UT_OK);
    CHECK_EQ_INT(job_run(m, id, &state), UT_OK);
    CHECK_EQ_INT(state, CAT_JOB_DONE);
    CHECK_EQ_INT(sql_count("cancel.db", "SELECT count(*) FROM history"), 200);
    CHECK(atomic_load(&cfg.calls) - calls <= 200 - (calls - 1));
    job_mgr_close(m);
}

/* A cancel written by another process (its own connection) is seen before
 * the next item. */
TEST(cancel_from_another_connection) {
    cfg.n = 100;
    cfg.sleep_us = 10000;
    job_mgr *m = open_mgr("xcancel.db", 1, 0);
    CHECK_EQ_INT(job_mgr_start(m), UT_OK);
    int64_t id;
    CHECK_EQ_INT(job_enqueue(m, "count", NULL, 0, &id), UT_OK);
    while (atomic_load(&cfg.calls) < 3) usleep(1000);
    char *p = dbfile("xcancel.db");
    cat_db *other;
    CHECK_EQ_INT(cat_open(p, &other), UT_OK);
    int now;
    CHECK_EQ_INT(cat_job_request_cancel(other, id, &now), UT_OK);
    int before = atomic_load(&cfg.calls);
    cat_close(other);
    ut_free(p);
    int state;
    CHECK_EQ_INT(job_wait(m, id, 10000, &state), UT_OK);
    CHECK_EQ_INT(state, CAT_JOB_CANCELLED);
    CHECK(atomic_load(&cfg.calls) <= before + 1);
    job_mgr_close(m);
}

TEST(retry_redoes_only_failed_items) {
    cfg.n = 20;
    cfg.fail_odd = 1;
    char flag[600];
    snprintf(flag, sizeof flag, "%s/failflag", test_tmpdir());
    fclose(fopen(flag, "w"));
    job_mgr *m = open_mgr("retry.db", 0, 0);
    CHECK_EQ_INT(job_mgr_start(m), UT_OK);
    int64_t id, requeued;
    int state;
    CHECK_EQ_INT(job_enqueue(m, "count", NULL, 0, &id), UT_OK);
    CHECK_EQ_INT(job_run(m, id, &state), UT_OK);
    CHECK_EQ_INT(state, CAT_JOB_FAILED);
    cat_job j;
    CHECK_EQ_INT(job_get(m, id, &j), UT_OK);
    CHECK_EQ_INT(j.failed, 10);
    CHECK_EQ_INT(j.done, 10);
    CHECK(j.error && strstr(j.error, "10 of 20 items failed"));
    cat_job_free(&j);
    /* A failed item's own writes were rolled back. */
    CHECK_EQ_INT(sql_count("retry.db", "SELECT count(*) FROM history"), 10);
    CHECK(sql_count("retry.db", "SELECT count(*) FROM job_items WHERE error LIKE '%on purpose%'") == 10);
    unlink(flag);
    CHECK_EQ_INT(job_retry(m, id, &requeued), UT_OK);
    CHECK_EQ_INT(requeued, 10);
    int calls = atomic_load(&cfg.calls);
    CHECK_EQ_INT(job_run(m, id, &state), UT_OK);
    CHECK_EQ_INT(state, CAT_JOB_DONE);
    CHECK_EQ_INT(atomic_load(&cfg.calls) - calls, 10);
    CHECK_EQ_INT(sql_count("retry.db", "SELECT count(*) FROM history"), 20);
    CHECK_EQ_INT(job_retry(m, id, &requeued), UT_ESTATE); /* done */
    job_mgr_close(m);
}

/* ---- crash and resume -------------------------------------------------- */

static int read_lines(const char *path, char ***lines) {
    FILE *f = fopen(path, "r");
    int n = 0;
    *lines = NULL;
    if (!f) return 0;
    char buf[64];
    while (fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\n")] = 0;
        *lines = realloc(*lines, (size_t)(n + 1) * sizeof **lines);
        (*lines)[n++] = strdup(buf);
    }
    fclose(f);
    return n;
}

static void free_lines(char **l, int n) {
    for (int i = 0; i < n; i++) free(l[i]);
    free(l);
}

/* The child runs the job; the parent kills it with SIGKILL after some
 * items, then resumes. Items the catalog had marked done before the kill
 * are never called again; everything ends done exactly once in the
 * catalog. Repeated with slow and fast items. */
static void crash_and_resume(const char *name, int sleep_us) {
    cfg.n = 150;
    cfg.sleep_us = sleep_us;
    snprintf(cfg.log, sizeof cfg.log, "%s/%s.log", test_tmpdir(), name);
    job_mgr *m = open_mgr(name, 0, 0);
    int64_t id;
    CHECK_EQ_INT(job_enqueue(m, "count", NULL, 0, &id), UT_OK);
    job_mgr_close(m);
    pid_t pid = fork();
    if (pid == 0) {
        job_mgr *cm = open_mgr(name, 0, 0);
        int st;
        job_run(cm, id, &st);
        _exit(0);
    }
    char **lines;
    int n;
    for (;;) {
        n = read_lines(cfg.log, &lines);
        free_lines(lines, n);
        if (n >= 40) break;
        usleep(2000);
    }
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status));
    long long done_before = sql_count(name, "SELECT count(*) FROM job_items WHERE state = 1");
    long long max_done = sql_count(name, "SELECT coalesce(max(seq), 0) FROM job_items WHERE state = 1");
    CHECK(done_before > 0 && done_before < 150);
    CHECK_EQ_INT(sql_count(name, "SELECT count(*) FROM history"), done_before); /* item writes == items done */
    CHECK_EQ_INT(max_done, done_before);                                         /* done items are a prefix */
    int before = read_lines(cfg.log, &lines);
    free_lines(lines, before);

    m = open_mgr(name, 0, 0);
    CHECK_EQ_INT(job_mgr_start(m), UT_OK); /* the dead child's job is requeued */
    int state;
    CHECK_EQ_INT(job_run(m, id, &state), UT_OK);
    CHECK_EQ_INT(state, CAT_JOB_DONE);
    cat_job j;
    CHECK_EQ_INT(job_get(m, id, &j), UT_OK);
    CHECK_EQ_INT(j.done, 150);
    CHECK_EQ_INT(j.attempts, 2);
    cat_job_free(&j);
    job_mgr_close(m);
    n = read_lines(cfg.log, &lines);
    int redone = 0;
    for (int i = before; i < n; i++) {
        int seq = atoi(lines[i] + 1) + 1;
        CHECK(seq > done_before); /* a finished item was not redone */
        if (seq <= (int)(before)) redone++;
    }
    /* Only what was in flight at the kill (one batch at most) ran twice. */
    CHECK(redone <= 1);
    CHECK_EQ_INT(n - before, 150 - done_before);
    free_lines(lines, n);
    CHECK_EQ_INT(sql_count(name, "SELECT count(*) FROM history"), 150);
    CHECK_EQ_INT(sql_count(name, "SELECT count(DISTINCT subject) FROM history"), 150);
    CHECK_EQ_INT(sql_count(name, "SELECT count(*) FROM job_events WHERE message LIKE 'interrupted%'"), 1);
}

TEST(resume_after_sigkill) { crash_and_resume("crash1.db", 2000); }
TEST(resume_after_sigkill_fast_items) { crash_and_resume("crash2.db", 300); }

/* Closing the manager mid-job puts the job back in the queue; the next
 * start resumes it where it stopped. */
TEST(shutdown_requeues_and_resumes) {
    cfg.n = 100;
    cfg.sleep_us = 3000;
    job_mgr *m = open_mgr("shut.db", 1, 0);
    CHECK_EQ_INT(job_mgr_start(m), UT_OK);
    int64_t id;
    CHECK_EQ_INT(job_enqueue(m, "count", NULL, 0, &id), UT_OK);
    while (atomic_load(&cfg.calls) < 10) usleep(1000);
    job_mgr_close(m);
    int first = atomic_load(&cfg.calls);
    CHECK_EQ_INT(sql_count("shut.db", "SELECT state FROM jobs WHERE id = 1"), CAT_JOB_QUEUED);
    cfg.sleep_us = 0;
    m = open_mgr("shut.db", 1, 0);
    CHECK_EQ_INT(job_mgr_start(m), UT_OK);
    int state;
    CHECK_EQ_INT(job_wait(m, id, 20000, &state), UT_OK);
    CHECK_EQ_INT(state, CAT_JOB_DONE);
    CHECK_EQ_INT(atomic_load(&cfg.calls), 100 + 0 * first);
    job_mgr_close(m);
    CHECK_EQ_INT(sql_count("shut.db", "SELECT count(*) FROM history"), 100);
}

/* ---- exclusivity and concurrency -------------------------------------- */

TEST(exclusive_jobs_serialised_per_root) {
    cfg.n = 40;
    cfg.sleep_us = 5000; /* long enough that both workers are up under load */
    job_mgr *m = open_mgr("excl.db", 2, 1);
    int64_t root, a, b;
    job_mgr_lock(m);
    CHECK_EQ_INT(cat_root_add(job_mgr_db(m), "/lib", &root), UT_OK);
    job_mgr_unlock(m);
    CHECK_EQ_INT(job_enqueue(m, "count", NULL, root, &a), UT_OK);
    CHECK_EQ_INT(job_enqueue(m, "count", NULL, root, &b), UT_OK);
    CHECK_EQ_INT(job_mgr_start(m), UT_OK);
    int sa, sb;
    CHECK_EQ_INT(job_wait(m, a, 20000, &sa), UT_OK);
    CHECK_EQ_INT(job_wait(m, b, 20000, &sb), UT_OK);
    CHECK_EQ_INT(sa, CAT_JOB_DONE);
    CHECK_EQ_INT(sb, CAT_JOB_DONE);
    CHECK_EQ_INT(atomic_load(&cfg.max_in_root), 1);
    job_mgr_close(m);
    /* The same two jobs on different roots run side by side. */
    atomic_store(&cfg.max_in_root, 0);
    m = open_mgr("excl.db", 2, 1);
    int64_t root2;
    job_mgr_lock(m);
    CHECK_EQ_INT(cat_root_add(job_mgr_db(m), "/other", &root2), UT_OK);
    job_mgr_unlock(m);
    CHECK_EQ_INT(job_enqueue(m, "count", NULL, root, &a), UT_OK);
    CHECK_EQ_INT(job_enqueue(m, "count", NULL, root2, &b), UT_OK);
    CHECK_EQ_INT(job_mgr_start(m), UT_OK);
    CHECK_EQ_INT(job_wait(m, a, 20000, &sa), UT_OK);
    CHECK_EQ_INT(job_wait(m, b, 20000, &sb), UT_OK);
    CHECK_EQ_INT(atomic_load(&cfg.max_in_root), 2);
    job_mgr_close(m);
}

/* Heavy jobs (models) run one at a time; a light job runs beside them. */
static atomic_int heavy_now, heavy_max, light_beside_heavy;

static int heavy_item(job_ctx *c, const char *key, void *user) {
    int now = atomic_fetch_add(&heavy_now, 1) + 1;
    int max = atomic_load(&heavy_max);
    while (now > max && !atomic_compare_exchange_weak(&heavy_max, &max, now)) {}
    usleep(2000);
    atomic_fetch_sub(&heavy_now, 1);
    return JOB_ITEM_DONE;
}

static int light_item(job_ctx *c, const char *key, void *user) {
    if (atomic_load(&heavy_now) > 0) atomic_fetch_add(&light_beside_heavy, 1);
    usleep(2000);
    return JOB_ITEM_DONE;
}

TEST(heavy_jobs_do_not_oversubscribe) {
    cfg.n = 80;
    char *p = dbfile("heavy.db");
    job_config jc = {.workers = 3};
    job_mgr *m;
    CHECK_EQ_INT(job_mgr_open(p, &jc, &m), UT_OK);
    ut_free(p);
    job_type h = {.name = "heavy", .heavy = 1, .plan = count_plan, .item = heavy_item};
    job_type l = {.name = "light", .plan = count_plan, .item = light_item};
    CHECK_EQ_INT(job_register(m, &h), UT_OK);
    CHECK_EQ_INT(job_register(m, &l), UT_OK);
    int64_t ids[3];
    CHECK_EQ_INT(job_enqueue(m, "heavy", NULL, 0, &ids[0]), UT_OK);
    CHECK_EQ_INT(job_enqueue(m, "heavy", NULL, 0, &ids[1]), UT_OK);
    CHECK_EQ_INT(job_enqueue(m, "light", NULL, 0, &ids[2]), UT_OK);
    CHECK_EQ_INT(job_mgr_start(m), UT_OK);
    for (int i = 0; i < 3; i++) {
        int st;
        CHECK_EQ_INT(job_wait(m, ids[i], 30000, &st), UT_OK);
        CHECK_EQ_INT(st, CAT_JOB_DONE);
    }
    CHECK_EQ_INT(atomic_load(&heavy_max), 1);
    CHECK(atomic_load(&light_beside_heavy) > 0);
    job_mgr_close(m);
}

typedef struct {
    const char *path;
    atomic_int *stop;
    int reads, errors, went_back;
} reader_arg;

static void *reader(void *arg) {
    reader_arg *r = arg;
    cat_db *db;
    if (cat_open(r->path, &db)) {
        r->errors++;
        return NULL;
    }
    int64_t last = 0;
    while (!atomic_load(r->stop)) {
        int64_t n;
        cat_job j;
        if (cat_photo_count(db, 1, -1, &n) == UT_OK) r->reads++;
        else r->errors++;
        if (n < last) r->went_back++;
        last = n;
        if (cat_job_get(db, 1, &j) == UT_OK) cat_job_free(&j);
        else r->errors++;
    }
    cat_close(db);
    return NULL;
}

/* Readers on their own connections keep reading, without errors and
 * without seeing counts go backwards, while an index job writes. */
TEST(concurrent_readers_while_job_writes) {
    char dir[600];
    snprintf(dir, sizeof dir, "%s/lib", test_tmpdir());
    mkdir(dir, 0755);
    for (int i = 0; i < 1500; i++) {
        char p[700];
        snprintf(p, sizeof p, "%s/%04d.png", dir, i);
        FILE *f = fopen(p, "w");
        fprintf(f, "\x89PNG\r\n\x1a\n%d", i);
        fclose(f);
    }
    char *path = dbfile("readers.db");
    job_mgr *m;
    CHECK_EQ_INT(job_mgr_open(path, NULL, &m), UT_OK);
    CHECK_EQ_INT(job_index_register(m, NULL), UT_OK);
    CHECK_EQ_INT(job_mgr_start(m), UT_OK);
    int64_t root, id;
    job_mgr_lock(m);
    CHECK_EQ_INT(cat_root_add(job_mgr_db(m), dir, &root), UT_OK);
    job_mgr_unlock(m);
    CHECK_EQ_INT(job_enqueue(m, "index", NULL, root, &id), UT_OK);
    atomic_int stop = 0;
    reader_arg ra[2] = {{path, &stop, 0, 0, 0}, {path, &stop, 0, 0, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, reader, &ra[i]);
    int state;
    CHECK_EQ_INT(job_run(m, id, &state), UT_OK);
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    CHECK_EQ_INT(state, CAT_JOB_DONE);
    for (int i = 0; i < 2; i++) {
        CHECK(ra[i].reads > 10);
        CHECK_EQ_INT(ra[i].errors, 0);
        CHECK_EQ_INT(ra[i].went_back, 0);
    }
    CHECK_EQ_INT(sql_count("readers.db", "SELECT count(*) FROM photos"), 1500);
    job_mgr_close(m);
    ut_free(path);
}

/* ---- errors and the folder queue -------------------------------------- */

TEST(unknown_ids_and_bad_calls) {
    job_mgr *m = open_mgr("ids.db", 0, 0);
    int64_t id;
    int state;
    cat_job j;
    CHECK_EQ_INT(job_cancel(m, 77), UT_ENOENT);
    CHECK_EQ_INT(job_retry(m, 77, NULL), UT_ENOENT);
    CHECK_EQ_INT(job_get(m, 77, &j), UT_ENOENT);
    CHECK_EQ_INT(job_run(m, 77, &state), UT_ENOENT);
    CHECK_EQ_INT(job_wait(m, 77, 10, &state), UT_ENOENT);
    CHECK_EQ_INT(job_enqueue(m, "nope", NULL, 0, &id), UT_EINVAL);
    job_type dup = {.name = "count", .item = count_item};
    CHECK_EQ_INT(job_register(m, &dup), UT_EEXIST);
    job_type none = {.name = "x"};
    CHECK_EQ_INT(job_register(m, &none), UT_EINVAL);
    CHECK_EQ_INT(job_enqueue(m, "count", NULL, 12345, &id), UT_ENOENT); /* no such root */
    CHECK_EQ_INT(job_enqueue(m, "count", "{\"n\": ", 0, &id), UT_EINVAL); /* params not JSON */
    job_mgr_close(m);
    job_mgr_close(NULL);
}

/* Allocation failures in the API calls give UT_ENOMEM and leave the
 * manager usable. */
TEST(allocation_failures) {
    cfg.n = 3;
    int failures = 0;
    for (long k = 1; k < 60; k++) {
        char name[32];
        snprintf(name, sizeof name, "oom%ld.db", k);
        char *p = dbfile(name);
        job_mgr *m = NULL;
        ut_mem_fail_at(k);
        int rc = job_mgr_open(p, NULL, &m);
        ut_mem_fail_at(0);
        ut_free(p);
        CHECK(rc == UT_OK || rc == UT_ENOMEM);
        if (rc) {
            failures++;
            CHECK(m == NULL);
            continue;
        }
        job_type t = {.name = "count", .plan = count_plan, .item = count_item};
        CHECK_EQ_INT(job_register(m, &t), UT_OK);
        int64_t id = 0, root;
        job_mgr_lock(m);
        CHECK_EQ_INT(cat_root_add(job_mgr_db(m), "/lib", &root), UT_OK);
        job_mgr_unlock(m);
        ut_mem_fail_at(k);
        rc = job_enqueue(m, "count", NULL, 0, &id);
        ut_mem_fail_at(0);
        CHECK(rc == UT_OK || rc == UT_ENOMEM);
        if (rc == UT_OK) {
            cat_job j;
            ut_mem_fail_at(k);
            rc = job_get(m, id, &j);
            ut_mem_fail_at(0);
            CHECK(rc == UT_OK || rc == UT_ENOMEM);
            if (rc == UT_OK) cat_job_free(&j);
            int state;
            ut_mem_fail_at(k);
            rc = job_run(m, id, &state);
            ut_mem_fail_at(0);
            CHECK(rc == UT_OK || rc == UT_ENOMEM);
        }
        int64_t fid;
        CHECK_EQ_INT(job_folder_add(m, "/lib/a", &fid), UT_OK);
        int64_t *ids = NULL;
        size_t n = 0;
        ut_mem_fail_at(k);
        rc = job_folder_process(m, "count", NULL, &ids, &n);
        ut_mem_fail_at(0);
        CHECK(rc == UT_OK || rc == UT_ENOMEM);
        ut_free(ids);
        /* Still works afterwards. */
        CHECK_EQ_INT(job_enqueue(m, "count", NULL, 0, &id), UT_OK);
        int state;
        CHECK_EQ_INT(job_run(m, id, &state), UT_OK);
        CHECK_EQ_INT(state, CAT_JOB_DONE);
        job_mgr_close(m);
    }
    CHECK(failures > 0);
}

/* Listeners come and go from other threads while workers publish; after
 * job_unsubscribe returns, the listener is never called again. */
typedef struct {
    atomic_int calls, gone, late;
} churn;

static atomic_int churn_total;

static void churn_listener(const job_event *ev, void *user) {
    churn *c = user;
    atomic_fetch_add(&churn_total, 1);
    atomic_fetch_add(&c->calls, 1);
    if (atomic_load(&c->gone)) atomic_fetch_add(&c->late, 1);
}

static void *churn_thread(void *arg) {
    job_mgr *m = arg;
    for (int i = 0; i < 300; i++) {
        churn *c = calloc(1, sizeof *c);
        int token;
        if (job_subscribe(m, churn_listener, c, &token)) abort();
        usleep(200);
        job_unsubscribe(m, token);
        atomic_store(&c->gone, 1);
        usleep(100);
        if (atomic_load(&c->late)) abort();
        free(c);
    }
    return NULL;
}

TEST(listeners_subscribe_and_leave_concurrently) {
    cfg.n = 400;
    cfg.sleep_us = 200;
    job_mgr *m = open_mgr("churn.db", 2, 0);
    CHECK_EQ_INT(job_mgr_start(m), UT_OK);
    int64_t a, b;
    CHECK_EQ_INT(job_enqueue(m, "count", NULL, 0, &a), UT_OK);
    CHECK_EQ_INT(job_enqueue(m, "count", NULL, 0, &b), UT_OK);
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, churn_thread, m);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    int sa, sb;
    CHECK_EQ_INT(job_wait(m, a, 30000, &sa), UT_OK);
    CHECK_EQ_INT(job_wait(m, b, 30000, &sb), UT_OK);
    CHECK_EQ_INT(sa, CAT_JOB_DONE);
    CHECK_EQ_INT(sb, CAT_JOB_DONE);
    CHECK(atomic_load(&churn_total) > 0);
    job_mgr_close(m);
}

TEST(event_json) {
    job_event ev = {.job_id = 7, .type = "index", .kind = JOB_EV_PROGRESS, .state = CAT_JOB_RUNNING, .done = 3,
                    .total = 10, .current = "a \"b\"\n.jpg", .rate = 2.5, .eta_s = -1, .ts_ms = 1234};
    ut_buf b = {0};
    CHECK_EQ_INT(job_event_json(&ev, &b), UT_OK);
    CHECK_EQ_STR(b.data, "{\"job_id\":7,\"type\":\"index\",\"event\":\"progress\",\"state\":\"running\","
                         "\"done\":3,\"failed\":0,\"skipped\":0,\"total\":10,\"current\":\"a \\\"b\\\"\\u000a.jpg\","
                         "\"rate\":2.500,\"eta_s\":null,\"message\":null,\"ts_ms\":1234}");
    ut_buf_free(&b);
}

TEST(folder_queue) {
    cfg.n = 3;
    job_mgr *m = open_mgr("folders.db", 0, 0);
    int64_t root, f1, f2;
    job_mgr_lock(m);
    CHECK_EQ_INT(cat_root_add(job_mgr_db(m), "/lib", &root), UT_OK);
    job_mgr_unlock(m);
    CHECK_EQ_INT(job_folder_add(m, "/lib/a", &f1), UT_OK);
    CHECK_EQ_INT(job_folder_add(m, "/lib/b/../c", &f2), UT_OK);
    CHECK_EQ_INT(job_folder_add(m, "/elsewhere", &f2), UT_ENOENT);
    CHECK_EQ_INT(job_folder_add(m, "lib/a", &f2), UT_EINVAL);
    cat_folder *fl;
    size_t n;
    CHECK_EQ_INT(job_folder_list(m, &fl, &n), UT_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(fl[1].path, "/lib/c");
    cat_folders_free(fl, n);
    int64_t *ids;
    CHECK_EQ_INT(job_folder_process(m, "count", "\"min_cluster_size\":2", &ids, &n), UT_OK);
    CHECK_EQ_INT(n, 2);
    cat_job j;
    CHECK_EQ_INT(job_get(m, ids[1], &j), UT_OK);
    CHECK_EQ_STR(j.params, "{\"folder\":\"/lib/c\",\"min_cluster_size\":2}");
    CHECK_EQ_INT(j.root_id, root);
    cat_job_free(&j);
    ut_free(ids);
    CHECK_EQ_INT(job_folder_list(m, &fl, &n), UT_OK);
    CHECK_EQ_INT(n, 0);
    cat_folders_free(fl, n);
    CHECK_EQ_INT(job_folder_add(m, "/lib/d", &f1), UT_OK);
    CHECK_EQ_INT(job_folder_clear(m), UT_OK);
    CHECK_EQ_INT(job_folder_list(m, &fl, &n), UT_OK);
    CHECK_EQ_INT(n, 0);
    cat_folders_free(fl, n);
    job_mgr_close(m);
}

int main(int argc, char **argv) { return test_main(argc, argv); }

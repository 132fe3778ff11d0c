/* The promise: SIGKILL at any instant loses no photo.
 *
 * Each trial builds the same ~40-photo library (nested folders, one- and
 * multi-person photos, общие folders, name clashes, a non-image), plans it,
 * runs org_execute in a forked child and kills it after a random delay
 * spread over a measured full run. The parent then runs org_resume (even
 * trials) or org_undo (odd ones); every third trial that recovery is itself
 * forked and killed first, then run again to completion. The tree must then
 * equal, byte for byte and entry for entry, the sorted layout of an unkilled
 * run (resume) or the original (undo): nothing lost, nothing duplicated, no
 * temp files. KADR_KILL_TRIALS (default 200, 60 under ASan) and KADR_KILL_SEED (default: the
 * clock, printed) control it; bench/organize-soak runs thousands. */
#include "organize.h"
#include "tree.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#define NPHOTOS 40
/* Trials by default: fewer under ASan, where each run is ~8x slower. */
#if defined(__SANITIZE_ADDRESS__)
#define DEFAULT_TRIALS 60
#else
#define DEFAULT_TRIALS 200
#endif

static uint64_t rng;
static uint64_t next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static const char *folders[] = {"", "2019/", "2019/summer/", "2019/winter/", "trip/", "trip/day1/",
                                "общие/", "Общие/sub/", "misc/"};
static const char *people[] = {"ann", "ben", "cat"};

static void photo_name(int i, char *buf, size_t n) {
    snprintf(buf, n, "%sIMG_%02d.jpg", folders[i % 9], i % 15);
}

static void build(const char *root) {
    uint64_t r = 12345;
    char name[256];
    static char data[100000];
    for (int i = 0; i < NPHOTOS; i++) {
        size_t len = 1000 + (size_t)(i * 4871) % 99000;
        for (size_t k = 0; k < len; k++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            data[k] = (char)(r >> 56);
        }
        photo_name(i, name, sizeof name);
        tree_put(root, name, data, (long)len);
    }
    tree_put(root, "ann/IMG_01.jpg", "ann's older photo, a clash", -1);
    tree_put(root, "trip/notes.txt", "not a photo", -1);
}

static org_plan *plan(const char *root) {
    org_plan *p = NULL;
    if (org_plan_create(root, NULL, &p)) return NULL;
    char name[256];
    for (int i = 0; i < NPHOTOS; i++) {
        const char *who[3];
        int k = i % 5 == 0 ? 0 : i % 5 <= 2 ? 1 : i % 5 - 1;
        for (int j = 0; j < k; j++) who[j] = people[(i + j) % 3];
        photo_name(i, name, sizeof name);
        if (org_plan_add(p, name, who, (size_t)k, NULL)) return NULL;
    }
    org_plan_add(p, "trip/notes.txt", people, 1, NULL);
    return org_plan_finish(p) ? NULL : p;
}

static void fresh(const char *root) {
    tree_rm(root);
    build(root);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

enum { DO_EXECUTE, DO_RESUME, DO_UNDO };

/* Half the trials force the copy path even for single-person moves. */
static org_opts opts;

static void act(int what, org_plan *p, const char *state) {
    if (what == DO_EXECUTE) org_execute(p, &opts, NULL);
    else if (what == DO_RESUME) org_resume(state, &opts, NULL);
    else org_undo(state, &opts, NULL);
}

/* Run `what` in a child, SIGKILL it delay_us after it starts (if it is still
 * running). The child says when it starts through a pipe, so the delay does
 * not include fork and scheduling time, which varies more than a run lasts. */
static void killed_run(int what, org_plan *p, const char *state, long delay_us) {
    int go[2];
    if (pipe(go) < 0) return;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        ut_log_set_level(UT_LOG_ERROR);
        close(go[0]);
        if (write(go[1], "g", 1) != 1) _exit(1);
        act(what, p, state);
        _exit(0);
    }
    close(go[1]);
    char b;
    if (read(go[0], &b, 1) != 1) b = 0;
    close(go[0]);
    struct timespec ts = {delay_us / 1000000, (delay_us % 1000000) * 1000};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
}

static off_t journal_size(const char *state) {
    struct stat st;
    return stat(tree_path(state, "journal"), &st) == 0 ? st.st_size : -1;
}

TEST(kill_anywhere) {
    const char *env = getenv("KADR_KILL_TRIALS"), *seed_env = getenv("KADR_KILL_SEED");
    int trials = env ? atoi(env) : DEFAULT_TRIALS;
    uint64_t seed = seed_env ? strtoull(seed_env, NULL, 0) : (uint64_t)time(NULL) ^ (uint64_t)getpid();
    rng = seed ? seed : 1;
    fprintf(stderr, "  kill test: %d trials, KADR_KILL_SEED=%llu\n", trials, (unsigned long long)seed);
    ut_log_set_level(UT_LOG_ERROR);

    char base[256];
    snprintf(base, sizeof base, "%s/kadr-kill-XXXXXX", test_exists("/dev/shm") ? "/dev/shm" : test_tmpdir());
    CHECK(mkdtemp(base) != NULL);
    char *root = ut_asprintf("%s/lib", base), *state = ut_asprintf("%s/lib/.kadr-sort", base);

    /* Reference layouts and the length of an unkilled run. */
    fresh(root);
    char *original = tree_manifest(root, NULL);
    org_plan *p = plan(root);
    CHECK(p != NULL);
    double t0 = now();
    CHECK_EQ_INT(org_execute(p, NULL, NULL), UT_OK);
    double full = now() - t0;
    for (int k = 0; k < 2; k++) { /* the quickest of three: timings here are noisy */
        org_plan_destroy(p);
        fresh(root);
        p = plan(root);
        t0 = now();
        CHECK_EQ_INT(org_execute(p, NULL, NULL), UT_OK);
        if (now() - t0 < full) full = now() - t0;
    }
    off_t full_journal = journal_size(state);
    char *sorted = tree_manifest(root, ".kadr-sort");
    org_plan_destroy(p);
    CHECK(strcmp(sorted, original) != 0);
    long span_us = (long)(full * 1.3e6) + 200;
    fprintf(stderr, "  unkilled run: %.2f ms, journal %lld bytes\n", full * 1e3, (long long)full_journal);

    int before_start = 0, mid_run = 0, after_done = 0, recovery_killed = 0;
    for (int t = 0; t < trials; t++) {
        fresh(root);
        p = plan(root);
        CHECK(p != NULL);
        opts.no_rename = t % 4 >= 2;
        killed_run(DO_EXECUTE, p, state, (long)(next_rand() % (uint64_t)span_us));
        off_t js = journal_size(state);
        /* Keep the kills inside runs although the machine's speed drifts:
         * shorten the span after a kill that came too late, widen it after
         * one that came too early. */
        if (js < 0) before_start++, span_us += span_us / 10;
        else if (js < full_journal) mid_run++;
        else after_done++, span_us -= span_us / 10;
        if (span_us < 300) span_us = 300;
        int what = t % 2 == 0 ? DO_RESUME : DO_UNDO;
        if (t % 3 == 0) { /* kill the recovery too, then run it again */
            killed_run(what, p, state, (long)(next_rand() % (uint64_t)span_us));
            recovery_killed++;
        }
        int rc = what == DO_RESUME ? org_resume(state, &opts, NULL) : org_undo(state, &opts, NULL);
        /* a run killed before its plan was on disk changed nothing */
        int unstarted = rc == UT_ENOENT || (rc == UT_ESTATE && strstr(ut_errmsg(), "before it started"));
        if (rc && !unstarted) {
            fprintf(stderr, "  trial %d: %s failed: %s\n", t, what == DO_RESUME ? "resume" : "undo", ut_errmsg());
            char cmd[1024];
            snprintf(cmd, sizeof cmd, "cp '%s/journal' /tmp/kadr-kill-failed-journal", state);
            if (system(cmd) == 0) fprintf(stderr, "  journal kept in /tmp/kadr-kill-failed-journal\n");
            CHECK_EQ_INT(rc, UT_OK);
        }
        const char *want = what == DO_RESUME && !unstarted ? sorted : original;
        char *got = tree_manifest(root, what == DO_RESUME ? ".kadr-sort" : NULL);
        if (strcmp(got, want) != 0) {
            fprintf(stderr, "  trial %d (%s) differs from the expected layout\n", t, what == DO_RESUME ? "resume" : "undo");
            tree_diff(want, got);
        }
        CHECK_EQ_STR(got, want);
        CHECK_EQ_INT(tree_temps(root), 0);
        ut_free(got);
        org_plan_destroy(p);
    }
    fprintf(stderr, "  killed before the journal: %d, mid-run: %d, after the end: %d; recoveries killed: %d\n",
            before_start, mid_run, after_done, recovery_killed);
    CHECK(mid_run >= trials / 4); /* the kills really landed inside runs */
    tree_rm(base);
    ut_free(root), ut_free(state), ut_free(original), ut_free(sorted);
}

int main(int argc, char **argv) { return test_main(argc, argv); }

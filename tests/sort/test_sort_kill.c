/* SIGKILL `kadr sort` (the real binary) at random moments, then finish with
 * --resume or roll back with --undo, and check that every photo is where it
 * should be, byte for byte: the sorted layout of an uninterrupted run after
 * --resume, the original layout after --undo. A kill before the journal
 * exists (during face analysis) must have changed nothing. The seed is
 * printed; KADR_KILL_TRIALS sets the number of trials (default 50). */
#include "http.h"
#include "test.h"
#include "tree.h"
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MODELS_HOME KADR_SOURCE_DIR "/build/models-home"

static char out[1 << 16], err[1 << 16];

static int sh(const char *fmt, const char *a, const char *b) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    return system(cmd);
}

/* 3 people x 5 portraits in their folders, 2 group photos, an общие folder. */
static int make_library(const char *lib) {
    const char *who[3] = {"leonard", "raj", "sheldon"};
    char dst[1024], src[1024];
    for (int p = 0; p < 3; p++) {
        snprintf(dst, sizeof dst, "%s/%s", lib, who[p]);
        snprintf(src, sizeof src, "%s/data/faces/bbt/%s", test_shared(), who[p]);
        if (ut_mkdirs(dst) || sh("cp '%s'/* '%s'/", src, dst)) return -1;
    }
    snprintf(src, sizeof src, "%s/data/faces/bbt-groups", test_shared());
    if (sh("cp '%s'/bbt1.jpg '%s'/", src, lib) || sh("cp '%s'/bbt2.jpg '%s'/", src, lib)) return -1;
    snprintf(dst, sizeof dst, "%s/общие", lib);
    return ut_mkdirs(dst) || sh("cp '%s'/bbt5.jpg '%s'/", src, dst);
}

static int sort_cmd(const char *flag, const char *lib) {
    const char *args[] = {"sort", flag ? flag : lib, flag ? lib : NULL, NULL};
    return kadr_run(args, out, sizeof out, err, sizeof err);
}

/* Start kadr sort and SIGKILL it after delay seconds (if still running). */
static void sort_and_kill(const char *lib, double delay) {
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execl(kadr_bin(), kadr_bin(), "sort", lib, (char *)NULL);
        _exit(127);
    }
    struct timespec ts = {(time_t)delay, (long)((delay - (time_t)delay) * 1e9)};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

TEST(kill_sort_then_resume_or_undo) {
    if (!test_exists(MODELS_HOME "/models/fr_feature.onnx")) {
        test_skip("models not installed in " MODELS_HOME " (scripts/setup.sh test)");
        return;
    }
    setenv("KADR_HOME", MODELS_HOME, 1);
    char lib[512];
    snprintf(lib, sizeof lib, "%s/lib", test_tmpdir());
    CHECK_EQ_INT(make_library(lib), 0);
    char *original = tree_manifest(lib, ".kadr-sort");
    /* One uninterrupted run gives the expected sorted layout and its length. */
    double t0 = ut_now();
    CHECK_EQ_INT(sort_cmd(NULL, lib), 0);
    double full = ut_now() - t0, fileops = 0;
    const char *fo = strstr(err, "file operations ");
    if (!fo || sscanf(fo, "file operations %lfs", &fileops) != 1 || fileops <= 0) fileops = 0.3 * full;
    char *sorted = tree_manifest(lib, ".kadr-sort");
    CHECK(strcmp(sorted, original) != 0);
    CHECK_EQ_INT(sort_cmd("--undo", lib), 0);
    char *back = tree_manifest(lib, ".kadr-sort");
    CHECK_EQ_STR(back, original);
    free(back);

    const char *env = getenv("KADR_KILL_TRIALS");
    int trials = env ? atoi(env) : 50;
    unsigned seed = (unsigned)time(NULL);
    fprintf(stderr, "  %d trials, seed %u, an uninterrupted sort takes %.2f s (file operations %.3f s)\n", trials, seed,
            full, fileops);
    srand(seed);
    int during_analysis = 0, resumed = 0, undone = 0;
    for (int t = 0; t < trials; t++) {
        /* Half the kills anywhere, half in the window where the file
         * operations run: the end of the run, after face analysis. */
        double u = (double)rand() / RAND_MAX;
        sort_and_kill(lib, (t % 4) >= 2 ? full - 2 * fileops * u : full * 1.1 * u);
        char *now = tree_manifest(lib, ".kadr-sort");
        int journal_exists;
        {
            char j[700];
            snprintf(j, sizeof j, "%s/.kadr-sort/journal", lib);
            journal_exists = test_exists(j);
        }
        if (!journal_exists) { /* killed before any file operation, or after a finished run */
            int untouched = strcmp(now, original) == 0, done = strcmp(now, sorted) == 0;
            if (!untouched && !done) test_fail(__FILE__, __LINE__, "trial %d: files changed without a journal", t);
            during_analysis += untouched;
            if (done) CHECK_EQ_INT(sort_cmd("--undo", lib), 0);
        } else if (t % 2 == 0) {
            CHECK_EQ_INT(sort_cmd("--resume", lib), 0);
            char *after = tree_manifest(lib, ".kadr-sort");
            if (strcmp(after, sorted) != 0) test_fail(__FILE__, __LINE__, "trial %d: --resume did not reach the sorted layout", t);
            free(after);
            CHECK_EQ_INT(sort_cmd("--undo", lib), 0);
            resumed++;
        } else {
            CHECK_EQ_INT(sort_cmd("--undo", lib), 0);
            undone++;
        }
        char *restored = tree_manifest(lib, ".kadr-sort");
        if (strcmp(restored, original) != 0) {
            test_fail(__FILE__, __LINE__, "trial %d (seed %u): original layout not restored", t, seed);
            free(restored);
            free(now);
            return;
        }
        free(restored);
        free(now);
    }
    fprintf(stderr, "  killed during analysis %d, then resumed %d, undone %d\n", during_analysis, resumed, undone);
    free(original);
    free(sorted);
}

int main(int argc, char **argv) { return test_main(argc, argv); }

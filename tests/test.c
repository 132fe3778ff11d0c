/* test.c -- runner for test.h: fork per test, time limit, summary line. */
#include "test.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_TESTS 512

typedef struct {
    const char *name;
    test_fn fn;
} test_case;

static test_case tests[MAX_TESTS];
static int ntests;
static int failed_here;
static int skipped_here;

void test_register(const char *name, test_fn fn) {
    if (ntests < MAX_TESTS) tests[ntests++] = (test_case){name, fn};
}

void test_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "  %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    failed_here = 1;
}

void test_skip(const char *why) {
    fprintf(stderr, "  skipped: %s\n", why);
    skipped_here = 1;
}

const char *test_shared(void) {
    const char *s = getenv("KADR_SHARED");
    return s ? s : KADR_SHARED_DEFAULT;
}

const char *test_tmpdir(void) {
    static char dir[256];
    if (!dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/kadr-test-XXXXXX", base ? base : "/tmp");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            exit(1);
        }
    }
    return dir;
}

int test_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Exit codes of a forked test: 0 pass, 1 fail, 77 skipped. */
static int run_one(int i, int nofork, int timeout) {
    if (nofork) {
        failed_here = skipped_here = 0;
        tests[i].fn();
        return failed_here ? 1 : skipped_here ? 77 : 0;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        alarm((unsigned)timeout);
        tests[i].fn();
        fflush(NULL);
        _exit(failed_here ? 1 : skipped_here ? 77 : 0);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    fprintf(stderr, "  killed by signal %d%s\n", WTERMSIG(status),
            WTERMSIG(status) == SIGALRM ? " (time limit)" : "");
    return 1;
}

int test_main(int argc, char **argv) {
    const char *filter = argc > 1 ? argv[1] : NULL;
    int nofork = getenv("KADR_TEST_NOFORK") != NULL;
    const char *t = getenv("KADR_TEST_TIMEOUT");
    int timeout = t ? atoi(t) : 300;
    int passed = 0, failed = 0, skipped = 0;
    for (int i = 0; i < ntests; i++) {
        if (filter && !strstr(tests[i].name, filter)) continue;
        int rc = run_one(i, nofork, timeout);
        const char *verdict = rc == 0 ? "ok" : rc == 77 ? "skip" : "FAIL";
        fprintf(stderr, "%-4s %s\n", verdict, tests[i].name);
        if (rc == 0) passed++;
        else if (rc == 77) skipped++;
        else failed++;
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    if (getenv("KADR_TEST_KEEP") == NULL && test_tmpdir()[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_tmpdir());
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", test_tmpdir());
    }
    return failed ? 1 : 0;
}

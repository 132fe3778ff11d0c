/* organize_bench.c -- file-operation throughput of kadr's journaled sorting
 * against the plain shell way of doing the same, in the same run.
 *
 *   org_bench DIR [N] [MB] [REPEATS]      (defaults: 1000 files of 3 MB, 1)
 *
 * Builds N photos of MB megabytes in DIR/lib (10 folders), then times, with
 * the median of REPEATS runs of each:
 *   ref    cp -r lib copy && sync && rm -rf lib  (then mv copy lib)
 *   move   every photo into one person's folder by copy + fsync + verify +
 *          remove (opts.no_rename: what crossing file systems costs)
 *   rename the same with the rename(2) fast path (same file system)
 *   copy2  every photo copied into two people's folders, original removed
 *   undo   of each of the above (timed, and checked to restore the tree)
 * and prints photos/s and the ratio to the reference. Page cache is warm for
 * every variant alike (the files were just written or moved back). */
#include "organize.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *who1[] = {"ann"}, *who2[] = {"ann", "ben"};

static int build(const char *lib, int n, size_t bytes) {
    char *buf = malloc(bytes);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < bytes; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (char)x;
    }
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/d%02d", lib, i % 10);
        ut_mkdirs(path);
        snprintf(path, sizeof path, "%s/d%02d/IMG_%05d.jpg", lib, i % 10, i);
        memcpy(buf, &i, sizeof i); /* every file distinct */
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(buf, 1, bytes, f) != bytes || fclose(f)) {
            free(buf);
            return -1;
        }
    }
    free(buf);
    return system("sync");
}

static org_plan *plan(const char *lib, int n, int people) {
    org_plan *p = NULL;
    if (org_plan_create(lib, NULL, &p)) return NULL;
    for (int i = 0; i < n; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "d%02d/IMG_%05d.jpg", i % 10, i);
        org_plan_add(p, rel, people == 1 ? who1 : who2, (size_t)people, NULL);
    }
    org_plan_finish(p);
    return p;
}

/* One hash over every photo's hash, to check undo restored the tree. */
static int digest(const char *lib, int n, char out[65]) {
    ut_sha256 h;
    ut_sha256_init(&h);
    for (int i = 0; i < n; i++) {
        char path[4096], hex[65];
        snprintf(path, sizeof path, "%s/d%02d/IMG_%05d.jpg", lib, i % 10, i);
        if (ut_sha256_file(path, hex)) return -1;
        ut_sha256_update(&h, path, strlen(path));
        ut_sha256_update(&h, hex, 64);
    }
    uint8_t d[32];
    ut_sha256_final(&h, d);
    ut_hex(d, 32, out);
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double reference(const char *dir) {
    char cmd[4096];
    double t = ut_now();
    snprintf(cmd, sizeof cmd, "cd '%s' && cp -r lib copy && sync && rm -rf lib", dir);
    if (system(cmd) != 0) return -1;
    t = ut_now() - t;
    snprintf(cmd, sizeof cmd, "cd '%s' && mv copy lib && sync", dir);
    return system(cmd) == 0 ? t : -1;
}

/* One kadr variant: plan + execute timed, then undo timed. */
static int variant(const char *dir, int n, int people, int no_rename, double *t_exec, double *t_undo) {
    char lib[2048], state[2048];
    snprintf(lib, sizeof lib, "%s/lib", dir);
    snprintf(state, sizeof state, "%s/state", dir);
    org_opts o = {.state_dir = state, .no_rename = no_rename};
    double t = ut_now();
    org_plan *p = plan(lib, n, people);
    int rc = p ? org_execute(p, &o, NULL) : UT_ENOMEM;
    *t_exec = ut_now() - t;
    org_plan_destroy(p);
    if (rc) {
        fprintf(stderr, "org_bench: execute: %s\n", ut_errmsg());
        return rc;
    }
    t = ut_now();
    rc = org_undo(state, &o, NULL);
    *t_undo = ut_now() - t;
    if (rc) fprintf(stderr, "org_bench: undo: %s\n", ut_errmsg());
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: org_bench DIR [N] [MB] [REPEATS]\n");
        return 2;
    }
    const char *dir = argv[1];
    int n = argc > 2 ? atoi(argv[2]) : 1000, reps = argc > 4 ? atoi(argv[4]) : 1;
    double mb = argc > 3 ? atof(argv[3]) : 3.0;
    if (n <= 0 || mb <= 0 || reps <= 0 || reps > 15) return 2;
    ut_log_set_level(UT_LOG_ERROR);
    char lib[2048];
    snprintf(lib, sizeof lib, "%s/lib", dir);
    if (build(lib, n, (size_t)(mb * 1e6)) != 0) {
        fprintf(stderr, "org_bench: cannot build %s\n", lib);
        return 1;
    }
    char before[65], after[65];
    if (digest(lib, n, before)) return 1;
    printf("organize bench: %d photos x %.1f MB in %s, median of %d\n", n, mb, dir, reps);
    double ref[15], ex[3][15], un[3][15];
    const char *names[3] = {"move (copy+fsync+verify)", "move (rename fast path)", "copy into 2 folders"};
    for (int r = 0; r < reps; r++) {
        ref[r] = reference(dir);
        if (ref[r] < 0) return 1;
        for (int v = 0; v < 3; v++)
            if (variant(dir, n, v == 2 ? 2 : 1, v == 0, &ex[v][r], &un[v][r])) return 1;
    }
    double tr = median(ref, reps);
    printf("  %-28s %7.2f s  %7.0f photos/s  (reference)\n", "cp -r + sync + rm -rf", tr, n / tr);
    for (int v = 0; v < 3; v++) {
        double te = median(ex[v], reps), tu = median(un[v], reps);
        printf("  %-28s %7.2f s  %7.0f photos/s  %.2fx the reference's time; undo %.2f s (%.0f photos/s)\n",
               names[v], te, n / te, te / tr, tu, n / tu);
    }
    int same = digest(lib, n, after) == 0 && strcmp(before, after) == 0;
    printf("  every photo byte-identical in place after the undos: %s\n", same ? "yes" : "NO");
    return same ? 0 : 1;
}

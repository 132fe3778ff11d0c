/* bench/catalog.c -- catalog and indexing figures (`make bench-catalog`).
 *
 *   1. Metadata indexing of 10,000 generated small files (no models): the
 *      "index" job end to end (walk, stat, sniff, SHA-256, catalog rows),
 *      files/s, against a reference measured in the same run: the same
 *      walk + stat + sniff + SHA-256 without any database. Then the
 *      re-index of the unchanged folder.
 *   2. Catalog size per 10,000 faces with 512-d float32 embeddings,
 *      against the raw embedding bytes, and the time to load them back
 *      as one matrix (what clustering does).
 *
 * Medians of 3 runs; the machine is shared, so compare ratios. */
#include "catalog.h"
#include "jobs.h"
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NFILES 10000
#define NFACES 10000
#define DIM 512
#define REPEATS 3

static char base[512];

static void make_files(const char *dir) {
    unsigned seed = 12345;
    for (int i = 0; i < NFILES; i++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/d%02d", dir, i % 40);
        ut_mkdirs(p);
        snprintf(p, sizeof p, "%s/d%02d/%05d.%s", dir, i % 40, i, i % 20 == 0 ? "txt" : "jpg");
        unsigned char buf[2048];
        size_t n = 512 + (size_t)(i % 1536);
        for (size_t k = 0; k < n; k++) buf[k] = (unsigned char)((seed = seed * 1103515245u + 12345u) >> 16);
        if (i % 20) memcpy(buf, "\xff\xd8\xff\xe0", 4);
        FILE *f = fopen(p, "wb");
        fwrite(buf, 1, n, f);
        fclose(f);
    }
}

/* The reference: what indexing must do per file, minus the catalog. */
static long reference_walk(const char *dir) {
    DIR *d = opendir(dir);
    long n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st)) continue;
        if (S_ISDIR(st.st_mode)) {
            n += reference_walk(p);
            continue;
        }
        unsigned char head[32];
        int fd = open(p, O_RDONLY);
        ssize_t got = read(fd, head, sizeof head);
        close(fd);
        char hex[65];
        if (got > 0 && job_sniff_format(head, (size_t)got)) ut_sha256_file(p, hex);
        n++;
    }
    if (d) closedir(d);
    return n;
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double last_cpu; /* CPU seconds of the last index_once */

static double index_once(const char *db, const char *dir, int64_t *root_out) {
    job_mgr *m;
    int64_t root, id;
    int state;
    if (job_mgr_open(db, NULL, &m) || job_index_register(m, NULL) || job_mgr_start(m)) {
        fprintf(stderr, "bench: %s\n", ut_errmsg());
        exit(1);
    }
    job_mgr_lock(m);
    cat_root_add(job_mgr_db(m), dir, &root);
    job_mgr_unlock(m);
    double t0 = ut_now(), c0 = cpu_now();
    if (job_enqueue(m, "index", NULL, root, &id) || job_run(m, id, &state) || state != CAT_JOB_DONE) {
        fprintf(stderr, "bench: index failed: %s\n", ut_errmsg());
        exit(1);
    }
    double dt = ut_now() - t0;
    last_cpu = cpu_now() - c0;
    job_mgr_close(m);
    if (root_out) *root_out = root;
    return dt;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[n / 2];
}

static void bench_index(void) {
    char dir[600];
    snprintf(dir, sizeof dir, "%s/files", base);
    make_files(dir);
    double ref[REPEATS], first[REPEATS], again[REPEATS], cref[REPEATS], cfirst[REPEATS], cagain[REPEATS];
    for (int r = 0; r < REPEATS; r++) {
        double t0 = ut_now(), c0 = cpu_now();
        long n = reference_walk(dir);
        ref[r] = ut_now() - t0;
        cref[r] = cpu_now() - c0;
        if (n != NFILES) fprintf(stderr, "bench: walked %ld files\n", n);
        char db[700];
        snprintf(db, sizeof db, "%s/index%d.db", base, r);
        first[r] = index_once(db, dir, NULL);
        cfirst[r] = last_cpu;
        again[r] = index_once(db, dir, NULL);
        cagain[r] = last_cpu;
    }
    double mr = median(ref, REPEATS), mf = median(first, REPEATS), ma = median(again, REPEATS);
    double cr = median(cref, REPEATS), cf = median(cfirst, REPEATS), ca = median(cagain, REPEATS);
    printf("index 10,000 small files (5%% non-images), median of %d; wall clock, then CPU time (less noisy):\n", REPEATS);
    printf("  reference (walk+stat+sniff+sha256, no DB): %8.0f files/s   %8.0f files/CPU-s\n", NFILES / mr, NFILES / cr);
    printf("  kadr index, first run:                     %8.0f files/s   %8.0f files/CPU-s  (%.2fx / %.2fx the reference)\n",
           NFILES / mf, NFILES / cf, mf / mr, cf / cr);
    printf("  kadr index, unchanged re-run:              %8.0f files/s   %8.0f files/CPU-s  (%.2fx / %.2fx the reference)\n",
           NFILES / ma, NFILES / ca, ma / mr, ca / cr);
}

static void bench_faces(void) {
    char db[700];
    snprintf(db, sizeof db, "%s/faces.db", base);
    cat_db *c;
    int64_t root;
    if (cat_open(db, &c) || cat_root_add(c, "/bench", &root)) exit(1);
    float *emb = malloc(4 * DIM * sizeof *emb);
    unsigned seed = 7;
    double t0 = ut_now();
    cat_begin(c);
    for (int p = 0; p < NFACES / 4; p++) {
        char rel[64];
        snprintf(rel, sizeof rel, "p/%06d.jpg", p);
        cat_photo ph = {.root_id = root, .path = rel, .size = 2000000, .mtime_ns = p, .format = "jpeg"};
        snprintf(ph.hash, sizeof ph.hash, "%064x", p);
        int what;
        cat_face f[4];
        for (int k = 0; k < 4; k++) {
            for (int d = 0; d < DIM; d++)
                emb[k * DIM + d] = (float)((seed = seed * 1103515245u + 12345u) >> 8) / (float)(1u << 24) - 0.5f;
            f[k] = (cat_face){.box = {10, 20, 100, 120}, .score = 0.9f, .quality = 0.8f, .dim = DIM, .embedding = emb + k * DIM};
        }
        if (cat_photo_upsert(c, &ph, &what) || cat_photo_set_faces(c, ph.id, "mbf512", f, 4)) exit(1);
    }
    cat_commit(c);
    double insert = ut_now() - t0;
    int64_t *ids;
    float *m;
    size_t n;
    int dim;
    double loads[REPEATS];
    for (int r = 0; r < REPEATS; r++) {
        t0 = ut_now();
        cat_face_matrix(c, "mbf512", CAT_FACES_ALL, &ids, &m, &n, &dim);
        loads[r] = ut_now() - t0;
        ut_free(ids);
        ut_free(m);
    }
    cat_close(c); /* checkpoints the WAL into the file */
    struct stat st;
    stat(db, &st);
    double raw = (double)NFACES * DIM * sizeof(float);
    printf("catalog with 10,000 faces (512-d float32) on 2,500 photos:\n");
    printf("  file size %.1f MB = %.2fx the raw embeddings (%.1f MB); %.0f bytes per face\n", st.st_size / 1e6,
           st.st_size / raw, raw / 1e6, (double)st.st_size / NFACES);
    printf("  insert %.2f s (%.0f faces/s, one transaction); load as matrix %.0f ms (median, %zu x %d)\n", insert,
           NFACES / insert, median(loads, REPEATS) * 1000, n, dim);
    free(emb);
}

int main(int argc, char **argv) {
    snprintf(base, sizeof base, "%s/kadr-bench-catalog-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(base)) return 1;
    ut_log_set_level(UT_LOG_WARN);
    bench_index();
    bench_faces();
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    return system(cmd) == 0 ? 0 : 1;
}

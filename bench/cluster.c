/* bench/cluster.c -- clustering speed and quality on synthetic faces.
 *
 *   make bench-cluster            (or build/bench-cluster [N] [threads])
 *
 * Faces: 10,000 identities x 9 noisy samples on the 512-d sphere (spreads
 * 0.6/0.8/1.0: same-person distances ~0.26/0.39/0.5, other people ~1.0)
 * plus 10% random noise faces. Prints wall time, peak RSS (getrusage) and
 * BCubed F against the synthetic truth for the default algorithm at
 * 100,000 faces (target: <= 30 s, <= 1 GB on 2 threads), HDBSCAN at 10k
 * (exact) and 100k (k-NN MST), 20 people x 1000 faces (large clusters:
 * the merge-heavy case), and at 5,000 faces the reference
 * hdbscan_np.py (numpy) timed in the same run: ratio and partition check.
 */
#include "cluster.h"
#include "synth.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

static const double sig[] = {0.6, 0.8, 1.0};

static void make(size_t n, size_t d, uint64_t seed, float **x, int32_t **t) {
    *x = malloc(n * d * sizeof **x);
    *t = malloc(n * sizeof **t);
    size_t ids = n / 10;
    syn_faces(seed, n, d, ids, 9, sig, 3, *x, *t);
}

static int run(const char *what, const float *x, const int32_t *t, size_t n, size_t d,
               const clu_opts *o, clu_result *keep) {
    clu_result r;
    double t0 = ut_now();
    int rc = clu_cluster(x, n, d, NULL, o, &r);
    double dt = ut_now() - t0;
    if (rc != UT_OK) {
        fprintf(stderr, "%s: %s\n", what, ut_errmsg());
        return -1;
    }
    clu_metrics m;
    clu_metrics_compute(t, r.labels, n, &m);
    printf("%-34s n=%6zu  %7.2f s  peak RSS %6.0f MB  BCubed F %.4f (P %.4f R %.4f)  "
           "clusters %d  noise %zu\n",
           what, n, dt, peak_rss_mb(), m.bcubed_f, m.bcubed_p, m.bcubed_r, r.nclusters, m.nnoise);
    fflush(stdout);
    if (keep) *keep = r;
    else clu_result_free(&r);
    return 0;
}

/* hdbscan_np.py on the same 5,000 faces; returns its seconds or -1. */
static double reference(const float *x, size_t n, size_t d, int32_t *lab) {
    const char *shared = getenv("KADR_SHARED") ? getenv("KADR_SHARED") : "../shared";
    char path[] = "/tmp/kadr-bench-cluster-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    FILE *f = fdopen(fd, "wb");
    fwrite(x, sizeof *x, n * d, f);
    fclose(f);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import sys, time, numpy as np; sys.path.insert(0, "
             "'%s/tools/face-reference'); from hdbscan_np import hdbscan, cosine_distance; "
             "E = np.fromfile('%s', np.float32).reshape(%zu, %zu); t = time.time(); "
             "l = hdbscan(cosine_distance(E), 2, 1); print(time.time() - t); "
             "print(' '.join(map(str, l)))\" 2>/dev/null",
             shared, path, n, d);
    FILE *p = popen(cmd, "r");
    double secs = -1;
    if (p && fscanf(p, "%lf", &secs) == 1)
        for (size_t i = 0; i < n; i++)
            if (fscanf(p, "%d", &lab[i]) != 1) secs = -1;
    if (p) pclose(p);
    unlink(path);
    return secs;
}

static int same_partition(const int32_t *a, const int32_t *b, size_t n) {
    int32_t *ab = malloc(n * sizeof *ab), *ba = malloc(n * sizeof *ba);
    for (size_t i = 0; i < n; i++) ab[i] = ba[i] = -2;
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        if ((a[i] < 0) != (b[i] < 0)) ok = 0;
        if (a[i] < 0 || !ok) continue;
        if (ab[a[i]] == -2) ab[a[i]] = b[i];
        if (ba[b[i]] == -2) ba[b[i]] = a[i];
        ok = ab[a[i]] == b[i] && ba[b[i]] == a[i];
    }
    free(ab), free(ba);
    return ok;
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 100000, d = 512;
    int threads = argc > 2 ? atoi(argv[2]) : 2;
    openblas_set_num_threads(threads);
    ut_pool *pool = NULL;
    if (threads > 1 && ut_pool_create(threads - 1, &pool) != UT_OK) return 1;
    printf("cluster bench: %d threads (OpenBLAS %d), d=%zu\n", threads, openblas_get_num_threads(), d);
    float *x;
    int32_t *t;
    make(n, d, 1, &x, &t);
    printf("data: %zu faces, %zu identities x 9 + %zu noise; peak RSS after generating %.0f MB\n",
           n, n / 10, n - n / 10 * 9, peak_rss_mb());
    clu_opts o;
    clu_opts_default(&o);
    o.pool = pool;
    if (run("default (average linkage 0.64)", x, t, n, d, &o, NULL)) return 1;
    o.algorithm = CLU_ALGO_HDBSCAN;
    if (run("hdbscan (2,1)", x, t, n, d, &o, NULL)) return 1;
    o.merge_threshold = 0.64f;
    if (run("hdbscan (2,1) + merge 0.64", x, t, n, d, &o, NULL)) return 1;
    free(x), free(t);

    make(10000, d, 2, &x, &t);
    clu_opts_default(&o);
    o.pool = pool;
    run("default (average linkage 0.64)", x, t, 10000, d, &o, NULL);
    o.algorithm = CLU_ALGO_HDBSCAN;
    run("hdbscan (2,1) exact", x, t, 10000, d, &o, NULL);
    free(x), free(t);

    /* few people with many photos each: the merge-heavy case */
    x = malloc(20000 * d * sizeof *x);
    t = malloc(20000 * sizeof *t);
    syn_faces(4, 20000, d, 20, 1000, sig, 3, x, t);
    clu_opts_default(&o);
    o.pool = pool;
    run("default, 20 people x 1000 faces", x, t, 20000, d, &o, NULL);
    free(x), free(t);

    clu_opts_default(&o);
    o.pool = pool;
    o.algorithm = CLU_ALGO_HDBSCAN;
    size_t nr = 5000;
    make(nr, d, 3, &x, &t);
    clu_result r;
    double t0 = ut_now();
    run("hdbscan (2,1) exact", x, t, nr, d, &o, &r);
    double ours = ut_now() - t0;
    int32_t *ref = malloc(nr * sizeof *ref);
    double py = reference(x, nr, d, ref);
    if (py < 0) {
        printf("reference hdbscan_np.py: skipped (no /usr/bin/python3 with numpy)\n");
    } else {
        printf("reference hdbscan_np.py n=%zu: %.2f s; kadr %.3f s; speed-up x%.1f; same partition: %s\n",
               nr, py, ours, py / ours, same_partition(r.labels, ref, nr) ? "yes" : "NO");
    }
    clu_result_free(&r);
    free(ref), free(x), free(t);
    ut_pool_destroy(pool);
    return 0;
}

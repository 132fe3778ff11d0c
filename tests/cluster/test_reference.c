/* Against the executable specification in ../shared/tools/face-reference:
 * HDBSCAN labels must partition exactly as hdbscan_np.py on generated
 * sets, and the metrics must equal metrics.py. Skipped with a message when
 * /usr/bin/python3 with numpy or the reference folder is missing. */
#include "cluster.h"
#include "synth.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char refdir[4096];

static int have_python(void) {
    snprintf(refdir, sizeof refdir, "%s/tools/face-reference", test_shared());
    char p[4200];
    snprintf(p, sizeof p, "%s/hdbscan_np.py", refdir);
    if (!test_exists(p) || !test_exists("/usr/bin/python3")) return 0;
    return system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
}

static void write_raw(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(p, 1, n, f);
    fclose(f);
}

/* Run a python snippet (with the reference on sys.path); read n numbers. */
static int run_py(const char *code, double *out, size_t n) {
    char script[4200], cmd[8600];
    snprintf(script, sizeof script, "%s/run.py", test_tmpdir());
    FILE *f = fopen(script, "w");
    fprintf(f, "import sys, numpy as np\nsys.path.insert(0, %s%s%s)\n%s\n", "'", refdir, "'", code);
    fclose(f);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s", script);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t i = 0;
    while (i < n && fscanf(p, "%lf", &out[i]) == 1) i++;
    int st = pclose(p);
    return st == 0 && i == n ? 0 : -1;
}

/* Same partition up to renaming, noise (-1) matching noise. */
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

/* dups: every 7th face is copied onto the next (exact duplicates: zero
 * distances, infinite lambdas, NaN stabilities as in numpy). */
static int check_case(uint64_t seed, size_t n, size_t d, size_t ids, int mcs, int ms, int dups) {
    static const double sig[] = {0.4, 0.7, 1.0, 1.3};
    float *x = malloc(n * d * sizeof *x);
    int32_t *truth = malloc(n * sizeof *truth), *ref = malloc(n * sizeof *ref);
    double *lab = malloc(n * sizeof *lab);
    syn_faces(seed, n, d, ids, (n * 9 / 10) / ids, sig, 4, x, truth);
    for (size_t i = 0; dups && i + 1 < n; i += 7) memcpy(x + (i + 1) * d, x + i * d, d * sizeof *x);
    char path[4200], code[8000];
    snprintf(path, sizeof path, "%s/x.f32", test_tmpdir());
    write_raw(path, x, n * d * sizeof *x);
    snprintf(code, sizeof code,
             "from hdbscan_np import hdbscan, cosine_distance\n"
             "E = np.fromfile('%s', np.float32).reshape(%zu, %zu)\n"
             "print(' '.join(str(int(v)) for v in hdbscan(cosine_distance(E), %d, %d)))",
             path, n, d, mcs, ms);
    int rc = run_py(code, lab, n);
    clu_opts o;
    clu_opts_default(&o);
    o.algorithm = CLU_ALGO_HDBSCAN;
    o.min_cluster_size = mcs;
    o.min_samples = ms;
    clu_result r;
    int ok = rc == 0 && clu_cluster(x, n, d, NULL, &o, &r) == UT_OK;
    if (ok) {
        for (size_t i = 0; i < n; i++) ref[i] = (int32_t)lab[i];
        ok = same_partition(r.labels, ref, n);
        int nref = 0;
        for (size_t i = 0; i < n; i++) nref = ref[i] + 1 > nref ? ref[i] + 1 : nref;
        if (!ok || r.nclusters != nref)
            fprintf(stderr, "seed %llu n %zu mcs %d ms %d: kadr %d clusters, reference %d\n",
                    (unsigned long long)seed, n, mcs, ms, r.nclusters, nref);
        ok = ok && r.nclusters == nref;
        if (!ok && getenv("CLU_DEBUG"))
            for (size_t i = 0; i < n; i++)
                if (r.labels[i] < 0 || ref[i] < 0)
                    fprintf(stderr, "  %zu: kadr %d ref %d\n", i, r.labels[i], ref[i]);
        clu_result_free(&r);
    }
    free(x), free(truth), free(ref), free(lab);
    return ok;
}

TEST(hdbscan_matches_reference) {
    if (!have_python()) {
        test_skip("no /usr/bin/python3 with numpy or no face-reference (apt-get install python3-numpy)");
        return;
    }
    static const int cfg[][2] = {{2, 1}, {5, 1}, {3, 2}, {5, 3}, {10, 5}, {4, 8}};
    int cases = 0;
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++)
        for (uint64_t seed = 1; seed <= 3; seed++) {
            size_t n = 150 + 170 * (size_t)seed, d = seed == 2 ? 32 : 16;
            CHECK(check_case(seed * 100 + c, n, d, 4 + 3 * (size_t)seed, cfg[c][0], cfg[c][1], 0));
            cases++;
        }
    CHECK_EQ_INT(cases, 18);
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++)
        CHECK(check_case(900 + c, 300, 16, 8, cfg[c][0], cfg[c][1], 1));
}

TEST(metrics_match_reference) {
    if (!have_python()) {
        test_skip("no /usr/bin/python3 with numpy or no face-reference");
        return;
    }
    syn_rng g = {42};
    for (int round = 0; round < 4; round++) {
        size_t n = 50 + 97 * (size_t)round;
        int32_t *t = malloc(n * sizeof *t), *p = malloc(n * sizeof *p);
        for (size_t i = 0; i < n; i++) {
            t[i] = (int32_t)(syn_next(&g) % (3 + round * 5)) * 7 - 3;
            p[i] = (int32_t)(syn_next(&g) % (4 + round * 4)) - 1; /* -1 = noise */
        }
        char tp[4200], pp[4200], code[9000];
        snprintf(tp, sizeof tp, "%s/t.i32", test_tmpdir());
        snprintf(pp, sizeof pp, "%s/p.i32", test_tmpdir());
        write_raw(tp, t, n * 4);
        write_raw(pp, p, n * 4);
        snprintf(code, sizeof code,
                 "from metrics import all_metrics, singletonize\n"
                 "t = np.fromfile('%s', np.int32); p = singletonize(np.fromfile('%s', np.int32))\n"
                 "m = all_metrics(t, p)\n"
                 "print(' '.join(repr(float(m[k])) for k in "
                 "['bc_p','bc_r','bc_f','pw_p','pw_r','pw_f','n_clusters']))",
                 tp, pp);
        double ref[7];
        CHECK(run_py(code, ref, 7) == 0);
        clu_metrics m;
        CHECK_EQ_INT(clu_metrics_compute(t, p, n, &m), UT_OK);
        double got[7] = {m.bcubed_p, m.bcubed_r, m.bcubed_f, m.pair_p, m.pair_r, m.pair_f,
                         (double)m.nclusters};
        for (int k = 0; k < 7; k++) CHECK(fabs(got[k] - ref[k]) < 1e-12);
        free(t), free(p);
    }
}

int main(int argc, char **argv) { return test_main(argc, argv); }

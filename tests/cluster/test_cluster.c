/* Unit tests of the cluster module: hand-checked cases, edge sizes,
 * validation, cannot-link, exactness of graph average linkage against a
 * brute-force one, the approximate (IVF) paths against the exact ones,
 * incremental assignment, fault injection. */
#include "cluster.h"
#include "synth.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>

static const double sig3[] = {0.5, 0.8, 1.1};

/* Unit vectors in 2-D at the given angles (degrees). */
static float *circle(const double *deg, size_t n) {
    float *x = malloc(n * 2 * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        x[2 * i] = (float)cos(deg[i] * M_PI / 180);
        x[2 * i + 1] = (float)sin(deg[i] * M_PI / 180);
    }
    return x;
}

static int same_partition(const int32_t *a, const int32_t *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int sa = a[i] >= 0 && a[i] == a[j], sb = b[i] >= 0 && b[i] == b[j];
            if (sa != sb || (a[i] < 0) != (b[i] < 0)) return 0;
        }
    return 1;
}

/* No label holds two faces of one group. */
static int cannot_link_holds(const int32_t *lab, const int32_t *grp, size_t n) {
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (lab[i] >= 0 && lab[i] == lab[j] && grp[i] >= 0 && grp[i] == grp[j]) return 0;
    return 1;
}

static double bcubed_f(const int32_t *truth, const int32_t *lab, size_t n) {
    clu_metrics m;
    if (clu_metrics_compute(truth, lab, n, &m) != UT_OK) return -1;
    return m.bcubed_f;
}

TEST(hand_checked_average_linkage) {
    /* 0,10,20 and 90,100 degrees: within 1-cos(20) = 0.06, across > 0.65;
     * 45 joins the first group (avg 0.19 vs 0.36) and the two groups stay
     * apart (average 0.775 > 0.64). */
    double deg[] = {0, 90, 10, 45, 100, 20};
    float *x = circle(deg, 6);
    clu_result r;
    CHECK_EQ_INT(clu_cluster(x, 6, 2, NULL, NULL, &r), UT_OK);
    CHECK_EQ_INT(r.nclusters, 2);
    int32_t want[] = {0, 1, 0, 0, 1, 0};
    for (int i = 0; i < 6; i++) CHECK_EQ_INT(r.labels[i], want[i]);
    /* margins: last merge of {0,10,20,45} at the 45 point's average */
    double avg45 = ((1 - cos(M_PI / 4)) + (1 - cos(35 * M_PI / 180)) + (1 - cos(25 * M_PI / 180))) / 3;
    CHECK(fabs(r.persistence[0] - (0.64 - avg45)) < 1e-5);
    clu_result_free(&r);
    clu_result_free(&r); /* twice is fine */
    free(x);
}

TEST(hand_checked_threshold_boundary) {
    /* two points at 60 degrees: distance exactly 0.5; merged iff 0.5 < t */
    double deg[] = {0, 60};
    float *x = circle(deg, 2);
    clu_opts o;
    clu_opts_default(&o);
    clu_result r;
    o.threshold = 0.51f;
    CHECK_EQ_INT(clu_cluster(x, 2, 2, NULL, &o, &r), UT_OK);
    CHECK_EQ_INT(r.nclusters, 1);
    clu_result_free(&r);
    o.threshold = 0.49f;
    CHECK_EQ_INT(clu_cluster(x, 2, 2, NULL, &o, &r), UT_OK);
    CHECK_EQ_INT(r.nclusters, 0);
    CHECK_EQ_INT(r.labels[0], -1);
    CHECK_EQ_INT(r.labels[1], -1);
    clu_result_free(&r);
    free(x);
}

TEST(sizes_zero_one_two) {
    double deg[] = {0, 5};
    float *x = circle(deg, 2);
    for (int alg = 0; alg < 2; alg++) {
        clu_opts o;
        clu_opts_default(&o);
        o.algorithm = alg;
        clu_result r;
        CHECK_EQ_INT(clu_cluster(NULL, 0, 2, NULL, &o, &r), UT_OK);
        CHECK_EQ_INT(r.n, 0);
        CHECK_EQ_INT(r.nclusters, 0);
        clu_result_free(&r);
        CHECK_EQ_INT(clu_cluster(x, 1, 2, NULL, &o, &r), UT_OK);
        CHECK_EQ_INT(r.nclusters, 0);
        CHECK_EQ_INT(r.labels[0], -1);
        clu_result_free(&r);
        CHECK_EQ_INT(clu_cluster(x, 2, 2, NULL, &o, &r), UT_OK);
        /* average linkage joins them; HDBSCAN (as the reference) never
         * selects the root, and two faces only form the root */
        CHECK_EQ_INT(r.nclusters, alg == CLU_ALGO_AVERAGE ? 1 : 0);
        clu_result_free(&r);
    }
    free(x);
}

TEST(duplicates) {
    /* 5 copies at 0 degrees, 5 at 90, 3 at 200 */
    double deg[13];
    for (int i = 0; i < 13; i++) deg[i] = i < 5 ? 0 : i < 10 ? 90 : 200;
    float *x = circle(deg, 13);
    for (int alg = 0; alg < 2; alg++) {
        clu_opts o;
        clu_opts_default(&o);
        o.algorithm = alg;
        clu_result r;
        CHECK_EQ_INT(clu_cluster(x, 13, 2, NULL, &o, &r), UT_OK);
        CHECK_EQ_INT(r.nclusters, 3);
        for (int i = 0; i < 13; i++) CHECK_EQ_INT(r.labels[i], i < 5 ? 0 : i < 10 ? 1 : 2);
        clu_result_free(&r);
    }
    free(x);
}

TEST(identical_faces_ivf) {
    /* 2500 copies of one face and 500 of another through the IVF path:
     * every face lands in one cell, k-means centroids coincide */
    size_t n = 3000, d = 32;
    float *x = calloc(n * d, sizeof *x);
    for (size_t i = 0; i < n; i++) x[i * d + (i < 2500 ? 0 : 1)] = 1;
    for (int alg = 0; alg < 2; alg++) {
        clu_opts o;
        clu_opts_default(&o);
        o.algorithm = alg;
        o.exact_max = o.hdbscan_exact_max = 0;
        clu_result r;
        CHECK_EQ_INT(clu_cluster(x, n, d, NULL, &o, &r), UT_OK);
        CHECK_EQ_INT(r.nclusters, 2);
        for (size_t i = 0; i < n; i++) CHECK_EQ_INT(r.labels[i], i < 2500 ? 0 : 1);
        clu_result_free(&r);
    }
    free(x);
}

TEST(all_noise) {
    size_t n = 60, d = 128;
    float *x = malloc(n * d * sizeof *x);
    syn_rng g = {7};
    for (size_t i = 0; i < n; i++) syn_random_dir(&g, x + i * d, d);
    clu_result r;
    CHECK_EQ_INT(clu_cluster(x, n, d, NULL, NULL, &r), UT_OK);
    CHECK_EQ_INT(r.nclusters, 0);
    for (size_t i = 0; i < n; i++) CHECK_EQ_INT(r.labels[i], -1);
    clu_result_free(&r);
    free(x);
}

TEST(bad_embeddings_rejected) {
    float x[6] = {1, 0, 0, 1, 0.6f, 0.8f};
    clu_result r;
    x[3] = NAN;
    CHECK_EQ_INT(clu_cluster(x, 3, 2, NULL, NULL, &r), UT_EINVAL);
    CHECK(strstr(ut_errmsg(), "embedding 1 has a non-finite value") != NULL);
    CHECK(r.labels == NULL && r.n == 0);
    x[2] = 0, x[3] = 0;
    CHECK_EQ_INT(clu_cluster(x, 3, 2, NULL, NULL, &r), UT_EINVAL);
    CHECK(strstr(ut_errmsg(), "embedding 1 is a zero vector") != NULL);
    x[2] = 3, x[3] = 4;
    CHECK_EQ_INT(clu_cluster(x, 3, 2, NULL, NULL, &r), UT_EINVAL);
    CHECK(strstr(ut_errmsg(), "not L2-normalised") != NULL);
    CHECK_EQ_INT(clu_normalize(x, 3, 2), UT_OK);
    CHECK(fabs(x[2] - 0.6f) < 1e-6 && fabs(x[3] - 0.8f) < 1e-6);
    CHECK_EQ_INT(clu_cluster(x, 3, 2, NULL, NULL, &r), UT_OK);
    clu_result_free(&r);
    x[4] = INFINITY;
    CHECK_EQ_INT(clu_normalize(x, 3, 2), UT_EINVAL);
    CHECK_EQ_INT(clu_cluster(x, 3, 0, NULL, NULL, &r), UT_EINVAL);
    CHECK_EQ_INT(clu_metrics_compute(NULL, NULL, 0, &(clu_metrics){0}), UT_EINVAL);
}

TEST(parameters_validated) {
    float x[4] = {1, 0, 0, 1};
    struct {
        const char *msg;
        void (*set)(clu_opts *);
    } bad[] = {
        {"unknown clustering algorithm", NULL}, {"threshold", NULL}, {"min_cluster_size", NULL},
        {"min_samples", NULL}, {"selection", NULL}, {"epsilon", NULL}, {"merge_threshold", NULL},
        {"max_neighbors", NULL},
    };
    for (int k = 0; k < 8; k++) {
        clu_opts o;
        clu_opts_default(&o);
        switch (k) {
        case 0: o.algorithm = 7; break;
        case 1: o.threshold = 0; break;
        case 2: o.min_cluster_size = 1; break;
        case 3: o.min_samples = 0; break;
        case 4: o.selection = 3; break;
        case 5: o.selection_epsilon = -1; break;
        case 6: o.merge_threshold = NAN; break;
        case 7: o.max_neighbors = 0; break;
        }
        clu_result r;
        CHECK_EQ_INT(clu_cluster(x, 2, 2, NULL, &o, &r), UT_EINVAL);
        CHECK(strstr(ut_errmsg(), bad[k].msg) != NULL);
        CHECK(r.labels == NULL);
    }
    clu_result r;
    int32_t p[1] = {-4};
    CHECK_EQ_INT(clu_assign(x, 2, 2, NULL, x, p, 1, 0.5f, NULL, &r), UT_EINVAL);
    CHECK_EQ_INT(clu_assign(x, 2, 2, NULL, x, NULL, 1, 0.5f, NULL, &r), UT_EINVAL);
    CHECK_EQ_INT(clu_assign(x, 2, 2, NULL, NULL, NULL, 0, 0, NULL, &r), UT_EINVAL);
}

/* Brute-force average linkage with a threshold and cannot-link:
 * repeatedly merge the closest allowed pair (full matrix, O(n^3)). */
static void naive_average(const float *x, size_t n, size_t d, const int32_t *grp, float t,
                          int32_t *lab) {
    double *D = malloc(n * n * sizeof *D);
    int64_t *sz = malloc(n * sizeof *sz);
    uint8_t *G = calloc(n * n, 1);  /* G[cluster * n + group]: cluster holds group */
    for (size_t i = 0; i < n; i++)
        if (grp && grp[i] >= 0) G[i * n + (size_t)grp[i]] = 1;
    for (size_t i = 0; i < n; i++) {
        lab[i] = (int32_t)i;
        sz[i] = 1;
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t k = 0; k < d; k++) s += (double)x[i * d + k] * x[j * d + k];
            D[i * n + j] = 1 - s; /* sum of pair distances between clusters */
        }
    }
    for (;;) {
        double best = t;
        size_t ba = 0, bb = 0;
        for (size_t a = 0; a < n; a++)
            for (size_t b = a + 1; b < n; b++) {
                if (lab[a] != (int32_t)a || lab[b] != (int32_t)b) continue;
                int clash = 0;
                for (size_t g = 0; g < n && !clash; g++) clash = G[a * n + g] && G[b * n + g];
                double avg = D[a * n + b] / (double)(sz[a] * sz[b]);
                if (!clash && avg < best) best = avg, ba = a, bb = b;
            }
        if (best >= t) break;
        for (size_t c = 0; c < n; c++) {
            D[ba * n + c] += D[bb * n + c];
            D[c * n + ba] = D[ba * n + c];
        }
        sz[ba] += sz[bb];
        for (size_t g = 0; g < n; g++) G[ba * n + g] |= G[bb * n + g];
        for (size_t i = 0; i < n; i++)
            if (lab[i] == (int32_t)bb) lab[i] = (int32_t)ba;
    }
    for (size_t i = 0; i < n; i++)
        if (sz[lab[i]] < 2) lab[i] = -1;
    free(D), free(sz), free(G);
}

TEST(average_linkage_is_exact) {
    for (uint64_t seed = 1; seed <= 4; seed++) {
        size_t n = 90 + 20 * seed, d = 24;
        float *x = malloc(n * d * sizeof *x);
        int32_t *truth = malloc(n * sizeof *truth), *want = malloc(n * sizeof *want);
        int32_t *grp = malloc(n * sizeof *grp);
        syn_faces(seed, n, d, 8, n / 10, sig3, 3, x, truth);
        for (size_t i = 0; i < n; i++) grp[i] = seed % 2 ? (int32_t)(i / 3) : -1;
        clu_opts o;
        clu_opts_default(&o);
        o.threshold = 0.6f + 0.05f * (float)seed;
        clu_result r;
        CHECK_EQ_INT(clu_cluster(x, n, d, grp, &o, &r), UT_OK);
        naive_average(x, n, d, grp, o.threshold, want);
        CHECK(same_partition(r.labels, want, n));
        CHECK(cannot_link_holds(r.labels, grp, n));
        clu_result_free(&r);
        free(x), free(truth), free(want), free(grp);
    }
}

TEST(cannot_link_same_photo) {
    /* faces 0 and 1 are from one photo and nearly identical; 2 is near both */
    double deg[] = {0, 1, 3, 90, 92};
    float *x = circle(deg, 5);
    int32_t grp[] = {7, 7, 8, 9, 10};
    for (int alg = 0; alg < 2; alg++) {
        clu_opts o;
        clu_opts_default(&o);
        o.algorithm = alg;
        clu_result r;
        CHECK_EQ_INT(clu_cluster(x, 5, 2, grp, &o, &r), UT_OK);
        CHECK(cannot_link_holds(r.labels, grp, 5));
        CHECK(r.labels[0] >= 0 || r.labels[1] >= 0);
        CHECK(r.labels[3] >= 0 && r.labels[3] == r.labels[4]);
        clu_result_free(&r);
        CHECK_EQ_INT(clu_cluster(x, 5, 2, NULL, &o, &r), UT_OK); /* without groups: together */
        CHECK(r.labels[0] >= 0 && r.labels[0] == r.labels[1]);
        clu_result_free(&r);
    }
    free(x);
}

TEST(cannot_link_random_groups) {
    size_t n = 600, d = 32;
    float *x = malloc(n * d * sizeof *x);
    int32_t *truth = malloc(n * sizeof *truth), *grp = malloc(n * sizeof *grp);
    syn_faces(11, n, d, 30, 18, sig3, 3, x, truth);
    syn_rng g = {5};
    for (size_t i = 0; i < n; i++) grp[i] = (int32_t)(syn_next(&g) % 150);  /* ~4 faces a photo */
    for (int alg = 0; alg < 2; alg++)
        for (int exact = 0; exact < 2; exact++) {
            clu_opts o;
            clu_opts_default(&o);
            o.algorithm = alg;
            o.merge_threshold = alg ? 0.64f : 0;
            if (!exact) o.exact_max = o.hdbscan_exact_max = 0;
            clu_result r;
            CHECK_EQ_INT(clu_cluster(x, n, d, grp, &o, &r), UT_OK);
            CHECK(cannot_link_holds(r.labels, grp, n));
            CHECK(r.nclusters > 10);
            clu_result_free(&r);
        }
    free(x), free(truth), free(grp);
}

TEST(ivf_matches_exact) {
    size_t n = 4000, d = 64;
    float *x = malloc(n * d * sizeof *x);
    int32_t *truth = malloc(n * sizeof *truth);
    syn_faces(3, n, d, 350, 10, sig3, 3, x, truth);
    clu_opts o;
    clu_opts_default(&o);
    clu_result a, b;
    CHECK_EQ_INT(clu_cluster(x, n, d, NULL, &o, &a), UT_OK);
    o.exact_max = 0;
    CHECK_EQ_INT(clu_cluster(x, n, d, NULL, &o, &b), UT_OK);
    double fa = bcubed_f(truth, a.labels, n), fb = bcubed_f(truth, b.labels, n);
    fprintf(stderr, "average linkage exact F %.4f (%d clusters), IVF F %.4f (%d)\n", fa,
            a.nclusters, fb, b.nclusters);
    CHECK(fa > 0.95);
    CHECK(fb > fa - 0.01);
    clu_result_free(&a), clu_result_free(&b);
    clu_opts_default(&o);
    o.algorithm = CLU_ALGO_HDBSCAN;
    o.min_samples = 3;
    o.min_cluster_size = 4;
    CHECK_EQ_INT(clu_cluster(x, n, d, NULL, &o, &a), UT_OK);
    o.hdbscan_exact_max = 0;
    o.exact_max = 0;
    CHECK_EQ_INT(clu_cluster(x, n, d, NULL, &o, &b), UT_OK);
    fa = bcubed_f(truth, a.labels, n), fb = bcubed_f(truth, b.labels, n);
    fprintf(stderr, "hdbscan exact F %.4f (%d clusters), k-NN MST F %.4f (%d)\n", fa, a.nclusters,
            fb, b.nclusters);
    CHECK(fb > fa - 0.02);
    clu_result_free(&a), clu_result_free(&b);
    free(x), free(truth);
}

TEST(threads_and_determinism) {
    size_t n = 3000, d = 48;
    float *x = malloc(n * d * sizeof *x);
    int32_t *truth = malloc(n * sizeof *truth);
    syn_faces(9, n, d, 200, 12, sig3, 3, x, truth);
    ut_pool *pool;
    CHECK_EQ_INT(ut_pool_create(2, &pool), UT_OK);
    for (int alg = 0; alg < 2; alg++)
        for (int exact = 0; exact < 2; exact++) {
            clu_opts o;
            clu_opts_default(&o);
            o.algorithm = alg;
            if (!exact) o.exact_max = o.hdbscan_exact_max = 0;
            clu_result a, b;
            CHECK_EQ_INT(clu_cluster(x, n, d, NULL, &o, &a), UT_OK);
            o.pool = pool;
            CHECK_EQ_INT(clu_cluster(x, n, d, NULL, &o, &b), UT_OK);
            CHECK_EQ_INT(a.nclusters, b.nclusters);
            CHECK(memcmp(a.labels, b.labels, n * sizeof *a.labels) == 0);
            clu_result_free(&a), clu_result_free(&b);
        }
    ut_pool_destroy(pool);
    free(x), free(truth);
}

TEST(hdbscan_selection_variants) {
    size_t n = 800, d = 32;
    float *x = malloc(n * d * sizeof *x);
    int32_t *truth = malloc(n * sizeof *truth);
    syn_faces(21, n, d, 40, 18, sig3, 3, x, truth);
    clu_opts o;
    clu_opts_default(&o);
    o.algorithm = CLU_ALGO_HDBSCAN;
    clu_result eom, leaf, eps, merged;
    CHECK_EQ_INT(clu_cluster(x, n, d, NULL, &o, &eom), UT_OK);
    o.selection = CLU_SELECT_LEAF;
    CHECK_EQ_INT(clu_cluster(x, n, d, NULL, &o, &leaf), UT_OK);
    o.selection = CLU_SELECT_EOM;
    o.selection_epsilon = 0.5f;
    CHECK_EQ_INT(clu_cluster(x, n, d, NULL, &o, &eps), UT_OK);
    o.selection_epsilon = 0;
    o.merge_threshold = 0.64f;
    CHECK_EQ_INT(clu_cluster(x, n, d, NULL, &o, &merged), UT_OK);
    double fe = bcubed_f(truth, eom.labels, n), fm = bcubed_f(truth, merged.labels, n);
    fprintf(stderr, "eom %d clusters F %.4f, leaf %d, eps %d, merged %d F %.4f\n", eom.nclusters,
            fe, leaf.nclusters, eps.nclusters, merged.nclusters, fm);
    CHECK(leaf.nclusters >= eom.nclusters);
    CHECK(eps.nclusters <= eom.nclusters);
    CHECK(merged.nclusters < eom.nclusters);  /* (2,1) fragments people... */
    CHECK(fm > fe);                            /* ...and the merge repairs it */
    for (int i = 0; i < merged.nclusters; i++) CHECK(merged.persistence[i] > 0);
    clu_result_free(&eom), clu_result_free(&leaf), clu_result_free(&eps), clu_result_free(&merged);
    free(x), free(truth);
}

TEST(assign_to_anchors) {
    size_t d = 128, na = 30, n = 200;
    float *all = malloc((na + n) * d * sizeof *all);
    int32_t *truth = malloc((na + n) * sizeof *truth);
    /* 10 identities; anchors: 3 faces each of identities 0,1,2 */
    syn_faces(5, na + n, d, 10, 22, sig3, 3, all, truth);
    float *anc = malloc(na * d * sizeof *anc), *x = malloc(n * d * sizeof *x);
    int32_t ap[30], *grp = malloc(n * sizeof *grp), *xt = malloc(n * sizeof *xt);
    size_t ka = 0, kx = 0;
    int per[3] = {0, 0, 0};
    for (size_t i = 0; i < na + n; i++) {
        int t = truth[i];
        if (t >= 0 && t < 3 && per[t] < 10 && ka < na) {
            memcpy(anc + ka * d, all + i * d, d * 4);
            ap[ka++] = 100 + 5 * t;  /* person ids 100, 105, 110 */
            per[t]++;
        } else if (kx < n) {
            memcpy(x + kx * d, all + i * d, d * 4);
            xt[kx] = t;
            grp[kx] = (int32_t)kx;
            kx++;
        }
    }
    CHECK_EQ_INT(ka, na);
    /* two faces of identity 0 in one photo: only one may become person 100 */
    size_t f0 = n, f1 = n;
    for (size_t i = 0; i < kx; i++)
        if (xt[i] == 0) {
            if (f0 == n) f0 = i;
            else if (f1 == n) f1 = i;
        }
    CHECK(f1 < n);
    grp[f1] = grp[f0];
    clu_result r;
    CHECK_EQ_INT(clu_assign(x, kx, d, grp, anc, ap, na, 0.64f, NULL, &r), UT_OK);
    int assigned = 0;
    for (size_t i = 0; i < kx; i++) {
        if (xt[i] >= 0 && xt[i] < 3 && i != f0 && i != f1) {
            CHECK_EQ_INT(r.labels[i], 100 + 5 * xt[i]);
            assigned++;
        }
        if (xt[i] >= 3 && !(r.labels[i] < 0 || r.labels[i] >= 111)) fprintf(stderr, "face %zu id %d -> %d\n", i, xt[i], r.labels[i]);
        if (xt[i] >= 3) CHECK(r.labels[i] < 0 || r.labels[i] >= 111);
    }
    CHECK(assigned > 20);
    CHECK((r.labels[f0] == 100) + (r.labels[f1] == 100) == 1);
    CHECK(r.nclusters >= 5);
    clu_result_free(&r);
    /* no anchors: plain clustering, numbered from 0 */
    CHECK_EQ_INT(clu_assign(x, kx, d, grp, NULL, NULL, 0, 0.64f, NULL, &r), UT_OK);
    CHECK(r.nclusters >= 8);
    clu_result_free(&r);
    free(all), free(truth), free(anc), free(x), free(grp), free(xt);
}

TEST(metrics_hand_checked) {
    int32_t t[] = {0, 0, 0, 1, 1}, p[] = {0, 0, 1, 1, -1};
    clu_metrics m;
    CHECK_EQ_INT(clu_metrics_compute(t, p, 5, &m), UT_OK);
    CHECK(fabs(m.bcubed_p - 0.8) < 1e-12);
    CHECK(fabs(m.bcubed_r - 8.0 / 15) < 1e-12);
    CHECK(fabs(m.bcubed_f - 0.64) < 1e-12);
    CHECK(fabs(m.pair_p - 0.5) < 1e-12);
    CHECK(fabs(m.pair_r - 0.25) < 1e-12);
    CHECK(fabs(m.pair_f - 1.0 / 3) < 1e-12);
    CHECK_EQ_INT(m.nclusters, 3);
    CHECK_EQ_INT(m.nidentities, 2);
    CHECK_EQ_INT(m.nnoise, 1);
    int32_t q[] = {-1, -1, -1, -1, -1};  /* all noise: P = 1, no predicted pairs */
    CHECK_EQ_INT(clu_metrics_compute(t, q, 5, &m), UT_OK);
    CHECK(fabs(m.bcubed_p - 1) < 1e-12 && fabs(m.pair_p - 1) < 1e-12 && m.pair_r == 0);
    CHECK_EQ_INT(m.nclusters, 5);
    CHECK_EQ_INT(clu_metrics_compute(t, t, 5, &m), UT_OK);
    CHECK(m.bcubed_f == 1 && m.pair_f == 1);
}

TEST(out_of_memory_is_clean) {
    size_t n = 200, d = 16;
    float *x = malloc(n * d * sizeof *x);
    int32_t *truth = malloc(n * sizeof *truth), *grp = malloc(n * sizeof *grp);
    syn_faces(2, n, d, 12, 20, sig3, 3, x, truth);
    for (size_t i = 0; i < n; i++) grp[i] = (int32_t)(i / 4);
    float *anc = x + 100 * d;  /* anchors: faces 100.. as people by truth */
    int32_t *ap = malloc(40 * sizeof *ap);
    for (int i = 0; i < 40; i++) ap[i] = truth[100 + i] >= 0 ? truth[100 + i] : 99;
    {
        clu_result r;
        long before = ut_mem_count();
        CHECK_EQ_INT(clu_assign(x, 100, d, grp, anc, ap, 40, 0.64f, NULL, &r), UT_OK);
        long total = ut_mem_count() - before;
        clu_result_free(&r);
        for (long k = 1; k <= total; k++) {
            ut_mem_fail_at(k);
            int rc = clu_assign(x, 100, d, grp, anc, ap, 40, 0.64f, NULL, &r);
            ut_mem_fail_at(0);
            if (rc == UT_OK) {
                clu_result_free(&r);
                continue;
            }
            CHECK_EQ_INT(rc, UT_ENOMEM);
            CHECK(r.labels == NULL && r.persistence == NULL);
        }
    }
    free(ap);
    for (int variant = 0; variant < 5; variant++) {
        clu_opts o;
        clu_opts_default(&o);
        o.algorithm = variant >= 2 ? CLU_ALGO_HDBSCAN : CLU_ALGO_AVERAGE;
        if (variant == 1 || variant == 3) o.exact_max = o.hdbscan_exact_max = 0;
        if (variant == 4) o.merge_threshold = 0.64f, o.min_samples = 2;
        /* count the allocations of a good run, then fail each one (every
         * step-th when there are many) */
        clu_result r;
        long before = ut_mem_count();
        CHECK_EQ_INT(clu_cluster(x, n, d, grp, &o, &r), UT_OK);
        long total = ut_mem_count() - before, step = total > 300 ? total / 300 : 1;
        clu_result_free(&r);
        int ok = 1;
        for (long k = 1; k <= total; k += step) {
            ut_mem_fail_at(k);
            int rc = clu_cluster(x, n, d, grp, &o, &r);
            ut_mem_fail_at(0);
            if (rc == UT_OK) {
                clu_result_free(&r);
                continue;
            }
            CHECK_EQ_INT(rc, UT_ENOMEM);
            CHECK(r.labels == NULL && r.persistence == NULL);
        }
        CHECK(ok);
    }
    free(x), free(truth), free(grp);
}

int main(int argc, char **argv) { return test_main(argc, argv); }

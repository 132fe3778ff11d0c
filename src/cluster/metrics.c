/* metrics.c -- clustering quality against true labels (kadr faces eval).
 *
 * Same definitions as ../shared/tools/face-reference/metrics.py: noise
 * (-1) predictions become singletons first; BCubed precision (recall) is
 * the item average of |C(i) & L(i)| / |C(i)| (/ |L(i)|); pairwise counts
 * unordered pairs, with P (R) = 1 when there are no predicted (true)
 * pairs. Dense ids come from sorting, so any int32 labels work.
 */
#include "cluster_int.h"

#include <stdlib.h>

typedef struct {
    int64_t key;
    int32_t i;
} kv;

static int cmp_kv(const void *x, const void *y) {
    const kv *a = x, *b = y;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

/* Dense ids 0..m-1 for keys; returns m. */
static size_t dense(kv *t, size_t n, int32_t *out) {
    qsort(t, n, sizeof *t, cmp_kv);
    size_t m = 0;
    for (size_t r = 0; r < n; r++) {
        if (r && t[r].key != t[r - 1].key) m++;
        out[t[r].i] = (int32_t)m;
    }
    return n ? m + 1 : 0;
}

static double f1(double p, double r) { return p + r > 0 ? 2 * p * r / (p + r) : 0.0; }

static double pairs(int64_t c) { return (double)c * (double)(c - 1) / 2; }

int clu_metrics_compute(const int32_t *truth, const int32_t *pred, size_t n, clu_metrics *out) {
    if (!n || !truth || !pred) return ut_fail(UT_EINVAL, "metrics need at least one labelled face");
    kv *t = ut_malloc(n * sizeof *t);
    int32_t *L = ut_malloc(n * sizeof *L), *C = ut_malloc(n * sizeof *C), *B = ut_malloc(n * sizeof *B);
    int64_t *ls = ut_calloc(n, sizeof *ls), *cs = ut_calloc(n, sizeof *cs), *bs = ut_calloc(n, sizeof *bs);
    int rc = UT_OK;
    if (!t || !L || !C || !B || !ls || !cs || !bs) {
        rc = ut_fail(UT_ENOMEM, "out of memory computing metrics of %zu faces", n);
        goto done;
    }
    size_t nnoise = 0;
    for (size_t i = 0; i < n; i++) t[i] = (kv){truth[i], (int32_t)i};
    size_t nl = dense(t, n, L);
    /* noise: keys above every int32 so each is its own cluster */
    for (size_t i = 0; i < n; i++) {
        int64_t k = pred[i] >= 0 ? pred[i] : (int64_t)INT32_MAX + 1 + (int64_t)nnoise;
        nnoise += pred[i] < 0;
        t[i] = (kv){k, (int32_t)i};
    }
    size_t nc = dense(t, n, C);
    for (size_t i = 0; i < n; i++) t[i] = (kv){(int64_t)C[i] * (int64_t)nl + L[i], (int32_t)i};
    size_t nb = dense(t, n, B);
    for (size_t i = 0; i < n; i++) ls[L[i]]++, cs[C[i]]++, bs[B[i]]++;
    double p = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        p += (double)bs[B[i]] / (double)cs[C[i]];
        r += (double)bs[B[i]] / (double)ls[L[i]];
    }
    out->bcubed_p = p / (double)n;
    out->bcubed_r = r / (double)n;
    out->bcubed_f = f1(out->bcubed_p, out->bcubed_r);
    double tp = 0, pc = 0, pl = 0;
    for (size_t k = 0; k < nb; k++) tp += pairs(bs[k]);
    for (size_t k = 0; k < nc; k++) pc += pairs(cs[k]);
    for (size_t k = 0; k < nl; k++) pl += pairs(ls[k]);
    out->pair_p = pc > 0 ? tp / pc : 1.0;
    out->pair_r = pl > 0 ? tp / pl : 1.0;
    out->pair_f = f1(out->pair_p, out->pair_r);
    out->nclusters = nc;
    out->nidentities = nl;
    out->nnoise = nnoise;
done:
    ut_free(t), ut_free(L), ut_free(C), ut_free(B), ut_free(ls), ut_free(cs), ut_free(bs);
    return rc;
}

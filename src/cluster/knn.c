/* knn.c -- k nearest neighbours under cosine distance, exact or IVF.
 *
 * Exact: query blocks of QB rows against database blocks of DB rows; one
 * sgemm per block pair gives QB x DB dot products (never an n x n matrix),
 * then each query row updates its own bounded max-heap in parallel. Rows
 * are ordered by (distance, index) so the result does not depend on the
 * order candidates are seen.
 *
 * IVF (large n): spherical k-means on a sample gives nlist ~ 12 sqrt(n)
 * cells; every face lives in its nearest cell and probes its NPROBE nearest
 * cells. Work is grouped by cell: one sgemm of the cell's members against
 * all faces probing it, so each face is compared with the members of its
 * own nearest cells (per-query probing, not per-cell: in high dimension
 * the centroids near a cell's centroid say little about where a face's
 * neighbours live). A face's heap is updated by several cells, so rows are
 * guarded by striped mutexes. The distances reported are exact; only the
 * candidate set is approximate.
 */
#include "cluster_int.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

/* IVF parameters, measured on 100k synthetic 512-d faces (10k people):
 * recall of the pairs under 0.64 was 0.70 with sqrt(n) cells, 0.89 with
 * 4 sqrt(n), 0.986 with 12 sqrt(n) cells and 16 probes. Without structure
 * between people a centroid only attracts a face if it averages few
 * people, hence many small cells; one or two k-means steps from sampled
 * faces suffice (more do not raise recall). */
enum { QB = 1024, DB = 4096, CELLS_PER_SQRT_N = 12, NPROBE = 16, KM_ITERS = 2, KM_SAMPLE = 6 };

void clu__graph_free(clu__graph *g) {
    if (!g) return;
    ut_free(g->idx);
    ut_free(g->dist);
    memset(g, 0, sizeof *g);
}

/* 32 float lanes summed in double at the end: independent lanes let the
 * compiler use SIMD without reassociating (no -ffast-math), and the
 * relative error stays ~1e-6, far below any distance threshold. Cloned
 * for AVX2 and AVX-512 (picked at load time): merging clusters spends
 * most of its time here. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
double clu__dot(const float *a, const float *b, size_t d) {
    float acc[32] = {0};
    size_t i = 0;
    for (; i + 32 <= d; i += 32)
        for (int l = 0; l < 32; l++) acc[l] += a[i + l] * b[i + l];
    double s = 0;
    for (int l = 0; l < 32; l++) s += acc[l];
    for (; i < d; i++) s += (double)a[i] * b[i];
    return s;
}

/* ---- bounded max-heap per row, keyed by (dist, idx) ---------------------- */

static int worse(float da, int32_t ia, float db, int32_t ib) {
    return da > db || (da == db && ia > ib);
}

static void heap_push(float *hd, int32_t *hi, int *cnt, int k, float dv, int32_t iv) {
    int c = *cnt;
    if (c == k) {
        if (!worse(hd[0], hi[0], dv, iv)) return;
        /* replace the root and sift down */
        int p = 0;
        for (;;) {
            int l = 2 * p + 1, r = l + 1, m = p;
            float md = dv;
            int32_t mi = iv;
            if (l < k && worse(hd[l], hi[l], md, mi)) m = l, md = hd[l], mi = hi[l];
            if (r < k && worse(hd[r], hi[r], md, mi)) m = r;
            if (m == p) break;
            hd[p] = hd[m];
            hi[p] = hi[m];
            p = m;
        }
        hd[p] = dv;
        hi[p] = iv;
        return;
    }
    int p = c;
    while (p > 0) {
        int q = (p - 1) / 2;
        if (!worse(dv, iv, hd[q], hi[q])) break;
        hd[p] = hd[q];
        hi[p] = hi[q];
        p = q;
    }
    hd[p] = dv;
    hi[p] = iv;
    *cnt = c + 1;
}

/* Heap -> ascending, pad with -1. Insertion sort: k is small. */
static void row_finish(float *hd, int32_t *hi, int cnt, int k) {
    for (int a = 1; a < cnt; a++) {
        float dv = hd[a];
        int32_t iv = hi[a];
        int b = a - 1;
        while (b >= 0 && worse(hd[b], hi[b], dv, iv)) {
            hd[b + 1] = hd[b];
            hi[b + 1] = hi[b];
            b--;
        }
        hd[b + 1] = dv;
        hi[b + 1] = iv;
    }
    for (int a = cnt; a < k; a++) hd[a] = INFINITY, hi[a] = -1;
}

/* ---- exact --------------------------------------------------------------- */

typedef struct {
    clu__graph *g;
    int *cnt;
    const float *dots;   /* rows q0.., columns d0..d0+nd */
    size_t q0, d0, nd;
    const int32_t *qid;  /* NULL: query row r is face q0+r */
    const int32_t *did;  /* NULL: column c is face d0+c */
    float radius;
} scan_ctx;

static void scan_rows(void *p, size_t begin, size_t end) {
    scan_ctx *s = p;
    int k = s->g->k;
    for (size_t r = begin; r < end; r++) {
        int32_t q = s->qid ? s->qid[r] : (int32_t)(s->q0 + r);
        float *hd = s->g->dist + (size_t)q * k;
        int32_t *hi = s->g->idx + (size_t)q * k;
        const float *row = s->dots + r * s->nd;
        for (size_t c = 0; c < s->nd; c++) {
            int32_t j = s->did ? s->did[c] : (int32_t)(s->d0 + c);
            if (j == q) continue;
            float dv = 1.0f - row[c];
            if (dv < 0) dv = 0;
            if (!(dv < s->radius)) continue;
            heap_push(hd, hi, &s->cnt[q], k, dv, j);
        }
    }
}

static int knn_exact(const float *x, size_t n, size_t d, clu__graph *g, int *cnt,
                     float radius, ut_pool *pool) {
    float *dots = ut_malloc((size_t)QB * DB * sizeof *dots);
    if (!dots) return ut_fail(UT_ENOMEM, "out of memory for a %dx%d distance block", QB, DB);
    for (size_t q0 = 0; q0 < n; q0 += QB) {
        size_t nq = n - q0 < QB ? n - q0 : QB;
        for (size_t d0 = 0; d0 < n; d0 += DB) {
            size_t nd = n - d0 < DB ? n - d0 : DB;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)nd, (int)d, 1.0f,
                        x + q0 * d, (int)d, x + d0 * d, (int)d, 0.0f, dots, (int)nd);
            scan_ctx s = {g, cnt, dots, q0, d0, nd, NULL, NULL, radius};
            ut_pool_for(pool, nq, 16, scan_rows, &s);
        }
    }
    ut_free(dots);
    return UT_OK;
}

/* ---- IVF ----------------------------------------------------------------- */

typedef struct {
    const float *x;
    size_t d, nlist;
    const float *cent;
    int np;          /* cells kept per row */
    int32_t *top;    /* n x np nearest cells, nearest first */
    int failed;
} top_ctx;

/* The np nearest centroids (largest dot) of rows [begin, end), via sgemm. */
static void top_cells(void *p, size_t begin, size_t end) {
    top_ctx *a = p;
    size_t bs = 256;
    float *dots = ut_malloc(bs * a->nlist * sizeof *dots);
    float *hd = ut_malloc((size_t)a->np * sizeof *hd);
    if (!dots || !hd) {
        a->failed = 1;
        ut_free(dots), ut_free(hd);
        return;
    }
    for (size_t r0 = begin; r0 < end; r0 += bs) {
        size_t nr = end - r0 < bs ? end - r0 : bs;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nr, (int)a->nlist, (int)a->d,
                    1.0f, a->x + r0 * a->d, (int)a->d, a->cent, (int)a->d, 0.0f, dots,
                    (int)a->nlist);
        for (size_t r = 0; r < nr; r++) {
            int32_t *hi = a->top + (r0 + r) * (size_t)a->np;
            int cnt = 0;
            for (size_t c = 0; c < a->nlist; c++)
                heap_push(hd, hi, &cnt, a->np, -dots[r * a->nlist + c], (int32_t)c);
            row_finish(hd, hi, cnt, a->np);
        }
    }
    ut_free(dots), ut_free(hd);
}

static int nearest_cells(const float *x, size_t n, size_t d, const float *cent, size_t nlist,
                         int np, int32_t *top, ut_pool *pool) {
    top_ctx a = {x, d, nlist, cent, np, top, 0};
    ut_pool_for(pool, n, 1024, top_cells, &a);
    return a.failed ? ut_fail(UT_ENOMEM, "out of memory assigning faces to cells") : UT_OK;
}

/* Spherical k-means on a strided sample; cent (nlist x d) out. */
static int kmeans(const float *x, size_t n, size_t d, size_t nlist, float *cent, ut_pool *pool) {
    size_t ns = nlist * KM_SAMPLE < n ? nlist * KM_SAMPLE : n;
    size_t stride = n / ns;
    float *sample = ut_malloc(ns * d * sizeof *sample);
    int32_t *as = ut_malloc(ns * sizeof *as);
    double *acc = ut_malloc(nlist * d * sizeof *acc);
    size_t *cn = ut_malloc(nlist * sizeof *cn);
    int rc = UT_OK;
    if (!sample || !as || !acc || !cn) {
        rc = ut_fail(UT_ENOMEM, "out of memory for k-means (%zu cells)", nlist);
        goto done;
    }
    for (size_t i = 0; i < ns; i++) memcpy(sample + i * d, x + i * stride * d, d * sizeof *x);
    for (size_t c = 0; c < nlist; c++)
        memcpy(cent + c * d, sample + (c * (ns / nlist)) * d, d * sizeof *x);
    for (int it = 0; it < KM_ITERS; it++) {
        if ((rc = nearest_cells(sample, ns, d, cent, nlist, 1, as, pool)) != UT_OK) goto done;
        memset(acc, 0, nlist * d * sizeof *acc);
        memset(cn, 0, nlist * sizeof *cn);
        for (size_t i = 0; i < ns; i++) {
            double *a = acc + (size_t)as[i] * d;
            const float *v = sample + i * d;
            for (size_t j = 0; j < d; j++) a[j] += v[j];
            cn[as[i]]++;
        }
        for (size_t c = 0; c < nlist; c++) {
            if (!cn[c]) continue;  /* empty cell keeps its centroid */
            double nn = 0;
            for (size_t j = 0; j < d; j++) nn += acc[c * d + j] * acc[c * d + j];
            if (nn <= 0) continue;
            double s = 1.0 / sqrt(nn);
            for (size_t j = 0; j < d; j++) cent[c * d + j] = (float)(acc[c * d + j] * s);
        }
    }
done:
    ut_free(sample), ut_free(as), ut_free(acc), ut_free(cn);
    return rc;
}

enum { NSTRIPE = 1024 };

typedef struct {
    const float *x;
    size_t d;
    const int32_t *moff, *mem;   /* CSR: faces whose nearest cell is c */
    const int32_t *qoff, *qry;   /* CSR: faces that probe cell c */
    clu__graph *g;
    int *cnt;
    float radius;
    pthread_mutex_t *stripe;     /* a row's heap is shared by its probes */
    int failed;
} ivf_ctx;

/* One cell: its members against every face probing it, one sgemm per
 * chunk of QC queries (a huge cell must not need a huge block). */
static void ivf_cells(void *p, size_t begin, size_t end) {
    enum { QC = 256 };
    ivf_ctx *v = p;
    size_t d = v->d;
    for (size_t c = begin; c < end; c++) {
        size_t nm = (size_t)(v->moff[c + 1] - v->moff[c]);
        size_t nq = (size_t)(v->qoff[c + 1] - v->qoff[c]);
        if (!nm || !nq) continue;
        size_t qc = nq < QC ? nq : QC;
        float *q = ut_malloc(qc * d * sizeof *q), *m = ut_malloc(nm * d * sizeof *m);
        float *dots = ut_malloc(qc * nm * sizeof *dots);
        if (!q || !m || !dots) {
            v->failed = 1;
            ut_free(q), ut_free(m), ut_free(dots);
            return;
        }
        const int32_t *mid = v->mem + v->moff[c];
        for (size_t i = 0; i < nm; i++) memcpy(m + i * d, v->x + (size_t)mid[i] * d, d * 4);
        for (size_t q0 = 0; q0 < nq; q0 += qc) {
            size_t nr = nq - q0 < qc ? nq - q0 : qc;
            const int32_t *qid = v->qry + v->qoff[c] + q0;
            for (size_t i = 0; i < nr; i++) memcpy(q + i * d, v->x + (size_t)qid[i] * d, d * 4);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nr, (int)nm, (int)d, 1.0f,
                        q, (int)d, m, (int)d, 0.0f, dots, (int)nm);
            for (size_t r = 0; r < nr; r++) {
                pthread_mutex_t *mu = &v->stripe[(size_t)qid[r] % NSTRIPE];
                pthread_mutex_lock(mu);
                scan_ctx s = {v->g, v->cnt, dots, 0, 0, nm, qid, mid, v->radius};
                scan_rows(&s, r, r + 1);
                pthread_mutex_unlock(mu);
            }
        }
        ut_free(q), ut_free(m), ut_free(dots);
    }
}

/* CSR of (cell -> faces) from n rows of k cells each. */
static int cell_lists(const int32_t *cells, size_t n, int k, size_t nlist, int32_t **off,
                      int32_t **list) {
    *off = ut_calloc(nlist + 1, sizeof **off);
    *list = ut_malloc((n * (size_t)k + 1) * sizeof **list);
    int32_t *fill = ut_malloc((nlist + 1) * sizeof *fill);
    if (!*off || !*list || !fill) {
        ut_free(fill);
        return ut_fail(UT_ENOMEM, "out of memory for IVF lists");
    }
    for (size_t i = 0; i < n * (size_t)k; i++) (*off)[cells[i] + 1]++;
    for (size_t c = 0; c < nlist; c++) (*off)[c + 1] += (*off)[c];
    memcpy(fill, *off, nlist * sizeof *fill);
    for (size_t i = 0; i < n * (size_t)k; i++) (*list)[fill[cells[i]]++] = (int32_t)(i / (size_t)k);
    ut_free(fill);
    return UT_OK;
}

/* Long for a reason: index build (k-means, nearest cells, lists) and
 * search in one place, with one cleanup path. */
static int knn_ivf(const float *x, size_t n, size_t d, clu__graph *g, int *cnt, float radius,
                   ut_pool *pool) {
    size_t nlist = (size_t)(CELLS_PER_SQRT_N * sqrt((double)n));
    if (nlist < 1) nlist = 1;
    int np = (size_t)NPROBE < nlist ? NPROBE : (int)nlist;
    float *cent = ut_malloc(nlist * d * sizeof *cent);
    int32_t *top = ut_malloc(n * (size_t)np * sizeof *top), *home = ut_malloc(n * sizeof *home);
    int32_t *moff = NULL, *mem = NULL, *qoff = NULL, *qry = NULL;
    pthread_mutex_t *stripe = ut_malloc(NSTRIPE * sizeof *stripe);
    int rc = UT_OK;
    if (!cent || !top || !home || !stripe) {
        rc = ut_fail(UT_ENOMEM, "out of memory for an IVF index of %zu faces", n);
        goto done;
    }
    if ((rc = kmeans(x, n, d, nlist, cent, pool)) != UT_OK) goto done;
    if ((rc = nearest_cells(x, n, d, cent, nlist, np, top, pool)) != UT_OK) goto done;
    for (size_t i = 0; i < n; i++) home[i] = top[i * (size_t)np];
    if ((rc = cell_lists(home, n, 1, nlist, &moff, &mem)) != UT_OK) goto done;
    if ((rc = cell_lists(top, n, np, nlist, &qoff, &qry)) != UT_OK) goto done;
    for (int i = 0; i < NSTRIPE; i++) pthread_mutex_init(&stripe[i], NULL);
    ivf_ctx v = {x, d, moff, mem, qoff, qry, g, cnt, radius, stripe, 0};
    ut_pool_for(pool, nlist, 1, ivf_cells, &v);
    for (int i = 0; i < NSTRIPE; i++) pthread_mutex_destroy(&stripe[i]);
    if (v.failed) rc = ut_fail(UT_ENOMEM, "out of memory searching IVF cells");
done:
    ut_free(cent), ut_free(top), ut_free(home), ut_free(moff), ut_free(mem), ut_free(qoff);
    ut_free(qry), ut_free(stripe);
    return rc;
}

typedef struct {
    clu__graph *g;
    int *cnt;
} finish_ctx;

static void finish_rows(void *p, size_t begin, size_t end) {
    finish_ctx *f = p;
    int k = f->g->k;
    for (size_t r = begin; r < end; r++)
        row_finish(f->g->dist + r * k, f->g->idx + r * k, f->cnt[r], k);
}

int clu__knn(const float *x, size_t n, size_t d, int k, float radius, int exact,
             ut_pool *pool, clu__graph *g) {
    memset(g, 0, sizeof *g);
    if (k < 1) return ut_fail(UT_EINVAL, "k-NN needs k >= 1 (got %d)", k);
    g->n = n;
    g->k = k;
    g->idx = ut_malloc((n ? n : 1) * (size_t)k * sizeof *g->idx);
    g->dist = ut_malloc((n ? n : 1) * (size_t)k * sizeof *g->dist);
    int *cnt = ut_calloc(n ? n : 1, sizeof *cnt);
    if (!g->idx || !g->dist || !cnt) {
        ut_free(cnt);
        clu__graph_free(g);
        return ut_fail(UT_ENOMEM, "out of memory for a %zu x %d neighbour graph", n, k);
    }
    int rc = exact ? knn_exact(x, n, d, g, cnt, radius, pool)
                   : knn_ivf(x, n, d, g, cnt, radius, pool);
    if (rc == UT_OK) {
        finish_ctx f = {g, cnt};
        ut_pool_for(pool, n, 256, finish_rows, &f);
    } else {
        clu__graph_free(g);
    }
    ut_free(cnt);
    return rc;
}

/* knn.c -- k nearest neighbours under cosine distance, exact or IVF.
 *
 * Exact: query blocks of QB rows against database blocks of DB rows; one
 * sgemm per block pair gives QB x DB dot products (never an n x n matrix),
 * then each query row updates its own bounded max-heap in parallel. Rows
 * are ordered by (distance, index) so the result does not depend on the
 * order candidates are seen.
 *
 * IVF (large n): spherical k-means on a sample gives nlist ~ 4 sqrt(n)
 * cells; every face goes to its nearest centroid. For each cell the
 * candidates are the faces of the NPROBE cells whose centroids are nearest
 * to that cell's centroid; one sgemm per cell (queries x candidates).
 * Recall is high for clustered data (faces of one person share cells); the
 * distances reported are exact.
 */
#include "cluster_int.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

enum { QB = 1024, DB = 4096, NPROBE = 32, KM_ITERS = 6 };

void clu__graph_free(clu__graph *g) {
    if (!g) return;
    ut_free(g->idx);
    ut_free(g->dist);
    memset(g, 0, sizeof *g);
}

double clu__dot(const float *a, const float *b, size_t d) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        s0 += (double)a[i] * b[i];
        s1 += (double)a[i + 1] * b[i + 1];
        s2 += (double)a[i + 2] * b[i + 2];
        s3 += (double)a[i + 3] * b[i + 3];
    }
    for (; i < d; i++) s0 += (double)a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
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
    int32_t *assign;
    float *buf;      /* per chunk scratch is allocated inside */
} assign_ctx;

/* Nearest centroid (largest dot) of rows [begin, end), via sgemm. */
static void assign_rows(void *p, size_t begin, size_t end) {
    assign_ctx *a = p;
    size_t bs = 256;
    float *dots = ut_malloc(bs * a->nlist * sizeof *dots);
    for (size_t r0 = begin; r0 < end; r0 += bs) {
        size_t nr = end - r0 < bs ? end - r0 : bs;
        if (!dots) { /* no scratch: fall back to plain dot products */
            for (size_t r = r0; r < r0 + nr; r++) {
                double best = -INFINITY;
                for (size_t c = 0; c < a->nlist; c++) {
                    double v = clu__dot(a->x + r * a->d, a->cent + c * a->d, a->d);
                    if (v > best) best = v, a->assign[r] = (int32_t)c;
                }
            }
            continue;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nr, (int)a->nlist, (int)a->d,
                    1.0f, a->x + r0 * a->d, (int)a->d, a->cent, (int)a->d, 0.0f, dots,
                    (int)a->nlist);
        for (size_t r = 0; r < nr; r++) {
            const float *row = dots + r * a->nlist;
            size_t best = 0;
            for (size_t c = 1; c < a->nlist; c++)
                if (row[c] > row[best]) best = c;
            a->assign[r0 + r] = (int32_t)best;
        }
    }
    ut_free(dots);
}

static void assign_all(const float *x, size_t n, size_t d, const float *cent, size_t nlist,
                       int32_t *assign, ut_pool *pool) {
    assign_ctx a = {x, d, nlist, cent, assign, NULL};
    ut_pool_for(pool, n, 1024, assign_rows, &a);
}

/* Spherical k-means on a strided sample; cent (nlist x d) out. */
static int kmeans(const float *x, size_t n, size_t d, size_t nlist, float *cent, ut_pool *pool) {
    size_t ns = nlist * 40 < n ? nlist * 40 : n;
    size_t stride = n / ns;
    float *sample = ut_malloc(ns * d * sizeof *sample);
    int32_t *as = ut_malloc(ns * sizeof *as);
    double *acc = ut_malloc(nlist * d * sizeof *acc);
    size_t *cn = ut_malloc(nlist * sizeof *cn);
    if (!sample || !as || !acc || !cn) {
        ut_free(sample), ut_free(as), ut_free(acc), ut_free(cn);
        return ut_fail(UT_ENOMEM, "out of memory for k-means (%zu cells)", nlist);
    }
    for (size_t i = 0; i < ns; i++) memcpy(sample + i * d, x + i * stride * d, d * sizeof *x);
    for (size_t c = 0; c < nlist; c++)
        memcpy(cent + c * d, sample + (c * (ns / nlist)) * d, d * sizeof *x);
    for (int it = 0; it < KM_ITERS; it++) {
        assign_all(sample, ns, d, cent, nlist, as, pool);
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
    ut_free(sample), ut_free(as), ut_free(acc), ut_free(cn);
    return UT_OK;
}

typedef struct {
    const float *x;
    size_t d, nlist;
    int nprobe;
    const int32_t *off, *members;  /* CSR: faces of each cell */
    const int32_t *probe;          /* nlist x nprobe cells to search */
    clu__graph *g;
    int *cnt;
    float radius;
    int failed;
} ivf_ctx;

static void ivf_cells(void *p, size_t begin, size_t end) {
    ivf_ctx *v = p;
    size_t d = v->d;
    for (size_t c = begin; c < end; c++) {
        size_t nq = (size_t)(v->off[c + 1] - v->off[c]);
        if (!nq) continue;
        size_t ncand = 0;
        for (int t = 0; t < v->nprobe; t++) {
            int32_t pc = v->probe[c * v->nprobe + t];
            ncand += (size_t)(v->off[pc + 1] - v->off[pc]);
        }
        /* queries in chunks of QC rows: a huge cell must not need a huge block */
        size_t qc = nq < 256 ? nq : 256;
        float *q = ut_malloc(qc * d * sizeof *q);
        float *cm = ut_malloc(ncand * d * sizeof *cm);
        int32_t *cid = ut_malloc(ncand * sizeof *cid);
        float *dots = ut_malloc(qc * ncand * sizeof *dots);
        if (!q || !cm || !cid || !dots) {
            v->failed = 1;
            ut_free(q), ut_free(cm), ut_free(cid), ut_free(dots);
            return;
        }
        size_t m = 0;
        for (int t = 0; t < v->nprobe; t++) {
            int32_t pc = v->probe[c * v->nprobe + t];
            for (int32_t e = v->off[pc]; e < v->off[pc + 1]; e++, m++) {
                cid[m] = v->members[e];
                memcpy(cm + m * d, v->x + (size_t)cid[m] * d, d * 4);
            }
        }
        for (size_t q0 = 0; q0 < nq; q0 += qc) {
            size_t nr = nq - q0 < qc ? nq - q0 : qc;
            const int32_t *qid = v->members + v->off[c] + q0;
            for (size_t i = 0; i < nr; i++) memcpy(q + i * d, v->x + (size_t)qid[i] * d, d * 4);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nr, (int)ncand, (int)d, 1.0f,
                        q, (int)d, cm, (int)d, 0.0f, dots, (int)ncand);
            scan_ctx s = {v->g, v->cnt, dots, 0, 0, ncand, qid, cid, v->radius};
            scan_rows(&s, 0, nr);
        }
        ut_free(q), ut_free(cm), ut_free(cid), ut_free(dots);
    }
}

/* For each cell the nprobe cells with the nearest centroids (itself first). */
static int probe_lists(const float *cent, size_t nlist, size_t d, int nprobe, int32_t *probe) {
    float *dots = ut_malloc(nlist * nlist * sizeof *dots);
    if (!dots) return ut_fail(UT_ENOMEM, "out of memory for %zu centroid distances", nlist);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nlist, (int)nlist, (int)d, 1.0f,
                cent, (int)d, cent, (int)d, 0.0f, dots, (int)nlist);
    float hd[NPROBE];
    for (size_t c = 0; c < nlist; c++) {
        int cnt = 0;
        for (size_t o = 0; o < nlist; o++) {
            float dv = o == c ? -INFINITY : 1.0f - dots[c * nlist + o];
            heap_push(hd, probe + c * nprobe, &cnt, nprobe, dv, (int32_t)o);
        }
        row_finish(hd, probe + c * nprobe, cnt, nprobe);
    }
    ut_free(dots);
    return UT_OK;
}

static int knn_ivf(const float *x, size_t n, size_t d, clu__graph *g, int *cnt, float radius,
                   ut_pool *pool) {
    size_t nlist = (size_t)(4.0 * sqrt((double)n));
    if (nlist < 1) nlist = 1;
    int nprobe = (size_t)NPROBE < nlist ? NPROBE : (int)nlist;
    float *cent = ut_malloc(nlist * d * sizeof *cent);
    int32_t *assign = ut_malloc(n * sizeof *assign);
    int32_t *off = ut_calloc(nlist + 1, sizeof *off);
    int32_t *members = ut_malloc(n * sizeof *members);
    int32_t *probe = ut_malloc(nlist * (size_t)nprobe * sizeof *probe);
    int rc = UT_OK;
    if (!cent || !assign || !off || !members || !probe) {
        rc = ut_fail(UT_ENOMEM, "out of memory for an IVF index of %zu faces", n);
        goto done;
    }
    if ((rc = kmeans(x, n, d, nlist, cent, pool)) != UT_OK) goto done;
    assign_all(x, n, d, cent, nlist, assign, pool);
    for (size_t i = 0; i < n; i++) off[assign[i] + 1]++;
    for (size_t c = 0; c < nlist; c++) off[c + 1] += off[c];
    {
        int32_t *fill = ut_malloc(nlist * sizeof *fill);
        if (!fill) {
            rc = ut_fail(UT_ENOMEM, "out of memory for IVF lists");
            goto done;
        }
        memcpy(fill, off, nlist * sizeof *fill);
        for (size_t i = 0; i < n; i++) members[fill[assign[i]]++] = (int32_t)i;
        ut_free(fill);
    }
    if ((rc = probe_lists(cent, nlist, d, nprobe, probe)) != UT_OK) goto done;
    ivf_ctx v = {x, d, nlist, nprobe, off, members, probe, g, cnt, radius, 0};
    ut_pool_for(pool, nlist, 1, ivf_cells, &v);
    if (v.failed) rc = ut_fail(UT_ENOMEM, "out of memory searching IVF cells");
done:
    ut_free(cent), ut_free(assign), ut_free(off), ut_free(members), ut_free(probe);
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

/* hdbscan.c -- HDBSCAN* on cosine distance, ported from the semantics of
 * ../shared/tools/face-reference/hdbscan_np.py (and the hdbscan library).
 *
 * 1. D = max(0, 1 - <a,b>). core(i) = distance to the k-th nearest *other*
 *    face, k = min(n-1, min_samples); MR(i,j) = max(core i, core j, D).
 *    min_samples = 1 gives MR = D.
 * 2. MST of MR. n <= hdbscan_exact_max: the full D in memory and Prim in
 *    Muellner's MST-LINKAGE-CORE form, ties to the lowest index, as the
 *    reference (so even tied cases follow the same chain). Larger n: the
 *    k-NN graph (K = max(k, 15)) by Kruskal, then components joined by
 *    nearest neighbours among their representatives (lowest index), with
 *    MR weights; repeated until one tree remains. Approximate.
 * 3. Edges sorted by weight (stable) -> single-linkage merges (union-find),
 *    nodes n, n+1, ... as scipy's linkage.
 * 4. Condensed tree by BFS from the root; lambda = 1/dist (inf at 0).
 * 5. Stability(C) = sum over rows with parent C of (lambda - birth C) * size,
 *    in row order, IEEE semantics as numpy (inf - inf = NaN included).
 * 6. EOM (descending cluster id, root excluded) or leaf selection, then
 *    cluster_selection_epsilon as hdbscan's epsilon_search.
 * 7. A face's label is its nearest selected ancestor; none -> noise.
 */
#include "cluster_int.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int32_t a, b;
    float w;
} edge;

typedef struct {
    int32_t a, b;  /* merged nodes */
    float dist;
    int32_t size;
} zrow;

typedef struct {
    int32_t parent, child;
    double lambda;
    int32_t size;
} crow;

static int32_t uf_find(int32_t *p, int32_t x) {
    int32_t r = x;
    while (p[r] != r) r = p[r];
    while (p[x] != r) {
        int32_t nx = p[x];
        p[x] = r;
        x = nx;
    }
    return r;
}

/* ---- MST, dense exact ----------------------------------------------------- */

typedef struct {
    float *D;
    size_t n;
    int k;
    float *core;
} core_ctx;

static int cmp_float(const void *x, const void *y) {
    float a = *(const float *)x, b = *(const float *)y;
    return (a > b) - (a < b);
}

/* Rows of D: clip, zero the diagonal, core distance by a sorted copy. */
static void dense_rows(void *p, size_t begin, size_t end) {
    core_ctx *c = p;
    float *tmp = c->k > 0 ? ut_malloc(c->n * sizeof *tmp) : NULL;
    for (size_t i = begin; i < end; i++) {
        float *row = c->D + i * c->n;
        for (size_t j = 0; j < c->n; j++) {
            float v = 1.0f - row[j];
            row[j] = v > 0 ? v : 0;
        }
        row[i] = 0;
        if (c->k <= 0) {
            c->core[i] = 0;
            continue;
        }
        if (!tmp) { /* no scratch: fall back to repeated minimum scans */
            c->core[i] = NAN;
            continue;
        }
        memcpy(tmp, row, c->n * sizeof *tmp);
        qsort(tmp, c->n, sizeof *tmp, cmp_float);  /* tmp[0] is self (0) */
        c->core[i] = tmp[c->k];
    }
    ut_free(tmp);
}

static int mst_dense(const float *x, size_t n, size_t d, int k, ut_pool *pool, edge *out) {
    float *D = ut_malloc(n * n * sizeof *D);
    float *core = ut_malloc(n * sizeof *core);
    float *cur_d = ut_malloc(n * sizeof *cur_d);
    int32_t *rem = ut_malloc(n * sizeof *rem);
    int rc = UT_OK;
    if (!D || !core || !cur_d || !rem) {
        rc = ut_fail(UT_ENOMEM, "out of memory for a %zu x %zu distance matrix", n, n);
        goto done;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)d, 1.0f, x, (int)d,
                x, (int)d, 0.0f, D, (int)n);
    core_ctx c = {D, n, k, core};
    ut_pool_for(pool, n, 64, dense_rows, &c);
    for (size_t i = 0; i < n; i++)
        if (isnan(core[i])) {
            rc = ut_fail(UT_ENOMEM, "out of memory computing core distances");
            goto done;
        }
    /* Prim, reference order: remaining nodes kept in index order. */
    size_t nrem = n;
    for (size_t i = 0; i < n; i++) rem[i] = (int32_t)i, cur_d[i] = INFINITY;
    int32_t cur = 0;
    for (size_t step = 1; step < n; step++) {
        size_t w = 0, best = 0;
        const float *row = D + (size_t)cur * n;
        float cc = core[cur];
        for (size_t r = 0; r < nrem; r++) {
            int32_t j = rem[r];
            if (j == cur) continue;
            float mr = row[j];
            if (k > 0) {
                if (cc > mr) mr = cc;
                if (core[j] > mr) mr = core[j];
            }
            float cd = cur_d[r] < mr ? cur_d[r] : mr;
            rem[w] = j;
            cur_d[w] = cd;
            if (w == 0 || cd < cur_d[best]) best = w;
            w++;
        }
        nrem = w;
        out[step - 1] = (edge){cur, rem[best], cur_d[best]};
        cur = rem[best];
    }
done:
    ut_free(D), ut_free(core), ut_free(cur_d), ut_free(rem);
    return rc;
}

/* ---- MST, k-NN graph (large n) --------------------------------------------- */

static int cmp_edge(const void *x, const void *y) {
    const edge *a = x, *b = y;
    if (a->w != b->w) return a->w < b->w ? -1 : 1;
    if (a->a != b->a) return a->a < b->a ? -1 : 1;
    return (a->b > b->b) - (a->b < b->b);
}

static float mr_weight(const float *core, int k, int32_t a, int32_t b, float dab) {
    float w = dab;
    if (k > 0) {
        if (core[a] > w) w = core[a];
        if (core[b] > w) w = core[b];
    }
    return w;
}

/* Kruskal over cand (sorted here); appends tree edges to out. */
static size_t kruskal(edge *cand, size_t nc, int32_t *uf, edge *out, size_t nout) {
    qsort(cand, nc, sizeof *cand, cmp_edge);
    for (size_t e = 0; e < nc; e++) {
        int32_t ra = uf_find(uf, cand[e].a), rb = uf_find(uf, cand[e].b);
        if (ra == rb) continue;
        uf[ra < rb ? rb : ra] = ra < rb ? ra : rb;
        out[nout++] = cand[e];
    }
    return nout;
}

static int mst_knn(const float *x, size_t n, size_t d, int k, const clu_opts *o, edge *out) {
    int K = k > 15 ? k : 15;
    if ((size_t)K > n - 1) K = (int)(n - 1);
    clu__graph g;
    int rc = clu__knn(x, n, d, K, INFINITY, n <= o->exact_max, o->pool, &g);
    if (rc != UT_OK) return rc;
    float *core = ut_calloc(n, sizeof *core);
    int32_t *uf = ut_malloc(n * sizeof *uf);
    edge *cand = ut_malloc(n * (size_t)K * sizeof *cand);
    float *rx = NULL;
    int32_t *rid = NULL;
    if (!core || !uf || !cand) {
        rc = ut_fail(UT_ENOMEM, "out of memory for a k-NN spanning tree of %zu faces", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        uf[i] = (int32_t)i;
        if (k > 0) core[i] = g.dist[i * K + (k - 1)];
    }
    size_t nc = 0;
    for (size_t i = 0; i < n; i++)
        for (int s = 0; s < K; s++) {
            int32_t j = g.idx[i * K + s];
            if (j < 0 || (size_t)j < i) continue; /* each pair once */
            cand[nc++] = (edge){(int32_t)i, j, mr_weight(core, k, (int32_t)i, j, g.dist[i * K + s])};
        }
    clu__graph_free(&g);
    size_t nt = kruskal(cand, nc, uf, out, 0);
    /* Join the remaining components through their representatives. */
    rx = ut_malloc(n * d * sizeof *rx);
    rid = ut_malloc(n * sizeof *rid);
    if (!rx || !rid) {
        rc = ut_fail(UT_ENOMEM, "out of memory joining spanning-tree components");
        goto done;
    }
    while (nt < n - 1) {
        size_t nr = 0;
        for (size_t i = 0; i < n; i++)
            if (uf_find(uf, (int32_t)i) == (int32_t)i) {
                rid[nr] = (int32_t)i;
                memcpy(rx + nr * d, x + i * d, d * sizeof *x);
                nr++;
            }
        int K2 = nr - 1 < 4 ? (int)(nr - 1) : 4;
        if ((rc = clu__knn(rx, nr, d, K2, INFINITY, nr <= o->exact_max, o->pool, &g)) != UT_OK)
            goto done;
        nc = 0;
        for (size_t r = 0; r < nr; r++)
            for (int s = 0; s < K2; s++) {
                int32_t q = g.idx[r * K2 + s];
                if (q < 0) continue;
                int32_t a = rid[r], b = rid[q];
                cand[nc++] = (edge){a, b, mr_weight(core, k, a, b, g.dist[r * K2 + s])};
            }
        clu__graph_free(&g);
        size_t before = nt;
        nt = kruskal(cand, nc, uf, out, nt);
        if (nt == before) { /* cannot happen: every representative has a neighbour */
            rc = ut_fail(UT_ESTATE, "spanning tree did not grow (%zu components)", nr);
            goto done;
        }
    }
done:
    ut_free(core), ut_free(uf), ut_free(cand), ut_free(rx), ut_free(rid);
    return rc;
}

/* ---- single linkage --------------------------------------------------------- */

/* Sorting the MST edges. With min_samples > 1 many mutual-reachability
 * weights are exactly equal (a core distance repeated), and the order of
 * tied edges changes the condensed tree. The reference (and the hdbscan
 * library) sorts with numpy's default argsort, an unstable introsort; to
 * give the same labels in tied cases too we follow that algorithm exactly
 * (numpy <= 1.24 npysort aquicksort: median of three, insertion sort below
 * 16 elements, heapsort past 2*log2(n) depth). */
static void np_aheapsort(const float *v, int32_t *tosort, intptr_t n) {
    int32_t *a = tosort - 1, tmp;
    intptr_t i, j, l;
    for (l = n >> 1; l > 0; --l) {
        tmp = a[l];
        for (i = l, j = l << 1; j <= n;) {
            if (j < n && v[a[j]] < v[a[j + 1]]) j += 1;
            if (v[tmp] < v[a[j]]) a[i] = a[j], i = j, j += j;
            else break;
        }
        a[i] = tmp;
    }
    for (; n > 1;) {
        tmp = a[n];
        a[n] = a[1];
        n -= 1;
        for (i = 1, j = 2; j <= n;) {
            if (j < n && v[a[j]] < v[a[j + 1]]) j++;
            if (v[tmp] < v[a[j]]) a[i] = a[j], i = j, j += j;
            else break;
        }
        a[i] = tmp;
    }
}

#define ISWAP(a, b) do { int32_t t_ = (a); (a) = (b); (b) = t_; } while (0)

static void np_argsort(const float *v, int32_t *tosort, intptr_t num) {
    int32_t *pl = tosort, *pr = tosort + num - 1, *pm, *pi, *pj, *pk, vi;
    int32_t *stack[128], **sptr = stack;
    int depth[128], *psdepth = depth, cdepth = 0;
    float vp;
    for (uintptr_t u = (uintptr_t)num; u >>= 1;) cdepth++;
    cdepth *= 2;
    for (;;) {
        if (cdepth < 0) {
            np_aheapsort(v, pl, pr - pl + 1);
            goto stack_pop;
        }
        while ((pr - pl) > 15) {
            pm = pl + ((pr - pl) >> 1);
            if (v[*pm] < v[*pl]) ISWAP(*pm, *pl);
            if (v[*pr] < v[*pm]) ISWAP(*pr, *pm);
            if (v[*pm] < v[*pl]) ISWAP(*pm, *pl);
            vp = v[*pm];
            pi = pl;
            pj = pr - 1;
            ISWAP(*pm, *pj);
            for (;;) {
                do ++pi; while (v[*pi] < vp);
                do --pj; while (vp < v[*pj]);
                if (pi >= pj) break;
                ISWAP(*pi, *pj);
            }
            pk = pr - 1;
            ISWAP(*pi, *pk);
            if (pi - pl < pr - pi) {
                *sptr++ = pi + 1;
                *sptr++ = pr;
                pr = pi - 1;
            } else {
                *sptr++ = pl;
                *sptr++ = pi - 1;
                pl = pi + 1;
            }
            *psdepth++ = --cdepth;
        }
        for (pi = pl + 1; pi <= pr; ++pi) {
            vi = *pi;
            vp = v[vi];
            pj = pi;
            pk = pi - 1;
            while (pj > pl && vp < v[*pk]) *pj-- = *pk--;
            *pj = vi;
        }
    stack_pop:
        if (sptr == stack) break;
        pr = *(--sptr);
        pl = *(--sptr);
        cdepth = *(--psdepth);
    }
}

static int linkage(const edge *e, size_t n, zrow *Z) {
    size_t m = n - 1;
    int32_t *ord = ut_malloc(m * sizeof *ord);
    float *w = ut_malloc(m * sizeof *w);
    int32_t *par = ut_malloc((2 * n - 1) * sizeof *par);
    int32_t *size = ut_malloc((2 * n - 1) * sizeof *size);
    if (!ord || !w || !par || !size) {
        ut_free(ord), ut_free(w), ut_free(par), ut_free(size);
        return ut_fail(UT_ENOMEM, "out of memory for the single-linkage tree");
    }
    for (size_t i = 0; i < m; i++) ord[i] = (int32_t)i, w[i] = e[i].w;
    np_argsort(w, ord, (intptr_t)m);
    for (size_t i = 0; i < 2 * n - 1; i++) par[i] = (int32_t)i, size[i] = 1;
    for (size_t i = 0; i < m; i++) {
        const edge *x = &e[ord[i]];
        int32_t a = uf_find(par, x->a), b = uf_find(par, x->b);
        int32_t nx = (int32_t)(n + i);
        Z[i] = (zrow){a, b, x->w, size[a] + size[b]};
        par[a] = par[b] = nx;
        size[nx] = size[a] + size[b];
    }
    ut_free(ord), ut_free(w), ut_free(par), ut_free(size);
    return UT_OK;
}

/* ---- condensed tree ----------------------------------------------------------- */

typedef struct {
    crow *rows;
    size_t nrows;
    int32_t nclusters;  /* cluster ids n .. n + nclusters - 1, root = n */
} ctree;

static int32_t node_size(const zrow *Z, size_t n, int32_t x) {
    return (size_t)x < n ? 1 : Z[x - n].size;
}

/* All leaves under node, each as a row (p, leaf, lambda, 1); marks ignore. */
static void fall_out(const zrow *Z, size_t n, int32_t node, int32_t p, double lam,
                     uint8_t *ignore, int32_t *stack, ctree *ct) {
    size_t sp = 0;
    stack[sp++] = node;
    while (sp) {
        int32_t x = stack[--sp];
        ignore[x] = 1;
        if ((size_t)x < n) {
            ct->rows[ct->nrows++] = (crow){p, x, lam, 1};
        } else {
            stack[sp++] = Z[x - n].a;
            stack[sp++] = Z[x - n].b;
        }
    }
}

/* Long for a reason: it is one BFS whose four cases mirror the reference. */
static int condense(const zrow *Z, size_t n, int mcs, ctree *ct) {
    size_t nn = 2 * n - 1;
    int32_t root = (int32_t)(nn - 1);
    int32_t *relabel = ut_calloc(nn, sizeof *relabel);
    uint8_t *ignore = ut_calloc(nn, 1);
    int32_t *queue = ut_malloc(nn * sizeof *queue);
    int32_t *stack = ut_malloc(nn * sizeof *stack);
    ct->rows = ut_malloc(2 * n * sizeof *ct->rows);
    if (!relabel || !ignore || !queue || !stack || !ct->rows) {
        ut_free(relabel), ut_free(ignore), ut_free(queue), ut_free(stack), ut_free(ct->rows);
        ct->rows = NULL;
        return ut_fail(UT_ENOMEM, "out of memory condensing the tree");
    }
    ct->nrows = 0;
    relabel[root] = (int32_t)n;
    int32_t next = (int32_t)n + 1;
    size_t qh = 0, qt = 0;
    queue[qt++] = root;
    /* BFS over the whole hierarchy: same node order as the reference. */
    while (qh < qt) {
        int32_t node = queue[qh++];
        if ((size_t)node < n) continue;
        queue[qt++] = Z[node - n].a;
        queue[qt++] = Z[node - n].b;
    }
    for (size_t q = 0; q < qt; q++) {
        int32_t node = queue[q];
        if (ignore[node] || (size_t)node < n) continue;
        const zrow *z = &Z[node - n];
        double lam = z->dist > 0 ? 1.0 / (double)z->dist : INFINITY;
        int32_t lc = node_size(Z, n, z->a), rc = node_size(Z, n, z->b);
        int32_t p = relabel[node];
        if (lc >= mcs && rc >= mcs) {
            relabel[z->a] = next;
            ct->rows[ct->nrows++] = (crow){p, next++, lam, lc};
            relabel[z->b] = next;
            ct->rows[ct->nrows++] = (crow){p, next++, lam, rc};
        } else if (lc < mcs && rc < mcs) {
            fall_out(Z, n, z->a, p, lam, ignore, stack, ct);
            fall_out(Z, n, z->b, p, lam, ignore, stack, ct);
        } else if (lc < mcs) {
            relabel[z->b] = p;
            fall_out(Z, n, z->a, p, lam, ignore, stack, ct);
        } else {
            relabel[z->a] = p;
            fall_out(Z, n, z->b, p, lam, ignore, stack, ct);
        }
    }
    ct->nclusters = next - (int32_t)n;
    ut_free(relabel), ut_free(ignore), ut_free(queue), ut_free(stack);
    return UT_OK;
}

/* ---- selection --------------------------------------------------------------- */

typedef struct {
    double *stab, *birth;
    int32_t *cparent;       /* parent cluster of each cluster (-1 root) */
    int32_t *coff, *child;  /* CSR of cluster children in row order */
    uint8_t *sel;
} ctinfo;

static void ctinfo_free(ctinfo *c) {
    ut_free(c->stab), ut_free(c->birth), ut_free(c->cparent), ut_free(c->coff);
    ut_free(c->child), ut_free(c->sel);
}

static int ctinfo_build(const ctree *ct, size_t n, ctinfo *c) {
    size_t m = (size_t)ct->nclusters;
    c->stab = ut_calloc(m, sizeof *c->stab);
    c->birth = ut_calloc(m, sizeof *c->birth);
    c->cparent = ut_malloc(m * sizeof *c->cparent);
    c->coff = ut_calloc(m + 1, sizeof *c->coff);
    c->child = ut_malloc(m * sizeof *c->child);
    c->sel = ut_calloc(m, 1);
    if (!c->stab || !c->birth || !c->cparent || !c->coff || !c->child || !c->sel)
        return ut_fail(UT_ENOMEM, "out of memory for %zu clusters", m);
    c->cparent[0] = -1;
    for (size_t r = 0; r < ct->nrows; r++) {
        const crow *w = &ct->rows[r];
        if ((size_t)w->child >= n) {
            size_t ci = (size_t)w->child - n;
            c->birth[ci] = w->lambda;
            c->cparent[ci] = w->parent - (int32_t)n;
            c->coff[w->parent - (int32_t)n + 1]++;
        }
    }
    for (size_t i = 0; i < m; i++) c->coff[i + 1] += c->coff[i];
    int32_t *fill = ut_malloc((m ? m : 1) * sizeof *fill);
    if (!fill) return ut_fail(UT_ENOMEM, "out of memory for %zu clusters", m);
    memcpy(fill, c->coff, m * sizeof *fill);
    for (size_t r = 0; r < ct->nrows; r++) {
        const crow *w = &ct->rows[r];
        size_t p = (size_t)(w->parent - (int32_t)n);
        c->stab[p] += (w->lambda - c->birth[p]) * w->size;
        if ((size_t)w->child >= n) c->child[fill[p]++] = w->child - (int32_t)n;
    }
    ut_free(fill);
    return UT_OK;
}

static int select_eom(ctinfo *c, int32_t m) {
    double *stab = ut_malloc((size_t)m * sizeof *stab);
    uint8_t *clear = ut_calloc((size_t)m, 1);
    int32_t *stack = ut_malloc((size_t)m * sizeof *stack);
    if (!stab || !clear || !stack) {
        ut_free(stab), ut_free(clear), ut_free(stack);
        return ut_fail(UT_ENOMEM, "out of memory for cluster selection");
    }
    memcpy(stab, c->stab, (size_t)m * sizeof *stab);
    for (int32_t i = 1; i < m; i++) c->sel[i] = 1;
    for (int32_t node = m - 1; node >= 1; node--) {
        double sub = 0;
        for (int32_t e = c->coff[node]; e < c->coff[node + 1]; e++) sub += stab[c->child[e]];
        if (sub > stab[node]) {
            c->sel[node] = 0;
            stab[node] = sub;
            continue;
        }
        size_t sp = 0;
        for (int32_t e = c->coff[node]; e < c->coff[node + 1]; e++) stack[sp++] = c->child[e];
        while (sp) {
            int32_t x = stack[--sp];
            c->sel[x] = 0;
            if (clear[x]) continue;  /* its subtree is deselected already */
            clear[x] = 1;
            for (int32_t e = c->coff[x]; e < c->coff[x + 1]; e++) stack[sp++] = c->child[e];
        }
        clear[node] = 1;
    }
    ut_free(stab), ut_free(clear), ut_free(stack);
    return UT_OK;
}

static void select_leaf(ctinfo *c, int32_t m) {
    for (int32_t i = 1; i < m; i++) c->sel[i] = c->coff[i + 1] == c->coff[i];
}

/* hdbscan's epsilon_search: a selected cluster born below epsilon (birth
 * distance < eps) is replaced by its nearest ancestor born above eps (never
 * the root); clusters inside a replaced subtree are skipped. */
static int select_epsilon(ctinfo *c, int32_t m, double eps) {
    uint8_t *in = ut_malloc((size_t)m);
    uint8_t *processed = ut_calloc((size_t)m, 1);
    int32_t *stack = ut_malloc((size_t)m * sizeof *stack);
    if (!in || !processed || !stack) {
        ut_free(in), ut_free(processed), ut_free(stack);
        return ut_fail(UT_ENOMEM, "out of memory for epsilon selection");
    }
    memcpy(in, c->sel, (size_t)m);
    memset(c->sel, 0, (size_t)m);
    for (int32_t leaf = 1; leaf < m; leaf++) {
        if (!in[leaf]) continue;
        if (!(1.0 / c->birth[leaf] < eps)) {
            c->sel[leaf] = 1;
            continue;
        }
        if (processed[leaf]) continue;
        int32_t x = leaf;
        for (;;) {
            int32_t p = c->cparent[x];
            if (p == 0) break;           /* parent is root: keep x */
            if (1.0 / c->birth[p] > eps) {
                x = p;
                break;
            }
            x = p;
        }
        c->sel[x] = 1;
        size_t sp = 0;
        for (int32_t e = c->coff[x]; e < c->coff[x + 1]; e++) stack[sp++] = c->child[e];
        while (sp) {
            int32_t y = stack[--sp];
            processed[y] = 1;
            for (int32_t e = c->coff[y]; e < c->coff[y + 1]; e++) stack[sp++] = c->child[e];
        }
    }
    ut_free(in), ut_free(processed), ut_free(stack);
    return UT_OK;
}

static int label_points(const ctree *ct, const ctinfo *c, size_t n, int32_t *labels,
                        int *ncl, double **pers) {
    int32_t m = ct->nclusters;
    int32_t *near = ut_malloc((size_t)m * sizeof *near);
    int32_t *idx = ut_malloc((size_t)m * sizeof *idx);
    if (!near || !idx) {
        ut_free(near), ut_free(idx);
        return ut_fail(UT_ENOMEM, "out of memory labelling");
    }
    int k = 0;
    for (int32_t i = 0; i < m; i++) idx[i] = c->sel[i] ? k++ : -1;
    /* parents have smaller ids than children: one ascending pass */
    for (int32_t i = 0; i < m; i++)
        near[i] = c->sel[i] ? i : (c->cparent[i] >= 0 ? near[c->cparent[i]] : -1);
    for (size_t i = 0; i < n; i++) labels[i] = -1;
    for (size_t r = 0; r < ct->nrows; r++) {
        const crow *w = &ct->rows[r];
        if ((size_t)w->child >= n) continue;
        int32_t s = near[w->parent - (int32_t)n];
        labels[w->child] = s >= 0 ? idx[s] : -1;
    }
    *pers = ut_malloc((k ? (size_t)k : 1) * sizeof **pers);
    if (!*pers) {
        ut_free(near), ut_free(idx);
        return ut_fail(UT_ENOMEM, "out of memory labelling");
    }
    for (int32_t i = 0; i < m; i++)
        if (c->sel[i]) (*pers)[idx[i]] = c->stab[i];
    *ncl = k;
    ut_free(near), ut_free(idx);
    return UT_OK;
}

int clu__hdbscan(const float *x, size_t n, size_t d, const clu_opts *o, int32_t *labels,
                 int *nclusters, double **persistence) {
    *nclusters = 0;
    *persistence = NULL;
    for (size_t i = 0; i < n; i++) labels[i] = -1;
    if (n < 2) return UT_OK;
    int k = o->min_samples <= 1 ? 0 : o->min_samples;
    if ((size_t)k > n - 1) k = (int)(n - 1);
    edge *mst = ut_malloc((n - 1) * sizeof *mst);
    zrow *Z = ut_malloc((n - 1) * sizeof *Z);
    ctree ct = {0};
    ctinfo ci = {0};
    int rc = UT_OK;
    if (!mst || !Z) {
        rc = ut_fail(UT_ENOMEM, "out of memory for HDBSCAN of %zu faces", n);
        goto done;
    }
    rc = n <= o->hdbscan_exact_max ? mst_dense(x, n, d, k, o->pool, mst)
                                   : mst_knn(x, n, d, k, o, mst);
    if (rc != UT_OK) goto done;
    if ((rc = linkage(mst, n, Z)) != UT_OK) goto done;
    ut_free(mst);
    mst = NULL;
    if ((rc = condense(Z, n, o->min_cluster_size, &ct)) != UT_OK) goto done;
    if ((rc = ctinfo_build(&ct, n, &ci)) != UT_OK) goto done;
    if (o->selection == CLU_SELECT_LEAF) select_leaf(&ci, ct.nclusters);
    else if ((rc = select_eom(&ci, ct.nclusters)) != UT_OK) goto done;
    if (o->selection_epsilon > 0 &&
        (rc = select_epsilon(&ci, ct.nclusters, o->selection_epsilon)) != UT_OK)
        goto done;
    rc = label_points(&ct, &ci, n, labels, nclusters, persistence);
done:
    ut_free(mst), ut_free(Z), ut_free(ct.rows);
    ctinfo_free(&ci);
    return rc;
}

/* cluster.c -- the public entry points: options, validation, the default
 * average-linkage path, HDBSCAN with cannot-link repair and optional merge,
 * and incremental assignment to named anchors.
 *
 * Invariant of every result: labels are -1 or 0..nclusters-1 numbered by
 * the first face of each cluster, no label holds two faces of one group,
 * and no cluster is smaller than min_cluster_size.
 */
#include "cluster_int.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void clu_opts_default(clu_opts *o) {
    memset(o, 0, sizeof *o);
    o->algorithm = CLU_ALGO_AVERAGE;
    o->threshold = 0.64f;
    o->min_cluster_size = 2;
    o->min_samples = 1;
    o->selection = CLU_SELECT_EOM;
    o->selection_epsilon = 0.0f;
    o->merge_threshold = 0.0f;
    o->exact_max = 20000;
    o->hdbscan_exact_max = 10000;
    o->max_neighbors = 64;
}

void clu_result_free(clu_result *r) {
    if (!r) return;
    ut_free(r->labels);
    ut_free(r->persistence);
    memset(r, 0, sizeof *r);
}

/* ---- validation ------------------------------------------------------------ */

static int row_norm(const float *v, size_t d, size_t i, double *out) {
    double s = 0;
    for (size_t j = 0; j < d; j++) {
        if (!isfinite(v[j]))
            return ut_fail(UT_EINVAL, "embedding %zu has a non-finite value at %zu", i, j);
        s += (double)v[j] * v[j];
    }
    if (s < 1e-12) return ut_fail(UT_EINVAL, "embedding %zu is a zero vector", i);
    *out = sqrt(s);
    return UT_OK;
}

int clu_check_embeddings(const float *x, size_t n, size_t d) {
    if (n && (!x || d == 0)) return ut_fail(UT_EINVAL, "embeddings: no data or dimension 0");
    for (size_t i = 0; i < n; i++) {
        double nn;
        int rc = row_norm(x + i * d, d, i, &nn);
        if (rc != UT_OK) return rc;
        if (fabs(nn - 1.0) > 1e-3)
            return ut_fail(UT_EINVAL, "embedding %zu is not L2-normalised (norm %.6f)", i, nn);
    }
    return UT_OK;
}

int clu_normalize(float *x, size_t n, size_t d) {
    if (n && (!x || d == 0)) return ut_fail(UT_EINVAL, "embeddings: no data or dimension 0");
    for (size_t i = 0; i < n; i++) {
        double nn;
        int rc = row_norm(x + i * d, d, i, &nn);
        if (rc != UT_OK) return rc;
        for (size_t j = 0; j < d; j++) x[i * d + j] = (float)(x[i * d + j] / nn);
    }
    return UT_OK;
}

static int check_opts(const clu_opts *o) {
    if (o->algorithm != CLU_ALGO_AVERAGE && o->algorithm != CLU_ALGO_HDBSCAN)
        return ut_fail(UT_EINVAL, "unknown clustering algorithm %d", o->algorithm);
    if (!(o->threshold > 0 && o->threshold <= 2))
        return ut_fail(UT_EINVAL, "threshold must be in (0, 2] (got %g)", (double)o->threshold);
    if (o->min_cluster_size < 2)
        return ut_fail(UT_EINVAL, "min_cluster_size must be >= 2 (got %d)", o->min_cluster_size);
    if (o->min_samples < 1)
        return ut_fail(UT_EINVAL, "min_samples must be >= 1 (got %d)", o->min_samples);
    if (o->selection != CLU_SELECT_EOM && o->selection != CLU_SELECT_LEAF)
        return ut_fail(UT_EINVAL, "unknown cluster selection %d", o->selection);
    if (!(o->selection_epsilon >= 0) || !isfinite(o->selection_epsilon))
        return ut_fail(UT_EINVAL, "cluster_selection_epsilon must be >= 0");
    if (!(o->merge_threshold >= 0 && o->merge_threshold <= 2))
        return ut_fail(UT_EINVAL, "merge_threshold must be in [0, 2]");
    if (o->max_neighbors < 1 || o->max_neighbors > 4096)
        return ut_fail(UT_EINVAL, "max_neighbors must be in [1, 4096] (got %d)", o->max_neighbors);
    return UT_OK;
}

static int check_input(const float *x, size_t n, size_t d, const clu_opts *o) {
    int rc = check_opts(o);
    if (rc != UT_OK) return rc;
    if (n > (size_t)INT32_MAX / 4) return ut_fail(UT_ETOOBIG, "too many faces (%zu)", n);
    return clu_check_embeddings(x, n, d);
}

/* ---- labels ------------------------------------------------------------------- */

/* Renumber labels (any ids in [0, idmax], or -1) by first face; clusters
 * smaller than mcs become -1. pers_in[id] (may be NULL) -> *pers_out. */
static int canonical(int32_t *lab, size_t n, int32_t idmax, int mcs, const double *pers_in,
                     clu_result *out) {
    size_t m = (size_t)idmax + 1;
    int64_t *size = ut_calloc(m, sizeof *size);
    int32_t *map = ut_malloc(m * sizeof *map);
    if (!size || !map) {
        ut_free(size), ut_free(map);
        return ut_fail(UT_ENOMEM, "out of memory numbering clusters");
    }
    for (size_t i = 0; i < n; i++)
        if (lab[i] >= 0) size[lab[i]]++;
    for (size_t c = 0; c < m; c++) map[c] = -1;
    int32_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t c = lab[i];
        if (c < 0 || size[c] < mcs) {
            lab[i] = -1;
            continue;
        }
        if (map[c] < 0) map[c] = k++;
        lab[i] = map[c];
    }
    out->persistence = ut_calloc(k ? (size_t)k : 1, sizeof *out->persistence);
    if (!out->persistence) {
        ut_free(size), ut_free(map);
        return ut_fail(UT_ENOMEM, "out of memory numbering clusters");
    }
    if (pers_in)
        for (size_t c = 0; c < m; c++)
            if (map[c] >= 0) out->persistence[map[c]] = pers_in[c];
    out->nclusters = k;
    ut_free(size), ut_free(map);
    return UT_OK;
}

/* Sorted distinct groups of each item as CSR (one face per item here). */
static int face_groups(const int32_t *group, size_t n, int32_t **off, int32_t **grp) {
    *off = ut_malloc((n + 1) * sizeof **off);
    *grp = ut_malloc((n ? n : 1) * sizeof **grp);
    if (!*off || !*grp) return ut_fail(UT_ENOMEM, "out of memory for groups");
    int32_t m = 0;
    for (size_t i = 0; i < n; i++) {
        (*off)[i] = m;
        if (group && group[i] >= 0) (*grp)[m++] = group[i];
    }
    (*off)[n] = m;
    return UT_OK;
}

/* ---- average linkage ------------------------------------------------------------ */

/* Edge list of the neighbour graph, each unordered pair once. */
static int graph_edges(const clu__graph *g, int32_t **ea, int32_t **eb, size_t *ne) {
    size_t n = g->n, k = (size_t)g->k, m = 0;
    *ea = ut_malloc((n * k + 1) * sizeof **ea);
    *eb = ut_malloc((n * k + 1) * sizeof **eb);
    if (!*ea || !*eb) return ut_fail(UT_ENOMEM, "out of memory for %zu graph edges", n * k);
    for (size_t i = 0; i < n; i++)
        for (size_t s = 0; s < k; s++) {
            int32_t j = g->idx[i * k + s];
            if (j < 0) break;
            if ((size_t)j < i) { /* kept from j's row unless i is missing there */
                int seen = 0;
                for (size_t t = 0; t < k && !seen; t++) seen = g->idx[(size_t)j * k + t] == (int32_t)i;
                if (seen) continue;
            }
            (*ea)[m] = (int32_t)i;
            (*eb)[m] = j;
            m++;
        }
    *ne = m;
    return UT_OK;
}

static int cluster_average(const float *x, size_t n, size_t d, const int32_t *group,
                           const clu_opts *o, clu_result *out) {
    clu__graph g = {0};
    int32_t *ea = NULL, *eb = NULL, *goff = NULL, *grp = NULL, *lab = NULL;
    float *height = NULL;
    double *pers = NULL;
    clu__items it = {.nitems = n, .d = d};
    size_t ne = 0;
    int k = o->max_neighbors < (int)(n - 1) ? o->max_neighbors : (int)(n - 1);
    double t0 = ut_now();
    int rc = clu__knn(x, n, d, k, o->threshold, n <= o->exact_max, o->pool, &g);
    if (rc != UT_OK) goto done;
    double t1 = ut_now();
    rc = graph_edges(&g, &ea, &eb, &ne);
    clu__graph_free(&g);
    if (rc != UT_OK) goto done;
    if ((rc = face_groups(group, n, &goff, &grp)) != UT_OK) goto done;
    it.sums = ut_malloc(n * d * sizeof *it.sums);
    it.count = ut_malloc(n * sizeof *it.count);
    it.grp_off = goff;
    it.grp = grp;
    lab = ut_malloc(n * sizeof *lab);
    height = ut_malloc(n * sizeof *height);
    pers = ut_malloc(n * sizeof *pers);
    if (!it.sums || !it.count || !lab || !height || !pers) {
        rc = ut_fail(UT_ENOMEM, "out of memory for average linkage of %zu faces", n);
        goto done;
    }
    memcpy(it.sums, x, n * d * sizeof *x);
    for (size_t i = 0; i < n; i++) it.count[i] = 1;
    if ((rc = clu__avglink(&it, ea, eb, ne, o->threshold, lab, height)) != UT_OK) goto done;
    ut_debug("cluster: %zu faces, %s graph %.2f s (%zu edges), average linkage %.2f s", n,
             n <= o->exact_max ? "exact" : "IVF", t1 - t0, ne, ut_now() - t1);
    for (size_t i = 0; i < n; i++) pers[i] = (double)o->threshold - height[i];
    rc = canonical(lab, n, (int32_t)n - 1, o->min_cluster_size, pers, out);
    if (rc == UT_OK) out->labels = lab, lab = NULL;
done:
    clu__graph_free(&g);
    ut_free(ea), ut_free(eb), ut_free(goff), ut_free(grp), ut_free(lab), ut_free(height);
    ut_free(pers), ut_free(it.sums), ut_free(it.count);
    return rc;
}

/* ---- cannot-link repair after HDBSCAN ----------------------------------------- */

/* Open-addressing set of (cluster, group) keys. */
typedef struct {
    uint64_t *k;
    size_t cap;
} keyset;

static uint64_t key_of(int32_t c, int32_t g) { return ((uint64_t)(uint32_t)c << 32) | (uint32_t)g; }

static size_t key_slot(const keyset *s, uint64_t key) {
    size_t h = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & (s->cap - 1);
    while (s->k[h] != UINT64_MAX && s->k[h] != key) h = (h + 1) & (s->cap - 1);
    return h;
}

static int keyset_init(keyset *s, size_t n) {
    s->cap = 16;
    while (s->cap < 2 * n + 16) s->cap *= 2;
    s->k = ut_malloc(s->cap * sizeof *s->k);
    if (!s->k) return ut_fail(UT_ENOMEM, "out of memory for a key set");
    memset(s->k, 0xff, s->cap * sizeof *s->k);
    return UT_OK;
}

typedef struct {
    int32_t face, c, g;
} member;

static int cmp_member(const void *x, const void *y) {
    const member *a = x, *b = y;
    if (a->c != b->c) return a->c < b->c ? -1 : 1;
    if (a->g != b->g) return a->g < b->g ? -1 : 1;
    return (a->face > b->face) - (a->face < b->face);
}

/* Distance of face i to cluster c's average, optionally without i itself. */
static double dist_to(const float *x, size_t d, const float *sum, int64_t size, size_t i, int self) {
    double dot = clu__dot(x + i * d, sum, d);
    if (self) {
        if (size <= 1) return 0;
        return 1.0 - (dot - 1.0) / (double)(size - 1);
    }
    return 1.0 - dot / (double)size;
}

/* Keep one face per (cluster, group): the one closest to the rest of its
 * cluster; move the others to their best cluster within threshold that
 * lacks their group, else to noise. Long for a reason: it is one pass over
 * sorted memberships followed by one pass over evicted faces. */
static int repair_conflicts(const float *x, size_t n, size_t d, const int32_t *group,
                            int32_t *lab, int nc, float threshold) {
    member *mem = ut_malloc((n ? n : 1) * sizeof *mem);
    float *sum = ut_calloc(nc ? (size_t)nc * d : 1, sizeof *sum);
    int64_t *size = ut_calloc(nc ? (size_t)nc : 1, sizeof *size);
    int32_t *evicted = ut_malloc((n ? n : 1) * sizeof *evicted);
    keyset ks = {0};
    int rc = UT_OK;
    if (!mem || !sum || !size || !evicted || keyset_init(&ks, n) != UT_OK) {
        rc = ut_fail(UT_ENOMEM, "out of memory repairing same-photo conflicts");
        goto done;
    }
    size_t m = 0, ne = 0;
    for (size_t i = 0; i < n; i++) {
        if (lab[i] < 0) continue;
        size[lab[i]]++;
        for (size_t j = 0; j < d; j++) sum[(size_t)lab[i] * d + j] += x[i * d + j];
        if (group[i] >= 0) mem[m++] = (member){(int32_t)i, lab[i], group[i]};
    }
    qsort(mem, m, sizeof *mem, cmp_member);
    for (size_t a = 0; a < m;) {
        size_t b = a + 1;
        while (b < m && mem[b].c == mem[a].c && mem[b].g == mem[a].g) b++;
        ks.k[key_slot(&ks, key_of(mem[a].c, mem[a].g))] = key_of(mem[a].c, mem[a].g);
        if (b - a > 1) {
            size_t keep = a;
            double best = INFINITY;
            int32_t c = mem[a].c;
            for (size_t e = a; e < b; e++) {
                double dv = dist_to(x, d, sum + (size_t)c * d, size[c], (size_t)mem[e].face, 1);
                if (dv < best) best = dv, keep = e;
            }
            for (size_t e = a; e < b; e++)
                if (e != keep) evicted[ne++] = mem[e].face;
        }
        a = b;
    }
    for (size_t e = 0; e < ne; e++) { /* take them all out first */
        int32_t f = evicted[e], c = lab[f];
        size[c]--;
        for (size_t j = 0; j < d; j++) sum[(size_t)c * d + j] -= x[(size_t)f * d + j];
        lab[f] = -1;
    }
    for (size_t e = 0; e < ne; e++) {
        int32_t f = evicted[e], best_c = -1;
        double best = threshold;
        for (int32_t c = 0; c < nc; c++) {
            if (size[c] <= 0 || ks.k[key_slot(&ks, key_of(c, group[f]))] != UINT64_MAX) continue;
            double dv = dist_to(x, d, sum + (size_t)c * d, size[c], (size_t)f, 0);
            if (dv < best) best = dv, best_c = c;
        }
        if (best_c < 0) continue;
        lab[f] = best_c;
        size[best_c]++;
        for (size_t j = 0; j < d; j++) sum[(size_t)best_c * d + j] += x[(size_t)f * d + j];
        ks.k[key_slot(&ks, key_of(best_c, group[f]))] = key_of(best_c, group[f]);
    }
    if (ne) ut_debug("cluster: moved %zu faces out of same-photo conflicts", ne);
done:
    ut_free(mem), ut_free(sum), ut_free(size), ut_free(evicted), ut_free(ks.k);
    return rc;
}

/* ---- merge of HDBSCAN clusters by average linkage -------------------------------- */

/* Long for a reason: builds cluster-level items (sums, groups, candidate
 * pairs) for clu__avglink and maps the result back to faces. */
static int merge_clusters(const float *x, size_t n, size_t d, const int32_t *group, int32_t *lab,
                          int nc, double *pers, const clu_opts *o) {
    if (nc < 2) return UT_OK;
    size_t c = (size_t)nc;
    clu__items it = {.nitems = c, .d = d};
    member *mem = ut_malloc((n ? n : 1) * sizeof *mem);
    int32_t *goff = ut_calloc(c + 1, sizeof *goff), *grp = ut_malloc((n ? n : 1) * sizeof *grp);
    int32_t *root = ut_malloc(c * sizeof *root), *ea = NULL, *eb = NULL;
    float *height = ut_malloc(c * sizeof *height), *cent = NULL;
    clu__graph g = {0};
    size_t ne = 0, m = 0;
    int rc = UT_OK;
    it.sums = ut_calloc(c * d, sizeof *it.sums);
    it.count = ut_calloc(c, sizeof *it.count);
    if (!mem || !goff || !grp || !root || !height || !it.sums || !it.count) {
        rc = ut_fail(UT_ENOMEM, "out of memory merging %d clusters", nc);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (lab[i] < 0) continue;
        it.count[lab[i]]++;
        for (size_t j = 0; j < d; j++) it.sums[(size_t)lab[i] * d + j] += x[i * d + j];
        if (group && group[i] >= 0) mem[m++] = (member){(int32_t)i, lab[i], group[i]};
    }
    qsort(mem, m, sizeof *mem, cmp_member);
    size_t ng = 0;
    for (size_t a = 0; a < m; a++) {
        if (a && mem[a].c == mem[a - 1].c && mem[a].g == mem[a - 1].g) continue;
        grp[ng++] = mem[a].g;
        goff[mem[a].c + 1]++;
    }
    for (size_t i = 0; i < c; i++) goff[i + 1] += goff[i];
    it.grp_off = goff;
    it.grp = grp;
    if (c <= 4096) { /* all pairs */
        ea = ut_malloc(c * (c - 1) / 2 * sizeof *ea);
        eb = ut_malloc(c * (c - 1) / 2 * sizeof *eb);
        if (!ea || !eb) {
            rc = ut_fail(UT_ENOMEM, "out of memory merging %d clusters", nc);
            goto done;
        }
        for (size_t a = 0; a < c; a++)
            for (size_t b = a + 1; b < c; b++) ea[ne] = (int32_t)a, eb[ne++] = (int32_t)b;
    } else { /* candidates: 32 nearest normalised centroids */
        if (!(cent = ut_malloc(c * d * sizeof *cent))) {
            rc = ut_fail(UT_ENOMEM, "out of memory merging %d clusters", nc);
            goto done;
        }
        memcpy(cent, it.sums, c * d * sizeof *cent);
        if ((rc = clu_normalize(cent, c, d)) != UT_OK) goto done;
        if ((rc = clu__knn(cent, c, d, 32, INFINITY, c <= o->exact_max, o->pool, &g)) != UT_OK)
            goto done;
        if ((rc = graph_edges(&g, &ea, &eb, &ne)) != UT_OK) goto done;
    }
    if ((rc = clu__avglink(&it, ea, eb, ne, o->merge_threshold, root, height)) != UT_OK) goto done;
    for (size_t a = 0; a < c; a++)
        if (root[a] != (int32_t)a) pers[root[a]] += pers[a];
    for (size_t i = 0; i < n; i++)
        if (lab[i] >= 0) lab[i] = root[lab[i]];
done:
    clu__graph_free(&g);
    ut_free(mem), ut_free(goff), ut_free(grp), ut_free(root), ut_free(ea), ut_free(eb);
    ut_free(height), ut_free(cent), ut_free(it.sums), ut_free(it.count);
    return rc;
}

static int cluster_hdbscan(const float *x, size_t n, size_t d, const int32_t *group,
                           const clu_opts *o, clu_result *out) {
    int32_t *lab = ut_malloc((n ? n : 1) * sizeof *lab);
    double *pers = NULL;
    int nc = 0;
    if (!lab) return ut_fail(UT_ENOMEM, "out of memory for %zu labels", n);
    int rc = clu__hdbscan(x, n, d, o, lab, &nc, &pers);
    if (rc == UT_OK && group) rc = repair_conflicts(x, n, d, group, lab, nc, o->threshold);
    if (rc == UT_OK && o->merge_threshold > 0)
        rc = merge_clusters(x, n, d, group, lab, nc, pers, o);
    if (rc == UT_OK) rc = canonical(lab, n, nc > 0 ? nc - 1 : 0, o->min_cluster_size, pers, out);
    if (rc == UT_OK) out->labels = lab, lab = NULL;
    ut_free(lab), ut_free(pers);
    return rc;
}

int clu_cluster(const float *x, size_t n, size_t d, const int32_t *group, const clu_opts *o,
                clu_result *out) {
    memset(out, 0, sizeof *out);
    clu_opts def;
    if (!o) clu_opts_default(&def), o = &def;
    int rc = check_input(x, n, d, o);
    if (rc != UT_OK) return rc;
    out->n = n;
    if (n < 2) { /* nothing can form a cluster of >= 2 */
        out->labels = ut_malloc(sizeof *out->labels);
        out->persistence = ut_malloc(sizeof *out->persistence);
        if (!out->labels || !out->persistence) {
            clu_result_free(out);
            return ut_fail(UT_ENOMEM, "out of memory for labels");
        }
        out->labels[0] = -1;
        return UT_OK;
    }
    rc = o->algorithm == CLU_ALGO_HDBSCAN ? cluster_hdbscan(x, n, d, group, o, out)
                                          : cluster_average(x, n, d, group, o, out);
    if (rc != UT_OK) clu_result_free(out);
    out->n = rc == UT_OK ? n : 0;
    return rc;
}

/* assign.c -- incremental assignment of new faces to named people.
 *
 * A person is the sum of its anchor embeddings, so the average distance of
 * a face to the person is 1 - <x, sum> / m (the same average linkage as
 * clustering). Every face keeps its TOP best people under the threshold
 * (one sgemm per block of faces); all (distance, face, person) candidates
 * are then taken best first, a face at most once and a (photo, person)
 * pair at most once, so two faces of one photo never go to one person.
 * What is left is clustered with clu_cluster and numbered after the
 * largest person id.
 */
#include "cluster_int.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

enum { TOP = 4, FB = 1024 };

typedef struct {
    float d;
    int32_t face, person;
} cand;

static int cmp_cand(const void *x, const void *y) {
    const cand *a = x, *b = y;
    if (a->d != b->d) return a->d < b->d ? -1 : 1;
    if (a->face != b->face) return a->face < b->face ? -1 : 1;
    return (a->person > b->person) - (a->person < b->person);
}

static int cmp_i32(const void *x, const void *y) {
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    return (a > b) - (a < b);
}

/* Distinct person ids (sorted) and their sum vectors and counts. */
static int people(const float *anchors, const int32_t *ap, size_t na, size_t d, int32_t **ids,
                  size_t *np, float **sums, float **inv) {
    *ids = ut_malloc((na ? na : 1) * sizeof **ids);
    if (!*ids) return ut_fail(UT_ENOMEM, "out of memory for anchors");
    if (na) memcpy(*ids, ap, na * sizeof *ap);
    qsort(*ids, na, sizeof **ids, cmp_i32);
    size_t m = 0;
    for (size_t i = 0; i < na; i++)
        if (!m || (*ids)[m - 1] != (*ids)[i]) (*ids)[m++] = (*ids)[i];
    *np = m;
    *sums = ut_calloc((m ? m : 1) * d, sizeof **sums);
    *inv = ut_calloc(m ? m : 1, sizeof **inv);
    if (!*sums || !*inv) return ut_fail(UT_ENOMEM, "out of memory for %zu people", m);
    for (size_t i = 0; i < na; i++) {
        int32_t *p = bsearch(&ap[i], *ids, m, sizeof **ids, cmp_i32);
        size_t k = (size_t)(p - *ids);
        (*inv)[k] += 1;
        for (size_t j = 0; j < d; j++) (*sums)[k * d + j] += anchors[i * d + j];
    }
    for (size_t k = 0; k < m; k++) (*inv)[k] = 1.0f / (*inv)[k];
    return UT_OK;
}

/* Up to TOP candidates per face under the threshold. */
static int candidates(const float *x, size_t n, size_t d, const float *sums, const float *inv,
                      size_t np, float t, cand **out, size_t *nout) {
    float *dots = ut_malloc(FB * (np ? np : 1) * sizeof *dots);
    *out = ut_malloc((n ? n : 1) * TOP * sizeof **out);
    if (!dots || !*out) {
        ut_free(dots);
        return ut_fail(UT_ENOMEM, "out of memory scoring faces against %zu people", np);
    }
    size_t m = 0;
    for (size_t f0 = 0; f0 < n && np; f0 += FB) {
        size_t nf = n - f0 < FB ? n - f0 : FB;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nf, (int)np, (int)d, 1.0f,
                    x + f0 * d, (int)d, sums, (int)d, 0.0f, dots, (int)np);
        for (size_t r = 0; r < nf; r++) {
            cand best[TOP];
            int nb = 0;
            for (size_t p = 0; p < np; p++) {
                float dv = 1.0f - dots[r * np + p] * inv[p];
                if (!(dv < t)) continue;
                cand c = {dv, (int32_t)(f0 + r), (int32_t)p};
                if (nb == TOP && cmp_cand(&c, &best[TOP - 1]) >= 0) continue;
                int q = nb < TOP ? nb++ : TOP - 1;
                while (q > 0 && cmp_cand(&c, &best[q - 1]) < 0) best[q] = best[q - 1], q--;
                best[q] = c;
            }
            for (int b = 0; b < nb; b++) (*out)[m++] = best[b];
        }
    }
    *nout = m;
    ut_free(dots);
    return UT_OK;
}

typedef struct {
    int32_t g, i;
} gface;

static int cmp_gface(const void *x, const void *y) {
    const gface *a = x, *b = y;
    if (a->g != b->g) return a->g < b->g ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

/* order: faces sorted by group; run[f]: index in order where f's group
 * starts. */
static int group_runs(const int32_t *group, size_t n, int32_t **order, int32_t **run) {
    gface *gf = ut_malloc((n ? n : 1) * sizeof *gf);
    *order = ut_malloc((n ? n : 1) * sizeof **order);
    *run = ut_malloc((n ? n : 1) * sizeof **run);
    if (!gf || !*order || !*run) {
        ut_free(gf);
        return ut_fail(UT_ENOMEM, "out of memory indexing photos");
    }
    for (size_t i = 0; i < n; i++) gf[i] = (gface){group[i], (int32_t)i};
    qsort(gf, n, sizeof *gf, cmp_gface);
    for (size_t r = 0; r < n; r++) {
        int32_t f = gf[r].i;
        (*order)[r] = f;
        (*run)[f] = r && gf[r - 1].g == gf[r].g ? (*run)[gf[r - 1].i] : (int32_t)r;
    }
    ut_free(gf);
    return UT_OK;
}

/* Cluster the faces marked -2 in lab; number clusters from base. */
static int cluster_rest(const float *x, size_t n, size_t d, const int32_t *group, int32_t *lab,
                        int32_t base, const clu_opts *o, clu_result *out) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++) m += lab[i] == -2;
    float *rx = ut_malloc((m ? m : 1) * d * sizeof *rx);
    int32_t *rg = ut_malloc((m ? m : 1) * sizeof *rg), *rid = ut_malloc((m ? m : 1) * sizeof *rid);
    clu_result sub = {0};
    int rc = UT_OK;
    if (!rx || !rg || !rid) {
        rc = ut_fail(UT_ENOMEM, "out of memory for %zu unassigned faces", m);
        goto done;
    }
    m = 0;
    for (size_t i = 0; i < n; i++) {
        if (lab[i] != -2) continue;
        memcpy(rx + m * d, x + i * d, d * sizeof *x);
        rg[m] = group ? group[i] : -1;
        rid[m++] = (int32_t)i;
    }
    if ((rc = clu_cluster(rx, m, d, rg, o, &sub)) != UT_OK) goto done;
    for (size_t r = 0; r < m; r++) lab[rid[r]] = sub.labels[r] < 0 ? -1 : base + sub.labels[r];
    out->nclusters = sub.nclusters;
    out->persistence = sub.persistence;
    sub.persistence = NULL;
done:
    clu_result_free(&sub);
    ut_free(rx), ut_free(rg), ut_free(rid);
    return rc;
}

int clu_assign(const float *x, size_t n, size_t d, const int32_t *group, const float *anchors,
               const int32_t *anchor_person, size_t na, float threshold, const clu_opts *o,
               clu_result *out) {
    memset(out, 0, sizeof *out);
    clu_opts def;
    if (!o) clu_opts_default(&def), o = &def;
    if (!(threshold > 0 && threshold <= 2))
        return ut_fail(UT_EINVAL, "assignment threshold must be in (0, 2] (got %g)", (double)threshold);
    if (na && !anchor_person) return ut_fail(UT_EINVAL, "anchors need person ids");
    for (size_t i = 0; i < na; i++)
        if (anchor_person[i] < 0 || anchor_person[i] == INT32_MAX)
            return ut_fail(UT_EINVAL, "anchor %zu has invalid person id %d", i, anchor_person[i]);
    int rc = clu_check_embeddings(x, n, d);
    if (rc == UT_OK) rc = clu_check_embeddings(anchors, na, d);
    if (rc != UT_OK) return rc;
    int32_t *ids = NULL, *lab = ut_malloc((n ? n : 1) * sizeof *lab);
    float *sums = NULL, *inv = NULL;
    cand *cs = NULL;
    size_t np = 0, nc = 0;
    int32_t *order = NULL, *run = NULL;
    if (!lab) return ut_fail(UT_ENOMEM, "out of memory for %zu labels", n);
    if ((rc = people(anchors, anchor_person, na, d, &ids, &np, &sums, &inv)) != UT_OK) goto done;
    if ((rc = candidates(x, n, d, sums, inv, np, threshold, &cs, &nc)) != UT_OK) goto done;
    qsort(cs, nc, sizeof *cs, cmp_cand);
    for (size_t i = 0; i < n; i++) lab[i] = -2;  /* -2: not decided yet */
    if (group && (rc = group_runs(group, n, &order, &run)) != UT_OK) goto done;
    /* (photo, person) taken? The faces of one photo are few: scan them. */
    for (size_t e = 0; e < nc; e++) {
        int32_t f = cs[e].face, p = ids[cs[e].person];
        if (lab[f] != -2) continue;
        int clash = 0;
        if (group && group[f] >= 0)
            for (int32_t r = run[f]; r < (int32_t)n && group[order[r]] == group[f] && !clash; r++)
                clash = lab[order[r]] == p;
        if (!clash) lab[f] = p;
    }
    int32_t base = np ? ids[np - 1] + 1 : 0;
    out->n = n;
    if ((rc = cluster_rest(x, n, d, group, lab, base, o, out)) != UT_OK) goto done;
    out->labels = lab;
    lab = NULL;
done:
    if (rc != UT_OK) clu_result_free(out);
    ut_free(ids), ut_free(lab), ut_free(sums), ut_free(inv), ut_free(cs), ut_free(order), ut_free(run);
    return rc;
}

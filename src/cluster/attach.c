/* attach.c -- give unassigned faces to a person when the choice is clear.
 *
 * Average linkage leaves a face unassigned when it is farther than the
 * threshold from every cluster: often a real face in poor conditions (a
 * beard, a small face in the background) that is still much nearer to one
 * person than to any other. A face is attached when its average distance
 * to the nearest cluster is below max_dist AND the second-nearest cluster
 * is at least margin farther away; a false detection (a cushion, a shirt)
 * is about equally far from everyone and stays unassigned. Cannot-link
 * holds: a cluster that already has a face of the same group is skipped.
 *
 * Cost: one pass over the clusters' sum vectors per unassigned face,
 * O(noise x clusters x d). */
#include "cluster.h"
#include "cluster_int.h"

#include <string.h>

typedef struct {
    float *sum;     /* nclusters x d sums of member embeddings */
    size_t *size;
} centroids;

static int build(const float *x, size_t n, size_t d, const int32_t *labels, int nclusters, centroids *c) {
    c->sum = ut_calloc((size_t)nclusters * d, sizeof(float));
    c->size = ut_calloc((size_t)nclusters, sizeof(size_t));
    if (!c->sum || !c->size) return ut_fail(UT_ENOMEM, "out of memory attaching faces");
    for (size_t i = 0; i < n; i++) {
        if (labels[i] < 0) continue;
        float *s = c->sum + (size_t)labels[i] * d;
        for (size_t k = 0; k < d; k++) s[k] += x[i * d + k];
        c->size[labels[i]]++;
    }
    return UT_OK;
}

/* 1 if cluster c already holds a face of group g (g < 0: no group). */
static int holds_group(const int32_t *labels, const int32_t *group, size_t n, int32_t c, int32_t g) {
    if (!group || g < 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (labels[i] == c && group[i] == g) return 1;
    return 0;
}

int clu_attach_noise(const float *x, size_t n, size_t d, const int32_t *group, int32_t *labels, int nclusters,
                     float max_dist, float margin, size_t *attached) {
    *attached = 0;
    if (nclusters <= 0) return UT_OK;
    if (!(max_dist > 0) || !(margin >= 0)) return ut_fail(UT_EINVAL, "attach: max_dist must be > 0 and margin >= 0");
    centroids c = {0};
    int rc = build(x, n, d, labels, nclusters, &c);
    int32_t *pick = ut_malloc((n ? n : 1) * sizeof *pick);
    if (!rc && !pick) rc = ut_fail(UT_ENOMEM, "out of memory attaching faces");
    /* Decide every face against the clusters as they were, so the order of
     * the faces does not matter, then apply. */
    for (size_t i = 0; !rc && i < n; i++) {
        pick[i] = -1;
        if (labels[i] >= 0) continue;
        double best = 2, second = 2;
        int32_t best_c = -1;
        for (int32_t k = 0; k < nclusters; k++) {
            double dist = 1.0 - clu__dot(x + i * d, c.sum + (size_t)k * d, d) / (double)c.size[k];
            if (dist < best) {
                second = best;
                best = dist;
                best_c = k;
            } else if (dist < second) {
                second = dist;
            }
        }
        if (best_c >= 0 && best < max_dist && second - best >= margin &&
            !holds_group(labels, group, n, best_c, group ? group[i] : -1))
            pick[i] = best_c;
    }
    /* Two unassigned faces of one photo may pick the same person: keep the nearer. */
    for (size_t i = 0; !rc && i < n; i++) {
        if (pick[i] < 0) continue;
        int keep = 1;
        for (size_t j = 0; group && keep && j < n; j++) {
            if (j == i || pick[j] != pick[i] || group[j] != group[i] || group[i] < 0) continue;
            double di = clu__dot(x + i * d, c.sum + (size_t)pick[i] * d, d);
            double dj = clu__dot(x + j * d, c.sum + (size_t)pick[j] * d, d);
            keep = di > dj || (di == dj && i < j);
        }
        if (keep) {
            labels[i] = pick[i];
            (*attached)++;
        }
    }
    ut_free(pick);
    ut_free(c.sum);
    ut_free(c.size);
    return rc;
}

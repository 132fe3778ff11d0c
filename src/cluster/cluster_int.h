/* cluster_int.h -- shared inside the cluster module only.
 *
 * The neighbour graph: n rows of k slots, each row holding up to k nearest
 * other faces (cosine distance), ascending by (distance, index); unused
 * slots have idx -1. */
#ifndef KADR_CLUSTER_INT_H
#define KADR_CLUSTER_INT_H

#include "cluster.h"

typedef struct {
    size_t n;
    int k;
    int32_t *idx;  /* n*k */
    float *dist;   /* n*k */
} clu__graph;

/* Up to k nearest other rows of x with distance < radius for every row.
 * exact: blocked GEMM over all pairs; else IVF (k-means cells, nearest
 * cells searched). */
int clu__knn(const float *x, size_t n, size_t d, int k, float radius, int exact,
             ut_pool *pool, clu__graph *g);
void clu__graph_free(clu__graph *g);

/* Dot product in double (sum vectors can be long). */
double clu__dot(const float *a, const float *b, size_t d);

/* Average linkage over "items" (a sum vector and a count each, plus the
 * sorted distinct group ids they hold) along candidate edges. Merges the
 * closest pair (exact average distance from sums) while it is < t and the
 * two share no group. sums (nitems x d) is modified. On success lab[i] is
 * the root item of i's cluster and height[root] the distance of the root's
 * last merge (-1 if never merged). ea/eb: nedges candidate pairs. */
typedef struct {
    size_t nitems, d;
    float *sums;
    int64_t *count;
    const int32_t *grp_off;  /* nitems+1 offsets into grp (CSR), or NULL */
    const int32_t *grp;
} clu__items;

int clu__avglink(clu__items *it, const int32_t *ea, const int32_t *eb, size_t nedges,
                 float t, int32_t *lab, float *height);

/* HDBSCAN labels; persistence gets one value per cluster (caller frees). */
int clu__hdbscan(const float *x, size_t n, size_t d, const clu_opts *o, int32_t *labels,
                 int *nclusters, double **persistence);

#endif

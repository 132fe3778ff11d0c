/* cluster.h -- grouping face embeddings into people.
 *
 * Input: n L2-normalised float32 embeddings of dimension d (row-major),
 * optionally a group id per face (the photo it came from; -1 = none).
 * Distance is cosine distance 1 - <a,b>.
 *
 * Algorithms
 *   CLU_ALGO_AVERAGE (default) -- average-linkage agglomerative clustering
 *     cut at `threshold` (merge while the mean pairwise distance of two
 *     clusters is < threshold). It does not fragment people the way HDBSCAN
 *     with min_cluster_size 2 / min_samples 1 does. Implementation: for unit
 *     vectors the average distance of clusters A and B is exactly
 *     1 - <sum A, sum B> / (|A| |B|), so a cluster is its sum vector and no
 *     n x n matrix is ever stored. Any merge below the threshold joins two
 *     clusters with at least one pair closer than the threshold, so the
 *     candidates are the edges of the "distance < threshold" graph: merging
 *     greedily (global minimum first, a heap) along that graph gives exactly
 *     the average-linkage dendrogram below the threshold. The graph is exact
 *     (blocked GEMM over all pairs, at most `max_neighbors` nearest per face)
 *     for n <= exact_max and approximate (IVF: k-means cells, neighbours
 *     searched in the nearest cells) above; only the candidate pairs are
 *     approximate, every distance is exact. We chose this over the
 *     nearest-neighbour chain because the chain needs every pairwise
 *     cluster distance (O(n^2) time even with sum vectors) and cannot use a
 *     sparse graph. Clusters smaller than min_cluster_size become noise.
 *   CLU_ALGO_HDBSCAN -- HDBSCAN* as the reference hdbscan_np.py (and the
 *     hdbscan library): core distance = distance to the min_samples-th
 *     nearest *other* face, mutual reachability, MST, single-linkage
 *     hierarchy, condensed tree with min_cluster_size, excess-of-mass (or
 *     leaf) selection, cluster_selection_epsilon as the library does. Exact
 *     (dense Prim, same labels as the reference) for n <= hdbscan_exact_max;
 *     above, the MST is built from the k-NN graph (IVF) and its components
 *     are joined through nearest neighbours among component representatives.
 *     If merge_threshold > 0 the selected clusters are then merged by average
 *     linkage at that threshold.
 *
 * Cannot-link: two faces with the same group id (>= 0) never share a label.
 * Average linkage never merges two clusters that share a group; after
 * HDBSCAN a conflict is repaired by keeping the member closest to its
 * cluster and moving the others to their next best cluster within
 * `threshold` that does not hold their group, else to noise.
 *
 * Threads: pass a ut_pool (NULL = calling thread only). The GEMMs run in
 * OpenBLAS, which uses its own threads (OPENBLAS_NUM_THREADS).
 *
 * Errors: UT_EINVAL for bad parameters or embeddings (NaN/Inf, zero or not
 * unit length), UT_ENOMEM; a message is recorded with ut_fail(). On error
 * the result is left empty.
 */
#ifndef KADR_CLUSTER_H
#define KADR_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum { CLU_ALGO_AVERAGE = 0, CLU_ALGO_HDBSCAN = 1 };
enum { CLU_SELECT_EOM = 0, CLU_SELECT_LEAF = 1 };

typedef struct {
    int algorithm;           /* CLU_ALGO_AVERAGE (default) | CLU_ALGO_HDBSCAN */
    float threshold;         /* average linkage cut, cosine distance (0.64);
                                also the bound for cannot-link repair moves */
    int min_cluster_size;    /* >= 2; default 2 */
    int min_samples;         /* HDBSCAN, >= 1; default 1 */
    int selection;           /* HDBSCAN: CLU_SELECT_EOM | CLU_SELECT_LEAF */
    float selection_epsilon; /* HDBSCAN cluster_selection_epsilon, >= 0 */
    float merge_threshold;   /* HDBSCAN: merge clusters by average linkage
                                below this distance afterwards; 0 = off */
    size_t exact_max;        /* exact neighbour graph up to this n (20000) */
    size_t hdbscan_exact_max;/* dense exact HDBSCAN up to this n (10000) */
    int max_neighbors;       /* graph degree cap per face (64) */
    ut_pool *pool;           /* threads for loops; NULL = caller only */
} clu_opts;

/* Fill o with the defaults above. */
void clu_opts_default(clu_opts *o);

typedef struct {
    size_t n;            /* number of faces */
    int32_t *labels;     /* n labels: 0..nclusters-1, or -1 = noise */
    int nclusters;
    /* nclusters values: HDBSCAN stability of each cluster; for average
     * linkage the margin threshold - (height of the cluster's last merge). */
    double *persistence;
} clu_result;

/* Release what a result holds and zero it; NULL or empty is fine. */
void clu_result_free(clu_result *r);

/* Normalise n rows of x in place to unit length. UT_EINVAL if a row is
 * zero or holds NaN/Inf (x is then unchanged from that row on). */
int clu_normalize(float *x, size_t n, size_t d);

/* Check that rows are finite and unit length (|norm - 1| <= 1e-3). */
int clu_check_embeddings(const float *x, size_t n, size_t d);

/* Cluster x (n x d). group may be NULL (no cannot-link). Labels are
 * numbered by the first face of each cluster (face order), so equal
 * partitions give equal label arrays. out is owned by the caller
 * (clu_result_free). */
int clu_cluster(const float *x, size_t n, size_t d, const int32_t *group,
                const clu_opts *o, clu_result *out);

/* Incremental assignment. Anchors are faces already named: na embeddings
 * with a person id each (>= 0). Each new face goes to the person with the
 * smallest average distance (1 - <x, mean of the person's anchors>) if it
 * is < threshold, best pairs first, never two faces of one group to the
 * same person. The remaining faces are clustered with o. Labels: a person
 * id for assigned faces, max person id + 1 + k for the k-th new cluster,
 * -1 for noise. out->nclusters counts the new clusters only. */
int clu_assign(const float *x, size_t n, size_t d, const int32_t *group,
               const float *anchors, const int32_t *anchor_person, size_t na,
               float threshold, const clu_opts *o, clu_result *out);

/* After clustering: attach each unassigned face (label -1) to its nearest
 * cluster (average distance to its members) when that is < max_dist and
 * the second-nearest cluster is at least margin farther; never into a
 * cluster holding a face of the same group. labels is updated in place;
 * *attached counts the faces given a cluster. See attach.c for why. */
int clu_attach_noise(const float *x, size_t n, size_t d, const int32_t *group, int32_t *labels, int nclusters,
                     float max_dist, float margin, size_t *attached);

/* ---- metrics (kadr faces eval) ------------------------------------------ */

typedef struct {
    double bcubed_p, bcubed_r, bcubed_f;   /* Bagga & Baldwin, item average */
    double pair_p, pair_r, pair_f;         /* over unordered pairs */
    size_t nclusters;    /* predicted clusters, each noise face counted alone */
    size_t nidentities;  /* distinct true labels */
    size_t nnoise;       /* faces predicted as noise (-1) */
} clu_metrics;

/* Compare a predicted labelling (-1 = noise, made a singleton each, as
 * metrics.py's singletonize) with the truth (any int32 ids). n = 0 is
 * UT_EINVAL. Pairwise P (R) is 1 when there are no predicted (true) pairs,
 * as metrics.py. */
int clu_metrics_compute(const int32_t *truth, const int32_t *pred, size_t n,
                        clu_metrics *out);

#endif

/* synth.h -- synthetic face embeddings for the cluster tests and bench:
 * identities are random unit directions, a face is its identity plus
 * Gaussian noise of a given spread, normalised; noise faces are random
 * directions. Deterministic (splitmix64). Header-only: static functions. */
#ifndef KADR_CLUSTER_SYNTH_H
#define KADR_CLUSTER_SYNTH_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t s;
} syn_rng;

static inline uint64_t syn_next(syn_rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline double syn_unif(syn_rng *r) { return ((syn_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

static inline double syn_gauss(syn_rng *r) {
    return sqrt(-2.0 * log(syn_unif(r))) * cos(6.283185307179586 * syn_unif(r));
}

static inline void syn_unit(float *v, size_t d) {
    double s = 0;
    for (size_t j = 0; j < d; j++) s += (double)v[j] * v[j];
    s = 1.0 / sqrt(s);
    for (size_t j = 0; j < d; j++) v[j] = (float)(v[j] * s);
}

static inline void syn_random_dir(syn_rng *r, float *v, size_t d) {
    for (size_t j = 0; j < d; j++) v[j] = (float)syn_gauss(r);
    syn_unit(v, d);
}

/* n faces: ids identities with `per` faces each (spread sigma[id % nsig]),
 * then the rest noise (truth -1 - i, unique). x: n*d, truth: n. The faces
 * of identity c are shuffled into the array. */
static inline void syn_faces(uint64_t seed, size_t n, size_t d, size_t ids, size_t per,
                             const double *sigma, size_t nsig, float *x, int32_t *truth) {
    syn_rng r = {seed};
    float *cent = malloc(ids * d * sizeof *cent);
    for (size_t c = 0; c < ids; c++) syn_random_dir(&r, cent + c * d, d);
    for (size_t i = 0; i < n; i++) {
        float *v = x + i * d;
        if (i < ids * per) {
            size_t c = i % ids;
            double sg = sigma[c % nsig] / sqrt((double)d);
            for (size_t j = 0; j < d; j++) v[j] = cent[c * d + j] + (float)(sg * syn_gauss(&r));
            syn_unit(v, d);
            truth[i] = (int32_t)c;
        } else {
            syn_random_dir(&r, v, d);
            truth[i] = -1 - (int32_t)i;
        }
    }
    for (size_t i = n; i > 1; i--) { /* shuffle */
        size_t j = syn_next(&r) % i;
        float tmp[d];
        memcpy(tmp, x + (i - 1) * d, sizeof tmp);
        memcpy(x + (i - 1) * d, x + j * d, sizeof tmp);
        memcpy(x + j * d, tmp, sizeof tmp);
        int32_t t = truth[i - 1];
        truth[i - 1] = truth[j];
        truth[j] = t;
    }
    free(cent);
}

#endif

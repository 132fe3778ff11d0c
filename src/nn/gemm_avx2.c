/* gemm_avx2.c -- the convolution GEMM (AVX-512 8x32 or AVX2 6x16 kernels): C[M x N] = A[M x K] * B[K x N] + bias,
 * then the fused activation, for one image and group.
 *
 * A (the weights) is packed once at plan time into panels of MR rows,
 * k-major (panel[k * MR + i] = A[m0 + i][k], zero rows past M). B is the
 * input itself (1x1 convolutions) or an im2col tile, read in place NR
 * columns at a time; an MR x NR block of C lives in registers
 * (AVX-512: 8 x 32 in 16 zmm; AVX2: 6 x 16 in 12 ymm), starts at the bias
 * and gets the activation before it is stored, so C is written once.
 *
 * Compiled for AVX2+FMA with a target attribute and used only when the CPU
 * has them (nn__gemm_ok); otherwise ops_conv.c falls back to a portable
 * loop. (kadr_nn links no BLAS: OpenBLAS's idle threads spin, and its 60 KB
 * of static TLS per thread overflowed CivetWeb's worker stacks under ASan.) */
#include "nn_int.h"

#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#define MR 6
#define NR 16
#define MR512 8
#define NR512 32

/* Which kernel: 2 = AVX-512 (8 x 32), 1 = AVX2+FMA (6 x 16), 0 = none.
 * KADR_NN_ISA=avx2|generic caps it (tests run every path on one machine).
 * Decided once per process; packed weights depend on it. */
static int isa(void) {
    static int level = -1;
    if (level < 0) {
        __builtin_cpu_init();
        int l = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        if (l && __builtin_cpu_supports("avx512f")) l = 2;
        const char *cap = getenv("KADR_NN_ISA");
        if (cap && !strcmp(cap, "avx2") && l > 1) l = 1;
        if (cap && !strcmp(cap, "generic")) l = 0;
        level = l;
    }
    return level;
}

int nn__gemm_ok(void) { return isa() > 0; }

static int mr_of(void) { return isa() == 2 ? MR512 : MR; }
static int nr_of(void) { return isa() == 2 ? NR512 : NR; }

size_t nn__gemm_edge_floats(int64_t k) { return (size_t)(k * nr_of() + mr_of() * nr_of() + 16); }

size_t nn__gemm_packed_floats(int64_t m, int64_t k) {
    int mr = mr_of();
    return (size_t)((m + mr - 1) / mr) * (size_t)mr * (size_t)k;
}

void nn__gemm_pack(const float *a, int64_t m, int64_t k, float *out) {
    int mr = mr_of();
    for (int64_t m0 = 0; m0 < m; m0 += mr)
        for (int64_t kk = 0; kk < k; kk++)
            for (int i = 0; i < mr; i++) *out++ = m0 + i < m ? a[(m0 + i) * k + kk] : 0.0f;
}

/* ---- AVX-512: 8 x 32 blocks in 16 zmm accumulators ---- */

__attribute__((target("avx512f"))) static inline __m512 act16(__m512 v, const nn__act *act, int64_t ch) {
    switch (act->kind) {
    case NN_ACT_RELU: return _mm512_max_ps(v, _mm512_setzero_ps());
    case NN_ACT_CLIP: return _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(act->a)), _mm512_set1_ps(act->b));
    case NN_ACT_LEAKY:
    case NN_ACT_PRELU: {
        float s = act->kind == NN_ACT_LEAKY ? act->a : act->slope[act->nslope == 1 ? 0 : ch];
        __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
        return _mm512_mask_mul_ps(v, neg, v, _mm512_set1_ps(s));
    }
    default: return v;
    }
}

__attribute__((target("avx512f"))) static void block512(const float *restrict pa, const float *restrict b, int64_t ldb,
                                                        int64_t k, float *restrict c, int64_t ldc, int mr,
                                                        const float *bias, int64_t m0, const nn__act *act) {
    __m512 c0[MR512], c1[MR512];
#pragma GCC unroll 8
    for (int i = 0; i < MR512; i++) c0[i] = c1[i] = _mm512_set1_ps(bias && i < mr ? bias[m0 + i] : 0.0f);
    for (int64_t kk = 0; kk < k; kk++) {
        __m512 b0 = _mm512_loadu_ps(b + kk * ldb), b1 = _mm512_loadu_ps(b + kk * ldb + 16);
        const float *ap = pa + kk * MR512;
#pragma GCC unroll 8
        for (int i = 0; i < MR512; i++) {
            __m512 a = _mm512_set1_ps(ap[i]);
            c0[i] = _mm512_fmadd_ps(a, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(a, b1, c1[i]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR512; i++)
        if (i < mr) {
            _mm512_storeu_ps(c + i * ldc, act16(c0[i], act, m0 + i));
            _mm512_storeu_ps(c + i * ldc + 16, act16(c1[i], act, m0 + i));
        }
}

__attribute__((target("avx2,fma"))) static inline __m256 act8(__m256 v, const nn__act *act, int64_t ch) {
    switch (act->kind) {
    case NN_ACT_RELU: return _mm256_max_ps(v, _mm256_setzero_ps());
    case NN_ACT_CLIP: return _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(act->a)), _mm256_set1_ps(act->b));
    case NN_ACT_LEAKY:
    case NN_ACT_PRELU: {
        float s = act->kind == NN_ACT_LEAKY ? act->a : act->slope[act->nslope == 1 ? 0 : ch];
        __m256 neg = _mm256_mul_ps(v, _mm256_set1_ps(s));
        return _mm256_blendv_ps(v, neg, _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ));
    }
    default: return v;
    }
}

/* One 6 x 16 block: rows m0.. (mr valid), B columns at b (ldb), C at c (ldc). */
__attribute__((target("avx2,fma"))) static void block(const float *restrict pa, const float *restrict b, int64_t ldb,
                                                      int64_t k, float *restrict c, int64_t ldc, int mr,
                                                      const float *bias, int64_t m0, const nn__act *act) {
    __m256 c0[MR], c1[MR];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) c0[i] = c1[i] = _mm256_set1_ps(bias && i < mr ? bias[m0 + i] : 0.0f);
    for (int64_t kk = 0; kk < k; kk++) {
        __m256 b0 = _mm256_loadu_ps(b + kk * ldb), b1 = _mm256_loadu_ps(b + kk * ldb + 8);
        const float *ap = pa + kk * MR;
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            __m256 a = _mm256_broadcast_ss(ap + i);
            c0[i] = _mm256_fmadd_ps(a, b0, c0[i]);
            c1[i] = _mm256_fmadd_ps(a, b1, c1[i]);
        }
    }
    /* constant trip count: unrolled, so c0/c1 stay in registers */
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++)
        if (i < mr) {
            _mm256_storeu_ps(c + i * ldc, act8(c0[i], act, m0 + i));
            _mm256_storeu_ps(c + i * ldc + 8, act8(c1[i], act, m0 + i));
        }
}

typedef void (*block_fn)(const float *, const float *, int64_t, int64_t, float *, int64_t, int, const float *, int64_t,
                         const nn__act *);

/* C (ldc) = packed A [m x k] * B [k x n] (ldb) + bias, activation; act
 * channels are the row numbers. edge: nn__gemm_edge_floats(k) floats. */
void nn__gemm_run(const float *pa, int64_t m, int64_t k, const float *b, int64_t ldb, int64_t n, float *c, int64_t ldc,
                  const float *bias, const nn__act *act, float *edge) {
    const int mr = mr_of(), nr = nr_of();
    block_fn blk = isa() == 2 ? block512 : block;
    /* Full blocks read B in place (measured: faster than copying B into a
     * contiguous panel on every model here, the hardware prefetchers follow
     * the k rows); the remainder columns go through a zero-padded copy. */
    float *bt = edge, *ct = edge + k * nr;
    int64_t nfull = n / nr * nr;
    for (int64_t n0 = 0; n0 < nfull; n0 += nr)
        for (int64_t m0 = 0; m0 < m; m0 += mr)
            blk(pa + m0 * k, b + n0, ldb, k, c + m0 * ldc + n0, ldc, m - m0 < mr ? (int)(m - m0) : mr, bias, m0, act);
    if (nfull < n) {
        int64_t w = n - nfull;
        for (int64_t kk = 0; kk < k; kk++) {
            memcpy(bt + kk * nr, b + kk * ldb + nfull, (size_t)w * sizeof(float));
            memset(bt + kk * nr + w, 0, (size_t)(nr - w) * sizeof(float));
        }
        for (int64_t m0 = 0; m0 < m; m0 += mr) {
            int rows = m - m0 < mr ? (int)(m - m0) : mr;
            blk(pa + m0 * k, bt, nr, k, ct, nr, rows, bias, m0, act);
            for (int i = 0; i < rows; i++) memcpy(c + (m0 + i) * ldc + nfull, ct + i * nr, (size_t)w * sizeof(float));
        }
    }
    if (act->kind == NN_ACT_SIGMOID)
        for (int64_t i = 0; i < m; i++) nn__act_apply(act, c + i * ldc, (size_t)n, i);
}

/* y[m] = packed A [m x k] * x[k] + bias, then the activation: the M = 1
 * case of nn__gemm_run (fully connected layers at batch 1), where a 32-wide
 * column block would be 31/32 padding. Walks the same panels: the MR rows
 * of a panel are contiguous for each k, so the inner loop is one vector. */
NN_HOT void nn__gemv_packed(const float *pa, int64_t m, int64_t k, const float *x, float *y, const float *bias,
                            const nn__act *act) {
    const int mr = mr_of();
    for (int64_t m0 = 0; m0 < m; m0 += mr) {
        float acc[MR512] = {0};
        const float *p = pa + m0 * k;
        for (int64_t kk = 0; kk < k; kk++)
            for (int i = 0; i < mr; i++) acc[i] += p[kk * mr + i] * x[kk];
        for (int i = 0; i < mr && m0 + i < m; i++) y[m0 + i] = acc[i] + (bias ? bias[m0 + i] : 0.0f);
    }
    for (int64_t i = 0; i < m; i++) nn__act_apply(act, y + i, 1, i);
}

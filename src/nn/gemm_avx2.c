/* gemm_avx2.c -- the convolution GEMM: C[M x N] = A[M x K] * B[K x N] + bias,
 * then the fused activation, for one image and group.
 *
 * A (the weights) is packed once at plan time into panels of MR = 6 rows,
 * k-major (panel[k * 6 + i] = A[m0 + i][k], zero rows past M). B is the
 * input itself (1x1 convolutions) or an im2col tile, read in place, 16
 * columns at a time; a 6 x 16 block of C lives in 12 ymm accumulators that
 * start at the bias and get the activation before they are stored, so C is
 * written exactly once. Column remainders go through a 16-wide copy of B.
 *
 * Compiled for AVX2+FMA with a target attribute and used only when the CPU
 * has them (nn__gemm_ok); otherwise ops_conv.c falls back to a portable
 * loop. (kadr_nn links no BLAS: OpenBLAS's idle threads spin, and its 60 KB
 * of static TLS per thread overflowed CivetWeb's worker stacks under ASan.) */
#include "nn_int.h"

#include <immintrin.h>
#include <string.h>

#define MR 6
#define NR 16

int nn__gemm_ok(void) {
    static int ok = -1;
    if (ok < 0) {
        __builtin_cpu_init();
        ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return ok;
}

size_t nn__gemm_packed_floats(int64_t m, int64_t k) { return (size_t)((m + MR - 1) / MR) * MR * (size_t)k; }

void nn__gemm_pack(const float *a, int64_t m, int64_t k, float *out) {
    for (int64_t m0 = 0; m0 < m; m0 += MR)
        for (int64_t kk = 0; kk < k; kk++)
            for (int i = 0; i < MR; i++) *out++ = m0 + i < m ? a[(m0 + i) * k + kk] : 0.0f;
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

/* C (ldc) = packed A [m x k] * B [k x n] (ldb) + bias, activation; act
 * channels are m0_ch + row. edge: scratch of k * 16 + 6 * 16 floats. */
__attribute__((target("avx2,fma"))) void nn__gemm_run(const float *pa, int64_t m, int64_t k, const float *b,
                                                      int64_t ldb, int64_t n, float *c, int64_t ldc,
                                                      const float *bias, const nn__act *act, float *edge) {
    /* B is copied 16 columns at a time into a contiguous k x 16 panel: the
     * rows of B are far apart (a whole image row each), the panel is one
     * stream that stays in L1/L2 while every row panel of A passes over it. */
    float *bt = edge, *ct = edge + k * NR;
    for (int64_t n0 = 0; n0 < n; n0 += NR) {
        int64_t w = n - n0 < NR ? n - n0 : NR;
        if (w == NR && m <= 2 * MR) {  /* too few row panels to repay the copy */
            for (int64_t m0 = 0; m0 < m; m0 += MR)
                block(pa + m0 * k, b + n0, ldb, k, c + m0 * ldc + n0, ldc, m - m0 < MR ? (int)(m - m0) : MR, bias, m0, act);
            continue;
        }
        for (int64_t kk = 0; kk < k; kk++) {
            memcpy(bt + kk * NR, b + kk * ldb + n0, (size_t)w * sizeof(float));
            if (w < NR) memset(bt + kk * NR + w, 0, (size_t)(NR - w) * sizeof(float));
        }
        for (int64_t m0 = 0; m0 < m; m0 += MR) {
            int mr = m - m0 < MR ? (int)(m - m0) : MR;
            if (w == NR) {
                block(pa + m0 * k, bt, NR, k, c + m0 * ldc + n0, ldc, mr, bias, m0, act);
            } else {
                block(pa + m0 * k, bt, NR, k, ct, NR, mr, bias, m0, act);
                for (int i = 0; i < mr; i++) memcpy(c + (m0 + i) * ldc + n0, ct + i * NR, (size_t)w * sizeof(float));
            }
        }
    }
    if (act->kind == NN_ACT_SIGMOID)
        for (int64_t i = 0; i < m; i++) nn__act_apply(act, c + i * ldc, (size_t)n, i);
}

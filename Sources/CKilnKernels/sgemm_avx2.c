/* The AVX2/FMA SGEMM micro-kernel: a 6×16 tile in twelve ymm accumulators. */
#include <math.h>

#include "internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))

/* x + bias, then clamped to [lower, upper]; NaN stays NaN (max/min return the second operand). */
AVX2 static inline __m256 finish(__m256 x, __m256 bias, __m256 lower, __m256 upper) {
    x = _mm256_add_ps(x, bias);
    x = _mm256_max_ps(lower, x);
    return _mm256_min_ps(upper, x);
}

AVX2 static inline void store_row(float *c, __m256 x0, __m256 x1, float beta, const ckiln_epilogue *e,
                                  int row) {
    if (beta != 0) {
        __m256 scale = _mm256_set1_ps(beta);
        x0 = _mm256_fmadd_ps(scale, _mm256_loadu_ps(c), x0);
        x1 = _mm256_fmadd_ps(scale, _mm256_loadu_ps(c + 8), x1);
    }
    if (e) {
        __m256 lower = _mm256_set1_ps(e->lower), upper = _mm256_set1_ps(e->upper);
        __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
        if (e->bias_kind == CKILN_BIAS_ROW) {
            b0 = b1 = _mm256_set1_ps(e->bias[row]);
        } else if (e->bias_kind == CKILN_BIAS_COLUMN) {
            b0 = _mm256_loadu_ps(e->bias);
            b1 = _mm256_loadu_ps(e->bias + 8);
        }
        x0 = finish(x0, b0, lower, upper);
        x1 = finish(x1, b1, lower, upper);
    }
    _mm256_storeu_ps(c, x0);
    _mm256_storeu_ps(c + 8, x1);
}

#define STEP(p)                                                                      \
    do {                                                                             \
        __m256 b0 = _mm256_loadu_ps(b + (p) * 16), b1 = _mm256_loadu_ps(b + (p) * 16 + 8); \
        __m256 x;                                                                    \
        x = _mm256_broadcast_ss(a + (p) * 6 + 0);                                    \
        c00 = _mm256_fmadd_ps(x, b0, c00); c01 = _mm256_fmadd_ps(x, b1, c01);        \
        x = _mm256_broadcast_ss(a + (p) * 6 + 1);                                    \
        c10 = _mm256_fmadd_ps(x, b0, c10); c11 = _mm256_fmadd_ps(x, b1, c11);        \
        x = _mm256_broadcast_ss(a + (p) * 6 + 2);                                    \
        c20 = _mm256_fmadd_ps(x, b0, c20); c21 = _mm256_fmadd_ps(x, b1, c21);        \
        x = _mm256_broadcast_ss(a + (p) * 6 + 3);                                    \
        c30 = _mm256_fmadd_ps(x, b0, c30); c31 = _mm256_fmadd_ps(x, b1, c31);        \
        x = _mm256_broadcast_ss(a + (p) * 6 + 4);                                    \
        c40 = _mm256_fmadd_ps(x, b0, c40); c41 = _mm256_fmadd_ps(x, b1, c41);        \
        x = _mm256_broadcast_ss(a + (p) * 6 + 5);                                    \
        c50 = _mm256_fmadd_ps(x, b0, c50); c51 = _mm256_fmadd_ps(x, b1, c51);        \
    } while (0)

AVX2 void ckiln_sgemm_ukr_avx2(ptrdiff_t kc, const float *a, const float *b, float *c, ptrdiff_t ldc,
                               int mr, int nr, float beta, const ckiln_epilogue *epilogue) {
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    ptrdiff_t p = 0;
    for (; p + 4 <= kc; p += 4) {
        _mm_prefetch((const char *)(b + 16 * 8), _MM_HINT_T0);
        STEP(0);
        STEP(1);
        STEP(2);
        STEP(3);
        a += 24;
        b += 64;
    }
    for (; p < kc; p++) {
        STEP(0);
        a += 6;
        b += 16;
    }
    if (mr == 6 && nr == 16) {
        store_row(c + 0 * ldc, c00, c01, beta, epilogue, 0);
        store_row(c + 1 * ldc, c10, c11, beta, epilogue, 1);
        store_row(c + 2 * ldc, c20, c21, beta, epilogue, 2);
        store_row(c + 3 * ldc, c30, c31, beta, epilogue, 3);
        store_row(c + 4 * ldc, c40, c41, beta, epilogue, 4);
        store_row(c + 5 * ldc, c50, c51, beta, epilogue, 5);
        return;
    }
    float tile[6][16] __attribute__((aligned(32)));
    _mm256_store_ps(tile[0], c00); _mm256_store_ps(tile[0] + 8, c01);
    _mm256_store_ps(tile[1], c10); _mm256_store_ps(tile[1] + 8, c11);
    _mm256_store_ps(tile[2], c20); _mm256_store_ps(tile[2] + 8, c21);
    _mm256_store_ps(tile[3], c30); _mm256_store_ps(tile[3] + 8, c31);
    _mm256_store_ps(tile[4], c40); _mm256_store_ps(tile[4] + 8, c41);
    _mm256_store_ps(tile[5], c50); _mm256_store_ps(tile[5] + 8, c51);
    for (int i = 0; i < mr; i++) {
        for (int j = 0; j < nr; j++) {
            float x = tile[i][j];
            if (beta != 0) x = fmaf(beta, c[i * ldc + j], x);
            if (epilogue) {
                if (epilogue->bias_kind == CKILN_BIAS_ROW) x += epilogue->bias[i];
                if (epilogue->bias_kind == CKILN_BIAS_COLUMN) x += epilogue->bias[j];
                x = x < epilogue->lower ? epilogue->lower : x;
                x = x > epilogue->upper ? epilogue->upper : x;
            }
            c[i * ldc + j] = x;
        }
    }
}

#else
void ckiln_sgemm_ukr_avx2(ptrdiff_t kc, const float *a, const float *b, float *c, ptrdiff_t ldc,
                          int mr, int nr, float beta, const ckiln_epilogue *epilogue) {
    ckiln_sgemm_ukr_portable(kc, a, b, c, ldc, mr, nr, beta, epilogue);
}
#endif

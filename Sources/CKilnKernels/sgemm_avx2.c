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
            x = ckiln_apply_epilogue(epilogue, x, i, j);
            c[i * ldc + j] = x;
        }
    }
}

/* pack_a for row-major A (not transposed): 8 k at a time, six rows transposed through an
 * 8×8 register transpose; each k's 6 values are stored with an 8-wide store whose 2 extra
 * lanes the next store overwrites (the caller's buffer has CKILN_PACK_SLACK floats of slack). */
AVX2 void ckiln_sgemm_pack_a_avx2(const float *a, ptrdiff_t lda, ptrdiff_t rows, ptrdiff_t depths,
                                  float alpha, float *out) {
    __m256 scale = _mm256_set1_ps(alpha);
    for (ptrdiff_t panel = 0; panel < rows; panel += 6) {
        ptrdiff_t used = rows - panel < 6 ? rows - panel : 6;
        const float *r[6];
        for (int i = 0; i < 6; i++) r[i] = a + (panel + (i < used ? i : 0)) * lda;
        ptrdiff_t p = 0;
        for (; p + 8 <= depths; p += 8) {
            __m256 x[8];
            for (int i = 0; i < 6; i++)
                x[i] = i < used ? _mm256_mul_ps(scale, _mm256_loadu_ps(r[i] + p)) : _mm256_setzero_ps();
            x[6] = _mm256_setzero_ps();
            x[7] = _mm256_setzero_ps();
            __m256 t0 = _mm256_unpacklo_ps(x[0], x[1]), t1 = _mm256_unpackhi_ps(x[0], x[1]);
            __m256 t2 = _mm256_unpacklo_ps(x[2], x[3]), t3 = _mm256_unpackhi_ps(x[2], x[3]);
            __m256 t4 = _mm256_unpacklo_ps(x[4], x[5]), t5 = _mm256_unpackhi_ps(x[4], x[5]);
            __m256 t6 = _mm256_unpacklo_ps(x[6], x[7]), t7 = _mm256_unpackhi_ps(x[6], x[7]);
            __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
            __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
            __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
            __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
            float *o = out + p * 6;
            _mm256_storeu_ps(o + 0, _mm256_permute2f128_ps(s0, s4, 0x20));
            _mm256_storeu_ps(o + 6, _mm256_permute2f128_ps(s1, s5, 0x20));
            _mm256_storeu_ps(o + 12, _mm256_permute2f128_ps(s2, s6, 0x20));
            _mm256_storeu_ps(o + 18, _mm256_permute2f128_ps(s3, s7, 0x20));
            _mm256_storeu_ps(o + 24, _mm256_permute2f128_ps(s0, s4, 0x31));
            _mm256_storeu_ps(o + 30, _mm256_permute2f128_ps(s1, s5, 0x31));
            _mm256_storeu_ps(o + 36, _mm256_permute2f128_ps(s2, s6, 0x31));
            _mm256_storeu_ps(o + 42, _mm256_permute2f128_ps(s3, s7, 0x31));
        }
        for (; p < depths; p++) {
            for (int i = 0; i < 6; i++) out[p * 6 + i] = i < used ? alpha * r[i][p] : 0.0f;
        }
        out += 6 * depths;
    }
}

/* pack_a for transposed A (a is depths × rows, row-major): each k's 6 values are already
 * contiguous; a masked 8-wide load (zero past the panel's rows, nothing read beyond them)
 * and an 8-wide store whose 2 extra lanes the next store overwrites (CKILN_PACK_SLACK). */
AVX2 void ckiln_sgemm_pack_at_avx2(const float *a, ptrdiff_t lda, ptrdiff_t rows, ptrdiff_t depths,
                                   float alpha, float *out) {
    __m256 scale = _mm256_set1_ps(alpha);
    for (ptrdiff_t panel = 0; panel < rows; panel += 6) {
        int used = rows - panel < 6 ? (int)(rows - panel) : 6;
        __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(used), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        for (ptrdiff_t p = 0; p < depths; p++)
            _mm256_storeu_ps(out + p * 6, _mm256_mul_ps(scale, _mm256_maskload_ps(a + p * lda + panel, mask)));
        out += 6 * depths;
    }
}

#else
void ckiln_sgemm_pack_a_avx2(const float *a, ptrdiff_t lda, ptrdiff_t rows, ptrdiff_t depths,
                             float alpha, float *out) {
    (void)a; (void)lda; (void)rows; (void)depths; (void)alpha; (void)out;
}

void ckiln_sgemm_pack_at_avx2(const float *a, ptrdiff_t lda, ptrdiff_t rows, ptrdiff_t depths,
                              float alpha, float *out) {
    (void)a; (void)lda; (void)rows; (void)depths; (void)alpha; (void)out;
}

void ckiln_sgemm_ukr_avx2(ptrdiff_t kc, const float *a, const float *b, float *c, ptrdiff_t ldc,
                          int mr, int nr, float beta, const ckiln_epilogue *epilogue) {
    ckiln_sgemm_ukr_portable(kc, a, b, c, ldc, mr, nr, beta, epilogue);
}
#endif

/* Matrix–vector products for the one-row GEMMs of batch-1 inference (a fully connected
 * layer, a projection): each B element is read once, straight from the caller's layout,
 * instead of being packed for a micro-kernel that would use one row of its tile. */
#include <string.h>

#include "internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/* Σ x[p]·y[p] over k, four 8-lane accumulators. */
__attribute__((target("avx2,fma"))) static float dot_avx2(const float *x, const float *y, ptrdiff_t k) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    ptrdiff_t p = 0;
    for (; p + 32 <= k; p += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + p), _mm256_loadu_ps(y + p), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + p + 8), _mm256_loadu_ps(y + p + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + p + 16), _mm256_loadu_ps(y + p + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + p + 24), _mm256_loadu_ps(y + p + 24), s3);
    }
    for (; p + 8 <= k; p += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + p), _mm256_loadu_ps(y + p), s0);
    __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    float sum = _mm_cvtss_f32(h);
    for (; p < k; p++) sum += x[p] * y[p];
    return sum;
}

/* out[j] += x · row[j] over n (8-lane FMA). */
__attribute__((target("avx2,fma"))) static void axpy_avx2(float x, const float *row, float *out, ptrdiff_t n) {
    __m256 v = _mm256_set1_ps(x);
    ptrdiff_t j = 0;
    for (; j + 8 <= n; j += 8)
        _mm256_storeu_ps(out + j, _mm256_fmadd_ps(v, _mm256_loadu_ps(row + j), _mm256_loadu_ps(out + j)));
    for (; j < n; j++) out[j] += x * row[j];
}
#endif

static float dot_portable(const float *x, const float *y, ptrdiff_t k) {
    float sum = 0;
    for (ptrdiff_t p = 0; p < k; p++) sum += x[p] * y[p];
    return sum;
}

static void axpy_portable(float x, const float *row, float *out, ptrdiff_t n) {
    for (ptrdiff_t j = 0; j < n; j++) out[j] += x * row[j];
}

int ckiln_sgemv(int isa, int trans_a, int trans_b, ptrdiff_t n, ptrdiff_t k, float alpha, const float *a,
                ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta, float *c,
                const ckiln_epilogue *epilogue) {
    if (n <= 0) return 0;
    float (*dot)(const float *, const float *, ptrdiff_t) = dot_portable;
    void (*axpy)(float, const float *, float *, ptrdiff_t) = axpy_portable;
#if defined(__x86_64__) || defined(__i386__)
    if (ckiln_clamp_isa(isa) >= CKILN_ISA_AVX2) {
        dot = dot_avx2;
        axpy = axpy_avx2;
    }
#endif
    /* The row of op(A), contiguous (a column of a transposed A is gathered). */
    const float *x = a;
    if (trans_a && lda != 1) {
        float *gathered = ckiln_scratch(2, sizeof(float) * (size_t)(k > 0 ? k : 1));
        if (!gathered) return -1;
        for (ptrdiff_t p = 0; p < k; p++) gathered[p] = a[p * lda];
        x = gathered;
    }
    if (trans_b) {
        /* B is n × k: one dot product per output. */
        for (ptrdiff_t j = 0; j < n; j++) {
            float value = alpha * dot(x, b + j * ldb, k);
            if (beta != 0) value += beta * c[j];
            c[j] = ckiln_apply_epilogue(epilogue, value, 0, j);
        }
        return 0;
    }
    /* B is k × n: rows of B scaled and summed into a buffer. */
    float *sum = ckiln_scratch(1, sizeof(float) * (size_t)n);
    if (!sum) return -1;
    memset(sum, 0, sizeof(float) * (size_t)n);
    for (ptrdiff_t p = 0; p < k; p++)
        axpy(x[p], b + p * ldb, sum, n);
    for (ptrdiff_t j = 0; j < n; j++) {
        float value = alpha * sum[j];
        if (beta != 0) value += beta * c[j];
        c[j] = ckiln_apply_epilogue(epilogue, value, 0, j);
    }
    return 0;
}

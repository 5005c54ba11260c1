/* Vectorized float transcendentals for the elementwise kernels: exp, sigmoid, SiLU, tanh
 * and GELU (erf form), AVX2 + FMA on 8 lanes and AVX-512 on 16 (the same operations, so the
 * same bits); the portable path calls libm per element.
 *
 * exp: x = n·ln2 + r with |r| ≤ ln2/2 (Cody–Waite, ln2 split in two), e^r by a degree-7
 * polynomial (the Taylor coefficients through r⁷, whose truncation error is below the float
 * rounding on that interval), scaled by 2^n in two steps so that results that underflow to
 * subnormals or overflow to infinity come out as IEEE expf does (within a few ulp).
 * tanh: odd polynomial below |x| = 0.625 (no cancellation near 0), 1 − 2/(e^{2|x|} + 1)
 * above, sign restored. erf (inside GELU only): Abramowitz & Stegun 7.1.26, absolute error
 * below 1.5e-7, which is what 1 + erf needs. */
#include <math.h>

#include "internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static inline __m256 exp8(__m256 x) {
    /* x as the second operand: min/max return it when it is NaN, which then propagates. */
    x = _mm256_min_ps(_mm256_set1_ps(89.0f), _mm256_max_ps(_mm256_set1_ps(-104.0f), x));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    /* 2^n as 2^h · 2^(n−h), h = n/2: each factor's exponent stays in range. */
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i h = _mm256_srai_epi32(ni, 1);
    __m256i bias = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h, bias), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, h), bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

AVX2 static inline __m256 sigmoid8(__m256 x) {
    __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

AVX2 static inline __m256 tanh8(__m256 x) {
    __m256 sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0f));
    __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
    /* Small: a + a³·P(a²). */
    __m256 z = _mm256_mul_ps(a, a);
    __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.06390887954e-2f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531e-2f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036e-1f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422e-1f));
    __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), a, a);
    /* Large: 1 − 2/(e^{2a} + 1). */
    __m256 one = _mm256_set1_ps(1.0f);
    __m256 e = exp8(_mm256_add_ps(a, a));
    __m256 large = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
    __m256 result = _mm256_blendv_ps(large, small, _mm256_cmp_ps(a, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
    return _mm256_or_ps(result, sign);
}

AVX2 static inline __m256 gelu8(__m256 x) {
    __m256 u = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f));
    __m256 sign = _mm256_and_ps(u, _mm256_set1_ps(-0.0f));
    __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), u);
    __m256 one = _mm256_set1_ps(1.0f);
    __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(a, _mm256_set1_ps(0.3275911f), one));
    __m256 p = _mm256_set1_ps(1.061405429f);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
    p = _mm256_mul_ps(p, t);
    __m256 erf = _mm256_fnmadd_ps(p, exp8(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(a, a))), one);
    erf = _mm256_or_ps(erf, sign);
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), _mm256_add_ps(one, erf));
}

/* y[i] = f(x[i]) over n elements; the tail goes through a zero-padded vector. */
#define VECTOR_MAP(name, f)                                                                    \
    AVX2 static void name##_avx2(const float *x, float *y, ptrdiff_t n) {                      \
        ptrdiff_t i = 0;                                                                       \
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, f(_mm256_loadu_ps(x + i)));         \
        if (i < n) {                                                                           \
            float buffer[8] = {0};                                                             \
            for (ptrdiff_t j = 0; j < n - i; j++) buffer[j] = x[i + j];                        \
            _mm256_storeu_ps(buffer, f(_mm256_loadu_ps(buffer)));                              \
            for (ptrdiff_t j = 0; j < n - i; j++) y[i + j] = buffer[j];                        \
        }                                                                                      \
    }

AVX2 static inline __m256 silu8(__m256 x) { return _mm256_mul_ps(x, sigmoid8(x)); }

VECTOR_MAP(exp, exp8)
VECTOR_MAP(sigmoid, sigmoid8)
VECTOR_MAP(silu, silu8)
VECTOR_MAP(tanh, tanh8)
VECTOR_MAP(gelu, gelu8)

/* The same functions on 16 lanes (vmath_avx512.h). */
#define AVX512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl")))
#include "vmath_avx512.h"

/* y[i] = f(x[i]) over n elements; the tail through masked loads and stores. */
#define VECTOR_MAP16(name, f)                                                                  \
    AVX512 static void name##_avx512(const float *x, float *y, ptrdiff_t n) {                  \
        ptrdiff_t i = 0;                                                                       \
        for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, f(_mm512_loadu_ps(x + i)));       \
        if (i < n) {                                                                           \
            __mmask16 tail = (__mmask16)((1u << (n - i)) - 1);                                 \
            _mm512_mask_storeu_ps(y + i, tail, f(_mm512_maskz_loadu_ps(tail, x + i)));         \
        }                                                                                      \
    }

VECTOR_MAP16(exp, exp16)
VECTOR_MAP16(sigmoid, sigmoid16)
VECTOR_MAP16(silu, silu16)
VECTOR_MAP16(tanh, tanh16)
VECTOR_MAP16(gelu, gelu16)
#endif

#if defined(__x86_64__) || defined(__i386__)
/* min(max(alpha·x + beta, 0), 1), times x for hard swish. The operand order of min/max makes
 * NaN come out as the portable path's: min(v, 1) is 1 for a NaN v. */
AVX2 static void hard_sigmoid_avx2(float alpha, float beta, int times_x, const float *x, float *y, ptrdiff_t n) {
    __m256 a = _mm256_set1_ps(alpha), b = _mm256_set1_ps(beta), zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1);
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 g = _mm256_max_ps(_mm256_min_ps(_mm256_fmadd_ps(a, v, b), one), zero);
        _mm256_storeu_ps(y + i, times_x ? _mm256_mul_ps(v, g) : g);
    }
    for (; i < n; i++) {
        float v = x[i], u = alpha * v + beta;
        float g = u < 1 ? u : 1;
        g = g >= 0 ? g : 0;
        y[i] = times_x ? v * g : g;
    }
}
#endif

void ckiln_hard_sigmoid(int isa, float alpha, float beta, int times_x, const float *x, float *y, ptrdiff_t n) {
#if defined(__x86_64__) || defined(__i386__)
    if (ckiln_clamp_isa(isa) >= CKILN_ISA_AVX2) {
        hard_sigmoid_avx2(alpha, beta, times_x, x, y, n);
        return;
    }
#endif
    for (ptrdiff_t i = 0; i < n; i++) {
        float v = x[i], u = alpha * v + beta;
        float g = u < 1 ? u : 1;
        g = g >= 0 ? g : 0;
        y[i] = times_x ? v * g : g;
    }
}

static float sigmoid1(float x) { return x >= 0 ? 1 / (1 + expf(-x)) : expf(x) / (1 + expf(x)); }

void ckiln_vector_math(int isa, int function, const float *x, float *y, ptrdiff_t n) {
#if defined(__x86_64__) || defined(__i386__)
    if (ckiln_clamp_isa(isa) >= CKILN_ISA_AVX512) {
        switch (function) {
        case CKILN_EXP: exp_avx512(x, y, n); return;
        case CKILN_SIGMOID: sigmoid_avx512(x, y, n); return;
        case CKILN_SILU: silu_avx512(x, y, n); return;
        case CKILN_TANH: tanh_avx512(x, y, n); return;
        case CKILN_GELU: gelu_avx512(x, y, n); return;
        }
    }
    if (ckiln_clamp_isa(isa) >= CKILN_ISA_AVX2) {
        switch (function) {
        case CKILN_EXP: exp_avx2(x, y, n); return;
        case CKILN_SIGMOID: sigmoid_avx2(x, y, n); return;
        case CKILN_SILU: silu_avx2(x, y, n); return;
        case CKILN_TANH: tanh_avx2(x, y, n); return;
        case CKILN_GELU: gelu_avx2(x, y, n); return;
        }
    }
#endif
    for (ptrdiff_t i = 0; i < n; i++) {
        float v = x[i];
        switch (function) {
        case CKILN_EXP: y[i] = expf(v); break;
        case CKILN_SIGMOID: y[i] = sigmoid1(v); break;
        case CKILN_SILU: y[i] = v * sigmoid1(v); break;
        case CKILN_TANH: y[i] = tanhf(v); break;
        default: y[i] = 0.5f * v * (1 + erff(v * 0.70710678118654752f)); break;
        }
    }
}

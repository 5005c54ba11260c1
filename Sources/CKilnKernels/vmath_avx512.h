/* vmath.c's exp, sigmoid, SiLU, tanh and GELU on 16 lanes (AVX-512), for the kernels that
 * apply them in registers (vmath.c's maps, the LSTM/GRU gates). Every operation, and so every
 * result bit, is the AVX2 version's in vmath.c, lane for lane; see there for the method.
 * x86 only; include after <immintrin.h>. */
#ifndef CKILN_VMATH_AVX512_H
#define CKILN_VMATH_AVX512_H

#define CKILN_VMATH512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl")))

CKILN_VMATH512 static inline __m512 exp16(__m512 x) {
    x = _mm512_min_ps(_mm512_set1_ps(89.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), x));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    __m512i ni = _mm512_cvtps_epi32(n);
    __m512i h = _mm512_srai_epi32(ni, 1);
    __m512i bias = _mm512_set1_epi32(127);
    __m512 s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(h, bias), 23));
    __m512 s2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_sub_epi32(ni, h), bias), 23));
    return _mm512_mul_ps(_mm512_mul_ps(p, s1), s2);
}

CKILN_VMATH512 static inline __m512 sigmoid16(__m512 x) {
    __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(one, _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

CKILN_VMATH512 static inline __m512 silu16(__m512 x) { return _mm512_mul_ps(x, sigmoid16(x)); }

CKILN_VMATH512 static inline __m512 tanh16(__m512 x) {
    __m512 sign = _mm512_and_ps(x, _mm512_set1_ps(-0.0f));
    __m512 a = _mm512_andnot_ps(_mm512_set1_ps(-0.0f), x);
    __m512 z = _mm512_mul_ps(a, a);
    __m512 p = _mm512_set1_ps(-5.70498872745e-3f);
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(2.06390887954e-2f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-5.37397155531e-2f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(1.33314422036e-1f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-3.33332819422e-1f));
    __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, z), a, a);
    __m512 one = _mm512_set1_ps(1.0f);
    __m512 e = exp16(_mm512_add_ps(a, a));
    __m512 large = _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one)));
    __m512 result = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, _mm512_set1_ps(0.625f), _CMP_LT_OQ), large, small);
    return _mm512_or_ps(result, sign);
}

CKILN_VMATH512 static inline __m512 gelu16(__m512 x) {
    __m512 u = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
    __m512 sign = _mm512_and_ps(u, _mm512_set1_ps(-0.0f));
    __m512 a = _mm512_andnot_ps(_mm512_set1_ps(-0.0f), u);
    __m512 one = _mm512_set1_ps(1.0f);
    __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(a, _mm512_set1_ps(0.3275911f), one));
    __m512 p = _mm512_set1_ps(1.061405429f);
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
    p = _mm512_mul_ps(p, t);
    __m512 erf = _mm512_fnmadd_ps(p, exp16(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(a, a))), one);
    erf = _mm512_or_ps(erf, sign);
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(one, erf));
}

#endif

/* Depthwise 2-D convolution, one plane at a time, with fused bias and clamp. */
#include "internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

static ptrdiff_t max_pd(ptrdiff_t x, ptrdiff_t y) { return x > y ? x : y; }
static ptrdiff_t min_pd(ptrdiff_t x, ptrdiff_t y) { return x < y ? x : y; }

/* out[ow] += tap · line[ow · stride_w] for ow in [low, high). */
static void row_portable(const float *line, float *out, ptrdiff_t low, ptrdiff_t high,
                         ptrdiff_t stride_w, float tap) {
    if (stride_w == 1) {
        for (ptrdiff_t ow = low; ow < high; ow++) out[ow] = tap * line[ow] + out[ow];
    } else {
        for (ptrdiff_t ow = low; ow < high; ow++) out[ow] = tap * line[ow * stride_w] + out[ow];
    }
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2,fma"))) static void row_avx2(const float *line, float *out, ptrdiff_t low,
                                                          ptrdiff_t high, ptrdiff_t stride_w, float tap) {
    __m256 t = _mm256_set1_ps(tap);
    ptrdiff_t ow = low;
    if (stride_w == 1) {
        for (; ow + 8 <= high; ow += 8)
            _mm256_storeu_ps(out + ow, _mm256_fmadd_ps(t, _mm256_loadu_ps(line + ow), _mm256_loadu_ps(out + ow)));
    } else if (stride_w == 2) {
        /* The even lanes of 16 consecutive inputs; line[2·ow + 15] stays in bounds while ow + 8 < high. */
        for (; ow + 8 < high; ow += 8) {
            __m256 lo = _mm256_loadu_ps(line + 2 * ow), hi = _mm256_loadu_ps(line + 2 * ow + 8);
            __m256 even = _mm256_shuffle_ps(lo, hi, 0x88);
            even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(even), 0xD8));
            _mm256_storeu_ps(out + ow, _mm256_fmadd_ps(t, even, _mm256_loadu_ps(out + ow)));
        }
    }
    for (; ow < high; ow++) out[ow] = __builtin_fmaf(tap, line[ow * stride_w], out[ow]);
}

__attribute__((target("avx2,fma"))) static void clamp_avx2(float *out, ptrdiff_t count, float lower, float upper) {
    __m256 lo = _mm256_set1_ps(lower), hi = _mm256_set1_ps(upper);
    ptrdiff_t i = 0;
    for (; i + 8 <= count; i += 8)
        _mm256_storeu_ps(out + i, _mm256_min_ps(hi, _mm256_max_ps(lo, _mm256_loadu_ps(out + i))));
    for (; i < count; i++) {
        float x = out[i];
        x = x < lower ? lower : x;
        out[i] = x > upper ? upper : x;
    }
}
#endif

static void clamp_portable(float *out, ptrdiff_t count, float lower, float upper) {
    for (ptrdiff_t i = 0; i < count; i++) {
        float x = out[i];
        x = x < lower ? lower : x;
        out[i] = x > upper ? upper : x;
    }
}

void ckiln_depthwise_plane(int isa, const float *in, ptrdiff_t in_h, ptrdiff_t in_w, const float *w,
                           ptrdiff_t k_h, ptrdiff_t k_w, ptrdiff_t stride_h, ptrdiff_t stride_w,
                           ptrdiff_t dilation_h, ptrdiff_t dilation_w, ptrdiff_t pad_h, ptrdiff_t pad_w,
                           float bias, float lower, float upper, float *out, ptrdiff_t out_h,
                           ptrdiff_t out_w) {
    void (*row)(const float *, float *, ptrdiff_t, ptrdiff_t, ptrdiff_t, float) = row_portable;
    void (*clamp)(float *, ptrdiff_t, float, float) = clamp_portable;
#if defined(__x86_64__) || defined(__i386__)
    if (ckiln_clamp_isa(isa) >= CKILN_ISA_AVX2) {
        row = row_avx2;
        clamp = clamp_avx2;
    }
#endif
    int clamps = !(lower == -__builtin_inff() && upper == __builtin_inff());
    for (ptrdiff_t oh = 0; oh < out_h; oh++) {
        float *target = out + oh * out_w;
        for (ptrdiff_t ow = 0; ow < out_w; ow++) target[ow] = bias;
        for (ptrdiff_t kh = 0; kh < k_h; kh++) {
            ptrdiff_t ih = oh * stride_h + kh * dilation_h - pad_h;
            if (ih < 0 || ih >= in_h) continue;
            for (ptrdiff_t kw = 0; kw < k_w; kw++) {
                ptrdiff_t offset = kw * dilation_w - pad_w;
                /* Output columns whose input column is inside the row: [low, high). */
                ptrdiff_t low = min_pd(out_w, offset >= 0 ? 0 : (-offset + stride_w - 1) / stride_w);
                ptrdiff_t high = max_pd(low, min_pd(out_w, in_w - offset > 0 ? (in_w - offset + stride_w - 1) / stride_w : 0));
                row(in + ih * in_w + offset, target, low, high, stride_w, w[kh * k_w + kw]);
            }
        }
        if (clamps) clamp(target, out_w, lower, upper);
    }
}

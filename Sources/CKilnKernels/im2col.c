/* im2col for 2-D convolutions: the column matrix GEMM multiplies the weights with. */
#include <string.h>

#include "internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/* out[ow] = line[2·ow] for ow in [low, high); line[2·ow + 15] stays in bounds while ow + 8 < high. */
__attribute__((target("avx2,fma"))) static ptrdiff_t copy_stride2_avx2(const float *line, float *out,
                                                                       ptrdiff_t low, ptrdiff_t high) {
    ptrdiff_t ow = low;
    for (; ow + 8 < high; ow += 8) {
        __m256 lo = _mm256_loadu_ps(line + 2 * ow), hi = _mm256_loadu_ps(line + 2 * ow + 8);
        __m256 even = _mm256_shuffle_ps(lo, hi, 0x88);
        _mm256_storeu_ps(out + ow, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(even), 0xD8)));
    }
    return ow;
}
#endif

static ptrdiff_t max_pd(ptrdiff_t x, ptrdiff_t y) { return x > y ? x : y; }
static ptrdiff_t min_pd(ptrdiff_t x, ptrdiff_t y) { return x < y ? x : y; }

/* Row `row` (channel, kh, kw) of one image's column matrix into out[0 ..< out_h·out_w]. */
static void im2col_row(int avx2, const float *in, ptrdiff_t in_h, ptrdiff_t in_w, ptrdiff_t k_h, ptrdiff_t k_w,
                       ptrdiff_t stride_h, ptrdiff_t stride_w, ptrdiff_t dilation_h, ptrdiff_t dilation_w,
                       ptrdiff_t pad_h, ptrdiff_t pad_w, ptrdiff_t out_h, ptrdiff_t out_w, ptrdiff_t row, float *out) {
    ptrdiff_t kw = row % k_w;
    ptrdiff_t kh = (row / k_w) % k_h;
    ptrdiff_t channel = row / (k_w * k_h);
    const float *plane = in + channel * in_h * in_w;
    ptrdiff_t offset = kw * dilation_w - pad_w;
    ptrdiff_t low = min_pd(out_w, offset >= 0 ? 0 : (-offset + stride_w - 1) / stride_w);
    ptrdiff_t high = max_pd(low, min_pd(out_w, in_w - offset > 0 ? (in_w - offset + stride_w - 1) / stride_w : 0));
    for (ptrdiff_t oh = 0; oh < out_h; oh++, out += out_w) {
        ptrdiff_t ih = oh * stride_h + kh * dilation_h - pad_h;
        if (ih < 0 || ih >= in_h) {
            memset(out, 0, sizeof(float) * (size_t)out_w);
            continue;
        }
        const float *line = plane + ih * in_w + offset;
        for (ptrdiff_t ow = 0; ow < low; ow++) out[ow] = 0;
        if (stride_w == 1) {
            memcpy(out + low, line + low, sizeof(float) * (size_t)(high - low));
        } else {
            ptrdiff_t ow = low;
#if defined(__x86_64__) || defined(__i386__)
            if (avx2 && stride_w == 2) ow = copy_stride2_avx2(line, out, low, high);
#else
            (void)avx2;
#endif
            for (; ow < high; ow++) out[ow] = line[ow * stride_w];
        }
        for (ptrdiff_t ow = high; ow < out_w; ow++) out[ow] = 0;
    }
}

void ckiln_im2col(int isa, const float *in, ptrdiff_t channels, ptrdiff_t in_h, ptrdiff_t in_w, ptrdiff_t k_h,
                  ptrdiff_t k_w, ptrdiff_t stride_h, ptrdiff_t stride_w, ptrdiff_t dilation_h,
                  ptrdiff_t dilation_w, ptrdiff_t pad_h, ptrdiff_t pad_w, ptrdiff_t out_h, ptrdiff_t out_w,
                  ptrdiff_t row_begin, ptrdiff_t row_end, float *columns) {
    int avx2 = ckiln_clamp_isa(isa) >= CKILN_ISA_AVX2;
    ptrdiff_t rows = channels * k_h * k_w;
    for (ptrdiff_t row = row_begin; row < row_end && row < rows; row++)
        im2col_row(avx2, in, in_h, in_w, k_h, k_w, stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w, out_h,
                   out_w, row, columns + row * out_h * out_w);
}

int ckiln_im2col_packed(int isa, const float *in, ptrdiff_t channels, ptrdiff_t in_h, ptrdiff_t in_w,
                        ptrdiff_t k_h, ptrdiff_t k_w, ptrdiff_t stride_h, ptrdiff_t stride_w,
                        ptrdiff_t dilation_h, ptrdiff_t dilation_w, ptrdiff_t pad_h, ptrdiff_t pad_w,
                        ptrdiff_t out_h, ptrdiff_t out_w, ptrdiff_t row_begin, ptrdiff_t row_end, float *packed) {
    int avx2 = ckiln_clamp_isa(isa) >= CKILN_ISA_AVX2;
    enum { NR = CKILN_SGEMM_NR, KC = CKILN_SGEMM_KC };
    ptrdiff_t rows = channels * k_h * k_w;
    ptrdiff_t pixels = out_h * out_w;
    ptrdiff_t padded = (pixels + NR - 1) / NR * NR;
    /* One row at a time through an L1-sized buffer (zero beyond the last pixel), then
     * scattered to its place in each NR-column panel of its KC slice. */
    float *line = ckiln_scratch(3, sizeof(float) * (size_t)padded);
    if (!line) return -1;
    for (ptrdiff_t p = pixels; p < padded; p++) line[p] = 0;
    for (ptrdiff_t row = row_begin; row < row_end && row < rows; row++) {
        im2col_row(avx2, in, in_h, in_w, k_h, k_w, stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w, out_h,
                   out_w, row, line);
        ptrdiff_t slice = row / KC * KC;
        ptrdiff_t depths = min_pd(KC, rows - slice);
        float *target = packed + slice * padded + (row - slice) * NR;
        for (ptrdiff_t panel = 0; panel < padded; panel += NR, target += depths * NR)
            memcpy(target, line + panel, sizeof(float) * NR);
    }
    return 0;
}

/* 2-D max pooling of one plane, vectorized along output rows. */
#include "internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

static ptrdiff_t max_pd(ptrdiff_t x, ptrdiff_t y) { return x > y ? x : y; }
static ptrdiff_t min_pd(ptrdiff_t x, ptrdiff_t y) { return x < y ? x : y; }

/* out[ow] = line[ow·sw] if it is greater, for ow in [low, high). */
static void row_portable(const float *line, float *out, ptrdiff_t low, ptrdiff_t high, ptrdiff_t stride_w) {
    for (ptrdiff_t ow = low; ow < high; ow++) {
        float x = line[ow * stride_w];
        if (x > out[ow]) out[ow] = x;
    }
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2,fma"))) static void row_avx2(const float *line, float *out, ptrdiff_t low,
                                                          ptrdiff_t high, ptrdiff_t stride_w) {
    ptrdiff_t ow = low;
    if (stride_w == 1) {
        for (; ow + 8 <= high; ow += 8) {
            __m256 x = _mm256_loadu_ps(line + ow), y = _mm256_loadu_ps(out + ow);
            _mm256_storeu_ps(out + ow, _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, y, _CMP_GT_OQ)));
        }
    } else if (stride_w == 2) {
        for (; ow + 8 < high; ow += 8) {
            __m256 lo = _mm256_loadu_ps(line + 2 * ow), hi = _mm256_loadu_ps(line + 2 * ow + 8);
            __m256 x = _mm256_shuffle_ps(lo, hi, 0x88);
            x = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(x), 0xD8));
            __m256 y = _mm256_loadu_ps(out + ow);
            _mm256_storeu_ps(out + ow, _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, y, _CMP_GT_OQ)));
        }
    }
    row_portable(line, out, ow, high, stride_w);
}
#endif

void ckiln_maxpool_plane(int isa, const float *in, ptrdiff_t in_h, ptrdiff_t in_w, ptrdiff_t k_h,
                         ptrdiff_t k_w, ptrdiff_t stride_h, ptrdiff_t stride_w, ptrdiff_t dilation_h,
                         ptrdiff_t dilation_w, ptrdiff_t pad_h, ptrdiff_t pad_w, float *out,
                         ptrdiff_t out_h, ptrdiff_t out_w) {
    void (*row)(const float *, float *, ptrdiff_t, ptrdiff_t, ptrdiff_t) = row_portable;
#if defined(__x86_64__) || defined(__i386__)
    if (ckiln_clamp_isa(isa) >= CKILN_ISA_AVX2) row = row_avx2;
#endif
    for (ptrdiff_t oh = 0; oh < out_h; oh++) {
        float *target = out + oh * out_w;
        ptrdiff_t first_h = -1;
        for (ptrdiff_t kh = 0; kh < k_h && first_h < 0; kh++) {
            ptrdiff_t ih = oh * stride_h + kh * dilation_h - pad_h;
            if (ih >= 0 && ih < in_h) first_h = ih;
        }
        /* Each output starts at its first in-bounds tap (0 for an empty window), so the
         * result is that of a scan in tap order keeping strictly greater values. */
        for (ptrdiff_t ow = 0; ow < out_w; ow++) {
            float start = 0;
            if (first_h >= 0) {
                for (ptrdiff_t kw = 0; kw < k_w; kw++) {
                    ptrdiff_t iw = ow * stride_w + kw * dilation_w - pad_w;
                    if (iw >= 0 && iw < in_w) {
                        start = in[first_h * in_w + iw];
                        break;
                    }
                }
            }
            target[ow] = start;
        }
        if (first_h < 0) continue;
        for (ptrdiff_t kh = 0; kh < k_h; kh++) {
            ptrdiff_t ih = oh * stride_h + kh * dilation_h - pad_h;
            if (ih < 0 || ih >= in_h) continue;
            for (ptrdiff_t kw = 0; kw < k_w; kw++) {
                ptrdiff_t offset = kw * dilation_w - pad_w;
                ptrdiff_t low = min_pd(out_w, offset >= 0 ? 0 : (-offset + stride_w - 1) / stride_w);
                ptrdiff_t high = max_pd(low, min_pd(out_w, in_w - offset > 0 ? (in_w - offset + stride_w - 1) / stride_w : 0));
                row(in + ih * in_w + offset, target, low, high, stride_w);
            }
        }
    }
}

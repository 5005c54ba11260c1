/* im2col for 2-D convolutions: the column matrix GEMM multiplies the weights with. */
#include <stdint.h>
#include <string.h>

#include "internal.h"

static ptrdiff_t max_pd(ptrdiff_t x, ptrdiff_t y) { return x > y ? x : y; }
static ptrdiff_t min_pd(ptrdiff_t x, ptrdiff_t y) { return x < y ? x : y; }

#if defined(__x86_64__) || defined(__i386__)
/* One column-matrix row for stride_w 1 or 2 in vectors of 16 outputs: masked loads read
 * only the input columns inside the row (the rest are the padding's zeros), stride 2 gathers
 * even lanes with a permute. */
__attribute__((target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl"))) static void im2col_row_avx512(
    const float *plane, ptrdiff_t in_h, ptrdiff_t in_w, ptrdiff_t kh, ptrdiff_t stride_h, ptrdiff_t stride_w,
    ptrdiff_t dilation_h, ptrdiff_t pad_h, ptrdiff_t offset, ptrdiff_t low, ptrdiff_t high, ptrdiff_t out_h,
    ptrdiff_t out_w, float *out) {
    const __m512i evens = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    for (ptrdiff_t oh = 0; oh < out_h; oh++, out += out_w) {
        ptrdiff_t ih = oh * stride_h + kh * dilation_h - pad_h;
        int inside = ih >= 0 && ih < in_h;
        const float *line = plane + (inside ? ih : 0) * in_w + offset;
        for (ptrdiff_t ow0 = 0; ow0 < out_w; ow0 += 16) {
            __mmask16 store = (__mmask16)ckiln_lane_range(0, out_w - ow0, 16);
            __m512 x = _mm512_setzero_ps();
            if (inside && stride_w == 1) {
                x = _mm512_maskz_loadu_ps((__mmask16)ckiln_lane_range(low - ow0, high - ow0, 16), line + ow0);
            } else if (inside) {
                /* Inputs 2·ow0 + j for j < 32; output lane i is input j = 2·i. */
                uint32_t valid = ckiln_lane_range(2 * (low - ow0), 2 * (high - 1 - ow0) + 1, 32);
                __m512 a = _mm512_maskz_loadu_ps((__mmask16)(valid & 0xFFFF), line + 2 * ow0);
                __m512 b = _mm512_maskz_loadu_ps((__mmask16)(valid >> 16), line + 2 * ow0 + 16);
                x = _mm512_permutex2var_ps(a, evens, b);
            }
            _mm512_mask_storeu_ps(out + ow0, store, x);
        }
    }
}
#endif

/* Row `row` (channel, kh, kw) of one image's column matrix into out[0 ..< out_h·out_w].
 * Always inlined, so the copy loops take the vector width of the function it is inlined in. */
__attribute__((always_inline)) static inline void im2col_row(int level, const float *in, ptrdiff_t in_h, ptrdiff_t in_w, ptrdiff_t k_h, ptrdiff_t k_w,
                       ptrdiff_t stride_h, ptrdiff_t stride_w, ptrdiff_t dilation_h, ptrdiff_t dilation_w,
                       ptrdiff_t pad_h, ptrdiff_t pad_w, ptrdiff_t out_h, ptrdiff_t out_w, ptrdiff_t row, float *out) {
    ptrdiff_t kw = row % k_w;
    ptrdiff_t kh = (row / k_w) % k_h;
    ptrdiff_t channel = row / (k_w * k_h);
    const float *plane = in + channel * in_h * in_w;
    ptrdiff_t offset = kw * dilation_w - pad_w;
    ptrdiff_t low = min_pd(out_w, offset >= 0 ? 0 : (-offset + stride_w - 1) / stride_w);
    ptrdiff_t high = max_pd(low, min_pd(out_w, in_w - offset > 0 ? (in_w - offset + stride_w - 1) / stride_w : 0));
#if defined(__x86_64__) || defined(__i386__)
    if (level >= CKILN_ISA_AVX512 && stride_w <= 2 && !(stride_w == 1 && stride_h == 1 && in_w == out_w)) {
        im2col_row_avx512(plane, in_h, in_w, kh, stride_h, stride_w, dilation_h, pad_h, offset, low, high, out_h, out_w,
                          out);
        return;
    }
#endif
    if (stride_w == 1 && stride_h == 1 && in_w == out_w && low < high) {
        /* Same-size stride-1 rows: the valid output rows [first, last) are one contiguous
         * run of the input (from (first, low) to (last − 1, high)), copied at once; the
         * columns that wrapped around into the padding and the rows outside are then zeroed. */
        ptrdiff_t first = min_pd(out_h, max_pd(0, pad_h - kh * dilation_h));
        ptrdiff_t last = max_pd(first, min_pd(out_h, in_h + pad_h - kh * dilation_h));
        for (ptrdiff_t i = 0; i < first * out_w; i++) out[i] = 0;
        if (first < last) {
            const float *source = plane + (first + kh * dilation_h - pad_h) * in_w + offset;
            ptrdiff_t begin = first * out_w + low, end = (last - 1) * out_w + high;
            for (ptrdiff_t i = begin; i < end; i++) out[i] = source[i - first * out_w];
            for (ptrdiff_t oh = first; oh < last; oh++) {
                for (ptrdiff_t ow = 0; ow < low; ow++) out[oh * out_w + ow] = 0;
                for (ptrdiff_t ow = high; ow < out_w; ow++) out[oh * out_w + ow] = 0;
            }
        }
        for (ptrdiff_t i = last * out_w; i < out_h * out_w; i++) out[i] = 0;
        return;
    }
    for (ptrdiff_t oh = 0; oh < out_h; oh++, out += out_w) {
        ptrdiff_t ih = oh * stride_h + kh * dilation_h - pad_h;
        /* Plain loops, not memcpy/memset: rows are short (tens of floats) and a library call
         * per row costs more than the copy. */
        if (ih < 0 || ih >= in_h) {
            for (ptrdiff_t ow = 0; ow < out_w; ow++) out[ow] = 0;
            continue;
        }
        const float *line = plane + ih * in_w + offset;
        for (ptrdiff_t ow = 0; ow < low; ow++) out[ow] = 0;
        if (stride_w == 1) {
            for (ptrdiff_t ow = low; ow < high; ow++) out[ow] = line[ow];
        } else {
            ptrdiff_t ow = low;
#if defined(__x86_64__) || defined(__i386__)
            if (level >= CKILN_ISA_AVX2 && stride_w == 2) ow += ckiln_every_other_avx2(line + 2 * low, out + low, high - low);
#else
            (void)level;
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
    int level = ckiln_clamp_isa(isa);
    ptrdiff_t rows = channels * k_h * k_w;
    for (ptrdiff_t row = row_begin; row < row_end && row < rows; row++)
        im2col_row(level, in, in_h, in_w, k_h, k_w, stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w, out_h,
                   out_w, row, columns + row * out_h * out_w);
}

__attribute__((always_inline)) static inline int im2col_packed(int level, const float *in, ptrdiff_t channels, ptrdiff_t in_h, ptrdiff_t in_w,
                        ptrdiff_t k_h, ptrdiff_t k_w, ptrdiff_t stride_h, ptrdiff_t stride_w,
                        ptrdiff_t dilation_h, ptrdiff_t dilation_w, ptrdiff_t pad_h, ptrdiff_t pad_w,
                        ptrdiff_t out_h, ptrdiff_t out_w, ptrdiff_t row_begin, ptrdiff_t row_end, float *packed) {
    enum { NR = CKILN_SGEMM_NR, KC = CKILN_SGEMM_KC };
    ptrdiff_t rows = channels * k_h * k_w;
    ptrdiff_t pixels = out_h * out_w;
    ptrdiff_t padded = (pixels + NR - 1) / NR * NR;
    /* Rows in groups of up to GROUP (within one KC slice) through a buffer zeroed beyond the
     * last pixel, then written panel by panel: each panel receives GROUP·NR contiguous
     * floats. (Row by row, consecutive 64-byte stores would land KC·NR floats apart, on one
     * cache set.) */
    enum { GROUP = 8 };
    float *lines = ckiln_scratch(3, sizeof(float) * (size_t)(GROUP * padded));
    if (!lines) return -1;
    for (ptrdiff_t g = 0; g < GROUP; g++)
        for (ptrdiff_t p = pixels; p < padded; p++) lines[g * padded + p] = 0;
    if (row_end > rows) row_end = rows;
    for (ptrdiff_t row = row_begin; row < row_end;) {
        ptrdiff_t slice = row / KC * KC;
        ptrdiff_t depths = min_pd(KC, rows - slice);
        ptrdiff_t count = min_pd(GROUP, min_pd(row_end, slice + depths) - row);
        for (ptrdiff_t g = 0; g < count; g++)
            im2col_row(level, in, in_h, in_w, k_h, k_w, stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w,
                       out_h, out_w, row + g, lines + g * padded);
        float *target = packed + slice * padded + (row - slice) * NR;
        for (ptrdiff_t panel = 0; panel < padded; panel += NR, target += depths * NR)
            for (ptrdiff_t g = 0; g < count; g++) memcpy(target + g * NR, lines + g * padded + panel, sizeof(float) * NR);
        row += count;
    }
    return 0;
}

#if defined(__x86_64__) || defined(__i386__)
/* The same with 256-bit copies (the row copies and panel writes are most of its time). */
__attribute__((target("avx2,fma"))) static int im2col_packed_avx2(
    int level, const float *in, ptrdiff_t channels, ptrdiff_t in_h, ptrdiff_t in_w, ptrdiff_t k_h, ptrdiff_t k_w,
    ptrdiff_t stride_h, ptrdiff_t stride_w, ptrdiff_t dilation_h, ptrdiff_t dilation_w, ptrdiff_t pad_h,
    ptrdiff_t pad_w, ptrdiff_t out_h, ptrdiff_t out_w, ptrdiff_t row_begin, ptrdiff_t row_end, float *packed) {
    return im2col_packed(level, in, channels, in_h, in_w, k_h, k_w, stride_h, stride_w, dilation_h, dilation_w, pad_h,
                         pad_w, out_h, out_w, row_begin, row_end, packed);
}
#endif

int ckiln_im2col_packed(int isa, const float *in, ptrdiff_t channels, ptrdiff_t in_h, ptrdiff_t in_w,
                        ptrdiff_t k_h, ptrdiff_t k_w, ptrdiff_t stride_h, ptrdiff_t stride_w,
                        ptrdiff_t dilation_h, ptrdiff_t dilation_w, ptrdiff_t pad_h, ptrdiff_t pad_w,
                        ptrdiff_t out_h, ptrdiff_t out_w, ptrdiff_t row_begin, ptrdiff_t row_end, float *packed) {
#if defined(__x86_64__) || defined(__i386__)
    if (ckiln_clamp_isa(isa) >= CKILN_ISA_AVX2)
        return im2col_packed_avx2(ckiln_clamp_isa(isa), in, channels, in_h, in_w, k_h, k_w, stride_h, stride_w, dilation_h, dilation_w,
                                  pad_h, pad_w, out_h, out_w, row_begin, row_end, packed);
#endif
    return im2col_packed(CKILN_ISA_PORTABLE, in, channels, in_h, in_w, k_h, k_w, stride_h, stride_w, dilation_h, dilation_w, pad_h,
                         pad_w, out_h, out_w, row_begin, row_end, packed);
}

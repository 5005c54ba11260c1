/* The DPU emulator's int8 NHWC kernels around the exact GEMM: im2col of a feature map,
 * depthwise sums, the requantizing output stage and the element-wise add. All integer, so
 * every path is exact and equal to every other; the AVX2 and AVX-512 variants are the same
 * C bodies compiled for those instruction sets (the compiler vectorizes the channel loops),
 * plus masked 64-byte copies in im2col on AVX-512. */
#include <string.h>

#include "internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CKILN_X86 1
#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl")))
#else
#define CKILN_X86 0
#endif

#define INLINE static inline __attribute__((always_inline))

static ptrdiff_t max_pd(ptrdiff_t x, ptrdiff_t y) { return x > y ? x : y; }
static ptrdiff_t min_pd(ptrdiff_t x, ptrdiff_t y) { return x < y ? x : y; }

/* The input row of tap row ky for output row oy, or -1 (padding, or between upsampled rows). */
INLINE ptrdiff_t input_row(const ckiln_window *w, ptrdiff_t oy, ptrdiff_t ky) {
    ptrdiff_t v = oy * w->stride_h + ky * w->dilation_h - w->pad_h;
    if (v < 0 || v % w->up_h != 0) return -1;
    v /= w->up_h;
    return v < w->in_h ? v : -1;
}

/* The same for columns. */
INLINE ptrdiff_t input_column(const ckiln_window *w, ptrdiff_t ox, ptrdiff_t kx) {
    ptrdiff_t v = ox * w->stride_w + kx * w->dilation_w - w->pad_w;
    if (v < 0 || v % w->up_w != 0) return -1;
    v /= w->up_w;
    return v < w->in_w ? v : -1;
}

#if CKILN_X86
/* memcpy for the short runs of im2col (a few to a few hundred bytes): masked 64-byte moves
 * instead of a library call each. */
AVX512 static void copy_avx512(int8_t *to, const int8_t *from, ptrdiff_t count) {
    for (; count >= 64; count -= 64, to += 64, from += 64)
        _mm512_storeu_si512((void *)to, _mm512_loadu_si512((const void *)from));
    if (count > 0) {
        __mmask64 mask = ~(uint64_t)0 >> (64 - count);
        _mm512_mask_storeu_epi8(to, mask, _mm512_maskz_loadu_epi8(mask, from));
    }
}

AVX512 static void zero_avx512(int8_t *to, ptrdiff_t count) {
    for (; count >= 64; count -= 64, to += 64) _mm512_storeu_si512((void *)to, _mm512_setzero_si512());
    if (count > 0) _mm512_mask_storeu_epi8(to, ~(uint64_t)0 >> (64 - count), _mm512_setzero_si512());
}
#endif

/* One im2col row per output pixel. With unit dilation and upsampling along x and no padded
 * input channels, the taps of one kernel row are one contiguous run of the input row. */
INLINE void im2col_body(const ckiln_window *w, const int8_t *in, ptrdiff_t in_c, ptrdiff_t channels,
                        ptrdiff_t pixel_begin, ptrdiff_t pixel_end, int8_t *columns, int wide) {
#if CKILN_X86
#define COPY(to, from, count) (wide ? copy_avx512(to, from, count) : (void)memcpy(to, from, (size_t)(count)))
#define ZERO(to, count) (wide ? zero_avx512(to, count) : (void)memset(to, 0, (size_t)(count)))
#else
#define COPY(to, from, count) memcpy(to, from, (size_t)(count))
#define ZERO(to, count) memset(to, 0, (size_t)(count))
#endif
    ptrdiff_t k = w->k_h * w->k_w * channels;
    ptrdiff_t run = w->k_w * channels;
    int contiguous = w->dilation_w == 1 && w->up_w == 1 && in_c == channels;
    for (ptrdiff_t pixel = pixel_begin; pixel < pixel_end; pixel++) {
        ptrdiff_t ox = pixel % w->out_w, row = pixel / w->out_w;
        ptrdiff_t oy = row % w->out_h, image = row / w->out_h;
        const int8_t *plane = in + image * w->in_h * w->in_w * in_c;
        int8_t *to = columns + (pixel - pixel_begin) * k;
        for (ptrdiff_t ky = 0; ky < w->k_h; ky++, to += run) {
            ptrdiff_t iy = input_row(w, oy, ky);
            if (iy < 0) {
                ZERO(to, run);
                continue;
            }
            const int8_t *line = plane + iy * w->in_w * in_c;
            if (contiguous) {
                /* Taps kx in [low, high) are inside the row. */
                ptrdiff_t x0 = ox * w->stride_w - w->pad_w;
                ptrdiff_t low = min_pd(w->k_w, max_pd(0, -x0));
                ptrdiff_t high = max_pd(low, min_pd(w->k_w, w->in_w - x0));
                if (low > 0) ZERO(to, low * channels);
                if (high > low) COPY(to + low * channels, line + (x0 + low) * in_c, (high - low) * channels);
                if (high < w->k_w) ZERO(to + high * channels, (w->k_w - high) * channels);
                continue;
            }
            for (ptrdiff_t kx = 0; kx < w->k_w; kx++) {
                ptrdiff_t ix = input_column(w, ox, kx);
                if (ix < 0) {
                    ZERO(to + kx * channels, channels);
                } else {
                    COPY(to + kx * channels, line + ix * in_c, channels);
                }
            }
        }
    }
#undef COPY
#undef ZERO
}

static void im2col_portable(const ckiln_window *w, const int8_t *in, ptrdiff_t in_c, ptrdiff_t channels,
                            ptrdiff_t pixel_begin, ptrdiff_t pixel_end, int8_t *columns) {
    im2col_body(w, in, in_c, channels, pixel_begin, pixel_end, columns, 0);
}

#if CKILN_X86
AVX512 static void im2col_avx512(const ckiln_window *w, const int8_t *in, ptrdiff_t in_c, ptrdiff_t channels,
                                 ptrdiff_t pixel_begin, ptrdiff_t pixel_end, int8_t *columns) {
    im2col_body(w, in, in_c, channels, pixel_begin, pixel_end, columns, 1);
}
#endif

void ckiln_i8_im2col_nhwc(int isa, const ckiln_window *window, const int8_t *in, ptrdiff_t in_c,
                          ptrdiff_t channels, ptrdiff_t pixel_begin, ptrdiff_t pixel_end, int8_t *columns) {
#if CKILN_X86
    if (ckiln_clamp_isa(isa) >= CKILN_ISA_AVX512) {
        im2col_avx512(window, in, in_c, channels, pixel_begin, pixel_end, columns);
        return;
    }
#endif
    im2col_portable(window, in, in_c, channels, pixel_begin, pixel_end, columns);
}

/* out = clamp((acc + offset) >> shift, lower, upper); lower and upper lie in int8. */
INLINE void requantize_body(ptrdiff_t rows, ptrdiff_t n, const int32_t *acc, ptrdiff_t lda,
                            const ckiln_i8_stage *stage, int8_t *out, ptrdiff_t ldo) {
    int shift = stage->shift;
    int32_t lower = stage->lower, upper = stage->upper;
    for (ptrdiff_t r = 0; r < rows; r++) {
        const int32_t *restrict x = acc + r * lda;
        const int32_t *restrict offset = stage->offsets;
        int8_t *restrict y = out + r * ldo;
        for (ptrdiff_t j = 0; j < n; j++) {
            int32_t v = (x[j] + offset[j]) >> shift;
            v = v < lower ? lower : v;
            y[j] = (int8_t)(v > upper ? upper : v);
        }
    }
}

static void requantize_portable(ptrdiff_t rows, ptrdiff_t n, const int32_t *acc, ptrdiff_t lda,
                                const ckiln_i8_stage *stage, int8_t *out, ptrdiff_t ldo) {
    requantize_body(rows, n, acc, lda, stage, out, ldo);
}

#if CKILN_X86
AVX2 static void requantize_avx2(ptrdiff_t rows, ptrdiff_t n, const int32_t *acc, ptrdiff_t lda,
                                 const ckiln_i8_stage *stage, int8_t *out, ptrdiff_t ldo) {
    requantize_body(rows, n, acc, lda, stage, out, ldo);
}

AVX512 static void requantize_avx512(ptrdiff_t rows, ptrdiff_t n, const int32_t *acc, ptrdiff_t lda,
                                     const ckiln_i8_stage *stage, int8_t *out, ptrdiff_t ldo) {
    requantize_body(rows, n, acc, lda, stage, out, ldo);
}
#endif

void ckiln_i8_requantize(int isa, ptrdiff_t rows, ptrdiff_t n, const int32_t *acc, ptrdiff_t lda,
                         const ckiln_i8_stage *stage, int8_t *out, ptrdiff_t ldo) {
#if CKILN_X86
    int level = ckiln_clamp_isa(isa);
    if (level >= CKILN_ISA_AVX512) {
        requantize_avx512(rows, n, acc, lda, stage, out, ldo);
        return;
    }
    if (level >= CKILN_ISA_AVX2) {
        requantize_avx2(rows, n, acc, lda, stage, out, ldo);
        return;
    }
#endif
    requantize_portable(rows, n, acc, lda, stage, out, ldo);
}

/* Depthwise sums: per output pixel, per in-bounds tap, sums[j] += x[j]·w[j] (the product of
 * two int8 values fits int16; the sum of at most 2^17 of them fits int32). With a stage,
 * each pixel's row is requantized into out right after. */
INLINE void depthwise_body(const ckiln_window *w, const int8_t *in, ptrdiff_t in_c, const int16_t *weights,
                           ptrdiff_t weight_stride, ptrdiff_t n, ptrdiff_t pixel_begin, ptrdiff_t pixel_end,
                           int32_t *sums, ptrdiff_t lds, const ckiln_i8_stage *stage, int8_t *out, ptrdiff_t ldo) {
    for (ptrdiff_t pixel = pixel_begin; pixel < pixel_end; pixel++) {
        ptrdiff_t ox = pixel % w->out_w, row = pixel / w->out_w;
        ptrdiff_t oy = row % w->out_h, image = row / w->out_h;
        const int8_t *plane = in + image * w->in_h * w->in_w * in_c;
        int32_t *restrict sum = sums + (pixel - pixel_begin) * lds;
        for (ptrdiff_t j = 0; j < n; j++) sum[j] = 0;
        for (ptrdiff_t ky = 0; ky < w->k_h; ky++) {
            ptrdiff_t iy = input_row(w, oy, ky);
            if (iy < 0) continue;
            for (ptrdiff_t kx = 0; kx < w->k_w; kx++) {
                ptrdiff_t ix = input_column(w, ox, kx);
                if (ix < 0) continue;
                const int8_t *restrict x = plane + (iy * w->in_w + ix) * in_c;
                const int16_t *restrict tap = weights + (ky * w->k_w + kx) * weight_stride;
                for (ptrdiff_t j = 0; j < n; j++) sum[j] += (int32_t)(int16_t)(x[j] * tap[j]);
            }
        }
        if (stage) requantize_body(1, n, sum, 0, stage, out + (pixel - pixel_begin) * ldo, 0);
    }
}

static void depthwise_portable(const ckiln_window *w, const int8_t *in, ptrdiff_t in_c, const int16_t *weights,
                               ptrdiff_t weight_stride, ptrdiff_t n, ptrdiff_t pixel_begin, ptrdiff_t pixel_end,
                               int32_t *sums, ptrdiff_t lds, const ckiln_i8_stage *stage, int8_t *out,
                               ptrdiff_t ldo) {
    depthwise_body(w, in, in_c, weights, weight_stride, n, pixel_begin, pixel_end, sums, lds, stage, out, ldo);
}

#if CKILN_X86
AVX2 static void depthwise_avx2(const ckiln_window *w, const int8_t *in, ptrdiff_t in_c, const int16_t *weights,
                                ptrdiff_t weight_stride, ptrdiff_t n, ptrdiff_t pixel_begin, ptrdiff_t pixel_end,
                                int32_t *sums, ptrdiff_t lds, const ckiln_i8_stage *stage, int8_t *out,
                                ptrdiff_t ldo) {
    depthwise_body(w, in, in_c, weights, weight_stride, n, pixel_begin, pixel_end, sums, lds, stage, out, ldo);
}

/* Taps of a window handled in registers (larger windows take the C body). */
enum { DW_TAPS = 64 };

/* Register-blocked: per pixel, the in-bounds taps' rows are gathered once; then per 16
 * channels the int32 sum stays in a register over all taps (vpmulld of the sign-extended
 * values: exact) and, with a stage, is requantized there (vpmovdb after the clamp). */
AVX512 static void depthwise_avx512(const ckiln_window *w, const int8_t *in, ptrdiff_t in_c,
                                    const int16_t *weights, ptrdiff_t weight_stride, ptrdiff_t n,
                                    ptrdiff_t pixel_begin, ptrdiff_t pixel_end, int32_t *sums, ptrdiff_t lds,
                                    const ckiln_i8_stage *stage, int8_t *out, ptrdiff_t ldo) {
    if (w->k_h * w->k_w > DW_TAPS) {
        depthwise_body(w, in, in_c, weights, weight_stride, n, pixel_begin, pixel_end, sums, lds, stage, out, ldo);
        return;
    }
    const int8_t *xs[DW_TAPS];
    const int16_t *ws[DW_TAPS];
    __m512i shift = _mm512_set1_epi64(stage ? stage->shift : 0);
    __m512i lower = _mm512_set1_epi32(stage ? stage->lower : 0), upper = _mm512_set1_epi32(stage ? stage->upper : 0);
    for (ptrdiff_t pixel = pixel_begin; pixel < pixel_end; pixel++) {
        ptrdiff_t ox = pixel % w->out_w, row = pixel / w->out_w;
        ptrdiff_t oy = row % w->out_h, image = row / w->out_h;
        const int8_t *plane = in + image * w->in_h * w->in_w * in_c;
        int taps = 0;
        for (ptrdiff_t ky = 0; ky < w->k_h; ky++) {
            ptrdiff_t iy = input_row(w, oy, ky);
            if (iy < 0) continue;
            for (ptrdiff_t kx = 0; kx < w->k_w; kx++) {
                ptrdiff_t ix = input_column(w, ox, kx);
                if (ix < 0) continue;
                xs[taps] = plane + (iy * w->in_w + ix) * in_c;
                ws[taps] = weights + (ky * w->k_w + kx) * weight_stride;
                taps++;
            }
        }
        for (ptrdiff_t j = 0; j < n; j += 16) {
            __mmask16 mask = n - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j)) - 1);
            __m512i acc = _mm512_setzero_si512();
            for (int t = 0; t < taps; t++) {
                __m512i x = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(mask, xs[t] + j));
                __m512i v = _mm512_cvtepi16_epi32(_mm256_maskz_loadu_epi16(mask, ws[t] + j));
                acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(x, v));
            }
            if (!stage) {
                _mm512_mask_storeu_epi32(sums + (pixel - pixel_begin) * lds + j, mask, acc);
                continue;
            }
            acc = _mm512_add_epi32(acc, _mm512_maskz_loadu_epi32(mask, stage->offsets + j));
            acc = _mm512_sra_epi32(acc, _mm512_castsi512_si128(shift));
            acc = _mm512_min_epi32(_mm512_max_epi32(acc, lower), upper);
            _mm512_mask_cvtepi32_storeu_epi8(out + (pixel - pixel_begin) * ldo + j, mask, acc);
        }
    }
}
#endif

void ckiln_i8_depthwise_nhwc(int isa, const ckiln_window *window, const int8_t *in, ptrdiff_t in_c,
                             const int16_t *weights, ptrdiff_t weight_stride, ptrdiff_t n, ptrdiff_t pixel_begin,
                             ptrdiff_t pixel_end, int32_t *sums, ptrdiff_t lds, const ckiln_i8_stage *stage,
                             int8_t *out, ptrdiff_t ldo) {
#if CKILN_X86
    int level = ckiln_clamp_isa(isa);
    if (level >= CKILN_ISA_AVX512) {
        depthwise_avx512(window, in, in_c, weights, weight_stride, n, pixel_begin, pixel_end, sums, lds, stage, out,
                         ldo);
        return;
    }
    if (level >= CKILN_ISA_AVX2) {
        depthwise_avx2(window, in, in_c, weights, weight_stride, n, pixel_begin, pixel_end, sums, lds, stage, out,
                       ldo);
        return;
    }
#endif
    depthwise_portable(window, in, in_c, weights, weight_stride, n, pixel_begin, pixel_end, sums, lds, stage, out,
                       ldo);
}

/* out = clamp(((a << shift_a) + (b << shift_b) + half) >> shift, lower, upper): shifts of at
 * most 16 keep every sum far inside int32. */
INLINE void add_body(ptrdiff_t count, const int8_t *restrict a, int shift_a, const int8_t *restrict b, int shift_b,
                     int32_t half, int shift, int32_t lower, int32_t upper, int8_t *restrict out) {
    for (ptrdiff_t i = 0; i < count; i++) {
        int32_t v = (((int32_t)a[i] * (1 << shift_a)) + ((int32_t)b[i] * (1 << shift_b)) + half) >> shift;
        v = v < lower ? lower : v;
        out[i] = (int8_t)(v > upper ? upper : v);
    }
}

static void add_portable(ptrdiff_t count, const int8_t *a, int shift_a, const int8_t *b, int shift_b, int32_t half,
                         int shift, int32_t lower, int32_t upper, int8_t *out) {
    add_body(count, a, shift_a, b, shift_b, half, shift, lower, upper, out);
}

#if CKILN_X86
AVX512 static void add_avx512(ptrdiff_t count, const int8_t *a, int shift_a, const int8_t *b, int shift_b,
                              int32_t half, int shift, int32_t lower, int32_t upper, int8_t *out) {
    add_body(count, a, shift_a, b, shift_b, half, shift, lower, upper, out);
}

AVX2 static void add_avx2(ptrdiff_t count, const int8_t *a, int shift_a, const int8_t *b, int shift_b,
                          int32_t half, int shift, int32_t lower, int32_t upper, int8_t *out) {
    add_body(count, a, shift_a, b, shift_b, half, shift, lower, upper, out);
}
#endif

void ckiln_i8_add(int isa, ptrdiff_t count, const int8_t *a, int shift_a, const int8_t *b, int shift_b,
                  int32_t half, int shift, int32_t lower, int32_t upper, int8_t *out) {
#if CKILN_X86
    int level = ckiln_clamp_isa(isa);
    if (level >= CKILN_ISA_AVX512) {
        add_avx512(count, a, shift_a, b, shift_b, half, shift, lower, upper, out);
        return;
    }
    if (level >= CKILN_ISA_AVX2) {
        add_avx2(count, a, shift_a, b, shift_b, half, shift, lower, upper, out);
        return;
    }
#endif
    add_portable(count, a, shift_a, b, shift_b, half, shift, lower, upper, out);
}

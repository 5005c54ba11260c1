/* The DPU emulator's int8 NHWC kernels around the exact GEMM: im2col of a feature map,
 * depthwise sums, max pooling, the requantizing output stage, the element-wise add, and the
 * quantization of float inputs. All integer (the quantization: the same IEEE double operations), so
 * every path is exact and equal to every other; the AVX2 and AVX-512 variants are the same
 * C bodies compiled for those instruction sets (the compiler vectorizes the channel loops),
 * plus masked 64-byte copies in im2col on AVX-512. */
#include <math.h>
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
/* Kernel rows im2col_short_runs takes. */
#define CKILN_SHORT_RUN_ROWS 16

static ptrdiff_t max_pd(ptrdiff_t x, ptrdiff_t y) { return x > y ? x : y; }
static ptrdiff_t min_pd(ptrdiff_t x, ptrdiff_t y) { return x < y ? x : y; }

/* The input row of tap row ky for output row oy, or -1 (padding, or between upsampled rows).
 * Divides only when upsampled. */
INLINE ptrdiff_t input_row(const ckiln_window *w, ptrdiff_t oy, ptrdiff_t ky) {
    ptrdiff_t v = oy * w->stride_h + ky * w->dilation_h - w->pad_h;
    if (v < 0) return -1;
    if (w->up_h != 1) {
        if (v % w->up_h != 0) return -1;
        v /= w->up_h;
    }
    return v < w->in_h ? v : -1;
}

/* The same for columns. */
INLINE ptrdiff_t input_column(const ckiln_window *w, ptrdiff_t ox, ptrdiff_t kx) {
    ptrdiff_t v = ox * w->stride_w + kx * w->dilation_w - w->pad_w;
    if (v < 0) return -1;
    if (w->up_w != 1) {
        if (v % w->up_w != 0) return -1;
        v /= w->up_w;
    }
    return v < w->in_w ? v : -1;
}

/* An output pixel as (image, oy, ox), stepped in pixel order without divisions. */
typedef struct {
    ptrdiff_t image, oy, ox;
} position;

INLINE position position_of(const ckiln_window *w, ptrdiff_t pixel) {
    ptrdiff_t row = pixel / w->out_w;
    return (position){row / w->out_h, row % w->out_h, pixel % w->out_w};
}

INLINE void advance(const ckiln_window *w, position *at) {
    if (++at->ox < w->out_w) return;
    at->ox = 0;
    if (++at->oy < w->out_h) return;
    at->oy = 0;
    at->image++;
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

/* im2col when each tap row is one contiguous run of at most 64 bytes (unit dilation and
 * upsampling along x, no padded input channels: a few-channel stem's 7 × 3 bytes, a 3×3 over
 * up to 21 channels), a row of output pixels at a time: each tap row's input line is found
 * once per output row, and a pixel inside the image along x costs one 64-byte move per tap
 * row. The bytes a move writes past its run belong to later runs, written after it; a move
 * that would pass the end of the columns or of the input plane goes through masks. */
AVX512 static void im2col_short_runs(const ckiln_window *w, const int8_t *in, ptrdiff_t in_c, ptrdiff_t pixel_begin,
                                     ptrdiff_t pixel_end, int8_t *columns) {
    ptrdiff_t run = w->k_w * in_c, k = w->k_h * run;
    const int8_t *lines[CKILN_SHORT_RUN_ROWS];
    int8_t *end = columns + (pixel_end - pixel_begin) * k;
    position at = position_of(w, pixel_begin);
    for (ptrdiff_t pixel = pixel_begin; pixel < pixel_end;) {
        ptrdiff_t count = min_pd(w->out_w - at.ox, pixel_end - pixel);
        const int8_t *plane = in + at.image * w->in_h * w->in_w * in_c;
        const int8_t *plane_end = plane + w->in_h * w->in_w * in_c;
        /* Whether every tap row is inside the image, and the furthest line read. */
        int rows_inside = 1;
        const int8_t *last_line = plane;
        for (ptrdiff_t ky = 0; ky < w->k_h; ky++) {
            ptrdiff_t iy = input_row(w, at.oy, ky);
            lines[ky] = iy < 0 ? NULL : plane + iy * w->in_w * in_c;
            rows_inside &= iy >= 0;
            if (lines[ky] && lines[ky] > last_line) last_line = lines[ky];
        }
        int8_t *to = columns + (pixel - pixel_begin) * k;
        for (ptrdiff_t ox = at.ox; ox < at.ox + count; ox++, to += k) {
            ptrdiff_t x0 = ox * w->stride_w - w->pad_w;
            ptrdiff_t low = min_pd(w->k_w, max_pd(0, -x0));
            ptrdiff_t high = max_pd(low, min_pd(w->k_w, w->in_w - x0));
            int inside = low == 0 && high == w->k_w;
            /* Inside the image along both axes, both buffers' ends far enough: one move per
             * tap row and nothing else. */
            if (rows_inside && inside && to + (w->k_h - 1) * run + 64 <= end &&
                last_line + x0 * in_c + 64 <= plane_end) {
                for (ptrdiff_t ky = 0; ky < w->k_h; ky++)
                    _mm512_storeu_si512((void *)(to + ky * run), _mm512_loadu_si512((const void *)(lines[ky] + x0 * in_c)));
                continue;
            }
            for (ptrdiff_t ky = 0; ky < w->k_h; ky++) {
                int8_t *t = to + ky * run;
                int room = t + 64 <= end;
                if (!lines[ky]) {
                    if (room) _mm512_storeu_si512((void *)t, _mm512_setzero_si512());
                    else zero_avx512(t, run);
                    continue;
                }
                const int8_t *from = lines[ky] + x0 * in_c;
                if (inside && room && from + 64 <= plane_end) {
                    _mm512_storeu_si512((void *)t, _mm512_loadu_si512((const void *)from));
                    continue;
                }
                if (low > 0) zero_avx512(t, low * in_c);
                if (high > low) copy_avx512(t + low * in_c, from + low * in_c, (high - low) * in_c);
                if (high < w->k_w) zero_avx512(t + high * in_c, (w->k_w - high) * in_c);
            }
        }
        pixel += count;
        at.ox = 0;
        if (++at.oy == w->out_h) {
            at.oy = 0;
            at.image++;
        }
    }
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
    position at = position_of(w, pixel_begin);
    for (ptrdiff_t pixel = pixel_begin; pixel < pixel_end; pixel++, advance(w, &at)) {
        ptrdiff_t ox = at.ox, oy = at.oy, image = at.image;
        const int8_t *plane = in + image * w->in_h * w->in_w * in_c;
        int8_t *to = columns + (pixel - pixel_begin) * k;
        /* Contiguous taps kx in [low, high) are inside the row (the same for every ky). */
        ptrdiff_t x0 = ox * w->stride_w - w->pad_w;
        ptrdiff_t low = min_pd(w->k_w, max_pd(0, -x0));
        ptrdiff_t high = max_pd(low, min_pd(w->k_w, w->in_w - x0));
        for (ptrdiff_t ky = 0; ky < w->k_h; ky++, to += run) {
            ptrdiff_t iy = input_row(w, oy, ky);
            if (iy < 0) {
                ZERO(to, run);
                continue;
            }
            const int8_t *line = plane + iy * w->in_w * in_c;
            if (contiguous) {
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
        if (window->dilation_w == 1 && window->up_w == 1 && in_c == channels && window->k_w * in_c <= 64 &&
            window->k_h <= CKILN_SHORT_RUN_ROWS)
            im2col_short_runs(window, in, in_c, pixel_begin, pixel_end, columns);
        else
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
    position at = position_of(w, pixel_begin);
    for (ptrdiff_t pixel = pixel_begin; pixel < pixel_end; pixel++, advance(w, &at)) {
        ptrdiff_t ox = at.ox, oy = at.oy, image = at.image;
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

/* Register-blocked: per pixel, the in-bounds taps' rows are gathered once; then per 32
 * channels the int32 sums stay in two registers over all taps (vpmullw of the sign-extended
 * values is exact: |x·w| ≤ 2^14) and, with a stage, are requantized there (vpmovdb after
 * the clamp). */
AVX512 static void depthwise_avx512(const ckiln_window *w, const int8_t *in, ptrdiff_t in_c,
                                    const int16_t *weights, ptrdiff_t weight_stride, ptrdiff_t n,
                                    ptrdiff_t pixel_begin, ptrdiff_t pixel_end, int32_t *sums, ptrdiff_t lds,
                                    const ckiln_i8_stage *stage, int8_t *out, ptrdiff_t ldo) {
    if (w->k_h * w->k_w > DW_TAPS) {
        depthwise_body(w, in, in_c, weights, weight_stride, n, pixel_begin, pixel_end, sums, lds, stage, out, ldo);
        return;
    }
    /* Interior pixels (every tap inside, no upsampling) read tap t at a fixed offset from
     * their window's corner: one table for the call instead of a tap list per pixel. */
    ptrdiff_t interior_offset[DW_TAPS], border_offset[DW_TAPS];
    const int16_t *interior_ws[DW_TAPS], *border_ws[DW_TAPS];
    int all = (int)(w->k_h * w->k_w);
    for (ptrdiff_t ky = 0; ky < w->k_h; ky++) {
        for (ptrdiff_t kx = 0; kx < w->k_w; kx++) {
            interior_offset[ky * w->k_w + kx] = (ky * w->dilation_h * w->in_w + kx * w->dilation_w) * in_c;
            interior_ws[ky * w->k_w + kx] = weights + (ky * w->k_w + kx) * weight_stride;
        }
    }
    int plain = w->up_h == 1 && w->up_w == 1;
    ptrdiff_t span_h = (w->k_h - 1) * w->dilation_h, span_w = (w->k_w - 1) * w->dilation_w;
    __m128i shift = _mm_cvtsi32_si128(stage ? stage->shift : 0);
    __m512i lower = _mm512_set1_epi32(stage ? stage->lower : 0), upper = _mm512_set1_epi32(stage ? stage->upper : 0);
    position at = position_of(w, pixel_begin);
    for (ptrdiff_t pixel = pixel_begin; pixel < pixel_end; pixel++, advance(w, &at)) {
        ptrdiff_t ox = at.ox, oy = at.oy, image = at.image;
        const int8_t *plane = in + image * w->in_h * w->in_w * in_c;
        ptrdiff_t y0 = oy * w->stride_h - w->pad_h, x0 = ox * w->stride_w - w->pad_w;
        const int8_t *base;
        const ptrdiff_t *offset;
        const int16_t *const *ws;
        int taps;
        if (plain && y0 >= 0 && x0 >= 0 && y0 + span_h < w->in_h && x0 + span_w < w->in_w) {
            base = plane + (y0 * w->in_w + x0) * in_c;
            offset = interior_offset;
            ws = interior_ws;
            taps = all;
        } else {
            base = plane;
            offset = border_offset;
            ws = border_ws;
            taps = 0;
            for (ptrdiff_t ky = 0; ky < w->k_h; ky++) {
                ptrdiff_t iy = input_row(w, oy, ky);
                if (iy < 0) continue;
                for (ptrdiff_t kx = 0; kx < w->k_w; kx++) {
                    ptrdiff_t ix = input_column(w, ox, kx);
                    if (ix < 0) continue;
                    border_offset[taps] = (iy * w->in_w + ix) * in_c;
                    border_ws[taps] = weights + (ky * w->k_w + kx) * weight_stride;
                    taps++;
                }
            }
        }
        for (ptrdiff_t j = 0; j < n; j += 32) {
            __mmask32 mask = n - j >= 32 ? (__mmask32)0xFFFFFFFF : (__mmask32)((1u << (n - j)) - 1);
            __m512i low = _mm512_setzero_si512(), high = _mm512_setzero_si512();
            for (int t = 0; t < taps; t++) {
                __m512i x = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(mask, base + offset[t] + j));
                __m512i product = _mm512_mullo_epi16(x, _mm512_maskz_loadu_epi16(mask, ws[t] + j));
                low = _mm512_add_epi32(low, _mm512_cvtepi16_epi32(_mm512_castsi512_si256(product)));
                high = _mm512_add_epi32(high, _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(product, 1)));
            }
            __mmask16 mask_low = (__mmask16)mask, mask_high = (__mmask16)(mask >> 16);
            if (!stage) {
                int32_t *sum = sums + (pixel - pixel_begin) * lds + j;
                _mm512_mask_storeu_epi32(sum, mask_low, low);
                _mm512_mask_storeu_epi32(sum + 16, mask_high, high);
                continue;
            }
            int8_t *y = out + (pixel - pixel_begin) * ldo + j;
            low = _mm512_add_epi32(low, _mm512_maskz_loadu_epi32(mask_low, stage->offsets + j));
            high = _mm512_add_epi32(high, _mm512_maskz_loadu_epi32(mask_high, stage->offsets + j + 16));
            low = _mm512_min_epi32(_mm512_max_epi32(_mm512_sra_epi32(low, shift), lower), upper);
            high = _mm512_min_epi32(_mm512_max_epi32(_mm512_sra_epi32(high, shift), lower), upper);
            _mm512_mask_cvtepi32_storeu_epi8(y, mask_low, low);
            _mm512_mask_cvtepi32_storeu_epi8(y + 16, mask_high, high);
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

/* Max pooling: per output pixel, the largest of its in-bounds taps (−128 when none). */
INLINE void maxpool_body(const ckiln_window *w, const int8_t *in, ptrdiff_t in_c, ptrdiff_t n, ptrdiff_t pixel_begin,
                         ptrdiff_t pixel_end, int8_t *out, ptrdiff_t ldo) {
    position at = position_of(w, pixel_begin);
    for (ptrdiff_t pixel = pixel_begin; pixel < pixel_end; pixel++, advance(w, &at)) {
        const int8_t *plane = in + at.image * w->in_h * w->in_w * in_c;
        int8_t *restrict y = out + (pixel - pixel_begin) * ldo;
        for (ptrdiff_t j = 0; j < n; j++) y[j] = -128;
        for (ptrdiff_t ky = 0; ky < w->k_h; ky++) {
            ptrdiff_t iy = input_row(w, at.oy, ky);
            if (iy < 0) continue;
            for (ptrdiff_t kx = 0; kx < w->k_w; kx++) {
                ptrdiff_t ix = input_column(w, at.ox, kx);
                if (ix < 0) continue;
                const int8_t *restrict x = plane + (iy * w->in_w + ix) * in_c;
                for (ptrdiff_t j = 0; j < n; j++) y[j] = x[j] > y[j] ? x[j] : y[j];
            }
        }
    }
}

static void maxpool_portable(const ckiln_window *w, const int8_t *in, ptrdiff_t in_c, ptrdiff_t n,
                             ptrdiff_t pixel_begin, ptrdiff_t pixel_end, int8_t *out, ptrdiff_t ldo) {
    maxpool_body(w, in, in_c, n, pixel_begin, pixel_end, out, ldo);
}

#if CKILN_X86
AVX2 static void maxpool_avx2(const ckiln_window *w, const int8_t *in, ptrdiff_t in_c, ptrdiff_t n,
                              ptrdiff_t pixel_begin, ptrdiff_t pixel_end, int8_t *out, ptrdiff_t ldo) {
    maxpool_body(w, in, in_c, n, pixel_begin, pixel_end, out, ldo);
}

/* 64 channels per register: one masked load and one max per tap, no per-tap loop over the
 * channels. */
AVX512 static void maxpool_avx512(const ckiln_window *w, const int8_t *in, ptrdiff_t in_c, ptrdiff_t n,
                                  ptrdiff_t pixel_begin, ptrdiff_t pixel_end, int8_t *out, ptrdiff_t ldo) {
    position at = position_of(w, pixel_begin);
    for (ptrdiff_t pixel = pixel_begin; pixel < pixel_end; pixel++, advance(w, &at)) {
        const int8_t *plane = in + at.image * w->in_h * w->in_w * in_c;
        int8_t *y = out + (pixel - pixel_begin) * ldo;
        for (ptrdiff_t j = 0; j < n; j += 64) {
            ptrdiff_t left = n - j;
            __mmask64 mask = left >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << left) - 1);
            __m512i best = _mm512_set1_epi8(-128);
            for (ptrdiff_t ky = 0; ky < w->k_h; ky++) {
                ptrdiff_t iy = input_row(w, at.oy, ky);
                if (iy < 0) continue;
                for (ptrdiff_t kx = 0; kx < w->k_w; kx++) {
                    ptrdiff_t ix = input_column(w, at.ox, kx);
                    if (ix < 0) continue;
                    best = _mm512_max_epi8(best, _mm512_maskz_loadu_epi8(mask, plane + (iy * w->in_w + ix) * in_c + j));
                }
            }
            _mm512_mask_storeu_epi8(y + j, mask, best);
        }
    }
}
#endif

void ckiln_i8_maxpool_nhwc(int isa, const ckiln_window *window, const int8_t *in, ptrdiff_t in_c, ptrdiff_t n,
                           ptrdiff_t pixel_begin, ptrdiff_t pixel_end, int8_t *out, ptrdiff_t ldo) {
#if CKILN_X86
    int level = ckiln_clamp_isa(isa);
    if (level >= CKILN_ISA_AVX512) {
        maxpool_avx512(window, in, in_c, n, pixel_begin, pixel_end, out, ldo);
        return;
    }
    if (level >= CKILN_ISA_AVX2) {
        maxpool_avx2(window, in, in_c, n, pixel_begin, pixel_end, out, ldo);
        return;
    }
#endif
    maxpool_portable(window, in, in_c, n, pixel_begin, pixel_end, out, ldo);
}

/* One value as FixedPoint.quantize: saturate(round(x · 2^p)) in double, NaN to 0. */
static int8_t quantize_one(float x, double scale, int mode) {
    double v = (double)x * scale;
    if (v != v) return 0;
    double r = mode == CKILN_ROUND_HALF_UP ? floor(v + 0.5) : mode == CKILN_ROUND_HALF_EVEN ? nearbyint(v) : round(v);
    if (r >= 127) return 127;
    if (r <= -128) return -128;
    return (int8_t)r;
}

#if CKILN_X86
/* Eight values at a time, the same double operations as quantize_one: half up is
 * floor(v + 0.5), half to even the default rounding of vrndscalepd, and half away from zero
 * floor(|v| + 0.5) with v's sign. That equals round(v) here: v is a float times a power of
 * two (24 significant bits), so |v| + 0.5 is exact, or rounds to 0.5 when |v| is too small to
 * matter, for every |v| below the saturation bounds. */
AVX512 static void quantize_avx512(ptrdiff_t count, const float *in, double scale, int mode, int8_t *out) {
    ptrdiff_t i = 0;
    __m512d s = _mm512_set1_pd(scale), half = _mm512_set1_pd(0.5), sign = _mm512_set1_pd(-0.0);
    __m512d lower = _mm512_set1_pd(-128), upper = _mm512_set1_pd(127);
    for (; i + 8 <= count; i += 8) {
        __m512d v = _mm512_mul_pd(_mm512_cvtps_pd(_mm256_loadu_ps(in + i)), s);
        __mmask8 ordered = _mm512_cmp_pd_mask(v, v, _CMP_ORD_Q);
        __m512d r;
        if (mode == CKILN_ROUND_HALF_UP) {
            r = _mm512_roundscale_pd(_mm512_add_pd(v, half), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
        } else if (mode == CKILN_ROUND_HALF_EVEN) {
            r = _mm512_roundscale_pd(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        } else {
            __m512d magnitude = _mm512_andnot_pd(sign, v);
            r = _mm512_roundscale_pd(_mm512_add_pd(magnitude, half), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
            r = _mm512_or_pd(r, _mm512_and_pd(sign, v));
        }
        r = _mm512_maskz_mov_pd(ordered, _mm512_min_pd(_mm512_max_pd(r, lower), upper));
        _mm_storel_epi64((__m128i *)(out + i), _mm256_cvtepi32_epi8(_mm512_cvtpd_epi32(r)));
    }
    for (; i < count; i++) out[i] = quantize_one(in[i], scale, mode);
}
#endif

void ckiln_i8_quantize(int isa, ptrdiff_t count, const float *in, int fix_position, int mode, int8_t *out) {
    double scale = ldexp(1.0, fix_position);
#if CKILN_X86
    if (ckiln_clamp_isa(isa) >= CKILN_ISA_AVX512) {
        quantize_avx512(count, in, scale, mode, out);
        return;
    }
#endif
    for (ptrdiff_t i = 0; i < count; i++) out[i] = quantize_one(in[i], scale, mode);
}

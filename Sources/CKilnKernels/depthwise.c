/* Depthwise 2-D convolution, one plane at a time, with fused bias and clamp. */
#include <stdint.h>
#include <string.h>

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

/* The fast paths read a zero-padded copy of the plane split into stride_w phases, so every
 * tap of a block of outputs is one contiguous unaligned load and no bound is checked:
 * row r (0 ..< rows) holds input row r − pad_h, and its phase p holds, at x, input column
 * stride_w·x + p − pad_w (zero outside the input). Tap column c = kw·dilation_w of output
 * ow is then phase c % stride_w at x = ow + c / stride_w. */
typedef struct {
    float *data;
    ptrdiff_t width;     /* floats per phase */
    ptrdiff_t row_floats; /* stride_w · width */
} phased_plane;

/* Builds the phased plane in scratch slot 3; 0 when it could not be allocated. */
static int phase_plane(const float *in, ptrdiff_t in_h, ptrdiff_t in_w, ptrdiff_t rows, ptrdiff_t stride_w,
                       ptrdiff_t pad_h, ptrdiff_t pad_w, ptrdiff_t width, phased_plane *plane) {
    ptrdiff_t row_floats = stride_w * width;
    float *data = ckiln_scratch(3, sizeof(float) * (size_t)(rows * row_floats));
    if (!data) return 0;
    for (ptrdiff_t r = 0; r < rows; r++) {
        float *row = data + r * row_floats;
        ptrdiff_t ih = r - pad_h;
        if (ih < 0 || ih >= in_h) {
            memset(row, 0, sizeof(float) * (size_t)row_floats);
            continue;
        }
        const float *line = in + ih * in_w;
        for (ptrdiff_t p = 0; p < stride_w; p++) {
            float *phase = row + p * width;
            /* x whose input column stride_w·x + p − pad_w lies in [0, in_w): [low, high). */
            ptrdiff_t low = min_pd(width, pad_w - p > 0 ? (pad_w - p + stride_w - 1) / stride_w : 0);
            ptrdiff_t high = max_pd(low, min_pd(width, in_w + pad_w - p > 0 ? (in_w + pad_w - p + stride_w - 1) / stride_w : 0));
            memset(phase, 0, sizeof(float) * (size_t)low);
            const float *source = line + stride_w * low + p - pad_w;
            if (stride_w == 1) {
                memcpy(phase + low, source, sizeof(float) * (size_t)(high - low));
            } else {
                ptrdiff_t x = low;
#if defined(__x86_64__) || defined(__i386__)
                if (stride_w == 2) x += ckiln_every_other_avx2(source, phase + low, high - low);
#endif
                for (; x < high; x++) phase[x] = source[(x - low) * stride_w];
            }
            memset(phase + high, 0, sizeof(float) * (size_t)(width - high));
        }
    }
    plane->data = data;
    plane->width = width;
    plane->row_floats = row_floats;
    return 1;
}

#if defined(__x86_64__) || defined(__i386__)
/* One vector of 8 outputs per row, four output rows at a time (four independent FMA chains
 * sharing each tap's broadcast), then single rows; the last vector of a row is masked. */
__attribute__((target("avx2,fma"))) static void plane_avx2(
    const phased_plane *plane, const float *w, ptrdiff_t k_h, ptrdiff_t k_w, ptrdiff_t stride_h,
    ptrdiff_t stride_w, ptrdiff_t dilation_h, ptrdiff_t dilation_w, float bias, float lower, float upper,
    float *out, ptrdiff_t out_h, ptrdiff_t out_w) {
    static const int32_t ones[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    __m256 b = _mm256_set1_ps(bias), lo = _mm256_set1_ps(lower), hi = _mm256_set1_ps(upper);
    ptrdiff_t step = stride_h * plane->row_floats;
    for (ptrdiff_t ow = 0; ow < out_w; ow += 8) {
        ptrdiff_t left = out_w - ow;
        __m256i mask = _mm256_loadu_si256((const __m256i *)(ones + 8 - (left < 8 ? left : 8)));
        ptrdiff_t oh = 0;
        for (; oh + 4 <= out_h; oh += 4) {
            __m256 a0 = b, a1 = b, a2 = b, a3 = b;
            for (ptrdiff_t kh = 0; kh < k_h; kh++) {
                const float *row = plane->data + (oh * stride_h + kh * dilation_h) * plane->row_floats + ow;
                for (ptrdiff_t kw = 0; kw < k_w; kw++) {
                    ptrdiff_t c = kw * dilation_w;
                    const float *source = row + (c % stride_w) * plane->width + c / stride_w;
                    __m256 t = _mm256_broadcast_ss(w + kh * k_w + kw);
                    a0 = _mm256_fmadd_ps(t, _mm256_loadu_ps(source), a0);
                    a1 = _mm256_fmadd_ps(t, _mm256_loadu_ps(source + step), a1);
                    a2 = _mm256_fmadd_ps(t, _mm256_loadu_ps(source + 2 * step), a2);
                    a3 = _mm256_fmadd_ps(t, _mm256_loadu_ps(source + 3 * step), a3);
                }
            }
            float *target = out + oh * out_w + ow;
            _mm256_maskstore_ps(target, mask, _mm256_min_ps(hi, _mm256_max_ps(lo, a0)));
            _mm256_maskstore_ps(target + out_w, mask, _mm256_min_ps(hi, _mm256_max_ps(lo, a1)));
            _mm256_maskstore_ps(target + 2 * out_w, mask, _mm256_min_ps(hi, _mm256_max_ps(lo, a2)));
            _mm256_maskstore_ps(target + 3 * out_w, mask, _mm256_min_ps(hi, _mm256_max_ps(lo, a3)));
        }
        for (; oh < out_h; oh++) {
            __m256 a = b;
            for (ptrdiff_t kh = 0; kh < k_h; kh++) {
                const float *row = plane->data + (oh * stride_h + kh * dilation_h) * plane->row_floats + ow;
                for (ptrdiff_t kw = 0; kw < k_w; kw++) {
                    ptrdiff_t c = kw * dilation_w;
                    a = _mm256_fmadd_ps(_mm256_broadcast_ss(w + kh * k_w + kw),
                                        _mm256_loadu_ps(row + (c % stride_w) * plane->width + c / stride_w), a);
                }
            }
            _mm256_maskstore_ps(out + oh * out_w + ow, mask, _mm256_min_ps(hi, _mm256_max_ps(lo, a)));
        }
    }
}

/* plane_avx2 with 16-lane vectors and mask registers. */
__attribute__((target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl"))) static void plane_avx512(
    const phased_plane *plane, const float *w, ptrdiff_t k_h, ptrdiff_t k_w, ptrdiff_t stride_h,
    ptrdiff_t stride_w, ptrdiff_t dilation_h, ptrdiff_t dilation_w, float bias, float lower, float upper,
    float *out, ptrdiff_t out_h, ptrdiff_t out_w) {
    __m512 b = _mm512_set1_ps(bias), lo = _mm512_set1_ps(lower), hi = _mm512_set1_ps(upper);
    ptrdiff_t step = stride_h * plane->row_floats;
    for (ptrdiff_t ow = 0; ow < out_w; ow += 16) {
        ptrdiff_t left = out_w - ow;
        __mmask16 mask = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        ptrdiff_t oh = 0;
        for (; oh + 4 <= out_h; oh += 4) {
            __m512 a0 = b, a1 = b, a2 = b, a3 = b;
            for (ptrdiff_t kh = 0; kh < k_h; kh++) {
                const float *row = plane->data + (oh * stride_h + kh * dilation_h) * plane->row_floats + ow;
                for (ptrdiff_t kw = 0; kw < k_w; kw++) {
                    ptrdiff_t c = kw * dilation_w;
                    const float *source = row + (c % stride_w) * plane->width + c / stride_w;
                    __m512 t = _mm512_set1_ps(w[kh * k_w + kw]);
                    a0 = _mm512_fmadd_ps(t, _mm512_loadu_ps(source), a0);
                    a1 = _mm512_fmadd_ps(t, _mm512_loadu_ps(source + step), a1);
                    a2 = _mm512_fmadd_ps(t, _mm512_loadu_ps(source + 2 * step), a2);
                    a3 = _mm512_fmadd_ps(t, _mm512_loadu_ps(source + 3 * step), a3);
                }
            }
            float *target = out + oh * out_w + ow;
            _mm512_mask_storeu_ps(target, mask, _mm512_min_ps(hi, _mm512_max_ps(lo, a0)));
            _mm512_mask_storeu_ps(target + out_w, mask, _mm512_min_ps(hi, _mm512_max_ps(lo, a1)));
            _mm512_mask_storeu_ps(target + 2 * out_w, mask, _mm512_min_ps(hi, _mm512_max_ps(lo, a2)));
            _mm512_mask_storeu_ps(target + 3 * out_w, mask, _mm512_min_ps(hi, _mm512_max_ps(lo, a3)));
        }
        for (; oh < out_h; oh++) {
            __m512 a = b;
            for (ptrdiff_t kh = 0; kh < k_h; kh++) {
                const float *row = plane->data + (oh * stride_h + kh * dilation_h) * plane->row_floats + ow;
                for (ptrdiff_t kw = 0; kw < k_w; kw++) {
                    ptrdiff_t c = kw * dilation_w;
                    a = _mm512_fmadd_ps(_mm512_set1_ps(w[kh * k_w + kw]),
                                        _mm512_loadu_ps(row + (c % stride_w) * plane->width + c / stride_w), a);
                }
            }
            _mm512_mask_storeu_ps(out + oh * out_w + ow, mask, _mm512_min_ps(hi, _mm512_max_ps(lo, a)));
        }
    }
}
#endif

/* Stride 1 or 2, straight from the input: each tap of up to 4 vectors of 16 outputs is a
 * masked load (lanes outside the input read nothing and are zero; masked-off lanes never
 * fault), for stride 2 two loads whose even lanes a permute gathers. The masks and offsets
 * depend only on the column block and the tap column, so they are computed once per block;
 * rows outside the input are skipped. The vectors of a block are independent FMA chains. */
enum { DIRECT_TAPS = 16 };

/* The output rows of one block of `vectors` (a constant after inlining, so the
 * accumulators stay in registers) 16-output vectors. */
/* Output rows in groups of `rows_per_step` (so that rows × vectors ≥ 8 independent
 * accumulators keep both FMA pipes busy through their latency: one row of one or two vectors
 * alone waits on each FMA), each row `vectors` 16-output vectors from column ow0. */
__attribute__((target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl"), always_inline)) static inline void direct_rows(
    const float *in, ptrdiff_t in_h, ptrdiff_t in_w, const float *w, ptrdiff_t k_h, ptrdiff_t k_w, ptrdiff_t stride_h,
    ptrdiff_t stride_w, ptrdiff_t dilation_h, ptrdiff_t pad_h, float bias, __m512 lo, __m512 hi, float *out,
    ptrdiff_t out_h, ptrdiff_t out_w, ptrdiff_t ow0, ptrdiff_t offset[DIRECT_TAPS][4],
    __mmask16 low_mask[DIRECT_TAPS][4], __mmask16 high_mask[DIRECT_TAPS][4], const float *zeros, const int vectors,
    const int rows_per_step, const int stride2) {
    const __m512i evens = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    for (ptrdiff_t oh0 = 0; oh0 < out_h; oh0 += rows_per_step) {
        ptrdiff_t rows = out_h - oh0 < rows_per_step ? out_h - oh0 : rows_per_step;
        __m512 acc[8][4];
        for (int r = 0; r < rows_per_step; r++)
            for (int v = 0; v < vectors; v++) acc[r][v] = _mm512_set1_ps(bias);
        for (ptrdiff_t kh = 0; kh < k_h; kh++) {
            /* Each row's input line for this kh; a zero line in the padding (or past the last
             * row), so the tap loop has no branch. */
            const float *lines[8];
            for (int r = 0; r < rows_per_step; r++) {
                ptrdiff_t ih = (oh0 + r) * stride_h + kh * dilation_h - pad_h;
                lines[r] = r < rows && ih >= 0 && ih < in_h ? in + ih * in_w : zeros;
            }
            for (ptrdiff_t kw = 0; kw < k_w; kw++) {
                __m512 tap = _mm512_set1_ps(w[kh * k_w + kw]);
                for (int r = 0; r < rows_per_step; r++) {
                    for (int v = 0; v < vectors; v++) {
                        const float *source = lines[r] + offset[kw][v];
                        __m512 x = _mm512_maskz_loadu_ps(low_mask[kw][v], source);
                        if (stride2)
                            x = _mm512_permutex2var_ps(x, evens, _mm512_maskz_loadu_ps(high_mask[kw][v], source + 16));
                        acc[r][v] = _mm512_fmadd_ps(tap, x, acc[r][v]);
                    }
                }
            }
        }
        for (int r = 0; r < rows; r++) {
            float *target = out + (oh0 + r) * out_w;
            for (int v = 0; v < vectors; v++) {
                ptrdiff_t first = ow0 + 16 * v;
                __mmask16 mask = (__mmask16)ckiln_lane_range(0, out_w - first, 16);
                _mm512_mask_storeu_ps(target + first, mask, _mm512_min_ps(hi, _mm512_max_ps(lo, acc[r][v])));
            }
        }
    }
}
/* 0 when the zero line could not be allocated (the caller takes another path). */
__attribute__((target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl"))) static int direct_avx512(
    const float *in, ptrdiff_t in_h, ptrdiff_t in_w, const float *w, ptrdiff_t k_h, ptrdiff_t k_w,
    ptrdiff_t stride_h, ptrdiff_t stride_w, ptrdiff_t dilation_h, ptrdiff_t dilation_w, ptrdiff_t pad_h,
    ptrdiff_t pad_w, float bias, float lower, float upper, float *out, ptrdiff_t out_h, ptrdiff_t out_w) {
    __m512 lo = _mm512_set1_ps(lower), hi = _mm512_set1_ps(upper);
    /* A zero input line (the masked loads read only columns inside [0, in_w)). */
    float *zeros = ckiln_scratch(3, sizeof(float) * (size_t)in_w);
    if (!zeros) return 0;
    memset(zeros, 0, sizeof(float) * (size_t)in_w);
    ptrdiff_t offset[DIRECT_TAPS][4];
    __mmask16 low_mask[DIRECT_TAPS][4], high_mask[DIRECT_TAPS][4];
    for (ptrdiff_t ow0 = 0; ow0 < out_w; ow0 += 64) {
        int vectors = (int)((out_w - ow0 + 15) / 16);
        if (vectors > 4) vectors = 4;
        for (ptrdiff_t kw = 0; kw < k_w; kw++) {
            for (int v = 0; v < vectors; v++) {
                ptrdiff_t first = ow0 + 16 * v;                             /* first output of the vector */
                ptrdiff_t column = first * stride_w + kw * dilation_w - pad_w; /* its input column */
                ptrdiff_t outputs = out_w - first;
                offset[kw][v] = column;
                if (stride_w == 1) {
                    low_mask[kw][v] = (__mmask16)(ckiln_lane_range(-column, in_w - column, 16) & ckiln_lane_range(0, outputs, 16));
                    high_mask[kw][v] = 0;
                } else {
                    /* Inputs column ..< column + 32; output lane i is input 2·i. */
                    ptrdiff_t needed = 2 * (outputs < 16 ? outputs : 16) - 1;
                    uint32_t valid = ckiln_lane_range(-column, in_w - column, 32) & ckiln_lane_range(0, needed, 32);
                    low_mask[kw][v] = (__mmask16)(valid & 0xFFFF);
                    high_mask[kw][v] = (__mmask16)(valid >> 16);
                }
            }
        }
/* direct_rows with the vector count, rows per step and stride as constants. */
#define DIRECT_ROWS(vectors, rows_per_step, stride2)                                                              \
    direct_rows(in, in_h, in_w, w, k_h, k_w, stride_h, stride_w, dilation_h, pad_h, bias, lo, hi, out, out_h, out_w, \
                ow0, offset, low_mask, high_mask, zeros, vectors, rows_per_step, stride2)
        int stride2 = stride_w == 2;
        switch (vectors * 2 + stride2) {
        case 8: DIRECT_ROWS(4, 2, 0); break;
        case 9: DIRECT_ROWS(4, 2, 1); break;
        case 6: DIRECT_ROWS(3, 2, 0); break;
        case 7: DIRECT_ROWS(3, 2, 1); break;
        case 4: DIRECT_ROWS(2, 4, 0); break;
        case 5: DIRECT_ROWS(2, 4, 1); break;
        case 2: DIRECT_ROWS(1, 8, 0); break;
        default: DIRECT_ROWS(1, 8, 1); break;
        }
#undef DIRECT_ROWS
    }
    return 1;
}

/* The general path: bias, then each tap's contribution row by row, then the clamp. */
static void plane_rows(void (*row)(const float *, float *, ptrdiff_t, ptrdiff_t, ptrdiff_t, float),
                       void (*clamp)(float *, ptrdiff_t, float, float), const float *in, ptrdiff_t in_h,
                       ptrdiff_t in_w, const float *w, ptrdiff_t k_h, ptrdiff_t k_w, ptrdiff_t stride_h,
                       ptrdiff_t stride_w, ptrdiff_t dilation_h, ptrdiff_t dilation_w, ptrdiff_t pad_h,
                       ptrdiff_t pad_w, float bias, float lower, float upper, float *out, ptrdiff_t out_h,
                       ptrdiff_t out_w) {
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

void ckiln_depthwise_plane(int isa, const float *in, ptrdiff_t in_h, ptrdiff_t in_w, const float *w,
                           ptrdiff_t k_h, ptrdiff_t k_w, ptrdiff_t stride_h, ptrdiff_t stride_w,
                           ptrdiff_t dilation_h, ptrdiff_t dilation_w, ptrdiff_t pad_h, ptrdiff_t pad_w,
                           float bias, float lower, float upper, float *out, ptrdiff_t out_h,
                           ptrdiff_t out_w) {
    if (out_h <= 0 || out_w <= 0) return;
#if defined(__x86_64__) || defined(__i386__)
    int level = ckiln_clamp_isa(isa);
    if (level >= CKILN_ISA_AVX512 && (stride_w == 1 || stride_w == 2) && k_w <= DIRECT_TAPS) {
        if (direct_avx512(in, in_h, in_w, w, k_h, k_w, stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w,
                          bias, lower, upper, out, out_h, out_w))
            return;
    }
    if (level >= CKILN_ISA_AVX2) {
        /* Rows the taps reach, and floats per phase: outputs rounded up to whole 16-lane
         * vectors plus the widest tap offset. */
        ptrdiff_t rows = (out_h - 1) * stride_h + (k_h - 1) * dilation_h + 1;
        ptrdiff_t width = (out_w + 15) / 16 * 16 + (k_w - 1) * dilation_w / stride_w + 1;
        phased_plane plane;
        if (phase_plane(in, in_h, in_w, rows, stride_w, pad_h, pad_w, width, &plane)) {
            (level >= CKILN_ISA_AVX512 ? plane_avx512 : plane_avx2)(
                &plane, w, k_h, k_w, stride_h, stride_w, dilation_h, dilation_w, bias, lower, upper, out, out_h,
                out_w);
            return;
        }
        plane_rows(row_avx2, clamp_avx2, in, in_h, in_w, w, k_h, k_w, stride_h, stride_w, dilation_h, dilation_w,
                   pad_h, pad_w, bias, lower, upper, out, out_h, out_w);
        return;
    }
#endif
    plane_rows(row_portable, clamp_portable, in, in_h, in_w, w, k_h, k_w, stride_h, stride_w, dilation_h,
               dilation_w, pad_h, pad_w, bias, lower, upper, out, out_h, out_w);
}

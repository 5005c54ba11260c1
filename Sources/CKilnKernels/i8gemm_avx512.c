/* Exact int8 GEMM micro-kernels on AVX-512: the packed operands of i8gemm.c, 12×32 tiles.
 *
 * Plain AVX-512 (the pair packing): one zmm load of a k pair of a 16-column B panel is 16
 * int32 lanes, lane j holding (b[k][j], b[k+1][j]) as int16; an A pair (a[k], a[k+1]) is
 * broadcast as one int32; vpmaddwd then vpaddd add a[k]·b[k][j] + a[k+1]·b[k+1][j] into
 * lane j. It equals the AVX2 kernel lane for lane (vpmaddwd saturates only for two products
 * of −32768·−32768, impossible with int8 operands).
 *
 * AVX512-VNNI (the quad packing): lane j holds b[k..k+3][j] as 4 signed bytes, the A quad is
 * broadcast as a[k..k+3] + 128 (unsigned bytes), and vpdpbusd (not the saturating
 * vpdpbusds) adds Σ_t (a[k+t] + 128)·b[k+t][j] — four products of at most 255·128 in
 * magnitude, exact in int32. Over all k that is Σ a·b + 128·Σ b (mod 2^32), so subtracting
 * the packed 128·Σ_k b[k][j] once gives Σ a·b mod 2^32: the same int32 as the pair kernels
 * for every k, wrap-around included.
 *
 * A tile is up to two 6-row A panels (row-major, so row i of either at 4·i·kp bytes) times
 * up to two 16-column B panels (the second 64·kp bytes after the first): kp steps of 4
 * bytes of A and 64 bytes of B per row and panel, pairs or quads alike. A tile of at most 6
 * rows or 16 columns never reads the second panel, which need not exist. 12×32 keeps 24
 * accumulators, 2 B registers and a broadcast live. */
#include "internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

enum { MR = 6, NR = CKILN_I8_NR };

#define AVX512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl")))
#define AVX512_VNNI __attribute__((target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))

/* Writes (or adds into) the columns `mask` of one row of C. */
AVX512 static inline void store_row(int32_t *c, __mmask16 mask, __m512i x, int accumulate) {
    if (accumulate) x = _mm512_add_epi32(x, _mm512_maskz_loadu_epi32(mask, c));
    _mm512_mask_storeu_epi32(c, mask, x);
}

/* out = stage(x (+ C when accumulate)) for the columns `mask` of one row. */
AVX512 static inline void requantize_row(int8_t *out, __mmask16 mask, __m512i x, const int32_t *c,
                                         int accumulate, const int32_t *offsets, __m128i shift,
                                         __m512i lower, __m512i upper) {
    if (accumulate) x = _mm512_add_epi32(x, _mm512_maskz_loadu_epi32(mask, c));
    x = _mm512_add_epi32(x, _mm512_maskz_loadu_epi32(mask, offsets));
    x = _mm512_min_epi32(_mm512_max_epi32(_mm512_sra_epi32(x, shift), lower), upper);
    _mm512_mask_cvtepi32_storeu_epi8(out, mask, x);
}

/* The first `columns` lanes (none when columns ≤ 0). */
AVX512 static inline __mmask16 column_mask(int columns) {
    if (columns <= 0) return 0;
    return columns >= NR ? (__mmask16)0xFFFF : (__mmask16)((1u << columns) - 1);
}

/* Accumulators of row i, for panels 0 and 1 (named, not an array: clang would zero an
 * array through memory). */
#define ACC(i) __m512i acc##i##_0 = _mm512_setzero_si512(), acc##i##_1 = _mm512_setzero_si512()

/* Row i of k pair q: its A pair broadcast, times both B registers. */
#define STEP(step, i)                                                                           \
    if (ROWS > i) {                                                                             \
        __m512i x = _mm512_set1_epi32(ckiln_i8_a_pair(a, kp, i, q));                            \
        acc##i##_0 = step(acc##i##_0, x, b0);                                                   \
        if (PANELS > 1) acc##i##_1 = step(acc##i##_1, x, b1);                                   \
    }

#define STORE(i)                                                                                \
    if (ROWS > i && mr > i) {                                                                   \
        if (stage) {                                                                            \
            requantize_row(out + i * ldo, mask0, acc##i##_0, c + i * ldc, accumulate, stage->offsets, \
                           shift, lower, upper);                                                \
            if (PANELS > 1 && nr > NR)                                                          \
                requantize_row(out + i * ldo + NR, mask1, acc##i##_1, c + i * ldc + NR, accumulate, \
                               stage->offsets + NR, shift, lower, upper);                       \
        } else {                                                                                \
            store_row(c + i * ldc, mask0, acc##i##_0, accumulate);                              \
            if (PANELS > 1 && nr > NR) store_row(c + i * ldc + NR, mask1, acc##i##_1, accumulate); \
        }                                                                                       \
    }

/* Row i less the quads' +128 correction of its columns. */
#define CORRECT(i)                                                                              \
    if (ROWS > i) {                                                                             \
        acc##i##_0 = _mm512_sub_epi32(acc##i##_0, sum0);                                        \
        if (PANELS > 1) acc##i##_1 = _mm512_sub_epi32(acc##i##_1, sum1);                        \
    }

/* The tile for ROWS (6 or 12) and PANELS (1 or 2), `step` the lane-wise acc + pair product;
 * the rows and panels beyond them are dead code. */
#define DEFINE_TILE(name, attribute, step, rows, panels)                                        \
    attribute static void name(ptrdiff_t kp, const int16_t *a, const int16_t *b, int32_t *c,    \
                               ptrdiff_t ldc, int mr, int nr, int accumulate, const int32_t *sums, \
                               const ckiln_i8_stage *stage, int8_t *out, ptrdiff_t ldo) {       \
        enum { ROWS = rows, PANELS = panels };                                                  \
        ACC(0); ACC(1); ACC(2); ACC(3); ACC(4); ACC(5);                                         \
        ACC(6); ACC(7); ACC(8); ACC(9); ACC(10); ACC(11);                                       \
        const int16_t *b_second = b + 2 * NR * kp;                                              \
        for (ptrdiff_t q = 0; q < kp; q++) {                                                    \
            __m512i b0 = _mm512_loadu_si512((const void *)(b + q * 2 * NR));                    \
            __m512i b1 = PANELS > 1 ? _mm512_loadu_si512((const void *)(b_second + q * 2 * NR)) : b0; \
            STEP(step, 0) STEP(step, 1) STEP(step, 2) STEP(step, 3) STEP(step, 4) STEP(step, 5) \
            STEP(step, 6) STEP(step, 7) STEP(step, 8) STEP(step, 9) STEP(step, 10) STEP(step, 11) \
        }                                                                                       \
        __mmask16 mask0 = column_mask(nr), mask1 = column_mask(nr - NR);                        \
        __m128i shift = _mm_cvtsi32_si128(stage ? stage->shift : 0);                            \
        __m512i lower = _mm512_set1_epi32(stage ? stage->lower : 0);                            \
        __m512i upper = _mm512_set1_epi32(stage ? stage->upper : 0);                            \
        if (sums) {                                                                             \
            __m512i sum0 = _mm512_maskz_loadu_epi32(mask0, sums);                               \
            __m512i sum1 = PANELS > 1 ? _mm512_maskz_loadu_epi32(mask1, sums + NR) : sum0;      \
            CORRECT(0) CORRECT(1) CORRECT(2) CORRECT(3) CORRECT(4) CORRECT(5)                   \
            CORRECT(6) CORRECT(7) CORRECT(8) CORRECT(9) CORRECT(10) CORRECT(11)                 \
        }                                                                                       \
        STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5)                                   \
        STORE(6) STORE(7) STORE(8) STORE(9) STORE(10) STORE(11)                                 \
    }

AVX512_VNNI static inline __m512i step_vnni(__m512i acc, __m512i x, __m512i b) {
    return _mm512_dpbusd_epi32(acc, x, b);
}

AVX512 static inline __m512i step_madd(__m512i acc, __m512i x, __m512i b) {
    return _mm512_add_epi32(acc, _mm512_madd_epi16(x, b));
}

DEFINE_TILE(vnni_12x32, AVX512_VNNI, step_vnni, 12, 2)
DEFINE_TILE(vnni_12x16, AVX512_VNNI, step_vnni, 12, 1)
DEFINE_TILE(vnni_6x32, AVX512_VNNI, step_vnni, 6, 2)
DEFINE_TILE(vnni_6x16, AVX512_VNNI, step_vnni, 6, 1)
DEFINE_TILE(madd_12x32, AVX512, step_madd, 12, 2)
DEFINE_TILE(madd_12x16, AVX512, step_madd, 12, 1)
DEFINE_TILE(madd_6x32, AVX512, step_madd, 6, 2)
DEFINE_TILE(madd_6x16, AVX512, step_madd, 6, 1)

/* The smallest tile that covers mr × nr: no products of absent panels. */
void ckiln_i8_ukr_avx512_vnni(ptrdiff_t kp, const int16_t *a, const int16_t *b, int32_t *c, ptrdiff_t ldc,
                              int mr, int nr, int accumulate, const int32_t *sums, const ckiln_i8_stage *stage,
                              int8_t *out, ptrdiff_t ldo) {
    if (mr > MR) {
        (nr > NR ? vnni_12x32 : vnni_12x16)(kp, a, b, c, ldc, mr, nr, accumulate, sums, stage, out, ldo);
    } else {
        (nr > NR ? vnni_6x32 : vnni_6x16)(kp, a, b, c, ldc, mr, nr, accumulate, sums, stage, out, ldo);
    }
}

void ckiln_i8_ukr_avx512(ptrdiff_t kp, const int16_t *a, const int16_t *b, int32_t *c, ptrdiff_t ldc,
                         int mr, int nr, int accumulate, const int32_t *sums, const ckiln_i8_stage *stage,
                         int8_t *out, ptrdiff_t ldo) {
    if (mr > MR) {
        (nr > NR ? madd_12x32 : madd_12x16)(kp, a, b, c, ldc, mr, nr, accumulate, sums, stage, out, ldo);
    } else {
        (nr > NR ? madd_6x32 : madd_6x16)(kp, a, b, c, ldc, mr, nr, accumulate, sums, stage, out, ldo);
    }
}
#endif

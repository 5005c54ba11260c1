/* The AVX-512 SGEMM micro-kernel: a 6×32 tile in twelve zmm accumulators.
 *
 * It reads the packed formats the AVX2 kernel reads (6-row A panels, 16-column B panels),
 * taking two adjacent B panels at once: the second starts 16·kc floats after the first.
 * Each k costs two B loads, six A broadcasts and twelve FMAs, enough independent FMAs to
 * keep two 512-bit FMA pipes busy through their latency. Edges use masks instead of a
 * scalar tail, so the per-element arithmetic (one FMA per k in order, then beta, bias and
 * clamp) is that of the AVX2 kernel whatever the tile shape. A 12×32 tile (two A panels,
 * 24 accumulators) measured no faster on large shapes, so this simpler one stays. */
#include "internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl")))

/* The low `count` lanes (0...16). */
AVX512 static inline __mmask16 lanes(int count) {
    return count >= 16 ? (__mmask16)0xFFFF : count <= 0 ? (__mmask16)0 : (__mmask16)((1u << count) - 1);
}

/* x + bias, then clamped to [lower, upper]; NaN stays NaN (max/min return the second operand). */
AVX512 static inline __m512 finish(__m512 x, __m512 bias, __m512 lower, __m512 upper) {
    x = _mm512_add_ps(x, bias);
    x = _mm512_max_ps(lower, x);
    return _mm512_min_ps(upper, x);
}

/* Row `row` of a tile: beta·C, the epilogue and the store, for the columns in mask m. */
AVX512 static inline __m512 finish_row(const float *c, __m512 x, __mmask16 m, float beta,
                                       const ckiln_epilogue *e, int row, ptrdiff_t column) {
    if (beta != 0) x = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(m, c), x);
    if (e) {
        __m512 bias = _mm512_setzero_ps();
        if (e->bias_kind == CKILN_BIAS_ROW) bias = _mm512_set1_ps(e->bias[row]);
        else if (e->bias_kind == CKILN_BIAS_COLUMN) bias = _mm512_maskz_loadu_ps(m, e->bias + column);
        x = finish(x, bias, _mm512_set1_ps(e->lower), _mm512_set1_ps(e->upper));
    }
    return x;
}

AVX512 static inline void store_row(float *c, __m512 x0, __m512 x1, __mmask16 m0, __mmask16 m1,
                                    float beta, const ckiln_epilogue *e, int row) {
    _mm512_mask_storeu_ps(c, m0, finish_row(c, x0, m0, beta, e, row, 0));
    if (m1) _mm512_mask_storeu_ps(c + 16, m1, finish_row(c + 16, x1, m1, beta, e, row, 16));
}

/* One k of the 6×32 tile: a broadcast of each row's A value times both 16-column halves. */
#define STEP2(p)                                                                               \
    do {                                                                                       \
        __m512 b0 = _mm512_loadu_ps(b + (p) * 16), b1 = _mm512_loadu_ps(b1p + (p) * 16);       \
        __m512 x;                                                                              \
        x = _mm512_set1_ps(a[(p) * 6 + 0]);                                                    \
        c00 = _mm512_fmadd_ps(x, b0, c00); c01 = _mm512_fmadd_ps(x, b1, c01);                  \
        x = _mm512_set1_ps(a[(p) * 6 + 1]);                                                    \
        c10 = _mm512_fmadd_ps(x, b0, c10); c11 = _mm512_fmadd_ps(x, b1, c11);                  \
        x = _mm512_set1_ps(a[(p) * 6 + 2]);                                                    \
        c20 = _mm512_fmadd_ps(x, b0, c20); c21 = _mm512_fmadd_ps(x, b1, c21);                  \
        x = _mm512_set1_ps(a[(p) * 6 + 3]);                                                    \
        c30 = _mm512_fmadd_ps(x, b0, c30); c31 = _mm512_fmadd_ps(x, b1, c31);                  \
        x = _mm512_set1_ps(a[(p) * 6 + 4]);                                                    \
        c40 = _mm512_fmadd_ps(x, b0, c40); c41 = _mm512_fmadd_ps(x, b1, c41);                  \
        x = _mm512_set1_ps(a[(p) * 6 + 5]);                                                    \
        c50 = _mm512_fmadd_ps(x, b0, c50); c51 = _mm512_fmadd_ps(x, b1, c51);                  \
    } while (0)

/* One k of the 6×16 tile (a single B panel). */
#define STEP1(p)                                                                               \
    do {                                                                                       \
        __m512 b0 = _mm512_loadu_ps(b + (p) * 16);                                             \
        c00 = _mm512_fmadd_ps(_mm512_set1_ps(a[(p) * 6 + 0]), b0, c00);                        \
        c10 = _mm512_fmadd_ps(_mm512_set1_ps(a[(p) * 6 + 1]), b0, c10);                        \
        c20 = _mm512_fmadd_ps(_mm512_set1_ps(a[(p) * 6 + 2]), b0, c20);                        \
        c30 = _mm512_fmadd_ps(_mm512_set1_ps(a[(p) * 6 + 3]), b0, c30);                        \
        c40 = _mm512_fmadd_ps(_mm512_set1_ps(a[(p) * 6 + 4]), b0, c40);                        \
        c50 = _mm512_fmadd_ps(_mm512_set1_ps(a[(p) * 6 + 5]), b0, c50);                        \
    } while (0)

/* The last B panel of a block when it is the only one left (nr ≤ 16): six accumulators,
 * so FMA latency, not throughput, bounds it; it runs on at most one tile column per block. */
AVX512 static void ukr_6x16(ptrdiff_t kc, const float *a, const float *b, float *c, ptrdiff_t ldc,
                            int mr, int nr, float beta, const ckiln_epilogue *epilogue) {
    __m512 c00 = _mm512_setzero_ps(), c10 = _mm512_setzero_ps(), c20 = _mm512_setzero_ps();
    __m512 c30 = _mm512_setzero_ps(), c40 = _mm512_setzero_ps(), c50 = _mm512_setzero_ps();
    ptrdiff_t p = 0;
    for (; p + 4 <= kc; p += 4) {
        STEP1(0);
        STEP1(1);
        STEP1(2);
        STEP1(3);
        a += 24;
        b += 64;
    }
    for (; p < kc; p++) {
        STEP1(0);
        a += 6;
        b += 16;
    }
    __mmask16 m0 = lanes(nr), none = 0;
    __m512 zero = _mm512_setzero_ps();
    store_row(c + 0 * ldc, c00, zero, m0, none, beta, epilogue, 0);
    if (mr > 1) store_row(c + 1 * ldc, c10, zero, m0, none, beta, epilogue, 1);
    if (mr > 2) store_row(c + 2 * ldc, c20, zero, m0, none, beta, epilogue, 2);
    if (mr > 3) store_row(c + 3 * ldc, c30, zero, m0, none, beta, epilogue, 3);
    if (mr > 4) store_row(c + 4 * ldc, c40, zero, m0, none, beta, epilogue, 4);
    if (mr > 5) store_row(c + 5 * ldc, c50, zero, m0, none, beta, epilogue, 5);
}

AVX512 void ckiln_sgemm_ukr_avx512(ptrdiff_t kc, const float *a, const float *b, float *c, ptrdiff_t ldc,
                                   int mr, int nr, float beta, const ckiln_epilogue *epilogue) {
    if (nr <= 16) {
        ukr_6x16(kc, a, b, c, ldc, mr, nr, beta, epilogue);
        return;
    }
    const float *b1p = b + 16 * kc;
    /* C's lines are fetched while the k loop runs: when C is beyond L2 (1024×1024), the
     * beta loads and stores at the end otherwise wait on L3 (measured 180 → 214 GFLOP/s). */
    for (int i = 0; i < mr; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 31), _MM_HINT_T0);
    }
    __m512 c00 = _mm512_setzero_ps(), c01 = _mm512_setzero_ps();
    __m512 c10 = _mm512_setzero_ps(), c11 = _mm512_setzero_ps();
    __m512 c20 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps();
    __m512 c30 = _mm512_setzero_ps(), c31 = _mm512_setzero_ps();
    __m512 c40 = _mm512_setzero_ps(), c41 = _mm512_setzero_ps();
    __m512 c50 = _mm512_setzero_ps(), c51 = _mm512_setzero_ps();
    ptrdiff_t p = 0;
    for (; p + 4 <= kc; p += 4) {
        STEP2(0);
        STEP2(1);
        STEP2(2);
        STEP2(3);
        a += 24;
        b += 64;
        b1p += 64;
    }
    for (; p < kc; p++) {
        STEP2(0);
        a += 6;
        b += 16;
        b1p += 16;
    }
    __mmask16 m0 = lanes(nr), m1 = lanes(nr - 16);
    store_row(c + 0 * ldc, c00, c01, m0, m1, beta, epilogue, 0);
    if (mr > 1) store_row(c + 1 * ldc, c10, c11, m0, m1, beta, epilogue, 1);
    if (mr > 2) store_row(c + 2 * ldc, c20, c21, m0, m1, beta, epilogue, 2);
    if (mr > 3) store_row(c + 3 * ldc, c30, c31, m0, m1, beta, epilogue, 3);
    if (mr > 4) store_row(c + 4 * ldc, c40, c41, m0, m1, beta, epilogue, 4);
    if (mr > 5) store_row(c + 5 * ldc, c50, c51, m0, m1, beta, epilogue, 5);
}

/* pack_b of the driver for op(B) = B (not transposed), 16 columns per panel: one zmm load and
 * store per k, the last panel's missing columns zeroed by the load mask. The 64-byte memcpy
 * of the portable packer compiles to four 16-byte moves; this measured 5-12 % faster on
 * convolutions with 64 output channels, where each packed B value serves only 64 rows. */
AVX512 void ckiln_sgemm_pack_b_avx512(const float *b, ptrdiff_t ldb, ptrdiff_t depths, ptrdiff_t columns,
                                      float *out) {
    for (ptrdiff_t panel = 0; panel < columns; panel += 16) {
        __mmask16 m = lanes((int)(columns - panel < 16 ? columns - panel : 16));
        const float *source = b + panel;
        ptrdiff_t p = 0;
        for (; p + 4 <= depths; p += 4) {
            _mm512_storeu_ps(out + (p + 0) * 16, _mm512_maskz_loadu_ps(m, source + (p + 0) * ldb));
            _mm512_storeu_ps(out + (p + 1) * 16, _mm512_maskz_loadu_ps(m, source + (p + 1) * ldb));
            _mm512_storeu_ps(out + (p + 2) * 16, _mm512_maskz_loadu_ps(m, source + (p + 2) * ldb));
            _mm512_storeu_ps(out + (p + 3) * 16, _mm512_maskz_loadu_ps(m, source + (p + 3) * ldb));
        }
        for (; p < depths; p++) _mm512_storeu_ps(out + p * 16, _mm512_maskz_loadu_ps(m, source + p * ldb));
        out += 16 * depths;
    }
}

/* pack_b of the driver for op(B) = B^T (b is columns × depths, row-major), 16 columns per
 * panel: 16 rows of b × 16 k through a 16×16 register transpose, so each packed k is one zmm
 * store. Rows past `columns` pack as zeros, the depth tail through masked loads. */
AVX512 void ckiln_sgemm_pack_bt_avx512(const float *b, ptrdiff_t ldb, ptrdiff_t depths, ptrdiff_t columns,
                                       float *out) {
    for (ptrdiff_t panel = 0; panel < columns; panel += 16) {
        ptrdiff_t used = columns - panel < 16 ? columns - panel : 16;
        for (ptrdiff_t p = 0; p < depths; p += 16) {
            __mmask16 m = lanes((int)(depths - p < 16 ? depths - p : 16));
            __m512 r[16], t[16], u[16];
            for (int i = 0; i < 16; i++)
                r[i] = i < used ? _mm512_maskz_loadu_ps(m, b + (panel + i) * ldb + p) : _mm512_setzero_ps();
            /* Per 128-bit lane L: t[2i], t[2i+1] interleave rows 2i and 2i+1 at k 4L..4L+3. */
            for (int i = 0; i < 8; i++) {
                t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
                t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
            }
            /* u[4q + g], lane L: rows 4g..4g+3 at k = 4L + q. */
            for (int g = 0; g < 4; g++) {
                u[0 + g] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
                u[4 + g] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0xEE);
                u[8 + g] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
                u[12 + g] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
            }
            /* Lane L of the four row groups side by side: the 16 columns at k = 4L + q. */
            for (int q = 0; q < 4; q++) {
                __m512 lo01 = _mm512_shuffle_f32x4(u[4 * q], u[4 * q + 1], 0x44);
                __m512 hi01 = _mm512_shuffle_f32x4(u[4 * q], u[4 * q + 1], 0xEE);
                __m512 lo23 = _mm512_shuffle_f32x4(u[4 * q + 2], u[4 * q + 3], 0x44);
                __m512 hi23 = _mm512_shuffle_f32x4(u[4 * q + 2], u[4 * q + 3], 0xEE);
                __m512 column[4] = {
                    _mm512_shuffle_f32x4(lo01, lo23, 0x88), _mm512_shuffle_f32x4(lo01, lo23, 0xDD),
                    _mm512_shuffle_f32x4(hi01, hi23, 0x88), _mm512_shuffle_f32x4(hi01, hi23, 0xDD),
                };
                for (int lane = 0; lane < 4; lane++) {
                    ptrdiff_t depth = p + 4 * lane + q;
                    if (depth < depths) _mm512_storeu_ps(out + depth * 16, column[lane]);
                }
            }
        }
        out += 16 * depths;
    }
}

#else
void ckiln_sgemm_pack_bt_avx512(const float *b, ptrdiff_t ldb, ptrdiff_t depths, ptrdiff_t columns,
                                float *out) {
    (void)b; (void)ldb; (void)depths; (void)columns; (void)out;
}

void ckiln_sgemm_pack_b_avx512(const float *b, ptrdiff_t ldb, ptrdiff_t depths, ptrdiff_t columns,
                               float *out) {
    (void)b; (void)ldb; (void)depths; (void)columns; (void)out;
}

void ckiln_sgemm_ukr_avx512(ptrdiff_t kc, const float *a, const float *b, float *c, ptrdiff_t ldc,
                            int mr, int nr, float beta, const ckiln_epilogue *epilogue) {
    ckiln_sgemm_ukr_portable(kc, a, b, c, ldc, mr, nr < 16 ? nr : 16, beta, epilogue);
    if (nr > 16) {
        ckiln_epilogue shifted;
        if (epilogue && epilogue->bias_kind == CKILN_BIAS_COLUMN) {
            shifted = *epilogue;
            shifted.bias += 16;
            epilogue = &shifted;
        }
        ckiln_sgemm_ukr_portable(kc, a, b + 16 * kc, c + 16, ldc, mr, nr - 16, beta, epilogue);
    }
}
#endif

/* Exact int8 GEMM: int8 widened to int16 pairs, multiplied and pair-summed into int32
 * (vpmaddwd on AVX2 and AVX-512: i8gemm_avx512.c), never through a saturating 16-bit
 * intermediate; with AVX512-VNNI, quads of A + 128 (unsigned) times B through vpdpbusd,
 * corrected by 128·Σ_k b per column. */
#include <string.h>

#include "internal.h"

enum { MR = 6, NR = CKILN_I8_NR };
/* k pairs per slice (512 k: a 6-row A panel is 6 KiB, a B panel 32 KiB). */
enum { KCP = CKILN_I8_KC_PAIRS };
/* Rows of a packed A block (a multiple of every kernel's tile rows, 6 and 12). */
enum { MC = 192 };

static ptrdiff_t min_pd(ptrdiff_t x, ptrdiff_t y) { return x < y ? x : y; }
static ptrdiff_t round_up(ptrdiff_t x, ptrdiff_t to) { return (x + to - 1) / to * to; }

/* int16 values of the pair packing; the quad packing and the column sums follow it. */
static size_t pairs_count(ptrdiff_t k, ptrdiff_t n) { return (size_t)round_up(n, NR) * (size_t)round_up(k, 2); }

size_t ckiln_i8gemm_packed_b_count(ptrdiff_t k, ptrdiff_t n) {
    if (k <= 0 || n <= 0) return 0;
    /* Pairs, then quads (1 byte a value: half as many int16), then one int32 per column. */
    return pairs_count(k, n) + (size_t)round_up(n, NR) * (size_t)round_up(k, 4) / 2 + 2 * (size_t)round_up(n, NR);
}

/* Layout: slices of KCP pairs; in a slice, 16-column panels; in a panel, per pair, 32 int16:
 * columns 0–7 as (k, k+1) pairs, then columns 8–15. Zero beyond k and n.
 * After it, for the vpdpbusd kernel: the same slices (512 k) of 16-column panels, per quad
 * of k 64 bytes (column j's b[k..k+3] at 4j), zero beyond k and n; then per column
 * 128 · Σ_k b[k][j] (int32, wrapping), the correction for A offset by +128. */
void ckiln_i8gemm_pack_b(ptrdiff_t k, ptrdiff_t n, const int8_t *b, ptrdiff_t ldb, int16_t *packed) {
    if (k <= 0 || n <= 0) return;
    ptrdiff_t padded_n = round_up(n, NR);
    int8_t *quads = (int8_t *)(packed + pairs_count(k, n));
    int32_t sums[NR];
    for (ptrdiff_t k0 = 0; k0 < k; k0 += 2 * KCP) {
        ptrdiff_t slice = (min_pd(2 * KCP, k - k0) + 3) / 4;
        int8_t *base = quads + k0 * padded_n;
        for (ptrdiff_t panel = 0; panel < padded_n; panel += NR) {
            int8_t *out = base + panel * slice * 4;
            for (ptrdiff_t q = 0; q < slice; q++, out += 4 * NR) {
                for (ptrdiff_t j = 0; j < NR; j++) {
                    for (ptrdiff_t t = 0; t < 4; t++) {
                        ptrdiff_t row = k0 + 4 * q + t, column = panel + j;
                        out[4 * j + t] = row < k && column < n ? b[row * ldb + column] : 0;
                    }
                }
            }
        }
    }
    int32_t *column_sums = (int32_t *)(quads + padded_n * round_up(k, 4));
    for (ptrdiff_t panel = 0; panel < padded_n; panel += NR) {
        for (ptrdiff_t j = 0; j < NR; j++) {
            uint32_t sum = 0;
            for (ptrdiff_t row = 0; row < k && panel + j < n; row++) sum += (uint32_t)(int32_t)b[row * ldb + panel + j];
            sums[j] = (int32_t)(sum * 128u);
        }
        memcpy(column_sums + panel, sums, sizeof sums);
    }
    ptrdiff_t pairs = (k + 1) / 2;
    ptrdiff_t padded = round_up(n, NR);
    for (ptrdiff_t qc = 0; qc < pairs; qc += KCP) {
        ptrdiff_t slice = min_pd(KCP, pairs - qc);
        int16_t *base = packed + qc * padded * 2;
        for (ptrdiff_t panel = 0; panel < padded; panel += NR) {
            int16_t *out = base + panel * slice * 2;
            for (ptrdiff_t q = 0; q < slice; q++) {
                ptrdiff_t k0 = 2 * (qc + q);
                for (ptrdiff_t j = 0; j < NR; j++) {
                    ptrdiff_t column = panel + j;
                    int16_t even = 0, odd = 0;
                    if (column < n) {
                        even = b[k0 * ldb + column];
                        if (k0 + 1 < k) odd = b[(k0 + 1) * ldb + column];
                    }
                    out[2 * j] = even;
                    out[2 * j + 1] = odd;
                }
                out += 2 * NR;
            }
        }
    }
}

/* A[row.., pair qc..] into 6-row panels: per row, its `slice` pairs widened to 2·slice int16
 * (the int32 word of pair q holds (a[k], a[k+1]) as the kernels' B words do), zero past k and
 * in the rows past `rows`. A plain widening copy, which the compiler vectorizes (compiled
 * for AVX-512 too, where vpmovsxbw widens 32 values at once). */
static inline __attribute__((always_inline)) void pack_a_body(const int8_t *a, ptrdiff_t lda, ptrdiff_t k,
                                                              ptrdiff_t row, ptrdiff_t rows, ptrdiff_t qc,
                                                              ptrdiff_t slice, int16_t *out) {
    ptrdiff_t values = min_pd(2 * slice, k - 2 * qc);
    for (ptrdiff_t panel = 0; panel < rows; panel += MR) {
        ptrdiff_t used = min_pd(MR, rows - panel);
        for (ptrdiff_t i = 0; i < MR; i++) {
            int16_t *to = out + i * 2 * slice;
            ptrdiff_t j = 0;
            if (i < used) {
                const int8_t *source = a + (row + panel + i) * lda + 2 * qc;
                for (; j < values; j++) to[j] = source[j];
            }
            for (; j < 2 * slice; j++) to[j] = 0;
        }
        out += MR * 2 * slice;
    }
}

static void pack_a(const int8_t *a, ptrdiff_t lda, ptrdiff_t k, ptrdiff_t row, ptrdiff_t rows, ptrdiff_t qc,
                   ptrdiff_t slice, int16_t *out) {
    pack_a_body(a, lda, k, row, rows, qc, slice, out);
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define AVX512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl")))

AVX512 static void pack_a_avx512(const int8_t *a, ptrdiff_t lda, ptrdiff_t k, ptrdiff_t row, ptrdiff_t rows,
                                 ptrdiff_t qc, ptrdiff_t slice, int16_t *out) {
    pack_a_body(a, lda, k, row, rows, qc, slice, out);
}

/* A[row.., k0..] for the vpdpbusd kernel, in 6-row panels of the pair layout's byte
 * geometry: per row, `quads` quads of a + 128 as unsigned bytes (a ^ 0x80), 0x80 past k
 * (B is zero there) and in the rows past `rows`. */
AVX512 static void pack_a_u8(const int8_t *a, ptrdiff_t lda, ptrdiff_t k, ptrdiff_t row, ptrdiff_t rows,
                             ptrdiff_t k0, ptrdiff_t quads, uint8_t *out) {
    ptrdiff_t values = min_pd(4 * quads, k - k0), width = 4 * quads;
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    if (lda == width && values == width) {
        /* Whole rows stored back to back (an NHWC feature map whose channels are a multiple
         * of 4): the panels are the same bytes in the same order, so one flat flipped copy,
         * then the 0x80 rows that complete the last panel. */
        const int8_t *source = a + row * lda + k0;
        ptrdiff_t bytes = rows * width, padded = round_up(rows, MR) * width;
        for (ptrdiff_t j = 0; j < padded; j += 64) {
            ptrdiff_t load = min_pd(64, bytes - j), store = min_pd(64, padded - j);
            __mmask64 loaded = load <= 0 ? 0 : load >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << load) - 1);
            __mmask64 stored = store >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << store) - 1);
            _mm512_mask_storeu_epi8(out + j, stored, _mm512_xor_si512(_mm512_maskz_loadu_epi8(loaded, source + j), flip));
        }
        return;
    }
    /* 64 bytes of a row per step, the same masks for every row: lanes past `values` load as 0
     * and flip to the 0x80 pad. */
    for (ptrdiff_t j = 0; j < width; j += 64) {
        ptrdiff_t load = min_pd(64, values - j), store = min_pd(64, width - j);
        __mmask64 loaded = load <= 0 ? 0 : load >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << load) - 1);
        __mmask64 stored = store >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << store) - 1);
        const int8_t *source = a + row * lda + k0 + j;
        uint8_t *to = out + j;
        for (ptrdiff_t i = 0; i < rows; i++, source += lda, to += width)
            _mm512_mask_storeu_epi8(to, stored, _mm512_xor_si512(_mm512_maskz_loadu_epi8(loaded, source), flip));
        for (ptrdiff_t i = rows; i < round_up(rows, MR); i++, to += width) _mm512_mask_storeu_epi8(to, stored, flip);
    }
}
#endif

/* Both entry points: C = A·B, and with a stage out = stage(C) per finished tile (fused into
 * the AVX-512 kernels; after the kernel, while the tile is in L1, otherwise). */
static int gemm(int isa, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const int8_t *a, ptrdiff_t lda,
                const int16_t *packed_b, ptrdiff_t packed_n, ptrdiff_t column0, int32_t *c, ptrdiff_t ldc,
                const ckiln_i8_stage *stage, int8_t *out, ptrdiff_t ldo) {
    if (m <= 0 || n <= 0) return 0;
    if (k <= 0) {
        for (ptrdiff_t i = 0; i < m; i++) memset(c + i * ldc, 0, sizeof(int32_t) * (size_t)n);
        if (stage) ckiln_i8_requantize(isa, m, n, c, ldc, stage, out, ldo);
        return 0;
    }
    /* The kernel and its tile: AVX-512 tiles span two A and two B panels. With VNNI, the
     * quad packing and vpdpbusd (see i8gemm_avx512.c). */
    int level = ckiln_clamp_isa(isa);
    ckiln_i8_ukr kernel = level >= CKILN_ISA_AVX2 ? ckiln_i8_ukr_avx2 : ckiln_i8_ukr_portable;
    ckiln_i8_ukr_staged staged = NULL;
    int quads = 0;
    ptrdiff_t tile_m = MR, tile_n = NR;
#if defined(__x86_64__) || defined(__i386__)
    if (level >= CKILN_ISA_AVX512) {
        quads = level >= CKILN_ISA_AVX512_VNNI;
        staged = quads ? ckiln_i8_ukr_avx512_vnni : ckiln_i8_ukr_avx512;
        tile_m = 2 * MR;
        tile_n = 2 * NR;
    }
#endif
    ptrdiff_t pairs = (k + 1) / 2;
    ptrdiff_t padded = round_up(packed_n, NR);
    const int8_t *packed_quads = (const int8_t *)(packed_b + pairs_count(k, packed_n));
    const int32_t *column_sums = (const int32_t *)(packed_quads + padded * round_up(k, 4)) + column0;
    int16_t *buffer_a = ckiln_scratch(2, sizeof(int32_t) * (size_t)(min_pd(MC, round_up(m, MR)) * min_pd(KCP, pairs)));
    if (!buffer_a) return -1;
    for (ptrdiff_t qc = 0; qc < pairs; qc += KCP) {
        ptrdiff_t slice = min_pd(KCP, pairs - qc);
        int last = qc + slice >= pairs;
        /* The kernels' depth steps and B panels of this slice: pairs, or quads (each step
         * 64 bytes of a B panel and 4 bytes of an A row either way). */
        ptrdiff_t steps = slice;
        const int16_t *panels_b = packed_b + qc * padded * 2 + column0 * slice * 2;
        if (quads) {
            steps = (min_pd(2 * KCP, k - 2 * qc) + 3) / 4;
            panels_b = (const int16_t *)(packed_quads + 2 * qc * padded + column0 * steps * 4);
        }
        for (ptrdiff_t ic = 0; ic < m; ic += MC) {
            ptrdiff_t mcb = min_pd(MC, m - ic);
#if defined(__x86_64__) || defined(__i386__)
            if (quads) {
                pack_a_u8(a, lda, k, ic, mcb, 2 * qc, steps, (uint8_t *)buffer_a);
            } else if (staged) {
                pack_a_avx512(a, lda, k, ic, mcb, qc, slice, buffer_a);
            } else
#endif
            {
                pack_a(a, lda, k, ic, mcb, qc, slice, buffer_a);
            }
            for (ptrdiff_t jr = 0; jr < n; jr += tile_n) {
                int nr = (int)min_pd(tile_n, n - jr);
                /* The stage of this column block, on the last slice. */
                ckiln_i8_stage columns;
                const ckiln_i8_stage *tile_stage = NULL;
                if (stage && last) {
                    columns = *stage;
                    columns.offsets += jr;
                    tile_stage = &columns;
                }
                /* The quads' +128 correction, once: on the first slice. */
                const int32_t *tile_sums = quads && qc == 0 ? column_sums + jr : NULL;
                for (ptrdiff_t ir = 0; ir < mcb; ir += tile_m) {
                    int mr = (int)min_pd(tile_m, mcb - ir);
                    const int16_t *panel_a = buffer_a + ir * 2 * steps, *panel_b = panels_b + jr * steps * 2;
                    int32_t *tile = c + (ic + ir) * ldc + jr;
                    int8_t *tile_out = tile_stage ? out + (ic + ir) * ldo + jr : NULL;
                    if (staged) {
                        staged(steps, panel_a, panel_b, tile, ldc, mr, nr, qc > 0, tile_sums, tile_stage, tile_out, ldo);
                    } else {
                        kernel(slice, panel_a, panel_b, tile, ldc, mr, nr, qc > 0);
                        if (tile_stage) ckiln_i8_requantize(isa, mr, nr, tile, ldc, tile_stage, tile_out, ldo);
                    }
                }
            }
        }
    }
    return 0;
}

int ckiln_i8gemm_packed(int isa, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const int8_t *a, ptrdiff_t lda,
                        const int16_t *packed_b, ptrdiff_t packed_n, ptrdiff_t column0,
                        int32_t *c, ptrdiff_t ldc) {
    return gemm(isa, m, n, k, a, lda, packed_b, packed_n, column0, c, ldc, NULL, NULL, 0);
}

int ckiln_i8gemm_packed_requantize(int isa, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const int8_t *a,
                                   ptrdiff_t lda, const int16_t *packed_b, ptrdiff_t packed_n,
                                   ptrdiff_t column0, int32_t *c, ptrdiff_t ldc,
                                   const ckiln_i8_stage *stage, int8_t *out, ptrdiff_t ldo) {
    return gemm(isa, m, n, k, a, lda, packed_b, packed_n, column0, c, ldc, stage, out, ldo);
}

void ckiln_i8_ukr_portable(ptrdiff_t kp, const int16_t *a, const int16_t *b, int32_t *c,
                           ptrdiff_t ldc, int mr, int nr, int accumulate) {
    uint32_t acc[MR][NR];
    memset(acc, 0, sizeof acc);
    for (ptrdiff_t q = 0; q < kp; q++) {
        for (int i = 0; i < MR; i++) {
            const int16_t *pair = a + i * 2 * kp + 2 * q;
            for (int j = 0; j < NR; j++) {
                int32_t product = (int32_t)pair[0] * b[q * 2 * NR + 2 * j] + (int32_t)pair[1] * b[q * 2 * NR + 2 * j + 1];
                acc[i][j] += (uint32_t)product;
            }
        }
    }
    for (int i = 0; i < mr; i++) {
        for (int j = 0; j < nr; j++) {
            uint32_t x = acc[i][j];
            if (accumulate) x += (uint32_t)c[i * ldc + j];
            c[i * ldc + j] = (int32_t)x;
        }
    }
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))

#define ROW(i, r0, r1)                                                                \
    do {                                                                              \
        __m256i x = _mm256_set1_epi32(ckiln_i8_a_pair(a, kp, (i), q));                \
        r0 = _mm256_add_epi32(r0, _mm256_madd_epi16(x, b0));                          \
        r1 = _mm256_add_epi32(r1, _mm256_madd_epi16(x, b1));                          \
    } while (0)

AVX2 static inline void store_row(int32_t *c, __m256i x0, __m256i x1, int accumulate) {
    if (accumulate) {
        x0 = _mm256_add_epi32(x0, _mm256_loadu_si256((const __m256i *)c));
        x1 = _mm256_add_epi32(x1, _mm256_loadu_si256((const __m256i *)(c + 8)));
    }
    _mm256_storeu_si256((__m256i *)c, x0);
    _mm256_storeu_si256((__m256i *)(c + 8), x1);
}

AVX2 void ckiln_i8_ukr_avx2(ptrdiff_t kp, const int16_t *a, const int16_t *b, int32_t *c,
                            ptrdiff_t ldc, int mr, int nr, int accumulate) {
    __m256i c00 = _mm256_setzero_si256(), c01 = _mm256_setzero_si256();
    __m256i c10 = _mm256_setzero_si256(), c11 = _mm256_setzero_si256();
    __m256i c20 = _mm256_setzero_si256(), c21 = _mm256_setzero_si256();
    __m256i c30 = _mm256_setzero_si256(), c31 = _mm256_setzero_si256();
    __m256i c40 = _mm256_setzero_si256(), c41 = _mm256_setzero_si256();
    __m256i c50 = _mm256_setzero_si256(), c51 = _mm256_setzero_si256();
    for (ptrdiff_t q = 0; q < kp; q++) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)b);
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + 16));
        ROW(0, c00, c01);
        ROW(1, c10, c11);
        ROW(2, c20, c21);
        ROW(3, c30, c31);
        ROW(4, c40, c41);
        ROW(5, c50, c51);
        b += 2 * NR;
    }
    if (mr == MR && nr == NR) {
        store_row(c + 0 * ldc, c00, c01, accumulate);
        store_row(c + 1 * ldc, c10, c11, accumulate);
        store_row(c + 2 * ldc, c20, c21, accumulate);
        store_row(c + 3 * ldc, c30, c31, accumulate);
        store_row(c + 4 * ldc, c40, c41, accumulate);
        store_row(c + 5 * ldc, c50, c51, accumulate);
        return;
    }
    int32_t tile[MR][NR] __attribute__((aligned(32)));
    _mm256_store_si256((__m256i *)tile[0], c00); _mm256_store_si256((__m256i *)(tile[0] + 8), c01);
    _mm256_store_si256((__m256i *)tile[1], c10); _mm256_store_si256((__m256i *)(tile[1] + 8), c11);
    _mm256_store_si256((__m256i *)tile[2], c20); _mm256_store_si256((__m256i *)(tile[2] + 8), c21);
    _mm256_store_si256((__m256i *)tile[3], c30); _mm256_store_si256((__m256i *)(tile[3] + 8), c31);
    _mm256_store_si256((__m256i *)tile[4], c40); _mm256_store_si256((__m256i *)(tile[4] + 8), c41);
    _mm256_store_si256((__m256i *)tile[5], c50); _mm256_store_si256((__m256i *)(tile[5] + 8), c51);
    for (int i = 0; i < mr; i++) {
        for (int j = 0; j < nr; j++) {
            uint32_t x = (uint32_t)tile[i][j];
            if (accumulate) x += (uint32_t)c[i * ldc + j];
            c[i * ldc + j] = (int32_t)x;
        }
    }
}
#else
void ckiln_i8_ukr_avx2(ptrdiff_t kp, const int16_t *a, const int16_t *b, int32_t *c,
                       ptrdiff_t ldc, int mr, int nr, int accumulate) {
    ckiln_i8_ukr_portable(kp, a, b, c, ldc, mr, nr, accumulate);
}
#endif

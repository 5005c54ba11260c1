/* Shared between the kernel files of CKilnKernels; not part of the public header. */
#ifndef CKILN_INTERNAL_H
#define CKILN_INTERNAL_H

#include <string.h>

#include <stdint.h>

#include "ckiln_kernels.h"

/* SGEMM micro-kernel: C[mr×nr] (mr ≤ 6, nr ≤ 16, tile at c with row stride ldc) =
 * (beta == 0 ? 0 : beta * C) + A_panel · B_panel over kc, then the epilogue when not NULL
 * (its bias already offset to the tile). Panels are zero-padded to 6 rows / 16 columns. */
typedef void (*ckiln_sgemm_ukr)(ptrdiff_t kc, const float *a, const float *b, float *c,
                                ptrdiff_t ldc, int mr, int nr, float beta,
                                const ckiln_epilogue *epilogue);

void ckiln_sgemm_ukr_portable(ptrdiff_t kc, const float *a, const float *b, float *c, ptrdiff_t ldc,
                              int mr, int nr, float beta, const ckiln_epilogue *epilogue);
void ckiln_sgemm_ukr_avx2(ptrdiff_t kc, const float *a, const float *b, float *c, ptrdiff_t ldc,
                          int mr, int nr, float beta, const ckiln_epilogue *epilogue);
/* The AVX-512 micro-kernel is twice as wide: nr ≤ 32 columns from the two adjacent B panels
 * at b and b + 16·kc (only the first is read when nr ≤ 16). */
void ckiln_sgemm_ukr_avx512(ptrdiff_t kc, const float *a, const float *b, float *c, ptrdiff_t ldc,
                            int mr, int nr, float beta, const ckiln_epilogue *epilogue);

/* The epilogue on one element at (row i, column j) of the epilogue's tile: bias by row or
 * column, then the clamp to [lower, upper]. NULL: x unchanged. */
static inline float ckiln_apply_epilogue(const ckiln_epilogue *epilogue, float x, ptrdiff_t i, ptrdiff_t j) {
    if (!epilogue) return x;
    if (epilogue->bias_kind == CKILN_BIAS_ROW) x += epilogue->bias[i];
    if (epilogue->bias_kind == CKILN_BIAS_COLUMN) x += epilogue->bias[j];
    x = x < epilogue->lower ? epilogue->lower : x;
    return x > epilogue->upper ? epilogue->upper : x;
}

/* Floats of slack after a packed-A buffer (the AVX2 packer's overlapping stores). */
#define CKILN_PACK_SLACK 16

/* Packs B (depths × columns, row-major, not transposed) into 16-column panels. */
void ckiln_sgemm_pack_b_avx512(const float *b, ptrdiff_t ldb, ptrdiff_t depths, ptrdiff_t columns,
                               float *out);
/* The same from B^T: b is columns × depths, row-major. */
void ckiln_sgemm_pack_bt_avx512(const float *b, ptrdiff_t ldb, ptrdiff_t depths, ptrdiff_t columns,
                                float *out);

/* Packs alpha · A (rows × depths, row-major, not transposed) into 6-row panels. */
void ckiln_sgemm_pack_a_avx2(const float *a, ptrdiff_t lda, ptrdiff_t rows, ptrdiff_t depths,
                             float alpha, float *out);
/* The same from A^T: a is depths × rows, row-major. */
void ckiln_sgemm_pack_at_avx2(const float *a, ptrdiff_t lda, ptrdiff_t rows, ptrdiff_t depths,
                              float alpha, float *out);

/* int8 micro-kernel over int16 pairs: C[mr×nr] (= or +=, per accumulate) the products of
 * kp pairs of a 6-row A panel (row-major, 2·kp int16 per row: pair q of row i is the int32
 * at a + i·2·kp + 2q) and a 16-column B panel (32 int16 per pair). */
typedef void (*ckiln_i8_ukr)(ptrdiff_t kp, const int16_t *a, const int16_t *b, int32_t *c,
                             ptrdiff_t ldc, int mr, int nr, int accumulate);

/* Pair q of row i of an A panel as the int32 the SIMD kernels broadcast (memcpy: the panel
 * is stored as int16). */
static inline int32_t ckiln_i8_a_pair(const int16_t *a, ptrdiff_t kp, int i, ptrdiff_t q) {
    int32_t word;
    memcpy(&word, a + i * 2 * kp + 2 * q, sizeof word);
    return word;
}

void ckiln_i8_ukr_portable(ptrdiff_t kp, const int16_t *a, const int16_t *b, int32_t *c,
                           ptrdiff_t ldc, int mr, int nr, int accumulate);
void ckiln_i8_ukr_avx2(ptrdiff_t kp, const int16_t *a, const int16_t *b, int32_t *c,
                       ptrdiff_t ldc, int mr, int nr, int accumulate);

/* int8 AVX-512 micro-kernels (i8gemm_avx512.c, x86 only): tiles of up to 12 rows (two
 * consecutive 6-row A panels, row i at 4·i·kp bytes) × 32 columns (two consecutive 16-column
 * B panels, 64·kp bytes each) over kp steps: pairs (ckiln_i8_ukr_avx512, the packing of
 * ckiln_i8_ukr) or quads (ckiln_i8_ukr_avx512_vnni: A + 128 as unsigned bytes, B signed
 * bytes, vpdpbusd); mr ≤ 12, nr ≤ 32. With sums (at the tile's column 0), C −= sums[j]
 * before it is stored (the quads' correction, on the first slice). With a stage (offsets at
 * the tile's column 0), out[i·ldo + j] = stage(C[i][j]) instead of storing C (C read when
 * accumulate). */
typedef void (*ckiln_i8_ukr_staged)(ptrdiff_t kp, const int16_t *a, const int16_t *b, int32_t *c,
                                    ptrdiff_t ldc, int mr, int nr, int accumulate, const int32_t *sums,
                                    const ckiln_i8_stage *stage, int8_t *out, ptrdiff_t ldo);

void ckiln_i8_ukr_avx512(ptrdiff_t kp, const int16_t *a, const int16_t *b, int32_t *c, ptrdiff_t ldc,
                         int mr, int nr, int accumulate, const int32_t *sums, const ckiln_i8_stage *stage,
                         int8_t *out, ptrdiff_t ldo);
void ckiln_i8_ukr_avx512_vnni(ptrdiff_t kp, const int16_t *a, const int16_t *b, int32_t *c, ptrdiff_t ldc,
                              int mr, int nr, int accumulate, const int32_t *sums, const ckiln_i8_stage *stage,
                              int8_t *out, ptrdiff_t ldo);

/* Weights m × k (row-major) in blocks of `block` output channels: block b holds, for tap t,
 * the weights of channels block·b ..< block·b + block (zero past m) — the layouts of both
 * direct convolutions (4 channels a block, and 16). */
static inline size_t ckiln_channel_blocks_count(ptrdiff_t m, ptrdiff_t k, ptrdiff_t block) {
    return (size_t)(((m + block - 1) / block) * block * k);
}

static inline void ckiln_channel_blocks_pack(const float *w, ptrdiff_t m, ptrdiff_t k, ptrdiff_t block, float *packed) {
    for (ptrdiff_t b = 0; b < (m + block - 1) / block; b++) {
        for (ptrdiff_t t = 0; t < k; t++) {
            for (ptrdiff_t r = 0; r < block; r++) {
                ptrdiff_t oc = b * block + r;
                packed[(b * k + t) * block + r] = oc < m ? w[oc * k + t] : 0.0f;
            }
        }
    }
}

/* `isa` limited to what this CPU has. */
int ckiln_clamp_isa(int isa);

/* A per-thread, grow-only, 64-byte-aligned scratch buffer (slot 0..4: 0, 1 the SGEMM packs, 2 the
 * int8 and GEMV packs, 3 conv and depthwise planes, 4 the direct conv's private planes); NULL
 * when out of memory. */
void *ckiln_scratch(int slot, size_t bytes);

/* C (1 × n) = epilogue(alpha · op(A) · op(B) + beta · C) for a one-row op(A) (a is k × 1 with
 * stride lda when trans_a): dot products when B is n × k (trans_b), scaled rows of B summed
 * otherwise. Returns -1 when a scratch buffer could not be allocated. */
int ckiln_sgemv(int isa, int trans_a, int trans_b, ptrdiff_t n, ptrdiff_t k, float alpha, const float *a,
                ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta, float *c,
                const ckiln_epilogue *epilogue);

/* Lanes [low, high) of a mask of `lanes` (at most 32) bits; empty when high <= low. */
static inline uint32_t ckiln_lane_range(ptrdiff_t low, ptrdiff_t high, int lanes) {
    if (low < 0) low = 0;
    if (high > lanes) high = lanes;
    if (high <= low) return 0;
    return (uint32_t)((((uint64_t)1 << (high - low)) - 1) << low);
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/* The zero-padded, phase-split input both direct convolutions read (directconv.c), in the
 * calling thread's scratch slot 3: per channel, padded rows of row_floats = stride_w·width
 * floats, phase p of row r holding input column stride_w·x + p − pad_w of input row
 * r − pad_h at x. The pixel (oh, ow) has base padded + oh·stride_h·row_floats + ow, and tap t
 * (channel, kh, kw in order, k of them) is at base + offset[t]. `floats`: the planes' size
 * (16 zero floats of slack follow). */
typedef struct {
    const float *padded;
    const int32_t *offset;
    ptrdiff_t k, row_floats, floats;
} ckiln_direct_input;

/* Fills `input` and pads `in` (channels planes of in_h × in_w) into it over `threads`;
 * -1 when the tap offsets would overflow int32, -2 out of memory. AVX-512 only. With
 * `exact_reads` (a kernel that reads no float outside the planes: no slack needed), an
 * input whose padded form is itself (stride 1 across, no padding, every row and column
 * read) is used in place. */
int ckiln_direct_input_pad(ckiln_direct_input *input, int threads, const float *in, ptrdiff_t channels,
                           ptrdiff_t in_h, ptrdiff_t in_w, ptrdiff_t k_h, ptrdiff_t k_w, ptrdiff_t stride_h,
                           ptrdiff_t stride_w, ptrdiff_t dilation_h, ptrdiff_t dilation_w, ptrdiff_t pad_h,
                           ptrdiff_t pad_w, ptrdiff_t out_h, ptrdiff_t out_w, int exact_reads);

/* out[i] = in[2·i] for a prefix of i < n, 8 at a time; returns its length (in[2·i + 15]
 * stays within in[0 ..< 2·n − 1] while i + 8 < n). */
__attribute__((target("avx2,fma"))) static inline ptrdiff_t ckiln_every_other_avx2(const float *in, float *out,
                                                                                  ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 8 < n; i += 8) {
        __m256 lo = _mm256_loadu_ps(in + 2 * i), hi = _mm256_loadu_ps(in + 2 * i + 8);
        __m256 even = _mm256_shuffle_ps(lo, hi, 0x88);
        _mm256_storeu_ps(out + i, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(even), 0xD8)));
    }
    return i;
}
#endif

#endif

/* The SGEMM driver: Goto/BLIS blocking around a 6×16 (AVX-512: 6×32) micro-kernel, packing,
 * dispatch. */
#include <math.h>
#include <string.h>

#include "internal.h"

enum { MR = CKILN_SGEMM_MR, NR = CKILN_SGEMM_NR, KC = CKILN_SGEMM_KC };
/* Rows of a packed A block (fits L2 with a B panel: 192·256·4 = 192 KiB). */
enum { MC = 192 };
/* Columns of a packed B block (256·1024·4 = 1 MiB, about one core's L2 on Zen 4/5): 2048
 * measured 2-10 % slower on convolutions with few rows (64×3136×576), for both kernels. */
enum { NC = 1024 };

static ptrdiff_t min_pd(ptrdiff_t x, ptrdiff_t y) { return x < y ? x : y; }
static ptrdiff_t round_up(ptrdiff_t x, ptrdiff_t to) { return (x + to - 1) / to * to; }

/* alpha · op(A)[row.., depth..] into 6-row panels: per k, 6 consecutive values. */
static void pack_a(int trans_a, const float *a, ptrdiff_t lda, ptrdiff_t row, ptrdiff_t rows,
                   ptrdiff_t depth, ptrdiff_t depths, float alpha, float *out) {
    for (ptrdiff_t panel = 0; panel < rows; panel += MR) {
        ptrdiff_t used = min_pd(MR, rows - panel);
        if (trans_a) {
            for (ptrdiff_t p = 0; p < depths; p++) {
                const float *source = a + (depth + p) * lda + row + panel;
                ptrdiff_t i = 0;
                for (; i < used; i++) out[i] = alpha * source[i];
                for (; i < MR; i++) out[i] = 0;
                out += MR;
            }
        } else {
            for (ptrdiff_t i = 0; i < MR; i++) {
                if (i < used) {
                    const float *source = a + (row + panel + i) * lda + depth;
                    for (ptrdiff_t p = 0; p < depths; p++) out[p * MR + i] = alpha * source[p];
                } else {
                    for (ptrdiff_t p = 0; p < depths; p++) out[p * MR + i] = 0;
                }
            }
            out += MR * depths;
        }
    }
}

/* op(B)[depth.., column..] into 16-column panels: per k, 16 consecutive values. */
static void pack_b(int trans_b, const float *b, ptrdiff_t ldb, ptrdiff_t depth, ptrdiff_t depths,
                   ptrdiff_t column, ptrdiff_t columns, float *out) {
    for (ptrdiff_t panel = 0; panel < columns; panel += NR) {
        ptrdiff_t used = min_pd(NR, columns - panel);
        if (trans_b) {
            for (ptrdiff_t j = 0; j < NR; j++) {
                if (j < used) {
                    const float *source = b + (column + panel + j) * ldb + depth;
                    for (ptrdiff_t p = 0; p < depths; p++) out[p * NR + j] = source[p];
                } else {
                    for (ptrdiff_t p = 0; p < depths; p++) out[p * NR + j] = 0;
                }
            }
        } else if (used == NR) {
            for (ptrdiff_t p = 0; p < depths; p++)
                memcpy(out + p * NR, b + (depth + p) * ldb + column + panel, NR * sizeof(float));
        } else {
            for (ptrdiff_t p = 0; p < depths; p++) {
                const float *source = b + (depth + p) * ldb + column + panel;
                ptrdiff_t j = 0;
                for (; j < used; j++) out[p * NR + j] = source[j];
                for (; j < NR; j++) out[p * NR + j] = 0;
            }
        }
        out += NR * depths;
    }
}

size_t ckiln_sgemm_packed_b_count(ptrdiff_t k, ptrdiff_t n) {
    if (k <= 0 || n <= 0) return 0;
    return (size_t)round_up(n, NR) * (size_t)k;
}

void ckiln_sgemm_pack_b(int trans_b, ptrdiff_t k, ptrdiff_t n, const float *b, ptrdiff_t ldb,
                        float *packed) {
    ptrdiff_t padded = round_up(n, NR);
    for (ptrdiff_t pc = 0; pc < k; pc += KC) {
        ptrdiff_t depths = min_pd(KC, k - pc);
        pack_b(trans_b, b, ldb, pc, depths, 0, n, packed + pc * padded);
    }
}

/* C = beta·C then the epilogue, for k == 0. */
static void scale_only(ptrdiff_t m, ptrdiff_t n, float beta, float *c, ptrdiff_t ldc,
                       const ckiln_epilogue *epilogue) {
    for (ptrdiff_t i = 0; i < m; i++) {
        for (ptrdiff_t j = 0; j < n; j++) {
            float x = beta == 0 ? 0 : beta * c[i * ldc + j];
            x = ckiln_apply_epilogue(epilogue, x, i, j);
            c[i * ldc + j] = x;
        }
    }
}

/* The shared driver; B is either packed on the fly (b != NULL) or pre-packed. */
static int sgemm_run(int isa, int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                     const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb,
                     const float *packed, ptrdiff_t packed_n, ptrdiff_t column0,
                     const float *packed_a, ptrdiff_t packed_m, ptrdiff_t row0, float beta,
                     float *c, ptrdiff_t ldc, const ckiln_epilogue *epilogue) {
    if (m <= 0 || n <= 0) return 0;
    if (k <= 0) {
        scale_only(m, n, beta, c, ldc, epilogue);
        return 0;
    }
    int level = ckiln_clamp_isa(isa);
    int avx2 = level >= CKILN_ISA_AVX2;
    /* The AVX-512 kernel takes two B panels per call: tiles of 6 × 32 columns. */
    ckiln_sgemm_ukr kernel = level >= CKILN_ISA_AVX512 ? ckiln_sgemm_ukr_avx512
                             : avx2                    ? ckiln_sgemm_ukr_avx2
                                                       : ckiln_sgemm_ukr_portable;
    ptrdiff_t width = level >= CKILN_ISA_AVX512 ? 2 * NR : NR;
    ptrdiff_t depth_max = min_pd(KC, k);
    float *buffer_a = NULL;
    if (!packed_a) buffer_a = ckiln_scratch(0, sizeof(float) * (size_t)(min_pd(MC, round_up(m, MR)) * depth_max + CKILN_PACK_SLACK));
    float *buffer_b = NULL;
    if (!packed) buffer_b = ckiln_scratch(1, sizeof(float) * (size_t)(min_pd(NC, round_up(n, NR)) * depth_max));
    if ((!packed_a && !buffer_a) || (!packed && !buffer_b)) return -1;
    ptrdiff_t padded_packed = round_up(packed_n, NR);
    ptrdiff_t padded_packed_a = round_up(packed_m, MR);

    for (ptrdiff_t jc = 0; jc < n; jc += NC) {
        ptrdiff_t ncb = min_pd(NC, n - jc);
        for (ptrdiff_t pc = 0; pc < k; pc += KC) {
            ptrdiff_t kcb = min_pd(KC, k - pc);
            const float *panels_b;
            if (packed) {
                panels_b = packed + pc * padded_packed + (column0 + jc) * kcb;
            } else {
                if (level >= CKILN_ISA_AVX512 && !trans_b)
                    ckiln_sgemm_pack_b_avx512(b + pc * ldb + jc, ldb, kcb, ncb, buffer_b);
                else if (level >= CKILN_ISA_AVX512)
                    ckiln_sgemm_pack_bt_avx512(b + jc * ldb + pc, ldb, kcb, ncb, buffer_b);
                else
                    pack_b(trans_b, b, ldb, pc, kcb, jc, ncb, buffer_b);
                panels_b = buffer_b;
            }
            float slice_beta = pc == 0 ? beta : 1.0f;
            int last = pc + kcb >= k;
            for (ptrdiff_t ic = 0; ic < m; ic += MC) {
                ptrdiff_t mcb = min_pd(MC, m - ic);
                const float *panels_a;
                if (packed_a) {
                    panels_a = packed_a + pc * padded_packed_a + (row0 + ic) * kcb;
                } else {
                    if (avx2 && !trans_a)
                        ckiln_sgemm_pack_a_avx2(a + ic * lda + pc, lda, mcb, kcb, alpha, buffer_a);
                    else if (avx2)
                        ckiln_sgemm_pack_at_avx2(a + pc * lda + ic, lda, mcb, kcb, alpha, buffer_a);
                    else
                        pack_a(trans_a, a, lda, ic, mcb, pc, kcb, alpha, buffer_a);
                    panels_a = buffer_a;
                }
                for (ptrdiff_t jr = 0; jr < ncb; jr += width) {
                    int nr = (int)min_pd(width, ncb - jr);
                    for (ptrdiff_t ir = 0; ir < mcb; ir += MR) {
                        int mr = (int)min_pd(MR, mcb - ir);
                        ckiln_epilogue tile;
                        const ckiln_epilogue *tile_epilogue = NULL;
                        if (last && epilogue) {
                            tile = *epilogue;
                            if (tile.bias_kind == CKILN_BIAS_ROW) tile.bias += ic + ir;
                            if (tile.bias_kind == CKILN_BIAS_COLUMN) tile.bias += jc + jr;
                            tile_epilogue = &tile;
                        }
                        kernel(kcb, panels_a + ir * kcb, panels_b + jr * kcb,
                               c + (ic + ir) * ldc + jc + jr, ldc, mr, nr, slice_beta, tile_epilogue);
                    }
                }
            }
        }
    }
    return 0;
}

int ckiln_sgemm(int isa, int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta,
                float *c, ptrdiff_t ldc, const ckiln_epilogue *epilogue) {
    /* One row: a matrix–vector product reads B once, unpacked. */
    if (m == 1 && k > 0) return ckiln_sgemv(isa, trans_a, trans_b, n, k, alpha, a, lda, b, ldb, beta, c, epilogue);
    return sgemm_run(isa, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, NULL, 0, 0, NULL, 0, 0, beta,
                     c, ldc, epilogue);
}

int ckiln_sgemm_packed(int isa, int trans_a, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                       const float *a, ptrdiff_t lda, const float *packed_b, ptrdiff_t packed_n,
                       ptrdiff_t column0, float beta, float *c, ptrdiff_t ldc,
                       const ckiln_epilogue *epilogue) {
    return sgemm_run(isa, trans_a, 0, m, n, k, alpha, a, lda, NULL, 0, packed_b, packed_n, column0,
                     NULL, 0, 0, beta, c, ldc, epilogue);
}

int ckiln_sgemm_packed_ab(int isa, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *packed_a, ptrdiff_t packed_m,
                          ptrdiff_t row0, const float *packed_b, ptrdiff_t packed_n, ptrdiff_t column0, float beta,
                          float *c, ptrdiff_t ldc, const ckiln_epilogue *epilogue) {
    return sgemm_run(isa, 0, 0, m, n, k, 1.0f, NULL, 0, NULL, 0, packed_b, packed_n, column0, packed_a, packed_m, row0,
                     beta, c, ldc, epilogue);
}

size_t ckiln_sgemm_packed_a_count(ptrdiff_t m, ptrdiff_t k) {
    if (m <= 0 || k <= 0) return 0;
    return (size_t)round_up(m, MR) * (size_t)k + CKILN_PACK_SLACK;
}

/* Layout: slices of KC along k; in a slice, 6-row panels over all of M (zero-padded). */
void ckiln_sgemm_pack_a(int isa, int trans_a, ptrdiff_t m, ptrdiff_t k, float alpha, const float *a,
                        ptrdiff_t lda, float *packed) {
    int avx2 = ckiln_clamp_isa(isa) >= CKILN_ISA_AVX2;
    ptrdiff_t padded = round_up(m, MR);
    for (ptrdiff_t pc = 0; pc < k; pc += KC) {
        ptrdiff_t depths = min_pd(KC, k - pc);
        if (avx2 && !trans_a)
            ckiln_sgemm_pack_a_avx2(a + pc, lda, m, depths, alpha, packed + pc * padded);
        else if (avx2)
            ckiln_sgemm_pack_at_avx2(a + pc * lda, lda, m, depths, alpha, packed + pc * padded);
        else
            pack_a(trans_a, a, lda, 0, m, pc, depths, alpha, packed + pc * padded);
    }
}

int ckiln_sgemm_packed_a(int isa, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                         const float *packed_a, ptrdiff_t packed_m, ptrdiff_t row0, const float *b,
                         ptrdiff_t ldb, float beta, float *c, ptrdiff_t ldc,
                         const ckiln_epilogue *epilogue) {
    return sgemm_run(isa, 0, trans_b, m, n, k, 1.0f, NULL, 0, b, ldb, NULL, 0, 0, packed_a, packed_m, row0,
                     beta, c, ldc, epilogue);
}

/* Portable micro-kernel: the same arithmetic as the AVX2 one, in plain C. */
void ckiln_sgemm_ukr_portable(ptrdiff_t kc, const float *a, const float *b, float *c, ptrdiff_t ldc,
                              int mr, int nr, float beta, const ckiln_epilogue *epilogue) {
    float acc[MR][NR];
    memset(acc, 0, sizeof acc);
    for (ptrdiff_t p = 0; p < kc; p++) {
        for (int i = 0; i < MR; i++) {
            float x = a[p * MR + i];
            for (int j = 0; j < NR; j++) acc[i][j] += x * b[p * NR + j];
        }
    }
    for (int i = 0; i < mr; i++) {
        for (int j = 0; j < nr; j++) {
            float x = acc[i][j];
            if (beta != 0) x = beta * c[i * ldc + j] + x;
            x = ckiln_apply_epilogue(epilogue, x, i, j);
            c[i * ldc + j] = x;
        }
    }
}

void ckiln_transposed_epilogue(ptrdiff_t rows, ptrdiff_t columns, const float *t, ptrdiff_t ldt, float *c,
                               ptrdiff_t ldc, const float *bias, float lower, float upper, int accumulate) {
    /* 8×8 blocks: t is read along its rows and c written along its rows, each a few lines. */
    for (ptrdiff_t i0 = 0; i0 < rows; i0 += 8) {
        for (ptrdiff_t j0 = 0; j0 < columns; j0 += 8) {
            ptrdiff_t i1 = min_pd(rows, i0 + 8), j1 = min_pd(columns, j0 + 8);
            for (ptrdiff_t i = i0; i < i1; i++) {
                float b = bias ? bias[i] : 0.0f;
                float *row = c + i * ldc;
                for (ptrdiff_t j = j0; j < j1; j++) {
                    float x = t[j * ldt + i];
                    if (accumulate) x += row[j];
                    x += b;
                    x = x < lower ? lower : x;
                    row[j] = x > upper ? upper : x;
                }
            }
        }
    }
}

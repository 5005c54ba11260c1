/* LSTM and GRU over a whole sequence for one direction, the time-step loop in C.
 *
 * The input projection X·Wᵀ of every step is one GEMM up front (W packed by the caller, or
 * read in place through trans_b; the foldable biases in its epilogue). Each step then adds
 * h·Rᵀ for all rows still in their sequence: Rᵀ is packed (by the caller once, or per call)
 * into column panels (32 columns for AVX-512, 16 otherwise), and a small kernel keeps up to
 * 6 (AVX-512) or 4 rows × one panel in registers, the panel read front to back and reused
 * from cache by every row block. A step is too small for the packing GEMM at the hidden
 * sizes of sequence models, and a large R (megabytes, read once per step) streams from a
 * sequential layout. The gate arithmetic is one fused pass of 16 hidden units at a time
 * with AVX-512 (its own exp, sigmoid and tanh), plain C around ckiln_vector_math's
 * otherwise. Batch rows are independent chains, so a call covers a range of them and
 * callers may split the batch (or the directions) over threads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* out_r[j] = (init_r ? init_r[j] : 0) + Σ_p a_r[p]·Rᵀ[p][j] for j < n and r < rows (out_r
 * may be init_r). Rᵀ's n columns come packed in panels of `panel` columns (the last one
 * zero-padded), each k × panel contiguous, so a panel is read front to back and stays in
 * cache while every row block passes over it. */
typedef void (*product_fn)(ptrdiff_t rows, const float *const *a, ptrdiff_t k, const float *packed, ptrdiff_t n,
                           const float *const *init, float *const *out);

/* Columns per panel for an instruction set: what one tile row holds. */
static ptrdiff_t panel_width(int level) { return level >= CKILN_ISA_AVX512 ? 32 : 16; }

/* Packs columns column0 ..< column0 + n of Rᵀ (r is R: rows of `k` floats) into panels. */
static void pack_panels(const float *r, ptrdiff_t k, ptrdiff_t column0, ptrdiff_t n, ptrdiff_t panel, float *packed) {
    for (ptrdiff_t j0 = 0; j0 < n; j0 += panel) {
        float *out = packed + j0 * k;
        for (ptrdiff_t c = 0; c < panel; c++) {
            if (j0 + c < n) {
                const float *row = r + (column0 + j0 + c) * k;
                for (ptrdiff_t p = 0; p < k; p++) out[p * panel + c] = row[p];
            } else {
                for (ptrdiff_t p = 0; p < k; p++) out[p * panel + c] = 0;
            }
        }
    }
}

static void product_portable(ptrdiff_t rows, const float *const *a, ptrdiff_t k, const float *packed, ptrdiff_t n,
                             const float *const *init, float *const *out) {
    for (ptrdiff_t r = 0; r < rows; r++) {
        float *o = out[r];
        for (ptrdiff_t j = 0; j < n; j++) o[j] = init[r] ? init[r][j] : 0;
        for (ptrdiff_t j0 = 0; j0 < n; j0 += 16) {
            const float *panel = packed + j0 * k;
            ptrdiff_t width = n - j0 < 16 ? n - j0 : 16;
            for (ptrdiff_t p = 0; p < k; p++) {
                float x = a[r][p];
                for (ptrdiff_t j = 0; j < width; j++) o[j0 + j] += x * panel[p * 16 + j];
            }
        }
    }
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl")))
#define INLINE inline __attribute__((always_inline))

/* Lane i set when i < count (8 lanes, for maskload/maskstore). */
AVX2 static inline __m256i mask8(ptrdiff_t count) {
    __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(count < 8 ? count : 8)), lanes);
}

/* One 16-column panel (columns j ..< j + 16, masks m0 and m1 for the two halves of init
 * and out) for `rows` (≤ 4) rows; inlined per constant row count so the 2·rows
 * accumulators stay in registers. */
AVX2 static INLINE void tile_avx2(int rows, const float *const *a, ptrdiff_t k, const float *panel, ptrdiff_t j,
                                  __m256i m0, __m256i m1, const float *const *init, float *const *out) {
    __m256 acc[4][2];
    for (int r = 0; r < rows; r++) {
        acc[r][0] = init[r] ? _mm256_maskload_ps(init[r] + j, m0) : _mm256_setzero_ps();
        acc[r][1] = init[r] ? _mm256_maskload_ps(init[r] + j + 8, m1) : _mm256_setzero_ps();
    }
    for (ptrdiff_t p = 0; p < k; p++) {
        __m256 b0 = _mm256_loadu_ps(panel + p * 16), b1 = _mm256_loadu_ps(panel + p * 16 + 8);
        for (int r = 0; r < rows; r++) {
            __m256 x = _mm256_broadcast_ss(a[r] + p);
            acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
        }
    }
    for (int r = 0; r < rows; r++) {
        _mm256_maskstore_ps(out[r] + j, m0, acc[r][0]);
        _mm256_maskstore_ps(out[r] + j + 8, m1, acc[r][1]);
    }
}

AVX2 static void product_avx2(ptrdiff_t rows, const float *const *a, ptrdiff_t k, const float *packed, ptrdiff_t n,
                              const float *const *init, float *const *out) {
    for (ptrdiff_t j = 0; j < n; j += 16) {
        __m256i m0 = mask8(n - j), m1 = mask8(n - j - 8);
        const float *panel = packed + j * k;
        for (ptrdiff_t r = 0; r < rows; r += 4) {
            switch (rows - r) {
            case 1: tile_avx2(1, a + r, k, panel, j, m0, m1, init + r, out + r); break;
            case 2: tile_avx2(2, a + r, k, panel, j, m0, m1, init + r, out + r); break;
            case 3: tile_avx2(3, a + r, k, panel, j, m0, m1, init + r, out + r); break;
            default: tile_avx2(4, a + r, k, panel, j, m0, m1, init + r, out + r); break;
            }
        }
    }
}

/* The low `count` lanes (clamped to 0...16). */
AVX512 static inline __mmask16 mask16(ptrdiff_t count) {
    return count >= 16 ? (__mmask16)0xFFFF : count <= 0 ? (__mmask16)0 : (__mmask16)((1u << count) - 1);
}

/* tile_avx2 with 32-column panels in two zmm per row and up to 6 rows (12 accumulators). */
AVX512 static INLINE void tile_avx512(int rows, const float *const *a, ptrdiff_t k, const float *panel, ptrdiff_t j,
                                      __mmask16 m0, __mmask16 m1, const float *const *init, float *const *out) {
    __m512 acc[6][2];
    for (int r = 0; r < rows; r++) {
        acc[r][0] = init[r] ? _mm512_maskz_loadu_ps(m0, init[r] + j) : _mm512_setzero_ps();
        acc[r][1] = init[r] ? _mm512_maskz_loadu_ps(m1, init[r] + j + 16) : _mm512_setzero_ps();
    }
    for (ptrdiff_t p = 0; p < k; p++) {
        __m512 b0 = _mm512_loadu_ps(panel + p * 32), b1 = _mm512_loadu_ps(panel + p * 32 + 16);
        for (int r = 0; r < rows; r++) {
            __m512 x = _mm512_set1_ps(a[r][p]);
            acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
        }
    }
    for (int r = 0; r < rows; r++) {
        _mm512_mask_storeu_ps(out[r] + j, m0, acc[r][0]);
        _mm512_mask_storeu_ps(out[r] + j + 16, m1, acc[r][1]);
    }
}

AVX512 static void product_avx512(ptrdiff_t rows, const float *const *a, ptrdiff_t k, const float *packed, ptrdiff_t n,
                                  const float *const *init, float *const *out) {
    for (ptrdiff_t j = 0; j < n; j += 32) {
        __mmask16 m0 = mask16(n - j), m1 = mask16(n - j - 16);
        const float *panel = packed + j * k;
        for (ptrdiff_t r = 0; r < rows; r += 6) {
            switch (rows - r) {
            case 1: tile_avx512(1, a + r, k, panel, j, m0, m1, init + r, out + r); break;
            case 2: tile_avx512(2, a + r, k, panel, j, m0, m1, init + r, out + r); break;
            case 3: tile_avx512(3, a + r, k, panel, j, m0, m1, init + r, out + r); break;
            case 4: tile_avx512(4, a + r, k, panel, j, m0, m1, init + r, out + r); break;
            case 5: tile_avx512(5, a + r, k, panel, j, m0, m1, init + r, out + r); break;
            default: tile_avx512(6, a + r, k, panel, j, m0, m1, init + r, out + r); break;
            }
        }
    }
}

/* exp16, sigmoid16 and tanh16: vmath.c's, in registers. */
#include "vmath_avx512.h"

/* x clamped to [−clip, clip] (clip infinite: unchanged). */
AVX512 static inline __m512 clip16(__m512 x, __m512 clip) {
    return _mm512_min_ps(clip, _mm512_max_ps(_mm512_sub_ps(_mm512_setzero_ps(), clip), x));
}

/* lstm_gates in one pass of 16 hidden units at a time, everything in registers. */
AVX512 static void lstm_gates_avx512(const ckiln_recurrence *p, float *g, float *h, float *c) {
    ptrdiff_t n = p->hidden;
    const float *peep = p->peepholes;
    __m512 clip = _mm512_set1_ps(p->clip), one = _mm512_set1_ps(1.0f);
    for (ptrdiff_t j = 0; j < n; j += 16) {
        __mmask16 m = mask16(n - j);
        __m512 gi = _mm512_maskz_loadu_ps(m, g + j), go = _mm512_maskz_loadu_ps(m, g + n + j);
        __m512 gf = _mm512_maskz_loadu_ps(m, g + 2 * n + j), gc = _mm512_maskz_loadu_ps(m, g + 3 * n + j);
        __m512 cv = _mm512_maskz_loadu_ps(m, c + j);
        if (peep) {
            gi = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, peep + j), cv, gi);
            gf = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, peep + 2 * n + j), cv, gf);
        }
        __m512 i = sigmoid16(clip16(gi, clip));
        __m512 f = p->input_forget ? _mm512_sub_ps(one, i) : sigmoid16(clip16(gf, clip));
        cv = _mm512_fmadd_ps(f, cv, _mm512_mul_ps(i, tanh16(clip16(gc, clip))));
        _mm512_mask_storeu_ps(c + j, m, cv);
        if (peep) go = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, peep + n + j), cv, go);
        __m512 o = sigmoid16(clip16(go, clip));
        _mm512_mask_storeu_ps(h + j, m, _mm512_mul_ps(o, tanh16(cv)));
    }
}

/* GRU's z and r from their pre-activations (in place), and t = r ⊙ h. */
AVX512 static void gru_reset_avx512(const ckiln_recurrence *p, float *g, const float *h, float *t) {
    ptrdiff_t n = p->hidden;
    __m512 clip = _mm512_set1_ps(p->clip);
    for (ptrdiff_t j = 0; j < n; j += 16) {
        __mmask16 m = mask16(n - j);
        __m512 z = sigmoid16(clip16(_mm512_maskz_loadu_ps(m, g + j), clip));
        __m512 r = sigmoid16(clip16(_mm512_maskz_loadu_ps(m, g + n + j), clip));
        _mm512_mask_storeu_ps(g + j, m, z);
        _mm512_mask_storeu_ps(g + n + j, m, r);
        _mm512_mask_storeu_ps(t + j, m, _mm512_mul_ps(r, _mm512_maskz_loadu_ps(m, h + j)));
    }
}

/* GRU's candidate from its pre-activation (xh + r ⊙ gh when xh, linear_before_reset), then
 * h = (1 − z) ⊙ candidate + z ⊙ h. */
AVX512 static void gru_update_avx512(const ckiln_recurrence *p, const float *g, const float *xh, float *h) {
    ptrdiff_t n = p->hidden;
    __m512 clip = _mm512_set1_ps(p->clip);
    for (ptrdiff_t j = 0; j < n; j += 16) {
        __mmask16 m = mask16(n - j);
        __m512 gh = _mm512_maskz_loadu_ps(m, g + 2 * n + j);
        if (xh) gh = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, g + n + j), gh, _mm512_maskz_loadu_ps(m, xh + j));
        __m512 candidate = tanh16(clip16(gh, clip));
        __m512 z = _mm512_maskz_loadu_ps(m, g + j), hv = _mm512_maskz_loadu_ps(m, h + j);
        /* (1 − z)·candidate + z·h = candidate + z·(h − candidate). */
        _mm512_mask_storeu_ps(h + j, m, _mm512_fmadd_ps(z, _mm512_sub_ps(hv, candidate), candidate));
    }
}
#endif

/* x[j] clamped to [−clip, clip] for j < n; nothing when clip is infinite. */
static void clip_values(float *x, ptrdiff_t n, float clip) {
    if (!(clip < INFINITY)) return;
    for (ptrdiff_t j = 0; j < n; j++) x[j] = x[j] < -clip ? -clip : x[j] > clip ? clip : x[j];
}

/* x[j] += p[j]·c[j] for j < n, when there are peepholes. */
static void add_peephole(float *x, const float *p, const float *c, ptrdiff_t n) {
    if (!p) return;
    for (ptrdiff_t j = 0; j < n; j++) x[j] += p[j] * c[j];
}

/* One LSTM step of one row from its pre-activations g = [i, o, f, c̃] (4·hidden, h·Rᵀ and
 * X·Wᵀ and biases summed): updates h and c; tmp holds hidden floats. */
static void lstm_gates(int isa, const ckiln_recurrence *p, float *g, float *h, float *c, float *tmp) {
    ptrdiff_t n = p->hidden;
    float *gi = g, *go = g + n, *gf = g + 2 * n, *gc = g + 3 * n;
    const float *peep = p->peepholes;
    if (peep) {
        add_peephole(gi, peep, c, n);
        add_peephole(gf, peep + 2 * n, c, n);
        clip_values(gi, n, p->clip);
        clip_values(gf, n, p->clip);
        clip_values(gc, n, p->clip);
        ckiln_vector_math(isa, CKILN_SIGMOID, gi, gi, n);
        if (!p->input_forget) ckiln_vector_math(isa, CKILN_SIGMOID, gf, gf, n);
    } else {
        /* i, o, f are adjacent: one call; o needs no peephole term. */
        clip_values(g, 4 * n, p->clip);
        ckiln_vector_math(isa, CKILN_SIGMOID, g, g, p->input_forget ? 2 * n : 3 * n);
    }
    ckiln_vector_math(isa, CKILN_TANH, gc, gc, n);
    if (p->input_forget) {
        for (ptrdiff_t j = 0; j < n; j++) c[j] = (1 - gi[j]) * c[j] + gi[j] * gc[j];
    } else {
        for (ptrdiff_t j = 0; j < n; j++) c[j] = gf[j] * c[j] + gi[j] * gc[j];
    }
    if (peep) {
        add_peephole(go, peep + n, c, n);
        clip_values(go, n, p->clip);
        ckiln_vector_math(isa, CKILN_SIGMOID, go, go, n);
    }
    ckiln_vector_math(isa, CKILN_TANH, c, tmp, n);
    for (ptrdiff_t j = 0; j < n; j++) h[j] = go[j] * tmp[j];
}

/* GRU's z and r from their pre-activations g[0 ..< 2·hidden] (in place), and t = r ⊙ h. */
static void gru_reset(int isa, const ckiln_recurrence *p, float *g, const float *h, float *t) {
    ptrdiff_t n = p->hidden;
    clip_values(g, 2 * n, p->clip);
    ckiln_vector_math(isa, CKILN_SIGMOID, g, g, 2 * n);
    for (ptrdiff_t j = 0; j < n; j++) t[j] = g[n + j] * h[j];
}

/* GRU's candidate from its pre-activation g[2·hidden ...] (xh + r ⊙ that when xh is given:
 * linear_before_reset), then h = (1 − z) ⊙ candidate + z ⊙ h. */
static void gru_update(int isa, const ckiln_recurrence *p, float *g, const float *xh, float *h) {
    ptrdiff_t n = p->hidden;
    float *gh = g + 2 * n;
    if (xh) {
        for (ptrdiff_t j = 0; j < n; j++) gh[j] = xh[j] + g[n + j] * gh[j];
    }
    clip_values(gh, n, p->clip);
    ckiln_vector_math(isa, CKILN_TANH, gh, gh, n);
    for (ptrdiff_t j = 0; j < n; j++) h[j] = (1 - g[j]) * gh[j] + g[j] * h[j];
}

/* Bytes of working memory above which a call allocates its own instead of growing the
 * kept per-thread scratch. */
#define SCRATCH_LIMIT ((size_t)16 << 20)

/* Floats rounded up to whole 64-byte lines, so every scratch array starts aligned. */
static ptrdiff_t lines(ptrdiff_t floats) { return (floats + 15) & ~(ptrdiff_t)15; }

/* The layout of packed Rᵀ for an instruction set level: panel width, the padded width of
 * the first product's columns (all of LSTM's, GRU's z and r) and the total padded width
 * (GRU's candidate columns packed apart, so that their panels start at column 2·hidden). */
typedef struct {
    ptrdiff_t panel, first, padded_first, padded;
} packed_layout;

static packed_layout layout_for(int level, int gru, ptrdiff_t hidden) {
    packed_layout layout;
    layout.panel = panel_width(level);
    layout.first = (gru ? 2 : 4) * hidden;
    layout.padded_first = (layout.first + layout.panel - 1) / layout.panel * layout.panel;
    layout.padded = layout.padded_first + (gru ? (hidden + layout.panel - 1) / layout.panel * layout.panel : 0);
    return layout;
}

size_t ckiln_recurrent_packed_r_count(int isa, int gru, ptrdiff_t hidden) {
    return (size_t)(hidden * layout_for(ckiln_clamp_isa(isa), gru, hidden).padded);
}

void ckiln_recurrent_pack_r(int isa, int gru, ptrdiff_t hidden, const float *r, float *packed) {
    packed_layout layout = layout_for(ckiln_clamp_isa(isa), gru, hidden);
    pack_panels(r, hidden, 0, layout.first, layout.panel, packed);
    if (gru) pack_panels(r, hidden, layout.first, hidden, layout.panel, packed + hidden * layout.padded_first);
}

/* The shared driver: projection, packed Rᵀ, then the steps. */
static int recurrence(int isa, int gru, const ckiln_recurrence *p, ptrdiff_t batch_begin, ptrdiff_t batch_end) {
    ptrdiff_t steps = p->steps, hidden = p->hidden, input = p->input;
    ptrdiff_t rows = batch_end - batch_begin;
    if (rows <= 0) return 0;
    int level = ckiln_clamp_isa(isa);
    int lbr = gru && p->linear_before_reset;
    ptrdiff_t width = (gru ? 3 : 4) * hidden;
    product_fn product = product_portable;
#if defined(__x86_64__) || defined(__i386__)
    if (level >= CKILN_ISA_AVX512) product = product_avx512;
    else if (level >= CKILN_ISA_AVX2) product = product_avx2;
#endif
    packed_layout layout = layout_for(level, gru, hidden);

    /* Working memory: projection, packed Rᵀ (unless given), folded bias, the candidate's
     * recurrent bias (GRU with linear_before_reset), h, c, a hidden-sized temporary and the
     * gates per row, then the per-step row pointers and indices. */
    ptrdiff_t n_proj = lines(rows * steps * width), n_bias = lines(width);
    ptrdiff_t n_packed = p->packed_r ? 0 : lines(hidden * layout.padded);
    ptrdiff_t n_state = lines(rows * hidden), n_gates = lines(rows * width);
    size_t floats = (size_t)(n_proj + n_packed + 2 * n_bias + 3 * n_state + n_gates);
    size_t pointers = (size_t)(8 * rows);
    /* The per-thread scratch is kept for later calls: a long sequence's projection gets
     * memory of its own instead, freed on return. */
    size_t bytes = (sizeof(float) * floats + sizeof(void *) * pointers + 64 + 63) & ~(size_t)63;
    float *owned = bytes > SCRATCH_LIMIT ? aligned_alloc(64, bytes) : NULL;
    float *proj = bytes > SCRATCH_LIMIT ? owned : ckiln_scratch(3, bytes);
    if (!proj) return -1;
    float *packing = proj + n_proj, *bias = packing + n_packed, *reset_bias = bias + n_bias;
    float *h = reset_bias + n_bias, *c = h + n_state, *tmp = c + n_state, *gates = tmp + n_state;
    const float **a = (const float **)(gates + n_gates), **init = a + rows, **a_h = init + rows, **init_h = a_h + rows;
    float **out = (float **)(init_h + rows), **out_h = out + rows, **ys = out_h + rows;
    ptrdiff_t *index = (ptrdiff_t *)(ys + rows);

    const float *packed = p->packed_r;
    if (!packed) {
        ckiln_recurrent_pack_r(level, gru, hidden, p->r, packing);
        packed = packing;
    }
    /* Wb + Rb fold into the projection, except the recurrent bias of GRU's candidate gate
     * with linear_before_reset, which the reset gate scales. */
    for (ptrdiff_t j = 0; j < width; j++) {
        bias[j] = p->bias ? p->bias[j] + p->bias[width + j] : 0;
        reset_bias[j] = 0;
    }
    if (lbr && p->bias) {
        for (ptrdiff_t j = 2 * hidden; j < width; j++) {
            bias[j] = p->bias[j];
            reset_bias[j] = p->bias[width + j];
        }
    }

    /* X·Wᵀ + bias for every (step, row): one GEMM when the rows are one matrix, else one
     * per batch row (its steps are rows x_step apart). Row (t, r) at proj + t·ps + r·pb. */
    ckiln_epilogue epilogue = {CKILN_BIAS_COLUMN, bias, -INFINITY, INFINITY};
    const float *x0 = p->x + batch_begin * p->x_batch;
    ptrdiff_t ps = width, pb = steps * width, lda = p->x_step, gemms = rows, m = steps;
    if (p->x_step == input && p->x_batch == steps * input) {
        lda = input, gemms = 1, m = rows * steps;
    } else if (p->x_batch == input && p->x_step == rows * input) {
        ps = rows * width, pb = width, lda = input, gemms = 1, m = steps * rows;
    }
    for (ptrdiff_t r = 0; r < gemms; r++) {
        const float *xr = x0 + r * p->x_batch;
        int status = p->packed_w
                         ? ckiln_sgemm_packed(isa, 0, m, width, input, 1, xr, lda, p->packed_w, width, 0, 0,
                                              proj + r * pb, width, &epilogue)
                         : ckiln_sgemm(isa, 0, 1, m, width, input, 1, xr, lda, p->w, input, 0, proj + r * pb, width,
                                       &epilogue);
        if (status) {
            free(owned);
            return -1;
        }
    }

    for (ptrdiff_t r = 0; r < rows; r++) {
        ptrdiff_t b = batch_begin + r;
        const float *h0 = p->initial_h ? p->initial_h + b * p->state_batch : NULL;
        const float *c0 = p->initial_c ? p->initial_c + b * p->state_batch : NULL;
        for (ptrdiff_t j = 0; j < hidden; j++) {
            h[r * hidden + j] = h0 ? h0[j] : 0;
            c[r * hidden + j] = c0 ? c0[j] : 0;
        }
    }

    for (ptrdiff_t s = 0; s < steps; s++) {
        /* The rows still inside their sequence, as pointers for the products: state (a),
         * the step's projection (init), gates (out) and Y row (ys). */
        ptrdiff_t count = 0;
        for (ptrdiff_t r = 0; r < rows; r++) {
            ptrdiff_t length = p->lengths ? p->lengths[batch_begin + r] : steps;
            if (s >= length) continue;
            ptrdiff_t t = p->reverse ? length - 1 - s : s;
            index[count] = r;
            a[count] = h + r * hidden;
            init[count] = proj + t * ps + r * pb;
            out[count] = gates + r * width;
            ys[count] = p->y ? p->y + t * p->y_step + (batch_begin + r) * p->y_batch : NULL;
            count++;
        }
        if (count == 0) continue;
        if (!gru) {
            product(count, a, hidden, packed, width, init, out);
            for (ptrdiff_t i = 0; i < count; i++) {
                ptrdiff_t r = index[i];
#if defined(__x86_64__) || defined(__i386__)
                if (level >= CKILN_ISA_AVX512) {
                    lstm_gates_avx512(p, out[i], h + r * hidden, c + r * hidden);
                    continue;
                }
#endif
                lstm_gates(isa, p, out[i], h + r * hidden, c + r * hidden, tmp + r * hidden);
            }
        } else {
            /* z and r first; the candidate's product needs r (before or after R). */
            product(count, a, hidden, packed, 2 * hidden, init, out);
            for (ptrdiff_t i = 0; i < count; i++) {
                ptrdiff_t r = index[i];
                float *hr = h + r * hidden, *t = tmp + r * hidden;
#if defined(__x86_64__) || defined(__i386__)
                if (level >= CKILN_ISA_AVX512) gru_reset_avx512(p, out[i], hr, t);
                else
#endif
                    gru_reset(isa, p, out[i], hr, t);
                a_h[i] = lbr ? hr : t;
                init_h[i] = lbr ? (p->bias ? reset_bias + 2 * hidden : NULL) : init[i] + 2 * hidden;
                out_h[i] = out[i] + 2 * hidden;
            }
            product(count, a_h, hidden, packed + hidden * layout.padded_first, hidden, init_h, out_h);
            for (ptrdiff_t i = 0; i < count; i++) {
                float *hr = h + index[i] * hidden;
                const float *xh = lbr ? init[i] + 2 * hidden : NULL;
#if defined(__x86_64__) || defined(__i386__)
                if (level >= CKILN_ISA_AVX512) gru_update_avx512(p, out[i], xh, hr);
                else
#endif
                    gru_update(isa, p, out[i], xh, hr);
            }
        }
        for (ptrdiff_t i = 0; i < count; i++)
            if (ys[i]) memcpy(ys[i], h + index[i] * hidden, sizeof(float) * (size_t)hidden);
    }

    for (ptrdiff_t r = 0; r < rows; r++) {
        ptrdiff_t b = batch_begin + r;
        ptrdiff_t length = p->lengths ? p->lengths[b] : steps;
        if (p->y) {
            for (ptrdiff_t t = length; t < steps; t++)
                memset(p->y + t * p->y_step + b * p->y_batch, 0, sizeof(float) * (size_t)hidden);
        }
        if (p->last_h) memcpy(p->last_h + b * p->state_batch, h + r * hidden, sizeof(float) * (size_t)hidden);
        if (p->last_c) memcpy(p->last_c + b * p->state_batch, c + r * hidden, sizeof(float) * (size_t)hidden);
    }
    free(owned);
    return 0;
}

int ckiln_lstm(int isa, const ckiln_recurrence *p, ptrdiff_t batch_begin, ptrdiff_t batch_end) {
    return recurrence(isa, 0, p, batch_begin, batch_end);
}

int ckiln_gru(int isa, const ckiln_recurrence *p, ptrdiff_t batch_begin, ptrdiff_t batch_end) {
    return recurrence(isa, 1, p, batch_begin, batch_end);
}

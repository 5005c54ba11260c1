/* Direct 2-D convolution (AVX-512) for convolutions whose im2col matrix would cost as much
 * as the product: few output channels, small images (the stems and 3×3 stages of small
 * networks, 7×7/2 stems).
 *
 * Vectorized along output columns: a "pixel vector" is up to 16 consecutive outputs of one
 * output row (the row's last vector is masked), or, for rows of 8 outputs or fewer, two
 * whole rows folded into one vector (one masked load per row). A tile is 4 output channels × 6 pixel
 * vectors in 24 zmm accumulators; each tap (input channel, kh, kw) costs six unaligned
 * input loads, four weight broadcasts and 24 FMAs. (8 × 3 and 6 × 4 tiles measured the
 * same; 4 wastes fewer lanes when the channel count is not a multiple of 8.)
 *
 * The input is first copied into a zero-padded plane per channel, split into stride_w
 * phases (as the depthwise kernel does), so every tap of a pixel vector is one contiguous
 * load with no bound check: row r holds input row r − pad_h, and phase p of it holds, at x,
 * input column stride_w·x + p − pad_w. Tap column c = kw·dilation_w of output ow is phase
 * c % stride_w at x = ow + c / stride_w. Loads past a row's end read the next row (or the
 * buffer's slack): those lanes are never stored.
 *
 * Arithmetic per output: one FMA per tap in (channel, kh, kw) order from zero, then + the
 * summand (accumulate), + bias, then the clamp — the same on every thread count. */
#include <stdint.h>
#include <string.h>

#include "internal.h"

#define DIRECT_R 4 /* output channels per tile */
#define DIRECT_V 6 /* pixel vectors per tile */

size_t ckiln_conv_direct_packed_count(ptrdiff_t m, ptrdiff_t k) { return ckiln_channel_blocks_count(m, k, DIRECT_R); }

void ckiln_conv_direct_pack(const float *w, ptrdiff_t m, ptrdiff_t k, float *packed) {
    ckiln_channel_blocks_pack(w, m, k, DIRECT_R, packed);
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl")))

typedef struct {
    const float *padded;   /* channels planes of rows × row_floats */
    const int32_t *offset; /* per tap: its displacement from a pixel vector's base */
    const float *w;        /* packed weights */
    const float *bias;     /* NULL: none */
    float *out;
    ptrdiff_t m, k, out_h, out_w, stride_h, row_floats;
    /* Rows take vectors_per_row vectors each, or, when fold is 2 (rows of 8 outputs or
     * fewer), two rows share one vector. */
    ptrdiff_t vectors_per_row, fold, vectors, tiles, blocks, tasks;
    float lower, upper;
    int accumulate;
} direct_job;

/* Pixel vector j: its base address (tap offset 0), first output and lane count, and how
 * many output rows it folds (1 when not folded). The outputs of a vector are consecutive
 * in the plane either way. */
typedef struct {
    const float *base;
    ptrdiff_t start;
    int count, rows;
} pixel_vector;

static inline pixel_vector vector_at(const direct_job *job, ptrdiff_t j) {
    pixel_vector v;
    ptrdiff_t oh, ow;
    if (job->fold > 1) {
        oh = j * job->fold;
        ow = 0;
        ptrdiff_t rows = job->out_h - oh;
        v.rows = (int)(rows < job->fold ? rows : job->fold);
        v.count = v.rows * (int)job->out_w;
    } else {
        oh = j / job->vectors_per_row;
        ow = (j % job->vectors_per_row) * 16;
        ptrdiff_t left = job->out_w - ow;
        v.rows = 1;
        v.count = left < 16 ? (int)left : 16;
    }
    v.base = job->padded + oh * job->stride_h * job->row_floats + ow;
    v.start = oh * job->out_w + ow;
    return v;
}

/* The low `count` lanes. */
static inline __mmask16 low_lanes(int count) { return (__mmask16)(count >= 16 ? 0xFFFF : (1u << count) - 1); }

/* One tile of block b (channels 4b ..< 4b + 4) over pixel vectors j0 ..< j0 + nv (nv ≤ 6).
 * A folded vector's second row (lanes out_w ..< 2·out_w) is a second masked load from the
 * padded row stride_h further down; no lane outside its rows is read. */
AVX512 static inline __attribute__((always_inline)) void tile(const direct_job *job, ptrdiff_t b, ptrdiff_t j0,
                                                               int nv, int folded) {
    pixel_vector vec[DIRECT_V];
    const float *base[DIRECT_V], *second[DIRECT_V];
    __mmask16 first_row = low_lanes((int)job->out_w), second_row[DIRECT_V];
    for (int v = 0; v < DIRECT_V; v++) {
        vec[v] = vector_at(job, j0 + (v < nv ? v : 0));
        base[v] = vec[v].base;
        second[v] = vec[v].base + job->stride_h * job->row_floats - job->out_w;
        second_row[v] = vec[v].rows > 1 ? (__mmask16)(low_lanes(2 * (int)job->out_w) & ~first_row) : 0;
    }
    __m512 acc[DIRECT_R][DIRECT_V];
    for (int r = 0; r < DIRECT_R; r++)
        for (int v = 0; v < DIRECT_V; v++) acc[r][v] = _mm512_setzero_ps();
    const float *w = job->w + b * job->k * DIRECT_R;
    const int32_t *offset = job->offset;
    for (ptrdiff_t t = 0; t < job->k; t++, w += DIRECT_R) {
        ptrdiff_t o = offset[t];
        __m512 x[DIRECT_V];
        for (int v = 0; v < DIRECT_V; v++) {
            if (v >= nv) continue;
            if (folded) {
                x[v] = _mm512_maskz_loadu_ps(first_row, base[v] + o);
                x[v] = _mm512_mask_loadu_ps(x[v], second_row[v], second[v] + o);
            } else {
                x[v] = _mm512_loadu_ps(base[v] + o);
            }
        }
        for (int r = 0; r < DIRECT_R; r++) {
            __m512 tap = _mm512_set1_ps(w[r]);
            for (int v = 0; v < DIRECT_V; v++)
                if (v < nv) acc[r][v] = _mm512_fmadd_ps(tap, x[v], acc[r][v]);
        }
    }
    ptrdiff_t plane = job->out_h * job->out_w;
    __m512 lower = _mm512_set1_ps(job->lower), upper = _mm512_set1_ps(job->upper);
    for (int r = 0; r < DIRECT_R; r++) {
        ptrdiff_t oc = b * DIRECT_R + r;
        if (oc >= job->m) break;
        __m512 bias = _mm512_set1_ps(job->bias ? job->bias[oc] : 0.0f);
        for (int v = 0; v < DIRECT_V; v++) {
            if (v >= nv) continue;
            __mmask16 mask = low_lanes(vec[v].count);
            float *y = job->out + oc * plane + vec[v].start;
            __m512 sum = acc[r][v];
            if (job->accumulate) sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps(mask, y));
            sum = _mm512_add_ps(sum, bias);
            /* NaN stays NaN: max/min return the second operand when either is NaN. */
            sum = _mm512_min_ps(upper, _mm512_max_ps(lower, sum));
            _mm512_mask_storeu_ps(y, mask, sum);
        }
    }
}

/* tile() with nv and folded as constants, so the accumulators stay in registers. */
#define TILE_CASES(folded)                                       \
    switch (nv) {                                                \
    case 6: tile(job, b, j0, 6, folded); break;                  \
    case 5: tile(job, b, j0, 5, folded); break;                  \
    case 4: tile(job, b, j0, 4, folded); break;                  \
    case 3: tile(job, b, j0, 3, folded); break;                  \
    case 2: tile(job, b, j0, 2, folded); break;                  \
    default: tile(job, b, j0, 1, folded); break;                 \
    }

/* Task `index`: an equal share of the (block, tile) pairs, block-major so a task mostly
 * reads one block of weights. */
AVX512 static void direct_task(void *context, ptrdiff_t index) {
    const direct_job *job = context;
    ptrdiff_t total = job->blocks * job->tiles;
    ptrdiff_t begin = total * index / job->tasks, end = total * (index + 1) / job->tasks;
    for (ptrdiff_t pair = begin; pair < end; pair++) {
        ptrdiff_t b = pair / job->tiles, j0 = (pair % job->tiles) * DIRECT_V;
        ptrdiff_t left = job->vectors - j0;
        int nv = (int)(left >= DIRECT_V ? DIRECT_V : left);
        if (job->fold > 1) {
            TILE_CASES(1)
        } else {
            TILE_CASES(0)
        }
    }
}

enum { RECIPE_VECTORS = 4 }; /* padded rows of up to 64 floats take the recipe path */

/* How every padded row inside the image is made from its input line when the row is narrow:
 * vector v (floats 16v ..< 16v + 16 of the row) is one two-register permute of the 32 input
 * columns from base[v], lanes outside `lanes[v]` zero (padding). The same for every row, so
 * it is computed once per convolution; a row then costs a few loads, permutes and stores. */
typedef struct {
    int vectors;
    int32_t base[RECIPE_VECTORS];
    __mmask16 lanes[RECIPE_VECTORS], low[RECIPE_VECTORS], high[RECIPE_VECTORS], store[RECIPE_VECTORS];
    int32_t index[RECIPE_VECTORS][16];
} row_recipe;

typedef struct {
    const float *in;
    float *padded;
    ptrdiff_t in_h, in_w, rows, stride_w, pad_h, pad_w, width;
    const row_recipe *recipe; /* NULL: rows are copied phase by phase */
} pad_job;

/* The recipe of rows of `row_floats` = stride·width floats, or 0 when some vector's inputs
 * span 32 columns or more (or the row is too wide). */
static int make_recipe(row_recipe *recipe, ptrdiff_t in_w, ptrdiff_t stride, ptrdiff_t pad_w, ptrdiff_t width) {
    ptrdiff_t row_floats = stride * width;
    if (row_floats > 16 * RECIPE_VECTORS) return 0;
    recipe->vectors = (int)((row_floats + 15) / 16);
    for (int v = 0; v < recipe->vectors; v++) {
        ptrdiff_t source[16], lowest = -1, highest = -1;
        for (int lane = 0; lane < 16; lane++) {
            ptrdiff_t at = 16 * v + lane, column = -1;
            if (at < row_floats) column = stride * (at % width) + at / width - pad_w;
            source[lane] = column >= 0 && column < in_w ? column : -1;
            if (source[lane] < 0) continue;
            if (lowest < 0 || source[lane] < lowest) lowest = source[lane];
            if (source[lane] > highest) highest = source[lane];
        }
        if (lowest < 0) lowest = 0;
        if (highest - lowest >= 32) return 0;
        ptrdiff_t stored = row_floats - 16 * v;
        recipe->base[v] = (int32_t)lowest;
        recipe->lanes[v] = 0;
        for (int lane = 0; lane < 16; lane++) {
            recipe->index[v][lane] = source[lane] < 0 ? 0 : (int32_t)(source[lane] - lowest);
            if (source[lane] >= 0) recipe->lanes[v] |= (__mmask16)(1u << lane);
        }
        ptrdiff_t available = in_w - lowest; /* columns the two loads may read */
        recipe->low[v] = low_lanes(available < 16 ? (int)available : 16);
        recipe->high[v] = available <= 16 ? 0 : low_lanes(available < 32 ? (int)(available - 16) : 16);
        recipe->store[v] = low_lanes(stored < 16 ? (int)stored : 16);
    }
    return 1;
}

/* phase[x] = line[stride·x + shift] for x in [low, high), stride 1 or 2, 16 at a time with
 * masked loads (nothing outside the line's in_w floats is read). */
AVX512 static void copy_phase(float *phase, const float *line, ptrdiff_t stride, ptrdiff_t shift, ptrdiff_t low,
                              ptrdiff_t high, ptrdiff_t in_w) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    for (ptrdiff_t x = low; x < high; x += 16) {
        ptrdiff_t n = high - x, from = stride * x + shift, avail = in_w - from;
        __mmask16 store = low_lanes(n < 16 ? (int)n : 16);
        __m512 values;
        if (stride == 1) {
            values = _mm512_maskz_loadu_ps(store, line + from);
        } else {
            __m512 lo = _mm512_maskz_loadu_ps(low_lanes(avail < 16 ? (int)avail : 16), line + from);
            __m512 hi = _mm512_maskz_loadu_ps(low_lanes(avail < 32 ? (int)(avail - 16) : 16), line + from + 16);
            values = _mm512_permutex2var_ps(lo, even, hi);
        }
        _mm512_mask_storeu_ps(phase + x, store, values);
    }
}

/* Channel `c`'s zero-padded, phase-split plane: zeroed whole, then the input rows copied in.
 * Phase p of a row holds input column stride_w·x + p − pad_w at x: inside the input for x in
 * [low, high), the same for every row. */
AVX512 static void pad_task(void *context, ptrdiff_t c) {
    const pad_job *job = context;
    ptrdiff_t stride = job->stride_w, row_floats = stride * job->width;
    const float *plane = job->in + c * job->in_h * job->in_w;
    float *out = job->padded + c * job->rows * row_floats;
    ptrdiff_t first_row = job->pad_h, last_row = job->pad_h + job->in_h;
    if (first_row < 0) first_row = 0;
    if (last_row > job->rows) last_row = job->rows;
    if (job->recipe) {
        const row_recipe *recipe = job->recipe;
        if (last_row < first_row) last_row = first_row;
        memset(out, 0, sizeof(float) * (size_t)(first_row * row_floats));
        __m512i index[RECIPE_VECTORS];
        for (int v = 0; v < recipe->vectors; v++) index[v] = _mm512_loadu_si512(recipe->index[v]);
        for (ptrdiff_t r = first_row; r < last_row; r++) {
            const float *line = plane + (r - job->pad_h) * job->in_w;
            float *row = out + r * row_floats;
            /* Whole-vector stores (masked ones cost more): a row's last vector spills into the
             * next row, which is written after it; only the plane's last row stays inside. */
            __mmask16 last = r + 1 < job->rows ? 0xFFFF : recipe->store[recipe->vectors - 1];
            for (int v = 0; v < recipe->vectors; v++) {
                const float *from = line + recipe->base[v];
                __m512 lo = _mm512_maskz_loadu_ps(recipe->low[v], from);
                __m512 hi = _mm512_maskz_loadu_ps(recipe->high[v], from + 16);
                __m512 values = _mm512_maskz_permutex2var_ps(recipe->lanes[v], lo, index[v], hi);
                _mm512_mask_storeu_ps(row + 16 * v, v + 1 < recipe->vectors ? 0xFFFF : last, values);
            }
        }
        memset(out + last_row * row_floats, 0, sizeof(float) * (size_t)((job->rows - last_row) * row_floats));
        return;
    }
    memset(out, 0, sizeof(float) * (size_t)(job->rows * row_floats));
    for (ptrdiff_t p = 0; p < stride; p++) {
        ptrdiff_t first = job->pad_w - p;
        ptrdiff_t low = first <= 0 ? 0 : (first + stride - 1) / stride;
        ptrdiff_t high = (job->in_w + first + stride - 1) / stride;
        if (high > job->width) high = job->width;
        for (ptrdiff_t r = first_row; r < last_row; r++) {
            const float *line = plane + (r - job->pad_h) * job->in_w;
            float *phase = out + r * row_floats + p * job->width;
            if (stride <= 2) {
                copy_phase(phase, line, stride, -first, low, high, job->in_w);
            } else {
                for (ptrdiff_t x = low; x < high; x++) phase[x] = line[stride * x - first];
            }
        }
    }
}
#endif

#if defined(__x86_64__) || defined(__i386__)
/* Small inputs on several threads: task i pads the whole input into its own copy of the planes
 * (copies side by side in the caller's scratch slot 4) and computes its share of the tiles,
 * in one fork. The padded planes never move between cores and there is no second fork,
 * which costs more than padding once per thread when the planes are small. */
enum { PRIVATE_PLANES = 256 << 10 };

typedef struct {
    pad_job pad; /* its `padded`: unused; task i pads copy i */
    direct_job job;
    ptrdiff_t channels;
    float *copies;
    ptrdiff_t copy_floats; /* planes and slack, rounded to a cache line */
} private_job;

AVX512 static void private_task(void *context, ptrdiff_t index) {
    const private_job *shared = context;
    float *padded = shared->copies + index * shared->copy_floats;
    pad_job pad = shared->pad;
    pad.padded = padded;
    for (ptrdiff_t c = 0; c < shared->channels; c++) pad_task(&pad, c);
    memset(padded + shared->copy_floats - 16, 0, 16 * sizeof(float));
    direct_job job = shared->job;
    job.padded = padded;
    direct_task(&job, index);
}
#endif

#if defined(__x86_64__) || defined(__i386__)
/* The padded input's geometry and tap offsets (in scratch slot 3), and the job that pads it
 * (not yet run; `recipe` must outlive the job). */
static int prepare(ckiln_direct_input *input, pad_job *pad, row_recipe *recipe, const float *in,
                   ptrdiff_t channels, ptrdiff_t in_h, ptrdiff_t in_w, ptrdiff_t k_h, ptrdiff_t k_w,
                   ptrdiff_t stride_h, ptrdiff_t stride_w, ptrdiff_t dilation_h, ptrdiff_t dilation_w,
                   ptrdiff_t pad_h, ptrdiff_t pad_w, ptrdiff_t out_h, ptrdiff_t out_w) {
    ptrdiff_t rows = (out_h - 1) * stride_h + (k_h - 1) * dilation_h + 1;
    ptrdiff_t width = out_w + ((k_w - 1) * dilation_w) / stride_w;
    ptrdiff_t row_floats = stride_w * width, plane = rows * row_floats;
    ptrdiff_t k = channels * k_h * k_w;
    if (channels * plane + 16 > INT32_MAX) return -1; /* tap offsets are int32 */
    /* Slack: a masked row-end vector of the last plane loads up to 15 floats past it. */
    size_t bytes = sizeof(float) * (size_t)(channels * plane + 16) + sizeof(int32_t) * (size_t)k;
    float *padded = ckiln_scratch(3, bytes);
    if (!padded) return -2;
    int32_t *offset = (int32_t *)(padded + channels * plane + 16);
    for (ptrdiff_t c = 0, t = 0; c < channels; c++) {
        for (ptrdiff_t kh = 0; kh < k_h; kh++) {
            for (ptrdiff_t kw = 0; kw < k_w; kw++, t++) {
                ptrdiff_t column = kw * dilation_w;
                offset[t] = (int32_t)(c * plane + kh * dilation_h * row_floats + (column % stride_w) * width +
                                      column / stride_w);
            }
        }
    }
    memset(padded + channels * plane, 0, 16 * sizeof(float));
    /* Stride 1 rows copy as fast one masked move each (measured). */
    int narrow = stride_w > 1 && make_recipe(recipe, in_w, stride_w, pad_w, width);
    *pad = (pad_job){in, padded, in_h, in_w, rows, stride_w, pad_h, pad_w, width, narrow ? recipe : NULL};
    *input = (ckiln_direct_input){padded, offset, k, row_floats, channels * plane};
    return 0;
}

int ckiln_direct_input_pad(ckiln_direct_input *input, int threads, const float *in, ptrdiff_t channels,
                           ptrdiff_t in_h, ptrdiff_t in_w, ptrdiff_t k_h, ptrdiff_t k_w, ptrdiff_t stride_h,
                           ptrdiff_t stride_w, ptrdiff_t dilation_h, ptrdiff_t dilation_w, ptrdiff_t pad_h,
                           ptrdiff_t pad_w, ptrdiff_t out_h, ptrdiff_t out_w, int exact_reads) {
    ptrdiff_t rows = (out_h - 1) * stride_h + (k_h - 1) * dilation_h + 1;
    ptrdiff_t width = out_w + ((k_w - 1) * dilation_w) / stride_w;
    if (exact_reads && stride_w == 1 && pad_h == 0 && pad_w == 0 && rows == in_h && width == in_w) {
        /* The padded planes would be the input itself. */
        ptrdiff_t k = channels * k_h * k_w;
        int32_t *offset = ckiln_scratch(3, sizeof(int32_t) * (size_t)k);
        if (!offset) return -2;
        if (channels * in_h * in_w > INT32_MAX) return -1;
        for (ptrdiff_t c = 0, t = 0; c < channels; c++)
            for (ptrdiff_t kh = 0; kh < k_h; kh++)
                for (ptrdiff_t kw = 0; kw < k_w; kw++, t++)
                    offset[t] = (int32_t)(c * in_h * in_w + kh * dilation_h * in_w + kw * dilation_w);
        *input = (ckiln_direct_input){in, offset, k, in_w, channels * in_h * in_w};
        return 0;
    }
    pad_job pad;
    row_recipe recipe;
    int status = prepare(input, &pad, &recipe, in, channels, in_h, in_w, k_h, k_w, stride_h, stride_w, dilation_h,
                         dilation_w, pad_h, pad_w, out_h, out_w);
    if (status == 0) ckiln_parallel_for(threads, channels, pad_task, &pad);
    return status;
}
#endif

int ckiln_conv2d_direct(int isa, int threads, const float *in, ptrdiff_t channels, ptrdiff_t in_h, ptrdiff_t in_w,
                        const float *packed_w, ptrdiff_t m, ptrdiff_t k_h, ptrdiff_t k_w, ptrdiff_t stride_h,
                        ptrdiff_t stride_w, ptrdiff_t dilation_h, ptrdiff_t dilation_w, ptrdiff_t pad_h,
                        ptrdiff_t pad_w, const float *bias, float lower, float upper, int accumulate, float *out,
                        ptrdiff_t out_h, ptrdiff_t out_w) {
#if defined(__x86_64__) || defined(__i386__)
    if (ckiln_clamp_isa(isa) < CKILN_ISA_AVX512) return -1;
    if (out_h <= 0 || out_w <= 0 || m <= 0) return 0;
    ckiln_direct_input input;
    pad_job pad;
    row_recipe recipe;
    int status = prepare(&input, &pad, &recipe, in, channels, in_h, in_w, k_h, k_w, stride_h, stride_w, dilation_h,
                         dilation_w, pad_h, pad_w, out_h, out_w);
    if (status != 0) return status;

    direct_job job = {input.padded, input.offset, packed_w, bias, out, m, input.k, out_h, out_w, stride_h,
                      input.row_floats};
    job.vectors_per_row = (out_w + 15) / 16;
    job.fold = out_w <= 8 ? 2 : 1;
    job.vectors = job.fold > 1 ? (out_h + job.fold - 1) / job.fold : out_h * job.vectors_per_row;
    job.tiles = (job.vectors + DIRECT_V - 1) / DIRECT_V;
    job.blocks = (m + DIRECT_R - 1) / DIRECT_R;
    job.lower = lower;
    job.upper = upper;
    job.accumulate = accumulate;
    ptrdiff_t pairs = job.blocks * job.tiles;
    ptrdiff_t copy_floats = (input.floats + 16 + 15) / 16 * 16;
    if (threads > 1 && sizeof(float) * (size_t)copy_floats <= PRIVATE_PLANES && pairs >= threads) {
        float *copies = ckiln_scratch(4, sizeof(float) * (size_t)(copy_floats * threads));
        if (copies) {
            private_job shared = {pad, job, channels, copies, copy_floats};
            shared.job.tasks = threads;
            ckiln_parallel_for(threads, threads, private_task, &shared);
            return 0;
        }
    }
    ckiln_parallel_for(threads, channels, pad_task, &pad);
    job.tasks = threads <= 1 ? 1 : (pairs < 8 * threads ? pairs : 8 * threads);
    ckiln_parallel_for(threads, job.tasks, direct_task, &job);
    return 0;
#else
    (void)isa; (void)threads; (void)in; (void)channels; (void)in_h; (void)in_w; (void)packed_w; (void)m;
    (void)k_h; (void)k_w; (void)stride_h; (void)stride_w; (void)dilation_h; (void)dilation_w; (void)pad_h;
    (void)pad_w; (void)bias; (void)lower; (void)upper; (void)accumulate; (void)out; (void)out_h; (void)out_w;
    return -1;
#endif
}

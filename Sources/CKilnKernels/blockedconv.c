/* Channel-blocked direct 2-D convolution (AVX-512) for convolutions with many output channels
 * (BlockedConvolution takes it from 64): the 3×3 stages of ResNets, strided 3×3 and 1×1
 * downsampling, and pointwise layers with many input channels or small images (their input
 * read in place: ckiln_direct_input_pad with exact_reads).
 *
 * Vectorized along output channels, as onnxruntime's NCHWc kernels are, but on NCHW tensors:
 * a register holds 16 output channels of one output pixel. A tile is nb ≤ 4 blocks of 16
 * channels × a run of n consecutive outputs of one output row (nb·n ≤ 28 accumulators); each
 * tap (input channel, kh, kw) costs nb weight loads, n input broadcasts and nb·n FMAs.
 * Every lane does useful work whatever the image width (the pixel-vectorized direct kernel
 * wastes the lanes past a row's end: 12.5 % on 56-, 28-, 14- and 7-wide rows), and the
 * weights of a tile stream in order.
 *
 * The input is the zero-padded, phase-split copy the pixel-vectorized kernel reads
 * (ckiln_direct_input), so a tap of consecutive outputs reads consecutive floats whatever
 * the stride. A task is one group of blocks over a band of output rows; it goes through the
 * taps in chunks whose weights stay in L1 while every tile of the band uses them (a 3×3
 * layer of 512 channels has 1.2 MB of weights per 4 blocks: read once per row, they came
 * from L3), the tiles' sums waiting in L1 between chunks. A finished tile is transposed in
 * registers (16 × 16) to runs of outputs per channel and stored into the NCHW output.
 *
 * Arithmetic per output: one FMA per tap in (channel, kh, kw) order from zero, then + the
 * summand (accumulate), + bias, then the clamp — that of the pixel-vectorized kernel, on any
 * thread count. */
#include <stdint.h>
#include <string.h>

#include "internal.h"

enum { BLOCK = 16 };

size_t ckiln_conv_blocked_packed_count(ptrdiff_t m, ptrdiff_t k) { return ckiln_channel_blocks_count(m, k, BLOCK); }

void ckiln_conv_blocked_pack(const float *w, ptrdiff_t m, ptrdiff_t k, float *packed) {
    ckiln_channel_blocks_pack(w, m, k, BLOCK, packed);
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl")))

enum { MAX_RUN = 14, MAX_BLOCKS = 4 };
enum { CHUNK_BYTES = 24 << 10, PARTIAL_BYTES = 32 << 10 };

/* Loops over blocks, outputs and lanes unrolled whole: the accumulators must be registers. */
#define UNROLL _Pragma("GCC unroll 16")

typedef struct {
    ckiln_direct_input input;
    const float *w; /* packed: block b's taps at w + b·k·16 */
    const float *bias;
    float *out;
    ptrdiff_t m, out_h, out_w, stride_h;
    ptrdiff_t blocks;   /* 16-channel blocks */
    int per_tile;       /* blocks per tile (the last group of a row may have fewer) */
    ptrdiff_t groups;   /* tiles of blocks per pixel run */
    ptrdiff_t run;      /* outputs per run (the last run of a row may be shorter) */
    ptrdiff_t runs;     /* runs per output row */
    ptrdiff_t band;     /* output rows per task */
    ptrdiff_t bands;
    ptrdiff_t chunk;    /* taps per pass over a band */
    float lower, upper;
    int accumulate;
} blocked_job;

/* A tile's taps [begin, end): from zero or from the partial sums it stored (`partial`, nb·n
 * vectors), and to the output when `end` is the last tap, else back to `partial`. */
typedef struct {
    ptrdiff_t begin, end;
    float *partial;
} tap_range;

/* r[l] lane p ← r[p] lane l (a 16 × 16 transpose). */
AVX512 static inline __attribute__((always_inline)) void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* r[4i + e], 128-bit lane j: element 4j + e of rows 4i ..< 4i + 4. */
    for (int i = 0; i < 4; i++) {
        __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
        __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int e = 0; e < 4; e++) {
        __m512 a = _mm512_shuffle_f32x4(r[e], r[4 + e], 0x88), b = _mm512_shuffle_f32x4(r[e], r[4 + e], 0xDD);
        __m512 c = _mm512_shuffle_f32x4(r[8 + e], r[12 + e], 0x88), d = _mm512_shuffle_f32x4(r[8 + e], r[12 + e], 0xDD);
        t[e] = _mm512_shuffle_f32x4(a, c, 0x88);
        t[8 + e] = _mm512_shuffle_f32x4(a, c, 0xDD);
        t[4 + e] = _mm512_shuffle_f32x4(b, d, 0x88);
        t[12 + e] = _mm512_shuffle_f32x4(b, d, 0xDD);
    }
    for (int i = 0; i < 16; i++) r[i] = t[i];
}

/* Blocks b0 ..< b0 + nb over outputs ow0 ..< ow0 + n of row oh (nb and n constants after
 * inlining, so the accumulators stay in registers). */
AVX512 static inline __attribute__((always_inline)) void tile(const blocked_job *job, ptrdiff_t b0, int nb,
                                                               ptrdiff_t oh, ptrdiff_t ow0, int n, tap_range taps) {
    __m512 acc[MAX_BLOCKS][MAX_RUN];
    UNROLL
    for (int b = 0; b < MAX_BLOCKS; b++)
        UNROLL
        for (int p = 0; p < MAX_RUN; p++)
            acc[b][p] = taps.begin > 0 && b < nb && p < n ? _mm512_load_ps(taps.partial + (b * n + p) * BLOCK)
                                                          : _mm512_setzero_ps();
    const ptrdiff_t k = job->input.k;
    const float *x = job->input.padded + oh * job->stride_h * job->input.row_floats + ow0;
    const float *w = job->w + (b0 * k + taps.begin) * BLOCK;
    const int32_t *offset = job->input.offset;
    for (ptrdiff_t t = taps.begin; t < taps.end; t++, w += BLOCK) {
        const float *tap = x + offset[t];
        __m512 weights[MAX_BLOCKS];
        UNROLL
        for (int b = 0; b < MAX_BLOCKS; b++)
            if (b < nb) weights[b] = _mm512_loadu_ps(w + b * k * BLOCK);
        UNROLL
        for (int p = 0; p < MAX_RUN; p++) {
            if (p >= n) continue;
            __m512 value = _mm512_set1_ps(tap[p]);
            UNROLL
            for (int b = 0; b < MAX_BLOCKS; b++)
                if (b < nb) acc[b][p] = _mm512_fmadd_ps(value, weights[b], acc[b][p]);
        }
    }
    if (taps.end < k) {
        UNROLL
        for (int b = 0; b < MAX_BLOCKS; b++)
            UNROLL
            for (int p = 0; p < MAX_RUN; p++)
                if (b < nb && p < n) _mm512_store_ps(taps.partial + (b * n + p) * BLOCK, acc[b][p]);
        return;
    }
    const ptrdiff_t plane = job->out_h * job->out_w;
    const __mmask16 mask = (__mmask16)((1u << n) - 1);
    const __m512 lower = _mm512_set1_ps(job->lower), upper = _mm512_set1_ps(job->upper);
    UNROLL
    for (int b = 0; b < MAX_BLOCKS; b++) {
        if (b >= nb) break;
        __m512 rows[16];
        UNROLL
        for (int p = 0; p < 16; p++) rows[p] = p < n && p < MAX_RUN ? acc[b][p] : _mm512_setzero_ps();
        transpose16(rows);
        UNROLL
        for (int l = 0; l < BLOCK; l++) {
            ptrdiff_t oc = (b0 + b) * BLOCK + l;
            if (oc >= job->m) break;
            float *y = job->out + oc * plane + oh * job->out_w + ow0;
            __m512 sum = rows[l];
            if (job->accumulate) sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps(mask, y));
            sum = _mm512_add_ps(sum, _mm512_set1_ps(job->bias ? job->bias[oc] : 0.0f));
            /* NaN stays NaN: max/min return the second operand when either is NaN. */
            sum = _mm512_min_ps(upper, _mm512_max_ps(lower, sum));
            _mm512_mask_storeu_ps(y, mask, sum);
        }
    }
}

/* One function per supported (nb, n) — nb ≤ 2: n ≤ 14; nb ≤ 4: n ≤ 7 — each tile() with
 * constants, so its accumulators stay in registers; a table picks one. */
typedef void (*tile_function)(const blocked_job *, ptrdiff_t, ptrdiff_t, ptrdiff_t, tap_range);
#define TILE(nb, n) \
    AVX512 static void tile_##nb##_##n(const blocked_job *job, ptrdiff_t b0, ptrdiff_t oh, ptrdiff_t ow0, \
                                       tap_range taps) { \
        tile(job, b0, nb, oh, ow0, n, taps); \
    }
#define SHORT_RUNS(nb) TILE(nb, 1) TILE(nb, 2) TILE(nb, 3) TILE(nb, 4) TILE(nb, 5) TILE(nb, 6) TILE(nb, 7)
#define LONG_RUNS(nb) TILE(nb, 8) TILE(nb, 9) TILE(nb, 10) TILE(nb, 11) TILE(nb, 12) TILE(nb, 13) TILE(nb, 14)
SHORT_RUNS(1) LONG_RUNS(1) SHORT_RUNS(2) LONG_RUNS(2) SHORT_RUNS(3) SHORT_RUNS(4)
#define SHORT_ROW(nb) {NULL, tile_##nb##_1, tile_##nb##_2, tile_##nb##_3, tile_##nb##_4, tile_##nb##_5, tile_##nb##_6, tile_##nb##_7}
#define LONG_ROW(nb) {NULL, tile_##nb##_1, tile_##nb##_2, tile_##nb##_3, tile_##nb##_4, tile_##nb##_5, tile_##nb##_6, tile_##nb##_7, \
                      tile_##nb##_8, tile_##nb##_9, tile_##nb##_10, tile_##nb##_11, tile_##nb##_12, tile_##nb##_13, tile_##nb##_14}
static const tile_function tiles[MAX_BLOCKS + 1][MAX_RUN + 1] = {{NULL}, LONG_ROW(1), LONG_ROW(2), SHORT_ROW(3), SHORT_ROW(4)};

/* Task `index`: group g (blocks g·per_tile ..< +per_tile) over the output rows of one band,
 * group-major so consecutive tasks read the same weights. The taps go in chunks whose weights
 * stay in L1 across the band's tiles; between chunks each tile's sums wait in this thread's
 * scratch (slot 4). */
AVX512 static void blocked_task(void *context, ptrdiff_t index) {
    const blocked_job *job = context;
    ptrdiff_t g = index / job->bands, first = (index % job->bands) * job->band;
    ptrdiff_t last = first + job->band < job->out_h ? first + job->band : job->out_h;
    ptrdiff_t b0 = g * job->per_tile, left = job->blocks - b0;
    int nb = (int)(left < job->per_tile ? left : job->per_tile);
    ptrdiff_t k = job->input.k, chunk = job->chunk;
    float *partials = NULL;
    if (chunk < k) partials = ckiln_scratch(4, sizeof(float) * (size_t)(job->band * job->runs * nb * job->run * BLOCK));
    if (!partials) chunk = k; /* out of memory: one pass, the same sums */
    for (ptrdiff_t begin = 0; begin < k; begin += chunk) {
        tap_range taps = {begin, begin + chunk < k ? begin + chunk : k, partials};
        for (ptrdiff_t oh = first; oh < last; oh++) {
            for (ptrdiff_t r = 0; r < job->runs; r++) {
                ptrdiff_t ow0 = r * job->run, rest = job->out_w - ow0;
                tiles[nb][rest < job->run ? rest : job->run](job, b0, oh, ow0, taps);
                if (partials) taps.partial += nb * job->run * BLOCK;
            }
        }
    }
}
#endif

int ckiln_conv2d_blocked(int isa, int threads, const float *in, ptrdiff_t channels, ptrdiff_t in_h, ptrdiff_t in_w,
                         const float *packed_w, ptrdiff_t m, ptrdiff_t k_h, ptrdiff_t k_w, ptrdiff_t stride_h,
                         ptrdiff_t stride_w, ptrdiff_t dilation_h, ptrdiff_t dilation_w, ptrdiff_t pad_h,
                         ptrdiff_t pad_w, const float *bias, float lower, float upper, int accumulate, float *out,
                         ptrdiff_t out_h, ptrdiff_t out_w) {
#if defined(__x86_64__) || defined(__i386__)
    if (ckiln_clamp_isa(isa) < CKILN_ISA_AVX512) return -1;
    if (out_h <= 0 || out_w <= 0 || m <= 0) return 0;
    blocked_job job = {.w = packed_w, .bias = bias, .out = out, .m = m, .out_h = out_h, .out_w = out_w,
                       .stride_h = stride_h, .lower = lower, .upper = upper, .accumulate = accumulate};
    int status = ckiln_direct_input_pad(&job.input, threads, in, channels, in_h, in_w, k_h, k_w, stride_h, stride_w,
                                        dilation_h, dilation_w, pad_h, pad_w, out_h, out_w, 1);
    if (status != 0) return status;
    job.blocks = (m + BLOCK - 1) / BLOCK;
    /* Rows split into equal runs of at most 14 outputs; runs of 7 or fewer take 4 blocks. */
    ptrdiff_t runs = (out_w + MAX_RUN - 1) / MAX_RUN;
    job.run = (out_w + runs - 1) / runs;
    job.runs = (out_w + job.run - 1) / job.run;
    job.per_tile = job.run <= 7 && job.blocks >= 4 ? 4 : job.blocks >= 2 ? 2 : 1;
    job.groups = (job.blocks + job.per_tile - 1) / job.per_tile;
    /* Chunks of taps whose weights fill about half of L1; bands of rows whose partial sums
     * fit in L1 too, narrowed until there are at least 4 tasks a thread. */
    ptrdiff_t tile_bytes = (ptrdiff_t)sizeof(float) * job.per_tile * BLOCK;
    job.chunk = CHUNK_BYTES / tile_bytes;
    ptrdiff_t band = PARTIAL_BYTES / (tile_bytes * job.runs * job.run);
    ptrdiff_t wanted = (4 * threads + job.groups - 1) / job.groups;
    if (band > (out_h + wanted - 1) / wanted) band = (out_h + wanted - 1) / wanted;
    if (band < 1) band = 1;
    job.bands = (out_h + band - 1) / band;
    job.band = (out_h + job.bands - 1) / job.bands;
    ckiln_parallel_for(threads, job.groups * job.bands, blocked_task, &job);
    return 0;
#else
    (void)isa; (void)threads; (void)in; (void)channels; (void)in_h; (void)in_w; (void)packed_w; (void)m;
    (void)k_h; (void)k_w; (void)stride_h; (void)stride_w; (void)dilation_h; (void)dilation_w; (void)pad_h;
    (void)pad_w; (void)bias; (void)lower; (void)upper; (void)accumulate; (void)out; (void)out_h; (void)out_w;
    return -1;
#endif
}

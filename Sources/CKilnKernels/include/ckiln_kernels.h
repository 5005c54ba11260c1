/* Kiln's native hot kernels: SGEMM, depthwise convolution, exact int8 GEMM and the DPU
 * emulator's int8 NHWC kernels.
 *
 * Every entry point picks its implementation at run time: AVX-512 (with VNNI for the int8
 * kernels) or AVX2+FMA functions (compiled per function with __attribute__((target))) when
 * the CPU has them, a portable C path otherwise. All matrices are row-major. No function
 * allocates except for grow-only, per-thread packing buffers. Threading is the caller's:
 * each call computes the given block serially, so callers split M or N.
 * Functions returning int return 0, or -1 when a scratch buffer could not be allocated
 * (C is then unspecified).
 */
#ifndef CKILN_KERNELS_H
#define CKILN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Instruction sets a kernel may use. */
enum {
    CKILN_ISA_PORTABLE = 0,
    CKILN_ISA_AVX2 = 1, /* AVX2 + FMA */
    CKILN_ISA_AVX512 = 2, /* AVX2 + FMA + AVX-512 F, BW, DQ, VL */
    CKILN_ISA_AVX512_VNNI = 3, /* CKILN_ISA_AVX512 + AVX512-VNNI */
};
/* The best instruction set this CPU supports (detected once), capped by the environment
 * variable KILN_ISA when it names a lower one (portable, avx2, avx512, avx512_vnni): for
 * comparing paths on one machine. */
int ckiln_cpu_isa(void);
/* Counts the tasks that force a lower instruction set (+1 on entry, −1 on exit), so callers
 * skip looking up the forced set while no task forces one; whether any does. */
void ckiln_isa_forcing(int delta);
int ckiln_isa_forced_anywhere(void);
/* Every kernel takes the instruction set to use as its first argument (clamped to
 * ckiln_cpu_isa()), so callers and tests choose per call and no global state is shared. */

/* Packed panels of SGEMM (A: 6 rows, B: 16 columns) and its K slice; the AVX2 micro-kernel
 * computes 6×16 tiles, the AVX-512 one 6×32 from two adjacent B panels. */
#define CKILN_SGEMM_MR 6
#define CKILN_SGEMM_NR 16
#define CKILN_SGEMM_KC 256

/* Bias placement of the fused epilogue. */
enum {
    CKILN_BIAS_NONE = 0,
    CKILN_BIAS_ROW = 1,    /* bias[i] added to row i of C */
    CKILN_BIAS_COLUMN = 2, /* bias[j] added to column j of C */
};

/* Applied once to each finished element: C = min(max(C + bias, lower), upper).
 * ReLU: lower 0, upper +inf; no clamp: -inf, +inf. The bias pointer refers to the
 * block being computed (row or column 0 of this call's C). */
typedef struct {
    int bias_kind;
    const float *bias;
    float lower;
    float upper;
} ckiln_epilogue;

/* C = epilogue(alpha * op(A) * op(B) + beta * C). op(A) is m×k (a is k×m when trans_a),
 * op(B) is k×n (b is n×k when trans_b). beta == 0 never reads C. epilogue may be NULL. */
int ckiln_sgemm(int isa, int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                 const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta,
                 float *c, ptrdiff_t ldc, const ckiln_epilogue *epilogue);

/* Floats needed to hold op(B) (k×n) packed. */
size_t ckiln_sgemm_packed_b_count(ptrdiff_t k, ptrdiff_t n);
/* Packs op(B) (k×n) once, for ckiln_sgemm_packed. */
void ckiln_sgemm_pack_b(int trans_b, ptrdiff_t k, ptrdiff_t n, const float *b, ptrdiff_t ldb,
                        float *packed);
/* ckiln_sgemm with a packed B of `packed_n` columns, computing C's columns
 * column0 ..< column0+n (column0 a multiple of CKILN_SGEMM_NR; c points at that column). */
int ckiln_sgemm_packed(int isa, int trans_a, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                        const float *a, ptrdiff_t lda, const float *packed_b, ptrdiff_t packed_n,
                        ptrdiff_t column0, float beta, float *c, ptrdiff_t ldc,
                        const ckiln_epilogue *epilogue);

/* Floats needed to hold op(A) (m×k) packed. */
size_t ckiln_sgemm_packed_a_count(ptrdiff_t m, ptrdiff_t k);
/* Packs alpha·op(A) (m×k; a is k×m when trans_a) once, for ckiln_sgemm_packed_a. */
void ckiln_sgemm_pack_a(int isa, int trans_a, ptrdiff_t m, ptrdiff_t k, float alpha, const float *a,
                        ptrdiff_t lda, float *packed);
/* C = epilogue(packedA · op(B) + beta·C) for rows row0 ..< row0+m of a packed A of
 * `packed_m` rows (row0 a multiple of CKILN_SGEMM_MR; c points at row row0). The alpha of
 * the packing applies. */
int ckiln_sgemm_packed_a(int isa, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                         const float *packed_a, ptrdiff_t packed_m, ptrdiff_t row0, const float *b,
                         ptrdiff_t ldb, float beta, float *c, ptrdiff_t ldc,
                         const ckiln_epilogue *epilogue);

/* C = epilogue(packedA · packedB + beta·C) for rows row0 ..< row0+m of a packed A of
 * `packed_m` rows and columns column0 ..< column0+n of a packed B of `packed_n` columns
 * (row0 a multiple of CKILN_SGEMM_MR, column0 of CKILN_SGEMM_NR; c points at (row0, column0)). */
int ckiln_sgemm_packed_ab(int isa, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *packed_a, ptrdiff_t packed_m,
                          ptrdiff_t row0, const float *packed_b, ptrdiff_t packed_n, ptrdiff_t column0, float beta,
                          float *c, ptrdiff_t ldc, const ckiln_epilogue *epilogue);
/* c[i][j] = clamp(t[j][i] (+ c[i][j] when accumulate) + bias[i], lower, upper) for i < rows,
 * j < columns: a product computed transposed (t, row stride ldt) finished into c (row stride
 * ldc) with the epilogue of ckiln_sgemm; bias may be NULL. NaN stays NaN. */
void ckiln_transposed_epilogue(ptrdiff_t rows, ptrdiff_t columns, const float *t, ptrdiff_t ldt, float *c,
                               ptrdiff_t ldc, const float *bias, float lower, float upper, int accumulate);
/* Rows row_begin ..< row_end of the im2col matrix of one image (channels × in_h × in_w):
 * row (c, kh, kw), column (oh, ow) holds in[c][oh·sh + kh·dh − ph][ow·sw + kw·dw − pw], zero
 * in the padding; `columns` is (channels·k_h·k_w) × (out_h·out_w). */
void ckiln_im2col(int isa, const float *in, ptrdiff_t channels, ptrdiff_t in_h, ptrdiff_t in_w, ptrdiff_t k_h,
                  ptrdiff_t k_w, ptrdiff_t stride_h, ptrdiff_t stride_w, ptrdiff_t dilation_h,
                  ptrdiff_t dilation_w, ptrdiff_t pad_h, ptrdiff_t pad_w, ptrdiff_t out_h, ptrdiff_t out_w,
                  ptrdiff_t row_begin, ptrdiff_t row_end, float *columns);

/* ckiln_im2col written straight into the packed-B layout of ckiln_sgemm_pack_b (the
 * matrix is (channels·k_h·k_w) × (out_h·out_w); `packed` holds
 * ckiln_sgemm_packed_b_count of it), so the GEMM runs on it without packing. Returns -1
 * when the row buffer could not be allocated. */
int ckiln_im2col_packed(int isa, const float *in, ptrdiff_t channels, ptrdiff_t in_h, ptrdiff_t in_w,
                        ptrdiff_t k_h, ptrdiff_t k_w, ptrdiff_t stride_h, ptrdiff_t stride_w,
                        ptrdiff_t dilation_h, ptrdiff_t dilation_w, ptrdiff_t pad_h, ptrdiff_t pad_w,
                        ptrdiff_t out_h, ptrdiff_t out_w, ptrdiff_t row_begin, ptrdiff_t row_end, float *packed);
/* One plane of 2-D max pooling: each output is the first in-bounds tap of its window,
 * replaced by every later tap that is strictly greater (a NaN first tap stays; later NaNs
 * are skipped); 0 for a window entirely in the padding. */
void ckiln_maxpool_plane(int isa, const float *in, ptrdiff_t in_h, ptrdiff_t in_w, ptrdiff_t k_h,
                         ptrdiff_t k_w, ptrdiff_t stride_h, ptrdiff_t stride_w, ptrdiff_t dilation_h,
                         ptrdiff_t dilation_w, ptrdiff_t pad_h, ptrdiff_t pad_w, float *out,
                         ptrdiff_t out_h, ptrdiff_t out_w);

/* One plane of a depthwise 2-D convolution with fused bias and clamp:
 * out[oh][ow] = clamp(bias + sum_{kh,kw} w[kh][kw] * in[oh*sh + kh*dh - ph][ow*sw + kw*dw - pw]),
 * zero outside the input. */
void ckiln_depthwise_plane(int isa, const float *in, ptrdiff_t in_h, ptrdiff_t in_w, const float *w,
                           ptrdiff_t k_h, ptrdiff_t k_w, ptrdiff_t stride_h, ptrdiff_t stride_w,
                           ptrdiff_t dilation_h, ptrdiff_t dilation_w, ptrdiff_t pad_h, ptrdiff_t pad_w,
                           float bias, float lower, float upper, float *out, ptrdiff_t out_h,
                           ptrdiff_t out_w);

/* Direct 2-D convolution of one image (AVX-512 only; returns -1 below it, -2 out of memory):
 * out[oc][oh][ow] = clamp((accumulate ? out : 0) + sum over (c, kh, kw) in order of
 * w[oc][c][kh][kw] · in[c][oh·sh + kh·dh − ph][ow·sw + kw·dw − pw] + bias[oc]), zero outside the
 * input; the sum starts from zero, the summand and bias are added after it. The weights are
 * packed by ckiln_conv_direct_pack (k = channels · k_h · k_w); bias may be NULL. */
size_t ckiln_conv_direct_packed_count(ptrdiff_t m, ptrdiff_t k);
void ckiln_conv_direct_pack(const float *w, ptrdiff_t m, ptrdiff_t k, float *packed);
int ckiln_conv2d_direct(int isa, int threads, const float *in, ptrdiff_t channels, ptrdiff_t in_h, ptrdiff_t in_w,
                        const float *packed_w, ptrdiff_t m, ptrdiff_t k_h, ptrdiff_t k_w, ptrdiff_t stride_h,
                        ptrdiff_t stride_w, ptrdiff_t dilation_h, ptrdiff_t dilation_w, ptrdiff_t pad_h,
                        ptrdiff_t pad_w, const float *bias, float lower, float upper, int accumulate, float *out,
                        ptrdiff_t out_h, ptrdiff_t out_w);

/* The same convolution vectorized along output channels (blockedconv.c; AVX-512 only, -1
 * below it, -2 out of memory): the same arithmetic per output, weights packed by
 * ckiln_conv_blocked_pack in blocks of 16 output channels. */
size_t ckiln_conv_blocked_packed_count(ptrdiff_t m, ptrdiff_t k);
void ckiln_conv_blocked_pack(const float *w, ptrdiff_t m, ptrdiff_t k, float *packed);
int ckiln_conv2d_blocked(int isa, int threads, const float *in, ptrdiff_t channels, ptrdiff_t in_h, ptrdiff_t in_w,
                         const float *packed_w, ptrdiff_t m, ptrdiff_t k_h, ptrdiff_t k_w, ptrdiff_t stride_h,
                         ptrdiff_t stride_w, ptrdiff_t dilation_h, ptrdiff_t dilation_w, ptrdiff_t pad_h,
                         ptrdiff_t pad_w, const float *bias, float lower, float upper, int accumulate, float *out,
                         ptrdiff_t out_h, ptrdiff_t out_w);

/* Exact int8 GEMM: C(int32, m×n) = A(int8, m×k) · B(int8, k×n), products widened to
 * int16 and summed in int32 (wrapping only beyond k = 131072); with AVX512-VNNI through
 * vpdpbusd on A + 128, corrected per column, to the same int32. */
#define CKILN_I8_NR 16
/* k pairs per packed slice of B. */
#define CKILN_I8_KC_PAIRS 256
/* int16 values needed to hold B (k×n) packed: int16 pairs, then int8 quads and column sums. */
size_t ckiln_i8gemm_packed_b_count(ptrdiff_t k, ptrdiff_t n);
/* Packs B (k×n, row stride ldb) once. */
void ckiln_i8gemm_pack_b(ptrdiff_t k, ptrdiff_t n, const int8_t *b, ptrdiff_t ldb, int16_t *packed);
/* C's columns column0 ..< column0+n (column0 a multiple of CKILN_I8_NR; c points at that
 * column) from a packed B of `packed_n` columns. C is overwritten. */
int ckiln_i8gemm_packed(int isa, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const int8_t *a, ptrdiff_t lda,
                         const int16_t *packed_b, ptrdiff_t packed_n, ptrdiff_t column0,
                         int32_t *c, ptrdiff_t ldc);

/* Elementwise float functions of ckiln_vector_math. */
enum {
    CKILN_EXP = 0,
    CKILN_SIGMOID = 1, /* 1 / (1 + e^-x) */
    CKILN_SILU = 2,    /* x · sigmoid(x) */
    CKILN_TANH = 3,
    CKILN_GELU = 4, /* x/2 · (1 + erf(x / √2)) */
};
/* y[i] = function(x[i]) for i < n (y may be x). AVX2: within a few ulp of libm for exp,
 * sigmoid, SiLU and tanh; GELU within 2e-7 · |x| absolute. */
void ckiln_vector_math(int isa, int function, const float *x, float *y, ptrdiff_t n);
/* y[i] = g = min(max(alpha·x[i] + beta, 0), 1) (ONNX HardSigmoid; a NaN gives 1), or x[i]·g
 * when times_x (HardSwish with alpha 1/6, beta 1/2). y may be x. */
void ckiln_hard_sigmoid(int isa, float alpha, float beta, int times_x, const float *x, float *y, ptrdiff_t n);
/* One task of a parallel job: called with the job's context and a task index. */
typedef void (*ckiln_task)(void *context, ptrdiff_t index);
/* Runs task(context, i) for every i < count on up to `threads` threads — the caller and
 * workers of a persistent pool (created on first need, then reused) — and returns when all
 * are done. Runs inline when threads <= 1, or when the pool is busy with another job
 * (another thread's, or this job's own tasks asking for parallelism). */
void ckiln_parallel_for(int threads, ptrdiff_t count, ckiln_task task, void *context);
/* The DPU emulator's int8 NHWC kernels (exact integer arithmetic, the same result on every
 * instruction set). Feature maps are images × in_h × in_w × in_c int8; output pixel p is
 * (image, oy, ox) with p = (image · out_h + oy) · out_w + ox. */

/* A convolution or pool window: output (oy, ox), tap (ky, kx) reads the virtual input
 * position (oy·stride_h + ky·dilation_h − pad_h, ox·stride_w + kx·dilation_w − pad_w) of the
 * input upsampled by (up_h, up_w) with zeros between pixels; zero outside. */
typedef struct {
    ptrdiff_t in_h, in_w, out_h, out_w, k_h, k_w;
    ptrdiff_t stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w, up_h, up_w;
} ckiln_window;

/* im2col rows of output pixels pixel_begin ..< pixel_end: row r (at columns + r·k, k =
 * k_h·k_w·channels) holds, per tap (ky, kx), the first `channels` of the tap's in_c values
 * (zero in the padding). */
void ckiln_i8_im2col_nhwc(int isa, const ckiln_window *window, const int8_t *in, ptrdiff_t in_c,
                          ptrdiff_t channels, ptrdiff_t pixel_begin, ptrdiff_t pixel_end, int8_t *columns);

/* The requantizing output stage of a convolution: y = clamp((acc + offsets[j]) >> shift,
 * lower, upper) for column j, an arithmetic shift (the DPU's round half up with the bias
 * folded into the offsets); the caller guarantees that acc + offsets never leaves int32 and
 * that lower and upper lie in int8. */
typedef struct {
    const int32_t *offsets;
    int shift;
    int32_t lower, upper;
} ckiln_i8_stage;

/* ckiln_i8gemm_packed, then out[i·ldo + j] = stage(C[i][j]) for i < m, j < n (stage offsets
 * at C's column 0), fused into the kernel where it can be: C is then scratch, written only
 * for k beyond one slice of CKILN_I8_KC_PAIRS pairs (and on CPUs without AVX-512). */
int ckiln_i8gemm_packed_requantize(int isa, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const int8_t *a,
                                   ptrdiff_t lda, const int16_t *packed_b, ptrdiff_t packed_n,
                                   ptrdiff_t column0, int32_t *c, ptrdiff_t ldc,
                                   const ckiln_i8_stage *stage, int8_t *out, ptrdiff_t ldo);

/* Depthwise sums of output pixels pixel_begin ..< pixel_end over n channels:
 * sums[r·lds + j] = Σ_taps in[tap pixel · in_c + j] · weights[(ky·k_w + kx)·weight_stride + j]
 * (in and weights offset to the first channel; taps in the padding skipped). With a stage
 * (offsets offset to the first channel) also out[r·ldo + j] = stage(sums[r·lds + j]), and
 * sums is then scratch the AVX-512 path does not touch. */
void ckiln_i8_depthwise_nhwc(int isa, const ckiln_window *window, const int8_t *in, ptrdiff_t in_c,
                             const int16_t *weights, ptrdiff_t weight_stride, ptrdiff_t n, ptrdiff_t pixel_begin,
                             ptrdiff_t pixel_end, int32_t *sums, ptrdiff_t lds, const ckiln_i8_stage *stage,
                             int8_t *out, ptrdiff_t ldo);

/* out[r·ldo + j] = stage(acc[r·lda + j]) for r < rows, j < n. */
void ckiln_i8_requantize(int isa, ptrdiff_t rows, ptrdiff_t n, const int32_t *acc, ptrdiff_t lda,
                         const ckiln_i8_stage *stage, int8_t *out, ptrdiff_t ldo);

/* Max pooling of output pixels pixel_begin ..< pixel_end over n channels: out[r·ldo + j] =
 * the largest in[tap pixel · in_c + j] of the in-bounds taps (in offset to the first
 * channel), −128 when every tap is in the padding. */
void ckiln_i8_maxpool_nhwc(int isa, const ckiln_window *window, const int8_t *in, ptrdiff_t in_c, ptrdiff_t n,
                           ptrdiff_t pixel_begin, ptrdiff_t pixel_end, int8_t *out, ptrdiff_t ldo);

/* Element-wise add: out[i] = clamp((a[i]·2^shift_a + b[i]·2^shift_b + half) >> shift, lower,
 * upper), shift_a and shift_b at most 16. */
void ckiln_i8_add(int isa, ptrdiff_t count, const int8_t *a, int shift_a, const int8_t *b, int shift_b,
                  int32_t half, int shift, int32_t lower, int32_t upper, int8_t *out);

/* Rounding of ckiln_i8_quantize (FixedPoint's RoundMode). */
enum {
    CKILN_ROUND_HALF_UP = 0,   /* floor(v + 0.5) */
    CKILN_ROUND_HALF_EVEN = 1, /* to nearest, ties to even */
    CKILN_ROUND_HALF_AWAY = 2, /* C round() */
};
/* out[i] = saturate(round((double)in[i] · 2^fix_position)) to int8, NaN to 0: the emulator's
 * quantization of float inputs (FixedPoint.quantize). */
void ckiln_i8_quantize(int isa, ptrdiff_t count, const float *in, int fix_position, int mode, int8_t *out);

/* One direction of an ONNX LSTM or GRU over a whole sequence, with the default activations
 * (sigmoid, tanh, tanh; GRU sigmoid, tanh). Steps are in time order (reverse: row b's step s
 * is time lengths[b] − 1 − s); rows past their length keep their state and get zeros in Y.
 * Gate blocks of W, R and B are in ONNX order (LSTM i, o, f, c; GRU z, r, h). */
typedef struct {
    ptrdiff_t steps, batch, input, hidden;
    /* X's row (time t, batch b) of `input` floats at x + t·x_step + b·x_batch. */
    const float *x;
    ptrdiff_t x_step, x_batch;
    const float *w;          /* gates·hidden × input */
    const float *r;          /* gates·hidden × hidden */
    /* Optional pre-packed weights, NULL to read w and r: W as ckiln_sgemm_pack_b(1, input,
     * gates·hidden, w, input, ·) packs it, R as ckiln_recurrent_pack_r (same isa) does. */
    const float *packed_w, *packed_r;
    const float *bias;       /* Wb then Rb (2·gates·hidden), or NULL */
    const float *peepholes;  /* LSTM: i, o, f (3·hidden), or NULL */
    const ptrdiff_t *lengths; /* per batch row, each in 0...steps, or NULL: all steps */
    /* State rows: b at initial_h + b·state_batch etc.; NULL initial states are zeros, NULL
     * last states are not written (last_c: LSTM only). */
    const float *initial_h, *initial_c;
    float *last_h, *last_c;
    ptrdiff_t state_batch;
    /* Y's row (t, b) at y + t·y_step + b·y_batch; NULL: not written. */
    float *y;
    ptrdiff_t y_step, y_batch;
    int reverse;
    float clip;              /* pre-activations clamped to [−clip, clip]; INFINITY: none */
    int input_forget;        /* LSTM: f = 1 − i */
    int linear_before_reset; /* GRU: the reset gate scales h·Rhᵀ + Rbh */
} ckiln_recurrence;
/* The batch rows batch_begin ..< batch_end of `p` (rows are independent: callers may split
 * the batch over threads). Working memory comes from the per-thread scratch, or, beyond
 * 16 MiB (long sequences), is allocated and freed per call. Returns -1 when it could not be
 * allocated. */
int ckiln_lstm(int isa, const ckiln_recurrence *p, ptrdiff_t batch_begin, ptrdiff_t batch_end);
int ckiln_gru(int isa, const ckiln_recurrence *p, ptrdiff_t batch_begin, ptrdiff_t batch_end);
/* Floats of R (one direction) packed for ckiln_lstm (gru 0) or ckiln_gru (gru 1) on `isa`,
 * and the packing, for callers that keep the weights across calls. */
size_t ckiln_recurrent_packed_r_count(int isa, int gru, ptrdiff_t hidden);
void ckiln_recurrent_pack_r(int isa, int gru, ptrdiff_t hidden, const float *r, float *packed);

/* Keeps freed heap memory for reuse instead of returning it to the system (glibc:
 * raises the mmap and trim thresholds), so steady-state inference stops paying page faults
 * and page zeroing for every large tensor. Returns 1 when applied, 0 where unsupported. */
int ckiln_retain_freed_memory(void);

/* Runs `iterations` × 64 dependent integer adds (one cycle each), for measuring the
 * core clock: cycles per second = 64 · iterations / elapsed. Returns a value that
 * depends on the chain so it is not optimized away. */
uint64_t ckiln_dependent_adds(uint64_t iterations);

/* Runs `iterations` × 12 independent vector FMAs of the widest vectors `isa` has (clamped
 * to the CPU: 16 floats for AVX-512, 8 for AVX2) and returns the flops done (2 per lane and
 * FMA): FMA peak = flops / elapsed. 0 without vector FMA (portable). */
double ckiln_fma_peak_flops(int isa, uint64_t iterations);

/* rows × `bytes` from `from` (rows `from_stride` bytes apart) to `to` (`to_stride` apart);
 * rows of up to 64 bytes are one masked move each on AVX-512. */
void ckiln_copy_rows(int isa, void *to, ptrdiff_t to_stride, const void *from, ptrdiff_t from_stride,
                     ptrdiff_t bytes, ptrdiff_t rows);
/* Bytes of `planes` planes of `count` each, interleaved (out[p·planes + c] = in[c·count + p])
 * when to_interleaved, else the inverse: one image between NCHW and NHWC. */
void ckiln_interleave_bytes(const void *in, ptrdiff_t count, ptrdiff_t planes, void *out, int to_interleaved);

#ifdef __cplusplus
}
#endif

#endif

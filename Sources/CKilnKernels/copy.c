/* Strided copies of short rows (Concat and Split along an inner axis: a row of each operand
 * per outer index, often 4–64 bytes): one masked 64-byte move per row on AVX-512 instead of
 * a memcpy call. */
#include <string.h>

#include "internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

__attribute__((target("avx512f,avx512bw"))) static void copy_rows_avx512(char *to, ptrdiff_t to_stride,
                                                                          const char *from, ptrdiff_t from_stride,
                                                                          ptrdiff_t bytes, ptrdiff_t rows) {
    __mmask64 mask = bytes >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << bytes) - 1);
    for (ptrdiff_t row = 0; row < rows; row++) {
        __m512i values = _mm512_maskz_loadu_epi8(mask, from + row * from_stride);
        _mm512_mask_storeu_epi8(to + row * to_stride, mask, values);
    }
}
#endif

void ckiln_copy_rows(int isa, void *to, ptrdiff_t to_stride, const void *from, ptrdiff_t from_stride,
                     ptrdiff_t bytes, ptrdiff_t rows) {
    if (bytes <= 0 || rows <= 0) return;
#if defined(__x86_64__) || defined(__i386__)
    if (bytes <= 64 && ckiln_clamp_isa(isa) >= CKILN_ISA_AVX512) {
        copy_rows_avx512(to, to_stride, from, from_stride, bytes, rows);
        return;
    }
#else
    (void)isa;
#endif
    for (ptrdiff_t row = 0; row < rows; row++)
        memcpy((char *)to + row * to_stride, (const char *)from + row * from_stride, (size_t)bytes);
}

/* out[p·planes + c] = in[c·count + p] (to_interleaved) or the inverse: NCHW ↔ NHWC bytes for
 * one image. The loops with 1 to 4 planes have the plane count as a constant, which lets the
 * compiler vectorize the interleaving; more planes (rows longer than a few bytes) go plane
 * by plane. */
static inline __attribute__((always_inline)) void interleave(const char *in, ptrdiff_t count, ptrdiff_t planes,
                                                             char *out, int to_interleaved) {
    if (to_interleaved) {
        for (ptrdiff_t p = 0; p < count; p++)
            for (ptrdiff_t c = 0; c < planes; c++) out[p * planes + c] = in[c * count + p];
    } else {
        for (ptrdiff_t p = 0; p < count; p++)
            for (ptrdiff_t c = 0; c < planes; c++) out[c * count + p] = in[p * planes + c];
    }
}

void ckiln_interleave_bytes(const void *in, ptrdiff_t count, ptrdiff_t planes, void *out, int to_interleaved) {
    const char *from = in;
    char *to = out;
    switch (planes) {
    case 1: memcpy(to, from, (size_t)count); break;
    case 2: interleave(from, count, 2, to, to_interleaved); break;
    case 3: interleave(from, count, 3, to, to_interleaved); break;
    case 4: interleave(from, count, 4, to, to_interleaved); break;
    default:
        for (ptrdiff_t c = 0; c < planes; c++) {
            for (ptrdiff_t p = 0; p < count; p++) {
                if (to_interleaved) to[p * planes + c] = from[c * count + p];
                else to[c * count + p] = from[p * planes + c];
            }
        }
    }
}

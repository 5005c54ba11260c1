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

#if defined(__x86_64__) || defined(__i386__)
/* Three planes interleaved 16 pixels at a time: each 16-byte output vector is the OR of one
 * byte shuffle of each plane's 16 bytes (a lane whose shuffle index has its high bit set is
 * zero). Returns the pixels done (a multiple of 16). */
__attribute__((target("ssse3"))) static ptrdiff_t interleave3_ssse3(const char *in, ptrdiff_t count, char *out) {
    __m128i pick[3][3]; /* [output vector][plane] */
    for (int v = 0; v < 3; v++) {
        for (int c = 0; c < 3; c++) {
            char index[16];
            for (int lane = 0; lane < 16; lane++) {
                int at = 16 * v + lane; /* output byte: pixel at / 3, plane at % 3 */
                index[lane] = at % 3 == c ? (char)(at / 3) : (char)0x80;
            }
            pick[v][c] = _mm_loadu_si128((const __m128i *)index);
        }
    }
    ptrdiff_t p = 0;
    for (; p + 16 <= count; p += 16) {
        __m128i plane[3];
        for (int c = 0; c < 3; c++) plane[c] = _mm_loadu_si128((const __m128i *)(in + c * count + p));
        for (int v = 0; v < 3; v++) {
            __m128i x = _mm_or_si128(_mm_shuffle_epi8(plane[0], pick[v][0]), _mm_shuffle_epi8(plane[1], pick[v][1]));
            _mm_storeu_si128((__m128i *)(out + 3 * p + 16 * v), _mm_or_si128(x, _mm_shuffle_epi8(plane[2], pick[v][2])));
        }
    }
    return p;
}
#endif

void ckiln_interleave_bytes(const void *in, ptrdiff_t count, ptrdiff_t planes, void *out, int to_interleaved) {
    const char *from = in;
    char *to = out;
    switch (planes) {
    case 1: memcpy(to, from, (size_t)count); break;
    case 2: interleave(from, count, 2, to, to_interleaved); break;
    case 3:
        if (to_interleaved) {
            ptrdiff_t done = 0;
#if defined(__x86_64__) || defined(__i386__)
            /* Any CPU with AVX2 has SSSE3. */
            if (ckiln_clamp_isa(CKILN_ISA_AVX2) >= CKILN_ISA_AVX2) done = interleave3_ssse3(from, count, to);
#endif
            for (ptrdiff_t p = done; p < count; p++)
                for (ptrdiff_t c = 0; c < 3; c++) to[p * 3 + c] = from[c * count + p];
        } else {
            interleave(from, count, 3, to, 0);
        }
        break;
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

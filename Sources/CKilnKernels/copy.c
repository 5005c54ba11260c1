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

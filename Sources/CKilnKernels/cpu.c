/* Run-time CPU detection and the per-thread scratch buffers. */
#include <stdlib.h>
#include <string.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "internal.h"

static int detected_isa = -1;

int ckiln_cpu_isa(void) {
    int isa = __atomic_load_n(&detected_isa, __ATOMIC_RELAXED);
    if (isa < 0) {
        isa = CKILN_ISA_PORTABLE;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) isa = CKILN_ISA_AVX2;
#endif
        __atomic_store_n(&detected_isa, isa, __ATOMIC_RELAXED);
    }
    return isa;
}

int ckiln_clamp_isa(int isa) {
    int cpu = ckiln_cpu_isa();
    return isa < cpu ? isa : cpu;
}

static _Thread_local void *scratch_pointer[4];
static _Thread_local size_t scratch_size[4];

void *ckiln_scratch(int slot, size_t bytes) {
    if (bytes <= scratch_size[slot]) return scratch_pointer[slot];
    free(scratch_pointer[slot]);
    size_t rounded = (bytes + 4095) & ~(size_t)4095;
    void *memory = aligned_alloc(64, rounded);
    scratch_pointer[slot] = memory;
    scratch_size[slot] = memory ? rounded : 0;
    return memory;
}

uint64_t ckiln_dependent_adds(uint64_t iterations) {
    uint64_t x = 1;
#if defined(__x86_64__)
#define ADD8 "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
    for (uint64_t i = 0; i < iterations; i++) {
        __asm__ volatile(ADD8 ADD8 ADD8 ADD8 ADD8 ADD8 ADD8 ADD8 : "+r"(x) : "r"(i));
    }
#undef ADD8
#else
    for (uint64_t i = 0; i < iterations; i++) {
        for (int j = 0; j < 64; j++) __asm__ volatile("" : "+r"(x));
        x += i;
    }
#endif
    return x;
}

int ckiln_retain_freed_memory(void) {
#if defined(__GLIBC__)
    /* Blocks up to 1 GiB come from the heap, and up to 1 GiB of free heap top is kept. */
    int ok = mallopt(M_MMAP_THRESHOLD, 1 << 30);
    ok &= mallopt(M_TRIM_THRESHOLD, 1 << 30);
    return ok ? 1 : 0;
#else
    return 0;
#endif
}

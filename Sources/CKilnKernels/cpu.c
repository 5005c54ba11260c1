/* Run-time CPU detection and the per-thread scratch buffers. */
#include <stdlib.h>
#include <string.h>

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

/* Run-time CPU detection and the per-thread scratch buffers. */
#include <pthread.h>
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
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
            isa = CKILN_ISA_AVX2;
            if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
                isa = CKILN_ISA_AVX512;
                if (__builtin_cpu_supports("avx512vnni")) isa = CKILN_ISA_AVX512_VNNI;
            }
        }
#endif
        /* KILN_ISA caps the detected set (never raises it). */
        const char *cap = getenv("KILN_ISA");
        if (cap) {
            static const char *names[] = {"portable", "avx2", "avx512", "avx512_vnni"};
            for (int i = 0; i < 4; i++)
                if (strcmp(cap, names[i]) == 0 && i < isa) isa = i;
        }
        __atomic_store_n(&detected_isa, isa, __ATOMIC_RELAXED);
    }
    return isa;
}

int ckiln_clamp_isa(int isa) {
    int cpu = ckiln_cpu_isa();
    return isa < cpu ? isa : cpu;
}

/* Per-thread scratch: found through a pthread key whose destructor frees the buffers when
 * the thread exits (pool threads come and go; their buffers must not leak). */
typedef struct {
    void *pointer[4];
    size_t size[4];
} scratch_set;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_ok;

static void scratch_free(void *value) {
    scratch_set *set = value;
    for (int i = 0; i < 4; i++) free(set->pointer[i]);
    free(set);
}

static void scratch_init(void) { scratch_key_ok = pthread_key_create(&scratch_key, scratch_free) == 0; }

void *ckiln_scratch(int slot, size_t bytes) {
    pthread_once(&scratch_once, scratch_init);
    if (!scratch_key_ok) return NULL;
    scratch_set *set = pthread_getspecific(scratch_key);
    if (!set) {
        set = calloc(1, sizeof *set);
        if (!set || pthread_setspecific(scratch_key, set) != 0) {
            free(set);
            return NULL;
        }
    }
    if (bytes <= set->size[slot]) return set->pointer[slot];
    free(set->pointer[slot]);
    size_t rounded = (bytes + 4095) & ~(size_t)4095;
    void *memory = aligned_alloc(64, rounded);
    set->pointer[slot] = memory;
    set->size[slot] = memory ? rounded : 0;
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

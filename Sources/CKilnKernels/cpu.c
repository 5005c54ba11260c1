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

static int forcing_tasks;

void ckiln_isa_forcing(int delta) { __atomic_fetch_add(&forcing_tasks, delta, __ATOMIC_RELAXED); }

int ckiln_isa_forced_anywhere(void) { return __atomic_load_n(&forcing_tasks, __ATOMIC_RELAXED) != 0; }

int ckiln_clamp_isa(int isa) {
    int cpu = ckiln_cpu_isa();
    return isa < cpu ? isa : cpu;
}

/* Per-thread scratch: found through a pthread key whose destructor frees the buffers when
 * the thread exits (pool threads come and go; their buffers must not leak). */
typedef struct {
    void *pointer[5];
    size_t size[5];
} scratch_set;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_ok;

static void scratch_free(void *value) {
    scratch_set *set = value;
    for (int i = 0; i < 5; i++) free(set->pointer[i]);
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

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/* Twelve independent accumulator chains: more than FMA latency × FMA units on current cores
 * (Zen 5: 4 × 2), so the loop runs at FMA throughput. x·1 + 0 keeps the values finite and normal. */
#define FMA12(fma, acc, one, zero)                                                              \
    for (int i = 0; i < 12; i++) acc[i] = fma(acc[i], one, zero)

__attribute__((target("avx2,fma,avx512f"))) static double fma_peak_avx512(uint64_t iterations) {
    __m512 acc[12], one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
    /* Opaque to the compiler, which would otherwise turn x·1 + 0 into an add. */
    __asm__ volatile("" : "+v"(one), "+v"(zero));
    for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_ps((float)i);
    for (uint64_t n = 0; n < iterations; n++) {
        FMA12(_mm512_fmadd_ps, acc, one, zero);
        /* An empty asm on the accumulators keeps the compiler from merging iterations. */
        for (int i = 0; i < 12; i++) __asm__ volatile("" : "+v"(acc[i]));
    }
    __m512 sum = zero;
    for (int i = 0; i < 12; i++) sum = _mm512_add_ps(sum, acc[i]);
    volatile float sink = _mm512_reduce_add_ps(sum);
    (void)sink;
    return (double)iterations * 12 * 16 * 2;
}

__attribute__((target("avx2,fma"))) static double fma_peak_avx2(uint64_t iterations) {
    __m256 acc[12], one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    __asm__ volatile("" : "+v"(one), "+v"(zero));
    for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps((float)i);
    for (uint64_t n = 0; n < iterations; n++) {
        FMA12(_mm256_fmadd_ps, acc, one, zero);
        for (int i = 0; i < 12; i++) __asm__ volatile("" : "+v"(acc[i]));
    }
    float lanes[8];
    __m256 sum = zero;
    for (int i = 0; i < 12; i++) sum = _mm256_add_ps(sum, acc[i]);
    _mm256_storeu_ps(lanes, sum);
    volatile float sink = lanes[0];
    (void)sink;
    return (double)iterations * 12 * 8 * 2;
}
#undef FMA12
#endif

double ckiln_fma_peak_flops(int isa, uint64_t iterations) {
#if defined(__x86_64__) || defined(__i386__)
    int level = ckiln_clamp_isa(isa);
    if (level >= CKILN_ISA_AVX512) return fma_peak_avx512(iterations);
    if (level >= CKILN_ISA_AVX2) return fma_peak_avx2(iterations);
#endif
    (void)isa;
    (void)iterations;
    return 0;
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

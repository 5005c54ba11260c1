/* A persistent thread pool for intra-op parallelism: workers are created once (on first
 * need) and reused by every call, so a parallel kernel costs a wake-up, not a thread
 * creation. One job runs at a time; a caller that finds the pool busy (another thread's job,
 * or a task of the current job asking for parallelism itself) runs its job inline.
 *
 * A job is `count` tasks; the caller and up to threads − 1 workers take task indices from
 * a shared counter until none are left. Idle workers spin on the job generation for a short
 * while (a kernel sequence issues jobs back to back), then sleep on a condition variable. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "internal.h"

/* The spin is a plain load loop, without PAUSE: under a hypervisor with pause-loop exiting
 * (KVM, Firecracker), a PAUSE loop exits to the host, which may deschedule the spinning vCPU,
 * so a worker woke late and erratically (detector_head at two threads: p50 55–95 µs over
 * one-second runs with PAUSE, 51–53 µs without). The compiler barrier keeps the load. */
#define CPU_RELAX() __asm__ volatile("" ::: "memory")

enum { MAX_WORKERS = 63 };
/* Spin iterations before an idle worker sleeps (a load each, ~1 ns: a few hundred µs, longer
 * than the single-threaded stretches between the parallel jobs of one inference). */
enum { SPIN = 200000 };

static struct {
    pthread_mutex_t submit; /* held by the caller for the whole job */
    pthread_mutex_t lock;   /* guards the job fields and the counts below */
    pthread_cond_t wake;    /* a new job */
    pthread_cond_t idle;    /* the last active worker left */
    _Atomic uint64_t generation;
    _Atomic ptrdiff_t next; /* next task index */
    ptrdiff_t count;
    ckiln_task task;
    void *context;
    int wanted;         /* workers that may still join this job */
    _Atomic int active; /* workers inside this job */
    int started; /* workers created */
} pool = {
    .submit = PTHREAD_MUTEX_INITIALIZER,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .idle = PTHREAD_COND_INITIALIZER,
};

static void run_tasks(ckiln_task task, void *context, ptrdiff_t count) {
    ptrdiff_t index;
    while ((index = atomic_fetch_add_explicit(&pool.next, 1, memory_order_relaxed)) < count) task(context, index);
}

static void *worker(void *unused) {
    (void)unused;
    uint64_t seen = 0;
    for (;;) {
        for (int i = 0; i < SPIN && atomic_load_explicit(&pool.generation, memory_order_acquire) == seen; i++)
            CPU_RELAX();
        pthread_mutex_lock(&pool.lock);
        while (atomic_load_explicit(&pool.generation, memory_order_acquire) == seen)
            pthread_cond_wait(&pool.wake, &pool.lock);
        seen = atomic_load_explicit(&pool.generation, memory_order_acquire);
        if (pool.wanted <= 0) {
            pthread_mutex_unlock(&pool.lock);
            continue;
        }
        pool.wanted--;
        atomic_fetch_add_explicit(&pool.active, 1, memory_order_relaxed);
        ckiln_task task = pool.task;
        void *context = pool.context;
        ptrdiff_t count = pool.count;
        pthread_mutex_unlock(&pool.lock);
        run_tasks(task, context, count);
        /* Release: the caller that sees active drop also sees this worker's results. */
        pthread_mutex_lock(&pool.lock);
        if (atomic_fetch_sub_explicit(&pool.active, 1, memory_order_release) == 1) pthread_cond_signal(&pool.idle);
        pthread_mutex_unlock(&pool.lock);
    }
    return NULL;
}

/* Creates workers up to `workers` (under pool.lock); returns how many exist. */
static int ensure_workers(int workers) {
    if (workers > MAX_WORKERS) workers = MAX_WORKERS;
    while (pool.started < workers) {
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&thread, &attributes, worker, NULL);
        pthread_attr_destroy(&attributes);
        if (failed) break;
        pool.started++;
    }
    return pool.started;
}

void ckiln_parallel_for(int threads, ptrdiff_t count, ckiln_task task, void *context) {
    if (count <= 0) return;
    if (threads <= 1 || count == 1 || pthread_mutex_trylock(&pool.submit) != 0) {
        for (ptrdiff_t i = 0; i < count; i++) task(context, i);
        return;
    }
    pthread_mutex_lock(&pool.lock);
    int helpers = ensure_workers(threads - 1);
    if (helpers > count - 1) helpers = (int)(count - 1);
    pool.task = task;
    pool.context = context;
    pool.count = count;
    pool.wanted = helpers;
    atomic_store_explicit(&pool.next, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&pool.generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);

    run_tasks(task, context, count);

    /* Close the job to late workers, then wait for the ones inside it: spinning first (they
     * are usually a few microseconds from done; a sleep and wake-up would cost more), then
     * on the condition variable. */
    pthread_mutex_lock(&pool.lock);
    pool.wanted = 0;
    pthread_mutex_unlock(&pool.lock);
    for (int i = 0; i < SPIN && atomic_load_explicit(&pool.active, memory_order_acquire) > 0; i++) CPU_RELAX();
    pthread_mutex_lock(&pool.lock);
    while (atomic_load_explicit(&pool.active, memory_order_acquire) > 0) pthread_cond_wait(&pool.idle, &pool.lock);
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&pool.submit);
}

/* team.c -- the fixed team of worker threads a ctx runs its kernels on.
 *
 * A launch is `nchunks` numbered chunks of one job. Threads claim chunks
 * from one atomic word, (generation << 32 | next chunk), with a CAS that
 * fails once the generation moves on, so a worker that wakes late simply
 * finds nothing left of an old job. The caller works too and then waits
 * only for chunks already claimed (they are running), never for a worker
 * that has not woken: on a loaded machine a sleeping or preempted worker
 * costs nothing. Nothing is allocated per launch.
 *
 * Invariants: fn/arg/nchunks are written before the claim word announces
 * their generation and stay unchanged until all of its chunks are done
 * (`done` == nchunks), which is when the caller returns. */
#include "nn_int.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

struct nn__team {
    pthread_mutex_t mu;
    pthread_cond_t go;
    atomic_uint_fast64_t claim;  /* gen << 32 | next chunk */
    atomic_uint done;            /* chunks finished in the current generation */
    atomic_uint gen_pub;         /* generation sleepers wait for */
    atomic_int sleepers, stop;
    uint32_t gen;
    int nworkers;
    /* atomics only so that a late worker's read racing the next launch is
     * defined; its CAS then fails and the values are never used */
    _Atomic(nn__chunk_fn) fn;
    _Atomic(void *) arg;
    atomic_uint nchunks;
    pthread_t *threads;
};

typedef struct {
    nn__team *t;
    int slot;
} worker_arg;

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Claim and run chunks of generation gen until none are left. */
static void work(nn__team *t, uint32_t gen, int slot) {
    for (;;) {
        uint_fast64_t c = atomic_load_explicit(&t->claim, memory_order_acquire);
        if ((uint32_t)(c >> 32) != gen) return;
        unsigned idx = (unsigned)(c & 0xffffffffu);
        nn__chunk_fn fn = atomic_load_explicit(&t->fn, memory_order_relaxed);
        void *arg = atomic_load_explicit(&t->arg, memory_order_relaxed);
        if (idx >= atomic_load_explicit(&t->nchunks, memory_order_relaxed)) return;
        if (!atomic_compare_exchange_weak_explicit(&t->claim, &c, c + 1, memory_order_acq_rel, memory_order_acquire))
            continue;
        fn(arg, idx, slot);
        atomic_fetch_add_explicit(&t->done, 1, memory_order_release);
    }
}

static void *worker(void *p) {
    worker_arg *w = p;
    nn__team *t = w->t;
    int slot = w->slot;
    ut_free(w);
    unsigned seen = 0;
    for (;;) {
        for (int spin = 0; spin < 2000 && atomic_load(&t->gen_pub) == seen && !atomic_load(&t->stop); spin++) cpu_relax();
        if (atomic_load(&t->gen_pub) == seen && !atomic_load(&t->stop)) {
            pthread_mutex_lock(&t->mu);
            atomic_fetch_add(&t->sleepers, 1);
            while (atomic_load(&t->gen_pub) == seen && !atomic_load(&t->stop)) pthread_cond_wait(&t->go, &t->mu);
            atomic_fetch_sub(&t->sleepers, 1);
            pthread_mutex_unlock(&t->mu);
        }
        if (atomic_load(&t->stop)) return NULL;
        seen = atomic_load(&t->gen_pub);
        work(t, seen, slot);
    }
}

int nn__team_create(int nworkers, nn__team **out) {
    *out = NULL;
    nn__team *t = ut_calloc(1, sizeof *t);
    if (!t || !(t->threads = ut_calloc((size_t)nworkers + 1, sizeof *t->threads))) {
        ut_free(t);
        return ut_fail(UT_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->go, NULL);
    for (int i = 0; i < nworkers; i++) {
        worker_arg *w = ut_malloc(sizeof *w);
        if (!w || (*w = (worker_arg){t, i + 1}, pthread_create(&t->threads[i], NULL, worker, w))) {
            ut_free(w);
            nn__team_free(t);
            return ut_fail(UT_ENOMEM, "cannot start worker threads");
        }
        t->nworkers++;
    }
    *out = t;
    return UT_OK;
}

void nn__team_free(nn__team *t) {
    if (!t) return;
    pthread_mutex_lock(&t->mu);
    atomic_store(&t->stop, 1);
    pthread_cond_broadcast(&t->go);
    pthread_mutex_unlock(&t->mu);
    for (int i = 0; i < t->nworkers; i++) pthread_join(t->threads[i], NULL);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->go);
    ut_free(t->threads);
    ut_free(t);
}

void nn__team_run(nn__team *t, nn__chunk_fn fn, void *arg, unsigned nchunks) {
    atomic_store_explicit(&t->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&t->arg, arg, memory_order_relaxed);
    atomic_store_explicit(&t->nchunks, nchunks, memory_order_relaxed);
    atomic_store_explicit(&t->done, 0, memory_order_relaxed);
    uint32_t gen = ++t->gen;
    if (!gen) gen = ++t->gen;  /* 0 is the workers' initial "seen" */
    atomic_store_explicit(&t->claim, (uint_fast64_t)gen << 32, memory_order_release);
    atomic_store(&t->gen_pub, gen);
    if (atomic_load(&t->sleepers)) {
        pthread_mutex_lock(&t->mu);
        pthread_cond_broadcast(&t->go);
        pthread_mutex_unlock(&t->mu);
    }
    work(t, gen, 0);
    for (unsigned spin = 0; atomic_load_explicit(&t->done, memory_order_acquire) < nchunks; spin++) {
        if (spin < 4000) cpu_relax();
        else sched_yield();  /* a claimed chunk's thread was preempted */
    }
}

/* team.c -- the fixed team of worker threads a ctx runs its kernels on.
 *
 * util's pool queues a heap-allocated task per chunk; a kernel launch here
 * allocates nothing: the caller publishes (fn, arg) under the mutex, bumps
 * a generation counter and wakes the workers; worker s runs slot s + 1 and
 * the caller runs slot 0, then waits until every worker has reported. A
 * worker spins briefly on the generation before sleeping, since kernels
 * arrive back to back during a run.
 *
 * Invariant: between launches every worker is parked on `gen`; `pending`
 * counts workers still running the current launch. */
#include "nn_int.h"

#include <pthread.h>
#include <stdatomic.h>

struct nn__team {
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    atomic_ulong gen;
    int pending, stop, nworkers;
    void (*fn)(void *arg, int slot);
    void *arg;
    pthread_t *threads;
};

typedef struct {
    nn__team *t;
    int slot;
} worker_arg;

static void *worker(void *p) {
    worker_arg *w = p;
    nn__team *t = w->t;
    int slot = w->slot;
    ut_free(w);
    unsigned long seen = 0;
    for (;;) {
        for (int spin = 0; spin < 2000 && atomic_load(&t->gen) == seen; spin++) { /* ~0.05 ms */
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
        pthread_mutex_lock(&t->mu);
        while (atomic_load(&t->gen) == seen && !t->stop) pthread_cond_wait(&t->go, &t->mu);
        if (t->stop) {
            pthread_mutex_unlock(&t->mu);
            return NULL;
        }
        seen = atomic_load(&t->gen);
        void (*fn)(void *, int) = t->fn;
        void *arg = t->arg;
        pthread_mutex_unlock(&t->mu);
        fn(arg, slot);
        pthread_mutex_lock(&t->mu);
        if (--t->pending == 0) pthread_cond_signal(&t->done);
        pthread_mutex_unlock(&t->mu);
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
    pthread_cond_init(&t->done, NULL);
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
    t->stop = 1;
    pthread_cond_broadcast(&t->go);
    pthread_mutex_unlock(&t->mu);
    for (int i = 0; i < t->nworkers; i++) pthread_join(t->threads[i], NULL);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->go);
    pthread_cond_destroy(&t->done);
    ut_free(t->threads);
    ut_free(t);
}

void nn__team_run(nn__team *t, void (*fn)(void *arg, int slot), void *arg) {
    pthread_mutex_lock(&t->mu);
    t->fn = fn;
    t->arg = arg;
    t->pending = t->nworkers;
    atomic_fetch_add(&t->gen, 1);
    pthread_cond_broadcast(&t->go);
    pthread_mutex_unlock(&t->mu);
    fn(arg, 0);
    pthread_mutex_lock(&t->mu);
    while (t->pending) pthread_cond_wait(&t->done, &t->mu);
    pthread_mutex_unlock(&t->mu);
}

/* pool.c -- a fixed-size thread pool with a FIFO queue and parallel loops.
 *
 * Invariant: pending counts tasks queued or running; ut_pool_wait() sleeps
 * until it is 0. ut_pool_for() does not use pending: it waits only for its
 * own chunks, so a loop can run while unrelated tasks are queued, and the
 * calling thread works on chunks too rather than sitting idle. */
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

typedef struct task {
    ut_task_fn fn;
    void *arg;
    struct task *next;
} task;

struct ut_pool {
    pthread_mutex_t mu;
    pthread_cond_t has_work, idle;
    task *head, *tail;
    size_t pending;
    int stopping;
    int nthreads;
    pthread_t *threads;
};

static void *worker(void *p) {
    ut_pool *pool = p;
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        while (!pool->head && !pool->stopping) pthread_cond_wait(&pool->has_work, &pool->mu);
        if (!pool->head) break;
        task *t = pool->head;
        pool->head = t->next;
        if (!pool->head) pool->tail = NULL;
        pthread_mutex_unlock(&pool->mu);
        t->fn(t->arg);
        ut_free(t);
        pthread_mutex_lock(&pool->mu);
        if (--pool->pending == 0) pthread_cond_broadcast(&pool->idle);
    }
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

int ut_pool_create(int nthreads, ut_pool **out) {
    *out = NULL;
    if (nthreads <= 0) nthreads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (nthreads <= 0) nthreads = 1;
    ut_pool *pool = ut_calloc(1, sizeof *pool);
    if (!pool) return ut_fail(UT_ENOMEM, "out of memory creating a thread pool");
    pool->threads = ut_calloc((size_t)nthreads, sizeof *pool->threads);
    if (!pool->threads) {
        ut_free(pool);
        return ut_fail(UT_ENOMEM, "out of memory creating a thread pool");
    }
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->has_work, NULL);
    pthread_cond_init(&pool->idle, NULL);
    for (int i = 0; i < nthreads; i++) {
        if (pthread_create(&pool->threads[i], NULL, worker, pool) != 0) {
            pool->nthreads = i;
            ut_pool_destroy(pool);
            return ut_fail(UT_ENOMEM, "cannot start thread %d of %d", i + 1, nthreads);
        }
    }
    pool->nthreads = nthreads;
    *out = pool;
    return UT_OK;
}

void ut_pool_destroy(ut_pool *pool) {
    if (!pool) return;
    pthread_mutex_lock(&pool->mu);
    pool->stopping = 1;
    pthread_cond_broadcast(&pool->has_work);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 0; i < pool->nthreads; i++) pthread_join(pool->threads[i], NULL);
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->has_work);
    pthread_cond_destroy(&pool->idle);
    ut_free(pool->threads);
    ut_free(pool);
}

int ut_pool_size(const ut_pool *pool) { return pool ? pool->nthreads : 0; }

int ut_pool_submit(ut_pool *pool, ut_task_fn fn, void *arg) {
    task *t = ut_malloc(sizeof *t);
    if (!t) return ut_fail(UT_ENOMEM, "out of memory queueing a task");
    t->fn = fn;
    t->arg = arg;
    t->next = NULL;
    pthread_mutex_lock(&pool->mu);
    if (pool->tail) pool->tail->next = t;
    else pool->head = t;
    pool->tail = t;
    pool->pending++;
    pthread_cond_signal(&pool->has_work);
    pthread_mutex_unlock(&pool->mu);
    return UT_OK;
}

void ut_pool_wait(ut_pool *pool) {
    pthread_mutex_lock(&pool->mu);
    while (pool->pending) pthread_cond_wait(&pool->idle, &pool->mu);
    pthread_mutex_unlock(&pool->mu);
}

typedef struct {
    ut_range_fn fn;
    void *ctx;
    size_t n, chunk, nchunks;
    atomic_size_t next;
    atomic_size_t helpers_left;
    pthread_mutex_t mu;
    pthread_cond_t done;
} loop;

static void run_chunks(loop *l) {
    size_t c;
    while ((c = atomic_fetch_add(&l->next, 1)) < l->nchunks) {
        size_t begin = c * l->chunk;
        size_t end = begin + l->chunk < l->n ? begin + l->chunk : l->n;
        l->fn(l->ctx, begin, end);
    }
}

static void loop_helper(void *p) {
    loop *l = p;
    run_chunks(l);
    pthread_mutex_lock(&l->mu);
    if (atomic_fetch_sub(&l->helpers_left, 1) == 1) pthread_cond_signal(&l->done);
    pthread_mutex_unlock(&l->mu);
}

void ut_pool_for(ut_pool *pool, size_t n, size_t grain, ut_range_fn fn, void *ctx) {
    if (n == 0) return;
    if (grain == 0) grain = 1;
    int workers = pool ? pool->nthreads + 1 : 1;
    size_t chunk = (n + (size_t)workers * 4 - 1) / ((size_t)workers * 4);
    if (chunk < grain) chunk = grain;
    size_t nchunks = (n + chunk - 1) / chunk;
    if (!pool || nchunks == 1) {
        fn(ctx, 0, n);
        return;
    }
    loop l = {.fn = fn, .ctx = ctx, .n = n, .chunk = chunk, .nchunks = nchunks};
    pthread_mutex_init(&l.mu, NULL);
    pthread_cond_init(&l.done, NULL);
    size_t helpers = nchunks - 1 < (size_t)pool->nthreads ? nchunks - 1 : (size_t)pool->nthreads;
    size_t started = 0;
    atomic_store(&l.helpers_left, helpers);
    for (; started < helpers; started++)
        if (ut_pool_submit(pool, loop_helper, &l) != UT_OK) break;
    /* Helpers that could not be queued are simply not waited for. */
    atomic_fetch_sub(&l.helpers_left, helpers - started);
    run_chunks(&l);
    pthread_mutex_lock(&l.mu);
    while (atomic_load(&l.helpers_left) > 0) pthread_cond_wait(&l.done, &l.mu);
    pthread_mutex_unlock(&l.mu);
    pthread_mutex_destroy(&l.mu);
    pthread_cond_destroy(&l.done);
}

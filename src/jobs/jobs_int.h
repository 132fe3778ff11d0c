/* jobs_int.h -- shared inside src/jobs: the manager and the per-run
 * context. */
#ifndef KADR_JOBS_INT_H
#define KADR_JOBS_INT_H

#include "jobs.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>

#define JOB_MAX_TYPES 32
#define JOB_MAX_LISTENERS 64
#define JOB_MAX_RUNNING 64
#define JOB_PENDING_MAX 256

typedef struct {
    job_listener fn;
    void *user;
    int token;
} job__listener;

struct job_ctx {
    job_mgr *mgr;
    cat_db *db;
    const job_type *type;
    cat_job job;          /* the row as this run sees it */
    atomic_int cancel;    /* set by job_cancel in this process */
    void *state;          /* handler state (job_set_state) */
    const char *note;     /* current item's note */
    int in_plan;
    ut_buf plan_keys;     /* keys listed by plan(), NUL-separated */
    int in_write;         /* the item's write transaction is open */
    double last_row;      /* ut_now() of the last progress row update */
    /* Outcomes of items that wrote nothing, committed in groups (see
     * run.c); notes are copied. */
    struct {
        int64_t seq;
        int state;
        char *note;
    } pending[JOB_PENDING_MAX];
    int npending;
    double pending_since;
    int64_t run_items;    /* items finished in this run (for the rate) */
    double run_start;     /* ut_now() at the start of this run */
    double last_publish, last_store;
};

struct job_mgr {
    job_config cfg;
    char *db_path;
    cat_db *db;                 /* the manager's connection, under db_lock */
    pthread_mutex_t db_lock;

    job_type types[JOB_MAX_TYPES];
    int ntypes;

    pthread_mutex_t sub_lock;   /* listeners */
    job__listener listeners[JOB_MAX_LISTENERS];
    int nlisteners, next_token;

    pthread_mutex_t run_lock;   /* running[], stopping, wake/ended conds */
    pthread_cond_t wake;        /* a job was queued, or stop */
    pthread_cond_t ended;       /* a job changed state */
    job_ctx *running[JOB_MAX_RUNNING];
    int nrunning;
    int stopping;
    int started;
    int nheavy;                 /* heavy jobs running on the workers */

    pthread_t *threads;
    int nthreads;
};

const job_type *job__find_type(job_mgr *m, const char *name);
/* Run a job already claimed (state running, owner this pid) on db. */
int job__run_claimed(job_mgr *m, cat_db *db, int64_t id, int *final_state);
void job__publish(job_mgr *m, const job_event *ev);
int job__stopping(job_mgr *m);

#endif

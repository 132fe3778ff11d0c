/* mgr.c -- the job manager: type registry, worker threads, the public
 * queue operations and in-process event listeners.
 *
 * Lifecycle: job_mgr_open -> job_register... -> job_mgr_start ->
 * (enqueue/cancel/retry/run/wait from any thread) -> job_mgr_close.
 * Workers sleep on `wake` (signalled by job_enqueue and close) and also
 * poll every poll_ms for jobs queued by other processes. Each worker owns
 * a catalog connection; the manager's own connection serves the API
 * calls under db_lock. */
#include "jobs_int.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const kind_names[] = {"state", "progress", "message"};

const char *job_event_kind_name(int kind) { return kind >= 0 && kind <= 2 ? kind_names[kind] : "unknown"; }

static void defaults(job_config *c) {
    if (c->progress_publish_ms <= 0) c->progress_publish_ms = 100;
    if (c->progress_store_ms <= 0) c->progress_store_ms = 2000;
    if (c->poll_ms <= 0) c->poll_ms = 500;
    if (c->stale_ms <= 0) c->stale_ms = 600000;
    if (c->workers < 0) c->workers = 0;
    if (c->heavy_jobs <= 0) c->heavy_jobs = 1;
}

int job_mgr_open(const char *db_path, const job_config *cfg, job_mgr **out) {
    *out = NULL;
    job_mgr *m = ut_calloc(1, sizeof *m);
    if (!m) return ut_fail(UT_ENOMEM, "jobs: out of memory");
    if (cfg) m->cfg = *cfg;
    defaults(&m->cfg);
    if (!(m->db_path = ut_strdup(db_path))) {
        ut_free(m);
        return ut_fail(UT_ENOMEM, "jobs: out of memory");
    }
    int rc = cat_open(db_path, &m->db);
    if (rc) {
        ut_free(m->db_path);
        ut_free(m);
        return rc;
    }
    pthread_mutex_init(&m->db_lock, NULL);
    pthread_mutex_init(&m->sub_lock, NULL);
    pthread_mutex_init(&m->run_lock, NULL);
    pthread_cond_init(&m->wake, NULL);
    pthread_cond_init(&m->ended, NULL);
    *out = m;
    return UT_OK;
}

int job_register(job_mgr *m, const job_type *t) {
    if (!t || !t->name || !*t->name || !t->item) return ut_fail(UT_EINVAL, "jobs: a job type needs a name and an item handler");
    if (m->started) return ut_fail(UT_ESTATE, "jobs: register types before job_mgr_start");
    if (job__find_type(m, t->name)) return ut_fail(UT_EEXIST, "jobs: job type '%s' is already registered", t->name);
    if (m->ntypes == JOB_MAX_TYPES) return ut_fail(UT_ERANGE, "jobs: too many job types");
    char *name = ut_strdup(t->name);
    if (!name) return ut_fail(UT_ENOMEM, "jobs: out of memory");
    m->types[m->ntypes] = *t;
    m->types[m->ntypes].name = name;
    m->ntypes++;
    return UT_OK;
}

const job_type *job__find_type(job_mgr *m, const char *name) {
    for (int i = 0; name && i < m->ntypes; i++)
        if (strcmp(m->types[i].name, name) == 0) return &m->types[i];
    return NULL;
}

int job__stopping(job_mgr *m) {
    pthread_mutex_lock(&m->run_lock);
    int s = m->stopping;
    pthread_mutex_unlock(&m->run_lock);
    return s;
}

cat_db *job_mgr_db(job_mgr *m) { return m->db; }

void job_mgr_status(job_mgr *m, int *workers, int *running) {
    pthread_mutex_lock(&m->run_lock);
    if (workers) *workers = m->nthreads;
    if (running) *running = m->nrunning;
    pthread_mutex_unlock(&m->run_lock);
}
void job_mgr_lock(job_mgr *m) { pthread_mutex_lock(&m->db_lock); }
void job_mgr_unlock(job_mgr *m) { pthread_mutex_unlock(&m->db_lock); }

/* ---- workers ----------------------------------------------------------- */

static void timed_wait(job_mgr *m, int ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&m->wake, &m->run_lock, &ts);
}

/* Reserve a slot for a heavy job (one that uses the nn thread budget);
 * 1 if reserved. */
static int reserve_heavy(job_mgr *m) {
    pthread_mutex_lock(&m->run_lock);
    int ok = m->nheavy < m->cfg.heavy_jobs;
    if (ok) m->nheavy++;
    pthread_mutex_unlock(&m->run_lock);
    return ok;
}

static void release_heavy(job_mgr *m) {
    pthread_mutex_lock(&m->run_lock);
    m->nheavy--;
    pthread_cond_broadcast(&m->wake);
    pthread_mutex_unlock(&m->run_lock);
}

/* Claim a job of a type this process runs; heavy types only while a
 * heavy slot is free. *heavy says whether the claimed job holds one. */
static int claim(job_mgr *m, cat_db *db, int64_t *id, int *heavy) {
    const char *names[JOB_MAX_TYPES];
    size_t n = 0;
    int reserved = reserve_heavy(m);
    for (int i = 0; i < m->ntypes; i++)
        if (reserved || !m->types[i].heavy) names[n++] = m->types[i].name;
    int rc = n ? cat_job_claim(db, names, n, 0, (int)getpid(), id) : UT_ENOENT;
    *heavy = 0;
    if (!rc && reserved) {
        cat_job j;
        if (cat_job_get(db, *id, &j) == UT_OK) {
            const job_type *t = job__find_type(m, j.type);
            *heavy = t && t->heavy;
            cat_job_free(&j);
        }
    }
    if (reserved && !*heavy) release_heavy(m);
    return rc;
}

static void *worker(void *arg) {
    job_mgr *m = arg;
    cat_db *db = NULL;
    int rc = cat_open(m->db_path, &db);
    if (rc) {
        ut_error("jobs: worker cannot open the catalog: %s", ut_errmsg());
        return NULL;
    }
    for (;;) {
        if (job__stopping(m)) break;
        int64_t id = 0;
        int heavy;
        rc = claim(m, db, &id, &heavy);
        if (rc == UT_OK) {
            if (job__run_claimed(m, db, id, NULL)) ut_warn("jobs: job %lld: %s", (long long)id, ut_errmsg());
            if (heavy) release_heavy(m);
            continue;
        }
        if (rc != UT_ENOENT && rc != UT_EBUSY) ut_warn("jobs: claiming a job: %s", ut_errmsg());
        pthread_mutex_lock(&m->run_lock);
        if (!m->stopping) timed_wait(m, m->cfg.poll_ms);
        pthread_mutex_unlock(&m->run_lock);
    }
    cat_close(db);
    return NULL;
}

int job_mgr_start(job_mgr *m) {
    if (m->started) return ut_fail(UT_ESTATE, "jobs: already started");
    int64_t n = 0;
    job_mgr_lock(m);
    int rc = cat_job_recover_orphans(m->db, m->cfg.stale_ms, &n);
    job_mgr_unlock(m);
    if (rc) return rc;
    if (n) ut_info("jobs: %lld interrupted job(s) queued to resume", (long long)n);
    m->started = 1;
    if (!m->cfg.workers) return UT_OK;
    m->threads = ut_calloc((size_t)m->cfg.workers, sizeof *m->threads);
    if (!m->threads) return ut_fail(UT_ENOMEM, "jobs: out of memory");
    for (int i = 0; i < m->cfg.workers; i++) {
        if (pthread_create(&m->threads[i], NULL, worker, m) != 0) {
            ut_warn("jobs: could only start %d worker(s)", i);
            break;
        }
        m->nthreads++;
    }
    return UT_OK;
}

void job_mgr_close(job_mgr *m) {
    if (!m) return;
    pthread_mutex_lock(&m->run_lock);
    m->stopping = 1;
    pthread_cond_broadcast(&m->wake);
    pthread_mutex_unlock(&m->run_lock);
    for (int i = 0; i < m->nthreads; i++) pthread_join(m->threads[i], NULL);
    ut_free(m->threads);
    cat_close(m->db);
    for (int i = 0; i < m->ntypes; i++) ut_free((char *)m->types[i].name);
    pthread_mutex_destroy(&m->db_lock);
    pthread_mutex_destroy(&m->sub_lock);
    pthread_mutex_destroy(&m->run_lock);
    pthread_cond_destroy(&m->wake);
    pthread_cond_destroy(&m->ended);
    ut_free(m->db_path);
    ut_free(m);
}

/* ---- queue operations -------------------------------------------------- */

int job_enqueue(job_mgr *m, const char *type, const char *params_json, int64_t root_id, int64_t *id) {
    const job_type *t = job__find_type(m, type);
    if (!t) return ut_fail(UT_EINVAL, "jobs: unknown job type '%s'", type ? type : "(null)");
    cat_job j = {.type = (char *)type, .params = (char *)(params_json ? params_json : "{}"), .state = CAT_JOB_QUEUED,
                 .root_id = root_id, .exclusive = t->exclusive};
    job_mgr_lock(m);
    int rc = cat_begin(m->db);
    if (!rc) rc = cat_job_insert(m->db, &j);
    if (!rc) {
        cat_job_event e = {.job_id = j.id, .kind = "state", .state = CAT_JOB_QUEUED, .message = "queued", .eta_s = -1};
        rc = cat_job_event_add(m->db, &e);
    }
    if (!rc) rc = cat_commit(m->db);
    else cat_rollback(m->db);
    job_mgr_unlock(m);
    if (rc) return rc;
    *id = j.id;
    job_event ev = {.job_id = j.id, .type = type, .kind = JOB_EV_STATE, .state = CAT_JOB_QUEUED, .eta_s = -1,
                    .message = "queued", .ts_ms = j.created_ms};
    job__publish(m, &ev);
    pthread_mutex_lock(&m->run_lock);
    pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&m->run_lock);
    return UT_OK;
}

int job_run(job_mgr *m, int64_t id, int *state) {
    cat_db *db;
    int rc = cat_open(m->db_path, &db);
    if (rc) return rc;
    int64_t got;
    rc = cat_job_claim(db, NULL, 0, id, (int)getpid(), &got);
    if (!rc) rc = job__run_claimed(m, db, id, state);
    cat_close(db);
    return rc;
}

int job_cancel(job_mgr *m, int64_t id) {
    int now_state;
    job_mgr_lock(m);
    int rc = cat_job_request_cancel(m->db, id, &now_state);
    job_mgr_unlock(m);
    if (rc) return rc;
    pthread_mutex_lock(&m->run_lock);
    for (int i = 0; i < m->nrunning; i++)
        if (m->running[i]->job.id == id) atomic_store(&m->running[i]->cancel, 1);
    pthread_cond_broadcast(&m->ended);
    pthread_mutex_unlock(&m->run_lock);
    if (now_state == CAT_JOB_CANCELLED) {
        job_event ev = {.job_id = id, .kind = JOB_EV_STATE, .state = CAT_JOB_CANCELLED, .eta_s = -1,
                        .message = "cancelled", .ts_ms = ut_wall_ms()};
        job__publish(m, &ev);
    }
    return UT_OK;
}

int job_retry(job_mgr *m, int64_t id, int64_t *requeued) {
    cat_job j;
    int64_t n = 0;
    job_mgr_lock(m);
    int rc = cat_begin(m->db);
    if (!rc) rc = cat_job_get(m->db, id, &j);
    if (!rc) {
        if (j.state != CAT_JOB_FAILED && j.state != CAT_JOB_CANCELLED)
            rc = ut_fail(UT_ESTATE, "jobs: job %lld is %s; only failed or cancelled jobs can be retried", (long long)id,
                         cat_job_state_name(j.state));
        if (!rc) rc = cat_job_items_requeue_failed(m->db, id, &n);
        if (!rc) rc = cat_job_transition(m->db, id, j.state, CAT_JOB_QUEUED, 0);
        if (!rc) {
            cat_job_event e = {.job_id = id, .kind = "state", .state = CAT_JOB_QUEUED, .message = "retry", .eta_s = -1};
            rc = cat_job_event_add(m->db, &e);
        }
        cat_job_free(&j);
    }
    if (!rc) rc = cat_commit(m->db);
    else cat_rollback(m->db);
    job_mgr_unlock(m);
    if (rc) return rc;
    if (requeued) *requeued = n;
    pthread_mutex_lock(&m->run_lock);
    pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&m->run_lock);
    return UT_OK;
}

int job_get(job_mgr *m, int64_t id, cat_job *out) {
    job_mgr_lock(m);
    int rc = cat_job_get(m->db, id, out);
    job_mgr_unlock(m);
    return rc;
}

int job_wait(job_mgr *m, int64_t id, int timeout_ms, int *state) {
    double deadline = ut_now() + timeout_ms / 1000.0;
    for (;;) {
        int64_t st;
        job_mgr_lock(m);
        cat_job j;
        int rc = cat_job_get(m->db, id, &j);
        st = j.state;
        if (!rc) cat_job_free(&j);
        job_mgr_unlock(m);
        if (rc) return rc;
        if (state) *state = (int)st;
        if (st >= CAT_JOB_DONE) return UT_OK;
        if (timeout_ms >= 0 && ut_now() >= deadline) return ut_fail(UT_EBUSY, "jobs: job %lld still %s", (long long)id, cat_job_state_name((int)st));
        /* Woken by any state change here; polls for other processes. */
        pthread_mutex_lock(&m->run_lock);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&m->ended, &m->run_lock, &ts);
        pthread_mutex_unlock(&m->run_lock);
    }
}

/* ---- listeners --------------------------------------------------------- */

int job_subscribe(job_mgr *m, job_listener fn, void *user, int *token) {
    if (!fn) return ut_fail(UT_EINVAL, "jobs: a listener needs a function");
    pthread_mutex_lock(&m->sub_lock);
    int rc = UT_OK;
    if (m->nlisteners == JOB_MAX_LISTENERS) rc = ut_fail(UT_ERANGE, "jobs: too many listeners");
    else {
        *token = ++m->next_token;
        m->listeners[m->nlisteners++] = (job__listener){fn, user, *token};
    }
    pthread_mutex_unlock(&m->sub_lock);
    return rc;
}

void job_unsubscribe(job_mgr *m, int token) {
    pthread_mutex_lock(&m->sub_lock);
    for (int i = 0; i < m->nlisteners; i++)
        if (m->listeners[i].token == token) {
            memmove(&m->listeners[i], &m->listeners[i + 1], (size_t)(m->nlisteners - i - 1) * sizeof m->listeners[0]);
            m->nlisteners--;
            break;
        }
    pthread_mutex_unlock(&m->sub_lock);
}

void job__publish(job_mgr *m, const job_event *ev) {
    pthread_mutex_lock(&m->sub_lock);
    for (int i = 0; i < m->nlisteners; i++) m->listeners[i].fn(ev, m->listeners[i].user);
    pthread_mutex_unlock(&m->sub_lock);
    if (ev->kind == JOB_EV_STATE) {
        pthread_mutex_lock(&m->run_lock);
        pthread_cond_broadcast(&m->ended);
        pthread_mutex_unlock(&m->run_lock);
    }
}

/* ---- JSON -------------------------------------------------------------- */

static int json_str(ut_buf *b, const char *s) {
    if (!s) return ut_buf_puts(b, "null");
    int rc = ut_buf_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; !rc && *p; p++) {
        if (*p == '"' || *p == '\\') rc = ut_buf_printf(b, "\\%c", *p);
        else if (*p < 0x20) rc = ut_buf_printf(b, "\\u%04x", *p);
        else rc = ut_buf_append(b, p, 1);
    }
    return rc ? rc : ut_buf_puts(b, "\"");
}

int job_event_json(const job_event *ev, ut_buf *out) {
    int rc = ut_buf_printf(out, "{\"job_id\":%lld,\"type\":", (long long)ev->job_id);
    if (!rc) rc = json_str(out, ev->type);
    if (!rc) rc = ut_buf_printf(out, ",\"event\":\"%s\",\"state\":\"%s\",\"done\":%lld,\"failed\":%lld,"
                                     "\"skipped\":%lld,\"total\":%lld,\"current\":",
                                job_event_kind_name(ev->kind), cat_job_state_name(ev->state), (long long)ev->done,
                                (long long)ev->failed, (long long)ev->skipped, (long long)ev->total);
    if (!rc) rc = json_str(out, ev->current);
    if (!rc) rc = ut_buf_printf(out, ",\"rate\":%.3f,\"eta_s\":", ev->rate);
    if (!rc) rc = ev->eta_s >= 0 ? ut_buf_printf(out, "%.1f", ev->eta_s) : ut_buf_puts(out, "null");
    if (!rc) rc = ut_buf_puts(out, ",\"message\":");
    if (!rc) rc = json_str(out, ev->message);
    if (!rc) rc = ut_buf_printf(out, ",\"ts_ms\":%lld}", (long long)ev->ts_ms);
    return rc;
}

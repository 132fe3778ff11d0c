/* run.c -- running one claimed job: start, plan once, the items in
 * order, finish, and the final state.
 *
 * Durability: plan() runs in one transaction with the "planned" mark, so
 * a crash either lists every item or none. Each item's handler runs
 * outside any transaction; its writes (after job_write()) and the item's
 * outcome commit in one short transaction, so the write lock is held
 * only while writing (other writers, e.g. the server renaming a person,
 * get in between items) and a finished item is never redone after a
 * crash. A failing item's writes are rolled back and it is recorded as
 * failed. The job row's counters follow at most every
 * progress_publish_ms and exactly at the end; a resume recounts them from
 * the items. Events are published only after their commit.
 *
 * Items that wrote nothing (an unchanged file, a non-image) do not get a
 * transaction each: their outcomes are kept in memory and committed with
 * the next write, after JOB_PENDING_MAX of them or progress_publish_ms.
 * A crash can lose those marks, and then only such write-free items run
 * again, which changes nothing; an item that wrote is never redone.
 *
 * Cancellation: before every item the in-process flag and the catalog's
 * cancel_requested (set by another process) are checked, so a cancel
 * stops the job before its next item. */
#include "jobs_int.h"

#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#define FETCH 256
#define STOPPED 1 /* internal: the manager is shutting down */

/* ---- handler-side API -------------------------------------------------- */

cat_db *job_db(job_ctx *c) { return c->db; }
int64_t job_id(job_ctx *c) { return c->job.id; }
int64_t job_root(job_ctx *c) { return c->job.root_id; }
const char *job_params(job_ctx *c) { return c->job.params ? c->job.params : "{}"; }
void job_set_state(job_ctx *c, void *state) { c->state = state; }
void *job_state(job_ctx *c) { return c->state; }
int job_cancelled(job_ctx *c) { return atomic_load(&c->cancel) != 0; }

/* Keys are gathered in memory while plan() runs (it may walk a big
 * folder tree) and written in one short transaction afterwards, so the
 * write lock is not held during the walk. */
int job_add_item(job_ctx *c, const char *key) {
    if (!c->in_plan) return ut_fail(UT_ESTATE, "jobs: items can only be added while planning");
    if (!key || !*key) return ut_fail(UT_EINVAL, "jobs: an item needs a key");
    int rc = ut_buf_append(&c->plan_keys, key, strlen(key) + 1);
    if (rc) return ut_fail(rc, "jobs: out of memory listing items");
    c->job.total++;
    return UT_OK;
}

int job_note(job_ctx *c, const char *note) {
    c->note = note;
    return UT_OK;
}

int job_set_result(job_ctx *c, const char *json) {
    char *copy = json ? ut_strdup(json) : NULL;
    if (json && !copy) return ut_fail(UT_ENOMEM, "jobs: out of memory");
    ut_free(c->job.result);
    c->job.result = copy;
    return UT_OK;
}

static job_event make_event(job_ctx *c, int kind, const char *message) {
    return (job_event){
        .job_id = c->job.id, .type = c->job.type, .kind = kind, .state = c->job.state,
        .done = c->job.done, .failed = c->job.failed, .skipped = c->job.skipped, .total = c->job.total,
        .current = c->job.current, .rate = c->job.rate, .eta_s = c->job.eta_s, .message = message,
        .ts_ms = ut_wall_ms(),
    };
}

static int store_event(job_ctx *c, const job_event *e) {
    cat_job_event ce = {
        .job_id = e->job_id, .ts_ms = e->ts_ms, .kind = (char *)job_event_kind_name(e->kind), .state = e->state,
        .done = e->done, .total = e->total, .failed = e->failed, .current = (char *)e->current,
        .rate = e->rate, .eta_s = e->eta_s, .message = (char *)e->message,
    };
    return cat_job_event_add(c->db, &ce);
}

int job_message(job_ctx *c, const char *fmt, ...) {
    va_list ap;
    ut_buf b = {0};
    va_start(ap, fmt);
    int rc = ut_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (rc) return rc;
    job_event e = make_event(c, JOB_EV_MESSAGE, b.data);
    rc = store_event(c, &e);
    if (!rc) {
        ut_free(c->job.message);
        c->job.message = ut_buf_steal(&b);
        e.message = c->job.message;
        job__publish(c->mgr, &e);
    }
    ut_buf_free(&b);
    return rc;
}

/* ---- state changes ----------------------------------------------------- */

/* Write the row and a state event, publish after the commit. */
static int set_state(job_ctx *c, int state, const char *message) {
    c->job.state = state;
    if (state >= CAT_JOB_DONE) {
        c->job.finished_ms = ut_wall_ms();
        ut_free(c->job.current);
        c->job.current = NULL;
    }
    job_event e = make_event(c, JOB_EV_STATE, message);
    int rc = cat_begin(c->db);
    if (!rc) rc = cat_job_update(c->db, &c->job);
    if (!rc) rc = store_event(c, &e);
    if (!rc) rc = cat_commit(c->db);
    else cat_rollback(c->db);
    if (!rc) job__publish(c->mgr, &e);
    return rc;
}

static void update_rate(job_ctx *c) {
    double dt = ut_now() - c->run_start;
    c->job.rate = dt > 0 ? (double)c->run_items / dt : 0;
    int64_t left = c->job.total - c->job.done - c->job.failed;
    c->job.eta_s = c->job.rate > 0 ? (double)left / c->job.rate : -1;
}

/* Progress inside a write transaction: the row always, a stored event
 * at most every progress_store_ms. Returns whether to publish. */
static int record_progress(job_ctx *c, int force) {
    update_rate(c);
    int rc = cat_job_update(c->db, &c->job);
    double now = ut_now();
    if (!rc && (force || (now - c->last_store) * 1000 >= c->mgr->cfg.progress_store_ms)) {
        job_event e = make_event(c, JOB_EV_PROGRESS, NULL);
        rc = store_event(c, &e);
        c->last_store = now;
    }
    return rc;
}

static void publish_progress(job_ctx *c, int force) {
    double now = ut_now();
    if (!force && (now - c->last_publish) * 1000 < c->mgr->cfg.progress_publish_ms) return;
    c->last_publish = now;
    job_event e = make_event(c, JOB_EV_PROGRESS, NULL);
    job__publish(c->mgr, &e);
}

/* ---- phases ------------------------------------------------------------ */

static int plan_phase(job_ctx *c) {
    c->in_plan = 1;
    c->job.total = 0;
    ut_buf_reset(&c->plan_keys);
    int rc = c->type->plan ? c->type->plan(c, c->type->user) : UT_OK;
    c->in_plan = 0;
    if (!rc) rc = cat_begin(c->db);
    if (rc) {
        ut_buf_free(&c->plan_keys);
        c->job.total = 0;
        return rc;
    }
    for (size_t off = 0; !rc && off < c->plan_keys.len; off += strlen(c->plan_keys.data + off) + 1)
        rc = cat_job_item_add(c->db, c->job.id, c->plan_keys.data + off);
    ut_buf_free(&c->plan_keys);
    if (!rc) {
        c->job.planned = 1;
        rc = cat_job_update(c->db, &c->job);
    }
    if (rc) {
        cat_rollback(c->db);
        c->job.total = 0;
        c->job.planned = 0;
        return rc;
    }
    return cat_commit(c->db);
}

/* Counters from the items themselves: right after a crash the row may be
 * behind the items (both commit together, but a resume starts fresh). */
static int recount(job_ctx *c) {
    int64_t n[4];
    int rc = cat_job_item_counts(c->db, c->job.id, n);
    if (rc) return rc;
    c->job.total = n[0] + n[1] + n[2] + n[3];
    c->job.done = n[CAT_ITEM_DONE] + n[CAT_ITEM_SKIPPED];
    c->job.skipped = n[CAT_ITEM_SKIPPED];
    c->job.failed = n[CAT_ITEM_FAILED];
    return UT_OK;
}

static int set_current(job_ctx *c, const char *key) {
    ut_free(c->job.current);
    c->job.current = ut_strdup(key);
    return c->job.current ? UT_OK : ut_fail(UT_ENOMEM, "jobs: out of memory");
}

/* Open the item's write transaction (once per item). */
int job_write(job_ctx *c) {
    if (c->in_write) return UT_OK;
    int rc = cat_begin(c->db);
    if (!rc) c->in_write = 1;
    return rc;
}

static int end_write(job_ctx *c, int commit) {
    if (!c->in_write) return UT_OK;
    c->in_write = 0;
    if (commit) return cat_commit(c->db);
    cat_rollback(c->db);
    return UT_OK;
}

static int flush_pending(job_ctx *c) {
    int rc = UT_OK;
    for (int i = 0; !rc && i < c->npending; i++)
        rc = cat_job_item_finish(c->db, c->job.id, c->pending[i].seq, c->pending[i].state, c->pending[i].note, NULL);
    if (rc) return rc;
    for (int i = 0; i < c->npending; i++) ut_free(c->pending[i].note);
    c->npending = 0;
    return UT_OK;
}

static void drop_pending(job_ctx *c) {
    for (int i = 0; i < c->npending; i++) ut_free(c->pending[i].note);
    c->npending = 0;
}

static void count_outcome(job_ctx *c, int state) {
    if (state == CAT_ITEM_FAILED) c->job.failed++;
    else c->job.done++;
    if (state == CAT_ITEM_SKIPPED) c->job.skipped++;
    c->run_items++;
}

/* Keep a write-free item's outcome for the next group commit; 0 if kept. */
static int defer(job_ctx *c, int64_t seq, int state) {
    if (c->in_write || state == CAT_ITEM_FAILED || c->npending == JOB_PENDING_MAX) return 1;
    if (c->npending && (ut_now() - c->pending_since) * 1000 >= c->mgr->cfg.progress_publish_ms) return 1;
    char *note = NULL;
    if (c->note && !(note = ut_strdup(c->note))) return 1;
    if (!c->npending) c->pending_since = ut_now();
    c->pending[c->npending].seq = seq;
    c->pending[c->npending].state = state;
    c->pending[c->npending++].note = note;
    count_outcome(c, state);
    return 0;
}

/* The item's outcome, in its write transaction with any deferred ones;
 * the row's counters and a stored progress event go along at most every
 * progress_publish_ms. */
static int finish_item(job_ctx *c, int64_t seq, int state, const char *error) {
    if (seq && !defer(c, seq, state)) return UT_OK;
    int rc = job_write(c);
    if (!rc) rc = flush_pending(c);
    if (!rc && seq) rc = cat_job_item_finish(c->db, c->job.id, seq, state, c->note, error);
    if (!rc) {
        if (seq) count_outcome(c, state);
        if (!seq || (ut_now() - c->last_row) * 1000 >= c->mgr->cfg.progress_publish_ms) {
            rc = record_progress(c, !seq);
            c->last_row = ut_now();
        }
    }
    if (!rc) return end_write(c, 1);
    end_write(c, 0);
    return rc;
}

/* One item: the handler runs outside any transaction (slow work such as
 * hashing or inference does not hold the write lock); it calls
 * job_write() before writing, and those writes commit together with the
 * item's outcome. A failing item's writes are rolled back. */
static int one_item(job_ctx *c, int64_t seq, const char *key) {
    int rc = set_current(c, key);
    if (rc) return rc;
    c->note = NULL;
    c->in_write = 0;
    int r = c->type->item(c, key, c->type->user);
    if (r >= 0) return finish_item(c, seq, r == JOB_ITEM_SKIPPED ? CAT_ITEM_SKIPPED : CAT_ITEM_DONE, NULL);
    char *why = ut_strdup(ut_errmsg());
    end_write(c, 0);
    rc = finish_item(c, seq, CAT_ITEM_FAILED, why ? why : "failed");
    ut_free(why);
    return rc;
}

static int check_stop(job_ctx *c) {
    if (job__stopping(c->mgr)) return STOPPED;
    if (atomic_load(&c->cancel)) return UT_ECANCELED;
    return UT_OK;
}

/* Before each item: a cancel from this process (flag) or another one
 * (the catalog; one indexed read). */
static int before_item(job_ctx *c) {
    int rc = check_stop(c);
    if (rc) return rc;
    int requested = 0;
    rc = cat_job_cancel_requested(c->db, c->job.id, &requested);
    if (rc) return rc;
    if (requested) atomic_store(&c->cancel, 1);
    return check_stop(c);
}

static int items_phase(job_ctx *c) {
    int64_t after = 0;
    int rc = UT_OK;
    for (;;) {
        int64_t *seqs;
        char **keys;
        size_t n;
        if ((rc = cat_job_items_next(c->db, c->job.id, after, FETCH, &seqs, &keys, &n))) break;
        for (size_t i = 0; !rc && i < n; i++) {
            rc = before_item(c);
            if (!rc) rc = one_item(c, seqs[i], keys[i]);
            if (!rc) publish_progress(c, 0);
        }
        if (n) after = seqs[n - 1];
        ut_free(seqs);
        cat_strings_free(keys, n);
        if (rc || n == 0) break;
    }
    /* Deferred outcomes and final counters, whatever happened. */
    c->in_write = 0;
    int frc = finish_item(c, 0, 0, NULL);
    if (frc) drop_pending(c);
    publish_progress(c, 1);
    return rc ? rc : frc;
}

/* ---- a whole run ------------------------------------------------------- */

static void track(job_mgr *m, job_ctx *c, int add) {
    pthread_mutex_lock(&m->run_lock);
    if (add && m->nrunning < JOB_MAX_RUNNING) m->running[m->nrunning++] = c;
    for (int i = 0; !add && i < m->nrunning; i++)
        if (m->running[i] == c) m->running[i] = m->running[--m->nrunning];
    pthread_cond_broadcast(&m->ended);
    pthread_mutex_unlock(&m->run_lock);
}

static int work(job_ctx *c) {
    int rc = c->type->start ? c->type->start(c, c->type->user) : UT_OK;
    if (rc) return rc;
    if (!c->job.planned) rc = plan_phase(c);
    if (!rc) rc = recount(c);
    c->run_start = ut_now(); /* the rate counts items, not the planning */
    if (!rc) {
        rc = cat_begin(c->db);
        if (!rc) rc = record_progress(c, 1);
        if (!rc) rc = cat_commit(c->db);
        if (!rc) publish_progress(c, 1);
    }
    if (!rc) rc = items_phase(c);
    if (!rc && c->type->finish) {
        c->note = NULL;
        rc = c->type->finish(c, c->type->user);
    }
    if (c->type->stop) c->type->stop(c, c->type->user);
    return rc;
}

static int conclude(job_ctx *c, int rc) {
    char msg[300];
    if (rc == STOPPED) {
        /* Shutting down: back to the queue to resume next time. */
        c->job.owner_pid = 0;
        return set_state(c, CAT_JOB_QUEUED, "interrupted by shutdown; will resume");
    }
    if (rc == UT_ECANCELED || (rc == UT_OK && atomic_load(&c->cancel)))
        return set_state(c, CAT_JOB_CANCELLED, "cancelled");
    if (rc < 0) {
        ut_free(c->job.error);
        c->job.error = ut_strdup(ut_errmsg());
        return set_state(c, CAT_JOB_FAILED, c->job.error);
    }
    if (c->job.failed) {
        snprintf(msg, sizeof msg, "%lld of %lld items failed (kadr jobs retry %lld)", (long long)c->job.failed,
                 (long long)c->job.total, (long long)c->job.id);
        ut_free(c->job.error);
        c->job.error = ut_strdup(msg);
        return set_state(c, CAT_JOB_FAILED, msg);
    }
    ut_free(c->job.error);
    c->job.error = NULL;
    c->job.eta_s = 0;
    return set_state(c, CAT_JOB_DONE, "done");
}

int job__run_claimed(job_mgr *m, cat_db *db, int64_t id, int *final_state) {
    job_ctx *c = ut_calloc(1, sizeof *c);
    if (!c) {
        /* Not started: give it back to the queue. */
        cat_job_transition(db, id, CAT_JOB_RUNNING, CAT_JOB_QUEUED, 0);
        return ut_fail(UT_ENOMEM, "jobs: out of memory");
    }
    c->mgr = m;
    c->db = db;
    int rc = cat_job_get(db, id, &c->job);
    if (!rc && !(c->type = job__find_type(m, c->job.type)))
        rc = ut_fail(UT_EUNSUPPORTED, "jobs: no handler for job type '%s'", c->job.type);
    if (rc) {
        /* Nothing ran: fail the job rather than leave it claimed forever. */
        ut_free(c->job.error);
        c->job.error = ut_strdup(ut_errmsg());
        if (c->job.id) set_state(c, CAT_JOB_FAILED, c->job.error);
        cat_job_free(&c->job);
        ut_free(c);
        return rc;
    }
    c->run_start = c->last_publish = c->last_store = ut_now();
    c->job.error = (ut_free(c->job.error), NULL);
    track(m, c, 1);
    rc = set_state(c, CAT_JOB_RUNNING, c->job.attempts > 1 ? "resumed" : "started");
    if (!rc) rc = work(c);
    int crc = conclude(c, rc);
    if (crc) {
        /* The final state could not be written: leave the job to resume
         * rather than claimed by a process that has stopped running it. */
        /* A bad value (e.g. a result that is not JSON) would fail again:
         * end the job as failed; anything else may be transient. */
        int to = crc == UT_EINVAL ? CAT_JOB_FAILED : CAT_JOB_QUEUED;
        char *why = ut_strdup(ut_errmsg());
        cat_job_transition(db, id, CAT_JOB_RUNNING, to, 0);
        ut_fail(crc, "%s", why ? why : "jobs: could not record the job's end");
        ut_free(why);
        c->job.state = to;
    }
    if (final_state) *final_state = c->job.state;
    track(m, c, 0);
    cat_job_free(&c->job);
    ut_free(c);
    return crc;
}

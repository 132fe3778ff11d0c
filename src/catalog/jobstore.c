/* jobstore.c -- storage of jobs, their items and events. The queue's
 * logic (claiming, workers, progress) lives in jobs/; this file only
 * makes each state change one atomic statement.
 *
 * Job state machine (CAT_JOB_*):
 *   queued -> running -> done | failed | cancelled
 *   running -> queued     (owner died: recovered at start-up)
 *   failed | cancelled | done -> queued   (retry)
 *   queued -> cancelled   (cancel before it started)
 * Items: queued -> done | skipped | failed; failed -> queued on retry.
 * An item's outcome is committed together with the handler's writes, so
 * a finished item is never redone after a crash. */
#include "catalog_int.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

static const char *const state_names[] = {"queued", "running", "done", "failed", "cancelled"};

const char *cat_job_state_name(int state) {
    return state >= 0 && state <= CAT_JOB_CANCELLED ? state_names[state] : "unknown";
}

int cat_job_state_parse(const char *name) {
    for (int i = 0; name && i <= CAT_JOB_CANCELLED; i++)
        if (strcmp(name, state_names[i]) == 0) return i;
    return -1;
}

static int grow(void **arr, size_t *cap, size_t n, size_t sz) {
    if (n < *cap) return UT_OK;
    size_t nc = *cap ? *cap * 2 : 16;
    while (nc <= n) nc *= 2;
    void *p = ut_realloc(*arr, nc * sz);
    if (!p) return ut_fail(UT_ENOMEM, "catalog: out of memory");
    *arr = p;
    *cap = nc;
    return UT_OK;
}

static int no_job(int64_t id) { return ut_fail(UT_ENOENT, "catalog: no job with id %lld", (long long)id); }

int cat_job_insert(cat_db *db, cat_job *j) {
    if (!j->type || !*j->type) return ut_fail(UT_EINVAL, "catalog: a job needs a type");
    j->created_ms = j->updated_ms = ut_wall_ms();
    int rc = cat__exec(db, "INSERT INTO jobs(type, params, state, root_id, exclusive, owner_pid, heartbeat_ms, "
                           "created_ms, updated_ms, started_ms) VALUES(?,?,?,?,?,?,?,?,?,?)",
                       "ttiziiiiii", j->type, j->params ? j->params : "{}", (int64_t)j->state, j->root_id,
                       (int64_t)j->exclusive, (int64_t)j->owner_pid, j->created_ms, j->created_ms,
                       j->created_ms, j->state == CAT_JOB_RUNNING ? j->created_ms : (int64_t)0);
    if (rc == UT_EEXIST) return ut_fail(UT_ENOENT, "catalog: no library root with id %lld", (long long)j->root_id);
    if (!rc) j->id = cat__last_id(db);
    return rc;
}

#define JOB_COLS                                                                                   \
    "id, type, params, state, coalesce(root_id, 0), exclusive, planned, total, done, failed, "      \
    "skipped, current, rate, eta_s, message, error, result, cancel_requested, owner_pid, attempts, " \
    "heartbeat_ms, created_ms, started_ms, finished_ms, updated_ms"

static int read_job(sqlite3_stmt *st, cat_job *j) {
    memset(j, 0, sizeof *j);
    j->id = sqlite3_column_int64(st, 0);
    j->state = sqlite3_column_int(st, 3);
    j->root_id = sqlite3_column_int64(st, 4);
    j->exclusive = sqlite3_column_int(st, 5);
    j->planned = sqlite3_column_int(st, 6);
    j->total = sqlite3_column_int64(st, 7);
    j->done = sqlite3_column_int64(st, 8);
    j->failed = sqlite3_column_int64(st, 9);
    j->skipped = sqlite3_column_int64(st, 10);
    j->rate = sqlite3_column_double(st, 12);
    j->eta_s = sqlite3_column_double(st, 13);
    j->cancel_requested = sqlite3_column_int(st, 17);
    j->owner_pid = sqlite3_column_int(st, 18);
    j->attempts = sqlite3_column_int(st, 19);
    j->heartbeat_ms = sqlite3_column_int64(st, 20);
    j->created_ms = sqlite3_column_int64(st, 21);
    j->started_ms = sqlite3_column_int64(st, 22);
    j->finished_ms = sqlite3_column_int64(st, 23);
    j->updated_ms = sqlite3_column_int64(st, 24);
    int rc = cat__col_str(st, 1, &j->type);
    if (!rc) rc = cat__col_str(st, 2, &j->params);
    if (!rc) rc = cat__col_str(st, 11, &j->current);
    if (!rc) rc = cat__col_str(st, 14, &j->message);
    if (!rc) rc = cat__col_str(st, 15, &j->error);
    if (!rc) rc = cat__col_str(st, 16, &j->result);
    if (rc) cat_job_free(j);
    return rc;
}

int cat_job_get(cat_db *db, int64_t id, cat_job *out) {
    sqlite3_stmt *st = NULL;
    memset(out, 0, sizeof *out);
    int rc = cat__stmt(db, "SELECT " JOB_COLS " FROM jobs WHERE id = ?", &st, "i", id);
    if (rc || (rc = cat__step(db, st)) <= 0) return rc < 0 ? rc : no_job(id);
    rc = read_job(st, out);
    cat__done(st);
    return rc;
}

int cat_job_list(cat_db *db, int state_filter, int limit, cat_job **out, size_t *n) {
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    int rc = cat__stmt(db, "SELECT " JOB_COLS " FROM jobs WHERE (? < 0 OR state = ?) ORDER BY id DESC LIMIT ?", &st,
                       "iii", (int64_t)state_filter, (int64_t)state_filter, (int64_t)(limit > 0 ? limit : INT32_MAX));
    while (!rc && (rc = cat__step(db, st)) == 1) {
        rc = UT_OK;
        rc = grow((void **)out, &cap, *n, sizeof **out);
        if (!rc) rc = read_job(st, &(*out)[*n]);
        if (!rc) ++*n;
    }
    if (rc < 0) {
        cat__done(st);
        cat_jobs_free(*out, *n);
        *out = NULL;
        *n = 0;
        return rc;
    }
    return UT_OK;
}

int cat_job_update(cat_db *db, const cat_job *j) {
    int rc = cat__exec(db, "UPDATE jobs SET state = ?, planned = ?, total = ?, done = ?, failed = ?, skipped = ?, "
                           "current = ?, rate = ?, eta_s = ?, message = ?, error = ?, result = ?, attempts = ?, "
                           "started_ms = ?, finished_ms = ?, heartbeat_ms = ?, updated_ms = ? WHERE id = ?",
                       "iiiiiitddtttiiiiii", (int64_t)j->state, (int64_t)j->planned, j->total, j->done, j->failed,
                       j->skipped, j->current, j->rate, j->eta_s, j->message, j->error, j->result,
                       (int64_t)j->attempts, j->started_ms, j->finished_ms, ut_wall_ms(), ut_wall_ms(), j->id);
    if (!rc && cat__changes(db) == 0) return no_job(j->id);
    return rc;
}

int cat_job_transition(cat_db *db, int64_t id, int from, int to, int pid) {
    int64_t now = ut_wall_ms();
    int rc = cat__exec(db, "UPDATE jobs SET state = ?, owner_pid = ?, heartbeat_ms = ?, updated_ms = ?, "
                           "attempts = attempts + (? = 1), cancel_requested = CASE WHEN ? = 0 THEN 0 "
                           "ELSE cancel_requested END, started_ms = CASE WHEN ? = 1 AND started_ms = 0 THEN ? "
                           "ELSE started_ms END, finished_ms = CASE WHEN ? >= 2 THEN ? ELSE 0 END "
                           "WHERE id = ? AND state = ?",
                       "iiiiiiiiiiii", (int64_t)to, (int64_t)pid, now, now, (int64_t)to, (int64_t)to, (int64_t)to, now,
                       (int64_t)to, now, id, (int64_t)from);
    if (rc) return rc;
    if (cat__changes(db) == 1) return UT_OK;
    int64_t state;
    rc = cat__query_i64(db, "SELECT state FROM jobs WHERE id = ?", &state, "i", id);
    if (rc == UT_ENOENT) return no_job(id);
    if (rc) return rc;
    return ut_fail(UT_ESTATE, "catalog: job %lld is %s, not %s", (long long)id, cat_job_state_name((int)state),
                   cat_job_state_name(from));
}

typedef struct {
    int64_t id, root;
    int exclusive, known;
} candidate;

static int root_held(cat_db *db, int64_t root) {
    int64_t one;
    int rc = cat__query_i64(db, "SELECT 1 FROM jobs WHERE state = 1 AND exclusive = 1 AND root_id = ? LIMIT 1", &one,
                            "i", root);
    return rc == UT_ENOENT ? 0 : rc ? rc : 1;
}

static int find_candidates(cat_db *db, const char *const *types, size_t ntypes, int64_t only_id, candidate *c,
                           size_t *nc) {
    sqlite3_stmt *st = NULL;
    *nc = 0;
    int rc = cat__stmt(db, "SELECT id, type, coalesce(root_id, 0), exclusive FROM jobs WHERE state = 0 "
                           "AND (? = 0 OR id = ?) ORDER BY id LIMIT 64", &st, "ii", only_id, only_id);
    while (!rc && (rc = cat__step(db, st)) == 1) {
        rc = UT_OK;
        const char *type = (const char *)sqlite3_column_text(st, 1);
        int known = only_id > 0;
        for (size_t i = 0; !known && type && i < ntypes; i++) known = strcmp(types[i], type) == 0;
        if (!known) continue;
        c[(*nc)++] = (candidate){sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 2), sqlite3_column_int(st, 3), 1};
    }
    return rc;
}

int cat_job_claim(cat_db *db, const char *const *types, size_t ntypes, int64_t only_id, int pid, int64_t *id) {
    candidate c[64];
    size_t nc;
    int rc = cat_begin(db);
    if (rc) return rc;
    rc = find_candidates(db, types, ntypes, only_id, c, &nc);
    int held_any = 0;
    *id = 0;
    for (size_t i = 0; !rc && !*id && i < nc; i++) {
        int held = c[i].exclusive && c[i].root ? root_held(db, c[i].root) : 0;
        if (held < 0) rc = held;
        else if (held) held_any = 1;
        else if (!(rc = cat_job_transition(db, c[i].id, CAT_JOB_QUEUED, CAT_JOB_RUNNING, pid))) *id = c[i].id;
    }
    if (rc) {
        cat_rollback(db);
        return rc;
    }
    if ((rc = cat_commit(db))) return rc;
    if (*id) return UT_OK;
    if (only_id > 0 && held_any)
        return ut_fail(UT_EBUSY, "catalog: job %lld waits: another job is changing files in its library root",
                       (long long)only_id);
    if (only_id > 0) {
        int64_t state;
        rc = cat__query_i64(db, "SELECT state FROM jobs WHERE id = ?", &state, "i", only_id);
        if (rc == UT_ENOENT) return no_job(only_id);
        if (rc) return rc;
        return ut_fail(UT_ESTATE, "catalog: job %lld is %s, not queued", (long long)only_id,
                       cat_job_state_name((int)state));
    }
    return ut_fail(UT_ENOENT, "catalog: no job to claim");
}

int cat_job_heartbeat(cat_db *db, int pid, int64_t now_ms) {
    return cat__exec(db, "UPDATE jobs SET heartbeat_ms = ? WHERE owner_pid = ? AND state = 1", "ii", now_ms, (int64_t)pid);
}

int cat_job_request_cancel(cat_db *db, int64_t id, int *now_state) {
    int rc = cat_begin(db);
    if (rc) return rc;
    int64_t state;
    rc = cat__query_i64(db, "SELECT state FROM jobs WHERE id = ?", &state, "i", id);
    if (rc == UT_ENOENT) rc = no_job(id);
    else if (!rc && state >= CAT_JOB_DONE)
        rc = ut_fail(UT_ESTATE, "catalog: job %lld is already %s", (long long)id, cat_job_state_name((int)state));
    else if (!rc && state == CAT_JOB_QUEUED) {
        rc = cat_job_transition(db, id, CAT_JOB_QUEUED, CAT_JOB_CANCELLED, 0);
        state = CAT_JOB_CANCELLED;
    }
    if (!rc) rc = cat__exec(db, "UPDATE jobs SET cancel_requested = 1 WHERE id = ?", "i", id);
    if (rc) {
        cat_rollback(db);
        return rc;
    }
    if (now_state) *now_state = (int)state;
    return cat_commit(db);
}

int cat_job_cancel_requested(cat_db *db, int64_t id, int *requested) {
    int64_t v;
    int rc = cat__query_i64(db, "SELECT cancel_requested FROM jobs WHERE id = ?", &v, "i", id);
    if (rc == UT_ENOENT) return no_job(id);
    if (!rc) *requested = (int)v;
    return rc;
}

int cat_job_delete(cat_db *db, int64_t id) {
    int rc = cat__exec(db, "DELETE FROM jobs WHERE id = ?", "i", id);
    if (!rc && cat__changes(db) == 0) return no_job(id);
    return rc;
}

/* ---- items ------------------------------------------------------------- */

int cat_job_item_add(cat_db *db, int64_t job_id, const char *key) {
    int rc = cat__exec(db, "INSERT INTO job_items(job_id, seq, key) VALUES(?1, "
                           "(SELECT coalesce(max(seq), 0) + 1 FROM job_items WHERE job_id = ?1), ?2)",
                       "it", job_id, key);
    if (rc == UT_EEXIST) return no_job(job_id);
    return rc;
}

int cat_job_items_next(cat_db *db, int64_t job_id, int64_t after_seq, size_t max, int64_t **seqs, char ***keys,
                       size_t *n) {
    sqlite3_stmt *st = NULL;
    *seqs = ut_malloc((max ? max : 1) * sizeof **seqs);
    *keys = ut_calloc(max ? max : 1, sizeof **keys);
    *n = 0;
    int rc = *seqs && *keys ? UT_OK : ut_fail(UT_ENOMEM, "catalog: out of memory");
    if (!rc)
        rc = cat__stmt(db, "SELECT seq, key FROM job_items WHERE job_id = ? AND state = 0 AND seq > ? "
                           "ORDER BY seq LIMIT ?", &st, "iii", job_id, after_seq, (int64_t)max);
    while (!rc && (rc = cat__step(db, st)) == 1) {
        rc = UT_OK;
        (*seqs)[*n] = sqlite3_column_int64(st, 0);
        rc = cat__col_str(st, 1, &(*keys)[*n]);
        if (!rc) ++*n;
    }
    if (rc < 0) {
        if (*seqs && *keys) cat__done(st);
        ut_free(*seqs);
        cat_strings_free(*keys, *n);
        *seqs = NULL;
        *keys = NULL;
        *n = 0;
        return rc;
    }
    return UT_OK;
}

int cat_job_item_finish(cat_db *db, int64_t job_id, int64_t seq, int state, const char *note, const char *error) {
    int rc = cat__exec(db, "UPDATE job_items SET state = ?, note = ?, error = ? WHERE job_id = ? AND seq = ?", "ittii",
                       (int64_t)state, note, error, job_id, seq);
    if (!rc && cat__changes(db) == 0)
        return ut_fail(UT_ENOENT, "catalog: job %lld has no item %lld", (long long)job_id, (long long)seq);
    return rc;
}

int cat_job_item_counts(cat_db *db, int64_t job_id, int64_t counts[4]) {
    sqlite3_stmt *st = NULL;
    memset(counts, 0, 4 * sizeof *counts);
    int rc = cat__stmt(db, "SELECT state, count(*) FROM job_items WHERE job_id = ? GROUP BY state", &st, "i", job_id);
    while (!rc && (rc = cat__step(db, st)) == 1) {
        rc = UT_OK;
        int s = sqlite3_column_int(st, 0);
        if (s >= 0 && s < 4) counts[s] = sqlite3_column_int64(st, 1);
    }
    return rc < 0 ? rc : UT_OK;
}

int cat_job_item_notes(cat_db *db, int64_t job_id, char ***notes, int64_t **counts, size_t *n) {
    sqlite3_stmt *st = NULL;
    size_t cap = 0, ccap = 0;
    *notes = NULL;
    *counts = NULL;
    *n = 0;
    int rc = cat__stmt(db, "SELECT note, count(*) FROM job_items WHERE job_id = ? AND note IS NOT NULL "
                           "GROUP BY note ORDER BY note", &st, "i", job_id);
    while (!rc && (rc = cat__step(db, st)) == 1) {
        rc = UT_OK;
        rc = grow((void **)notes, &cap, *n, sizeof **notes);
        if (!rc) rc = grow((void **)counts, &ccap, *n, sizeof **counts);
        if (!rc) rc = cat__col_str(st, 0, &(*notes)[*n]);
        if (!rc) (*counts)[(*n)++] = sqlite3_column_int64(st, 1);
    }
    if (rc < 0) {
        cat__done(st);
        cat_strings_free(*notes, *n);
        ut_free(*counts);
        *notes = NULL;
        *counts = NULL;
        *n = 0;
        return rc;
    }
    return UT_OK;
}

int cat_job_items_requeue_failed(cat_db *db, int64_t job_id, int64_t *n) {
    int rc = cat__exec(db, "UPDATE job_items SET state = 0, error = NULL, note = NULL WHERE job_id = ? AND state = 2",
                       "i", job_id);
    if (!rc && n) *n = cat__changes(db);
    return rc;
}

int cat_job_items_failed(cat_db *db, int64_t job_id, int limit, char ***keys, char ***errors, size_t *n) {
    sqlite3_stmt *st = NULL;
    size_t cap = 0, ecap = 0;
    *keys = NULL;
    *errors = NULL;
    *n = 0;
    int rc = cat__stmt(db, "SELECT key, error FROM job_items WHERE job_id = ? AND state = 2 ORDER BY seq LIMIT ?", &st,
                       "ii", job_id, (int64_t)(limit > 0 ? limit : INT32_MAX));
    while (!rc && (rc = cat__step(db, st)) == 1) {
        rc = UT_OK;
        rc = grow((void **)keys, &cap, *n, sizeof **keys);
        if (!rc) rc = grow((void **)errors, &ecap, *n, sizeof **errors);
        if (rc) break;
        (*keys)[*n] = (*errors)[*n] = NULL;
        ++*n;
        rc = cat__col_str(st, 0, &(*keys)[*n - 1]);
        if (!rc) rc = cat__col_str(st, 1, &(*errors)[*n - 1]);
    }
    if (rc < 0) {
        cat__done(st);
        cat_strings_free(*keys, *n);
        cat_strings_free(*errors, *n);
        *keys = *errors = NULL;
        *n = 0;
        return rc;
    }
    return UT_OK;
}

/* ---- events ------------------------------------------------------------ */

int cat_job_event_add(cat_db *db, const cat_job_event *e) {
    int rc = cat__exec(db, "INSERT INTO job_events(job_id, ts_ms, kind, state, done, total, failed, current, rate, "
                           "eta_s, message) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                       "iitiiiitddt", e->job_id, e->ts_ms ? e->ts_ms : ut_wall_ms(), e->kind ? e->kind : "state",
                       (int64_t)e->state, e->done, e->total, e->failed, e->current, e->rate, e->eta_s, e->message);
    if (rc == UT_EEXIST) return no_job(e->job_id);
    return rc;
}

int cat_job_events(cat_db *db, int64_t job_id, int64_t after_id, int limit, cat_job_event **out, size_t *n) {
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    int rc = cat__stmt(db, "SELECT id, job_id, ts_ms, kind, state, done, total, failed, current, rate, eta_s, message "
                           "FROM job_events WHERE job_id = ? AND id > ? ORDER BY id LIMIT ?", &st, "iii",
                       job_id, after_id, (int64_t)(limit > 0 ? limit : INT32_MAX));
    while (!rc && (rc = cat__step(db, st)) == 1) {
        rc = UT_OK;
        if ((rc = grow((void **)out, &cap, *n, sizeof **out))) break;
        cat_job_event *e = &(*out)[(*n)++];
        memset(e, 0, sizeof *e);
        e->id = sqlite3_column_int64(st, 0);
        e->job_id = sqlite3_column_int64(st, 1);
        e->ts_ms = sqlite3_column_int64(st, 2);
        e->state = sqlite3_column_int(st, 4);
        e->done = sqlite3_column_int64(st, 5);
        e->total = sqlite3_column_int64(st, 6);
        e->failed = sqlite3_column_int64(st, 7);
        e->rate = sqlite3_column_double(st, 9);
        e->eta_s = sqlite3_column_double(st, 10);
        rc = cat__col_str(st, 3, &e->kind);
        if (!rc) rc = cat__col_str(st, 8, &e->current);
        if (!rc) rc = cat__col_str(st, 11, &e->message);
    }
    if (rc < 0) {
        cat__done(st);
        cat_job_events_free(*out, *n);
        *out = NULL;
        *n = 0;
        return rc;
    }
    return UT_OK;
}

void cat_job_free(cat_job *j) {
    if (!j) return;
    ut_free(j->type);
    ut_free(j->params);
    ut_free(j->current);
    ut_free(j->message);
    ut_free(j->error);
    ut_free(j->result);
    j->type = j->params = j->current = j->message = j->error = j->result = NULL;
}

void cat_jobs_free(cat_job *j, size_t n) {
    if (!j) return;
    for (size_t i = 0; i < n; i++) cat_job_free(&j[i]);
    ut_free(j);
}

void cat_job_events_free(cat_job_event *e, size_t n) {
    if (!e) return;
    for (size_t i = 0; i < n; i++) {
        ut_free(e[i].kind);
        ut_free(e[i].current);
        ut_free(e[i].message);
    }
    ut_free(e);
}

/* ---- recovery ---------------------------------------------------------- */

static int pid_alive(int pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

int cat_job_recover_orphans(cat_db *db, int64_t stale_ms, int64_t *n) {
    sqlite3_stmt *st = NULL;
    int64_t now = ut_wall_ms(), count = 0;
    int rc = cat_begin(db);
    if (rc) return rc;
    rc = cat__stmt(db, "SELECT id, owner_pid, heartbeat_ms FROM jobs WHERE state = 1", &st, "");
    int64_t ids[256];
    size_t nids = 0;
    while (!rc && (rc = cat__step(db, st)) == 1) {
        rc = UT_OK;
        int pid = sqlite3_column_int(st, 1);
        int64_t beat = sqlite3_column_int64(st, 2);
        if ((!pid_alive(pid) || now - beat > stale_ms) && nids < 256) ids[nids++] = sqlite3_column_int64(st, 0);
    }
    if (rc > 0) cat__done(st);
    for (size_t i = 0; rc >= 0 && i < nids; i++) {
        rc = cat__exec(db, "UPDATE jobs SET state = 0, owner_pid = 0, current = NULL, updated_ms = ? "
                           "WHERE id = ? AND state = 1", "ii", now, ids[i]);
        if (!rc) rc = cat__exec(db, "INSERT INTO job_events(job_id, ts_ms, kind, state, message) "
                                    "VALUES(?, ?, 'state', 0, 'interrupted; queued to resume')", "ii", ids[i], now);
        count++;
    }
    if (rc < 0) {
        cat_rollback(db);
        return rc;
    }
    if (n) *n = count;
    return cat_commit(db);
}

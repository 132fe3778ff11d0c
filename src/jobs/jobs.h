/* jobs.h -- the durable job queue: enqueue, workers, progress, cancel,
 * retry and resume after a crash, on top of the catalog.
 *
 * A job is a row in the catalog with a type, JSON parameters and a list
 * of items (file paths, photo ids...). A job type is a table of handler
 * functions registered by the module that knows the work ("index" here;
 * "sort", "tag" ... by the pipeline). The manager drives every job the
 * same way:
 *
 *   start()            every run, including a resume: set up state
 *   plan()             once per job: list the items (job_add_item); they
 *                      are written in one transaction with the job's
 *                      "planned" mark after plan() returns
 *   item(key) ...      for each item not yet finished, outside any
 *                      transaction; after its slow part it calls
 *                      job_write() and writes through job_db(): those
 *                      writes commit in one transaction with the item's
 *                      outcome, so after a crash finished items are never
 *                      redone and unfinished ones leave no trace
 *   finish()           after the last item (not when cancelled)
 *   stop()             always, after start() succeeded
 *
 * States: queued -> running -> done | failed | cancelled. A job with
 * failed items ends "failed"; job_retry() queues only its failed items
 * again. Cancel takes effect before the next item. Jobs left running by
 * a process that died go back to the queue at start-up (job_mgr_start)
 * and resume where they stopped.
 *
 * Concurrency: each worker thread has its own catalog connection. Job
 * types marked exclusive (they change files) never run two at a time on
 * the same library root, across processes too: claiming is one write
 * transaction.
 *
 * Progress events go to in-process listeners (job_subscribe; the HTTP
 * server forwards them over WebSocket) and into the job's stored history.
 * Progress is rate-limited (published at most every progress_publish_ms,
 * stored at most every progress_store_ms); state changes and messages are
 * always published and stored. */
#ifndef KADR_JOBS_H
#define KADR_JOBS_H

#include "catalog.h"
#include "sort.h"
#include "util.h"

#include <stddef.h>
#include <stdint.h>

typedef struct job_mgr job_mgr;
typedef struct job_ctx job_ctx;

/* ---- job types --------------------------------------------------------- */

/* What item() returns besides a negative UT_E* code (a failed item). */
enum { JOB_ITEM_DONE = 0, JOB_ITEM_SKIPPED = 1 };

typedef struct {
    const char *name;  /* "index", "sort", ... (copied at registration) */
    int exclusive;     /* changes files: one such job per library root */
    int heavy;         /* runs models on the nn thread budget: at most
                          job_config.heavy_jobs of these at once here, so
                          workers do not oversubscribe the cores */
    int (*start)(job_ctx *ctx, void *user);                 /* optional */
    int (*plan)(job_ctx *ctx, void *user);                  /* optional */
    int (*item)(job_ctx *ctx, const char *key, void *user); /* required */
    int (*finish)(job_ctx *ctx, void *user);                /* optional */
    void (*stop)(job_ctx *ctx, void *user);                 /* optional */
    void *user;
} job_type;

/* ---- the manager ------------------------------------------------------- */

typedef struct {
    int workers;             /* background worker threads; 0 = none (run jobs
                                with job_run in the calling thread). Default 0. */
    int heavy_jobs;          /* heavy jobs running at once on the workers, default 1 */
    int progress_publish_ms; /* default 100 */
    int progress_store_ms;   /* default 2000 */
    int poll_ms;             /* idle workers look for jobs from other processes, default 500 */
    int stale_ms;            /* a running job whose heartbeat is this old is taken over
                                even if its owner pid looks alive; default 600000 */
} job_config;

/* Open the catalog at db_path (creating/migrating it) for a manager. cfg
 * may be NULL for defaults. */
int job_mgr_open(const char *db_path, const job_config *cfg, job_mgr **out);
/* Register a type (before job_mgr_start). UT_EEXIST if the name is taken. */
int job_register(job_mgr *m, const job_type *t);
/* Requeue jobs orphaned by dead processes and start the workers. */
int job_mgr_start(job_mgr *m);
/* Stop the workers; jobs they were running go back to the queue and
 * resume on the next start. NULL is a no-op. */
void job_mgr_close(job_mgr *m);

/* For /health and /metrics: worker threads started and jobs running in
 * this process right now. */
void job_mgr_status(job_mgr *m, int *workers, int *running);

/* The manager's own connection, for reads such as cat_job_get/list.
 * Serialised by the manager: hold job_mgr_lock while using it. */
cat_db *job_mgr_db(job_mgr *m);
void job_mgr_lock(job_mgr *m);
void job_mgr_unlock(job_mgr *m);

/* Queue a job; root_id 0 = not tied to a library root. The type must be
 * registered here. params_json NULL means "{}". */
int job_enqueue(job_mgr *m, const char *type, const char *params_json, int64_t root_id, int64_t *id);
/* Claim a queued job (or resume an interrupted one) and run it in the
 * calling thread until it ends. Returns UT_OK when it ran (its final
 * state is in *state), UT_EBUSY if an exclusive job holds its root,
 * UT_ESTATE if it is not queued. */
int job_run(job_mgr *m, int64_t id, int *state);
/* Cancel: a queued job at once, a running one before its next item
 * (also when it runs in another process). UT_ESTATE if it has ended. */
int job_cancel(job_mgr *m, int64_t id);
/* Queue a failed or cancelled job again; only items not done are redone.
 * *requeued = failed items queued again (may be NULL). */
int job_retry(job_mgr *m, int64_t id, int64_t *requeued);
/* Wait until the job has ended or timeout_ms passes (UT_EBUSY); <0 waits
 * forever. *state gets the last state seen. */
int job_wait(job_mgr *m, int64_t id, int timeout_ms, int *state);
/* A copy of the job row (cat_job_free it). */
int job_get(job_mgr *m, int64_t id, cat_job *out);

/* ---- progress events --------------------------------------------------- */

enum { JOB_EV_STATE = 0, JOB_EV_PROGRESS = 1, JOB_EV_MESSAGE = 2 };
const char *job_event_kind_name(int kind); /* "state", "progress", "message" */

typedef struct {
    int64_t job_id;
    const char *type;    /* job type */
    int kind;            /* JOB_EV_* */
    int state;           /* CAT_JOB_* */
    int64_t done, failed, skipped, total; /* done includes skipped */
    const char *current; /* item in progress, may be NULL */
    double rate;         /* items/s in this run */
    double eta_s;        /* -1 if unknown */
    const char *message; /* may be NULL */
    int64_t ts_ms;
} job_event;

/* The event as one JSON object (appended to out), for WebSocket/SSE:
 * {"job_id","type","event","state","done","failed","skipped","total",
 *  "current","rate","eta_s","message","ts_ms"}; null for absent strings
 * and an unknown ETA. */
int job_event_json(const job_event *ev, ut_buf *out);

/* Called from worker threads with the subscriber lock held: be quick, do
 * not call job_subscribe/unsubscribe from inside. Strings live only for
 * the call. */
typedef void (*job_listener)(const job_event *ev, void *user);
int job_subscribe(job_mgr *m, job_listener fn, void *user, int *token);
/* After it returns the listener is not running and will not be called. */
void job_unsubscribe(job_mgr *m, int token);

/* ---- inside a handler -------------------------------------------------- */

cat_db *job_db(job_ctx *c);        /* this job's connection (the worker's) */
int64_t job_id(job_ctx *c);
int64_t job_root(job_ctx *c);      /* 0 if none */
const char *job_params(job_ctx *c); /* JSON text */
int job_add_item(job_ctx *c, const char *key); /* in plan() */
/* In item(): open the item's write transaction. Call it after the slow
 * part (hashing, inference) and before writing through job_db(): those
 * writes then commit atomically with the item's outcome, and the write
 * lock is held only for them. Writes made without it commit on their
 * own. */
int job_write(job_ctx *c);
/* Tag the current item's outcome ("unchanged", "new"...); stored with the
 * item and counted by cat_job_item_notes. */
int job_note(job_ctx *c, const char *note);
/* A message for the job's history and listeners. */
int job_message(job_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int job_cancelled(job_ctx *c);     /* a long item may poll this */
int job_set_result(job_ctx *c, const char *json);
void job_set_state(job_ctx *c, void *state); /* per-run handler state */
void *job_state(job_ctx *c);

/* ---- the folder queue of the original service ------------------------- */

/* Add an absolute folder (it must lie inside a library root). */
int job_folder_add(job_mgr *m, const char *abs_path, int64_t *id);
int job_folder_list(job_mgr *m, cat_folder **out, size_t *n);
/* Forget folders not yet processed. */
int job_folder_clear(job_mgr *m);
/* Enqueue one job of `type` per waiting folder with params
 * {"folder": PATH, ...extra} (extra_json: an object's members, or NULL)
 * and take the folders off the queue. job_ids (caller frees) in order. */
int job_folder_process(job_mgr *m, const char *type, const char *extra_json, int64_t **job_ids, size_t *n);

/* ---- indexing ---------------------------------------------------------- */

/* Image format from the first bytes of a file ("jpeg", "png", "webp",
 * "tiff", "bmp", "gif", "heif", "avif"), or NULL. 32 bytes are enough. */
const char *job_sniff_format(const void *head, size_t n);

/* The hook through which the image/vision modules analyse photos during
 * indexing. Both functions are optional and may run on several worker
 * threads at once. */
typedef struct {
    /* Fill photo metadata (taken_ms, camera, GPS, width, height) for an
     * image file; leave unknown fields 0/NULL (set strings with
     * ut_strdup: the indexer frees them). */
    int (*metadata)(void *user, const char *path, cat_photo *photo);
    /* Detect faces: *faces (ut_malloc'd array, embeddings ut_malloc'd;
     * the indexer frees them with cat_faces_free) and *n. */
    int (*faces)(void *user, const char *path, cat_face **faces, size_t *n);
    const char *faces_model; /* model id stored with the faces */
    void *user;
} job_analyser;

/* Register the "index" type: job params {}, root_id = the library root.
 * Items are the root's files (relative paths); each is stat'ed, skipped
 * if unchanged (size, mtime), sniffed (non-images skipped), hashed,
 * upserted, then analysed. Item notes: "new", "changed", "touched",
 * "unchanged", "not-image", "vanished". an may be NULL. */
int job_index_register(job_mgr *m, const job_analyser *an);

/* The analyser that fills the hook with real work: EXIF metadata from img,
 * and (with_faces) faces and embeddings from the face engine configured as
 * for sorting (o's detector, embedder, models_dir). *out must outlive the
 * jobs that use hook; job_analyser_close frees it. */
typedef struct job_photo_analyser job_photo_analyser;
int job_analyser_open(const sort_opts *o, int with_faces, job_photo_analyser **out, job_analyser *hook);
void job_analyser_close(job_photo_analyser *a);

#endif

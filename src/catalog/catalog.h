/* catalog.h -- the database behind kadr: roots, photos, faces, people,
 * analysis results, jobs, history and uploads.
 *
 * One cat_db is one connection; use one per thread (WAL lets readers run
 * while one writer commits). The backend is SQLite today; nothing in this
 * header is SQLite-specific so that a PostgreSQL backend can sit behind
 * the same functions: ids are int64, times are ms since the epoch, JSON is
 * text (PostgreSQL reads it as JSONB), embeddings are float32 arrays.
 *
 * Every function returns UT_OK or a negative UT_E* code with a message
 * (ut_errmsg()). Unknown ids give UT_ENOENT. Structs filled by a getter
 * own their strings/arrays: free them with the matching *_free().
 *
 * Transactions: cat_begin/cat_commit/cat_rollback nest (inner levels are
 * savepoints). Every mutating call is atomic on its own.
 */
#ifndef KADR_CATALOG_H
#define KADR_CATALOG_H

#include <stddef.h>
#include <stdint.h>

typedef struct cat_db cat_db;

/* ---- connection -------------------------------------------------------- */

typedef struct {
    int busy_timeout_ms; /* wait this long for another writer (default 10000) */
    int target_version;  /* migrate only up to this schema version; 0 = latest
                            (tests build old databases with it) */
    int readonly;        /* open without creating or migrating */
} cat_options;

/* Open (creating if needed) the catalog at path and bring its schema up to
 * date. A database written by a newer kadr fails with UT_EUNSUPPORTED. */
int cat_open(const char *path, cat_db **out);
int cat_open_ex(const char *path, const cat_options *opt, cat_db **out);
void cat_close(cat_db *db); /* NULL is a no-op */

int cat_schema_latest(void);                /* the version this binary writes */
int cat_schema_version(cat_db *db, int *version);
/* "ok", or the problems found; caller frees *report. */
int cat_integrity_check(cat_db *db, char **report);

int cat_begin(cat_db *db);
int cat_commit(cat_db *db);
int cat_rollback(cat_db *db);

/* ---- library roots ----------------------------------------------------- */

typedef struct {
    int64_t id;
    char *path; /* absolute, normalised */
    int64_t created_ms;
} cat_root;

/* Add an absolute folder; returns the existing id if already a root. */
int cat_root_add(cat_db *db, const char *abs_path, int64_t *id);
int cat_root_get(cat_db *db, int64_t id, cat_root *out);
int cat_root_find(cat_db *db, const char *abs_path, int64_t *id);
/* The root containing abs_path (deepest match); UT_ENOENT if none. */
int cat_root_for_path(cat_db *db, const char *abs_path, int64_t *id);
int cat_root_list(cat_db *db, cat_root **out, size_t *n);
int cat_root_remove(cat_db *db, int64_t id); /* cascades to its photos */
void cat_root_free(cat_root *r);
void cat_roots_free(cat_root *r, size_t n);

/* ---- photos ------------------------------------------------------------ */

enum {
    CAT_PHOTO_INDEXED = 0,   /* hashed, metadata known, not analysed */
    CAT_PHOTO_PROCESSED = 1, /* faces analysed (nfaces may be 0) */
    CAT_PHOTO_ERROR = 2,     /* analysis failed; see the job's history */
    CAT_PHOTO_MISSING = 3,   /* no longer found on the last scan */
};

typedef struct {
    int64_t id, root_id;
    char *path;          /* relative to the root */
    char hash[65];       /* SHA-256 hex of the content */
    int64_t size;
    int64_t mtime_ns;
    char format[8];      /* "jpeg", "png", "webp", "tiff", "bmp", "gif", "heif" */
    int64_t taken_ms;    /* EXIF date, 0 if unknown */
    char *camera;        /* NULL if unknown */
    int has_gps;
    double lat, lon;
    int width, height;   /* 0 if unknown */
    int state;           /* CAT_PHOTO_* */
    int nfaces;
    char *faces_model;   /* model the faces came from; NULL = not analysed */
    int64_t indexed_ms;
} cat_photo;

enum {
    CAT_FILE_NEW = 0,       /* not in the catalog */
    CAT_FILE_UNCHANGED = 1, /* same size and mtime: skip */
    CAT_FILE_STAT_CHANGED = 2, /* size or mtime differ: hash to decide */
};

/* Incremental indexing, first step: compare (size, mtime) with the
 * catalog. *photo_id is the existing row's id or 0. A missing photo that
 * reappears counts as changed. */
int cat_file_status(cat_db *db, int64_t root_id, const char *rel, int64_t size,
                    int64_t mtime_ns, int *status, int64_t *photo_id);

enum { CAT_UPSERT_NEW = 0, CAT_UPSERT_SAME = 1, CAT_UPSERT_CHANGED = 2 };

/* Second step: insert or update by (root_id, path). If the stored hash
 * equals p->hash only size/mtime/metadata are refreshed and the analysis
 * (faces, state, results) is kept (*what = CAT_UPSERT_SAME); a different
 * hash drops faces and results and resets state to INDEXED. Fields left
 * 0/NULL in p do not overwrite known metadata. p->id is set. */
int cat_photo_upsert(cat_db *db, cat_photo *p, int *what);
int cat_photo_get(cat_db *db, int64_t id, cat_photo *out);
int cat_photo_find(cat_db *db, int64_t root_id, const char *rel, cat_photo *out);
int cat_photo_set_state(cat_db *db, int64_t id, int state);
/* Paths (relative) of a root's photos in path order, offset/limit paging;
 * state_filter -1 = all. */
int cat_photo_list(cat_db *db, int64_t root_id, int state_filter, int64_t offset,
                   int64_t limit, cat_photo **out, size_t *n);
int cat_photo_count(cat_db *db, int64_t root_id, int state_filter, int64_t *count);
/* Mark photos of root_id that are not keys of job_id's items as MISSING;
 * *marked = how many changed state. */
int cat_photo_mark_missing(cat_db *db, int64_t root_id, int64_t job_id, int64_t *marked);
void cat_photo_free(cat_photo *p);
void cat_photos_free(cat_photo *p, size_t n);

/* ---- faces ------------------------------------------------------------- */

typedef struct {
    int64_t id, photo_id;
    float box[4];        /* x, y, w, h in original pixels */
    float landmarks[10]; /* 5 points: eyes, nose, mouth corners (x, y) */
    float score;
    float quality;
    int dim;             /* embedding length, 0 if none */
    float *embedding;    /* dim floats (owned when filled by a getter) */
    char *model;         /* embedder/detector id, e.g. "rfb320+mbf512" */
    int64_t person_id;   /* 0 = unassigned */
    int source;          /* CAT_SRC_* of the assignment */
} cat_face;

enum { CAT_SRC_NONE = 0, CAT_SRC_CLUSTER = 1, CAT_SRC_USER = 2 };

/* Replace the photo's faces with faces[0..n) from model (ids are assigned,
 * person fields ignored) and mark it PROCESSED with nfaces = n; n = 0
 * records "processed, 0 faces". Assignments of the old faces go with
 * them. face ids are written back to faces[i].id. */
int cat_photo_set_faces(cat_db *db, int64_t photo_id, const char *model, cat_face *faces,
                        size_t n);
int cat_face_get(cat_db *db, int64_t id, cat_face *out);
int cat_faces_of_photo(cat_db *db, int64_t photo_id, cat_face **out, size_t *n);
void cat_face_free(cat_face *f);
void cat_faces_free(cat_face *f, size_t n);

enum { CAT_FACES_ALL = 0, CAT_FACES_UNASSIGNED = 1, CAT_FACES_NOT_USER = 2 };
/* Embeddings of model's faces as one row-major matrix for clustering:
 * ids[n], emb[n * dim]. which = CAT_FACES_*. Caller frees ids and emb
 * with ut_free. */
int cat_face_matrix(cat_db *db, const char *model, int which, int64_t **ids, float **emb,
                    size_t *n, int *dim);

/* ---- people and assignments ------------------------------------------- */

typedef struct {
    int64_t id;
    char *name;          /* NULL for an unnamed cluster */
    int64_t cover_face;  /* 0 = none */
    int64_t nfaces;
    int64_t created_ms, updated_ms;
} cat_person;

int cat_person_create(cat_db *db, const char *name, int64_t *id);
int cat_person_get(cat_db *db, int64_t id, cat_person *out);
int cat_person_list(cat_db *db, cat_person **out, size_t *n);
/* name NULL or "" makes the person unnamed again. */
int cat_person_rename(cat_db *db, int64_t id, const char *name);
int cat_person_set_cover(cat_db *db, int64_t id, int64_t face_id);
/* Move every face of from into into and delete from. */
int cat_person_merge(cat_db *db, int64_t into, int64_t from);
int cat_person_delete(cat_db *db, int64_t id); /* its faces become unassigned */
/* Assign a face (person_id 0 unassigns) with source CAT_SRC_*. */
int cat_face_assign(cat_db *db, int64_t face_id, int64_t person_id, int source);
int cat_person_faces(cat_db *db, int64_t person_id, int64_t **face_ids, size_t *n);
/* Photos with at least one face of person_id, in path order. */
int cat_person_photos(cat_db *db, int64_t person_id, int64_t **photo_ids, size_t *n);
void cat_person_free(cat_person *p);
void cat_people_free(cat_person *p, size_t n);

/* Fixed anchors for re-clustering: every named person with the faces
 * (of model) assigned to them, any source. */
typedef struct {
    int64_t person_id;
    char *name;
    size_t nfaces;
    int64_t *face_ids;
    float *emb; /* nfaces * dim */
    int dim;
} cat_anchor;
int cat_anchors(cat_db *db, const char *model, cat_anchor **out, size_t *n);
void cat_anchors_free(cat_anchor *a, size_t n);

/* One clustering outcome for a face: join an existing person
 * (person_id > 0), or a new person per distinct cluster >= 0, or noise
 * (person_id 0, cluster -1: left unassigned). */
typedef struct {
    int64_t face_id;
    int64_t person_id;
    int cluster;
} cat_assignment;

/* Replace the clustering's work, atomically: drop every CAT_SRC_CLUSTER
 * assignment, apply a[], then delete unnamed people left without faces.
 * An a[i].person_id may name an unnamed person that only the dropped rows
 * held: that is how a re-clustering keeps people's ids. User assignments
 * and named people are never touched (rows for faces a user assigned are
 * ignored). new_people[k] (optional, caller frees) is
 * the person created for cluster k; *nclusters = max cluster + 1. */
int cat_assign_replace(cat_db *db, const cat_assignment *a, size_t n, int64_t **new_people,
                       int *nclusters);

/* ---- analysis results -------------------------------------------------- */

/* One JSON document per (photo, model): tags, classes, mask paths, answers.
 * kind is a short label ("tags", "class", "mask", "vlm"). */
int cat_result_put(cat_db *db, int64_t photo_id, const char *model, const char *kind,
                   const char *json);
int cat_result_get(cat_db *db, int64_t photo_id, const char *model, char **kind, char **json);
int cat_result_delete(cat_db *db, int64_t photo_id, const char *model);
/* Photo ids having a result of model, in id order. */
int cat_result_photos(cat_db *db, const char *model, int64_t **photo_ids, size_t *n);

/* ---- history and uploads ---------------------------------------------- */

typedef struct {
    int64_t id, ts_ms;
    char *kind;    /* "sort", "undo", "rename", ... */
    char *subject; /* what it was about (path, person id, job id) */
    char *data;    /* JSON */
} cat_history;

int cat_history_add(cat_db *db, const char *kind, const char *subject, const char *json,
                    int64_t *id);
/* Newest first; before_id 0 = from the newest. */
int cat_history_list(cat_db *db, const char *kind, int64_t before_id, int limit,
                     cat_history **out, size_t *n);
void cat_history_free(cat_history *h, size_t n);

typedef struct {
    int64_t id, root_id;
    char *path;         /* where it was stored, relative to the root */
    char *name;         /* the client's file name */
    char *content_type;
    int64_t size;
    char hash[65];
    int64_t created_ms;
} cat_upload;

int cat_upload_add(cat_db *db, const cat_upload *u, int64_t *id);
int cat_upload_get(cat_db *db, int64_t id, cat_upload *out);
int cat_upload_list(cat_db *db, int64_t offset, int64_t limit, cat_upload **out, size_t *n);
int cat_upload_delete(cat_db *db, int64_t id);
void cat_upload_free(cat_upload *u);
void cat_uploads_free(cat_upload *u, size_t n);

/* ---- jobs (storage; the queue logic is in jobs/) ----------------------- */

enum {
    CAT_JOB_QUEUED = 0,
    CAT_JOB_RUNNING = 1,
    CAT_JOB_DONE = 2,
    CAT_JOB_FAILED = 3,
    CAT_JOB_CANCELLED = 4,
};
const char *cat_job_state_name(int state); /* "queued", ... */
int cat_job_state_parse(const char *name);  /* -1 if unknown */

enum { CAT_ITEM_QUEUED = 0, CAT_ITEM_DONE = 1, CAT_ITEM_FAILED = 2, CAT_ITEM_SKIPPED = 3 };

typedef struct {
    int64_t id;
    char *type;
    char *params;    /* JSON */
    int state;       /* CAT_JOB_* */
    int64_t root_id; /* 0 = none */
    int exclusive;   /* changes files: one at a time per root */
    int planned;     /* its items have been listed */
    int64_t total, done, failed, skipped; /* done includes skipped */
    char *current;   /* item in progress, NULL if none */
    double rate;     /* items/s in the current run */
    double eta_s;    /* -1 if unknown */
    char *message;   /* last progress message */
    char *error;     /* why it failed */
    char *result;    /* JSON summary set by the handler, NULL if none */
    int cancel_requested;
    int owner_pid;
    int attempts;    /* times it was started (resumes count) */
    int64_t heartbeat_ms, created_ms, started_ms, finished_ms, updated_ms;
} cat_job;

typedef struct {
    int64_t id, job_id, ts_ms;
    char *kind;    /* "state", "progress", "message" */
    int state;
    int64_t done, total, failed;
    char *current;
    double rate, eta_s;
    char *message;
} cat_job_event;

int cat_job_insert(cat_db *db, cat_job *j); /* sets j->id, created_ms */
int cat_job_get(cat_db *db, int64_t id, cat_job *out);
/* Newest first; state_filter -1 = all; limit <= 0 = no limit. */
int cat_job_list(cat_db *db, int state_filter, int limit, cat_job **out, size_t *n);
/* Write every mutable field of j (state, counters, progress, result...). */
int cat_job_update(cat_db *db, const cat_job *j);
/* Atomically move a job from state `from` to `to` (claiming it for pid);
 * UT_ESTATE if it was not in `from`. */
int cat_job_transition(cat_db *db, int64_t id, int from, int to, int pid);
int cat_job_heartbeat(cat_db *db, int pid, int64_t now_ms);
/* Claim the oldest queued job whose type is one of types[] (or exactly
 * only_id when > 0) for pid, in one write transaction: queued -> running.
 * An exclusive job is not claimed while another exclusive job runs on the
 * same root. UT_ENOENT if nothing is claimable; for only_id, UT_EBUSY if
 * its root is held and UT_ESTATE if it is not queued. */
int cat_job_claim(cat_db *db, const char *const *types, size_t ntypes, int64_t only_id, int pid,
                  int64_t *id);
/* Ask a job to stop: a queued job becomes cancelled at once (*now_state
 * tells), a running one gets cancel_requested. UT_ESTATE if finished. */
int cat_job_request_cancel(cat_db *db, int64_t id, int *now_state);
int cat_job_cancel_requested(cat_db *db, int64_t id, int *requested);
int cat_job_delete(cat_db *db, int64_t id);

int cat_job_item_add(cat_db *db, int64_t job_id, const char *key);
/* Up to max queued items in order; keys and seqs are caller-freed arrays
 * (free keys with cat_strings_free). */
int cat_job_items_next(cat_db *db, int64_t job_id, int64_t after_seq, size_t max,
                       int64_t **seqs, char ***keys, size_t *n);
int cat_job_item_finish(cat_db *db, int64_t job_id, int64_t seq, int state, const char *note,
                        const char *error);
/* Count items by state into counts[4] (indexed by CAT_ITEM_*). */
int cat_job_item_counts(cat_db *db, int64_t job_id, int64_t counts[4]);
/* Count of items per note (e.g. "unchanged", "not-image"): parallel
 * arrays, caller frees (cat_strings_free for notes, ut_free for counts). */
int cat_job_item_notes(cat_db *db, int64_t job_id, char ***notes, int64_t **counts, size_t *n);
/* Failed items back to queued; *n = how many. */
int cat_job_items_requeue_failed(cat_db *db, int64_t job_id, int64_t *n);
/* Failed items with their errors (for `kadr jobs show`). */
int cat_job_items_failed(cat_db *db, int64_t job_id, int limit, char ***keys, char ***errors,
                         size_t *n);

int cat_job_event_add(cat_db *db, const cat_job_event *e);
int cat_job_events(cat_db *db, int64_t job_id, int64_t after_id, int limit, cat_job_event **out,
                   size_t *n);
void cat_job_free(cat_job *j);
void cat_jobs_free(cat_job *j, size_t n);
void cat_job_events_free(cat_job_event *e, size_t n);

/* Running jobs whose owner process is gone (pid not alive here) or whose
 * heartbeat is older than stale_ms go back to queued. *n = how many. */
int cat_job_recover_orphans(cat_db *db, int64_t stale_ms, int64_t *n);

/* ---- folder queue (the original service's "queue") -------------------- */

typedef struct {
    int64_t id;
    char *path;      /* absolute */
    int64_t added_ms;
    int64_t job_id;  /* 0 until processed */
} cat_folder;

int cat_folder_add(cat_db *db, const char *abs_path, int64_t *id); /* existing: same id */
int cat_folder_list(cat_db *db, cat_folder **out, size_t *n);
int cat_folder_set_job(cat_db *db, int64_t id, int64_t job_id);
int cat_folder_remove(cat_db *db, int64_t id);
int cat_folder_clear(cat_db *db); /* folders not yet processed */
void cat_folders_free(cat_folder *f, size_t n);

void cat_strings_free(char **s, size_t n);

#endif

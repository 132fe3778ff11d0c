/* organize.h -- sorting photos into per-person folders without ever losing one.
 *
 * Two steps, as the user sees them:
 *
 *   plan     org_plan_create() + org_plan_add() per photo + org_plan_finish():
 *            decides for every photo what happens (leave, move into one person's
 *            folder, copy into several and remove the original, or skip with a
 *            reason), picks clash-free names and the source folders that end up
 *            empty. Touches nothing on disk; print it (dry run) or turn it into
 *            JSON for the API.
 *   execute  org_execute(): carries the plan out under a journal in the state
 *            directory. Every step is recorded (and fsync'd) before it happens,
 *            copies are fsync'd and verified (size + SHA-256) before an original
 *            is removed. A run killed at any instant is finished by org_resume()
 *            or rolled back byte-for-byte by org_undo(), both idempotent and safe
 *            to interrupt again.
 *
 * Rules: 0 people = leave in place; 1 = move to <out>/<person>/; 2+ = copy into
 * each person's folder, then remove the original (a photo already in one of its
 * people's folders stays there). Anything under a folder named "общие" (any
 * case) is never touched; symlinks, non-images and unreadable files are left
 * in place and reported; existing files are never overwritten ("x (2).jpg").
 * Emptied source folders are removed (never the root, never one that still
 * holds anything).
 *
 * Lifecycle: org_plan_create -> org_plan_add* -> org_plan_finish -> (print /
 * json / execute)* -> org_plan_destroy. All functions return UT_OK or a
 * negative UT_E* code with ut_errmsg() set (util.h).
 */
#ifndef KADR_ORGANIZE_H
#define KADR_ORGANIZE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct json_t; /* jansson */

typedef struct org_plan org_plan;

/* What happens to one photo. */
enum {
    ORG_LEAVE = 0, /* stays where it is (no people, or already sorted) */
    ORG_MOVE = 1,  /* moved into one person's folder */
    ORG_COPY = 2,  /* copied into several folders; original removed unless kept */
    ORG_SKIP = 3,  /* not touched, with a reason (общие, symlink, not an image...) */
};

/* One planned photo, valid until the plan is destroyed. */
typedef struct {
    const char *path;        /* relative to the source root */
    int action;              /* ORG_* */
    const char *reason;      /* why skipped or left; NULL for moves and copies */
    const char *const *dest; /* destinations relative to the output root */
    size_t ndest;
    int keep_original;       /* ORG_COPY where one person's folder already holds it */
} org_item;

typedef struct {
    size_t photos_moved;    /* single-person photos moved */
    size_t photos_copied;   /* multi-person photos copied into several folders */
    size_t copies_total;    /* files the copies create */
    size_t photos_left;     /* no people, or already in its person's folder */
    size_t photos_skipped;  /* общие, symlinks, non-images, unreadable, ... */
    size_t folders_emptied; /* source folders that will be removed */
} org_summary;

/* ---- planning (touches nothing) ---------------------------------------- */

/* src: the library root being sorted (must be a directory). out: where the
 * person folders go; NULL means src. *plan is destroyed by the caller. */
int org_plan_create(const char *src, const char *out, org_plan **plan);
void org_plan_destroy(org_plan *plan);

/* Add one photo (path relative to src) and the person folder names it belongs
 * to. sha256_hex (optional, 64 hex digits) is the content hash the caller saw
 * (e.g. from the catalog): execution skips the photo if the file no longer
 * matches. A photo that cannot be sorted is still added, as ORG_SKIP with a
 * reason; only a bad person name (empty, "/", "..", "общие") is an error. */
int org_plan_add(org_plan *plan, const char *path, const char *const *people, size_t npeople,
                 const char *sha256_hex);
/* Compute the source folders that become empty. No more adds afterwards. */
int org_plan_finish(org_plan *plan);

size_t org_plan_count(const org_plan *plan);
int org_plan_item(const org_plan *plan, size_t i, org_item *item);
void org_plan_summary(const org_plan *plan, org_summary *sum);
/* Source folders (relative to src) that will be removed, deepest first. */
size_t org_plan_rmdir_count(const org_plan *plan);
const char *org_plan_rmdir(const org_plan *plan, size_t i);
const char *org_plan_src(const org_plan *plan); /* absolute */
const char *org_plan_out(const org_plan *plan); /* absolute */

/* Dry run: the summary and, if verbose, one line per photo and folder. */
void org_plan_print(const org_plan *plan, FILE *f, int verbose);
/* {"src","out","summary":{...},"photos":[{"path","action","to":[...],
 *  "reason","keep_original"}],"remove_folders":[...]}. Caller json_decref()s. */
int org_plan_to_json(const org_plan *plan, struct json_t **out);

/* ---- execution ---------------------------------------------------------- */

typedef struct {
    size_t done, total;  /* photos handled so far, of all in the plan */
    const char *path;    /* the photo just handled (relative to src) */
    const char *problem; /* NULL, or why it was skipped/left in place */
} org_event;

/* Called after each photo; return nonzero to stop (the run stays resumable
 * and the call returns UT_ECANCELED). */
typedef int (*org_progress_fn)(void *ctx, const org_event *ev);

typedef struct {
    const char *state_dir;  /* holds the journal; NULL: <out>/.kadr-sort */
    org_progress_fn progress;
    void *progress_ctx;
    int no_rename;          /* always copy+verify, even where rename(2) would do */
} org_opts;

typedef struct {
    size_t moved;           /* photos now in one person's folder */
    size_t copied;          /* photos copied into several folders */
    size_t copies;          /* copy files written and verified */
    size_t skipped;         /* left in place during execution (changed, unreadable...) */
    size_t folders_removed; /* emptied source folders removed */
    size_t restored;        /* (undo) photos put back */
} org_stats;

/* The state directory a run with these options uses (caller frees). */
char *org_state_dir(const org_plan *plan, const org_opts *opts);

/* Carry out a finished plan. Refuses (UT_EEXIST) if the state directory holds
 * the journal of an earlier run: resume or undo that first. Problems with
 * single photos skip that photo (reported through the progress callback and
 * counted); disk full and journal errors stop the run, resumable. stats may
 * be NULL. */
int org_execute(const org_plan *plan, const org_opts *opts, org_stats *stats);
/* Finish an interrupted run recorded in state_dir (idempotent; a finished
 * run is a no-op). opts->state_dir is ignored in favour of state_dir. */
int org_resume(const char *state_dir, const org_opts *opts, org_stats *stats);
/* Put every photo of the run back where it was, byte for byte, remove the
 * person folders the run created if they are empty, then delete the journal.
 * Works on finished, interrupted and half-undone runs. */
int org_undo(const char *state_dir, const org_opts *opts, org_stats *stats);

/* 1 if name is "общие" in any letter case (UTF-8, Cyrillic and Latin folding). */
int org_is_shared_folder(const char *name);
/* 1 if the file name has a photo extension (jpg, png, heic, ...). */
int org_is_image_name(const char *name);

#endif

/* organize_int.h -- what the organize module's files share (not public).
 *
 * One struct, org_plan, is both the plan and the replayed state of its
 * journal: plan.c fills the planning fields, journal.c writes them out and
 * reads them (and the execution records after them) back, exec.c and undo.c
 * drive the state forward or backward. The journal is self-contained: a
 * resume or undo needs nothing but the state directory.
 */
#ifndef KADR_ORGANIZE_INT_H
#define KADR_ORGANIZE_INT_H

#include "organize.h"
#include "util.h"

#include <stdint.h>
#include <sys/types.h>

/* A set of strings (destinations taken, sources seen), open addressing. */
typedef struct {
    char **slot;
    size_t cap, n;
} org__set;

int org__set_add(org__set *s, const char *key); /* UT_EEXIST if present */
int org__set_has(const org__set *s, const char *key);
void org__set_free(org__set *s);

typedef struct {
    /* plan */
    char *rel;        /* source path relative to src */
    int action;       /* ORG_* */
    int keep_src;     /* one destination is the photo's own folder */
    char *reason;     /* ORG_SKIP / ORG_LEAVE note */
    uint64_t size;    /* lstat at plan time */
    int64_t mtime_ns;
    char sha[65];     /* expected content hash or "" */
    char **dest;      /* relative to out; a copy intent may rename one */
    size_t ndest;
    /* execution state (journal replay) */
    uint8_t move_intent, moved, finished, skipped, undone;
    uint8_t *copy_intent, *copied; /* per destination */
    char got_sha[65]; /* hash of the verified copies */
} org__item;

struct org_plan {
    char *src, *out;  /* absolute, normalised */
    org__item *items;
    size_t nitems, cap;
    char **rmdirs;    /* relative to src, deepest first */
    uint32_t *rmdir_mode;
    uint8_t *rmdir_done;
    size_t nrmdirs;
    int finished;     /* org_plan_finish ran */
    org__set taken;   /* planned destinations (planning only) */
    org__set seen;    /* planned sources (planning only) */
    /* journal replay */
    char **mkdirs;    /* folders the run created, relative to out, in order */
    size_t nmkdirs;
    int begun, done, undoing;
};

/* ---- journal.c ---------------------------------------------------------- */

/* Record types. Intents (*_INTENT, MKDIR) are fsync'd before the action. */
enum {
    J_PLAN = 1,      /* src, out, nitems, nrmdirs */
    J_ITEM = 2,      /* one plan item */
    J_RMDIR_PLAN = 3,/* rel, mode */
    J_BEGIN = 4,     /* the plan is complete on disk */
    J_MKDIR = 5,     /* rel to out: about to create */
    J_MOVE = 6,      /* idx, final rel: about to rename src -> final */
    J_MOVED = 7,     /* idx */
    J_COPY = 8,      /* idx, d, final rel: about to copy via temp */
    J_COPIED = 9,    /* idx, d, sha: copy verified */
    J_FINISHED = 10, /* idx: all copies verified, original removed (or kept) */
    J_SKIPPED = 11,  /* idx, reason */
    J_RMDIR = 12,    /* idx of rmdir: folder removed */
    J_DONE = 13,
    J_UNDO = 14,
    J_UNDONE = 15,   /* idx restored */
};

#define ORG_JOURNAL_NAME "journal"
#define ORG_JOURNAL_MAGIC "KADRJ001"
#define ORG_JOURNAL_MAX_RECORD (1u << 20)

typedef struct {
    int fd;
    char *path;
} org__journal;

/* Parse a whole journal image into a fresh plan with its execution state.
 * A torn last record (short or bad checksum, at the very end) is ignored and
 * *valid_len tells where the good part ends; anything else malformed is
 * UT_EFORMAT with the offset in the message. */
int org__journal_parse(const uint8_t *buf, size_t len, org_plan **plan, size_t *valid_len);
/* Create a new journal holding the plan (fsync'd); UT_EEXIST if one exists. */
int org__journal_create(org__journal *j, const char *state_dir, const org_plan *plan);
/* Open an existing journal, replay it into *plan, cut a torn tail. */
int org__journal_open(org__journal *j, const char *state_dir, org_plan **plan);
void org__journal_close(org__journal *j);
int org__journal_sync(org__journal *j);
/* Append one record built by the helpers below; sync = fdatasync after. */
int org__jrec(org__journal *j, int sync, int type, const char *fmt, ...);

/* ---- plan.c --------------------------------------------------------------- */

org_plan *org__plan_alloc(void);
int org__plan_push(org_plan *p, org__item *it); /* takes ownership of *it */
int org__item_alloc_state(org__item *it);
void org__item_free_fields(org__item *it);

/* ---- fileops.c ------------------------------------------------------------ */

char *org__join(const char *a, const char *b); /* a "/" b, NULL on ENOMEM */
char *org__dirname(const char *path);
const char *org__basename(const char *path);
int org__fsync_dir(const char *dir);
/* rename without replacing an existing target (UT_EEXIST); EXDEV -> UT_EUNSUPPORTED. */
int org__rename_noreplace(const char *from, const char *to);
/* Copy src to a new file tmp (O_EXCL), hashing on the way; fsync'd, mode and
 * times of src kept. On any failure tmp is removed. */
int org__copy_hashed(const char *src, const char *tmp, int sync, char sha[65], uint64_t *size);
/* syncfs(2) of the file system holding dir: data and metadata of every file. */
int org__syncfs(const char *dir);
int org__hash_file(const char *path, char sha[65], uint64_t *size);
int org__errno_fail(int err, const char *what, const char *path);
int org__same_fs(const char *a, const char *b); /* 1 / 0 (by nearest existing ancestor) */
int org__exists(const char *path); /* lstat succeeds */
/* "x (n).jpg" for n >= 2; caller frees. */
char *org__clash_name(const char *rel, int n);

/* ---- exec.c / undo.c ------------------------------------------------------- */

int org__run(org_plan *p, org__journal *j, const org_opts *opts, org_stats *st);
/* Temp name of copy d of item i, in its destination folder; caller frees. */
char *org__tmp_path(const org_plan *p, const org__item *it, size_t i, size_t d);
int org__undo_run(org_plan *p, org__journal *j, const org_opts *opts, org_stats *st);

#endif

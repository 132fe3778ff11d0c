/* util.h -- the base layer every kadr module stands on.
 *
 * Errors, allocation, logging, paths, growable buffers, a thread pool and
 * SHA-256. Nothing here knows about images, models or the database.
 *
 * Error convention (every module follows it): a fallible function returns
 * an int status, UT_OK (0) or a negative UT_E* code, and writes results
 * through out-parameters. The code that fails also records a one-line
 * message for the calling thread with ut_fail(); callers that add context
 * use ut_failf_wrap(). ut_errmsg() reads it. Nothing reachable from user
 * input aborts or exits.
 */
#ifndef KADR_UTIL_H
#define KADR_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#if defined(__GNUC__)
#define UT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define UT_PRINTF(f, a)
#endif

/* ---- errors ------------------------------------------------------------ */

#define UT_ERRORS(X)                                                          \
    X(OK, 0, "ok")                                                            \
    X(ENOMEM, -1, "out of memory")                                            \
    X(EINVAL, -2, "invalid argument")                                         \
    X(EIO, -3, "input/output error")                                          \
    X(ENOENT, -4, "not found")                                                \
    X(EACCES, -5, "permission denied")                                        \
    X(EESCAPE, -6, "path escapes its root")                                   \
    X(EFORMAT, -7, "malformed data")                                          \
    X(EUNSUPPORTED, -8, "not supported")                                      \
    X(ERANGE, -9, "value out of range")                                       \
    X(EEXIST, -10, "already exists")                                          \
    X(ECANCELED, -11, "cancelled")                                            \
    X(EBUSY, -12, "busy")                                                     \
    X(ETOOBIG, -13, "too large")                                              \
    X(ESTATE, -14, "operation not valid in this state")

enum {
#define UT_ENUM(name, val, msg) UT_##name = val,
    UT_ERRORS(UT_ENUM)
#undef UT_ENUM
};

/* Static description of a code ("not found"). Never NULL. */
const char *ut_strerror(int code);
/* Short symbolic name of a code ("ENOENT"). Never NULL. */
const char *ut_errname(int code);

/* Record a message for the calling thread and return code. */
int ut_fail(int code, const char *fmt, ...) UT_PRINTF(2, 3);
/* Prefix the current message with more context ("loading x: <old>"). */
int ut_failf_wrap(int code, const char *fmt, ...) UT_PRINTF(2, 3);
/* The last message recorded on this thread, or the code's description
 * if none was recorded since ut_err_clear(). Valid until the next call. */
const char *ut_errmsg(void);
void ut_err_clear(void);
/* Map an errno value to a UT_E* code. */
int ut_from_errno(int err);

/* ---- memory ------------------------------------------------------------ */

/* All allocation in kadr goes through these so that tests can make the
 * n-th allocation fail (ut_mem_fail_at) and check the error path. They
 * return NULL on failure and never abort. */
void *ut_malloc(size_t n);
void *ut_calloc(size_t count, size_t size);
void *ut_realloc(void *p, size_t n);
void ut_free(void *p);
char *ut_strdup(const char *s);
char *ut_strndup(const char *s, size_t n);
/* printf into a fresh allocation; NULL on failure. Caller frees. */
char *ut_asprintf(const char *fmt, ...) UT_PRINTF(1, 2);

/* Make the n-th allocation from now (1-based) fail; 0 disarms. */
void ut_mem_fail_at(long n);
/* Number of allocations made so far (for sizing fault-injection loops). */
long ut_mem_count(void);

/* ---- logging ----------------------------------------------------------- */

enum { UT_LOG_ERROR, UT_LOG_WARN, UT_LOG_INFO, UT_LOG_DEBUG };

/* Level is read once from KADR_LOG (error|warn|info|debug), default info. */
void ut_log_set_level(int level);
int ut_log_level(void);
/* Parse "debug" etc.; returns -1 for an unknown name. */
int ut_log_parse_level(const char *name);
void ut_log(int level, const char *fmt, ...) UT_PRINTF(2, 3);

#define ut_error(...) ut_log(UT_LOG_ERROR, __VA_ARGS__)
#define ut_warn(...) ut_log(UT_LOG_WARN, __VA_ARGS__)
#define ut_info(...) ut_log(UT_LOG_INFO, __VA_ARGS__)
#define ut_debug(...)                                                         \
    do {                                                                      \
        if (ut_log_level() >= UT_LOG_DEBUG) ut_log(UT_LOG_DEBUG, __VA_ARGS__); \
    } while (0)

/* ---- growable buffers -------------------------------------------------- */

/* A byte buffer that keeps a NUL after its data so it can be used as a
 * string. Zero-initialise (ut_buf b = {0}) before use. On allocation
 * failure the buffer keeps its old contents and the call returns
 * UT_ENOMEM. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} ut_buf;

int ut_buf_reserve(ut_buf *b, size_t extra);
int ut_buf_append(ut_buf *b, const void *p, size_t n);
int ut_buf_puts(ut_buf *b, const char *s);
int ut_buf_printf(ut_buf *b, const char *fmt, ...) UT_PRINTF(2, 3);
int ut_buf_vprintf(ut_buf *b, const char *fmt, va_list ap);
void ut_buf_reset(ut_buf *b);  /* len = 0, keeps memory */
void ut_buf_free(ut_buf *b);
/* Hand the data to the caller (who frees it with ut_free); b is reset. */
char *ut_buf_steal(ut_buf *b);

/* ---- paths ------------------------------------------------------------- */

/* Lexically normalise a path: collapse "//" and "/./", resolve ".." against
 * earlier segments. Returns UT_EESCAPE if ".." would climb above the start
 * of a relative path (or above "/" for an absolute one). *out is freed by
 * the caller. */
int ut_path_normalize(const char *path, char **out);

/* Join a user-supplied relative path onto root without touching the disk.
 * Refuses (UT_EESCAPE) absolute paths, ".." that leaves root, and embedded
 * NUL or backslash-separated escapes. *out = root "/" normalised rel. */
int ut_path_join(const char *root, const char *rel, char **out);

/* Resolve rel under root on disk: like ut_path_join, then resolve every
 * symlink in the part that exists and require the result to stay inside
 * realpath(root). The final component may not exist yet (for creating
 * files); intermediate ones must. *out is the resolved absolute path. */
int ut_path_resolve(const char *root, const char *rel, char **out);

/* 1 if path equals root or lies under it (both must be normalised absolute
 * paths), else 0. A plain prefix is not enough: /a/bc is not in /a/b. */
int ut_path_within(const char *root, const char *path);

/* Create a directory and its parents (mode 0755); existing ones are fine. */
int ut_mkdirs(const char *path);

/* ---- thread pool ------------------------------------------------------- */

typedef struct ut_pool ut_pool;
typedef void (*ut_task_fn)(void *arg);
/* fn(ctx, i) for i in [begin, end) of a parallel loop. */
typedef void (*ut_range_fn)(void *ctx, size_t begin, size_t end);

/* nthreads <= 0 means one per online CPU. */
int ut_pool_create(int nthreads, ut_pool **out);
void ut_pool_destroy(ut_pool *pool);  /* waits for queued tasks */
int ut_pool_size(const ut_pool *pool);
int ut_pool_submit(ut_pool *pool, ut_task_fn fn, void *arg);
/* Block until every task submitted so far has finished. */
void ut_pool_wait(ut_pool *pool);
/* Split [0, n) into chunks of at least grain and run them on the pool and
 * the calling thread; returns when all are done. pool may be NULL. */
void ut_pool_for(ut_pool *pool, size_t n, size_t grain, ut_range_fn fn, void *ctx);

/* ---- hashing ----------------------------------------------------------- */

typedef struct {
    uint32_t state[8];
    uint64_t bytes;
    uint8_t block[64];
    size_t used;
} ut_sha256;

void ut_sha256_init(ut_sha256 *h);
void ut_sha256_update(ut_sha256 *h, const void *data, size_t n);
void ut_sha256_final(ut_sha256 *h, uint8_t digest[32]);
/* Lower-case hex of a digest into hex[65]. */
void ut_hex(const uint8_t *bytes, size_t n, char *hex);
/* SHA-256 of a whole file as hex[65]. */
int ut_sha256_file(const char *path, char hex[65]);

/* ---- time -------------------------------------------------------------- */

double ut_now(void);          /* monotonic seconds */
int64_t ut_wall_ms(void);     /* wall clock, ms since the epoch */

#endif

/* err.c -- one table of error codes and a per-thread last-error message.
 *
 * The message is thread-local so that concurrent jobs never see each
 * other's errors; it is overwritten by the next ut_fail() on the thread. */
#include "util.h"

#include <errno.h>
#include <string.h>

static _Thread_local char last_msg[512];
static _Thread_local int last_code;

const char *ut_strerror(int code) {
    switch (code) {
#define UT_CASE(name, val, msg) case val: return msg;
        UT_ERRORS(UT_CASE)
#undef UT_CASE
    }
    return "unknown error";
}

const char *ut_errname(int code) {
    switch (code) {
#define UT_CASE(name, val, msg) case val: return #name;
        UT_ERRORS(UT_CASE)
#undef UT_CASE
    }
    return "EUNKNOWN";
}

int ut_fail(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_msg, sizeof last_msg, fmt, ap);
    va_end(ap);
    last_code = code;
    return code;
}

int ut_failf_wrap(int code, const char *fmt, ...) {
    char prefix[256], old[sizeof last_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, ut_errmsg(), sizeof old);
    old[sizeof old - 1] = 0;
    /* Truncation is acceptable here: the message is for people. */
    size_t n = strlen(prefix);
    size_t room = sizeof last_msg - n - 3;
    size_t m = strnlen(old, room);
    memcpy(last_msg, prefix, n);
    memcpy(last_msg + n, ": ", 2);
    memcpy(last_msg + n + 2, old, m);
    last_msg[n + 2 + m] = 0;
    last_code = code;
    return code;
}

const char *ut_errmsg(void) {
    if (last_msg[0] == 0) return ut_strerror(last_code);
    return last_msg;
}

void ut_err_clear(void) {
    last_msg[0] = 0;
    last_code = UT_OK;
}

int ut_from_errno(int err) {
    switch (err) {
    case 0: return UT_OK;
    case ENOMEM: return UT_ENOMEM;
    case ENOENT: case ENOTDIR: return UT_ENOENT;
    case EACCES: case EPERM: case EROFS: return UT_EACCES;
    case EEXIST: case ENOTEMPTY: return UT_EEXIST;
    case EINVAL: case ENAMETOOLONG: case ELOOP: return UT_EINVAL;
    case EFBIG: case ENOSPC: case EDQUOT: return UT_ETOOBIG;
    case EBUSY: case EAGAIN: return UT_EBUSY;
    case ECANCELED: return UT_ECANCELED;
    default: return UT_EIO;
    }
}

/* buf.c -- growable byte buffers, always NUL-terminated after len. */
#include "util.h"

#include <string.h>

int ut_buf_reserve(ut_buf *b, size_t extra) {
    if (extra > SIZE_MAX - b->len - 1) return ut_fail(UT_ENOMEM, "buffer size overflow");
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return UT_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = ut_realloc(b->data, cap);
    if (!p) return ut_fail(UT_ENOMEM, "out of memory growing a buffer to %zu bytes", cap);
    b->data = p;
    b->cap = cap;
    return UT_OK;
}

int ut_buf_append(ut_buf *b, const void *p, size_t n) {
    int rc = ut_buf_reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return UT_OK;
}

int ut_buf_puts(ut_buf *b, const char *s) { return ut_buf_append(b, s, strlen(s)); }

int ut_buf_vprintf(ut_buf *b, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return ut_fail(UT_EINVAL, "bad format string");
    int rc = ut_buf_reserve(b, (size_t)n);
    if (rc) return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return UT_OK;
}

int ut_buf_printf(ut_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = ut_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void ut_buf_reset(ut_buf *b) {
    b->len = 0;
    if (b->data) b->data[0] = 0;
}

void ut_buf_free(ut_buf *b) {
    ut_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *ut_buf_steal(ut_buf *b) {
    char *p = b->data;
    if (!p) p = ut_strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

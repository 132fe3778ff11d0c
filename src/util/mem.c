/* mem.c -- allocation with fault injection.
 *
 * Every allocation in kadr passes here. Tests arm ut_mem_fail_at(n) and
 * check that the n-th allocation's failure becomes a clean UT_ENOMEM. The
 * counter is atomic so the pool's threads may allocate too. */
#include "util.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_long alloc_count;
static atomic_long fail_at;  /* absolute allocation number, 0 = never */

static int should_fail(void) {
    long n = atomic_fetch_add(&alloc_count, 1) + 1;
    long f = atomic_load(&fail_at);
    return f != 0 && n == f;
}

void ut_mem_fail_at(long n) {
    atomic_store(&fail_at, n > 0 ? atomic_load(&alloc_count) + n : 0);
}

long ut_mem_count(void) { return atomic_load(&alloc_count); }

void *ut_malloc(size_t n) {
    if (should_fail()) return NULL;
    return malloc(n ? n : 1);
}

void *ut_calloc(size_t count, size_t size) {
    if (should_fail()) return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *ut_realloc(void *p, size_t n) {
    if (should_fail()) return NULL;
    return realloc(p, n ? n : 1);
}

void ut_free(void *p) { free(p); }

char *ut_strndup(const char *s, size_t n) {
    size_t len = strnlen(s, n);
    char *d = ut_malloc(len + 1);
    if (!d) return NULL;
    memcpy(d, s, len);
    d[len] = 0;
    return d;
}

char *ut_strdup(const char *s) { return ut_strndup(s, strlen(s)); }

char *ut_asprintf(const char *fmt, ...) {
    ut_buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    int rc = ut_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (rc != UT_OK) {
        ut_buf_free(&b);
        return NULL;
    }
    return ut_buf_steal(&b);
}

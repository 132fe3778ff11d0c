/* query.c -- decoding what a request carries: query parameters and JSON
 * bodies.
 *
 * Query values are percent-decoded here rather than with mg_get_var so
 * that an encoded NUL ("%00") is refused instead of silently truncating
 * the value, and decoded bytes must be strict UTF-8: overlong forms such
 * as C0 AE ("." in disguise) are refused before any path is built. */
#include "api_int.h"
#include "util.h"

#include <string.h>
#include <strings.h>

int api__utf8_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        unsigned c = *p;
        if (c == 0) return 0;
        if (c < 0x80) { p++; continue; }
        int len;
        unsigned min;
        if ((c & 0xE0) == 0xC0) { len = 2; min = 0x80; c &= 0x1F; }
        else if ((c & 0xF0) == 0xE0) { len = 3; min = 0x800; c &= 0x0F; }
        else if ((c & 0xF8) == 0xF0) { len = 4; min = 0x10000; c &= 0x07; }
        else return 0;
        if (end - p < len) return 0;
        for (int i = 1; i < len; i++) {
            if ((p[i] & 0xC0) != 0x80) return 0;
            c = (c << 6) | (p[i] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
        p += len;
    }
    return 1;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decode [s, s+n) ('+' is a space); -1 on a bad escape or NUL. */
static int decode(const char *s, size_t n, char **out) {
    char *d = ut_malloc(n + 1);
    if (!d) return UT_ENOMEM;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (n - i < 3 || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0) {
                ut_free(d);
                return -1;
            }
            d[j++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            d[j++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    d[j] = 0;
    if (memchr(d, 0, j) || !api__utf8_valid(d, j)) {
        ut_free(d);
        return -1;
    }
    *out = d;
    return 1;
}

int api__query(const api_req *req, const char *name, char **out) {
    *out = NULL;
    const char *q = req->info->query_string;
    size_t nlen = strlen(name);
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', len);
        size_t klen = eq ? (size_t)(eq - q) : len;
        if (klen == nlen && memcmp(q, name, nlen) == 0)
            return eq ? decode(eq + 1, len - klen - 1, out) : decode("", 0, out);
        q = amp ? amp + 1 : NULL;
    }
    return 0;
}

int api__query_bool(api_req *req, const char *name, int dflt, int *out) {
    char *v;
    int rc = api__query(req, name, &v);
    *out = dflt;
    if (rc == 0) return 0;
    if (rc < 0) return api__reply_error(req, 400, "bad_request", "query parameter '%s' is badly encoded", name);
    if (!strcasecmp(v, "true") || !strcmp(v, "1")) *out = 1;
    else if (!strcasecmp(v, "false") || !strcmp(v, "0")) *out = 0;
    else {
        ut_free(v);
        return api__reply_error(req, 400, "bad_request", "query parameter '%s' must be true or false", name);
    }
    ut_free(v);
    return 0;
}

int api__read_json(api_req *req, size_t max, json_t **out) {
    *out = NULL;
    long long declared = req->info->content_length;
    if (declared > (long long)max)
        return api__reply_error(req, 413, "too_large", "JSON body over %zu bytes", max);
    ut_buf b = {0};
    char chunk[4096];
    int n;
    while ((n = mg_read(req->conn, chunk, sizeof chunk)) > 0) {
        if (b.len + (size_t)n > max) {
            ut_buf_free(&b);
            return api__reply_error(req, 413, "too_large", "JSON body over %zu bytes", max);
        }
        if (ut_buf_append(&b, chunk, (size_t)n)) {
            ut_buf_free(&b);
            return api__reply_error(req, 500, "internal", "out of memory");
        }
    }
    if (b.len == 0) return api__reply_error(req, 400, "bad_json", "request body must be a JSON object");
    json_error_t err;
    json_t *doc = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &err);
    ut_buf_free(&b);
    if (!doc) {
        return api__reply_error(req, 400, "bad_json", "malformed JSON body at line %d column %d: %s",
                                err.line, err.column, err.text);
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        return api__reply_error(req, 400, "bad_json", "request body must be a JSON object");
    }
    *out = doc;
    return 0;
}

/* reply.c -- JSON responses and the one error shape every route uses.
 *
 * Every response goes through api__common_headers() so CORS is decided in
 * one place: the dispatcher sets req->cors only when --cors allows the
 * request's Origin. */
#include "api_int.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void api__common_headers(api_req *req) {
    if (!req->cors) return;
    mg_response_header_add(req->conn, "Access-Control-Allow-Origin", req->cors, -1);
    mg_response_header_add(req->conn, "Vary", "Origin", -1);
}

int api__reply_bytes(api_req *req, int status, const char *type, const void *data, size_t len) {
    char lenbuf[32];
    snprintf(lenbuf, sizeof lenbuf, "%zu", len);
    mg_response_header_start(req->conn, status);
    mg_response_header_add(req->conn, "Content-Type", type, -1);
    mg_response_header_add(req->conn, "Cache-Control", "no-store", -1);
    mg_response_header_add(req->conn, "Content-Length", lenbuf, -1);
    if (status == 429) mg_response_header_add(req->conn, "Retry-After", "1", -1);
    if (status == 401) mg_response_header_add(req->conn, "WWW-Authenticate", "Bearer", -1);
    api__common_headers(req);
    mg_response_header_send(req->conn);
    if (strcmp(req->info->request_method, "HEAD") != 0) mg_write(req->conn, data, len);
    return status;
}

int api__reply_json(api_req *req, int status, json_t *body) {
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(body);
    if (!text) {
        const char *oom = "{\"error\":\"internal\",\"message\":\"out of memory\",\"code\":500}";
        return api__reply_bytes(req, 500, "application/json; charset=utf-8", oom, strlen(oom));
    }
    api__reply_bytes(req, status, "application/json; charset=utf-8", text, strlen(text));
    free(text);
    return status;
}

int api__reply_error(api_req *req, int status, const char *kind, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* json_pack refuses invalid UTF-8; a user-supplied path in the message
     * may be exactly that, so fall back to a message without it. */
    json_t *body = json_pack("{s:s, s:s, s:i}", "error", kind, "message", msg, "code", status);
    if (!body) body = json_pack("{s:s, s:s, s:i}", "error", kind, "message", kind, "code", status);
    return api__reply_json(req, status, body);
}

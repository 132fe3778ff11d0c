/* reply.c -- JSON responses and the one error shape every route uses. */
#include "api_int.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int api__reply_json(api_req *req, int status, json_t *body) {
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(body);
    if (!text) {
        const char *oom = "{\"error\":\"internal\",\"message\":\"out of memory\",\"code\":500}";
        mg_send_http_error(req->conn, 500, "%s", oom);
        return 500;
    }
    size_t len = strlen(text);
    mg_response_header_start(req->conn, status);
    mg_response_header_add(req->conn, "Content-Type", "application/json; charset=utf-8", -1);
    mg_response_header_add(req->conn, "Cache-Control", "no-store", -1);
    char lenbuf[32];
    snprintf(lenbuf, sizeof lenbuf, "%zu", len);
    mg_response_header_add(req->conn, "Content-Length", lenbuf, -1);
    mg_response_header_send(req->conn);
    if (strcmp(req->info->request_method, "HEAD") != 0) mg_write(req->conn, text, len);
    free(text);
    return status;
}

int api__reply_error(api_req *req, int status, const char *kind, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *body = json_pack("{s:s, s:s, s:i}", "error", kind, "message", msg, "code", status);
    return api__reply_json(req, status, body);
}

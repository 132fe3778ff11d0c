/* route.c -- the route table and path matching.
 *
 * The table is the single source of truth for what the server serves:
 * dispatch reads it and so does the OpenAPI document. Patterns are literal
 * segments and {name} segments that match one non-empty segment. */
#include "api_int.h"

#include <string.h>

const api_route api__routes[] = {
    {"GET", "/health", api__health, "Server and component status", 1},
};
const size_t api__nroutes = sizeof api__routes / sizeof api__routes[0];

/* Match one pattern; captured segments are copied into req->param_buf. */
static int match_pattern(const char *pat, const char *path, api_req *req) {
    size_t used = 0;
    int np = 0;
    while (*pat && *path) {
        if (*pat == '{') {
            const char *pend = strchr(pat, '}');
            const char *send = strchr(path, '/');
            size_t n = send ? (size_t)(send - path) : strlen(path);
            if (!pend || n == 0 || np == API_MAX_PARAMS || used + n + 1 > sizeof req->param_buf) return 0;
            memcpy(req->param_buf + used, path, n);
            req->param_buf[used + n] = 0;
            req->params[np++] = req->param_buf + used;
            used += n + 1;
            pat = pend + 1;
            path += n;
        } else if (*pat++ != *path++) {
            return 0;
        }
    }
    return *pat == 0 && *path == 0;
}

const api_route *api__match(const char *method, const char *path, api_req *req, int *path_known) {
    *path_known = 0;
    for (size_t i = 0; i < api__nroutes; i++) {
        const api_route *r = &api__routes[i];
        if (!match_pattern(r->path, path, req)) continue;
        if (strcmp(r->method, method) == 0 || (strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0))
            return r;
        *path_known = 1;
    }
    return NULL;
}

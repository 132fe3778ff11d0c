/* route.c -- the route table and path matching.
 *
 * The table is the single source of truth for what the server serves:
 * dispatch reads it and so does the OpenAPI document. Patterns are literal
 * segments and {name} segments that match one non-empty segment. Paths
 * that no route claims fall through to the static web UI (static.c). */
#include "api_int.h"

#include <string.h>

static const api_param p_path[] = {{"path", "query", "string", 1, "Folder or file: an absolute path under a library root (as /api/drives and /api/folder return them) or a path relative to the first root"}, {0}};
static const api_param p_upload[] = {{"path", "query", "string", 1, "Target folder (see /api/folder)"}, {0}};
static const api_param p_queue_add[] = {{"includeExcluded", "query", "boolean", 0, "Also accept folders named общие/common/shared/..."}, {0}};
static const api_param p_process[] = {
    {"includeExcluded", "query", "boolean", 0, "Process excluded folders too"},
    {"jointMode", "query", "string", 0, "copy (default) or move for photos with several people"},
    {"postValidate", "query", "boolean", 0, "Re-check clusters after distribution"},
    {0}};
static const api_param p_task[] = {{"task_id", "path", "string", 1, "Task id returned by /api/process"}, {0}};
static const api_param p_preview[] = {
    {"path", "query", "string", 1, "Image under a library root"},
    {"size", "query", "integer", 0, "Square thumbnail side in pixels (default 150)"},
    {0}};
static const api_param p_vendor[] = {
    {"pkg", "path", "string", 1, "swagger-ui or redoc"},
    {"file", "path", "string", 1, "File name inside the package"},
    {0}};
static const api_param p_token[] = {{"token", "query", "string", 0, "Bearer token, for clients that cannot set headers"}, {0}};

#define JSON_BODY "application/json"
#define MULTIPART "multipart/form-data"

const api_route api__routes[] = {
    /* method, path, handler, summary, public, tag, params, body, produces, errors, streaming */
    {"GET", "/health", api__health, "Server and component status", 1, "system", NULL, NULL, NULL, NULL, 0},
    {"GET", "/metrics", api__metrics, "Prometheus metrics: requests by route and status, latency, in-flight, uptime, RSS", 0, "system", NULL, NULL, "text/plain", NULL, 0},
    {"GET", "/openapi.json", api__openapi, "This OpenAPI 3 document, generated from the route table", 1, "docs", NULL, NULL, NULL, NULL, 0},
    {"GET", "/docs", api__docs, "Swagger UI", 1, "docs", NULL, NULL, "text/html", NULL, 0},
    {"GET", "/redoc", api__redoc, "ReDoc", 1, "docs", NULL, NULL, "text/html", NULL, 0},
    {"GET", "/vendor/{pkg}/{file}", api__vendor, "Vendored documentation bundles (swagger-ui-dist, redoc)", 1, "docs", p_vendor, NULL, "application/octet-stream", "404", 0},
    {"GET", "/", api__index, "The web UI", 1, "ui", NULL, NULL, "text/html", "404", 0},
    /* The original face-sorting API (docs/compat.md). */
    {"GET", "/api/drives", api__drives, "Library roots and special folders inside them", 0, "compat", NULL, NULL, NULL, NULL, 0},
    {"GET", "/api/folder", api__folder, "Subfolders and images of a folder, with image counts", 0, "compat", p_path, NULL, NULL, "400 403 404", 0},
    {"POST", "/api/upload", api__upload, "Upload images and ZIP archives (multipart field 'files', many files)", 0, "compat", p_upload, MULTIPART, NULL, "400 403 404 413", 0},
    {"GET", "/api/queue", api__queue_get, "Folders waiting to be processed", 0, "compat", NULL, NULL, NULL, NULL, 0},
    {"POST", "/api/queue/add", api__queue_add, "Add a folder to the queue: {\"path\": \"...\"}", 0, "compat", p_queue_add, JSON_BODY, NULL, "400 403 404", 0},
    {"DELETE", "/api/queue", api__queue_clear, "Empty the queue", 0, "compat", NULL, NULL, NULL, NULL, 0},
    {"POST", "/api/process", api__process, "Start processing the queued folders (with the jobs module)", 0, "compat", p_process, NULL, NULL, "400 501", 0},
    {"GET", "/api/tasks", api__tasks, "All recent tasks", 0, "compat", NULL, NULL, NULL, NULL, 0},
    {"GET", "/api/tasks/{task_id}", api__task_get, "One task", 0, "compat", p_task, NULL, NULL, "404", 0},
    {"GET", "/api/image/preview", api__preview, "JPEG thumbnail of an image (with the img module)", 0, "compat", p_preview, NULL, "image/jpeg", "400 403 404 501", 0},
    /* Live progress. */
    {"GET", "/ws", api__ws_plain, "Progress events over WebSocket (one JSON text message per event)", 0, "events", p_token, NULL, NULL, "400 503", 1},
    {"GET", "/api/v1/events", api__events_sse, "Progress events as Server-Sent Events (fallback for /ws)", 0, "events", p_token, NULL, "text/event-stream", "503", 1},
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

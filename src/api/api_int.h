/* api_int.h -- shared inside src/api only: requests, routes, replies,
 * paths, the event hub, metrics and limits. */
#ifndef KADR_API_INT_H
#define KADR_API_INT_H

#include "api.h"
#include "catalog.h"
#include "jobs.h"

#include <civetweb.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#define API_MAX_PARAMS 4
/* Worker threads kept free for ordinary requests: every WebSocket and SSE
 * stream holds a worker for its lifetime, so without a reserve enough
 * idle streams would starve the API. */
#define API_RESERVED_THREADS 8

typedef struct api_hub api_hub;
typedef struct api_metrics api_metrics;
typedef struct api_limiter api_limiter;
typedef struct api_queue api_queue;

struct api_server {
    struct mg_context *mg;
    char *host;
    int port;
    char **roots;        /* normalised absolute paths, as configured */
    int nroots;
    char *data_dir;
    char *db_path;       /* data_dir/kadr.db, the catalog */
    job_mgr *jobs;       /* background jobs (sort, apply, undo, index) */
    char *token;
    char *web_dir;
    char *vendor_dir;
    char *cors_origin;
    int max_per_client;
    int threads;         /* CivetWeb workers; streams may hold all but API_RESERVED_THREADS */
    int64_t max_upload_bytes;
    int64_t zip_max_bytes;
    int64_t zip_max_entries;
    double zip_max_ratio;
    int64_t started_ms;
    api_hub *hub;
    api_metrics *metrics;
    api_limiter *limiter;
    api_queue *queue;
};

typedef struct {
    struct mg_connection *conn;
    const struct mg_request_info *info;
    api_server *srv;
    const char *params[API_MAX_PARAMS]; /* {name} segments of the route, in order */
    char param_buf[512];
    const char *cors; /* origin to echo in Access-Control-Allow-Origin, or NULL */
} api_req;

typedef int (*api_handler)(api_req *req); /* returns the HTTP status sent */

/* One parameter for the OpenAPI document. */
typedef struct {
    const char *name;
    const char *in;    /* "query", "path" */
    const char *type;  /* "string", "integer", "boolean" */
    int required;
    const char *description;
} api_param;

typedef struct {
    const char *method;
    const char *path;       /* "/api/v1/jobs/{id}" */
    api_handler fn;
    const char *summary;    /* for the OpenAPI document */
    int public_route;       /* 1: no token needed (health, UI, docs) */
    const char *tag;        /* OpenAPI tag: "compat", "native", "docs", ... */
    const api_param *params;/* NULL-name terminated, or NULL */
    const char *body;       /* request body media type, or NULL */
    const char *produces;   /* 200 response media type; NULL: application/json */
    const char *errors;     /* documented error statuses, e.g. "400 403 404" */
    int streaming;          /* 1: long-lived (ws, sse): outside the per-client limit */
} api_route;

extern const api_route api__routes[];
extern const size_t api__nroutes;

/* Find the route for method+path; fills req->params. Sets *path_known to 1
 * when the path matched some route under another method (405, not 404). */
const api_route *api__match(const char *method, const char *path, api_req *req, int *path_known);

/* ---- the catalog (db.c) ---------------------------------------------- */

/* This worker thread's catalog connection (opened on first use, closed
 * when the thread ends). Returns 0, or replies 503 and returns that. */
int api__db(api_req *req, cat_db **out);

/* ---- replies (reply.c) ------------------------------------------------- */

/* Both return the status they sent. api__reply_json steals body. */
int api__reply_json(api_req *req, int status, json_t *body);
/* {"error": kind, "message": formatted, "code": status} */
int api__reply_error(api_req *req, int status, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Send raw bytes with a content type (no-store). */
int api__reply_bytes(api_req *req, int status, const char *type, const void *data, size_t len);
/* Headers every response carries (CORS); call between header_start/send. */
void api__common_headers(api_req *req);

/* ---- request input (query.c) ------------------------------------------- */

/* Decode query parameter name into a fresh string (caller ut_free). Returns
 * 1 found, 0 absent, <0 bad encoding (embedded NUL, bad %xx, invalid or
 * overlong UTF-8): the caller answers 400/403. */
int api__query(const api_req *req, const char *name, char **out);
/* Strict UTF-8 check (no overlong forms, surrogates or NUL). */
int api__utf8_valid(const char *s, size_t n);
/* Read the whole body as JSON (at most max bytes). On failure replies 400
 * (or 413) itself and returns the status sent; 0 on success. */
int api__read_json(api_req *req, size_t max, json_t **out);
/* Optional boolean query flag ("true"/"1"/"false"/"0"); replies 400 on a
 * bad value and returns the status, else 0 with *out set. */
int api__query_bool(api_req *req, const char *name, int dflt, int *out);

/* ---- paths (paths.c) --------------------------------------------------- */

typedef struct {
    char *real;      /* resolved absolute path on disk (symlinks resolved) */
    char *display;   /* configured root + normalised rel: what clients see */
    int root;        /* index into srv->roots */
} api_path;

/* Resolve a user-supplied path: absolute paths must lie under a library
 * root, relative ones are taken under the first root. Returns a UT status;
 * UT_EESCAPE for anything outside the roots or encoded oddly. */
int api__path_resolve(const api_server *srv, const char *user, api_path *out);
void api__path_free(api_path *p);
/* Reply 400/403/404/500 for a path status; returns the status sent. */
int api__reply_path_error(api_req *req, int rc, const char *user);
/* Resolve query parameter "path" (required) or reply; 0 on success. */
int api__query_path(api_req *req, api_path *out);
/* 1 if the name has an image extension (JPG JPEG PNG BMP TIF TIFF WEBP GIF HEIC HEIF). */
int api__is_image_name(const char *name);
/* Create dir/name exclusively by hard-linking tmp; on a clash try
 * "stem (2).ext", "stem (3).ext"...; *final_name (caller frees) gets the
 * name used. tmp is unlinked on success. */
int api__link_unique(const char *tmp, const char *dir, const char *name, char **final_name);
/* Same for renaming a file or directory into dir without replacing. */
int api__rename_unique(const char *src, const char *dir, const char *name, char **final_name);
/* Remove a directory tree we created (does not follow symlinks). */
void api__rmtree(const char *path);

/* ---- ZIP extraction (zip.c) -------------------------------------------- */

typedef struct {
    int64_t max_bytes, max_entries;
    double max_ratio;
} api_zip_limits;

/* Extract the ZIP at zip_path into dir: into a fresh temp dir inside dir,
 * then moved in without overwriting. Any unsafe entry (.., absolute name,
 * link, device) or limit breach rejects the whole archive and writes
 * nothing. *nfiles gets the number of images extracted. */
int api__zip_extract(const char *zip_path, const char *dir, const api_zip_limits *lim, int *nfiles);

/* ---- event hub (events.c) ---------------------------------------------- */

int api__hub_create(int queue_cap, api_hub **out);
void api__hub_destroy(api_hub *hub);
void api__hub_register_ws(api_server *srv);
int api__events_sse(api_req *req);
int api__ws_plain(api_req *req);
/* 1 if one more stream may take a worker thread. */
int api__stream_slot_free(api_server *srv);
/* Wake every streaming client so it ends (before mg_stop). */
void api__hub_stop(api_server *srv);
long long api__hub_published(const api_server *srv);
long long api__hub_dropped(const api_server *srv);

/* ---- metrics and limits (metrics.c) ------------------------------------ */

int api__metrics_create(api_metrics **out);
void api__metrics_destroy(api_metrics *m);
void api__metrics_begin(api_metrics *m);
void api__metrics_end(api_metrics *m, int route, int status, double seconds);
int api__limiter_create(api_limiter **out);
void api__limiter_destroy(api_limiter *l);
/* Take a slot for ip; 0 if the client already has max in flight. */
int api__limiter_enter(api_limiter *l, const char *ip, int max);
void api__limiter_leave(api_limiter *l, const char *ip);

/* ---- in-memory processing queue (queue.c) ------------------------------ */

int api__queue_create(api_queue **out);
void api__queue_destroy(api_queue *q);

/* ---- handlers ---------------------------------------------------------- */

int api__health(api_req *req);
int api__metrics(api_req *req);
int api__drives(api_req *req);
int api__folder(api_req *req);
int api__upload(api_req *req);
int api__queue_get(api_req *req);
int api__queue_add(api_req *req);
int api__queue_clear(api_req *req);
int api__process(api_req *req);
int api__tasks(api_req *req);
int api__task_get(api_req *req);
int api__preview(api_req *req);
int api__openapi(api_req *req);
int api__docs(api_req *req);
int api__redoc(api_req *req);
int api__vendor(api_req *req);
int api__index(api_req *req);
/* Static UI files for paths no route claims; 0 if not handled. */
int api__static(api_req *req);

#endif

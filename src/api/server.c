/* server.c -- CivetWeb lifecycle and request dispatch.
 *
 * One CivetWeb handler receives every request and dispatches through the
 * route table, so authentication, CORS, the per-client limit, metrics,
 * error shapes and logging are decided in one place. CivetWeb's own error
 * pages are replaced by JSON. Order in dispatch():
 *
 *   CORS preflight -> route match (404/405, else static UI) -> token (401)
 *   -> per-client concurrency (429) -> handler -> metrics
 *
 * Streaming routes (/ws, SSE) are outside the concurrency limit: they are
 * long-lived by design and would otherwise use up a client's slots. */
#include "api_int.h"
#include "util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Thread stacks. Debian's CivetWeb starts every worker with a fixed 100 KiB
 * stack (USE_STACK_SIZE at its build), and glibc carves each thread's static
 * TLS out of the requested stack. OpenBLAS, which kadr links for nn and
 * cluster, alone reserves 60 KiB of static TLS, which left CivetWeb too little
 * stack for its own frames: the server crashed sending its first static file.
 * So the kadr binary interposes pthread_attr_setstacksize and raises any stack
 * below MIN_THREAD_STACK; larger requests pass through unchanged. */
#define MIN_THREAD_STACK (512 * 1024)

typedef int (*setstacksize_fn)(pthread_attr_t *, size_t);
static setstacksize_fn real_setstacksize;
static pthread_once_t setstacksize_once = PTHREAD_ONCE_INIT;

static void find_setstacksize(void) {
    real_setstacksize = (setstacksize_fn)dlsym(RTLD_NEXT, "pthread_attr_setstacksize");
}

int pthread_attr_setstacksize(pthread_attr_t *attr, size_t size) {
    pthread_once(&setstacksize_once, find_setstacksize);
    if (!real_setstacksize) return ENOSYS;
    return real_setstacksize(attr, size < MIN_THREAD_STACK ? MIN_THREAD_STACK : size);
}

#ifndef KADR_WEB_DIR_DEFAULT
#define KADR_WEB_DIR_DEFAULT "web"
#endif
#ifndef KADR_VENDOR_DIR_DEFAULT
#define KADR_VENDOR_DIR_DEFAULT "build/web-vendor/node_modules"
#endif

static int token_ok(const api_server *srv, struct mg_connection *conn, const api_route *r) {
    if (!srv->token) return 1;
    const char *auth = mg_get_header(conn, "Authorization");
    const char *prefix = "Bearer ";
    char given[512] = "";
    if (auth && strncmp(auth, prefix, strlen(prefix)) == 0) snprintf(given, sizeof given, "%s", auth + strlen(prefix));
    else if (r->streaming) { /* EventSource cannot set headers */
        const char *q = mg_get_request_info(conn)->query_string;
        if (!q || mg_get_var(q, strlen(q), "token", given, sizeof given) < 0) return 0;
    } else return 0;
    /* Compare in constant time so the token cannot be guessed byte by byte. */
    size_t n = strlen(srv->token), m = strlen(given);
    unsigned diff = (unsigned)(n ^ m);
    for (size_t i = 0; i < n; i++) diff |= (unsigned char)srv->token[i] ^ (unsigned char)given[i < m ? i : 0];
    return diff == 0;
}

/* The Origin to allow for this request, or NULL (CORS off or not allowed). */
static const char *cors_for(const api_server *srv, struct mg_connection *conn) {
    const char *origin = mg_get_header(conn, "Origin");
    if (!srv->cors_origin || !origin) return NULL;
    if (strcmp(srv->cors_origin, "*") == 0) return "*";
    return strcmp(srv->cors_origin, origin) == 0 ? srv->cors_origin : NULL;
}

static int preflight(api_req *req) {
    mg_response_header_start(req->conn, 204);
    api__common_headers(req);
    mg_response_header_add(req->conn, "Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS", -1);
    mg_response_header_add(req->conn, "Access-Control-Allow-Headers", "Authorization, Content-Type", -1);
    mg_response_header_add(req->conn, "Access-Control-Max-Age", "600", -1);
    mg_response_header_add(req->conn, "Content-Length", "0", -1);
    mg_response_header_send(req->conn);
    return 204;
}

static int run_route(api_req *req, const api_route *r) {
    if (!r->public_route && !token_ok(req->srv, req->conn, r))
        return api__reply_error(req, 401, "unauthorized", "missing or wrong bearer token");
    if (r->streaming) return r->fn(req);
    const char *ip = req->info->remote_addr;
    if (!api__limiter_enter(req->srv->limiter, ip, req->srv->max_per_client))
        return api__reply_error(req, 429, "too_many_requests",
                                "more than %d concurrent requests from %s; retry shortly", req->srv->max_per_client, ip);
    int status = r->fn(req);
    api__limiter_leave(req->srv->limiter, ip);
    return status;
}

static int dispatch(struct mg_connection *conn, void *cbdata) {
    api_req req = {.conn = conn, .info = mg_get_request_info(conn), .srv = cbdata};
    api_metrics *m = req.srv->metrics;
    int path_known, status;
    double t0 = ut_now();
    api__metrics_begin(m);
    req.cors = cors_for(req.srv, conn);
    const char *method = req.info->request_method;
    const api_route *r = api__match(method, req.info->local_uri, &req, &path_known);
    if (req.cors && !strcmp(method, "OPTIONS") && (r || path_known)) status = preflight(&req);
    else if (!r && path_known)
        status = api__reply_error(&req, 405, "method_not_allowed", "%s is not allowed on %s", method,
                                  req.info->local_uri);
    else if (!r && !(status = api__static(&req)))
        status = api__reply_error(&req, 404, "not_found", "no such endpoint: %s", req.info->local_uri);
    else if (r)
        status = run_route(&req, r);
    double dt = ut_now() - t0;
    api__metrics_end(m, r ? (int)(r - api__routes) : -1, status, dt);
    ut_debug("%s %s -> %d (%.1f ms)", method, req.info->local_uri, status, dt * 1e3);
    return status;
}

static int log_message(const struct mg_connection *conn, const char *message) {
    ut_debug("civetweb: %s", message);
    return 1;
}

static void free_server(api_server *srv) {
    for (int i = 0; i < srv->nroots; i++) ut_free(srv->roots[i]);
    ut_free(srv->roots);
    ut_free(srv->host);
    ut_free(srv->data_dir);
    ut_free(srv->db_path);
    ut_free(srv->token);
    ut_free(srv->web_dir);
    ut_free(srv->vendor_dir);
    ut_free(srv->cors_origin);
    api__hub_destroy(srv->hub);
    api__metrics_destroy(srv->metrics);
    api__limiter_destroy(srv->limiter);
    api__queue_destroy(srv->queue);
    ut_free(srv);
}

static char *dup_or_null(const char *s, int *oom) {
    if (!s || !*s) return NULL;
    char *d = ut_strdup(s);
    if (!d) *oom = 1;
    return d;
}

static void copy_limits(api_server *srv, const api_config *cfg) {
    srv->max_per_client = cfg->max_per_client ? cfg->max_per_client : 10;
    srv->max_upload_bytes = cfg->max_upload_bytes > 0 ? cfg->max_upload_bytes : (int64_t)2 << 30;
    srv->zip_max_bytes = cfg->zip_max_bytes > 0 ? cfg->zip_max_bytes : (int64_t)8 << 30;
    srv->zip_max_entries = cfg->zip_max_entries > 0 ? cfg->zip_max_entries : 100000;
    srv->zip_max_ratio = cfg->zip_max_ratio > 0 ? cfg->zip_max_ratio : 200;
}

static int copy_config(api_server *srv, const api_config *cfg) {
    int oom = 0;
    srv->host = ut_strdup(cfg->host ? cfg->host : "127.0.0.1");
    srv->data_dir = ut_strdup(cfg->data_dir);
    srv->db_path = ut_asprintf("%s/kadr.db", cfg->data_dir);
    srv->token = dup_or_null(cfg->token, &oom);
    srv->web_dir = dup_or_null(cfg->web_dir ? cfg->web_dir : KADR_WEB_DIR_DEFAULT, &oom);
    srv->vendor_dir = dup_or_null(cfg->vendor_dir ? cfg->vendor_dir : KADR_VENDOR_DIR_DEFAULT, &oom);
    srv->cors_origin = dup_or_null(cfg->cors_origin, &oom);
    srv->roots = ut_calloc((size_t)cfg->nroots + 1, sizeof *srv->roots);
    if (oom || !srv->host || !srv->data_dir || !srv->db_path || !srv->roots) return UT_ENOMEM;
    if (api__hub_create(cfg->event_queue, &srv->hub) || api__metrics_create(&srv->metrics) ||
        api__limiter_create(&srv->limiter) || api__queue_create(&srv->queue))
        return UT_ENOMEM;
    copy_limits(srv, cfg);
    for (int i = 0; i < cfg->nroots; i++) {
        char *norm;
        int rc = ut_path_normalize(cfg->roots[i], &norm);
        if (rc) return rc;
        srv->roots[srv->nroots++] = norm;
        if (norm[0] != '/') return ut_fail(UT_EINVAL, "library root '%s' must be an absolute path", norm);
    }
    return UT_OK;
}

static int start_civetweb(api_server *srv, const api_config *cfg) {
    char listen[300], threads[16];
    snprintf(listen, sizeof listen, "%s:%d", srv->host, cfg->port);
    srv->threads = cfg->threads > 0 ? cfg->threads : 64;
    snprintf(threads, sizeof threads, "%d", srv->threads);
    const char *options[] = {
        "listening_ports", listen,
        "num_threads", threads,
        "enable_keep_alive", "yes",
        "request_timeout_ms", "30000",
        "keep_alive_timeout_ms", "5000",
        "websocket_timeout_ms", "3600000",
        /* CivetWeb answers CORS preflights itself with "*" by default;
         * CORS is ours to decide (off unless --cors). */
        "access_control_allow_origin", "",
        /* Headers and body go out in separate writes; without this, Nagle
         * plus delayed ACKs add ~40 ms to every keep-alive response. */
        "tcp_nodelay", "1",
        NULL,
    };
    struct mg_callbacks cb = {.log_message = log_message};
    struct mg_init_data init = {.callbacks = &cb, .user_data = srv, .configuration_options = options};
    struct mg_error_data err = {0};
    char errtext[256] = "";
    err.text = errtext;
    err.text_buffer_size = sizeof errtext;
    srv->mg = mg_start2(&init, &err);
    if (!srv->mg)
        return ut_fail(UT_EIO, "cannot listen on %s: %s (is another server on that port? try --port)",
                       listen, errtext[0] ? errtext : "unknown error");
    struct mg_server_port ports[4];
    int n = mg_get_server_ports(srv->mg, 4, ports);
    srv->port = n > 0 ? ports[0].port : cfg->port;
    mg_set_request_handler(srv->mg, "/", dispatch, srv);
    api__hub_register_ws(srv);
    return UT_OK;
}

int api_server_start(const api_config *cfg, api_server **out) {
    *out = NULL;
    api_server *srv = ut_calloc(1, sizeof *srv);
    if (!srv) return ut_fail(UT_ENOMEM, "out of memory starting the server");
    int rc = copy_config(srv, cfg);
    if (rc == UT_ENOMEM) ut_fail(rc, "out of memory starting the server");
    if (!rc) rc = ut_mkdirs(srv->data_dir);
    if (!rc) {
        mg_init_library(MG_FEATURES_WEBSOCKET);
        srv->started_ms = ut_wall_ms();
        rc = start_civetweb(srv, cfg);
        if (rc) mg_exit_library();
    }
    if (rc) {
        free_server(srv);
        return rc;
    }
    ut_info("listening on http://%s:%d/", srv->host, srv->port);
    *out = srv;
    return UT_OK;
}

int api_server_port(const api_server *srv) { return srv->port; }

/* CivetWeb's accept loop polls with a 2 s timeout and only then sees the
 * stop flag; one throwaway connection made just after mg_stop() has set
 * it wakes the loop at once, so stopping takes milliseconds. */
static void *wake_accept_loop(void *arg) {
    api_server *srv = arg;
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)srv->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (strcmp(srv->host, "127.0.0.1") && strcmp(srv->host, "0.0.0.0") && strcmp(srv->host, "localhost"))
        inet_pton(AF_INET, srv->host, &a.sin_addr);
    if (fd >= 0) {
        connect(fd, (struct sockaddr *)&a, sizeof a);
        close(fd);
    }
    return NULL;
}

void api_server_stop(api_server *srv) {
    if (!srv) return;
    api__hub_stop(srv);
    pthread_t waker;
    int woke = pthread_create(&waker, NULL, wake_accept_loop, srv) == 0;
    mg_stop(srv->mg);
    if (woke) pthread_join(waker, NULL);
    mg_exit_library();
    free_server(srv);
}

/* server.c -- CivetWeb lifecycle and request dispatch.
 *
 * One CivetWeb handler receives every request and dispatches through the
 * route table, so authentication, error shapes and logging are decided in
 * one place. CivetWeb's own error pages are replaced by JSON. */
#include "api_int.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int token_ok(const api_server *srv, struct mg_connection *conn) {
    if (!srv->token) return 1;
    const char *auth = mg_get_header(conn, "Authorization");
    const char *prefix = "Bearer ";
    if (!auth || strncmp(auth, prefix, strlen(prefix)) != 0) return 0;
    /* Compare in constant time so the token cannot be guessed byte by byte. */
    const char *given = auth + strlen(prefix);
    size_t n = strlen(srv->token), m = strlen(given);
    unsigned diff = (unsigned)(n ^ m);
    for (size_t i = 0; i < n; i++) diff |= (unsigned char)srv->token[i] ^ (unsigned char)given[i < m ? i : 0];
    return diff == 0;
}

static int dispatch(struct mg_connection *conn, void *cbdata) {
    api_req req = {.conn = conn, .info = mg_get_request_info(conn), .srv = cbdata};
    int path_known, status;
    double t0 = ut_now();
    const api_route *r = api__match(req.info->request_method, req.info->local_uri, &req, &path_known);
    if (!r && path_known)
        status = api__reply_error(&req, 405, "method_not_allowed", "%s is not allowed on %s",
                                  req.info->request_method, req.info->local_uri);
    else if (!r)
        status = api__reply_error(&req, 404, "not_found", "no such endpoint: %s", req.info->local_uri);
    else if (!r->public_route && !token_ok(req.srv, conn))
        status = api__reply_error(&req, 401, "unauthorized", "missing or wrong bearer token");
    else
        status = r->fn(&req);
    ut_debug("%s %s -> %d (%.1f ms)", req.info->request_method, req.info->local_uri, status,
             (ut_now() - t0) * 1e3);
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
    ut_free(srv->token);
    ut_free(srv->web_dir);
    ut_free(srv);
}

static int copy_config(api_server *srv, const api_config *cfg) {
    srv->host = ut_strdup(cfg->host ? cfg->host : "127.0.0.1");
    srv->data_dir = ut_strdup(cfg->data_dir);
    srv->token = cfg->token && *cfg->token ? ut_strdup(cfg->token) : NULL;
    srv->web_dir = cfg->web_dir ? ut_strdup(cfg->web_dir) : NULL;
    srv->roots = ut_calloc((size_t)cfg->nroots + 1, sizeof *srv->roots);
    if (!srv->host || !srv->data_dir || !srv->roots) return UT_ENOMEM;
    if ((cfg->token && *cfg->token && !srv->token) || (cfg->web_dir && !srv->web_dir)) return UT_ENOMEM;
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
    snprintf(threads, sizeof threads, "%d", cfg->threads > 0 ? cfg->threads : 32);
    const char *options[] = {
        "listening_ports", listen,
        "num_threads", threads,
        "enable_keep_alive", "yes",
        "request_timeout_ms", "30000",
        "keep_alive_timeout_ms", "5000",
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
        mg_init_library(0);
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

void api_server_stop(api_server *srv) {
    if (!srv) return;
    mg_stop(srv->mg);
    mg_exit_library();
    free_server(srv);
}

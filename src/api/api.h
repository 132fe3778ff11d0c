/* api.h -- the HTTP server: REST API, progress streams and the web UI.
 *
 * Lifecycle: api_server_start() binds, starts the worker threads and
 * returns; requests are served until api_server_stop(), which waits for
 * the ones in flight. The server owns nothing from cfg beyond the call:
 * every string is copied. */
#ifndef KADR_API_H
#define KADR_API_H

#include <stddef.h>

typedef struct {
    const char *host;         /* address to bind, e.g. "127.0.0.1" */
    int port;                 /* 0 picks a free port (see api_server_port) */
    const char **roots;       /* library roots the server may touch */
    int nroots;
    const char *data_dir;     /* database, caches, models */
    const char *token;        /* NULL: no authentication */
    const char *web_dir;      /* static UI files; NULL: the built-in default */
    int threads;              /* 0: default */
} api_config;

typedef struct api_server api_server;

int api_server_start(const api_config *cfg, api_server **out);
/* The port actually bound (useful when cfg->port was 0). */
int api_server_port(const api_server *srv);
/* Stop accepting, finish requests in flight, free everything. NULL is a no-op. */
void api_server_stop(api_server *srv);

#endif

/* api.h -- the HTTP server: REST API, progress streams and the web UI.
 *
 * Lifecycle: api_server_start() binds, starts the worker threads and
 * returns; requests are served until api_server_stop(), which waits for
 * the ones in flight. The server owns nothing from cfg beyond the call:
 * every string is copied.
 *
 * Progress: any thread may call api_publish_event() with a JSON object;
 * the server stamps it with a sequence number and fans it out to every
 * WebSocket (/ws) and Server-Sent Events (/api/v1/events) client. A
 * publisher never waits for a client: each client has a bounded queue and
 * a slow one loses its oldest events (it sees a gap in "seq"). */
#ifndef KADR_API_H
#define KADR_API_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *host;         /* address to bind, e.g. "127.0.0.1" */
    int port;                 /* 0 picks a free port (see api_server_port) */
    const char **roots;       /* library roots the server may touch */
    int nroots;
    const char *data_dir;     /* database, caches, models */
    const char *token;        /* NULL: no authentication */
    const char *web_dir;      /* static UI files; NULL: the built-in default */
    const char *vendor_dir;   /* swagger-ui-dist/redoc (node_modules); NULL: built-in default */
    const char *cors_origin;  /* NULL: CORS off; "*" or one origin */
    int threads;              /* 0: default (64) */
    int max_per_client;       /* concurrent requests per client IP; 0: default 10; <0: unlimited */
    int64_t max_upload_bytes; /* one upload request; 0: default 2 GiB */
    int64_t zip_max_bytes;    /* total uncompressed size of one ZIP; 0: default 8 GiB */
    int64_t zip_max_entries;  /* entries in one ZIP; 0: default 100000 */
    double zip_max_ratio;     /* uncompressed/compressed size; 0: default 200 */
    int event_queue;          /* events buffered per progress client; 0: default 1024 */
} api_config;

typedef struct api_server api_server;

int api_server_start(const api_config *cfg, api_server **out);
/* The port actually bound (useful when cfg->port was 0). */
int api_server_port(const api_server *srv);
/* Stop accepting, finish requests in flight, free everything. NULL is a no-op. */
void api_server_stop(api_server *srv);

/* Publish one progress event, a JSON object as text (e.g. {"type":"job",
 * "job_id":..., "state":..., "done":..., "total":...}). Thread-safe and
 * non-blocking; the server adds "seq". UT_EINVAL if it is not an object. */
int api_publish_event(api_server *srv, const char *json_object);
/* Number of connected progress clients (WebSocket + SSE). */
int api_event_clients(api_server *srv);

#endif

/* events.c -- the progress event hub, fanned out over WebSocket (/ws) and
 * Server-Sent Events (/api/v1/events).
 *
 * Publishers (any thread, e.g. job workers) call api_publish_event(); the
 * hub stamps a sequence number, serialises the event once into a
 * reference-counted message and appends it to every client's ring. A
 * publisher only ever takes the hub mutex for O(clients) pointer pushes:
 * it never touches a socket, so a slow or stalled client cannot block it.
 * A full ring drops its oldest message (the client sees a gap in "seq";
 * the drop is logged once per client and counted in /metrics).
 *
 * Each WebSocket client gets a writer thread that drains its ring into
 * mg_websocket_write (CivetWeb keeps reading the socket on the
 * connection's own thread); an SSE client is served by its request
 * thread, which waits on the ring and writes "id:/data:" records, with a
 * comment line every 15 s so dead peers are noticed.
 *
 * Lifecycle of a client: registered in ready/handler, unregistered and
 * freed in close/handler after its writer has been joined; the hub is
 * destroyed after mg_stop(), when no client can remain. */
#include "api_int.h"
#include "util.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct {
    atomic_int refs;
    uint64_t seq;
    size_t len;
    char text[];
} msg;

typedef struct client {
    struct client *next, *prev;
    pthread_cond_t cond;
    msg **ring;
    size_t head, count;
    int closed;
    int64_t dropped;
    struct mg_connection *conn;
    pthread_t writer;
    int has_writer;
} client;

struct api_hub {
    pthread_mutex_t mu;
    client *clients;
    int nclients;
    size_t cap;
    uint64_t seq;
    int stopping;
    atomic_llong published, dropped;
};

static void msg_release(msg *m) {
    if (m && atomic_fetch_sub(&m->refs, 1) == 1) ut_free(m);
}

int api__hub_create(int queue_cap, api_hub **out) {
    api_hub *h = ut_calloc(1, sizeof *h);
    if (!h) return UT_ENOMEM;
    pthread_mutex_init(&h->mu, NULL);
    h->cap = queue_cap > 0 ? (size_t)queue_cap : 1024;
    *out = h;
    return UT_OK;
}

void api__hub_destroy(api_hub *h) {
    if (!h) return;
    pthread_mutex_destroy(&h->mu);
    ut_free(h);
}

static client *client_new(api_hub *h, struct mg_connection *conn) {
    client *c = ut_calloc(1, sizeof *c);
    if (c) c->ring = ut_calloc(h->cap, sizeof *c->ring);
    if (!c || !c->ring) {
        if (c) ut_free(c);
        return NULL;
    }
    pthread_cond_init(&c->cond, NULL);
    c->conn = conn;
    pthread_mutex_lock(&h->mu);
    c->next = h->clients;
    if (h->clients) h->clients->prev = c;
    h->clients = c;
    h->nclients++;
    pthread_mutex_unlock(&h->mu);
    return c;
}

static void client_free(api_hub *h, client *c) {
    pthread_mutex_lock(&h->mu);
    if (c->prev) c->prev->next = c->next;
    else h->clients = c->next;
    if (c->next) c->next->prev = c->prev;
    h->nclients--;
    pthread_mutex_unlock(&h->mu);
    for (size_t i = 0; i < c->count; i++) msg_release(c->ring[(c->head + i) % h->cap]);
    pthread_cond_destroy(&c->cond);
    ut_free(c->ring);
    ut_free(c);
}

/* Push m onto c's ring, dropping the oldest when full. Hub mutex held. */
static void push_locked(api_hub *h, client *c, msg *m) {
    if (c->closed) return;
    if (c->count == h->cap) {
        msg_release(c->ring[c->head]);
        c->head = (c->head + 1) % h->cap;
        c->count--;
        if (c->dropped++ % 1000 == 0)
            ut_warn("progress client is too slow: dropped %lld event(s) so far", (long long)c->dropped);
        atomic_fetch_add(&h->dropped, 1);
    }
    atomic_fetch_add(&m->refs, 1);
    c->ring[(c->head + c->count) % h->cap] = m;
    c->count++;
    pthread_cond_signal(&c->cond);
}

int api_publish_event(api_server *srv, const char *json_object) {
    api_hub *h = srv->hub;
    json_error_t err;
    json_t *ev = json_loads(json_object, 0, &err);
    if (!json_is_object(ev)) {
        json_decref(ev);
        return ut_fail(UT_EINVAL, "event must be a JSON object");
    }
    pthread_mutex_lock(&h->mu);
    uint64_t seq = ++h->seq;
    /* Serialise under the lock so that seq order is delivery order. */
    json_object_set_new(ev, "seq", json_integer((json_int_t)seq));
    char *text = json_dumps(ev, JSON_COMPACT);
    size_t len = text ? strlen(text) : 0;
    msg *m = text ? ut_malloc(sizeof *m + len + 1) : NULL;
    if (m) {
        atomic_init(&m->refs, 1);
        m->seq = seq;
        m->len = len;
        memcpy(m->text, text, len + 1);
        for (client *c = h->clients; c; c = c->next) push_locked(h, c, m);
        atomic_fetch_add(&h->published, 1);
    }
    pthread_mutex_unlock(&h->mu);
    free(text);
    json_decref(ev);
    msg_release(m);
    return m ? UT_OK : ut_fail(UT_ENOMEM, "out of memory publishing an event");
}

int api_event_clients(api_server *srv) {
    pthread_mutex_lock(&srv->hub->mu);
    int n = srv->hub->nclients;
    pthread_mutex_unlock(&srv->hub->mu);
    return n;
}

/* Wait up to timeout_ms for a message; NULL on timeout or close. */
static msg *next_msg(api_hub *h, client *c, int timeout_ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&h->mu);
    while (!c->count && !c->closed && !h->stopping)
        if (pthread_cond_timedwait(&c->cond, &h->mu, &ts) == ETIMEDOUT) break;
    msg *m = NULL;
    if (c->count && !c->closed) {
        m = c->ring[c->head];
        c->head = (c->head + 1) % h->cap;
        c->count--;
    }
    pthread_mutex_unlock(&h->mu);
    return m;
}

static int client_done(api_hub *h, client *c) {
    pthread_mutex_lock(&h->mu);
    int done = c->closed || h->stopping;
    pthread_mutex_unlock(&h->mu);
    return done;
}

static void mark_closed(api_hub *h, client *c) {
    pthread_mutex_lock(&h->mu);
    c->closed = 1;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&h->mu);
}

/* ---- WebSocket -------------------------------------------------------- */

static int ws_authorised(const struct mg_connection *conn, const api_server *srv);

static void *ws_writer(void *arg) {
    client *c = arg;
    api_server *srv = mg_get_user_data(mg_get_context(c->conn));
    while (!client_done(srv->hub, c)) {
        msg *m = next_msg(srv->hub, c, 1000);
        if (!m) continue;
        int w = mg_websocket_write(c->conn, MG_WEBSOCKET_OPCODE_TEXT, m->text, m->len);
        msg_release(m);
        if (w <= 0) {
            ut_debug("websocket client gone: write failed");
            mark_closed(srv->hub, c);
        }
    }
    return NULL;
}

int api__stream_slot_free(api_server *srv) {
    return api_event_clients(srv) < srv->threads - API_RESERVED_THREADS;
}

static int ws_connect(const struct mg_connection *conn, void *cbdata) {
    api_server *srv = cbdata;
    if (!ws_authorised(conn, srv)) {
        ut_info("websocket refused: missing or wrong token");
        return 1;
    }
    if (!api__stream_slot_free(srv)) {
        ut_warn("websocket refused: %d progress streams hold all but %d worker threads (raise --threads)",
                api_event_clients(srv), API_RESERVED_THREADS);
        return 1;
    }
    return 0;
}

static void ws_ready(struct mg_connection *conn, void *cbdata) {
    api_server *srv = cbdata;
    client *c = client_new(srv->hub, conn);
    if (!c) return;
    if (pthread_create(&c->writer, NULL, ws_writer, c) == 0) c->has_writer = 1;
    mg_set_user_connection_data(conn, c);
}

static int ws_data(struct mg_connection *conn, int bits, char *data, size_t len, void *cbdata) {
    /* Clients have nothing to say yet; keep the connection unless it closes. */
    return (bits & 0x0f) != MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE;
}

static void ws_close(const struct mg_connection *conn, void *cbdata) {
    api_server *srv = cbdata;
    client *c = mg_get_user_connection_data(conn);
    if (!c) return;
    mark_closed(srv->hub, c);
    if (c->has_writer) pthread_join(c->writer, NULL);
    client_free(srv->hub, c);
}

void api__hub_register_ws(api_server *srv) {
    mg_set_websocket_handler(srv->mg, "/ws", ws_connect, ws_ready, ws_data, ws_close, srv);
}

/* Browsers cannot set headers on WebSocket/EventSource: ?token= works too. */
static int ws_authorised(const struct mg_connection *conn, const api_server *srv) {
    if (!srv->token) return 1;
    const char *auth = mg_get_header(conn, "Authorization");
    char given[512] = "";
    if (auth && strncmp(auth, "Bearer ", 7) == 0) snprintf(given, sizeof given, "%s", auth + 7);
    else {
        const char *q = mg_get_request_info(conn)->query_string;
        if (q) mg_get_var(q, strlen(q), "token", given, sizeof given);
    }
    size_t n = strlen(srv->token), m = strlen(given);
    unsigned diff = (unsigned)(n ^ m);
    for (size_t i = 0; i < n; i++) diff |= (unsigned char)srv->token[i] ^ (unsigned char)given[i < m ? i : 0];
    return diff == 0;
}

int api__ws_plain(api_req *req) {
    return api__reply_error(req, 400, "bad_request", "/ws is a WebSocket endpoint: send an Upgrade request");
}

/* ---- Server-Sent Events ------------------------------------------------ */

int api__events_sse(api_req *req) {
    api_hub *h = req->srv->hub;
    if (!api__stream_slot_free(req->srv))
        return api__reply_error(req, 503, "busy", "too many progress streams for %d worker threads (raise --threads)",
                                req->srv->threads);
    mg_response_header_start(req->conn, 200);
    mg_response_header_add(req->conn, "Content-Type", "text/event-stream", -1);
    mg_response_header_add(req->conn, "Cache-Control", "no-store", -1);
    mg_response_header_add(req->conn, "X-Accel-Buffering", "no", -1);
    api__common_headers(req);
    mg_response_header_send(req->conn);
    if (strcmp(req->info->request_method, "HEAD") == 0) return 200;
    client *c = client_new(h, req->conn);
    if (!c) return 200;
    int ok = mg_printf(req->conn, ": kadr progress events\nretry: 2000\n\n") > 0;
    double last = ut_now();
    while (ok && !client_done(h, c)) {
        msg *m = next_msg(h, c, 1000);
        if (m) {
            ok = mg_printf(req->conn, "id: %llu\nevent: progress\ndata: %s\n\n", (unsigned long long)m->seq,
                           m->text) > 0;
            msg_release(m);
            last = ut_now();
        } else if (ut_now() - last > 15) {
            ok = mg_printf(req->conn, ": ping\n\n") > 0;
            last = ut_now();
        }
    }
    mark_closed(h, c);
    client_free(h, c);
    return 200;
}

void api__hub_stop(api_server *srv) {
    pthread_mutex_lock(&srv->hub->mu);
    srv->hub->stopping = 1;
    for (client *c = srv->hub->clients; c; c = c->next) pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&srv->hub->mu);
}

long long api__hub_published(const api_server *srv) { return atomic_load(&srv->hub->published); }
long long api__hub_dropped(const api_server *srv) { return atomic_load(&srv->hub->dropped); }

/* Live progress: 200 WebSocket clients each receive every event of a
 * burst, in order; SSE clients too; a client that never reads does not
 * slow publishers (its oldest events are dropped instead); tokens guard
 * both streams. The WebSocket client is a minimal raw one: handshake,
 * then unmasked server frames parsed from a buffer, all clients driven by
 * one poll() loop. */
#include "helpers.h"

#define NCLIENTS 200
#define NEVENTS 100

typedef struct {
    int fd;
    char buf[65536];
    size_t len;
    int handshaken;
    int next;   /* the "i" expected in the next event */
    int bad;
} ws_client;

static int ws_open(int port, const char *query) {
    int fd = connect_port(port);
    if (fd < 0) return -1;
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /ws%s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     query ? query : "");
    if (send_str(fd, req, (size_t)n)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Consume complete frames from c->buf; check each text frame's "i". */
static void ws_parse(ws_client *c) {
    if (!c->handshaken) {
        char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (!end) return;
        if (strncmp(c->buf, "HTTP/1.1 101", 12) != 0) c->bad = 1;
        size_t used = (size_t)(end + 4 - c->buf);
        memmove(c->buf, c->buf + used, c->len - used);
        c->len -= used;
        c->handshaken = 1;
    }
    for (;;) {
        if (c->len < 2) return;
        unsigned char *p = (unsigned char *)c->buf;
        size_t hdr = 2, plen = p[1] & 0x7f;
        if (plen == 126) {
            if (c->len < 4) return;
            plen = (size_t)p[2] << 8 | p[3];
            hdr = 4;
        } else if (plen == 127) {
            c->bad = 1; /* events are small */
            return;
        }
        if (c->len < hdr + plen) return;
        if ((p[0] & 0x0f) == 1) {
            char text[2048];
            size_t n = plen < sizeof text - 1 ? plen : sizeof text - 1;
            memcpy(text, c->buf + hdr, n);
            text[n] = 0;
            const char *ip = strstr(text, "\"i\":");
            if (!ip || atoi(ip + 4) != c->next || !strstr(text, "\"seq\":")) c->bad = 1;
            c->next++;
        }
        memmove(c->buf, c->buf + hdr + plen, c->len - hdr - plen);
        c->len -= hdr + plen;
    }
}

/* Read from all clients until each got want events or timeout_s passes. */
static int pump(ws_client *cs, int n, int want, double timeout_s) {
    static struct pollfd pfd[NCLIENTS];
    double t0 = ut_now();
    for (;;) {
        int done = 0;
        for (int i = 0; i < n; i++) {
            pfd[i] = (struct pollfd){.fd = cs[i].fd, .events = POLLIN};
            if (cs[i].next >= want && cs[i].handshaken) done++;
        }
        if (done == n) return 1;
        if (ut_now() - t0 > timeout_s) return 0;
        if (poll(pfd, (nfds_t)n, 100) <= 0) continue;
        for (int i = 0; i < n; i++) {
            if (!(pfd[i].revents & (POLLIN | POLLHUP))) continue;
            ssize_t r = recv(cs[i].fd, cs[i].buf + cs[i].len, sizeof cs[i].buf - cs[i].len, 0);
            if (r > 0) {
                cs[i].len += (size_t)r;
                ws_parse(&cs[i]);
            }
        }
    }
}

static void wait_clients(api_server *srv, int n) {
    for (int i = 0; i < 500 && api_event_clients(srv) < n; i++) usleep(10000);
}

TEST(ws_200_clients_get_every_event) {
    make_dirs("ws200");
    api_config cfg = {.threads = NCLIENTS + 16};
    api_server *srv = start_server(&cfg);
    CHECK(srv);
    static ws_client cs[NCLIENTS];
    for (int i = 0; i < NCLIENTS; i++) {
        cs[i] = (ws_client){.fd = ws_open(api_server_port(srv), NULL)};
        CHECK(cs[i].fd >= 0);
    }
    CHECK(pump(cs, NCLIENTS, 0, 20));
    wait_clients(srv, NCLIENTS);
    CHECK_EQ_INT(api_event_clients(srv), NCLIENTS);
    double t0 = ut_now();
    for (int i = 0; i < NEVENTS; i++) {
        char ev[256];
        snprintf(ev, sizeof ev, "{\"type\":\"job\",\"job_id\":\"j1\",\"state\":\"running\",\"i\":%d,\"done\":%d,\"total\":%d}",
                 i, i + 1, NEVENTS);
        CHECK_EQ_INT(api_publish_event(srv, ev), UT_OK);
    }
    double publish_s = ut_now() - t0;
    int all = pump(cs, NCLIENTS, NEVENTS, 30);
    double deliver_s = ut_now() - t0;
    int bad = 0, short_ = 0;
    for (int i = 0; i < NCLIENTS; i++) {
        bad += cs[i].bad;
        short_ += cs[i].next != NEVENTS;
    }
    fprintf(stderr, "%d clients x %d events: publish %.1f ms, all delivered in %.1f ms; %d bad, %d short\n",
            NCLIENTS, NEVENTS, publish_s * 1e3, deliver_s * 1e3, bad, short_);
    CHECK(all);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(short_, 0);
    for (int i = 0; i < NCLIENTS; i++) close(cs[i].fd);
    wait_clients(srv, -1);
    api_server_stop(srv);
}

TEST(publish_rejects_non_objects) {
    make_dirs("pubbad");
    api_config cfg = {0};
    api_server *srv = start_server(&cfg);
    CHECK_EQ_INT(api_publish_event(srv, "[1]"), UT_EINVAL);
    CHECK_EQ_INT(api_publish_event(srv, "{not json"), UT_EINVAL);
    CHECK_EQ_INT(api_publish_event(srv, "{}"), UT_OK);
    api_server_stop(srv);
}

/* Read an SSE stream until it holds `want` data lines. */
static int sse_read(int fd, char *buf, size_t cap, int want, double timeout_s) {
    size_t len = 0;
    double t0 = ut_now();
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (ut_now() - t0 < timeout_s) {
        int have = 0;
        for (const char *s = buf; len && (s = strstr(s, "\ndata: ")); s++) have++;
        if (have >= want) return have;
        if (poll(&p, 1, 100) <= 0) continue;
        ssize_t r = recv(fd, buf + len, cap - len - 1, 0);
        if (r <= 0) break;
        len += (size_t)r;
        buf[len] = 0;
    }
    return -1;
}

TEST(sse_streams_events) {
    make_dirs("sse");
    api_config cfg = {0};
    api_server *srv = start_server(&cfg);
    int fd = connect_port(api_server_port(srv));
    const char *req = "GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n";
    send_str(fd, req, strlen(req));
    wait_clients(srv, 1);
    CHECK_EQ_INT(api_event_clients(srv), 1);
    http_resp h;
    CHECK_EQ_INT(get(srv, "/health", &h), 0);
    CHECK(strstr(h.body, "\"events\":{\"status\":\"ok\",\"clients\":1}"));
    http_resp_free(&h);
    api_publish_event(srv, "{\"type\":\"job\",\"n\":1}");
    api_publish_event(srv, "{\"type\":\"job\",\"n\":2}");
    api_publish_event(srv, "{\"type\":\"job\",\"n\":3}");
    static char buf[65536];
    CHECK_EQ_INT(sse_read(fd, buf, sizeof buf, 3, 10), 3);
    CHECK(strstr(buf, "text/event-stream"));
    CHECK(strstr(buf, "id: 1\nevent: progress\ndata: {\"type\":\"job\",\"n\":1,\"seq\":1}\n\n"));
    CHECK(strstr(buf, "\"n\":3,\"seq\":3}"));
    close(fd);
    api_server_stop(srv);
}

/* A WebSocket client that never reads, with a tiny per-client queue:
 * publishing 3000 events of 8 KiB must not block, the reader that keeps
 * up still sees the final event, and drops are counted in /metrics. */
TEST(slow_client_does_not_block_publishers) {
    make_dirs("slow");
    api_config cfg = {.event_queue = 16};
    api_server *srv = start_server(&cfg);
    int stalled = ws_open(api_server_port(srv), NULL);
    int rcv = 4096;
    setsockopt(stalled, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    wait_clients(srv, 1);
    static char ev[9000];
    int n = snprintf(ev, sizeof ev, "{\"type\":\"job\",\"pad\":\"");
    memset(ev + n, 'x', 8192);
    double t0 = ut_now();
    for (int i = 0; i < 3000; i++) {
        snprintf(ev + n + 8192, sizeof ev - (size_t)n - 8192, "\",\"i\":%d}", i);
        CHECK_EQ_INT(api_publish_event(srv, ev), UT_OK);
    }
    double dt = ut_now() - t0;
    fprintf(stderr, "3000 x 8 KiB events with a stalled client: %.1f ms\n", dt * 1e3);
    CHECK(dt < 5.0);
    usleep(200000);
    http_resp r;
    CHECK_EQ_INT(get(srv, "/metrics", &r), 0);
    const char *d = strstr(r.body, "\nkadr_events_dropped_total ");
    CHECK(d && atol(d + strlen("\nkadr_events_dropped_total ")) > 0);
    http_resp_free(&r);
    close(stalled);
    api_server_stop(srv);
}

TEST(streams_need_the_token) {
    make_dirs("wstoken");
    api_config cfg = {.token = "s3cret"};
    api_server *srv = start_server(&cfg);
    int port = api_server_port(srv);
    static ws_client c;
    c = (ws_client){.fd = ws_open(port, NULL)};
    char buf[512] = "";
    ssize_t k = recv(c.fd, buf, sizeof buf - 1, 0);
    CHECK(k <= 0 || strncmp(buf, "HTTP/1.1 101", 12) != 0);
    close(c.fd);
    c = (ws_client){.fd = ws_open(port, "?token=s3cret")};
    CHECK(pump(&c, 1, 0, 10));
    CHECK(!c.bad);
    close(c.fd);
    http_resp r;
    CHECK_EQ_INT(get(srv, "/api/v1/events", &r), 0);
    CHECK_EQ_INT(r.status, 401);
    http_resp_free(&r);
    api_server_stop(srv);
}

/* Streams may not take the last worker threads: with 12 workers only 4
 * streams fit, and plain requests still get answered. */
TEST(streams_leave_workers_for_requests) {
    make_dirs("reserve");
    api_config cfg = {.threads = 12};
    api_server *srv = start_server(&cfg);
    int port = api_server_port(srv);
    static ws_client cs[6];
    for (int i = 0; i < 4; i++) cs[i] = (ws_client){.fd = ws_open(port, NULL)};
    CHECK(pump(cs, 4, 0, 10));
    wait_clients(srv, 4);
    CHECK_EQ_INT(api_event_clients(srv), 4);
    int extra = ws_open(port, NULL);
    char buf[256] = "";
    ssize_t k = recv(extra, buf, sizeof buf - 1, 0);
    CHECK(k <= 0 || strncmp(buf, "HTTP/1.1 101", 12) != 0);
    close(extra);
    http_resp r;
    CHECK_EQ_INT(get(srv, "/api/v1/events", &r), 0);
    CHECK_EQ_INT(r.status, 503);
    http_resp_free(&r);
    CHECK_EQ_INT(get(srv, "/health", &r), 0);
    CHECK_EQ_INT(r.status, 200);
    http_resp_free(&r);
    for (int i = 0; i < 4; i++) close(cs[i].fd);
    api_server_stop(srv);
}

int main(int argc, char **argv) { return test_main(argc, argv); }

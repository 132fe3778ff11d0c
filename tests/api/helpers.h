/* helpers.h -- shared by the tests in tests/api: an in-process server on
 * a temporary library root, multipart bodies, ZIPs made with libarchive,
 * and raw sockets for streaming endpoints. Static functions only (each
 * test file is its own executable). */
#ifndef KADR_TEST_API_HELPERS_H
#define KADR_TEST_API_HELPERS_H

#include "api.h"
#include "http.h"
#include "test.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh root "<tmp>/<name>/lib" and data dir "<tmp>/<name>/data". */
static char g_root[600], g_data[600];

static __attribute__((unused)) void make_dirs(const char *name) {
    snprintf(g_root, sizeof g_root, "%s/%s/lib", test_tmpdir(), name);
    snprintf(g_data, sizeof g_data, "%s/%s/data", test_tmpdir(), name);
    ut_mkdirs(g_root);
    ut_mkdirs(g_data);
}

static __attribute__((unused)) void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(data, 1, n, f);
    fclose(f);
}

static __attribute__((unused)) char *pathf(const char *fmt, const char *a) {
    static char buf[4][1024];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, 1024, fmt, a);
    return b;
}

/* Start with defaults plus whatever the caller set in cfg. */
static __attribute__((unused)) api_server *start_server(api_config *cfg) {
    const char *roots[1] = {g_root};
    if (!cfg->nroots) {
        cfg->roots = roots;
        cfg->nroots = 1;
    }
    if (!cfg->data_dir) cfg->data_dir = g_data;
    cfg->host = "127.0.0.1";
    cfg->port = 0;
    api_server *srv = NULL;
    if (api_server_start(cfg, &srv) != UT_OK) fprintf(stderr, "start: %s\n", ut_errmsg());
    return srv;
}

static __attribute__((unused)) int get(api_server *srv, const char *path, http_resp *r) {
    return http_request(api_server_port(srv), "GET", path, NULL, NULL, 0, r);
}

/* One multipart/form-data body with files named names[i] holding data[i]. */
typedef struct {
    char *data;
    size_t len;
} body_t;

static __attribute__((unused)) void body_add(body_t *b, const void *p, size_t n) {
    b->data = realloc(b->data, b->len + n + 1);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

#define BOUNDARY "----kadrtestboundary7MA4YWxk"
#define MULTIPART_HDR "Content-Type: multipart/form-data; boundary=" BOUNDARY "\r\n"

static __attribute__((unused)) void multipart_file(body_t *b, const char *name, const void *data, size_t n) {
    char head[1024];
    int k = snprintf(head, sizeof head,
                     "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"files\"; filename=\"%s\"\r\n"
                     "Content-Type: application/octet-stream\r\n\r\n", name);
    body_add(b, head, (size_t)k);
    body_add(b, data, n);
    body_add(b, "\r\n", 2);
}

static __attribute__((unused)) void multipart_end(body_t *b) { body_add(b, "--" BOUNDARY "--\r\n", strlen("--" BOUNDARY "--\r\n")); }

/* A connected TCP socket to the loopback server, or -1. */
static __attribute__((unused)) int connect_port(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static __attribute__((unused)) int send_str(int fd, const char *s, size_t n) {
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Count entries (recursively, files only) under dir. */
static __attribute__((unused)) int count_files(const char *dir) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "find '%s' -type f | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p) {
        if (fscanf(p, "%d", &n) != 1) n = -1;
        pclose(p);
    }
    return n;
}

#endif

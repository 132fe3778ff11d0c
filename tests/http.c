/* http.c -- test-side HTTP client and process helpers (see http.h). */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *kadr_bin(void) {
    const char *b = getenv("KADR_BIN");
    return b ? b : "kadr";
}

static int send_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static char *read_all(int fd, size_t *len) {
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (n + 1 >= cap) buf = realloc(buf, cap *= 2);
        ssize_t r = recv(fd, buf + n, cap - n - 1, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

int http_request(int port, const char *method, const char *path, const char *extra_headers,
                 const void *body, size_t body_len, http_resp *out) {
    memset(out, 0, sizeof *out);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 30};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    char head[2048];
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s"
                     "Content-Length: %zu\r\n\r\n",
                     method, path, port, extra_headers ? extra_headers : "", body_len);
    if (send_all(fd, head, (size_t)n) || (body_len && send_all(fd, body, body_len))) {
        close(fd);
        return -1;
    }
    size_t len;
    char *raw = read_all(fd, &len);
    close(fd);
    char *sep = strstr(raw, "\r\n\r\n");
    if (!sep || sscanf(raw, "HTTP/1.%*d %d", &out->status) != 1) {
        free(raw);
        return -1;
    }
    *sep = 0;
    out->headers = raw;
    out->body_len = len - (size_t)(sep + 4 - raw);
    out->body = malloc(out->body_len + 1);
    memcpy(out->body, sep + 4, out->body_len);
    out->body[out->body_len] = 0;
    return 0;
}

void http_resp_free(http_resp *r) {
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* Drain a pipe into buf (cap bytes, NUL-terminated). */
static void drain(int fd, char *buf, size_t cap) {
    size_t n = 0;
    ssize_t r;
    char sink[4096];
    while ((r = read(fd, n + 1 < cap ? buf + n : sink, n + 1 < cap ? cap - n - 1 : sizeof sink)) > 0)
        if (n + 1 < cap) n += (size_t)r;
    if (cap) buf[n < cap ? n : cap - 1] = 0;
}

int kadr_run(const char *const *args, char *out, size_t outcap, char *err, size_t errcap) {
    int po[2], pe[2];
    if (pipe(po) || pipe(pe)) return -1000;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]);
        close(pe[0]);
        const char *argv[64] = {kadr_bin()};
        for (int i = 0; args[i] && i < 62; i++) argv[i + 1] = args[i];
        execv(kadr_bin(), (char *const *)argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    /* Small outputs: read stderr after stdout; enough for CLI tests. */
    drain(po[0], out, outcap);
    drain(pe[0], err, errcap);
    close(po[0]);
    close(pe[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

int kadr_server_start(kadr_server *s, const char *env_home, const char *const *extra) {
    int po[2];
    if (pipe(po)) return -1;
    s->pid = fork();
    if (s->pid == 0) {
        dup2(po[1], 1);
        close(po[0]);
        setenv("KADR_HOME", env_home, 1);
        const char *argv[64] = {kadr_bin(), "serve", "--port", "0"};
        int n = 4;
        for (int i = 0; extra && extra[i] && n < 62; i++) argv[n++] = extra[i];
        execv(kadr_bin(), (char *const *)argv);
        _exit(127);
    }
    close(po[1]);
    char line[512] = "";
    size_t n = 0;
    struct pollfd pfd = {.fd = po[0], .events = POLLIN};
    while (n + 1 < sizeof line && poll(&pfd, 1, 10000) > 0) {
        ssize_t r = read(po[0], line + n, 1);
        if (r <= 0) break;
        if (line[n++] == '\n') break;
    }
    line[n] = 0;
    close(po[0]);
    const char *p = strstr(line, "http://127.0.0.1:");
    s->port = p ? atoi(p + strlen("http://127.0.0.1:")) : 0;
    if (s->port > 0) return 0;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    return -1;
}

int kadr_server_stop(kadr_server *s) {
    int st;
    kill(s->pid, SIGTERM);
    waitpid(s->pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

/* http.h -- a minimal blocking HTTP/1.1 client and a process runner for
 * integration tests against the real kadr binary on 127.0.0.1. */
#ifndef KADR_TEST_HTTP_H
#define KADR_TEST_HTTP_H

#include <stddef.h>
#include <sys/types.h>

typedef struct {
    int status;        /* 0 if the request failed */
    char *headers;     /* raw header block */
    char *body;        /* NUL-terminated */
    size_t body_len;
} http_resp;

/* One request with Connection: close. extra_headers is "Name: v\r\n..." or NULL. */
int http_request(int port, const char *method, const char *path, const char *extra_headers,
                 const void *body, size_t body_len, http_resp *out);
void http_resp_free(http_resp *r);

/* Path of the kadr binary under test ($KADR_BIN). */
const char *kadr_bin(void);
/* Run kadr with argv (NULL-terminated, without argv[0]); capture stdout
 * and stderr (each up to cap bytes, NUL-terminated). Returns exit status,
 * or -signal. */
int kadr_run(const char *const *args, char *out, size_t outcap, char *err, size_t errcap);

typedef struct {
    pid_t pid;
    int port;
} kadr_server;

/* Start `kadr serve --port 0 ...extra` and wait until it prints its port.
 * env_home becomes KADR_HOME. Returns 0 on success. */
int kadr_server_start(kadr_server *s, const char *env_home, const char *const *extra);
/* SIGTERM and wait; returns the exit status. */
int kadr_server_stop(kadr_server *s);

#endif

/* The kadr binary end to end: help, version, exit codes, serve + /health. */
#include "http.h"
#include "test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static char out[65536], err[65536];

TEST(help_lists_commands) {
    const char *args[] = {"--help", NULL};
    CHECK_EQ_INT(kadr_run(args, out, sizeof out, err, sizeof err), 0);
    CHECK(strstr(out, "Usage: kadr <command>"));
    CHECK(strstr(out, "serve"));
}

TEST(version) {
    const char *args[] = {"--version", NULL};
    CHECK_EQ_INT(kadr_run(args, out, sizeof out, err, sizeof err), 0);
    CHECK(strncmp(out, "kadr ", 5) == 0);
}

TEST(command_help) {
    const char *args[] = {"serve", "--help", NULL};
    CHECK_EQ_INT(kadr_run(args, out, sizeof out, err, sizeof err), 0);
    CHECK(strstr(out, "Usage: kadr serve"));
    CHECK(strstr(out, "--port N"));
    const char *args2[] = {"help", "serve", NULL};
    CHECK_EQ_INT(kadr_run(args2, out, sizeof out, err, sizeof err), 0);
    CHECK(strstr(out, "Usage: kadr serve"));
}

/* Usage errors exit 2 with one line on stderr that says what to do. */
TEST(usage_errors) {
    const char *cases[][4] = {
        {"frobnicate", NULL}, {"serve", "--port", "eighty", NULL}, {"serve", "--bogus", NULL},
        {"serve", "--port", NULL}, {"serve", "stray", NULL}, {NULL},
    };
    for (int i = 0; cases[i][0]; i++) {
        CHECK_EQ_INT(kadr_run(cases[i], out, sizeof out, err, sizeof err), 2);
        CHECK(strncmp(err, "kadr", 4) == 0);
        CHECK(strchr(err, '\n') == err + strlen(err) - 1);
    }
    const char *none[] = {NULL};
    CHECK_EQ_INT(kadr_run(none, out, sizeof out, err, sizeof err), 2);
}

TEST(serve_health_and_errors) {
    char home[512];
    snprintf(home, sizeof home, "%s/home", test_tmpdir());
    kadr_server s;
    CHECK_EQ_INT(kadr_server_start(&s, home, NULL), 0);
    http_resp r;
    CHECK_EQ_INT(http_request(s.port, "GET", "/health", NULL, NULL, 0, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(strstr(r.body, "\"status\":\"ok\""));
    CHECK(strstr(r.headers, "application/json"));
    http_resp_free(&r);
    /* The real binary links OpenBLAS, whose 60 KiB of static TLS once left
     * CivetWeb's workers too little stack to send a file (api/server.c). */
    CHECK_EQ_INT(http_request(s.port, "GET", "/", NULL, NULL, 0, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(strstr(r.headers, "text/html"));
    http_resp_free(&r);
    CHECK_EQ_INT(http_request(s.port, "GET", "/api/v1/no/such/thing", NULL, NULL, 0, &r), 0);
    CHECK_EQ_INT(r.status, 404);
    CHECK(strstr(r.body, "\"error\":\"not_found\""));
    CHECK(strstr(r.body, "\"code\":404"));
    http_resp_free(&r);
    CHECK_EQ_INT(http_request(s.port, "DELETE", "/health", NULL, NULL, 0, &r), 0);
    CHECK_EQ_INT(r.status, 405);
    http_resp_free(&r);
    CHECK_EQ_INT(kadr_server_stop(&s), 0);
    /* With no --root the default library folder is created in the data dir. */
    char lib[600];
    snprintf(lib, sizeof lib, "%s/library", home);
    CHECK(test_exists(lib));
}

TEST(serve_port_in_use_fails_cleanly) {
    char home[512];
    snprintf(home, sizeof home, "%s/home2", test_tmpdir());
    kadr_server s;
    CHECK_EQ_INT(kadr_server_start(&s, home, NULL), 0);
    char port[16];
    snprintf(port, sizeof port, "%d", s.port);
    const char *args[] = {"serve", "--port", port, NULL};
    setenv("KADR_HOME", home, 1);
    CHECK_EQ_INT(kadr_run(args, out, sizeof out, err, sizeof err), 1);
    CHECK(strstr(err, "cannot listen"));
    CHECK_EQ_INT(kadr_server_stop(&s), 0);
}

int main(int argc, char **argv) { return test_main(argc, argv); }

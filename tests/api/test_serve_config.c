/* `kadr serve` settings end to end: config file, environment and command
 * line, in that order of precedence, seen through the running server. */
#include "helpers.h"

static char out[8192], err[8192];

TEST(config_file_env_and_flags) {
    make_dirs("cfg");
    char home[700], conf[700], other[700];
    snprintf(home, sizeof home, "%s/cfg/home", test_tmpdir());
    snprintf(conf, sizeof conf, "%s/cfg/kadr.conf", test_tmpdir());
    snprintf(other, sizeof other, "%s/cfg/other", test_tmpdir());
    ut_mkdirs(other);
    char text[2048];
    int n = snprintf(text, sizeof text,
                     "# kadr serve settings\nroot = %s\n\ntoken = fromfile\nmax-upload-mb = 1\ncors = http://ui.example\n",
                     g_root);
    write_file(conf, text, (size_t)n);
    const char *args[] = {"--config", conf, NULL};
    kadr_server s;
    CHECK_EQ_INT(kadr_server_start(&s, home, args), 0);
    http_resp r;
    CHECK_EQ_INT(http_request(s.port, "GET", "/api/drives", "Authorization: Bearer fromfile\r\n", NULL, 0, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(strstr(r.body, g_root));
    http_resp_free(&r);
    /* 2 MiB declared > 1 MiB limit from the file: 413 before any body. */
    int fd = connect_port(s.port);
    const char *head = "POST /api/upload?path=. HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer fromfile\r\n"
                       MULTIPART_HDR "Content-Length: 2097152\r\n\r\n";
    send_str(fd, head, strlen(head));
    char resp[512] = "";
    CHECK(recv(fd, resp, sizeof resp - 1, 0) > 0);
    CHECK(strstr(resp, " 413 "));
    close(fd);
    CHECK_EQ_INT(http_request(s.port, "GET", "/api/queue", "Authorization: Bearer fromfile\r\nOrigin: http://ui.example\r\n", NULL, 0, &r), 0);
    CHECK(strcasestr(r.headers, "Access-Control-Allow-Origin: http://ui.example"));
    http_resp_free(&r);
    CHECK_EQ_INT(kadr_server_stop(&s), 0);

    /* The environment beats the file; the command line beats both. */
    setenv("KADR_TOKEN", "fromenv", 1);
    CHECK_EQ_INT(kadr_server_start(&s, home, args), 0);
    CHECK_EQ_INT(http_request(s.port, "GET", "/api/queue", "Authorization: Bearer fromenv\r\n", NULL, 0, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    http_resp_free(&r);
    CHECK_EQ_INT(kadr_server_stop(&s), 0);
    const char *args2[] = {"--config", conf, "--token", "fromflag", "--root", other, NULL};
    CHECK_EQ_INT(kadr_server_start(&s, home, args2), 0);
    CHECK_EQ_INT(http_request(s.port, "GET", "/api/drives", "Authorization: Bearer fromflag\r\n", NULL, 0, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(strstr(r.body, other));
    CHECK(!strstr(r.body, g_root));
    http_resp_free(&r);
    CHECK_EQ_INT(kadr_server_stop(&s), 0);
    unsetenv("KADR_TOKEN");
}

TEST(bad_settings_are_usage_errors) {
    make_dirs("badcfg");
    char conf[700];
    snprintf(conf, sizeof conf, "%s/badcfg/bad.conf", test_tmpdir());
    write_file(conf, "colour = blue\n", 14);
    setenv("KADR_HOME", g_data, 1);
    const char *a1[] = {"serve", "--config", conf, NULL};
    CHECK_EQ_INT(kadr_run(a1, out, sizeof out, err, sizeof err), 2);
    CHECK(strstr(err, "unknown setting 'colour'"));
    const char *a2[] = {"serve", "--config", "/nonexistent/kadr.conf", NULL};
    CHECK_EQ_INT(kadr_run(a2, out, sizeof out, err, sizeof err), 1);
    const char *a3[] = {"serve", "--max-per-client", "-3", NULL};
    CHECK_EQ_INT(kadr_run(a3, out, sizeof out, err, sizeof err), 2);
    CHECK(strstr(err, "--max-per-client"));
    setenv("KADR_THREADS", "lots", 1);
    const char *a4[] = {"serve", NULL};
    CHECK_EQ_INT(kadr_run(a4, out, sizeof out, err, sizeof err), 2);
    CHECK(strstr(err, "--threads"));
    unsetenv("KADR_THREADS");
}

int main(int argc, char **argv) { return test_main(argc, argv); }

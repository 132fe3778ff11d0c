/* Server-wide behaviour: the OpenAPI document matches the route table,
 * docs and static files (MIME, ETag, 304, no traversal), bearer token,
 * CORS, the per-client concurrency limit (429) and /metrics. */
#include "api_int.h"
#include "helpers.h"

#include <pthread.h>

TEST(openapi_matches_route_table) {
    make_dirs("openapi");
    api_config cfg = {0};
    api_server *srv = start_server(&cfg);
    http_resp r;
    CHECK_EQ_INT(get(srv, "/openapi.json", &r), 0);
    CHECK_EQ_INT(r.status, 200);
    json_t *doc = json_loads(r.body, 0, NULL);
    http_resp_free(&r);
    CHECK(doc);
    CHECK_EQ_STR(json_string_value(json_object_get(doc, "openapi")), "3.0.3");
    json_t *paths = json_object_get(doc, "paths");
    size_t ops = 0;
    const char *path;
    json_t *item;
    json_object_foreach(paths, path, item) ops += json_object_size(item);
    /* Every route is documented, with its parameters... */
    for (size_t i = 0; i < api__nroutes; i++) {
        const api_route *rt = &api__routes[i];
        char m[16];
        size_t k = 0;
        for (; rt->method[k]; k++) m[k] = (char)(rt->method[k] | 0x20);
        m[k] = 0;
        json_t *op = json_object_get(json_object_get(paths, rt->path), m);
        if (!op) fprintf(stderr, "missing %s %s\n", rt->method, rt->path);
        CHECK(op);
        size_t np = 0;
        for (const api_param *p = rt->params; p && p->name; p++) np++;
        CHECK_EQ_INT(json_array_size(json_object_get(op, "parameters")), np);
        CHECK(json_is_array(json_object_get(op, "security")) == (rt->public_route != 0));
    }
    /* ...and the document has nothing the table lacks. */
    CHECK_EQ_INT(ops, api__nroutes);
    CHECK(json_object_get(paths, "/api/tasks/{task_id}"));
    json_decref(doc);
    api_server_stop(srv);
}

TEST(docs_pages_and_vendor_files) {
    make_dirs("docs");
    api_config cfg = {0};
    api_server *srv = start_server(&cfg);
    http_resp r;
    CHECK_EQ_INT(get(srv, "/docs", &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(strstr(r.body, "/vendor/swagger-ui/swagger-ui-bundle.js"));
    CHECK(!strstr(r.body, "https://"));
    http_resp_free(&r);
    CHECK_EQ_INT(get(srv, "/redoc", &r), 0);
    CHECK(strstr(r.body, "/vendor/redoc/redoc.standalone.js"));
    http_resp_free(&r);
    CHECK_EQ_INT(get(srv, "/vendor/nope/x.js", &r), 0);
    CHECK_EQ_INT(r.status, 404);
    http_resp_free(&r);
    CHECK_EQ_INT(get(srv, "/vendor/swagger-ui/..%2f..%2fpackage.json", &r), 0);
    CHECK(r.status == 404 || r.status == 403);
    http_resp_free(&r);
    CHECK_EQ_INT(get(srv, "/vendor/swagger-ui/swagger-ui-bundle.js", &r), 0);
    if (r.status == 404) {
        http_resp_free(&r);
        api_server_stop(srv);
        test_skip("swagger-ui-dist not installed (scripts/setup.sh test)");
        return;
    }
    CHECK_EQ_INT(r.status, 200);
    CHECK(strstr(r.headers, "text/javascript"));
    CHECK(r.body_len > 100000);
    http_resp_free(&r);
    CHECK_EQ_INT(get(srv, "/vendor/redoc/redoc.standalone.js", &r), 0);
    CHECK_EQ_INT(r.status, 200);
    http_resp_free(&r);
    api_server_stop(srv);
}

static char *header_value(const char *headers, const char *name, char *out, size_t cap) {
    const char *h = strcasestr(headers, name);
    if (!h) return NULL;
    h += strlen(name);
    while (*h == ':' || *h == ' ') h++;
    size_t n = strcspn(h, "\r\n");
    snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), h);
    return out;
}

TEST(static_files) {
    make_dirs("static");
    char web[700];
    snprintf(web, sizeof web, "%s/static/web", test_tmpdir());
    ut_mkdirs(pathf("%s/js", web));
    write_file(pathf("%s/index.html", web), "<h1>kadr</h1>", 13);
    write_file(pathf("%s/js/app.mjs", web), "export{}", 8);
    write_file(pathf("%s/style.css", web), "a{}", 3);
    write_file(pathf("%s/.env", web), "SECRET", 6);
    write_file(pathf("%s/../secret.txt", web), "SECRET", 6);
    symlink("/etc/passwd", pathf("%s/passwd.txt", web));
    api_config cfg = {.web_dir = web, .token = "tok"};
    api_server *srv = start_server(&cfg);
    http_resp r;
    CHECK_EQ_INT(get(srv, "/", &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(r.body, "<h1>kadr</h1>");
    CHECK(strstr(r.headers, "text/html"));
    char etag[128], lm[128];
    CHECK(header_value(r.headers, "ETag", etag, sizeof etag));
    CHECK(header_value(r.headers, "Last-Modified", lm, sizeof lm));
    http_resp_free(&r);
    char hdr[400];
    snprintf(hdr, sizeof hdr, "If-None-Match: %s\r\n", etag);
    CHECK_EQ_INT(http_request(api_server_port(srv), "GET", "/index.html", hdr, NULL, 0, &r), 0);
    CHECK_EQ_INT(r.status, 304);
    http_resp_free(&r);
    snprintf(hdr, sizeof hdr, "If-Modified-Since: %s\r\n", lm);
    CHECK_EQ_INT(http_request(api_server_port(srv), "GET", "/index.html", hdr, NULL, 0, &r), 0);
    CHECK_EQ_INT(r.status, 304);
    http_resp_free(&r);
    CHECK_EQ_INT(get(srv, "/js/app.mjs", &r), 0);
    CHECK(strstr(r.headers, "text/javascript"));
    http_resp_free(&r);
    CHECK_EQ_INT(get(srv, "/style.css", &r), 0);
    CHECK(strstr(r.headers, "text/css"));
    http_resp_free(&r);
    const char *bad[] = {"/../secret.txt", "/%2e%2e/secret.txt", "/js/..%2f..%2fsecret.txt", "/.env",
                         "/passwd.txt", "/%2e%2e%2fsecret.txt", "/..%5csecret.txt", NULL};
    for (int i = 0; bad[i]; i++) {
        CHECK_EQ_INT(get(srv, bad[i], &r), 0);
        if (strstr(r.body, "SECRET") || strstr(r.body, "root:")) fprintf(stderr, "leak via %s\n", bad[i]);
        CHECK(!strstr(r.body, "SECRET") && !strstr(r.body, "root:"));
        CHECK(r.status == 404 || r.status == 403 || r.status == 400);
        http_resp_free(&r);
    }
    /* The UI is public even with a token; the API is not. */
    CHECK_EQ_INT(get(srv, "/api/drives", &r), 0);
    CHECK_EQ_INT(r.status, 401);
    CHECK(strstr(r.body, "\"error\":\"unauthorized\""));
    http_resp_free(&r);
    CHECK_EQ_INT(http_request(api_server_port(srv), "GET", "/api/drives", "Authorization: Bearer tok\r\n", NULL, 0, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    http_resp_free(&r);
    CHECK_EQ_INT(http_request(api_server_port(srv), "GET", "/api/drives", "Authorization: Bearer tok2\r\n", NULL, 0, &r), 0);
    CHECK_EQ_INT(r.status, 401);
    http_resp_free(&r);
    CHECK_EQ_INT(get(srv, "/metrics", &r), 0);
    CHECK_EQ_INT(r.status, 401);
    http_resp_free(&r);
    const char *open_paths[] = {"/health", "/openapi.json", "/docs", "/redoc", NULL};
    for (int i = 0; open_paths[i]; i++) {
        CHECK_EQ_INT(get(srv, open_paths[i], &r), 0);
        CHECK_EQ_INT(r.status, 200);
        http_resp_free(&r);
    }
    api_server_stop(srv);
}

TEST(cors_off_by_default_and_on_request) {
    make_dirs("cors");
    api_config cfg = {0};
    api_server *srv = start_server(&cfg);
    http_resp r;
    CHECK_EQ_INT(http_request(api_server_port(srv), "GET", "/api/drives", "Origin: http://evil.example\r\n", NULL, 0, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(!strcasestr(r.headers, "Access-Control-Allow-Origin"));
    http_resp_free(&r);
    CHECK_EQ_INT(http_request(api_server_port(srv), "OPTIONS", "/api/drives",
                              "Origin: http://evil.example\r\nAccess-Control-Request-Method: GET\r\n", NULL, 0, &r), 0);
    CHECK(r.status != 204);
    CHECK(!strcasestr(r.headers, "Access-Control-Allow-Origin"));
    http_resp_free(&r);
    api_server_stop(srv);
    api_config on = {.cors_origin = "http://ui.example"};
    srv = start_server(&on);
    CHECK_EQ_INT(http_request(api_server_port(srv), "OPTIONS", "/api/queue/add",
                              "Origin: http://ui.example\r\nAccess-Control-Request-Method: POST\r\n", NULL, 0, &r), 0);
    CHECK_EQ_INT(r.status, 204);
    CHECK(strcasestr(r.headers, "Access-Control-Allow-Origin: http://ui.example"));
    CHECK(strcasestr(r.headers, "Access-Control-Allow-Methods"));
    http_resp_free(&r);
    CHECK_EQ_INT(http_request(api_server_port(srv), "GET", "/api/tasks/zzz", "Origin: http://ui.example\r\n", NULL, 0, &r), 0);
    CHECK_EQ_INT(r.status, 404);
    CHECK(strcasestr(r.headers, "Access-Control-Allow-Origin: http://ui.example"));
    http_resp_free(&r);
    CHECK_EQ_INT(http_request(api_server_port(srv), "GET", "/api/drives", "Origin: http://other.example\r\n", NULL, 0, &r), 0);
    CHECK(!strcasestr(r.headers, "Access-Control-Allow-Origin"));
    http_resp_free(&r);
    api_server_stop(srv);
}

/* Hold N uploads open (headers sent, body pending) from 127.0.0.1, then
 * the next request from the same IP must get 429. */
TEST(per_client_limit_429) {
    make_dirs("limit");
    api_config cfg = {.max_per_client = 3};
    api_server *srv = start_server(&cfg);
    int port = api_server_port(srv);
    int fds[3];
    for (int i = 0; i < 3; i++) {
        fds[i] = connect_port(port);
        const char *head = "POST /api/upload?path=. HTTP/1.1\r\nHost: x\r\n" MULTIPART_HDR
                           "Content-Length: 100000\r\n\r\n--" BOUNDARY "\r\n";
        send_str(fds[i], head, strlen(head));
    }
    usleep(300000);
    http_resp r;
    CHECK_EQ_INT(get(srv, "/api/drives", &r), 0);
    CHECK_EQ_INT(r.status, 429);
    CHECK(strstr(r.body, "\"error\":\"too_many_requests\""));
    CHECK(strcasestr(r.headers, "Retry-After"));
    http_resp_free(&r);
    for (int i = 0; i < 3; i++) close(fds[i]);
    /* Slots come back when those requests end. */
    int ok = 0;
    for (int i = 0; i < 100 && !ok; i++) {
        CHECK_EQ_INT(get(srv, "/api/drives", &r), 0);
        ok = r.status == 200;
        http_resp_free(&r);
        if (!ok) usleep(50000);
    }
    CHECK(ok);
    api_server_stop(srv);
}

TEST(metrics_prometheus_text) {
    make_dirs("metrics");
    api_config cfg = {0};
    api_server *srv = start_server(&cfg);
    http_resp r;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(get(srv, "/health", &r), 0);
        http_resp_free(&r);
    }
    CHECK_EQ_INT(get(srv, "/api/tasks/nope", &r), 0);
    http_resp_free(&r);
    CHECK_EQ_INT(get(srv, "/metrics", &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(strstr(r.headers, "text/plain; version=0.0.4"));
    CHECK(strstr(r.body, "kadr_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 3\n"));
    CHECK(strstr(r.body, "kadr_http_requests_total{method=\"GET\",route=\"/api/tasks/{task_id}\",status=\"404\"} 1\n"));
    CHECK(strstr(r.body, "# TYPE kadr_http_request_duration_seconds histogram"));
    CHECK(strstr(r.body, "kadr_http_request_duration_seconds_bucket{le=\"+Inf\"} 4\n"));
    CHECK(strstr(r.body, "\nkadr_http_in_flight 1\n"));
    CHECK(strstr(r.body, "\nkadr_uptime_seconds "));
    const char *rss = strstr(r.body, "\nkadr_process_resident_memory_bytes ");
    CHECK(rss && atol(rss + 36) > 1000000);
    http_resp_free(&r);
    api_server_stop(srv);
}

int main(int argc, char **argv) { return test_main(argc, argv); }

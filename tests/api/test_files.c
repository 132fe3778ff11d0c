/* The original file-manager endpoints against an in-process server:
 * /api/drives, /api/folder, the queue, tasks and previews, and every way a
 * request path might try to leave the library roots. */
#include "helpers.h"

static api_server *srv;

static void setup(const char *name) {
    make_dirs(name);
    ut_mkdirs(pathf("%s/trip/day1", g_root));
    ut_mkdirs(pathf("%s/общие", g_root));
    write_file(pathf("%s/trip/a.JPG", g_root), "x", 1);
    write_file(pathf("%s/trip/b.heic", g_root), "xy", 2);
    write_file(pathf("%s/trip/notes.txt", g_root), "n", 1);
    write_file(pathf("%s/trip/.hidden.jpg", g_root), "h", 1);
    write_file(pathf("%s/trip/day1/c.png", g_root), "c", 1);
    write_file(pathf("%s/top.webp", g_root), "t", 1);
    /* Outside the root, and links that point there. */
    ut_mkdirs(pathf("%s/../secret", g_root));
    write_file(pathf("%s/../secret/s.jpg", g_root), "s", 1);
    symlink(pathf("%s/../secret", g_root), pathf("%s/escape", g_root));
    symlink("/etc/passwd", pathf("%s/trip/passwd.jpg", g_root));
    api_config cfg = {0};
    srv = start_server(&cfg);
}

TEST(drives_lists_roots) {
    setup("drives");
    CHECK(srv);
    http_resp r;
    CHECK_EQ_INT(get(srv, "/api/drives", &r), 0);
    CHECK_EQ_INT(r.status, 200);
    json_t *doc = json_loads(r.body, 0, NULL);
    CHECK(json_is_array(doc));
    CHECK_EQ_INT(json_array_size(doc), 1);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(doc, 0), "path")), g_root);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(doc, 0), "type")), "drive");
    json_decref(doc);
    http_resp_free(&r);
    api_server_stop(srv);
}

static json_t *folder(const char *q, int *status) {
    char url[2048];
    snprintf(url, sizeof url, "/api/folder?path=%s", q);
    http_resp r;
    if (get(srv, url, &r)) return NULL;
    *status = r.status;
    json_t *doc = json_loads(r.body, 0, NULL);
    http_resp_free(&r);
    return doc;
}

TEST(folder_lists_images_and_counts) {
    setup("folder");
    int st;
    char q[1024];
    snprintf(q, sizeof q, "%s/trip", g_root);
    json_t *doc = folder(q, &st);
    CHECK_EQ_INT(st, 200);
    CHECK_EQ_INT(json_integer_value(json_object_get(doc, "image_count")), 2); /* a.JPG, b.heic */
    json_t *c = json_object_get(doc, "contents");
    /* parent, day1, a.JPG, b.heic: no .txt, no hidden file, no link out */
    CHECK_EQ_INT(json_array_size(c), 4);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(c, 0), "path")), g_root);
    json_t *day1 = json_array_get(c, 1);
    CHECK(json_is_true(json_object_get(day1, "is_directory")));
    CHECK_EQ_INT(json_integer_value(json_object_get(day1, "image_count")), 1);
    CHECK(strstr(json_string_value(json_object_get(day1, "name")), "day1"));
    json_t *a = json_array_get(c, 2);
    CHECK(json_is_false(json_object_get(a, "is_directory")));
    CHECK_EQ_INT(json_integer_value(json_object_get(a, "size")), 1);
    CHECK(json_is_null(json_object_get(a, "image_count")));
    json_decref(doc);
    /* Relative paths are under the first root; the root itself has no parent entry. */
    doc = folder("trip/day1", &st);
    CHECK_EQ_INT(st, 200);
    CHECK_EQ_INT(json_integer_value(json_object_get(doc, "image_count")), 1);
    json_decref(doc);
    doc = folder(g_root, &st);
    CHECK_EQ_INT(st, 200);
    CHECK(!strstr(json_string_value(json_object_get(json_array_get(json_object_get(doc, "contents"), 0), "name")), "Назад"));
    json_decref(doc);
    doc = folder("nope", &st);
    CHECK_EQ_INT(st, 404);
    CHECK_EQ_STR(json_string_value(json_object_get(doc, "error")), "not_found");
    json_decref(doc);
    api_server_stop(srv);
}

/* Undo Transfer-Encoding: chunked in place (the test client keeps it). */
static size_t dechunk(char *body, size_t len) {
    size_t in = 0, out = 0;
    while (in < len) {
        char *end;
        unsigned long n = strtoul(body + in, &end, 16);
        char *crlf = strstr(end, "\r\n");
        if (!crlf || n == 0) break;
        in = (size_t)(crlf + 2 - body);
        memmove(body + out, body + in, n);
        out += n;
        in += n + 2;
    }
    body[out] = 0;
    return out;
}

/* A folder whose listing is over 256 KiB is streamed in chunks; the JSON
 * must come out whole, with names escaped. */
TEST(big_folder_streams_valid_json) {
    setup("bigfolder");
    ut_mkdirs(pathf("%s/big", g_root));
    for (int i = 0; i < 3000; i++) {
        char name[800];
        snprintf(name, sizeof name, "%s/big/IMG_%05d_with_a_rather_long_file_name.jpg", g_root, i);
        write_file(name, "x", 1);
    }
    write_file(pathf("%s/big/we\"ird\\name.jpg", g_root), "q", 1);
    http_resp r;
    CHECK_EQ_INT(get(srv, "/api/folder?path=big", &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(strcasestr(r.headers, "Transfer-Encoding: chunked"));
    size_t n = dechunk(r.body, r.body_len);
    json_error_t err;
    json_t *doc = json_loadb(r.body, n, 0, &err);
    if (!doc) fprintf(stderr, "bad JSON: %s at %d\n", err.text, err.position);
    CHECK(doc);
    CHECK_EQ_INT(json_integer_value(json_object_get(doc, "image_count")), 3001);
    json_t *c = json_object_get(doc, "contents");
    CHECK_EQ_INT(json_array_size(c), 3002); /* + parent */
    CHECK(strstr(json_string_value(json_object_get(json_array_get(c, 1), "path")), "/big/IMG_00000_with"));
    CHECK(strstr(json_string_value(json_object_get(json_array_get(c, 3001), "name")), "we\"ird\\name.jpg"));
    json_decref(doc);
    http_resp_free(&r);
    api_server_stop(srv);
}

/* Each of these must be refused with 403 and the one error shape. */
TEST(path_escapes_are_403) {
    setup("escape");
    char abs_out[1024], abs_dots[1024], abs_prefix[1024];
    snprintf(abs_out, sizeof abs_out, "%s/../secret", g_root);
    snprintf(abs_dots, sizeof abs_dots, "%s/trip/../../secret", g_root);
    snprintf(abs_prefix, sizeof abs_prefix, "%sx", g_root); /* /.../lib vs /.../libx */
    const char *attacks[] = {
        "..", "../secret", "trip/../../secret", "/etc", "%2Fetc", abs_out, abs_dots, abs_prefix,
        "escape", "escape/s.jpg", "%2e%2e", "%2e%2e%2fsecret", "trip%2f..%2f..%2fsecret",
        "%c0%ae%c0%ae", "%c0%ae%c0%ae%c0%afsecret", "%e0%80%ae%e0%80%ae", "trip%00/../..", "%00",
        "..%5csecret", "trip\\..\\..", "%ed%a0%80", "%ff", NULL,
    };
    for (int i = 0; attacks[i]; i++) {
        char url[2048];
        snprintf(url, sizeof url, "/api/folder?path=%s", attacks[i]);
        http_resp r;
        CHECK_EQ_INT(get(srv, url, &r), 0);
        if (r.status != 403) fprintf(stderr, "attack %s -> %d %s\n", attacks[i], r.status, r.body);
        CHECK_EQ_INT(r.status, 403);
        CHECK(strstr(r.body, "\"error\":\"forbidden\""));
        CHECK(strstr(r.body, "\"code\":403"));
        http_resp_free(&r);
        /* The same attacks on the other path-taking routes. */
        snprintf(url, sizeof url, "/api/image/preview?path=%s", attacks[i]);
        CHECK_EQ_INT(get(srv, url, &r), 0);
        CHECK_EQ_INT(r.status, 403);
        http_resp_free(&r);
        snprintf(url, sizeof url, "/api/upload?path=%s", attacks[i]);
        CHECK_EQ_INT(http_request(api_server_port(srv), "POST", url, MULTIPART_HDR, "x", 1, &r), 0);
        CHECK_EQ_INT(r.status, 403);
        http_resp_free(&r);
    }
    /* A double-encoded ".." is a harmless literal name: not found, not an escape. */
    http_resp r;
    CHECK_EQ_INT(get(srv, "/api/folder?path=%252e%252e", &r), 0);
    CHECK_EQ_INT(r.status, 404);
    http_resp_free(&r);
    CHECK_EQ_INT(get(srv, "/api/folder", &r), 0);
    CHECK_EQ_INT(r.status, 400);
    CHECK(strstr(r.body, "'path'"));
    http_resp_free(&r);
    api_server_stop(srv);
}

static int post_json(const char *url, const char *body, http_resp *r) {
    return http_request(api_server_port(srv), "POST", url, "Content-Type: application/json\r\n", body,
                        strlen(body), r);
}

TEST(queue_validates_json_and_paths) {
    setup("queue");
    struct {
        const char *body;
        int status;
        const char *needle;
    } cases[] = {
        {"{\"path\": ", 400, "malformed JSON"},
        {"[1,2]", 400, "JSON object"},
        {"", 400, "JSON object"},
        {"{}", 400, "field 'path' is required"},
        {"{\"path\": 42}", 400, "field 'path' must be a string"},
        {"{\"path\": \"../secret\"}", 403, "forbidden"},
        {"{\"path\": \"escape\"}", 403, "forbidden"},
        {"{\"path\": \"missing\"}", 404, "not_found"},
        {"{\"path\": \"общие\"}", 400, "общие"},
        {"{\"path\": \"trip\"}", 200, "добавлена"},
        {"{\"path\": \"trip\"}", 200, "уже в очереди"},
        {NULL, 0, NULL},
    };
    for (int i = 0; cases[i].body; i++) {
        http_resp r;
        CHECK_EQ_INT(post_json("/api/queue/add", cases[i].body, &r), 0);
        if (r.status != cases[i].status || !strstr(r.body, cases[i].needle))
            fprintf(stderr, "case %d: %d %s\n", i, r.status, r.body);
        CHECK_EQ_INT(r.status, cases[i].status);
        CHECK(strstr(r.body, cases[i].needle));
        if (r.status != 200) CHECK(strstr(r.body, "\"message\""));
        http_resp_free(&r);
    }
    http_resp r;
    CHECK_EQ_INT(post_json("/api/queue/add?includeExcluded=true", "{\"path\": \"общие\"}", &r), 0);
    CHECK_EQ_INT(r.status, 200);
    http_resp_free(&r);
    CHECK_EQ_INT(post_json("/api/queue/add?includeExcluded=maybe", "{\"path\": \"trip\"}", &r), 0);
    CHECK_EQ_INT(r.status, 400);
    CHECK(strstr(r.body, "includeExcluded"));
    http_resp_free(&r);
    CHECK_EQ_INT(get(srv, "/api/queue", &r), 0);
    json_t *doc = json_loads(r.body, 0, NULL);
    CHECK_EQ_INT(json_array_size(json_object_get(doc, "queue")), 2);
    CHECK(strstr(json_string_value(json_array_get(json_object_get(doc, "queue"), 0)), "/lib/trip"));
    json_decref(doc);
    http_resp_free(&r);
    CHECK_EQ_INT(http_request(api_server_port(srv), "DELETE", "/api/queue", NULL, NULL, 0, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    http_resp_free(&r);
    CHECK_EQ_INT(get(srv, "/api/queue", &r), 0);
    CHECK(strstr(r.body, "\"queue\":[]"));
    http_resp_free(&r);
    /* An empty queue cannot be processed. */
    CHECK_EQ_INT(post_json("/api/process", "", &r), 0);
    CHECK_EQ_INT(r.status, 400);
    http_resp_free(&r);
    api_server_stop(srv);
}

TEST(tasks_and_preview) {
    setup("tasks");
    http_resp r;
    CHECK_EQ_INT(get(srv, "/api/tasks", &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(strstr(r.body, "\"tasks\":[]"));
    http_resp_free(&r);
    CHECK_EQ_INT(get(srv, "/api/tasks/0b7c1d2e-no-such-task", &r), 0);
    CHECK_EQ_INT(r.status, 404);
    CHECK(strstr(r.body, "\"code\":404"));
    http_resp_free(&r);
    CHECK_EQ_INT(get(srv, "/api/image/preview?path=trip/notes.txt", &r), 0);
    CHECK_EQ_INT(r.status, 404);
    http_resp_free(&r);
    CHECK_EQ_INT(get(srv, "/api/image/preview?path=trip/a.JPG&size=huge", &r), 0);
    CHECK_EQ_INT(r.status, 400);
    CHECK(strstr(r.body, "'size'"));
    http_resp_free(&r);
    /* The symlink to /etc/passwd named like an image is refused, not read. */
    CHECK_EQ_INT(get(srv, "/api/image/preview?path=trip/passwd.jpg", &r), 0);
    CHECK_EQ_INT(r.status, 403);
    http_resp_free(&r);
    api_server_stop(srv);
}

int main(int argc, char **argv) { return test_main(argc, argv); }

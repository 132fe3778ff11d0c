/* POST /api/upload: streamed multipart uploads, no overwriting, the size
 * limit (declared and while streaming), and ZIP extraction that refuses
 * unsafe archives without writing anything. ZIPs are made here with
 * libarchive so each hostile entry is exactly what the test says. */
#include "helpers.h"

#include <archive.h>
#include <archive_entry.h>

static api_server *srv;

static void setup(const char *name, int64_t max_upload) {
    make_dirs(name);
    ut_mkdirs(pathf("%s/in", g_root));
    api_config cfg = {.max_upload_bytes = max_upload, .zip_max_entries = 50, .zip_max_bytes = 4 << 20,
                      .zip_max_ratio = 100};
    srv = start_server(&cfg);
}

static int upload(const char *dir, body_t *b, http_resp *r) {
    char url[1024];
    snprintf(url, sizeof url, "/api/upload?path=%s", dir);
    return http_request(api_server_port(srv), "POST", url, MULTIPART_HDR, b->data, b->len, r);
}

typedef struct {
    const char *name;
    int type;           /* AE_IFREG, AE_IFLNK, AE_IFCHR, ... */
    const char *link;   /* symlink target or hardlink source */
    size_t size;        /* bytes of filler */
    char fill;
} zentry;

/* Build a ZIP in memory from entries (name NULL ends the list). */
static body_t make_zip(const zentry *e) {
    static char buf[8 << 20];
    size_t used = 0;
    struct archive *a = archive_write_new();
    archive_write_set_format_zip(a);
    archive_write_open_memory(a, buf, sizeof buf, &used);
    for (; e->name; e++) {
        struct archive_entry *ae = archive_entry_new();
        archive_entry_set_pathname(ae, e->name);
        archive_entry_set_filetype(ae, (unsigned)e->type);
        archive_entry_set_perm(ae, 0644);
        if (e->type == AE_IFLNK) archive_entry_set_symlink(ae, e->link);
        else if (e->link) archive_entry_set_hardlink(ae, e->link);
        archive_entry_set_size(ae, e->type == AE_IFREG && !e->link ? (la_int64_t)e->size : 0);
        archive_write_header(a, ae);
        if (e->type == AE_IFREG && !e->link && e->size) {
            char *data = malloc(e->size);
            uint32_t x = 2463534242u; /* 'R': incompressible bytes */
            for (size_t i = 0; i < e->size; i++)
                data[i] = e->fill == 'R' ? (char)((x ^= x << 13, x ^= x >> 17, x ^= x << 5) >> 24) : e->fill;
            archive_write_data(a, data, e->size);
            free(data);
        }
        archive_entry_free(ae);
    }
    archive_write_close(a);
    archive_write_free(a);
    for (size_t i = 0; i + 46 + 7 <= used; i++)
        if (!memcmp(buf + i, "PK\1\2", 4) && !memcmp(buf + i + 46, "dev.jpg", 7)) {
            unsigned mode = 0020644; /* S_IFCHR | 0644 in the high half of the external attributes */
            buf[i + 40] = (char)(mode & 0xff);
            buf[i + 41] = (char)(mode >> 8);
        }
    body_t z = {0};
    body_add(&z, buf, used);
    return z;
}

TEST(upload_images_without_overwriting) {
    setup("images", 0);
    write_file(pathf("%s/in/cat.jpg", g_root), "old", 3);
    body_t b = {0};
    multipart_file(&b, "cat.jpg", "new1", 4);
    multipart_file(&b, "cat.jpg", "new2", 4);
    multipart_file(&b, "C:\\Users\\me\\dog.PNG", "dog", 3);
    multipart_file(&b, "../../evil.jpg", "evil", 4);
    multipart_file(&b, "script.sh", "#!", 2);
    multipart_file(&b, ".hidden.jpg", "h", 1);
    multipart_end(&b);
    http_resp r;
    CHECK_EQ_INT(upload("in", &b, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    json_t *doc = json_loads(r.body, 0, NULL);
    json_t *res = json_object_get(doc, "results");
    CHECK_EQ_INT(json_array_size(res), 6);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(res, 0), "saved_as")), "cat (2).jpg");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(res, 1), "saved_as")), "cat (3).jpg");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(res, 2), "saved_as")), "dog.PNG");
    /* Client directories are dropped: the file lands in the target folder. */
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(res, 3), "saved_as")), "evil.jpg");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(res, 4), "status")), "error");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(res, 5), "status")), "error");
    json_decref(doc);
    http_resp_free(&r);
    FILE *f = fopen(pathf("%s/in/cat.jpg", g_root), "r");
    char got[8] = "";
    CHECK(f && fread(got, 1, 3, f) == 3);
    fclose(f);
    CHECK(memcmp(got, "old", 3) == 0);
    CHECK(test_exists(pathf("%s/in/evil.jpg", g_root)));
    CHECK(!test_exists(pathf("%s/../evil.jpg", g_root)));
    CHECK(!test_exists(pathf("%s/in/script.sh", g_root)));
    CHECK_EQ_INT(count_files(pathf("%s/in", g_root)), 5); /* no temp files left */
    free(b.data);
    /* Not multipart, and a missing folder. */
    CHECK_EQ_INT(http_request(api_server_port(srv), "POST", "/api/upload?path=in", "Content-Type: text/plain\r\n", "x", 1, &r), 0);
    CHECK_EQ_INT(r.status, 400);
    http_resp_free(&r);
    body_t e = {0};
    multipart_file(&e, "a.jpg", "a", 1);
    multipart_end(&e);
    CHECK_EQ_INT(upload("nowhere", &e, &r), 0);
    CHECK_EQ_INT(r.status, 404);
    http_resp_free(&r);
    free(e.data);
    api_server_stop(srv);
}

/* A 3 MiB file streams through (it is never held whole in memory: the
 * server's chunks are at most CivetWeb's buffer). */
TEST(upload_large_file_streams) {
    setup("large", 0);
    size_t n = 3 << 20;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++) big[i] = (char)(i * 7);
    body_t b = {0};
    multipart_file(&b, "big.tif", big, n);
    multipart_end(&b);
    http_resp r;
    CHECK_EQ_INT(upload("in", &b, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    http_resp_free(&r);
    struct stat st;
    CHECK(stat(pathf("%s/in/big.tif", g_root), &st) == 0);
    CHECK_EQ_INT(st.st_size, (long long)n);
    FILE *f = fopen(pathf("%s/in/big.tif", g_root), "rb");
    char *back = malloc(n);
    CHECK(fread(back, 1, n, f) == n);
    fclose(f);
    CHECK(memcmp(back, big, n) == 0);
    free(back);
    free(big);
    free(b.data);
    api_server_stop(srv);
}

TEST(upload_over_limit_is_413_and_stores_nothing) {
    setup("limit", 100 * 1024);
    char *data = calloc(1, 200 * 1024);
    body_t b = {0};
    multipart_file(&b, "small.jpg", "s", 1);
    multipart_file(&b, "big.jpg", data, 200 * 1024);
    multipart_end(&b);
    http_resp r;
    /* Declared too large: refused before the body is read. */
    CHECK_EQ_INT(upload("in", &b, &r), 0);
    CHECK_EQ_INT(r.status, 413);
    CHECK(strstr(r.body, "\"error\":\"too_large\""));
    http_resp_free(&r);
    CHECK_EQ_INT(count_files(pathf("%s/in", g_root)), 0);
    /* Chunked (no Content-Length): counted while streaming. */
    int fd = connect_port(api_server_port(srv));
    CHECK(fd >= 0);
    const char *head = "POST /api/upload?path=in HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                       MULTIPART_HDR "Transfer-Encoding: chunked\r\n\r\n";
    send_str(fd, head, strlen(head));
    for (size_t off = 0; off < b.len;) {
        size_t n = b.len - off < 8192 ? b.len - off : 8192;
        char sz[32];
        int k = snprintf(sz, sizeof sz, "%zx\r\n", n);
        if (send_str(fd, sz, (size_t)k) || send_str(fd, b.data + off, n) || send_str(fd, "\r\n", 2)) break;
        off += n;
    }
    send_str(fd, "0\r\n\r\n", 5);
    char resp[4096] = "";
    size_t got = 0;
    ssize_t k;
    while (got + 1 < sizeof resp && (k = recv(fd, resp + got, sizeof resp - got - 1, 0)) > 0) got += (size_t)k;
    resp[got] = 0;
    close(fd);
    CHECK(strstr(resp, " 413 "));
    CHECK_EQ_INT(count_files(pathf("%s/in", g_root)), 0);
    free(b.data);
    free(data);
    api_server_stop(srv);
}

static json_t *upload_zip(const char *name, const zentry *entries, int *status) {
    body_t z = make_zip(entries), b = {0};
    multipart_file(&b, name, z.data, z.len);
    multipart_end(&b);
    http_resp r;
    json_t *doc = NULL;
    if (upload("in", &b, &r) == 0) {
        *status = r.status;
        doc = json_loads(r.body, 0, NULL);
        http_resp_free(&r);
    }
    free(z.data);
    free(b.data);
    return doc;
}

static const char *zip_status(json_t *doc) {
    return json_string_value(json_object_get(json_array_get(json_object_get(doc, "results"), 0), "status"));
}

TEST(zip_extracts_images) {
    setup("zipok", 0);
    write_file(pathf("%s/in/a.jpg", g_root), "old", 3);
    zentry good[] = {
        {"a.jpg", AE_IFREG, NULL, 10, 'a'},
        {"people/b.png", AE_IFREG, NULL, 10, 'b'},
        {"people/", AE_IFDIR, NULL, 0, 0},
        {"readme.txt", AE_IFREG, NULL, 5, 'r'},
        {"__MACOSX/._a.jpg", AE_IFREG, NULL, 5, 'm'},
        {NULL, 0, NULL, 0, 0},
    };
    int st = 0;
    json_t *doc = upload_zip("photos.ZIP", good, &st);
    CHECK_EQ_INT(st, 200);
    CHECK_EQ_STR(zip_status(doc), "extracted");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(json_object_get(doc, "results"), 0), "files")), 2);
    json_decref(doc);
    CHECK(test_exists(pathf("%s/in/a (2).jpg", g_root)));
    CHECK(test_exists(pathf("%s/in/people/b.png", g_root)));
    CHECK(!test_exists(pathf("%s/in/readme.txt", g_root)));
    CHECK(!test_exists(pathf("%s/in/__MACOSX", g_root)));
    CHECK_EQ_INT(count_files(pathf("%s/in", g_root)), 3);
    /* Same archive again: the folder gets a new name, nothing is replaced. */
    doc = upload_zip("photos.zip", good, &st);
    CHECK_EQ_STR(zip_status(doc), "extracted");
    json_decref(doc);
    CHECK(test_exists(pathf("%s/in/people (2)/b.png", g_root)));
    CHECK(test_exists(pathf("%s/in/a (3).jpg", g_root)));
    api_server_stop(srv);
}

/* Each hostile archive holds a good image first: it must not be written.
 * (ZIP cannot express hardlinks; zip.c refuses them all the same.) */
TEST(zip_rejects_unsafe_archives) {
    setup("zipbad", 0);
    static zentry dotdot[] = {{"ok.jpg", AE_IFREG, NULL, 4, 'x'}, {"../../evil.jpg", AE_IFREG, NULL, 4, 'e'}, {0}};
    static zentry inner[] = {{"ok.jpg", AE_IFREG, NULL, 4, 'x'}, {"a/../../evil.jpg", AE_IFREG, NULL, 4, 'e'}, {0}};
    static zentry absolute[] = {{"ok.jpg", AE_IFREG, NULL, 4, 'x'}, {"/tmp/evil.jpg", AE_IFREG, NULL, 4, 'e'}, {0}};
    static zentry symlink_e[] = {{"ok.jpg", AE_IFREG, NULL, 4, 'x'}, {"link.jpg", AE_IFLNK, "/etc/passwd", 0, 0}, {0}};
    /* libarchive will not write a device into a ZIP; make_zip patches the
     * Unix mode of "dev.jpg" in the central directory to a char device. */
    static zentry device[] = {{"ok.jpg", AE_IFREG, NULL, 4, 'x'}, {"dev.jpg", AE_IFREG, NULL, 1, 'd'}, {0}};
    static zentry backslash[] = {{"ok.jpg", AE_IFREG, NULL, 4, 'x'}, {"..\\evil.jpg", AE_IFREG, NULL, 4, 'e'}, {0}};
    static zentry bomb[] = {{"ok.jpg", AE_IFREG, NULL, 4, 'x'}, {"zeros.jpg", AE_IFREG, NULL, 3 << 20, 0}, {0}};
    static zentry huge[] = {{"ok.jpg", AE_IFREG, NULL, 4, 'x'}, {"a.jpg", AE_IFREG, NULL, 3 << 20, 'R'},
                            {"b.jpg", AE_IFREG, NULL, 3 << 20, 'R'}, {0}};
    static zentry many[60];
    static char names[60][16];
    for (int i = 0; i < 55; i++) {
        snprintf(names[i], sizeof names[i], "m%d.jpg", i);
        many[i] = (zentry){names[i], AE_IFREG, NULL, 1, 'm'};
    }
    struct {
        const char *what;
        zentry *e;
        const char *needle;
    } cases[] = {
        {"dotdot", dotdot, ".."}, {"inner dotdot", inner, ".."}, {"absolute", absolute, "absolute"},
        {"symlink", symlink_e, "link"}, {"device", device, "device"},
        {"backslash dotdot", backslash, ".."}, {"ratio bomb", bomb, "ratio"}, {"total size", huge, "expands"},
        {"entry count", many, "entries"}, {NULL, NULL, NULL},
    };
    for (int i = 0; cases[i].what; i++) {
        int st = 0;
        json_t *doc = upload_zip("x.zip", cases[i].e, &st);
        CHECK_EQ_INT(st, 200);
        const char *err = json_string_value(json_object_get(json_array_get(json_object_get(doc, "results"), 0), "error"));
        if (!err || !strstr(err, cases[i].needle)) fprintf(stderr, "%s: %s\n", cases[i].what, err ? err : "(none)");
        CHECK_EQ_STR(zip_status(doc), "error");
        CHECK(err && strstr(err, cases[i].needle));
        json_decref(doc);
        /* Nothing written: not the good image, not a temp dir, nothing outside. */
        CHECK_EQ_INT(count_files(pathf("%s/in", g_root)), 0);
        CHECK(!test_exists(pathf("%s/evil.jpg", g_root)));
        CHECK(!test_exists("/tmp/evil.jpg"));
    }
    /* Not a ZIP at all. */
    body_t b = {0};
    multipart_file(&b, "fake.zip", "not a zip at all", 16);
    multipart_end(&b);
    http_resp r;
    CHECK_EQ_INT(upload("in", &b, &r), 0);
    CHECK(strstr(r.body, "\"status\":\"error\""));
    http_resp_free(&r);
    free(b.data);
    CHECK_EQ_INT(count_files(pathf("%s/in", g_root)), 0);
    api_server_stop(srv);
}

int main(int argc, char **argv) { return test_main(argc, argv); }

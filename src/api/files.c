/* files.c -- the original file manager: GET /api/drives, GET /api/folder.
 *
 * Shapes follow the original FastAPI service (docs/compat.md): drives are
 * [{path, name, type}], a folder is {path, contents: [FolderInfo],
 * image_count} with FolderInfo {path, name, is_directory, size,
 * image_count}, names prefixed with the original's icons. Only the library
 * roots are "drives"; special folders are the usual home folders that lie
 * inside a root, so nothing outside the roots is ever listed. */
#include "api_int.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    const char *dir, *name;
} special_dirs[] = {
    {"Desktop", "💼 Рабочий стол"},
    {"Documents", "📄 Документы"},
    {"Downloads", "📥 Загрузки"},
    {"Pictures", "🖼 Изображения"},
};

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int api__drives(api_req *req) {
    const api_server *srv = req->srv;
    json_t *arr = json_array();
    for (int i = 0; i < srv->nroots; i++) {
        char *name = ut_asprintf("📍 %s", srv->roots[i]);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "path", srv->roots[i], "name",
                                             name ? name : srv->roots[i], "type", "drive"));
        ut_free(name);
    }
    const char *home = getenv("HOME");
    for (size_t k = 0; home && k < sizeof special_dirs / sizeof special_dirs[0]; k++) {
        char *p = ut_asprintf("%s/%s", home, special_dirs[k].dir), *norm = NULL;
        if (p && ut_path_normalize(p, &norm) == UT_OK && is_dir(norm)) {
            api_path ap;
            if (api__path_resolve(srv, norm, &ap) == UT_OK) {
                json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "path", ap.display, "name",
                                                     special_dirs[k].name, "type", "special"));
                api__path_free(&ap);
            }
        }
        ut_free(p);
        ut_free(norm);
    }
    return api__reply_json(req, 200, arr);
}

/* Images directly inside dir (by extension; not recursive). */
static int count_images_fd(int dfd) {
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return 0;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !api__is_image_name(e->d_name)) continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, 0) == 0 && S_ISREG(st.st_mode)) n++;
    }
    closedir(d);
    return n;
}

/* Names live in one arena (names.data + name_off): a 10,000-entry folder
 * costs one growing buffer instead of 10,000 small allocations. */
typedef struct {
    size_t name_off;
    int dir;
    int64_t size;
    int images;
} entry;

static int cmp_entry(const void *a, const void *b, void *names) {
    const entry *x = a, *y = b;
    if (x->dir != y->dir) return y->dir - x->dir;
    const char *nx = (const char *)names + x->name_off, *ny = (const char *)names + y->name_off;
    int c = strcasecmp(nx, ny);
    return c ? c : strcmp(nx, ny);
}

/* Read the folder's subfolders and images. Hidden entries (".x") are left
 * out: they include kadr's own temp files. Symlinks are listed only if
 * they stay inside the folder (stricter than the roots, and cheap). */
static int read_folder(const api_server *srv, const char *real, entry **out, size_t *count, int *images,
                       ut_buf *names) {
    DIR *d = opendir(real);
    if (!d) return ut_fail(ut_from_errno(errno), "cannot open folder: %s", strerror(errno));
    entry *v = NULL;
    size_t n = 0, cap = 0;
    *images = 0;
    struct dirent *e;
    int rc = UT_OK;
    while ((e = readdir(d)) && !rc) {
        if (e->d_name[0] == '.') continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, 0) != 0) continue;
        if (e->d_type == DT_LNK || (e->d_type == DT_UNKNOWN && fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))) {
            char *rp = NULL;
            int inside = ut_path_resolve(real, e->d_name, &rp) == UT_OK;
            ut_free(rp);
            if (!inside) continue;
            if (fstatat(dirfd(d), e->d_name, &st, 0) != 0) continue;
        }
        int dir = S_ISDIR(st.st_mode);
        if (!dir && !(S_ISREG(st.st_mode) && api__is_image_name(e->d_name))) continue;
        if (n == cap) {
            entry *nv = ut_realloc(v, (cap = cap ? cap * 2 : 64) * sizeof *v);
            if (!nv) { rc = UT_ENOMEM; break; }
            v = nv;
        }
        v[n] = (entry){.name_off = names->len, .dir = dir, .size = st.st_size};
        if (ut_buf_append(names, e->d_name, strlen(e->d_name) + 1)) { rc = UT_ENOMEM; break; }
        if (dir) {
            int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            v[n].images = sub >= 0 ? count_images_fd(sub) : 0;
        } else {
            (*images)++;
        }
        n++;
    }
    closedir(d);
    if (rc) {
        ut_free(v);
        return ut_fail(rc, "out of memory listing a folder");
    }
    qsort_r(v, n, sizeof *v, cmp_entry, names->data);
    *out = v;
    *count = n;
    return UT_OK;
}

/* The folder listing is streamed: a 10,000-photo folder is ~1.2 MB of
 * JSON, and building it as a jansson tree per request cost ~10x the
 * time and, under 64 concurrent requests, hundreds of MB of RSS. The
 * writer below emits the same shape as text; up to 256 KiB it is sent
 * whole with a Content-Length, beyond that in 64 KiB chunks
 * (Transfer-Encoding: chunked), so memory per request is the entry list
 * plus at most 256 KiB. */
typedef struct {
    api_req *req;
    ut_buf b;
    int failed, head;
    int chunked; /* headers sent, body going out in chunks */
} jstream;

#define JS_CHUNK (64 * 1024)
#define JS_WHOLE (256 * 1024) /* smaller responses go out whole, with Content-Length */

static void js_start_chunked(jstream *s) {
    mg_response_header_start(s->req->conn, 200);
    mg_response_header_add(s->req->conn, "Content-Type", "application/json; charset=utf-8", -1);
    mg_response_header_add(s->req->conn, "Cache-Control", "no-store", -1);
    mg_response_header_add(s->req->conn, "Transfer-Encoding", "chunked", -1);
    api__common_headers(s->req);
    mg_response_header_send(s->req->conn);
    s->chunked = 1;
}

/* Called after each entry: once the response outgrows JS_WHOLE it is
 * streamed in JS_CHUNK pieces. */
static void js_flush(jstream *s) {
    if (!s->chunked && s->b.len < JS_WHOLE) return;
    if (s->b.len < JS_CHUNK) return;
    if (!s->chunked) js_start_chunked(s);
    if (!s->failed && !s->head && mg_send_chunk(s->req->conn, s->b.data, (unsigned)s->b.len) < 0) s->failed = 1;
    ut_buf_reset(&s->b);
}

static void js_finish(jstream *s) {
    if (!s->chunked && s->failed) {
        api__reply_error(s->req, 500, "internal", "out of memory listing a folder");
        return;
    }
    if (!s->chunked) {
        api__reply_bytes(s->req, 200, "application/json; charset=utf-8", s->b.data ? s->b.data : "", s->b.len);
        return;
    }
    if (!s->failed && !s->head && s->b.len) mg_send_chunk(s->req->conn, s->b.data, (unsigned)s->b.len);
    if (!s->failed && !s->head) mg_send_chunk(s->req->conn, "", 0);
}

static void js_raw(jstream *s, const char *text) {
    if (ut_buf_puts(&s->b, text)) s->failed = 1;
}

/* Space was reserved by the caller (6 bytes per input byte at most). */
static void js_escape(ut_buf *b, const char *text) {
    const unsigned char *p = (const unsigned char *)text;
    char *o = b->data + b->len;
    for (; *p; p++) {
        if (*p == '"' || *p == '\\') {
            *o++ = '\\';
            *o++ = (char)*p;
        } else if (*p < 0x20) {
            o += sprintf(o, "\\u%04x", *p);
        } else {
            *o++ = (char)*p;
        }
    }
    *o = 0;
    b->len = (size_t)(o - b->data);
}

/* pre + a JSON string of the concatenation a b c (b, c may be NULL); the
 * caller has checked that the parts are UTF-8. */
static void js_str3(jstream *s, const char *pre, const char *a, const char *b, const char *c) {
    size_t n = strlen(a) + (b ? strlen(b) : 0) + (c ? strlen(c) : 0);
    if (ut_buf_reserve(&s->b, strlen(pre) + n * 6 + 4)) {
        s->failed = 1;
        return;
    }
    ut_buf_puts(&s->b, pre);
    ut_buf_puts(&s->b, "\"");
    js_escape(&s->b, a);
    if (b) js_escape(&s->b, b);
    if (c) js_escape(&s->b, c);
    ut_buf_puts(&s->b, "\"");
}

static void js_entry(jstream *s, const char *dir, const char *name, const char *label, int is_dir, int64_t size,
                     int images) {
    js_str3(s, "{\"path\":", dir, name ? (strcmp(dir, "/") == 0 ? "" : "/") : NULL, name);
    js_str3(s, ",\"name\":", label, NULL, NULL);
    ut_buf_printf(&s->b, ",\"is_directory\":%s", is_dir ? "true" : "false");
    if (size >= 0) ut_buf_printf(&s->b, ",\"size\":%lld", (long long)size);
    else js_raw(s, ",\"size\":null");
    if (images >= 0) ut_buf_printf(&s->b, ",\"image_count\":%d}", images);
    else js_raw(s, ",\"image_count\":null}");
    js_flush(s);
}

/* The parent entry ("⬅️ Назад") is offered only while it stays inside the
 * root the folder belongs to. Returns 1 if written. */
static int add_parent(jstream *s, const api_server *srv, const api_path *ap) {
    if (strcmp(ap->display, srv->roots[ap->root]) == 0) return 0;
    char *parent = ut_strdup(ap->display);
    if (!parent) return 0;
    char *slash = strrchr(parent, '/');
    if (slash == parent) slash[1] = 0;
    else if (slash) *slash = 0;
    js_entry(s, parent, NULL, "⬅️ Назад", 1, -1, -1);
    ut_free(parent);
    return 1;
}

int api__folder(api_req *req) {
    api_path ap;
    int status = api__query_path(req, &ap);
    if (status) return status;
    if (!is_dir(ap.real)) {
        api__path_free(&ap);
        return api__reply_error(req, 404, "not_found", "folder not found");
    }
    entry *v = NULL;
    size_t n = 0;
    int images = 0;
    ut_buf names = {0};
    int rc = read_folder(req->srv, ap.real, &v, &n, &images, &names);
    if (rc) {
        ut_buf_free(&names);
        api__path_free(&ap);
        return api__reply_path_error(req, rc, "");
    }
    jstream s = {.req = req, .head = strcmp(req->info->request_method, "HEAD") == 0};
    js_str3(&s, "{\"path\":", ap.display, NULL, NULL);
    js_raw(&s, ",\"contents\":[");
    int first = !add_parent(&s, req->srv, &ap);
    char label[300];
    for (size_t i = 0; i < n; i++) {
        /* Names that are not UTF-8 cannot go into JSON; they are skipped. */
        const char *name = names.data + v[i].name_off;
        if (!api__utf8_valid(name, strlen(name))) continue;
        snprintf(label, sizeof label, "%s %s", v[i].dir ? "📂" : "🖼", name);
        if (!first) js_raw(&s, ",");
        first = 0;
        js_entry(&s, ap.display, name, label, v[i].dir, v[i].dir ? -1 : v[i].size, v[i].dir ? v[i].images : -1);
    }
    ut_free(v);
    ut_buf_free(&names);
    ut_buf_printf(&s.b, "],\"image_count\":%d}", images);
    js_finish(&s);
    ut_buf_free(&s.b);
    api__path_free(&ap);
    return 200;
}

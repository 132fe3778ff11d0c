/* static.c -- files from disk: the web UI (web/) at "/" and the vendored
 * documentation bundles at /vendor/{swagger-ui,redoc}/FILE.
 *
 * Every request path is resolved with ut_path_resolve() under its base
 * directory (no "..", no symlink out, no hidden files), then sent by
 * CivetWeb, which adds ETag and Last-Modified and answers conditional
 * requests with 304. MIME types come from our own table first because
 * CivetWeb's defaults predate ES modules and WebAssembly. */
#include "api_int.h"
#include "util.h"

#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

static const struct {
    const char *ext, *type;
} mime_types[] = {
    {"html", "text/html; charset=utf-8"}, {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"}, {"css", "text/css; charset=utf-8"},
    {"json", "application/json"}, {"map", "application/json"}, {"svg", "image/svg+xml"},
    {"png", "image/png"}, {"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"}, {"ico", "image/x-icon"},
    {"webp", "image/webp"}, {"woff", "font/woff"}, {"woff2", "font/woff2"}, {"wasm", "application/wasm"},
    {"txt", "text/plain; charset=utf-8"}, {"webmanifest", "application/manifest+json"},
};

static const char *mime_of(const char *path) {
    const char *dot = strrchr(path, '.');
    if (dot)
        for (size_t i = 0; i < sizeof mime_types / sizeof mime_types[0]; i++)
            if (strcasecmp(dot + 1, mime_types[i].ext) == 0) return mime_types[i].type;
    return mg_get_builtin_mime_type(path);
}

static int has_hidden_segment(const char *rel) {
    for (const char *p = rel; *p;) {
        if (*p == '.') return 1;
        p += strcspn(p, "/");
        while (*p == '/') p++;
    }
    return 0;
}

/* The validator CivetWeb sends: "mtime(hex).size(decimal)". */
static int not_modified(api_req *req, const struct stat *st) {
    char etag[64];
    snprintf(etag, sizeof etag, "\"%lx.%lld\"", (unsigned long)st->st_mtime, (long long)st->st_size);
    const char *inm = mg_get_header(req->conn, "If-None-Match");
    if (inm) return strstr(inm, etag) != NULL;
    const char *ims = mg_get_header(req->conn, "If-Modified-Since");
    struct tm tm = {0};
    if (ims && strptime(ims, "%a, %d %b %Y %H:%M:%S GMT", &tm)) return timegm(&tm) >= st->st_mtime;
    return 0;
}

/* Send base/rel; 0 if there is no such file (the caller answers 404). */
static int send_file(api_req *req, const char *base, const char *rel) {
    if (!base || has_hidden_segment(rel)) return 0;
    char *path = NULL;
    if (ut_path_resolve(base, rel, &path)) return 0;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        char *index = ut_asprintf("%s/index.html", path);
        ut_free(path);
        path = index;
        if (!path || stat(path, &st) != 0) {
            ut_free(path);
            return 0;
        }
    } else if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        ut_free(path);
        return 0;
    }
    int status = not_modified(req, &st) ? 304 : 200;
    char extra[256] = "";
    if (req->cors) snprintf(extra, sizeof extra, "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n", req->cors);
    mg_send_mime_file2(req->conn, path, mime_of(path), extra[0] ? extra : NULL);
    ut_free(path);
    return status;
}

int api__vendor(api_req *req) {
    const char *pkg = req->params[0], *sub;
    if (!strcmp(pkg, "swagger-ui")) sub = "swagger-ui-dist";
    else if (!strcmp(pkg, "redoc")) sub = "redoc/bundles";
    else return api__reply_error(req, 404, "not_found", "no vendored package '%s'", pkg);
    char *base = ut_asprintf("%s/%s", req->srv->vendor_dir, sub);
    int status = base ? send_file(req, base, req->params[1]) : 0;
    ut_free(base);
    if (status) return status;
    return api__reply_error(req, 404, "not_found",
                            "%s is not installed in %s (run scripts/setup.sh run, or pass --vendor DIR)",
                            req->params[1], req->srv->vendor_dir);
}

int api__index(api_req *req) {
    int status = send_file(req, req->srv->web_dir, "index.html");
    if (status) return status;
    return api__reply_error(req, 404, "not_found", "no web UI in %s (pass --web DIR)",
                            req->srv->web_dir ? req->srv->web_dir : "(none)");
}

int api__static(api_req *req) {
    const char *m = req->info->request_method;
    const char *uri = req->info->local_uri;
    if ((strcmp(m, "GET") && strcmp(m, "HEAD")) || !strncmp(uri, "/api/", 5)) return 0;
    while (*uri == '/') uri++;
    return send_file(req, req->srv->web_dir, uri);
}

/* upload.c -- POST /api/upload?path=DIR: multipart upload of images and
 * ZIP archives into a folder under the library roots.
 *
 * Streaming: CivetWeb hands each file field over in chunks (field_get) and
 * every chunk is written straight to a hidden temp file in the target
 * folder, so memory use does not depend on upload size. The request is
 * all-or-nothing with respect to the size limit: a Content-Length over the
 * limit is refused with 413 before any byte is read, and a body that
 * turns out larger (chunked, or lying) is cut off at the limit, every temp
 * file is removed and the answer is 413. Only when the whole body has
 * arrived are the files given their final names, never replacing an
 * existing file ("name (2).jpg"); ZIPs are extracted by zip.c.
 *
 * The response keeps the original's shape {results: [{filename, status,
 * error?}]} with status "uploaded", "extracted" or "error"; kadr adds
 * "saved_as" and "files" (images extracted from a ZIP). */
#include "api_int.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILES 10000

typedef struct {
    char *name;   /* sanitised client file name */
    char *tmp;    /* temp file holding the data, or NULL */
    int is_zip;
    const char *error; /* static reason this file was refused */
    int fd;
} upload_file;

typedef struct {
    const char *dir;
    int64_t total, max;
    int over, failed;
    upload_file *files;
    size_t n, cap;
} upload_ctx;

/* The last path component of a client file name, if it is a sane one. */
static char *clean_name(const char *filename) {
    const char *base = filename;
    for (const char *p = filename; *p; p++)
        if (*p == '/' || *p == '\\') base = p + 1;
    size_t n = strlen(base);
    if (n == 0 || n > 255 || base[0] == '.' || !api__utf8_valid(base, n)) return NULL;
    for (const char *p = base; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) return NULL;
    return ut_strdup(base);
}

static int is_zip_name(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && strcasecmp(dot, ".zip") == 0;
}

static void close_current(upload_ctx *c) {
    if (c->n && c->files[c->n - 1].fd >= 0) {
        if (close(c->files[c->n - 1].fd) != 0 && !c->files[c->n - 1].error)
            c->files[c->n - 1].error = "write error";
        c->files[c->n - 1].fd = -1;
    }
}

static int field_found(const char *key, const char *filename, char *path, size_t pathlen, void *ud) {
    upload_ctx *c = ud;
    close_current(c);
    if (!filename || !*filename) return MG_FORM_FIELD_STORAGE_SKIP;
    if (c->n == MAX_FILES) return MG_FORM_FIELD_STORAGE_ABORT;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        upload_file *nf = ut_realloc(c->files, cap * sizeof *nf);
        if (!nf) return c->failed = 1, MG_FORM_FIELD_STORAGE_ABORT;
        c->files = nf;
        c->cap = cap;
    }
    upload_file *f = &c->files[c->n++];
    *f = (upload_file){.fd = -1};
    f->name = clean_name(filename);
    if (!f->name) {
        f->name = ut_strdup(filename);
        f->error = "bad file name";
        return MG_FORM_FIELD_STORAGE_SKIP;
    }
    f->is_zip = is_zip_name(f->name);
    if (!f->is_zip && !api__is_image_name(f->name)) {
        f->error = "not an image or ZIP archive";
        return MG_FORM_FIELD_STORAGE_SKIP;
    }
    f->tmp = ut_asprintf("%s/.kadr-upload-XXXXXX", c->dir);
    /* mkstemp makes 0600; photos are ordinary files for the user. */
    if (!f->tmp || (f->fd = mkostemp(f->tmp, O_CLOEXEC)) < 0 || fchmod(f->fd, 0644) != 0) {
        if (f->fd >= 0) close(f->fd), unlink(f->tmp), f->fd = -1;
        ut_free(f->tmp);
        f->tmp = NULL;
        f->error = "cannot create a file in the target folder";
        return MG_FORM_FIELD_STORAGE_SKIP;
    }
    return MG_FORM_FIELD_STORAGE_GET;
}

static int field_get(const char *key, const char *value, size_t len, void *ud) {
    upload_ctx *c = ud;
    upload_file *f = &c->files[c->n - 1];
    c->total += (int64_t)len;
    if (c->total > c->max) {
        c->over = 1;
        return MG_FORM_FIELD_HANDLE_ABORT;
    }
    if (f->fd >= 0 && len && write(f->fd, value, len) != (ssize_t)len && !f->error) f->error = "write error (disk full?)";
    return MG_FORM_FIELD_HANDLE_GET;
}

static int field_store(const char *path, long long size, void *ud) { return MG_FORM_FIELD_HANDLE_NEXT; }

static void discard(upload_ctx *c) {
    close_current(c);
    for (size_t i = 0; i < c->n; i++) {
        if (c->files[i].tmp) unlink(c->files[i].tmp);
        ut_free(c->files[i].tmp);
        ut_free(c->files[i].name);
    }
    ut_free(c->files);
}

static json_t *finish_file(upload_file *f, const char *dir, const api_zip_limits *lim) {
    if (f->error)
        return json_pack("{s:s?, s:s, s:s}", "filename", f->name, "status", "error", "error", f->error);
    if (f->is_zip) {
        int nfiles;
        int rc = api__zip_extract(f->tmp, dir, lim, &nfiles);
        if (rc) return json_pack("{s:s, s:s, s:s}", "filename", f->name, "status", "error", "error", ut_errmsg());
        return json_pack("{s:s, s:s, s:i}", "filename", f->name, "status", "extracted", "files", nfiles);
    }
    char *final;
    if (api__link_unique(f->tmp, dir, f->name, &final))
        return json_pack("{s:s, s:s, s:s}", "filename", f->name, "status", "error", "error", ut_errmsg());
    json_t *r = json_pack("{s:s, s:s, s:s}", "filename", f->name, "status", "uploaded", "saved_as", final);
    ut_free(final);
    return r;
}

static int require_multipart(api_req *req) {
    const char *ct = mg_get_header(req->conn, "Content-Type");
    if (ct && strncasecmp(ct, "multipart/form-data", 19) == 0) return 0;
    return api__reply_error(req, 400, "bad_request", "upload must be multipart/form-data with one or more files");
}

int api__upload(api_req *req) {
    api_server *srv = req->srv;
    if (req->info->content_length > srv->max_upload_bytes)
        return api__reply_error(req, 413, "too_large", "upload of %lld bytes is over the limit of %lld bytes",
                                req->info->content_length, (long long)srv->max_upload_bytes);
    api_path ap;
    int status = api__query_path(req, &ap);
    if (status) return status;
    struct stat st;
    if (stat(ap.real, &st) != 0 || !S_ISDIR(st.st_mode))
        status = api__reply_error(req, 404, "not_found", "Целевая папка не найдена");
    else status = require_multipart(req);
    if (status) {
        api__path_free(&ap);
        return status;
    }
    upload_ctx c = {.dir = ap.real, .max = srv->max_upload_bytes};
    struct mg_form_data_handler fdh = {field_found, field_get, field_store, &c};
    int handled = mg_handle_form_request(req->conn, &fdh);
    close_current(&c);
    if (c.over)
        status = api__reply_error(req, 413, "too_large", "upload is over the limit of %lld bytes; nothing was stored",
                                  (long long)srv->max_upload_bytes);
    else if (c.failed) status = api__reply_error(req, 500, "internal", "out of memory");
    else if (handled < 0 || c.n == 0)
        status = api__reply_error(req, 400, "bad_request", "malformed multipart body or no files in it");
    if (!status) {
        api_zip_limits lim = {srv->zip_max_bytes, srv->zip_max_entries, srv->zip_max_ratio};
        json_t *results = json_array();
        for (size_t i = 0; i < c.n; i++) json_array_append_new(results, finish_file(&c.files[i], ap.real, &lim));
        status = api__reply_json(req, 200, json_pack("{s:o}", "results", results));
    }
    discard(&c);
    api__path_free(&ap);
    return status;
}

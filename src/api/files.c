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

typedef struct {
    char *name;
    int dir;
    int64_t size;
    int images;
} entry;

static int cmp_entry(const void *a, const void *b) {
    const entry *x = a, *y = b;
    if (x->dir != y->dir) return y->dir - x->dir;
    int c = strcasecmp(x->name, y->name);
    return c ? c : strcmp(x->name, y->name);
}

/* Read the folder's subfolders and images. Hidden entries (".x") are left
 * out: they include kadr's own temp files. Symlinks are listed only if
 * they stay inside the folder (stricter than the roots, and cheap). */
static int read_folder(const api_server *srv, const char *real, entry **out, size_t *count, int *images) {
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
        v[n] = (entry){.name = ut_strdup(e->d_name), .dir = dir, .size = st.st_size};
        if (!v[n].name) { rc = UT_ENOMEM; break; }
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
        for (size_t i = 0; i < n; i++) ut_free(v[i].name);
        ut_free(v);
        return ut_fail(rc, "out of memory listing a folder");
    }
    qsort(v, n, sizeof *v, cmp_entry);
    *out = v;
    *count = n;
    return UT_OK;
}

static json_t *folder_info(const char *path, const char *name, int dir, json_t *size, json_t *images) {
    return json_pack("{s:s, s:s, s:b, s:o, s:o}", "path", path, "name", name, "is_directory", dir,
                     "size", size, "image_count", images);
}

/* The parent entry ("⬅️ Назад") is offered only while it stays inside the
 * root the folder belongs to. */
static void add_parent(json_t *contents, const api_server *srv, const api_path *ap) {
    if (strcmp(ap->display, srv->roots[ap->root]) == 0) return;
    char *parent = ut_strdup(ap->display);
    if (!parent) return;
    char *slash = strrchr(parent, '/');
    if (slash == parent) slash[1] = 0;
    else if (slash) *slash = 0;
    json_array_append_new(contents, folder_info(parent, "⬅️ Назад", 1, json_null(), json_null()));
    ut_free(parent);
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
    int rc = read_folder(req->srv, ap.real, &v, &n, &images);
    if (rc) {
        api__path_free(&ap);
        return api__reply_path_error(req, rc, "");
    }
    json_t *contents = json_array();
    add_parent(contents, req->srv, &ap);
    const char *sep = strcmp(ap.display, "/") == 0 ? "" : "/";
    for (size_t i = 0; i < n; i++) {
        char *path = ut_asprintf("%s%s%s", ap.display, sep, v[i].name);
        char *name = ut_asprintf("%s %s", v[i].dir ? "📂" : "🖼", v[i].name);
        /* Names that are not UTF-8 cannot go into JSON; skip them. */
        json_t *item = path && name ? folder_info(path, name, v[i].dir,
                                                  v[i].dir ? json_null() : json_integer(v[i].size),
                                                  v[i].dir ? json_integer(v[i].images) : json_null())
                                    : NULL;
        if (item) json_array_append_new(contents, item);
        ut_free(path);
        ut_free(name);
        ut_free(v[i].name);
    }
    ut_free(v);
    json_t *body = json_pack("{s:s, s:o, s:i}", "path", ap.display, "contents", contents, "image_count", images);
    api__path_free(&ap);
    return api__reply_json(req, 200, body);
}

/* paths.c -- every path a request names goes through here.
 *
 * Clients of the original API send absolute paths they were given by
 * /api/drives and /api/folder, so an absolute path is accepted when it
 * lies lexically under a configured root; a relative path is taken under
 * the first root. Either way ut_path_resolve() then resolves symlinks and
 * refuses anything that ends up outside realpath(root). Clients are shown
 * "display" paths (configured root + normalised rest), never realpaths, so
 * a root reached through a symlink keeps the name the user configured. */
#include "api_int.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const image_exts[] = {"jpg", "jpeg", "png", "bmp", "tif", "tiff",
                                         "webp", "gif", "heic", "heif", NULL};

int api__is_image_name(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name) return 0;
    for (int i = 0; image_exts[i]; i++)
        if (strcasecmp(dot + 1, image_exts[i]) == 0) return 1;
    return 0;
}

void api__path_free(api_path *p) {
    if (!p) return;
    ut_free(p->real);
    ut_free(p->display);
    p->real = p->display = NULL;
}

/* Which root holds the normalised absolute path; -1 if none. */
static int root_of(const api_server *srv, const char *norm) {
    for (int i = 0; i < srv->nroots; i++)
        if (ut_path_within(srv->roots[i], norm)) return i;
    return -1;
}

int api__path_resolve(const api_server *srv, const char *user, api_path *out) {
    memset(out, 0, sizeof *out);
    size_t n = strlen(user);
    if (!api__utf8_valid(user, n) || strchr(user, '\\'))
        return ut_fail(UT_EESCAPE, "path is not valid UTF-8 or uses backslashes");
    int root = 0;
    const char *rel = user;
    char *norm = NULL;
    if (user[0] == '/') {
        int rc = ut_path_normalize(user, &norm);
        if (rc) return rc == UT_ENOMEM ? rc : ut_fail(UT_EESCAPE, "path climbs above /");
        root = root_of(srv, norm);
        if (root < 0) {
            ut_free(norm);
            return ut_fail(UT_EESCAPE, "path is outside the library roots");
        }
        rel = norm + strlen(srv->roots[root]);
        while (*rel == '/') rel++;
    }
    if (srv->nroots == 0) {
        ut_free(norm);
        return ut_fail(UT_EESCAPE, "no library roots are configured");
    }
    int rc = ut_path_resolve(srv->roots[root], rel, &out->real);
    if (!rc) rc = ut_path_join(srv->roots[root], rel, &out->display);
    ut_free(norm);
    if (rc) {
        api__path_free(out);
        return rc;
    }
    out->root = root;
    return UT_OK;
}

int api__reply_path_error(api_req *req, int rc, const char *user) {
    switch (rc) {
    case UT_EESCAPE:
    case UT_EINVAL:
        return api__reply_error(req, 403, "forbidden", "path is outside the library roots: %s", ut_errmsg());
    case UT_ENOENT:
        return api__reply_error(req, 404, "not_found", "no such folder or file: %s", user);
    case UT_EACCES:
        return api__reply_error(req, 403, "forbidden", "permission denied: %s", user);
    default:
        return api__reply_error(req, 500, "internal", "%s", ut_errmsg());
    }
}

int api__query_path(api_req *req, api_path *out) {
    char *user;
    int found = api__query(req, "path", &user);
    memset(out, 0, sizeof *out);
    if (found < 0)
        return api__reply_error(req, 403, "forbidden", "path is badly encoded (NUL, bad %%xx or invalid UTF-8)");
    if (found == 0 || !*user) {
        ut_free(user);
        return api__reply_error(req, 400, "bad_request", "query parameter 'path' is required");
    }
    int rc = api__path_resolve(req->srv, user, out);
    int status = rc ? api__reply_path_error(req, rc, user) : 0;
    ut_free(user);
    return status;
}

/* "IMG.jpg" -> "IMG (n).jpg"; "a.tar" style multi-dots keep the last one. */
static char *numbered(const char *name, int n) {
    if (n == 1) return ut_strdup(name);
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name) return ut_asprintf("%s (%d)", name, n);
    return ut_asprintf("%.*s (%d)%s", (int)(dot - name), name, n, dot);
}

int api__link_unique(const char *tmp, const char *dir, const char *name, char **final_name) {
    *final_name = NULL;
    for (int n = 1; n < 10000; n++) {
        char *cand = numbered(name, n);
        char *dst = cand ? ut_asprintf("%s/%s", dir, cand) : NULL;
        if (!dst) {
            ut_free(cand);
            return ut_fail(UT_ENOMEM, "out of memory");
        }
        /* link(2) fails with EEXIST instead of replacing: no race with a
         * file that appears between a check and the write. */
        int ok = link(tmp, dst) == 0, err = errno;
        ut_free(dst);
        if (ok) {
            unlink(tmp);
            *final_name = cand;
            return UT_OK;
        }
        ut_free(cand);
        if (err != EEXIST) return ut_fail(ut_from_errno(err), "cannot store %s: %s", name, strerror(err));
    }
    return ut_fail(UT_EEXIST, "too many files named like %s", name);
}

int api__rename_unique(const char *src, const char *dir, const char *name, char **final_name) {
    *final_name = NULL;
    for (int n = 1; n < 10000; n++) {
        char *cand = numbered(name, n);
        char *dst = cand ? ut_asprintf("%s/%s", dir, cand) : NULL;
        if (!dst) {
            ut_free(cand);
            return ut_fail(UT_ENOMEM, "out of memory");
        }
        int ok = renameat2(AT_FDCWD, src, AT_FDCWD, dst, RENAME_NOREPLACE) == 0, err = errno;
        ut_free(dst);
        if (ok) {
            *final_name = cand;
            return UT_OK;
        }
        ut_free(cand);
        if (err != EEXIST) return ut_fail(ut_from_errno(err), "cannot move %s: %s", name, strerror(err));
    }
    return ut_fail(UT_EEXIST, "too many files named like %s", name);
}

void api__rmtree(const char *path) {
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char *sub = ut_asprintf("%s/%s", path, e->d_name);
            if (!sub) continue;
            struct stat st;
            if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode)) api__rmtree(sub);
            else unlink(sub);
            ut_free(sub);
        }
        closedir(d);
    }
    rmdir(path);
}

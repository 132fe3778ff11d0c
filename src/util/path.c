/* path.c -- normalising and confining user-supplied paths.
 *
 * Every path that arrives from a user (HTTP query, upload name, ZIP entry,
 * command line relative to a library root) passes ut_path_join() or
 * ut_path_resolve() before any file is opened. Two layers:
 *
 *   lexical  ut_path_join: no absolute paths, no ".." above the root, no
 *            backslashes or control bytes (Windows-style or terminal tricks)
 *   on disk  ut_path_resolve: every existing component resolved with
 *            realpath(3), the result must stay under realpath(root), and a
 *            final component that is a dangling symlink is refused because
 *            creating through it would write wherever it points.
 */
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Append segment [s, s+n) to out, or pop one for "..". */
static int push_segment(ut_buf *out, size_t base, const char *s, size_t n) {
    if (n == 0 || (n == 1 && s[0] == '.')) return UT_OK;
    if (n == 2 && s[0] == '.' && s[1] == '.') {
        if (out->len <= base) return UT_EESCAPE;
        char *slash = strrchr(out->data + base, '/');
        out->len = slash ? (size_t)(slash - out->data) : base;
        if (out->len < base) out->len = base;
        out->data[out->len] = 0;
        return UT_OK;
    }
    if (out->len > base && ut_buf_puts(out, "/")) return UT_ENOMEM;
    return ut_buf_append(out, s, n);
}

/* Normalise the segments of path after a fixed prefix already in out. */
static int normalize_into(ut_buf *out, const char *path) {
    size_t base = out->len;
    const char *p = path;
    while (*p) {
        while (*p == '/') p++;
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        int rc = push_segment(out, base, p, n);
        if (rc) return rc;
        p += n;
    }
    return UT_OK;
}

int ut_path_normalize(const char *path, char **out) {
    ut_buf b = {0};
    int rc = UT_OK;
    *out = NULL;
    if (path[0] == '/') rc = ut_buf_puts(&b, "/");
    if (!rc) rc = normalize_into(&b, path);
    if (!rc && b.len == 0) rc = ut_buf_puts(&b, ".");
    if (rc == UT_EESCAPE) {
        ut_buf_free(&b);
        return ut_fail(UT_EESCAPE, "path '%s' climbs above its start", path);
    }
    if (rc) {
        ut_buf_free(&b);
        return ut_fail(rc, "out of memory normalising a path");
    }
    *out = ut_buf_steal(&b);
    return UT_OK;
}

static int check_rel(const char *rel) {
    if (rel[0] == '/') return ut_fail(UT_EESCAPE, "absolute path '%s' is not allowed here", rel);
    for (const unsigned char *p = (const unsigned char *)rel; *p; p++) {
        if (*p == '\\') return ut_fail(UT_EESCAPE, "backslash in path '%s' is not allowed", rel);
        if (*p < 0x20 || *p == 0x7f) return ut_fail(UT_EINVAL, "control character in path");
    }
    return UT_OK;
}

int ut_path_join(const char *root, const char *rel, char **out) {
    *out = NULL;
    int rc = check_rel(rel);
    if (rc) return rc;
    ut_buf b = {0};
    size_t rlen = strlen(root);
    while (rlen > 1 && root[rlen - 1] == '/') rlen--;
    rc = ut_buf_append(&b, root, rlen);
    if (!rc && rlen > 1) rc = ut_buf_puts(&b, "/");
    size_t base = b.len;
    if (!rc) rc = normalize_into(&b, rel);
    if (rc == UT_EESCAPE) {
        ut_buf_free(&b);
        return ut_fail(UT_EESCAPE, "path '%s' escapes its root", rel);
    }
    if (rc) {
        ut_buf_free(&b);
        return ut_fail(rc, "out of memory joining a path");
    }
    if (b.len == base && base > 1) b.data[--b.len] = 0; /* rel was empty: the root itself */
    *out = ut_buf_steal(&b);
    return UT_OK;
}

int ut_path_within(const char *root, const char *path) {
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/') n--;
    if (n == 1 && root[0] == '/') return path[0] == '/';
    return strncmp(root, path, n) == 0 && (path[n] == 0 || path[n] == '/');
}

/* Resolve a path whose last component may not exist yet. */
static int resolve_tail(const char *joined, char **out) {
    char real[PATH_MAX];
    if (realpath(joined, real)) {
        *out = ut_strdup(real);
        return *out ? UT_OK : UT_ENOMEM;
    }
    if (errno != ENOENT) return ut_fail(ut_from_errno(errno), "%s: %s", joined, strerror(errno));
    struct stat st;
    if (lstat(joined, &st) == 0 && S_ISLNK(st.st_mode))
        return ut_fail(UT_EESCAPE, "'%s' is a dangling symlink", joined);
    const char *slash = strrchr(joined, '/');
    char *dir = ut_strndup(joined, slash == joined ? 1 : (size_t)(slash - joined));
    if (!dir) return UT_ENOMEM;
    int ok = realpath(dir, real) != NULL;
    int err = errno;
    ut_free(dir);
    if (!ok) return ut_fail(ut_from_errno(err), "parent of %s: %s", joined, strerror(err));
    *out = ut_asprintf("%s/%s", strcmp(real, "/") ? real : "", slash + 1);
    return *out ? UT_OK : UT_ENOMEM;
}

int ut_path_resolve(const char *root, const char *rel, char **out) {
    char realroot[PATH_MAX];
    *out = NULL;
    if (!realpath(root, realroot))
        return ut_fail(ut_from_errno(errno), "library root %s: %s", root, strerror(errno));
    char *joined, *resolved = NULL;
    int rc = ut_path_join(realroot, rel, &joined);
    if (rc) return rc;
    rc = resolve_tail(joined, &resolved);
    ut_free(joined);
    if (rc) return rc;
    if (!ut_path_within(realroot, resolved)) {
        ut_free(resolved);
        return ut_fail(UT_EESCAPE, "path '%s' leads outside its root through a symlink", rel);
    }
    *out = resolved;
    return UT_OK;
}

int ut_mkdirs(const char *path) {
    char *p = ut_strdup(path);
    if (!p) return UT_ENOMEM;
    int rc = UT_OK;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != 0) continue;
        char c = *s;
        *s = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            rc = ut_fail(ut_from_errno(errno), "cannot create %s: %s", p, strerror(errno));
            break;
        }
        *s = c;
        if (c == 0) break;
    }
    ut_free(p);
    return rc;
}

/* fileops.c -- the few file-system operations sorting is built from, each
 * with its durability and no-overwrite guarantee spelled out:
 *
 *   org__copy_hashed       new file (O_EXCL), data hashed as it is copied,
 *                          fsync'd before close (unless the caller syncs the
 *                          whole file system later); removed on any failure, so a
 *                          failed copy (disk full, I/O error) leaves nothing
 *   org__rename_noreplace  renameat2(RENAME_NOREPLACE), or link+unlink where
 *                          the file system lacks it: never replaces a file
 *   org__fsync_dir         makes a create/rename/unlink in a folder durable
 *
 * Nothing here follows a symlink in the last component (O_NOFOLLOW).
 * File hashing uses libcrypto's SHA-256 when the build found it (SHA-NI:
 * several times util's portable code, and hashing is most of the CPU a
 * verified copy costs); the result is the same either way.
 */
#include "organize_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef KADR_HAVE_LIBCRYPTO
#include <openssl/evp.h>
#endif

#define COPY_CHUNK (1u << 20)

/* SHA-256 of a stream: libcrypto if built with it, else util's. */
typedef struct {
#ifdef KADR_HAVE_LIBCRYPTO
    EVP_MD_CTX *ctx;
#endif
    ut_sha256 h;
} hasher;

static int hasher_init(hasher *h) {
#ifdef KADR_HAVE_LIBCRYPTO
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(h->ctx);
        return UT_ENOMEM;
    }
#endif
    ut_sha256_init(&h->h);
    return UT_OK;
}

static void hasher_update(hasher *h, const void *p, size_t n) {
#ifdef KADR_HAVE_LIBCRYPTO
    EVP_DigestUpdate(h->ctx, p, n);
#else
    ut_sha256_update(&h->h, p, n);
#endif
}

/* Writes hex (if not NULL) and releases the hasher. */
static void hasher_final(hasher *h, char sha[65]) {
    uint8_t d[32];
#ifdef KADR_HAVE_LIBCRYPTO
    unsigned len = 32;
    EVP_DigestFinal_ex(h->ctx, d, &len);
    EVP_MD_CTX_free(h->ctx);
#else
    ut_sha256_final(&h->h, d);
#endif
    if (sha) ut_hex(d, 32, sha);
}

int org__errno_fail(int err, const char *what, const char *path) {
    if (err == ENOSPC || err == EDQUOT)
        return ut_fail(UT_ETOOBIG, "%s %s: no space left on device", what, path);
    if (err == EROFS) return ut_fail(UT_EACCES, "%s %s: read-only file system", what, path);
    return ut_fail(ut_from_errno(err), "%s %s: %s", what, path, strerror(err));
}

char *org__join(const char *a, const char *b) {
    size_t n = strlen(a);
    return ut_asprintf("%s%s%s", a, n && a[n - 1] == '/' ? "" : "/", b);
}

char *org__dirname(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return ut_strdup(".");
    if (slash == path) return ut_strdup("/");
    return ut_strndup(path, (size_t)(slash - path));
}

const char *org__basename(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int org__exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

int org__fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return org__errno_fail(errno, "opening folder", dir);
    int rc = fsync(fd) < 0 && errno != EINVAL ? org__errno_fail(errno, "syncing folder", dir) : UT_OK;
    close(fd);
    return rc;
}

int org__rename_noreplace(const char *from, const char *to) {
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0) return UT_OK;
    int err = errno;
    if (err == EINVAL || err == ENOSYS) {
        /* No RENAME_NOREPLACE here: link() refuses to replace just the same. */
        if (link(from, to) == 0) {
            if (unlink(from) == 0) return UT_OK;
            err = errno;
            unlink(to);
        } else {
            err = errno;
        }
    }
    if (err == EEXIST) return ut_fail(UT_EEXIST, "%s already exists", to);
    if (err == EXDEV) return ut_fail(UT_EUNSUPPORTED, "%s and %s are on different file systems", from, to);
    return org__errno_fail(err, "renaming to", to);
}

int org__syncfs(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return org__errno_fail(errno, "opening folder", dir);
    int rc = syncfs(fd) < 0 ? org__errno_fail(errno, "syncing the file system of", dir) : UT_OK;
    close(fd);
    return rc;
}

int org__same_fs(const char *a, const char *b) {
    struct stat sa, sb;
    char *pa = ut_strdup(a), *pb = ut_strdup(b);
    int same = 0;
    if (pa && pb) {
        while (stat(pa, &sa) < 0 && strcmp(pa, "/") != 0) {
            char *up = org__dirname(pa);
            ut_free(pa);
            pa = up;
            if (!pa) break;
        }
        while (pa && stat(pb, &sb) < 0 && strcmp(pb, "/") != 0) {
            char *up = org__dirname(pb);
            ut_free(pb);
            pb = up;
            if (!pb) break;
        }
        same = pa && pb && sa.st_dev == sb.st_dev;
    }
    ut_free(pa);
    ut_free(pb);
    return same;
}

static int write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return errno;
        if (w == 0) return ENOSPC;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Stream fd_in to fd_out (if >= 0) through the hash; errno or 0. */
static int pump(int fd_in, int fd_out, char *buf, hasher *h, uint64_t *size, int *write_err) {
    *size = 0;
    for (;;) {
        ssize_t r = read(fd_in, buf, COPY_CHUNK);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return errno;
        if (r == 0) return 0;
        hasher_update(h, buf, (size_t)r);
        *size += (uint64_t)r;
        if (fd_out >= 0) {
            int e = write_all(fd_out, buf, (size_t)r);
            if (e) {
                *write_err = 1;
                return e;
            }
        }
    }
}

int org__hash_file(const char *path, char sha[65], uint64_t *size) {
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return org__errno_fail(errno, "reading", path);
    char *buf = ut_malloc(COPY_CHUNK);
    hasher h;
    if (!buf || hasher_init(&h)) {
        ut_free(buf);
        close(fd);
        return ut_fail(UT_ENOMEM, "out of memory hashing %s", path);
    }
    int werr = 0, err = pump(fd, -1, buf, &h, size, &werr);
    ut_free(buf);
    close(fd);
    hasher_final(&h, err ? NULL : sha);
    if (err) return org__errno_fail(err, "reading", path);
    return UT_OK;
}

/* Keep the original's permission bits and times on the copy. */
static void copy_meta(int fd_out, const struct stat *st) {
    struct timespec ts[2] = {st->st_atim, st->st_mtim};
    if (fchmod(fd_out, st->st_mode & 07777) < 0) ut_debug("organize: fchmod failed");
    if (futimens(fd_out, ts) < 0) ut_debug("organize: futimens failed");
}

int org__copy_hashed(const char *src, const char *tmp, int sync, char sha[65], uint64_t *size) {
    int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0) return org__errno_fail(errno, "reading", src);
    struct stat st;
    if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(in);
        return ut_fail(UT_EINVAL, "%s is not a regular file", src);
    }
    int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0) {
        int e = errno;
        close(in);
        return org__errno_fail(e, "creating", tmp);
    }
    char *buf = ut_malloc(COPY_CHUNK);
    hasher h;
    int werr = 0, err = buf ? 0 : ENOMEM, hashing = !err && hasher_init(&h) == UT_OK;
    if (!err && !hashing) err = ENOMEM;
    if (!err) err = pump(in, out, buf, &h, size, &werr);
    if (!err) copy_meta(out, &st);
    if (!err && sync && fsync(out) < 0) werr = 1, err = errno;
    ut_free(buf);
    close(in);
    if (close(out) < 0 && !err) werr = 1, err = errno;
    if (hashing) hasher_final(&h, err ? NULL : sha);
    if (err) {
        unlink(tmp); /* roll back the partial copy */
        return org__errno_fail(err, werr ? "writing" : "reading", werr ? tmp : src);
    }
    return UT_OK;
}

/* thumb.c -- previews for the UI and API, and their disk cache.
 *
 * Cache layout under the caller's cache_dir:
 *   idx/<sha256 of the source path>      "dev ino size mtime_ns <content hash>\n"
 *   <h[0:2]>/<h>-<size>.<jpg|webp>        the preview of content hash h
 * Previews are keyed by content, so two copies of a photo share one and a
 * changed file (new size/mtime/inode -> re-hashed -> new h) never serves
 * the old picture. The index only saves re-hashing an unchanged file.
 * Every file is written under a unique temporary name in the same folder
 * and renamed into place, so readers see a whole file or none; a crash
 * leaves at most a stray *.tmp.* file. If the source changes while we
 * work (its stat differs before and after), nothing is cached. */
#include "img_int.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int img_thumb(img_photo *ph, int size, int fmt, uint8_t **out, size_t *len) {
    *out = NULL;
    *len = 0;
    if (size < 1 || size > 8192 || (fmt != IMG_JPEG && fmt != IMG_WEBP))
        return ut_fail(UT_EINVAL, "img_thumb: size %d or format %d out of range", size, fmt);
    VipsImage *im, *rgb;
    int rc = img__thumbnail(ph, size, size, VIPS_SIZE_DOWN, &im);
    if (!rc) rc = img__to_rgb8(ph, im, &rgb);
    if (rc) return rc;
    void *buf = NULL;
    size_t n = 0;
    int vr = fmt == IMG_JPEG ? vips_jpegsave_buffer(rgb, &buf, &n, "Q", 82, "strip", TRUE, NULL)
                             : vips_webpsave_buffer(rgb, &buf, &n, "Q", 80, "strip", TRUE, NULL);
    g_object_unref(rgb);
    if (vr) return img__vips_fail(UT_EFORMAT, ph->name, "cannot encode preview");
    *out = ut_malloc(n ? n : 1);
    if (!*out) {
        g_free(buf);
        return ut_fail(UT_ENOMEM, "%s: out of memory", ph->name);
    }
    memcpy(*out, buf, n);
    *len = n;
    g_free(buf);
    return UT_OK;
}

/* ---- atomic files ------------------------------------------------------- */

static atomic_uint tmp_counter;

/* Write data to path via path.tmp.<pid>.<n> + rename. */
static int write_atomic(const char *path, const void *data, size_t n) {
    char *tmp = ut_asprintf("%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&tmp_counter, 1));
    if (!tmp) return ut_fail(UT_ENOMEM, "out of memory");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    int rc = fd < 0 ? ut_fail(ut_from_errno(errno), "%s: %s", tmp, strerror(errno)) : UT_OK;
    const uint8_t *p = data;
    while (!rc && n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0)
            rc = ut_fail(UT_EIO, "%s: %s", tmp, strerror(errno));
        else
            p += w, n -= (size_t)w;
    }
    if (fd >= 0 && close(fd) && !rc) rc = ut_fail(UT_EIO, "%s: %s", tmp, strerror(errno));
    if (!rc && rename(tmp, path)) rc = ut_fail(ut_from_errno(errno), "%s: %s", path, strerror(errno));
    if (rc) unlink(tmp);
    ut_free(tmp);
    return rc;
}

/* ---- the index ---------------------------------------------------------- */

typedef struct {
    unsigned long long dev, ino, size, mtime_ns;
} file_id;

static int stat_id(const char *path, file_id *id) {
    struct stat st;
    if (stat(path, &st)) return ut_fail(ut_from_errno(errno), "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return ut_fail(UT_EINVAL, "%s: not a regular file", path);
    *id = (file_id){
        (unsigned long long)st.st_dev, (unsigned long long)st.st_ino, (unsigned long long)st.st_size,
        (unsigned long long)st.st_mtim.tv_sec * 1000000000ull + (unsigned long long)st.st_mtim.tv_nsec};
    return UT_OK;
}

static int same_id(const file_id *a, const file_id *b) {
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

/* The cached hash if the index entry matches id; 0 otherwise. */
static int idx_lookup(const char *idx, const file_id *id, char hash[65]) {
    FILE *f = fopen(idx, "r");
    if (!f) return 0;
    file_id got;
    char h[65];
    int ok = fscanf(f, "%llu %llu %llu %llu %64s", &got.dev, &got.ino, &got.size, &got.mtime_ns, h) == 5;
    fclose(f);
    if (!ok || !same_id(&got, id) || strlen(h) != 64) return 0;
    memcpy(hash, h, 65);
    return 1;
}

/* Content hash of path, from the index when the file is unchanged. *stable
 * is 0 if the file changed while we hashed it (then nothing is cached). */
static int content_hash(const char *path, const char *idx, char hash[65], file_id *id, int *stable) {
    int rc = stat_id(path, id);
    if (rc) return rc;
    *stable = 1;
    if (idx_lookup(idx, id, hash)) return UT_OK;
    if ((rc = ut_sha256_file(path, hash))) return ut_failf_wrap(rc, "%s: hashing", path);
    file_id after;
    if ((rc = stat_id(path, &after))) return rc;
    *stable = same_id(id, &after);
    if (!*stable) return UT_OK;
    char line[200];
    int n = snprintf(line, sizeof line, "%llu %llu %llu %llu %s\n", id->dev, id->ino, id->size, id->mtime_ns,
                     hash);
    return write_atomic(idx, line, (size_t)n);
}

static char *path_key(const char *path) {
    char *real = realpath(path, NULL);
    const char *p = real ? real : path;
    ut_sha256 h;
    uint8_t d[32];
    ut_sha256_init(&h);
    ut_sha256_update(&h, p, strlen(p));
    ut_sha256_final(&h, d);
    free(real);
    char *hex = ut_malloc(65);
    if (hex) ut_hex(d, 32, hex);
    return hex;
}

static int make_thumb(const char *path, const char *dst, int size, int fmt, const file_id *id) {
    img_photo *ph;
    int rc = img_open_file(path, &ph);
    if (rc) return rc;
    uint8_t *data;
    size_t n;
    rc = img_thumb(ph, size, fmt, &data, &n);
    img_close(ph);
    if (rc) return rc;
    file_id after;
    rc = stat_id(path, &after);
    if (!rc && !same_id(id, &after)) rc = ut_fail(UT_EBUSY, "%s: changed while making its preview", path);
    if (!rc) rc = write_atomic(dst, data, n);
    ut_free(data);
    return rc;
}

int img_thumb_cached(const char *path, const char *cache_dir, int size, int fmt, char **out_path, int *hit) {
    *out_path = NULL;
    *hit = 0;
    if (!path || !cache_dir || size < 1 || size > 8192 || (fmt != IMG_JPEG && fmt != IMG_WEBP))
        return ut_fail(UT_EINVAL, "img_thumb_cached: bad arguments");
    char *key = path_key(path), *idx_dir = ut_asprintf("%s/idx", cache_dir), *idx = NULL, *dir = NULL,
         *dst = NULL;
    char hash[65];
    file_id id;
    int stable = 0;
    int rc = key && idx_dir ? UT_OK : ut_fail(UT_ENOMEM, "out of memory");
    if (!rc) rc = ut_mkdirs(idx_dir);
    if (!rc && !(idx = ut_asprintf("%s/%s", idx_dir, key))) rc = ut_fail(UT_ENOMEM, "out of memory");
    if (!rc) rc = content_hash(path, idx, hash, &id, &stable);
    if (!rc && !(dir = ut_asprintf("%s/%.2s", cache_dir, hash))) rc = ut_fail(UT_ENOMEM, "out of memory");
    if (!rc && !(dst = ut_asprintf("%s/%s-%d.%s", dir, hash, size, fmt == IMG_JPEG ? "jpg" : "webp")))
        rc = ut_fail(UT_ENOMEM, "out of memory");
    if (!rc) {
        struct stat st;
        if (stat(dst, &st) == 0 && st.st_size > 0) {
            *hit = 1;
        } else if (!stable) {
            rc = ut_fail(UT_EBUSY, "%s: changed while being hashed; try again", path);
        } else {
            rc = ut_mkdirs(dir);
            if (!rc) rc = make_thumb(path, dst, size, fmt, &id);
        }
    }
    if (!rc) *out_path = dst, dst = NULL;
    ut_free(key);
    ut_free(idx_dir);
    ut_free(idx);
    ut_free(dir);
    ut_free(dst);
    return rc;
}

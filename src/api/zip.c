/* zip.c -- safe extraction of uploaded ZIP archives with libarchive.
 *
 * Invariant: a rejected archive writes nothing into the target folder.
 * Everything is extracted first into a fresh hidden temp dir inside the
 * target (same filesystem, so the final moves are renames); only when the
 * whole archive has passed every check are its top-level entries moved in,
 * each under a name that does not replace an existing one.
 *
 * Rejected: names that are absolute, contain "..", backslashes, control
 * bytes or invalid UTF-8; symlinks, hardlinks, devices, FIFOs; more than
 * max_entries entries; more than max_bytes uncompressed (counted on the
 * bytes actually written, since headers can lie); and a total that
 * exceeds max_ratio times the archive's size (a "bomb"). Files that are
 * not images (and macOS "__MACOSX" metadata) are skipped, not rejected. */
#include "api_int.h"
#include "util.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    const api_zip_limits *lim;
    int64_t archive_size, written, entries;
    int images;
    char *tmp;
} extract_ctx;

/* Check one entry name; on success *rel is the normalised relative path. */
static int check_name(const char *name, char **rel) {
    size_t n = strlen(name);
    if (n == 0 || name[0] == '/' || !api__utf8_valid(name, n))
        return ut_fail(UT_EESCAPE, "unsafe entry name in ZIP: absolute or not UTF-8");
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == '\\' || *p == 0x7f)
            return ut_fail(UT_EESCAPE, "unsafe entry name in ZIP: control byte or backslash");
    for (const char *p = name; *p;) {
        size_t seg = strcspn(p, "/");
        if (seg == 2 && p[0] == '.' && p[1] == '.') return ut_fail(UT_EESCAPE, "entry '%s' in ZIP uses '..'", name);
        p += seg;
        while (*p == '/') p++;
    }
    if (ut_path_normalize(name, rel)) return ut_fail(UT_EESCAPE, "entry '%s' in ZIP escapes", name);
    return UT_OK;
}

/* mkdir -p for rel under base, creating only real directories (the temp
 * tree holds nothing else, links are never created). */
static int make_parents(const char *base, const char *rel) {
    char *p = ut_asprintf("%s/%s", base, rel);
    if (!p) return UT_ENOMEM;
    int rc = UT_OK;
    for (char *s = p + strlen(base) + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) rc = ut_fail(ut_from_errno(errno), "mkdir: %s", strerror(errno));
        *s = '/';
        if (rc) break;
    }
    ut_free(p);
    return rc;
}

static int limits_ok(extract_ctx *c) {
    if (c->written > c->lim->max_bytes)
        return ut_fail(UT_ETOOBIG, "ZIP expands to more than %lld bytes", (long long)c->lim->max_bytes);
    if (c->archive_size > 0 && (double)c->written > c->lim->max_ratio * (double)c->archive_size &&
        c->written > 1024 * 1024)
        return ut_fail(UT_ETOOBIG, "ZIP compression ratio over %.0f (a zip bomb?)", c->lim->max_ratio);
    return UT_OK;
}

static int write_entry(struct archive *a, extract_ctx *c, const char *rel) {
    int rc = make_parents(c->tmp, rel);
    if (rc) return rc;
    char *path = ut_asprintf("%s/%s", c->tmp, rel);
    if (!path) return UT_ENOMEM;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    ut_free(path);
    if (fd < 0) return ut_fail(errno == EEXIST ? UT_EFORMAT : ut_from_errno(errno),
                               "ZIP entry '%s': %s", rel, errno == EEXIST ? "duplicate name" : strerror(errno));
    const void *buf;
    size_t size;
    la_int64_t off;
    int r;
    while ((r = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK) {
        c->written += (int64_t)size;
        if ((rc = limits_ok(c))) break;
        if (write(fd, buf, size) != (ssize_t)size) {
            rc = ut_fail(UT_EIO, "writing ZIP entry '%s': %s", rel, strerror(errno));
            break;
        }
    }
    if (!rc && r != ARCHIVE_EOF) rc = ut_fail(UT_EFORMAT, "ZIP entry '%s': %s", rel, archive_error_string(a));
    if (close(fd) != 0 && !rc) rc = ut_fail(UT_EIO, "writing ZIP entry '%s'", rel);
    if (!rc) c->images++;
    return rc;
}

static int skip_name(const char *rel) {
    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    return strncmp(rel, "__MACOSX", 8) == 0 || base[0] == '.' || !api__is_image_name(base);
}

static int extract_entry(struct archive *a, struct archive_entry *e, extract_ctx *c) {
    if (++c->entries > c->lim->max_entries)
        return ut_fail(UT_ETOOBIG, "ZIP has more than %lld entries", (long long)c->lim->max_entries);
    const char *name = archive_entry_pathname_utf8(e);
    if (!name) name = archive_entry_pathname(e);
    if (!name) return ut_fail(UT_EFORMAT, "ZIP entry without a name");
    char *rel;
    int rc = check_name(name, &rel);
    if (rc) return rc;
    mode_t type = archive_entry_filetype(e);
    if (archive_entry_hardlink(e) || archive_entry_symlink(e) || type == AE_IFLNK)
        rc = ut_fail(UT_EESCAPE, "ZIP entry '%s' is a link", name);
    else if (type != AE_IFREG && type != AE_IFDIR)
        rc = ut_fail(UT_EESCAPE, "ZIP entry '%s' is a device or special file", name);
    else if (archive_entry_size_is_set(e) && archive_entry_size(e) > c->lim->max_bytes)
        rc = ut_fail(UT_ETOOBIG, "ZIP entry '%s' declares more than %lld bytes", name, (long long)c->lim->max_bytes);
    else if (type == AE_IFREG && strcmp(rel, ".") != 0 && !skip_name(rel))
        rc = write_entry(a, c, rel);
    /* Directories are created as their files need them, so an archive of
     * empty folders leaves nothing behind. Skipped data is still read by
     * libarchive on the next header; count it against the limits too. */
    ut_free(rel);
    return rc;
}

/* Move the temp tree's top-level entries into dir. */
static int move_in(const char *tmp, const char *dir) {
    DIR *d = opendir(tmp);
    if (!d) return ut_fail(UT_EIO, "cannot read extracted files: %s", strerror(errno));
    struct dirent *e;
    int rc = UT_OK;
    while ((e = readdir(d)) && !rc) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *src = ut_asprintf("%s/%s", tmp, e->d_name), *final = NULL;
        rc = src ? api__rename_unique(src, dir, e->d_name, &final) : UT_ENOMEM;
        ut_free(src);
        ut_free(final);
    }
    closedir(d);
    return rc;
}

static int extract_all(struct archive *a, extract_ctx *c) {
    struct archive_entry *e;
    int r, rc = UT_OK;
    while (!rc && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) rc = extract_entry(a, e, c);
    if (!rc && r != ARCHIVE_EOF) rc = ut_fail(UT_EFORMAT, "not a valid ZIP archive: %s", archive_error_string(a));
    return rc;
}

int api__zip_extract(const char *zip_path, const char *dir, const api_zip_limits *lim, int *nfiles) {
    *nfiles = 0;
    struct stat st;
    if (stat(zip_path, &st) != 0) return ut_fail(UT_EIO, "uploaded ZIP vanished");
    extract_ctx c = {.lim = lim, .archive_size = st.st_size};
    c.tmp = ut_asprintf("%s/.kadr-unzip-XXXXXX", dir);
    if (!c.tmp) return ut_fail(UT_ENOMEM, "out of memory");
    if (!mkdtemp(c.tmp)) {
        int rc = ut_fail(ut_from_errno(errno), "cannot create a temp folder: %s", strerror(errno));
        ut_free(c.tmp);
        return rc;
    }
    struct archive *a = archive_read_new();
    int rc = a ? UT_OK : ut_fail(UT_ENOMEM, "out of memory");
    if (!rc) {
        archive_read_support_format_zip(a);
        if (archive_read_open_filename(a, zip_path, 64 * 1024) != ARCHIVE_OK)
            rc = ut_fail(UT_EFORMAT, "not a valid ZIP archive: %s", archive_error_string(a));
    }
    if (!rc) rc = extract_all(a, &c);
    if (a) archive_read_free(a);
    if (!rc) rc = move_in(c.tmp, dir);
    api__rmtree(c.tmp);
    ut_free(c.tmp);
    if (!rc) *nfiles = c.images;
    return rc;
}

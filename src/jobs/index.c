/* index.c -- the "index" job type: bring the catalog's view of a library
 * root up to date.
 *
 * plan: walk the root (hidden entries and symlinks are not followed, so
 * nothing outside the root is read) and list every regular file.
 * item: stat; unchanged (size, mtime) -> skip; sniff the first bytes
 * (non-images skipped); SHA-256; upsert the photo (same hash -> keep its
 * analysis); then the analyser hook (metadata, faces) when present.
 * finish: photos no longer found are marked missing.
 *
 * The slow parts (hashing, the analyser) run before job_write(), so the
 * catalog's write lock is held only for the few rows of each file. */
#include "jobs_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DEPTH 64

typedef struct {
    char *root;
} index_run;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted names in dir (no "." entries); caller frees. */
static int list_dir(const char *dir, char ***names, size_t *n) {
    DIR *d = opendir(dir);
    *names = NULL;
    *n = 0;
    if (!d) return ut_fail(ut_from_errno(errno), "index: cannot open %s: %s", dir, strerror(errno));
    size_t cap = 0;
    int rc = UT_OK;
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 32;
            char **grown = ut_realloc(*names, cap * sizeof *grown);
            if (!grown) {
                rc = ut_fail(UT_ENOMEM, "index: out of memory");
                break;
            }
            *names = grown;
        }
        if (!((*names)[*n] = ut_strdup(e->d_name))) rc = ut_fail(UT_ENOMEM, "index: out of memory");
        else ++*n;
    }
    closedir(d);
    if (!rc && *n) qsort(*names, *n, sizeof **names, cmp_str);
    return rc;
}

static int walk(job_ctx *c, const char *root, const char *rel, int depth) {
    if (depth > MAX_DEPTH) return job_message(c, "skipped %s: folders nested too deep", rel);
    char *dir = rel[0] ? ut_asprintf("%s/%s", root, rel) : ut_strdup(root);
    if (!dir) return ut_fail(UT_ENOMEM, "index: out of memory");
    char **names;
    size_t n;
    int rc = list_dir(dir, &names, &n);
    if (rc && depth > 0) {
        /* An unreadable subfolder is reported, not fatal. */
        rc = job_message(c, "%s", ut_errmsg());
        names = NULL;
        n = 0;
    }
    for (size_t i = 0; !rc && i < n; i++) {
        char *child = rel[0] ? ut_asprintf("%s/%s", rel, names[i]) : ut_strdup(names[i]);
        char *abs = ut_asprintf("%s/%s", dir, names[i]);
        struct stat st;
        if (!child || !abs) rc = ut_fail(UT_ENOMEM, "index: out of memory");
        else if (lstat(abs, &st) != 0) rc = UT_OK; /* vanished while listing */
        else if (S_ISDIR(st.st_mode)) rc = walk(c, root, child, depth + 1);
        else if (S_ISREG(st.st_mode)) rc = job_add_item(c, child);
        ut_free(child);
        ut_free(abs);
    }
    cat_strings_free(names, n);
    ut_free(dir);
    return rc;
}

static int index_start(job_ctx *c, void *user) {
    cat_root r;
    int rc = cat_root_get(job_db(c), job_root(c), &r);
    if (rc) return ut_failf_wrap(rc, "index");
    index_run *run = ut_calloc(1, sizeof *run);
    if (!run) {
        cat_root_free(&r);
        return ut_fail(UT_ENOMEM, "index: out of memory");
    }
    run->root = r.path;
    job_set_state(c, run);
    return UT_OK;
}

static void index_stop(job_ctx *c, void *user) {
    index_run *run = job_state(c);
    if (!run) return;
    ut_free(run->root);
    ut_free(run);
    job_set_state(c, NULL);
}

static int index_plan(job_ctx *c, void *user) {
    index_run *run = job_state(c);
    struct stat st;
    if (stat(run->root, &st) != 0 || !S_ISDIR(st.st_mode))
        return ut_fail(UT_ENOENT, "index: library root %s is not a readable folder", run->root);
    return walk(c, run->root, "", 0);
}

static int read_head(const char *path, unsigned char *head, size_t *n) {
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return ut_fail(ut_from_errno(errno), "index: cannot open %s: %s", path, strerror(errno));
    ssize_t got = read(fd, head, 32);
    int err = errno;
    close(fd);
    if (got < 0) return ut_fail(ut_from_errno(err), "index: cannot read %s: %s", path, strerror(err));
    *n = (size_t)got;
    return UT_OK;
}

/* What the catalog knew of the file before this item. */
typedef struct {
    int status;          /* CAT_FILE_* */
    int64_t id;          /* 0 if new */
    char hash[65];       /* old hash, "" if new */
    char *faces_model;   /* old analysis, NULL if none */
} known;

static int lookup(job_ctx *c, const job_analyser *an, const char *key, const struct stat *st, known *k) {
    int64_t mtime = (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
    memset(k, 0, sizeof *k);
    int rc = cat_file_status(job_db(c), job_root(c), key, st->st_size, mtime, &k->status, &k->id);
    /* Only face analysis needs the old hash and model (upsert compares
     * hashes itself). */
    if (rc || !k->id || !an || !an->faces) return rc;
    cat_photo p;
    if ((rc = cat_photo_get(job_db(c), k->id, &p))) return rc;
    memcpy(k->hash, p.hash, sizeof k->hash);
    k->faces_model = p.faces_model;
    p.faces_model = NULL;
    cat_photo_free(&p);
    return UT_OK;
}

/* Faces are (re)computed when the content is new or the stored analysis
 * came from another model. */
static int want_faces(const job_analyser *an, const known *k, const char *hash) {
    if (!an || !an->faces || !an->faces_model) return 0;
    if (!k->id || strcmp(k->hash, hash) != 0) return 1;
    return !k->faces_model || strcmp(k->faces_model, an->faces_model) != 0;
}

/* The slow part, outside any transaction: hash, metadata, faces. */
typedef struct {
    cat_photo photo;
    int do_faces;
    cat_face *faces;
    size_t nfaces;
} analysis;

static int analyse(const job_analyser *an, const char *abs, const known *k, analysis *a) {
    int rc = k->status == CAT_FILE_UNCHANGED ? UT_OK : ut_sha256_file(abs, a->photo.hash);
    if (k->status == CAT_FILE_UNCHANGED) memcpy(a->photo.hash, k->hash, sizeof a->photo.hash);
    if (!rc && an && an->metadata && k->status != CAT_FILE_UNCHANGED) rc = an->metadata(an->user, abs, &a->photo);
    a->do_faces = want_faces(an, k, a->photo.hash);
    if (!rc && a->do_faces) rc = an->faces(an->user, abs, &a->faces, &a->nfaces);
    return rc;
}

static int index_item(job_ctx *c, const char *key, void *user) {
    const job_analyser *an = user;
    index_run *run = job_state(c);
    char *abs = ut_asprintf("%s/%s", run->root, key);
    if (!abs) return ut_fail(UT_ENOMEM, "index: out of memory");
    struct stat st;
    known k = {0};
    analysis a = {0};
    unsigned char head[32];
    size_t nhead = 0;
    int rc, what = CAT_UPSERT_SAME;
    const char *format;
    if (lstat(abs, &st) != 0 || !S_ISREG(st.st_mode)) {
        job_note(c, "vanished");
        rc = JOB_ITEM_SKIPPED;
        goto out;
    }
    if ((rc = lookup(c, an, key, &st, &k))) goto out;
    if (k.status == CAT_FILE_UNCHANGED && !want_faces(an, &k, k.hash)) {
        job_note(c, "unchanged");
        rc = JOB_ITEM_SKIPPED;
        goto out;
    }
    if ((rc = read_head(abs, head, &nhead))) goto out;
    if (!(format = job_sniff_format(head, nhead))) {
        job_note(c, "not-image");
        rc = JOB_ITEM_SKIPPED;
        goto out;
    }
    a.photo = (cat_photo){.root_id = job_root(c), .path = (char *)key, .size = st.st_size,
                          .mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec};
    snprintf(a.photo.format, sizeof a.photo.format, "%s", format);
    if ((rc = analyse(an, abs, &k, &a))) goto out;
    /* The quick part: a few rows, atomically with the item's outcome. */
    if ((rc = job_write(c))) goto out;
    if (k.status != CAT_FILE_UNCHANGED) rc = cat_photo_upsert(job_db(c), &a.photo, &what);
    else a.photo.id = k.id;
    if (!rc && a.do_faces) rc = cat_photo_set_faces(job_db(c), a.photo.id, an->faces_model, a.faces, a.nfaces);
    if (!rc)
        job_note(c, k.status == CAT_FILE_UNCHANGED ? "analysed"
                    : what == CAT_UPSERT_NEW      ? "new"
                    : what == CAT_UPSERT_CHANGED  ? "changed"
                                                  : "touched");
out:
    ut_free(a.photo.camera);
    cat_faces_free(a.faces, a.nfaces);
    ut_free(k.faces_model);
    ut_free(abs);
    return rc;
}

static int index_finish(job_ctx *c, void *user) {
    int64_t missing = 0;
    int rc = cat_photo_mark_missing(job_db(c), job_root(c), job_id(c), &missing);
    if (!rc && missing) rc = job_message(c, "%lld photo(s) no longer found, marked missing", (long long)missing);
    return rc;
}

int job_index_register(job_mgr *m, const job_analyser *an) {
    job_type t = {
        .name = "index", .exclusive = 0, .start = index_start, .plan = index_plan,
        .item = index_item, .finish = index_finish, .stop = index_stop, .user = (void *)an,
    };
    return job_register(m, &t);
}

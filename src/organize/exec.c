/* exec.c -- carrying a plan out, and finishing one that was interrupted.
 *
 * Per photo, the order that makes a SIGKILL at any instant harmless:
 *
 *   rename path (one person, same file system):
 *     J_MOVE intent (fsync) -> renameat2(NOREPLACE) -> fsync both folders
 *     -> J_MOVED. The photo is at exactly one of its two names at any time.
 *   copy path (several people, other file system, or opts.no_rename):
 *     for each destination: J_COPY intent (fsync) -> copy to ".kadr-tmp-i-d"
 *     in the destination folder, hashing -> fsync file -> rename(NOREPLACE)
 *     to the final name -> fsync folder -> re-read and compare size+SHA-256
 *     -> J_COPIED. Only when every copy is verified: unlink the original ->
 *     fsync its folder -> J_FINISHED.
 *
 * Resuming replays the journal and looks at the disk for the one step that
 * may have been cut short: a stale temp file is deleted and redone, a final
 * file whose hash matches the original counts as done, a photo that is no
 * longer at its source after a J_MOVE is at its destination. "Done" records
 * need no fsync of their own: if lost, the disk says the same thing, and the
 * next intent's fsync makes them durable anyway.
 *
 * Errors that concern one photo (read-only folder, unreadable file, a photo
 * changed since it was planned) skip that photo (J_SKIPPED) and go on; a full
 * disk, a failed verification or a journal error stop the run, resumable.
 */
#include "organize_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    org_plan *p;
    org__journal *j;
    const org_opts *opts;
    org_stats *st;
    int same_fs; /* src and out roots on one file system */
} run_ctx;

static int any_copy_intent(const org__item *it);

static int is_fatal(int rc) {
    return rc == UT_ETOOBIG || rc == UT_ENOMEM;
}

static int skip_photo(run_ctx *c, size_t i, const char *why) {
    org__item *it = &c->p->items[i];
    char *r = ut_strdup(why);
    if (!r) return ut_fail(UT_ENOMEM, "out of memory");
    ut_warn("organize: %s: %s", it->rel, why);
    int rc = org__jrec(c->j, 0, J_SKIPPED, "us", (uint64_t)i, r);
    ut_free(it->reason);
    it->reason = r;
    it->skipped = it->finished = 1;
    c->st->skipped++;
    return rc;
}

/* A problem with one photo skips it; a fatal one stops the run. */
static int photo_failed(run_ctx *c, size_t i, int rc) {
    if (is_fatal(rc)) return rc;
    char *msg = ut_strdup(ut_errmsg());
    int r = skip_photo(c, i, msg ? msg : "failed");
    ut_free(msg);
    return r;
}

static int unchanged(const org__item *it, const char *abs) {
    struct stat st;
    if (lstat(abs, &st) < 0 || !S_ISREG(st.st_mode)) return 0;
    int64_t m = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    return (uint64_t)st.st_size == it->size && m == it->mtime_ns;
}

/* Create out/rel and missing parents, each announced in the journal first so
 * that undo can remove the folders the run made. */
static int ensure_dir(run_ctx *c, const char *rel) {
    int rc = UT_OK;
    for (const char *e = rel; !rc && e;) {
        e = strchr(e + 1, '/');
        char *prefix = e ? ut_strndup(rel, (size_t)(e - rel)) : ut_strdup(rel);
        char *abs = prefix ? org__join(c->p->out, prefix) : NULL;
        struct stat st;
        if (!abs) rc = ut_fail(UT_ENOMEM, "out of memory");
        else if (lstat(abs, &st) == 0) {
            if (!S_ISDIR(st.st_mode)) rc = ut_fail(UT_EEXIST, "%s exists and is not a folder", abs);
        } else {
            rc = org__jrec(c->j, 1, J_MKDIR, "s", prefix);
            if (!rc && mkdir(abs, 0755) < 0 && errno != EEXIST) rc = org__errno_fail(errno, "creating folder", abs);
            char *parent = rc ? NULL : org__dirname(abs);
            if (parent) rc = org__fsync_dir(parent);
            ut_free(parent);
            char **m = rc ? NULL : ut_realloc(c->p->mkdirs, (c->p->nmkdirs + 1) * sizeof *m);
            if (m) {
                c->p->mkdirs = m;
                m[c->p->nmkdirs++] = prefix;
                prefix = NULL;
            }
        }
        ut_free(prefix);
        ut_free(abs);
    }
    return rc;
}

static int ensure_parent(run_ctx *c, const char *rel_file) {
    char *d = org__dirname(rel_file);
    int rc = d ? (strcmp(d, ".") == 0 ? UT_OK : ensure_dir(c, d)) : UT_ENOMEM;
    ut_free(d);
    return rc;
}

/* Make dest[d] a name that is free on disk ("x (2).jpg" ...). */
static int free_name(run_ctx *c, org__item *it, size_t d) {
    char *abs = org__join(c->p->out, it->dest[d]);
    int n = 2, rc = UT_OK;
    char *base = ut_strdup(it->dest[d]);
    while (!rc && abs && base && org__exists(abs)) {
        char *cand = org__clash_name(base, n++);
        ut_free(abs);
        abs = cand ? org__join(c->p->out, cand) : NULL;
        if (cand) {
            ut_free(it->dest[d]);
            it->dest[d] = cand;
        }
    }
    if (!abs || !base) rc = ut_fail(UT_ENOMEM, "out of memory");
    ut_free(abs);
    ut_free(base);
    return rc;
}

char *org__tmp_path(const org_plan *p, const org__item *it, size_t i, size_t d) {
    char *final = org__join(p->out, it->dest[d]);
    char *dir = final ? org__dirname(final) : NULL;
    char *tmp = dir ? ut_asprintf("%s/.kadr-tmp-%zu-%zu", dir, i, d) : NULL;
    ut_free(final);
    ut_free(dir);
    return tmp;
}

static int sync_parent(const char *abs) {
    char *d = org__dirname(abs);
    int rc = d ? org__fsync_dir(d) : UT_ENOMEM;
    ut_free(d);
    return rc;
}

/* ---- rename path -------------------------------------------------------- */

static int finish_move(run_ctx *c, size_t i, const char *src, const char *final) {
    org__item *it = &c->p->items[i];
    int rc = sync_parent(final);
    if (!rc) rc = sync_parent(src);
    if (!rc) rc = org__jrec(c->j, 0, J_MOVED, "u", (uint64_t)i);
    if (!rc) {
        it->moved = it->finished = 1;
        c->st->moved++;
    }
    return rc;
}

/* Returns UT_EUNSUPPORTED (nothing done) when the copy path must take over. */
static int run_move(run_ctx *c, size_t i, const char *src) {
    org__item *it = &c->p->items[i];
    char *final = org__join(c->p->out, it->dest[0]);
    int rc = final ? UT_OK : ut_fail(UT_ENOMEM, "out of memory");
    if (!rc && it->move_intent && !org__exists(src)) {
        struct stat st;
        if (lstat(final, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == it->size)
            rc = finish_move(c, i, src, final);
        else
            rc = ut_fail(UT_EIO, "photo %s is neither at its place nor at %s", it->rel, final);
        ut_free(final);
        return rc;
    }
    ut_free(final);
    final = NULL;
    if (!unchanged(it, src)) return skip_photo(c, i, "changed since the plan (size or time differs), left in place");
    if (it->sha[0]) {
        char sha[65];
        uint64_t size;
        rc = org__hash_file(src, sha, &size);
        if (rc) return photo_failed(c, i, rc);
        if (strcmp(sha, it->sha) != 0) return skip_photo(c, i, "content changed since the plan, left in place");
    }
    rc = ensure_parent(c, it->dest[0]);
    if (!rc) rc = free_name(c, it, 0);
    if (rc) return photo_failed(c, i, rc);
    rc = org__jrec(c->j, 1, J_MOVE, "us", (uint64_t)i, it->dest[0]);
    if (rc) return rc;
    it->move_intent = 1;
    final = org__join(c->p->out, it->dest[0]);
    rc = final ? org__rename_noreplace(src, final) : ut_fail(UT_ENOMEM, "out of memory");
    if (rc == UT_EUNSUPPORTED) {
        ut_free(final);
        return rc;
    }
    if (!rc) rc = finish_move(c, i, src, final);
    else rc = photo_failed(c, i, rc);
    ut_free(final);
    return rc;
}

/* ---- copy path ----------------------------------------------------------- */

static int record_copied(run_ctx *c, size_t i, size_t d, const char *sha) {
    org__item *it = &c->p->items[i];
    int rc = org__jrec(c->j, 0, J_COPIED, "uus", (uint64_t)i, (uint64_t)d, sha);
    if (rc) return rc;
    memcpy(it->got_sha, sha, 65);
    it->copied[d] = 1;
    c->st->copies++;
    return UT_OK;
}

/* After a crash between intent and J_COPIED: is the final file our copy?
 * 1 = yes (recorded), 0 = no (temp cleaned), <0 error. */
static int recover_copy(run_ctx *c, size_t i, size_t d, const char *src, const char *final, const char *tmp) {
    org__item *it = &c->p->items[i];
    if (unlink(tmp) < 0 && errno != ENOENT) return org__errno_fail(errno, "removing", tmp);
    if (!org__exists(final) || !org__exists(src)) return 0;
    char a[65], b[65];
    uint64_t na, nb;
    int rc = org__hash_file(final, a, &na);
    if (!rc) rc = org__hash_file(src, b, &nb);
    if (rc) return rc;
    if (strcmp(a, b) != 0 || na != nb || (it->got_sha[0] && strcmp(a, it->got_sha) != 0)) return 0;
    rc = sync_parent(final);
    if (!rc) rc = record_copied(c, i, d, a);
    return rc ? rc : 1;
}

/* Copy, fsync, rename into place, verify. Returns UT_OK, a skip (recorded),
 * or a fatal error. */
static int copy_one(run_ctx *c, size_t i, size_t d, const char *src) {
    org__item *it = &c->p->items[i];
    int rc = ensure_parent(c, it->dest[d]);
    if (!rc) rc = free_name(c, it, d);
    if (rc) return photo_failed(c, i, rc);
    rc = org__jrec(c->j, 1, J_COPY, "uus", (uint64_t)i, (uint64_t)d, it->dest[d]);
    if (rc) return rc;
    it->copy_intent[d] = 1;
    char *final = org__join(c->p->out, it->dest[d]), *tmp = org__tmp_path(c->p, it, i, d);
    char sha[65], back[65];
    uint64_t size = 0, bsize = 0;
    rc = final && tmp ? org__copy_hashed(src, tmp, 1, sha, &size) : ut_fail(UT_ENOMEM, "out of memory");
    if (rc) {
        rc = photo_failed(c, i, rc);
    } else if (size != it->size || (it->sha[0] && strcmp(sha, it->sha) != 0) ||
               (it->got_sha[0] && strcmp(sha, it->got_sha) != 0)) {
        unlink(tmp);
        rc = skip_photo(c, i, "changed since the plan, left in place");
    } else if ((rc = org__rename_noreplace(tmp, final)) != UT_OK) {
        unlink(tmp);
        rc = photo_failed(c, i, rc);
    } else if ((rc = sync_parent(final)) == UT_OK && (rc = org__hash_file(final, back, &bsize)) == UT_OK) {
        if (bsize != size || strcmp(back, sha) != 0) {
            unlink(final);
            rc = ut_fail(UT_EIO, "copy of %s at %s does not match the original after writing", it->rel, final);
        } else {
            rc = record_copied(c, i, d, sha);
        }
    }
    ut_free(final);
    ut_free(tmp);
    return rc;
}

static int remove_original(run_ctx *c, size_t i, const char *src) {
    org__item *it = &c->p->items[i];
    if (!it->keep_src && org__exists(src)) {
        if (!unchanged(it, src)) return skip_photo(c, i, "changed while being copied; copies made, original kept");
        if (unlink(src) < 0) {
            org__errno_fail(errno, "removing original", src);
            return photo_failed(c, i, UT_EACCES);
        }
        int rc = sync_parent(src);
        if (rc) return rc;
    }
    int rc = org__jrec(c->j, 0, J_FINISHED, "u", (uint64_t)i);
    if (rc) return rc;
    it->finished = 1;
    if (it->action == ORG_MOVE) c->st->moved++;
    else c->st->copied++;
    return UT_OK;
}

static int run_copy(run_ctx *c, size_t i, const char *src) {
    org__item *it = &c->p->items[i];
    for (size_t d = 0; d < it->ndest && !it->skipped; d++) {
        if (it->copied[d]) continue;
        char *final = org__join(c->p->out, it->dest[d]), *tmp = org__tmp_path(c->p, it, i, d);
        int rc = final && tmp ? UT_OK : ut_fail(UT_ENOMEM, "out of memory");
        if (!rc && it->copy_intent[d]) rc = recover_copy(c, i, d, src, final, tmp);
        ut_free(final);
        ut_free(tmp);
        if (rc == 1) continue;
        if (rc < 0) return is_fatal(rc) || rc == UT_EIO ? rc : photo_failed(c, i, rc);
        if (!org__exists(src)) return skip_photo(c, i, "the original disappeared before all copies were made");
        if (!unchanged(it, src)) return skip_photo(c, i, "changed since the plan (size or time differs), left in place");
        rc = copy_one(c, i, d, src);
        if (rc) return rc;
    }
    return it->skipped ? UT_OK : remove_original(c, i, src);
}

static int any_copy_intent(const org__item *it) {
    for (size_t d = 0; d < it->ndest; d++)
        if (it->copy_intent[d]) return 1;
    return 0;
}

/* ---- batches of fresh photos ------------------------------------------------
 *
 * Photos no earlier run has touched go through the same steps in batches,
 * so that each durability point costs one sync for up to BATCH photos instead
 * of one per photo (fsync is what dominates on real disks):
 *
 *   intents of the batch (J_MOVE / J_COPY)            -> fdatasync journal
 *   rename path: renames -> fsync every folder involved -> J_MOVED
 *   copy path:   copies to temps -> syncfs(out) -> renames -> fsync folders
 *                -> verify -> J_COPIED -> unlink originals -> fsync folders
 *                -> J_FINISHED
 *
 * The order of what becomes durable is the same as photo by photo, so the
 * recovery rules of the sequential path (which resumes any photo with an
 * intent) hold unchanged. */

#define BATCH 64

typedef struct {
    size_t i;
    int rename;      /* rename path, else copy path */
    int made;        /* bit d: temp d exists */
    char (*sha)[65]; /* per destination */
} slot;

static void drop_temps(run_ctx *c, slot *s) {
    org__item *it = &c->p->items[s->i];
    for (size_t d = 0; d < it->ndest; d++)
        if (s->made & (1 << d)) {
            char *tmp = org__tmp_path(c->p, it, s->i, d);
            if (tmp) unlink(tmp);
            ut_free(tmp);
        }
    s->made = 0;
}

static int live(run_ctx *c, slot *s) {
    return !c->p->items[s->i].skipped;
}

/* fsync each distinct parent folder of the given absolute paths. */
static int sync_dirs(org__set *dirs) {
    for (size_t k = 0; k < dirs->cap; k++)
        if (dirs->slot[k]) {
            int rc = org__fsync_dir(dirs->slot[k]);
            if (rc) return rc;
        }
    return UT_OK;
}

static int note_parent(org__set *dirs, const char *abs) {
    char *d = org__dirname(abs);
    int rc = d ? org__set_add(dirs, d) : UT_ENOMEM;
    ut_free(d);
    return rc == UT_EEXIST ? UT_OK : rc;
}

/* Checks and intents for one fresh photo (no sync yet). */
static int batch_intent(run_ctx *c, slot *s, const char *src) {
    org__item *it = &c->p->items[s->i];
    if (!unchanged(it, src)) return skip_photo(c, s->i, "changed since the plan (size or time differs), left in place");
    if (s->rename && it->sha[0]) {
        char sha[65];
        uint64_t size;
        int rc = org__hash_file(src, sha, &size);
        if (rc) return photo_failed(c, s->i, rc);
        if (strcmp(sha, it->sha) != 0) return skip_photo(c, s->i, "content changed since the plan, left in place");
    }
    size_t n = s->rename ? 1 : it->ndest;
    for (size_t d = 0; d < n; d++) {
        int rc = ensure_parent(c, it->dest[d]);
        if (!rc) rc = free_name(c, it, d);
        if (rc) return photo_failed(c, s->i, rc);
    }
    for (size_t d = 0; d < n; d++) {
        int rc = s->rename ? org__jrec(c->j, 0, J_MOVE, "us", (uint64_t)s->i, it->dest[0])
                           : org__jrec(c->j, 0, J_COPY, "uus", (uint64_t)s->i, (uint64_t)d, it->dest[d]);
        if (rc) return rc;
        if (s->rename) it->move_intent = 1;
        else it->copy_intent[d] = 1;
    }
    return UT_OK;
}

static int batch_renames(run_ctx *c, slot *sl, size_t n) {
    org__set dirs = {0};
    int rc = UT_OK;
    for (size_t k = 0; k < n && !rc; k++) {
        if (!sl[k].rename || !live(c, &sl[k])) continue;
        org__item *it = &c->p->items[sl[k].i];
        char *src = org__join(c->p->src, it->rel), *final = org__join(c->p->out, it->dest[0]);
        rc = src && final ? org__rename_noreplace(src, final) : ut_fail(UT_ENOMEM, "out of memory");
        if (rc == UT_EUNSUPPORTED) sl[k].rename = -1; /* other file system: sequential copy later */
        else if (!rc) rc = note_parent(&dirs, src) ? UT_ENOMEM : note_parent(&dirs, final);
        else rc = photo_failed(c, sl[k].i, rc);
        if (rc == UT_EUNSUPPORTED) rc = UT_OK;
        ut_free(src);
        ut_free(final);
    }
    if (!rc) rc = sync_dirs(&dirs);
    for (size_t k = 0; k < n && !rc; k++) {
        org__item *it = &c->p->items[sl[k].i];
        if (sl[k].rename != 1 || !live(c, &sl[k])) continue;
        rc = org__jrec(c->j, 0, J_MOVED, "u", (uint64_t)sl[k].i);
        if (!rc) it->moved = it->finished = 1, c->st->moved++;
    }
    org__set_free(&dirs);
    return rc;
}

/* Copy every destination of a slot to its temp; the item is skipped (and its
 * temps removed) if it changed; a fatal error is returned. */
static int batch_copy_slot(run_ctx *c, slot *s, const char *src) {
    org__item *it = &c->p->items[s->i];
    for (size_t d = 0; d < it->ndest && live(c, s); d++) {
        char *tmp = org__tmp_path(c->p, it, s->i, d);
        uint64_t size = 0;
        int rc = tmp ? org__copy_hashed(src, tmp, 0, s->sha[d], &size) : ut_fail(UT_ENOMEM, "out of memory");
        ut_free(tmp);
        if (rc) {
            if (is_fatal(rc)) return rc;
            drop_temps(c, s);
            return photo_failed(c, s->i, rc);
        }
        s->made |= 1 << d;
        if (size != it->size || (it->sha[0] && strcmp(s->sha[d], it->sha) != 0) ||
            (d > 0 && strcmp(s->sha[d], s->sha[0]) != 0)) {
            drop_temps(c, s);
            return skip_photo(c, s->i, "changed since the plan, left in place");
        }
    }
    return UT_OK;
}

/* Temps -> final names, fsync'd, verified, recorded. */
static int batch_place(run_ctx *c, slot *sl, size_t n) {
    org__set dirs = {0};
    int rc = org__syncfs(c->p->out);
    for (size_t k = 0; k < n && !rc; k++) {
        org__item *it = &c->p->items[sl[k].i];
        for (size_t d = 0; d < it->ndest && !rc && sl[k].rename == 0 && live(c, &sl[k]); d++) {
            char *tmp = org__tmp_path(c->p, it, sl[k].i, d), *final = org__join(c->p->out, it->dest[d]);
            rc = tmp && final ? org__rename_noreplace(tmp, final) : ut_fail(UT_ENOMEM, "out of memory");
            if (!rc) sl[k].made &= ~(1 << d), rc = note_parent(&dirs, final);
            else if (!is_fatal(rc)) drop_temps(c, &sl[k]), rc = photo_failed(c, sl[k].i, rc);
            ut_free(tmp);
            ut_free(final);
        }
    }
    if (!rc) rc = sync_dirs(&dirs);
    for (size_t k = 0; k < n && !rc; k++) {
        org__item *it = &c->p->items[sl[k].i];
        for (size_t d = 0; d < it->ndest && !rc && sl[k].rename == 0 && live(c, &sl[k]); d++) {
            char *final = org__join(c->p->out, it->dest[d]), back[65];
            uint64_t size = 0;
            rc = final ? org__hash_file(final, back, &size) : ut_fail(UT_ENOMEM, "out of memory");
            if (!rc && (size != it->size || strcmp(back, sl[k].sha[d]) != 0)) {
                unlink(final);
                rc = ut_fail(UT_EIO, "copy of %s at %s does not match the original after writing", it->rel, final);
            }
            if (!rc) rc = record_copied(c, sl[k].i, d, back);
            ut_free(final);
        }
    }
    org__set_free(&dirs);
    return rc;
}

/* Originals of fully copied photos: unlink, fsync their folders, record. */
static int batch_originals(run_ctx *c, slot *sl, size_t n) {
    org__set dirs = {0};
    int rc = UT_OK;
    for (size_t k = 0; k < n && !rc; k++) {
        org__item *it = &c->p->items[sl[k].i];
        if (sl[k].rename != 0 || !live(c, &sl[k]) || it->keep_src) continue;
        char *src = org__join(c->p->src, it->rel);
        if (!src) rc = ut_fail(UT_ENOMEM, "out of memory");
        else if (!unchanged(it, src)) rc = skip_photo(c, sl[k].i, "changed while being copied; copies made, original kept");
        else if (unlink(src) < 0) org__errno_fail(errno, "removing original", src), rc = photo_failed(c, sl[k].i, UT_EACCES);
        else rc = note_parent(&dirs, src);
        ut_free(src);
    }
    if (!rc) rc = sync_dirs(&dirs);
    for (size_t k = 0; k < n && !rc; k++) {
        org__item *it = &c->p->items[sl[k].i];
        if (sl[k].rename != 0 || !live(c, &sl[k])) continue;
        rc = org__jrec(c->j, 0, J_FINISHED, "u", (uint64_t)sl[k].i);
        if (!rc) {
            it->finished = 1;
            if (it->action == ORG_MOVE) c->st->moved++;
            else c->st->copied++;
        }
    }
    org__set_free(&dirs);
    return rc;
}

static int fresh(const org__item *it) {
    return !it->finished && !it->move_intent && !any_copy_intent(it) &&
           (it->action == ORG_MOVE || it->action == ORG_COPY) && it->ndest <= 16;
}

static int run_batch(run_ctx *c, slot *sl, size_t *n_out, size_t start, size_t end) {
    size_t n = 0;
    int rc = UT_OK;
    for (size_t i = start; i < end && !rc; i++) {
        org__item *it = &c->p->items[i];
        if (!fresh(it)) continue;
        slot *s = &sl[n++];
        *s = (slot){i, it->action == ORG_MOVE && !c->opts->no_rename && c->same_fs, 0, NULL};
        s->sha = ut_calloc(it->ndest, sizeof *s->sha);
        char *src = org__join(c->p->src, it->rel);
        rc = src && s->sha ? batch_intent(c, s, src) : ut_fail(UT_ENOMEM, "out of memory");
        ut_free(src);
    }
    *n_out = n;
    if (!rc && n) rc = org__journal_sync(c->j); /* the intents, before any action */
    if (!rc) rc = batch_renames(c, sl, n);
    for (size_t k = 0; k < n && !rc; k++) {
        if (sl[k].rename != 0 || !live(c, &sl[k])) continue;
        char *src = org__join(c->p->src, c->p->items[sl[k].i].rel);
        rc = src ? batch_copy_slot(c, &sl[k], src) : ut_fail(UT_ENOMEM, "out of memory");
        ut_free(src);
    }
    if (!rc) rc = batch_place(c, sl, n);
    if (!rc) rc = batch_originals(c, sl, n);
    for (size_t k = 0; k < n; k++) {
        if (sl[k].made) drop_temps(c, &sl[k]); /* a stop left temps: the intents cover them, but tidy */
        ut_free(sl[k].sha);
    }
    return rc;
}

/* ---- the run -------------------------------------------------------------- */

static int run_item(run_ctx *c, size_t i) {
    org__item *it = &c->p->items[i];
    if (it->finished || (it->action != ORG_MOVE && it->action != ORG_COPY)) return UT_OK;
    char *src = org__join(c->p->src, it->rel);
    if (!src) return ut_fail(UT_ENOMEM, "out of memory");
    int rc = UT_EUNSUPPORTED;
    if (it->action == ORG_MOVE && !any_copy_intent(it) &&
        (it->move_intent || (!c->opts->no_rename && org__same_fs(src, c->p->out))))
        rc = run_move(c, i, src);
    if (rc == UT_EUNSUPPORTED) rc = run_copy(c, i, src);
    ut_free(src);
    return rc;
}

static int remove_empty_folders(run_ctx *c) {
    for (size_t k = 0; k < c->p->nrmdirs; k++) {
        if (c->p->rmdir_done[k]) continue;
        char *abs = org__join(c->p->src, c->p->rmdirs[k]);
        if (!abs) return ut_fail(UT_ENOMEM, "out of memory");
        int gone = rmdir(abs) == 0 || errno == ENOENT;
        if (!gone) ut_info("organize: kept folder %s: %s", abs, strerror(errno));
        int rc = gone ? sync_parent(abs) : UT_OK;
        ut_free(abs);
        if (!rc && gone) rc = org__jrec(c->j, 0, J_RMDIR, "u", (uint64_t)k);
        if (rc) return rc;
        if (gone) {
            c->p->rmdir_done[k] = 1;
            c->st->folders_removed++;
        }
    }
    return UT_OK;
}

int org__run(org_plan *p, org__journal *j, const org_opts *opts, org_stats *st) {
    run_ctx c = {p, j, opts, st, org__same_fs(p->src, p->out)};
    slot sl[BATCH];
    for (size_t start = 0; start < p->nitems; start += BATCH) {
        size_t end = start + BATCH < p->nitems ? start + BATCH : p->nitems, n = 0;
        int rc = run_batch(&c, sl, &n, start, end);
        for (size_t i = start; i < end && !rc; i++) {
            rc = run_item(&c, i); /* resumed photos, fallbacks; no-op for done ones */
            const org__item *it = &p->items[i];
            const char *problem = it->action == ORG_SKIP || it->skipped ? it->reason : NULL;
            org_event ev = {i + 1, p->nitems, it->rel, problem};
            if (!rc && opts->progress && opts->progress(opts->progress_ctx, &ev))
                return ut_fail(UT_ECANCELED, "sorting stopped after %zu of %zu photos; resume to finish", i + 1,
                               p->nitems);
        }
        if (rc) return rc;
    }
    int rc = remove_empty_folders(&c);
    if (!rc) rc = org__jrec(j, 1, J_DONE, "");
    if (!rc) p->done = 1;
    return rc;
}

/* ---- public entry points ----------------------------------------------------- */

char *org_state_dir(const org_plan *plan, const org_opts *opts) {
    if (opts && opts->state_dir) return ut_strdup(opts->state_dir);
    return org__join(plan->out, ".kadr-sort");
}

int org_execute(const org_plan *plan, const org_opts *opts, org_stats *stats) {
    org_opts none = {0};
    org_stats local;
    if (!opts) opts = &none;
    if (!stats) stats = &local;
    *stats = (org_stats){0};
    if (!plan->finished) return ut_fail(UT_ESTATE, "org_plan_finish() must run before execution");
    int rc = ut_mkdirs(plan->out);
    if (rc) return ut_failf_wrap(rc, "creating output folder %s", plan->out);
    char *state = org_state_dir(plan, opts);
    if (!state) return ut_fail(UT_ENOMEM, "out of memory");
    org__journal j = {-1, NULL};
    rc = org__journal_create(&j, state, plan);
    org__journal_close(&j);
    /* Run from the journal's own replay: what resume would see, exactly. */
    org_plan *p = NULL;
    if (!rc) rc = org__journal_open(&j, state, &p);
    if (!rc) rc = org__run(p, &j, opts, stats);
    org__journal_close(&j);
    org_plan_destroy(p);
    ut_free(state);
    return rc;
}

int org_resume(const char *state_dir, const org_opts *opts, org_stats *stats) {
    org_opts none = {0};
    org_stats local;
    if (!opts) opts = &none;
    if (!stats) stats = &local;
    *stats = (org_stats){0};
    org__journal j = {-1, NULL};
    org_plan *p = NULL;
    int rc = org__journal_open(&j, state_dir, &p);
    if (!rc && p->undoing) rc = ut_fail(UT_ESTATE, "an undo of this run was interrupted: run undo again");
    else if (!rc && !p->begun) {
        unlink(j.path);
        rc = ut_fail(UT_ESTATE, "the run was interrupted before it started; nothing was changed, plan it again");
    } else if (!rc && !p->done) {
        rc = org__run(p, &j, opts, stats);
    }
    org__journal_close(&j);
    org_plan_destroy(p);
    return rc;
}

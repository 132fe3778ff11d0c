/* undo.c -- putting every photo of a run back where it was.
 *
 * Undo decides from the journal *and* the disk, so it can be interrupted and
 * rerun any number of times, after a finished run or an interrupted one:
 *
 *   renamed photo   if the original name is free and the photo is at its
 *                   destination, rename it back (NOREPLACE);
 *   copied photo    if the original is gone, bring back one copy whose
 *                   SHA-256 matches the journal (rename, or copy+verify when
 *                   on another file system); then delete every copy whose
 *                   content equals the restored original, and stale temps.
 *
 * A file is deleted only when its hash proves it is a copy of a photo that
 * exists at its original place, so undo can never destroy the last copy.
 * Afterwards the folders the run created are removed if empty, removed
 * source folders get their modes back, and the journal is deleted.
 */
#include "organize_int.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int sync_parent(const char *abs) {
    char *d = org__dirname(abs);
    int rc = d ? org__fsync_dir(d) : UT_ENOMEM;
    ut_free(d);
    return rc;
}

static int make_parent(const char *abs) {
    char *d = org__dirname(abs);
    int rc = d ? ut_mkdirs(d) : UT_ENOMEM;
    ut_free(d);
    return rc;
}

/* Put file `from` (a verified copy) at `to`, the original's name. */
static int bring_back(const char *from, const char *to, const char *sha) {
    int rc = make_parent(to);
    if (rc) return ut_failf_wrap(rc, "recreating the folder of %s", to);
    rc = org__rename_noreplace(from, to);
    if (rc == UT_EUNSUPPORTED) {
        char *tmp = ut_asprintf("%s.kadr-undo-tmp", to);
        char got[65], back[65];
        uint64_t n, nb;
        rc = tmp ? org__copy_hashed(from, tmp, 1, got, &n) : UT_ENOMEM;
        if (!rc && strcmp(got, sha) != 0) rc = ut_fail(UT_EIO, "copy %s changed; not restoring from it", from);
        if (!rc) rc = org__rename_noreplace(tmp, to);
        if (!rc) rc = org__hash_file(to, back, &nb);
        if (!rc && (strcmp(back, sha) != 0 || nb != n)) rc = ut_fail(UT_EIO, "restored %s does not verify", to);
        if (rc && tmp) unlink(tmp);
        ut_free(tmp);
        if (!rc && unlink(from) < 0) rc = org__errno_fail(errno, "removing", from);
    }
    if (!rc) rc = sync_parent(to);
    if (!rc) rc = sync_parent(from);
    return rc;
}

static int undo_rename(org_plan *p, org__item *it, const char *src, org_stats *st) {
    if (org__exists(src)) return UT_OK; /* never moved, or already back */
    char *final = org__join(p->out, it->dest[0]);
    int rc = final ? UT_OK : UT_ENOMEM;
    if (!rc && !org__exists(final))
        rc = ut_fail(UT_ENOENT, "photo %s is neither at its place nor at %s", it->rel, final);
    if (!rc) rc = make_parent(src);
    if (!rc) rc = org__rename_noreplace(final, src);
    if (!rc) rc = sync_parent(src);
    if (!rc) rc = sync_parent(final);
    if (!rc) st->restored++;
    ut_free(final);
    return rc;
}

/* The original is gone: restore it from a copy that matches the journal. */
static int restore_from_copy(org_plan *p, org__item *it, const char *src, org_stats *st) {
    for (size_t d = 0; d < it->ndest && it->got_sha[0]; d++) {
        if (!it->copy_intent[d]) continue;
        char *final = org__join(p->out, it->dest[d]);
        char sha[65];
        uint64_t n;
        int rc = !final ? UT_ENOMEM : !org__exists(final) ? UT_ENOENT : org__hash_file(final, sha, &n);
        if (!rc && strcmp(sha, it->got_sha) == 0) {
            rc = bring_back(final, src, it->got_sha);
            ut_free(final);
            if (!rc) st->restored++;
            return rc;
        }
        ut_free(final);
        if (rc == UT_ENOMEM) return ut_fail(rc, "out of memory");
    }
    return ut_fail(UT_ENOENT, "no verified copy of %s found to restore it from", it->rel);
}

/* Delete temps and every copy whose content equals the original at src. */
static int remove_copies(org_plan *p, org__item *it, size_t i, const char *src) {
    char want[65];
    uint64_t n;
    int rc = org__hash_file(src, want, &n);
    for (size_t d = 0; !rc && d < it->ndest; d++) {
        if (!it->copy_intent[d]) continue;
        char *final = org__join(p->out, it->dest[d]), *tmp = org__tmp_path(p, it, i, d);
        char sha[65];
        uint64_t m;
        if (!final || !tmp) rc = ut_fail(UT_ENOMEM, "out of memory");
        if (!rc && unlink(tmp) < 0 && errno != ENOENT) rc = org__errno_fail(errno, "removing", tmp);
        if (!rc && org__exists(final) && org__hash_file(final, sha, &m) == UT_OK) {
            if (strcmp(sha, want) == 0 && m == n) {
                if (unlink(final) < 0) rc = org__errno_fail(errno, "removing copy", final);
                else rc = sync_parent(final);
            } else {
                ut_warn("organize: %s differs from %s; not ours, kept", final, src);
            }
        }
        ut_free(final);
        ut_free(tmp);
    }
    return rc;
}

static int undo_item(org_plan *p, size_t i, org_stats *st) {
    org__item *it = &p->items[i];
    int copying = 0;
    for (size_t d = 0; d < it->ndest; d++) copying |= it->copy_intent[d];
    if (!copying && !it->move_intent) return UT_OK; /* never touched */
    char *src = org__join(p->src, it->rel);
    if (!src) return ut_fail(UT_ENOMEM, "out of memory");
    int rc;
    if (!copying) {
        rc = undo_rename(p, it, src, st);
    } else {
        rc = org__exists(src) ? UT_OK : restore_from_copy(p, it, src, st);
        if (!rc) rc = remove_copies(p, it, i, src);
    }
    ut_free(src);
    return rc;
}

/* Source folders the run removed: recreate (photos may have done it already)
 * and give them their old permission bits. */
static void restore_folders(org_plan *p) {
    for (size_t k = p->nrmdirs; k-- > 0;) {
        char *abs = org__join(p->src, p->rmdirs[k]);
        if (abs && (org__exists(abs) || ut_mkdirs(abs) == UT_OK) && chmod(abs, p->rmdir_mode[k]) < 0)
            ut_debug("organize: chmod %s failed", abs);
        ut_free(abs);
    }
}

/* Folders the run created, newest first, if nothing is left in them. */
static void remove_created(org_plan *p) {
    for (size_t k = p->nmkdirs; k-- > 0;) {
        char *abs = org__join(p->out, p->mkdirs[k]);
        if (abs && rmdir(abs) == 0) sync_parent(abs);
        ut_free(abs);
    }
}

int org__undo_run(org_plan *p, org__journal *j, const org_opts *opts, org_stats *st) {
    int rc = UT_OK, first = UT_OK;
    if (!p->begun) return UT_OK; /* killed while writing the plan: nothing was touched */
    if (!p->undoing) rc = org__jrec(j, 1, J_UNDO, "");
    if (rc) return rc;
    p->undoing = 1;
    for (size_t i = p->nitems; i-- > 0;) {
        org__item *it = &p->items[i];
        if (!it->undone && (it->action == ORG_MOVE || it->action == ORG_COPY)) {
            rc = undo_item(p, i, st);
            if (rc && !first) first = rc;
            if (rc) ut_error("organize: undo %s: %s", it->rel, ut_errmsg());
            if (!rc && (rc = org__jrec(j, 0, J_UNDONE, "u", (uint64_t)i))) return rc;
            if (!rc) it->undone = 1;
        }
        org_event ev = {p->nitems - i, p->nitems, it->rel, NULL};
        if (opts->progress && opts->progress(opts->progress_ctx, &ev))
            return ut_fail(UT_ECANCELED, "undo stopped; run it again to finish");
    }
    if (first) return ut_fail(first, "undo could not restore every photo (see the log); the journal is kept");
    restore_folders(p);
    remove_created(p);
    return UT_OK;
}

int org_undo(const char *state_dir, const org_opts *opts, org_stats *stats) {
    org_opts none = {0};
    org_stats local;
    if (!opts) opts = &none;
    if (!stats) stats = &local;
    *stats = (org_stats){0};
    org__journal j = {-1, NULL};
    org_plan *p = NULL;
    int rc = org__journal_open(&j, state_dir, &p);
    if (rc == UT_ENOENT) rmdir(state_dir); /* killed before the journal existed */
    if (!rc) rc = org__undo_run(p, &j, opts, stats);
    if (!rc && unlink(j.path) < 0) rc = org__errno_fail(errno, "removing the journal", j.path);
    if (!rc) {
        org__fsync_dir(state_dir);
        rmdir(state_dir); /* only if empty: it may be a user's folder */
    }
    org__journal_close(&j);
    org_plan_destroy(p);
    return rc;
}

/* journal.c -- the append-only, checksummed record of one sorting run.
 *
 * File layout: the 8-byte magic "KADRJ001", then records
 *
 *   u32 length (LE) | u32 ~length | 8 bytes: SHA-256(payload)[0..8] | payload
 *
 * and a payload is a type byte followed by fields: u8, u64 (LE), and strings
 * as u32 length + bytes (no NUL inside). The run's plan comes first (J_PLAN,
 * J_ITEM..., J_RMDIR_PLAN..., J_BEGIN), so the journal alone is enough to
 * resume or undo. Execution records follow.
 *
 * Invariants:
 *   - a record is written with one write(2) and, if it is an intent, made
 *     durable (fdatasync) before the action it announces;
 *   - only the last record may be damaged (a torn write when the process or
 *     machine died); it is ignored and cut off on the next open. A damaged
 *     record with more data after it is corruption: UT_EFORMAT, nothing done.
 *     The length is stored twice (plain and inverted) so that a corrupt
 *     length in the middle is caught instead of passing for a torn tail;
 *     a tail of zero bytes (what a torn append leaves on most file systems)
 *     is torn, not corrupt;
 *   - replay is strict: unknown types, out-of-range indices, records in the
 *     wrong phase are all UT_EFORMAT, never a crash (fuzzed: fuzz/).
 */
#include "organize_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- encoding ------------------------------------------------------------ */

#define HEAD 16 /* length, inverted length, checksum */

static int put_u64(ut_buf *b, uint64_t v) {
    uint8_t x[8];
    for (int i = 0; i < 8; i++) x[i] = (uint8_t)(v >> (8 * i));
    return ut_buf_append(b, x, 8);
}

static int put_str(ut_buf *b, const char *s) {
    size_t n = strlen(s);
    uint8_t x[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};
    int rc = ut_buf_append(b, x, 4);
    return rc ? rc : ut_buf_append(b, s, n);
}

/* fmt: 'b' u8 (int), 'u' u64, 's' string, 'L' a list (u64 count, char **). */
static int encode(ut_buf *b, int type, const char *fmt, va_list ap) {
    uint8_t t = (uint8_t)type;
    int rc = ut_buf_append(b, &t, 1);
    for (const char *f = fmt; *f && !rc; f++) {
        if (*f == 'b') {
            uint8_t v = (uint8_t)va_arg(ap, int);
            rc = ut_buf_append(b, &v, 1);
        } else if (*f == 'u') {
            rc = put_u64(b, va_arg(ap, uint64_t));
        } else if (*f == 'L') {
            uint64_t n = va_arg(ap, uint64_t);
            char **list = va_arg(ap, char **);
            rc = put_u64(b, n);
            for (uint64_t i = 0; i < n && !rc; i++) rc = put_str(b, list[i]);
        } else {
            rc = put_str(b, va_arg(ap, const char *));
        }
    }
    return rc;
}

static void checksum(const uint8_t *p, size_t n, uint8_t out[8]) {
    ut_sha256 h;
    uint8_t d[32];
    ut_sha256_init(&h);
    ut_sha256_update(&h, p, n);
    ut_sha256_final(&h, d);
    memcpy(out, d, 8);
}

static int write_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -errno;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int org__jrec(org__journal *j, int sync, int type, const char *fmt, ...) {
    ut_buf payload = {0}, rec = {0};
    va_list ap;
    va_start(ap, fmt);
    int rc = encode(&payload, type, fmt, ap);
    va_end(ap);
    uint8_t head[HEAD];
    uint32_t n = (uint32_t)payload.len;
    for (int i = 0; i < 4; i++) head[i] = (uint8_t)(n >> (8 * i));
    for (int i = 0; i < 4; i++) head[4 + i] = (uint8_t)(~n >> (8 * i));
    if (!rc) checksum((const uint8_t *)payload.data, payload.len, head + 8);
    if (!rc) rc = ut_buf_append(&rec, head, HEAD);
    if (!rc) rc = ut_buf_append(&rec, payload.data, payload.len);
    ut_buf_free(&payload);
    if (rc) return ut_fail(UT_ENOMEM, "out of memory writing the journal");
    int err = write_all(j->fd, rec.data, rec.len);
    ut_buf_free(&rec);
    if (!err && sync && fdatasync(j->fd) < 0) err = -errno;
    if (err) return org__errno_fail(-err, "writing the journal", j->path);
    return UT_OK;
}

int org__journal_sync(org__journal *j) {
    if (fdatasync(j->fd) < 0) return org__errno_fail(errno, "syncing the journal", j->path);
    return UT_OK;
}

/* ---- decoding ------------------------------------------------------------ */

typedef struct {
    const uint8_t *p;
    size_t n, at;
} reader;

static int get_u8(reader *r, uint8_t *v) {
    if (r->n - r->at < 1) return UT_EFORMAT;
    *v = r->p[r->at++];
    return UT_OK;
}

static int get_u64(reader *r, uint64_t *v) {
    if (r->n - r->at < 8) return UT_EFORMAT;
    *v = 0;
    for (int i = 0; i < 8; i++) *v |= (uint64_t)r->p[r->at + i] << (8 * i);
    r->at += 8;
    return UT_OK;
}

static int get_str(reader *r, char **s) {
    if (r->n - r->at < 4) return UT_EFORMAT;
    uint32_t len = 0;
    for (int i = 0; i < 4; i++) len |= (uint32_t)r->p[r->at + i] << (8 * i);
    r->at += 4;
    if (r->n - r->at < len || memchr(r->p + r->at, 0, len)) return UT_EFORMAT;
    *s = ut_strndup((const char *)r->p + r->at, len);
    if (!*s) return UT_ENOMEM;
    r->at += len;
    return UT_OK;
}

/* A relative path inside its root: no absolute, no "..", no empty. */
static int safe_rel(const char *s) {
    if (!s[0] || s[0] == '/') return 0;
    for (const char *p = s; *p;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0 || (n == 2 && p[0] == '.' && p[1] == '.') || (n == 1 && p[0] == '.')) return 0;
        p += n + (e ? 1 : 0);
        if (e && !*p) return 0;
    }
    return 1;
}

static int is_hex64(const char *s) {
    if (strlen(s) != 64) return 0;
    for (const char *c = s; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'))) return 0;
    return 1;
}

static int rd_rel(reader *r, char **s) {
    int rc = get_str(r, s);
    if (rc) return rc;
    if (!safe_rel(*s)) {
        ut_free(*s);
        *s = NULL;
        return UT_EFORMAT;
    }
    return UT_OK;
}

static int rd_item(reader *r, org_plan *p) {
    org__item it = {0};
    uint64_t idx = 0, size = 0, mtime = 0, nd = 0;
    uint8_t action = 0, keep = 0;
    char *sha = NULL;
    int rc = get_u64(r, &idx);
    if (!rc) rc = get_u8(r, &action);
    if (!rc) rc = get_u8(r, &keep);
    /* a skipped photo may have any path (it is never touched) */
    if (!rc) rc = action == ORG_SKIP ? get_str(r, &it.rel) : rd_rel(r, &it.rel);
    if (!rc) rc = get_str(r, &it.reason);
    if (!rc) rc = get_u64(r, &size);
    if (!rc) rc = get_u64(r, &mtime);
    if (!rc) rc = get_str(r, &sha);
    if (!rc) rc = get_u64(r, &nd);
    if (!rc && (idx != p->nitems || action > ORG_SKIP || keep > 1 || nd > 4096 ||
                (sha[0] && !is_hex64(sha)) || ((action == ORG_MOVE) != (nd == 1 && !keep)) ||
                ((action == ORG_COPY) != (nd >= 1 && (nd >= 2 || keep))) ||
                (action != ORG_COPY && keep)))
        rc = UT_EFORMAT;
    if (!rc && sha[0]) memcpy(it.sha, sha, 65);
    if (rc && rc != UT_ENOMEM) rc = UT_EFORMAT;
    ut_free(sha);
    it.action = action;
    it.keep_src = keep;
    it.size = size;
    it.mtime_ns = (int64_t)mtime;
    if (!rc && nd) {
        it.dest = ut_calloc(nd, sizeof *it.dest);
        if (!it.dest) rc = UT_ENOMEM;
    }
    for (uint64_t d = 0; !rc && d < nd; d++, it.ndest++) rc = rd_rel(r, &it.dest[d]);
    if (!rc) rc = org__item_alloc_state(&it);
    if (!rc && !it.reason[0]) {
        ut_free(it.reason);
        it.reason = NULL;
    }
    if (!rc) return org__plan_push(p, &it);
    org__item_free_fields(&it);
    return rc;
}

static int push_str(char ***arr, size_t *n, char *s) {
    char **a = ut_realloc(*arr, (*n + 1) * sizeof **arr);
    if (!a) return UT_ENOMEM;
    *arr = a;
    a[(*n)++] = s;
    return UT_OK;
}

static int rd_rmdir_plan(reader *r, org_plan *p) {
    char *rel = NULL;
    uint64_t mode;
    int rc = rd_rel(r, &rel);
    if (!rc) rc = get_u64(r, &mode);
    if (!rc && mode > 07777) rc = UT_EFORMAT;
    uint32_t *m = rc ? NULL : ut_realloc(p->rmdir_mode, (p->nrmdirs + 1) * sizeof *m);
    uint8_t *dn = m ? ut_realloc(p->rmdir_done, p->nrmdirs + 1) : NULL;
    if (m) p->rmdir_mode = m;
    if (dn) p->rmdir_done = dn;
    if (!rc && (!m || !dn)) rc = UT_ENOMEM;
    if (!rc) {
        m[p->nrmdirs] = (uint32_t)mode;
        dn[p->nrmdirs] = 0;
        rc = push_str(&p->rmdirs, &p->nrmdirs, rel);
    }
    if (rc) ut_free(rel);
    return rc;
}

static int rd_index(reader *r, const org_plan *p, org__item **it) {
    uint64_t idx;
    int rc = get_u64(r, &idx);
    if (rc) return rc;
    if (idx >= p->nitems) return UT_EFORMAT;
    *it = &p->items[idx];
    return UT_OK;
}

/* Copy intent or done: idx, d and a destination or hash. */
static int rd_copy(reader *r, org_plan *p, int done) {
    org__item *it;
    uint64_t d;
    char *s = NULL;
    int rc = rd_index(r, p, &it);
    if (!rc) rc = get_u64(r, &d);
    if (!rc && (d >= it->ndest || it->action == ORG_LEAVE || it->action == ORG_SKIP)) rc = UT_EFORMAT;
    if (!rc) rc = done ? get_str(r, &s) : rd_rel(r, &s);
    if (rc) return rc;
    if (done) {
        if (!is_hex64(s) || !it->copy_intent[d]) rc = UT_EFORMAT;
        else {
            memcpy(it->got_sha, s, 65);
            it->copied[d] = 1;
        }
        ut_free(s);
        return rc;
    }
    if (it->copied[d]) {
        ut_free(s);
        return UT_EFORMAT;
    }
    ut_free(it->dest[d]);
    it->dest[d] = s;
    it->copy_intent[d] = 1;
    return UT_OK;
}

static int rd_move(reader *r, org_plan *p) {
    org__item *it;
    char *s = NULL;
    int rc = rd_index(r, p, &it);
    if (!rc && it->action != ORG_MOVE) rc = UT_EFORMAT;
    if (!rc) rc = rd_rel(r, &s);
    if (rc) return rc;
    ut_free(it->dest[0]);
    it->dest[0] = s;
    it->move_intent = 1;
    return UT_OK;
}

static int rd_flag(reader *r, org_plan *p, int type) {
    org__item *it;
    int rc = rd_index(r, p, &it);
    if (rc) return rc;
    if (type == J_MOVED) {
        if (!it->move_intent) return UT_EFORMAT;
        it->moved = it->finished = 1;
    } else if (type == J_FINISHED) {
        if (it->action != ORG_COPY && it->action != ORG_MOVE) return UT_EFORMAT;
        it->finished = 1;
    } else {
        it->undone = 1;
    }
    return UT_OK;
}

static int rd_skipped(reader *r, org_plan *p) {
    org__item *it;
    char *why = NULL;
    int rc = rd_index(r, p, &it);
    if (!rc) rc = get_str(r, &why);
    if (rc) return rc;
    ut_free(it->reason);
    it->reason = why;
    it->skipped = it->finished = 1;
    return UT_OK;
}

/* Apply one execution record to the replayed state. */
static int apply_exec(reader *r, org_plan *p, uint8_t type) {
    uint64_t v;
    char *s = NULL;
    int rc;
    switch (type) {
    case J_MKDIR:
        rc = rd_rel(r, &s);
        if (!rc) rc = push_str(&p->mkdirs, &p->nmkdirs, s);
        if (rc) ut_free(s);
        return rc;
    case J_MOVE: return rd_move(r, p);
    case J_COPY: return rd_copy(r, p, 0);
    case J_COPIED: return rd_copy(r, p, 1);
    case J_MOVED: case J_FINISHED: case J_UNDONE: return rd_flag(r, p, type);
    case J_SKIPPED: return rd_skipped(r, p);
    case J_RMDIR:
        rc = get_u64(r, &v);
        if (!rc && v >= p->nrmdirs) rc = UT_EFORMAT;
        if (!rc) p->rmdir_done[v] = 1;
        return rc;
    case J_DONE: p->done = 1; return UT_OK;
    case J_UNDO: p->undoing = 1; return UT_OK;
    default: return UT_EFORMAT;
    }
}

/* Apply one record; the plan phase (before J_BEGIN) admits only plan records. */
static int apply(reader *r, org_plan *p, uint64_t *want_items, uint64_t *want_rmdirs) {
    uint8_t type;
    int rc = get_u8(r, &type);
    if (rc) return rc;
    if (p->src == NULL) {
        if (type != J_PLAN) return UT_EFORMAT;
        rc = get_str(r, &p->src);
        if (!rc) rc = get_str(r, &p->out);
        if (!rc) rc = get_u64(r, want_items);
        if (!rc) rc = get_u64(r, want_rmdirs);
        if (!rc && (p->src[0] != '/' || p->out[0] != '/')) rc = UT_EFORMAT;
        return rc;
    }
    if (!p->begun) {
        if (type == J_ITEM && p->nitems < *want_items) return rd_item(r, p);
        if (type == J_RMDIR_PLAN && p->nitems == *want_items && p->nrmdirs < *want_rmdirs)
            return rd_rmdir_plan(r, p);
        if (type == J_BEGIN && p->nitems == *want_items && p->nrmdirs == *want_rmdirs) {
            p->begun = 1;
            return UT_OK;
        }
        return UT_EFORMAT;
    }
    if (p->undoing && type != J_UNDONE && type != J_UNDO) return UT_EFORMAT;
    return apply_exec(r, p, type);
}

static int all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

int org__journal_parse(const uint8_t *buf, size_t len, org_plan **plan, size_t *valid_len) {
    *plan = NULL;
    *valid_len = 0;
    size_t ml = strlen(ORG_JOURNAL_MAGIC);
    if (memcmp(buf, ORG_JOURNAL_MAGIC, len < ml ? len : ml) != 0)
        return ut_fail(UT_EFORMAT, "not a kadr journal (bad magic)");
    org_plan *p = org__plan_alloc();
    if (!p) return ut_fail(UT_ENOMEM, "out of memory reading the journal");
    if (len < ml) { /* torn at creation: an empty run */
        *plan = p;
        return UT_OK;
    }
    uint64_t want_items = 0, want_rmdirs = 0;
    size_t at = ml, nrec = 0;
    int rc = UT_OK;
    while (at < len) {
        size_t left = len - at;
        uint32_t n = 0, inv = 0;
        if (left < HEAD) break; /* torn header at the end */
        for (int i = 0; i < 4; i++) n |= (uint32_t)buf[at + i] << (8 * i);
        for (int i = 0; i < 4; i++) inv |= (uint32_t)buf[at + 4 + i] << (8 * i);
        if (n != ~inv) {
            if (all_zero(buf + at, left)) break; /* torn append left zeros */
            rc = ut_fail(UT_EFORMAT, "journal record %zu at offset %zu: bad record header", nrec, at);
            break;
        }
        if (n > ORG_JOURNAL_MAX_RECORD) {
            rc = ut_fail(UT_EFORMAT, "journal record %zu at offset %zu: length %u too large", nrec, at, n);
            break;
        }
        if ((size_t)n > left - HEAD) break; /* torn body at the end */
        uint8_t sum[8];
        checksum(buf + at + HEAD, n, sum);
        if (memcmp(sum, buf + at + 8, 8) != 0) {
            if (at + HEAD + n == len) break; /* torn last record */
            rc = ut_fail(UT_EFORMAT, "journal record %zu at offset %zu: checksum mismatch", nrec, at);
            break;
        }
        reader r = {buf + at + HEAD, n, 0};
        rc = apply(&r, p, &want_items, &want_rmdirs);
        if (!rc && r.at != r.n) rc = UT_EFORMAT;
        if (rc == UT_ENOMEM) {
            rc = ut_fail(rc, "out of memory reading the journal");
            break;
        }
        if (rc) {
            rc = ut_fail(UT_EFORMAT, "journal record %zu (type %u) at offset %zu: malformed or out of order", nrec,
                         n ? buf[at + HEAD] : 0u, at);
            break;
        }
        at += HEAD + n;
        nrec++;
    }
    if (rc) {
        org_plan_destroy(p);
        return rc;
    }
    *valid_len = at;
    *plan = p;
    return UT_OK;
}

/* ---- files ----------------------------------------------------------------- */

static int write_plan(org__journal *j, const org_plan *p) {
    int rc = org__jrec(j, 0, J_PLAN, "ssuu", p->src, p->out, (uint64_t)p->nitems, (uint64_t)p->nrmdirs);
    for (size_t i = 0; !rc && i < p->nitems; i++) {
        const org__item *it = &p->items[i];
        rc = org__jrec(j, 0, J_ITEM, "ubbssuusL", (uint64_t)i, it->action, it->keep_src, it->rel,
                       it->reason ? it->reason : "", it->size, (uint64_t)it->mtime_ns, it->sha,
                       (uint64_t)it->ndest, it->dest);
    }
    for (size_t i = 0; !rc && i < p->nrmdirs; i++)
        rc = org__jrec(j, 0, J_RMDIR_PLAN, "su", p->rmdirs[i], (uint64_t)p->rmdir_mode[i]);
    return rc;
}

int org__journal_create(org__journal *j, const char *state_dir, const org_plan *p) {
    j->fd = -1;
    j->path = NULL;
    int rc = ut_mkdirs(state_dir);
    if (rc) return ut_failf_wrap(rc, "creating state folder %s", state_dir);
    j->path = org__join(state_dir, ORG_JOURNAL_NAME);
    if (!j->path) return ut_fail(UT_ENOMEM, "out of memory");
    j->fd = open(j->path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (j->fd < 0 && errno == EEXIST)
        return ut_fail(UT_EEXIST, "%s holds an earlier run's journal: resume or undo it first", state_dir);
    if (j->fd < 0) return org__errno_fail(errno, "creating the journal", j->path);
    if (flock(j->fd, LOCK_EX | LOCK_NB) < 0) return ut_fail(UT_EBUSY, "journal %s is in use", j->path);
    rc = write_all(j->fd, ORG_JOURNAL_MAGIC, strlen(ORG_JOURNAL_MAGIC)) ? UT_EIO : UT_OK;
    if (rc) return org__errno_fail(errno, "writing the journal", j->path);
    rc = write_plan(j, p);
    if (!rc) rc = org__jrec(j, 1, J_BEGIN, "");
    if (!rc) rc = org__fsync_dir(state_dir);
    return rc;
}

static int read_whole(int fd, const char *path, uint8_t **buf, size_t *len) {
    struct stat st;
    if (fstat(fd, &st) < 0) return org__errno_fail(errno, "reading the journal", path);
    *len = (size_t)st.st_size;
    *buf = ut_malloc(*len + 1);
    if (!*buf) return ut_fail(UT_ENOMEM, "out of memory reading the journal");
    size_t got = 0;
    while (got < *len) {
        ssize_t r = pread(fd, *buf + got, *len - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return org__errno_fail(r < 0 ? errno : EIO, "reading the journal", path);
        got += (size_t)r;
    }
    return UT_OK;
}

int org__journal_open(org__journal *j, const char *state_dir, org_plan **plan) {
    *plan = NULL;
    j->path = org__join(state_dir, ORG_JOURNAL_NAME);
    if (!j->path) return ut_fail(UT_ENOMEM, "out of memory");
    j->fd = open(j->path, O_RDWR | O_APPEND | O_CLOEXEC);
    if (j->fd < 0 && errno == ENOENT) return ut_fail(UT_ENOENT, "no journal in %s: nothing to resume or undo", state_dir);
    if (j->fd < 0) return org__errno_fail(errno, "opening the journal", j->path);
    if (flock(j->fd, LOCK_EX | LOCK_NB) < 0) return ut_fail(UT_EBUSY, "journal %s is in use by another run", j->path);
    uint8_t *buf = NULL;
    size_t len = 0, valid = 0;
    int rc = read_whole(j->fd, j->path, &buf, &len);
    if (!rc) rc = org__journal_parse(buf, len, plan, &valid);
    ut_free(buf);
    if (rc) return ut_failf_wrap(rc, "journal %s", j->path);
    if (valid < len && (ftruncate(j->fd, (off_t)valid) < 0 || fdatasync(j->fd) < 0))
        return org__errno_fail(errno, "cutting the torn end of the journal", j->path);
    return UT_OK;
}

void org__journal_close(org__journal *j) {
    if (j->fd >= 0) close(j->fd);
    j->fd = -1;
    ut_free(j->path);
    j->path = NULL;
}

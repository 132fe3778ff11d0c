/* plan.c -- deciding what happens to every photo, without touching anything.
 *
 * org_plan_add() classifies one photo: it is skipped (with the reason) when
 * its path leaves the root, lies under an "общие" folder, goes through a
 * symlink, is a symlink, is not a regular readable image, or a folder it
 * would leave or enter is read-only; otherwise it gets one destination per
 * person. Destination names never collide, neither with files already on disk
 * nor with other planned destinations ("x (2).jpg", "x (3).jpg", ...), and a
 * photo already in one of its people's folders stays put.
 *
 * org_plan_finish() then finds the source folders that will be empty once the
 * photos have left: every entry is a departing photo or a folder that will
 * itself be empty. Non-image files, skipped photos, subfolders with anything
 * in them, the root and destination folders keep a folder alive.
 */
#include "organize_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

org_plan *org__plan_alloc(void) {
    return ut_calloc(1, sizeof(org_plan));
}

int org__item_alloc_state(org__item *it) {
    size_t n = it->ndest ? it->ndest : 1;
    it->copy_intent = ut_calloc(n, 1);
    it->copied = ut_calloc(n, 1);
    return it->copy_intent && it->copied ? UT_OK : UT_ENOMEM;
}

void org__item_free_fields(org__item *it) {
    ut_free(it->rel);
    ut_free(it->reason);
    for (size_t d = 0; d < it->ndest; d++) ut_free(it->dest[d]);
    ut_free(it->dest);
    ut_free(it->copy_intent);
    ut_free(it->copied);
}

int org__plan_push(org_plan *p, org__item *it) {
    if (p->nitems == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        org__item *items = ut_realloc(p->items, cap * sizeof *items);
        if (!items) return UT_ENOMEM;
        p->items = items;
        p->cap = cap;
    }
    p->items[p->nitems++] = *it;
    return UT_OK;
}

void org_plan_destroy(org_plan *p) {
    if (!p) return;
    for (size_t i = 0; i < p->nitems; i++) org__item_free_fields(&p->items[i]);
    ut_free(p->items);
    for (size_t i = 0; i < p->nrmdirs; i++) ut_free(p->rmdirs[i]);
    for (size_t i = 0; i < p->nmkdirs; i++) ut_free(p->mkdirs[i]);
    ut_free(p->rmdirs);
    ut_free(p->rmdir_mode);
    ut_free(p->rmdir_done);
    ut_free(p->mkdirs);
    org__set_free(&p->taken);
    org__set_free(&p->seen);
    ut_free(p->src);
    ut_free(p->out);
    ut_free(p);
}

/* An absolute, normalised form of a path that may not exist yet. */
static int absolute(const char *path, char **out) {
    char real[PATH_MAX];
    if (realpath(path, real)) {
        *out = ut_strdup(real);
        return *out ? UT_OK : ut_fail(UT_ENOMEM, "out of memory");
    }
    char cwd[PATH_MAX];
    if (path[0] != '/' && !getcwd(cwd, sizeof cwd)) return org__errno_fail(errno, "resolving", path);
    char *full = path[0] == '/' ? ut_strdup(path) : org__join(cwd, path);
    if (!full) return ut_fail(UT_ENOMEM, "out of memory");
    int rc = ut_path_normalize(full, out);
    ut_free(full);
    return rc;
}

int org_plan_create(const char *src, const char *out, org_plan **plan) {
    *plan = NULL;
    struct stat st;
    if (stat(src, &st) < 0) return org__errno_fail(errno, "library folder", src);
    if (!S_ISDIR(st.st_mode)) return ut_fail(UT_EINVAL, "%s is not a folder", src);
    org_plan *p = org__plan_alloc();
    if (!p) return ut_fail(UT_ENOMEM, "out of memory");
    int rc = absolute(src, &p->src);
    if (!rc) rc = absolute(out ? out : src, &p->out);
    if (!rc && org__exists(p->out) && (stat(p->out, &st) < 0 || !S_ISDIR(st.st_mode)))
        rc = ut_fail(UT_EINVAL, "output %s is not a folder", p->out);
    if (rc) {
        org_plan_destroy(p);
        return rc;
    }
    *plan = p;
    return UT_OK;
}

static int valid_person(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > 255 || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return ut_fail(UT_EINVAL, "person folder name '%s' is not a valid folder name", name);
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        if (*c < 0x20 || *c == 0x7f) return ut_fail(UT_EINVAL, "person folder name has a control character");
    if (org_is_shared_folder(name))
        return ut_fail(UT_EINVAL, "person folder name '%s' is reserved for shared photos", name);
    if (strncmp(name, ".kadr", 5) == 0)
        return ut_fail(UT_EINVAL, "person folder name '%s' is reserved for kadr's own files", name);
    return UT_OK;
}

/* Skip reason for the path itself, or NULL if it may be sorted. Checks each
 * component with lstat so nothing is ever followed through a symlink. */
static char *path_problem(const org_plan *p, const char *rel, struct stat *st) {
    if (rel[0] == '/' || strcmp(rel, ".") == 0) return ut_strdup("outside the library root");
    ut_buf walk = {0};
    char *why = NULL;
    if (ut_buf_puts(&walk, p->src)) return ut_strdup("out of memory");
    for (const char *c = rel; *c && !why;) {
        const char *e = strchr(c, '/');
        size_t n = e ? (size_t)(e - c) : strlen(c);
        char name[NAME_MAX + 1];
        snprintf(name, sizeof name, "%.*s", (int)(n < NAME_MAX ? n : NAME_MAX), c);
        if (e && org_is_shared_folder(name)) why = ut_strdup("in a shared folder (общие), not touched");
        else if (ut_buf_puts(&walk, "/") || ut_buf_append(&walk, c, n)) why = ut_strdup("out of memory");
        else if (lstat(walk.data, st) < 0) why = ut_asprintf("cannot access: %s", strerror(errno));
        else if (S_ISLNK(st->st_mode)) why = ut_strdup(e ? "path goes through a symlink, left in place" : "symlink, left in place");
        else if (e && !S_ISDIR(st->st_mode)) why = ut_strdup("not found");
        c += n + (e ? 1 : 0);
    }
    if (!why && !S_ISREG(st->st_mode)) why = ut_strdup("not a regular file");
    else if (!why && !org_is_image_name(rel)) why = ut_strdup("not an image, left in place");
    if (!why) {
        int fd = open(walk.data, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) why = ut_asprintf("cannot read: %s", strerror(errno));
        else close(fd);
    }
    ut_buf_free(&walk);
    return why;
}

/* Is the folder (or, if missing, its nearest existing ancestor) writable? */
static int writable(const char *dir) {
    char *d = ut_strdup(dir);
    while (d && !org__exists(d) && strcmp(d, "/") != 0) {
        char *up = org__dirname(d);
        ut_free(d);
        d = up;
    }
    int ok = d && access(d, W_OK) == 0;
    ut_free(d);
    return ok;
}

/* Skip reason for the folders the photo would leave or enter. */
static char *folder_problem(const org_plan *p, const char *rel, const char *const *people, size_t n) {
    char *abs = org__join(p->src, rel), *dir = abs ? org__dirname(abs) : NULL;
    char *why = NULL;
    if (!dir) why = ut_strdup("out of memory");
    else if (!writable(dir)) why = ut_strdup("its folder is read-only, left in place");
    for (size_t i = 0; i < n && !why; i++) {
        char *pd = org__join(p->out, people[i]);
        struct stat st;
        if (!pd) why = ut_strdup("out of memory");
        else if (lstat(pd, &st) == 0 && !S_ISDIR(st.st_mode))
            why = ut_asprintf("destination %s is not a folder, left in place", people[i]);
        else if (!writable(pd)) why = ut_asprintf("destination folder %s is read-only, left in place", people[i]);
        ut_free(pd);
    }
    ut_free(abs);
    ut_free(dir);
    return why;
}

/* A free destination for rel's file name in person's folder. */
static int pick_name(org_plan *p, const char *person, const char *rel, char **out) {
    char *first = org__join(person, org__basename(rel)), *cand = first ? ut_strdup(first) : NULL;
    for (int n = 2; cand; n++) {
        char *abs = org__join(p->out, cand);
        int taken = !abs || org__set_has(&p->taken, cand) || org__exists(abs);
        ut_free(abs);
        if (!taken) break;
        ut_free(cand);
        cand = org__clash_name(first, n);
    }
    ut_free(first);
    if (!cand || org__set_add(&p->taken, cand)) {
        ut_free(cand);
        return ut_fail(UT_ENOMEM, "out of memory planning names");
    }
    *out = cand;
    return UT_OK;
}

/* 1 if out/person/<name> is the photo itself (already sorted). */
static int in_place(const org_plan *p, const char *person, const char *rel) {
    char *a = ut_asprintf("%s/%s/%s", p->out, person, org__basename(rel));
    char *b = org__join(p->src, rel);
    int same = a && b && strcmp(a, b) == 0;
    ut_free(a);
    ut_free(b);
    return same;
}

static int skip_item(org_plan *p, org__item *it, char *why) {
    it->action = ORG_SKIP;
    it->reason = why ? why : ut_strdup("skipped");
    if (!it->reason || org__item_alloc_state(it) || org__plan_push(p, it)) {
        org__item_free_fields(it);
        return ut_fail(UT_ENOMEM, "out of memory");
    }
    return UT_OK;
}

/* Distinct people in order; the array is the caller's, names are not copied. */
static size_t unique_people(const char *const *people, size_t n, const char **out) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < k && strcmp(out[j], people[i]) != 0) j++;
        if (j == k) out[k++] = people[i];
    }
    return k;
}

static int assign(org_plan *p, org__item *it, const char **who, size_t n) {
    it->dest = ut_calloc(n ? n : 1, sizeof *it->dest);
    if (!it->dest) return UT_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (in_place(p, who[i], it->rel)) {
            it->keep_src = 1;
            continue;
        }
        int rc = pick_name(p, who[i], it->rel, &it->dest[it->ndest]);
        if (rc) return rc;
        it->ndest++;
    }
    if (it->ndest == 0) {
        it->action = ORG_LEAVE;
        it->reason = ut_strdup(n ? "already in its person's folder" : "no people found");
        it->keep_src = 0;
        return it->reason ? UT_OK : UT_ENOMEM;
    }
    it->action = it->ndest == 1 && !it->keep_src ? ORG_MOVE : ORG_COPY;
    return UT_OK;
}

int org_plan_add(org_plan *p, const char *path, const char *const *people, size_t npeople,
                 const char *sha256_hex) {
    if (p->finished) return ut_fail(UT_ESTATE, "the plan is finished; no more photos can be added");
    for (size_t i = 0; i < npeople; i++) {
        int rc = valid_person(people[i]);
        if (rc) return rc;
    }
    if (sha256_hex && (strlen(sha256_hex) != 64 || strspn(sha256_hex, "0123456789abcdefABCDEF") != 64))
        return ut_fail(UT_EINVAL, "sha256 must be 64 hex digits");
    org__item it = {0};
    char *norm = NULL;
    if (ut_path_normalize(path, &norm) || norm[0] == '/') {
        ut_free(norm);
        it.rel = ut_strdup(path);
        return it.rel ? skip_item(p, &it, ut_strdup("outside the library root")) : ut_fail(UT_ENOMEM, "out of memory");
    }
    it.rel = norm;
    if (org__set_has(&p->seen, norm)) return skip_item(p, &it, ut_strdup("listed twice; kept the first entry"));
    if (org__set_add(&p->seen, norm)) return skip_item(p, &it, NULL);
    struct stat st;
    char *why = path_problem(p, norm, &st);
    const char **who = ut_calloc(npeople ? npeople : 1, sizeof *who);
    size_t n = who ? unique_people(people, npeople, who) : 0;
    if (!why && n) why = folder_problem(p, norm, who, n);
    if (why || !who) {
        ut_free(who);
        return skip_item(p, &it, why);
    }
    it.size = (uint64_t)st.st_size;
    it.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    if (sha256_hex)
        for (int i = 0; i < 65; i++) it.sha[i] = (char)(i < 64 && sha256_hex[i] >= 'A' && sha256_hex[i] <= 'F' ? sha256_hex[i] + 32 : sha256_hex[i]);
    int rc = assign(p, &it, who, n);
    ut_free(who);
    if (!rc) rc = org__item_alloc_state(&it);
    if (!rc) rc = org__plan_push(p, &it);
    if (rc) {
        org__item_free_fields(&it);
        return ut_fail(UT_ENOMEM, "out of memory planning %s", path);
    }
    return UT_OK;
}

/* ---- emptied folders ---------------------------------------------------------- */

static int depth(const char *rel) {
    int d = 0;
    for (; *rel; rel++) d += *rel == '/';
    return d;
}

static int deeper_first(const void *a, const void *b) {
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    int dx = depth(x), dy = depth(y);
    return dx != dy ? dy - dx : strcmp(x, y);
}

static int leaves_original(const org__item *it) {
    return it->action == ORG_MOVE || (it->action == ORG_COPY && !it->keep_src);
}

/* Add d and its ancestors (relative, not ".") to seen and cand. */
static int add_ancestors(char *d, org__set *seen, char ***cand, size_t *ncand) {
    int rc = UT_OK;
    while (!rc && d && strcmp(d, ".") != 0) {
        rc = org__set_add(seen, d);
        if (rc == UT_EEXIST) break; /* its ancestors are in already */
        char **c = rc ? NULL : ut_realloc(*cand, (*ncand + 1) * sizeof **cand);
        if (!rc && !c) rc = UT_ENOMEM;
        if (!rc) {
            *cand = c;
            c[(*ncand)++] = d;
            d = org__dirname(d);
            if (!d) rc = UT_ENOMEM;
        }
    }
    if (rc == UT_EEXIST || (d && rc)) {
        ut_free(d);
        return rc == UT_EEXIST ? UT_OK : rc;
    }
    ut_free(d);
    return rc;
}

/* Every ancestor folder (relative to src) of the photos that leave. */
static int collect_candidates(const org_plan *p, org__set *going, char ***cand, size_t *ncand) {
    org__set seen = {0};
    int rc = UT_OK;
    for (size_t i = 0; i < p->nitems && !rc; i++) {
        if (!leaves_original(&p->items[i])) continue;
        rc = org__set_add(going, p->items[i].rel);
        if (rc) break;
        char *d = org__dirname(p->items[i].rel);
        rc = d ? add_ancestors(d, &seen, cand, ncand) : UT_ENOMEM;
    }
    org__set_free(&seen);
    return rc;
}

/* Absolute paths of every folder that receives photos, and its ancestors. */
static int collect_dest_dirs(const org_plan *p, org__set *dest_dirs) {
    for (size_t i = 0; i < p->nitems; i++)
        for (size_t d = 0; d < p->items[i].ndest; d++) {
            char *abs = org__join(p->out, p->items[i].dest[d]);
            char *dir = abs ? org__dirname(abs) : NULL;
            int rc = dir ? UT_OK : UT_ENOMEM;
            ut_free(abs);
            while (!rc && strcmp(dir, "/") != 0 && (rc = org__set_add(dest_dirs, dir)) == UT_OK) {
                char *up = org__dirname(dir);
                ut_free(dir);
                dir = up;
                if (!dir) rc = UT_ENOMEM;
            }
            ut_free(dir);
            if (rc == UT_ENOMEM) return rc;
        }
    return UT_OK;
}

/* Will folder rel (relative to src) be empty once the photos have left? */
static int becomes_empty(const org_plan *p, const char *rel, const org__set *going, const org__set *empty) {
    char *abs = org__join(p->src, rel);
    DIR *dir = abs ? opendir(abs) : NULL;
    ut_free(abs);
    if (!dir) return 0;
    int ok = 1;
    struct dirent *e;
    while (ok && (e = readdir(dir))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char *child = org__join(rel, e->d_name);
        ok = child && (org__set_has(going, child) || org__set_has(empty, child));
        ut_free(child);
    }
    closedir(dir);
    return ok;
}

static int add_rmdir(org_plan *p, const char *rel) {
    char *abs = org__join(p->src, rel);
    struct stat st;
    uint32_t mode = abs && stat(abs, &st) == 0 ? (uint32_t)(st.st_mode & 07777) : 0755;
    ut_free(abs);
    char **r = ut_realloc(p->rmdirs, (p->nrmdirs + 1) * sizeof *r);
    if (r) p->rmdirs = r;
    uint32_t *m = r ? ut_realloc(p->rmdir_mode, (p->nrmdirs + 1) * sizeof *m) : NULL;
    if (m) p->rmdir_mode = m;
    uint8_t *dn = m ? ut_realloc(p->rmdir_done, p->nrmdirs + 1) : NULL;
    if (dn) p->rmdir_done = dn;
    char *copy = dn ? ut_strdup(rel) : NULL;
    if (!copy) return UT_ENOMEM;
    p->rmdirs[p->nrmdirs] = copy;
    p->rmdir_mode[p->nrmdirs] = mode;
    p->rmdir_done[p->nrmdirs++] = 0;
    return UT_OK;
}

int org_plan_finish(org_plan *p) {
    if (p->finished) return UT_OK;
    org__set going = {0}, empty = {0}, dest_dirs = {0};
    char **cand = NULL;
    size_t ncand = 0;
    int rc = collect_candidates(p, &going, &cand, &ncand);
    if (!rc) rc = collect_dest_dirs(p, &dest_dirs);
    if (!rc && ncand) qsort(cand, ncand, sizeof *cand, deeper_first);
    for (size_t i = 0; i < ncand && !rc; i++) {
        char *abs = org__join(p->src, cand[i]);
        int keep = !abs || org__set_has(&dest_dirs, abs);
        ut_free(abs);
        if (keep || !becomes_empty(p, cand[i], &going, &empty)) continue;
        rc = org__set_add(&empty, cand[i]);
        if (!rc) rc = add_rmdir(p, cand[i]);
    }
    for (size_t i = 0; i < ncand; i++) ut_free(cand[i]);
    ut_free(cand);
    org__set_free(&going);
    org__set_free(&empty);
    org__set_free(&dest_dirs);
    if (rc) return ut_fail(UT_ENOMEM, "out of memory finishing the plan");
    p->finished = 1;
    return UT_OK;
}

/* ---- reading the plan -------------------------------------------------------- */

size_t org_plan_count(const org_plan *p) { return p->nitems; }
size_t org_plan_rmdir_count(const org_plan *p) { return p->nrmdirs; }
const char *org_plan_rmdir(const org_plan *p, size_t i) { return i < p->nrmdirs ? p->rmdirs[i] : NULL; }
const char *org_plan_src(const org_plan *p) { return p->src; }
const char *org_plan_out(const org_plan *p) { return p->out; }

int org_plan_item(const org_plan *p, size_t i, org_item *item) {
    if (i >= p->nitems) return ut_fail(UT_ERANGE, "plan item %zu of %zu", i, p->nitems);
    const org__item *it = &p->items[i];
    *item = (org_item){it->rel, it->action, it->reason, (const char *const *)it->dest, it->ndest, it->keep_src};
    return UT_OK;
}

void org_plan_summary(const org_plan *p, org_summary *s) {
    *s = (org_summary){0};
    for (size_t i = 0; i < p->nitems; i++) {
        const org__item *it = &p->items[i];
        if (it->action == ORG_MOVE) s->photos_moved++;
        else if (it->action == ORG_COPY) s->photos_copied++, s->copies_total += it->ndest;
        else if (it->action == ORG_LEAVE) s->photos_left++;
        else s->photos_skipped++;
    }
    s->folders_emptied = p->nrmdirs;
}

static const char *action_name(int a) {
    static const char *const names[] = {"leave", "move", "copy", "skip"};
    return a >= 0 && a <= ORG_SKIP ? names[a] : "?";
}

void org_plan_print(const org_plan *p, FILE *f, int verbose) {
    org_summary s;
    org_plan_summary(p, &s);
    fprintf(f, "Plan for %s -> %s\n", p->src, p->out);
    fprintf(f, "  %zu photos moved, %zu copied into several folders (%zu copies), %zu left in place, "
               "%zu skipped, %zu folders emptied\n",
            s.photos_moved, s.photos_copied, s.copies_total, s.photos_left, s.photos_skipped, s.folders_emptied);
    if (!verbose) return;
    for (size_t i = 0; i < p->nitems; i++) {
        const org__item *it = &p->items[i];
        fprintf(f, "%-5s %s", action_name(it->action), it->rel);
        for (size_t d = 0; d < it->ndest; d++) fprintf(f, "%s%s", d ? ", " : " -> ", it->dest[d]);
        if (it->keep_src) fprintf(f, " (original stays)");
        if (it->reason) fprintf(f, " (%s)", it->reason);
        fputc('\n', f);
    }
    for (size_t i = 0; i < p->nrmdirs; i++) fprintf(f, "rmdir %s\n", p->rmdirs[i]);
}

static json_t *item_json(const org__item *it) {
    json_t *o = json_object(), *to = json_array();
    if (!o || !to) {
        json_decref(o);
        json_decref(to);
        return NULL;
    }
    for (size_t d = 0; d < it->ndest; d++) json_array_append_new(to, json_string(it->dest[d]));
    json_object_set_new(o, "path", json_string(it->rel));
    json_object_set_new(o, "action", json_string(action_name(it->action)));
    json_object_set_new(o, "to", to);
    if (it->reason) json_object_set_new(o, "reason", json_string(it->reason));
    if (it->keep_src) json_object_set_new(o, "keep_original", json_true());
    return o;
}

int org_plan_to_json(const org_plan *p, json_t **out) {
    org_summary s;
    org_plan_summary(p, &s);
    json_t *photos = json_array(), *dirs = json_array();
    json_t *root = json_pack("{ss ss s{sI sI sI sI sI sI} so so}", "src", p->src, "out", p->out, "summary",
                             "photos_moved", (json_int_t)s.photos_moved, "photos_copied",
                             (json_int_t)s.photos_copied, "copies_total", (json_int_t)s.copies_total,
                             "photos_left", (json_int_t)s.photos_left, "photos_skipped",
                             (json_int_t)s.photos_skipped, "folders_emptied", (json_int_t)s.folders_emptied,
                             "photos", photos, "remove_folders", dirs);
    /* json_pack's "o" steals photos and dirs even when it fails. */
    int rc = root ? UT_OK : UT_ENOMEM;
    for (size_t i = 0; i < p->nitems && !rc; i++)
        if (json_array_append_new(photos, item_json(&p->items[i]))) rc = UT_ENOMEM;
    for (size_t i = 0; i < p->nrmdirs && !rc; i++)
        if (json_array_append_new(dirs, json_string(p->rmdirs[i]))) rc = UT_ENOMEM;
    if (rc) {
        json_decref(root);
        return ut_fail(UT_ENOMEM, "out of memory building the plan's JSON");
    }
    *out = root;
    return UT_OK;
}

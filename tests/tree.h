/* tree.h -- helpers for tests that change photo trees: build them, take a
 * manifest (every path -> SHA-256, folders and symlinks too) to compare
 * layouts byte for byte, and count leftover temp files. Header-only so each
 * test executable stays one file. */
#ifndef KADR_TEST_TREE_H
#define KADR_TEST_TREE_H


#include "test.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Write content (len bytes, or strlen if len < 0) to root/rel, making folders. */
static inline int tree_put(const char *root, const char *rel, const char *content, long len) {
    char *path = ut_asprintf("%s/%s", root, rel);
    char *dir = ut_strdup(path);
    *strrchr(dir, '/') = 0;
    int rc = ut_mkdirs(dir);
    FILE *f = rc ? NULL : fopen(path, "wb");
    size_t n = len < 0 ? strlen(content) : (size_t)len;
    if (!f || fwrite(content, 1, n, f) != n) rc = -1;
    if (f && fclose(f)) rc = -1;
    ut_free(dir);
    ut_free(path);
    return rc;
}

static inline char *tree_path(const char *root, const char *rel) {
    static char buf[4][4096];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", root, rel);
    return buf[k];
}

static inline int tree_exists(const char *root, const char *rel) {
    struct stat st;
    return lstat(tree_path(root, rel), &st) == 0;
}

/* Content of root/rel as a string (caller frees), NULL if unreadable. */
static inline char *tree_get(const char *root, const char *rel) {
    FILE *f = fopen(tree_path(root, rel), "rb");
    if (!f) return NULL;
    ut_buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) ut_buf_append(&b, chunk, n);
    fclose(f);
    if (!b.data) ut_buf_puts(&b, "");
    return ut_buf_steal(&b);
}

/* ---- manifest ---------------------------------------------------------------- */

static char **man_lines;
static size_t man_n, man_cap, man_root_len;
static const char *man_skip;
static int man_tmp;

static void man_push(char *line) {
    if (man_n == man_cap) {
        man_cap = man_cap ? man_cap * 2 : 64;
        man_lines = realloc(man_lines, man_cap * sizeof *man_lines);
    }
    man_lines[man_n++] = line;
}

static int man_visit(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    const char *rel = path + man_root_len;
    if (*rel == '/') rel++;
    if (!*rel) return 0;
    if (man_skip && strncmp(rel, man_skip, strlen(man_skip)) == 0) return 0;
    if (strstr(rel, ".kadr-tmp") || strstr(rel, ".kadr-undo-tmp")) man_tmp++;
    if (type == FTW_D || type == FTW_DNR) {
        man_push(ut_asprintf("%s/ %o", rel, st->st_mode & 07777));
    } else if (type == FTW_SL || type == FTW_SLN) {
        char target[4096] = {0};
        ssize_t n = readlink(path, target, sizeof target - 1);
        man_push(ut_asprintf("%s -> %s", rel, n > 0 ? target : "?"));
    } else {
        char hex[65] = "unreadable";
        ut_sha256_file(path, hex);
        man_push(ut_asprintf("%s %s %o", rel, hex, st->st_mode & 07777));
    }
    return 0;
}

static int man_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One line per entry under root (sorted), skipping entries whose path starts
 * with skip (e.g. the state folder). Caller frees. */
static inline char *tree_manifest(const char *root, const char *skip) {
    man_n = 0;
    man_root_len = strlen(root);
    man_skip = skip;
    nftw(root, man_visit, 16, FTW_PHYS);
    if (man_n) qsort(man_lines, man_n, sizeof *man_lines, man_cmp);
    ut_buf b = {0};
    ut_buf_puts(&b, "");
    for (size_t i = 0; i < man_n; i++) {
        ut_buf_printf(&b, "%s\n", man_lines[i]);
        ut_free(man_lines[i]);
    }
    free(man_lines);
    man_lines = NULL;
    man_cap = man_n = 0;
    return ut_buf_steal(&b);
}

/* Number of temp files anywhere under root. */
static inline int tree_temps(const char *root) {
    man_tmp = 0;
    char *m = tree_manifest(root, NULL);
    ut_free(m);
    return man_tmp;
}

/* Print the first differing line of two manifests (for failing tests). */
static inline void tree_diff(const char *a, const char *b) {
    while (*a && *b) {
        const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
        if (!ea || !eb) break;
        if (ea - a != eb - b || memcmp(a, b, (size_t)(ea - a)) != 0) {
            fprintf(stderr, "  first difference:\n    %.*s\n    %.*s\n", (int)(ea - a), a, (int)(eb - b), b);
            return;
        }
        a = ea + 1;
        b = eb + 1;
    }
    fprintf(stderr, "  manifests differ in length:\n    %s\n    %s\n", *a ? a : "(end)", *b ? b : "(end)");
}

static int rm_visit(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    chmod(path, 0755);
    return remove(path) < 0 && errno != ENOENT;
}

static inline void tree_rm(const char *root) {
    nftw(root, rm_visit, 16, FTW_DEPTH | FTW_PHYS);
}

#endif

/* registry.c -- the installed-model registry (DATA/models/registry.tsv).
 *
 * The file is written by the installer, but it sits in a user-writable
 * directory, so the parser treats it as untrusted: every line must have
 * exactly six tab-separated fields, a 64-hex-digit sha256 and a name that
 * is a plain file name (it becomes part of a path). */
#include "vision_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

struct vis_registry {
    vis_model_entry *v;
    size_t n;
};

static void free_entry(vis_model_entry *e) {
    char **f[6] = {&e->name, &e->task, &e->package, &e->member, &e->sha256, &e->licence};
    for (int i = 0; i < 6; i++) ut_free(*f[i]);
}

void vis_registry_free(vis_registry *reg) {
    if (!reg) return;
    for (size_t i = 0; i < reg->n; i++) free_entry(&reg->v[i]);
    ut_free(reg->v);
    ut_free(reg);
}

static int valid_name(const char *s) {
    if (!*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.'))
            return 0;
    return 1;
}

static int valid_sha(const char *s) {
    if (strlen(s) != 64) return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) return 0;
    return 1;
}

/* Split one line (without its newline) into an entry. */
static int parse_line(const char *line, size_t len, int lineno, vis_model_entry *e) {
    const char *p = line, *end = line + len;
    char **f[6] = {&e->name, &e->task, &e->package, &e->member, &e->sha256, &e->licence};
    for (int i = 0; i < 6; i++) {
        const char *tab = memchr(p, '\t', (size_t)(end - p));
        const char *stop = i < 5 ? tab : end;
        if (!stop || (i == 5 && tab)) return ut_fail(UT_EFORMAT, "registry line %d: expected 6 tab-separated fields", lineno);
        if (!(*f[i] = ut_strndup(p, (size_t)(stop - p)))) return ut_fail(UT_ENOMEM, "out of memory");
        if (memchr(p, 0, (size_t)(stop - p))) return ut_fail(UT_EFORMAT, "registry line %d: NUL byte", lineno);
        p = stop + 1;
    }
    if (!valid_name(e->name)) return ut_fail(UT_EFORMAT, "registry line %d: bad model name", lineno);
    if (!valid_sha(e->sha256)) return ut_fail(UT_EFORMAT, "registry line %d: bad sha256", lineno);
    return UT_OK;
}

static int add_line(vis_registry *reg, const char *line, size_t len, int lineno) {
    if (len && line[len - 1] == '\r') len--;
    if (len == 0 || line[0] == '#') return UT_OK;
    vis_model_entry *v = ut_realloc(reg->v, (reg->n + 1) * sizeof *v);
    if (!v) return ut_fail(UT_ENOMEM, "out of memory reading the registry");
    reg->v = v;
    memset(&v[reg->n], 0, sizeof *v);
    int rc = parse_line(line, len, lineno, &v[reg->n]);
    if (rc) {
        free_entry(&v[reg->n]);
        return rc;
    }
    if (vis_registry_find(reg, v[reg->n].name)) {
        rc = ut_fail(UT_EFORMAT, "registry line %d: model %s listed twice", lineno, v[reg->n].name);
        free_entry(&v[reg->n]);
        return rc;
    }
    reg->n++;
    return UT_OK;
}

int vis_registry_parse(const char *text, size_t len, vis_registry **out) {
    *out = NULL;
    vis_registry *reg = ut_calloc(1, sizeof *reg);
    if (!reg) return ut_fail(UT_ENOMEM, "out of memory reading the registry");
    const char *p = text, *end = text + len;
    int lineno = 0, rc = UT_OK;
    while (p < end && rc == UT_OK) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        rc = add_line(reg, p, (size_t)(stop - p), ++lineno);
        p = stop + 1;
    }
    if (rc) {
        vis_registry_free(reg);
        return rc;
    }
    *out = reg;
    return UT_OK;
}

int vis_registry_load(const char *path, vis_registry **out) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return ut_fail(ut_from_errno(errno), "%s: %s (install the models with `make models`)", path, strerror(errno));
    ut_buf b = {0};
    char chunk[4096];
    size_t n;
    int rc = UT_OK;
    while (rc == UT_OK && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        rc = ut_buf_append(&b, chunk, n);
        if (b.len > (1u << 20)) rc = ut_fail(UT_ETOOBIG, "%s: larger than 1 MiB, not a registry", path);
    }
    fclose(f);
    if (!rc) rc = vis_registry_parse(b.data ? b.data : "", b.len, out);
    if (rc) ut_failf_wrap(rc, "%s", path);
    ut_buf_free(&b);
    return rc;
}

size_t vis_registry_count(const vis_registry *reg) { return reg ? reg->n : 0; }

const vis_model_entry *vis_registry_at(const vis_registry *reg, size_t i) {
    return reg && i < reg->n ? &reg->v[i] : NULL;
}

const vis_model_entry *vis_registry_find(const vis_registry *reg, const char *name) {
    for (size_t i = 0; reg && i < reg->n; i++)
        if (strcmp(reg->v[i].name, name) == 0) return &reg->v[i];
    return NULL;
}

int vis_model_check(const char *dir, const vis_model_entry *e, int *state) {
    char *path = ut_asprintf("%s/%s.onnx", dir, e->name);
    if (!path) return ut_fail(UT_ENOMEM, "out of memory");
    struct stat st;
    char hex[65];
    int rc = UT_OK;
    if (stat(path, &st) != 0) *state = VIS_MODEL_MISSING;
    else if ((rc = ut_sha256_file(path, hex)) == UT_OK) *state = strcmp(hex, e->sha256) ? VIS_MODEL_CORRUPT : VIS_MODEL_OK;
    ut_free(path);
    return rc;
}

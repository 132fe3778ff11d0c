/* names.c -- file and folder names: the "общие" rule, photo extensions,
 * clash names, and a small string set for planned names.
 *
 * Case folding is done here rather than with towlower(3) so the result does
 * not depend on the process locale: ASCII and the Cyrillic block (U+0400..
 * U+042F -> lower case) are folded, everything else compares as is.
 */
#include "organize_int.h"

#include <string.h>
#include <strings.h>

/* Decode one UTF-8 sequence; returns bytes used (0 on a bad sequence). */
static int utf8_next(const unsigned char *s, uint32_t *cp) {
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xe0) == 0xc0 && (s[1] & 0xc0) == 0x80) {
        *cp = ((uint32_t)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
        return 2;
    }
    if ((s[0] & 0xf0) == 0xe0 && (s[1] & 0xc0) == 0x80 && (s[2] & 0xc0) == 0x80) {
        *cp = ((uint32_t)(s[0] & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) | (s[2] & 0x3f);
        return 3;
    }
    return 0;
}

static uint32_t fold(uint32_t c) {
    if (c >= 'A' && c <= 'Z') return c + 32;
    if (c >= 0x410 && c <= 0x42f) return c + 0x20; /* А..Я -> а..я */
    if (c >= 0x400 && c <= 0x40f) return c + 0x50; /* Ѐ..Џ -> ѐ..џ */
    return c;
}

int org_is_shared_folder(const char *name) {
    static const uint32_t want[] = {0x43e, 0x431, 0x449, 0x438, 0x435}; /* о б щ и е */
    const unsigned char *s = (const unsigned char *)name;
    size_t k = 0;
    while (*s) {
        uint32_t c;
        int n = utf8_next(s, &c);
        if (n == 0 || k == 5 || fold(c) != want[k]) return 0;
        s += n;
        k++;
    }
    return k == 5;
}

int org_is_image_name(const char *name) {
    static const char *const ext[] = {"jpg", "jpeg", "jpe", "png", "webp", "tif", "tiff", "bmp",
                                      "gif", "heic", "heif", "avif", "jxl", NULL};
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name) return 0;
    for (int i = 0; ext[i]; i++)
        if (strcasecmp(dot + 1, ext[i]) == 0) return 1;
    return 0;
}

char *org__clash_name(const char *rel, int n) {
    const char *base = org__basename(rel);
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base) dot = base + strlen(base);
    return ut_asprintf("%.*s (%d)%s", (int)(dot - rel), rel, n, dot);
}

/* ---- string set ------------------------------------------------------------- */

static size_t hash_str(const char *s) {
    size_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static size_t find_slot(char *const *slot, size_t cap, const char *key) {
    size_t i = hash_str(key) & (cap - 1);
    while (slot[i] && strcmp(slot[i], key) != 0) i = (i + 1) & (cap - 1);
    return i;
}

static int grow(org__set *s) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    char **slot = ut_calloc(cap, sizeof *slot);
    if (!slot) return UT_ENOMEM;
    for (size_t i = 0; i < s->cap; i++)
        if (s->slot[i]) slot[find_slot(slot, cap, s->slot[i])] = s->slot[i];
    ut_free(s->slot);
    s->slot = slot;
    s->cap = cap;
    return UT_OK;
}

int org__set_has(const org__set *s, const char *key) {
    return s->cap && s->slot[find_slot(s->slot, s->cap, key)] != NULL;
}

int org__set_add(org__set *s, const char *key) {
    if (org__set_has(s, key)) return UT_EEXIST;
    if ((s->n + 1) * 2 > s->cap && grow(s)) return UT_ENOMEM;
    char *k = ut_strdup(key);
    if (!k) return UT_ENOMEM;
    s->slot[find_slot(s->slot, s->cap, key)] = k;
    s->n++;
    return UT_OK;
}

void org__set_free(org__set *s) {
    for (size_t i = 0; i < s->cap; i++) ut_free(s->slot[i]);
    ut_free(s->slot);
    *s = (org__set){0};
}

/* manifest.h -- read ../shared/data/photos/mixed/MANIFEST.csv for the img tests. */
#ifndef KADR_TEST_IMG_MANIFEST_H
#define KADR_TEST_IMG_MANIFEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    MF_PATH,
    MF_BYTES,
    MF_TYPE,
    MF_W,
    MF_H,
    MF_ORIENT,
    MF_DATE,
    MF_GPS,
    MF_CAMERA,
    MF_PILLOW,
    MF_NCOLS = 11
};

typedef struct {
    char col[MF_NCOLS][256];
} mf_row;

/* Split one CSV line (double-quoted fields allowed) into row; 1 on success. */
static int mf_split(const char *line, mf_row *r) {
    memset(r, 0, sizeof *r);
    int c = 0;
    size_t k = 0;
    int quoted = 0;
    for (const char *p = line; *p && *p != '\n' && *p != '\r'; p++) {
        if (quoted) {
            if (*p == '"' && p[1] == '"')
                r->col[c][k++] = '"', p++;
            else if (*p == '"')
                quoted = 0;
            else if (k < 255)
                r->col[c][k++] = *p;
        } else if (*p == '"') {
            quoted = 1;
        } else if (*p == ',') {
            r->col[c][k] = 0;
            if (++c >= MF_NCOLS) return 0;
            k = 0;
        } else if (k < 255) {
            r->col[c][k++] = *p;
        }
    }
    r->col[c][k] = 0;
    return c >= MF_CAMERA;
}

/* All rows; *n set. Caller frees. NULL if the manifest is missing. */
static mf_row *mf_load(const char *dir, int *n) {
    char path[1200], line[2048];
    snprintf(path, sizeof path, "%s/MANIFEST.csv", dir);
    FILE *f = fopen(path, "r");
    *n = 0;
    if (!f) return NULL;
    mf_row *rows = calloc(400, sizeof *rows);
    int first = 1;
    while (rows && fgets(line, sizeof line, f) && *n < 400) {
        if (first) {
            first = 0;
            continue;
        }
        if (mf_split(line, &rows[*n])) (*n)++;
    }
    fclose(f);
    return rows;
}

#endif

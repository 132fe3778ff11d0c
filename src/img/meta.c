/* meta.c -- the metadata `kadr photo info` prints and the catalog stores.
 *
 * Orientation and the oriented size come from the header libvips read
 * (the same view every pixel load uses); date, camera and GPS from our
 * own EXIF/XMP parse of the blocks libvips hands over; the hash from the
 * file's bytes. */
#include "img_int.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

/* ---- PNG eXIf ------------------------------------------------------------
 * libvips 8.14 reads a PNG's metadata only up to the first IDAT, but
 * cameras' and editors' eXIf chunks often follow the pixels. Walk the
 * chunk list (lengths checked against the file; at most 4096 chunks) and
 * hand an eXIf chunk to the EXIF parser. */

#define PNG_MAX_EXIF (1 << 20)

typedef struct {
    FILE *f;            /* a file, or */
    const uint8_t *buf; /* a buffer */
    size_t len;
} src;

static int src_read(src *s, uint64_t at, void *dst, size_t n) {
    if (s->buf) {
        if (at > s->len || n > s->len - at) return 0;
        memcpy(dst, s->buf + at, n);
        return 1;
    }
    return fseeko(s->f, (off_t)at, SEEK_SET) == 0 && fread(dst, 1, n, s->f) == n;
}

static void png_exif(src *s, img_meta *m) {
    uint64_t at = 8;
    uint8_t hdr[8];
    for (int i = 0; i < 4096 && src_read(s, at, hdr, 8); i++) {
        uint32_t len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
        if (!memcmp(hdr + 4, "IEND", 4)) return;
        if (!memcmp(hdr + 4, "eXIf", 4)) {
            if (len == 0 || len > PNG_MAX_EXIF) return;
            uint8_t *data = ut_malloc(len);
            if (data && src_read(s, at + 8, data, len)) img_exif_parse(data, len, m);
            ut_free(data);
            return;
        }
        at += 12ull + len;
    }
}

static void png_exif_of(const img_photo *ph, img_meta *m) {
    src s = {0};
    if (ph->buf) {
        s.buf = ph->buf;
        s.len = ph->len;
        png_exif(&s, m);
    } else if ((s.f = fopen(ph->path, "rb"))) {
        png_exif(&s, m);
        fclose(s.f);
    }
}

static void blob(VipsImage *im, const char *name, const void **p, size_t *n) {
    *p = NULL;
    *n = 0;
    if (vips_image_get_typeof(im, name) && vips_image_get_blob(im, name, p, n)) {
        *p = NULL;
        *n = 0;
    }
}

static int hash(const img_photo *ph, char hex[65]) {
    if (ph->path) {
        int rc = ut_sha256_file(ph->path, hex);
        return rc ? ut_failf_wrap(rc, "%s: hashing", ph->name) : UT_OK;
    }
    ut_sha256 h;
    uint8_t d[32];
    ut_sha256_init(&h);
    ut_sha256_update(&h, ph->buf, ph->len);
    ut_sha256_final(&h, d);
    ut_hex(d, 32, hex);
    return UT_OK;
}

int img_meta_get(img_photo *ph, img_meta *m) {
    memset(m, 0, sizeof *m);
    snprintf(m->file, sizeof m->file, "%s", ph->name);
    m->format = ph->fmt;
    m->file_size = ph->file_size;
    m->width = ph->width;
    m->height = ph->height;
    VipsImage *im;
    int rc = img__open_vips(ph, VIPS_ACCESS_SEQUENTIAL, 1, &im);
    if (rc) return rc;
    const void *p;
    size_t n;
    blob(im, VIPS_META_EXIF_NAME, &p, &n);
    if (p && n)
        img_exif_parse(p, n, m);
    else if (ph->fmt == IMG_FMT_PNG)
        png_exif_of(ph, m);
    blob(im, VIPS_META_XMP_NAME, &p, &n);
    if (p && n) img_xmp_parse(p, n, m);
    g_object_unref(im);
    ut_err_clear();
    m->orientation = ph->orientation; /* libvips' view, which the pixels follow */
    return hash(ph, m->sha256);
}

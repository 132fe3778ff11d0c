/* meta.c -- the metadata `kadr photo info` prints and the catalog stores.
 *
 * Orientation and the oriented size come from the header libvips read
 * (the same view every pixel load uses); date, camera and GPS from our
 * own EXIF/XMP parse of the blocks libvips hands over; the hash from the
 * file's bytes. */
#include "img_int.h"
#include "util.h"

#include <string.h>

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
    int rc = img__open_vips(ph, VIPS_ACCESS_SEQUENTIAL, &im);
    if (rc) return rc;
    const void *p;
    size_t n;
    blob(im, VIPS_META_EXIF_NAME, &p, &n);
    if (p && n) img_exif_parse(p, n, m);
    blob(im, VIPS_META_XMP_NAME, &p, &n);
    if (p && n) img_xmp_parse(p, n, m);
    g_object_unref(im);
    ut_err_clear();
    m->orientation = ph->orientation; /* libvips' view, which the pixels follow */
    return hash(ph, m->sha256);
}

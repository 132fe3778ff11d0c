/* img_int.h -- shared inside src/img only.
 *
 * An img_photo holds where the bytes are (a path, or an owned copy of a
 * buffer), what the header said, and nothing decoded: every load asks
 * libvips for exactly the pixels it needs, so no full-size decode lives
 * longer than the call that made it. */
#ifndef KADR_IMG_INT_H
#define KADR_IMG_INT_H

#include "img.h"

#include <vips/vips.h>

struct img_photo {
    char *path;   /* file, or NULL for a buffer */
    uint8_t *buf; /* owned copy of the buffer, or NULL */
    size_t len;
    char *name; /* for messages: the path or the caller's name */
    img_format fmt;
    int stored_w, stored_h; /* as stored, before orientation */
    int width, height;      /* after orientation */
    int orientation;        /* 1..8 */
    int64_t file_size;
};

/* Record libvips' error (taking and clearing its buffer) as a ut_fail
 * message "NAME: WHAT: reason"; returns code. */
int img__vips_fail(int code, const char *name, const char *what);

/* A VipsImage of the photo's header, lazily decoded (access as given),
 * fail_on set to warnings. The caller unrefs. */
/* Open the photo's pixels with libvips. shrink (1, 2, 4, 8) asks JPEG's
 * DCT scaling for an image shrink times smaller in each direction (other
 * formats ignore it: check the returned size). */
int img__open_vips(const img_photo *ph, VipsAccess access, int shrink, VipsImage **out);
/* vips_thumbnail of the photo to fit w x h (size: VIPS_SIZE_*), oriented. */
int img__thumbnail(const img_photo *ph, int w, int h, VipsSize size, VipsImage **out);
/* Flatten alpha onto white, convert to 3-band 8-bit sRGB. Takes ownership
 * of in (unrefs it) and returns a new reference in *out. */
int img__to_rgb8(const img_photo *ph, VipsImage *in, VipsImage **out);

#endif

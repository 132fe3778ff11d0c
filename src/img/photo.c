/* photo.c -- opening a photo: sniff, header, orientation; and the few
 * libvips pipelines every load shares.
 *
 * Invariants: an img_photo's format was sniffed from its bytes and its
 * libvips loader checked against that format (a file that sniffs as BMP
 * is never handed to a PDF or SVG loader); width/height are after EXIF
 * orientation; nothing decoded is kept in the handle. */
#include "img_int.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Loaders report their nickname in "vips-loader"; it must be the family
 * the sniffed format belongs to. */
static int loader_matches(img_format fmt, const char *loader) {
    static const char *const family[] = {
        [IMG_FMT_JPEG] = "jpegload", [IMG_FMT_PNG] = "pngload",    [IMG_FMT_WEBP] = "webpload",
        [IMG_FMT_TIFF] = "tiffload", [IMG_FMT_BMP] = "magickload", [IMG_FMT_GIF] = "gifload",
        [IMG_FMT_HEIF] = "heifload", [IMG_FMT_AVIF] = "heifload",  [IMG_FMT_JXL] = "jxlload",
    };
    const char *want = fmt > 0 && fmt <= IMG_FMT_JXL ? family[fmt] : NULL;
    return want && loader && strncmp(loader, want, strlen(want)) == 0;
}

int img__open_vips(const img_photo *ph, VipsAccess access, int shrink, VipsImage **out) {
    VipsImage *im;
    if (ph->fmt != IMG_FMT_JPEG || shrink < 2) shrink = 0; /* only jpegload takes the option */
    if (ph->path && shrink)
        im = vips_image_new_from_file(ph->path, "access", access, "fail_on", VIPS_FAIL_ON_WARNING, "shrink",
                                      shrink, NULL);
    else if (ph->path)
        im = vips_image_new_from_file(ph->path, "access", access, "fail_on", VIPS_FAIL_ON_WARNING, NULL);
    else if (shrink)
        im = vips_image_new_from_buffer(ph->buf, ph->len, "", "access", access, "fail_on", VIPS_FAIL_ON_WARNING,
                                        "shrink", shrink, NULL);
    else
        im = vips_image_new_from_buffer(ph->buf, ph->len, "", "access", access, "fail_on",
                                        VIPS_FAIL_ON_WARNING, NULL);
    if (!im) return img__vips_fail(UT_EFORMAT, ph->name, "cannot read image header");
    const char *loader = NULL;
    if (vips_image_get_typeof(im, "vips-loader")) vips_image_get_string(im, "vips-loader", &loader);
    if (!loader_matches(ph->fmt, loader)) {
        /* The loader's name lives in the image: copy it before the unref. */
        char name[64];
        snprintf(name, sizeof name, "%s", loader ? loader : "no loader");
        g_object_unref(im);
        return ut_fail(UT_EUNSUPPORTED, "%s: content looks like %s but libvips picked %s", ph->name,
                       img_format_name(ph->fmt), name);
    }
    *out = im;
    return UT_OK;
}

int img__thumbnail(const img_photo *ph, int w, int h, VipsSize size, VipsImage **out) {
    int rc;
    if (ph->path)
        rc = vips_thumbnail(ph->path, out, w, "height", h, "size", size, "fail_on", VIPS_FAIL_ON_WARNING,
                            NULL);
    else
        rc = vips_thumbnail_buffer(ph->buf, ph->len, out, w, "height", h, "size", size, "fail_on",
                                   VIPS_FAIL_ON_WARNING, NULL);
    return rc ? img__vips_fail(UT_EFORMAT, ph->name, "cannot decode") : UT_OK;
}

/* Replace *im by the result of an operation (rc from libvips). */
static int step(const img_photo *ph, VipsImage **im, VipsImage **next, int rc, const char *what) {
    g_object_unref(*im);
    *im = rc ? NULL : *next;
    return rc ? img__vips_fail(UT_EFORMAT, ph->name, what) : UT_OK;
}

int img__to_rgb8(const img_photo *ph, VipsImage *in, VipsImage **out) {
    VipsImage *im = in, *t = NULL;
    int rc = UT_OK;
    if (vips_image_get_interpretation(im) != VIPS_INTERPRETATION_sRGB) {
        t = NULL;
        rc = step(ph, &im, &t, vips_colourspace(im, &t, VIPS_INTERPRETATION_sRGB, NULL),
                  "cannot convert to sRGB");
    }
    if (!rc && vips_image_hasalpha(im)) {
        double white[] = {255, 255, 255};
        VipsArrayDouble *bg = vips_array_double_new(white, 3);
        t = NULL;
        int vr = vips_flatten(im, &t, "background", bg, NULL);
        vips_area_unref(VIPS_AREA(bg));
        rc = step(ph, &im, &t, vr, "cannot flatten alpha");
    }
    if (!rc && im->Bands > 3) {
        t = NULL;
        rc = step(ph, &im, &t, vips_extract_band(im, &t, 0, "n", 3, NULL), "cannot drop extra bands");
    }
    if (!rc && im->Bands != 3) {
        int bands = im->Bands;
        g_object_unref(im);
        return ut_fail(UT_EUNSUPPORTED, "%s: %d-band image after sRGB conversion", ph->name, bands);
    }
    if (!rc && im->BandFmt != VIPS_FORMAT_UCHAR) {
        t = NULL;
        rc = step(ph, &im, &t, vips_cast_uchar(im, &t, NULL), "cannot cast to 8 bits");
    }
    if (rc) {
        if (im) g_object_unref(im);
        return rc;
    }
    *out = im;
    return UT_OK;
}

/* ---- open/close --------------------------------------------------------- */

static int read_head(const char *path, uint8_t *head, size_t cap, size_t *n, int64_t *size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ut_fail(ut_from_errno(errno), "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return ut_fail(UT_EINVAL, "%s: not a regular file", path);
    }
    ssize_t got = read(fd, head, cap);
    int err = errno;
    close(fd);
    if (got < 0) return ut_fail(UT_EIO, "%s: %s", path, strerror(err));
    *n = (size_t)got;
    *size = (int64_t)st.st_size;
    return UT_OK;
}

/* Checks shared by files and buffers once the first bytes are known. */
static int check_format(img_photo *ph, const uint8_t *head, size_t n) {
    if (n == 0) return ut_fail(UT_EFORMAT, "%s: empty file (0 bytes)", ph->name);
    ph->fmt = img_sniff(head, n);
    if (ph->fmt == IMG_FMT_UNKNOWN)
        return ut_fail(UT_EFORMAT,
                       "%s: not an image: content is not JPEG, PNG, WebP, TIFF, BMP, GIF, "
                       "HEIC/AVIF or JPEG XL",
                       ph->name);
    if (!img_format_supported(ph->fmt))
        return ut_fail(UT_EUNSUPPORTED, "%s: %s images are not supported by this build of libvips", ph->name,
                       img_format_name(ph->fmt));
    return UT_OK;
}

static int read_header(img_photo *ph) {
    VipsImage *im;
    int rc = img__open_vips(ph, VIPS_ACCESS_SEQUENTIAL, 1, &im);
    if (rc) return rc;
    ph->stored_w = vips_image_get_width(im);
    ph->stored_h = vips_image_get_height(im);
    ph->orientation = vips_image_get_orientation(im);
    if (ph->orientation < 1 || ph->orientation > 8) ph->orientation = 1;
    int swap = ph->orientation >= 5;
    ph->width = swap ? ph->stored_h : ph->stored_w;
    ph->height = swap ? ph->stored_w : ph->stored_h;
    g_object_unref(im);
    if (ph->stored_w <= 0 || ph->stored_h <= 0)
        return ut_fail(UT_EFORMAT, "%s: image has no pixels", ph->name);
    if ((long long)ph->stored_w * ph->stored_h > IMG_MAX_PIXELS)
        return ut_fail(UT_ETOOBIG, "%s: %dx%d is over the %lld-pixel limit", ph->name, ph->stored_w,
                       ph->stored_h, (long long)IMG_MAX_PIXELS);
    return UT_OK;
}

int img_open_file(const char *path, img_photo **out) {
    *out = NULL;
    if (!path) return ut_fail(UT_EINVAL, "img_open_file: no path");
    img_photo *ph = ut_calloc(1, sizeof *ph);
    if (!ph || !(ph->path = ut_strdup(path)) || !(ph->name = ut_strdup(path))) {
        img_close(ph);
        return ut_fail(UT_ENOMEM, "%s: out of memory", path);
    }
    uint8_t head[64];
    size_t n = 0;
    int rc = read_head(path, head, sizeof head, &n, &ph->file_size);
    if (!rc) rc = check_format(ph, head, n);
    if (!rc) rc = read_header(ph);
    if (rc) {
        img_close(ph);
        return rc;
    }
    *out = ph;
    return UT_OK;
}

int img_open_buffer(const void *data, size_t len, const char *name, img_photo **out) {
    *out = NULL;
    if (!data && len) return ut_fail(UT_EINVAL, "img_open_buffer: no data");
    img_photo *ph = ut_calloc(1, sizeof *ph);
    if (!ph || !(ph->name = ut_strdup(name ? name : "(upload)")) || !(ph->buf = ut_malloc(len ? len : 1))) {
        img_close(ph);
        return ut_fail(UT_ENOMEM, "%s: out of memory", name ? name : "(upload)");
    }
    if (len) memcpy(ph->buf, data, len);
    ph->len = len;
    ph->file_size = (int64_t)len;
    int rc = check_format(ph, ph->buf, len);
    if (!rc) rc = read_header(ph);
    if (rc) {
        img_close(ph);
        return rc;
    }
    *out = ph;
    return UT_OK;
}

void img_close(img_photo *ph) {
    if (!ph) return;
    ut_free(ph->path);
    ut_free(ph->buf);
    ut_free(ph->name);
    ut_free(ph);
}

int img_width(const img_photo *ph) {
    return ph->width;
}
int img_height(const img_photo *ph) {
    return ph->height;
}
int img_orientation(const img_photo *ph) {
    return ph->orientation;
}
img_format img_photo_format(const img_photo *ph) {
    return ph->fmt;
}

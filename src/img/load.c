/* load.c -- decode for analysis: shrink-on-load to the model's size.
 *
 * vips_thumbnail picks the loader's cheapest reduction (libjpeg's DCT
 * scaling by 1/2, 1/4, 1/8; WebP and HEIF scaled decode; TIFF/PDF
 * pyramids), orients by EXIF, then resizes the rest of the way with a
 * proper filter. So a 50 MP JPEG bound for 640 px is decoded at about
 * 1/8 scale, streamed, and never exists at full size in memory.
 *
 * The map recorded with the pixels uses the scale actually obtained per
 * axis (output size / original size), which may differ from the requested
 * box by rounding; detections mapped back through it land on original
 * pixels to within the rounding of a single output pixel. */
#include "img_int.h"
#include "util.h"

#include <string.h>

#define MAX_SIDE 16384

static int check_opts(const img_photo *ph, const img_load_opts *o, int *bw, int *bh, VipsSize *vsize) {
    if (!o) return ut_fail(UT_EINVAL, "img_load: no options");
    if (o->fit == IMG_FIT_LONGEST) {
        *bw = *bh = o->size;
    } else if (o->fit == IMG_FIT_LETTERBOX || o->fit == IMG_FIT_STRETCH) {
        *bw = o->width;
        *bh = o->height;
    } else {
        return ut_fail(UT_EINVAL, "img_load: unknown fit %d", o->fit);
    }
    if (*bw < 1 || *bh < 1 || *bw > MAX_SIDE || *bh > MAX_SIDE)
        return ut_fail(UT_EINVAL, "img_load: output size %dx%d out of range 1..%d", *bw, *bh, MAX_SIDE);
    if (o->pad < 0 || o->pad > 255) return ut_fail(UT_EINVAL, "img_load: pad %d not in 0..255", o->pad);
    if (o->order != IMG_RGB && o->order != IMG_BGR) return ut_fail(UT_EINVAL, "img_load: bad channel order");
    *vsize = o->fit == IMG_FIT_STRETCH ? VIPS_SIZE_FORCE : o->upscale ? VIPS_SIZE_BOTH : VIPS_SIZE_DOWN;
    return UT_OK;
}

/* Decode to 8-bit sRGB at (at most) bw x bh into a g_malloc'd block. */
static int decode(const img_photo *ph, int bw, int bh, VipsSize vsize, uint8_t **px, int *w, int *h) {
    VipsImage *im, *rgb;
    int rc = img__thumbnail(ph, bw, bh, vsize, &im);
    if (!rc) rc = img__to_rgb8(ph, im, &rgb);
    if (rc) return rc;
    size_t n = 0;
    *px = vips_image_write_to_memory(rgb, &n);
    *w = vips_image_get_width(rgb);
    *h = vips_image_get_height(rgb);
    g_object_unref(rgb);
    if (!*px) return img__vips_fail(UT_EFORMAT, ph->name, "cannot decode");
    if (n != (size_t)*w * (size_t)*h * 3) {
        g_free(*px);
        return ut_fail(UT_EFORMAT, "%s: decoder returned %zu bytes for %dx%d", ph->name, n, *w, *h);
    }
    return UT_OK;
}

static void swap_rb(uint8_t *p, size_t npix) {
    for (size_t i = 0; i < npix; i++, p += 3) {
        uint8_t t = p[0];
        p[0] = p[2];
        p[2] = t;
    }
}

int img_load(img_photo *ph, const img_load_opts *o, img_pixels *out) {
    memset(out, 0, sizeof *out);
    int bw = 0, bh = 0, w = 0, h = 0;
    VipsSize vsize = VIPS_SIZE_DOWN;
    uint8_t *px;
    int rc = check_opts(ph, o, &bw, &bh, &vsize);
    if (!rc) rc = decode(ph, bw, bh, vsize, &px, &w, &h);
    if (rc) return rc;
    int lb = o->fit == IMG_FIT_LETTERBOX;
    int ow = lb ? bw : w, oh = lb ? bh : h;
    if (w > ow || h > oh) { /* cannot happen unless libvips overshoots its box */
        g_free(px);
        return ut_fail(UT_EFORMAT, "%s: decoded %dx%d overflows %dx%d", ph->name, w, h, ow, oh);
    }
    uint8_t *dst = ut_malloc((size_t)ow * oh * 3);
    if (!dst) {
        g_free(px);
        return ut_fail(UT_ENOMEM, "%s: out of memory for %dx%d pixels", ph->name, ow, oh);
    }
    int ox = lb && o->center ? (ow - w) / 2 : 0, oy = lb && o->center ? (oh - h) / 2 : 0;
    if (lb) memset(dst, o->pad, (size_t)ow * oh * 3);
    for (int y = 0; y < h; y++)
        memcpy(dst + ((size_t)(y + oy) * ow + ox) * 3, px + (size_t)y * w * 3, (size_t)w * 3);
    g_free(px);
    if (o->order == IMG_BGR) swap_rb(dst, (size_t)ow * oh);
    *out = (img_pixels){
        .width = ow,
        .height = oh,
        .stride = ow * 3,
        .pixels = dst,
        .map = {.sx = (double)w / ph->width,
                .sy = (double)h / ph->height,
                .ox = ox,
                .oy = oy,
                .orig_w = ph->width,
                .orig_h = ph->height},
    };
    return UT_OK;
}

void img_pixels_free(img_pixels *p) {
    if (!p) return;
    ut_free(p->pixels);
    p->pixels = NULL;
}

int img_load_tensor(img_photo *ph, const img_load_opts *o, const float mean[3], const float std[3],
                    img_tensor *out) {
    memset(out, 0, sizeof *out);
    for (int c = 0; c < 3; c++)
        if (!(std[c] > 0 || std[c] < 0)) return ut_fail(UT_EINVAL, "img_load_tensor: std[%d] is zero", c);
    img_pixels p;
    int rc = img_load(ph, o, &p);
    if (rc) return rc;
    size_t plane = (size_t)p.width * p.height;
    float *t = ut_malloc(plane * 3 * sizeof *t);
    if (!t) {
        img_pixels_free(&p);
        return ut_fail(UT_ENOMEM, "%s: out of memory for a %dx%d tensor", ph->name, p.width, p.height);
    }
    for (int c = 0; c < 3; c++) {
        float m = mean[c], inv = 1.0f / std[c];
        const uint8_t *s = p.pixels + c;
        float *d = t + c * plane;
        for (size_t i = 0; i < plane; i++) d[i] = ((float)s[i * 3] - m) * inv;
    }
    *out = (img_tensor){.n = 1, .c = 3, .h = p.height, .w = p.width, .data = t, .map = p.map};
    img_pixels_free(&p);
    return UT_OK;
}

void img_tensor_free(img_tensor *t) {
    if (!t) return;
    ut_free(t->data);
    t->data = NULL;
}

void img_to_orig(const img_map *m, double mx, double my, double *x, double *y) {
    *x = (mx - m->ox) / m->sx;
    *y = (my - m->oy) / m->sy;
}

void img_from_orig(const img_map *m, double x, double y, double *mx, double *my) {
    *mx = x * m->sx + m->ox;
    *my = y * m->sy + m->oy;
}

int img_check(img_photo *ph) {
    uint8_t *px;
    int w, h;
    int rc = decode(ph, 32, 32, VIPS_SIZE_DOWN, &px, &w, &h);
    if (!rc) g_free(px);
    return rc;
}

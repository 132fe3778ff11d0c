/* warp.c -- aligned face crops from the full-resolution oriented image.
 *
 * All transforms of one photo share a single decode: the union of the
 * source rectangles the crops read (plus a one-pixel margin for the
 * bilinear neighbours) is mapped to the stored (un-oriented) image, cut
 * out there and only that rectangle is materialised; libvips streams the
 * file top to bottom and stops below it. The EXIF orientation is applied
 * to the sampling coordinates, not to pixels: the eight orientations map
 * the integer pixel-centre grid onto itself, so bilinear weights are the
 * same in either frame and no rotated copy of the photo is ever made.
 *
 * Sampling follows cv2.warpAffine(INTER_LINEAR, BORDER_CONSTANT 0): output
 * pixel (X, Y) reads the source at M^-1 (X, Y), pixel centres on integers,
 * and neighbours outside the image count as 0.
 *
 * Shrink on decode: when every crop samples the photo more coarsely than 2
 * (4, 8) photo pixels per output pixel, a JPEG is decoded at 1/2 (1/4, 1/8)
 * through its DCT scaling, so there is still at least one decoded pixel per
 * output pixel. A face of 400 px aligned to 112 px is then cut from a 1/2
 * decode: about four times less decoding, and the DCT's block averaging
 * aliases less than bilinear sampling of the full image would. Decoded
 * pixel i covers photo pixels [i k, (i + 1) k), so a photo coordinate x
 * (pixel centres on integers) is (x - (k - 1) / 2) / k there. */
#include "img_int.h"
#include "util.h"

#include <math.h>
#include <string.h>

typedef struct {
    double a, b, c, d, e, f; /* source = [a b c; d e f] * [X Y 1] */
} inv_affine;

static int invert(const double m[6], inv_affine *r) {
    double det = m[0] * m[4] - m[1] * m[3];
    if (!isfinite(det) || fabs(det) < 1e-12) return ut_fail(UT_EINVAL, "img_warp: singular transform");
    r->a = m[4] / det;
    r->b = -m[1] / det;
    r->d = -m[3] / det;
    r->e = m[0] / det;
    r->c = -(r->a * m[2] + r->b * m[5]);
    r->f = -(r->d * m[2] + r->e * m[5]);
    if (!isfinite(r->c) || !isfinite(r->f)) return ut_fail(UT_EINVAL, "img_warp: transform not finite");
    return UT_OK;
}

typedef struct {
    int x0, y0, x1, y1; /* half-open, clamped to the image */
} rect;

/* Source pixels a size x size crop may touch. */
static rect source_rect(const inv_affine *t, int size, int w, int h) {
    double xs[4], ys[4], lim = size - 1;
    double cx[4] = {0, lim, 0, lim}, cy[4] = {0, 0, lim, lim};
    double minx = INFINITY, miny = INFINITY, maxx = -INFINITY, maxy = -INFINITY;
    for (int i = 0; i < 4; i++) {
        xs[i] = t->a * cx[i] + t->b * cy[i] + t->c;
        ys[i] = t->d * cx[i] + t->e * cy[i] + t->f;
        minx = fmin(minx, xs[i]);
        maxx = fmax(maxx, xs[i]);
        miny = fmin(miny, ys[i]);
        maxy = fmax(maxy, ys[i]);
    }
    rect r = {(int)fmax(0, fmin(w, floor(minx) - 1)), (int)fmax(0, fmin(h, floor(miny) - 1)),
              (int)fmax(0, fmin(w, ceil(maxx) + 2)), (int)fmax(0, fmin(h, ceil(maxy) + 2))};
    return r;
}

/* Oriented coordinates (x, y) -> stored (u, v) for EXIF orientation o of
 * a stored sw x sh image (pixel centres on integers). */
static void to_stored(int o, int sw, int sh, double x, double y, double *u, double *v) {
    switch (o) {
    case 2: *u = sw - 1 - x, *v = y; break;
    case 3: *u = sw - 1 - x, *v = sh - 1 - y; break;
    case 4: *u = x, *v = sh - 1 - y; break;
    case 5: *u = y, *v = x; break;
    case 6: *u = y, *v = sh - 1 - x; break;
    case 7: *u = sw - 1 - y, *v = sh - 1 - x; break;
    case 8: *u = sw - 1 - y, *v = x; break;
    default: *u = x, *v = y; break;
    }
}

/* The stored rectangle holding oriented rectangle r (half-open). */
static rect stored_rect(const img_photo *ph, rect r) {
    double u0, v0, u1, v1;
    to_stored(ph->orientation, ph->stored_w, ph->stored_h, r.x0, r.y0, &u0, &v0);
    to_stored(ph->orientation, ph->stored_w, ph->stored_h, r.x1 - 1, r.y1 - 1, &u1, &v1);
    rect s = {(int)fmin(u0, u1), (int)fmin(v0, v1), (int)fmax(u0, u1) + 1, (int)fmax(v0, v1) + 1};
    return s;
}

/* The decoded source of all crops: stored rectangle r of the photo decoded
 * at 1/k, as packed RGB (g_malloc'd); w x h is the whole decoded image. */
typedef struct {
    uint8_t *px;
    rect r;
    int k, w, h;
} source;

/* The largest JPEG shrink that leaves every crop at least one decoded pixel
 * per output pixel: a transform's |det| is its area scale (output/photo). */
static int pick_shrink(const img_photo *ph, const double (*m)[6], int n) {
    if (ph->fmt != IMG_FMT_JPEG) return 1;
    double density = INFINITY; /* photo pixels per output pixel, the smallest */
    for (int i = 0; i < n; i++) density = fmin(density, 1.0 / sqrt(fabs(m[i][0] * m[i][4] - m[i][1] * m[i][3])));
    int k = 1;
    while (k < 8 && 2 * k <= density) k *= 2;
    return k;
}

static int ceil_div(int a, int k) { return (a + k - 1) / k; }

/* Decode stored rectangle r (full-resolution coordinates) at 1/k. */
static int decode_rect(img_photo *ph, rect r, int k, source *src) {
    VipsImage *im, *t = NULL;
    int rc = img__open_vips(ph, VIPS_ACCESS_SEQUENTIAL, k, &im);
    if (rc) return rc;
    src->k = k;
    src->w = vips_image_get_width(im);
    src->h = vips_image_get_height(im);
    if (src->w != ceil_div(ph->stored_w, k) || src->h != ceil_div(ph->stored_h, k)) {
        g_object_unref(im);
        return ut_fail(UT_EFORMAT, "%s: image size changed between reads", ph->name);
    }
    /* The decoded pixels whose bilinear neighbourhoods cover r. */
    r.x0 = r.x0 / k > 0 ? r.x0 / k - 1 : 0;
    r.y0 = r.y0 / k > 0 ? r.y0 / k - 1 : 0;
    r.x1 = ceil_div(r.x1, k) + 1 < src->w ? ceil_div(r.x1, k) + 1 : src->w;
    r.y1 = ceil_div(r.y1, k) + 1 < src->h ? ceil_div(r.y1, k) + 1 : src->h;
    src->r = r;
    int vr = vips_crop(im, &t, r.x0, r.y0, r.x1 - r.x0, r.y1 - r.y0, NULL);
    g_object_unref(im);
    if (vr) return img__vips_fail(UT_EFORMAT, ph->name, "cannot crop");
    rc = img__to_rgb8(ph, t, &im);
    if (rc) return rc;
    size_t n = 0;
    src->px = vips_image_write_to_memory(im, &n);
    g_object_unref(im);
    if (!src->px) return img__vips_fail(UT_EFORMAT, ph->name, "cannot decode");
    if (n != (size_t)(r.x1 - r.x0) * (r.y1 - r.y0) * 3) {
        g_free(src->px);
        src->px = NULL;
        return ut_fail(UT_EFORMAT, "%s: decoder returned %zu bytes for the crop", ph->name, n);
    }
    return UT_OK;
}

/* One crop, bilinear from the decoded source. */
static void sample(const img_photo *ph, const inv_affine *t, const source *s, int size, int bgr, uint8_t *out) {
    rect r = s->r;
    int rw = r.x1 - r.x0, sw = s->w, sh = s->h;
    double half = (s->k - 1) / 2.0, inv_k = 1.0 / s->k;
    for (int Y = 0; Y < size; Y++) {
        for (int X = 0; X < size; X++, out += 3) {
            double su, sv;
            to_stored(ph->orientation, ph->stored_w, ph->stored_h, t->a * X + t->b * Y + t->c,
                      t->d * X + t->e * Y + t->f, &su, &sv);
            su = (su - half) * inv_k;
            sv = (sv - half) * inv_k;
            double fu0 = floor(su), fv0 = floor(sv);
            float acc[3] = {0, 0, 0};
            if (fu0 >= -1 && fv0 >= -1 && fu0 < sw && fv0 < sh) {
                int u0 = (int)fu0, v0 = (int)fv0;
                float fu = (float)(su - fu0), fv = (float)(sv - fv0);
                float wts[4] = {(1 - fu) * (1 - fv), fu * (1 - fv), (1 - fu) * fv, fu * fv};
                for (int k = 0; k < 4; k++) {
                    int u = u0 + (k & 1), v = v0 + (k >> 1);
                    if (u < r.x0 || v < r.y0 || u >= r.x1 || v >= r.y1) continue;
                    const uint8_t *p = s->px + ((size_t)(v - r.y0) * rw + (u - r.x0)) * 3;
                    for (int c = 0; c < 3; c++) acc[c] += wts[k] * p[c];
                }
            }
            for (int c = 0; c < 3; c++) {
                float val = acc[c] + 0.5f;
                out[bgr ? 2 - c : c] = (uint8_t)(val < 0 ? 0 : val > 255 ? 255 : val);
            }
        }
    }
}

int img_warp(img_photo *ph, const double (*m)[6], int n, int size, int order, uint8_t **outs) {
    if (n < 0 || (n && (!m || !outs)) || size < 1 || size > 4096 || (order != IMG_RGB && order != IMG_BGR))
        return ut_fail(UT_EINVAL, "img_warp: bad arguments (n %d, size %d)", n, size);
    if (n == 0) return UT_OK;
    inv_affine *inv = ut_malloc((size_t)n * sizeof *inv);
    if (!inv) return ut_fail(UT_ENOMEM, "img_warp: out of memory");
    rect u = {ph->width, ph->height, 0, 0};
    int rc = UT_OK;
    for (int i = 0; i < n && !rc; i++) {
        rc = invert(m[i], &inv[i]);
        if (rc) break;
        rect r = source_rect(&inv[i], size, ph->width, ph->height);
        if (r.x1 <= r.x0 || r.y1 <= r.y0) continue;
        u.x0 = r.x0 < u.x0 ? r.x0 : u.x0;
        u.y0 = r.y0 < u.y0 ? r.y0 : u.y0;
        u.x1 = r.x1 > u.x1 ? r.x1 : u.x1;
        u.y1 = r.y1 > u.y1 ? r.y1 : u.y1;
    }
    source src = {0};
    int empty = u.x1 <= u.x0 || u.y1 <= u.y0;
    if (!rc && !empty) rc = decode_rect(ph, stored_rect(ph, u), pick_shrink(ph, m, n), &src);
    for (int i = 0; i < n && !rc; i++) {
        if (empty)
            memset(outs[i], 0, (size_t)size * size * 3);
        else
            sample(ph, &inv[i], &src, size, order == IMG_BGR, outs[i]);
    }
    g_free(src.px);
    ut_free(inv);
    return rc;
}

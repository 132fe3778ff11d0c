/* test_img.c -- img on the shared mixed photo set (MANIFEST.csv): orientation,
 * dates, GPS, camera, broken files, sniffing by content, letterbox maps,
 * the affine warp against a naive reference, and the preview cache. */
#include "img.h"
#include "manifest.h"
#include "test.h"
#include "util.h"

#include <math.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <vips/vips.h>

static char mixed[1024];

static const char *mixed_dir(void) {
    if (!mixed[0]) snprintf(mixed, sizeof mixed, "%s/data/photos/mixed", test_shared());
    return mixed;
}

static int setup(mf_row **rows, int *n) {
    if (img_init(1)) return 0;
    *rows = mf_load(mixed_dir(), n);
    if (!*rows) {
        test_skip("MANIFEST.csv of the mixed photo set not found");
        return 0;
    }
    return 1;
}

static char *in_mixed(const char *rel) {
    return ut_asprintf("%s/%s", mixed_dir(), rel);
}

/* Mean absolute difference of two loads at the same size. */
static double mad(const img_pixels *a, const img_pixels *b) {
    if (a->width != b->width || a->height != b->height) return 1e9;
    double s = 0;
    size_t n = (size_t)a->width * a->height * 3;
    for (size_t i = 0; i < n; i++) s += fabs((double)a->pixels[i] - b->pixels[i]);
    return s / n;
}

/* mad() against b mirrored left-right (fx) and/or upside down (fy). */
static double mad_flipped(const img_pixels *a, const img_pixels *b, int fx, int fy) {
    if (a->width != b->width || a->height != b->height) return 1e9;
    double s = 0;
    int w = a->width, h = a->height;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                int bx = fx ? w - 1 - x : x, by = fy ? h - 1 - y : y;
                s += fabs((double)a->pixels[(y * w + x) * 3 + c] - b->pixels[(by * w + bx) * 3 + c]);
            }
    return s / ((double)w * h * 3);
}

static int load_small(const char *rel, img_pixels *p) {
    char *path = in_mixed(rel);
    img_photo *ph;
    int rc = img_open_file(path, &ph);
    ut_free(path);
    if (rc) return rc;
    img_load_opts o = {.fit = IMG_FIT_STRETCH, .width = 48, .height = 32};
    if (img_width(ph) < img_height(ph)) o.width = 32, o.height = 48;
    rc = img_load(ph, &o, p);
    img_close(ph);
    return rc;
}

/* Every orientation 1..8 lands upright: the size the manifest implies and
 * the same picture as the orientation-1 file. */
TEST(orientation_upright) {
    mf_row *rows;
    int n, checked = 0;
    if (!setup(&rows, &n)) return;
    for (int i = 0; i < n; i++) {
        const char *p = rows[i].col[MF_PATH];
        if (!strstr(p, "orientation/")) continue;
        int o = atoi(rows[i].col[MF_ORIENT]), w = atoi(rows[i].col[MF_W]), h = atoi(rows[i].col[MF_H]);
        char *path = in_mixed(p);
        img_photo *ph;
        CHECK_EQ_INT(img_open_file(path, &ph), UT_OK);
        ut_free(path);
        CHECK_EQ_INT(img_orientation(ph), o ? o : 1);
        CHECK_EQ_INT(img_width(ph), o >= 5 ? h : w);
        CHECK_EQ_INT(img_height(ph), o >= 5 ? w : h);
        img_close(ph);
        /* Same picture as the upright original of its series. */
        char ref[512];
        snprintf(ref, sizeof ref, "%s", p);
        char *us = strrchr(ref, '_');
        CHECK(us);
        us[1] = '1';
        img_pixels a, b;
        CHECK_EQ_INT(load_small(p, &a), UT_OK);
        CHECK_EQ_INT(load_small(ref, &b), UT_OK);
        /* Upright means the reference matches best as is, not flipped or
         * turned (the only other shapes of the same size). */
        double d[4];
        for (int k = 0; k < 4; k++) d[k] = mad_flipped(&a, &b, k & 1, k >> 1);
        if (d[0] > 20 || d[0] * 1.5 > fmin(d[1], fmin(d[2], d[3])))
            fprintf(stderr, "  %s vs %s: %.1f, flips %.1f %.1f %.1f\n", p, ref, d[0], d[1], d[2], d[3]);
        CHECK(d[0] < 20 && d[0] * 1.5 < fmin(d[1], fmin(d[2], d[3])));
        img_pixels_free(&a);
        img_pixels_free(&b);
        checked++;
    }
    CHECK(checked >= 34);
    free(rows);
}

/* The check above can fail: a mirrored picture is far from the original. */
TEST(orientation_probe_discriminates) {
    mf_row *rows;
    int n;
    if (!setup(&rows, &n)) return;
    free(rows);
    img_pixels a, b;
    CHECK_EQ_INT(load_small("exif_orientation/Landscape_1.jpg", &a), UT_OK);
    CHECK_EQ_INT(load_small("exif_orientation/Landscape_1.jpg", &b), UT_OK);
    for (int y = 0; y < b.height; y++)
        for (int x = 0; x < b.width / 2; x++)
            for (int c = 0; c < 3; c++) {
                uint8_t *l = b.pixels + (y * b.width + x) * 3 + c,
                        *r = b.pixels + (y * b.width + b.width - 1 - x) * 3 + c;
                uint8_t t = *l;
                *l = *r;
                *r = t;
            }
    CHECK(mad(&a, &b) > 15);
    img_pixels_free(&a);
    img_pixels_free(&b);
}

static void iso_of_manifest(const char *m, char out[20]) {
    snprintf(out, 20, "%.4s-%.2s-%.2sT%.2s:%.2s:%.2s", m, m + 5, m + 8, m + 11, m + 14, m + 17);
}

static void collapse_spaces(const char *in, char *out, size_t cap) {
    size_t k = 0;
    for (; *in && k + 1 < cap; in++)
        if (*in != ' ' || (k && out[k - 1] != ' ')) out[k++] = *in;
    while (k && out[k - 1] == ' ') k--;
    out[k] = 0;
}

/* Dates, camera and GPS presence agree with the manifest (exiftool). */
TEST(exif_dates_camera_gps) {
    mf_row *rows;
    int n, dates = 0, gps = 0, cams = 0;
    if (!setup(&rows, &n)) return;
    for (int i = 0; i < n; i++) {
        mf_row *r = &rows[i];
        if (strncmp(r->col[MF_PILLOW], "yes", 3) && strcmp(r->col[MF_TYPE], "HEIC")) continue;
        char *path = in_mixed(r->col[MF_PATH]);
        img_photo *ph;
        img_meta m;
        int rc = img_open_file(path, &ph);
        ut_free(path);
        if (rc == UT_EUNSUPPORTED) continue;
        CHECK_EQ_INT(rc, UT_OK);
        CHECK_EQ_INT(img_meta_get(ph, &m), UT_OK);
        img_close(ph);
        /* Three files keep their date outside EXIF/XMP (a Reconyx maker note,
         * an Olympus "PictureInfo" segment, Canon CIFF); kadr reads EXIF and XMP. */
        int other = strstr(r->col[MF_PATH], "Reconyx") || strstr(r->col[MF_PATH], "olympus-d320l") ||
                    strstr(r->col[MF_PATH], "sony-powershota5");
        if (r->col[MF_DATE][0] && !other) {
            char want[20];
            iso_of_manifest(r->col[MF_DATE], want);
            if (strncmp(m.date, want, 19))
                fprintf(stderr, "  %s: date %s, manifest %s\n", r->col[MF_PATH], m.date, want);
            CHECK(strncmp(m.date, want, 19) == 0);
            CHECK(m.date_source == IMG_DATE_ORIGINAL || m.date_source == IMG_DATE_XMP);
            dates++;
        }
        if (strcmp(r->col[MF_GPS], "yes") == 0) {
            if (!m.has_gps) fprintf(stderr, "  %s: no GPS\n", r->col[MF_PATH]);
            CHECK(m.has_gps);
            CHECK(fabs(m.lat) <= 90 && fabs(m.lon) <= 180);
            gps++;
        } else {
            CHECK(!m.has_gps);
        }
        if (r->col[MF_CAMERA][0] && m.make[0] && strcmp(r->col[MF_TYPE], "JPEG") == 0) {
            char got[256], want[256], joined[256];
            snprintf(joined, sizeof joined, "%s %s", m.make, m.model);
            collapse_spaces(joined, got, sizeof got);
            collapse_spaces(r->col[MF_CAMERA], want, sizeof want);
            if (strcmp(got, want))
                fprintf(stderr, "  %s: camera '%s', manifest '%s'\n", r->col[MF_PATH], got, want);
            CHECK_EQ_STR(got, want);
            cams++;
        }
    }
    fprintf(stderr, "  checked %d dates, %d GPS, %d cameras\n", dates, gps, cams);
    CHECK(dates >= 80 && gps >= 20 && cams >= 65);
    free(rows);
}

/* Exact values (signed decimals) against exiftool -n. */
TEST(gps_values) {
    static const struct {
        const char *file;
        double lat, lon, alt; /* alt NAN: none */
    } want[] = {
        {"exif_samples/jpg/gps/DSCN0010.jpg", 43.4674483333333, 11.8851266666639, NAN},
        {"exif_samples/jpg/Kodak_CX7530.jpg", -0.3713, 36.0564166666667, NAN},
        {"exif_samples/jpg/hdr/iphone_hdr_NO.jpg", 40.4469722222222, -3.72475277777778, 639.5878788},
        {"exif_samples/heic/IMG_5195.HEIC", 39.0513444444444, -94.2887722222222, 260.5606383},
        {"immich_test_assets/metadata/gps-position/thompson-springs.jpg", 39.115, -108.400968333333, 1483.9},
    };
    CHECK_EQ_INT(img_init(1), UT_OK);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char *path = in_mixed(want[i].file);
        img_photo *ph;
        img_meta m;
        int rc = img_open_file(path, &ph);
        ut_free(path);
        if (rc == UT_ENOENT) return test_skip("mixed photo set missing");
        CHECK_EQ_INT(rc, UT_OK);
        CHECK_EQ_INT(img_meta_get(ph, &m), UT_OK);
        img_close(ph);
        CHECK(m.has_gps);
        CHECK(fabs(m.lat - want[i].lat) < 1e-6 && fabs(m.lon - want[i].lon) < 1e-6);
        CHECK(isnan(want[i].alt) ? !m.has_alt : m.has_alt && fabs(m.alt - want[i].alt) < 1e-3);
    }
}

/* Date fallbacks: which field the date came from. */
TEST(date_sources) {
    static const struct {
        const char *file, *date;
        img_date_source src;
    } want[] = {
        {"immich_test_assets/metadata/dates/date-priority-test.jpg", "2023-02-02T02:00:00",
         IMG_DATE_ORIGINAL},
        {"debian_pkgs/libjxl_testdata/1x1_exif_xmp.jpg", "2021-10-27T18:59:15", IMG_DATE_MODIFIED},
        {"exif_samples/jpg/tests/30-type_error.jpg", "2013-07-05T03:18:27Z", IMG_DATE_XMP},
        {"exif_samples/heic/IMG_5195.HEIC", "2021-04-11T15:47:53-05:00", IMG_DATE_ORIGINAL},
        {"immich_test_assets/metadata/dates/time-created.jpg", "", IMG_DATE_NONE},
    };
    CHECK_EQ_INT(img_init(1), UT_OK);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char *path = in_mixed(want[i].file);
        img_photo *ph;
        img_meta m;
        int rc = img_open_file(path, &ph);
        ut_free(path);
        if (rc == UT_ENOENT) return test_skip("mixed photo set missing");
        CHECK_EQ_INT(rc, UT_OK);
        CHECK_EQ_INT(img_meta_get(ph, &m), UT_OK);
        img_close(ph);
        CHECK_EQ_STR(m.date, want[i].date);
        CHECK_EQ_INT(m.date_source, want[i].src);
    }
}

/* Every broken file: a clear error naming the file, no crash. */
TEST(broken_files) {
    static const char *const broken[] = {
        "corrupted_middle_tanners_ridge.jpg", "not_an_image.jpg", "truncated_2KB_header_only.jpg",
        "truncated_50pct_prairie_falcon.jpg", "zero_bytes.jpg",
    };
    CHECK_EQ_INT(img_init(1), UT_OK);
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "derived_broken/%s", broken[i]);
        char *path = in_mixed(rel);
        if (!test_exists(path)) return test_skip("mixed photo set missing");
        img_photo *ph;
        int rc = img_open_file(path, &ph);
        if (rc == UT_OK) {
            img_pixels p;
            img_load_opts o = {.fit = IMG_FIT_LONGEST, .size = 640};
            rc = img_load(ph, &o, &p);
            int rc2 = img_check(ph);
            CHECK_EQ_INT(rc2, UT_EFORMAT);
            img_close(ph);
        }
        CHECK(rc == UT_EFORMAT || rc == UT_EUNSUPPORTED);
        CHECK(strstr(ut_errmsg(), broken[i]) != NULL);
        fprintf(stderr, "  %s\n", ut_errmsg());
        ut_free(path);
    }
}

/* A JPEG named .png is decoded as the JPEG it is (same pixels as the
 * original file it was copied from). */
TEST(sniff_by_content) {
    CHECK_EQ_INT(img_init(1), UT_OK);
    img_pixels a, b;
    int rc = load_small("derived_broken/jpeg_data_with_png_extension.png", &a);
    if (rc == UT_ENOENT) return test_skip("mixed photo set missing");
    CHECK_EQ_INT(rc, UT_OK);
    CHECK_EQ_INT(load_small("immich_test_assets/albums/nature/silver_fir.jpg", &b), UT_OK);
    CHECK(mad(&a, &b) == 0);
    img_pixels_free(&a);
    img_pixels_free(&b);
    char *path = in_mixed("derived_broken/jpeg_data_with_png_extension.png");
    img_photo *ph;
    CHECK_EQ_INT(img_open_file(path, &ph), UT_OK);
    CHECK_EQ_INT(img_photo_format(ph), IMG_FMT_JPEG);
    img_close(ph);
    ut_free(path);
    CHECK_EQ_INT(img_sniff("GIF89a", 6), IMG_FMT_GIF);
    CHECK_EQ_INT(img_sniff("\0\0\0\x1c"
                           "ftypheic\0\0\0\0mif1heic",
                           24),
                 IMG_FMT_HEIF);
    CHECK_EQ_INT(img_sniff("\0\0\0\x1c"
                           "ftypavif\0\0\0\0mif1miaf",
                           24),
                 IMG_FMT_AVIF);
    CHECK_EQ_INT(img_sniff("%PDF-1.4", 8), IMG_FMT_UNKNOWN);
}

/* Buffers (uploads) behave like files: same size, same hash. */
TEST(open_buffer) {
    CHECK_EQ_INT(img_init(1), UT_OK);
    char *path = in_mixed("exif_samples/jpg/gps/DSCN0010.jpg");
    FILE *f = fopen(path, "rb");
    if (!f) return test_skip("mixed photo set missing");
    static uint8_t data[1 << 20];
    size_t n = fread(data, 1, sizeof data, f);
    fclose(f);
    img_photo *a, *b;
    img_meta ma, mb;
    CHECK_EQ_INT(img_open_file(path, &a), UT_OK);
    CHECK_EQ_INT(img_open_buffer(data, n, "upload.bin", &b), UT_OK);
    CHECK_EQ_INT(img_meta_get(a, &ma), UT_OK);
    CHECK_EQ_INT(img_meta_get(b, &mb), UT_OK);
    CHECK_EQ_STR(ma.sha256, mb.sha256);
    CHECK_EQ_STR(ma.date, mb.date);
    CHECK_EQ_INT(img_width(b), 640);
    img_close(a);
    img_close(b);
    CHECK(img_open_buffer(data, 100, "cut.jpg", &b) == UT_EFORMAT);
    CHECK(strstr(ut_errmsg(), "cut.jpg"));
    ut_free(path);
}

/* Letterbox: the map sends original corners to the image's corners inside
 * the box, round-trips, and the padding holds the pad value. */
TEST(letterbox_map) {
    CHECK_EQ_INT(img_init(1), UT_OK);
    char *path = in_mixed("exif_orientation/Portrait_6.jpg");
    img_photo *ph;
    int rc = img_open_file(path, &ph);
    ut_free(path);
    if (rc == UT_ENOENT) return test_skip("mixed photo set missing");
    CHECK_EQ_INT(rc, UT_OK);
    img_load_opts o = {.fit = IMG_FIT_LETTERBOX, .width = 640, .height = 640, .pad = 114, .center = 1};
    img_pixels p;
    CHECK_EQ_INT(img_load(ph, &o, &p), UT_OK);
    CHECK_EQ_INT(p.width, 640);
    CHECK_EQ_INT(p.map.orig_w, 1200);
    CHECK_EQ_INT(p.map.orig_h, 1800);
    double mx, my, x, y;
    img_from_orig(&p.map, 0, 0, &mx, &my);
    CHECK(fabs(my) < 1e-9 && fabs(mx - p.map.ox) < 1e-9 && p.map.ox > 100);
    img_from_orig(&p.map, 1200, 1800, &mx, &my);
    CHECK(fabs(my - 640) < 1e-6 && fabs(mx - (640 - p.map.ox)) <= 1.0 + 1e-9);
    img_to_orig(&p.map, 321.5, 77.25, &x, &y);
    img_from_orig(&p.map, x, y, &mx, &my);
    CHECK(fabs(mx - 321.5) < 1e-9 && fabs(my - 77.25) < 1e-9);
    /* Padding left and right, image in between. */
    CHECK(p.pixels[(300 * 640 + 5) * 3] == 114 && p.pixels[(300 * 640 + 634) * 3 + 2] == 114);
    /* A pixel of the original maps onto the same colour in the box: compare
     * with a plain longest-side load at the same scale. */
    img_pixels q;
    img_load_opts lo = {.fit = IMG_FIT_LONGEST, .size = 640};
    CHECK_EQ_INT(img_load(ph, &lo, &q), UT_OK);
    for (int k = 0; k < 20; k++) {
        double ox = 60 + k * 53, oy = 90 + k * 83, qx, qy;
        img_from_orig(&p.map, ox, oy, &mx, &my);
        img_from_orig(&q.map, ox, oy, &qx, &qy);
        for (int c = 0; c < 3; c++)
            CHECK(abs(p.pixels[((int)my * 640 + (int)mx) * 3 + c] -
                      q.pixels[((int)qy * q.width + (int)qx) * 3 + c]) <= 2);
    }
    /* The tensor is the same pixels, planar and normalised, in BGR. */
    img_tensor t;
    const float mean[3] = {104, 117, 123}, stdv[3] = {1, 2, 4};
    o.order = IMG_BGR;
    CHECK_EQ_INT(img_load_tensor(ph, &o, mean, stdv, &t), UT_OK);
    CHECK(t.n == 1 && t.c == 3 && t.h == 640 && t.w == 640);
    size_t at = 320 * 640 + 320;
    CHECK(fabsf(t.data[at] - (p.pixels[at * 3 + 2] - 104.0f) / 1) < 1e-4);
    CHECK(fabsf(t.data[640 * 640 + at] - (p.pixels[at * 3 + 1] - 117.0f) / 2) < 1e-4);
    CHECK(fabsf(t.data[2 * 640 * 640 + at] - (p.pixels[at * 3] - 123.0f) / 4) < 1e-4);
    img_tensor_free(&t);
    img_pixels_free(&p);
    img_pixels_free(&q);
    img_close(ph);
}

/* Reference: the oriented full-size image straight from libvips, and a
 * textbook bilinear warpAffine over it in double precision. */
static uint8_t *reference_pixels(const char *path, int *w, int *h) {
    VipsImage *im = vips_image_new_from_file(path, NULL), *rot = NULL;
    if (!im) return NULL;
    if (vips_autorot(im, &rot, NULL)) return NULL;
    g_object_unref(im);
    size_t n;
    uint8_t *px = vips_image_write_to_memory(rot, &n);
    *w = rot->Xsize;
    *h = rot->Ysize;
    g_object_unref(rot);
    return px;
}

static void naive_warp(const uint8_t *src, int w, int h, const double m[6], int size, uint8_t *out) {
    double det = m[0] * m[4] - m[1] * m[3];
    double ia = m[4] / det, ib = -m[1] / det, id = -m[3] / det, ie = m[0] / det;
    for (int Y = 0; Y < size; Y++)
        for (int X = 0; X < size; X++) {
            double dx = X - m[2], dy = Y - m[5];
            double sx = ia * dx + ib * dy, sy = id * dx + ie * dy;
            int x0 = (int)floor(sx), y0 = (int)floor(sy);
            double fx = sx - x0, fy = sy - y0;
            for (int c = 0; c < 3; c++) {
                double v = 0;
                for (int k = 0; k < 4; k++) {
                    int x = x0 + (k & 1), y = y0 + (k >> 1);
                    double wt = ((k & 1) ? fx : 1 - fx) * ((k >> 1) ? fy : 1 - fy);
                    if (x >= 0 && y >= 0 && x < w && y < h) v += wt * src[((size_t)y * w + x) * 3 + c];
                }
                out[(Y * size + X) * 3 + c] = (uint8_t)fmin(255, floor(v + 0.5));
            }
        }
}

static void similarity(double scale, double angle, double tx, double ty, double m[6]) {
    m[0] = scale * cos(angle), m[1] = -scale * sin(angle), m[2] = tx;
    m[3] = scale * sin(angle), m[4] = scale * cos(angle), m[5] = ty;
}

static void check_warp_file(const char *rel) {
    char *path = in_mixed(rel);
    int w, h;
    uint8_t *ref = reference_pixels(path, &w, &h);
    if (!ref) return test_skip("mixed photo set missing");
    img_photo *ph;
    CHECK_EQ_INT(img_open_file(path, &ph), UT_OK);
    ut_free(path);
    double m[4][6];
    similarity(0.1, 0.3, -60, -20, m[0]);                 /* a big face, rotated */
    similarity(0.5, -0.2, -200, -300, m[1]);              /* a small face */
    similarity(1.0, 0.0, -(w - 50.0), -(h - 60.0), m[2]); /* half outside the image */
    similarity(0.25, 3.0, 100, 80, m[3]);                 /* upside down */
    enum { S = 112 };
    static uint8_t got[4][S * S * 3], want[S * S * 3];
    uint8_t *outs[4] = {got[0], got[1], got[2], got[3]};
    CHECK_EQ_INT(img_warp(ph, (const double(*)[6])m, 4, S, IMG_RGB, outs), UT_OK);
    for (int i = 0; i < 4; i++) {
        naive_warp(ref, w, h, m[i], S, want);
        int worst = 0;
        long nz = 0;
        for (int k = 0; k < S * S * 3; k++) {
            int d = abs(got[i][k] - want[k]);
            worst = d > worst ? d : worst;
            nz += want[k] != 0;
        }
        if (worst > 1) fprintf(stderr, "  %s transform %d: max diff %d\n", rel, i, worst);
        CHECK(worst <= 1);
        CHECK(nz > S * S / 8); /* the crop is not empty (transform 2 is 1/4 inside) */
    }
    double singular[1][6] = {{1, 2, 0, 2, 4, 0}};
    CHECK_EQ_INT(img_warp(ph, (const double(*)[6])singular, 1, S, IMG_RGB, outs), UT_EINVAL);
    img_close(ph);
    g_free(ref);
}

TEST(warp_matches_reference_upright) {
    CHECK_EQ_INT(img_init(1), UT_OK);
    check_warp_file("exif_orientation/Landscape_1.jpg");
}

/* Orientations 2..8: the crop is taken from the stored pixels with the
 * orientation folded into the sampling; it must match the rotated image. */
TEST(warp_matches_reference_every_orientation) {
    CHECK_EQ_INT(img_init(1), UT_OK);
    for (int o = 2; o <= 8; o++) {
        char rel[64];
        snprintf(rel, sizeof rel, "exif_orientation/%s_%d.jpg", o & 1 ? "Portrait" : "Landscape", o);
        check_warp_file(rel);
    }
}

static int copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[65536];
    size_t n;
    int ok = a && b;
    while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0) ok = fwrite(buf, 1, n, b) == n;
    if (a) fclose(a);
    if (b && fclose(b)) ok = 0;
    return ok;
}

/* The preview cache hits, and a changed file misses. */
TEST(thumb_cache) {
    CHECK_EQ_INT(img_init(1), UT_OK);
    char *a = in_mixed("exif_orientation/Portrait_6.jpg"), *b = in_mixed("exif_samples/jpg/gps/DSCN0010.jpg");
    if (!test_exists(a)) return test_skip("mixed photo set missing");
    char src[512], cache[512];
    snprintf(src, sizeof src, "%s/photo.jpg", test_tmpdir());
    snprintf(cache, sizeof cache, "%s/cache", test_tmpdir());
    CHECK(copy_file(a, src));
    char *p1, *p2, *p3, *p4;
    int hit;
    CHECK_EQ_INT(img_thumb_cached(src, cache, 200, IMG_JPEG, &p1, &hit), UT_OK);
    CHECK_EQ_INT(hit, 0);
    CHECK_EQ_INT(img_thumb_cached(src, cache, 200, IMG_JPEG, &p2, &hit), UT_OK);
    CHECK_EQ_INT(hit, 1);
    CHECK_EQ_STR(p1, p2);
    /* The preview is an upright 200-pixel-high JPEG. */
    img_photo *ph;
    CHECK_EQ_INT(img_open_file(p1, &ph), UT_OK);
    CHECK_EQ_INT(img_photo_format(ph), IMG_FMT_JPEG);
    CHECK_EQ_INT(img_height(ph), 200);
    CHECK_EQ_INT(img_width(ph), 133);
    img_close(ph);
    /* Another size and WebP are other entries. */
    CHECK_EQ_INT(img_thumb_cached(src, cache, 64, IMG_WEBP, &p3, &hit), UT_OK);
    CHECK_EQ_INT(hit, 0);
    CHECK(strstr(p3, ".webp") && strcmp(p3, p1));
    /* Replace the file: new content, new mtime -> a miss and a new entry. */
    CHECK(copy_file(b, src));
    struct timeval tv[2] = {{1000000000, 0}, {1000000000, 0}};
    CHECK(utimes(src, tv) == 0);
    CHECK_EQ_INT(img_thumb_cached(src, cache, 200, IMG_JPEG, &p4, &hit), UT_OK);
    CHECK_EQ_INT(hit, 0);
    CHECK(strcmp(p4, p1) != 0);
    CHECK_EQ_INT(img_open_file(p4, &ph), UT_OK);
    CHECK_EQ_INT(img_width(ph), 200);
    CHECK_EQ_INT(img_height(ph), 150);
    img_close(ph);
    /* No temporary files left behind. */
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "find '%s' -name '*.tmp.*' | grep -q .", cache);
    CHECK(system(cmd) != 0);
    ut_free(p1), ut_free(p2), ut_free(p3), ut_free(p4), ut_free(a), ut_free(b);
}

/* Other formats of the set decode to the model size. */
TEST(formats_decode) {
    static const char *const files[] = {
        "debian_pkgs/gnome_backgrounds_webp/wood-l.webp",
        "exif_samples/tiff/BSG1.tiff",
        "debian_pkgs/libjxl_testdata/tmshre_riaphotographs_alpha.png",
        "debian_pkgs/libjxl_testdata/flower.png.im_q85_gray.jpg",
        "exif_samples/heic/samplefilehub.heif",
        "immich_test_assets/formats/avif/8bit-sRGB.avif",
        "immich_test_assets/formats/jxl/8bit-sRGB.jxl",
    };
    CHECK_EQ_INT(img_init(1), UT_OK);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char *path = in_mixed(files[i]);
        img_photo *ph;
        int rc = img_open_file(path, &ph);
        ut_free(path);
        if (rc == UT_ENOENT) return test_skip("mixed photo set missing");
        if (rc == UT_EUNSUPPORTED) {
            fprintf(stderr, "  %s: %s\n", files[i], ut_errmsg());
            continue;
        }
        CHECK_EQ_INT(rc, UT_OK);
        img_pixels p;
        img_load_opts o = {.fit = IMG_FIT_LONGEST, .size = 256};
        CHECK_EQ_INT(img_load(ph, &o, &p), UT_OK);
        CHECK(p.width == 256 || p.height == 256);
        img_pixels_free(&p);
        img_close(ph);
    }
}

/* A BMP (written by libvips' ImageMagick saver) opens as BMP. */
TEST(bmp) {
    CHECK_EQ_INT(img_init(1), UT_OK);
    if (!img_format_supported(IMG_FMT_BMP)) return test_skip("no BMP loader in this libvips");
    VipsImage *im = NULL;
    CHECK(vips_black(&im, 40, 30, "bands", 3, NULL) == 0);
    char path[512];
    snprintf(path, sizeof path, "%s/x.bin", test_tmpdir());
    if (vips_magicksave(im, path, "format", "bmp", NULL)) {
        g_object_unref(im);
        return test_skip("magicksave cannot write BMP");
    }
    g_object_unref(im);
    img_photo *ph;
    CHECK_EQ_INT(img_open_file(path, &ph), UT_OK);
    CHECK_EQ_INT(img_photo_format(ph), IMG_FMT_BMP);
    CHECK_EQ_INT(img_width(ph), 40);
    img_close(ph);
}

/* Out of memory at any allocation: a clean error, never a crash. */
TEST(out_of_memory) {
    CHECK_EQ_INT(img_init(1), UT_OK);
    char *path = in_mixed("exif_samples/jpg/gps/DSCN0010.jpg");
    if (!test_exists(path)) return test_skip("mixed photo set missing");
    for (long k = 1; k < 40; k++) {
        img_photo *ph = NULL;
        img_pixels p = {0};
        img_meta m;
        ut_mem_fail_at(k);
        int rc = img_open_file(path, &ph);
        if (!rc) {
            img_load_opts o = {.fit = IMG_FIT_LETTERBOX, .width = 64, .height = 64};
            rc = img_load(ph, &o, &p);
            if (!rc) rc = img_meta_get(ph, &m);
        }
        ut_mem_fail_at(0);
        CHECK(rc == UT_OK || rc == UT_ENOMEM);
        img_pixels_free(&p);
        img_close(ph);
    }
    ut_free(path);
}

int main(int argc, char **argv) {
    return test_main(argc, argv);
}

/* Photos load in parallel (the jobs module runs a pool): good files give
 * the same pixels as alone, broken files an error naming themselves. */
typedef struct {
    const char *rel;
    int want_rc;
    uint64_t want_sum;
    int bad;
} par_case;

static uint64_t pixel_sum(const img_pixels *p) {
    uint64_t s = 0;
    for (size_t i = 0; i < (size_t)p->width * p->height * 3; i++) s = s * 31 + p->pixels[i];
    return s;
}

static void par_load(void *ctx, size_t begin, size_t end) {
    par_case *cases = ctx;
    for (size_t i = begin; i < end; i++) {
        par_case *c = &cases[i % 4];
        img_pixels p;
        int rc = load_small(c->rel, &p);
        if (rc != c->want_rc || (rc == UT_OK && pixel_sum(&p) != c->want_sum)) c->bad = 1;
        if (rc && !strstr(ut_errmsg(), c->rel)) c->bad = 1;
        if (!rc) img_pixels_free(&p);
    }
}

TEST(parallel_loads) {
    CHECK_EQ_INT(img_init(1), UT_OK);
    par_case cases[4] = {{"exif_orientation/Landscape_6.jpg", UT_OK, 0, 0},
                         {"derived_broken/truncated_50pct_prairie_falcon.jpg", UT_EFORMAT, 0, 0},
                         {"exif_samples/heic/samplefilehub.heif", UT_OK, 0, 0},
                         {"derived_broken/not_an_image.jpg", UT_EFORMAT, 0, 0}};
    for (int i = 0; i < 4; i++) {
        img_pixels p;
        int rc = load_small(cases[i].rel, &p);
        if (rc == UT_ENOENT) return test_skip("mixed photo set missing");
        if (rc == UT_EUNSUPPORTED) return test_skip("no HEIF in this libvips");
        CHECK_EQ_INT(rc, cases[i].want_rc);
        if (!rc) cases[i].want_sum = pixel_sum(&p), img_pixels_free(&p);
    }
    ut_pool *pool;
    CHECK_EQ_INT(ut_pool_create(4, &pool), UT_OK);
    ut_pool_for(pool, 64, 1, par_load, cases);
    ut_pool_destroy(pool);
    for (int i = 0; i < 4; i++) CHECK(!cases[i].bad);
}

/* Phone HEICs stored sideways (EXIF/irot 6) come out upright, in the header
 * and in the pixels: the manifest's stored size, turned. */
TEST(heic_upright) {
    static const struct {
        const char *file;
        int w, h; /* upright */
    } want[] = {
        {"exif_samples/heic/mobile/iphone_13_pro_max.HEIC", 3024, 4032},
        {"immich_test_assets/formats/motionphoto/samsung-one-ui-6.heic", 3000, 4000},
    };
    CHECK_EQ_INT(img_init(1), UT_OK);
    if (!img_format_supported(IMG_FMT_HEIF)) return test_skip("no HEIF loader in this libvips");
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char *path = in_mixed(want[i].file);
        img_photo *ph;
        int rc = img_open_file(path, &ph);
        ut_free(path);
        if (rc == UT_ENOENT) return test_skip("mixed photo set missing");
        CHECK_EQ_INT(rc, UT_OK);
        CHECK_EQ_INT(img_width(ph), want[i].w);
        CHECK_EQ_INT(img_height(ph), want[i].h);
        img_pixels p;
        img_load_opts o = {.fit = IMG_FIT_LONGEST, .size = 640};
        CHECK_EQ_INT(img_load(ph, &o, &p), UT_OK);
        CHECK_EQ_INT(p.width, 480);
        CHECK_EQ_INT(p.height, 640);
        img_pixels_free(&p);
        img_close(ph);
    }
}

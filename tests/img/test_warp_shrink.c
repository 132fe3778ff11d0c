/* img_warp decodes a JPEG at 1/2, 1/4 or 1/8 when every crop samples it
 * that coarsely. The shrunk path must give the crop the full-resolution
 * path gives: the same camera photo as JPEG (shrunk decode) and as a PNG
 * of its decoded pixels (always full resolution) are warped with the same
 * transforms. The crops must agree closely, and best at zero offset: a
 * coordinate mapping off by half a decoded pixel would agree better one
 * output pixel over. */
#include "img.h"
#include "test.h"
#include "util.h"

#include <math.h>
#include <vips/vips.h>
#include <stdio.h>
#include <stdlib.h>

#define SIZE 112

static double mad(const uint8_t *a, const uint8_t *b, int dx, int dy) {
    double sum = 0;
    long n = 0;
    for (int y = 8; y < SIZE - 8; y++)
        for (int x = 8; x < SIZE - 8; x++)
            for (int c = 0; c < 3; c++, n++)
                sum += fabs((double)a[(y * SIZE + x) * 3 + c] - b[((y + dy) * SIZE + x + dx) * 3 + c]);
    return sum / (double)n;
}

TEST(shrunk_jpeg_matches_full_resolution) {
    char jpg[1024], png[1024];
    snprintf(jpg, sizeof jpg, "%s/data/photos/mixed/exif_samples/jpg/mobile/jolla.jpg", test_shared());
    if (!test_exists(jpg)) {
        test_skip("camera photo not in shared data");
        return;
    }
    snprintf(png, sizeof png, "%s/full.png", test_tmpdir());
    CHECK_EQ_INT(img_init(1), UT_OK);
    /* Decoded at full size, written losslessly: the same pixels as a PNG. */
    VipsImage *full = vips_image_new_from_file(jpg, NULL);
    CHECK(full != NULL);
    CHECK_EQ_INT(vips_pngsave(full, png, "compression", 1, NULL), 0);
    g_object_unref(full);
    img_photo *a, *b;
    CHECK_EQ_INT(img_open_file(jpg, &a), UT_OK);
    CHECK_EQ_INT(img_open_file(png, &b), UT_OK);
    int stored_is_oriented = img_orientation(a) == 1;
    if (!stored_is_oriented) {
        test_skip("photo has an EXIF rotation (the PNG copy would not)");
        img_close(a);
        img_close(b);
        return;
    }
    /* Scales 1/2.5, 1/5 and 1/9 photo pixels per output pixel: k = 2, 4, 8. */
    double scales[3] = {1 / 2.5, 1 / 5.0, 1 / 9.0};
    for (int i = 0; i < 3; i++) {
        double s = scales[i], rot = 0.3;
        double m[6] = {s * cos(rot), -s * sin(rot), 0, s * sin(rot), s * cos(rot), 0};
        /* Centre the crop on the middle of the photo. */
        double cx = img_width(a) / 2.0, cy = img_height(a) / 2.0;
        m[2] = SIZE / 2.0 - (m[0] * cx + m[1] * cy);
        m[5] = SIZE / 2.0 - (m[3] * cx + m[4] * cy);
        uint8_t *ca = ut_malloc(SIZE * SIZE * 3), *cb = ut_malloc(SIZE * SIZE * 3);
        CHECK_EQ_INT(img_warp(a, (const double (*)[6])&m, 1, SIZE, IMG_RGB, &ca), UT_OK);
        CHECK_EQ_INT(img_warp(b, (const double (*)[6])&m, 1, SIZE, IMG_RGB, &cb), UT_OK);
        double at0 = mad(ca, cb, 0, 0);
        fprintf(stderr, "  scale 1/%.1f: mean abs difference %.2f levels", 1 / s, at0);
        for (int d = 0; d < 4; d++) {
            int dx = d == 0 ? 1 : d == 1 ? -1 : 0, dy = d == 2 ? 1 : d == 3 ? -1 : 0;
            double off = mad(ca, cb, dx, dy);
            fprintf(stderr, ", (%d,%d) %.2f", dx, dy, off);
            CHECK(at0 < off);
        }
        fputc('\n', stderr);
        CHECK(at0 < 6.0);
        ut_free(ca);
        ut_free(cb);
    }
    img_close(a);
    img_close(b);
}

int main(int argc, char **argv) { return test_main(argc, argv); }

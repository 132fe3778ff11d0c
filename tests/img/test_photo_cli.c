/* test_photo_cli.c -- `kadr photo info|thumb` end to end on the real binary. */
#include "http.h"
#include "img.h"
#include "test.h"
#include "util.h"

#include <stdlib.h>

static char out[1 << 16], err[1 << 14];

static char *mixed(const char *rel) {
    return ut_asprintf("%s/data/photos/mixed/%s", test_shared(), rel);
}

TEST(info_json_lines_and_exit_status) {
    char *good = mixed("exif_samples/jpg/gps/DSCN0010.jpg"),
         *bad = mixed("derived_broken/truncated_50pct_prairie_falcon.jpg");
    if (!test_exists(good)) return test_skip("mixed photo set missing");
    const char *args[] = {"photo", "info", good, bad, NULL};
    int rc = kadr_run(args, out, sizeof out, err, sizeof err);
    CHECK_EQ_INT(rc, 1);
    char *nl = strchr(out, '\n');
    CHECK(nl && strchr(nl + 1, '\n'));
    CHECK(strstr(out, "\"format\":\"jpeg\""));
    CHECK(strstr(out, "\"width\":640,\"height\":480"));
    CHECK(strstr(out, "\"date\":\"2008-10-22T16:28:39\""));
    CHECK(strstr(out, "\"date_source\":\"DateTimeOriginal\""));
    CHECK(strstr(out, "\"make\":\"NIKON\""));
    CHECK(strstr(out, "\"gps\":{\"lat\":43.46744"));
    CHECK(strstr(nl + 1, "\"error\":") && strstr(nl + 1, "truncated_50pct_prairie_falcon.jpg"));
    const char *one[] = {"photo", "info", good, NULL};
    CHECK_EQ_INT(kadr_run(one, out, sizeof out, err, sizeof err), 0);
    ut_free(good);
    ut_free(bad);
}

TEST(thumb_writes_preview) {
    CHECK_EQ_INT(img_init(1), UT_OK);
    char *src = mixed("exif_orientation/Landscape_8.jpg");
    if (!test_exists(src)) return test_skip("mixed photo set missing");
    char dst[512];
    snprintf(dst, sizeof dst, "%s/p.webp", test_tmpdir());
    const char *args[] = {"photo", "thumb", src, "--size", "300", "-o", dst, NULL};
    CHECK_EQ_INT(kadr_run(args, out, sizeof out, err, sizeof err), 0);
    img_photo *ph;
    CHECK_EQ_INT(img_open_file(dst, &ph), UT_OK);
    CHECK_EQ_INT(img_photo_format(ph), IMG_FMT_WEBP);
    CHECK_EQ_INT(img_width(ph), 300);
    CHECK_EQ_INT(img_height(ph), 200);
    img_close(ph);
    const char *usage[] = {"photo", "thumb", src, NULL};
    CHECK_EQ_INT(kadr_run(usage, out, sizeof out, err, sizeof err), 2);
    ut_free(src);
}

int main(int argc, char **argv) {
    return test_main(argc, argv);
}

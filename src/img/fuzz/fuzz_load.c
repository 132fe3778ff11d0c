/* fuzz_load.c -- libFuzzer target over the whole load path of img/:
 * sniffing, libvips header read, shrink-on-load decode, the aligned warp,
 * and our own EXIF/XMP parsers (also fed the raw input directly, since
 * they see attacker bytes no matter which container carried them).
 *
 *   build/src/img/fuzz/fuzz_img -max_total_time=60 CORPUS_DIR src/img/fuzz/corpus
 */
#include "img.h"
#include "util.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) {
        ut_log_set_level(UT_LOG_ERROR);
        if (img_init(1)) return 0;
        ready = 1;
    }
    img_meta m;
    memset(&m, 0, sizeof m);
    img_exif_parse(data, size, &m);
    img_xmp_parse((const char *)data, size, &m);
    img_sniff(data, size);

    img_photo *ph;
    if (img_open_buffer(data, size, "fuzz", &ph)) return 0;
    /* Keep each run cheap: only small pictures are decoded further. */
    if ((long long)img_width(ph) * img_height(ph) <= 4096 * 4096) {
        img_pixels p;
        img_load_opts o = {.fit = IMG_FIT_LETTERBOX, .width = 48, .height = 32, .pad = 7, .center = 1};
        if (!img_load(ph, &o, &p)) img_pixels_free(&p);
        img_meta_get(ph, &m);
        if ((long long)img_width(ph) * img_height(ph) <= 1024 * 1024) {
            double t[1][6] = {{0.5, 0.1, 2, -0.1, 0.5, 3}};
            static uint8_t crop[16 * 16 * 3];
            uint8_t *outs[1] = {crop};
            img_warp(ph, (const double(*)[6])t, 1, 16, IMG_BGR, outs);
        }
    }
    img_close(ph);
    return 0;
}

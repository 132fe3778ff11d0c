/* core.c -- libvips start-up, its error glue, and format sniffing.
 *
 * libvips keeps one error buffer for the whole process, shared by all
 * threads (libvips docs, "VIPS and threads"), so a failure's text can in
 * principle be picked up by another thread failing at the same moment.
 * We take it with vips_error_buffer_copy(), which locks, copies and clears
 * in one step (no torn reads), right after the failing call, and always
 * prefix the file name ourselves: the name in a message is always right,
 * the libvips reason is the best available. libvips' own warnings
 * (GLib log domain "VIPS") are routed to kadr's debug log, not stderr.
 *
 * The operation cache is switched off: kadr reads each photo once, and a
 * cache keyed by file name would hand back stale pixels for a file that
 * changed on disk. */
#include "img_int.h"
#include "util.h"

#include <pthread.h>
#include <string.h>

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static int started;

static void route_vips_log(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer data) {
    ut_debug("libvips: %s", msg);
}

int img_init(int threads) {
    pthread_mutex_lock(&init_lock);
    int rc = UT_OK;
    if (!started) {
        if (VIPS_INIT("kadr")) {
            rc = ut_fail(UT_EUNSUPPORTED, "libvips failed to start: %s", vips_error_buffer());
            vips_error_clear();
        } else {
            vips_cache_set_max(0);
            vips_cache_set_max_mem(0);
            vips_cache_set_max_files(0);
            g_log_set_handler(
                "VIPS", G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG,
                route_vips_log, NULL);
            started = 1;
        }
    }
    pthread_mutex_unlock(&init_lock);
    if (rc == UT_OK) img_set_threads(threads);
    return rc;
}

void img_set_threads(int threads) {
    vips_concurrency_set(threads > 0 ? threads : 1);
}

void img_shutdown(void) {
    pthread_mutex_lock(&init_lock);
    if (started) vips_shutdown();
    started = 0;
    pthread_mutex_unlock(&init_lock);
}

/* libvips' buffer holds lines "domain: text\n"; keep the last non-empty
 * line, which is the most specific. */
int img__vips_fail(int code, const char *name, const char *what) {
    char *buf = vips_error_buffer_copy();
    char line[400] = "";
    const char *p = buf;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n) {
            if (n >= sizeof line) n = sizeof line - 1;
            memcpy(line, p, n);
            line[n] = 0;
        }
        p = nl ? nl + 1 : NULL;
    }
    g_free(buf);
    if (!line[0]) snprintf(line, sizeof line, "%s", "decoder failed without a message");
    return ut_fail(code, "%s: %s: %s", name ? name : "(buffer)", what, line);
}

/* ---- sniffing ----------------------------------------------------------- */

static int has(const uint8_t *p, size_t n, size_t at, const char *magic, size_t m) {
    return n >= at + m && memcmp(p + at, magic, m) == 0;
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ISO-BMFF "ftyp" box: major brand, then compatible brands. AVIF wins if
 * the major brand says so; HEIF if any brand is a HEVC/HEIF one. */
static img_format sniff_ftyp(const uint8_t *p, size_t n) {
    size_t box = be32(p);
    if (box < 16 || box > n) box = n < 64 ? n : 64;
    static const char *const heif[] = {"heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1"};
    int is_heif = 0, is_avif = 0;
    for (size_t at = 8; at + 4 <= box; at += 4) {
        if (at == 12) continue; /* minor version */
        if (!memcmp(p + at, "avif", 4) || !memcmp(p + at, "avis", 4)) is_avif |= at == 8 ? 2 : 1;
        for (size_t i = 0; i < sizeof heif / sizeof heif[0]; i++)
            if (!memcmp(p + at, heif[i], 4)) is_heif = 1;
    }
    if (is_avif & 2) return IMG_FMT_AVIF;
    if (is_heif && !memcmp(p + 8, "mif1", 4) && is_avif) return IMG_FMT_AVIF;
    if (is_heif) return IMG_FMT_HEIF;
    if (is_avif) return IMG_FMT_AVIF;
    return IMG_FMT_UNKNOWN;
}

static int bmp_header_ok(const uint8_t *p, size_t n) {
    if (n < 18) return 0;
    uint32_t dib = (uint32_t)p[14] | (uint32_t)p[15] << 8 | (uint32_t)p[16] << 16 | (uint32_t)p[17] << 24;
    return dib == 12 || dib == 40 || dib == 52 || dib == 56 || dib == 64 || dib == 108 || dib == 124;
}

img_format img_sniff(const void *head, size_t n) {
    const uint8_t *p = head;
    if (!p || n < 2) return IMG_FMT_UNKNOWN;
    if (has(p, n, 0, "\xFF\xD8\xFF", 3)) return IMG_FMT_JPEG;
    if (has(p, n, 0, "\x89PNG\r\n\x1A\n", 8)) return IMG_FMT_PNG;
    if (has(p, n, 0, "GIF87a", 6) || has(p, n, 0, "GIF89a", 6)) return IMG_FMT_GIF;
    if (has(p, n, 0, "RIFF", 4) && has(p, n, 8, "WEBP", 4)) return IMG_FMT_WEBP;
    if (has(p, n, 0, "II*\0", 4) || has(p, n, 0, "MM\0*", 4) || has(p, n, 0, "II+\0", 4) ||
        has(p, n, 0, "MM\0+", 4))
        return IMG_FMT_TIFF;
    if (has(p, n, 0, "BM", 2) && bmp_header_ok(p, n)) return IMG_FMT_BMP;
    if (has(p, n, 4, "ftyp", 4) && n >= 12) return sniff_ftyp(p, n);
    if (has(p, n, 0, "\xFF\x0A", 2) || has(p, n, 0, "\0\0\0\x0CJXL \r\n\x87\n", 12)) return IMG_FMT_JXL;
    return IMG_FMT_UNKNOWN;
}

const char *img_format_name(img_format fmt) {
    switch (fmt) {
    case IMG_FMT_JPEG: return "jpeg";
    case IMG_FMT_PNG: return "png";
    case IMG_FMT_WEBP: return "webp";
    case IMG_FMT_TIFF: return "tiff";
    case IMG_FMT_BMP: return "bmp";
    case IMG_FMT_GIF: return "gif";
    case IMG_FMT_HEIF: return "heif";
    case IMG_FMT_AVIF: return "avif";
    case IMG_FMT_JXL: return "jxl";
    default: return "unknown";
    }
}

/* The libvips loader that decodes each format in this build. BMP goes
 * through ImageMagick (Debian's libvips has magickload). */
static const char *loader_of(img_format fmt) {
    switch (fmt) {
    case IMG_FMT_JPEG: return "jpegload";
    case IMG_FMT_PNG: return "pngload";
    case IMG_FMT_WEBP: return "webpload";
    case IMG_FMT_TIFF: return "tiffload";
    case IMG_FMT_BMP: return "magickload";
    case IMG_FMT_GIF: return "gifload";
    case IMG_FMT_HEIF:
    case IMG_FMT_AVIF: return "heifload";
    case IMG_FMT_JXL: return "jxlload";
    default: return NULL;
    }
}

int img_format_supported(img_format fmt) {
    const char *l = loader_of(fmt);
    return l && vips_type_find("VipsOperation", l) != 0;
}

/* sniff.c -- image format by magic bytes, so the indexer skips non-images
 * without decoding. Reads at most the first 32 bytes it is given; never
 * trusts lengths inside them. */
#include "jobs_int.h"

#include <string.h>

static int has(const unsigned char *p, size_t n, size_t off, const char *magic, size_t len) {
    return n >= off + len && memcmp(p + off, magic, len) == 0;
}

/* ISO-BMFF "ftyp" brands of HEIF images (HEIC, AVIF and friends). */
static const char *heif_brand(const unsigned char *p, size_t n) {
    if (!has(p, n, 4, "ftyp", 4) || n < 12) return NULL;
    static const char *const heif[] = {"heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1"};
    for (size_t i = 0; i < sizeof heif / sizeof heif[0]; i++)
        if (memcmp(p + 8, heif[i], 4) == 0) return "heif";
    if (memcmp(p + 8, "avif", 4) == 0 || memcmp(p + 8, "avis", 4) == 0) return "avif";
    return NULL;
}

/* BMP: "BM" is common in text, so also require a known DIB header size. */
static int is_bmp(const unsigned char *p, size_t n) {
    if (!has(p, n, 0, "BM", 2) || n < 18) return 0;
    unsigned dib = p[14] | (unsigned)p[15] << 8 | (unsigned)p[16] << 16 | (unsigned)p[17] << 24;
    return dib == 12 || dib == 40 || dib == 52 || dib == 56 || dib == 64 || dib == 108 || dib == 124;
}

const char *job_sniff_format(const void *head, size_t n) {
    const unsigned char *p = head;
    if (!p) return NULL;
    if (n > 32) n = 32;
    if (has(p, n, 0, "\xff\xd8\xff", 3)) return "jpeg";
    if (has(p, n, 0, "\x89PNG\r\n\x1a\n", 8)) return "png";
    if (has(p, n, 0, "GIF87a", 6) || has(p, n, 0, "GIF89a", 6)) return "gif";
    if (has(p, n, 0, "RIFF", 4) && has(p, n, 8, "WEBP", 4)) return "webp";
    if (has(p, n, 0, "II*\0", 4) || has(p, n, 0, "MM\0*", 4)) return "tiff";
    if (is_bmp(p, n)) return "bmp";
    return heif_brand(p, n);
}

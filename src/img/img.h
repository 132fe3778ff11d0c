/* img.h -- every image kadr analyses enters through here (libvips inside).
 *
 * Lifecycle:
 *   img_init(threads)                      once per process, before any other call
 *   img_open_file / img_open_buffer        an img_photo: header read, format sniffed
 *     img_load / img_load_tensor           shrink-on-load to what a model needs
 *     img_warp                             aligned crops from the full-res pixels
 *     img_meta                             EXIF date, camera, GPS, size, hash
 *   img_close
 *   img_thumb_* / img_thumb_cached         previews, cached on disk by content hash
 *   img_shutdown()                         optional, at exit
 *
 * Coordinates: "original" means the oriented image (EXIF orientation applied,
 * what a viewer shows) at full resolution, continuous pixel-edge coordinates
 * (the top-left pixel covers [0,1)x[0,1)). A loaded image records the map
 *   model = original * scale + offset          (per axis)
 * img_to_orig() / img_from_orig() apply it.
 *
 * Errors follow util.h: UT_EFORMAT for a damaged or non-image file,
 * UT_EUNSUPPORTED for an image format kadr does not accept, UT_ETOOBIG for
 * an image over IMG_MAX_PIXELS, UT_ENOENT/UT_EIO from the file system; the
 * message names the file and the reason. No input makes these functions
 * abort. Every function may be called from several threads at once on
 * different img_photo handles. */
#ifndef KADR_IMG_H
#define KADR_IMG_H

#include <stddef.h>
#include <stdint.h>

/* Refuse images above this many pixels (decompression bombs). */
#define IMG_MAX_PIXELS (256LL * 1024 * 1024)

/* ---- process set-up ---------------------------------------------------- */

/* Start libvips. threads is libvips' worker count per pipeline (<= 0: 1);
 * kadr parallelises across photos, so 1 is usually right. Idempotent;
 * a later call only changes the thread count. */
int img_init(int threads);
void img_set_threads(int threads);
void img_shutdown(void);

/* ---- formats ----------------------------------------------------------- */

typedef enum {
    IMG_FMT_UNKNOWN = 0,
    IMG_FMT_JPEG,
    IMG_FMT_PNG,
    IMG_FMT_WEBP,
    IMG_FMT_TIFF,
    IMG_FMT_BMP,
    IMG_FMT_GIF,
    IMG_FMT_HEIF,
    IMG_FMT_AVIF,
    IMG_FMT_JXL,
} img_format;

/* Format from the first bytes of a file (at least 32 for a sure answer). */
img_format img_sniff(const void *head, size_t n);
/* "jpeg", "png", ...; "unknown" for IMG_FMT_UNKNOWN. */
const char *img_format_name(img_format fmt);
/* 1 if this libvips build can decode fmt. */
int img_format_supported(img_format fmt);

/* ---- an opened photo --------------------------------------------------- */

typedef struct img_photo img_photo;

/* Open a file: sniff its content (never its name), read the header. The
 * pixels are decoded later, by each load, at the size that load needs. */
int img_open_file(const char *path, img_photo **out);
/* Same for bytes in memory (an upload); the bytes are copied. name is used
 * in error messages only (may be NULL). */
int img_open_buffer(const void *data, size_t len, const char *name, img_photo **out);
void img_close(img_photo *ph);

/* Size after EXIF orientation, stored orientation (1..8), format. */
int img_width(const img_photo *ph);
int img_height(const img_photo *ph);
int img_orientation(const img_photo *ph);
img_format img_photo_format(const img_photo *ph);

/* ---- load for analysis ------------------------------------------------- */

enum { IMG_RGB = 0, IMG_BGR = 1 };
enum {
    IMG_FIT_LONGEST = 0,   /* longest side = size, aspect kept, no padding */
    IMG_FIT_LETTERBOX = 1, /* fit into width x height, pad the rest */
    IMG_FIT_STRETCH = 2,   /* exactly width x height, aspect not kept */
};

typedef struct {
    int fit;           /* IMG_FIT_* */
    int size;          /* IMG_FIT_LONGEST: the longest side */
    int width, height; /* IMG_FIT_LETTERBOX / STRETCH: the output box */
    int pad;           /* 0..255, the padding's value in every channel */
    int center;        /* letterbox: 1 centres the image, 0 puts it top-left */
    int order;         /* IMG_RGB or IMG_BGR */
    int upscale;       /* 1 enlarges images smaller than the box */
} img_load_opts;

/* The map between model and original coordinates (see top of file). */
typedef struct {
    double sx, sy; /* scale: model pixels per original pixel */
    double ox, oy; /* offset of the image inside the model input */
    int orig_w, orig_h;
} img_map;

typedef struct {
    int width, height; /* of the whole output, padding included */
    int stride;        /* bytes per row: width * 3 */
    uint8_t *pixels;   /* interleaved 3-channel, 8-bit; ut_free / img_pixels_free */
    img_map map;
} img_pixels;

typedef struct {
    int n, c, h, w; /* 1, 3, h, w */
    float *data;    /* NCHW, (pixel - mean[c]) / std[c] in 0..255 units */
    img_map map;
} img_tensor;

/* Decode through libvips' shrink-on-load (a 50 MP JPEG bound for 640 px
 * is decoded at 1/8 scale and never held at full size), oriented,
 * flattened onto white if it has alpha, 8-bit sRGB. */
int img_load(img_photo *ph, const img_load_opts *opts, img_pixels *out);
void img_pixels_free(img_pixels *p);
/* img_load, then planar float with per-channel normalisation; mean and std
 * are in the output's channel order (BGR if opts->order is IMG_BGR). */
int img_load_tensor(img_photo *ph, const img_load_opts *opts, const float mean[3], const float std[3],
                    img_tensor *out);
void img_tensor_free(img_tensor *t);

/* Decode the whole photo at a tiny size (shrink-on-load keeps this cheap)
 * to find truncated or corrupt data the header does not reveal. */
int img_check(img_photo *ph);

void img_to_orig(const img_map *m, double mx, double my, double *x, double *y);
void img_from_orig(const img_map *m, double x, double y, double *mx, double *my);

/* ---- aligned crops ----------------------------------------------------- */

/* m maps original coordinates to output coordinates, OpenCV-style
 * (dst = M * [x y 1], pixel centres at integers, as cv2.warpAffine):
 *   out_x = m[0]*x + m[1]*y + m[2],  out_y = m[3]*x + m[4]*y + m[5].
 * For each of n transforms, writes a size x size x 3 crop to outs[i]
 * (caller-allocated, size*size*3 bytes) by inverse mapping and bilinear
 * sampling of the full-resolution oriented image; outside is 0. The photo
 * is decoded once for all n, and only the rows/columns the crops touch
 * are kept in memory. A singular m gives UT_EINVAL. */
int img_warp(img_photo *ph, const double (*m)[6], int n, int size, int order, uint8_t **outs);

/* ---- metadata ---------------------------------------------------------- */

typedef enum {
    IMG_DATE_NONE = 0,
    IMG_DATE_ORIGINAL,  /* EXIF DateTimeOriginal */
    IMG_DATE_XMP,       /* XMP exif:DateTimeOriginal / photoshop:DateCreated */
    IMG_DATE_DIGITIZED, /* EXIF DateTimeDigitized */
    IMG_DATE_MODIFIED,  /* EXIF (IFD0) DateTime */
} img_date_source;

typedef struct {
    char file[4096]; /* path or buffer name */
    img_format format;
    int64_t file_size; /* bytes */
    int width, height; /* after orientation */
    int orientation;   /* 1..8 (1 when absent) */
    char date[40];     /* "YYYY-MM-DDTHH:MM:SS[.sss][+hh:mm]", "" if none */
    img_date_source date_source;
    char make[64], model[128]; /* "" when absent */
    int has_gps;
    double lat, lon; /* signed decimal degrees, north/east positive */
    int has_alt;
    double alt;      /* metres, negative below sea level */
    char sha256[65]; /* of the file's bytes */
} img_meta;

/* Metadata of an opened photo (reads the EXIF the header carries, hashes
 * the file or buffer). */
int img_meta_get(img_photo *ph, img_meta *out);
/* "DateTimeOriginal", ... "none". */
const char *img_date_source_name(img_date_source s);

/* Parse a raw EXIF block (TIFF header onwards, an optional "Exif\0\0"
 * prefix is skipped) into the EXIF fields of out (date, camera, GPS,
 * orientation); other fields untouched. Tolerates any bytes. */
int img_exif_parse(const void *data, size_t len, img_meta *out);
/* XMP packet: fills date from exif:DateTimeOriginal or photoshop:DateCreated
 * when out has no EXIF DateTimeOriginal. */
void img_xmp_parse(const char *xmp, size_t len, img_meta *out);

/* ---- thumbnails -------------------------------------------------------- */

enum { IMG_JPEG = 0, IMG_WEBP = 1 };

/* Encode an oriented preview whose longest side is size (never enlarged).
 * *out is ut_malloc'd; caller frees. */
int img_thumb(img_photo *ph, int size, int fmt, uint8_t **out, size_t *len);

/* Cached preview of the file at path: cache_dir/<hash[0:2]>/<hash>-<size>.<ext>,
 * where hash is the SHA-256 of the file's bytes. A small index per path
 * (cache_dir/idx/<sha256 of path>) remembers the file's size, mtime and
 * inode with its hash, so an unchanged file is not re-hashed and a changed
 * one is. Files are written to a temporary name and renamed into place.
 * *out_path (ut_malloc'd) is the cached file; *hit says whether it was
 * already there. */
int img_thumb_cached(const char *path, const char *cache_dir, int size, int fmt, char **out_path, int *hit);

#endif

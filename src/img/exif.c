/* exif.c -- the few EXIF and XMP fields kadr needs, from untrusted bytes.
 *
 * EXIF is a TIFF structure: a byte-order mark, IFD0 (Make, Model,
 * Orientation, DateTime, pointers to the Exif and GPS IFDs), the Exif IFD
 * (DateTimeOriginal, DateTimeDigitized, OffsetTime*) and the GPS IFD. We
 * read only those, with every offset and count checked against the block
 * (64-bit arithmetic, so no wrap-around), every pointer followed at most
 * once (no loops), and strings copied with a bound. Anything malformed is
 * skipped, never trusted: the fields simply stay empty.
 *
 * XMP is only scanned for a date when EXIF has no DateTimeOriginal. */
#include "img_int.h"
#include "util.h"

#include <math.h>
#include <string.h>

typedef struct {
    const uint8_t *p;
    size_t n;
    int be; /* big-endian ("MM") */
} tiff;

typedef struct {
    uint16_t tag, type;
    uint32_t count;
    size_t at; /* offset of the value bytes, checked to lie inside the block */
} entry;

static uint16_t rd16(const tiff *t, size_t at) {
    const uint8_t *q = t->p + at;
    return t->be ? (uint16_t)(q[0] << 8 | q[1]) : (uint16_t)(q[1] << 8 | q[0]);
}

static uint32_t rd32(const tiff *t, size_t at) {
    const uint8_t *q = t->p + at;
    return t->be ? (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3]
                 : (uint32_t)q[3] << 24 | (uint32_t)q[2] << 16 | (uint32_t)q[1] << 8 | q[0];
}

static size_t type_size(uint16_t type) {
    switch (type) {
    case 1:
    case 2:
    case 6:
    case 7: return 1;
    case 3:
    case 8: return 2;
    case 4:
    case 9:
    case 11: return 4;
    case 5:
    case 10:
    case 12: return 8;
    default: return 0;
    }
}

/* Entry i of the IFD at off; 0 if it does not fit the block. */
static int get_entry(const tiff *t, size_t off, unsigned i, entry *e) {
    uint64_t at = (uint64_t)off + 2 + 12ull * i;
    if (at + 12 > t->n) return 0;
    e->tag = rd16(t, (size_t)at);
    e->type = rd16(t, (size_t)at + 2);
    e->count = rd32(t, (size_t)at + 4);
    uint64_t bytes = (uint64_t)type_size(e->type) * e->count;
    if (!bytes) return 0;
    uint64_t val = bytes <= 4 ? at + 8 : rd32(t, (size_t)at + 8);
    if (val + bytes > t->n) return 0;
    e->at = (size_t)val;
    return 1;
}

static unsigned ifd_count(const tiff *t, size_t off) {
    if ((uint64_t)off + 2 > t->n) return 0;
    unsigned n = rd16(t, off);
    return n > 512 ? 512 : n;
}

/* Printable ASCII copy, trailing NULs/spaces trimmed; bytes outside
 * 0x20..0x7e become '?' so the result is always valid JSON text. */
static void get_ascii(const tiff *t, const entry *e, char *dst, size_t cap) {
    size_t n = e->count < cap - 1 ? e->count : cap - 1, k = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = t->p[e->at + i];
        if (!c) break;
        dst[k++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    while (k && dst[k - 1] == ' ') k--;
    dst[k] = 0;
}

static uint32_t get_uint(const tiff *t, const entry *e) {
    if (e->type == 3) return rd16(t, e->at);
    if (e->type == 4) return rd32(t, e->at);
    if (e->type == 1 || e->type == 7) return t->p[e->at];
    return 0;
}

/* RATIONAL i of an entry; NAN when the denominator is zero. */
static double get_rational(const tiff *t, const entry *e, unsigned i) {
    if (e->type != 5 && e->type != 10) return NAN;
    if (i >= e->count) return NAN;
    uint32_t num = rd32(t, e->at + 8 * i), den = rd32(t, e->at + 8 * i + 4);
    if (e->type == 10) return den ? (double)(int32_t)num / (int32_t)den : NAN;
    return den ? (double)num / den : NAN;
}

/* ---- dates -------------------------------------------------------------- */

static int digits(const char *s, int n) {
    for (int i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

/* "YYYY:MM:DD HH:MM:SS" (EXIF) or "YYYY-MM-DDTHH:MM:SS" (XMP, seconds
 * optional) -> "YYYY-MM-DDTHH:MM:SS"; 0 for blanks, zeros and junk. */
static int norm_date(const char *s, char out[20]) {
    if (strlen(s) < 16 || !digits(s, 4) || !digits(s + 5, 2) || !digits(s + 8, 2) || !digits(s + 11, 2) ||
        !digits(s + 14, 2))
        return 0;
    if ((s[4] != ':' && s[4] != '-') || s[7] != s[4] || (s[10] != ' ' && s[10] != 'T') || s[13] != ':')
        return 0;
    int has_sec = s[16] == ':' && digits(s + 17, 2);
    if (!memcmp(s, "0000", 4) || !memcmp(s + 5, "00", 2)) return 0;
    snprintf(out, 20, "%.4s-%.2s-%.2sT%.2s:%.2s:%.2s", s, s + 5, s + 8, s + 11, s + 14,
             has_sec ? s + 17 : "00");
    return 1;
}

/* "+hh:mm" / "-hh:mm" / "Z" into out, or "". */
static void norm_offset(const char *s, char out[8]) {
    out[0] = 0;
    if (s[0] == 'Z')
        snprintf(out, 8, "Z");
    else if ((s[0] == '+' || s[0] == '-') && digits(s + 1, 2) && s[3] == ':' && digits(s + 4, 2))
        snprintf(out, 8, "%.6s", s);
}

static void set_date(img_meta *m, const char *raw, const char *offset, img_date_source src) {
    char d[20], o[8];
    if (!norm_date(raw, d)) return;
    norm_offset(offset, o);
    snprintf(m->date, sizeof m->date, "%s%s", d, o);
    m->date_source = src;
}

/* ---- IFDs --------------------------------------------------------------- */

typedef struct {
    char dto[32], dtd[32], dt[32];
    char off_dto[16], off_dtd[16], off_dt[16];
} dates;

static void read_exif_ifd(const tiff *t, size_t off, dates *d) {
    unsigned n = ifd_count(t, off);
    entry e;
    for (unsigned i = 0; i < n; i++) {
        if (!get_entry(t, off, i, &e) || e.type != 2) continue;
        switch (e.tag) {
        case 0x9003: get_ascii(t, &e, d->dto, sizeof d->dto); break;
        case 0x9004: get_ascii(t, &e, d->dtd, sizeof d->dtd); break;
        case 0x9010: get_ascii(t, &e, d->off_dt, sizeof d->off_dt); break;
        case 0x9011: get_ascii(t, &e, d->off_dto, sizeof d->off_dto); break;
        case 0x9012: get_ascii(t, &e, d->off_dtd, sizeof d->off_dtd); break;
        }
    }
}

static double dms(const tiff *t, const entry *e) {
    double deg = get_rational(t, e, 0), min = get_rational(t, e, 1), sec = get_rational(t, e, 2);
    if (!isfinite(deg)) return NAN;
    return deg + (isfinite(min) ? min / 60 : 0) + (isfinite(sec) ? sec / 3600 : 0);
}

static void read_gps_ifd(const tiff *t, size_t off, img_meta *m) {
    unsigned n = ifd_count(t, off);
    entry e;
    char latref = 'N', lonref = 'E';
    double lat = NAN, lon = NAN, alt = NAN;
    int below = 0;
    for (unsigned i = 0; i < n; i++) {
        if (!get_entry(t, off, i, &e)) continue;
        switch (e.tag) {
        case 1:
            if (e.type == 2) latref = (char)t->p[e.at];
            break;
        case 2: lat = dms(t, &e); break;
        case 3:
            if (e.type == 2) lonref = (char)t->p[e.at];
            break;
        case 4: lon = dms(t, &e); break;
        case 5: below = get_uint(t, &e) == 1; break;
        case 6: alt = get_rational(t, &e, 0); break;
        }
    }
    if (isfinite(lat) && isfinite(lon) && lat <= 90 && lon <= 180 && lat >= 0 && lon >= 0) {
        m->has_gps = 1;
        m->lat = latref == 'S' || latref == 's' ? -lat : lat;
        m->lon = lonref == 'W' || lonref == 'w' ? -lon : lon;
        if (isfinite(alt) && fabs(alt) < 1e6) {
            m->has_alt = 1;
            m->alt = below ? -alt : alt;
        }
    }
}

/* Find the TIFF header: at 0, after "Exif\0\0", or a little further in
 * (HEIF blobs carry a 4-byte offset first). */
static int find_tiff(const uint8_t *p, size_t n, tiff *t) {
    for (size_t at = 0; at + 8 <= n && at < 64; at++) {
        if ((!memcmp(p + at, "II*\0", 4) || !memcmp(p + at, "MM\0*", 4))) {
            t->p = p + at;
            t->n = n - at;
            t->be = p[at] == 'M';
            return 1;
        }
    }
    return 0;
}

int img_exif_parse(const void *data, size_t len, img_meta *m) {
    tiff t;
    if (!data || !find_tiff(data, len, &t)) return ut_fail(UT_EFORMAT, "no TIFF header in EXIF block");
    size_t ifd0 = rd32(&t, 4);
    unsigned n = ifd_count(&t, ifd0);
    dates d = {0};
    size_t exif_off = 0, gps_off = 0;
    entry e;
    for (unsigned i = 0; i < n; i++) {
        if (!get_entry(&t, ifd0, i, &e)) continue;
        switch (e.tag) {
        case 0x010F:
            if (e.type == 2) get_ascii(&t, &e, m->make, sizeof m->make);
            break;
        case 0x0110:
            if (e.type == 2) get_ascii(&t, &e, m->model, sizeof m->model);
            break;
        case 0x0112: {
            uint32_t o = get_uint(&t, &e);
            if (o >= 1 && o <= 8) m->orientation = (int)o;
        } break;
        case 0x0132:
            if (e.type == 2) get_ascii(&t, &e, d.dt, sizeof d.dt);
            break;
        case 0x8769: exif_off = get_uint(&t, &e); break;
        case 0x8825: gps_off = get_uint(&t, &e); break;
        }
    }
    /* Each pointer is followed once, and never back to IFD0. */
    if (exif_off && exif_off != ifd0) read_exif_ifd(&t, exif_off, &d);
    if (gps_off && gps_off != ifd0 && gps_off != exif_off) read_gps_ifd(&t, gps_off, m);
    m->date[0] = 0;
    m->date_source = IMG_DATE_NONE;
    set_date(m, d.dto, d.off_dto, IMG_DATE_ORIGINAL);
    if (!m->date[0]) set_date(m, d.dtd, d.off_dtd, IMG_DATE_DIGITIZED);
    if (!m->date[0]) set_date(m, d.dt, d.off_dt, IMG_DATE_MODIFIED);
    return UT_OK;
}

/* ---- XMP ---------------------------------------------------------------- */

/* Value of prop as an attribute (prop="v") or element (<prop>v<). */
static int xmp_value(const char *x, size_t n, const char *prop, char *out, size_t cap) {
    size_t pl = strlen(prop);
    for (size_t i = 0; i + pl + 2 < n; i++) {
        if (memcmp(x + i, prop, pl)) continue;
        size_t at = i + pl;
        char end;
        if (x[at] == '=' && (x[at + 1] == '"' || x[at + 1] == '\''))
            end = x[at + 1], at += 2;
        else if (x[at] == '>')
            end = '<', at += 1;
        else
            continue;
        size_t k = 0;
        while (at < n && x[at] != end && k + 1 < cap) out[k++] = x[at++];
        out[k] = 0;
        if (at < n && x[at] == end) return 1;
    }
    return 0;
}

void img_xmp_parse(const char *xmp, size_t len, img_meta *m) {
    if (!xmp || m->date_source == IMG_DATE_ORIGINAL) return;
    static const char *const props[] = {"exif:DateTimeOriginal", "photoshop:DateCreated"};
    char v[64];
    for (size_t i = 0; i < 2; i++) {
        if (!xmp_value(xmp, len, props[i], v, sizeof v)) continue;
        char d[20], o[8] = "";
        if (!norm_date(v, d)) continue;
        /* The zone follows the seconds and any fraction. */
        const char *z = v + 16;
        if (z[0] == ':' && digits(z + 1, 2)) z += 3;
        while (*z && ((*z >= '0' && *z <= '9') || *z == '.')) z++;
        norm_offset(z, o);
        snprintf(m->date, sizeof m->date, "%s%s", d, o);
        m->date_source = IMG_DATE_XMP;
        return;
    }
}

const char *img_date_source_name(img_date_source s) {
    switch (s) {
    case IMG_DATE_ORIGINAL: return "DateTimeOriginal";
    case IMG_DATE_XMP: return "XMP";
    case IMG_DATE_DIGITIZED: return "DateTimeDigitized";
    case IMG_DATE_MODIFIED: return "DateTime";
    default: return "none";
    }
}

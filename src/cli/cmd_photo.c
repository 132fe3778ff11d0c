/* cmd_photo.c -- `kadr photo info|thumb|decode`: the img module by hand.
 *
 *   kadr photo info FILE...                one JSON object per line per file
 *   kadr photo thumb FILE... --size N -o OUT   preview(s); OUT is a folder for several
 *   kadr photo decode FILE... --size N     decode for a detector, report timing (bench)
 *
 * info exits 1 if any file failed (its line is {"file":..,"error":..}). */
#include "cli.h"
#include "img.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

static json_t *meta_json(const img_meta *m) {
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(m->file));
    json_object_set_new(o, "format", json_string(img_format_name(m->format)));
    json_object_set_new(o, "bytes", json_integer(m->file_size));
    json_object_set_new(o, "width", json_integer(m->width));
    json_object_set_new(o, "height", json_integer(m->height));
    json_object_set_new(o, "orientation", json_integer(m->orientation));
    json_object_set_new(o, "date", m->date[0] ? json_string(m->date) : json_null());
    json_object_set_new(o, "date_source", json_string(img_date_source_name(m->date_source)));
    json_object_set_new(o, "make", m->make[0] ? json_string(m->make) : json_null());
    json_object_set_new(o, "model", m->model[0] ? json_string(m->model) : json_null());
    if (m->has_gps) {
        json_t *g = json_object();
        json_object_set_new(g, "lat", json_real(m->lat));
        json_object_set_new(g, "lon", json_real(m->lon));
        json_object_set_new(g, "alt", m->has_alt ? json_real(m->alt) : json_null());
        json_object_set_new(o, "gps", g);
    } else {
        json_object_set_new(o, "gps", json_null());
    }
    json_object_set_new(o, "sha256", json_string(m->sha256));
    return o;
}

static int print_json(json_t *o) {
    char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    if (!s) return CLI_FAIL;
    puts(s);
    free(s);
    return CLI_OK;
}

static int info_one(const char *file) {
    img_photo *ph;
    img_meta *m = ut_malloc(sizeof *m);
    int rc = m ? img_open_file(file, &ph) : ut_fail(UT_ENOMEM, "out of memory");
    if (!rc) {
        rc = img_meta_get(ph, m);
        if (!rc) rc = img_check(ph);
        img_close(ph);
    }
    json_t *o;
    if (rc) {
        o = json_object();
        json_object_set_new(o, "file", json_string_nocheck(file));
        json_object_set_new(o, "error", json_string_nocheck(ut_errmsg()));
        json_object_set_new(o, "code", json_string(ut_errname(rc)));
    } else {
        o = meta_json(m);
    }
    ut_free(m);
    if (!o || print_json(o)) return CLI_FAIL;
    return rc ? CLI_FAIL : CLI_OK;
}

static const char *const common_help = "Images are recognised by content, not by file name.";

static int run_info(const cli_cmd *cmd, int argc, char **argv) {
    int threads = 1, npos;
    const cli_opt opts[] = {{"threads", 't', CLI_INT, &threads, "N", "libvips threads (default 1)"}, {0}};
    int rc = cli_parse(cmd, opts, argc, argv, &npos);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (!npos) return cli_error(cmd, CLI_USAGE, "no files given (see --help)");
    if (img_init(threads)) return cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
    int status = CLI_OK;
    for (int i = 1; i <= npos; i++)
        if (info_one(argv[i])) status = CLI_FAIL;
    fflush(stdout);
    return status;
}

/* thumb: OUT is a file for one input, a folder for several. */
static int thumb_one(const cli_cmd *cmd, const char *file, const char *out, int many, int size, int fmt,
                     const char *cache) {
    if (cache) {
        char *path;
        int hit;
        if (img_thumb_cached(file, cache, size, fmt, &path, &hit))
            return cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
        printf("%s %s\n", hit ? "hit" : "new", path);
        ut_free(path);
        return CLI_OK;
    }
    img_photo *ph;
    uint8_t *data = NULL;
    size_t n = 0;
    int rc = img_open_file(file, &ph);
    if (!rc) {
        rc = img_thumb(ph, size, fmt, &data, &n);
        img_close(ph);
    }
    if (rc) return cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
    char *dst = NULL;
    if (many) {
        const char *base = strrchr(file, '/');
        dst = ut_asprintf("%s/%s.%s", out, base ? base + 1 : file, fmt == IMG_WEBP ? "webp" : "jpg");
    }
    FILE *f = fopen(dst ? dst : out, "wb");
    int ok = f && fwrite(data, 1, n, f) == n;
    if (f && fclose(f)) ok = 0;
    ut_free(data);
    if (!ok) rc = cli_error(cmd, CLI_FAIL, "cannot write %s", dst ? dst : out);
    ut_free(dst);
    return rc ? CLI_FAIL : CLI_OK;
}

static int run_thumb(const cli_cmd *cmd, int argc, char **argv) {
    int size = 256, threads = 1, npos;
    const char *out = NULL, *format = NULL, *cache = NULL;
    const cli_opt opts[] = {
        {"size", 's', CLI_INT, &size, "N", "longest side in pixels (default 256; never enlarged)"},
        {"output", 'o', CLI_STR, &out, "OUT", "output file, or folder when several files are given"},
        {"format", 'f', CLI_STR, &format, "jpeg|webp",
         "output format (default from OUT's extension, else jpeg)"},
        {"cache", 0, CLI_STR, &cache, "DIR", "use the content-hash preview cache in DIR instead of -o"},
        {"threads", 't', CLI_INT, &threads, "N", "libvips threads (default 1)"},
        {0},
    };
    int rc = cli_parse(cmd, opts, argc, argv, &npos);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (!npos) return cli_error(cmd, CLI_USAGE, "no file given (see --help)");
    if (!out && !cache) return cli_error(cmd, CLI_USAGE, "-o OUT or --cache DIR is required");
    if (size < 1 || size > 8192) return cli_error(cmd, CLI_USAGE, "--size must be 1..8192");
    if (!format) {
        const char *dot = out ? strrchr(out, '.') : NULL;
        format = dot && strcmp(dot, ".webp") == 0 ? "webp" : "jpeg";
    }
    int fmt = strcmp(format, "webp") == 0 ? IMG_WEBP : IMG_JPEG;
    if (fmt == IMG_JPEG && strcmp(format, "jpeg") && strcmp(format, "jpg"))
        return cli_error(cmd, CLI_USAGE, "--format must be jpeg or webp");
    if (img_init(threads)) return cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
    int status = CLI_OK;
    for (int i = 1; i <= npos; i++)
        if (thumb_one(cmd, argv[i], out, npos > 1, size, fmt, cache)) status = CLI_FAIL;
    return status;
}

/* decode: what detection does with each photo, timed; for bench/img.sh. */
static int run_decode(const cli_cmd *cmd, int argc, char **argv) {
    int size = 640, threads = 1, repeat = 1, tensor = 0, npos;
    const cli_opt opts[] = {
        {"size", 's', CLI_INT, &size, "N", "letterbox into N x N (default 640)"},
        {"tensor", 0, CLI_FLAG, &tensor, NULL, "also build the float NCHW tensor"},
        {"repeat", 'r', CLI_INT, &repeat, "N", "decode every file N times"},
        {"threads", 't', CLI_INT, &threads, "N", "libvips threads (default 1)"},
        {0},
    };
    int rc = cli_parse(cmd, opts, argc, argv, &npos);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (!npos || size < 1 || repeat < 1)
        return cli_error(cmd, CLI_USAGE, "need FILE... and positive --size/--repeat");
    if (img_init(threads)) return cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
    img_load_opts lo = {.fit = IMG_FIT_LETTERBOX, .width = size, .height = size, .pad = 114, .center = 1};
    const float mean[3] = {0, 0, 0}, std[3] = {255, 255, 255};
    double t0 = ut_now();
    int done = 0, failed = 0;
    for (int r = 0; r < repeat; r++) {
        for (int i = 1; i <= npos; i++) {
            img_photo *ph;
            img_pixels px;
            img_tensor t;
            rc = img_open_file(argv[i], &ph);
            if (!rc) {
                if (tensor)
                    rc = img_load_tensor(ph, &lo, mean, std, &t), img_tensor_free(&t);
                else
                    rc = img_load(ph, &lo, &px), img_pixels_free(&px);
                img_close(ph);
            }
            if (rc)
                failed++, cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
            else
                done++;
        }
    }
    double dt = ut_now() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("decoded %d images to %dx%d in %.3f s: %.2f images/s, peak RSS %ld KiB\n", done, size, size, dt,
           dt > 0 ? done / dt : 0.0, ru.ru_maxrss);
    return failed ? CLI_FAIL : CLI_OK;
}

static const cli_cmd sub_info = {
    .name = "photo info",
    .args = "FILE...",
    .summary = "",
    .description = "Print one JSON object per file: format, bytes, width/height after EXIF orientation,\n"
                   "orientation, date (and which EXIF/XMP field it came from), make, model, GPS, sha256.\n"
                   "Unreadable files print {\"file\":...,\"error\":...}; the exit status is then 1.",
    .run = run_info,
};
static const cli_cmd sub_thumb = {
    .name = "photo thumb",
    .args = "FILE...",
    .summary = "",
    .description = "Write an upright JPEG or WebP preview whose longest side is --size.",
    .run = run_thumb,
};
static const cli_cmd sub_decode = {
    .name = "photo decode",
    .args = "FILE...",
    .summary = "",
    .description = "Decode files the way face detection does (shrink-on-load, letterbox) and\n"
                   "print throughput and peak memory.",
    .run = run_decode,
};

static int run(const cli_cmd *cmd, int argc, char **argv) {
    static const cli_cmd *const subs[] = {&sub_info, &sub_thumb, &sub_decode};
    if (argc >= 2) {
        for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
            if (strcmp(argv[1], subs[i]->name + 6) == 0) return subs[i]->run(subs[i], argc - 1, argv + 1);
    }
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("Usage: kadr photo info|thumb|decode [options] FILE...\n\n%s\n\n%s\n", cmd->description,
               common_help);
        return CLI_OK;
    }
    return cli_error(cmd, CLI_USAGE, "expected a subcommand: info, thumb or decode (see --help)");
}

const cli_cmd cli_cmd_photo = {
    .name = "photo",
    .args = "info|thumb|decode FILE...",
    .summary = "photo metadata (JSON), previews, decode timing",
    .description = "  info FILE...                 metadata as JSON lines\n"
                   "  thumb FILE... --size N -o OUT  previews\n"
                   "  decode FILE... --size N      decode for detection, timed",
    .run = run,
};

/* cmd_faces.c -- `kadr faces eval DIR`: the quality meter for sorting.
 *
 * DIR holds one folder per person. Every photo goes through the same
 * pipeline as `kadr sort`; the clustering sees every face, and each photo is
 * then labelled by one face (the largest, or the one nearest the centre as
 * in LFW) and compared with its folder: detection rate, BCubed and pairwise
 * precision/recall/F, clusters against identities. A photo whose face was
 * not found counts as a cluster of its own, so misses cost recall. */
#include "cluster.h"
#include "img.h"
#include "sort.h"
#include "util.h"
#include "cli.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

enum { PICK_LARGEST, PICK_CENTER };

static size_t pick_face(const sort_photo *p, int how) {
    size_t best = 0;
    double best_v = 0;
    for (size_t i = 0; i < p->nfaces; i++) {
        const vis_face *f = &p->faces[i];
        double v;
        if (how == PICK_LARGEST) {
            v = (double)(f->x2 - f->x1) * (f->y2 - f->y1);
        } else {
            double dx = (f->x1 + f->x2) / 2 - p->width / 2.0, dy = (f->y1 + f->y2) / 2 - p->height / 2.0;
            v = -(dx * dx + dy * dy);
        }
        if (i == 0 || v > best_v) {
            best_v = v;
            best = i;
        }
    }
    return best;
}

/* Identity of a photo: the first folder of its path; -1 for loose files. */
static int identity_of(const char *rel, char (*names)[256], int *nnames) {
    const char *slash = strchr(rel, '/');
    if (!slash || (size_t)(slash - rel) >= 256) return -1;
    for (int i = 0; i < *nnames; i++)
        if (strncmp(names[i], rel, (size_t)(slash - rel)) == 0 && names[i][slash - rel] == 0) return i;
    memcpy(names[*nnames], rel, (size_t)(slash - rel));
    names[*nnames][slash - rel] = 0;
    return (*nnames)++;
}

typedef struct {
    size_t photos, detected, faces;
    int identities;
    clu_metrics m;
    double seconds;
} eval_result;

static void print_result(const eval_result *r, int json) {
    if (json) {
        json_t *o = json_pack("{s:I, s:I, s:f, s:I, s:i, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:f}",
                              "photos", (json_int_t)r->photos, "detected", (json_int_t)r->detected,
                              "detection_rate", r->photos ? (double)r->detected / r->photos : 0.0,
                              "faces", (json_int_t)r->faces, "identities", r->identities,
                              "clusters", (json_int_t)r->m.nclusters, "bcubed_precision", r->m.bcubed_p,
                              "bcubed_recall", r->m.bcubed_r, "bcubed_f", r->m.bcubed_f, "pairwise_precision",
                              r->m.pair_p, "pairwise_recall", r->m.pair_r, "pairwise_f", r->m.pair_f, "unassigned",
                              (json_int_t)r->m.nnoise, "photos_per_min", r->seconds > 0 ? r->photos / r->seconds * 60 : 0.0);
        json_dumpf(o, stdout, JSON_COMPACT | JSON_REAL_PRECISION(6));
        putchar('\n');
        json_decref(o);
        return;
    }
    printf("photos          %zu in %d identities (%zu faces found)\n", r->photos, r->identities, r->faces);
    printf("detection rate  %.4f (%zu/%zu photos with a face)\n", r->photos ? (double)r->detected / r->photos : 0,
           r->detected, r->photos);
    printf("BCubed          P %.4f  R %.4f  F %.4f\n", r->m.bcubed_p, r->m.bcubed_r, r->m.bcubed_f);
    printf("pairwise        P %.4f  R %.4f  F %.4f\n", r->m.pair_p, r->m.pair_r, r->m.pair_f);
    printf("clusters        %zu for %d identities (%zu labelled faces unassigned)\n", r->m.nclusters, r->identities,
           r->m.nnoise);
    printf("speed           %.0f photos/min (%.1f s)\n", r->seconds > 0 ? r->photos / r->seconds * 60 : 0, r->seconds);
}

/* Label each labelled photo by its picked face and score the clustering. */
static int score(const sort_faces *set, const int32_t *labels, int pick, eval_result *r) {
    char (*names)[256] = ut_calloc(set->n + 1, sizeof *names);
    int32_t *truth = ut_malloc((set->n + 1) * sizeof *truth), *pred = ut_malloc((set->n + 1) * sizeof *pred);
    int rc = names && truth && pred ? UT_OK : ut_fail(UT_ENOMEM, "out of memory");
    size_t n = 0, face_base = 0;
    for (size_t i = 0; !rc && i < set->n; i++) {
        const sort_photo *p = &set->v[i];
        int id = identity_of(p->rel, names, &r->identities);
        if (id >= 0) {
            truth[n] = id;
            pred[n] = p->nfaces ? labels[face_base + pick_face(p, pick)] : -1;
            r->detected += p->nfaces > 0;
            n++;
        }
        r->faces += p->nfaces;
        face_base += p->nfaces;
    }
    r->photos = n;
    if (!rc && n == 0) rc = ut_fail(UT_EINVAL, "no labelled photos: the folder must hold one folder per person");
    if (!rc) rc = clu_metrics_compute(truth, pred, n, &r->m);
    ut_free(names);
    ut_free(truth);
    ut_free(pred);
    return rc;
}

/* Cluster at one threshold and score it. */
static int evaluate(const sort_faces *set, const sort_opts *o, int pick, eval_result *r) {
    int32_t *labels = NULL;
    int npeople;
    size_t noise;
    int rc = sort_faces_cluster(o, set, &labels, &npeople, &noise);
    if (!rc) rc = score(set, labels, pick, r);
    ut_free(labels);
    return rc;
}

/* --sweep FROM:TO:STEP: one analysis, then every threshold in the range,
 * to calibrate the threshold on a labelled folder. */
static int sweep(const sort_faces *set, const sort_opts *base, int pick, const char *spec, double seconds) {
    double from, to, step;
    if (sscanf(spec, "%lf:%lf:%lf", &from, &to, &step) != 3 || step <= 0 || from > to || to - from > step * 1000)
        return ut_fail(UT_EINVAL, "--sweep expects FROM:TO:STEP, e.g. 0.5:0.8:0.02");
    printf("%-9s %-8s %-8s %-8s %-8s %-8s %-9s\n", "threshold", "bcubed_p", "bcubed_r", "bcubed_f", "pair_f", "clusters", "unassigned");
    for (double t = from; t <= to + step / 2; t += step) {
        sort_opts o = *base;
        o.cluster.threshold = (float)t;
        eval_result r = {.seconds = seconds};
        int rc = evaluate(set, &o, pick, &r);
        if (rc) return rc;
        printf("%-9.3f %-8.4f %-8.4f %-8.4f %-8.4f %-8zu %-9zu\n", t, r.m.bcubed_p, r.m.bcubed_r, r.m.bcubed_f, r.m.pair_f,
               r.m.nclusters, r.m.nnoise);
    }
    return UT_OK;
}

static void on_progress(void *ctx, const sort_progress *p) {
    char extra[48];
    snprintf(extra, sizeof extra, "%zu faces", p->faces);
    cli_progress_update(ctx, p->done, p->total, extra);
}

static int run(const cli_cmd *cmd, int argc, char **argv) {
    cli_pipeline p;
    cli_pipeline_init(&p);
    const char *pick = "largest", *sweep_spec = NULL;
    int json = 0, npos;
    cli_opt opts[4 + CLI_PIPELINE_NOPTS] = {
        {"pick", 0, CLI_STR, &pick, "HOW", "the face that labels a photo: largest (default) or center"},
        {"json", 0, CLI_FLAG, &json, NULL, "print the figures as one JSON object"},
        {"sweep", 0, CLI_STR, &sweep_spec, "FROM:TO:STEP", "score every clustering threshold in the range"},
    };
    cli_pipeline_opts(&p, opts + 3);
    int rc = cli_parse(cmd, opts, argc, argv, &npos);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (npos != 2 || strcmp(argv[1], "eval"))
        return cli_error(cmd, CLI_USAGE, "expected `kadr faces eval DIR` (see kadr faces --help)");
    int how = strcmp(pick, "largest") == 0 ? PICK_LARGEST : strcmp(pick, "center") == 0 ? PICK_CENTER : -1;
    if (how < 0) return cli_error(cmd, CLI_USAGE, "--pick is largest or center");
    if ((rc = cli_pipeline_finish(cmd, &p))) return rc;
    img_init(1);
    sort_faces set = {0};
    eval_result r = {0};
    cli_progress bar;
    cli_progress_init(&bar, "faces");
    double t0 = ut_now();
    int err = sort_faces_scan(argv[2], &set);
    if (!err) err = sort_faces_analyse(&p.o, argv[2], &set, on_progress, &bar);
    r.seconds = ut_now() - t0;
    if (!err && sweep_spec) err = sweep(&set, &p.o, how, sweep_spec, r.seconds);
    else if (!err) err = evaluate(&set, &p.o, how, &r);
    if (err) rc = cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
    else if (!sweep_spec) print_result(&r, json);
    sort_faces_free(&set);
    cli_pipeline_free(&p);
    return rc;
}

const cli_cmd cli_cmd_faces = {
    .name = "faces",
    .args = "eval DIR",
    .summary = "measure face sorting on a labelled folder (one folder per person)",
    .description = "`kadr faces eval DIR` runs the sorting pipeline on DIR, which holds one folder per person,\n"
                   "and prints the detection rate, BCubed and pairwise precision/recall/F, and the number of\n"
                   "clusters against the number of identities. Nothing in DIR is changed.",
    .run = run,
};

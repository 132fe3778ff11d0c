/* pipeline.c -- the face-pipeline options shared by `sort` and `faces eval`.
 *
 * Both commands analyse photos the same way, so they take the same
 * detector, embedder and clustering options with the same defaults. */
#include "cli.h"
#include "cluster.h"
#include "sort.h"

#include <string.h>
#include <unistd.h>

void cli_pipeline_init(cli_pipeline *p) {
    memset(p, 0, sizeof *p);
    sort_opts_default(&p->o);
    p->threshold = p->min_score = p->min_face = p->attach_dist = p->attach_margin = -1;
}

int cli_pipeline_opts(cli_pipeline *p, cli_opt *dst) {
    const cli_opt opts[] = {
        {"algorithm", 0, CLI_STR, &p->algorithm, "NAME", "clustering: average (default) or hdbscan"},
        {"threshold", 0, CLI_NUM, &p->threshold, "X", "cosine distance that separates people (default: the embedder's, 0.60)"},
        {"min-cluster-size", 0, CLI_INT, &p->o.cluster.min_cluster_size, "N", "smallest person, in faces (default 2)"},
        {"min-samples", 0, CLI_INT, &p->o.cluster.min_samples, "N", "HDBSCAN min_samples (default 1)"},
        {"detector", 0, CLI_STR, &p->o.detector, "NAME", "rfb320 (default), blazeface, yunet, scrfd, retinaface"},
        {"det-model", 0, CLI_STR, &p->o.det_model, "FILE", "detector ONNX file (needed for yunet/scrfd/retinaface)"},
        {"det-size", 0, CLI_INT, &p->o.det_size, "N", "detector input side for dynamic models (default 640)"},
        {"min-score", 0, CLI_NUM, &p->min_score, "X", "minimum detection score (default 0.5)"},
        {"min-face", 0, CLI_NUM, &p->min_face, "PX", "ignore faces smaller than this (default: none)"},
        {"embedder", 0, CLI_STR, &p->o.embedder, "NAME|FILE", "mbf512 (default) or an ArcFace-style ONNX file"},
        {"threads", 'j', CLI_INT, &p->o.threads, "N", "photos analysed in parallel (default: all cores)"},
        {"tiles", 0, CLI_FLAG, &p->tiles, NULL, "also look for small faces in tiles of large photos (slower)"},
        {"min-blur", 0, CLI_NUM, &p->min_blur, "X", "drop blurred faces: Laplacian variance of the aligned face below X"},
        {"max-yaw", 0, CLI_NUM, &p->max_yaw, "X", "drop turned faces: nose off the eye midline by more than X eye distances"},
        {"max-roll", 0, CLI_NUM, &p->max_roll, "DEG", "drop tilted faces: eye line steeper than DEG degrees"},
        {"max-pitch", 0, CLI_NUM, &p->max_pitch, "X", "drop faces looking up or down (nose height off its frontal ratio by X)"},
        {"attach-dist", 0, CLI_NUM, &p->attach_dist, "X", "give an unassigned face to a person this near... (default 0.75; 0 = off)"},
        {"attach-margin", 0, CLI_NUM, &p->attach_margin, "X", "...when every other person is this much farther (default 0.15)"},
    };
    int n = (int)(sizeof opts / sizeof opts[0]);
    memcpy(dst, opts, sizeof opts);
    return n;
}

int cli_pipeline_finish(const cli_cmd *cmd, cli_pipeline *p) {
    int hdbscan = 0;
    if (p->algorithm && strcmp(p->algorithm, "average") && !(hdbscan = !strcmp(p->algorithm, "hdbscan")))
        return cli_error(cmd, CLI_USAGE, "--algorithm is average or hdbscan");
    if (hdbscan) p->o.cluster.algorithm = CLU_ALGO_HDBSCAN;
    if (p->threshold >= 0) p->o.cluster.threshold = (float)p->threshold;
    if (p->min_score >= 0) p->o.min_score = (float)p->min_score;
    if (p->min_face >= 0) p->o.min_face = (float)p->min_face;
    if (p->attach_dist >= 0) p->o.attach_dist = (float)p->attach_dist;
    p->o.tiles = p->tiles;
    p->o.quality.min_blur = (float)p->min_blur;
    p->o.quality.max_yaw = (float)p->max_yaw;
    p->o.quality.max_roll = (float)p->max_roll;
    p->o.quality.max_pitch = (float)p->max_pitch;
    if (p->attach_margin >= 0) p->o.attach_margin = (float)p->attach_margin;
    if (p->o.threads < 1) return cli_error(cmd, CLI_USAGE, "--threads must be at least 1");
    char *home = cli_data_home();
    p->models = home ? ut_asprintf("%s/models", home) : NULL;
    ut_free(home);
    if (!p->models) return cli_error(cmd, CLI_FAIL, "out of memory");
    p->o.models_dir = p->models;
    return CLI_OK;
}

void cli_pipeline_free(cli_pipeline *p) { ut_free(p->models); }

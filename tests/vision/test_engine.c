/* The face engine on real photos (shared/data/faces/bbt: 8 people x 5
 * face photos; bbt-groups: group photos of the same people) with the
 * installed npm models: RFB-320 + 68-point landmarks + MobileFaceNet-512,
 * and BlazeFace. Skips when the models are not installed
 * (scripts/setup.sh test installs them into build/models-home). */
#include "test.h"
#include "img.h"
#include "util.h"
#include "vision.h"

#include <dirent.h>
#include <vips/vips.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define MODELS KADR_SOURCE_DIR "/build/models-home/models"

static vis_engine *engine;
static int tiles_on;

static int open_engine(vis_det_kind det) {
    if (!test_exists(MODELS "/fr_feature.onnx")) {
        test_skip("models not installed in " MODELS " (scripts/setup.sh test)");
        return 0;
    }
    img_init(1);
    vis_engine_opts o = {.detector = det, .det_path = det == VIS_DET_RFB320 ? MODELS "/fr_detect.onnx" : MODELS "/blazeface_back.onnx",
                         .lm_path = MODELS "/fr_landmark.onnx", .emb_path = MODELS "/fr_feature.onnx", .embedder = "mbf512",
                         .tiles = tiles_on};
    int rc = vis_engine_create(&o, &engine);
    if (rc) test_fail(__FILE__, __LINE__, "engine: %s", ut_errmsg());
    return rc == UT_OK;
}

static int faces_of(vis_worker *w, const char *path, vis_photo_faces *pf) {
    img_photo *ph;
    int rc = img_open_file(path, &ph);
    if (!rc) rc = vis_worker_photo(w, ph, pf);
    img_close(ph);
    return rc;
}

#define NPEOPLE 8
#define PER 5
static const char *people[NPEOPLE] = {"amy", "bernadette", "howard", "leonard", "penny", "raj", "sheldon", "stuart"};

/* The first `PER` photos of a person's folder, sorted by name. */
static int person_photos(const char *who, char paths[PER][1024]) {
    char dir[400];
    snprintf(dir, sizeof dir, "%s/data/faces/bbt/%s", test_shared(), who);
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort), k = 0;
    for (int i = 0; i < n; i++) {
        if (list[i]->d_name[0] != '.' && k < PER) snprintf(paths[k++], 1024, "%s/%s", dir, list[i]->d_name);
        free(list[i]);
    }
    free(list);
    return k;
}

TEST(bbt_faces_and_identities) {
    if (!open_engine(VIS_DET_RFB320)) return;
    vis_worker *w;
    CHECK_EQ_INT(vis_worker_create(engine, 1, &w), UT_OK);
    int dim = vis_engine_dim(engine);
    CHECK_EQ_INT(dim, 512);
    float *emb = ut_calloc(NPEOPLE * PER, (size_t)dim * sizeof(float));
    int found = 0;
    for (int p = 0; p < NPEOPLE; p++) {
        char paths[PER][1024];
        CHECK_EQ_INT(person_photos(people[p], paths), PER);
        for (int i = 0; i < PER; i++) {
            vis_photo_faces pf;
            CHECK_EQ_INT(faces_of(w, paths[i], &pf), UT_OK);
            if (pf.n == 0) {
                fprintf(stderr, "  no face in %s\n", paths[i]);
                continue;
            }
            /* The photo's person is its largest face. */
            size_t best = 0;
            for (size_t f = 1; f < pf.n; f++)
                if ((pf.faces[f].face.x2 - pf.faces[f].face.x1) > (pf.faces[best].face.x2 - pf.faces[best].face.x1)) best = f;
            double norm = 0;
            for (int d = 0; d < dim; d++) norm += pf.faces[best].emb[d] * pf.faces[best].emb[d];
            CHECK(fabs(norm - 1) < 1e-4);
            CHECK_EQ_INT(pf.faces[best].face.nkps, 5);
            memcpy(emb + (size_t)(p * PER + i) * dim, pf.faces[best].emb, (size_t)dim * sizeof(float));
            found++;
            vis_photo_faces_free(&pf);
        }
    }
    CHECK_EQ_INT(found, NPEOPLE * PER);
    /* Verification: a same-person pair should be more similar than a
     * different-person pair; count how often (an AUC over all pairs). */
    long ordered = 0, total = 0;
    for (int a = 0; a < NPEOPLE * PER; a++)
        for (int b = a + 1; b < NPEOPLE * PER; b++) {
            if (a / PER != b / PER) continue;
            double same = 0;
            for (int d = 0; d < dim; d++) same += emb[(size_t)a * dim + d] * emb[(size_t)b * dim + d];
            for (int c = 0; c < NPEOPLE * PER; c++)
                for (int e = c + 1; e < NPEOPLE * PER; e++) {
                    if (c / PER == e / PER) continue;
                    double diff = 0;
                    for (int d = 0; d < dim; d++) diff += emb[(size_t)c * dim + d] * emb[(size_t)e * dim + d];
                    ordered += same > diff;
                    total++;
                }
        }
    double auc = (double)ordered / (double)total;
    fprintf(stderr, "  bbt verification AUC %.4f\n", auc);
    CHECK(auc > 0.95);
    ut_free(emb);
    vis_worker_free(w);
    vis_engine_free(engine);
}

TEST(group_photos_have_several_faces) {
    if (!open_engine(VIS_DET_RFB320)) return;
    vis_worker *w;
    CHECK_EQ_INT(vis_worker_create(engine, 2, &w), UT_OK);
    size_t total = 0;
    for (int g = 1; g <= 5; g++) {
        char path[512];
        snprintf(path, sizeof path, "%s/data/faces/bbt-groups/bbt%d.jpg", test_shared(), g);
        vis_photo_faces pf;
        CHECK_EQ_INT(faces_of(w, path, &pf), UT_OK);
        fprintf(stderr, "  bbt%d.jpg: %zu faces (%dx%d)\n", g, pf.n, pf.width, pf.height);
        CHECK(pf.n >= 2);
        for (size_t f = 0; f < pf.n; f++) {
            CHECK(pf.faces[f].face.x1 >= 0 && pf.faces[f].face.x2 <= pf.width);
            CHECK(pf.faces[f].face.y1 >= 0 && pf.faces[f].face.y2 <= pf.height);
        }
        total += pf.n;
        vis_photo_faces_free(&pf);
    }
    CHECK(total >= 15);
    vis_worker_free(w);
    vis_engine_free(engine);
}

TEST(blazeface_finds_faces) {
    if (!open_engine(VIS_DET_BLAZEFACE)) return;
    vis_worker *w;
    CHECK_EQ_INT(vis_worker_create(engine, 1, &w), UT_OK);
    char paths[PER][1024];
    CHECK_EQ_INT(person_photos("penny", paths), PER);
    int with_face = 0;
    for (int i = 0; i < PER; i++) {
        vis_photo_faces pf;
        CHECK_EQ_INT(faces_of(w, paths[i], &pf), UT_OK);
        with_face += pf.n > 0;
        if (pf.n) CHECK_EQ_INT(pf.faces[0].face.nkps, 4);
        vis_photo_faces_free(&pf);
    }
    CHECK(with_face >= 4);
    vis_worker_free(w);
    vis_engine_free(engine);
}

TEST(truncated_photo_is_an_error) {
    if (!open_engine(VIS_DET_RFB320)) return;
    char src[512], dst[600];
    snprintf(src, sizeof src, "%s/data/faces/bbt-groups/bbt1.jpg", test_shared());
    snprintf(dst, sizeof dst, "%s/cut.jpg", test_tmpdir());
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    char buf[3000];
    size_t n = fread(buf, 1, sizeof buf, in);
    fwrite(buf, 1, n, out);
    fclose(in);
    fclose(out);
    vis_worker *w;
    CHECK_EQ_INT(vis_worker_create(engine, 1, &w), UT_OK);
    vis_photo_faces pf;
    int rc = faces_of(w, dst, &pf);
    CHECK(rc != UT_OK);
    CHECK(strlen(ut_errmsg()) > 0);
    vis_worker_free(w);
    vis_engine_free(engine);
}

/* Four BBT faces of 112 px on a 3000 x 2000 photo: 12 detector pixels when
 * the photo is seen whole, too small; the tiled pass finds all four. */
static const int spots[4][2] = {{400, 300}, {2200, 500}, {900, 1500}, {2500, 1600}};

static int make_small_faces(const char *out) {
    VipsImage *canvas, *photo;
    if (vips_black(&canvas, 3000, 2000, "bands", 3, NULL)) return -1;
    if (vips_linear1(canvas, &photo, 1, 120, "uchar", TRUE, NULL)) return -1;
    g_object_unref(canvas);
    for (int i = 0; i < 4; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/data/faces/bbt/%s/%s1.png", test_shared(), people[i], people[i]);
        VipsImage *face = vips_image_new_from_file(path, NULL), *rgb, *small, *next;
        if (!face || vips_colourspace(face, &rgb, VIPS_INTERPRETATION_sRGB, NULL)) return -1;
        if (vips_resize(rgb, &small, 0.75, NULL) || vips_insert(photo, small, &next, spots[i][0], spots[i][1], NULL))
            return -1;
        g_object_unref(face);
        g_object_unref(rgb);
        g_object_unref(small);
        g_object_unref(photo);
        photo = next;
    }
    int rc = vips_jpegsave(photo, out, "Q", 92, NULL);
    g_object_unref(photo);
    return rc;
}

TEST(tiled_pass_finds_small_faces) {
    char path[600];
    snprintf(path, sizeof path, "%s/small-faces.jpg", test_tmpdir());
    for (tiles_on = 0; tiles_on <= 1; tiles_on++) {
        if (!open_engine(VIS_DET_RFB320)) return;
        if (!test_exists(path)) CHECK_EQ_INT(make_small_faces(path), 0);
        vis_worker *w;
        CHECK_EQ_INT(vis_worker_create(engine, 1, &w), UT_OK);
        vis_photo_faces pf;
        CHECK_EQ_INT(faces_of(w, path, &pf), UT_OK);
        fprintf(stderr, "  tiles %s: %zu faces\n", tiles_on ? "on" : "off", pf.n);
        for (size_t f = 0; f < pf.n; f++) {
            float cx = (pf.faces[f].face.x1 + pf.faces[f].face.x2) / 2, cy = (pf.faces[f].face.y1 + pf.faces[f].face.y2) / 2;
            fprintf(stderr, "    face %.0f,%.0f-%.0f,%.0f score %.2f\n", pf.faces[f].face.x1, pf.faces[f].face.y1,
                    pf.faces[f].face.x2, pf.faces[f].face.y2, pf.faces[f].face.score);
            int near = 0;
            for (int i = 0; i < 4; i++) near |= fabsf(cx - (spots[i][0] + 56)) < 30 && fabsf(cy - (spots[i][1] + 56)) < 30;
            CHECK(near);
        }
        CHECK_EQ_INT(pf.n, tiles_on ? 4 : 0);
        vis_photo_faces_free(&pf);
        vis_worker_free(w);
        vis_engine_free(engine);
    }
}

TEST(engine_rejects_bad_setup) {
    vis_engine_opts o = {.detector = VIS_DET_RFB320, .det_path = MODELS "/fr_detect.onnx", .emb_path = MODELS "/fr_feature.onnx"};
    vis_engine *e;
    CHECK_EQ_INT(vis_engine_create(&o, &e), UT_EINVAL); /* RFB-320 without a landmark model */
    vis_engine_opts m = {.detector = VIS_DET_BLAZEFACE, .det_path = "/nonexistent.onnx", .emb_path = MODELS "/fr_feature.onnx"};
    CHECK(vis_engine_create(&m, &e) != UT_OK);
    CHECK(strstr(ut_errmsg(), "nonexistent"));
}

int main(int argc, char **argv) { return test_main(argc, argv); }

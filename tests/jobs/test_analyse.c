/* `kadr index` with the real analyser: EXIF metadata from img, faces and
 * embeddings from the face engine with the installed models; photos
 * without faces recorded as processed; unchanged photos not analysed
 * again; without models, metadata only and a clear notice. */
#include "catalog.h"
#include "http.h"
#include "test.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define MODELS_HOME KADR_SOURCE_DIR "/build/models-home"

static char out[1 << 16], err[1 << 16];

static int copy_file(const char *from, const char *to) {
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    return system(cmd);
}

static int index_with(const char *home, const char *db, const char *lib) {
    setenv("KADR_HOME", home, 1);
    const char *args[] = {"index", "--db", db, lib, NULL};
    return kadr_run(args, out, sizeof out, err, sizeof err);
}

static const char *library(void) {
    static char lib[600];
    char src[1024], dst[1200];
    snprintf(lib, sizeof lib, "%s/lib", test_tmpdir());
    if (ut_mkdirs(lib)) return NULL;
    snprintf(src, sizeof src, "%s/data/faces/bbt-groups/bbt4.jpg", test_shared());
    snprintf(dst, sizeof dst, "%s/group.jpg", lib);
    if (copy_file(src, dst)) return NULL;
    snprintf(src, sizeof src, "%s/data/photos/mixed/exif_samples/jpg/mobile/jolla.jpg", test_shared());
    snprintf(dst, sizeof dst, "%s/phone.jpg", lib);
    return copy_file(src, dst) ? NULL : lib;
}

TEST(index_records_metadata_and_faces) {
    if (!test_exists(MODELS_HOME "/models/fr_feature.onnx")) {
        test_skip("models not installed in " MODELS_HOME " (scripts/setup.sh test)");
        return;
    }
    const char *lib = library();
    CHECK(lib != NULL);
    char db[700];
    snprintf(db, sizeof db, "%s/kadr.db", test_tmpdir());
    CHECK_EQ_INT(index_with(MODELS_HOME, db, lib), 0);

    cat_db *cat;
    CHECK_EQ_INT(cat_open(db, &cat), UT_OK);
    int64_t root;
    CHECK_EQ_INT(cat_root_find(cat, lib, &root), UT_OK);
    cat_photo group, phone;
    CHECK_EQ_INT(cat_photo_find(cat, root, "group.jpg", &group), UT_OK);
    CHECK_EQ_INT(group.nfaces, 6); /* six people in bbt4.jpg, counted by eye */
    CHECK_EQ_STR(group.faces_model, "rfb320+mbf512");
    CHECK(group.width == 710 && group.height == 473);
    cat_face *faces;
    size_t n;
    CHECK_EQ_INT(cat_faces_of_photo(cat, group.id, &faces, &n), UT_OK);
    CHECK_EQ_INT(n, 6);
    for (size_t i = 0; i < n; i++) {
        CHECK_EQ_INT(faces[i].dim, 512);
        double norm = 0;
        for (int d = 0; d < 512; d++) norm += faces[i].embedding[d] * faces[i].embedding[d];
        CHECK(fabs(norm - 1) < 1e-3);
        CHECK(faces[i].box[2] > 20 && faces[i].box[3] > 20);
        CHECK(faces[i].landmarks[0] > faces[i].box[0] && faces[i].landmarks[0] < faces[i].box[0] + faces[i].box[2]);
    }
    cat_faces_free(faces, n);
    CHECK_EQ_INT(cat_photo_find(cat, root, "phone.jpg", &phone), UT_OK);
    CHECK_EQ_INT(phone.nfaces, 0); /* processed, no faces: not analysed again */
    CHECK_EQ_STR(phone.camera, "Jolla");
    CHECK(phone.taken_ms > 1400000000000LL);
    CHECK(phone.width == 3264 && phone.height == 2448);
    cat_photo_free(&group);
    cat_photo_free(&phone);
    cat_close(cat);

    /* A second run analyses nothing: both photos are unchanged. */
    CHECK_EQ_INT(index_with(MODELS_HOME, db, lib), 0);
    CHECK(strstr(out, "2 unchanged") || strstr(err, "2 unchanged"));
}

TEST(index_without_models_records_metadata) {
    const char *lib = library();
    CHECK(lib != NULL);
    char db[700], home[700];
    snprintf(db, sizeof db, "%s/meta.db", test_tmpdir());
    snprintf(home, sizeof home, "%s/empty-home", test_tmpdir());
    CHECK_EQ_INT(index_with(home, db, lib), 0);
    CHECK(strstr(err, "indexing metadata only"));
    cat_db *cat;
    CHECK_EQ_INT(cat_open(db, &cat), UT_OK);
    int64_t root;
    CHECK_EQ_INT(cat_root_find(cat, lib, &root), UT_OK);
    cat_photo phone;
    CHECK_EQ_INT(cat_photo_find(cat, root, "phone.jpg", &phone), UT_OK);
    CHECK_EQ_STR(phone.camera, "Jolla");
    CHECK(phone.faces_model == NULL);
    cat_photo_free(&phone);
    cat_close(cat);
}

int main(int argc, char **argv) { return test_main(argc, argv); }

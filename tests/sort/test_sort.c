/* `kadr sort` end to end with the real binary and the installed models, on
 * a library made from shared/data/faces: the 8 BBT people's portraits in
 * folders, the 5 group photos at the top, an "общие" folder and a text
 * file. Checks the people (each person folder holds one identity, every
 * group photo lands in exactly its people's folders: labels checked by eye
 * against the photos), the rules (общие and non-images untouched, emptied
 * folders removed), that --dry-run changes nothing, and that --undo
 * restores the original tree byte for byte. */
#include "http.h"
#include "test.h"
#include "tree.h"
#include "util.h"

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MODELS_HOME KADR_SOURCE_DIR "/build/models-home"
#define NPEOPLE 8

static const char *people[NPEOPLE] = {"amy", "bernadette", "howard", "leonard", "penny", "raj", "sheldon", "stuart"};
static const char *groups[5][8] = { /* photo, its people, NULL */
    {"bbt1.jpg", "howard", "leonard", "raj", "sheldon"},
    {"bbt2.jpg", "leonard", "raj", "sheldon"},
    {"bbt3.jpg", "howard", "leonard", "penny", "raj", "sheldon"},
    {"bbt4.jpg", "amy", "bernadette", "leonard", "penny", "raj", "sheldon"},
    {"bbt5.jpg", "howard", "leonard", "penny", "raj", "sheldon"},
};
static char out[1 << 16], err[1 << 16];

static int copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[65536];
    size_t n;
    int ok = a && b;
    while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0) ok = fwrite(buf, 1, n, b) == n;
    if (a) fclose(a);
    if (b) fclose(b);
    return ok ? 0 : -1;
}

static int make_library(const char *lib) {
    char src[1024], dst[1024];
    for (int p = 0; p < NPEOPLE; p++) {
        snprintf(dst, sizeof dst, "%s/%s", lib, people[p]);
        if (ut_mkdirs(dst)) return -1;
        snprintf(src, sizeof src, "%s/data/faces/bbt/%s", test_shared(), people[p]);
        DIR *d = opendir(src);
        for (struct dirent *e; d && (e = readdir(d));) {
            if (e->d_name[0] == '.') continue;
            char f[1300], t[1300];
            snprintf(f, sizeof f, "%s/%s", src, e->d_name);
            snprintf(t, sizeof t, "%s/%s", dst, e->d_name);
            if (copy_file(f, t)) return -1;
        }
        if (d) closedir(d);
    }
    for (int g = 0; g < 5; g++) {
        snprintf(src, sizeof src, "%s/data/faces/bbt-groups/%s", test_shared(), groups[g][0]);
        snprintf(dst, sizeof dst, "%s/%s", lib, groups[g][0]);
        if (copy_file(src, dst)) return -1;
    }
    snprintf(dst, sizeof dst, "%s/Общие", lib);
    if (ut_mkdirs(dst)) return -1;
    snprintf(src, sizeof src, "%s/data/faces/bbt-groups/bbt4.jpg", test_shared());
    snprintf(dst, sizeof dst, "%s/Общие/party.jpg", lib);
    if (copy_file(src, dst)) return -1;
    snprintf(dst, sizeof dst, "%s/raj/notes.txt", lib);
    FILE *f = fopen(dst, "w");
    if (!f) return -1;
    fputs("not a photo\n", f);
    fclose(f);
    return 0;
}


static int sort_cmd(const char *a1, const char *a2) {
    setenv("KADR_HOME", MODELS_HOME, 1);
    const char *args[] = {"sort", a1, a2, NULL};
    int rc = kadr_run(args, out, sizeof out, err, sizeof err);
    if (rc) fprintf(stderr, "kadr sort %s %s -> %d\n%s\n", a1, a2 ? a2 : "", rc, err);
    return rc;
}

/* The identity of a person folder: the owner of the portraits in it, which
 * must all be the same person. NULL if it holds portraits of several. */
static const char *identity_of(const char *lib, const char *folder) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", lib, folder);
    DIR *d = opendir(path);
    const char *who = NULL;
    int mixed = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        for (int p = 0; p < NPEOPLE; p++)
            if (strncmp(e->d_name, people[p], strlen(people[p])) == 0) {
                if (who && who != people[p]) mixed = 1;
                who = people[p];
            }
    if (d) closedir(d);
    return mixed ? NULL : who;
}

static int in_folder(const char *lib, const char *folder, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s", lib, folder, name);
    return test_exists(path);
}

TEST(sort_bbt_library_and_undo) {
    if (!test_exists(MODELS_HOME "/models/fr_feature.onnx")) {
        test_skip("models not installed in " MODELS_HOME " (scripts/setup.sh test)");
        return;
    }
    char lib[512];
    snprintf(lib, sizeof lib, "%s/lib", test_tmpdir());
    CHECK_EQ_INT(make_library(lib), 0);
    char *before = tree_manifest(lib, ".kadr-sort");
    CHECK(before && strlen(before) > 0);

    CHECK_EQ_INT(sort_cmd("--dry-run", lib), 0);
    CHECK(strstr(out, "5 copied into several folders"));
    char *after_dry = tree_manifest(lib, ".kadr-sort");
    CHECK_EQ_STR(after_dry, before);

    CHECK_EQ_INT(sort_cmd(lib, NULL), 0);
    /* Person folders: one identity each, every portrait with its owner. */
    const char *folder_of[NPEOPLE] = {0};
    char name[64];
    for (int k = 1; k <= NPEOPLE + 1; k++) {
        snprintf(name, sizeof name, "person_%03d", k);
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", lib, name);
        if (!test_exists(path)) {
            CHECK_EQ_INT(k, NPEOPLE + 1); /* exactly 8 people */
            break;
        }
        CHECK(k <= NPEOPLE);
        const char *who = identity_of(lib, name);
        CHECK(who != NULL);
        for (int p = 0; p < NPEOPLE; p++)
            if (people[p] == who) {
                CHECK(folder_of[p] == NULL); /* one folder per person */
                folder_of[p] = strdup(name);
            }
    }
    for (int p = 0; p < NPEOPLE; p++) {
        CHECK(folder_of[p] != NULL);
        for (int i = 1; i <= 5; i++) {
            char file[64];
            snprintf(file, sizeof file, "%s%d.png", people[p], i);
            CHECK(in_folder(lib, folder_of[p], file));
        }
    }
    /* Group photos: in exactly their people's folders, originals removed. */
    for (int g = 0; g < 5; g++) {
        for (int p = 0; p < NPEOPLE; p++) {
            int expected = 0;
            for (int k = 1; groups[g][k]; k++) expected |= strcmp(groups[g][k], people[p]) == 0;
            if (in_folder(lib, folder_of[p], groups[g][0]) != expected)
                test_fail(__FILE__, __LINE__, "%s %s in %s's folder", groups[g][0], expected ? "missing" : "wrongly", people[p]);
        }
        CHECK(!in_folder(lib, ".", groups[g][0]));
    }
    /* The rules: общие untouched, the text file left, emptied folders gone. */
    CHECK(in_folder(lib, "Общие", "party.jpg"));
    CHECK(in_folder(lib, "raj", "notes.txt"));
    CHECK(!in_folder(lib, "amy", "."));

    CHECK_EQ_INT(sort_cmd("--undo", lib), 0);
    char *after_undo = tree_manifest(lib, ".kadr-sort");
    CHECK_EQ_STR(after_undo, before);
    char first[600];
    snprintf(first, sizeof first, "%s/person_001", lib);
    CHECK(!test_exists(first));
    free(before);
    free(after_dry);
    free(after_undo);
}

TEST(sort_refuses_bad_input) {
    CHECK_EQ_INT(sort_cmd("/nonexistent/folder", NULL), 1);
    CHECK(strstr(err, "/nonexistent/folder"));
    const char *args[] = {"sort", NULL};
    CHECK_EQ_INT(kadr_run(args, out, sizeof out, err, sizeof err), 2);
    const char *both[] = {"sort", "--undo", "--resume", "/tmp", NULL};
    CHECK_EQ_INT(kadr_run(both, out, sizeof out, err, sizeof err), 2);
}

int main(int argc, char **argv) { return test_main(argc, argv); }

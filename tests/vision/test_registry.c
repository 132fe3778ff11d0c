/* The model registry parser, on the project's own registry and on hostile
 * variants of it; model checks against real files. */
#include "test.h"
#include "util.h"
#include "vision.h"

#include <stdio.h>
#include <stdlib.h>

#define SHA_A "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" /* empty file */
#define SHA_B "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" /* "abc" */

TEST(parses_project_registry) {
    vis_registry *reg;
    CHECK_EQ_INT(vis_registry_load(KADR_SOURCE_DIR "/models/registry.tsv", &reg), UT_OK);
    CHECK(vis_registry_count(reg) >= 5);
    const vis_model_entry *e = vis_registry_find(reg, "fr_feature");
    CHECK(e != NULL);
    CHECK_EQ_STR(e->task, "face-embed");
    CHECK_EQ_STR(e->licence, "MIT");
    const vis_model_entry *isnet = vis_registry_find(reg, "isnet_medium");
    CHECK(isnet && strcmp(isnet->licence, "AGPL-3.0") == 0);
    CHECK(vis_registry_find(reg, "nope") == NULL);
    vis_registry_free(reg);
}

TEST(rejects_hostile_lines) {
    const char *bad[] = {
        "a\tb\tc\td\t" SHA_A "\n",                       /* five fields */
        "a\tb\tc\td\t" SHA_A "\tMIT\textra\n",           /* seven */
        "../../etc/x\tb\tc\td\t" SHA_A "\tMIT\n",        /* name becomes a path */
        "a/b\tb\tc\td\t" SHA_A "\tMIT\n",
        "a\tb\tc\td\tnothex\tMIT\n",
        "a\tb\tc\td\t" SHA_A "\tMIT\na\tb\tc\td\t" SHA_A "\tMIT\n", /* duplicate */
        "\t\t\t\t\t\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vis_registry *reg = (vis_registry *)1;
        CHECK_EQ_INT(vis_registry_parse(bad[i], strlen(bad[i]), &reg), UT_EFORMAT);
        CHECK(reg == NULL);
        CHECK(strstr(ut_errmsg(), "line"));
    }
    const char nul[] = "a\tb\0c\tc\td\t" SHA_A "\tMIT";
    vis_registry *reg;
    CHECK_EQ_INT(vis_registry_parse(nul, sizeof nul - 1, &reg), UT_EFORMAT);
    const char ok[] = "# comment\r\n\nm1\tt\tp@1\tf\t" SHA_A "\tMIT\r\n";
    CHECK_EQ_INT(vis_registry_parse(ok, sizeof ok - 1, &reg), UT_OK);
    CHECK_EQ_INT(vis_registry_count(reg), 1);
    CHECK_EQ_STR(vis_registry_at(reg, 0)->licence, "MIT");
    vis_registry_free(reg);
}

TEST(model_check_states) {
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/models", test_tmpdir());
    CHECK_EQ_INT(ut_mkdirs(dir), UT_OK);
    snprintf(path, sizeof path, "%s/good.onnx", dir);
    FILE *f = fopen(path, "w");
    fputs("abc", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/bad.onnx", dir);
    f = fopen(path, "w");
    fputs("abd", f);
    fclose(f);
    vis_model_entry good = {"good", "t", "p", "m", SHA_B, "MIT"}, bad = {"bad", "t", "p", "m", SHA_B, "MIT"};
    vis_model_entry gone = {"gone", "t", "p", "m", SHA_B, "MIT"};
    int state;
    CHECK_EQ_INT(vis_model_check(dir, &good, &state), UT_OK);
    CHECK_EQ_INT(state, VIS_MODEL_OK);
    CHECK_EQ_INT(vis_model_check(dir, &bad, &state), UT_OK);
    CHECK_EQ_INT(state, VIS_MODEL_CORRUPT);
    CHECK_EQ_INT(vis_model_check(dir, &gone, &state), UT_OK);
    CHECK_EQ_INT(state, VIS_MODEL_MISSING);
}

TEST(oom_while_parsing_is_clean) {
    const char text[] = "m1\tt\tp@1\tf\t" SHA_A "\tMIT\nm2\tt\tp@1\tf\t" SHA_B "\tMIT\n";
    for (long n = 1; n < 20; n++) {
        vis_registry *reg = (vis_registry *)1;
        ut_mem_fail_at(n);
        int rc = vis_registry_parse(text, sizeof text - 1, &reg);
        ut_mem_fail_at(0);
        if (rc == UT_OK) {
            CHECK_EQ_INT(vis_registry_count(reg), 2);
            vis_registry_free(reg);
            continue;
        }
        CHECK_EQ_INT(rc, UT_ENOMEM);
        CHECK(reg == NULL);
    }
}

int main(int argc, char **argv) { return test_main(argc, argv); }

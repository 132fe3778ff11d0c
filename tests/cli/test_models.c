/* `kadr models list|verify` against a models directory made by the test. */
#include "http.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>

static char out[65536], err[65536];

static void write_file(const char *dir, const char *name, const char *text) {
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static const char *make_models_dir(void) {
    static char dir[600];
    snprintf(dir, sizeof dir, "%s/models", test_tmpdir());
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    if (system(cmd) != 0) return NULL;
    write_file(dir, "registry.tsv",
               "# test registry\n"
               "good\tface-embed\tpkg@1\tm\tba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\tMIT\n"
               "bad\tface-detect\tpkg@1\tm\tba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\t\"q\"\n"
               "gone\tsegment\tpkg@2\tm\tba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\tAGPL-3.0\n");
    write_file(dir, "good.onnx", "abc");
    write_file(dir, "bad.onnx", "abd");
    return dir;
}

TEST(list_shows_states) {
    const char *dir = make_models_dir();
    CHECK(dir);
    const char *args[] = {"models", "list", "--dir", dir, NULL};
    CHECK_EQ_INT(kadr_run(args, out, sizeof out, err, sizeof err), 0);
    CHECK(strstr(out, "good") && strstr(out, "corrupt") && strstr(out, "missing"));
    const char *jargs[] = {"models", "list", "--json", "--dir", dir, NULL};
    CHECK_EQ_INT(kadr_run(jargs, out, sizeof out, err, sizeof err), 0);
    /* The licence with quotes is escaped, so each line stays valid JSON. */
    CHECK(strstr(out, "\"licence\":\"\\\"q\\\"\""));
    CHECK(strstr(out, "\"state\":\"ok\""));
}

TEST(verify_fails_on_missing_or_corrupt) {
    const char *dir = make_models_dir();
    const char *args[] = {"models", "verify", "--dir", dir, NULL};
    CHECK_EQ_INT(kadr_run(args, out, sizeof out, err, sizeof err), 1);
    CHECK(strstr(err, "2 model(s) missing or corrupt"));
    const char *none[] = {"models", "verify", "--dir", "/nonexistent/models", NULL};
    CHECK_EQ_INT(kadr_run(none, out, sizeof out, err, sizeof err), 1);
    CHECK(strstr(err, "make models"));
    const char *usage[] = {"models", "frob", NULL};
    CHECK_EQ_INT(kadr_run(usage, out, sizeof out, err, sizeof err), 2);
}

int main(int argc, char **argv) { return test_main(argc, argv); }

/* Path confinement with hostile inputs: the checks every user path passes. */
#include "test.h"
#include "util.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static int join_rc(const char *root, const char *rel, char **out) {
    *out = NULL;
    return ut_path_join(root, rel, out);
}

TEST(normalize) {
    struct { const char *in, *out; } cases[] = {
        {"a/b/../c", "a/c"}, {"./a//b/", "a/b"}, {"/x/./y/..", "/x"}, {"", "."},
        {"a/..", "."}, {"/", "/"}, {"//a///b", "/a/b"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out;
        CHECK_EQ_INT(ut_path_normalize(cases[i].in, &out), UT_OK);
        CHECK_EQ_STR(out, cases[i].out);
        ut_free(out);
    }
    char *out;
    CHECK_EQ_INT(ut_path_normalize("../a", &out), UT_EESCAPE);
    CHECK_EQ_INT(ut_path_normalize("/..", &out), UT_EESCAPE);
    CHECK_EQ_INT(ut_path_normalize("a/../../b", &out), UT_EESCAPE);
}

TEST(join_accepts_inside) {
    char *out;
    CHECK_EQ_INT(join_rc("/srv/lib", "a/b.jpg", &out), UT_OK);
    CHECK_EQ_STR(out, "/srv/lib/a/b.jpg");
    ut_free(out);
    CHECK_EQ_INT(join_rc("/srv/lib/", "a/../c", &out), UT_OK);
    CHECK_EQ_STR(out, "/srv/lib/c");
    ut_free(out);
    CHECK_EQ_INT(join_rc("/srv/lib", "", &out), UT_OK);
    CHECK_EQ_STR(out, "/srv/lib");
    ut_free(out);
    CHECK_EQ_INT(join_rc("/srv/lib", "a/..", &out), UT_OK);
    CHECK_EQ_STR(out, "/srv/lib");
    ut_free(out);
    CHECK_EQ_INT(join_rc("/", "etc", &out), UT_OK);
    CHECK_EQ_STR(out, "/etc");
    ut_free(out);
    /* Names that merely look like dots are ordinary names. */
    CHECK_EQ_INT(join_rc("/srv", "...", &out), UT_OK);
    CHECK_EQ_STR(out, "/srv/...");
    ut_free(out);
    CHECK_EQ_INT(join_rc("/srv", "фото/общие", &out), UT_OK);
    CHECK_EQ_STR(out, "/srv/фото/общие");
    ut_free(out);
}

TEST(join_refuses_hostile) {
    const char *bad[] = {
        "..", "../etc/passwd", "a/../../etc", "/etc/passwd", "a/b/../../..",
        "..\\..\\windows", "a\\..\\..", "./../x", "a/./../../b", "\x1b[2J", "a\nb",
        "//etc/passwd",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *out;
        int rc = join_rc("/srv/lib", bad[i], &out);
        if (rc == UT_OK) {
            test_fail(__FILE__, __LINE__, "accepted '%s' as '%s'", bad[i], out);
            return;
        }
        CHECK(out == NULL);
        CHECK(strlen(ut_errmsg()) > 0);
    }
}

TEST(within) {
    CHECK(ut_path_within("/a/b", "/a/b"));
    CHECK(ut_path_within("/a/b", "/a/b/c"));
    CHECK(ut_path_within("/a/b/", "/a/b/c"));
    CHECK(!ut_path_within("/a/b", "/a/bc"));
    CHECK(!ut_path_within("/a/b", "/a"));
    CHECK(ut_path_within("/", "/x"));
}

/* A library root with a symlink farm: links inside are fine, links that
 * lead out (directly, through a parent, or dangling) are refused. */
TEST(resolve_symlinks) {
    char root[512], outside[512], p[600], q[600];
    snprintf(root, sizeof root, "%s/root", test_tmpdir());
    snprintf(outside, sizeof outside, "%s/outside", test_tmpdir());
    CHECK_EQ_INT(ut_mkdirs(root), UT_OK);
    CHECK_EQ_INT(ut_mkdirs(outside), UT_OK);
    snprintf(p, sizeof p, "%s/sub", root);
    CHECK_EQ_INT(ut_mkdirs(p), UT_OK);
    snprintf(p, sizeof p, "%s/secret.txt", outside);
    FILE *f = fopen(p, "w");
    CHECK(f);
    fclose(f);
    snprintf(q, sizeof q, "%s/out", root);
    CHECK(symlink(outside, q) == 0);                 /* root/out -> outside */
    snprintf(q, sizeof q, "%s/in", root);
    CHECK(symlink("sub", q) == 0);                   /* root/in -> sub */
    snprintf(q, sizeof q, "%s/dangling", root);
    CHECK(symlink("/nonexistent/x", q) == 0);
    snprintf(q, sizeof q, "%s/sub/up", root);
    CHECK(symlink("../..", q) == 0);                 /* climbs out of root */

    char *out;
    CHECK_EQ_INT(ut_path_resolve(root, "out/secret.txt", &out), UT_EESCAPE);
    CHECK_EQ_INT(ut_path_resolve(root, "out", &out), UT_EESCAPE);
    CHECK_EQ_INT(ut_path_resolve(root, "out/new.jpg", &out), UT_EESCAPE);
    CHECK_EQ_INT(ut_path_resolve(root, "dangling", &out), UT_EESCAPE);
    CHECK_EQ_INT(ut_path_resolve(root, "sub/up/outside", &out), UT_EESCAPE);
    CHECK_EQ_INT(ut_path_resolve(root, "../outside", &out), UT_EESCAPE);
    CHECK(ut_path_resolve(root, "missing/dir/file", &out) != UT_OK);

    char realroot[512];
    CHECK(realpath(root, realroot));
    CHECK_EQ_INT(ut_path_resolve(root, "in", &out), UT_OK);
    snprintf(p, sizeof p, "%s/sub", realroot);
    CHECK_EQ_STR(out, p);
    ut_free(out);
    CHECK_EQ_INT(ut_path_resolve(root, "sub/new.jpg", &out), UT_OK);
    snprintf(p, sizeof p, "%s/sub/new.jpg", realroot);
    CHECK_EQ_STR(out, p);
    ut_free(out);
    CHECK_EQ_INT(ut_path_resolve(root, "", &out), UT_OK);
    CHECK_EQ_STR(out, realroot);
    ut_free(out);
}

TEST(resolve_missing_root) {
    char *out;
    CHECK_EQ_INT(ut_path_resolve("/nonexistent/kadr/root", "a", &out), UT_ENOENT);
    CHECK(strstr(ut_errmsg(), "/nonexistent/kadr/root") != NULL);
}

TEST(join_oom_is_clean) {
    for (long n = 1; n < 8; n++) {
        char *out = (char *)1;
        ut_mem_fail_at(n);
        int rc = ut_path_join("/srv/lib", "a/b/c/d.jpg", &out);
        ut_mem_fail_at(0);
        if (rc == UT_OK) {
            ut_free(out);
            continue;
        }
        CHECK_EQ_INT(rc, UT_ENOMEM);
        CHECK(out == NULL);
    }
}

int main(int argc, char **argv) { return test_main(argc, argv); }

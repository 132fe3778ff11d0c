/* Planning rules: move/copy/leave, общие in any case, clashes, emptied folders,
 * skips with reasons, dry-run text and JSON; planning touches nothing. */
#include "organize.h"
#include "tree.h"

#include <jansson.h>

TEST(shared_folder_names) {
    CHECK(org_is_shared_folder("общие"));
    CHECK(org_is_shared_folder("ОБЩИЕ"));
    CHECK(org_is_shared_folder("Общие"));
    CHECK(org_is_shared_folder("оБщИе"));
    CHECK(!org_is_shared_folder("общий"));
    CHECK(!org_is_shared_folder("общиее"));
    CHECK(!org_is_shared_folder("общи"));
    CHECK(!org_is_shared_folder("obshie"));
    CHECK(!org_is_shared_folder(""));
    CHECK(!org_is_shared_folder("\xd0"));
    CHECK(org_is_image_name("a.JPG"));
    CHECK(org_is_image_name("b.heic"));
    CHECK(!org_is_image_name("notes.txt"));
    CHECK(!org_is_image_name(".jpg"));
}

static const char *A[] = {"alice"}, *B[] = {"bob"}, *AB[] = {"alice", "bob"};

/* Finds the planned item for path. */
static int find(const org_plan *p, const char *path, org_item *it) {
    for (size_t i = 0; i < org_plan_count(p); i++) {
        org_plan_item(p, i, it);
        if (strcmp(it->path, path) == 0) return 1;
    }
    return 0;
}

static void build_library(const char *root) {
    tree_put(root, "a/1.jpg", "one", -1);
    tree_put(root, "a/2.jpg", "two", -1);
    tree_put(root, "b/3.jpg", "three", -1);
    tree_put(root, "общие/4.jpg", "four", -1);
    tree_put(root, "ОБЩИЕ/sub/5.jpg", "five", -1);
    tree_put(root, "Общие/6.png", "six", -1);
    tree_put(root, "c/notes.txt", "notes", -1);
    tree_put(root, "c/7.jpg", "seven", -1);
    tree_put(root, "d/e/8.jpg", "eight", -1);
    tree_put(root, "x/9.jpg", "nine-x", -1);
    tree_put(root, "y/9.jpg", "nine-y", -1);
    tree_put(root, "alice/1.jpg", "an older alice photo", -1);
    tree_put(root, "alice/10.jpg", "ten", -1);
    tree_put(root, "alice/11.jpg", "eleven", -1);
    tree_put(root, "f/12.jpg", "twelve", -1);
    tree_put(root, "f/13.jpg", "thirteen", -1);
    symlink("../a/1.jpg", tree_path(root, "link.jpg"));
}

static org_plan *plan_library(const char *root) {
    org_plan *p = NULL;
    if (org_plan_create(root, NULL, &p)) return NULL;
    struct { const char *path; const char **who; size_t n; } in[] = {
        {"a/1.jpg", A, 1},       {"a/2.jpg", AB, 2},     {"b/3.jpg", NULL, 0}, {"общие/4.jpg", A, 1},
        {"ОБЩИЕ/sub/5.jpg", B, 1}, {"Общие/6.png", B, 1}, {"c/notes.txt", A, 1}, {"c/7.jpg", B, 1},
        {"d/e/8.jpg", A, 1},     {"x/9.jpg", A, 1},      {"y/9.jpg", A, 1},    {"alice/10.jpg", A, 1},
        {"alice/11.jpg", AB, 2}, {"link.jpg", B, 1},     {"../outside.jpg", A, 1}, {"missing.jpg", A, 1},
        {"f/12.jpg", A, 1},      {"./f//12.jpg", B, 1},
    };
    int rc = UT_OK;
    for (size_t i = 0; i < sizeof in / sizeof in[0] && !rc; i++)
        rc = org_plan_add(p, in[i].path, in[i].who, in[i].n, NULL);
    if (!rc) rc = org_plan_finish(p);
    if (rc) {
        org_plan_destroy(p);
        return NULL;
    }
    return p;
}

TEST(plan_rules) {
    char root[512];
    snprintf(root, sizeof root, "%s/lib", test_tmpdir());
    build_library(root);
    char *before = tree_manifest(root, NULL);
    org_plan *p = plan_library(root);
    CHECK(p != NULL);
    org_item it;
    CHECK(find(p, "a/1.jpg", &it));
    CHECK_EQ_INT(it.action, ORG_MOVE);
    CHECK_EQ_STR(it.dest[0], "alice/1 (2).jpg"); /* alice/1.jpg exists already */
    CHECK(find(p, "a/2.jpg", &it));
    CHECK_EQ_INT(it.action, ORG_COPY);
    CHECK_EQ_INT(it.ndest, 2);
    CHECK_EQ_STR(it.dest[0], "alice/2.jpg");
    CHECK_EQ_STR(it.dest[1], "bob/2.jpg");
    CHECK(!it.keep_original);
    CHECK(find(p, "b/3.jpg", &it));
    CHECK_EQ_INT(it.action, ORG_LEAVE);
    const char *shared[] = {"общие/4.jpg", "ОБЩИЕ/sub/5.jpg", "Общие/6.png"};
    for (int i = 0; i < 3; i++) {
        CHECK(find(p, shared[i], &it));
        CHECK_EQ_INT(it.action, ORG_SKIP);
        CHECK(strstr(it.reason, "shared") != NULL);
    }
    CHECK(find(p, "c/notes.txt", &it));
    CHECK_EQ_INT(it.action, ORG_SKIP);
    CHECK(strstr(it.reason, "not an image") != NULL);
    CHECK(find(p, "x/9.jpg", &it));
    CHECK_EQ_STR(it.dest[0], "alice/9.jpg");
    CHECK(find(p, "y/9.jpg", &it));
    CHECK_EQ_STR(it.dest[0], "alice/9 (2).jpg"); /* clash with another planned file */
    CHECK(find(p, "alice/10.jpg", &it));
    CHECK_EQ_INT(it.action, ORG_LEAVE); /* already in its folder */
    CHECK(find(p, "alice/11.jpg", &it));
    CHECK_EQ_INT(it.action, ORG_COPY);
    CHECK(it.keep_original);
    CHECK_EQ_INT(it.ndest, 1);
    CHECK_EQ_STR(it.dest[0], "bob/11.jpg");
    CHECK(find(p, "link.jpg", &it));
    CHECK_EQ_INT(it.action, ORG_SKIP);
    CHECK(strstr(it.reason, "symlink") != NULL);
    CHECK(find(p, "../outside.jpg", &it));
    CHECK_EQ_INT(it.action, ORG_SKIP);
    CHECK(find(p, "missing.jpg", &it));
    CHECK_EQ_INT(it.action, ORG_SKIP);
    CHECK(find(p, "f/12.jpg", &it));
    CHECK_EQ_INT(it.action, ORG_MOVE);
    /* "./f//12.jpg" is the same photo listed twice */
    CHECK_EQ_INT(org_plan_count(p), 18);
    org_plan_item(p, 17, &it);
    CHECK_EQ_INT(it.action, ORG_SKIP);
    CHECK(strstr(it.reason, "twice") != NULL);

    /* a, d/e, d, x, y emptied; c keeps notes.txt; f keeps 13.jpg (not planned) */
    CHECK_EQ_INT(org_plan_rmdir_count(p), 5);
    CHECK_EQ_STR(org_plan_rmdir(p, 0), "d/e");
    const char *want[] = {"a", "d", "x", "y"};
    for (int i = 0; i < 4; i++) CHECK_EQ_STR(org_plan_rmdir(p, (size_t)i + 1), want[i]);

    org_summary s;
    org_plan_summary(p, &s);
    CHECK_EQ_INT(s.photos_moved, 6); /* a/1 c/7 d/e/8 x/9 y/9 f/12 */
    CHECK_EQ_INT(s.photos_copied, 2);
    CHECK_EQ_INT(s.copies_total, 3);
    CHECK_EQ_INT(s.photos_left, 2);
    CHECK_EQ_INT(s.photos_skipped, 8);
    CHECK_EQ_INT(s.folders_emptied, 5);

    char *after = tree_manifest(root, NULL);
    CHECK_EQ_STR(after, before); /* planning touched nothing */
    ut_free(before);
    ut_free(after);
    org_plan_destroy(p);
}

TEST(plan_print_and_json) {
    char root[512];
    snprintf(root, sizeof root, "%s/lib", test_tmpdir());
    build_library(root);
    org_plan *p = plan_library(root);
    CHECK(p != NULL);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    org_plan_print(p, f, 1);
    fclose(f);
    CHECK(strstr(text, "6 photos moved, 2 copied into several folders (3 copies)") != NULL);
    CHECK(strstr(text, "move  a/1.jpg -> alice/1 (2).jpg\n") != NULL);
    CHECK(strstr(text, "copy  a/2.jpg -> alice/2.jpg, bob/2.jpg\n") != NULL);
    CHECK(strstr(text, "rmdir d/e\n") != NULL);
    free(text);

    json_t *j = NULL;
    CHECK_EQ_INT(org_plan_to_json(p, &j), UT_OK);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "summary"), "copies_total")), 3);
    json_t *photos = json_object_get(j, "photos");
    CHECK_EQ_INT(json_array_size(photos), 18);
    json_t *second = json_array_get(photos, 1);
    CHECK_EQ_STR(json_string_value(json_object_get(second, "action")), "copy");
    CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(second, "to"), 1)), "bob/2.jpg");
    CHECK_EQ_INT(json_array_size(json_object_get(j, "remove_folders")), 5);
    json_decref(j);
    org_plan_destroy(p);
}

TEST(bad_person_names) {
    org_plan *p = NULL;
    CHECK_EQ_INT(org_plan_create(test_tmpdir(), NULL, &p), UT_OK);
    const char *bad[] = {"", "a/b", "..", ".", "ОБЩИЕ", ".kadr-sort"};
    for (int i = 0; i < 6; i++) {
        const char *who[] = {bad[i]};
        CHECK_EQ_INT(org_plan_add(p, "x.jpg", who, 1, NULL), UT_EINVAL);
    }
    CHECK_EQ_INT(org_plan_add(p, "x.jpg", A, 1, "zz"), UT_EINVAL);
    CHECK_EQ_INT(org_plan_add(p, "x.jpg", A, 1, "g000000000000000000000000000000000000000000000000000000000000000"), UT_EINVAL);
    CHECK_EQ_INT(org_plan_count(p), 0);
    CHECK_EQ_INT(org_plan_finish(p), UT_OK);
    CHECK_EQ_INT(org_plan_add(p, "x.jpg", A, 1, NULL), UT_ESTATE);
    org_plan_destroy(p);
    CHECK_EQ_INT(org_plan_create("/nonexistent/kadr", NULL, &p), UT_ENOENT);
}

/* Out of memory at every allocation of a small plan: a clean error, no leak. */
TEST(plan_oom) {
    char root[512];
    snprintf(root, sizeof root, "%s/lib", test_tmpdir());
    build_library(root);
    long start = ut_mem_count();
    org_plan_destroy(plan_library(root));
    long total = ut_mem_count() - start;
    int failures = 0;
    for (long n = 1; n <= total; n++) {
        ut_mem_fail_at(n);
        org_plan *p = plan_library(root);
        ut_mem_fail_at(0);
        failures += p == NULL;
        org_plan_destroy(p);
    }
    CHECK(failures > 10);
}

int main(int argc, char **argv) { return test_main(argc, argv); }

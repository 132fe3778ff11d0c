/* Execution, resume and undo on real trees: the sorted layout is right, undo
 * gives back a byte-identical tree, and every odd case (changed photo, torn
 * or corrupt journal, read-only folders, unreadable files, symlinks, a full
 * disk) ends with a clear message and nothing lost. */
#include "organize.h"
#include "tree.h"

#include <sys/mount.h>
#include <sys/wait.h>

static const char *A[] = {"alice"}, *B[] = {"bob"}, *AB[] = {"alice", "bob"}, *ABC[] = {"alice", "bob", "carol"};

static char *root_of(const char *name) {
    return ut_asprintf("%s/%s", test_tmpdir(), name);
}

static void library(const char *root) {
    tree_put(root, "2019/summer/1.jpg", "photo one", -1);
    tree_put(root, "2019/summer/2.jpg", "photo two", -1);
    tree_put(root, "2019/3.jpg", "photo three", -1);
    tree_put(root, "trip/4.jpg", "photo four", -1);
    tree_put(root, "trip/readme.txt", "not a photo", -1);
    tree_put(root, "общие/5.jpg", "shared five", -1);
    tree_put(root, "alice/1.jpg", "an older alice photo", -1);
    tree_put(root, "6.jpg", "photo six", -1);
}

static org_plan *plan_library(const char *root, const char *out) {
    org_plan *p = NULL;
    if (org_plan_create(root, out, &p)) return NULL;
    org_plan_add(p, "2019/summer/1.jpg", A, 1, NULL);
    org_plan_add(p, "2019/summer/2.jpg", AB, 2, NULL);
    org_plan_add(p, "2019/3.jpg", ABC, 3, NULL);
    org_plan_add(p, "trip/4.jpg", B, 1, NULL);
    org_plan_add(p, "trip/readme.txt", B, 1, NULL);
    org_plan_add(p, "общие/5.jpg", AB, 2, NULL);
    org_plan_add(p, "6.jpg", NULL, 0, NULL);
    org_plan_finish(p);
    return p;
}

static int same(const char *root, const char *rel, const char *want) {
    char *s = tree_get(root, rel);
    int ok = s && strcmp(s, want) == 0;
    if (!ok) fprintf(stderr, "  %s/%s: \"%s\", expected \"%s\"\n", root, rel, s ? s : "(missing)", want);
    ut_free(s);
    return ok;
}

static void check_sorted(const char *root, const char *out) {
    CHECK(!tree_exists(root, "2019"));
    CHECK(tree_exists(root, "trip/readme.txt"));
    CHECK(!tree_exists(root, "trip/4.jpg"));
    CHECK(same(out, strcmp(root, out) ? "alice/1.jpg" : "alice/1 (2).jpg", "photo one"));
    CHECK(same(out, "alice/2.jpg", "photo two"));
    CHECK(same(out, "bob/2.jpg", "photo two"));
    CHECK(same(out, "carol/3.jpg", "photo three"));
    CHECK(same(out, "bob/4.jpg", "photo four"));
    CHECK(same(root, "общие/5.jpg", "shared five"));
    CHECK(same(root, "6.jpg", "photo six"));
    CHECK_EQ_INT(tree_temps(out), 0);
}

static void execute_and_undo(const char *name, int separate_out, int no_rename) {
    char *root = root_of(name), *out = separate_out ? ut_asprintf("%s-out", root) : ut_strdup(root);
    library(root);
    char *before = tree_manifest(root, NULL);
    org_plan *p = plan_library(root, out);
    CHECK(p != NULL);
    org_opts o = {.no_rename = no_rename};
    org_stats st;
    CHECK_EQ_INT(org_execute(p, &o, &st), UT_OK);
    CHECK_EQ_INT(st.moved, 2);
    CHECK_EQ_INT(st.copied, 2);
    CHECK_EQ_INT(st.copies, no_rename ? 7 : 5); /* moves by copy count too */
    CHECK_EQ_INT(st.folders_removed, 2);
    check_sorted(root, out);
    char *state = org_state_dir(p, &o);
    /* a second execute refuses; resume of a finished run is a no-op */
    CHECK_EQ_INT(org_execute(p, &o, NULL), UT_EEXIST);
    CHECK_EQ_INT(org_resume(state, &o, &st), UT_OK);
    CHECK_EQ_INT(st.moved + st.copies, 0);
    CHECK_EQ_INT(org_undo(state, &o, &st), UT_OK);
    CHECK_EQ_INT(st.restored, 4);
    char *after = tree_manifest(root, NULL);
    if (strcmp(before, after)) tree_diff(before, after);
    CHECK_EQ_STR(after, before);
    if (separate_out) CHECK_EQ_INT(tree_temps(out), 0);
    CHECK(!tree_exists(out, "bob"));  /* created folders removed */
    CHECK(!tree_exists(out, ".kadr-sort"));
    CHECK_EQ_INT(org_undo(state, &o, &st), UT_ENOENT);
    ut_free(before), ut_free(after), ut_free(state), ut_free(root), ut_free(out);
    org_plan_destroy(p);
}

TEST(execute_undo_in_place) { execute_and_undo("inplace", 0, 0); }
TEST(execute_undo_copy_path) { execute_and_undo("copypath", 0, 1); }
TEST(execute_undo_other_out) { execute_and_undo("otherout", 1, 0); }

static int stop_after = 0, events = 0, problems = 0;
static int on_progress(void *ctx, const org_event *ev) {
    events++;
    problems += ev->problem != NULL;
    if (ev->done > ev->total) problems += 1000;
    return stop_after && (int)ev->done >= stop_after;
}

TEST(progress_cancel_resume) {
    char *root = root_of("cancel");
    library(root);
    org_plan *p = plan_library(root, NULL);
    org_opts o = {.progress = on_progress};
    stop_after = 2;
    CHECK_EQ_INT(org_execute(p, &o, NULL), UT_ECANCELED);
    CHECK(strstr(ut_errmsg(), "resume") != NULL);
    stop_after = 0;
    events = problems = 0;
    char *state = org_state_dir(p, &o);
    CHECK_EQ_INT(org_resume(state, &o, NULL), UT_OK);
    CHECK_EQ_INT(events, 7);
    CHECK_EQ_INT(problems, 2); /* readme.txt, общие */
    check_sorted(root, root);
    ut_free(state), ut_free(root);
    org_plan_destroy(p);
}

TEST(changed_after_plan) {
    char *root = root_of("changed");
    library(root);
    org_plan *p = plan_library(root, NULL);
    tree_put(root, "2019/summer/1.jpg", "photo one, edited", -1);
    /* same size, different bytes: caught by the expected hash */
    org_plan *q = NULL;
    org_plan_create(root, NULL, &q);
    org_plan_add(q, "trip/4.jpg", A, 1, "0000000000000000000000000000000000000000000000000000000000000000");
    org_plan_finish(q);
    org_opts o = {0};
    org_stats st;
    CHECK_EQ_INT(org_execute(p, &o, &st), UT_OK);
    CHECK_EQ_INT(st.skipped, 1);
    char *s = tree_get(root, "2019/summer/1.jpg");
    CHECK_EQ_STR(s, "photo one, edited");
    ut_free(s);
    CHECK(tree_exists(root, "2019/summer")); /* still holds the edited photo */
    char *state = org_state_dir(p, &o);
    CHECK_EQ_INT(org_undo(state, &o, NULL), UT_OK);
    o.state_dir = state;
    CHECK_EQ_INT(org_execute(q, &o, &st), UT_OK);
    CHECK_EQ_INT(st.skipped, 1);
    CHECK(tree_exists(root, "trip/4.jpg"));
    ut_free(state), ut_free(root);
    org_plan_destroy(p);
    org_plan_destroy(q);
}

/* Cut the journal short anywhere: undo still restores everything. Damage a
 * record in the middle: a clear error and nothing touched. */
TEST(journal_torn_and_corrupt) {
    char *root = root_of("torn");
    library(root);
    char *before = tree_manifest(root, ".kadr-sort");
    org_plan *p = plan_library(root, NULL);
    org_opts o = {0};
    CHECK_EQ_INT(org_execute(p, &o, NULL), UT_OK);
    char *state = org_state_dir(p, &o), *jpath = ut_asprintf("%s/journal", state);
    struct stat st;
    CHECK(stat(jpath, &st) == 0);
    /* a torn append: half a record of garbage at the end */
    FILE *f = fopen(jpath, "ab");
    fwrite("\x40\0\0\0\xbf\xff\xff\xff" "abc", 1, 11, f);
    fclose(f);
    /* and a flipped byte in the middle, on a copy */
    char *img = NULL;
    size_t len = (size_t)st.st_size;
    img = tree_get(state, "journal");
    img[len / 2] ^= 0x55;
    char *bad = ut_asprintf("%s-bad", state);
    tree_put(bad, "journal", img, (long)len);
    char *mid = tree_manifest(root, ".kadr-sort");
    CHECK_EQ_INT(org_undo(bad, &o, NULL), UT_EFORMAT);
    CHECK(strstr(ut_errmsg(), "journal record") != NULL);
    char *mid2 = tree_manifest(root, ".kadr-sort");
    CHECK_EQ_STR(mid2, mid);
    f = fopen(tree_path(bad, "journal"), "wb");
    fputs("not a journal at all", f);
    fclose(f);
    CHECK_EQ_INT(org_resume(bad, &o, NULL), UT_EFORMAT);
    CHECK(strstr(ut_errmsg(), "not a kadr journal") != NULL);
    CHECK_EQ_INT(org_undo(state, &o, NULL), UT_OK);
    char *after = tree_manifest(root, ".kadr-sort");
    CHECK_EQ_STR(after, before);
    ut_free(before), ut_free(after), ut_free(mid), ut_free(mid2), ut_free(img), ut_free(bad);
    ut_free(state), ut_free(jpath), ut_free(root);
    org_plan_destroy(p);
}

TEST(symlinks_never_followed) {
    char *root = root_of("links"), *outside = root_of("outside");
    tree_put(outside, "secret.jpg", "outside the root", -1);
    tree_put(outside, "dir/x.jpg", "outside x", -1);
    library(root);
    symlink(tree_path(outside, "secret.jpg"), tree_path(root, "evil.jpg"));
    symlink(tree_path(outside, "dir"), tree_path(root, "linkdir"));
    org_plan *p = NULL;
    CHECK_EQ_INT(org_plan_create(root, NULL, &p), UT_OK);
    org_plan_add(p, "evil.jpg", A, 1, NULL);
    org_plan_add(p, "linkdir/x.jpg", AB, 2, NULL);
    org_plan_finish(p);
    org_item it;
    org_plan_item(p, 0, &it);
    CHECK_EQ_INT(it.action, ORG_SKIP);
    CHECK(strstr(it.reason, "symlink") != NULL);
    org_plan_item(p, 1, &it);
    CHECK_EQ_INT(it.action, ORG_SKIP);
    CHECK(strstr(it.reason, "through a symlink") != NULL);
    char *before = tree_manifest(outside, NULL);
    CHECK_EQ_INT(org_execute(p, NULL, NULL), UT_OK);
    char *after = tree_manifest(outside, NULL);
    CHECK_EQ_STR(after, before);
    struct stat st;
    CHECK(lstat(tree_path(root, "evil.jpg"), &st) == 0 && S_ISLNK(st.st_mode));
    ut_free(before), ut_free(after), ut_free(root), ut_free(outside);
    org_plan_destroy(p);
}

/* Permission tests need a non-root user: as root, drop to nobody in this
 * (forked) test process after handing it the tree. */
static int chown_visit(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    return lchown(path, 65534, 65534) < 0;
}
static int become_nobody(const char *dir) {
    if (geteuid() != 0) return 1;
    chmod(test_tmpdir(), 0777);
    nftw(dir, chown_visit, 16, FTW_PHYS);
    return setgid(65534) == 0 && setuid(65534) == 0;
}

TEST(readonly_and_unreadable) {
    char *root = root_of("perm"), *state = root_of("perm-state");
    library(root);
    tree_put(root, "locked/7.jpg", "seven", -1);
    tree_put(root, "secret/8.jpg", "eight", -1);
    ut_mkdirs(state);
    chown(state, 65534, 65534);
    if (!become_nobody(root)) {
        test_skip("cannot drop root privileges for the permission test");
        return;
    }
    chmod(tree_path(root, "locked"), 0555);       /* read-only source folder */
    chmod(tree_path(root, "secret/8.jpg"), 0000); /* unreadable photo */
    org_plan *p = plan_library(root, NULL);
    /* plan-time: both reported */
    org_plan *q = NULL;
    org_plan_create(root, NULL, &q);
    org_plan_add(q, "locked/7.jpg", A, 1, NULL);
    org_plan_add(q, "secret/8.jpg", A, 1, NULL);
    org_plan_finish(q);
    org_item it;
    org_plan_item(q, 0, &it);
    CHECK_EQ_INT(it.action, ORG_SKIP);
    CHECK(strstr(it.reason, "read-only") != NULL);
    org_plan_item(q, 1, &it);
    CHECK_EQ_INT(it.action, ORG_SKIP);
    CHECK(strstr(it.reason, "cannot read") != NULL);
    /* execute-time: the folders become read-only after planning */
    chmod(tree_path(root, "trip"), 0555);
    ut_mkdirs(tree_path(root, "carol"));
    chmod(tree_path(root, "carol"), 0555);
    char *before = tree_manifest(root, NULL);
    org_opts o = {.state_dir = state};
    org_stats st;
    CHECK_EQ_INT(org_execute(p, &o, &st), UT_OK);
    CHECK(st.skipped >= 2); /* trip/4.jpg cannot leave, 3.jpg cannot reach carol */
    CHECK(tree_exists(root, "trip/4.jpg"));
    CHECK(tree_exists(root, "2019/3.jpg"));
    CHECK_EQ_INT(tree_temps(root), 0);
    CHECK_EQ_INT(org_undo(state, &o, NULL), UT_OK);
    char *after = tree_manifest(root, NULL);
    if (strcmp(before, after)) tree_diff(before, after);
    CHECK_EQ_STR(after, before);
    ut_free(before), ut_free(after), ut_free(root), ut_free(state);
    org_plan_destroy(p);
    org_plan_destroy(q);
}

/* A 1 MiB tmpfs as the output: copies stop with "no space left", the partial
 * temp is gone, and both resume (still failing cleanly) and undo are safe. */
TEST(disk_full) {
    char *root = root_of("full"), *out = root_of("full-out"), *state = root_of("full-state");
    ut_mkdirs(out);
    if (geteuid() != 0 || mount("tmpfs", out, "tmpfs", 0, "size=1m") != 0) {
        test_skip("disk-full test needs root to mount a 1 MiB tmpfs");
        return;
    }
    char *big = ut_malloc(300000);
    for (int i = 0; i < 300000; i++) big[i] = (char)(i * 7 + i / 1000);
    for (int i = 0; i < 6; i++) {
        char name[64];
        snprintf(name, sizeof name, "day%d/%d.jpg", i % 2, i);
        big[0] = (char)i;
        tree_put(root, name, big, 300000);
    }
    char *before = tree_manifest(root, NULL);
    org_plan *p = NULL;
    org_plan_create(root, out, &p);
    for (int i = 0; i < 6; i++) {
        char name[64];
        snprintf(name, sizeof name, "day%d/%d.jpg", i % 2, i);
        org_plan_add(p, name, i % 3 ? A : AB, i % 3 ? 1 : 2, NULL);
    }
    org_plan_finish(p);
    org_opts o = {.state_dir = state};
    int rc = org_execute(p, &o, NULL);
    CHECK_EQ_INT(rc, UT_ETOOBIG);
    CHECK(strstr(ut_errmsg(), "no space left") != NULL);
    CHECK_EQ_INT(tree_temps(out), 0);
    CHECK_EQ_INT(org_resume(state, &o, NULL), UT_ETOOBIG);
    CHECK_EQ_INT(tree_temps(out), 0);
    CHECK_EQ_INT(org_undo(state, &o, NULL), UT_OK);
    char *after = tree_manifest(root, NULL);
    CHECK_EQ_STR(after, before);
    char *left = tree_manifest(out, NULL);
    CHECK_EQ_STR(left, "");
    umount2(out, MNT_DETACH);
    ut_free(before), ut_free(after), ut_free(left), ut_free(big);
    ut_free(root), ut_free(out), ut_free(state);
    org_plan_destroy(p);
}

int main(int argc, char **argv) { return test_main(argc, argv); }

/* The journal parser on a real journal cut at every byte (a torn tail is
 * always accepted, as the prefix before it) and with every byte of a middle
 * record flipped (always a clear UT_EFORMAT, never a silently shorter
 * journal). Uses the module's private header: the parser is internal. */
#include "organize_int.h"
#include "organize.h"
#include "tree.h"

static const char *A[] = {"ann"}, *AB[] = {"ann", "ben"};

/* A finished run's journal, read into memory. */
static char *real_journal(size_t *len) {
    char *root = ut_asprintf("%s/lib", test_tmpdir());
    tree_put(root, "x/1.jpg", "one", -1);
    tree_put(root, "x/2.jpg", "two", -1);
    tree_put(root, "3.jpg", "three", -1);
    org_plan *p = NULL;
    org_plan_create(root, NULL, &p);
    org_plan_add(p, "x/1.jpg", A, 1, NULL);
    org_plan_add(p, "x/2.jpg", AB, 2, NULL);
    org_plan_add(p, "3.jpg", AB, 2, NULL);
    org_plan_finish(p);
    org_opts o = {.no_rename = 1};
    char *j = NULL;
    if (org_execute(p, &o, NULL) == UT_OK) {
        char *state = org_state_dir(p, &o);
        struct stat st;
        if (stat(tree_path(state, "journal"), &st) == 0) {
            *len = (size_t)st.st_size;
            j = tree_get(state, "journal");
        }
        ut_free(state);
    }
    org_plan_destroy(p);
    ut_free(root);
    return j;
}

TEST(cut_anywhere) {
    size_t len = 0;
    char *j = real_journal(&len);
    CHECK(j != NULL);
    size_t last_valid = 0;
    for (size_t cut = 0; cut <= len; cut++) {
        org_plan *p = NULL;
        size_t valid = 0;
        int rc = org__journal_parse((const uint8_t *)j, cut, &p, &valid);
        if (rc) fprintf(stderr, "  cut at %zu: %s\n", cut, ut_errmsg());
        CHECK_EQ_INT(rc, UT_OK);
        CHECK(valid <= cut && valid >= last_valid); /* never shrinks as the cut grows */
        last_valid = valid;
        org_plan_destroy(p);
    }
    CHECK_EQ_INT(last_valid, len);
    ut_free(j);
}

TEST(flip_any_byte) {
    size_t len = 0;
    char *j = real_journal(&len);
    CHECK(j != NULL);
    /* the last record: find where it starts by parsing one byte short */
    org_plan *p = NULL;
    size_t last_start = 0;
    CHECK_EQ_INT(org__journal_parse((const uint8_t *)j, len - 1, &p, &last_start), UT_OK);
    org_plan_destroy(p);
    int format = 0, torn = 0;
    for (size_t at = 0; at < len; at++) {
        j[at] ^= 0x20;
        size_t valid = 0;
        p = NULL;
        int rc = org__journal_parse((const uint8_t *)j, len, &p, &valid);
        j[at] ^= 0x20;
        org_plan_destroy(p);
        if (at < last_start + 8) { /* before the last record, or its length fields */
            if (rc != UT_EFORMAT) fprintf(stderr, "  flip at %zu of %zu: rc %d\n", at, len, rc);
            CHECK_EQ_INT(rc, UT_EFORMAT); /* damage before the last record */
            format++;
        } else {
            CHECK_EQ_INT(rc, UT_OK); /* damage in the last record's body: a torn tail */
            CHECK_EQ_INT(valid, last_start);
            torn++;
        }
    }
    CHECK(format > 100 && torn > 5);
    ut_free(j);
}

int main(int argc, char **argv) { return test_main(argc, argv); }

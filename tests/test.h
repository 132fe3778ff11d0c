/* test.h -- the unit test harness: one executable per test file.
 *
 *   TEST(name) { CHECK(x == 1); CHECK_EQ_INT(rc, UT_OK); }
 *   int main(int argc, char **argv) { return test_main(argc, argv); }
 *
 * Tests register themselves from constructors; `prog NAME` runs the tests
 * whose names contain NAME. Each test runs in a forked child with a time
 * limit (libuv's runner does the same) so a crash or hang fails that test
 * alone and the summary still prints. KADR_TEST_NOFORK=1 runs in-process
 * (for gdb). The summary line is "N passed, N failed". */
#ifndef KADR_TEST_H
#define KADR_TEST_H

#include <stdio.h>
#include <string.h>

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);
int test_main(int argc, char **argv);
void test_fail(const char *file, int line, const char *fmt, ...);
/* Directory of the shared models/data (KADR_SHARED), and a scratch dir
 * unique to this test process, created on first use. */
const char *test_shared(void);
const char *test_tmpdir(void);
/* 1 if path exists, for skipping tests whose data is missing. */
int test_exists(const char *path);
void test_skip(const char *why);

#define TEST(name)                                                             \
    static void test_##name(void);                                             \
    __attribute__((constructor)) static void reg_##name(void) {                \
        test_register(#name, test_##name);                                     \
    }                                                                          \
    static void test_##name(void)

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                 \
            return;                                                            \
        }                                                                      \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                     \
    do {                                                                       \
        long long va_ = (long long)(a), vb_ = (long long)(b);                  \
        if (va_ != vb_) {                                                      \
            test_fail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", #a, \
                      va_, #b, vb_);                                           \
            return;                                                            \
        }                                                                      \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                     \
    do {                                                                       \
        const char *sa_ = (a), *sb_ = (b);                                     \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                           \
            test_fail(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"", #a,  \
                      sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");             \
            return;                                                            \
        }                                                                      \
    } while (0)

#endif

/* Errors, buffers, logging levels, SHA-256 and the thread pool. */
#include "test.h"
#include "util.h"

#include <stdatomic.h>

TEST(error_messages) {
    ut_err_clear();
    CHECK_EQ_STR(ut_errmsg(), "ok");
    CHECK_EQ_INT(ut_fail(UT_ENOENT, "photo %d missing", 7), UT_ENOENT);
    CHECK_EQ_STR(ut_errmsg(), "photo 7 missing");
    CHECK_EQ_INT(ut_failf_wrap(UT_EIO, "indexing %s", "/a"), UT_EIO);
    CHECK_EQ_STR(ut_errmsg(), "indexing /a: photo 7 missing");
    CHECK_EQ_STR(ut_errname(UT_EESCAPE), "EESCAPE");
    CHECK_EQ_STR(ut_strerror(-9999), "unknown error");
    CHECK_EQ_INT(ut_from_errno(2), UT_ENOENT);
}

TEST(buffers) {
    ut_buf b = {0};
    for (int i = 0; i < 1000; i++) CHECK_EQ_INT(ut_buf_printf(&b, "%d,", i), UT_OK);
    CHECK(b.len > 3000);
    CHECK(strncmp(b.data, "0,1,2,", 6) == 0);
    CHECK_EQ_INT(b.data[b.len], 0);
    ut_buf_reset(&b);
    CHECK_EQ_INT(b.len, 0);
    CHECK_EQ_INT(ut_buf_append(&b, "x\0y", 3), UT_OK);
    CHECK_EQ_INT(b.len, 3);
    char *s = ut_buf_steal(&b);
    CHECK(b.data == NULL);
    ut_free(s);
}

TEST(buffer_oom_keeps_contents) {
    ut_buf b = {0};
    CHECK_EQ_INT(ut_buf_puts(&b, "keep"), UT_OK);
    ut_mem_fail_at(1);
    char big[200] = {0};
    memset(big, 'x', sizeof big - 1);
    CHECK_EQ_INT(ut_buf_puts(&b, big), UT_ENOMEM);
    ut_mem_fail_at(0);
    CHECK_EQ_STR(b.data, "keep");
    ut_buf_free(&b);
}

TEST(log_levels) {
    CHECK_EQ_INT(ut_log_parse_level("DEBUG"), UT_LOG_DEBUG);
    CHECK_EQ_INT(ut_log_parse_level("warning"), UT_LOG_WARN);
    CHECK_EQ_INT(ut_log_parse_level("loud"), -1);
    ut_log_set_level(UT_LOG_ERROR);
    CHECK_EQ_INT(ut_log_level(), UT_LOG_ERROR);
}

/* NIST FIPS 180-4 examples plus a million 'a's fed in odd-sized pieces. */
TEST(sha256_vectors) {
    struct { const char *in, *hex; } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < 3; i++) {
        ut_sha256 h;
        uint8_t d[32];
        char hex[65];
        ut_sha256_init(&h);
        ut_sha256_update(&h, v[i].in, strlen(v[i].in));
        ut_sha256_final(&h, d);
        ut_hex(d, 32, hex);
        CHECK_EQ_STR(hex, v[i].hex);
    }
    ut_sha256 h;
    uint8_t d[32];
    char hex[65], chunk[997];
    memset(chunk, 'a', sizeof chunk);
    ut_sha256_init(&h);
    for (size_t left = 1000000; left;) {
        size_t n = left < sizeof chunk ? left : sizeof chunk;
        ut_sha256_update(&h, chunk, n);
        left -= n;
    }
    ut_sha256_final(&h, d);
    ut_hex(d, 32, hex);
    CHECK_EQ_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static atomic_int counter;
static void bump(void *arg) { atomic_fetch_add(&counter, *(int *)arg); }

TEST(pool_tasks) {
    ut_pool *pool;
    CHECK_EQ_INT(ut_pool_create(3, &pool), UT_OK);
    CHECK_EQ_INT(ut_pool_size(pool), 3);
    int one = 1;
    for (int i = 0; i < 10000; i++) CHECK_EQ_INT(ut_pool_submit(pool, bump, &one), UT_OK);
    ut_pool_wait(pool);
    CHECK_EQ_INT(atomic_load(&counter), 10000);
    ut_pool_destroy(pool);
    ut_pool_destroy(NULL);
}

static void square(void *ctx, size_t b, size_t e) {
    long *out = ctx;
    for (size_t i = b; i < e; i++) out[i] = (long)(i * i);
}

TEST(pool_for_covers_every_index_once) {
    ut_pool *pool;
    CHECK_EQ_INT(ut_pool_create(2, &pool), UT_OK);
    for (size_t n = 0; n < 300; n += 37) {
        long *out = ut_calloc(n + 1, sizeof *out);
        for (size_t i = 0; i <= n; i++) out[i] = -1;
        ut_pool_for(pool, n, 1, square, out);
        for (size_t i = 0; i < n; i++) CHECK_EQ_INT(out[i], (long)(i * i));
        CHECK_EQ_INT(out[n], -1);
        ut_free(out);
    }
    long out[10];
    ut_pool_for(NULL, 10, 1, square, out);
    CHECK_EQ_INT(out[9], 81);
    ut_pool_destroy(pool);
}

int main(int argc, char **argv) { return test_main(argc, argv); }

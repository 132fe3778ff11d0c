/* fuzz_query.c -- libFuzzer target: arbitrary bytes as the query string
 * of a request, decoded like /api/folder?path= and resolved against a
 * library root.
 *
 * Invariants: decoding never crashes; a decoded value is NUL-free strict
 * UTF-8; a path that resolves lies under realpath(root). */
#include "api_int.h"
#include "util.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char root[128], real_root[PATH_MAX];
    static char *roots[1];
    if (!root[0]) {
        snprintf(root, sizeof root, "/tmp/kadr-fuzz-query-%d/lib", (int)getpid());
        ut_mkdirs(root);
        if (!realpath(root, real_root)) abort();
        roots[0] = root;
        ut_log_set_level(UT_LOG_ERROR);
    }
    char *q = malloc(size + 1);
    memcpy(q, data, size);
    q[size] = 0;
    struct mg_request_info info = {.query_string = q, .request_method = "GET"};
    api_req req = {.info = &info};
    char *val = NULL;
    int found = api__query(&req, "path", &val);
    if (found > 0) {
        if (!api__utf8_valid(val, strlen(val))) abort();
        api_server srv = {.roots = roots, .nroots = 1};
        api_path p;
        if (api__path_resolve(&srv, val, &p) == UT_OK) {
            if (!ut_path_within(real_root, p.real)) abort();
            api__path_free(&p);
        }
    }
    ut_free(val);
    free(q);
    return 0;
}

/* fuzz_zip.c -- libFuzzer target: arbitrary bytes as an uploaded ZIP.
 *
 * Invariant checked: whatever the archive, extraction either succeeds or
 * fails cleanly, and nothing is ever written outside the target folder
 * (a sibling "outside" folder must stay empty) and no temp dir is left. */
#include "api_int.h"
#include "util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char base[256], target[300], outside[300], zip[300];

static int entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    if (d) closedir(d);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!base[0]) {
        snprintf(base, sizeof base, "/tmp/kadr-fuzz-zip-%d", (int)getpid());
        snprintf(target, sizeof target, "%s/lib/in", base);
        snprintf(outside, sizeof outside, "%s/outside", base);
        snprintf(zip, sizeof zip, "%s/upload.zip", base);
        ut_log_set_level(UT_LOG_ERROR);
    }
    ut_mkdirs(target);
    ut_mkdirs(outside);
    FILE *f = fopen(zip, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    api_zip_limits lim = {.max_bytes = 1 << 20, .max_entries = 100, .max_ratio = 50};
    int n;
    int rc = api__zip_extract(zip, target, &lim, &n);
    if (entries(outside) != 0) abort();
    if (entries(base) != 3) abort(); /* lib, outside, upload.zip: nothing else */
    if (rc && entries(target) != 0) abort(); /* a rejected archive writes nothing */
    api__rmtree(target);
    return 0;
}

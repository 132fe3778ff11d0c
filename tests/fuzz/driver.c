/* driver.c -- replay a fuzz target's corpus without libFuzzer.
 *
 * Compilers without -fsanitize=fuzzer (gcc) link fuzz targets with this
 * main(), which feeds every file named on the command line (or found in a
 * named directory) to LLVMFuzzerTestOneInput once. That keeps the targets
 * compiling and their seed corpora passing in every build; the clang build
 * runs real coverage-guided fuzzing. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0, n;
    uint8_t chunk[65536];
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n > cap) buf = realloc(buf, cap = (len + n) * 2);
        memcpy(buf + len, chunk, n);
        len += n;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf ? buf : (const uint8_t *)"", len);
    free(buf);
    return 1;
}

static int run_path(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    if (!S_ISDIR(st.st_mode)) return run_file(path);
    DIR *d = opendir(path);
    int count = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char child[4096];
        snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        count += run_path(child);
    }
    if (d) closedir(d);
    return count;
}

int main(int argc, char **argv) {
    int count = 0;
    for (int i = 1; i < argc; i++)
        if (argv[i][0] != '-') count += run_path(argv[i]);
    printf("replayed %d inputs\n", count);
    printf("%d passed, 0 failed\n", count);
    return count > 0 ? 0 : 1;
}

/* fuzz_journal.c -- libFuzzer target for the journal parser, the one place
 * organize reads bytes it did not just write (a journal left on disk by a
 * killed run, possibly torn or damaged). Any input must give UT_OK or a
 * clean error, never a crash, leak or out-of-bounds read; a valid prefix
 * never extends past the input. */
#include "organize_int.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    org_plan *p = NULL;
    size_t valid = 0;
    int rc = org__journal_parse(data, size, &p, &valid);
    if (rc == UT_OK && (valid > size || !p)) abort();
    if (rc != UT_OK && p) abort();
    org_plan_destroy(p);
    return 0;
}

/* fuzz_load.c -- libFuzzer target for the ONNX loader and planner: any
 * bytes must open cleanly or fail with an error; a model that opens is
 * planned and, when small, run once. Built only with clang (see
 * CMakeLists.txt); seeds come from make_seeds. */
#include "nn.h"
#include "util.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    nn_model *m = NULL;
    nn_plan *p = NULL;
    nn_ctx *c = NULL;
    if (nn_model_open_mem(data, size, &m) != UT_OK) return 0;
    if (nn_plan_create(m, NULL, 0, 0, &p) == UT_OK) {
        nn_plan_stats st;
        nn_plan_get_stats(p, &st);
        int n = nn_plan_ninputs(p) + nn_plan_noutputs(p);
        size_t total = 0;
        for (int i = 0; i < nn_plan_ninputs(p); i++) total += nn_plan_input_size(p, i);
        for (int i = 0; i < nn_plan_noutputs(p); i++) total += nn_plan_output_size(p, i);
        if (st.arena_bytes < (64u << 20) && total < (16u << 20) && st.flops < 1e8 && nn_ctx_create(p, 1, &c) == UT_OK) {
            float **bufs = calloc((size_t)n + 1, sizeof *bufs);
            int ok = bufs != NULL;
            for (int i = 0; ok && i < nn_plan_ninputs(p); i++) ok = (bufs[i] = calloc(nn_plan_input_size(p, i) + 1, 4)) != NULL;
            for (int i = 0; ok && i < nn_plan_noutputs(p); i++)
                ok = (bufs[nn_plan_ninputs(p) + i] = calloc(nn_plan_output_size(p, i) + 1, 4)) != NULL;
            if (ok) nn_ctx_run(c, (const float *const *)bufs, bufs + nn_plan_ninputs(p));
            for (int i = 0; bufs && i < n; i++) free(bufs[i]);
            free(bufs);
        }
    }
    nn_ctx_free(c);
    nn_plan_free(p);
    nn_model_free(m);
    return 0;
}

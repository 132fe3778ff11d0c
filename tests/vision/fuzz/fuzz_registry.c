/* Fuzz the model registry parser: any bytes give OK or a clean error. */
#include "util.h"
#include "vision.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vis_registry *reg;
    if (vis_registry_parse((const char *)data, size, &reg) == UT_OK) {
        for (size_t i = 0; i < vis_registry_count(reg); i++) (void)vis_registry_find(reg, vis_registry_at(reg, i)->name);
        vis_registry_free(reg);
    }
    return 0;
}

/* ops.c -- the op table: every ONNX op type the engine implements. An op
 * missing here makes nn_model_open fail with the op and node named. */
#include "nn_int.h"

#include <string.h>

#define OPS(X)                                                                                        \
    X(conv) X(gemm) X(matmul) X(bn) X(add) X(sub) X(mul) X(div) X(prelu) X(pow) X(relu) X(sigmoid)   \
    X(exp) X(tanh) X(clip) X(leaky) X(neg) X(sqrt) X(abs) X(erf) X(hsigmoid) X(hswish) X(shape)       \
    X(reshape) X(flatten) X(squeeze) X(unsqueeze) X(identity) X(dropout) X(concat) X(gather)          \
    X(transpose) X(slice) X(cast) X(constant) X(constant_of_shape) X(maxpool) X(avgpool) X(gap)       \
    X(gmp) X(softmax) X(resize) X(upsample)

#define DECL(sym) extern const nn__opdef nn__op_##sym;
OPS(DECL)
#undef DECL

static const nn__opdef *const table[] = {
#define REF(sym) &nn__op_##sym,
    OPS(REF)
#undef REF
};

const nn__opdef *nn__op_find(const char *name) {
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        if (!strcmp(table[i]->name, name)) return table[i];
    return NULL;
}

int nn_op_supported(const char *op_type) { return op_type && nn__op_find(op_type) != NULL; }

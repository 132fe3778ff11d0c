/* make_seeds.c -- write a small seed corpus of valid ONNX models (conv,
 * BN, activations, shape arithmetic, resize, pooling) for fuzz_load, so
 * the fuzzer starts from real protobuf structure. Usage: make_seeds DIR */
#include "../../../tests/nn/onnxw.h"

#include <stdio.h>

static void save(const char *dir, const char *name, mb *m) {
    uint8_t *b;
    size_t n = mb_finish(m, &b);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.onnx", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) fwrite(b, 1, n, f), fclose(f);
    free(b);
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    float w[54], one[6] = {1, 1, 1, 1, 1, 1}, zero[6] = {0};
    for (int i = 0; i < 54; i++) w[i] = (float)(i % 5) - 2;
    int64_t xd[4] = {1, 2, 5, 5}, wd[4] = {3, 2, 3, 3}, cd[1] = {3}, dyn[4] = {-1, 2, -1, -1};
    int64_t pads[4] = {1, 1, 1, 1}, k2[2] = {2, 2}, zero_i[1] = {0}, minus1[1] = {-1};
    mb m = {0};
    pb a = {0};
    mb_input(&m, "x", 4, xd);
    mb_init(&m, "w", 4, wd, w), mb_init(&m, "s", 1, cd, one), mb_init(&m, "b", 1, cd, zero);
    attr_ints(&a, "pads", 4, pads);
    mb_node(&m, "Conv", "c", "x,w,b", "c", &a);
    mb_node(&m, "BatchNormalization", "bn", "c,s,b,b,s", "n", NULL);
    mb_node(&m, "Relu", "r", "n", "r", NULL);
    attr_ints(&a, "kernel_shape", 2, k2), attr_ints(&a, "strides", 2, k2);
    mb_node(&m, "MaxPool", "p", "r", "y", &a);
    mb_output(&m, "y");
    save(argv[1], "conv_bn_relu_pool", &m);
    mb d = {0};
    mb_input(&d, "x", 4, dyn);
    mb_node(&d, "Shape", "sh", "x", "s", NULL);
    mb_init_i64(&d, "i0", 1, zero_i), mb_init_i64(&d, "m1", 1, minus1);
    mb_node(&d, "Gather", "g", "s,i0", "n", NULL);
    attr_int(&a, "axis", 0);
    mb_node(&d, "Concat", "cat", "n,m1", "t", &a);
    mb_node(&d, "Reshape", "rs", "x,t", "f", NULL);
    attr_int(&a, "axis", 1);
    mb_node(&d, "Softmax", "sm", "f", "y", &a);
    mb_output(&d, "y");
    save(argv[1], "dynamic_reshape_softmax", &d);
    mb r = {.opset = 11};
    float sc[4] = {1, 1, 2, 2};
    int64_t s4[1] = {4};
    mb_input(&r, "x", 4, xd);
    mb_init(&r, "sc", 1, s4, sc);
    attr_str(&a, "mode", "nearest");
    mb_node(&r, "Resize", "up", "x,,sc", "u", &a);
    int64_t perm[4] = {0, 2, 3, 1};
    attr_ints(&a, "perm", 4, perm);
    mb_node(&r, "Transpose", "t", "u", "y", &a);
    mb_output(&r, "y");
    save(argv[1], "resize_transpose", &r);
    return 0;
}

/* onnxw.h -- a minimal ONNX (protobuf) writer for the nn tests: builds
 * one-op and few-op models in memory so each kernel can be run through
 * the whole engine (loader, planner, fusion, arena) and checked against a
 * naive reference. Field numbers are those of onnx.proto. */
#ifndef KADR_TEST_ONNXW_H
#define KADR_TEST_ONNXW_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t *p;
    size_t n, cap;
} pb;

static inline void pb_raw(pb *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static inline void pb_varint(pb *b, uint64_t v) {
    do {
        uint8_t c = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) c |= 0x80;
        pb_raw(b, &c, 1);
    } while (v);
}
static inline void pb_key(pb *b, int field, int wt) { pb_varint(b, (uint64_t)field << 3 | (uint64_t)wt); }
static inline void pb_int(pb *b, int field, int64_t v) { pb_key(b, field, 0), pb_varint(b, (uint64_t)v); }
static inline void pb_bytes(pb *b, int field, const void *d, size_t n) { pb_key(b, field, 2), pb_varint(b, n), pb_raw(b, d, n); }
static inline void pb_str(pb *b, int field, const char *s) { pb_bytes(b, field, s, strlen(s)); }
static inline void pb_f32(pb *b, int field, float f) { pb_key(b, field, 5), pb_raw(b, &f, 4); }
static inline void pb_msg(pb *b, int field, pb *sub) {
    pb_bytes(b, field, sub->p, sub->n);
    free(sub->p);
    memset(sub, 0, sizeof *sub);
}

/* ---- attributes (AttributeProto inside a node's attribute list) ---- */
static inline void attr_int(pb *attrs, const char *name, int64_t v) {
    pb a = {0};
    pb_str(&a, 1, name), pb_int(&a, 3, v), pb_int(&a, 20, 2);
    pb_msg(attrs, 5, &a);
}
static inline void attr_float(pb *attrs, const char *name, float v) {
    pb a = {0};
    pb_str(&a, 1, name), pb_f32(&a, 2, v), pb_int(&a, 20, 1);
    pb_msg(attrs, 5, &a);
}
static inline void attr_str(pb *attrs, const char *name, const char *v) {
    pb a = {0};
    pb_str(&a, 1, name), pb_str(&a, 4, v), pb_int(&a, 20, 3);
    pb_msg(attrs, 5, &a);
}
static inline void attr_ints(pb *attrs, const char *name, int n, const int64_t *v) {
    pb a = {0};
    pb_str(&a, 1, name);
    for (int i = 0; i < n; i++) pb_int(&a, 8, v[i]);
    pb_int(&a, 20, 7);
    pb_msg(attrs, 5, &a);
}

/* ---- models ---- */
typedef struct {
    pb graph;
    int opset;
} mb;

/* A tensor value info; dims < 0 become the symbolic dim "N". */
static inline void mb_value(mb *m, int field, const char *name, int rank, const int64_t *dims) {
    pb shape = {0}, tt = {0}, type = {0}, vi = {0};
    for (int i = 0; i < rank; i++) {
        pb d = {0};
        if (dims[i] >= 0) pb_int(&d, 1, dims[i]);
        else pb_str(&d, 2, "N");
        pb_msg(&shape, 1, &d);
    }
    pb_int(&tt, 1, 1);
    pb_msg(&tt, 2, &shape);
    pb_msg(&type, 1, &tt);
    pb_str(&vi, 1, name);
    pb_msg(&vi, 2, &type);
    pb_msg(&m->graph, field, &vi);
}
static inline void mb_input(mb *m, const char *name, int rank, const int64_t *dims) { mb_value(m, 11, name, rank, dims); }
static inline void mb_output(mb *m, const char *name) {
    pb vi = {0}, type = {0}, tt = {0};
    pb_int(&tt, 1, 1);
    pb_msg(&type, 1, &tt);
    pb_str(&vi, 1, name);
    pb_msg(&vi, 2, &type);
    pb_msg(&m->graph, 12, &vi);
}
/* An initializer: data_type 1 (float, raw_data), 7 (int64, raw), 10 (fp16 bits, raw). */
static inline void mb_init_raw(mb *m, const char *name, int dtype, int rank, const int64_t *dims, const void *data, size_t bytes) {
    pb t = {0};
    for (int i = 0; i < rank; i++) pb_int(&t, 1, dims[i]);
    pb_int(&t, 2, dtype);
    pb_str(&t, 8, name);
    pb_bytes(&t, 9, data, bytes);
    pb_msg(&m->graph, 5, &t);
}
static inline void mb_init(mb *m, const char *name, int rank, const int64_t *dims, const float *data) {
    size_t n = 1;
    for (int i = 0; i < rank; i++) n *= (size_t)dims[i];
    mb_init_raw(m, name, 1, rank, dims, data, n * 4);
}
static inline void mb_init_i64(mb *m, const char *name, int n, const int64_t *v) {
    int64_t d = n;
    mb_init_raw(m, name, 7, 1, &d, v, (size_t)n * 8);
}
/* ins/outs: comma-separated names ("x,,w" leaves an optional input empty). */
static inline void mb_node(mb *m, const char *op, const char *name, const char *ins, const char *outs, pb *attrs) {
    pb n = {0};
    for (int pass = 0; pass < 2; pass++) {
        const char *s = pass ? outs : ins;
        while (s && *s) {
            const char *e = strchr(s, ',');
            size_t len = e ? (size_t)(e - s) : strlen(s);
            pb_bytes(&n, pass ? 2 : 1, s, len);
            s = e ? e + 1 : NULL;
        }
    }
    pb_str(&n, 3, name);
    pb_str(&n, 4, op);
    if (attrs && attrs->n) pb_raw(&n, attrs->p, attrs->n);
    if (attrs) free(attrs->p), memset(attrs, 0, sizeof *attrs);
    pb_msg(&m->graph, 1, &n);
}
/* The model's bytes (caller frees *out). */
static inline size_t mb_finish(mb *m, uint8_t **out) {
    pb model = {0}, op = {0};
    pb_int(&model, 1, 8);
    pb_int(&op, 2, m->opset ? m->opset : 13);
    pb_msg(&model, 8, &op);
    pb_msg(&model, 7, &m->graph);
    *out = model.p;
    return model.n;
}

#endif

/* load.c -- ONNX protobuf bytes to the graph IR (nn_model).
 *
 * protobuf-c code for onnx.proto is generated at build time from Debian's
 * libonnx-dev; this file is the only one that sees it. Everything that can
 * be wrong with a file is found here, so a model that opens can be planned
 * and run: wrong sizes of initializer data, names used before they are
 * produced (ONNX requires nodes in topological order), external data, and
 * ops the engine does not implement (error names op type and node).
 *
 * Invariant after a successful load: every node input index is -1 or a
 * tensor defined by an initializer, a graph input or an earlier node. */
#include "nn_int.h"
#include "onnx.pb-c.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* protobuf-c allocates through util so allocation-failure tests reach it.
 * No single allocation of a correct parse exceeds a small multiple of the
 * input (each repeated element costs at least one input byte and at most 8
 * bytes of array); a larger request comes from a corrupt count and fails
 * the parse instead of reaching malloc. data points at that limit. */
static void *pb_alloc(void *data, size_t size) {
    if (data && size > *(const size_t *)data) return NULL;
    return ut_malloc(size);
}
static void pb_free(void *data, void *p) { (void)data; ut_free(p); }

static ProtobufCAllocator bounded_allocator(size_t len, size_t *limit) {
    *limit = 16 * len + 4096;
    return (ProtobufCAllocator){pb_alloc, pb_free, limit};
}

/* Name -> tensor index, open addressing; rebuilt when it fills. */
typedef struct {
    size_t cap;
    int *slot;       /* tensor index + 1, 0 empty */
    nn__graph *g;
} name_map;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    while (*s) h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return h;
}

static int map_find(const name_map *m, const char *name) {
    for (size_t i = hash_str(name) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->slot[i]) return -1;
        if (!strcmp(m->g->tensors[m->slot[i] - 1].name, name)) return m->slot[i] - 1;
    }
}

static void map_put(name_map *m, int idx) {
    size_t i = hash_str(m->g->tensors[idx].name) & (m->cap - 1);
    while (m->slot[i]) i = (i + 1) & (m->cap - 1);
    m->slot[i] = idx + 1;
}

static int map_init(name_map *m, nn__graph *g, size_t n) {
    m->cap = 16;
    while (m->cap < 2 * n + 16) m->cap <<= 1;
    m->g = g;
    m->slot = ut_calloc(m->cap, sizeof *m->slot);
    return m->slot ? UT_OK : ut_fail(UT_ENOMEM, "out of memory");
}

/* A new named tensor; fails if the name is taken (SSA form). */
static int new_tensor(nn__graph *g, name_map *m, const char *name, int *idx) {
    if (map_find(m, name) >= 0) return ut_fail(UT_EFORMAT, "tensor '%s' is defined twice", name);
    nn__tensor *t;
    if (nn__graph_add_tensor(g, &t)) return UT_ENOMEM;
    if (!(t->name = ut_strdup(name))) return ut_fail(UT_ENOMEM, "out of memory");
    *idx = g->ntensors - 1;
    map_put(m, *idx);
    return UT_OK;
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        float f = ldexpf((float)man, -24);
        return sign ? -f : f;
    }
    if (exp == 31) bits = sign | 0x7f800000u | (man << 13);
    else bits = sign | ((exp + 112) << 23) | (man << 13);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static size_t elem_bytes_onnx(int dt) {
    switch (dt) {
    case 1: case 6: return 4;           /* float, int32 */
    case 2: case 3: case 9: return 1;   /* uint8, int8, bool */
    case 4: case 5: case 10: return 2;  /* uint16, int16, float16 */
    case 7: case 11: return 8;          /* int64, double */
    default: return 0;
    }
}

/* Element k of a raw little-endian buffer of ONNX type dt, as double. */
static double raw_elem(const uint8_t *p, int dt, size_t k) {
    switch (dt) {
    case 1: { float v; memcpy(&v, p + 4 * k, 4); return v; }
    case 2: return p[k];
    case 3: return (int8_t)p[k];
    case 4: { uint16_t v; memcpy(&v, p + 2 * k, 2); return v; }
    case 5: { int16_t v; memcpy(&v, p + 2 * k, 2); return v; }
    case 6: { int32_t v; memcpy(&v, p + 4 * k, 4); return v; }
    case 7: { int64_t v; memcpy(&v, p + 8 * k, 8); return (double)v; }
    case 9: return p[k] != 0;
    case 10: { uint16_t v; memcpy(&v, p + 2 * k, 2); return half_to_float(v); }
    case 11: { double v; memcpy(&v, p + 8 * k, 8); return v; }
    default: return 0;
    }
}

/* Convert a TensorProto's data into t (dtype F32 or I64, owned data). */
static int tensor_data(const Onnx__TensorProto *tp, nn__tensor *t, size_t *bytes) {
    int dt = tp->data_type;
    if (tp->n_dims > NN_MAX_RANK) return ut_fail(UT_EUNSUPPORTED, "tensor '%s' has rank %zu (max %d)", t->name, tp->n_dims, NN_MAX_RANK);
    size_t n = 1;
    t->shape.rank = (int)tp->n_dims;
    for (size_t i = 0; i < tp->n_dims; i++) {
        if (tp->dims[i] < 0 || (tp->dims[i] > 0 && n > ((size_t)1 << 40) / (size_t)tp->dims[i]))
            return ut_fail(UT_EFORMAT, "tensor '%s' has a bad dimension %lld", t->name, (long long)tp->dims[i]);
        t->shape.d[i] = tp->dims[i];
        n *= (size_t)tp->dims[i];
    }
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return ut_fail(UT_EUNSUPPORTED, "tensor '%s' keeps its data in an external file (not supported)", t->name);
    size_t esz = elem_bytes_onnx(dt);
    if (!esz) return ut_fail(UT_EUNSUPPORTED, "tensor '%s' has data type %d (not supported)", t->name, dt);
    int is_float = dt == 1 || dt == 10 || dt == 11;
    t->dtype = is_float ? NN_F32 : NN_I64;
    size_t out_sz = nn__dtype_size(t->dtype);
    /* the data must be there before its size is trusted for an allocation */
    size_t have = dt == 1 ? tp->n_float_data : dt == 7 ? tp->n_int64_data : dt == 11 ? tp->n_double_data : tp->n_int32_data;
    if (tp->has_raw_data && tp->raw_data.len != n * esz)
        return ut_fail(UT_EFORMAT, "tensor '%s' has %zu bytes of data, its shape needs %zu", t->name, tp->raw_data.len, n * esz);
    if (!tp->has_raw_data && have != n)
        return ut_fail(UT_EFORMAT, "tensor '%s' has %zu values, its shape needs %zu", t->name, have, n);
    t->data = ut_malloc(n ? n * out_sz : 1);
    if (!t->data) return ut_fail(UT_ENOMEM, "out of memory");
    t->owns_data = 1;
    *bytes += n * out_sz;
    float *f = t->data;
    int64_t *q = t->data;
    if (tp->has_raw_data) {
        const uint8_t *p = tp->raw_data.data;
        if (dt == 1) memcpy(f, p, n * 4);
        else if (dt == 7) memcpy(q, p, n * 8);
        else for (size_t k = 0; k < n; k++) {
            double v = raw_elem(p, dt, k);
            if (is_float) f[k] = (float)v; else q[k] = (int64_t)v;
        }
        return UT_OK;
    }
    /* Typed fields: float_data, int32_data (also int8/16, bool, fp16 bits), int64_data, double_data. */
    for (size_t k = 0; k < n; k++) {
        if (dt == 1) f[k] = tp->float_data[k];
        else if (dt == 7) q[k] = tp->int64_data[k];
        else if (dt == 11) f[k] = (float)tp->double_data[k];
        else if (dt == 10) f[k] = half_to_float((uint16_t)tp->int32_data[k]);
        else q[k] = tp->int32_data[k];
    }
    return UT_OK;
}

static int value_info_shape(const Onnx__ValueInfoProto *vi, nn__tensor *t) {
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return ut_fail(UT_EUNSUPPORTED, "graph value '%s' is not a tensor", vi->name);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    t->dtype = tt->elem_type;
    t->shape.rank = -1;  /* unknown rank */
    if (!tt->shape) return UT_OK;
    if (tt->shape->n_dim > NN_MAX_RANK) return ut_fail(UT_EUNSUPPORTED, "'%s' has rank %zu", vi->name, tt->shape->n_dim);
    t->shape.rank = (int)tt->shape->n_dim;
    t->dim_names = ut_calloc(tt->shape->n_dim + 1, sizeof *t->dim_names);
    if (!t->dim_names) return ut_fail(UT_ENOMEM, "out of memory");
    for (size_t i = 0; i < tt->shape->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        t->shape.d[i] = -1;
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && d->dim_value > 0)
            t->shape.d[i] = d->dim_value;
        else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && d->dim_param && *d->dim_param &&
                 !(t->dim_names[i] = ut_strdup(d->dim_param)))
            return ut_fail(UT_ENOMEM, "out of memory");
    }
    return UT_OK;
}

static int add_attr_tensor(nn_model *m, const Onnx__TensorProto *tp, const char *owner, int *idx) {
    nn__tensor *ts = ut_realloc(m->g.attr_tensors, (size_t)(m->g.nattr_tensors + 1) * sizeof *ts);
    if (!ts) return ut_fail(UT_ENOMEM, "out of memory");
    m->g.attr_tensors = ts;
    nn__tensor *t = &ts[m->g.nattr_tensors];
    memset(t, 0, sizeof *t);
    t->producer = -1;
    *idx = m->g.nattr_tensors++;
    if (!(t->name = ut_strdup(owner))) return ut_fail(UT_ENOMEM, "out of memory");
    size_t bytes = 0;
    return tensor_data(tp, t, &bytes);
}

static int load_attrs(nn_model *m, const Onnx__NodeProto *np, nn__node *n) {
    n->attrs = ut_calloc(np->n_attribute + 1, sizeof *n->attrs);
    if (!n->attrs) return ut_fail(UT_ENOMEM, "out of memory");
    for (size_t i = 0; i < np->n_attribute; i++, n->nattr++) {
        const Onnx__AttributeProto *ap = np->attribute[i];
        nn__attr *a = &n->attrs[i];
        if (!(a->name = ut_strdup(ap->name ? ap->name : ""))) return ut_fail(UT_ENOMEM, "out of memory");
        a->type = ap->type;
        a->f = ap->f;
        a->i = ap->i;
        a->tensor = -1;
        if (ap->has_s && !(a->s = ut_strndup((const char *)ap->s.data, ap->s.len))) return ut_fail(UT_ENOMEM, "out of memory");
        if (ap->n_floats) {
            if (!(a->floats = ut_malloc(ap->n_floats * sizeof *a->floats))) return ut_fail(UT_ENOMEM, "out of memory");
            memcpy(a->floats, ap->floats, ap->n_floats * sizeof *a->floats);
            a->n = (int)ap->n_floats;
        }
        if (ap->n_ints) {
            if (!(a->ints = ut_malloc(ap->n_ints * sizeof *a->ints))) return ut_fail(UT_ENOMEM, "out of memory");
            memcpy(a->ints, ap->ints, ap->n_ints * sizeof *a->ints);
            a->n = (int)ap->n_ints;
        }
        if (ap->t && add_attr_tensor(m, ap->t, a->name, &a->tensor)) return UT_EFORMAT;
    }
    return UT_OK;
}

static int load_node(nn_model *m, name_map *map, const Onnx__NodeProto *np, int idx) {
    nn__graph *g = &m->g;
    nn__node *n = &g->nodes[idx];
    const char *nm = np->name && *np->name ? np->name : "";
    n->name = *nm ? ut_strdup(nm) : ut_asprintf("#%d", idx);
    n->op_type = ut_strdup(np->op_type ? np->op_type : "");
    if (!n->name || !n->op_type) return ut_fail(UT_ENOMEM, "out of memory");
    if (np->domain && *np->domain && strcmp(np->domain, "ai.onnx"))
        return ut_fail(UT_EUNSUPPORTED, "node '%s': op '%s' of domain '%s' is not supported", n->name, n->op_type, np->domain);
    n->op = nn__op_find(n->op_type);
    if (!n->op) return ut_fail(UT_EUNSUPPORTED, "node '%s': op '%s' is not supported", n->name, n->op_type);
    if ((int)np->n_input < n->op->min_in || (int)np->n_input > n->op->max_in || (int)np->n_output < 1)
        return ut_fail(UT_EFORMAT, "node '%s' (%s): %zu inputs, %zu outputs", n->name, n->op_type, np->n_input, np->n_output);
    n->in = ut_calloc(np->n_input + 1, sizeof *n->in);
    n->out = ut_calloc(np->n_output, sizeof *n->out);
    if (!n->in || !n->out) return ut_fail(UT_ENOMEM, "out of memory");
    n->nin = (int)np->n_input;
    for (size_t i = 0; i < np->n_input; i++) {
        const char *in = np->input[i];
        n->in[i] = -1;
        if (!in || !*in) continue;
        if ((n->in[i] = map_find(map, in)) < 0)
            return ut_fail(UT_EFORMAT, "node '%s' (%s): input '%s' is not produced by any earlier node", n->name, n->op_type, in);
    }
    for (size_t i = 0; i < np->n_output; i++, n->nout++) {
        n->out[i] = -1;
        if (!np->output[i] || !*np->output[i]) continue;
        if (new_tensor(g, map, np->output[i], &n->out[i])) return UT_EFORMAT;
        g->tensors[n->out[i]].producer = idx;
    }
    return load_attrs(m, np, n);
}

static int load_graph(nn_model *m, const Onnx__ModelProto *mp) {
    const Onnx__GraphProto *gp = mp->graph;
    nn__graph *g = &m->g;
    if (!gp) return ut_fail(UT_EFORMAT, "the file has no graph");
    g->opset = 1;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        if ((!o->domain || !*o->domain || !strcmp(o->domain, "ai.onnx")) && o->has_version) g->opset = (int)o->version;
    }
    name_map map;
    if (map_init(&map, g, gp->n_initializer + gp->n_input + 4 * gp->n_node)) return UT_ENOMEM;
    int rc = UT_OK;
    for (size_t i = 0; i < gp->n_initializer && !rc; i++) {
        int idx;
        const Onnx__TensorProto *tp = gp->initializer[i];
        if (!(rc = new_tensor(g, &map, tp->name ? tp->name : "", &idx)))
            rc = tensor_data(tp, &g->tensors[idx], &m->weight_bytes);
    }
    g->inputs = ut_calloc(gp->n_input + 1, sizeof *g->inputs);
    g->outputs = ut_calloc(gp->n_output + 1, sizeof *g->outputs);
    g->nodes = ut_calloc(gp->n_node + 1, sizeof *g->nodes);
    if (!rc && (!g->inputs || !g->outputs || !g->nodes)) rc = ut_fail(UT_ENOMEM, "out of memory");
    for (size_t i = 0; i < gp->n_input && !rc; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        if (!vi->name || map_find(&map, vi->name) >= 0) continue;  /* initializer listed as input */
        int idx;
        if (!(rc = new_tensor(g, &map, vi->name, &idx)) && !(rc = value_info_shape(vi, &g->tensors[idx]))) {
            int dt = g->tensors[idx].dtype;
            if (dt != NN_F32)
                rc = ut_fail(UT_EUNSUPPORTED, "input '%s' has element type %d (only float32 inputs are supported)", vi->name, dt);
            else if (g->tensors[idx].shape.rank < 0)
                rc = ut_fail(UT_EUNSUPPORTED, "input '%s' has no declared rank", vi->name);
            g->inputs[g->ninputs++] = idx;
        }
    }
    for (size_t i = 0; i < gp->n_node && !rc; i++, g->nnodes++) rc = load_node(m, &map, gp->node[i], (int)i);
    for (size_t i = 0; i < gp->n_output && !rc; i++) {
        const Onnx__ValueInfoProto *vi = gp->output[i];
        int idx = vi->name ? map_find(&map, vi->name) : -1;
        if (idx < 0) rc = ut_fail(UT_EFORMAT, "graph output '%s' is not produced by any node", vi->name ? vi->name : "");
        else if (!g->tensors[idx].dim_names) {
            nn__dims inferred = g->tensors[idx].shape;
            int dt = g->tensors[idx].dtype;
            rc = value_info_shape(vi, &g->tensors[idx]);
            if (g->tensors[idx].producer < 0) { g->tensors[idx].shape = inferred; g->tensors[idx].dtype = dt; }
        }
        if (!rc) g->outputs[g->noutputs++] = idx;
    }
    if (!rc && !g->noutputs) rc = ut_fail(UT_EFORMAT, "the graph has no outputs");
    ut_free(map.slot);
    return rc;
}

int nn_model_open_mem(const void *data, size_t len, nn_model **out) {
    *out = NULL;
    if (!data && len) return ut_fail(UT_EINVAL, "no data");
    size_t limit;
    ProtobufCAllocator alloc = bounded_allocator(len, &limit);
    Onnx__ModelProto *mp = onnx__model_proto__unpack(&alloc, len, data);
    if (!mp) return ut_fail(UT_EFORMAT, "not a valid ONNX model (protobuf parse failed: truncated or corrupt)");
    nn_model *m = ut_calloc(1, sizeof *m);
    int rc = m ? load_graph(m, mp) : ut_fail(UT_ENOMEM, "out of memory");
    onnx__model_proto__free_unpacked(mp, &alloc);
    if (rc) {
        nn_model_free(m);
        return rc;
    }
    *out = m;
    return UT_OK;
}

int nn_model_open(const char *path, nn_model **out) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return ut_fail(ut_from_errno(errno), "cannot open %s: %s", path, strerror(errno));
    ut_buf b = {0};
    char chunk[1 << 16];
    size_t n;
    int rc = UT_OK;
    while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0) rc = ut_buf_append(&b, chunk, n);
    if (!rc && ferror(f)) rc = ut_fail(UT_EIO, "reading %s failed", path);
    fclose(f);
    if (rc == UT_ENOMEM) ut_fail(rc, "out of memory reading %s", path);
    if (!rc && (rc = nn_model_open_mem(b.data, b.len, out))) ut_failf_wrap(rc, "%s", path);
    ut_buf_free(&b);
    return rc;
}

void nn_model_free(nn_model *m) {
    if (!m) return;
    for (int i = 0; i < m->g.nnodes + (m->g.nodes && m->g.nodes[m->g.nnodes].name ? 1 : 0); i++) {
        nn__node *n = &m->g.nodes[i];
        for (int a = 0; a < n->nattr + (n->attrs && n->attrs[n->nattr].name ? 1 : 0); a++) {
            ut_free(n->attrs[a].name);
            ut_free(n->attrs[a].s);
            ut_free(n->attrs[a].floats);
            ut_free(n->attrs[a].ints);
        }
        ut_free(n->attrs);
        ut_free(n->name);
        ut_free(n->op_type);
    }
    for (int i = 0; i < m->g.nattr_tensors; i++) {
        ut_free(m->g.attr_tensors[i].name);
        ut_free(m->g.attr_tensors[i].data);
    }
    ut_free(m->g.attr_tensors);
    nn__graph_free(&m->g, 1);
    ut_free(m);
}

int nn_tensor_decode(const void *data, size_t len, nn_info *info, float **values) {
    *values = NULL;
    memset(info, 0, sizeof *info);
    size_t limit;
    ProtobufCAllocator alloc = bounded_allocator(len, &limit);
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(&alloc, len, data);
    if (!tp) return ut_fail(UT_EFORMAT, "not a valid TensorProto");
    nn__tensor t = {.name = tp->name ? tp->name : ""};
    size_t bytes = 0;
    int rc = tensor_data(tp, &t, &bytes);
    size_t n = rc ? 0 : nn__numel(&t.shape);
    float *f = rc ? NULL : ut_malloc(n * sizeof *f + 1);
    if (!rc && !f) rc = ut_fail(UT_ENOMEM, "out of memory");
    if (!rc) {
        for (size_t i = 0; i < n; i++) f[i] = t.dtype == NN_F32 ? ((float *)t.data)[i] : (float)((int64_t *)t.data)[i];
        info->name = NULL;  /* the proto is freed below */
        info->dtype = tp->data_type;
        info->rank = t.shape.rank;
        memcpy(info->dims, t.shape.d, sizeof info->dims);
        *values = f;
    }
    ut_free(t.data);
    onnx__tensor_proto__free_unpacked(tp, &alloc);
    return rc;
}

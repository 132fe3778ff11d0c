/* graph.c -- small helpers over the IR: attributes, shapes, broadcasting,
 * and the model's read-only queries. */
#include "nn_int.h"

#include <stdio.h>
#include <string.h>

size_t nn__numel(const nn__dims *d) {
    size_t n = 1;
    for (int i = 0; i < d->rank; i++) n *= (size_t)(d->d[i] > 0 ? d->d[i] : 0);
    return n;
}

size_t nn__dtype_size(int dtype) { return dtype == NN_I64 ? 8 : 4; }

const nn__attr *nn__attr_get(const nn__node *n, const char *name) {
    for (int i = 0; i < n->nattr; i++)
        if (!strcmp(n->attrs[i].name, name)) return &n->attrs[i];
    return NULL;
}

int64_t nn__attr_int(const nn__node *n, const char *name, int64_t dflt) {
    const nn__attr *a = nn__attr_get(n, name);
    return a ? a->i : dflt;
}

float nn__attr_float(const nn__node *n, const char *name, float dflt) {
    const nn__attr *a = nn__attr_get(n, name);
    return a ? a->f : dflt;
}

const char *nn__attr_str(const nn__node *n, const char *name, const char *dflt) {
    const nn__attr *a = nn__attr_get(n, name);
    return a && a->s ? a->s : dflt;
}

int nn__attr_ints(const nn__node *n, const char *name, int64_t *out, int max) {
    const nn__attr *a = nn__attr_get(n, name);
    if (!a || a->n > max) return -1;
    for (int i = 0; i < a->n; i++) out[i] = a->ints ? a->ints[i] : 0;
    return a->n;
}

nn__tensor *nn__in(nn__graph *g, const nn__node *n, int i) {
    return i < n->nin && n->in[i] >= 0 ? &g->tensors[n->in[i]] : NULL;
}

nn__tensor *nn__out(nn__graph *g, const nn__node *n, int i) {
    return i < n->nout && n->out[i] >= 0 ? &g->tensors[n->out[i]] : NULL;
}

int nn__const_ints(nn__graph *g, const nn__node *n, int i, int64_t *out, int max) {
    const nn__tensor *t = nn__in(g, n, i);
    if (!t || !t->data) return -1;
    size_t k = nn__numel(&t->shape);
    if (k > (size_t)max) return -1;
    for (size_t j = 0; j < k; j++)
        out[j] = t->dtype == NN_I64 ? ((const int64_t *)t->data)[j] : (int64_t)((const float *)t->data)[j];
    return (int)k;
}

int nn__dims_str(const nn__dims *d, char *buf, size_t len) {
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < d->rank && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, i ? "x%lld" : "%lld", (long long)d->d[i]);
    return (int)o;
}

int nn__broadcast(const nn__dims *a, const nn__dims *b, nn__dims *out) {
    int r = a->rank > b->rank ? a->rank : b->rank;
    out->rank = r;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        int64_t da = ia >= 0 ? a->d[ia] : 1, db = ib >= 0 ? b->d[ib] : 1;
        if (da != db && da != 1 && db != 1) return UT_EINVAL;
        out->d[i] = da == 1 ? db : da;
    }
    return UT_OK;
}

int nn__graph_add_tensor(nn__graph *g, nn__tensor **out) {
    if (g->ntensors == g->cap_tensors) {
        int cap = g->cap_tensors ? 2 * g->cap_tensors : 64;
        nn__tensor *t = ut_realloc(g->tensors, (size_t)cap * sizeof *t);
        if (!t) return ut_fail(UT_ENOMEM, "out of memory");
        g->tensors = t;
        g->cap_tensors = cap;
    }
    nn__tensor *t = &g->tensors[g->ntensors++];
    memset(t, 0, sizeof *t);
    t->producer = -1;
    t->first = t->last = -1;
    *out = t;
    return UT_OK;
}

/* free_shared: the model owns names and attributes; a plan only borrows
 * them and frees only the data it made itself. */
void nn__graph_free(nn__graph *g, int free_shared) {
    for (int i = 0; i < g->ntensors; i++) {
        nn__tensor *t = &g->tensors[i];
        if (t->owns_data) ut_free(t->data);
        if (!free_shared) continue;
        ut_free(t->name);
        if (t->dim_names)
            for (int d = 0; d < NN_MAX_RANK && d < (t->shape.rank > 0 ? t->shape.rank : 0); d++) ut_free(t->dim_names[d]);
        ut_free(t->dim_names);
    }
    int nn = g->nnodes + (g->nodes && g->nodes[g->nnodes].in ? 1 : 0);
    for (int i = 0; g->nodes && i < nn; i++) {
        ut_free(g->nodes[i].in);
        ut_free(g->nodes[i].out);
        ut_free(g->nodes[i].params);
    }
    ut_free(g->tensors);
    ut_free(g->nodes);
    ut_free(g->inputs);
    ut_free(g->outputs);
    memset(g, 0, sizeof *g);
}

/* ---- model queries ---- */

static void fill_info(const nn__tensor *t, nn_info *out) {
    memset(out, 0, sizeof *out);
    out->name = t->name;
    out->dtype = t->dtype;
    out->rank = t->shape.rank < 0 ? 0 : t->shape.rank;
    for (int i = 0; i < out->rank; i++) {
        out->dims[i] = t->shape.d[i];
        out->dim_names[i] = t->dim_names ? t->dim_names[i] : NULL;
    }
}

int nn_model_ninputs(const nn_model *m) { return m->g.ninputs; }
int nn_model_noutputs(const nn_model *m) { return m->g.noutputs; }
int nn_model_nnodes(const nn_model *m) { return m->g.nnodes; }
size_t nn_model_weight_bytes(const nn_model *m) { return m->weight_bytes; }

const char *nn_model_node_op(const nn_model *m, int i) {
    return i >= 0 && i < m->g.nnodes ? m->g.nodes[i].op_type : NULL;
}

int nn_model_input(const nn_model *m, int i, nn_info *out) {
    if (i < 0 || i >= m->g.ninputs) return ut_fail(UT_ERANGE, "input %d out of range", i);
    fill_info(&m->g.tensors[m->g.inputs[i]], out);
    return UT_OK;
}

int nn_model_output(const nn_model *m, int i, nn_info *out) {
    if (i < 0 || i >= m->g.noutputs) return ut_fail(UT_ERANGE, "output %d out of range", i);
    fill_info(&m->g.tensors[m->g.outputs[i]], out);
    return UT_OK;
}

int nn_plan_ninputs(const nn_plan *p) { return p->g.ninputs; }
int nn_plan_noutputs(const nn_plan *p) { return p->g.noutputs; }

int nn_plan_input(const nn_plan *p, int i, nn_info *out) {
    if (i < 0 || i >= p->g.ninputs) return ut_fail(UT_ERANGE, "input %d out of range", i);
    fill_info(&p->g.tensors[p->g.inputs[i]], out);
    return UT_OK;
}

int nn_plan_output(const nn_plan *p, int i, nn_info *out) {
    if (i < 0 || i >= p->g.noutputs) return ut_fail(UT_ERANGE, "output %d out of range", i);
    fill_info(&p->g.tensors[p->g.outputs[i]], out);
    return UT_OK;
}

size_t nn_plan_input_size(const nn_plan *p, int i) {
    return i >= 0 && i < p->g.ninputs ? nn__numel(&p->g.tensors[p->g.inputs[i]].shape) : 0;
}

size_t nn_plan_output_size(const nn_plan *p, int i) {
    return i >= 0 && i < p->g.noutputs ? nn__numel(&p->g.tensors[p->g.outputs[i]].shape) : 0;
}

void nn_plan_get_stats(const nn_plan *p, nn_plan_stats *out) { *out = p->stats; }

/* run.c -- execution contexts: the arena, per-thread scratch, the team.
 *
 * A ctx resolves every tensor of its plan to a pointer once (constants to
 * their shared read-only data, activations into its own arena), so a run
 * is a loop over the plan's nodes with no allocation and no failure. */
#include "nn_int.h"

#include <string.h>

struct nn_ctx {
    const nn_plan *plan;
    void **ptr;
    char *arena_mem, *scratch_mem;
    float *zeros;
    double *node_ms;  /* per plan step, NULL unless profiling */
    nn__exec x;
};

static char *aligned(char *p) { return (char *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }

int nn_ctx_create(const nn_plan *p, int nthreads, nn_ctx **out) {
    *out = NULL;
    if (nthreads <= 0) nthreads = 1;
    nn_ctx *c = ut_calloc(1, sizeof *c);
    if (!c) return ut_fail(UT_ENOMEM, "out of memory");
    c->plan = p;
    const nn__graph *g = &p->g;
    size_t scratch = (p->scratch_bytes + 63) / 64 * 64;
    c->ptr = ut_calloc((size_t)g->ntensors + 1, sizeof *c->ptr);
    c->arena_mem = ut_malloc(p->arena_bytes + 64);
    c->scratch_mem = ut_malloc(scratch * (size_t)nthreads + 64);
    c->zeros = ut_calloc(1, p->zeros_bytes + 64);
    int rc = c->ptr && c->arena_mem && c->scratch_mem && c->zeros ? UT_OK : ut_fail(UT_ENOMEM, "out of memory");
    if (!rc && nthreads > 1) rc = nn__team_create(nthreads - 1, &c->x.team);
    if (rc) {
        nn_ctx_free(c);
        return rc;
    }
    char *arena = aligned(c->arena_mem);
    for (int i = 0; i < g->ntensors; i++) {
        const nn__tensor *t = &g->tensors[i];
        c->ptr[i] = t->data ? t->data : t->first >= 0 ? arena + t->offset : NULL;
    }
    c->x = (nn__exec){.g = g, .ptr = c->ptr, .scratch = aligned(c->scratch_mem), .scratch_stride = scratch,
                      .team = c->x.team, .nthreads = nthreads, .zeros = c->zeros};
    *out = c;
    return UT_OK;
}

void nn_ctx_free(nn_ctx *c) {
    if (!c) return;
    nn__team_free(c->x.team);
    ut_free(c->ptr);
    ut_free(c->arena_mem);
    ut_free(c->scratch_mem);
    ut_free(c->zeros);
    ut_free(c->node_ms);
    ut_free(c);
}

int nn_ctx_run(nn_ctx *c, const float *const *inputs, float *const *outputs) {
    const nn_plan *p = c->plan;
    const nn__graph *g = &p->g;
    for (int i = 0; i < g->ninputs; i++)
        if (c->ptr[g->inputs[i]]) memcpy(c->ptr[g->inputs[i]], inputs[i], nn_plan_input_size(p, i) * sizeof(float));
    for (int s = 0; s < p->norder; s++) {
        const nn__node *n = &g->nodes[p->order[s]];
        double t0 = c->node_ms ? ut_now() : 0;
        n->op->run(&c->x, n);
        if (c->node_ms) c->node_ms[s] += (ut_now() - t0) * 1e3;
    }
    for (int i = 0; i < g->noutputs; i++) memcpy(outputs[i], c->ptr[g->outputs[i]], nn_plan_output_size(p, i) * sizeof(float));
    return UT_OK;
}

/* ---- profiling ---- */

void nn_ctx_set_profiling(nn_ctx *c, int on) {
    ut_free(c->node_ms);
    c->node_ms = on ? ut_calloc((size_t)c->plan->norder + 1, sizeof *c->node_ms) : NULL;
}

int nn_ctx_profile(const nn_ctx *c, nn_op_time *out, int max) {
    const nn_plan *p = c->plan;
    int n = 0;
    for (int s = 0; c->node_ms && s < p->norder; s++) {
        const nn__node *nd = &p->g.nodes[p->order[s]];
        const char *name = nd->label ? nd->label : nd->op_type;
        int k = 0;
        while (k < n && strcmp(out[k].op, name)) k++;
        if (k == n) {
            if (n == max) continue;
            out[n++] = (nn_op_time){name, 0, 0, 0};
        }
        out[k].nodes++;
        out[k].ms += c->node_ms[s];
        out[k].flops += nd->flops;
    }
    for (int i = 1; i < n; i++)  /* slowest first */
        for (int k = i; k > 0 && out[k].ms > out[k - 1].ms; k--) {
            nn_op_time t = out[k];
            out[k] = out[k - 1], out[k - 1] = t;
        }
    return n;
}

/* ---- parallel loops ---- */

typedef struct {
    nn__range_fn fn;
    void *ctx;
    size_t n, chunks;
} par_job;

/* Chunk boundaries depend only on n and the chunk count, never on which
 * thread runs a chunk, so results do not depend on scheduling. */
static void par_chunk(void *arg, unsigned chunk, int slot) {
    const par_job *j = arg;
    size_t lo = j->n * chunk / j->chunks, hi = j->n * (chunk + 1) / j->chunks;
    if (lo < hi) j->fn(j->ctx, lo, hi, slot);
}

/* Below ~1 MFLOP a kernel takes microseconds, about what waking the team
 * costs: run it on the caller alone. */
#define MIN_PARALLEL_FLOPS 1e6

void nn__parallel(const nn__exec *x, size_t n, double flops, nn__range_fn fn, void *ctx) {
    if (!n) return;
    if (!x->team || x->nthreads <= 1 || n == 1 || flops < MIN_PARALLEL_FLOPS) {
        fn(ctx, 0, n, 0);
        return;
    }
    /* a few chunks per thread, so a late or slow thread leaves less behind */
    size_t chunks = 4 * (size_t)x->nthreads < n ? 4 * (size_t)x->nthreads : n;
    par_job j = {fn, ctx, n, chunks};
    nn__team_run(x->team, par_chunk, &j, (unsigned)chunks);
}

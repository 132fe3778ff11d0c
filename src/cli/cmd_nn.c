/* cmd_nn.c -- `kadr nn info|run|bench MODEL`: inspect and run ONNX models
 * with the nn engine, in the same terms as ONNX Runtime's tools.
 *
 * `run --dump DIR` writes each output as DIR/<name>.bin (raw little-endian
 * float32) plus DIR/manifest.json in the layout of ../shared/tools/ort-ref,
 * and inputs without --in get ort-ref's deterministic pseudo-random data,
 * so the two runners' dumps can be diffed directly. */
#include "cli.h"
#include "nn.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "name=1x3x640x640" */
static int parse_shape(const char *s, nn_shape *out) {
    const char *eq = strrchr(s, '=');
    if (!eq || eq == s) return UT_EINVAL;
    out->name = NULL;
    out->rank = 0;
    for (const char *p = eq + 1; *p;) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || v <= 0 || out->rank == NN_MAX_RANK) return UT_EINVAL;
        out->dims[out->rank++] = v;
        if (*end == 'x') end++;
        else if (*end) return UT_EINVAL;
        p = end;
    }
    return out->rank ? UT_OK : UT_EINVAL;
}

typedef struct {
    nn_model *model;
    nn_plan *plan;
    nn_shape *shapes;
    char **names;
    int nshapes;
} loaded;

static void loaded_free(loaded *l) {
    nn_plan_free(l->plan);
    nn_model_free(l->model);
    for (int i = 0; i < l->nshapes; i++) ut_free(l->names[i]);
    ut_free(l->names);
    ut_free(l->shapes);
}

static int load(const cli_cmd *cmd, const char *path, const cli_list *shapes, int batch, loaded *l) {
    memset(l, 0, sizeof *l);
    if (nn_model_open(path, &l->model)) return cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
    l->shapes = ut_calloc((size_t)shapes->n + 1, sizeof *l->shapes);
    l->names = ut_calloc((size_t)shapes->n + 1, sizeof *l->names);
    if (!l->shapes || !l->names) return cli_error(cmd, CLI_FAIL, "out of memory");
    for (int i = 0; i < shapes->n; i++, l->nshapes++) {
        const char *s = shapes->items[i], *eq = strrchr(s, '=');
        if (parse_shape(s, &l->shapes[i]) || !(l->names[i] = ut_strndup(s, (size_t)(eq - s))))
            return cli_error(cmd, CLI_USAGE, "--shape wants NAME=DxDxD, got '%s'", s);
        l->shapes[i].name = l->names[i];
    }
    if (nn_plan_create(l->model, l->shapes, l->nshapes, batch, &l->plan)) return cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
    return CLI_OK;
}

static void print_info(const char *what, const nn_info *in) {
    printf("  %s %s float32 [", what, in->name);
    for (int d = 0; d < in->rank; d++) {
        if (in->dims[d] >= 0) printf("%s%lld", d ? "," : "", (long long)in->dims[d]);
        else printf("%s%s", d ? "," : "", in->dim_names[d] ? in->dim_names[d] : "?");
    }
    printf("]\n");
}

static int cmd_info(const cli_cmd *cmd, const char *path, const cli_list *shapes) {
    loaded l;
    int rc = load(cmd, path, shapes, 0, &l);
    if (rc) {
        loaded_free(&l);
        return rc;
    }
    nn_info in;
    printf("model %s: %d nodes, %.2f MB of weights\n", path, nn_model_nnodes(l.model), (double)nn_model_weight_bytes(l.model) / 1e6);
    for (int i = 0; i < nn_model_ninputs(l.model); i++) nn_model_input(l.model, i, &in), print_info("input ", &in);
    for (int i = 0; i < nn_model_noutputs(l.model); i++) nn_model_output(l.model, i, &in), print_info("output", &in);
    printf("ops:\n");
    int n = nn_model_nnodes(l.model);
    for (int i = 0; i < n; i++) {
        const char *op = nn_model_node_op(l.model, i);
        int seen = 0, count = 0;
        for (int k = 0; k < i; k++) seen |= !strcmp(op, nn_model_node_op(l.model, k));
        if (seen) continue;
        for (int k = i; k < n; k++) count += !strcmp(op, nn_model_node_op(l.model, k));
        printf("  %-22s %d\n", op, count);
    }
    nn_plan_stats st;
    nn_plan_get_stats(l.plan, &st);
    printf("plan (inputs at");
    for (int i = 0; i < nn_plan_ninputs(l.plan); i++) {
        nn_plan_input(l.plan, i, &in);
        printf(" %s=", in.name);
        for (int d = 0; d < in.rank; d++) printf("%s%lld", d ? "x" : "", (long long)in.dims[d]);
    }
    printf("): %d nodes to run, %d folded, %d fused, %.3f GFLOP, arena %.2f MB\n", st.nodes, st.folded, st.fused,
           st.flops / 1e9, (double)st.arena_bytes / 1e6);
    loaded_free(&l);
    return CLI_OK;
}

/* Inputs: from --in NAME=FILE, else ort-ref's generator. */
static int make_inputs(const cli_cmd *cmd, const nn_plan *p, const cli_list *ins, float **bufs) {
    uint32_t seed = 12345;
    for (int i = 0; i < nn_plan_ninputs(p); i++) {
        nn_info in;
        nn_plan_input(p, i, &in);
        size_t n = nn_plan_input_size(p, i);
        if (!(bufs[i] = ut_malloc(n * sizeof(float) + 1))) return cli_error(cmd, CLI_FAIL, "out of memory");
        const char *file = NULL;
        for (int k = 0; k < ins->n; k++) {
            const char *eq = strrchr(ins->items[k], '=');
            if (eq && (size_t)(eq - ins->items[k]) == strlen(in.name) && !strncmp(ins->items[k], in.name, strlen(in.name))) file = eq + 1;
        }
        if (!file) {
            for (size_t k = 0; k < n; k++) {
                seed = seed * 1103515245u + 12345u;
                bufs[i][k] = (float)((double)(seed >> 8) / (1 << 24) * 2 - 1);
            }
            continue;
        }
        FILE *f = fopen(file, "rb");
        if (!f) return cli_error(cmd, CLI_FAIL, "cannot open %s", file);
        size_t got = fread(bufs[i], sizeof(float), n, f);
        int extra = fgetc(f) != EOF;
        fclose(f);
        if (got != n || extra) return cli_error(cmd, CLI_FAIL, "input %s: %s must hold exactly %zu float32 values", in.name, file, n);
    }
    return CLI_OK;
}

static void safe_name(const char *s, char *out, size_t len) {
    size_t i = 0;
    for (; s[i] && i + 1 < len; i++) {
        char c = s[i];
        out[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-' ? c : '_';
    }
    out[i] = 0;
}

static int dump(const cli_cmd *cmd, const char *dir, const char *model, const nn_plan *p, float **outs) {
    if (ut_mkdirs(dir)) return cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
    ut_buf js = {0};
    const char *base = strrchr(model, '/') ? strrchr(model, '/') + 1 : model;
    ut_buf_printf(&js, "{\n  \"model\": \"%s\",\n  \"inputs\": [", base);
    for (int pass = 0; pass < 2; pass++) {
        int n = pass ? nn_plan_noutputs(p) : nn_plan_ninputs(p);
        if (pass) ut_buf_puts(&js, "\n  ],\n  \"outputs\": [");
        for (int i = 0; i < n; i++) {
            nn_info in;
            if (pass) nn_plan_output(p, i, &in);
            else nn_plan_input(p, i, &in);
            ut_buf_printf(&js, "%s\n    {\"name\": \"%s\", \"shape\": [", i ? "," : "", in.name);
            for (int d = 0; d < in.rank; d++) ut_buf_printf(&js, "%s%lld", d ? ", " : "", (long long)in.dims[d]);
            ut_buf_puts(&js, "], \"dtype\": \"float32\"}");
            if (!pass) continue;
            char nm[256], *path;
            safe_name(in.name, nm, sizeof nm);
            if (!(path = ut_asprintf("%s/%s.bin", dir, nm))) return cli_error(cmd, CLI_FAIL, "out of memory");
            FILE *f = fopen(path, "wb");
            int ok = f && fwrite(outs[i], sizeof(float), nn_plan_output_size(p, i), f) == nn_plan_output_size(p, i);
            if (f && fclose(f)) ok = 0;
            ut_free(path);
            if (!ok) return cli_error(cmd, CLI_FAIL, "cannot write %s/%s.bin", dir, nm);
        }
    }
    ut_buf_puts(&js, "\n  ]\n}\n");
    char *path = ut_asprintf("%s/manifest.json", dir);
    FILE *f = path ? fopen(path, "wb") : NULL;
    int ok = f && fwrite(js.data, 1, js.len, f) == js.len;
    if (f && fclose(f)) ok = 0;
    ut_free(path);
    ut_buf_free(&js);
    return ok ? CLI_OK : cli_error(cmd, CLI_FAIL, "cannot write %s/manifest.json", dir);
}

static int by_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void print_profile(const nn_ctx *ctx, int iters) {
    nn_op_time t[64];
    int n = nn_ctx_profile(ctx, t, 64);
    double total = 0;
    for (int i = 0; i < n; i++) total += t[i].ms;
    printf("%-22s %5s %10s %6s %9s\n", "op", "nodes", "ms/run", "share", "GFLOP/s");
    for (int i = 0; i < n; i++)
        printf("%-22s %5d %10.3f %5.1f%% %9.1f\n", t[i].op, t[i].nodes, t[i].ms / iters, total > 0 ? 100 * t[i].ms / total : 0,
               t[i].ms > 0 ? t[i].flops * iters / (t[i].ms * 1e6) : 0);
}

static int cmd_run(const cli_cmd *cmd, const char *path, const cli_list *shapes, const cli_list *ins, const char *dir,
                   int threads, int iters, int batch, int bench, int profile) {
    loaded l;
    nn_ctx *ctx = NULL;
    float **bufs = NULL;
    double *times = NULL;
    int rc = load(cmd, path, shapes, batch, &l);
    int nin = rc ? 0 : nn_plan_ninputs(l.plan), nout = rc ? 0 : nn_plan_noutputs(l.plan);
    if (!rc && !(bufs = ut_calloc((size_t)(nin + nout) + 1, sizeof *bufs))) rc = cli_error(cmd, CLI_FAIL, "out of memory");
    if (!rc) rc = make_inputs(cmd, l.plan, ins, bufs);
    for (int i = 0; !rc && i < nout; i++)
        if (!(bufs[nin + i] = ut_malloc(nn_plan_output_size(l.plan, i) * sizeof(float) + 1))) rc = cli_error(cmd, CLI_FAIL, "out of memory");
    if (!rc && nn_ctx_create(l.plan, threads, &ctx)) rc = cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
    if (!rc && !(times = ut_calloc((size_t)iters + 1, sizeof *times))) rc = cli_error(cmd, CLI_FAIL, "out of memory");
    int warm = bench ? 3 : 0;
    for (int it = 0; !rc && it < warm + iters; it++) {
        if (profile && it == warm) nn_ctx_set_profiling(ctx, 1);
        double t0 = ut_now();
        if (nn_ctx_run(ctx, (const float *const *)bufs, bufs + nin)) rc = cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
        if (it >= warm) times[it - warm] = (ut_now() - t0) * 1e3;
    }
    if (!rc && dir) rc = dump(cmd, dir, path, l.plan, bufs + nin);
    if (!rc) {
        nn_plan_stats st;
        nn_plan_get_stats(l.plan, &st);
        qsort(times, (size_t)iters, sizeof *times, by_double);
        double med = times[iters / 2];
        printf("kadr-nn %s threads=%d min=%.3fms median=%.3fms (n=%d) %.3f GFLOP %.1f GFLOP/s (%.0f%% of %d x 116 peak)\n", path,
               threads, times[0], med, iters, st.flops / 1e9, st.flops / 1e6 / med, 100.0 * st.flops / 1e6 / med / (116.0 * threads), threads);
        if (profile) print_profile(ctx, iters);
    }
    for (int i = 0; bufs && i < nin + nout; i++) ut_free(bufs[i]);
    ut_free(bufs);
    ut_free(times);
    nn_ctx_free(ctx);
    loaded_free(&l);
    return rc;
}

static int run(const cli_cmd *cmd, int argc, char **argv) {
    cli_list shapes = {0}, ins = {0};
    const char *dir = NULL;
    int threads = 1, iters = -1, batch = 0, profile = 0, npos;
    const cli_opt opts[] = {
        {"shape", 0, CLI_LIST, &shapes, "NAME=DxD..", "shape for an input with symbolic dims (repeatable)"},
        {"in", 0, CLI_LIST, &ins, "NAME=FILE", "raw little-endian float32 data for an input (repeatable; default: ort-ref's generator)"},
        {"dump", 0, CLI_STR, &dir, "DIR", "run: write outputs as DIR/<name>.bin and DIR/manifest.json"},
        {"threads", 't', CLI_INT, &threads, "N", "threads (default 1)"},
        {"iters", 'n', CLI_INT, &iters, "N", "timed runs (default 1 for run, 20 for bench)"},
        {"batch", 'b', CLI_INT, &batch, "N", "batch size for inputs without --shape"},
        {"profile", 0, CLI_FLAG, &profile, NULL, "bench: time per op type (adds a clock read per node)"},
        {0},
    };
    int rc = cli_parse(cmd, opts, argc, argv, &npos);
    if (rc) goto out;
    if (npos != 2) {
        rc = cli_error(cmd, CLI_USAGE, "usage: kadr nn info|run|bench MODEL [options]");
        goto out;
    }
    if (threads < 1 || threads > 256 || batch < 0 || batch > 4096) {
        rc = cli_error(cmd, CLI_USAGE, "--threads must be 1..256 and --batch 0..4096");
        goto out;
    }
    const char *sub = argv[1], *model = argv[2];
    int bench = !strcmp(sub, "bench");
    if (iters < 0) iters = bench ? 20 : 1;
    if (iters < 1) iters = 1;
    if (!strcmp(sub, "info")) rc = cmd_info(cmd, model, &shapes);
    else if (!strcmp(sub, "run") || bench) rc = cmd_run(cmd, model, &shapes, &ins, dir, threads, iters, batch, bench, profile);
    else rc = cli_error(cmd, CLI_USAGE, "unknown subcommand '%s' (info, run, bench)", sub);
out:
    cli_list_free(&shapes);
    cli_list_free(&ins);
    return rc < 0 ? CLI_OK : rc;
}

const cli_cmd cli_cmd_nn = {
    .name = "nn",
    .args = "info|run|bench MODEL",
    .summary = "inspect, run and benchmark an ONNX model with kadr's engine",
    .description = "info: inputs, outputs, op counts, FLOPs. run: one inference, --dump writes outputs like ort-ref.\n"
                   "bench: median/min latency and GFLOP/s at --threads N.",
    .run = run,
};

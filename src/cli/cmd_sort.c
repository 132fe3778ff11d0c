/* cmd_sort.c -- `kadr sort DIR`: one folder per person.
 *
 * Analyses the folder, shows the plan, and carries it out under organize's
 * journal; --resume finishes an interrupted run and --undo restores the
 * original layout. Photos that cannot be read are reported and left where
 * they are. */
#include "cluster.h"
#include "img.h"
#include "sort.h"
#include "organize.h"
#include "util.h"
#include "cli.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    cli_progress bar;
} sort_ui;

static void on_analysis(void *ctx, const sort_progress *p) {
    sort_ui *ui = ctx;
    char extra[48];
    snprintf(extra, sizeof extra, "%zu faces", p->faces);
    cli_progress_update(&ui->bar, p->done, p->total, extra);
}

static int on_file(void *ctx, const org_event *ev) {
    sort_ui *ui = ctx;
    if (ev->problem) fprintf(stderr, "\nkadr sort: %s left in place: %s\n", ev->path, ev->problem);
    cli_progress_update(&ui->bar, ev->done, ev->total, NULL);
    return 0;
}

static void print_stats(const sort_stats *s) {
    fprintf(stderr,
            "%zu photos: %zu faces in %d people (%zu faces unassigned), %zu photos without faces, "
            "%zu unreadable\n"
            "time: scan %.2fs, faces %.2fs (%.0f photos/min), clustering %.2fs\n",
            s->photos, s->faces, s->people, s->noise_faces, s->no_face, s->unreadable, s->t_scan, s->t_faces,
            s->t_faces > 0 ? (double)s->photos / s->t_faces * 60 : 0, s->t_cluster);
}

static void print_org_stats(const char *what, const org_stats *st) {
    fprintf(stderr, "%s: %zu photos moved, %zu copied into several folders (%zu copies), %zu left in place, "
                    "%zu folders removed\n",
            what, st->moved, st->copied, st->copies, st->skipped, st->folders_removed);
}

/* Finish or roll back the earlier run recorded in the state directory
 * that a sort of dir into out uses (an empty plan knows where it is). */
static int journal_command(const cli_cmd *cmd, const char *dir, const char *out, int undo) {
    org_plan *empty;
    if (org_plan_create(dir, out, &empty)) return cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
    char *state = org_state_dir(empty, NULL);
    org_plan_destroy(empty);
    if (!state) return cli_error(cmd, CLI_FAIL, "out of memory");
    sort_ui ui;
    cli_progress_init(&ui.bar, undo ? "undo" : "resume");
    org_opts oo = {.state_dir = state, .progress = on_file, .progress_ctx = &ui};
    org_stats st = {0};
    int rc = undo ? org_undo(state, &oo, &st) : org_resume(state, &oo, &st);
    if (rc) rc = cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
    else if (undo) fprintf(stderr, "undo: %zu photos restored to their original places\n", st.restored);
    else print_org_stats("resume", &st);
    ut_free(state);
    return rc;
}

static int execute(const cli_cmd *cmd, const org_plan *plan, sort_ui *ui, const char *dir) {
    cli_progress_init(&ui->bar, "files");
    org_opts oo = {.progress = on_file, .progress_ctx = ui};
    org_stats st = {0};
    double t0 = ut_now();
    if (org_execute(plan, &oo, &st))
        return cli_error(cmd, CLI_FAIL, "%s (`kadr sort --resume %s` finishes the run, --undo reverts it)", ut_errmsg(), dir);
    print_org_stats("done", &st);
    fprintf(stderr, "time: file operations %.2fs\n", ut_now() - t0);
    return CLI_OK;
}

static int run(const cli_cmd *cmd, int argc, char **argv) {
    cli_pipeline p;
    cli_pipeline_init(&p);
    int dry = 0, undo = 0, resume = 0, verbose = 0, npos;
    cli_opt opts[6 + CLI_PIPELINE_NOPTS] = {
        {"out", 'o', CLI_STR, &p.o.out, "DIR", "put person folders here (default: DIR itself)"},
        {"dry-run", 'n', CLI_FLAG, &dry, NULL, "show the plan, change nothing"},
        {"verbose", 'v', CLI_FLAG, &verbose, NULL, "with --dry-run: list every photo"},
        {"undo", 0, CLI_FLAG, &undo, NULL, "restore the layout from before the last sort"},
        {"resume", 0, CLI_FLAG, &resume, NULL, "finish an interrupted sort"},
    };
    cli_pipeline_opts(&p, opts + 5);
    int rc = cli_parse(cmd, opts, argc, argv, &npos);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (npos != 1) return cli_error(cmd, CLI_USAGE, "expected one folder to sort (see kadr sort --help)");
    p.o.dir = argv[1];
    if (undo + resume + dry > 1) return cli_error(cmd, CLI_USAGE, "--undo, --resume and --dry-run exclude each other");
    if (undo || resume) return journal_command(cmd, p.o.dir, p.o.out, undo);
    if ((rc = cli_pipeline_finish(cmd, &p))) return rc;
    img_init(1);
    sort_ui ui;
    cli_progress_init(&ui.bar, "faces");
    org_plan *plan = NULL;
    sort_stats stats;
    if (sort_plan(&p.o, on_analysis, &ui, &plan, &stats)) rc = cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
    if (!rc) print_stats(&stats);
    if (!rc && dry) org_plan_print(plan, stdout, verbose);
    if (!rc && !dry) {
        org_plan_print(plan, stderr, 0);
        rc = execute(cmd, plan, &ui, p.o.dir);
    }
    org_plan_destroy(plan);
    cli_pipeline_free(&p);
    return rc;
}

const cli_cmd cli_cmd_sort = {
    .name = "sort",
    .args = "DIR",
    .summary = "sort photos into one folder per person",
    .description = "Finds the faces in every photo under DIR, groups them into people and moves each photo\n"
                   "into its person's folder (photos of several people are copied into each). Every file\n"
                   "operation is journaled: --resume finishes an interrupted run, --undo restores the\n"
                   "original layout. Folders named \"общие\" are left alone.",
    .run = run,
};

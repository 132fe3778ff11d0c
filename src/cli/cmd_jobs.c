/* cmd_jobs.c -- `kadr jobs list|show|cancel|retry`: the durable job queue
 * from the command line, plus the helpers `kadr index` shares (catalog
 * path, progress bar, job JSON).
 *
 * These commands work on the catalog file directly, so they also act on
 * jobs a running server owns: a cancel is seen by the server's worker
 * before its next item. */
#include "catalog.h"
#include "jobs.h"
#include "cli.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_db_path(const char *given, char **out) {
    if (given) {
        *out = ut_strdup(given);
        return *out ? UT_OK : UT_ENOMEM;
    }
    char *home = cli_data_home();
    if (!home) return ut_fail(UT_ENOMEM, "out of memory");
    int rc = ut_mkdirs(home);
    if (!rc && !(*out = ut_asprintf("%s/kadr.db", home))) rc = ut_fail(UT_ENOMEM, "out of memory");
    ut_free(home);
    return rc;
}

/* ---- JSON -------------------------------------------------------------- */

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *cli_job_json(const cat_job *j) {
    json_t *o = json_object();
    json_t *params = j->params ? json_loads(j->params, 0, NULL) : NULL;
    json_t *result = j->result ? json_loads(j->result, 0, NULL) : NULL;
    json_object_set_new(o, "id", json_integer(j->id));
    json_object_set_new(o, "type", json_string(j->type ? j->type : ""));
    json_object_set_new(o, "state", json_string(cat_job_state_name(j->state)));
    json_object_set_new(o, "params", params ? params : json_object());
    json_object_set_new(o, "root_id", j->root_id ? json_integer(j->root_id) : json_null());
    json_object_set_new(o, "total", json_integer(j->total));
    json_object_set_new(o, "done", json_integer(j->done));
    json_object_set_new(o, "skipped", json_integer(j->skipped));
    json_object_set_new(o, "failed", json_integer(j->failed));
    json_object_set_new(o, "current", str_or_null(j->current));
    json_object_set_new(o, "rate", json_real(j->rate));
    json_object_set_new(o, "eta_s", j->eta_s >= 0 ? json_real(j->eta_s) : json_null());
    json_object_set_new(o, "message", str_or_null(j->message));
    json_object_set_new(o, "error", str_or_null(j->error));
    json_object_set_new(o, "result", result ? result : json_null());
    json_object_set_new(o, "cancel_requested", json_boolean(j->cancel_requested));
    json_object_set_new(o, "attempts", json_integer(j->attempts));
    json_object_set_new(o, "created_ms", json_integer(j->created_ms));
    json_object_set_new(o, "started_ms", json_integer(j->started_ms));
    json_object_set_new(o, "finished_ms", json_integer(j->finished_ms));
    return o;
}

static int print_json(json_t *o) {
    int rc = json_dumpf(o, stdout, JSON_INDENT(2)) == 0 ? CLI_OK : CLI_FAIL;
    fputc('\n', stdout);
    json_decref(o);
    return rc;
}

/* ---- subcommands ------------------------------------------------------- */

static int parse_id(const cli_cmd *cmd, const char *s, int64_t *id) {
    char *end;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || *end || v <= 0) return cli_error(cmd, CLI_USAGE, "expected a job id (a positive number), got '%s'", s ? s : "");
    *id = v;
    return CLI_OK;
}

static int jobs_list(const cli_cmd *cmd, cat_db *db, const char *state, int limit, int json) {
    int filter = -1;
    if (state && (filter = cat_job_state_parse(state)) < 0)
        return cli_error(cmd, CLI_USAGE, "--state must be queued, running, done, failed or cancelled");
    cat_job *jobs;
    size_t n;
    if (cat_job_list(db, filter, limit, &jobs, &n)) return cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) json_array_append_new(arr, cli_job_json(&jobs[i]));
        cat_jobs_free(jobs, n);
        return print_json(arr);
    }
    if (!n) printf("no jobs\n");
    else printf("%6s  %-8s  %-9s  %15s  %s\n", "ID", "TYPE", "STATE", "PROGRESS", "MESSAGE");
    for (size_t i = 0; i < n; i++) {
        char prog[40];
        snprintf(prog, sizeof prog, "%lld/%lld", (long long)(jobs[i].done + jobs[i].failed), (long long)jobs[i].total);
        printf("%6lld  %-8s  %-9s  %15s  %s\n", (long long)jobs[i].id, jobs[i].type, cat_job_state_name(jobs[i].state),
               prog, jobs[i].error ? jobs[i].error : jobs[i].message ? jobs[i].message : "");
    }
    cat_jobs_free(jobs, n);
    return CLI_OK;
}

static int jobs_show(const cli_cmd *cmd, cat_db *db, int64_t id, int nevents, int json) {
    cat_job j;
    cat_job_event *ev = NULL;
    size_t nev = 0, nfail = 0, nnotes = 0;
    char **fkeys = NULL, **ferrs = NULL, **notes = NULL;
    int64_t *counts = NULL;
    if (cat_job_get(db, id, &j)) return cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
    int rc = cat_job_events(db, id, 0, 0, &ev, &nev);
    if (!rc) rc = cat_job_items_failed(db, id, 20, &fkeys, &ferrs, &nfail);
    if (!rc) rc = cat_job_item_notes(db, id, &notes, &counts, &nnotes);
    if (rc) {
        rc = cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
        goto out;
    }
    size_t first = nevents >= 0 && nev > (size_t)nevents ? nev - (size_t)nevents : 0;
    if (json) {
        json_t *o = cli_job_json(&j), *evs = json_array(), *fails = json_array(), *nts = json_object();
        for (size_t i = first; i < nev; i++) {
            json_t *e = json_object();
            json_object_set_new(e, "id", json_integer(ev[i].id));
            json_object_set_new(e, "ts_ms", json_integer(ev[i].ts_ms));
            json_object_set_new(e, "kind", json_string(ev[i].kind ? ev[i].kind : ""));
            json_object_set_new(e, "state", json_string(cat_job_state_name(ev[i].state)));
            json_object_set_new(e, "done", json_integer(ev[i].done));
            json_object_set_new(e, "total", json_integer(ev[i].total));
            json_object_set_new(e, "message", str_or_null(ev[i].message));
            json_array_append_new(evs, e);
        }
        for (size_t i = 0; i < nfail; i++) {
            json_t *f = json_object();
            json_object_set_new(f, "item", json_string(fkeys[i] ? fkeys[i] : ""));
            json_object_set_new(f, "error", str_or_null(ferrs[i]));
            json_array_append_new(fails, f);
        }
        for (size_t i = 0; i < nnotes; i++) json_object_set_new(nts, notes[i], json_integer(counts[i]));
        json_object_set_new(o, "events", evs);
        json_object_set_new(o, "failed_items", fails);
        json_object_set_new(o, "item_notes", nts);
        rc = print_json(o);
        goto out;
    }
    printf("job %lld (%s): %s\n", (long long)j.id, j.type, cat_job_state_name(j.state));
    printf("  params    %s\n", j.params ? j.params : "{}");
    printf("  progress  %lld/%lld done (%lld skipped), %lld failed\n", (long long)j.done, (long long)j.total,
           (long long)j.skipped, (long long)j.failed);
    if (j.error) printf("  error     %s\n", j.error);
    for (size_t i = 0; i < nnotes; i++) printf("  %-9s %lld\n", notes[i], (long long)counts[i]);
    for (size_t i = 0; i < nfail; i++) printf("  failed    %s: %s\n", fkeys[i], ferrs[i] ? ferrs[i] : "");
    for (size_t i = first; i < nev; i++)
        printf("  event     %s %-8s %lld/%lld %s\n", ev[i].kind, cat_job_state_name(ev[i].state), (long long)ev[i].done,
               (long long)ev[i].total, ev[i].message ? ev[i].message : "");
out:
    cat_job_free(&j);
    cat_job_events_free(ev, nev);
    cat_strings_free(fkeys, nfail);
    cat_strings_free(ferrs, nfail);
    cat_strings_free(notes, nnotes);
    ut_free(counts);
    return rc;
}

static int jobs_cancel(const cli_cmd *cmd, const char *db_path, int64_t id, int json) {
    job_mgr *m;
    if (job_mgr_open(db_path, NULL, &m)) return cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
    int rc = job_cancel(m, id);
    cat_job j = {0};
    if (!rc) rc = job_get(m, id, &j);
    job_mgr_close(m);
    if (rc) return cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
    if (json) rc = print_json(cli_job_json(&j));
    else printf("job %lld: %s\n", (long long)id, j.state == CAT_JOB_CANCELLED ? "cancelled" : "cancel requested");
    cat_job_free(&j);
    return rc;
}

/* Retry queues the job; an index job is run here (with its progress) as
 * nothing else may be running; other types wait for `kadr serve`. */
static int jobs_retry(const cli_cmd *cmd, const char *db_path, int64_t id, int json) {
    job_mgr *m;
    int64_t requeued = 0;
    int token = 0, state = CAT_JOB_QUEUED;
    cli_progress bar;
    cli_progress_init(&bar, "retry");
    if (job_mgr_open(db_path, NULL, &m)) return cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
    int rc = job_index_register(m, NULL);
    if (!rc) rc = job_mgr_start(m);
    if (!rc) rc = job_retry(m, id, &requeued);
    cat_job j = {0};
    if (!rc) rc = job_get(m, id, &j);
    if (!rc && j.type && strcmp(j.type, "index") == 0) {
        if (!json) job_subscribe(m, cli_progress_job, &bar, &token);
        rc = job_run(m, id, &state);
        cli_progress_end(&bar);
        cat_job_free(&j);
        if (!rc) rc = job_get(m, id, &j);
    }
    job_mgr_close(m);
    if (rc) {
        cat_job_free(&j);
        return cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
    }
    if (json) rc = print_json(cli_job_json(&j));
    else printf("job %lld: %lld failed item(s) requeued; now %s\n", (long long)id, (long long)requeued,
                cat_job_state_name(j.state));
    if (j.state == CAT_JOB_FAILED || j.state == CAT_JOB_CANCELLED) rc = CLI_FAIL;
    cat_job_free(&j);
    return rc;
}

static int run(const cli_cmd *cmd, int argc, char **argv) {
    const char *db_opt = NULL, *state = NULL;
    int json = 0, limit = 50, nevents = 20, npos;
    const cli_opt opts[] = {
        {"db", 0, CLI_STR, &db_opt, "PATH", "catalog database (default $KADR_HOME/kadr.db)"},
        {"json", 0, CLI_FLAG, &json, NULL, "print JSON on stdout"},
        {"state", 0, CLI_STR, &state, "STATE", "list: only jobs in this state"},
        {"limit", 'n', CLI_INT, &limit, "N", "list: at most N jobs, newest first (default 50)"},
        {"events", 0, CLI_INT, &nevents, "N", "show: the last N events (default 20, -1 all)"},
        {0},
    };
    int rc = cli_parse(cmd, opts, argc, argv, &npos);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (npos < 1) return cli_error(cmd, CLI_USAGE, "expected list, show ID, cancel ID or retry ID");
    const char *sub = argv[1];
    int needs_id = strcmp(sub, "show") == 0 || strcmp(sub, "cancel") == 0 || strcmp(sub, "retry") == 0;
    if (!needs_id && strcmp(sub, "list") != 0)
        return cli_error(cmd, CLI_USAGE, "unknown subcommand '%s' (list, show, cancel, retry)", sub);
    if (npos != (needs_id ? 2 : 1))
        return cli_error(cmd, CLI_USAGE, needs_id ? "%s needs exactly one job id" : "%s takes no arguments", sub);
    int64_t id = 0;
    if (needs_id && (rc = parse_id(cmd, argv[2], &id))) return rc;
    char *db_path;
    if (cli_db_path(db_opt, &db_path)) return cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
    if (strcmp(sub, "cancel") == 0) rc = jobs_cancel(cmd, db_path, id, json);
    else if (strcmp(sub, "retry") == 0) rc = jobs_retry(cmd, db_path, id, json);
    else {
        cat_db *db;
        if (cat_open(db_path, &db)) rc = cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
        else {
            rc = strcmp(sub, "list") == 0 ? jobs_list(cmd, db, state, limit, json) : jobs_show(cmd, db, id, nevents, json);
            cat_close(db);
        }
    }
    ut_free(db_path);
    return rc;
}

const cli_cmd cli_cmd_jobs = {
    .name = "jobs",
    .args = "list | show ID | cancel ID | retry ID",
    .summary = "list, inspect, cancel and retry background jobs",
    .description = "Jobs live in the catalog and survive restarts: an interrupted job resumes where it\n"
                   "stopped. `cancel` stops a job before its next item; `retry` queues a failed or\n"
                   "cancelled job's unfinished items again.",
    .run = run,
};

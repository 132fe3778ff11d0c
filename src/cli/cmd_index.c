/* cmd_index.c -- `kadr index DIR`: add DIR as a library root and bring the
 * catalog up to date with it, as a durable job with a progress bar.
 *
 * An index job of the same root left unfinished (killed, crashed) is
 * resumed instead of starting over; a fresh run on an unchanged folder
 * only stats each file and finishes almost at once. */
#include "catalog.h"
#include "jobs.h"
#include "cli.h"
#include "util.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    int64_t files, new_, changed, touched, unchanged, not_image, vanished, analysed, failed;
} summary;

static int64_t note_count(char **notes, const int64_t *counts, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(notes[i], name) == 0) return counts[i];
    return 0;
}

static int summarise(cat_db *db, const cat_job *j, summary *s) {
    char **notes;
    int64_t *counts;
    size_t n;
    int rc = cat_job_item_notes(db, j->id, &notes, &counts, &n);
    if (rc) return rc;
    *s = (summary){
        .files = j->total, .new_ = note_count(notes, counts, n, "new"),
        .changed = note_count(notes, counts, n, "changed"), .touched = note_count(notes, counts, n, "touched"),
        .unchanged = note_count(notes, counts, n, "unchanged"), .not_image = note_count(notes, counts, n, "not-image"),
        .vanished = note_count(notes, counts, n, "vanished"), .analysed = note_count(notes, counts, n, "analysed"),
        .failed = j->failed,
    };
    cat_strings_free(notes, n);
    ut_free(counts);
    return UT_OK;
}

/* An unfinished index job of this root to resume, or 0. */
static int64_t resumable(job_mgr *m, int64_t root) {
    cat_job *jobs;
    size_t n;
    int64_t id = 0;
    job_mgr_lock(m);
    if (cat_job_list(job_mgr_db(m), CAT_JOB_QUEUED, 0, &jobs, &n) == UT_OK) {
        for (size_t i = 0; i < n && !id; i++)
            if (jobs[i].root_id == root && strcmp(jobs[i].type, "index") == 0) id = jobs[i].id;
        cat_jobs_free(jobs, n);
    }
    job_mgr_unlock(m);
    return id;
}

static void print_summary(const char *dir, const cat_job *j, const summary *s, double secs, int64_t photos, int json) {
    double rate = secs > 0 ? (double)s->files / secs : 0;
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "job_id", json_integer(j->id));
        json_object_set_new(o, "root", json_string(dir));
        json_object_set_new(o, "state", json_string(cat_job_state_name(j->state)));
        json_object_set_new(o, "files", json_integer(s->files));
        json_object_set_new(o, "new", json_integer(s->new_));
        json_object_set_new(o, "changed", json_integer(s->changed));
        json_object_set_new(o, "touched", json_integer(s->touched));
        json_object_set_new(o, "unchanged", json_integer(s->unchanged));
        json_object_set_new(o, "not_images", json_integer(s->not_image));
        json_object_set_new(o, "vanished", json_integer(s->vanished));
        json_object_set_new(o, "failed", json_integer(s->failed));
        json_object_set_new(o, "photos", json_integer(photos));
        json_object_set_new(o, "seconds", json_real(secs));
        json_object_set_new(o, "files_per_s", json_real(rate));
        json_object_set_new(o, "error", j->error ? json_string(j->error) : json_null());
        json_dumpf(o, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(o);
        return;
    }
    printf("indexed %s: %lld files in %.2f s (%.0f files/s), job %lld %s\n", dir, (long long)s->files, secs, rate,
           (long long)j->id, cat_job_state_name(j->state));
    printf("  %lld new, %lld changed, %lld touched, %lld unchanged (skipped), %lld not images (skipped), %lld failed\n",
           (long long)s->new_, (long long)s->changed, (long long)s->touched, (long long)s->unchanged,
           (long long)s->not_image, (long long)s->failed);
    printf("  %lld photos in the catalog for this folder\n", (long long)photos);
    if (j->error) printf("  %s\n", j->error);
}

static int index_dir(const cli_cmd *cmd, const char *dir, const char *db_path, const job_analyser *an, int json) {
    job_mgr *m = NULL;
    int64_t root = 0, id = 0, photos = 0;
    int state = CAT_JOB_FAILED, token = 0;
    cli_progress bar;
    cli_progress_init(&bar, "index");
    cat_job j = {0};
    summary s;
    double t0 = ut_now();
    int rc = job_mgr_open(db_path, NULL, &m);
    if (!rc) rc = job_index_register(m, an);
    if (!rc) rc = job_mgr_start(m); /* requeues jobs of dead processes */
    if (!rc) {
        job_mgr_lock(m);
        rc = cat_root_add(job_mgr_db(m), dir, &root);
        job_mgr_unlock(m);
    }
    if (!rc && !(id = resumable(m, root))) rc = job_enqueue(m, "index", NULL, root, &id);
    else if (!rc && !json) fprintf(stderr, "kadr index: resuming interrupted job %lld\n", (long long)id);
    if (!rc && !json) rc = job_subscribe(m, cli_progress_job, &bar, &token);
    if (!rc) rc = job_run(m, id, &state);
    if (rc == UT_ESTATE || rc == UT_EBUSY) {
        /* A running `kadr serve` took the job (or holds the root): wait. */
        if (!json) fprintf(stderr, "kadr index: job %lld is run by another kadr process; waiting\n", (long long)id);
        rc = job_wait(m, id, -1, &state);
    }
    cli_progress_end(&bar);
    if (!rc) rc = job_get(m, id, &j);
    if (!rc) {
        job_mgr_lock(m);
        rc = summarise(job_mgr_db(m), &j, &s);
        if (!rc) rc = cat_photo_count(job_mgr_db(m), root, -1, &photos);
        job_mgr_unlock(m);
    }
    if (!rc) print_summary(dir, &j, &s, ut_now() - t0, photos, json);
    else cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
    cat_job_free(&j);
    job_mgr_close(m);
    return rc ? CLI_FAIL : state == CAT_JOB_DONE ? CLI_OK : CLI_FAIL;
}

/* Metadata always; faces when the models are installed (or say why not). */
static int open_analyser(const cli_cmd *cmd, int no_faces, char **models, job_photo_analyser **a, job_analyser *hook) {
    sort_opts o;
    sort_opts_default(&o);
    char *home = cli_data_home();
    *models = home ? ut_asprintf("%s/models", home) : NULL;
    ut_free(home);
    if (!*models) return cli_error(cmd, CLI_FAIL, "out of memory");
    o.models_dir = *models;
    int rc = job_analyser_open(&o, !no_faces, a, hook);
    if (rc == UT_ENOENT && !no_faces) {
        fprintf(stderr, "kadr index: %s; indexing metadata only\n", ut_errmsg());
        rc = job_analyser_open(&o, 0, a, hook);
    }
    return rc ? cli_error(cmd, CLI_FAIL, "%s", ut_errmsg()) : CLI_OK;
}

static int run(const cli_cmd *cmd, int argc, char **argv) {
    const char *db_opt = NULL;
    int json = 0, no_faces = 0, npos;
    const cli_opt opts[] = {
        {"db", 0, CLI_STR, &db_opt, "PATH", "catalog database (default $KADR_HOME/kadr.db)"},
        {"json", 0, CLI_FLAG, &json, NULL, "print the summary as JSON on stdout"},
        {"no-faces", 0, CLI_FLAG, &no_faces, NULL, "record metadata only, no face detection"},
        {0},
    };
    int rc = cli_parse(cmd, opts, argc, argv, &npos);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (npos != 1) return cli_error(cmd, CLI_USAGE, "expected one folder to index");
    char real[PATH_MAX];
    struct stat st;
    if (!realpath(argv[1], real) || stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
        return cli_error(cmd, CLI_FAIL, "%s is not a readable folder", argv[1]);
    char *db_path, *models = NULL;
    if (cli_db_path(db_opt, &db_path)) return cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
    job_photo_analyser *an = NULL;
    job_analyser hook;
    rc = open_analyser(cmd, no_faces, &models, &an, &hook);
    if (!rc) rc = index_dir(cmd, real, db_path, &hook, json);
    job_analyser_close(an);
    ut_free(models);
    ut_free(db_path);
    return rc;
}

const cli_cmd cli_cmd_index = {
    .name = "index",
    .args = "DIR",
    .summary = "add a folder as a library root and catalogue its photos",
    .description = "Adds DIR as a library root and indexes it as a background job: every file is\n"
                   "checked (size and mtime, then SHA-256), non-images are skipped, new and changed\n"
                   "photos are recorded in the catalog with their EXIF metadata and, when the models\n"
                   "are installed, their faces and embeddings. Re-running skips unchanged files; an\n"
                   "interrupted run resumes where it stopped.",
    .run = run,
};

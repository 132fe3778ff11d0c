/* cli.h -- the command table and the option parser shared by commands.
 *
 * Private to src/cli. Each command lives in cmd_<name>.c, declares its
 * options as a cli_opt table and calls cli_parse(); --help output, usage
 * errors and exit codes come out the same for every command.
 *
 * Exit codes: CLI_OK 0, CLI_FAIL 1 (the work failed), CLI_USAGE 2 (the
 * command line was wrong). Errors are one line on stderr saying what
 * failed and what to do. */
#ifndef KADR_CLI_H
#define KADR_CLI_H

#include <stddef.h>

#include "jobs.h"
#include "sort.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };
enum { CLI_FLAG, CLI_STR, CLI_INT, CLI_NUM, CLI_LIST };

typedef struct {
    const char **items;
    int n;
} cli_list;

typedef struct {
    const char *name;    /* long name, without "--" */
    char shortname;      /* 0 for none */
    int kind;            /* CLI_FLAG: int*, CLI_STR: const char**, CLI_INT: int*,
                            CLI_NUM: double*, CLI_LIST: cli_list* */
    void *dest;
    const char *metavar; /* "N", "DIR"; NULL for flags */
    const char *help;
} cli_opt;

typedef struct cli_cmd {
    const char *name;
    const char *args;        /* positional synopsis, e.g. "DIR..." */
    const char *summary;     /* one line for `kadr --help` */
    const char *description; /* paragraph for `kadr CMD --help` */
    int (*run)(const struct cli_cmd *cmd, int argc, char **argv);
} cli_cmd;

/* Parse argv[1..] against opts (terminated by a zero entry). Positional
 * arguments are moved, in order, to argv[1..*npos]. Returns CLI_OK, or
 * CLI_USAGE after printing the error, or -1 when --help was given and the
 * help has been printed (the command should return CLI_OK). */
int cli_parse(const cli_cmd *cmd, const cli_opt *opts, int argc, char **argv, int *npos);
void cli_help(const cli_cmd *cmd, const cli_opt *opts);
/* "kadr CMD: <message>" on stderr; returns CLI_FAIL or CLI_USAGE as given. */
int cli_error(const cli_cmd *cmd, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void cli_list_free(cli_list *l);

/* The data directory: $KADR_HOME, else $XDG_DATA_HOME/kadr, else
 * ~/.local/share/kadr. Caller frees. */
char *cli_data_home(void);

/* A progress line on stderr (redrawn on a terminal, periodic otherwise). */
typedef struct {
    const char *what;
    int tty;
    int open; /* a terminal line is drawn and not yet ended */
    double t0, last;
} cli_progress;

void cli_progress_init(cli_progress *p, const char *what);
/* extra: a short note shown after the rate ("123 faces"); may be NULL. */
void cli_progress_update(cli_progress *p, size_t done, size_t total, const char *extra);
/* The same with rate and ETA (seconds, < 0 unknown) given by the caller. */
void cli_progress_draw(cli_progress *p, size_t done, size_t total, double rate, double eta_s, const char *extra);
/* A job listener (job_subscribe) drawing job progress; user is a cli_progress. */
void cli_progress_job(const job_event *ev, void *user);
/* End a bar that stopped short of its total (a cancelled or failed job). */
void cli_progress_end(cli_progress *p);

/* The face-pipeline options shared by `sort` and `faces eval` (pipeline.c). */
#define CLI_PIPELINE_NOPTS 18
typedef struct {
    sort_opts o;
    const char *algorithm;
    double threshold, min_score, min_face, attach_dist, attach_margin;
    double min_blur, max_yaw, max_roll, max_pitch; /* 0 = filter off */
    int tiles;
    char *models;
} cli_pipeline;

void cli_pipeline_init(cli_pipeline *p);
/* Write the CLI_PIPELINE_NOPTS options into dst; returns their count. */
int cli_pipeline_opts(cli_pipeline *p, cli_opt *dst);
/* After parsing: validate and apply; CLI_OK or an exit code. */
int cli_pipeline_finish(const cli_cmd *cmd, cli_pipeline *p);
void cli_pipeline_free(cli_pipeline *p);

extern const cli_cmd cli_cmd_serve;
extern const cli_cmd cli_cmd_models;
extern const cli_cmd cli_cmd_nn;
extern const cli_cmd cli_cmd_photo;
extern const cli_cmd cli_cmd_sort;
extern const cli_cmd cli_cmd_faces;
extern const cli_cmd cli_cmd_index;
extern const cli_cmd cli_cmd_jobs;
/* --db or $KADR_HOME/kadr.db (cmd_jobs.c; shared with cmd_index.c). */
int cli_db_path(const char *given, char **out);

#endif

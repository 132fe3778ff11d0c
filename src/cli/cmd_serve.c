/* cmd_serve.c -- `kadr serve`: run the HTTP server until SIGINT/SIGTERM.
 *
 * Settings come from the command line, then the environment (KADR_HOST,
 * KADR_PORT, KADR_ROOTS colon-separated, KADR_TOKEN, ... one per option),
 * then a config file (--config / KADR_CONFIG: "key = value" lines named
 * like the long options, "root" repeatable), then defaults. */
#include "api.h"
#include "cli.h"
#include "util.h"

#include <limits.h>
#include <signal.h>
#include <unistd.h>
#include <fcntl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Split KADR_ROOTS=a:b:c into the list when no --root was given. */
static int roots_from_env(cli_list *roots, char **storage) {
    const char *env = getenv("KADR_ROOTS");
    if (roots->n || !env || !*env) return UT_OK;
    *storage = ut_strdup(env);
    if (!*storage) return UT_ENOMEM;
    for (char *save = NULL, *tok = strtok_r(*storage, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
        const char **items = ut_realloc(roots->items, (size_t)(roots->n + 1) * sizeof *items);
        if (!items) return UT_ENOMEM;
        items[roots->n++] = tok;
        roots->items = items;
    }
    return UT_OK;
}

/* Stop signals. Blocking them and calling sigwait() is not enough: OpenBLAS
 * starts its threads from a library constructor, before main, with the
 * signals unblocked, and a SIGTERM delivered to one of them killed the
 * process outright. A handler runs on whichever thread gets the signal;
 * it only writes the signal number to a pipe the main thread reads. */
static int stop_pipe[2] = {-1, -1};

static void on_stop_signal(int sig) {
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    ssize_t n = write(stop_pipe[1], &b, 1);
    (void)n;
    errno = saved;
}

static int catch_stop_signals(void) {
    if (pipe2(stop_pipe, O_CLOEXEC) != 0) return ut_fail(ut_from_errno(errno), "pipe: %s", strerror(errno));
    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL))
        return ut_fail(ut_from_errno(errno), "sigaction: %s", strerror(errno));
    return UT_OK;
}

static int wait_for_signal(void) {
    unsigned char b = 0;
    while (read(stop_pipe[0], &b, 1) < 0 && errno == EINTR) {}
    return b;
}

/* Every serve option: its command-line value (NULL when not given), the
 * environment variable and the config-file key that can also set it.
 * Precedence: command line, then environment, then config file. */
typedef struct {
    const char *key, *env;
    const char *val;
} serve_setting;

enum { S_HOST, S_PORT, S_DATA, S_TOKEN, S_WEB, S_VENDOR, S_CORS, S_THREADS, S_MAX_UPLOAD, S_MAX_PER_CLIENT, S_N };

static serve_setting settings[S_N] = {
    [S_HOST] = {"host", "KADR_HOST", NULL},
    [S_PORT] = {"port", "KADR_PORT", NULL},
    [S_DATA] = {"data", "KADR_DATA", NULL},
    [S_TOKEN] = {"token", "KADR_TOKEN", NULL},
    [S_WEB] = {"web", "KADR_WEB", NULL},
    [S_VENDOR] = {"vendor", "KADR_VENDOR", NULL},
    [S_CORS] = {"cors", "KADR_CORS", NULL},
    [S_THREADS] = {"threads", "KADR_THREADS", NULL},
    [S_MAX_UPLOAD] = {"max-upload-mb", "KADR_MAX_UPLOAD_MB", NULL},
    [S_MAX_PER_CLIENT] = {"max-per-client", "KADR_MAX_PER_CLIENT", NULL},
};

/* Parse one "key = value" config file (# comments, blank lines; "root" may
 * repeat). Values it sets only fill settings still unset. Strings point
 * into *text, which the caller frees. */
static int read_config(const cli_cmd *cmd, const char *path, char **text, cli_list *roots) {
    FILE *f = fopen(path, "r");
    if (!f) return cli_error(cmd, CLI_FAIL, "cannot read config file %s", path);
    ut_buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) ut_buf_append(&b, chunk, n);
    fclose(f);
    *text = b.data;
    int lineno = 0, from_file_roots = roots->n == 0;
    for (char *save = NULL, *line = b.data ? strtok_r(b.data, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        while (*line == ' ' || *line == '\t') line++;
        if (!*line || *line == '#') continue;
        char *eq = strchr(line, '=');
        if (!eq) return cli_error(cmd, CLI_USAGE, "%s:%d: expected key = value", path, lineno);
        char *k = line, *v = eq + 1, *e = eq;
        while (e > k && (e[-1] == ' ' || e[-1] == '\t')) e--;
        *e = 0;
        while (*v == ' ' || *v == '\t') v++;
        for (e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'); e--) e[-1] = 0;
        if (!strcmp(k, "root")) {
            if (!from_file_roots) continue;
            const char **items = ut_realloc(roots->items, (size_t)(roots->n + 1) * sizeof *items);
            if (!items) return cli_error(cmd, CLI_FAIL, "out of memory");
            items[roots->n++] = v;
            roots->items = items;
            continue;
        }
        int i = 0;
        while (i < S_N && strcmp(settings[i].key, k)) i++;
        if (i == S_N) return cli_error(cmd, CLI_USAGE, "%s:%d: unknown setting '%s'", path, lineno, k);
        if (!settings[i].val && !getenv(settings[i].env)) settings[i].val = v;
    }
    return CLI_OK;
}

static const char *setting(int i) {
    if (settings[i].val) return settings[i].val;
    const char *v = getenv(settings[i].env);
    return v && *v ? v : NULL;
}

/* Integer setting in [lo, hi]; dflt when unset. -1 after a usage error. */
static long int_setting(const cli_cmd *cmd, int i, long dflt, long lo, long hi) {
    const char *v = setting(i);
    if (!v) return dflt;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || end == v || n < lo || n > hi) {
        cli_error(cmd, CLI_USAGE, "--%s must be an integer %ld..%ld (got '%s')", settings[i].key, lo, hi, v);
        return LONG_MIN;
    }
    return n;
}

static int run(const cli_cmd *cmd, int argc, char **argv) {
    const char *config = NULL;
    int npos;
    cli_list roots = {0};
    for (int i = 0; i < S_N; i++) settings[i].val = NULL;
    const cli_opt opts[] = {
        {"config", 'c', CLI_STR, &config, "FILE", "read settings from FILE: 'key = value' lines with the long option names (env KADR_CONFIG)"},
        {"host", 0, CLI_STR, &settings[S_HOST].val, "ADDR", "address to listen on (default 127.0.0.1, env KADR_HOST)"},
        {"port", 'p', CLI_STR, &settings[S_PORT].val, "N", "port (default 8000, env KADR_PORT; 0 picks a free one)"},
        {"root", 'r', CLI_LIST, &roots, "DIR", "library root the server may touch (repeatable, env KADR_ROOTS colon-separated; default DATA/library)"},
        {"data", 'd', CLI_STR, &settings[S_DATA].val, "DIR", "data directory (default $KADR_HOME or ~/.local/share/kadr)"},
        {"token", 0, CLI_STR, &settings[S_TOKEN].val, "SECRET", "require 'Authorization: Bearer SECRET' on the API (env KADR_TOKEN)"},
        {"web", 0, CLI_STR, &settings[S_WEB].val, "DIR", "directory of the web UI's static files (env KADR_WEB)"},
        {"vendor", 0, CLI_STR, &settings[S_VENDOR].val, "DIR", "node_modules holding swagger-ui-dist and redoc (env KADR_VENDOR)"},
        {"cors", 0, CLI_STR, &settings[S_CORS].val, "ORIGIN", "allow cross-origin requests from ORIGIN or '*' (default off, env KADR_CORS)"},
        {"threads", 0, CLI_STR, &settings[S_THREADS].val, "N", "HTTP worker threads; each WebSocket holds one (default 64, env KADR_THREADS)"},
        {"max-upload-mb", 0, CLI_STR, &settings[S_MAX_UPLOAD].val, "N", "largest upload request in MiB (default 2048, env KADR_MAX_UPLOAD_MB)"},
        {"max-per-client", 0, CLI_STR, &settings[S_MAX_PER_CLIENT].val, "N", "concurrent requests per client IP, 0 = unlimited (default 10, env KADR_MAX_PER_CLIENT)"},
        {0},
    };
    int rc = cli_parse(cmd, opts, argc, argv, &npos);
    if (rc) {
        cli_list_free(&roots);
        return rc < 0 ? CLI_OK : rc;
    }
    char *roots_env = NULL, *home = NULL, *default_root = NULL, *config_text = NULL;
    if (!config) config = getenv("KADR_CONFIG");
    if (npos) rc = cli_error(cmd, CLI_USAGE, "unexpected argument '%s' (library roots go in --root)", argv[1]);
    if (!rc && roots_from_env(&roots, &roots_env)) rc = cli_error(cmd, CLI_FAIL, "out of memory");
    if (!rc && config && *config) rc = read_config(cmd, config, &config_text, &roots);
    long port = rc ? 0 : int_setting(cmd, S_PORT, 8000, 0, 65535);
    long threads = rc ? 0 : int_setting(cmd, S_THREADS, 64, 1, 4096);
    long upload_mb = rc ? 0 : int_setting(cmd, S_MAX_UPLOAD, 2048, 1, 1L << 30);
    long per_client = rc ? 0 : int_setting(cmd, S_MAX_PER_CLIENT, 10, 0, 1L << 20);
    if (!rc && (port == LONG_MIN || threads == LONG_MIN || upload_mb == LONG_MIN || per_client == LONG_MIN))
        rc = CLI_USAGE;
    const char *data = rc ? NULL : setting(S_DATA);
    if (!rc && !data && !(data = home = cli_data_home())) rc = cli_error(cmd, CLI_FAIL, "out of memory");
    if (rc) goto out;
    /* Without roots the server still needs a place for uploads. */
    if (!roots.n && !(default_root = ut_asprintf("%s/library", data))) rc = cli_error(cmd, CLI_FAIL, "out of memory");
    if (!rc && default_root && ut_mkdirs(default_root)) rc = cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
    if (rc) goto out;

    if (catch_stop_signals()) {
        rc = cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
        goto out;
    }

    api_config cfg = {
        .host = setting(S_HOST) ? setting(S_HOST) : "127.0.0.1",
        .port = (int)port,
        .roots = default_root ? (const char **)&default_root : roots.items,
        .nroots = default_root ? 1 : roots.n,
        .data_dir = data,
        .token = setting(S_TOKEN),
        .web_dir = setting(S_WEB),
        .vendor_dir = setting(S_VENDOR),
        .cors_origin = setting(S_CORS),
        .threads = (int)threads,
        .max_upload_bytes = (int64_t)upload_mb << 20,
        .max_per_client = per_client ? (int)per_client : -1,
    };
    api_server *srv;
    if (api_server_start(&cfg, &srv) != UT_OK) {
        rc = cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
        goto out;
    }
    printf("kadr %s listening on http://%s:%d/ (data in %s)\n", KADR_VERSION, cfg.host,
           api_server_port(srv), data);
    fflush(stdout);
    int sig = wait_for_signal();
    ut_info("signal %d: shutting down", sig);
    api_server_stop(srv);
out:
    cli_list_free(&roots);
    ut_free(roots_env);
    ut_free(home);
    ut_free(default_root);
    ut_free(config_text);
    return rc;
}

const cli_cmd cli_cmd_serve = {
    .name = "serve",
    .args = "",
    .summary = "run the HTTP server (REST API and web UI)",
    .description = "Serves the REST API and the web UI on http://127.0.0.1:8000/ until interrupted.\n"
                   "Library roots are the only folders the server may read or change.",
    .run = run,
};

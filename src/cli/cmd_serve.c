/* cmd_serve.c -- `kadr serve`: run the HTTP server until SIGINT/SIGTERM.
 *
 * Settings come from the command line, then the environment (KADR_HOST,
 * KADR_PORT, KADR_ROOTS colon-separated, KADR_TOKEN), then defaults. */
#include "api.h"
#include "cli.h"
#include "util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

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

static int wait_for_signal(void) {
    sigset_t set;
    int sig = 0;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigwait(&set, &sig);
    return sig;
}

static int run(const cli_cmd *cmd, int argc, char **argv) {
    const char *host = NULL, *data = NULL, *token = NULL, *web = NULL;
    int port = -1, npos;
    cli_list roots = {0};
    const cli_opt opts[] = {
        {"host", 0, CLI_STR, &host, "ADDR", "address to listen on (default 127.0.0.1, env KADR_HOST)"},
        {"port", 'p', CLI_INT, &port, "N", "port (default 8000, env KADR_PORT; 0 picks a free one)"},
        {"root", 'r', CLI_LIST, &roots, "DIR", "library root the server may touch (repeatable, env KADR_ROOTS; default DATA/library)"},
        {"data", 'd', CLI_STR, &data, "DIR", "data directory (default $KADR_HOME or ~/.local/share/kadr)"},
        {"token", 0, CLI_STR, &token, "SECRET", "require 'Authorization: Bearer SECRET' (env KADR_TOKEN)"},
        {"web", 0, CLI_STR, &web, "DIR", "directory of the web UI's static files"},
        {0},
    };
    int rc = cli_parse(cmd, opts, argc, argv, &npos);
    if (rc) {
        cli_list_free(&roots);
        return rc < 0 ? CLI_OK : rc;
    }
    char *roots_env = NULL, *home = NULL, *default_root = NULL;
    if (npos) rc = cli_error(cmd, CLI_USAGE, "unexpected argument '%s' (library roots go in --root)", argv[1]);
    if (!rc && roots_from_env(&roots, &roots_env)) rc = cli_error(cmd, CLI_FAIL, "out of memory");
    if (!rc && port < 0) port = atoi(env_or("KADR_PORT", "8000"));
    if (!rc && (port < 0 || port > 65535)) rc = cli_error(cmd, CLI_USAGE, "--port must be 0..65535");
    if (!rc && !data && !(data = home = cli_data_home())) rc = cli_error(cmd, CLI_FAIL, "out of memory");
    if (rc) goto out;
    /* Without roots the server still needs a place for uploads. */
    if (!roots.n && !(default_root = ut_asprintf("%s/library", data))) rc = cli_error(cmd, CLI_FAIL, "out of memory");
    if (!rc && default_root && ut_mkdirs(default_root)) rc = cli_error(cmd, CLI_FAIL, "%s", ut_errmsg());
    if (rc) goto out;

    /* Block the stop signals before any thread starts so that every server
     * thread inherits the mask and only sigwait() sees them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    api_config cfg = {
        .host = host ? host : env_or("KADR_HOST", "127.0.0.1"),
        .port = port,
        .roots = default_root ? (const char **)&default_root : roots.items,
        .nroots = default_root ? 1 : roots.n,
        .data_dir = data,
        .token = token ? token : getenv("KADR_TOKEN"),
        .web_dir = web,
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

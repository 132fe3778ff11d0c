/* main.c -- `kadr <command>`: the command table and dispatch.
 *
 * Only commands that are built are listed; each brings its own options
 * and help through cli_parse(). */
#include "cli.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

static const cli_cmd *const commands[] = {
    &cli_cmd_serve,
    &cli_cmd_models,
    &cli_cmd_nn,
    &cli_cmd_photo,
    &cli_cmd_sort,
    &cli_cmd_faces,
    &cli_cmd_index,
    &cli_cmd_jobs,
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out) {
    fprintf(out,
            "kadr %s -- sorts photos by the people in them, tags and classifies them.\n\n"
            "Usage: kadr <command> [options] [args]\n\nCommands:\n",
            KADR_VERSION);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out,
            "\nGlobal options:\n"
            "  -h, --help     show this help; `kadr <command> --help` for a command\n"
            "  -V, --version  print the version\n\n"
            "Environment: KADR_HOME (data directory), KADR_LOG (error|warn|info|debug)\n");
}

static const cli_cmd *find_command(const char *name) {
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i]->name, name) == 0) return commands[i];
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
        if (argc > 2 && strcmp(name, "help") == 0) {
            const cli_cmd *cmd = find_command(argv[2]);
            if (!cmd) return cli_error(NULL, CLI_USAGE, "unknown command '%s' (see kadr --help)", argv[2]);
            char *help_argv[] = {argv[2], "--help", NULL};
            return cmd->run(cmd, 2, help_argv);
        }
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(name, "-V") == 0 || strcmp(name, "--version") == 0) {
        printf("kadr %s\n", KADR_VERSION);
        return CLI_OK;
    }
    const cli_cmd *cmd = find_command(name);
    if (!cmd) return cli_error(NULL, CLI_USAGE, "unknown command '%s' (see kadr --help)", name);
    return cmd->run(cmd, argc - 1, argv + 1);
}

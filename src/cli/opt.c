/* opt.c -- declarative option parsing and generated --help text.
 *
 * Accepts --name VALUE, --name=VALUE, -x VALUE and "--" to end options;
 * flags take no value. A repeated CLI_LIST option appends. */
#include "cli.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_error(const cli_cmd *cmd, int code, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "kadr%s%s: ", cmd ? " " : "", cmd ? cmd->name : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

void cli_list_free(cli_list *l) {
    ut_free(l->items);
    l->items = NULL;
    l->n = 0;
}

void cli_help(const cli_cmd *cmd, const cli_opt *opts) {
    printf("Usage: kadr %s [options]%s%s\n\n%s\n\nOptions:\n", cmd->name,
           cmd->args[0] ? " " : "", cmd->args, cmd->description);
    for (const cli_opt *o = opts; o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "%c%c%s--%s%s%s", o->shortname ? '-' : ' ',
                 o->shortname ? o->shortname : ' ', o->shortname ? ", " : "  ", o->name,
                 o->metavar ? " " : "", o->metavar ? o->metavar : "");
        printf("  %-28s %s\n", left, o->help);
    }
    printf("  %-28s %s\n", "-h, --help", "show this help");
}

static const cli_opt *find_opt(const cli_opt *opts, const char *arg, size_t len) {
    for (const cli_opt *o = opts; o->name; o++) {
        if (len == 1 && o->shortname == arg[0]) return o;
        if (strlen(o->name) == len && strncmp(o->name, arg, len) == 0) return o;
    }
    return NULL;
}

static int set_value(const cli_cmd *cmd, const cli_opt *o, const char *val) {
    char *end;
    switch (o->kind) {
    case CLI_STR:
        *(const char **)o->dest = val;
        return CLI_OK;
    case CLI_INT: {
        errno = 0;
        long v = strtol(val, &end, 10);
        if (errno || *end || end == val || v < -2147483647L || v > 2147483647L)
            return cli_error(cmd, CLI_USAGE, "--%s expects an integer, got '%s'", o->name, val);
        *(int *)o->dest = (int)v;
        return CLI_OK;
    }
    case CLI_NUM: {
        errno = 0;
        double v = strtod(val, &end);
        if (errno || *end || end == val)
            return cli_error(cmd, CLI_USAGE, "--%s expects a number, got '%s'", o->name, val);
        *(double *)o->dest = v;
        return CLI_OK;
    }
    case CLI_LIST: {
        cli_list *l = o->dest;
        const char **items = ut_realloc(l->items, (size_t)(l->n + 1) * sizeof *items);
        if (!items) return cli_error(cmd, CLI_FAIL, "out of memory");
        items[l->n++] = val;
        l->items = items;
        return CLI_OK;
    }
    }
    return CLI_USAGE;
}

/* Handle argv[*i], an option; advances *i past its value. */
static int parse_one(const cli_cmd *cmd, const cli_opt *opts, int argc, char **argv, int *i) {
    const char *arg = argv[*i];
    int is_long = arg[1] == '-';
    const char *name = arg + (is_long ? 2 : 1);
    const char *eq = is_long ? strchr(name, '=') : NULL;
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    if (!is_long && len != 1) return cli_error(cmd, CLI_USAGE, "unknown option '%s' (see kadr %s --help)", arg, cmd->name);
    const cli_opt *o = find_opt(opts, name, len);
    if (!o) return cli_error(cmd, CLI_USAGE, "unknown option '%s' (see kadr %s --help)", arg, cmd->name);
    if (o->kind == CLI_FLAG) {
        if (eq) return cli_error(cmd, CLI_USAGE, "--%s takes no value", o->name);
        *(int *)o->dest = 1;
        return CLI_OK;
    }
    const char *val = eq ? eq + 1 : NULL;
    if (!val) {
        if (*i + 1 >= argc) return cli_error(cmd, CLI_USAGE, "--%s needs a value (%s)", o->name, o->metavar);
        val = argv[++*i];
    }
    return set_value(cmd, o, val);
}

int cli_parse(const cli_cmd *cmd, const cli_opt *opts, int argc, char **argv, int *npos) {
    int pos = 0, only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
            cli_help(cmd, opts);
            return -1;
        }
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = 1;
        } else if (!only_pos && a[0] == '-' && a[1]) {
            int rc = parse_one(cmd, opts, argc, argv, &i);
            if (rc) return rc;
        } else {
            argv[++pos] = argv[i];
        }
    }
    *npos = pos;
    return CLI_OK;
}

char *cli_data_home(void) {
    const char *home = getenv("KADR_HOME");
    if (home && *home) return ut_strdup(home);
    const char *xdg = getenv("XDG_DATA_HOME");
    if (xdg && *xdg == '/') return ut_asprintf("%s/kadr", xdg);
    home = getenv("HOME");
    return ut_asprintf("%s/.local/share/kadr", home && *home ? home : ".");
}

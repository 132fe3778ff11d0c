/* progress.c -- a one-line progress bar on stderr.
 *
 * On a terminal the line is redrawn in place at most ten times a second;
 * otherwise (logs, CI) a plain line is printed every few seconds so the
 * output stays readable when captured. */
#include "cli.h"
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

void cli_progress_init(cli_progress *p, const char *what) {
    memset(p, 0, sizeof *p);
    p->what = what;
    p->tty = isatty(STDERR_FILENO);
    p->t0 = ut_now();
}

static void eta_text(double seconds, char out[16]) {
    if (seconds < 0 || seconds > 359999) {
        snprintf(out, 16, "--:--");
        return;
    }
    int s = (int)(seconds + 0.5);
    if (s >= 3600) snprintf(out, 16, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
    else snprintf(out, 16, "%d:%02d", s / 60, s % 60);
}

void cli_progress_update(cli_progress *p, size_t done, size_t total, const char *extra) {
    double now = ut_now(), elapsed = now - p->t0;
    int last = done >= total;
    if (!last && now - p->last < (p->tty ? 0.1 : 5.0)) return;
    p->last = now;
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    char eta[16];
    eta_text(rate > 0 ? (double)(total - done) / rate : -1, eta);
    if (p->tty) {
        int width = 24, fill = total ? (int)((double)done / (double)total * width) : width;
        char bar[32];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
        bar[width] = 0;
        fprintf(stderr, "\r%s [%s] %zu/%zu  %.1f/s  %s  ETA %s\033[K", p->what, bar, done, total, rate,
                extra ? extra : "", eta);
        if (last) fputc('\n', stderr);
    } else {
        fprintf(stderr, "%s: %zu/%zu  %.1f/s  %s  ETA %s\n", p->what, done, total, rate, extra ? extra : "", eta);
    }
    fflush(stderr);
}

/* progress.c -- a one-line progress bar on stderr.
 *
 * On a terminal the line is redrawn in place at most ten times a second;
 * otherwise (logs, CI) a plain line is printed every few seconds so the
 * output stays readable when captured. Callers either let it compute rate
 * and ETA from the elapsed time (cli_progress_update) or pass their own, as
 * job events carry them (cli_progress_job). */
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

void cli_progress_draw(cli_progress *p, size_t done, size_t total, double rate, double eta_s, const char *extra) {
    double now = ut_now();
    int last = done >= total;
    if (!last && now - p->last < (p->tty ? 0.1 : 5.0)) return;
    p->last = now;
    char eta[16];
    eta_text(eta_s, eta);
    if (p->tty) {
        int width = 24, fill = total ? (int)((double)done / (double)total * width) : width;
        char bar[32];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
        bar[width] = 0;
        fprintf(stderr, "\r%s [%s] %zu/%zu  %.1f/s  %s  ETA %s\033[K", p->what, bar, done, total, rate,
                extra ? extra : "", eta);
        if (last) fputc('\n', stderr);
        p->open = !last;
    } else {
        fprintf(stderr, "%s: %zu/%zu  %.1f/s  %s  ETA %s\n", p->what, done, total, rate, extra ? extra : "", eta);
    }
    fflush(stderr);
}

void cli_progress_update(cli_progress *p, size_t done, size_t total, const char *extra) {
    double elapsed = ut_now() - p->t0;
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    cli_progress_draw(p, done, total, rate, rate > 0 ? (double)(total - done) / rate : -1, extra);
}

void cli_progress_job(const job_event *ev, void *user) {
    if (ev->kind != JOB_EV_PROGRESS || ev->total <= 0) return;
    cli_progress_draw(user, (size_t)(ev->done + ev->failed), (size_t)ev->total, ev->rate, ev->eta_s, NULL);
}

void cli_progress_end(cli_progress *p) {
    if (p->open) fputc('\n', stderr);
    p->open = 0;
}

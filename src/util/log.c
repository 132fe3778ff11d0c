/* log.c -- leveled logging to stderr, one line per call.
 *
 * Lines are written with a single fprintf under the stdio lock, so lines
 * from different threads never interleave. */
#include "util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int level = -1;
static pthread_once_t level_once = PTHREAD_ONCE_INIT;
static const char *names[] = {"error", "warn", "info", "debug"};

int ut_log_parse_level(const char *name) {
    for (int i = 0; i < 4; i++)
        if (strcasecmp(name, names[i]) == 0) return i;
    if (strcasecmp(name, "warning") == 0) return UT_LOG_WARN;
    return -1;
}

static void read_env_level(void) {
    const char *env = getenv("KADR_LOG");
    int l = env ? ut_log_parse_level(env) : -1;
    if (level < 0) level = l >= 0 ? l : UT_LOG_INFO;
}

void ut_log_set_level(int l) {
    pthread_once(&level_once, read_env_level);
    level = l;
}

int ut_log_level(void) {
    pthread_once(&level_once, read_env_level);
    return level;
}

void ut_log(int l, const char *fmt, ...) {
    if (l > ut_log_level()) return;
    char msg[1024], stamp[32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ld %-5s %s\n", stamp, ts.tv_nsec / 1000000, names[l], msg);
}

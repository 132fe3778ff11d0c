/* metrics.c -- GET /metrics (Prometheus text format 0.0.4) and the
 * per-client concurrency limiter.
 *
 * Counters are per route (index into api__routes; one extra slot for "no
 * route": 404s and static files) and per status class 1xx..5xx with the
 * exact code kept for the common ones. All updates are atomics, so the
 * dispatcher never takes a lock to count; /metrics reads a consistent
 * enough snapshot without stopping the world. */
#include "api_int.h"
#include "util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const int tracked_status[] = {200, 201, 204, 206, 304, 400, 401, 403, 404, 405,
                                     413, 429, 500, 501, 503};
#define NSTATUS ((int)(sizeof tracked_status / sizeof tracked_status[0]) + 1) /* + "other" */
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBUCKETS ((int)(sizeof buckets / sizeof buckets[0]))
#define MAX_ROUTES 64

struct api_metrics {
    atomic_llong count[MAX_ROUTES + 1][NSTATUS];
    atomic_llong hist[NBUCKETS + 1];
    atomic_llong hist_count;
    atomic_llong hist_sum_us;
    atomic_int in_flight;
};

int api__metrics_create(api_metrics **out) {
    *out = ut_calloc(1, sizeof **out);
    return *out ? UT_OK : UT_ENOMEM;
}

void api__metrics_destroy(api_metrics *m) { ut_free(m); }

void api__metrics_begin(api_metrics *m) { atomic_fetch_add(&m->in_flight, 1); }

static int status_slot(int status) {
    for (int i = 0; i < NSTATUS - 1; i++)
        if (tracked_status[i] == status) return i;
    return NSTATUS - 1;
}

void api__metrics_end(api_metrics *m, int route, int status, double seconds) {
    atomic_fetch_sub(&m->in_flight, 1);
    if (route < 0 || route >= MAX_ROUTES) route = MAX_ROUTES;
    atomic_fetch_add(&m->count[route][status_slot(status)], 1);
    int b = 0;
    while (b < NBUCKETS && seconds > buckets[b]) b++;
    atomic_fetch_add(&m->hist[b], 1);
    atomic_fetch_add(&m->hist_count, 1);
    atomic_fetch_add(&m->hist_sum_us, (long long)(seconds * 1e6));
}

static long rss_bytes(void) {
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
        fclose(f);
    }
    return rss * sysconf(_SC_PAGESIZE);
}

static void write_counters(ut_buf *b, api_metrics *m) {
    ut_buf_puts(b, "# HELP kadr_http_requests_total HTTP requests by route and status.\n"
                   "# TYPE kadr_http_requests_total counter\n");
    for (int r = 0; r <= MAX_ROUTES; r++) {
        if (r < MAX_ROUTES && (size_t)r >= api__nroutes) continue;
        const char *method = r < MAX_ROUTES ? api__routes[r].method : "ANY";
        const char *path = r < MAX_ROUTES ? api__routes[r].path : "other";
        for (int s = 0; s < NSTATUS; s++) {
            long long n = atomic_load(&m->count[r][s]);
            if (!n) continue;
            char code[8];
            if (s < NSTATUS - 1) snprintf(code, sizeof code, "%d", tracked_status[s]);
            else snprintf(code, sizeof code, "other");
            ut_buf_printf(b, "kadr_http_requests_total{method=\"%s\",route=\"%s\",status=\"%s\"} %lld\n",
                          method, path, code, n);
        }
    }
}

static void write_histogram(ut_buf *b, api_metrics *m) {
    ut_buf_puts(b, "# HELP kadr_http_request_duration_seconds Time to answer a request.\n"
                   "# TYPE kadr_http_request_duration_seconds histogram\n");
    long long cum = 0;
    for (int i = 0; i < NBUCKETS; i++) {
        cum += atomic_load(&m->hist[i]);
        ut_buf_printf(b, "kadr_http_request_duration_seconds_bucket{le=\"%g\"} %lld\n", buckets[i], cum);
    }
    cum += atomic_load(&m->hist[NBUCKETS]);
    ut_buf_printf(b, "kadr_http_request_duration_seconds_bucket{le=\"+Inf\"} %lld\n", cum);
    ut_buf_printf(b, "kadr_http_request_duration_seconds_sum %.6f\n", (double)atomic_load(&m->hist_sum_us) / 1e6);
    ut_buf_printf(b, "kadr_http_request_duration_seconds_count %lld\n", atomic_load(&m->hist_count));
}

int api__metrics(api_req *req) {
    api_server *srv = req->srv;
    ut_buf b = {0};
    write_counters(&b, srv->metrics);
    write_histogram(&b, srv->metrics);
    ut_buf_printf(&b,
                  "# HELP kadr_http_in_flight Requests being answered now (this one included).\n"
                  "# TYPE kadr_http_in_flight gauge\nkadr_http_in_flight %d\n"
                  "# HELP kadr_uptime_seconds Seconds since the server started.\n"
                  "# TYPE kadr_uptime_seconds gauge\nkadr_uptime_seconds %.3f\n"
                  "# HELP kadr_process_resident_memory_bytes Resident set size.\n"
                  "# TYPE kadr_process_resident_memory_bytes gauge\nkadr_process_resident_memory_bytes %ld\n"
                  "# HELP kadr_events_published_total Progress events published.\n"
                  "# TYPE kadr_events_published_total counter\nkadr_events_published_total %lld\n"
                  "# HELP kadr_events_dropped_total Events dropped for slow progress clients.\n"
                  "# TYPE kadr_events_dropped_total counter\nkadr_events_dropped_total %lld\n"
                  "# HELP kadr_event_clients Connected WebSocket and SSE clients.\n"
                  "# TYPE kadr_event_clients gauge\nkadr_event_clients %d\n",
                  atomic_load(&srv->metrics->in_flight), (double)(ut_wall_ms() - srv->started_ms) / 1000.0,
                  rss_bytes(), api__hub_published(srv), api__hub_dropped(srv), api_event_clients(srv));
    if (!b.data) return api__reply_error(req, 500, "internal", "out of memory");
    int status = api__reply_bytes(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
    ut_buf_free(&b);
    return status;
}

/* ---- per-client concurrency limit ------------------------------------- */

#define LIMIT_SLOTS 256

struct api_limiter {
    pthread_mutex_t mu;
    struct {
        char ip[48];
        int n;
    } slot[LIMIT_SLOTS];
};

int api__limiter_create(api_limiter **out) {
    api_limiter *l = ut_calloc(1, sizeof *l);
    if (!l) return UT_ENOMEM;
    pthread_mutex_init(&l->mu, NULL);
    *out = l;
    return UT_OK;
}

void api__limiter_destroy(api_limiter *l) {
    if (!l) return;
    pthread_mutex_destroy(&l->mu);
    ut_free(l);
}

static unsigned hash_ip(const char *ip) {
    unsigned h = 2166136261u;
    for (; *ip; ip++) h = (h ^ (unsigned char)*ip) * 16777619u;
    return h;
}

/* Open addressing; a slot whose count drops to 0 becomes free again. When
 * the table is full (256 distinct clients in flight) the request is let
 * through rather than refused: the limit protects against one greedy
 * client, not against many. */
int api__limiter_enter(api_limiter *l, const char *ip, int max) {
    if (max <= 0) return 1;
    unsigned h = hash_ip(ip);
    int ok = 1;
    pthread_mutex_lock(&l->mu);
    int free_slot = -1;
    for (int i = 0; i < LIMIT_SLOTS; i++) {
        int s = (int)((h + (unsigned)i) % LIMIT_SLOTS);
        if (l->slot[s].n && strcmp(l->slot[s].ip, ip) == 0) {
            if (l->slot[s].n >= max) ok = 0;
            else l->slot[s].n++;
            free_slot = -2;
            break;
        }
        if (!l->slot[s].n && free_slot == -1) free_slot = s;
    }
    if (free_slot >= 0) {
        snprintf(l->slot[free_slot].ip, sizeof l->slot[free_slot].ip, "%s", ip);
        l->slot[free_slot].n = 1;
    }
    pthread_mutex_unlock(&l->mu);
    return ok;
}

void api__limiter_leave(api_limiter *l, const char *ip) {
    unsigned h = hash_ip(ip);
    pthread_mutex_lock(&l->mu);
    for (int i = 0; i < LIMIT_SLOTS; i++) {
        int s = (int)((h + (unsigned)i) % LIMIT_SLOTS);
        if (l->slot[s].n && strcmp(l->slot[s].ip, ip) == 0) {
            l->slot[s].n--;
            break;
        }
    }
    pthread_mutex_unlock(&l->mu);
}

/* health.c -- GET /health: is the server up, and what is it running on. */
#include "api_int.h"
#include "util.h"

#include <sys/stat.h>
#include <unistd.h>

static json_t *roots_status(const api_server *srv) {
    json_t *arr = json_array();
    for (int i = 0; i < srv->nroots; i++) {
        struct stat st;
        int ok = stat(srv->roots[i], &st) == 0 && S_ISDIR(st.st_mode);
        json_array_append_new(arr, json_pack("{s:s, s:b, s:b}", "path", srv->roots[i], "exists", ok,
                                             "writable", ok && access(srv->roots[i], W_OK) == 0));
    }
    return arr;
}

int api__health(api_req *req) {
    api_server *srv = req->srv;
    struct stat st;
    int data_ok = stat(srv->data_dir, &st) == 0 && S_ISDIR(st.st_mode);
    json_t *body = json_pack("{s:s, s:s, s:f, s:{s:{s:s, s:s}, s:o, s:{s:s, s:i}}}",
                             "status", data_ok ? "ok" : "degraded",
                             "version", KADR_VERSION,
                             "uptime_s", (double)(ut_wall_ms() - srv->started_ms) / 1000.0,
                             "components",
                               "data_dir", "status", data_ok ? "ok" : "missing", "path", srv->data_dir,
                               "roots", roots_status(srv),
                               "events", "status", "ok", "clients", api_event_clients(req->srv));
    return api__reply_json(req, 200, body);
}

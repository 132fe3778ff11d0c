/* db.c -- catalog connections for request handlers.
 *
 * SQLite connections must not be shared between threads without a lock,
 * and one locked connection would serialise every request. So each
 * CivetWeb worker opens its own on first use and keeps it until the
 * thread ends (WAL lets them all read while a job writes). The key holds
 * the server too: tests run several servers, one after another, in one
 * process. */
#include "api_int.h"
#include "util.h"

#include <pthread.h>

typedef struct {
    const api_server *srv;
    cat_db *db;
} thread_db;

static pthread_key_t db_key;
static pthread_once_t db_once = PTHREAD_ONCE_INIT;

static void close_thread_db(void *p) {
    thread_db *t = p;
    cat_close(t->db);
    ut_free(t);
}

static void make_key(void) { pthread_key_create(&db_key, close_thread_db); }

int api__db(api_req *req, cat_db **out) {
    pthread_once(&db_once, make_key);
    thread_db *t = pthread_getspecific(db_key);
    if (t && t->srv == req->srv) {
        *out = t->db;
        return 0;
    }
    if (t) {
        cat_close(t->db);
        t->db = NULL;
    } else if (!(t = ut_calloc(1, sizeof *t)) || pthread_setspecific(db_key, t)) {
        ut_free(t);
        return api__reply_error(req, 500, "internal", "out of memory");
    }
    t->srv = req->srv;
    if (cat_open(req->srv->db_path, &t->db)) {
        t->srv = NULL;
        return api__reply_error(req, 503, "database", "cannot open the catalog: %s", ut_errmsg());
    }
    *out = t->db;
    return 0;
}

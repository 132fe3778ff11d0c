/* queue.c -- the original processing queue and task endpoints.
 *
 * The queue is a list of folders waiting to be processed, kept in memory
 * as in the original service (it moves into the catalog with the jobs
 * merge). Tasks come from the jobs module: until it is merged /api/tasks
 * is empty, unknown task ids are 404, and /api/process and
 * /api/image/preview validate their input and then answer 501. */
#include "api_int.h"
#include "util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

struct api_queue {
    pthread_mutex_t mu;
    char **paths;
    size_t n, cap;
};

int api__queue_create(api_queue **out) {
    api_queue *q = ut_calloc(1, sizeof *q);
    if (!q) return UT_ENOMEM;
    pthread_mutex_init(&q->mu, NULL);
    *out = q;
    return UT_OK;
}

static void clear_locked(api_queue *q) {
    for (size_t i = 0; i < q->n; i++) ut_free(q->paths[i]);
    q->n = 0;
}

void api__queue_destroy(api_queue *q) {
    if (!q) return;
    clear_locked(q);
    ut_free(q->paths);
    pthread_mutex_destroy(&q->mu);
    ut_free(q);
}

int api__queue_get(api_req *req) {
    api_queue *q = req->srv->queue;
    json_t *arr = json_array();
    pthread_mutex_lock(&q->mu);
    for (size_t i = 0; i < q->n; i++) json_array_append_new(arr, json_string(q->paths[i]));
    pthread_mutex_unlock(&q->mu);
    return api__reply_json(req, 200, json_pack("{s:o}", "queue", arr));
}

/* Folders named like these hold photos of several people and are skipped
 * unless includeExcluded=true (the original's list; matched per path
 * segment, not as a substring, so "gallery" is not "all"). */
static const char *const excluded_names[] = {"общие", "общая", "common", "shared", "все",
                                             "all",   "mixed", "смешанные", NULL};

static const char *excluded_segment(const char *path) {
    const char *p = path;
    while (*p) {
        while (*p == '/') p++;
        size_t n = strcspn(p, "/");
        for (int i = 0; excluded_names[i]; i++)
            if (strlen(excluded_names[i]) == n && strncasecmp(p, excluded_names[i], n) == 0)
                return excluded_names[i];
        p += n;
    }
    return NULL;
}

static int add_locked(api_queue *q, const char *path, int *added) {
    *added = 0;
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->paths[i], path) == 0) return UT_OK;
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        char **np = ut_realloc(q->paths, cap * sizeof *np);
        if (!np) return UT_ENOMEM;
        q->paths = np;
        q->cap = cap;
    }
    if (!(q->paths[q->n] = ut_strdup(path))) return UT_ENOMEM;
    q->n++;
    *added = 1;
    return UT_OK;
}

int api__queue_add(api_req *req) {
    int include_excluded, status;
    if ((status = api__query_bool(req, "includeExcluded", 0, &include_excluded))) return status;
    json_t *body;
    if ((status = api__read_json(req, 64 * 1024, &body))) return status;
    json_t *jp = json_object_get(body, "path");
    if (!jp) status = api__reply_error(req, 400, "bad_request", "field 'path' is required");
    else if (!json_is_string(jp)) status = api__reply_error(req, 400, "bad_request", "field 'path' must be a string");
    if (status) {
        json_decref(body);
        return status;
    }
    api_path ap;
    int rc = api__path_resolve(req->srv, json_string_value(jp), &ap);
    json_decref(body);
    if (rc) return api__reply_path_error(req, rc, "");
    struct stat st;
    const char *ex = excluded_segment(ap.display + strlen(req->srv->roots[ap.root]));
    if (stat(ap.real, &st) != 0 || !S_ISDIR(st.st_mode))
        status = api__reply_error(req, 404, "not_found", "folder not found: %s", ap.display);
    else if (ex && !include_excluded)
        status = api__reply_error(req, 400, "excluded", "Папки с названием '%s' не обрабатываются", ex);
    if (status) {
        api__path_free(&ap);
        return status;
    }
    api_queue *q = req->srv->queue;
    int added;
    pthread_mutex_lock(&q->mu);
    rc = add_locked(q, ap.display, &added);
    pthread_mutex_unlock(&q->mu);
    char *msg = rc ? NULL
                   : added ? ut_asprintf("Папка добавлена в очередь: %s", ap.display)
                           : ut_strdup("Папка уже в очереди");
    api__path_free(&ap);
    if (!msg) {
        ut_free(msg);
        return api__reply_error(req, 500, "internal", "out of memory");
    }
    json_t *reply = json_pack("{s:s, s:b}", "message", msg, "added", added);
    ut_free(msg);
    return api__reply_json(req, 200, reply);
}

int api__queue_clear(api_req *req) {
    api_queue *q = req->srv->queue;
    pthread_mutex_lock(&q->mu);
    clear_locked(q);
    pthread_mutex_unlock(&q->mu);
    return api__reply_json(req, 200, json_pack("{s:s}", "message", "Очередь очищена"));
}

int api__process(api_req *req) {
    api_queue *q = req->srv->queue;
    pthread_mutex_lock(&q->mu);
    size_t n = q->n;
    pthread_mutex_unlock(&q->mu);
    if (n == 0) return api__reply_error(req, 400, "queue_empty", "Очередь пуста");
    return api__reply_error(req, 501, "not_implemented",
                            "processing needs the jobs module, which is not in this build yet");
}

int api__tasks(api_req *req) {
    return api__reply_json(req, 200, json_pack("{s:[]}", "tasks"));
}

int api__task_get(api_req *req) {
    return api__reply_error(req, 404, "not_found", "Задача не найдена: %s", req->params[0]);
}

int api__preview(api_req *req) {
    api_path ap;
    int status = api__query_path(req, &ap);
    if (status) return status;
    struct stat st;
    if (stat(ap.real, &st) != 0 || !S_ISREG(st.st_mode) || !api__is_image_name(ap.real))
        status = api__reply_error(req, 404, "not_found", "Изображение не найдено");
    api__path_free(&ap);
    if (status) return status;
    char *size;
    int found = api__query(req, "size", &size);
    if (found > 0) {
        char *end;
        long v = strtol(size, &end, 10);
        if (*end || end == size || v < 16 || v > 2048)
            status = api__reply_error(req, 400, "bad_request", "query parameter 'size' must be an integer 16..2048");
    } else if (found < 0) {
        status = api__reply_error(req, 400, "bad_request", "query parameter 'size' is badly encoded");
    }
    ut_free(size);
    if (status) return status;
    return api__reply_error(req, 501, "not_implemented",
                            "previews need the img module, which is not in this build yet");
}

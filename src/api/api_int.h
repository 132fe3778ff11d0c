/* api_int.h -- shared inside src/api only: requests, routes, replies. */
#ifndef KADR_API_INT_H
#define KADR_API_INT_H

#include "api.h"

#include <civetweb.h>
#include <jansson.h>
#include <stdint.h>

#define API_MAX_PARAMS 4

struct api_server {
    struct mg_context *mg;
    char *host;
    int port;
    char **roots;
    int nroots;
    char *data_dir;
    char *token;
    char *web_dir;
    int64_t started_ms;
};

typedef struct {
    struct mg_connection *conn;
    const struct mg_request_info *info;
    api_server *srv;
    const char *params[API_MAX_PARAMS]; /* {name} segments of the route, in order */
    char param_buf[512];
} api_req;

typedef int (*api_handler)(api_req *req); /* returns the HTTP status sent */

typedef struct {
    const char *method;
    const char *path;     /* "/api/v1/jobs/{id}" */
    api_handler fn;
    const char *summary;  /* for the OpenAPI document */
    int public_route;     /* 1: no token needed (health, static files) */
} api_route;

extern const api_route api__routes[];
extern const size_t api__nroutes;

/* Find the route for method+path; fills req->params. Sets *path_known to 1
 * when the path matched some route under another method (405, not 404). */
const api_route *api__match(const char *method, const char *path, api_req *req, int *path_known);

/* Replies. Both return the status they sent. api__reply_json steals body. */
int api__reply_json(api_req *req, int status, json_t *body);
/* {"error": kind, "message": formatted, "code": status} */
int api__reply_error(api_req *req, int status, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Handlers. */
int api__health(api_req *req);

#endif

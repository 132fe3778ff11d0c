/* openapi.c -- GET /openapi.json, generated from the route table, and the
 * two documentation pages (/docs Swagger UI, /redoc ReDoc) that read it.
 *
 * The table in route.c is the only description of the API: a route added
 * there appears here with its parameters, body, responses and whether it
 * needs the bearer token. The HTML pages load swagger-ui-dist and redoc
 * from /vendor/ (installed by scripts/setup.sh; no CDN). */
#include "api_int.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static const char *status_text(int code) {
    switch (code) {
    case 400: return "Bad request: malformed JSON, wrong type or missing field (the message names it)";
    case 401: return "Missing or wrong bearer token";
    case 403: return "Path outside the library roots";
    case 404: return "Unknown id, folder or file";
    case 413: return "Upload over the configured size limit";
    case 429: return "Too many concurrent requests from this client";
    case 501: return "Needs a module not in this build yet";
    case 503: return "All stream slots taken (each stream holds a worker; raise --threads)";
    default: return "Error";
    }
}

static json_t *param_doc(const api_param *p) {
    return json_pack("{s:s, s:s, s:b, s:s, s:{s:s}}", "name", p->name, "in", p->in, "required",
                     p->required || !strcmp(p->in, "path"), "description", p->description ? p->description : "",
                     "schema", "type", p->type);
}

static json_t *responses_doc(const api_route *r) {
    const char *type = r->produces ? r->produces : "application/json";
    json_t *ok = json_pack("{s:s, s:{s:{}}}", "description", "Success", "content", type);
    if (!strcmp(type, "application/json"))
        json_object_set_new(json_object_get(json_object_get(ok, "content"), type), "schema",
                            json_pack("{s:s}", "type", "object"));
    json_t *res = json_pack("{s:o}", !strcmp(r->method, "GET") && !strcmp(r->path, "/ws") ? "101" : "200", ok);
    char errs[128];
    snprintf(errs, sizeof errs, "%s%s", r->errors ? r->errors : "", r->public_route ? "" : " 401");
    for (char *save = NULL, *tok = strtok_r(errs, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
        json_object_set_new(res, tok,
                            json_pack("{s:s, s:{s:{s:{s:s}}}}", "description", status_text(atoi(tok)), "content",
                                      "application/json", "schema", "$ref", "#/components/schemas/Error"));
    return res;
}

static json_t *operation_doc(const api_route *r) {
    char opid[160];
    size_t j = 0;
    for (const char *p = r->method; *p && j < 20; p++) opid[j++] = (char)(*p | 0x20);
    for (const char *p = r->path; *p && j + 2 < sizeof opid; p++)
        opid[j++] = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ? *p : (*p >= 'A' && *p <= 'Z' ? *p : '_');
    opid[j] = 0;
    json_t *op = json_pack("{s:s, s:s, s:[s], s:o}", "summary", r->summary, "operationId", opid, "tags",
                           r->tag ? r->tag : "native", "responses", responses_doc(r));
    json_t *params = json_array();
    for (const api_param *p = r->params; p && p->name; p++) json_array_append_new(params, param_doc(p));
    if (json_array_size(params)) json_object_set(op, "parameters", params);
    json_decref(params);
    if (r->body)
        json_object_set_new(op, "requestBody",
                            json_pack("{s:b, s:{s:{s:{s:s}}}}", "required", 1, "content", r->body, "schema", "type",
                                      "object"));
    if (r->public_route) json_object_set_new(op, "security", json_array());
    return op;
}

static json_t *build_doc(void) {
    json_t *paths = json_object();
    for (size_t i = 0; i < api__nroutes; i++) {
        const api_route *r = &api__routes[i];
        json_t *item = json_object_get(paths, r->path);
        if (!item) json_object_set_new(paths, r->path, item = json_object());
        char method[16];
        size_t k = 0;
        for (; r->method[k] && k + 1 < sizeof method; k++) method[k] = (char)(r->method[k] | 0x20);
        method[k] = 0;
        json_object_set_new(item, method, operation_doc(r));
    }
    return json_pack("{s:s, s:{s:s, s:s, s:s}, s:o, s:{s:{s:{s:s, s:s}}, s:{s:{s:s, s:[s,s,s], s:{s:{s:s}, s:{s:s}, s:{s:s}}}}}, s:[{s:[]}]}",
                     "openapi", "3.0.3",
                     "info", "title", "kadr", "version", KADR_VERSION, "description",
                     "Photo sorting by people: the original face-sorting API (/api/...) and kadr's native API.",
                     "paths", paths,
                     "components", "securitySchemes", "bearer", "type", "http", "scheme", "bearer",
                     "schemas", "Error", "type", "object", "required", "error", "message", "code",
                     "properties", "error", "type", "string", "message", "type", "string", "code", "type", "integer",
                     "security", "bearer");
}

int api__openapi(api_req *req) {
    json_t *doc = build_doc();
    if (!doc) return api__reply_error(req, 500, "internal", "cannot build the OpenAPI document");
    return api__reply_json(req, 200, doc);
}

static int page(api_req *req, const char *html) {
    return api__reply_bytes(req, 200, "text/html; charset=utf-8", html, strlen(html));
}

int api__docs(api_req *req) {
    return page(req,
                "<!doctype html><html><head><meta charset=\"utf-8\"><title>kadr API</title>"
                "<link rel=\"stylesheet\" href=\"/vendor/swagger-ui/swagger-ui.css\"></head><body>"
                "<div id=\"swagger-ui\"></div><script src=\"/vendor/swagger-ui/swagger-ui-bundle.js\"></script>"
                "<script>window.ui = SwaggerUIBundle({url: '/openapi.json', dom_id: '#swagger-ui'});</script>"
                "</body></html>");
}

int api__redoc(api_req *req) {
    return page(req,
                "<!doctype html><html><head><meta charset=\"utf-8\"><title>kadr API</title></head><body>"
                "<redoc spec-url=\"/openapi.json\"></redoc>"
                "<script src=\"/vendor/redoc/redoc.standalone.js\"></script></body></html>");
}

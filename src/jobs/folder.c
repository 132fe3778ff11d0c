/* folder.c -- the original service's folder queue (add folders, list,
 * clear, process all) as a thin layer over the catalog and the queue:
 * processing turns every waiting folder into one job. */
#include "jobs_int.h"

#include <string.h>

int job_folder_add(job_mgr *m, const char *abs_path, int64_t *id) {
    char *norm = NULL;
    if (!abs_path || abs_path[0] != '/') return ut_fail(UT_EINVAL, "jobs: a queued folder must be an absolute path");
    int rc = ut_path_normalize(abs_path, &norm);
    if (rc) return rc;
    int64_t root;
    job_mgr_lock(m);
    rc = cat_root_for_path(m->db, norm, &root);
    if (!rc) rc = cat_folder_add(m->db, norm, id);
    job_mgr_unlock(m);
    ut_free(norm);
    return rc;
}

int job_folder_list(job_mgr *m, cat_folder **out, size_t *n) {
    job_mgr_lock(m);
    int rc = cat_folder_list(m->db, out, n);
    job_mgr_unlock(m);
    return rc;
}

int job_folder_clear(job_mgr *m) {
    job_mgr_lock(m);
    int rc = cat_folder_clear(m->db);
    job_mgr_unlock(m);
    return rc;
}

/* {"folder": "<path>", <extra members>} with the path JSON-escaped. */
static char *params_for(const char *path, const char *extra) {
    ut_buf b = {0};
    int rc = ut_buf_puts(&b, "{\"folder\":\"");
    for (const unsigned char *p = (const unsigned char *)path; !rc && *p; p++) {
        if (*p == '"' || *p == '\\') rc = ut_buf_printf(&b, "\\%c", *p);
        else if (*p < 0x20) rc = ut_buf_printf(&b, "\\u%04x", *p);
        else rc = ut_buf_append(&b, p, 1);
    }
    if (!rc) rc = ut_buf_puts(&b, "\"");
    if (!rc && extra && *extra) rc = ut_buf_printf(&b, ",%s", extra);
    if (!rc) rc = ut_buf_puts(&b, "}");
    if (rc) {
        ut_buf_free(&b);
        return NULL;
    }
    return ut_buf_steal(&b);
}

int job_folder_process(job_mgr *m, const char *type, const char *extra_json, int64_t **job_ids, size_t *n) {
    cat_folder *f;
    size_t nf, made = 0;
    *job_ids = NULL;
    *n = 0;
    int rc = job_folder_list(m, &f, &nf);
    if (rc) return rc;
    int64_t *ids = ut_calloc(nf ? nf : 1, sizeof *ids);
    if (!ids) rc = ut_fail(UT_ENOMEM, "jobs: out of memory");
    for (size_t i = 0; !rc && i < nf; i++) {
        if (f[i].job_id) continue;
        int64_t root = 0;
        char *params = params_for(f[i].path, extra_json);
        if (!params) rc = ut_fail(UT_ENOMEM, "jobs: out of memory");
        job_mgr_lock(m);
        if (!rc) rc = cat_root_for_path(m->db, f[i].path, &root);
        job_mgr_unlock(m);
        if (!rc) rc = job_enqueue(m, type, params, root, &ids[made]);
        ut_free(params);
        job_mgr_lock(m);
        if (!rc) rc = cat_folder_remove(m->db, f[i].id);
        job_mgr_unlock(m);
        if (!rc) made++;
    }
    cat_folders_free(f, nf);
    if (rc && !made) {
        ut_free(ids);
        return rc;
    }
    *job_ids = ids;
    *n = made;
    return rc;
}

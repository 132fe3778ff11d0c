/* The catalog's records: roots, incremental photo checks, faces with
 * embeddings, people, re-clustering that keeps the user's work, results,
 * history, uploads, the folder queue; unknown ids and allocation
 * failures. */
#include "catalog.h"
#include "test.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>

static cat_db *open_db(const char *name) {
    char *p = ut_asprintf("%s/%s", test_tmpdir(), name);
    cat_db *db = NULL;
    if (cat_open(p, &db)) fprintf(stderr, "  open: %s\n", ut_errmsg());
    ut_free(p);
    return db;
}

static int64_t add_photo(cat_db *db, int64_t root, const char *path, const char *hash) {
    cat_photo p = {.root_id = root, .path = (char *)path, .size = 100, .mtime_ns = 5};
    snprintf(p.hash, sizeof p.hash, "%s", hash);
    snprintf(p.format, sizeof p.format, "jpeg");
    int what;
    return cat_photo_upsert(db, &p, &what) ? 0 : p.id;
}

/* n faces with embeddings e[k] = seed + k. */
static int add_faces(cat_db *db, int64_t photo, int n, float seed, int64_t *ids) {
    cat_face f[4] = {0};
    float emb[4][8];
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 8; k++) emb[i][k] = seed + (float)i + (float)k * 0.5f;
        f[i] = (cat_face){.box = {1, 2, 30, 40}, .score = 0.9f, .quality = 0.5f, .dim = 8, .embedding = emb[i]};
        for (int k = 0; k < 10; k++) f[i].landmarks[k] = (float)k;
    }
    int rc = cat_photo_set_faces(db, photo, "m", f, (size_t)n);
    for (int i = 0; i < n && ids; i++) ids[i] = f[i].id;
    return rc;
}

TEST(roots) {
    cat_db *db = open_db("roots.db");
    CHECK(db);
    int64_t a, a2, b, found;
    CHECK_EQ_INT(cat_root_add(db, "/lib/a", &a), UT_OK);
    CHECK_EQ_INT(cat_root_add(db, "/lib/a", &a2), UT_OK);
    CHECK_EQ_INT(a, a2);
    CHECK_EQ_INT(cat_root_add(db, "/lib/a/deeper", &b), UT_OK);
    CHECK_EQ_INT(cat_root_add(db, "relative", &b), UT_EINVAL);
    CHECK_EQ_INT(cat_root_add(db, "/lib/a/deeper", &b), UT_OK);
    CHECK_EQ_INT(cat_root_for_path(db, "/lib/a/deeper/x.jpg", &found), UT_OK);
    CHECK_EQ_INT(found, b);
    CHECK_EQ_INT(cat_root_for_path(db, "/lib/a/x.jpg", &found), UT_OK);
    CHECK_EQ_INT(found, a);
    CHECK_EQ_INT(cat_root_for_path(db, "/lib/ab/x.jpg", &found), UT_ENOENT);
    CHECK_EQ_INT(cat_root_find(db, "/nope", &found), UT_ENOENT);
    cat_root *list;
    size_t n;
    CHECK_EQ_INT(cat_root_list(db, &list, &n), UT_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(list[0].path, "/lib/a");
    cat_roots_free(list, n);
    CHECK_EQ_INT(cat_root_remove(db, b), UT_OK);
    CHECK_EQ_INT(cat_root_remove(db, b), UT_ENOENT);
    cat_root r;
    CHECK_EQ_INT(cat_root_get(db, b, &r), UT_ENOENT);
    cat_close(db);
}

TEST(incremental_photo_checks) {
    cat_db *db = open_db("inc.db");
    int64_t root, pid;
    int status, what;
    CHECK_EQ_INT(cat_root_add(db, "/lib", &root), UT_OK);
    CHECK_EQ_INT(cat_file_status(db, root, "x.jpg", 100, 5, &status, &pid), UT_OK);
    CHECK_EQ_INT(status, CAT_FILE_NEW);
    CHECK_EQ_INT(pid, 0);
    cat_photo p = {.root_id = root, .path = "x.jpg", .size = 100, .mtime_ns = 5, .hash = "h1", .format = "jpeg",
                   .taken_ms = 777, .camera = "Cam", .has_gps = 1, .lat = 55.75, .lon = 37.62, .width = 640, .height = 480};
    CHECK_EQ_INT(cat_photo_upsert(db, &p, &what), UT_OK);
    CHECK_EQ_INT(what, CAT_UPSERT_NEW);
    CHECK_EQ_INT(cat_file_status(db, root, "x.jpg", 100, 5, &status, &pid), UT_OK);
    CHECK_EQ_INT(status, CAT_FILE_UNCHANGED);
    CHECK_EQ_INT(pid, p.id);
    CHECK_EQ_INT(cat_file_status(db, root, "x.jpg", 100, 6, &status, &pid), UT_OK);
    CHECK_EQ_INT(status, CAT_FILE_STAT_CHANGED);
    /* Analysed with 0 faces: recorded, so it is not analysed again. */
    CHECK_EQ_INT(cat_photo_set_faces(db, p.id, "m", NULL, 0), UT_OK);
    cat_photo got;
    CHECK_EQ_INT(cat_photo_get(db, p.id, &got), UT_OK);
    CHECK_EQ_INT(got.state, CAT_PHOTO_PROCESSED);
    CHECK_EQ_INT(got.nfaces, 0);
    CHECK_EQ_STR(got.faces_model, "m");
    CHECK_EQ_STR(got.camera, "Cam");
    CHECK(got.has_gps && fabs(got.lat - 55.75) < 1e-9);
    CHECK_EQ_INT(got.width, 640);
    CHECK_EQ_INT(got.taken_ms, 777);
    cat_photo_free(&got);
    /* Touched (same hash): analysis kept. */
    cat_photo t = {.root_id = root, .path = "x.jpg", .size = 100, .mtime_ns = 9, .hash = "h1"};
    CHECK_EQ_INT(cat_photo_upsert(db, &t, &what), UT_OK);
    CHECK_EQ_INT(what, CAT_UPSERT_SAME);
    CHECK_EQ_INT(cat_photo_get(db, p.id, &got), UT_OK);
    CHECK_EQ_INT(got.state, CAT_PHOTO_PROCESSED);
    CHECK_EQ_INT(got.mtime_ns, 9);
    CHECK_EQ_STR(got.camera, "Cam"); /* unknown fields do not erase */
    cat_photo_free(&got);
    /* New content: faces and results dropped, back to INDEXED. */
    CHECK_EQ_INT(add_faces(db, p.id, 2, 0, NULL), UT_OK);
    CHECK_EQ_INT(cat_result_put(db, p.id, "clip", "tags", "{}"), UT_OK);
    cat_photo c = {.root_id = root, .path = "x.jpg", .size = 101, .mtime_ns = 10, .hash = "h2"};
    CHECK_EQ_INT(cat_photo_upsert(db, &c, &what), UT_OK);
    CHECK_EQ_INT(what, CAT_UPSERT_CHANGED);
    CHECK_EQ_INT(cat_photo_get(db, p.id, &got), UT_OK);
    CHECK_EQ_INT(got.state, CAT_PHOTO_INDEXED);
    CHECK_EQ_INT(got.nfaces, 0);
    CHECK(got.faces_model == NULL);
    cat_photo_free(&got);
    cat_face *faces;
    size_t n;
    CHECK_EQ_INT(cat_faces_of_photo(db, p.id, &faces, &n), UT_OK);
    CHECK_EQ_INT(n, 0);
    cat_faces_free(faces, n);
    char *json;
    CHECK_EQ_INT(cat_result_get(db, p.id, "clip", NULL, &json), UT_ENOENT);
    /* Missing then found again. */
    CHECK_EQ_INT(cat_photo_set_state(db, p.id, CAT_PHOTO_MISSING), UT_OK);
    CHECK_EQ_INT(cat_file_status(db, root, "x.jpg", 101, 10, &status, &pid), UT_OK);
    CHECK_EQ_INT(status, CAT_FILE_STAT_CHANGED);
    cat_photo bad = {.root_id = root, .path = "/abs.jpg", .hash = "x"};
    CHECK_EQ_INT(cat_photo_upsert(db, &bad, &what), UT_EINVAL);
    int64_t count;
    CHECK_EQ_INT(cat_photo_count(db, root, -1, &count), UT_OK);
    CHECK_EQ_INT(count, 1);
    cat_close(db);
}

TEST(faces_roundtrip_and_matrix) {
    cat_db *db = open_db("faces.db");
    int64_t root, ids[3];
    CHECK_EQ_INT(cat_root_add(db, "/lib", &root), UT_OK);
    int64_t ph = add_photo(db, root, "p.jpg", "h");
    CHECK(ph);
    CHECK_EQ_INT(add_faces(db, ph, 3, 1.0f, ids), UT_OK);
    cat_face f;
    CHECK_EQ_INT(cat_face_get(db, ids[1], &f), UT_OK);
    CHECK_EQ_INT(f.photo_id, ph);
    CHECK_EQ_INT(f.dim, 8);
    CHECK(f.embedding[3] == 1.0f + 1 + 1.5f);
    CHECK(f.landmarks[9] == 9.0f);
    CHECK(f.box[3] == 40.0f);
    CHECK(fabsf(f.score - 0.9f) < 1e-6f);
    CHECK_EQ_STR(f.model, "m");
    cat_face_free(&f);
    int64_t *mids;
    float *emb;
    size_t n;
    int dim;
    CHECK_EQ_INT(cat_face_matrix(db, "m", CAT_FACES_ALL, &mids, &emb, &n, &dim), UT_OK);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(dim, 8);
    CHECK_EQ_INT(mids[2], ids[2]);
    CHECK(emb[2 * 8 + 0] == 3.0f);
    ut_free(mids);
    ut_free(emb);
    CHECK_EQ_INT(cat_face_matrix(db, "other", CAT_FACES_ALL, &mids, &emb, &n, &dim), UT_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(cat_photo_set_faces(db, 9999, "m", NULL, 0), UT_ENOENT);
    CHECK_EQ_INT(cat_face_get(db, 9999, &f), UT_ENOENT);
    cat_face *list;
    CHECK_EQ_INT(cat_faces_of_photo(db, 9999, &list, &n), UT_ENOENT);
    cat_close(db);
}

/* Named people are anchors; clustering's work is replaced wholesale but
 * never the user's. */
TEST(reclustering_keeps_user_work) {
    cat_db *db = open_db("people.db");
    int64_t root, f[4], g[4];
    CHECK_EQ_INT(cat_root_add(db, "/lib", &root), UT_OK);
    CHECK_EQ_INT(add_faces(db, add_photo(db, root, "1.jpg", "a"), 3, 0, f), UT_OK);
    CHECK_EQ_INT(add_faces(db, add_photo(db, root, "2.jpg", "b"), 3, 10, g), UT_OK);
    /* First clustering: cluster 0 = f0,f1; cluster 1 = g0,g1; f2 noise. */
    cat_assignment a1[] = {{f[0], 0, 0}, {f[1], 0, 0}, {g[0], 0, 1}, {g[1], 0, 1}, {f[2], 0, -1}};
    int64_t *made;
    int k;
    CHECK_EQ_INT(cat_assign_replace(db, a1, 5, &made, &k), UT_OK);
    CHECK_EQ_INT(k, 2);
    int64_t ann = made[0], other = made[1];
    ut_free(made);
    /* The user names cluster 0 and pins g2 to it by hand. */
    CHECK_EQ_INT(cat_person_rename(db, ann, "Ann"), UT_OK);
    CHECK_EQ_INT(cat_face_assign(db, g[2], ann, CAT_SRC_USER), UT_OK);
    cat_anchor *anc;
    size_t na;
    CHECK_EQ_INT(cat_anchors(db, "m", &anc, &na), UT_OK);
    CHECK_EQ_INT(na, 1);
    CHECK_EQ_STR(anc[0].name, "Ann");
    CHECK_EQ_INT(anc[0].nfaces, 3);
    CHECK_EQ_INT(anc[0].dim, 8);
    CHECK(anc[0].emb[8 * 2] == 12.0f); /* g2 = seed 10 + 2 */
    cat_anchors_free(anc, na);
    int64_t *unassigned, *ids;
    float *emb;
    size_t n;
    int dim;
    CHECK_EQ_INT(cat_face_matrix(db, "m", CAT_FACES_UNASSIGNED, &unassigned, &emb, &n, &dim), UT_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(unassigned[0], f[2]);
    ut_free(unassigned);
    ut_free(emb);
    /* Re-cluster: f2 joins Ann (anchor), g0,g1 become a new cluster, and a
     * row trying to move the user's g2 is ignored. */
    cat_assignment a2[] = {{f[0], ann, -1}, {f[1], ann, -1}, {f[2], ann, -1}, {g[0], 0, 0}, {g[1], 0, 0}, {g[2], 0, 0}};
    CHECK_EQ_INT(cat_assign_replace(db, a2, 6, &made, &k), UT_OK);
    CHECK_EQ_INT(k, 1);
    cat_person p;
    CHECK_EQ_INT(cat_person_get(db, other, &p), UT_ENOENT); /* old unnamed cluster gone */
    CHECK_EQ_INT(cat_person_get(db, ann, &p), UT_OK);
    CHECK_EQ_STR(p.name, "Ann");
    CHECK_EQ_INT(p.nfaces, 4);
    cat_person_free(&p);
    cat_face fc;
    CHECK_EQ_INT(cat_face_get(db, g[2], &fc), UT_OK);
    CHECK_EQ_INT(fc.person_id, ann);
    CHECK_EQ_INT(fc.source, CAT_SRC_USER);
    cat_face_free(&fc);
    CHECK_EQ_INT(cat_face_get(db, g[0], &fc), UT_OK);
    CHECK_EQ_INT(fc.person_id, made[0]);
    CHECK_EQ_INT(fc.source, CAT_SRC_CLUSTER);
    cat_face_free(&fc);
    CHECK_EQ_INT(cat_person_photos(db, ann, &ids, &n), UT_OK);
    CHECK_EQ_INT(n, 2);
    ut_free(ids);
    /* Merge, cover, delete. */
    CHECK_EQ_INT(cat_person_merge(db, ann, made[0]), UT_OK);
    CHECK_EQ_INT(cat_person_faces(db, ann, &ids, &n), UT_OK);
    CHECK_EQ_INT(n, 6);
    ut_free(ids);
    CHECK_EQ_INT(cat_person_set_cover(db, ann, f[0]), UT_OK);
    CHECK_EQ_INT(cat_person_set_cover(db, ann, 99999), UT_ENOENT);
    cat_person *all;
    CHECK_EQ_INT(cat_person_list(db, &all, &n), UT_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(all[0].cover_face, f[0]);
    cat_people_free(all, n);
    ut_free(made);
    CHECK_EQ_INT(cat_assign_replace(db, (cat_assignment[]){{99999, 0, 0}}, 1, NULL, &k), UT_ENOENT);
    CHECK_EQ_INT(cat_person_delete(db, ann), UT_OK);
    CHECK_EQ_INT(cat_face_get(db, f[0], &fc), UT_OK);
    CHECK_EQ_INT(fc.person_id, 0);
    cat_face_free(&fc);
    cat_close(db);
}

TEST(results_history_uploads_folders) {
    cat_db *db = open_db("rec.db");
    int64_t root, id;
    CHECK_EQ_INT(cat_root_add(db, "/lib", &root), UT_OK);
    int64_t ph = add_photo(db, root, "p.jpg", "h");
    CHECK_EQ_INT(cat_result_put(db, ph, "clip", "tags", "{\"tags\":[[\"cat\",0.9]]}"), UT_OK);
    CHECK_EQ_INT(cat_result_put(db, ph, "clip", "tags", "{\"tags\":[[\"dog\",0.8]]}"), UT_OK);
    char *kind, *json;
    CHECK_EQ_INT(cat_result_get(db, ph, "clip", &kind, &json), UT_OK);
    CHECK_EQ_STR(kind, "tags");
    CHECK(strstr(json, "dog"));
    ut_free(kind);
    ut_free(json);
    CHECK_EQ_INT(cat_result_put(db, 9999, "clip", "tags", "{}"), UT_ENOENT);
    /* Malformed JSON is refused and changes nothing. */
    CHECK_EQ_INT(cat_result_put(db, ph, "clip", "tags", "{\"tags\": [oops"), UT_EINVAL);
    CHECK_EQ_INT(cat_history_add(db, "sort", NULL, "not json", &id), UT_EINVAL);
    cat_job bad = {.type = "x", .params = "{"};
    CHECK_EQ_INT(cat_job_insert(db, &bad), UT_EINVAL);
    CHECK_EQ_INT(cat_result_get(db, ph, "clip", NULL, &json), UT_OK);
    CHECK(strstr(json, "dog"));
    ut_free(json);
    int64_t *ids;
    size_t n;
    CHECK_EQ_INT(cat_result_photos(db, "clip", &ids, &n), UT_OK);
    CHECK_EQ_INT(n, 1);
    ut_free(ids);
    CHECK_EQ_INT(cat_result_delete(db, ph, "clip"), UT_OK);
    CHECK_EQ_INT(cat_result_delete(db, ph, "clip"), UT_ENOENT);

    for (int i = 0; i < 5; i++) CHECK_EQ_INT(cat_history_add(db, i % 2 ? "undo" : "sort", "/lib", "{}", &id), UT_OK);
    cat_history *h;
    CHECK_EQ_INT(cat_history_list(db, "sort", 0, 10, &h, &n), UT_OK);
    CHECK_EQ_INT(n, 3);
    CHECK(h[0].id > h[1].id);
    int64_t before = h[0].id;
    cat_history_free(h, n);
    CHECK_EQ_INT(cat_history_list(db, NULL, before, 2, &h, &n), UT_OK);
    CHECK_EQ_INT(n, 2);
    cat_history_free(h, n);

    cat_upload u = {.root_id = root, .path = "up/a.jpg", .name = "a.jpg", .content_type = "image/jpeg", .size = 5, .hash = "ff"};
    CHECK_EQ_INT(cat_upload_add(db, &u, &id), UT_OK);
    cat_upload got;
    CHECK_EQ_INT(cat_upload_get(db, id, &got), UT_OK);
    CHECK_EQ_STR(got.name, "a.jpg");
    CHECK_EQ_STR(got.hash, "ff");
    cat_upload_free(&got);
    cat_upload *ups;
    CHECK_EQ_INT(cat_upload_list(db, 0, 10, &ups, &n), UT_OK);
    CHECK_EQ_INT(n, 1);
    cat_uploads_free(ups, n);
    CHECK_EQ_INT(cat_upload_delete(db, id), UT_OK);
    CHECK_EQ_INT(cat_upload_get(db, id, &got), UT_ENOENT);

    int64_t f1, f2;
    CHECK_EQ_INT(cat_folder_add(db, "/lib/a", &f1), UT_OK);
    CHECK_EQ_INT(cat_folder_add(db, "/lib/b", &f2), UT_OK);
    CHECK_EQ_INT(cat_folder_add(db, "/lib/a", &id), UT_OK);
    CHECK_EQ_INT(id, f1);
    CHECK_EQ_INT(cat_folder_add(db, "rel", &id), UT_EINVAL);
    CHECK_EQ_INT(cat_folder_set_job(db, f1, 12345), UT_ENOENT); /* no such job */
    cat_folder *fl;
    CHECK_EQ_INT(cat_folder_list(db, &fl, &n), UT_OK);
    CHECK_EQ_INT(n, 2);
    cat_folders_free(fl, n);
    CHECK_EQ_INT(cat_folder_clear(db), UT_OK);
    CHECK_EQ_INT(cat_folder_list(db, &fl, &n), UT_OK);
    CHECK_EQ_INT(n, 0);
    cat_folders_free(fl, n);
    CHECK_EQ_INT(cat_folder_remove(db, f1), UT_ENOENT);
    cat_close(db);
}

/* 512-d embeddings: the matrix grows by far more than double per row. */
TEST(face_matrix_512d) {
    cat_db *db = open_db("m512.db");
    int64_t root;
    CHECK_EQ_INT(cat_root_add(db, "/lib", &root), UT_OK);
    static float emb[40][512];
    for (int p = 0; p < 10; p++) {
        char name[16];
        snprintf(name, sizeof name, "%d.jpg", p);
        int64_t ph = add_photo(db, root, name, name);
        cat_face f[4] = {0};
        for (int k = 0; k < 4; k++) {
            for (int d = 0; d < 512; d++) emb[p * 4 + k][d] = (float)(p * 4 + k) + (float)d / 1024.0f;
            f[k] = (cat_face){.dim = 512, .embedding = emb[p * 4 + k]};
        }
        CHECK_EQ_INT(cat_photo_set_faces(db, ph, "mbf", f, 4), UT_OK);
    }
    int64_t *ids;
    float *m;
    size_t n;
    int dim;
    CHECK_EQ_INT(cat_face_matrix(db, "mbf", CAT_FACES_ALL, &ids, &m, &n, &dim), UT_OK);
    CHECK_EQ_INT(n, 40);
    CHECK_EQ_INT(dim, 512);
    CHECK(memcmp(m, emb, sizeof emb) == 0);
    ut_free(ids);
    ut_free(m);
    cat_close(db);
}

TEST(unknown_ids_are_enoent) {
    cat_db *db = open_db("ids.db");
    cat_photo p;
    cat_person q;
    cat_job j;
    cat_root r;
    cat_upload u;
    int64_t *ids;
    size_t n;
    int st;
    char *s;
    CHECK_EQ_INT(cat_photo_get(db, 42, &p), UT_ENOENT);
    CHECK_EQ_INT(cat_photo_find(db, 1, "x", &p), UT_ENOENT);
    CHECK_EQ_INT(cat_photo_set_state(db, 42, CAT_PHOTO_ERROR), UT_ENOENT);
    CHECK_EQ_INT(cat_person_get(db, 42, &q), UT_ENOENT);
    CHECK_EQ_INT(cat_person_rename(db, 42, "x"), UT_ENOENT);
    CHECK_EQ_INT(cat_person_merge(db, 42, 43), UT_ENOENT);
    CHECK_EQ_INT(cat_person_delete(db, 42), UT_ENOENT);
    CHECK_EQ_INT(cat_person_faces(db, 42, &ids, &n), UT_ENOENT);
    CHECK_EQ_INT(cat_face_assign(db, 42, 0, CAT_SRC_USER), UT_ENOENT);
    CHECK_EQ_INT(cat_job_get(db, 42, &j), UT_ENOENT);
    CHECK_EQ_INT(cat_job_request_cancel(db, 42, &st), UT_ENOENT);
    CHECK_EQ_INT(cat_job_transition(db, 42, 0, 1, 1), UT_ENOENT);
    CHECK_EQ_INT(cat_job_delete(db, 42), UT_ENOENT);
    CHECK_EQ_INT(cat_job_item_add(db, 42, "k"), UT_ENOENT);
    CHECK_EQ_INT(cat_job_item_finish(db, 42, 1, CAT_ITEM_DONE, NULL, NULL), UT_ENOENT);
    CHECK_EQ_INT(cat_root_get(db, 42, &r), UT_ENOENT);
    CHECK_EQ_INT(cat_upload_get(db, 42, &u), UT_ENOENT);
    CHECK_EQ_INT(cat_result_get(db, 42, "m", NULL, &s), UT_ENOENT);
    CHECK(strstr(ut_errmsg(), "42"));
    cat_close(db);
}

TEST(job_storage_and_claim) {
    cat_db *db = open_db("jobs.db");
    int64_t root, id;
    CHECK_EQ_INT(cat_root_add(db, "/lib", &root), UT_OK);
    cat_job a = {.type = "sort", .params = "{\"x\":1}", .root_id = root, .exclusive = 1};
    cat_job b = {.type = "sort", .root_id = root, .exclusive = 1};
    cat_job c = {.type = "tag", .root_id = root};
    CHECK_EQ_INT(cat_job_insert(db, &a), UT_OK);
    CHECK_EQ_INT(cat_job_insert(db, &b), UT_OK);
    CHECK_EQ_INT(cat_job_insert(db, &c), UT_OK);
    const char *types[] = {"sort", "tag"};
    CHECK_EQ_INT(cat_job_claim(db, types, 2, 0, 1, &id), UT_OK);
    CHECK_EQ_INT(id, a.id);
    /* b is blocked by a on the same root; c (not exclusive) is next. */
    CHECK_EQ_INT(cat_job_claim(db, types, 2, 0, 1, &id), UT_OK);
    CHECK_EQ_INT(id, c.id);
    CHECK_EQ_INT(cat_job_claim(db, types, 2, 0, 1, &id), UT_ENOENT);
    CHECK_EQ_INT(cat_job_claim(db, NULL, 0, b.id, 1, &id), UT_EBUSY);
    CHECK_EQ_INT(cat_job_claim(db, NULL, 0, a.id, 1, &id), UT_ESTATE);
    CHECK_EQ_INT(cat_job_transition(db, a.id, CAT_JOB_RUNNING, CAT_JOB_DONE, 0), UT_OK);
    CHECK_EQ_INT(cat_job_claim(db, types, 2, 0, 1, &id), UT_OK);
    CHECK_EQ_INT(id, b.id);
    /* Items and notes. */
    for (int i = 0; i < 5; i++) {
        char key[8];
        snprintf(key, sizeof key, "k%d", i);
        CHECK_EQ_INT(cat_job_item_add(db, b.id, key), UT_OK);
    }
    CHECK_EQ_INT(cat_job_item_finish(db, b.id, 1, CAT_ITEM_DONE, "new", NULL), UT_OK);
    CHECK_EQ_INT(cat_job_item_finish(db, b.id, 2, CAT_ITEM_FAILED, NULL, "boom"), UT_OK);
    CHECK_EQ_INT(cat_job_item_finish(db, b.id, 3, CAT_ITEM_SKIPPED, "unchanged", NULL), UT_OK);
    int64_t counts[4], *seqs, requeued;
    char **keys;
    size_t n;
    CHECK_EQ_INT(cat_job_item_counts(db, b.id, counts), UT_OK);
    CHECK(counts[0] == 2 && counts[1] == 1 && counts[2] == 1 && counts[3] == 1);
    CHECK_EQ_INT(cat_job_items_next(db, b.id, 0, 10, &seqs, &keys, &n), UT_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(keys[0], "k3");
    ut_free(seqs);
    cat_strings_free(keys, n);
    char **errs;
    CHECK_EQ_INT(cat_job_items_failed(db, b.id, 10, &keys, &errs, &n), UT_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(errs[0], "boom");
    cat_strings_free(keys, n);
    cat_strings_free(errs, n);
    CHECK_EQ_INT(cat_job_items_requeue_failed(db, b.id, &requeued), UT_OK);
    CHECK_EQ_INT(requeued, 1);
    /* Cancel: queued -> cancelled at once; running -> requested. */
    cat_job d = {.type = "tag"};
    CHECK_EQ_INT(cat_job_insert(db, &d), UT_OK);
    int st, req;
    CHECK_EQ_INT(cat_job_request_cancel(db, d.id, &st), UT_OK);
    CHECK_EQ_INT(st, CAT_JOB_CANCELLED);
    CHECK_EQ_INT(cat_job_request_cancel(db, d.id, &st), UT_ESTATE);
    CHECK_EQ_INT(cat_job_request_cancel(db, b.id, &st), UT_OK);
    CHECK_EQ_INT(st, CAT_JOB_RUNNING);
    CHECK_EQ_INT(cat_job_cancel_requested(db, b.id, &req), UT_OK);
    CHECK_EQ_INT(req, 1);
    /* Orphans: b is owned by pid 1 here... use a pid that cannot exist. */
    cat_job e = {.type = "tag", .state = CAT_JOB_RUNNING, .owner_pid = 999999999};
    CHECK_EQ_INT(cat_job_insert(db, &e), UT_OK);
    int64_t orphans;
    CHECK_EQ_INT(cat_job_recover_orphans(db, 3600 * 1000, &orphans), UT_OK);
    CHECK_EQ_INT(orphans, 1);
    cat_job got;
    CHECK_EQ_INT(cat_job_get(db, e.id, &got), UT_OK);
    CHECK_EQ_INT(got.state, CAT_JOB_QUEUED);
    cat_job_free(&got);
    cat_job *list;
    CHECK_EQ_INT(cat_job_list(db, CAT_JOB_QUEUED, 0, &list, &n), UT_OK);
    CHECK_EQ_INT(n, 1);
    cat_jobs_free(list, n);
    CHECK_EQ_INT(cat_job_state_parse("cancelled"), CAT_JOB_CANCELLED);
    CHECK_EQ_INT(cat_job_state_parse("bogus"), -1);
    cat_close(db);
}

/* Every allocation these calls make can fail: the result is UT_ENOMEM,
 * outputs are cleared, nothing leaks (ASan) and the next call works. */
TEST(allocation_failures) {
    cat_db *db = open_db("oom.db");
    int64_t root;
    CHECK_EQ_INT(cat_root_add(db, "/lib", &root), UT_OK);
    int64_t ph = add_photo(db, root, "p.jpg", "h");
    CHECK_EQ_INT(add_faces(db, ph, 3, 0, NULL), UT_OK);
    int64_t person;
    CHECK_EQ_INT(cat_person_create(db, "Ann", &person), UT_OK);
    int failures = 0;
    for (long n = 1; n < 40; n++) {
        cat_photo p;
        ut_mem_fail_at(n);
        int rc = cat_photo_get(db, ph, &p);
        ut_mem_fail_at(0);
        CHECK(rc == UT_OK || rc == UT_ENOMEM);
        if (rc == UT_OK) cat_photo_free(&p);
        else failures++;

        cat_face *faces;
        size_t nf;
        ut_mem_fail_at(n);
        rc = cat_faces_of_photo(db, ph, &faces, &nf);
        ut_mem_fail_at(0);
        CHECK(rc == UT_OK || rc == UT_ENOMEM);
        if (rc == UT_OK) cat_faces_free(faces, nf);
        else CHECK(faces == NULL && nf == 0);

        cat_root *roots;
        size_t nr;
        ut_mem_fail_at(n);
        rc = cat_root_list(db, &roots, &nr);
        ut_mem_fail_at(0);
        CHECK(rc == UT_OK || rc == UT_ENOMEM);
        if (rc == UT_OK) cat_roots_free(roots, nr);

        cat_db *other = NULL;
        char *path = ut_asprintf("%s/oom.db", test_tmpdir());
        ut_mem_fail_at(n);
        rc = cat_open(path, &other);
        ut_mem_fail_at(0);
        ut_free(path);
        CHECK(rc == UT_OK || rc == UT_ENOMEM);
        CHECK((rc == UT_OK) == (other != NULL));
        cat_close(other);
    }
    CHECK(failures > 0);
    cat_photo p;
    CHECK_EQ_INT(cat_photo_get(db, ph, &p), UT_OK);
    cat_photo_free(&p);
    cat_close(db);
}

TEST(nested_transactions) {
    cat_db *db = open_db("tx.db");
    int64_t root, id;
    CHECK_EQ_INT(cat_root_add(db, "/lib", &root), UT_OK);
    CHECK_EQ_INT(cat_begin(db), UT_OK);
    CHECK_EQ_INT(cat_person_create(db, "kept", &id), UT_OK);
    CHECK_EQ_INT(cat_begin(db), UT_OK);
    CHECK_EQ_INT(cat_person_create(db, "dropped", &id), UT_OK);
    CHECK_EQ_INT(cat_rollback(db), UT_OK);
    CHECK_EQ_INT(cat_commit(db), UT_OK);
    CHECK_EQ_INT(cat_commit(db), UT_ESTATE);
    cat_person *all;
    size_t n;
    CHECK_EQ_INT(cat_person_list(db, &all, &n), UT_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(all[0].name, "kept");
    cat_people_free(all, n);
    cat_close(db);
}

int main(int argc, char **argv) { return test_main(argc, argv); }

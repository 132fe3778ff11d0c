/* schema.c -- versioned schema migrations, applied at open.
 *
 * PRAGMA user_version holds the schema version. migrations[v] takes a
 * database from version v to v + 1; each step runs in its own write
 * transaction together with the version bump, so a crash mid-migration
 * leaves the previous version intact. Steps are append-only: never edit a
 * released step, add a new one (tests build every old version from these
 * steps and migrate it to the latest).
 *
 * People and jobs use AUTOINCREMENT: their ids are handed to users and
 * clients, and must never be reused for a different person or job.
 *
 * Types stay portable (INTEGER, REAL, TEXT, BLOB); JSON is TEXT, checked
 * with json_valid() so that it stays readable as PostgreSQL JSONB. The
 * PostgreSQL backend will carry its own DDL with the same tables. */
#include "catalog_int.h"

static const char *const migrations[] = {
    /* 0 -> 1: library, photos, faces, people. */
    "CREATE TABLE roots(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  path TEXT NOT NULL UNIQUE,\n"
    "  created_ms INTEGER NOT NULL);\n"
    "CREATE TABLE photos(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  root_id INTEGER NOT NULL REFERENCES roots(id) ON DELETE CASCADE,\n"
    "  path TEXT NOT NULL,\n"
    "  size INTEGER NOT NULL,\n"
    "  mtime_ns INTEGER NOT NULL,\n"
    "  hash TEXT,\n"
    "  format TEXT,\n"
    "  taken_ms INTEGER,\n"
    "  camera TEXT,\n"
    "  lat REAL, lon REAL,\n"
    "  width INTEGER, height INTEGER,\n"
    "  state INTEGER NOT NULL DEFAULT 0,\n"
    "  nfaces INTEGER NOT NULL DEFAULT 0,\n"
    "  faces_model TEXT,\n"
    "  indexed_ms INTEGER,\n"
    "  UNIQUE(root_id, path));\n"
    "CREATE INDEX photos_hash ON photos(hash);\n"
    "CREATE TABLE people(\n"
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  name TEXT,\n"
    "  cover_face INTEGER,\n"
    "  created_ms INTEGER NOT NULL,\n"
    "  updated_ms INTEGER NOT NULL);\n"
    "CREATE TABLE faces(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,\n"
    "  model TEXT NOT NULL,\n"
    "  x REAL, y REAL, w REAL, h REAL,\n"
    "  landmarks BLOB,\n"
    "  score REAL,\n"
    "  dim INTEGER NOT NULL DEFAULT 0,\n"
    "  embedding BLOB);\n"
    "CREATE INDEX faces_photo ON faces(photo_id);\n"
    "CREATE TABLE face_person(\n"
    "  face_id INTEGER PRIMARY KEY REFERENCES faces(id) ON DELETE CASCADE,\n"
    "  person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,\n"
    "  source INTEGER NOT NULL,\n"
    "  created_ms INTEGER NOT NULL);\n"
    "CREATE INDEX face_person_person ON face_person(person_id);\n",

    /* 1 -> 2: the durable job queue. */
    "CREATE TABLE jobs(\n"
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  type TEXT NOT NULL,\n"
    "  params TEXT NOT NULL DEFAULT '{}' CHECK(json_valid(params)),\n"
    "  state INTEGER NOT NULL,\n"
    "  root_id INTEGER REFERENCES roots(id) ON DELETE SET NULL,\n"
    "  exclusive INTEGER NOT NULL DEFAULT 0,\n"
    "  planned INTEGER NOT NULL DEFAULT 0,\n"
    "  total INTEGER NOT NULL DEFAULT 0,\n"
    "  done INTEGER NOT NULL DEFAULT 0,\n"
    "  failed INTEGER NOT NULL DEFAULT 0,\n"
    "  skipped INTEGER NOT NULL DEFAULT 0,\n"
    "  current TEXT, rate REAL NOT NULL DEFAULT 0, eta_s REAL NOT NULL DEFAULT -1,\n"
    "  message TEXT, error TEXT, result TEXT CHECK(result IS NULL OR json_valid(result)),\n"
    "  cancel_requested INTEGER NOT NULL DEFAULT 0,\n"
    "  owner_pid INTEGER NOT NULL DEFAULT 0,\n"
    "  heartbeat_ms INTEGER NOT NULL DEFAULT 0,\n"
    "  attempts INTEGER NOT NULL DEFAULT 0,\n"
    "  created_ms INTEGER NOT NULL,\n"
    "  started_ms INTEGER NOT NULL DEFAULT 0,\n"
    "  finished_ms INTEGER NOT NULL DEFAULT 0,\n"
    "  updated_ms INTEGER NOT NULL DEFAULT 0);\n"
    "CREATE INDEX jobs_state ON jobs(state, id);\n"
    "CREATE TABLE job_items(\n"
    "  job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,\n"
    "  seq INTEGER NOT NULL,\n"
    "  key TEXT NOT NULL,\n"
    "  state INTEGER NOT NULL DEFAULT 0,\n"
    "  note TEXT,\n"
    "  error TEXT,\n"
    "  PRIMARY KEY(job_id, seq));\n"
    "CREATE TABLE job_events(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,\n"
    "  ts_ms INTEGER NOT NULL,\n"
    "  kind TEXT NOT NULL,\n"
    "  state INTEGER NOT NULL,\n"
    "  done INTEGER, total INTEGER, failed INTEGER,\n"
    "  current TEXT, rate REAL, eta_s REAL, message TEXT);\n"
    "CREATE INDEX job_events_job ON job_events(job_id, id);\n",

    /* 2 -> 3: face quality, analysis results, history, uploads, folder
     * queue. */
    "ALTER TABLE faces ADD COLUMN quality REAL NOT NULL DEFAULT 0;\n"
    "CREATE TABLE results(\n"
    "  photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,\n"
    "  model TEXT NOT NULL,\n"
    "  kind TEXT NOT NULL,\n"
    "  data TEXT NOT NULL CHECK(json_valid(data)),\n"
    "  created_ms INTEGER NOT NULL,\n"
    "  PRIMARY KEY(photo_id, model));\n"
    "CREATE INDEX results_model ON results(model, photo_id);\n"
    "CREATE TABLE history(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  ts_ms INTEGER NOT NULL,\n"
    "  kind TEXT NOT NULL,\n"
    "  subject TEXT,\n"
    "  data TEXT CHECK(data IS NULL OR json_valid(data)));\n"
    "CREATE INDEX history_kind ON history(kind, id);\n"
    "CREATE TABLE uploads(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  root_id INTEGER REFERENCES roots(id) ON DELETE SET NULL,\n"
    "  path TEXT NOT NULL,\n"
    "  name TEXT,\n"
    "  content_type TEXT,\n"
    "  size INTEGER NOT NULL,\n"
    "  hash TEXT,\n"
    "  created_ms INTEGER NOT NULL);\n"
    "CREATE TABLE folder_queue(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  path TEXT NOT NULL UNIQUE,\n"
    "  added_ms INTEGER NOT NULL,\n"
    "  job_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL);\n",
};

#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

int cat_schema_latest(void) { return NMIGRATIONS; }

/* One step, with the version read inside the write transaction so two
 * processes opening a fresh database at once do not both migrate it.
 * *now is the version after the step. */
static int step(cat_db *db, int target, int *now) {
    int rc = cat_begin(db), from;
    if (rc) return rc;
    rc = cat_schema_version(db, &from);
    if (rc || from >= target) {
        *now = from;
        cat_rollback(db);
        return rc;
    }
    char bump[48];
    snprintf(bump, sizeof bump, "PRAGMA user_version=%d", from + 1);
    rc = cat__exec_script(db, migrations[from]);
    if (!rc) rc = cat__exec_script(db, bump);
    if (rc) {
        cat_rollback(db);
        return ut_failf_wrap(rc, "catalog: migrating schema %d -> %d", from, from + 1);
    }
    *now = from + 1;
    return cat_commit(db);
}

int cat__migrate(cat_db *db, int target) {
    if (target <= 0) target = NMIGRATIONS;
    if (target > NMIGRATIONS)
        return ut_fail(UT_EINVAL, "catalog: schema version %d does not exist (latest %d)", target,
                       NMIGRATIONS);
    int v;
    int rc = cat_schema_version(db, &v);
    while (!rc && v < target) {
        if (v > NMIGRATIONS) break;
        rc = step(db, target, &v);
    }
    if (!rc && v > NMIGRATIONS)
        return ut_fail(UT_EUNSUPPORTED,
                       "catalog: %s has schema version %d, newer than this kadr (%d); "
                       "upgrade kadr or use another --db",
                       db->path, v, NMIGRATIONS);
    return rc;
}

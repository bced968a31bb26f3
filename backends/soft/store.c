/* The soft backend's SQLite store: schema v1, prepared statements, transactions, and the rule
 * that a damaged database is reported (CKR_DEVICE_ERROR, "... is damaged: ...") and never
 * modified, recreated or deleted. Callers serialise access to each connection (struct store). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "store.h"

#define BUSY_TIMEOUT_MS 60000

enum {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_DATA_VERSION,
    ST_META_GET,
    ST_META_SET,
    ST_SE_LIST,
    ST_SE_GET,
    ST_SE_COUNT,
    ST_SE_INSERT,
    ST_FAIL_SO,
    ST_FAIL_USER,
    ST_RESET_SO,
    ST_RESET_USER,
    ST_SE_BLOCK,
    ST_PIN_SO,
    ST_PIN_USER,
    ST_PIN_USER_INIT,
    ST_SE_REINIT,
    ST_SE_DELETE,
    ST_OBJ_INSERT,
    ST_OBJ_GET,
    ST_OBJ_INFO,
    ST_OBJ_UPDATE,
    ST_OBJ_DELETE,
    ST_OBJ_DELETE_SE,
    ST_OBJ_LABEL,
    ST__COUNT
};

#define SE_COLUMNS                                                                                 \
    "seq, name, se_id, se_type, level, lifecycle, created, max_retries, so_salt, so_iter, "        \
    "so_wrap, so_fail, user_salt, user_iter, user_wrap, user_fail, epoch"

static const char *const sql_text[ST__COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_DATA_VERSION] = "PRAGMA data_version",
    [ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [ST_META_SET] = "UPDATE meta SET value = ?2 WHERE key = ?1",
    [ST_SE_LIST] = "SELECT " SE_COLUMNS " FROM se ORDER BY seq",
    [ST_SE_GET] = "SELECT " SE_COLUMNS " FROM se WHERE seq = ?1",
    [ST_SE_COUNT] = "SELECT count(*) FROM se",
    [ST_SE_INSERT] = "INSERT INTO se(" SE_COLUMNS ") VALUES "
                     "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 0, NULL, NULL, NULL, 0, ?12)",
    [ST_FAIL_SO] = "UPDATE se SET so_fail = so_fail + 1 WHERE seq = ?1",
    [ST_FAIL_USER] = "UPDATE se SET user_fail = user_fail + 1 WHERE seq = ?1",
    [ST_RESET_SO] = "UPDATE se SET so_fail = 0 WHERE seq = ?1 AND so_wrap = ?2",
    [ST_RESET_USER] = "UPDATE se SET user_fail = 0 WHERE seq = ?1 AND user_wrap = ?2",
    [ST_SE_BLOCK] = "UPDATE se SET lifecycle = 2 WHERE seq = ?1 AND so_fail >= max_retries",
    [ST_PIN_SO] = "UPDATE se SET so_salt = ?2, so_iter = ?3, so_wrap = ?4, so_fail = 0 "
                  "WHERE seq = ?1 AND so_wrap = ?5",
    [ST_PIN_USER] = "UPDATE se SET user_salt = ?2, user_iter = ?3, user_wrap = ?4, user_fail = 0 "
                    "WHERE seq = ?1 AND user_wrap = ?5",
    [ST_PIN_USER_INIT] =
        "UPDATE se SET user_salt = ?2, user_iter = ?3, user_wrap = ?4, user_fail = 0, "
        "lifecycle = CASE WHEN lifecycle = 0 THEN 1 ELSE lifecycle END "
        "WHERE seq = ?1 AND epoch = ?5",
    [ST_SE_REINIT] = "UPDATE se SET name = ?2, so_wrap = ?3, so_fail = 0, user_salt = NULL, "
                     "user_iter = NULL, user_wrap = NULL, user_fail = 0, lifecycle = 0, "
                     "epoch = ?5 WHERE seq = ?1 AND so_wrap = ?4 AND epoch = ?5 - 1",
    [ST_SE_DELETE] = "DELETE FROM se WHERE seq = ?1 AND so_wrap = ?2",
    [ST_OBJ_INSERT] =
        "INSERT INTO obj(se, class, key_type, id, label, private, attrs, secret, mac) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [ST_OBJ_GET] = "SELECT se, class, key_type, id, label, private, attrs, secret, mac "
                   "FROM obj WHERE oid = ?1",
    [ST_OBJ_INFO] = "SELECT se, private FROM obj WHERE oid = ?1",
    [ST_OBJ_UPDATE] = "UPDATE obj SET class = ?2, key_type = ?3, id = ?4, label = ?5, "
                      "private = ?6, attrs = ?7, secret = ?8, mac = ?9 WHERE oid = ?1",
    [ST_OBJ_DELETE] = "DELETE FROM obj WHERE oid = ?1 AND se = ?2",
    [ST_OBJ_DELETE_SE] = "DELETE FROM obj WHERE se = ?1",
    [ST_OBJ_LABEL] = "SELECT 1 FROM obj WHERE se = ?1 AND class = ?2 AND label IS ?3 LIMIT 1",
};

/* Created only on an empty database, in one transaction. */
static const char schema_sql[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value);"
    "CREATE TABLE se(seq INTEGER PRIMARY KEY, name TEXT NOT NULL, se_id TEXT NOT NULL UNIQUE,"
    " se_type INTEGER NOT NULL, level INTEGER NOT NULL, lifecycle INTEGER NOT NULL,"
    " created INTEGER NOT NULL, max_retries INTEGER NOT NULL,"
    " so_salt BLOB NOT NULL, so_iter INTEGER NOT NULL, so_wrap BLOB NOT NULL,"
    " so_fail INTEGER NOT NULL DEFAULT 0,"
    " user_salt BLOB, user_iter INTEGER, user_wrap BLOB, user_fail INTEGER NOT NULL DEFAULT 0,"
    " epoch INTEGER NOT NULL DEFAULT 1);"
    "CREATE TABLE obj(oid INTEGER PRIMARY KEY AUTOINCREMENT,"
    " se INTEGER NOT NULL REFERENCES se(seq) ON DELETE CASCADE,"
    " class INTEGER NOT NULL, key_type INTEGER, id BLOB, label BLOB,"
    " private INTEGER NOT NULL, attrs BLOB NOT NULL, secret BLOB, mac BLOB);"
    "CREATE INDEX obj_se_label ON obj(se, label);"
    "CREATE INDEX obj_se_id ON obj(se, id);"
    "CREATE INDEX obj_se_class ON obj(se, class, key_type);"
    "INSERT INTO meta(key, value) VALUES ('schema_version', 1), ('next_seq', 1);";

struct store {
    sqlite3 *db;
    char *path; /* <dir>/sea.db */
    bool in_txn;
    bool damaged; /* never checkpoint into a damaged file */
    sqlite3_stmt *st[ST__COUNT];
    sqlite3_stmt *find[STORE_F__ALL + 1]; /* prepared on first use, by query shape */
};

static const uint8_t empty_blob[1];

/* ---- errors ---- */

static CK_RV oom(void)
{
    return err_set(ORIGIN_BACKEND, CKR_HOST_MEMORY, "soft store: out of memory");
}

/* Turn an SQLite result into a CK_RV and an error record. Corruption is called damage, so that
 * users know the file itself is bad (and that it was left alone). */
static CK_RV db_err(struct store *s, int rc, const char *what)
{
    const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        s->damaged = true;
        return err_set(ORIGIN_BACKEND, CKR_DEVICE_ERROR, "store %s is damaged: %s", s->path, msg);
    case SQLITE_NOMEM:
        return err_set(ORIGIN_BACKEND, CKR_HOST_MEMORY, "store %s: out of memory (%s)", s->path,
                       what);
    case SQLITE_FULL:
        return err_set(ORIGIN_BACKEND, CKR_DEVICE_MEMORY, "store %s: disk full (%s)", s->path,
                       what);
    case SQLITE_READONLY:
        return err_set(ORIGIN_BACKEND, CKR_TOKEN_WRITE_PROTECTED, "store %s is read-only (%s): %s",
                       s->path, what, msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return err_set(ORIGIN_BACKEND, CKR_DEVICE_ERROR,
                       "store %s stayed locked by another process for %d s (%s)", s->path,
                       BUSY_TIMEOUT_MS / 1000, what);
    default:
        return err_set(ORIGIN_BACKEND, CKR_DEVICE_ERROR, "store %s: %s failed: %s", s->path, what,
                       msg);
    }
}

/* ---- statement helpers ---- */

static int bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n)
{
    if (!p)
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_blob64(st, i, n ? p : empty_blob, n, SQLITE_STATIC);
}

/* Finish a statement: reset it (ending its implicit read transaction) and drop the bindings,
 * which may point at caller memory. */
static void done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Step a statement to completion (rows ignored); *changes gets the rows it modified. */
static CK_RV run(struct store *s, sqlite3_stmt *st, const char *what, bool *changed)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    CK_RV rv = rc == SQLITE_DONE ? CKR_OK : db_err(s, rc, what);
    if (changed)
        *changed = rv == CKR_OK && sqlite3_changes(s->db) > 0;
    done(st);
    return rv;
}

/* Step once, expecting at most one row; *row says whether there was one. The statement is
 * left on that row for the caller to read; the caller calls done(). */
static CK_RV step_one(struct store *s, sqlite3_stmt *st, const char *what, bool *row)
{
    int rc = sqlite3_step(st);
    *row = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        return CKR_OK;
    CK_RV rv = db_err(s, rc, what);
    done(st);
    return rv;
}

static CK_RV bind_err(struct store *s, sqlite3_stmt *st, int rc, const char *what)
{
    CK_RV rv = db_err(s, rc, what);
    done(st);
    return rv;
}

/* A blob column of exactly n bytes into out; false if NULL or of another size. */
static bool column_fixed(sqlite3_stmt *st, int col, uint8_t *out, size_t n)
{
    if (sqlite3_column_type(st, col) != SQLITE_BLOB || (size_t)sqlite3_column_bytes(st, col) != n)
        return false;
    memcpy(out, sqlite3_column_blob(st, col), n);
    return true;
}

/* A malloc'd copy of a blob column (NULL for SQL NULL). */
static CK_RV column_dup(sqlite3_stmt *st, int col, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return CKR_OK;
    const void *p = sqlite3_column_blob(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    *out = malloc(n ? n : 1);
    if (!*out)
        return oom();
    if (n)
        memcpy(*out, p, n);
    *len = n;
    return CKR_OK;
}

static void column_text(sqlite3_stmt *st, int col, char *out, size_t size)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(out, size, "%s", t ? (const char *)t : "");
}

/* ---- opening ---- */

/* mkdir -p with mode 0700 for every directory it creates. */
static CK_RV make_dirs(const char *dir)
{
    CK_RV rv = CKR_OK;
    if (!*dir)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "the store path is empty");
    char *p = strdup(dir);
    if (!p)
        return oom();
    for (char *q = p + 1;; q++) {
        bool end = *q == '\0';
        if (*q != '/' && !end)
            continue;
        *q = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            rv = err_set(ORIGIN_BACKEND, CKR_DEVICE_ERROR, "cannot create directory %s: %s", p,
                         strerror(errno));
            goto out;
        }
        if (end)
            break;
        *q = '/';
    }
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        rv = err_set(ORIGIN_BACKEND, CKR_DEVICE_ERROR, "store path %s is not a directory", dir);
out:
    free(p);
    return rv;
}

/* The database file is created by us, not by SQLite, to get mode 0600 whatever the umask;
 * SQLite gives its -wal and -shm files the database's mode. An existing file is never opened
 * here: closing any descriptor of the file drops every POSIX lock this process holds on it,
 * those of our other open connections included, and another process would then take the WAL
 * away from under them. The mutex keeps another thread's connection from opening a file we
 * just created before our descriptor is closed. */
static CK_RV create_file(struct store *s)
{
    static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&create_lock);
    int fd = open(s->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int e = errno;
    if (fd >= 0)
        close(fd);
    pthread_mutex_unlock(&create_lock);
    if (fd >= 0 || e == EEXIST)
        return CKR_OK;
    return err_set(ORIGIN_BACKEND, CKR_DEVICE_ERROR, "cannot create store %s: %s", s->path,
                   strerror(e));
}

static CK_RV exec(struct store *s, const char *sql, const char *what)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? CKR_OK : db_err(s, rc, what);
}

/* A one-shot query returning one integer (for pragmas and the schema checks at open). */
static CK_RV query_int(struct store *s, const char *sql, const char *what, int64_t *out, bool *row)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return db_err(s, rc, what);
    CK_RV rv = step_one(s, st, what, row);
    if (rv == CKR_OK && *row)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rv;
}

static CK_RV set_pragmas(struct store *s, bool sync_full)
{
    sqlite3_stmt *st = NULL;
    bool row = false;
    CK_RV rv = CKR_OK;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return db_err(s, rc, "setting WAL mode");
    if ((rv = step_one(s, st, "setting WAL mode", &row)) != CKR_OK)
        goto out;
    const unsigned char *mode = row ? sqlite3_column_text(st, 0) : NULL;
    if (!mode || strcmp((const char *)mode, "wal") != 0) {
        rv = err_set(ORIGIN_BACKEND, CKR_DEVICE_ERROR,
                     "store %s: cannot use WAL mode (journal mode is %s)", s->path,
                     mode ? (const char *)mode : "unknown");
        goto out;
    }
    /* NORMAL survives process crashes (kill -9); FULL also survives power loss. */
    rv = exec(s, sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
              "setting synchronous");
    if (rv == CKR_OK)
        rv = exec(s, "PRAGMA foreign_keys=ON", "enabling foreign keys");
    /* Up to 16 MiB of pages per connection (SQLite's default is 2 MiB): with 100,000 objects
     * the label index and the rows a lookup touches stay in memory instead of being read again
     * from the file (doc/benchmarks.md, find by label). Filled only as pages are used. */
    if (rv == CKR_OK)
        rv = exec(s, "PRAGMA cache_size=-16384", "sizing the page cache");
out:
    sqlite3_finalize(st);
    return rv;
}

/* Create schema v1 on an empty database, or check the version of an existing one. */
static CK_RV check_schema(struct store *s)
{
    int64_t n = 0, version = 0;
    bool row = false;
    CK_RV rv = query_int(s, "SELECT count(*) FROM sqlite_master", "reading the schema", &n, &row);
    if (rv != CKR_OK)
        return rv;
    if (n == 0) {
        if ((rv = store_begin(s)) != CKR_OK)
            return rv;
        /* another process may have created it while we waited for the write lock */
        rv = query_int(s, "SELECT count(*) FROM sqlite_master", "reading the schema", &n, &row);
        if (rv == CKR_OK && n == 0) {
            rv = exec(s, schema_sql, "creating the schema");
            if (rv == CKR_OK)
                LOGI("created store %s (schema v%d)", s->path, STORE_SCHEMA_VERSION);
        }
        if (rv == CKR_OK)
            rv = store_commit(s);
        if (rv != CKR_OK) {
            store_rollback(s);
            return rv;
        }
    }
    int64_t tables = 0;
    rv = query_int(s,
                   "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                   "('meta', 'se', 'obj')",
                   "reading the schema", &tables, &row);
    if (rv != CKR_OK)
        return rv;
    if (tables != 3)
        return err_set(ORIGIN_BACKEND, CKR_DEVICE_ERROR,
                       "store %s is not a libsea store (it holds other tables)", s->path);
    rv = query_int(s, "SELECT value FROM meta WHERE key = 'schema_version'", "reading meta",
                   &version, &row);
    if (rv != CKR_OK)
        return rv;
    if (!row || version < 1)
        return err_set(ORIGIN_BACKEND, CKR_DEVICE_ERROR,
                       "store %s is not a libsea store (no schema version)", s->path);
    if (version > STORE_SCHEMA_VERSION)
        return err_set(ORIGIN_BACKEND, CKR_DEVICE_ERROR,
                       "store %s has schema version %lld, newer than this libsea knows (%d): "
                       "use a newer libsea",
                       s->path, (long long)version, STORE_SCHEMA_VERSION);
    /* v1 gained these columns before any release; a store without them is a development one */
    int64_t cols = 0;
    rv = query_int(s,
                   "SELECT (SELECT count(*) FROM pragma_table_info('se') WHERE name = 'epoch') + "
                   "(SELECT count(*) FROM pragma_table_info('obj') WHERE name = 'mac')",
                   "reading the schema", &cols, &row);
    if (rv == CKR_OK && cols != 2)
        rv = err_set(ORIGIN_BACKEND, CKR_DEVICE_ERROR,
                     "store %s was made by a development version of libsea (no epoch and mac "
                     "columns): move it away and let libsea create a new one",
                     s->path);
    return rv;
}

static CK_RV prepare_all(struct store *s)
{
    for (size_t i = 0; i < ST__COUNT; i++) {
        int rc =
            sqlite3_prepare_v3(s->db, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
        if (rc != SQLITE_OK)
            return db_err(s, rc, "preparing statements");
    }
    return CKR_OK;
}

CK_RV store_open(const char *dir, bool sync_full, struct store **out)
{
    CK_RV rv;
    uint32_t next = 0;
    unsigned nse = 0;
    struct store *s = calloc(1, sizeof(*s));
    if (!s)
        return oom();
    size_t len = strlen(dir) + sizeof("/sea.db");
    if (!(s->path = malloc(len))) {
        rv = oom();
        goto out;
    }
    snprintf(s->path, len, "%s/sea.db", dir);
    if ((rv = make_dirs(dir)) != CKR_OK || (rv = create_file(s)) != CKR_OK)
        goto out;
    int rc = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rv = db_err(s, rc, "opening");
        goto out;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    /* The first reads run here, so damage is found at open: SQLite checks the header against
     * the file's size (truncation) when it first reads, then schema, meta and se are read. */
    if ((rv = set_pragmas(s, sync_full)) != CKR_OK || (rv = check_schema(s)) != CKR_OK ||
        (rv = prepare_all(s)) != CKR_OK || (rv = store_next_seq(s, &next)) != CKR_OK ||
        (rv = store_se_count(s, &nse)) != CKR_OK)
        goto out;
    LOGD("opened store %s: %u SEs, next seq %u", s->path, nse, next);
    *out = s;
    s = NULL;
out:
    store_close(s);
    return rv;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    if (s->in_txn)
        store_rollback(s);
    for (size_t i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(s->st[i]);
    for (size_t i = 0; i < ARRAY_SIZE(s->find); i++)
        sqlite3_finalize(s->find[i]);
    if (s->db) {
        /* closing the last connection checkpoints the WAL into the file: not into a bad one */
        if (s->damaged)
            sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
        sqlite3_close(s->db);
    }
    free(s->path);
    free(s);
}

const char *store_path(const struct store *s)
{
    return s->path;
}

bool store_damaged(const struct store *s)
{
    return s && s->damaged;
}

void store_set_damaged(struct store *s)
{
    if (s)
        s->damaged = true;
}

/* ---- transactions and change detection ---- */

CK_RV store_data_version(struct store *s, int64_t *out)
{
    bool row = false;
    sqlite3_stmt *st = s->st[ST_DATA_VERSION];
    CK_RV rv = step_one(s, st, "reading data_version", &row);
    if (rv != CKR_OK)
        return rv;
    *out = row ? sqlite3_column_int64(st, 0) : 0;
    done(st);
    return CKR_OK;
}

const volatile void *store_wal_index(struct store *s)
{
    sqlite3_file *f = NULL;
    volatile void *p = NULL;
    /* Through the VFS's own xShmMap (region 0, never extended): the mapping SQLite reads and
     * writes itself, no file descriptor of ours (closing one would drop SQLite's fcntl locks on
     * the file for the whole process). */
    if (!s || !s->db ||
        sqlite3_file_control(s->db, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK || !f ||
        !f->pMethods || f->pMethods->iVersion < 2 || !f->pMethods->xShmMap ||
        f->pMethods->xShmMap(f, 0, 32768, 0, &p) != SQLITE_OK)
        return NULL;
    return p;
}

CK_RV store_begin(struct store *s)
{
    if (s->in_txn)
        return err_set(ORIGIN_BACKEND, CKR_GENERAL_ERROR, "store %s: nested transaction", s->path);
    /* sqlite3_exec here: store_begin also runs at open, before the statements exist */
    sqlite3_stmt *st = s->st[ST_BEGIN];
    CK_RV rv = st ? run(s, st, "starting a transaction", NULL)
                  : exec(s, "BEGIN IMMEDIATE", "starting a transaction");
    s->in_txn = rv == CKR_OK;
    return rv;
}

CK_RV store_commit(struct store *s)
{
    sqlite3_stmt *st = s->st[ST_COMMIT];
    CK_RV rv = st ? run(s, st, "committing", NULL) : exec(s, "COMMIT", "committing");
    if (rv == CKR_OK || sqlite3_get_autocommit(s->db))
        s->in_txn = false;
    return rv;
}

void store_rollback(struct store *s)
{
    /* an error may already have rolled the transaction back */
    if (!sqlite3_get_autocommit(s->db)) {
        sqlite3_stmt *st = s->st[ST_ROLLBACK];
        if (st) {
            sqlite3_step(st);
            done(st);
        } else {
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        }
    }
    s->in_txn = false;
}

/* ---- meta ---- */

CK_RV store_next_seq(struct store *s, uint32_t *out)
{
    bool row = false;
    sqlite3_stmt *st = s->st[ST_META_GET];
    int rc = sqlite3_bind_text(st, 1, "next_seq", -1, SQLITE_STATIC);
    if (rc != SQLITE_OK)
        return bind_err(s, st, rc, "reading meta");
    CK_RV rv = step_one(s, st, "reading meta", &row);
    if (rv != CKR_OK)
        return rv;
    int64_t v = row ? sqlite3_column_int64(st, 0) : 0;
    done(st);
    if (v < 1 || v > UINT32_MAX)
        return err_set(ORIGIN_BACKEND, CKR_DEVICE_ERROR,
                       "store %s is damaged: meta next_seq is missing or invalid", s->path);
    *out = (uint32_t)v;
    return CKR_OK;
}

CK_RV store_set_next_seq(struct store *s, uint32_t seq)
{
    sqlite3_stmt *st = s->st[ST_META_SET];
    int rc = sqlite3_bind_text(st, 1, "next_seq", -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 2, seq);
    if (rc != SQLITE_OK)
        return bind_err(s, st, rc, "writing meta");
    return run(s, st, "writing meta", NULL);
}

/* ---- SEs ---- */

static bool read_pin(sqlite3_stmt *st, int col, struct pin_rec *p)
{
    memset(p, 0, sizeof(*p));
    int64_t fail = sqlite3_column_int64(st, col + 3);
    if (fail < 0 || fail > UINT32_MAX)
        return false;
    p->fail = (unsigned)fail;
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return true; /* no PIN of this role */
    int64_t iter = sqlite3_column_int64(st, col + 1);
    if (iter < 1 || iter > UINT32_MAX || !column_fixed(st, col, p->salt, STORE_SALT_LEN) ||
        !column_fixed(st, col + 2, p->wrap, STORE_WRAP_LEN))
        return false;
    p->iter = (unsigned)iter;
    p->set = true;
    return true;
}

/* A text column of 1 (0 if may_be_empty) to max bytes into out (max + 1 bytes). */
static bool column_name(sqlite3_stmt *st, int col, char *out, size_t max, bool may_be_empty)
{
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    if (sqlite3_column_type(st, col) != SQLITE_TEXT || n > max || (n == 0 && !may_be_empty))
        return false;
    column_text(st, col, out, max + 1);
    return strlen(out) == n; /* no NUL inside */
}

/* One row of SE_COLUMNS. Returns NULL, or what is wrong: a value this version never writes,
 * which only damage or tampering produces (a raised level would claim a protection a software
 * SE does not give; the lifecycle must agree with the user PIN that init_pin and se_reinit
 * set and clear together with it). */
static const char *read_se(sqlite3_stmt *st, struct se_row *r)
{
    memset(r, 0, sizeof(*r));
    int64_t seq = sqlite3_column_int64(st, 0);
    int64_t type = sqlite3_column_int64(st, 3), level = sqlite3_column_int64(st, 4);
    int64_t lifecycle = sqlite3_column_int64(st, 5), retries = sqlite3_column_int64(st, 7);
    int64_t epoch = sqlite3_column_int64(st, 16);
    if (seq < 1 || seq > UINT32_MAX)
        return "a bad seq";
    if (!column_name(st, 1, r->name, SE_NAME_MAX, true) ||
        !column_name(st, 2, r->se_id, SE_ID_MAX, false))
        return "a bad name or id";
    if (type != STORE_SE_TYPE)
        return "an SE type other than software (4)";
    if (level < 0 || level > STORE_MAX_LEVEL)
        return "a security level above what a software SE can claim";
    if (lifecycle < SE_PERSONALIZATION || lifecycle > SE_BLOCKED)
        return "an unknown lifecycle state";
    if (retries < 1 || retries > STORE_MAX_RETRIES)
        return "a PIN retry limit outside 1..100";
    if (epoch < 1 || epoch > UINT32_MAX)
        return "a bad epoch";
    r->seq = (uint32_t)seq;
    r->se_type = (unsigned)type;
    r->level = (unsigned)level;
    r->lifecycle = (unsigned)lifecycle;
    r->created = sqlite3_column_int64(st, 6);
    r->max_retries = (unsigned)retries;
    r->epoch = (uint32_t)epoch;
    if (!read_pin(st, 8, &r->pin[ROLE_SO]) || !r->pin[ROLE_SO].set ||
        !read_pin(st, 12, &r->pin[ROLE_USER]))
        return "malformed PIN records";
    bool user = r->pin[ROLE_USER].set;
    if ((lifecycle == SE_PERSONALIZATION && user) || (lifecycle == SE_OPERATIONAL && !user))
        return "a lifecycle state that disagrees with its user PIN";
    return NULL;
}

static CK_RV bad_se_row(struct store *s, int64_t seq, const char *why)
{
    return err_set(ORIGIN_BACKEND, CKR_DEVICE_ERROR, "store %s is damaged: SE %lld has %s", s->path,
                   (long long)seq, why);
}

CK_RV store_se_list(struct store *s, struct se_row **rows, size_t *n)
{
    sqlite3_stmt *st = s->st[ST_SE_LIST];
    struct se_row *v = NULL;
    size_t cnt = 0, cap = 0;
    CK_RV rv = CKR_OK;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct se_row *nv = realloc(v, ncap * sizeof(*nv));
            if (!nv) {
                rv = oom();
                goto out;
            }
            v = nv;
            cap = ncap;
        }
        const char *why = read_se(st, &v[cnt]);
        if (why) {
            rv = bad_se_row(s, sqlite3_column_int64(st, 0), why);
            goto out;
        }
        cnt++;
    }
    if (rc != SQLITE_DONE) {
        rv = db_err(s, rc, "reading SEs");
        goto out;
    }
    *rows = v;
    *n = cnt;
    v = NULL;
out:
    done(st);
    free(v);
    return rv;
}

CK_RV store_se_get(struct store *s, uint32_t seq, struct se_row *row, bool *found)
{
    sqlite3_stmt *st = s->st[ST_SE_GET];
    int rc = sqlite3_bind_int64(st, 1, seq);
    if (rc != SQLITE_OK)
        return bind_err(s, st, rc, "reading an SE");
    CK_RV rv = step_one(s, st, "reading an SE", found);
    if (rv != CKR_OK)
        return rv;
    const char *why = *found ? read_se(st, row) : NULL;
    if (why)
        rv = bad_se_row(s, seq, why);
    done(st);
    return rv;
}

CK_RV store_se_count(struct store *s, unsigned *out)
{
    bool row = false;
    sqlite3_stmt *st = s->st[ST_SE_COUNT];
    CK_RV rv = step_one(s, st, "counting SEs", &row);
    if (rv != CKR_OK)
        return rv;
    *out = row ? (unsigned)sqlite3_column_int64(st, 0) : 0;
    done(st);
    return CKR_OK;
}

CK_RV store_se_insert(struct store *s, const struct se_row *r)
{
    sqlite3_stmt *st = s->st[ST_SE_INSERT];
    const struct pin_rec *so = &r->pin[ROLE_SO];
    int rc;
    if ((rc = sqlite3_bind_int64(st, 1, r->seq)) != SQLITE_OK ||
        (rc = sqlite3_bind_text(st, 2, r->name, -1, SQLITE_STATIC)) != SQLITE_OK ||
        (rc = sqlite3_bind_text(st, 3, r->se_id, -1, SQLITE_STATIC)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 4, r->se_type)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 5, r->level)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 6, r->lifecycle)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 7, r->created)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 8, r->max_retries)) != SQLITE_OK ||
        (rc = bind_blob(st, 9, so->salt, STORE_SALT_LEN)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 10, so->iter)) != SQLITE_OK ||
        (rc = bind_blob(st, 11, so->wrap, STORE_WRAP_LEN)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 12, r->epoch)) != SQLITE_OK)
        return bind_err(s, st, rc, "creating an SE");
    rc = sqlite3_step(st);
    done(st);
    if (rc == SQLITE_DONE)
        return CKR_OK;
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "store %s: an SE with id %s exists",
                       s->path, r->se_id);
    return db_err(s, rc, "creating an SE");
}

/* Bind seq and a wrap, run, report whether a row changed. */
static CK_RV update_seq_wrap(struct store *s, int idx, uint32_t seq, const uint8_t *wrap,
                             const char *what, bool *changed)
{
    sqlite3_stmt *st = s->st[idx];
    int rc = sqlite3_bind_int64(st, 1, seq);
    if (rc == SQLITE_OK && wrap)
        rc = bind_blob(st, 2, wrap, STORE_WRAP_LEN);
    if (rc != SQLITE_OK)
        return bind_err(s, st, rc, what);
    return run(s, st, what, changed);
}

CK_RV store_pin_fail(struct store *s, uint32_t seq, enum store_role role)
{
    return update_seq_wrap(s, role == ROLE_SO ? ST_FAIL_SO : ST_FAIL_USER, seq, NULL,
                           "counting a PIN try", NULL);
}

CK_RV store_pin_reset(struct store *s, uint32_t seq, enum store_role role,
                      const uint8_t wrap[STORE_WRAP_LEN], bool *changed)
{
    return update_seq_wrap(s, role == ROLE_SO ? ST_RESET_SO : ST_RESET_USER, seq, wrap,
                           "resetting a PIN counter", changed);
}

CK_RV store_se_block(struct store *s, uint32_t seq)
{
    return update_seq_wrap(s, ST_SE_BLOCK, seq, NULL, "blocking an SE", NULL);
}

CK_RV store_se_delete(struct store *s, uint32_t seq, const uint8_t so_wrap[STORE_WRAP_LEN],
                      bool *changed)
{
    return update_seq_wrap(s, ST_SE_DELETE, seq, so_wrap, "deleting an SE", changed);
}

/* Bind seq and a PIN record (?1 .. ?4) of one of the PIN statements. */
static int bind_pin(sqlite3_stmt *st, uint32_t seq, const struct pin_rec *p)
{
    int rc;
    if ((rc = sqlite3_bind_int64(st, 1, seq)) != SQLITE_OK ||
        (rc = bind_blob(st, 2, p->salt, STORE_SALT_LEN)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 3, p->iter)) != SQLITE_OK ||
        (rc = bind_blob(st, 4, p->wrap, STORE_WRAP_LEN)) != SQLITE_OK)
        return rc;
    return SQLITE_OK;
}

CK_RV store_pin_set(struct store *s, uint32_t seq, enum store_role role, const struct pin_rec *p,
                    const uint8_t old_wrap[STORE_WRAP_LEN], bool *changed)
{
    sqlite3_stmt *st = s->st[role == ROLE_SO ? ST_PIN_SO : ST_PIN_USER];
    int rc = bind_pin(st, seq, p);
    if (rc == SQLITE_OK)
        rc = bind_blob(st, 5, old_wrap, STORE_WRAP_LEN);
    if (rc != SQLITE_OK)
        return bind_err(s, st, rc, "setting a PIN");
    return run(s, st, "setting a PIN", changed);
}

CK_RV store_user_pin_init(struct store *s, uint32_t seq, const struct pin_rec *p, uint32_t epoch,
                          bool *changed)
{
    sqlite3_stmt *st = s->st[ST_PIN_USER_INIT];
    int rc = bind_pin(st, seq, p);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 5, epoch);
    if (rc != SQLITE_OK)
        return bind_err(s, st, rc, "setting the user PIN");
    return run(s, st, "setting the user PIN", changed);
}

CK_RV store_se_reinit(struct store *s, uint32_t seq, const char *name,
                      const uint8_t new_wrap[STORE_WRAP_LEN],
                      const uint8_t old_wrap[STORE_WRAP_LEN], uint32_t new_epoch, bool *changed)
{
    sqlite3_stmt *st = s->st[ST_SE_REINIT];
    int rc;
    if ((rc = sqlite3_bind_int64(st, 1, seq)) != SQLITE_OK ||
        (rc = sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC)) != SQLITE_OK ||
        (rc = bind_blob(st, 3, new_wrap, STORE_WRAP_LEN)) != SQLITE_OK ||
        (rc = bind_blob(st, 4, old_wrap, STORE_WRAP_LEN)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 5, new_epoch)) != SQLITE_OK)
        return bind_err(s, st, rc, "re-initialising an SE");
    return run(s, st, "re-initialising an SE", changed);
}

/* ---- objects ---- */

/* Bind the columns shared by insert and update (?2 .. ?9; ?1 is se or oid). */
static int bind_obj(sqlite3_stmt *st, const struct obj_row *r)
{
    int rc;
    if ((rc = sqlite3_bind_int64(st, 2, (int64_t)r->cls)) != SQLITE_OK ||
        (rc = r->has_key_type ? sqlite3_bind_int64(st, 3, (int64_t)r->key_type)
                              : sqlite3_bind_null(st, 3)) != SQLITE_OK ||
        (rc = bind_blob(st, 4, r->id, r->id_len)) != SQLITE_OK ||
        (rc = bind_blob(st, 5, r->label, r->label_len)) != SQLITE_OK ||
        (rc = sqlite3_bind_int(st, 6, r->priv ? 1 : 0)) != SQLITE_OK ||
        (rc = bind_blob(st, 7, r->attrs, r->attrs_len)) != SQLITE_OK ||
        (rc = bind_blob(st, 8, r->secret, r->secret_len)) != SQLITE_OK ||
        (rc = bind_blob(st, 9, r->mac, r->mac_len)) != SQLITE_OK)
        return rc;
    return SQLITE_OK;
}

CK_RV store_obj_insert(struct store *s, const struct obj_row *r, int64_t *oid)
{
    sqlite3_stmt *st = s->st[ST_OBJ_INSERT];
    int rc = sqlite3_bind_int64(st, 1, r->se);
    if (rc == SQLITE_OK)
        rc = bind_obj(st, r);
    if (rc != SQLITE_OK)
        return bind_err(s, st, rc, "storing an object");
    rc = sqlite3_step(st);
    done(st);
    if (rc == SQLITE_DONE) {
        *oid = sqlite3_last_insert_rowid(s->db);
        return CKR_OK;
    }
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        return err_set(ORIGIN_BACKEND, CKR_TOKEN_NOT_PRESENT, "SE %u no longer exists", r->se);
    return db_err(s, rc, "storing an object");
}

/* A nullable blob or text column's size; false if it holds anything else. */
static bool column_opt(sqlite3_stmt *st, int col, size_t *len)
{
    int t = sqlite3_column_type(st, col);
    *len = t == SQLITE_NULL ? 0 : (size_t)sqlite3_column_bytes(st, col);
    return t == SQLITE_NULL || t == SQLITE_BLOB || t == SQLITE_TEXT;
}

/* id and label of an object row (columns 3, 4) as copies in one buffer. */
static CK_RV column_id_label(sqlite3_stmt *st, struct obj_row *r)
{
    size_t n[2];
    if (!column_opt(st, 3, &n[0]) || !column_opt(st, 4, &n[1]))
        return CKR_DEVICE_ERROR;
    if (!(r->owned = malloc(n[0] + n[1] + 1)))
        return oom();
    uint8_t *p = r->owned;
    for (int i = 0; i < 2; i++) {
        const uint8_t **dst = i == 0 ? &r->id : &r->label;
        size_t *len = i == 0 ? &r->id_len : &r->label_len;
        *dst = NULL;
        *len = n[i];
        if (sqlite3_column_type(st, 3 + i) == SQLITE_NULL)
            continue;
        if (n[i])
            memcpy(p, sqlite3_column_blob(st, 3 + i), n[i]);
        *dst = p;
        p += n[i];
    }
    return CKR_OK;
}

CK_RV store_obj_get(struct store *s, int64_t oid, struct obj_row *r, bool *found)
{
    sqlite3_stmt *st = s->st[ST_OBJ_GET];
    memset(r, 0, sizeof(*r));
    int rc = sqlite3_bind_int64(st, 1, oid);
    if (rc != SQLITE_OK)
        return bind_err(s, st, rc, "reading an object");
    CK_RV rv = step_one(s, st, "reading an object", found);
    if (rv != CKR_OK || !*found)
        goto out;
    int64_t se = sqlite3_column_int64(st, 0);
    int kt = sqlite3_column_type(st, 2);
    if (se < 1 || se > UINT32_MAX || sqlite3_column_type(st, 6) != SQLITE_BLOB ||
        (kt != SQLITE_NULL && kt != SQLITE_INTEGER)) {
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    r->oid = oid;
    r->se = (uint32_t)se;
    r->cls = (CK_OBJECT_CLASS)sqlite3_column_int64(st, 1);
    r->has_key_type = kt == SQLITE_INTEGER;
    r->key_type = r->has_key_type ? (CK_KEY_TYPE)sqlite3_column_int64(st, 2) : 0;
    r->priv = sqlite3_column_int(st, 5) != 0;
    if ((rv = column_id_label(st, r)) != CKR_OK ||
        (rv = column_dup(st, 6, &r->attrs, &r->attrs_len)) != CKR_OK ||
        (rv = column_dup(st, 7, &r->secret, &r->secret_len)) != CKR_OK ||
        (rv = column_dup(st, 8, &r->mac, &r->mac_len)) != CKR_OK)
        goto out;
out:
    if (rv == CKR_DEVICE_ERROR)
        rv = err_set(ORIGIN_BACKEND, CKR_DEVICE_ERROR,
                     "object %lld in store %s: stored data fails its integrity check",
                     (long long)oid, s->path);
    if (rv != CKR_OK)
        store_obj_row_clear(r);
    done(st);
    return rv;
}

CK_RV store_obj_info(struct store *s, int64_t oid, uint32_t *se, bool *priv, bool *found)
{
    sqlite3_stmt *st = s->st[ST_OBJ_INFO];
    int rc = sqlite3_bind_int64(st, 1, oid);
    if (rc != SQLITE_OK)
        return bind_err(s, st, rc, "reading an object");
    CK_RV rv = step_one(s, st, "reading an object", found);
    if (rv != CKR_OK)
        return rv;
    if (*found) {
        int64_t v = sqlite3_column_int64(st, 0);
        *se = v < 1 || v > UINT32_MAX ? 0 : (uint32_t)v;
        *priv = sqlite3_column_int(st, 1) != 0;
    }
    done(st);
    return CKR_OK;
}

void store_obj_row_clear(struct obj_row *r)
{
    free(r->attrs);
    free(r->secret);
    free(r->mac);
    free(r->owned);
    r->attrs = r->secret = r->mac = r->owned = NULL;
    r->id = r->label = NULL;
    r->attrs_len = r->secret_len = r->mac_len = r->id_len = r->label_len = 0;
}

CK_RV store_obj_update(struct store *s, const struct obj_row *r)
{
    sqlite3_stmt *st = s->st[ST_OBJ_UPDATE];
    int rc = sqlite3_bind_int64(st, 1, r->oid);
    if (rc == SQLITE_OK)
        rc = bind_obj(st, r);
    if (rc != SQLITE_OK)
        return bind_err(s, st, rc, "updating an object");
    return run(s, st, "updating an object", NULL);
}

CK_RV store_obj_delete(struct store *s, uint32_t se, int64_t oid, bool *found)
{
    sqlite3_stmt *st = s->st[ST_OBJ_DELETE];
    int rc = sqlite3_bind_int64(st, 1, oid);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 2, se);
    if (rc != SQLITE_OK)
        return bind_err(s, st, rc, "deleting an object");
    return run(s, st, "deleting an object", found);
}

CK_RV store_obj_delete_se(struct store *s, uint32_t se)
{
    sqlite3_stmt *st = s->st[ST_OBJ_DELETE_SE];
    int rc = sqlite3_bind_int64(st, 1, se);
    if (rc != SQLITE_OK)
        return bind_err(s, st, rc, "deleting objects");
    return run(s, st, "deleting objects", NULL);
}

CK_RV store_obj_label_exists(struct store *s, uint32_t se, CK_OBJECT_CLASS cls, const void *label,
                             size_t len, bool *exists)
{
    sqlite3_stmt *st = s->st[ST_OBJ_LABEL];
    int rc;
    if ((rc = sqlite3_bind_int64(st, 1, se)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 2, (int64_t)cls)) != SQLITE_OK ||
        (rc = bind_blob(st, 3, label, len)) != SQLITE_OK)
        return bind_err(s, st, rc, "looking up a label");
    CK_RV rv = step_one(s, st, "looking up a label", exists);
    if (rv == CKR_OK)
        done(st);
    return rv;
}

/* The find statement for one query shape, prepared on first use and kept: at most
 * STORE_F__ALL + 1 shapes exist, each served by the (se, label), (se, id) or
 * (se, class, key_type) index. */
static CK_RV find_stmt(struct store *s, unsigned flags, sqlite3_stmt **out)
{
    if (s->find[flags]) {
        *out = s->find[flags];
        return CKR_OK;
    }
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT oid%s FROM obj WHERE se = ?1%s%s%s%s%s%s",
             flags & STORE_F_ATTRS ? ", attrs" : "", flags & STORE_F_CLASS ? " AND class = ?2" : "",
             flags & STORE_F_KEY_TYPE ? " AND key_type = ?3" : "",
             flags & STORE_F_ID ? " AND id = ?4" : "",
             flags & STORE_F_LABEL ? " AND label = ?5" : "",
             flags & STORE_F_PRIVATE ? " AND private = ?6" : "",
             flags & STORE_F_PUBLIC_ONLY ? " AND private = 0" : "");
    int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->find[flags], NULL);
    if (rc != SQLITE_OK)
        return db_err(s, rc, "preparing a find");
    *out = s->find[flags];
    return CKR_OK;
}

CK_RV store_obj_find(struct store *s, const struct store_query *q, store_row_fn fn, void *ctx)
{
    unsigned f = q->flags & STORE_F__ALL;
    sqlite3_stmt *st = NULL;
    CK_RV rv = find_stmt(s, f, &st);
    if (rv != CKR_OK)
        return rv;
    int rc = sqlite3_bind_int64(st, 1, q->se);
    if (rc == SQLITE_OK && (f & STORE_F_CLASS))
        rc = sqlite3_bind_int64(st, 2, (int64_t)q->cls);
    if (rc == SQLITE_OK && (f & STORE_F_KEY_TYPE))
        rc = sqlite3_bind_int64(st, 3, (int64_t)q->key_type);
    if (rc == SQLITE_OK && (f & STORE_F_ID))
        rc = sqlite3_bind_blob64(st, 4, q->id_len ? q->id : empty_blob, q->id_len, SQLITE_STATIC);
    if (rc == SQLITE_OK && (f & STORE_F_LABEL))
        rc = sqlite3_bind_blob64(st, 5, q->label_len ? q->label : empty_blob, q->label_len,
                                 SQLITE_STATIC);
    if (rc == SQLITE_OK && (f & STORE_F_PRIVATE))
        rc = sqlite3_bind_int(st, 6, q->priv ? 1 : 0);
    if (rc != SQLITE_OK)
        return bind_err(s, st, rc, "finding objects");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const uint8_t *attrs = NULL;
        size_t alen = 0;
        if (f & STORE_F_ATTRS) {
            attrs = sqlite3_column_blob(st, 1);
            alen = (size_t)sqlite3_column_bytes(st, 1);
        }
        if ((rv = fn(ctx, sqlite3_column_int64(st, 0), attrs, alen)) != CKR_OK)
            goto out;
    }
    if (rc != SQLITE_DONE)
        rv = db_err(s, rc, "finding objects");
out:
    done(st);
    return rv;
}

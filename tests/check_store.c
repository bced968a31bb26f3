/* Unit tests of the software SE backend (backends/soft) through soft_backend_ops directly: SE
 * creation and numbering, PIN retry counters and lockout across processes, objects, finds,
 * caches seen from a second instance, SE isolation, damaged stores and config checking. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../backends/soft/soft.h"
#include "config.h"
#include "crypto.h"
#include "error.h"
#include "log.h"
#include "schema.h"

#define SO_PIN   "so-secret-1"
#define USER_PIN "user-secret-1"
#define P(s)     ((const uint8_t *)(s))
#define L(s)     strlen(s)

static const struct sea_backend_ops *ops = &soft_backend_ops;
static char tmpdir[64];
static char store_dir[128];

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_store.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(store_dir, sizeof(store_dir), "%s/dev/store", tmpdir);
    ck_assert_int_eq(crypto_init(), CKR_OK);
    err_clear();
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void teardown(void)
{
    crypto_fini();
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- helpers ---- */

static char *db_path(char *buf, size_t n, const char *suffix)
{
    snprintf(buf, n, "%s/sea.db%s", store_dir, suffix);
    return buf;
}

/* Open the device at store_dir with kdf_iterations=1000 and the extra config lines given. */
static CK_RV try_open(const char *extra, struct bdev **d)
{
    char text[1024];
    struct config *cfg = NULL;
    snprintf(text, sizeof(text), "[device t]\nbackend = soft\npath = %s\nkdf_iterations = 1000\n%s",
             store_dir, extra ? extra : "");
    ck_assert_int_eq(config_parse(text, strlen(text), "test.conf", &cfg), CKR_OK);
    const struct config_section *sec = NULL;
    for (size_t i = 0; i < cfg->nsec; i++)
        if (cfg->sec[i].name && strcmp(cfg->sec[i].name, "t") == 0)
            sec = &cfg->sec[i];
    ck_assert_ptr_nonnull(sec);
    err_clear();
    CK_RV rv = ops->dev_open("t", sec, d);
    config_free(cfg);
    return rv;
}

static struct bdev *open_dev(const char *extra)
{
    struct bdev *d = NULL;
    CK_RV rv = try_open(extra, &d);
    ck_assert_msg(rv == CKR_OK, "dev_open: 0x%lx %s", rv, err_get()->msg);
    return d;
}

static CK_RV create_se(struct bdev *d, uint32_t seq, const char *name, const char *id,
                       unsigned retries, struct se_desc *out)
{
    struct se_create_params p = {.name = name,
                                 .se_id = id,
                                 .level = 1,
                                 .max_retries = retries,
                                 .so_pin = P(SO_PIN),
                                 .so_pin_len = L(SO_PIN)};
    struct se_desc tmp;
    return ops->se_create(d, seq, &p, out ? out : &tmp);
}

/* The next free seq, then an SE created there. */
static uint32_t new_se(struct bdev *d, const char *name, unsigned retries)
{
    struct se_desc *list = NULL, desc;
    size_t n = 0;
    uint32_t next = 0;
    char id[SE_ID_MAX + 1];
    ck_assert_int_eq(ops->se_list(d, &list, &n, &next), CKR_OK);
    free(list);
    snprintf(id, sizeof(id), "4test%u", next);
    CK_RV rv = create_se(d, next, name, id, retries, &desc);
    ck_assert_msg(rv == CKR_OK, "se_create: 0x%lx %s", rv, err_get()->msg);
    ck_assert_uint_eq(desc.seq, next);
    return next;
}

/* The descriptor of SE seq as se_list gives it (fails the test if it is missing). */
static struct se_desc get_desc(struct bdev *d, uint32_t seq)
{
    struct se_desc *list = NULL, out = {0};
    size_t n = 0;
    uint32_t next = 0;
    bool found = false;
    ck_assert_int_eq(ops->se_list(d, &list, &n, &next), CKR_OK);
    for (size_t i = 0; i < n; i++) {
        if (list[i].seq == seq) {
            out = list[i];
            found = true;
        }
    }
    free(list);
    ck_assert_msg(found, "SE %u not listed", seq);
    return out;
}

/* An SE with a user PIN, nobody logged in. */
static uint32_t ready_se(struct bdev *d, const char *name, unsigned retries)
{
    uint32_t seq = new_se(d, name, retries);
    ck_assert_int_eq(ops->login(d, seq, CKU_SO, P(SO_PIN), L(SO_PIN)), CKR_OK);
    ck_assert_int_eq(ops->init_pin(d, seq, P(USER_PIN), L(USER_PIN)), CKR_OK);
    ops->logout(d, seq);
    return seq;
}

static void login_user(struct bdev *d, uint32_t seq)
{
    CK_RV rv = ops->login(d, seq, CKU_USER, P(USER_PIN), L(USER_PIN));
    ck_assert_msg(rv == CKR_OK, "login: 0x%lx %s", rv, err_get()->msg);
}

static struct attrs *make_attrs(const CK_ATTRIBUTE *t, CK_ULONG n)
{
    struct attrs *a = NULL;
    CK_RV rv = schema_create(t, n, false, &a);
    ck_assert_msg(rv == CKR_OK, "schema_create: 0x%lx %s", rv, err_get()->msg);
    return a;
}

static CK_OBJECT_HANDLE data_obj(struct bdev *d, uint32_t seq, const char *label, const void *value,
                                 size_t len, bool priv, unsigned flags)
{
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL token = (flags & OBJ_SESSION) ? CK_FALSE : CK_TRUE, p = priv ? CK_TRUE : CK_FALSE;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
                        {CKA_TOKEN, &token, 1},
                        {CKA_PRIVATE, &p, 1},
                        {CKA_LABEL, (void *)label, strlen(label)},
                        {CKA_VALUE, (void *)value, len}};
    struct attrs *a = make_attrs(t, ARRAY_SIZE(t));
    CK_OBJECT_HANDLE h = 0;
    CK_RV rv = ops->obj_create(d, seq, a, flags, &h);
    attrs_unref(a);
    ck_assert_msg(rv == CKR_OK, "obj_create: 0x%lx %s", rv, err_get()->msg);
    ck_assert_uint_ne(h, 0);
    return h;
}

static const uint8_t aes_value[32] = {
    0xA7, 0x1C, 0x33, 0x5E, 0x90, 0x02, 0xFE, 0x4B, 0x6D, 0x11, 0xC8, 0x77, 0x29, 0xE5, 0x3A, 0x84,
    0x5F, 0xB0, 0x0D, 0x62, 0x9E, 0x47, 0xD3, 0x18, 0xAC, 0x71, 0x26, 0xEB, 0x54, 0x0F, 0xC9, 0x3D};

static CK_RV try_aes_key(struct bdev *d, uint32_t seq, const char *label, const uint8_t *value,
                         unsigned flags, CK_OBJECT_HANDLE *h)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_BBOOL yes = CK_TRUE, token = (flags & OBJ_SESSION) ? CK_FALSE : CK_TRUE;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
                        {CKA_KEY_TYPE, &kt, sizeof(kt)},
                        {CKA_TOKEN, &token, 1},
                        {CKA_PRIVATE, &yes, 1},
                        {CKA_LABEL, (void *)label, strlen(label)},
                        {CKA_VALUE, (void *)value, 32}};
    struct attrs *a = make_attrs(t, ARRAY_SIZE(t));
    CK_RV rv = ops->obj_create(d, seq, a, flags, h);
    attrs_unref(a);
    return rv;
}

static CK_OBJECT_HANDLE aes_key(struct bdev *d, uint32_t seq, const char *label,
                                const uint8_t *value, unsigned flags)
{
    CK_OBJECT_HANDLE h = 0;
    CK_RV rv = try_aes_key(d, seq, label, value, flags, &h);
    ck_assert_msg(rv == CKR_OK, "aes obj_create: 0x%lx %s", rv, err_get()->msg);
    return h;
}

static const uint8_t p256_oid[] = {0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};

/* Generate an EC P-256 key pair (token objects unless flags say session). */
static CK_RV gen_ec(struct bdev *d, uint32_t seq, const char *label, unsigned flags,
                    CK_OBJECT_HANDLE *hpub, CK_OBJECT_HANDLE *hpriv)
{
    CK_MECHANISM m = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_BBOOL yes = CK_TRUE, token = (flags & OBJ_SESSION) ? CK_FALSE : CK_TRUE;
    CK_ATTRIBUTE tp[] = {{CKA_EC_PARAMS, (void *)p256_oid, sizeof(p256_oid)},
                         {CKA_TOKEN, &token, 1},
                         {CKA_VERIFY, &yes, 1},
                         {CKA_LABEL, (void *)label, strlen(label)}};
    CK_ATTRIBUTE tk[] = {{CKA_TOKEN, &token, 1},
                         {CKA_PRIVATE, &yes, 1},
                         {CKA_SIGN, &yes, 1},
                         {CKA_LABEL, (void *)label, strlen(label)}};
    struct attrs *pub = NULL, *priv = NULL;
    ck_assert_int_eq(schema_generate(m.mechanism, CKO_PUBLIC_KEY, tp, ARRAY_SIZE(tp), false, &pub),
                     CKR_OK);
    ck_assert_int_eq(
        schema_generate(m.mechanism, CKO_PRIVATE_KEY, tk, ARRAY_SIZE(tk), false, &priv), CKR_OK);
    CK_RV rv = ops->generate(d, seq, &m, pub, flags, priv, flags, hpub, hpriv);
    attrs_unref(pub);
    attrs_unref(priv);
    return rv;
}

static CK_RV sign(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h, const uint8_t dgst[32],
                  uint8_t sig[64])
{
    CK_MECHANISM m = {CKM_ECDSA, NULL, 0};
    struct bop *op = NULL;
    size_t len = 64;
    CK_RV rv = ops->op_init(d, seq, h, OP_SIGN, &m, NULL, &op);
    if (rv != CKR_OK)
        return rv;
    ck_assert_uint_eq(ops->op_outlen(op, PHASE_SINGLE, 32), 64);
    rv = ops->op_final(op, dgst, 32, sig, &len);
    ops->op_free(op);
    if (rv == CKR_OK)
        ck_assert_uint_eq(len, 64);
    return rv;
}

static CK_RV verify(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h, const uint8_t dgst[32],
                    const uint8_t sig[64])
{
    CK_MECHANISM m = {CKM_ECDSA, NULL, 0};
    struct bop *op = NULL;
    size_t len = 0;
    CK_RV rv = ops->op_init(d, seq, h, OP_VERIFY, &m, NULL, &op);
    if (rv != CKR_OK)
        return rv;
    rv = ops->op_update(op, dgst, 32, NULL, &len);
    if (rv == CKR_OK)
        rv = ops->op_final(op, sig, 64, NULL, &len);
    ops->op_free(op);
    return rv;
}

/* AES-GCM encrypt then decrypt 20 bytes with key h; returns the first failure. */
static CK_RV gcm_roundtrip(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h)
{
    uint8_t iv[12] = {1, 2, 3}, pt[20] = "twenty bytes of text", ct[64], back[64];
    CK_GCM_PARAMS gp = {iv, sizeof(iv), 96, NULL, 0, 128};
    CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
    struct bop *op = NULL;
    size_t clen = sizeof(ct), blen = sizeof(back);
    CK_RV rv = ops->op_init(d, seq, h, OP_ENCRYPT, &m, NULL, &op);
    if (rv != CKR_OK)
        return rv;
    ck_assert_uint_le(ops->op_outlen(op, PHASE_SINGLE, sizeof(pt)), sizeof(ct));
    rv = ops->op_final(op, pt, sizeof(pt), ct, &clen);
    ops->op_free(op);
    if (rv != CKR_OK)
        return rv;
    ck_assert_uint_eq(clen, sizeof(pt) + 16);
    if ((rv = ops->op_init(d, seq, h, OP_DECRYPT, &m, NULL, &op)) != CKR_OK)
        return rv;
    rv = ops->op_final(op, ct, clen, back, &blen);
    ops->op_free(op);
    if (rv == CKR_OK) {
        ck_assert_uint_eq(blen, sizeof(pt));
        ck_assert_mem_eq(back, pt, sizeof(pt));
    }
    return rv;
}

static size_t find(struct bdev *d, uint32_t seq, const CK_ATTRIBUTE *t, CK_ULONG n,
                   bool with_private, CK_OBJECT_HANDLE *first)
{
    CK_OBJECT_HANDLE *v = NULL;
    size_t cnt = 0;
    CK_RV rv = ops->obj_find(d, seq, t, n, with_private, &v, &cnt);
    ck_assert_msg(rv == CKR_OK, "obj_find: 0x%lx %s", rv, err_get()->msg);
    if (first && cnt)
        *first = v[0];
    free(v);
    return cnt;
}

static size_t find_label(struct bdev *d, uint32_t seq, const char *label, CK_OBJECT_HANDLE *h)
{
    CK_ATTRIBUTE t[] = {{CKA_LABEL, (void *)label, strlen(label)}};
    return find(d, seq, t, 1, true, h);
}

/* The label of object h, compared with want. */
static void assert_label(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h, const char *want)
{
    struct attrs *a = NULL;
    CK_RV rv = ops->obj_attrs(d, seq, h, &a);
    ck_assert_msg(rv == CKR_OK, "obj_attrs: 0x%lx %s", rv, err_get()->msg);
    const struct attr *l = attrs_find(a, CKA_LABEL);
    ck_assert_ptr_nonnull(l);
    ck_assert_uint_eq(l->len, strlen(want));
    ck_assert_mem_eq(l->val, want, l->len);
    attrs_unref(a);
}

static void file_sha256(const char *path, uint8_t out[32])
{
    uint8_t buf[4096];
    unsigned len = 0;
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    ck_assert_int_eq(EVP_DigestInit_ex(c, EVP_sha256(), NULL), 1);
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        ck_assert_int_eq(EVP_DigestUpdate(c, buf, n), 1);
    ck_assert_int_eq(EVP_DigestFinal_ex(c, out, &len), 1);
    EVP_MD_CTX_free(c);
    fclose(f);
}

/* Does the file hold these bytes anywhere? (A missing file holds nothing.) */
static bool file_contains(const char *path, const void *needle, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(size > 0 ? (size_t)size : 1);
    ck_assert_ptr_nonnull(buf);
    size_t got = fread(buf, 1, (size_t)size, f);
    fclose(f);
    bool found = memmem(buf, got, needle, n) != NULL;
    free(buf);
    return found;
}

static off_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? sb.st_size : -1;
}

/* Run one SQL statement on the store from outside the backend (a tamperer's view). */
static void db_exec(const char *sql, const void *blob, size_t blen)
{
    char path[256];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_open(db_path(path, sizeof(path), ""), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (blob)
        ck_assert_int_eq(sqlite3_bind_blob(st, 1, blob, (int)blen, SQLITE_TRANSIENT), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    ck_assert_int_eq(sqlite3_close(db), SQLITE_OK);
}

/* A column of one object read from outside the backend. */
static size_t db_blob(const char *col, CK_OBJECT_HANDLE oid, uint8_t *out, size_t cap)
{
    char path[256], sql[128];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    snprintf(sql, sizeof(sql), "SELECT %s FROM obj WHERE oid = %lu", col, oid);
    ck_assert_int_eq(sqlite3_open(db_path(path, sizeof(path), ""), &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    size_t n = (size_t)sqlite3_column_bytes(st, 0);
    ck_assert_uint_le(n, cap);
    memcpy(out, sqlite3_column_blob(st, 0), n);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* Rewrite one object's public attribute blob from outside the backend, as someone who can
 * write the file would: set attribute t to val (or remove it when val is NULL). */
static void tamper_attr(CK_OBJECT_HANDLE oid, CK_ATTRIBUTE_TYPE t, const void *val, size_t len)
{
    static uint8_t blob[1 << 16];
    struct attrs *a = NULL;
    uint8_t *out = NULL;
    size_t outlen = 0;
    char sql[128];
    size_t n = db_blob("attrs", oid, blob, sizeof(blob));
    ck_assert_int_eq(attrs_decode(blob, n, false, &a), CKR_OK);
    if (val)
        ck_assert_int_eq(attrs_set(a, t, val, len), CKR_OK);
    else
        attrs_remove(a, t);
    ck_assert_int_eq(attrs_encode(a, NULL, NULL, &out, &outlen), CKR_OK);
    snprintf(sql, sizeof(sql), "UPDATE obj SET attrs = ?1 WHERE oid = %lu", oid);
    db_exec(sql, out, outlen);
    sea_secret_free(out, outlen);
    attrs_unref(a);
}

/* The status of obj_attrs, the attributes dropped. */
static CK_RV attrs_rv(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h)
{
    struct attrs *a = NULL;
    err_clear();
    CK_RV rv = ops->obj_attrs(d, seq, h, &a);
    attrs_unref(a);
    return rv;
}

static CK_RV secret_rv(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h)
{
    struct attrs *a = NULL;
    CK_RV rv = ops->obj_secret(d, seq, h, CKA_VALUE, &a);
    attrs_unref(a);
    return rv;
}

static CK_RV rename_rv(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h, const char *label)
{
    struct attrs *ch = attrs_new();
    ck_assert_int_eq(attrs_set(ch, CKA_LABEL, label, strlen(label)), CKR_OK);
    CK_RV rv = ops->obj_update(d, seq, h, ch);
    attrs_unref(ch);
    return rv;
}

/* ---- device ---- */

START_TEST(open_creates_private_directory_and_database)
{
    char path[256];
    struct bdev *d = open_dev(NULL);
    struct stat sb;
    ck_assert_int_eq(stat(store_dir, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0700);
    snprintf(path, sizeof(path), "%s/dev", tmpdir);
    ck_assert_int_eq(stat(path, &sb), 0); /* missing parents are created too */
    ck_assert_uint_eq(sb.st_mode & 0777, 0700);
    ck_assert_int_eq(stat(db_path(path, sizeof(path), ""), &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0600);
    ops->dev_close(d);
}
END_TEST

START_TEST(caps_follow_the_config)
{
    struct dev_caps c;
    struct bdev *d = open_dev("max_se = 7\npin_min = 6\npin_max = 40\n");
    ops->dev_caps(d, &c);
    ck_assert_uint_eq(c.flags, DEVCAP_CREATE_SE | DEVCAP_DELETE_SE | DEVCAP_STORE_DATA |
                                   DEVCAP_RNG | DEVCAP_SESSION_OBJ);
    ck_assert_uint_eq(c.max_se, 7);
    ck_assert_uint_eq(c.se_type, 4);
    ck_assert_uint_eq(c.max_level, 1);
    ck_assert_uint_eq(c.min_pin, 6);
    ck_assert_uint_eq(c.max_pin, 40);
    ck_assert_ptr_eq(c.mechs, crypto_mechs);
    ck_assert_uint_eq(c.nmechs, crypto_nmechs);
    ck_assert_str_eq(c.manufacturer, "libsea");
    ck_assert_str_eq(c.model, "software SE");
    ops->dev_close(d);
    d = open_dev(NULL);
    ops->dev_caps(d, &c);
    ck_assert_uint_eq(c.max_se, 64);
    ck_assert_uint_eq(c.min_pin, 4);
    ck_assert_uint_eq(c.max_pin, 64);
    ops->dev_close(d);
}
END_TEST

START_TEST(unknown_or_bad_config_is_rejected)
{
    struct bdev *d = NULL;
    ck_assert_int_eq(try_open("max_ses = 3\n", &d), CKR_ARGUMENTS_BAD);
    ck_assert_ptr_nonnull(strstr(err_get()->msg, "max_ses"));
    ck_assert_ptr_null(d);
    ck_assert_int_eq(try_open("sync = sometimes\n", &d), CKR_ARGUMENTS_BAD);
    ck_assert_ptr_nonnull(strstr(err_get()->msg, "sync"));
    ck_assert_int_eq(try_open("kdf_iterations = 999\n", &d), CKR_ARGUMENTS_BAD);
    ck_assert_int_eq(try_open("max_se = 0\n", &d), CKR_ARGUMENTS_BAD);
    ck_assert_int_eq(try_open("pin_min = 8\npin_max = 6\n", &d), CKR_ARGUMENTS_BAD);
    ck_assert_ptr_null(d);
    /* nothing was created for a rejected configuration */
    ck_assert_int_eq(access(store_dir, F_OK), -1);
    /* every documented key is accepted */
    d = open_dev("sync = full\nkey_cache = 0\nmax_se = 4096\npin_min = 1\npin_max = 255\n");
    ops->dev_close(d);
}
END_TEST

START_TEST(open_without_path_is_rejected)
{
    const char *text = "[device t]\nbackend = soft\n";
    struct config *cfg = NULL;
    struct bdev *d = NULL;
    ck_assert_int_eq(config_parse(text, strlen(text), "test.conf", &cfg), CKR_OK);
    err_clear();
    ck_assert_int_eq(ops->dev_open("t", &cfg->sec[0], &d), CKR_ARGUMENTS_BAD);
    ck_assert_ptr_nonnull(strstr(err_get()->msg, "path"));
    ck_assert_int_eq(ops->dev_open("t", NULL, &d), CKR_ARGUMENTS_BAD);
    ck_assert_int_eq(ops->dev_open("t", &cfg->sec[0], NULL), CKR_ARGUMENTS_BAD);
    config_free(cfg);
}
END_TEST

START_TEST(random_fills_the_buffer)
{
    struct bdev *d = open_dev(NULL);
    uint8_t a[32] = {0}, b[32] = {0}, zero[32] = {0};
    ck_assert_int_eq(ops->random(d, a, sizeof(a)), CKR_OK);
    ck_assert_int_eq(ops->random(d, b, sizeof(b)), CKR_OK);
    ck_assert_int_ne(memcmp(a, zero, 32), 0);
    ck_assert_int_ne(memcmp(a, b, 32), 0);
    ck_assert_int_eq(ops->random(d, NULL, 0), CKR_OK);
    ck_assert_int_eq(ops->random(d, NULL, 4), CKR_ARGUMENTS_BAD);
    ops->dev_close(d);
}
END_TEST

/* ---- SEs ---- */

START_TEST(se_create_numbers_from_one_and_lists)
{
    struct bdev *d = open_dev(NULL);
    struct se_desc *list = NULL, desc;
    size_t n = 9;
    uint32_t next = 0;
    ck_assert_int_eq(ops->se_list(d, &list, &n, &next), CKR_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(next, 1);
    free(list);
    int64_t before = sea_time();
    ck_assert_int_eq(create_se(d, 1, "first", "4abc", 5, &desc), CKR_OK);
    ck_assert_uint_eq(desc.seq, 1);
    ck_assert_str_eq(desc.name, "first");
    ck_assert_str_eq(desc.se_id, "4abc");
    ck_assert_uint_eq(desc.se_type, 4);
    ck_assert_uint_eq(desc.level, 1);
    ck_assert_uint_eq(desc.lifecycle, SE_PERSONALIZATION);
    ck_assert_uint_eq(desc.max_retries, 5);
    ck_assert_uint_eq(desc.so_retries_left, 5);
    ck_assert_uint_eq(desc.pin_flags, 0); /* no user PIN, no failures */
    ck_assert_int_ge(desc.created, before);
    ck_assert_uint_eq(desc.epoch, 1);
    ck_assert_int_eq(create_se(d, 2, "second", "4def", 3, NULL), CKR_OK);
    ck_assert_int_eq(ops->se_list(d, &list, &n, &next), CKR_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(next, 3);
    ck_assert_uint_eq(list[0].seq, 1);
    ck_assert_str_eq(list[0].name, "first");
    ck_assert_uint_eq(list[1].seq, 2);
    ck_assert_str_eq(list[1].se_id, "4def");
    free(list);
    ops->dev_close(d);
}
END_TEST

START_TEST(se_seq_is_stable_across_reopen_and_deletion)
{
    struct bdev *d = open_dev(NULL);
    uint32_t a = new_se(d, "a", 3), b = new_se(d, "b", 3), c = new_se(d, "c", 3);
    ck_assert_uint_eq(a, 1);
    ck_assert_uint_eq(b, 2);
    ck_assert_uint_eq(c, 3);
    ck_assert_int_eq(ops->se_delete(d, b, P(SO_PIN), L(SO_PIN)), CKR_OK);
    ops->dev_close(d);
    d = open_dev(NULL);
    struct se_desc *list = NULL;
    size_t n = 0;
    uint32_t next = 0;
    ck_assert_int_eq(ops->se_list(d, &list, &n, &next), CKR_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(list[0].seq, 1);
    ck_assert_str_eq(list[0].name, "a");
    ck_assert_uint_eq(list[1].seq, 3);
    ck_assert_str_eq(list[1].name, "c");
    ck_assert_uint_eq(next, 4); /* seq 2 is never reused */
    free(list);
    ck_assert_uint_eq(new_se(d, "d", 3), 4);
    ops->dev_close(d);
}
END_TEST

START_TEST(se_create_on_a_taken_seq_is_slot_invalid)
{
    struct bdev *d = open_dev(NULL), *other = open_dev(NULL);
    ck_assert_int_eq(create_se(d, 1, "a", "4a", 3, NULL), CKR_OK);
    ck_assert_int_eq(create_se(d, 1, "b", "4b", 3, NULL), CKR_SLOT_ID_INVALID);
    ck_assert_int_eq(create_se(d, 5, "b", "4b", 3, NULL), CKR_SLOT_ID_INVALID);
    /* another process offered seq 2 too, and was slower */
    ck_assert_int_eq(get_desc(other, 1).seq, 1);
    ck_assert_int_eq(create_se(d, 2, "b", "4b", 3, NULL), CKR_OK);
    err_clear();
    ck_assert_int_eq(create_se(other, 2, "c", "4c", 3, NULL), CKR_SLOT_ID_INVALID);
    ck_assert_uint_eq(err_get()->rv, CKR_SLOT_ID_INVALID);
    struct se_desc *list = NULL;
    size_t n = 0;
    uint32_t next = 0;
    ck_assert_int_eq(ops->se_list(other, &list, &n, &next), CKR_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(next, 3);
    ck_assert_str_eq(list[1].name, "b");
    free(list);
    ops->dev_close(other);
    ops->dev_close(d);
}
END_TEST

START_TEST(se_create_beyond_max_se_is_refused)
{
    struct bdev *d = open_dev("max_se = 2\n");
    new_se(d, "a", 3);
    new_se(d, "b", 3);
    ck_assert_int_eq(create_se(d, 3, "c", "4c", 3, NULL), CKR_DEVICE_MEMORY);
    ck_assert_uint_eq(get_desc(d, 2).seq, 2);
    struct se_desc *list = NULL;
    size_t n = 0;
    uint32_t next = 0;
    ck_assert_int_eq(ops->se_list(d, &list, &n, &next), CKR_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(next, 3);
    free(list);
    /* deleting one makes room again */
    ck_assert_int_eq(ops->se_delete(d, 1, P(SO_PIN), L(SO_PIN)), CKR_OK);
    ck_assert_int_eq(create_se(d, 3, "c", "4c", 3, NULL), CKR_OK);
    ops->dev_close(d);
}
END_TEST

START_TEST(se_create_rejects_bad_parameters)
{
    struct bdev *d = open_dev(NULL);
    struct se_desc desc;
    struct se_create_params p = {.name = "ok",
                                 .se_id = "4ok",
                                 .level = 1,
                                 .max_retries = 3,
                                 .so_pin = P(SO_PIN),
                                 .so_pin_len = L(SO_PIN)};
    struct se_create_params q = p;
    ck_assert_int_eq(ops->se_create(d, 1, NULL, &desc), CKR_ARGUMENTS_BAD);
    ck_assert_int_eq(ops->se_create(d, 1, &p, NULL), CKR_ARGUMENTS_BAD);
    q.name = "a name that is longer than thirty-two bytes";
    ck_assert_int_eq(ops->se_create(d, 1, &q, &desc), CKR_ARGUMENTS_BAD);
    q = p;
    q.name = NULL;
    ck_assert_int_eq(ops->se_create(d, 1, &q, &desc), CKR_ARGUMENTS_BAD);
    q = p;
    q.se_id = "";
    ck_assert_int_eq(ops->se_create(d, 1, &q, &desc), CKR_ARGUMENTS_BAD);
    q.se_id = "4123456789abcdefX";
    ck_assert_int_eq(ops->se_create(d, 1, &q, &desc), CKR_ARGUMENTS_BAD);
    q = p;
    q.level = 2; /* a software SE cannot claim it */
    ck_assert_int_eq(ops->se_create(d, 1, &q, &desc), CKR_ARGUMENTS_BAD);
    q = p;
    q.max_retries = 0; /* lockout is not optional */
    ck_assert_int_eq(ops->se_create(d, 1, &q, &desc), CKR_ARGUMENTS_BAD);
    q.max_retries = 101; /* as [sea] pin_retries: 1 to 100 */
    ck_assert_int_eq(ops->se_create(d, 1, &q, &desc), CKR_ARGUMENTS_BAD);
    q.max_retries = 100;
    q.so_pin_len = 3;
    ck_assert_int_eq(ops->se_create(d, 1, &q, &desc), CKR_PIN_LEN_RANGE);
    q = p;
    q.so_pin_len = 3;
    ck_assert_int_eq(ops->se_create(d, 1, &q, &desc), CKR_PIN_LEN_RANGE);
    q = p;
    q.so_pin = NULL;
    ck_assert_int_eq(ops->se_create(d, 1, &q, &desc), CKR_ARGUMENTS_BAD);
    ck_assert_int_eq(ops->se_create(d, 1, &p, &desc), CKR_OK);
    q.so_pin = p.so_pin;
    ck_assert_int_eq(ops->se_create(d, 2, &q, &desc), CKR_ARGUMENTS_BAD); /* same se_id */
    struct se_desc *list = NULL;
    size_t n = 0;
    uint32_t next = 0;
    ck_assert_int_eq(ops->se_list(d, &list, &n, &next), CKR_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(next, 2);
    free(list);
    ck_assert_int_eq(ops->se_list(d, NULL, &n, &next), CKR_ARGUMENTS_BAD);
    ops->dev_close(d);
}
END_TEST

/* ---- PINs ---- */

#define USER_FLAGS (PINF_USER_INIT | PINF_USER_COUNT_LOW | PINF_USER_FINAL_TRY | PINF_USER_LOCKED)
#define SO_FLAGS   (PINF_SO_COUNT_LOW | PINF_SO_FINAL_TRY | PINF_SO_LOCKED)

START_TEST(wrong_user_pins_count_down_to_lockout)
{
    struct bdev *d = open_dev(NULL);
    uint32_t seq = ready_se(d, "se", 3);
    struct se_desc s = get_desc(d, seq);
    ck_assert_uint_eq(s.pin_flags & USER_FLAGS, PINF_USER_INIT);
    ck_assert_uint_eq(s.user_retries_left, 3);
    ck_assert_uint_eq(s.lifecycle, SE_OPERATIONAL);

    ck_assert_int_eq(ops->login(d, seq, CKU_USER, P("wrong-1"), 7), CKR_PIN_INCORRECT);
    s = get_desc(d, seq);
    ck_assert_uint_eq(s.pin_flags & USER_FLAGS, PINF_USER_INIT | PINF_USER_COUNT_LOW);
    ck_assert_uint_eq(s.user_retries_left, 2);

    err_clear();
    ck_assert_int_eq(ops->login(d, seq, CKU_USER, P("wrong-2"), 7), CKR_PIN_INCORRECT);
    ck_assert_uint_eq(err_get()->rv, CKR_PIN_INCORRECT);
    ck_assert_ptr_null(strstr(err_get()->msg, "wrong-2")); /* never echo a PIN */
    s = get_desc(d, seq);
    ck_assert_uint_eq(s.pin_flags & USER_FLAGS,
                      PINF_USER_INIT | PINF_USER_COUNT_LOW | PINF_USER_FINAL_TRY);
    ck_assert_uint_eq(s.user_retries_left, 1);

    ck_assert_int_eq(ops->login(d, seq, CKU_USER, P("wrong-3"), 7), CKR_PIN_INCORRECT);
    s = get_desc(d, seq);
    ck_assert_uint_eq(s.pin_flags & USER_FLAGS,
                      PINF_USER_INIT | PINF_USER_COUNT_LOW | PINF_USER_LOCKED);
    ck_assert_uint_eq(s.user_retries_left, 0);
    /* the SO PIN and the SE are unaffected */
    ck_assert_uint_eq(s.pin_flags & SO_FLAGS, 0);
    ck_assert_uint_eq(s.lifecycle, SE_OPERATIONAL);

    ck_assert_int_eq(ops->login(d, seq, CKU_USER, P(USER_PIN), L(USER_PIN)), CKR_PIN_LOCKED);
    ck_assert_int_eq(ops->login(d, seq, CKU_USER, P("wrong-4"), 7), CKR_PIN_LOCKED);
    ck_assert_uint_eq(get_desc(d, seq).user_retries_left, 0);
    /* a locked user PIN is reset by the SO */
    ck_assert_int_eq(ops->login(d, seq, CKU_SO, P(SO_PIN), L(SO_PIN)), CKR_OK);
    ck_assert_int_eq(ops->init_pin(d, seq, P("fresh-pin"), 9), CKR_OK);
    ops->logout(d, seq);
    ck_assert_uint_eq(get_desc(d, seq).pin_flags & USER_FLAGS, PINF_USER_INIT);
    ck_assert_int_eq(ops->login(d, seq, CKU_USER, P("fresh-pin"), 9), CKR_OK);
    ops->dev_close(d);
}
END_TEST

START_TEST(right_pin_resets_the_counter)
{
    struct bdev *d = open_dev(NULL);
    uint32_t seq = ready_se(d, "se", 3);
    ck_assert_int_eq(ops->login(d, seq, CKU_USER, P("wrong-1"), 7), CKR_PIN_INCORRECT);
    ck_assert_int_eq(ops->login(d, seq, CKU_USER, P("wrong-2"), 7), CKR_PIN_INCORRECT);
    login_user(d, seq);
    struct se_desc s = get_desc(d, seq);
    ck_assert_uint_eq(s.pin_flags & USER_FLAGS, PINF_USER_INIT);
    ck_assert_uint_eq(s.user_retries_left, 3);
    ops->dev_close(d);
}
END_TEST

START_TEST(pin_counter_persists_and_is_shared)
{
    struct bdev *a = open_dev(NULL), *b = open_dev(NULL);
    uint32_t seq = ready_se(a, "se", 4);
    ck_assert_uint_eq(get_desc(b, seq).user_retries_left, 4);
    ck_assert_int_eq(ops->login(a, seq, CKU_USER, P("wrong-1"), 7), CKR_PIN_INCORRECT);
    ck_assert_int_eq(ops->login(b, seq, CKU_USER, P("wrong-2"), 7), CKR_PIN_INCORRECT);
    /* each instance sees both tries at once */
    ck_assert_uint_eq(get_desc(a, seq).user_retries_left, 2);
    ck_assert_uint_eq(get_desc(b, seq).user_retries_left, 2);
    ck_assert_int_eq(ops->login(b, seq, CKU_SO, P("wrong-so"), 8), CKR_PIN_INCORRECT);
    ck_assert_uint_eq(get_desc(a, seq).so_retries_left, 3);
    ops->dev_close(a);
    ops->dev_close(b);
    a = open_dev(NULL);
    struct se_desc s = get_desc(a, seq);
    ck_assert_uint_eq(s.user_retries_left, 2);
    ck_assert_uint_eq(s.so_retries_left, 3);
    ck_assert_uint_eq(s.pin_flags & (PINF_USER_COUNT_LOW | PINF_SO_COUNT_LOW),
                      PINF_USER_COUNT_LOW | PINF_SO_COUNT_LOW);
    ck_assert_int_eq(ops->login(a, seq, CKU_USER, P("wrong-3"), 7), CKR_PIN_INCORRECT);
    ck_assert_int_eq(ops->login(a, seq, CKU_USER, P("wrong-4"), 7), CKR_PIN_INCORRECT);
    ops->dev_close(a);
    b = open_dev(NULL);
    ck_assert_int_eq(ops->login(b, seq, CKU_USER, P(USER_PIN), L(USER_PIN)), CKR_PIN_LOCKED);
    ops->dev_close(b);
}
END_TEST

/* A child starts a login with a wrong PIN on an SE whose PIN takes long to derive and is killed
 * with SIGKILL during PBKDF2: the try must already be counted. */
START_TEST(pin_try_is_counted_before_the_check)
{
    struct bdev *d = open_dev("kdf_iterations = 1000000\n");
    uint32_t seq = new_se(d, "slow", 3);
    ops->dev_close(d);
    d = open_dev(NULL);
    ck_assert_uint_eq(get_desc(d, seq).so_retries_left, 3);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct bdev *c = NULL;
        if (try_open(NULL, &c) != CKR_OK)
            _exit(2);
        ops->login(c, seq, CKU_SO, P("wrong-pin"), 9);
        _exit(0); /* reaching this means the kill came too late: the test fails */
    }
    uint64_t start = sea_now_us();
    bool counted = false;
    while (!counted && sea_now_us() - start < 60u * 1000000u) {
        counted = get_desc(d, seq).so_retries_left == 2;
        if (!counted)
            usleep(200);
    }
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(counted, "the try was not counted while the child ran");
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "the child finished its login before it was killed (status 0x%x)", status);
    struct se_desc s = get_desc(d, seq);
    ck_assert_uint_eq(s.so_retries_left, 2);
    ck_assert_uint_ne(s.pin_flags & PINF_SO_COUNT_LOW, 0);
    ops->dev_close(d);
    d = open_dev(NULL);
    ck_assert_uint_eq(get_desc(d, seq).so_retries_left, 2);
    ops->dev_close(d);
}
END_TEST

START_TEST(user_login_without_user_pin_is_not_initialized)
{
    struct bdev *d = open_dev(NULL);
    uint32_t seq = new_se(d, "se", 3);
    ck_assert_int_eq(ops->login(d, seq, CKU_USER, P(USER_PIN), L(USER_PIN)),
                     CKR_USER_PIN_NOT_INITIALIZED);
    ck_assert_uint_eq(get_desc(d, seq).user_retries_left, 3);
    ck_assert_int_eq(ops->login(d, seq, 77, P(USER_PIN), L(USER_PIN)), CKR_USER_TYPE_INVALID);
    ck_assert_int_eq(ops->login(d, seq, CKU_SO, NULL, 4), CKR_ARGUMENTS_BAD);
    ck_assert_int_eq(ops->login(d, 99, CKU_SO, P(SO_PIN), L(SO_PIN)), CKR_TOKEN_NOT_PRESENT);
    ck_assert_uint_eq(get_desc(d, seq).so_retries_left, 3);
    ops->dev_close(d);
}
END_TEST

START_TEST(init_pin_needs_the_so_and_makes_the_se_operational)
{
    struct bdev *d = open_dev(NULL), *other = open_dev(NULL);
    uint32_t seq = new_se(d, "se", 3);
    ck_assert_int_eq(ops->init_pin(d, seq, P(USER_PIN), L(USER_PIN)), CKR_USER_NOT_LOGGED_IN);
    ck_assert_int_eq(ops->login(d, seq, CKU_SO, P(SO_PIN), L(SO_PIN)), CKR_OK);
    /* logged in here, not in the other instance */
    ck_assert_int_eq(ops->init_pin(other, seq, P(USER_PIN), L(USER_PIN)), CKR_USER_NOT_LOGGED_IN);
    ck_assert_int_eq(ops->init_pin(d, seq, P("abc"), 3), CKR_PIN_LEN_RANGE);
    ck_assert_uint_eq(get_desc(d, seq).lifecycle, SE_PERSONALIZATION);
    ck_assert_int_eq(ops->init_pin(d, seq, P(USER_PIN), L(USER_PIN)), CKR_OK);
    struct se_desc s = get_desc(other, seq);
    ck_assert_uint_eq(s.lifecycle, SE_OPERATIONAL);
    ck_assert_uint_ne(s.pin_flags & PINF_USER_INIT, 0);
    ops->logout(d, seq);
    ck_assert_int_eq(ops->init_pin(d, seq, P(USER_PIN), L(USER_PIN)), CKR_USER_NOT_LOGGED_IN);
    ck_assert_int_eq(ops->login(other, seq, CKU_USER, P(USER_PIN), L(USER_PIN)), CKR_OK);
    ck_assert_int_eq(ops->login(d, seq, CKU_USER, P(SO_PIN), L(SO_PIN)), CKR_PIN_INCORRECT);
    ops->dev_close(other);
    ops->dev_close(d);
}
END_TEST

START_TEST(set_pin_verifies_the_old_pin_and_rewraps)
{
    struct bdev *d = open_dev(NULL);
    uint32_t seq = ready_se(d, "se", 3);
    login_user(d, seq);
    CK_OBJECT_HANDLE h = aes_key(d, seq, "k", aes_value, 0);
    ops->logout(d, seq);
    ck_assert_int_eq(ops->set_pin(d, seq, CKU_USER, P("not-it"), 6, P("new-user-pin"), 12),
                     CKR_PIN_INCORRECT);
    ck_assert_uint_eq(get_desc(d, seq).user_retries_left, 2);
    ck_assert_int_eq(ops->set_pin(d, seq, CKU_USER, P(USER_PIN), L(USER_PIN), P("new"), 3),
                     CKR_PIN_LEN_RANGE);
    ck_assert_int_eq(
        ops->set_pin(d, seq, CKU_USER, P(USER_PIN), L(USER_PIN), P("new-user-pin"), 12), CKR_OK);
    ck_assert_uint_eq(get_desc(d, seq).user_retries_left, 3);
    ck_assert_int_eq(ops->login(d, seq, CKU_USER, P(USER_PIN), L(USER_PIN)), CKR_PIN_INCORRECT);
    ck_assert_int_eq(ops->login(d, seq, CKU_USER, P("new-user-pin"), 12), CKR_OK);
    /* the same SE key: the old key still works */
    ck_assert_int_eq(gcm_roundtrip(d, seq, h), CKR_OK);
    ops->logout(d, seq);
    /* and the SO PIN */
    ck_assert_int_eq(ops->set_pin(d, seq, CKU_SO, P(SO_PIN), L(SO_PIN), P("new-so-pin"), 10),
                     CKR_OK);
    ck_assert_int_eq(ops->login(d, seq, CKU_SO, P(SO_PIN), L(SO_PIN)), CKR_PIN_INCORRECT);
    ck_assert_int_eq(ops->login(d, seq, CKU_SO, P("new-so-pin"), 10), CKR_OK);
    /* the SO holds the SE key, yet the user's private key is not the SO's to use */
    ck_assert_int_eq(gcm_roundtrip(d, seq, h), CKR_USER_NOT_LOGGED_IN);
    /* the key is the same: a user PIN the SO sets now opens the old key */
    ck_assert_int_eq(ops->init_pin(d, seq, P("third-user-pin"), 14), CKR_OK);
    ops->logout(d, seq);
    ck_assert_int_eq(ops->login(d, seq, CKU_USER, P("third-user-pin"), 14), CKR_OK);
    ck_assert_int_eq(gcm_roundtrip(d, seq, h), CKR_OK);
    ck_assert_int_eq(ops->set_pin(d, seq, CKU_CONTEXT_SPECIFIC, P("x"), 1, P("y"), 1),
                     CKR_USER_TYPE_INVALID);
    ops->dev_close(d);
}
END_TEST

START_TEST(so_lockout_blocks_the_se)
{
    struct bdev *d = open_dev(NULL);
    uint32_t seq = ready_se(d, "se", 2);
    ck_assert_int_eq(ops->login(d, seq, CKU_SO, P("wrong-1"), 7), CKR_PIN_INCORRECT);
    struct se_desc s = get_desc(d, seq);
    ck_assert_uint_eq(s.pin_flags & SO_FLAGS, PINF_SO_COUNT_LOW | PINF_SO_FINAL_TRY);
    ck_assert_uint_eq(s.lifecycle, SE_OPERATIONAL);
    ck_assert_int_eq(ops->se_reinit(d, seq, P("wrong-2"), 7, "new"), CKR_PIN_INCORRECT);
    s = get_desc(d, seq);
    ck_assert_uint_eq(s.pin_flags & SO_FLAGS, PINF_SO_COUNT_LOW | PINF_SO_LOCKED);
    ck_assert_uint_eq(s.so_retries_left, 0);
    ck_assert_uint_eq(s.lifecycle, SE_BLOCKED);
    ck_assert_int_eq(ops->login(d, seq, CKU_SO, P(SO_PIN), L(SO_PIN)), CKR_PIN_LOCKED);
    ck_assert_int_eq(ops->se_reinit(d, seq, P(SO_PIN), L(SO_PIN), "new"), CKR_PIN_LOCKED);
    ck_assert_int_eq(ops->se_delete(d, seq, P(SO_PIN), L(SO_PIN)), CKR_PIN_LOCKED);
    ops->dev_close(d);
    d = open_dev(NULL);
    ck_assert_uint_eq(get_desc(d, seq).lifecycle, SE_BLOCKED);
    ck_assert_str_eq(get_desc(d, seq).name, "se");
    ops->dev_close(d);
}
END_TEST

START_TEST(se_reinit_drops_objects_user_pin_and_key)
{
    struct bdev *d = open_dev(NULL), *other = open_dev(NULL);
    uint32_t seq = ready_se(d, "old name", 3);
    login_user(d, seq);
    CK_OBJECT_HANDLE h = aes_key(d, seq, "k", aes_value, 0);
    CK_OBJECT_HANDLE s = aes_key(d, seq, "s", aes_value, OBJ_SESSION);
    ck_assert_int_eq(gcm_roundtrip(d, seq, h), CKR_OK);
    login_user(other, seq);
    ck_assert_int_eq(gcm_roundtrip(other, seq, h), CKR_OK);
    ck_assert_int_eq(ops->se_reinit(d, seq, P("wrong"), 5, "new name"), CKR_PIN_INCORRECT);
    ck_assert_int_eq(ops->se_reinit(d, seq, P(SO_PIN), L(SO_PIN), NULL), CKR_ARGUMENTS_BAD);
    ck_assert_int_eq(ops->se_reinit(d, seq, P(SO_PIN), L(SO_PIN), "new name"), CKR_OK);
    struct se_desc desc = get_desc(other, seq);
    ck_assert_str_eq(desc.name, "new name");
    ck_assert_uint_eq(desc.epoch, 2);
    ck_assert_uint_eq(desc.lifecycle, SE_PERSONALIZATION);
    ck_assert_uint_eq(desc.pin_flags & PINF_USER_INIT, 0);
    ck_assert_uint_eq(desc.so_retries_left, 3);
    struct attrs *a = NULL;
    ck_assert_int_eq(ops->obj_attrs(d, seq, h, &a), CKR_OBJECT_HANDLE_INVALID);
    ck_assert_int_eq(ops->obj_attrs(d, seq, s, &a), CKR_OBJECT_HANDLE_INVALID);
    ck_assert_uint_eq(find(other, seq, NULL, 0, true, NULL), 0);
    /* the other process's key cache and SEK went with the old SE */
    ck_assert_int_eq(gcm_roundtrip(other, seq, h), CKR_OBJECT_HANDLE_INVALID);
    ck_assert_int_eq(ops->login(d, seq, CKU_USER, P(USER_PIN), L(USER_PIN)),
                     CKR_USER_PIN_NOT_INITIALIZED);
    /* the SO PIN still opens it and objects can be stored under the new key */
    ck_assert_int_eq(ops->login(d, seq, CKU_SO, P(SO_PIN), L(SO_PIN)), CKR_OK);
    ck_assert_int_eq(ops->init_pin(d, seq, P(USER_PIN), L(USER_PIN)), CKR_OK);
    ops->logout(d, seq);
    login_user(d, seq);
    ck_assert_int_eq(try_aes_key(other, seq, "n", aes_value, 0, &h), CKR_USER_NOT_LOGGED_IN);
    CK_OBJECT_HANDLE n = aes_key(d, seq, "n", aes_value, 0);
    ck_assert_int_eq(gcm_roundtrip(d, seq, n), CKR_OK);
    /* the other instance's login went with the old SE: it neither sees nor uses the new key */
    ck_assert_int_eq(gcm_roundtrip(other, seq, n), CKR_USER_NOT_LOGGED_IN);
    ck_assert_uint_eq(find(other, seq, NULL, 0, true, NULL), 0);
    ops->dev_close(other);
    ops->dev_close(d);
}
END_TEST

START_TEST(se_delete_needs_the_so_pin)
{
    struct bdev *d = open_dev(NULL);
    uint32_t a = ready_se(d, "a", 3), b = ready_se(d, "b", 3);
    login_user(d, b);
    CK_OBJECT_HANDLE hb = aes_key(d, b, "kb", aes_value, 0);
    ck_assert_int_eq(ops->se_delete(d, a, P(USER_PIN), L(USER_PIN)), CKR_PIN_INCORRECT);
    ck_assert_int_eq(ops->se_delete(d, a, P(SO_PIN), L(SO_PIN)), CKR_OK);
    ck_assert_int_eq(ops->se_delete(d, a, P(SO_PIN), L(SO_PIN)), CKR_TOKEN_NOT_PRESENT);
    struct se_desc *list = NULL;
    size_t n = 0;
    uint32_t next = 0;
    ck_assert_int_eq(ops->se_list(d, &list, &n, &next), CKR_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(list[0].seq, b);
    free(list);
    ck_assert_int_eq(gcm_roundtrip(d, b, hb), CKR_OK);
    ck_assert_int_eq(ops->se_delete(d, b, P(SO_PIN), L(SO_PIN)), CKR_OK);
    ck_assert_int_eq(gcm_roundtrip(d, b, hb), CKR_TOKEN_NOT_PRESENT);
    ops->dev_close(d);
}
END_TEST

/* ---- objects ---- */

START_TEST(data_objects_create_find_read_update_destroy)
{
    static const char secret_value[] = "private payload 0123456789";
    static const char public_value[] = "public payload";
    struct bdev *d = open_dev(NULL);
    uint32_t seq = ready_se(d, "se", 3);
    struct attrs *a = NULL;
    /* a public data object needs no login */
    CK_OBJECT_HANDLE pub = data_obj(d, seq, "pub", public_value, L(public_value), false, 0);
    ck_assert_int_eq(ops->obj_attrs(d, seq, pub, &a), CKR_OK);
    const struct attr *v = attrs_find(a, CKA_VALUE);
    ck_assert_ptr_nonnull(v);
    ck_assert_mem_eq(v->val, public_value, L(public_value));
    attrs_unref(a);
    /* a private one holds a secret: refused before login */
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
                        {CKA_TOKEN, &yes, 1},
                        {CKA_PRIVATE, &yes, 1},
                        {CKA_LABEL, "priv", 4},
                        {CKA_VALUE, (void *)secret_value, L(secret_value)}};
    struct attrs *ta = make_attrs(t, ARRAY_SIZE(t));
    CK_OBJECT_HANDLE priv = 0;
    ck_assert_int_eq(ops->obj_create(d, seq, ta, 0, &priv), CKR_USER_NOT_LOGGED_IN);
    ck_assert_uint_eq(find_label(d, seq, "priv", NULL), 0);
    login_user(d, seq);
    ck_assert_int_eq(ops->obj_create(d, seq, ta, 0, &priv), CKR_OK);
    attrs_unref(ta);
    ck_assert_uint_ne(priv, pub);
    ck_assert_uint_lt(priv, 0x80000000u);
    /* its public attributes hold no value; the secret is read apart */
    ck_assert_int_eq(ops->obj_attrs(d, seq, priv, &a), CKR_OK);
    ck_assert_ptr_null(attrs_find(a, CKA_VALUE));
    ck_assert_ptr_nonnull(attrs_find(a, CKA_UNIQUE_ID));
    ck_assert(attrs_get_bool(a, CKA_PRIVATE, false));
    attrs_unref(a);
    ck_assert_int_eq(ops->obj_secret(d, seq, priv, CKA_VALUE, &a), CKR_OK);
    v = attrs_find(a, CKA_VALUE);
    ck_assert_ptr_nonnull(v);
    ck_assert(v->secret);
    ck_assert_uint_eq(v->len, L(secret_value));
    ck_assert_mem_eq(v->val, secret_value, v->len);
    attrs_unref(a);
    ck_assert_int_eq(ops->obj_secret(d, seq, priv, CKA_LABEL, &a), CKR_ATTRIBUTE_TYPE_INVALID);
    ck_assert_int_eq(ops->obj_secret(d, seq, pub, CKA_VALUE, &a), CKR_ATTRIBUTE_TYPE_INVALID);
    /* find sees private objects only when allowed */
    CK_ATTRIBUTE q[] = {{CKA_CLASS, &cls, sizeof(cls)}};
    ck_assert_uint_eq(find(d, seq, q, 1, true, NULL), 2);
    CK_OBJECT_HANDLE only = 0;
    ck_assert_uint_eq(find(d, seq, q, 1, false, &only), 1);
    ck_assert_uint_eq(only, pub);
    /* update: label (public) and value (secret), atomically */
    struct attrs *ch = attrs_new();
    ck_assert_int_eq(attrs_set(ch, CKA_LABEL, "renamed", 7), CKR_OK);
    ck_assert_int_eq(attrs_set_secret(ch, CKA_VALUE, "new secret", 10), CKR_OK);
    ck_assert_int_eq(ops->obj_update(d, seq, priv, ch), CKR_OK);
    assert_label(d, seq, priv, "renamed");
    ck_assert_int_eq(ops->obj_secret(d, seq, priv, CKA_VALUE, &a), CKR_OK);
    ck_assert_mem_eq(attrs_find(a, CKA_VALUE)->val, "new secret", 10);
    attrs_unref(a);
    ops->logout(d, seq);
    /* after logout a private object is out of reach: neither read, nor changed, nor destroyed,
     * even its label; the public one still is */
    ck_assert_int_eq(ops->obj_secret(d, seq, priv, CKA_VALUE, &a), CKR_USER_NOT_LOGGED_IN);
    ck_assert_int_eq(ops->obj_update(d, seq, priv, ch), CKR_USER_NOT_LOGGED_IN);
    attrs_unref(ch);
    ch = attrs_new();
    ck_assert_int_eq(attrs_set(ch, CKA_LABEL, "again", 5), CKR_OK);
    ck_assert_int_eq(ops->obj_update(d, seq, priv, ch), CKR_USER_NOT_LOGGED_IN);
    ck_assert_int_eq(ops->obj_attrs(d, seq, priv, &a), CKR_USER_NOT_LOGGED_IN);
    ck_assert_int_eq(ops->obj_destroy(d, seq, priv), CKR_USER_NOT_LOGGED_IN);
    ck_assert_int_eq(ops->obj_update(d, seq, pub, ch), CKR_OK);
    assert_label(d, seq, pub, "again");
    ck_assert_int_eq(attrs_set(ch, CKA_LABEL, "pub", 3), CKR_OK);
    ck_assert_int_eq(ops->obj_update(d, seq, pub, ch), CKR_OK);
    /* logged in again, a label change re-seals the object and keeps its secret */
    login_user(d, seq);
    ck_assert_int_eq(ops->obj_update(d, seq, priv, ch), CKR_OK);
    attrs_unref(ch);
    assert_label(d, seq, priv, "pub");
    ck_assert_int_eq(ops->obj_secret(d, seq, priv, CKA_VALUE, &a), CKR_OK);
    ck_assert_mem_eq(attrs_find(a, CKA_VALUE)->val, "new secret", 10);
    attrs_unref(a);
    /* destroy */
    ck_assert_int_eq(ops->obj_destroy(d, seq, priv), CKR_OK);
    ck_assert_int_eq(ops->obj_attrs(d, seq, priv, &a), CKR_OBJECT_HANDLE_INVALID);
    ck_assert_int_eq(ops->obj_destroy(d, seq, priv), CKR_OBJECT_HANDLE_INVALID);
    ck_assert_int_eq(ops->obj_destroy(d, seq, 0), CKR_OBJECT_HANDLE_INVALID);
    ck_assert_uint_eq(find(d, seq, q, 1, true, NULL), 1);
    ops->dev_close(d);
    /* what was stored survives a reopen */
    d = open_dev(NULL);
    assert_label(d, seq, pub, "pub");
    ops->dev_close(d);
}
END_TEST

START_TEST(aes_keys_imported_and_generated_work)
{
    struct bdev *d = open_dev(NULL);
    uint32_t seq = ready_se(d, "se", 3);
    CK_OBJECT_HANDLE h = 0;
    ck_assert_int_eq(try_aes_key(d, seq, "imp", aes_value, 0, &h), CKR_USER_NOT_LOGGED_IN);
    login_user(d, seq);
    CK_OBJECT_HANDLE imp = aes_key(d, seq, "imp", aes_value, 0);
    struct attrs *a = NULL;
    ck_assert_int_eq(ops->obj_attrs(d, seq, imp, &a), CKR_OK);
    ck_assert_ptr_null(attrs_find(a, CKA_VALUE));
    ck_assert_ptr_nonnull(attrs_find(a, CKA_CHECK_VALUE));
    attrs_unref(a);
    ck_assert_int_eq(ops->obj_secret(d, seq, imp, CKA_VALUE, &a), CKR_OK);
    ck_assert_mem_eq(attrs_find(a, CKA_VALUE)->val, aes_value, 32);
    attrs_unref(a);
    ck_assert_int_eq(gcm_roundtrip(d, seq, imp), CKR_OK);
    /* generated */
    CK_MECHANISM m = {CKM_AES_KEY_GEN, NULL, 0};
    CK_ULONG len = 32;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE t[] = {
        {CKA_VALUE_LEN, &len, sizeof(len)}, {CKA_TOKEN, &yes, 1}, {CKA_LABEL, "gen", 3}};
    struct attrs *priv = NULL;
    ck_assert_int_eq(schema_generate(m.mechanism, CKO_SECRET_KEY, t, ARRAY_SIZE(t), false, &priv),
                     CKR_OK);
    CK_OBJECT_HANDLE gen = 0;
    ck_assert_int_eq(ops->generate(d, seq, &m, NULL, 0, priv, 0, NULL, &gen), CKR_OK);
    attrs_unref(priv);
    ck_assert_int_eq(gcm_roundtrip(d, seq, gen), CKR_OK);
    ck_assert_uint_eq(find_label(d, seq, "gen", &h), 1);
    ck_assert_uint_eq(h, gen);
    ops->dev_close(d);
    /* and after a reopen, through the stored blob */
    d = open_dev(NULL);
    login_user(d, seq);
    ck_assert_int_eq(gcm_roundtrip(d, seq, gen), CKR_OK);
    ck_assert_int_eq(gcm_roundtrip(d, seq, imp), CKR_OK);
    ops->dev_close(d);
}
END_TEST

START_TEST(ec_keys_generated_and_imported_sign_and_verify)
{
    static const uint8_t scalar[32] = {0x51, 0x9b, 0x42, 0x3d, 0x71, 0x5f, 0x8b, 0x58,
                                       0x1f, 0x4f, 0xa8, 0xee, 0x59, 0xf4, 0x77, 0x1a,
                                       0x5b, 0x44, 0xc8, 0x13, 0x0b, 0x4e, 0x3e, 0xac,
                                       0xca, 0x54, 0xa5, 0x6d, 0xda, 0x72, 0xb4, 0x64};
    uint8_t dgst[32], sig[64];
    memset(dgst, 0x5A, sizeof(dgst));
    struct bdev *d = open_dev(NULL);
    uint32_t seq = ready_se(d, "se", 3);
    CK_OBJECT_HANDLE hpub = 0, hpriv = 0;
    ck_assert_int_eq(gen_ec(d, seq, "ec", 0, &hpub, &hpriv), CKR_USER_NOT_LOGGED_IN);
    ck_assert_uint_eq(find_label(d, seq, "ec", NULL), 0);
    login_user(d, seq);
    ck_assert_int_eq(gen_ec(d, seq, "ec", 0, &hpub, &hpriv), CKR_OK);
    ck_assert_uint_ne(hpub, hpriv);
    ck_assert_int_eq(sign(d, seq, hpriv, dgst, sig), CKR_OK);
    ck_assert_int_eq(verify(d, seq, hpub, dgst, sig), CKR_OK);
    sig[10] ^= 1;
    ck_assert_int_eq(verify(d, seq, hpub, dgst, sig), CKR_SIGNATURE_INVALID);
    struct attrs *a = NULL;
    ck_assert_int_eq(ops->obj_attrs(d, seq, hpriv, &a), CKR_OK);
    ck_assert_ptr_null(attrs_find(a, CKA_VALUE));
    ck_assert_ptr_nonnull(attrs_find(a, CKA_EC_POINT));
    attrs_unref(a);
    /* import a private key, and its public half from the point the import computed */
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = CKK_EC;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
                        {CKA_KEY_TYPE, &kt, sizeof(kt)},
                        {CKA_TOKEN, &yes, 1},
                        {CKA_PRIVATE, &yes, 1},
                        {CKA_SIGN, &yes, 1},
                        {CKA_LABEL, "imported", 8},
                        {CKA_EC_PARAMS, (void *)p256_oid, sizeof(p256_oid)},
                        {CKA_VALUE, (void *)scalar, sizeof(scalar)}};
    struct attrs *ta = make_attrs(t, ARRAY_SIZE(t));
    CK_OBJECT_HANDLE ipriv = 0, ipub = 0;
    ck_assert_int_eq(ops->obj_create(d, seq, ta, 0, &ipriv), CKR_OK);
    const struct attr *point = attrs_find(ta, CKA_EC_POINT);
    ck_assert_ptr_nonnull(point);
    CK_OBJECT_CLASS pcls = CKO_PUBLIC_KEY;
    CK_ATTRIBUTE tp[] = {{CKA_CLASS, &pcls, sizeof(pcls)},
                         {CKA_KEY_TYPE, &kt, sizeof(kt)},
                         {CKA_TOKEN, &yes, 1},
                         {CKA_VERIFY, &yes, 1},
                         {CKA_EC_PARAMS, (void *)p256_oid, sizeof(p256_oid)},
                         {CKA_EC_POINT, point->val, point->len}};
    struct attrs *tpa = make_attrs(tp, ARRAY_SIZE(tp));
    ck_assert_int_eq(ops->obj_create(d, seq, tpa, 0, &ipub), CKR_OK);
    attrs_unref(tpa);
    attrs_unref(ta);
    ck_assert_int_eq(sign(d, seq, ipriv, dgst, sig), CKR_OK);
    ck_assert_int_eq(verify(d, seq, ipub, dgst, sig), CKR_OK);
    ck_assert_int_eq(verify(d, seq, hpub, dgst, sig), CKR_SIGNATURE_INVALID);
    ck_assert_int_eq(ops->obj_secret(d, seq, ipriv, CKA_VALUE, &a), CKR_OK);
    ck_assert_mem_eq(attrs_find(a, CKA_VALUE)->val, scalar, 32);
    attrs_unref(a);
    ops->logout(d, seq);
    /* public keys need no login */
    ck_assert_int_eq(verify(d, seq, ipub, dgst, sig), CKR_OK);
    ops->dev_close(d);
}
END_TEST

START_TEST(private_key_operations_need_login)
{
    uint8_t dgst[32] = {1}, sig[64];
    struct bdev *d = open_dev(NULL), *other = open_dev(NULL);
    uint32_t seq = ready_se(d, "se", 3);
    CK_OBJECT_HANDLE hpub = 0, hpriv = 0, spub = 0, spriv = 0;
    login_user(d, seq);
    ck_assert_int_eq(gen_ec(d, seq, "ec", 0, &hpub, &hpriv), CKR_OK);
    ck_assert_int_eq(gen_ec(d, seq, "sess", OBJ_SESSION, &spub, &spriv), CKR_OK);
    CK_OBJECT_HANDLE k = aes_key(d, seq, "aes", aes_value, 0);
    /* key material is cached now */
    ck_assert_int_eq(sign(d, seq, hpriv, dgst, sig), CKR_OK);
    ck_assert_int_eq(sign(d, seq, spriv, dgst, sig), CKR_OK);
    ck_assert_int_eq(gcm_roundtrip(d, seq, k), CKR_OK);
    /* before login, in another process */
    ck_assert_int_eq(sign(other, seq, hpriv, dgst, sig), CKR_USER_NOT_LOGGED_IN);
    ck_assert_int_eq(gcm_roundtrip(other, seq, k), CKR_USER_NOT_LOGGED_IN);
    ck_assert_int_eq(verify(other, seq, hpub, dgst, sig), CKR_SIGNATURE_INVALID);
    /* after logout, even though the material was cached; the private session key is gone */
    ops->logout(d, seq);
    ck_assert_int_eq(sign(d, seq, hpriv, dgst, sig), CKR_USER_NOT_LOGGED_IN);
    ck_assert_int_eq(sign(d, seq, spriv, dgst, sig), CKR_OBJECT_HANDLE_INVALID);
    ck_assert_int_eq(gcm_roundtrip(d, seq, k), CKR_USER_NOT_LOGGED_IN);
    /* a data object is not a key; handle 0 is nothing */
    CK_OBJECT_HANDLE data = data_obj(d, seq, "data", "x", 1, false, 0);
    ck_assert_int_eq(sign(d, seq, data, dgst, sig), CKR_KEY_HANDLE_INVALID);
    ck_assert_int_eq(sign(d, seq, 0, dgst, sig), CKR_OBJECT_HANDLE_INVALID);
    login_user(d, seq);
    ck_assert_int_eq(sign(d, seq, hpriv, dgst, sig), CKR_OK);
    ck_assert_int_eq(verify(other, seq, hpub, dgst, sig), CKR_OK);
    struct bop *op = NULL;
    CK_MECHANISM m = {CKM_ECDSA, NULL, 0};
    ck_assert_int_eq(ops->op_init(d, seq, hpriv, OP_SIGN, NULL, NULL, &op), CKR_ARGUMENTS_BAD);
    ck_assert_int_eq(ops->op_init(d, seq, hpriv, OP__COUNT, &m, NULL, &op), CKR_ARGUMENTS_BAD);
    ck_assert_int_eq(ops->op_init(d, seq, hpriv, OP_SIGN, &m, NULL, NULL), CKR_ARGUMENTS_BAD);
    /* a mechanism the key does not suit */
    ck_assert_int_eq(ops->op_init(d, seq, k, OP_SIGN, &m, NULL, &op), CKR_KEY_TYPE_INCONSISTENT);
    ops->dev_close(other);
    ops->dev_close(d);
}
END_TEST

START_TEST(keys_work_with_the_key_cache_off)
{
    uint8_t dgst[32] = {4}, sig[64];
    struct bdev *d = open_dev("key_cache = 0\n");
    uint32_t seq = ready_se(d, "se", 3);
    login_user(d, seq);
    CK_OBJECT_HANDLE pub = 0, priv = 0;
    ck_assert_int_eq(gen_ec(d, seq, "ec", 0, &pub, &priv), CKR_OK);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(sign(d, seq, priv, dgst, sig), CKR_OK);
        ck_assert_int_eq(verify(d, seq, pub, dgst, sig), CKR_OK);
    }
    ops->logout(d, seq);
    ck_assert_int_eq(sign(d, seq, priv, dgst, sig), CKR_USER_NOT_LOGGED_IN);
    ops->dev_close(d);
}
END_TEST

START_TEST(unique_label_refuses_a_second_object)
{
    struct bdev *d = open_dev(NULL), *other = open_dev(NULL);
    uint32_t seq = ready_se(d, "se", 3), seq2 = ready_se(d, "se2", 3);
    CK_OBJECT_HANDLE h = data_obj(d, seq, "sdo-1", "v1", 2, false, OBJ_UNIQUE_LABEL);
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
                        {CKA_TOKEN, &yes, 1},
                        {CKA_PRIVATE, &no, 1},
                        {CKA_LABEL, "sdo-1", 5},
                        {CKA_VALUE, "v2", 2}};
    struct attrs *a = make_attrs(t, ARRAY_SIZE(t));
    CK_OBJECT_HANDLE h2 = 0;
    ck_assert_int_eq(ops->obj_create(d, seq, a, OBJ_UNIQUE_LABEL, &h2), CKR_SEA_EXISTS);
    ck_assert_int_eq(ops->obj_create(other, seq, a, OBJ_UNIQUE_LABEL, &h2), CKR_SEA_EXISTS);
    ck_assert_int_eq(ops->obj_create(d, seq, a, OBJ_UNIQUE_LABEL | OBJ_SESSION, &h2),
                     CKR_SEA_EXISTS);
    ck_assert_uint_eq(find_label(d, seq, "sdo-1", NULL), 1);
    /* another SE, or without the flag, is fine */
    ck_assert_int_eq(ops->obj_create(d, seq2, a, OBJ_UNIQUE_LABEL, &h2), CKR_OK);
    CK_OBJECT_HANDLE h3 = 0;
    ck_assert_int_eq(ops->obj_create(d, seq, a, 0, &h3), CKR_OK);
    ck_assert_uint_eq(find_label(d, seq, "sdo-1", NULL), 2);
    /* a session object's label counts too */
    data_obj(d, seq, "sdo-2", "v", 1, false, OBJ_SESSION);
    t[3].pValue = "sdo-2";
    attrs_unref(a);
    a = make_attrs(t, ARRAY_SIZE(t));
    ck_assert_int_eq(ops->obj_create(d, seq, a, OBJ_UNIQUE_LABEL, &h2), CKR_SEA_EXISTS);
    attrs_unref(a);
    ck_assert_int_eq(ops->obj_destroy(d, seq, h), CKR_OK);
    ck_assert_int_eq(ops->obj_destroy(d, seq, h3), CKR_OK);
    data_obj(other, seq, "sdo-1", "v3", 2, false, OBJ_UNIQUE_LABEL);
    ck_assert_int_eq(ops->obj_create(d, seq, NULL, 0, &h2), CKR_ARGUMENTS_BAD);
    ops->dev_close(other);
    ops->dev_close(d);
}
END_TEST

START_TEST(find_by_label_among_2000_returns_exactly_one)
{
    struct bdev *d = open_dev(NULL);
    uint32_t seq = ready_se(d, "se", 3), other_se = ready_se(d, "other", 3);
    char label[32];
    CK_OBJECT_HANDLE want = 0;
    for (int i = 0; i < 2000; i++) {
        snprintf(label, sizeof(label), "obj-%04d", i);
        CK_OBJECT_HANDLE h = data_obj(d, seq, label, label, strlen(label), false, 0);
        if (i == 1234)
            want = h;
    }
    data_obj(d, other_se, "obj-1234", "elsewhere", 9, false, 0);
    CK_OBJECT_HANDLE got = 0;
    ck_assert_uint_eq(find_label(d, seq, "obj-1234", &got), 1);
    ck_assert_uint_eq(got, want);
    assert_label(d, seq, got, "obj-1234");
    ck_assert_uint_eq(find_label(d, seq, "obj-12345", NULL), 0);
    ck_assert_uint_eq(find_label(d, seq, "obj-123", NULL), 0);
    /* label plus an attribute without a column (matched on the decoded attributes) */
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_ATTRIBUTE t[] = {
        {CKA_LABEL, "obj-1234", 8}, {CKA_CLASS, &cls, sizeof(cls)}, {CKA_VALUE, "obj-1234", 8}};
    ck_assert_uint_eq(find(d, seq, t, 3, true, &got), 1);
    ck_assert_uint_eq(got, want);
    t[2].pValue = "obj-1235";
    ck_assert_uint_eq(find(d, seq, t, 3, true, NULL), 0);
    /* only a non-indexed attribute: every object of the SE is checked */
    CK_ATTRIBUTE v[] = {{CKA_VALUE, "obj-0007", 8}};
    ck_assert_uint_eq(find(d, seq, v, 1, true, NULL), 1);
    /* the whole SE, and values of a size no attribute has */
    ck_assert_uint_eq(find(d, seq, NULL, 0, true, NULL), 2000);
    CK_ATTRIBUTE bad[] = {{CKA_CLASS, &cls, 3}};
    ck_assert_uint_eq(find(d, seq, bad, 1, true, NULL), 0);
    CK_OBJECT_HANDLE *out = NULL;
    size_t n = 0;
    ck_assert_int_eq(ops->obj_find(d, seq, NULL, 2, true, &out, &n), CKR_ARGUMENTS_BAD);
    ck_assert_int_eq(ops->obj_find(d, seq, t, 1, true, NULL, &n), CKR_ARGUMENTS_BAD);
    ck_assert_int_eq(ops->obj_find(d, 77, t, 1, true, &out, &n), CKR_TOKEN_NOT_PRESENT);
    ops->dev_close(d);
}
END_TEST

START_TEST(find_uses_class_key_type_id_and_private_columns)
{
    struct bdev *d = open_dev(NULL);
    uint32_t seq = ready_se(d, "se", 3);
    login_user(d, seq);
    CK_OBJECT_HANDLE hpub = 0, hpriv = 0, got = 0;
    ck_assert_int_eq(gen_ec(d, seq, "ec", 0, &hpub, &hpriv), CKR_OK);
    CK_OBJECT_HANDLE k = aes_key(d, seq, "aes", aes_value, 0);
    data_obj(d, seq, "data", "x", 1, false, 0);
    CK_OBJECT_CLASS priv_cls = CKO_PRIVATE_KEY, secret_cls = CKO_SECRET_KEY;
    CK_KEY_TYPE ec = CKK_EC, aes = CKK_AES;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE t1[] = {{CKA_CLASS, &priv_cls, sizeof(priv_cls)}, {CKA_KEY_TYPE, &ec, sizeof(ec)}};
    ck_assert_uint_eq(find(d, seq, t1, 2, true, &got), 1);
    ck_assert_uint_eq(got, hpriv);
    CK_ATTRIBUTE t2[] = {{CKA_KEY_TYPE, &aes, sizeof(aes)}};
    ck_assert_uint_eq(find(d, seq, t2, 1, true, &got), 1);
    ck_assert_uint_eq(got, k);
    CK_ATTRIBUTE t3[] = {{CKA_PRIVATE, &no, 1}};
    ck_assert_uint_eq(find(d, seq, t3, 1, true, NULL), 2); /* public key, data */
    CK_ATTRIBUTE t4[] = {{CKA_PRIVATE, &yes, 1}};
    ck_assert_uint_eq(find(d, seq, t4, 1, true, NULL), 2);
    ck_assert_uint_eq(find(d, seq, t4, 1, false, NULL), 0);
    CK_ATTRIBUTE t5[] = {{CKA_CLASS, &secret_cls, sizeof(secret_cls)}, {CKA_ID, "", 0}};
    ck_assert_uint_eq(find(d, seq, t5, 2, true, &got), 1); /* the schema gives an empty id */
    ck_assert_uint_eq(got, k);
    ck_assert_uint_eq(find(d, seq, t5, 2, false, NULL), 0);
    ops->dev_close(d);
}
END_TEST

/* The full attributes of object h (public and secret), as the core gathers them for a copy. */
static struct attrs *full_attrs(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h)
{
    struct attrs *pub = NULL, *sec = NULL;
    ck_assert_int_eq(ops->obj_attrs(d, seq, h, &pub), CKR_OK);
    struct attrs *all = attrs_dup(pub);
    ck_assert_ptr_nonnull(all);
    ck_assert_int_eq(ops->obj_secret(d, seq, h, CKA_VALUE, &sec), CKR_OK);
    ck_assert_int_eq(attrs_merge(all, sec), CKR_OK);
    attrs_unref(sec);
    attrs_unref(pub);
    return all;
}

/* C_CopyObject as the core does it: schema_copy of the full attributes, then obj_create. */
static CK_OBJECT_HANDLE copy_obj(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h,
                                 const char *label)
{
    CK_ATTRIBUTE t[] = {{CKA_LABEL, (void *)label, strlen(label)}};
    struct attrs *orig = full_attrs(d, seq, h), *copy = NULL;
    ck_assert_int_eq(schema_copy(orig, t, 1, &copy), CKR_OK);
    CK_OBJECT_HANDLE c = 0;
    CK_RV rv = ops->obj_create(d, seq, copy, 0, &c);
    ck_assert_msg(rv == CKR_OK, "copy: 0x%lx %s", rv, err_get()->msg);
    attrs_unref(copy);
    attrs_unref(orig);
    return c;
}

/* Is the value in neither the database nor its WAL? */
static bool in_no_file(const void *v, size_t n)
{
    char db[256], wal[256];
    return !file_contains(db_path(db, sizeof(db), ""), v, n) &&
           !file_contains(db_path(wal, sizeof(wal), "-wal"), v, n);
}

START_TEST(secrets_never_appear_in_clear_in_the_files)
{
    static const char data_secret[] = "TOP-SECRET-DATA-VALUE-8c1f2e7d";
    static const char data_public[] = "PUBLIC-DATA-VALUE-5b9a0c3e";
    static const uint8_t scalar[32] = {0x51, 0x9b, 0x42, 0x3d, 0x71, 0x5f, 0x8b, 0x58,
                                       0x1f, 0x4f, 0xa8, 0xee, 0x59, 0xf4, 0x77, 0x1a,
                                       0x5b, 0x44, 0xc8, 0x13, 0x0b, 0x4e, 0x3e, 0xac,
                                       0xca, 0x54, 0xa5, 0x6d, 0xda, 0x72, 0xb4, 0x64};
    uint8_t generated[32];
    char db[256], wal[256];
    db_path(db, sizeof(db), "");
    db_path(wal, sizeof(wal), "-wal");
    struct bdev *d = open_dev(NULL);
    uint32_t seq = ready_se(d, "se", 3);
    login_user(d, seq);
    CK_OBJECT_HANDLE k = aes_key(d, seq, "aes", aes_value, 0);
    CK_OBJECT_HANDLE sd = data_obj(d, seq, "secret data", data_secret, L(data_secret), true, 0);
    data_obj(d, seq, "public data", data_public, L(data_public), false, 0);
    /* EC private keys, generated and imported */
    CK_OBJECT_HANDLE pub = 0, priv = 0;
    ck_assert_int_eq(gen_ec(d, seq, "ec", 0, &pub, &priv), CKR_OK);
    struct attrs *a = NULL;
    ck_assert_int_eq(ops->obj_secret(d, seq, priv, CKA_VALUE, &a), CKR_OK);
    ck_assert_uint_eq(attrs_find(a, CKA_VALUE)->len, sizeof(generated));
    memcpy(generated, attrs_find(a, CKA_VALUE)->val, sizeof(generated));
    attrs_unref(a);
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = CKK_EC;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
                        {CKA_KEY_TYPE, &kt, sizeof(kt)},
                        {CKA_TOKEN, &yes, 1},
                        {CKA_PRIVATE, &yes, 1},
                        {CKA_SIGN, &yes, 1},
                        {CKA_LABEL, "imported", 8},
                        {CKA_EC_PARAMS, (void *)p256_oid, sizeof(p256_oid)},
                        {CKA_VALUE, (void *)scalar, sizeof(scalar)}};
    a = make_attrs(t, ARRAY_SIZE(t));
    CK_OBJECT_HANDLE imported = 0;
    ck_assert_int_eq(ops->obj_create(d, seq, a, 0, &imported), CKR_OK);
    attrs_unref(a);
    /* and copies of each */
    CK_OBJECT_HANDLE copies[] = {copy_obj(d, seq, k, "aes copy"), copy_obj(d, seq, sd, "data copy"),
                                 copy_obj(d, seq, priv, "ec copy"),
                                 copy_obj(d, seq, imported, "imported copy")};
    ck_assert_int_eq(secret_rv(d, seq, copies[3]), CKR_OK);
    /* the search itself works: the public value is there */
    ck_assert(!in_no_file(data_public, L(data_public)));
    ck_assert_int_gt(file_size(wal), 0);
    ck_assert(in_no_file(aes_value, sizeof(aes_value)));
    ck_assert(in_no_file(data_secret, L(data_secret)));
    ck_assert(in_no_file(generated, sizeof(generated)));
    ck_assert(in_no_file(scalar, sizeof(scalar)));
    ck_assert(in_no_file(USER_PIN, L(USER_PIN)));
    ck_assert(in_no_file(SO_PIN, L(SO_PIN)));
    ops->dev_close(d);
    /* after the checkpoint at close everything is in the database file */
    ck_assert(file_contains(db, data_public, L(data_public)));
    ck_assert(!file_contains(db, aes_value, sizeof(aes_value)));
    ck_assert(!file_contains(db, data_secret, L(data_secret)));
    ck_assert(!file_contains(db, generated, sizeof(generated)));
    ck_assert(!file_contains(db, scalar, sizeof(scalar)));
}
END_TEST

/* The only connection another process opens and closes: if this process had lost its SQLite
 * locks (a stray close() of a descriptor on the database drops all of a process's POSIX locks),
 * that process would think it was alone, checkpoint and remove the WAL, and our next commit
 * would go to an orphaned WAL file and be lost. */
/* Objects in the store as counted by a separate program (the sqlite3 shell), which opens and
 * closes the database the way another process of ours would and sees only what reached the
 * shared WAL or the file; -1 if it could not run. Asserts nothing: forked children use it. */
static long rows_seen_by_another_program(void)
{
    char db[512];
    db_path(db, sizeof(db), "");
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        /* a separate program: a forked child must not reuse this process's SQLite state */
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execlp("sqlite3", "sqlite3", db, "SELECT count(*) FROM obj;", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char out[64] = {0};
    size_t got = 0;
    ssize_t r;
    while (pid > 0 && got < sizeof(out) - 1 &&
           (r = read(fds[0], out + got, sizeof(out) - 1 - got)) > 0)
        got += (size_t)r;
    close(fds[0]);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0)
        return -1;
    char *tail = NULL;
    long n = strtol(out, &tail, 10);
    return tail != out && *tail == '\n' ? n : -1;
}

#define NEED_SQLITE3_PROGRAM "the sqlite3 program did not run (install the sqlite3 package)"

/* A store connection must never lose the locks SQLite holds for this process: when it did
 * (a close() on another descriptor of the file drops them all), the first other process to
 * close the database checkpointed and removed the WAL under us, and every later commit of
 * ours went into an unlinked file that no other process could see. */
START_TEST(another_process_closing_the_store_never_orphans_our_writes)
{
    struct bdev *a = open_dev(NULL);
    uint32_t seq = ready_se(a, "se", 3);
    data_obj(a, seq, "before", "v", 1, false, 0);
    long n = rows_seen_by_another_program();
    ck_assert_msg(n >= 1, NEED_SQLITE3_PROGRAM);
    data_obj(a, seq, "after", "v", 1, false, 0);
    ck_assert_int_eq(rows_seen_by_another_program(), n + 1);
    ops->dev_close(a);
    struct bdev *b = open_dev(NULL);
    ck_assert_uint_eq(find_label(b, seq, "before", NULL), 1);
    ck_assert_uint_eq(find_label(b, seq, "after", NULL), 1);
    ops->dev_close(b);
}
END_TEST

static CK_RV try_data_obj(struct bdev *d, uint32_t seq, const char *label)
{
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
                        {CKA_TOKEN, &yes, 1},
                        {CKA_PRIVATE, &no, 1},
                        {CKA_LABEL, (void *)label, strlen(label)},
                        {CKA_VALUE, "v", 1}};
    struct attrs *a = NULL;
    CK_OBJECT_HANDLE h = 0;
    CK_RV rv = schema_create(t, ARRAY_SIZE(t), false, &a);
    if (rv == CKR_OK)
        rv = ops->obj_create(d, seq, a, 0, &h);
    attrs_unref(a);
    return rv;
}

/* A forked child that opens the store again while the parent's connections are still in its
 * memory (it never gave up the parent's device): SQLite's record of this process's locks came
 * with them, so unless those connections are closed first the child's own takes no lock, and
 * the parent closing the database removes the WAL under the child's next commit. */
static struct bdev
    *volatile kept_in_child; /* the parent's device: the core keeps it reachable too */

START_TEST(a_forked_child_that_opens_the_store_again_writes_where_everyone_sees_it)
{
    struct bdev *a = open_dev(NULL);
    uint32_t seq = ready_se(a, "se", 3);
    data_obj(a, seq, "parent", "v", 1, false, 0);
    long n = rows_seen_by_another_program();
    ck_assert_msg(n >= 1, NEED_SQLITE3_PROGRAM);
    int up[2], down[2];
    ck_assert_int_eq(pipe(up), 0);
    ck_assert_int_eq(pipe(down), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* results go up as three longs: the two writes' CKR values, then the count */
        long res[3] = {-1, -1, -1};
        char go = 0;
        struct bdev *b = NULL;
        kept_in_child = a;
        if (try_open(NULL, &b) == CKR_OK) {
            res[0] = (long)try_data_obj(b, seq, "child-1");
            if (write(up[1], res, sizeof(long)) == sizeof(long) && read(down[0], &go, 1) == 1) {
                res[1] = (long)try_data_obj(b, seq, "child-2");
                res[2] = rows_seen_by_another_program();
            }
            ops->dev_close(b);
        }
        ssize_t w = write(up[1], res + 1, 2 * sizeof(long));
        _exit(w == (ssize_t)(2 * sizeof(long)) ? 0 : 1);
    }
    close(up[1]);
    close(down[0]);
    long res[3] = {-1, -1, -1};
    ck_assert_int_eq(read(up[0], res, sizeof(long)), (ssize_t)sizeof(long));
    ck_assert_msg(res[0] == CKR_OK, "the child's first write: 0x%lx", res[0]);
    ops->dev_close(a); /* the parent is done with the store */
    ck_assert_int_eq(write(down[1], "g", 1), 1);
    ck_assert_int_eq(read(up[0], res + 1, 2 * sizeof(long)), (ssize_t)(2 * sizeof(long)));
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child ended with status 0x%x",
                  (unsigned)status);
    close(up[0]);
    close(down[1]);
    ck_assert_msg(res[1] == CKR_OK, "the child's second write: 0x%lx", res[1]);
    ck_assert_msg(res[2] == n + 2, "another process sees %ld objects, %ld written", res[2], n + 2);
    struct bdev *c = open_dev(NULL);
    ck_assert_uint_eq(find_label(c, seq, "child-2", NULL), 1);
    ops->dev_close(c);
}
END_TEST

START_TEST(second_instance_sees_writes_at_once)
{
    struct bdev *a = open_dev(NULL), *b = open_dev(NULL);
    uint32_t seq = ready_se(a, "se", 3);
    ck_assert_uint_eq(get_desc(b, seq).seq, seq);
    CK_OBJECT_HANDLE h = data_obj(a, seq, "shared", "v", 1, false, 0), got = 0;
    ck_assert_uint_eq(find_label(b, seq, "shared", &got), 1);
    ck_assert_uint_eq(got, h);
    assert_label(b, seq, h, "shared"); /* b caches it now */
    struct attrs *ch = attrs_new();
    ck_assert_int_eq(attrs_set(ch, CKA_LABEL, "renamed", 7), CKR_OK);
    ck_assert_int_eq(ops->obj_update(a, seq, h, ch), CKR_OK);
    attrs_unref(ch);
    assert_label(b, seq, h, "renamed");
    ck_assert_uint_eq(find_label(b, seq, "shared", NULL), 0);
    ck_assert_int_eq(ops->obj_destroy(a, seq, h), CKR_OK);
    struct attrs *x = NULL;
    ck_assert_int_eq(ops->obj_attrs(b, seq, h, &x), CKR_OBJECT_HANDLE_INVALID);
    ck_assert_uint_eq(find_label(b, seq, "renamed", NULL), 0);
    /* session objects stay in their process */
    CK_OBJECT_HANDLE s = data_obj(a, seq, "mine", "v", 1, false, OBJ_SESSION);
    ck_assert_uint_ne(s & 0x80000000u, 0);
    ck_assert_uint_eq(find_label(a, seq, "mine", NULL), 1);
    ck_assert_uint_eq(find_label(b, seq, "mine", NULL), 0);
    ck_assert_int_eq(ops->obj_attrs(b, seq, s, &x), CKR_OBJECT_HANDLE_INVALID);
    /* and SE creation and deletion */
    uint32_t seq2 = new_se(b, "by b", 3);
    ck_assert_str_eq(get_desc(a, seq2).name, "by b");
    ck_assert_int_eq(ops->se_delete(a, seq2, P(SO_PIN), L(SO_PIN)), CKR_OK);
    struct se_desc *list = NULL;
    size_t n = 0;
    uint32_t next = 0;
    ck_assert_int_eq(ops->se_list(b, &list, &n, &next), CKR_OK);
    ck_assert_uint_eq(n, 1);
    free(list);
    ops->dev_close(b);
    ops->dev_close(a);
}
END_TEST

START_TEST(a_checked_snapshot_never_outlives_what_the_store_says)
{
    struct bdev *a = open_dev(NULL), *b = open_dev(NULL);
    uint32_t seq = ready_se(a, "se", 3);
    login_user(a, seq);
    CK_OBJECT_HANDLE pub = 0, priv = 0, other = 0, other_priv = 0;
    ck_assert_int_eq(gen_ec(a, seq, "k", 0, &pub, &priv), CKR_OK);
    ck_assert_int_eq(gen_ec(a, seq, "k2", 0, &other, &other_priv), CKR_OK);
    uint8_t dgst[32] = {1}, sig[64];
    ck_assert_int_eq(sign(a, seq, priv, dgst, sig), CKR_OK); /* a caches the key material */
    CK_MECHANISM m = {CKM_ECDSA, NULL, 0};
    struct bop *op = NULL;
    struct attrs *snap = NULL, *x = NULL;
    ck_assert_int_eq(ops->obj_attrs(a, seq, priv, &snap), CKR_OK);
    ck_assert_int_eq(ops->op_init(a, seq, priv, OP_SIGN, &m, snap, &op), CKR_OK);
    ops->op_free(op);
    op = NULL;
    /* a snapshot of another object proves nothing about this one */
    ck_assert_int_eq(ops->obj_attrs(a, seq, other, &x), CKR_OK);
    ck_assert_int_eq(ops->op_init(a, seq, priv, OP_SIGN, &m, x, &op), CKR_OK);
    ops->op_free(op);
    op = NULL;
    attrs_unref(x);
    /* another process deletes the key (a private one: its user logs in there); once a has seen
     * that, the old snapshot is worthless */
    ck_assert_int_eq(ops->obj_destroy(b, seq, priv), CKR_USER_NOT_LOGGED_IN);
    login_user(b, seq);
    ck_assert_int_eq(ops->obj_destroy(b, seq, priv), CKR_OK);
    ck_assert_int_eq(ops->obj_attrs(a, seq, pub, &x), CKR_OK);
    attrs_unref(x);
    ck_assert_int_eq(ops->op_init(a, seq, priv, OP_SIGN, &m, snap, &op), CKR_OBJECT_HANDLE_INVALID);
    ck_assert_ptr_null(op);
    attrs_unref(snap);
    ops->dev_close(b);
    ops->dev_close(a);
}
END_TEST

START_TEST(objects_of_one_se_are_invisible_from_another)
{
    uint8_t dgst[32] = {2}, sig[64];
    struct bdev *d = open_dev(NULL);
    uint32_t a = ready_se(d, "A", 3), b = ready_se(d, "B", 3);
    login_user(d, a);
    login_user(d, b);
    CK_OBJECT_HANDLE pub = 0, priv = 0;
    ck_assert_int_eq(gen_ec(d, a, "ec", 0, &pub, &priv), CKR_OK);
    CK_OBJECT_HANDLE k = aes_key(d, a, "aes", aes_value, 0);
    CK_OBJECT_HANDLE s = data_obj(d, a, "sess", "v", 1, false, OBJ_SESSION);
    ck_assert_int_eq(sign(d, a, priv, dgst, sig), CKR_OK); /* cached under A */
    CK_OBJECT_HANDLE all[] = {pub, priv, k, s};
    struct attrs *x = NULL;
    struct attrs *ch = attrs_new();
    ck_assert_int_eq(attrs_set(ch, CKA_LABEL, "stolen", 6), CKR_OK);
    for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
        ck_assert_int_eq(ops->obj_attrs(d, b, all[i], &x), CKR_OBJECT_HANDLE_INVALID);
        ck_assert_int_eq(ops->obj_secret(d, b, all[i], CKA_VALUE, &x), CKR_OBJECT_HANDLE_INVALID);
        ck_assert_int_eq(ops->obj_update(d, b, all[i], ch), CKR_OBJECT_HANDLE_INVALID);
        ck_assert_int_eq(ops->obj_destroy(d, b, all[i]), CKR_OBJECT_HANDLE_INVALID);
    }
    attrs_unref(ch);
    ck_assert_int_eq(sign(d, b, priv, dgst, sig), CKR_OBJECT_HANDLE_INVALID);
    ck_assert_int_eq(gcm_roundtrip(d, b, k), CKR_OBJECT_HANDLE_INVALID);
    ck_assert_int_eq(sign(d, b, s, dgst, sig), CKR_OBJECT_HANDLE_INVALID);
    ck_assert_uint_eq(find(d, b, NULL, 0, true, NULL), 0);
    ck_assert_uint_eq(find(d, a, NULL, 0, true, NULL), 4);
    /* all still intact in A */
    ck_assert_int_eq(sign(d, a, priv, dgst, sig), CKR_OK);
    assert_label(d, a, k, "aes");
    ops->dev_close(d);
}
END_TEST

START_TEST(session_objects_live_in_memory_until_destroyed)
{
    uint8_t dgst[32] = {3}, sig[64];
    struct bdev *d = open_dev(NULL);
    uint32_t seq = ready_se(d, "se", 3);
    login_user(d, seq);
    CK_OBJECT_HANDLE s1 = data_obj(d, seq, "s1", "one", 3, true, OBJ_SESSION);
    CK_OBJECT_HANDLE s2 = data_obj(d, seq, "s2", "two", 3, false, OBJ_SESSION);
    ck_assert_uint_eq(s1 & 0x80000000u, 0x80000000u);
    ck_assert_uint_gt(s2, s1);
    struct attrs *a = NULL;
    ck_assert_int_eq(ops->obj_attrs(d, seq, s1, &a), CKR_OK);
    ck_assert_ptr_null(attrs_find(a, CKA_VALUE)); /* the secret is apart */
    attrs_unref(a);
    ck_assert_int_eq(ops->obj_secret(d, seq, s1, CKA_VALUE, &a), CKR_OK);
    ck_assert_mem_eq(attrs_find(a, CKA_VALUE)->val, "one", 3);
    attrs_unref(a);
    struct attrs *ch = attrs_new();
    ck_assert_int_eq(attrs_set(ch, CKA_LABEL, "s1b", 3), CKR_OK);
    ck_assert_int_eq(attrs_set_secret(ch, CKA_VALUE, "uno", 3), CKR_OK);
    ck_assert_int_eq(ops->obj_update(d, seq, s1, ch), CKR_OK);
    attrs_unref(ch);
    assert_label(d, seq, s1, "s1b");
    ck_assert_int_eq(ops->obj_secret(d, seq, s1, CKA_VALUE, &a), CKR_OK);
    ck_assert_mem_eq(attrs_find(a, CKA_VALUE)->val, "uno", 3);
    attrs_unref(a);
    CK_OBJECT_HANDLE pub = 0, priv = 0;
    ck_assert_int_eq(gen_ec(d, seq, "ec", OBJ_SESSION, &pub, &priv), CKR_OK);
    ck_assert_int_eq(sign(d, seq, priv, dgst, sig), CKR_OK);
    ck_assert_int_eq(verify(d, seq, pub, dgst, sig), CKR_OK);
    CK_ATTRIBUTE t[] = {{CKA_LABEL, "s1b", 3}};
    ck_assert_uint_eq(find(d, seq, t, 1, true, NULL), 1);
    ck_assert_uint_eq(find(d, seq, t, 1, false, NULL), 0); /* s1 is private */
    ck_assert_int_eq(ops->obj_destroy(d, seq, s1), CKR_OK);
    ck_assert_int_eq(ops->obj_attrs(d, seq, s1, &a), CKR_OBJECT_HANDLE_INVALID);
    ck_assert_int_eq(ops->obj_destroy(d, seq, s1), CKR_OBJECT_HANDLE_INVALID);
    /* handles are not reused */
    CK_OBJECT_HANDLE s3 = data_obj(d, seq, "s3", "three", 5, false, OBJ_SESSION);
    ck_assert_uint_gt(s3, priv);
    ops->logout(d, seq);
    ck_assert_int_eq(ops->obj_secret(d, seq, s3, CKA_VALUE, &a), CKR_ATTRIBUTE_TYPE_INVALID);
    ops->dev_close(d);
    d = open_dev(NULL);
    ck_assert_uint_eq(find(d, seq, NULL, 0, true, NULL), 0);
    ops->dev_close(d);
}
END_TEST

/* ---- logins seen from other processes ---- */

static CK_OBJECT_HANDLE guarded_key(struct bdev *d, uint32_t seq, const char *label,
                                    const uint8_t value[32], bool priv);

START_TEST(a_stale_login_after_a_reinit_elsewhere_reaches_nothing_of_the_new_owner)
{
    uint8_t dgst[32] = {5}, sig[64];
    struct bdev *a = open_dev(NULL), *b = open_dev(NULL);
    uint32_t seq = ready_se(a, "se", 3);
    login_user(a, seq);
    CK_OBJECT_HANDLE old = data_obj(a, seq, "old", "v", 1, true, 0);
    CK_OBJECT_HANDLE sess = data_obj(a, seq, "old session", "v", 1, false, OBJ_SESSION);
    ck_assert_uint_eq(get_desc(a, seq).epoch, 1);
    /* another process re-initialises the SE; its new owner stores private objects */
    ck_assert_int_eq(ops->se_reinit(b, seq, P(SO_PIN), L(SO_PIN), "new owner"), CKR_OK);
    ck_assert_int_eq(ops->login(b, seq, CKU_SO, P(SO_PIN), L(SO_PIN)), CKR_OK);
    ck_assert_int_eq(ops->init_pin(b, seq, P("new-owner-pin"), 13), CKR_OK);
    ops->logout(b, seq);
    ck_assert_int_eq(ops->login(b, seq, CKU_USER, P("new-owner-pin"), 13), CKR_OK);
    CK_OBJECT_HANDLE secret = data_obj(b, seq, "new-owner-secret", "TOPSECRET", 9, true, 0);
    CK_OBJECT_HANDLE pub = 0, priv = 0;
    ck_assert_int_eq(gen_ec(b, seq, "new-key", 0, &pub, &priv), CKR_OK);
    /* this process's login belonged to the old SE: whatever it tries first is refused */
    ck_assert_int_eq(ops->obj_destroy(a, seq, secret), CKR_USER_NOT_LOGGED_IN);
    ck_assert_int_eq(rename_rv(a, seq, secret, "renamed-by-a"), CKR_USER_NOT_LOGGED_IN);
    ck_assert_int_eq(attrs_rv(a, seq, secret), CKR_USER_NOT_LOGGED_IN);
    ck_assert_int_eq(secret_rv(a, seq, secret), CKR_USER_NOT_LOGGED_IN);
    ck_assert_int_eq(sign(a, seq, priv, dgst, sig), CKR_USER_NOT_LOGGED_IN);
    CK_OBJECT_HANDLE got = 0;
    ck_assert_uint_eq(find(a, seq, NULL, 0, true, &got), 1); /* the new public key only */
    ck_assert_uint_eq(got, pub);
    CK_OBJECT_HANDLE h = 0;
    ck_assert_int_eq(try_aes_key(a, seq, "planted", aes_value, 0, &h), CKR_USER_NOT_LOGGED_IN);
    /* the SE says why: a new epoch */
    ck_assert_uint_eq(get_desc(a, seq).epoch, 2);
    /* and what belonged to the old SE is gone, session objects included */
    ck_assert_int_eq(attrs_rv(a, seq, old), CKR_OBJECT_HANDLE_INVALID);
    ck_assert_int_eq(attrs_rv(a, seq, sess), CKR_OBJECT_HANDLE_INVALID);
    /* the new owner's objects are intact */
    struct attrs *x = NULL;
    ck_assert_int_eq(ops->obj_secret(b, seq, secret, CKA_VALUE, &x), CKR_OK);
    ck_assert_mem_eq(attrs_find(x, CKA_VALUE)->val, "TOPSECRET", 9);
    attrs_unref(x);
    assert_label(b, seq, secret, "new-owner-secret");
    ck_assert_int_eq(sign(b, seq, priv, dgst, sig), CKR_OK);
    /* logging in again with the new PIN gives it all back */
    ck_assert_int_eq(ops->login(a, seq, CKU_USER, P("new-owner-pin"), 13), CKR_OK);
    ck_assert_uint_eq(find(a, seq, NULL, 0, true, NULL), 3);
    ops->dev_close(b);
    ops->dev_close(a);
}
END_TEST

START_TEST(a_pin_change_elsewhere_keeps_this_login)
{
    struct bdev *a = open_dev(NULL), *b = open_dev(NULL);
    uint32_t seq = ready_se(a, "se", 3);
    login_user(a, seq);
    CK_OBJECT_HANDLE k = aes_key(a, seq, "k", aes_value, 0);
    ck_assert_int_eq(gcm_roundtrip(a, seq, k), CKR_OK);
    /* the SO PIN changes in another process: the SE key is the same */
    ck_assert_int_eq(ops->login(b, seq, CKU_SO, P(SO_PIN), L(SO_PIN)), CKR_OK);
    ck_assert_int_eq(ops->set_pin(b, seq, CKU_SO, P(SO_PIN), L(SO_PIN), P("new-so-pin"), 10),
                     CKR_OK);
    ops->logout(b, seq);
    ck_assert_int_eq(gcm_roundtrip(a, seq, k), CKR_OK);
    ck_assert_int_eq(secret_rv(a, seq, k), CKR_OK);
    ck_assert_uint_eq(get_desc(a, seq).epoch, 1);
    /* and the user PIN too */
    ck_assert_int_eq(
        ops->set_pin(b, seq, CKU_USER, P(USER_PIN), L(USER_PIN), P("new-user-pin"), 12), CKR_OK);
    CK_OBJECT_HANDLE k2 = aes_key(a, seq, "k2", aes_value, 0);
    ck_assert_int_eq(gcm_roundtrip(a, seq, k2), CKR_OK);
    ck_assert_uint_eq(find(a, seq, NULL, 0, true, NULL), 2);
    /* the new PINs are what opens the SE from now on */
    ck_assert_int_eq(ops->login(b, seq, CKU_USER, P(USER_PIN), L(USER_PIN)), CKR_PIN_INCORRECT);
    ck_assert_int_eq(ops->login(b, seq, CKU_USER, P("new-user-pin"), 12), CKR_OK);
    ck_assert_int_eq(gcm_roundtrip(b, seq, k2), CKR_OK);
    ops->dev_close(b);
    ops->dev_close(a);
}
END_TEST

START_TEST(the_so_holds_the_key_but_not_the_users_private_objects)
{
    struct bdev *d = open_dev(NULL);
    uint32_t seq = ready_se(d, "se", 3);
    login_user(d, seq);
    CK_OBJECT_HANDLE k = aes_key(d, seq, "k", aes_value, 0);
    CK_OBJECT_HANDLE s = data_obj(d, seq, "private session", "v", 1, true, OBJ_SESSION);
    CK_OBJECT_HANDLE pk = guarded_key(d, seq, "public key object", aes_value, false);
    ops->logout(d, seq);
    ck_assert_int_eq(ops->login(d, seq, CKU_SO, P(SO_PIN), L(SO_PIN)), CKR_OK);
    ck_assert_int_eq(attrs_rv(d, seq, k), CKR_USER_NOT_LOGGED_IN);
    ck_assert_int_eq(secret_rv(d, seq, k), CKR_USER_NOT_LOGGED_IN);
    ck_assert_int_eq(gcm_roundtrip(d, seq, k), CKR_USER_NOT_LOGGED_IN);
    ck_assert_int_eq(rename_rv(d, seq, k, "so-was-here"), CKR_USER_NOT_LOGGED_IN);
    ck_assert_int_eq(ops->obj_destroy(d, seq, k), CKR_USER_NOT_LOGGED_IN);
    ck_assert_int_eq(attrs_rv(d, seq, s), CKR_OBJECT_HANDLE_INVALID); /* ended with the login */
    CK_OBJECT_HANDLE got = 0;
    ck_assert_uint_eq(find(d, seq, NULL, 0, true, &got), 1);
    ck_assert_uint_eq(got, pk);
    /* a non-private key with a secret is usable with the SO's key, and it is checked with it */
    ck_assert_int_eq(gcm_roundtrip(d, seq, pk), CKR_OK);
    ck_assert_int_eq(rename_rv(d, seq, pk, "renamed by the SO"), CKR_OK);
    assert_label(d, seq, pk, "renamed by the SO");
    /* the SO cannot create private objects either */
    CK_OBJECT_HANDLE h = 0;
    ck_assert_int_eq(try_aes_key(d, seq, "so key", aes_value, 0, &h), CKR_USER_NOT_LOGGED_IN);
    ck_assert_int_eq(try_aes_key(d, seq, "so key", aes_value, OBJ_SESSION, &h),
                     CKR_USER_NOT_LOGGED_IN);
    ops->logout(d, seq);
    /* nobody logged in: the non-private key's secret needs a login all the same */
    ck_assert_int_eq(gcm_roundtrip(d, seq, pk), CKR_USER_NOT_LOGGED_IN);
    login_user(d, seq);
    ck_assert_int_eq(gcm_roundtrip(d, seq, k), CKR_OK);
    ops->dev_close(d);
}
END_TEST

START_TEST(logout_destroys_the_private_session_objects)
{
    uint8_t dgst[32] = {6}, sig[64];
    struct bdev *d = open_dev(NULL);
    uint32_t seq = ready_se(d, "se", 3), seq2 = ready_se(d, "se2", 3);
    login_user(d, seq);
    login_user(d, seq2);
    CK_OBJECT_HANDLE priv_data = data_obj(d, seq, "p", "secret", 6, true, OBJ_SESSION);
    CK_OBJECT_HANDLE pub_data = data_obj(d, seq, "q", "public", 6, false, OBJ_SESSION);
    CK_OBJECT_HANDLE other_se = data_obj(d, seq2, "r", "secret", 6, true, OBJ_SESSION);
    CK_OBJECT_HANDLE token = data_obj(d, seq, "t", "secret", 6, true, 0);
    CK_OBJECT_HANDLE pub = 0, priv = 0;
    ck_assert_int_eq(gen_ec(d, seq, "ec", OBJ_SESSION, &pub, &priv), CKR_OK);
    ck_assert_int_eq(sign(d, seq, priv, dgst, sig), CKR_OK);
    ops->logout(d, seq);
    login_user(d, seq);
    /* gone, not merely hidden: a new login does not bring them back */
    ck_assert_int_eq(attrs_rv(d, seq, priv_data), CKR_OBJECT_HANDLE_INVALID);
    ck_assert_int_eq(attrs_rv(d, seq, priv), CKR_OBJECT_HANDLE_INVALID);
    ck_assert_int_eq(sign(d, seq, priv, dgst, sig), CKR_OBJECT_HANDLE_INVALID);
    ck_assert_uint_eq(find_label(d, seq, "p", NULL), 0);
    /* the public ones, the token ones and another SE's stay */
    ck_assert_int_eq(attrs_rv(d, seq, pub_data), CKR_OK);
    ck_assert_int_eq(verify(d, seq, pub, dgst, sig), CKR_OK);
    ck_assert_int_eq(secret_rv(d, seq, token), CKR_OK);
    ck_assert_int_eq(secret_rv(d, seq2, other_se), CKR_OK);
    ops->dev_close(d);
}
END_TEST

/* ---- damage ---- */

/* Opening must fail with CKR_DEVICE_ERROR, say "damaged", and leave the file byte-identical. */
static void assert_damaged_untouched(void)
{
    char db[256];
    uint8_t before[32], after[32];
    db_path(db, sizeof(db), "");
    off_t size = file_size(db);
    file_sha256(db, before);
    struct bdev *d = NULL;
    CK_RV rv = try_open(NULL, &d);
    ck_assert_msg(rv == CKR_DEVICE_ERROR, "dev_open gave 0x%lx (%s)", rv, err_get()->msg);
    ck_assert_ptr_null(d);
    ck_assert_uint_eq(err_get()->rv, CKR_DEVICE_ERROR);
    ck_assert_msg(strstr(err_get()->msg, "damaged"), "message: %s", err_get()->msg);
    ck_assert_ptr_nonnull(strstr(err_get()->msg, db));
    file_sha256(db, after);
    ck_assert_int_eq(file_size(db), size);
    ck_assert_mem_eq(before, after, 32);
    /* and again: a second attempt does not "repair" anything either */
    ck_assert_int_eq(try_open(NULL, &d), CKR_DEVICE_ERROR);
    file_sha256(db, after);
    ck_assert_mem_eq(before, after, 32);
}

static void write_bytes(const char *path, const void *p, size_t n, int flags)
{
    int fd = open(path, O_WRONLY | O_CREAT | flags, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
    close(fd);
}

START_TEST(store_of_random_bytes_is_damaged_and_untouched)
{
    char db[256];
    uint8_t junk[8192];
    snprintf(db, sizeof(db), "%s/dev", tmpdir);
    ck_assert_int_eq(mkdir(db, 0700), 0);
    ck_assert_int_eq(mkdir(store_dir, 0700), 0);
    ck_assert_int_eq(crypto_random(junk, sizeof(junk)), CKR_OK);
    write_bytes(db_path(db, sizeof(db), ""), junk, sizeof(junk), O_TRUNC);
    assert_damaged_untouched();
}
END_TEST

/* A store with SEs and enough objects to span many pages, closed cleanly (WAL checkpointed). */
static void filled_store(void)
{
    char wal[256];
    struct bdev *d = open_dev(NULL);
    uint32_t seq = ready_se(d, "se", 3);
    login_user(d, seq);
    for (int i = 0; i < 300; i++) {
        char label[64];
        snprintf(label, sizeof(label), "object number %d with a longer label", i);
        data_obj(d, seq, label, label, strlen(label), i % 2, 0);
    }
    ops->dev_close(d);
    ck_assert_int_eq(file_size(db_path(wal, sizeof(wal), "-wal")), -1);
}

START_TEST(store_truncated_to_half_is_damaged_and_untouched)
{
    char db[256];
    filled_store();
    off_t size = file_size(db_path(db, sizeof(db), ""));
    ck_assert_int_gt(size, 16 * 4096);
    ck_assert_int_eq(truncate(db, size / 2), 0);
    assert_damaged_untouched();
}
END_TEST

START_TEST(store_emptied_then_given_a_garbage_header_is_damaged)
{
    char db[256];
    uint8_t junk[100];
    filled_store();
    db_path(db, sizeof(db), "");
    ck_assert_int_eq(crypto_random(junk, sizeof(junk)), CKR_OK);
    ck_assert_int_eq(truncate(db, 0), 0);
    write_bytes(db, junk, sizeof(junk), 0);
    assert_damaged_untouched();
    /* a header that starts right but goes wrong */
    memcpy(junk, "SQLite format 3", 16);
    ck_assert_int_eq(truncate(db, 0), 0);
    write_bytes(db, junk, sizeof(junk), 0);
    assert_damaged_untouched();
}
END_TEST

START_TEST(corrupt_page_found_by_a_later_query_is_damage)
{
    char db[256];
    uint8_t junk[4096];
    filled_store();
    db_path(db, sizeof(db), "");
    off_t size = file_size(db);
    /* open first (meta and se are intact) and write (the WAL holds frames that closing would
     * checkpoint into the file), then ruin every page after the first two */
    struct bdev *d = open_dev(NULL);
    data_obj(d, 1, "written before the damage", "v", 1, false, 0);
    char wal[256];
    ck_assert_int_gt(file_size(db_path(wal, sizeof(wal), "-wal")), 0);
    ck_assert_int_eq(crypto_random(junk, sizeof(junk)), CKR_OK);
    int fd = open(db, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    for (off_t off = 2 * 4096; off < size; off += 4096)
        ck_assert_int_eq(pwrite(fd, junk, sizeof(junk), off), (ssize_t)sizeof(junk));
    close(fd);
    uint8_t before[32], after[32];
    file_sha256(db, before);
    CK_OBJECT_HANDLE *out = NULL;
    size_t n = 0;
    CK_ATTRIBUTE t[] = {{CKA_LABEL, "object number 7 with a longer label", 35}};
    err_clear();
    CK_RV rv = ops->obj_find(d, 1, t, 1, true, &out, &n);
    struct attrs *a = NULL;
    if (rv == CKR_OK) { /* the index page may have survived: the object itself will not */
        free(out);
        rv = ops->obj_attrs(d, 1, 9, &a);
    }
    ck_assert_int_eq(rv, CKR_DEVICE_ERROR);
    ck_assert_msg(strstr(err_get()->msg, "damaged"), "message: %s", err_get()->msg);
    ops->dev_close(d);
    file_sha256(db, after);
    ck_assert_mem_eq(before, after, 32);
    ck_assert_int_gt(file_size(wal), 0); /* nothing was checkpointed */
}
END_TEST

START_TEST(tampered_object_fails_alone)
{
    uint8_t blob[512];
    struct bdev *d = open_dev(NULL);
    uint32_t seq = ready_se(d, "se", 3);
    login_user(d, seq);
    CK_OBJECT_HANDLE k1 = aes_key(d, seq, "k1", aes_value, 0);
    CK_OBJECT_HANDLE k2 = aes_key(d, seq, "k2", aes_value, 0);
    CK_OBJECT_HANDLE k3 = aes_key(d, seq, "k3", aes_value, 0);
    CK_OBJECT_HANDLE data = data_obj(d, seq, "data", "v", 1, false, 0);
    ck_assert_int_eq(gcm_roundtrip(d, seq, k1), CKR_OK); /* cached before the tampering */
    /* flip one bit of k1's sealed secret */
    size_t n = db_blob("secret", k1, blob, sizeof(blob));
    ck_assert_uint_gt(n, SEAL_OVERHEAD);
    blob[n / 2] ^= 0x01;
    char sql[128];
    snprintf(sql, sizeof(sql), "UPDATE obj SET secret = ?1 WHERE oid = %lu", k1);
    db_exec(sql, blob, n);
    err_clear();
    ck_assert_int_eq(gcm_roundtrip(d, seq, k1), CKR_DEVICE_ERROR);
    ck_assert_uint_eq(err_get()->rv, CKR_DEVICE_ERROR);
    char want[64];
    snprintf(want, sizeof(want), "object %lu in SE se", k1);
    ck_assert_msg(strstr(err_get()->msg, want), "message: %s", err_get()->msg);
    ck_assert_ptr_nonnull(strstr(err_get()->msg, "integrity"));
    struct attrs *a = NULL;
    ck_assert_int_eq(ops->obj_secret(d, seq, k1, CKA_VALUE, &a), CKR_DEVICE_ERROR);
    ck_assert_int_eq(gcm_roundtrip(d, seq, k2), CKR_OK);
    /* a sealed blob moved onto another object does not open either (bound by its AAD) */
    n = db_blob("secret", k2, blob, sizeof(blob));
    snprintf(sql, sizeof(sql), "UPDATE obj SET secret = ?1 WHERE oid = %lu", k3);
    db_exec(sql, blob, n);
    ck_assert_int_eq(gcm_roundtrip(d, seq, k3), CKR_DEVICE_ERROR);
    /* public attributes that do not decode */
    snprintf(sql, sizeof(sql), "UPDATE obj SET attrs = ?1 WHERE oid = %lu", data);
    db_exec(sql, "\x41\x01\x05", 3);
    err_clear();
    ck_assert_int_eq(ops->obj_attrs(d, seq, data, &a), CKR_DEVICE_ERROR);
    ck_assert_ptr_nonnull(strstr(err_get()->msg, "integrity"));
    /* everything else keeps working, find included */
    ck_assert_int_eq(gcm_roundtrip(d, seq, k2), CKR_OK);
    assert_label(d, seq, k2, "k2");
    ck_assert_uint_eq(find(d, seq, NULL, 0, true, NULL), 4);
    CK_ATTRIBUTE t[] = {{CKA_VALUE_LEN, NULL, 0}};
    CK_ULONG len = 32;
    t[0].pValue = &len;
    t[0].ulValueLen = sizeof(len);
    ck_assert_uint_eq(find(d, seq, t, 1, true, NULL), 3); /* the undecodable one is left out */
    ops->dev_close(d);
}
END_TEST

/* ---- integrity of the store (see the threat model in soft.c) ---- */

/* A private AES key with explicit protection flags. */
static CK_OBJECT_HANDLE guarded_key(struct bdev *d, uint32_t seq, const char *label,
                                    const uint8_t value[32], bool priv)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE, p = priv ? CK_TRUE : CK_FALSE;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
                        {CKA_KEY_TYPE, &kt, sizeof(kt)},
                        {CKA_TOKEN, &yes, 1},
                        {CKA_PRIVATE, &p, 1},
                        {CKA_SENSITIVE, &yes, 1},
                        {CKA_EXTRACTABLE, &no, 1},
                        {CKA_ENCRYPT, &yes, 1},
                        {CKA_DECRYPT, &yes, 1},
                        {CKA_LABEL, (void *)label, strlen(label)},
                        {CKA_VALUE, (void *)value, 32}};
    struct attrs *a = make_attrs(t, ARRAY_SIZE(t));
    CK_OBJECT_HANDLE h = 0;
    CK_RV rv = ops->obj_create(d, seq, a, 0, &h);
    attrs_unref(a);
    ck_assert_msg(rv == CKR_OK, "obj_create: 0x%lx %s", rv, err_get()->msg);
    return h;
}

static void assert_integrity_error(CK_RV rv)
{
    ck_assert_msg(rv == CKR_DEVICE_ERROR, "got 0x%lx (%s)", rv, err_get()->msg);
    ck_assert_msg(strstr(err_get()->msg, "integrity"), "message: %s", err_get()->msg);
}

START_TEST(flipped_protection_flags_of_a_key_are_caught_while_logged_in)
{
    static const CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
    struct bdev *d = open_dev(NULL);
    uint32_t seq = ready_se(d, "se", 3);
    login_user(d, seq);
    CK_OBJECT_HANDLE k = guarded_key(d, seq, "victim", aes_value, true);
    CK_OBJECT_HANDLE other = guarded_key(d, seq, "bystander", aes_value, true);
    ck_assert_int_eq(gcm_roundtrip(d, seq, k), CKR_OK); /* cached */
    /* what the core would then reveal: CKA_SENSITIVE false, CKA_EXTRACTABLE true */
    tamper_attr(k, CKA_SENSITIVE, &no, 1);
    tamper_attr(k, CKA_EXTRACTABLE, &yes, 1);
    assert_integrity_error(attrs_rv(d, seq, k));
    err_clear();
    assert_integrity_error(secret_rv(d, seq, k));
    err_clear();
    assert_integrity_error(gcm_roundtrip(d, seq, k));
    err_clear();
    ck_assert_int_eq(rename_rv(d, seq, k, "laundered"), CKR_DEVICE_ERROR);
    /* a fresh process logging in finds it too: nothing here came from a cache */
    struct bdev *e = open_dev(NULL);
    login_user(e, seq);
    assert_integrity_error(attrs_rv(e, seq, k));
    ops->dev_close(e);
    /* the other key is untouched */
    ck_assert_int_eq(gcm_roundtrip(d, seq, other), CKR_OK);
    assert_label(d, seq, other, "bystander");
    ops->dev_close(d);
}
END_TEST

START_TEST(a_key_value_planted_in_the_public_attributes_is_never_used)
{
    static const uint8_t planted[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                        16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30};
    uint8_t dgst[32] = {7}, sig[64];
    char sql[128];
    struct bdev *d = open_dev(NULL), *other = open_dev(NULL);
    uint32_t seq = ready_se(d, "se", 3);
    login_user(d, seq);
    CK_OBJECT_HANDLE k = aes_key(d, seq, "cse-data-key", aes_value, 0);
    CK_OBJECT_HANDLE k2 = aes_key(d, seq, "k2", aes_value, 0);
    CK_OBJECT_HANDLE data = data_obj(d, seq, "secret data", "TOPSECRET", 9, true, 0);
    CK_OBJECT_HANDLE pub = 0, priv = 0;
    ck_assert_int_eq(gen_ec(d, seq, "ec", 0, &pub, &priv), CKR_OK);
    ck_assert_int_eq(gcm_roundtrip(d, seq, k), CKR_OK);
    ck_assert_int_eq(sign(d, seq, priv, dgst, sig), CKR_OK);
    /* the seal removed and a known value planted in the public attributes */
    CK_OBJECT_HANDLE victims[] = {k, data, priv};
    for (size_t i = 0; i < ARRAY_SIZE(victims); i++) {
        tamper_attr(victims[i], CKA_VALUE, planted, 32);
        snprintf(sql, sizeof(sql), "UPDATE obj SET secret = NULL, mac = NULL WHERE oid = %lu",
                 victims[i]);
        db_exec(sql, NULL, 0);
    }
    for (size_t i = 0; i < ARRAY_SIZE(victims); i++) {
        assert_integrity_error(attrs_rv(d, seq, victims[i]));
        err_clear();
        assert_integrity_error(secret_rv(d, seq, victims[i]));
        /* damage shows without any login too: it needs no key to see */
        assert_integrity_error(attrs_rv(other, seq, victims[i]));
    }
    err_clear();
    assert_integrity_error(gcm_roundtrip(d, seq, k));
    err_clear();
    assert_integrity_error(sign(d, seq, priv, dgst, sig));
    /* the seal left in place, a value added beside it */
    tamper_attr(k2, CKA_VALUE, planted, 32);
    assert_integrity_error(attrs_rv(d, seq, k2));
    err_clear();
    assert_integrity_error(gcm_roundtrip(d, seq, k2));
    /* the untouched public key still verifies what the key signed before */
    ck_assert_int_eq(verify(d, seq, pub, dgst, sig), CKR_OK);
    ops->dev_close(other);
    ops->dev_close(d);
}
END_TEST

START_TEST(changed_columns_or_moved_rows_are_caught_while_logged_in)
{
    char sql[160];
    struct bdev *d = open_dev(NULL), *nobody = open_dev(NULL);
    uint32_t seq = ready_se(d, "se", 3), seq2 = ready_se(d, "se2", 3);
    login_user(d, seq);
    CK_OBJECT_HANDLE k = aes_key(d, seq, "k", aes_value, 0);
    /* a column that disagrees with the attributes */
    snprintf(sql, sizeof(sql), "UPDATE obj SET label = 'other' WHERE oid = %lu", k);
    db_exec(sql, NULL, 0);
    assert_integrity_error(attrs_rv(d, seq, k));
    snprintf(sql, sizeof(sql), "UPDATE obj SET label = 'k' WHERE oid = %lu", k);
    db_exec(sql, NULL, 0);
    ck_assert_int_eq(attrs_rv(d, seq, k), CKR_OK);
    /* a consistent rename: only the MAC tells */
    tamper_attr(k, CKA_LABEL, "evil", 4);
    snprintf(sql, sizeof(sql), "UPDATE obj SET label = 'evil' WHERE oid = %lu", k);
    db_exec(sql, NULL, 0);
    assert_integrity_error(attrs_rv(d, seq, k));
    /* made public: without a PIN nothing can be checked (the threat model says so), but the
     * secret stays sealed, and a login finds the change */
    CK_OBJECT_HANDLE k2 = aes_key(d, seq, "k2", aes_value, 0);
    static const CK_BBOOL no = CK_FALSE;
    tamper_attr(k2, CKA_PRIVATE, &no, 1);
    snprintf(sql, sizeof(sql), "UPDATE obj SET private = 0 WHERE oid = %lu", k2);
    db_exec(sql, NULL, 0);
    ck_assert_int_eq(attrs_rv(nobody, seq, k2), CKR_OK);
    ck_assert_int_eq(secret_rv(nobody, seq, k2), CKR_USER_NOT_LOGGED_IN);
    ck_assert_int_eq(gcm_roundtrip(nobody, seq, k2), CKR_USER_NOT_LOGGED_IN);
    assert_integrity_error(attrs_rv(d, seq, k2));
    /* a row moved into another SE does not check out under that SE's key */
    CK_OBJECT_HANDLE k3 = aes_key(d, seq, "k3", aes_value, 0);
    snprintf(sql, sizeof(sql), "UPDATE obj SET se = %u WHERE oid = %lu", seq2, k3);
    db_exec(sql, NULL, 0);
    login_user(d, seq2);
    assert_integrity_error(attrs_rv(d, seq2, k3));
    err_clear();
    assert_integrity_error(gcm_roundtrip(d, seq2, k3));
    ops->dev_close(nobody);
    ops->dev_close(d);
}
END_TEST

/* Values no SE of this device can have: the store is damaged, whoever opens it. */
START_TEST(se_rows_with_impossible_values_are_damage)
{
    static const struct {
        const char *set, *restore, *says;
    } cases[] = {
        {"UPDATE se SET level = 2", "UPDATE se SET level = 1", "security level"},
        {"UPDATE se SET lifecycle = 7", "UPDATE se SET lifecycle = 1", "lifecycle"},
        {"UPDATE se SET lifecycle = 0", "UPDATE se SET lifecycle = 1", "user PIN"},
        {"UPDATE se SET max_retries = 101", "UPDATE se SET max_retries = 3", "retry limit"},
        {"UPDATE se SET max_retries = 0", "UPDATE se SET max_retries = 3", "retry limit"},
        {"UPDATE se SET se_type = 1", "UPDATE se SET se_type = 4", "SE type"},
        {"UPDATE se SET epoch = 0", "UPDATE se SET epoch = 1", "epoch"},
        {"UPDATE se SET name = zeroblob(4)", "UPDATE se SET name = 'se'", "name"},
    };
    struct bdev *d = open_dev(NULL);
    uint32_t seq = ready_se(d, "se", 3);
    struct se_desc *list = NULL;
    size_t n = 0;
    uint32_t next = 0;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        db_exec(cases[i].set, NULL, 0);
        /* an instance already open sees it at its next look */
        err_clear();
        ck_assert_int_eq(ops->se_list(d, &list, &n, &next), CKR_DEVICE_ERROR);
        ck_assert_msg(strstr(err_get()->msg, "damaged") && strstr(err_get()->msg, cases[i].says),
                      "%s: %s", cases[i].set, err_get()->msg);
        struct bdev *e = NULL;
        ck_assert_int_eq(try_open(NULL, &e), CKR_DEVICE_ERROR);
        ck_assert_ptr_null(e);
        db_exec(cases[i].restore, NULL, 0);
        ck_assert_uint_eq(get_desc(d, seq).level, 1);
    }
    login_user(d, seq);
    ops->dev_close(d);
}
END_TEST

/* Values an SE can have, but not this one: its wraps are bound to them and do not open. */
START_TEST(an_se_whose_profile_was_changed_does_not_unlock)
{
    static const struct {
        const char *set, *restore;
    } cases[] = {
        {"UPDATE se SET level = 0", "UPDATE se SET level = 1"},
        {"UPDATE se SET max_retries = 9", "UPDATE se SET max_retries = 5"},
        {"UPDATE se SET name = 'other'", "UPDATE se SET name = 'se'"},
        {"UPDATE se SET epoch = 2", "UPDATE se SET epoch = 1"},
        {"UPDATE se SET se_id = '4forged'", "UPDATE se SET se_id = '4test1'"},
    };
    struct bdev *d = open_dev(NULL);
    uint32_t seq = ready_se(d, "se", 5);
    ck_assert_str_eq(get_desc(d, seq).se_id, "4test1");
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        db_exec(cases[i].set, NULL, 0);
        ck_assert_msg(ops->login(d, seq, CKU_USER, P(USER_PIN), L(USER_PIN)) == CKR_PIN_INCORRECT,
                      "%s: the user PIN still unlocks", cases[i].set);
        ck_assert_msg(ops->login(d, seq, CKU_SO, P(SO_PIN), L(SO_PIN)) == CKR_PIN_INCORRECT,
                      "%s: the SO PIN still unlocks", cases[i].set);
        db_exec(cases[i].restore, NULL, 0);
        ck_assert_int_eq(ops->login(d, seq, CKU_SO, P(SO_PIN), L(SO_PIN)), CKR_OK);
        ops->logout(d, seq);
        login_user(d, seq);
        ops->logout(d, seq);
    }
    ops->dev_close(d);
}
END_TEST

START_TEST(newer_schema_version_is_refused)
{
    char db[256];
    uint8_t before[32], after[32];
    struct bdev *d = open_dev(NULL);
    ops->dev_close(d);
    db_exec("UPDATE meta SET value = 2 WHERE key = 'schema_version'", NULL, 0);
    file_sha256(db_path(db, sizeof(db), ""), before);
    ck_assert_int_eq(try_open(NULL, &d), CKR_DEVICE_ERROR);
    ck_assert_msg(strstr(err_get()->msg, "schema version 2"), "message: %s", err_get()->msg);
    file_sha256(db, after);
    ck_assert_mem_eq(before, after, 32);
}
END_TEST

START_TEST(foreign_database_is_refused)
{
    char db[256], dir[256];
    sqlite3 *h = NULL;
    snprintf(dir, sizeof(dir), "%s/dev", tmpdir);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    ck_assert_int_eq(mkdir(store_dir, 0700), 0);
    ck_assert_int_eq(sqlite3_open(db_path(db, sizeof(db), ""), &h), SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_exec(h, "CREATE TABLE notes(x); INSERT INTO notes VALUES (1);", NULL, NULL, NULL),
        SQLITE_OK);
    ck_assert_int_eq(sqlite3_close(h), SQLITE_OK);
    struct bdev *d = NULL;
    ck_assert_int_eq(try_open(NULL, &d), CKR_DEVICE_ERROR);
    ck_assert_ptr_nonnull(strstr(err_get()->msg, "not a libsea store"));
}
END_TEST

/* ---- a forked child ---- */

/* Secrets the fork test looks for, stored masked so that the program itself does not hold them
 * (the mask is volatile: the compiler must not unmask them into a constant of its own). */
#define MASK 0x5A
static volatile uint8_t mask = MASK;
static const uint8_t masked_scalar[32] = {
    0x0b ^ MASK, 0xc1 ^ MASK, 0x18 ^ MASK, 0x67 ^ MASK, 0x2b ^ MASK, 0x05 ^ MASK, 0xd1 ^ MASK,
    0x02 ^ MASK, 0x45 ^ MASK, 0x15 ^ MASK, 0xf2 ^ MASK, 0xb4 ^ MASK, 0x03 ^ MASK, 0xae ^ MASK,
    0x2e ^ MASK, 0x40 ^ MASK, 0x01 ^ MASK, 0x7e ^ MASK, 0x8e ^ MASK, 0x4a ^ MASK, 0x51 ^ MASK,
    0xee ^ MASK, 0x2f ^ MASK, 0x0e ^ MASK, 0x90 ^ MASK, 0x0e ^ MASK, 0x7b ^ MASK, 0xb3 ^ MASK,
    0xd8 ^ MASK, 0x28 ^ MASK, 0x3e ^ MASK, 0x3e ^ MASK};

static void unmask(uint8_t out[32], const uint8_t in[32])
{
    for (int i = 0; i < 32; i++)
        out[i] = in[i] ^ mask;
}

/* Copies of needle (big-endian, or byte-reversed as BIGNUM words hold it) in what this process
 * keeps in memory: every readable mapping but the stack, where OpenSSL's P-256 arithmetic leaves
 * scalar bytes in frames long returned from (no data structure holds them), and but mappings of
 * more than 1 GiB (AddressSanitizer's shadow memory, never a heap), outside the buffers the
 * search itself uses. */
static int copies_in_memory(const uint8_t needle[32])
{
    static uint8_t buf[1 << 20];
    uint8_t rev[32];
    char line[512];
    int hits = 0;
    unsigned long stack = (unsigned long)&hits; /* valgrind does not label the stack [stack] */
    for (int i = 0; i < 32; i++)
        rev[i] = needle[31 - i];
    FILE *maps = fopen("/proc/self/maps", "r");
    int fd = open("/proc/self/mem", O_RDONLY);
    if (!maps || fd < 0)
        return -1;
    while (fgets(line, sizeof(line), maps)) {
        unsigned long lo, hi;
        char perm[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perm) != 3 || perm[0] != 'r' ||
            strstr(line, "[vvar]") || strstr(line, "[vsyscall]") || (lo <= stack && stack < hi) ||
            hi - lo > (1ul << 30))
            continue;
        /* windows overlap by 31 bytes so that no copy straddles two reads unseen */
        for (unsigned long off = lo; off < hi; off += sizeof(buf) - 31) {
            size_t want = hi - off < sizeof(buf) ? hi - off : sizeof(buf);
            ssize_t got = pread(fd, buf, want, (off_t)off);
            if (got < 32)
                break;
            for (int k = 0; k < 2; k++) {
                const uint8_t *n = k ? rev : needle, *p = buf;
                size_t left = (size_t)got;
                const uint8_t *m;
                while ((m = memmem(p, left, n, 32)) != NULL) {
                    const uint8_t *addr = (const uint8_t *)(off + (unsigned long)(m - buf));
                    bool ours = addr == needle || addr == rev;
                    bool again = m - buf >= (ptrdiff_t)(sizeof(buf) - 31) && off + want < hi;
                    hits += !ours && !again;
                    left -= (size_t)(m - p) + 1;
                    p = m + 1;
                }
            }
            if (off + want >= hi)
                break;
        }
    }
    fclose(maps);
    close(fd);
    return hits;
}

START_TEST(an_abandoned_device_leaves_no_key_material_in_the_child)
{
    uint8_t dgst[32] = {8}, sig[64], scalar[32], aes[32];
    struct bdev *d = open_dev(NULL);
    uint32_t seq = ready_se(d, "se", 3);
    login_user(d, seq);
    /* an imported EC key and a secret key, both used (their key material is cached), and a
     * session object holding a secret */
    unmask(scalar, masked_scalar);
    unmask(aes, aes_value);
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = CKK_EC;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
                        {CKA_KEY_TYPE, &kt, sizeof(kt)},
                        {CKA_TOKEN, &yes, 1},
                        {CKA_PRIVATE, &yes, 1},
                        {CKA_SIGN, &yes, 1},
                        {CKA_EC_PARAMS, (void *)p256_oid, sizeof(p256_oid)},
                        {CKA_VALUE, scalar, sizeof(scalar)}};
    struct attrs *a = make_attrs(t, ARRAY_SIZE(t));
    CK_OBJECT_HANDLE ec = 0;
    ck_assert_int_eq(ops->obj_create(d, seq, a, 0, &ec), CKR_OK);
    attrs_unref(a);
    CK_OBJECT_HANDLE k = aes_key(d, seq, "k", aes, 0);
    data_obj(d, seq, "s", aes, sizeof(aes), true, OBJ_SESSION);
    sea_wipe(scalar, sizeof(scalar));
    sea_wipe(aes, sizeof(aes));
    ck_assert_int_eq(sign(d, seq, ec, dgst, sig), CKR_OK);
    ck_assert_int_eq(gcm_roundtrip(d, seq, k), CKR_OK);
    int pfd[2];
    ck_assert_int_eq(pipe(pfd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int found[2];
        ops->dev_abandon(d);
        unmask(scalar, masked_scalar);
        found[0] = copies_in_memory(scalar);
        sea_wipe(scalar, sizeof(scalar));
        unmask(aes, aes_value);
        found[1] = copies_in_memory(aes);
        sea_wipe(aes, sizeof(aes));
        ssize_t w = write(pfd[1], found, sizeof(found));
        _exit(w == (ssize_t)sizeof(found) ? 0 : 1);
    }
    close(pfd[1]);
    int found[2] = {-1, -1}, status = 0;
    ck_assert_int_eq(read(pfd[0], found, sizeof(found)), (ssize_t)sizeof(found));
    close(pfd[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(found[0] == 0, "the child still holds %d copies of the EC private key", found[0]);
    ck_assert_msg(found[1] == 0, "the child still holds %d copies of the AES key", found[1]);
    /* the parent's device is untouched */
    ck_assert_int_eq(sign(d, seq, ec, dgst, sig), CKR_OK);
    ops->dev_close(d);
}
END_TEST

/* ---- another process writing ---- */

struct waiting_writer {
    struct bdev *d;
    uint32_t seq;
    int started;
    CK_RV rv;
};

static void *write_in_background(void *arg)
{
    struct waiting_writer *w = arg;
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
                        {CKA_TOKEN, &yes, 1},
                        {CKA_PRIVATE, &no, 1},
                        {CKA_LABEL, "written while locked", 20},
                        {CKA_VALUE, "v", 1}};
    struct attrs *a = NULL;
    CK_OBJECT_HANDLE h = 0;
    w->rv = schema_create(t, ARRAY_SIZE(t), false, &a);
    __atomic_store_n(&w->started, 1, __ATOMIC_RELEASE);
    if (w->rv == CKR_OK)
        w->rv = ops->obj_create(w->d, w->seq, a, 0, &h);
    attrs_unref(a);
    return NULL;
}

/* The child: when told, open the store with plain SQLite and hold its write lock until told to
 * let go (or for 10 s at most), then say it let go. It reports through the pipes ('L' locked,
 * 'R' released, 'F' failed), not its exit status, which valgrind may change. */
static void hold_write_lock(int go, int locked, int release, int released)
{
    char c = 0, path[256];
    sqlite3 *db = NULL;
    struct pollfd p = {.fd = release, .events = POLLIN};
    if (read(go, &c, 1) != 1 || sqlite3_open(db_path(path, sizeof(path), ""), &db) != SQLITE_OK ||
        (sqlite3_busy_timeout(db, 5000), sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) !=
            SQLITE_OK) {
        c = write(locked, "F", 1) == 1;
        _exit(2);
    }
    c = write(locked, "L", 1) == 1;
    poll(&p, 1, 10000);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    c = write(released, "R", 1) == 1;
    _exit(0);
}

START_TEST(signing_goes_on_while_a_writer_waits_for_another_process)
{
    uint8_t dgst[32] = {9}, sig[64];
    int go[2], locked[2], release[2], released[2];
    char c = 0;
    ck_assert(pipe(go) == 0 && pipe(locked) == 0 && pipe(release) == 0 && pipe(released) == 0);
    /* forked before any SQLite connection exists in this process */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        hold_write_lock(go[0], locked[1], release[0], released[1]);
    struct bdev *d = open_dev(NULL);
    uint32_t seq = ready_se(d, "se", 3);
    login_user(d, seq);
    CK_OBJECT_HANDLE pub = 0, priv = 0;
    ck_assert_int_eq(gen_ec(d, seq, "ec", 0, &pub, &priv), CKR_OK);
    ck_assert_int_eq(sign(d, seq, priv, dgst, sig), CKR_OK); /* cached */
    ck_assert_int_eq(write(go[1], "G", 1), 1);
    ck_assert_int_eq(read(locked[0], &c, 1), 1);
    ck_assert_msg(c == 'L', "the child could not take the write lock");
    /* a thread of this process now waits for the write lock the child holds */
    struct waiting_writer w = {.d = d, .seq = seq};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, write_in_background, &w), 0);
    while (!__atomic_load_n(&w.started, __ATOMIC_ACQUIRE))
        usleep(1000);
    usleep(200000); /* let it reach SQLite's busy wait */
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(sign(d, seq, priv, dgst, sig), CKR_OK);
        ck_assert_int_eq(verify(d, seq, pub, dgst, sig), CKR_OK);
    }
    ck_assert_uint_eq(find_label(d, seq, "ec", NULL), 2); /* reads too */
    /* all of that while the child still held the lock: it has not said it let go */
    struct pollfd p = {.fd = released[0], .events = POLLIN};
    ck_assert_msg(poll(&p, 1, 0) == 0, "the signing waited until the other process let go");
    ck_assert_int_eq(write(release[1], "X", 1), 1);
    ck_assert_int_eq(read(released[0], &c, 1), 1);
    ck_assert_int_eq(c, 'R');
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    /* and the waiting writer got through once the lock was free */
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(w.rv, CKR_OK);
    ck_assert_uint_eq(find_label(d, seq, "written while locked", NULL), 1);
    for (int i = 0; i < 2; i++) {
        close(go[i]);
        close(locked[i]);
        close(release[i]);
        close(released[i]);
    }
    ops->dev_close(d);
}
END_TEST

/* ---- large values ---- */

START_TEST(a_one_mib_private_data_object_is_stored_read_and_updated)
{
    size_t n = SEA_MAX_ATTR_LEN;
    uint8_t *v = malloc(n), *w = malloc(n);
    ck_assert(v && w);
    ck_assert_int_eq(crypto_random(v, n), CKR_OK);
    ck_assert_int_eq(crypto_random(w, n), CKR_OK);
    struct bdev *d = open_dev(NULL);
    uint32_t seq = ready_se(d, "se", 3);
    login_user(d, seq);
    CK_OBJECT_HANDLE h = data_obj(d, seq, "big", v, n, true, 0);
    CK_OBJECT_HANDLE s = data_obj(d, seq, "big session", v, n, true, OBJ_SESSION);
    struct attrs *a = NULL;
    ck_assert_int_eq(ops->obj_secret(d, seq, h, CKA_VALUE, &a), CKR_OK);
    ck_assert_uint_eq(attrs_find(a, CKA_VALUE)->len, n);
    ck_assert(memcmp(attrs_find(a, CKA_VALUE)->val, v, n) == 0);
    attrs_unref(a);
    ck_assert_int_eq(ops->obj_secret(d, seq, s, CKA_VALUE, &a), CKR_OK);
    ck_assert(memcmp(attrs_find(a, CKA_VALUE)->val, v, n) == 0);
    attrs_unref(a);
    /* a new value, then a label change that re-seals it */
    struct attrs *ch = attrs_new();
    ck_assert_int_eq(attrs_set_secret(ch, CKA_VALUE, w, n), CKR_OK);
    ck_assert_int_eq(ops->obj_update(d, seq, h, ch), CKR_OK);
    attrs_unref(ch);
    ck_assert_int_eq(rename_rv(d, seq, h, "bigger"), CKR_OK);
    ops->dev_close(d);
    d = open_dev(NULL);
    login_user(d, seq);
    assert_label(d, seq, h, "bigger");
    ck_assert_int_eq(ops->obj_secret(d, seq, h, CKA_VALUE, &a), CKR_OK);
    ck_assert_uint_eq(attrs_find(a, CKA_VALUE)->len, n);
    ck_assert(memcmp(attrs_find(a, CKA_VALUE)->val, w, n) == 0);
    attrs_unref(a);
    ops->dev_close(d);
    free(v);
    free(w);
}
END_TEST

/* ---- threads and arguments ---- */

struct worker {
    struct bdev *d;
    uint32_t seq;
    CK_OBJECT_HANDLE key;
    int fails;
};

static void *sign_loop(void *arg)
{
    struct worker *w = arg;
    uint8_t dgst[32] = {9}, sig[64];
    for (int i = 0; i < 50; i++)
        w->fails += sign(w->d, w->seq, w->key, dgst, sig) != CKR_OK;
    return NULL;
}

static void *create_loop(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 50; i++) {
        CK_OBJECT_HANDLE h = data_obj(w->d, w->seq, "t", "v", 1, false, 0);
        w->fails += ops->obj_destroy(w->d, w->seq, h) != CKR_OK;
    }
    return NULL;
}

START_TEST(threads_share_one_device)
{
    struct bdev *d = open_dev(NULL);
    uint32_t seq = ready_se(d, "se", 3);
    login_user(d, seq);
    struct worker w[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        CK_OBJECT_HANDLE pub = 0;
        w[i] = (struct worker){.d = d, .seq = seq};
        ck_assert_int_eq(gen_ec(d, seq, "t-ec", i == 3 ? OBJ_SESSION : 0, &pub, &w[i].key), CKR_OK);
    }
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, i == 2 ? create_loop : sign_loop, &w[i]), 0);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_int_eq(w[i].fails, 0);
    }
    ops->dev_close(d);
}
END_TEST

START_TEST(entry_points_reject_missing_arguments)
{
    struct bdev *d = open_dev(NULL);
    uint32_t seq = ready_se(d, "se", 3);
    struct attrs *a = NULL;
    CK_OBJECT_HANDLE h = 0;
    struct se_desc *list = NULL;
    size_t n = 0;
    uint32_t next = 0;
    ck_assert_int_eq(ops->se_list(NULL, &list, &n, &next), CKR_ARGUMENTS_BAD);
    ck_assert_int_eq(ops->se_create(NULL, 2, NULL, NULL), CKR_ARGUMENTS_BAD);
    ck_assert_int_eq(ops->login(NULL, seq, CKU_SO, P(SO_PIN), L(SO_PIN)), CKR_ARGUMENTS_BAD);
    ck_assert_int_eq(ops->init_pin(d, seq, NULL, 6), CKR_ARGUMENTS_BAD);
    ck_assert_int_eq(ops->set_pin(d, seq, CKU_USER, NULL, 3, P("abcdef"), 6), CKR_ARGUMENTS_BAD);
    ck_assert_int_eq(ops->se_reinit(d, seq, NULL, 3, "x"), CKR_ARGUMENTS_BAD);
    ck_assert_int_eq(ops->se_delete(d, seq, NULL, 3), CKR_ARGUMENTS_BAD);
    ck_assert_int_eq(ops->obj_create(d, seq, NULL, 0, &h), CKR_ARGUMENTS_BAD);
    ck_assert_int_eq(ops->obj_attrs(d, seq, 1, NULL), CKR_ARGUMENTS_BAD);
    ck_assert_int_eq(ops->obj_secret(d, seq, 1, CKA_VALUE, NULL), CKR_ARGUMENTS_BAD);
    ck_assert_int_eq(ops->obj_update(d, seq, 1, NULL), CKR_ARGUMENTS_BAD);
    ck_assert_int_eq(ops->obj_attrs(d, seq, 12345, &a), CKR_OBJECT_HANDLE_INVALID);
    ck_assert_int_eq(ops->obj_attrs(d, seq, 0x80000005u, &a), CKR_OBJECT_HANDLE_INVALID);
    CK_MECHANISM m = {CKM_AES_KEY_GEN, NULL, 0};
    ck_assert_int_eq(ops->generate(d, seq, &m, NULL, 0, NULL, 0, NULL, &h), CKR_ARGUMENTS_BAD);
    ck_assert_int_eq(ops->generate(d, seq, NULL, NULL, 0, a, 0, NULL, &h), CKR_ARGUMENTS_BAD);
    /* unknown flags */
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}};
    a = make_attrs(t, 1);
    ck_assert_int_eq(ops->obj_create(d, seq, a, 0x100, &h), CKR_ARGUMENTS_BAD);
    attrs_unref(a);
    ck_assert_uint_eq(ops->op_outlen(NULL, PHASE_SINGLE, 1), 0);
    size_t len = 0;
    ck_assert_int_eq(ops->op_update(NULL, NULL, 0, NULL, &len), CKR_ARGUMENTS_BAD);
    ck_assert_int_eq(ops->op_final(NULL, NULL, 0, NULL, &len), CKR_ARGUMENTS_BAD);
    ops->op_free(NULL);
    ops->logout(NULL, seq);
    ops->dev_close(d);
    ops->dev_close(NULL);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("soft");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, open_creates_private_directory_and_database);
    tcase_add_test(tc, caps_follow_the_config);
    tcase_add_test(tc, unknown_or_bad_config_is_rejected);
    tcase_add_test(tc, open_without_path_is_rejected);
    tcase_add_test(tc, random_fills_the_buffer);
    tcase_add_test(tc, se_create_numbers_from_one_and_lists);
    tcase_add_test(tc, se_seq_is_stable_across_reopen_and_deletion);
    tcase_add_test(tc, se_create_on_a_taken_seq_is_slot_invalid);
    tcase_add_test(tc, se_create_beyond_max_se_is_refused);
    tcase_add_test(tc, se_create_rejects_bad_parameters);
    tcase_add_test(tc, wrong_user_pins_count_down_to_lockout);
    tcase_add_test(tc, right_pin_resets_the_counter);
    tcase_add_test(tc, pin_counter_persists_and_is_shared);
    tcase_add_test(tc, pin_try_is_counted_before_the_check);
    tcase_add_test(tc, user_login_without_user_pin_is_not_initialized);
    tcase_add_test(tc, init_pin_needs_the_so_and_makes_the_se_operational);
    tcase_add_test(tc, set_pin_verifies_the_old_pin_and_rewraps);
    tcase_add_test(tc, so_lockout_blocks_the_se);
    tcase_add_test(tc, se_reinit_drops_objects_user_pin_and_key);
    tcase_add_test(tc, se_delete_needs_the_so_pin);
    tcase_add_test(tc, data_objects_create_find_read_update_destroy);
    tcase_add_test(tc, aes_keys_imported_and_generated_work);
    tcase_add_test(tc, ec_keys_generated_and_imported_sign_and_verify);
    tcase_add_test(tc, private_key_operations_need_login);
    tcase_add_test(tc, keys_work_with_the_key_cache_off);
    tcase_add_test(tc, unique_label_refuses_a_second_object);
    tcase_add_test(tc, find_by_label_among_2000_returns_exactly_one);
    tcase_add_test(tc, find_uses_class_key_type_id_and_private_columns);
    tcase_add_test(tc, secrets_never_appear_in_clear_in_the_files);
    tcase_add_test(tc, second_instance_sees_writes_at_once);
    tcase_add_test(tc, another_process_closing_the_store_never_orphans_our_writes);
    tcase_add_test(tc, a_forked_child_that_opens_the_store_again_writes_where_everyone_sees_it);
    tcase_add_test(tc, a_checked_snapshot_never_outlives_what_the_store_says);
    tcase_add_test(tc, objects_of_one_se_are_invisible_from_another);
    tcase_add_test(tc, session_objects_live_in_memory_until_destroyed);
    tcase_add_test(tc, a_stale_login_after_a_reinit_elsewhere_reaches_nothing_of_the_new_owner);
    tcase_add_test(tc, a_pin_change_elsewhere_keeps_this_login);
    tcase_add_test(tc, the_so_holds_the_key_but_not_the_users_private_objects);
    tcase_add_test(tc, logout_destroys_the_private_session_objects);
    tcase_add_test(tc, store_of_random_bytes_is_damaged_and_untouched);
    tcase_add_test(tc, store_truncated_to_half_is_damaged_and_untouched);
    tcase_add_test(tc, store_emptied_then_given_a_garbage_header_is_damaged);
    tcase_add_test(tc, corrupt_page_found_by_a_later_query_is_damage);
    tcase_add_test(tc, tampered_object_fails_alone);
    tcase_add_test(tc, flipped_protection_flags_of_a_key_are_caught_while_logged_in);
    tcase_add_test(tc, a_key_value_planted_in_the_public_attributes_is_never_used);
    tcase_add_test(tc, changed_columns_or_moved_rows_are_caught_while_logged_in);
    tcase_add_test(tc, se_rows_with_impossible_values_are_damage);
    tcase_add_test(tc, an_se_whose_profile_was_changed_does_not_unlock);
    tcase_add_test(tc, newer_schema_version_is_refused);
    tcase_add_test(tc, foreign_database_is_refused);
    tcase_add_test(tc, an_abandoned_device_leaves_no_key_material_in_the_child);
    tcase_add_test(tc, signing_goes_on_while_a_writer_waits_for_another_process);
    tcase_add_test(tc, a_one_mib_private_data_object_is_stored_read_and_updated);
    tcase_add_test(tc, threads_share_one_device);
    tcase_add_test(tc, entry_points_reject_missing_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    log_init_from_env(); /* SEA_LOG=debug shows what the backend does */
    /* as the core does: secret values in OpenSSL's secure heap */
    crypto_secure_heap(1 << 20);
    SRunner *sr = srunner_create(store_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

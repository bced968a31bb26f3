/* Unit tests of the core (provider/core.c, session.c, object.c, ops.c) through the core_* API
 * on the in-memory mock backend: contexts and devices, slots and SEs, sessions and login,
 * objects and templates, operations, the mechanism table and fork safety. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "core.h"
#include "crypto.h"
#include "error.h"
#include "mock_backend.h"

#define SO_PIN   "87654321"
#define USER_PIN "1234"
#define PIN(s)   (const uint8_t *)(s), strlen(s)

#define CONF_ONE  "[device m]\nbackend = mock\n"
#define MAX_SLOTS 16

/* ---- assertions ---- */

static const char *rv_name(CK_RV rv)
{
    const char *n = err_ckr_name(rv);
    return n ? n : "CKR_?";
}

#define ck_assert_rv(expr, want)                                                                   \
    do {                                                                                           \
        CK_RV got_ = (expr), want_ = (want);                                                       \
        ck_assert_msg(got_ == want_, "%s returned %s (0x%lx), expected %s", #expr, rv_name(got_),  \
                      got_, rv_name(want_));                                                       \
    } while (0)

/* The calling thread's error record names this origin (and holds msg, if given). */
static void expect_origin(int origin, const char *msg)
{
    const struct err_rec *e = err_get();
    ck_assert_msg(e->origin == origin, "error origin %d, expected %d (message: %s)", e->origin,
                  origin, e->msg);
    if (msg)
        ck_assert_msg(strstr(e->msg, msg), "error message '%s' lacks '%s'", e->msg, msg);
}

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (; s[0] && s[1]; s += 2) {
        unsigned v;
        ck_assert_uint_lt(n, cap);
        ck_assert_int_eq(sscanf(s, "%2x", &v), 1);
        out[n++] = (uint8_t)v;
    }
    return n;
}

/* ---- templates ---- */

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static CK_OBJECT_CLASS c_data = CKO_DATA, c_secret = CKO_SECRET_KEY, c_public = CKO_PUBLIC_KEY,
                       c_cert = CKO_CERTIFICATE;
static CK_KEY_TYPE k_aes = CKK_AES, k_ec = CKK_EC;
static CK_CERTIFICATE_TYPE x509 = CKC_X_509;
static CK_ULONG len16 = 16;
/* namedCurve OIDs: prime256v1, and secp224r1 which libsea does not support */
static uint8_t p256[] = {0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};
static uint8_t p384[] = {0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22};
static uint8_t p224[] = {0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x21};
static uint8_t key16[16] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                            0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
static uint8_t key32[32] = "an HMAC key of thirty-two bytes";

/* clang-format off */
#define A(t, v)     {(t), (void *)&(v), sizeof(v)}
#define AS(t, s)    {(t), (void *)(s), sizeof(s) - 1}
#define AB(t, p, n) {(t), (void *)(p), (n)}
/* clang-format on */

static CK_MECHANISM m_hmac = {CKM_SHA256_HMAC, NULL, 0};
static CK_MECHANISM m_ecdsa = {CKM_ECDSA, NULL, 0};
static CK_MECHANISM m_ecdsa_sha256 = {CKM_ECDSA_SHA256, NULL, 0};
static CK_MECHANISM m_ec_gen = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
static CK_MECHANISM m_aes_gen = {CKM_AES_KEY_GEN, NULL, 0};
static CK_MECHANISM m_sha256 = {CKM_SHA256, NULL, 0};

/* ---- contexts, slots, SEs ---- */

static CK_RV try_core(const char *text, struct core **out)
{
    struct config *cfg = NULL;
    ck_assert_rv(config_parse(text, strlen(text), "test.conf", &cfg), CKR_OK);
    err_clear();
    return core_new(cfg, out);
}

static struct core *open_core(const char *text)
{
    struct core *c = NULL;
    ck_assert_rv(try_core(text, &c), CKR_OK);
    ck_assert_ptr_nonnull(c);
    return c;
}

/* The slot list by the usual two calls. */
static CK_ULONG slot_list(struct core *c, bool present, CK_SLOT_ID *out)
{
    CK_ULONG n = 0;
    ck_assert_rv(core_slot_list(c, present, NULL, &n), CKR_OK);
    ck_assert_uint_le(n, MAX_SLOTS);
    ck_assert_rv(core_slot_list(c, present, out, &n), CKR_OK);
    return n;
}

static bool slot_listed(struct core *c, bool present, CK_SLOT_ID slot)
{
    CK_SLOT_ID v[MAX_SLOTS];
    CK_ULONG n = slot_list(c, present, v);
    for (CK_ULONG i = 0; i < n; i++)
        if (v[i] == slot)
            return true;
    return false;
}

static CK_FLAGS token_flags(struct core *c, CK_SLOT_ID slot)
{
    CK_TOKEN_INFO ti;
    ck_assert_rv(core_token_info(c, slot, &ti), CKR_OK);
    return ti.flags;
}

static void token_label(struct core *c, CK_SLOT_ID slot, char out[33])
{
    CK_TOKEN_INFO ti;
    ck_assert_rv(core_token_info(c, slot, &ti), CKR_OK);
    sea_unpad(out, ti.label, sizeof(ti.label));
}

/* The free slots (a token present but not initialised), in list order. */
static CK_ULONG free_slots(struct core *c, CK_SLOT_ID *out)
{
    CK_SLOT_ID v[MAX_SLOTS];
    CK_ULONG n = slot_list(c, true, v), k = 0;
    for (CK_ULONG i = 0; i < n; i++)
        if (!(token_flags(c, v[i]) & CKF_TOKEN_INITIALIZED))
            out[k++] = v[i];
    return k;
}

static CK_SLOT_ID free_slot(struct core *c)
{
    CK_SLOT_ID v[MAX_SLOTS];
    ck_assert_uint_ge(free_slots(c, v), 1);
    return v[0];
}

/* C_InitToken on the first free slot; returns the slot of the new SE. */
static CK_SLOT_ID make_se(struct core *c, const char *label)
{
    CK_SLOT_ID slot = free_slot(c);
    ck_assert_rv(core_init_token(c, slot, PIN(SO_PIN), label), CKR_OK);
    return slot;
}

static CK_SESSION_HANDLE open_rw(struct core *c, CK_SLOT_ID slot)
{
    CK_SESSION_HANDLE h = 0;
    ck_assert_rv(core_open_session(c, slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, &h), CKR_OK);
    return h;
}

static CK_SESSION_HANDLE open_ro(struct core *c, CK_SLOT_ID slot)
{
    CK_SESSION_HANDLE h = 0;
    ck_assert_rv(core_open_session(c, slot, CKF_SERIAL_SESSION, &h), CKR_OK);
    return h;
}

/* The SO sets the user PIN, then every session is closed again. */
static void init_user(struct core *c, CK_SLOT_ID slot)
{
    CK_SESSION_HANDLE h = open_rw(c, slot);
    ck_assert_rv(core_login(c, h, CKU_SO, PIN(SO_PIN)), CKR_OK);
    ck_assert_rv(core_init_pin(c, h, PIN(USER_PIN)), CKR_OK);
    ck_assert_rv(core_close_session(c, h), CKR_OK);
}

static CK_STATE session_state(struct core *c, CK_SESSION_HANDLE h)
{
    CK_SESSION_INFO si;
    ck_assert_rv(core_session_info(c, h, &si), CKR_OK);
    return si.state;
}

/* ---- the fixture: a core on one mock device with SE "alpha", its user PIN set, and a
 * read/write session on it ---- */

static struct {
    struct core *c;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE h;
} w;

static void setup(void)
{
    backend_register_extra(&mock_backend_ops);
    mock_reset();
    memset(&w, 0, sizeof(w));
}

static void teardown(void)
{
    core_free(w.c);
    w.c = NULL;
    mock_reset();
}

static void world_with(const char *conf)
{
    w.c = open_core(conf);
    w.slot = make_se(w.c, "alpha");
    init_user(w.c, w.slot);
    w.h = open_rw(w.c, w.slot);
}

static void world(void)
{
    world_with(CONF_ONE);
}

static void login_user(CK_SESSION_HANDLE h)
{
    ck_assert_rv(core_login(w.c, h, CKU_USER, PIN(USER_PIN)), CKR_OK);
}

/* ---- objects ---- */

static CK_OBJECT_HANDLE create(CK_SESSION_HANDLE h, const CK_ATTRIBUTE *t, CK_ULONG n)
{
    CK_OBJECT_HANDLE o = 0;
    ck_assert_rv(core_create_object(w.c, h, t, n, 0, &o), CKR_OK);
    return o;
}

static CK_RV try_create(CK_SESSION_HANDLE h, const CK_ATTRIBUTE *t, CK_ULONG n)
{
    CK_OBJECT_HANDLE o = 0;
    err_clear();
    return core_create_object(w.c, h, t, n, 0, &o);
}

/* A secret key of type kt with value v, plus extra attributes (session object). */
static CK_RV try_secret(CK_SESSION_HANDLE h, CK_KEY_TYPE kt, const uint8_t *v, size_t n,
                        const CK_ATTRIBUTE *extra, CK_ULONG nextra, CK_OBJECT_HANDLE *out)
{
    CK_ATTRIBUTE t[16] = {A(CKA_CLASS, c_secret), A(CKA_KEY_TYPE, kt), AB(CKA_VALUE, v, n)};
    CK_ULONG k = 3;
    ck_assert_uint_le(k + nextra, ARRAY_SIZE(t));
    for (CK_ULONG i = 0; i < nextra; i++)
        t[k++] = extra[i];
    err_clear();
    return core_create_object(w.c, h, t, k, 0, out);
}

static CK_OBJECT_HANDLE secret(CK_SESSION_HANDLE h, CK_KEY_TYPE kt, const uint8_t *v, size_t n,
                               const CK_ATTRIBUTE *extra, CK_ULONG nextra)
{
    CK_OBJECT_HANDLE o = 0;
    ck_assert_rv(try_secret(h, kt, v, n, extra, nextra, &o), CKR_OK);
    return o;
}

static CK_OBJECT_HANDLE hmac_key(CK_SESSION_HANDLE h)
{
    return secret(h, CKK_GENERIC_SECRET, key32, sizeof(key32), NULL, 0);
}

/* An EC P-256 pair; priv_extra is added to the private template. */
static void ec_pair(CK_SESSION_HANDLE h, const CK_ATTRIBUTE *priv_extra, CK_ULONG nextra,
                    CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
    CK_ATTRIBUTE pt[] = {AB(CKA_EC_PARAMS, p256, sizeof(p256)), A(CKA_VERIFY, yes)};
    CK_ATTRIBUTE qt[8] = {A(CKA_SIGN, yes)};
    CK_ULONG k = 1;
    ck_assert_uint_le(k + nextra, ARRAY_SIZE(qt));
    for (CK_ULONG i = 0; i < nextra; i++)
        qt[k++] = priv_extra[i];
    ck_assert_rv(core_generate_key_pair(w.c, h, &m_ec_gen, pt, ARRAY_SIZE(pt), qt, k, pub, priv),
                 CKR_OK);
}

static CK_ULONG find_all(CK_SESSION_HANDLE h, const CK_ATTRIBUTE *t, CK_ULONG n,
                         CK_OBJECT_HANDLE *out, CK_ULONG cap)
{
    CK_ULONG got = 0;
    ck_assert_rv(core_find_init(w.c, h, t, n), CKR_OK);
    ck_assert_rv(core_find(w.c, h, out, cap, &got), CKR_OK);
    ck_assert_rv(core_find_final(w.c, h), CKR_OK);
    return got;
}

/* A thread closing sessions one by one while another thread closes them all. */
struct closer {
    struct core *c;
    const CK_SESSION_HANDLE *h;
    size_t n;
    unsigned bad;
};

static void *close_each(void *arg)
{
    struct closer *a = arg;
    for (size_t i = 0; i < a->n; i++) {
        CK_RV rv = core_close_session(a->c, a->h[i]);
        if (rv != CKR_OK && rv != CKR_SESSION_HANDLE_INVALID)
            a->bad++;
    }
    return NULL;
}

/* ---- operations ---- */

static CK_ULONG sign(CK_SESSION_HANDLE h, const CK_MECHANISM *m, CK_OBJECT_HANDLE key,
                     const void *msg, size_t len, uint8_t *sig, CK_ULONG cap)
{
    CK_ULONG n = cap;
    ck_assert_rv(core_op_init(w.c, h, OP_SIGN, m, key), CKR_OK);
    ck_assert_rv(core_op_single(w.c, h, OP_SIGN, msg, len, sig, &n), CKR_OK);
    return n;
}

/* ======================================================================================== */
/* Context and devices                                                                       */
/* ======================================================================================== */

START_TEST(core_new_refuses_a_configuration_without_devices)
{
    struct core *c = NULL;
    ck_assert_rv(try_core("[sea]\npin_retries = 3\n", &c), CKR_ARGUMENTS_BAD);
    ck_assert_ptr_null(c);
    expect_origin(ORIGIN_CORE, "[device]");
}
END_TEST

START_TEST(core_new_rejects_an_unknown_sea_key)
{
    struct core *c = NULL;
    ck_assert_rv(try_core("[sea]\ncolour = red\n" CONF_ONE, &c), CKR_ARGUMENTS_BAD);
    expect_origin(ORIGIN_CORE, "colour");
    /* the known keys are accepted */
    ck_assert_rv(try_core("[sea]\npin_retries = 3\n" CONF_ONE, &c), CKR_OK);
    core_free(c);
}
END_TEST

START_TEST(a_device_that_fails_to_open_is_a_slot_without_token)
{
    CK_SLOT_ID all[MAX_SLOTS], present[MAX_SLOTS], bad = 0;
    struct core_device_status st[2];
    size_t n = 0;
    w.c = open_core("[device bad]\nbackend = mock\nfail_open = yes\n" CONF_ONE);
    CK_ULONG nall = slot_list(w.c, false, all), npresent = slot_list(w.c, true, present);
    ck_assert_uint_eq(nall, 2);
    ck_assert_uint_eq(npresent, 1);
    for (CK_ULONG i = 0; i < nall; i++)
        if (all[i] != present[0])
            bad = all[i];
    ck_assert_uint_ne(bad, present[0]);

    ck_assert_rv(core_device_status(w.c, st, &n), CKR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(n, 2);
    ck_assert_rv(core_device_status(w.c, st, &n), CKR_OK);
    ck_assert_str_eq(st[0].name, "bad");
    ck_assert_str_eq(st[0].backend, "mock");
    ck_assert_rv(st[0].rv, CKR_DEVICE_ERROR);
    ck_assert_ptr_nonnull(strstr(st[0].error, "fail_open"));
    ck_assert_str_eq(st[1].name, "m");
    ck_assert_rv(st[1].rv, CKR_OK);
    ck_assert_uint_eq(st[1].max_se, 8);

    CK_SLOT_INFO si;
    CK_TOKEN_INFO ti;
    CK_SESSION_HANDLE h;
    ck_assert_rv(core_slot_info(w.c, bad, &si), CKR_OK);
    ck_assert_uint_eq(si.flags & CKF_TOKEN_PRESENT, 0);
    err_clear();
    ck_assert_rv(core_token_info(w.c, bad, &ti), CKR_TOKEN_NOT_PRESENT);
    expect_origin(ORIGIN_CORE, "fail_open");
    ck_assert_rv(core_open_session(w.c, bad, CKF_SERIAL_SESSION, &h), CKR_TOKEN_NOT_PRESENT);
    ck_assert_rv(core_init_token(w.c, bad, PIN(SO_PIN), "x"), CKR_TOKEN_NOT_PRESENT);

    /* the other device works */
    CK_SLOT_ID slot = make_se(w.c, "alpha");
    ck_assert_uint_eq(slot, present[0]);
    h = open_ro(w.c, slot);
    ck_assert_rv(core_close_session(w.c, h), CKR_OK);
}
END_TEST

START_TEST(an_unknown_backend_leaves_the_device_unavailable_with_a_message)
{
    struct core_device_status st[2];
    size_t n = 2;
    w.c = open_core("[device x]\nbackend = nosuch\n" CONF_ONE);
    ck_assert_rv(core_device_status(w.c, st, &n), CKR_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_rv(st[0].rv, CKR_ARGUMENTS_BAD);
    ck_assert_ptr_nonnull(strstr(st[0].error, "nosuch"));
    ck_assert_rv(st[1].rv, CKR_OK);
    CK_SLOT_ID all[MAX_SLOTS];
    ck_assert_uint_eq(slot_list(w.c, false, all), 2);
    CK_TOKEN_INFO ti;
    ck_assert_rv(core_token_info(w.c, all[0], &ti), CKR_TOKEN_NOT_PRESENT);
    ck_assert_rv(core_token_info(w.c, all[1], &ti), CKR_OK);
}
END_TEST

START_TEST(an_unknown_device_key_or_an_injected_open_failure_is_reported_per_device)
{
    struct core_device_status st[2];
    size_t n = 2;
    mock_fail_next("dev_open", CKR_DEVICE_REMOVED);
    w.c = open_core("[device first]\nbackend = mock\n[device second]\nbackend = mock\n"
                    "colour = red\n");
    ck_assert_rv(core_device_status(w.c, st, &n), CKR_OK);
    ck_assert_rv(st[0].rv, CKR_DEVICE_REMOVED);
    ck_assert_ptr_nonnull(strstr(st[0].error, "mock: injected failure of dev_open"));
    ck_assert_rv(st[1].rv, CKR_ARGUMENTS_BAD);
    ck_assert_ptr_nonnull(strstr(st[1].error, "colour"));
    ck_assert_uint_eq(mock_calls("dev_open"), 2);
}
END_TEST

/* ======================================================================================== */
/* Slots and SEs                                                                             */
/* ======================================================================================== */

START_TEST(a_free_slot_is_offered_only_while_the_device_has_room)
{
    CK_SLOT_ID v[MAX_SLOTS];
    struct core_se_create p = {.name = "third", .level = -1, .so_pin = PIN(SO_PIN)};
    w.c = open_core("[device m]\nbackend = mock\nmax_se = 2\n");
    ck_assert_uint_eq(slot_list(w.c, true, v), 1);
    ck_assert_uint_eq(free_slots(w.c, v), 1);
    CK_SLOT_ID a = make_se(w.c, "first");
    ck_assert_uint_eq(slot_list(w.c, true, v), 2);
    ck_assert_uint_eq(free_slots(w.c, v), 1);
    CK_SLOT_ID last_free = v[0];
    CK_SLOT_ID b = make_se(w.c, "second");
    ck_assert_uint_eq(b, last_free);
    ck_assert_uint_eq(slot_list(w.c, true, v), 2);
    ck_assert_uint_eq(free_slots(w.c, v), 0);
    ck_assert(slot_listed(w.c, true, a) && slot_listed(w.c, true, b));
    err_clear();
    ck_assert_rv(core_se_create(w.c, &p, NULL), CKR_DEVICE_MEMORY);
    expect_origin(ORIGIN_CORE, NULL);
    /* the slot the next SE would get is not offered, so it cannot be initialised */
    ck_assert_rv(core_init_token(w.c, b + 1, PIN(SO_PIN), "third"), CKR_SLOT_ID_INVALID);
    ck_assert_uint_eq(mock_calls("se_create"), 2);
    /* deleting one makes room again */
    ck_assert_rv(core_se_delete(w.c, a, PIN(SO_PIN)), CKR_OK);
    ck_assert_uint_eq(free_slots(w.c, v), 1);
}
END_TEST

START_TEST(init_token_on_the_free_slot_creates_an_se_at_that_slot_id)
{
    CK_TOKEN_INFO ti;
    char serial[17], label[33];
    w.c = open_core(CONF_ONE);
    CK_SLOT_ID slot = free_slot(w.c);
    ck_assert_uint_eq(token_flags(w.c, slot) & CKF_TOKEN_INITIALIZED, 0);
    ck_assert_rv(core_init_token(w.c, slot, PIN(SO_PIN), "alpha"), CKR_OK);
    ck_assert_rv(core_token_info(w.c, slot, &ti), CKR_OK);
    ck_assert_uint_ne(ti.flags & CKF_TOKEN_INITIALIZED, 0);
    ck_assert_uint_eq(ti.flags & CKF_USER_PIN_INITIALIZED, 0);
    sea_unpad(label, ti.label, sizeof(ti.label));
    sea_unpad(serial, ti.serialNumber, sizeof(ti.serialNumber));
    ck_assert_str_eq(label, "alpha");
    /* the M2M-SE-ID: SE type code 4 (software library) and 16 characters in all */
    ck_assert_uint_eq(strlen(serial), 16);
    ck_assert_int_eq(serial[0], '4');
    ck_assert_uint_eq(ti.ulMinPinLen, 4);
    ck_assert_uint_eq(ti.ulMaxPinLen, 32);
    char manuf[33];
    sea_unpad(manuf, ti.manufacturerID, sizeof(ti.manufacturerID));
    ck_assert_str_eq(manuf, "mock");
    /* a new free slot is offered, distinct from the SE's */
    CK_SLOT_ID next = free_slot(w.c);
    ck_assert_uint_ne(next, slot);
    /* two SEs never share an M2M-SE-ID */
    CK_SLOT_ID other = make_se(w.c, "beta");
    ck_assert_uint_eq(other, next);
    char serial2[17];
    ck_assert_rv(core_token_info(w.c, other, &ti), CKR_OK);
    sea_unpad(serial2, ti.serialNumber, sizeof(ti.serialNumber));
    ck_assert_str_ne(serial, serial2);
}
END_TEST

START_TEST(slot_ids_of_ses_survive_other_creations_deletions_and_a_restart)
{
    char label[33];
    w.c = open_core(CONF_ONE);
    CK_SLOT_ID a = make_se(w.c, "a"), b = make_se(w.c, "b"), c = make_se(w.c, "c");
    ck_assert(a != b && b != c && a != c);
    ck_assert_rv(core_se_delete(w.c, b, PIN(SO_PIN)), CKR_OK);
    ck_assert(!slot_listed(w.c, true, b));
    CK_SLOT_ID d = make_se(w.c, "d");
    /* a deleted SE's number is never given to another one */
    ck_assert(d != a && d != b && d != c);
    token_label(w.c, a, label);
    ck_assert_str_eq(label, "a");
    token_label(w.c, c, label);
    ck_assert_str_eq(label, "c");

    core_free(w.c);
    w.c = open_core(CONF_ONE);
    CK_SLOT_ID v[MAX_SLOTS];
    ck_assert_uint_eq(slot_list(w.c, true, v), 4); /* a, c, d and the free slot */
    ck_assert(slot_listed(w.c, true, a) && slot_listed(w.c, true, c) && slot_listed(w.c, true, d));
    ck_assert(!slot_listed(w.c, true, b));
    token_label(w.c, a, label);
    ck_assert_str_eq(label, "a");
    token_label(w.c, d, label);
    ck_assert_str_eq(label, "d");
    ck_assert(free_slot(w.c) != b);
}
END_TEST

static size_t se_count(struct core *c)
{
    struct core_se_info *v = NULL;
    size_t n = 0;
    ck_assert_rv(core_se_list(c, &v, &n), CKR_OK);
    free(v);
    return n;
}

START_TEST(se_create_takes_a_valid_se_id_and_refuses_bad_ids_and_levels)
{
    struct core_se_info info;
    CK_TOKEN_INFO ti;
    char serial[17];
    w.c = open_core(CONF_ONE);
    struct core_se_create p = {.device = "m",
                               .name = "given",
                               .se_id = "4ABCDEF0123456_9",
                               .level = 0,
                               .so_pin = PIN(SO_PIN)};
    ck_assert_rv(core_se_create(w.c, &p, &info), CKR_OK);
    ck_assert_str_eq(info.desc.se_id, "4ABCDEF0123456_9");
    ck_assert_str_eq(info.desc.name, "given");
    ck_assert_uint_eq(info.desc.level, 0);
    ck_assert_uint_eq(info.desc.se_type, 4);
    ck_assert_str_eq(info.device, "m");
    ck_assert_str_eq(info.backend, "mock");
    ck_assert_rv(core_token_info(w.c, info.slot, &ti), CKR_OK);
    sea_unpad(serial, ti.serialNumber, sizeof(ti.serialNumber));
    ck_assert_str_eq(serial, "4ABCDEF0123456_9");

    static const char *const bad_ids[] = {"5ABCDEF",  "4", "4ABC DEF", "4ABCDEF01234567890",
                                          "4ABC/DEF", ""};
    for (size_t i = 0; i < ARRAY_SIZE(bad_ids); i++) {
        p.se_id = bad_ids[i];
        err_clear();
        ck_assert_msg(core_se_create(w.c, &p, NULL) == CKR_ARGUMENTS_BAD, "se_id '%s'", bad_ids[i]);
        expect_origin(ORIGIN_API, "M2M-SE-ID");
    }
    p.se_id = NULL;
    p.level = 2; /* the mock claims at most 1 */
    err_clear();
    ck_assert_rv(core_se_create(w.c, &p, NULL), CKR_ARGUMENTS_BAD);
    expect_origin(ORIGIN_API, "level");
    p.device = "nosuch";
    p.level = 1;
    ck_assert_rv(core_se_create(w.c, &p, NULL), CKR_ARGUMENTS_BAD);
    ck_assert_uint_eq(se_count(w.c), 1);
    ck_assert_uint_eq(mock_calls("se_create"), 1);
    /* no level asks for the device's own */
    p.device = NULL;
    p.level = -1;
    ck_assert_rv(core_se_create(w.c, &p, &info), CKR_OK);
    ck_assert_uint_eq(info.desc.level, 1);
    ck_assert_int_eq(info.desc.se_id[0], '4');
}
END_TEST

START_TEST(reinit_needs_no_open_session_and_the_right_so_pin)
{
    CK_OBJECT_HANDLE found[4];
    CK_ATTRIBUTE t[] = {A(CKA_CLASS, c_data), A(CKA_TOKEN, yes), A(CKA_PRIVATE, no)};
    char label[33];
    world();
    create(w.h, t, ARRAY_SIZE(t));
    err_clear();
    ck_assert_rv(core_init_token(w.c, w.slot, PIN(SO_PIN), "renewed"), CKR_SESSION_EXISTS);
    expect_origin(ORIGIN_CORE, NULL);
    ck_assert_rv(core_close_session(w.c, w.h), CKR_OK);

    ck_assert_rv(core_init_token(w.c, w.slot, PIN("wrong-so"), "renewed"), CKR_PIN_INCORRECT);
    ck_assert_uint_ne(token_flags(w.c, w.slot) & CKF_SO_PIN_COUNT_LOW, 0);
    token_label(w.c, w.slot, label);
    ck_assert_str_eq(label, "alpha");

    ck_assert_rv(core_init_token(w.c, w.slot, PIN(SO_PIN), "renewed"), CKR_OK);
    CK_FLAGS f = token_flags(w.c, w.slot);
    ck_assert_uint_eq(f & (CKF_SO_PIN_COUNT_LOW | CKF_USER_PIN_INITIALIZED), 0);
    token_label(w.c, w.slot, label);
    ck_assert_str_eq(label, "renewed");
    w.h = open_rw(w.c, w.slot);
    ck_assert_uint_eq(find_all(w.h, NULL, 0, found, 4), 0);
    ck_assert_rv(core_login(w.c, w.h, CKU_USER, PIN(USER_PIN)), CKR_USER_PIN_NOT_INITIALIZED);
}
END_TEST

START_TEST(slot_event_reports_a_created_se_once)
{
    CK_SLOT_ID ev, seen[8] = {0};
    size_t n = 0;
    struct core_se_info info;
    struct core_se_create p = {.name = "evented", .level = -1, .so_pin = PIN(SO_PIN)};
    w.c = open_core(CONF_ONE);
    ck_assert_rv(core_slot_event(w.c, &ev), CKR_NO_EVENT);
    ck_assert_rv(core_se_create(w.c, &p, &info), CKR_OK);
    CK_RV rv;
    while ((rv = core_slot_event(w.c, &ev)) == CKR_OK) {
        ck_assert_uint_lt(n, ARRAY_SIZE(seen));
        seen[n++] = ev;
    }
    ck_assert_rv(rv, CKR_NO_EVENT);
    size_t hits = 0;
    for (size_t i = 0; i < n; i++)
        hits += seen[i] == info.slot;
    ck_assert_uint_eq(hits, 1);
    ck_assert_rv(core_slot_event(w.c, &ev), CKR_NO_EVENT);
}
END_TEST

/* ======================================================================================== */
/* Sessions and login                                                                        */
/* ======================================================================================== */

START_TEST(open_session_needs_the_serial_flag_and_an_se)
{
    CK_SESSION_HANDLE h;
    world();
    err_clear();
    ck_assert_rv(core_open_session(w.c, w.slot, CKF_RW_SESSION, &h),
                 CKR_SESSION_PARALLEL_NOT_SUPPORTED);
    expect_origin(ORIGIN_API, NULL);
    ck_assert_rv(core_open_session(w.c, free_slot(w.c), CKF_SERIAL_SESSION, &h),
                 CKR_TOKEN_NOT_RECOGNIZED);
    ck_assert_rv(core_open_session(w.c, 0x7FFFFFFF, CKF_SERIAL_SESSION, &h), CKR_SLOT_ID_INVALID);
    ck_assert_rv(core_open_session(w.c, w.slot, CKF_SERIAL_SESSION | 0x100, &h), CKR_ARGUMENTS_BAD);
}
END_TEST

START_TEST(the_so_cannot_log_in_while_a_read_only_session_is_open)
{
    world();
    CK_SESSION_HANDLE ro = open_ro(w.c, w.slot);
    err_clear();
    ck_assert_rv(core_login(w.c, w.h, CKU_SO, PIN(SO_PIN)), CKR_SESSION_READ_ONLY_EXISTS);
    expect_origin(ORIGIN_CORE, NULL);
    ck_assert_uint_eq(mock_calls("login"), 1); /* the SO's login in init_user only */
    ck_assert_rv(core_close_session(w.c, ro), CKR_OK);
    ck_assert_rv(core_login(w.c, w.h, CKU_SO, PIN(SO_PIN)), CKR_OK);
}
END_TEST

START_TEST(no_read_only_session_opens_while_the_so_is_logged_in)
{
    CK_SESSION_HANDLE h;
    world();
    ck_assert_rv(core_login(w.c, w.h, CKU_SO, PIN(SO_PIN)), CKR_OK);
    ck_assert_rv(core_open_session(w.c, w.slot, CKF_SERIAL_SESSION, &h),
                 CKR_SESSION_READ_WRITE_SO_EXISTS);
    h = open_rw(w.c, w.slot);
    ck_assert_int_eq(session_state(w.c, h), CKS_RW_SO_FUNCTIONS);
}
END_TEST

START_TEST(login_refuses_the_same_or_the_other_role_when_logged_in)
{
    world();
    login_user(w.h);
    CK_SESSION_HANDLE h2 = open_rw(w.c, w.slot);
    ck_assert_rv(core_login(w.c, h2, CKU_USER, PIN(USER_PIN)), CKR_USER_ALREADY_LOGGED_IN);
    ck_assert_rv(core_login(w.c, h2, CKU_SO, PIN(SO_PIN)), CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
    ck_assert_rv(core_login(w.c, h2, 7, PIN(SO_PIN)), CKR_USER_TYPE_INVALID);
    ck_assert_uint_eq(mock_calls("login"), 2); /* the SO's in init_user, the user's */
}
END_TEST

START_TEST(the_user_cannot_log_in_before_the_so_sets_the_pin)
{
    w.c = open_core(CONF_ONE);
    w.slot = make_se(w.c, "fresh");
    w.h = open_rw(w.c, w.slot);
    ck_assert_uint_eq(token_flags(w.c, w.slot) & CKF_USER_PIN_INITIALIZED, 0);
    err_clear();
    ck_assert_rv(core_login(w.c, w.h, CKU_USER, PIN(USER_PIN)), CKR_USER_PIN_NOT_INITIALIZED);
    expect_origin(ORIGIN_BACKEND, NULL);
    /* C_InitPIN needs the SO */
    ck_assert_rv(core_init_pin(w.c, w.h, PIN(USER_PIN)), CKR_USER_NOT_LOGGED_IN);
    ck_assert_rv(core_login(w.c, w.h, CKU_SO, PIN(SO_PIN)), CKR_OK);
    ck_assert_rv(core_init_pin(w.c, w.h, PIN(USER_PIN)), CKR_OK);
    ck_assert_uint_ne(token_flags(w.c, w.slot) & CKF_USER_PIN_INITIALIZED, 0);
}
END_TEST

#define USER_PIN_FLAGS (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED)

START_TEST(wrong_user_pins_lock_the_pin_with_exact_token_flags)
{
    world_with("[sea]\npin_retries = 3\n" CONF_ONE);
    ck_assert_uint_eq(token_flags(w.c, w.slot) & USER_PIN_FLAGS, 0);
    /* a success clears the count */
    ck_assert_rv(core_login(w.c, w.h, CKU_USER, PIN("0000")), CKR_PIN_INCORRECT);
    ck_assert_uint_eq(token_flags(w.c, w.slot) & USER_PIN_FLAGS, CKF_USER_PIN_COUNT_LOW);
    login_user(w.h);
    ck_assert_uint_eq(token_flags(w.c, w.slot) & USER_PIN_FLAGS, 0);
    ck_assert_rv(core_logout(w.c, w.h), CKR_OK);

    ck_assert_rv(core_login(w.c, w.h, CKU_USER, PIN("0000")), CKR_PIN_INCORRECT);
    ck_assert_uint_eq(token_flags(w.c, w.slot) & USER_PIN_FLAGS, CKF_USER_PIN_COUNT_LOW);
    ck_assert_rv(core_login(w.c, w.h, CKU_USER, PIN("0001")), CKR_PIN_INCORRECT);
    ck_assert_uint_eq(token_flags(w.c, w.slot) & USER_PIN_FLAGS,
                      CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
    ck_assert_rv(core_login(w.c, w.h, CKU_USER, PIN("0002")), CKR_PIN_INCORRECT);
    ck_assert_uint_eq(token_flags(w.c, w.slot) & USER_PIN_FLAGS,
                      CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_LOCKED);
    ck_assert_rv(core_login(w.c, w.h, CKU_USER, PIN(USER_PIN)), CKR_PIN_LOCKED);
    ck_assert_int_eq(session_state(w.c, w.h), CKS_RW_PUBLIC_SESSION);

    /* the SO sets a new user PIN, which unlocks it */
    ck_assert_rv(core_login(w.c, w.h, CKU_SO, PIN(SO_PIN)), CKR_OK);
    ck_assert_rv(core_init_pin(w.c, w.h, PIN("5678")), CKR_OK);
    ck_assert_rv(core_logout(w.c, w.h), CKR_OK);
    ck_assert_uint_eq(token_flags(w.c, w.slot) & USER_PIN_FLAGS, 0);
    ck_assert_rv(core_login(w.c, w.h, CKU_USER, PIN(USER_PIN)), CKR_PIN_INCORRECT);
    ck_assert_rv(core_login(w.c, w.h, CKU_USER, PIN("5678")), CKR_OK);
}
END_TEST

START_TEST(wrong_so_pins_lock_the_so_pin_and_block_the_se)
{
    struct core_se_info *v = NULL;
    size_t n = 0;
    world_with("[sea]\npin_retries = 2\n" CONF_ONE);
    CK_ATTRIBUTE kept[] = {A(CKA_CLASS, c_data), A(CKA_TOKEN, yes), A(CKA_PRIVATE, no),
                           AS(CKA_LABEL, "kept")};
    CK_OBJECT_HANDLE old = create(w.h, kept, ARRAY_SIZE(kept));
    ck_assert_rv(core_login(w.c, w.h, CKU_SO, PIN("wrong-so")), CKR_PIN_INCORRECT);
    ck_assert_uint_eq(token_flags(w.c, w.slot) & (CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY |
                                                  CKF_SO_PIN_LOCKED | CKF_WRITE_PROTECTED),
                      CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY);
    ck_assert_rv(core_login(w.c, w.h, CKU_SO, PIN("wrong-so")), CKR_PIN_INCORRECT);
    ck_assert_uint_eq(token_flags(w.c, w.slot) & (CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY |
                                                  CKF_SO_PIN_LOCKED | CKF_WRITE_PROTECTED),
                      CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_LOCKED | CKF_WRITE_PROTECTED);
    ck_assert_rv(core_login(w.c, w.h, CKU_SO, PIN(SO_PIN)), CKR_PIN_LOCKED);
    ck_assert_rv(core_se_list(w.c, &v, &n), CKR_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(v[0].desc.lifecycle, SE_BLOCKED);
    free(v);
    /* a blocked SE takes no change at all: no new token object, no change of an old one, no
     * destruction, no PIN change */
    CK_ATTRIBUTE t[] = {A(CKA_CLASS, c_data), A(CKA_TOKEN, yes), A(CKA_PRIVATE, no)};
    ck_assert_rv(try_create(w.h, t, ARRAY_SIZE(t)), CKR_TOKEN_WRITE_PROTECTED);
    CK_ATTRIBUTE relabel[] = {AS(CKA_LABEL, "changed")};
    ck_assert_rv(core_set_attrs(w.c, w.h, old, relabel, 1), CKR_TOKEN_WRITE_PROTECTED);
    ck_assert_rv(core_destroy_object(w.c, w.h, old), CKR_TOKEN_WRITE_PROTECTED);
    ck_assert_rv(core_set_pin(w.c, w.h, PIN(USER_PIN), PIN("5678")), CKR_TOKEN_WRITE_PROTECTED);
    ck_assert_rv(core_login(w.c, w.h, CKU_USER, PIN(USER_PIN)), CKR_OK); /* the old PIN holds */
    /* session objects are not the SE's: they still work */
    CK_ATTRIBUTE st[] = {A(CKA_CLASS, c_data), A(CKA_TOKEN, no), A(CKA_PRIVATE, no)};
    ck_assert_rv(try_create(w.h, st, ARRAY_SIZE(st)), CKR_OK);
}
END_TEST

START_TEST(pins_outside_the_device_length_limits_are_refused)
{
    static const char *const too_short = "123", *const too_long =
                                                    "123456789012345678901234567890123";
    world();
    ck_assert_rv(core_login(w.c, w.h, CKU_SO, PIN(SO_PIN)), CKR_OK);
    err_clear();
    ck_assert_rv(core_init_pin(w.c, w.h, PIN(too_short)), CKR_PIN_LEN_RANGE);
    expect_origin(ORIGIN_CORE, NULL);
    ck_assert_rv(core_init_pin(w.c, w.h, PIN(too_long)), CKR_PIN_LEN_RANGE);
    ck_assert_rv(core_init_pin(w.c, w.h, PIN("1234")), CKR_OK);
    ck_assert_rv(core_init_pin(w.c, w.h, PIN("12345678901234567890123456789012")), CKR_OK);
    ck_assert_rv(core_set_pin(w.c, w.h, PIN(SO_PIN), PIN(too_short)), CKR_PIN_LEN_RANGE);
    ck_assert_rv(core_set_pin(w.c, w.h, PIN(SO_PIN), PIN(too_long)), CKR_PIN_LEN_RANGE);
    ck_assert_rv(core_init_token(w.c, free_slot(w.c), PIN(too_short), "x"), CKR_PIN_LEN_RANGE);
    struct core_se_create p = {.name = "x", .level = -1, .so_pin = PIN(too_long)};
    ck_assert_rv(core_se_create(w.c, &p, NULL), CKR_PIN_LEN_RANGE);
    ck_assert_uint_eq(mock_calls("se_create"), 1);
}
END_TEST

START_TEST(set_pin_checks_the_old_pin_and_needs_a_read_write_session)
{
    world();
    CK_SESSION_HANDLE ro = open_ro(w.c, w.slot);
    ck_assert_rv(core_set_pin(w.c, ro, PIN(USER_PIN), PIN("4321")), CKR_SESSION_READ_ONLY);
    ck_assert_rv(core_set_pin(w.c, w.h, PIN("0000"), PIN("4321")), CKR_PIN_INCORRECT);
    ck_assert_uint_ne(token_flags(w.c, w.slot) & CKF_USER_PIN_COUNT_LOW, 0);
    ck_assert_rv(core_set_pin(w.c, w.h, PIN(USER_PIN), PIN("4321")), CKR_OK);
    ck_assert_rv(core_login(w.c, w.h, CKU_USER, PIN(USER_PIN)), CKR_PIN_INCORRECT);
    ck_assert_rv(core_login(w.c, w.h, CKU_USER, PIN("4321")), CKR_OK);
    /* the SO changes its own PIN when it is logged in */
    ck_assert_rv(core_logout(w.c, w.h), CKR_OK);
    ck_assert_rv(core_close_session(w.c, ro), CKR_OK);
    ck_assert_rv(core_login(w.c, w.h, CKU_SO, PIN(SO_PIN)), CKR_OK);
    ck_assert_rv(core_set_pin(w.c, w.h, PIN(SO_PIN), PIN("new-so-pin")), CKR_OK);
    ck_assert_rv(core_logout(w.c, w.h), CKR_OK);
    ck_assert_rv(core_login(w.c, w.h, CKU_SO, PIN(SO_PIN)), CKR_PIN_INCORRECT);
    ck_assert_rv(core_login(w.c, w.h, CKU_SO, PIN("new-so-pin")), CKR_OK);
}
END_TEST

START_TEST(session_info_reports_each_of_the_five_states)
{
    CK_SESSION_INFO si;
    world();
    CK_SESSION_HANDLE ro = open_ro(w.c, w.slot);
    ck_assert_rv(core_session_info(w.c, ro, &si), CKR_OK);
    ck_assert_uint_eq(si.slotID, w.slot);
    ck_assert_uint_eq(si.flags, CKF_SERIAL_SESSION);
    ck_assert_int_eq(si.state, CKS_RO_PUBLIC_SESSION);
    ck_assert_rv(core_session_info(w.c, w.h, &si), CKR_OK);
    ck_assert_uint_eq(si.flags, CKF_SERIAL_SESSION | CKF_RW_SESSION);
    ck_assert_int_eq(si.state, CKS_RW_PUBLIC_SESSION);
    login_user(ro); /* the login is the token's: both sessions change */
    ck_assert_int_eq(session_state(w.c, ro), CKS_RO_USER_FUNCTIONS);
    ck_assert_int_eq(session_state(w.c, w.h), CKS_RW_USER_FUNCTIONS);
    ck_assert_rv(core_logout(w.c, w.h), CKR_OK);
    ck_assert_int_eq(session_state(w.c, ro), CKS_RO_PUBLIC_SESSION);
    ck_assert_rv(core_close_session(w.c, ro), CKR_OK);
    ck_assert_rv(core_login(w.c, w.h, CKU_SO, PIN(SO_PIN)), CKR_OK);
    ck_assert_int_eq(session_state(w.c, w.h), CKS_RW_SO_FUNCTIONS);
}
END_TEST

START_TEST(closing_the_last_session_of_an_se_logs_out)
{
    world();
    CK_SESSION_HANDLE h2 = open_ro(w.c, w.slot);
    login_user(w.h);
    ck_assert_rv(core_close_session(w.c, w.h), CKR_OK);
    ck_assert_int_eq(session_state(w.c, h2), CKS_RO_USER_FUNCTIONS);
    unsigned before = mock_calls("logout");
    ck_assert_rv(core_close_session(w.c, h2), CKR_OK);
    ck_assert_uint_eq(mock_calls("logout"), before + 1);
    w.h = open_rw(w.c, w.slot);
    ck_assert_int_eq(session_state(w.c, w.h), CKS_RW_PUBLIC_SESSION);
    login_user(w.h);
}
END_TEST

START_TEST(logout_without_a_login_is_user_not_logged_in)
{
    world();
    err_clear();
    ck_assert_rv(core_logout(w.c, w.h), CKR_USER_NOT_LOGGED_IN);
    expect_origin(ORIGIN_CORE, NULL);
    login_user(w.h);
    ck_assert_rv(core_logout(w.c, w.h), CKR_OK);
    ck_assert_rv(core_logout(w.c, w.h), CKR_USER_NOT_LOGGED_IN);
}
END_TEST

START_TEST(invalid_and_closed_session_handles_are_refused)
{
    CK_SESSION_INFO si;
    CK_SLOT_ID slot;
    world();
    err_clear();
    ck_assert_rv(core_session_info(w.c, w.h + 1000, &si), CKR_SESSION_HANDLE_INVALID);
    expect_origin(ORIGIN_API, NULL);
    ck_assert_rv(core_session_slot(w.c, w.h, &slot), CKR_OK);
    ck_assert_uint_eq(slot, w.slot);
    ck_assert_rv(core_close_session(w.c, w.h), CKR_OK);
    ck_assert_rv(core_session_info(w.c, w.h, &si), CKR_SESSION_HANDLE_INVALID);
    ck_assert_rv(core_login(w.c, w.h, CKU_USER, PIN(USER_PIN)), CKR_SESSION_HANDLE_INVALID);
    ck_assert_rv(core_close_session(w.c, w.h), CKR_SESSION_HANDLE_INVALID);
    ck_assert_uint_eq(mock_calls("login"), 1); /* the SO's in init_user only */
}
END_TEST

START_TEST(close_all_closes_the_sessions_of_one_slot_only)
{
    CK_SESSION_INFO si;
    CK_TOKEN_INFO ti;
    world();
    CK_SLOT_ID other = make_se(w.c, "beta");
    CK_SESSION_HANDLE a2 = open_ro(w.c, w.slot), b = open_ro(w.c, other);
    ck_assert_rv(core_token_info(w.c, w.slot, &ti), CKR_OK);
    ck_assert_uint_eq(ti.ulSessionCount, 2);
    ck_assert_uint_eq(ti.ulRwSessionCount, 1);
    ck_assert_rv(core_close_all(w.c, w.slot), CKR_OK);
    ck_assert_rv(core_session_info(w.c, w.h, &si), CKR_SESSION_HANDLE_INVALID);
    ck_assert_rv(core_session_info(w.c, a2, &si), CKR_SESSION_HANDLE_INVALID);
    ck_assert_rv(core_session_info(w.c, b, &si), CKR_OK);
    ck_assert_rv(core_token_info(w.c, w.slot, &ti), CKR_OK);
    ck_assert_uint_eq(ti.ulSessionCount, 0);
    ck_assert_rv(core_close_all(w.c, 0x7FFFFFFF), CKR_SLOT_ID_INVALID);
}
END_TEST

/* ======================================================================================== */
/* Objects and templates                                                                     */
/* ======================================================================================== */

START_TEST(a_template_without_class_or_key_type_is_incomplete)
{
    CK_ATTRIBUTE no_class[] = {AS(CKA_LABEL, "x")};
    CK_ATTRIBUTE no_type[] = {A(CKA_CLASS, c_secret), AB(CKA_VALUE, key16, 16)};
    world();
    login_user(w.h);
    ck_assert_rv(try_create(w.h, no_class, ARRAY_SIZE(no_class)), CKR_TEMPLATE_INCOMPLETE);
    expect_origin(ORIGIN_CORE, NULL);
    ck_assert_rv(try_create(w.h, no_type, ARRAY_SIZE(no_type)), CKR_TEMPLATE_INCOMPLETE);
    ck_assert_uint_eq(mock_calls("obj_create"), 0);
}
END_TEST

START_TEST(attributes_the_class_lacks_or_the_library_sets_are_refused)
{
    CK_ATTRIBUTE sign_data[] = {A(CKA_CLASS, c_data), A(CKA_SIGN, yes)};
    CK_ATTRIBUTE local[] = {A(CKA_CLASS, c_secret), A(CKA_KEY_TYPE, k_aes),
                            AB(CKA_VALUE, key16, 16), A(CKA_LOCAL, no)};
    CK_ATTRIBUTE uid[] = {A(CKA_CLASS, c_data), AS(CKA_UNIQUE_ID, "0123")};
    world();
    login_user(w.h);
    ck_assert_rv(try_create(w.h, sign_data, ARRAY_SIZE(sign_data)), CKR_ATTRIBUTE_TYPE_INVALID);
    ck_assert_rv(try_create(w.h, local, ARRAY_SIZE(local)), CKR_ATTRIBUTE_READ_ONLY);
    ck_assert_rv(try_create(w.h, uid, ARRAY_SIZE(uid)), CKR_ATTRIBUTE_READ_ONLY);
    ck_assert_uint_eq(mock_calls("obj_create"), 0);
    /* without the offending attribute each is fine */
    create(w.h, local, 3);
    create(w.h, uid, 1);
}
END_TEST

START_TEST(malformed_template_values_are_refused)
{
    uint32_t four = 1;
    uint8_t one = CKO_DATA;
    CK_ATTRIBUTE twice[] = {A(CKA_CLASS, c_data), AS(CKA_LABEL, "a"), AS(CKA_LABEL, "b")};
    CK_ATTRIBUTE twice_same[] = {A(CKA_CLASS, c_data), AS(CKA_LABEL, "a"), AS(CKA_LABEL, "a")};
    CK_ATTRIBUTE bool4[] = {A(CKA_CLASS, c_data), AB(CKA_TOKEN, &four, sizeof(four))};
    CK_ATTRIBUTE ulong1[] = {AB(CKA_CLASS, &one, 1)};
    CK_ATTRIBUTE null_value[] = {A(CKA_CLASS, c_data), AB(CKA_LABEL, NULL, 5)};
    CK_ATTRIBUTE null_empty[] = {A(CKA_CLASS, c_data), AB(CKA_LABEL, NULL, 0)};
    uint8_t key17[17] = {0};
    CK_OBJECT_HANDLE o;
    world();
    login_user(w.h);
    ck_assert_rv(try_create(w.h, twice, ARRAY_SIZE(twice)), CKR_TEMPLATE_INCONSISTENT);
    ck_assert_rv(try_create(w.h, bool4, ARRAY_SIZE(bool4)), CKR_ATTRIBUTE_VALUE_INVALID);
    ck_assert_rv(try_create(w.h, ulong1, ARRAY_SIZE(ulong1)), CKR_ATTRIBUTE_VALUE_INVALID);
    ck_assert_rv(try_create(w.h, null_value, ARRAY_SIZE(null_value)), CKR_ATTRIBUTE_VALUE_INVALID);
    ck_assert_rv(try_secret(w.h, CKK_AES, key17, sizeof(key17), NULL, 0, &o),
                 CKR_ATTRIBUTE_VALUE_INVALID);
    ck_assert_uint_eq(mock_calls("obj_create"), 0);
    create(w.h, twice_same, ARRAY_SIZE(twice_same));
    create(w.h, null_empty, ARRAY_SIZE(null_empty));
    secret(w.h, CKK_AES, key17, 16, NULL, 0);
}
END_TEST

START_TEST(generation_templates_that_contradict_the_mechanism_are_refused)
{
    CK_OBJECT_HANDLE k, pub, priv;
    CK_ATTRIBUTE with_value[] = {A(CKA_VALUE_LEN, len16), AB(CKA_VALUE, key16, 16)};
    CK_ATTRIBUTE no_len[] = {A(CKA_SIGN, yes)};
    CK_ATTRIBUTE wrong_class[] = {A(CKA_CLASS, c_public), A(CKA_VALUE_LEN, len16)};
    CK_ATTRIBUTE wrong_type[] = {A(CKA_KEY_TYPE, k_ec), A(CKA_VALUE_LEN, len16)};
    CK_ATTRIBUTE good[] = {A(CKA_VALUE_LEN, len16)};
    CK_ATTRIBUTE pub256[] = {AB(CKA_EC_PARAMS, p256, sizeof(p256))};
    CK_ATTRIBUTE pub224[] = {AB(CKA_EC_PARAMS, p224, sizeof(p224))};
    CK_ATTRIBUTE priv384[] = {AB(CKA_EC_PARAMS, p384, sizeof(p384))};
    CK_ATTRIBUTE priv_as_pub[] = {A(CKA_CLASS, c_public)};
    CK_ATTRIBUTE priv_value[] = {AB(CKA_VALUE, key32, 32)};
    world();
    login_user(w.h);
    err_clear();
    ck_assert_rv(core_generate_key(w.c, w.h, &m_aes_gen, with_value, 2, &k),
                 CKR_TEMPLATE_INCONSISTENT);
    expect_origin(ORIGIN_CORE, NULL);
    ck_assert_rv(core_generate_key(w.c, w.h, &m_aes_gen, no_len, 1, &k), CKR_TEMPLATE_INCOMPLETE);
    ck_assert_rv(core_generate_key(w.c, w.h, &m_aes_gen, wrong_class, 2, &k),
                 CKR_TEMPLATE_INCONSISTENT);
    ck_assert_rv(core_generate_key(w.c, w.h, &m_aes_gen, wrong_type, 2, &k),
                 CKR_TEMPLATE_INCONSISTENT);
    ck_assert_rv(core_generate_key(w.c, w.h, &m_ec_gen, good, 1, &k), CKR_MECHANISM_INVALID);
    ck_assert_rv(core_generate_key_pair(w.c, w.h, &m_ec_gen, pub256, 1, priv384, 1, &pub, &priv),
                 CKR_TEMPLATE_INCONSISTENT);
    ck_assert_rv(
        core_generate_key_pair(w.c, w.h, &m_ec_gen, pub256, 1, priv_as_pub, 1, &pub, &priv),
        CKR_TEMPLATE_INCONSISTENT);
    ck_assert_rv(core_generate_key_pair(w.c, w.h, &m_ec_gen, pub256, 1, priv_value, 1, &pub, &priv),
                 CKR_TEMPLATE_INCONSISTENT);
    ck_assert_rv(core_generate_key_pair(w.c, w.h, &m_ec_gen, NULL, 0, NULL, 0, &pub, &priv),
                 CKR_TEMPLATE_INCOMPLETE);
    err_clear();
    ck_assert_rv(core_generate_key_pair(w.c, w.h, &m_ec_gen, pub224, 1, NULL, 0, &pub, &priv),
                 CKR_CURVE_NOT_SUPPORTED);
    expect_origin(ORIGIN_CORE, NULL);
    ck_assert_uint_eq(mock_calls("generate"), 0);

    /* the same mechanisms with consistent templates */
    ck_assert_rv(core_generate_key(w.c, w.h, &m_aes_gen, good, 1, &k), CKR_OK);
    ck_assert_rv(core_generate_key_pair(w.c, w.h, &m_ec_gen, pub256, 1, pub256, 1, &pub, &priv),
                 CKR_OK);
    ck_assert_uint_eq(mock_calls("generate"), 2);
    CK_BBOOL local = CK_FALSE;
    CK_MECHANISM_TYPE how = 0;
    CK_ULONG vlen = 0;
    CK_ATTRIBUTE q[] = {A(CKA_LOCAL, local), A(CKA_KEY_GEN_MECHANISM, how), A(CKA_VALUE_LEN, vlen)};
    ck_assert_rv(core_get_attrs(w.c, w.h, k, q, ARRAY_SIZE(q)), CKR_OK);
    ck_assert_int_eq(local, CK_TRUE);
    ck_assert_uint_eq(how, CKM_AES_KEY_GEN);
    ck_assert_uint_eq(vlen, 16);
}
END_TEST

START_TEST(writes_need_a_read_write_session_and_private_ones_the_user)
{
    CK_ATTRIBUTE token_obj[] = {A(CKA_CLASS, c_data), A(CKA_TOKEN, yes), A(CKA_PRIVATE, no)};
    CK_ATTRIBUTE session_obj[] = {A(CKA_CLASS, c_data), A(CKA_PRIVATE, no)};
    CK_ATTRIBUTE private_obj[] = {A(CKA_CLASS, c_data), A(CKA_PRIVATE, yes)};
    CK_OBJECT_HANDLE o;
    world();
    CK_SESSION_HANDLE ro = open_ro(w.c, w.slot);
    ck_assert_rv(try_create(ro, token_obj, ARRAY_SIZE(token_obj)), CKR_SESSION_READ_ONLY);
    expect_origin(ORIGIN_CORE, NULL);
    create(ro, session_obj, ARRAY_SIZE(session_obj));
    ck_assert_rv(try_create(w.h, private_obj, ARRAY_SIZE(private_obj)), CKR_USER_NOT_LOGGED_IN);
    ck_assert_rv(try_secret(w.h, CKK_AES, key16, 16, NULL, 0, &o), CKR_USER_NOT_LOGGED_IN);
    ck_assert_uint_eq(mock_calls("obj_create"), 1);
    login_user(w.h);
    create(w.h, private_obj, ARRAY_SIZE(private_obj));
    create(w.h, token_obj, ARRAY_SIZE(token_obj));
}
END_TEST

START_TEST(only_the_so_may_mark_an_object_trusted)
{
    static uint8_t der[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    CK_ATTRIBUTE cert[] = {A(CKA_CLASS, c_cert), A(CKA_CERTIFICATE_TYPE, x509),
                           AS(CKA_SUBJECT, "CN=x"), AB(CKA_VALUE, der, sizeof(der)),
                           A(CKA_TRUSTED, yes)};
    world();
    ck_assert_rv(try_create(w.h, cert, ARRAY_SIZE(cert)), CKR_ATTRIBUTE_READ_ONLY);
    login_user(w.h);
    ck_assert_rv(try_create(w.h, cert, ARRAY_SIZE(cert)), CKR_ATTRIBUTE_READ_ONLY);
    ck_assert_rv(core_logout(w.c, w.h), CKR_OK);
    ck_assert_rv(core_login(w.c, w.h, CKU_SO, PIN(SO_PIN)), CKR_OK);
    CK_OBJECT_HANDLE o = create(w.h, cert, ARRAY_SIZE(cert));
    CK_BBOOL trusted = CK_FALSE;
    CK_ATTRIBUTE q[] = {A(CKA_TRUSTED, trusted)};
    ck_assert_rv(core_get_attrs(w.c, w.h, o, q, 1), CKR_OK);
    ck_assert_int_eq(trusted, CK_TRUE);
}
END_TEST

START_TEST(a_sensitive_value_is_withheld_while_the_other_attributes_are_filled)
{
    char label[16];
    uint8_t value[32] = {0};
    CK_KEY_TYPE kt = 0;
    CK_ATTRIBUTE extra[] = {AS(CKA_LABEL, "secret-key")};
    CK_ATTRIBUTE unextractable[] = {AS(CKA_LABEL, "secret-key"), A(CKA_SENSITIVE, no),
                                    A(CKA_EXTRACTABLE, no)};
    world();
    login_user(w.h);
    CK_OBJECT_HANDLE keys[2] = {secret(w.h, CKK_AES, key16, 16, extra, 1),
                                secret(w.h, CKK_AES, key16, 16, unextractable, 3)};
    for (size_t i = 0; i < 2; i++) {
        CK_ATTRIBUTE q[] = {AB(CKA_LABEL, label, sizeof(label)),
                            AB(CKA_VALUE, value, sizeof(value)), A(CKA_KEY_TYPE, kt)};
        err_clear();
        ck_assert_rv(core_get_attrs(w.c, w.h, keys[i], q, ARRAY_SIZE(q)), CKR_ATTRIBUTE_SENSITIVE);
        ck_assert_uint_eq(q[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
        ck_assert_uint_eq(q[0].ulValueLen, 10);
        ck_assert_mem_eq(label, "secret-key", 10);
        ck_assert_uint_eq(q[2].ulValueLen, sizeof(kt));
        ck_assert_uint_eq(kt, CKK_AES);
    }
    ck_assert_uint_eq(mock_calls("obj_secret"), 0);
    /* an attribute AES keys do not have */
    CK_ATTRIBUTE q[] = {AB(CKA_MODULUS, value, sizeof(value))};
    ck_assert_rv(core_get_attrs(w.c, w.h, keys[0], q, 1), CKR_ATTRIBUTE_TYPE_INVALID);
    ck_assert_uint_eq(q[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
}
END_TEST

START_TEST(get_answers_size_queries_and_refuses_short_buffers)
{
    char buf[8];
    CK_ATTRIBUTE t[] = {A(CKA_CLASS, c_data), AS(CKA_LABEL, "hello")};
    world();
    CK_OBJECT_HANDLE o = create(w.h, t, ARRAY_SIZE(t));
    CK_ATTRIBUTE q = AB(CKA_LABEL, NULL, 0);
    ck_assert_rv(core_get_attrs(w.c, w.h, o, &q, 1), CKR_OK);
    ck_assert_uint_eq(q.ulValueLen, 5);
    q = (CK_ATTRIBUTE)AB(CKA_LABEL, buf, 2);
    ck_assert_rv(core_get_attrs(w.c, w.h, o, &q, 1), CKR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(q.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    q = (CK_ATTRIBUTE)AB(CKA_LABEL, buf, sizeof(buf));
    ck_assert_rv(core_get_attrs(w.c, w.h, o, &q, 1), CKR_OK);
    ck_assert_uint_eq(q.ulValueLen, 5);
    ck_assert_mem_eq(buf, "hello", 5);
    CK_ULONG size = 0;
    ck_assert_rv(core_object_size(w.c, w.h, o, &size), CKR_OK);
    ck_assert_uint_ge(size, 5);
}
END_TEST

START_TEST(an_extractable_non_sensitive_key_reads_back_its_value)
{
    uint8_t value[32] = {0}, kcv[3] = {0}, block[16] = {0};
    static const uint8_t zero[16];
    int got = 0;
    CK_ATTRIBUTE extra[] = {A(CKA_SENSITIVE, no), A(CKA_EXTRACTABLE, yes)};
    world();
    login_user(w.h);
    CK_OBJECT_HANDLE k = secret(w.h, CKK_AES, key16, 16, extra, 2);
    CK_ATTRIBUTE q[] = {AB(CKA_VALUE, value, sizeof(value)), AB(CKA_CHECK_VALUE, kcv, 3)};
    ck_assert_rv(core_get_attrs(w.c, w.h, k, q, 2), CKR_OK);
    ck_assert_uint_eq(q[0].ulValueLen, 16);
    ck_assert_mem_eq(value, key16, 16);
    /* CKA_CHECK_VALUE: the first three bytes of AES-ECB(key, zero block) */
    EVP_CIPHER_CTX *cc = EVP_CIPHER_CTX_new();
    ck_assert_int_eq(EVP_EncryptInit_ex(cc, EVP_aes_128_ecb(), NULL, key16, NULL), 1);
    ck_assert_int_eq(EVP_EncryptUpdate(cc, block, &got, zero, 16), 1);
    EVP_CIPHER_CTX_free(cc);
    ck_assert_int_eq(got, 16);
    ck_assert_uint_eq(q[1].ulValueLen, 3);
    ck_assert_mem_eq(kcv, block, 3);
    /* private: invisible once the user logs out */
    ck_assert_rv(core_logout(w.c, w.h), CKR_OK);
    ck_assert_rv(core_get_attrs(w.c, w.h, k, q, 2), CKR_OBJECT_HANDLE_INVALID);
}
END_TEST

START_TEST(set_attribute_follows_the_one_way_and_read_only_rules)
{
    char label[16];
    CK_ATTRIBUTE fixed[] = {A(CKA_MODIFIABLE, no)};
    CK_ATTRIBUTE relabel[] = {AS(CKA_LABEL, "renamed")};
    CK_ATTRIBUTE unsensitive[] = {A(CKA_SENSITIVE, no)};
    CK_ATTRIBUTE extractable[] = {A(CKA_EXTRACTABLE, yes)};
    CK_ATTRIBUTE reclass[] = {A(CKA_CLASS, c_data)};
    CK_ATTRIBUTE sensitive[] = {A(CKA_SENSITIVE, yes)};
    world();
    login_user(w.h);
    CK_OBJECT_HANDLE k = secret(w.h, CKK_AES, key16, 16, NULL, 0);
    ck_assert_rv(core_set_attrs(w.c, w.h, k, relabel, 1), CKR_OK);
    CK_ATTRIBUTE q[] = {AB(CKA_LABEL, label, sizeof(label))};
    ck_assert_rv(core_get_attrs(w.c, w.h, k, q, 1), CKR_OK);
    ck_assert_uint_eq(q[0].ulValueLen, 7);
    ck_assert_mem_eq(label, "renamed", 7);
    err_clear();
    ck_assert_rv(core_set_attrs(w.c, w.h, k, unsensitive, 1), CKR_ATTRIBUTE_READ_ONLY);
    expect_origin(ORIGIN_CORE, NULL);
    ck_assert_rv(core_set_attrs(w.c, w.h, k, extractable, 1), CKR_ATTRIBUTE_READ_ONLY);
    ck_assert_rv(core_set_attrs(w.c, w.h, k, reclass, 1), CKR_ATTRIBUTE_READ_ONLY);
    ck_assert_rv(core_set_attrs(w.c, w.h, k, sensitive, 1), CKR_OK);
    ck_assert_uint_eq(mock_calls("obj_update"), 2);

    CK_OBJECT_HANDLE f = secret(w.h, CKK_AES, key16, 16, fixed, 1);
    ck_assert_rv(core_set_attrs(w.c, w.h, f, relabel, 1), CKR_ACTION_PROHIBITED);
    ck_assert_uint_eq(mock_calls("obj_update"), 2);
}
END_TEST

START_TEST(copy_changes_the_label_and_keeps_the_key_usable)
{
    char label[16];
    uint8_t sig[32];
    CK_ATTRIBUTE relabel[] = {AS(CKA_LABEL, "copy")};
    CK_ATTRIBUTE reclass[] = {A(CKA_CLASS, c_data)};
    CK_ATTRIBUTE uncopyable[] = {A(CKA_COPYABLE, no)};
    CK_OBJECT_HANDLE copy = 0;
    world();
    login_user(w.h);
    CK_OBJECT_HANDLE k = hmac_key(w.h);
    ck_assert_rv(core_copy_object(w.c, w.h, k, relabel, 1, &copy), CKR_OK);
    ck_assert_uint_ne(copy, k);
    CK_ATTRIBUTE q[] = {AB(CKA_LABEL, label, sizeof(label))};
    ck_assert_rv(core_get_attrs(w.c, w.h, copy, q, 1), CKR_OK);
    ck_assert_uint_eq(q[0].ulValueLen, 4);
    ck_assert_mem_eq(label, "copy", 4);
    q[0].ulValueLen = sizeof(label);
    ck_assert_rv(core_get_attrs(w.c, w.h, k, q, 1), CKR_OK);
    ck_assert_uint_eq(q[0].ulValueLen, 0);
    CK_ULONG n = sign(w.h, &m_hmac, copy, "message", 7, sig, sizeof(sig));
    ck_assert_rv(core_op_init(w.c, w.h, OP_VERIFY, &m_hmac, k), CKR_OK);
    ck_assert_rv(core_verify(w.c, w.h, (const uint8_t *)"message", 7, sig, n), CKR_OK);

    ck_assert_rv(core_copy_object(w.c, w.h, k, reclass, 1, &copy), CKR_ATTRIBUTE_READ_ONLY);
    CK_OBJECT_HANDLE u = secret(w.h, CKK_GENERIC_SECRET, key32, 32, uncopyable, 1);
    err_clear();
    ck_assert_rv(core_copy_object(w.c, w.h, u, relabel, 1, &copy), CKR_ACTION_PROHIBITED);
    expect_origin(ORIGIN_CORE, NULL);
}
END_TEST

START_TEST(destroy_removes_destroyable_objects_only)
{
    CK_ATTRIBUTE keep[] = {A(CKA_CLASS, c_data), A(CKA_DESTROYABLE, no)};
    CK_ATTRIBUTE plain[] = {A(CKA_CLASS, c_data)};
    CK_ATTRIBUTE token_obj[] = {A(CKA_CLASS, c_data), A(CKA_TOKEN, yes)};
    CK_ATTRIBUTE q = AB(CKA_LABEL, NULL, 0);
    world();
    CK_OBJECT_HANDLE k = create(w.h, keep, ARRAY_SIZE(keep));
    CK_OBJECT_HANDLE p = create(w.h, plain, ARRAY_SIZE(plain));
    CK_OBJECT_HANDLE t = create(w.h, token_obj, ARRAY_SIZE(token_obj));
    err_clear();
    ck_assert_rv(core_destroy_object(w.c, w.h, k), CKR_ACTION_PROHIBITED);
    expect_origin(ORIGIN_CORE, NULL);
    ck_assert_rv(core_get_attrs(w.c, w.h, k, &q, 1), CKR_OK);
    ck_assert_rv(core_destroy_object(w.c, w.h, p), CKR_OK);
    ck_assert_rv(core_get_attrs(w.c, w.h, p, &q, 1), CKR_OBJECT_HANDLE_INVALID);
    ck_assert_rv(core_destroy_object(w.c, w.h, p), CKR_OBJECT_HANDLE_INVALID);
    CK_SESSION_HANDLE ro = open_ro(w.c, w.slot);
    ck_assert_rv(core_destroy_object(w.c, ro, t), CKR_SESSION_READ_ONLY);
    ck_assert_rv(core_destroy_object(w.c, w.h, t), CKR_OK);
}
END_TEST

START_TEST(find_hides_private_objects_from_the_public_and_the_so)
{
    CK_OBJECT_HANDLE found[4];
    CK_ATTRIBUTE pub[] = {A(CKA_CLASS, c_data), AS(CKA_APPLICATION, "find"), A(CKA_TOKEN, yes)};
    CK_ATTRIBUTE priv[] = {A(CKA_CLASS, c_data), AS(CKA_APPLICATION, "find"), A(CKA_TOKEN, yes),
                           A(CKA_PRIVATE, yes)};
    CK_ATTRIBUTE q[] = {A(CKA_CLASS, c_data), AS(CKA_APPLICATION, "find")};
    world();
    login_user(w.h);
    CK_OBJECT_HANDLE hp = create(w.h, pub, ARRAY_SIZE(pub));
    CK_OBJECT_HANDLE hq = create(w.h, priv, ARRAY_SIZE(priv));
    ck_assert_uint_eq(find_all(w.h, q, 2, found, 4), 2);
    ck_assert(found[0] != found[1] && (found[0] == hp || found[0] == hq) &&
              (found[1] == hp || found[1] == hq));
    ck_assert_rv(core_logout(w.c, w.h), CKR_OK);
    ck_assert_uint_eq(find_all(w.h, q, 2, found, 4), 1);
    ck_assert_uint_eq(found[0], hp);
    ck_assert_rv(core_login(w.c, w.h, CKU_SO, PIN(SO_PIN)), CKR_OK);
    ck_assert_uint_eq(find_all(w.h, q, 2, found, 4), 1);
    ck_assert_uint_eq(found[0], hp);
    /* a template that matches nothing */
    CK_ATTRIBUTE other[] = {AS(CKA_APPLICATION, "elsewhere")};
    ck_assert_uint_eq(find_all(w.h, other, 1, found, 4), 0);
}
END_TEST

START_TEST(find_keeps_its_state_and_returns_batches)
{
    CK_OBJECT_HANDLE made[5], found[5] = {0}, batch[2];
    CK_ATTRIBUTE t[] = {A(CKA_CLASS, c_data), AS(CKA_APPLICATION, "batch")};
    CK_ULONG got = 0, total = 0;
    world();
    err_clear();
    ck_assert_rv(core_find(w.c, w.h, batch, 2, &got), CKR_OPERATION_NOT_INITIALIZED);
    expect_origin(ORIGIN_CORE, NULL);
    ck_assert_rv(core_find_final(w.c, w.h), CKR_OPERATION_NOT_INITIALIZED);
    for (size_t i = 0; i < 5; i++)
        made[i] = create(w.h, t, ARRAY_SIZE(t));
    CK_ATTRIBUTE bad = AB(CKA_LABEL, NULL, 3);
    ck_assert_rv(core_find_init(w.c, w.h, &bad, 1), CKR_ARGUMENTS_BAD);
    ck_assert_rv(core_find_init(w.c, w.h, t, ARRAY_SIZE(t)), CKR_OK);
    ck_assert_rv(core_find_init(w.c, w.h, t, ARRAY_SIZE(t)), CKR_OPERATION_ACTIVE);
    static const CK_ULONG sizes[] = {2, 2, 1, 0};
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        ck_assert_rv(core_find(w.c, w.h, batch, 2, &got), CKR_OK);
        ck_assert_uint_eq(got, sizes[i]);
        for (CK_ULONG j = 0; j < got; j++)
            found[total++] = batch[j];
    }
    ck_assert_rv(core_find_final(w.c, w.h), CKR_OK);
    ck_assert_uint_eq(total, 5);
    for (size_t i = 0; i < 5; i++) {
        size_t hits = 0;
        for (size_t j = 0; j < 5; j++)
            hits += found[j] == made[i];
        ck_assert_uint_eq(hits, 1);
    }
}
END_TEST

START_TEST(session_objects_vanish_when_their_session_closes)
{
    CK_OBJECT_HANDLE found[2];
    CK_ATTRIBUTE t[] = {A(CKA_CLASS, c_data), AS(CKA_LABEL, "ephemeral")};
    CK_ATTRIBUTE q = AB(CKA_LABEL, NULL, 0);
    world();
    CK_SESSION_HANDLE other = open_ro(w.c, w.slot);
    CK_OBJECT_HANDLE o = create(w.h, t, ARRAY_SIZE(t));
    ck_assert_rv(core_get_attrs(w.c, other, o, &q, 1), CKR_OK);
    ck_assert_uint_eq(q.ulValueLen, 9);
    ck_assert_rv(core_close_session(w.c, w.h), CKR_OK);
    ck_assert_rv(core_get_attrs(w.c, other, o, &q, 1), CKR_OBJECT_HANDLE_INVALID);
    ck_assert_rv(core_find_init(w.c, other, t, ARRAY_SIZE(t)), CKR_OK);
    CK_ULONG got = 9;
    ck_assert_rv(core_find(w.c, other, found, 2, &got), CKR_OK);
    ck_assert_uint_eq(got, 0);
    ck_assert_uint_eq(mock_calls("obj_destroy"), 1);
    ck_assert_uint_eq(mock_object_count("m"), 0);
}
END_TEST

START_TEST(token_objects_outlive_a_restart_and_session_objects_do_not)
{
    CK_OBJECT_HANDLE found[4];
    CK_ATTRIBUTE tok[] = {A(CKA_CLASS, c_data), AS(CKA_APPLICATION, "restart"), A(CKA_TOKEN, yes)};
    CK_ATTRIBUTE ses[] = {A(CKA_CLASS, c_data), AS(CKA_APPLICATION, "restart")};
    world();
    CK_OBJECT_HANDLE t = create(w.h, tok, ARRAY_SIZE(tok));
    create(w.h, ses, ARRAY_SIZE(ses));
    ck_assert_uint_eq(find_all(w.h, ses, 2, found, 4), 2);
    ck_assert_uint_eq(mock_object_count("m"), 2);
    core_free(w.c); /* no C_CloseSession: closing the device drops its session objects */
    ck_assert_uint_eq(mock_object_count("m"), 1);
    w.c = open_core(CONF_ONE);
    w.h = open_rw(w.c, w.slot);
    ck_assert_uint_eq(find_all(w.h, ses, 2, found, 4), 1);
    ck_assert_uint_eq(found[0], t);
}
END_TEST

START_TEST(objects_of_one_se_are_out_of_reach_of_another)
{
    CK_OBJECT_HANDLE found[4], copy;
    CK_ATTRIBUTE q = AB(CKA_LABEL, NULL, 0);
    world();
    login_user(w.h);
    CK_OBJECT_HANDLE k = hmac_key(w.h);
    CK_SLOT_ID beta = make_se(w.c, "beta");
    init_user(w.c, beta);
    CK_SESSION_HANDLE hb = open_rw(w.c, beta);
    login_user(hb);
    ck_assert_rv(core_get_attrs(w.c, hb, k, &q, 1), CKR_OBJECT_HANDLE_INVALID);
    ck_assert_rv(core_op_init(w.c, hb, OP_SIGN, &m_hmac, k), CKR_KEY_HANDLE_INVALID);
    ck_assert_rv(core_copy_object(w.c, hb, k, NULL, 0, &copy), CKR_OBJECT_HANDLE_INVALID);
    ck_assert_rv(core_destroy_object(w.c, hb, k), CKR_OBJECT_HANDLE_INVALID);
    ck_assert_uint_eq(find_all(hb, NULL, 0, found, 4), 0);
    /* still there for its own SE */
    ck_assert_rv(core_get_attrs(w.c, w.h, k, &q, 1), CKR_OK);
}
END_TEST

START_TEST(a_device_without_session_objects_takes_token_objects_only)
{
    CK_ATTRIBUTE ses[] = {A(CKA_CLASS, c_data)};
    CK_ATTRIBUTE tok[] = {A(CKA_CLASS, c_data), A(CKA_TOKEN, yes)};
    world_with("[device m]\nbackend = mock\nno_session_objects = yes\n");
    ck_assert_rv(try_create(w.h, ses, ARRAY_SIZE(ses)), CKR_TEMPLATE_INCONSISTENT);
    expect_origin(ORIGIN_CORE, "session objects");
    ck_assert_uint_eq(mock_calls("obj_create"), 0);
    create(w.h, tok, ARRAY_SIZE(tok));
}
END_TEST

START_TEST(a_unique_label_is_refused_a_second_time)
{
    CK_OBJECT_HANDLE a = 0, b = 0;
    CK_ATTRIBUTE t[] = {A(CKA_CLASS, c_data), AS(CKA_LABEL, "sdo-1"), A(CKA_TOKEN, yes)};
    CK_ATTRIBUTE u[] = {A(CKA_CLASS, c_data), AS(CKA_LABEL, "sdo-2"), A(CKA_TOKEN, yes)};
    world();
    ck_assert_rv(core_create_object(w.c, w.h, t, 3, OBJ_UNIQUE_LABEL, &a), CKR_OK);
    ck_assert_rv(core_create_object(w.c, w.h, t, 3, OBJ_UNIQUE_LABEL, &b), CKR_SEA_EXISTS);
    ck_assert_rv(core_create_object(w.c, w.h, u, 3, OBJ_UNIQUE_LABEL, &b), CKR_OK);
    ck_assert_uint_ne(a, b);
    /* without the flag a label may repeat */
    ck_assert_rv(core_create_object(w.c, w.h, t, 3, 0, &b), CKR_OK);
}
END_TEST

/* ======================================================================================== */
/* Operations                                                                                */
/* ======================================================================================== */

START_TEST(a_mechanism_the_device_does_not_offer_is_invalid)
{
    CK_MECHANISM rsa = {CKM_RSA_PKCS, NULL, 0};
    uint8_t iv[12] = {0};
    CK_GCM_PARAMS gp = {iv, sizeof(iv), sizeof(iv) * 8, NULL, 0, 128};
    CK_MECHANISM gcm = {CKM_AES_GCM, &gp, sizeof(gp)};
    CK_ATTRIBUTE len[] = {A(CKA_VALUE_LEN, len16)};
    CK_OBJECT_HANDLE k;
    world_with("[device m]\nbackend = mock\nonly_raw_ecdsa = yes\n");
    login_user(w.h);
    CK_OBJECT_HANDLE aes = secret(w.h, CKK_AES, key16, 16, NULL, 0);
    err_clear();
    ck_assert_rv(core_op_init(w.c, w.h, OP_ENCRYPT, &gcm, aes), CKR_MECHANISM_INVALID);
    expect_origin(ORIGIN_CORE, NULL);
    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, &rsa, aes), CKR_MECHANISM_INVALID);
    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, &m_sha256, aes), CKR_MECHANISM_INVALID);
    ck_assert_rv(core_generate_key(w.c, w.h, &m_aes_gen, len, 1, &k), CKR_MECHANISM_INVALID);
    ck_assert_uint_eq(mock_calls("op_init"), 0);
    ck_assert_uint_eq(mock_calls("generate"), 0);
}
END_TEST

START_TEST(a_key_must_suit_the_mechanism_and_allow_the_operation)
{
    CK_OBJECT_HANDLE pub, priv;
    CK_ATTRIBUTE no_sign[] = {A(CKA_SIGN, no)};
    world();
    login_user(w.h);
    CK_OBJECT_HANDLE hmac = hmac_key(w.h);
    CK_OBJECT_HANDLE aes = secret(w.h, CKK_AES, key16, 16, NULL, 0);
    CK_OBJECT_HANDLE nosign = secret(w.h, CKK_GENERIC_SECRET, key32, 32, no_sign, 1);
    ec_pair(w.h, NULL, 0, &pub, &priv);
    err_clear();
    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, &m_ecdsa, hmac), CKR_KEY_TYPE_INCONSISTENT);
    expect_origin(ORIGIN_CORE, NULL);
    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, &m_hmac, aes), CKR_KEY_TYPE_INCONSISTENT);
    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, &m_ecdsa, pub), CKR_KEY_TYPE_INCONSISTENT);
    ck_assert_rv(core_op_init(w.c, w.h, OP_VERIFY, &m_ecdsa, priv), CKR_KEY_TYPE_INCONSISTENT);
    err_clear();
    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, &m_hmac, nosign), CKR_KEY_FUNCTION_NOT_PERMITTED);
    expect_origin(ORIGIN_CORE, NULL);
    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, &m_hmac, 0xDEAD), CKR_KEY_HANDLE_INVALID);
    ck_assert_uint_eq(mock_calls("op_init"), 0);
    /* the same keys where they fit */
    ck_assert_rv(core_op_init(w.c, w.h, OP_VERIFY, &m_hmac, nosign), CKR_OK);
    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, &m_ecdsa, priv), CKR_OK);
}
END_TEST

START_TEST(allowed_mechanisms_restrict_what_a_key_does)
{
    CK_MECHANISM_TYPE gcm_only[] = {CKM_AES_GCM};
    CK_MECHANISM_TYPE hmac_only[] = {CKM_SHA256_HMAC};
    CK_ATTRIBUTE a1[] = {AB(CKA_ALLOWED_MECHANISMS, gcm_only, sizeof(gcm_only))};
    CK_ATTRIBUTE a2[] = {AB(CKA_ALLOWED_MECHANISMS, hmac_only, sizeof(hmac_only))};
    world();
    login_user(w.h);
    CK_OBJECT_HANDLE k1 = secret(w.h, CKK_GENERIC_SECRET, key32, 32, a1, 1);
    CK_OBJECT_HANDLE k2 = secret(w.h, CKK_GENERIC_SECRET, key32, 32, a2, 1);
    err_clear();
    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, &m_hmac, k1), CKR_MECHANISM_INVALID);
    expect_origin(ORIGIN_CORE, "ALLOWED_MECHANISMS");
    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, &m_hmac, k2), CKR_OK);
}
END_TEST

START_TEST(a_parameter_on_a_parameterless_mechanism_is_refused)
{
    CK_ULONG param = 1;
    CK_MECHANISM with_param = {CKM_SHA256_HMAC, &param, sizeof(param)};
    CK_MECHANISM null_param = {CKM_SHA256_HMAC, NULL, 4};
    CK_MECHANISM digest_param = {CKM_SHA256, &param, sizeof(param)};
    world();
    login_user(w.h);
    CK_OBJECT_HANDLE k = hmac_key(w.h);
    err_clear();
    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, &with_param, k), CKR_MECHANISM_PARAM_INVALID);
    expect_origin(ORIGIN_API, NULL);
    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, &null_param, k), CKR_MECHANISM_PARAM_INVALID);
    ck_assert_rv(core_op_init(w.c, w.h, OP_DIGEST, &digest_param, 0), CKR_MECHANISM_PARAM_INVALID);
    ck_assert_uint_eq(mock_calls("op_init"), 0);
}
END_TEST

START_TEST(size_queries_and_short_buffers_keep_the_operation_running)
{
    uint8_t sig[64], again[64];
    CK_ULONG n = 0;
    world();
    login_user(w.h);
    CK_OBJECT_HANDLE k = hmac_key(w.h);
    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, &m_hmac, k), CKR_OK);
    ck_assert_rv(core_op_single(w.c, w.h, OP_SIGN, (const uint8_t *)"abc", 3, NULL, &n), CKR_OK);
    ck_assert_uint_eq(n, 32);
    n = 10;
    err_clear();
    ck_assert_rv(core_op_single(w.c, w.h, OP_SIGN, (const uint8_t *)"abc", 3, sig, &n),
                 CKR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(n, 32);
    n = sizeof(sig);
    ck_assert_rv(core_op_single(w.c, w.h, OP_SIGN, (const uint8_t *)"abc", 3, sig, &n), CKR_OK);
    ck_assert_uint_eq(n, 32);
    /* a completed operation is over */
    err_clear();
    ck_assert_rv(core_op_single(w.c, w.h, OP_SIGN, (const uint8_t *)"abc", 3, sig, &n),
                 CKR_OPERATION_NOT_INITIALIZED);
    expect_origin(ORIGIN_CORE, NULL);
    /* and the queries did not disturb the result */
    ck_assert_uint_eq(sign(w.h, &m_hmac, k, "abc", 3, again, sizeof(again)), 32);
    ck_assert_mem_eq(sig, again, 32);
    /* the same for the multi-part Final */
    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, &m_hmac, k), CKR_OK);
    ck_assert_rv(core_op_update(w.c, w.h, OP_SIGN, (const uint8_t *)"abc", 3, NULL, NULL), CKR_OK);
    n = 0;
    ck_assert_rv(core_op_final(w.c, w.h, OP_SIGN, NULL, &n), CKR_OK);
    ck_assert_uint_eq(n, 32);
    n = 31;
    ck_assert_rv(core_op_final(w.c, w.h, OP_SIGN, again, &n), CKR_BUFFER_TOO_SMALL);
    n = sizeof(again);
    ck_assert_rv(core_op_final(w.c, w.h, OP_SIGN, again, &n), CKR_OK);
    ck_assert_mem_eq(sig, again, 32);
    ck_assert_rv(core_op_final(w.c, w.h, OP_SIGN, again, &n), CKR_OPERATION_NOT_INITIALIZED);
}
END_TEST

START_TEST(init_twice_is_refused_and_a_null_mechanism_ends_the_operation)
{
    uint8_t sig[32];
    CK_ULONG n = sizeof(sig);
    world();
    login_user(w.h);
    CK_OBJECT_HANDLE k = hmac_key(w.h);
    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, &m_hmac, k), CKR_OK);
    err_clear();
    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, &m_hmac, k), CKR_OPERATION_ACTIVE);
    expect_origin(ORIGIN_CORE, NULL);
    /* another kind of operation may run beside it */
    ck_assert_rv(core_op_init(w.c, w.h, OP_VERIFY, &m_hmac, k), CKR_OK);
    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, NULL, 0), CKR_OK);
    ck_assert_rv(core_op_single(w.c, w.h, OP_SIGN, (const uint8_t *)"x", 1, sig, &n),
                 CKR_OPERATION_NOT_INITIALIZED);
    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, &m_hmac, k), CKR_OK);
    ck_assert_rv(core_op_single(w.c, w.h, OP_SIGN, (const uint8_t *)"x", 1, sig, &n), CKR_OK);
    /* C_SessionCancel ends it too */
    ck_assert_rv(core_session_cancel(w.c, w.h, CKF_VERIFY), CKR_OK);
    ck_assert_rv(core_verify(w.c, w.h, (const uint8_t *)"x", 1, sig, n),
                 CKR_OPERATION_NOT_INITIALIZED);
}
END_TEST

START_TEST(single_part_after_update_is_refused)
{
    uint8_t sig[32];
    CK_ULONG n = sizeof(sig);
    world();
    login_user(w.h);
    CK_OBJECT_HANDLE k = hmac_key(w.h);
    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, &m_hmac, k), CKR_OK);
    ck_assert_rv(core_op_update(w.c, w.h, OP_SIGN, (const uint8_t *)"ab", 2, NULL, NULL), CKR_OK);
    ck_assert_rv(core_op_single(w.c, w.h, OP_SIGN, (const uint8_t *)"c", 1, sig, &n),
                 CKR_OPERATION_ACTIVE);
    /* like any error but a short buffer, that ended the operation (PKCS#11 3.0 C_Sign) */
    ck_assert_rv(core_op_update(w.c, w.h, OP_SIGN, (const uint8_t *)"c", 1, NULL, NULL),
                 CKR_OPERATION_NOT_INITIALIZED);
    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, &m_hmac, k), CKR_OK);
    ck_assert_rv(core_op_update(w.c, w.h, OP_SIGN, (const uint8_t *)"ab", 2, NULL, NULL), CKR_OK);
    ck_assert_rv(core_op_update(w.c, w.h, OP_SIGN, (const uint8_t *)"c", 1, NULL, NULL), CKR_OK);
    ck_assert_rv(core_op_final(w.c, w.h, OP_SIGN, sig, &n), CKR_OK);
    ck_assert_rv(core_op_init(w.c, w.h, OP_VERIFY, &m_hmac, k), CKR_OK);
    ck_assert_rv(core_verify(w.c, w.h, (const uint8_t *)"abc", 3, sig, n), CKR_OK);
}
END_TEST

START_TEST(update_on_raw_ecdsa_fails_and_ends_the_operation)
{
    CK_OBJECT_HANDLE pub, priv;
    uint8_t digest[32] = {1}, sig[64];
    CK_ULONG n = sizeof(sig);
    world();
    login_user(w.h);
    ec_pair(w.h, NULL, 0, &pub, &priv);
    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, &m_ecdsa, priv), CKR_OK);
    err_clear();
    ck_assert_rv(core_op_update(w.c, w.h, OP_SIGN, digest, 32, NULL, NULL),
                 CKR_FUNCTION_NOT_SUPPORTED);
    expect_origin(ORIGIN_CORE, NULL);
    ck_assert_rv(core_op_single(w.c, w.h, OP_SIGN, digest, 32, sig, &n),
                 CKR_OPERATION_NOT_INITIALIZED);
    /* raw ECDSA in one part works, and verifies */
    ck_assert_uint_eq(sign(w.h, &m_ecdsa, priv, digest, 32, sig, sizeof(sig)), 64);
    ck_assert_rv(core_op_init(w.c, w.h, OP_VERIFY, &m_ecdsa, pub), CKR_OK);
    ck_assert_rv(core_verify(w.c, w.h, digest, 32, sig, 64), CKR_OK);
}
END_TEST

/* An EC P-256 public key in OpenSSL's default context, from CKA_EC_POINT (DER OCTET STRING
 * around an uncompressed point). */
static EVP_PKEY *openssl_pub(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE pub)
{
    uint8_t point[80];
    CK_ATTRIBUTE q[] = {AB(CKA_EC_POINT, point, sizeof(point))};
    EVP_PKEY *pkey = NULL;
    ck_assert_rv(core_get_attrs(w.c, h, pub, q, 1), CKR_OK);
    ck_assert_uint_eq(q[0].ulValueLen, 67);
    ck_assert_uint_eq(point[0], 0x04);
    ck_assert_uint_eq(point[1], 65);
    ck_assert_uint_eq(point[2], 0x04);
    static char group[] = "prime256v1";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point + 2, 65), OSSL_PARAM_END};
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    ck_assert_ptr_nonnull(pc);
    ck_assert_int_eq(EVP_PKEY_fromdata_init(pc), 1);
    ck_assert_int_eq(EVP_PKEY_fromdata(pc, &pkey, EVP_PKEY_PUBLIC_KEY, params), 1);
    EVP_PKEY_CTX_free(pc);
    return pkey;
}

/* Does OpenSSL accept raw r||s as an ECDSA-SHA256 signature of msg? */
static bool openssl_verifies(EVP_PKEY *pkey, const uint8_t *rs, size_t len, const void *msg,
                             size_t msglen)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs, (int)(len / 2), NULL),
           *s = BN_bin2bn(rs + len / 2, (int)(len / 2), NULL);
    unsigned char *der = NULL;
    ck_assert(sig && r && s && ECDSA_SIG_set0(sig, r, s));
    int der_len = i2d_ECDSA_SIG(sig, &der);
    ck_assert_int_gt(der_len, 0);
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    ck_assert_int_eq(EVP_DigestVerifyInit_ex(mc, NULL, "SHA256", NULL, NULL, pkey, NULL), 1);
    int ok = EVP_DigestVerify(mc, der, (size_t)der_len, msg, msglen);
    EVP_MD_CTX_free(mc);
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    return ok == 1;
}

START_TEST(ecdsa_sha256_is_composed_on_a_raw_ecdsa_device_and_verifies_in_openssl)
{
    CK_MECHANISM_TYPE list[32];
    CK_ULONG n = ARRAY_SIZE(list);
    CK_OBJECT_HANDLE pub, priv;
    uint8_t sig[64], sig2[64];
    static const char msg[] = "the quick brown fox";
    world_with("[device m]\nbackend = mock\nonly_raw_ecdsa = yes\n");
    ck_assert_rv(core_mech_list(w.c, w.slot, list, &n), CKR_OK);
    bool has_composed = false;
    for (CK_ULONG i = 0; i < n; i++)
        has_composed = has_composed || list[i] == CKM_ECDSA_SHA256;
    ck_assert(has_composed);
    login_user(w.h);
    ec_pair(w.h, NULL, 0, &pub, &priv);
    EVP_PKEY *pkey = openssl_pub(w.h, pub);

    ck_assert_uint_eq(sign(w.h, &m_ecdsa_sha256, priv, msg, strlen(msg), sig, sizeof(sig)), 64);
    ck_assert(openssl_verifies(pkey, sig, 64, msg, strlen(msg)));
    ck_assert(!openssl_verifies(pkey, sig, 64, msg, strlen(msg) - 1));

    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, &m_ecdsa_sha256, priv), CKR_OK);
    ck_assert_rv(core_op_update(w.c, w.h, OP_SIGN, (const uint8_t *)msg, 4, NULL, NULL), CKR_OK);
    ck_assert_rv(
        core_op_update(w.c, w.h, OP_SIGN, (const uint8_t *)msg + 4, strlen(msg) - 4, NULL, NULL),
        CKR_OK);
    n = sizeof(sig2);
    ck_assert_rv(core_op_final(w.c, w.h, OP_SIGN, sig2, &n), CKR_OK);
    ck_assert_uint_eq(n, 64);
    ck_assert(openssl_verifies(pkey, sig2, 64, msg, strlen(msg)));

    /* the core's own verification, single- and multi-part */
    ck_assert_rv(core_op_init(w.c, w.h, OP_VERIFY, &m_ecdsa_sha256, pub), CKR_OK);
    ck_assert_rv(core_verify(w.c, w.h, (const uint8_t *)msg, strlen(msg), sig2, 64), CKR_OK);
    ck_assert_rv(core_op_init(w.c, w.h, OP_VERIFY, &m_ecdsa_sha256, pub), CKR_OK);
    ck_assert_rv(core_op_update(w.c, w.h, OP_VERIFY, (const uint8_t *)msg, strlen(msg), NULL, NULL),
                 CKR_OK);
    ck_assert_rv(core_verify_final(w.c, w.h, sig, 64), CKR_OK);
    sig[10] ^= 1;
    ck_assert_rv(core_op_init(w.c, w.h, OP_VERIFY, &m_ecdsa_sha256, pub), CKR_OK);
    err_clear();
    ck_assert_rv(core_verify(w.c, w.h, (const uint8_t *)msg, strlen(msg), sig, 64),
                 CKR_SIGNATURE_INVALID);
    EVP_PKEY_free(pkey);
}
END_TEST

static CK_ULONG gcm(CK_SESSION_HANDLE h, enum sea_op op, CK_OBJECT_HANDLE k, const uint8_t *in,
                    size_t len, uint8_t *out, CK_ULONG cap, CK_RV want)
{
    static uint8_t iv[12] = "twelve bytes";
    static uint8_t aad[] = "header";
    CK_GCM_PARAMS gp = {iv, sizeof(iv), sizeof(iv) * 8, aad, sizeof(aad) - 1, 128};
    CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
    CK_ULONG n = cap;
    ck_assert_rv(core_op_init(w.c, h, op, &m, k), CKR_OK);
    ck_assert_rv(core_op_single(w.c, h, op, in, len, out, &n), want);
    return n;
}

START_TEST(aes_gcm_single_part_equals_multi_part_and_openssl)
{
    static const char pt[] = "forty-two bytes of plaintext, more or less";
    static uint8_t iv[12] = "twelve bytes";
    static uint8_t aad[] = "header";
    uint8_t ct1[64], ct2[64], ref[64], back[64];
    CK_GCM_PARAMS gp = {iv, sizeof(iv), sizeof(iv) * 8, aad, sizeof(aad) - 1, 128};
    CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
    size_t len = strlen(pt);
    world();
    login_user(w.h);
    CK_OBJECT_HANDLE k = secret(w.h, CKK_AES, key16, 16, NULL, 0);
    CK_ULONG n1 = gcm(w.h, OP_ENCRYPT, k, (const uint8_t *)pt, len, ct1, sizeof(ct1), CKR_OK);
    ck_assert_uint_eq(n1, len + 16);

    CK_ULONG a = sizeof(ct2), b;
    ck_assert_rv(core_op_init(w.c, w.h, OP_ENCRYPT, &m, k), CKR_OK);
    ck_assert_rv(core_op_update(w.c, w.h, OP_ENCRYPT, (const uint8_t *)pt, 10, ct2, &a), CKR_OK);
    b = sizeof(ct2) - a;
    CK_ULONG c2 = b;
    ck_assert_rv(
        core_op_update(w.c, w.h, OP_ENCRYPT, (const uint8_t *)pt + 10, len - 10, ct2 + a, &c2),
        CKR_OK);
    CK_ULONG d = sizeof(ct2) - a - c2;
    ck_assert_rv(core_op_final(w.c, w.h, OP_ENCRYPT, ct2 + a + c2, &d), CKR_OK);
    ck_assert_uint_eq(a + c2 + d, n1);
    ck_assert_mem_eq(ct1, ct2, n1);

    /* OpenSSL's default context agrees */
    int got = 0, fin = 0;
    EVP_CIPHER_CTX *cc = EVP_CIPHER_CTX_new();
    ck_assert_int_eq(EVP_EncryptInit_ex(cc, EVP_aes_128_gcm(), NULL, key16, iv), 1);
    ck_assert_int_eq(EVP_EncryptUpdate(cc, NULL, &got, aad, (int)sizeof(aad) - 1), 1);
    ck_assert_int_eq(EVP_EncryptUpdate(cc, ref, &got, (const uint8_t *)pt, (int)len), 1);
    ck_assert_int_eq(EVP_EncryptFinal_ex(cc, ref + got, &fin), 1);
    ck_assert_int_eq(EVP_CIPHER_CTX_ctrl(cc, EVP_CTRL_GCM_GET_TAG, 16, ref + len), 1);
    EVP_CIPHER_CTX_free(cc);
    ck_assert_mem_eq(ct1, ref, n1);

    CK_ULONG n2 = gcm(w.h, OP_DECRYPT, k, ct1, n1, back, sizeof(back), CKR_OK);
    ck_assert_uint_eq(n2, len);
    ck_assert_mem_eq(back, pt, len);
}
END_TEST

START_TEST(aes_gcm_with_a_tampered_tag_is_encrypted_data_invalid)
{
    static const char pt[] = "attack at dawn";
    uint8_t ct[64], back[64];
    CK_ULONG n = 0;
    world();
    login_user(w.h);
    CK_OBJECT_HANDLE k = secret(w.h, CKK_AES, key16, 16, NULL, 0);
    CK_ULONG len = gcm(w.h, OP_ENCRYPT, k, (const uint8_t *)pt, strlen(pt), ct, sizeof(ct), CKR_OK);
    ct[len - 1] ^= 0x80;
    gcm(w.h, OP_DECRYPT, k, ct, len, back, sizeof(back), CKR_ENCRYPTED_DATA_INVALID);
    ck_assert_rv(core_op_single(w.c, w.h, OP_DECRYPT, ct, len, back, &n),
                 CKR_OPERATION_NOT_INITIALIZED);
    ct[len - 1] ^= 0x80;
    ck_assert_uint_eq(gcm(w.h, OP_DECRYPT, k, ct, len, back, sizeof(back), CKR_OK), strlen(pt));
}
END_TEST

START_TEST(hmac_signs_like_openssl_and_refuses_a_wrong_mac)
{
    uint8_t mac[32], ref[32];
    size_t ref_len = 0;
    static const char msg[] = "what do ya want for nothing?";
    world();
    login_user(w.h);
    CK_OBJECT_HANDLE k = hmac_key(w.h);
    ck_assert_uint_eq(sign(w.h, &m_hmac, k, msg, strlen(msg), mac, sizeof(mac)), 32);
    ck_assert_ptr_nonnull(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key32, sizeof(key32),
                                    (const uint8_t *)msg, strlen(msg), ref, sizeof(ref), &ref_len));
    ck_assert_uint_eq(ref_len, 32);
    ck_assert_mem_eq(mac, ref, 32);
    ck_assert_rv(core_op_init(w.c, w.h, OP_VERIFY, &m_hmac, k), CKR_OK);
    ck_assert_rv(core_verify(w.c, w.h, (const uint8_t *)msg, strlen(msg), mac, 32), CKR_OK);
    mac[0] ^= 1;
    ck_assert_rv(core_op_init(w.c, w.h, OP_VERIFY, &m_hmac, k), CKR_OK);
    err_clear();
    ck_assert_rv(core_verify(w.c, w.h, (const uint8_t *)msg, strlen(msg), mac, 32),
                 CKR_SIGNATURE_INVALID);
    ck_assert_rv(core_verify(w.c, w.h, (const uint8_t *)msg, strlen(msg), mac, 32),
                 CKR_OPERATION_NOT_INITIALIZED);
    ck_assert_rv(core_op_init(w.c, w.h, OP_VERIFY, &m_hmac, k), CKR_OK);
    ck_assert_rv(core_verify(w.c, w.h, (const uint8_t *)msg, strlen(msg), mac, 31),
                 CKR_SIGNATURE_LEN_RANGE);
}
END_TEST

START_TEST(digests_match_the_fips_180_answers)
{
    static const struct {
        CK_MECHANISM_TYPE m;
        const char *abc;
    } kat[] = {
        {CKM_SHA_1, "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {CKM_SHA224, "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"},
        {CKM_SHA256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {CKM_SHA384, "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7"
                     "cc2358baeca134c825a7"},
        {CKM_SHA512, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274f"
                     "c1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
    };
    uint8_t want[64], got[64];
    world(); /* digests need no login */
    for (size_t i = 0; i < ARRAY_SIZE(kat); i++) {
        CK_MECHANISM m = {kat[i].m, NULL, 0};
        size_t wl = unhex(kat[i].abc, want, sizeof(want));
        CK_ULONG n = 0;
        ck_assert_rv(core_op_init(w.c, w.h, OP_DIGEST, &m, 0), CKR_OK);
        ck_assert_rv(core_op_single(w.c, w.h, OP_DIGEST, (const uint8_t *)"abc", 3, NULL, &n),
                     CKR_OK);
        ck_assert_uint_eq(n, wl);
        ck_assert_rv(core_op_single(w.c, w.h, OP_DIGEST, (const uint8_t *)"abc", 3, got, &n),
                     CKR_OK);
        ck_assert_mem_eq(got, want, wl);
        /* in parts */
        ck_assert_rv(core_op_init(w.c, w.h, OP_DIGEST, &m, 0), CKR_OK);
        ck_assert_rv(core_op_update(w.c, w.h, OP_DIGEST, (const uint8_t *)"a", 1, NULL, NULL),
                     CKR_OK);
        ck_assert_rv(core_op_update(w.c, w.h, OP_DIGEST, (const uint8_t *)"bc", 2, NULL, NULL),
                     CKR_OK);
        n = sizeof(got);
        memset(got, 0, sizeof(got));
        ck_assert_rv(core_op_final(w.c, w.h, OP_DIGEST, got, &n), CKR_OK);
        ck_assert_uint_eq(n, wl);
        ck_assert_mem_eq(got, want, wl);
    }
    size_t wl = unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want,
                      sizeof(want));
    CK_ULONG n = sizeof(got);
    ck_assert_rv(core_op_init(w.c, w.h, OP_DIGEST, &m_sha256, 0), CKR_OK);
    ck_assert_rv(core_op_single(w.c, w.h, OP_DIGEST, NULL, 0, got, &n), CKR_OK);
    ck_assert_mem_eq(got, want, wl);
    ck_assert_uint_eq(mock_calls("op_init"), 0); /* the core digests by itself */
}
END_TEST

START_TEST(an_always_authenticate_key_needs_a_context_login_for_each_use)
{
    CK_OBJECT_HANDLE pub, priv;
    CK_ATTRIBUTE aa[] = {A(CKA_ALWAYS_AUTHENTICATE, yes)};
    uint8_t digest[32] = {7}, sig[64];
    CK_ULONG n = sizeof(sig);
    world();
    login_user(w.h);
    ec_pair(w.h, aa, 1, &pub, &priv);
    ck_assert_rv(core_login(w.c, w.h, CKU_CONTEXT_SPECIFIC, PIN(USER_PIN)),
                 CKR_OPERATION_NOT_INITIALIZED);
    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, &m_ecdsa, priv), CKR_OK);
    err_clear();
    ck_assert_rv(core_op_single(w.c, w.h, OP_SIGN, digest, 32, sig, &n), CKR_USER_NOT_LOGGED_IN);
    expect_origin(ORIGIN_CORE, NULL);
    /* the error ended the operation: nothing is left to authenticate for */
    ck_assert_rv(core_login(w.c, w.h, CKU_CONTEXT_SPECIFIC, PIN(USER_PIN)),
                 CKR_OPERATION_NOT_INITIALIZED);
    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, &m_ecdsa, priv), CKR_OK);
    ck_assert_rv(core_login(w.c, w.h, CKU_CONTEXT_SPECIFIC, PIN("0000")), CKR_PIN_INCORRECT);
    ck_assert_uint_ne(token_flags(w.c, w.slot) & CKF_USER_PIN_COUNT_LOW, 0);
    ck_assert_rv(core_op_single(w.c, w.h, OP_SIGN, digest, 32, sig, &n), CKR_USER_NOT_LOGGED_IN);
    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, &m_ecdsa, priv), CKR_OK);
    ck_assert_rv(core_login(w.c, w.h, CKU_CONTEXT_SPECIFIC, PIN(USER_PIN)), CKR_OK);
    ck_assert_uint_eq(token_flags(w.c, w.slot) & CKF_USER_PIN_COUNT_LOW, 0);
    ck_assert_rv(core_op_single(w.c, w.h, OP_SIGN, digest, 32, sig, &n), CKR_OK);
    ck_assert_rv(core_op_init(w.c, w.h, OP_VERIFY, &m_ecdsa, pub), CKR_OK);
    ck_assert_rv(core_verify(w.c, w.h, digest, 32, sig, n), CKR_OK);
    /* the next use asks again */
    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, &m_ecdsa, priv), CKR_OK);
    ck_assert_rv(core_op_single(w.c, w.h, OP_SIGN, digest, 32, sig, &n), CKR_USER_NOT_LOGGED_IN);
}
END_TEST

START_TEST(device_failures_surface_with_the_device_origin)
{
    CK_OBJECT_HANDLE o, pub, priv;
    CK_ATTRIBUTE data[] = {A(CKA_CLASS, c_data)};
    CK_ATTRIBUTE pt[] = {AB(CKA_EC_PARAMS, p256, sizeof(p256))};
    uint8_t sig[32];
    CK_ULONG n = sizeof(sig);
    world();
    login_user(w.h);
    CK_OBJECT_HANDLE k = hmac_key(w.h);

    mock_fail_next("op_init", CKR_DEVICE_ERROR);
    err_clear();
    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, &m_hmac, k), CKR_DEVICE_ERROR);
    expect_origin(ORIGIN_DEVICE, "mock: injected failure of op_init");
    ck_assert_rv(core_op_single(w.c, w.h, OP_SIGN, (const uint8_t *)"x", 1, sig, &n),
                 CKR_OPERATION_NOT_INITIALIZED);

    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, &m_hmac, k), CKR_OK);
    mock_fail_next("op_final", CKR_DEVICE_ERROR);
    err_clear();
    ck_assert_rv(core_op_single(w.c, w.h, OP_SIGN, (const uint8_t *)"x", 1, sig, &n),
                 CKR_DEVICE_ERROR);
    expect_origin(ORIGIN_DEVICE, "mock: injected failure of op_final");
    ck_assert_rv(core_op_single(w.c, w.h, OP_SIGN, (const uint8_t *)"x", 1, sig, &n),
                 CKR_OPERATION_NOT_INITIALIZED);

    mock_fail_next("obj_create", CKR_DEVICE_MEMORY);
    err_clear();
    ck_assert_rv(core_create_object(w.c, w.h, data, 1, 0, &o), CKR_DEVICE_MEMORY);
    expect_origin(ORIGIN_DEVICE, "mock: injected failure of obj_create");

    mock_fail_next("generate", CKR_DEVICE_ERROR);
    err_clear();
    ck_assert_rv(core_generate_key_pair(w.c, w.h, &m_ec_gen, pt, 1, NULL, 0, &pub, &priv),
                 CKR_DEVICE_ERROR);
    expect_origin(ORIGIN_DEVICE, "mock: injected failure of generate");

    ck_assert_rv(core_logout(w.c, w.h), CKR_OK);
    mock_fail_next("login", CKR_DEVICE_ERROR);
    err_clear();
    ck_assert_rv(core_login(w.c, w.h, CKU_USER, PIN(USER_PIN)), CKR_DEVICE_ERROR);
    expect_origin(ORIGIN_DEVICE, "mock: injected failure of login");
    ck_assert_int_eq(session_state(w.c, w.h), CKS_RW_PUBLIC_SESSION);

    /* a device that cannot list its SEs for a moment keeps them listed */
    unsigned lists = mock_calls("se_list");
    mock_fail_next("se_list", CKR_DEVICE_ERROR);
    ck_assert(slot_listed(w.c, true, w.slot));
    ck_assert_uint_gt(mock_calls("se_list"), lists);

    /* the core's own refusals name the core */
    err_clear();
    ck_assert_rv(core_op_single(w.c, w.h, OP_SIGN, (const uint8_t *)"x", 1, sig, &n),
                 CKR_OPERATION_NOT_INITIALIZED);
    expect_origin(ORIGIN_CORE, NULL);
}
END_TEST

START_TEST(random_comes_from_the_device_and_a_seed_is_accepted)
{
    uint8_t a[32] = {0}, b[32] = {0};
    world();
    ck_assert_rv(core_random(w.c, w.h, a, sizeof(a)), CKR_OK);
    ck_assert_rv(core_random(w.c, w.h, b, sizeof(b)), CKR_OK);
    ck_assert_mem_ne(a, b, sizeof(a));
    ck_assert_uint_eq(mock_calls("random"), 2);
    mock_fail_next("random", CKR_DEVICE_ERROR);
    ck_assert_rv(core_random(w.c, w.h, a, sizeof(a)), CKR_DEVICE_ERROR);
    /* a seed is mixed into libsea's generator (not the device's): accepted */
    ck_assert_rv(core_seed(w.c, w.h, a, sizeof(a)), CKR_OK);
}
END_TEST

/* ======================================================================================== */
/* The mechanism table                                                                       */
/* ======================================================================================== */

static bool listed(const CK_MECHANISM_TYPE *v, CK_ULONG n, CK_MECHANISM_TYPE t)
{
    for (CK_ULONG i = 0; i < n; i++)
        if (v[i] == t)
            return true;
    return false;
}

#define EC_CAPS (CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS)
#define MSG_FLAGS (CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT | CKF_MULTI_MESSAGE)

START_TEST(the_mechanism_list_follows_the_device_capabilities)
{
    static const CK_MECHANISM_TYPE expected[] = {
        CKM_SHA_1,        CKM_SHA224,          CKM_SHA256,       CKM_SHA384,
        CKM_SHA512,       CKM_EC_KEY_PAIR_GEN, CKM_AES_KEY_GEN,  CKM_GENERIC_SECRET_KEY_GEN,
        CKM_ECDSA,        CKM_ECDSA_SHA1,      CKM_ECDSA_SHA224, CKM_ECDSA_SHA256,
        CKM_ECDSA_SHA384, CKM_ECDSA_SHA512,    CKM_AES_GCM,      CKM_SHA256_HMAC,
        CKM_AES_ECB,      CKM_AES_CBC,         CKM_AES_CBC_PAD,  CKM_AES_CTR,
        CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_PAD, CKM_AES_KEY_WRAP_KWP, CKM_AES_CMAC,
        CKM_AES_CMAC_GENERAL, CKM_SHA_1_HMAC, CKM_SHA_1_HMAC_GENERAL, CKM_SHA224_HMAC,
        CKM_SHA224_HMAC_GENERAL, CKM_SHA256_HMAC_GENERAL, CKM_SHA384_HMAC,
        CKM_SHA384_HMAC_GENERAL, CKM_SHA512_HMAC, CKM_SHA512_HMAC_GENERAL,
        /* RSA and Ed25519: the device's rows and the hashed variants composed on them */
        CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_RSA_PKCS, CKM_RSA_PKCS_PSS, CKM_RSA_PKCS_OAEP,
        CKM_SHA1_RSA_PKCS, CKM_SHA224_RSA_PKCS, CKM_SHA256_RSA_PKCS, CKM_SHA384_RSA_PKCS,
        CKM_SHA512_RSA_PKCS, CKM_SHA1_RSA_PKCS_PSS, CKM_SHA224_RSA_PKCS_PSS,
        CKM_SHA256_RSA_PKCS_PSS, CKM_SHA384_RSA_PKCS_PSS, CKM_SHA512_RSA_PKCS_PSS,
        CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA, CKM_RSA_X_509,
    };
    CK_MECHANISM_TYPE v[64];
    CK_MECHANISM_INFO mi;
    CK_ULONG n = 0;
    w.c = open_core(CONF_ONE);
    CK_SLOT_ID slot = free_slot(w.c); /* a free slot has the device's mechanisms too */
    ck_assert_rv(core_mech_list(w.c, slot, NULL, &n), CKR_OK);
    ck_assert_uint_eq(n, ARRAY_SIZE(expected));
    n = 3;
    ck_assert_rv(core_mech_list(w.c, slot, v, &n), CKR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(n, ARRAY_SIZE(expected));
    ck_assert_rv(core_mech_list(w.c, slot, v, &n), CKR_OK);
    for (size_t i = 0; i < ARRAY_SIZE(expected); i++)
        ck_assert_msg(listed(v, n, expected[i]), "mechanism 0x%lx missing", expected[i]);

    /* the device's rows give sizes and flags, less wrapping and derivation: the mock backend
     * has no wrap, unwrap or derive op, so nothing of them is offered */
    for (size_t i = 0; i < crypto_nmechs; i++) {
        const CK_FLAGS key_ops = CKF_WRAP | CKF_UNWRAP | CKF_DERIVE;
        if (!(crypto_mechs[i].flags & ~key_ops & ~EC_CAPS)) {
            ck_assert_rv(core_mech_info(w.c, slot, crypto_mechs[i].type, &mi),
                         CKR_MECHANISM_INVALID);
            continue;
        }
        ck_assert_rv(core_mech_info(w.c, slot, crypto_mechs[i].type, &mi), CKR_OK);
        ck_assert_uint_eq(mi.ulMinKeySize, crypto_mechs[i].min_key);
        ck_assert_uint_eq(mi.ulMaxKeySize, crypto_mechs[i].max_key);
        /* the core adds the message-based flags of the mechanisms it offers that way and
         * masks the key operations the mock device lacks */
        ck_assert_uint_eq(mi.flags & ~MSG_FLAGS, crypto_mechs[i].flags & ~key_ops);
    }
    ck_assert_rv(core_mech_info(w.c, slot, CKM_ECDSA, &mi), CKR_OK);
    ck_assert_uint_eq(mi.flags, CKF_SIGN | CKF_VERIFY | EC_CAPS);
    ck_assert_uint_eq(mi.ulMinKeySize, 256);
    ck_assert_uint_eq(mi.ulMaxKeySize, 521);
    ck_assert_rv(core_mech_info(w.c, slot, CKM_ECDSA_SHA256, &mi), CKR_OK);
    ck_assert_uint_eq(mi.flags, CKF_SIGN | CKF_VERIFY | EC_CAPS);
    ck_assert_uint_eq(mi.ulMinKeySize, 256);
    ck_assert_rv(core_mech_info(w.c, slot, CKM_AES_GCM, &mi), CKR_OK);
    /* no wrap/unwrap op in the mock backend: CKF_WRAP and CKF_UNWRAP are masked */
    ck_assert_uint_eq(mi.flags, CKF_ENCRYPT | CKF_DECRYPT | MSG_FLAGS);
    ck_assert_uint_eq(mi.ulMinKeySize, 16);
    ck_assert_uint_eq(mi.ulMaxKeySize, 32);
    ck_assert_rv(core_mech_info(w.c, slot, CKM_SHA256, &mi), CKR_OK);
    ck_assert_uint_eq(mi.flags, CKF_DIGEST);
    err_clear();
    ck_assert_rv(core_mech_info(w.c, slot, CKM_DSA, &mi), CKR_MECHANISM_INVALID);
    expect_origin(ORIGIN_CORE, NULL);
    ck_assert_rv(core_mech_list(w.c, 0x7FFFFFFF, NULL, &n), CKR_SLOT_ID_INVALID);
}
END_TEST

/* The mock backend has no wrap, unwrap or derive op: the core neither offers nor runs them. */
START_TEST(a_device_without_key_ops_refuses_wrapping_and_derivation)
{
    CK_HKDF_PARAMS hp = {CK_TRUE, CK_TRUE, CKM_SHA256, CKF_HKDF_SALT_NULL, NULL, 0, 0, NULL, 0};
    CK_MECHANISM hkdf = {CKM_HKDF_DERIVE, &hp, sizeof(hp)}, kw = {CKM_AES_GCM, NULL, 0};
    CK_ATTRIBUTE t[] = {A(CKA_CLASS, c_secret)};
    CK_OBJECT_HANDLE k, out = 0;
    CK_MECHANISM_INFO mi;
    CK_ULONG len = 0;
    uint8_t blob[40] = {0};
    world();
    login_user(w.h);
    k = hmac_key(w.h);
    ck_assert_rv(core_derive_key(w.c, w.h, &hkdf, k, t, 1, &out), CKR_FUNCTION_NOT_SUPPORTED);
    ck_assert_rv(core_wrap_key(w.c, w.h, &kw, k, k, NULL, &len), CKR_FUNCTION_NOT_SUPPORTED);
    ck_assert_rv(core_unwrap_key(w.c, w.h, &kw, k, blob, sizeof(blob), t, 1, &out),
                 CKR_FUNCTION_NOT_SUPPORTED);
    ck_assert_rv(core_mech_info(w.c, w.slot, CKM_HKDF_DERIVE, &mi), CKR_MECHANISM_INVALID);
    ck_assert_rv(core_mech_info(w.c, w.slot, CKM_AES_GCM, &mi), CKR_OK);
    ck_assert_uint_eq(mi.flags & (CKF_WRAP | CKF_UNWRAP | CKF_DERIVE), 0);
}
END_TEST

START_TEST(a_raw_ecdsa_device_offers_the_composed_ecdsa_mechanisms_only)
{
    CK_MECHANISM_TYPE v[32];
    CK_MECHANISM_INFO mi;
    CK_ULONG n = ARRAY_SIZE(v);
    w.c = open_core("[device m]\nbackend = mock\nonly_raw_ecdsa = yes\n");
    CK_SLOT_ID slot = free_slot(w.c);
    ck_assert_rv(core_mech_list(w.c, slot, v, &n), CKR_OK);
    ck_assert_uint_eq(n, 12); /* 5 digests, key pair generation, raw ECDSA and 5 composed */
    ck_assert(listed(v, n, CKM_ECDSA) && listed(v, n, CKM_ECDSA_SHA1) &&
              listed(v, n, CKM_ECDSA_SHA512) && listed(v, n, CKM_EC_KEY_PAIR_GEN));
    ck_assert(!listed(v, n, CKM_AES_GCM) && !listed(v, n, CKM_SHA256_HMAC) &&
              !listed(v, n, CKM_AES_KEY_GEN));
    ck_assert_rv(core_mech_info(w.c, slot, CKM_ECDSA_SHA256, &mi), CKR_OK);
    ck_assert_uint_eq(mi.flags, CKF_SIGN | CKF_VERIFY | EC_CAPS);
    ck_assert_rv(core_mech_info(w.c, slot, CKM_AES_GCM, &mi), CKR_MECHANISM_INVALID);
    ck_assert_rv(core_mech_info(w.c, slot, CKM_SHA384, &mi), CKR_OK);
    ck_assert_uint_eq(mi.flags, CKF_DIGEST);
}
END_TEST

START_TEST(a_device_without_a_token_has_no_mechanisms)
{
    CK_SLOT_ID all[MAX_SLOTS];
    CK_ULONG n = 0;
    w.c = open_core("[device bad]\nbackend = mock\nfail_open = yes\n");
    ck_assert_uint_eq(slot_list(w.c, false, all), 1);
    ck_assert_rv(core_mech_list(w.c, all[0], NULL, &n), CKR_TOKEN_NOT_PRESENT);
}
END_TEST

/* ======================================================================================== */
/* Fork                                                                                      */
/* ======================================================================================== */

START_TEST(a_forked_child_sees_the_parent_context_as_stale)
{
    uint8_t sig[32];
    world();
    login_user(w.h);
    CK_OBJECT_HANDLE k = hmac_key(w.h);
    unsigned long gen = core_fork_generation();
    ck_assert(!core_stale(w.c));
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* no Check assertions in the child: report through the exit status */
        int bad = 0;
        struct config *cfg = NULL;
        struct core *fresh = NULL;
        if (!core_stale(w.c))
            bad |= 1;
        if (core_fork_generation() == gen)
            bad |= 2;
        if (config_parse(CONF_ONE, strlen(CONF_ONE), "child.conf", &cfg) != CKR_OK ||
            core_new(cfg, &fresh) != CKR_OK)
            bad |= 4;
        else if (core_stale(fresh))
            bad |= 8;
        core_free(fresh);
        core_abandon(w.c);
        _exit(bad);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x", status);
    /* the parent carries on */
    ck_assert(!core_stale(w.c));
    ck_assert_uint_eq(core_fork_generation(), gen);
    ck_assert_uint_eq(sign(w.h, &m_hmac, k, "after fork", 10, sig, sizeof(sig)), 32);
}
END_TEST

/* ======================================================================================== */
/* The mock itself: what backend.h asks of a device, checked on the ops table directly      */
/* ======================================================================================== */

START_TEST(the_mock_keeps_the_backend_contract)
{
    static const char text[] = "[device direct]\nbackend = mock\nmax_se = 1\n";
    const struct sea_backend_ops *ops = &mock_backend_ops;
    struct config *cfg = NULL;
    struct bdev *d = NULL;
    struct se_desc desc;
    struct attrs *a = NULL, *out = NULL;
    struct bop *op = NULL;
    CK_OBJECT_HANDLE h = 0, h2 = 0;
    CK_MECHANISM m = {CKM_SHA256_HMAC, NULL, 0};
    struct se_create_params p = {.name = "direct",
                                 .se_id = "4DIRECT",
                                 .level = 1,
                                 .max_retries = 2,
                                 .so_pin = (const uint8_t *)SO_PIN,
                                 .so_pin_len = strlen(SO_PIN)};
    ck_assert_rv(crypto_init(), CKR_OK);
    ck_assert_rv(config_parse(text, strlen(text), "direct.conf", &cfg), CKR_OK);
    ck_assert_rv(ops->dev_open("direct", &cfg->sec[0], &d), CKR_OK);
    ck_assert_rv(ops->se_create(d, 2, &p, &desc), CKR_SLOT_ID_INVALID);
    ck_assert_rv(ops->se_create(d, 1, &p, &desc), CKR_OK);
    ck_assert_uint_eq(desc.seq, 1);
    ck_assert_rv(ops->se_create(d, 2, &p, &desc), CKR_DEVICE_MEMORY);

    /* a private secret key, stored while the user is logged in */
    ck_assert_rv(ops->login(d, 1, CKU_SO, PIN(SO_PIN)), CKR_OK);
    ck_assert_rv(ops->init_pin(d, 1, PIN(USER_PIN)), CKR_OK);
    ops->logout(d, 1);
    ck_assert_rv(ops->init_pin(d, 1, PIN(USER_PIN)), CKR_USER_NOT_LOGGED_IN);
    ck_assert_rv(ops->login(d, 1, CKU_USER, PIN(USER_PIN)), CKR_OK);
    ck_assert_ptr_nonnull(a = attrs_new());
    ck_assert_rv(attrs_set_ulong(a, CKA_CLASS, CKO_SECRET_KEY), CKR_OK);
    ck_assert_rv(attrs_set_ulong(a, CKA_KEY_TYPE, CKK_GENERIC_SECRET), CKR_OK);
    ck_assert_rv(attrs_set_bool(a, CKA_PRIVATE, true), CKR_OK);
    ck_assert_rv(attrs_set_bool(a, CKA_SIGN, true), CKR_OK);
    ck_assert_rv(attrs_set(a, CKA_LABEL, "k", 1), CKR_OK);
    ck_assert_rv(attrs_set_secret(a, CKA_VALUE, key32, sizeof(key32)), CKR_OK);
    ck_assert_rv(ops->obj_create(d, 1, a, OBJ_UNIQUE_LABEL, &h), CKR_OK);
    ck_assert_rv(ops->obj_create(d, 1, a, OBJ_UNIQUE_LABEL, &h2), CKR_SEA_EXISTS);
    ck_assert_uint_eq(mock_object_count("direct"), 1);
    /* the value is kept apart from the public attributes */
    ck_assert_rv(ops->obj_attrs(d, 1, h, &out), CKR_OK);
    ck_assert(!attrs_has(out, CKA_VALUE) && attrs_has(out, CKA_LABEL));
    attrs_unref(out);
    out = NULL;
    ck_assert_rv(ops->obj_attrs(d, 2, h, &out), CKR_TOKEN_NOT_PRESENT);

    /* logged out, the secret and the key are locked */
    ops->logout(d, 1);
    ck_assert_rv(ops->obj_secret(d, 1, h, CKA_VALUE, &out), CKR_USER_NOT_LOGGED_IN);
    ck_assert_rv(ops->op_init(d, 1, h, OP_SIGN, &m, NULL, &op), CKR_USER_NOT_LOGGED_IN);
    /* a wrong PIN is counted even though it is refused */
    ck_assert_rv(ops->login(d, 1, CKU_USER, PIN("0000")), CKR_PIN_INCORRECT);
    struct se_desc *list = NULL;
    size_t n = 0;
    uint32_t next = 0;
    ck_assert_rv(ops->se_list(d, &list, &n, &next), CKR_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(next, 2);
    ck_assert_uint_eq(list[0].user_retries_left, 1);
    ck_assert_uint_eq(list[0].lifecycle, SE_OPERATIONAL);
    free(list);
    ck_assert_rv(ops->login(d, 1, CKU_USER, PIN(USER_PIN)), CKR_OK);
    ck_assert_rv(ops->obj_secret(d, 1, h, CKA_VALUE, &out), CKR_OK);
    ck_assert_mem_eq(attrs_find(out, CKA_VALUE)->val, key32, sizeof(key32));
    attrs_unref(out);
    ck_assert_rv(ops->op_init(d, 1, h, OP_SIGN, &m, NULL, &op), CKR_OK);
    ops->op_free(op);

    ck_assert_rv(ops->se_delete(d, 1, PIN(SO_PIN)), CKR_OK);
    ck_assert_uint_eq(mock_object_count("direct"), 0);
    attrs_unref(a);
    ops->dev_close(d);
    config_free(cfg);
    crypto_fini();
}
END_TEST

START_TEST(concurrent_closes_of_the_same_sessions_are_safe)
{
    world();
    for (int round = 0; round < 300; round++) {
        CK_SESSION_HANDLE h[64];
        for (size_t i = 0; i < ARRAY_SIZE(h); i++)
            h[i] = open_rw(w.c, w.slot);
        struct closer a = {w.c, h, ARRAY_SIZE(h), 0};
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, close_each, &a), 0);
        CK_RV all = core_close_all(w.c, w.slot);
        ck_assert_int_eq(pthread_join(t, NULL), 0);
        ck_assert_rv(all, CKR_OK);
        ck_assert_uint_eq(a.bad, 0);
        CK_SESSION_INFO si;
        for (size_t i = 0; i < ARRAY_SIZE(h); i++)
            ck_assert_rv(core_session_info(w.c, h[i], &si), CKR_SESSION_HANDLE_INVALID);
    }
    w.h = open_rw(w.c, w.slot); /* the context is still sound */
    ck_assert_uint_eq(session_state(w.c, w.h), CKS_RW_PUBLIC_SESSION);
}
END_TEST

START_TEST(logout_destroys_private_session_objects)
{
    world();
    login_user(w.h);
    CK_ATTRIBUTE priv[] = {A(CKA_CLASS, c_data), A(CKA_TOKEN, no), A(CKA_PRIVATE, yes),
                           AS(CKA_VALUE, "private")};
    CK_ATTRIBUTE pub[] = {A(CKA_CLASS, c_data), A(CKA_TOKEN, no), A(CKA_PRIVATE, no),
                          AS(CKA_VALUE, "public")};
    CK_OBJECT_HANDLE hp = create(w.h, priv, ARRAY_SIZE(priv));
    CK_OBJECT_HANDLE hq = create(w.h, pub, ARRAY_SIZE(pub));
    ck_assert_rv(core_logout(w.c, w.h), CKR_OK);
    login_user(w.h);
    char buf[16];
    CK_ATTRIBUTE g = {CKA_VALUE, buf, sizeof(buf)};
    ck_assert_rv(core_get_attrs(w.c, w.h, hp, &g, 1), CKR_OBJECT_HANDLE_INVALID);
    g.ulValueLen = sizeof(buf);
    ck_assert_rv(core_get_attrs(w.c, w.h, hq, &g, 1), CKR_OK);
    ck_assert_uint_eq(g.ulValueLen, 6);
    ck_assert_mem_eq(buf, "public", 6);
}
END_TEST

START_TEST(a_reinit_by_another_context_ends_this_contexts_login)
{
    world();
    login_user(w.h);
    ck_assert_uint_eq(session_state(w.c, w.h), CKS_RW_USER_FUNCTIONS);
    /* another context (another process, as far as the core knows) re-initialises the SE and
     * gives it a new owner with a private object */
    struct core *c2 = open_core(CONF_ONE);
    ck_assert_rv(core_init_token(c2, w.slot, PIN(SO_PIN), "beta"), CKR_OK);
    CK_SESSION_HANDLE h2 = 0;
    ck_assert_rv(core_open_session(c2, w.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, &h2), CKR_OK);
    ck_assert_rv(core_login(c2, h2, CKU_SO, PIN(SO_PIN)), CKR_OK);
    ck_assert_rv(core_init_pin(c2, h2, PIN("9999")), CKR_OK);
    ck_assert_rv(core_logout(c2, h2), CKR_OK);
    ck_assert_rv(core_login(c2, h2, CKU_USER, PIN("9999")), CKR_OK);
    CK_ATTRIBUTE theirs[] = {A(CKA_CLASS, c_data), A(CKA_TOKEN, yes), A(CKA_PRIVATE, yes),
                             AS(CKA_LABEL, "theirs")};
    CK_OBJECT_HANDLE ht = 0;
    ck_assert_rv(core_create_object(c2, h2, theirs, ARRAY_SIZE(theirs), 0, &ht), CKR_OK);
    ck_assert_rv(core_logout(c2, h2), CKR_OK);
    /* this context's login is gone: it sees the new owner's object neither by search nor by
     * handle, cannot change or destroy it, and must log in with the new PIN */
    ck_assert_uint_eq(session_state(w.c, w.h), CKS_RW_PUBLIC_SESSION);
    CK_OBJECT_HANDLE found[4];
    CK_ATTRIBUTE q[] = {AS(CKA_LABEL, "theirs")};
    ck_assert_uint_eq(find_all(w.h, q, 1, found, 4), 0);
    CK_ATTRIBUTE relabel[] = {AS(CKA_LABEL, "mine now")};
    ck_assert_rv(core_set_attrs(w.c, w.h, ht, relabel, 1), CKR_OBJECT_HANDLE_INVALID);
    ck_assert_rv(core_destroy_object(w.c, w.h, ht), CKR_OBJECT_HANDLE_INVALID);
    ck_assert_rv(core_login(w.c, w.h, CKU_USER, PIN(USER_PIN)), CKR_PIN_INCORRECT);
    ck_assert_rv(core_login(w.c, w.h, CKU_USER, PIN("9999")), CKR_OK);
    ck_assert_uint_eq(find_all(w.h, q, 1, found, 4), 1);
    ck_assert_rv(core_close_session(c2, h2), CKR_OK);
    core_free(c2);
}
END_TEST

START_TEST(a_login_the_device_dropped_is_dropped_by_the_core_too)
{
    world();
    login_user(w.h);
    CK_OBJECT_HANDLE pub = 0, priv = 0;
    ec_pair(w.h, NULL, 0, &pub, &priv);
    /* the device forgets the login behind the core's back, as after a re-initialisation by
     * another process the core has not noticed yet */
    mock_forget_login("m", (uint32_t)(w.slot & 0xFFFFF));
    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, &m_ecdsa, priv), CKR_USER_NOT_LOGGED_IN);
    ck_assert_uint_eq(session_state(w.c, w.h), CKS_RW_PUBLIC_SESSION);
    login_user(w.h); /* not "already logged in" */
    ck_assert_rv(core_op_init(w.c, w.h, OP_SIGN, &m_ecdsa, priv), CKR_OK);
}
END_TEST

START_TEST(copying_a_private_data_object_to_public_keeps_its_value)
{
    world();
    login_user(w.h);
    CK_ATTRIBUTE t[] = {A(CKA_CLASS, c_data), A(CKA_TOKEN, no), A(CKA_PRIVATE, yes),
                        AS(CKA_VALUE, "the-data")};
    CK_OBJECT_HANDLE o = create(w.h, t, ARRAY_SIZE(t)), copy = 0;
    CK_ATTRIBUTE make_public[] = {A(CKA_PRIVATE, no)};
    ck_assert_rv(core_copy_object(w.c, w.h, o, make_public, 1, &copy), CKR_OK);
    ck_assert_rv(core_logout(w.c, w.h), CKR_OK);
    char buf[16];
    CK_ATTRIBUTE g = {CKA_VALUE, buf, sizeof(buf)};
    ck_assert_rv(core_get_attrs(w.c, w.h, copy, &g, 1), CKR_OK);
    ck_assert_uint_eq(g.ulValueLen, 8);
    ck_assert_mem_eq(buf, "the-data", 8);
}
END_TEST

START_TEST(an_absent_template_attribute_reads_as_an_empty_array)
{
    world();
    login_user(w.h);
    CK_OBJECT_HANDLE k = hmac_key(w.h);
    CK_ATTRIBUTE g = {CKA_WRAP_TEMPLATE, NULL, 99};
    ck_assert_rv(core_get_attrs(w.c, w.h, k, &g, 1), CKR_OK);
    ck_assert_uint_eq(g.ulValueLen, 0);
}
END_TEST

START_TEST(a_buffer_call_of_the_slot_list_sees_ses_created_elsewhere)
{
    world();
    CK_SLOT_ID v[MAX_SLOTS];
    CK_ULONG n = slot_list(w.c, true, v);
    struct core *c2 = open_core(CONF_ONE);
    CK_SLOT_ID created = make_se(c2, "gamma");
    core_free(c2);
    /* no size query first: the buffer call itself sees the new SE */
    CK_ULONG m = MAX_SLOTS;
    ck_assert_rv(core_slot_list(w.c, true, v, &m), CKR_OK);
    ck_assert_uint_eq(m, n + 1);
    bool seen = false;
    for (CK_ULONG i = 0; i < m; i++)
        seen |= v[i] == created;
    ck_assert(seen);
    /* a buffer sized for the old list is too small now, and says so */
    CK_ULONG small = n;
    ck_assert_rv(core_slot_list(w.c, true, v, &small), CKR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(small, n + 1);
}
END_TEST

/* ======================================================================================== */

static TCase *tcase(Suite *s, const char *name)
{
    TCase *t = tcase_create(name);
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 60); /* valgrind */
    suite_add_tcase(s, t);
    return t;
}

static Suite *core_suite(void)
{
    Suite *s = suite_create("core");
    TCase *t = tcase(s, "context");
    tcase_add_test(t, core_new_refuses_a_configuration_without_devices);
    tcase_add_test(t, core_new_rejects_an_unknown_sea_key);
    tcase_add_test(t, a_device_that_fails_to_open_is_a_slot_without_token);
    tcase_add_test(t, an_unknown_backend_leaves_the_device_unavailable_with_a_message);
    tcase_add_test(t, an_unknown_device_key_or_an_injected_open_failure_is_reported_per_device);

    t = tcase(s, "slots");
    tcase_add_test(t, a_free_slot_is_offered_only_while_the_device_has_room);
    tcase_add_test(t, init_token_on_the_free_slot_creates_an_se_at_that_slot_id);
    tcase_add_test(t, slot_ids_of_ses_survive_other_creations_deletions_and_a_restart);
    tcase_add_test(t, se_create_takes_a_valid_se_id_and_refuses_bad_ids_and_levels);
    tcase_add_test(t, reinit_needs_no_open_session_and_the_right_so_pin);
    tcase_add_test(t, slot_event_reports_a_created_se_once);
    tcase_add_test(t, a_buffer_call_of_the_slot_list_sees_ses_created_elsewhere);

    t = tcase(s, "sessions");
    tcase_add_test(t, open_session_needs_the_serial_flag_and_an_se);
    tcase_add_test(t, the_so_cannot_log_in_while_a_read_only_session_is_open);
    tcase_add_test(t, no_read_only_session_opens_while_the_so_is_logged_in);
    tcase_add_test(t, login_refuses_the_same_or_the_other_role_when_logged_in);
    tcase_add_test(t, the_user_cannot_log_in_before_the_so_sets_the_pin);
    tcase_add_test(t, wrong_user_pins_lock_the_pin_with_exact_token_flags);
    tcase_add_test(t, wrong_so_pins_lock_the_so_pin_and_block_the_se);
    tcase_add_test(t, pins_outside_the_device_length_limits_are_refused);
    tcase_add_test(t, set_pin_checks_the_old_pin_and_needs_a_read_write_session);
    tcase_add_test(t, session_info_reports_each_of_the_five_states);
    tcase_add_test(t, closing_the_last_session_of_an_se_logs_out);
    tcase_add_test(t, logout_without_a_login_is_user_not_logged_in);
    tcase_add_test(t, invalid_and_closed_session_handles_are_refused);
    tcase_add_test(t, close_all_closes_the_sessions_of_one_slot_only);
    tcase_add_test(t, concurrent_closes_of_the_same_sessions_are_safe);
    tcase_add_test(t, logout_destroys_private_session_objects);
    tcase_add_test(t, a_reinit_by_another_context_ends_this_contexts_login);
    tcase_add_test(t, a_login_the_device_dropped_is_dropped_by_the_core_too);

    t = tcase(s, "objects");
    tcase_add_test(t, a_template_without_class_or_key_type_is_incomplete);
    tcase_add_test(t, attributes_the_class_lacks_or_the_library_sets_are_refused);
    tcase_add_test(t, malformed_template_values_are_refused);
    tcase_add_test(t, generation_templates_that_contradict_the_mechanism_are_refused);
    tcase_add_test(t, writes_need_a_read_write_session_and_private_ones_the_user);
    tcase_add_test(t, only_the_so_may_mark_an_object_trusted);
    tcase_add_test(t, a_sensitive_value_is_withheld_while_the_other_attributes_are_filled);
    tcase_add_test(t, get_answers_size_queries_and_refuses_short_buffers);
    tcase_add_test(t, an_extractable_non_sensitive_key_reads_back_its_value);
    tcase_add_test(t, set_attribute_follows_the_one_way_and_read_only_rules);
    tcase_add_test(t, copy_changes_the_label_and_keeps_the_key_usable);
    tcase_add_test(t, destroy_removes_destroyable_objects_only);
    tcase_add_test(t, find_hides_private_objects_from_the_public_and_the_so);
    tcase_add_test(t, find_keeps_its_state_and_returns_batches);
    tcase_add_test(t, session_objects_vanish_when_their_session_closes);
    tcase_add_test(t, token_objects_outlive_a_restart_and_session_objects_do_not);
    tcase_add_test(t, objects_of_one_se_are_out_of_reach_of_another);
    tcase_add_test(t, a_device_without_session_objects_takes_token_objects_only);
    tcase_add_test(t, a_unique_label_is_refused_a_second_time);
    tcase_add_test(t, copying_a_private_data_object_to_public_keeps_its_value);
    tcase_add_test(t, an_absent_template_attribute_reads_as_an_empty_array);

    t = tcase(s, "operations");
    tcase_add_test(t, a_mechanism_the_device_does_not_offer_is_invalid);
    tcase_add_test(t, a_key_must_suit_the_mechanism_and_allow_the_operation);
    tcase_add_test(t, allowed_mechanisms_restrict_what_a_key_does);
    tcase_add_test(t, a_parameter_on_a_parameterless_mechanism_is_refused);
    tcase_add_test(t, size_queries_and_short_buffers_keep_the_operation_running);
    tcase_add_test(t, init_twice_is_refused_and_a_null_mechanism_ends_the_operation);
    tcase_add_test(t, single_part_after_update_is_refused);
    tcase_add_test(t, update_on_raw_ecdsa_fails_and_ends_the_operation);
    tcase_add_test(t, ecdsa_sha256_is_composed_on_a_raw_ecdsa_device_and_verifies_in_openssl);
    tcase_add_test(t, aes_gcm_single_part_equals_multi_part_and_openssl);
    tcase_add_test(t, aes_gcm_with_a_tampered_tag_is_encrypted_data_invalid);
    tcase_add_test(t, hmac_signs_like_openssl_and_refuses_a_wrong_mac);
    tcase_add_test(t, digests_match_the_fips_180_answers);
    tcase_add_test(t, an_always_authenticate_key_needs_a_context_login_for_each_use);
    tcase_add_test(t, device_failures_surface_with_the_device_origin);
    tcase_add_test(t, random_comes_from_the_device_and_a_seed_is_accepted);

    t = tcase(s, "mechanisms");
    tcase_add_test(t, the_mechanism_list_follows_the_device_capabilities);
    tcase_add_test(t, a_device_without_key_ops_refuses_wrapping_and_derivation);
    tcase_add_test(t, a_raw_ecdsa_device_offers_the_composed_ecdsa_mechanisms_only);
    tcase_add_test(t, a_device_without_a_token_has_no_mechanisms);

    t = tcase(s, "mock");
    tcase_add_test(t, the_mock_keeps_the_backend_contract);

    t = tcase(s, "fork");
    tcase_add_test(t, a_forked_child_sees_the_parent_context_as_stale);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(core_suite());
    srunner_run_all(r, CK_ENV);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

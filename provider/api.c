/* The native face (include/sea/sea.h): the TS-0016 Mcs functions in C over the core —
 * SE discovery and profile management, login, keys, cryptography and sensitive data objects.
 * Arguments are checked here; the core enforces the object rules exactly as for PKCS#11. */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "config.h"
#include "core.h"
#include "crypto.h"
#include "error.h"
/* The API declared in sea.h is the library's only export (the rest is hidden). */
#pragma GCC visibility push(default)
#include "sea/sea.h"
#pragma GCC visibility pop
#include "onem2m_id.h"
#include "psk.h"
#include "uri.h"
#include "mcs.h"
#include "usage.h"
#include "api_int.h"

struct sea_ctx {
    struct core *core;
};

struct sea_se {
    sea_ctx *ctx;
    CK_SESSION_HANDLE h;
    CK_SLOT_ID slot;
    char name[SE_NAME_MAX + 1];
    char se_id[SE_ID_MAX + 1];
};

/* The marker of TS-0016 sensitive data objects among CKO_DATA objects. */
static const char SDO_APP[] = "oneM2M sensitiveDataObject";

static const uint8_t OID_P256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t OID_P384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
static const uint8_t OID_ED25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};

/* ---- status ---- */

static sea_rv map_rv(CK_RV rv)
{
    switch (rv) {
    case CKR_OK:
        return SEA_OK;
    case CKR_ARGUMENTS_BAD:
    case CKR_ATTRIBUTE_VALUE_INVALID:
    case CKR_ATTRIBUTE_TYPE_INVALID:
    case CKR_TEMPLATE_INCOMPLETE:
    case CKR_TEMPLATE_INCONSISTENT:
    case CKR_MECHANISM_PARAM_INVALID:
    case CKR_DATA_LEN_RANGE:
    case CKR_KEY_SIZE_RANGE:
    case CKR_KEY_TYPE_INCONSISTENT:
    case CKR_USER_TYPE_INVALID:
        return SEA_ERR_ARGS;
    case CKR_SLOT_ID_INVALID:
    case CKR_OBJECT_HANDLE_INVALID:
    case CKR_KEY_HANDLE_INVALID:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_CLOSED:
    case CKR_TOKEN_NOT_RECOGNIZED:
        return SEA_ERR_NOT_FOUND;
    case CKR_SEA_EXISTS:
        return SEA_ERR_EXISTS;
    case CKR_PIN_INCORRECT:
        return SEA_ERR_PIN_INCORRECT;
    case CKR_PIN_LOCKED:
        return SEA_ERR_PIN_LOCKED;
    case CKR_PIN_LEN_RANGE:
    case CKR_PIN_INVALID:
        return SEA_ERR_PIN_LEN;
    case CKR_USER_PIN_NOT_INITIALIZED:
        return SEA_ERR_PIN_NOT_SET;
    case CKR_USER_NOT_LOGGED_IN:
        return SEA_ERR_NOT_LOGGED_IN;
    case CKR_USER_ALREADY_LOGGED_IN:
    case CKR_USER_ANOTHER_ALREADY_LOGGED_IN:
        return SEA_ERR_ALREADY_LOGGED_IN;
    case CKR_KEY_FUNCTION_NOT_PERMITTED:
    case CKR_ACTION_PROHIBITED:
    case CKR_ATTRIBUTE_SENSITIVE:
    case CKR_ATTRIBUTE_READ_ONLY:
    case CKR_KEY_UNEXTRACTABLE:
    case CKR_TOKEN_WRITE_PROTECTED:
    case CKR_SESSION_READ_ONLY:
        return SEA_ERR_DENIED;
    case CKR_MECHANISM_INVALID:
    case CKR_FUNCTION_NOT_SUPPORTED:
    case CKR_CURVE_NOT_SUPPORTED:
    case CKR_RANDOM_SEED_NOT_SUPPORTED:
        return SEA_ERR_UNSUPPORTED;
    case CKR_BUFFER_TOO_SMALL:
        return SEA_ERR_BUFFER_TOO_SMALL;
    case CKR_SIGNATURE_INVALID:
    case CKR_SIGNATURE_LEN_RANGE:
        return SEA_ERR_SIGNATURE_INVALID;
    case CKR_ENCRYPTED_DATA_INVALID:
    case CKR_ENCRYPTED_DATA_LEN_RANGE:
    case CKR_DATA_INVALID:
        return SEA_ERR_DATA_INVALID;
    case CKR_DEVICE_ERROR:
    case CKR_DEVICE_MEMORY:
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_FUNCTION_FAILED:
        return SEA_ERR_DEVICE;
    case CKR_HOST_MEMORY:
        return SEA_ERR_NO_MEMORY;
    case CKR_CRYPTOKI_NOT_INITIALIZED:
        return SEA_ERR_NOT_INITIALIZED;
    case CKR_SESSION_EXISTS:
        return SEA_ERR_BUSY;
    default:
        return SEA_ERR_INTERNAL;
    }
}

/* Map a core status, recording a generic message if the core left none. */
static sea_rv ret(CK_RV rv, const char *what)
{
    if (rv != CKR_OK)
        err_default(ORIGIN_CORE, rv, "%s failed", what);
    return map_rv(rv);
}

static sea_rv bad_args(const char *func, const char *what)
{
    err_set(ORIGIN_API, CKR_ARGUMENTS_BAD, "%s: %s", func, what);
    return SEA_ERR_ARGS;
}

#define REQUIRE(cond, what)                                                                        \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return bad_args(__func__, what);                                                       \
    } while (0)

static sea_rv not_init(void)
{
    err_set(ORIGIN_API, CKR_CRYPTOKI_NOT_INITIALIZED,
            "this context was opened before a fork: call sea_open in this process");
    return SEA_ERR_NOT_INITIALIZED;
}

/* Entry checks for functions taking a context / an open SE. */
#define ENTER_CTX(ctx)                                                                             \
    err_clear();                                                                                   \
    REQUIRE(ctx, "the context is NULL");                                                           \
    if (core_stale((ctx)->core))                                                                   \
        return not_init();

#define ENTER_SE(se)                                                                               \
    err_clear();                                                                                   \
    REQUIRE(se, "the SE handle is NULL");                                                          \
    if (core_stale((se)->ctx->core))                                                               \
        return not_init();                                                                         \
    struct core *c = (se)->ctx->core;

const char *sea_last_error(sea_origin *origin)
{
    const struct err_rec *e = err_get();
    if (origin)
        *origin = (sea_origin)e->origin;
    return e->msg;
}

const char *sea_rv_name(sea_rv rv)
{
    static const char *const names[] = {
        "SEA_OK",
        "SEA_ERR_ARGS",
        "SEA_ERR_NOT_FOUND",
        "SEA_ERR_EXISTS",
        "SEA_ERR_PIN_INCORRECT",
        "SEA_ERR_PIN_LOCKED",
        "SEA_ERR_PIN_LEN",
        "SEA_ERR_PIN_NOT_SET",
        "SEA_ERR_NOT_LOGGED_IN",
        "SEA_ERR_DENIED",
        "SEA_ERR_UNSUPPORTED",
        "SEA_ERR_BUFFER_TOO_SMALL",
        "SEA_ERR_SIGNATURE_INVALID",
        "SEA_ERR_DATA_INVALID",
        "SEA_ERR_DEVICE",
        "SEA_ERR_NO_MEMORY",
        "SEA_ERR_NOT_INITIALIZED",
        "SEA_ERR_BUSY",
        "SEA_ERR_INTERNAL",
        "SEA_ERR_ALREADY_LOGGED_IN",
    };
    return (unsigned)rv < ARRAY_SIZE(names) ? names[rv] : "SEA_ERR_?";
}

int sea_rv_onem2m(sea_rv rv)
{
    switch (rv) {
    case SEA_OK:
    case SEA_ERR_SIGNATURE_INVALID: /* the request worked: verificationResult is false */
        return 2000;
    case SEA_ERR_ARGS:
    case SEA_ERR_PIN_LEN:
    case SEA_ERR_BUFFER_TOO_SMALL:
    case SEA_ERR_ALREADY_LOGGED_IN:
        return 4000; /* BAD_REQUEST */
    case SEA_ERR_NOT_FOUND:
        return 4004; /* NOT_FOUND */
    case SEA_ERR_PIN_LOCKED:
    case SEA_ERR_PIN_NOT_SET:
        return 4005; /* OPERATION_NOT_ALLOWED */
    case SEA_ERR_DATA_INVALID:
        return 4102; /* CONTENTS_UNACCEPTABLE */
    case SEA_ERR_DENIED:
        return 4103; /* ORIGINATOR_HAS_NO_PRIVILEGE */
    case SEA_ERR_EXISTS:
    case SEA_ERR_BUSY:
        return 4105; /* CONFLICT */
    case SEA_ERR_PIN_INCORRECT:
    case SEA_ERR_NOT_LOGGED_IN:
        return 4106; /* ORIGINATOR_NOT_AUTHENTICATED */
    case SEA_ERR_UNSUPPORTED:
        return 5001; /* NOT_IMPLEMENTED */
    case SEA_ERR_DEVICE:
        return 5103; /* TARGET_NOT_REACHABLE */
    default:
        return 5000; /* INTERNAL_SERVER_ERROR */
    }
}

const char *sea_version(void)
{
    return PACKAGE_VERSION;
}

void sea_free(void *p)
{
    free(p);
}

/* ---- context ---- */

sea_rv sea_open(sea_ctx **ctx, const char *config_path)
{
    struct config *cfg = NULL;
    err_clear();
    REQUIRE(ctx, "ctx is NULL");
    *ctx = NULL;
    CK_RV rv = config_open(config_path, &cfg);
    if (rv != CKR_OK)
        return ret(rv, "reading the configuration");
    sea_ctx *x = calloc(1, sizeof(*x));
    if (!x) {
        config_free(cfg);
        return SEA_ERR_NO_MEMORY;
    }
    if ((rv = core_new(cfg, &x->core)) != CKR_OK) {
        free(x);
        return ret(rv, "opening the library");
    }
    *ctx = x;
    return SEA_OK;
}

void sea_close(sea_ctx *ctx)
{
    if (!ctx)
        return;
    if (core_stale(ctx->core))
        core_abandon(ctx->core); /* inherited through fork: the parent still owns it */
    else
        core_free(ctx->core);
    free(ctx);
}

const char *sea_config_path(sea_ctx *ctx, int *embedded)
{
    bool e = false;
    if (!ctx)
        return NULL;
    const char *p = core_config_path(ctx->core, &e);
    if (embedded)
        *embedded = e;
    return p;
}

sea_rv sea_device_list(sea_ctx *ctx, sea_device_info **list, size_t *count)
{
    ENTER_CTX(ctx);
    REQUIRE(list && count, "list or count is NULL");
    size_t n = 0;
    struct core_device_status probe;
    core_device_status(ctx->core, &probe, &n);
    struct core_device_status *st = calloc(n ? n : 1, sizeof(*st));
    sea_device_info *out = calloc(n ? n : 1, sizeof(*out));
    if (!st || !out) {
        free(st);
        free(out);
        return SEA_ERR_NO_MEMORY;
    }
    size_t have = n;
    core_device_status(ctx->core, st, &have);
    for (size_t i = 0; i < n && i < have; i++) {
        snprintf(out[i].name, sizeof(out[i].name), "%s", st[i].name);
        snprintf(out[i].backend, sizeof(out[i].backend), "%s", st[i].backend);
        out[i].status = map_rv(st[i].rv);
        snprintf(out[i].error, sizeof(out[i].error), "%s", st[i].error);
        out[i].se_count = st[i].nses;
        out[i].max_se = st[i].max_se;
    }
    free(st);
    *list = out;
    *count = n < have ? n : have;
    return SEA_OK;
}

/* ---- SEs ---- */

static void to_se_info(const struct core_se_info *s, sea_se_info *o)
{
    memset(o, 0, sizeof(*o));
    snprintf(o->name, sizeof(o->name), "%s", s->desc.name);
    snprintf(o->se_id, sizeof(o->se_id), "%s", s->desc.se_id);
    o->se_type = s->desc.se_type;
    o->security_level = s->desc.level;
    o->lifecycle = s->desc.lifecycle;
    snprintf(o->backend, sizeof(o->backend), "%s", s->backend);
    snprintf(o->device, sizeof(o->device), "%s", s->device);
    o->slot_id = s->slot;
    o->pin_flags = s->desc.pin_flags; /* PINF_* and SEA_PIN_* share their values */
    o->user_tries_left = s->desc.user_retries_left;
    o->so_tries_left = s->desc.so_retries_left;
    o->max_tries = s->desc.max_retries;
    o->created = s->desc.created;
}

sea_rv sea_se_list(sea_ctx *ctx, sea_se_info **list, size_t *count)
{
    ENTER_CTX(ctx);
    REQUIRE(list && count, "list or count is NULL");
    struct core_se_info *v = NULL;
    size_t n = 0;
    CK_RV rv = core_se_list(ctx->core, &v, &n);
    if (rv != CKR_OK)
        return ret(rv, "listing SEs");
    sea_se_info *out = calloc(n ? n : 1, sizeof(*out));
    if (!out) {
        free(v);
        return SEA_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < n; i++)
        to_se_info(&v[i], &out[i]);
    free(v);
    *list = out;
    *count = n;
    return SEA_OK;
}

/* The SE named by name or M2M-SE-ID (an M2M-SE-ID wins over a name). */
static sea_rv lookup_se(struct core *c, const char *name_or_id, struct core_se_info *out)
{
    struct core_se_info *v = NULL;
    size_t n = 0, by_name = 0;
    CK_RV rv = core_se_list(c, &v, &n);
    if (rv != CKR_OK)
        return ret(rv, "listing SEs");
    const struct core_se_info *hit = NULL;
    for (size_t i = 0; i < n && !hit; i++)
        if (strcmp(v[i].desc.se_id, name_or_id) == 0)
            hit = &v[i];
    for (size_t i = 0; i < n && !hit; i++)
        if (strcmp(v[i].desc.name, name_or_id) == 0 && by_name++ == 0)
            *out = v[i];
    if (hit)
        *out = *hit;
    free(v);
    if (hit || by_name == 1)
        return SEA_OK;
    if (by_name > 1) {
        err_set(ORIGIN_API, CKR_ARGUMENTS_BAD, "several SEs are named '%s': use the M2M-SE-ID",
                name_or_id);
        return SEA_ERR_EXISTS;
    }
    err_set(ORIGIN_API, CKR_SLOT_ID_INVALID, "there is no SE named '%s'", name_or_id);
    return SEA_ERR_NOT_FOUND;
}

sea_rv sea_se_find(sea_ctx *ctx, const char *name_or_id, sea_se_info *info)
{
    ENTER_CTX(ctx);
    REQUIRE(name_or_id && info, "name_or_id or info is NULL");
    struct core_se_info s;
    sea_rv r = lookup_se(ctx->core, name_or_id, &s);
    if (r == SEA_OK)
        to_se_info(&s, info);
    return r;
}

sea_rv sea_se_create(sea_ctx *ctx, const sea_se_params *p, sea_se_info *info)
{
    ENTER_CTX(ctx);
    REQUIRE(p, "params is NULL");
    REQUIRE(p->name, "params->name is NULL");
    REQUIRE(p->so_pin, "params->so_pin is NULL");
    REQUIRE(p->security_level >= -1 && p->security_level <= 3, "security_level is not -1..3");
    REQUIRE(!p->user_pin_len || p->user_pin, "params->user_pin is NULL");
    struct core *c = ctx->core;
    struct core_se_create cp = {
        .device = p->device,
        .name = p->name,
        .se_id = p->se_id,
        .level = p->security_level,
        .max_retries = p->max_tries,
        .so_pin = (const uint8_t *)p->so_pin,
        .so_pin_len = p->so_pin_len,
    };
    struct core_se_info si;
    CK_RV rv = core_se_create(c, &cp, &si);
    if (rv != CKR_OK)
        return ret(rv, "creating the SE");
    if (p->user_pin) {
        /* Personalise in one go; undo the creation if the user PIN is refused. */
        CK_SESSION_HANDLE h;
        rv = core_open_session(c, si.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, &h);
        if (rv == CKR_OK) {
            rv = core_login(c, h, CKU_SO, cp.so_pin, cp.so_pin_len);
            if (rv == CKR_OK)
                rv = core_init_pin(c, h, (const uint8_t *)p->user_pin, p->user_pin_len);
            core_close_session(c, h);
        }
        if (rv != CKR_OK) {
            struct err_rec saved = *err_get();
            core_se_delete(c, si.slot, cp.so_pin, cp.so_pin_len);
            err_clear();
            err_set(saved.origin, saved.rv, "%s (the SE was not created)", saved.msg);
            return map_rv(rv);
        }
        struct core_se_info again;
        if (lookup_se(c, si.desc.se_id, &again) == SEA_OK)
            si = again;
    }
    if (info)
        to_se_info(&si, info);
    return SEA_OK;
}

sea_rv sea_se_delete(sea_ctx *ctx, const char *name_or_id, const char *so_pin, size_t so_pin_len)
{
    ENTER_CTX(ctx);
    REQUIRE(name_or_id && so_pin, "name_or_id or so_pin is NULL");
    struct core_se_info s;
    sea_rv r = lookup_se(ctx->core, name_or_id, &s);
    if (r != SEA_OK)
        return r;
    return ret(core_se_delete(ctx->core, s.slot, (const uint8_t *)so_pin, so_pin_len),
               "deleting the SE");
}

sea_rv sea_se_open(sea_ctx *ctx, const char *name_or_id, sea_se **se)
{
    ENTER_CTX(ctx);
    REQUIRE(name_or_id && se, "name_or_id or se is NULL");
    *se = NULL;
    struct core_se_info s;
    sea_rv r = lookup_se(ctx->core, name_or_id, &s);
    if (r != SEA_OK)
        return r;
    sea_se *x = calloc(1, sizeof(*x));
    if (!x)
        return SEA_ERR_NO_MEMORY;
    CK_RV rv = core_open_session(ctx->core, s.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, &x->h);
    if (rv != CKR_OK) {
        free(x);
        return ret(rv, "opening the SE");
    }
    x->ctx = ctx;
    x->slot = s.slot;
    snprintf(x->name, sizeof(x->name), "%s", s.desc.name);
    snprintf(x->se_id, sizeof(x->se_id), "%s", s.desc.se_id);
    *se = x;
    return SEA_OK;
}

void sea_se_close(sea_se *se)
{
    if (!se)
        return;
    if (!core_stale(se->ctx->core))
        core_close_session(se->ctx->core, se->h);
    free(se);
}

sea_rv sea_login(sea_se *se, sea_user user, const char *pin, size_t pin_len)
{
    ENTER_SE(se);
    REQUIRE(pin, "pin is NULL");
    REQUIRE(user == SEA_USER || user == SEA_SO, "user is neither SEA_USER nor SEA_SO");
    return ret(
        core_login(c, se->h, user == SEA_SO ? CKU_SO : CKU_USER, (const uint8_t *)pin, pin_len),
        "login");
}

sea_rv sea_logout(sea_se *se)
{
    ENTER_SE(se);
    return ret(core_logout(c, se->h), "logout");
}

sea_rv sea_init_pin(sea_se *se, const char *pin, size_t pin_len)
{
    ENTER_SE(se);
    REQUIRE(pin, "pin is NULL");
    return ret(core_init_pin(c, se->h, (const uint8_t *)pin, pin_len), "setting the user PIN");
}

sea_rv sea_set_pin(sea_se *se, const char *old_pin, size_t old_len, const char *new_pin,
                   size_t new_len)
{
    ENTER_SE(se);
    REQUIRE(old_pin && new_pin, "a PIN is NULL");
    return ret(core_set_pin(c, se->h, (const uint8_t *)old_pin, old_len, (const uint8_t *)new_pin,
                            new_len),
               "changing the PIN");
}

/* ---- templates ---- */

#define TMPL_MAX 24

struct tmpl {
    CK_ATTRIBUTE a[TMPL_MAX];
    CK_BBOOL b[TMPL_MAX];
    CK_ULONG u[TMPL_MAX];
    CK_ULONG n;
};

static void t_bytes(struct tmpl *t, CK_ATTRIBUTE_TYPE type, const void *v, size_t len)
{
    t->a[t->n++] = (CK_ATTRIBUTE){type, (void *)v, (CK_ULONG)len};
}

static void t_bool(struct tmpl *t, CK_ATTRIBUTE_TYPE type, int v)
{
    t->b[t->n] = CKB(v);
    t->a[t->n] = (CK_ATTRIBUTE){type, &t->b[t->n], sizeof(CK_BBOOL)};
    t->n++;
}

static void t_ulong(struct tmpl *t, CK_ATTRIBUTE_TYPE type, CK_ULONG v)
{
    t->u[t->n] = v;
    t->a[t->n] = (CK_ATTRIBUTE){type, &t->u[t->n], sizeof(CK_ULONG)};
    t->n++;
}

static CK_OBJECT_CLASS class_to_ck(sea_class cls)
{
    switch (cls) {
    case SEA_CLASS_PRIVATE_KEY:
        return CKO_PRIVATE_KEY;
    case SEA_CLASS_PUBLIC_KEY:
        return CKO_PUBLIC_KEY;
    case SEA_CLASS_SECRET_KEY:
        return CKO_SECRET_KEY;
    case SEA_CLASS_DATA:
        return CKO_DATA;
    case SEA_CLASS_CERTIFICATE:
        return CKO_CERTIFICATE;
    default:
        return CK_UNAVAILABLE_INFORMATION;
    }
}

static sea_class class_from_ck(CK_OBJECT_CLASS cls)
{
    switch (cls) {
    case CKO_PRIVATE_KEY:
        return SEA_CLASS_PRIVATE_KEY;
    case CKO_PUBLIC_KEY:
        return SEA_CLASS_PUBLIC_KEY;
    case CKO_SECRET_KEY:
        return SEA_CLASS_SECRET_KEY;
    case CKO_DATA:
        return SEA_CLASS_DATA;
    case CKO_CERTIFICATE:
        return SEA_CLASS_CERTIFICATE;
    default:
        return SEA_CLASS_ANY;
    }
}

/* Find up to max objects matching a template. */
static CK_RV find(struct core *c, CK_SESSION_HANDLE h, const CK_ATTRIBUTE *t, CK_ULONG n,
                  CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *count)
{
    CK_RV rv = core_find_init(c, h, t, n);
    if (rv != CKR_OK)
        return rv;
    rv = core_find(c, h, out, max, count);
    core_find_final(c, h);
    return rv;
}

static sea_rv label_free(struct core *c, sea_se *se, const char *label, CK_OBJECT_CLASS cls)
{
    CK_ATTRIBUTE t[2] = {{CKA_LABEL, (void *)label, (CK_ULONG)strlen(label)},
                         {CKA_CLASS, &cls, sizeof(cls)}};
    CK_OBJECT_HANDLE h;
    CK_ULONG n = 0;
    CK_RV rv = find(c, se->h, t, 2, &h, 1, &n);
    if (rv != CKR_OK)
        return ret(rv, "searching the SE");
    if (n) {
        err_set(ORIGIN_API, CKR_SEA_EXISTS, "the SE already holds a key labelled '%s'", label);
        return SEA_ERR_EXISTS;
    }
    return SEA_OK;
}

static void usage_attrs(struct tmpl *t, CK_OBJECT_CLASS cls, unsigned use)
{
    if (cls == CKO_PRIVATE_KEY) {
        t_bool(t, CKA_SIGN, use & SEA_USE_SIGN);
        t_bool(t, CKA_DECRYPT, use & SEA_USE_DECRYPT);
        t_bool(t, CKA_DERIVE, use & SEA_USE_DERIVE);
        t_bool(t, CKA_UNWRAP, 0);
        t_bool(t, CKA_SIGN_RECOVER, 0);
    } else if (cls == CKO_PUBLIC_KEY) {
        t_bool(t, CKA_VERIFY, use & (SEA_USE_VERIFY | SEA_USE_SIGN));
        t_bool(t, CKA_ENCRYPT, use & (SEA_USE_ENCRYPT | SEA_USE_DECRYPT));
        t_bool(t, CKA_WRAP, 0);
        t_bool(t, CKA_VERIFY_RECOVER, 0);
    } else {
        t_bool(t, CKA_SIGN, use & SEA_USE_SIGN);
        t_bool(t, CKA_VERIFY, use & SEA_USE_VERIFY);
        t_bool(t, CKA_ENCRYPT, use & SEA_USE_ENCRYPT);
        t_bool(t, CKA_DECRYPT, use & SEA_USE_DECRYPT);
        t_bool(t, CKA_DERIVE, use & SEA_USE_DERIVE);
        t_bool(t, CKA_WRAP, 0);
        t_bool(t, CKA_UNWRAP, 0);
    }
}

static unsigned default_usage(sea_key_type type)
{
    switch (type) {
    case SEA_KEY_EC_P256:
    case SEA_KEY_EC_P384:
    case SEA_KEY_RSA_2048:
    case SEA_KEY_RSA_3072:
    case SEA_KEY_RSA_4096:
    case SEA_KEY_ED25519:
        return SEA_USE_SIGN | SEA_USE_VERIFY;
    case SEA_KEY_AES:
        return SEA_USE_ENCRYPT | SEA_USE_DECRYPT;
    default:
        return SEA_USE_SIGN | SEA_USE_VERIFY | SEA_USE_DERIVE;
    }
}

/* The attributes every key made through the native API carries. */
static void common_key_attrs(struct tmpl *t, const sea_key_params *p, CK_OBJECT_CLASS cls)
{
    t_ulong(t, CKA_CLASS, cls);
    t_bool(t, CKA_TOKEN, 1);
    t_bytes(t, CKA_LABEL, p->label, strlen(p->label));
    if (p->id_len)
        t_bytes(t, CKA_ID, p->id, p->id_len);
    if (cls != CKO_PUBLIC_KEY) {
        t_bool(t, CKA_PRIVATE, 1);
        t_bool(t, CKA_SENSITIVE, !(p->extractable && p->clear_export));
        t_bool(t, CKA_EXTRACTABLE, p->extractable != 0);
        if (p->suid)
            t_ulong(t, CKA_SEA_SUID, p->suid);
    } else {
        t_bool(t, CKA_PRIVATE, 0);
    }
    if (p->start_date)
        t_bytes(t, CKA_START_DATE, p->start_date, sizeof(CK_DATE));
    if (p->end_date)
        t_bytes(t, CKA_END_DATE, p->end_date, sizeof(CK_DATE));
    usage_attrs(t, cls, p->usage ? p->usage : default_usage(p->type));
}

static sea_rv check_key_params(const sea_key_params *p, const char *func)
{
    if (!p)
        return bad_args(func, "params is NULL");
    if (!p->label || !*p->label || strlen(p->label) > 255)
        return bad_args(func, "a key needs a label of 1 to 255 bytes");
    if (p->id_len && !p->id)
        return bad_args(func, "id is NULL");
    if (p->id_len > SEA_ID_MAX)
        return bad_args(func, "an id has at most SEA_ID_MAX (1024) bytes");
    if (p->clear_export && !p->extractable)
        return bad_args(func, "clear_export needs extractable: a key that may not leave the SE "
                              "cannot leave it in clear");
    if ((p->start_date && (strlen(p->start_date) != 8 || !usage_date_valid(p->start_date, 8))) ||
        (p->end_date && (strlen(p->end_date) != 8 || !usage_date_valid(p->end_date, 8))))
        return bad_args(func, "a start or end date is a day written YYYYMMDD");
    return SEA_OK;
}

sea_rv sea_key_generate(sea_se *se, const sea_key_params *p, sea_obj *key, sea_obj *pub)
{
    ENTER_SE(se);
    sea_rv r = check_key_params(p, __func__);
    if (r != SEA_OK)
        return r;
    REQUIRE(key, "key is NULL");
    struct tmpl a = {0}, b = {0};
    CK_OBJECT_HANDLE hk = 0, hp = 0;
    CK_RV rv;
    switch (p->type) {
    case SEA_KEY_EC_P256:
    case SEA_KEY_EC_P384: {
        if ((r = label_free(c, se, p->label, CKO_PRIVATE_KEY)) != SEA_OK)
            return r;
        CK_MECHANISM m = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
        const uint8_t *oid = p->type == SEA_KEY_EC_P256 ? OID_P256 : OID_P384;
        size_t oidlen = p->type == SEA_KEY_EC_P256 ? sizeof(OID_P256) : sizeof(OID_P384);
        common_key_attrs(&a, p, CKO_PUBLIC_KEY);
        t_ulong(&a, CKA_KEY_TYPE, CKK_EC);
        t_bytes(&a, CKA_EC_PARAMS, oid, oidlen);
        common_key_attrs(&b, p, CKO_PRIVATE_KEY);
        t_ulong(&b, CKA_KEY_TYPE, CKK_EC);
        rv = core_generate_key_pair(c, se->h, &m, a.a, a.n, b.a, b.n, &hp, &hk);
        if (rv == CKR_OK && pub)
            *pub = hp;
        break;
    }
    case SEA_KEY_RSA_2048:
    case SEA_KEY_RSA_3072:
    case SEA_KEY_RSA_4096:
    case SEA_KEY_ED25519: {
        if ((r = label_free(c, se, p->label, CKO_PRIVATE_KEY)) != SEA_OK)
            return r;
        bool ed = p->type == SEA_KEY_ED25519;
        CK_MECHANISM m = {ed ? CKM_EC_EDWARDS_KEY_PAIR_GEN : CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
        CK_ULONG bits = p->type == SEA_KEY_RSA_2048   ? 2048
                        : p->type == SEA_KEY_RSA_3072 ? 3072
                                                      : 4096;
        common_key_attrs(&a, p, CKO_PUBLIC_KEY);
        t_ulong(&a, CKA_KEY_TYPE, ed ? CKK_EC_EDWARDS : CKK_RSA);
        if (ed)
            t_bytes(&a, CKA_EC_PARAMS, OID_ED25519, sizeof(OID_ED25519));
        else
            t_ulong(&a, CKA_MODULUS_BITS, bits);
        common_key_attrs(&b, p, CKO_PRIVATE_KEY);
        t_ulong(&b, CKA_KEY_TYPE, ed ? CKK_EC_EDWARDS : CKK_RSA);
        rv = core_generate_key_pair(c, se->h, &m, a.a, a.n, b.a, b.n, &hp, &hk);
        if (rv == CKR_OK && pub)
            *pub = hp;
        break;
    }
    case SEA_KEY_AES:
    case SEA_KEY_GENERIC_SECRET: {
        REQUIRE(p->bits && p->bits % 8 == 0, "bits must be a positive multiple of 8");
        if ((r = label_free(c, se, p->label, CKO_SECRET_KEY)) != SEA_OK)
            return r;
        CK_MECHANISM m = {p->type == SEA_KEY_AES ? CKM_AES_KEY_GEN : CKM_GENERIC_SECRET_KEY_GEN,
                          NULL, 0};
        common_key_attrs(&b, p, CKO_SECRET_KEY);
        t_ulong(&b, CKA_KEY_TYPE, p->type == SEA_KEY_AES ? CKK_AES : CKK_GENERIC_SECRET);
        t_ulong(&b, CKA_VALUE_LEN, p->bits / 8);
        rv = core_generate_key(c, se->h, &m, b.a, b.n, &hk);
        break;
    }
    default:
        return bad_args(__func__, "unknown key type");
    }
    if (rv == CKR_OK)
        *key = hk;
    return ret(rv, "generating the key");
}

sea_rv sea_key_import_secret(sea_se *se, const sea_key_params *p, const uint8_t *value, size_t len,
                             sea_obj *key)
{
    ENTER_SE(se);
    sea_rv r = check_key_params(p, __func__);
    if (r != SEA_OK)
        return r;
    REQUIRE(value && len, "value is empty");
    REQUIRE(key, "key is NULL");
    REQUIRE(p->type == SEA_KEY_AES || p->type == SEA_KEY_GENERIC_SECRET,
            "only AES and generic secret keys are imported this way");
    if ((r = label_free(c, se, p->label, CKO_SECRET_KEY)) != SEA_OK)
        return r;
    struct tmpl t = {0};
    common_key_attrs(&t, p, CKO_SECRET_KEY);
    t_ulong(&t, CKA_KEY_TYPE, p->type == SEA_KEY_AES ? CKK_AES : CKK_GENERIC_SECRET);
    t_bytes(&t, CKA_VALUE, value, len);
    CK_OBJECT_HANDLE h;
    CK_RV rv = core_create_object(c, se->h, t.a, t.n, 0, &h);
    if (rv == CKR_OK)
        *key = h;
    return ret(rv, "importing the key");
}

/* Append a parsed attribute set to a template (values point into the set). */
static void t_attrs(struct tmpl *t, const struct attrs *a)
{
    for (size_t i = 0; i < a->n && t->n < TMPL_MAX; i++)
        t_bytes(t, a->v[i].type, a->v[i].val, a->v[i].len);
}

sea_rv sea_key_import_private(sea_se *se, const sea_key_params *p, const uint8_t *pem_or_der,
                              size_t len, sea_obj *key, sea_obj *pub)
{
    ENTER_SE(se);
    sea_rv r = check_key_params(p, __func__);
    if (r != SEA_OK)
        return r;
    REQUIRE(pem_or_der && len, "the key data is empty");
    REQUIRE(key, "key is NULL");
    if ((r = label_free(c, se, p->label, CKO_PRIVATE_KEY)) != SEA_OK)
        return r;
    struct attrs *pa = attrs_new(), *qa = attrs_new();
    CK_OBJECT_HANDLE hk = 0, hp = 0;
    CK_RV rv = pa && qa ? crypto_parse_private_key(pem_or_der, len, pa, qa) : CKR_HOST_MEMORY;
    if (rv != CKR_OK) {
        err_default(ORIGIN_CORE, rv, "the private key could not be read");
        goto out;
    }
    sea_key_params kp = *p;
    kp.type = SEA_KEY_EC_P256; /* only for default_usage: signing */
    struct tmpl q = {0}, t = {0};
    common_key_attrs(&q, &kp, CKO_PRIVATE_KEY);
    t_attrs(&q, qa);
    rv = core_create_object(c, se->h, q.a, q.n, 0, &hk);
    if (rv != CKR_OK)
        goto out;
    common_key_attrs(&t, &kp, CKO_PUBLIC_KEY);
    t_attrs(&t, pa);
    rv = core_create_object(c, se->h, t.a, t.n, 0, &hp);
    if (rv != CKR_OK) {
        core_destroy_object(c, se->h, hk); /* all or nothing */
        goto out;
    }
    *key = hk;
    if (pub)
        *pub = hp;
out:
    attrs_unref(pa);
    attrs_unref(qa);
    return ret(rv, "importing the private key");
}

/* ---- finding objects ---- */

static bool uri_names_se(const struct p11uri *u, const sea_se *se)
{
    if (u->token && strcmp(u->token, se->name) != 0)
        return false;
    if (u->serial && strcmp(u->serial, se->se_id) != 0)
        return false;
    if (u->has_slot_id && u->slot_id != se->slot)
        return false;
    return true;
}

sea_rv sea_object_find(sea_se *se, const char *label_or_uri, sea_class cls, sea_obj *obj)
{
    ENTER_SE(se);
    REQUIRE(label_or_uri && obj, "label_or_uri or obj is NULL");
    struct p11uri *u = NULL;
    CK_ATTRIBUTE t[4];
    CK_ULONG n = 0;
    CK_OBJECT_CLASS want = class_to_ck(cls), uricls = 0;
    if (strncasecmp(label_or_uri, "pkcs11:", 7) == 0) {
        CK_RV rv = uri_parse(label_or_uri, &u);
        if (rv != CKR_OK)
            return ret(rv, "reading the URI");
        if (!uri_names_se(u, se)) {
            uri_free(u);
            err_set(ORIGIN_API, CKR_OBJECT_HANDLE_INVALID, "the URI names another SE");
            return SEA_ERR_NOT_FOUND;
        }
        n = uri_object_template(u, t, &uricls);
        if (u->has_type && cls != SEA_CLASS_ANY && uricls != want) {
            uri_free(u);
            err_set(ORIGIN_API, CKR_OBJECT_HANDLE_INVALID, "the URI names another object type");
            return SEA_ERR_NOT_FOUND;
        }
    } else {
        t[n++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)label_or_uri, (CK_ULONG)strlen(label_or_uri)};
    }
    bool has_class = false;
    for (CK_ULONG i = 0; i < n; i++)
        has_class |= t[i].type == CKA_CLASS;
    if (cls != SEA_CLASS_ANY && !has_class)
        t[n++] = (CK_ATTRIBUTE){CKA_CLASS, &want, sizeof(want)};
    CK_OBJECT_HANDLE found[2];
    CK_ULONG count = 0;
    CK_RV rv = find(c, se->h, t, n, found, 2, &count);
    uri_free(u);
    if (rv != CKR_OK)
        return ret(rv, "searching the SE");
    if (count == 0) {
        CK_SESSION_INFO si;
        bool user = core_session_info(c, se->h, &si) == CKR_OK &&
                    (si.state == CKS_RW_USER_FUNCTIONS || si.state == CKS_RO_USER_FUNCTIONS);
        err_set(ORIGIN_API, CKR_OBJECT_HANDLE_INVALID, "no object matches '%s'%s", label_or_uri,
                user ? "" : " (private objects need a login)");
        return SEA_ERR_NOT_FOUND;
    }
    if (count > 1) {
        err_set(ORIGIN_API, CKR_SEA_EXISTS,
                "several objects match '%s': name the object type or use a URI with an id",
                label_or_uri);
        return SEA_ERR_EXISTS;
    }
    *obj = found[0];
    return SEA_OK;
}

sea_rv sea_object_list(sea_se *se, sea_class cls, sea_obj **list, size_t *count)
{
    ENTER_SE(se);
    REQUIRE(list && count, "list or count is NULL");
    CK_OBJECT_CLASS want = class_to_ck(cls);
    CK_ATTRIBUTE t = {CKA_CLASS, &want, sizeof(want)};
    CK_RV rv = core_find_init(c, se->h, &t, cls == SEA_CLASS_ANY ? 0 : 1);
    if (rv != CKR_OK)
        return ret(rv, "searching the SE");
    size_t cap = 64, n = 0;
    sea_obj *v = malloc(cap * sizeof(*v));
    for (;;) {
        CK_OBJECT_HANDLE buf[64];
        CK_ULONG got = 0;
        if (!v || (rv = core_find(c, se->h, buf, 64, &got)) != CKR_OK || got == 0)
            break;
        if (n + got > cap) {
            sea_obj *nv = realloc(v, (cap *= 2) * sizeof(*v));
            if (!nv) {
                free(v);
                v = NULL;
                break;
            }
            v = nv;
        }
        for (CK_ULONG i = 0; i < got; i++)
            v[n++] = buf[i];
    }
    core_find_final(c, se->h);
    if (!v)
        return SEA_ERR_NO_MEMORY;
    if (rv != CKR_OK) {
        free(v);
        return ret(rv, "searching the SE");
    }
    *list = v;
    *count = n;
    return SEA_OK;
}

/* One attribute into a fixed buffer; false if the object has no readable value for it. */
static bool get_attr(struct core *c, CK_SESSION_HANDLE h, sea_obj obj, CK_ATTRIBUTE_TYPE type,
                     void *buf, CK_ULONG *len)
{
    CK_ATTRIBUTE t = {type, buf, *len};
    if (core_get_attrs(c, h, obj, &t, 1) != CKR_OK)
        return false;
    *len = t.ulValueLen;
    return true;
}

static bool get_bool(struct core *c, CK_SESSION_HANDLE h, sea_obj obj, CK_ATTRIBUTE_TYPE type)
{
    CK_BBOOL b = CK_FALSE;
    CK_ULONG l = sizeof(b);
    return get_attr(c, h, obj, type, &b, &l) && b;
}

static CK_ULONG get_ulong(struct core *c, CK_SESSION_HANDLE h, sea_obj obj, CK_ATTRIBUTE_TYPE type,
                          CK_ULONG dflt)
{
    CK_ULONG v = dflt, l = sizeof(v);
    return get_attr(c, h, obj, type, &v, &l) && l == sizeof(v) ? v : dflt;
}

sea_rv sea_object_info_get(sea_se *se, sea_obj obj, sea_object_info *info)
{
    ENTER_SE(se);
    REQUIRE(info, "info is NULL");
    memset(info, 0, sizeof(*info));
    CK_OBJECT_CLASS cls;
    CK_ULONG l = sizeof(cls);
    CK_ATTRIBUTE t = {CKA_CLASS, &cls, l};
    CK_RV rv = core_get_attrs(c, se->h, obj, &t, 1);
    if (rv != CKR_OK)
        return ret(rv, "reading the object");
    info->cls = class_from_ck(cls);
    CK_ULONG kt = get_ulong(c, se->h, obj, CKA_KEY_TYPE, CK_UNAVAILABLE_INFORMATION);
    uint8_t params[64];
    CK_ULONG plen = sizeof(params);
    CK_ULONG bits = 0;
    if (kt == CKK_EC && get_attr(c, se->h, obj, CKA_EC_PARAMS, params, &plen)) {
        crypto_ec_curve(params, plen, &bits);
        info->key_type = bits == 384 ? SEA_KEY_EC_P384 : SEA_KEY_EC_P256;
    } else if (kt == CKK_RSA) {
        uint8_t n[4096 / 8 + 1];
        CK_ULONG nlen = sizeof(n);
        if (get_attr(c, se->h, obj, CKA_MODULUS, n, &nlen)) {
            size_t i = 0;
            while (i < nlen && n[i] == 0)
                i++;
            bits = 8 * (CK_ULONG)(nlen - i);
            for (uint8_t top = i < nlen ? n[i] : 0xff; !(top & 0x80); top <<= 1)
                bits--;
        }
        info->key_type = bits == 2048   ? SEA_KEY_RSA_2048
                         : bits == 3072 ? SEA_KEY_RSA_3072
                         : bits == 4096 ? SEA_KEY_RSA_4096
                                        : 0;
    } else if (kt == CKK_EC_EDWARDS) {
        info->key_type = SEA_KEY_ED25519;
        bits = 255;
    } else if (kt == CKK_AES) {
        info->key_type = SEA_KEY_AES;
        bits = 8 * get_ulong(c, se->h, obj, CKA_VALUE_LEN, 0);
    } else if (kt == CKK_GENERIC_SECRET || kt == CKK_SHA_1_HMAC || kt == CKK_SHA224_HMAC ||
               kt == CKK_SHA256_HMAC || kt == CKK_SHA384_HMAC || kt == CKK_SHA512_HMAC) {
        info->key_type = SEA_KEY_GENERIC_SECRET;
        bits = 8 * get_ulong(c, se->h, obj, CKA_VALUE_LEN, 0);
    }
    info->bits = (unsigned)bits;
    l = sizeof(info->label) - 1;
    if (get_attr(c, se->h, obj, CKA_LABEL, info->label, &l))
        info->label[l] = '\0';
    l = sizeof(info->id);
    if (get_attr(c, se->h, obj, CKA_ID, info->id, &l))
        info->id_len = l;
    if (get_bool(c, se->h, obj, CKA_SIGN))
        info->usage |= SEA_USE_SIGN;
    if (get_bool(c, se->h, obj, CKA_VERIFY))
        info->usage |= SEA_USE_VERIFY;
    if (get_bool(c, se->h, obj, CKA_ENCRYPT))
        info->usage |= SEA_USE_ENCRYPT;
    if (get_bool(c, se->h, obj, CKA_DECRYPT))
        info->usage |= SEA_USE_DECRYPT;
    if (get_bool(c, se->h, obj, CKA_DERIVE))
        info->usage |= SEA_USE_DERIVE;
    info->extractable = get_bool(c, se->h, obj, CKA_EXTRACTABLE);
    info->sensitive = get_bool(c, se->h, obj, CKA_SENSITIVE);
    info->local = get_bool(c, se->h, obj, CKA_LOCAL);
    info->is_private = get_bool(c, se->h, obj, CKA_PRIVATE);
    info->suid = get_ulong(c, se->h, obj, CKA_SEA_SUID, 0);
    l = sizeof(CK_DATE);
    if (get_attr(c, se->h, obj, CKA_START_DATE, info->start_date, &l) && l == sizeof(CK_DATE))
        info->start_date[8] = '\0';
    else
        info->start_date[0] = '\0';
    l = sizeof(CK_DATE);
    if (get_attr(c, se->h, obj, CKA_END_DATE, info->end_date, &l) && l == sizeof(CK_DATE))
        info->end_date[8] = '\0';
    else
        info->end_date[0] = '\0';
    char *uri = uri_format(se->name, se->se_id, info->label, info->id, info->id_len, true, cls);
    if (uri) {
        snprintf(info->uri, sizeof(info->uri), "%s", uri);
        free(uri);
    }
    err_clear(); /* attributes a class lacks are not an error here */
    return SEA_OK;
}

sea_rv sea_object_destroy(sea_se *se, sea_obj obj)
{
    ENTER_SE(se);
    return ret(core_destroy_object(c, se->h, obj), "destroying the object");
}

sea_rv sea_public_key(sea_se *se, sea_obj key, uint8_t *der, size_t *len)
{
    ENTER_SE(se);
    REQUIRE(len, "len is NULL");
    CK_ATTRIBUTE t = {CKA_PUBLIC_KEY_INFO, der, der ? (CK_ULONG)*len : 0};
    CK_RV rv = core_get_attrs(c, se->h, key, &t, 1);
    if (rv == CKR_OK && t.ulValueLen == 0)
        rv = err_set(ORIGIN_CORE, CKR_KEY_TYPE_INCONSISTENT, "the object has no public key");
    if (rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL) {
        if (rv == CKR_BUFFER_TOO_SMALL) {
            t.pValue = NULL;
            core_get_attrs(c, se->h, key, &t, 1);
        }
        *len = t.ulValueLen;
    }
    return ret(rv, "reading the public key");
}

/* ---- cryptography ---- */

static CK_MECHANISM_TYPE alg_mech(sea_alg alg)
{
    switch (alg) {
    case SEA_ALG_ECDSA:
        return CKM_ECDSA;
    case SEA_ALG_ECDSA_SHA256:
        return CKM_ECDSA_SHA256;
    case SEA_ALG_ECDSA_SHA384:
        return CKM_ECDSA_SHA384;
    case SEA_ALG_HMAC_SHA256:
        return CKM_SHA256_HMAC;
    case SEA_ALG_AES_GCM:
        return CKM_AES_GCM;
    case SEA_ALG_SHA256:
        return CKM_SHA256;
    case SEA_ALG_SHA384:
        return CKM_SHA384;
    case SEA_ALG_SHA512:
        return CKM_SHA512;
    case SEA_ALG_RSA_PKCS1_SHA256:
        return CKM_SHA256_RSA_PKCS;
    case SEA_ALG_RSA_PSS_SHA256:
        return CKM_SHA256_RSA_PKCS_PSS;
    case SEA_ALG_ED25519:
        return CKM_EDDSA;
    default:
        return CK_UNAVAILABLE_INFORMATION;
    }
}

static bool is_sig_alg(sea_alg alg)
{
    return alg == SEA_ALG_ECDSA || alg == SEA_ALG_ECDSA_SHA256 || alg == SEA_ALG_ECDSA_SHA384 ||
           alg == SEA_ALG_HMAC_SHA256 || alg == SEA_ALG_RSA_PKCS1_SHA256 ||
           alg == SEA_ALG_RSA_PSS_SHA256 || alg == SEA_ALG_ED25519;
}

/* The mechanism of a signature algorithm; PSS gets its parameters in *pss (salt = hash). */
static CK_MECHANISM sig_mech(sea_alg alg, CK_RSA_PKCS_PSS_PARAMS *pss)
{
    CK_MECHANISM m = {alg_mech(alg), NULL, 0};
    if (alg == SEA_ALG_RSA_PSS_SHA256) {
        *pss = (CK_RSA_PKCS_PSS_PARAMS){CKM_SHA256, CKG_MGF1_SHA256, 32};
        m.pParameter = pss;
        m.ulParameterLen = sizeof(*pss);
    }
    return m;
}

/* Init + single-part with the size-query convention of the native API. */
static sea_rv run_single(struct core *c, sea_se *se, enum sea_op op, const CK_MECHANISM *m,
                         sea_obj key, const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen,
                         const char *what)
{
    CK_RV rv = core_op_init(c, se->h, op, m, key);
    if (rv != CKR_OK)
        return ret(rv, what);
    CK_ULONG l = out ? (CK_ULONG)*outlen : 0;
    rv = core_op_single(c, se->h, op, in, inlen, out, &l);
    if (rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL)
        *outlen = l;
    if (!out || rv == CKR_BUFFER_TOO_SMALL)
        core_op_init(c, se->h, op, NULL, 0); /* end the operation a size query left open */
    return ret(rv, what);
}

sea_rv sea_sign(sea_se *se, sea_obj key, sea_alg alg, const uint8_t *msg, size_t msg_len,
                uint8_t *sig, size_t *sig_len)
{
    ENTER_SE(se);
    REQUIRE(msg || !msg_len, "msg is NULL");
    REQUIRE(sig_len, "sig_len is NULL");
    REQUIRE(is_sig_alg(alg), "not a signature algorithm");
    CK_RSA_PKCS_PSS_PARAMS pss;
    CK_MECHANISM m = sig_mech(alg, &pss);
    return run_single(c, se, OP_SIGN, &m, key, msg, msg_len, sig, sig_len, "signing");
}

sea_rv sea_verify(sea_se *se, sea_obj key, sea_alg alg, const uint8_t *msg, size_t msg_len,
                  const uint8_t *sig, size_t sig_len)
{
    ENTER_SE(se);
    REQUIRE(msg || !msg_len, "msg is NULL");
    REQUIRE(sig || !sig_len, "sig is NULL");
    REQUIRE(is_sig_alg(alg), "not a signature algorithm");
    CK_RSA_PKCS_PSS_PARAMS pss;
    CK_MECHANISM m = sig_mech(alg, &pss);
    CK_RV rv = core_op_init(c, se->h, OP_VERIFY, &m, key);
    if (rv == CKR_OK)
        rv = core_verify(c, se->h, msg, msg_len, sig, sig_len);
    return ret(rv, "verifying");
}

static sea_rv aead_op(sea_se *se, enum sea_op op, sea_obj key, sea_alg alg, const sea_aead *aead,
                      const uint8_t *in, size_t in_len, uint8_t *out, size_t *out_len,
                      const char *func)
{
    struct core *c = se->ctx->core;
    if (alg != SEA_ALG_AES_GCM)
        return bad_args(func, "only SEA_ALG_AES_GCM is an encryption algorithm");
    if (!aead || !aead->iv || !aead->iv_len)
        return bad_args(func, "AES-GCM needs an IV");
    if (aead->aad_len && !aead->aad)
        return bad_args(func, "aad is NULL");
    if ((!in && in_len) || !out_len)
        return bad_args(func, "in or out_len is NULL");
    CK_GCM_PARAMS gp = {(CK_BYTE_PTR)aead->iv,      (CK_ULONG)aead->iv_len,
                        (CK_ULONG)aead->iv_len * 8, (CK_BYTE_PTR)aead->aad,
                        (CK_ULONG)aead->aad_len,    aead->tag_bits ? aead->tag_bits : 128};
    CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
    return run_single(c, se, op, &m, key, in, in_len, out, out_len,
                      op == OP_ENCRYPT ? "encrypting" : "decrypting");
}

sea_rv sea_encrypt(sea_se *se, sea_obj key, sea_alg alg, const sea_aead *aead, const uint8_t *in,
                   size_t in_len, uint8_t *out, size_t *out_len)
{
    ENTER_SE(se);
    (void)c;
    return aead_op(se, OP_ENCRYPT, key, alg, aead, in, in_len, out, out_len, __func__);
}

sea_rv sea_decrypt(sea_se *se, sea_obj key, sea_alg alg, const sea_aead *aead, const uint8_t *in,
                   size_t in_len, uint8_t *out, size_t *out_len)
{
    ENTER_SE(se);
    (void)c;
    return aead_op(se, OP_DECRYPT, key, alg, aead, in, in_len, out, out_len, __func__);
}

sea_rv sea_digest(sea_se *se, sea_alg alg, const uint8_t *in, size_t in_len, uint8_t *out,
                  size_t *out_len)
{
    ENTER_SE(se);
    REQUIRE(in || !in_len, "in is NULL");
    REQUIRE(out_len, "out_len is NULL");
    REQUIRE(alg == SEA_ALG_SHA256 || alg == SEA_ALG_SHA384 || alg == SEA_ALG_SHA512,
            "not a digest algorithm");
    CK_MECHANISM m = {alg_mech(alg), NULL, 0};
    return run_single(c, se, OP_DIGEST, &m, CK_INVALID_HANDLE, in, in_len, out, out_len, "hashing");
}

sea_rv sea_random(sea_se *se, uint8_t *out, size_t len)
{
    ENTER_SE(se);
    REQUIRE(out || !len, "out is NULL");
    return ret(core_random(c, se->h, out, len), "drawing random bytes");
}

/* ---- sensitive data objects ---- */

static sea_rv check_rid(const char *rid, const char *func)
{
    if (!rid || !*rid || strlen(rid) > 255)
        return bad_args(func, "a resourceID has 1 to 255 bytes");
    return SEA_OK;
}

static sea_rv find_sdo(struct core *c, sea_se *se, const char *rid, CK_OBJECT_HANDLE *h)
{
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_ATTRIBUTE t[3] = {{CKA_CLASS, &cls, sizeof(cls)},
                         {CKA_LABEL, (void *)rid, (CK_ULONG)strlen(rid)},
                         {CKA_APPLICATION, (void *)SDO_APP, sizeof(SDO_APP) - 1}};
    CK_ULONG n = 0;
    CK_RV rv = find(c, se->h, t, 3, h, 1, &n);
    if (rv != CKR_OK)
        return ret(rv, "searching the SE");
    if (n == 0) {
        CK_SESSION_INFO si;
        bool user = core_session_info(c, se->h, &si) == CKR_OK &&
                    (si.state == CKS_RW_USER_FUNCTIONS || si.state == CKS_RO_USER_FUNCTIONS);
        err_set(ORIGIN_API, CKR_OBJECT_HANDLE_INVALID, "there is no sensitive data object '%s'%s",
                rid, user ? "" : " (a login is needed to see them)");
        return SEA_ERR_NOT_FOUND;
    }
    return SEA_OK;
}

sea_rv sea_data_create(sea_se *se, const char *resource_id, const char *creator,
                       const char *acp_ids, const uint8_t *data, size_t len)
{
    ENTER_SE(se);
    sea_rv r = check_rid(resource_id, __func__);
    if (r != SEA_OK)
        return r;
    REQUIRE(creator && *creator && strlen(creator) < 256, "the creator (AE-ID or CSE-ID) is "
                                                          "mandatory, at most 255 bytes");
    REQUIRE(!acp_ids || strlen(acp_ids) < 512, "acp_ids has at most 511 bytes");
    REQUIRE(data || !len, "data is NULL");
    struct tmpl t = {0};
    t_ulong(&t, CKA_CLASS, CKO_DATA);
    t_bool(&t, CKA_TOKEN, 1);
    t_bool(&t, CKA_PRIVATE, 1);
    t_bytes(&t, CKA_LABEL, resource_id, strlen(resource_id));
    t_bytes(&t, CKA_APPLICATION, SDO_APP, sizeof(SDO_APP) - 1);
    t_bytes(&t, CKA_SEA_CREATOR, creator, strlen(creator));
    if (acp_ids)
        t_bytes(&t, CKA_SEA_ACP, acp_ids, strlen(acp_ids));
    t_bytes(&t, CKA_VALUE, data ? (const void *)data : (const void *)"", len);
    CK_OBJECT_HANDLE h;
    CK_RV rv = core_create_object(c, se->h, t.a, t.n, OBJ_UNIQUE_LABEL, &h);
    if (rv == CKR_SEA_EXISTS) {
        err_set(ORIGIN_CORE, rv, "the SE already holds a data object '%s'", resource_id);
        return SEA_ERR_EXISTS;
    }
    return ret(rv, "storing the data object");
}

sea_rv sea_data_retrieve(sea_se *se, const char *resource_id, uint8_t *buf, size_t *len,
                         sea_data_info *info)
{
    ENTER_SE(se);
    sea_rv r = check_rid(resource_id, __func__);
    if (r != SEA_OK)
        return r;
    REQUIRE(len, "len is NULL");
    CK_OBJECT_HANDLE h;
    if ((r = find_sdo(c, se, resource_id, &h)) != SEA_OK)
        return r;
    CK_ATTRIBUTE t = {CKA_VALUE, buf, buf ? (CK_ULONG)*len : 0};
    CK_RV rv = core_get_attrs(c, se->h, h, &t, 1);
    if (rv == CKR_BUFFER_TOO_SMALL) {
        t.pValue = NULL;
        core_get_attrs(c, se->h, h, &t, 1);
    }
    if (rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL)
        *len = t.ulValueLen;
    if (rv == CKR_OK && info) {
        memset(info, 0, sizeof(*info));
        snprintf(info->resource_id, sizeof(info->resource_id), "%s", resource_id);
        CK_ULONG l = sizeof(info->creator) - 1;
        if (get_attr(c, se->h, h, CKA_SEA_CREATOR, info->creator, &l))
            info->creator[l] = '\0';
        l = sizeof(info->acp_ids) - 1;
        if (get_attr(c, se->h, h, CKA_SEA_ACP, info->acp_ids, &l))
            info->acp_ids[l] = '\0';
        info->size = t.ulValueLen;
        info->creation_time = (int64_t)get_ulong(c, se->h, h, CKA_SEA_CREATION_TIME, 0);
        info->last_modified = (int64_t)get_ulong(c, se->h, h, CKA_SEA_MODIFIED_TIME, 0);
        err_clear();
    }
    return ret(rv, "reading the data object");
}

/* Whether the object h still has the creator and ACP ids an access decision was made on
 * (expect NULL: no decision to keep). A data object deleted and recreated meanwhile by another
 * creator is another handle, or fails this. */
static sea_rv sdo_same(struct core *c, sea_se *se, CK_OBJECT_HANDLE h, const sea_data_info *expect)
{
    if (!expect)
        return SEA_OK;
    char cr[256], acp[512];
    CK_ULONG lc = sizeof(cr) - 1, la = sizeof(acp) - 1;
    if (!get_attr(c, se->h, h, CKA_SEA_CREATOR, cr, &lc))
        lc = 0;
    if (!get_attr(c, se->h, h, CKA_SEA_ACP, acp, &la))
        la = 0;
    cr[lc] = '\0';
    acp[la] = '\0';
    err_clear();
    if (strcmp(cr, expect->creator) != 0 || strcmp(acp, expect->acp_ids) != 0) {
        err_set(ORIGIN_API, CKR_ACTION_PROHIBITED,
                "the data object '%s' changed its creator or access control policy meanwhile",
                expect->resource_id);
        return SEA_ERR_DENIED;
    }
    return SEA_OK;
}

/* Replace the value, the ACP ids or both in one atomic change (the Mcs UPDATE). */
static sea_rv data_update(sea_se *se, const char *resource_id, const uint8_t *data, size_t len,
                          bool set_data, const char *acp_ids, bool set_acp, const char *func,
                          const sea_data_info *expect)
{
    struct core *c = se->ctx->core;
    sea_rv r = check_rid(resource_id, func);
    if (r != SEA_OK)
        return r;
    if (set_data && !data && len)
        return bad_args(func, "data is NULL");
    if (set_acp && acp_ids && strlen(acp_ids) >= 512)
        return bad_args(func, "acp_ids has at most 511 bytes");
    CK_OBJECT_HANDLE h;
    if ((r = find_sdo(c, se, resource_id, &h)) != SEA_OK ||
        (r = sdo_same(c, se, h, expect)) != SEA_OK)
        return r;
    CK_ATTRIBUTE t[2];
    CK_ULONG n = 0;
    if (set_data)
        t[n++] = (CK_ATTRIBUTE){CKA_VALUE, data ? (void *)data : (void *)"", (CK_ULONG)len};
    if (set_acp)
        t[n++] = (CK_ATTRIBUTE){CKA_SEA_ACP, acp_ids ? (void *)acp_ids : (void *)"",
                                acp_ids ? (CK_ULONG)strlen(acp_ids) : 0};
    return ret(core_set_attrs(c, se->h, h, t, n), "updating the data object");
}

sea_rv sea_data_update(sea_se *se, const char *resource_id, const uint8_t *data, size_t len)
{
    ENTER_SE(se);
    (void)c;
    return data_update(se, resource_id, data, len, true, NULL, false, __func__, NULL);
}

sea_rv sea_data_set_acp(sea_se *se, const char *resource_id, const char *acp_ids)
{
    ENTER_SE(se);
    (void)c;
    return data_update(se, resource_id, NULL, 0, false, acp_ids, true, __func__, NULL);
}

sea_rv sea_data_delete(sea_se *se, const char *resource_id)
{
    ENTER_SE(se);
    sea_rv r = check_rid(resource_id, __func__);
    if (r != SEA_OK)
        return r;
    CK_OBJECT_HANDLE h;
    if ((r = find_sdo(c, se, resource_id, &h)) != SEA_OK)
        return r;
    return ret(core_destroy_object(c, se->h, h), "deleting the data object");
}

/* ---- for the Mcs dispatcher (provider/mcs*.c; hidden, see mcs.h) ---- */

sea_ctx *api_se_ctx(sea_se *se)
{
    return se->ctx;
}

const char *api_se_id(const sea_se *se)
{
    return se->se_id;
}

bool api_ctx_stale(sea_ctx *ctx)
{
    return core_stale(ctx->core);
}

sea_rv api_data_update(sea_se *se, const char *resource_id, const uint8_t *data, size_t len,
                       bool set_data, const char *acp_ids, bool set_acp,
                       const sea_data_info *expect)
{
    return data_update(se, resource_id, data, len, set_data, acp_ids, set_acp, "update", expect);
}

sea_rv api_data_delete(sea_se *se, const char *resource_id, const sea_data_info *expect)
{
    ENTER_SE(se);
    sea_rv r = check_rid(resource_id, "delete");
    if (r != SEA_OK)
        return r;
    CK_OBJECT_HANDLE h;
    if ((r = find_sdo(c, se, resource_id, &h)) != SEA_OK ||
        (r = sdo_same(c, se, h, expect)) != SEA_OK)
        return r;
    return ret(core_destroy_object(c, se->h, h), "deleting the data object");
}

/* Which TS-0016 resource types the device of the slot can serve (API_CAP_*). */
static unsigned slot_resource_caps(struct core *c, CK_SLOT_ID slot)
{
    unsigned flags = 0, caps = 0;
    if (core_slot_devcaps(c, slot, &flags) != CKR_OK)
        return 0;
    if (flags & DEVCAP_STORE_DATA)
        caps |= API_CAP_SDO;
    if (flags & DEVCAP_RNG)
        caps |= API_CAP_RAND;
    CK_ULONG n = 0;
    if (core_mech_list(c, slot, NULL, &n) != CKR_OK || n == 0)
        return caps;
    CK_MECHANISM_TYPE *list = calloc(n, sizeof(*list));
    if (!list || core_mech_list(c, slot, list, &n) != CKR_OK) {
        free(list);
        return caps;
    }
    for (CK_ULONG i = 0; i < n; i++) {
        CK_MECHANISM_INFO mi;
        if (core_mech_info(c, slot, list[i], &mi) != CKR_OK)
            continue;
        if (mi.flags & (CKF_ENCRYPT | CKF_DECRYPT))
            caps |= API_CAP_CIPHER;
        if (mi.flags & (CKF_SIGN | CKF_VERIFY))
            caps |= API_CAP_SIGNATURE;
        if (mi.flags & CKF_DIGEST)
            caps |= API_CAP_HASH;
        if (mi.flags & CKF_GENERATE_KEY_PAIR)
            caps |= API_CAP_IDENTITY;
        if (mi.flags & (CKF_GENERATE | CKF_DERIVE))
            caps |= API_CAP_SECURE_CONNECTION;
    }
    free(list);
    err_clear();
    return caps;
}

sea_rv api_se_describe(sea_ctx *ctx, const char *name_or_id, sea_se_info *info, unsigned *caps)
{
    struct core_se_info s;
    sea_rv r = lookup_se(ctx->core, name_or_id, &s);
    if (r != SEA_OK)
        return r;
    to_se_info(&s, info);
    *caps = slot_resource_caps(ctx->core, s.slot);
    return SEA_OK;
}

/* ---- oneM2M key derivations (TS-0003 10.3) ---- */

sea_rv sea_derive_onem2m(sea_se *se, sea_obj base, const sea_derive_params *d,
                         const sea_key_params *key, sea_obj *out)
{
    ENTER_SE(se);
    sea_rv r = check_key_params(key, __func__);
    if (r != SEA_OK)
        return r;
    REQUIRE(d, "the derivation is NULL");
    REQUIRE(out, "out is NULL");
    REQUIRE(d->input || !d->input_len, "input is NULL but has a length");
    REQUIRE(key->type == SEA_KEY_GENERIC_SECRET || key->type == SEA_KEY_AES,
            "a derived key is a generic secret or an AES key");
    union {
        CK_SEA_ONEM2M_ID_PARAMS id;
        CK_SEA_ONEM2M_USAGE_PARAMS usage;
        CK_SEA_ONEM2M_KE2E_MASTER_PARAMS master;
        CK_SEA_ONEM2M_KE2E_KEY_PARAMS e2e;
        CK_SEA_ONEM2M_ESPRIM_PARAMS esprim;
        CK_SEA_ONEM2M_SPLIT_PARAMS split;
    } u;
    CK_MECHANISM m = {0, &u, 0};
    uint8_t *in = (uint8_t *)d->input;
    switch (d->kdf) {
    case SEA_KDF_KM:
    case SEA_KDF_KPSA:
        m.mechanism = d->kdf == SEA_KDF_KM ? CKM_SEA_ONEM2M_KM : CKM_SEA_ONEM2M_KPSA;
        u.id = (CK_SEA_ONEM2M_ID_PARAMS){in, d->input_len};
        m.ulParameterLen = sizeof(u.id);
        break;
    case SEA_KDF_USAGE:
        m.mechanism = CKM_SEA_ONEM2M_USAGE_KEY;
        u.usage = (CK_SEA_ONEM2M_USAGE_PARAMS){d->suid, in, d->input_len};
        m.ulParameterLen = sizeof(u.usage);
        break;
    case SEA_KDF_KE2E_MASTER:
        m.mechanism = CKM_SEA_ONEM2M_KE2E_MASTER;
        u.master = (CK_SEA_ONEM2M_KE2E_MASTER_PARAMS){in, d->input_len};
        m.ulParameterLen = sizeof(u.master);
        break;
    case SEA_KDF_KE2E_MSG_AUTH:
    case SEA_KDF_KE2E_MSG_CONF:
    case SEA_KDF_KE2E_ATT_AUTH:
    case SEA_KDF_KE2E_ATT_CONF:
        REQUIRE(!d->input_len, "the E2E keys take no input");
        m.mechanism = CKM_SEA_ONEM2M_KE2E_KEY;
        u.e2e.ulKey = CK_SEA_KE2E_MSG_AUTH + (CK_ULONG)(d->kdf - SEA_KDF_KE2E_MSG_AUTH);
        m.ulParameterLen = sizeof(u.e2e);
        break;
    case SEA_KDF_SESSION_ESPRIM:
        REQUIRE(d->input_len == 32, "the input is the two 16-byte esprimRandValues");
        m.mechanism = CKM_SEA_ONEM2M_SESSION_ESPRIM;
        u.esprim = (CK_SEA_ONEM2M_ESPRIM_PARAMS){in, 16, in + 16, 16};
        m.ulParameterLen = sizeof(u.esprim);
        break;
    case SEA_KDF_EXPORTER_SPLIT:
        REQUIRE(d->id_out, "id_out is NULL");
        REQUIRE(!d->input_len, "the split takes no input");
        m.mechanism = CKM_SEA_ONEM2M_EXPORTER_SPLIT;
        u.split = (CK_SEA_ONEM2M_SPLIT_PARAMS){d->id_out, 16};
        m.ulParameterLen = sizeof(u.split);
        break;
    default:
        return bad_args(__func__, "unknown derivation");
    }
    unsigned bits = key->bits ? key->bits : 256;
    REQUIRE(bits == 256 || (key->type == SEA_KEY_AES && (bits == 128 || bits == 192)),
            "the derived key has 256 bits (AES: 128, 192 or 256)");
    if ((r = label_free(c, se, key->label, CKO_SECRET_KEY)) != SEA_OK)
        return r;
    struct tmpl t = {0};
    common_key_attrs(&t, key, CKO_SECRET_KEY);
    t_ulong(&t, CKA_KEY_TYPE, key->type == SEA_KEY_AES ? CKK_AES : CKK_GENERIC_SECRET);
    t_ulong(&t, CKA_VALUE_LEN, bits / 8);
    CK_OBJECT_HANDLE h;
    CK_RV rv = core_derive_key(c, se->h, &m, base, t.a, t.n, &h);
    if (rv == CKR_OK)
        *out = h;
    return ret(rv, "deriving the key");
}

/* ---- TLS-PSK for the security association frameworks (TS-0003 8.2.2) ---- */

sea_rv sea_psk_find(sea_se *se, sea_psk_kind kind, const char *psk_identity, size_t identity_len,
                    uint8_t *psk, size_t *psk_len)
{
    ENTER_SE(se);
    REQUIRE(psk_identity, "psk_identity is NULL");
    REQUIRE(psk_len, "psk_len is NULL");
    REQUIRE(kind >= SEA_PSK_KPSA && kind <= SEA_PSK_KPM, "unknown PSK kind");
    static const int id_kind[] = {0, SEA_ID_KPSA, SEA_ID_MAF_KEY, SEA_ID_KM, 0};
    static const enum usage_op use[] = {USE_PSK_SAEF, USE_PSK_SAEF, USE_PSK_SAEF, USE_PSK_MAF,
                                        USE_PSK_MEF};
    static const char *const what[] = {"", "KpsaID", "MAF key identifier", "KmID", "KpmID"};
    char id[SEA_ID_MAX + 1];
    size_t n = 0;
    if (kind == SEA_PSK_KPM) {
        /* TS-0003 8.3.2.1 gives the KpmID no format: its bytes as they are */
        REQUIRE(identity_len >= 1 && identity_len <= SEA_ID_MAX, "a KpmID has 1 to 1024 bytes");
        REQUIRE(!memchr(psk_identity, 0, identity_len), "the KpmID has a NUL byte");
        memcpy(id, psk_identity, identity_len);
        n = identity_len;
        id[n] = '\0';
    } else if (id_canonical(id_kind[kind], psk_identity, identity_len, id, &n) != CKR_OK) {
        return SEA_ERR_ARGS;
    }
    /* shown in messages only if printable (a KpmID may be anything) */
    bool printable = true;
    for (size_t i = 0; i < n; i++)
        printable &= id[i] > 0x20 && id[i] < 0x7f;
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE t[2] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_ID, id, (CK_ULONG)n}};
    CK_OBJECT_HANDLE found[2];
    CK_ULONG count = 0;
    CK_RV rv = find(c, se->h, t, 2, found, 2, &count);
    if (rv != CKR_OK)
        return ret(rv, "searching the SE");
    if (count == 0) {
        CK_SESSION_INFO si;
        bool user = core_session_info(c, se->h, &si) == CKR_OK &&
                    (si.state == CKS_RW_USER_FUNCTIONS || si.state == CKS_RO_USER_FUNCTIONS);
        err_set(ORIGIN_API, CKR_OBJECT_HANDLE_INVALID,
                "no secret key has the %s '%.100s' as its id%s", what[kind],
                printable ? id : "(not printable)",
                user ? "" : " (a login is needed to see private keys)");
        return SEA_ERR_NOT_FOUND;
    }
    if (count > 1) {
        err_set(ORIGIN_API, CKR_SEA_EXISTS,
                "several secret keys have the %s '%.100s' as their id: it must name one key",
                what[kind], printable ? id : "(not printable)");
        return SEA_ERR_EXISTS;
    }
    return ret(core_psk_value(c, se->h, found[0], use[kind], psk, psk_len), "releasing the PSK");
}

/* ---- for the other files of the native face (api_int.h) ---- */

struct core *api_core(sea_se *se, CK_SESSION_HANDLE *h)
{
    *h = se->h;
    return se->ctx->core;
}

sea_rv api_status(CK_RV rv, const char *what)
{
    return ret(rv, what);
}

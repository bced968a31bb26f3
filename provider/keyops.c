/* Key wrapping, unwrapping and derivation (C_WrapKey, C_UnwrapKey, C_DeriveKey): the rules of
 * PKCS#11 3.0 on the keys, mechanisms and templates involved. The device runs the mechanism and
 * keeps the key material (backend.h: wrap, unwrap, derive); the core sees attributes only. */
#include <stdio.h>
#include <stdlib.h>

#include "core_int.h"
#include "crypto.h"
#include "error.h"
#include "schema.h"
#include "usage.h"

#define SEA_MAX_WRAPPED_LEN 65536

/* The role a key plays in the call, with the codes the standard gives for it. */
struct role {
    const char *what;
    CK_RV handle_invalid, type_inconsistent, size_range;
    CK_ATTRIBUTE_TYPE purpose;        /* CKA_WRAP, CKA_UNWRAP, CKA_DERIVE */
    CK_OBJECT_CLASS cls[2];           /* classes that can play it */
};

static const struct role wrapping = {"wrapping key", CKR_WRAPPING_KEY_HANDLE_INVALID,
                                     CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
                                     CKR_WRAPPING_KEY_SIZE_RANGE, CKA_WRAP,
                                     {CKO_SECRET_KEY, CKO_PUBLIC_KEY}};
static const struct role unwrapping = {"unwrapping key", CKR_UNWRAPPING_KEY_HANDLE_INVALID,
                                       CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
                                       CKR_UNWRAPPING_KEY_SIZE_RANGE, CKA_UNWRAP,
                                       {CKO_SECRET_KEY, CKO_PRIVATE_KEY}};
static const struct role base_key = {"base key", CKR_KEY_HANDLE_INVALID,
                                     CKR_KEY_TYPE_INCONSISTENT, CKR_KEY_SIZE_RANGE, CKA_DERIVE,
                                     {CKO_SECRET_KEY, CKO_PRIVATE_KEY}};
static const struct role target = {"key to wrap", CKR_KEY_HANDLE_INVALID, CKR_KEY_NOT_WRAPPABLE,
                                   CKR_KEY_SIZE_RANGE, 0, {CKO_SECRET_KEY, CKO_PRIVATE_KEY}};
static const struct role salt_key = {"HKDF salt key", CKR_KEY_HANDLE_INVALID,
                                     CKR_MECHANISM_PARAM_INVALID, CKR_KEY_SIZE_RANGE, CKA_DERIVE,
                                     {CKO_SECRET_KEY, CKO_SECRET_KEY}};

/* The attributes of key h as this session may see them. */
static CK_RV get_key(struct core *c, struct session *s, CK_OBJECT_HANDLE h, const struct role *r,
                     struct attrs **out)
{
    struct se *se = s->se;
    struct attrs *a = NULL;
    CK_RV rv = sess_sync_login(c, s, se->dev->ops->obj_attrs(se->dev->bdev, se->seq, h, &a));
    if (rv == CKR_USER_NOT_LOGGED_IN)
        return err_set(ORIGIN_CORE, rv, "the %s is private: log in as the user first", r->what);
    if (rv != CKR_OK)
        return err_default(ORIGIN_CORE, rv == CKR_OBJECT_HANDLE_INVALID ? r->handle_invalid : rv,
                           "the %s (%lu) is not available", r->what, h);
    if (!obj_visible(sess_user(c, s), a)) {
        attrs_unref(a);
        return err_set(ORIGIN_CORE, CKR_USER_NOT_LOGGED_IN,
                       "the %s is private: log in as the user first", r->what);
    }
    CK_OBJECT_CLASS cls = attrs_get_ulong(a, CKA_CLASS, CK_UNAVAILABLE_INFORMATION);
    if (cls != r->cls[0] && cls != r->cls[1]) {
        attrs_unref(a);
        return err_set(ORIGIN_CORE, r->type_inconsistent, "object %lu cannot be the %s", h,
                       r->what);
    }
    *out = a;
    return CKR_OK;
}

/* The mechanism: known for this purpose, its parameter well formed, offered by the device. */
static CK_RV get_mech(struct session *s, const CK_MECHANISM *m, CK_FLAGS flag,
                      const struct mech_desc **md, const struct bmech **b)
{
    *md = mech_find(m->mechanism);
    if (!*md || !((*md)->ops & flag))
        return err_set(ORIGIN_CORE, CKR_MECHANISM_INVALID, "mechanism 0x%lx cannot do this",
                       m->mechanism);
    if (((*md)->flags & MF_NO_PARAMS) && (m->pParameter || m->ulParameterLen))
        return err_set(ORIGIN_API, CKR_MECHANISM_PARAM_INVALID, "%s takes no parameter",
                       (*md)->name);
    if (!m->pParameter && m->ulParameterLen)
        return err_set(ORIGIN_API, CKR_MECHANISM_PARAM_INVALID,
                       "the mechanism parameter is NULL but has a length");
    *b = mech_device(&s->se->dev->caps, m->mechanism);
    if (!*b || !((*b)->flags & flag))
        return err_set(ORIGIN_CORE, CKR_MECHANISM_INVALID, "device %s does not offer %s for this",
                       s->se->dev->name, (*md)->name);
    return CKR_OK;
}

/* The key against the mechanism and its role, in the order ops.c checks them. */
static CK_RV check_role(const struct attrs *a, const struct mech_desc *md, const struct bmech *b,
                        const struct role *r)
{
    CK_ULONG size = op_key_size(a);
    if (!mech_key_type_ok(md, attrs_get_ulong(a, CKA_KEY_TYPE, CK_UNAVAILABLE_INFORMATION)))
        return err_set(ORIGIN_CORE, r->type_inconsistent, "%s cannot use this %s", md->name,
                       r->what);
    if (!attrs_get_bool(a, r->purpose, false))
        return err_set(ORIGIN_CORE, CKR_KEY_FUNCTION_NOT_PERMITTED,
                       "the %s's attributes do not allow this use", r->what);
    /* such a key wants the PIN again for each use, and these functions have no Init after
     * which a C_Login(CKU_CONTEXT_SPECIFIC) could come: refuse rather than skip the PIN */
    if (attrs_get_bool(a, CKA_ALWAYS_AUTHENTICATE, false))
        return err_set(ORIGIN_CORE, CKR_KEY_FUNCTION_NOT_PERMITTED,
                       "the %s has CKA_ALWAYS_AUTHENTICATE: it can only sign or decrypt", r->what);
    if (!op_mechanism_allowed(a, md->type))
        return err_set(ORIGIN_CORE, CKR_MECHANISM_INVALID,
                       "%s is not in the %s's CKA_ALLOWED_MECHANISMS", md->name, r->what);
    if (size && (size < b->min_key || size > b->max_key))
        return err_set(ORIGIN_CORE, r->size_range, "the %s's size %lu is outside %lu..%lu",
                       r->what, size, b->min_key, b->max_key);
    /* its SUID and validity dates (usage.h): a key past its CKA_END_DATE derives nothing */
    return usage_check(a,
                       r->purpose == CKA_WRAP     ? USE_WRAP
                       : r->purpose == CKA_UNWRAP ? USE_UNWRAP
                                                  : USE_DERIVE,
                       md->type);
}

/* The attributes of a key's CKA_xxx_TEMPLATE, or NULL if it has none. */
static CK_RV inner_template(const struct attrs *key, CK_ATTRIBUTE_TYPE t, struct attrs **out)
{
    const struct attr *x = attrs_find(key, t);
    *out = NULL;
    if (!x || x->len == 0)
        return CKR_OK;
    CK_RV rv = attrs_decode(x->val, x->len, false, out);
    return rv == CKR_OK ? rv : err_set(ORIGIN_CORE, CKR_GENERAL_ERROR, "a stored template is bad");
}

static bool same_value(const struct attr *x, const struct attr *y)
{
    return x && y && x->len == y->len && memcmp(x->val, y->val, x->len) == 0;
}

/* Merge a key's unwrap or derive template into the caller's: what it names is added, and a
 * caller's value that differs is CKR_TEMPLATE_INCONSISTENT (PKCS#11 3.0 4.9). */
static CK_RV merge_template(struct attrs *given, const struct attrs *key, CK_ATTRIBUTE_TYPE t)
{
    struct attrs *tmpl = NULL;
    CK_RV rv = inner_template(key, t, &tmpl);
    for (size_t i = 0; rv == CKR_OK && tmpl && i < tmpl->n; i++) {
        const struct attr *x = &tmpl->v[i], *y = attrs_find(given, x->type);
        if (y && !same_value(x, y))
            rv = err_set(ORIGIN_CORE, CKR_TEMPLATE_INCONSISTENT,
                         "attribute 0x%lx contradicts the key's %s", x->type,
                         t == CKA_UNWRAP_TEMPLATE ? "CKA_UNWRAP_TEMPLATE" : "CKA_DERIVE_TEMPLATE");
        else if (!y)
            rv = attrs_set(given, x->type, x->val, x->len);
    }
    attrs_unref(tmpl);
    return rv;
}

/* Store flags of a new object, refusing session objects on a device that keeps none. */
static CK_RV new_flags(struct session *s, const struct attrs *a, unsigned *flags)
{
    bool token = attrs_get_bool(a, CKA_TOKEN, false);
    if (!token && !(s->se->dev->caps.flags & DEVCAP_SESSION_OBJ))
        return err_set(ORIGIN_CORE, CKR_TEMPLATE_INCONSISTENT,
                       "device %s keeps no session objects: set CKA_TOKEN", s->se->dev->name);
    *flags = token ? 0 : OBJ_SESSION;
    return CKR_OK;
}

/* A session object just made belongs to the session (destroyed with it). */
static CK_RV track_new(struct session *s, unsigned flags, CK_OBJECT_HANDLE h)
{
    CK_RV rv = CKR_OK;
    if ((flags & OBJ_SESSION) && (rv = obj_track(s, h)) != CKR_OK) {
        s->se->dev->ops->obj_destroy(s->se->dev->bdev, s->se->seq, h);
        err_set(ORIGIN_CORE, rv, "out of memory for the session's objects");
    }
    return rv;
}

static CK_RV template_in(const CK_ATTRIBUTE *t, CK_ULONG n, struct attrs **out)
{
    struct attrs *a = attrs_new();
    CK_RV rv = a ? attrs_from_template(a, t, n) : CKR_HOST_MEMORY;
    if (rv != CKR_OK) {
        attrs_unref(a);
        return err_set(ORIGIN_CORE, rv, "the template is malformed");
    }
    *out = a;
    return CKR_OK;
}

CK_RV core_wrap_key(struct core *c, CK_SESSION_HANDLE h, const CK_MECHANISM *m,
                    CK_OBJECT_HANDLE hw, CK_OBJECT_HANDLE hk, uint8_t *out, CK_ULONG *outlen)
{
    struct session *s;
    struct attrs *wa = NULL, *ka = NULL, *tmpl = NULL;
    const struct mech_desc *md;
    const struct bmech *b;
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    struct se *se = s->se;
    if (!se->dev->ops->wrap) {
        rv = err_set(ORIGIN_CORE, CKR_FUNCTION_NOT_SUPPORTED, "device %s cannot wrap keys",
                     se->dev->name);
        goto out;
    }
    if ((rv = get_mech(s, m, CKF_WRAP, &md, &b)) != CKR_OK ||
        (rv = get_key(c, s, hw, &wrapping, &wa)) != CKR_OK ||
        (rv = check_role(wa, md, b, &wrapping)) != CKR_OK ||
        (rv = get_key(c, s, hk, &target, &ka)) != CKR_OK)
        goto out;
    /* a key outside its validity dates does not leave the SE, wrapped or not */
    if (usage_check_dates(ka) != CKR_OK) {
        char why[256];
        snprintf(why, sizeof(why), "%s", err_get()->msg);
        err_clear(); /* the answer is CKR_KEY_NOT_WRAPPABLE, with the reason */
        rv = err_set(ORIGIN_CORE, CKR_KEY_NOT_WRAPPABLE, "the key cannot be wrapped: %s", why);
        goto out;
    }
    if (!attrs_get_bool(ka, CKA_EXTRACTABLE, false)) {
        rv = err_set(ORIGIN_CORE, CKR_KEY_UNEXTRACTABLE, "the key is not extractable");
        goto out;
    }
    if (attrs_get_bool(ka, CKA_WRAP_WITH_TRUSTED, false) &&
        !attrs_get_bool(wa, CKA_TRUSTED, false)) {
        rv = err_set(ORIGIN_CORE, CKR_KEY_NOT_WRAPPABLE,
                     "the key may be wrapped only with a trusted key (CKA_WRAP_WITH_TRUSTED)");
        goto out;
    }
    /* CKA_WRAP_TEMPLATE: the wrapped key must carry every attribute it names, equal */
    if ((rv = inner_template(wa, CKA_WRAP_TEMPLATE, &tmpl)) != CKR_OK)
        goto out;
    for (size_t i = 0; tmpl && i < tmpl->n; i++) {
        if (!same_value(&tmpl->v[i], attrs_find(ka, tmpl->v[i].type))) {
            rv = err_set(ORIGIN_CORE, CKR_KEY_NOT_WRAPPABLE,
                         "the key does not match the wrapping key's CKA_WRAP_TEMPLATE "
                         "(attribute 0x%lx)",
                         tmpl->v[i].type);
            goto out;
        }
    }
    size_t len = out ? *outlen : 0;
    rv = sess_sync_login(c, s, se->dev->ops->wrap(se->dev->bdev, se->seq, hw, m, hk, out, &len));
    if (rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL)
        *outlen = len;
    if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL)
        err_default(ORIGIN_BACKEND, rv, "the device could not wrap the key");
out:
    attrs_unref(tmpl);
    attrs_unref(wa);
    attrs_unref(ka);
    sess_release(c, s);
    return rv;
}

CK_RV core_unwrap_key(struct core *c, CK_SESSION_HANDLE h, const CK_MECHANISM *m,
                      CK_OBJECT_HANDLE hu, const uint8_t *in, size_t inlen, const CK_ATTRIBUTE *t,
                      CK_ULONG n, CK_OBJECT_HANDLE *key)
{
    struct session *s;
    struct attrs *ua = NULL, *given = NULL, *a = NULL;
    const struct mech_desc *md;
    const struct bmech *b;
    unsigned flags = 0;
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    struct se *se = s->se;
    if (!se->dev->ops->unwrap) {
        rv = err_set(ORIGIN_CORE, CKR_FUNCTION_NOT_SUPPORTED, "device %s cannot unwrap keys",
                     se->dev->name);
        goto out;
    }
    if ((rv = get_mech(s, m, CKF_UNWRAP, &md, &b)) != CKR_OK ||
        (rv = get_key(c, s, hu, &unwrapping, &ua)) != CKR_OK ||
        (rv = check_role(ua, md, b, &unwrapping)) != CKR_OK ||
        (rv = template_in(t, n, &given)) != CKR_OK ||
        (rv = merge_template(given, ua, CKA_UNWRAP_TEMPLATE)) != CKR_OK)
        goto out;
    /* the unwrap template may name the class and key type for the caller */
    CK_OBJECT_CLASS cls = attrs_get_ulong(given, CKA_CLASS, CK_UNAVAILABLE_INFORMATION);
    if (cls == CK_UNAVAILABLE_INFORMATION || !attrs_has(given, CKA_KEY_TYPE)) {
        rv = err_set(ORIGIN_CORE, CKR_TEMPLATE_INCOMPLETE,
                     "the unwrap template needs CKA_CLASS and CKA_KEY_TYPE");
        goto out;
    }
    if (cls != CKO_SECRET_KEY && cls != CKO_PRIVATE_KEY) {
        rv = err_set(ORIGIN_CORE, CKR_TEMPLATE_INCONSISTENT,
                     "only secret and private keys can be unwrapped");
        goto out;
    }
    /* a PKCS#8 RSA-4096 key is under 3 KiB: nothing real comes near the bound, which keeps a
     * hostile blob from taking the secure heap the other sessions' keys live in */
    if (inlen == 0 || inlen > SEA_MAX_WRAPPED_LEN) {
        rv = err_set(ORIGIN_API, CKR_WRAPPED_KEY_LEN_RANGE,
                     "a wrapped key takes 1..%d bytes (%zu given)", SEA_MAX_WRAPPED_LEN, inlen);
        goto out;
    }
    if ((rv = schema_unwrap_derive(given, sess_user(c, s) == CKU_SO, false, false, &a)) !=
            CKR_OK ||
        (rv = obj_check_write(c, s, a)) != CKR_OK || (rv = new_flags(s, a, &flags)) != CKR_OK)
        goto out;
    rv = sess_sync_login(
        c, s, se->dev->ops->unwrap(se->dev->bdev, se->seq, hu, m, in, inlen, a, flags, key));
    if (rv != CKR_OK) {
        err_default(ORIGIN_BACKEND, rv, "the device could not unwrap the key");
        goto out;
    }
    rv = track_new(s, flags, *key);
out:
    attrs_unref(ua);
    attrs_unref(given);
    attrs_unref(a);
    sess_release(c, s);
    return rv;
}

/* CKF_HKDF_SALT_KEY names a second key: a secret key of the SE this session may use, and may
 * use for this derivation as a base key (CKA_DERIVE, allowed mechanisms): it is the HMAC key of
 * the extract step, so without these checks a verify-only key would compute MACs. Its
 * attributes go to *out (NULL without a salt key). */
static CK_RV check_salt_key(struct core *c, struct session *s, const CK_MECHANISM *m,
                            const struct mech_desc *md, const struct bmech *b, struct attrs **out)
{
    const CK_HKDF_PARAMS *p = m->pParameter;
    struct attrs *a = NULL;
    *out = NULL;
    if ((m->mechanism != CKM_HKDF_DERIVE && m->mechanism != CKM_HKDF_DATA) || !p ||
        m->ulParameterLen != sizeof(*p) || p->ulSaltType != CKF_HKDF_SALT_KEY)
        return CKR_OK; /* the device checks the parameters themselves */
    CK_RV rv = get_key(c, s, p->hSaltKey, &salt_key, &a);
    if (rv != CKR_OK)
        return rv;
    CK_KEY_TYPE kt = attrs_get_ulong(a, CKA_KEY_TYPE, CK_UNAVAILABLE_INFORMATION);
    if (kt != CKK_GENERIC_SECRET && kt != CKK_HKDF)
        rv = err_set(ORIGIN_CORE, CKR_MECHANISM_PARAM_INVALID,
                     "the HKDF salt key must be a generic secret or HKDF key");
    else
        rv = check_role(a, md, b, &salt_key);
    if (rv != CKR_OK) {
        attrs_unref(a);
        return rv;
    }
    *out = a;
    return CKR_OK;
}

/* The derived object's class, key type and length from the caller's template. */
static CK_RV derive_shape(const CK_MECHANISM *m, struct attrs *given, size_t *len)
{
    bool data = m->mechanism == CKM_HKDF_DATA;
    CK_OBJECT_CLASS want = data ? CKO_DATA : CKO_SECRET_KEY;
    CK_ULONG v = 0;
    CK_RV rv;
    if (attrs_get_ulong(given, CKA_CLASS, want) != want)
        return err_set(ORIGIN_CORE, CKR_TEMPLATE_INCONSISTENT,
                       "%s makes %s", data ? "CKM_HKDF_DATA" : "this mechanism",
                       data ? "data objects" : "secret keys");
    if ((rv = attrs_set_ulong(given, CKA_CLASS, want)) != CKR_OK)
        return rv;
    /* a secret key of unnamed type is a generic secret */
    if (!data && !attrs_has(given, CKA_KEY_TYPE) &&
        (rv = attrs_set_ulong(given, CKA_KEY_TYPE, CKK_GENERIC_SECRET)) != CKR_OK)
        return rv;
    const struct attr *x = attrs_find(given, CKA_VALUE_LEN);
    if (x) {
        memcpy(&v, x->val, sizeof(v)); /* attrs_from_template checked the size */
        if (v == 0)
            return err_set(ORIGIN_CORE, CKR_ATTRIBUTE_VALUE_INVALID, "CKA_VALUE_LEN is 0");
    } else if (data) {
        return err_set(ORIGIN_CORE, CKR_TEMPLATE_INCOMPLETE,
                       "CKM_HKDF_DATA needs CKA_VALUE_LEN in the template");
    }
    /* data objects have no CKA_VALUE_LEN: it only says how much to derive; and what they hold
     * is key material, so unlike a created data object they are private unless asked */
    if (data) {
        attrs_remove(given, CKA_VALUE_LEN);
        if (!attrs_has(given, CKA_PRIVATE) &&
            (rv = attrs_set_bool(given, CKA_PRIVATE, true)) != CKR_OK)
            return rv;
    }
    *len = v;
    return CKR_OK;
}

/* Every derivation binds the new key to the base key's constraints (doc/usage-constraints.md):
 * - SUID: a base key with a SUID gives the new key that SUID; a template naming another (or 0)
 *   is refused, except the E2E transitions of CKM_SEA_ONEM2M_KE2E_KEY from a Ke2e_master of
 *   SUID x2: the authentication keys may take x5, the confidentiality keys x4. Km, Kpsa and the
 *   usage-constrained key derive from a Ke, which has no SUID: a base with one is refused. The
 *   usage-constrained key carries its parameter's SUID, which the template may only repeat. A
 *   base without SUID lets the template choose.
 * - end date: no later than the base key's (its CKA_END_DATE when the template names none).
 * - CKM_SEA_ONEM2M_EXPORTER_SPLIT copies base bytes: the new key is a secret key, sensitive if
 *   the base is, not extractable if the base is not. */
/* The SUID the template names (0 if none); false if it is malformed. */
static bool template_suid(const struct attrs *given, bool *named, CK_ULONG *v)
{
    const struct attr *x = attrs_find(given, CKA_SEA_SUID);
    *named = x != NULL;
    *v = 0;
    if (!x)
        return true;
    if (x->len != sizeof(*v))
        return false;
    memcpy(v, x->val, sizeof(*v));
    return true;
}

static CK_RV derive_suid(const CK_MECHANISM *m, const struct attrs *base, struct attrs *given)
{
    CK_ULONG bs = attrs_get_ulong(base, CKA_SEA_SUID, 0), ts = 0, want = bs;
    bool named = false;
    if (!template_suid(given, &named, &ts))
        return err_set(ORIGIN_CORE, CKR_ATTRIBUTE_VALUE_INVALID, "CKA_SEA_SUID is malformed");
    CK_MECHANISM_TYPE t = m->mechanism;
    if (t == CKM_SEA_ONEM2M_KM || t == CKM_SEA_ONEM2M_KPSA || t == CKM_SEA_ONEM2M_USAGE_KEY) {
        if (bs != 0)
            return err_set(ORIGIN_CORE, CKR_KEY_FUNCTION_NOT_PERMITTED,
                           "%s derives from a Ke, which has no SUID; the base key has SUID %lu",
                           mech_name(t), bs);
        if (t != CKM_SEA_ONEM2M_USAGE_KEY)
            return CKR_OK; /* the template chooses */
        const CK_SEA_ONEM2M_USAGE_PARAMS *up = m->pParameter;
        if (!up || m->ulParameterLen != sizeof(*up))
            return err_set(ORIGIN_API, CKR_MECHANISM_PARAM_INVALID,
                           "CKM_SEA_ONEM2M_USAGE_KEY needs a CK_SEA_ONEM2M_USAGE_PARAMS");
        want = up->ulSuid;
        if (want < 10 || want > 99)
            return err_set(ORIGIN_API, CKR_MECHANISM_PARAM_INVALID,
                           "the usage-constrained key's SUID is 10..99 (%lu given)", want);
    } else if (bs == 0) {
        return CKR_OK; /* an unconstrained base: the template chooses */
    }
    if (named && ts != want) {
        bool e2e = false;
        if (t == CKM_SEA_ONEM2M_KE2E_KEY && bs % 10 == 2 && m->pParameter &&
            m->ulParameterLen == sizeof(CK_SEA_ONEM2M_KE2E_KEY_PARAMS)) {
            CK_ULONG k = ((const CK_SEA_ONEM2M_KE2E_KEY_PARAMS *)m->pParameter)->ulKey;
            bool auth = k == CK_SEA_KE2E_MSG_AUTH || k == CK_SEA_KE2E_ATT_AUTH;
            bool conf = k == CK_SEA_KE2E_MSG_CONF || k == CK_SEA_KE2E_ATT_CONF;
            e2e = ts / 10 == bs / 10 && ((auth && ts % 10 == 5) || (conf && ts % 10 == 4));
        }
        if (!e2e)
            return err_set(ORIGIN_CORE, CKR_TEMPLATE_INCONSISTENT,
                           "CKA_SEA_SUID must be %lu for this derived key (%lu given)", want, ts);
        return CKR_OK;
    }
    CK_RV rv = attrs_set_ulong(given, CKA_SEA_SUID, want);
    return rv == CKR_OK ? rv : err_set(ORIGIN_CORE, rv, "out of memory for the template");
}

/* A copy of base bytes keeps the base's protection. */
static CK_RV split_protection(const struct attrs *base, struct attrs *given)
{
    CK_RV rv;
    if (attrs_get_ulong(given, CKA_CLASS, CKO_SECRET_KEY) != CKO_SECRET_KEY)
        return err_set(ORIGIN_CORE, CKR_TEMPLATE_INCONSISTENT,
                       "the exporter split makes a secret key (CKO_SECRET_KEY)");
    if (attrs_get_bool(base, CKA_SENSITIVE, true)) {
        const struct attr *x = attrs_find(given, CKA_SENSITIVE);
        if (x && !attrs_get_bool(given, CKA_SENSITIVE, true))
            return err_set(ORIGIN_CORE, CKR_TEMPLATE_INCONSISTENT,
                           "the exporter split copies a sensitive key: the new key must be "
                           "sensitive (CKA_SENSITIVE)");
        if ((rv = attrs_set_bool(given, CKA_SENSITIVE, true)) != CKR_OK)
            return err_set(ORIGIN_CORE, rv, "out of memory for the template");
    }
    if (!attrs_get_bool(base, CKA_EXTRACTABLE, false)) {
        const struct attr *x = attrs_find(given, CKA_EXTRACTABLE);
        if (x && attrs_get_bool(given, CKA_EXTRACTABLE, false))
            return err_set(ORIGIN_CORE, CKR_TEMPLATE_INCONSISTENT,
                           "the exporter split copies a non-extractable key: the new key cannot "
                           "be extractable (CKA_EXTRACTABLE)");
        if ((rv = attrs_set_bool(given, CKA_EXTRACTABLE, false)) != CKR_OK)
            return err_set(ORIGIN_CORE, rv, "out of memory for the template");
    }
    return CKR_OK;
}

static CK_RV derive_constraints(const CK_MECHANISM *m, const struct attrs *base,
                                struct attrs *given)
{
    CK_RV rv;
    if ((rv = derive_suid(m, base, given)) != CKR_OK)
        return rv;
    if (m->mechanism == CKM_SEA_ONEM2M_EXPORTER_SPLIT &&
        (rv = split_protection(base, given)) != CKR_OK)
        return rv;
    const struct attr *pe = attrs_find(base, CKA_END_DATE), *ge = attrs_find(given, CKA_END_DATE);
    if (!pe || pe->len != sizeof(CK_DATE))
        return CKR_OK; /* the base key does not expire */
    if (ge && ge->len == sizeof(CK_DATE)) {
        if (memcmp(ge->val, pe->val, sizeof(CK_DATE)) > 0)
            return err_set(ORIGIN_CORE, CKR_TEMPLATE_INCONSISTENT,
                           "the derived key cannot expire after its base key (CKA_END_DATE)");
        return CKR_OK;
    }
    rv = attrs_set(given, CKA_END_DATE, pe->val, pe->len);
    return rv == CKR_OK ? rv : err_set(ORIGIN_CORE, rv, "out of memory for the template");
}

CK_RV core_derive_key(struct core *c, CK_SESSION_HANDLE h, const CK_MECHANISM *m,
                      CK_OBJECT_HANDLE hb, const CK_ATTRIBUTE *t, CK_ULONG n,
                      CK_OBJECT_HANDLE *key)
{
    struct session *s;
    struct attrs *ba = NULL, *sa = NULL, *given = NULL, *a = NULL;
    const struct mech_desc *md;
    const struct bmech *b;
    unsigned flags = 0;
    size_t len = 0;
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    struct se *se = s->se;
    if (!se->dev->ops->derive) {
        rv = err_set(ORIGIN_CORE, CKR_FUNCTION_NOT_SUPPORTED, "device %s cannot derive keys",
                     se->dev->name);
        goto out;
    }
    if ((rv = get_mech(s, m, CKF_DERIVE, &md, &b)) != CKR_OK ||
        (rv = get_key(c, s, hb, &base_key, &ba)) != CKR_OK ||
        (rv = check_role(ba, md, b, &base_key)) != CKR_OK ||
        (rv = check_salt_key(c, s, m, md, b, &sa)) != CKR_OK ||
        (rv = template_in(t, n, &given)) != CKR_OK ||
        (rv = merge_template(given, ba, CKA_DERIVE_TEMPLATE)) != CKR_OK ||
        (rv = derive_constraints(m, ba, given)) != CKR_OK ||
        (rv = derive_shape(m, given, &len)) != CKR_OK)
        goto out;
    if (attrs_get_ulong(given, CKA_CLASS, 0) == CKO_DATA &&
        !(se->dev->caps.flags & DEVCAP_STORE_DATA)) {
        rv = err_set(ORIGIN_CORE, CKR_TEMPLATE_INCONSISTENT, "device %s cannot store data objects",
                     se->dev->name);
        goto out;
    }
    /* PKCS#11 3.0 4.10: the new key was always sensitive and never extractable only if the
     * base key (and the salt key, which goes into it as much) was and the new one is */
    bool always_sensitive = attrs_get_bool(ba, CKA_ALWAYS_SENSITIVE, false) &&
                            (!sa || attrs_get_bool(sa, CKA_ALWAYS_SENSITIVE, false));
    bool never_extractable = attrs_get_bool(ba, CKA_NEVER_EXTRACTABLE, false) &&
                             (!sa || attrs_get_bool(sa, CKA_NEVER_EXTRACTABLE, false));
    if ((rv = schema_unwrap_derive(given, sess_user(c, s) == CKU_SO, always_sensitive,
                                   never_extractable, &a)) !=
            CKR_OK ||
        (rv = obj_check_write(c, s, a)) != CKR_OK || (rv = new_flags(s, a, &flags)) != CKR_OK)
        goto out;
    rv = sess_sync_login(
        c, s, se->dev->ops->derive(se->dev->bdev, se->seq, hb, m, len, a, flags, key));
    if (rv != CKR_OK) {
        err_default(ORIGIN_BACKEND, rv, "the device could not derive the key");
        goto out;
    }
    rv = track_new(s, flags, *key);
out:
    attrs_unref(ba);
    attrs_unref(sa);
    attrs_unref(given);
    attrs_unref(a);
    sess_release(c, s);
    return rv;
}

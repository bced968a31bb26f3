/* Keys and cryptographic operations: key generation, the Init/Update/Final framing of
 * encrypt, decrypt, sign, verify and digest with the standard's size-query and termination
 * rules, composed mechanisms (host digest + device base mechanism), and random numbers. */
#include <stdlib.h>

#include "core_int.h"
#include "crypto.h"
#include "error.h"
#include "schema.h"
#include "usage.h"

static const CK_FLAGS op_flag[OP__COUNT] = {CKF_ENCRYPT, CKF_DECRYPT, CKF_SIGN, CKF_VERIFY,
                                            CKF_DIGEST};
static const CK_ATTRIBUTE_TYPE op_purpose[OP__COUNT] = {CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN,
                                                        CKA_VERIFY, 0};
static const enum usage_op op_usage[OP__COUNT] = {USE_ENCRYPT, USE_DECRYPT, USE_SIGN, USE_VERIFY,
                                                  USE_SIGN /* digests use no key */};
static const char *const op_names[OP__COUNT] = {"encryption", "decryption", "signature",
                                                "verification", "digest"};

#define MAX_DIGEST 64

/* a digest in its DigestInfo (composed RSA PKCS#1 v1.5) */
#define MAX_PREHASH (MECH_DIGEST_INFO_MAX + MAX_DIGEST)

static bool class_fits(enum sea_op op, CK_OBJECT_CLASS cls)
{
    switch (op) {
    case OP_ENCRYPT:
    case OP_VERIFY:
        return cls == CKO_SECRET_KEY || cls == CKO_PUBLIC_KEY;
    case OP_DECRYPT:
    case OP_SIGN:
        return cls == CKO_SECRET_KEY || cls == CKO_PRIVATE_KEY;
    default:
        return false;
    }
}

/* The key's size in the unit CK_MECHANISM_INFO uses for its mechanisms (bits for EC, bytes
 * for secret keys); 0 if unknown. */
CK_ULONG op_key_size(const struct attrs *a)
{
    CK_KEY_TYPE kt = attrs_get_ulong(a, CKA_KEY_TYPE, CK_UNAVAILABLE_INFORMATION);
    if (kt == CKK_EC) {
        const struct attr *p = attrs_find(a, CKA_EC_PARAMS);
        CK_ULONG bits = 0;
        return p && crypto_ec_curve(p->val, p->len, &bits) ? bits : 0;
    }
    if (kt == CKK_RSA) { /* a private key has no CKA_MODULUS_BITS: count the modulus */
        const struct attr *n = attrs_find(a, CKA_MODULUS);
        const uint8_t *v = n ? n->val : NULL;
        size_t len = n ? n->len : 0;
        while (len && !*v)
            v++, len--;
        CK_ULONG bits = len ? 8 * (CK_ULONG)len : 0;
        for (uint8_t top = len ? v[0] : 0xff; !(top & 0x80); top <<= 1)
            bits--;
        return bits;
    }
    if (kt == CKK_EC_EDWARDS)
        return 0; /* one curve: crypto checks it */
    return attrs_get_ulong(a, CKA_VALUE_LEN, 0);
}

bool op_mechanism_allowed(const struct attrs *a, CK_MECHANISM_TYPE m)
{
    const struct attr *x = attrs_find(a, CKA_ALLOWED_MECHANISMS);
    if (!x || x->len < sizeof(CK_MECHANISM_TYPE))
        return true;
    const CK_MECHANISM_TYPE *v = x->val;
    for (size_t i = 0; i < x->len / sizeof(*v); i++)
        if (v[i] == m)
            return true;
    return false;
}

/* Check a key's attributes against the operation and mechanism as the standard orders it. */
static CK_RV check_attrs(struct core *c, struct session *s, enum sea_op op,
                         const struct mech_desc *md, const struct bmech *b, CK_OBJECT_HANDLE key,
                         const struct attrs *a)
{
    CK_RV rv = CKR_OK;
    CK_OBJECT_CLASS cls = attrs_get_ulong(a, CKA_CLASS, CK_UNAVAILABLE_INFORMATION);
    CK_KEY_TYPE kt = attrs_get_ulong(a, CKA_KEY_TYPE, CK_UNAVAILABLE_INFORMATION);
    CK_ULONG size = op_key_size(a);
    if (!obj_visible(sess_user(c, s), a))
        rv = err_set(ORIGIN_CORE, CKR_USER_NOT_LOGGED_IN,
                     "key %lu is private: log in as the user first", key);
    else if (!class_fits(op, cls) || !mech_key_type_ok(md, kt))
        rv = err_set(ORIGIN_CORE, CKR_KEY_TYPE_INCONSISTENT, "%s cannot use this key for %s",
                     md->name, op_names[op]);
    else if (!attrs_get_bool(a, op_purpose[op], false))
        rv = err_set(ORIGIN_CORE, CKR_KEY_FUNCTION_NOT_PERMITTED,
                     "the key's attributes do not allow %s", op_names[op]);
    else if (!op_mechanism_allowed(a, md->type))
        rv = err_set(ORIGIN_CORE, CKR_MECHANISM_INVALID,
                     "%s is not in the key's CKA_ALLOWED_MECHANISMS", md->name);
    else if (size && (size < b->min_key || size > b->max_key))
        rv = err_set(ORIGIN_CORE, CKR_KEY_SIZE_RANGE, "the key size %lu is outside %lu..%lu", size,
                     b->min_key, b->max_key);
    else /* the SUID and the validity dates, checked again at each restart: time passes */
        rv = usage_check(a, op_usage[op], md->type);
    return rv;
}

/* Read the key's attributes from the device and check them. */
static CK_RV check_key(struct core *c, struct session *s, enum sea_op op,
                       const struct mech_desc *md, const struct bmech *b, CK_OBJECT_HANDLE key,
                       struct attrs **out)
{
    struct se *se = s->se;
    struct attrs *a = NULL;
    CK_RV rv = sess_sync_login(c, s, se->dev->ops->obj_attrs(se->dev->bdev, se->seq, key, &a));
    if (rv == CKR_USER_NOT_LOGGED_IN)
        return err_set(ORIGIN_CORE, rv, "key %lu is private: log in as the user first", key);
    if (rv != CKR_OK)
        return err_default(ORIGIN_CORE,
                           rv == CKR_OBJECT_HANDLE_INVALID ? CKR_KEY_HANDLE_INVALID : rv,
                           "key %lu is not available", key);
    if ((rv = check_attrs(c, s, op, md, b, key, a)) != CKR_OK) {
        attrs_unref(a);
        return rv;
    }
    *out = a;
    return CKR_OK;
}

/* Restarting (backend.h state_tag, op_restart). An application signing or encrypting message
 * after message on one key calls C_xxxInit + C_xxx each time: read from the device, the key's
 * attributes and material come from caches every session shares, under a lock and with
 * reference counts, memory that two CPUs then take from each other on every call. Instead the
 * session keeps its last ended operation of each kind (with the attributes checked for it and
 * the device's state tag read before they were read) and, when the next C_xxxInit names the
 * same key and mechanism and the tag is unchanged, checks the kept attributes again (login
 * state, purpose, allowed mechanisms: all of check_attrs) and restarts the kept operation. A
 * tag that changed (an attribute changed, the object destroyed, a login or logout, a write by
 * another process) sends the call the usual way, and the kept operation is freed. */
static bool spare_fits(const struct spare *sp, CK_OBJECT_HANDLE key, CK_MECHANISM_TYPE mech,
                       uint64_t tag)
{
    return sp->bop && tag && sp->tag == tag && sp->key == key && sp->mech == mech;
}

static CK_RV check_params(const struct mech_desc *md, const CK_MECHANISM *m)
{
    if ((md->flags & MF_NO_PARAMS) && (m->pParameter || m->ulParameterLen))
        return err_set(ORIGIN_API, CKR_MECHANISM_PARAM_INVALID, "%s takes no parameter", md->name);
    if (!m->pParameter && m->ulParameterLen)
        return err_set(ORIGIN_API, CKR_MECHANISM_PARAM_INVALID,
                       "the mechanism parameter is NULL but has a length");
    return CKR_OK;
}

CK_RV core_op_init(struct core *c, CK_SESSION_HANDLE h, enum sea_op op, const CK_MECHANISM *m,
                   CK_OBJECT_HANDLE key)
{
    struct session *s;
    struct attrs *ka = NULL;
    uint64_t tag = 0;
    bool restart = false;
    struct bop *kept = NULL; /* the spare's operation, once taken, until it is restarted */
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    struct opstate *o = &s->op[op];
    struct se *se = s->se;
    if (!m) {
        op_reset(s, op); /* PKCS#11 3.0: a NULL mechanism ends the active operation */
        goto out;
    }
    if (o->active) {
        rv = err_set(ORIGIN_CORE, CKR_OPERATION_ACTIVE, "a %s is already running", op_names[op]);
        goto out;
    }
    const struct mech_desc *md = mech_find(m->mechanism);
    if (!md || !(md->ops & op_flag[op])) {
        rv = err_set(ORIGIN_CORE, CKR_MECHANISM_INVALID, "mechanism 0x%lx cannot do %s",
                     m->mechanism, op_names[op]);
        goto out;
    }
    if ((rv = check_params(md, m)) != CKR_OK)
        goto out;
    if (op == OP_DIGEST) {
        if ((rv = cop_new(NULL, OP_DIGEST, m, &o->digest)) != CKR_OK) {
            err_default(ORIGIN_CORE, rv, "the digest could not be started");
            goto out;
        }
        o->md = md;
        o->active = true;
        goto out;
    }
    bool composed;
    const struct bmech *b = mech_resolve(&se->dev->caps, md, op_flag[op], &composed);
    if (!b) {
        rv = err_set(ORIGIN_CORE, CKR_MECHANISM_INVALID, "device %s does not offer %s",
                     se->dev->name, md->name);
        goto out;
    }
    const struct sea_backend_ops *ops = se->dev->ops;
    struct spare *sp = &s->spare[op];
    if (ops->state_tag && ops->op_restart)
        tag = ops->state_tag(se->dev->bdev, se->seq, key);
    restart = spare_fits(sp, key, m->mechanism, tag);
    if (!restart)
        spare_drop(s, op);
    if (restart) {
        /* the kept attributes, checked again; they and the operation leave the spare at once,
         * so that no failure below leaves a half spare */
        if ((rv = check_attrs(c, s, op, md, b, key, sp->ka)) != CKR_OK) {
            spare_drop(s, op);
            goto out;
        }
        ka = sp->ka;
        kept = sp->bop;
        sp->ka = NULL;
        sp->bop = NULL;
        spare_drop(s, op);
    } else if ((rv = check_key(c, s, op, md, b, key, &ka)) != CKR_OK) {
        goto out;
    }
    CK_MECHANISM base = *m;
    if (composed && (rv = mech_base(md, m, &base)) != CKR_OK)
        goto out;
    if (composed) {
        CK_MECHANISM dm = {md->prehash, NULL, 0};
        if ((rv = cop_new(NULL, OP_DIGEST, &dm, &o->digest)) != CKR_OK) {
            err_default(ORIGIN_CORE, rv, "the digest could not be started");
            goto out;
        }
    }
    if (restart) {
        o->bop = kept;
        kept = NULL;
        rv = ops->op_restart(o->bop, &base);
    } else {
        rv = ops->op_init(se->dev->bdev, se->seq, key, op, &base, ka, &o->bop);
    }
    rv = sess_sync_login(c, s, rv);
    if (rv != CKR_OK) {
        err_default(ORIGIN_BACKEND, rv, "the device refused to start the %s", op_names[op]);
        op_reset(s, op);
        goto out;
    }
    o->md = md;
    o->active = true;
    o->need_context_login = (op == OP_SIGN || op == OP_DECRYPT) &&
                            attrs_get_ulong(ka, CKA_CLASS, 0) == CKO_PRIVATE_KEY &&
                            attrs_get_bool(ka, CKA_ALWAYS_AUTHENTICATE, false);
    if (tag) { /* read before the attributes: the operation may be kept and restarted */
        o->tag = tag;
        o->key = key;
        o->mech = m->mechanism;
        o->ka = ka;
        ka = NULL;
    }
out:
    if (kept)
        s->se->dev->ops->op_free(kept);
    attrs_unref(ka);
    sess_release(c, s);
    return rv;
}

/* The active operation of a kind, or the standard's error. */
static CK_RV active_op(struct session *s, enum sea_op op, struct opstate **out)
{
    struct opstate *o = &s->op[op];
    if (!o->active)
        return err_set(ORIGIN_CORE, CKR_OPERATION_NOT_INITIALIZED, "no %s is running",
                       op_names[op]);
    if (o->need_context_login) {
        op_reset(s, op); /* an error ends the operation, this one too (PKCS#11 3.0, private keys) */
        return err_set(ORIGIN_CORE, CKR_USER_NOT_LOGGED_IN,
                       "the key needs C_Login(CKU_CONTEXT_SPECIFIC) for each use");
    }
    *out = o;
    return CKR_OK;
}

/* Feed the core-side digest (it produces nothing until its final call). */
static CK_RV digest_update(struct opstate *o, const uint8_t *in, size_t inlen)
{
    size_t none = 0;
    return cop_update(o->digest, in, inlen, NULL, &none);
}

/* Finish the composed prehash into d (in its DigestInfo for MF_DIGESTINFO rows); returns its
 * length. */
static CK_RV prehash_final(struct opstate *o, uint8_t d[MAX_PREHASH], size_t *dlen)
{
    size_t pre = 0;
    const uint8_t *info =
        (o->md->flags & MF_DIGESTINFO) ? mech_digest_info(o->md->prehash, &pre) : NULL;
    if ((o->md->flags & MF_DIGESTINFO) && !info)
        return err_set(ORIGIN_CORE, CKR_GENERAL_ERROR, "no DigestInfo for %s", o->md->name);
    if (info)
        memcpy(d, info, pre);
    *dlen = MAX_DIGEST;
    CK_RV rv = cop_final(o->digest, NULL, 0, d + pre, dlen);
    *dlen += pre;
    return rv;
}

/* Output size of the whole operation given inlen more input bytes. */
static size_t single_need(struct session *s, struct opstate *o, size_t inlen)
{
    if (!o->bop)
        return crypto_md_len(o->md->type);
    if (o->digest)
        return s->se->dev->ops->op_outlen(o->bop, PHASE_SINGLE, crypto_md_len(o->md->prehash));
    return s->se->dev->ops->op_outlen(o->bop, o->multi ? PHASE_FINAL : PHASE_SINGLE, inlen);
}

/* Run update then final on the device part, writing into out (room checked by the caller). */
static CK_RV run_device(struct session *s, struct opstate *o, const uint8_t *in, size_t inlen,
                        const uint8_t *fin, size_t finlen, uint8_t *out, size_t cap,
                        size_t *written)
{
    const struct sea_backend_ops *ops = s->se->dev->ops;
    size_t l1 = cap, l2;
    CK_RV rv = CKR_OK;
    /* An operation with output (a verification has none: its final takes the signature) and
     * nothing else for final: the input goes to op_final itself, which takes the last input of
     * every such operation, one backend step instead of two. */
    if (in && out && !fin && !finlen) {
        rv = ops->op_final(o->bop, in, inlen, out, &l1);
        if (rv == CKR_OK)
            *written = l1;
        return rv;
    }
    if (in) {
        rv = ops->op_update(o->bop, in, inlen, out, &l1);
        if (rv != CKR_OK)
            return rv;
    } else {
        l1 = 0;
    }
    l2 = cap - l1;
    rv = ops->op_final(o->bop, fin, finlen, out ? out + l1 : NULL, &l2);
    if (rv == CKR_OK)
        *written = l1 + l2;
    else if (out)
        sea_wipe(out, l1); /* e.g. plaintext before bad CBC padding: no partial output */
    return rv;
}

static CK_RV size_check(size_t need, uint8_t *out, CK_ULONG *outlen)
{
    if (!out) {
        *outlen = (CK_ULONG)need;
        return CKR_OK;
    }
    if (*outlen < need) {
        *outlen = (CK_ULONG)need;
        return CKR_BUFFER_TOO_SMALL;
    }
    return CKR_OK;
}

/* Finish an operation producing output: C_Encrypt/C_Decrypt/C_Sign/C_Digest (single: `in` is
 * all the data) and their Final calls (`in` is NULL). A size query or a short buffer leaves
 * the operation running; anything else ends it. */
static CK_RV complete(struct session *s, enum sea_op op, bool single, const uint8_t *in,
                      size_t inlen, uint8_t *out, CK_ULONG *outlen)
{
    struct opstate *o = NULL;
    uint8_t d[MAX_PREHASH];
    size_t dlen = 0, written = 0;
    CK_RV rv = active_op(s, op, &o);
    if (rv != CKR_OK)
        return rv;
    if (single && o->multi) {
        op_reset(s, op); /* C_Encrypt & co. end the operation on any error but a short buffer */
        return err_set(ORIGIN_CORE, CKR_OPERATION_ACTIVE,
                       "a multi-part %s was running: the single-part call ended it", op_names[op]);
    }
    if (!single && (o->md->flags & MF_SINGLE_PART)) {
        op_reset(s, op);
        return err_set(ORIGIN_CORE, CKR_FUNCTION_NOT_SUPPORTED, "%s is single-part only",
                       o->md->name);
    }
    size_t need = single_need(s, o, inlen);
    if ((rv = size_check(need, out, outlen)) != CKR_OK || !out) {
        if (rv == CKR_BUFFER_TOO_SMALL)
            err_set(ORIGIN_API, rv, "the output needs %zu bytes", need);
        return rv;
    }
    if (single && o->digest)
        rv = digest_update(o, in, inlen);
    if (rv != CKR_OK) {
        /* fall through to the end of the operation */
    } else if (!o->bop) {
        written = *outlen;
        rv = cop_final(o->digest, NULL, 0, out, &written);
    } else if (o->digest) {
        rv = prehash_final(o, d, &dlen);
        if (rv == CKR_OK)
            rv = run_device(s, o, d, dlen, NULL, 0, out, *outlen, &written);
    } else {
        rv = run_device(s, o, single ? in : NULL, inlen, NULL, 0, out, *outlen, &written);
    }
    if (rv == CKR_OK)
        *outlen = (CK_ULONG)written;
    else
        err_default(ORIGIN_BACKEND, rv, "the %s failed", op_names[op]);
    op_reset(s, op);
    sea_wipe(d, sizeof(d));
    return rv;
}

CK_RV core_op_single(struct core *c, CK_SESSION_HANDLE h, enum sea_op op, const uint8_t *in,
                     size_t inlen, uint8_t *out, CK_ULONG *outlen)
{
    struct session *s;
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    rv = complete(s, op, true, in, inlen, out, outlen);
    sess_release(c, s);
    return rv;
}

CK_RV core_op_update(struct core *c, CK_SESSION_HANDLE h, enum sea_op op, const uint8_t *in,
                     size_t inlen, uint8_t *out, CK_ULONG *outlen)
{
    struct session *s;
    struct opstate *o = NULL;
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    if ((rv = active_op(s, op, &o)) != CKR_OK)
        goto out;
    if (o->md->flags & MF_SINGLE_PART) {
        rv = err_set(ORIGIN_CORE, CKR_FUNCTION_NOT_SUPPORTED,
                     "%s is single-part only: use the single-part call", o->md->name);
        op_reset(s, op);
        goto out;
    }
    if (o->digest) {
        rv = digest_update(o, in, inlen);
    } else if (op == OP_ENCRYPT || op == OP_DECRYPT) {
        size_t need = s->se->dev->ops->op_outlen(o->bop, PHASE_UPDATE, inlen);
        if ((rv = size_check(need, out, outlen)) != CKR_OK || !out)
            goto out; /* size query or short buffer: nothing consumed */
        size_t w = *outlen;
        rv = s->se->dev->ops->op_update(o->bop, in, inlen, out, &w);
        if (rv == CKR_OK)
            *outlen = (CK_ULONG)w;
    } else {
        size_t w = 0;
        rv = s->se->dev->ops->op_update(o->bop, in, inlen, NULL, &w);
    }
    if (rv != CKR_OK) {
        err_default(ORIGIN_BACKEND, rv, "the %s failed", op_names[op]);
        op_reset(s, op);
    } else {
        o->multi = true;
    }
out:
    sess_release(c, s);
    return rv;
}

CK_RV core_op_final(struct core *c, CK_SESSION_HANDLE h, enum sea_op op, uint8_t *out,
                    CK_ULONG *outlen)
{
    struct session *s;
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    rv = complete(s, op, false, NULL, 0, out, outlen);
    sess_release(c, s);
    return rv;
}

static CK_RV verify_common(struct core *c, CK_SESSION_HANDLE h, bool single, const uint8_t *data,
                           size_t len, const uint8_t *sig, size_t siglen)
{
    struct session *s;
    struct opstate *o = NULL;
    uint8_t d[MAX_PREHASH];
    size_t dlen = 0, w = 0;
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    if ((rv = active_op(s, OP_VERIFY, &o)) != CKR_OK)
        goto out;
    if (single && o->multi) {
        op_reset(s, OP_VERIFY);
        rv = err_set(ORIGIN_CORE, CKR_OPERATION_ACTIVE,
                     "a multi-part verification was running: C_Verify ended it");
        goto out;
    }
    if (!single && (o->md->flags & MF_SINGLE_PART)) {
        rv =
            err_set(ORIGIN_CORE, CKR_FUNCTION_NOT_SUPPORTED, "%s is single-part only", o->md->name);
    } else if (o->digest) {
        if (single)
            rv = digest_update(o, data, len);
        if (rv == CKR_OK)
            rv = prehash_final(o, d, &dlen);
        if (rv == CKR_OK)
            rv = run_device(s, o, d, dlen, sig, siglen, NULL, 0, &w);
    } else {
        rv = run_device(s, o, single ? data : NULL, len, sig, siglen, NULL, 0, &w);
    }
    if (rv != CKR_OK && rv != CKR_SIGNATURE_INVALID)
        err_default(ORIGIN_BACKEND, rv, "the verification failed");
    else if (rv == CKR_SIGNATURE_INVALID)
        err_set(ORIGIN_CORE, rv, "the signature does not verify");
    op_reset(s, OP_VERIFY);
out:
    sea_wipe(d, sizeof(d));
    sess_release(c, s);
    return rv;
}

CK_RV core_verify(struct core *c, CK_SESSION_HANDLE h, const uint8_t *data, size_t len,
                  const uint8_t *sig, size_t siglen)
{
    return verify_common(c, h, true, data, len, sig, siglen);
}

CK_RV core_verify_final(struct core *c, CK_SESSION_HANDLE h, const uint8_t *sig, size_t siglen)
{
    return verify_common(c, h, false, NULL, 0, sig, siglen);
}

/* ---- key generation ---- */

static CK_RV keygen_mech(struct session *s, const CK_MECHANISM *m, CK_FLAGS flag,
                         const struct bmech **out)
{
    const struct mech_desc *md = mech_find(m->mechanism);
    if (!md || !(md->ops & flag))
        return err_set(ORIGIN_CORE, CKR_MECHANISM_INVALID,
                       "mechanism 0x%lx does not generate keys this way", m->mechanism);
    CK_RV rv = check_params(md, m);
    if (rv != CKR_OK)
        return rv;
    const struct bmech *b = mech_device(&s->se->dev->caps, m->mechanism);
    if (!b || !(b->flags & flag))
        return err_set(ORIGIN_CORE, CKR_MECHANISM_INVALID, "device %s does not offer %s",
                       s->se->dev->name, md->name);
    *out = b;
    return CKR_OK;
}

CK_RV core_generate_key(struct core *c, CK_SESSION_HANDLE h, const CK_MECHANISM *m,
                        const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *key)
{
    struct session *s;
    struct attrs *a = NULL;
    const struct bmech *b;
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    struct se *se = s->se;
    if ((rv = keygen_mech(s, m, CKF_GENERATE, &b)) != CKR_OK ||
        (rv = schema_generate(m->mechanism, CKO_SECRET_KEY, t, n, sess_user(c, s) == CKU_SO, &a)) !=
            CKR_OK ||
        (rv = obj_check_write(c, s, a)) != CKR_OK)
        goto out;
    bool token = attrs_get_bool(a, CKA_TOKEN, false);
    rv = se->dev->ops->generate(se->dev->bdev, se->seq, m, NULL, 0, a, token ? 0 : OBJ_SESSION,
                                NULL, key);
    if (rv != CKR_OK) {
        err_default(ORIGIN_BACKEND, rv, "the key could not be generated");
        goto out;
    }
    if (!token && (rv = obj_track(s, *key)) != CKR_OK)
        se->dev->ops->obj_destroy(se->dev->bdev, se->seq, *key);
out:
    attrs_unref(a);
    sess_release(c, s);
    return rv;
}

/* Both halves of an EC pair name the same curve, one the device supports. */
static CK_RV check_ec_pair(const struct bmech *b, struct attrs *pub, struct attrs *priv)
{
    const struct attr *pp = attrs_find(pub, CKA_EC_PARAMS);
    const struct attr *qp = attrs_find(priv, CKA_EC_PARAMS);
    CK_ULONG bits = 0;
    if (!pp)
        return err_set(ORIGIN_CORE, CKR_TEMPLATE_INCOMPLETE,
                       "the public key template has no CKA_EC_PARAMS");
    if (qp && (qp->len != pp->len || memcmp(qp->val, pp->val, pp->len) != 0))
        return err_set(ORIGIN_CORE, CKR_TEMPLATE_INCONSISTENT,
                       "the two templates name different curves");
    if (!crypto_ec_curve(pp->val, pp->len, &bits) || bits < b->min_key || bits > b->max_key)
        return err_set(ORIGIN_CORE, CKR_CURVE_NOT_SUPPORTED,
                       "the curve in CKA_EC_PARAMS is not supported");
    return attrs_set(priv, CKA_EC_PARAMS, pp->val, pp->len);
}

CK_RV core_generate_key_pair(struct core *c, CK_SESSION_HANDLE h, const CK_MECHANISM *m,
                             const CK_ATTRIBUTE *pt, CK_ULONG npub, const CK_ATTRIBUTE *qt,
                             CK_ULONG npriv, CK_OBJECT_HANDLE *hpub, CK_OBJECT_HANDLE *hpriv)
{
    struct session *s;
    struct attrs *pub = NULL, *priv = NULL;
    const struct bmech *b;
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    struct se *se = s->se;
    bool so = sess_user(c, s) == CKU_SO;
    if ((rv = keygen_mech(s, m, CKF_GENERATE_KEY_PAIR, &b)) != CKR_OK ||
        (rv = schema_generate(m->mechanism, CKO_PUBLIC_KEY, pt, npub, so, &pub)) != CKR_OK ||
        (rv = schema_generate(m->mechanism, CKO_PRIVATE_KEY, qt, npriv, so, &priv)) != CKR_OK)
        goto out;
    if (m->mechanism == CKM_EC_KEY_PAIR_GEN && (rv = check_ec_pair(b, pub, priv)) != CKR_OK)
        goto out;
    CK_ULONG bits = attrs_get_ulong(pub, CKA_MODULUS_BITS, 0);
    if (m->mechanism == CKM_RSA_PKCS_KEY_PAIR_GEN && (bits < b->min_key || bits > b->max_key)) {
        rv = err_set(ORIGIN_CORE, CKR_KEY_SIZE_RANGE, "RSA keys of %lu bits: %s makes %lu..%lu",
                     bits, s->se->dev->name, b->min_key, b->max_key);
        goto out;
    }
    if ((rv = obj_check_write(c, s, pub)) != CKR_OK || (rv = obj_check_write(c, s, priv)) != CKR_OK)
        goto out;
    bool tpub = attrs_get_bool(pub, CKA_TOKEN, false);
    bool tpriv = attrs_get_bool(priv, CKA_TOKEN, false);
    rv = se->dev->ops->generate(se->dev->bdev, se->seq, m, pub, tpub ? 0 : OBJ_SESSION, priv,
                                tpriv ? 0 : OBJ_SESSION, hpub, hpriv);
    if (rv != CKR_OK) {
        err_default(ORIGIN_BACKEND, rv, "the key pair could not be generated");
        goto out;
    }
    if ((!tpub && (rv = obj_track(s, *hpub)) != CKR_OK) ||
        (!tpriv && (rv = obj_track(s, *hpriv)) != CKR_OK)) {
        se->dev->ops->obj_destroy(se->dev->bdev, se->seq, *hpub);
        se->dev->ops->obj_destroy(se->dev->bdev, se->seq, *hpriv);
    }
out:
    attrs_unref(pub);
    attrs_unref(priv);
    sess_release(c, s);
    return rv;
}

/* ---- random ---- */

CK_RV core_random(struct core *c, CK_SESSION_HANDLE h, uint8_t *out, size_t len)
{
    struct session *s;
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    struct device *d = s->se->dev;
    if (d->caps.flags & DEVCAP_RNG)
        rv = d->ops->random(d->bdev, out, len);
    else
        rv = crypto_random(out, len);
    err_default(ORIGIN_BACKEND, rv, "no random numbers");
    sess_release(c, s);
    return rv;
}

CK_RV core_seed(struct core *c, CK_SESSION_HANDLE h, const uint8_t *seed, size_t len)
{
    struct session *s;
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    /* Mixed into libsea's generator as additional input; the kernel's entropy stays. A
     * device's own generator (DEVCAP_RNG) is not reached. */
    rv = err_default(ORIGIN_CORE, crypto_seed(seed, len), "the seed could not be mixed in");
    sess_release(c, s);
    return rv;
}

/* ---- for the message-based functions (msgops.c) ---- */

CK_RV op_check_key(struct core *c, struct session *s, enum sea_op op, const struct mech_desc *md,
                   const struct bmech *b, CK_OBJECT_HANDLE key, struct attrs **out)
{
    return check_key(c, s, op, md, b, key, out);
}

/* Message-based encryption and decryption (PKCS#11 3.0 C_MessageEncryptInit ... for CKM_AES_GCM):
 * the key is checked once at init like C_EncryptInit; each message then runs as one ordinary
 * device operation of the same mechanism (a CK_GCM_PARAMS built from the message's
 * CK_GCM_MESSAGE_PARAMS), with the tag split off into pTag or taken from it. IVs the caller
 * asks the token to generate are made here and written back into pIv. */
#include "core_int.h"
#include "crypto.h"
#include "error.h"

#define MSG_IV_MAX      128 /* bytes, as the device's GCM takes */
#define MSG_IV_GEN_MIN  12  /* bytes: generated IVs are at least the 96 bits SP 800-38D prefers */
#define MSG_RANDOM_BITS 64  /* fewest random bits a generated IV may have */
#define MSG_TAG_MAX     16

static const char *const kind_names[MSG__COUNT] = {"message encryption", "message decryption"};

static int kind_of(enum sea_op op)
{
    return op == OP_ENCRYPT ? MSG_ENCRYPT : MSG_DECRYPT;
}

void msg_reset(struct session *s, int kind)
{
    struct msgstate *m = &s->msg[kind];
    if (m->bop)
        s->se->dev->ops->op_free(m->bop);
    memset(m, 0, sizeof(*m));
}

/* End only the message in progress; the process stays. */
static void end_message(struct session *s, struct msgstate *m)
{
    if (m->bop)
        s->se->dev->ops->op_free(m->bop);
    m->bop = NULL;
    m->tag_bits = 0;
}

CK_RV core_msg_init(struct core *c, CK_SESSION_HANDLE h, enum sea_op op, const CK_MECHANISM *mech,
                    CK_OBJECT_HANDLE key)
{
    struct session *s;
    struct attrs *ka = NULL;
    int kind = kind_of(op);
    CK_FLAGS flag = op == OP_ENCRYPT ? CKF_ENCRYPT : CKF_DECRYPT;
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    struct msgstate *m = &s->msg[kind];
    if (!mech) {
        msg_reset(s, kind); /* 3.0: a NULL mechanism ends the process and its message */
        goto out;
    }
    if (m->active) {
        rv =
            err_set(ORIGIN_CORE, CKR_OPERATION_ACTIVE, "a %s is already running", kind_names[kind]);
        goto out;
    }
    const struct mech_desc *md = mech_find(mech->mechanism);
    if (!md || !(md->flags & MF_MESSAGE) || !(md->ops & flag)) {
        rv = err_set(ORIGIN_CORE, CKR_MECHANISM_INVALID, "mechanism 0x%lx cannot do %s",
                     mech->mechanism, kind_names[kind]);
        goto out;
    }
    /* The per-message parameters come with each message; one given here is only checked. */
    if ((mech->pParameter || mech->ulParameterLen) &&
        (!mech->pParameter || mech->ulParameterLen != sizeof(CK_GCM_MESSAGE_PARAMS))) {
        rv = err_set(ORIGIN_API, CKR_MECHANISM_PARAM_INVALID,
                     "the parameter of %s is a CK_GCM_MESSAGE_PARAMS or nothing", md->name);
        goto out;
    }
    bool composed;
    const struct bmech *b = mech_resolve(&s->se->dev->caps, md, flag, &composed);
    if (!b || composed) {
        rv = err_set(ORIGIN_CORE, CKR_MECHANISM_INVALID, "device %s does not offer %s",
                     s->se->dev->name, md->name);
        goto out;
    }
    if ((rv = op_check_key(c, s, op, md, b, key, &ka)) != CKR_OK)
        goto out;
    *m = (struct msgstate){.active = true, .md = md, .key = key};
out:
    attrs_unref(ka);
    sess_release(c, s);
    return rv;
}

/* ---- parameters ---- */

static CK_RV check_tag_bits(CK_ULONG bits)
{
    if (bits < 32 || bits > 8 * MSG_TAG_MAX || bits % 8 != 0)
        return err_set(ORIGIN_API, CKR_MECHANISM_PARAM_INVALID,
                       "a GCM tag of %lu bits (32..128, whole bytes)", bits);
    return CKR_OK;
}

/* The message parameter, checked for what every message needs. */
static CK_RV get_params(void *param, CK_ULONG plen, bool need_tag, CK_GCM_MESSAGE_PARAMS **out)
{
    CK_GCM_MESSAGE_PARAMS *p = param;
    if (!p || plen != sizeof(*p))
        return err_set(ORIGIN_API, CKR_MECHANISM_PARAM_INVALID,
                       "each message needs a CK_GCM_MESSAGE_PARAMS");
    if (!p->pIv || p->ulIvLen < 1 || p->ulIvLen > MSG_IV_MAX)
        return err_set(ORIGIN_API, CKR_MECHANISM_PARAM_INVALID,
                       "the IV must be 1..%d bytes with pIv set", MSG_IV_MAX);
    if (need_tag && !p->pTag)
        return err_set(ORIGIN_API, CKR_MECHANISM_PARAM_INVALID, "pTag is NULL");
    CK_RV rv = check_tag_bits(p->ulTagBits);
    if (rv == CKR_OK)
        *out = p;
    return rv;
}

/* Put the low `nbits` bits of the IV from src (the rest keeps iv's fixed part). */
static void set_low_bits(uint8_t *iv, size_t len, size_t nbits, const uint8_t *src)
{
    for (size_t i = len; i-- > 0 && nbits > 0;) {
        unsigned take = nbits >= 8 ? 8 : (unsigned)nbits;
        uint8_t mask = (uint8_t)((1u << take) - 1u);
        iv[i] = (uint8_t)((iv[i] & ~mask) | (src[i] & mask));
        nbits -= take;
    }
}

/* The IV of the next message into iv[p->ulIvLen] (CKG_NO_GENERATE: the caller's). The counter
 * is consumed before the message runs, so a failed message never gives its IV to another. */
static CK_RV make_iv(struct msgstate *m, const CK_GCM_MESSAGE_PARAMS *p, uint8_t *iv)
{
    size_t len = p->ulIvLen, bits = 8 * len;
    uint8_t fill[MSG_IV_MAX];
    CK_RV rv = CKR_OK;
    memcpy(iv, p->pIv, len);
    if (p->ivGenerator == CKG_NO_GENERATE)
        return CKR_OK;
    if (p->ivGenerator != CKG_GENERATE && p->ivGenerator != CKG_GENERATE_RANDOM &&
        p->ivGenerator != CKG_GENERATE_COUNTER)
        return err_set(ORIGIN_API, CKR_MECHANISM_PARAM_INVALID,
                       "IV generator 0x%lx is not supported (CKG_NO_GENERATE, CKG_GENERATE, "
                       "CKG_GENERATE_COUNTER, CKG_GENERATE_RANDOM are)",
                       p->ivGenerator);
    if (len < MSG_IV_GEN_MIN || p->ulIvFixedBits > bits)
        return err_set(ORIGIN_API, CKR_MECHANISM_PARAM_INVALID,
                       "a generated IV needs %d..%d bytes and at most that many fixed bits",
                       MSG_IV_GEN_MIN, MSG_IV_MAX);
    size_t free_bits = bits - p->ulIvFixedBits;
    if (p->ivGenerator == CKG_GENERATE_COUNTER) {
        /* The counter, big-endian, in at least 64 free bits. It starts at a random value below
         * 2^63 at each C_MessageEncryptInit, not at zero: a zero start would give the same IVs
         * again to every init, in any process, using the key with the same fixed part (GCM then
         * leaks the plaintexts' XOR and its authentication key). */
        if (free_bits < 64)
            return err_set(ORIGIN_API, CKR_MECHANISM_PARAM_INVALID,
                           "an IV counter needs at least 64 free bits (%zu given)", free_bits);
        if (!m->counter_set) {
            uint8_t r[8];
            if ((rv = crypto_random(r, sizeof(r))) != CKR_OK)
                return rv;
            m->counter = 0;
            for (size_t i = 0; i < sizeof(r); i++)
                m->counter = m->counter << 8 | r[i];
            m->counter >>= 1;
            m->counter_set = true;
        }
        if (m->counter == UINT64_MAX)
            return err_set(ORIGIN_CORE, CKR_MECHANISM_PARAM_INVALID, "the IV counter is exhausted");
        uint64_t v = m->counter++;
        memset(fill, 0, len);
        for (size_t i = len; i-- > 0 && v;) {
            fill[i] = (uint8_t)v;
            v >>= 8;
        }
    } else {
        /* CKG_GENERATE is CKG_GENERATE_RANDOM here: random IVs stay unique across inits. */
        if (free_bits < MSG_RANDOM_BITS)
            return err_set(ORIGIN_API, CKR_MECHANISM_PARAM_INVALID,
                           "a random IV needs at least %d free bits", MSG_RANDOM_BITS);
        if ((rv = crypto_random(fill, len)) != CKR_OK)
            return rv;
    }
    set_low_bits(iv, len, free_bits, fill);
    sea_wipe(fill, sizeof(fill));
    return CKR_OK;
}

/* Start the device operation of one message. */
static CK_RV start(struct session *s, struct msgstate *m, enum sea_op op, const uint8_t *iv,
                   size_t ivlen, const uint8_t *aad, size_t aadlen, CK_ULONG tag_bits,
                   struct bop **out)
{
    struct se *se = s->se;
    CK_GCM_PARAMS gp = {(CK_BYTE_PTR)iv, ivlen, ivlen * 8, (CK_BYTE_PTR)aad, aadlen, tag_bits};
    CK_MECHANISM base = {m->md->base, &gp, sizeof(gp)};
    CK_RV rv = se->dev->ops->op_init(se->dev->bdev, se->seq, m->key, op, &base, NULL, out);
    if (rv == CKR_OBJECT_HANDLE_INVALID)
        rv = err_set(ORIGIN_CORE, CKR_KEY_HANDLE_INVALID, "the key of this %s is gone",
                     kind_names[kind_of(op)]);
    return err_default(ORIGIN_BACKEND, rv, "the device refused to start the message");
}

/* A failed tag check is CKR_AEAD_DECRYPT_FAILED in the message-based functions (PKCS#11 3.0,
 * C_DecryptMessage); the backend, serving C_Decrypt too, says CKR_ENCRYPTED_DATA_INVALID. */
static CK_RV decrypt_failed(CK_RV rv)
{
    if (rv != CKR_ENCRYPTED_DATA_INVALID)
        return rv;
    err_clear();
    return err_set(ORIGIN_CORE, CKR_AEAD_DECRYPT_FAILED,
                   "the message does not authenticate (tag, IV, AAD, key or data differ)");
}

static CK_RV size_check(size_t need, const uint8_t *out, CK_ULONG *outlen)
{
    if (!out) {
        *outlen = (CK_ULONG)need;
        return CKR_OK;
    }
    if (*outlen < need) {
        *outlen = (CK_ULONG)need;
        return err_set(ORIGIN_API, CKR_BUFFER_TOO_SMALL, "the output needs %zu bytes", need);
    }
    return CKR_OK;
}

/* The active process of a kind, or the standard's error. */
static CK_RV active_msg(struct session *s, int kind, struct msgstate **out)
{
    struct msgstate *m = &s->msg[kind];
    if (!m->active)
        return err_set(ORIGIN_CORE, CKR_OPERATION_NOT_INITIALIZED, "no %s is running",
                       kind_names[kind]);
    *out = m;
    return CKR_OK;
}

/* Encrypt `in` into out (room checked) and the tag into tag; the message op then ends. */
static CK_RV encrypt_rest(struct session *s, struct bop *b, const uint8_t *in, size_t inlen,
                          uint8_t *out, size_t *written, uint8_t *tag, size_t taglen)
{
    const struct sea_backend_ops *ops = s->se->dev->ops;
    size_t w = inlen, t = taglen;
    CK_RV rv = CKR_OK;
    if (inlen > 0)
        rv = ops->op_update(b, in, inlen, out, &w);
    else
        w = 0;
    if (rv == CKR_OK)
        rv = ops->op_final(b, NULL, 0, tag, &t);
    if (rv == CKR_OK && t != taglen)
        rv = err_set(ORIGIN_BACKEND, CKR_GENERAL_ERROR, "the device made a tag of %zu bytes", t);
    if (rv == CKR_OK)
        *written = w;
    return rv;
}

/* Decrypt the held message plus `in` and check the tag; plaintext only if it verifies. */
static CK_RV decrypt_rest(struct session *s, struct bop *b, const uint8_t *in, size_t inlen,
                          const uint8_t *tag, size_t taglen, uint8_t *out, size_t cap,
                          size_t *written)
{
    const struct sea_backend_ops *ops = s->se->dev->ops;
    size_t none = 0, w = cap;
    CK_RV rv = CKR_OK;
    if (inlen > 0)
        rv = ops->op_update(b, in, inlen, NULL, &none); /* AEAD: held until the tag checks */
    if (rv == CKR_OK)
        rv = ops->op_final(b, tag, taglen, out, &w);
    if (rv == CKR_OK)
        *written = w;
    return decrypt_failed(rv);
}

CK_RV core_msg_single(struct core *c, CK_SESSION_HANDLE h, enum sea_op op, void *param,
                      CK_ULONG plen, const uint8_t *aad, size_t aadlen, const uint8_t *in,
                      size_t inlen, uint8_t *out, CK_ULONG *outlen)
{
    struct session *s;
    struct msgstate *m = NULL;
    struct bop *b = NULL;
    CK_GCM_MESSAGE_PARAMS *p = NULL;
    uint8_t iv[MSG_IV_MAX], tag[MSG_TAG_MAX];
    size_t written = 0;
    int kind = kind_of(op);
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    if ((rv = active_msg(s, kind, &m)) != CKR_OK)
        goto out;
    if (m->bop) {
        rv = err_set(ORIGIN_CORE, CKR_OPERATION_ACTIVE,
                     "a multi-part message is in progress: finish it with CKF_END_OF_MESSAGE");
        goto out;
    }
    if ((rv = get_params(param, plen, true, &p)) != CKR_OK ||
        (rv = size_check(inlen, out, outlen)) != CKR_OK || !out)
        goto out; /* a size query or a short buffer: nothing happened */
    size_t taglen = p->ulTagBits / 8;
    if (op == OP_ENCRYPT) {
        if ((rv = make_iv(m, p, iv)) != CKR_OK ||
            (rv = start(s, m, op, iv, p->ulIvLen, aad, aadlen, p->ulTagBits, &b)) != CKR_OK ||
            (rv = encrypt_rest(s, b, in, inlen, out, &written, tag, taglen)) != CKR_OK)
            goto out;
        if (p->ivGenerator != CKG_NO_GENERATE) /* a given IV may sit in read-only memory */
            memcpy(p->pIv, iv, p->ulIvLen);
        memcpy(p->pTag, tag, taglen);
    } else {
        if ((rv = start(s, m, op, p->pIv, p->ulIvLen, aad, aadlen, p->ulTagBits, &b)) != CKR_OK ||
            (rv = decrypt_rest(s, b, in, inlen, p->pTag, taglen, out, *outlen, &written)) != CKR_OK)
            goto out;
    }
    *outlen = (CK_ULONG)written;
out:
    if (b)
        s->se->dev->ops->op_free(b);
    err_default(ORIGIN_CORE, rv, "the %s failed", kind_names[kind]);
    sea_wipe(tag, sizeof(tag));
    sess_release(c, s);
    return rv;
}

CK_RV core_msg_begin(struct core *c, CK_SESSION_HANDLE h, enum sea_op op, void *param,
                     CK_ULONG plen, const uint8_t *aad, size_t aadlen)
{
    struct session *s;
    struct msgstate *m = NULL;
    CK_GCM_MESSAGE_PARAMS *p = NULL;
    uint8_t iv[MSG_IV_MAX];
    int kind = kind_of(op);
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    if ((rv = active_msg(s, kind, &m)) != CKR_OK)
        goto out;
    if (m->bop) {
        rv = err_set(ORIGIN_CORE, CKR_OPERATION_ACTIVE, "a multi-part message is in progress");
        goto out;
    }
    /* The tag comes with (decryption) or goes to (encryption) the last C_xxxMessageNext. */
    if ((rv = get_params(param, plen, false, &p)) != CKR_OK)
        goto out;
    if (op == OP_ENCRYPT) {
        if ((rv = make_iv(m, p, iv)) != CKR_OK ||
            (rv = start(s, m, op, iv, p->ulIvLen, aad, aadlen, p->ulTagBits, &m->bop)) != CKR_OK)
            goto out;
        if (p->ivGenerator != CKG_NO_GENERATE)
            memcpy(p->pIv, iv, p->ulIvLen); /* the IV is returned by Begin */
    } else if ((rv = start(s, m, op, p->pIv, p->ulIvLen, aad, aadlen, p->ulTagBits, &m->bop)) !=
               CKR_OK) {
        goto out;
    }
    m->tag_bits = p->ulTagBits;
out:
    err_default(ORIGIN_CORE, rv, "the %s could not begin", kind_names[kind]);
    sess_release(c, s);
    return rv;
}

CK_RV core_msg_next(struct core *c, CK_SESSION_HANDLE h, enum sea_op op, void *param, CK_ULONG plen,
                    const uint8_t *in, size_t inlen, uint8_t *out, CK_ULONG *outlen, CK_FLAGS flags)
{
    struct session *s;
    struct msgstate *m = NULL;
    CK_GCM_MESSAGE_PARAMS *p = NULL;
    uint8_t tag[MSG_TAG_MAX];
    size_t written = 0;
    int kind = kind_of(op);
    bool last = flags & CKF_END_OF_MESSAGE;
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    if ((rv = active_msg(s, kind, &m)) != CKR_OK)
        goto out;
    if (!m->bop) {
        rv = err_set(ORIGIN_CORE, CKR_OPERATION_NOT_INITIALIZED,
                     "no message was begun: call C_%sMessageBegin first",
                     op == OP_ENCRYPT ? "Encrypt" : "Decrypt");
        goto out;
    }
    const struct sea_backend_ops *ops = s->se->dev->ops;
    if (flags & ~(CK_FLAGS)CKF_END_OF_MESSAGE) {
        rv = err_set(ORIGIN_API, CKR_ARGUMENTS_BAD, "unknown flags 0x%lx", flags);
    } else if ((rv = get_params(param, plen, last, &p)) == CKR_OK && p->ulTagBits != m->tag_bits) {
        rv = err_set(ORIGIN_API, CKR_MECHANISM_PARAM_INVALID,
                     "ulTagBits changed since the message began");
    }
    if (rv != CKR_OK)
        goto out;
    /* Encryption streams; decryption returns everything with the last part, once verified. */
    size_t need = op == OP_ENCRYPT ? inlen
                  : last           ? ops->op_outlen(m->bop, PHASE_FINAL, inlen + m->tag_bits / 8)
                                   : 0;
    if ((rv = size_check(need, out, outlen)) != CKR_OK || !out)
        goto keep; /* the size query and a short buffer keep the message */
    size_t taglen = m->tag_bits / 8;
    if (op == OP_ENCRYPT && last) {
        rv = encrypt_rest(s, m->bop, in, inlen, out, &written, tag, taglen);
        if (rv == CKR_OK)
            memcpy(p->pTag, tag, taglen);
    } else if (op == OP_ENCRYPT) {
        written = *outlen;
        rv = inlen ? ops->op_update(m->bop, in, inlen, out, &written) : CKR_OK;
        if (!inlen)
            written = 0;
    } else if (last) {
        rv = decrypt_rest(s, m->bop, in, inlen, p->pTag, taglen, out, *outlen, &written);
    } else {
        size_t none = 0;
        rv = inlen ? ops->op_update(m->bop, in, inlen, NULL, &none) : CKR_OK;
        rv = decrypt_failed(rv);
    }
    if (rv == CKR_OK)
        *outlen = (CK_ULONG)written;
out:
    /* An error ends the message; so does its last part. The process stays. */
    if (m && m->bop && (rv != CKR_OK || last))
        end_message(s, m);
keep:
    err_default(ORIGIN_CORE, rv, "the %s failed", kind_names[kind]);
    sea_wipe(tag, sizeof(tag));
    sess_release(c, s);
    return rv;
}

CK_RV core_msg_final(struct core *c, CK_SESSION_HANDLE h, enum sea_op op)
{
    struct session *s;
    struct msgstate *m = NULL;
    int kind = kind_of(op);
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    /* Ends the process, and a message left unfinished with it. */
    if ((rv = active_msg(s, kind, &m)) == CKR_OK)
        msg_reset(s, kind);
    sess_release(c, s);
    return rv;
}

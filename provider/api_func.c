/* The native face of two TS-0016 function resources that have no PKCS#11 counterpart of their
 * own: <identity> (7.7: a key pair made in the SE, named, identified by its RFC 6920 raw public
 * key identifier and used to answer challenges) and the key-material mode of <secureConnection>
 * (7.6: what a TS-0003 10.2 (D)TLS cipher suite needs, generated in the SE). Built on the rest
 * of sea.h, so the object rules are exactly those of sea_key_generate and sea_sign. */
#include <stdio.h>
#include <strings.h>
#include <unistr.h>

#include "error.h"
#pragma GCC visibility push(default)
#include "sea/sea.h"
#pragma GCC visibility pop
#include "api_int.h"
#include "core.h"

#define NAME_MAX_LEN 64 /* idName and connection labels (at most 64 bytes) */

/* The CKA_ID prefixes that mark what this file made: an identity key pair's CKA_ID is
 * "sea-identity:" + idName (sea_identity_authenticate signs only with such a key, so a key that
 * merely has the same label is no identity), a secureConnection key's "sea-conn:" + label.
 * KpsaID/KmID/KeID have no ':' and so never collide with them (doc/mcs-json.md). */
#define ID_PREFIX   "sea-identity:"
#define CONN_PREFIX "sea-conn:"
#define MARK_MAX    (sizeof(ID_PREFIX) + NAME_MAX_LEN)

static size_t mark(char *buf, const char *prefix, const char *name)
{
    int n = snprintf(buf, MARK_MAX, "%s%s", prefix, name);
    return n < 0 ? 0 : (size_t)n;
}

/* Whether obj's CKA_ID is exactly the identity marker of id_name (read directly: the id can be
 * longer than sea_object_info's 64 bytes). */
static bool is_identity(sea_se *se, sea_obj obj, const char *id_name)
{
    char want[MARK_MAX];
    uint8_t got[MARK_MAX];
    size_t wn = mark(want, ID_PREFIX, id_name);
    CK_SESSION_HANDLE h;
    struct core *c = api_core(se, &h);
    CK_ATTRIBUTE t = {CKA_ID, got, sizeof(got)};
    if (core_get_attrs(c, h, obj, &t, 1) != CKR_OK)
        return false;
    return t.ulValueLen == wn && memcmp(got, want, wn) == 0;
}

static sea_rv bad(const char *func, const char *what)
{
    err_set(ORIGIN_API, CKR_ARGUMENTS_BAD, "%s: %s", func, what);
    return SEA_ERR_ARGS;
}

/* A name that becomes a label and a CKA_ID: 1..64 bytes of UTF-8 without control characters,
 * and not something sea_object_find would read as a PKCS#11 URI. */
static sea_rv check_name(const char *func, const char *what, const char *s)
{
    char msg[128];
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > NAME_MAX_LEN) {
        snprintf(msg, sizeof(msg), "%s has 1 to %d bytes", what, NAME_MAX_LEN);
        return bad(func, msg);
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            snprintf(msg, sizeof(msg), "%s contains a control character", what);
            return bad(func, msg);
        }
    if (u8_check((const uint8_t *)s, n)) {
        snprintf(msg, sizeof(msg), "%s is not UTF-8", what);
        return bad(func, msg);
    }
    if (strncasecmp(s, "pkcs11:", 7) == 0) {
        snprintf(msg, sizeof(msg), "%s must not start with \"pkcs11:\"", what);
        return bad(func, msg);
    }
    return SEA_OK;
}

/* The RFC 6920 "ni" URI with sha-256 of a public key's DER SubjectPublicKeyInfo, as TS-0003
 * 10.1.2 names raw public keys (the full-length sha-256 form, which 10.1.2 recommends over the
 * truncated -128 and -120 ones): the identifier library's (provider/onem2m_id.c). */
static sea_rv ni_of_key(sea_se *se, sea_obj pub, char *out, size_t outsz)
{
    size_t len = outsz;
    return sea_id_ni_key(se, pub, SEA_NI_SHA256, out, &len);
}

static sea_alg identity_alg(int type)
{
    switch (type) {
    case SEA_KEY_EC_P256:
        return SEA_ALG_ECDSA_SHA256;
    case SEA_KEY_EC_P384:
        return SEA_ALG_ECDSA_SHA384;
    case SEA_KEY_ED25519:
        return SEA_ALG_ED25519;
    case SEA_KEY_RSA_2048:
    case SEA_KEY_RSA_3072:
    case SEA_KEY_RSA_4096:
        return SEA_ALG_RSA_PSS_SHA256;
    default:
        return (sea_alg)0;
    }
}

/* Fill *out from the key pair (key, pub) of the identity id_name. */
static sea_rv identity_fill(sea_se *se, const char *id_name, sea_obj key, sea_obj pub,
                            sea_identity_info *out)
{
    sea_object_info oi;
    sea_rv r = sea_object_info_get(se, key, &oi);
    if (r != SEA_OK)
        return r;
    memset(out, 0, sizeof(*out));
    snprintf(out->id_name, sizeof(out->id_name), "%s", id_name);
    snprintf(out->key_uri, sizeof(out->key_uri), "%s", oi.uri);
    out->type = (sea_key_type)oi.key_type;
    out->alg = identity_alg(oi.key_type);
    out->key = key;
    out->pub = pub;
    if (!out->alg) {
        err_set(ORIGIN_API, CKR_KEY_TYPE_INCONSISTENT,
                "the key of identity '%s' cannot sign an authentication", id_name);
        return SEA_ERR_ARGS;
    }
    return ni_of_key(se, pub, out->id_data, sizeof(out->id_data));
}

sea_rv sea_identity_create(sea_se *se, const char *id_name, sea_key_type type,
                           sea_identity_info *out)
{
    err_clear();
    if (!se || !out)
        return bad(__func__, "se or out is NULL");
    sea_rv r = check_name(__func__, "an idName", id_name);
    if (r != SEA_OK)
        return r;
    if (type == 0)
        type = SEA_KEY_EC_P256;
    if (!identity_alg(type))
        return bad(__func__, "an identity key is EC P-256, P-384, Ed25519 or RSA");
    char idm[MARK_MAX];
    sea_key_params p = {.type = type,
                        .label = id_name,
                        .id = (const uint8_t *)idm,
                        .id_len = mark(idm, ID_PREFIX, id_name),
                        .usage = SEA_USE_SIGN | SEA_USE_VERIFY};
    sea_obj key = 0, pub = 0;
    if ((r = sea_key_generate(se, &p, &key, &pub)) != SEA_OK)
        return r;
    if ((r = identity_fill(se, id_name, key, pub, out)) != SEA_OK) {
        /* all or nothing: an identity whose identifier cannot be made is removed */
        struct err_rec saved = *err_get();
        sea_object_destroy(se, key);
        sea_object_destroy(se, pub);
        err_clear();
        err_set(saved.origin, saved.rv, "%s (the identity was not created)", saved.msg);
    }
    return r;
}

sea_rv sea_identity_get(sea_se *se, const char *id_name, sea_identity_info *out)
{
    err_clear();
    if (!se || !out)
        return bad(__func__, "se or out is NULL");
    sea_rv r = check_name(__func__, "an idName", id_name);
    if (r != SEA_OK)
        return r;
    sea_obj key = 0, pub = 0;
    if ((r = sea_object_find(se, id_name, SEA_CLASS_PRIVATE_KEY, &key)) != SEA_OK ||
        (r = sea_object_find(se, id_name, SEA_CLASS_PUBLIC_KEY, &pub)) != SEA_OK) {
        if (r == SEA_ERR_NOT_FOUND) {
            err_clear();
            err_set(ORIGIN_API, CKR_OBJECT_HANDLE_INVALID,
                    "there is no identity '%s' (a key pair labelled so) in the SE", id_name);
        }
        return r;
    }
    return identity_fill(se, id_name, key, pub, out);
}

sea_rv sea_identity_authenticate(sea_se *se, const char *id_name, const uint8_t *challenge,
                                 size_t challenge_len, uint8_t *out, size_t *out_len)
{
    err_clear();
    if (!se || !out_len)
        return bad(__func__, "se or out_len is NULL");
    if (!challenge || !challenge_len)
        return bad(__func__, "the challenge (receiverAuthenticationData) is empty");
    sea_identity_info id;
    sea_rv r = sea_identity_get(se, id_name, &id);
    if (r != SEA_OK)
        return r;
    if (!is_identity(se, id.key, id_name)) {
        err_clear();
        err_set(ORIGIN_API, CKR_ACTION_PROHIBITED,
                "the key labelled '%s' was not made by sea_identity_create: it answers no "
                "authentication",
                id_name);
        return SEA_ERR_DENIED;
    }
    return sea_sign(se, id.key, id.alg, challenge, challenge_len, out, out_len);
}

/* ---- secure connection key material ---- */

enum conn_kx { KX_PSK = 1, KX_ECDHE_ECDSA = 2 };

/* The cipher suites of TS-0003 10.2 (IANA names, RFC 5487, RFC 6655, RFC 5289, RFC 7251). */
static const struct {
    const char *name;
    enum conn_kx kx;
} suites[] = {
    {"TLS_PSK_WITH_AES_128_CBC_SHA256", KX_PSK},
    {"TLS_PSK_WITH_AES_128_CCM_8", KX_PSK},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", KX_ECDHE_ECDSA},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", KX_ECDHE_ECDSA},
};

sea_rv sea_secure_connection_generate_key(sea_se *se, const char *connection_type,
                                          const char *cipher_suite, const char *label,
                                          sea_conn_key_info *out)
{
    err_clear();
    if (!se || !out || !connection_type || !cipher_suite)
        return bad(__func__, "se, connection_type, cipher_suite or out is NULL");
    if (strcmp(connection_type, "TLS") != 0 && strcmp(connection_type, "DTLS") != 0)
        return bad(__func__, "the connection type is \"TLS\" or \"DTLS\"");
    sea_rv r = check_name(__func__, "the label", label);
    if (r != SEA_OK)
        return r;
    enum conn_kx kx = 0;
    for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
        if (strcmp(cipher_suite, suites[i].name) == 0)
            kx = suites[i].kx;
    if (!kx) {
        err_set(ORIGIN_API, CKR_MECHANISM_INVALID,
                "%s: libsea makes key material for the TS-0003 10.2 suites only "
                "(TLS_PSK_WITH_AES_128_CBC_SHA256, TLS_PSK_WITH_AES_128_CCM_8, "
                "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8)",
                __func__);
        return SEA_ERR_UNSUPPORTED;
    }
    char idm[MARK_MAX];
    sea_key_params p = {
        .label = label, .id = (const uint8_t *)idm, .id_len = mark(idm, CONN_PREFIX, label)};
    if (kx == KX_PSK) {
        p.type = SEA_KEY_GENERIC_SECRET;
        p.bits = 256;
        p.usage = SEA_USE_SIGN | SEA_USE_VERIFY | SEA_USE_DERIVE;
    } else {
        p.type = SEA_KEY_EC_P256;
        p.usage = SEA_USE_SIGN | SEA_USE_VERIFY;
    }
    sea_obj key = 0, pub = 0;
    if ((r = sea_key_generate(se, &p, &key, &pub)) != SEA_OK)
        return r;
    sea_object_info oi;
    if ((r = sea_object_info_get(se, key, &oi)) != SEA_OK) {
        struct err_rec saved = *err_get();
        sea_object_destroy(se, key);
        if (pub)
            sea_object_destroy(se, pub);
        err_clear();
        err_set(saved.origin, saved.rv, "%s (no key was kept)", saved.msg);
        return r;
    }
    memset(out, 0, sizeof(*out));
    snprintf(out->key_uri, sizeof(out->key_uri), "%s", oi.uri);
    out->type = p.type;
    out->key = key;
    out->pub = pub;
    return SEA_OK;
}

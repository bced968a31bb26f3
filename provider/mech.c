/* The mechanism table and what each device offers through it. */
#include <strings.h>

#include "error.h"
#include "mech.h"

#define SIGVER (CKF_SIGN | CKF_VERIFY)
#define ENCDEC (CKF_ENCRYPT | CKF_DECRYPT)
#define WRAP   (CKF_WRAP | CKF_UNWRAP)

/* clang-format off */
static const struct mech_desc table[] = {
    /* digests, run by the core */
    {CKM_SHA_1,  "CKM_SHA_1",  CKF_DIGEST, {0}, 0, 0, 0, MF_CORE | MF_NO_PARAMS},
    {CKM_SHA224, "CKM_SHA224", CKF_DIGEST, {0}, 0, 0, 0, MF_CORE | MF_NO_PARAMS},
    {CKM_SHA256, "CKM_SHA256", CKF_DIGEST, {0}, 0, 0, 0, MF_CORE | MF_NO_PARAMS},
    {CKM_SHA384, "CKM_SHA384", CKF_DIGEST, {0}, 0, 0, 0, MF_CORE | MF_NO_PARAMS},
    {CKM_SHA512, "CKM_SHA512", CKF_DIGEST, {0}, 0, 0, 0, MF_CORE | MF_NO_PARAMS},
    /* key generation */
    {CKM_EC_KEY_PAIR_GEN, "CKM_EC_KEY_PAIR_GEN", CKF_GENERATE_KEY_PAIR, {CKK_EC}, 1, 0,
     CKM_EC_KEY_PAIR_GEN, MF_NO_PARAMS},
    {CKM_AES_KEY_GEN, "CKM_AES_KEY_GEN", CKF_GENERATE, {CKK_AES}, 1, 0, CKM_AES_KEY_GEN,
     MF_NO_PARAMS},
    {CKM_GENERIC_SECRET_KEY_GEN, "CKM_GENERIC_SECRET_KEY_GEN", CKF_GENERATE,
     {CKK_GENERIC_SECRET}, 1, 0, CKM_GENERIC_SECRET_KEY_GEN, MF_NO_PARAMS},
    /* ECDSA: raw on the device, hashed variants composed */
    {CKM_ECDSA, "CKM_ECDSA", SIGVER, {CKK_EC}, 1, 0, CKM_ECDSA, MF_SINGLE_PART | MF_NO_PARAMS},
    {CKM_ECDSA_SHA1, "CKM_ECDSA_SHA1", SIGVER, {CKK_EC}, 1, CKM_SHA_1, CKM_ECDSA, MF_NO_PARAMS},
    {CKM_ECDSA_SHA224, "CKM_ECDSA_SHA224", SIGVER, {CKK_EC}, 1, CKM_SHA224, CKM_ECDSA,
     MF_NO_PARAMS},
    {CKM_ECDSA_SHA256, "CKM_ECDSA_SHA256", SIGVER, {CKK_EC}, 1, CKM_SHA256, CKM_ECDSA,
     MF_NO_PARAMS},
    {CKM_ECDSA_SHA384, "CKM_ECDSA_SHA384", SIGVER, {CKK_EC}, 1, CKM_SHA384, CKM_ECDSA,
     MF_NO_PARAMS},
    {CKM_ECDSA_SHA512, "CKM_ECDSA_SHA512", SIGVER, {CKK_EC}, 1, CKM_SHA512, CKM_ECDSA,
     MF_NO_PARAMS},
    /* symmetric */
    {CKM_AES_GCM, "CKM_AES_GCM", ENCDEC | WRAP, {CKK_AES}, 1, 0, CKM_AES_GCM, MF_MESSAGE},
    {CKM_SHA256_HMAC, "CKM_SHA256_HMAC", SIGVER, {CKK_GENERIC_SECRET, CKK_SHA256_HMAC}, 2, 0,
     CKM_SHA256_HMAC, MF_NO_PARAMS},
    /* AES modes, key wrap (single-part) and CMAC */
    {CKM_AES_ECB, "CKM_AES_ECB", ENCDEC, {CKK_AES}, 1, 0, CKM_AES_ECB, MF_NO_PARAMS},
    {CKM_AES_CBC, "CKM_AES_CBC", ENCDEC, {CKK_AES}, 1, 0, CKM_AES_CBC, 0},
    {CKM_AES_CBC_PAD, "CKM_AES_CBC_PAD", ENCDEC | CKF_WRAP, {CKK_AES}, 1, 0, CKM_AES_CBC_PAD, 0},
    {CKM_AES_CTR, "CKM_AES_CTR", ENCDEC, {CKK_AES}, 1, 0, CKM_AES_CTR, 0},
    {CKM_AES_KEY_WRAP, "CKM_AES_KEY_WRAP", ENCDEC | WRAP, {CKK_AES}, 1, 0, CKM_AES_KEY_WRAP,
     MF_SINGLE_PART},
    {CKM_AES_KEY_WRAP_PAD, "CKM_AES_KEY_WRAP_PAD", ENCDEC | WRAP, {CKK_AES}, 1, 0,
     CKM_AES_KEY_WRAP_PAD, MF_SINGLE_PART},
    {CKM_AES_KEY_WRAP_KWP, "CKM_AES_KEY_WRAP_KWP", ENCDEC | WRAP, {CKK_AES}, 1, 0,
     CKM_AES_KEY_WRAP_KWP, MF_SINGLE_PART},
    {CKM_AES_CMAC, "CKM_AES_CMAC", SIGVER, {CKK_AES}, 1, 0, CKM_AES_CMAC, MF_NO_PARAMS},
    {CKM_AES_CMAC_GENERAL, "CKM_AES_CMAC_GENERAL", SIGVER, {CKK_AES}, 1, 0,
     CKM_AES_CMAC_GENERAL, 0},
    /* HMAC on SHA-1 and SHA-2 (CKM_SHA256_HMAC above) */
    {CKM_SHA_1_HMAC, "CKM_SHA_1_HMAC", SIGVER, {CKK_GENERIC_SECRET, CKK_SHA_1_HMAC}, 2, 0,
     CKM_SHA_1_HMAC, MF_NO_PARAMS},
    {CKM_SHA_1_HMAC_GENERAL, "CKM_SHA_1_HMAC_GENERAL", SIGVER,
     {CKK_GENERIC_SECRET, CKK_SHA_1_HMAC}, 2, 0, CKM_SHA_1_HMAC_GENERAL, 0},
    {CKM_SHA224_HMAC, "CKM_SHA224_HMAC", SIGVER, {CKK_GENERIC_SECRET, CKK_SHA224_HMAC}, 2, 0,
     CKM_SHA224_HMAC, MF_NO_PARAMS},
    {CKM_SHA224_HMAC_GENERAL, "CKM_SHA224_HMAC_GENERAL", SIGVER,
     {CKK_GENERIC_SECRET, CKK_SHA224_HMAC}, 2, 0, CKM_SHA224_HMAC_GENERAL, 0},
    {CKM_SHA256_HMAC_GENERAL, "CKM_SHA256_HMAC_GENERAL", SIGVER,
     {CKK_GENERIC_SECRET, CKK_SHA256_HMAC}, 2, 0, CKM_SHA256_HMAC_GENERAL, 0},
    {CKM_SHA384_HMAC, "CKM_SHA384_HMAC", SIGVER, {CKK_GENERIC_SECRET, CKK_SHA384_HMAC}, 2, 0,
     CKM_SHA384_HMAC, MF_NO_PARAMS},
    {CKM_SHA384_HMAC_GENERAL, "CKM_SHA384_HMAC_GENERAL", SIGVER,
     {CKK_GENERIC_SECRET, CKK_SHA384_HMAC}, 2, 0, CKM_SHA384_HMAC_GENERAL, 0},
    {CKM_SHA512_HMAC, "CKM_SHA512_HMAC", SIGVER, {CKK_GENERIC_SECRET, CKK_SHA512_HMAC}, 2, 0,
     CKM_SHA512_HMAC, MF_NO_PARAMS},
    {CKM_SHA512_HMAC_GENERAL, "CKM_SHA512_HMAC_GENERAL", SIGVER,
     {CKK_GENERIC_SECRET, CKK_SHA512_HMAC}, 2, 0, CKM_SHA512_HMAC_GENERAL, 0},
    /* derivations (C_DeriveKey; keyops.c) */
    {CKM_ECDH1_DERIVE, "CKM_ECDH1_DERIVE", CKF_DERIVE, {CKK_EC}, 1, 0, CKM_ECDH1_DERIVE, 0},
    {CKM_HKDF_DERIVE, "CKM_HKDF_DERIVE", CKF_DERIVE, {CKK_GENERIC_SECRET, CKK_HKDF}, 2, 0,
     CKM_HKDF_DERIVE, 0},
    {CKM_HKDF_DATA, "CKM_HKDF_DATA", CKF_DERIVE, {CKK_GENERIC_SECRET, CKK_HKDF}, 2, 0,
     CKM_HKDF_DATA, 0},
    {CKM_SP800_108_COUNTER_KDF, "CKM_SP800_108_COUNTER_KDF", CKF_DERIVE,
     {CKK_GENERIC_SECRET, CKK_SHA256_HMAC, CKK_AES}, 3, 0, CKM_SP800_108_COUNTER_KDF, 0},
    /* oneM2M derivations (TS-0003 10.3; crypto.c onem2m_derive) */
    {CKM_SEA_ONEM2M_KM, "CKM_SEA_ONEM2M_KM", CKF_DERIVE, {CKK_GENERIC_SECRET}, 1, 0,
     CKM_SEA_ONEM2M_KM, 0},
    {CKM_SEA_ONEM2M_KPSA, "CKM_SEA_ONEM2M_KPSA", CKF_DERIVE, {CKK_GENERIC_SECRET}, 1, 0,
     CKM_SEA_ONEM2M_KPSA, 0},
    {CKM_SEA_ONEM2M_USAGE_KEY, "CKM_SEA_ONEM2M_USAGE_KEY", CKF_DERIVE, {CKK_GENERIC_SECRET}, 1, 0,
     CKM_SEA_ONEM2M_USAGE_KEY, 0},
    {CKM_SEA_ONEM2M_KE2E_MASTER, "CKM_SEA_ONEM2M_KE2E_MASTER", CKF_DERIVE,
     {CKK_GENERIC_SECRET}, 1, 0, CKM_SEA_ONEM2M_KE2E_MASTER, 0},
    {CKM_SEA_ONEM2M_KE2E_KEY, "CKM_SEA_ONEM2M_KE2E_KEY", CKF_DERIVE, {CKK_GENERIC_SECRET}, 1, 0,
     CKM_SEA_ONEM2M_KE2E_KEY, 0},
    {CKM_SEA_ONEM2M_SESSION_ESPRIM, "CKM_SEA_ONEM2M_SESSION_ESPRIM", CKF_DERIVE,
     {CKK_GENERIC_SECRET}, 1, 0, CKM_SEA_ONEM2M_SESSION_ESPRIM, 0},
    {CKM_SEA_ONEM2M_EXPORTER_SPLIT, "CKM_SEA_ONEM2M_EXPORTER_SPLIT", CKF_DERIVE,
     {CKK_GENERIC_SECRET}, 1, 0, CKM_SEA_ONEM2M_EXPORTER_SPLIT, 0},
    /* RSA: raw mechanisms on the device, hashed variants composed (a DigestInfo for PKCS#1
     * v1.5, the caller's PSS parameters for PSS) */
    {CKM_RSA_PKCS_KEY_PAIR_GEN, "CKM_RSA_PKCS_KEY_PAIR_GEN", CKF_GENERATE_KEY_PAIR, {CKK_RSA}, 1,
     0, CKM_RSA_PKCS_KEY_PAIR_GEN, MF_NO_PARAMS},
    {CKM_RSA_PKCS, "CKM_RSA_PKCS", SIGVER | ENCDEC | CKF_WRAP, {CKK_RSA}, 1, 0,
     CKM_RSA_PKCS, MF_SINGLE_PART | MF_NO_PARAMS},
    {CKM_RSA_PKCS_PSS, "CKM_RSA_PKCS_PSS", SIGVER, {CKK_RSA}, 1, 0, CKM_RSA_PKCS_PSS,
     MF_SINGLE_PART},
    {CKM_RSA_PKCS_OAEP, "CKM_RSA_PKCS_OAEP", ENCDEC | CKF_WRAP | CKF_UNWRAP, {CKK_RSA}, 1, 0,
     CKM_RSA_PKCS_OAEP, MF_SINGLE_PART},
    {CKM_RSA_X_509, "CKM_RSA_X_509", SIGVER | ENCDEC, {CKK_RSA}, 1, 0,
     CKM_RSA_X_509, MF_SINGLE_PART | MF_NO_PARAMS},
    {CKM_SHA1_RSA_PKCS, "CKM_SHA1_RSA_PKCS", SIGVER, {CKK_RSA}, 1, CKM_SHA_1, CKM_RSA_PKCS,
     MF_NO_PARAMS | MF_DIGESTINFO},
    {CKM_SHA224_RSA_PKCS, "CKM_SHA224_RSA_PKCS", SIGVER, {CKK_RSA}, 1, CKM_SHA224, CKM_RSA_PKCS,
     MF_NO_PARAMS | MF_DIGESTINFO},
    {CKM_SHA256_RSA_PKCS, "CKM_SHA256_RSA_PKCS", SIGVER, {CKK_RSA}, 1, CKM_SHA256, CKM_RSA_PKCS,
     MF_NO_PARAMS | MF_DIGESTINFO},
    {CKM_SHA384_RSA_PKCS, "CKM_SHA384_RSA_PKCS", SIGVER, {CKK_RSA}, 1, CKM_SHA384, CKM_RSA_PKCS,
     MF_NO_PARAMS | MF_DIGESTINFO},
    {CKM_SHA512_RSA_PKCS, "CKM_SHA512_RSA_PKCS", SIGVER, {CKK_RSA}, 1, CKM_SHA512, CKM_RSA_PKCS,
     MF_NO_PARAMS | MF_DIGESTINFO},
    {CKM_SHA1_RSA_PKCS_PSS, "CKM_SHA1_RSA_PKCS_PSS", SIGVER, {CKK_RSA}, 1, CKM_SHA_1,
     CKM_RSA_PKCS_PSS, MF_PASS_PARAMS},
    {CKM_SHA224_RSA_PKCS_PSS, "CKM_SHA224_RSA_PKCS_PSS", SIGVER, {CKK_RSA}, 1, CKM_SHA224,
     CKM_RSA_PKCS_PSS, MF_PASS_PARAMS},
    {CKM_SHA256_RSA_PKCS_PSS, "CKM_SHA256_RSA_PKCS_PSS", SIGVER, {CKK_RSA}, 1, CKM_SHA256,
     CKM_RSA_PKCS_PSS, MF_PASS_PARAMS},
    {CKM_SHA384_RSA_PKCS_PSS, "CKM_SHA384_RSA_PKCS_PSS", SIGVER, {CKK_RSA}, 1, CKM_SHA384,
     CKM_RSA_PKCS_PSS, MF_PASS_PARAMS},
    {CKM_SHA512_RSA_PKCS_PSS, "CKM_SHA512_RSA_PKCS_PSS", SIGVER, {CKK_RSA}, 1, CKM_SHA512,
     CKM_RSA_PKCS_PSS, MF_PASS_PARAMS},
    /* Ed25519 */
    {CKM_EC_EDWARDS_KEY_PAIR_GEN, "CKM_EC_EDWARDS_KEY_PAIR_GEN", CKF_GENERATE_KEY_PAIR,
     {CKK_EC_EDWARDS}, 1, 0, CKM_EC_EDWARDS_KEY_PAIR_GEN, MF_NO_PARAMS},
    {CKM_EDDSA, "CKM_EDDSA", SIGVER, {CKK_EC_EDWARDS}, 1, 0, CKM_EDDSA, MF_SINGLE_PART},
};
/* clang-format on */

const struct mech_desc *mech_find(CK_MECHANISM_TYPE t)
{
    for (size_t i = 0; i < ARRAY_SIZE(table); i++)
        if (table[i].type == t)
            return &table[i];
    return NULL;
}

const char *mech_name(CK_MECHANISM_TYPE t)
{
    const struct mech_desc *d = mech_find(t);
    return d ? d->name : NULL;
}

CK_MECHANISM_TYPE mech_by_name(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(table); i++)
        if (strcasecmp(table[i].name, name) == 0 || strcasecmp(table[i].name + 4, name) == 0)
            return table[i].type;
    return CK_UNAVAILABLE_INFORMATION;
}

CK_RV mech_base(const struct mech_desc *d, const CK_MECHANISM *m, CK_MECHANISM *base)
{
    *base = (CK_MECHANISM){d->base, NULL, 0};
    if (!(d->flags & MF_PASS_PARAMS))
        return CKR_OK;
    const CK_RSA_PKCS_PSS_PARAMS *pp = m->pParameter;
    if (!pp || m->ulParameterLen != sizeof(*pp))
        return err_set(ORIGIN_API, CKR_MECHANISM_PARAM_INVALID, "%s needs a CK_RSA_PKCS_PSS_PARAMS",
                       d->name);
    if (pp->hashAlg != d->prehash)
        return err_set(ORIGIN_API, CKR_MECHANISM_PARAM_INVALID,
                       "the PSS hashAlg is not the hash %s uses", d->name);
    base->pParameter = m->pParameter;
    base->ulParameterLen = m->ulParameterLen;
    return CKR_OK;
}

const uint8_t *mech_digest_info(CK_MECHANISM_TYPE digest, size_t *len)
{
    /* RFC 8017 9.2 note 1: DER of DigestInfo up to the digest itself */
    static const struct {
        CK_MECHANISM_TYPE mech;
        uint8_t len;
        uint8_t der[MECH_DIGEST_INFO_MAX];
    } prefixes[] = {
        /* clang-format off */
        {CKM_SHA_1, 15, {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05,
                         0x00, 0x04, 0x14}},
        {CKM_SHA224, 19, {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
                          0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c}},
        {CKM_SHA256, 19, {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
                          0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}},
        {CKM_SHA384, 19, {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
                          0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30}},
        {CKM_SHA512, 19, {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
                          0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40}},
        /* clang-format on */
    };
    for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++)
        if (prefixes[i].mech == digest) {
            *len = prefixes[i].len;
            return prefixes[i].der;
        }
    return NULL;
}

const struct bmech *mech_device(const struct dev_caps *caps, CK_MECHANISM_TYPE t)
{
    for (size_t i = 0; i < caps->nmechs; i++)
        if (caps->mechs[i].type == t)
            return &caps->mechs[i];
    return NULL;
}

const struct bmech *mech_resolve(const struct dev_caps *caps, const struct mech_desc *d,
                                 CK_FLAGS op, bool *composed)
{
    const struct bmech *b = mech_device(caps, d->type);
    *composed = false;
    if (b && (b->flags & op))
        return b;
    if (d->prehash && (d->ops & op)) {
        b = mech_device(caps, d->base);
        if (b && (b->flags & op)) {
            *composed = true;
            return b;
        }
    }
    return NULL;
}

static bool available(const struct dev_caps *caps, const struct mech_desc *d,
                      CK_MECHANISM_INFO *info)
{
    if (d->flags & MF_CORE) {
        if (info)
            *info = (CK_MECHANISM_INFO){0, 0, d->ops};
        return true;
    }
    CK_FLAGS ops = 0;
    const struct bmech *any = NULL;
    static const CK_FLAGS each[] = {CKF_SIGN,    CKF_VERIFY,   CKF_ENCRYPT,
                                    CKF_DECRYPT, CKF_GENERATE, CKF_GENERATE_KEY_PAIR,
                                    CKF_DERIVE,  CKF_WRAP,     CKF_UNWRAP};
    for (size_t i = 0; i < ARRAY_SIZE(each); i++) {
        bool composed;
        const struct bmech *b;
        if (!(d->ops & each[i]) || !(b = mech_resolve(caps, d, each[i], &composed)))
            continue;
        ops |= each[i];
        any = b;
    }
    if (!any)
        return false;
    if (d->flags & MF_MESSAGE)
        ops |= ((ops & CKF_ENCRYPT) ? CKF_MESSAGE_ENCRYPT : 0) |
               ((ops & CKF_DECRYPT) ? CKF_MESSAGE_DECRYPT : 0) | CKF_MULTI_MESSAGE;
    if (info) {
        /* Curve and key-size flags come from the device row that does the work. */
        CK_FLAGS extra =
            any->flags & (CKF_EC_F_P | CKF_EC_F_2M | CKF_EC_ECPARAMETERS | CKF_EC_NAMEDCURVE |
                          CKF_EC_UNCOMPRESS | CKF_EC_COMPRESS | CKF_HW);
        *info = (CK_MECHANISM_INFO){any->min_key, any->max_key, ops | extra};
    }
    return true;
}

CK_RV mech_list(const struct dev_caps *caps, CK_MECHANISM_TYPE *out, CK_ULONG *count)
{
    CK_ULONG n = 0;
    for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
        if (!available(caps, &table[i], NULL))
            continue;
        if (out && n < *count)
            out[n] = table[i].type;
        n++;
    }
    CK_RV rv = (out && n > *count) ? CKR_BUFFER_TOO_SMALL : CKR_OK;
    *count = n;
    return rv;
}

CK_RV mech_info(const struct dev_caps *caps, CK_MECHANISM_TYPE t, CK_MECHANISM_INFO *info)
{
    const struct mech_desc *d = mech_find(t);
    if (!d || !available(caps, d, info))
        return err_set(ORIGIN_CORE, CKR_MECHANISM_INVALID, "mechanism 0x%lx is not offered", t);
    return CKR_OK;
}

bool mech_key_type_ok(const struct mech_desc *d, CK_KEY_TYPE kt)
{
    for (size_t i = 0; i < d->nkey_types; i++)
        if (d->key_types[i] == kt)
            return true;
    return false;
}

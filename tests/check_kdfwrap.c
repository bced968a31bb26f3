/* Tests of C_DeriveKey, C_WrapKey and C_UnwrapKey through the real module (sea-pkcs11.so from
 * $SEA_MODULE) on a software SE: HKDF against RFC 5869, SP 800-108 and ECDH against OpenSSL
 * computing the same derivation in the test, wrap/unwrap round trips checked with OpenSSL, and
 * the attribute rules of PKCS#11 3.0 with their exact CKR codes. Each test has its own store. */
#include <check.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "p11check.h"


#define N(a)     (sizeof(a) / sizeof((a)[0]))

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static CK_OBJECT_CLASS cls_secret = CKO_SECRET_KEY, cls_priv = CKO_PRIVATE_KEY,
                       cls_data = CKO_DATA;
static CK_KEY_TYPE kt_aes = CKK_AES, kt_generic = CKK_GENERIC_SECRET, kt_ec = CKK_EC;

static const CK_BYTE P256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const CK_BYTE P384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};

/* ---- helpers ---- */

static CK_SESSION_HANDLE user_session(CK_SLOT_ID *slot_out)
{
    return p11_token_session("kdfwrap", slot_out);
}

static size_t hex2bin(const char *hex, uint8_t *out)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

static CK_ULONG get_attr(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, void *buf,
                         CK_ULONG cap)
{
    CK_ATTRIBUTE a = {type, buf, cap};
    OK(F->C_GetAttributeValue(s, h, &a, 1));
    return a.ulValueLen;
}

static bool get_bool(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type)
{
    CK_BBOOL v = CK_FALSE;
    ck_assert_uint_eq(get_attr(s, h, type, &v, 1), 1);
    return v == CK_TRUE;
}

/* A secret key of the session with the given value; `extra` attributes are appended. */
static CK_OBJECT_HANDLE secret_key(CK_SESSION_HANDLE s, CK_KEY_TYPE kt, const uint8_t *val,
                                   size_t len, const CK_ATTRIBUTE *extra, size_t nextra)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_KEY_TYPE k = kt;
    CK_ATTRIBUTE t[24] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                          {CKA_KEY_TYPE, &k, sizeof(k)},
                          {CKA_TOKEN, &no, 1},
                          {CKA_VALUE, (void *)val, len}};
    size_t n = 4;
    ck_assert_uint_le(nextra, N(t) - n);
    for (size_t i = 0; i < nextra; i++)
        t[n++] = extra[i];
    OK(F->C_CreateObject(s, t, n, &h));
    return h;
}

static CK_OBJECT_HANDLE derive_base(CK_SESSION_HANDLE s, const uint8_t *val, size_t len)
{
    CK_ATTRIBUTE x[] = {{CKA_DERIVE, &yes, 1}};
    return secret_key(s, CKK_GENERIC_SECRET, val, len, x, 1);
}

/* Derive an extractable, readable generic secret of len bytes and read its value. */
static CK_RV derive_value(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_OBJECT_HANDLE base, CK_ULONG len,
                          uint8_t *out, CK_OBJECT_HANDLE *hout)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                        {CKA_KEY_TYPE, &kt_generic, sizeof(kt_generic)},
                        {CKA_SENSITIVE, &no, 1},
                        {CKA_EXTRACTABLE, &yes, 1},
                        {CKA_VALUE_LEN, &len, sizeof(len)}};
    CK_RV rv = F->C_DeriveKey(s, m, base, t, len ? N(t) : N(t) - 1, &h);
    if (rv != CKR_OK)
        return rv;
    if (out) {
        CK_ULONG vlen = get_attr(s, h, CKA_VALUE, out, 256);
        if (len)
            ck_assert_uint_eq(vlen, len);
        if (!len)
            ck_assert_uint_eq(get_attr(s, h, CKA_VALUE_LEN, &len, sizeof(len)), sizeof(len));
    }
    if (hout)
        *hout = h;
    return CKR_OK;
}

/* ---- HKDF: RFC 5869 appendix A ---- */

struct rfc5869 {
    const char *name;
    CK_MECHANISM_TYPE hash;
    const char *ikm, *salt, *info, *prk, *okm;
};

static const char A2_IKM[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
                             "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
                             "404142434445464748494a4b4c4d4e4f";
static const char A2_SALT[] = "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
                              "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
                              "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf";
static const char A2_INFO[] = "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
                              "d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeef"
                              "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

/* RFC 5869 A.1 (basic, SHA-256), A.2 (long inputs), A.3 (no salt, no info), A.4 (SHA-1). */
static const struct rfc5869 vectors[] = {
    {"A.1", CKM_SHA256, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "000102030405060708090a0b0c",
     "f0f1f2f3f4f5f6f7f8f9", "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
     "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"},
    {"A.2", CKM_SHA256, A2_IKM, A2_SALT, A2_INFO,
     "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
     "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e"
     "590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"},
    {"A.3", CKM_SHA256, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "", "",
     "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
     "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"},
    {"A.4", CKM_SHA_1, "0b0b0b0b0b0b0b0b0b0b0b", "000102030405060708090a0b0c",
     "f0f1f2f3f4f5f6f7f8f9", "9b6c18c432a7bf8f0e71c8eb88f4b30baa2ba243",
     "085a01ea1b10f36933068b56efa5ad81a4f14b822f5b091568a9cdd4f155fda2c22e422478d305f3f896"},
};

static void hkdf_params(CK_HKDF_PARAMS *p, const struct rfc5869 *v, uint8_t *salt, size_t slen,
                        uint8_t *info, size_t ilen, bool extract, bool expand)
{
    memset(p, 0, sizeof(*p));
    p->bExtract = extract;
    p->bExpand = expand;
    p->prfHashMechanism = v->hash;
    p->ulSaltType = slen ? CKF_HKDF_SALT_DATA : CKF_HKDF_SALT_NULL;
    p->pSalt = slen ? salt : NULL;
    p->ulSaltLen = slen;
    p->pInfo = ilen ? info : NULL;
    p->ulInfoLen = ilen;
}

START_TEST(test_hkdf_derive_matches_rfc5869)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    for (size_t i = 0; i < N(vectors); i++) {
        const struct rfc5869 *v = &vectors[i];
        uint8_t ikm[128], salt[128], info[128], prk[64], okm[128], got[256];
        size_t klen = hex2bin(v->ikm, ikm), slen = hex2bin(v->salt, salt);
        size_t ilen = hex2bin(v->info, info), plen = hex2bin(v->prk, prk);
        size_t olen = hex2bin(v->okm, okm);
        CK_OBJECT_HANDLE base = derive_base(s, ikm, klen), prk_key;
        CK_HKDF_PARAMS p;
        CK_MECHANISM m = {CKM_HKDF_DERIVE, &p, sizeof(p)};
        /* extract and expand */
        hkdf_params(&p, v, salt, slen, info, ilen, true, true);
        OK(derive_value(s, &m, base, olen, got, NULL));
        ck_assert_msg(memcmp(got, okm, olen) == 0, "RFC 5869 %s OKM differs", v->name);
        /* extract only: the PRK, of the hash's size without CKA_VALUE_LEN */
        hkdf_params(&p, v, salt, slen, info, ilen, true, false);
        OK(derive_value(s, &m, base, 0, got, NULL));
        ck_assert_msg(memcmp(got, prk, plen) == 0, "RFC 5869 %s PRK differs", v->name);
        /* expand only, from the PRK as a key */
        prk_key = derive_base(s, prk, plen);
        hkdf_params(&p, v, NULL, 0, info, ilen, false, true);
        OK(derive_value(s, &m, prk_key, olen, got, NULL));
        ck_assert_msg(memcmp(got, okm, olen) == 0, "RFC 5869 %s expand-only OKM differs",
                      v->name);
    }
}
END_TEST

START_TEST(test_hkdf_data_makes_a_data_object)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    const struct rfc5869 *v = &vectors[0];
    uint8_t ikm[64], salt[64], info[64], okm[64], got[128];
    size_t klen = hex2bin(v->ikm, ikm), slen = hex2bin(v->salt, salt);
    size_t ilen = hex2bin(v->info, info), olen = hex2bin(v->okm, okm);
    CK_OBJECT_HANDLE base = derive_base(s, ikm, klen), h = CK_INVALID_HANDLE;
    CK_HKDF_PARAMS p;
    CK_MECHANISM m = {CKM_HKDF_DATA, &p, sizeof(p)};
    CK_ULONG len = olen;
    CK_OBJECT_CLASS cls = 0;
    hkdf_params(&p, v, salt, slen, info, ilen, true, true);
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_data, sizeof(cls_data)},
                        {CKA_LABEL, "okm", 3},
                        {CKA_VALUE_LEN, &len, sizeof(len)}};
    OK(F->C_DeriveKey(s, &m, base, t, N(t), &h));
    ck_assert_uint_eq(get_attr(s, h, CKA_CLASS, &cls, sizeof(cls)), sizeof(cls));
    ck_assert_uint_eq(cls, CKO_DATA);
    ck_assert_uint_eq(get_attr(s, h, CKA_VALUE, got, sizeof(got)), olen);
    ck_assert_mem_eq(got, okm, olen);
    /* derived bytes are key material: the object is private unless the template says not */
    CK_BBOOL priv = CK_FALSE;
    ck_assert_uint_eq(get_attr(s, h, CKA_PRIVATE, &priv, sizeof(priv)), sizeof(priv));
    ck_assert_uint_eq(priv, CK_TRUE);
    /* a data object needs the length; a key template is not a data template */
    EXPECT_RV(CKR_TEMPLATE_INCOMPLETE, F->C_DeriveKey(s, &m, base, t, 2, &h));
    CK_ATTRIBUTE kt[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                         {CKA_VALUE_LEN, &len, sizeof(len)}};
    EXPECT_RV(CKR_TEMPLATE_INCONSISTENT, F->C_DeriveKey(s, &m, base, kt, N(kt), &h));
}
END_TEST

START_TEST(test_hkdf_salt_key_equals_salt_data)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    const struct rfc5869 *v = &vectors[0];
    uint8_t ikm[64], salt[64], info[64], okm[64], got[128];
    size_t klen = hex2bin(v->ikm, ikm), slen = hex2bin(v->salt, salt);
    size_t ilen = hex2bin(v->info, info), olen = hex2bin(v->okm, okm);
    CK_OBJECT_HANDLE base = derive_base(s, ikm, klen), skey = derive_base(s, salt, slen);
    CK_HKDF_PARAMS p;
    CK_MECHANISM m = {CKM_HKDF_DERIVE, &p, sizeof(p)};
    hkdf_params(&p, v, NULL, 0, info, ilen, true, true);
    p.ulSaltType = CKF_HKDF_SALT_KEY;
    p.hSaltKey = skey;
    OK(derive_value(s, &m, base, olen, got, NULL));
    ck_assert_mem_eq(got, okm, olen);
    p.hSaltKey = 0x7ffffff0;
    EXPECT_RV(CKR_KEY_HANDLE_INVALID, derive_value(s, &m, base, olen, NULL, NULL));
    /* the salt key is the extract step's HMAC key: it must allow derivation itself, else a
     * key that may not sign (or derive) would compute HMACs of chosen data */
    CK_ATTRIBUTE nd[] = {{CKA_DERIVE, &no, 1}};
    p.hSaltKey = secret_key(s, CKK_GENERIC_SECRET, salt, slen, nd, 1);
    EXPECT_RV(CKR_KEY_FUNCTION_NOT_PERMITTED, derive_value(s, &m, base, olen, NULL, NULL));
}
END_TEST


START_TEST(test_hkdf_bad_parameters_are_param_invalid)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    uint8_t ikm[32] = {1}, salt[4] = {2};
    CK_OBJECT_HANDLE base = derive_base(s, ikm, sizeof(ikm));
    CK_HKDF_PARAMS p = {CK_TRUE, CK_TRUE, CKM_SHA256, CKF_HKDF_SALT_NULL, NULL, 0, 0, NULL, 0};
    CK_MECHANISM m = {CKM_HKDF_DERIVE, NULL, 0};
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, derive_value(s, &m, base, 32, NULL, NULL));
    m.pParameter = &p;
    m.ulParameterLen = sizeof(p) - 1;
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, derive_value(s, &m, base, 32, NULL, NULL));
    m.ulParameterLen = sizeof(p);
    OK(derive_value(s, &m, base, 32, NULL, NULL)); /* the baseline works */
    p.prfHashMechanism = CKM_MD5;
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, derive_value(s, &m, base, 32, NULL, NULL));
    p.prfHashMechanism = CKM_SHA256_HMAC;
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, derive_value(s, &m, base, 32, NULL, NULL));
    p.prfHashMechanism = CKM_SHA256;
    p.ulSaltType = 8;
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, derive_value(s, &m, base, 32, NULL, NULL));
    p.ulSaltType = CKF_HKDF_SALT_DATA; /* without salt bytes */
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, derive_value(s, &m, base, 32, NULL, NULL));
    p.pSalt = salt;
    p.ulSaltLen = sizeof(salt);
    OK(derive_value(s, &m, base, 32, NULL, NULL));
    p.bExtract = p.bExpand = CK_FALSE;
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, derive_value(s, &m, base, 32, NULL, NULL));
    p.bExpand = CK_TRUE;
    p.ulInfoLen = 4; /* info length without bytes */
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, derive_value(s, &m, base, 32, NULL, NULL));
    p.ulInfoLen = 0;
    /* expand needs a length, and at most 255 blocks */
    EXPECT_RV(CKR_TEMPLATE_INCOMPLETE, derive_value(s, &m, base, 0, NULL, NULL));
}
END_TEST

/* ---- SP 800-108 counter mode against OpenSSL's KBKDF ---- */

/* OpenSSL 3.0's KBKDF (its counter is always 32 bits). */
static void ossl_kbkdf(const char *mac, const char *digest_or_cipher, const uint8_t *key,
                       size_t klen, const uint8_t *label, size_t llen, const uint8_t *ctx,
                       size_t clen, uint8_t *out, size_t len)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "KBKDF", NULL);
    EVP_KDF_CTX *kc = EVP_KDF_CTX_new(kdf);
    bool cmac = strcmp(mac, "CMAC") == 0;
    OSSL_PARAM p[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, "COUNTER", 0),
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, (char *)mac, 0),
        OSSL_PARAM_construct_utf8_string(cmac ? OSSL_KDF_PARAM_CIPHER : OSSL_KDF_PARAM_DIGEST,
                                         (char *)digest_or_cipher, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, klen),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)label, llen),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)ctx, clen),
        OSSL_PARAM_END};
    ck_assert_ptr_nonnull(kc);
    ck_assert_int_eq(EVP_KDF_derive(kc, out, len, p), 1);
    EVP_KDF_CTX_free(kc);
    EVP_KDF_free(kdf);
}

/* SP 800-108 counter mode written out with OpenSSL's MACs, for counter widths the KDF above
 * lacks: K(i) = MAC(key, [i]_r || label || 0x00 || context || [L]_32). */
static void mac_kbkdf(const char *mac, const char *digest_or_cipher, const uint8_t *key,
                      size_t klen, const uint8_t *label, size_t llen, const uint8_t *ctx,
                      size_t clen, int r, uint8_t *out, size_t len)
{
    EVP_MAC *em = EVP_MAC_fetch(NULL, mac, NULL);
    bool cmac = strcmp(mac, "CMAC") == 0;
    uint32_t bits = (uint32_t)len * 8;
    uint8_t l32[4] = {(uint8_t)(bits >> 24), (uint8_t)(bits >> 16), (uint8_t)(bits >> 8),
                      (uint8_t)bits},
            zero = 0, blk[64];
    ck_assert_ptr_nonnull(em);
    for (uint32_t i = 1, done = 0; done < len; i++) {
        EVP_MAC_CTX *mc = EVP_MAC_CTX_new(em);
        OSSL_PARAM p[] = {
            OSSL_PARAM_construct_utf8_string(cmac ? OSSL_MAC_PARAM_CIPHER : OSSL_MAC_PARAM_DIGEST,
                                             (char *)digest_or_cipher, 0),
            OSSL_PARAM_END};
        uint8_t ctr[4];
        size_t n = 0;
        for (int b = 0; b < r / 8; b++)
            ctr[b] = (uint8_t)(i >> (8 * (r / 8 - 1 - b)));
        ck_assert_int_eq(EVP_MAC_init(mc, key, klen, p), 1);
        ck_assert_int_eq(EVP_MAC_update(mc, ctr, (size_t)r / 8), 1);
        ck_assert_int_eq(EVP_MAC_update(mc, label, llen), 1);
        ck_assert_int_eq(EVP_MAC_update(mc, &zero, 1), 1);
        ck_assert_int_eq(EVP_MAC_update(mc, ctx, clen), 1);
        ck_assert_int_eq(EVP_MAC_update(mc, l32, 4), 1);
        ck_assert_int_eq(EVP_MAC_final(mc, blk, &n, sizeof(blk)), 1);
        EVP_MAC_CTX_free(mc);
        size_t k = len - done < n ? len - done : n;
        memcpy(out + done, blk, k);
        done += (uint32_t)k;
    }
    EVP_MAC_free(em);
}

/* OpenSSL's KBKDF input: [i]_r || Label || 0x00 || Context || [L]_32, big-endian. */
static void kbkdf_case(CK_SESSION_HANDLE s, CK_SP800_108_PRF_TYPE prf, CK_KEY_TYPE kt,
                       const char *mac, const char *md, size_t klen, int r, CK_ULONG len)
{
    uint8_t key[32], label[] = "libsea label", ctx[] = "context of the test", zero = 0;
    uint8_t want[128], got[256];
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(0xa5 ^ i * 7);
    CK_ATTRIBUTE x[] = {{CKA_DERIVE, &yes, 1}};
    CK_OBJECT_HANDLE base = secret_key(s, kt, key, klen, x, 1);
    CK_SP800_108_COUNTER_FORMAT cf = {CK_FALSE, (CK_ULONG)r};
    CK_SP800_108_DKM_LENGTH_FORMAT lf = {CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS, CK_FALSE, 32};
    CK_PRF_DATA_PARAM d[] = {{CK_SP800_108_ITERATION_VARIABLE, &cf, sizeof(cf)},
                             {CK_SP800_108_BYTE_ARRAY, label, sizeof(label) - 1},
                             {CK_SP800_108_BYTE_ARRAY, &zero, 1},
                             {CK_SP800_108_BYTE_ARRAY, ctx, sizeof(ctx) - 1},
                             {CK_SP800_108_DKM_LENGTH, &lf, sizeof(lf)}};
    CK_SP800_108_KDF_PARAMS p = {prf, N(d), d, 0, NULL};
    CK_MECHANISM m = {CKM_SP800_108_COUNTER_KDF, &p, sizeof(p)};
    mac_kbkdf(mac, md, key, klen, label, sizeof(label) - 1, ctx, sizeof(ctx) - 1, r, want, len);
    if (r == 32) { /* the written-out reference agrees with OpenSSL's own KBKDF */
        uint8_t kdf[128];
        ossl_kbkdf(mac, md, key, klen, label, sizeof(label) - 1, ctx, sizeof(ctx) - 1, kdf, len);
        ck_assert_mem_eq(kdf, want, len);
    }
    OK(derive_value(s, &m, base, len, got, NULL));
    ck_assert_msg(memcmp(got, want, len) == 0, "SP 800-108 %s/%s r=%d differs from OpenSSL", mac,
                  md, r);
}

START_TEST(test_sp800_108_counter_matches_openssl)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    kbkdf_case(s, CKM_SHA256_HMAC, CKK_GENERIC_SECRET, "HMAC", "SHA2-256", 32, 32, 42);
    kbkdf_case(s, CKM_SHA256_HMAC, CKK_GENERIC_SECRET, "HMAC", "SHA2-256", 32, 8, 100);
    kbkdf_case(s, CKM_SHA384_HMAC, CKK_GENERIC_SECRET, "HMAC", "SHA2-384", 24, 32, 64);
    kbkdf_case(s, CKM_SHA512_HMAC, CKK_GENERIC_SECRET, "HMAC", "SHA2-512", 16, 16, 16);
    kbkdf_case(s, CKM_AES_CMAC, CKK_AES, "CMAC", "AES-128-CBC", 16, 32, 40);
    kbkdf_case(s, CKM_AES_CMAC, CKK_AES, "CMAC", "AES-256-CBC", 32, 32, 32);
}
END_TEST

START_TEST(test_sp800_108_bad_parameters_are_param_invalid)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    uint8_t key[32] = {3}, fixed[8] = {4};
    CK_OBJECT_HANDLE base = derive_base(s, key, sizeof(key)), extra = CK_INVALID_HANDLE;
    CK_SP800_108_COUNTER_FORMAT cf = {CK_FALSE, 32}, bad_cf = {CK_FALSE, 12};
    CK_PRF_DATA_PARAM d[] = {{CK_SP800_108_ITERATION_VARIABLE, &cf, sizeof(cf)},
                             {CK_SP800_108_BYTE_ARRAY, fixed, sizeof(fixed)}};
    CK_SP800_108_KDF_PARAMS p = {CKM_SHA256_HMAC, N(d), d, 0, NULL};
    CK_MECHANISM m = {CKM_SP800_108_COUNTER_KDF, &p, sizeof(p)};
    OK(derive_value(s, &m, base, 32, NULL, NULL));
    /* additional derived keys are refused */
    CK_ATTRIBUTE at[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)}};
    CK_DERIVED_KEY dk = {at, 1, &extra};
    p.ulAdditionalDerivedKeys = 1;
    p.pAdditionalDerivedKeys = &dk;
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, derive_value(s, &m, base, 32, NULL, NULL));
    p.ulAdditionalDerivedKeys = 0;
    p.pAdditionalDerivedKeys = NULL;
    p.prfType = CKM_SHA256; /* a hash, not a PRF */
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, derive_value(s, &m, base, 32, NULL, NULL));
    p.prfType = CKM_SHA256_HMAC;
    p.ulNumberOfDataParams = 1;
    p.pDataParams = d + 1; /* no iteration variable */
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, derive_value(s, &m, base, 32, NULL, NULL));
    d[0].pValue = &bad_cf;
    p.ulNumberOfDataParams = N(d);
    p.pDataParams = d;
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, derive_value(s, &m, base, 32, NULL, NULL));
    d[0].pValue = &cf;
    d[1].type = CK_SP800_108_OPTIONAL_COUNTER; /* feedback/pipeline only */
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, derive_value(s, &m, base, 32, NULL, NULL));
    p.prfType = CKM_AES_CMAC; /* a generic secret is no AES key */
    d[1].type = CK_SP800_108_BYTE_ARRAY;
    EXPECT_RV(CKR_KEY_TYPE_INCONSISTENT, derive_value(s, &m, base, 32, NULL, NULL));
    /* a DKM length field that cannot hold the length (64 bytes = 512 bits in 8 bits) is
     * refused, not truncated; 16 bits hold it */
    p.prfType = CKM_SHA256_HMAC;
    CK_SP800_108_DKM_LENGTH_FORMAT narrow = {CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS, CK_FALSE, 8};
    CK_PRF_DATA_PARAM dl[] = {{CK_SP800_108_ITERATION_VARIABLE, &cf, sizeof(cf)},
                              {CK_SP800_108_DKM_LENGTH, &narrow, sizeof(narrow)}};
    p.ulNumberOfDataParams = N(dl);
    p.pDataParams = dl;
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, derive_value(s, &m, base, 64, NULL, NULL));
    narrow.ulWidthInBits = 16;
    OK(derive_value(s, &m, base, 64, NULL, NULL));
}
END_TEST

/* ---- ECDH ---- */

static void gen_ec_derive(CK_SESSION_HANDLE s, const CK_BYTE *params, size_t plen,
                          CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv, CK_BBOOL extractable)
{
    CK_MECHANISM m = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pt[] = {{CKA_TOKEN, &no, 1}, {CKA_VERIFY, &yes, 1},
                         {CKA_EC_PARAMS, (void *)params, plen}};
    CK_ATTRIBUTE qt[] = {{CKA_TOKEN, &no, 1},
                         {CKA_PRIVATE, &yes, 1},
                         {CKA_SENSITIVE, &yes, 1},
                         {CKA_SIGN, &yes, 1},
                         {CKA_DERIVE, &yes, 1},
                         {CKA_EXTRACTABLE, &extractable, 1}};
    OK(F->C_GenerateKeyPair(s, &m, pt, N(pt), qt, N(qt), pub, priv));
}

/* A key with CKA_ALWAYS_AUTHENTICATE wants the PIN for each use; C_DeriveKey has no Init for a
 * context-specific login to follow, so such a key does not derive (nor unwrap). */
START_TEST(test_always_authenticate_keys_do_not_derive)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    CK_OBJECT_HANDLE pub, priv, pub2, priv2;
    gen_ec_derive(s, P256, sizeof(P256), &pub, &priv, CK_FALSE);
    uint8_t point[160];
    CK_ULONG plen = get_attr(s, pub, CKA_EC_POINT, point, sizeof(point));
    CK_ECDH1_DERIVE_PARAMS ep = {CKD_NULL, 0, NULL, plen, point};
    CK_MECHANISM m = {CKM_ECDH1_DERIVE, &ep, sizeof(ep)};
    OK(derive_value(s, &m, priv, 32, NULL, NULL)); /* the baseline works */
    CK_MECHANISM gen = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pt[] = {{CKA_TOKEN, &no, 1}, {CKA_EC_PARAMS, (void *)P256, sizeof(P256)}};
    CK_ATTRIBUTE qt[] = {{CKA_TOKEN, &no, 1},
                         {CKA_DERIVE, &yes, 1},
                         {CKA_ALWAYS_AUTHENTICATE, &yes, 1}};
    OK(F->C_GenerateKeyPair(s, &gen, pt, N(pt), qt, N(qt), &pub2, &priv2));
    EXPECT_RV(CKR_KEY_FUNCTION_NOT_PERMITTED, derive_value(s, &m, priv2, 32, NULL, NULL));
}
END_TEST

static EVP_PKEY *pkey_of(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub)
{
    uint8_t spki[1024];
    CK_ULONG spki_len = get_attr(s, pub, CKA_PUBLIC_KEY_INFO, spki, sizeof(spki));
    const unsigned char *p = spki;
    EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)spki_len);
    ck_assert_ptr_nonnull(pk);
    return pk;
}

/* The ANSI X9.63 KDF written out in the test: H(Z || counter || shared) blocks. */
static void x963(const char *md, const uint8_t *z, size_t zlen, const uint8_t *shared,
                 size_t slen, uint8_t *out, size_t len)
{
    uint8_t blk[64];
    for (uint32_t i = 1, done = 0; done < len; i++) {
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        unsigned n = 0;
        uint8_t be[4] = {(uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
        ck_assert_int_eq(EVP_DigestInit_ex(c, EVP_get_digestbyname(md), NULL), 1);
        ck_assert_int_eq(EVP_DigestUpdate(c, z, zlen), 1);
        ck_assert_int_eq(EVP_DigestUpdate(c, be, 4), 1);
        ck_assert_int_eq(EVP_DigestUpdate(c, shared, slen), 1);
        ck_assert_int_eq(EVP_DigestFinal_ex(c, blk, &n), 1);
        EVP_MD_CTX_free(c);
        size_t k = len - done < n ? len - done : n;
        memcpy(out + done, blk, k);
        done += (uint32_t)k;
    }
}

static void ecdh_case(const CK_BYTE *params, size_t plen, const char *group)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    CK_OBJECT_HANDLE pub, priv;
    gen_ec_derive(s, params, plen, &pub, &priv, CK_FALSE);
    /* the peer, made by OpenSSL */
    EVP_PKEY *peer = EVP_PKEY_Q_keygen(NULL, NULL, "EC", group);
    ck_assert_ptr_nonnull(peer);
    uint8_t point[160], der[164], z[80], want[80], got[256];
    size_t point_len = 0, zlen = sizeof(z);
    ck_assert_int_eq(EVP_PKEY_get_octet_string_param(peer, OSSL_PKEY_PARAM_PUB_KEY, point,
                                                     sizeof(point), &point_len),
                     1);
    /* OpenSSL's shared secret with our public key */
    EVP_PKEY *ours = pkey_of(s, pub);
    EVP_PKEY_CTX *dc = EVP_PKEY_CTX_new(peer, NULL);
    ck_assert_int_eq(EVP_PKEY_derive_init(dc), 1);
    ck_assert_int_eq(EVP_PKEY_derive_set_peer(dc, ours), 1);
    ck_assert_int_eq(EVP_PKEY_derive(dc, z, &zlen), 1);
    EVP_PKEY_CTX_free(dc);

    /* CKD_NULL, raw point: the shared secret itself */
    CK_ECDH1_DERIVE_PARAMS p = {CKD_NULL, 0, NULL, point_len, point};
    CK_MECHANISM m = {CKM_ECDH1_DERIVE, &p, sizeof(p)};
    OK(derive_value(s, &m, priv, 0, got, NULL));
    ck_assert_mem_eq(got, z, zlen);
    /* the point as a DER OCTET STRING gives the same */
    der[0] = 0x04;
    der[1] = (uint8_t)point_len;
    memcpy(der + 2, point, point_len);
    p.pPublicData = der;
    p.ulPublicDataLen = point_len + 2;
    OK(derive_value(s, &m, priv, (CK_ULONG)zlen, got, NULL));
    ck_assert_mem_eq(got, z, zlen);

    /* CKD_SHA256_KDF with shared data: X9.63 over the same secret */
    uint8_t shared[] = "shared info";
    p.kdf = CKD_SHA256_KDF;
    p.pSharedData = shared;
    p.ulSharedDataLen = sizeof(shared) - 1;
    x963("SHA256", z, zlen, shared, sizeof(shared) - 1, want, 48);
    OK(derive_value(s, &m, priv, 48, got, NULL));
    ck_assert_mem_eq(got, want, 48);
    p.kdf = CKD_SHA384_KDF;
    x963("SHA384", z, zlen, NULL, 0, want, 32);
    p.pSharedData = NULL;
    p.ulSharedDataLen = 0;
    OK(derive_value(s, &m, priv, 32, got, NULL));
    ck_assert_mem_eq(got, want, 32);

    /* an AES key straight from CKD_NULL works for encryption */
    CK_OBJECT_HANDLE aes = CK_INVALID_HANDLE;
    CK_ULONG klen = 16;
    CK_ATTRIBUTE at[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                         {CKA_KEY_TYPE, &kt_aes, sizeof(kt_aes)},
                         {CKA_VALUE_LEN, &klen, sizeof(klen)},
                         {CKA_ENCRYPT, &yes, 1}};
    p.kdf = CKD_SHA256_KDF;
    OK(F->C_DeriveKey(s, &m, priv, at, N(at), &aes));
    EXPECT_RV(CKR_ATTRIBUTE_SENSITIVE, F->C_GetAttributeValue(
                                           s, aes, &(CK_ATTRIBUTE){CKA_VALUE, got, 64}, 1));

    /* bad parameters */
    p.kdf = 0x77;
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, derive_value(s, &m, priv, 32, NULL, NULL));
    p.kdf = CKD_NULL;
    p.pSharedData = shared; /* CKD_NULL takes no shared data */
    p.ulSharedDataLen = 4;
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, derive_value(s, &m, priv, 0, NULL, NULL));
    p.pSharedData = NULL;
    p.ulSharedDataLen = 0;
    point[point_len - 1] ^= 1; /* off the curve */
    p.pPublicData = point;
    p.ulPublicDataLen = point_len;
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, derive_value(s, &m, priv, 0, NULL, NULL));
    m.ulParameterLen = 8;
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, derive_value(s, &m, priv, 0, NULL, NULL));
    /* a public key is no base key */
    m.ulParameterLen = sizeof(p);
    point[point_len - 1] ^= 1;
    EXPECT_RV(CKR_KEY_TYPE_INCONSISTENT, derive_value(s, &m, pub, 0, NULL, NULL));
    EVP_PKEY_free(ours);
    EVP_PKEY_free(peer);
}

START_TEST(test_ecdh_p256_matches_openssl)
{
    ecdh_case(P256, sizeof(P256), "P-256");
}
END_TEST

START_TEST(test_ecdh_p384_matches_openssl)
{
    ecdh_case(P384, sizeof(P384), "P-384");
}
END_TEST

/* ---- derived keys' attributes ---- */

START_TEST(test_derived_key_attributes_follow_the_base)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    CK_MECHANISM gm = {CKM_GENERIC_SECRET_KEY_GEN, NULL, 0};
    CK_ULONG len = 32;
    CK_OBJECT_HANDLE gen = CK_INVALID_HANDLE, h = CK_INVALID_HANDLE, imported;
    CK_ATTRIBUTE gt[] = {{CKA_VALUE_LEN, &len, sizeof(len)},
                         {CKA_DERIVE, &yes, 1},
                         {CKA_SENSITIVE, &yes, 1},
                         {CKA_EXTRACTABLE, &no, 1}};
    OK(F->C_GenerateKey(s, &gm, gt, N(gt), &gen));
    ck_assert(get_bool(s, gen, CKA_ALWAYS_SENSITIVE) && get_bool(s, gen, CKA_NEVER_EXTRACTABLE));
    CK_HKDF_PARAMS p = {CK_TRUE, CK_TRUE, CKM_SHA256, CKF_HKDF_SALT_NULL, NULL, 0, 0, NULL, 0};
    CK_MECHANISM m = {CKM_HKDF_DERIVE, &p, sizeof(p)};
    CK_ATTRIBUTE st[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                         {CKA_KEY_TYPE, &kt_generic, sizeof(kt_generic)},
                         {CKA_VALUE_LEN, &len, sizeof(len)},
                         {CKA_SENSITIVE, &yes, 1},
                         {CKA_EXTRACTABLE, &no, 1}};
    /* sensitive and unextractable from an always-sensitive, never-extractable base */
    OK(F->C_DeriveKey(s, &m, gen, st, N(st), &h));
    ck_assert(get_bool(s, h, CKA_ALWAYS_SENSITIVE));
    ck_assert(get_bool(s, h, CKA_NEVER_EXTRACTABLE));
    ck_assert(!get_bool(s, h, CKA_LOCAL));
    EXPECT_RV(CKR_ATTRIBUTE_SENSITIVE,
              F->C_GetAttributeValue(s, h, &(CK_ATTRIBUTE){CKA_VALUE, NULL, 0}, 1));
    /* extractable and readable: neither */
    OK(derive_value(s, &m, gen, 32, NULL, &h));
    ck_assert(!get_bool(s, h, CKA_ALWAYS_SENSITIVE));
    ck_assert(!get_bool(s, h, CKA_NEVER_EXTRACTABLE));
    ck_assert(!get_bool(s, h, CKA_LOCAL));
    /* from an imported base: never "always sensitive", whatever the new key is */
    uint8_t v[32] = {9};
    imported = derive_base(s, v, sizeof(v));
    OK(F->C_DeriveKey(s, &m, imported, st, N(st), &h));
    ck_assert(!get_bool(s, h, CKA_ALWAYS_SENSITIVE));
    ck_assert(!get_bool(s, h, CKA_NEVER_EXTRACTABLE));
    /* a key of unnamed type is a generic secret */
    CK_KEY_TYPE kt = 0;
    OK(F->C_DeriveKey(s, &m, imported, st + 2, N(st) - 2, &h));
    ck_assert_uint_eq(get_attr(s, h, CKA_KEY_TYPE, &kt, sizeof(kt)), sizeof(kt));
    ck_assert_uint_eq(kt, CKK_GENERIC_SECRET);
    /* AES needs one of its lengths */
    CK_ULONG bad = 20;
    CK_ATTRIBUTE at[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                         {CKA_KEY_TYPE, &kt_aes, sizeof(kt_aes)},
                         {CKA_VALUE_LEN, &bad, sizeof(bad)}};
    EXPECT_RV(CKR_ATTRIBUTE_VALUE_INVALID, F->C_DeriveKey(s, &m, imported, at, N(at), &h));
    /* values come from the derivation, not from the template */
    CK_ATTRIBUTE vt[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                         {CKA_VALUE_LEN, &len, sizeof(len)},
                         {CKA_VALUE, v, sizeof(v)}};
    EXPECT_RV(CKR_TEMPLATE_INCONSISTENT, F->C_DeriveKey(s, &m, imported, vt, N(vt), &h));
}
END_TEST

START_TEST(test_derive_rules_and_codes)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s = user_session(&slot), ro = CK_INVALID_HANDLE;
    uint8_t v[32] = {5};
    CK_ATTRIBUTE x[] = {{CKA_DERIVE, &no, 1}};
    CK_OBJECT_HANDLE nodrv = secret_key(s, CKK_GENERIC_SECRET, v, sizeof(v), x, 1);
    CK_OBJECT_HANDLE base = derive_base(s, v, sizeof(v)), h;
    CK_HKDF_PARAMS p = {CK_TRUE, CK_TRUE, CKM_SHA256, CKF_HKDF_SALT_NULL, NULL, 0, 0, NULL, 0};
    CK_MECHANISM m = {CKM_HKDF_DERIVE, &p, sizeof(p)};
    EXPECT_RV(CKR_KEY_FUNCTION_NOT_PERMITTED, derive_value(s, &m, nodrv, 32, NULL, NULL));
    EXPECT_RV(CKR_KEY_HANDLE_INVALID, derive_value(s, &m, 0x7ffffff1, 32, NULL, NULL));
    CK_MECHANISM bad = {CKM_SHA256_HMAC, NULL, 0};
    EXPECT_RV(CKR_MECHANISM_INVALID, derive_value(s, &bad, base, 32, NULL, NULL));
    /* a token key in a read-only session */
    CK_ULONG len = 32;
    CK_ATTRIBUTE tt[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                         {CKA_VALUE_LEN, &len, sizeof(len)},
                         {CKA_TOKEN, &yes, 1}};
    OK(F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &ro));
    EXPECT_RV(CKR_SESSION_READ_ONLY, F->C_DeriveKey(ro, &m, base, tt, N(tt), &h));
    OK(F->C_DeriveKey(s, &m, base, tt, N(tt), &h));
    /* CKA_DERIVE_TEMPLATE: added to the new key, and a contradiction refused */
    CK_ATTRIBUTE inner[] = {{CKA_SIGN, &yes, 1}, {CKA_ENCRYPT, &no, 1}};
    CK_ATTRIBUTE dx[] = {{CKA_DERIVE, &yes, 1}, {CKA_DERIVE_TEMPLATE, inner, sizeof(inner)}};
    CK_OBJECT_HANDLE tb = secret_key(s, CKK_GENERIC_SECRET, v, sizeof(v), dx, N(dx));
    OK(derive_value(s, &m, tb, 32, NULL, &h));
    ck_assert(get_bool(s, h, CKA_SIGN) && !get_bool(s, h, CKA_ENCRYPT));
    CK_ATTRIBUTE ct[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                         {CKA_VALUE_LEN, &len, sizeof(len)},
                         {CKA_ENCRYPT, &yes, 1}};
    EXPECT_RV(CKR_TEMPLATE_INCONSISTENT, F->C_DeriveKey(s, &m, tb, ct, N(ct), &h));
    /* a derive template may name the key type: an AES key of CKA_VALUE_LEN bytes */
    CK_ATTRIBUTE inner2[] = {{CKA_KEY_TYPE, &kt_aes, sizeof(kt_aes)}};
    CK_ATTRIBUTE dx2[] = {{CKA_DERIVE, &yes, 1}, {CKA_DERIVE_TEMPLATE, inner2, sizeof(inner2)}};
    CK_OBJECT_HANDLE ab = secret_key(s, CKK_GENERIC_SECRET, v, sizeof(v), dx2, N(dx2));
    CK_ULONG l16 = 16;
    CK_KEY_TYPE dkt = 0;
    CK_ATTRIBUTE lt[] = {{CKA_VALUE_LEN, &l16, sizeof(l16)}};
    OK(F->C_DeriveKey(s, &m, ab, lt, N(lt), &h));
    ck_assert_uint_eq(get_attr(s, h, CKA_KEY_TYPE, &dkt, sizeof(dkt)), sizeof(dkt));
    ck_assert_uint_eq(dkt, CKK_AES);
    /* private objects need the user (a token key: session ones end with the login) */
    CK_OBJECT_HANDLE tk = CK_INVALID_HANDLE;
    CK_ATTRIBUTE kt[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                         {CKA_KEY_TYPE, &kt_generic, sizeof(kt_generic)},
                         {CKA_TOKEN, &yes, 1},
                         {CKA_PRIVATE, &yes, 1},
                         {CKA_DERIVE, &yes, 1},
                         {CKA_VALUE, v, sizeof(v)}};
    OK(F->C_CreateObject(s, kt, N(kt), &tk));
    OK(derive_value(s, &m, tk, 32, NULL, NULL));
    OK(F->C_Logout(s));
    EXPECT_RV(CKR_USER_NOT_LOGGED_IN, derive_value(s, &m, tk, 32, NULL, NULL));
}
END_TEST

/* ---- wrapping ---- */

static CK_OBJECT_HANDLE wrapping_key(CK_SESSION_HANDLE s, const uint8_t *key, const CK_ATTRIBUTE *x,
                                     size_t nx)
{
    CK_ATTRIBUTE t[8] = {{CKA_WRAP, &yes, 1}, {CKA_UNWRAP, &yes, 1}};
    size_t n = 2;
    for (size_t i = 0; i < nx; i++)
        t[n++] = x[i];
    return secret_key(s, CKK_AES, key, 32, t, n);
}

/* AES-256-GCM decryption in OpenSSL: 1 if the tag verifies. */
static int ossl_gcm_open(const uint8_t *key, const uint8_t *iv, const uint8_t *in, size_t len,
                         uint8_t *out)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, ok;
    ck_assert_int_eq(EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv), 1);
    ck_assert_int_eq(EVP_DecryptUpdate(c, out, &n, in, (int)len - 16), 1);
    ck_assert_int_eq(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *)(in + len - 16)), 1);
    ok = EVP_DecryptFinal_ex(c, out + n, &n);
    EVP_CIPHER_CTX_free(c);
    return ok;
}

static CK_ULONG gcm_encrypt(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE k, const uint8_t *in,
                            size_t len, uint8_t *out)
{
    uint8_t iv[12] = {1, 2, 3};
    CK_GCM_PARAMS gp = {iv, sizeof(iv), 96, NULL, 0, 128};
    CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
    CK_ULONG n = 256;
    OK(F->C_EncryptInit(s, &m, k));
    OK(F->C_Encrypt(s, (CK_BYTE_PTR)in, len, out, &n));
    return n;
}

START_TEST(test_wrap_unwrap_aes_key_with_gcm)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    uint8_t kek[32], key[16], iv[12] = {7, 7, 7}, blob[128], plain[64];
    for (size_t i = 0; i < 32; i++)
        kek[i] = (uint8_t)(i * 3 + 1);
    for (size_t i = 0; i < 16; i++)
        key[i] = (uint8_t)(0xf0 - i);
    CK_OBJECT_HANDLE w = wrapping_key(s, kek, NULL, 0);
    CK_ATTRIBUTE x[] = {{CKA_EXTRACTABLE, &yes, 1}, {CKA_ENCRYPT, &yes, 1}};
    CK_OBJECT_HANDLE k = secret_key(s, CKK_AES, key, sizeof(key), x, N(x)), u = 0;
    CK_GCM_PARAMS gp = {iv, sizeof(iv), 96, NULL, 0, 128};
    CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
    /* size query, then a buffer one byte short: the size, and nothing written */
    CK_ULONG len = 0;
    OK(F->C_WrapKey(s, &m, w, k, NULL, &len));
    ck_assert_uint_eq(len, sizeof(key) + 16);
    memset(blob, 0xaa, sizeof(blob));
    len = sizeof(key) + 15;
    EXPECT_RV(CKR_BUFFER_TOO_SMALL, F->C_WrapKey(s, &m, w, k, blob, &len));
    ck_assert_uint_eq(len, sizeof(key) + 16);
    for (size_t i = 0; i < sizeof(blob); i++)
        ck_assert_uint_eq(blob[i], 0xaa);
    len = sizeof(blob);
    OK(F->C_WrapKey(s, &m, w, k, blob, &len));
    ck_assert_uint_eq(len, sizeof(key) + 16);
    /* the wrapped form is the raw key under AES-GCM */
    ck_assert_int_eq(ossl_gcm_open(kek, iv, blob, len, plain), 1);
    ck_assert_mem_eq(plain, key, sizeof(key));
    /* unwrapped, it encrypts as the original does */
    CK_ATTRIBUTE ut[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                         {CKA_KEY_TYPE, &kt_aes, sizeof(kt_aes)},
                         {CKA_ENCRYPT, &yes, 1}};
    OK(F->C_UnwrapKey(s, &m, w, blob, len, ut, N(ut), &u));
    uint8_t c1[64], c2[64], msg[] = "the unwrapped key works";
    CK_ULONG n1 = gcm_encrypt(s, k, msg, sizeof(msg), c1), n2 = gcm_encrypt(s, u, msg, sizeof(msg), c2);
    ck_assert_uint_eq(n1, n2);
    ck_assert_mem_eq(c1, c2, n1);
    CK_ULONG vlen = 0;
    ck_assert_uint_eq(get_attr(s, u, CKA_VALUE_LEN, &vlen, sizeof(vlen)), sizeof(vlen));
    ck_assert_uint_eq(vlen, sizeof(key));
    ck_assert(!get_bool(s, u, CKA_LOCAL));
    ck_assert(!get_bool(s, u, CKA_ALWAYS_SENSITIVE));
    ck_assert(!get_bool(s, u, CKA_NEVER_EXTRACTABLE));
    /* a tampered blob does not unwrap */
    blob[3] ^= 0x40;
    EXPECT_RV(CKR_WRAPPED_KEY_INVALID, F->C_UnwrapKey(s, &m, w, blob, len, ut, N(ut), &u));
    blob[3] ^= 0x40;
    EXPECT_RV(CKR_WRAPPED_KEY_LEN_RANGE, F->C_UnwrapKey(s, &m, w, blob, 8, ut, N(ut), &u));
    /* more than any wrapped key can be (64 KiB) is refused before anything is allocated */
    uint8_t *huge = calloc(1, 65537);
    ck_assert_ptr_nonnull(huge);
    EXPECT_RV(CKR_WRAPPED_KEY_LEN_RANGE, F->C_UnwrapKey(s, &m, w, huge, 65537, ut, N(ut), &u));
    free(huge);
    /* a length the key type does not take */
    CK_ATTRIBUTE bt[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                         {CKA_KEY_TYPE, &kt_aes, sizeof(kt_aes)}};
    uint8_t odd[20] = {1};
    CK_ATTRIBUTE gx[] = {{CKA_EXTRACTABLE, &yes, 1}};
    CK_OBJECT_HANDLE g = secret_key(s, CKK_GENERIC_SECRET, odd, sizeof(odd), gx, 1);
    len = sizeof(blob);
    OK(F->C_WrapKey(s, &m, w, g, blob, &len));
    EXPECT_RV(CKR_WRAPPED_KEY_LEN_RANGE, F->C_UnwrapKey(s, &m, w, blob, len, bt, N(bt), &u));
    /* the template names class and key type */
    EXPECT_RV(CKR_TEMPLATE_INCOMPLETE, F->C_UnwrapKey(s, &m, w, blob, len, bt, 1, &u));
}
END_TEST

START_TEST(test_wrap_unwrap_ec_private_key_with_gcm)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    uint8_t kek[32] = {0x11, 0x22}, iv[12] = {9}, blob[512], plain[512];
    CK_OBJECT_HANDLE w = wrapping_key(s, kek, NULL, 0), pub, priv, u = 0;
    gen_ec_derive(s, P256, sizeof(P256), &pub, &priv, CK_TRUE);
    CK_GCM_PARAMS gp = {iv, sizeof(iv), 96, NULL, 0, 128};
    CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
    CK_ULONG len = sizeof(blob);
    OK(F->C_WrapKey(s, &m, w, priv, blob, &len));
    /* PKCS#8 inside, for the same key */
    ck_assert_int_eq(ossl_gcm_open(kek, iv, blob, len, plain), 1);
    const unsigned char *pp = plain;
    EVP_PKEY *sk = d2i_AutoPrivateKey(NULL, &pp, (long)(len - 16));
    ck_assert_ptr_nonnull(sk);
    ck_assert_int_eq(pp - plain, (long)(len - 16));
    EVP_PKEY *pk = pkey_of(s, pub);
    ck_assert_int_eq(EVP_PKEY_eq(sk, pk), 1);
    /* unwrapped, it signs for the original public key */
    CK_ATTRIBUTE ut[] = {{CKA_CLASS, &cls_priv, sizeof(cls_priv)},
                         {CKA_KEY_TYPE, &kt_ec, sizeof(kt_ec)},
                         {CKA_SIGN, &yes, 1}};
    OK(F->C_UnwrapKey(s, &m, w, blob, len, ut, N(ut), &u));
    uint8_t dgst[32] = {1, 2, 3, 4}, sig[64], der[80];
    CK_ULONG slen = sizeof(sig);
    CK_MECHANISM em = {CKM_ECDSA, NULL, 0};
    OK(F->C_SignInit(s, &em, u));
    OK(F->C_Sign(s, dgst, sizeof(dgst), sig, &slen));
    ck_assert_uint_eq(slen, 64);
    ECDSA_SIG *es = ECDSA_SIG_new();
    ck_assert_int_eq(ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL)), 1);
    unsigned char *dp = der;
    int dlen = i2d_ECDSA_SIG(es, &dp);
    EVP_PKEY_CTX *vc = EVP_PKEY_CTX_new(pk, NULL);
    ck_assert_int_eq(EVP_PKEY_verify_init(vc), 1);
    ck_assert_int_eq(EVP_PKEY_verify(vc, der, (size_t)dlen, dgst, sizeof(dgst)), 1);
    EVP_PKEY_CTX_free(vc);
    ECDSA_SIG_free(es);
    /* a template naming another curve contradicts the key */
    CK_ATTRIBUTE ct[] = {{CKA_CLASS, &cls_priv, sizeof(cls_priv)},
                         {CKA_KEY_TYPE, &kt_ec, sizeof(kt_ec)},
                         {CKA_EC_PARAMS, (void *)P384, sizeof(P384)}};
    EXPECT_RV(CKR_TEMPLATE_INCONSISTENT, F->C_UnwrapKey(s, &m, w, blob, len, ct, N(ct), &u));
    /* a secret key's wrapped form is no private key */
    uint8_t k16[16] = {1};
    CK_ATTRIBUTE gx[] = {{CKA_EXTRACTABLE, &yes, 1}};
    CK_OBJECT_HANDLE g = secret_key(s, CKK_AES, k16, sizeof(k16), gx, 1);
    len = sizeof(blob);
    OK(F->C_WrapKey(s, &m, w, g, blob, &len));
    EXPECT_RV(CKR_WRAPPED_KEY_INVALID, F->C_UnwrapKey(s, &m, w, blob, len, ut, N(ut), &u));
    EVP_PKEY_free(sk);
    EVP_PKEY_free(pk);
}
END_TEST

START_TEST(test_wrap_rules_and_codes)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    uint8_t kek[32] = {1}, key[16] = {2}, iv[12] = {3}, blob[128];
    CK_GCM_PARAMS gp = {iv, sizeof(iv), 96, NULL, 0, 128};
    CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
    CK_ULONG len = sizeof(blob);
    CK_OBJECT_HANDLE w = wrapping_key(s, kek, NULL, 0);
    /* not extractable */
    CK_ATTRIBUTE nx[] = {{CKA_EXTRACTABLE, &no, 1}};
    CK_OBJECT_HANDLE k = secret_key(s, CKK_AES, key, sizeof(key), nx, 1);
    EXPECT_RV(CKR_KEY_UNEXTRACTABLE, F->C_WrapKey(s, &m, w, k, blob, &len));
    /* CKA_WRAP_WITH_TRUSTED and an untrusted wrapping key */
    CK_ATTRIBUTE tx[] = {{CKA_EXTRACTABLE, &yes, 1}, {CKA_WRAP_WITH_TRUSTED, &yes, 1}};
    k = secret_key(s, CKK_AES, key, sizeof(key), tx, N(tx));
    EXPECT_RV(CKR_KEY_NOT_WRAPPABLE, F->C_WrapKey(s, &m, w, k, blob, &len));
    /* a wrapping key without CKA_WRAP */
    CK_ATTRIBUTE ex[] = {{CKA_EXTRACTABLE, &yes, 1}, {CKA_SENSITIVE, &yes, 1}};
    k = secret_key(s, CKK_AES, key, sizeof(key), ex, N(ex));
    CK_ATTRIBUTE nw[] = {{CKA_WRAP, &no, 1}};
    CK_OBJECT_HANDLE w2 = secret_key(s, CKK_AES, kek, sizeof(kek), nw, 1);
    EXPECT_RV(CKR_KEY_FUNCTION_NOT_PERMITTED, F->C_WrapKey(s, &m, w2, k, blob, &len));
    /* handles */
    EXPECT_RV(CKR_WRAPPING_KEY_HANDLE_INVALID, F->C_WrapKey(s, &m, 0x7ffffff2, k, blob, &len));
    EXPECT_RV(CKR_KEY_HANDLE_INVALID, F->C_WrapKey(s, &m, w, 0x7ffffff2, blob, &len));
    /* a wrapping key of the wrong type for the mechanism */
    CK_ATTRIBUTE gw[] = {{CKA_WRAP, &yes, 1}};
    CK_OBJECT_HANDLE w3 = secret_key(s, CKK_GENERIC_SECRET, kek, sizeof(kek), gw, 1);
    EXPECT_RV(CKR_WRAPPING_KEY_TYPE_INCONSISTENT, F->C_WrapKey(s, &m, w3, k, blob, &len));
    /* CKA_WRAP_TEMPLATE: only keys that match */
    CK_ATTRIBUTE inner[] = {{CKA_KEY_TYPE, &kt_generic, sizeof(kt_generic)}};
    CK_ATTRIBUTE wt[] = {{CKA_WRAP_TEMPLATE, inner, sizeof(inner)}};
    CK_OBJECT_HANDLE w4 = wrapping_key(s, kek, wt, 1);
    EXPECT_RV(CKR_KEY_NOT_WRAPPABLE, F->C_WrapKey(s, &m, w4, k, blob, &len));
    CK_ATTRIBUTE gx[] = {{CKA_EXTRACTABLE, &yes, 1}};
    CK_OBJECT_HANDLE g = secret_key(s, CKK_GENERIC_SECRET, key, sizeof(key), gx, 1);
    len = sizeof(blob);
    OK(F->C_WrapKey(s, &m, w4, g, blob, &len));
    /* a mechanism that does not wrap */
    CK_MECHANISM hm = {CKM_SHA256_HMAC, NULL, 0};
    EXPECT_RV(CKR_MECHANISM_INVALID, F->C_WrapKey(s, &hm, w, g, blob, &len));
}
END_TEST

/* CKA_WRAP_WITH_TRUSTED keys wrap under a key the SO marked CKA_TRUSTED. */
START_TEST(test_wrap_with_trusted_wrapping_key)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s = user_session(&slot), so = CK_INVALID_HANDLE;
    uint8_t kek[32] = {0x71}, key[16] = {0x72}, iv[12] = {0x73}, blob[64];
    CK_OBJECT_HANDLE w = CK_INVALID_HANDLE;
    CK_ATTRIBUTE wt[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                         {CKA_KEY_TYPE, &kt_aes, sizeof(kt_aes)},
                         {CKA_TOKEN, &yes, 1},
                         {CKA_PRIVATE, &no, 1},
                         {CKA_WRAP, &yes, 1},
                         {CKA_TRUSTED, &yes, 1},
                         {CKA_VALUE, kek, sizeof(kek)}};
    /* only the SO may mark a key trusted */
    EXPECT_RV(CKR_ATTRIBUTE_READ_ONLY, F->C_CreateObject(s, wt, N(wt), &w));
    OK(F->C_Logout(s));
    OK(F->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &so));
    OK(F->C_Login(so, CKU_SO, (CK_UTF8CHAR_PTR)P11_SO_PIN, strlen(P11_SO_PIN)));
    OK(F->C_CreateObject(so, wt, N(wt), &w));
    OK(F->C_Logout(so));
    OK(F->C_CloseSession(so));
    OK(F->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)P11_USER_PIN, strlen(P11_USER_PIN)));
    CK_ATTRIBUTE tx[] = {{CKA_EXTRACTABLE, &yes, 1}, {CKA_WRAP_WITH_TRUSTED, &yes, 1}};
    CK_OBJECT_HANDLE k = secret_key(s, CKK_AES, key, sizeof(key), tx, N(tx));
    CK_GCM_PARAMS gp = {iv, sizeof(iv), 96, NULL, 0, 128};
    CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
    CK_ULONG len = sizeof(blob);
    OK(F->C_WrapKey(s, &m, w, k, blob, &len));
    uint8_t plain[64];
    ck_assert_int_eq(ossl_gcm_open(kek, iv, blob, len, plain), 1);
    ck_assert_mem_eq(plain, key, sizeof(key));
}
END_TEST

START_TEST(test_unwrap_template_rules_and_codes)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s = user_session(&slot), ro = CK_INVALID_HANDLE;
    uint8_t kek[32] = {4}, key[32] = {5}, iv[12] = {6}, blob[128];
    CK_GCM_PARAMS gp = {iv, sizeof(iv), 96, NULL, 0, 128};
    CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
    CK_ULONG len = sizeof(blob);
    CK_ATTRIBUTE inner[] = {{CKA_SENSITIVE, &yes, 1}, {CKA_DECRYPT, &yes, 1}};
    CK_ATTRIBUTE ux[] = {{CKA_UNWRAP_TEMPLATE, inner, sizeof(inner)}};
    CK_OBJECT_HANDLE w = wrapping_key(s, kek, ux, 1), u = 0;
    CK_ATTRIBUTE gx[] = {{CKA_EXTRACTABLE, &yes, 1}};
    CK_OBJECT_HANDLE k = secret_key(s, CKK_AES, key, sizeof(key), gx, 1);
    OK(F->C_WrapKey(s, &m, w, k, blob, &len));
    /* the unwrap template is merged in ... */
    CK_ATTRIBUTE ut[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                         {CKA_KEY_TYPE, &kt_aes, sizeof(kt_aes)},
                         {CKA_SENSITIVE, &no, 1}};
    OK(F->C_UnwrapKey(s, &m, w, blob, len, ut, 2, &u));
    ck_assert(get_bool(s, u, CKA_SENSITIVE) && get_bool(s, u, CKA_DECRYPT));
    /* ... and a caller's contradiction refused */
    EXPECT_RV(CKR_TEMPLATE_INCONSISTENT, F->C_UnwrapKey(s, &m, w, blob, len, ut, N(ut), &u));
    /* handles, purpose, session */
    EXPECT_RV(CKR_UNWRAPPING_KEY_HANDLE_INVALID,
              F->C_UnwrapKey(s, &m, 0x7ffffff3, blob, len, ut, 2, &u));
    CK_ATTRIBUTE nu[] = {{CKA_UNWRAP, &no, 1}};
    CK_OBJECT_HANDLE w2 = secret_key(s, CKK_AES, kek, sizeof(kek), nu, 1);
    EXPECT_RV(CKR_KEY_FUNCTION_NOT_PERMITTED, F->C_UnwrapKey(s, &m, w2, blob, len, ut, 2, &u));
    CK_ATTRIBUTE tt[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                         {CKA_KEY_TYPE, &kt_aes, sizeof(kt_aes)},
                         {CKA_TOKEN, &yes, 1}};
    OK(F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &ro));
    EXPECT_RV(CKR_SESSION_READ_ONLY, F->C_UnwrapKey(ro, &m, w, blob, len, tt, N(tt), &u));
    OK(F->C_UnwrapKey(s, &m, w, blob, len, tt, N(tt), &u));
    ck_assert(get_bool(s, u, CKA_TOKEN));
    /* an unwrap template may name the class and key type for the caller */
    CK_ATTRIBUTE inner2[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                             {CKA_KEY_TYPE, &kt_aes, sizeof(kt_aes)}};
    CK_ATTRIBUTE ux2[] = {{CKA_UNWRAP_TEMPLATE, inner2, sizeof(inner2)}};
    CK_OBJECT_HANDLE w3 = wrapping_key(s, kek, ux2, 1);
    CK_KEY_TYPE kt = 0;
    CK_ATTRIBUTE et[] = {{CKA_ENCRYPT, &yes, 1}};
    OK(F->C_UnwrapKey(s, &m, w3, blob, len, et, N(et), &u));
    ck_assert_uint_eq(get_attr(s, u, CKA_KEY_TYPE, &kt, sizeof(kt)), sizeof(kt));
    ck_assert_uint_eq(kt, CKK_AES);
    EXPECT_RV(CKR_TEMPLATE_INCOMPLETE, F->C_UnwrapKey(s, &m, w, blob, len, et, N(et), &u));
}
END_TEST

/* ---- wrapping with AES key wrap and RSA-OAEP (branches sym and asym) ---- */

static const CK_BYTE ED25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70}; /* id-Ed25519, RFC 8410 */

/* RFC 3394 4.3: 128 bits of key data wrapped with a 256-bit KEK. */
START_TEST(test_wrap_aes_key_with_aes_key_wrap_rfc3394)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    uint8_t kek[32], key[16], want[24], blob[64];
    hex2bin("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", kek);
    hex2bin("00112233445566778899aabbccddeeff", key);
    hex2bin("64e8c3f9ce0f5ba263e9777905818a2a93c8191e7d6e8ae7", want);
    CK_OBJECT_HANDLE w = wrapping_key(s, kek, NULL, 0), u = 0;
    CK_ATTRIBUTE x[] = {{CKA_EXTRACTABLE, &yes, 1}, {CKA_ENCRYPT, &yes, 1}};
    CK_OBJECT_HANDLE k = secret_key(s, CKK_AES, key, sizeof(key), x, N(x));
    CK_MECHANISM m = {CKM_AES_KEY_WRAP, NULL, 0};
    CK_ULONG len = 0;
    OK(F->C_WrapKey(s, &m, w, k, NULL, &len));
    ck_assert_uint_eq(len, 24);
    len = sizeof(blob);
    OK(F->C_WrapKey(s, &m, w, k, blob, &len));
    ck_assert_uint_eq(len, 24);
    ck_assert_mem_eq(blob, want, 24);
    CK_ATTRIBUTE ut[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                         {CKA_KEY_TYPE, &kt_aes, sizeof(kt_aes)},
                         {CKA_ENCRYPT, &yes, 1}};
    OK(F->C_UnwrapKey(s, &m, w, blob, len, ut, N(ut), &u));
    uint8_t c1[64], c2[64], msg[] = "unwrapped with RFC 3394";
    CK_ULONG n1 = gcm_encrypt(s, k, msg, sizeof(msg), c1);
    ck_assert_uint_eq(gcm_encrypt(s, u, msg, sizeof(msg), c2), n1);
    ck_assert_mem_eq(c1, c2, n1);
    blob[20] ^= 1; /* the integrity check of RFC 3394 2.2.3 fails */
    EXPECT_RV(CKR_WRAPPED_KEY_INVALID, F->C_UnwrapKey(s, &m, w, blob, len, ut, N(ut), &u));
}
END_TEST

/* Sign `msg` with key k using mechanism type t; returns the signature length. */
static CK_ULONG sign_with(CK_SESSION_HANDLE s, CK_MECHANISM_TYPE t, CK_OBJECT_HANDLE k,
                          const uint8_t *msg, size_t len, uint8_t *sig)
{
    CK_MECHANISM m = {t, NULL, 0};
    CK_ULONG n = 512;
    OK(F->C_SignInit(s, &m, k));
    OK(F->C_Sign(s, (CK_BYTE_PTR)msg, len, sig, &n));
    return n;
}

/* A private key wrapped with RFC 5649 and unwrapped signs as the original (deterministic
 * schemes: the signatures are equal; ECDSA: OpenSSL verifies with the original public key). */
static void kwp_private_case(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE w, CK_OBJECT_HANDLE pub,
                             CK_OBJECT_HANDLE priv, CK_KEY_TYPE kt, CK_MECHANISM_TYPE sign_mech)
{
    uint8_t blob[4096], msg[32] = "message to be signed, 32 bytes", s1[512], s2[512];
    CK_MECHANISM m = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
    CK_ULONG len = sizeof(blob);
    CK_OBJECT_HANDLE u = 0;
    OK(F->C_WrapKey(s, &m, w, priv, blob, &len));
    ck_assert_uint_eq(len % 8, 0);
    CK_ATTRIBUTE ut[] = {{CKA_CLASS, &cls_priv, sizeof(cls_priv)},
                         {CKA_KEY_TYPE, &kt, sizeof(kt)},
                         {CKA_SIGN, &yes, 1}};
    OK(F->C_UnwrapKey(s, &m, w, blob, len, ut, N(ut), &u));
    CK_ULONG n1 = sign_with(s, sign_mech, priv, msg, sizeof(msg), s1);
    CK_ULONG n2 = sign_with(s, sign_mech, u, msg, sizeof(msg), s2);
    ck_assert_uint_eq(n1, n2);
    if (kt != CKK_EC) {
        ck_assert_mem_eq(s1, s2, n1);
        return;
    }
    CK_MECHANISM vm = {sign_mech, NULL, 0};
    OK(F->C_VerifyInit(s, &vm, pub));
    OK(F->C_Verify(s, msg, sizeof(msg), s2, n2));
}

START_TEST(test_wrap_private_keys_with_aes_key_wrap_pad)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    uint8_t kek[32] = {0x5a, 0xa5};
    CK_OBJECT_HANDLE w = wrapping_key(s, kek, NULL, 0), pub, priv;
    /* EC P-256 */
    gen_ec_derive(s, P256, sizeof(P256), &pub, &priv, CK_TRUE);
    kwp_private_case(s, w, pub, priv, CKK_EC, CKM_ECDSA_SHA256);
    /* Ed25519 (RFC 8410 PKCS#8) */
    CK_MECHANISM em = {CKM_EC_EDWARDS_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE ept[] = {{CKA_TOKEN, &no, 1}, {CKA_VERIFY, &yes, 1},
                          {CKA_EC_PARAMS, (void *)ED25519, sizeof(ED25519)}};
    CK_ATTRIBUTE eqt[] = {{CKA_TOKEN, &no, 1}, {CKA_SIGN, &yes, 1}, {CKA_EXTRACTABLE, &yes, 1}};
    OK(F->C_GenerateKeyPair(s, &em, ept, N(ept), eqt, N(eqt), &pub, &priv));
    kwp_private_case(s, w, pub, priv, CKK_EC_EDWARDS, CKM_EDDSA);
    /* RSA-2048 (PKCS#1 v1.5 signatures are deterministic) */
    CK_ULONG bits = 2048;
    CK_MECHANISM rm = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE rpt[] = {{CKA_TOKEN, &no, 1}, {CKA_VERIFY, &yes, 1},
                          {CKA_MODULUS_BITS, &bits, sizeof(bits)}};
    CK_ATTRIBUTE rqt[] = {{CKA_TOKEN, &no, 1}, {CKA_SIGN, &yes, 1}, {CKA_EXTRACTABLE, &yes, 1}};
    OK(F->C_GenerateKeyPair(s, &rm, rpt, N(rpt), rqt, N(rqt), &pub, &priv));
    kwp_private_case(s, w, pub, priv, CKK_RSA, CKM_SHA256_RSA_PKCS);
    /* a template of another key type than the wrapped key */
    uint8_t blob[4096];
    CK_ULONG len = sizeof(blob);
    CK_MECHANISM m = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
    CK_OBJECT_HANDLE u;
    OK(F->C_WrapKey(s, &m, w, priv, blob, &len));
    CK_ATTRIBUTE ut[] = {{CKA_CLASS, &cls_priv, sizeof(cls_priv)},
                         {CKA_KEY_TYPE, &kt_ec, sizeof(kt_ec)}};
    EXPECT_RV(CKR_WRAPPED_KEY_INVALID, F->C_UnwrapKey(s, &m, w, blob, len, ut, N(ut), &u));
}
END_TEST

START_TEST(test_wrap_aes_key_with_rsa_oaep)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    CK_ULONG bits = 2048;
    CK_MECHANISM rm = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pt[] = {{CKA_TOKEN, &no, 1}, {CKA_WRAP, &yes, 1},
                         {CKA_MODULUS_BITS, &bits, sizeof(bits)}};
    CK_ATTRIBUTE qt[] = {{CKA_TOKEN, &no, 1}, {CKA_UNWRAP, &yes, 1}};
    CK_OBJECT_HANDLE pub, priv, u = 0;
    OK(F->C_GenerateKeyPair(s, &rm, pt, N(pt), qt, N(qt), &pub, &priv));
    uint8_t key[32], blob[512], label[] = "wrapped AES key";
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(i * 11);
    CK_ATTRIBUTE x[] = {{CKA_EXTRACTABLE, &yes, 1}, {CKA_ENCRYPT, &yes, 1}};
    CK_OBJECT_HANDLE k = secret_key(s, CKK_AES, key, sizeof(key), x, N(x));
    CK_RSA_PKCS_OAEP_PARAMS op = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, label,
                                  sizeof(label) - 1};
    CK_MECHANISM m = {CKM_RSA_PKCS_OAEP, &op, sizeof(op)};
    CK_ULONG len = 0;
    OK(F->C_WrapKey(s, &m, pub, k, NULL, &len));
    ck_assert_uint_eq(len, 256);
    len = sizeof(blob);
    OK(F->C_WrapKey(s, &m, pub, k, blob, &len));
    ck_assert_uint_eq(len, 256);
    CK_ATTRIBUTE ut[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                         {CKA_KEY_TYPE, &kt_aes, sizeof(kt_aes)},
                         {CKA_ENCRYPT, &yes, 1}};
    OK(F->C_UnwrapKey(s, &m, priv, blob, len, ut, N(ut), &u));
    uint8_t c1[64], c2[64], msg[] = "unwrapped with RSA-OAEP";
    CK_ULONG n1 = gcm_encrypt(s, k, msg, sizeof(msg), c1);
    ck_assert_uint_eq(gcm_encrypt(s, u, msg, sizeof(msg), c2), n1);
    ck_assert_mem_eq(c1, c2, n1);
    /* OpenSSL wraps for the token's public key, the token unwraps */
    EVP_PKEY *pk = pkey_of(s, pub);
    EVP_PKEY_CTX *ec = EVP_PKEY_CTX_new(pk, NULL);
    size_t olen = sizeof(blob);
    ck_assert_int_eq(EVP_PKEY_encrypt_init(ec), 1);
    ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(ec, RSA_PKCS1_OAEP_PADDING), 1);
    ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_oaep_md(ec, EVP_sha256()), 1);
    ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_mgf1_md(ec, EVP_sha256()), 1);
    uint8_t *lab = OPENSSL_memdup(label, sizeof(label) - 1);
    ck_assert_int_eq(EVP_PKEY_CTX_set0_rsa_oaep_label(ec, lab, sizeof(label) - 1), 1);
    ck_assert_int_eq(EVP_PKEY_encrypt(ec, blob, &olen, key, sizeof(key)), 1);
    EVP_PKEY_CTX_free(ec);
    EVP_PKEY_free(pk);
    OK(F->C_UnwrapKey(s, &m, priv, blob, olen, ut, N(ut), &u));
    ck_assert_uint_eq(gcm_encrypt(s, u, msg, sizeof(msg), c2), n1);
    ck_assert_mem_eq(c1, c2, n1);
    /* another label does not unwrap; a public key cannot unwrap */
    op.ulSourceDataLen--;
    EXPECT_RV(CKR_WRAPPED_KEY_INVALID, F->C_UnwrapKey(s, &m, priv, blob, olen, ut, N(ut), &u));
    EXPECT_RV(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
              F->C_UnwrapKey(s, &m, pub, blob, olen, ut, N(ut), &u));
    /* PKCS#1 v1.5 wraps, but unwraps nothing: whether a chosen blob unwraps would be a
     * Bleichenbacher oracle; raw RSA neither wraps nor unwraps (it would unwrap c^d) */
    CK_MECHANISM v15 = {CKM_RSA_PKCS, NULL, 0}, raw = {CKM_RSA_X_509, NULL, 0};
    len = sizeof(blob);
    OK(F->C_WrapKey(s, &v15, pub, k, blob, &len));
    EXPECT_RV(CKR_MECHANISM_INVALID, F->C_UnwrapKey(s, &v15, priv, blob, len, ut, N(ut), &u));
    EXPECT_RV(CKR_MECHANISM_INVALID, F->C_UnwrapKey(s, &raw, priv, blob, len, ut, N(ut), &u));
    EXPECT_RV(CKR_MECHANISM_INVALID, F->C_WrapKey(s, &raw, pub, k, blob, &len));
}
END_TEST

/* ---- the suite ---- */

static Suite *kdfwrap_suite(void)
{
    Suite *su = suite_create("kdfwrap");
    TCase *tc = p11_tcase(su, "hkdf", 60);
    tcase_add_test(tc, test_hkdf_derive_matches_rfc5869);
    tcase_add_test(tc, test_hkdf_data_makes_a_data_object);
    tcase_add_test(tc, test_always_authenticate_keys_do_not_derive);
    tcase_add_test(tc, test_hkdf_salt_key_equals_salt_data);
    tcase_add_test(tc, test_hkdf_bad_parameters_are_param_invalid);
    tc = p11_tcase(su, "sp800_108", 60);
    tcase_add_test(tc, test_sp800_108_counter_matches_openssl);
    tcase_add_test(tc, test_sp800_108_bad_parameters_are_param_invalid);
    tc = p11_tcase(su, "ecdh", 60);
    tcase_add_test(tc, test_ecdh_p256_matches_openssl);
    tcase_add_test(tc, test_ecdh_p384_matches_openssl);
    tc = p11_tcase(su, "derive_rules", 60);
    tcase_add_test(tc, test_derived_key_attributes_follow_the_base);
    tcase_add_test(tc, test_derive_rules_and_codes);
    tc = p11_tcase(su, "wrap", 60);
    tcase_add_test(tc, test_wrap_unwrap_aes_key_with_gcm);
    tcase_add_test(tc, test_wrap_unwrap_ec_private_key_with_gcm);
    tcase_add_test(tc, test_wrap_rules_and_codes);
    tcase_add_test(tc, test_unwrap_template_rules_and_codes);
    tcase_add_test(tc, test_wrap_with_trusted_wrapping_key);
    tc = p11_tcase(su, "wrap_kw_rsa", 120);
    tcase_add_test(tc, test_wrap_aes_key_with_aes_key_wrap_rfc3394);
    tcase_add_test(tc, test_wrap_private_keys_with_aes_key_wrap_pad);
    tcase_add_test(tc, test_wrap_aes_key_with_rsa_oaep);
    return su;
}

int main(void)
{
    return p11_check_main("check_kdfwrap", &M, kdfwrap_suite);
}

/* RSA and Ed25519 through the real module (sea-pkcs11.so from $SEA_MODULE): key generation,
 * import and its checks, every RSA mechanism against OpenSSL computing the same operation on
 * the same key, RFC 8032 7.1 known answers for Ed25519, the attribute rules of the private
 * parts and the errors the standard names for bad parameters, keys and signatures. The PKCS#8
 * encoder the key-wrapping code uses is checked directly (libseacore). */
#include <check.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "p11check.h"



static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static CK_OBJECT_CLASS cls_pub = CKO_PUBLIC_KEY, cls_priv = CKO_PRIVATE_KEY;
static CK_KEY_TYPE kt_rsa = CKK_RSA, kt_ed = CKK_EC_EDWARDS;

/* CKA_EC_PARAMS of Ed25519: id-Ed25519 (RFC 8410) and PKCS#11 3.0's printable name. */
static const CK_BYTE ED_OID[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
static const CK_BYTE ED_NAME[] = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r',
                                  'd',  's',  '2', '5', '5', '1', '9'};

/* A fixed RSA-2048 test key (made with `openssl genpkey`, used nowhere else). */
static const char RSA_PEM[] = "-----BEGIN PRIVATE KEY-----\n"
                              "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCYiAzcHKvEzm5/\n"
                              "BQhBnocnhqVinGGPXKucs/mfa9zZYZTRsW2TcwscrSrx5A3xdMoctvRtMiAgsDbi\n"
                              "Y7QZizm9bu+8gHCEnfzttC1Ce1tPTRGeewSXbAppyN3OEKC7B9EarVywF+GnYmlA\n"
                              "7DkkAfhA2tso5mrQ0MzUpNBG0/vxGAlKuuzYPB30Bk7yemPpropn9g/OTRcI69a7\n"
                              "macMQA1sJ95epvdWd7bZaDpY6V8wqPi5c3xDxVgcDWsoOlAn93gBXcdeShlrK06H\n"
                              "1hNnWVaqLIGcp2DlRyKOjJolOC4i+g710+ElNwC1Q9OafFzsiMCDT0P9XINq9h8b\n"
                              "ALTVSyK5AgMBAAECggEABWu7YkS6FYzdGDJMdnGM/dp/DPPAE11go3lxdwkZMJgT\n"
                              "Vwb6XRXG+LJOTwmy9ah4COB3LBzOj77XeoD+3PQJ3anARyec6BepziRbweu6pWU4\n"
                              "qbRXR87hCVyoRlsorTD0TWGJJGB65m0czr/+cWFJCnwEsy3KMMjk6K9BUC0XPHyX\n"
                              "RwwGmi0HVr14U5cQAIFcjm9SQOKH4Lr/myTmGPDtEdj0PGe+iOdV5K4nFaMv2kxH\n"
                              "Ips4njJHFzZuHVyWL8V82FgsSh3IgZlkhEL3GIkf+PQVmBoDR4EHFfYAtBjliQ6C\n"
                              "A+lcixOB4351Z5VDNtDMozscf7eSwAdH8l8hC82ikQKBgQDHv5uEc43rIK29hp8H\n"
                              "XnL83Zq7IbgC03k0UAcbXUKiavL1o9wl4+FecStrdfN19a6hSyF0ApA5BXR99zo1\n"
                              "44JXXn3M4EdZRhgVwyz1qSRZCpg20aJCurcytsEW4x9xJp3Is3G3bFdfyS8ZTgh1\n"
                              "WPAHkoeuuAOgIegT3jRdtfBQ6QKBgQDDfHGJiYcqC1OBN2LHAByzsFFH0bcb9NUz\n"
                              "5rcUKFSscPiq+WrGYph0vEK23cPORqfN+HgChVZWoumC6kbsFBq2LUtED4NgPs5E\n"
                              "MiYy1RX0CeLKvP6QS3mLy9wXaMZbosptJlP9Pe5Kw61rzYNNB+x7HIZhNHe8Uu4I\n"
                              "24t1swehUQKBgAuU+Jd9e8UeZ/SNUbtDprcywj4HfnvrdyOpYEAd8DcqrFvB3In1\n"
                              "5KNtPG9Gr48vZ6jCinYHkAU+Y7rKEv386xnVyMWQW5K5lbvtTTYRUKI5EwparWXh\n"
                              "Ha47GocRNEmDS7LPdNCF36sWJzz4YVUsiv5laKig0tT+Ik7Em5Szb/PBAoGASBPG\n"
                              "ORQARjxO2cH2JbGg45ALKBPnE+O+CJj0v/Xu4nX0+fVkrSkFVWVko9A4tgHPNV57\n"
                              "wVIwd1kyCBchd0IiZzFkIwAlTINbwkFLXEq9AXHzsRTmN4XclvLff7IeEQOA56XO\n"
                              "Kf1/swlbE/h+hRR62Rm3YnfZ/hIFujZYwVj1Y0ECgYB0c1r73gVHLmW8UCTZCyAb\n"
                              "I3ELEkcLtUSCCACAU8DT5ydKj2XxQ0qilHp3HdUahzrIZ9RDQ/OV1SYKeFQmF8tq\n"
                              "EUgZPFsELy5CQJpoKu8IyvGvcTuALfMhxWjcbhSStDw4R/b//DdKBT797lWCl7wa\n"
                              "3aFKDYzST4AJI7h5cRzNDQ==\n"
                              "-----END PRIVATE KEY-----\n";

static const uint8_t MSG[] = "The quick brown fox jumps over the lazy dog";

static CK_SESSION_HANDLE user_session(void)
{
    return p11_token_session("asym", NULL);
}

/* ---- the hashes and how each side names them ---- */

static const struct hash {
    CK_MECHANISM_TYPE digest, mgf, pkcs, pss;
    const char *name;
    size_t len;
} HASHES[] = {
    {CKM_SHA_1, CKG_MGF1_SHA1, CKM_SHA1_RSA_PKCS, CKM_SHA1_RSA_PKCS_PSS, "SHA1", 20},
    {CKM_SHA224, CKG_MGF1_SHA224, CKM_SHA224_RSA_PKCS, CKM_SHA224_RSA_PKCS_PSS, "SHA224", 28},
    {CKM_SHA256, CKG_MGF1_SHA256, CKM_SHA256_RSA_PKCS, CKM_SHA256_RSA_PKCS_PSS, "SHA256", 32},
    {CKM_SHA384, CKG_MGF1_SHA384, CKM_SHA384_RSA_PKCS, CKM_SHA384_RSA_PKCS_PSS, "SHA384", 48},
    {CKM_SHA512, CKG_MGF1_SHA512, CKM_SHA512_RSA_PKCS, CKM_SHA512_RSA_PKCS_PSS, "SHA512", 64},
};

static const struct hash *hash_of(CK_MECHANISM_TYPE digest)
{
    for (size_t i = 0; i < sizeof(HASHES) / sizeof(HASHES[0]); i++)
        if (HASHES[i].digest == digest)
            return &HASHES[i];
    return NULL;
}

static void sha(const struct hash *h, const uint8_t *in, size_t len, uint8_t *out)
{
    unsigned n = 0;
    ck_assert(EVP_Digest(in, len, out, &n, EVP_get_digestbyname(h->name), NULL));
    ck_assert_uint_eq(n, h->len);
}

/* ---- RSA keys on both sides ---- */

static EVP_PKEY *fixed_rsa(void)
{
    BIO *b = BIO_new_mem_buf(RSA_PEM, -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    ck_assert_ptr_nonnull(k);
    return k;
}

/* The big-endian bytes of a key part (malloc'd). */
static uint8_t *bn_bytes(const EVP_PKEY *k, const char *name, CK_ULONG *len)
{
    BIGNUM *b = NULL;
    ck_assert(EVP_PKEY_get_bn_param(k, name, &b));
    *len = (CK_ULONG)BN_num_bytes(b);
    uint8_t *v = malloc(*len);
    ck_assert_ptr_nonnull(v);
    BN_bn2bin(b, v);
    BN_free(b);
    return v;
}

static const char *const RSA_PARAM_NAMES[8] = {
    OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,           OSSL_PKEY_PARAM_RSA_D,
    OSSL_PKEY_PARAM_RSA_FACTOR1,   OSSL_PKEY_PARAM_RSA_FACTOR2,     OSSL_PKEY_PARAM_RSA_EXPONENT1,
    OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
static const CK_ATTRIBUTE_TYPE RSA_ATTRS[8] = {
    CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_PRIVATE_EXPONENT, CKA_PRIME_1,
    CKA_PRIME_2, CKA_EXPONENT_1,      CKA_EXPONENT_2,       CKA_COEFFICIENT};

/* An RSA key's parts as attributes (values malloc'd, freed by free_parts). */
static void rsa_parts(const EVP_PKEY *k, CK_ATTRIBUTE out[8])
{
    for (int i = 0; i < 8; i++) {
        out[i].type = RSA_ATTRS[i];
        out[i].pValue = bn_bytes(k, RSA_PARAM_NAMES[i], &out[i].ulValueLen);
    }
}

static void free_parts(CK_ATTRIBUTE p[8])
{
    for (int i = 0; i < 8; i++)
        free(p[i].pValue);
}

/* Import an OpenSSL RSA key: the private half (sensitive or not) and the public half. */
static void import_rsa(CK_SESSION_HANDLE s, const EVP_PKEY *k, CK_BBOOL sensitive, CK_BBOOL sign,
                       CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
    CK_ATTRIBUTE parts[8];
    CK_BBOOL extractable = !sensitive;
    rsa_parts(k, parts);
    CK_ATTRIBUTE q[16] = {{CKA_CLASS, &cls_priv, sizeof(cls_priv)},
                          {CKA_KEY_TYPE, &kt_rsa, sizeof(kt_rsa)},
                          {CKA_TOKEN, &no, 1},
                          {CKA_SENSITIVE, &sensitive, 1},
                          {CKA_EXTRACTABLE, &extractable, 1},
                          {CKA_SIGN, &sign, 1},
                          {CKA_DECRYPT, &yes, 1}};
    memcpy(q + 7, parts, sizeof(parts));
    OK(F->C_CreateObject(s, q, 15, priv));
    CK_ATTRIBUTE p[] = {{CKA_CLASS, &cls_pub, sizeof(cls_pub)},
                        {CKA_KEY_TYPE, &kt_rsa, sizeof(kt_rsa)},
                        {CKA_TOKEN, &no, 1},
                        {CKA_VERIFY, &yes, 1},
                        {CKA_ENCRYPT, &yes, 1},
                        parts[0],
                        parts[1]};
    OK(F->C_CreateObject(s, p, 7, pub));
    free_parts(parts);
}

static void gen_rsa(CK_SESSION_HANDLE s, CK_ULONG bits, CK_OBJECT_HANDLE *pub,
                    CK_OBJECT_HANDLE *priv)
{
    CK_MECHANISM m = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pt[] = {{CKA_TOKEN, &yes, 1},
                         {CKA_VERIFY, &yes, 1},
                         {CKA_ENCRYPT, &yes, 1},
                         {CKA_MODULUS_BITS, &bits, sizeof(bits)}};
    CK_ATTRIBUTE qt[] = {{CKA_TOKEN, &yes, 1},
                         {CKA_PRIVATE, &yes, 1},
                         {CKA_SENSITIVE, &yes, 1},
                         {CKA_SIGN, &yes, 1},
                         {CKA_DECRYPT, &yes, 1}};
    OK(F->C_GenerateKeyPair(s, &m, pt, 4, qt, 5, pub, priv));
}

/* An attribute's value (malloc'd). */
static uint8_t *get_attr(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE t,
                         CK_ULONG *len)
{
    CK_ATTRIBUTE a = {t, NULL, 0};
    OK(F->C_GetAttributeValue(s, h, &a, 1));
    a.pValue = malloc(a.ulValueLen ? a.ulValueLen : 1);
    ck_assert_ptr_nonnull(a.pValue);
    OK(F->C_GetAttributeValue(s, h, &a, 1));
    *len = a.ulValueLen;
    return a.pValue;
}

/* The public key as OpenSSL sees it, rebuilt from CKA_MODULUS and CKA_PUBLIC_EXPONENT. */
static EVP_PKEY *module_rsa_pub(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
    CK_ULONG nl, el;
    uint8_t *n = get_attr(s, h, CKA_MODULUS, &nl), *e = get_attr(s, h, CKA_PUBLIC_EXPONENT, &el);
    BIGNUM *bn = BN_bin2bn(n, (int)nl, NULL), *be = BN_bin2bn(e, (int)el, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    ck_assert(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn));
    ck_assert(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be));
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *k = NULL;
    ck_assert(EVP_PKEY_fromdata_init(ctx) == 1);
    ck_assert(EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) == 1);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    free(n);
    free(e);
    return k;
}

/* C_Sign in one call. */
static void sign(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_OBJECT_HANDLE key, const uint8_t *in,
                 size_t len, uint8_t *sig, CK_ULONG *siglen)
{
    OK(F->C_SignInit(s, m, key));
    OK(F->C_Sign(s, (CK_BYTE_PTR)in, (CK_ULONG)len, sig, siglen));
}

static CK_RV verify(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_OBJECT_HANDLE key, const uint8_t *in,
                    size_t len, const uint8_t *sig, CK_ULONG siglen)
{
    CK_RV rv = F->C_VerifyInit(s, m, key);
    return rv != CKR_OK ? rv
                        : F->C_Verify(s, (CK_BYTE_PTR)in, (CK_ULONG)len, (CK_BYTE_PTR)sig, siglen);
}

/* OpenSSL's verdict on a signature of a message (md != NULL, hashed) or of a hash/DigestInfo
 * (md NULL: raw RSA with padding). pss_salt < 0: PKCS#1 v1.5. */
static bool ossl_verify(EVP_PKEY *k, const struct hash *h, bool hashed, int pss_salt,
                        const struct hash *mgf, const uint8_t *in, size_t len, const uint8_t *sig,
                        size_t siglen)
{
    EVP_PKEY_CTX *pc = NULL;
    EVP_MD_CTX *mc = NULL;
    int ok;
    if (hashed) {
        mc = EVP_MD_CTX_new();
        ck_assert(EVP_DigestVerifyInit(mc, &pc, EVP_get_digestbyname(h->name), NULL, k) == 1);
    } else {
        pc = EVP_PKEY_CTX_new(k, NULL);
        ck_assert(EVP_PKEY_verify_init(pc) == 1);
        if (h)
            ck_assert(EVP_PKEY_CTX_set_signature_md(pc, EVP_get_digestbyname(h->name)) == 1);
    }
    if (pss_salt >= 0) {
        ck_assert(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) == 1);
        ck_assert(EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, pss_salt) == 1);
        ck_assert(EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_get_digestbyname(mgf->name)) == 1);
    } else {
        ck_assert(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1);
    }
    if (hashed) {
        ok = EVP_DigestVerify(mc, sig, siglen, in, len);
        EVP_MD_CTX_free(mc);
    } else {
        ok = EVP_PKEY_verify(pc, sig, siglen, in, len);
        EVP_PKEY_CTX_free(pc);
    }
    return ok == 1;
}

/* OpenSSL's signature of a message (hashed), PKCS#1 v1.5 or PSS. */
static size_t ossl_sign(EVP_PKEY *k, const struct hash *h, int pss_salt, const uint8_t *in,
                        size_t len, uint8_t *sig)
{
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    size_t n = 1024;
    ck_assert(EVP_DigestSignInit(mc, &pc, EVP_get_digestbyname(h->name), NULL, k) == 1);
    if (pss_salt >= 0) {
        ck_assert(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) == 1);
        ck_assert(EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, pss_salt) == 1);
    }
    ck_assert(EVP_DigestSign(mc, sig, &n, in, len) == 1);
    EVP_MD_CTX_free(mc);
    return n;
}

/* ---- RSA key generation ---- */

static void check_generated(CK_SESSION_HANDLE s, CK_ULONG bits)
{
    CK_OBJECT_HANDLE pub, priv;
    gen_rsa(s, bits, &pub, &priv);
    CK_ULONG len, got_bits = 0;
    uint8_t *n = get_attr(s, pub, CKA_MODULUS, &len);
    ck_assert_uint_eq(len, bits / 8);
    ck_assert(n[0] & 0x80);
    free(n);
    uint8_t *e = get_attr(s, priv, CKA_PUBLIC_EXPONENT, &len);
    ck_assert_uint_eq(len, 3);
    ck_assert(e[0] == 1 && e[1] == 0 && e[2] == 1);
    free(e);
    CK_ATTRIBUTE a = {CKA_MODULUS_BITS, &got_bits, sizeof(got_bits)};
    OK(F->C_GetAttributeValue(s, pub, &a, 1));
    ck_assert_uint_eq(got_bits, bits);
    /* CKA_PUBLIC_KEY_INFO on both halves is the key OpenSSL rebuilds from n and e */
    EVP_PKEY *k = module_rsa_pub(s, pub);
    for (int i = 0; i < 2; i++) {
        uint8_t *spki = get_attr(s, i ? priv : pub, CKA_PUBLIC_KEY_INFO, &len);
        const unsigned char *p = spki;
        EVP_PKEY *from_spki = d2i_PUBKEY(NULL, &p, (long)len);
        ck_assert_ptr_nonnull(from_spki);
        ck_assert_int_eq(EVP_PKEY_eq(k, from_spki), 1);
        EVP_PKEY_free(from_spki);
        free(spki);
    }
    /* and it signs */
    uint8_t sig[512];
    CK_ULONG siglen = sizeof(sig);
    CK_MECHANISM m = {CKM_SHA256_RSA_PKCS, NULL, 0};
    sign(s, &m, priv, MSG, sizeof(MSG), sig, &siglen);
    ck_assert_uint_eq(siglen, bits / 8);
    ck_assert(ossl_verify(k, hash_of(CKM_SHA256), true, -1, NULL, MSG, sizeof(MSG), sig, siglen));
    EVP_PKEY_free(k);
}

START_TEST(test_rsa_keygen_2048_and_3072)
{
    CK_SESSION_HANDLE s = user_session();
    check_generated(s, 2048);
    check_generated(s, 3072);
}
END_TEST

START_TEST(test_rsa_keygen_4096_signs_pss)
{
    CK_SESSION_HANDLE s = user_session();
    CK_OBJECT_HANDLE pub, priv;
    gen_rsa(s, 4096, &pub, &priv);
    const struct hash *h = hash_of(CKM_SHA512);
    CK_RSA_PKCS_PSS_PARAMS pp = {CKM_SHA512, CKG_MGF1_SHA512, 64};
    CK_MECHANISM m = {CKM_SHA512_RSA_PKCS_PSS, &pp, sizeof(pp)};
    uint8_t sig[512];
    CK_ULONG siglen = sizeof(sig);
    sign(s, &m, priv, MSG, sizeof(MSG), sig, &siglen);
    ck_assert_uint_eq(siglen, 512);
    EVP_PKEY *k = module_rsa_pub(s, pub);
    ck_assert_int_eq(EVP_PKEY_get_bits(k), 4096);
    ck_assert(ossl_verify(k, h, true, 64, h, MSG, sizeof(MSG), sig, siglen));
    EVP_PKEY_free(k);
}
END_TEST

START_TEST(test_rsa_keygen_refuses_sizes_and_bad_templates)
{
    CK_SESSION_HANDLE s = user_session();
    CK_MECHANISM m = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    CK_OBJECT_HANDLE pub, priv;
    CK_ULONG sizes[] = {1024, 2047, 4097, 8192};
    for (size_t i = 0; i < 4; i++) {
        CK_ATTRIBUTE pt[] = {{CKA_MODULUS_BITS, &sizes[i], sizeof(CK_ULONG)}};
        EXPECT_RV(CKR_KEY_SIZE_RANGE, F->C_GenerateKeyPair(s, &m, pt, 1, NULL, 0, &pub, &priv));
    }
    CK_ATTRIBUTE none[] = {{CKA_VERIFY, &yes, 1}};
    EXPECT_RV(CKR_TEMPLATE_INCOMPLETE, F->C_GenerateKeyPair(s, &m, none, 1, NULL, 0, &pub, &priv));
    CK_ULONG bits = 2048;
    CK_BYTE modulus[256] = {0x80};
    CK_ATTRIBUTE given[] = {{CKA_MODULUS_BITS, &bits, sizeof(bits)},
                            {CKA_MODULUS, modulus, sizeof(modulus)}};
    EXPECT_RV(CKR_TEMPLATE_INCONSISTENT,
              F->C_GenerateKeyPair(s, &m, given, 2, NULL, 0, &pub, &priv));
    CK_BYTE even[] = {0x01, 0x00, 0x00};
    CK_ATTRIBUTE bad_e[] = {{CKA_MODULUS_BITS, &bits, sizeof(bits)},
                            {CKA_PUBLIC_EXPONENT, even, sizeof(even)}};
    EXPECT_RV(CKR_ATTRIBUTE_VALUE_INVALID,
              F->C_GenerateKeyPair(s, &m, bad_e, 2, NULL, 0, &pub, &priv));
}
END_TEST

/* ---- RSA signatures against OpenSSL ---- */

START_TEST(test_rsa_pkcs1_signatures_match_openssl)
{
    /* PKCS#1 v1.5 is deterministic: the module's signature of each hash must be OpenSSL's,
     * byte for byte, on the same imported key. */
    CK_SESSION_HANDLE s = user_session();
    EVP_PKEY *k = fixed_rsa();
    CK_OBJECT_HANDLE pub, priv;
    import_rsa(s, k, CK_TRUE, CK_TRUE, &pub, &priv);
    EVP_PKEY *pk = module_rsa_pub(s, pub); /* OpenSSL checks against the module's public key */
    for (size_t i = 0; i < sizeof(HASHES) / sizeof(HASHES[0]); i++) {
        const struct hash *h = &HASHES[i];
        uint8_t sig[256], want[256];
        CK_ULONG siglen = sizeof(sig);
        CK_MECHANISM m = {h->pkcs, NULL, 0};
        sign(s, &m, priv, MSG, sizeof(MSG), sig, &siglen);
        ck_assert_uint_eq(siglen, 256);
        ck_assert_uint_eq(ossl_sign(k, h, -1, MSG, sizeof(MSG), want), 256);
        ck_assert_mem_eq(sig, want, 256);
        ck_assert(ossl_verify(pk, h, true, -1, NULL, MSG, sizeof(MSG), sig, siglen));
        /* multi-part gives the same */
        OK(F->C_SignInit(s, &m, priv));
        OK(F->C_SignUpdate(s, (CK_BYTE_PTR)MSG, 10));
        OK(F->C_SignUpdate(s, (CK_BYTE_PTR)MSG + 10, sizeof(MSG) - 10));
        siglen = sizeof(sig);
        OK(F->C_SignFinal(s, sig, &siglen));
        ck_assert_mem_eq(sig, want, 256);
        /* the module verifies OpenSSL's signature, and refuses it for another message */
        OK(verify(s, &m, pub, MSG, sizeof(MSG), want, 256));
        EXPECT_RV(CKR_SIGNATURE_INVALID, verify(s, &m, pub, MSG, sizeof(MSG) - 1, want, 256));
    }
    EVP_PKEY_free(pk);
    EVP_PKEY_free(k);
}
END_TEST

START_TEST(test_rsa_pkcs_raw_signs_a_digest_info)
{
    CK_SESSION_HANDLE s = user_session();
    EVP_PKEY *k = fixed_rsa();
    CK_OBJECT_HANDLE pub, priv;
    import_rsa(s, k, CK_TRUE, CK_TRUE, &pub, &priv);
    /* RFC 8017 9.2 note 1: DigestInfo of SHA-256 = prefix || H */
    static const uint8_t prefix[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                     0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
    uint8_t di[sizeof(prefix) + 32], sig[256], want[256];
    memcpy(di, prefix, sizeof(prefix));
    sha(hash_of(CKM_SHA256), MSG, sizeof(MSG), di + sizeof(prefix));
    CK_MECHANISM m = {CKM_RSA_PKCS, NULL, 0};
    CK_ULONG siglen = sizeof(sig);
    sign(s, &m, priv, di, sizeof(di), sig, &siglen);
    ossl_sign(k, hash_of(CKM_SHA256), -1, MSG, sizeof(MSG), want);
    ck_assert_uint_eq(siglen, 256);
    ck_assert_mem_eq(sig, want, 256);
    EVP_PKEY *pk = module_rsa_pub(s, pub);
    ck_assert(ossl_verify(pk, NULL, false, -1, NULL, di, sizeof(di), sig, siglen));
    OK(verify(s, &m, pub, di, sizeof(di), sig, siglen));
    /* at most k - 11 bytes (RFC 8017 8.2.1) */
    uint8_t big[246] = {0};
    siglen = sizeof(sig);
    OK(F->C_SignInit(s, &m, priv));
    EXPECT_RV(CKR_DATA_LEN_RANGE, F->C_Sign(s, big, 246, sig, &siglen));
    siglen = sizeof(sig);
    sign(s, &m, priv, big, 245, sig, &siglen);
    /* raw CKM_RSA_PKCS is single-part */
    OK(F->C_SignInit(s, &m, priv));
    EXPECT_RV(CKR_FUNCTION_NOT_SUPPORTED, F->C_SignUpdate(s, di, sizeof(di)));
    EVP_PKEY_free(pk);
    EVP_PKEY_free(k);
}
END_TEST

START_TEST(test_rsa_pss_each_hash_and_salt_verifies_with_openssl)
{
    CK_SESSION_HANDLE s = user_session();
    EVP_PKEY *k = fixed_rsa();
    CK_OBJECT_HANDLE pub, priv;
    import_rsa(s, k, CK_TRUE, CK_TRUE, &pub, &priv);
    EVP_PKEY *pk = module_rsa_pub(s, pub);
    for (size_t i = 0; i < sizeof(HASHES) / sizeof(HASHES[0]); i++) {
        const struct hash *h = &HASHES[i];
        /* MGF1 with another hash than the message's, for one of them */
        const struct hash *mgf = i == 1 ? hash_of(CKM_SHA256) : h;
        CK_ULONG salts[] = {0, h->len, 256 - h->len - 2}; /* emLen = 256 for 2048 bits */
        for (int j = 0; j < 3; j++) {
            CK_RSA_PKCS_PSS_PARAMS pp = {h->digest, mgf->mgf, salts[j]};
            uint8_t hash[64], sig[256];
            CK_ULONG siglen = sizeof(sig);
            sha(h, MSG, sizeof(MSG), hash);
            /* raw PSS over the hash */
            CK_MECHANISM raw = {CKM_RSA_PKCS_PSS, &pp, sizeof(pp)};
            sign(s, &raw, priv, hash, h->len, sig, &siglen);
            ck_assert_uint_eq(siglen, 256);
            ck_assert_msg(ossl_verify(pk, h, false, (int)salts[j], mgf, hash, h->len, sig, siglen),
                          "raw PSS %s salt %lu", h->name, salts[j]);
            OK(verify(s, &raw, pub, hash, h->len, sig, siglen));
            /* the hashed variant over the message */
            CK_MECHANISM hashed = {h->pss, &pp, sizeof(pp)};
            siglen = sizeof(sig);
            sign(s, &hashed, priv, MSG, sizeof(MSG), sig, &siglen);
            ck_assert_msg(
                ossl_verify(pk, h, true, (int)salts[j], mgf, MSG, sizeof(MSG), sig, siglen),
                "%s PSS salt %lu", h->name, salts[j]);
            OK(verify(s, &hashed, pub, MSG, sizeof(MSG), sig, siglen));
            /* a salt length other than the signer's does not verify */
            CK_RSA_PKCS_PSS_PARAMS other = {h->digest, mgf->mgf, salts[j] ? 0 : 1};
            CK_MECHANISM wrong = {h->pss, &other, sizeof(other)};
            EXPECT_RV(CKR_SIGNATURE_INVALID, verify(s, &wrong, pub, MSG, sizeof(MSG), sig, siglen));
        }
        /* OpenSSL's PSS signature (salt = hash length, MGF1 with the same hash) verifies */
        uint8_t want[256];
        CK_RSA_PKCS_PSS_PARAMS pp = {h->digest, h->mgf, h->len};
        CK_MECHANISM hashed = {h->pss, &pp, sizeof(pp)};
        ck_assert_uint_eq(ossl_sign(k, h, (int)h->len, MSG, sizeof(MSG), want), 256);
        OK(verify(s, &hashed, pub, MSG, sizeof(MSG), want, 256));
    }
    EVP_PKEY_free(pk);
    EVP_PKEY_free(k);
}
END_TEST

START_TEST(test_rsa_pss_bad_parameters_are_refused)
{
    CK_SESSION_HANDLE s = user_session();
    EVP_PKEY *k = fixed_rsa();
    CK_OBJECT_HANDLE pub, priv;
    import_rsa(s, k, CK_TRUE, CK_TRUE, &pub, &priv);
    /* hashAlg other than the variant's hash */
    CK_RSA_PKCS_PSS_PARAMS mismatch = {CKM_SHA384, CKG_MGF1_SHA256, 32};
    CK_MECHANISM m = {CKM_SHA256_RSA_PKCS_PSS, &mismatch, sizeof(mismatch)};
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_SignInit(s, &m, priv));
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_VerifyInit(s, &m, pub));
    /* an unknown MGF */
    CK_RSA_PKCS_PSS_PARAMS bad_mgf = {CKM_SHA256, 0x99, 32};
    m.pParameter = &bad_mgf;
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_SignInit(s, &m, priv));
    CK_MECHANISM raw = {CKM_RSA_PKCS_PSS, &bad_mgf, sizeof(bad_mgf)};
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_SignInit(s, &raw, priv));
    /* a salt too long for the key: emLen - hLen - 2 + 1 */
    CK_RSA_PKCS_PSS_PARAMS long_salt = {CKM_SHA256, CKG_MGF1_SHA256, 256 - 32 - 1};
    m.pParameter = &long_salt;
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_SignInit(s, &m, priv));
    /* no parameters, or a short structure */
    CK_MECHANISM none = {CKM_SHA256_RSA_PKCS_PSS, NULL, 0};
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_SignInit(s, &none, priv));
    CK_RSA_PKCS_PSS_PARAMS good = {CKM_SHA256, CKG_MGF1_SHA256, 32};
    CK_MECHANISM shorter = {CKM_RSA_PKCS_PSS, &good, sizeof(good) - 1};
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_SignInit(s, &shorter, priv));
    /* raw PSS takes exactly the hash */
    uint8_t hash[33] = {0}, sig[256];
    CK_ULONG siglen = sizeof(sig);
    raw.pParameter = &good;
    OK(F->C_SignInit(s, &raw, priv));
    EXPECT_RV(CKR_DATA_LEN_RANGE, F->C_Sign(s, hash, 33, sig, &siglen));
    /* the hashed variants take no raw-only mechanism's parameters: CKM_SHA256_RSA_PKCS none */
    CK_MECHANISM pkcs_params = {CKM_SHA256_RSA_PKCS, &good, sizeof(good)};
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_SignInit(s, &pkcs_params, priv));
    EVP_PKEY_free(k);
}
END_TEST

START_TEST(test_rsa_signature_errors)
{
    CK_SESSION_HANDLE s = user_session();
    EVP_PKEY *k = fixed_rsa();
    CK_OBJECT_HANDLE pub, priv, nosign_pub, nosign;
    import_rsa(s, k, CK_TRUE, CK_TRUE, &pub, &priv);
    CK_MECHANISM m = {CKM_SHA256_RSA_PKCS, NULL, 0};
    uint8_t sig[256];
    CK_ULONG siglen = sizeof(sig);
    sign(s, &m, priv, MSG, sizeof(MSG), sig, &siglen);
    sig[100] ^= 1;
    EXPECT_RV(CKR_SIGNATURE_INVALID, verify(s, &m, pub, MSG, sizeof(MSG), sig, siglen));
    sig[100] ^= 1;
    EXPECT_RV(CKR_SIGNATURE_LEN_RANGE, verify(s, &m, pub, MSG, sizeof(MSG), sig, 255));
    uint8_t longer[257] = {0};
    memcpy(longer + 1, sig, 256);
    EXPECT_RV(CKR_SIGNATURE_LEN_RANGE, verify(s, &m, pub, MSG, sizeof(MSG), longer, 257));
    OK(verify(s, &m, pub, MSG, sizeof(MSG), sig, siglen));
    /* a key without CKA_SIGN */
    import_rsa(s, k, CK_TRUE, CK_FALSE, &nosign_pub, &nosign);
    EXPECT_RV(CKR_KEY_FUNCTION_NOT_PERMITTED, F->C_SignInit(s, &m, nosign));
    /* the public key does not sign, the private key does not verify */
    EXPECT_RV(CKR_KEY_TYPE_INCONSISTENT, F->C_SignInit(s, &m, pub));
    EXPECT_RV(CKR_KEY_TYPE_INCONSISTENT, F->C_VerifyInit(s, &m, priv));
    /* size query, then a short buffer */
    OK(F->C_SignInit(s, &m, priv));
    siglen = 0;
    OK(F->C_Sign(s, (CK_BYTE_PTR)MSG, sizeof(MSG), NULL, &siglen));
    ck_assert_uint_eq(siglen, 256);
    siglen = 255;
    EXPECT_RV(CKR_BUFFER_TOO_SMALL, F->C_Sign(s, (CK_BYTE_PTR)MSG, sizeof(MSG), sig, &siglen));
    siglen = sizeof(sig);
    OK(F->C_Sign(s, (CK_BYTE_PTR)MSG, sizeof(MSG), sig, &siglen));
    EVP_PKEY_free(k);
}
END_TEST

/* ---- RSA encryption ---- */

static size_t ossl_encrypt(EVP_PKEY *k, int padding, const struct hash *h, const struct hash *mgf,
                           const uint8_t *label, size_t label_len, const uint8_t *in, size_t len,
                           uint8_t *out)
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(k, NULL);
    size_t n = 512;
    ck_assert(EVP_PKEY_encrypt_init(pc) == 1);
    ck_assert(EVP_PKEY_CTX_set_rsa_padding(pc, padding) == 1);
    if (padding == RSA_PKCS1_OAEP_PADDING) {
        ck_assert(EVP_PKEY_CTX_set_rsa_oaep_md(pc, EVP_get_digestbyname(h->name)) == 1);
        ck_assert(EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_get_digestbyname(mgf->name)) == 1);
        if (label_len) {
            void *l = OPENSSL_memdup(label, label_len);
            ck_assert(EVP_PKEY_CTX_set0_rsa_oaep_label(pc, l, (int)label_len) == 1);
        }
    }
    ck_assert(EVP_PKEY_encrypt(pc, out, &n, in, len) == 1);
    EVP_PKEY_CTX_free(pc);
    return n;
}

static bool ossl_decrypt(EVP_PKEY *k, int padding, const struct hash *h, const struct hash *mgf,
                         const uint8_t *label, size_t label_len, const uint8_t *in, size_t len,
                         uint8_t *out, size_t *outlen)
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(k, NULL);
    ck_assert(EVP_PKEY_decrypt_init(pc) == 1);
    ck_assert(EVP_PKEY_CTX_set_rsa_padding(pc, padding) == 1);
    if (padding == RSA_PKCS1_OAEP_PADDING) {
        ck_assert(EVP_PKEY_CTX_set_rsa_oaep_md(pc, EVP_get_digestbyname(h->name)) == 1);
        ck_assert(EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_get_digestbyname(mgf->name)) == 1);
        if (label_len) {
            void *l = OPENSSL_memdup(label, label_len);
            ck_assert(EVP_PKEY_CTX_set0_rsa_oaep_label(pc, l, (int)label_len) == 1);
        }
    }
    bool ok = EVP_PKEY_decrypt(pc, out, outlen, in, len) == 1;
    EVP_PKEY_CTX_free(pc);
    return ok;
}

static void crypt_module(CK_SESSION_HANDLE s, bool enc, CK_MECHANISM *m, CK_OBJECT_HANDLE key,
                         const uint8_t *in, size_t len, uint8_t *out, CK_ULONG *outlen)
{
    OK((enc ? F->C_EncryptInit : F->C_DecryptInit)(s, m, key));
    OK((enc ? F->C_Encrypt : F->C_Decrypt)(s, (CK_BYTE_PTR)in, (CK_ULONG)len, out, outlen));
}

START_TEST(test_rsa_oaep_with_labels_both_ways)
{
    CK_SESSION_HANDLE s = user_session();
    EVP_PKEY *k = fixed_rsa();
    CK_OBJECT_HANDLE pub, priv;
    import_rsa(s, k, CK_TRUE, CK_TRUE, &pub, &priv);
    static const uint8_t label[] = "a label";
    CK_MECHANISM_TYPE hashes[] = {CKM_SHA_1, CKM_SHA256, CKM_SHA512};
    for (int i = 0; i < 3; i++) {
        const struct hash *h = hash_of(hashes[i]);
        const struct hash *mgf = i == 2 ? hash_of(CKM_SHA256) : h; /* MGF1 may differ */
        for (int with_label = 0; with_label < 2; with_label++) {
            size_t ll = with_label ? sizeof(label) - 1 : 0;
            CK_RSA_PKCS_OAEP_PARAMS op = {h->digest, mgf->mgf, CKZ_DATA_SPECIFIED,
                                          with_label ? (void *)label : NULL, ll};
            CK_MECHANISM m = {CKM_RSA_PKCS_OAEP, &op, sizeof(op)};
            size_t max = 256 - 2 * h->len - 2;
            uint8_t ct[256], pt[256];
            CK_ULONG n = sizeof(pt);
            /* OpenSSL encrypts the longest message, the module decrypts */
            size_t clen = ossl_encrypt(k, RSA_PKCS1_OAEP_PADDING, h, mgf, label, ll, MSG,
                                       max < sizeof(MSG) ? max : sizeof(MSG), ct);
            ck_assert_uint_eq(clen, 256);
            crypt_module(s, false, &m, priv, ct, clen, pt, &n);
            ck_assert_uint_eq(n, max < sizeof(MSG) ? max : sizeof(MSG));
            ck_assert_mem_eq(pt, MSG, n);
            /* the module encrypts, OpenSSL decrypts */
            uint8_t in[256];
            memset(in, 0x5a, sizeof(in));
            n = sizeof(ct);
            crypt_module(s, true, &m, pub, in, max, ct, &n);
            ck_assert_uint_eq(n, 256);
            size_t got = sizeof(pt);
            ck_assert(ossl_decrypt(k, RSA_PKCS1_OAEP_PADDING, h, mgf, label, ll, ct, n, pt, &got));
            ck_assert_uint_eq(got, max);
            ck_assert_mem_eq(pt, in, max);
            /* one byte more does not fit */
            OK(F->C_EncryptInit(s, &m, pub));
            n = sizeof(ct);
            EXPECT_RV(CKR_DATA_LEN_RANGE, F->C_Encrypt(s, in, (CK_ULONG)max + 1, ct, &n));
        }
    }
    /* another label does not decrypt */
    CK_RSA_PKCS_OAEP_PARAMS op = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, (void *)label,
                                  sizeof(label) - 1};
    CK_MECHANISM m = {CKM_RSA_PKCS_OAEP, &op, sizeof(op)};
    uint8_t ct[256], pt[256];
    CK_ULONG n = sizeof(ct);
    crypt_module(s, true, &m, pub, MSG, sizeof(MSG), ct, &n);
    op.ulSourceDataLen--;
    OK(F->C_DecryptInit(s, &m, priv));
    n = sizeof(pt);
    EXPECT_RV(CKR_ENCRYPTED_DATA_INVALID, F->C_Decrypt(s, ct, 256, pt, &n));
    EVP_PKEY_free(k);
}
END_TEST

START_TEST(test_rsa_oaep_bad_parameters_are_refused)
{
    CK_SESSION_HANDLE s = user_session();
    EVP_PKEY *k = fixed_rsa();
    CK_OBJECT_HANDLE pub, priv;
    import_rsa(s, k, CK_TRUE, CK_TRUE, &pub, &priv);
    CK_RSA_PKCS_OAEP_PARAMS bad[] = {
        {CKM_MD5, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0},    /* hash */
        {CKM_SHA256, 0x77, CKZ_DATA_SPECIFIED, NULL, 0},            /* MGF */
        {CKM_SHA256, CKG_MGF1_SHA256, 5, NULL, 0},                  /* source */
        {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 4}, /* label NULL with length */
    };
    for (size_t i = 0; i < 4; i++) {
        CK_MECHANISM m = {CKM_RSA_PKCS_OAEP, &bad[i], sizeof(bad[i])};
        EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_EncryptInit(s, &m, pub));
        EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_DecryptInit(s, &m, priv));
    }
    CK_MECHANISM none = {CKM_RSA_PKCS_OAEP, NULL, 0};
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_EncryptInit(s, &none, pub));
    CK_RSA_PKCS_OAEP_PARAMS good = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0};
    CK_MECHANISM shorter = {CKM_RSA_PKCS_OAEP, &good, sizeof(good) - 1};
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_EncryptInit(s, &shorter, pub));
    EVP_PKEY_free(k);
}
END_TEST

START_TEST(test_rsa_pkcs1_encryption_both_ways)
{
    CK_SESSION_HANDLE s = user_session();
    EVP_PKEY *k = fixed_rsa();
    CK_OBJECT_HANDLE pub, priv;
    import_rsa(s, k, CK_TRUE, CK_TRUE, &pub, &priv);
    CK_MECHANISM m = {CKM_RSA_PKCS, NULL, 0};
    uint8_t ct[256], pt[256], in[245];
    memset(in, 0xa5, sizeof(in));
    CK_ULONG n = sizeof(ct);
    crypt_module(s, true, &m, pub, in, sizeof(in), ct, &n);
    ck_assert_uint_eq(n, 256);
    size_t got = sizeof(pt);
    ck_assert(ossl_decrypt(k, RSA_PKCS1_PADDING, NULL, NULL, NULL, 0, ct, n, pt, &got));
    ck_assert_uint_eq(got, sizeof(in));
    ck_assert_mem_eq(pt, in, sizeof(in));
    size_t clen = ossl_encrypt(k, RSA_PKCS1_PADDING, NULL, NULL, NULL, 0, MSG, sizeof(MSG), ct);
    /* size query gives the modulus size as the upper bound, then the real length */
    OK(F->C_DecryptInit(s, &m, priv));
    n = 0;
    OK(F->C_Decrypt(s, ct, (CK_ULONG)clen, NULL, &n));
    ck_assert_uint_eq(n, 256);
    OK(F->C_Decrypt(s, ct, (CK_ULONG)clen, pt, &n));
    ck_assert_uint_eq(n, sizeof(MSG));
    ck_assert_mem_eq(pt, MSG, sizeof(MSG));
    /* too long to encrypt; a ciphertext of the wrong length; a corrupt ciphertext */
    uint8_t big[246] = {0};
    OK(F->C_EncryptInit(s, &m, pub));
    n = sizeof(ct);
    EXPECT_RV(CKR_DATA_LEN_RANGE, F->C_Encrypt(s, big, sizeof(big), ct, &n));
    OK(F->C_DecryptInit(s, &m, priv));
    n = sizeof(pt);
    EXPECT_RV(CKR_ENCRYPTED_DATA_LEN_RANGE, F->C_Decrypt(s, ct, 255, pt, &n));
    uint8_t zero[256] = {0};
    OK(F->C_DecryptInit(s, &m, priv));
    n = sizeof(pt);
    EXPECT_RV(CKR_ENCRYPTED_DATA_INVALID, F->C_Decrypt(s, zero, 256, pt, &n));
    EVP_PKEY_free(k);
}
END_TEST

START_TEST(test_rsa_x509_is_raw_rsa)
{
    CK_SESSION_HANDLE s = user_session();
    EVP_PKEY *k = fixed_rsa();
    CK_OBJECT_HANDLE pub, priv;
    import_rsa(s, k, CK_TRUE, CK_TRUE, &pub, &priv);
    CK_MECHANISM m = {CKM_RSA_X_509, NULL, 0};
    /* a short input is the number it spells: OpenSSL recovers it, left-padded to k bytes */
    uint8_t sig[256], rec[256], want[256] = {0};
    memcpy(want + 256 - sizeof(MSG), MSG, sizeof(MSG));
    CK_ULONG siglen = sizeof(sig);
    sign(s, &m, priv, MSG, sizeof(MSG), sig, &siglen);
    ck_assert_uint_eq(siglen, 256);
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(k, NULL);
    size_t rl = sizeof(rec);
    ck_assert(EVP_PKEY_verify_recover_init(pc) == 1);
    ck_assert(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_NO_PADDING) == 1);
    ck_assert(EVP_PKEY_verify_recover(pc, rec, &rl, sig, siglen) == 1);
    ck_assert_uint_eq(rl, 256);
    ck_assert_mem_eq(rec, want, 256);
    EVP_PKEY_CTX_free(pc);
    OK(verify(s, &m, pub, MSG, sizeof(MSG), sig, siglen));
    OK(verify(s, &m, pub, want, 256, sig, siglen));
    EXPECT_RV(CKR_SIGNATURE_INVALID, verify(s, &m, pub, MSG, sizeof(MSG) - 1, sig, siglen));
    /* encryption: the module's by OpenSSL without padding, and the reverse */
    uint8_t ct[256], pt[256];
    CK_ULONG n = sizeof(ct);
    crypt_module(s, true, &m, pub, MSG, sizeof(MSG), ct, &n);
    ck_assert_uint_eq(n, 256);
    size_t got = sizeof(pt);
    pc = EVP_PKEY_CTX_new(k, NULL);
    ck_assert(EVP_PKEY_decrypt_init(pc) == 1);
    ck_assert(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_NO_PADDING) == 1);
    ck_assert(EVP_PKEY_decrypt(pc, pt, &got, ct, n) == 1);
    EVP_PKEY_CTX_free(pc);
    ck_assert_uint_eq(got, 256);
    ck_assert_mem_eq(pt, want, 256);
    n = sizeof(pt);
    crypt_module(s, false, &m, priv, ct, 256, pt, &n);
    ck_assert_uint_eq(n, 256);
    ck_assert_mem_eq(pt, want, 256);
    /* a value not below the modulus, and an input longer than k */
    uint8_t big[257];
    memset(big, 0xff, sizeof(big));
    OK(F->C_SignInit(s, &m, priv));
    siglen = sizeof(sig);
    EXPECT_RV(CKR_DATA_INVALID, F->C_Sign(s, big, 256, sig, &siglen));
    OK(F->C_EncryptInit(s, &m, pub));
    n = sizeof(ct);
    EXPECT_RV(CKR_DATA_INVALID, F->C_Encrypt(s, big, 256, ct, &n));
    OK(F->C_EncryptInit(s, &m, pub));
    n = sizeof(ct);
    EXPECT_RV(CKR_DATA_LEN_RANGE, F->C_Encrypt(s, big, 257, ct, &n));
    OK(F->C_DecryptInit(s, &m, priv));
    n = sizeof(pt);
    EXPECT_RV(CKR_ENCRYPTED_DATA_INVALID, F->C_Decrypt(s, big, 256, pt, &n));
    EVP_PKEY_free(k);
}
END_TEST

/* ---- RSA objects ---- */

START_TEST(test_rsa_private_parts_are_sensitive)
{
    CK_SESSION_HANDLE s = user_session();
    EVP_PKEY *k = fixed_rsa();
    CK_OBJECT_HANDLE pub, priv, gpub, gpriv;
    import_rsa(s, k, CK_TRUE, CK_TRUE, &pub, &priv);
    uint8_t buf[512];
    for (int i = 2; i < 8; i++) {
        CK_ATTRIBUTE a = {RSA_ATTRS[i], buf, sizeof(buf)};
        EXPECT_RV(CKR_ATTRIBUTE_SENSITIVE, F->C_GetAttributeValue(s, priv, &a, 1));
        ck_assert_uint_eq(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    }
    gen_rsa(s, 2048, &gpub, &gpriv);
    CK_ATTRIBUTE d = {CKA_PRIVATE_EXPONENT, buf, sizeof(buf)};
    EXPECT_RV(CKR_ATTRIBUTE_SENSITIVE, F->C_GetAttributeValue(s, gpriv, &d, 1));
    /* the public parts of the private key are readable */
    CK_ULONG len;
    uint8_t *n = get_attr(s, priv, CKA_MODULUS, &len);
    ck_assert_uint_eq(len, 256);
    free(n);
    /* an extractable, non-sensitive key reveals its parts as imported */
    CK_OBJECT_HANDLE xpub, xpriv;
    import_rsa(s, k, CK_FALSE, CK_TRUE, &xpub, &xpriv);
    CK_ATTRIBUTE parts[8];
    rsa_parts(k, parts);
    for (int i = 2; i < 8; i++) {
        uint8_t *v = get_attr(s, xpriv, RSA_ATTRS[i], &len);
        ck_assert_uint_eq(len, parts[i].ulValueLen);
        ck_assert_mem_eq(v, parts[i].pValue, len);
        free(v);
    }
    free_parts(parts);
    /* a copy of the sensitive key signs like the original */
    CK_OBJECT_HANDLE copy;
    CK_ATTRIBUTE ct[] = {{CKA_LABEL, "copy", 4}};
    OK(F->C_CopyObject(s, priv, ct, 1, &copy));
    CK_MECHANISM m = {CKM_SHA256_RSA_PKCS, NULL, 0};
    uint8_t s1[256], s2[256];
    CK_ULONG l1 = sizeof(s1), l2 = sizeof(s2);
    sign(s, &m, priv, MSG, sizeof(MSG), s1, &l1);
    sign(s, &m, copy, MSG, sizeof(MSG), s2, &l2);
    ck_assert_mem_eq(s1, s2, 256);
    EXPECT_RV(CKR_ATTRIBUTE_SENSITIVE, F->C_GetAttributeValue(s, copy, &d, 1));
    EVP_PKEY_free(k);
}
END_TEST

START_TEST(test_rsa_import_checks_consistency)
{
    CK_SESSION_HANDLE s = user_session();
    EVP_PKEY *k = fixed_rsa();
    CK_ATTRIBUTE parts[8];
    rsa_parts(k, parts);
    CK_OBJECT_HANDLE h;
    CK_ATTRIBUTE q[15] = {{CKA_CLASS, &cls_priv, sizeof(cls_priv)},
                          {CKA_KEY_TYPE, &kt_rsa, sizeof(kt_rsa)},
                          {CKA_TOKEN, &no, 1}};
    memcpy(q + 3, parts, sizeof(parts));
    OK(F->C_CreateObject(s, q, 11, &h));
    /* a prime that is not the modulus's */
    uint8_t *p1 = parts[3].pValue;
    p1[parts[3].ulValueLen - 1] ^= 2;
    EXPECT_RV(CKR_ATTRIBUTE_VALUE_INVALID, F->C_CreateObject(s, q, 11, &h));
    p1[parts[3].ulValueLen - 1] ^= 2;
    /* a public exponent that is not d's */
    CK_BYTE three[] = {3};
    q[4].pValue = three;
    q[4].ulValueLen = 1;
    EXPECT_RV(CKR_ATTRIBUTE_VALUE_INVALID, F->C_CreateObject(s, q, 11, &h));
    q[4] = parts[1];
    /* some CRT parts without the others */
    EXPECT_RV(CKR_TEMPLATE_INCONSISTENT, F->C_CreateObject(s, q, 8, &h));
    /* n, e, d alone are a key (no CRT): it signs what OpenSSL verifies */
    OK(F->C_CreateObject(s, q, 6, &h));
    CK_MECHANISM m = {CKM_SHA384_RSA_PKCS, NULL, 0};
    uint8_t sig[256], want[256];
    CK_ULONG siglen = sizeof(sig);
    sign(s, &m, h, MSG, sizeof(MSG), sig, &siglen);
    ossl_sign(k, hash_of(CKM_SHA384), -1, MSG, sizeof(MSG), want);
    ck_assert_mem_eq(sig, want, 256);
    /* without the private exponent: incomplete; libsea also needs the public exponent */
    CK_ATTRIBUTE no_d[] = {q[0], q[1], q[2], parts[0], parts[1]};
    EXPECT_RV(CKR_TEMPLATE_INCOMPLETE, F->C_CreateObject(s, no_d, 5, &h));
    CK_ATTRIBUTE no_e[] = {q[0], q[1], q[2], parts[0], parts[2]};
    EXPECT_RV(CKR_TEMPLATE_INCOMPLETE, F->C_CreateObject(s, no_e, 5, &h));
    /* a public key with a CKA_MODULUS_BITS that is not its modulus's */
    CK_ULONG bits = 2040, good_bits = 2048;
    CK_ATTRIBUTE pt[] = {{CKA_CLASS, &cls_pub, sizeof(cls_pub)},
                         {CKA_KEY_TYPE, &kt_rsa, sizeof(kt_rsa)},
                         parts[0],
                         parts[1],
                         {CKA_MODULUS_BITS, &bits, sizeof(bits)}};
    EXPECT_RV(CKR_TEMPLATE_INCONSISTENT, F->C_CreateObject(s, pt, 5, &h));
    pt[4].pValue = &good_bits;
    OK(F->C_CreateObject(s, pt, 5, &h));
    /* CKA_VALUE is no RSA attribute */
    CK_ATTRIBUTE with_value[] = {pt[0], pt[1], pt[2], pt[3], {CKA_VALUE, "x", 1}};
    EXPECT_RV(CKR_ATTRIBUTE_TYPE_INVALID, F->C_CreateObject(s, with_value, 5, &h));
    free_parts(parts);
    EVP_PKEY_free(k);
}
END_TEST

START_TEST(test_mechanism_info_for_rsa_and_eddsa)
{
    CK_SLOT_ID slot = 0;
    OK(F->C_Initialize(NULL));
    OK(p11_make_token(&M, "asym", NULL, &slot));
    CK_MECHANISM_INFO mi;
    OK(F->C_GetMechanismInfo(slot, CKM_RSA_PKCS, &mi));
    ck_assert_uint_eq(mi.ulMinKeySize, 2048);
    ck_assert_uint_eq(mi.ulMaxKeySize, 4096);
    CK_FLAGS want = CKF_SIGN | CKF_VERIFY | CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP;
    ck_assert_uint_eq(mi.flags & want, want);
    /* no unwrap with PKCS#1 v1.5 (a Bleichenbacher oracle) nor raw RSA (c^d itself) */
    ck_assert_uint_eq(mi.flags & CKF_UNWRAP, 0);
    OK(F->C_GetMechanismInfo(slot, CKM_RSA_X_509, &mi));
    ck_assert_uint_eq(mi.flags & (CKF_WRAP | CKF_UNWRAP), 0);
    OK(F->C_GetMechanismInfo(slot, CKM_RSA_PKCS_OAEP, &mi));
    ck_assert_uint_eq(mi.flags & (CKF_ENCRYPT | CKF_WRAP), CKF_ENCRYPT | CKF_WRAP);
    ck_assert_uint_eq(mi.flags & CKF_SIGN, 0);
    CK_MECHANISM_TYPE composed[] = {CKM_SHA1_RSA_PKCS,       CKM_SHA224_RSA_PKCS,
                                    CKM_SHA256_RSA_PKCS,     CKM_SHA384_RSA_PKCS,
                                    CKM_SHA512_RSA_PKCS,     CKM_SHA1_RSA_PKCS_PSS,
                                    CKM_SHA224_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS_PSS,
                                    CKM_SHA384_RSA_PKCS_PSS, CKM_SHA512_RSA_PKCS_PSS};
    for (size_t i = 0; i < sizeof(composed) / sizeof(composed[0]); i++) {
        OK(F->C_GetMechanismInfo(slot, composed[i], &mi));
        ck_assert_uint_eq(mi.flags & (CKF_SIGN | CKF_VERIFY), CKF_SIGN | CKF_VERIFY);
        ck_assert_uint_eq(mi.ulMinKeySize, 2048);
    }
    OK(F->C_GetMechanismInfo(slot, CKM_RSA_PKCS_KEY_PAIR_GEN, &mi));
    ck_assert_uint_eq(mi.flags & CKF_GENERATE_KEY_PAIR, CKF_GENERATE_KEY_PAIR);
    OK(F->C_GetMechanismInfo(slot, CKM_EC_EDWARDS_KEY_PAIR_GEN, &mi));
    ck_assert_uint_eq(mi.flags & CKF_GENERATE_KEY_PAIR, CKF_GENERATE_KEY_PAIR);
    OK(F->C_GetMechanismInfo(slot, CKM_EDDSA, &mi));
    ck_assert_uint_eq(mi.flags & (CKF_SIGN | CKF_VERIFY), CKF_SIGN | CKF_VERIFY);
    ck_assert_uint_eq(mi.ulMinKeySize, 255);
    /* and they are in the list */
    CK_MECHANISM_TYPE list[256];
    CK_ULONG n = 256;
    OK(F->C_GetMechanismList(slot, list, &n));
    int found = 0;
    for (CK_ULONG i = 0; i < n; i++)
        found += list[i] == CKM_RSA_PKCS_PSS || list[i] == CKM_RSA_PKCS_OAEP ||
                 list[i] == CKM_EDDSA || list[i] == CKM_SHA512_RSA_PKCS_PSS;
    ck_assert_int_eq(found, 4);
}
END_TEST

/* ---- Ed25519 ---- */

/* RFC 8032 7.1, TEST 1, TEST 2 and TEST 3. */
static const struct ed_vector {
    const char *sk, *pk, *msg, *sig;
} RFC8032[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e3970"
     "1cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613"
     "d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760"
     "984dc6594a7c15e9716ed28dc027beceea1ec40a"},
};

static size_t unhex(const char *hex, uint8_t *out)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(sscanf(hex + 2 * i, "%2hhx", &out[i]), 1);
    return n;
}

static CK_OBJECT_HANDLE create_ed(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const CK_BYTE *params,
                                  size_t plen, CK_ATTRIBUTE_TYPE vt, const uint8_t *v, size_t vlen)
{
    CK_OBJECT_HANDLE h;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
                        {CKA_KEY_TYPE, &kt_ed, sizeof(kt_ed)},
                        {CKA_TOKEN, &no, 1},
                        {CKA_EC_PARAMS, (void *)params, plen},
                        {vt, (void *)v, vlen}};
    OK(F->C_CreateObject(s, t, 5, &h));
    return h;
}

START_TEST(test_ed25519_rfc8032_known_answers)
{
    CK_SESSION_HANDLE s = user_session();
    for (size_t i = 0; i < 3; i++) {
        const struct ed_vector *v = &RFC8032[i];
        uint8_t sk[32], pk[32], msg[8], want[64], sig[64];
        unhex(v->sk, sk);
        unhex(v->pk, pk);
        size_t mlen = unhex(v->msg, msg);
        unhex(v->sig, want);
        /* the seed as CKA_VALUE (both forms of CKA_EC_PARAMS) gives the public key */
        CK_OBJECT_HANDLE priv =
            create_ed(s, CKO_PRIVATE_KEY, i == 1 ? ED_NAME : ED_OID,
                      i == 1 ? sizeof(ED_NAME) : sizeof(ED_OID), CKA_VALUE, sk, 32);
        CK_ULONG len;
        uint8_t *point = get_attr(s, priv, CKA_EC_POINT, &len);
        ck_assert_uint_eq(len, 34);
        ck_assert(point[0] == 0x04 && point[1] == 32);
        ck_assert_mem_eq(point + 2, pk, 32);
        free(point);
        /* the exact signature */
        CK_MECHANISM m = {CKM_EDDSA, NULL, 0};
        CK_ULONG siglen = sizeof(sig);
        sign(s, &m, priv, msg, mlen, sig, &siglen);
        ck_assert_uint_eq(siglen, 64);
        ck_assert_mem_eq(sig, want, 64);
        /* a public key from the bare 32 bytes verifies it, and stores the DER form */
        CK_OBJECT_HANDLE pub =
            create_ed(s, CKO_PUBLIC_KEY, ED_OID, sizeof(ED_OID), CKA_EC_POINT, pk, 32);
        point = get_attr(s, pub, CKA_EC_POINT, &len);
        ck_assert_uint_eq(len, 34);
        ck_assert_mem_eq(point + 2, pk, 32);
        free(point);
        OK(verify(s, &m, pub, msg, mlen, want, 64));
        want[63] ^= 0x40;
        EXPECT_RV(CKR_SIGNATURE_INVALID, verify(s, &m, pub, msg, mlen, want, 64));
        EXPECT_RV(CKR_SIGNATURE_LEN_RANGE, verify(s, &m, pub, msg, mlen, want, 63));
        /* CKA_PUBLIC_KEY_INFO is RFC 8410's */
        uint8_t *spki = get_attr(s, pub, CKA_PUBLIC_KEY_INFO, &len);
        const unsigned char *p = spki;
        EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long)len);
        ck_assert_ptr_nonnull(k);
        uint8_t raw[32];
        size_t rl = sizeof(raw);
        ck_assert(EVP_PKEY_get_raw_public_key(k, raw, &rl) == 1);
        ck_assert_mem_eq(raw, pk, 32);
        EVP_PKEY_free(k);
        free(spki);
    }
    /* a seed of the wrong length, a point of the wrong length, a given point that is not the
     * seed's */
    uint8_t sk[33] = {0}, pk[32];
    CK_OBJECT_HANDLE h;
    CK_OBJECT_CLASS priv_cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &priv_cls, sizeof(priv_cls)},
                        {CKA_KEY_TYPE, &kt_ed, sizeof(kt_ed)},
                        {CKA_TOKEN, &no, 1},
                        {CKA_EC_PARAMS, (void *)ED_OID, sizeof(ED_OID)},
                        {CKA_VALUE, sk, 33}};
    EXPECT_RV(CKR_ATTRIBUTE_VALUE_INVALID, F->C_CreateObject(s, t, 5, &h));
    unhex(RFC8032[0].pk, pk);
    CK_OBJECT_CLASS pub_cls = CKO_PUBLIC_KEY;
    CK_ATTRIBUTE u[] = {{CKA_CLASS, &pub_cls, sizeof(pub_cls)},
                        {CKA_KEY_TYPE, &kt_ed, sizeof(kt_ed)},
                        {CKA_TOKEN, &no, 1},
                        {CKA_EC_PARAMS, (void *)ED_OID, sizeof(ED_OID)},
                        {CKA_EC_POINT, pk, 31}};
    EXPECT_RV(CKR_ATTRIBUTE_VALUE_INVALID, F->C_CreateObject(s, u, 5, &h));
    /* Ed448 is not supported */
    static const CK_BYTE ed448[] = {0x06, 0x03, 0x2b, 0x65, 0x71};
    u[3].pValue = (void *)ed448;
    u[4].ulValueLen = 32;
    EXPECT_RV(CKR_CURVE_NOT_SUPPORTED, F->C_CreateObject(s, u, 5, &h));
}
END_TEST

static void gen_ed(CK_SESSION_HANDLE s, const CK_BYTE *params, size_t plen, CK_OBJECT_HANDLE *pub,
                   CK_OBJECT_HANDLE *priv)
{
    CK_MECHANISM m = {CKM_EC_EDWARDS_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pt[] = {
        {CKA_TOKEN, &yes, 1}, {CKA_VERIFY, &yes, 1}, {CKA_EC_PARAMS, (void *)params, plen}};
    CK_ATTRIBUTE qt[] = {{CKA_TOKEN, &yes, 1},
                         {CKA_PRIVATE, &yes, 1},
                         {CKA_SENSITIVE, &yes, 1},
                         {CKA_SIGN, &yes, 1}};
    OK(F->C_GenerateKeyPair(s, &m, pt, 3, qt, 4, pub, priv));
}

START_TEST(test_ed25519_generated_keys_verify_with_openssl)
{
    CK_SESSION_HANDLE s = user_session();
    for (int form = 0; form < 2; form++) {
        const CK_BYTE *params = form ? ED_NAME : ED_OID;
        size_t plen = form ? sizeof(ED_NAME) : sizeof(ED_OID);
        CK_OBJECT_HANDLE pub, priv;
        gen_ed(s, params, plen, &pub, &priv);
        CK_ULONG len;
        uint8_t *p = get_attr(s, priv, CKA_EC_PARAMS, &len);
        ck_assert_uint_eq(len, plen);
        ck_assert_mem_eq(p, params, plen);
        free(p);
        uint8_t *point = get_attr(s, pub, CKA_EC_POINT, &len);
        ck_assert_uint_eq(len, 34);
        EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, point + 2, 32);
        ck_assert_ptr_nonnull(k);
        free(point);
        uint8_t sig[64];
        CK_ULONG siglen = sizeof(sig);
        CK_EDDSA_PARAMS ep = {CK_FALSE, 0, NULL};
        CK_MECHANISM m = {CKM_EDDSA, form ? &ep : NULL, form ? sizeof(ep) : 0};
        sign(s, &m, priv, MSG, sizeof(MSG), sig, &siglen);
        EVP_MD_CTX *mc = EVP_MD_CTX_new();
        ck_assert(EVP_DigestVerifyInit(mc, NULL, NULL, NULL, k) == 1);
        ck_assert_int_eq(EVP_DigestVerify(mc, sig, 64, MSG, sizeof(MSG)), 1);
        EVP_MD_CTX_free(mc);
        /* a different message does not verify in the module */
        EXPECT_RV(CKR_SIGNATURE_INVALID, verify(s, &m, pub, MSG, sizeof(MSG) - 1, sig, 64));
        /* the seed stays inside */
        uint8_t buf[64];
        CK_ATTRIBUTE v = {CKA_VALUE, buf, sizeof(buf)};
        EXPECT_RV(CKR_ATTRIBUTE_SENSITIVE, F->C_GetAttributeValue(s, priv, &v, 1));
        EVP_PKEY_free(k);
    }
}
END_TEST

START_TEST(test_eddsa_refuses_ph_and_context)
{
    CK_SESSION_HANDLE s = user_session();
    CK_OBJECT_HANDLE pub, priv;
    gen_ed(s, ED_OID, sizeof(ED_OID), &pub, &priv);
    CK_EDDSA_PARAMS ph = {CK_TRUE, 0, NULL};
    CK_MECHANISM m = {CKM_EDDSA, &ph, sizeof(ph)};
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_SignInit(s, &m, priv));
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_VerifyInit(s, &m, pub));
    CK_BYTE ctx[] = "context";
    CK_EDDSA_PARAMS with_ctx = {CK_FALSE, sizeof(ctx), ctx};
    m.pParameter = &with_ctx;
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_SignInit(s, &m, priv));
    m.ulParameterLen = 3;
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_SignInit(s, &m, priv));
    /* single-part only */
    CK_MECHANISM plain = {CKM_EDDSA, NULL, 0};
    OK(F->C_SignInit(s, &plain, priv));
    EXPECT_RV(CKR_FUNCTION_NOT_SUPPORTED, F->C_SignUpdate(s, (CK_BYTE_PTR)MSG, 3));
    /* Ed448 and other curves are refused at generation */
    static const CK_BYTE ed448[] = {0x06, 0x03, 0x2b, 0x65, 0x71};
    CK_MECHANISM g = {CKM_EC_EDWARDS_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pt[] = {{CKA_EC_PARAMS, (void *)ed448, sizeof(ed448)}};
    EXPECT_RV(CKR_CURVE_NOT_SUPPORTED, F->C_GenerateKeyPair(s, &g, pt, 1, NULL, 0, &pub, &priv));
    /* an Ed25519 key does not do ECDSA, nor an RSA mechanism */
    CK_MECHANISM ecdsa = {CKM_ECDSA, NULL, 0};
    EXPECT_RV(CKR_KEY_TYPE_INCONSISTENT, F->C_SignInit(s, &ecdsa, priv));
    CK_MECHANISM rsa = {CKM_SHA256_RSA_PKCS, NULL, 0};
    EXPECT_RV(CKR_KEY_TYPE_INCONSISTENT, F->C_SignInit(s, &rsa, priv));
}
END_TEST

/* ---- PKCS#8 out, PEM/DER in (libseacore directly) ---- */

static EVP_PKEY *from_pkcs8(const uint8_t *der, size_t len)
{
    const unsigned char *p = der;
    PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
    ck_assert_ptr_nonnull(p8);
    ck_assert_ptr_eq(p, der + len);
    EVP_PKEY *k = EVP_PKCS82PKEY(p8);
    PKCS8_PRIV_KEY_INFO_free(p8);
    ck_assert_ptr_nonnull(k);
    return k;
}

static void parsed_to_pkcs8_and_back(const uint8_t *in, size_t len, const char *type)
{
    struct attrs *pub = attrs_new(), *priv = attrs_new();
    uint8_t *der = NULL;
    size_t dlen = 0;
    ck_assert_int_eq(crypto_parse_private_key(in, len, pub, priv), CKR_OK);
    /* the private half carries everything the encoder needs */
    ck_assert_int_eq(crypto_private_key_pkcs8(priv, NULL, &der, &dlen), CKR_OK);
    EVP_PKEY *back = from_pkcs8(der, dlen);
    OPENSSL_secure_clear_free(der, dlen);
    ck_assert(EVP_PKEY_is_a(back, type));
    /* the same key: OpenSSL reads it as it reads the input */
    const unsigned char *p = in;
    EVP_PKEY *orig = d2i_AutoPrivateKey(NULL, &p, (long)len);
    if (!orig) {
        BIO *b = BIO_new_mem_buf(in, (int)len);
        orig = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
        BIO_free(b);
    }
    ck_assert_ptr_nonnull(orig);
    ck_assert_int_eq(EVP_PKEY_eq(orig, back), 1);
    /* and a public key cannot be encoded */
    ck_assert_int_eq(crypto_private_key_pkcs8(pub, NULL, &der, &dlen) == CKR_OK, 0);
    EVP_PKEY_free(orig);
    EVP_PKEY_free(back);
    attrs_unref(pub);
    attrs_unref(priv);
}

START_TEST(test_pkcs8_round_trip_rsa_ed25519_ec)
{
    ck_assert_int_eq(crypto_init(), CKR_OK);
    parsed_to_pkcs8_and_back((const uint8_t *)RSA_PEM, sizeof(RSA_PEM) - 1, "RSA");
    /* RFC 8032 TEST 1's seed in RFC 8410's PKCS#8 */
    uint8_t ed[48] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                      0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
    unhex(RFC8032[0].sk, ed + 16);
    parsed_to_pkcs8_and_back(ed, sizeof(ed), "ED25519");
    /* an EC key made by OpenSSL, in DER */
    EVP_PKEY *ec = EVP_EC_gen("P-384");
    unsigned char *der = NULL;
    int n = i2d_PrivateKey(ec, &der);
    ck_assert_int_gt(n, 0);
    parsed_to_pkcs8_and_back(der, (size_t)n, "EC");
    OPENSSL_free(der);
    EVP_PKEY_free(ec);
    /* an RSA key imported without its CRT parts has no PKCS#8 form here */
    struct attrs *a = attrs_new();
    EVP_PKEY *k = fixed_rsa();
    CK_ATTRIBUTE parts[8];
    rsa_parts(k, parts);
    ck_assert_int_eq(attrs_set_ulong(a, CKA_CLASS, CKO_PRIVATE_KEY), CKR_OK);
    ck_assert_int_eq(attrs_set_ulong(a, CKA_KEY_TYPE, CKK_RSA), CKR_OK);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(attrs_set(a, parts[i].type, parts[i].pValue, parts[i].ulValueLen), CKR_OK);
    uint8_t *p8 = NULL;
    size_t p8len = 0;
    ck_assert_int_eq(crypto_private_key_pkcs8(a, NULL, &p8, &p8len), CKR_KEY_UNEXTRACTABLE);
    free_parts(parts);
    EVP_PKEY_free(k);
    attrs_unref(a);
    crypto_fini();
}
END_TEST

static Suite *asym_suite(void)
{
    Suite *su = suite_create("asym");
    TCase *tc;
#define TC(name, secs)                                                                             \
    (tc = tcase_create(name), tcase_add_checked_fixture(tc, p11_setup, p11_teardown),                      \
     tcase_set_timeout(tc, secs), suite_add_tcase(su, tc))
    TC("rsa-keygen", 1800);
    tcase_add_test(tc, test_rsa_keygen_2048_and_3072);
    tcase_add_test(tc, test_rsa_keygen_4096_signs_pss);
    tcase_add_test(tc, test_rsa_keygen_refuses_sizes_and_bad_templates);
    TC("rsa", 600);
    tcase_add_test(tc, test_rsa_pkcs1_signatures_match_openssl);
    tcase_add_test(tc, test_rsa_pkcs_raw_signs_a_digest_info);
    tcase_add_test(tc, test_rsa_pss_each_hash_and_salt_verifies_with_openssl);
    tcase_add_test(tc, test_rsa_pss_bad_parameters_are_refused);
    tcase_add_test(tc, test_rsa_signature_errors);
    tcase_add_test(tc, test_rsa_oaep_with_labels_both_ways);
    tcase_add_test(tc, test_rsa_oaep_bad_parameters_are_refused);
    tcase_add_test(tc, test_rsa_pkcs1_encryption_both_ways);
    tcase_add_test(tc, test_rsa_x509_is_raw_rsa);
    tcase_add_test(tc, test_rsa_private_parts_are_sensitive);
    tcase_add_test(tc, test_rsa_import_checks_consistency);
    tcase_add_test(tc, test_mechanism_info_for_rsa_and_eddsa);
    TC("ed25519", 300);
    tcase_add_test(tc, test_ed25519_rfc8032_known_answers);
    tcase_add_test(tc, test_ed25519_generated_keys_verify_with_openssl);
    tcase_add_test(tc, test_eddsa_refuses_ph_and_context);
    tc = tcase_create("pkcs8");
    tcase_set_timeout(tc, 300);
    suite_add_tcase(su, tc);
    tcase_add_test(tc, test_pkcs8_round_trip_rsa_ed25519_ec);
#undef TC
    return su;
}

int main(void)
{
    return p11_check_main("check_asym", &M, asym_suite);
}

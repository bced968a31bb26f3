/* Tests of the usage constraints (CKA_SEA_SUID) and key lifetime (CKA_START_DATE, CKA_END_DATE)
 * through the real module (sea-pkcs11.so from $SEA_MODULE) and the native API on a software SE:
 * for each security feature a permitted use that works (its result checked against OpenSSL
 * computing the same operation in the test) and a forbidden one refused with
 * CKR_KEY_FUNCTION_NOT_PERMITTED; expired and not-yet-valid keys refused at every place a key
 * is used, also when a kept operation would be restarted; malformed dates refused. The rules
 * are in doc/usage-constraints.md; tests/check_usage_rules.c has the whole table.
 *
 * This program defines time() (exported with -rdynamic), so the module's clock can be moved a
 * day on to see a key expire between two uses. */
#include <check.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "p11check.h"
#include "sea/sea.h"
#include "apicheck.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static CK_OBJECT_CLASS cls_secret = CKO_SECRET_KEY;

/* ---- the clock ---- */

static long shift_days; /* how far this process's time() runs ahead, in days */

__attribute__((visibility("default"))) time_t time(time_t *out)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    time_t now = ts.tv_sec + (time_t)shift_days * 86400;
    if (out)
        *out = now;
    return now;
}

/* The UTC day `days` from today as YYYYMMDD (9 bytes with the NUL). */
static void day(int days, char out[9])
{
    time_t t = time(NULL) + (time_t)days * 86400;
    struct tm tm;
    ck_assert_ptr_nonnull(gmtime_r(&t, &tm));
    ck_assert_uint_eq(strftime(out, 9, "%Y%m%d", &tm), 8);
}

/* ---- keys ---- */

static const uint8_t KEYVAL[32] = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a,
                                   0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25,
                                   0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f};

static CK_SESSION_HANDLE user_session(void)
{
    return p11_token_session("usage", NULL);
}

/* Keys made by key() are token objects: only their operations are kept and restarted. */
static bool make_token;

/* A session (or, with make_token, token) secret key (generic: 32 bytes of KEYVAL; AES: the
 * first 16) that every attribute lets do everything; suid 0: none; start/end NULL: none. */
static CK_OBJECT_HANDLE key(CK_SESSION_HANDLE s, CK_KEY_TYPE kt, CK_ULONG suid, const char *start,
                            const char *end)
{
    CK_KEY_TYPE k = kt;
    CK_ULONG su = suid;
    CK_ATTRIBUTE t[16] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                          {CKA_KEY_TYPE, &k, sizeof(k)},
                          {CKA_TOKEN, make_token ? &yes : &no, 1},
                          {CKA_VALUE, (void *)KEYVAL, kt == CKK_AES ? 16 : 32},
                          {CKA_SIGN, &yes, 1},
                          {CKA_VERIFY, &yes, 1},
                          {CKA_ENCRYPT, &yes, 1},
                          {CKA_DECRYPT, &yes, 1},
                          {CKA_WRAP, &yes, 1},
                          {CKA_UNWRAP, &yes, 1},
                          {CKA_DERIVE, &yes, 1}};
    size_t n = 11;
    if (suid)
        t[n++] = (CK_ATTRIBUTE){CKA_SEA_SUID, &su, sizeof(su)};
    if (start)
        t[n++] = (CK_ATTRIBUTE){CKA_START_DATE, (void *)start, 8};
    if (end)
        t[n++] = (CK_ATTRIBUTE){CKA_END_DATE, (void *)end, 8};
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    OK(F->C_CreateObject(s, t, n, &h));
    return h;
}

/* The module's message for the last failure contains `part`. */
static void said(const char *part)
{
    CK_ULONG origin = 0, len = 256;
    CK_RV last = CKR_OK;
    CK_UTF8CHAR msg[256] = "";
    ck_assert_ptr_nonnull(M.sea);
    OK(M.sea->C_SEA_GetLastError(&origin, &last, msg, &len));
    ck_assert_msg(strstr((const char *)msg, part) != NULL, "the module said \"%s\", not \"%s\"",
                  (const char *)msg, part);
}

#define REFUSED(call, part)                                                                        \
    do {                                                                                           \
        EXPECT_RV(CKR_KEY_FUNCTION_NOT_PERMITTED, call);                                           \
        said(part);                                                                                \
    } while (0)

/* ---- operations (each returns the Init's or the call's result; results checked) ---- */

static const uint8_t MSG[] = "oneM2M usage constraints";
#define MSGLEN (sizeof(MSG) - 1)

/* HMAC-SHA256 with key h, compared with OpenSSL's under KEYVAL. */
static CK_RV hmac(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
    CK_MECHANISM m = {CKM_SHA256_HMAC, NULL, 0};
    uint8_t mac[32], ref[32];
    unsigned rl = 0;
    CK_ULONG ml = sizeof(mac);
    CK_RV rv = F->C_SignInit(s, &m, h);
    if (rv != CKR_OK)
        return rv;
    OK(F->C_Sign(s, (CK_BYTE_PTR)MSG, MSGLEN, mac, &ml));
    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), KEYVAL, 32, MSG, MSGLEN, ref, &rl));
    ck_assert_uint_eq(ml, 32);
    ck_assert_int_eq(memcmp(mac, ref, 32), 0);
    return CKR_OK;
}

/* AES-128 encryption with key h (CBC-PAD or GCM), compared with OpenSSL's. */
static CK_RV aes(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_MECHANISM_TYPE mech)
{
    uint8_t iv[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    CK_GCM_PARAMS gp = {iv, 12, 96, NULL, 0, 128};
    CK_MECHANISM m = {mech, iv, 16};
    bool gcm = mech == CKM_AES_GCM;
    if (gcm) {
        m.pParameter = &gp;
        m.ulParameterLen = sizeof(gp);
    }
    uint8_t out[64], ref[64];
    CK_ULONG ol = sizeof(out);
    int l1 = 0, l2 = 0;
    CK_RV rv = F->C_EncryptInit(s, &m, h);
    if (rv != CKR_OK)
        return rv;
    OK(F->C_Encrypt(s, (CK_BYTE_PTR)MSG, MSGLEN, out, &ol));
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(
        EVP_EncryptInit_ex(c, gcm ? EVP_aes_128_gcm() : EVP_aes_128_cbc(), NULL, KEYVAL, iv), 1);
    ck_assert_int_eq(EVP_EncryptUpdate(c, ref, &l1, MSG, (int)MSGLEN), 1);
    ck_assert_int_eq(EVP_EncryptFinal_ex(c, ref + l1, &l2), 1);
    if (gcm)
        ck_assert_int_eq(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, ref + l1 + l2), 1);
    EVP_CIPHER_CTX_free(c);
    ck_assert_uint_eq(ol, (CK_ULONG)(l1 + l2 + (gcm ? 16 : 0)));
    ck_assert_int_eq(memcmp(out, ref, ol), 0);
    return CKR_OK;
}

/* HKDF-SHA256 (no salt, no info) from base b into a readable generic secret; its value is
 * compared with OpenSSL's HKDF of KEYVAL. */
static CK_RV hkdf(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE b)
{
    CK_HKDF_PARAMS p = {CK_TRUE, CK_TRUE, CKM_SHA256, CKF_HKDF_SALT_NULL, NULL, 0, 0, NULL, 0};
    CK_MECHANISM m = {CKM_HKDF_DERIVE, &p, sizeof(p)};
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_ULONG len = 32;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                        {CKA_KEY_TYPE, &kt, sizeof(kt)},
                        {CKA_TOKEN, &no, 1},
                        {CKA_SENSITIVE, &no, 1},
                        {CKA_EXTRACTABLE, &yes, 1},
                        {CKA_VALUE_LEN, &len, sizeof(len)}};
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = F->C_DeriveKey(s, &m, b, t, N(t), &h);
    if (rv != CKR_OK)
        return rv;
    uint8_t v[32], ref[32];
    size_t rl = sizeof(ref);
    CK_ATTRIBUTE a = {CKA_VALUE, v, sizeof(v)};
    OK(F->C_GetAttributeValue(s, h, &a, 1));
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(EVP_PKEY_derive_init(c), 1);
    ck_assert_int_eq(EVP_PKEY_CTX_set_hkdf_md(c, EVP_sha256()), 1);
    ck_assert_int_eq(EVP_PKEY_CTX_set1_hkdf_key(c, KEYVAL, 32), 1);
    ck_assert_int_eq(EVP_PKEY_derive(c, ref, &rl), 1);
    EVP_PKEY_CTX_free(c);
    ck_assert_uint_eq(a.ulValueLen, 32);
    ck_assert_int_eq(memcmp(v, ref, 32), 0);
    return CKR_OK;
}

/* A oneM2M derivation from base b (its result's value is the concern of check_onem2m). */
static CK_RV onem2m(CK_SESSION_HANDLE s, CK_MECHANISM_TYPE mech, CK_OBJECT_HANDLE b,
                    CK_OBJECT_HANDLE *out)
{
    static uint8_t rands[32], salt[16];
    CK_SEA_ONEM2M_ID_PARAMS id = {(CK_UTF8CHAR_PTR) "maf.example.com", 15};
    CK_SEA_ONEM2M_KE2E_MASTER_PARAMS mp = {salt, sizeof(salt)};
    CK_SEA_ONEM2M_ESPRIM_PARAMS ep = {rands, 16, rands + 16, 16};
    CK_MECHANISM m = {mech, &id, sizeof(id)};
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_ULONG len = 32;
    if (mech == CKM_SEA_ONEM2M_KE2E_MASTER)
        m = (CK_MECHANISM){mech, &mp, sizeof(mp)};
    if (mech == CKM_SEA_ONEM2M_SESSION_ESPRIM) {
        m = (CK_MECHANISM){mech, &ep, sizeof(ep)};
        kt = CKK_AES;
        len = 16;
    }
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                        {CKA_KEY_TYPE, &kt, sizeof(kt)},
                        {CKA_TOKEN, &no, 1},
                        {CKA_ENCRYPT, &yes, 1},
                        {CKA_DECRYPT, &yes, 1},
                        {CKA_VALUE_LEN, &len, sizeof(len)}};
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = F->C_DeriveKey(s, &m, b, t, N(t), &h);
    if (out)
        *out = h;
    return rv;
}

/* Wrap a fresh extractable key with wrapping key w (AES key wrap with padding), and unwrap
 * the result with it again: the value must come back. Returns the wrap's result. */
static CK_RV wrap_round_trip(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE w)
{
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    uint8_t val[24];
    memset(val, 0x5a, sizeof(val));
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                        {CKA_KEY_TYPE, &kt, sizeof(kt)},
                        {CKA_TOKEN, &no, 1},
                        {CKA_EXTRACTABLE, &yes, 1},
                        {CKA_SENSITIVE, &no, 1},
                        {CKA_VALUE, val, sizeof(val)}};
    CK_OBJECT_HANDLE k = CK_INVALID_HANDLE, u = CK_INVALID_HANDLE;
    OK(F->C_CreateObject(s, t, N(t), &k));
    CK_MECHANISM m = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
    uint8_t wrapped[64];
    CK_ULONG wl = sizeof(wrapped);
    CK_RV rv = F->C_WrapKey(s, &m, w, k, wrapped, &wl);
    if (rv != CKR_OK)
        return rv;
    CK_ATTRIBUTE ut[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                         {CKA_KEY_TYPE, &kt, sizeof(kt)},
                         {CKA_TOKEN, &no, 1},
                         {CKA_EXTRACTABLE, &yes, 1},
                         {CKA_SENSITIVE, &no, 1}};
    OK(F->C_UnwrapKey(s, &m, w, wrapped, wl, ut, N(ut), &u));
    uint8_t back[32];
    CK_ATTRIBUTE a = {CKA_VALUE, back, sizeof(back)};
    OK(F->C_GetAttributeValue(s, u, &a, 1));
    ck_assert_uint_eq(a.ulValueLen, sizeof(val));
    ck_assert_int_eq(memcmp(back, val, sizeof(val)), 0);
    return CKR_OK;
}

static CK_RV msg_encrypt_init(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
    CK_MECHANISM m = {CKM_AES_GCM, NULL, 0};
    CK_RV rv = F->C_MessageEncryptInit(s, &m, h);
    if (rv == CKR_OK)
        OK(F->C_MessageEncryptFinal(s));
    return rv;
}

/* An EC P-256 pair whose private key carries suid (sign and derive allowed). */
static void ec_pair(CK_SESSION_HANDLE s, CK_ULONG suid, CK_OBJECT_HANDLE *pub,
                    CK_OBJECT_HANDLE *priv)
{
    static const CK_BYTE P256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    CK_MECHANISM m = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ULONG su = suid;
    CK_ATTRIBUTE pt[] = {{CKA_TOKEN, &no, 1},
                         {CKA_VERIFY, &yes, 1},
                         {CKA_EC_PARAMS, (void *)P256, sizeof(P256)},
                         {CKA_SEA_SUID, &su, sizeof(su)}};
    CK_ATTRIBUTE qt[] = {{CKA_TOKEN, &no, 1},
                         {CKA_SIGN, &yes, 1},
                         {CKA_DERIVE, &yes, 1},
                         {CKA_SEA_SUID, &su, sizeof(su)}};
    OK(F->C_GenerateKeyPair(s, &m, pt, N(pt), qt, N(qt), pub, priv));
}

/* ECDSA-SHA256 by priv, verified by OpenSSL with the public key's point. */
static CK_RV ecdsa(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv)
{
    CK_MECHANISM m = {CKM_ECDSA_SHA256, NULL, 0};
    uint8_t sig[64], point[80];
    CK_ULONG sl = sizeof(sig);
    CK_RV rv = F->C_SignInit(s, &m, priv);
    if (rv != CKR_OK)
        return rv;
    OK(F->C_Sign(s, (CK_BYTE_PTR)MSG, MSGLEN, sig, &sl));
    ck_assert_uint_eq(sl, 64);
    /* CKA_EC_POINT: DER OCTET STRING 04 41 || 04 X Y */
    CK_ATTRIBUTE a = {CKA_EC_POINT, point, sizeof(point)};
    OK(F->C_GetAttributeValue(s, pub, &a, 1));
    ck_assert_uint_eq(a.ulValueLen, 67);
    char group[] = "prime256v1";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point + 2, 65),
        OSSL_PARAM_construct_end()};
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    ck_assert_ptr_nonnull(pc);
    ck_assert_int_eq(EVP_PKEY_fromdata_init(pc), 1);
    ck_assert_int_eq(EVP_PKEY_fromdata(pc, &pk, EVP_PKEY_PUBLIC_KEY, params), 1);
    EVP_PKEY_CTX_free(pc);
    ECDSA_SIG *es = ECDSA_SIG_new();
    ck_assert_int_eq(ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL)),
                     1);
    uint8_t *der = NULL;
    int derlen = i2d_ECDSA_SIG(es, &der);
    ck_assert_int_gt(derlen, 0);
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    ck_assert_int_eq(EVP_DigestVerifyInit(mc, NULL, EVP_sha256(), NULL, pk), 1);
    ck_assert_int_eq(EVP_DigestVerify(mc, der, (size_t)derlen, MSG, MSGLEN), 1);
    EVP_MD_CTX_free(mc);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    EVP_PKEY_free(pk);
    return CKR_OK;
}

/* ECDH of priv with its own public point (a valid peer point) into a generic secret. */
static CK_RV ecdh(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv)
{
    uint8_t point[80];
    CK_ATTRIBUTE a = {CKA_EC_POINT, point, sizeof(point)};
    OK(F->C_GetAttributeValue(s, pub, &a, 1));
    CK_ECDH1_DERIVE_PARAMS p = {CKD_NULL, 0, NULL, 65, point + 2};
    CK_MECHANISM m = {CKM_ECDH1_DERIVE, &p, sizeof(p)};
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_ULONG len = 32;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                        {CKA_KEY_TYPE, &kt, sizeof(kt)},
                        {CKA_TOKEN, &no, 1},
                        {CKA_VALUE_LEN, &len, sizeof(len)}};
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    return F->C_DeriveKey(s, &m, priv, t, N(t), &h);
}

/* ---- the security features ---- */

START_TEST(test_saef_key_serves_only_the_tls_frameworks)
{
    CK_SESSION_HANDLE s = user_session();
    CK_OBJECT_HANDLE k12 = key(s, CKK_GENERIC_SECRET, 12, NULL, NULL);
    REFUSED(hmac(s, k12), "the key's SUID 12 binds it to SAEF ((D)TLS security association); "
                          "CKM_SHA256_HMAC signing serves ESData signature-only");
    REFUSED(hkdf(s, k12), "CKM_HKDF_DERIVE derivation serves no oneM2M security feature");
    REFUSED(onem2m(s, CKM_SEA_ONEM2M_KM, k12, NULL), "SUID 12");
    REFUSED(onem2m(s, CKM_SEA_ONEM2M_SESSION_ESPRIM, k12, NULL), "serves ESPrim");
    /* 10.3.6.1: Ke2e_master from Kpsa */
    OK(onem2m(s, CKM_SEA_ONEM2M_KE2E_MASTER, k12, NULL));
    CK_OBJECT_HANDLE a22 = key(s, CKK_AES, 22, NULL, NULL);
    REFUSED(aes(s, a22, CKM_AES_CBC_PAD), "SUID 22 binds it to SAEF");
    REFUSED(wrap_round_trip(s, a22), "SUID 22");
    REFUSED(msg_encrypt_init(s, a22), "SUID 22");
    /* a MAF key (11) may not be the base of Ke2e_master */
    CK_OBJECT_HANDLE k11 = key(s, CKK_GENERIC_SECRET, 11, NULL, NULL);
    REFUSED(onem2m(s, CKM_SEA_ONEM2M_KE2E_MASTER, k11, NULL), "SUID 11 binds it to MAF");
}
END_TEST

START_TEST(test_esdata_signature_key_macs_only)
{
    CK_SESSION_HANDLE s = user_session();
    CK_OBJECT_HANDLE k15 = key(s, CKK_GENERIC_SECRET, 15, NULL, NULL);
    OK(hmac(s, k15));
    CK_MECHANISM v = {CKM_SHA256_HMAC, NULL, 0};
    OK(F->C_VerifyInit(s, &v, k15));
    OK(F->C_VerifyInit(s, NULL, k15)); /* end it */
    REFUSED(hkdf(s, k15), "SUID 15 binds it to ESData signature-only");
    CK_OBJECT_HANDLE a25 = key(s, CKK_AES, 25, NULL, NULL);
    CK_MECHANISM cmac = {CKM_AES_CMAC, NULL, 0};
    OK(F->C_SignInit(s, &cmac, a25));
    OK(F->C_SignInit(s, NULL, a25));
    REFUSED(aes(s, a25, CKM_AES_GCM), "serves ESPrim or ESData encryption");
    REFUSED(wrap_round_trip(s, a25), "SUID 25");
}
END_TEST

START_TEST(test_esdata_encryption_key)
{
    CK_SESSION_HANDLE s = user_session();
    CK_OBJECT_HANDLE a14 = key(s, CKK_AES, 14, NULL, NULL);
    OK(aes(s, a14, CKM_AES_CBC_PAD));
    OK(aes(s, a14, CKM_AES_GCM));
    OK(wrap_round_trip(s, a14));
    OK(msg_encrypt_init(s, a14));
    CK_MECHANISM cmac = {CKM_AES_CMAC, NULL, 0};
    REFUSED(F->C_SignInit(s, &cmac, a14), "SUID 14 binds it to ESData encryption");
}
END_TEST

START_TEST(test_esprim_key)
{
    CK_SESSION_HANDLE s = user_session();
    CK_OBJECT_HANDLE k13 = key(s, CKK_GENERIC_SECRET, 13, NULL, NULL), cek = CK_INVALID_HANDLE;
    OK(onem2m(s, CKM_SEA_ONEM2M_SESSION_ESPRIM, k13, &cek));
    REFUSED(onem2m(s, CKM_SEA_ONEM2M_KE2E_MASTER, k13, NULL),
            "the key's SUID 13 binds it to ESPrim; CKM_SEA_ONEM2M_KE2E_MASTER derivation serves "
            "SAEF");
    REFUSED(hmac(s, k13), "SUID 13");
    /* the sessionESPrimKey inherits SUID 13: it is the AES-GCM content key, nothing else */
    CK_ULONG suid = 0;
    CK_ATTRIBUTE a = {CKA_SEA_SUID, &suid, sizeof(suid)};
    OK(F->C_GetAttributeValue(s, cek, &a, 1));
    ck_assert_uint_eq(suid, 13);
    uint8_t iv[12] = {0}, out[64];
    CK_GCM_PARAMS gp = {iv, 12, 96, NULL, 0, 128};
    CK_MECHANISM gcm = {CKM_AES_GCM, &gp, sizeof(gp)};
    CK_ULONG ol = sizeof(out);
    OK(F->C_EncryptInit(s, &gcm, cek));
    OK(F->C_Encrypt(s, (CK_BYTE_PTR)MSG, MSGLEN, out, &ol));
    ck_assert_uint_eq(ol, MSGLEN + 16);
    OK(msg_encrypt_init(s, cek));
    CK_MECHANISM cbc = {CKM_AES_CBC_PAD, iv, 16};
    uint8_t iv16[16] = {0};
    cbc.pParameter = iv16;
    REFUSED(F->C_EncryptInit(s, &cbc, cek), "CKM_AES_CBC_PAD encryption serves ESData encryption");
}
END_TEST

START_TEST(test_suid_without_feature_refused_for_everything)
{
    CK_SESSION_HANDLE s = user_session();
    CK_OBJECT_HANDLE k17 = key(s, CKK_GENERIC_SECRET, 17, NULL, NULL);
    CK_OBJECT_HANDLE a17 = key(s, CKK_AES, 17, NULL, NULL);
    const char *why = "the key's SUID 17 names no security feature";
    REFUSED(hmac(s, k17), why);
    REFUSED(hkdf(s, k17), why);
    REFUSED(onem2m(s, CKM_SEA_ONEM2M_KE2E_MASTER, k17, NULL), why);
    REFUSED(aes(s, a17, CKM_AES_GCM), why);
    REFUSED(wrap_round_trip(s, a17), why);
    REFUSED(msg_encrypt_init(s, a17), why);
}
END_TEST

START_TEST(test_unconstrained_key_does_everything)
{
    CK_SESSION_HANDLE s = user_session();
    CK_OBJECT_HANDLE k = key(s, CKK_GENERIC_SECRET, 0, NULL, NULL);
    CK_OBJECT_HANDLE a = key(s, CKK_AES, 0, NULL, NULL);
    OK(hmac(s, k));
    OK(hkdf(s, k));
    OK(onem2m(s, CKM_SEA_ONEM2M_KM, k, NULL));
    OK(aes(s, a, CKM_AES_CBC_PAD));
    OK(wrap_round_trip(s, a));
}
END_TEST

START_TEST(test_certificate_keys)
{
    CK_SESSION_HANDLE s = user_session();
    CK_OBJECT_HANDLE pub, priv;
    /* SAEF certificate (42): TLS authentication and ECDH */
    ec_pair(s, 42, &pub, &priv);
    OK(ecdsa(s, pub, priv));
    OK(ecdh(s, pub, priv));
    /* signature-only ESData certificate (45): no key agreement */
    ec_pair(s, 45, &pub, &priv);
    OK(ecdsa(s, pub, priv));
    REFUSED(ecdh(s, pub, priv), "SUID 45 binds it to ESData signature-only; CKM_ECDH1_DERIVE");
    /* ESData encryption certificate (44): no signatures */
    ec_pair(s, 44, &pub, &priv);
    REFUSED(ecdsa(s, pub, priv), "SUID 44 binds it to ESData encryption");
    OK(ecdh(s, pub, priv));
}
END_TEST

/* ---- dates ---- */

START_TEST(test_expired_key_refused_everywhere)
{
    CK_SESSION_HANDLE s = user_session();
    char y[9], want[64];
    day(-1, y);
    snprintf(want, sizeof(want), "the key expired on %.4s-%.2s-%.2s", y, y + 4, y + 6);
    CK_OBJECT_HANDLE k = key(s, CKK_GENERIC_SECRET, 0, NULL, y);
    CK_OBJECT_HANDLE a = key(s, CKK_AES, 0, NULL, y);
    REFUSED(hmac(s, k), want);
    CK_MECHANISM v = {CKM_SHA256_HMAC, NULL, 0};
    REFUSED(F->C_VerifyInit(s, &v, k), want);
    REFUSED(hkdf(s, k), want);
    REFUSED(onem2m(s, CKM_SEA_ONEM2M_KM, k, NULL), want); /* an expired Ke derives nothing */
    REFUSED(aes(s, a, CKM_AES_CBC_PAD), want);
    REFUSED(wrap_round_trip(s, a), want);
    REFUSED(msg_encrypt_init(s, a), want);
    /* the same with a SUID that would allow the use */
    CK_OBJECT_HANDLE k15 = key(s, CKK_GENERIC_SECRET, 15, NULL, y);
    REFUSED(hmac(s, k15), want);
}
END_TEST

START_TEST(test_end_date_is_the_last_valid_day)
{
    CK_SESSION_HANDLE s = user_session();
    char t[9], m[9], y[9];
    day(0, t);
    day(1, m);
    day(-1, y);
    OK(hmac(s, key(s, CKK_GENERIC_SECRET, 0, NULL, t)));
    OK(hkdf(s, key(s, CKK_GENERIC_SECRET, 0, y, t)));
    OK(aes(s, key(s, CKK_AES, 0, t, m), CKM_AES_GCM)); /* the start date too */
    /* empty dates: none */
    CK_OBJECT_HANDLE k = key(s, CKK_GENERIC_SECRET, 0, NULL, NULL);
    CK_ATTRIBUTE e[] = {{CKA_START_DATE, NULL, 0}, {CKA_END_DATE, NULL, 0}};
    OK(F->C_SetAttributeValue(s, k, e, N(e)));
    OK(hmac(s, k));
}
END_TEST

START_TEST(test_key_not_yet_valid_refused)
{
    CK_SESSION_HANDLE s = user_session();
    char m[9], want[64];
    day(1, m);
    snprintf(want, sizeof(want), "the key is valid from %.4s-%.2s-%.2s", m, m + 4, m + 6);
    CK_OBJECT_HANDLE k = key(s, CKK_GENERIC_SECRET, 0, m, NULL);
    REFUSED(hmac(s, k), want);
    REFUSED(hkdf(s, k), want);
    REFUSED(aes(s, key(s, CKK_AES, 0, m, NULL), CKM_AES_GCM), want);
}
END_TEST

/* A kept operation (tests/check_restart.c) is not restarted once the key's dates forbid it. */
START_TEST(test_kept_operation_not_restarted_after_end_date_changed)
{
    CK_SESSION_HANDLE s = user_session();
    char y[9], t[9];
    day(-1, y);
    day(0, t);
    make_token = true;
    CK_OBJECT_HANDLE k = key(s, CKK_GENERIC_SECRET, 0, NULL, t);
    OK(hmac(s, k));
    OK(hmac(s, k)); /* kept and restarted */
    CK_ATTRIBUTE e = {CKA_END_DATE, y, 8};
    OK(F->C_SetAttributeValue(s, k, &e, 1));
    REFUSED(hmac(s, k), "the key expired on");
    /* and no way back: the end date only moves earlier (REVIEW5 finding 3) */
    e.pValue = t;
    EXPECT_RV(CKR_ATTRIBUTE_VALUE_INVALID, F->C_SetAttributeValue(s, k, &e, 1));
    REFUSED(hmac(s, k), "the key expired on");
}
END_TEST

START_TEST(test_kept_operation_not_restarted_after_key_expired)
{
    CK_SESSION_HANDLE s = user_session();
    char t[9], want[64];
    day(0, t);
    snprintf(want, sizeof(want), "the key expired on %.4s-%.2s-%.2s", t, t + 4, t + 6);
    make_token = true;
    CK_OBJECT_HANDLE k = key(s, CKK_GENERIC_SECRET, 0, NULL, t);
    CK_OBJECT_HANDLE a = key(s, CKK_AES, 0, NULL, t);
    OK(hmac(s, k));
    OK(hmac(s, k));
    OK(aes(s, a, CKM_AES_CBC_PAD));
    OK(aes(s, a, CKM_AES_CBC_PAD));
    shift_days = 1; /* midnight passes: nothing about the key changed but the date */
    REFUSED(hmac(s, k), want);
    REFUSED(aes(s, a, CKM_AES_CBC_PAD), want);
    REFUSED(hkdf(s, k), want);
    shift_days = 0;
    OK(hmac(s, k));
}
END_TEST

START_TEST(test_malformed_dates_refused_at_create_and_set)
{
    CK_SESSION_HANDLE s = user_session();
    static const char *const bad[] = {"20261301", "20260230", "20250229", "2026013x",
                                      "2026-1-1", "00000000", "20260100"};
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    for (size_t i = 0; i < N(bad); i++) {
        for (int which = 0; which < 2; which++) {
            CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                                {CKA_KEY_TYPE, &kt, sizeof(kt)},
                                {CKA_TOKEN, &no, 1},
                                {CKA_VALUE, (void *)KEYVAL, 32},
                                {which ? CKA_END_DATE : CKA_START_DATE, (void *)bad[i], 8}};
            EXPECT_RV(CKR_ATTRIBUTE_VALUE_INVALID, F->C_CreateObject(s, t, N(t), &h));
            said(which ? "CKA_END_DATE is not a date" : "CKA_START_DATE is not a date");
        }
    }
    /* generation, C_SetAttributeValue, C_CopyObject, derivation */
    CK_ULONG len = 32;
    CK_ATTRIBUTE g[] = {{CKA_TOKEN, &no, 1},
                        {CKA_VALUE_LEN, &len, sizeof(len)},
                        {CKA_END_DATE, (void *)"20261301", 8}};
    CK_MECHANISM gm = {CKM_GENERIC_SECRET_KEY_GEN, NULL, 0};
    EXPECT_RV(CKR_ATTRIBUTE_VALUE_INVALID, F->C_GenerateKey(s, &gm, g, N(g), &h));
    CK_OBJECT_HANDLE k = key(s, CKK_GENERIC_SECRET, 0, NULL, NULL);
    CK_ATTRIBUTE e = {CKA_END_DATE, (void *)"20260431", 8};
    EXPECT_RV(CKR_ATTRIBUTE_VALUE_INVALID, F->C_SetAttributeValue(s, k, &e, 1));
    EXPECT_RV(CKR_ATTRIBUTE_VALUE_INVALID, F->C_CopyObject(s, k, &e, 1, &h));
    CK_SEA_ONEM2M_ID_PARAMS id = {(CK_UTF8CHAR_PTR) "maf.example.com", 15};
    CK_MECHANISM dm = {CKM_SEA_ONEM2M_KM, &id, sizeof(id)};
    CK_ATTRIBUTE dt[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                         {CKA_TOKEN, &no, 1},
                         {CKA_END_DATE, (void *)"20260431", 8}};
    EXPECT_RV(CKR_ATTRIBUTE_VALUE_INVALID, F->C_DeriveKey(s, &dm, k, dt, N(dt), &h));
    /* a leap day is a date; the key still works */
    e.pValue = (void *)"20240229";
    OK(F->C_SetAttributeValue(s, k, &e, 1));
    REFUSED(hmac(s, k), "the key expired on 2024-02-29");
}
END_TEST

/* REVIEW5 finding 3: the validity only narrows, by C_SetAttributeValue and C_CopyObject. */
START_TEST(test_dates_only_narrow)
{
    CK_SESSION_HANDLE s = user_session();
    char t[9], m[9], m2[9], y[9];
    day(0, t);
    day(1, m);
    day(2, m2);
    day(-1, y);
    CK_OBJECT_HANDLE k = key(s, CKK_GENERIC_SECRET, 0, y, m), h = CK_INVALID_HANDLE;
    CK_ATTRIBUTE e = {CKA_END_DATE, NULL, 0};
    CK_ATTRIBUTE st = {CKA_START_DATE, NULL, 0};
    /* emptied, later end, earlier start: refused by both */
    EXPECT_RV(CKR_ATTRIBUTE_VALUE_INVALID, F->C_SetAttributeValue(s, k, &e, 1));
    said("cannot be emptied");
    EXPECT_RV(CKR_ATTRIBUTE_VALUE_INVALID, F->C_CopyObject(s, k, &e, 1, &h));
    e.pValue = m2;
    e.ulValueLen = 8;
    EXPECT_RV(CKR_ATTRIBUTE_VALUE_INVALID, F->C_SetAttributeValue(s, k, &e, 1));
    said("CKA_END_DATE can only move earlier");
    EXPECT_RV(CKR_ATTRIBUTE_VALUE_INVALID, F->C_CopyObject(s, k, &e, 1, &h));
    EXPECT_RV(CKR_ATTRIBUTE_VALUE_INVALID, F->C_SetAttributeValue(s, k, &st, 1));
    st.pValue = "19990101";
    st.ulValueLen = 8;
    EXPECT_RV(CKR_ATTRIBUTE_VALUE_INVALID, F->C_SetAttributeValue(s, k, &st, 1));
    said("CKA_START_DATE can only move later");
    EXPECT_RV(CKR_ATTRIBUTE_VALUE_INVALID, F->C_CopyObject(s, k, &st, 1, &h));
    /* the same dates, an earlier end and a later start are fine */
    e.pValue = m;
    OK(F->C_SetAttributeValue(s, k, &e, 1));
    e.pValue = t;
    OK(F->C_SetAttributeValue(s, k, &e, 1));
    st.pValue = t;
    OK(F->C_SetAttributeValue(s, k, &st, 1));
    OK(hmac(s, k));
    /* a copy may narrow too, and then keeps the narrower dates */
    e.pValue = y;
    OK(F->C_CopyObject(s, k, &e, 1, &h));
    REFUSED(hmac(s, h), "the key expired on");
    OK(hmac(s, k));
    /* a key without dates may be given them */
    CK_OBJECT_HANDLE n = key(s, CKK_GENERIC_SECRET, 0, NULL, NULL);
    st.pValue = t;
    e.pValue = m;
    OK(F->C_SetAttributeValue(s, n, &st, 1));
    OK(F->C_SetAttributeValue(s, n, &e, 1));
    /* and from then on only narrows too */
    e.pValue = NULL;
    e.ulValueLen = 0;
    EXPECT_RV(CKR_ATTRIBUTE_VALUE_INVALID, F->C_SetAttributeValue(s, n, &e, 1));
}
END_TEST

/* An extractable, non-sensitive key (readable in clear). */
static CK_OBJECT_HANDLE open_key(CK_SESSION_HANDLE s, const char *start, const char *end)
{
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                        {CKA_KEY_TYPE, &kt, sizeof(kt)},
                        {CKA_TOKEN, &no, 1},
                        {CKA_EXTRACTABLE, &yes, 1},
                        {CKA_SENSITIVE, &no, 1},
                        {CKA_VALUE, (void *)KEYVAL, 32},
                        {CKA_START_DATE, (void *)start, start ? 8 : 0},
                        {CKA_END_DATE, (void *)end, end ? 8 : 0}};
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    OK(F->C_CreateObject(s, t, N(t), &h));
    return h;
}

/* REVIEW5 findings 5 and 6: a key outside its dates is neither read in clear nor wrapped. */
START_TEST(test_expired_key_not_revealed_nor_wrapped)
{
    CK_SESSION_HANDLE s = user_session();
    char t[9], y[9];
    day(0, t);
    day(-1, y);
    uint8_t v[64];
    CK_ATTRIBUTE a = {CKA_VALUE, v, sizeof(v)};
    CK_OBJECT_HANDLE live = open_key(s, NULL, t), old = open_key(s, NULL, y);
    OK(F->C_GetAttributeValue(s, live, &a, 1));
    ck_assert_uint_eq(a.ulValueLen, 32);
    ck_assert_int_eq(memcmp(v, KEYVAL, 32), 0);
    a.ulValueLen = sizeof(v);
    EXPECT_RV(CKR_ATTRIBUTE_SENSITIVE, F->C_GetAttributeValue(s, old, &a, 1));
    ck_assert_uint_eq(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    /* also when only the length is asked */
    a.pValue = NULL;
    a.ulValueLen = 0;
    EXPECT_RV(CKR_ATTRIBUTE_SENSITIVE, F->C_GetAttributeValue(s, old, &a, 1));
    ck_assert_uint_eq(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    /* midnight passes for the live one */
    shift_days = 1;
    a.pValue = v;
    a.ulValueLen = sizeof(v);
    EXPECT_RV(CKR_ATTRIBUTE_SENSITIVE, F->C_GetAttributeValue(s, live, &a, 1));
    shift_days = 0;
    /* wrapping */
    CK_OBJECT_HANDLE w = key(s, CKK_AES, 0, NULL, NULL);
    CK_MECHANISM m = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
    uint8_t wrapped[64];
    CK_ULONG wl = sizeof(wrapped);
    OK(F->C_WrapKey(s, &m, w, live, wrapped, &wl));
    wl = sizeof(wrapped);
    EXPECT_RV(CKR_KEY_NOT_WRAPPABLE, F->C_WrapKey(s, &m, w, old, wrapped, &wl));
    said("the key cannot be wrapped: the key expired on");
    char m1[9];
    day(1, m1);
    CK_OBJECT_HANDLE future = open_key(s, m1, NULL);
    wl = sizeof(wrapped);
    EXPECT_RV(CKR_KEY_NOT_WRAPPABLE, F->C_WrapKey(s, &m, w, future, wrapped, &wl));
    said("the key is valid from");
    a.ulValueLen = sizeof(v);
    EXPECT_RV(CKR_ATTRIBUTE_SENSITIVE, F->C_GetAttributeValue(s, future, &a, 1));
}
END_TEST

/* REVIEW5 finding 5: ECDH from a constrained private key keeps its SUID and end date. */
START_TEST(test_ecdh_derived_key_keeps_constraints)
{
    CK_SESSION_HANDLE s = user_session();
    CK_OBJECT_HANDLE pub, priv, h = CK_INVALID_HANDLE;
    char m[9], m2[9];
    day(30, m);
    day(31, m2);
    ec_pair(s, 14, &pub, &priv);
    CK_ATTRIBUTE e = {CKA_END_DATE, m, 8};
    OK(F->C_SetAttributeValue(s, priv, &e, 1));
    uint8_t point[80];
    CK_ATTRIBUTE a = {CKA_EC_POINT, point, sizeof(point)};
    OK(F->C_GetAttributeValue(s, pub, &a, 1));
    CK_ECDH1_DERIVE_PARAMS p = {CKD_NULL, 0, NULL, 65, point + 2};
    CK_MECHANISM dm = {CKM_ECDH1_DERIVE, &p, sizeof(p)};
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_ULONG len = 32, suid = 0;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                        {CKA_KEY_TYPE, &kt, sizeof(kt)},
                        {CKA_TOKEN, &no, 1},
                        {CKA_VALUE_LEN, &len, sizeof(len)},
                        {CKA_SEA_SUID, &suid, sizeof(suid)},
                        {CKA_END_DATE, m2, 8}};
    OK(F->C_DeriveKey(s, &dm, priv, t, 4, &h));
    CK_ULONG got = 0;
    CK_DATE end;
    CK_ATTRIBUTE ga[] = {{CKA_SEA_SUID, &got, sizeof(got)}, {CKA_END_DATE, &end, sizeof(end)}};
    OK(F->C_GetAttributeValue(s, h, ga, N(ga)));
    ck_assert_uint_eq(got, 14);
    ck_assert_uint_eq(ga[1].ulValueLen, 8);
    ck_assert_int_eq(memcmp(&end, m, 8), 0);
    /* no SUID (0), another SUID, a later end: refused */
    EXPECT_RV(CKR_TEMPLATE_INCONSISTENT, F->C_DeriveKey(s, &dm, priv, t, 5, &h));
    suid = 15;
    EXPECT_RV(CKR_TEMPLATE_INCONSISTENT, F->C_DeriveKey(s, &dm, priv, t, 5, &h));
    suid = 14;
    OK(F->C_DeriveKey(s, &dm, priv, t, 5, &h));
    EXPECT_RV(CKR_TEMPLATE_INCONSISTENT, F->C_DeriveKey(s, &dm, priv, t, 6, &h));
}
END_TEST

/* REVIEW5 finding 11: a SUID is 10..99, or 0 for none. */
START_TEST(test_suid_range_at_creation)
{
    CK_SESSION_HANDLE s = user_session();
    static const CK_ULONG bad[] = {1, 5, 9, 100, 1234};
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    for (size_t i = 0; i <= N(bad); i++) {
        CK_ULONG su = i < N(bad) ? bad[i] : 10;
        CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                            {CKA_KEY_TYPE, &kt, sizeof(kt)},
                            {CKA_TOKEN, &no, 1},
                            {CKA_VALUE, (void *)KEYVAL, 32},
                            {CKA_SEA_SUID, &su, sizeof(su)}};
        if (i == N(bad)) {
            OK(F->C_CreateObject(s, t, N(t), &h));
            continue;
        }
        EXPECT_RV(CKR_ATTRIBUTE_VALUE_INVALID, F->C_CreateObject(s, t, N(t), &h));
        said("CKA_SEA_SUID takes 10..99");
        CK_ULONG len = 32;
        CK_ATTRIBUTE g[] = {{CKA_TOKEN, &no, 1},
                            {CKA_VALUE_LEN, &len, sizeof(len)},
                            {CKA_SEA_SUID, &su, sizeof(su)}};
        CK_MECHANISM gm = {CKM_GENERIC_SECRET_KEY_GEN, NULL, 0};
        EXPECT_RV(CKR_ATTRIBUTE_VALUE_INVALID, F->C_GenerateKey(s, &gm, g, N(g), &h));
        /* derivation from an unconstrained key */
        CK_SEA_ONEM2M_ID_PARAMS id = {(CK_UTF8CHAR_PTR) "maf.example.com", 15};
        CK_MECHANISM dm = {CKM_SEA_ONEM2M_KM, &id, sizeof(id)};
        CK_ATTRIBUTE dt[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                             {CKA_TOKEN, &no, 1},
                             {CKA_SEA_SUID, &su, sizeof(su)}};
        EXPECT_RV(CKR_ATTRIBUTE_VALUE_INVALID,
                  F->C_DeriveKey(s, &dm, key(s, CKK_GENERIC_SECRET, 0, NULL, NULL), dt, N(dt), &h));
    }
}
END_TEST

/* ---- the native API ---- */

static void native_setup(void)
{
    api_store_open("usage");
}

static void native_teardown(void)
{
    api_store_close();
}

static sea_se *open_se(void)
{
    return api_se_new("cse", NULL);
}

static sea_obj native_key(sea_se *se, const char *label, unsigned long suid, const char *start,
                          const char *end)
{
    sea_key_params p = {.type = SEA_KEY_GENERIC_SECRET,
                        .label = label,
                        .usage = SEA_USE_SIGN | SEA_USE_VERIFY | SEA_USE_DERIVE,
                        .suid = suid,
                        .start_date = start,
                        .end_date = end};
    sea_obj k = 0;
    sea_rv r = sea_key_import_secret(se, &p, KEYVAL, 32, &k);
    ck_assert_msg(r == SEA_OK, "%s: %s", sea_rv_name(r), sea_last_error(NULL));
    return k;
}

static sea_rv native_hmac(sea_se *se, sea_obj k)
{
    uint8_t mac[32], ref[32];
    size_t ml = sizeof(mac);
    unsigned rl = 0;
    sea_rv r = sea_sign(se, k, SEA_ALG_HMAC_SHA256, MSG, MSGLEN, mac, &ml);
    if (r != SEA_OK)
        return r;
    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), KEYVAL, 32, MSG, MSGLEN, ref, &rl));
    ck_assert_uint_eq(ml, 32);
    ck_assert_int_eq(memcmp(mac, ref, 32), 0);
    return SEA_OK;
}

static void denied(sea_rv r, const char *part)
{
    sea_origin o = SEA_ORIGIN_NONE;
    ck_assert_int_eq(r, SEA_ERR_DENIED);
    const char *msg = sea_last_error(&o);
    ck_assert_msg(msg && strstr(msg, part), "libsea said \"%s\", not \"%s\"", msg ? msg : "", part);
    ck_assert_int_eq(o, SEA_ORIGIN_CORE);
}

START_TEST(test_native_suid_enforced)
{
    sea_se *se = open_se();
    ck_assert_int_eq(native_hmac(se, native_key(se, "sig", 15, NULL, NULL)), SEA_OK);
    denied(native_hmac(se, native_key(se, "saef", 12, NULL, NULL)),
           "the key's SUID 12 binds it to SAEF");
    denied(native_hmac(se, native_key(se, "none", 17, NULL, NULL)),
           "SUID 17 names no security feature");
    /* Ke2e_master from a SAEF key; Km is refused */
    sea_obj kpsa = native_key(se, "kpsa", 22, NULL, NULL);
    uint8_t salt[16] = {0};
    sea_derive_params d = {.kdf = SEA_KDF_KE2E_MASTER, .input = salt, .input_len = 16};
    sea_key_params k = {.type = SEA_KEY_GENERIC_SECRET, .label = "master", .suid = 25};
    sea_obj out = 0;
    /* it keeps the SAEF SUID: another one is refused (REVIEW5 finding 4) */
    ck_assert_int_eq(sea_derive_onem2m(se, kpsa, &d, &k, &out), SEA_ERR_ARGS);
    k.suid = 0;
    ck_assert_int_eq(sea_derive_onem2m(se, kpsa, &d, &k, &out), SEA_OK);
    sea_object_info oi;
    ck_assert_int_eq(sea_object_info_get(se, out, &oi), SEA_OK);
    ck_assert_uint_eq(oi.suid, 22);
    /* a SUID is 10..99 (REVIEW5 finding 11) */
    sea_key_params bad = {.type = SEA_KEY_GENERIC_SECRET, .label = "bad", .suid = 5};
    sea_obj b = 0;
    ck_assert_int_eq(sea_key_import_secret(se, &bad, KEYVAL, 32, &b), SEA_ERR_ARGS);
    bad.suid = 100;
    ck_assert_int_eq(sea_key_import_secret(se, &bad, KEYVAL, 32, &b), SEA_ERR_ARGS);
    bad.suid = 99;
    ck_assert_int_eq(sea_key_import_secret(se, &bad, KEYVAL, 32, &b), SEA_OK);
    d = (sea_derive_params){
        .kdf = SEA_KDF_KM, .input = (const uint8_t *)"maf.example.com", .input_len = 15};
    k.label = "km";
    k.suid = 0;
    denied(sea_derive_onem2m(se, kpsa, &d, &k, &out), "CKM_SEA_ONEM2M_KM derivation");
    sea_se_close(se);
}
END_TEST

START_TEST(test_native_dates)
{
    sea_se *se = open_se();
    char y[9], t[9], m[9], want[64];
    day(-1, y);
    day(0, t);
    day(1, m);
    sea_obj k = native_key(se, "today", 0, y, t);
    ck_assert_int_eq(native_hmac(se, k), SEA_OK);
    sea_object_info info;
    ck_assert_int_eq(sea_object_info_get(se, k, &info), SEA_OK);
    ck_assert_str_eq(info.start_date, y);
    ck_assert_str_eq(info.end_date, t);
    snprintf(want, sizeof(want), "the key expired on %.4s-%.2s-%.2s", y, y + 4, y + 6);
    denied(native_hmac(se, native_key(se, "old", 15, NULL, y)), want);
    denied(native_hmac(se, native_key(se, "future", 0, m, NULL)), "the key is valid from");
    sea_obj plain = native_key(se, "plain", 0, NULL, NULL);
    ck_assert_int_eq(sea_object_info_get(se, plain, &info), SEA_OK);
    ck_assert_str_eq(info.start_date, "");
    ck_assert_str_eq(info.end_date, "");
    /* malformed dates are bad arguments */
    sea_key_params p = {.type = SEA_KEY_GENERIC_SECRET, .label = "bad", .end_date = "20261301"};
    sea_obj b = 0;
    ck_assert_int_eq(sea_key_import_secret(se, &p, KEYVAL, 32, &b), SEA_ERR_ARGS);
    p.end_date = "2026013";
    ck_assert_int_eq(sea_key_import_secret(se, &p, KEYVAL, 32, &b), SEA_ERR_ARGS);
    p.end_date = NULL;
    p.start_date = "tomorrow";
    ck_assert_int_eq(sea_key_import_secret(se, &p, KEYVAL, 32, &b), SEA_ERR_ARGS);
    /* a key derived from Ke ends with it; from an expired Ke nothing is derived */
    sea_obj ke = native_key(se, "Ke", 0, NULL, t);
    sea_derive_params d = {
        .kdf = SEA_KDF_KPSA, .input = (const uint8_t *)"CAE0001", .input_len = 7};
    sea_key_params kp = {.type = SEA_KEY_GENERIC_SECRET, .label = "Kpsa"};
    sea_obj kpsa = 0;
    ck_assert_int_eq(sea_derive_onem2m(se, ke, &d, &kp, &kpsa), SEA_OK);
    ck_assert_int_eq(sea_object_info_get(se, kpsa, &info), SEA_OK);
    ck_assert_str_eq(info.end_date, t);
    sea_obj old = native_key(se, "oldKe", 0, NULL, y);
    kp.label = "Kpsa2";
    denied(sea_derive_onem2m(se, old, &d, &kp, &kpsa), want);
    sea_se_close(se);
}
END_TEST

/* Without fork (CK_FORK=no, valgrind) the tests share this process: each starts from the clock
 * and the session keys. */
static void reset(void)
{
    shift_days = 0;
    make_token = false;
}

static Suite *usage_suite(void)
{
    Suite *su = suite_create("usage");
    TCase *tc = p11_tcase(su, "suid", 60);
    tcase_add_checked_fixture(tc, reset, NULL);
    tcase_add_test(tc, test_saef_key_serves_only_the_tls_frameworks);
    tcase_add_test(tc, test_esdata_signature_key_macs_only);
    tcase_add_test(tc, test_esdata_encryption_key);
    tcase_add_test(tc, test_esprim_key);
    tcase_add_test(tc, test_suid_without_feature_refused_for_everything);
    tcase_add_test(tc, test_unconstrained_key_does_everything);
    tcase_add_test(tc, test_certificate_keys);
    tc = p11_tcase(su, "dates", 60);
    tcase_add_checked_fixture(tc, reset, NULL);
    tcase_add_test(tc, test_expired_key_refused_everywhere);
    tcase_add_test(tc, test_end_date_is_the_last_valid_day);
    tcase_add_test(tc, test_key_not_yet_valid_refused);
    tcase_add_test(tc, test_kept_operation_not_restarted_after_end_date_changed);
    tcase_add_test(tc, test_kept_operation_not_restarted_after_key_expired);
    tcase_add_test(tc, test_malformed_dates_refused_at_create_and_set);
    tcase_add_test(tc, test_dates_only_narrow);
    tcase_add_test(tc, test_expired_key_not_revealed_nor_wrapped);
    tcase_add_test(tc, test_ecdh_derived_key_keeps_constraints);
    tcase_add_test(tc, test_suid_range_at_creation);
    tc = tcase_create("native");
    tcase_add_checked_fixture(tc, native_setup, native_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_native_suid_enforced);
    tcase_add_test(tc, test_native_dates);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    return p11_check_main("check_usage", &M, usage_suite);
}

/* The TS-0016 function resources: the JSON handlers of provider/mcs_func.c called directly with
 * json-c-parsed bodies (hash, rand, signature, cipher, identity, secureConnection) and the
 * native identity and secure-connection functions. Every cryptographic answer is checked against
 * OpenSSL computing the same thing in the test, on the same message and key. */
#include <check.h>
#include <json-c/json.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mcs.h"
#include "sea/sea.h"
#include "apicheck.h"

static sea_se *se;

static const char MSG[] = "a oneM2M request";

static void setup(void)
{
    api_store_open("mcs-func");
    se = api_se_new("func", NULL);
}

static void teardown(void)
{
    sea_se_close(se);
    se = NULL;
    api_store_close();
}

/* ---- helpers ---- */

static char *b64(const void *p, size_t n)
{
    char *s = malloc(4 * ((n + 2) / 3) + 1);
    ck_assert_ptr_nonnull(s);
    EVP_EncodeBlock((unsigned char *)s, p, (int)n);
    return s;
}

/* Decode a base64 member of o into buf; returns its length. */
static size_t unb64(json_object *o, const char *name, uint8_t *buf, size_t cap)
{
    json_object *v;
    ck_assert_msg(json_object_object_get_ex(o, name, &v), "no '%s' in the answer", name);
    ck_assert(json_object_is_type(v, json_type_string));
    const char *s = json_object_get_string(v);
    size_t len = strlen(s);
    ck_assert_uint_eq(len % 4, 0);
    uint8_t *tmp = malloc(len / 4 * 3 + 1);
    ck_assert_ptr_nonnull(tmp);
    int n = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)len);
    ck_assert_int_ge(n, 0);
    size_t pad = len && s[len - 1] == '=' ? (len > 1 && s[len - 2] == '=' ? 2 : 1) : 0;
    size_t got = (size_t)n - pad;
    ck_assert_uint_le(got, cap);
    memcpy(buf, tmp, got);
    free(tmp);
    return got;
}

static const char *str_of(json_object *o, const char *name)
{
    json_object *v;
    ck_assert_msg(json_object_object_get_ex(o, name, &v), "no '%s' in the answer", name);
    ck_assert(json_object_is_type(v, json_type_string));
    return json_object_get_string(v);
}

/* Run a handler on the body {"m2m:<type>": <json>} as a CREATE; *out gets the answer. */
static sea_rv run_op(mcs_handler_fn fn, sea_mcs_op op, const char *type, const char *json,
                     json_object **out)
{
    json_object *doc = json_tokener_parse(json);
    ck_assert_msg(doc != NULL, "the test's JSON does not parse: %s", json);
    char root[64];
    snprintf(root, sizeof(root), "m2m:%s", type);
    json_object *in = NULL;
    ck_assert(json_object_object_get_ex(doc, root, &in));
    sea_mcs_request req = {.op = op, .resource_type = type, .originator = "CAE-test"};
    int rsc = 0;
    *out = NULL;
    sea_rv r = fn(se, &req, in, out, &rsc);
    if (r == SEA_OK) {
        ck_assert_int_eq(rsc, 2001);
        ck_assert_ptr_nonnull(*out);
    } else {
        ck_assert_ptr_null(*out);
    }
    json_object_put(doc);
    return r;
}

static sea_rv run(mcs_handler_fn fn, const char *type, const char *json, json_object **out)
{
    return run_op(fn, SEA_MCS_CREATE, type, json, out);
}

/* A handler call that must fail with want, its message naming `needle`. */
static void refused(mcs_handler_fn fn, const char *type, const char *json, sea_rv want,
                    const char *needle)
{
    json_object *out = NULL;
    sea_rv r = run(fn, type, json, &out);
    ck_assert_msg(r == want, "%s on %s: %s, not %s (%s)", type, json, sea_rv_name(r),
                  sea_rv_name(want), sea_last_error(NULL));
    if (needle)
        ck_assert_msg(strstr(sea_last_error(NULL), needle), "'%s' is not in \"%s\"", needle,
                      sea_last_error(NULL));
    json_object_put(out);
}

static EVP_PKEY *spki_key(const uint8_t *der, size_t len)
{
    const unsigned char *p = der;
    EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long)len);
    ck_assert_ptr_nonnull(k);
    return k;
}

static EVP_PKEY *public_key(sea_obj key)
{
    uint8_t der[1024];
    size_t len = sizeof(der);
    ck_assert_int_eq(sea_public_key(se, key, der, &len), SEA_OK);
    return spki_key(der, len);
}

/* OpenSSL's verdict on a raw r||s ECDSA signature with SHA-256 (JWS ES256). */
static bool es256_ok(EVP_PKEY *k, const void *msg, size_t msglen, const uint8_t *rs, size_t len)
{
    ck_assert_uint_eq(len, 64);
    ECDSA_SIG *s = ECDSA_SIG_new();
    ck_assert(ECDSA_SIG_set0(s, BN_bin2bn(rs, 32, NULL), BN_bin2bn(rs + 32, 32, NULL)) == 1);
    unsigned char *der = NULL;
    int dlen = i2d_ECDSA_SIG(s, &der);
    ck_assert_int_gt(dlen, 0);
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    ck_assert(EVP_DigestVerifyInit(mc, NULL, EVP_sha256(), NULL, k) == 1);
    int ok = EVP_DigestVerify(mc, der, (size_t)dlen, msg, msglen);
    EVP_MD_CTX_free(mc);
    OPENSSL_free(der);
    ECDSA_SIG_free(s);
    return ok == 1;
}

/* ---- <hash> ---- */

START_TEST(test_hash_matches_openssl)
{
    static const struct {
        const char *halg;
        const char *md;
    } v[] = {{"SHA-256", "SHA256"}, {"SHA-384", "SHA384"}, {"SHA-512", "SHA512"}};
    char *m = b64(MSG, strlen(MSG));
    for (size_t i = 0; i < 3; i++) {
        char body[256];
        snprintf(body, sizeof(body), "{\"m2m:hash\":{\"Halg\":\"%s\",\"msg\":\"%s\"}}", v[i].halg,
                 m);
        json_object *out;
        ck_assert_int_eq(run(mcs_hash, "hash", body, &out), SEA_OK);
        uint8_t hv[64], want[64];
        size_t n = unb64(out, "Hv", hv, sizeof(hv));
        unsigned wl = 0;
        ck_assert(EVP_Digest(MSG, strlen(MSG), want, &wl, EVP_get_digestbyname(v[i].md), NULL));
        ck_assert_uint_eq(n, wl);
        ck_assert_mem_eq(hv, want, wl);
        ck_assert_str_eq(str_of(out, "Halg"), v[i].halg);
        json_object_put(out);
    }
    free(m);
    /* the empty message has a hash too (FIPS 180-4: SHA-256("") = e3b0c442...) */
    json_object *out;
    ck_assert_int_eq(
        run(mcs_hash, "hash", "{\"m2m:hash\":{\"Halg\":\"SHA-256\",\"msg\":\"\"}}", &out), SEA_OK);
    uint8_t hv[64];
    ck_assert_uint_eq(unb64(out, "Hv", hv, sizeof(hv)), 32);
    ck_assert_uint_eq(hv[0], 0xe3);
    ck_assert_uint_eq(hv[1], 0xb0);
    json_object_put(out);
}
END_TEST

START_TEST(test_hash_refuses_bad_input)
{
    refused(mcs_hash, "hash", "{\"m2m:hash\":{\"Halg\":\"SHA-256\",\"msg\":42}}", SEA_ERR_ARGS,
            "'msg'");
    refused(mcs_hash, "hash", "{\"m2m:hash\":{\"Halg\":\"MD5\",\"msg\":\"\"}}", SEA_ERR_ARGS,
            "Halg");
    refused(mcs_hash, "hash", "{\"m2m:hash\":{\"msg\":\"\"}}", SEA_ERR_ARGS, "'Halg'");
    refused(mcs_hash, "hash", "{\"m2m:hash\":{\"Halg\":\"SHA-256\",\"msg\":\"\",\"mesg\":1}}",
            SEA_ERR_ARGS, "unknown attribute 'mesg'");
    refused(mcs_hash, "hash", "{\"m2m:hash\":{\"Halg\":\"SHA-256\",\"msg\":\"abc\"}}", SEA_ERR_ARGS,
            "base64");
    refused(mcs_hash, "hash", "{\"m2m:hash\":{\"Halg\":\"SHA-256\",\"msg\":\"YW=j\"}}",
            SEA_ERR_ARGS, "base64");
    refused(mcs_hash, "hash", "{\"m2m:hash\":{\"Halg\":\"SHA-256\",\"msg\":\"YR==\"}}",
            SEA_ERR_ARGS, "base64"); /* stray bits after the last byte */
    refused(mcs_hash, "hash", "{\"m2m:hash\":{\"Halg\":\"SHA-256\",\"msg\":\"\",\"Hv\":\"\"}}",
            SEA_ERR_ARGS, "'Hv' is an output");
    refused(mcs_hash, "hash", "{\"m2m:hash\":{\"Halg\":\"SHA-256\",\"msg\":\"\",\"ri\":\"x\"}}",
            SEA_ERR_ARGS, "'ri' is read-only");
    refused(mcs_hash, "hash", "{\"m2m:hash\":{\"Halg\":\"SHA-256\",\"msg\":\"\",\"acpi\":[]}}",
            SEA_ERR_ARGS, "'acpi'");
    refused(mcs_hash, "hash", "{\"m2m:hash\":[1]}", SEA_ERR_ARGS, "not a JSON object");
    /* only CREATE runs a function */
    json_object *out;
    ck_assert_int_eq(run_op(mcs_hash, SEA_MCS_RETRIEVE, "hash",
                            "{\"m2m:hash\":{\"Halg\":\"SHA-256\",\"msg\":\"\"}}", &out),
                     SEA_ERR_UNSUPPORTED);
}
END_TEST

/* ---- <rand> ---- */

START_TEST(test_rand_length_and_freshness)
{
    json_object *a, *b;
    ck_assert_int_eq(run(mcs_rand, "rand", "{\"m2m:rand\":{\"Dsz\":32}}", &a), SEA_OK);
    ck_assert_int_eq(run(mcs_rand, "rand", "{\"m2m:rand\":{\"rgT\":\"DRBG\",\"Dsz\":32}}", &b),
                     SEA_OK);
    uint8_t x[1024], y[1024];
    ck_assert_uint_eq(unb64(a, "rndD", x, sizeof(x)), 32);
    ck_assert_uint_eq(unb64(b, "rndD", y, sizeof(y)), 32);
    ck_assert(memcmp(x, y, 32) != 0);
    json_object *d;
    ck_assert(json_object_object_get_ex(a, "Dsz", &d));
    ck_assert_int_eq(json_object_get_int(d), 32);
    json_object_put(a);
    json_object_put(b);
    ck_assert_int_eq(run(mcs_rand, "rand", "{\"m2m:rand\":{\"Dsz\":1024}}", &a), SEA_OK);
    ck_assert_uint_eq(unb64(a, "rndD", x, sizeof(x)), 1024);
    json_object_put(a);

    refused(mcs_rand, "rand", "{\"m2m:rand\":{\"Dsz\":\"32\"}}", SEA_ERR_ARGS, "'Dsz'");
    refused(mcs_rand, "rand", "{\"m2m:rand\":{\"Dsz\":1025}}", SEA_ERR_ARGS, "'Dsz'");
    refused(mcs_rand, "rand", "{\"m2m:rand\":{\"Dsz\":0}}", SEA_ERR_ARGS, "'Dsz'");
    refused(mcs_rand, "rand", "{\"m2m:rand\":{\"Dsz\":-5}}", SEA_ERR_ARGS, "'Dsz'");
    refused(mcs_rand, "rand", "{\"m2m:rand\":{\"Dsz\":32.5}}", SEA_ERR_ARGS, "'Dsz'");
    refused(mcs_rand, "rand", "{\"m2m:rand\":{\"Dsz\":99999999999999999999}}", SEA_ERR_ARGS,
            "'Dsz'");
    refused(mcs_rand, "rand", "{\"m2m:rand\":{}}", SEA_ERR_ARGS, "'Dsz'");
    refused(mcs_rand, "rand", "{\"m2m:rand\":{\"rgT\":\"TRNG\",\"Dsz\":4}}", SEA_ERR_ARGS, "rgT");
    refused(mcs_rand, "rand", "{\"m2m:rand\":{\"Dsz\":4,\"rndD\":\"\"}}", SEA_ERR_ARGS, "'rndD'");
}
END_TEST

/* ---- <signature> ---- */

static sea_obj gen_p256(const char *label, unsigned usage, sea_obj *pub)
{
    sea_key_params p = {.type = SEA_KEY_EC_P256, .label = label, .usage = usage};
    sea_obj key = 0;
    ck_assert_int_eq(sea_key_generate(se, &p, &key, pub), SEA_OK);
    return key;
}

static bool handler_verifies(const char *salg, const char *kdt, const char *msg_b64,
                             const char *sgn_b64)
{
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"m2m:signature\":{\"Salg\":\"%s\",\"kDt\":\"%s\",\"msg\":\"%s\",\"Sgn\":\"%s\"}}",
             salg, kdt, msg_b64, sgn_b64);
    json_object *out, *vr;
    ck_assert_int_eq(run(mcs_signature, "signature", body, &out), SEA_OK);
    ck_assert(json_object_object_get_ex(out, "vR", &vr));
    ck_assert(json_object_is_type(vr, json_type_boolean));
    bool ok = json_object_get_boolean(vr);
    ck_assert(!json_object_object_get_ex(out, "Sgn", NULL));
    json_object_put(out);
    return ok;
}

START_TEST(test_signature_es256_sign_verify)
{
    sea_obj pub = 0, key = gen_p256("cse-sig", 0, &pub);
    char *m = b64(MSG, strlen(MSG));
    char body[512];
    snprintf(body, sizeof(body),
             "{\"m2m:signature\":{\"Salg\":\"ES256\",\"kDt\":\"cse-sig\",\"msg\":\"%s\"}}", m);
    json_object *out;
    ck_assert_int_eq(run(mcs_signature, "signature", body, &out), SEA_OK);
    uint8_t sig[128], spki[512];
    size_t siglen = unb64(out, "Sgn", sig, sizeof(sig));
    size_t spkilen = unb64(out, "kInf", spki, sizeof(spki));
    ck_assert_str_eq(str_of(out, "Salg"), "ES256");
    ck_assert(!json_object_object_get_ex(out, "vR", NULL));
    json_object_put(out);
    /* OpenSSL accepts it with the key sea_public_key gives, and with kInf */
    EVP_PKEY *k = public_key(pub), *ki = spki_key(spki, spkilen);
    ck_assert(es256_ok(k, MSG, strlen(MSG), sig, siglen));
    ck_assert(es256_ok(ki, MSG, strlen(MSG), sig, siglen));
    /* the handler verifies it: by label, and by the private key's URI */
    char *s = b64(sig, siglen);
    ck_assert(handler_verifies("ES256", "cse-sig", m, s));
    sea_object_info oi;
    ck_assert_int_eq(sea_object_info_get(se, key, &oi), SEA_OK);
    ck_assert_ptr_nonnull(strstr(oi.uri, "type=private"));
    ck_assert(handler_verifies("ES256", oi.uri, m, s));
    free(s);
    /* tampered signature, tampered message: vR false, for OpenSSL too */
    sig[10] ^= 0x01;
    ck_assert(!es256_ok(k, MSG, strlen(MSG), sig, siglen));
    s = b64(sig, siglen);
    ck_assert(!handler_verifies("ES256", "cse-sig", m, s));
    sig[10] ^= 0x01;
    free(s);
    s = b64(sig, siglen);
    char *m2 = b64("a oneM2M requesT", strlen(MSG));
    ck_assert(!handler_verifies("ES256", "cse-sig", m2, s));
    ck_assert(handler_verifies("ES256", "cse-sig", m, s));
    free(m2);
    free(s);
    free(m);
    EVP_PKEY_free(k);
    EVP_PKEY_free(ki);
}
END_TEST

START_TEST(test_signature_hs256_matches_openssl)
{
    /* RFC 4231 section 4.2, test case 1: key = 20 bytes of 0x0b, data "Hi There" */
    static const uint8_t want[32] = {0xb0, 0x34, 0x4c, 0x61, 0xd8, 0xdb, 0x38, 0x53,
                                     0x5c, 0xa8, 0xaf, 0xce, 0xaf, 0x0b, 0xf1, 0x2b,
                                     0x88, 0x1d, 0xc2, 0x00, 0xc9, 0x83, 0x3d, 0xa7,
                                     0x26, 0xe9, 0x37, 0x6c, 0x2e, 0x32, 0xcf, 0xf7};
    uint8_t kv[20];
    memset(kv, 0x0b, sizeof(kv));
    sea_key_params p = {.type = SEA_KEY_GENERIC_SECRET, .label = "jefe"};
    sea_obj key;
    ck_assert_int_eq(sea_key_import_secret(se, &p, kv, sizeof(kv), &key), SEA_OK);
    const char *data = "Hi There";
    char *m = b64(data, strlen(data));
    char body[512];
    snprintf(body, sizeof(body),
             "{\"m2m:signature\":{\"Salg\":\"HS256\",\"kDt\":\"jefe\",\"msg\":\"%s\"}}", m);
    json_object *out;
    ck_assert_msg(run(mcs_signature, "signature", body, &out) == SEA_OK, "%s",
                  sea_last_error(NULL));
    uint8_t mac[64], ossl[64];
    size_t maclen = unb64(out, "Sgn", mac, sizeof(mac)), olen = 0;
    ck_assert_uint_eq(maclen, 32);
    ck_assert_mem_eq(mac, want, 32);
    ck_assert_ptr_nonnull(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, kv, sizeof(kv),
                                    (const unsigned char *)data, strlen(data), ossl, sizeof(ossl),
                                    &olen));
    ck_assert_mem_eq(mac, ossl, 32);
    ck_assert(!json_object_object_get_ex(out, "kInf", NULL));
    json_object_put(out);
    char *s = b64(mac, maclen);
    ck_assert(handler_verifies("HS256", "jefe", m, s));
    free(s);
    mac[0] ^= 0x80;
    s = b64(mac, maclen);
    ck_assert(!handler_verifies("HS256", "jefe", m, s));
    free(s);
    free(m);
}
END_TEST

START_TEST(test_signature_refuses)
{
    sea_obj pub = 0;
    gen_p256("verify-only", SEA_USE_VERIFY, &pub);
    gen_p256("signer", 0, NULL);
    refused(mcs_signature, "signature",
            "{\"m2m:signature\":{\"Salg\":\"ES256\",\"kDt\":\"verify-only\",\"msg\":\"\"}}",
            SEA_ERR_DENIED, "do not allow");
    refused(mcs_signature, "signature",
            "{\"m2m:signature\":{\"Salg\":\"ES256\",\"kDt\":\"no-such-key\",\"msg\":\"\"}}",
            SEA_ERR_NOT_FOUND, "no-such-key");
    refused(mcs_signature, "signature", "{\"m2m:signature\":{\"Salg\":\"ES256\",\"msg\":\"\"}}",
            SEA_ERR_ARGS, "'kDt'");
    refused(mcs_signature, "signature",
            "{\"m2m:signature\":{\"Salg\":\"ES256\",\"kDt\":\"signer\",\"msg\":7}}", SEA_ERR_ARGS,
            "'msg'");
    refused(mcs_signature, "signature",
            "{\"m2m:signature\":{\"Salg\":\"ES512\",\"kDt\":\"signer\",\"msg\":\"\"}}",
            SEA_ERR_ARGS, "Salg");
    refused(mcs_signature, "signature",
            "{\"m2m:signature\":{\"Salg\":\"ES256\",\"kDt\":{\"k\":\"AAAA\"},\"msg\":\"\"}}",
            SEA_ERR_ARGS, "'kDt'");
    refused(mcs_signature, "signature",
            "{\"m2m:signature\":{\"Salg\":\"ES256\",\"kDt\":\"signer\",\"msg\":\"\",\"vR\":true}}",
            SEA_ERR_ARGS, "'vR'");
    /* an EC key does not make HMACs, and HS256 looks for a secret key */
    refused(mcs_signature, "signature",
            "{\"m2m:signature\":{\"Salg\":\"HS256\",\"kDt\":\"signer\",\"msg\":\"\"}}",
            SEA_ERR_NOT_FOUND, "kDt");
    refused(mcs_signature, "signature",
            "{\"m2m:signature\":{\"Salg\":\"RS256\",\"kDt\":\"signer\",\"msg\":\"\"}}",
            SEA_ERR_ARGS, "cannot use this key");
}
END_TEST

/* ---- <cipher> ---- */

static const uint8_t AES_KEY[32] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};
static const uint8_t IV[12] = {0xca, 0xfe, 0xba, 0xbe, 0xfa, 0xce,
                               0xdb, 0xad, 0xde, 0xca, 0xf8, 0x88};
static const char AAD[] = "oneM2M header";

/* AES-256-GCM by OpenSSL: ciphertext || 16-byte tag. */
static size_t ossl_gcm(const uint8_t *pt, size_t n, const uint8_t *iv, uint8_t *out)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int l = 0, f = 0;
    ck_assert(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, AES_KEY, iv) == 1);
    ck_assert(EVP_EncryptUpdate(c, NULL, &l, (const uint8_t *)AAD, (int)strlen(AAD)) == 1);
    ck_assert(EVP_EncryptUpdate(c, out, &l, pt, (int)n) == 1);
    ck_assert(EVP_EncryptFinal_ex(c, out + l, &f) == 1);
    ck_assert(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + l + f) == 1);
    EVP_CIPHER_CTX_free(c);
    return (size_t)(l + f) + 16;
}

static void import_aes(void)
{
    sea_key_params p = {.type = SEA_KEY_AES, .label = "esprim"};
    sea_obj key;
    ck_assert_int_eq(sea_key_import_secret(se, &p, AES_KEY, sizeof(AES_KEY), &key), SEA_OK);
}

START_TEST(test_cipher_a256gcm_matches_openssl)
{
    import_aes();
    char *m = b64(MSG, strlen(MSG)), *iv = b64(IV, sizeof(IV)), *ad = b64(AAD, strlen(AAD));
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"m2m:encrypt\":{\"Calg\":\"A256GCM\",\"kDt\":\"esprim\",\"mbs\":64,\"msg\":\"%s\","
             "\"cbs\":%zu,\"aD\":\"%s\"}}",
             m, strlen(MSG), ad);
    json_object *out;
    ck_assert_int_eq(run(mcs_cipher, "encrypt", body, &out), SEA_OK);
    uint8_t cd[128], want[128], back[128], seiv[64];
    /* the SE drew the IV: OpenSSL with that IV must give the same ciphertext and tag */
    ck_assert_uint_eq(unb64(out, "iV", seiv, sizeof(seiv)), 12);
    free(iv);
    iv = b64(seiv, 12);
    size_t cdlen = unb64(out, "cD", cd, sizeof(cd));
    size_t wantlen = ossl_gcm((const uint8_t *)MSG, strlen(MSG), seiv, want);
    ck_assert_uint_eq(cdlen, wantlen);
    ck_assert_mem_eq(cd, want, wantlen);
    json_object *cbs;
    ck_assert(json_object_object_get_ex(out, "cbs", &cbs));
    ck_assert_int_eq(json_object_get_int(cbs), (int)cdlen);
    json_object_put(out);
    /* and back */
    char *c = b64(cd, cdlen);
    snprintf(body, sizeof(body),
             "{\"m2m:decrypt\":{\"Calg\":\"A256GCM\",\"kDt\":\"esprim\",\"msg\":\"%s\","
             "\"iV\":\"%s\",\"aD\":\"%s\"}}",
             c, iv, ad);
    ck_assert_int_eq(run(mcs_cipher, "decrypt", body, &out), SEA_OK);
    ck_assert_uint_eq(unb64(out, "cD", back, sizeof(back)), strlen(MSG));
    ck_assert_mem_eq(back, MSG, strlen(MSG));
    json_object_put(out);
    free(c);
    /* a changed tag does not decrypt */
    cd[cdlen - 1] ^= 1;
    c = b64(cd, cdlen);
    snprintf(body, sizeof(body),
             "{\"m2m:decrypt\":{\"Calg\":\"A256GCM\",\"kDt\":\"esprim\",\"msg\":\"%s\","
             "\"iV\":\"%s\",\"aD\":\"%s\"}}",
             c, iv, ad);
    refused(mcs_cipher, "decrypt", body, SEA_ERR_DATA_INVALID, "decrypting");
    free(c);
    free(m);
    free(iv);
    free(ad);
}
END_TEST

START_TEST(test_cipher_fresh_iv_round_trip)
{
    import_aes();
    char *m = b64(MSG, strlen(MSG));
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"m2m:encrypt\":{\"Calg\":\"A256GCM\",\"kDt\":\"esprim\",\"msg\":\"%s\"}}", m);
    json_object *a, *b;
    ck_assert_int_eq(run(mcs_cipher, "encrypt", body, &a), SEA_OK);
    ck_assert_int_eq(run(mcs_cipher, "encrypt", body, &b), SEA_OK);
    uint8_t iva[64], ivb[64], cd[128], back[128];
    ck_assert_uint_eq(unb64(a, "iV", iva, sizeof(iva)), 12);
    ck_assert_uint_eq(unb64(b, "iV", ivb, sizeof(ivb)), 12);
    ck_assert(memcmp(iva, ivb, 12) != 0); /* the SE never repeats an IV it chose */
    size_t cdlen = unb64(a, "cD", cd, sizeof(cd));
    char *c = b64(cd, cdlen), *iv = b64(iva, 12);
    snprintf(body, sizeof(body),
             "{\"m2m:decrypt\":{\"Calg\":\"A256GCM\",\"kDt\":\"esprim\",\"msg\":\"%s\","
             "\"iV\":\"%s\"}}",
             c, iv);
    json_object *d;
    ck_assert_int_eq(run(mcs_cipher, "decrypt", body, &d), SEA_OK);
    ck_assert_uint_eq(unb64(d, "cD", back, sizeof(back)), strlen(MSG));
    ck_assert_mem_eq(back, MSG, strlen(MSG));
    json_object_put(a);
    json_object_put(b);
    json_object_put(d);
    free(c);
    free(iv);
    free(m);
}
END_TEST

START_TEST(test_cipher_refuses)
{
    import_aes();
    json_object *out;
    /* m2m:cipher checks the key and the algorithm only */
    ck_assert_int_eq(run(mcs_cipher, "cipher",
                         "{\"m2m:cipher\":{\"Calg\":\"A256GCM\",\"kDt\":\"esprim\",\"mbs\":100}}",
                         &out),
                     SEA_OK);
    ck_assert_str_eq(str_of(out, "Calg"), "A256GCM");
    json_object_put(out);
    refused(mcs_cipher, "cipher",
            "{\"m2m:cipher\":{\"Calg\":\"A256GCM\",\"kDt\":\"esprim\",\"msg\":\"\"}}", SEA_ERR_ARGS,
            "m2m:encrypt");
    refused(mcs_cipher, "cipher", "{\"m2m:cipher\":{\"Calg\":\"A128GCM\",\"kDt\":\"esprim\"}}",
            SEA_ERR_ARGS, "128-bit");
    refused(mcs_cipher, "cipher", "{\"m2m:cipher\":{\"Calg\":\"A256CBC\",\"kDt\":\"esprim\"}}",
            SEA_ERR_ARGS, "Calg");
    refused(mcs_cipher, "encrypt", "{\"m2m:encrypt\":{\"Calg\":\"A256GCM\",\"msg\":\"\"}}",
            SEA_ERR_ARGS, "'kDt'");
    refused(mcs_cipher, "encrypt", "{\"m2m:encrypt\":{\"Calg\":\"A256GCM\",\"kDt\":\"esprim\"}}",
            SEA_ERR_ARGS, "'msg'");
    refused(mcs_cipher, "encrypt",
            "{\"m2m:encrypt\":{\"Calg\":\"A256GCM\",\"kDt\":\"esprim\",\"msg\":\"AAAAAA==\","
            "\"mbs\":3}}",
            SEA_ERR_ARGS, "'mbs'");
    refused(mcs_cipher, "encrypt",
            "{\"m2m:encrypt\":{\"Calg\":\"A256GCM\",\"kDt\":\"esprim\",\"msg\":\"AAAAAA==\","
            "\"cbs\":5}}",
            SEA_ERR_ARGS, "'cbs'");
    refused(mcs_cipher, "encrypt",
            "{\"m2m:encrypt\":{\"Calg\":\"A256GCM\",\"kDt\":\"esprim\",\"msg\":\"\","
            "\"iV\":\"AAAA\"}}",
            SEA_ERR_ARGS, "'iV'");
    /* a caller's IV is refused even when well formed: the SE draws every encryption IV */
    refused(mcs_cipher, "encrypt",
            "{\"m2m:encrypt\":{\"Calg\":\"A256GCM\",\"kDt\":\"esprim\",\"msg\":\"AAAA\","
            "\"iV\":\"AAAAAAAAAAAAAAAA\"}}",
            SEA_ERR_ARGS, "the SE draws the IV");
    refused(mcs_cipher, "encrypt",
            "{\"m2m:encrypt\":{\"Calg\":\"A256GCM\",\"kDt\":\"esprim\",\"msg\":\"\",\"nc\":\"\"}}",
            SEA_ERR_ARGS, "'nc'");
    refused(mcs_cipher, "decrypt",
            "{\"m2m:decrypt\":{\"Calg\":\"A256GCM\",\"kDt\":\"esprim\",\"msg\":"
            "\"AAAAAAAAAAAAAAAAAAAAAA==\"}}",
            SEA_ERR_ARGS, "'iV'");
    refused(mcs_cipher, "encrypt",
            "{\"m2m:encrypt\":{\"Calg\":\"A256GCM\",\"kDt\":\"missing\",\"msg\":\"\"}}",
            SEA_ERR_NOT_FOUND, "kDt");
    refused(mcs_cipher, "encrypt",
            "{\"m2m:encrypt\":{\"Calg\":\"A256GCM\",\"kDt\":\"esprim\",\"msg\":\"\",\"cD\":\"\"}}",
            SEA_ERR_ARGS, "'cD'");
}
END_TEST

/* ---- <identity> ---- */

/* RFC 6920 ni with sha-256 of the SPKI, computed here with OpenSSL. */
static void ni_of(EVP_PKEY *k, char *out, size_t outsz)
{
    unsigned char *der = NULL;
    int len = i2d_PUBKEY(k, &der);
    ck_assert_int_gt(len, 0);
    uint8_t md[32];
    unsigned mdlen = 0;
    ck_assert(EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL));
    OPENSSL_free(der);
    char *s = b64(md, mdlen);
    for (char *p = s; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    char *eq = strchr(s, '=');
    if (eq)
        *eq = '\0';
    snprintf(out, outsz, "ni:///sha-256;%s", s);
    free(s);
}

START_TEST(test_identity_create_and_authenticate)
{
    json_object *out;
    ck_assert_int_eq(
        run(mcs_identity, "identity", "{\"m2m:identity\":{\"idN\":\"CAE0001\"}}", &out), SEA_OK);
    ck_assert_str_eq(str_of(out, "idN"), "CAE0001");
    char iddt[80], kdt[512];
    snprintf(iddt, sizeof(iddt), "%s", str_of(out, "idDt"));
    snprintf(kdt, sizeof(kdt), "%s", str_of(out, "kDt"));
    json_object_put(out);
    ck_assert_int_eq(strncmp(kdt, "pkcs11:", 7), 0);
    ck_assert_ptr_nonnull(strstr(kdt, "type=private"));
    /* idDt is the ni of the public key's SPKI */
    sea_obj pub;
    ck_assert_int_eq(sea_object_find(se, "CAE0001", SEA_CLASS_PUBLIC_KEY, &pub), SEA_OK);
    EVP_PKEY *k = public_key(pub);
    char want[80];
    ni_of(k, want, sizeof(want));
    ck_assert_str_eq(iddt, want);
    ck_assert_uint_eq(strlen(iddt), 14 + 43);
    /* kDt names the private key, which never leaves the SE */
    sea_obj priv;
    ck_assert_int_eq(sea_object_find(se, kdt, SEA_CLASS_PRIVATE_KEY, &priv), SEA_OK);
    sea_object_info oi;
    ck_assert_int_eq(sea_object_info_get(se, priv, &oi), SEA_OK);
    ck_assert_int_eq(oi.key_type, SEA_KEY_EC_P256);
    ck_assert_int_eq(oi.extractable, 0);
    /* the identity marker: CKA_ID "sea-identity:" + idN (an ordinary key cannot match it) */
    ck_assert_uint_eq(oi.id_len, 13 + 7);
    ck_assert_mem_eq(oi.id, "sea-identity:CAE0001", 20);
    /* a second identity of that name is a conflict */
    refused(mcs_identity, "identity", "{\"m2m:identity\":{\"idN\":\"CAE0001\"}}", SEA_ERR_EXISTS,
            "CAE0001");

    /* authenticate: oAD is an ES256 signature of rAD that OpenSSL accepts */
    static const uint8_t challenge[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    char *r = b64(challenge, sizeof(challenge));
    char body[256];
    snprintf(body, sizeof(body), "{\"m2m:authenticate\":{\"idN\":\"CAE0001\",\"rAD\":\"%s\"}}", r);
    ck_assert_int_eq(run(mcs_identity, "authenticate", body, &out), SEA_OK);
    uint8_t oad[128];
    size_t oadlen = unb64(out, "oAD", oad, sizeof(oad));
    ck_assert_str_eq(str_of(out, "idDt"), want);
    json_object_put(out);
    ck_assert(es256_ok(k, challenge, sizeof(challenge), oad, oadlen));
    oad[3] ^= 4;
    ck_assert(!es256_ok(k, challenge, sizeof(challenge), oad, oadlen));
    /* the same through m2m:identity with rAD */
    snprintf(body, sizeof(body), "{\"m2m:identity\":{\"idN\":\"CAE0001\",\"rAD\":\"%s\"}}", r);
    ck_assert_int_eq(run(mcs_identity, "identity", body, &out), SEA_OK);
    oadlen = unb64(out, "oAD", oad, sizeof(oad));
    ck_assert(es256_ok(k, challenge, sizeof(challenge), oad, oadlen));
    json_object_put(out);
    free(r);
    EVP_PKEY_free(k);

    refused(mcs_identity, "authenticate", "{\"m2m:authenticate\":{\"idN\":\"CAE0001\"}}",
            SEA_ERR_ARGS, "'rAD'");
    refused(mcs_identity, "authenticate",
            "{\"m2m:authenticate\":{\"idN\":\"nobody\",\"rAD\":\"AAAA\"}}", SEA_ERR_NOT_FOUND,
            "nobody");
    refused(mcs_identity, "identity", "{\"m2m:identity\":{\"idN\":\"\"}}", SEA_ERR_ARGS, "idName");
    refused(mcs_identity, "identity", "{\"m2m:identity\":{\"idN\":\"a\\u0001b\"}}", SEA_ERR_ARGS,
            "control");
    refused(mcs_identity, "identity", "{\"m2m:identity\":{\"idN\":\"x\",\"kDt\":\"y\"}}",
            SEA_ERR_ARGS, "'kDt' is an output");
    refused(mcs_identity, "identity", "{\"m2m:identity\":{}}", SEA_ERR_ARGS, "'idN'");
}
END_TEST

START_TEST(test_identity_native_ed25519)
{
    sea_identity_info id;
    ck_assert_int_eq(sea_identity_create(se, "node-ed", SEA_KEY_ED25519, &id), SEA_OK);
    ck_assert_int_eq(id.type, SEA_KEY_ED25519);
    ck_assert_int_eq(id.alg, SEA_ALG_ED25519);
    EVP_PKEY *k = public_key(id.pub);
    char want[80];
    ni_of(k, want, sizeof(want));
    ck_assert_str_eq(id.id_data, want);
    sea_identity_info again;
    ck_assert_int_eq(sea_identity_get(se, "node-ed", &again), SEA_OK);
    ck_assert_str_eq(again.id_data, id.id_data);
    ck_assert_str_eq(again.key_uri, id.key_uri);
    static const uint8_t ch[] = "nonce-from-the-receiver";
    uint8_t sig[128];
    size_t len = 0;
    ck_assert_int_eq(sea_identity_authenticate(se, "node-ed", ch, sizeof(ch), NULL, &len), SEA_OK);
    ck_assert_uint_eq(len, 64);
    ck_assert_int_eq(sea_identity_authenticate(se, "node-ed", ch, sizeof(ch), sig, &len), SEA_OK);
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    ck_assert(EVP_DigestVerifyInit(mc, NULL, NULL, NULL, k) == 1);
    ck_assert_int_eq(EVP_DigestVerify(mc, sig, len, ch, sizeof(ch)), 1);
    EVP_MD_CTX_free(mc);
    EVP_PKEY_free(k);
    ck_assert_int_eq(sea_identity_authenticate(se, "node-ed", ch, 0, sig, &len), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_identity_create(se, "aes-id", SEA_KEY_AES, &id), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_identity_create(se, "pkcs11:object=x", 0, &id), SEA_ERR_ARGS);
    char longname[70];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    ck_assert_int_eq(sea_identity_create(se, longname, 0, &id), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_identity_create(se, "bad\xff", 0, &id), SEA_ERR_ARGS);
}
END_TEST

/* ---- <secureConnection> ---- */

START_TEST(test_secure_connection_psk)
{
    json_object *out;
    ck_assert_int_eq(run(mcs_secure_connection, "secureConnection",
                         "{\"m2m:secureConnection\":{\"cnT\":\"TLS\","
                         "\"aCS\":\"TLS_PSK_WITH_AES_128_CBC_SHA256\",\"rn\":\"kpsa-in\"}}",
                         &out),
                     SEA_OK);
    char kdt[512];
    snprintf(kdt, sizeof(kdt), "%s", str_of(out, "kDt"));
    ck_assert_str_eq(str_of(out, "aCS"), "TLS_PSK_WITH_AES_128_CBC_SHA256");
    ck_assert(!json_object_object_get_ex(out, "kInf", NULL));
    json_object_put(out);
    sea_obj key;
    ck_assert_int_eq(sea_object_find(se, kdt, SEA_CLASS_SECRET_KEY, &key), SEA_OK);
    sea_object_info oi;
    ck_assert_int_eq(sea_object_info_get(se, key, &oi), SEA_OK);
    ck_assert_int_eq(oi.key_type, SEA_KEY_GENERIC_SECRET);
    ck_assert_uint_eq(oi.bits, 256);
    ck_assert_int_eq(oi.extractable, 0);
    ck_assert_int_eq(oi.sensitive, 1);
    ck_assert_str_eq(oi.label, "kpsa-in");
    /* DTLS suite, no resourceName: the SE names the key */
    ck_assert_int_eq(run(mcs_secure_connection, "secureConnection",
                         "{\"m2m:secureConnection\":{\"cnT\":\"DTLS\","
                         "\"aCS\":\"TLS_PSK_WITH_AES_128_CCM_8\",\"mni\":0}}",
                         &out),
                     SEA_OK);
    ck_assert_int_eq(strncmp(str_of(out, "rn"), "secureConnection-", 17), 0);
    json_object *cni;
    ck_assert(json_object_object_get_ex(out, "cni", &cni));
    ck_assert_int_eq(json_object_get_int(cni), 0);
    ck_assert_int_eq(sea_object_find(se, str_of(out, "kDt"), SEA_CLASS_SECRET_KEY, &key), SEA_OK);
    json_object_put(out);
}
END_TEST

START_TEST(test_secure_connection_ecdhe_ecdsa)
{
    json_object *out;
    ck_assert_int_eq(run(mcs_secure_connection, "secureConnection",
                         "{\"m2m:secureConnection\":{\"cnT\":\"DTLS\","
                         "\"aCS\":\"TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8\",\"rn\":\"tls-cert\"}}",
                         &out),
                     SEA_OK);
    uint8_t spki[512];
    size_t spkilen = unb64(out, "kInf", spki, sizeof(spki));
    sea_obj key;
    ck_assert_int_eq(sea_object_find(se, str_of(out, "kDt"), SEA_CLASS_PRIVATE_KEY, &key), SEA_OK);
    json_object_put(out);
    sea_object_info oi;
    ck_assert_int_eq(sea_object_info_get(se, key, &oi), SEA_OK);
    ck_assert_int_eq(oi.key_type, SEA_KEY_EC_P256);
    ck_assert_int_eq(oi.extractable, 0);
    EVP_PKEY *k = spki_key(spki, spkilen);
    char group[64];
    size_t gl = 0;
    ck_assert(EVP_PKEY_get_group_name(k, group, sizeof(group), &gl) == 1);
    ck_assert_str_eq(group, "prime256v1");
    /* the key signs ECDSA with SHA-256, as the suite needs */
    uint8_t sig[64];
    size_t len = sizeof(sig);
    ck_assert_int_eq(
        sea_sign(se, key, SEA_ALG_ECDSA_SHA256, (const uint8_t *)MSG, strlen(MSG), sig, &len),
        SEA_OK);
    ck_assert(es256_ok(k, MSG, strlen(MSG), sig, len));
    EVP_PKEY_free(k);
    /* native: the same with TLS and the CBC suite */
    sea_conn_key_info ki;
    ck_assert_int_eq(sea_secure_connection_generate_key(
                         se, "TLS", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "tls-cert-2", &ki),
                     SEA_OK);
    ck_assert_int_eq(ki.type, SEA_KEY_EC_P256);
    ck_assert_uint_ne(ki.pub, 0);
    ck_assert_int_eq(sea_secure_connection_generate_key(
                         se, "TLS", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "tls-cert-2", &ki),
                     SEA_ERR_EXISTS);
}
END_TEST

START_TEST(test_secure_connection_refuses)
{
    refused(mcs_secure_connection, "connectionInstance",
            "{\"m2m:connectionInstance\":{\"dst\":\"coaps://in-cse.example.com\",\"oD\":\"AAAA\"}}",
            SEA_ERR_UNSUPPORTED, "SE-as-endpoint");
    ck_assert_int_eq(sea_rv_onem2m(SEA_ERR_UNSUPPORTED), 5001);
    refused(mcs_secure_connection, "secureConnection",
            "{\"m2m:secureConnection\":{\"cnT\":\"TLS\","
            "\"aCS\":\"TLS_PSK_WITH_AES_128_CBC_SHA256\",\"dst\":\"x\"}}",
            SEA_ERR_UNSUPPORTED, "'dst'");
    refused(mcs_secure_connection, "secureConnection",
            "{\"m2m:secureConnection\":{\"cnT\":\"TLS\","
            "\"aCS\":\"TLS_AES_128_GCM_SHA256\"}}",
            SEA_ERR_UNSUPPORTED, "aCS");
    refused(mcs_secure_connection, "secureConnection",
            "{\"m2m:secureConnection\":{\"cnT\":\"QUIC\","
            "\"aCS\":\"TLS_PSK_WITH_AES_128_CBC_SHA256\"}}",
            SEA_ERR_ARGS, "cnT");
    refused(mcs_secure_connection, "secureConnection",
            "{\"m2m:secureConnection\":{\"cnT\":1,\"aCS\":\"TLS_PSK_WITH_AES_128_CBC_SHA256\"}}",
            SEA_ERR_ARGS, "'cnT'");
    refused(mcs_secure_connection, "secureConnection",
            "{\"m2m:secureConnection\":{\"cnT\":\"TLS\"}}", SEA_ERR_ARGS, "'aCS'");
    refused(mcs_secure_connection, "secureConnection",
            "{\"m2m:secureConnection\":{\"cnT\":\"TLS\","
            "\"aCS\":\"TLS_PSK_WITH_AES_128_CBC_SHA256\",\"mni\":-1}}",
            SEA_ERR_ARGS, "'mni'");
    /* nothing was generated by the refused requests */
    sea_obj *list = NULL;
    size_t n = 9;
    ck_assert_int_eq(sea_object_list(se, SEA_CLASS_ANY, &list, &n), SEA_OK);
    ck_assert_uint_eq(n, 0);
    sea_free(list);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("mcs-func");
    TCase *tc = tcase_create("functions");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 1200);
    tcase_add_test(tc, test_hash_matches_openssl);
    tcase_add_test(tc, test_hash_refuses_bad_input);
    tcase_add_test(tc, test_rand_length_and_freshness);
    tcase_add_test(tc, test_signature_es256_sign_verify);
    tcase_add_test(tc, test_signature_hs256_matches_openssl);
    tcase_add_test(tc, test_signature_refuses);
    tcase_add_test(tc, test_cipher_a256gcm_matches_openssl);
    tcase_add_test(tc, test_cipher_fresh_iv_round_trip);
    tcase_add_test(tc, test_cipher_refuses);
    tcase_add_test(tc, test_identity_create_and_authenticate);
    tcase_add_test(tc, test_identity_native_ed25519);
    tcase_add_test(tc, test_secure_connection_psk);
    tcase_add_test(tc, test_secure_connection_ecdhe_ecdsa);
    tcase_add_test(tc, test_secure_connection_refuses);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Tests of the native API (include/sea/sea.h) on the software backend with a real store:
 * SE profile management, login and lockout, keys and their use checked against OpenSSL,
 * sensitive data objects, isolation between SEs, errors with origins, damaged stores, fork. */
#include <check.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sea/sea.h"

static char dir[256], conf[300];
static sea_ctx *ctx;

#define SO  "so-secret-1"
#define PIN "user-pin-1"

static void write_conf(const char *extra)
{
    FILE *f = fopen(conf, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "[device soft]\nbackend = soft\npath = %s/store\nkdf_iterations = 1000\n%s", dir,
            extra ? extra : "");
    fclose(f);
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/sea-api-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(conf, sizeof(conf), "%s/sea.conf", dir);
    write_conf(NULL);
    ck_assert_int_eq(sea_open(&ctx, conf), SEA_OK);
}

static void teardown(void)
{
    sea_close(ctx);
    ctx = NULL;
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static sea_se_info make_se(const char *name, unsigned tries)
{
    sea_se_params p = {.name = name,
                       .security_level = -1,
                       .max_tries = tries,
                       .so_pin = SO,
                       .so_pin_len = strlen(SO),
                       .user_pin = PIN,
                       .user_pin_len = strlen(PIN)};
    sea_se_info info;
    ck_assert_int_eq(sea_se_create(ctx, &p, &info), SEA_OK);
    return info;
}

static sea_se *open_user(const char *name)
{
    sea_se *se = NULL;
    ck_assert_int_eq(sea_se_open(ctx, name, &se), SEA_OK);
    ck_assert_int_eq(sea_login(se, SEA_USER, PIN, strlen(PIN)), SEA_OK);
    return se;
}

/* ---- SEs ---- */

START_TEST(test_create_se_descriptor)
{
    sea_se_info i = make_se("cse-1", 0);
    ck_assert_str_eq(i.name, "cse-1");
    ck_assert_uint_eq(strlen(i.se_id), 16);
    ck_assert_int_eq(i.se_id[0], '4');
    ck_assert_uint_eq(i.se_type, SEA_SE_SOFTWARE);
    ck_assert_uint_le(i.security_level, 1);
    ck_assert_str_eq(i.backend, "soft");
    ck_assert_str_eq(i.device, "soft");
    ck_assert_uint_eq(i.lifecycle, SEA_LC_OPERATIONAL);
    ck_assert(i.pin_flags & SEA_PIN_USER_SET);
    ck_assert_uint_eq(i.max_tries, 10);
    ck_assert_uint_eq(i.user_tries_left, 10);
    sea_se_info j;
    ck_assert_int_eq(sea_se_find(ctx, i.se_id, &j), SEA_OK);
    ck_assert_str_eq(j.name, "cse-1");
    ck_assert_int_eq(sea_se_find(ctx, "cse-1", &j), SEA_OK);
    ck_assert_str_eq(j.se_id, i.se_id);
    ck_assert_uint_eq(j.slot_id, i.slot_id);
    ck_assert_int_eq(sea_se_find(ctx, "nope", &j), SEA_ERR_NOT_FOUND);
    ck_assert_str_ne(sea_last_error(NULL), "");
}
END_TEST

START_TEST(test_create_se_bad_params)
{
    sea_se_params p = {.name = "x", .security_level = -1, .so_pin = SO, .so_pin_len = strlen(SO)};
    sea_se_info info;
    sea_origin o;
    p.se_id = "5ABC";
    ck_assert_int_eq(sea_se_create(ctx, &p, &info), SEA_ERR_ARGS);
    p.se_id = "4ABC DEF";
    ck_assert_int_eq(sea_se_create(ctx, &p, &info), SEA_ERR_ARGS);
    p.se_id = NULL;
    p.max_tries = 101;
    ck_assert_int_eq(sea_se_create(ctx, &p, &info), SEA_ERR_ARGS);
    ck_assert_ptr_nonnull(strstr(sea_last_error(NULL), "1 to 100"));
    p.max_tries = 0;
    p.security_level = 2; /* a software SE cannot claim a hardware level */
    ck_assert_int_eq(sea_se_create(ctx, &p, &info), SEA_ERR_ARGS);
    ck_assert_ptr_nonnull(strstr(sea_last_error(&o), "level"));
    p.security_level = -1;
    p.so_pin_len = 2;
    ck_assert_int_eq(sea_se_create(ctx, &p, &info), SEA_ERR_PIN_LEN);
    p.so_pin_len = strlen(SO);
    p.name = "";
    ck_assert_int_eq(sea_se_create(ctx, &p, &info), SEA_ERR_ARGS);
    ck_assert_int_eq(o, SEA_ORIGIN_API);
    /* a refused user PIN leaves no SE behind */
    p.name = "half";
    p.user_pin = "12";
    p.user_pin_len = 2;
    ck_assert_int_eq(sea_se_create(ctx, &p, &info), SEA_ERR_PIN_LEN);
    sea_se_info *list;
    size_t n;
    ck_assert_int_eq(sea_se_list(ctx, &list, &n), SEA_OK);
    ck_assert_uint_eq(n, 0);
    sea_free(list);
    p.user_pin = NULL;
    p.user_pin_len = 0;
    p.se_id = "4SEA-TEST.01";
    ck_assert_int_eq(sea_se_create(ctx, &p, &info), SEA_OK);
    ck_assert_str_eq(info.se_id, "4SEA-TEST.01");
    ck_assert_uint_eq(info.lifecycle, SEA_LC_PERSONALIZATION);
    ck_assert(!(info.pin_flags & SEA_PIN_USER_SET));
    ck_assert_int_eq(sea_se_create(NULL, &p, &info), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_se_create(ctx, NULL, &info), SEA_ERR_ARGS);
}
END_TEST

START_TEST(test_slot_ids_stable)
{
    sea_se_info a = make_se("a", 0), b = make_se("b", 0), c = make_se("c", 0);
    ck_assert_uint_ne(a.slot_id, b.slot_id);
    ck_assert_int_eq(sea_se_delete(ctx, "b", "wrong-pin", 9), SEA_ERR_PIN_INCORRECT);
    ck_assert_int_eq(sea_se_delete(ctx, "b", SO, strlen(SO)), SEA_OK);
    sea_se_info d = make_se("d", 0);
    ck_assert_uint_ne(d.slot_id, b.slot_id); /* never reused */
    sea_close(ctx);
    ck_assert_int_eq(sea_open(&ctx, conf), SEA_OK);
    sea_se_info x;
    ck_assert_int_eq(sea_se_find(ctx, "a", &x), SEA_OK);
    ck_assert_uint_eq(x.slot_id, a.slot_id);
    ck_assert_int_eq(sea_se_find(ctx, "c", &x), SEA_OK);
    ck_assert_uint_eq(x.slot_id, c.slot_id);
    ck_assert_int_eq(sea_se_find(ctx, "d", &x), SEA_OK);
    ck_assert_uint_eq(x.slot_id, d.slot_id);
    ck_assert_int_eq(sea_se_find(ctx, "b", &x), SEA_ERR_NOT_FOUND);
}
END_TEST

START_TEST(test_delete_busy_se)
{
    make_se("busy", 0);
    sea_se *se;
    ck_assert_int_eq(sea_se_open(ctx, "busy", &se), SEA_OK);
    ck_assert_int_eq(sea_se_delete(ctx, "busy", SO, strlen(SO)), SEA_ERR_BUSY);
    sea_se_close(se);
    ck_assert_int_eq(sea_se_delete(ctx, "busy", SO, strlen(SO)), SEA_OK);
}
END_TEST

START_TEST(test_pin_lockout)
{
    make_se("lock", 3);
    sea_se *se;
    sea_se_info i;
    ck_assert_int_eq(sea_se_open(ctx, "lock", &se), SEA_OK);
    ck_assert_int_eq(sea_login(se, SEA_USER, "bad-pin-1", 9), SEA_ERR_PIN_INCORRECT);
    ck_assert_ptr_null(strstr(sea_last_error(NULL), "bad-pin-1"));
    ck_assert_int_eq(sea_se_find(ctx, "lock", &i), SEA_OK);
    ck_assert_uint_eq(i.user_tries_left, 2);
    ck_assert(i.pin_flags & SEA_PIN_USER_COUNT_LOW);
    ck_assert_int_eq(sea_login(se, SEA_USER, "bad-pin-2", 9), SEA_ERR_PIN_INCORRECT);
    ck_assert_int_eq(sea_se_find(ctx, "lock", &i), SEA_OK);
    ck_assert(i.pin_flags & SEA_PIN_USER_FINAL_TRY);
    ck_assert_int_eq(sea_login(se, SEA_USER, "bad-pin-3", 9), SEA_ERR_PIN_INCORRECT);
    ck_assert_int_eq(sea_login(se, SEA_USER, PIN, strlen(PIN)), SEA_ERR_PIN_LOCKED);
    ck_assert_int_eq(sea_se_find(ctx, "lock", &i), SEA_OK);
    ck_assert(i.pin_flags & SEA_PIN_USER_LOCKED);
    ck_assert_uint_eq(i.user_tries_left, 0);
    /* the SO sets a new user PIN, which unlocks */
    ck_assert_int_eq(sea_login(se, SEA_SO, SO, strlen(SO)), SEA_OK);
    ck_assert_int_eq(sea_init_pin(se, "new-pin-9", 9), SEA_OK);
    ck_assert_int_eq(sea_logout(se), SEA_OK);
    ck_assert_int_eq(sea_login(se, SEA_USER, "new-pin-9", 9), SEA_OK);
    ck_assert_int_eq(sea_login(se, SEA_USER, "new-pin-9", 9), SEA_ERR_ALREADY_LOGGED_IN);
    ck_assert_int_eq(sea_set_pin(se, "new-pin-9", 9, PIN, strlen(PIN)), SEA_OK);
    ck_assert_int_eq(sea_logout(se), SEA_OK);
    ck_assert_int_eq(sea_logout(se), SEA_ERR_NOT_LOGGED_IN);
    ck_assert_int_eq(sea_login(se, SEA_USER, PIN, strlen(PIN)), SEA_OK);
    sea_se_close(se);
}
END_TEST

/* ---- keys ---- */

/* Verify a raw r||s ECDSA-SHA256 signature with OpenSSL against a DER public key. */
static int ossl_verify(const uint8_t *spki, size_t spki_len, const uint8_t *msg, size_t len,
                       const uint8_t *sig, size_t siglen)
{
    const unsigned char *p = spki;
    EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)spki_len);
    ck_assert_ptr_nonnull(pk);
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)siglen / 2, NULL);
    BIGNUM *s = BN_bin2bn(sig + siglen / 2, (int)siglen / 2, NULL);
    ECDSA_SIG_set0(es, r, s);
    unsigned char *der = NULL;
    int derlen = i2d_ECDSA_SIG(es, &der);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk) == 1 &&
             EVP_DigestVerify(md, der, (size_t)derlen, msg, len) == 1;
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    EVP_PKEY_free(pk);
    return ok;
}

START_TEST(test_ec_sign_verify)
{
    make_se("k", 0);
    sea_se *se = open_user("k");
    sea_key_params kp = {
        .type = SEA_KEY_EC_P256, .label = "cse-key", .id = (const uint8_t *)"\x01", .id_len = 1};
    sea_obj key = 0, pub = 0;
    ck_assert_int_eq(sea_key_generate(se, &kp, &key, &pub), SEA_OK);
    ck_assert_uint_ne(key, pub);
    ck_assert_int_eq(sea_key_generate(se, &kp, &key, &pub), SEA_ERR_EXISTS);
    const uint8_t msg[] = "a oneM2M request to sign";
    size_t siglen = 0;
    ck_assert_int_eq(sea_sign(se, key, SEA_ALG_ECDSA_SHA256, msg, sizeof(msg), NULL, &siglen),
                     SEA_OK);
    ck_assert_uint_eq(siglen, 64);
    uint8_t sig[64], small[10];
    size_t smalllen = sizeof(small);
    ck_assert_int_eq(sea_sign(se, key, SEA_ALG_ECDSA_SHA256, msg, sizeof(msg), small, &smalllen),
                     SEA_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(smalllen, 64);
    ck_assert_int_eq(sea_sign(se, key, SEA_ALG_ECDSA_SHA256, msg, sizeof(msg), sig, &siglen),
                     SEA_OK);
    ck_assert_int_eq(sea_verify(se, pub, SEA_ALG_ECDSA_SHA256, msg, sizeof(msg), sig, siglen),
                     SEA_OK);
    uint8_t spki[200];
    size_t spki_len = sizeof(spki);
    ck_assert_int_eq(sea_public_key(se, key, spki, &spki_len), SEA_OK);
    ck_assert(ossl_verify(spki, spki_len, msg, sizeof(msg), sig, siglen));
    sig[5] ^= 0x40;
    ck_assert_int_eq(sea_verify(se, pub, SEA_ALG_ECDSA_SHA256, msg, sizeof(msg), sig, siglen),
                     SEA_ERR_SIGNATURE_INVALID);
    ck_assert(!ossl_verify(spki, spki_len, msg, sizeof(msg), sig, siglen));
    ck_assert_int_eq(sea_rv_onem2m(SEA_ERR_SIGNATURE_INVALID), 2000);
    /* info: non-extractable, sensitive, generated in the SE */
    sea_object_info oi;
    ck_assert_int_eq(sea_object_info_get(se, key, &oi), SEA_OK);
    ck_assert_int_eq(oi.cls, SEA_CLASS_PRIVATE_KEY);
    ck_assert_int_eq(oi.key_type, SEA_KEY_EC_P256);
    ck_assert_uint_eq(oi.bits, 256);
    ck_assert_str_eq(oi.label, "cse-key");
    ck_assert(!oi.extractable && oi.sensitive && oi.local && oi.is_private);
    ck_assert(oi.usage & SEA_USE_SIGN);
    ck_assert_ptr_nonnull(strstr(oi.uri, "pkcs11:"));
    ck_assert_ptr_nonnull(strstr(oi.uri, "type=private"));
    /* found again by label and by its URI */
    sea_obj f;
    ck_assert_int_eq(sea_object_find(se, "cse-key", SEA_CLASS_PRIVATE_KEY, &f), SEA_OK);
    ck_assert_uint_eq(f, key);
    ck_assert_int_eq(sea_object_find(se, oi.uri, SEA_CLASS_ANY, &f), SEA_OK);
    ck_assert_uint_eq(f, key);
    ck_assert_int_eq(sea_object_find(se, "cse-key", SEA_CLASS_ANY, &f), SEA_ERR_EXISTS);
    ck_assert_int_eq(sea_object_find(se, "pkcs11:token=other;object=cse-key", SEA_CLASS_ANY, &f),
                     SEA_ERR_NOT_FOUND);
    ck_assert_int_eq(sea_object_find(se, "pkcs11:object=cse-key;type=bogus", SEA_CLASS_ANY, &f),
                     SEA_ERR_ARGS);
    /* a public key cannot sign */
    ck_assert_int_eq(sea_sign(se, pub, SEA_ALG_ECDSA_SHA256, msg, sizeof(msg), sig, &siglen),
                     SEA_ERR_ARGS);
    sea_se_close(se);
}
END_TEST

START_TEST(test_import_private_pem)
{
    make_se("imp", 0);
    sea_se *se = open_user("imp");
    EVP_PKEY *k = EVP_EC_gen("P-256");
    ck_assert_ptr_nonnull(k);
    BIO *b = BIO_new(BIO_s_mem());
    ck_assert(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL));
    char *pem;
    long len = BIO_get_mem_data(b, &pem);
    sea_key_params kp = {.label = "imported"};
    sea_obj key, pub;
    ck_assert_int_eq(sea_key_import_private(se, &kp, (uint8_t *)pem, (size_t)len, &key, &pub),
                     SEA_OK);
    ck_assert_int_eq(sea_key_import_private(se, &kp, (uint8_t *)"garbage", 7, &key, &pub),
                     SEA_ERR_EXISTS);
    kp.label = "garbage";
    ck_assert_int_ne(sea_key_import_private(se, &kp, (uint8_t *)"garbage", 7, &key, &pub), SEA_OK);
    const uint8_t msg[] = "imported key signs";
    uint8_t sig[64];
    size_t siglen = sizeof(sig);
    ck_assert_int_eq(sea_sign(se, key, SEA_ALG_ECDSA_SHA256, msg, sizeof(msg), sig, &siglen),
                     SEA_OK);
    unsigned char *spki = NULL;
    int spki_len = i2d_PUBKEY(k, &spki);
    ck_assert(ossl_verify(spki, (size_t)spki_len, msg, sizeof(msg), sig, siglen));
    /* an imported key is not "local" and was never "always sensitive" */
    sea_object_info oi;
    ck_assert_int_eq(sea_object_info_get(se, key, &oi), SEA_OK);
    ck_assert(!oi.local);
    OPENSSL_free(spki);
    BIO_free(b);
    EVP_PKEY_free(k);
    sea_se_close(se);
}
END_TEST

START_TEST(test_aes_gcm_against_openssl)
{
    make_se("aes", 0);
    sea_se *se = open_user("aes");
    uint8_t kv[32];
    for (int i = 0; i < 32; i++)
        kv[i] = (uint8_t)(i * 7 + 1);
    sea_key_params kp = {.type = SEA_KEY_AES, .label = "kpsa-like"};
    sea_obj key;
    ck_assert_int_eq(sea_key_import_secret(se, &kp, kv, sizeof(kv), &key), SEA_OK);
    const uint8_t iv[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    const uint8_t aad[] = "header";
    const uint8_t pt[] = "sensitive oneM2M payload, longer than one block";
    sea_aead a = {iv, sizeof(iv), aad, sizeof(aad), 0};
    uint8_t ct[128], back[128], ref[128];
    size_t ctlen = sizeof(ct), backlen = sizeof(back);
    ck_assert_int_eq(sea_encrypt(se, key, SEA_ALG_AES_GCM, &a, pt, sizeof(pt), ct, &ctlen), SEA_OK);
    ck_assert_uint_eq(ctlen, sizeof(pt) + 16);
    /* the same with OpenSSL directly */
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int l1, l2;
    ck_assert(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, kv, iv));
    ck_assert(EVP_EncryptUpdate(c, NULL, &l1, aad, sizeof(aad)));
    ck_assert(EVP_EncryptUpdate(c, ref, &l1, pt, sizeof(pt)));
    ck_assert(EVP_EncryptFinal_ex(c, ref + l1, &l2));
    ck_assert(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, ref + l1 + l2));
    EVP_CIPHER_CTX_free(c);
    ck_assert_mem_eq(ct, ref, ctlen);
    ck_assert_int_eq(sea_decrypt(se, key, SEA_ALG_AES_GCM, &a, ct, ctlen, back, &backlen), SEA_OK);
    ck_assert_uint_eq(backlen, sizeof(pt));
    ck_assert_mem_eq(back, pt, sizeof(pt));
    ct[3] ^= 1;
    memset(back, 0xAA, sizeof(back));
    backlen = sizeof(back);
    ck_assert_int_eq(sea_decrypt(se, key, SEA_ALG_AES_GCM, &a, ct, ctlen, back, &backlen),
                     SEA_ERR_DATA_INVALID);
    for (size_t i = 0; i < sizeof(pt); i++)
        ck_assert_uint_eq(back[i], 0xAA); /* nothing released */
    sea_aead noiv = {NULL, 0, NULL, 0, 0};
    ck_assert_int_eq(sea_encrypt(se, key, SEA_ALG_AES_GCM, &noiv, pt, 1, ct, &ctlen), SEA_ERR_ARGS);
    /* the value never comes back */
    sea_object_info oi;
    ck_assert_int_eq(sea_object_info_get(se, key, &oi), SEA_OK);
    ck_assert(!oi.extractable);
    sea_se_close(se);
}
END_TEST

START_TEST(test_hmac_and_digest)
{
    make_se("mac", 0);
    sea_se *se = open_user("mac");
    uint8_t kv[32];
    memset(kv, 0x0b, sizeof(kv));
    sea_key_params kp = {.type = SEA_KEY_GENERIC_SECRET, .label = "ke"};
    sea_obj key;
    ck_assert_int_eq(sea_key_import_secret(se, &kp, kv, sizeof(kv), &key), SEA_OK);
    const uint8_t msg[] = "oneM2M Enrolment Key to Master Credential derivationmaf.example.com";
    uint8_t mac[32], ref[32];
    size_t maclen = sizeof(mac);
    unsigned reflen = 0;
    ck_assert_int_eq(sea_sign(se, key, SEA_ALG_HMAC_SHA256, msg, sizeof(msg) - 1, mac, &maclen),
                     SEA_OK);
    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), kv, sizeof(kv), msg, sizeof(msg) - 1, ref, &reflen));
    ck_assert_uint_eq(maclen, 32);
    ck_assert_mem_eq(mac, ref, 32);
    ck_assert_int_eq(sea_verify(se, key, SEA_ALG_HMAC_SHA256, msg, sizeof(msg) - 1, mac, maclen),
                     SEA_OK);
    mac[0] ^= 1;
    ck_assert_int_eq(sea_verify(se, key, SEA_ALG_HMAC_SHA256, msg, sizeof(msg) - 1, mac, maclen),
                     SEA_ERR_SIGNATURE_INVALID);
    uint8_t d[64];
    size_t dlen = sizeof(d);
    static const uint8_t abc_sha256[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
                                           0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
                                           0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
                                           0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    ck_assert_int_eq(sea_digest(se, SEA_ALG_SHA256, (const uint8_t *)"abc", 3, d, &dlen), SEA_OK);
    ck_assert_uint_eq(dlen, 32);
    ck_assert_mem_eq(d, abc_sha256, 32);
    uint8_t r1[32] = {0}, r2[32] = {0};
    ck_assert_int_eq(sea_random(se, r1, sizeof(r1)), SEA_OK);
    ck_assert_int_eq(sea_random(se, r2, sizeof(r2)), SEA_OK);
    ck_assert_mem_ne(r1, r2, sizeof(r1));
    sea_se_close(se);
}
END_TEST

/* ---- sensitive data objects ---- */

START_TEST(test_sensitive_data_objects)
{
    make_se("sdo", 0);
    sea_se *se = open_user("sdo");
    const uint8_t data[] = {0, 1, 2, 0xff, 'x', 0};
    ck_assert_int_eq(sea_data_create(se, "cred-1", "CAE0001", "acp1 acp2", data, sizeof(data)),
                     SEA_OK);
    ck_assert_int_eq(sea_data_create(se, "cred-1", "CAE0001", NULL, data, 1), SEA_ERR_EXISTS);
    ck_assert_int_eq(sea_data_create(se, "cred-2", NULL, NULL, data, 1), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_data_create(se, "", "CAE0001", NULL, data, 1), SEA_ERR_ARGS);
    size_t len = 0;
    ck_assert_int_eq(sea_data_retrieve(se, "cred-1", NULL, &len, NULL), SEA_OK);
    ck_assert_uint_eq(len, sizeof(data));
    uint8_t buf[64];
    len = 2;
    ck_assert_int_eq(sea_data_retrieve(se, "cred-1", buf, &len, NULL), SEA_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(len, sizeof(data));
    sea_data_info info;
    len = sizeof(buf);
    ck_assert_int_eq(sea_data_retrieve(se, "cred-1", buf, &len, &info), SEA_OK);
    ck_assert_mem_eq(buf, data, sizeof(data));
    ck_assert_str_eq(info.resource_id, "cred-1");
    ck_assert_str_eq(info.creator, "CAE0001");
    ck_assert_str_eq(info.acp_ids, "acp1 acp2");
    ck_assert_uint_eq(info.size, sizeof(data));
    ck_assert(info.creation_time > 0 && info.last_modified >= info.creation_time);
    ck_assert_int_eq(sea_data_update(se, "cred-1", (const uint8_t *)"new", 3), SEA_OK);
    len = sizeof(buf);
    ck_assert_int_eq(sea_data_retrieve(se, "cred-1", buf, &len, &info), SEA_OK);
    ck_assert_uint_eq(len, 3);
    ck_assert_mem_eq(buf, "new", 3);
    ck_assert_uint_eq(info.size, 3);
    /* without a login the object cannot be seen */
    ck_assert_int_eq(sea_logout(se), SEA_OK);
    len = sizeof(buf);
    ck_assert_int_eq(sea_data_retrieve(se, "cred-1", buf, &len, NULL), SEA_ERR_NOT_FOUND);
    ck_assert_int_eq(sea_data_create(se, "cred-3", "CAE0001", NULL, data, 1),
                     SEA_ERR_NOT_LOGGED_IN);
    ck_assert_int_eq(sea_login(se, SEA_USER, PIN, strlen(PIN)), SEA_OK);
    ck_assert_int_eq(sea_data_delete(se, "cred-1"), SEA_OK);
    ck_assert_int_eq(sea_data_delete(se, "cred-1"), SEA_ERR_NOT_FOUND);
    ck_assert_int_eq(sea_rv_onem2m(SEA_ERR_NOT_FOUND), 4004);
    sea_se_close(se);
}
END_TEST

START_TEST(test_isolation_between_ses)
{
    make_se("stakeholder-a", 0);
    make_se("stakeholder-b", 0);
    sea_se *a = open_user("stakeholder-a"), *b = open_user("stakeholder-b");
    sea_key_params kp = {.type = SEA_KEY_GENERIC_SECRET, .bits = 256, .label = "km"};
    sea_obj key;
    ck_assert_int_eq(sea_key_generate(a, &kp, &key, NULL), SEA_OK);
    ck_assert_int_eq(sea_data_create(a, "secret", "CSE-A", NULL, (const uint8_t *)"a", 1), SEA_OK);
    uint8_t mac[32];
    size_t maclen = sizeof(mac);
    ck_assert_int_eq(sea_sign(b, key, SEA_ALG_HMAC_SHA256, (const uint8_t *)"x", 1, mac, &maclen),
                     SEA_ERR_NOT_FOUND);
    sea_obj f;
    ck_assert_int_eq(sea_object_find(b, "km", SEA_CLASS_ANY, &f), SEA_ERR_NOT_FOUND);
    size_t len = 8;
    uint8_t buf[8];
    ck_assert_int_eq(sea_data_retrieve(b, "secret", buf, &len, NULL), SEA_ERR_NOT_FOUND);
    ck_assert_int_eq(sea_object_destroy(b, key), SEA_ERR_NOT_FOUND);
    maclen = sizeof(mac);
    ck_assert_int_eq(sea_sign(a, key, SEA_ALG_HMAC_SHA256, (const uint8_t *)"x", 1, mac, &maclen),
                     SEA_OK);
    sea_se_close(a);
    sea_se_close(b);
}
END_TEST

/* ---- errors, damaged stores, fork ---- */

START_TEST(test_null_arguments)
{
    sea_se *se = NULL;
    size_t n = 0;
    sea_origin o = SEA_ORIGIN_NONE;
    ck_assert_int_eq(sea_open(NULL, conf), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_se_list(ctx, NULL, &n), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_se_open(ctx, NULL, &se), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_login(NULL, SEA_USER, PIN, 4), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_sign(NULL, 1, SEA_ALG_ECDSA, NULL, 0, NULL, NULL), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_data_create(NULL, "a", "b", NULL, NULL, 0), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_random(NULL, NULL, 0), SEA_ERR_ARGS);
    ck_assert_str_ne(sea_last_error(&o), "");
    ck_assert_int_eq(o, SEA_ORIGIN_API);
    make_se("n", 0);
    se = open_user("n");
    ck_assert_int_eq(sea_login(se, SEA_USER, NULL, 4), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_login(se, (sea_user)7, PIN, 4), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_key_generate(se, NULL, NULL, NULL), SEA_ERR_ARGS);
    sea_key_params kp = {.type = SEA_KEY_AES, .bits = 256, .label = NULL};
    sea_obj k;
    ck_assert_int_eq(sea_key_generate(se, &kp, &k, NULL), SEA_ERR_ARGS);
    kp.label = "aes";
    kp.bits = 100;
    ck_assert_int_eq(sea_key_generate(se, &kp, &k, NULL), SEA_ERR_ARGS);
    kp.bits = 136; /* 17 bytes: not an AES size */
    ck_assert_int_ne(sea_key_generate(se, &kp, &k, NULL), SEA_OK);
    ck_assert_int_eq(sea_digest(se, SEA_ALG_AES_GCM, (const uint8_t *)"x", 1, NULL, &n),
                     SEA_ERR_ARGS);
    ck_assert_int_eq(sea_data_retrieve(se, "x", NULL, NULL, NULL), SEA_ERR_ARGS);
    sea_se_close(se);
    ck_assert_str_eq(sea_rv_name(SEA_ERR_PIN_LOCKED), "SEA_ERR_PIN_LOCKED");
    ck_assert_int_eq(sea_rv_onem2m(SEA_ERR_DENIED), 4103);
    ck_assert_int_eq(sea_rv_onem2m(SEA_ERR_UNSUPPORTED), 5001);
}
END_TEST

START_TEST(test_missing_config_is_an_error)
{
    sea_ctx *x = NULL;
    char path[300];
    snprintf(path, sizeof(path), "%s/absent.conf", dir);
    ck_assert_int_ne(sea_open(&x, path), SEA_OK);
    ck_assert_ptr_null(x);
    ck_assert_str_ne(sea_last_error(NULL), "");
}
END_TEST

static void file_sha(const char *path, unsigned char out[32])
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    EVP_DigestInit_ex(m, EVP_sha256(), NULL);
    unsigned char buf[4096];
    size_t r;
    while ((r = fread(buf, 1, sizeof(buf), f)) > 0)
        EVP_DigestUpdate(m, buf, r);
    EVP_DigestFinal_ex(m, out, NULL);
    EVP_MD_CTX_free(m);
    fclose(f);
}

START_TEST(test_damaged_store_reports_and_keeps_file)
{
    /* a second device whose store is garbage: clear error, the good device keeps working */
    sea_close(ctx);
    ctx = NULL;
    char bad[300], db[320];
    snprintf(bad, sizeof(bad), "%s/bad", dir);
    ck_assert_int_eq(mkdir(bad, 0700), 0);
    snprintf(db, sizeof(db), "%s/sea.db", bad);
    FILE *f = fopen(db, "wb");
    for (int i = 0; i < 8192; i++)
        fputc((i * 131) & 0xff, f);
    fclose(f);
    unsigned char before[32], after[32];
    file_sha(db, before);
    char extra[400];
    snprintf(extra, sizeof(extra), "[device broken]\nbackend = soft\npath = %s\n", bad);
    write_conf(extra);
    ck_assert_int_eq(sea_open(&ctx, conf), SEA_OK);
    sea_device_info *d;
    size_t n;
    ck_assert_int_eq(sea_device_list(ctx, &d, &n), SEA_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(d[0].status, SEA_OK);
    ck_assert_int_eq(d[1].status, SEA_ERR_DEVICE);
    ck_assert_ptr_nonnull(strstr(d[1].error, "damaged"));
    sea_free(d);
    sea_se_info i = make_se("still-works", 0);
    ck_assert_str_eq(i.device, "soft");
    sea_close(ctx);
    ctx = NULL;
    file_sha(db, after);
    ck_assert_mem_eq(before, after, 32);
    write_conf(NULL);
    ck_assert_int_eq(sea_open(&ctx, conf), SEA_OK);
}
END_TEST

START_TEST(test_fork_child_must_reopen)
{
    make_se("f", 0);
    sea_se *se = open_user("f");
    /* The child's verdict comes through a pipe: under valgrind its exit status is valgrind's. */
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        unsigned char bad = 0;
        sea_se_info *list;
        size_t n;
        uint8_t r[8];
        if (sea_se_list(ctx, &list, &n) != SEA_ERR_NOT_INITIALIZED)
            bad |= 1;
        if (sea_random(se, r, sizeof(r)) != SEA_ERR_NOT_INITIALIZED)
            bad |= 2;
        sea_ctx *fresh = NULL;
        if (sea_open(&fresh, conf) != SEA_OK)
            bad |= 4;
        sea_se *s2 = NULL;
        if (!bad && (sea_se_open(fresh, "f", &s2) != SEA_OK ||
                     sea_login(s2, SEA_USER, PIN, strlen(PIN)) != SEA_OK ||
                     sea_random(s2, r, sizeof(r)) != SEA_OK))
            bad |= 8;
        sea_se_close(s2);
        sea_close(fresh);
        bad |= 0x80; /* "the child got this far" */
        if (write(fds[1], &bad, 1) != 1)
            _exit(1);
        _exit(0);
    }
    close(fds[1]);
    unsigned char verdict = 0;
    ck_assert_int_eq(read(fds[0], &verdict, 1), 1);
    close(fds[0]);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_uint_eq(verdict, 0x80);
    uint8_t r[8];
    ck_assert_int_eq(sea_random(se, r, sizeof(r)), SEA_OK); /* the parent is unaffected */
    sea_se_close(se);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("api");
    TCase *t = tcase_create("api");
    tcase_set_timeout(t, 60);
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_create_se_descriptor);
    tcase_add_test(t, test_create_se_bad_params);
    tcase_add_test(t, test_slot_ids_stable);
    tcase_add_test(t, test_delete_busy_se);
    tcase_add_test(t, test_pin_lockout);
    tcase_add_test(t, test_ec_sign_verify);
    tcase_add_test(t, test_import_private_pem);
    tcase_add_test(t, test_aes_gcm_against_openssl);
    tcase_add_test(t, test_hmac_and_digest);
    tcase_add_test(t, test_sensitive_data_objects);
    tcase_add_test(t, test_isolation_between_ses);
    tcase_add_test(t, test_null_arguments);
    tcase_add_test(t, test_missing_config_is_an_error);
    tcase_add_test(t, test_damaged_store_reports_and_keeps_file);
    tcase_add_test(t, test_fork_child_must_reopen);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

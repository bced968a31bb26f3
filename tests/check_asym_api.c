/* RSA and Ed25519 keys through the native API (include/sea/sea.h): generation, the default
 * signature algorithms checked against OpenSSL on the key sea_public_key returns, object info,
 * and import of PEM private keys. */
#include <check.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sea/sea.h"
#include "apicheck.h"

static sea_se *se;

static const uint8_t MSG[] = "a oneM2M request";

static void setup(void)
{
    api_store_open("asym-api");
    se = api_se_new("asym", NULL);
}

static void teardown(void)
{
    sea_se_close(se);
    se = NULL;
    api_store_close();
}

static EVP_PKEY *public_key(sea_obj key)
{
    uint8_t der[1024];
    size_t len = sizeof(der);
    ck_assert_int_eq(sea_public_key(se, key, der, &len), SEA_OK);
    const unsigned char *p = der;
    EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long)len);
    ck_assert_ptr_nonnull(k);
    return k;
}

/* OpenSSL's verdict on a signature of MSG. */
static bool ossl_verifies(EVP_PKEY *k, sea_alg alg, const uint8_t *sig, size_t len)
{
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    const EVP_MD *md = alg == SEA_ALG_ED25519 ? NULL : EVP_sha256();
    ck_assert(EVP_DigestVerifyInit(mc, &pc, md, NULL, k) == 1);
    if (alg == SEA_ALG_RSA_PSS_SHA256) {
        ck_assert(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) == 1);
        ck_assert(EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 32) == 1);
    }
    int ok = EVP_DigestVerify(mc, sig, len, MSG, sizeof(MSG));
    EVP_MD_CTX_free(mc);
    return ok == 1;
}

static void sign_and_check(sea_obj key, sea_obj pub, sea_alg alg, size_t want_len)
{
    uint8_t sig[512];
    size_t len = 0;
    ck_assert_int_eq(sea_sign(se, key, alg, MSG, sizeof(MSG), NULL, &len), SEA_OK);
    ck_assert_uint_eq(len, want_len);
    ck_assert_int_eq(sea_sign(se, key, alg, MSG, sizeof(MSG), sig, &len), SEA_OK);
    ck_assert_uint_eq(len, want_len);
    EVP_PKEY *k = public_key(pub);
    ck_assert(ossl_verifies(k, alg, sig, len));
    ck_assert_int_eq(sea_verify(se, pub, alg, MSG, sizeof(MSG), sig, len), SEA_OK);
    sig[len / 2] ^= 1;
    ck_assert(!ossl_verifies(k, alg, sig, len));
    ck_assert_int_eq(sea_verify(se, pub, alg, MSG, sizeof(MSG), sig, len),
                     SEA_ERR_SIGNATURE_INVALID);
    EVP_PKEY_free(k);
}

START_TEST(test_rsa_2048_generate_sign_info)
{
    sea_key_params p = {.type = SEA_KEY_RSA_2048, .label = "cse-rsa"};
    sea_obj key = 0, pub = 0;
    ck_assert_int_eq(sea_key_generate(se, &p, &key, &pub), SEA_OK);
    ck_assert_uint_ne(pub, 0);
    sign_and_check(key, pub, SEA_ALG_RSA_PSS_SHA256, 256);
    sign_and_check(key, pub, SEA_ALG_RSA_PKCS1_SHA256, 256);
    /* an RSA key does not do ECDSA or Ed25519 */
    uint8_t sig[512];
    size_t len = sizeof(sig);
    ck_assert_int_ne(sea_sign(se, key, SEA_ALG_ECDSA_SHA256, MSG, sizeof(MSG), sig, &len), SEA_OK);
    ck_assert_int_ne(sea_sign(se, key, SEA_ALG_ED25519, MSG, sizeof(MSG), sig, &len), SEA_OK);
    sea_object_info oi;
    ck_assert_int_eq(sea_object_info_get(se, key, &oi), SEA_OK);
    ck_assert_int_eq(oi.key_type, SEA_KEY_RSA_2048);
    ck_assert_uint_eq(oi.bits, 2048);
    ck_assert_uint_eq(oi.usage, SEA_USE_SIGN); /* the default: a signing key pair */
    ck_assert_int_eq(oi.sensitive, 1);
    ck_assert_int_eq(oi.extractable, 0);
    ck_assert_int_eq(sea_object_info_get(se, pub, &oi), SEA_OK);
    ck_assert_int_eq(oi.key_type, SEA_KEY_RSA_2048);
    ck_assert_uint_eq(oi.usage, SEA_USE_VERIFY);
}
END_TEST

START_TEST(test_ed25519_generate_sign_info)
{
    sea_key_params p = {.type = SEA_KEY_ED25519, .label = "cse-ed"};
    sea_obj key = 0, pub = 0;
    ck_assert_int_eq(sea_key_generate(se, &p, &key, &pub), SEA_OK);
    sign_and_check(key, pub, SEA_ALG_ED25519, 64);
    sea_object_info oi;
    ck_assert_int_eq(sea_object_info_get(se, key, &oi), SEA_OK);
    ck_assert_int_eq(oi.key_type, SEA_KEY_ED25519);
    ck_assert_uint_eq(oi.bits, 255);
    uint8_t sig[64];
    size_t len = sizeof(sig);
    ck_assert_int_ne(sea_sign(se, key, SEA_ALG_RSA_PSS_SHA256, MSG, sizeof(MSG), sig, &len),
                     SEA_OK);
}
END_TEST

/* An OpenSSL key as PEM (PKCS#8). */
static char *pem_of(EVP_PKEY *k, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    ck_assert(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1);
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    char *copy = malloc((size_t)n);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, data, (size_t)n);
    *len = (size_t)n;
    BIO_free(b);
    return copy;
}

START_TEST(test_import_rsa_and_ed25519_pem)
{
    EVP_PKEY *keys[] = {EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072),
                        EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")};
    const sea_alg algs[] = {SEA_ALG_RSA_PKCS1_SHA256, SEA_ALG_ED25519};
    const int types[] = {SEA_KEY_RSA_3072, SEA_KEY_ED25519};
    for (int i = 0; i < 2; i++) {
        ck_assert_ptr_nonnull(keys[i]);
        size_t len;
        char *pem = pem_of(keys[i], &len);
        sea_key_params p = {.label = i ? "imported-ed" : "imported-rsa"};
        sea_obj key = 0, pub = 0;
        ck_assert_int_eq(sea_key_import_private(se, &p, (const uint8_t *)pem, len, &key, &pub),
                         SEA_OK);
        free(pem);
        /* the public key stored is the imported one */
        EVP_PKEY *k = public_key(pub);
        ck_assert_int_eq(EVP_PKEY_eq(k, keys[i]), 1);
        EVP_PKEY_free(k);
        sea_object_info oi;
        ck_assert_int_eq(sea_object_info_get(se, key, &oi), SEA_OK);
        ck_assert_int_eq(oi.key_type, types[i]);
        sign_and_check(key, pub, algs[i], i ? 64 : 384);
        EVP_PKEY_free(keys[i]);
    }
}
END_TEST

int main(void)
{
    Suite *su = suite_create("asym-api");
    TCase *tc = tcase_create("keys");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 1200);
    tcase_add_test(tc, test_rsa_2048_generate_sign_info);
    tcase_add_test(tc, test_ed25519_generate_sign_info);
    tcase_add_test(tc, test_import_rsa_and_ed25519_pem);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

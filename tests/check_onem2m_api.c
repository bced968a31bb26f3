/* Tests of sea_derive_onem2m (include/sea/sea.h), the native face of the oneM2M derivations, on
 * the software backend. The derived keys stay in the SE, so each is checked by using it: an
 * HMAC-SHA256 made in the SE against OpenSSL's HMAC with the expected value of the TS-0016
 * digest section 7 (computed there from the TS-0003 formulas), and AES-GCM against OpenSSL with
 * the leftmost 16 bytes (the truncation of doc/onem2m-derivations.md). */
#include <check.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sea/sea.h"
#include "apicheck.h"

static void setup(void)
{
    api_store_open("onem2m");
}

static void teardown(void)
{
    api_store_close();
}

static sea_se *open_se(void)
{
    return api_se_new("cse", NULL);
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

static sea_obj import(sea_se *se, const char *label, const uint8_t *v, size_t len, unsigned use)
{
    sea_key_params p = {.type = SEA_KEY_GENERIC_SECRET, .label = label, .usage = use};
    sea_obj k = 0;
    ck_assert_int_eq(sea_key_import_secret(se, &p, v, len, &k), SEA_OK);
    return k;
}

static sea_obj ke_key(sea_se *se)
{
    uint8_t ke[32];
    for (int i = 0; i < 32; i++)
        ke[i] = (uint8_t)i;
    return import(se, "Ke", ke, sizeof(ke), SEA_USE_DERIVE);
}

static sea_obj derive(sea_se *se, sea_obj base, sea_kdf kdf, const void *in, size_t len,
                      const char *label, unsigned use)
{
    sea_derive_params d = {.kdf = kdf, .input = in, .input_len = len};
    sea_key_params k = {.type = SEA_KEY_GENERIC_SECRET, .label = label, .usage = use};
    sea_obj o = 0;
    sea_rv r = sea_derive_onem2m(se, base, &d, &k, &o);
    ck_assert_msg(r == SEA_OK, "%s: %s", sea_rv_name(r), sea_last_error(NULL));
    return o;
}

/* The key's HMAC-SHA256 of a fixed message equals OpenSSL's under the expected value. */
static void expect_hmac(sea_se *se, sea_obj key, const char *want_hex)
{
    static const uint8_t msg[] = "oneM2M";
    uint8_t want[32], mac[32], ref[32];
    unsigned rl = 0;
    size_t ml = sizeof(mac);
    ck_assert_uint_eq(hex2bin(want_hex, want), 32);
    ck_assert_int_eq(sea_sign(se, key, SEA_ALG_HMAC_SHA256, msg, 6, mac, &ml), SEA_OK);
    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), want, 32, msg, 6, ref, &rl));
    ck_assert_uint_eq(ml, 32);
    ck_assert_int_eq(memcmp(mac, ref, 32), 0);
}

START_TEST(test_native_km_kpsa_usage)
{
    sea_se *se = open_se();
    sea_obj ke = ke_key(se);
    sea_obj km = derive(se, ke, SEA_KDF_KM, "maf.example.com", 15, "Km", SEA_USE_SIGN);
    expect_hmac(se, km, "3055bf32dd9c95586aaffa2ae2e165dfeffd0803566e16bdd343171457da8a5e");
    sea_obj kpsa = derive(se, ke, SEA_KDF_KPSA, "CAE0001", 7, "Kpsa", SEA_USE_SIGN);
    expect_hmac(se, kpsa, "4aa40ce942df42e7da3ceec83c87292bf8a3d3d2b93208701d3eb3defc338b7c");
    sea_derive_params d = {.kdf = SEA_KDF_USAGE,
                           .input = (const uint8_t *)"in-cse.example.com",
                           .input_len = 18,
                           .suid = 22};
    sea_key_params k = {
        .type = SEA_KEY_GENERIC_SECRET, .label = "usage", .usage = SEA_USE_SIGN | SEA_USE_DERIVE};
    sea_obj u = 0;
    ck_assert_int_eq(sea_derive_onem2m(se, ke, &d, &k, &u), SEA_OK);
    /* SUID 22 binds the key to SAEF: no MAC with it (doc/usage-constraints.md) */
    uint8_t mac[32];
    size_t ml = sizeof(mac);
    ck_assert_int_eq(sea_sign(se, u, SEA_ALG_HMAC_SHA256, (const uint8_t *)"x", 1, mac, &ml),
                     SEA_ERR_DENIED);
    /* its value, through what SAEF allows: Ke2e_master = HMAC-SHA256(salt, key) (HKDF-Extract)
     * keeps SUID 22 (a derived key keeps its base's SUID); the E2E message authentication key
     * T(1) = HMAC-SHA256(Ke2e_master, label(1) || 0x01) may be made signature-only (SUID 25),
     * and OpenSSL checks its MAC */
    uint8_t want_u[32], salt[16], want_m[32], want_t[32];
    unsigned wl = 0;
    char hex[65];
    hex2bin("da9e86dc2f0ed07026ce7fe015d905ee0a1c7551568ae507c8927cd6747b17a5", want_u);
    hex2bin("404142434445464748494a4b4c4d4e4f", salt);
    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), salt, 16, want_u, 32, want_m, &wl));
    static const char t1[] = "E2E Message Authentication Key\x01";
    ck_assert_ptr_nonnull(
        HMAC(EVP_sha256(), want_m, 32, (const uint8_t *)t1, sizeof(t1) - 1, want_t, &wl));
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", want_t[i]);
    sea_derive_params dm = {.kdf = SEA_KDF_KE2E_MASTER, .input = salt, .input_len = 16};
    sea_key_params kp = {.type = SEA_KEY_GENERIC_SECRET,
                         .label = "usage-master",
                         .usage = SEA_USE_DERIVE,
                         .suid = 25};
    sea_obj um = 0, ua = 0;
    /* Ke2e_master cannot leave SAEF */
    ck_assert_int_eq(sea_derive_onem2m(se, u, &dm, &kp, &um), SEA_ERR_ARGS);
    kp.suid = 0;
    ck_assert_int_eq(sea_derive_onem2m(se, u, &dm, &kp, &um), SEA_OK);
    sea_object_info mi;
    ck_assert_int_eq(sea_object_info_get(se, um, &mi), SEA_OK);
    ck_assert_uint_eq(mi.suid, 22);
    sea_derive_params da = {.kdf = SEA_KDF_KE2E_MSG_AUTH};
    sea_key_params ap = {.type = SEA_KEY_GENERIC_SECRET,
                         .label = "usage-msg-auth",
                         .usage = SEA_USE_SIGN,
                         .suid = 25};
    ck_assert_int_eq(sea_derive_onem2m(se, um, &da, &ap, &ua), SEA_OK);
    expect_hmac(se, ua, hex);
    sea_object_info info;
    ck_assert_int_eq(sea_object_info_get(se, u, &info), SEA_OK);
    ck_assert_uint_eq(info.suid, 22);
    ck_assert_int_eq(info.extractable, 0);
    ck_assert_int_eq(info.sensitive, 1);
    /* a SUID in the key parameters that contradicts the derivation's */
    k.label = "usage2";
    k.suid = 23;
    ck_assert_int_eq(sea_derive_onem2m(se, ke, &d, &k, &u), SEA_ERR_ARGS);
    sea_se_close(se);
}
END_TEST

START_TEST(test_native_e2e_session_split)
{
    sea_se *se = open_se();
    sea_obj ke = ke_key(se);
    sea_obj kpsa = derive(se, ke, SEA_KDF_KPSA, "CAE0001", 7, "Kpsa", SEA_USE_DERIVE);
    uint8_t salt[16];
    hex2bin("404142434445464748494a4b4c4d4e4f", salt);
    sea_obj master =
        derive(se, kpsa, SEA_KDF_KE2E_MASTER, salt, 16, "master", SEA_USE_DERIVE | SEA_USE_SIGN);
    expect_hmac(se, master, "bda28658061ba7da13d9356e56107fadba19b3b61e3c9d3ef7b30b6ad388326c");
    sea_obj att = derive(se, master, SEA_KDF_KE2E_ATT_CONF, NULL, 0, "attconf", SEA_USE_SIGN);
    expect_hmac(se, att, "44cdd848e3864b2ff5d11170af740ea589ecaae1478e9793bc4109ccca3c390f");

    /* sessionESPrimKey as an AES-128 key (A128GCM): the leftmost 16 bytes of the digest value */
    uint8_t pk[32] = {0}, rands[32];
    pk[31] = 1;
    for (int i = 0; i < 32; i++)
        rands[i] = (uint8_t)(0x10 + i);
    sea_obj pw = import(se, "pairwise", pk, sizeof(pk), SEA_USE_DERIVE);
    sea_derive_params d = {.kdf = SEA_KDF_SESSION_ESPRIM, .input = rands, .input_len = 32};
    sea_key_params k = {.type = SEA_KEY_AES, .bits = 128, .label = "cek"};
    sea_obj cek = 0;
    ck_assert_int_eq(sea_derive_onem2m(se, pw, &d, &k, &cek), SEA_OK);
    uint8_t key16[32], iv[12] = {1, 2, 3}, ct[64], ref[64];
    hex2bin("703ebe6e1d9a5f9fc288f0c671f5be66b2454ab07e6e9b5255e3e5ec5aa4a32b", key16);
    sea_aead a = {.iv = iv, .iv_len = 12};
    size_t cl = sizeof(ct);
    ck_assert_int_eq(
        sea_encrypt(se, cek, SEA_ALG_AES_GCM, &a, (const uint8_t *)"hello", 5, ct, &cl), SEA_OK);
    ck_assert_uint_eq(cl, 5 + 16);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int l1 = 0, l2 = 0;
    ck_assert_int_eq(EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, key16, iv), 1);
    ck_assert_int_eq(EVP_EncryptUpdate(c, ref, &l1, (const uint8_t *)"hello", 5), 1);
    ck_assert_int_eq(EVP_EncryptFinal_ex(c, ref + l1, &l2), 1);
    ck_assert_int_eq(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, ref + 5), 1);
    EVP_CIPHER_CTX_free(c);
    ck_assert_int_eq(memcmp(ct, ref, 21), 0);
    /* 31 bytes of rands, a 100-bit key */
    d.input_len = 31;
    k.label = "cek2";
    ck_assert_int_eq(sea_derive_onem2m(se, pw, &d, &k, &cek), SEA_ERR_ARGS);
    d.input_len = 32;
    k.bits = 100;
    ck_assert_int_eq(sea_derive_onem2m(se, pw, &d, &k, &cek), SEA_ERR_ARGS);

    /* the exporter split */
    uint8_t ex[48], id[16];
    for (int i = 0; i < 48; i++)
        ex[i] = (uint8_t)(0x80 + i);
    sea_obj exo = import(se, "exporter", ex, sizeof(ex), SEA_USE_DERIVE);
    sea_derive_params sp = {.kdf = SEA_KDF_EXPORTER_SPLIT, .id_out = id};
    sea_key_params sk = {.type = SEA_KEY_GENERIC_SECRET, .label = "Ke2", .usage = SEA_USE_SIGN};
    sea_obj ke2 = 0;
    ck_assert_int_eq(sea_derive_onem2m(se, exo, &sp, &sk, &ke2), SEA_OK);
    ck_assert_int_eq(memcmp(id, ex, 16), 0);
    expect_hmac(se, ke2, "909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
    sea_se_close(se);
}
END_TEST

START_TEST(test_native_bad_input)
{
    sea_se *se = open_se();
    sea_obj ke = ke_key(se), o = 0;
    sea_key_params k = {.type = SEA_KEY_GENERIC_SECRET, .label = "x", .usage = SEA_USE_SIGN};
    sea_derive_params d = {.kdf = (sea_kdf)99, .input = (const uint8_t *)"a", .input_len = 1};
    ck_assert_int_eq(sea_derive_onem2m(se, ke, &d, &k, &o), SEA_ERR_ARGS);
    d.kdf = SEA_KDF_KM;
    d.input = (const uint8_t *)"\xff\xfe";
    d.input_len = 2;
    ck_assert_int_eq(sea_derive_onem2m(se, ke, &d, &k, &o), SEA_ERR_ARGS);
    ck_assert_ptr_nonnull(strstr(sea_last_error(NULL), "UTF-8"));
    d.input = NULL;
    ck_assert_int_eq(sea_derive_onem2m(se, ke, &d, &k, &o), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_derive_onem2m(se, ke, NULL, &k, &o), SEA_ERR_ARGS);
    /* a key that may not derive */
    uint8_t v[32] = {7};
    sea_obj mac = import(se, "mac", v, sizeof(v), SEA_USE_SIGN);
    d.input = (const uint8_t *)"maf.example.com";
    d.input_len = 15;
    ck_assert_int_eq(sea_derive_onem2m(se, mac, &d, &k, &o), SEA_ERR_DENIED);
    sea_se_close(se);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("onem2m_api");
    TCase *tc = tcase_create("derive");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_native_km_kpsa_usage);
    tcase_add_test(tc, test_native_e2e_session_split);
    tcase_add_test(tc, test_native_bad_input);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

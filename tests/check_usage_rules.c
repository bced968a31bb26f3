/* Tests of usage_check itself (provider/usage.c), below the PKCS#11 and native faces: the whole
 * table of doc/usage-constraints.md, the TLS-PSK releases (which only the PSK lookup reaches),
 * the date rules and the messages. tests/check_usage.c drives the same rules through the
 * module and the native API. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "usage.h"

static struct attrs *key_with(CK_OBJECT_CLASS cls, CK_KEY_TYPE kt, CK_ULONG suid)
{
    struct attrs *a = attrs_new();
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(attrs_set_ulong(a, CKA_CLASS, cls), CKR_OK);
    ck_assert_int_eq(attrs_set_ulong(a, CKA_KEY_TYPE, kt), CKR_OK);
    if (suid)
        ck_assert_int_eq(attrs_set_ulong(a, CKA_SEA_SUID, suid), CKR_OK);
    return a;
}

static CK_RV check(CK_OBJECT_CLASS cls, CK_KEY_TYPE kt, CK_ULONG suid, enum usage_op op,
                   CK_MECHANISM_TYPE mech)
{
    struct attrs *a = key_with(cls, kt, suid);
    err_clear();
    CK_RV rv = usage_check(a, op, mech);
    attrs_unref(a);
    return rv;
}

#define ALLOWED(cls, kt, suid, op, mech) ck_assert_uint_eq(check(cls, kt, suid, op, mech), CKR_OK)
#define REFUSED(cls, kt, suid, op, mech)                                                           \
    ck_assert_uint_eq(check(cls, kt, suid, op, mech), CKR_KEY_FUNCTION_NOT_PERMITTED)

#define SEC CKO_SECRET_KEY
#define PRV CKO_PRIVATE_KEY
#define PUB CKO_PUBLIC_KEY
#define GEN CKK_GENERIC_SECRET
#define AES CKK_AES

START_TEST(test_unconstrained_key_allows_everything)
{
    static const enum usage_op ops[] = {USE_ENCRYPT, USE_DECRYPT, USE_SIGN,   USE_VERIFY,
                                        USE_WRAP,    USE_UNWRAP,  USE_DERIVE, USE_PSK_MEF,
                                        USE_PSK_MAF, USE_PSK_SAEF};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        ALLOWED(SEC, GEN, 0, ops[i], CKM_SHA256_HMAC);
        ALLOWED(SEC, GEN, 0, ops[i], CKM_HKDF_DERIVE);
    }
}
END_TEST

START_TEST(test_psk_release_only_for_its_framework)
{
    /* pre-provisioned (1x), RSPF-provisioned (2x) and MAF-distributed (3x) keys alike */
    ALLOWED(SEC, GEN, 10, USE_PSK_MEF, 0);
    REFUSED(SEC, GEN, 10, USE_PSK_MAF, 0);
    REFUSED(SEC, GEN, 10, USE_PSK_SAEF, 0);
    ALLOWED(SEC, GEN, 11, USE_PSK_MAF, 0);
    ALLOWED(SEC, GEN, 21, USE_PSK_MAF, 0);
    REFUSED(SEC, GEN, 11, USE_PSK_SAEF, 0);
    ALLOWED(SEC, GEN, 12, USE_PSK_SAEF, 0);
    ALLOWED(SEC, GEN, 22, USE_PSK_SAEF, 0);
    ALLOWED(SEC, GEN, 32, USE_PSK_SAEF, 0);
    REFUSED(SEC, GEN, 12, USE_PSK_MEF, 0);
    for (CK_ULONG s = 13; s <= 15; s++) {
        REFUSED(SEC, GEN, s, USE_PSK_MEF, 0);
        REFUSED(SEC, GEN, s, USE_PSK_MAF, 0);
        REFUSED(SEC, GEN, s, USE_PSK_SAEF, 0);
    }
}
END_TEST

START_TEST(test_tls_frameworks)
{
    for (CK_ULONG s = 10; s <= 12; s++) {
        REFUSED(SEC, GEN, s, USE_SIGN, CKM_SHA256_HMAC);
        REFUSED(SEC, GEN, s, USE_VERIFY, CKM_SHA256_HMAC);
        REFUSED(SEC, AES, s, USE_ENCRYPT, CKM_AES_GCM);
        REFUSED(SEC, AES, s, USE_WRAP, CKM_AES_KEY_WRAP);
        REFUSED(SEC, GEN, s, USE_DERIVE, CKM_HKDF_DERIVE);
        REFUSED(SEC, GEN, s, USE_DERIVE, CKM_SEA_ONEM2M_KM);
        REFUSED(SEC, GEN, s, USE_DERIVE, CKM_SEA_ONEM2M_SESSION_ESPRIM);
    }
    /* certificates (4x): TLS client authentication and ECDH */
    for (CK_ULONG s = 40; s <= 42; s++) {
        ALLOWED(PRV, CKK_EC, s, USE_SIGN, CKM_ECDSA_SHA256);
        ALLOWED(PUB, CKK_EC, s, USE_VERIFY, CKM_ECDSA_SHA256);
        ALLOWED(PRV, CKK_RSA, s, USE_SIGN, CKM_SHA256_RSA_PKCS_PSS);
        ALLOWED(PRV, CKK_EC, s, USE_DERIVE, CKM_ECDH1_DERIVE);
        REFUSED(PRV, CKK_RSA, s, USE_DECRYPT, CKM_RSA_PKCS_OAEP);
    }
    /* 10.3.6.1: Ke2e_master from Kpsa, for SAEF only */
    ALLOWED(SEC, GEN, 12, USE_DERIVE, CKM_SEA_ONEM2M_KE2E_MASTER);
    ALLOWED(SEC, GEN, 22, USE_DERIVE, CKM_SEA_ONEM2M_KE2E_MASTER);
    REFUSED(SEC, GEN, 10, USE_DERIVE, CKM_SEA_ONEM2M_KE2E_MASTER);
    REFUSED(SEC, GEN, 11, USE_DERIVE, CKM_SEA_ONEM2M_KE2E_MASTER);
}
END_TEST

START_TEST(test_esprim)
{
    ALLOWED(SEC, GEN, 13, USE_DERIVE, CKM_SEA_ONEM2M_SESSION_ESPRIM);
    ALLOWED(SEC, AES, 23, USE_ENCRYPT, CKM_AES_GCM);
    ALLOWED(SEC, AES, 33, USE_DECRYPT, CKM_AES_GCM);
    REFUSED(SEC, AES, 13, USE_ENCRYPT, CKM_AES_CBC_PAD);
    REFUSED(SEC, AES, 13, USE_WRAP, CKM_AES_GCM);
    REFUSED(SEC, GEN, 13, USE_SIGN, CKM_SHA256_HMAC);
    REFUSED(SEC, GEN, 13, USE_DERIVE, CKM_SEA_ONEM2M_KE2E_MASTER);
    REFUSED(SEC, GEN, 13, USE_DERIVE, CKM_SEA_ONEM2M_KE2E_KEY);
    ALLOWED(PRV, CKK_EC, 43, USE_SIGN, CKM_ECDSA);
    ALLOWED(PRV, CKK_EC, 43, USE_DERIVE, CKM_ECDH1_DERIVE);
    REFUSED(SEC, GEN, 13, USE_PSK_SAEF, 0);
}
END_TEST

START_TEST(test_esdata)
{
    /* encryption: any cipher, any key wrap, ECDH */
    ALLOWED(SEC, AES, 14, USE_ENCRYPT, CKM_AES_CBC_PAD);
    ALLOWED(SEC, AES, 24, USE_DECRYPT, CKM_AES_GCM);
    ALLOWED(PUB, CKK_RSA, 44, USE_ENCRYPT, CKM_RSA_PKCS_OAEP);
    ALLOWED(SEC, AES, 34, USE_WRAP, CKM_AES_KEY_WRAP_PAD);
    ALLOWED(PRV, CKK_RSA, 44, USE_UNWRAP, CKM_RSA_PKCS_OAEP);
    ALLOWED(PRV, CKK_EC, 44, USE_DERIVE, CKM_ECDH1_DERIVE);
    REFUSED(SEC, AES, 14, USE_SIGN, CKM_AES_CMAC);
    REFUSED(PRV, CKK_EC, 44, USE_SIGN, CKM_ECDSA);
    REFUSED(SEC, GEN, 14, USE_DERIVE, CKM_HKDF_DERIVE);
    /* signature-only: any signature, nothing else */
    ALLOWED(SEC, GEN, 15, USE_SIGN, CKM_SHA256_HMAC);
    ALLOWED(SEC, AES, 25, USE_VERIFY, CKM_AES_CMAC);
    ALLOWED(PRV, CKK_EC_EDWARDS, 45, USE_SIGN, CKM_EDDSA);
    REFUSED(SEC, AES, 15, USE_ENCRYPT, CKM_AES_GCM);
    REFUSED(SEC, AES, 15, USE_UNWRAP, CKM_AES_KEY_WRAP);
    REFUSED(PRV, CKK_EC, 45, USE_DERIVE, CKM_ECDH1_DERIVE);
}
END_TEST

START_TEST(test_suid_naming_no_feature_refuses_all)
{
    for (CK_ULONG s = 16; s <= 99; s += 10) {
        REFUSED(SEC, GEN, s, USE_SIGN, CKM_SHA256_HMAC);
        REFUSED(SEC, AES, s, USE_ENCRYPT, CKM_AES_GCM);
        REFUSED(SEC, GEN, s, USE_DERIVE, CKM_HKDF_DERIVE);
        REFUSED(SEC, GEN, s, USE_PSK_SAEF, 0);
    }
    for (CK_ULONG s = 17; s <= 19; s++)
        REFUSED(SEC, GEN, s, USE_VERIFY, CKM_SHA256_HMAC);
    check(SEC, GEN, 17, USE_SIGN, CKM_SHA256_HMAC);
    ck_assert_str_eq(err_get()->msg,
                     "the key's SUID 17 names no security feature: it cannot be used");
}
END_TEST

START_TEST(test_messages_name_suid_and_features)
{
    check(SEC, GEN, 12, USE_SIGN, CKM_SHA256_HMAC);
    ck_assert_int_eq(err_get()->origin, ORIGIN_CORE);
    ck_assert_uint_eq(err_get()->rv, CKR_KEY_FUNCTION_NOT_PERMITTED);
    ck_assert_str_eq(err_get()->msg, "the key's SUID 12 binds it to SAEF ((D)TLS security "
                                     "association); CKM_SHA256_HMAC signing serves ESData "
                                     "signature-only");
    check(SEC, AES, 15, USE_ENCRYPT, CKM_AES_GCM);
    ck_assert_str_eq(err_get()->msg, "the key's SUID 15 binds it to ESData signature-only; "
                                     "CKM_AES_GCM encryption serves ESPrim or ESData encryption");
    check(SEC, GEN, 13, USE_PSK_SAEF, 0);
    ck_assert_str_eq(err_get()->msg, "the key's SUID 13 binds it to ESPrim; release as a SAEF "
                                     "TLS-PSK serves SAEF ((D)TLS security association)");
    check(SEC, GEN, 22, USE_DERIVE, CKM_HKDF_DERIVE);
    ck_assert_ptr_nonnull(strstr(err_get()->msg, "CKM_HKDF_DERIVE derivation serves no oneM2M "
                                                 "security feature"));
}
END_TEST

/* ---- dates ---- */

static void day_offset(int days, char out[9])
{
    time_t t = time(NULL) + (time_t)days * 86400;
    struct tm tm;
    ck_assert_ptr_nonnull(gmtime_r(&t, &tm));
    ck_assert_uint_eq(strftime(out, 9, "%Y%m%d", &tm), 8);
}

static CK_RV dated(const char *start, const char *end)
{
    struct attrs *a = key_with(SEC, GEN, 0);
    if (start)
        ck_assert_int_eq(attrs_set(a, CKA_START_DATE, start, strlen(start)), CKR_OK);
    if (end)
        ck_assert_int_eq(attrs_set(a, CKA_END_DATE, end, strlen(end)), CKR_OK);
    err_clear();
    CK_RV rv = usage_check(a, USE_SIGN, CKM_SHA256_HMAC);
    attrs_unref(a);
    return rv;
}

START_TEST(test_dates_are_inclusive_utc_days)
{
    char y[9], t[9], m[9], want[64];
    day_offset(-1, y);
    day_offset(0, t);
    day_offset(1, m);
    ck_assert_uint_eq(dated(NULL, t), CKR_OK);
    ck_assert_uint_eq(dated(t, NULL), CKR_OK);
    ck_assert_uint_eq(dated(y, m), CKR_OK);
    ck_assert_uint_eq(dated("", ""), CKR_OK); /* empty: no date */
    ck_assert_uint_eq(dated(NULL, y), CKR_KEY_FUNCTION_NOT_PERMITTED);
    snprintf(want, sizeof(want), "the key expired on %.4s-%.2s-%.2s", y, y + 4, y + 6);
    ck_assert_str_eq(err_get()->msg, want);
    ck_assert_uint_eq(dated(m, NULL), CKR_KEY_FUNCTION_NOT_PERMITTED);
    snprintf(want, sizeof(want), "the key is valid from %.4s-%.2s-%.2s", m, m + 4, m + 6);
    ck_assert_str_eq(err_get()->msg, want);
    /* an expired key is refused whatever its SUID allows */
    struct attrs *a = key_with(SEC, GEN, 15);
    ck_assert_int_eq(attrs_set(a, CKA_END_DATE, y, 8), CKR_OK);
    ck_assert_uint_eq(usage_check(a, USE_SIGN, CKM_SHA256_HMAC), CKR_KEY_FUNCTION_NOT_PERMITTED);
    attrs_unref(a);
    CK_DATE d;
    memcpy(&d, y, 8);
    ck_assert(usage_date_past(&d));
    memcpy(&d, t, 8);
    ck_assert(!usage_date_past(&d));
    usage_today(&d);
    ck_assert_int_eq(memcmp(&d, t, 8), 0);
}
END_TEST

START_TEST(test_malformed_stored_dates_refused)
{
    ck_assert_uint_eq(dated(NULL, "2030013x"), CKR_KEY_FUNCTION_NOT_PERMITTED);
    ck_assert_ptr_nonnull(strstr(err_get()->msg, "CKA_END_DATE"));
    ck_assert_uint_eq(dated("20301301", NULL), CKR_KEY_FUNCTION_NOT_PERMITTED);
    ck_assert_ptr_nonnull(strstr(err_get()->msg, "CKA_START_DATE"));
    ck_assert_uint_eq(dated(NULL, "2030"), CKR_KEY_FUNCTION_NOT_PERMITTED);
}
END_TEST

START_TEST(test_date_validation)
{
    ck_assert(usage_date_valid("", 0));
    ck_assert(usage_date_valid("20260131", 8));
    ck_assert(usage_date_valid("20240229", 8)); /* leap year */
    ck_assert(usage_date_valid("20000229", 8)); /* divisible by 400 */
    ck_assert(usage_date_valid("99991231", 8));
    ck_assert(!usage_date_valid("21000229", 8)); /* divisible by 100 */
    ck_assert(!usage_date_valid("20250229", 8));
    ck_assert(!usage_date_valid("20260431", 8));
    ck_assert(!usage_date_valid("20261301", 8));
    ck_assert(!usage_date_valid("20260001", 8));
    ck_assert(!usage_date_valid("20260100", 8));
    ck_assert(!usage_date_valid("18991231", 8));
    ck_assert(!usage_date_valid("2026-1-1", 8));
    ck_assert(!usage_date_valid("2026013 ", 8));
    ck_assert(!usage_date_valid("2026013", 7));
}
END_TEST

static Suite *usage_suite(void)
{
    Suite *su = suite_create("usage_rules");
    TCase *tc = tcase_create("suid");
    tcase_add_test(tc, test_unconstrained_key_allows_everything);
    tcase_add_test(tc, test_psk_release_only_for_its_framework);
    tcase_add_test(tc, test_tls_frameworks);
    tcase_add_test(tc, test_esprim);
    tcase_add_test(tc, test_esdata);
    tcase_add_test(tc, test_suid_naming_no_feature_refuses_all);
    tcase_add_test(tc, test_messages_name_suid_and_features);
    suite_add_tcase(su, tc);
    tc = tcase_create("dates");
    tcase_add_test(tc, test_dates_are_inclusive_utc_days);
    tcase_add_test(tc, test_malformed_stored_dates_refused);
    tcase_add_test(tc, test_date_validation);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    SRunner *sr = srunner_create(usage_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Tests of the oneM2M identifier builders and validators (sea_id_*, include/sea/sea.h): KpsaID,
 * KmID, KeID, the MAF key identifier, Credential-IDs and RFC 6920 raw public key identifiers,
 * their canonical forms and comparison, and malformed input (bad characters, missing '@', empty
 * parts, oversized input, too-small buffers). Known answers: RFC 6920 section 8 and the
 * TS-0016 digest section 7 KeID; the ni names of keys are also recomputed with OpenSSL here.
 * Also sea_psk_find: lookup by the canonical identifier, and the keys it must refuse. */
#include <check.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sea/sea.h"
#include "apicheck.h"

/* ---- helpers ---- */

static char out[SEA_ID_MAX + 1];

/* Canonical form of s (a C string) or fail. */
static const char *canon(sea_id_kind kind, const char *s)
{
    size_t n = sizeof(out);
    sea_rv r = sea_id_canonical(kind, s, strlen(s), out, &n);
    ck_assert_msg(r == SEA_OK, "%s: %s", s, sea_last_error(NULL));
    ck_assert_uint_eq(n, strlen(out) + 1);
    return out;
}

/* s (len bytes) is refused with SEA_ERR_ARGS and a message containing `why`. */
static void refused_n(sea_id_kind kind, const char *s, size_t len, const char *why)
{
    sea_origin o = SEA_ORIGIN_NONE;
    ck_assert_int_eq(sea_id_valid(kind, s, len), SEA_ERR_ARGS);
    const char *msg = sea_last_error(&o);
    ck_assert_msg(strstr(msg, why) != NULL, "message \"%s\" lacks \"%s\"", msg, why);
    ck_assert_int_eq(o, SEA_ORIGIN_API);
    size_t n = sizeof(out);
    ck_assert_int_eq(sea_id_canonical(kind, s, len, out, &n), SEA_ERR_ARGS);
}

static void refused(sea_id_kind kind, const char *s, const char *why)
{
    refused_n(kind, s, strlen(s), why);
}

static void valid(sea_id_kind kind, const char *s)
{
    sea_rv r = sea_id_valid(kind, s, strlen(s));
    ck_assert_msg(r == SEA_OK, "%s refused: %s", s, sea_last_error(NULL));
}

static int same(sea_id_kind kind, const char *a, const char *b)
{
    int eq = -1;
    ck_assert_int_eq(sea_id_compare(kind, a, b, &eq), SEA_OK);
    return eq;
}

static size_t hex2bin(const char *hex, uint8_t *bin)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
        bin[i] = (uint8_t)v;
    }
    return n;
}

/* base64url without padding, computed with OpenSSL's base64 (an independent encoder). */
static void ref_b64url(const uint8_t *in, size_t n, char *dst)
{
    unsigned char b64[64];
    int l = EVP_EncodeBlock(b64, in, (int)n);
    int o = 0;
    for (int i = 0; i < l; i++) {
        char ch = (char)b64[i];
        if (ch == '=')
            break;
        dst[o++] = ch == '+' ? '-' : ch == '/' ? '_' : ch;
    }
    dst[o] = '\0';
}

/* ---- KpsaID and KmID (TS-0003 10.5, 10.6) ---- */

START_TEST(test_kpsa_build_and_case)
{
    size_t n = sizeof(out);
    ck_assert_int_eq(sea_id_kpsa("CAE0001.Kpsa_1-a", "In-CSE.Example.COM", out, &n), SEA_OK);
    /* the relative part keeps its case; the FQDN is lower-cased */
    ck_assert_str_eq(out, "CAE0001.Kpsa_1-a@in-cse.example.com");
    ck_assert_uint_eq(n, strlen(out) + 1);
    valid(SEA_ID_KPSA, "a@b.c");
    valid(SEA_ID_KPSA, "x@localhost");
    ck_assert_str_eq(canon(SEA_ID_KPSA, "Key1@ISSUER.example"), "Key1@issuer.example");
    ck_assert_int_eq(same(SEA_ID_KPSA, "Key1@ISSUER.example", "Key1@issuer.EXAMPLE"), 1);
    ck_assert_int_eq(same(SEA_ID_KPSA, "Key1@issuer.example", "key1@issuer.example"), 0);
    /* a label of 63 characters is fine, one of 64 is not */
    char id[200];
    snprintf(id, sizeof(id), "k@%.*s.example.com", 63,
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    valid(SEA_ID_KPSA, id);
    snprintf(id, sizeof(id), "k@%.*s.example.com", 64,
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    refused(SEA_ID_KPSA, id, "has 64 characters");
}
END_TEST

START_TEST(test_km_case_insensitive)
{
    size_t n = sizeof(out);
    ck_assert_int_eq(sea_id_km("MyKm.01", "MAF.Example.com", out, &n), SEA_OK);
    ck_assert_str_eq(out, "mykm.01@maf.example.com");
    ck_assert_int_eq(same(SEA_ID_KM, "ABC@MAF.example.com", "abc@maf.example.com"), 1);
    ck_assert_int_eq(same(SEA_ID_KM, "ABC@maf.example.com", "abd@maf.example.com"), 0);
    ck_assert_str_eq(canon(SEA_ID_KM, "Km_X@Maf.Example.Com"), "km_x@maf.example.com");
}
END_TEST

START_TEST(test_relative_and_at_errors)
{
    refused(SEA_ID_KPSA, "CAE0001.example.com", "has no '@'");
    refused(SEA_ID_KPSA, "a@b@example.com", "second '@' at byte 3");
    refused(SEA_ID_KPSA, "@example.com", "relative part before '@' is empty");
    refused(SEA_ID_KPSA, "abc@", "FQDN (byte 4 on) is empty");
    refused(SEA_ID_KM, "ab/c@maf.example.com", "byte 2 is '/'");
    refused(SEA_ID_KPSA, "ab c@example.com", "byte 2 is a space");
    refused(SEA_ID_KPSA, "ab\tc@example.com", "byte 2 is control 0x09");
    refused(SEA_ID_KPSA, "caf\xc3\xa9@example.com", "byte 3 is byte 0xc3");
    refused_n(SEA_ID_KPSA, "ab\0c@example.com", 16, "byte 2 is a NUL byte");
    refused(SEA_ID_KPSA, "", "is empty");
    /* builders say the same */
    size_t n = sizeof(out);
    ck_assert_int_eq(sea_id_kpsa("", "example.com", out, &n), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_id_kpsa("a@b", "example.com", out, &n), SEA_ERR_ARGS);
    ck_assert_ptr_nonnull(strstr(sea_last_error(NULL), "'@' at byte 1"));
    ck_assert_int_eq(sea_id_km("k", "", out, &n), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_id_km(NULL, "maf.example.com", out, &n), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_id_km("k", NULL, out, &n), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_id_km("k", "maf.example.com", out, NULL), SEA_ERR_ARGS);
}
END_TEST

START_TEST(test_fqdn_rules)
{
    valid(SEA_ID_FQDN, "in-cse.example.com");
    valid(SEA_ID_FQDN, "xn--bcher-kva.example");
    valid(SEA_ID_FQDN, "1.example.com2");
    refused(SEA_ID_FQDN, "in-cse.example.com.", "ends with '.'");
    refused(SEA_ID_FQDN, "a..b", "empty label at byte 2");
    refused(SEA_ID_FQDN, ".a.b", "empty label at byte 0");
    refused(SEA_ID_FQDN, "-a.example.com", "starts with '-'");
    refused(SEA_ID_FQDN, "a-.example.com", "ends with '-'");
    refused(SEA_ID_FQDN, "a_b.example.com", "byte 1 is '_'");
    refused(SEA_ID_FQDN, "192.168.1.1", "all digits");
    refused(SEA_ID_FQDN,
            "b\xc3\xbc"
            "cher.example",
            "xn-- form");
    /* 253 bytes at most */
    char f[300];
    memset(f, 0, sizeof(f));
    for (int i = 0; i < 4; i++)
        memcpy(f + 64 * i, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.", 64);
    f[253] = '\0'; /* 3 labels of 63, one of 61 */
    valid(SEA_ID_FQDN, f);
    f[253] = 'a';
    f[254] = '\0';
    refused(SEA_ID_FQDN, f, "has 254 bytes");
    ck_assert_str_eq(canon(SEA_ID_FQDN, "MEF.Example.COM"), "mef.example.com");
}
END_TEST

/* ---- KeID and the MAF key identifier (10.3.4, 10.3.5) ---- */

START_TEST(test_keid_vector)
{
    /* TS-0016 digest section 7: exporter output 808182...af, split: RelativeKeID 8081..8f,
     * KeID "808182838485868788898a8b8c8d8e8f@mef.example.com" (lower-case hex, G-16) */
    uint8_t rel[16];
    hex2bin("808182838485868788898a8b8c8d8e8f", rel);
    size_t n = sizeof(out);
    ck_assert_int_eq(sea_id_ke(rel, 16, "MEF.example.com", out, &n), SEA_OK);
    ck_assert_str_eq(out, "808182838485868788898a8b8c8d8e8f@mef.example.com");
    ck_assert_uint_eq(n, 49); /* 32 hex digits, "@", 15 bytes of FQDN, NUL */
    n = sizeof(out);
    ck_assert_int_eq(sea_id_maf_key(rel, 16, "maf.example.com", out, &n), SEA_OK);
    ck_assert_str_eq(out, "808182838485868788898a8b8c8d8e8f@maf.example.com");
    /* the validators take either case; canonical forms and comparison are lower case */
    valid(SEA_ID_KE, "808182838485868788898A8B8C8D8E8F@mef.example.com");
    ck_assert_str_eq(canon(SEA_ID_MAF_KEY, "ABCDEF@MAF.example.com"), "abcdef@maf.example.com");
    ck_assert_int_eq(same(SEA_ID_KE, "0A0B@mef.example.com", "0a0b@MEF.EXAMPLE.COM"), 1);
    ck_assert_int_eq(same(SEA_ID_KE, "0A0B@mef.example.com", "0a0c@mef.example.com"), 0);
}
END_TEST

START_TEST(test_hex_errors)
{
    refused(SEA_ID_KE, "abc@mef.example.com", "odd number of digits (3)");
    refused(SEA_ID_KE, "abcg@mef.example.com", "byte 3 is 'g'");
    refused(SEA_ID_MAF_KEY, "@maf.example.com", "hexBinary part before '@' is empty");
    refused(SEA_ID_MAF_KEY, "0102", "has no '@'");
    char big[300];
    memset(big, 'a', 130);
    snprintf(big + 130, 40, "@mef.example.com");
    refused(SEA_ID_KE, big, "has 65 bytes");
    size_t n = sizeof(out);
    uint8_t id[65] = {0};
    ck_assert_int_eq(sea_id_ke(id, 0, "mef.example.com", out, &n), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_id_ke(id, 65, "mef.example.com", out, &n), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_id_ke(NULL, 16, "mef.example.com", out, &n), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_id_maf_key(id, 16, "bad_fqdn", out, &n), SEA_ERR_ARGS);
    ck_assert_ptr_nonnull(strstr(sea_last_error(NULL), "byte 36 is '_'"));
}
END_TEST

/* ---- Credential-IDs (10.4, 12.3.2.1) ---- */

START_TEST(test_credential_build_parse)
{
    /* the example of TS-0003 12.2 */
    size_t n = sizeof(out);
    ck_assert_int_eq(sea_id_credential(10, "thiskey@mymef.com", out, &n), SEA_OK);
    ck_assert_str_eq(out, "10-thiskey@mymef.com");
    unsigned t = 0;
    char v[SEA_ID_MAX + 1];
    size_t vl = sizeof(v);
    ck_assert_int_eq(sea_id_credential_parse("10-thiskey@mymef.com", 20, &t, v, &vl), SEA_OK);
    ck_assert_uint_eq(t, 10);
    ck_assert_str_eq(v, "thiskey@mymef.com");
    ck_assert_uint_eq(vl, 18);
    /* type 11 (a KmID): all lower case; type 12: the FQDN after '@'; 10 (KpmID): exact */
    ck_assert_str_eq(canon(SEA_ID_CREDENTIAL, "11-MyKm@MAF.com"), "11-mykm@maf.com");
    ck_assert_str_eq(canon(SEA_ID_CREDENTIAL, "12-CAE01@In.Example.com"),
                     "12-CAE01@in.example.com");
    ck_assert_str_eq(canon(SEA_ID_CREDENTIAL, "10-Key@MEF.com"), "10-Key@MEF.com");
    ck_assert_int_eq(same(SEA_ID_CREDENTIAL, "11-A@b.com", "11-a@B.COM"), 1);
    ck_assert_int_eq(same(SEA_ID_CREDENTIAL, "10-A@b.com", "10-a@b.com"), 0);
    /* every type of the table */
    static const unsigned types[] = {10, 11, 12, 13, 14, 15, 16, 31, 32, 33,
                                     34, 42, 43, 44, 45, 52, 53, 54, 55};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        n = sizeof(out);
        ck_assert_int_eq(sea_id_credential(types[i], "v.1_x-y@z", out, &n), SEA_OK);
        ck_assert_int_eq(sea_id_credential_parse(out, strlen(out), &t, NULL, NULL), SEA_OK);
        ck_assert_uint_eq(t, types[i]);
    }
    /* raw public key types take an ni URI */
    const char *ni = "ni:///sha-256;UyaQV-Ev4rdLoHyJJWCi11OHfrYv9E1aGQAlMO2X_-Q";
    n = sizeof(out);
    ck_assert_int_eq(sea_id_credential(30, ni, out, &n), SEA_OK);
    ck_assert_str_eq(out, "30-ni:///sha-256;UyaQV-Ev4rdLoHyJJWCi11OHfrYv9E1aGQAlMO2X_-Q");
    ck_assert_str_eq(canon(SEA_ID_CREDENTIAL, "51-NI:///SHA-256-120;UyaQV-Ev4rdLoHyJJWCi"),
                     "51-ni:///sha-256-120;UyaQV-Ev4rdLoHyJJWCi");
}
END_TEST

START_TEST(test_credential_errors)
{
    refused(SEA_ID_CREDENTIAL, "17-abc", "credIDTypeID \"17\" is not one of");
    refused(SEA_ID_CREDENTIAL, "9-abc", "credIDTypeID \"9\" is not one of");
    refused(SEA_ID_CREDENTIAL, "010-abc", "credIDTypeID \"010\"");
    refused(SEA_ID_CREDENTIAL, "12345678901234-abc", "is not one of");
    refused(SEA_ID_CREDENTIAL, "12abc", "no '-' after the credIDTypeID");
    refused(SEA_ID_CREDENTIAL, "12", "no '-' after the credIDTypeID");
    refused(SEA_ID_CREDENTIAL, "x-abc", "does not start with a credIDTypeID");
    refused(SEA_ID_CREDENTIAL, "12-", "value after '-' is empty");
    refused(SEA_ID_CREDENTIAL, "12-a/b", "byte 4 is '/'");
    refused(SEA_ID_CREDENTIAL, "30-abc@x.com", "ni URI");
    size_t n = sizeof(out);
    ck_assert_int_eq(sea_id_credential(20, "abc", out, &n), SEA_ERR_ARGS);
    ck_assert_ptr_nonnull(strstr(sea_last_error(NULL), "credIDTypeID 20"));
    ck_assert_int_eq(sea_id_credential(12, "", out, &n), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_id_credential(12, NULL, out, &n), SEA_ERR_ARGS);
    unsigned t = 99;
    ck_assert_int_eq(sea_id_credential_parse("12-a b", 6, &t, NULL, NULL), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_id_credential_parse(NULL, 6, &t, NULL, NULL), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_id_credential_parse("12-ab", 5, NULL, NULL, NULL), SEA_ERR_ARGS);
    /* value buffer too small */
    char v[4];
    size_t vl = sizeof(v);
    ck_assert_int_eq(sea_id_credential_parse("12-abcd", 7, &t, v, &vl), SEA_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(vl, 5);
}
END_TEST

/* ---- RFC 6920 raw public key identifiers (10.1.2) ---- */

/* RFC 6920 section 8.2: the SubjectPublicKeyInfo (an RSA-2048 key) whose sha-256 ni name is
 * ni:///sha-256;UyaQV-Ev4rdLoHyJJWCi11OHfrYv9E1aGQAlMO2X_-Q; section 8.3 gives the
 * sha-256-120 binary form 0x03 53269057e12fe2b74ba07c892560a2. */
static const char RFC6920_SPKI[] =
    "30820122300d06092a864886f70d01010105000382010f003082010a0282010100a25f83da9bd9f17a3a3667bafd5"
    "a940ecf16d55a553a5ed403b1658e6dcfa3b7dba4e7cc0f52c67d351dc468c2bd7b9ddbe40ad710cdf95320ee0dd"
    "7566e5b7aae2c5f830a193c725896d686e80ee694eb5cf2903ef3a88a8856b6cd3638762297b16b3c9c07f34f970"
    "8a1bc29389b81062b7460387a932f39be1234096e0b5710b7a37bf2c6eed6c1e5ecaec59c8314f46b58e2def2ffc9"
    "7707e3f34c97cf1a289e38a1b3934175a1a4763f4d78d744d61ae3cee25dc5784cb531222ec74b8c6f56785ca1c4c"
    "01dcae5b944d7e9909cbceeb0a2b1dcda6da00ff6ad1e2c12a2a766603e36d49141c2f2e769392c9dd2dfb5a3449"
    "5487c876489ddbf0501eedd0203010001";

START_TEST(test_ni_rfc6920_vectors)
{
    uint8_t spki[400], d[32], ref[32];
    size_t len = hex2bin(RFC6920_SPKI, spki);
    ck_assert_uint_eq(len, 294);
    size_t n = sizeof(out);
    ck_assert_int_eq(sea_id_ni(spki, len, SEA_NI_SHA256, out, &n), SEA_OK);
    ck_assert_str_eq(out, "ni:///sha-256;UyaQV-Ev4rdLoHyJJWCi11OHfrYv9E1aGQAlMO2X_-Q");
    ck_assert_uint_eq(n, strlen(out) + 1);
    n = sizeof(out);
    ck_assert_int_eq(sea_id_ni(spki, len, SEA_NI_SHA256_120, out, &n), SEA_OK);
    ck_assert_str_eq(out, "ni:///sha-256-120;UyaQV-Ev4rdLoHyJJWCi");
    sea_ni_alg alg = 0;
    size_t dl = sizeof(d);
    ck_assert_int_eq(sea_id_ni_parse(out, strlen(out), &alg, d, &dl), SEA_OK);
    ck_assert_int_eq(alg, SEA_NI_SHA256_120);
    ck_assert_uint_eq(dl, 15);
    uint8_t want[15];
    hex2bin("53269057e12fe2b74ba07c892560a2", want); /* RFC 6920 8.3 */
    ck_assert_int_eq(memcmp(d, want, 15), 0);
    /* sha-256-128 against OpenSSL's SHA-256 and base64 */
    ck_assert_int_eq(EVP_Digest(spki, len, ref, NULL, EVP_sha256(), NULL), 1);
    char b[64], want128[100];
    ref_b64url(ref, 16, b);
    snprintf(want128, sizeof(want128), "ni:///sha-256-128;%s", b);
    n = sizeof(out);
    ck_assert_int_eq(sea_id_ni(spki, len, SEA_NI_SHA256_128, out, &n), SEA_OK);
    ck_assert_str_eq(out, want128);
    /* RFC 6920 8.1: "Hello World!" (not a key: parsed only) */
    const char *hw = "ni:///sha-256;f4OxZX_x_FO5LcGBSKHWXfwtSx-j1ncoSt3SABJtkGk";
    dl = sizeof(d);
    ck_assert_int_eq(sea_id_ni_parse(hw, strlen(hw), &alg, d, &dl), SEA_OK);
    ck_assert_int_eq(alg, SEA_NI_SHA256);
    ck_assert_uint_eq(dl, 32);
    ck_assert_int_eq(EVP_Digest("Hello World!", 12, ref, NULL, EVP_sha256(), NULL), 1);
    ck_assert_int_eq(memcmp(d, ref, 32), 0);
    /* canonical: scheme and algorithm lower case, digest kept */
    ck_assert_str_eq(canon(SEA_ID_NI, "NI:///SHA-256;f4OxZX_x_FO5LcGBSKHWXfwtSx-j1ncoSt3SABJtkGk"),
                     hw);
    ck_assert_int_eq(
        same(SEA_ID_NI, hw, "ni:///Sha-256;f4OxZX_x_FO5LcGBSKHWXfwtSx-j1ncoSt3SABJtkGk"), 1);
    ck_assert_int_eq(
        same(SEA_ID_NI, hw, "ni:///sha-256;F4OxZX_x_FO5LcGBSKHWXfwtSx-j1ncoSt3SABJtkGk"), 0);
}
END_TEST

START_TEST(test_ni_errors)
{
    const char *d43 = "f4OxZX_x_FO5LcGBSKHWXfwtSx-j1ncoSt3SABJtkGk";
    char s[200];
    snprintf(s, sizeof(s), "ni://example.com/sha-256;%s", d43);
    refused(SEA_ID_NI, s, "authority");
    snprintf(s, sizeof(s), "ni:///sha-256-32;%.6s", d43);
    refused(SEA_ID_NI, s, "not one TS-0003 10.1.2 allows");
    snprintf(s, sizeof(s), "ni:///md5;%s", d43);
    refused(SEA_ID_NI, s, "\"md5\"");
    snprintf(s, sizeof(s), "ni:///sha-256;%s=", d43);
    refused(SEA_ID_NI, s, "no base64 padding");
    snprintf(s, sizeof(s), "ni:///sha-256;%s?ct=text/plain", d43);
    refused(SEA_ID_NI, s, "query");
    snprintf(s, sizeof(s), "ni:///sha-256;%.42s", d43);
    refused(SEA_ID_NI, s, "has 42 characters; it must have 43");
    snprintf(s, sizeof(s), "ni:///sha-256;%.42s+", d43);
    refused(SEA_ID_NI, s, "byte 56 is '+'");
    /* the last character of 32 bytes carries 4 bits: 'l' has non-zero unused bits, 'k' not */
    snprintf(s, sizeof(s), "ni:///sha-256;%.42sl", d43);
    refused(SEA_ID_NI, s, "not the canonical base64url");
    refused(SEA_ID_NI, "http://example.com/", "does not start with \"ni:\"");
    refused(SEA_ID_NI, "ni:/sha-256;x", "\"ni://\"");
    refused(SEA_ID_NI, "ni:///sha-256", "no ';'");
    /* sea_id_ni wants a SubjectPublicKeyInfo */
    size_t n = sizeof(out);
    ck_assert_int_eq(sea_id_ni((const uint8_t *)"Hello World!", 12, SEA_NI_SHA256, out, &n),
                     SEA_ERR_ARGS);
    ck_assert_ptr_nonnull(strstr(sea_last_error(NULL), "SubjectPublicKeyInfo"));
    uint8_t spki[400];
    size_t len = hex2bin(RFC6920_SPKI, spki);
    ck_assert_int_eq(sea_id_ni(spki, len - 1, SEA_NI_SHA256, out, &n), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_id_ni(spki, len, (sea_ni_alg)4, out, &n), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_id_ni(NULL, len, SEA_NI_SHA256, out, &n), SEA_ERR_ARGS);
    /* too small a buffer: the size needed, nothing written */
    char small[10] = "untouched";
    n = sizeof(small);
    ck_assert_int_eq(sea_id_ni(spki, len, SEA_NI_SHA256, small, &n), SEA_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(n, 58);
    ck_assert_str_eq(small, "untouched");
    n = 0;
    ck_assert_int_eq(sea_id_ni(spki, len, SEA_NI_SHA256, NULL, &n), SEA_OK);
    ck_assert_uint_eq(n, 58);
    uint8_t d[8];
    size_t dl = sizeof(d);
    const char *hw = "ni:///sha-256;f4OxZX_x_FO5LcGBSKHWXfwtSx-j1ncoSt3SABJtkGk";
    sea_ni_alg alg;
    ck_assert_int_eq(sea_id_ni_parse(hw, strlen(hw), &alg, d, &dl), SEA_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(dl, 32);
}
END_TEST

/* The ni name of a key made in an SE equals SHA-256 over the SPKI as OpenSSL encodes it. */
START_TEST(test_ni_of_se_key)
{
    api_store_open("ids");
    sea_se *se = api_se_new("ids", NULL);
    sea_key_params kp = {.type = SEA_KEY_EC_P256, .label = "device"};
    sea_obj key = 0, pub = 0;
    ck_assert_int_eq(sea_key_generate(se, &kp, &key, &pub), SEA_OK);
    uint8_t der[200];
    size_t dlen = sizeof(der);
    ck_assert_int_eq(sea_public_key(se, pub, der, &dlen), SEA_OK);
    /* re-encode the SPKI with OpenSSL, hash it, name it */
    const unsigned char *q = der;
    EVP_PKEY *pk = d2i_PUBKEY(NULL, &q, (long)dlen);
    ck_assert_ptr_nonnull(pk);
    unsigned char *re = NULL;
    int rl = i2d_PUBKEY(pk, &re);
    ck_assert_int_gt(rl, 0);
    uint8_t h[32];
    ck_assert_int_eq(EVP_Digest(re, (size_t)rl, h, NULL, EVP_sha256(), NULL), 1);
    char b[64], want[100];
    ref_b64url(h, 32, b);
    snprintf(want, sizeof(want), "ni:///sha-256;%s", b);
    size_t n = sizeof(out);
    ck_assert_int_eq(sea_id_ni_key(se, key, SEA_NI_SHA256, out, &n), SEA_OK);
    ck_assert_str_eq(out, want);
    n = sizeof(out);
    ck_assert_int_eq(sea_id_ni_key(se, pub, SEA_NI_SHA256, out, &n), SEA_OK);
    ck_assert_str_eq(out, want);
    ref_b64url(h, 15, b);
    snprintf(want, sizeof(want), "ni:///sha-256-120;%s", b);
    n = sizeof(out);
    ck_assert_int_eq(sea_id_ni_key(se, key, SEA_NI_SHA256_120, out, &n), SEA_OK);
    ck_assert_str_eq(out, want);
    /* a secret key has no public key */
    sea_key_params sp = {.type = SEA_KEY_AES, .bits = 128, .label = "aes"};
    sea_obj aes = 0;
    ck_assert_int_eq(sea_key_generate(se, &sp, &aes, NULL), SEA_OK);
    n = sizeof(out);
    ck_assert_int_ne(sea_id_ni_key(se, aes, SEA_NI_SHA256, out, &n), SEA_OK);
    ck_assert_int_eq(sea_id_ni_key(NULL, key, SEA_NI_SHA256, out, &n), SEA_ERR_ARGS);
    OPENSSL_free(re);
    EVP_PKEY_free(pk);
    sea_se_close(se);
    api_store_close();
}
END_TEST

/* ---- bounds and buffers ---- */

START_TEST(test_oversized_and_buffers)
{
    /* 1 MiB of valid characters: refused by length, without reading past SEA_ID_MAX + 1 */
    size_t big = 1u << 20;
    char *s = malloc(big + 1);
    ck_assert_ptr_nonnull(s);
    memset(s, 'a', big);
    s[big] = '\0';
    s[10] = '@';
    refused_n(SEA_ID_KPSA, s, big, "identifiers have at most 1024 bytes");
    size_t n = sizeof(out);
    ck_assert_int_eq(sea_id_kpsa(s, "example.com", out, &n), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_id_kpsa("k", s, out, &n), SEA_ERR_ARGS);
    int eq = 7;
    ck_assert_int_eq(sea_id_compare(SEA_ID_KPSA, s, "a@b.c", &eq), SEA_ERR_ARGS);
    ck_assert_int_eq(eq, 0);
    /* exactly SEA_ID_MAX bytes is accepted: 1024 = relative (1024 - 1 - 11) + '@' + FQDN */
    memset(s, 'r', 1012);
    memcpy(s + 1012, "@example.com", 12);
    refused_n(SEA_ID_KPSA, s, 1025, "1025 bytes long"); /* one 'a' more */
    ck_assert_int_eq(sea_id_valid(SEA_ID_KPSA, s, 1024), SEA_OK);
    free(s);
    /* a builder's result longer than SEA_ID_MAX */
    char rel[1020];
    memset(rel, 'r', sizeof(rel) - 1);
    rel[sizeof(rel) - 1] = '\0';
    n = sizeof(out);
    ck_assert_int_eq(sea_id_kpsa(rel, "example.com", out, &n), SEA_ERR_ARGS);
    ck_assert_ptr_nonnull(strstr(sea_last_error(NULL), "longer than SEA_ID_MAX"));
    /* size query and too-small buffer */
    n = 0;
    ck_assert_int_eq(sea_id_kpsa("CAE0001", "in.example.com", NULL, &n), SEA_OK);
    ck_assert_uint_eq(n, 23);
    char small[22];
    memset(small, 'x', sizeof(small));
    n = sizeof(small);
    ck_assert_int_eq(sea_id_kpsa("CAE0001", "in.example.com", small, &n), SEA_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(n, 23);
    ck_assert_int_eq(small[0], 'x');
    ck_assert_ptr_nonnull(strstr(sea_last_error(NULL), "23 are needed"));
    n = 23;
    ck_assert_int_eq(sea_id_kpsa("CAE0001", "in.example.com", out, &n), SEA_OK);
    n = 5;
    ck_assert_int_eq(sea_id_canonical(SEA_ID_FQDN, "a.example.com", 13, small, &n),
                     SEA_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(n, 14);
    /* NULLs and unknown kinds */
    ck_assert_int_eq(sea_id_valid(SEA_ID_KPSA, NULL, 3), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_id_valid((sea_id_kind)99, "a@b.c", 5), SEA_ERR_ARGS);
    ck_assert_ptr_nonnull(strstr(sea_last_error(NULL), "unknown identifier kind"));
    ck_assert_int_eq(sea_id_canonical(SEA_ID_KPSA, "a@b.c", 5, out, NULL), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_id_compare(SEA_ID_KPSA, NULL, "a@b.c", &eq), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_id_compare(SEA_ID_KPSA, "a@b.c", "a@b.c", NULL), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_id_ni_parse("x", 1, NULL, NULL, NULL), SEA_ERR_ARGS);
}
END_TEST

/* ---- sea_psk_find (TLS-PSK lookup by canonical CKA_ID) ---- */

static sea_obj psk_key(sea_se *se, const char *label, const char *id, unsigned long suid, int clear,
                       const uint8_t *val)
{
    sea_key_params p = {.type = SEA_KEY_GENERIC_SECRET,
                        .label = label,
                        .id = (const uint8_t *)id,
                        .id_len = strlen(id),
                        .suid = suid,
                        .extractable = clear,
                        .clear_export = clear};
    sea_obj k = 0;
    sea_rv r = sea_key_import_secret(se, &p, val, 32, &k);
    ck_assert_msg(r == SEA_OK, "%s", sea_last_error(NULL));
    return k;
}

START_TEST(test_psk_find)
{
    api_store_open("psk");
    sea_se *se = api_se_new("psk", NULL);
    ck_assert_int_eq(sea_logout(se), SEA_OK);
    uint8_t v[4][32], got[64];
    for (int i = 0; i < 4; i++)
        memset(v[i], 0x11 * (i + 1), 32);
    size_t n = sizeof(got);
    /* private keys: nothing is found before the login */
    ck_assert_int_eq(sea_psk_find(se, SEA_PSK_KPSA, "k@a.example", 11, got, &n), SEA_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(sea_last_error(NULL), "login"));
    ck_assert_int_eq(sea_login(se, SEA_USER, PIN, strlen(PIN)), SEA_OK);
    psk_key(se, "kpsa", "Kpsa1@in.example.com", 12, 1, v[0]);
    psk_key(se, "kc", "0a0b0c0d@maf.example.com", 22, 1, v[1]);
    psk_key(se, "km", "mykm@maf.example.com", 11, 1, v[2]);
    psk_key(se, "kpm", "Kpm/ID 7", 10, 1, v[3]);
    /* found by the canonical form of whatever case the peer sends */
    n = sizeof(got);
    ck_assert_int_eq(sea_psk_find(se, SEA_PSK_KPSA, "Kpsa1@IN.Example.com", 20, got, &n), SEA_OK);
    ck_assert_uint_eq(n, 32);
    ck_assert_int_eq(memcmp(got, v[0], 32), 0);
    n = sizeof(got);
    ck_assert_int_eq(sea_psk_find(se, SEA_PSK_KC, "0A0B0C0D@maf.example.com", 24, got, &n), SEA_OK);
    ck_assert_int_eq(memcmp(got, v[1], 32), 0);
    n = sizeof(got);
    ck_assert_int_eq(sea_psk_find(se, SEA_PSK_KM, "MyKm@MAF.example.com", 20, got, &n), SEA_OK);
    ck_assert_int_eq(memcmp(got, v[2], 32), 0);
    n = sizeof(got);
    ck_assert_int_eq(sea_psk_find(se, SEA_PSK_KPM, "Kpm/ID 7", 8, got, &n), SEA_OK);
    ck_assert_int_eq(memcmp(got, v[3], 32), 0);
    /* KpsaID relative parts are case-sensitive; a KpmID is matched byte for byte */
    n = sizeof(got);
    ck_assert_int_eq(sea_psk_find(se, SEA_PSK_KPSA, "kpsa1@in.example.com", 20, got, &n),
                     SEA_ERR_NOT_FOUND);
    ck_assert_int_eq(sea_psk_find(se, SEA_PSK_KPM, "kpm/ID 7", 8, got, &n), SEA_ERR_NOT_FOUND);
    /* the kind decides the feature: Km (SUID 11, MAF) is no SAEF key */
    n = sizeof(got);
    ck_assert_int_eq(sea_psk_find(se, SEA_PSK_KPSA, "mykm@maf.example.com", 20, got, &n),
                     SEA_ERR_DENIED);
    ck_assert_ptr_nonnull(strstr(sea_last_error(NULL), "SUID 11"));
    /* malformed identities, buffers */
    ck_assert_int_eq(sea_psk_find(se, SEA_PSK_KPSA, "no-at.example.com", 17, got, &n),
                     SEA_ERR_ARGS);
    ck_assert_int_eq(sea_psk_find(se, SEA_PSK_KC, "abc@maf.example.com", 19, got, &n),
                     SEA_ERR_ARGS);
    ck_assert_int_eq(sea_psk_find(se, SEA_PSK_KPM, "a\0b", 3, got, &n), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_psk_find(se, (sea_psk_kind)9, "a@b.c", 5, got, &n), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_psk_find(se, SEA_PSK_KPSA, NULL, 5, got, &n), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_psk_find(NULL, SEA_PSK_KPSA, "a@b.c", 5, got, &n), SEA_ERR_ARGS);
    uint8_t small[16] = {0};
    n = sizeof(small);
    ck_assert_int_eq(sea_psk_find(se, SEA_PSK_KPSA, "Kpsa1@in.example.com", 20, small, &n),
                     SEA_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(n, 32);
    ck_assert_int_eq(small[0], 0);
    n = 0;
    ck_assert_int_eq(sea_psk_find(se, SEA_PSK_KPSA, "Kpsa1@in.example.com", 20, NULL, &n), SEA_OK);
    ck_assert_uint_eq(n, 32);
    /* a default (sensitive, non-extractable) key is never released */
    psk_key(se, "kpsa-sens", "sens@in.example.com", 12, 0, v[0]);
    n = sizeof(got);
    ck_assert_int_eq(sea_psk_find(se, SEA_PSK_KPSA, "sens@in.example.com", 19, got, &n),
                     SEA_ERR_DENIED);
    ck_assert_ptr_nonnull(strstr(sea_last_error(NULL), "may not leave the SE in clear"));
    /* an AES key with the identity is not a PSK */
    sea_key_params ap = {.type = SEA_KEY_AES,
                         .label = "aes",
                         .id = (const uint8_t *)"aes@x.com",
                         .id_len = 9,
                         .extractable = 1,
                         .clear_export = 1};
    sea_obj ak = 0;
    ck_assert_int_eq(sea_key_import_secret(se, &ap, v[0], 16, &ak), SEA_OK);
    ck_assert_int_eq(sea_psk_find(se, SEA_PSK_KPSA, "aes@x.com", 9, got, &n), SEA_ERR_DENIED);
    /* two keys with one id */
    psk_key(se, "kpsa-twin", "Kpsa1@in.example.com", 12, 1, v[1]);
    ck_assert_int_eq(sea_psk_find(se, SEA_PSK_KPSA, "Kpsa1@in.example.com", 20, got, &n),
                     SEA_ERR_EXISTS);
    /* clear_export without extractable is refused at creation */
    sea_key_params bad = {.type = SEA_KEY_GENERIC_SECRET, .label = "bad", .clear_export = 1};
    ck_assert_int_eq(sea_key_import_secret(se, &bad, v[0], 32, &ak), SEA_ERR_ARGS);
    sea_se_close(se);
    api_store_close();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("identifiers");
    TCase *t = tcase_create("ids");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, test_kpsa_build_and_case);
    tcase_add_test(t, test_km_case_insensitive);
    tcase_add_test(t, test_relative_and_at_errors);
    tcase_add_test(t, test_fqdn_rules);
    tcase_add_test(t, test_keid_vector);
    tcase_add_test(t, test_hex_errors);
    tcase_add_test(t, test_credential_build_parse);
    tcase_add_test(t, test_credential_errors);
    tcase_add_test(t, test_ni_rfc6920_vectors);
    tcase_add_test(t, test_ni_errors);
    tcase_add_test(t, test_ni_of_se_key);
    tcase_add_test(t, test_oversized_and_buffers);
    tcase_add_test(t, test_psk_find);
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

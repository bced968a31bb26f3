/* Identity and CSRs through the native API (TS-0003 10.1.1, 10.1.4): the subjectAltName forms of
 * the AE-ID, CSE-ID and Node-ID and their validation, PKCS#10 CSRs signed inside the SE and
 * checked here by OpenSSL (signature, public key, the SAN, keyUsage, tampering), and the import
 * of a certificate issued by a throwaway CA made in the test. */
#include <check.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sea/sea.h"
#include "apicheck.h"

static sea_se *se;

static void setup(void)
{
    api_store_open("csr");
    se = api_se_new("csr", NULL);
}

static void teardown(void)
{
    sea_se_close(se);
    se = NULL;
    api_store_close();
}

static sea_obj gen_key(sea_key_type type, const char *label, const uint8_t *id, size_t id_len,
                       sea_obj *pub)
{
    sea_key_params p = {.type = type, .label = label, .id = id, .id_len = id_len};
    sea_obj key = 0, pubk = 0;
    ck_assert_int_eq(sea_key_generate(se, &p, &key, &pubk), SEA_OK);
    if (pub)
        *pub = pubk;
    return key;
}

/* A CSR through the size query, then into a buffer of exactly that size. */
static size_t make_csr(sea_obj key, sea_san_kind kind, const char *value, const char *cn,
                       uint8_t *der, size_t cap)
{
    sea_csr_params p = {.san_kind = kind, .san_value = value, .subject_cn = cn};
    size_t bound = 0;
    ck_assert_int_eq(sea_csr_create(se, key, &p, NULL, &bound), SEA_OK);
    ck_assert_uint_gt(bound, 100);
    ck_assert_uint_le(bound, cap);
    size_t len = bound;
    ck_assert_msg(sea_csr_create(se, key, &p, der, &len) == SEA_OK, "%s", sea_last_error(NULL));
    ck_assert_uint_le(len, bound);
    ck_assert_uint_ge(len + 3, bound); /* the bound is at most the DER signature's slack */
    return len;
}

/* ---- the subjectAltName forms ---- */

static void name_is(sea_san_kind kind, const char *value, const char *want)
{
    char out[700];
    size_t len = sizeof(out);
    ck_assert_msg(sea_san_name(kind, value, out, &len) == SEA_OK, "%s: %s", value,
                  sea_last_error(NULL));
    ck_assert_str_eq(out, want);
    ck_assert_uint_eq(len, strlen(want) + 1); /* the size with the NUL */
}

static void name_refused(sea_san_kind kind, const char *value)
{
    char out[700];
    size_t len = sizeof(out);
    ck_assert_msg(sea_san_name(kind, value, out, &len) == SEA_ERR_ARGS, "accepted: %s", value);
    ck_assert_str_ne(sea_last_error(NULL), "");
}

START_TEST(test_san_forms_follow_ts0003_10_1_1)
{
    /* AE-ID: the full URI of the Absolute-AE-ID (TS-0001 Table 7.2-1 examples) */
    name_is(SEA_SAN_AE_ID, "//m2m.prov.com/CSE3219/C9886",
            "URI:https://m2m.prov.com/CSE3219/C9886");
    name_is(SEA_SAN_AE_ID, "//m2m.things.com/S98821", "URI:https://m2m.things.com/S98821");
    name_is(SEA_SAN_AE_ID, "coaps://m2m.things.com/ab3f124a/Ca2efb3f4",
            "URI:coaps://m2m.things.com/ab3f124a/Ca2efb3f4");
    /* CSE-ID: the public domain name (TS-0001 6.5.1.1 example) */
    name_is(SEA_SAN_CSE_ID, "MN-CSEID.IN-CSEID.m2m.myoperator.org",
            "DNS:MN-CSEID.IN-CSEID.m2m.myoperator.org");
    /* Node-ID: a URN (TS-0004 Table 6.3.3-1 example), or an OID (TS-0001 annex H example) */
    name_is(SEA_SAN_NODE_ID, "urn:gsma:imei:90420156-025763-0;svn=42",
            "URI:urn:gsma:imei:90420156-025763-0;svn=42");
    name_is(SEA_SAN_NODE_ID, "urn:dev:ops:012345-Set%2DTop%2DBox-0123456789",
            "URI:urn:dev:ops:012345-Set%2DTop%2DBox-0123456789");
    name_is(SEA_SAN_NODE_ID, "0.2.481.1.100.3030.10011", "URI:urn:oid:0.2.481.1.100.3030.10011");
}
END_TEST

START_TEST(test_san_malformed_ids_refused)
{
    static const char *ae[] = {
        "C9886",                            /* an AE-ID-Stem */
        "/CSE3219/C9886",                   /* SP-relative */
        "//m2m/CSE3219/C9886",              /* the SP-ID is no FQDN */
        "//m2m.prov.com/CSE3219/X9886",     /* stem must start with C */
        "//m2m.prov.com/C9886",             /* a C stem needs its CSE */
        "//m2m.prov.com/CSE3219/S9886",     /* an S stem stands alone */
        "//m2m.prov.com/S",                 /* an empty stem */
        "//m2m.prov.com/CSE3219/C98 86",    /* a blank */
        "//m2m.prov.com/CSE 3219/C9886",    /* a blank in the CSE-ID */
        "//m2m.prov.com/CSE3219/",          /* no stem */
        "//m2m.prov.com",                   /* no path */
        "//m2m.prov.com//C9886",            /* empty CSE-ID */
        "//m2m.prov.com/a/CSE3219/C9886",   /* too many segments */
        "//*.prov.com/S9886",               /* a wildcard */
        "1ttp://m2m.prov.com/S9886",        /* a scheme starts with a letter */
        "ht_tp://m2m.prov.com/S9886",       /* a scheme character */
        "https:/m2m.prov.com/S9886",        /* not an authority */
        "//m2m.prov.com/CSE3219/C\xc3\xa9", /* not ASCII */
    };
    static const char *cse[] = {
        "/CSE3219",               /* the CSE-ID, not its domain name */
        "//m2m.prov.com/CSE3219", /* ditto */
        "cse1",                   /* one label */
        "*.m2m.prov.com",         /* a wildcard */
        "cse_1.m2m.prov.com",     /* '_' is no LDH character */
        "-cse.m2m.prov.com",      /* a label starting with '-' */
        "cse-.m2m.prov.com",      /* a label ending with '-' */
        "cse..prov.com",          /* an empty label */
        "cse.prov.com.",          /* a trailing dot */
        "cse.prov.com:443",       /* a port */
    };
    static const char *node[] = {
        "imei:90420156-025763-0", /* not a URN */
        "urn:x:abc",              /* a NID of one character */
        "urn:gsma-:abc",          /* a NID ending with '-' */
        "urn:gsma:",              /* an empty NSS */
        "urn:gsma",               /* no NSS */
        "urn:gsma:/abc",          /* an NSS starting with '/' */
        "urn:gsma:a b",           /* a blank */
        "urn:gsma:a%zz",          /* a bad percent-encoding */
        "urn:gsma:a%2",           /* a truncated one */
        "urn:gsma:a\"b",          /* a character URNs do not allow */
        "1.2.",                   /* an OID ending with a dot */
        "01.2",                   /* a leading zero */
        "3.1",                    /* the first arc is 0, 1 or 2 */
        "1",                      /* one arc */
        "1..2",                   /* an empty arc */
    };
    for (size_t i = 0; i < sizeof(ae) / sizeof(ae[0]); i++)
        name_refused(SEA_SAN_AE_ID, ae[i]);
    for (size_t i = 0; i < sizeof(cse) / sizeof(cse[0]); i++)
        name_refused(SEA_SAN_CSE_ID, cse[i]);
    for (size_t i = 0; i < sizeof(node) / sizeof(node[0]); i++)
        name_refused(SEA_SAN_NODE_ID, node[i]);
    char big[700], want[720];
    /* a label of 64 bytes */
    memset(big, 'a', 64);
    strcpy(big + 64, ".example.com");
    name_refused(SEA_SAN_CSE_ID, big);
    /* 253 bytes is the most a domain name has: labels of 63, 63, 63 and 61 bytes */
    size_t at = 0;
    for (int i = 0; i < 4; i++) {
        size_t n = i < 3 ? 63 : 61;
        memset(big + at, 'a' + i, n);
        at += n;
        big[at++] = i < 3 ? '.' : '\0';
    }
    ck_assert_uint_eq(strlen(big), 253);
    snprintf(want, sizeof(want), "DNS:%s", big);
    name_is(SEA_SAN_CSE_ID, big, want);
    strcat(big, ".");
    name_refused(SEA_SAN_CSE_ID, big); /* a trailing dot */
    big[253] = 'd';
    name_refused(SEA_SAN_CSE_ID, big); /* 254 bytes */
    /* 512 bytes is the most an identifier has */
    strcpy(big, "//m2m.prov.com/S");
    memset(big + strlen(big), 'x', 512 - strlen(big));
    big[512] = '\0';
    snprintf(want, sizeof(want), "URI:https:%s", big);
    name_is(SEA_SAN_AE_ID, big, want);
    strcat(big, "x");
    name_refused(SEA_SAN_AE_ID, big);
    /* no value, an empty one, an unknown kind */
    name_refused(SEA_SAN_AE_ID, NULL);
    name_refused(SEA_SAN_NODE_ID, "");
    name_refused((sea_san_kind)0, "urn:gsma:imei:1");
    name_refused((sea_san_kind)4, "urn:gsma:imei:1");
    /* the size of the name, and a buffer one byte short */
    size_t len = 0;
    ck_assert_int_eq(sea_san_name(SEA_SAN_CSE_ID, "cse1.example.com", NULL, &len), SEA_OK);
    ck_assert_uint_eq(len, strlen("DNS:cse1.example.com") + 1); /* NUL included */
    char small[21];
    len = 20;
    ck_assert_int_eq(sea_san_name(SEA_SAN_CSE_ID, "cse1.example.com", small, &len),
                     SEA_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(len, 21);
    ck_assert_ptr_nonnull(strstr(sea_last_error(NULL), "has 20 bytes; 21 are needed"));
    len = 21;
    ck_assert_int_eq(sea_san_name(SEA_SAN_CSE_ID, "cse1.example.com", small, &len), SEA_OK);
    ck_assert_str_eq(small, "DNS:cse1.example.com");
    ck_assert_uint_eq(len, 21);
    ck_assert_int_eq(sea_san_name(SEA_SAN_CSE_ID, "cse1.example.com", small, NULL), SEA_ERR_ARGS);
}
END_TEST

/* ---- CSRs ---- */

struct parsed {
    X509_REQ *req;
    int san_type;
    char san[700];
    int n_san;
    char cn[128];
    bool ku_critical_digital_signature;
};

/* Everything the test checks in a CSR, read by OpenSSL (NULL req if it does not parse). */
static void parse_csr(const uint8_t *der, size_t len, struct parsed *out)
{
    memset(out, 0, sizeof(*out));
    const unsigned char *p = der;
    out->req = d2i_X509_REQ(NULL, &p, (long)len);
    if (!out->req)
        return;
    ck_assert_ptr_eq(p, der + len);
    X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(out->req), NID_commonName, out->cn,
                              sizeof(out->cn));
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(out->req);
    ck_assert_ptr_nonnull(exts);
    for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
        X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
        int nid = OBJ_obj2nid(X509_EXTENSION_get_object(e));
        if (nid == NID_subject_alt_name) {
            GENERAL_NAMES *gens = X509V3_EXT_d2i(e);
            ck_assert_ptr_nonnull(gens);
            out->n_san = sk_GENERAL_NAME_num(gens);
            GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, 0);
            int type;
            ASN1_IA5STRING *s = GENERAL_NAME_get0_value(gn, &type);
            out->san_type = type;
            ck_assert(type == GEN_URI || type == GEN_DNS);
            snprintf(out->san, sizeof(out->san), "%.*s", ASN1_STRING_length(s),
                     (const char *)ASN1_STRING_get0_data(s));
            GENERAL_NAMES_free(gens);
        } else if (nid == NID_key_usage) {
            ASN1_BIT_STRING *ku = X509V3_EXT_d2i(e);
            ck_assert_ptr_nonnull(ku);
            out->ku_critical_digital_signature =
                X509_EXTENSION_get_critical(e) && ASN1_BIT_STRING_get_bit(ku, 0);
            ASN1_BIT_STRING_free(ku);
        }
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
}

/* The CSR verifies with its own public key, which is the SE key's; its signature algorithm is
 * ecdsa-with-SHA<bits>; the SAN is exactly `want` of type `type`. */
static void check_csr(const uint8_t *der, size_t len, sea_obj key, int sig_nid, int type,
                      const char *want, const char *cn)
{
    struct parsed pc;
    parse_csr(der, len, &pc);
    ck_assert_ptr_nonnull(pc.req);
    EVP_PKEY *pk = X509_REQ_get0_pubkey(pc.req);
    ck_assert_ptr_nonnull(pk);
    ck_assert_int_eq(X509_REQ_verify(pc.req, pk), 1);
    ck_assert_int_eq(X509_REQ_get_signature_nid(pc.req), sig_nid);
    ck_assert_int_eq(X509_REQ_get_version(pc.req), 0);
    /* the public key in the CSR is the SE key's */
    uint8_t spki[256], *q = NULL;
    size_t spki_len = sizeof(spki);
    ck_assert_int_eq(sea_public_key(se, key, spki, &spki_len), SEA_OK);
    int n = i2d_PUBKEY(pk, &q);
    ck_assert_int_eq(n, (int)spki_len);
    ck_assert_mem_eq(q, spki, spki_len);
    OPENSSL_free(q);
    ck_assert_int_eq(pc.n_san, 1);
    ck_assert_int_eq(pc.san_type, type);
    ck_assert_str_eq(pc.san, want);
    ck_assert_str_eq(pc.cn, cn);
    ck_assert(pc.ku_critical_digital_signature);
    X509_REQ_free(pc.req);
}

/* Flipping a byte of the CN inside the signed part: no longer a valid CSR. */
static void check_tamper(const uint8_t *der, size_t len, const char *cn)
{
    uint8_t copy[2048];
    ck_assert_uint_le(len, sizeof(copy));
    memcpy(copy, der, len);
    uint8_t *at = memmem(copy, len, cn, strlen(cn));
    ck_assert_ptr_nonnull(at);
    at[0] ^= 0x01;
    struct parsed pc;
    parse_csr(copy, len, &pc);
    ck_assert_ptr_nonnull(pc.req);
    ck_assert_int_ne(X509_REQ_verify(pc.req, X509_REQ_get0_pubkey(pc.req)), 1);
    X509_REQ_free(pc.req);
    /* and one byte of the signature */
    memcpy(copy, der, len);
    copy[len - 5] ^= 0x40;
    parse_csr(copy, len, &pc);
    if (pc.req) {
        ck_assert_int_ne(X509_REQ_verify(pc.req, X509_REQ_get0_pubkey(pc.req)), 1);
        X509_REQ_free(pc.req);
    }
}

START_TEST(test_csr_for_each_identifier_verifies)
{
    sea_obj key = gen_key(SEA_KEY_EC_P256, "cse-key", (const uint8_t *)"\x01\x02", 2, NULL);
    uint8_t der[2048];
    size_t len =
        make_csr(key, SEA_SAN_AE_ID, "//m2m.prov.com/CSE3219/C9886", NULL, der, sizeof(der));
    check_csr(der, len, key, NID_ecdsa_with_SHA256, GEN_URI, "https://m2m.prov.com/CSE3219/C9886",
              "//m2m.prov.com/CSE3219/C9886");
    check_tamper(der, len, "//m2m.prov.com/CSE3219/C9886");
    len = make_csr(key, SEA_SAN_CSE_ID, "mn-cse1.in-cse.m2m.example.com", NULL, der, sizeof(der));
    check_csr(der, len, key, NID_ecdsa_with_SHA256, GEN_DNS, "mn-cse1.in-cse.m2m.example.com",
              "mn-cse1.in-cse.m2m.example.com");
    check_tamper(der, len, "mn-cse1.in-cse.m2m.example.com");
    len = make_csr(key, SEA_SAN_NODE_ID, "urn:gsma:imei:90420156-025763-0;svn=42", "gateway 7", der,
                   sizeof(der));
    check_csr(der, len, key, NID_ecdsa_with_SHA256, GEN_URI,
              "urn:gsma:imei:90420156-025763-0;svn=42", "gateway 7");
    check_tamper(der, len, "gateway 7");
    /* a UTF-8 CN */
    len = make_csr(key, SEA_SAN_NODE_ID, "0.2.481.1.100.3030.10011", "Z\xc3\xa4hler 1", der,
                   sizeof(der));
    check_csr(der, len, key, NID_ecdsa_with_SHA256, GEN_URI, "urn:oid:0.2.481.1.100.3030.10011",
              "Z\xc3\xa4hler 1");
    /* ECDSA signatures vary in length and in their last byte: many CSRs, all valid */
    for (int i = 0; i < 24; i++) {
        len = make_csr(key, SEA_SAN_CSE_ID, "cse1.example.com", NULL, der, sizeof(der));
        check_csr(der, len, key, NID_ecdsa_with_SHA256, GEN_DNS, "cse1.example.com",
                  "cse1.example.com");
    }
}
END_TEST

START_TEST(test_csr_p384_uses_sha384)
{
    sea_obj key = gen_key(SEA_KEY_EC_P384, "p384", NULL, 0, NULL);
    uint8_t der[2048];
    size_t len =
        make_csr(key, SEA_SAN_CSE_ID, "in-cse.m2m.example.com", "IN-CSE", der, sizeof(der));
    check_csr(der, len, key, NID_ecdsa_with_SHA384, GEN_DNS, "in-cse.m2m.example.com", "IN-CSE");
}
END_TEST

START_TEST(test_csr_refusals)
{
    sea_obj pub = 0;
    sea_obj key = gen_key(SEA_KEY_EC_P256, "k", NULL, 0, &pub);
    sea_csr_params p = {.san_kind = SEA_SAN_CSE_ID, .san_value = "cse1.example.com"};
    uint8_t der[2048];
    size_t len = sizeof(der);
    ck_assert_int_eq(sea_csr_create(NULL, key, &p, der, &len), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_csr_create(se, key, NULL, der, &len), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_csr_create(se, key, &p, der, NULL), SEA_ERR_ARGS);
    /* a bad identifier */
    sea_csr_params bad = {.san_kind = SEA_SAN_CSE_ID, .san_value = "/CSE1"};
    ck_assert_int_eq(sea_csr_create(se, key, &bad, der, &len), SEA_ERR_ARGS);
    ck_assert_ptr_nonnull(strstr(sea_last_error(NULL), "public domain name"));
    bad = (sea_csr_params){.san_kind = SEA_SAN_AE_ID, .san_value = "Cae1"};
    ck_assert_int_eq(sea_csr_create(se, key, &bad, der, &len), SEA_ERR_ARGS);
    bad = (sea_csr_params){.san_kind = SEA_SAN_NODE_ID, .san_value = NULL};
    ck_assert_int_eq(sea_csr_create(se, key, &bad, der, &len), SEA_ERR_ARGS);
    /* the CN: too long, a control character, and an identifier too long to be the CN */
    bad =
        (sea_csr_params){.san_kind = SEA_SAN_CSE_ID,
                         .san_value = "cse1.example.com",
                         .subject_cn = "0123456789012345678901234567890123456789012345678901234567"
                                       "89012345"};
    ck_assert_int_eq(sea_csr_create(se, key, &bad, der, &len), SEA_ERR_ARGS);
    bad.subject_cn = "a\nb";
    ck_assert_int_eq(sea_csr_create(se, key, &bad, der, &len), SEA_ERR_ARGS);
    bad.subject_cn = "";
    ck_assert_int_eq(sea_csr_create(se, key, &bad, der, &len), SEA_ERR_ARGS);
    bad.subject_cn = "\xff\xfe";
    ck_assert_int_eq(sea_csr_create(se, key, &bad, der, &len), SEA_ERR_ARGS);
    bad = (sea_csr_params){.san_kind = SEA_SAN_AE_ID,
                           .san_value =
                               "//m2m.example.com/cse-with-a-rather-long-name/Cae-with-a-long-"
                               "name"};
    ck_assert_int_eq(sea_csr_create(se, key, &bad, der, &len), SEA_ERR_ARGS);
    ck_assert_ptr_nonnull(strstr(sea_last_error(NULL), "subject CN"));
    bad.subject_cn = "ae1";
    len = sizeof(der);
    ck_assert_int_eq(sea_csr_create(se, key, &bad, der, &len), SEA_OK);
    /* a buffer one byte smaller than the bound: the size, and nothing written */
    size_t bound = 0;
    ck_assert_int_eq(sea_csr_create(se, key, &p, NULL, &bound), SEA_OK);
    memset(der, 0xa5, sizeof(der));
    len = bound - 1;
    ck_assert_int_eq(sea_csr_create(se, key, &p, der, &len), SEA_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(len, bound);
    for (size_t i = 0; i < sizeof(der); i++)
        ck_assert_uint_eq(der[i], 0xa5);
    len = 10;
    ck_assert_int_eq(sea_csr_create(se, key, &p, der, &len), SEA_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(len, bound);
    /* the public key of the pair, a secret key, an Ed25519 key, no such object */
    len = sizeof(der);
    ck_assert_int_eq(sea_csr_create(se, pub, &p, der, &len), SEA_ERR_ARGS);
    ck_assert_ptr_nonnull(strstr(sea_last_error(NULL), "private key"));
    sea_key_params sp = {.type = SEA_KEY_AES, .bits = 128, .label = "aes"};
    sea_obj aes;
    ck_assert_int_eq(sea_key_generate(se, &sp, &aes, NULL), SEA_OK);
    ck_assert_int_eq(sea_csr_create(se, aes, &p, der, &len), SEA_ERR_ARGS);
    sea_obj ed = gen_key(SEA_KEY_ED25519, "ed", NULL, 0, NULL);
    ck_assert_int_eq(sea_csr_create(se, ed, &p, der, &len), SEA_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(sea_last_error(NULL), "P-256"));
    ck_assert_int_eq(sea_csr_create(se, 0xdead, &p, der, &len), SEA_ERR_NOT_FOUND);
    /* a key that may not sign */
    sea_key_params vp = {.type = SEA_KEY_EC_P256, .label = "verify-only", .usage = SEA_USE_VERIFY};
    sea_obj vk;
    ck_assert_int_eq(sea_key_generate(se, &vp, &vk, NULL), SEA_OK);
    len = sizeof(der);
    ck_assert_int_eq(sea_csr_create(se, vk, &p, der, &len), SEA_ERR_DENIED);
}
END_TEST

/* ---- certificates ---- */

struct ca {
    EVP_PKEY *key;
    X509 *cert;
    long serial;
};

static void ca_make(struct ca *ca)
{
    ca->key = EVP_EC_gen("P-256");
    ck_assert_ptr_nonnull(ca->key);
    ca->cert = X509_new();
    ca->serial = 100;
    X509_set_version(ca->cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(ca->cert), 1);
    X509_NAME *n = X509_get_subject_name(ca->cert);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"test CA", -1, -1, 0);
    X509_set_issuer_name(ca->cert, n);
    X509_gmtime_adj(X509_getm_notBefore(ca->cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(ca->cert), 86400);
    X509_set_pubkey(ca->cert, ca->key);
    ck_assert(X509_sign(ca->cert, ca->key, EVP_sha256()) > 0);
}

static void ca_free(struct ca *ca)
{
    X509_free(ca->cert);
    EVP_PKEY_free(ca->key);
}

/* A certificate for a CSR (its subject, key and extensions), DER in out. */
static size_t ca_issue(struct ca *ca, const uint8_t *csr, size_t csr_len, uint8_t *out, size_t cap)
{
    const unsigned char *p = csr;
    X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)csr_len);
    ck_assert_ptr_nonnull(req);
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), ca->serial++);
    X509_set_issuer_name(x, X509_get_subject_name(ca->cert));
    X509_set_subject_name(x, X509_REQ_get_subject_name(req));
    ASN1_TIME_set_string(X509_getm_notBefore(x), "20261101000000Z");
    ASN1_TIME_set_string(X509_getm_notAfter(x), "20281231235959Z");
    X509_set_pubkey(x, X509_REQ_get0_pubkey(req));
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++)
        X509_add_ext(x, sk_X509_EXTENSION_value(exts, i), -1);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    ck_assert(X509_sign(x, ca->key, EVP_sha256()) > 0);
    int n = i2d_X509(x, NULL);
    ck_assert_int_gt(n, 0);
    ck_assert_uint_le((size_t)n, cap);
    unsigned char *q = out;
    i2d_X509(x, &q);
    X509_free(x);
    X509_REQ_free(req);
    return (size_t)n;
}

static size_t to_pem(const uint8_t *der, size_t len, char *out, size_t cap)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    ck_assert_ptr_nonnull(x);
    BIO *b = BIO_new(BIO_s_mem());
    ck_assert(PEM_write_bio_PUBKEY(b, X509_get0_pubkey(x)) == 1); /* another block first */
    ck_assert(PEM_write_bio_X509(b, x) == 1);
    char *data;
    long n = BIO_get_mem_data(b, &data);
    ck_assert_uint_lt((size_t)n, cap);
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    BIO_free(b);
    X509_free(x);
    return (size_t)n;
}

static size_t count_certs(void)
{
    sea_obj *list = NULL;
    size_t n = 99;
    ck_assert_int_eq(sea_object_list(se, SEA_CLASS_CERTIFICATE, &list, &n), SEA_OK);
    sea_free(list);
    return n;
}

START_TEST(test_cert_import_pairs_with_key)
{
    struct ca ca;
    ca_make(&ca);
    static const uint8_t id[] = {0x01, 0x02, 0x03};
    sea_obj pub = 0;
    sea_obj key = gen_key(SEA_KEY_EC_P256, "mn-cse", id, sizeof(id), &pub);
    uint8_t csr[2048], der[4096];
    size_t csr_len =
        make_csr(key, SEA_SAN_CSE_ID, "mn-cse.in-cse.m2m.example.com", NULL, csr, sizeof(csr));
    size_t der_len = ca_issue(&ca, csr, csr_len, der, sizeof(der));
    sea_obj cert = 0;
    ck_assert_msg(sea_cert_import(se, key, der, der_len, NULL, &cert) == SEA_OK, "%s",
                  sea_last_error(NULL));
    sea_object_info oi;
    ck_assert_int_eq(sea_object_info_get(se, cert, &oi), SEA_OK);
    ck_assert_int_eq(oi.cls, SEA_CLASS_CERTIFICATE);
    ck_assert_str_eq(oi.label, "mn-cse");
    ck_assert_uint_eq(oi.id_len, sizeof(id));
    ck_assert_mem_eq(oi.id, id, sizeof(id));
    ck_assert_int_eq(oi.is_private, 0);
    ck_assert_ptr_nonnull(strstr(oi.uri, "type=cert"));
    /* found by class and CKA_ID, also without a login (a public object) */
    sea_obj found = 0;
    ck_assert_int_eq(sea_object_find(se, "pkcs11:id=%01%02%03;type=cert", SEA_CLASS_ANY, &found),
                     SEA_OK);
    ck_assert_uint_eq(found, cert);
    ck_assert_int_eq(sea_logout(se), SEA_OK);
    ck_assert_int_eq(sea_object_find(se, "pkcs11:id=%01%02%03;type=cert", SEA_CLASS_ANY, &found),
                     SEA_OK);
    ck_assert_uint_eq(found, cert);
    ck_assert_int_eq(sea_login(se, SEA_USER, PIN, strlen(PIN)), SEA_OK);
    /* the same certificate again, also as PEM (after another PEM block), through the public
     * key: already there */
    char pem[8192];
    size_t pem_len = to_pem(der, der_len, pem, sizeof(pem));
    ck_assert_int_eq(sea_cert_import(se, pub, (const uint8_t *)pem, pem_len, "again", NULL),
                     SEA_ERR_EXISTS);
    ck_assert_int_eq(sea_cert_import(se, key, der, der_len, NULL, NULL), SEA_ERR_EXISTS);
    ck_assert_uint_eq(count_certs(), 1);
    /* a renewal (a new certificate for the same key) as PEM with a label of its own */
    der_len = ca_issue(&ca, csr, csr_len, der, sizeof(der));
    pem_len = to_pem(der, der_len, pem, sizeof(pem));
    ck_assert_int_eq(sea_cert_import(se, pub, (const uint8_t *)pem, pem_len, "renewed", &cert),
                     SEA_OK);
    ck_assert_int_eq(sea_object_info_get(se, cert, &oi), SEA_OK);
    ck_assert_str_eq(oi.label, "renewed");
    ck_assert_mem_eq(oi.id, id, sizeof(id));
    ck_assert_uint_eq(count_certs(), 2);
    ca_free(&ca);
}
END_TEST

/* The SHA-1 of the uncompressed point of a key, computed here from its SPKI. */
static void point_sha1(sea_obj key, uint8_t out[20])
{
    uint8_t spki[256];
    size_t len = sizeof(spki);
    ck_assert_int_eq(sea_public_key(se, key, spki, &len), SEA_OK);
    ck_assert_uint_eq(len, 91);
    ck_assert_uint_eq(spki[26], 0x04);
    SHA1(spki + 26, 65, out);
}

START_TEST(test_cert_import_gives_idless_key_an_id)
{
    struct ca ca;
    ca_make(&ca);
    sea_obj pub = 0;
    sea_obj key = gen_key(SEA_KEY_EC_P256, "ae1", NULL, 0, &pub);
    uint8_t csr[2048], der[4096], want[20];
    size_t csr_len =
        make_csr(key, SEA_SAN_AE_ID, "//m2m.example.com/S-ae1", NULL, csr, sizeof(csr));
    size_t der_len = ca_issue(&ca, csr, csr_len, der, sizeof(der));
    sea_obj cert = 0;
    ck_assert_int_eq(sea_cert_import(se, key, der, der_len, "ae1 cert", &cert), SEA_OK);
    point_sha1(key, want);
    sea_obj objs[3] = {key, pub, cert};
    for (int i = 0; i < 3; i++) {
        sea_object_info oi;
        ck_assert_int_eq(sea_object_info_get(se, objs[i], &oi), SEA_OK);
        ck_assert_uint_eq(oi.id_len, 20);
        ck_assert_mem_eq(oi.id, want, 20);
    }
    ca_free(&ca);
}
END_TEST

/* An id longer than sea_object_info's 64 bytes is an id all the same: kept, and given to the
 * certificate (review 5, finding 9). */
START_TEST(test_cert_import_keeps_a_long_id)
{
    struct ca ca;
    ca_make(&ca);
    uint8_t longid[100];
    memset(longid, 'L', sizeof(longid));
    sea_obj pub = 0;
    sea_obj key = gen_key(SEA_KEY_EC_P256, "long", longid, sizeof(longid), &pub);
    uint8_t csr[2048], der[4096];
    size_t csr_len = make_csr(key, SEA_SAN_CSE_ID, "cse1.example.com", NULL, csr, sizeof(csr));
    size_t der_len = ca_issue(&ca, csr, csr_len, der, sizeof(der));
    sea_obj cert = 0;
    ck_assert_msg(sea_cert_import(se, key, der, der_len, "long cert", &cert) == SEA_OK, "%s",
                  sea_last_error(NULL));
    /* not replaced by the 20-byte SHA-1 of the point */
    sea_obj objs[3] = {key, pub, cert};
    for (int i = 0; i < 3; i++) {
        sea_object_info oi;
        ck_assert_int_eq(sea_object_info_get(se, objs[i], &oi), SEA_OK);
        ck_assert_uint_eq(oi.id_len, 0); /* over 64 bytes: not reported, but there */
    }
    /* the three objects carry exactly the 100-byte id: found by it through a PKCS#11 URI */
    char uri[400] = "pkcs11:id=";
    for (size_t i = 0; i < sizeof(longid); i++)
        strcat(uri, "%4C");
    static const sea_class cls[3] = {SEA_CLASS_PRIVATE_KEY, SEA_CLASS_PUBLIC_KEY,
                                     SEA_CLASS_CERTIFICATE};
    for (int i = 0; i < 3; i++) {
        sea_obj o = 0;
        ck_assert_msg(sea_object_find(se, uri, cls[i], &o) == SEA_OK, "%d: %s", i,
                      sea_last_error(NULL));
        ck_assert_uint_eq(o, objs[i]);
    }
    ca_free(&ca);
}
END_TEST

START_TEST(test_cert_for_another_key_refused)
{
    struct ca ca;
    ca_make(&ca);
    sea_obj pub_a = 0;
    sea_obj a = gen_key(SEA_KEY_EC_P256, "a", NULL, 0, &pub_a);
    sea_obj b = gen_key(SEA_KEY_EC_P256, "b", (const uint8_t *)"\x0b", 1, NULL);
    uint8_t csr[2048], der[4096];
    size_t csr_len = make_csr(b, SEA_SAN_CSE_ID, "b.example.com", NULL, csr, sizeof(csr));
    size_t der_len = ca_issue(&ca, csr, csr_len, der, sizeof(der));
    sea_obj cert = 0xbeef;
    ck_assert_int_eq(sea_cert_import(se, a, der, der_len, NULL, &cert), SEA_ERR_DATA_INVALID);
    ck_assert_ptr_nonnull(strstr(sea_last_error(NULL), "not for the key 'a'"));
    ck_assert_uint_eq(cert, 0xbeef);
    ck_assert_int_eq(sea_cert_import(se, pub_a, der, der_len, NULL, &cert), SEA_ERR_DATA_INVALID);
    /* nothing was written: no certificate, and a's key pair still has no CKA_ID */
    ck_assert_uint_eq(count_certs(), 0);
    sea_object_info oi;
    ck_assert_int_eq(sea_object_info_get(se, a, &oi), SEA_OK);
    ck_assert_uint_eq(oi.id_len, 0);
    ck_assert_int_eq(sea_object_info_get(se, pub_a, &oi), SEA_OK);
    ck_assert_uint_eq(oi.id_len, 0);
    /* not a certificate: garbage, a truncated one, a PEM without a CERTIFICATE block */
    static const uint8_t junk[] = "not a certificate at all";
    ck_assert_int_eq(sea_cert_import(se, b, junk, sizeof(junk), NULL, NULL), SEA_ERR_DATA_INVALID);
    ck_assert_int_eq(sea_cert_import(se, b, der, der_len - 1, NULL, NULL), SEA_ERR_DATA_INVALID);
    uint8_t longer[4200];
    memcpy(longer, der, der_len);
    longer[der_len] = 0;
    ck_assert_int_eq(sea_cert_import(se, b, longer, der_len + 1, NULL, NULL), SEA_ERR_DATA_INVALID);
    static const char pem_key[] = "-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----\n";
    ck_assert_int_eq(sea_cert_import(se, b, (const uint8_t *)pem_key, strlen(pem_key), NULL, NULL),
                     SEA_ERR_DATA_INVALID);
    /* arguments */
    ck_assert_int_eq(sea_cert_import(NULL, b, der, der_len, NULL, NULL), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_cert_import(se, b, NULL, der_len, NULL, NULL), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_cert_import(se, b, der, 0, NULL, NULL), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_cert_import(se, b, der, 65537, NULL, NULL), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_cert_import(se, b, der, der_len, "", NULL), SEA_ERR_ARGS);
    sea_key_params sp = {.type = SEA_KEY_GENERIC_SECRET, .bits = 256, .label = "hmac"};
    sea_obj hk;
    ck_assert_int_eq(sea_key_generate(se, &sp, &hk, NULL), SEA_OK);
    ck_assert_int_eq(sea_cert_import(se, hk, der, der_len, NULL, NULL), SEA_ERR_ARGS);
    ck_assert_uint_eq(count_certs(), 0);
    /* the right key takes it */
    ck_assert_int_eq(sea_cert_import(se, b, der, der_len, NULL, &cert), SEA_OK);
    ck_assert_uint_eq(count_certs(), 1);
    ca_free(&ca);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("csr");
    TCase *tn = tcase_create("names");
    tcase_add_test(tn, test_san_forms_follow_ts0003_10_1_1);
    tcase_add_test(tn, test_san_malformed_ids_refused);
    suite_add_tcase(su, tn);
    TCase *tc = tcase_create("csr");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_csr_for_each_identifier_verifies);
    tcase_add_test(tc, test_csr_p384_uses_sha384);
    tcase_add_test(tc, test_csr_refusals);
    tcase_add_test(tc, test_cert_import_pairs_with_key);
    tcase_add_test(tc, test_cert_import_gives_idless_key_an_id);
    tcase_add_test(tc, test_cert_import_keeps_a_long_id);
    tcase_add_test(tc, test_cert_for_another_key_refused);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

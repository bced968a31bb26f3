/* Unit tests of PKCS#11 URIs (provider/uri.c): RFC 7512 examples, percent-decoding, every
 * rejection, secrecy of pin-value in messages, token matching, templates and formatting. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "error.h"
#include "uri.h"

static struct p11uri *parse_ok(const char *s)
{
    struct p11uri *u = NULL;
    err_clear();
    CK_RV rv = uri_parse(s, &u);
    ck_assert_msg(rv == CKR_OK, "uri_parse(%s): %s", s, err_get()->msg);
    ck_assert_ptr_nonnull(u);
    return u;
}

/* Must fail with CKR_ARGUMENTS_BAD, origin API, a message containing what, and no output. */
static void parse_fails(const char *s, const char *what)
{
    struct p11uri *u = (struct p11uri *)0x1;
    err_clear();
    ck_assert_msg(uri_parse(s, &u) == CKR_ARGUMENTS_BAD, "uri_parse(%s) succeeded", s);
    ck_assert_ptr_eq(u, (struct p11uri *)0x1);
    ck_assert_int_eq(err_get()->rv, CKR_ARGUMENTS_BAD);
    ck_assert_int_eq(err_get()->origin, ORIGIN_API);
    ck_assert_msg(strstr(err_get()->msg, what), "%s: '%s' lacks '%s'", s, err_get()->msg, what);
}

static void assert_bytes(const uint8_t *got, size_t got_len, const void *want, size_t want_len)
{
    ck_assert_uint_eq(got_len, want_len);
    ck_assert_int_eq(memcmp(got, want, want_len), 0);
}

/* ---- RFC 7512 section 3.3, in our own words ---- */

START_TEST(empty_uri_names_everything)
{
    struct p11uri *u = parse_ok("pkcs11:");
    ck_assert_ptr_null(u->token);
    ck_assert_ptr_null(u->object);
    ck_assert(!u->has_id && !u->has_type && !u->has_slot_id && !u->has_library_version);
    ck_assert_ptr_null(u->pin_value);
    CK_TOKEN_INFO ti;
    memset(&ti, 'z', sizeof(ti));
    ck_assert(uri_match_token(u, &ti));
    CK_ATTRIBUTE t[3];
    CK_OBJECT_CLASS cls;
    ck_assert_uint_eq(uri_object_template(u, t, &cls), 0);
    uri_free(u);
}
END_TEST

START_TEST(object_and_type_with_pin_source)
{
    struct p11uri *u = parse_ok("pkcs11:object=signing-key;type=private?pin-source=file:/run/pin");
    ck_assert_str_eq(u->object, "signing-key");
    ck_assert(u->has_type);
    ck_assert_uint_eq(u->type, CKO_PRIVATE_KEY);
    ck_assert_str_eq(u->pin_source, "file:/run/pin");
    ck_assert_ptr_null(u->pin_value);
    uri_free(u);
}
END_TEST

START_TEST(token_attributes_binary_id_and_empty_serial)
{
    struct p11uri *u =
        parse_ok("pkcs11:token=Acme%20Soft%20Token%20%232;manufacturer=Acme,%20Ltd.;model=v2;"
                 "object=my%20cert;type=cert;id=%0a%B7%3e%5C%00%FF;serial="
                 "?pin-source=file:/etc/sea/pin");
    ck_assert_str_eq(u->token, "Acme Soft Token #2");
    ck_assert_str_eq(u->manufacturer, "Acme, Ltd.");
    ck_assert_str_eq(u->model, "v2");
    ck_assert_str_eq(u->object, "my cert");
    ck_assert_uint_eq(u->type, CKO_CERTIFICATE);
    ck_assert(u->has_id);
    assert_bytes(u->id, u->id_len, "\x0a\xb7\x3e\x5c\x00\xff", 6);
    ck_assert_str_eq(u->serial, "");
    ck_assert_str_eq(u->pin_source, "file:/etc/sea/pin");
    uri_free(u);
}
END_TEST

START_TEST(module_name_module_path_and_pin_value)
{
    struct p11uri *u = parse_ok("pkcs11:object=k;type=secret-key?module-name=acme-p11&"
                                "module-path=/opt/acme/lib/libp11.so.2&pin-value=12%2034");
    ck_assert_uint_eq(u->type, CKO_SECRET_KEY);
    ck_assert_str_eq(u->module_name, "acme-p11");
    ck_assert_str_eq(u->module_path, "/opt/acme/lib/libp11.so.2");
    ck_assert_str_eq(u->pin_value, "12 34");
    uri_free(u);
}
END_TEST

START_TEST(slot_and_library_attributes)
{
    struct p11uri *u =
        parse_ok("pkcs11:slot-description=Virtual%20Slot;slot-manufacturer=Acme;slot-id=7;"
                 "library-manufacturer=Acme%20Inc.;library-description=Soft%20Library;"
                 "library-version=2.31");
    ck_assert_str_eq(u->slot_description, "Virtual Slot");
    ck_assert_str_eq(u->slot_manufacturer, "Acme");
    ck_assert(u->has_slot_id);
    ck_assert_uint_eq(u->slot_id, 7);
    ck_assert_str_eq(u->library_manufacturer, "Acme Inc.");
    ck_assert_str_eq(u->library_description, "Soft Library");
    ck_assert(u->has_library_version);
    ck_assert_uint_eq(u->library_version.major, 2);
    ck_assert_uint_eq(u->library_version.minor, 31);
    uri_free(u);
}
END_TEST

START_TEST(escaped_separators_and_utf8_in_values)
{
    struct p11uri *u = parse_ok("pkcs11:token=semi%3Bcolon%25%3F%26;object=caf%C3%A9;type=data");
    ck_assert_str_eq(u->token, "semi;colon%?&");
    ck_assert_str_eq(u->object, "caf\xc3\xa9");
    ck_assert_uint_eq(u->type, CKO_DATA);
    uri_free(u);
}
END_TEST

START_TEST(vendor_x_attributes_are_ignored)
{
    struct p11uri *u = parse_ok(
        "pkcs11:token=t;x-vendor-aaa=%zz;object=o;type=public?x-vendor-bbb=b&pin-source=p");
    ck_assert_str_eq(u->token, "t");
    ck_assert_str_eq(u->object, "o");
    ck_assert_uint_eq(u->type, CKO_PUBLIC_KEY);
    ck_assert_str_eq(u->pin_source, "p");
    uri_free(u);
}
END_TEST

START_TEST(scheme_is_case_insensitive)
{
    struct p11uri *u = parse_ok("PKCS11:object=a");
    ck_assert_str_eq(u->object, "a");
    uri_free(u);
    u = parse_ok("Pkcs11:");
    uri_free(u);
    parse_fails("pkcs12:object=a", "not a PKCS#11 URI");
    parse_fails("pkcs11", "not a PKCS#11 URI");
    parse_fails("", "not a PKCS#11 URI");
    parse_fails("object=a", "not a PKCS#11 URI");
}
END_TEST

START_TEST(empty_components_and_values)
{
    struct p11uri *u = parse_ok("pkcs11:;object=;;id=;?&pin-source=&");
    ck_assert_str_eq(u->object, "");
    ck_assert(u->has_id);
    ck_assert_uint_eq(u->id_len, 0);
    ck_assert_str_eq(u->pin_source, "");
    uri_free(u);
}
END_TEST

/* ---- percent-decoding ---- */

START_TEST(percent_decoding_either_case_and_every_byte)
{
    char s[16 + 256 * 3];
    uint8_t want[256];
    char *p = s + sprintf(s, "pkcs11:id=");
    for (int i = 0; i < 256; i++) {
        want[i] = (uint8_t)i;
        p += sprintf(p, i % 2 ? "%%%02x" : "%%%02X", i);
    }
    struct p11uri *u = parse_ok(s);
    assert_bytes(u->id, u->id_len, want, sizeof(want));
    uri_free(u);

    u = parse_ok("pkcs11:object=%41%62c%7e%7E");
    ck_assert_str_eq(u->object, "Abc~~");
    uri_free(u);
}
END_TEST

START_TEST(bad_percent_escapes_are_rejected)
{
    parse_fails("pkcs11:object=a%4", "bad percent-escape in 'object'");
    parse_fails("pkcs11:object=%zz", "bad percent-escape in 'object'");
    parse_fails("pkcs11:object=%4g", "bad percent-escape in 'object'");
    parse_fails("pkcs11:object=%", "bad percent-escape in 'object'");
    parse_fails("pkcs11:id=%0", "bad percent-escape in 'id'");
    parse_fails("pkcs11:token=x%", "bad percent-escape in 'token'");
    parse_fails("pkcs11:?module-path=%2", "bad percent-escape in 'module-path'");
}
END_TEST

START_TEST(nul_after_decoding_is_rejected_in_text)
{
    parse_fails("pkcs11:object=a%00b", "NUL byte in 'object'");
    parse_fails("pkcs11:token=%00", "NUL byte in 'token'");
    parse_fails("pkcs11:?module-name=x%00", "NUL byte in 'module-name'");
    parse_fails("pkcs11:type=data%00", "bad 'type'");
    struct p11uri *u = parse_ok("pkcs11:id=%00"); /* id is binary */
    assert_bytes(u->id, u->id_len, "\0", 1);
    uri_free(u);
}
END_TEST

/* ---- rejections ---- */

START_TEST(duplicate_attributes_are_rejected)
{
    parse_fails("pkcs11:object=a;object=b", "duplicate attribute 'object'");
    parse_fails("pkcs11:id=%01;type=cert;id=%01", "duplicate attribute 'id'");
    parse_fails("pkcs11:type=cert;type=cert", "duplicate attribute 'type'");
    parse_fails("pkcs11:slot-id=1;slot-id=1", "duplicate attribute 'slot-id'");
    parse_fails("pkcs11:?pin-source=a&pin-source=b", "duplicate attribute 'pin-source'");
}
END_TEST

START_TEST(unknown_and_misplaced_attributes_are_rejected)
{
    parse_fails("pkcs11:object=a;label=b", "unknown path attribute 'label'");
    parse_fails("pkcs11:Object=a", "unknown path attribute 'Object'");
    parse_fails("pkcs11:?pin=1", "unknown query attribute (expected pin-value");
    parse_fails("pkcs11:object=a;%41=b", "unknown path attribute");
    parse_fails("pkcs11:=a", "unknown path attribute");
    parse_fails("pkcs11:object", "has no '='");
    parse_fails("pkcs11:?token=a", "'token' belongs in the path");
    parse_fails("pkcs11:module-name=a", "'module-name' belongs in the query");
}
END_TEST

START_TEST(bad_type_is_rejected)
{
    parse_fails("pkcs11:type=key", "bad 'type'");
    parse_fails("pkcs11:type=Private", "bad 'type'");
    parse_fails("pkcs11:type=", "bad 'type'");
    parse_fails("pkcs11:type=certificate", "bad 'type'");
}
END_TEST

START_TEST(library_version_forms)
{
    static const struct {
        const char *v;
        int major, minor;
    } ok[] = {{"3", 3, 0}, {"1.23", 1, 23}, {"0.0", 0, 0}, {"255.255", 255, 255}, {"01.002", 1, 2}};
    char s[64];
    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        snprintf(s, sizeof(s), "pkcs11:library-version=%s", ok[i].v);
        struct p11uri *u = parse_ok(s);
        ck_assert(u->has_library_version);
        ck_assert_uint_eq(u->library_version.major, ok[i].major);
        ck_assert_uint_eq(u->library_version.minor, ok[i].minor);
        uri_free(u);
    }
    static const char *const bad[] = {"",    "1.",    ".1", "1.2.3", "a",   "1.b",
                                      "256", "1.256", "-1", "+1",    "1 .2"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        snprintf(s, sizeof(s), "pkcs11:library-version=%s", bad[i]);
        parse_fails(s, "bad 'library-version'");
    }
}
END_TEST

START_TEST(slot_id_must_be_a_decimal_number)
{
    char s[64];
    struct p11uri *u = parse_ok("pkcs11:slot-id=0");
    ck_assert(u->has_slot_id);
    ck_assert_uint_eq(u->slot_id, 0);
    uri_free(u);
    snprintf(s, sizeof(s), "pkcs11:slot-id=%lu", ULONG_MAX);
    u = parse_ok(s);
    ck_assert_uint_eq(u->slot_id, ULONG_MAX);
    uri_free(u);
    static const char *const bad[] = {"12x",
                                      "x12",
                                      "",
                                      "-1",
                                      "+1",
                                      "0x10",
                                      "1 ",
                                      "18446744073709551616",
                                      "99999999999999999999999"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        snprintf(s, sizeof(s), "pkcs11:slot-id=%s", bad[i]);
        parse_fails(s, "bad 'slot-id'");
    }
}
END_TEST

START_TEST(pin_value_never_appears_in_messages)
{
    static const char *const bad[] = {
        "pkcs11:?pin-value=S3CRETPIN%zz",                  /* bad escape */
        "pkcs11:?pin-value=S3CRETPIN%00",                  /* NUL */
        "pkcs11:?pin-value=S3CRETPIN&pin-value=S3CRETPIN", /* duplicate */
        "pkcs11:pin-value=S3CRETPIN",                      /* misplaced */
        "pkcs11:?pin-valueS3CRETPIN",                      /* no '=' */
        "pkcs11:?S3CRETPIN",                               /* a bare secret */
        "pkcs11:?pin-value=S3CRETPIN&bogus=1",             /* a later error */
        "pkcs11:?pin-value=S3CRETPIN&S3CRETPIN=1",
        "pkcs11:object=%zz?pin-value=S3CRETPIN", /* an earlier error */
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct p11uri *u = NULL;
        err_clear();
        ck_assert_uint_eq(uri_parse(bad[i], &u), CKR_ARGUMENTS_BAD);
        ck_assert_ptr_null(u);
        ck_assert_msg(err_get()->msg[0] != '\0', "no message for %s", bad[i]);
        ck_assert_msg(!strstr(err_get()->msg, "S3CRETPIN"), "pin leaked: %s", err_get()->msg);
    }
}
END_TEST

START_TEST(null_arguments_are_refused)
{
    struct p11uri *u = NULL;
    err_clear();
    ck_assert_uint_eq(uri_parse(NULL, &u), CKR_ARGUMENTS_BAD);
    ck_assert_int_eq(err_get()->origin, ORIGIN_API);
    ck_assert_uint_eq(uri_parse("pkcs11:", NULL), CKR_ARGUMENTS_BAD);
    ck_assert_ptr_null(u);
    uri_free(NULL);
    ck_assert(!uri_match_token(NULL, NULL));
    CK_ATTRIBUTE t[3];
    CK_OBJECT_CLASS cls;
    ck_assert_uint_eq(uri_object_template(NULL, t, &cls), 0);
}
END_TEST

/* ---- token matching ---- */

static void fill_token(CK_TOKEN_INFO *ti, const char *label, const char *manuf, const char *model,
                       const char *serial)
{
    memset(ti, 0, sizeof(*ti));
    sea_pad(ti->label, sizeof(ti->label), label);
    sea_pad(ti->manufacturerID, sizeof(ti->manufacturerID), manuf);
    sea_pad(ti->model, sizeof(ti->model), model);
    sea_pad(ti->serialNumber, sizeof(ti->serialNumber), serial);
}

static bool matches(const char *uri, const CK_TOKEN_INFO *ti)
{
    struct p11uri *u = parse_ok(uri);
    bool m = uri_match_token(u, ti);
    uri_free(u);
    return m;
}

START_TEST(token_match_compares_trimmed_fields_exactly)
{
    CK_TOKEN_INFO ti;
    fill_token(&ti, "SE operator", "libsea", "soft", "0123456789abcdef");
    ck_assert(matches("pkcs11:token=SE%20operator", &ti));
    ck_assert(matches("pkcs11:token=SE%20operator%20%20", &ti)); /* trailing blanks are padding */
    ck_assert(matches("pkcs11:token=SE%20operator;manufacturer=libsea;model=soft;"
                      "serial=0123456789abcdef;object=whatever",
                      &ti));
    ck_assert(!matches("pkcs11:token=SE", &ti)); /* no prefix match */
    ck_assert(!matches("pkcs11:token=se%20operator", &ti));
    ck_assert(!matches("pkcs11:token=SE%20operator%20x", &ti));
    ck_assert(!matches("pkcs11:token=SE%20operator;manufacturer=other", &ti));
    ck_assert(!matches("pkcs11:model=hard", &ti));
    ck_assert(!matches("pkcs11:serial=0123456789abcdef0", &ti));
    ck_assert(!matches("pkcs11:serial=", &ti)); /* empty serial only matches a blank one */

    fill_token(&ti, "x", "m", "", "");
    ck_assert(matches("pkcs11:serial=", &ti));
    ck_assert(matches("pkcs11:model=;serial=", &ti));

    /* a label of exactly 32 characters */
    fill_token(&ti, "0123456789abcdef0123456789abcdef", "m", "d", "s");
    ck_assert(matches("pkcs11:token=0123456789abcdef0123456789abcdef", &ti));
    ck_assert(!matches("pkcs11:token=0123456789abcdef0123456789abcdefX", &ti));
}
END_TEST

/* ---- templates ---- */

START_TEST(template_holds_class_label_and_id_in_order)
{
    struct p11uri *u = parse_ok("pkcs11:id=%01%02;token=t;object=my%20key;type=private");
    CK_ATTRIBUTE t[3];
    CK_OBJECT_CLASS cls = 0;
    ck_assert_uint_eq(uri_object_template(u, t, &cls), 3);
    ck_assert_uint_eq(t[0].type, CKA_CLASS);
    ck_assert_ptr_eq(t[0].pValue, &cls);
    ck_assert_uint_eq(t[0].ulValueLen, sizeof(CK_OBJECT_CLASS));
    ck_assert_uint_eq(cls, CKO_PRIVATE_KEY);
    ck_assert_uint_eq(t[1].type, CKA_LABEL);
    ck_assert_uint_eq(t[1].ulValueLen, 6);
    ck_assert_int_eq(memcmp(t[1].pValue, "my key", 6), 0);
    ck_assert_uint_eq(t[2].type, CKA_ID);
    assert_bytes(t[2].pValue, t[2].ulValueLen, "\x01\x02", 2);
    uri_free(u);

    u = parse_ok("pkcs11:token=t;id=%FF");
    ck_assert_uint_eq(uri_object_template(u, t, &cls), 1);
    ck_assert_uint_eq(t[0].type, CKA_ID);
    assert_bytes(t[0].pValue, t[0].ulValueLen, "\xff", 1);
    uri_free(u);

    u = parse_ok("pkcs11:type=cert;object=");
    ck_assert_uint_eq(uri_object_template(u, t, &cls), 2);
    ck_assert_uint_eq(t[0].type, CKA_CLASS);
    ck_assert_uint_eq(cls, CKO_CERTIFICATE);
    ck_assert_uint_eq(t[1].type, CKA_LABEL);
    ck_assert_uint_eq(t[1].ulValueLen, 0);
    uri_free(u);
}
END_TEST

START_TEST(type_names_map_both_ways)
{
    static const struct {
        const char *name;
        CK_OBJECT_CLASS cls;
    } map[] = {{"public", CKO_PUBLIC_KEY},
               {"private", CKO_PRIVATE_KEY},
               {"cert", CKO_CERTIFICATE},
               {"secret-key", CKO_SECRET_KEY},
               {"data", CKO_DATA}};
    for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
        CK_OBJECT_CLASS c = CKO_VENDOR_DEFINED;
        ck_assert(uri_type_from_name(map[i].name, &c));
        ck_assert_uint_eq(c, map[i].cls);
        ck_assert_str_eq(uri_type_name(map[i].cls), map[i].name);
    }
    CK_OBJECT_CLASS c = 12345;
    ck_assert(!uri_type_from_name("key", &c));
    ck_assert(!uri_type_from_name(NULL, &c));
    ck_assert(!uri_type_from_name("data", NULL));
    ck_assert_uint_eq(c, 12345);
    ck_assert_ptr_null(uri_type_name(CKO_HW_FEATURE));
}
END_TEST

/* ---- formatting ---- */

START_TEST(format_encodes_outside_unreserved_in_fixed_order)
{
    char *s = uri_format("My Token", "00ab", "key;1?x=y&z%", (const uint8_t *)"\x00\x41\xff", 3,
                         true, CKO_PRIVATE_KEY);
    ck_assert_str_eq(s, "pkcs11:token=My%20Token;serial=00ab;object=key%3B1%3Fx%3Dy%26z%25;"
                        "id=%00%41%FF;type=private");
    free(s);
    s = uri_format(NULL, NULL, "A-Z.a_z~0", NULL, 0, false, 0);
    ck_assert_str_eq(s, "pkcs11:object=A-Z.a_z~0");
    free(s);
    s = uri_format(NULL, NULL, NULL, (const uint8_t *)"x", 0, false, 0); /* id_len 0: left out */
    ck_assert_str_eq(s, "pkcs11:");
    free(s);
    s = uri_format(NULL, NULL, "caf\xc3\xa9", NULL, 0, true, CKO_DATA);
    ck_assert_str_eq(s, "pkcs11:object=caf%C3%A9;type=data");
    free(s);
    err_clear();
    ck_assert_ptr_null(uri_format("t", NULL, NULL, NULL, 0, true, CKO_HW_FEATURE));
    ck_assert_int_eq(err_get()->rv, CKR_ARGUMENTS_BAD);
}
END_TEST

START_TEST(format_then_parse_round_trips)
{
    char label[256];
    uint8_t id[256];
    for (int i = 0; i < 255; i++)
        label[i] = (char)(i + 1); /* every byte but NUL */
    label[255] = '\0';
    for (int i = 0; i < 256; i++)
        id[i] = (uint8_t)(255 - i);
    char *s = uri_format("tok; en?&=%", "S/N 42", label, id, sizeof(id), true, CKO_SECRET_KEY);
    ck_assert_ptr_nonnull(s);
    struct p11uri *u = parse_ok(s);
    ck_assert_str_eq(u->token, "tok; en?&=%");
    ck_assert_str_eq(u->serial, "S/N 42");
    ck_assert_str_eq(u->object, label);
    assert_bytes(u->id, u->id_len, id, sizeof(id));
    ck_assert(u->has_type);
    ck_assert_uint_eq(u->type, CKO_SECRET_KEY);
    uri_free(u);
    free(s);
}
END_TEST

static Suite *uri_suite(void)
{
    Suite *s = suite_create("uri");
    TCase *tc = tcase_create("rfc7512");
    tcase_add_test(tc, empty_uri_names_everything);
    tcase_add_test(tc, object_and_type_with_pin_source);
    tcase_add_test(tc, token_attributes_binary_id_and_empty_serial);
    tcase_add_test(tc, module_name_module_path_and_pin_value);
    tcase_add_test(tc, slot_and_library_attributes);
    tcase_add_test(tc, escaped_separators_and_utf8_in_values);
    tcase_add_test(tc, vendor_x_attributes_are_ignored);
    tcase_add_test(tc, scheme_is_case_insensitive);
    tcase_add_test(tc, empty_components_and_values);
    suite_add_tcase(s, tc);

    tc = tcase_create("decoding");
    tcase_add_test(tc, percent_decoding_either_case_and_every_byte);
    tcase_add_test(tc, bad_percent_escapes_are_rejected);
    tcase_add_test(tc, nul_after_decoding_is_rejected_in_text);
    suite_add_tcase(s, tc);

    tc = tcase_create("rejections");
    tcase_add_test(tc, duplicate_attributes_are_rejected);
    tcase_add_test(tc, unknown_and_misplaced_attributes_are_rejected);
    tcase_add_test(tc, bad_type_is_rejected);
    tcase_add_test(tc, library_version_forms);
    tcase_add_test(tc, slot_id_must_be_a_decimal_number);
    tcase_add_test(tc, pin_value_never_appears_in_messages);
    tcase_add_test(tc, null_arguments_are_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("use");
    tcase_add_test(tc, token_match_compares_trimmed_fields_exactly);
    tcase_add_test(tc, template_holds_class_label_and_id_in_order);
    tcase_add_test(tc, type_names_map_both_ways);
    tcase_add_test(tc, format_encodes_outside_unreserved_in_fixed_order);
    tcase_add_test(tc, format_then_parse_round_trips);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(uri_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

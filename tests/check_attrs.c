/* Unit tests of attribute sets (provider/attrs.c) and of the object model rules
 * (provider/schema.c): encoding, template parsing, matching, and the standard's rules for
 * creating, generating, changing, copying and reading objects. */
#include <check.h>
#include <openssl/crypto.h>
#include <stdlib.h>

#include "attrs.h"
#include "crypto.h"
#include "error.h"
#include "schema.h"

static const uint8_t P256_OID[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

static CK_BBOOL T = CK_TRUE, F = CK_FALSE;

static void setup(void)
{
    ck_assert_int_eq(crypto_init(), CKR_OK);
    err_clear();
}

static void teardown(void)
{
    crypto_fini();
}

/* ---- attribute sets ---- */

START_TEST(test_set_get_replace_remove)
{
    struct attrs *a = attrs_new();
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(attrs_set_bool(a, CKA_TOKEN, true), CKR_OK);
    ck_assert_int_eq(attrs_set_ulong(a, CKA_CLASS, CKO_DATA), CKR_OK);
    ck_assert_int_eq(attrs_set(a, CKA_LABEL, "abc", 3), CKR_OK);
    ck_assert(attrs_get_bool(a, CKA_TOKEN, false));
    ck_assert_uint_eq(attrs_get_ulong(a, CKA_CLASS, 99), CKO_DATA);
    ck_assert_uint_eq(attrs_get_ulong(a, CKA_KEY_TYPE, 99), 99);
    ck_assert_int_eq(attrs_set(a, CKA_LABEL, "longer", 6), CKR_OK);
    const struct attr *x = attrs_find(a, CKA_LABEL);
    ck_assert_ptr_nonnull(x);
    ck_assert_uint_eq(x->len, 6);
    ck_assert_mem_eq(x->val, "longer", 6);
    ck_assert_uint_eq(a->n, 3);
    attrs_remove(a, CKA_TOKEN);
    ck_assert(!attrs_has(a, CKA_TOKEN));
    ck_assert_uint_eq(a->n, 2);
    struct attrs *d = attrs_dup(a);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(d->n, 2);
    attrs_unref(a);
    ck_assert_uint_eq(attrs_get_ulong(d, CKA_CLASS, 0), CKO_DATA);
    attrs_unref(d);
}
END_TEST

START_TEST(test_secret_values_in_secure_heap)
{
    ck_assert(crypto_secure_heap(1 << 16));
    struct attrs *a = attrs_new();
    ck_assert_int_eq(attrs_set_secret(a, CKA_VALUE, "0123456789abcdef", 16), CKR_OK);
    ck_assert_int_eq(attrs_set(a, CKA_PRIME_1, "pq", 2), CKR_OK); /* secret by type */
    ck_assert_int_eq(attrs_set(a, CKA_LABEL, "x", 1), CKR_OK);
    ck_assert(CRYPTO_secure_allocated(attrs_find(a, CKA_VALUE)->val));
    ck_assert(CRYPTO_secure_allocated(attrs_find(a, CKA_PRIME_1)->val));
    ck_assert(!CRYPTO_secure_allocated(attrs_find(a, CKA_LABEL)->val));
    attrs_unref(a);
}
END_TEST

START_TEST(test_encode_decode_round_trip)
{
    struct attrs *a = attrs_new();
    CK_MECHANISM_TYPE mechs[2] = {CKM_ECDSA, CKM_SHA256_HMAC};
    CK_DATE date = {{'2', '0', '2', '6'}, {'1', '1'}, {'2', '3'}};
    attrs_set_ulong(a, CKA_CLASS, CKO_SECRET_KEY);
    attrs_set_bool(a, CKA_SIGN, true);
    attrs_set(a, CKA_LABEL, "k\0ey", 4);
    attrs_set(a, CKA_ALLOWED_MECHANISMS, mechs, sizeof(mechs));
    attrs_set(a, CKA_END_DATE, &date, sizeof(date));
    attrs_set(a, CKA_ID, "", 0);
    uint8_t *blob;
    size_t len;
    ck_assert_int_eq(attrs_encode(a, NULL, NULL, &blob, &len), CKR_OK);
    struct attrs *b = NULL;
    ck_assert_int_eq(attrs_decode(blob, len, false, &b), CKR_OK);
    ck_assert_uint_eq(b->n, a->n);
    for (size_t i = 0; i < a->n; i++) {
        const struct attr *y = attrs_find(b, a->v[i].type);
        ck_assert_ptr_nonnull(y);
        ck_assert_uint_eq(y->len, a->v[i].len);
        if (y->len)
            ck_assert_mem_eq(y->val, a->v[i].val, y->len);
    }
    /* ULONG values are 8 bytes on disk whatever sizeof(CK_ULONG) is */
    ck_assert_uint_eq(blob[2 + 4], 8);
    OPENSSL_free(blob);
    attrs_unref(a);
    attrs_unref(b);
}
END_TEST

static bool only_label(CK_ATTRIBUTE_TYPE t, void *ctx)
{
    (void)ctx;
    return t == CKA_LABEL;
}

START_TEST(test_encode_filter)
{
    struct attrs *a = attrs_new(), *b = NULL;
    attrs_set(a, CKA_LABEL, "l", 1);
    attrs_set_secret(a, CKA_VALUE, "secret", 6);
    uint8_t *blob;
    size_t len;
    ck_assert_int_eq(attrs_encode(a, only_label, NULL, &blob, &len), CKR_OK);
    ck_assert_int_eq(attrs_decode(blob, len, false, &b), CKR_OK);
    ck_assert(attrs_has(b, CKA_LABEL));
    ck_assert(!attrs_has(b, CKA_VALUE));
    ck_assert_ptr_null(memmem(blob, len, "secret", 6));
    OPENSSL_free(blob);
    attrs_unref(a);
    attrs_unref(b);
}
END_TEST

START_TEST(test_decode_rejects_malformed)
{
    struct attrs *out = NULL;
    const uint8_t bad_header[] = {0x42, 0x01};
    const uint8_t truncated[] = {0x41, 0x01, 0x03, 0x00, 0x00};
    const uint8_t long_len[] = {0x41, 0x01, 0x03, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, 0x00, 'a'};
    const uint8_t bool_len2[] = {0x41, 0x01, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 1, 1};
    const uint8_t ulong_len4[] = {0x41, 0x01, 0x00, 0x00, 0x00, 0x00, 0x04,
                                  0x00, 0x00, 0x00, 1,    0,    0,    0};
    const uint8_t dup[] = {0x41, 0x01, 0x03, 0, 0, 0, 1, 0, 0, 0,
                           'a',  0x03, 0,    0, 0, 1, 0, 0, 0, 'b'};
    ck_assert_int_eq(attrs_decode(bad_header, sizeof(bad_header), false, &out), CKR_DATA_INVALID);
    ck_assert_int_eq(attrs_decode(truncated, sizeof(truncated), false, &out), CKR_DATA_INVALID);
    ck_assert_int_eq(attrs_decode(long_len, sizeof(long_len), false, &out), CKR_DATA_INVALID);
    ck_assert_int_eq(attrs_decode(bool_len2, sizeof(bool_len2), false, &out), CKR_DATA_INVALID);
    ck_assert_int_eq(attrs_decode(ulong_len4, sizeof(ulong_len4), false, &out), CKR_DATA_INVALID);
    ck_assert_int_eq(attrs_decode(dup, sizeof(dup), false, &out), CKR_DATA_INVALID);
    ck_assert_int_eq(attrs_decode(NULL, 0, false, &out), CKR_DATA_INVALID);
    ck_assert_ptr_null(out);
    /* Every truncation of a valid blob is rejected or decodes to a prefix, never crashes. */
    struct attrs *a = attrs_new();
    attrs_set(a, CKA_LABEL, "label", 5);
    attrs_set_ulong(a, CKA_CLASS, CKO_DATA);
    uint8_t *blob;
    size_t len;
    ck_assert_int_eq(attrs_encode(a, NULL, NULL, &blob, &len), CKR_OK);
    for (size_t l = 0; l < len; l++) {
        struct attrs *p = NULL;
        CK_RV rv = attrs_decode(blob, l, false, &p);
        ck_assert(rv == CKR_DATA_INVALID || (rv == CKR_OK && p->n < 2));
        attrs_unref(p);
    }
    OPENSSL_free(blob);
    attrs_unref(a);
}
END_TEST

START_TEST(test_template_form_errors)
{
    CK_ULONG cls = CKO_DATA, four = 4;
    CK_ATTRIBUTE null_val[] = {{CKA_LABEL, NULL, 3}};
    CK_ATTRIBUTE bool_len[] = {{CKA_TOKEN, &four, sizeof(four)}};
    CK_ATTRIBUTE ulong_len[] = {{CKA_CLASS, &T, 1}};
    CK_ATTRIBUTE same_twice[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_CLASS, &cls, sizeof(cls)}};
    CK_ULONG other = CKO_SECRET_KEY;
    CK_ATTRIBUTE contradict[] = {{CKA_CLASS, &cls, sizeof(cls)},
                                 {CKA_CLASS, &other, sizeof(other)}};
    struct attrs *a = attrs_new();
    ck_assert_int_eq(attrs_from_template(a, null_val, 1), CKR_ATTRIBUTE_VALUE_INVALID);
    ck_assert_int_eq(attrs_from_template(a, bool_len, 1), CKR_ATTRIBUTE_VALUE_INVALID);
    ck_assert_int_eq(attrs_from_template(a, ulong_len, 1), CKR_ATTRIBUTE_VALUE_INVALID);
    attrs_unref(a);
    a = attrs_new();
    ck_assert_int_eq(attrs_from_template(a, same_twice, 2), CKR_OK);
    ck_assert_uint_eq(a->n, 1);
    attrs_unref(a);
    a = attrs_new();
    ck_assert_int_eq(attrs_from_template(a, contradict, 2), CKR_TEMPLATE_INCONSISTENT);
    attrs_unref(a);
    a = attrs_new();
    ck_assert_int_eq(attrs_from_template(a, NULL, 1), CKR_ARGUMENTS_BAD);
    attrs_unref(a);
}
END_TEST

START_TEST(test_array_attribute_round_trip)
{
    CK_ULONG cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE inner[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_EXTRACTABLE, &F, 1}};
    CK_ATTRIBUTE t[] = {{CKA_WRAP_TEMPLATE, inner, sizeof(inner)}};
    struct attrs *a = attrs_new();
    ck_assert_int_eq(attrs_from_template(a, t, 1), CKR_OK);
    const struct attr *x = attrs_find(a, CKA_WRAP_TEMPLATE);
    ck_assert_ptr_nonnull(x);
    CK_ATTRIBUTE q = {CKA_WRAP_TEMPLATE, NULL, 0};
    ck_assert_int_eq(attr_copy_out(x, &q), CKR_OK);
    ck_assert_uint_eq(q.ulValueLen, 2 * sizeof(CK_ATTRIBUTE));
    CK_ULONG got_cls = 0;
    CK_BBOOL got_ext = CK_TRUE;
    CK_ATTRIBUTE back[2] = {{0, &got_cls, sizeof(got_cls)}, {0, &got_ext, 1}};
    q.pValue = back;
    /* the inner order is the encoding's; find each by type */
    ck_assert_int_eq(attr_copy_out(x, &q), CKR_OK);
    ck_assert(back[0].type == CKA_CLASS || back[1].type == CKA_CLASS);
    ck_assert_uint_eq(got_cls, CKO_SECRET_KEY);
    ck_assert_uint_eq(got_ext, CK_FALSE);
    /* a template nested in a template is refused */
    CK_ATTRIBUTE nested[] = {{CKA_UNWRAP_TEMPLATE, inner, sizeof(inner)}};
    CK_ATTRIBUTE outer[] = {{CKA_WRAP_TEMPLATE, nested, sizeof(nested)}};
    struct attrs *b = attrs_new();
    ck_assert_int_eq(attrs_from_template(b, outer, 1), CKR_ATTRIBUTE_VALUE_INVALID);
    attrs_unref(a);
    attrs_unref(b);
}
END_TEST

START_TEST(test_copy_out_size_rules)
{
    struct attrs *a = attrs_new();
    attrs_set(a, CKA_LABEL, "hello", 5);
    const struct attr *x = attrs_find(a, CKA_LABEL);
    char buf[8];
    CK_ATTRIBUTE q = {CKA_LABEL, NULL, 0};
    ck_assert_int_eq(attr_copy_out(x, &q), CKR_OK);
    ck_assert_uint_eq(q.ulValueLen, 5);
    q.pValue = buf;
    q.ulValueLen = 4;
    ck_assert_int_eq(attr_copy_out(x, &q), CKR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(q.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    q.ulValueLen = sizeof(buf);
    ck_assert_int_eq(attr_copy_out(x, &q), CKR_OK);
    ck_assert_uint_eq(q.ulValueLen, 5);
    ck_assert_mem_eq(buf, "hello", 5);
    attrs_unref(a);
}
END_TEST

START_TEST(test_match)
{
    struct attrs *a = attrs_new();
    CK_ULONG cls = CKO_DATA;
    CK_BBOOL two = 2;
    attrs_set_ulong(a, CKA_CLASS, CKO_DATA);
    attrs_set_bool(a, CKA_TOKEN, true);
    attrs_set(a, CKA_LABEL, "abc", 3);
    CK_ATTRIBUTE yes[] = {
        {CKA_CLASS, &cls, sizeof(cls)}, {CKA_TOKEN, &two, 1}, {CKA_LABEL, "abc", 3}};
    CK_ATTRIBUTE shorter[] = {{CKA_LABEL, "ab", 2}};
    CK_ATTRIBUTE missing[] = {{CKA_ID, "", 0}};
    CK_ATTRIBUTE token_false[] = {{CKA_TOKEN, &F, 1}};
    ck_assert(attrs_match(a, yes, 3));
    ck_assert(attrs_match(a, NULL, 0));
    ck_assert(!attrs_match(a, shorter, 1));
    ck_assert(!attrs_match(a, missing, 1));
    ck_assert(!attrs_match(a, token_false, 1));
    attrs_unref(a);
}
END_TEST

START_TEST(test_template_limits)
{
    static CK_ATTRIBUTE many[SEA_MAX_TEMPLATE_ATTRS + 1];
    static CK_BBOOL b = CK_TRUE;
    for (size_t i = 0; i < ARRAY_SIZE(many); i++)
        many[i] = (CK_ATTRIBUTE){CKA_VENDOR_DEFINED + i, &b, 1};
    struct attrs *a = attrs_new();
    ck_assert_int_eq(attrs_from_template(a, many, SEA_MAX_TEMPLATE_ATTRS + 1), CKR_ARGUMENTS_BAD);
    attrs_unref(a);
    a = attrs_new();
    ck_assert_int_eq(attrs_from_template(a, many, SEA_MAX_TEMPLATE_ATTRS), CKR_OK);
    attrs_unref(a);
    /* the same 1 MiB buffer five times under five types: more bytes than a template may carry */
    uint8_t *big = calloc(1, SEA_MAX_ATTR_LEN);
    ck_assert_ptr_nonnull(big);
    CK_ATTRIBUTE heavy[5];
    for (size_t i = 0; i < ARRAY_SIZE(heavy); i++)
        heavy[i] = (CK_ATTRIBUTE){CKA_VENDOR_DEFINED + 1000 + i, big, SEA_MAX_ATTR_LEN};
    a = attrs_new();
    ck_assert_int_eq(attrs_from_template(a, heavy, ARRAY_SIZE(heavy)), CKR_ARGUMENTS_BAD);
    attrs_unref(a);
    CK_ATTRIBUTE one_too_big = {CKA_LABEL, big, SEA_MAX_ATTR_LEN + 1};
    a = attrs_new();
    ck_assert_int_eq(attrs_from_template(a, &one_too_big, 1), CKR_ATTRIBUTE_VALUE_INVALID);
    attrs_unref(a);
    /* a nested template of too many entries */
    static CK_ATTRIBUTE inner[SEA_MAX_INNER_ATTRS + 1];
    for (size_t i = 0; i < ARRAY_SIZE(inner); i++)
        inner[i] = (CK_ATTRIBUTE){CKA_VENDOR_DEFINED + i, &b, 1};
    CK_ATTRIBUTE wrap = {CKA_WRAP_TEMPLATE, inner, sizeof(inner)};
    a = attrs_new();
    ck_assert_int_eq(attrs_from_template(a, &wrap, 1), CKR_ATTRIBUTE_VALUE_INVALID);
    attrs_unref(a);
    wrap.ulValueLen = SEA_MAX_INNER_ATTRS * sizeof(CK_ATTRIBUTE);
    a = attrs_new();
    ck_assert_int_eq(attrs_from_template(a, &wrap, 1), CKR_OK);
    attrs_unref(a);
    free(big);
}
END_TEST

START_TEST(test_large_secret_values_leave_the_secure_heap_to_keys)
{
    ck_assert(crypto_secure_heap(1 << 16));
    uint8_t *big = malloc(SEA_MAX_ATTR_LEN);
    ck_assert_ptr_nonnull(big);
    memset(big, 0x5a, SEA_MAX_ATTR_LEN);
    struct attrs *a = attrs_new();
    ck_assert_int_eq(attrs_set_secret(a, CKA_VALUE, big, SEA_MAX_ATTR_LEN), CKR_OK);
    ck_assert_int_eq(attrs_set_secret(a, CKA_PRIME_1, "small", 5), CKR_OK);
    ck_assert(!CRYPTO_secure_allocated(attrs_find(a, CKA_VALUE)->val));
    ck_assert(CRYPTO_secure_allocated(attrs_find(a, CKA_PRIME_1)->val));
    uint8_t *blob;
    size_t len;
    ck_assert_int_eq(attrs_encode(a, NULL, NULL, &blob, &len), CKR_OK);
    ck_assert_uint_gt(len, SEA_MAX_ATTR_LEN);
    struct attrs *b = NULL;
    ck_assert_int_eq(attrs_decode(blob, len, true, &b), CKR_OK);
    ck_assert_mem_eq(attrs_find(b, CKA_VALUE)->val, big, SEA_MAX_ATTR_LEN);
    sea_secret_free(blob, len);
    attrs_unref(a);
    attrs_unref(b);
    free(big);
}
END_TEST

/* ---- the object model ---- */

static CK_RV create(CK_ATTRIBUTE *t, CK_ULONG n, bool so, struct attrs **out)
{
    err_clear();
    *out = NULL;
    return schema_create(t, n, so, out);
}

START_TEST(test_create_data_defaults)
{
    CK_ULONG cls = CKO_DATA;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_VALUE, "payload", 7}};
    struct attrs *a;
    ck_assert_int_eq(create(t, 2, false, &a), CKR_OK);
    ck_assert(!attrs_get_bool(a, CKA_TOKEN, true));
    ck_assert(!attrs_get_bool(a, CKA_PRIVATE, true));
    ck_assert(attrs_get_bool(a, CKA_MODIFIABLE, false));
    const struct attr *uid = attrs_find(a, CKA_UNIQUE_ID);
    ck_assert_ptr_nonnull(uid);
    ck_assert_uint_eq(uid->len, 32);
    ck_assert(attrs_get_ulong(a, CKA_SEA_CREATION_TIME, 0) > 1700000000UL);
    struct attrs *b;
    ck_assert_int_eq(create(t, 2, false, &b), CKR_OK);
    ck_assert_mem_ne(attrs_find(b, CKA_UNIQUE_ID)->val, uid->val, 32);
    attrs_unref(a);
    attrs_unref(b);
}
END_TEST

START_TEST(test_create_template_errors)
{
    CK_ULONG data = CKO_DATA, sk = CKO_SECRET_KEY, aes = CKK_AES, hw = CKO_HW_FEATURE,
             cert = CKO_CERTIFICATE, x509 = CKC_X_509, wtls = CKC_WTLS, ec = CKK_EC;
    struct attrs *a;
    CK_ATTRIBUTE no_class[] = {{CKA_LABEL, "x", 1}};
    ck_assert_int_eq(create(no_class, 1, false, &a), CKR_TEMPLATE_INCOMPLETE);
    CK_ATTRIBUTE hw_class[] = {{CKA_CLASS, &hw, sizeof(hw)}};
    ck_assert_int_eq(create(hw_class, 1, false, &a), CKR_ATTRIBUTE_VALUE_INVALID);
    CK_ATTRIBUTE key_no_type[] = {{CKA_CLASS, &sk, sizeof(sk)},
                                  {CKA_VALUE, "0123456789abcdef", 16}};
    ck_assert_int_eq(create(key_no_type, 2, false, &a), CKR_TEMPLATE_INCOMPLETE);
    CK_ATTRIBUTE type_on_data[] = {{CKA_CLASS, &data, sizeof(data)},
                                   {CKA_KEY_TYPE, &aes, sizeof(aes)}};
    ck_assert_int_eq(create(type_on_data, 2, false, &a), CKR_ATTRIBUTE_TYPE_INVALID);
    CK_ATTRIBUTE wrong_attr[] = {{CKA_CLASS, &data, sizeof(data)}, {CKA_SIGN, &T, 1}};
    ck_assert_int_eq(create(wrong_attr, 2, false, &a), CKR_ATTRIBUTE_TYPE_INVALID);
    CK_ATTRIBUTE ro[] = {{CKA_CLASS, &data, sizeof(data)}, {CKA_UNIQUE_ID, "x", 1}};
    ck_assert_int_eq(create(ro, 2, false, &a), CKR_ATTRIBUTE_READ_ONLY);
    CK_ATTRIBUTE local[] = {{CKA_CLASS, &sk, sizeof(sk)},
                            {CKA_KEY_TYPE, &aes, sizeof(aes)},
                            {CKA_VALUE, "0123456789abcdef", 16},
                            {CKA_LOCAL, &T, 1}};
    ck_assert_int_eq(create(local, 4, false, &a), CKR_ATTRIBUTE_READ_ONLY);
    CK_ATTRIBUTE aes17[] = {{CKA_CLASS, &sk, sizeof(sk)},
                            {CKA_KEY_TYPE, &aes, sizeof(aes)},
                            {CKA_VALUE, "0123456789abcdefg", 17}};
    ck_assert_int_ne(create(aes17, 3, false, &a), CKR_OK);
    CK_ATTRIBUTE ec_secret[] = {{CKA_CLASS, &sk, sizeof(sk)},
                                {CKA_KEY_TYPE, &ec, sizeof(ec)},
                                {CKA_VALUE, "0123456789abcdef", 16}};
    ck_assert_int_eq(create(ec_secret, 3, false, &a), CKR_TEMPLATE_INCONSISTENT);
    CK_ATTRIBUTE cert_no_subject[] = {{CKA_CLASS, &cert, sizeof(cert)},
                                      {CKA_CERTIFICATE_TYPE, &x509, sizeof(x509)},
                                      {CKA_VALUE, "der", 3}};
    ck_assert_int_eq(create(cert_no_subject, 3, false, &a), CKR_TEMPLATE_INCOMPLETE);
    CK_ATTRIBUTE cert_wtls[] = {{CKA_CLASS, &cert, sizeof(cert)},
                                {CKA_CERTIFICATE_TYPE, &wtls, sizeof(wtls)}};
    ck_assert_int_eq(create(cert_wtls, 2, false, &a), CKR_ATTRIBUTE_VALUE_INVALID);
    CK_ATTRIBUTE trusted[] = {{CKA_CLASS, &cert, sizeof(cert)},
                              {CKA_CERTIFICATE_TYPE, &x509, sizeof(x509)},
                              {CKA_SUBJECT, "s", 1},
                              {CKA_VALUE, "der", 3},
                              {CKA_TRUSTED, &T, 1}};
    ck_assert_int_eq(create(trusted, 5, false, &a), CKR_ATTRIBUTE_READ_ONLY);
    ck_assert_int_eq(create(trusted, 5, true, &a), CKR_OK);
    ck_assert(attrs_get_bool(a, CKA_TRUSTED, false));
    attrs_unref(a);
    /* the failures leave a message behind */
    ck_assert_int_eq(create(no_class, 1, false, &a), CKR_TEMPLATE_INCOMPLETE);
    ck_assert_str_ne(err_get()->msg, "");
    ck_assert_int_eq(err_get()->origin, ORIGIN_CORE);
}
END_TEST

START_TEST(test_create_secret_key_computed_attributes)
{
    CK_ULONG sk = CKO_SECRET_KEY, aes = CKK_AES, len16 = 16, len32 = 32;
    const uint8_t key[16] = {0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
                             0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c};
    /* first 3 bytes of AES-128-ECB(key, 0^16) for this FIPS-197 key */
    const uint8_t kcv[3] = {0x7d, 0xf7, 0x6b};
    struct attrs *a;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &sk, sizeof(sk)},
                        {CKA_KEY_TYPE, &aes, sizeof(aes)},
                        {CKA_VALUE, (void *)key, sizeof(key)},
                        {CKA_VALUE_LEN, &len16, sizeof(len16)}};
    ck_assert_int_eq(create(t, 4, false, &a), CKR_OK);
    ck_assert_uint_eq(attrs_get_ulong(a, CKA_VALUE_LEN, 0), 16);
    const struct attr *cv = attrs_find(a, CKA_CHECK_VALUE);
    ck_assert_ptr_nonnull(cv);
    ck_assert_uint_eq(cv->len, 3);
    ck_assert_mem_eq(cv->val, kcv, 3);
    ck_assert(attrs_find(a, CKA_VALUE)->secret);
    ck_assert(attrs_get_bool(a, CKA_PRIVATE, false)); /* keys are private by default */
    ck_assert(attrs_get_bool(a, CKA_SENSITIVE, false));
    ck_assert(!attrs_get_bool(a, CKA_EXTRACTABLE, true));
    ck_assert(!attrs_get_bool(a, CKA_LOCAL, true));
    ck_assert(!attrs_get_bool(a, CKA_ALWAYS_SENSITIVE, true));
    ck_assert(!attrs_get_bool(a, CKA_NEVER_EXTRACTABLE, true));
    attrs_unref(a);
    t[3].pValue = &len32;
    ck_assert_int_eq(create(t, 4, false, &a), CKR_TEMPLATE_INCONSISTENT);
    uint8_t bad_kcv[3] = {0, 0, 0};
    CK_ATTRIBUTE t2[] = {{CKA_CLASS, &sk, sizeof(sk)},
                         {CKA_KEY_TYPE, &aes, sizeof(aes)},
                         {CKA_VALUE, (void *)key, sizeof(key)},
                         {CKA_CHECK_VALUE, bad_kcv, 3}};
    ck_assert_int_eq(create(t2, 4, false, &a), CKR_TEMPLATE_INCONSISTENT);
}
END_TEST

START_TEST(test_create_ec_public_key_validates_point)
{
    CK_ULONG pk = CKO_PUBLIC_KEY, ec = CKK_EC;
    /* RFC 6979 A.2.5 public key, DER OCTET STRING around the uncompressed point */
    uint8_t point[67] = {0x04, 0x41, 0x04};
    static const uint8_t ux[32] = {0x60, 0xfe, 0xd4, 0xba, 0x25, 0x5a, 0x9d, 0x31, 0xc9, 0x61, 0xeb,
                                   0x74, 0xc6, 0x35, 0x6d, 0x68, 0xc0, 0x49, 0xb8, 0x92, 0x3b, 0x61,
                                   0xfa, 0x6c, 0xe6, 0x69, 0x62, 0x2e, 0x60, 0xf2, 0x9f, 0xb6};
    static const uint8_t uy[32] = {0x79, 0x03, 0xfe, 0x10, 0x08, 0xb8, 0xbc, 0x99, 0xa4, 0x1a, 0xe9,
                                   0xe9, 0x56, 0x28, 0xbc, 0x64, 0xf2, 0xf1, 0xb2, 0x0c, 0x2d, 0x7e,
                                   0x9f, 0x51, 0x77, 0xa3, 0xc2, 0x94, 0xd4, 0x46, 0x22, 0x99};
    memcpy(point + 3, ux, 32);
    memcpy(point + 35, uy, 32);
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &pk, sizeof(pk)},
                        {CKA_KEY_TYPE, &ec, sizeof(ec)},
                        {CKA_EC_PARAMS, (void *)P256_OID, sizeof(P256_OID)},
                        {CKA_EC_POINT, point, sizeof(point)}};
    struct attrs *a;
    ck_assert_int_eq(create(t, 4, false, &a), CKR_OK);
    ck_assert(attrs_has(a, CKA_PUBLIC_KEY_INFO));
    ck_assert(!attrs_get_bool(a, CKA_PRIVATE, true));
    attrs_unref(a);
    point[66] ^= 1; /* off the curve */
    ck_assert_int_ne(create(t, 4, false, &a), CKR_OK);
    CK_ATTRIBUTE no_point[] = {{CKA_CLASS, &pk, sizeof(pk)},
                               {CKA_KEY_TYPE, &ec, sizeof(ec)},
                               {CKA_EC_PARAMS, (void *)P256_OID, sizeof(P256_OID)}};
    ck_assert_int_eq(create(no_point, 3, false, &a), CKR_TEMPLATE_INCOMPLETE);
}
END_TEST

START_TEST(test_generate_rules)
{
    CK_ULONG sk = CKO_SECRET_KEY, data = CKO_DATA, ec = CKK_EC, len = 32;
    struct attrs *a;
    CK_ATTRIBUTE ok[] = {{CKA_VALUE_LEN, &len, sizeof(len)},
                         {CKA_TOKEN, &T, 1},
                         {CKA_EXTRACTABLE, &T, 1},
                         {CKA_SENSITIVE, &F, 1}};
    ck_assert_int_eq(schema_generate(CKM_AES_KEY_GEN, CKO_SECRET_KEY, ok, 4, false, &a), CKR_OK);
    ck_assert_uint_eq(attrs_get_ulong(a, CKA_KEY_TYPE, 0), CKK_AES);
    ck_assert(attrs_get_bool(a, CKA_LOCAL, false));
    ck_assert_uint_eq(attrs_get_ulong(a, CKA_KEY_GEN_MECHANISM, 0), CKM_AES_KEY_GEN);
    ck_assert(!attrs_get_bool(a, CKA_ALWAYS_SENSITIVE, true));
    ck_assert(!attrs_get_bool(a, CKA_NEVER_EXTRACTABLE, true));
    attrs_unref(a);
    ck_assert_int_eq(schema_generate(CKM_AES_KEY_GEN, CKO_SECRET_KEY, NULL, 0, false, &a),
                     CKR_TEMPLATE_INCOMPLETE); /* CKA_VALUE_LEN is required */
    ck_assert_int_eq(schema_generate(CKM_AES_KEY_GEN, CKO_SECRET_KEY, ok, 1, false, &a), CKR_OK);
    ck_assert(attrs_get_bool(a, CKA_ALWAYS_SENSITIVE, false));
    ck_assert(attrs_get_bool(a, CKA_NEVER_EXTRACTABLE, false));
    attrs_unref(a);
    CK_ATTRIBUTE value[] = {{CKA_VALUE_LEN, &len, sizeof(len)},
                            {CKA_VALUE, "0123456789abcdef", 16}};
    ck_assert_int_eq(schema_generate(CKM_AES_KEY_GEN, CKO_SECRET_KEY, value, 2, false, &a),
                     CKR_TEMPLATE_INCONSISTENT);
    CK_ATTRIBUTE wrong_class[] = {{CKA_CLASS, &data, sizeof(data)},
                                  {CKA_VALUE_LEN, &len, sizeof(len)}};
    ck_assert_int_eq(schema_generate(CKM_AES_KEY_GEN, CKO_SECRET_KEY, wrong_class, 2, false, &a),
                     CKR_TEMPLATE_INCONSISTENT);
    CK_ATTRIBUTE wrong_type[] = {{CKA_KEY_TYPE, &ec, sizeof(ec)},
                                 {CKA_VALUE_LEN, &len, sizeof(len)}};
    ck_assert_int_eq(schema_generate(CKM_AES_KEY_GEN, CKO_SECRET_KEY, wrong_type, 2, false, &a),
                     CKR_TEMPLATE_INCONSISTENT);
    CK_ATTRIBUTE cls_ok[] = {{CKA_CLASS, &sk, sizeof(sk)}};
    ck_assert_int_eq(schema_generate(CKM_ECDSA, CKO_SECRET_KEY, cls_ok, 1, false, &a),
                     CKR_MECHANISM_INVALID);
    /* EC: params required in the public half; a point may not be given */
    ck_assert_int_eq(schema_generate(CKM_EC_KEY_PAIR_GEN, CKO_PUBLIC_KEY, NULL, 0, false, &a),
                     CKR_TEMPLATE_INCOMPLETE);
    CK_ATTRIBUTE point[] = {{CKA_EC_PARAMS, (void *)P256_OID, sizeof(P256_OID)},
                            {CKA_EC_POINT, "x", 1}};
    ck_assert_int_eq(schema_generate(CKM_EC_KEY_PAIR_GEN, CKO_PUBLIC_KEY, point, 2, false, &a),
                     CKR_TEMPLATE_INCONSISTENT);
    ck_assert_int_eq(schema_generate(CKM_EC_KEY_PAIR_GEN, CKO_PRIVATE_KEY, point, 1, false, &a),
                     CKR_OK); /* params repeated in the private half are accepted */
    attrs_unref(a);
}
END_TEST

static struct attrs *make_secret_key(bool sensitive, bool extractable, bool modifiable)
{
    CK_ULONG sk = CKO_SECRET_KEY, gen = CKK_GENERIC_SECRET;
    CK_BBOOL s = CKB(sensitive), e = CKB(extractable), m = CKB(modifiable);
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &sk, sizeof(sk)},
                        {CKA_KEY_TYPE, &gen, sizeof(gen)},
                        {CKA_VALUE, "0123456789abcdef0123456789abcdef", 32},
                        {CKA_SENSITIVE, &s, 1},
                        {CKA_EXTRACTABLE, &e, 1},
                        {CKA_MODIFIABLE, &m, 1}};
    struct attrs *a = NULL;
    ck_assert_int_eq(create(t, 6, false, &a), CKR_OK);
    return a;
}

START_TEST(test_set_rules)
{
    struct attrs *a = make_secret_key(true, true, true), *c = NULL;
    CK_ATTRIBUTE unsensitive[] = {{CKA_SENSITIVE, &F, 1}};
    ck_assert_int_eq(schema_set(a, unsensitive, 1, false, &c), CKR_ATTRIBUTE_READ_ONLY);
    CK_ATTRIBUTE noextract[] = {{CKA_EXTRACTABLE, &F, 1}, {CKA_LABEL, "new", 3}};
    ck_assert_int_eq(schema_set(a, noextract, 2, false, &c), CKR_OK);
    ck_assert(!attrs_get_bool(c, CKA_EXTRACTABLE, true));
    ck_assert(attrs_has(c, CKA_SEA_MODIFIED_TIME));
    attrs_unref(c);
    CK_ULONG cls = CKO_DATA;
    CK_ATTRIBUTE class_change[] = {{CKA_CLASS, &cls, sizeof(cls)}};
    ck_assert_int_eq(schema_set(a, class_change, 1, false, &c), CKR_ATTRIBUTE_READ_ONLY);
    CK_ATTRIBUTE value_change[] = {{CKA_VALUE, "x", 1}};
    ck_assert_int_eq(schema_set(a, value_change, 1, false, &c), CKR_ATTRIBUTE_READ_ONLY);
    CK_ATTRIBUTE invalid[] = {{CKA_EC_POINT, "x", 1}};
    ck_assert_int_eq(schema_set(a, invalid, 1, false, &c), CKR_ATTRIBUTE_TYPE_INVALID);
    CK_ATTRIBUTE trust[] = {{CKA_TRUSTED, &T, 1}};
    ck_assert_int_eq(schema_set(a, trust, 1, false, &c), CKR_ATTRIBUTE_READ_ONLY);
    ck_assert_int_eq(schema_set(a, trust, 1, true, &c), CKR_OK);
    attrs_unref(c);
    attrs_unref(a);
    a = make_secret_key(true, false, true);
    CK_ATTRIBUTE extract[] = {{CKA_EXTRACTABLE, &T, 1}};
    ck_assert_int_eq(schema_set(a, extract, 1, false, &c), CKR_ATTRIBUTE_READ_ONLY);
    attrs_unref(a);
    a = make_secret_key(true, false, false);
    CK_ATTRIBUTE label[] = {{CKA_LABEL, "x", 1}};
    ck_assert_int_eq(schema_set(a, label, 1, false, &c), CKR_ACTION_PROHIBITED);
    attrs_unref(a);
    /* data objects: the value is modifiable and stays secret for private objects */
    CK_ULONG data = CKO_DATA;
    CK_ATTRIBUTE dt[] = {
        {CKA_CLASS, &data, sizeof(data)}, {CKA_PRIVATE, &T, 1}, {CKA_VALUE, "v1", 2}};
    ck_assert_int_eq(create(dt, 3, false, &a), CKR_OK);
    CK_ATTRIBUTE nv[] = {{CKA_VALUE, "v2", 2}};
    ck_assert_int_eq(schema_set(a, nv, 1, false, &c), CKR_OK);
    ck_assert(attrs_find(c, CKA_VALUE)->secret);
    attrs_unref(c);
    attrs_unref(a);
}
END_TEST

START_TEST(test_copy_rules)
{
    struct attrs *a = make_secret_key(true, false, true), *c = NULL;
    CK_ATTRIBUTE relabel[] = {{CKA_LABEL, "copy", 4}, {CKA_TOKEN, &T, 1}};
    ck_assert_int_eq(schema_copy(a, relabel, 2, &c), CKR_OK);
    ck_assert_mem_eq(attrs_find(c, CKA_LABEL)->val, "copy", 4);
    ck_assert(attrs_find(c, CKA_VALUE)->secret);
    ck_assert_mem_ne(attrs_find(c, CKA_UNIQUE_ID)->val, attrs_find(a, CKA_UNIQUE_ID)->val, 32);
    attrs_unref(c);
    CK_ATTRIBUTE extract[] = {{CKA_EXTRACTABLE, &T, 1}};
    ck_assert_int_eq(schema_copy(a, extract, 1, &c), CKR_ATTRIBUTE_READ_ONLY);
    CK_ATTRIBUTE value[] = {{CKA_VALUE, "x", 1}};
    ck_assert_int_eq(schema_copy(a, value, 1, &c), CKR_ATTRIBUTE_READ_ONLY);
    CK_ATTRIBUTE nocopy[] = {{CKA_COPYABLE, &F, 1}};
    struct attrs *changes = NULL;
    ck_assert_int_eq(schema_set(a, nocopy, 1, false, &changes), CKR_OK);
    attrs_merge(a, changes);
    attrs_unref(changes);
    ck_assert_int_eq(schema_copy(a, relabel, 1, &c), CKR_ACTION_PROHIBITED);
    attrs_unref(a);
}
END_TEST

START_TEST(test_reveal_rules)
{
    struct attrs *a = make_secret_key(true, true, true);
    ck_assert_int_eq(schema_reveal(a, CKA_VALUE), REVEAL_SENSITIVE);
    ck_assert_int_eq(schema_reveal(a, CKA_LABEL), REVEAL_PUBLIC);
    ck_assert_int_eq(schema_reveal(a, CKA_EC_POINT), REVEAL_INVALID);
    attrs_unref(a);
    /* not sensitive but not extractable: still never revealed */
    a = make_secret_key(false, false, true);
    ck_assert_int_eq(schema_reveal(a, CKA_VALUE), REVEAL_SENSITIVE);
    attrs_unref(a);
    a = make_secret_key(false, true, true);
    ck_assert_int_eq(schema_reveal(a, CKA_VALUE), REVEAL_SECRET);
    attrs_unref(a);
    ck_assert(schema_is_secret(CKO_PRIVATE_KEY, true, CKA_VALUE));
    ck_assert(schema_is_secret(CKO_PRIVATE_KEY, true, CKA_PRIVATE_EXPONENT));
    ck_assert(schema_is_secret(CKO_DATA, true, CKA_VALUE));
    ck_assert(!schema_is_secret(CKO_DATA, false, CKA_VALUE));
    ck_assert(!schema_is_secret(CKO_PUBLIC_KEY, false, CKA_EC_POINT));
    ck_assert(!schema_is_secret(CKO_SECRET_KEY, true, CKA_LABEL));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("attrs");
    TCase *t = tcase_create("attrs");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_set_get_replace_remove);
    tcase_add_test(t, test_secret_values_in_secure_heap);
    tcase_add_test(t, test_encode_decode_round_trip);
    tcase_add_test(t, test_encode_filter);
    tcase_add_test(t, test_decode_rejects_malformed);
    tcase_add_test(t, test_template_form_errors);
    tcase_add_test(t, test_array_attribute_round_trip);
    tcase_add_test(t, test_copy_out_size_rules);
    tcase_add_test(t, test_match);
    tcase_add_test(t, test_template_limits);
    tcase_add_test(t, test_large_secret_values_leave_the_secure_heap_to_keys);
    suite_add_tcase(s, t);
    TCase *m = tcase_create("schema");
    tcase_add_checked_fixture(m, setup, teardown);
    tcase_add_test(m, test_create_data_defaults);
    tcase_add_test(m, test_create_template_errors);
    tcase_add_test(m, test_create_secret_key_computed_attributes);
    tcase_add_test(m, test_create_ec_public_key_validates_point);
    tcase_add_test(m, test_generate_rules);
    tcase_add_test(m, test_set_rules);
    tcase_add_test(m, test_copy_rules);
    tcase_add_test(m, test_reveal_rules);
    suite_add_tcase(s, m);
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

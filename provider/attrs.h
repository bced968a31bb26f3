/* Attribute sets: the in-memory form of an object's attributes, their binary encoding for
 * stores, and template matching for C_FindObjects. Values of secret attributes (key values,
 * private components) live in OpenSSL's secure heap and every value is wiped when freed. */
#ifndef SEA_ATTRS_H
#define SEA_ATTRS_H

#include "common.h"

/* How a value is represented; decides encoding and comparison. */
enum attr_kind {
    AK_BYTES = 0, /* opaque bytes (also UTF-8 strings, DER) */
    AK_BOOL,      /* CK_BBOOL, 1 byte */
    AK_ULONG,     /* CK_ULONG in memory, 8 bytes little-endian when encoded */
    AK_DATE,      /* CK_DATE, 8 bytes, or empty (no date) */
    AK_MECHS,     /* array of CK_MECHANISM_TYPE */
    AK_TEMPLATE,  /* CKF_ARRAY_ATTRIBUTE: kept encoded (see attrs_encode) in memory */
};

struct attr {
    CK_ATTRIBUTE_TYPE type;
    CK_ULONG len;
    void *val;   /* never NULL; len may be 0 */
    bool secret; /* val is in the secure heap */
};

/* Largest value accepted for one attribute (a sensitive data object, a certificate chain),
 * most attributes in one template and in a nested (wrap/unwrap/derive) template, and most bytes
 * of values one template may carry: callers cannot make libsea allocate without bound. */
#define SEA_MAX_ATTR_LEN       (1UL << 20)
#define SEA_MAX_TEMPLATE_ATTRS 256
#define SEA_MAX_INNER_ATTRS    64
#define SEA_MAX_TEMPLATE_BYTES (4UL << 20)

struct attrs {
    size_t n, cap;
    struct attr *v;
    unsigned refs;
};

enum attr_kind attr_kind(CK_ATTRIBUTE_TYPE t);

/* True for attributes whose value is secret wherever it appears (CKA_VALUE of keys is decided
 * by schema_is_secret, which knows the class; this covers private-key components). */
bool attr_is_secret_type(CK_ATTRIBUTE_TYPE t);

struct attrs *attrs_new(void);
struct attrs *attrs_ref(struct attrs *a);
void attrs_unref(struct attrs *a); /* frees at zero, wiping every value */
struct attrs *attrs_dup(const struct attrs *a);

const struct attr *attrs_find(const struct attrs *a, CK_ATTRIBUTE_TYPE t);
bool attrs_has(const struct attrs *a, CK_ATTRIBUTE_TYPE t);
bool attrs_get_bool(const struct attrs *a, CK_ATTRIBUTE_TYPE t, bool dflt);
CK_ULONG attrs_get_ulong(const struct attrs *a, CK_ATTRIBUTE_TYPE t, CK_ULONG dflt);

/* Add or replace. `secret` places the value in the secure heap. */
CK_RV attrs_set(struct attrs *a, CK_ATTRIBUTE_TYPE t, const void *val, CK_ULONG len);
CK_RV attrs_set_secret(struct attrs *a, CK_ATTRIBUTE_TYPE t, const void *val, CK_ULONG len);
CK_RV attrs_set_bool(struct attrs *a, CK_ATTRIBUTE_TYPE t, bool v);
CK_RV attrs_set_ulong(struct attrs *a, CK_ATTRIBUTE_TYPE t, CK_ULONG v);
void attrs_remove(struct attrs *a, CK_ATTRIBUTE_TYPE t);

/* Copy every attribute of src into dst (replacing). */
CK_RV attrs_merge(struct attrs *dst, const struct attrs *src);

/* Build from a caller's template. Checks only the form: NULL value with a length, sizes of
 * BOOL/ULONG/DATE kinds (CKR_ATTRIBUTE_VALUE_INVALID), the same type given twice with different
 * values (CKR_TEMPLATE_INCONSISTENT). Array attributes are validated and stored encoded. */
CK_RV attrs_from_template(struct attrs *a, const CK_ATTRIBUTE *t, CK_ULONG n);

/* Encode (attributes for which keep(type, ctx) is true, or all if keep is NULL) into a
 * self-delimiting blob (free it with sea_secret_free(*out, *outlen): it holds secrets when
 * the attributes do); decode it back. Decoding rejects any malformed input. */
CK_RV attrs_encode(const struct attrs *a, bool (*keep)(CK_ATTRIBUTE_TYPE, void *), void *ctx,
                   uint8_t **out, size_t *outlen);
CK_RV attrs_decode(const uint8_t *in, size_t len, bool secret, struct attrs **out);

/* Copy one attribute value out to a caller's CK_ATTRIBUTE following C_GetAttributeValue
 * rules: size query when pValue is NULL, CKR_BUFFER_TOO_SMALL otherwise (ulValueLen is then
 * CK_UNAVAILABLE_INFORMATION), array attributes decoded into the caller's CK_ATTRIBUTE array. */
CK_RV attr_copy_out(const struct attr *a, CK_ATTRIBUTE *out);

/* Does the object carry every attribute of the template with an equal value? */
bool attrs_match(const struct attrs *obj, const CK_ATTRIBUTE *tmpl, CK_ULONG n);

#endif

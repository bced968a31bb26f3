/* The object model: one table of attributes per class and key type, with the flags that
 * drive creation, generation, copying, modification and reading, as PKCS#11 3.0 specifies. */
#include <stdio.h>

#include "crypto.h"
#include "error.h"
#include "schema.h"
#include "usage.h"

enum {
    A_REQ_CREATE = 1u << 0, /* must be in a C_CreateObject template */
    A_REQ_GEN = 1u << 1,    /* must be in a generation template */
    A_NO_GEN = 1u << 2,     /* must not be in a generation template (the device makes it) */
    A_COMPUTED = 1u << 3,   /* derived from the value; may be given only if consistent */
    A_RO = 1u << 4,         /* set by the library only: CKR_ATTRIBUTE_READ_ONLY if given */
    A_MOD = 1u << 5,        /* C_SetAttributeValue may change it */
    A_TRUE_ONLY = 1u << 6,  /* may only change from false to true */
    A_FALSE_ONLY = 1u << 7, /* may only change from true to false */
    A_SO_ONLY = 1u << 8,    /* only the SO may set it to true */
    A_COPY = 1u << 9,       /* C_CopyObject may change it (besides A_MOD ones) */
};

struct adesc {
    CK_ATTRIBUTE_TYPE type;
    unsigned flags;
};

static const struct adesc storage_attrs[] = {
    {CKA_CLASS, A_REQ_CREATE},
    {CKA_TOKEN, A_COPY},
    {CKA_PRIVATE, A_COPY},
    {CKA_MODIFIABLE, A_COPY | A_FALSE_ONLY},
    {CKA_LABEL, A_MOD},
    {CKA_COPYABLE, A_MOD | A_FALSE_ONLY},
    {CKA_DESTROYABLE, A_MOD | A_FALSE_ONLY},
    {CKA_UNIQUE_ID, A_RO},
    {CKA_SEA_CREATION_TIME, A_RO},
    {CKA_SEA_MODIFIED_TIME, A_RO},
    {CKA_SEA_CREATOR, 0},
    {CKA_SEA_ACP, A_MOD},
};

static const struct adesc data_attrs[] = {
    {CKA_APPLICATION, A_MOD},
    {CKA_OBJECT_ID, A_MOD},
    {CKA_VALUE, A_MOD},
};

static const struct adesc cert_attrs[] = {
    {CKA_CERTIFICATE_TYPE, A_REQ_CREATE},
    {CKA_TRUSTED, A_SO_ONLY},
    {CKA_CERTIFICATE_CATEGORY, 0},
    {CKA_CHECK_VALUE, 0},
    {CKA_START_DATE, A_MOD},
    {CKA_END_DATE, A_MOD},
    {CKA_PUBLIC_KEY_INFO, 0},
    /* X.509 */
    {CKA_SUBJECT, A_REQ_CREATE},
    {CKA_ID, A_MOD},
    {CKA_ISSUER, A_MOD},
    {CKA_SERIAL_NUMBER, A_MOD},
    {CKA_VALUE, A_REQ_CREATE},
    {CKA_URL, 0},
    {CKA_HASH_OF_SUBJECT_PUBLIC_KEY, 0},
    {CKA_HASH_OF_ISSUER_PUBLIC_KEY, 0},
    {CKA_JAVA_MIDP_SECURITY_DOMAIN, 0},
    {CKA_NAME_HASH_ALGORITHM, 0},
};

static const struct adesc key_attrs[] = {
    {CKA_KEY_TYPE, A_REQ_CREATE},
    {CKA_ID, A_MOD},
    {CKA_START_DATE, A_MOD},
    {CKA_END_DATE, A_MOD},
    {CKA_DERIVE, A_MOD},
    {CKA_LOCAL, A_RO},
    {CKA_KEY_GEN_MECHANISM, A_RO},
    {CKA_ALLOWED_MECHANISMS, 0},
    {CKA_SEA_SUID, 0},
};

static const struct adesc public_attrs[] = {
    {CKA_SUBJECT, A_MOD},   {CKA_ENCRYPT, A_MOD},
    {CKA_VERIFY, A_MOD},    {CKA_VERIFY_RECOVER, A_MOD},
    {CKA_WRAP, A_MOD},      {CKA_TRUSTED, A_MOD | A_SO_ONLY},
    {CKA_WRAP_TEMPLATE, 0}, {CKA_PUBLIC_KEY_INFO, A_COMPUTED},
};

static const struct adesc private_attrs[] = {
    {CKA_SUBJECT, A_MOD},
    {CKA_SENSITIVE, A_MOD | A_TRUE_ONLY},
    {CKA_DECRYPT, A_MOD},
    {CKA_SIGN, A_MOD},
    {CKA_SIGN_RECOVER, A_MOD},
    {CKA_UNWRAP, A_MOD},
    {CKA_EXTRACTABLE, A_MOD | A_FALSE_ONLY},
    {CKA_ALWAYS_SENSITIVE, A_RO},
    {CKA_NEVER_EXTRACTABLE, A_RO},
    {CKA_WRAP_WITH_TRUSTED, A_MOD | A_TRUE_ONLY},
    {CKA_UNWRAP_TEMPLATE, 0},
    {CKA_ALWAYS_AUTHENTICATE, 0},
    {CKA_PUBLIC_KEY_INFO, A_COMPUTED},
};

static const struct adesc secret_attrs[] = {
    {CKA_SENSITIVE, A_MOD | A_TRUE_ONLY},
    {CKA_ENCRYPT, A_MOD},
    {CKA_DECRYPT, A_MOD},
    {CKA_SIGN, A_MOD},
    {CKA_VERIFY, A_MOD},
    {CKA_WRAP, A_MOD},
    {CKA_UNWRAP, A_MOD},
    {CKA_EXTRACTABLE, A_MOD | A_FALSE_ONLY},
    {CKA_ALWAYS_SENSITIVE, A_RO},
    {CKA_NEVER_EXTRACTABLE, A_RO},
    {CKA_CHECK_VALUE, A_COMPUTED},
    {CKA_WRAP_WITH_TRUSTED, A_MOD | A_TRUE_ONLY},
    {CKA_TRUSTED, A_MOD | A_SO_ONLY},
    {CKA_WRAP_TEMPLATE, 0},
    {CKA_UNWRAP_TEMPLATE, 0},
    {CKA_DERIVE_TEMPLATE, 0},
};

static const struct adesc ec_public_attrs[] = {
    {CKA_EC_PARAMS, A_REQ_CREATE | A_REQ_GEN},
    {CKA_EC_POINT, A_REQ_CREATE | A_NO_GEN},
};

/* CKA_EC_POINT on the private key is our extension: consumers such as libp11 find the public
 * half without a separate public key object. */
static const struct adesc ec_private_attrs[] = {
    {CKA_EC_PARAMS, A_REQ_CREATE},
    {CKA_VALUE, A_REQ_CREATE | A_NO_GEN},
    {CKA_EC_POINT, A_COMPUTED},
};

/* RSA (PKCS#11 3.0 2.1.2, 2.1.3). CKA_MODULUS_BITS is computed on import; the private parts
 * are secret (schema_is_secret). libsea also requires CKA_PUBLIC_EXPONENT on a private key
 * (blinding and CKA_PUBLIC_KEY_INFO need it) and takes the CRT parts all or none. */
static const struct adesc rsa_public_attrs[] = {
    {CKA_MODULUS, A_REQ_CREATE | A_NO_GEN},
    {CKA_MODULUS_BITS, A_REQ_GEN | A_COMPUTED},
    {CKA_PUBLIC_EXPONENT, A_REQ_CREATE},
};

static const struct adesc rsa_private_attrs[] = {
    {CKA_MODULUS, A_REQ_CREATE | A_NO_GEN},
    {CKA_PUBLIC_EXPONENT, A_REQ_CREATE | A_NO_GEN},
    {CKA_PRIVATE_EXPONENT, A_REQ_CREATE | A_NO_GEN},
    {CKA_PRIME_1, A_NO_GEN},
    {CKA_PRIME_2, A_NO_GEN},
    {CKA_EXPONENT_1, A_NO_GEN},
    {CKA_EXPONENT_2, A_NO_GEN},
    {CKA_COEFFICIENT, A_NO_GEN},
};

static const struct adesc sym_attrs[] = {
    {CKA_VALUE, A_REQ_CREATE | A_NO_GEN},
    {CKA_VALUE_LEN, A_REQ_GEN | A_COMPUTED},
};

struct group {
    const struct adesc *v;
    size_t n;
};

#define GROUP(a)                                                                                   \
    {                                                                                              \
        a, ARRAY_SIZE(a)                                                                           \
    }

static bool class_supported(CK_OBJECT_CLASS cls)
{
    return cls == CKO_DATA || cls == CKO_CERTIFICATE || cls == CKO_PUBLIC_KEY ||
           cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY;
}

static bool key_type_supported(CK_OBJECT_CLASS cls, CK_KEY_TYPE kt)
{
    switch (kt) {
    case CKK_EC:
    case CKK_EC_EDWARDS: /* Ed25519 */
    case CKK_RSA:
        return cls == CKO_PUBLIC_KEY || cls == CKO_PRIVATE_KEY;
    case CKK_AES:
    case CKK_GENERIC_SECRET:
    case CKK_SHA_1_HMAC:
    case CKK_SHA224_HMAC:
    case CKK_SHA256_HMAC:
    case CKK_SHA384_HMAC:
    case CKK_SHA512_HMAC:
    case CKK_HKDF:
        return cls == CKO_SECRET_KEY;
    default:
        return false;
    }
}

/* The attribute groups that apply to an object of this class and key type. */
static size_t groups_for(CK_OBJECT_CLASS cls, CK_KEY_TYPE kt, struct group g[4])
{
    size_t n = 0;
    g[n++] = (struct group)GROUP(storage_attrs);
    switch (cls) {
    case CKO_DATA:
        g[n++] = (struct group)GROUP(data_attrs);
        break;
    case CKO_CERTIFICATE:
        g[n++] = (struct group)GROUP(cert_attrs);
        break;
    case CKO_PUBLIC_KEY:
        g[n++] = (struct group)GROUP(key_attrs);
        g[n++] = (struct group)GROUP(public_attrs);
        if (kt == CKK_EC || kt == CKK_EC_EDWARDS) /* the same attributes (PKCS#11 3.0 2.3.6) */
            g[n++] = (struct group)GROUP(ec_public_attrs);
        else if (kt == CKK_RSA)
            g[n++] = (struct group)GROUP(rsa_public_attrs);
        break;
    case CKO_PRIVATE_KEY:
        g[n++] = (struct group)GROUP(key_attrs);
        g[n++] = (struct group)GROUP(private_attrs);
        if (kt == CKK_EC || kt == CKK_EC_EDWARDS)
            g[n++] = (struct group)GROUP(ec_private_attrs);
        else if (kt == CKK_RSA)
            g[n++] = (struct group)GROUP(rsa_private_attrs);
        break;
    case CKO_SECRET_KEY:
        g[n++] = (struct group)GROUP(key_attrs);
        g[n++] = (struct group)GROUP(secret_attrs);
        g[n++] = (struct group)GROUP(sym_attrs);
        break;
    default:
        break;
    }
    return n;
}

/* The flags of attribute t for this class and key type, or -1 if the object has no such
 * attribute. Later groups refine earlier ones (CKA_VALUE of a key over nothing). */
static int flags_of(CK_OBJECT_CLASS cls, CK_KEY_TYPE kt, CK_ATTRIBUTE_TYPE t)
{
    struct group g[4];
    size_t n = groups_for(cls, kt, g);
    int f = -1;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < g[i].n; j++)
            if (g[i].v[j].type == t)
                f = (int)g[i].v[j].flags;
    return f;
}

static CK_OBJECT_CLASS class_of(const struct attrs *a)
{
    return attrs_get_ulong(a, CKA_CLASS, CK_UNAVAILABLE_INFORMATION);
}

static CK_KEY_TYPE key_type_of(const struct attrs *a)
{
    return attrs_get_ulong(a, CKA_KEY_TYPE, CK_UNAVAILABLE_INFORMATION);
}

bool schema_is_secret(CK_OBJECT_CLASS cls, bool is_private, CK_ATTRIBUTE_TYPE t)
{
    if (cls == CKO_SECRET_KEY || cls == CKO_PRIVATE_KEY)
        return t == CKA_VALUE || attr_is_secret_type(t);
    if (cls == CKO_DATA)
        return is_private && t == CKA_VALUE;
    return false;
}

bool schema_attr_valid(const struct attrs *obj, CK_ATTRIBUTE_TYPE t)
{
    return flags_of(class_of(obj), key_type_of(obj), t) >= 0;
}

CK_RV schema_unique_id(char out[33])
{
    uint8_t r[16];
    CK_RV rv = crypto_random(r, sizeof(r));
    if (rv != CKR_OK)
        return rv;
    for (size_t i = 0; i < sizeof(r); i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
    return CKR_OK;
}

/* Defaults an object gets for attributes the template leaves out. */
static CK_RV set_default(struct attrs *a, CK_ATTRIBUTE_TYPE t, bool v)
{
    return attrs_has(a, t) ? CKR_OK : attrs_set_bool(a, t, v);
}

static CK_RV set_empty(struct attrs *a, CK_ATTRIBUTE_TYPE t)
{
    return attrs_has(a, t) ? CKR_OK : attrs_set(a, t, "", 0);
}

static CK_RV fill_defaults(struct attrs *a, CK_OBJECT_CLASS cls)
{
    CK_RV rv = CKR_OK;
    bool secretish = cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY;
    if ((rv = set_default(a, CKA_TOKEN, false)) != CKR_OK ||
        (rv = set_default(a, CKA_PRIVATE, secretish)) != CKR_OK ||
        (rv = set_default(a, CKA_MODIFIABLE, true)) != CKR_OK ||
        (rv = set_default(a, CKA_COPYABLE, true)) != CKR_OK ||
        (rv = set_default(a, CKA_DESTROYABLE, true)) != CKR_OK ||
        (rv = set_empty(a, CKA_LABEL)) != CKR_OK)
        return rv;
    switch (cls) {
    case CKO_DATA:
        if ((rv = set_empty(a, CKA_APPLICATION)) != CKR_OK ||
            (rv = set_empty(a, CKA_OBJECT_ID)) != CKR_OK)
            return rv;
        if (!attrs_has(a, CKA_VALUE))
            rv = schema_is_secret(cls, attrs_get_bool(a, CKA_PRIVATE, false), CKA_VALUE)
                     ? attrs_set_secret(a, CKA_VALUE, "", 0)
                     : attrs_set(a, CKA_VALUE, "", 0);
        return rv;
    case CKO_CERTIFICATE:
        if ((rv = set_default(a, CKA_TRUSTED, false)) != CKR_OK ||
            (rv = set_empty(a, CKA_ID)) != CKR_OK || (rv = set_empty(a, CKA_ISSUER)) != CKR_OK ||
            (rv = set_empty(a, CKA_SERIAL_NUMBER)) != CKR_OK ||
            (rv = set_empty(a, CKA_START_DATE)) != CKR_OK ||
            (rv = set_empty(a, CKA_END_DATE)) != CKR_OK)
            return rv;
        if (!attrs_has(a, CKA_CERTIFICATE_CATEGORY))
            rv = attrs_set_ulong(a, CKA_CERTIFICATE_CATEGORY, CK_CERTIFICATE_CATEGORY_UNSPECIFIED);
        return rv;
    default:
        break;
    }
    /* keys: a use defaults to true only where the key type has a mechanism for it, so a key
     * never shows (or, with CKA_WRAP next to CKA_DECRYPT, offers) a use it cannot have; no key
     * defaults to the recover functions, which libsea does not offer */
    CK_KEY_TYPE kt = attrs_get_ulong(a, CKA_KEY_TYPE, CK_UNAVAILABLE_INFORMATION);
    bool crypt = cls == CKO_SECRET_KEY ? kt == CKK_AES : kt == CKK_RSA;
    if ((rv = set_empty(a, CKA_ID)) != CKR_OK || (rv = set_empty(a, CKA_START_DATE)) != CKR_OK ||
        (rv = set_empty(a, CKA_END_DATE)) != CKR_OK ||
        (rv = set_default(a, CKA_DERIVE, false)) != CKR_OK)
        return rv;
    if (cls == CKO_PUBLIC_KEY) {
        if ((rv = set_empty(a, CKA_SUBJECT)) != CKR_OK ||
            (rv = set_default(a, CKA_ENCRYPT, crypt)) != CKR_OK ||
            (rv = set_default(a, CKA_VERIFY, true)) != CKR_OK ||
            (rv = set_default(a, CKA_VERIFY_RECOVER, false)) != CKR_OK ||
            (rv = set_default(a, CKA_WRAP, crypt)) != CKR_OK ||
            (rv = set_default(a, CKA_TRUSTED, false)) != CKR_OK)
            return rv;
    } else if (cls == CKO_PRIVATE_KEY) {
        if ((rv = set_empty(a, CKA_SUBJECT)) != CKR_OK ||
            (rv = set_default(a, CKA_SENSITIVE, true)) != CKR_OK ||
            (rv = set_default(a, CKA_DECRYPT, crypt)) != CKR_OK ||
            (rv = set_default(a, CKA_SIGN, true)) != CKR_OK ||
            (rv = set_default(a, CKA_SIGN_RECOVER, false)) != CKR_OK ||
            (rv = set_default(a, CKA_UNWRAP, crypt)) != CKR_OK ||
            (rv = set_default(a, CKA_EXTRACTABLE, false)) != CKR_OK ||
            (rv = set_default(a, CKA_WRAP_WITH_TRUSTED, false)) != CKR_OK ||
            (rv = set_default(a, CKA_ALWAYS_AUTHENTICATE, false)) != CKR_OK)
            return rv;
    } else if (cls == CKO_SECRET_KEY) {
        if ((rv = set_default(a, CKA_SENSITIVE, true)) != CKR_OK ||
            (rv = set_default(a, CKA_ENCRYPT, crypt)) != CKR_OK ||
            (rv = set_default(a, CKA_DECRYPT, crypt)) != CKR_OK ||
            (rv = set_default(a, CKA_SIGN, true)) != CKR_OK ||
            (rv = set_default(a, CKA_VERIFY, true)) != CKR_OK ||
            (rv = set_default(a, CKA_WRAP, crypt)) != CKR_OK ||
            (rv = set_default(a, CKA_UNWRAP, crypt)) != CKR_OK ||
            (rv = set_default(a, CKA_EXTRACTABLE, false)) != CKR_OK ||
            (rv = set_default(a, CKA_WRAP_WITH_TRUSTED, false)) != CKR_OK ||
            (rv = set_default(a, CKA_TRUSTED, false)) != CKR_OK)
            return rv;
    }
    return CKR_OK;
}

/* Stamp what the library sets itself on a new object. */
static CK_RV stamp_new(struct attrs *a)
{
    char uid[33];
    CK_RV rv = schema_unique_id(uid);
    CK_ULONG now = (CK_ULONG)sea_time();
    if (rv == CKR_OK)
        rv = attrs_set(a, CKA_UNIQUE_ID, uid, 32);
    if (rv == CKR_OK)
        rv = attrs_set_ulong(a, CKA_SEA_CREATION_TIME, now);
    if (rv == CKR_OK)
        rv = attrs_set_ulong(a, CKA_SEA_MODIFIED_TIME, now);
    return rv;
}

/* Mark exactly the secret values as secret (attrs_from_template does not know the class, and a
 * copy may turn a private data object public): secrets go to protected memory and to the
 * store's sealed part, everything else to the public part. */
static CK_RV protect_secrets(struct attrs *a)
{
    CK_OBJECT_CLASS cls = class_of(a);
    bool priv = attrs_get_bool(a, CKA_PRIVATE, false);
    for (size_t i = 0; i < a->n; i++) {
        struct attr *x = &a->v[i];
        bool secret = schema_is_secret(cls, priv, x->type);
        if (x->secret == secret)
            continue;
        CK_RV rv = secret ? attrs_set_secret(a, x->type, x->val, x->len)
                          : attrs_set(a, x->type, x->val, x->len);
        if (rv != CKR_OK)
            return rv;
    }
    return CKR_OK;
}

/* The class and key type named by a template, checked for support. */
static CK_RV template_class(const struct attrs *a, CK_OBJECT_CLASS *cls, CK_KEY_TYPE *kt)
{
    *cls = class_of(a);
    *kt = key_type_of(a);
    if (*cls == CK_UNAVAILABLE_INFORMATION)
        return err_set(ORIGIN_CORE, CKR_TEMPLATE_INCOMPLETE, "the template has no CKA_CLASS");
    if (!class_supported(*cls))
        return err_set(ORIGIN_CORE, CKR_ATTRIBUTE_VALUE_INVALID,
                       "objects of class 0x%lx are not supported", *cls);
    bool is_key = *cls == CKO_PUBLIC_KEY || *cls == CKO_PRIVATE_KEY || *cls == CKO_SECRET_KEY;
    if (!is_key && attrs_has(a, CKA_KEY_TYPE))
        return err_set(ORIGIN_CORE, CKR_ATTRIBUTE_TYPE_INVALID,
                       "CKA_KEY_TYPE given for an object that is not a key");
    if (is_key) {
        if (*kt == CK_UNAVAILABLE_INFORMATION)
            return err_set(ORIGIN_CORE, CKR_TEMPLATE_INCOMPLETE,
                           "the template has no CKA_KEY_TYPE");
        if (!key_type_supported(*cls, *kt))
            return err_set(ORIGIN_CORE,
                           key_type_supported(CKO_SECRET_KEY, *kt) ||
                                   key_type_supported(CKO_PRIVATE_KEY, *kt)
                               ? CKR_TEMPLATE_INCONSISTENT
                               : CKR_ATTRIBUTE_VALUE_INVALID,
                           "key type 0x%lx is not supported for class 0x%lx", *kt, *cls);
    }
    if (*cls == CKO_CERTIFICATE) {
        CK_ULONG ct = attrs_get_ulong(a, CKA_CERTIFICATE_TYPE, CK_UNAVAILABLE_INFORMATION);
        if (ct == CK_UNAVAILABLE_INFORMATION)
            return err_set(ORIGIN_CORE, CKR_TEMPLATE_INCOMPLETE,
                           "the template has no CKA_CERTIFICATE_TYPE");
        if (ct != CKC_X_509)
            return err_set(ORIGIN_CORE, CKR_ATTRIBUTE_VALUE_INVALID,
                           "only X.509 certificates are supported");
    }
    return CKR_OK;
}

/* CKA_START_DATE and CKA_END_DATE, when given, name real days ("YYYYMMDD"): usage_check
 * compares them with today's date, and a malformed one would make the key unusable. */
static CK_RV check_dates(const struct attrs *a)
{
    static const CK_ATTRIBUTE_TYPE dates[] = {CKA_START_DATE, CKA_END_DATE};
    for (size_t i = 0; i < ARRAY_SIZE(dates); i++) {
        const struct attr *x = attrs_find(a, dates[i]);
        if (x && !usage_date_valid(x->val, x->len))
            return err_set(ORIGIN_CORE, CKR_ATTRIBUTE_VALUE_INVALID,
                           "%s is not a date: it takes YYYYMMDD (a day from 1900), or nothing",
                           dates[i] == CKA_START_DATE ? "CKA_START_DATE" : "CKA_END_DATE");
    }
    /* and a SUID (TS-0004 m2m:suid) is 10..99, or 0 for none */
    const struct attr *x = attrs_find(a, CKA_SEA_SUID);
    CK_ULONG suid = 0;
    if (x && x->len == sizeof(suid))
        memcpy(&suid, x->val, sizeof(suid));
    if (x && (x->len != sizeof(suid) || (suid != 0 && (suid < 10 || suid > 99))))
        return err_set(ORIGIN_CORE, CKR_ATTRIBUTE_VALUE_INVALID,
                       "CKA_SEA_SUID takes 10..99, or 0 for none");
    return CKR_OK;
}

/* Check every template attribute against the table for creation (gen == false) or
 * generation, and that required ones are present. */
static CK_RV check_template(const struct attrs *a, CK_OBJECT_CLASS cls, CK_KEY_TYPE kt, bool gen,
                            bool so)
{
    for (size_t i = 0; i < a->n; i++) {
        CK_ATTRIBUTE_TYPE t = a->v[i].type;
        int f = flags_of(cls, kt, t);
        if (f < 0)
            return err_set(ORIGIN_CORE, CKR_ATTRIBUTE_TYPE_INVALID,
                           "attribute 0x%lx is not valid for this kind of object", t);
        if (f & A_RO)
            return err_set(ORIGIN_CORE, CKR_ATTRIBUTE_READ_ONLY,
                           "attribute 0x%lx is set by the library and cannot be given", t);
        if (gen && (f & A_NO_GEN))
            return err_set(ORIGIN_CORE, CKR_TEMPLATE_INCONSISTENT,
                           "attribute 0x%lx is made by the key generation and cannot be given", t);
        if ((f & A_SO_ONLY) && !so && attrs_get_bool(a, t, false))
            return err_set(ORIGIN_CORE, CKR_ATTRIBUTE_READ_ONLY,
                           "only the security officer can set attribute 0x%lx", t);
    }
    struct group g[4];
    size_t n = groups_for(cls, kt, g);
    unsigned need = gen ? A_REQ_GEN : A_REQ_CREATE;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < g[i].n; j++) {
            const struct adesc *d = &g[i].v[j];
            if ((d->flags & need) && flags_of(cls, kt, d->type) == (int)d->flags &&
                !attrs_has(a, d->type))
                return err_set(ORIGIN_CORE, CKR_TEMPLATE_INCOMPLETE,
                               "the template lacks attribute 0x%lx", d->type);
        }
    return CKR_OK;
}

/* A COMPUTED attribute the caller gave must equal what the library computed. */
static CK_RV check_computed(const struct attrs *given, const struct attrs *made)
{
    CK_OBJECT_CLASS cls = class_of(made);
    CK_KEY_TYPE kt = key_type_of(made);
    for (size_t i = 0; i < given->n; i++) {
        const struct attr *x = &given->v[i];
        int f = flags_of(cls, kt, x->type);
        if (f < 0 || !(f & A_COMPUTED))
            continue;
        const struct attr *y = attrs_find(made, x->type);
        if (!y || y->len != x->len || memcmp(y->val, x->val, x->len) != 0)
            return err_set(ORIGIN_CORE, CKR_TEMPLATE_INCONSISTENT,
                           "attribute 0x%lx does not match the key value", x->type);
    }
    return CKR_OK;
}

CK_RV schema_create(const CK_ATTRIBUTE *t, CK_ULONG n, bool so, struct attrs **out)
{
    struct attrs *given = attrs_new(), *a = NULL;
    CK_OBJECT_CLASS cls;
    CK_KEY_TYPE kt;
    CK_RV rv;
    if (!given)
        return CKR_HOST_MEMORY;
    if ((rv = attrs_from_template(given, t, n)) != CKR_OK) {
        err_set(ORIGIN_CORE, rv, "the template is malformed");
        goto out;
    }
    if ((rv = check_dates(given)) != CKR_OK)
        goto out;
    if ((rv = template_class(given, &cls, &kt)) != CKR_OK ||
        (rv = check_template(given, cls, kt, false, so)) != CKR_OK)
        goto out;
    if (!(a = attrs_dup(given))) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    /* Computed attributes are recomputed from the value, then compared with what was given. */
    for (size_t i = 0; i < given->n; i++) {
        int f = flags_of(cls, kt, given->v[i].type);
        if (f >= 0 && (f & A_COMPUTED))
            attrs_remove(a, given->v[i].type);
    }
    if ((rv = fill_defaults(a, cls)) != CKR_OK || (rv = protect_secrets(a)) != CKR_OK)
        goto out;
    if (cls == CKO_PUBLIC_KEY || cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY) {
        if ((rv = crypto_complete_import(a)) != CKR_OK) {
            err_set(ORIGIN_CORE, rv, "the key value is not acceptable");
            goto out;
        }
        if ((rv = check_computed(given, a)) != CKR_OK)
            goto out;
        bool keyish = cls != CKO_PUBLIC_KEY;
        if ((rv = attrs_set_bool(a, CKA_LOCAL, false)) != CKR_OK ||
            (rv = attrs_set_ulong(a, CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION)) !=
                CKR_OK ||
            (keyish && (rv = attrs_set_bool(a, CKA_ALWAYS_SENSITIVE, false)) != CKR_OK) ||
            (keyish && (rv = attrs_set_bool(a, CKA_NEVER_EXTRACTABLE, false)) != CKR_OK))
            goto out;
    }
    rv = stamp_new(a);
out:
    attrs_unref(given);
    if (rv == CKR_OK) {
        *out = a;
    } else {
        attrs_unref(a);
    }
    return rv;
}

static CK_KEY_TYPE keygen_key_type(CK_MECHANISM_TYPE mech, CK_OBJECT_CLASS cls)
{
    switch (mech) {
    case CKM_AES_KEY_GEN:
        return cls == CKO_SECRET_KEY ? CKK_AES : CK_UNAVAILABLE_INFORMATION;
    case CKM_GENERIC_SECRET_KEY_GEN:
        return cls == CKO_SECRET_KEY ? CKK_GENERIC_SECRET : CK_UNAVAILABLE_INFORMATION;
    case CKM_EC_KEY_PAIR_GEN:
        return cls != CKO_SECRET_KEY ? CKK_EC : CK_UNAVAILABLE_INFORMATION;
    case CKM_EC_EDWARDS_KEY_PAIR_GEN:
        return cls != CKO_SECRET_KEY ? CKK_EC_EDWARDS : CK_UNAVAILABLE_INFORMATION;
    case CKM_RSA_PKCS_KEY_PAIR_GEN:
        return cls != CKO_SECRET_KEY ? CKK_RSA : CK_UNAVAILABLE_INFORMATION;
    default:
        return CK_UNAVAILABLE_INFORMATION;
    }
}

CK_RV schema_generate(CK_MECHANISM_TYPE mech, CK_OBJECT_CLASS cls, const CK_ATTRIBUTE *t,
                      CK_ULONG n, bool so, struct attrs **out)
{
    struct attrs *a = attrs_new();
    CK_RV rv;
    CK_KEY_TYPE kt = keygen_key_type(mech, cls);
    if (!a)
        return CKR_HOST_MEMORY;
    if (kt == CK_UNAVAILABLE_INFORMATION) {
        rv = err_set(ORIGIN_CORE, CKR_MECHANISM_INVALID,
                     "mechanism 0x%lx does not generate this kind of key", mech);
        goto out;
    }
    if ((rv = attrs_from_template(a, t, n)) != CKR_OK) {
        err_set(ORIGIN_CORE, rv, "the template is malformed");
        goto out;
    }
    if ((rv = check_dates(a)) != CKR_OK)
        goto out;
    if (attrs_get_ulong(a, CKA_CLASS, cls) != cls) {
        rv = err_set(ORIGIN_CORE, CKR_TEMPLATE_INCONSISTENT,
                     "CKA_CLASS contradicts the generation mechanism");
        goto out;
    }
    CK_KEY_TYPE given_kt = attrs_get_ulong(a, CKA_KEY_TYPE, kt);
    /* HMAC-specific secret key types are generic secrets in all but name. */
    bool kt_ok = given_kt == kt || (kt == CKK_GENERIC_SECRET &&
                                    (given_kt == CKK_SHA_1_HMAC || given_kt == CKK_SHA224_HMAC ||
                                     given_kt == CKK_SHA256_HMAC || given_kt == CKK_SHA384_HMAC ||
                                     given_kt == CKK_SHA512_HMAC));
    if (!kt_ok) {
        rv = err_set(ORIGIN_CORE, CKR_TEMPLATE_INCONSISTENT,
                     "CKA_KEY_TYPE contradicts the generation mechanism");
        goto out;
    }
    if ((rv = attrs_set_ulong(a, CKA_CLASS, cls)) != CKR_OK ||
        (rv = attrs_set_ulong(a, CKA_KEY_TYPE, given_kt)) != CKR_OK)
        goto out;
    /* EC_PARAMS may be repeated in the private template (some clients do); the pair check
     * in the core makes sure both halves agree. */
    struct attrs *chk = a;
    if (cls == CKO_PRIVATE_KEY && attrs_has(a, CKA_EC_PARAMS)) {
        if (!(chk = attrs_dup(a))) {
            rv = CKR_HOST_MEMORY;
            goto out;
        }
        attrs_remove(chk, CKA_EC_PARAMS);
    }
    rv = check_template(chk, cls, given_kt, true, so);
    if (chk != a)
        attrs_unref(chk);
    if (rv != CKR_OK)
        goto out;
    for (size_t i = 0; i < a->n; i++) {
        int f = flags_of(cls, given_kt, a->v[i].type);
        if (f >= 0 && (f & A_COMPUTED) && a->v[i].type != CKA_VALUE_LEN &&
            a->v[i].type != CKA_MODULUS_BITS) {
            rv = err_set(ORIGIN_CORE, CKR_TEMPLATE_INCONSISTENT,
                         "attribute 0x%lx is made by the key generation", a->v[i].type);
            goto out;
        }
    }
    if ((rv = fill_defaults(a, cls)) != CKR_OK)
        goto out;
    bool keyish = cls != CKO_PUBLIC_KEY;
    if ((rv = attrs_set_bool(a, CKA_LOCAL, true)) != CKR_OK ||
        (rv = attrs_set_ulong(a, CKA_KEY_GEN_MECHANISM, mech)) != CKR_OK ||
        (keyish && (rv = attrs_set_bool(a, CKA_ALWAYS_SENSITIVE,
                                        attrs_get_bool(a, CKA_SENSITIVE, true))) != CKR_OK) ||
        (keyish && (rv = attrs_set_bool(a, CKA_NEVER_EXTRACTABLE,
                                        !attrs_get_bool(a, CKA_EXTRACTABLE, false))) != CKR_OK))
        goto out;
    rv = stamp_new(a);
out:
    if (rv == CKR_OK)
        *out = a;
    else
        attrs_unref(a);
    return rv;
}

/* May attribute t change from cur to the new value (C_SetAttributeValue rules)? The validity
 * dates only narrow once set (doc/usage-constraints.md): CKA_END_DATE may move earlier,
 * CKA_START_DATE later, and neither can be emptied; a key without one may be given one. */
static CK_RV check_change(int f, const struct attr *cur, const struct attr *nv, bool so)
{
    if ((nv->type == CKA_END_DATE || nv->type == CKA_START_DATE) && cur &&
        cur->len == sizeof(CK_DATE)) {
        bool end = nv->type == CKA_END_DATE;
        const char *name = end ? "CKA_END_DATE" : "CKA_START_DATE";
        if (nv->len != sizeof(CK_DATE))
            return err_set(ORIGIN_CORE, CKR_ATTRIBUTE_VALUE_INVALID,
                           "%s is set: it cannot be emptied", name);
        int cmp = memcmp(nv->val, cur->val, sizeof(CK_DATE));
        if (end ? cmp > 0 : cmp < 0)
            return err_set(ORIGIN_CORE, CKR_ATTRIBUTE_VALUE_INVALID,
                           "%s can only move %s: the validity of a key only narrows", name,
                           end ? "earlier" : "later");
    }
    if ((f & A_TRUE_ONLY) || (f & A_FALSE_ONLY) || (f & A_SO_ONLY)) {
        bool was = cur && cur->len == 1 && *(const CK_BBOOL *)cur->val;
        bool now = nv->len == 1 && *(const CK_BBOOL *)nv->val;
        if ((f & A_TRUE_ONLY) && was && !now)
            return err_set(ORIGIN_CORE, CKR_ATTRIBUTE_READ_ONLY,
                           "attribute 0x%lx can only change from false to true", nv->type);
        if ((f & A_FALSE_ONLY) && !was && now)
            return err_set(ORIGIN_CORE, CKR_ATTRIBUTE_READ_ONLY,
                           "attribute 0x%lx can only change from true to false", nv->type);
        if ((f & A_SO_ONLY) && now && !was && !so)
            return err_set(ORIGIN_CORE, CKR_ATTRIBUTE_READ_ONLY,
                           "only the security officer can set attribute 0x%lx", nv->type);
    }
    return CKR_OK;
}

CK_RV schema_set(const struct attrs *cur, const CK_ATTRIBUTE *t, CK_ULONG n, bool so,
                 struct attrs **changes)
{
    CK_OBJECT_CLASS cls = class_of(cur);
    CK_KEY_TYPE kt = key_type_of(cur);
    bool priv = attrs_get_bool(cur, CKA_PRIVATE, false);
    struct attrs *c = attrs_new();
    CK_RV rv;
    if (!c)
        return CKR_HOST_MEMORY;
    if ((rv = attrs_from_template(c, t, n)) != CKR_OK) {
        err_set(ORIGIN_CORE, rv, "the template is malformed");
        goto out;
    }
    if ((rv = check_dates(c)) != CKR_OK)
        goto out;
    if (!attrs_get_bool(cur, CKA_MODIFIABLE, true)) {
        rv = err_set(ORIGIN_CORE, CKR_ACTION_PROHIBITED, "the object is not modifiable");
        goto out;
    }
    for (size_t i = 0; i < c->n; i++) {
        struct attr *x = &c->v[i];
        int f = flags_of(cls, kt, x->type);
        if (f < 0) {
            rv = err_set(ORIGIN_CORE, CKR_ATTRIBUTE_TYPE_INVALID,
                         "attribute 0x%lx is not valid for this object", x->type);
            goto out;
        }
        if (!(f & A_MOD)) {
            rv = err_set(ORIGIN_CORE, CKR_ATTRIBUTE_READ_ONLY, "attribute 0x%lx cannot be changed",
                         x->type);
            goto out;
        }
        if ((rv = check_change(f, attrs_find(cur, x->type), x, so)) != CKR_OK)
            goto out;
        if (schema_is_secret(cls, priv, x->type) && !x->secret &&
            (rv = attrs_set_secret(c, x->type, x->val, x->len)) != CKR_OK)
            goto out;
    }
    rv = attrs_set_ulong(c, CKA_SEA_MODIFIED_TIME, (CK_ULONG)sea_time());
out:
    if (rv == CKR_OK)
        *changes = c;
    else
        attrs_unref(c);
    return rv;
}

CK_RV schema_copy(const struct attrs *orig, const CK_ATTRIBUTE *t, CK_ULONG n, struct attrs **out)
{
    CK_OBJECT_CLASS cls = class_of(orig);
    CK_KEY_TYPE kt = key_type_of(orig);
    struct attrs *c = attrs_new(), *a = NULL;
    CK_RV rv;
    if (!c)
        return CKR_HOST_MEMORY;
    if (!attrs_get_bool(orig, CKA_COPYABLE, true)) {
        rv = err_set(ORIGIN_CORE, CKR_ACTION_PROHIBITED, "the object is not copyable");
        goto out;
    }
    if ((rv = attrs_from_template(c, t, n)) != CKR_OK) {
        err_set(ORIGIN_CORE, rv, "the template is malformed");
        goto out;
    }
    if ((rv = check_dates(c)) != CKR_OK)
        goto out;
    for (size_t i = 0; i < c->n; i++) {
        struct attr *x = &c->v[i];
        int f = flags_of(cls, kt, x->type);
        if (f < 0) {
            rv = err_set(ORIGIN_CORE, CKR_ATTRIBUTE_TYPE_INVALID,
                         "attribute 0x%lx is not valid for this object", x->type);
            goto out;
        }
        if (!(f & (A_MOD | A_COPY))) {
            rv = err_set(ORIGIN_CORE, CKR_ATTRIBUTE_READ_ONLY,
                         "attribute 0x%lx cannot be changed by a copy", x->type);
            goto out;
        }
        if ((rv = check_change(f, attrs_find(orig, x->type), x, false)) != CKR_OK)
            goto out;
    }
    if (!(a = attrs_dup(orig)) || attrs_merge(a, c) != CKR_OK) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    if ((rv = protect_secrets(a)) != CKR_OK)
        goto out;
    rv = stamp_new(a);
out:
    attrs_unref(c);
    if (rv == CKR_OK) {
        *out = a;
    } else {
        attrs_unref(a);
    }
    return rv;
}

enum reveal schema_reveal(const struct attrs *obj, CK_ATTRIBUTE_TYPE t)
{
    CK_OBJECT_CLASS cls = class_of(obj);
    if (flags_of(cls, key_type_of(obj), t) < 0)
        return REVEAL_INVALID;
    if (!schema_is_secret(cls, attrs_get_bool(obj, CKA_PRIVATE, false), t))
        return REVEAL_PUBLIC;
    if (cls == CKO_DATA)
        return REVEAL_SECRET;
    /* Our rule is stricter than the standard's: a key that is not extractable never leaves
     * the SE in clear, whatever CKA_SENSITIVE says. */
    if (attrs_get_bool(obj, CKA_SENSITIVE, true) || !attrs_get_bool(obj, CKA_EXTRACTABLE, false))
        return REVEAL_SENSITIVE;
    return REVEAL_SECRET;
}

/* ---- C_UnwrapKey and C_DeriveKey ---- */

CK_RV schema_unwrap_derive(const struct attrs *given, bool so, bool always_sensitive,
                           bool never_extractable, struct attrs **out)
{
    CK_OBJECT_CLASS cls;
    CK_KEY_TYPE kt;
    struct attrs *a = NULL;
    CK_RV rv = template_class(given, &cls, &kt);
    if (rv != CKR_OK || (rv = check_dates(given)) != CKR_OK)
        return rv;
    if (cls != CKO_SECRET_KEY && cls != CKO_PRIVATE_KEY && cls != CKO_DATA)
        return err_set(ORIGIN_CORE, CKR_TEMPLATE_INCONSISTENT,
                       "objects of class 0x%lx cannot be made this way", cls);
    for (size_t i = 0; i < given->n; i++) {
        CK_ATTRIBUTE_TYPE t = given->v[i].type;
        int f = flags_of(cls, kt, t);
        if (f < 0)
            return err_set(ORIGIN_CORE, CKR_ATTRIBUTE_TYPE_INVALID,
                           "attribute 0x%lx is not valid for this kind of object", t);
        if (f & A_RO)
            return err_set(ORIGIN_CORE, CKR_ATTRIBUTE_READ_ONLY,
                           "attribute 0x%lx is set by the library and cannot be given", t);
        if (t == CKA_VALUE || (f & A_NO_GEN) || ((f & A_COMPUTED) && t != CKA_VALUE_LEN))
            return err_set(ORIGIN_CORE, CKR_TEMPLATE_INCONSISTENT,
                           "attribute 0x%lx comes from the unwrapped or derived value", t);
        if ((f & A_SO_ONLY) && !so && attrs_get_bool(given, t, false))
            return err_set(ORIGIN_CORE, CKR_ATTRIBUTE_READ_ONLY,
                           "only the security officer can set attribute 0x%lx", t);
    }
    if (!(a = attrs_dup(given)))
        return CKR_HOST_MEMORY;
    if ((rv = fill_defaults(a, cls)) != CKR_OK)
        goto out;
    if (cls != CKO_DATA &&
        ((rv = attrs_set_bool(a, CKA_LOCAL, false)) != CKR_OK ||
         (rv = attrs_set_ulong(a, CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION)) != CKR_OK ||
         (rv = attrs_set_bool(a, CKA_ALWAYS_SENSITIVE,
                              always_sensitive && attrs_get_bool(a, CKA_SENSITIVE, true))) !=
             CKR_OK ||
         (rv = attrs_set_bool(a, CKA_NEVER_EXTRACTABLE,
                              never_extractable && !attrs_get_bool(a, CKA_EXTRACTABLE, false))) !=
             CKR_OK))
        goto out;
    rv = stamp_new(a);
out:
    if (rv == CKR_OK)
        *out = a;
    else
        attrs_unref(a);
    return rv;
}

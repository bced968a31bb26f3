/* Attribute sets, their encoding and template matching. */
#include <openssl/crypto.h>
#include <stdlib.h>

#include "attrs.h"

enum attr_kind attr_kind(CK_ATTRIBUTE_TYPE t)
{
    switch (t) {
    case CKA_TOKEN:
    case CKA_PRIVATE:
    case CKA_MODIFIABLE:
    case CKA_COPYABLE:
    case CKA_DESTROYABLE:
    case CKA_TRUSTED:
    case CKA_SENSITIVE:
    case CKA_ENCRYPT:
    case CKA_DECRYPT:
    case CKA_WRAP:
    case CKA_UNWRAP:
    case CKA_SIGN:
    case CKA_SIGN_RECOVER:
    case CKA_VERIFY:
    case CKA_VERIFY_RECOVER:
    case CKA_DERIVE:
    case CKA_EXTRACTABLE:
    case CKA_LOCAL:
    case CKA_NEVER_EXTRACTABLE:
    case CKA_ALWAYS_SENSITIVE:
    case CKA_WRAP_WITH_TRUSTED:
    case CKA_ALWAYS_AUTHENTICATE:
    case CKA_RESET_ON_INIT:
    case CKA_HAS_RESET:
        return AK_BOOL;
    case CKA_CLASS:
    case CKA_KEY_TYPE:
    case CKA_CERTIFICATE_TYPE:
    case CKA_CERTIFICATE_CATEGORY:
    case CKA_JAVA_MIDP_SECURITY_DOMAIN:
    case CKA_NAME_HASH_ALGORITHM:
    case CKA_KEY_GEN_MECHANISM:
    case CKA_MODULUS_BITS:
    case CKA_VALUE_LEN:
    case CKA_VALUE_BITS:
    case CKA_PRIME_BITS:
    case CKA_SUB_PRIME_BITS:
    case CKA_HW_FEATURE_TYPE:
    case CKA_MECHANISM_TYPE:
    case CKA_PROFILE_ID:
    case CKA_SEA_SUID:
    case CKA_SEA_CREATION_TIME:
    case CKA_SEA_MODIFIED_TIME:
        return AK_ULONG;
    case CKA_START_DATE:
    case CKA_END_DATE:
        return AK_DATE;
    case CKA_ALLOWED_MECHANISMS:
        return AK_MECHS;
    case CKA_WRAP_TEMPLATE:
    case CKA_UNWRAP_TEMPLATE:
    case CKA_DERIVE_TEMPLATE:
        return AK_TEMPLATE;
    default:
        return AK_BYTES;
    }
}

bool attr_is_secret_type(CK_ATTRIBUTE_TYPE t)
{
    switch (t) {
    case CKA_PRIVATE_EXPONENT:
    case CKA_PRIME_1:
    case CKA_PRIME_2:
    case CKA_EXPONENT_1:
    case CKA_EXPONENT_2:
    case CKA_COEFFICIENT:
        return true;
    default:
        return false;
    }
}

struct attrs *attrs_new(void)
{
    struct attrs *a = calloc(1, sizeof(*a));
    if (a)
        a->refs = 1;
    return a;
}

struct attrs *attrs_ref(struct attrs *a)
{
    if (a)
        __atomic_add_fetch(&a->refs, 1, __ATOMIC_RELAXED);
    return a;
}

static void free_value(struct attr *x)
{
    if (x->secret)
        sea_secret_free(x->val, x->len);
    else
        OPENSSL_clear_free(x->val, x->len ? x->len : 1);
    x->val = NULL;
}

void attrs_unref(struct attrs *a)
{
    if (!a || __atomic_sub_fetch(&a->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (size_t i = 0; i < a->n; i++)
        free_value(&a->v[i]);
    free(a->v);
    free(a);
}

const struct attr *attrs_find(const struct attrs *a, CK_ATTRIBUTE_TYPE t)
{
    if (!a)
        return NULL;
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i].type == t)
            return &a->v[i];
    return NULL;
}

bool attrs_has(const struct attrs *a, CK_ATTRIBUTE_TYPE t)
{
    return attrs_find(a, t) != NULL;
}

bool attrs_get_bool(const struct attrs *a, CK_ATTRIBUTE_TYPE t, bool dflt)
{
    const struct attr *x = attrs_find(a, t);
    if (!x || x->len != sizeof(CK_BBOOL))
        return dflt;
    return *(const CK_BBOOL *)x->val != CK_FALSE;
}

CK_ULONG attrs_get_ulong(const struct attrs *a, CK_ATTRIBUTE_TYPE t, CK_ULONG dflt)
{
    const struct attr *x = attrs_find(a, t);
    CK_ULONG v;
    if (!x || x->len != sizeof(CK_ULONG))
        return dflt;
    memcpy(&v, x->val, sizeof(v));
    return v;
}

static CK_RV set_value(struct attrs *a, CK_ATTRIBUTE_TYPE t, const void *val, CK_ULONG len,
                       bool secret)
{
    void *copy = secret ? sea_secret_alloc(len) : OPENSSL_malloc(len ? len : 1);
    if (!copy)
        return CKR_HOST_MEMORY;
    if (len)
        memcpy(copy, val, len);
    for (size_t i = 0; i < a->n; i++) {
        if (a->v[i].type == t) {
            free_value(&a->v[i]);
            a->v[i].val = copy;
            a->v[i].len = len;
            a->v[i].secret = secret;
            return CKR_OK;
        }
    }
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        struct attr *nv = realloc(a->v, cap * sizeof(*nv));
        if (!nv) {
            if (secret)
                sea_secret_free(copy, len);
            else
                OPENSSL_clear_free(copy, len ? len : 1);
            return CKR_HOST_MEMORY;
        }
        a->v = nv;
        a->cap = cap;
    }
    a->v[a->n++] = (struct attr){.type = t, .len = len, .val = copy, .secret = secret};
    return CKR_OK;
}

CK_RV attrs_set(struct attrs *a, CK_ATTRIBUTE_TYPE t, const void *val, CK_ULONG len)
{
    return set_value(a, t, val, len, attr_is_secret_type(t));
}

CK_RV attrs_set_secret(struct attrs *a, CK_ATTRIBUTE_TYPE t, const void *val, CK_ULONG len)
{
    return set_value(a, t, val, len, true);
}

CK_RV attrs_set_bool(struct attrs *a, CK_ATTRIBUTE_TYPE t, bool v)
{
    CK_BBOOL b = CKB(v);
    return attrs_set(a, t, &b, sizeof(b));
}

CK_RV attrs_set_ulong(struct attrs *a, CK_ATTRIBUTE_TYPE t, CK_ULONG v)
{
    return attrs_set(a, t, &v, sizeof(v));
}

void attrs_remove(struct attrs *a, CK_ATTRIBUTE_TYPE t)
{
    for (size_t i = 0; i < a->n; i++) {
        if (a->v[i].type == t) {
            free_value(&a->v[i]);
            a->v[i] = a->v[--a->n];
            return;
        }
    }
}

CK_RV attrs_merge(struct attrs *dst, const struct attrs *src)
{
    for (size_t i = 0; src && i < src->n; i++) {
        CK_RV rv = set_value(dst, src->v[i].type, src->v[i].val, src->v[i].len, src->v[i].secret);
        if (rv != CKR_OK)
            return rv;
    }
    return CKR_OK;
}

struct attrs *attrs_dup(const struct attrs *a)
{
    struct attrs *d = attrs_new();
    if (d && attrs_merge(d, a) != CKR_OK) {
        attrs_unref(d);
        return NULL;
    }
    return d;
}

/* ---- encoding ----
 * blob   := 0x41 0x01 entry*
 * entry  := type:u32le len:u32le value[len]
 * ULONG values are u64le, MECHS arrays of u64le, TEMPLATE values nested blobs. */

struct buf {
    uint8_t *p;
    size_t len, cap;
    bool secret;
};

static bool buf_grow(struct buf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more)
        cap *= 2;
    uint8_t *np = b->secret ? sea_secret_alloc(cap) : OPENSSL_malloc(cap);
    if (!np)
        return false;
    if (b->len)
        memcpy(np, b->p, b->len);
    if (b->p) {
        if (b->secret)
            sea_secret_free(b->p, b->cap);
        else
            OPENSSL_clear_free(b->p, b->cap);
    }
    b->p = np;
    b->cap = cap;
    return true;
}

static bool buf_put(struct buf *b, const void *p, size_t n)
{
    if (!buf_grow(b, n))
        return false;
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    return true;
}

static bool buf_u32(struct buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    return buf_put(b, x, 4);
}

static bool buf_u64(struct buf *b, uint64_t v)
{
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    return buf_put(b, x, 8);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static bool encode_value(struct buf *b, const struct attr *x)
{
    enum attr_kind k = attr_kind(x->type);
    if (x->type > UINT32_MAX)
        return false;
    if (k == AK_ULONG && x->len == sizeof(CK_ULONG)) {
        CK_ULONG v;
        memcpy(&v, x->val, sizeof(v));
        return buf_u32(b, (uint32_t)x->type) && buf_u32(b, 8) && buf_u64(b, v);
    }
    if (k == AK_MECHS && x->len % sizeof(CK_ULONG) == 0) {
        size_t n = x->len / sizeof(CK_ULONG);
        if (!buf_u32(b, (uint32_t)x->type) || !buf_u32(b, (uint32_t)(n * 8)))
            return false;
        for (size_t i = 0; i < n; i++) {
            CK_ULONG v;
            memcpy(&v, (const uint8_t *)x->val + i * sizeof(CK_ULONG), sizeof(v));
            if (!buf_u64(b, v))
                return false;
        }
        return true;
    }
    return buf_u32(b, (uint32_t)x->type) && buf_u32(b, (uint32_t)x->len) &&
           buf_put(b, x->val, x->len);
}

CK_RV attrs_encode(const struct attrs *a, bool (*keep)(CK_ATTRIBUTE_TYPE, void *), void *ctx,
                   uint8_t **out, size_t *outlen)
{
    struct buf b = {0};
    bool any_secret = false;
    for (size_t i = 0; a && i < a->n; i++)
        if ((!keep || keep(a->v[i].type, ctx)) && a->v[i].secret)
            any_secret = true;
    b.secret = any_secret;
    static const uint8_t hdr[2] = {0x41, 0x01};
    if (!buf_put(&b, hdr, 2))
        goto oom;
    for (size_t i = 0; a && i < a->n; i++) {
        if (keep && !keep(a->v[i].type, ctx))
            continue;
        if (!encode_value(&b, &a->v[i]))
            goto oom;
    }
    *out = b.p;
    *outlen = b.len;
    return CKR_OK;
oom:
    if (b.p) {
        if (b.secret)
            sea_secret_free(b.p, b.cap);
        else
            OPENSSL_clear_free(b.p, b.cap);
    }
    return CKR_HOST_MEMORY;
}

static CK_RV decode_depth(const uint8_t *in, size_t len, bool secret, int depth, struct attrs **out)
{
    if (!in || len < 2 || in[0] != 0x41 || in[1] != 0x01)
        return CKR_DATA_INVALID;
    struct attrs *a = attrs_new();
    if (!a)
        return CKR_HOST_MEMORY;
    CK_RV rv = CKR_DATA_INVALID;
    size_t off = 2;
    while (off < len) {
        if (len - off < 8)
            goto out;
        uint32_t type = get_u32(in + off);
        uint32_t vlen = get_u32(in + off + 4);
        off += 8;
        if (vlen > len - off)
            goto out;
        const uint8_t *v = in + off;
        off += vlen;
        if (attrs_has(a, type))
            goto out;
        enum attr_kind k = attr_kind(type);
        CK_RV r;
        if (k == AK_ULONG) {
            if (vlen != 8)
                goto out;
            uint64_t u = get_u64(v);
            if (u > (uint64_t)(CK_ULONG)-1)
                goto out;
            r = attrs_set_ulong(a, type, (CK_ULONG)u);
        } else if (k == AK_MECHS) {
            if (vlen % 8)
                goto out;
            size_t n = vlen / 8;
            CK_ULONG *m = calloc(n ? n : 1, sizeof(CK_ULONG));
            if (!m) {
                rv = CKR_HOST_MEMORY;
                goto out;
            }
            for (size_t i = 0; i < n; i++)
                m[i] = (CK_ULONG)get_u64(v + 8 * i);
            r = attrs_set(a, type, m, (CK_ULONG)(n * sizeof(CK_ULONG)));
            free(m);
        } else {
            if ((k == AK_BOOL && vlen != 1) || (k == AK_DATE && vlen != 8 && vlen != 0))
                goto out;
            if (k == AK_TEMPLATE) {
                struct attrs *inner = NULL;
                if (depth > 0 || decode_depth(v, vlen, false, depth + 1, &inner) != CKR_OK)
                    goto out;
                attrs_unref(inner);
            }
            r = (secret || attr_is_secret_type(type)) ? attrs_set_secret(a, type, v, vlen)
                                                      : attrs_set(a, type, v, vlen);
        }
        if (r != CKR_OK) {
            rv = r;
            goto out;
        }
    }
    *out = a;
    return CKR_OK;
out:
    attrs_unref(a);
    return rv;
}

CK_RV attrs_decode(const uint8_t *in, size_t len, bool secret, struct attrs **out)
{
    return decode_depth(in, len, secret, 0, out);
}

static bool same_value(const struct attr *x, const CK_ATTRIBUTE *t)
{
    if (t->ulValueLen == CK_UNAVAILABLE_INFORMATION || (!t->pValue && t->ulValueLen))
        return false;
    if (attr_kind(x->type) == AK_BOOL)
        return t->ulValueLen == 1 && x->len == 1 &&
               ((*(const CK_BBOOL *)t->pValue != 0) == (*(const CK_BBOOL *)x->val != 0));
    if (attr_kind(x->type) == AK_TEMPLATE)
        return false; /* templates are never search keys */
    return x->len == t->ulValueLen && (x->len == 0 || memcmp(x->val, t->pValue, x->len) == 0);
}

static CK_RV template_from_array(const CK_ATTRIBUTE *inner, CK_ULONG n, uint8_t **out,
                                 size_t *outlen)
{
    if (n > SEA_MAX_INNER_ATTRS)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    struct attrs *a = attrs_new();
    if (!a)
        return CKR_HOST_MEMORY;
    CK_RV rv = CKR_OK;
    for (CK_ULONG i = 0; i < n; i++) {
        if (attr_kind(inner[i].type) == AK_TEMPLATE || (inner[i].type & CKF_ARRAY_ATTRIBUTE)) {
            rv = CKR_ATTRIBUTE_VALUE_INVALID; /* no nesting */
            break;
        }
    }
    if (rv == CKR_OK)
        rv = attrs_from_template(a, inner, n);
    if (rv == CKR_OK)
        rv = attrs_encode(a, NULL, NULL, out, outlen);
    attrs_unref(a);
    return rv;
}

CK_RV attrs_from_template(struct attrs *a, const CK_ATTRIBUTE *t, CK_ULONG n)
{
    size_t total = 0;
    if (n && !t)
        return CKR_ARGUMENTS_BAD;
    if (n > SEA_MAX_TEMPLATE_ATTRS)
        return CKR_ARGUMENTS_BAD;
    for (CK_ULONG i = 0; i < n; i++) {
        const CK_ATTRIBUTE *x = &t[i];
        if ((!x->pValue && x->ulValueLen) || x->ulValueLen > SEA_MAX_ATTR_LEN)
            return CKR_ATTRIBUTE_VALUE_INVALID;
        total += x->ulValueLen;
        if (total > SEA_MAX_TEMPLATE_BYTES)
            return CKR_ARGUMENTS_BAD;
        enum attr_kind k = attr_kind(x->type);
        if ((k == AK_BOOL && x->ulValueLen != sizeof(CK_BBOOL)) ||
            (k == AK_ULONG && x->ulValueLen != sizeof(CK_ULONG)) ||
            (k == AK_DATE && x->ulValueLen != sizeof(CK_DATE) && x->ulValueLen != 0) ||
            (k == AK_MECHS && x->ulValueLen % sizeof(CK_MECHANISM_TYPE)) ||
            (k == AK_TEMPLATE && x->ulValueLen % sizeof(CK_ATTRIBUTE)))
            return CKR_ATTRIBUTE_VALUE_INVALID;
        const struct attr *prev = attrs_find(a, x->type);
        if (prev) {
            if (!same_value(prev, x) || k == AK_TEMPLATE)
                return CKR_TEMPLATE_INCONSISTENT;
            continue;
        }
        CK_RV rv;
        if (k == AK_TEMPLATE) {
            uint8_t *blob = NULL;
            size_t blen = 0;
            rv = template_from_array(x->pValue, x->ulValueLen / sizeof(CK_ATTRIBUTE), &blob, &blen);
            if (rv == CKR_OK)
                rv = attrs_set(a, x->type, blob, (CK_ULONG)blen);
            OPENSSL_clear_free(blob, blen);
        } else if (k == AK_BOOL) {
            rv = attrs_set_bool(a, x->type, *(const CK_BBOOL *)x->pValue != CK_FALSE);
        } else {
            rv = attrs_set(a, x->type, x->pValue, x->ulValueLen);
        }
        if (rv != CKR_OK)
            return rv;
    }
    return CKR_OK;
}

CK_RV attr_copy_out(const struct attr *a, CK_ATTRIBUTE *out)
{
    if (attr_kind(a->type) != AK_TEMPLATE) {
        if (!out->pValue) {
            out->ulValueLen = a->len;
            return CKR_OK;
        }
        if (out->ulValueLen < a->len) {
            out->ulValueLen = CK_UNAVAILABLE_INFORMATION;
            return CKR_BUFFER_TOO_SMALL;
        }
        if (a->len)
            memcpy(out->pValue, a->val, a->len);
        out->ulValueLen = a->len;
        return CKR_OK;
    }
    if (a->len == 0) { /* no template: an empty array */
        out->ulValueLen = 0;
        return CKR_OK;
    }
    struct attrs *inner = NULL;
    CK_RV rv = attrs_decode(a->val, a->len, false, &inner);
    if (rv != CKR_OK)
        return CKR_GENERAL_ERROR;
    CK_ULONG need = (CK_ULONG)(inner->n * sizeof(CK_ATTRIBUTE));
    if (!out->pValue) {
        out->ulValueLen = need;
    } else if (out->ulValueLen < need) {
        out->ulValueLen = CK_UNAVAILABLE_INFORMATION;
        rv = CKR_BUFFER_TOO_SMALL;
    } else {
        CK_ATTRIBUTE *arr = out->pValue;
        for (size_t i = 0; i < inner->n; i++) {
            arr[i].type = inner->v[i].type;
            CK_RV r = attr_copy_out(&inner->v[i], &arr[i]);
            if (r != CKR_OK && rv == CKR_OK)
                rv = r;
        }
        out->ulValueLen = need;
    }
    attrs_unref(inner);
    return rv;
}

bool attrs_match(const struct attrs *obj, const CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
    for (CK_ULONG i = 0; i < n; i++) {
        const struct attr *x = attrs_find(obj, tmpl[i].type);
        if (!x || !same_value(x, &tmpl[i]))
            return false;
    }
    return true;
}

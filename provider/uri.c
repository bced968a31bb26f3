/* PKCS#11 URIs (RFC 7512): a table-driven parser into struct p11uri, token matching, object
 * templates and the formatter sea-tool prints. Error messages name the attribute at fault and
 * never echo a value, so a pin-value cannot leak into a message or a log. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "error.h"
#include "uri.h"

#define SCHEME     "pkcs11:"
#define SCHEME_LEN (sizeof(SCHEME) - 1)

enum value_kind {
    VK_TEXT,    /* a NUL-free string stored at .off */
    VK_ID,      /* any bytes */
    VK_VERSION, /* M or M.N */
    VK_SLOT_ID, /* decimal CK_SLOT_ID */
    VK_TYPE,    /* an object class name */
};

static const struct uri_attr {
    const char *name;
    bool query; /* after '?' rather than in the path */
    enum value_kind kind;
    size_t off; /* VK_TEXT: offset of the char * in struct p11uri */
} uri_attrs[] = {
    {"token", false, VK_TEXT, offsetof(struct p11uri, token)},
    {"manufacturer", false, VK_TEXT, offsetof(struct p11uri, manufacturer)},
    {"serial", false, VK_TEXT, offsetof(struct p11uri, serial)},
    {"model", false, VK_TEXT, offsetof(struct p11uri, model)},
    {"library-manufacturer", false, VK_TEXT, offsetof(struct p11uri, library_manufacturer)},
    {"library-description", false, VK_TEXT, offsetof(struct p11uri, library_description)},
    {"library-version", false, VK_VERSION, 0},
    {"slot-description", false, VK_TEXT, offsetof(struct p11uri, slot_description)},
    {"slot-manufacturer", false, VK_TEXT, offsetof(struct p11uri, slot_manufacturer)},
    {"slot-id", false, VK_SLOT_ID, 0},
    {"object", false, VK_TEXT, offsetof(struct p11uri, object)},
    {"id", false, VK_ID, 0},
    {"type", false, VK_TYPE, 0},
    {"pin-value", true, VK_TEXT, offsetof(struct p11uri, pin_value)},
    {"pin-source", true, VK_TEXT, offsetof(struct p11uri, pin_source)},
    {"module-name", true, VK_TEXT, offsetof(struct p11uri, module_name)},
    {"module-path", true, VK_TEXT, offsetof(struct p11uri, module_path)},
};

static const struct {
    const char *name;
    CK_OBJECT_CLASS cls;
} type_names[] = {
    {"public", CKO_PUBLIC_KEY},     {"private", CKO_PRIVATE_KEY}, {"cert", CKO_CERTIFICATE},
    {"secret-key", CKO_SECRET_KEY}, {"data", CKO_DATA},
};

bool uri_type_from_name(const char *name, CK_OBJECT_CLASS *out)
{
    if (!name || !out)
        return false;
    for (size_t i = 0; i < ARRAY_SIZE(type_names); i++) {
        if (strcmp(name, type_names[i].name) == 0) {
            *out = type_names[i].cls;
            return true;
        }
    }
    return false;
}

const char *uri_type_name(CK_OBJECT_CLASS cls)
{
    for (size_t i = 0; i < ARRAY_SIZE(type_names); i++)
        if (type_names[i].cls == cls)
            return type_names[i].name;
    return NULL;
}

void uri_free(struct p11uri *u)
{
    if (!u)
        return;
    if (u->pin_value) {
        sea_wipe(u->pin_value, strlen(u->pin_value));
        free(u->pin_value);
    }
    for (size_t i = 0; i < ARRAY_SIZE(uri_attrs); i++)
        if (uri_attrs[i].kind == VK_TEXT && uri_attrs[i].off != offsetof(struct p11uri, pin_value))
            free(*(char **)((char *)u + uri_attrs[i].off));
    free(u->id);
    free(u);
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Percent-decode v/n into a malloc'd, NUL-terminated buffer (the terminator is not counted). */
static CK_RV decode(const struct uri_attr *a, const char *v, size_t n, uint8_t **out,
                    size_t *outlen)
{
    uint8_t *buf = malloc(n + 1);
    size_t len = 0;
    if (!buf)
        return err_set(ORIGIN_API, CKR_HOST_MEMORY, "out of memory parsing a PKCS#11 URI");
    for (size_t i = 0; i < n; i++) {
        if (v[i] != '%') {
            buf[len++] = (uint8_t)v[i];
            continue;
        }
        int hi = -1, lo = -1;
        if (i + 2 < n) {
            hi = hexval(v[i + 1]);
            lo = hexval(v[i + 2]);
        }
        if (hi < 0 || lo < 0) {
            sea_wipe(buf, n + 1);
            free(buf);
            return err_set(ORIGIN_API, CKR_ARGUMENTS_BAD,
                           "PKCS#11 URI: bad percent-escape in '%s' (expected %%XX)", a->name);
        }
        buf[len++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return CKR_OK;
}

/* Decimal digits only, no sign, no overflow beyond max. */
static bool parse_decimal(const char *s, size_t n, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static CK_RV bad_value(const struct uri_attr *a, const char *expected)
{
    return err_set(ORIGIN_API, CKR_ARGUMENTS_BAD, "PKCS#11 URI: bad '%s' (expected %s)", a->name,
                   expected);
}

/* Store a decoded value; takes ownership of buf on success. */
static CK_RV store(struct p11uri *u, const struct uri_attr *a, uint8_t *buf, size_t len)
{
    const char *s = (const char *)buf;
    switch (a->kind) {
    case VK_TEXT:
        if (memchr(buf, '\0', len))
            return err_set(ORIGIN_API, CKR_ARGUMENTS_BAD, "PKCS#11 URI: NUL byte in '%s'", a->name);
        *(char **)((char *)u + a->off) = (char *)buf;
        return CKR_OK;
    case VK_ID:
        u->id = buf;
        u->id_len = len;
        u->has_id = true;
        return CKR_OK;
    case VK_VERSION: {
        const char *dot = memchr(s, '.', len);
        size_t mlen = dot ? (size_t)(dot - s) : len;
        unsigned long major, minor = 0;
        if (!parse_decimal(s, mlen, 255, &major) ||
            (dot && !parse_decimal(dot + 1, len - mlen - 1, 255, &minor)))
            return bad_value(a, "M or M.N, each 0-255");
        u->library_version.major = (CK_BYTE)major;
        u->library_version.minor = (CK_BYTE)minor;
        u->has_library_version = true;
        break;
    }
    case VK_SLOT_ID: {
        unsigned long id;
        if (!parse_decimal(s, len, ULONG_MAX, &id))
            return bad_value(a, "a decimal number");
        u->slot_id = id;
        u->has_slot_id = true;
        break;
    }
    case VK_TYPE:
        if (memchr(buf, '\0', len) || !uri_type_from_name(s, &u->type))
            return bad_value(a, "public, private, cert, secret-key or data");
        u->has_type = true;
        break;
    }
    free(buf); /* the value lives on in parsed form */
    return CKR_OK;
}

/* Unknown path attribute names are echoed only when they look like names: never anything that could
 * be a mistyped secret. */
static bool printable_name(const char *s, size_t n)
{
    if (n == 0 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_'))
            return false;
    }
    return true;
}

static CK_RV parse_attr(struct p11uri *u, const char *s, size_t n, bool query, uint32_t *seen)
{
    const char *where = query ? "query" : "path";
    const char *eq = memchr(s, '=', n);
    if (!eq)
        return err_set(ORIGIN_API, CKR_ARGUMENTS_BAD,
                       "PKCS#11 URI: a %s attribute has no '=' (expected name=value)", where);
    size_t nlen = (size_t)(eq - s);
    if (nlen >= 2 && s[0] == 'x' && s[1] == '-')
        return CKR_OK; /* vendor attributes: RFC 7512 lets us ignore them */

    size_t idx = ARRAY_SIZE(uri_attrs);
    for (size_t i = 0; i < ARRAY_SIZE(uri_attrs); i++)
        if (strlen(uri_attrs[i].name) == nlen && memcmp(uri_attrs[i].name, s, nlen) == 0)
            idx = i;
    if (idx == ARRAY_SIZE(uri_attrs)) {
        if (query) /* where PINs live: a mistyped name could be one */
            return err_set(ORIGIN_API, CKR_ARGUMENTS_BAD,
                           "PKCS#11 URI: unknown query attribute (expected pin-value, "
                           "pin-source, module-name, module-path or x-...)");
        if (printable_name(s, nlen))
            return err_set(ORIGIN_API, CKR_ARGUMENTS_BAD,
                           "PKCS#11 URI: unknown %s attribute '%.*s'", where, (int)nlen, s);
        return err_set(ORIGIN_API, CKR_ARGUMENTS_BAD, "PKCS#11 URI: unknown %s attribute", where);
    }
    const struct uri_attr *a = &uri_attrs[idx];
    if (a->query != query)
        return err_set(ORIGIN_API, CKR_ARGUMENTS_BAD,
                       "PKCS#11 URI: '%s' belongs in the %s, not the %s", a->name,
                       a->query ? "query (after '?')" : "path (before '?')", where);
    if (*seen & (1u << idx))
        return err_set(ORIGIN_API, CKR_ARGUMENTS_BAD, "PKCS#11 URI: duplicate attribute '%s'",
                       a->name);
    *seen |= 1u << idx;

    uint8_t *buf = NULL;
    size_t len = 0;
    CK_RV rv = decode(a, eq + 1, n - nlen - 1, &buf, &len);
    if (rv == CKR_OK)
        rv = store(u, a, buf, len);
    if (rv != CKR_OK && buf) {
        sea_wipe(buf, len);
        free(buf);
    }
    return rv;
}

/* The ';'-separated path or the '&'-separated query. Empty components (a trailing ';') are
 * tolerated. */
static CK_RV parse_part(struct p11uri *u, const char *s, size_t n, char sep, bool query,
                        uint32_t *seen)
{
    CK_RV rv = CKR_OK;
    while (n > 0 && rv == CKR_OK) {
        const char *end = memchr(s, sep, n);
        size_t len = end ? (size_t)(end - s) : n;
        if (len)
            rv = parse_attr(u, s, len, query, seen);
        s += len;
        n -= len;
        if (n) { /* skip the separator */
            s++;
            n--;
        }
    }
    return rv;
}

CK_RV uri_parse(const char *s, struct p11uri **out)
{
    CK_RV rv = CKR_OK;
    struct p11uri *u = NULL;
    uint32_t seen = 0;
    if (!s || !out) {
        rv = err_set(ORIGIN_API, CKR_ARGUMENTS_BAD, "uri_parse: NULL argument");
        goto out;
    }
    if (strncasecmp(s, SCHEME, SCHEME_LEN) != 0) {
        rv = err_set(ORIGIN_API, CKR_ARGUMENTS_BAD, "not a PKCS#11 URI (expected pkcs11:...)");
        goto out;
    }
    u = calloc(1, sizeof(*u));
    if (!u) {
        rv = err_set(ORIGIN_API, CKR_HOST_MEMORY, "out of memory parsing a PKCS#11 URI");
        goto out;
    }
    const char *path = s + SCHEME_LEN;
    const char *q = strchr(path, '?');
    rv = parse_part(u, path, q ? (size_t)(q - path) : strlen(path), ';', false, &seen);
    if (rv == CKR_OK && q)
        rv = parse_part(u, q + 1, strlen(q + 1), '&', true, &seen);
out:
    if (rv != CKR_OK) {
        uri_free(u);
        return rv;
    }
    *out = u;
    return CKR_OK;
}

/* want against a space-padded CK_TOKEN_INFO field; trailing spaces of want are padding too. */
static bool field_matches(const char *want, const CK_UTF8CHAR *field, size_t n)
{
    char have[64 + 1];
    if (!want)
        return true;
    sea_unpad(have, field, n);
    size_t wl = strlen(want);
    while (wl > 0 && want[wl - 1] == ' ')
        wl--;
    return wl == strlen(have) && memcmp(want, have, wl) == 0;
}

bool uri_match_token(const struct p11uri *u, const CK_TOKEN_INFO *ti)
{
    if (!u || !ti)
        return false;
    return field_matches(u->token, ti->label, sizeof(ti->label)) &&
           field_matches(u->manufacturer, ti->manufacturerID, sizeof(ti->manufacturerID)) &&
           field_matches(u->serial, ti->serialNumber, sizeof(ti->serialNumber)) &&
           field_matches(u->model, ti->model, sizeof(ti->model));
}

CK_ULONG uri_object_template(const struct p11uri *u, CK_ATTRIBUTE tmpl[3], CK_OBJECT_CLASS *cls)
{
    CK_ULONG n = 0;
    if (!u || !tmpl || !cls)
        return 0;
    if (u->has_type) {
        *cls = u->type;
        tmpl[n++] = (CK_ATTRIBUTE){.type = CKA_CLASS, .pValue = cls, .ulValueLen = sizeof(*cls)};
    }
    if (u->object)
        tmpl[n++] =
            (CK_ATTRIBUTE){.type = CKA_LABEL, .pValue = u->object, .ulValueLen = strlen(u->object)};
    if (u->has_id)
        tmpl[n++] = (CK_ATTRIBUTE){.type = CKA_ID, .pValue = u->id, .ulValueLen = u->id_len};
    return n;
}

static bool unreserved(uint8_t ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

/* Append ";name=value" (no ';' first), percent-encoding; every_byte encodes unreserved too. */
static char *put(char *p, bool first, const char *name, const uint8_t *v, size_t n, bool every_byte)
{
    static const char hex[] = "0123456789ABCDEF";
    if (!first)
        *p++ = ';';
    size_t nl = strlen(name);
    memcpy(p, name, nl);
    p += nl;
    *p++ = '=';
    for (size_t i = 0; i < n; i++) {
        if (!every_byte && unreserved(v[i])) {
            *p++ = (char)v[i];
        } else {
            *p++ = '%';
            *p++ = hex[v[i] >> 4];
            *p++ = hex[v[i] & 0xf];
        }
    }
    return p;
}

char *uri_format(const char *token, const char *serial, const char *label, const uint8_t *id,
                 size_t id_len, bool has_type, CK_OBJECT_CLASS type)
{
    const char *tname = NULL;
    if (has_type && !(tname = uri_type_name(type))) {
        err_set(ORIGIN_API, CKR_ARGUMENTS_BAD, "uri_format: no URI type for object class 0x%lx",
                (unsigned long)type);
        return NULL;
    }
    if (!id)
        id_len = 0;
    size_t tl = token ? strlen(token) : 0, sl = serial ? strlen(serial) : 0;
    size_t ll = label ? strlen(label) : 0;
    /* Each byte takes at most 3 characters; refuse sizes where that could overflow. */
    if (tl > SIZE_MAX / 16 || sl > SIZE_MAX / 16 || ll > SIZE_MAX / 16 || id_len > SIZE_MAX / 16) {
        err_set(ORIGIN_API, CKR_ARGUMENTS_BAD, "uri_format: value too long");
        return NULL;
    }
    size_t cap = SCHEME_LEN + 3 * (tl + sl + ll + id_len) + 64;
    char *uri = malloc(cap);
    if (!uri) {
        err_set(ORIGIN_API, CKR_HOST_MEMORY, "out of memory formatting a PKCS#11 URI");
        return NULL;
    }
    char *p = uri;
    memcpy(p, SCHEME, SCHEME_LEN);
    p += SCHEME_LEN;
    bool first = true;
    if (token) {
        p = put(p, first, "token", (const uint8_t *)token, tl, false);
        first = false;
    }
    if (serial) {
        p = put(p, first, "serial", (const uint8_t *)serial, sl, false);
        first = false;
    }
    if (label) {
        p = put(p, first, "object", (const uint8_t *)label, ll, false);
        first = false;
    }
    if (id_len) {
        p = put(p, first, "id", id, id_len, true);
        first = false;
    }
    if (tname)
        p = put(p, first, "type", (const uint8_t *)tname, strlen(tname), false);
    *p = '\0';
    return uri;
}

/* Identity for the certificate-based security frameworks (TS-0003 10.1): the subjectAltName
 * forms of the AE-ID, CSE-ID and Node-ID, PKCS#10 CSRs signed inside the SE, and the import of
 * the issued certificate next to its key. The choices are explained in doc/identity-csr.md.
 *
 * OpenSSL only encodes and decodes ASN.1 here: no EVP_PKEY is ever made, because building one
 * (even of a public key) creates an EC_KEY with the method of the ENGINE the host made its
 * default, and libp11's routes back into PKCS#11 (see provider/crypto.c). The public key goes
 * into the request as bytes (X509_PUBKEY_set0_param), the signature comes from the SE through
 * sea_sign, and a certificate is read with a small DER walker rather than d2i_X509. */
#include <stdarg.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "error.h"
/* The API declared in sea.h is the library's only export (the rest is hidden). */
#pragma GCC visibility push(default)
#include "sea/sea.h"
#pragma GCC visibility pop
#include "api_int.h"
#include "core.h"

#define ID_MAX   512   /* the longest identifier accepted (bytes) */
#define SAN_MAX  600   /* an identifier as a GeneralName: a scheme may be added */
#define CN_MAX   64    /* ub-common-name (RFC 5280) */
#define CERT_MAX 65536 /* the largest certificate (PEM or DER) sea_cert_import takes */
#define SPKI_MAX 160   /* an EC P-384 SubjectPublicKeyInfo is 120 bytes */

/* ---- errors ---- */

static sea_rv fail(CK_RV ck, sea_rv rv, const char *fmt, ...) SEA_PRINTF(3, 4);
static sea_rv fail(CK_RV ck, sea_rv rv, const char *fmt, ...)
{
    char msg[240];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    err_set(ORIGIN_API, ck, "%s", msg);
    return rv;
}

#define BAD(...) fail(CKR_ARGUMENTS_BAD, SEA_ERR_ARGS, __VA_ARGS__)

/* An OpenSSL encoding step failed: in practice, memory. Its error queue is left clean. */
static sea_rv ossl_fail(const char *what)
{
    ERR_clear_error();
    err_set(ORIGIN_CORE, CKR_HOST_MEMORY, "%s failed (out of memory)", what);
    return SEA_ERR_NO_MEMORY;
}

/* ---- characters (ASCII only: no locale) ---- */

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
    return is_alpha(c) || is_digit(c);
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 3986 2.3 */
static bool is_unreserved(char c)
{
    return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 3986 2.2 */
static bool is_subdelim(char c)
{
    return c != '\0' && strchr("!$&'()*+,;=", c) != NULL;
}

/* ---- identifiers (TS-0001 7.2, TS-0004 6.3.3) ---- */

/* Why s[0..n) is not an FQDN of LDH labels (RFC 1035, RFC 1123), or NULL: at least two labels
 * of 1 to 63 letters, digits and hyphens, none starting or ending with a hyphen, 253 bytes at
 * most, no trailing dot, no wildcard (TS-0003 10.1.1.5 to 10.1.1.8). */
static const char *fqdn_problem(const char *s, size_t n)
{
    size_t labels = 0, len = 0;
    if (n == 0)
        return "is empty";
    if (n > 253)
        return "is longer than 253 bytes";
    for (size_t i = 0; i <= n; i++) {
        char c = i < n ? s[i] : '.';
        if (c == '.') {
            if (len == 0)
                return "has an empty label";
            if (s[i - 1] == '-')
                return "has a label ending with '-'";
            labels++;
            len = 0;
        } else if (c == '*') {
            return "has a wildcard (certificates of TS-0003 10.1.1 have none)";
        } else if (!is_alnum(c) && c != '-') {
            return "has a character other than letters, digits, '-' and '.'";
        } else if (len == 0 && c == '-') {
            return "has a label starting with '-'";
        } else if (++len > 63) {
            return "has a label longer than 63 bytes";
        }
    }
    return labels < 2 ? "is not fully qualified (a single label)" : NULL;
}

/* A non-empty path segment of RFC 3986 unreserved characters (TS-0001 Table 7.2-1). */
static bool unreserved_segment(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_unreserved(s[i]))
            return false;
    return true;
}

static const char AE_FORMS[] = "//SP-FQDN/CSE-ID/C... or //SP-FQDN/S...";

/* The full URI representation of an Absolute-AE-ID: [scheme:]//{M2M-SP-ID FQDN}{SP-relative
 * AE-ID}, where the SP-relative AE-ID is /{SP-relative CSE-ID}/{stem starting with C} or
 * /{stem starting with S}. Without a scheme, "https:" is put in front (RFC 5280 4.2.1.6
 * wants a scheme; the CA's name constraints need the host). */
static sea_rv ae_name(const char *v, size_t n, char *out)
{
    const char *p = v;
    size_t slen = 0;
    if (!(n >= 2 && v[0] == '/' && v[1] == '/')) {
        while (slen < n && v[slen] != ':' && v[slen] != '/')
            slen++;
        if (slen == n || v[slen] != ':' || slen + 3 > n || v[slen + 1] != '/' || v[slen + 2] != '/')
            return BAD("the AE-ID must be an Absolute-AE-ID (%s, TS-0001 Table 7.2-1): an "
                       "SP-relative AE-ID or an AE-ID-Stem is not globally unique",
                       AE_FORMS);
        if (!is_alpha(v[0]))
            return BAD("the scheme of the AE-ID's URI must start with a letter");
        for (size_t i = 1; i < slen; i++)
            if (!is_alnum(v[i]) && v[i] != '+' && v[i] != '-' && v[i] != '.')
                return BAD("the scheme of the AE-ID's URI has a character other than "
                           "letters, digits, '+', '-' and '.'");
        p = v + slen + 1;
    }
    const char *end = v + n, *host = p + 2, *path = memchr(host, '/', (size_t)(end - host));
    if (!path)
        return BAD("the AE-ID has no path after its M2M-SP-ID (%s)", AE_FORMS);
    const char *why = fqdn_problem(host, (size_t)(path - host));
    if (why)
        return BAD("the M2M-SP-ID (host) of the AE-ID %s", why);
    const char *seg1 = path + 1, *slash = memchr(seg1, '/', (size_t)(end - seg1));
    const char *stem = slash ? slash + 1 : seg1;
    size_t stem_len = (size_t)(end - stem);
    if (slash && !unreserved_segment(seg1, (size_t)(slash - seg1)))
        return BAD("the SP-relative CSE-ID in the AE-ID is empty or has characters other than "
                   "RFC 3986 unreserved ones");
    if (!unreserved_segment(stem, stem_len))
        return BAD("the AE-ID-Stem is empty or has characters other than RFC 3986 unreserved "
                   "ones (or the AE-ID has more than /CSE-ID/stem)");
    if (stem_len < 2 || stem[0] != (slash ? 'C' : 'S'))
        return BAD("the AE-ID's path must be /CSE-ID/C... (a stem the registrar CSE assigned) "
                   "or /S... (one the M2M SP assigned), TS-0001 Table 7.2-1");
    snprintf(out, SAN_MAX, "%s%.*s", slen ? "" : "https:", (int)n, v);
    return SEA_OK;
}

/* A URN (RFC 8141: "urn:" NID ":" NSS) or a dotted OID, which becomes urn:oid: (RFC 3061). */
static sea_rv node_name(const char *v, size_t n, char *out)
{
    static const char forms[] = "a URN (urn:NID:NSS, e.g. urn:gsma:imei:90420156-025763-0) or "
                                "an OID (e.g. 0.2.481.1.100.3030.10011)";
    if (is_digit(v[0])) {
        size_t arcs = 0, i = 0;
        while (i < n) {
            size_t start = i;
            while (i < n && is_digit(v[i]))
                i++;
            if (i == start || (v[start] == '0' && i - start > 1))
                return BAD("the Node-ID is not %s: an OID arc is empty or has a leading zero",
                           forms);
            if (arcs == 0 && (i - start != 1 || v[start] > '2'))
                return BAD("the Node-ID's OID must start with 0, 1 or 2");
            arcs++;
            if (i < n && v[i++] != '.')
                return BAD("the Node-ID is not %s", forms);
            if (i == n && v[n - 1] == '.')
                return BAD("the Node-ID's OID ends with '.'");
        }
        if (arcs < 2)
            return BAD("the Node-ID's OID has fewer than two arcs");
        snprintf(out, SAN_MAX, "urn:oid:%.*s", (int)n, v);
        return SEA_OK;
    }
    if (n < 4 || strncasecmp(v, "urn:", 4) != 0)
        return BAD("the Node-ID must be %s", forms);
    size_t i = 4, nid = 0;
    while (i < n && v[i] != ':') {
        if (!is_alnum(v[i]) && !(v[i] == '-' && nid > 0))
            return BAD("the NID of the Node-ID's URN has a character other than letters, "
                       "digits and '-'");
        i++;
        nid++;
    }
    if (nid < 2 || nid > 32 || v[i - 1] == '-' || i == n)
        return BAD("the Node-ID's URN needs a NID of 2 to 32 letters, digits and '-' (not "
                   "ending with '-') and an NSS (urn:NID:NSS)");
    size_t nss = ++i;
    if (nss == n || v[nss] == '/')
        return BAD("the NSS of the Node-ID's URN is empty or starts with '/'");
    for (; i < n; i++) {
        char c = v[i];
        if (c == '%') {
            if (i + 2 >= n || !is_hex(v[i + 1]) || !is_hex(v[i + 2]))
                return BAD("the Node-ID's URN has a '%%' not followed by two hex digits");
            i += 2;
        } else if (!is_unreserved(c) && !is_subdelim(c) && c != ':' && c != '@' && c != '/') {
            return BAD("the NSS of the Node-ID's URN has a character a URN does not allow "
                       "(RFC 8141; percent-encode it)");
        }
    }
    snprintf(out, SAN_MAX, "%.*s", (int)n, v);
    return SEA_OK;
}

/* The GeneralName of an identifier: its text in out[SAN_MAX] and GEN_URI or GEN_DNS. */
static sea_rv san_build(sea_san_kind kind, const char *value, char *out, int *type)
{
    if (!value)
        return BAD("the identifier is NULL");
    size_t n = strnlen(value, ID_MAX + 1);
    if (n == 0)
        return BAD("the identifier is empty");
    if (n > ID_MAX)
        return BAD("the identifier is longer than %d bytes", ID_MAX);
    switch (kind) {
    case SEA_SAN_AE_ID:
        *type = GEN_URI;
        return ae_name(value, n, out);
    case SEA_SAN_CSE_ID: {
        *type = GEN_DNS;
        if (value[0] == '/')
            return BAD("a CSE-ID certificate carries the CSE's public domain name (TS-0001 "
                       "6.5.1.1, e.g. cse1.in-cse.m2m.example.com), not the CSE-ID itself");
        const char *why = fqdn_problem(value, n);
        if (why)
            return BAD("the CSE's public domain name %s", why);
        snprintf(out, SAN_MAX, "%s", value);
        return SEA_OK;
    }
    case SEA_SAN_NODE_ID:
        *type = GEN_URI;
        return node_name(value, n, out);
    default:
        return BAD("unknown kind of identifier (SEA_SAN_AE_ID, SEA_SAN_CSE_ID or "
                   "SEA_SAN_NODE_ID)");
    }
}

sea_rv sea_san_name(sea_san_kind kind, const char *value, char *out, size_t *out_len)
{
    char name[SAN_MAX];
    int type;
    err_clear();
    if (!out_len)
        return BAD("sea_san_name: out_len is NULL");
    sea_rv r = san_build(kind, value, name, &type);
    if (r != SEA_OK)
        return r;
    const char *prefix = type == GEN_DNS ? "DNS:" : "URI:";
    /* like the other builders (sea_id_canonical): *out_len is the size with the NUL */
    size_t need = strlen(prefix) + strlen(name) + 1;
    if (!out || *out_len < need) {
        size_t have = out ? *out_len : 0;
        *out_len = need;
        return out ? fail(CKR_BUFFER_TOO_SMALL, SEA_ERR_BUFFER_TOO_SMALL,
                          "sea_san_name: the output buffer has %zu bytes; %zu are needed (NUL "
                          "included)",
                          have, need)
                   : SEA_OK;
    }
    snprintf(out, need, "%s%s", prefix, name);
    *out_len = need;
    return SEA_OK;
}

/* ---- a DER reader (definite lengths up to 16 MiB) ---- */

struct der {
    const uint8_t *p, *end;
};

/* The next TLV if its tag is `tag`: the whole TLV in [*tlv, *tlv + *tlv_len), its content in
 * *in. false (nothing consumed) on another tag or a malformed length. */
static bool der_take(struct der *d, uint8_t tag, const uint8_t **tlv, size_t *tlv_len,
                     struct der *in)
{
    const uint8_t *p = d->p;
    size_t avail = (size_t)(d->end - p), len, hdr = 2;
    if (avail < 2 || p[0] != tag)
        return false;
    if (p[1] < 0x80) {
        len = p[1];
    } else {
        size_t nb = p[1] & 0x7f;
        if (nb == 0 || nb > 3 || avail < 2 + nb || p[2] == 0)
            return false;
        len = 0;
        for (size_t i = 0; i < nb; i++)
            len = len << 8 | p[2 + i];
        if (len < 0x80)
            return false; /* not minimal */
        hdr += nb;
    }
    if (len > avail - hdr)
        return false;
    if (tlv) {
        *tlv = p;
        *tlv_len = hdr + len;
    }
    if (in)
        *in = (struct der){p + hdr, p + hdr + len};
    d->p = p + hdr + len;
    return true;
}

/* The curve of an EC SubjectPublicKeyInfo as libsea writes it (named curve, uncompressed). */
struct curve {
    sea_key_type type;
    int nid, sig_nid;
    sea_alg alg;
    size_t half;          /* bytes of r and of s */
    const uint8_t *algid; /* the DER AlgorithmIdentifier */
    size_t algid_len;
};

static const uint8_t ALGID_P256[] = {0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                                     0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
                                     0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t ALGID_P384[] = {0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d,
                                     0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};

static const struct curve CURVES[] = {
    {SEA_KEY_EC_P256, NID_X9_62_prime256v1, NID_ecdsa_with_SHA256, SEA_ALG_ECDSA_SHA256, 32,
     ALGID_P256, sizeof(ALGID_P256)},
    {SEA_KEY_EC_P384, NID_secp384r1, NID_ecdsa_with_SHA384, SEA_ALG_ECDSA_SHA384, 48, ALGID_P384,
     sizeof(ALGID_P384)},
};

/* The uncompressed point of an SPKI of curve cv; false if it is not one. */
static bool spki_point(const struct curve *cv, const uint8_t *spki, size_t len,
                       const uint8_t **point, size_t *plen)
{
    struct der d = {spki, spki + len}, body, alg, bits;
    const uint8_t *algid;
    size_t algid_len;
    if (!der_take(&d, 0x30, NULL, NULL, &body) || d.p != d.end ||
        !der_take(&body, 0x30, &algid, &algid_len, &alg) ||
        !der_take(&body, 0x03, NULL, NULL, &bits) || body.p != body.end)
        return false;
    if (algid_len != cv->algid_len || memcmp(algid, cv->algid, algid_len) != 0)
        return false;
    size_t n = (size_t)(bits.end - bits.p);
    if (n != 2 + 2 * cv->half || bits.p[0] != 0 || bits.p[1] != 0x04)
        return false;
    *point = bits.p + 1;
    *plen = n - 1;
    return true;
}

/* ---- the key ---- */

static const char *class_text(sea_class cls)
{
    switch (cls) {
    case SEA_CLASS_PRIVATE_KEY:
        return "a private key";
    case SEA_CLASS_PUBLIC_KEY:
        return "a public key";
    case SEA_CLASS_SECRET_KEY:
        return "a secret key";
    case SEA_CLASS_DATA:
        return "a data object";
    case SEA_CLASS_CERTIFICATE:
        return "a certificate";
    default:
        return "not a key";
    }
}

/* The curve and SPKI of an EC key of the SE (either half when any_half, else the private key). */
static sea_rv ec_key(sea_se *se, sea_obj key, bool any_half, sea_object_info *oi,
                     const struct curve **cv, uint8_t *spki, size_t *spki_len)
{
    sea_rv r = sea_object_info_get(se, key, oi);
    if (r != SEA_OK)
        return r;
    if (oi->cls != SEA_CLASS_PRIVATE_KEY && (!any_half || oi->cls != SEA_CLASS_PUBLIC_KEY))
        return BAD("'%s' is %s: %s", oi->label, class_text(oi->cls),
                   any_half ? "give a key of the certificate's key pair"
                            : "a CSR is signed by the key pair's private key");
    *cv = NULL;
    for (size_t i = 0; i < sizeof(CURVES) / sizeof(CURVES[0]); i++)
        if (CURVES[i].type == (sea_key_type)oi->key_type)
            *cv = &CURVES[i];
    if (!*cv)
        return fail(CKR_FUNCTION_NOT_SUPPORTED, SEA_ERR_UNSUPPORTED,
                    "'%s' is not an EC P-256 key: TS-0003 10.1.1.1 certificates have P-256 "
                    "keys (libsea also takes P-384)",
                    oi->label);
    if ((r = sea_public_key(se, key, spki, spki_len)) != SEA_OK)
        return r;
    const uint8_t *point;
    size_t plen;
    if (!spki_point(*cv, spki, *spki_len, &point, &plen))
        return fail(CKR_GENERAL_ERROR, SEA_ERR_INTERNAL,
                    "the public key of '%s' is not a named-curve uncompressed EC key", oi->label);
    return SEA_OK;
}

/* ---- CSRs ---- */

/* The request without its signature: version 0, subject CN, the key's SPKI, and the
 * extensionRequest (subjectAltName, keyUsage digitalSignature critical). */
static sea_rv build_request(X509_REQ *req, const struct curve *cv, const uint8_t *spki,
                            size_t spki_len, const char *cn, int gen_type, const char *name)
{
    X509_NAME *subject = X509_NAME_new();
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
    ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
    STACK_OF(X509_EXTENSION) *exts = NULL;
    unsigned char *pt = NULL;
    const uint8_t *point;
    size_t plen;
    sea_rv r = SEA_ERR_NO_MEMORY;
    if (!subject || !gens || !gn || !ia5 || !ku) {
        r = ossl_fail("building the CSR");
        goto out;
    }
    if (!X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_UTF8,
                                    (const unsigned char *)cn, -1, -1, 0)) {
        ERR_clear_error();
        r = BAD("the subject CN is not valid UTF-8 or has more than %d characters", CN_MAX);
        goto out;
    }
    spki_point(cv, spki, spki_len, &point, &plen); /* checked by ec_key */
    if (!(pt = OPENSSL_memdup(point, plen)) || !X509_REQ_set_version(req, 0) ||
        !X509_REQ_set_subject_name(req, subject) ||
        !X509_PUBKEY_set0_param(X509_REQ_get_X509_PUBKEY(req),
                                OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
                                OBJ_nid2obj(cv->nid), pt, (int)plen)) {
        r = ossl_fail("building the CSR");
        goto out;
    }
    pt = NULL; /* the request's now */
    if (!ASN1_STRING_set(ia5, name, (int)strlen(name))) {
        r = ossl_fail("building the subjectAltName");
        goto out;
    }
    GENERAL_NAME_set0_value(gn, gen_type, ia5);
    ia5 = NULL;
    if (!sk_GENERAL_NAME_push(gens, gn)) {
        r = ossl_fail("building the subjectAltName");
        goto out;
    }
    gn = NULL;
    if (!ASN1_BIT_STRING_set_bit(ku, 0, 1) || /* digitalSignature */
        X509V3_add1_i2d(&exts, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) != 1 ||
        X509V3_add1_i2d(&exts, NID_key_usage, ku, 1, X509V3_ADD_DEFAULT) != 1 ||
        !X509_REQ_add_extensions(req, exts)) {
        r = ossl_fail("building the CSR's extensions");
        goto out;
    }
    r = SEA_OK;
out:
    OPENSSL_free(pt);
    X509_NAME_free(subject);
    GENERAL_NAMES_free(gens);
    GENERAL_NAME_free(gn);
    ASN1_IA5STRING_free(ia5);
    ASN1_BIT_STRING_free(ku);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return r;
}

/* Set the request's signature (DER ECDSA-Sig-Value, or `len` bytes of filler for sizing). */
static bool set_signature(X509_REQ *req, const struct curve *cv, const uint8_t *der, size_t len)
{
    X509_ALGOR *alg = X509_ALGOR_new();
    ASN1_BIT_STRING *bits = ASN1_BIT_STRING_new();
    bool ok = alg && bits && X509_ALGOR_set0(alg, OBJ_nid2obj(cv->sig_nid), V_ASN1_UNDEF, NULL) &&
              ASN1_STRING_set(bits, der, (int)len);
    if (ok) {
        /* all bits used: without the flag, i2d would drop trailing zero bits of the last byte */
        bits->flags &= ~(long)0x07;
        bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
        ok = X509_REQ_set1_signature_algo(req, alg) == 1;
    }
    if (ok) {
        X509_REQ_set0_signature(req, bits);
        bits = NULL;
    }
    X509_ALGOR_free(alg);
    ASN1_BIT_STRING_free(bits);
    return ok;
}

/* raw r||s into a DER ECDSA-Sig-Value (OPENSSL_malloc'd). */
static int sig_to_der(const uint8_t *raw, size_t half, unsigned char **der)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, (int)half, NULL), *s = BN_bin2bn(raw + half, (int)half, NULL);
    int len = -1;
    if (sig && r && s && ECDSA_SIG_set0(sig, r, s)) {
        r = s = NULL;
        *der = NULL;
        len = i2d_ECDSA_SIG(sig, der);
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return len;
}

sea_rv sea_csr_create(sea_se *se, sea_obj key, const sea_csr_params *p, uint8_t *der,
                      size_t *der_len)
{
    char name[SAN_MAX];
    uint8_t spki[SPKI_MAX], raw[2 * 66], filler[2 * 66 + 8];
    size_t spki_len = sizeof(spki), raw_len = sizeof(raw);
    int gen_type;
    sea_object_info oi;
    const struct curve *cv;
    X509_REQ *req = NULL;
    unsigned char *tbs = NULL, *sig = NULL;
    sea_rv r;
    err_clear();
    if (!se)
        return BAD("sea_csr_create: the SE handle is NULL");
    if (!p || !der_len)
        return BAD("sea_csr_create: params or der_len is NULL");
    if ((r = san_build(p->san_kind, p->san_value, name, &gen_type)) != SEA_OK)
        return r;
    const char *cn = p->subject_cn ? p->subject_cn : p->san_value;
    size_t cn_len = strnlen(cn, CN_MAX + 1);
    if (cn_len == 0 || cn_len > CN_MAX)
        return BAD(p->subject_cn ? "the subject CN must have 1 to %d bytes"
                                 : "the identifier is longer than the %d bytes of a commonName: "
                                   "give the subject CN",
                   CN_MAX);
    for (size_t i = 0; i < cn_len; i++)
        if ((unsigned char)cn[i] < 0x20 || cn[i] == 0x7f)
            return BAD("the subject CN has a control character");
    if ((r = ec_key(se, key, false, &oi, &cv, spki, &spki_len)) != SEA_OK)
        return r;
    if (!(req = X509_REQ_new())) {
        r = ossl_fail("building the CSR");
        goto out;
    }
    if ((r = build_request(req, cv, spki, spki_len, cn, gen_type, name)) != SEA_OK)
        goto out;
    /* The largest CSR: with a signature of the longest DER form (r and s with the top bit
     * set, so each INTEGER gets a leading zero byte). */
    size_t max_sig = 2 + 2 * (2 + 1 + cv->half);
    memset(filler, 0, sizeof(filler));
    if (!set_signature(req, cv, filler, max_sig)) {
        r = ossl_fail("building the CSR");
        goto out;
    }
    int max_len = i2d_X509_REQ(req, NULL);
    if (max_len <= 0) {
        r = ossl_fail("encoding the CSR");
        goto out;
    }
    if (!der || *der_len < (size_t)max_len) {
        size_t have = *der_len;
        *der_len = (size_t)max_len;
        r = der ? fail(CKR_BUFFER_TOO_SMALL, SEA_ERR_BUFFER_TOO_SMALL,
                       "the CSR needs up to %d bytes; the buffer has %zu", max_len, have)
                : SEA_OK;
        goto out;
    }
    int tbs_len = i2d_re_X509_REQ_tbs(req, &tbs);
    if (tbs_len <= 0) {
        r = ossl_fail("encoding the CSR");
        goto out;
    }
    if ((r = sea_sign(se, key, cv->alg, tbs, (size_t)tbs_len, raw, &raw_len)) != SEA_OK)
        goto out;
    if (raw_len != 2 * cv->half) {
        r = fail(CKR_GENERAL_ERROR, SEA_ERR_INTERNAL, "the SE returned a %zu-byte signature",
                 raw_len);
        goto out;
    }
    int sig_len = sig_to_der(raw, cv->half, &sig);
    if (sig_len <= 0 || !set_signature(req, cv, sig, (size_t)sig_len)) {
        r = ossl_fail("encoding the signature");
        goto out;
    }
    int len = i2d_X509_REQ(req, NULL);
    if (len <= 0 || len > max_len) {
        r = len <= 0 ? ossl_fail("encoding the CSR")
                     : fail(CKR_GENERAL_ERROR, SEA_ERR_INTERNAL, "the CSR outgrew its bound");
        goto out;
    }
    unsigned char *q = der;
    i2d_X509_REQ(req, &q);
    *der_len = (size_t)len;
    r = SEA_OK;
out:
    OPENSSL_free(tbs);
    OPENSSL_free(sig);
    X509_REQ_free(req);
    ERR_clear_error();
    return r;
}

/* ---- certificates ---- */

/* The parts of an X.509 certificate a PKCS#11 certificate object carries (slices of der). */
struct cert_parts {
    const uint8_t *serial, *issuer, *subject, *spki;
    size_t serial_len, issuer_len, subject_len, spki_len;
    CK_DATE start, end;
};

/* A UTCTime or GeneralizedTime (TLV content) as a CK_DATE. */
static bool cert_date(uint8_t tag, struct der *t, CK_DATE *out)
{
    size_t n = (size_t)(t->end - t->p), ylen = tag == 0x17 ? 2 : 4;
    const char *s = (const char *)t->p;
    if (n < ylen + 4)
        return false;
    for (size_t i = 0; i < ylen + 4; i++)
        if (!is_digit(s[i]))
            return false;
    if (tag == 0x17) { /* RFC 5280 4.1.2.5.1: YY >= 50 is 19YY */
        memcpy(out->year, s[0] >= '5' ? "19" : "20", 2);
        memcpy(out->year + 2, s, 2);
    } else {
        memcpy(out->year, s, 4);
    }
    memcpy(out->month, s + ylen, 2);
    memcpy(out->day, s + ylen + 2, 2);
    return true;
}

static bool take_time(struct der *d, CK_DATE *out)
{
    struct der t;
    if (der_take(d, 0x17, NULL, NULL, &t))
        return cert_date(0x17, &t, out);
    return der_take(d, 0x18, NULL, NULL, &t) && cert_date(0x18, &t, out);
}

/* Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } (RFC 5280). */
static bool cert_parse(const uint8_t *der, size_t len, struct cert_parts *c)
{
    struct der d = {der, der + len}, cert, tbs, validity, skip;
    if (!der_take(&d, 0x30, NULL, NULL, &cert) || d.p != d.end ||
        !der_take(&cert, 0x30, NULL, NULL, &tbs))
        return false;
    der_take(&tbs, 0xa0, NULL, NULL, NULL); /* [0] version, optional */
    if (!der_take(&tbs, 0x02, &c->serial, &c->serial_len, NULL) ||
        !der_take(&tbs, 0x30, NULL, NULL, NULL) || /* signature */
        !der_take(&tbs, 0x30, &c->issuer, &c->issuer_len, NULL) ||
        !der_take(&tbs, 0x30, NULL, NULL, &validity) || !take_time(&validity, &c->start) ||
        !take_time(&validity, &c->end) || validity.p != validity.end ||
        !der_take(&tbs, 0x30, &c->subject, &c->subject_len, NULL) ||
        !der_take(&tbs, 0x30, &c->spki, &c->spki_len, NULL))
        return false;
    return der_take(&cert, 0x30, NULL, NULL, NULL) && der_take(&cert, 0x03, NULL, NULL, &skip) &&
           cert.p == cert.end;
}

/* The DER of a certificate given as PEM (the first CERTIFICATE block) or DER: *out is either
 * `in` or an OPENSSL_malloc'd copy in *alloc. */
static sea_rv cert_der(const uint8_t *in, size_t len, const uint8_t **out, size_t *out_len,
                       unsigned char **alloc)
{
    size_t i = 0;
    while (i < len && (in[i] == ' ' || in[i] == '\t' || in[i] == '\r' || in[i] == '\n'))
        i++;
    *alloc = NULL;
    if (len - i < 10 || memcmp(in + i, "-----BEGIN", 10) != 0) {
        *out = in;
        *out_len = len;
        return SEA_OK;
    }
    BIO *bio = BIO_new_mem_buf(in, (int)len);
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long dlen = 0;
    sea_rv r = SEA_ERR_DATA_INVALID;
    if (!bio)
        return ossl_fail("reading the PEM");
    while (PEM_read_bio(bio, &name, &header, &data, &dlen) == 1) {
        bool found = strcmp(name, "CERTIFICATE") == 0 && dlen > 0;
        OPENSSL_free(name);
        OPENSSL_free(header);
        if (found) {
            *alloc = data;
            *out = data;
            *out_len = (size_t)dlen;
            r = SEA_OK;
            break;
        }
        OPENSSL_free(data);
    }
    BIO_free(bio);
    ERR_clear_error();
    if (r != SEA_OK)
        return fail(CKR_DATA_INVALID, SEA_ERR_DATA_INVALID,
                    "the PEM data holds no CERTIFICATE block");
    return SEA_OK;
}

/* The length of obj's CKA_ID, read from the object itself (sea_object_info reports 0 for an id
 * longer than its 64 bytes); the value into buf when buf is not NULL. (CK_ULONG)-1: unreadable. */
static CK_ULONG id_of(sea_se *se, sea_obj obj, uint8_t *buf, size_t cap)
{
    CK_SESSION_HANDLE h;
    struct core *c = api_core(se, &h);
    CK_ATTRIBUTE t = {CKA_ID, buf, buf ? (CK_ULONG)cap : 0};
    if (core_get_attrs(c, h, obj, &t, 1) != CKR_OK)
        return (CK_ULONG)-1;
    return t.ulValueLen;
}

/* Objects of a class whose CKA_ID is empty and whose public key is spki: the halves of a key
 * pair that has no CKA_ID yet (at most 8 are considered). */
static size_t idless_halves(sea_se *se, const uint8_t *spki, size_t spki_len, sea_obj *out)
{
    static const sea_class classes[] = {SEA_CLASS_PRIVATE_KEY, SEA_CLASS_PUBLIC_KEY};
    size_t n = 0;
    for (size_t k = 0; k < 2; k++) {
        sea_obj *list = NULL;
        size_t count = 0;
        if (sea_object_list(se, classes[k], &list, &count) != SEA_OK)
            continue;
        for (size_t i = 0; i < count && n < 8; i++) {
            uint8_t other[SPKI_MAX];
            size_t olen = sizeof(other);
            if (id_of(se, list[i], NULL, 0) == 0 &&
                sea_public_key(se, list[i], other, &olen) == SEA_OK && olen == spki_len &&
                memcmp(other, spki, olen) == 0)
                out[n++] = list[i];
        }
        sea_free(list);
    }
    err_clear();
    return n;
}

sea_rv sea_cert_import(sea_se *se, sea_obj key, const uint8_t *pem_or_der, size_t len,
                       const char *label, sea_obj *cert)
{
    uint8_t spki[SPKI_MAX], id[ID_MAX];
    size_t spki_len = sizeof(spki), id_len = 0, nset = 0;
    sea_obj set[8];
    sea_object_info oi;
    const struct curve *cv;
    const uint8_t *der = NULL;
    size_t der_len = 0;
    unsigned char *alloc = NULL;
    struct cert_parts parts;
    CK_SESSION_HANDLE h;
    CK_RV rv;
    sea_rv r;
    err_clear();
    if (!se)
        return BAD("sea_cert_import: the SE handle is NULL");
    if (!pem_or_der || !len)
        return BAD("sea_cert_import: the certificate is empty");
    if (len > CERT_MAX)
        return BAD("sea_cert_import: a certificate has at most %d bytes", CERT_MAX);
    if (label && (!*label || strnlen(label, 256) > 255))
        return BAD("sea_cert_import: a label has 1 to 255 bytes");
    if ((r = cert_der(pem_or_der, len, &der, &der_len, &alloc)) != SEA_OK)
        return r;
    if (!cert_parse(der, der_len, &parts)) {
        r = fail(CKR_DATA_INVALID, SEA_ERR_DATA_INVALID,
                 "the data is not a DER or PEM X.509 certificate");
        goto out;
    }
    if ((r = ec_key(se, key, true, &oi, &cv, spki, &spki_len)) != SEA_OK)
        goto out;
    if (parts.spki_len != spki_len || memcmp(parts.spki, spki, spki_len) != 0) {
        r = fail(CKR_DATA_INVALID, SEA_ERR_DATA_INVALID,
                 "the certificate is not for the key '%s': its public key is another one",
                 oi.label);
        goto out;
    }
    struct core *c = api_core(se, &h);
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE ctype = CKC_X_509;
    CK_ULONG category = CK_CERTIFICATE_CATEGORY_TOKEN_USER;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE same[] = {{CKA_CLASS, &cls, sizeof(cls)},
                           {CKA_VALUE, (void *)der, (CK_ULONG)der_len}};
    CK_OBJECT_HANDLE found;
    CK_ULONG nfound = 0;
    if ((rv = core_find_init(c, h, same, 2)) == CKR_OK) {
        rv = core_find(c, h, &found, 1, &nfound);
        core_find_final(c, h);
    }
    if (rv != CKR_OK) {
        r = api_status(rv, "searching the SE");
        goto out;
    }
    if (nfound) {
        r = fail(CKR_SEA_EXISTS, SEA_ERR_EXISTS, "the SE already holds this certificate");
        goto out;
    }
    CK_ULONG have = id_of(se, key, id, sizeof(id));
    if (have == (CK_ULONG)-1) {
        r = fail(CKR_GENERAL_ERROR, SEA_ERR_INTERNAL, "the key's CKA_ID cannot be read");
        goto out;
    }
    if (have) {
        id_len = have; /* kept whatever its length (also over sea_object_info's 64 bytes) */
    } else {
        /* CKA_ID = SHA-1 of the public point, on both halves of the key pair */
        const uint8_t *point;
        size_t plen;
        CK_MECHANISM m = {CKM_SHA_1, NULL, 0};
        CK_ULONG dlen = sizeof(id);
        spki_point(cv, spki, spki_len, &point, &plen);
        if ((rv = core_op_init(c, h, OP_DIGEST, &m, CK_INVALID_HANDLE)) == CKR_OK)
            rv = core_op_single(c, h, OP_DIGEST, point, plen, id, &dlen);
        if (rv != CKR_OK) {
            r = api_status(rv, "hashing the public key");
            goto out;
        }
        id_len = dlen;
        nset = idless_halves(se, spki, spki_len, set);
        CK_ATTRIBUTE a = {CKA_ID, id, (CK_ULONG)id_len};
        for (size_t i = 0; i < nset; i++) {
            if ((rv = core_set_attrs(c, h, set[i], &a, 1)) != CKR_OK) {
                nset = i;
                r = api_status(rv, "giving the key pair a CKA_ID");
                goto undo;
            }
        }
    }
    const char *lab = label ? label : oi.label;
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_CERTIFICATE_TYPE, &ctype, sizeof(ctype)},
        {CKA_CERTIFICATE_CATEGORY, &category, sizeof(category)},
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &no, sizeof(no)},
        {CKA_LABEL, (void *)lab, (CK_ULONG)strlen(lab)},
        {CKA_ID, id, (CK_ULONG)id_len},
        {CKA_VALUE, (void *)der, (CK_ULONG)der_len},
        {CKA_SUBJECT, (void *)parts.subject, (CK_ULONG)parts.subject_len},
        {CKA_ISSUER, (void *)parts.issuer, (CK_ULONG)parts.issuer_len},
        {CKA_SERIAL_NUMBER, (void *)parts.serial, (CK_ULONG)parts.serial_len},
        {CKA_START_DATE, &parts.start, sizeof(parts.start)},
        {CKA_END_DATE, &parts.end, sizeof(parts.end)},
    };
    CK_OBJECT_HANDLE hc;
    rv = core_create_object(c, h, t, (CK_ULONG)(sizeof(t) / sizeof(t[0])), 0, &hc);
    if (rv != CKR_OK) {
        r = api_status(rv, "storing the certificate");
        goto undo;
    }
    if (cert)
        *cert = hc;
    r = SEA_OK;
    goto out;
undo:
    /* all or nothing: the key pair gets its empty CKA_ID back */
    for (size_t i = 0; i < nset; i++) {
        CK_ATTRIBUTE a = {CKA_ID, NULL, 0};
        core_set_attrs(c, h, set[i], &a, 1);
    }
out:
    OPENSSL_free(alloc);
    return r;
}

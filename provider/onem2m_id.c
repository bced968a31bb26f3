/* oneM2M identifiers (TS-0003 10.1.2, 10.3.4, 10.3.5, 10.4, 10.5, 10.6): validators, canonical
 * forms and builders of KpsaID, KmID, KeID, the MAF key identifier, Credential-IDs and RFC 6920
 * raw public key identifiers (the sea_id_* functions of sea.h). Everything is ASCII and bounded
 * by ID_MAX; the checks say what is wrong and at which byte. Decisions: doc/onem2m-identifiers.md.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "crypto.h"
#include "error.h"
#include "onem2m_id.h"
#pragma GCC visibility push(default)
#include "sea/sea.h"
#pragma GCC visibility pop

_Static_assert(ID_MAX == SEA_ID_MAX, "onem2m_id.h and sea.h disagree on the identifier limit");

#define FQDN_MAX  253 /* RFC 1035 presentation form without the trailing dot */
#define LABEL_MAX 63
#define HEXID_MAX 64 /* bytes of a hexBinary identifier part */

/* ---- character classes (ASCII, independent of the locale) ---- */

static bool is_alpha(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_digit(unsigned char ch)
{
    return ch >= '0' && ch <= '9';
}

static bool is_alnum(unsigned char ch)
{
    return is_alpha(ch) || is_digit(ch);
}

static int hex_val(unsigned char ch)
{
    if (is_digit(ch))
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static char lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/* sec:relKeyID: letters, digits, '.', '_', '-' (TS-0003 12.2). */
static bool is_rel(unsigned char ch)
{
    return is_alnum(ch) || ch == '.' || ch == '_' || ch == '-';
}

static bool is_b64url(unsigned char ch)
{
    return is_alnum(ch) || ch == '-' || ch == '_';
}

/* ---- reasons ----
 * Checks fill a `struct why` (a message and the offset it concerns, relative to the whole
 * identifier) and return false; the entry point turns it into the thread's error. */

struct why {
    char msg[200];
};

static bool fail(struct why *w, const char *fmt, ...) SEA_PRINTF(2, 3);
static bool fail(struct why *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->msg, sizeof(w->msg), fmt, ap);
    va_end(ap);
    return false;
}

/* How a byte is shown in a message: never the byte itself unless it is printable. */
static const char *show(unsigned char ch, char buf[16])
{
    if (ch == 0)
        snprintf(buf, 16, "a NUL byte");
    else if (ch >= 0x80)
        snprintf(buf, 16, "byte 0x%02x", ch);
    else if (ch < 0x20 || ch == 0x7f)
        snprintf(buf, 16, "control 0x%02x", ch);
    else if (ch == ' ')
        snprintf(buf, 16, "a space");
    else
        snprintf(buf, 16, "'%c'", ch);
    return buf;
}

static const char *kind_name(int kind)
{
    switch (kind) {
    case SEA_ID_FQDN:
        return "FQDN";
    case SEA_ID_KPSA:
        return "KpsaID";
    case SEA_ID_KM:
        return "KmID";
    case SEA_ID_KE:
        return "KeID";
    case SEA_ID_MAF_KEY:
        return "MAF key identifier";
    case SEA_ID_CREDENTIAL:
        return "Credential-ID";
    case SEA_ID_NI:
        return "ni URI";
    default:
        return NULL;
    }
}

/* Length, and printable ASCII without spaces: what every identifier is made of. */
static bool check_text(const char *s, size_t len, struct why *w)
{
    char b[16];
    if (len == 0)
        return fail(w, "is empty");
    if (len > ID_MAX)
        return fail(w, "is %zu bytes long; identifiers have at most %d bytes", len, ID_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= 0x20 || ch >= 0x7f)
            return fail(w, "byte %zu is %s: identifiers are printable ASCII without spaces%s", i,
                        show(ch, b),
                        ch >= 0x80 ? " (an internationalised domain name goes in its xn-- form)"
                                   : "");
    }
    return true;
}

/* ---- the parts ---- */

/* An FQDN at s[0..len) (byte offset off in the identifier), written lower-cased to out. */
static bool check_fqdn(const char *s, size_t len, size_t off, char *out, struct why *w)
{
    char b[16];
    if (len == 0)
        return fail(w, "the FQDN (byte %zu on) is empty", off);
    if (s[len - 1] == '.')
        return fail(w, "the FQDN ends with '.' (byte %zu): write it without the root's dot",
                    off + len - 1);
    if (len > FQDN_MAX)
        return fail(w, "the FQDN has %zu bytes; DNS allows %d", len, FQDN_MAX);
    size_t start = 0;
    bool all_digits = true;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            size_t l = i - start;
            if (l == 0)
                return fail(w, "the FQDN has an empty label at byte %zu", off + i);
            if (l > LABEL_MAX)
                return fail(w, "the FQDN label at byte %zu has %zu characters; DNS allows %d",
                            off + start, l, LABEL_MAX);
            if (s[start] == '-' || s[i - 1] == '-')
                return fail(w, "the FQDN label at byte %zu %s with '-'", off + start,
                            s[start] == '-' ? "starts" : "ends");
            if (i == len && all_digits)
                return fail(w,
                            "the FQDN's last label (byte %zu) is all digits: an IP address "
                            "is not an FQDN",
                            off + start);
            start = i + 1;
            all_digits = true;
            if (i < len)
                out[i] = '.';
            continue;
        }
        unsigned char ch = (unsigned char)s[i];
        if (!is_alnum(ch) && ch != '-')
            return fail(w, "byte %zu is %s: FQDN labels take letters, digits and '-'", off + i,
                        show(ch, b));
        all_digits &= is_digit(ch);
        out[i] = lower((char)ch);
    }
    return true;
}

/* A relative part (sec:relKeyID) at s[0..len), copied to out (lower-cased if asked). */
static bool check_rel(const char *s, size_t len, bool to_lower, char *out, struct why *w)
{
    char b[16];
    if (len == 0)
        return fail(w, "the relative part before '@' is empty");
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!is_rel(ch))
            return fail(w,
                        "byte %zu is %s: the relative part takes letters, digits, '.', '_' "
                        "and '-'",
                        i, show(ch, b));
        out[i] = to_lower ? lower((char)ch) : (char)ch;
    }
    return true;
}

/* hexBinary at s[0..len): an even number of hex digits, 1..HEXID_MAX bytes; lower-cased. */
static bool check_hex(const char *s, size_t len, char *out, struct why *w)
{
    char b[16];
    if (len == 0)
        return fail(w, "the hexBinary part before '@' is empty");
    for (size_t i = 0; i < len; i++) {
        if (hex_val((unsigned char)s[i]) < 0)
            return fail(w, "byte %zu is %s: hexBinary takes 0-9, a-f and A-F", i,
                        show((unsigned char)s[i], b));
        out[i] = lower(s[i]);
    }
    if (len % 2)
        return fail(w, "the hexBinary part has an odd number of digits (%zu)", len);
    if (len / 2 > HEXID_MAX)
        return fail(w, "the hexBinary part has %zu bytes; at most %d", len / 2, HEXID_MAX);
    return true;
}

/* The one '@' of relative@FQDN; its offset in *at. */
static bool split_at(const char *s, size_t len, size_t *at, struct why *w)
{
    const char *p = memchr(s, '@', len);
    if (!p)
        return fail(w, "has no '@' (the form is <relative part>@<FQDN>)");
    *at = (size_t)(p - s);
    const char *q = memchr(p + 1, '@', len - *at - 1);
    if (q)
        return fail(w, "has a second '@' at byte %zu", (size_t)(q - s));
    return true;
}

/* ---- ni URIs (RFC 6920) ---- */

static const struct {
    const char *name;
    sea_ni_alg alg;
    size_t bytes;
} ni_suites[] = {
    {"sha-256", SEA_NI_SHA256, 32},
    {"sha-256-128", SEA_NI_SHA256_128, 16},
    {"sha-256-120", SEA_NI_SHA256_120, 15},
};

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t b64url_len(size_t n)
{
    return (n * 8 + 5) / 6;
}

static void b64url_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = B64URL[(acc >> bits) & 63];
        }
    }
    if (bits)
        out[o++] = B64URL[(acc << (6 - bits)) & 63];
    out[o] = '\0';
}

static int b64url_val(unsigned char ch)
{
    const char *p = ch ? strchr(B64URL, ch) : NULL;
    return p ? (int)(p - B64URL) : -1;
}

/* Decode exactly n bytes from len characters; the unused low bits of the last character must
 * be zero (the canonical encoding, so that one digest has one name). */
static bool b64url_decode(const char *s, size_t len, uint8_t *out, size_t n, size_t off,
                          struct why *w)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 6) | (uint32_t)b64url_val((unsigned char)s[i]);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (o != n || (acc & ((1u << bits) - 1)) != 0)
        return fail(w, "the digest (byte %zu on) is not the canonical base64url of %zu bytes", off,
                    n);
    return true;
}

/* An ni URI at s[0..len) → canonical form in out, suite and digest (if wanted). */
static bool check_ni(const char *s, size_t len, char *out, size_t *outlen, sea_ni_alg *alg,
                     uint8_t *digest, size_t *dlen, struct why *w)
{
    char b[16];
    if (len < 3 || lower(s[0]) != 'n' || lower(s[1]) != 'i' || s[2] != ':')
        return fail(w, "does not start with \"ni:\"");
    if (len < 6 || s[3] != '/' || s[4] != '/')
        return fail(w, "does not start with \"ni://\"");
    if (s[5] != '/')
        return fail(w, "has an authority (byte 5): the identifier is written \"ni:///<alg>;...\"");
    const char *semi = memchr(s + 6, ';', len - 6);
    if (!semi)
        return fail(w, "has no ';' between the hash algorithm and the digest");
    size_t alen = (size_t)(semi - s - 6), voff = (size_t)(semi - s) + 1;
    size_t k = 0;
    for (; k < ARRAY_SIZE(ni_suites); k++) {
        const char *n = ni_suites[k].name;
        if (strlen(n) != alen)
            continue;
        size_t i = 0;
        while (i < alen && lower(s[6 + i]) == n[i])
            i++;
        if (i == alen)
            break;
    }
    if (k == ARRAY_SIZE(ni_suites))
        return fail(w,
                    "hash algorithm \"%.*s\" is not one TS-0003 10.1.2 allows (sha-256, "
                    "sha-256-128, sha-256-120)",
                    (int)(alen < 40 ? alen : 40), s + 6);
    for (size_t i = voff; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '=')
            return fail(w, "byte %zu is '=': RFC 6920 digests have no base64 padding", i);
        if (ch == '?')
            return fail(w, "byte %zu starts a query: not used in oneM2M identifiers", i);
        if (!is_b64url(ch))
            return fail(w, "byte %zu is %s: the digest is base64url (letters, digits, '-', '_')", i,
                        show(ch, b));
    }
    size_t want = b64url_len(ni_suites[k].bytes), got = len - voff;
    if (got != want)
        return fail(w, "the %s digest has %zu characters; it must have %zu", ni_suites[k].name, got,
                    want);
    uint8_t d[32];
    if (!b64url_decode(s + voff, got, d, ni_suites[k].bytes, voff, w))
        return false;
    if (out) {
        /* as long as the input: out has room for len + 1 bytes */
        *outlen =
            (size_t)snprintf(out, len + 1, "ni:///%s;%.*s", ni_suites[k].name, (int)got, s + voff);
    }
    if (alg)
        *alg = ni_suites[k].alg;
    if (digest)
        memcpy(digest, d, ni_suites[k].bytes);
    if (dlen)
        *dlen = ni_suites[k].bytes;
    return true;
}

/* ---- Credential-IDs ---- */

static bool cred_type_known(unsigned t)
{
    return (t >= 10 && t <= 16) || (t >= 30 && t <= 34) || (t >= 41 && t <= 45) ||
           (t >= 51 && t <= 55);
}

static bool cred_is_raw_key(unsigned t)
{
    return t == 30 || t == 41 || t == 51;
}

/* The value of a Credential-ID of type t at s[0..len) (offset off) → canonical in out. */
static bool check_cred_value(unsigned t, const char *s, size_t len, size_t off, char *out,
                             size_t *outlen, struct why *w)
{
    char b[16];
    if (len == 0)
        return fail(w, "the value after '-' is empty");
    if (cred_is_raw_key(t)) {
        struct why inner;
        if (!check_ni(s, len, out, outlen, NULL, NULL, NULL, &inner))
            return fail(w, "the value of type %u is a raw public key identifier, an ni URI: %s", t,
                        inner.msg);
        return true;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!is_rel(ch) && ch != '@')
            return fail(w, "byte %zu is %s: the value takes letters, digits, '.', '_', '-', '@'",
                        off + i, show(ch, b));
        out[i] = (char)ch;
    }
    out[len] = '\0';
    *outlen = len;
    if (t == SEA_CRED_KM) {
        /* a KmID: case-insensitive as a whole (TS-0003 10.6) */
        for (size_t i = 0; i < len; i++)
            out[i] = lower(out[i]);
    } else if (t >= 11 && t <= 16) {
        /* relative@FQDN forms: the FQDN after the last '@' is case-insensitive */
        const char *at = NULL;
        for (const char *p = s; p < s + len; p++)
            at = *p == '@' ? p : at;
        char tmp[ID_MAX + 1];
        struct why ignore;
        size_t a = at ? (size_t)(at - s) + 1 : 0;
        if (at && check_fqdn(at + 1, len - a, 0, tmp, &ignore))
            memcpy(out + a, tmp, len - a);
    }
    return true;
}

static bool check_cred(const char *s, size_t len, char *out, size_t *outlen, unsigned *type,
                       struct why *w)
{
    size_t i = 0;
    unsigned t = 0;
    for (; i < len && is_digit((unsigned char)s[i]); i++)
        t = t < 1000 ? t * 10 + (unsigned)(s[i] - '0') : t;
    if (i == 0)
        return fail(w, "does not start with a credIDTypeID (digits)");
    if (i == len || s[i] != '-')
        return fail(w, "has no '-' after the credIDTypeID (the form is <type>-<value>)");
    if (s[0] == '0' || !cred_type_known(t))
        return fail(w,
                    "credIDTypeID \"%.*s\" is not one of 10..16, 30..34, 41..45, 51..55 "
                    "(TS-0003 12.3.2.1)",
                    (int)i, s);
    size_t vlen = 0;
    char *v = out + i + 1;
    if (!check_cred_value(t, s + i + 1, len - i - 1, i + 1, v, &vlen, w))
        return false;
    memcpy(out, s, i + 1);
    *outlen = i + 1 + vlen;
    out[*outlen] = '\0';
    if (type)
        *type = t;
    return true;
}

/* ---- canonical form of any kind ---- */

static bool canonical(int kind, const char *s, size_t len, char *out, size_t *outlen, struct why *w)
{
    if (!check_text(s, len, w))
        return false;
    size_t at = 0;
    switch (kind) {
    case SEA_ID_FQDN:
        if (!check_fqdn(s, len, 0, out, w))
            return false;
        break;
    case SEA_ID_KPSA:
    case SEA_ID_KM:
        if (!split_at(s, len, &at, w) || !check_rel(s, at, kind == SEA_ID_KM, out, w) ||
            !check_fqdn(s + at + 1, len - at - 1, at + 1, out + at + 1, w))
            return false;
        out[at] = '@';
        break;
    case SEA_ID_KE:
    case SEA_ID_MAF_KEY:
        if (!split_at(s, len, &at, w) || !check_hex(s, at, out, w) ||
            !check_fqdn(s + at + 1, len - at - 1, at + 1, out + at + 1, w))
            return false;
        out[at] = '@';
        break;
    case SEA_ID_CREDENTIAL:
        return check_cred(s, len, out, outlen, NULL, w);
    case SEA_ID_NI:
        return check_ni(s, len, out, outlen, NULL, NULL, NULL, w);
    default:
        return fail(w, "unknown identifier kind");
    }
    out[len] = '\0';
    *outlen = len;
    return true;
}

CK_RV id_canonical(int kind, const char *in, size_t len, char *out, size_t *outlen)
{
    struct why w = {{0}};
    const char *name = kind_name(kind);
    if (!name)
        return err_set(ORIGIN_API, CKR_ARGUMENTS_BAD, "unknown identifier kind %d", kind);
    if (!canonical(kind, in, len, out, outlen, &w)) {
        sea_wipe(out, ID_MAX + 1);
        return err_set(ORIGIN_API, CKR_ARGUMENTS_BAD, "%s %s", name, w.msg);
    }
    return CKR_OK;
}

/* ---- the native API ---- */

static sea_rv args(const char *func, const char *what)
{
    err_set(ORIGIN_API, CKR_ARGUMENTS_BAD, "%s: %s", func, what);
    return SEA_ERR_ARGS;
}

/* Strings a caller passes to a builder: non-NULL, at most ID_MAX bytes (never read further). */
static sea_rv arg_str(const char *func, const char *name, const char *s, size_t *len)
{
    if (!s) {
        err_set(ORIGIN_API, CKR_ARGUMENTS_BAD, "%s: %s is NULL", func, name);
        return SEA_ERR_ARGS;
    }
    *len = strnlen(s, ID_MAX + 1);
    if (*len > ID_MAX) {
        err_set(ORIGIN_API, CKR_ARGUMENTS_BAD, "%s: %s is longer than %d bytes", func, name,
                ID_MAX);
        return SEA_ERR_ARGS;
    }
    return SEA_OK;
}

/* Write a string under the output convention of sea.h (size with the NUL). */
static sea_rv put_str(const char *func, const char *s, size_t n, char *out, size_t *out_len)
{
    size_t need = n + 1;
    if (!out) {
        *out_len = need;
        return SEA_OK;
    }
    if (*out_len < need) {
        size_t have = *out_len;
        *out_len = need;
        err_set(ORIGIN_API, CKR_BUFFER_TOO_SMALL,
                "%s: the output buffer has %zu bytes; %zu are needed (NUL included)", func, have,
                need);
        return SEA_ERR_BUFFER_TOO_SMALL;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    *out_len = need;
    return SEA_OK;
}

sea_rv sea_id_valid(sea_id_kind kind, const char *s, size_t len)
{
    err_clear();
    if (!s)
        return args(__func__, "the identifier is NULL");
    char buf[ID_MAX + 1];
    size_t n;
    return id_canonical((int)kind, s, len, buf, &n) == CKR_OK ? SEA_OK : SEA_ERR_ARGS;
}

sea_rv sea_id_canonical(sea_id_kind kind, const char *in, size_t in_len, char *out, size_t *out_len)
{
    err_clear();
    if (!in || !out_len)
        return args(__func__, "in or out_len is NULL");
    char buf[ID_MAX + 1];
    size_t n;
    if (id_canonical((int)kind, in, in_len, buf, &n) != CKR_OK)
        return SEA_ERR_ARGS;
    return put_str(__func__, buf, n, out, out_len);
}

sea_rv sea_id_compare(sea_id_kind kind, const char *a, const char *b, int *equal)
{
    err_clear();
    if (!a || !b || !equal)
        return args(__func__, "a, b or equal is NULL");
    *equal = 0;
    char ca[ID_MAX + 1], cb[ID_MAX + 1];
    size_t na, nb;
    if (id_canonical((int)kind, a, strnlen(a, ID_MAX + 1), ca, &na) != CKR_OK ||
        id_canonical((int)kind, b, strnlen(b, ID_MAX + 1), cb, &nb) != CKR_OK)
        return SEA_ERR_ARGS;
    *equal = na == nb && memcmp(ca, cb, na) == 0;
    return SEA_OK;
}

/* relative@fqdn of a kind, checked and made canonical. */
static sea_rv build_at(const char *func, int kind, const char *left, size_t llen, const char *fqdn,
                       char *out, size_t *out_len)
{
    size_t flen;
    sea_rv r = arg_str(func, "the FQDN", fqdn, &flen);
    if (r != SEA_OK)
        return r;
    if (llen + 1 + flen > ID_MAX)
        return args(func, "the identifier would be longer than SEA_ID_MAX bytes");
    char raw[ID_MAX + 1], buf[ID_MAX + 1];
    memcpy(raw, left, llen);
    raw[llen] = '@';
    memcpy(raw + llen + 1, fqdn, flen);
    size_t n;
    if (id_canonical(kind, raw, llen + 1 + flen, buf, &n) != CKR_OK)
        return SEA_ERR_ARGS;
    return put_str(func, buf, n, out, out_len);
}

static sea_rv build_rel(const char *func, int kind, const char *rel, const char *fqdn, char *out,
                        size_t *out_len)
{
    err_clear();
    size_t rlen;
    if (!out_len)
        return args(func, "out_len is NULL");
    sea_rv r = arg_str(func, "the relative part", rel, &rlen);
    if (r != SEA_OK)
        return r;
    /* a '@' in the relative part would be read as the separator: say so plainly */
    const char *at = memchr(rel, '@', rlen);
    if (at) {
        err_set(ORIGIN_API, CKR_ARGUMENTS_BAD,
                "%s: the relative part has '@' at byte %zu; it takes letters, digits, '.', '_' "
                "and '-'",
                func, (size_t)(at - rel));
        return SEA_ERR_ARGS;
    }
    return build_at(func, kind, rel, rlen, fqdn, out, out_len);
}

sea_rv sea_id_kpsa(const char *relative, const char *issuer_fqdn, char *out, size_t *out_len)
{
    return build_rel(__func__, SEA_ID_KPSA, relative, issuer_fqdn, out, out_len);
}

sea_rv sea_id_km(const char *relative, const char *maf_fqdn, char *out, size_t *out_len)
{
    return build_rel(__func__, SEA_ID_KM, relative, maf_fqdn, out, out_len);
}

static sea_rv build_hex(const char *func, int kind, const uint8_t *id, size_t id_len,
                        const char *fqdn, char *out, size_t *out_len)
{
    err_clear();
    if (!out_len)
        return args(func, "out_len is NULL");
    if (!id || id_len == 0 || id_len > HEXID_MAX)
        return args(func, "the identifier has 1 to 64 bytes (16 from the TLS exporter split)");
    static const char hx[] = "0123456789abcdef";
    char hex[2 * HEXID_MAX];
    for (size_t i = 0; i < id_len; i++) {
        hex[2 * i] = hx[id[i] >> 4];
        hex[2 * i + 1] = hx[id[i] & 15];
    }
    return build_at(func, kind, hex, 2 * id_len, fqdn, out, out_len);
}

sea_rv sea_id_ke(const uint8_t *relative_ke_id, size_t id_len, const char *mef_fqdn, char *out,
                 size_t *out_len)
{
    return build_hex(__func__, SEA_ID_KE, relative_ke_id, id_len, mef_fqdn, out, out_len);
}

sea_rv sea_id_maf_key(const uint8_t *kc_id, size_t id_len, const char *maf_fqdn, char *out,
                      size_t *out_len)
{
    return build_hex(__func__, SEA_ID_MAF_KEY, kc_id, id_len, maf_fqdn, out, out_len);
}

sea_rv sea_id_credential(unsigned type, const char *value, char *out, size_t *out_len)
{
    err_clear();
    size_t vlen;
    if (!out_len)
        return args(__func__, "out_len is NULL");
    sea_rv r = arg_str(__func__, "the value", value, &vlen);
    if (r != SEA_OK)
        return r;
    if (!cred_type_known(type)) {
        err_set(ORIGIN_API, CKR_ARGUMENTS_BAD,
                "%s: credIDTypeID %u is not one of 10..16, 30..34, 41..45, 51..55 "
                "(TS-0003 12.3.2.1)",
                __func__, type);
        return SEA_ERR_ARGS;
    }
    char raw[ID_MAX + 8], buf[ID_MAX + 1];
    int p = snprintf(raw, sizeof(raw), "%u-", type);
    if ((size_t)p + vlen > ID_MAX)
        return args(__func__, "the Credential-ID would be longer than SEA_ID_MAX bytes");
    memcpy(raw + p, value, vlen);
    size_t n;
    if (id_canonical(SEA_ID_CREDENTIAL, raw, (size_t)p + vlen, buf, &n) != CKR_OK)
        return SEA_ERR_ARGS;
    return put_str(__func__, buf, n, out, out_len);
}

sea_rv sea_id_credential_parse(const char *cred, size_t len, unsigned *type, char *value,
                               size_t *value_len)
{
    err_clear();
    if (!cred || !type || (value && !value_len))
        return args(__func__, "cred, type or value_len is NULL");
    char buf[ID_MAX + 1];
    size_t n;
    struct why w = {{0}};
    if (!check_text(cred, len, &w) || !check_cred(cred, len, buf, &n, type, &w)) {
        err_set(ORIGIN_API, CKR_ARGUMENTS_BAD, "Credential-ID %s", w.msg);
        return SEA_ERR_ARGS;
    }
    if (!value_len)
        return SEA_OK;
    const char *dash = memchr(buf, '-', n);
    return put_str(__func__, dash + 1, n - (size_t)(dash + 1 - buf), value, value_len);
}

/* ---- raw public key identifiers ---- */

/* One DER TLV at p[0..len): tag, header size and value length (definite, minimal lengths). */
static bool der_tlv(const uint8_t *p, size_t len, uint8_t *tag, size_t *hdr, size_t *vlen)
{
    if (len < 2)
        return false;
    *tag = p[0];
    size_t l = p[1], h = 2;
    if (l & 0x80) {
        size_t k = l & 0x7f;
        if (k == 0 || k > 3 || len < 2 + k || p[2] == 0)
            return false;
        l = 0;
        for (size_t i = 0; i < k; i++)
            l = (l << 8) | p[2 + i];
        if (l < 0x80)
            return false;
        h += k;
    }
    if (l > len - h)
        return false;
    *hdr = h;
    *vlen = l;
    return true;
}

/* SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT
 * STRING }: the outer shape only (the bytes are hashed as they are). */
static bool spki_shape(const uint8_t *p, size_t len)
{
    uint8_t tag;
    size_t h, l, h2, l2, h3, l3;
    if (!der_tlv(p, len, &tag, &h, &l) || tag != 0x30 || h + l != len)
        return false;
    const uint8_t *q = p + h;
    if (!der_tlv(q, l, &tag, &h2, &l2) || tag != 0x30)
        return false;
    const uint8_t *r = q + h2 + l2;
    size_t rest = l - h2 - l2;
    return der_tlv(r, rest, &tag, &h3, &l3) && tag == 0x03 && h3 + l3 == rest && l3 >= 1 &&
           r[h3] == 0;
}

static sea_rv sha256(const uint8_t *in, size_t len, uint8_t out[32])
{
    if (crypto_init() != CKR_OK)
        return SEA_ERR_INTERNAL;
    CK_MECHANISM m = {CKM_SHA256, NULL, 0};
    struct cop *c = NULL;
    size_t ol = 32;
    CK_RV rv = cop_new(NULL, OP_DIGEST, &m, &c);
    if (rv == CKR_OK)
        rv = cop_final(c, in, len, out, &ol);
    cop_free(c);
    crypto_fini();
    if (rv != CKR_OK || ol != 32) {
        err_default(ORIGIN_CORE, rv, "SHA-256 failed");
        return SEA_ERR_INTERNAL;
    }
    return SEA_OK;
}

sea_rv sea_id_ni(const uint8_t *spki_der, size_t der_len, sea_ni_alg alg, char *out,
                 size_t *out_len)
{
    err_clear();
    if (!spki_der || !out_len)
        return args(__func__, "spki_der or out_len is NULL");
    size_t k = 0;
    while (k < ARRAY_SIZE(ni_suites) && ni_suites[k].alg != alg)
        k++;
    if (k == ARRAY_SIZE(ni_suites))
        return args(__func__, "alg is not SEA_NI_SHA256, SEA_NI_SHA256_128 or SEA_NI_SHA256_120");
    if (der_len > SEA_MAX_ATTR_LEN || !spki_shape(spki_der, der_len))
        return args(__func__, "the input is not a DER SubjectPublicKeyInfo (SEQUENCE of an "
                              "AlgorithmIdentifier and a BIT STRING)");
    uint8_t d[32];
    sea_rv r = sha256(spki_der, der_len, d);
    if (r != SEA_OK)
        return r;
    char buf[80];
    int p = snprintf(buf, sizeof(buf), "ni:///%s;", ni_suites[k].name);
    b64url_encode(d, ni_suites[k].bytes, buf + p);
    return put_str(__func__, buf, strlen(buf), out, out_len);
}

sea_rv sea_id_ni_key(sea_se *se, sea_obj key, sea_ni_alg alg, char *out, size_t *out_len)
{
    err_clear();
    if (!se || !out_len)
        return args(__func__, "se or out_len is NULL");
    size_t len = 0;
    sea_rv r = sea_public_key(se, key, NULL, &len);
    if (r != SEA_OK)
        return r;
    uint8_t *der = malloc(len ? len : 1);
    if (!der)
        return SEA_ERR_NO_MEMORY;
    if ((r = sea_public_key(se, key, der, &len)) == SEA_OK)
        r = sea_id_ni(der, len, alg, out, out_len);
    free(der);
    return r;
}

sea_rv sea_id_ni_parse(const char *ni, size_t len, sea_ni_alg *alg, uint8_t *digest,
                       size_t *digest_len)
{
    err_clear();
    if (!ni || !alg || (digest && !digest_len))
        return args(__func__, "ni, alg or digest_len is NULL");
    struct why w = {{0}};
    uint8_t d[32];
    size_t n = 0;
    if (!check_text(ni, len, &w) || !check_ni(ni, len, NULL, NULL, alg, d, &n, &w)) {
        err_set(ORIGIN_API, CKR_ARGUMENTS_BAD, "ni URI %s", w.msg);
        return SEA_ERR_ARGS;
    }
    if (!digest_len)
        return SEA_OK;
    if (digest && *digest_len < n) {
        *digest_len = n;
        err_set(ORIGIN_API, CKR_BUFFER_TOO_SMALL, "%s: the digest needs %zu bytes", __func__, n);
        return SEA_ERR_BUFFER_TOO_SMALL;
    }
    if (digest)
        memcpy(digest, d, n);
    *digest_len = n;
    return SEA_OK;
}

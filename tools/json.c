/* sea-tool's JSON writer (RFC 8259): one indented document on a FILE, strings escaped (quotes,
 * backslash, control characters), valid UTF-8 passed through and invalid bytes replaced by
 * U+FFFD so that the output always parses; binary values as base64 or hex. Also the PEM
 * encoding of DER objects. */
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void json_init(struct json *j, FILE *f)
{
    memset(j, 0, sizeof(*j));
    j->f = f;
}

static void indent(struct json *j)
{
    fputc('\n', j->f);
    for (unsigned i = 0; i < j->depth; i++)
        fputs("  ", j->f);
}

/* The length of the valid UTF-8 sequence at s (at most n bytes), 0 if it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min, cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        min = 0x80;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        min = 0x800;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        min = 0x10000;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    /* overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8 */
    if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return len;
}

static void put_string(struct json *j, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', j->f);
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            fputc('\\', j->f);
            fputc(c, j->f);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            switch (c) {
            case '\b':
                fputs("\\b", j->f);
                break;
            case '\f':
                fputs("\\f", j->f);
                break;
            case '\n':
                fputs("\\n", j->f);
                break;
            case '\r':
                fputs("\\r", j->f);
                break;
            case '\t':
                fputs("\\t", j->f);
                break;
            default:
                fprintf(j->f, "\\u%04x", c);
            }
            i++;
        } else {
            size_t len = utf8_seq(s + i, n - i);
            if (len == 0) {
                fputs("\\ufffd", j->f);
                i++;
            } else {
                fwrite(s + i, 1, len, j->f);
                i += len;
            }
        }
    }
    fputc('"', j->f);
}

/* Separator, indentation and key of the next value. */
static void value_start(struct json *j, const char *key)
{
    if (j->depth > 0) {
        if (j->has_items[j->depth])
            fputc(',', j->f);
        j->has_items[j->depth] = true;
        indent(j);
    }
    if (key) {
        put_string(j, key, strlen(key));
        fputs(": ", j->f);
    }
}

static void container_begin(struct json *j, const char *key, char open)
{
    value_start(j, key);
    fputc(open, j->f);
    /* Deeper nesting than the tool ever writes would be a bug; stay well-formed regardless. */
    if (j->depth < JSON_MAX_DEPTH)
        j->depth++;
    j->has_items[j->depth] = false;
}

static void container_end(struct json *j, char close)
{
    bool items = j->has_items[j->depth];
    if (j->depth > 0)
        j->depth--;
    if (items)
        indent(j);
    fputc(close, j->f);
}

void json_object_begin(struct json *j, const char *key)
{
    container_begin(j, key, '{');
}

void json_object_end(struct json *j)
{
    container_end(j, '}');
}

void json_array_begin(struct json *j, const char *key)
{
    container_begin(j, key, '[');
}

void json_array_end(struct json *j)
{
    container_end(j, ']');
}

void json_string(struct json *j, const char *key, const char *s)
{
    json_string_n(j, key, s ? s : "", s ? strlen(s) : 0);
}

void json_string_n(struct json *j, const char *key, const char *s, size_t n)
{
    value_start(j, key);
    put_string(j, s, n);
}

void json_int(struct json *j, const char *key, long long v)
{
    value_start(j, key);
    fprintf(j->f, "%lld", v);
}

void json_uint(struct json *j, const char *key, unsigned long long v)
{
    value_start(j, key);
    fprintf(j->f, "%llu", v);
}

void json_bool(struct json *j, const char *key, bool v)
{
    value_start(j, key);
    fputs(v ? "true" : "false", j->f);
}

void json_null(struct json *j, const char *key)
{
    value_start(j, key);
    fputs("null", j->f);
}

void json_base64(struct json *j, const char *key, const uint8_t *p, size_t n)
{
    value_start(j, key);
    fputc('"', j->f);
    /* Streamed in groups of three bytes: no copy of possibly sensitive data is made. */
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        fputc(alphabet[(v >> 18) & 63], j->f);
        fputc(alphabet[(v >> 12) & 63], j->f);
        fputc(i + 1 < n ? alphabet[(v >> 6) & 63] : '=', j->f);
        fputc(i + 2 < n ? alphabet[v & 63] : '=', j->f);
    }
    fputc('"', j->f);
}

void json_hex(struct json *j, const char *key, const uint8_t *p, size_t n)
{
    value_start(j, key);
    fputc('"', j->f);
    for (size_t i = 0; i < n; i++)
        fprintf(j->f, "%02x", p[i]);
    fputc('"', j->f);
}

void json_finish(struct json *j)
{
    fputc('\n', j->f);
}

size_t base64_len(size_t n)
{
    return 4 * ((n + 2) / 3) + 1;
}

void base64_encode(const uint8_t *in, size_t n, char *out)
{
    char *o = out;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        *o++ = alphabet[(v >> 18) & 63];
        *o++ = alphabet[(v >> 12) & 63];
        *o++ = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
        *o++ = i + 2 < n ? alphabet[v & 63] : '=';
    }
    *o = '\0';
}

void hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool hex_decode(const char *s, uint8_t *out, size_t max, size_t *len)
{
    size_t n = 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    while (*s) {
        if ((*s == ':' || *s == ' ') && n > 0) {
            s++;
            continue;
        }
        int hi = hex_digit(s[0]);
        int lo = hi < 0 ? -1 : hex_digit(s[1]);
        if (lo < 0 || n >= max)
            return false;
        out[n++] = (uint8_t)(hi << 4 | lo);
        s += 2;
    }
    *len = n;
    return n > 0;
}

/* PEM with 64-column lines (RFC 7468) of a DER object; malloc'd, NULL without memory. */
char *pem_encode(const char *label, const uint8_t *der, size_t len)
{
    size_t b64len = base64_len(len), lab = strlen(label);
    char *b64 = malloc(b64len);
    char *pem = malloc(2 * (lab + 20) + b64len + b64len / 64 + 2);
    char *p = pem;
    if (!b64 || !pem) {
        free(b64);
        free(pem);
        return NULL;
    }
    base64_encode(der, len, b64);
    p += sprintf(p, "-----BEGIN %s-----\n", label);
    for (size_t i = 0, n = strlen(b64); i < n; i += 64)
        p += sprintf(p, "%.64s\n", b64 + i);
    sprintf(p, "-----END %s-----\n", label);
    free(b64);
    return pem;
}

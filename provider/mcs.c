/* The Mcs dispatcher (TS-0016 7.x over JSON, doc/mcs-json.md): sea_mcs_execute checks a request,
 * parses its body with json-c within the size and depth limits, hands the object under the
 * "m2m:<type>" root key to the resource type's handler and wraps the handler's answer (or the
 * error) into a response body and a TS-0004 response status code. Plus the JSON helpers the
 * handlers share (base64, timestamps, identifiers, the access decision). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <json-c/json.h>
#include <json-c/json_tokener.h>
#include <json-c/printbuf.h>

#include "common.h"
#include "error.h"
#pragma GCC visibility push(default)
#include "sea/sea.h"
#pragma GCC visibility pop
#include "mcs.h"

/* ---- the resource types ---- */

struct mcs_type {
    const char *name;       /* TS-0016 long name: the root key is "m2m:" + name */
    mcs_handler_fn handler; /* NULL: a TS-0016 type libsea does not serve yet (5001) */
    bool function;          /* a function resource: the dispatcher asks the ACP first */
};

static const struct mcs_type types[] = {
    {"SE", mcs_se, false},
    {"sensitiveDataObject", mcs_sdo, false},
    /* the functions (provider/mcs_func.c): one CREATE runs one (doc/mcs-json.md); encrypt,
     * decrypt and authenticate are TS-0016's children of <cipher> and <identity> */
    {"cipher", mcs_cipher, true},
    {"encrypt", mcs_cipher, true},
    {"decrypt", mcs_cipher, true},
    {"signature", mcs_signature, true},
    {"hash", mcs_hash, true},
    {"rand", mcs_rand, true},
    {"identity", mcs_identity, true},
    {"authenticate", mcs_identity, true},
    {"secureConnection", mcs_secure_connection, true},
    /* the SE as a connection endpoint: answered 5001 by mcs_secure_connection */
    {"connectionInstance", mcs_secure_connection, true},
    /* not specified far enough to serve */
    {"SEReboot", NULL, false},
};

static const struct mcs_type *type_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(types); i++)
        if (strcmp(types[i].name, name) == 0)
            return &types[i];
    return NULL;
}

/* ---- helpers ---- */

static sea_rv vrecord(CK_RV ck, sea_rv r, const char *fmt, va_list ap)
{
    char msg[220];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    err_set(ORIGIN_API, ck, "%s", msg);
    return r;
}

sea_rv mcs_bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sea_rv r = vrecord(CKR_ARGUMENTS_BAD, SEA_ERR_ARGS, fmt, ap);
    va_end(ap);
    return r;
}

sea_rv mcs_denied(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sea_rv r = vrecord(CKR_ACTION_PROHIBITED, SEA_ERR_DENIED, fmt, ap);
    va_end(ap);
    return r;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_val(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return -1;
}

sea_rv mcs_b64_decode(const char *s, size_t len, const char *attr, uint8_t **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    if (len % 4)
        return mcs_bad("%s: not base64 (RFC 4648 with padding: a multiple of 4 characters)", attr);
    size_t pad = 0;
    if (len && s[len - 1] == '=')
        pad = (len >= 2 && s[len - 2] == '=') ? 2 : 1;
    size_t n = len / 4 * 3 - pad;
    uint8_t *p = malloc(n ? n : 1);
    if (!p)
        return SEA_ERR_NO_MEMORY;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        bool last = i + 4 == len;
        for (int k = 0; k < 4; k++) {
            v[k] = b64_val((unsigned char)s[i + k]);
            bool is_pad = last && s[i + k] == '=' && k >= 4 - (int)pad;
            if (v[k] < 0 && !is_pad) {
                sea_wipe(p, n ? n : 1);
                free(p);
                return mcs_bad("%s: not base64 (character %zu)", attr, i + (size_t)k + 1);
            }
            if (is_pad)
                v[k] = 0;
        }
        uint32_t w =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        uint8_t b[3] = {(uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w};
        size_t take = last ? 3 - pad : 3;
        /* canonical: the bits a padded group leaves over must be zero */
        if (last && ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))) {
            sea_wipe(p, n ? n : 1);
            free(p);
            sea_wipe(b, sizeof(b));
            return mcs_bad("%s: not base64 (non-canonical padding)", attr);
        }
        memcpy(p + o, b, take);
        o += take;
        sea_wipe(b, sizeof(b));
    }
    *out = p;
    *outlen = n;
    return SEA_OK;
}

struct json_object *mcs_b64_string(const uint8_t *p, size_t n)
{
    size_t l = (n + 2) / 3 * 4;
    if (l > (size_t)INT32_MAX)
        return NULL;
    char *s = malloc(l + 1);
    if (!s)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t w = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            w |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            w |= p[i + 2];
        s[o++] = B64[(w >> 18) & 63];
        s[o++] = B64[(w >> 12) & 63];
        s[o++] = i + 1 < n ? B64[(w >> 6) & 63] : '=';
        s[o++] = i + 2 < n ? B64[w & 63] : '=';
    }
    s[o] = '\0';
    struct json_object *j = json_object_new_string_len(s, (int)o);
    sea_wipe(s, l + 1);
    free(s);
    return j;
}

struct json_object *mcs_time_string(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    char buf[32];
    if (!gmtime_r(&tt, &tm) || strftime(buf, sizeof(buf), "%Y%m%dT%H%M%S", &tm) != 15)
        snprintf(buf, sizeof(buf), "19700101T000000");
    return json_object_new_string(buf);
}

void mcs_wipe_string(struct json_object *s)
{
    if (!s || !json_object_is_type(s, json_type_string))
        return;
    int n = json_object_get_string_len(s);
    char *p = (char *)json_object_get_string(s);
    if (p && n > 0)
        sea_wipe(p, (size_t)n);
}

/* Wipe every string of a JSON tree (the request's and the response's copies of msg). */
static void wipe_tree(struct json_object *j)
{
    if (json_object_is_type(j, json_type_string)) {
        mcs_wipe_string(j);
    } else if (json_object_is_type(j, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(j); i++)
            wipe_tree(json_object_array_get_idx(j, i));
    } else if (json_object_is_type(j, json_type_object)) {
        json_object_object_foreach(j, k, v)
        {
            (void)k;
            wipe_tree(v);
        }
    }
}

bool mcs_id_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

sea_rv mcs_get_string(struct json_object *v, const char *key, const char **out)
{
    if (!json_object_is_type(v, json_type_string))
        return mcs_bad("%s: must be a string", key);
    *out = json_object_get_string(v);
    return SEA_OK;
}

#define ACP_MAX 32

sea_rv mcs_access(const sea_mcs_request *req, const char *acp, const char *creator)
{
    if (!req->acp_check) {
        /* No ACP of the CSE: the creator alone may use what it created; anyone may create. */
        if (creator && strcmp(creator, req->originator) != 0)
            return mcs_denied("originator %s is not the creator of this %s", req->originator,
                              req->resource_type);
        return SEA_OK;
    }
    char copy[512];
    const char *ids[ACP_MAX + 1];
    size_t n = 0;
    snprintf(copy, sizeof(copy), "%s", acp ? acp : "");
    for (char *save = NULL, *t = strtok_r(copy, " ", &save); t && n < ACP_MAX;
         t = strtok_r(NULL, " ", &save))
        ids[n++] = t;
    ids[n] = NULL;
    if (!req->acp_check(req->acp_arg, req->originator, req->op, req->resource_type, ids))
        return mcs_denied("the access control policy refuses originator %s this operation",
                          req->originator);
    return SEA_OK;
}

/* ---- the dispatcher ---- */

static const char *op_name(sea_mcs_op op)
{
    static const char *const n[] = {"?", "CREATE", "RETRIEVE", "UPDATE", "DELETE"};
    return (unsigned)op <= 4 ? n[op] : "?";
}

/* Parse the body: one JSON object with exactly the root key "m2m:<type>" holding an object. */
static sea_rv parse_body(const sea_mcs_request *req, struct json_object **root,
                         struct json_object **in)
{
    *root = NULL;
    *in = NULL;
    struct json_tokener *tok = json_tokener_new_ex(MCS_MAX_DEPTH);
    if (!tok)
        return SEA_ERR_NO_MEMORY;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    struct json_object *j = json_tokener_parse_ex(tok, req->content, (int)req->content_len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    mcs_tokener_free(tok);
    if (!j || e != json_tokener_success) {
        json_object_put(j);
        if (e == json_tokener_error_depth)
            return mcs_bad("the body nests deeper than %d levels", MCS_MAX_DEPTH);
        return mcs_bad("the body is not JSON: %s", e == json_tokener_continue
                                                       ? "it ends too early"
                                                       : json_tokener_error_desc(e));
    }
    for (; end < req->content_len; end++)
        if (req->content[end] == '\0' || !strchr(" \t\r\n", req->content[end])) {
            json_object_put(j);
            return mcs_bad("the body has text after its JSON value");
        }
    *root = j;
    char key[64];
    snprintf(key, sizeof(key), "m2m:%s", req->resource_type);
    if (!json_object_is_type(j, json_type_object))
        return mcs_bad("the body must be a JSON object {\"%s\": {...}}", key);
    if (json_object_object_length(j) != 1 || !json_object_object_get_ex(j, key, in)) {
        json_object_object_foreach(j, k, v)
        {
            (void)v;
            if (strcmp(k, key) != 0)
                return mcs_bad("the root key must be \"%s\", not \"%.40s\"", key, k);
        }
        return mcs_bad("the root key must be \"%s\"", key);
    }
    if (!json_object_is_type(*in, json_type_object))
        return mcs_bad("%s: must be a JSON object", key);
    return SEA_OK;
}

void mcs_tokener_free(struct json_tokener *tok)
{
    /* the tokener's printbuf holds the last string it parsed (maybe a secret msg) */
    if (tok && tok->pb && tok->pb->buf && tok->pb->size > 0)
        sea_wipe(tok->pb->buf, (size_t)tok->pb->size);
    json_tokener_free(tok);
}

/* Own serialiser (json-c's grows a printbuf by realloc, leaving unwiped copies of what it held):
 * with out NULL it counts, else it writes; the same walk both times, so the first pass sizes a
 * buffer the second fills exactly. Output as json-c's PLAIN | NOSLASHESCAPE. */
static size_t put_raw(char *out, size_t o, const char *s, size_t n)
{
    if (out)
        memcpy(out + o, s, n);
    return o + n;
}

static size_t ser_str(const unsigned char *p, size_t n, char *out, size_t o)
{
    static const char hex[] = "0123456789abcdef";
    o = put_raw(out, o, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        char e[6] = {'\\', 0, 0, 0, 0, 0};
        size_t en = 2;
        switch (p[i]) {
        case '"':
            e[1] = '"';
            break;
        case '\\':
            e[1] = '\\';
            break;
        case '\b':
            e[1] = 'b';
            break;
        case '\f':
            e[1] = 'f';
            break;
        case '\n':
            e[1] = 'n';
            break;
        case '\r':
            e[1] = 'r';
            break;
        case '\t':
            e[1] = 't';
            break;
        default:
            if (p[i] < 0x20) {
                e[1] = 'u';
                e[2] = '0';
                e[3] = '0';
                e[4] = hex[p[i] >> 4];
                e[5] = hex[p[i] & 15];
                en = 6;
            } else {
                e[0] = (char)p[i];
                en = 1;
            }
        }
        o = put_raw(out, o, e, en);
    }
    return put_raw(out, o, "\"", 1);
}

static size_t ser(struct json_object *j, char *out, size_t o)
{
    switch (json_object_get_type(j)) {
    case json_type_string:
        return ser_str((const unsigned char *)json_object_get_string(j),
                       (size_t)json_object_get_string_len(j), out, o);
    case json_type_array: {
        o = put_raw(out, o, "[", 1);
        for (size_t i = 0; i < json_object_array_length(j); i++) {
            if (i)
                o = put_raw(out, o, ",", 1);
            o = ser(json_object_array_get_idx(j, i), out, o);
        }
        return put_raw(out, o, "]", 1);
    }
    case json_type_object: {
        bool first = true;
        o = put_raw(out, o, "{", 1);
        json_object_object_foreach(j, k, v)
        {
            if (!first)
                o = put_raw(out, o, ",", 1);
            first = false;
            o = ser_str((const unsigned char *)k, strlen(k), out, o);
            o = put_raw(out, o, ":", 1);
            o = ser(v, out, o);
        }
        return put_raw(out, o, "}", 1);
    }
    default: {
        /* numbers, booleans, null: json-c's text of them (no secret in it) */
        const char *t = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
        return put_raw(out, o, t ? t : "null", strlen(t ? t : "null"));
    }
    }
}

/* Serialise j into a malloc'd string sized before it is written: no intermediate copy of the
 * text (which may hold a secret, e.g. an SDO's msg) is left behind unwiped. */
sea_rv mcs_emit(struct json_object *j, char **response)
{
    size_t n = ser(j, NULL, 0);
    char *copy = malloc(n + 1);
    if (!copy)
        return SEA_ERR_NO_MEMORY;
    ser(j, copy, 0); /* the same walk over the same tree: exactly n bytes */
    copy[n] = '\0';
    *response = copy;
    return SEA_OK;
}

static void error_body(char **response)
{
    struct json_object *j = json_object_new_object();
    const char *msg = sea_last_error(NULL);
    if (j &&
        json_object_object_add(j, "m2m:dbg", json_object_new_string(msg[0] ? msg : "error")) == 0)
        mcs_emit(j, response);
    json_object_put(j);
}

/* What the request itself must satisfy, whatever the resource type. */
static sea_rv check_request(const sea_mcs_request *req)
{
    if (req->op < SEA_MCS_CREATE || req->op > SEA_MCS_DELETE)
        return mcs_bad("op %d is not CREATE (1), RETRIEVE (2), UPDATE (3) or DELETE (4)",
                       (int)req->op);
    if (!req->resource_type)
        return mcs_bad("the resource type is NULL");
    if (!req->originator || !mcs_id_valid(req->originator))
        return mcs_bad("the originator (AE-ID or CSE-ID) is missing or not 1..255 printable "
                       "characters without spaces");
    if (!req->content && req->content_len)
        return mcs_bad("content is NULL but content_len is not 0");
    if (req->content_len > MCS_MAX_BODY)
        return mcs_bad("the body has %zu bytes, more than the limit of %d", req->content_len,
                       MCS_MAX_BODY);
    bool body = req->op == SEA_MCS_CREATE || req->op == SEA_MCS_UPDATE;
    if (body && !req->content_len)
        return mcs_bad("a %s needs a body", op_name(req->op));
    if (!body && req->content_len)
        return mcs_bad("a %s carries no body", op_name(req->op));
    return SEA_OK;
}

sea_rv sea_mcs_execute(sea_se *se, const sea_mcs_request *req, char **response, int *rsc)
{
    err_clear();
    if (response)
        *response = NULL;
    if (rsc)
        *rsc = 4000;
    if (!se || !req || !response || !rsc)
        return mcs_bad("sea_mcs_execute: se, req, response or rsc is NULL");
    if (api_ctx_stale(api_se_ctx(se))) {
        err_set(ORIGIN_API, CKR_CRYPTOKI_NOT_INITIALIZED,
                "this context was opened before a fork: call sea_open in this process");
        *rsc = sea_rv_onem2m(SEA_ERR_NOT_INITIALIZED);
        return SEA_ERR_NOT_INITIALIZED;
    }
    struct json_object *root = NULL, *in = NULL, *out = NULL;
    const struct mcs_type *t = NULL;
    int code = 0;
    sea_rv r = check_request(req);
    if (r == SEA_OK && !(t = type_find(req->resource_type)))
        r = mcs_bad("resource type '%.60s' is not a TS-0016 SE resource", req->resource_type);
    if (r == SEA_OK && !t->handler) {
        err_set(ORIGIN_API, CKR_FUNCTION_NOT_SUPPORTED,
                "the %s resource is not implemented by this libsea", t->name);
        r = SEA_ERR_UNSUPPORTED;
    }
    if (r == SEA_OK && req->content_len)
        r = parse_body(req, &root, &in);
    /* A function resource stores nothing, so its parent's policy (empty acp ids) decides, for
     * every request, before the handler touches a key. Without a callback it is allowed: the
     * SE login is then the only gate (doc/mcs-json.md "Access"). */
    if (r == SEA_OK && t->function)
        r = mcs_access(req, "", NULL);
    if (r == SEA_OK)
        r = t->handler(se, req, in, &out, &code);
    if (r == SEA_OK) {
        struct json_object *resp = NULL;
        if (out) {
            char key[64];
            snprintf(key, sizeof(key), "m2m:%s", t->name);
            resp = json_object_new_object();
            if (!resp || json_object_object_add(resp, key, out) != 0) {
                json_object_put(out);
                r = SEA_ERR_NO_MEMORY;
            }
            out = NULL;
            if (r == SEA_OK)
                r = mcs_emit(resp, response);
            wipe_tree(resp);
            json_object_put(resp);
        }
        if (r == SEA_OK) {
            *rsc = code ? code : 2000;
        }
    }
    wipe_tree(root);
    json_object_put(root);
    if (r != SEA_OK) {
        if (r == SEA_ERR_NO_MEMORY)
            err_default(ORIGIN_API, CKR_HOST_MEMORY, "out of memory");
        *rsc = code >= 4000 ? code : sea_rv_onem2m(r);
        free(*response);
        *response = NULL;
        error_body(response);
    }
    return r;
}

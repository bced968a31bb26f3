/* The <SE> resource (TS-0016 7.2, 7.3; doc/mcs-json.md): the descriptor of one SE as JSON with
 * the TS-0016 short names (sID seT seL srt hcl hal), its parser for a CSE that reads one, the
 * M2M-SE-ID parser, and the Mcs handler (RETRIEVE only: an SE is created and deleted through
 * profile management, never over Mcs). */
#include <stdio.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "common.h"
#include "error.h"
#pragma GCC visibility push(default)
#include "sea/sea.h"
#pragma GCC visibility pop
#include "mcs.h"

#define HAL_MAX 64

/* supportedResourceType: the TS-0016 long names (clause 9's numeric resourceType values were not
 * reachable), in this fixed order, each listed when the SE's device can serve it. */
static const struct {
    unsigned cap;
    const char *name;
} srt_names[] = {
    {API_CAP_SDO, "sensitiveDataObject"},
    {API_CAP_CIPHER, "cipher"},
    {API_CAP_SIGNATURE, "signature"},
    {API_CAP_HASH, "hash"},
    {API_CAP_RAND, "rand"},
    {API_CAP_IDENTITY, "identity"},
    {API_CAP_SECURE_CONNECTION, "secureConnection"},
};

static bool unique_char(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
           ch == '-' || ch == '.' || ch == '_';
}

sea_rv sea_se_id_parse(const char *se_id, unsigned *se_type, const char **unique)
{
    err_clear();
    if (!se_id || !se_type)
        return mcs_bad("sea_se_id_parse: se_id or se_type is NULL");
    size_t n = strlen(se_id), code_len;
    unsigned code;
    if (se_id[0] >= '1' && se_id[0] <= '8') {
        code = (unsigned)(se_id[0] - '0');
        code_len = 1;
    } else if (se_id[0] == '9' && se_id[1] >= '0' && se_id[1] <= '9' && se_id[2] >= '0' &&
               se_id[2] <= '9') {
        code = 900 + (unsigned)(se_id[1] - '0') * 10 + (unsigned)(se_id[2] - '0');
        code_len = 3;
        if (code == 900)
            return mcs_bad("sID: vendor SE type codes are 901..999");
    } else {
        return mcs_bad("sID: must start with an SE type code (1..8, or 9 and two digits)");
    }
    if (n <= code_len || n > 255)
        return mcs_bad("sID: the SE type code must be followed by a unique part (at most 255 "
                       "characters in all)");
    for (size_t i = code_len; i < n; i++)
        if (!unique_char(se_id[i]))
            return mcs_bad("sID: the unique part has only [0-9A-Za-z._-]");
    *se_type = code;
    if (unique)
        *unique = se_id + code_len;
    return SEA_OK;
}

static bool add_string_array(struct json_object *o, const char *key, const char *const *v, size_t n)
{
    struct json_object *a = json_object_new_array();
    if (!a)
        return false;
    for (size_t i = 0; i < n; i++)
        if (json_object_array_add(a, json_object_new_string(v[i])) != 0) {
            json_object_put(a);
            return false;
        }
    return json_object_object_add(o, key, a) == 0;
}

/* The object under "m2m:SE". */
static sea_rv se_object(sea_ctx *ctx, const char *name_or_id, const char *hcl,
                        const char *const *hal, struct json_object **out)
{
    size_t nhal = 0;
    if (hcl && *hcl && !mcs_id_valid(hcl))
        return mcs_bad("hcl: 1..255 printable characters without spaces");
    for (; hal && hal[nhal]; nhal++)
        if (nhal >= HAL_MAX || !mcs_id_valid(hal[nhal]))
            return mcs_bad("hal: at most %d links of 1..255 printable characters without spaces",
                           HAL_MAX);
    sea_se_info info;
    unsigned caps = 0;
    sea_rv r = api_se_describe(ctx, name_or_id, &info, &caps);
    if (r != SEA_OK)
        return r;
    const char *srt[ARRAY_SIZE(srt_names)];
    size_t nsrt = 0;
    for (size_t i = 0; i < ARRAY_SIZE(srt_names); i++)
        if (caps & srt_names[i].cap)
            srt[nsrt++] = srt_names[i].name;
    struct json_object *o = json_object_new_object();
    bool ok = o != NULL;
    ok = ok && json_object_object_add(o, "rn", json_object_new_string(info.name)) == 0;
    ok = ok && json_object_object_add(o, "ct", mcs_time_string(info.created)) == 0;
    ok = ok && json_object_object_add(o, "sID", json_object_new_string(info.se_id)) == 0;
    ok = ok && json_object_object_add(o, "seT", json_object_new_int64(info.se_type)) == 0;
    ok = ok && json_object_object_add(o, "seL", json_object_new_int64(info.security_level)) == 0;
    ok = ok && add_string_array(o, "srt", srt, nsrt);
    if (hcl && *hcl)
        ok = ok && json_object_object_add(o, "hcl", json_object_new_string(hcl)) == 0;
    if (nhal)
        ok = ok && add_string_array(o, "hal", hal, nhal);
    if (!ok) {
        json_object_put(o);
        return SEA_ERR_NO_MEMORY;
    }
    *out = o;
    return SEA_OK;
}

sea_rv sea_se_resource_json(sea_ctx *ctx, const char *name_or_id, const char *hosted_cse_link,
                            const char *const *hosted_ae_links, char **json)
{
    err_clear();
    if (!ctx || !name_or_id || !json)
        return mcs_bad("sea_se_resource_json: ctx, name_or_id or json is NULL");
    *json = NULL;
    if (api_ctx_stale(ctx)) {
        err_set(ORIGIN_API, CKR_CRYPTOKI_NOT_INITIALIZED,
                "this context was opened before a fork: call sea_open in this process");
        return SEA_ERR_NOT_INITIALIZED;
    }
    struct json_object *o = NULL;
    sea_rv r = se_object(ctx, name_or_id, hosted_cse_link, hosted_ae_links, &o);
    if (r != SEA_OK)
        return r;
    struct json_object *root = json_object_new_object();
    if (!root || json_object_object_add(root, "m2m:SE", o) != 0) {
        json_object_put(o);
        json_object_put(root);
        return SEA_ERR_NO_MEMORY;
    }
    r = mcs_emit(root, json);
    json_object_put(root);
    return r;
}

sea_rv mcs_se(sea_se *se, const sea_mcs_request *req, struct json_object *in,
              struct json_object **out, int *rsc)
{
    (void)in;
    if (req->op != SEA_MCS_RETRIEVE) {
        *rsc = 4005; /* OPERATION_NOT_ALLOWED: SEs are managed by profile management */
        err_set(ORIGIN_API, CKR_ACTION_PROHIBITED,
                "an <SE> resource can only be retrieved over Mcs (create and delete SEs with "
                "profile management: sea_se_create, sea-tool se create)");
        return SEA_ERR_DENIED;
    }
    if (req->resource_id && strcmp(req->resource_id, api_se_id(se)) != 0)
        return mcs_bad("the target of an SE RETRIEVE is the open SE (NULL or its sID %s)",
                       api_se_id(se));
    sea_rv r = mcs_access(req, "", NULL);
    if (r != SEA_OK)
        return r;
    if ((r = se_object(api_se_ctx(se), api_se_id(se), NULL, NULL, out)) == SEA_OK)
        *rsc = 2000;
    return r;
}

/* ---- reading an <SE> resource ---- */

static sea_rv dup_string(struct json_object *v, const char *key, char **out)
{
    const char *s;
    sea_rv r = mcs_get_string(v, key, &s);
    if (r != SEA_OK)
        return r;
    free(*out);
    if (!(*out = strdup(s)))
        return SEA_ERR_NO_MEMORY;
    return SEA_OK;
}

static sea_rv string_array(struct json_object *v, const char *key, char ***out, size_t *n)
{
    if (!json_object_is_type(v, json_type_array))
        return mcs_bad("%s: must be an array of strings", key);
    size_t len = json_object_array_length(v);
    char **a = calloc(len ? len : 1, sizeof(*a));
    if (!a)
        return SEA_ERR_NO_MEMORY;
    sea_rv r = SEA_OK;
    size_t i = 0;
    for (; i < len && r == SEA_OK; i++) {
        struct json_object *e = json_object_array_get_idx(v, i);
        if (!json_object_is_type(e, json_type_string))
            r = mcs_bad("%s: element %zu is not a string", key, i);
        else if (!(a[i] = strdup(json_object_get_string(e))))
            r = SEA_ERR_NO_MEMORY;
    }
    if (out) {
        for (size_t k = 0; k < *n; k++)
            free((*out)[k]);
        free(*out);
        *out = a;
        *n = i;
    } else {
        for (size_t k = 0; k < i; k++)
            free(a[k]);
        free(a);
    }
    return r;
}

static sea_rv uint_attr(struct json_object *v, const char *key, unsigned max, unsigned *out)
{
    if (!json_object_is_type(v, json_type_int))
        return mcs_bad("%s: must be an integer", key);
    int64_t x = json_object_get_int64(v);
    if (x < 0 || (uint64_t)x > max)
        return mcs_bad("%s: %lld is out of range 0..%u", key, (long long)x, max);
    *out = (unsigned)x;
    return SEA_OK;
}

static sea_rv se_attr(sea_se_resource *o, const char *k, struct json_object *v, unsigned *seen)
{
    unsigned dummy;
    if (strcmp(k, "sID") == 0) {
        *seen |= 1;
        return dup_string(v, k, &o->se_id);
    }
    if (strcmp(k, "seT") == 0) {
        *seen |= 2;
        return uint_attr(v, k, 999, &o->se_type);
    }
    if (strcmp(k, "seL") == 0) {
        *seen |= 4;
        return uint_attr(v, k, 3, &o->security_level);
    }
    if (strcmp(k, "srt") == 0)
        return string_array(v, k, &o->srt, &o->nsrt);
    if (strcmp(k, "hcl") == 0)
        return dup_string(v, k, &o->hcl);
    if (strcmp(k, "hal") == 0)
        return string_array(v, k, &o->hal, &o->nhal);
    if (strcmp(k, "esi") == 0) {
        if (!json_object_is_type(v, json_type_object))
            return mcs_bad("esi: must be an object (m2m:e2eSecInfo)");
        free(o->esi);
        o->esi = strdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
        return o->esi ? SEA_OK : SEA_ERR_NO_MEMORY;
    }
    if (strcmp(k, "ri") == 0)
        return dup_string(v, k, &o->ri);
    if (strcmp(k, "rn") == 0)
        return dup_string(v, k, &o->rn);
    if (strcmp(k, "ct") == 0)
        return dup_string(v, k, &o->ct);
    /* common TS-0004 attributes a CSE's representation carries: checked, not kept */
    if (strcmp(k, "ty") == 0)
        return uint_attr(v, k, 0xffffu, &dummy);
    if (strcmp(k, "pi") == 0 || strcmp(k, "lt") == 0 || strcmp(k, "et") == 0) {
        const char *s;
        return mcs_get_string(v, k, &s);
    }
    if (strcmp(k, "acpi") == 0 || strcmp(k, "lbl") == 0) {
        size_t n = 0;
        return string_array(v, k, NULL, &n);
    }
    return mcs_bad("%.40s: unknown attribute of an SE", k);
}

sea_rv sea_se_resource_parse(const char *json, size_t len, sea_se_resource *out)
{
    err_clear();
    if (!json || !out)
        return mcs_bad("sea_se_resource_parse: json or out is NULL");
    memset(out, 0, sizeof(*out));
    if (len > MCS_MAX_BODY)
        return mcs_bad("the JSON has %zu bytes, more than the limit of %d", len, MCS_MAX_BODY);
    struct json_tokener *tok = json_tokener_new_ex(MCS_MAX_DEPTH);
    if (!tok)
        return SEA_ERR_NO_MEMORY;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    struct json_object *root = json_tokener_parse_ex(tok, json, (int)len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    mcs_tokener_free(tok);
    sea_rv r = SEA_OK;
    struct json_object *in = NULL;
    if (!root || e != json_tokener_success)
        r = e == json_tokener_error_depth
                ? mcs_bad("the JSON nests deeper than %d levels", MCS_MAX_DEPTH)
                : mcs_bad("not JSON: %s", e == json_tokener_continue ? "it ends too early"
                                                                     : json_tokener_error_desc(e));
    for (; r == SEA_OK && end < len; end++)
        if (json[end] == '\0' || !strchr(" \t\r\n", json[end]))
            r = mcs_bad("text after the JSON value");
    if (r == SEA_OK &&
        (!json_object_is_type(root, json_type_object) || json_object_object_length(root) != 1 ||
         !json_object_object_get_ex(root, "m2m:SE", &in)))
        r = mcs_bad("the root key must be \"m2m:SE\" (and the only one)");
    if (r == SEA_OK && !json_object_is_type(in, json_type_object))
        r = mcs_bad("m2m:SE: must be a JSON object");
    unsigned seen = 0;
    if (r == SEA_OK) {
        json_object_object_foreach(in, k, v)
        {
            if ((r = se_attr(out, k, v, &seen)) != SEA_OK)
                break;
        }
    }
    if (r == SEA_OK && seen != 7)
        r = mcs_bad("%s: mandatory in an SE", !(seen & 1) ? "sID" : !(seen & 2) ? "seT" : "seL");
    unsigned code = 0;
    if (r == SEA_OK && (r = sea_se_id_parse(out->se_id, &code, NULL)) == SEA_OK &&
        code != out->se_type)
        r = mcs_bad("sID: its SE type code %u differs from seT %u", code, out->se_type);
    json_object_put(root);
    return r;
}

void sea_se_resource_clear(sea_se_resource *r)
{
    if (!r)
        return;
    free(r->ri);
    free(r->rn);
    free(r->ct);
    free(r->se_id);
    free(r->hcl);
    free(r->esi);
    for (size_t i = 0; i < r->nsrt; i++)
        free(r->srt[i]);
    free(r->srt);
    for (size_t i = 0; i < r->nhal; i++)
        free(r->hal[i]);
    free(r->hal);
    memset(r, 0, sizeof(*r));
}

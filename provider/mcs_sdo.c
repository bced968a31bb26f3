/* <sensitiveDataObject> over Mcs (TS-0016 7.4.1, doc/mcs-json.md): CREATE / RETRIEVE / UPDATE /
 * DELETE on the native sea_data_* functions, with the attribute rules of Table 7.4.1-2 (ri chosen
 * by the creator, cr and cbs mandatory at creation, only msg and acpi writable) and the access
 * decision asked before every operation. */
#include <stdio.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "common.h"
#include "error.h"
#pragma GCC visibility push(default)
#include "sea/sea.h"
#pragma GCC visibility pop
#include "mcs.h"

#define ACPI_MAX 32

/* A resourceID the creator chose: 1..255 RFC 3986 unreserved characters (it becomes part of the
 * absolute address of the resource). */
static bool ri_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
              ch == '-' || ch == '.' || ch == '_' || ch == '~'))
            return false;
    }
    return true;
}

static sea_rv check_target(const sea_mcs_request *req)
{
    if (!req->resource_id)
        return mcs_bad("a %s names its target resourceID", req->op == SEA_MCS_RETRIEVE ? "RETRIEVE"
                                                           : req->op == SEA_MCS_UPDATE ? "UPDATE"
                                                                                       : "DELETE");
    if (!ri_valid(req->resource_id))
        return mcs_bad("ri: 1..255 characters of [A-Za-z0-9._~-]");
    return SEA_OK;
}

/* acpi: a JSON array of ids (no spaces), joined with spaces into out (the native form). */
static sea_rv parse_acpi(struct json_object *v, char out[512])
{
    out[0] = '\0';
    if (!json_object_is_type(v, json_type_array))
        return mcs_bad("acpi: must be an array of strings");
    size_t n = json_object_array_length(v), used = 0;
    if (n > ACPI_MAX)
        return mcs_bad("acpi: at most %d accessControlPolicyIDs", ACPI_MAX);
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(v, i);
        if (!json_object_is_type(e, json_type_string))
            return mcs_bad("acpi: element %zu is not a string", i);
        const char *id = json_object_get_string(e);
        if (!mcs_id_valid(id))
            return mcs_bad("acpi: element %zu is not 1..255 printable characters without spaces",
                           i);
        size_t l = strlen(id);
        if (used + l + (used ? 1 : 0) >= 512)
            return mcs_bad("acpi: the ids have more than 511 bytes together");
        if (used)
            out[used++] = ' ';
        memcpy(out + used, id, l + 1);
        used += l;
    }
    return SEA_OK;
}

/* The attributes a request may not write, and why. */
static const char *const read_only[] = {"ri", "ty", "ct", "lt", "cr", "cbs"};

static sea_rv not_writable(const char *key, sea_mcs_op op)
{
    for (size_t i = 0; i < ARRAY_SIZE(read_only); i++)
        if (strcmp(key, read_only[i]) == 0)
            return mcs_bad("%s: read-only attribute, not allowed in an %s", key,
                           op == SEA_MCS_UPDATE ? "UPDATE" : "CREATE");
    return mcs_bad("%.40s: unknown attribute of a sensitiveDataObject", key);
}

/* The representation of a stored object: ri ct lt cr cbs acpi, and msg when `data` is given. */
static sea_rv represent(const sea_data_info *info, const uint8_t *data, struct json_object **out)
{
    struct json_object *o = json_object_new_object();
    if (!o)
        return SEA_ERR_NO_MEMORY;
    int bad = 0;
    bad |= json_object_object_add(o, "ri", json_object_new_string(info->resource_id));
    bad |= json_object_object_add(o, "ct", mcs_time_string(info->creation_time));
    bad |= json_object_object_add(o, "lt", mcs_time_string(info->last_modified));
    bad |= json_object_object_add(o, "cr", json_object_new_string(info->creator));
    bad |= json_object_object_add(o, "cbs", json_object_new_int64((int64_t)info->size));
    if (data) {
        struct json_object *m = mcs_b64_string(data, info->size);
        bad |= !m || json_object_object_add(o, "msg", m);
    }
    if (info->acp_ids[0]) {
        struct json_object *a = json_object_new_array();
        char copy[sizeof(info->acp_ids)];
        snprintf(copy, sizeof(copy), "%s", info->acp_ids);
        for (char *save = NULL, *t = strtok_r(copy, " ", &save); t && a;
             t = strtok_r(NULL, " ", &save))
            bad |= json_object_array_add(a, json_object_new_string(t));
        bad |= !a || json_object_object_add(o, "acpi", a);
    }
    if (bad) {
        json_object_put(o);
        return SEA_ERR_NO_MEMORY;
    }
    *out = o;
    return SEA_OK;
}

/* Metadata of an existing object, then the access decision on it. */
static sea_rv open_existing(sea_se *se, const sea_mcs_request *req, sea_data_info *info)
{
    size_t len = 0;
    sea_rv r = sea_data_retrieve(se, req->resource_id, NULL, &len, info);
    if (r != SEA_OK)
        return r;
    return mcs_access(req, info->acp_ids, info->creator);
}

static sea_rv sdo_create(sea_se *se, const sea_mcs_request *req, struct json_object *in,
                         struct json_object **out, int *rsc)
{
    const char *ri = NULL, *cr = NULL, *msg = NULL;
    struct json_object *jmsg = NULL;
    int64_t cbs = -1;
    bool have_cr = false, have_acpi = false;
    char acp[512] = "";
    sea_rv r = SEA_OK;
    if (req->resource_id)
        return mcs_bad("a CREATE gives its resourceID in the body (ri), not as the target");
    json_object_object_foreach(in, k, v)
    {
        if (strcmp(k, "ri") == 0) {
            r = mcs_get_string(v, k, &ri);
        } else if (strcmp(k, "cr") == 0) {
            have_cr = true;
            if (!json_object_is_type(v, json_type_null)) /* null: "set it to me" (TS-0004) */
                r = mcs_get_string(v, k, &cr);
        } else if (strcmp(k, "cbs") == 0) {
            if (!json_object_is_type(v, json_type_int))
                r = mcs_bad("cbs: must be an integer");
            else if ((cbs = json_object_get_int64(v)) < 0)
                r = mcs_bad("cbs: must not be negative");
        } else if (strcmp(k, "msg") == 0) {
            r = mcs_get_string(v, k, &msg);
            jmsg = v;
        } else if (strcmp(k, "acpi") == 0) {
            have_acpi = true;
            r = parse_acpi(v, acp);
        } else {
            r = not_writable(k, SEA_MCS_CREATE);
        }
        if (r != SEA_OK)
            return r;
    }
    if (!ri)
        return mcs_bad("ri: mandatory in a CREATE (the creator chooses the resourceID)");
    if (!ri_valid(ri))
        return mcs_bad("ri: 1..255 characters of [A-Za-z0-9._~-]");
    if (!have_cr)
        return mcs_bad("cr: mandatory in a CREATE (the creator's AE-ID or CSE-ID)");
    if (cr && strcmp(cr, req->originator) != 0)
        return mcs_bad("cr: must be the originator of the request");
    if (cbs < 0)
        return mcs_bad("cbs: mandatory in a CREATE (the size of the data)");
    if (!msg)
        return mcs_bad("msg: mandatory in a CREATE (the sensitive data, base64)");
    if ((r = mcs_access(req, "", NULL)) != SEA_OK)
        return r;
    uint8_t *data = NULL;
    size_t len = 0;
    if ((r = mcs_b64_decode(msg, (size_t)json_object_get_string_len(jmsg), "msg", &data, &len)) !=
        SEA_OK)
        return r;
    if ((uint64_t)cbs != len) {
        r = mcs_bad("cbs: %lld, but msg holds %zu bytes", (long long)cbs, len);
    } else {
        r = sea_data_create(se, ri, req->originator, have_acpi && acp[0] ? acp : NULL, data, len);
    }
    sea_wipe(data, len ? len : 1);
    free(data);
    if (r != SEA_OK)
        return r;
    sea_data_info info;
    size_t l = 0;
    if ((r = sea_data_retrieve(se, ri, NULL, &l, &info)) != SEA_OK)
        return r;
    *rsc = 2001;
    return represent(&info, NULL, out);
}

static sea_rv sdo_retrieve(sea_se *se, const sea_mcs_request *req, struct json_object **out,
                           int *rsc)
{
    sea_data_info info, decided;
    sea_rv r = open_existing(se, req, &info);
    if (r != SEA_OK)
        return r;
    decided = info;
    uint8_t *buf = NULL;
    size_t len = info.size;
    for (int tries = 0; tries < 3; tries++) {
        buf = malloc(len ? len : 1);
        if (!buf)
            return SEA_ERR_NO_MEMORY;
        size_t cap = len;
        r = sea_data_retrieve(se, req->resource_id, buf, &len, &info);
        if (r != SEA_ERR_BUFFER_TOO_SMALL)
            break;
        sea_wipe(buf, cap ? cap : 1); /* changed meanwhile: try again with the new size */
        free(buf);
        buf = NULL;
    }
    /* the creator and ACP ids read with the data must be those decided on: an object deleted
     * and recreated since open_existing (another creator or policy) is not served */
    if (r == SEA_OK &&
        (strcmp(info.creator, decided.creator) != 0 || strcmp(info.acp_ids, decided.acp_ids) != 0))
        r = mcs_denied("the sensitiveDataObject %s changed its creator or access control policy "
                       "while being read",
                       req->resource_id);
    if (r == SEA_OK) {
        info.size = len;
        r = represent(&info, buf, out);
        *rsc = 2000;
    }
    if (buf) {
        sea_wipe(buf, len ? len : 1);
        free(buf);
    }
    return r;
}

static sea_rv sdo_update(sea_se *se, const sea_mcs_request *req, struct json_object *in,
                         struct json_object **out, int *rsc)
{
    const char *msg = NULL;
    struct json_object *jmsg = NULL;
    bool have_acpi = false;
    char acp[512] = "";
    sea_rv r = SEA_OK;
    json_object_object_foreach(in, k, v)
    {
        if (strcmp(k, "msg") == 0) {
            r = mcs_get_string(v, k, &msg);
            jmsg = v;
        } else if (strcmp(k, "acpi") == 0) {
            have_acpi = true; /* null or []: no own ids any more, the parent's apply */
            if (!json_object_is_type(v, json_type_null))
                r = parse_acpi(v, acp);
        } else {
            r = not_writable(k, SEA_MCS_UPDATE);
        }
        if (r != SEA_OK)
            return r;
    }
    if (!msg && !have_acpi)
        return mcs_bad("an UPDATE of a sensitiveDataObject changes msg or acpi");
    sea_data_info info;
    if ((r = open_existing(se, req, &info)) != SEA_OK)
        return r;
    uint8_t *data = NULL;
    size_t len = 0;
    if (msg && (r = mcs_b64_decode(msg, (size_t)json_object_get_string_len(jmsg), "msg", &data,
                                   &len)) != SEA_OK)
        return r;
    r = api_data_update(se, req->resource_id, data, len, msg != NULL, acp, have_acpi, &info);
    if (data) {
        sea_wipe(data, len ? len : 1);
        free(data);
    }
    if (r != SEA_OK)
        return r;
    size_t l = 0;
    if ((r = sea_data_retrieve(se, req->resource_id, NULL, &l, &info)) != SEA_OK)
        return r;
    *rsc = 2004;
    return represent(&info, NULL, out);
}

sea_rv mcs_sdo(sea_se *se, const sea_mcs_request *req, struct json_object *in,
               struct json_object **out, int *rsc)
{
    sea_rv r;
    if (req->op != SEA_MCS_CREATE && (r = check_target(req)) != SEA_OK)
        return r;
    switch (req->op) {
    case SEA_MCS_CREATE:
        return sdo_create(se, req, in, out, rsc);
    case SEA_MCS_RETRIEVE:
        return sdo_retrieve(se, req, out, rsc);
    case SEA_MCS_UPDATE:
        return sdo_update(se, req, in, out, rsc);
    case SEA_MCS_DELETE: {
        sea_data_info info;
        if ((r = open_existing(se, req, &info)) != SEA_OK)
            return r;
        if ((r = api_data_delete(se, req->resource_id, &info)) == SEA_OK)
            *rsc = 2002;
        return r;
    }
    }
    return mcs_bad("unknown operation");
}

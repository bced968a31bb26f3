/* The TS-0016 resources as JSON (doc/mcs-json.md): the <SE> resource and its parser against the
 * golden fixtures in tests/mcs/ (compared by parsing with json-c, not as text), M2M-SE-ID parsing
 * with the vendor codes, <sensitiveDataObject> CRUD through sea_mcs_execute with its response
 * status codes, the creator rule and the ACP callback, and malformed bodies. */
#include <check.h>
#include <json-c/json.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sea/sea.h"
#include "apicheck.h"

#ifndef MCS_FIXTURES
#define MCS_FIXTURES "tests/mcs"
#endif

static sea_se *se;

#define SE_ID  "40123456789ABCDE"
#define AE     "CAE0001"
#define OTHER  "CAE0002"
#define SDO_RI "sdo-ke-0001"

static const uint8_t DATA16[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static void setup(void)
{
    api_store_open("mcs");
    se = api_se_new("mcs", SE_ID);
}

static void teardown(void)
{
    sea_se_close(se);
    se = NULL;
    api_store_close();
}

/* ---- helpers ---- */

static char *fixture(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", MCS_FIXTURES, name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char *buf = malloc(65536);
    ck_assert_ptr_nonnull(buf);
    size_t n = fread(buf, 1, 65535, f);
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static struct json_object *parse(const char *s)
{
    struct json_object *j = json_tokener_parse(s);
    ck_assert_msg(j != NULL, "not JSON: %s", s);
    return j;
}

/* The object under the single root key `key`. */
static struct json_object *under(struct json_object *root, const char *key)
{
    struct json_object *in = NULL;
    ck_assert_int_eq(json_object_object_length(root), 1);
    ck_assert_msg(json_object_object_get_ex(root, key, &in), "no root key %s", key);
    ck_assert(json_object_is_type(in, json_type_object));
    return in;
}

static bool is_timestamp(struct json_object *v)
{
    if (!json_object_is_type(v, json_type_string))
        return false;
    const char *s = json_object_get_string(v);
    if (strlen(s) != 15 || s[8] != 'T')
        return false;
    for (int i = 0; i < 15; i++)
        if (i != 8 && (s[i] < '0' || s[i] > '9'))
            return false;
    return strncmp(s, "20", 2) == 0;
}

/* got has exactly the keys of want with equal values; ct/lt only need to be timestamps. */
static void assert_same(struct json_object *want, struct json_object *got)
{
    ck_assert_int_eq(json_object_object_length(want), json_object_object_length(got));
    json_object_object_foreach(want, k, v)
    {
        struct json_object *g = NULL;
        ck_assert_msg(json_object_object_get_ex(got, k, &g), "attribute %s missing", k);
        if (strcmp(k, "ct") == 0 || strcmp(k, "lt") == 0)
            ck_assert_msg(is_timestamp(g), "%s is not YYYYMMDDTHHMMSS", k);
        else
            ck_assert_msg(json_object_equal(v, g), "attribute %s: want %s, got %s", k,
                          json_object_to_json_string(v), json_object_to_json_string(g));
    }
}

static sea_rv run(sea_mcs_op op, const char *type, const char *rid, const char *orig,
                  const char *body, char **resp, int *rsc)
{
    sea_mcs_request req = {.op = op,
                           .resource_type = type,
                           .resource_id = rid,
                           .originator = orig,
                           .content = body,
                           .content_len = body ? strlen(body) : 0};
    return sea_mcs_execute(se, &req, resp, rsc);
}

static void create_fixture_sdo(void)
{
    char *body = fixture("sdo-create.json", NULL);
    char *resp = NULL;
    int rsc = 0;
    ck_assert_int_eq(run(SEA_MCS_CREATE, "sensitiveDataObject", NULL, AE, body, &resp, &rsc),
                     SEA_OK);
    ck_assert_int_eq(rsc, 2001);
    free(body);
    sea_free(resp);
}

/* The stored data, read natively. */
static size_t stored(uint8_t *buf, size_t cap, sea_data_info *info)
{
    size_t len = cap;
    ck_assert_int_eq(sea_data_retrieve(se, SDO_RI, buf, &len, info), SEA_OK);
    return len;
}

/* ---- <SE> ---- */

START_TEST(test_se_resource_matches_fixture)
{
    const char *hal[] = {"/in-cse-01/CAE0001", NULL};
    char *json = NULL;
    ck_assert_int_eq(sea_se_resource_json(ctx, SE_ID, "/in-cse-01", hal, &json), SEA_OK);
    char *fx = fixture("se-soft.json", NULL);
    struct json_object *want = parse(fx), *got = parse(json);
    assert_same(under(want, "m2m:SE"), under(got, "m2m:SE"));
    json_object_put(want);
    json_object_put(got);

    /* the library's parser reads both the fixture and the library's own output */
    const char *texts[] = {fx, json};
    for (int i = 0; i < 2; i++) {
        sea_se_resource r;
        ck_assert_int_eq(sea_se_resource_parse(texts[i], strlen(texts[i]), &r), SEA_OK);
        ck_assert_str_eq(r.se_id, SE_ID);
        ck_assert_uint_eq(r.se_type, SEA_SE_SOFTWARE);
        ck_assert_uint_eq(r.security_level, 1);
        ck_assert_uint_eq(r.nsrt, 7);
        ck_assert_str_eq(r.srt[0], "sensitiveDataObject");
        ck_assert_str_eq(r.srt[6], "secureConnection");
        ck_assert_str_eq(r.hcl, "/in-cse-01");
        ck_assert_uint_eq(r.nhal, 1);
        ck_assert_str_eq(r.hal[0], "/in-cse-01/CAE0001");
        ck_assert_str_eq(r.rn, "mcs");
        ck_assert_ptr_null(r.esi);
        sea_se_resource_clear(&r);
    }
    free(fx);
    sea_free(json);
}
END_TEST

START_TEST(test_se_resource_without_links)
{
    char *json = NULL;
    ck_assert_int_eq(sea_se_resource_json(ctx, "mcs", NULL, NULL, &json), SEA_OK);
    struct json_object *got = parse(json), *in = under(got, "m2m:SE");
    ck_assert(!json_object_object_get_ex(in, "hcl", NULL));
    ck_assert(!json_object_object_get_ex(in, "hal", NULL));
    ck_assert(!json_object_object_get_ex(in, "esi", NULL));
    json_object_put(got);
    sea_free(json);
    ck_assert_int_eq(sea_se_resource_json(ctx, "no-such-se", NULL, NULL, &json), SEA_ERR_NOT_FOUND);
    ck_assert_int_eq(sea_se_resource_json(ctx, "mcs", "has space", NULL, &json), SEA_ERR_ARGS);
    ck_assert_ptr_nonnull(strstr(sea_last_error(NULL), "hcl"));
}
END_TEST

START_TEST(test_se_parse_rejects)
{
    static const struct {
        const char *json, *names;
    } bad[] = {
        {"{\"m2m:SE\": {\"sID\": \"4AB\", \"seT\": \"4\", \"seL\": 1}}", "seT"},
        {"{\"m2m:SE\": {\"sID\": \"4AB\", \"seT\": 4, \"seL\": 4}}", "seL"},
        {"{\"m2m:SE\": {\"sID\": \"4AB\", \"seT\": 4}}", "seL"},
        {"{\"m2m:SE\": {\"seT\": 4, \"seL\": 1}}", "sID"},
        {"{\"m2m:SE\": {\"sID\": \"1AB\", \"seT\": 4, \"seL\": 1}}", "sID"},
        {"{\"m2m:SE\": {\"sID\": \"4AB\", \"seT\": 4, \"seL\": 1, \"seX\": 1}}", "seX"},
        {"{\"m2m:SE\": {\"sID\": \"4AB\", \"seT\": 4, \"seL\": 1, \"srt\": \"hash\"}}", "srt"},
        {"{\"m2m:SE\": {\"sID\": \"4AB\", \"seT\": 4, \"seL\": 1, \"hal\": [1]}}", "hal"},
        {"{\"m2m:sensitiveDataObject\": {}}", "m2m:SE"},
        {"[1]", "m2m:SE"},
        {"{\"m2m:SE\": ", "JSON"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sea_se_resource r;
        ck_assert_int_eq(sea_se_resource_parse(bad[i].json, strlen(bad[i].json), &r), SEA_ERR_ARGS);
        ck_assert_msg(strstr(sea_last_error(NULL), bad[i].names) != NULL,
                      "case %zu: '%s' does not name %s", i, sea_last_error(NULL), bad[i].names);
        sea_se_resource_clear(&r);
    }
    /* a CSE's representation with common attributes and esi parses; a vendor sID too */
    const char *ok = "{\"m2m:SE\": {\"ri\": \"se1\", \"ty\": 77, \"pi\": \"cb\", "
                     "\"lt\": \"20260101T000000\", \"acpi\": [\"a\"], \"sID\": \"901X.Y\", "
                     "\"seT\": 901, \"seL\": 3, \"esi\": {\"sfu\": [22]}}}";
    sea_se_resource r;
    ck_assert_int_eq(sea_se_resource_parse(ok, strlen(ok), &r), SEA_OK);
    ck_assert_uint_eq(r.se_type, SEA_SE_TPM2_DISCRETE);
    ck_assert_str_eq(r.ri, "se1");
    ck_assert_ptr_nonnull(r.esi);
    struct json_object *esi = parse(r.esi), *sfu = NULL;
    ck_assert(json_object_object_get_ex(esi, "sfu", &sfu));
    ck_assert_int_eq(json_object_get_int(json_object_array_get_idx(sfu, 0)), 22);
    json_object_put(esi);
    sea_se_resource_clear(&r);
}
END_TEST

START_TEST(test_se_id_parse)
{
    unsigned t = 0;
    const char *u = NULL;
    ck_assert_int_eq(sea_se_id_parse(SE_ID, &t, &u), SEA_OK);
    ck_assert_uint_eq(t, 4);
    ck_assert_str_eq(u, "0123456789ABCDE");
    ck_assert_int_eq(sea_se_id_parse("9013F00", &t, &u), SEA_OK);
    ck_assert_uint_eq(t, SEA_SE_TPM2_DISCRETE);
    ck_assert_str_eq(u, "3F00");
    ck_assert_int_eq(sea_se_id_parse("903hsm-1", &t, &u), SEA_OK);
    ck_assert_uint_eq(t, SEA_SE_PKCS11_HSM);
    ck_assert_str_eq(u, "hsm-1");
    ck_assert_int_eq(sea_se_id_parse("1A", &t, NULL), SEA_OK);
    ck_assert_uint_eq(t, SEA_SE_UICC);
    const char *bad[] = {"", "4", "0AB", "9", "90", "901", "900AB", "4A B", "AB", "4A/B"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(sea_se_id_parse(bad[i], &t, &u) == SEA_ERR_ARGS, "'%s' accepted", bad[i]);
}
END_TEST

START_TEST(test_mcs_se_retrieve)
{
    char *resp = NULL;
    int rsc = 0;
    ck_assert_int_eq(run(SEA_MCS_RETRIEVE, "SE", NULL, AE, NULL, &resp, &rsc), SEA_OK);
    ck_assert_int_eq(rsc, 2000);
    struct json_object *j = parse(resp), *in = under(j, "m2m:SE"), *v;
    ck_assert(json_object_object_get_ex(in, "seT", &v) && json_object_get_int(v) == 4);
    ck_assert(json_object_object_get_ex(in, "seL", &v) && json_object_get_int(v) == 1);
    ck_assert(json_object_object_get_ex(in, "sID", &v));
    ck_assert_str_eq(json_object_get_string(v), SE_ID);
    json_object_put(j);
    sea_free(resp);
    /* by its sID as the target too; another sID is refused */
    ck_assert_int_eq(run(SEA_MCS_RETRIEVE, "SE", SE_ID, AE, NULL, &resp, &rsc), SEA_OK);
    sea_free(resp);
    ck_assert_int_eq(run(SEA_MCS_RETRIEVE, "SE", "4FFFF", AE, NULL, &resp, &rsc), SEA_ERR_ARGS);
    ck_assert_int_eq(rsc, 4000);
    sea_free(resp);
    /* SEs are not created, changed or deleted over Mcs */
    const char *body = "{\"m2m:SE\": {\"seL\": 3}}";
    ck_assert_int_eq(run(SEA_MCS_CREATE, "SE", NULL, AE, body, &resp, &rsc), SEA_ERR_DENIED);
    ck_assert_int_eq(rsc, 4005);
    sea_free(resp);
    ck_assert_int_eq(run(SEA_MCS_UPDATE, "SE", SE_ID, AE, body, &resp, &rsc), SEA_ERR_DENIED);
    ck_assert_int_eq(rsc, 4005);
    sea_free(resp);
    ck_assert_int_eq(run(SEA_MCS_DELETE, "SE", SE_ID, AE, NULL, &resp, &rsc), SEA_ERR_DENIED);
    ck_assert_int_eq(rsc, 4005);
    ck_assert_ptr_nonnull(resp); /* {"m2m:dbg": ...} */
    j = parse(resp);
    ck_assert(json_object_object_get_ex(j, "m2m:dbg", &v));
    ck_assert_ptr_nonnull(strstr(json_object_get_string(v), "retrieved"));
    json_object_put(j);
    sea_free(resp);
}
END_TEST

/* ---- <sensitiveDataObject> ---- */

START_TEST(test_sdo_create_and_conflict)
{
    char *body = fixture("sdo-create.json", NULL);
    char *resp = NULL;
    int rsc = 0;
    ck_assert_int_eq(run(SEA_MCS_CREATE, "sensitiveDataObject", NULL, AE, body, &resp, &rsc),
                     SEA_OK);
    ck_assert_int_eq(rsc, 2001);
    struct json_object *j = parse(resp), *in = under(j, "m2m:sensitiveDataObject"), *v;
    ck_assert(json_object_object_get_ex(in, "ri", &v));
    ck_assert_str_eq(json_object_get_string(v), SDO_RI);
    ck_assert(json_object_object_get_ex(in, "cbs", &v) && json_object_get_int(v) == 16);
    ck_assert(json_object_object_get_ex(in, "ct", &v) && is_timestamp(v));
    ck_assert(!json_object_object_get_ex(in, "msg", NULL)); /* the data is not echoed */
    json_object_put(j);
    sea_free(resp);
    /* natively: the data, the creator and the ACP ids are stored */
    uint8_t buf[64];
    sea_data_info info;
    ck_assert_uint_eq(stored(buf, sizeof(buf), &info), 16);
    ck_assert_mem_eq(buf, DATA16, 16);
    ck_assert_str_eq(info.creator, AE);
    ck_assert_str_eq(info.acp_ids, "acp-sdo-1 acp-admin");
    /* the same ri again: 4105 CONFLICT */
    ck_assert_int_eq(run(SEA_MCS_CREATE, "sensitiveDataObject", NULL, AE, body, &resp, &rsc),
                     SEA_ERR_EXISTS);
    ck_assert_int_eq(rsc, 4105);
    sea_free(resp);
    free(body);
}
END_TEST

START_TEST(test_sdo_retrieve_matches_fixture)
{
    create_fixture_sdo();
    char *resp = NULL;
    int rsc = 0;
    ck_assert_int_eq(run(SEA_MCS_RETRIEVE, "sensitiveDataObject", SDO_RI, AE, NULL, &resp, &rsc),
                     SEA_OK);
    ck_assert_int_eq(rsc, 2000);
    char *fx = fixture("sdo-retrieve.json", NULL);
    struct json_object *want = parse(fx), *got = parse(resp);
    struct json_object *in = under(got, "m2m:sensitiveDataObject");
    assert_same(under(want, "m2m:sensitiveDataObject"), in);
    /* msg decodes to the stored bytes (OpenSSL's base64 decoder as the independent reader) */
    struct json_object *m = NULL;
    ck_assert(json_object_object_get_ex(in, "msg", &m));
    unsigned char dec[64];
    int n = EVP_DecodeBlock(dec, (const unsigned char *)json_object_get_string(m),
                            json_object_get_string_len(m));
    ck_assert_int_eq(n, 18); /* 16 bytes plus the two padding positions */
    ck_assert_mem_eq(dec, DATA16, 16);
    json_object_put(want);
    json_object_put(got);
    free(fx);
    memset(resp, 0, strlen(resp));
    sea_free(resp);
    /* an unknown ri: 4004 */
    ck_assert_int_eq(run(SEA_MCS_RETRIEVE, "sensitiveDataObject", "nope", AE, NULL, &resp, &rsc),
                     SEA_ERR_NOT_FOUND);
    ck_assert_int_eq(rsc, 4004);
    sea_free(resp);
}
END_TEST

START_TEST(test_sdo_update_msg)
{
    create_fixture_sdo();
    sea_data_info before;
    uint8_t buf[64];
    stored(buf, sizeof(buf), &before);
    sleep(1); /* lastModifiedTime has a resolution of one second */
    char *body = fixture("sdo-update.json", NULL);
    char *resp = NULL;
    int rsc = 0;
    ck_assert_int_eq(run(SEA_MCS_UPDATE, "sensitiveDataObject", SDO_RI, AE, body, &resp, &rsc),
                     SEA_OK);
    ck_assert_int_eq(rsc, 2004);
    struct json_object *j = parse(resp), *in = under(j, "m2m:sensitiveDataObject"), *v;
    ck_assert(json_object_object_get_ex(in, "cbs", &v) && json_object_get_int(v) == 9);
    ck_assert(json_object_object_get_ex(in, "lt", &v) && is_timestamp(v));
    json_object_put(j);
    sea_free(resp);
    free(body);
    sea_data_info after;
    ck_assert_uint_eq(stored(buf, sizeof(buf), &after), 9);
    ck_assert_mem_eq(buf, "secret v2", 9);
    ck_assert_int_gt(after.last_modified, before.last_modified);
    ck_assert_int_eq(after.creation_time, before.creation_time);
    ck_assert_str_eq(after.acp_ids, "acp-sdo-1 acp-admin"); /* untouched */
    /* acpi is writable too: replace, then clear with null */
    body = "{\"m2m:sensitiveDataObject\": {\"acpi\": [\"acp-new\"]}}";
    ck_assert_int_eq(run(SEA_MCS_UPDATE, "sensitiveDataObject", SDO_RI, AE, body, &resp, &rsc),
                     SEA_OK);
    sea_free(resp);
    stored(buf, sizeof(buf), &after);
    ck_assert_str_eq(after.acp_ids, "acp-new");
    body = "{\"m2m:sensitiveDataObject\": {\"acpi\": null}}";
    ck_assert_int_eq(run(SEA_MCS_UPDATE, "sensitiveDataObject", SDO_RI, AE, body, &resp, &rsc),
                     SEA_OK);
    sea_free(resp);
    ck_assert_uint_eq(stored(buf, sizeof(buf), &after), 9);
    ck_assert_str_eq(after.acp_ids, "");
}
END_TEST

START_TEST(test_sdo_update_read_only_refused)
{
    create_fixture_sdo();
    sea_data_info before, after;
    uint8_t buf[64];
    stored(buf, sizeof(buf), &before);
    static const char *const bodies[][2] = {
        {"{\"m2m:sensitiveDataObject\": {\"cr\": \"CAE0002\"}}", "cr"},
        {"{\"m2m:sensitiveDataObject\": {\"ri\": \"other\", \"msg\": \"AA==\"}}", "ri"},
        {"{\"m2m:sensitiveDataObject\": {\"msg\": \"AA==\", \"cbs\": 1}}", "cbs"},
        {"{\"m2m:sensitiveDataObject\": {\"ct\": \"20260101T000000\"}}", "ct"},
        {"{\"m2m:sensitiveDataObject\": {\"lt\": \"20260101T000000\"}}", "lt"},
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        char *resp = NULL;
        int rsc = 0;
        ck_assert_int_eq(
            run(SEA_MCS_UPDATE, "sensitiveDataObject", SDO_RI, AE, bodies[i][0], &resp, &rsc),
            SEA_ERR_ARGS);
        ck_assert_int_eq(rsc, 4000);
        char want[32];
        snprintf(want, sizeof(want), "%s: read-only", bodies[i][1]);
        ck_assert_msg(strstr(sea_last_error(NULL), want) != NULL, "case %zu: %s", i,
                      sea_last_error(NULL));
        sea_free(resp);
    }
    ck_assert_uint_eq(stored(buf, sizeof(buf), &after), 16);
    ck_assert_mem_eq(buf, DATA16, 16);
    ck_assert_str_eq(after.creator, AE);
    ck_assert_int_eq(after.last_modified, before.last_modified);
}
END_TEST

START_TEST(test_sdo_delete)
{
    create_fixture_sdo();
    char *resp = NULL;
    int rsc = 0;
    ck_assert_int_eq(run(SEA_MCS_DELETE, "sensitiveDataObject", SDO_RI, AE, NULL, &resp, &rsc),
                     SEA_OK);
    ck_assert_int_eq(rsc, 2002);
    sea_free(resp);
    ck_assert_int_eq(run(SEA_MCS_RETRIEVE, "sensitiveDataObject", SDO_RI, AE, NULL, &resp, &rsc),
                     SEA_ERR_NOT_FOUND);
    ck_assert_int_eq(rsc, 4004);
    sea_free(resp);
    ck_assert_int_eq(run(SEA_MCS_DELETE, "sensitiveDataObject", SDO_RI, AE, NULL, &resp, &rsc),
                     SEA_ERR_NOT_FOUND);
    ck_assert_int_eq(rsc, 4004);
    sea_free(resp);
}
END_TEST

START_TEST(test_sdo_other_originator_refused)
{
    create_fixture_sdo();
    char *resp = NULL;
    int rsc = 0;
    const char *upd = "{\"m2m:sensitiveDataObject\": {\"msg\": \"AA==\"}}";
    ck_assert_int_eq(run(SEA_MCS_RETRIEVE, "sensitiveDataObject", SDO_RI, OTHER, NULL, &resp, &rsc),
                     SEA_ERR_DENIED);
    ck_assert_int_eq(rsc, 4103);
    ck_assert_ptr_null(strstr(resp, "AAECAwQFBgcICQoLDA0ODw")); /* no data in the error */
    sea_free(resp);
    ck_assert_int_eq(run(SEA_MCS_UPDATE, "sensitiveDataObject", SDO_RI, OTHER, upd, &resp, &rsc),
                     SEA_ERR_DENIED);
    ck_assert_int_eq(rsc, 4103);
    sea_free(resp);
    ck_assert_int_eq(run(SEA_MCS_DELETE, "sensitiveDataObject", SDO_RI, OTHER, NULL, &resp, &rsc),
                     SEA_ERR_DENIED);
    ck_assert_int_eq(rsc, 4103);
    sea_free(resp);
    uint8_t buf[64];
    ck_assert_uint_eq(stored(buf, sizeof(buf), NULL), 16);
    ck_assert_mem_eq(buf, DATA16, 16);
}
END_TEST

/* The ACP callback: what it was asked, and its answer. */
struct acp_log {
    int allow;
    int calls;
    sea_mcs_op op;
    char originator[64], type[64], ids[256];
};

static int acp_cb(void *arg, const char *originator, sea_mcs_op op, const char *type,
                  const char *const *ids)
{
    struct acp_log *l = arg;
    l->calls++;
    l->op = op;
    snprintf(l->originator, sizeof(l->originator), "%s", originator);
    snprintf(l->type, sizeof(l->type), "%s", type);
    l->ids[0] = '\0';
    for (size_t i = 0; ids[i]; i++) {
        strncat(l->ids, ids[i], sizeof(l->ids) - strlen(l->ids) - 2);
        strcat(l->ids, ",");
    }
    return l->allow;
}

static sea_rv run_acp(struct acp_log *l, sea_mcs_op op, const char *rid, const char *orig,
                      const char *body, char **resp, int *rsc)
{
    sea_mcs_request req = {.op = op,
                           .resource_type = "sensitiveDataObject",
                           .resource_id = rid,
                           .originator = orig,
                           .content = body,
                           .content_len = body ? strlen(body) : 0,
                           .acp_check = acp_cb,
                           .acp_arg = l};
    return sea_mcs_execute(se, &req, resp, rsc);
}

START_TEST(test_sdo_acp_callback)
{
    struct acp_log l = {.allow = 0};
    char *body = fixture("sdo-create.json", NULL);
    char *resp = NULL;
    int rsc = 0;
    /* CREATE is asked with the parent's (empty) list; a refusal creates nothing */
    ck_assert_int_eq(run_acp(&l, SEA_MCS_CREATE, NULL, AE, body, &resp, &rsc), SEA_ERR_DENIED);
    ck_assert_int_eq(rsc, 4103);
    ck_assert_int_eq(l.calls, 1);
    ck_assert_int_eq(l.op, SEA_MCS_CREATE);
    ck_assert_str_eq(l.ids, "");
    ck_assert_str_eq(l.type, "sensitiveDataObject");
    sea_free(resp);
    size_t len = 0;
    ck_assert_int_eq(sea_data_retrieve(se, SDO_RI, NULL, &len, NULL), SEA_ERR_NOT_FOUND);
    l.allow = 1;
    ck_assert_int_eq(run_acp(&l, SEA_MCS_CREATE, NULL, AE, body, &resp, &rsc), SEA_OK);
    ck_assert_int_eq(rsc, 2001);
    sea_free(resp);
    free(body);
    /* another originator: the callback decides, given the object's acpi */
    l.calls = 0;
    ck_assert_int_eq(run_acp(&l, SEA_MCS_RETRIEVE, SDO_RI, OTHER, NULL, &resp, &rsc), SEA_OK);
    ck_assert_int_eq(rsc, 2000);
    ck_assert_int_eq(l.calls, 1);
    ck_assert_int_eq(l.op, SEA_MCS_RETRIEVE);
    ck_assert_str_eq(l.originator, OTHER);
    ck_assert_str_eq(l.ids, "acp-sdo-1,acp-admin,");
    sea_free(resp);
    l.allow = 0;
    ck_assert_int_eq(run_acp(&l, SEA_MCS_RETRIEVE, SDO_RI, OTHER, NULL, &resp, &rsc),
                     SEA_ERR_DENIED);
    ck_assert_int_eq(rsc, 4103);
    sea_free(resp);
    /* the callback binds the creator too */
    ck_assert_int_eq(run_acp(&l, SEA_MCS_DELETE, SDO_RI, AE, NULL, &resp, &rsc), SEA_ERR_DENIED);
    ck_assert_int_eq(rsc, 4103);
    ck_assert_int_eq(l.op, SEA_MCS_DELETE);
    sea_free(resp);
    ck_assert_int_eq(sea_data_retrieve(se, SDO_RI, NULL, &len, NULL), SEA_OK);
}
END_TEST

/* ---- malformed requests ---- */

static void expect_bad(sea_mcs_op op, const char *rid, const char *body, size_t body_len,
                       const char *names)
{
    sea_mcs_request req = {.op = op,
                           .resource_type = "sensitiveDataObject",
                           .resource_id = rid,
                           .originator = AE,
                           .content = body,
                           .content_len = body_len};
    char *resp = NULL;
    int rsc = 0;
    ck_assert_int_eq(sea_mcs_execute(se, &req, &resp, &rsc), SEA_ERR_ARGS);
    ck_assert_int_eq(rsc, 4000);
    ck_assert_msg(strstr(sea_last_error(NULL), names) != NULL,
                  "'%s' does not name '%s' (body %.80s)", sea_last_error(NULL), names,
                  body ? body : "(null)");
    /* the error body carries the same message */
    ck_assert_ptr_nonnull(resp);
    struct json_object *j = parse(resp), *v;
    ck_assert(json_object_object_get_ex(j, "m2m:dbg", &v));
    ck_assert_ptr_nonnull(strstr(json_object_get_string(v), names));
    json_object_put(j);
    sea_free(resp);
}

#define SDO(inner) "{\"m2m:sensitiveDataObject\": {" inner "}}"

START_TEST(test_sdo_bad_bodies)
{
    static const struct {
        const char *body, *names;
    } bad[] = {
        {"not json", "not JSON"},
        {"{\"m2m:sensitiveDataObject\": {\"ri\": \"a\",", "not JSON"},
        {SDO("\"ri\": \"a\", \"cr\": \"CAE0001\", \"cbs\": 1, \"msg\": \"AA==\"") " x", "not JSON"},
        {"{\"m2m:cipher\": {\"ri\": \"a\"}}", "root key"},
        {"{\"sensitiveDataObject\": {}}", "root key"},
        {"[]", "JSON object"},
        {"{\"m2m:sensitiveDataObject\": 5}", "JSON object"},
        {SDO("\"ri\": \"a\", \"cr\": \"CAE0001\", \"cbs\": 1, \"msg\": 5"), "msg"},
        {SDO("\"ri\": \"a\", \"cr\": \"CAE0001\", \"cbs\": \"1\", \"msg\": \"AA==\""), "cbs"},
        {SDO("\"ri\": \"a\", \"cr\": \"CAE0001\", \"cbs\": 1, \"msg\": \"AA==\", \"acpi\": \"x\""),
         "acpi"},
        {SDO("\"ri\": \"a\", \"cr\": \"CAE0001\", \"cbs\": 1, \"msg\": \"AA==\", \"acpi\": [1]"),
         "acpi"},
        {SDO("\"ri\": \"a\", \"cr\": \"CAE0001\", \"cbs\": 1, \"msgx\": \"AA==\""), "msgx"},
        {SDO("\"ri\": \"a\", \"cbs\": 1, \"msg\": \"AA==\""), "cr"},
        {SDO("\"ri\": \"a\", \"cr\": \"CAE0001\", \"cbs\": 1"), "msg"},
        {SDO("\"cr\": \"CAE0001\", \"cbs\": 1, \"msg\": \"AA==\""), "ri"},
        {SDO("\"ri\": \"a\", \"cr\": \"CAE0001\", \"msg\": \"AA==\""), "cbs"},
        {SDO("\"ri\": \"a\", \"cr\": \"CAE0001\", \"cbs\": 1, \"msg\": \"A*==\""), "msg"},
        {SDO("\"ri\": \"a\", \"cr\": \"CAE0001\", \"cbs\": 1, \"msg\": \"AA=\""), "msg"},
        {SDO("\"ri\": \"a\", \"cr\": \"CAE0001\", \"cbs\": 1, \"msg\": \"AB==\""), "msg"},
        {SDO("\"ri\": \"a\", \"cr\": \"CAE0001\", \"cbs\": 2, \"msg\": \"AA==\""), "cbs"},
        {SDO("\"ri\": \"a\", \"cr\": \"CAE0001\", \"cbs\": -1, \"msg\": \"AA==\""), "cbs"},
        {SDO("\"ri\": \"a\", \"cr\": \"CAE0009\", \"cbs\": 1, \"msg\": \"AA==\""), "cr"},
        {SDO("\"ri\": \"a/b\", \"cr\": \"CAE0001\", \"cbs\": 1, \"msg\": \"AA==\""), "ri"},
        {SDO("\"ri\": \"a\", \"cr\": \"CAE0001\", \"cbs\": 1, \"msg\": \"AA==\", \"ct\": \"x\""),
         "ct"},
        {SDO("\"ri\": \"a\", \"cr\": \"CAE0001\", \"cbs\": 1, \"msg\": \"AA==\", "
             "\"acpi\": [[[[[[[[1]]]]]]]]"),
         "nests"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_bad(SEA_MCS_CREATE, NULL, bad[i].body, strlen(bad[i].body), bad[i].names);
    /* nothing of that was stored */
    sea_obj *list = NULL;
    size_t n = 9;
    ck_assert_int_eq(sea_object_list(se, SEA_CLASS_DATA, &list, &n), SEA_OK);
    ck_assert_uint_eq(n, 0);
    sea_free(list);

    /* an oversized body is refused before it is parsed */
    size_t big = 1024 * 1024 + 1;
    char *huge = malloc(big + 1);
    ck_assert_ptr_nonnull(huge);
    memset(huge, ' ', big);
    huge[big] = '\0';
    expect_bad(SEA_MCS_CREATE, NULL, huge, big, "limit");
    free(huge);

    /* requests themselves */
    expect_bad(SEA_MCS_RETRIEVE, SDO_RI, "{}", 2, "no body");
    expect_bad(SEA_MCS_UPDATE, SDO_RI, NULL, 0, "needs a body");
    expect_bad(SEA_MCS_RETRIEVE, NULL, NULL, 0, "target");
    expect_bad(SEA_MCS_UPDATE, SDO_RI, SDO(""), strlen(SDO("")), "msg or acpi");
    expect_bad(SEA_MCS_CREATE, "x", SDO("\"ri\": \"a\""), strlen(SDO("\"ri\": \"a\"")), "ri");
}
END_TEST

START_TEST(test_request_checks)
{
    char *resp = NULL;
    int rsc = 0;
    /* not a TS-0016 resource type: 4000; one libsea does not serve (yet): 5001 */
    ck_assert_int_eq(run(SEA_MCS_RETRIEVE, "container", "x", AE, NULL, &resp, &rsc), SEA_ERR_ARGS);
    ck_assert_int_eq(rsc, 4000);
    ck_assert_ptr_nonnull(strstr(sea_last_error(NULL), "container"));
    sea_free(resp);
    ck_assert_int_eq(run(SEA_MCS_RETRIEVE, "SEReboot", "x", AE, NULL, &resp, &rsc),
                     SEA_ERR_UNSUPPORTED);
    ck_assert_int_eq(rsc, 5001);
    sea_free(resp);
    /* a bad operation code, a missing or malformed originator */
    ck_assert_int_eq(run((sea_mcs_op)7, "SE", NULL, AE, NULL, &resp, &rsc), SEA_ERR_ARGS);
    ck_assert_int_eq(rsc, 4000);
    sea_free(resp);
    ck_assert_int_eq(run(SEA_MCS_RETRIEVE, "SE", NULL, NULL, NULL, &resp, &rsc), SEA_ERR_ARGS);
    ck_assert_int_eq(rsc, 4000);
    sea_free(resp);
    ck_assert_int_eq(run(SEA_MCS_RETRIEVE, "SE", NULL, "C AE", NULL, &resp, &rsc), SEA_ERR_ARGS);
    sea_free(resp);
    /* NULL arguments */
    sea_mcs_request req = {.op = SEA_MCS_RETRIEVE, .resource_type = "SE", .originator = AE};
    ck_assert_int_eq(sea_mcs_execute(NULL, &req, &resp, &rsc), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_mcs_execute(se, NULL, &resp, &rsc), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_mcs_execute(se, &req, NULL, &rsc), SEA_ERR_ARGS);
    ck_assert_int_eq(sea_mcs_execute(se, &req, &resp, NULL), SEA_ERR_ARGS);
}
END_TEST

START_TEST(test_sdo_needs_login)
{
    create_fixture_sdo();
    ck_assert_int_eq(sea_logout(se), SEA_OK);
    char *resp = NULL;
    int rsc = 0;
    sea_rv r = run(SEA_MCS_RETRIEVE, "sensitiveDataObject", SDO_RI, AE, NULL, &resp, &rsc);
    ck_assert_int_ne(r, SEA_OK);
    ck_assert_int_ne(rsc / 1000, 2);
    ck_assert_ptr_null(strstr(resp, "AAECAwQFBgcICQoLDA0ODw"));
    sea_free(resp);
}
END_TEST

/* The function resources through the dispatcher (their handlers are tested one by one in
 * check_mcs_func.c): the root key, the RSC and the results. */
static struct json_object *ok_create(const char *type, const char *body, const char *root)
{
    char *resp = NULL;
    int rsc = 0;
    ck_assert_msg(run(SEA_MCS_CREATE, type, NULL, AE, body, &resp, &rsc) == SEA_OK, "%s: %s", type,
                  sea_last_error(NULL));
    ck_assert_int_eq(rsc, 2001);
    struct json_object *r = parse(resp);
    sea_free(resp);
    struct json_object *o = under(r, root);
    json_object_get(o);
    json_object_put(r);
    return o;
}

static const uint8_t *b64(struct json_object *o, const char *key, uint8_t *buf, int *len)
{
    struct json_object *v = NULL;
    ck_assert_msg(json_object_object_get_ex(o, key, &v), "no %s", key);
    const char *s = json_object_get_string(v);
    int n = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)strlen(s));
    ck_assert_int_ge(n, 0);
    size_t l = strlen(s);
    n -= (l >= 1 && s[l - 1] == '=') + (l >= 2 && s[l - 2] == '=');
    *len = n;
    return buf;
}

START_TEST(test_functions_through_dispatcher)
{
    /* hash of "abc" (FIPS 180-2 example): compared with OpenSSL's */
    struct json_object *o =
        ok_create("hash", "{\"m2m:hash\": {\"Halg\": \"SHA-256\", \"msg\": \"YWJj\"}}", "m2m:hash");
    uint8_t buf[512], want[32];
    int n = 0;
    b64(o, "Hv", buf, &n);
    ck_assert_int_eq(n, 32);
    ck_assert(EVP_Digest("abc", 3, want, NULL, EVP_sha256(), NULL));
    ck_assert_mem_eq(buf, want, 32);
    json_object_put(o);

    /* encrypt then decrypt with an AES key of the SE */
    sea_key_params kp = {.type = SEA_KEY_AES, .bits = 256, .label = "esprim"};
    sea_obj k;
    ck_assert_int_eq(sea_key_generate(se, &kp, &k, NULL), SEA_OK);
    o = ok_create("encrypt",
                  "{\"m2m:encrypt\": {\"Calg\": \"A256GCM\", \"kDt\": \"esprim\", "
                  "\"msg\": \"AAECAwQFBgcICQoLDA0ODw==\", \"aD\": \"YWFk\"}}",
                  "m2m:encrypt");
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"m2m:decrypt\": {\"Calg\": \"A256GCM\", \"kDt\": \"esprim\", \"msg\": \"%s\", "
             "\"iV\": \"%s\", \"aD\": \"YWFk\"}}",
             json_object_get_string(json_object_object_get(o, "cD")),
             json_object_get_string(json_object_object_get(o, "iV")));
    json_object_put(o);
    o = ok_create("decrypt", body, "m2m:decrypt");
    b64(o, "cD", buf, &n);
    ck_assert_int_eq(n, 16);
    ck_assert_mem_eq(buf, DATA16, 16);
    json_object_put(o);

    /* a changed associated data: the tag does not verify, nothing is returned */
    char *resp = NULL;
    int rsc = 0;
    char *aad = strstr(body, "YWFk");
    ck_assert_ptr_nonnull(aad);
    aad[0] = 'Z';
    ck_assert_int_eq(run(SEA_MCS_CREATE, "decrypt", NULL, AE, body, &resp, &rsc),
                     SEA_ERR_DATA_INVALID);
    ck_assert_int_eq(rsc / 1000, 4);
    ck_assert_ptr_null(strstr(resp, "AAECAwQFBgcICQoLDA0ODw"));
    sea_free(resp);

    /* a root key of another type than the request's */
    ck_assert_int_eq(run(SEA_MCS_CREATE, "hash", NULL, AE,
                         "{\"m2m:rand\": {\"rgT\": \"DRBG\", \"Dsz\": 8}}", &resp, &rsc),
                     SEA_ERR_ARGS);
    ck_assert_int_eq(rsc, 4000);
    sea_free(resp);

    /* an identity, then its authentication: the signature verifies with OpenSSL */
    o = ok_create("identity", "{\"m2m:identity\": {\"idN\": \"cse-id-key\"}}", "m2m:identity");
    ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "idN")), "cse-id-key");
    ck_assert_int_eq(
        strncmp(json_object_get_string(json_object_object_get(o, "idDt")), "ni:///sha-256;", 14),
        0);
    json_object_put(o);
    o = ok_create("authenticate",
                  "{\"m2m:authenticate\": {\"idN\": \"cse-id-key\", \"rAD\": \"Y2hhbGxlbmdl\"}}",
                  "m2m:authenticate");
    uint8_t sig[64];
    b64(o, "oAD", sig, &n);
    ck_assert_int_eq(n, 64);
    json_object_put(o);
    sea_obj priv;
    ck_assert_int_eq(sea_object_find(se, "cse-id-key", SEA_CLASS_PRIVATE_KEY, &priv), SEA_OK);
    uint8_t spki[256];
    size_t spki_len = sizeof(spki);
    ck_assert_int_eq(sea_public_key(se, priv, spki, &spki_len), SEA_OK);
    const uint8_t *p = spki;
    EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)spki_len);
    ck_assert_ptr_nonnull(pk);
    ECDSA_SIG *es = ECDSA_SIG_new();
    ck_assert(ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL)));
    unsigned char *der = NULL;
    int der_len = i2d_ECDSA_SIG(es, &der);
    ck_assert_int_gt(der_len, 0);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    ck_assert(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk) == 1);
    ck_assert_int_eq(EVP_DigestVerify(md, der, (size_t)der_len, (const uint8_t *)"challenge", 9),
                     1);
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    EVP_PKEY_free(pk);

    /* the SE as a connection endpoint is not offered */
    ck_assert_int_eq(run(SEA_MCS_CREATE, "connectionInstance", NULL, AE,
                         "{\"m2m:connectionInstance\": {\"dst\": \"//in.example.com/in-cse\"}}",
                         &resp, &rsc),
                     SEA_ERR_UNSUPPORTED);
    ck_assert_int_eq(rsc, 5001);
    sea_free(resp);
}
END_TEST

/* ---- review 5: the access decision for the function resources, identities, IVs ---- */

static sea_rv run_acp_type(struct acp_log *l, const char *type, const char *body, char **resp,
                           int *rsc)
{
    sea_mcs_request req = {.op = SEA_MCS_CREATE,
                           .resource_type = type,
                           .originator = AE,
                           .content = body,
                           .content_len = strlen(body),
                           .acp_check = acp_cb,
                           .acp_arg = l};
    return sea_mcs_execute(se, &req, resp, rsc);
}

START_TEST(test_function_types_ask_the_acp)
{
    static const char *const types[] = {
        "cipher", "encrypt",  "decrypt",      "signature",        "hash",
        "rand",   "identity", "authenticate", "secureConnection", "connectionInstance"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        struct acp_log l = {.allow = 0};
        char body[128], *resp = NULL;
        int rsc = 0;
        snprintf(body, sizeof(body), "{\"m2m:%s\": {}}", types[i]);
        ck_assert_msg(run_acp_type(&l, types[i], body, &resp, &rsc) == SEA_ERR_DENIED, "%s: %s",
                      types[i], sea_last_error(NULL));
        ck_assert_int_eq(rsc, 4103);
        ck_assert_int_eq(l.calls, 1);
        ck_assert_str_eq(l.type, types[i]);
        ck_assert_str_eq(l.originator, AE);
        ck_assert_int_eq(l.op, SEA_MCS_CREATE);
        ck_assert_str_eq(l.ids, ""); /* nothing stored: the parent's policy */
        sea_free(resp);
    }
    /* a refused signature with a real key: nothing signed */
    sea_key_params kp = {.type = SEA_KEY_EC_P256, .label = "victim", .usage = SEA_USE_SIGN};
    sea_obj k, pub;
    ck_assert_int_eq(sea_key_generate(se, &kp, &k, &pub), SEA_OK);
    struct acp_log l = {.allow = 0};
    char *resp = NULL;
    int rsc = 0;
    ck_assert_int_eq(run_acp_type(&l, "signature",
                                  "{\"m2m:signature\": {\"Salg\": \"ES256\", \"kDt\": \"victim\", "
                                  "\"msg\": \"YWJj\"}}",
                                  &resp, &rsc),
                     SEA_ERR_DENIED);
    ck_assert_int_eq(rsc, 4103);
    ck_assert_ptr_null(strstr(resp, "Sgn"));
    sea_free(resp);
    /* an allowing policy: the function runs */
    l = (struct acp_log){.allow = 1};
    ck_assert_int_eq(run_acp_type(&l, "hash",
                                  "{\"m2m:hash\": {\"Halg\": \"SHA-256\", \"msg\": \"YWJj\"}}",
                                  &resp, &rsc),
                     SEA_OK);
    ck_assert_int_eq(rsc, 2001);
    ck_assert_int_eq(l.calls, 1);
    ck_assert_str_eq(l.type, "hash");
    sea_free(resp);
}
END_TEST

START_TEST(test_authenticate_needs_an_identity)
{
    /* an ordinary key labelled like an identity (e.g. the CSE's TLS key) answers no challenge */
    sea_key_params kp = {.type = SEA_KEY_EC_P256, .label = "cse-tls", .usage = SEA_USE_SIGN};
    sea_obj k, pub;
    ck_assert_int_eq(sea_key_generate(se, &kp, &k, &pub), SEA_OK);
    char *resp = NULL;
    int rsc = 0;
    ck_assert_int_eq(
        run(SEA_MCS_CREATE, "authenticate", NULL, AE,
            "{\"m2m:authenticate\": {\"idN\": \"cse-tls\", \"rAD\": \"Y2hhbGxlbmdl\"}}", &resp,
            &rsc),
        SEA_ERR_DENIED);
    ck_assert_int_eq(rsc, 4103);
    ck_assert_ptr_null(strstr(resp, "oAD"));
    sea_free(resp);
    uint8_t sig[128];
    size_t n = sizeof(sig);
    ck_assert_int_eq(sea_identity_authenticate(se, "cse-tls", (const uint8_t *)"x", 1, sig, &n),
                     SEA_ERR_DENIED);
    ck_assert_ptr_nonnull(strstr(sea_last_error(NULL), "sea_identity_create"));
    /* the same key with an id that merely resembles the marker is no identity either */
    sea_key_params kp2 = {.type = SEA_KEY_EC_P256,
                          .label = "near",
                          .usage = SEA_USE_SIGN,
                          .id = (const uint8_t *)"sea-identity:nearX",
                          .id_len = 18};
    ck_assert_int_eq(sea_key_generate(se, &kp2, &k, &pub), SEA_OK);
    n = sizeof(sig);
    ck_assert_int_eq(sea_identity_authenticate(se, "near", (const uint8_t *)"x", 1, sig, &n),
                     SEA_ERR_DENIED);
    /* a real identity does answer */
    sea_identity_info id;
    ck_assert_int_eq(sea_identity_create(se, "real-id", SEA_KEY_EC_P256, &id), SEA_OK);
    n = sizeof(sig);
    ck_assert_int_eq(sea_identity_authenticate(se, "real-id", (const uint8_t *)"x", 1, sig, &n),
                     SEA_OK);
    ck_assert_uint_eq(n, 64);
}
END_TEST

START_TEST(test_encrypt_refuses_a_caller_iv)
{
    sea_key_params kp = {.type = SEA_KEY_AES, .bits = 256, .label = "esprim"};
    sea_obj k;
    ck_assert_int_eq(sea_key_generate(se, &kp, &k, NULL), SEA_OK);
    char *resp = NULL;
    int rsc = 0;
    ck_assert_int_eq(run(SEA_MCS_CREATE, "encrypt", NULL, AE,
                         "{\"m2m:encrypt\": {\"Calg\": \"A256GCM\", \"kDt\": \"esprim\", "
                         "\"msg\": \"AAECAwQFBgcICQoLDA0ODw==\", \"iV\": \"AAAAAAAAAAAAAAAA\"}}",
                         &resp, &rsc),
                     SEA_ERR_ARGS);
    ck_assert_int_eq(rsc, 4000);
    ck_assert_ptr_nonnull(strstr(resp, "the SE draws the IV"));
    ck_assert_ptr_null(strstr(resp, "cD"));
    sea_free(resp);
}
END_TEST

START_TEST(test_secure_connection_rn_is_not_a_psk_id)
{
    const char *kid = "kpsa1@example.com";
    sea_key_params kp = {.type = SEA_KEY_GENERIC_SECRET,
                         .bits = 256,
                         .label = "the-kpsa",
                         .id = (const uint8_t *)kid,
                         .id_len = strlen(kid),
                         .extractable = 1,
                         .clear_export = 1,
                         .suid = 12};
    sea_obj k;
    ck_assert_int_eq(sea_key_generate(se, &kp, &k, NULL), SEA_OK);
    uint8_t psk[64];
    size_t n = sizeof(psk);
    ck_assert_int_eq(sea_psk_find(se, SEA_PSK_KPSA, kid, strlen(kid), psk, &n), SEA_OK);
    char body[300], *resp = NULL;
    int rsc = 0;
    snprintf(body, sizeof(body),
             "{\"m2m:secureConnection\": {\"cnT\": \"TLS\", \"aCS\": "
             "\"TLS_PSK_WITH_AES_128_CCM_8\", \"rn\": \"%s\"}}",
             kid);
    ck_assert_msg(run(SEA_MCS_CREATE, "secureConnection", NULL, "CAttacker", body, &resp, &rsc) ==
                      SEA_OK,
                  "%s", sea_last_error(NULL));
    ck_assert_int_eq(rsc, 2001);
    sea_free(resp);
    /* the PSK identity still names exactly one key: the PSK handshake is not denied */
    n = sizeof(psk);
    ck_assert_msg(sea_psk_find(se, SEA_PSK_KPSA, kid, strlen(kid), psk, &n) == SEA_OK, "%s",
                  sea_last_error(NULL));
    ck_assert_uint_eq(n, 32);
    /* the connection key carries "sea-conn:" + rn as its CKA_ID */
    sea_obj *list = NULL;
    size_t count = 0, found = 0;
    ck_assert_int_eq(sea_object_list(se, SEA_CLASS_SECRET_KEY, &list, &count), SEA_OK);
    for (size_t i = 0; i < count; i++) {
        sea_object_info oi;
        ck_assert_int_eq(sea_object_info_get(se, list[i], &oi), SEA_OK);
        if (oi.id_len == 9 + strlen(kid) && memcmp(oi.id, "sea-conn:", 9) == 0 &&
            memcmp(oi.id + 9, kid, strlen(kid)) == 0)
            found++;
    }
    sea_free(list);
    ck_assert_uint_eq(found, 1);
}
END_TEST

/* The serialiser of libsea's responses writes what json-c would (PLAIN, no slash escape). */
static void same_as_jsonc(const char *resp)
{
    struct json_object *j = json_tokener_parse(resp);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(resp, json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(j);
}

START_TEST(test_response_text)
{
    char *resp = NULL;
    int rsc = 0;
    /* an error body with quotes and a slash in its message */
    ck_assert_int_eq(run(SEA_MCS_CREATE, "hash", NULL, AE,
                         "{\"m2m:hash\": {\"Halg\": \"SHA/\\\"x\\u0001\", \"msg\": \"YWJj\"}}",
                         &resp, &rsc),
                     SEA_ERR_ARGS);
    same_as_jsonc(resp);
    sea_free(resp);
    /* a data object with acpi (array), cbs (int), timestamps */
    const char *body = "{\"m2m:sensitiveDataObject\": {\"ri\": \"sdo9\", \"cr\": null, \"cbs\": 3, "
                       "\"msg\": \"YWJj\", \"acpi\": [\"acp/1\", \"acp2\"]}}";
    sea_mcs_request req = {.op = SEA_MCS_CREATE,
                           .resource_type = "sensitiveDataObject",
                           .originator = AE,
                           .content = body,
                           .content_len = strlen(body),
                           .acp_check = acp_cb};
    struct acp_log l = {.allow = 1};
    req.acp_arg = &l;
    ck_assert_msg(sea_mcs_execute(se, &req, &resp, &rsc) == SEA_OK, "%s", sea_last_error(NULL));
    same_as_jsonc(resp);
    ck_assert_ptr_nonnull(strstr(resp, "\"acp/1\""));
    sea_free(resp);
    req = (sea_mcs_request){.op = SEA_MCS_RETRIEVE,
                            .resource_type = "sensitiveDataObject",
                            .resource_id = "sdo9",
                            .originator = AE,
                            .acp_check = acp_cb,
                            .acp_arg = &l};
    ck_assert_int_eq(sea_mcs_execute(se, &req, &resp, &rsc), SEA_OK);
    same_as_jsonc(resp);
    ck_assert_ptr_nonnull(strstr(resp, "\"msg\":\"YWJj\""));
    sea_free(resp);
    /* a body with a NUL after its JSON value is refused (the NUL is no whitespace) */
    static const char nul[] = "{\"m2m:hash\": {\"Halg\": \"SHA-256\", \"msg\": \"YWJj\"}}\0";
    req = (sea_mcs_request){.op = SEA_MCS_CREATE,
                            .resource_type = "hash",
                            .originator = AE,
                            .content = nul,
                            .content_len = sizeof(nul) - 1};
    ck_assert_int_eq(sea_mcs_execute(se, &req, &resp, &rsc), SEA_ERR_ARGS);
    ck_assert_ptr_nonnull(strstr(resp, "text after"));
    sea_free(resp);
}
END_TEST

/* ---- review 5, finding 10: the decision is on the object that is then used ---- */

struct swap {
    int calls;
    int swapped;
};

/* Allows acp1 only; on its first call replaces sdo1 by another creator's object (acp2). */
static int swap_cb(void *arg, const char *originator, sea_mcs_op op, const char *type,
                   const char *const *ids)
{
    struct swap *w = arg;
    (void)originator;
    (void)op;
    (void)type;
    if (w->calls++ == 0) {
        ck_assert_int_eq(sea_data_delete(se, "sdo1"), SEA_OK);
        ck_assert_int_eq(sea_data_create(se, "sdo1", "CEvil", "acp2", (const uint8_t *)"EVIL", 4),
                         SEA_OK);
        w->swapped = 1;
    }
    return ids[0] && strcmp(ids[0], "acp1") == 0 && !ids[1];
}

static void swap_case(sea_mcs_op op, const char *body)
{
    ck_assert_int_eq(sea_data_create(se, "sdo1", AE, "acp1", DATA16, 16), SEA_OK);
    struct swap w = {0};
    sea_mcs_request req = {.op = op,
                           .resource_type = "sensitiveDataObject",
                           .resource_id = "sdo1",
                           .originator = AE,
                           .content = body,
                           .content_len = body ? strlen(body) : 0,
                           .acp_check = swap_cb,
                           .acp_arg = &w};
    char *resp = NULL;
    int rsc = 0;
    ck_assert_int_eq(sea_mcs_execute(se, &req, &resp, &rsc), SEA_ERR_DENIED);
    ck_assert_int_eq(rsc, 4103);
    ck_assert_int_eq(w.swapped, 1);
    ck_assert_ptr_null(strstr(resp, "RVZJTA")); /* base64 of EVIL */
    sea_free(resp);
    /* the other creator's object is untouched */
    uint8_t buf[32];
    sea_data_info info;
    size_t blen = sizeof(buf);
    ck_assert_int_eq(sea_data_retrieve(se, "sdo1", buf, &blen, &info), SEA_OK);
    ck_assert_uint_eq(blen, 4);
    ck_assert_mem_eq(buf, "EVIL", 4);
    ck_assert_str_eq(info.creator, "CEvil");
    ck_assert_int_eq(sea_data_delete(se, "sdo1"), SEA_OK);
}

START_TEST(test_sdo_decision_on_the_object_used)
{
    swap_case(SEA_MCS_RETRIEVE, NULL);
    swap_case(SEA_MCS_UPDATE, "{\"m2m:sensitiveDataObject\": {\"msg\": \"AAAA\"}}");
    swap_case(SEA_MCS_DELETE, NULL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("mcs");
    TCase *t = tcase_create("mcs");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 60);
    tcase_add_test(t, test_se_resource_matches_fixture);
    tcase_add_test(t, test_se_resource_without_links);
    tcase_add_test(t, test_se_parse_rejects);
    tcase_add_test(t, test_se_id_parse);
    tcase_add_test(t, test_mcs_se_retrieve);
    tcase_add_test(t, test_sdo_create_and_conflict);
    tcase_add_test(t, test_sdo_retrieve_matches_fixture);
    tcase_add_test(t, test_sdo_update_msg);
    tcase_add_test(t, test_sdo_update_read_only_refused);
    tcase_add_test(t, test_sdo_delete);
    tcase_add_test(t, test_sdo_other_originator_refused);
    tcase_add_test(t, test_sdo_acp_callback);
    tcase_add_test(t, test_sdo_bad_bodies);
    tcase_add_test(t, test_request_checks);
    tcase_add_test(t, test_sdo_needs_login);
    tcase_add_test(t, test_functions_through_dispatcher);
    tcase_add_test(t, test_function_types_ask_the_acp);
    tcase_add_test(t, test_authenticate_needs_an_identity);
    tcase_add_test(t, test_encrypt_refuses_a_caller_iv);
    tcase_add_test(t, test_secure_connection_rn_is_not_a_psk_id);
    tcase_add_test(t, test_response_text);
    tcase_add_test(t, test_sdo_decision_on_the_object_used);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

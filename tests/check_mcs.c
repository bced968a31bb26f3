/* The TS-0016 resources as JSON (doc/mcs-json.md): the <SE> resource and its parser against the
 * golden fixtures in tests/mcs/ (compared by parsing with json-c, not as text), M2M-SE-ID parsing
 * with the vendor codes, <sensitiveDataObject> CRUD through sea_mcs_execute with its response
 * status codes, the creator rule and the ACP callback, and malformed bodies. */
#include <check.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sea/sea.h"

#ifndef MCS_FIXTURES
#define MCS_FIXTURES "tests/mcs"
#endif

static char dir[256], conf[300];
static sea_ctx *ctx;
static sea_se *se;

#define SO     "so-secret-1"
#define PIN    "user-pin-1"
#define SE_ID  "40123456789ABCDE"
#define AE     "CAE0001"
#define OTHER  "CAE0002"
#define SDO_RI "sdo-ke-0001"

static const uint8_t DATA16[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/sea-mcs-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(conf, sizeof(conf), "%s/sea.conf", dir);
    FILE *f = fopen(conf, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "[device soft]\nbackend = soft\npath = %s/store\nkdf_iterations = 1000\n", dir);
    fclose(f);
    ck_assert_int_eq(sea_open(&ctx, conf), SEA_OK);
    sea_se_params p = {.name = "mcs",
                       .se_id = SE_ID,
                       .security_level = -1,
                       .so_pin = SO,
                       .so_pin_len = strlen(SO),
                       .user_pin = PIN,
                       .user_pin_len = strlen(PIN)};
    sea_se_info info;
    ck_assert_int_eq(sea_se_create(ctx, &p, &info), SEA_OK);
    ck_assert_int_eq(sea_se_open(ctx, "mcs", &se), SEA_OK);
    ck_assert_int_eq(sea_login(se, SEA_USER, PIN, strlen(PIN)), SEA_OK);
}

static void teardown(void)
{
    sea_se_close(se);
    sea_close(ctx);
    se = NULL;
    ctx = NULL;
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
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
        ck_assert_int_eq(sea_se_resource_parse(bad[i].json, strlen(bad[i].json), &r),
                         SEA_ERR_ARGS);
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
    ck_assert_int_eq(
        run(SEA_MCS_RETRIEVE, "sensitiveDataObject", SDO_RI, OTHER, NULL, &resp, &rsc),
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
    ck_assert_msg(strstr(sea_last_error(NULL), names) != NULL, "'%s' does not name '%s' (body %.80s)",
                  sea_last_error(NULL), names, body ? body : "(null)");
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
        {SDO("\"ri\": \"a\", \"cr\": \"CAE0001\", \"cbs\": 1, \"msg\": \"AA==\"") " x",
         "not JSON"},
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

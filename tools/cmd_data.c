/* sea-tool's data command: TS-0016 <sensitiveDataObject>s in the SE — put (create, or replace
 * the data with --replace), get (the data, or its attributes and the data in base64 with
 * --json) and rm. The data is sensitive: the tool's copies are wiped. */
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static const char data_help[] =
    "Usage: sea-tool data put --id RESOURCE_ID --creator AE_OR_CSE_ID [--acp IDS]\n"
    "                         (--in FILE|- | --value STRING) [--replace]\n"
    "       sea-tool data get --id RESOURCE_ID [--out FILE]\n"
    "       sea-tool data rm --id RESOURCE_ID\n"
    "Store, read and delete sensitive data objects (TS-0016 7.4) in the SE; the user PIN is\n"
    "needed.\n\n"
    "  --id RESOURCE_ID   the object's resourceID, chosen by its creator (1 to 255 bytes),\n"
    "                     or its PKCS#11 URI (pkcs11:token=SE;object=RESOURCE_ID;type=data)\n"
    "  --creator ID       its creator: the AE-ID or CSE-ID that owns it\n"
    "  --acp IDS          its accessControlPolicyIDs, space separated\n"
    "  --in FILE          the data (- for stdin), or --value STRING\n"
    "  --replace          replace the data of an existing object (its creator and ACP IDs stay)\n"
    "  --out FILE         get: write the data to FILE (mode 0600) instead of stdout\n\n";

enum { OPT_ID = 256, OPT_CREATOR, OPT_ACP, OPT_IN, OPT_VALUE, OPT_REPLACE, OPT_OUT };

struct data_args {
    const char *id, *creator, *acp, *in, *value, *out;
    bool replace;
};

static int data_options(struct tool *t, int argc, char **argv, const struct option *opts,
                        struct data_args *a)
{
    int c;
    memset(a, 0, sizeof(*a));
    while ((c = tool_getopt(t, argc, argv, opts)) != -1) {
        switch (c) {
        case 'h':
            return 'h';
        case OPT_ID:
            a->id = optarg;
            break;
        case OPT_CREATOR:
            a->creator = optarg;
            break;
        case OPT_ACP:
            a->acp = optarg;
            break;
        case OPT_IN:
            a->in = optarg;
            break;
        case OPT_VALUE:
            a->value = optarg;
            break;
        case OPT_REPLACE:
            a->replace = true;
            break;
        case OPT_OUT:
            a->out = optarg;
            break;
        default:
            return TOOL_USAGE;
        }
    }
    if (!a->id || !*a->id)
        return tool_usage(t, "--id RESOURCE_ID is required");
    if (tool_is_uri(a->id)) {
        /* pkcs11:...;object=RESOURCE_ID;type=data, as 'sea-tool info' prints it: the label of
         * a data object is its resourceID; the token attributes choose the SE. */
        static struct tool_uri u; /* one command per run */
        int rc = tool_uri_parse(t, a->id, &u);
        if (rc != TOOL_OK)
            return rc;
        if (!u.has_object || !*u.object)
            return tool_usage(t, "--id URI: name the data object with object=RESOURCE_ID");
        if (u.has_type && strcmp(u.type, "data") != 0)
            return tool_usage(t, "--id URI: type=%s is not a data object", u.type);
        if (u.has_id)
            return tool_usage(t, "--id URI: data objects have no id=; use object=");
        t->uri_hint = a->id;
        a->id = u.object;
    }
    return -1;
}

static int data_put(struct tool *t, int argc, char **argv)
{
    static const struct option opts[] = {
        {"id", required_argument, NULL, OPT_ID},
        {"creator", required_argument, NULL, OPT_CREATOR},
        {"acp", required_argument, NULL, OPT_ACP},
        {"in", required_argument, NULL, OPT_IN},
        {"value", required_argument, NULL, OPT_VALUE},
        {"replace", no_argument, NULL, OPT_REPLACE},
        {NULL, 0, NULL, 0},
    };
    struct data_args a;
    sea_se *se = NULL;
    sea_se_info info;
    uint8_t *data = NULL;
    size_t len = 0;
    bool replaced = false;
    int rc = data_options(t, argc, argv, opts, &a);
    if (rc == 'h') {
        printf("%s%s", data_help, tool_global_help);
        return TOOL_OK;
    }
    if (rc != -1)
        return rc;
    if (!a.creator || !*a.creator)
        return tool_usage(t, "--creator AE_OR_CSE_ID is required");
    if (!a.in == !a.value)
        return tool_usage(t, "give exactly one of --in FILE and --value STRING");
    if (a.in && (rc = tool_read_file(t, a.in, &data, &len)) != TOOL_OK)
        goto out;
    if (a.value) {
        /* take the data out of argv (ps, /proc) before the slow login */
        len = strlen(a.value);
        if (!(data = malloc(len ? len : 1))) {
            rc = tool_fail(t, SEA_ERR_NO_MEMORY, "reading --value");
            goto out;
        }
        memcpy(data, a.value, len);
        explicit_bzero((char *)a.value, len);
        a.value = NULL;
    }
    if ((rc = tool_open_se(t, true, &se, &info)) != TOOL_OK)
        goto out;
    const uint8_t *p = data;
    size_t n = len;
    sea_rv rv = sea_data_create(se, a.id, a.creator, a.acp, p, n);
    if (rv == SEA_ERR_EXISTS && a.replace) {
        rv = sea_data_update(se, a.id, p, n);
        replaced = true;
    }
    if (rv != SEA_OK) {
        rc = tool_fail(t, rv, "%s the data object '%s'", replaced ? "replacing" : "storing", a.id);
        goto out;
    }
    if (t->json) {
        json_object_begin(&t->j, NULL);
        json_string(&t->j, "resourceID", a.id);
        json_uint(&t->j, "cbs", n);
        json_bool(&t->j, "replaced", replaced);
        json_object_end(&t->j);
        json_finish(&t->j);
    } else {
        printf("%s data object %s (%zu bytes) in SE %s\n", replaced ? "replaced" : "stored", a.id,
               n, info.name);
    }
out:
    if (a.value) /* the copy in argv, if we stopped before taking it */
        explicit_bzero((char *)a.value, strlen(a.value));
    tool_free_wiped(data, len);
    sea_se_close(se);
    return rc;
}

static void json_acp(struct json *j, const char *ids)
{
    json_array_begin(j, "accessControlPolicyIDs");
    while (*ids) {
        size_t n = strcspn(ids, " ");
        if (n)
            json_string_n(j, NULL, ids, n);
        ids += n;
        ids += strspn(ids, " ");
    }
    json_array_end(j);
}

static int data_get(struct tool *t, int argc, char **argv)
{
    static const struct option opts[] = {
        {"id", required_argument, NULL, OPT_ID},
        {"out", required_argument, NULL, OPT_OUT},
        {NULL, 0, NULL, 0},
    };
    struct data_args a;
    sea_se *se = NULL;
    sea_se_info info;
    sea_data_info di;
    uint8_t *data = NULL;
    size_t len = 0, cap = 0;
    char ct[16], lt[16];
    int rc = data_options(t, argc, argv, opts, &a);
    if (rc == 'h') {
        printf("%s%s", data_help, tool_global_help);
        return TOOL_OK;
    }
    if (rc != -1)
        return rc;
    if (t->json && a.out && strcmp(a.out, "-") == 0)
        return tool_usage(t, "--out - and --json both write to stdout");
    if ((rc = tool_open_se(t, true, &se, &info)) != TOOL_OK)
        goto out;
    sea_rv rv = sea_data_retrieve(se, a.id, NULL, &cap, NULL);
    if (rv == SEA_OK) {
        len = cap;
        data = malloc(cap ? cap : 1);
        rv = data ? sea_data_retrieve(se, a.id, data, &len, &di) : SEA_ERR_NO_MEMORY;
    }
    if (rv != SEA_OK) {
        rc = tool_fail(t, rv, "reading the data object '%s'", a.id);
        goto out;
    }
    if ((a.out || !t->json) && (rc = tool_write_file(t, a.out ? a.out : "-", data, len, 0600)))
        goto out;
    if (t->json) {
        tool_timestamp(di.creation_time, ct);
        tool_timestamp(di.last_modified, lt);
        json_object_begin(&t->j, NULL);
        json_string(&t->j, "resourceID", di.resource_id);
        json_string(&t->j, "creator", di.creator);
        json_acp(&t->j, di.acp_ids);
        json_uint(&t->j, "cbs", di.size);
        json_string(&t->j, "creationTime", ct);
        json_string(&t->j, "lastModifiedTime", lt);
        json_base64(&t->j, "data", data, len);
        json_object_end(&t->j);
        json_finish(&t->j);
    }
out:
    tool_free_wiped(data, cap);
    sea_se_close(se);
    return rc;
}

static int data_rm(struct tool *t, int argc, char **argv)
{
    static const struct option opts[] = {
        {"id", required_argument, NULL, OPT_ID},
        {NULL, 0, NULL, 0},
    };
    struct data_args a;
    sea_se *se = NULL;
    sea_se_info info;
    int rc = data_options(t, argc, argv, opts, &a);
    if (rc == 'h') {
        printf("%s%s", data_help, tool_global_help);
        return TOOL_OK;
    }
    if (rc != -1)
        return rc;
    if ((rc = tool_open_se(t, true, &se, &info)) != TOOL_OK)
        goto out;
    sea_rv rv = sea_data_delete(se, a.id);
    if (rv != SEA_OK) {
        rc = tool_fail(t, rv, "deleting the data object '%s'", a.id);
        goto out;
    }
    if (t->json) {
        json_object_begin(&t->j, NULL);
        json_string(&t->j, "deleted", a.id);
        json_object_end(&t->j);
        json_finish(&t->j);
    } else {
        printf("deleted data object %s from SE %s\n", a.id, info.name);
    }
out:
    sea_se_close(se);
    return rc;
}

int cmd_data(struct tool *t, int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(struct tool *t, int argc, char **argv);
    } subs[] = {{"put", data_put}, {"get", data_get}, {"rm", data_rm}};
    /* argv[0] is "data", argv[1] the subcommand: it becomes argv[0] of its own options */
    if (argc < 2)
        return tool_usage(t, "put, get or rm?");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        printf("%s%s", data_help, tool_global_help);
        return TOOL_OK;
    }
    for (size_t k = 0; k < sizeof(subs) / sizeof(subs[0]); k++)
        if (strcmp(argv[1], subs[k].name) == 0)
            return subs[k].run(t, argc - 1, argv + 1);
    return tool_usage(t, "unknown data command '%s' (put, get or rm)", argv[1]);
}

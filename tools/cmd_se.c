/* sea-tool's SE commands: list (the TS-0016 <SE> descriptors), info (library, configuration,
 * devices, SEs and the objects of one SE), init (create and personalise an SE: the enrolment
 * step) and delete. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

/* ---- descriptors ---- */

static const char *lifecycle_name(unsigned lc)
{
    switch (lc) {
    case SEA_LC_PERSONALIZATION:
        return "personalization";
    case SEA_LC_OPERATIONAL:
        return "operational";
    case SEA_LC_BLOCKED:
        return "blocked";
    default:
        return "unknown";
    }
}

static const char *se_type_name(unsigned type)
{
    switch (type) {
    case SEA_SE_UICC:
        return "UICC";
    case SEA_SE_GP_SE:
        return "GlobalPlatform secure element";
    case SEA_SE_GP_TEE:
        return "GlobalPlatform TEE";
    case SEA_SE_SOFTWARE:
        return "software security library";
    default:
        return "vendor-specific";
    }
}

/* The TS-0016 short names for the standard fields (sID, seT, seL), TS-0004's ct. */
static void json_se(struct json *j, const char *key, const sea_se_info *s)
{
    char ts[16];
    tool_timestamp(s->created, ts);
    json_object_begin(j, key);
    json_string(j, "name", s->name);
    json_string(j, "sID", s->se_id);
    json_uint(j, "seT", s->se_type);
    json_uint(j, "seL", s->security_level);
    json_string(j, "lifecycle", lifecycle_name(s->lifecycle));
    json_string(j, "backend", s->backend);
    json_string(j, "device", s->device);
    json_uint(j, "slotId", s->slot_id);
    json_string(j, "ct", ts);
    json_object_begin(j, "pin");
    json_bool(j, "userSet", s->pin_flags & SEA_PIN_USER_SET);
    json_uint(j, "userTriesLeft", s->user_tries_left);
    json_uint(j, "soTriesLeft", s->so_tries_left);
    json_uint(j, "maxTries", s->max_tries);
    json_bool(j, "userLocked", s->pin_flags & SEA_PIN_USER_LOCKED);
    json_bool(j, "userCountLow", s->pin_flags & SEA_PIN_USER_COUNT_LOW);
    json_bool(j, "userFinalTry", s->pin_flags & SEA_PIN_USER_FINAL_TRY);
    json_bool(j, "soLocked", s->pin_flags & SEA_PIN_SO_LOCKED);
    json_bool(j, "soCountLow", s->pin_flags & SEA_PIN_SO_COUNT_LOW);
    json_bool(j, "soFinalTry", s->pin_flags & SEA_PIN_SO_FINAL_TRY);
    json_object_end(j);
    json_object_end(j);
}

static void print_se(const sea_se_info *s)
{
    char ts[16];
    tool_timestamp(s->created, ts);
    printf("SE %s\n", s->name);
    printf("  sID:       %s\n", s->se_id);
    printf("  seT:       %u (%s)\n", s->se_type, se_type_name(s->se_type));
    printf("  seL:       %u\n", s->security_level);
    printf("  lifecycle: %s\n", lifecycle_name(s->lifecycle));
    printf("  device:    %s (backend %s), PKCS#11 slot %lu\n", s->device, s->backend, s->slot_id);
    printf("  created:   %s\n", ts);
    if (s->pin_flags & SEA_PIN_USER_LOCKED)
        printf("  user PIN:  locked\n");
    else if (s->pin_flags & SEA_PIN_USER_SET)
        printf("  user PIN:  set, %u of %u tries left\n", s->user_tries_left, s->max_tries);
    else
        printf("  user PIN:  not set\n");
    if (s->pin_flags & SEA_PIN_SO_LOCKED)
        printf("  SO PIN:    locked\n");
    else
        printf("  SO PIN:    %u of %u tries left\n", s->so_tries_left, s->max_tries);
}

/* ---- list ---- */

static const char list_help[] = "Usage: sea-tool list [--json]\n"
                                "List the SEs of every device with their TS-0016 descriptor.\n\n";

int cmd_list(struct tool *t, int argc, char **argv)
{
    sea_ctx *ctx;
    sea_se_info *list = NULL;
    size_t n = 0;
    int c, rc;
    while ((c = tool_getopt(t, argc, argv, NULL)) != -1) {
        if (c == 'h') {
            printf("%s%s", list_help, tool_global_help);
            return TOOL_OK;
        }
        return TOOL_USAGE;
    }
    if ((rc = tool_ctx(t, &ctx)) != TOOL_OK)
        goto out;
    sea_rv rv = sea_se_list(ctx, &list, &n);
    if (rv != SEA_OK) {
        rc = tool_fail(t, rv, "listing the SEs");
        goto out;
    }
    if (t->json) {
        json_object_begin(&t->j, NULL);
        json_array_begin(&t->j, "ses");
        for (size_t i = 0; i < n; i++)
            json_se(&t->j, NULL, &list[i]);
        json_array_end(&t->j);
        json_object_end(&t->j);
        json_finish(&t->j);
    } else if (n == 0) {
        printf("no SE yet (create one with 'sea-tool init --name NAME')\n");
    } else {
        for (size_t i = 0; i < n; i++)
            print_se(&list[i]);
    }
out:
    sea_free(list);
    return rc;
}

/* ---- info ---- */

static const char info_help[] =
    "Usage: sea-tool info [--se NAME] [--login] [--json]\n"
    "Show the library version, the configuration in use, the devices with their status, the\n"
    "SEs and, with --se, the objects of that SE. The private objects are listed when a user PIN\n"
    "is given (--pin-file or $SEA_PIN), or asked for with --login.\n\n"
    "  --login            ask for the user PIN if none is given\n\n";

/* The configuration libsea's search order picks (sea.conf(5)); keep in step with it. */
/* The configuration libsea is using, as the library itself reports it. */
static void config_in_use(sea_ctx *ctx, char *out, size_t size, bool *embedded)
{
    int e = 0;
    const char *p = sea_config_path(ctx, &e);
    snprintf(out, size, "%s", p ? p : "");
    *embedded = e != 0;
}

/* The objects of the --se SE, logged in when a PIN is at hand (or --login asks for one). */
static int list_objects(struct tool *t, bool login)
{
    sea_se *se = NULL;
    sea_se_info info;
    sea_obj *objs = NULL;
    size_t n = 0;
    bool as_user = login || pin_available(t, PIN_USER);
    int rc = tool_open_se(t, as_user, &se, &info);
    if (rc != TOOL_OK)
        goto out;
    sea_rv rv = sea_object_list(se, SEA_CLASS_ANY, &objs, &n);
    if (rv != SEA_OK) {
        rc = tool_fail(t, rv, "listing the objects of the SE '%s'", info.name);
        goto out;
    }
    if (t->json) {
        json_bool(&t->j, "loggedIn", as_user);
        json_array_begin(&t->j, "objects");
    } else {
        printf("Objects of SE %s%s:\n", info.name,
               as_user ? "" : " (public ones only: give a user PIN to see all)");
    }
    for (size_t i = 0; i < n; i++) {
        sea_object_info o;
        rv = sea_object_info_get(se, objs[i], &o);
        if (rv != SEA_OK) {
            rc = tool_fail(t, rv, "reading an object of the SE '%s'", info.name);
            goto out;
        }
        if (t->json)
            tool_json_object(&t->j, NULL, &o);
        else
            tool_print_object(&o);
    }
    if (t->json)
        json_array_end(&t->j);
    else if (n == 0)
        printf("  (none)\n");
out:
    sea_free(objs);
    sea_se_close(se);
    return rc;
}

int cmd_info(struct tool *t, int argc, char **argv)
{
    enum { OPT_LOGIN = 256 };
    static const struct option opts[] = {
        {"login", no_argument, NULL, OPT_LOGIN},
        {NULL, 0, NULL, 0},
    };
    sea_ctx *ctx;
    sea_device_info *devs = NULL;
    sea_se_info *ses = NULL;
    size_t ndev = 0, nse = 0;
    bool login = false, embedded;
    char conf[4096];
    int c, rc;
    while ((c = tool_getopt(t, argc, argv, opts)) != -1) {
        if (c == 'h') {
            printf("%s%s", info_help, tool_global_help);
            return TOOL_OK;
        }
        if (c != OPT_LOGIN)
            return TOOL_USAGE;
        login = true;
    }
    if ((rc = tool_ctx(t, &ctx)) != TOOL_OK)
        goto out;
    sea_rv rv = sea_device_list(ctx, &devs, &ndev);
    if (rv != SEA_OK) {
        rc = tool_fail(t, rv, "listing the devices");
        goto out;
    }
    if ((rv = sea_se_list(ctx, &ses, &nse)) != SEA_OK) {
        rc = tool_fail(t, rv, "listing the SEs");
        goto out;
    }
    config_in_use(ctx, conf, sizeof(conf), &embedded);
    if (t->json) {
        json_object_begin(&t->j, NULL);
        json_string(&t->j, "version", sea_version());
        json_string(&t->j, "config", conf);
        json_bool(&t->j, "embeddedDefault", embedded);
        json_array_begin(&t->j, "devices");
        for (size_t i = 0; i < ndev; i++) {
            json_object_begin(&t->j, NULL);
            json_string(&t->j, "name", devs[i].name);
            json_string(&t->j, "backend", devs[i].backend);
            json_string(&t->j, "status", sea_rv_name(devs[i].status));
            if (devs[i].status != SEA_OK)
                json_string(&t->j, "error", devs[i].error);
            json_uint(&t->j, "seCount", devs[i].se_count);
            json_uint(&t->j, "maxSe", devs[i].max_se);
            json_object_end(&t->j);
        }
        json_array_end(&t->j);
        json_array_begin(&t->j, "ses");
        for (size_t i = 0; i < nse; i++)
            json_se(&t->j, NULL, &ses[i]);
        json_array_end(&t->j);
    } else {
        printf("libsea %s\nconfiguration: %s\ndevices:\n", sea_version(), conf);
        for (size_t i = 0; i < ndev; i++) {
            printf("  %-12s backend %-6s ", devs[i].name, devs[i].backend);
            if (devs[i].status == SEA_OK)
                printf("ok, %u of %u SEs\n", devs[i].se_count, devs[i].max_se);
            else
                printf("unavailable (%s): %s\n", sea_rv_name(devs[i].status), devs[i].error);
        }
        printf("SEs:%s\n", nse ? "" : " none");
        for (size_t i = 0; i < nse; i++)
            printf("  %-16s sID %-16s seT %u seL %u %s on %s\n", ses[i].name, ses[i].se_id,
                   ses[i].se_type, ses[i].security_level, lifecycle_name(ses[i].lifecycle),
                   ses[i].device);
    }
    if (t->se && (rc = list_objects(t, login)) != TOOL_OK)
        goto out;
    if (t->json) {
        json_object_end(&t->j);
        json_finish(&t->j);
    }
out:
    sea_free(devs);
    sea_free(ses);
    return rc;
}

/* ---- init ---- */

static const char init_help[] =
    "Usage: sea-tool init --name NAME [--device DEV] [--se-id ID] [--level N] [--max-tries N]\n"
    "Create and personalise an SE: set its SO PIN and its user PIN (from --so-pin-file and\n"
    "--pin-file, $SEA_SO_PIN and $SEA_PIN, else asked twice each on the terminal).\n\n"
    "  --name NAME        the SE's name (1 to 32 printable characters; its token label)\n"
    "  --device DEV       the device of sea.conf to hold it (default: the first that can)\n"
    "  --se-id ID         its M2M-SE-ID: SE type code + [0-9A-Za-z._-], at most 16 characters\n"
    "                     (default: generated)\n"
    "  --level N          its security level (seL) 0..3 (default: what the device can claim)\n"
    "  --max-tries N      wrong PINs before a PIN locks (default: [sea] pin_retries)\n\n";

int cmd_init(struct tool *t, int argc, char **argv)
{
    enum { OPT_NAME = 256, OPT_DEVICE, OPT_SE_ID, OPT_LEVEL, OPT_MAX_TRIES };
    static const struct option opts[] = {
        {"name", required_argument, NULL, OPT_NAME},
        {"device", required_argument, NULL, OPT_DEVICE},
        {"se-id", required_argument, NULL, OPT_SE_ID},
        {"level", required_argument, NULL, OPT_LEVEL},
        {"max-tries", required_argument, NULL, OPT_MAX_TRIES},
        {NULL, 0, NULL, 0},
    };
    sea_se_params p = {.security_level = -1};
    struct pin so, user;
    sea_se_info info;
    sea_ctx *ctx;
    unsigned long v;
    char what[64];
    int c, rc;
    memset(&so, 0, sizeof(so));
    memset(&user, 0, sizeof(user));
    while ((c = tool_getopt(t, argc, argv, opts)) != -1) {
        switch (c) {
        case 'h':
            printf("%s%s", init_help, tool_global_help);
            return TOOL_OK;
        case OPT_NAME:
            p.name = optarg;
            break;
        case OPT_DEVICE:
            p.device = optarg;
            break;
        case OPT_SE_ID:
            p.se_id = optarg;
            break;
        case OPT_LEVEL:
            if (!tool_parse_ulong(optarg, 3, &v))
                return tool_usage(t, "--level takes 0, 1, 2 or 3");
            p.security_level = (int)v;
            break;
        case OPT_MAX_TRIES:
            if (!tool_parse_ulong(optarg, 1000, &v) || v == 0)
                return tool_usage(t, "--max-tries takes a number from 1");
            p.max_tries = (unsigned)v;
            break;
        default:
            return TOOL_USAGE;
        }
    }
    if (!p.name || !*p.name)
        return tool_usage(t, "--name NAME is required");
    if ((rc = tool_ctx(t, &ctx)) != TOOL_OK)
        goto out;
    /* libsea allows two SEs of one name; an operator naming them with --se would not. */
    sea_rv found = sea_se_find(ctx, p.name, &info);
    if (found == SEA_OK || found == SEA_ERR_EXISTS) {
        rc = tool_error(t, "there is already an SE named '%s': choose another name", p.name);
        goto out;
    }
    snprintf(what, sizeof(what), " for SE '%.32s'", p.name);
    if ((rc = pin_get(t, PIN_SO, true, what, &so)) != TOOL_OK ||
        (rc = pin_get(t, PIN_USER, true, what, &user)) != TOOL_OK)
        goto out;
    p.so_pin = so.v;
    p.so_pin_len = so.len;
    p.user_pin = user.v;
    p.user_pin_len = user.len;
    sea_rv rv = sea_se_create(ctx, &p, &info);
    if (rv != SEA_OK) {
        rc = tool_fail(t, rv, "creating the SE '%s'", p.name);
        goto out;
    }
    if (t->json) {
        json_object_begin(&t->j, NULL);
        json_se(&t->j, "se", &info);
        json_object_end(&t->j);
        json_finish(&t->j);
    } else {
        print_se(&info);
    }
out:
    pin_wipe(&so);
    pin_wipe(&user);
    return rc;
}

/* ---- delete ---- */

static const char delete_help[] =
    "Usage: sea-tool delete --se NAME|SE-ID\n"
    "Delete an SE and every object in it. Needs its SO PIN (--so-pin-file, $SEA_SO_PIN or the\n"
    "terminal). --se is required here: deleting is never implied.\n\n";

int cmd_delete(struct tool *t, int argc, char **argv)
{
    struct pin so;
    sea_se_info info;
    char what[64];
    int c, rc;
    memset(&so, 0, sizeof(so));
    while ((c = tool_getopt(t, argc, argv, NULL)) != -1) {
        if (c == 'h') {
            printf("%s%s", delete_help, tool_global_help);
            return TOOL_OK;
        }
        return TOOL_USAGE;
    }
    if (!t->se)
        return tool_usage(t, "name the SE to delete with --se NAME");
    if ((rc = tool_find_se(t, &info)) != TOOL_OK)
        goto out;
    snprintf(what, sizeof(what), " of SE '%s'", info.name);
    if ((rc = pin_get(t, PIN_SO, false, what, &so)) != TOOL_OK)
        goto out;
    sea_rv rv = sea_se_delete(t->ctx, info.se_id, so.v, so.len);
    if (rv != SEA_OK) {
        rc = tool_fail(t, rv, "deleting the SE '%s'", info.name);
        goto out;
    }
    if (t->json) {
        json_object_begin(&t->j, NULL);
        json_object_begin(&t->j, "deleted");
        json_string(&t->j, "name", info.name);
        json_string(&t->j, "sID", info.se_id);
        json_object_end(&t->j);
        json_object_end(&t->j);
        json_finish(&t->j);
    } else {
        printf("deleted SE %s (sID %s)\n", info.name, info.se_id);
    }
out:
    pin_wipe(&so);
    return rc;
}

/* ---- se show: the TS-0016 <SE> resource ---- */

static const char se_help[] =
    "Usage: sea-tool se show [--se NAME|SE-ID] [--hcl LINK] [--hal LINK]... [--json]\n"
    "Show the TS-0016 <SE> resource of an SE: with --json the resource itself,\n"
    "{\"m2m:SE\": {\"rn\", \"ct\", \"sID\", \"seT\", \"seL\", \"srt\", \"hcl\", \"hal\"}} "
    "(doc/mcs-json.md).\n\n"
    "  --hcl LINK         hostedCSELink: the CSE that hosts the SE\n"
    "  --hal LINK         hostedAELinks: an AE the SE is represented under (repeatable)\n\n";

#define SE_SHOW_HAL_MAX 64

static int se_show(struct tool *t, int argc, char **argv)
{
    enum { OPT_HCL = 256, OPT_HAL };
    static const struct option opts[] = {
        {"hcl", required_argument, NULL, OPT_HCL},
        {"hal", required_argument, NULL, OPT_HAL},
        {NULL, 0, NULL, 0},
    };
    const char *hcl = NULL, *hal[SE_SHOW_HAL_MAX + 1] = {NULL};
    size_t nhal = 0;
    sea_se_info info;
    char *json = NULL;
    int c, rc;
    while ((c = tool_getopt(t, argc, argv, opts)) != -1) {
        switch (c) {
        case 'h':
            printf("%s%s", se_help, tool_global_help);
            return TOOL_OK;
        case OPT_HCL:
            hcl = optarg;
            break;
        case OPT_HAL:
            if (nhal == SE_SHOW_HAL_MAX)
                return tool_usage(t, "at most %d --hal links", SE_SHOW_HAL_MAX);
            hal[nhal++] = optarg;
            break;
        default:
            return TOOL_USAGE;
        }
    }
    if ((rc = tool_find_se(t, &info)) != TOOL_OK)
        return rc;
    sea_rv rv = sea_se_resource_json(t->ctx, info.se_id, hcl, hal, &json);
    if (rv != SEA_OK)
        return tool_fail(t, rv, "describing the SE '%s'", info.name);
    if (t->json) {
        fprintf(t->jf, "%s\n", json);
    } else {
        print_se(&info);
        printf("<SE> resource: %s\n", json);
    }
    sea_free(json);
    return TOOL_OK;
}

int cmd_se(struct tool *t, int argc, char **argv)
{
    if (argc < 2)
        return tool_usage(t, "show?");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        printf("%s%s", se_help, tool_global_help);
        return TOOL_OK;
    }
    if (strcmp(argv[1], "show") == 0)
        return se_show(t, argc - 1, argv + 1);
    return tool_usage(t, "unknown se command '%s' (show)", argv[1]);
}

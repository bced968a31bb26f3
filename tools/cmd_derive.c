/* sea-tool's derive command: the oneM2M key derivations of TS-0003 10.3 inside the SE (km, kpsa,
 * usage, e2e, session, split), through sea_derive_onem2m. The tool prints what it made (label,
 * URI, SUID; for split the identifier), never key material; the choices the specification leaves
 * open are doc/onem2m-derivations.md's. */
#include <stdlib.h>
#include <string.h>

#include "tool.h"

#define SALT_MAX 255 /* CK_SEA_ONEM2M_KE2E_MASTER_PARAMS: 0..255 bytes */
#define RAND_LEN 16  /* an esprimRandValue */
#define SPLIT_ID 16  /* RelativeKeID, KcID, pairwiseE2EKeyID */

static const char derive_help[] =
    "Usage: sea-tool derive km      --key KE --maf-id MAF-ID --label NEW [KEY OPTIONS]\n"
    "       sea-tool derive kpsa    --key KE --enrolee-id ENROLEE-B-ID --label NEW [KEY OPTIONS]\n"
    "       sea-tool derive usage   --key KE --suid SUID --target FQDN --label NEW [KEY OPTIONS]\n"
    "       sea-tool derive e2e     --key KPSA --salt HEX --label NEW [KEY OPTIONS]\n"
    "       sea-tool derive e2e     --key KE2E_MASTER --which KEY --label NEW [--bits N]\n"
    "                               [--type aes|generic] [KEY OPTIONS]\n"
    "       sea-tool derive session --key PAIRWISE_ESPRIM_KEY --receiver-rand HEX\n"
    "                               --originator-rand HEX --label NEW [--bits N]\n"
    "                               [--type aes|generic] [KEY OPTIONS]\n"
    "       sea-tool derive split   --key EXPORTER_OUTPUT --label NEW [--fqdn FQDN] [KEY OPTIONS]\n"
    "Derive a oneM2M key (TS-0003 10.3) inside the SE from a generic secret key of the SE that\n"
    "allows derive (user PIN needed), and print what was made (never the key). The new key\n"
    "stays in the SE; it carries a SUID and expires no later than its base key.\n\n"
    "  km                 Km from Ke and the MAF-ID (10.3.2)\n"
    "  kpsa               Kpsa from Ke and the Enrolee-B-ID, a CSE-ID or AE-ID (10.3.3)\n"
    "  usage              the usage-constrained key from Ke, the SUID and the\n"
    "                     Enrolment-Target-ID (10.3.7); the key carries that SUID\n"
    "  e2e --salt         Ke2e_master = HKDF-Extract(salt, Kpsa) with SHA-256 (10.3.6.1)\n"
    "  e2e --which        one of the four chained E2E keys from Ke2e_master (10.3.6.2):\n"
    "                     msg-auth, msg-conf, att-auth, att-conf, or all four (labelled\n"
    "                     NEW-msg-auth, NEW-msg-conf, NEW-att-auth, NEW-att-conf)\n"
    "  session            sessionESPrimKey from the pairwise ESPrim key and the two 16-byte\n"
    "                     esprimRandValues (10.3.8)\n"
    "  split              a 48-byte TLS exporter output (imported as a generic secret) into the\n"
    "                     key (Ke, Kc, pairwiseE2EKey: its last 32 bytes) and the identifier\n"
    "                     (RelativeKeID, KcID, pairwiseE2EKeyID: its first 16), printed in hex\n\n"
    "  --key LABEL|URI    the base key\n"
    "  --label NEW        the new key's label, unique in the SE\n"
    "  --maf-id, --enrolee-id, --target ID\n"
    "                     the identity, as UTF-8 text (the SE normalises it to NFKC)\n"
    "  --suid SUID        usage: the SUID that enters the derivation (10 to 99); other\n"
    "                     derivations: the SUID the new key carries (default: the base key's)\n"
    "  --salt HEX         the salt, 0 to 255 bytes ('' for none: RFC 5869's 32 zero bytes)\n"
    "  --receiver-rand HEX, --originator-rand HEX\n"
    "                     the receiver's and the originator's esprimRandValue (16 bytes each)\n"
    "  --bits N           e2e --which and session: 128, 192 or 256 (default), the leftmost\n"
    "                     bytes; an AES key for A128GCM, A192GCM or A256GCM\n"
    "  --type aes|generic e2e --which and session: the key type (default aes; generic is a\n"
    "                     256-bit secret, e.g. for HMAC)\n"
    "  --fqdn FQDN        split: print the key identifier hex@FQDN too (KeID, MAF key id)\n\n"
    "Key options:\n"
    "  --id TEXT          the new key's CKA_ID as text (1 to 64 bytes), e.g. its KpsaID or KmID,\n"
    "                     by which a TLS-PSK lookup finds it\n"
    "  --id-hex HEX       the CKA_ID in hex instead\n"
    "  --extractable      allow the new key to leave the SE wrapped (default: never)\n"
    "  --no-sensitive     with --extractable: its value can also be read in clear through\n"
    "                     PKCS#11 (for tests; never for production keys)\n"
    "  --end-date YYYYMMDD\n"
    "                     the last day the new key may be used (UTC; default and at the\n"
    "                     latest: the base key's)\n\n";

enum {
    OPT_KEY = 256,
    OPT_LABEL,
    OPT_ID,
    OPT_ID_HEX,
    OPT_EXTRACTABLE,
    OPT_NO_SENSITIVE,
    OPT_SUID,
    OPT_MAF_ID,
    OPT_ENROLEE_ID,
    OPT_TARGET,
    OPT_SALT,
    OPT_WHICH,
    OPT_BITS,
    OPT_TYPE,
    OPT_RECEIVER_RAND,
    OPT_ORIGINATOR_RAND,
    OPT_FQDN,
    OPT_END_DATE,
};

/* What each subcommand accepts besides the key options. */
enum {
    A_MAF_ID = 1u << 0,
    A_ENROLEE_ID = 1u << 1,
    A_TARGET = 1u << 2,
    A_SALT = 1u << 3,
    A_WHICH = 1u << 4,
    A_SHAPE = 1u << 5, /* --bits, --type */
    A_RANDS = 1u << 6,
    A_FQDN = 1u << 7,
};

struct sub {
    const char *name;
    unsigned accepts;
};

static const struct sub subs[] = {
    {"km", A_MAF_ID},
    {"kpsa", A_ENROLEE_ID},
    {"usage", A_TARGET},
    {"e2e", A_SALT | A_WHICH | A_SHAPE},
    {"session", A_RANDS | A_SHAPE},
    {"split", A_FQDN},
};

/* The four E2E keys, in chain order. */
static const struct {
    const char *name;
    sea_kdf kdf;
} e2e_keys[] = {
    {"msg-auth", SEA_KDF_KE2E_MSG_AUTH},
    {"msg-conf", SEA_KDF_KE2E_MSG_CONF},
    {"att-auth", SEA_KDF_KE2E_ATT_AUTH},
    {"att-conf", SEA_KDF_KE2E_ATT_CONF},
};
#define NE2E (sizeof(e2e_keys) / sizeof(e2e_keys[0]))

struct derive_args {
    const struct sub *sub;
    const char *key, *label, *ident, *fqdn, *which, *end_date;
    bool has_salt, has_suid, has_bits, has_type, has_rr, has_or;
    uint8_t id[64];
    size_t id_len;
    uint8_t salt[SALT_MAX], rands[2 * RAND_LEN];
    size_t salt_len;
    unsigned long suid;
    unsigned bits;
    sea_key_type type;
    bool extractable, not_sensitive;
};

/* Strict hex (either case, no separators) of min..max bytes into out; a usage error naming
 * the option and what is wrong (reported) otherwise. */
static int parse_hex(struct tool *t, const char *opt, const char *s, uint8_t *out, size_t min,
                     size_t max, size_t *len)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return tool_usage(t, "%s: '%c' is not a hex digit", opt,
                              c >= 0x20 && c < 0x7f ? c : '?');
    }
    if (n % 2)
        return tool_usage(t, "%s: an odd number of hex digits (%zu)", opt, n);
    if (n / 2 < min || n / 2 > max) {
        if (min == max)
            return tool_usage(t, "%s takes %zu bytes (%zu hex digits), not %zu", opt, min, 2 * min,
                              n / 2);
        return tool_usage(t, "%s takes %zu to %zu bytes, not %zu", opt, min, max, n / 2);
    }
    *len = 0;
    if (n > 0 && !hex_decode(s, out, max, len))
        return tool_usage(t, "%s: not hex", opt); /* not reached: checked above */
    return TOOL_OK;
}

/* The options of a subcommand into a; -1 when they are complete, 'h', or an exit status. */
static int derive_options(struct tool *t, int argc, char **argv, struct derive_args *a)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, OPT_KEY},
        {"label", required_argument, NULL, OPT_LABEL},
        {"id", required_argument, NULL, OPT_ID},
        {"id-hex", required_argument, NULL, OPT_ID_HEX},
        {"extractable", no_argument, NULL, OPT_EXTRACTABLE},
        {"no-sensitive", no_argument, NULL, OPT_NO_SENSITIVE},
        {"suid", required_argument, NULL, OPT_SUID},
        {"maf-id", required_argument, NULL, OPT_MAF_ID},
        {"enrolee-id", required_argument, NULL, OPT_ENROLEE_ID},
        {"target", required_argument, NULL, OPT_TARGET},
        {"salt", required_argument, NULL, OPT_SALT},
        {"which", required_argument, NULL, OPT_WHICH},
        {"bits", required_argument, NULL, OPT_BITS},
        {"type", required_argument, NULL, OPT_TYPE},
        {"receiver-rand", required_argument, NULL, OPT_RECEIVER_RAND},
        {"originator-rand", required_argument, NULL, OPT_ORIGINATOR_RAND},
        {"fqdn", required_argument, NULL, OPT_FQDN},
        {"end-date", required_argument, NULL, OPT_END_DATE},
        {NULL, 0, NULL, 0},
    };
    static const struct {
        int opt;
        unsigned need;
        const char *name;
    } gated[] = {
        {OPT_MAF_ID, A_MAF_ID, "--maf-id"},
        {OPT_ENROLEE_ID, A_ENROLEE_ID, "--enrolee-id"},
        {OPT_TARGET, A_TARGET, "--target"},
        {OPT_SALT, A_SALT, "--salt"},
        {OPT_WHICH, A_WHICH, "--which"},
        {OPT_BITS, A_SHAPE, "--bits"},
        {OPT_TYPE, A_SHAPE, "--type"},
        {OPT_RECEIVER_RAND, A_RANDS, "--receiver-rand"},
        {OPT_ORIGINATOR_RAND, A_RANDS, "--originator-rand"},
        {OPT_FQDN, A_FQDN, "--fqdn"},
    };
    unsigned long v;
    size_t len;
    int c, rc;
    while ((c = tool_getopt(t, argc, argv, opts)) != -1) {
        if (c == 'h')
            return 'h';
        for (size_t i = 0; i < sizeof(gated) / sizeof(gated[0]); i++)
            if (c == gated[i].opt && !(a->sub->accepts & gated[i].need))
                return tool_usage(t, "derive %s takes no %s", a->sub->name, gated[i].name);
        switch (c) {
        case OPT_KEY:
            a->key = optarg;
            break;
        case OPT_LABEL:
            a->label = optarg;
            break;
        case OPT_ID:
            len = strlen(optarg);
            if (len == 0 || len > sizeof(a->id))
                return tool_usage(t, "--id takes 1 to %zu bytes of text", sizeof(a->id));
            memcpy(a->id, optarg, len);
            a->id_len = len;
            break;
        case OPT_ID_HEX:
            if ((rc = parse_hex(t, "--id-hex", optarg, a->id, 1, sizeof(a->id), &a->id_len)) !=
                TOOL_OK)
                return rc;
            break;
        case OPT_EXTRACTABLE:
            a->extractable = true;
            break;
        case OPT_NO_SENSITIVE:
            a->not_sensitive = true;
            break;
        case OPT_SUID:
            if (!tool_parse_ulong(optarg, (unsigned long)-1, &v) || v == 0)
                return tool_usage(t, "--suid takes a positive number");
            a->suid = v;
            a->has_suid = true;
            break;
        case OPT_MAF_ID:
        case OPT_ENROLEE_ID:
        case OPT_TARGET:
            a->ident = optarg;
            break;
        case OPT_SALT:
            if ((rc = parse_hex(t, "--salt", optarg, a->salt, 0, SALT_MAX, &a->salt_len)) !=
                TOOL_OK)
                return rc;
            a->has_salt = true;
            break;
        case OPT_WHICH:
            a->which = optarg;
            break;
        case OPT_BITS:
            if (!tool_parse_ulong(optarg, 256, &v) || (v != 128 && v != 192 && v != 256))
                return tool_usage(t, "--bits takes 128, 192 or 256");
            a->bits = (unsigned)v;
            a->has_bits = true;
            break;
        case OPT_TYPE:
            if (strcmp(optarg, "aes") == 0)
                a->type = SEA_KEY_AES;
            else if (strcmp(optarg, "generic") == 0)
                a->type = SEA_KEY_GENERIC_SECRET;
            else
                return tool_usage(t, "--type takes aes or generic");
            a->has_type = true;
            break;
        case OPT_RECEIVER_RAND:
            if ((rc = parse_hex(t, "--receiver-rand", optarg, a->rands, RAND_LEN, RAND_LEN,
                                &len)) != TOOL_OK)
                return rc;
            a->has_rr = true;
            break;
        case OPT_ORIGINATOR_RAND:
            if ((rc = parse_hex(t, "--originator-rand", optarg, a->rands + RAND_LEN, RAND_LEN,
                                RAND_LEN, &len)) != TOOL_OK)
                return rc;
            a->has_or = true;
            break;
        case OPT_FQDN:
            a->fqdn = optarg;
            break;
        case OPT_END_DATE:
            if (strlen(optarg) != 8 || strspn(optarg, "0123456789") != 8)
                return tool_usage(t, "--end-date takes a date as YYYYMMDD");
            a->end_date = optarg; /* the SE checks that it is a date, not after the base key's */
            break;
        default:
            return TOOL_USAGE; /* reported by tool_getopt */
        }
    }
    return -1;
}

/* The checks that need all the options; TOOL_OK or a usage error (reported). */
static int derive_check(struct tool *t, struct derive_args *a)
{
    const char *sub = a->sub->name;
    if (!a->key || !*a->key)
        return tool_usage(t, "--key LABEL|URI (the base key) is required");
    if (!a->label || !*a->label)
        return tool_usage(t, "--label NEW is required");
    if (a->not_sensitive && !a->extractable)
        return tool_usage(t, "--no-sensitive needs --extractable (a key that cannot leave the "
                             "SE cannot be read either)");
    if ((a->sub->accepts & (A_MAF_ID | A_ENROLEE_ID | A_TARGET)) && (!a->ident || !*a->ident))
        return tool_usage(t, "%s is required (not empty)",
                          a->sub->accepts & A_MAF_ID       ? "--maf-id MAF-ID"
                          : a->sub->accepts & A_ENROLEE_ID ? "--enrolee-id ENROLEE-B-ID"
                                                           : "--target FQDN");
    if (strcmp(sub, "usage") == 0) {
        if (!a->has_suid)
            return tool_usage(t, "--suid SUID is required");
        if (a->suid < 10 || a->suid > 99)
            return tool_usage(t, "--suid takes a TS-0004 m2m:suid, 10 to 99, not %lu", a->suid);
    }
    if (strcmp(sub, "e2e") == 0) {
        if (a->has_salt == (a->which != NULL))
            return tool_usage(t, "give --salt HEX (Ke2e_master from Kpsa) or --which KEY (an "
                                 "E2E key from Ke2e_master), not both");
        if (a->has_salt && (a->has_bits || a->has_type))
            return tool_usage(t, "Ke2e_master is a 256-bit generic secret: no --bits or --type");
        if (a->which && strcmp(a->which, "all") != 0) {
            bool known = false;
            for (size_t i = 0; i < NE2E && !known; i++)
                known = strcmp(a->which, e2e_keys[i].name) == 0;
            if (!known)
                return tool_usage(t, "--which takes msg-auth, msg-conf, att-auth, att-conf or all");
        }
    }
    if (strcmp(sub, "session") == 0 && (!a->has_rr || !a->has_or))
        return tool_usage(t, "--receiver-rand HEX and --originator-rand HEX are required");
    if ((a->sub->accepts & A_SHAPE) && !a->has_salt) {
        if (!a->has_type)
            a->type = SEA_KEY_AES;
        if (!a->has_bits)
            a->bits = 256;
        if (a->type == SEA_KEY_GENERIC_SECRET && a->bits != 256)
            return tool_usage(t, "a generic secret is 256 bits; --bits %u needs --type aes",
                              a->bits);
    } else {
        a->type = SEA_KEY_GENERIC_SECRET;
        a->bits = 256;
    }
    if (a->fqdn) {
        /* the part after '@' of a key identifier: one DNS name, no '@', no blanks */
        size_t n = strlen(a->fqdn);
        if (n == 0 || n > 253 || strcspn(a->fqdn, "@ \t\r\n") != n)
            return tool_usage(t, "--fqdn takes a domain name (1 to 253 characters, no '@' or "
                                 "blanks)");
    }
    return TOOL_OK;
}

static const char *kind_name(sea_kdf kdf)
{
    switch (kdf) {
    case SEA_KDF_KM:
        return "Km";
    case SEA_KDF_KPSA:
        return "Kpsa";
    case SEA_KDF_USAGE:
        return "usage-constrained key";
    case SEA_KDF_KE2E_MASTER:
        return "Ke2e_master";
    case SEA_KDF_KE2E_MSG_AUTH:
        return "Ke2e_msg_auth";
    case SEA_KDF_KE2E_MSG_CONF:
        return "Ke2e_msg_conf";
    case SEA_KDF_KE2E_ATT_AUTH:
        return "Ke2e_att_auth";
    case SEA_KDF_KE2E_ATT_CONF:
        return "Ke2e_att_conf";
    case SEA_KDF_SESSION_ESPRIM:
        return "sessionESPrimKey";
    case SEA_KDF_EXPORTER_SPLIT:
        return "exporter split key";
    default:
        return "key";
    }
}

/* The base key: a secret key by label or URI. Another kind of object of that name gets words of
 * its own rather than "not found". */
static int find_base(struct tool *t, sea_se *se, const char *name, sea_obj *base,
                     sea_object_info *bi)
{
    static const sea_class others[] = {SEA_CLASS_PRIVATE_KEY, SEA_CLASS_PUBLIC_KEY,
                                       SEA_CLASS_CERTIFICATE, SEA_CLASS_DATA};
    sea_rv rv = sea_object_find(se, name, SEA_CLASS_SECRET_KEY, base);
    if (rv == SEA_OK)
        rv = sea_object_info_get(se, *base, bi);
    if (rv == SEA_OK)
        return TOOL_OK;
    if (rv == SEA_ERR_NOT_FOUND) {
        static const char *const names[] = {"a private key", "a public key", "a certificate",
                                            "a data object"};
        sea_obj o;
        for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
            if (sea_object_find(se, name, others[i], &o) == SEA_OK)
                return tool_error(t,
                                  "the base key '%s' is %s: the oneM2M derivations take a "
                                  "generic secret key allowed to derive (import Ke with "
                                  "'sea-tool import --secret-hex-file FILE')",
                                  name, names[i]);
        /* the lookups above replaced the error record: find the key again for its message */
        rv = sea_object_find(se, name, SEA_CLASS_SECRET_KEY, base);
        if (rv == SEA_OK)
            rv = SEA_ERR_NOT_FOUND;
    }
    return tool_fail(t, rv, "finding the base key '%s'", name);
}

static void print_made(struct tool *t, sea_kdf kdf, const sea_object_info *ki)
{
    if (t->json) {
        json_object_begin(&t->j, NULL);
        json_string(&t->j, "derived", kind_name(kdf));
        json_string(&t->j, "uri", ki->uri);
        tool_json_object(&t->j, "key", ki);
        if (ki->end_date[0])
            json_string(&t->j, "endDate", ki->end_date);
        json_object_end(&t->j);
    } else {
        printf("%s \"%s\":\n", kind_name(kdf), ki->label);
        tool_print_object(ki);
        if (ki->end_date[0])
            printf("end date: %s\n", ki->end_date);
    }
}

/* One derivation; *out is the new key. Nothing is printed. */
static int derive_one(struct tool *t, sea_se *se, sea_obj base, const struct derive_args *a,
                      sea_kdf kdf, const char *label, uint8_t *id_out, sea_obj *out,
                      sea_object_info *ki)
{
    sea_derive_params d;
    sea_key_params p;
    memset(&d, 0, sizeof(d));
    memset(&p, 0, sizeof(p));
    d.kdf = kdf;
    switch (kdf) {
    case SEA_KDF_KM:
    case SEA_KDF_KPSA:
    case SEA_KDF_USAGE:
        d.input = (const uint8_t *)a->ident;
        d.input_len = strlen(a->ident);
        break;
    case SEA_KDF_KE2E_MASTER:
        d.input = a->salt;
        d.input_len = a->salt_len;
        break;
    case SEA_KDF_SESSION_ESPRIM:
        d.input = a->rands;
        d.input_len = sizeof(a->rands);
        break;
    default:
        break;
    }
    if (kdf == SEA_KDF_USAGE)
        d.suid = a->suid;
    else if (a->has_suid)
        p.suid = a->suid;
    d.id_out = id_out;
    p.type = a->type;
    p.bits = a->bits;
    p.label = label;
    p.id = a->id_len ? a->id : NULL;
    p.id_len = a->id_len;
    p.extractable = a->extractable;
    p.clear_export = a->not_sensitive;
    p.end_date = a->end_date;
    sea_rv rv = sea_derive_onem2m(se, base, &d, &p, out);
    if (rv != SEA_OK)
        return tool_fail(t, rv, "deriving the %s '%s' from '%s'", kind_name(kdf), label, a->key);
    rv = sea_object_info_get(se, *out, ki);
    if (rv != SEA_OK)
        return tool_fail(t, rv, "reading the new key '%s'", label);
    return TOOL_OK;
}

/* derive e2e --which all: the four keys, or none of them. */
static int derive_all_e2e(struct tool *t, sea_se *se, sea_obj base, const struct derive_args *a)
{
    sea_obj made[NE2E];
    sea_object_info ki[NE2E];
    size_t n = 0;
    int rc = TOOL_OK;
    for (; n < NE2E; n++) {
        char label[256];
        int w = snprintf(label, sizeof(label), "%s-%s", a->label, e2e_keys[n].name);
        if (w < 0 || (size_t)w >= sizeof(label)) {
            rc = tool_usage(t, "--label is too long for the suffix -%s", e2e_keys[n].name);
            break;
        }
        if ((rc = derive_one(t, se, base, a, e2e_keys[n].kdf, label, NULL, &made[n], &ki[n])) !=
            TOOL_OK)
            break;
    }
    if (rc != TOOL_OK) {
        for (size_t i = 0; i < n; i++)
            if (sea_object_destroy(se, made[i]) != SEA_OK)
                tool_warn("could not remove the key '%s' made before the failure", ki[i].label);
        return rc;
    }
    if (t->json) {
        json_object_begin(&t->j, NULL);
        json_array_begin(&t->j, "keys");
    }
    for (size_t i = 0; i < NE2E; i++)
        print_made(t, e2e_keys[i].kdf, &ki[i]);
    if (t->json) {
        json_array_end(&t->j);
        json_object_end(&t->j);
        json_finish(&t->j);
    }
    return TOOL_OK;
}

static int derive_run(struct tool *t, int argc, char **argv, const struct sub *sub)
{
    struct derive_args a;
    sea_se *se = NULL;
    sea_se_info info;
    sea_object_info bi, ki;
    sea_obj base = 0, key = 0;
    uint8_t ident[SPLIT_ID];
    memset(&a, 0, sizeof(a));
    a.sub = sub;
    int rc = derive_options(t, argc, argv, &a);
    if (rc == 'h') {
        printf("%s%s", derive_help, tool_global_help);
        rc = TOOL_OK;
        goto out;
    }
    if (rc != -1 || (rc = derive_check(t, &a)) != TOOL_OK)
        goto out;
    sea_kdf kdf = strcmp(sub->name, "km") == 0        ? SEA_KDF_KM
                  : strcmp(sub->name, "kpsa") == 0    ? SEA_KDF_KPSA
                  : strcmp(sub->name, "usage") == 0   ? SEA_KDF_USAGE
                  : strcmp(sub->name, "session") == 0 ? SEA_KDF_SESSION_ESPRIM
                  : strcmp(sub->name, "split") == 0   ? SEA_KDF_EXPORTER_SPLIT
                  : a.has_salt                        ? SEA_KDF_KE2E_MASTER
                                                      : SEA_KDF_KE2E_MSG_AUTH;
    if (kdf == SEA_KDF_KE2E_MSG_AUTH)
        for (size_t i = 0; i < NE2E; i++)
            if (strcmp(a.which, e2e_keys[i].name) == 0)
                kdf = e2e_keys[i].kdf;
    t->uri_hint = a.key; /* a URI's token= or serial= chooses the SE */
    if ((rc = tool_open_se(t, true, &se, &info)) != TOOL_OK ||
        (rc = find_base(t, se, a.key, &base, &bi)) != TOOL_OK)
        goto out;
    if (a.which && strcmp(a.which, "all") == 0) {
        rc = derive_all_e2e(t, se, base, &a);
        goto out;
    }
    if ((rc = derive_one(t, se, base, &a, kdf, a.label,
                         kdf == SEA_KDF_EXPORTER_SPLIT ? ident : NULL, &key, &ki)) != TOOL_OK)
        goto out;
    char hex[2 * SPLIT_ID + 1];
    if (kdf == SEA_KDF_EXPORTER_SPLIT)
        hex_encode(ident, sizeof(ident), hex); /* lower case: doc/onem2m-derivations.md G-16 */
    if (t->json) {
        json_object_begin(&t->j, NULL);
        json_string(&t->j, "derived", kind_name(kdf));
        json_string(&t->j, "base", bi.uri);
        json_string(&t->j, "uri", ki.uri);
        tool_json_object(&t->j, "key", &ki);
        if (ki.end_date[0])
            json_string(&t->j, "endDate", ki.end_date);
        if (kdf == SEA_KDF_EXPORTER_SPLIT) {
            json_string(&t->j, "identifier", hex);
            if (a.fqdn) {
                char kid[2 * SPLIT_ID + 1 + 254];
                snprintf(kid, sizeof(kid), "%s@%s", hex, a.fqdn);
                json_string(&t->j, "keyIdentifier", kid);
            }
        }
        json_object_end(&t->j);
        json_finish(&t->j);
    } else {
        printf("%s \"%s\" derived from \"%s\" in the SE '%s':\n", kind_name(kdf), ki.label,
               bi.label, info.name);
        tool_print_object(&ki);
        if (ki.end_date[0])
            printf("end date: %s\n", ki.end_date);
        if (kdf == SEA_KDF_EXPORTER_SPLIT) {
            printf("identifier: %s\n", hex);
            if (a.fqdn)
                printf("key identifier: %s@%s\n", hex, a.fqdn);
        }
    }
out:
    explicit_bzero(&a, sizeof(a)); /* no key material, but the salt and rands need not linger */
    sea_se_close(se);
    return rc;
}

int cmd_derive(struct tool *t, int argc, char **argv)
{
    /* argv[0] is "derive", argv[1] the subcommand: it becomes argv[0] of its own options */
    if (argc < 2)
        return tool_usage(t, "km, kpsa, usage, e2e, session or split?");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        printf("%s%s", derive_help, tool_global_help);
        return TOOL_OK;
    }
    for (size_t k = 0; k < sizeof(subs) / sizeof(subs[0]); k++)
        if (strcmp(argv[1], subs[k].name) == 0)
            return derive_run(t, argc - 1, argv + 1, &subs[k]);
    return tool_usage(t, "unknown derive command '%s' (km, kpsa, usage, e2e, session or split)",
                      argv[1]);
}

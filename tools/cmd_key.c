/* sea-tool's key commands: keygen, import (a private key, or a pre-provisioned secret key),
 * pubkey (PEM SubjectPublicKeyInfo), sign and verify (ECDSA raw r||s or DER ECDSA-Sig-Value,
 * HMAC). Keys are named by label or PKCS#11 URI; every secret the tool handles is wiped. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tool.h"

#define SIG_MAX 512

/* ---- names ---- */

static const char *class_name(sea_class cls)
{
    switch (cls) {
    case SEA_CLASS_PRIVATE_KEY:
        return "private-key";
    case SEA_CLASS_PUBLIC_KEY:
        return "public-key";
    case SEA_CLASS_SECRET_KEY:
        return "secret-key";
    case SEA_CLASS_DATA:
        return "data";
    case SEA_CLASS_CERTIFICATE:
        return "certificate";
    default:
        return "other";
    }
}

static const char *key_type_name(int type)
{
    switch (type) {
    case SEA_KEY_EC_P256:
        return "ec-p256";
    case SEA_KEY_EC_P384:
        return "ec-p384";
    case SEA_KEY_AES:
        return "aes";
    case SEA_KEY_GENERIC_SECRET:
        return "generic";
    case SEA_KEY_RSA_2048:
    case SEA_KEY_RSA_3072:
    case SEA_KEY_RSA_4096:
        return "rsa";
    case SEA_KEY_ED25519:
        return "ed25519";
    default:
        return NULL;
    }
}

static const struct {
    unsigned bit;
    const char *name;
} usage_names[] = {
    {SEA_USE_SIGN, "sign"},       {SEA_USE_VERIFY, "verify"}, {SEA_USE_ENCRYPT, "encrypt"},
    {SEA_USE_DECRYPT, "decrypt"}, {SEA_USE_DERIVE, "derive"},
};
#define NUSAGE (sizeof(usage_names) / sizeof(usage_names[0]))

static const struct {
    const char *name;
    sea_alg alg;
} alg_names[] = {
    {"ecdsa", SEA_ALG_ECDSA},
    {"ecdsa-sha256", SEA_ALG_ECDSA_SHA256},
    {"ecdsa-sha384", SEA_ALG_ECDSA_SHA384},
    {"hmac-sha256", SEA_ALG_HMAC_SHA256},
    {"rsa-pkcs1-sha256", SEA_ALG_RSA_PKCS1_SHA256},
    {"rsa-pss-sha256", SEA_ALG_RSA_PSS_SHA256},
    {"ed25519", SEA_ALG_ED25519},
};
#define NALG (sizeof(alg_names) / sizeof(alg_names[0]))

static const char *alg_name(sea_alg alg)
{
    for (size_t i = 0; i < NALG; i++)
        if (alg_names[i].alg == alg)
            return alg_names[i].name;
    return "?";
}

static bool is_ecdsa(sea_alg alg)
{
    return alg == SEA_ALG_ECDSA || alg == SEA_ALG_ECDSA_SHA256 || alg == SEA_ALG_ECDSA_SHA384;
}

void tool_json_object(struct json *j, const char *key, const sea_object_info *o)
{
    const char *kt = key_type_name(o->key_type);
    json_object_begin(j, key);
    json_string(j, "class", class_name(o->cls));
    if (kt) {
        json_string(j, "keyType", kt);
        json_uint(j, "bits", o->bits);
    }
    json_string(j, "label", o->label);
    json_hex(j, "id", o->id, o->id_len);
    json_array_begin(j, "usage");
    for (size_t i = 0; i < NUSAGE; i++)
        if (o->usage & usage_names[i].bit)
            json_string(j, NULL, usage_names[i].name);
    json_array_end(j);
    json_bool(j, "extractable", o->extractable);
    json_bool(j, "sensitive", o->sensitive);
    json_bool(j, "private", o->is_private);
    json_bool(j, "local", o->local);
    if (o->suid)
        json_uint(j, "suid", o->suid);
    json_string(j, "uri", o->uri);
    json_object_end(j);
}

void tool_print_object(const sea_object_info *o)
{
    char id[2 * sizeof(o->id) + 1];
    const char *kt = key_type_name(o->key_type);
    hex_encode(o->id, o->id_len, id);
    printf("  %-11s", class_name(o->cls));
    if (kt)
        printf(" %s/%u", kt, o->bits);
    printf(" label=\"%s\"", o->label);
    if (o->id_len)
        printf(" id=%s", id);
    if (o->usage) {
        const char *sep = " usage=";
        for (size_t i = 0; i < NUSAGE; i++) {
            if (o->usage & usage_names[i].bit) {
                printf("%s%s", sep, usage_names[i].name);
                sep = ",";
            }
        }
    }
    if (kt && o->cls != SEA_CLASS_PUBLIC_KEY)
        printf(" extractable=%s", o->extractable ? "yes" : "no");
    if (o->suid)
        printf(" suid=%lu", o->suid);
    printf("\n    %s\n", o->uri);
}

/* ---- option values ---- */

static bool parse_usage(const char *s, unsigned *out)
{
    unsigned use = 0;
    while (*s) {
        size_t n = strcspn(s, ",");
        bool known = false;
        for (size_t i = 0; i < NUSAGE && !known; i++) {
            if (strlen(usage_names[i].name) == n && strncmp(s, usage_names[i].name, n) == 0) {
                use |= usage_names[i].bit;
                known = true;
            }
        }
        if (!known)
            return false;
        s += n;
        if (*s == ',' && *++s == '\0')
            return false;
    }
    *out = use;
    return use != 0;
}

static bool parse_alg(const char *s, sea_alg *out)
{
    for (size_t i = 0; i < NALG; i++) {
        if (strcmp(s, alg_names[i].name) == 0) {
            *out = alg_names[i].alg;
            return true;
        }
    }
    return false;
}

/* ec-p256 | ec-p384 | rsa-2048|3072|4096 | ed25519 | aes-128|192|256 | generic-BITS */
static bool parse_key_type(const char *s, sea_key_type *type, unsigned *bits)
{
    unsigned long v;
    if (strncmp(s, "rsa-", 4) == 0 && tool_parse_ulong(s + 4, 4096, &v) &&
        (v == 2048 || v == 3072 || v == 4096)) {
        *type = v == 2048 ? SEA_KEY_RSA_2048 : v == 3072 ? SEA_KEY_RSA_3072 : SEA_KEY_RSA_4096;
        *bits = (unsigned)v;
        return true;
    }
    if (strcmp(s, "ed25519") == 0) {
        *type = SEA_KEY_ED25519;
        *bits = 255;
        return true;
    }
    if (strcmp(s, "ec-p256") == 0) {
        *type = SEA_KEY_EC_P256;
        *bits = 256;
        return true;
    }
    if (strcmp(s, "ec-p384") == 0) {
        *type = SEA_KEY_EC_P384;
        *bits = 384;
        return true;
    }
    if (strncmp(s, "aes-", 4) == 0 && tool_parse_ulong(s + 4, 256, &v) &&
        (v == 128 || v == 192 || v == 256)) {
        *type = SEA_KEY_AES;
        *bits = (unsigned)v;
        return true;
    }
    if (strncmp(s, "generic-", 8) == 0 && tool_parse_ulong(s + 8, 65536, &v) && v > 0 &&
        v % 8 == 0) {
        *type = SEA_KEY_GENERIC_SECRET;
        *bits = (unsigned)v;
        return true;
    }
    return false;
}

/* The options keygen and import share: 1 if c was one of them, 0 if not, -1 if its value is
 * bad (reported as a usage error). */
enum { OPT_LABEL = 256, OPT_ID, OPT_USAGE, OPT_EXTRACTABLE, OPT_SUID, OPT_TYPE };

static int key_param_opt(struct tool *t, int c, sea_key_params *p, uint8_t *id)
{
    unsigned long v;
    switch (c) {
    case OPT_LABEL:
        p->label = optarg;
        return 1;
    case OPT_ID:
        if (!hex_decode(optarg, id, 64, &p->id_len))
            return tool_usage(t, "--id takes 1 to 64 bytes in hex"), -1;
        p->id = id;
        return 1;
    case OPT_USAGE:
        if (!parse_usage(optarg, &p->usage))
            return tool_usage(t, "--usage takes a list of sign,verify,encrypt,decrypt,derive"), -1;
        return 1;
    case OPT_EXTRACTABLE:
        p->extractable = 1;
        return 1;
    case OPT_SUID:
        if (!tool_parse_ulong(optarg, (unsigned long)-1, &v) || v == 0)
            return tool_usage(t, "--suid takes a positive number"), -1;
        p->suid = v;
        return 1;
    default:
        return 0;
    }
}

/* The URIs of a new key (and of its public half) on stdout or into the JSON document. */
static int report_key(struct tool *t, sea_se *se, const char *se_name, sea_obj key, sea_obj pub,
                      bool has_pub)
{
    sea_object_info ki, pi;
    sea_rv rv = sea_object_info_get(se, key, &ki);
    if (rv == SEA_OK && has_pub)
        rv = sea_object_info_get(se, pub, &pi);
    if (rv != SEA_OK)
        return tool_fail(t, rv, "reading the new key in the SE '%s'", se_name);
    if (t->json) {
        json_object_begin(&t->j, NULL);
        json_string(&t->j, "uri", ki.uri);
        if (has_pub)
            json_string(&t->j, "publicKeyUri", pi.uri);
        tool_json_object(&t->j, "key", &ki);
        if (has_pub)
            tool_json_object(&t->j, "publicKey", &pi);
        json_object_end(&t->j);
        json_finish(&t->j);
    } else {
        printf("%s\n", ki.uri);
    }
    return TOOL_OK;
}

/* ---- keygen ---- */

static const char keygen_help[] =
    "Usage: sea-tool keygen --type TYPE --label LABEL [--id HEX] [--usage LIST] [--extractable]\n"
    "                       [--suid N]\n"
    "Generate a key in the SE (user PIN needed) and print its PKCS#11 URI.\n\n"
    "  --type TYPE        ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096, ed25519, aes-128,\n"
    "                     aes-192, aes-256 or generic-BITS\n"
    "                     (a generic secret, e.g. generic-256 for HMAC-SHA256)\n"
    "  --label LABEL      the key's label (CKA_LABEL), unique in the SE for its class\n"
    "  --id HEX           the key's CKA_ID (1 to 64 bytes)\n"
    "  --usage LIST       comma-separated: sign,verify,encrypt,decrypt,derive (default: what\n"
    "                     the key type does: sign,verify for EC, RSA and Ed25519;\n"
    "                     encrypt,decrypt for AES;\n"
    "                     sign,verify,derive for generic secrets)\n"
    "  --extractable      allow the key to leave the SE wrapped (default: never)\n"
    "  --suid N           the oneM2M SUID usage constraint of the key\n\n";

int cmd_keygen(struct tool *t, int argc, char **argv)
{
    static const struct option opts[] = {
        {"type", required_argument, NULL, OPT_TYPE},
        {"label", required_argument, NULL, OPT_LABEL},
        {"id", required_argument, NULL, OPT_ID},
        {"usage", required_argument, NULL, OPT_USAGE},
        {"extractable", no_argument, NULL, OPT_EXTRACTABLE},
        {"suid", required_argument, NULL, OPT_SUID},
        {NULL, 0, NULL, 0},
    };
    sea_key_params p;
    uint8_t id[64];
    sea_se *se = NULL;
    sea_se_info info;
    sea_obj key = 0, pub = 0;
    bool has_type = false;
    int c, rc;
    memset(&p, 0, sizeof(p));
    while ((c = tool_getopt(t, argc, argv, opts)) != -1) {
        if (c == 'h') {
            printf("%s%s", keygen_help, tool_global_help);
            return TOOL_OK;
        }
        if (c == OPT_TYPE) {
            if (!parse_key_type(optarg, &p.type, &p.bits))
                return tool_usage(t, "--type takes ec-p256, ec-p384, rsa-2048, rsa-3072, "
                                     "rsa-4096, ed25519, aes-128, aes-192, aes-256 or "
                                     "generic-BITS (BITS a multiple of 8)");
            has_type = true;
            continue;
        }
        int r = key_param_opt(t, c, &p, id);
        if (r <= 0)
            return TOOL_USAGE; /* -1: reported; 0: '?' from tool_getopt, reported too */
    }
    if (!has_type)
        return tool_usage(t, "--type is required");
    if (!p.label || !*p.label)
        return tool_usage(t, "--label is required");
    if ((rc = tool_open_se(t, true, &se, &info)) != TOOL_OK)
        goto out;
    bool pair = p.type != SEA_KEY_AES && p.type != SEA_KEY_GENERIC_SECRET;
    sea_rv rv = sea_key_generate(se, &p, &key, pair ? &pub : NULL);
    if (rv != SEA_OK) {
        rc = tool_fail(t, rv, "generating the key '%s'", p.label);
        goto out;
    }
    rc = report_key(t, se, info.name, key, pub, pair);
out:
    sea_se_close(se);
    return rc;
}

/* ---- import ---- */

static const char import_help[] =
    "Usage: sea-tool import --label LABEL [--id HEX]\n"
    "                       (--key-file FILE | --secret-file FILE | --secret-hex-file FILE\n"
    "                        | --secret-hex HEX) [--type aes|generic] [--usage LIST]\n"
    "                       [--extractable [--no-sensitive]] [--suid N]\n"
    "Import a private key, or a pre-provisioned secret key, into the SE (user PIN needed) and\n"
    "print its PKCS#11 URI. The tool wipes its copies of the key. FILE may be - (stdin).\n\n"
    "  --key-file FILE    an unencrypted EC, RSA or Ed25519 private key, PEM or DER\n"
    "                     (PKCS#8, SEC1 or PKCS#1);\n"
    "                     its public key is stored too\n"
    "  --secret-file FILE the raw bytes of a secret key\n"
    "  --secret-hex-file FILE\n"
    "                     a secret key in hex (line breaks, spaces and ':' allowed)\n"
    "  --secret-hex HEX   for tests only: a key on the command line is visible to other users\n"
    "                     (ps) while the tool runs and stays in the shell's history\n"
    "  --type aes|generic the secret key's type (default: generic, e.g. for HMAC and the\n"
    "                     oneM2M key derivations)\n"
    "  --no-sensitive     with --extractable, a secret key: its value can be read in clear\n"
    "                     (e.g. a TLS exporter output the host's TLS stack already had)\n"
    "  --label, --id, --usage, --extractable, --suid: as for keygen\n\n";

/* A secret key from n characters of hex text (from argv or a file, not NUL-terminated), into a
 * new buffer of *cap bytes. Blanks and line breaks may separate bytes: a file written by
 * `xxd -p` or `echo` decodes. false if it is no hex; nothing is left unwiped either way. */
static bool secret_from_hex(const char *hex, size_t n, uint8_t **secret, size_t *len, size_t *cap)
{
    char *text = malloc(n + 1);
    uint8_t *out = malloc(n / 2 + 1);
    size_t m = 0;
    bool ok = false;
    if (!text || !out)
        goto out;
    for (size_t i = 0; i < n; i++) {
        char c = hex[i] == '\n' || hex[i] == '\r' || hex[i] == '\t' ? ' ' : hex[i];
        if (c != ' ' || m > 0) /* hex_decode takes blanks between bytes only */
            text[m++] = c;
    }
    text[m] = '\0';
    ok = hex_decode(text, out, n / 2 + 1, len);
out:
    tool_free_wiped(text, n + 1);
    if (ok) {
        *secret = out;
        *cap = n / 2 + 1;
    } else {
        tool_free_wiped(out, n / 2 + 1);
    }
    return ok;
}

int cmd_import(struct tool *t, int argc, char **argv)
{
    enum {
        OPT_KEY_FILE = 300,
        OPT_SECRET_FILE,
        OPT_SECRET_HEX,
        OPT_SECRET_HEX_FILE,
        OPT_NO_SENSITIVE
    };
    static const struct option opts[] = {
        {"label", required_argument, NULL, OPT_LABEL},
        {"id", required_argument, NULL, OPT_ID},
        {"key-file", required_argument, NULL, OPT_KEY_FILE},
        {"secret-file", required_argument, NULL, OPT_SECRET_FILE},
        {"secret-hex-file", required_argument, NULL, OPT_SECRET_HEX_FILE},
        {"secret-hex", required_argument, NULL, OPT_SECRET_HEX},
        {"type", required_argument, NULL, OPT_TYPE},
        {"usage", required_argument, NULL, OPT_USAGE},
        {"extractable", no_argument, NULL, OPT_EXTRACTABLE},
        {"suid", required_argument, NULL, OPT_SUID},
        {"no-sensitive", no_argument, NULL, OPT_NO_SENSITIVE},
        {NULL, 0, NULL, 0},
    };
    sea_key_params p;
    uint8_t id[64];
    uint8_t *secret = NULL, *text = NULL;
    size_t secret_len = 0, secret_cap = 0, text_len = 0;
    const char *key_file = NULL, *secret_file = NULL, *hex_file = NULL;
    char *secret_hex = NULL;
    sea_se *se = NULL;
    sea_se_info info;
    sea_obj key = 0, pub = 0;
    int c, rc = TOOL_USAGE;
    memset(&p, 0, sizeof(p));
    p.type = SEA_KEY_GENERIC_SECRET;
    while ((c = tool_getopt(t, argc, argv, opts)) != -1) {
        switch (c) {
        case 'h':
            printf("%s%s", import_help, tool_global_help);
            rc = TOOL_OK;
            goto out;
        case OPT_KEY_FILE:
            key_file = optarg;
            break;
        case OPT_SECRET_FILE:
            secret_file = optarg;
            break;
        case OPT_SECRET_HEX_FILE:
            hex_file = optarg;
            break;
        case OPT_SECRET_HEX:
            secret_hex = optarg;
            break;
        case OPT_NO_SENSITIVE:
            p.clear_export = 1;
            break;
        case OPT_TYPE:
            if (strcmp(optarg, "aes") == 0) {
                p.type = SEA_KEY_AES;
            } else if (strcmp(optarg, "generic") == 0) {
                p.type = SEA_KEY_GENERIC_SECRET;
            } else {
                rc = tool_usage(t, "--type takes aes or generic");
                goto out;
            }
            break;
        default:
            if (key_param_opt(t, c, &p, id) <= 0)
                goto out; /* reported */
        }
    }
    if (!p.label || !*p.label) {
        rc = tool_usage(t, "--label is required");
        goto out;
    }
    if ((key_file != NULL) + (secret_file != NULL) + (hex_file != NULL) + (secret_hex != NULL) !=
        1) {
        rc = tool_usage(t, "give exactly one of --key-file, --secret-file, --secret-hex-file, "
                           "--secret-hex");
        goto out;
    }
    if (secret_hex) {
        if (!t->json)
            tool_warn("--secret-hex is for tests: other users see the key in the process list "
                      "and it stays in the shell's history; use --secret-hex-file or "
                      "--secret-file");
        bool ok =
            secret_from_hex(secret_hex, strlen(secret_hex), &secret, &secret_len, &secret_cap);
        /* the copy in argv: gone from ps and /proc before the (slow) login */
        explicit_bzero(secret_hex, strlen(secret_hex));
        if (!ok) {
            rc = tool_usage(t, "--secret-hex takes the key in hex");
            goto out;
        }
    } else if (hex_file) {
        if ((rc = tool_read_file(t, hex_file, &text, &text_len)) != TOOL_OK)
            goto out;
        if (!secret_from_hex((const char *)text, text_len, &secret, &secret_len, &secret_cap)) {
            rc = tool_error(t, "%s does not hold a key in hex", hex_file);
            goto out;
        }
    } else {
        rc = tool_read_file(t, key_file ? key_file : secret_file, &secret, &secret_len);
        if (rc != TOOL_OK)
            goto out;
        secret_cap = secret_len; /* read() wrote no further than that */
    }
    if (secret_len == 0) {
        rc = tool_error(t, "the key file %s is empty", key_file ? key_file : secret_file);
        goto out;
    }
    if ((rc = tool_open_se(t, true, &se, &info)) != TOOL_OK)
        goto out;
    sea_rv rv = key_file ? sea_key_import_private(se, &p, secret, secret_len, &key, &pub)
                         : sea_key_import_secret(se, &p, secret, secret_len, &key);
    if (rv != SEA_OK) {
        rc = tool_fail(t, rv, "importing the key '%s'", p.label);
        goto out;
    }
    rc = report_key(t, se, info.name, key, pub, key_file != NULL);
out:
    if (secret_hex) /* on the early exits too */
        explicit_bzero(secret_hex, strlen(secret_hex));
    tool_free_wiped(text, text_len);
    tool_free_wiped(secret, secret_cap);
    sea_se_close(se);
    return rc;
}

/* ---- finding keys ---- */

/* The first object of the given classes that label_or_uri names (not reported). */
static sea_rv lookup_key(sea_se *se, const char *name, const sea_class *classes, size_t n,
                         sea_obj *obj, sea_object_info *info)
{
    sea_rv rv = SEA_ERR_NOT_FOUND;
    for (size_t i = 0; i < n && rv == SEA_ERR_NOT_FOUND; i++)
        rv = sea_object_find(se, name, classes[i], obj);
    return rv == SEA_OK ? sea_object_info_get(se, *obj, info) : rv;
}

static int find_key(struct tool *t, sea_se *se, const char *name, const sea_class *classes,
                    size_t n, sea_obj *obj, sea_object_info *info)
{
    sea_rv rv = lookup_key(se, name, classes, n, obj, info);
    return rv == SEA_OK ? TOOL_OK : tool_fail(t, rv, "finding the key '%s'", name);
}

/* ---- pubkey ---- */

static const char pubkey_help[] =
    "Usage: sea-tool pubkey --key LABEL|URI [--out FILE]\n"
    "Export the public key of a key pair as PEM (SubjectPublicKeyInfo) to FILE or stdout.\n\n";

int cmd_pubkey(struct tool *t, int argc, char **argv)
{
    enum { OPT_KEY = 256, OPT_OUT };
    static const struct option opts[] = {
        {"key", required_argument, NULL, OPT_KEY},
        {"out", required_argument, NULL, OPT_OUT},
        {NULL, 0, NULL, 0},
    };
    static const sea_class classes[] = {SEA_CLASS_PUBLIC_KEY, SEA_CLASS_PRIVATE_KEY};
    const char *name = NULL, *out_path = NULL;
    sea_se *se = NULL;
    sea_se_info info;
    sea_object_info oi;
    sea_obj key;
    uint8_t der[1024];
    size_t der_len = sizeof(der);
    char *pem = NULL;
    int c, rc;
    while ((c = tool_getopt(t, argc, argv, opts)) != -1) {
        if (c == 'h') {
            printf("%s%s", pubkey_help, tool_global_help);
            return TOOL_OK;
        }
        if (c == OPT_KEY)
            name = optarg;
        else if (c == OPT_OUT)
            out_path = optarg;
        else
            return TOOL_USAGE;
    }
    if (!name)
        return tool_usage(t, "--key LABEL|URI is required");
    if (t->json && out_path && strcmp(out_path, "-") == 0)
        return tool_usage(t, "--out - and --json both write to stdout");
    t->uri_hint = name; /* a URI's token= or serial= chooses the SE */
    /* Public keys need no login; a private key's public half may (it is a private object). */
    if ((rc = tool_open_se(t, pin_available(t, PIN_USER), &se, &info)) != TOOL_OK ||
        (rc = find_key(t, se, name, classes, 2, &key, &oi)) != TOOL_OK)
        goto out;
    sea_rv rv = sea_public_key(se, key, der, &der_len);
    if (rv != SEA_OK) {
        rc = tool_fail(t, rv, "reading the public key of '%s'", name);
        goto out;
    }
    if (!(pem = pem_encode("PUBLIC KEY", der, der_len))) {
        rc = tool_error(t, "out of memory");
        goto out;
    }
    if (out_path || !t->json) {
        rc = tool_write_file(t, out_path ? out_path : "-", pem, strlen(pem), 0644);
        if (rc != TOOL_OK)
            goto out;
    }
    if (t->json) {
        json_object_begin(&t->j, NULL);
        json_string(&t->j, "uri", oi.uri);
        json_string(&t->j, "pem", pem);
        json_object_end(&t->j);
        json_finish(&t->j);
    }
out:
    free(pem);
    sea_se_close(se);
    return rc;
}

/* ---- ECDSA signature encodings ---- */

static size_t der_put_len(uint8_t *p, size_t len)
{
    if (len < 0x80) {
        p[0] = (uint8_t)len;
        return 1;
    }
    p[0] = 0x81; /* the ECDSA signatures of the curves we support stay below 256 bytes */
    p[1] = (uint8_t)len;
    return 2;
}

/* One INTEGER of a big-endian unsigned value, minimal: leading zeros stripped, one 0x00 added
 * when the top bit is set. */
static size_t der_put_uint(uint8_t *p, const uint8_t *v, size_t n)
{
    while (n > 1 && v[0] == 0) {
        v++;
        n--;
    }
    bool pad = v[0] & 0x80;
    size_t off = 0;
    p[off++] = 0x02;
    off += der_put_len(p + off, n + pad);
    if (pad)
        p[off++] = 0;
    memcpy(p + off, v, n);
    return off + n;
}

/* raw r||s into ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 3279). */
static size_t ecdsa_raw_to_der(const uint8_t *raw, size_t len, uint8_t *der)
{
    uint8_t body[2 * (2 + 1 + 1 + SIG_MAX / 2)];
    size_t half = len / 2, n = 0;
    n += der_put_uint(body + n, raw, half);
    n += der_put_uint(body + n, raw + half, half);
    size_t off = 0;
    der[off++] = 0x30;
    off += der_put_len(der + off, n);
    memcpy(der + off, body, n);
    return off + n;
}

/* A DER length at *p (short form or 0x81); false if malformed or past end. */
static bool der_get_len(const uint8_t **p, const uint8_t *end, size_t *len)
{
    if (*p >= end)
        return false;
    if (**p < 0x80) {
        *len = *(*p)++;
    } else if (**p == 0x81 && end - *p >= 2 && (*p)[1] >= 0x80) {
        *len = (*p)[1];
        *p += 2;
    } else {
        return false;
    }
    return *len <= (size_t)(end - *p);
}

/* One non-negative minimal INTEGER into out[0..half), left-padded with zeros. */
static bool der_get_uint(const uint8_t **p, const uint8_t *end, uint8_t *out, size_t half)
{
    size_t len;
    if (*p >= end || *(*p)++ != 0x02 || !der_get_len(p, end, &len) || len == 0)
        return false;
    const uint8_t *v = *p;
    *p += len;
    if (v[0] & 0x80)
        return false; /* negative */
    if (len > 1 && v[0] == 0 && !(v[1] & 0x80))
        return false; /* not minimal */
    if (v[0] == 0 && len > 1) {
        v++;
        len--;
    }
    if (len > half)
        return false;
    memset(out, 0, half - len);
    memcpy(out + half - len, v, len);
    return true;
}

/* ECDSA-Sig-Value into raw r||s of 2 * half bytes; false if it is not strict DER. */
static bool ecdsa_der_to_raw(const uint8_t *der, size_t len, uint8_t *raw, size_t half)
{
    const uint8_t *p = der, *end = der + len;
    size_t seq;
    if (len < 2 || *p++ != 0x30 || !der_get_len(&p, end, &seq) || p + seq != end)
        return false;
    return der_get_uint(&p, end, raw, half) && der_get_uint(&p, end, raw + half, half) && p == end;
}

/* ---- sign and verify ---- */

enum sig_format { FMT_RAW, FMT_DER };

struct sig_args {
    const char *key, *in, *out, *sig;
    bool has_alg, has_format;
    sea_alg alg;
    enum sig_format format;
};

/* Options common to sign and verify; returns -1 at the end, 'h', or TOOL_USAGE (reported). */
static int sig_options(struct tool *t, int argc, char **argv, bool verify, struct sig_args *a)
{
    enum { OPT_KEY = 256, OPT_ALG, OPT_IN, OPT_OUT, OPT_SIG, OPT_FORMAT };
    static const struct option sign_opts[] = {
        {"key", required_argument, NULL, OPT_KEY},       {"alg", required_argument, NULL, OPT_ALG},
        {"in", required_argument, NULL, OPT_IN},         {"out", required_argument, NULL, OPT_OUT},
        {"format", required_argument, NULL, OPT_FORMAT}, {NULL, 0, NULL, 0},
    };
    static const struct option verify_opts[] = {
        {"key", required_argument, NULL, OPT_KEY},       {"alg", required_argument, NULL, OPT_ALG},
        {"in", required_argument, NULL, OPT_IN},         {"sig", required_argument, NULL, OPT_SIG},
        {"format", required_argument, NULL, OPT_FORMAT}, {NULL, 0, NULL, 0},
    };
    int c;
    memset(a, 0, sizeof(*a));
    while ((c = tool_getopt(t, argc, argv, verify ? verify_opts : sign_opts)) != -1) {
        switch (c) {
        case 'h':
            return 'h';
        case OPT_KEY:
            a->key = optarg;
            break;
        case OPT_ALG:
            if (!parse_alg(optarg, &a->alg))
                return tool_usage(t, "--alg takes ecdsa-sha256, ecdsa-sha384, ecdsa, "
                                     "hmac-sha256, rsa-pkcs1-sha256, rsa-pss-sha256 or ed25519");
            a->has_alg = true;
            break;
        case OPT_IN:
            a->in = optarg;
            break;
        case OPT_OUT:
            a->out = optarg;
            break;
        case OPT_SIG:
            a->sig = optarg;
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "raw") == 0)
                a->format = FMT_RAW;
            else if (strcmp(optarg, "der") == 0)
                a->format = FMT_DER;
            else
                return tool_usage(t, "--format takes raw or der");
            a->has_format = true;
            break;
        default:
            return TOOL_USAGE;
        }
    }
    if (!a->key)
        return tool_usage(t, "--key LABEL|URI is required");
    t->uri_hint = a->key; /* a URI's token= or serial= chooses the SE */
    if (!a->in)
        return tool_usage(t, "--in FILE is required (- for stdin)");
    if (verify && !a->sig)
        return tool_usage(t, "--sig FILE is required");
    if (verify && strcmp(a->in, "-") == 0 && strcmp(a->sig, "-") == 0)
        return tool_usage(t, "--in and --sig cannot both be stdin");
    if (!verify && !a->out && !t->json)
        return tool_usage(t, "--out FILE is required (- for stdout)");
    if (!verify && t->json && a->out && strcmp(a->out, "-") == 0)
        return tool_usage(t, "--out - and --json both write to stdout");
    if (a->has_alg && a->has_format && a->format == FMT_DER && !is_ecdsa(a->alg))
        return tool_usage(t, "--format der is for ECDSA signatures only");
    return -1;
}

/* The algorithm for the key (the default one, or a check of --alg) and the size of r or s. */
static int key_alg(struct tool *t, const sea_object_info *oi, struct sig_args *a, size_t *half)
{
    bool ec = oi->key_type == SEA_KEY_EC_P256 || oi->key_type == SEA_KEY_EC_P384;
    bool rsa = oi->key_type == SEA_KEY_RSA_2048 || oi->key_type == SEA_KEY_RSA_3072 ||
               oi->key_type == SEA_KEY_RSA_4096;
    bool ed = oi->key_type == SEA_KEY_ED25519;
    *half = oi->key_type == SEA_KEY_EC_P384 ? 48 : 32;
    if (!a->has_alg)
        a->alg = ec    ? SEA_ALG_ECDSA_SHA256
                 : rsa ? SEA_ALG_RSA_PSS_SHA256
                 : ed  ? SEA_ALG_ED25519
                       : SEA_ALG_HMAC_SHA256;
    bool rsa_alg = a->alg == SEA_ALG_RSA_PKCS1_SHA256 || a->alg == SEA_ALG_RSA_PSS_SHA256;
    if (is_ecdsa(a->alg) != ec || rsa_alg != rsa || (a->alg == SEA_ALG_ED25519) != ed)
        return tool_usage(t, "--alg %s does not fit the %s key '%s'", alg_name(a->alg),
                          ec    ? "EC"
                          : rsa ? "RSA"
                          : ed  ? "Ed25519"
                                : "secret",
                          oi->label);
    if (a->format == FMT_DER && !ec)
        return tool_usage(t, "--format der is for ECDSA signatures only");
    return TOOL_OK;
}

static const char sign_help[] =
    "Usage: sea-tool sign --key LABEL|URI [--alg ALG] --in FILE|- --out FILE|- [--format raw|der]\n"
    "Sign (ECDSA) or MAC (HMAC) a file with a key of the SE (user PIN needed).\n\n"
    "  --alg ALG          ecdsa-sha256 (default for EC keys), ecdsa-sha384, ecdsa (FILE holds a\n"
    "                     digest), rsa-pss-sha256 (default for RSA keys), rsa-pkcs1-sha256,\n"
    "                     ed25519 (for Ed25519 keys), hmac-sha256 (default for secret keys)\n"
    "  --format raw|der   ECDSA: raw r||s (default) or DER ECDSA-Sig-Value, the form that\n"
    "                     'openssl dgst -verify' takes\n"
    "  --out FILE         the signature (with --json it is also in the output, base64)\n\n";

int cmd_sign(struct tool *t, int argc, char **argv)
{
    static const sea_class classes[] = {SEA_CLASS_PRIVATE_KEY, SEA_CLASS_SECRET_KEY};
    struct sig_args a;
    sea_se *se = NULL;
    sea_se_info info;
    sea_object_info oi;
    sea_obj key;
    uint8_t *msg = NULL, sig[SIG_MAX], der[SIG_MAX + 16];
    size_t msg_len = 0, sig_len = sizeof(sig), half;
    int rc = sig_options(t, argc, argv, false, &a);
    if (rc == 'h') {
        printf("%s%s", sign_help, tool_global_help);
        return TOOL_OK;
    }
    if (rc != -1)
        return rc;
    if ((rc = tool_read_file(t, a.in, &msg, &msg_len)) != TOOL_OK ||
        (rc = tool_open_se(t, true, &se, &info)) != TOOL_OK ||
        (rc = find_key(t, se, a.key, classes, 2, &key, &oi)) != TOOL_OK ||
        (rc = key_alg(t, &oi, &a, &half)) != TOOL_OK)
        goto out;
    sea_rv rv = sea_sign(se, key, a.alg, msg, msg_len, sig, &sig_len);
    if (rv != SEA_OK) {
        rc = tool_fail(t, rv, "signing with '%s'", a.key);
        goto out;
    }
    const uint8_t *outp = sig;
    size_t out_len = sig_len;
    if (a.format == FMT_DER) {
        out_len = ecdsa_raw_to_der(sig, sig_len, der);
        outp = der;
    }
    if (a.out && (rc = tool_write_file(t, a.out, outp, out_len, 0644)) != TOOL_OK)
        goto out;
    if (t->json) {
        json_object_begin(&t->j, NULL);
        json_string(&t->j, "key", oi.uri);
        json_string(&t->j, "Salg", alg_name(a.alg));
        json_string(&t->j, "format", a.format == FMT_DER ? "der" : "raw");
        json_base64(&t->j, "Sgn", outp, out_len);
        json_object_end(&t->j);
        json_finish(&t->j);
    }
out:
    tool_free_wiped(msg, msg_len);
    sea_se_close(se);
    return rc;
}

static const char verify_help[] =
    "Usage: sea-tool verify --key LABEL|URI [--alg ALG] --in FILE|- --sig FILE [--format raw|der]\n"
    "Verify a signature or MAC made by sign. Prints \"Signature OK\" and exits 0, or prints\n"
    "\"Signature INVALID\" and exits 1. An EC public key needs no PIN; a secret key does.\n"
    "--alg and --format as for sign.\n\n";

int cmd_verify(struct tool *t, int argc, char **argv)
{
    static const sea_class classes[] = {SEA_CLASS_PUBLIC_KEY, SEA_CLASS_SECRET_KEY};
    struct sig_args a;
    sea_se *se = NULL;
    sea_se_info info;
    sea_object_info oi;
    sea_obj key;
    uint8_t *msg = NULL, *sig = NULL, raw[SIG_MAX];
    size_t msg_len = 0, sig_len = 0, half;
    int rc = sig_options(t, argc, argv, true, &a);
    if (rc == 'h') {
        printf("%s%s", verify_help, tool_global_help);
        return TOOL_OK;
    }
    if (rc != -1)
        return rc;
    if ((rc = tool_read_file(t, a.in, &msg, &msg_len)) != TOOL_OK ||
        (rc = tool_read_file(t, a.sig, &sig, &sig_len)) != TOOL_OK)
        goto out;
    /* An EC public key is a public object; an HMAC key is not, so log in when a PIN is at
     * hand, and otherwise only if the key turns out to need it. */
    bool login = pin_available(t, PIN_USER);
    if ((rc = tool_open_se(t, login, &se, &info)) != TOOL_OK)
        goto out;
    sea_rv rv = lookup_key(se, a.key, classes, 2, &key, &oi);
    if (rv == SEA_ERR_NOT_FOUND && !login) {
        /* perhaps a private object (a secret key): log in and look again */
        if ((rc = tool_login(t, se, &info)) != TOOL_OK)
            goto out;
        rv = lookup_key(se, a.key, classes, 2, &key, &oi);
    }
    if (rv != SEA_OK) {
        rc = tool_fail(t, rv, "finding the key '%s'", a.key);
        goto out;
    }
    if ((rc = key_alg(t, &oi, &a, &half)) != TOOL_OK)
        goto out;
    const uint8_t *sigp = sig;
    size_t sigp_len = sig_len;
    rv = SEA_ERR_SIGNATURE_INVALID;
    if (a.format == FMT_DER) {
        sigp = raw;
        sigp_len = 2 * half;
        if (!ecdsa_der_to_raw(sig, sig_len, raw, half))
            goto result; /* not a DER signature: not a valid one either */
    }
    rv = sea_verify(se, key, a.alg, msg, msg_len, sigp, sigp_len);
    if (rv != SEA_OK && rv != SEA_ERR_SIGNATURE_INVALID) {
        rc = tool_fail(t, rv, "verifying with '%s'", a.key);
        goto out;
    }
result:
    rc = rv == SEA_OK ? TOOL_OK : TOOL_FAIL;
    if (t->json) {
        json_object_begin(&t->j, NULL);
        json_string(&t->j, "key", oi.uri);
        json_string(&t->j, "Salg", alg_name(a.alg));
        json_bool(&t->j, "vR", rv == SEA_OK);
        json_object_end(&t->j);
        json_finish(&t->j);
    } else {
        printf("Signature %s\n", rv == SEA_OK ? "OK" : "INVALID");
    }
out:
    tool_free_wiped(msg, msg_len);
    free(sig);
    sea_se_close(se);
    return rc;
}

/* sea-tool's identity commands: csr (a PKCS#10 request whose subjectAltName carries the AE-ID,
 * CSE-ID or Node-ID, signed inside the SE, TS-0003 10.1.4) and cert import (the certificate
 * issued for it, stored next to the key). */
#include <stdlib.h>
#include <string.h>

#include "tool.h"

#define CSR_MAX 4096

/* The first object of the given classes that name (a label or a URI) names, with its info. */
static int find_object(struct tool *t, sea_se *se, const char *name, const sea_class *classes,
                       size_t n, sea_obj *obj, sea_object_info *info)
{
    sea_rv rv = SEA_ERR_NOT_FOUND;
    for (size_t i = 0; i < n && rv == SEA_ERR_NOT_FOUND; i++)
        rv = sea_object_find(se, name, classes[i], obj);
    if (rv == SEA_OK)
        rv = sea_object_info_get(se, *obj, info);
    return rv == SEA_OK ? TOOL_OK : tool_fail(t, rv, "finding the key '%s'", name);
}

/* ---- csr ---- */

static const char csr_help[] =
    "Usage: sea-tool csr --key LABEL|URI (--ae-id ID | --cse-id NAME | --node-id ID)\n"
    "                    [--cn NAME] [--out FILE] [--der]\n"
    "Make a PKCS#10 certificate signing request (TS-0003 10.1.4) for an EC P-256 (or P-384)\n"
    "key pair of the SE, signed inside the SE (user PIN needed). Its subjectAltName carries\n"
    "the identifier; keyUsage digitalSignature is requested. PEM on stdout by default.\n\n"
    "  --key LABEL|URI    the private key\n"
    "  --ae-id ID         the Absolute-AE-ID, //SP-FQDN/CSE-ID/C... or //SP-FQDN/S...: the SAN\n"
    "                     is the URI https://SP-FQDN/... (give scheme://... for another scheme)\n"
    "  --cse-id NAME      the CSE's public domain name (TS-0001 6.5.1.1), e.g.\n"
    "                     mn-cse1.in-cse.m2m.example.com: the SAN is that dNSName\n"
    "  --node-id ID       the M2M-Node-ID as a URN (urn:gsma:imei:...) or an OID, which\n"
    "                     becomes urn:oid:OID: the SAN is that URI\n"
    "  --cn NAME          the subject's commonName (default: the identifier as given; needed\n"
    "                     when that is longer than 64 bytes)\n"
    "  --out FILE         write the CSR to FILE (default: stdout)\n"
    "  --der              DER instead of PEM\n\n";

int cmd_csr(struct tool *t, int argc, char **argv)
{
    enum { OPT_KEY = 256, OPT_AE, OPT_CSE, OPT_NODE, OPT_CN, OPT_OUT, OPT_DER };
    static const struct option opts[] = {
        {"key", required_argument, NULL, OPT_KEY},
        {"ae-id", required_argument, NULL, OPT_AE},
        {"cse-id", required_argument, NULL, OPT_CSE},
        {"node-id", required_argument, NULL, OPT_NODE},
        {"cn", required_argument, NULL, OPT_CN},
        {"out", required_argument, NULL, OPT_OUT},
        {"der", no_argument, NULL, OPT_DER},
        {NULL, 0, NULL, 0},
    };
    static const sea_class classes[] = {SEA_CLASS_PRIVATE_KEY};
    const char *name = NULL, *out_path = NULL;
    sea_csr_params p;
    unsigned nids = 0;
    bool der_out = false;
    sea_se *se = NULL;
    sea_se_info info;
    sea_object_info oi;
    sea_obj key;
    uint8_t csr[CSR_MAX];
    size_t csr_len = sizeof(csr);
    char san[700], *pem = NULL;
    size_t san_len = sizeof(san);
    int c, rc;
    memset(&p, 0, sizeof(p));
    while ((c = tool_getopt(t, argc, argv, opts)) != -1) {
        switch (c) {
        case 'h':
            printf("%s%s", csr_help, tool_global_help);
            return TOOL_OK;
        case OPT_KEY:
            name = optarg;
            break;
        case OPT_AE:
        case OPT_CSE:
        case OPT_NODE:
            p.san_kind = c == OPT_AE    ? SEA_SAN_AE_ID
                         : c == OPT_CSE ? SEA_SAN_CSE_ID
                                        : SEA_SAN_NODE_ID;
            p.san_value = optarg;
            nids++;
            break;
        case OPT_CN:
            p.subject_cn = optarg;
            break;
        case OPT_OUT:
            out_path = optarg;
            break;
        case OPT_DER:
            der_out = true;
            break;
        default:
            return TOOL_USAGE;
        }
    }
    if (!name)
        return tool_usage(t, "--key LABEL|URI is required");
    if (nids != 1)
        return tool_usage(t, "give exactly one of --ae-id, --cse-id, --node-id");
    if (t->json && (!out_path || strcmp(out_path, "-") == 0) && der_out)
        return tool_usage(t, "--der with --json needs --out FILE");
    if (t->json && out_path && strcmp(out_path, "-") == 0)
        return tool_usage(t, "--out - and --json both write to stdout");
    /* a malformed identifier is found before the PIN is asked for */
    sea_rv rv = sea_san_name(p.san_kind, p.san_value, san, &san_len);
    if (rv != SEA_OK)
        return tool_usage(t, "%s", sea_last_error(NULL));
    t->uri_hint = name; /* a URI's token= or serial= chooses the SE */
    if ((rc = tool_open_se(t, true, &se, &info)) != TOOL_OK ||
        (rc = find_object(t, se, name, classes, 1, &key, &oi)) != TOOL_OK)
        goto out;
    rv = sea_csr_create(se, key, &p, csr, &csr_len);
    if (rv != SEA_OK) {
        rc = tool_fail(t, rv, "making the CSR with '%s'", name);
        goto out;
    }
    if (!(pem = pem_encode("CERTIFICATE REQUEST", csr, csr_len))) {
        rc = tool_error(t, "out of memory");
        goto out;
    }
    if (out_path || !t->json) {
        const char *path = out_path ? out_path : "-";
        rc = der_out ? tool_write_file(t, path, csr, csr_len, 0644)
                     : tool_write_file(t, path, pem, strlen(pem), 0644);
        if (rc != TOOL_OK)
            goto out;
    }
    if (t->json) {
        json_object_begin(&t->j, NULL);
        json_string(&t->j, "key", oi.uri);
        json_string(&t->j, "subjectAltName", san);
        json_string(&t->j, "pem", pem);
        json_object_end(&t->j);
        json_finish(&t->j);
    }
out:
    free(pem);
    sea_se_close(se);
    return rc;
}

/* ---- cert import ---- */

static const char cert_help[] =
    "Usage: sea-tool cert import --key LABEL|URI --in FILE|- [--label LABEL]\n"
    "Store the X.509 certificate issued for a key pair of the SE next to the key (user PIN\n"
    "needed) and print its PKCS#11 URI. The certificate object is public, has the key's\n"
    "CKA_ID (a key pair without one gets the SHA-1 of its public point) and is refused if its\n"
    "public key is not the key's.\n\n"
    "  --key LABEL|URI    either key of the pair\n"
    "  --in FILE          the certificate, PEM (the first CERTIFICATE block) or DER\n"
    "  --label LABEL      the certificate's label (default: the key's)\n\n";

static int cert_import(struct tool *t, int argc, char **argv)
{
    enum { OPT_KEY = 256, OPT_IN, OPT_LABEL };
    static const struct option opts[] = {
        {"key", required_argument, NULL, OPT_KEY},
        {"in", required_argument, NULL, OPT_IN},
        {"label", required_argument, NULL, OPT_LABEL},
        {NULL, 0, NULL, 0},
    };
    static const sea_class classes[] = {SEA_CLASS_PRIVATE_KEY, SEA_CLASS_PUBLIC_KEY};
    const char *name = NULL, *in = NULL, *label = NULL;
    sea_se *se = NULL;
    sea_se_info info;
    sea_object_info oi, ci;
    sea_obj key, cert = 0;
    uint8_t *data = NULL;
    size_t len = 0;
    int c, rc;
    while ((c = tool_getopt(t, argc, argv, opts)) != -1) {
        switch (c) {
        case 'h':
            printf("%s%s", cert_help, tool_global_help);
            return TOOL_OK;
        case OPT_KEY:
            name = optarg;
            break;
        case OPT_IN:
            in = optarg;
            break;
        case OPT_LABEL:
            label = optarg;
            break;
        default:
            return TOOL_USAGE;
        }
    }
    if (!name)
        return tool_usage(t, "--key LABEL|URI is required");
    if (!in)
        return tool_usage(t, "--in FILE is required (- for stdin)");
    if (label && !*label)
        return tool_usage(t, "--label must not be empty");
    t->uri_hint = name;
    if ((rc = tool_read_file(t, in, &data, &len)) != TOOL_OK)
        goto out;
    if (len == 0) {
        rc = tool_error(t, "%s is empty", in);
        goto out;
    }
    if ((rc = tool_open_se(t, true, &se, &info)) != TOOL_OK ||
        (rc = find_object(t, se, name, classes, 2, &key, &oi)) != TOOL_OK)
        goto out;
    sea_rv rv = sea_cert_import(se, key, data, len, label, &cert);
    if (rv == SEA_OK)
        rv = sea_object_info_get(se, cert, &ci);
    if (rv != SEA_OK) {
        rc = tool_fail(t, rv, "importing the certificate %s for '%s'", in, name);
        goto out;
    }
    if (t->json) {
        json_object_begin(&t->j, NULL);
        json_string(&t->j, "uri", ci.uri);
        json_string(&t->j, "key", oi.uri);
        tool_json_object(&t->j, "certificate", &ci);
        json_object_end(&t->j);
        json_finish(&t->j);
    } else {
        printf("%s\n", ci.uri);
    }
out:
    free(data);
    sea_se_close(se);
    return rc;
}

int cmd_cert(struct tool *t, int argc, char **argv)
{
    /* argv[0] is "cert", argv[1] the subcommand: it becomes argv[0] of its own options */
    if (argc < 2)
        return tool_usage(t, "import?");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        printf("%s%s", cert_help, tool_global_help);
        return TOOL_OK;
    }
    if (strcmp(argv[1], "import") == 0)
        return cert_import(t, argc - 1, argv + 1);
    return tool_usage(t, "unknown cert command '%s' (import)", argv[1]);
}

/* sea-tool: the provisioning tool of libsea. `sea-tool [global options] COMMAND [options]`:
 * global options, the command table, help, error reporting (text on stderr, and a JSON error
 * document on stdout with --json), and the file and SE helpers the commands share. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

struct command {
    const char *name;
    int (*run)(struct tool *t, int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"list", cmd_list, "list the SEs with their TS-0016 descriptors"},
    {"info", cmd_info, "library, configuration, devices, SEs (and the objects of one SE)"},
    {"init", cmd_init, "create and personalise an SE"},
    {"delete", cmd_delete, "delete an SE and everything in it"},
    {"keygen", cmd_keygen, "generate a key in the SE"},
    {"import", cmd_import, "import a private key or a pre-provisioned secret key"},
    {"pubkey", cmd_pubkey, "export a public key as PEM"},
    {"sign", cmd_sign, "sign or MAC a file"},
    {"verify", cmd_verify, "verify a signature or MAC"},
    {"data", cmd_data, "sensitive data objects: put, get, rm"},
    {"se", cmd_se, "the TS-0016 <SE> resource: show"},
    {"csr", cmd_csr, "a PKCS#10 request with the AE-ID, CSE-ID or Node-ID, signed in the SE"},
    {"cert", cmd_cert, "certificates: import (next to their key)"},
    {"derive", cmd_derive, "oneM2M key derivations: km, kpsa, usage, e2e, session, split"},
};

const char tool_global_help[] =
    "Global options (also accepted after the command):\n"
    "  --config FILE      use this sea.conf (default: $SEA_CONF, $XDG_CONFIG_HOME/sea/sea.conf,\n"
    "                     /etc/sea/sea.conf, else the embedded default)\n"
    "  --se NAME|SE-ID|URI\n"
    "                     the SE to use, also as a token URI (pkcs11:token=NAME or serial=SE-ID)\n"
    "                     (default: the SE a --key URI names, else the only SE, if just one)\n"
    "  --pin-file FILE    read the user PIN from the first line of FILE (else $SEA_PIN,\n"
    "                     else a prompt on the terminal)\n"
    "  --so-pin-file FILE read the SO PIN likewise (else $SEA_SO_PIN, else a prompt)\n"
    "  --json             machine-readable output: one JSON document on stdout\n"
    "  --quiet            no warnings on stderr (errors are still reported)\n"
    "  -h, --help         show help\n";

/* A global option of sea-tool.c's own: warnings are all printed here, by tool_warn. */
enum { OPT_QUIET = OPT_HELP + 1 };
static bool quiet;

static const struct option global_opts[] = {
    {"config", required_argument, NULL, OPT_CONFIG},
    {"json", no_argument, NULL, OPT_JSON},
    {"se", required_argument, NULL, OPT_SE},
    {"pin-file", required_argument, NULL, OPT_PIN_FILE},
    {"so-pin-file", required_argument, NULL, OPT_SO_PIN_FILE},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"help", no_argument, NULL, OPT_HELP},
};
#define NGLOBAL     (sizeof(global_opts) / sizeof(global_opts[0]))
#define OPT_VERSION 'V'
#define MAX_OPTS    40

/* ---- messages ---- */

static const char *origin_name(sea_origin o)
{
    switch (o) {
    case SEA_ORIGIN_API:
        return "api";
    case SEA_ORIGIN_CORE:
        return "core";
    case SEA_ORIGIN_BACKEND:
        return "backend";
    case SEA_ORIGIN_TRANSPORT:
        return "transport";
    case SEA_ORIGIN_DEVICE:
        return "device";
    default:
        return "none";
    }
}

/* ---- the JSON document of a command ---- */

/* The document is built in memory the tool owns, since it may hold secrets (data get --json:
 * the data in base64): stdio stages it in jstage, and jdoc_write copies it into t->jbuf,
 * growing that by hand. Every old copy is wiped: open_memstream's realloc left them behind. */
struct jdoc {
    struct tool *t;
    size_t cap; /* of t->jbuf; t->jlen bytes of it are the document */
};

static char jstage[BUFSIZ];

/* fopencookie's write: the number of bytes taken, 0 on failure (out of memory). */
static ssize_t jdoc_write(void *cookie, const char *p, size_t n)
{
    struct jdoc *d = cookie;
    struct tool *t = d->t;
    if (n > d->cap - t->jlen) {
        size_t want = t->jlen + n, ncap = d->cap ? d->cap : 4096;
        while (ncap < want && ncap <= SIZE_MAX / 2)
            ncap *= 2;
        char *nb = ncap >= want && want >= n ? malloc(ncap) : NULL;
        if (!nb)
            return 0;
        if (t->jbuf)
            memcpy(nb, t->jbuf, t->jlen);
        tool_free_wiped(t->jbuf, t->jlen);
        t->jbuf = nb;
        d->cap = ncap;
    }
    memcpy(t->jbuf + t->jlen, p, n);
    t->jlen += n;
    return (ssize_t)n;
}

static int jdoc_open(struct tool *t, struct jdoc *d)
{
    static const cookie_io_functions_t io = {.write = jdoc_write};
    d->t = t;
    d->cap = 0;
    t->jf = fopencookie(d, "w", io);
    if (!t->jf || setvbuf(t->jf, jstage, _IOFBF, sizeof(jstage)) != 0) {
        if (t->jf)
            fclose(t->jf);
        t->jf = NULL;
        return tool_error(t, "out of memory");
    }
    json_init(&t->j, t->jf);
    return TOOL_OK;
}

/* Flush the document into t->jbuf and wipe the staging buffer; false if it is incomplete. */
static bool jdoc_close(struct tool *t)
{
    bool complete = !ferror(t->jf);
    if (fclose(t->jf) != 0)
        complete = false;
    t->jf = NULL;
    explicit_bzero(jstage, sizeof(jstage));
    return complete;
}

static void jdoc_free(struct tool *t)
{
    tool_free_wiped(t->jbuf, t->jlen);
    t->jbuf = NULL;
    t->jlen = 0;
}

/* With --json: {"error": {...}} on stdout instead of whatever the command had written. */
static void json_error(struct tool *t, const char *message, const char *status, int code,
                       const char *origin, int onem2m, int exit_status)
{
    if (!t->json || t->reported)
        return;
    t->reported = true; /* one document: the first error wins */
    if (t->jf) {
        jdoc_close(t);
        jdoc_free(t);
    }
    struct json j;
    json_init(&j, stdout);
    json_object_begin(&j, NULL);
    json_object_begin(&j, "error");
    json_string(&j, "message", message);
    if (t->cmd)
        json_string(&j, "command", t->cmd);
    json_string(&j, "status", status);
    if (code >= 0)
        json_int(&j, "code", code);
    if (origin)
        json_string(&j, "origin", origin);
    if (onem2m)
        json_int(&j, "rsc", onem2m);
    json_int(&j, "exitStatus", exit_status);
    json_object_end(&j);
    json_object_end(&j);
    json_finish(&j);
    fflush(stdout);
}

int tool_usage(struct tool *t, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (t->cmd)
        fprintf(stderr, "%s %s: %s\nTry '%s %s --help'.\n", TOOL_NAME, t->cmd, msg, TOOL_NAME,
                t->cmd);
    else
        fprintf(stderr, "%s: %s\nTry '%s --help'.\n", TOOL_NAME, msg, TOOL_NAME);
    json_error(t, msg, "usage", -1, NULL, 0, TOOL_USAGE);
    return TOOL_USAGE;
}

/* Some statuses deserve words of the tool's own, whatever the backend says. */
static const char *rv_phrase(sea_rv rv)
{
    switch (rv) {
    case SEA_ERR_PIN_INCORRECT:
        return "the PIN is incorrect";
    case SEA_ERR_PIN_LOCKED:
        return "the PIN is locked";
    case SEA_ERR_PIN_LEN:
        return "the PIN length is not allowed";
    case SEA_ERR_PIN_NOT_SET:
        return "the user PIN is not set";
    default:
        return NULL;
    }
}

int tool_fail(struct tool *t, sea_rv rv, const char *fmt, ...)
{
    char what[512], msg[1024];
    sea_origin origin = SEA_ORIGIN_NONE;
    const char *detail = sea_last_error(&origin);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    const char *phrase = rv_phrase(rv);
    if (!detail || !*detail)
        detail = sea_rv_name(rv);
    if (phrase)
        snprintf(msg, sizeof(msg), "%s: %s: %s", what, phrase, detail);
    else
        snprintf(msg, sizeof(msg), "%s: %s", what, detail);
    fprintf(stderr, "%s: %s\n", TOOL_NAME, msg);
    json_error(t, msg, sea_rv_name(rv), (int)rv, origin_name(origin), sea_rv_onem2m(rv), TOOL_FAIL);
    return TOOL_FAIL;
}

int tool_error(struct tool *t, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s\n", TOOL_NAME, msg);
    json_error(t, msg, "error", -1, NULL, 0, TOOL_FAIL);
    return TOOL_FAIL;
}

void tool_warn(const char *fmt, ...)
{
    va_list ap;
    if (quiet)
        return;
    fprintf(stderr, "%s: warning: ", TOOL_NAME);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- options ---- */

/* The index of the argument getopt was looking at (0 means it started afresh at 1). */
static int at(int prev, int argc)
{
    int i = prev > 0 ? prev : 1;
    return i < argc ? i : argc - 1;
}

/* With rest, the arguments after the options (the command and its own) are left to the
 * caller; without, they are a usage error. */
static int next_opt(struct tool *t, int argc, char **argv, const struct option *cmd_opts, bool rest)
{
    struct option all[MAX_OPTS + 1];
    size_t n = 0;
    for (size_t i = 0; i < NGLOBAL; i++)
        all[n++] = global_opts[i];
    for (size_t i = 0; cmd_opts && cmd_opts[i].name && n < MAX_OPTS; i++)
        all[n++] = cmd_opts[i];
    memset(&all[n], 0, sizeof(all[n]));
    opterr = 0;
    for (;;) {
        int prev = optind;
        int c = getopt_long(argc, argv, "+:h", all, NULL);
        switch (c) {
        case -1:
            if (!rest && optind < argc)
                return tool_usage(t, "unexpected argument '%s'", argv[optind]), '?';
            return -1;
        case 'h':
        case OPT_HELP:
            return 'h';
        case OPT_CONFIG:
            t->config = optarg;
            break;
        case OPT_JSON:
            t->json = true;
            break;
        case OPT_SE:
            t->se = optarg;
            break;
        case OPT_PIN_FILE:
            t->pin_file = optarg;
            break;
        case OPT_SO_PIN_FILE:
            t->so_pin_file = optarg;
            break;
        case OPT_QUIET:
            quiet = true;
            break;
        case ':':
            return tool_usage(t, "option '%s' needs a value", argv[at(prev, argc)]), '?';
        case '?':
            return tool_usage(t, "unknown option '%s'", argv[at(prev, argc)]), '?';
        default:
            return c;
        }
    }
}

int tool_getopt(struct tool *t, int argc, char **argv, const struct option *cmd_opts)
{
    return next_opt(t, argc, argv, cmd_opts, false);
}

/* ---- the library and SEs ---- */

int tool_ctx(struct tool *t, sea_ctx **ctx)
{
    if (!t->ctx) {
        sea_rv rv = sea_open(&t->ctx, t->config);
        if (rv != SEA_OK) {
            t->ctx = NULL;
            return tool_fail(t, rv, "opening libsea%s%s", t->config ? " with " : "",
                             t->config ? t->config : "");
        }
    }
    *ctx = t->ctx;
    return TOOL_OK;
}

/* ---- PKCS#11 URIs ---- */

bool tool_is_uri(const char *s)
{
    return s && strncasecmp(s, "pkcs11:", 7) == 0;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode [v, end) into out[TOOL_URI_MAX] (NUL-terminated); false if malformed, too
 * long or holding a NUL byte. */
static bool uri_decode(const char *v, const char *end, char *out)
{
    size_t n = 0;
    while (v < end) {
        int c = (unsigned char)*v++;
        if (c == '%') {
            int hi = end - v >= 2 ? hex_digit(v[0]) : -1, lo = hi >= 0 ? hex_digit(v[1]) : -1;
            if (lo < 0)
                return false;
            c = hi * 16 + lo;
            v += 2;
        }
        if (c == 0 || n + 1 >= TOOL_URI_MAX)
            return false;
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return true;
}

int tool_uri_parse(struct tool *t, const char *s, struct tool_uri *u)
{
    memset(u, 0, sizeof(*u));
    if (!tool_is_uri(s))
        return tool_usage(t, "not a PKCS#11 URI (pkcs11:...)");
    const char *p = s + 7, *path_end = p + strcspn(p, "?");
    while (p < path_end) {
        const char *end = p + strcspn(p, ";?");
        if (end > path_end)
            end = path_end;
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (end == p) { /* an empty attribute (";;" or a trailing ';') */
            p = end + 1;
            continue;
        }
        if (!eq)
            return tool_usage(t, "PKCS#11 URI: an attribute without '=' in the path");
        size_t nlen = (size_t)(eq - p);
        struct {
            const char *name;
            bool *has;
            char *out;
        } known[] = {
            {"token", &u->has_token, u->token},
            {"serial", &u->has_serial, u->serial},
            {"manufacturer", &u->has_manufacturer, u->manufacturer},
            {"model", &u->has_model, u->model},
            {"object", &u->has_object, u->object},
            {"type", &u->has_type, u->type},
        };
        char val[TOOL_URI_MAX];
        bool done = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]) && !done; i++) {
            if (strlen(known[i].name) != nlen || memcmp(p, known[i].name, nlen) != 0)
                continue;
            if (*known[i].has)
                return tool_usage(t, "PKCS#11 URI: the attribute '%s' appears twice",
                                  known[i].name);
            if (!uri_decode(eq + 1, end, known[i].out))
                return tool_usage(t, "PKCS#11 URI: the value of '%s' is malformed or too long",
                                  known[i].name);
            *known[i].has = true;
            done = true;
        }
        if (!done && nlen == 2 && memcmp(p, "id", 2) == 0) {
            u->has_id = true;
        } else if (!done && nlen == 7 && memcmp(p, "slot-id", 7) == 0) {
            char *ep;
            if (!uri_decode(eq + 1, end, val) || !*val || *val == '-')
                return tool_usage(t, "PKCS#11 URI: slot-id is not a number");
            errno = 0;
            u->slot_id = strtoul(val, &ep, 10);
            if (*ep || errno)
                return tool_usage(t, "PKCS#11 URI: slot-id is not a number");
            u->has_slot_id = true;
        }
        /* other attributes (library-*, slot-description, x-...) are left to libsea */
        p = end + 1;
    }
    return TOOL_OK;
}

/* Does the SE match the URI's token attributes? (model is not in sea_se_info: not compared) */
static bool uri_matches_se(const struct tool_uri *u, const sea_se_info *s)
{
    return (!u->has_token || strcmp(u->token, s->name) == 0) &&
           (!u->has_serial || strcmp(u->serial, s->se_id) == 0) &&
           (!u->has_manufacturer || strcmp(u->manufacturer, "libsea") == 0) &&
           (!u->has_slot_id || u->slot_id == s->slot_id);
}

static bool uri_names_token(const struct tool_uri *u)
{
    return u->has_token || u->has_serial || u->has_manufacturer || u->has_slot_id;
}

/* The one SE the URI's token attributes match. for_se: the URI came with --se, where it must
 * name a token, not an object. */
static int se_by_uri(struct tool *t, sea_ctx *ctx, const char *uri, bool for_se,
                     sea_se_info *info)
{
    struct tool_uri u;
    sea_se_info *list = NULL;
    size_t n = 0, hits = 0;
    int rc = tool_uri_parse(t, uri, &u);
    if (rc != TOOL_OK)
        return rc;
    if (for_se && (u.has_object || u.has_type || u.has_id))
        return tool_usage(t, "--se takes a token URI (token=, serial=, manufacturer=, "
                             "slot-id=), not an object's");
    sea_rv rv = sea_se_list(ctx, &list, &n);
    if (rv != SEA_OK)
        return tool_fail(t, rv, "listing the SEs");
    for (size_t i = 0; i < n; i++) {
        if (uri_matches_se(&u, &list[i]) && hits++ == 0)
            *info = list[i];
    }
    sea_free(list);
    if (hits == 1)
        return TOOL_OK;
    if (hits == 0)
        return tool_error(t, "no SE matches the token of the PKCS#11 URI%s%s%s%s", u.has_token ? " (token=" : "", u.has_token ? u.token : "",
                          u.has_token ? ")" : "", n == 0 ? "; there is no SE yet" : "");
    return tool_usage(t, "%zu SEs match the PKCS#11 URI: name one with token= or serial=", hits);
}

int tool_find_se(struct tool *t, sea_se_info *info)
{
    sea_ctx *ctx;
    sea_se_info *list = NULL;
    size_t n = 0;
    int rc = tool_ctx(t, &ctx);
    if (rc != TOOL_OK)
        goto out;
    if (tool_is_uri(t->se)) {
        rc = se_by_uri(t, ctx, t->se, true, info);
        goto out;
    }
    if (!t->se && tool_is_uri(t->uri_hint)) {
        struct tool_uri u;
        if ((rc = tool_uri_parse(t, t->uri_hint, &u)) != TOOL_OK)
            goto out;
        if (uri_names_token(&u)) {
            rc = se_by_uri(t, ctx, t->uri_hint, false, info);
            goto out;
        }
    }
    if (t->se) {
        sea_rv rv = sea_se_find(ctx, t->se, info);
        if (rv != SEA_OK)
            rc = tool_fail(t, rv, "finding the SE '%s'", t->se);
        goto out;
    }
    sea_rv rv = sea_se_list(ctx, &list, &n);
    if (rv != SEA_OK) {
        rc = tool_fail(t, rv, "listing the SEs");
        goto out;
    }
    if (n == 0)
        rc = tool_error(t, "there is no SE yet: create one with '%s init'", TOOL_NAME);
    else if (n > 1)
        rc = tool_usage(t, "there are %zu SEs: choose one with --se NAME", n);
    else
        *info = list[0];
out:
    sea_free(list);
    return rc;
}

int tool_login(struct tool *t, sea_se *se, const sea_se_info *info)
{
    struct pin pin;
    char what[64];
    snprintf(what, sizeof(what), " for SE '%s'", info->name);
    int rc = pin_get(t, PIN_USER, false, what, &pin);
    if (rc == TOOL_OK) {
        sea_rv rv = sea_login(se, SEA_USER, pin.v, pin.len);
        if (rv != SEA_OK)
            rc = tool_fail(t, rv, "logging in to the SE '%s'", info->name);
    }
    pin_wipe(&pin);
    return rc;
}

int tool_open_se(struct tool *t, bool login, sea_se **se, sea_se_info *info)
{
    *se = NULL;
    int rc = tool_find_se(t, info);
    if (rc != TOOL_OK)
        return rc;
    /* The M2M-SE-ID is unique where a name may not be. */
    sea_rv rv = sea_se_open(t->ctx, info->se_id, se);
    if (rv != SEA_OK) {
        *se = NULL;
        return tool_fail(t, rv, "opening the SE '%s'", info->name);
    }
    if (login && (rc = tool_login(t, *se, info)) != TOOL_OK) {
        sea_se_close(*se);
        *se = NULL;
    }
    return rc;
}

/* ---- files ---- */

void tool_free_wiped(void *buf, size_t len)
{
    if (buf) {
        explicit_bzero(buf, len);
        free(buf);
    }
}

int tool_read_file(struct tool *t, const char *path, uint8_t **buf, size_t *len)
{
    bool is_stdin = strcmp(path, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    uint8_t *b = NULL;
    size_t n = 0, cap = 0;
    int rc = TOOL_FAIL;
    if (fd < 0) {
        rc = tool_error(t, "cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    for (;;) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            uint8_t *nb = ncap > cap ? malloc(ncap) : NULL;
            if (!nb) {
                rc = tool_error(t, "%s is too large to read", path);
                goto out;
            }
            if (b)
                memcpy(nb, b, n);
            tool_free_wiped(b, cap);
            b = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = tool_error(t, "cannot read %s: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *buf = b;
    *len = n;
    b = NULL;
    rc = TOOL_OK;
out:
    tool_free_wiped(b, cap);
    if (fd >= 0 && !is_stdin)
        close(fd);
    return rc;
}

/* 0, or the errno of the failed write. */
static int write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t r = write(fd, p, len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errno;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

/* A device or a FIFO (/dev/null, a pipe to another program) is written in place: it keeps no
 * copy that could be left readable, and replacing it would be wrong. Only one of the user's own
 * or of root's, though: another user's FIFO planted where the output goes would receive it. */
static int write_in_place(struct tool *t, const char *path, const void *data, size_t len)
{
    struct stat st;
    int rc = TOOL_FAIL, err;
    int fd = open(path, O_WRONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        rc = tool_error(t, "cannot write %s: %s", path, strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) != 0) {
        rc = tool_error(t, "cannot write %s: %s", path, strerror(errno));
        goto out;
    }
    /* A regular file swapped in since the caller looked is never written into. */
    if (S_ISREG(st.st_mode) || (st.st_uid != geteuid() && st.st_uid != 0)) {
        rc = tool_error(t, "cannot write %s: it is %s", path,
                        S_ISREG(st.st_mode) ? "a file that appeared while it was opened"
                                            : "a device or pipe of another user");
        goto out;
    }
    if ((err = write_all(fd, data, len)) != 0) {
        rc = tool_error(t, "cannot write %s: %s", path, strerror(err));
        goto out;
    }
    rc = TOOL_OK;
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

/* A new file beside path (mkstemp: a fresh name, O_EXCL, mode 0600), complete and on disk before
 * it is renamed over path. So an existing file, which others may be able to read or hold open,
 * never receives the data, a symlink at path is replaced rather than followed, and a failure
 * leaves path as it was. */
static int write_replacing(struct tool *t, const char *path, const void *data, size_t len,
                           mode_t mode)
{
    static const char tmp_name[] = ".sea-tool-XXXXXX";
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0; /* with its '/' */
    char *tmp = NULL;
    bool created = false;
    int fd = -1, rc = TOOL_FAIL, err = 0;
    /* The umask is read by setting it (to a strict one): no other thread creates files here. */
    mode_t mask = umask(077);
    umask(mask);
    mode = (mode & 0777) & ~mask;
    if (path[dir_len] == '\0') {
        rc = tool_error(t, "cannot write %s: %s", path, strerror(EISDIR));
        goto out;
    }
    if (!(tmp = malloc(dir_len + sizeof(tmp_name)))) {
        rc = tool_error(t, "out of memory");
        goto out;
    }
    memcpy(tmp, path, dir_len);
    memcpy(tmp + dir_len, tmp_name, sizeof(tmp_name));
    if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
        rc = tool_error(t, "cannot create %s: %s", path, strerror(errno));
        goto out;
    }
    created = true;
    if ((err = write_all(fd, data, len)) == 0 && mode != 0600 && fchmod(fd, mode) != 0)
        err = errno;
    if (err == 0 && fsync(fd) != 0)
        err = errno;
    if (close(fd) != 0 && err == 0)
        err = errno;
    fd = -1;
    if (err == 0 && rename(tmp, path) != 0)
        err = errno;
    if (err != 0) {
        rc = tool_error(t, "cannot write %s: %s", path, strerror(err));
        goto out;
    }
    created = false;
    rc = TOOL_OK;
out:
    if (fd >= 0)
        close(fd);
    if (created)
        unlink(tmp);
    free(tmp);
    return rc;
}

int tool_write_file(struct tool *t, const char *path, const void *data, size_t len, mode_t mode)
{
    struct stat st, target;
    int err;
    if (strcmp(path, "-") == 0) {
        fflush(stdout); /* keep the order of what stdio has buffered */
        if ((err = write_all(STDOUT_FILENO, data, len)) != 0)
            return tool_error(t, "cannot write to standard output: %s", strerror(err));
        return TOOL_OK;
    }
    if (lstat(path, &st) != 0 || S_ISREG(st.st_mode))
        return write_replacing(t, path, data, len, mode);
    if (!S_ISLNK(st.st_mode))
        return write_in_place(t, path, data, len);
    /* A symlink is replaced, never followed. One to a device or a pipe (/dev/stdout, /dev/fd/N)
     * can only be meant to be written through: refuse it rather than replace it. */
    if (stat(path, &target) == 0 && !S_ISREG(target.st_mode) && !S_ISDIR(target.st_mode))
        return tool_error(t,
                          "cannot write %s: it is a symbolic link to a device or a pipe, and "
                          "output files are never written through a link (use - for stdout)",
                          path);
    return write_replacing(t, path, data, len, mode);
}

bool tool_parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
    char *end = NULL;
    /* strtoul alone would take blanks, signs and octal */
    if (!s || *s < '0' || *s > '9')
        return false;
    int base = s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? 16 : 10;
    errno = 0;
    unsigned long v = strtoul(s, &end, base);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

void tool_timestamp(int64_t secs, char out[16])
{
    time_t tt = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || strftime(out, 16, "%Y%m%dT%H%M%S", &tm) == 0)
        snprintf(out, 16, "%s", "?");
}

/* ---- main ---- */

static void help(FILE *f)
{
    fprintf(f,
            "Usage: %s [global options] COMMAND [options]\n"
            "The provisioning tool of libsea (oneM2M TS-0016 secure environments).\n\n"
            "Commands:\n",
            TOOL_NAME);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n%s  --version          show the versions of sea-tool and libsea\n\n",
            tool_global_help);
    fprintf(f,
            "'%s COMMAND --help' shows the options of a command; see sea-tool(1).\n"
            "Exit status: 0 success, 1 failure (or an invalid signature), 2 usage error.\n",
            TOOL_NAME);
}

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* Print the JSON document a command built, or drop it if the command failed. */
static int finish(struct tool *t, int rc)
{
    int err = 0;
    if (!t->jf)
        return rc;
    if (!jdoc_close(t)) {
        jdoc_free(t);
        return tool_error(t, "out of memory building the JSON output");
    }
    /* A failure reported with tool_fail/tool_error has dropped the document already; what is
     * left on a failure is a result that is itself a "no" (verify: vR false). Written past
     * stdio, whose buffer would keep a copy until the process ends. */
    if (rc == TOOL_OK || (rc == TOOL_FAIL && t->jlen > 0)) {
        fflush(stdout);
        err = write_all(STDOUT_FILENO, t->jbuf, t->jlen);
    }
    jdoc_free(t);
    if (err == 0 && fflush(stdout) != 0)
        err = errno;
    if (err != 0 && rc == TOOL_OK)
        rc = tool_error(t, "cannot write the output: %s", strerror(err));
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option top_opts[] = {
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    struct tool t;
    int rc;
    memset(&t, 0, sizeof(t));
    int c;
    while ((c = next_opt(&t, argc, argv, top_opts, true)) != -1) {
        if (c == 'h') {
            help(stdout);
            return TOOL_OK;
        }
        if (c == OPT_VERSION) {
            printf("%s %s (libsea %s)\n", TOOL_NAME, PACKAGE_VERSION, sea_version());
            return TOOL_OK;
        }
        if (c == '?')
            return TOOL_USAGE;
    }
    /* tool_getopt stops at the command: getopt_long's "+" mode */
    if (optind >= argc)
        return tool_usage(&t, "no command given");
    const char *name = argv[optind];
    if (strcmp(name, "help") == 0) {
        const struct command *hc = optind + 1 < argc ? find_command(argv[optind + 1]) : NULL;
        if (!hc) {
            help(stdout);
            return optind + 1 < argc ? tool_usage(&t, "unknown command '%s'", argv[optind + 1])
                                     : TOOL_OK;
        }
        char *hargv[] = {(char *)hc->name, (char *)"--help", NULL};
        optind = 0;
        return hc->run(&t, 2, hargv);
    }
    const struct command *cmd = find_command(name);
    if (!cmd)
        return tool_usage(&t, "unknown command '%s'", name);
    t.cmd = cmd->name;
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    optind = 0; /* restart getopt (GNU: 0 also resets its state) on the command's arguments */
    struct jdoc doc;
    if ((rc = jdoc_open(&t, &doc)) != TOOL_OK)
        return rc;
    rc = cmd->run(&t, sub_argc, sub_argv);
    rc = finish(&t, rc);
    sea_close(t.ctx);
    return rc;
}

/* sea-tool: the shared state, the command entry points and the helpers the commands have in
 * common (option parsing, error reporting, files, PINs, JSON). The tool uses only the public
 * API of include/sea/sea.h. */
#ifndef SEA_TOOL_H
#define SEA_TOOL_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "sea/sea.h"

#define TOOL_NAME "sea-tool"

/* Exit status, documented in sea-tool(1). */
enum { TOOL_OK = 0, TOOL_FAIL = 1, TOOL_USAGE = 2 };

/* ---- JSON (json.c) ---- */

#define JSON_MAX_DEPTH 16

/* A streaming writer of one indented JSON document. Members take a key, array elements and the
 * top-level value take NULL. */
struct json {
    FILE *f;
    unsigned depth;
    bool has_items[JSON_MAX_DEPTH + 1];
};

void json_init(struct json *j, FILE *f);
void json_object_begin(struct json *j, const char *key);
void json_object_end(struct json *j);
void json_array_begin(struct json *j, const char *key);
void json_array_end(struct json *j);
void json_string(struct json *j, const char *key, const char *s);
void json_string_n(struct json *j, const char *key, const char *s, size_t n);
void json_int(struct json *j, const char *key, long long v);
void json_uint(struct json *j, const char *key, unsigned long long v);
void json_bool(struct json *j, const char *key, bool v);
void json_null(struct json *j, const char *key);
void json_base64(struct json *j, const char *key, const uint8_t *p, size_t n);
void json_hex(struct json *j, const char *key, const uint8_t *p, size_t n);
/* Ends the document with a newline. */
void json_finish(struct json *j);

/* Standard base64 (RFC 4648) with padding; out must hold base64_len(n) bytes (with the NUL). */
size_t base64_len(size_t n);
void base64_encode(const uint8_t *in, size_t n, char *out);
/* PEM with 64-column lines (RFC 7468) of a DER object under a label ("PUBLIC KEY"); malloc'd,
 * NULL without memory. */
char *pem_encode(const char *label, const uint8_t *der, size_t len);

/* Lower-case hex; out must hold 2 * n + 1 bytes. */
void hex_encode(const uint8_t *in, size_t n, char *out);
/* Hex (either case, an optional "0x", ':' or ' ' between bytes allowed) into out[max];
 * false if malformed or longer than max. */
bool hex_decode(const char *s, uint8_t *out, size_t max, size_t *len);

/* ---- the tool ---- */

struct tool {
    const char *config;      /* --config */
    const char *se;          /* --se NAME|M2M-SE-ID|token URI */
    const char *uri_hint;    /* a pkcs11: URI naming an object (--key, data --id): its token
                                attributes choose the SE when --se is not given */
    const char *pin_file;    /* --pin-file */
    const char *so_pin_file; /* --so-pin-file */
    bool json;               /* --json */
    bool reported;           /* an error document was printed (--json) */
    const char *cmd;         /* the command being run, for messages */
    sea_ctx *ctx;            /* opened by tool_ctx */
    FILE *jf;                /* the JSON document is built here and printed only on success */
    char *jbuf;
    size_t jlen;
    struct json j;
};

/* Options every command accepts besides its own (val >= OPT_GLOBAL_BASE). */
enum {
    OPT_GLOBAL_BASE = 0x1000,
    OPT_CONFIG,
    OPT_JSON,
    OPT_SE,
    OPT_PIN_FILE,
    OPT_SO_PIN_FILE,
    OPT_HELP,
};

/* Next option of a command: handles the global ones itself and returns the command's own val,
 * 'h' for --help, -1 at the end. A usage error is reported and returns '?'. Positional
 * arguments after the options are a usage error too. */
int tool_getopt(struct tool *t, int argc, char **argv, const struct option *cmd_opts);

/* Report a usage error ("sea-tool CMD: what") and return TOOL_USAGE. */
int tool_usage(struct tool *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Report a failed libsea call: "sea-tool: <what>: <sea_last_error()>"; returns TOOL_FAIL. */
int tool_fail(struct tool *t, sea_rv rv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Report a failure of the tool itself (message complete); returns TOOL_FAIL. */
int tool_error(struct tool *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tool_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- PKCS#11 URIs (RFC 7512) ---- */

#define TOOL_URI_MAX 256 /* the longest attribute value sea-tool reads from a URI */

/* The path attributes sea-tool reads itself: those naming a token (to choose the SE) and an
 * object (data objects). Object lookups by URI are left to libsea (sea_object_find). */
struct tool_uri {
    bool has_token, has_serial, has_manufacturer, has_model, has_slot_id;
    bool has_object, has_type, has_id;
    char token[TOOL_URI_MAX], serial[TOOL_URI_MAX], manufacturer[TOOL_URI_MAX];
    char model[TOOL_URI_MAX], object[TOOL_URI_MAX], type[TOOL_URI_MAX];
    unsigned long slot_id;
};

/* Does s start with the "pkcs11:" scheme (in any case)? */
bool tool_is_uri(const char *s);
/* Parse a URI's path attributes (percent-decoded; the query, e.g. pin-value, is ignored).
 * A malformed URI is a usage error (TOOL_USAGE, reported, the URI not echoed). */
int tool_uri_parse(struct tool *t, const char *s, struct tool_uri *u);

/* The library context (opened on first use with --config). */
int tool_ctx(struct tool *t, sea_ctx **ctx);
/* The SE named by --se, else the only SE. */
int tool_find_se(struct tool *t, sea_se_info *info);
/* Log the user in on an open SE with the user PIN (pin.c sources). */
int tool_login(struct tool *t, sea_se *se, const sea_se_info *info);
/* Open that SE; with login, log the user in with the user PIN (pin.c sources). */
int tool_open_se(struct tool *t, bool login, sea_se **se, sea_se_info *info);

/* Read a whole file ("-": stdin). Growth wipes what it leaves behind, so secrets may be read
 * this way; free with tool_free_wiped. */
int tool_read_file(struct tool *t, const char *path, uint8_t **buf, size_t *len);
void tool_free_wiped(void *buf, size_t len);
/* Write a file ("-": stdout): never in place — a new file (mode less the umask) is renamed over
 * the target, so a symlink there is replaced, not followed; a device or FIFO of the user's own
 * is written directly. */
int tool_write_file(struct tool *t, const char *path, const void *data, size_t len, mode_t mode);

/* A number in decimal or 0x hex, at most max; false if malformed. */
bool tool_parse_ulong(const char *s, unsigned long max, unsigned long *out);

/* "20261123T042700": the oneM2M timestamp (UTC) of seconds since the epoch. */
void tool_timestamp(int64_t secs, char out[16]);

/* ---- objects (cmd_key.c) ---- */

/* An object as JSON (class, keyType, bits, label, id, usage, ..., uri) or as two text lines. */
void tool_json_object(struct json *j, const char *key, const sea_object_info *o);
void tool_print_object(const sea_object_info *o);

/* ---- PINs (pin.c) ---- */

#define PIN_MAX 255

enum pin_role { PIN_USER, PIN_SO };

struct pin {
    char v[PIN_MAX + 1];
    size_t len;
};

/* A PIN from --pin-file / --so-pin-file, else $SEA_PIN / $SEA_SO_PIN, else a prompt on
 * /dev/tty with echo off (asked twice when confirm). what names it in the prompt. Returns
 * TOOL_OK or an exit status (reported). */
int pin_get(struct tool *t, enum pin_role role, bool confirm, const char *what, struct pin *out);
/* Whether a PIN is available without prompting. */
bool pin_available(const struct tool *t, enum pin_role role);
void pin_wipe(struct pin *p);

/* ---- commands ---- */

int cmd_list(struct tool *t, int argc, char **argv);
int cmd_info(struct tool *t, int argc, char **argv);
int cmd_init(struct tool *t, int argc, char **argv);
int cmd_delete(struct tool *t, int argc, char **argv);
int cmd_keygen(struct tool *t, int argc, char **argv);
int cmd_import(struct tool *t, int argc, char **argv);
int cmd_pubkey(struct tool *t, int argc, char **argv);
int cmd_sign(struct tool *t, int argc, char **argv);
int cmd_verify(struct tool *t, int argc, char **argv);
int cmd_data(struct tool *t, int argc, char **argv);
int cmd_se(struct tool *t, int argc, char **argv);
/* identity (cmd_csr.c) */
int cmd_csr(struct tool *t, int argc, char **argv);
int cmd_cert(struct tool *t, int argc, char **argv);
/* cmd_derive.c: the oneM2M key derivations (TS-0003 10.3) */
int cmd_derive(struct tool *t, int argc, char **argv);

/* The text of the global options, for each command's --help. */
extern const char tool_global_help[];

#endif

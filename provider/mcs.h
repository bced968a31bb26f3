/* The Mcs dispatcher's internals (TS-0016 resources as JSON, doc/mcs-json.md): the handler
 * contract every resource type follows, the JSON helpers the handlers share, and the few hidden
 * hooks into api.c they need. Include sea/sea.h (inside `#pragma GCC visibility push(default)`)
 * before this header, as api.c does. */
#ifndef SEA_MCS_H
#define SEA_MCS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api_int.h"
#include "sea/sea.h"

struct json_object;

/* Limits of a request (MCS-CONTRACT): body size and JSON nesting depth. */
#define MCS_MAX_BODY  (1024 * 1024)
#define MCS_MAX_DEPTH 8

/* One resource type's handler: `in` is the object under the root key (NULL for RETRIEVE/DELETE);
 * *out the object to put under the root key of the response (a new reference) or NULL; *rsc the
 * success code. Sets the thread's last error on failure; a handler may also set *rsc on failure
 * to a code sea_rv_onem2m cannot express (4005), else the dispatcher maps the status. */
typedef sea_rv (*mcs_handler_fn)(sea_se *se, const sea_mcs_request *req, struct json_object *in,
                                 struct json_object **out, int *rsc);

/* This branch: the <SE> descriptor and <sensitiveDataObject>. */
sea_rv mcs_se(sea_se *, const sea_mcs_request *, struct json_object *, struct json_object **,
              int *);
sea_rv mcs_sdo(sea_se *, const sea_mcs_request *, struct json_object *, struct json_object **,
               int *);
/* Branch mcs-func provides these (provider/mcs_func.c); until the merge the dispatcher answers
 * 5001 NOT_IMPLEMENTED for their resource types. */
sea_rv mcs_cipher(sea_se *, const sea_mcs_request *, struct json_object *, struct json_object **,
                  int *);
sea_rv mcs_signature(sea_se *, const sea_mcs_request *, struct json_object *, struct json_object **,
                     int *);
sea_rv mcs_hash(sea_se *, const sea_mcs_request *, struct json_object *, struct json_object **,
                int *);
sea_rv mcs_rand(sea_se *, const sea_mcs_request *, struct json_object *, struct json_object **,
                int *);
sea_rv mcs_identity(sea_se *, const sea_mcs_request *, struct json_object *, struct json_object **,
                    int *);
sea_rv mcs_secure_connection(sea_se *, const sea_mcs_request *, struct json_object *,
                             struct json_object **, int *);

/* ---- helpers (mcs.c) ---- */

/* Record SEA_ERR_ARGS with a message (origin API); returns SEA_ERR_ARGS. */
sea_rv mcs_bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Record SEA_ERR_DENIED (4103) with a message. */
sea_rv mcs_denied(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Strict RFC 4648 base64 with padding, no whitespace. *out malloc'd (wipe it if secret);
 * SEA_ERR_ARGS naming `attr` if s is not base64. */
sea_rv mcs_b64_decode(const char *s, size_t len, const char *attr, uint8_t **out, size_t *outlen);
/* Base64 of p as a new json string; NULL without memory. */
struct json_object *mcs_b64_string(const uint8_t *p, size_t n);
/* m2m:timestamp "YYYYMMDDTHHMMSS" (UTC) of t as a new json string. */
struct json_object *mcs_time_string(int64_t t);
/* Serialise j (plain) into a malloc'd *response sized first: no unwiped copy of the text. */
sea_rv mcs_emit(struct json_object *j, char **response);
/* Wipe the tokener's internal buffer (the last string it parsed), then free it. */
struct json_tokener;
void mcs_tokener_free(struct json_tokener *tok);
/* Wipe a json string's characters in place (json-c keeps them in the object). */
void mcs_wipe_string(struct json_object *s);
/* An m2m:ID or link: 1..255 bytes of printable ASCII without spaces. */
bool mcs_id_valid(const char *s);
/* The value of `key` in `in` must be a string / an array of strings; messages name `key`. */
sea_rv mcs_get_string(struct json_object *v, const char *key, const char **out);
/* Ask the CSE's ACP callback (or apply the creator rule when there is none). acp: space separated
 * ids of the resource ("" = the parent's); creator: the resource's creator (NULL for CREATE). */
sea_rv mcs_access(const sea_mcs_request *req, const char *acp, const char *creator);

/* the hooks into api.c (api_se_ctx, api_data_update, ...) are in api_int.h */

#endif

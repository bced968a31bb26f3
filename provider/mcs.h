/* The Mcs resource handlers (TS-0016 resources as JSON). This copy is the one branch mcs-func
 * needs before the merge with branch mcs, which owns this header, the Mcs section of sea.h and
 * the dispatcher (sea_mcs_execute): the declarations below are those of MCS-CONTRACT.md, and the
 * public types are repeated here only until sea.h carries them. */
#ifndef SEA_MCS_H
#define SEA_MCS_H

#include "sea/sea.h"

#ifndef SEA_MCS_OP_DEFINED
#define SEA_MCS_OP_DEFINED
typedef enum sea_mcs_op {
    SEA_MCS_CREATE = 1,
    SEA_MCS_RETRIEVE = 2,
    SEA_MCS_UPDATE = 3,
    SEA_MCS_DELETE = 4
} sea_mcs_op; /* TS-0004 operation codes */
typedef int (*sea_acp_check_fn)(void *arg, const char *originator, sea_mcs_op op,
                                const char *resource_type, const char *const *acp_ids);
typedef struct sea_mcs_request {
    sea_mcs_op op;
    const char *resource_type; /* long name without "m2m:" ("sensitiveDataObject", "hash", ...) */
    const char *resource_id;   /* target of RETRIEVE/UPDATE/DELETE; NULL for CREATE */
    const char *originator;    /* the requester's AE-ID/CSE-ID (required) */
    const char *content;       /* JSON body ({"m2m:<type>": {...}}), NULL for RETRIEVE/DELETE */
    size_t content_len;
    sea_acp_check_fn acp_check; /* NULL: only the creator may touch what it created */
    void *acp_arg;
} sea_mcs_request;
#endif

struct json_object;

/* One resource type's handler: `in` is the object under the root key (NULL for RETRIEVE/DELETE);
 * *out the object to put under the root key of the response (a new reference) or NULL; *rsc the
 * success code. Sets the thread's last error on failure. */
typedef sea_rv (*mcs_handler_fn)(sea_se *se, const sea_mcs_request *req, struct json_object *in,
                                 struct json_object **out, int *rsc);

/* The function resources (provider/mcs_func.c). */
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

#endif

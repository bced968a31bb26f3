/* What api.c shares with the other files of the native face (csr.c, api_func.c, the Mcs files):
 * the core and the session behind an open SE, the mapping of a core status to a sea_rv, and the
 * hooks the Mcs resources need. Internal: not exported. */
#ifndef SEA_API_INT_H
#define SEA_API_INT_H

#include <stdbool.h>

#include "common.h"
#include "sea/sea.h"

struct core;

/* The core of an SE's context and the SE's session (se is checked by the caller). */
struct core *api_core(sea_se *se, CK_SESSION_HANDLE *h);

/* A core status as a sea_rv, recording "<what> failed" if the core left no message. */
sea_rv api_status(CK_RV rv, const char *what);

/* ---- for the Mcs resources (mcs*.c) ---- */

enum {
    API_CAP_SDO = 1u << 0,
    API_CAP_CIPHER = 1u << 1,
    API_CAP_SIGNATURE = 1u << 2,
    API_CAP_HASH = 1u << 3,
    API_CAP_RAND = 1u << 4,
    API_CAP_IDENTITY = 1u << 5,
    API_CAP_SECURE_CONNECTION = 1u << 6,
};

sea_ctx *api_se_ctx(sea_se *se);
const char *api_se_id(const sea_se *se);
bool api_ctx_stale(sea_ctx *ctx);
/* Replace the value and/or the ACP ids of a data object in one atomic change; delete one.
 * expect (may be NULL): the creator and ACP ids the access decision saw; the object found is
 * changed only if it still has them, else SEA_ERR_DENIED (the decision is on that object). */
sea_rv api_data_update(sea_se *se, const char *resource_id, const uint8_t *data, size_t len,
                       bool set_data, const char *acp_ids, bool set_acp,
                       const sea_data_info *expect);
sea_rv api_data_delete(sea_se *se, const char *resource_id, const sea_data_info *expect);
/* The SE's descriptor and the resource types its device can serve (API_CAP_*). */
sea_rv api_se_describe(sea_ctx *ctx, const char *name_or_id, sea_se_info *info, unsigned *caps);

#endif

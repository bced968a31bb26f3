/* What api.c shares with the other files of the native face (csr.c): the core and the session
 * behind an open SE, and the mapping of a core status to a sea_rv. Internal: not exported. */
#ifndef SEA_API_INT_H
#define SEA_API_INT_H

#include "core.h"
#include "sea/sea.h"

/* The core of an SE's context and the SE's session (se is checked by the caller). */
struct core *api_core(sea_se *se, CK_SESSION_HANDLE *h);

/* A core status as a sea_rv, recording "<what> failed" if the core left no message. */
sea_rv api_status(CK_RV rv, const char *what);

#endif

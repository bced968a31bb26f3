/* The in-memory mock backend of the core's unit tests: a complete provider/backend.h device
 * without SQLite, whose state outlives core_free/core_new within one process, with fault
 * injection and call counters so that tests can see what the core asked of its device. */
#ifndef SEA_MOCK_BACKEND_H
#define SEA_MOCK_BACKEND_H

#include "backend.h"

/* Backend "mock". Device section keys: backend = mock, max_se = N (default 8),
 * fail_open = yes, no_session_objects = yes, only_raw_ecdsa = yes. */
extern const struct sea_backend_ops mock_backend_ops;

/* Forget every device, SE, object, counter and pending failure. Call with no core open. */
void mock_reset(void);

/* The next call of backend op `op_name` ("dev_open", "se_list", "se_create", "login",
 * "obj_create", "generate", "op_init", "op_final", ...) fails with rv after recording
 * err_set(ORIGIN_DEVICE, rv, "mock: injected failure of <op_name>"). Unknown names are
 * ignored. */
void mock_fail_next(const char *op_name, CK_RV rv);

/* How often backend op `op_name` was called since the last mock_reset (0 if unknown). */
unsigned mock_calls(const char *op_name);

/* Make device `device` forget the login on SE seq, as a device does when another process
 * re-initialises the SE (the core is not told). */
void mock_forget_login(const char *device, uint32_t seq);

/* How many objects (token and session, of every SE) device `device` holds now. */
unsigned mock_object_count(const char *device);

#endif

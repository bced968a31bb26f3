/* The TLS-PSK release behind sea_psk_find (TS-0003 8.2.2.1, 8.2.2.3, 8.8.2.2, 8.3.5.2.2): the one
 * place where a key's value leaves the SE for a TLS stack's PSK callback (doc/tls-psk.md). */
#ifndef SEA_PSK_H
#define SEA_PSK_H

#include "core.h"
#include "usage.h"

/* Copy the value of key obj, a generic secret, to out (*len: its size on entry, the value's
 * length on return; out == NULL or too small: the length needed, CKR_BUFFER_TOO_SMALL for the
 * latter) if and only if its template lets it leave the SE in clear (CKA_EXTRACTABLE true and
 * CKA_SENSITIVE false: else CKR_KEY_UNEXTRACTABLE) and usage_check allows op (USE_PSK_*: else
 * CKR_KEY_FUNCTION_NOT_PERMITTED, as for a key of another type). Messages name what to change,
 * never the value. */
CK_RV core_psk_value(struct core *c, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, enum usage_op op,
                     uint8_t *out, size_t *len);

#endif

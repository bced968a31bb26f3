/* oneM2M identifiers (TS-0003 10.1.2, 10.3.4, 10.3.5, 10.4, 10.5, 10.6): validation and
 * canonical forms, shared by the native API (sea_id_*, onem2m_id.c) and the TLS-PSK lookup
 * (sea_psk_find). The rules and why are in doc/onem2m-identifiers.md. */
#ifndef SEA_ONEM2M_ID_H
#define SEA_ONEM2M_ID_H

#include "common.h"

#define ID_MAX 1024 /* = SEA_ID_MAX of sea.h */

/* Check `in` (len bytes, not necessarily NUL-terminated) as an identifier of `kind` (an enum
 * sea_id_kind value) and write its canonical form, NUL-terminated, to out (ID_MAX + 1 bytes);
 * *outlen gets its length. Malformed input: CKR_ARGUMENTS_BAD with a message (origin API) that
 * names the identifier, what is wrong and the byte offset; nothing useful is left in out. */
CK_RV id_canonical(int kind, const char *in, size_t len, char *out, size_t *outlen);

#endif

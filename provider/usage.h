/* Usage constraints: the security feature a key's SUID (CKA_SEA_SUID, TS-0004 m2m:suid) binds it
 * to, and its lifetime (CKA_START_DATE..CKA_END_DATE, UTC, both days included). Every place that
 * uses a key asks usage_check before the device runs anything; doc/usage-constraints.md has the
 * table and the reasoning. */
#ifndef SEA_USAGE_H
#define SEA_USAGE_H

#include "attrs.h"
#include "common.h"

/* What a key is being used for, as libsea sees it. The mechanism given with it tells a MAC from
 * a signature and AES from RSA. */
enum usage_op {
    USE_ENCRYPT,
    USE_DECRYPT,
    USE_SIGN,
    USE_VERIFY,
    USE_WRAP,     /* the wrapping key */
    USE_UNWRAP,   /* the unwrapping key */
    USE_DERIVE,   /* the base key (or an HKDF salt key) of the mechanism */
    USE_PSK_MEF,  /* released as the TLS-PSK of a MEF handshake (SUID x0) */
    USE_PSK_MAF,  /* ... of a MAF handshake (SUID x1) */
    USE_PSK_SAEF, /* ... of a SAEF security association (SUID x2) */
};

/* CKR_OK, or CKR_KEY_FUNCTION_NOT_PERMITTED recorded with err_set(ORIGIN_CORE, ...) and a
 * message naming the SUID and the features involved (no secret) when the key's SUID binds it to
 * another security feature or names none, or when today (UTC) is outside the key's
 * CKA_START_DATE..CKA_END_DATE or a stored date is malformed. mech is ignored for the PSK uses.
 * A key without CKA_SEA_SUID (or with 0) is unconstrained. */
CK_RV usage_check(const struct attrs *key, enum usage_op op, CK_MECHANISM_TYPE mech);

/* Only the lifetime part of usage_check (same codes and messages). */
CK_RV usage_check_dates(const struct attrs *key);

/* Is (v, len) a CK_DATE a template may carry: empty, or "YYYYMMDD" ASCII digits naming a real
 * day of the Gregorian calendar (years 1900..9999)? */
bool usage_date_valid(const void *v, size_t len);

/* Today's date in UTC as a CK_DATE. */
void usage_today(CK_DATE *out);

/* Is the valid CK_DATE d before today (UTC)? A key whose end date is d is then expired. */
bool usage_date_past(const CK_DATE *d);

#endif

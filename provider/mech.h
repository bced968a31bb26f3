/* The mechanism table: one row per mechanism drives dispatch, C_GetMechanismList and
 * C_GetMechanismInfo. A row either runs on the device as is, or is composed by the core from a
 * host-side digest and a base mechanism the device has (CKM_ECDSA_SHA256 = SHA-256 + CKM_ECDSA),
 * so every backend offers the composed mechanisms its base mechanisms allow. */
#ifndef SEA_MECH_H
#define SEA_MECH_H

#include "backend.h"
#include "common.h"

enum {
    MF_SINGLE_PART = 1u << 0, /* no C_xxxUpdate (raw ECDSA) */
    MF_CORE = 1u << 1,        /* run by the core itself (digests) */
    MF_NO_PARAMS = 1u << 2,   /* pParameter must be NULL / ulParameterLen 0 */
    MF_MESSAGE = 1u << 3,     /* also offered by the message-based functions (msgops.c) */
    MF_DIGESTINFO = 1u << 4,  /* composed: the digest goes to the base in a DigestInfo */
    MF_PASS_PARAMS = 1u << 5, /* composed: the caller's parameters go to the base (RSA-PSS) */
};

#define MECH_MAX_KEY_TYPES 3

struct mech_desc {
    CK_MECHANISM_TYPE type;
    const char *name;
    CK_FLAGS ops; /* CKF_SIGN, CKF_VERIFY, CKF_ENCRYPT, CKF_DECRYPT, CKF_DIGEST, CKF_GENERATE... */
    CK_KEY_TYPE key_types[MECH_MAX_KEY_TYPES]; /* 0-terminated after the first (CKK_RSA is 0) */
    size_t nkey_types;
    CK_MECHANISM_TYPE prehash; /* digest the core applies first, or 0 */
    CK_MECHANISM_TYPE base;    /* the device mechanism that finishes the job */
    unsigned flags;
};

const struct mech_desc *mech_find(CK_MECHANISM_TYPE t);
const char *mech_name(CK_MECHANISM_TYPE t);       /* "CKM_ECDSA" or NULL */
CK_MECHANISM_TYPE mech_by_name(const char *name); /* CK_UNAVAILABLE_INFORMATION if unknown */

/* The device's own row for a mechanism, or NULL. */
const struct bmech *mech_device(const struct dev_caps *caps, CK_MECHANISM_TYPE t);

/* How a device runs `t` for the operation flag `op` (CKF_SIGN ...): directly (returns the
 * device row, *composed false) or composed on a base mechanism (*composed true). NULL if the
 * device can't. */
const struct bmech *mech_resolve(const struct dev_caps *caps, const struct mech_desc *d,
                                 CK_FLAGS op, bool *composed);

/* The mechanism a device runs for a composed row d called with m: the base mechanism, with
 * m's parameters for MF_PASS_PARAMS rows (RSA-PSS: hashAlg must be d's digest, else
 * CKR_MECHANISM_PARAM_INVALID). */
CK_RV mech_base(const struct mech_desc *d, const CK_MECHANISM *m, CK_MECHANISM *base);

/* The DER DigestInfo prefix (RFC 8017 9.2) for a digest mechanism, or NULL. */
const uint8_t *mech_digest_info(CK_MECHANISM_TYPE digest, size_t *len);
#define MECH_DIGEST_INFO_MAX 19

/* C_GetMechanismList / C_GetMechanismInfo for a device. */
CK_RV mech_list(const struct dev_caps *caps, CK_MECHANISM_TYPE *out, CK_ULONG *count);
CK_RV mech_info(const struct dev_caps *caps, CK_MECHANISM_TYPE t, CK_MECHANISM_INFO *info);

/* Does the key type suit the mechanism? */
bool mech_key_type_ok(const struct mech_desc *d, CK_KEY_TYPE kt);

#endif

/* libsea's PKCS#11 vendor extensions: attributes, mechanisms and the "SEA" interface.
 * Plain constants, usable with any pkcs11.h (include that first for the CK_ types). */
#ifndef SEA_PKCS11_SEA_H
#define SEA_PKCS11_SEA_H

/* All vendor values live under CKx_VENDOR_DEFINED (0x80000000) with the fixed prefix 0x5EA0xxxx. */
#define CKA_SEA_BASE (0x80000000UL | 0x5EA00000UL)
#define CKM_SEA_BASE (0x80000000UL | 0x5EA00000UL)

/* oneM2M attributes of an object (TS-0003 / TS-0016). */
#define CKA_SEA_SUID          (CKA_SEA_BASE + 0x01UL) /* CK_ULONG: TS-0004 m2m:suid usage constraint */
#define CKA_SEA_CREATOR       (CKA_SEA_BASE + 0x02UL) /* UTF-8: AE-ID or CSE-ID of the creator */
#define CKA_SEA_ACP           (CKA_SEA_BASE + 0x03UL) /* UTF-8: accessControlPolicyIDs, space separated */
#define CKA_SEA_CREATION_TIME (CKA_SEA_BASE + 0x04UL) /* CK_ULONG: seconds since the epoch (RO) */
#define CKA_SEA_MODIFIED_TIME (CKA_SEA_BASE + 0x05UL) /* CK_ULONG: seconds since the epoch (RO) */

/* oneM2M key derivations inside the SE (TS-0003 10.3; doc/onem2m-derivations.md decides what the
 * specification leaves open). C_DeriveKey mechanisms: the base key is a generic secret with
 * CKA_DERIVE; the new key is a secret key of the SE (generic secret unless the template names
 * another type), carries CKA_SEA_SUID (the parameter's for the usage-constrained key, else the
 * template's or the base key's) and a CKA_END_DATE no later than the base key's. Identity strings
 * are UTF-8, NFKC normalised by the SE, 1..CK_SEA_ONEM2M_ID_MAX bytes. */
#define CKM_SEA_ONEM2M_KM             (CKM_SEA_BASE + 0x101UL) /* Km: Ke, MAF-ID (10.3.2) */
#define CKM_SEA_ONEM2M_KPSA           (CKM_SEA_BASE + 0x102UL) /* Kpsa: Ke, Enrolee-B-ID (10.3.3) */
#define CKM_SEA_ONEM2M_USAGE_KEY      (CKM_SEA_BASE + 0x103UL) /* Ke, SUID, target (10.3.7) */
#define CKM_SEA_ONEM2M_KE2E_MASTER    (CKM_SEA_BASE + 0x104UL) /* Kpsa, Salt (10.3.6.1) */
#define CKM_SEA_ONEM2M_KE2E_KEY       (CKM_SEA_BASE + 0x105UL) /* Ke2e_master (10.3.6.2) */
#define CKM_SEA_ONEM2M_SESSION_ESPRIM (CKM_SEA_BASE + 0x106UL) /* ESPrim key, rands (10.3.8) */
#define CKM_SEA_ONEM2M_EXPORTER_SPLIT (CKM_SEA_BASE + 0x107UL) /* exporter output (10.3.1) */

#define CK_SEA_ONEM2M_ID_MAX   1024UL /* bytes of an identity string, before and after NFKC */
#define CK_SEA_ONEM2M_SALT_MAX 255UL  /* bytes of the Ke2e_master salt */

/* CK_SEA_ONEM2M_KE2E_KEY_PARAMS.ulKey: T(1)..T(4) of 10.3.6.2 */
#define CK_SEA_KE2E_MSG_AUTH 1UL
#define CK_SEA_KE2E_MSG_CONF 2UL
#define CK_SEA_KE2E_ATT_AUTH 3UL
#define CK_SEA_KE2E_ATT_CONF 4UL

#ifdef CK_PTR

/* CKM_SEA_ONEM2M_KM (pId = MAF-ID), CKM_SEA_ONEM2M_KPSA (pId = Enrolee-B-ID: CSE-ID or AE-ID). */
typedef struct CK_SEA_ONEM2M_ID_PARAMS {
    CK_UTF8CHAR_PTR pId;
    CK_ULONG ulIdLen;
} CK_SEA_ONEM2M_ID_PARAMS;

/* CKM_SEA_ONEM2M_USAGE_KEY: ulSuid is the TS-0004 m2m:suid (10..99), entered into the HMAC as
 * its decimal ASCII digits; pTargetId the Enrolment-Target-ID (an FQDN). */
typedef struct CK_SEA_ONEM2M_USAGE_PARAMS {
    CK_ULONG ulSuid;
    CK_UTF8CHAR_PTR pTargetId;
    CK_ULONG ulTargetIdLen;
} CK_SEA_ONEM2M_USAGE_PARAMS;

/* CKM_SEA_ONEM2M_KE2E_MASTER: HKDF-Extract with SHA-256; no salt (ulSaltLen 0) is 32 zero bytes. */
typedef struct CK_SEA_ONEM2M_KE2E_MASTER_PARAMS {
    CK_BYTE_PTR pSalt;
    CK_ULONG ulSaltLen;
} CK_SEA_ONEM2M_KE2E_MASTER_PARAMS;

/* CKM_SEA_ONEM2M_KE2E_KEY: which of the chained keys, from the base key Ke2e_master. A
 * CKA_VALUE_LEN of 16 or 24 keeps the first (leftmost) bytes. */
typedef struct CK_SEA_ONEM2M_KE2E_KEY_PARAMS {
    CK_ULONG ulKey; /* CK_SEA_KE2E_xxx */
} CK_SEA_ONEM2M_KE2E_KEY_PARAMS;

/* CKM_SEA_ONEM2M_SESSION_ESPRIM: the 16-byte esprimRandValue of each rand object. A
 * CKA_VALUE_LEN of 16 or 24 (A128GCM, A192GCM) keeps the first (leftmost) bytes. */
typedef struct CK_SEA_ONEM2M_ESPRIM_PARAMS {
    CK_BYTE_PTR pReceiverRand;
    CK_ULONG ulReceiverRandLen;
    CK_BYTE_PTR pOriginatorRand;
    CK_ULONG ulOriginatorRandLen;
} CK_SEA_ONEM2M_ESPRIM_PARAMS;

/* CKM_SEA_ONEM2M_EXPORTER_SPLIT: the base key holds the 48-byte RFC 5705 exporter output
 * (labels EXPORTER-oneM2M-Bootstrap / -Connection / -ESCertKE) as a generic secret; the new key
 * is its last 32 bytes (Ke, Kc, pairwiseE2EKey) and the first 16 (RelativeKeID, KcID,
 * pairwiseE2EKeyID, not secret) are written to pIdentifier (ulIdentifierLen at least 16; set to
 * 16). */
typedef struct CK_SEA_ONEM2M_SPLIT_PARAMS {
    CK_BYTE_PTR pIdentifier;
    CK_ULONG ulIdentifierLen;
} CK_SEA_ONEM2M_SPLIT_PARAMS;
#endif

/* Error origins reported by C_SEA_GetLastError (same values as enum sea_origin in sea.h). */
#define CKO_SEA_ORIGIN_NONE      0UL
#define CKO_SEA_ORIGIN_API       1UL
#define CKO_SEA_ORIGIN_CORE      2UL
#define CKO_SEA_ORIGIN_BACKEND   3UL
#define CKO_SEA_ORIGIN_TRANSPORT 4UL
#define CKO_SEA_ORIGIN_DEVICE    5UL

/* The vendor interface, returned by C_GetInterface((CK_UTF8CHAR_PTR)"SEA", NULL, &i, 0). */
#define SEA_INTERFACE_NAME "SEA"

#ifdef CK_PTR
typedef struct CK_SEA_FUNCTION_LIST {
    CK_VERSION version; /* 1.0 */
    /* The calling thread's last error: its origin, its CK_RV and a message (NUL-terminated,
     * truncated to *pulMsgLen bytes including the NUL). Any pointer may be NULL. */
    CK_RV (*C_SEA_GetLastError)
    (CK_ULONG_PTR pOrigin, CK_RV *pRv, CK_UTF8CHAR_PTR pMsg, CK_ULONG_PTR pulMsgLen);
} CK_SEA_FUNCTION_LIST;
#endif

#endif

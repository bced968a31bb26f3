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

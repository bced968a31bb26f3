/* The per-thread error record: every failing call leaves the layer it failed in (its origin),
 * the status and a message for the calling thread, in the spirit of GlobalPlatform's returnOrigin.
 */
#ifndef SEA_ERROR_H
#define SEA_ERROR_H

#include "common.h"

/* Same values as enum sea_origin in sea.h and CKO_SEA_ORIGIN_* in pkcs11-sea.h. */
enum err_origin {
    ORIGIN_NONE = 0,
    ORIGIN_API = 1,       /* arguments rejected at an entry point */
    ORIGIN_CORE = 2,      /* PKCS#11 / TS-0016 rules in the core */
    ORIGIN_BACKEND = 3,   /* a backend's own logic or its store */
    ORIGIN_TRANSPORT = 4, /* the link to a device: TCTI, PC/SC, a PKCS#11 module */
    ORIGIN_DEVICE = 5,    /* the device itself refused */
};

struct err_rec {
    CK_RV rv;
    int origin;
    char msg[256];
};

/* Forget the previous error of this thread (done at every entry point). */
void err_clear(void);

/* Record an error for this thread and return rv, so that `return err_set(...)` reads well.
 * The first error recorded during a call wins: deeper layers know best what went wrong.
 * Never put secret material in the message. */
CK_RV err_set(int origin, CK_RV rv, const char *fmt, ...) SEA_PRINTF(3, 4);

/* Record only if nothing was recorded yet for this call (used by outer layers). */
CK_RV err_default(int origin, CK_RV rv, const char *fmt, ...) SEA_PRINTF(3, 4);

/* The current thread's record (rv == CKR_OK when none). */
const struct err_rec *err_get(void);

/* Name of a CK_RV ("CKR_PIN_INCORRECT"), or NULL if unknown. */
const char *err_ckr_name(CK_RV rv);

#endif

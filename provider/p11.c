/* The PKCS#11 3.0 face (sea-pkcs11.so): every function of the 3.0 list, argument checks at the
 * boundary, the module-wide context, fork detection, and the 3.0 / 2.40 / "SEA" interfaces.
 * Only C_GetFunctionList, C_GetInterfaceList and C_GetInterface are exported. */
#define SEA_PKCS11_NO_PROTOTYPES
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "config.h"
#include "core.h"
#include "error.h"
#include "log.h"

static struct core *g_core;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
/* Blocking C_WaitForSlotEvent: the threads waiting (under g_lock) and the condition that wakes
 * them (C_Finalize) and C_Finalize once they have let go of the context. */
static pthread_cond_t g_cond;
static unsigned g_waiters;

#define SLOT_POLL_MS 200 /* how often a blocking C_WaitForSlotEvent looks at the devices */

/* Keep the init lock consistent across fork: a child must be able to C_Initialize even if a
 * parent thread was inside C_Initialize when it forked. */
static void fork_prepare(void)
{
    pthread_mutex_lock(&g_lock);
}

static void fork_parent(void)
{
    pthread_mutex_unlock(&g_lock);
}

static void cond_setup(void)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g_cond, &ca);
    pthread_condattr_destroy(&ca);
}

/* The child has none of the parent's other threads: nobody waits for slot events there, and
 * the condition must not remember the parent's waiters (a broadcast could wait for them). */
static void fork_child(void)
{
    g_waiters = 0;
    cond_setup();
    pthread_mutex_unlock(&g_lock);
}

static void setup_once(void)
{
    cond_setup();
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static struct core *current(void)
{
    return __atomic_load_n(&g_core, __ATOMIC_ACQUIRE);
}

#define ENTER()                                                                                    \
    struct core *c = current();                                                                    \
    err_clear();                                                                                   \
    if (!c || core_stale(c))                                                                       \
        return err_set(ORIGIN_API, CKR_CRYPTOKI_NOT_INITIALIZED,                                   \
                       c ? "this process was forked: call C_Initialize again"                      \
                         : "C_Initialize has not been called");

#define CHECK(cond, what)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return err_set(ORIGIN_API, CKR_ARGUMENTS_BAD, "%s: %s", __func__, what);               \
    } while (0)

/* CHECK for the calls of a running operation: refusing the arguments ends the operation too,
 * as any error but a short buffer does (PKCS#11 3.0, C_Encrypt and the others). */
#define OPCHECK(cond, what, op, h)                                                                 \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            CK_RV r_ = err_set(ORIGIN_API, CKR_ARGUMENTS_BAD, "%s: %s", __func__, what);           \
            core_op_init(c, (h), (op), NULL, CK_INVALID_HANDLE);                                   \
            return r_;                                                                             \
        }                                                                                          \
    } while (0)

/* A NULL data pointer is fine only with a zero length. */
#define DATA_OK(p, n) ((p) != NULL || (n) == 0)

static CK_RV done(CK_RV rv, const char *func)
{
    if (rv != CKR_OK)
        err_default(ORIGIN_CORE, rv, "%s failed", func);
    LOGD("%s -> %s", func, err_ckr_name(rv) ? err_ckr_name(rv) : "?");
    return rv;
}

#define RET(x) return done((x), __func__)

static CK_RV not_supported(const char *func)
{
    return err_set(ORIGIN_API, CKR_FUNCTION_NOT_SUPPORTED, "%s is not supported by libsea", func);
}

#define UNSUPPORTED()                                                                              \
    do {                                                                                           \
        ENTER();                                                                                   \
        (void)c;                                                                                   \
        return not_supported(__func__);                                                            \
    } while (0)

/* ---- general ---- */

static CK_RV C_Initialize(CK_VOID_PTR pInitArgs)
{
    err_clear();
    pthread_once(&g_once, setup_once);
    if (pInitArgs) {
        CK_C_INITIALIZE_ARGS *a = pInitArgs;
        int fns = !!a->CreateMutex + !!a->DestroyMutex + !!a->LockMutex + !!a->UnlockMutex;
        if (a->pReserved)
            return err_set(ORIGIN_API, CKR_ARGUMENTS_BAD, "pReserved must be NULL");
        if (fns != 0 && fns != 4)
            return err_set(ORIGIN_API, CKR_ARGUMENTS_BAD, "give all four mutex functions or none");
        if (fns == 4 && !(a->flags & CKF_OS_LOCKING_OK))
            return err_set(ORIGIN_API, CKR_CANT_LOCK,
                           "libsea locks with the operating system: set CKF_OS_LOCKING_OK");
    }
    pthread_mutex_lock(&g_lock);
    CK_RV rv = CKR_OK;
    struct core *c = g_core;
    if (c && !core_stale(c)) {
        rv = err_set(ORIGIN_API, CKR_CRYPTOKI_ALREADY_INITIALIZED, "already initialised");
        goto out;
    }
    if (c) {
        /* a forked child re-initialising: forget the parent's context */
        core_abandon(c);
        __atomic_store_n(&g_core, NULL, __ATOMIC_RELEASE);
    }
    struct config *cfg = NULL;
    if ((rv = config_open(NULL, &cfg)) != CKR_OK)
        goto out;
    if ((rv = core_new(cfg, &c)) != CKR_OK)
        goto out;
    __atomic_store_n(&g_core, c, __ATOMIC_RELEASE);
out:
    pthread_mutex_unlock(&g_lock);
    RET(rv);
}

static CK_RV C_Finalize(CK_VOID_PTR pReserved)
{
    ENTER();
    CHECK(!pReserved, "pReserved must be NULL");
    pthread_mutex_lock(&g_lock);
    __atomic_store_n(&g_core, NULL, __ATOMIC_RELEASE);
    /* Wake blocked C_WaitForSlotEvent calls (they return CKR_CRYPTOKI_NOT_INITIALIZED) and
     * free the context only once none of them uses it any more. */
    pthread_cond_broadcast(&g_cond);
    while (g_waiters > 0)
        pthread_cond_wait(&g_cond, &g_lock);
    pthread_mutex_unlock(&g_lock);
    core_free(c);
    return CKR_OK;
}

static CK_RV C_GetInfo(CK_INFO_PTR pInfo)
{
    ENTER();
    (void)c;
    CHECK(pInfo, "pInfo is NULL");
    memset(pInfo, 0, sizeof(*pInfo));
    pInfo->cryptokiVersion.major = 3;
    pInfo->cryptokiVersion.minor = 0;
    sea_pad(pInfo->manufacturerID, sizeof(pInfo->manufacturerID), "libsea");
    sea_pad(pInfo->libraryDescription, sizeof(pInfo->libraryDescription),
            "libsea oneM2M SEA PKCS#11 module");
    pInfo->libraryVersion.major = SEA_VERSION_MAJOR;
    pInfo->libraryVersion.minor = SEA_VERSION_MINOR;
    return CKR_OK;
}

/* ---- slots and tokens ---- */

static CK_RV C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList, CK_ULONG_PTR pulCount)
{
    ENTER();
    CHECK(pulCount, "pulCount is NULL");
    RET(core_slot_list(c, tokenPresent != CK_FALSE, pSlotList, pulCount));
}

static CK_RV C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo)
{
    ENTER();
    CHECK(pInfo, "pInfo is NULL");
    RET(core_slot_info(c, slotID, pInfo));
}

static CK_RV C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo)
{
    ENTER();
    CHECK(pInfo, "pInfo is NULL");
    RET(core_token_info(c, slotID, pInfo));
}

static CK_RV C_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList,
                                CK_ULONG_PTR pulCount)
{
    ENTER();
    CHECK(pulCount, "pulCount is NULL");
    RET(core_mech_list(c, slotID, pMechanismList, pulCount));
}

static CK_RV C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type,
                                CK_MECHANISM_INFO_PTR pInfo)
{
    ENTER();
    CHECK(pInfo, "pInfo is NULL");
    RET(core_mech_info(c, slotID, type, pInfo));
}

static CK_RV C_InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen,
                         CK_UTF8CHAR_PTR pLabel)
{
    ENTER();
    CHECK(pPin, "pPin is NULL (no protected authentication path)");
    CHECK(pLabel, "pLabel is NULL");
    char label[33];
    sea_unpad(label, pLabel, 32);
    RET(core_init_token(c, slotID, pPin, ulPinLen, label));
}

static CK_RV C_InitPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen)
{
    ENTER();
    CHECK(pPin, "pPin is NULL (no protected authentication path)");
    RET(core_init_pin(c, hSession, pPin, ulPinLen));
}

static CK_RV C_SetPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin, CK_ULONG ulOldLen,
                      CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen)
{
    ENTER();
    CHECK(pOldPin && pNewPin, "a PIN is NULL (no protected authentication path)");
    RET(core_set_pin(c, hSession, pOldPin, ulOldLen, pNewPin, ulNewLen));
}

static CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved)
{
    ENTER();
    CHECK(pSlot, "pSlot is NULL");
    CHECK(!pReserved, "pReserved must be NULL");
    if (flags & CKF_DONT_BLOCK) {
        CK_RV rv = core_slot_event(c, pSlot);
        return rv == CKR_NO_EVENT ? rv : done(rv, __func__);
    }
    /* Blocking: look at the devices every SLOT_POLL_MS (another process may create or delete
     * an SE at any time; there is nothing to be notified by) until an event or C_Finalize. */
    CK_RV rv = CKR_NO_EVENT;
    pthread_mutex_lock(&g_lock);
    if (current() != c) {
        pthread_mutex_unlock(&g_lock);
        return err_set(ORIGIN_API, CKR_CRYPTOKI_NOT_INITIALIZED, "C_Finalize was called");
    }
    g_waiters++;
    while (rv == CKR_NO_EVENT) {
        pthread_mutex_unlock(&g_lock);
        rv = core_slot_event(c, pSlot); /* C_Finalize waits for us before freeing c */
        pthread_mutex_lock(&g_lock);
        if (rv != CKR_NO_EVENT)
            break;
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += SLOT_POLL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (current() == c && pthread_cond_timedwait(&g_cond, &g_lock, &until) == 0)
            ; /* woken for someone else: keep the poll interval */
        if (current() != c)
            rv = err_set(ORIGIN_API, CKR_CRYPTOKI_NOT_INITIALIZED,
                         "C_Finalize was called while waiting for a slot event");
    }
    if (--g_waiters == 0)
        pthread_cond_broadcast(&g_cond);
    pthread_mutex_unlock(&g_lock);
    return rv == CKR_CRYPTOKI_NOT_INITIALIZED ? rv : done(rv, __func__);
}

/* ---- sessions ---- */

static CK_RV C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication,
                           CK_NOTIFY Notify, CK_SESSION_HANDLE_PTR phSession)
{
    ENTER();
    (void)pApplication;
    (void)Notify; /* libsea never calls back */
    CHECK(phSession, "phSession is NULL");
    RET(core_open_session(c, slotID, flags, phSession));
}

static CK_RV C_CloseSession(CK_SESSION_HANDLE hSession)
{
    ENTER();
    RET(core_close_session(c, hSession));
}

static CK_RV C_CloseAllSessions(CK_SLOT_ID slotID)
{
    ENTER();
    RET(core_close_all(c, slotID));
}

static CK_RV C_GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo)
{
    ENTER();
    CHECK(pInfo, "pInfo is NULL");
    RET(core_session_info(c, hSession, pInfo));
}

static CK_RV C_GetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                                 CK_ULONG_PTR pulOperationStateLen)
{
    (void)hSession;
    (void)pOperationState;
    (void)pulOperationStateLen;
    UNSUPPORTED();
}

static CK_RV C_SetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                                 CK_ULONG ulOperationStateLen, CK_OBJECT_HANDLE hEncryptionKey,
                                 CK_OBJECT_HANDLE hAuthenticationKey)
{
    (void)hSession;
    (void)pOperationState;
    (void)ulOperationStateLen;
    (void)hEncryptionKey;
    (void)hAuthenticationKey;
    UNSUPPORTED();
}

static CK_RV C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
                     CK_ULONG ulPinLen)
{
    ENTER();
    CHECK(pPin, "pPin is NULL (no protected authentication path)");
    RET(core_login(c, hSession, userType, pPin, ulPinLen));
}

static CK_RV C_LoginUser(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
                         CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pUsername, CK_ULONG ulUsernameLen)
{
    ENTER();
    CHECK(pPin, "pPin is NULL (no protected authentication path)");
    CHECK(DATA_OK(pUsername, ulUsernameLen), "pUsername is NULL");
    if (ulUsernameLen)
        return err_set(ORIGIN_API, CKR_ARGUMENTS_BAD,
                       "libsea tokens have no user names: pass an empty one");
    RET(core_login(c, hSession, userType, pPin, ulPinLen));
}

static CK_RV C_Logout(CK_SESSION_HANDLE hSession)
{
    ENTER();
    RET(core_logout(c, hSession));
}

static CK_RV C_SessionCancel(CK_SESSION_HANDLE hSession, CK_FLAGS flags)
{
    ENTER();
    RET(core_session_cancel(c, hSession, flags));
}

/* ---- objects ---- */

static CK_RV C_CreateObject(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
                            CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phObject)
{
    ENTER();
    CHECK(DATA_OK(pTemplate, ulCount), "pTemplate is NULL");
    CHECK(phObject, "phObject is NULL");
    RET(core_create_object(c, hSession, pTemplate, ulCount, 0, phObject));
}

static CK_RV C_CopyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                          CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                          CK_OBJECT_HANDLE_PTR phNewObject)
{
    ENTER();
    CHECK(DATA_OK(pTemplate, ulCount), "pTemplate is NULL");
    CHECK(phNewObject, "phNewObject is NULL");
    RET(core_copy_object(c, hSession, hObject, pTemplate, ulCount, phNewObject));
}

static CK_RV C_DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject)
{
    ENTER();
    RET(core_destroy_object(c, hSession, hObject));
}

static CK_RV C_GetObjectSize(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                             CK_ULONG_PTR pulSize)
{
    ENTER();
    CHECK(pulSize, "pulSize is NULL");
    RET(core_object_size(c, hSession, hObject, pulSize));
}

static CK_RV C_GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                 CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
    ENTER();
    CHECK(DATA_OK(pTemplate, ulCount), "pTemplate is NULL");
    CK_RV rv = core_get_attrs(c, hSession, hObject, pTemplate, ulCount);
    /* These three are the standard's way of saying "some attributes are not available". */
    if (rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
        rv == CKR_BUFFER_TOO_SMALL)
        return rv;
    RET(rv);
}

static CK_RV C_SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                 CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
    ENTER();
    CHECK(DATA_OK(pTemplate, ulCount), "pTemplate is NULL");
    RET(core_set_attrs(c, hSession, hObject, pTemplate, ulCount));
}

static CK_RV C_FindObjectsInit(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
                               CK_ULONG ulCount)
{
    ENTER();
    CHECK(DATA_OK(pTemplate, ulCount), "pTemplate is NULL");
    RET(core_find_init(c, hSession, pTemplate, ulCount));
}

static CK_RV C_FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject,
                           CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount)
{
    ENTER();
    CHECK(phObject || ulMaxObjectCount == 0, "phObject is NULL");
    CHECK(pulObjectCount, "pulObjectCount is NULL");
    RET(core_find(c, hSession, phObject, ulMaxObjectCount, pulObjectCount));
}

static CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE hSession)
{
    ENTER();
    RET(core_find_final(c, hSession));
}

/* ---- operations ---- */

static CK_RV op_init(enum sea_op op, CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k,
                     const char *func)
{
    ENTER();
    return done(core_op_init(c, h, op, m, k), func);
}

static CK_RV op_single(enum sea_op op, CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen,
                       CK_BYTE_PTR out, CK_ULONG_PTR outlen, const char *func)
{
    ENTER();
    OPCHECK(DATA_OK(in, inlen), "the input is NULL", op, h);
    OPCHECK(outlen, "the output length pointer is NULL", op, h);
    CK_RV rv = core_op_single(c, h, op, in, inlen, out, outlen);
    return rv == CKR_BUFFER_TOO_SMALL ? rv : done(rv, func);
}

static CK_RV op_update(enum sea_op op, CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen,
                       CK_BYTE_PTR out, CK_ULONG_PTR outlen, const char *func)
{
    ENTER();
    OPCHECK(DATA_OK(in, inlen), "the input is NULL", op, h);
    OPCHECK(outlen || (op != OP_ENCRYPT && op != OP_DECRYPT), "the output length pointer is NULL",
            op, h);
    CK_RV rv = core_op_update(c, h, op, in, inlen, out, outlen);
    return rv == CKR_BUFFER_TOO_SMALL ? rv : done(rv, func);
}

static CK_RV op_final(enum sea_op op, CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR outlen,
                      const char *func)
{
    ENTER();
    OPCHECK(outlen, "the output length pointer is NULL", op, h);
    CK_RV rv = core_op_final(c, h, op, out, outlen);
    return rv == CKR_BUFFER_TOO_SMALL ? rv : done(rv, func);
}

static CK_RV C_EncryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
    return op_init(OP_ENCRYPT, h, m, k, __func__);
}

static CK_RV C_Encrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
                       CK_ULONG_PTR outlen)
{
    return op_single(OP_ENCRYPT, h, in, inlen, out, outlen, __func__);
}

static CK_RV C_EncryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
                             CK_ULONG_PTR outlen)
{
    return op_update(OP_ENCRYPT, h, in, inlen, out, outlen, __func__);
}

static CK_RV C_EncryptFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR outlen)
{
    return op_final(OP_ENCRYPT, h, out, outlen, __func__);
}

static CK_RV C_DecryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
    return op_init(OP_DECRYPT, h, m, k, __func__);
}

static CK_RV C_Decrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
                       CK_ULONG_PTR outlen)
{
    return op_single(OP_DECRYPT, h, in, inlen, out, outlen, __func__);
}

static CK_RV C_DecryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
                             CK_ULONG_PTR outlen)
{
    return op_update(OP_DECRYPT, h, in, inlen, out, outlen, __func__);
}

static CK_RV C_DecryptFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR outlen)
{
    return op_final(OP_DECRYPT, h, out, outlen, __func__);
}

static CK_RV C_DigestInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m)
{
    return op_init(OP_DIGEST, h, m, CK_INVALID_HANDLE, __func__);
}

static CK_RV C_Digest(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
                      CK_ULONG_PTR outlen)
{
    return op_single(OP_DIGEST, h, in, inlen, out, outlen, __func__);
}

static CK_RV C_DigestUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen)
{
    return op_update(OP_DIGEST, h, in, inlen, NULL, NULL, __func__);
}

static CK_RV C_DigestKey(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE k)
{
    (void)h;
    (void)k;
    UNSUPPORTED();
}

static CK_RV C_DigestFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR outlen)
{
    return op_final(OP_DIGEST, h, out, outlen, __func__);
}

static CK_RV C_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
    return op_init(OP_SIGN, h, m, k, __func__);
}

static CK_RV C_Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
                    CK_ULONG_PTR outlen)
{
    return op_single(OP_SIGN, h, in, inlen, out, outlen, __func__);
}

static CK_RV C_SignUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen)
{
    return op_update(OP_SIGN, h, in, inlen, NULL, NULL, __func__);
}

static CK_RV C_SignFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR outlen)
{
    return op_final(OP_SIGN, h, out, outlen, __func__);
}

static CK_RV C_SignRecoverInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
    (void)h;
    (void)m;
    (void)k;
    UNSUPPORTED();
}

static CK_RV C_SignRecover(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
                           CK_ULONG_PTR outlen)
{
    (void)h;
    (void)in;
    (void)inlen;
    (void)out;
    (void)outlen;
    UNSUPPORTED();
}

static CK_RV C_VerifyInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
    return op_init(OP_VERIFY, h, m, k, __func__);
}

static CK_RV C_Verify(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
                      CK_ULONG siglen)
{
    ENTER();
    OPCHECK(DATA_OK(data, len), "pData is NULL", OP_VERIFY, h);
    OPCHECK(DATA_OK(sig, siglen), "pSignature is NULL", OP_VERIFY, h);
    CK_RV rv = core_verify(c, h, data, len, sig, siglen);
    return rv == CKR_SIGNATURE_INVALID ? rv : done(rv, __func__);
}

static CK_RV C_VerifyUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen)
{
    return op_update(OP_VERIFY, h, in, inlen, NULL, NULL, __func__);
}

static CK_RV C_VerifyFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG siglen)
{
    ENTER();
    OPCHECK(DATA_OK(sig, siglen), "pSignature is NULL", OP_VERIFY, h);
    CK_RV rv = core_verify_final(c, h, sig, siglen);
    return rv == CKR_SIGNATURE_INVALID ? rv : done(rv, __func__);
}

static CK_RV C_VerifyRecoverInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
    (void)h;
    (void)m;
    (void)k;
    UNSUPPORTED();
}

static CK_RV C_VerifyRecover(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG siglen, CK_BYTE_PTR out,
                             CK_ULONG_PTR outlen)
{
    (void)h;
    (void)sig;
    (void)siglen;
    (void)out;
    (void)outlen;
    UNSUPPORTED();
}

#define DUAL_UNSUPPORTED(name)                                                                     \
    static CK_RV name(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,        \
                      CK_ULONG_PTR outlen)                                                         \
    {                                                                                              \
        (void)h;                                                                                   \
        (void)in;                                                                                  \
        (void)inlen;                                                                               \
        (void)out;                                                                                 \
        (void)outlen;                                                                              \
        UNSUPPORTED();                                                                             \
    }

DUAL_UNSUPPORTED(C_DigestEncryptUpdate)
DUAL_UNSUPPORTED(C_DecryptDigestUpdate)
DUAL_UNSUPPORTED(C_SignEncryptUpdate)
DUAL_UNSUPPORTED(C_DecryptVerifyUpdate)

/* ---- keys ---- */

static CK_RV C_GenerateKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                           CK_OBJECT_HANDLE_PTR phKey)
{
    ENTER();
    CHECK(m, "pMechanism is NULL");
    CHECK(DATA_OK(t, n), "pTemplate is NULL");
    CHECK(phKey, "phKey is NULL");
    RET(core_generate_key(c, h, m, t, n, phKey));
}

static CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR pub,
                               CK_ULONG npub, CK_ATTRIBUTE_PTR priv, CK_ULONG npriv,
                               CK_OBJECT_HANDLE_PTR phPub, CK_OBJECT_HANDLE_PTR phPriv)
{
    ENTER();
    CHECK(m, "pMechanism is NULL");
    CHECK(DATA_OK(pub, npub) && DATA_OK(priv, npriv), "a template is NULL");
    CHECK(phPub && phPriv, "a key handle pointer is NULL");
    RET(core_generate_key_pair(c, h, m, pub, npub, priv, npriv, phPub, phPriv));
}

static CK_RV C_WrapKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE wk,
                       CK_OBJECT_HANDLE k, CK_BYTE_PTR out, CK_ULONG_PTR outlen)
{
    ENTER();
    CHECK(m, "pMechanism is NULL");
    CHECK(outlen, "pulWrappedKeyLen is NULL");
    RET(core_wrap_key(c, h, m, wk, k, out, outlen));
}

static CK_RV C_UnwrapKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE uk,
                         CK_BYTE_PTR in, CK_ULONG inlen, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                         CK_OBJECT_HANDLE_PTR phKey)
{
    ENTER();
    CHECK(m, "pMechanism is NULL");
    CHECK(DATA_OK(in, inlen), "pWrappedKey is NULL");
    CHECK(DATA_OK(t, n), "pTemplate is NULL");
    CHECK(phKey, "phKey is NULL");
    RET(core_unwrap_key(c, h, m, uk, in, inlen, t, n, phKey));
}

static CK_RV C_DeriveKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE base,
                         CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR phKey)
{
    ENTER();
    CHECK(m, "pMechanism is NULL");
    CHECK(DATA_OK(t, n), "pTemplate is NULL");
    CHECK(phKey, "phKey is NULL");
    RET(core_derive_key(c, h, m, base, t, n, phKey));
}

static CK_RV C_SeedRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR seed, CK_ULONG len)
{
    ENTER();
    CHECK(DATA_OK(seed, len), "pSeed is NULL");
    RET(core_seed(c, h, seed, len));
}

static CK_RV C_GenerateRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG len)
{
    ENTER();
    CHECK(DATA_OK(out, len), "RandomData is NULL");
    RET(core_random(c, h, out, len));
}

static CK_RV C_GetFunctionStatus(CK_SESSION_HANDLE h)
{
    ENTER();
    (void)c;
    (void)h;
    return CKR_FUNCTION_NOT_PARALLEL;
}

static CK_RV C_CancelFunction(CK_SESSION_HANDLE h)
{
    ENTER();
    (void)c;
    (void)h;
    return CKR_FUNCTION_NOT_PARALLEL;
}

/* ---- message-based functions (PKCS#11 3.0): encryption and decryption with CKM_AES_GCM
 * (msgops.c); message-based signing and verification are not offered ---- */

static CK_RV msg_init(enum sea_op op, CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k,
                      const char *func)
{
    ENTER();
    return done(core_msg_init(c, h, op, m, k), func);
}

static CK_RV msg_single(enum sea_op op, CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl,
                        CK_BYTE_PTR aad, CK_ULONG aadl, CK_BYTE_PTR in, CK_ULONG inl,
                        CK_BYTE_PTR out, CK_ULONG_PTR outl, const char *func)
{
    ENTER();
    CHECK(DATA_OK(aad, aadl), "pAssociatedData is NULL");
    CHECK(DATA_OK(in, inl), "the input is NULL");
    CHECK(outl, "the output length pointer is NULL");
    CK_RV rv = core_msg_single(c, h, op, p, pl, aad, aadl, in, inl, out, outl);
    return rv == CKR_BUFFER_TOO_SMALL ? rv : done(rv, func);
}

static CK_RV msg_begin(enum sea_op op, CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl,
                       CK_BYTE_PTR aad, CK_ULONG aadl, const char *func)
{
    ENTER();
    CHECK(DATA_OK(aad, aadl), "pAssociatedData is NULL");
    return done(core_msg_begin(c, h, op, p, pl, aad, aadl), func);
}

static CK_RV msg_next(enum sea_op op, CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl,
                      CK_BYTE_PTR in, CK_ULONG inl, CK_BYTE_PTR out, CK_ULONG_PTR outl, CK_FLAGS f,
                      const char *func)
{
    ENTER();
    CHECK(DATA_OK(in, inl), "the input is NULL");
    CHECK(outl, "the output length pointer is NULL");
    CK_RV rv = core_msg_next(c, h, op, p, pl, in, inl, out, outl, f);
    return rv == CKR_BUFFER_TOO_SMALL ? rv : done(rv, func);
}

static CK_RV msg_final(enum sea_op op, CK_SESSION_HANDLE h, const char *func)
{
    ENTER();
    return done(core_msg_final(c, h, op), func);
}

static CK_RV C_MessageEncryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
    return msg_init(OP_ENCRYPT, h, m, k, __func__);
}

static CK_RV C_EncryptMessage(CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl, CK_BYTE_PTR aad,
                              CK_ULONG aadl, CK_BYTE_PTR pt, CK_ULONG ptl, CK_BYTE_PTR ct,
                              CK_ULONG_PTR ctl)
{
    return msg_single(OP_ENCRYPT, h, p, pl, aad, aadl, pt, ptl, ct, ctl, __func__);
}

static CK_RV C_EncryptMessageBegin(CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl, CK_BYTE_PTR aad,
                                   CK_ULONG aadl)
{
    return msg_begin(OP_ENCRYPT, h, p, pl, aad, aadl, __func__);
}

static CK_RV C_EncryptMessageNext(CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl, CK_BYTE_PTR pt,
                                  CK_ULONG ptl, CK_BYTE_PTR ct, CK_ULONG_PTR ctl, CK_FLAGS f)
{
    return msg_next(OP_ENCRYPT, h, p, pl, pt, ptl, ct, ctl, f, __func__);
}

static CK_RV C_MessageEncryptFinal(CK_SESSION_HANDLE h)
{
    return msg_final(OP_ENCRYPT, h, __func__);
}

static CK_RV C_MessageDecryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
    return msg_init(OP_DECRYPT, h, m, k, __func__);
}

static CK_RV C_DecryptMessage(CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl, CK_BYTE_PTR aad,
                              CK_ULONG aadl, CK_BYTE_PTR ct, CK_ULONG ctl, CK_BYTE_PTR pt,
                              CK_ULONG_PTR ptl)
{
    return msg_single(OP_DECRYPT, h, p, pl, aad, aadl, ct, ctl, pt, ptl, __func__);
}

static CK_RV C_DecryptMessageBegin(CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl, CK_BYTE_PTR aad,
                                   CK_ULONG aadl)
{
    return msg_begin(OP_DECRYPT, h, p, pl, aad, aadl, __func__);
}

static CK_RV C_DecryptMessageNext(CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl, CK_BYTE_PTR ct,
                                  CK_ULONG ctl, CK_BYTE_PTR pt, CK_ULONG_PTR ptl, CK_FLAGS f)
{
    return msg_next(OP_DECRYPT, h, p, pl, ct, ctl, pt, ptl, f, __func__);
}

static CK_RV C_MessageDecryptFinal(CK_SESSION_HANDLE h)
{
    return msg_final(OP_DECRYPT, h, __func__);
}

static CK_RV C_MessageSignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
    (void)h, (void)m, (void)k;
    UNSUPPORTED();
}

static CK_RV C_SignMessage(CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl, CK_BYTE_PTR d,
                           CK_ULONG dl, CK_BYTE_PTR s, CK_ULONG_PTR sl)
{
    (void)h, (void)p, (void)pl, (void)d, (void)dl, (void)s, (void)sl;
    UNSUPPORTED();
}

static CK_RV C_SignMessageBegin(CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl)
{
    (void)h, (void)p, (void)pl;
    UNSUPPORTED();
}

static CK_RV C_SignMessageNext(CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl, CK_BYTE_PTR d,
                               CK_ULONG dl, CK_BYTE_PTR s, CK_ULONG_PTR sl)
{
    (void)h, (void)p, (void)pl, (void)d, (void)dl, (void)s, (void)sl;
    UNSUPPORTED();
}

static CK_RV C_MessageSignFinal(CK_SESSION_HANDLE h)
{
    (void)h;
    UNSUPPORTED();
}

static CK_RV C_MessageVerifyInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
    (void)h, (void)m, (void)k;
    UNSUPPORTED();
}

static CK_RV C_VerifyMessage(CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl, CK_BYTE_PTR d,
                             CK_ULONG dl, CK_BYTE_PTR s, CK_ULONG sl)
{
    (void)h, (void)p, (void)pl, (void)d, (void)dl, (void)s, (void)sl;
    UNSUPPORTED();
}

static CK_RV C_VerifyMessageBegin(CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl)
{
    (void)h, (void)p, (void)pl;
    UNSUPPORTED();
}

static CK_RV C_VerifyMessageNext(CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl, CK_BYTE_PTR d,
                                 CK_ULONG dl, CK_BYTE_PTR s, CK_ULONG sl)
{
    (void)h, (void)p, (void)pl, (void)d, (void)dl, (void)s, (void)sl;
    UNSUPPORTED();
}

static CK_RV C_MessageVerifyFinal(CK_SESSION_HANDLE h)
{
    (void)h;
    UNSUPPORTED();
}

/* ---- the vendor interface ---- */

static CK_RV C_SEA_GetLastError(CK_ULONG_PTR pOrigin, CK_RV *pRv, CK_UTF8CHAR_PTR pMsg,
                                CK_ULONG_PTR pulMsgLen)
{
    const struct err_rec *e = err_get();
    if (pOrigin)
        *pOrigin = (CK_ULONG)e->origin;
    if (pRv)
        *pRv = e->rv;
    if (pMsg && pulMsgLen && *pulMsgLen > 0) {
        size_t l = strlen(e->msg);
        if (l >= *pulMsgLen)
            l = *pulMsgLen - 1;
        memcpy(pMsg, e->msg, l);
        pMsg[l] = '\0';
        *pulMsgLen = (CK_ULONG)l + 1;
    } else if (pulMsgLen) {
        *pulMsgLen = (CK_ULONG)strlen(e->msg) + 1;
    }
    return CKR_OK;
}

static CK_SEA_FUNCTION_LIST sea_list = {{1, 0}, C_SEA_GetLastError};

/* ---- function lists and interfaces ---- */

/* The module's only exports. */
SEA_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList);
SEA_EXPORT CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount);
SEA_EXPORT CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
                                CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags);

#define LIST_2_40                                                                                  \
    C_Initialize, C_Finalize, C_GetInfo, C_GetFunctionList, C_GetSlotList, C_GetSlotInfo,          \
        C_GetTokenInfo, C_GetMechanismList, C_GetMechanismInfo, C_InitToken, C_InitPIN, C_SetPIN,  \
        C_OpenSession, C_CloseSession, C_CloseAllSessions, C_GetSessionInfo, C_GetOperationState,  \
        C_SetOperationState, C_Login, C_Logout, C_CreateObject, C_CopyObject, C_DestroyObject,     \
        C_GetObjectSize, C_GetAttributeValue, C_SetAttributeValue, C_FindObjectsInit,              \
        C_FindObjects, C_FindObjectsFinal, C_EncryptInit, C_Encrypt, C_EncryptUpdate,              \
        C_EncryptFinal, C_DecryptInit, C_Decrypt, C_DecryptUpdate, C_DecryptFinal, C_DigestInit,   \
        C_Digest, C_DigestUpdate, C_DigestKey, C_DigestFinal, C_SignInit, C_Sign, C_SignUpdate,    \
        C_SignFinal, C_SignRecoverInit, C_SignRecover, C_VerifyInit, C_Verify, C_VerifyUpdate,     \
        C_VerifyFinal, C_VerifyRecoverInit, C_VerifyRecover, C_DigestEncryptUpdate,                \
        C_DecryptDigestUpdate, C_SignEncryptUpdate, C_DecryptVerifyUpdate, C_GenerateKey,          \
        C_GenerateKeyPair, C_WrapKey, C_UnwrapKey, C_DeriveKey, C_SeedRandom, C_GenerateRandom,    \
        C_GetFunctionStatus, C_CancelFunction, C_WaitForSlotEvent

static CK_FUNCTION_LIST list_2_40 = {{2, 40}, LIST_2_40};

static CK_FUNCTION_LIST_3_0 list_3_0 = {
    {3, 0},
    LIST_2_40,
    C_GetInterfaceList,
    C_GetInterface,
    C_LoginUser,
    C_SessionCancel,
    C_MessageEncryptInit,
    C_EncryptMessage,
    C_EncryptMessageBegin,
    C_EncryptMessageNext,
    C_MessageEncryptFinal,
    C_MessageDecryptInit,
    C_DecryptMessage,
    C_DecryptMessageBegin,
    C_DecryptMessageNext,
    C_MessageDecryptFinal,
    C_MessageSignInit,
    C_SignMessage,
    C_SignMessageBegin,
    C_SignMessageNext,
    C_MessageSignFinal,
    C_MessageVerifyInit,
    C_VerifyMessage,
    C_VerifyMessageBegin,
    C_VerifyMessageNext,
    C_MessageVerifyFinal,
};

/* Not flagged CKF_INTERFACE_FORK_SAFE: a forked child must call C_Initialize again. */
static CK_INTERFACE interfaces[] = {
    {(CK_UTF8CHAR_PTR) "PKCS 11", &list_3_0, 0},
    {(CK_UTF8CHAR_PTR) "PKCS 11", &list_2_40, 0},
    {(CK_UTF8CHAR_PTR)SEA_INTERFACE_NAME, &sea_list, 0},
};

SEA_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
    if (!ppFunctionList)
        return CKR_ARGUMENTS_BAD;
    *ppFunctionList = &list_2_40;
    return CKR_OK;
}

SEA_EXPORT CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount)
{
    if (!pulCount)
        return CKR_ARGUMENTS_BAD;
    if (!pInterfacesList) {
        *pulCount = ARRAY_SIZE(interfaces);
        return CKR_OK;
    }
    if (*pulCount < ARRAY_SIZE(interfaces)) {
        *pulCount = ARRAY_SIZE(interfaces);
        return CKR_BUFFER_TOO_SMALL;
    }
    memcpy(pInterfacesList, interfaces, sizeof(interfaces));
    *pulCount = ARRAY_SIZE(interfaces);
    return CKR_OK;
}

static CK_VERSION interface_version(const CK_INTERFACE *i)
{
    return *(const CK_VERSION *)i->pFunctionList;
}

SEA_EXPORT CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
                                CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags)
{
    if (!ppInterface)
        return CKR_ARGUMENTS_BAD;
    const char *name = pInterfaceName ? (const char *)pInterfaceName : "PKCS 11";
    for (size_t i = 0; i < ARRAY_SIZE(interfaces); i++) {
        CK_INTERFACE *it = &interfaces[i];
        CK_VERSION v = interface_version(it);
        if (strcmp((const char *)it->pInterfaceName, name) != 0)
            continue;
        if (pVersion && (pVersion->major != v.major || pVersion->minor != v.minor))
            continue;
        if ((it->flags & flags) != flags)
            continue;
        *ppInterface = it;
        return CKR_OK;
    }
    return CKR_ARGUMENTS_BAD;
}

/* Helpers for programs that drive sea-pkcs11.so through its PKCS#11 interface (check_p11,
 * fork-child, p11-writer, bench): load the module, give it a private store, make a token, find
 * objects by label, and explain a failing CK_RV with the module's own last error message.
 * Header-only; needs _GNU_SOURCE (the build defines it) for mkdtemp, nftw and setenv. */
#ifndef SEA_TESTS_P11UTIL_H
#define SEA_TESTS_P11UTIL_H

#include <dlfcn.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEA_PKCS11_NO_PROTOTYPES
#include "sea/pkcs11.h"
#include "sea/pkcs11-sea.h"

/* The default PINs of tokens made by p11_make_token. */
#define P11_SO_PIN   "12345678"
#define P11_USER_PIN "1234"

struct p11 {
    void *dl;
    CK_FUNCTION_LIST_3_0 *f;   /* the "PKCS 11" 3.0 interface */
    CK_SEA_FUNCTION_LIST *sea; /* the vendor "SEA" interface, NULL if the module has none */
};

/* A private store: <dir>/sea.conf naming <dir>/store; SEA_CONF points at it. */
struct p11_env {
    char dir[128];
    char conf[160];
    char store[160];
};

/* ---- CK_RV names ---- */

static inline const char *p11_rv_name(CK_RV rv)
{
#define P11_RV(x)                                                                                  \
    {                                                                                              \
        x, #x                                                                                      \
    }
    static const struct {
        CK_RV rv;
        const char *name;
    } names[] = {
        P11_RV(CKR_OK),
        P11_RV(CKR_CANCEL),
        P11_RV(CKR_HOST_MEMORY),
        P11_RV(CKR_SLOT_ID_INVALID),
        P11_RV(CKR_GENERAL_ERROR),
        P11_RV(CKR_FUNCTION_FAILED),
        P11_RV(CKR_ARGUMENTS_BAD),
        P11_RV(CKR_NO_EVENT),
        P11_RV(CKR_CANT_LOCK),
        P11_RV(CKR_ATTRIBUTE_READ_ONLY),
        P11_RV(CKR_ATTRIBUTE_SENSITIVE),
        P11_RV(CKR_ATTRIBUTE_TYPE_INVALID),
        P11_RV(CKR_ATTRIBUTE_VALUE_INVALID),
        P11_RV(CKR_ACTION_PROHIBITED),
        P11_RV(CKR_DATA_INVALID),
        P11_RV(CKR_DATA_LEN_RANGE),
        P11_RV(CKR_DEVICE_ERROR),
        P11_RV(CKR_DEVICE_MEMORY),
        P11_RV(CKR_DEVICE_REMOVED),
        P11_RV(CKR_ENCRYPTED_DATA_INVALID),
        P11_RV(CKR_ENCRYPTED_DATA_LEN_RANGE),
        P11_RV(CKR_AEAD_DECRYPT_FAILED),
        P11_RV(CKR_FUNCTION_NOT_PARALLEL),
        P11_RV(CKR_FUNCTION_NOT_SUPPORTED),
        P11_RV(CKR_KEY_HANDLE_INVALID),
        P11_RV(CKR_KEY_SIZE_RANGE),
        P11_RV(CKR_KEY_TYPE_INCONSISTENT),
        P11_RV(CKR_KEY_FUNCTION_NOT_PERMITTED),
        P11_RV(CKR_KEY_UNEXTRACTABLE),
        P11_RV(CKR_MECHANISM_INVALID),
        P11_RV(CKR_MECHANISM_PARAM_INVALID),
        P11_RV(CKR_OBJECT_HANDLE_INVALID),
        P11_RV(CKR_OPERATION_ACTIVE),
        P11_RV(CKR_OPERATION_NOT_INITIALIZED),
        P11_RV(CKR_PIN_INCORRECT),
        P11_RV(CKR_PIN_INVALID),
        P11_RV(CKR_PIN_LEN_RANGE),
        P11_RV(CKR_PIN_EXPIRED),
        P11_RV(CKR_PIN_LOCKED),
        P11_RV(CKR_SESSION_CLOSED),
        P11_RV(CKR_SESSION_COUNT),
        P11_RV(CKR_SESSION_HANDLE_INVALID),
        P11_RV(CKR_SESSION_PARALLEL_NOT_SUPPORTED),
        P11_RV(CKR_SESSION_READ_ONLY),
        P11_RV(CKR_SESSION_EXISTS),
        P11_RV(CKR_SESSION_READ_ONLY_EXISTS),
        P11_RV(CKR_SESSION_READ_WRITE_SO_EXISTS),
        P11_RV(CKR_SIGNATURE_INVALID),
        P11_RV(CKR_SIGNATURE_LEN_RANGE),
        P11_RV(CKR_TEMPLATE_INCOMPLETE),
        P11_RV(CKR_TEMPLATE_INCONSISTENT),
        P11_RV(CKR_TOKEN_NOT_PRESENT),
        P11_RV(CKR_TOKEN_NOT_RECOGNIZED),
        P11_RV(CKR_TOKEN_WRITE_PROTECTED),
        P11_RV(CKR_USER_ALREADY_LOGGED_IN),
        P11_RV(CKR_USER_NOT_LOGGED_IN),
        P11_RV(CKR_USER_PIN_NOT_INITIALIZED),
        P11_RV(CKR_USER_TYPE_INVALID),
        P11_RV(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
        P11_RV(CKR_USER_TOO_MANY_TYPES),
        P11_RV(CKR_RANDOM_SEED_NOT_SUPPORTED),
        P11_RV(CKR_RANDOM_NO_RNG),
        P11_RV(CKR_CURVE_NOT_SUPPORTED),
        P11_RV(CKR_BUFFER_TOO_SMALL),
        P11_RV(CKR_CRYPTOKI_NOT_INITIALIZED),
        P11_RV(CKR_CRYPTOKI_ALREADY_INITIALIZED),
        P11_RV(CKR_MUTEX_BAD),
        P11_RV(CKR_MUTEX_NOT_LOCKED),
        P11_RV(CKR_FUNCTION_REJECTED),
        P11_RV(CKR_TOKEN_RESOURCE_EXCEEDED),
    };
#undef P11_RV
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].rv == rv)
            return names[i].name;
    return "CKR_(unknown)";
}

/* "CKR_PIN_INCORRECT (0xa0), module says: <origin> <message>" into buf; returns buf. Call it
 * right after the failing call: the module keeps one error record per thread. */
static inline const char *p11_explain(const struct p11 *m, CK_RV rv, char *buf, size_t n)
{
    static const char *const origins[] = {"none", "api", "core", "backend", "transport", "device"};
    CK_ULONG origin = 0, len = 256;
    CK_RV last = CKR_OK;
    CK_UTF8CHAR msg[256] = "";
    if (m && m->sea)
        m->sea->C_SEA_GetLastError(&origin, &last, msg, &len);
    snprintf(buf, n, "%s (0x%lx), module says: [%s] %s", p11_rv_name(rv), rv,
             origin < 6 ? origins[origin] : "?", msg[0] ? (const char *)msg : "(nothing)");
    return buf;
}

/* For plain programs: true if rv is what was expected, else print why to stderr. */
static inline bool p11_expect(const struct p11 *m, CK_RV rv, CK_RV want, const char *what)
{
    char buf[512];
    if (rv == want)
        return true;
    fprintf(stderr, "%s: expected %s, got %s\n", what, p11_rv_name(want),
            p11_explain(m, rv, buf, sizeof(buf)));
    return false;
}

#define P11_OK(m, call) p11_expect((m), (call), CKR_OK, #call)

/* ---- loading ---- */

/* Open the module at path (NULL: $SEA_MODULE) and get its 3.0 and "SEA" interfaces. Returns 0,
 * or -1 with the reason on stderr. */
static inline int p11_load(struct p11 *m, const char *path)
{
    CK_C_GetInterface get;
    CK_INTERFACE *it = NULL;
    CK_VERSION v30 = {3, 0};
    memset(m, 0, sizeof(*m));
    if (!path)
        path = getenv("SEA_MODULE");
    if (!path || !*path) {
        fprintf(stderr, "p11_load: no module path and SEA_MODULE is not set\n");
        return -1;
    }
    if (!(m->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
        fprintf(stderr, "p11_load: %s\n", dlerror());
        return -1;
    }
    void *sym = dlsym(m->dl, "C_GetInterface");
    if (!sym) {
        fprintf(stderr, "p11_load: %s exports no C_GetInterface\n", path);
        goto fail;
    }
    memcpy(&get, &sym, sizeof(get)); /* ISO C has no object-to-function pointer cast */
    CK_RV rv = get((CK_UTF8CHAR_PTR) "PKCS 11", &v30, &it, 0);
    if (rv != CKR_OK || !it) {
        fprintf(stderr, "p11_load: C_GetInterface(\"PKCS 11\", 3.0): %s\n", p11_rv_name(rv));
        goto fail;
    }
    m->f = it->pFunctionList;
    if (get((CK_UTF8CHAR_PTR)SEA_INTERFACE_NAME, NULL, &it, 0) == CKR_OK && it)
        m->sea = it->pFunctionList;
    return 0;
fail:
    dlclose(m->dl);
    memset(m, 0, sizeof(*m));
    return -1;
}

static inline void p11_unload(struct p11 *m)
{
    if (m->dl)
        dlclose(m->dl);
    memset(m, 0, sizeof(*m));
}

/* ---- a private store ---- */

static inline int p11_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Make a temp dir with a sea.conf for one soft device (fast PIN hashing) and point SEA_CONF
 * at it. Returns 0, or -1 with the reason on stderr. */
static inline int p11_env_make(struct p11_env *e)
{
    const char *tmp = getenv("TMPDIR");
    FILE *fp = NULL;
    memset(e, 0, sizeof(*e));
    snprintf(e->dir, sizeof(e->dir), "%s/sea-p11-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(e->dir)) {
        perror("p11_env_make: mkdtemp");
        e->dir[0] = '\0';
        return -1;
    }
    snprintf(e->conf, sizeof(e->conf), "%s/sea.conf", e->dir);
    snprintf(e->store, sizeof(e->store), "%s/store", e->dir);
    if (!(fp = fopen(e->conf, "w")))
        goto fail;
    fprintf(fp, "[device soft]\nbackend = soft\npath = %s\nkdf_iterations = 1000\n", e->store);
    if (fclose(fp) != 0 || setenv("SEA_CONF", e->conf, 1) != 0)
        goto fail;
    return 0;
fail:
    perror("p11_env_make: sea.conf");
    nftw(e->dir, p11_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    e->dir[0] = '\0';
    return -1;
}

/* Remove the temp dir and everything in it. */
static inline void p11_env_remove(struct p11_env *e)
{
    if (e->dir[0])
        nftw(e->dir, p11_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    e->dir[0] = '\0';
}

/* ---- tokens and objects ---- */

/* The first slot with a token that is not initialised (the device's free slot). */
static inline CK_RV p11_free_slot(const struct p11 *m, CK_SLOT_ID *slot)
{
    CK_SLOT_ID ids[64];
    CK_ULONG n = 0;
    CK_TOKEN_INFO ti;
    /* The size query is what makes the module look for new slots (PKCS#11 5.5): a call
     * with a buffer returns the list as of the last query. */
    CK_RV rv = m->f->C_GetSlotList(CK_TRUE, NULL, &n);
    if (rv == CKR_OK && n > 64)
        rv = CKR_BUFFER_TOO_SMALL;
    if (rv == CKR_OK)
        rv = m->f->C_GetSlotList(CK_TRUE, ids, &n);
    if (rv != CKR_OK)
        return rv;
    for (CK_ULONG i = 0; i < n; i++) {
        if ((rv = m->f->C_GetTokenInfo(ids[i], &ti)) != CKR_OK)
            return rv;
        if (!(ti.flags & CKF_TOKEN_INITIALIZED)) {
            *slot = ids[i];
            return CKR_OK;
        }
    }
    return CKR_TOKEN_NOT_PRESENT;
}

/* Space-pad a label into a 32-byte PKCS#11 field. */
static inline void p11_pad32(CK_UTF8CHAR out[32], const char *s)
{
    size_t l = strlen(s);
    memset(out, ' ', 32);
    memcpy(out, s, l < 32 ? l : 32);
}

/* Initialise a token on the free slot with the SO PIN P11_SO_PIN and set the user PIN to
 * user_pin (NULL: P11_USER_PIN). *slot is the new token's slot. The module must be
 * initialised. No session is left open on success; on failure the SO's session may stay open
 * so that the module's last error still tells why. */
static inline CK_RV p11_make_token(const struct p11 *m, const char *label, const char *user_pin,
                                   CK_SLOT_ID *slot)
{
    CK_UTF8CHAR lab[32];
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    const char *pin = user_pin ? user_pin : P11_USER_PIN;
    CK_RV rv = p11_free_slot(m, slot);
    p11_pad32(lab, label);
    if (rv != CKR_OK ||
        (rv = m->f->C_InitToken(*slot, (CK_UTF8CHAR_PTR)P11_SO_PIN, strlen(P11_SO_PIN), lab)) !=
            CKR_OK ||
        (rv = m->f->C_OpenSession(*slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s)) !=
            CKR_OK ||
        (rv = m->f->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)P11_SO_PIN, strlen(P11_SO_PIN))) !=
            CKR_OK ||
        (rv = m->f->C_InitPIN(s, (CK_UTF8CHAR_PTR)pin, strlen(pin))) != CKR_OK ||
        (rv = m->f->C_Logout(s)) != CKR_OK)
        return rv;
    return m->f->C_CloseSession(s);
}

/* Open a read/write session on slot and log the user in (pin NULL: P11_USER_PIN). If the login
 * fails the session stays open (*s is valid), so that the module's last error still tells why;
 * C_Finalize or C_CloseSession ends it. */
static inline CK_RV p11_user_session(const struct p11 *m, CK_SLOT_ID slot, const char *pin,
                                     CK_SESSION_HANDLE *s)
{
    const char *p = pin ? pin : P11_USER_PIN;
    CK_RV rv = m->f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, s);
    if (rv != CKR_OK)
        return rv;
    rv = m->f->C_Login(*s, CKU_USER, (CK_UTF8CHAR_PTR)p, strlen(p));
    /* login state is per token: another session of this process may have logged in */
    return rv == CKR_USER_ALREADY_LOGGED_IN ? CKR_OK : rv;
}

/* Find objects with this label (and class, unless cls is CK_UNAVAILABLE_INFORMATION). *count
 * is the number found, *obj the first (CK_INVALID_HANDLE if none). */
static inline CK_RV p11_find_label(const struct p11 *m, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls,
                                   const char *label, CK_OBJECT_HANDLE *obj, CK_ULONG *count)
{
    CK_ATTRIBUTE t[] = {{CKA_LABEL, (void *)label, strlen(label)}, {CKA_CLASS, &cls, sizeof(cls)}};
    CK_OBJECT_HANDLE h[16];
    CK_ULONG got = 0;
    CK_RV rv = m->f->C_FindObjectsInit(s, t, cls == CK_UNAVAILABLE_INFORMATION ? 1 : 2);
    *obj = CK_INVALID_HANDLE;
    *count = 0;
    if (rv != CKR_OK)
        return rv;
    do {
        if ((rv = m->f->C_FindObjects(s, h, 16, &got)) != CKR_OK)
            break;
        if (got && *count == 0)
            *obj = h[0];
        *count += got;
    } while (got == 16);
    CK_RV frv = m->f->C_FindObjectsFinal(s);
    return rv != CKR_OK ? rv : frv;
}

#endif

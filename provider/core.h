/* The core: one library context holding the configured devices, their SEs (one slot and token
 * each), sessions, login state and running operations. Both faces call it: the PKCS#11 module
 * (p11.c) and the native API (api.c). Every function here is thread-safe; arguments are
 * assumed checked by the face that received them (pointers non-NULL where required). */
#ifndef SEA_CORE_H
#define SEA_CORE_H

#include "attrs.h"
#include "backend.h"
#include "common.h"
#include "config.h"

struct core;

/* Create a context from a configuration (the core takes ownership of cfg). Devices that fail
 * to open are kept as slots without a token; their error is in core_device_status. */
CK_RV core_new(struct config *cfg, struct core **out);
void core_free(struct core *c);

/* A process forked after the context was made must not use it: true in such a child. */
bool core_stale(const struct core *c);
/* Drop a context inherited through fork: wipe secrets it holds, free nothing it shares with
 * the parent (database handles, OpenSSL state). */
void core_abandon(struct core *c);

/* The configuration in use: its file, or "(embedded default)". */
const char *core_config_path(const struct core *c, bool *embedded);

/* The fork generation of this process (incremented in every child). */
unsigned long core_fork_generation(void);

/* ---- devices, SEs, slots ---- */

struct core_device_status {
    char name[32];
    char backend[16];
    CK_RV rv;        /* CKR_OK, or why the device could not be opened */
    char error[256]; /* the message recorded then */
    unsigned nses;
    unsigned max_se;
};

/* The configured devices in configuration order; n in/out like C_GetSlotList. */
CK_RV core_device_status(struct core *c, struct core_device_status *out, size_t *n);

/* Snapshot of one SE as the native API describes it (TS-0016 <SE> descriptor). */
struct core_se_info {
    CK_SLOT_ID slot;
    struct se_desc desc;
    char device[32];
    char backend[16];
    bool logged_in;
    CK_USER_TYPE user;
};

/* All SEs (re-read from the devices). *out malloc'd, free() it. */
CK_RV core_se_list(struct core *c, struct core_se_info **out, size_t *n);

/* Create an SE on a device (NULL: the first that can) — the native face of C_InitToken on a
 * free slot. se_id NULL: generated (type code + 15 random hex digits). level: requested
 * TS-0003 security level, capped by what the device can claim (-1: the device's). */
struct core_se_create {
    const char *device;
    const char *name;
    const char *se_id;
    int level;
    unsigned max_retries; /* 0: [sea] pin_retries, default 10 */
    const uint8_t *so_pin;
    size_t so_pin_len;
};
CK_RV core_se_create(struct core *c, const struct core_se_create *p, struct core_se_info *out);
CK_RV core_se_delete(struct core *c, CK_SLOT_ID slot, const uint8_t *so_pin, size_t len);

CK_RV core_slot_list(struct core *c, bool token_present, CK_SLOT_ID *list, CK_ULONG *count);
CK_RV core_slot_info(struct core *c, CK_SLOT_ID slot, CK_SLOT_INFO *info);
CK_RV core_token_info(struct core *c, CK_SLOT_ID slot, CK_TOKEN_INFO *info);
CK_RV core_mech_list(struct core *c, CK_SLOT_ID slot, CK_MECHANISM_TYPE *list, CK_ULONG *count);
CK_RV core_mech_info(struct core *c, CK_SLOT_ID slot, CK_MECHANISM_TYPE t, CK_MECHANISM_INFO *info);
/* The DEVCAP_* flags of the slot's device (what srt of the <SE> resource is made from). */
CK_RV core_slot_devcaps(struct core *c, CK_SLOT_ID slot, unsigned *flags);
CK_RV core_init_token(struct core *c, CK_SLOT_ID slot, const uint8_t *pin, size_t len,
                      const char *label);
/* C_WaitForSlotEvent with CKF_DONT_BLOCK: a slot whose SE appeared, vanished or changed. */
CK_RV core_slot_event(struct core *c, CK_SLOT_ID *slot);

/* ---- sessions and login ---- */

CK_RV core_open_session(struct core *c, CK_SLOT_ID slot, CK_FLAGS flags, CK_SESSION_HANDLE *h);
CK_RV core_close_session(struct core *c, CK_SESSION_HANDLE h);
CK_RV core_close_all(struct core *c, CK_SLOT_ID slot);
CK_RV core_session_info(struct core *c, CK_SESSION_HANDLE h, CK_SESSION_INFO *info);
CK_RV core_session_slot(struct core *c, CK_SESSION_HANDLE h, CK_SLOT_ID *slot);
CK_RV core_login(struct core *c, CK_SESSION_HANDLE h, CK_USER_TYPE user, const uint8_t *pin,
                 size_t len);
CK_RV core_logout(struct core *c, CK_SESSION_HANDLE h);
CK_RV core_init_pin(struct core *c, CK_SESSION_HANDLE h, const uint8_t *pin, size_t len);
CK_RV core_set_pin(struct core *c, CK_SESSION_HANDLE h, const uint8_t *old_pin, size_t old_len,
                   const uint8_t *new_pin, size_t new_len);
/* C_SessionCancel: end the operations named by CKF_ENCRYPT, CKF_SIGN, ... flags. */
CK_RV core_session_cancel(struct core *c, CK_SESSION_HANDLE h, CK_FLAGS flags);

/* ---- objects ---- */

/* flags: OBJ_UNIQUE_LABEL for the native API's sensitive data objects. */
CK_RV core_create_object(struct core *c, CK_SESSION_HANDLE h, const CK_ATTRIBUTE *t, CK_ULONG n,
                         unsigned flags, CK_OBJECT_HANDLE *obj);
CK_RV core_copy_object(struct core *c, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj,
                       const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *out);
CK_RV core_destroy_object(struct core *c, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj);
CK_RV core_object_size(struct core *c, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ULONG *size);
CK_RV core_get_attrs(struct core *c, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE *t,
                     CK_ULONG n);
CK_RV core_set_attrs(struct core *c, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj,
                     const CK_ATTRIBUTE *t, CK_ULONG n);
CK_RV core_find_init(struct core *c, CK_SESSION_HANDLE h, const CK_ATTRIBUTE *t, CK_ULONG n);
CK_RV core_find(struct core *c, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE *out, CK_ULONG max,
                CK_ULONG *count);
CK_RV core_find_final(struct core *c, CK_SESSION_HANDLE h);

/* ---- keys and operations ---- */

CK_RV core_generate_key(struct core *c, CK_SESSION_HANDLE h, const CK_MECHANISM *m,
                        const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *key);
CK_RV core_generate_key_pair(struct core *c, CK_SESSION_HANDLE h, const CK_MECHANISM *m,
                             const CK_ATTRIBUTE *pub, CK_ULONG npub, const CK_ATTRIBUTE *priv,
                             CK_ULONG npriv, CK_OBJECT_HANDLE *hpub, CK_OBJECT_HANDLE *hpriv);

/* C_WrapKey (keyops.c): out == NULL asks for the size; too small a buffer is
 * CKR_BUFFER_TOO_SMALL with *outlen set and nothing written. A device without the backend's
 * wrap, unwrap or derive op answers CKR_FUNCTION_NOT_SUPPORTED. */
CK_RV core_wrap_key(struct core *c, CK_SESSION_HANDLE h, const CK_MECHANISM *m,
                    CK_OBJECT_HANDLE hw, CK_OBJECT_HANDLE hk, uint8_t *out, CK_ULONG *outlen);
/* C_UnwrapKey: the template must name CKA_CLASS and CKA_KEY_TYPE. */
CK_RV core_unwrap_key(struct core *c, CK_SESSION_HANDLE h, const CK_MECHANISM *m,
                      CK_OBJECT_HANDLE hu, const uint8_t *in, size_t inlen, const CK_ATTRIBUTE *t,
                      CK_ULONG n, CK_OBJECT_HANDLE *key);
/* C_DeriveKey: a secret key (generic secret unless CKA_KEY_TYPE says otherwise), or a data
 * object for CKM_HKDF_DATA (its length in CKA_VALUE_LEN). */
CK_RV core_derive_key(struct core *c, CK_SESSION_HANDLE h, const CK_MECHANISM *m,
                      CK_OBJECT_HANDLE hb, const CK_ATTRIBUTE *t, CK_ULONG n,
                      CK_OBJECT_HANDLE *key);

/* C_xxxInit for encrypt, decrypt, sign, verify (key) and digest (key ignored). m == NULL ends
 * an active operation of that kind (PKCS#11 3.0). */
CK_RV core_op_init(struct core *c, CK_SESSION_HANDLE h, enum sea_op op, const CK_MECHANISM *m,
                   CK_OBJECT_HANDLE key);
/* Single-part C_Encrypt/C_Decrypt/C_Sign/C_Digest with the standard's size-query semantics:
 * out == NULL or *outlen too small keeps the operation active. */
CK_RV core_op_single(struct core *c, CK_SESSION_HANDLE h, enum sea_op op, const uint8_t *in,
                     size_t inlen, uint8_t *out, CK_ULONG *outlen);
/* C_xxxUpdate; out/outlen NULL for sign, verify and digest. */
CK_RV core_op_update(struct core *c, CK_SESSION_HANDLE h, enum sea_op op, const uint8_t *in,
                     size_t inlen, uint8_t *out, CK_ULONG *outlen);
/* C_xxxFinal (encrypt, decrypt, sign, digest). */
CK_RV core_op_final(struct core *c, CK_SESSION_HANDLE h, enum sea_op op, uint8_t *out,
                    CK_ULONG *outlen);
/* C_Verify and C_VerifyFinal. */
CK_RV core_verify(struct core *c, CK_SESSION_HANDLE h, const uint8_t *data, size_t len,
                  const uint8_t *sig, size_t siglen);
CK_RV core_verify_final(struct core *c, CK_SESSION_HANDLE h, const uint8_t *sig, size_t siglen);

/* ---- message-based encryption and decryption (PKCS#11 3.0; msgops.c) ----
 * op is OP_ENCRYPT or OP_DECRYPT. Each message runs as one device operation of the base
 * mechanism (CKM_AES_GCM with a CK_GCM_PARAMS built from the CK_GCM_MESSAGE_PARAMS). */

/* C_MessageEncryptInit / C_MessageDecryptInit; m == NULL ends the process. */
CK_RV core_msg_init(struct core *c, CK_SESSION_HANDLE h, enum sea_op op, const CK_MECHANISM *m,
                    CK_OBJECT_HANDLE key);
/* C_EncryptMessage / C_DecryptMessage: one whole message, size-query rules of 5.2. */
CK_RV core_msg_single(struct core *c, CK_SESSION_HANDLE h, enum sea_op op, void *param,
                      CK_ULONG plen, const uint8_t *aad, size_t aadlen, const uint8_t *in,
                      size_t inlen, uint8_t *out, CK_ULONG *outlen);
/* C_EncryptMessageBegin / C_DecryptMessageBegin. */
CK_RV core_msg_begin(struct core *c, CK_SESSION_HANDLE h, enum sea_op op, void *param,
                     CK_ULONG plen, const uint8_t *aad, size_t aadlen);
/* C_EncryptMessageNext / C_DecryptMessageNext (flags: 0 or CKF_END_OF_MESSAGE). */
CK_RV core_msg_next(struct core *c, CK_SESSION_HANDLE h, enum sea_op op, void *param, CK_ULONG plen,
                    const uint8_t *in, size_t inlen, uint8_t *out, CK_ULONG *outlen,
                    CK_FLAGS flags);
/* C_MessageEncryptFinal / C_MessageDecryptFinal. */
CK_RV core_msg_final(struct core *c, CK_SESSION_HANDLE h, enum sea_op op);

CK_RV core_random(struct core *c, CK_SESSION_HANDLE h, uint8_t *out, size_t len);
CK_RV core_seed(struct core *c, CK_SESSION_HANDLE h, const uint8_t *seed, size_t len);

#endif

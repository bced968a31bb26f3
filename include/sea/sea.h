/* libsea: the oneM2M Secure Environment Abstraction (TS-0016 Mcs) as a C API.
 *
 * A CSE or AE keeps its credentials (pre-provisioned keys, enrolment keys, private keys,
 * certificates, sensitive data) inside a secure environment (SE) and uses them through this
 * API without ever holding them. Every SE lives on one device (a TPM, a UICC or eSE, an HSM,
 * or the software store); every object lives in one SE and is never usable from another.
 *
 *   sea_ctx  — the library context (sea_open / sea_close), one per configuration.
 *   sea_se   — an open SE (a session on it); log in on it, then use its objects.
 *   sea_obj  — a handle of an object (key, data object) inside one open SE.
 *
 * Every function returns a sea_rv. On failure the calling thread's last error (sea_last_error)
 * says which layer failed (the origin) and why. Nothing is printed unless SEA_LOG is set.
 * Functions are thread-safe; one sea_se should be used by one thread at a time.
 * A process that forks must call sea_open again in the child: a context made before the fork
 * answers SEA_ERR_NOT_INITIALIZED there.
 *
 * See libsea(3) for the full description and sea.conf(5) for the configuration.
 */
#ifndef SEA_SEA_H
#define SEA_SEA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status and errors ---- */

typedef enum sea_rv {
    SEA_OK = 0,
    SEA_ERR_ARGS = 1,               /* an argument is NULL, too long or malformed */
    SEA_ERR_NOT_FOUND = 2,          /* no such SE, object or device */
    SEA_ERR_EXISTS = 3,             /* an object with that name already exists */
    SEA_ERR_PIN_INCORRECT = 4,      /* wrong PIN (one try used) */
    SEA_ERR_PIN_LOCKED = 5,         /* no tries left */
    SEA_ERR_PIN_LEN = 6,            /* PIN too short or too long for the device */
    SEA_ERR_PIN_NOT_SET = 7,        /* the user PIN of the SE was never set */
    SEA_ERR_NOT_LOGGED_IN = 8,      /* the operation needs the user (or SO) logged in */
    SEA_ERR_DENIED = 9,             /* the object's attributes or policy forbid this use */
    SEA_ERR_UNSUPPORTED = 10,       /* the SE's device or libsea cannot do this */
    SEA_ERR_BUFFER_TOO_SMALL = 11,  /* *len was set to the size needed */
    SEA_ERR_SIGNATURE_INVALID = 12, /* verification failed: not an error of the library */
    SEA_ERR_DATA_INVALID = 13,      /* ciphertext failed authentication, bad input data */
    SEA_ERR_DEVICE = 14,            /* the device or its store failed or is damaged */
    SEA_ERR_NO_MEMORY = 15,
    SEA_ERR_NOT_INITIALIZED = 16, /* no context, or a context inherited through fork */
    SEA_ERR_BUSY = 17,            /* sessions are open on the SE */
    SEA_ERR_INTERNAL = 18,
    SEA_ERR_ALREADY_LOGGED_IN = 19,
} sea_rv;

/* Which layer an error came from (GlobalPlatform's returnOrigin). */
typedef enum sea_origin {
    SEA_ORIGIN_NONE = 0,
    SEA_ORIGIN_API = 1,       /* the arguments were rejected */
    SEA_ORIGIN_CORE = 2,      /* libsea's rules (PKCS#11 / TS-0016) */
    SEA_ORIGIN_BACKEND = 3,   /* the backend or its store */
    SEA_ORIGIN_TRANSPORT = 4, /* the link to the device */
    SEA_ORIGIN_DEVICE = 5,    /* the device itself */
} sea_origin;

/* The calling thread's last error message ("" if none); its origin in *origin if not NULL.
 * Valid until the thread's next libsea call. Never contains secrets. */
const char *sea_last_error(sea_origin *origin);

/* A short English name for a status ("SEA_ERR_PIN_LOCKED"). */
const char *sea_rv_name(sea_rv rv);

/* The TS-0004 response status code a CSE should answer over Mcs for a status (e.g. 4004
 * NOT_FOUND, 4103 ORIGINATOR_HAS_NO_PRIVILEGE, 5001 NOT_IMPLEMENTED); 2000 for SEA_OK. */
int sea_rv_onem2m(sea_rv rv);

/* The library version, "MAJOR.MINOR.PATCH". */
const char *sea_version(void);

/* ---- the context ---- */

typedef struct sea_ctx sea_ctx;

/* Open the library with a configuration file, or with NULL: $SEA_CONF, then
 * $XDG_CONFIG_HOME/sea/sea.conf, then /etc/sea/sea.conf, else the embedded default (one
 * software device in $SEA_STORE or $XDG_DATA_HOME/sea). */
sea_rv sea_open(sea_ctx **ctx, const char *config_path);
void sea_close(sea_ctx *ctx);

/* The configuration file the context uses, or "(embedded default)"; *embedded (if not NULL) is
 * set to 1 for the embedded default. NULL for a NULL context. */
const char *sea_config_path(sea_ctx *ctx, int *embedded);

/* The configured devices and whether they opened. */
typedef struct sea_device_info {
    char name[32];
    char backend[16];
    sea_rv status;   /* SEA_OK or why the device is unavailable */
    char error[256]; /* the reason, if any */
    unsigned se_count, max_se;
} sea_device_info;

sea_rv sea_device_list(sea_ctx *ctx, sea_device_info **list, size_t *count);

/* ---- SEs: discovery and profile management (TS-0016 F1, F2, F5) ---- */

/* TS-0016 7.2.1 SE type codes; TPMs and HSMs are vendor values (no code in the spec). */
enum sea_se_type {
    SEA_SE_UICC = 1,
    SEA_SE_GP_SE = 2,
    SEA_SE_GP_TEE = 3,
    SEA_SE_SOFTWARE = 4,
};

enum sea_lifecycle { SEA_LC_PERSONALIZATION = 0, SEA_LC_OPERATIONAL = 1, SEA_LC_BLOCKED = 2 };

/* PIN state flags of an SE. */
enum {
    SEA_PIN_USER_SET = 1u << 0,
    SEA_PIN_USER_COUNT_LOW = 1u << 1,
    SEA_PIN_USER_FINAL_TRY = 1u << 2,
    SEA_PIN_USER_LOCKED = 1u << 3,
    SEA_PIN_SO_COUNT_LOW = 1u << 4,
    SEA_PIN_SO_FINAL_TRY = 1u << 5,
    SEA_PIN_SO_LOCKED = 1u << 6,
};

/* The TS-0016 <SE> descriptor of one SE, plus where it lives. */
typedef struct sea_se_info {
    char name[33];           /* the SE's name (also its PKCS#11 token label) */
    char se_id[17];          /* M2M-SE-ID (sID): type code + unique part (token serial) */
    unsigned se_type;        /* SEType (seT) */
    unsigned security_level; /* securityLevel (seL), TS-0003 protection level 0..3 */
    unsigned lifecycle;      /* enum sea_lifecycle */
    char backend[16];        /* "soft", ... */
    char device[32];         /* the device's name in sea.conf */
    unsigned long slot_id;   /* its PKCS#11 slot: stable across restarts */
    unsigned pin_flags;      /* SEA_PIN_* */
    unsigned user_tries_left, so_tries_left, max_tries;
    int64_t created; /* seconds since the epoch */
} sea_se_info;

/* All SEs of all devices. Free *list with sea_free. */
sea_rv sea_se_list(sea_ctx *ctx, sea_se_info **list, size_t *count);

/* One SE by name or M2M-SE-ID. */
sea_rv sea_se_find(sea_ctx *ctx, const char *name_or_id, sea_se_info *info);

typedef struct sea_se_params {
    const char *device; /* device name in sea.conf; NULL: the first that can create SEs */
    const char *name;   /* 1..32 printable characters */
    const char *se_id;  /* NULL: generated; else type code + [0-9A-Za-z._-], <= 16 chars */
    int security_level; /* -1: what the device can claim; else 0..that */
    unsigned max_tries; /* PIN tries before lockout, 1..100; 0: [sea] pin_retries (10) */
    const char *so_pin; /* the SE owner's (security officer's) PIN */
    size_t so_pin_len;
    const char *user_pin; /* optional: set the user PIN at once (NULL: later) */
    size_t user_pin_len;
} sea_se_params;

/* Create and personalise an SE (enrolment). */
sea_rv sea_se_create(sea_ctx *ctx, const sea_se_params *p, sea_se_info *info);

/* Delete an SE and everything in it; needs its SO PIN and no open sessions. */
sea_rv sea_se_delete(sea_ctx *ctx, const char *name_or_id, const char *so_pin, size_t so_pin_len);

/* ---- an open SE, login and PINs ---- */

typedef struct sea_se sea_se;

/* Open an SE by name or M2M-SE-ID (a read/write session). */
sea_rv sea_se_open(sea_ctx *ctx, const char *name_or_id, sea_se **se);
void sea_se_close(sea_se *se);

typedef enum sea_user { SEA_USER = 1, SEA_SO = 0 } sea_user;

/* Log in; the login holds for every sea_se of this context on that SE until sea_logout or the
 * last one closes. Wrong PINs count towards the lockout (SEA_ERR_PIN_LOCKED). */
sea_rv sea_login(sea_se *se, sea_user user, const char *pin, size_t pin_len);
sea_rv sea_logout(sea_se *se);
/* As the SO: set (or reset after a lockout) the user PIN. */
sea_rv sea_init_pin(sea_se *se, const char *pin, size_t pin_len);
/* Change the PIN of whoever is logged in (the user PIN if nobody is). */
sea_rv sea_set_pin(sea_se *se, const char *old_pin, size_t old_len, const char *new_pin,
                   size_t new_len);

/* ---- objects ---- */

typedef unsigned long sea_obj;

typedef enum sea_class {
    SEA_CLASS_ANY = 0,
    SEA_CLASS_PRIVATE_KEY = 1,
    SEA_CLASS_PUBLIC_KEY = 2,
    SEA_CLASS_SECRET_KEY = 3,
    SEA_CLASS_DATA = 4,
    SEA_CLASS_CERTIFICATE = 5,
} sea_class;

typedef enum sea_key_type {
    SEA_KEY_EC_P256 = 1,
    SEA_KEY_EC_P384 = 2,
    SEA_KEY_AES = 3,            /* 128, 192 or 256 bits */
    SEA_KEY_GENERIC_SECRET = 4, /* HMAC keys, oneM2M Kpsa/Km/Ke... */
    SEA_KEY_RSA_2048 = 5,       /* public exponent 65537 */
    SEA_KEY_RSA_3072 = 6,
    SEA_KEY_RSA_4096 = 7,
    SEA_KEY_ED25519 = 8,
} sea_key_type;

/* What a key may be used for. */
enum {
    SEA_USE_SIGN = 1u << 0,   /* sign (private key) or MAC (secret key) */
    SEA_USE_VERIFY = 1u << 1, /* verify (public key) or check a MAC (secret key) */
    SEA_USE_ENCRYPT = 1u << 2,
    SEA_USE_DECRYPT = 1u << 3,
    SEA_USE_DERIVE = 1u << 4,
};

typedef struct sea_key_params {
    sea_key_type type;
    unsigned bits;     /* AES and generic secrets; ignored for EC, RSA and Ed25519 */
    const char *label; /* name of the key (CKA_LABEL); required */
    const uint8_t *id; /* CKA_ID, optional (links a key pair and its certificate) */
    size_t id_len;
    unsigned usage;     /* SEA_USE_*; 0: what the key type can do */
    int extractable;    /* default 0: the key never leaves the SE, in any form */
    unsigned long suid; /* oneM2M SUID (TS-0004 m2m:suid); 0: none. Stored with the key;
                         * not yet enforced (see doc/design.md) */
    int not_sensitive;  /* default 0: CKA_SENSITIVE, the value is never readable in clear. 1:
                         * CKA_SENSITIVE false, so that an extractable key's value can be read
                         * (C_GetAttributeValue CKA_VALUE): for tests and known-answer checks */
} sea_key_params;

/* Generate a key in the SE. For key pairs (EC, RSA, Ed25519) *key is the private key and *pub
 * (optional) the public one; for secret keys *pub is left alone. */
sea_rv sea_key_generate(sea_se *se, const sea_key_params *p, sea_obj *key, sea_obj *pub);

/* Import a pre-provisioned secret key value (AES or generic secret). The copy made here is
 * the caller's to wipe. */
sea_rv sea_key_import_secret(sea_se *se, const sea_key_params *p, const uint8_t *value, size_t len,
                             sea_obj *key);

/* Import a private key in PEM or DER (PKCS#8, SEC1, PKCS#1; unencrypted): EC P-256/384/521,
 * RSA, Ed25519. p->type is ignored (taken from the key). Creates the private key and its
 * public key. */
sea_rv sea_key_import_private(sea_se *se, const sea_key_params *p, const uint8_t *pem_or_der,
                              size_t len, sea_obj *key, sea_obj *pub);

/* Find exactly one object by label or by PKCS#11 URI ("pkcs11:object=...;type=private").
 * SEA_ERR_NOT_FOUND if none, SEA_ERR_EXISTS if several match. */
sea_rv sea_object_find(sea_se *se, const char *label_or_uri, sea_class cls, sea_obj *obj);

/* Every object of a class (or all) visible in the SE; *list from malloc, free with sea_free. */
sea_rv sea_object_list(sea_se *se, sea_class cls, sea_obj **list, size_t *count);

typedef struct sea_object_info {
    sea_class cls;
    int key_type;  /* sea_key_type, 0 for non-keys */
    unsigned bits; /* key size */
    char label[256];
    uint8_t id[64];
    size_t id_len;
    unsigned usage; /* SEA_USE_* */
    int extractable, sensitive, local, is_private;
    unsigned long suid;
    char uri[512]; /* a PKCS#11 URI naming the object */
} sea_object_info;

sea_rv sea_object_info_get(sea_se *se, sea_obj obj, sea_object_info *info);
sea_rv sea_object_destroy(sea_se *se, sea_obj obj);

/* The public key as DER SubjectPublicKeyInfo (of a public or private key object). */
sea_rv sea_public_key(sea_se *se, sea_obj key, uint8_t *der, size_t *len);

/* ---- cryptography (TS-0016 <cipher>, <signature>, <hash>, <rand>) ---- */

typedef enum sea_alg {
    SEA_ALG_ECDSA = 1,        /* input: a digest */
    SEA_ALG_ECDSA_SHA256 = 2, /* input: the message */
    SEA_ALG_ECDSA_SHA384 = 3,
    SEA_ALG_HMAC_SHA256 = 4,
    SEA_ALG_AES_GCM = 5,
    SEA_ALG_SHA256 = 6,
    SEA_ALG_SHA384 = 7,
    SEA_ALG_SHA512 = 8,
    /* RSA and Ed25519 signatures (input: the message) */
    SEA_ALG_RSA_PKCS1_SHA256 = 16, /* RSASSA-PKCS1-v1_5 with SHA-256 */
    SEA_ALG_RSA_PSS_SHA256 = 17,   /* RSASSA-PSS, SHA-256, MGF1-SHA-256, 32-byte salt */
    SEA_ALG_ED25519 = 18,          /* pure Ed25519 (RFC 8032) */
} sea_alg;

/* Sign or MAC. Signatures are raw r||s for ECDSA. With sig == NULL, *sig_len gets the size. */
sea_rv sea_sign(sea_se *se, sea_obj key, sea_alg alg, const uint8_t *msg, size_t msg_len,
                uint8_t *sig, size_t *sig_len);
/* SEA_OK if the signature is good, SEA_ERR_SIGNATURE_INVALID if not. */
sea_rv sea_verify(sea_se *se, sea_obj key, sea_alg alg, const uint8_t *msg, size_t msg_len,
                  const uint8_t *sig, size_t sig_len);

/* AEAD parameters (TS-0016 <algorithmSpecificParameter>: initialVector, associatedData). */
typedef struct sea_aead {
    const uint8_t *iv; /* 12 bytes recommended; must never repeat for one key */
    size_t iv_len;
    const uint8_t *aad;
    size_t aad_len;
    unsigned tag_bits; /* 0: 128 */
} sea_aead;

/* AES-GCM: the ciphertext is followed by the tag. out == NULL: *out_len gets the size. */
sea_rv sea_encrypt(sea_se *se, sea_obj key, sea_alg alg, const sea_aead *aead, const uint8_t *in,
                   size_t in_len, uint8_t *out, size_t *out_len);
/* SEA_ERR_DATA_INVALID if the tag does not verify; nothing is written then. */
sea_rv sea_decrypt(sea_se *se, sea_obj key, sea_alg alg, const sea_aead *aead, const uint8_t *in,
                   size_t in_len, uint8_t *out, size_t *out_len);

sea_rv sea_digest(sea_se *se, sea_alg alg, const uint8_t *in, size_t in_len, uint8_t *out,
                  size_t *out_len);
/* Random bytes from the SE's device. */
sea_rv sea_random(sea_se *se, uint8_t *out, size_t len);

/* ---- oneM2M key derivations inside the SE (TS-0003 10.3) ----
 * The same derivations as the PKCS#11 mechanisms CKM_SEA_ONEM2M_* (sea/pkcs11-sea.h), with the
 * choices of doc/onem2m-derivations.md. The new key never leaves the SE unless `key`->extractable
 * is set (and then only wrapped, or in clear if `key`->not_sensitive is set too); it carries the SUID (the derivation's for SEA_KDF_USAGE, else
 * `key`->suid, or the base key's when that is 0) and expires no later than the base key. */
typedef enum sea_kdf {
    SEA_KDF_KM = 1,              /* Km from Ke; input: the MAF-ID (UTF-8) */
    SEA_KDF_KPSA = 2,            /* Kpsa from Ke; input: the Enrolee-B-ID (CSE-ID or AE-ID) */
    SEA_KDF_USAGE = 3,           /* usage-constrained key from Ke; input: Enrolment-Target-ID
                                  * (an FQDN); suid: the SUID (10..99) */
    SEA_KDF_KE2E_MASTER = 4,     /* Ke2e_master from Kpsa; input: the salt (may be empty) */
    SEA_KDF_KE2E_MSG_AUTH = 5,   /* from Ke2e_master; no input */
    SEA_KDF_KE2E_MSG_CONF = 6,   /* ditto */
    SEA_KDF_KE2E_ATT_AUTH = 7,   /* ditto */
    SEA_KDF_KE2E_ATT_CONF = 8,   /* ditto */
    SEA_KDF_SESSION_ESPRIM = 9,  /* sessionESPrimKey from pairwiseESPrimKey; input: the receiver's
                                  * then the originator's esprimRandValue (16 + 16 bytes) */
    SEA_KDF_EXPORTER_SPLIT = 10, /* from the 48-byte TLS exporter output (imported as a generic
                                  * secret): the key is its last 32 bytes, id_out (16 bytes) gets
                                  * the first 16 (RelativeKeID, KcID, pairwiseE2EKeyID) */
} sea_kdf;

typedef struct sea_derive_params {
    sea_kdf kdf;
    const uint8_t *input; /* identity string (UTF-8, NFKC-normalised by the SE), salt or rands */
    size_t input_len;
    unsigned long suid; /* SEA_KDF_USAGE only */
    uint8_t *id_out;    /* SEA_KDF_EXPORTER_SPLIT only: 16 bytes */
} sea_derive_params;

/* Derive a key from `base` (a generic secret allowed SEA_USE_DERIVE). `key` describes the new
 * key: label (required, unused in the SE), usage, extractable, id; type SEA_KEY_GENERIC_SECRET
 * (256 bits) or, for the E2E and session keys, SEA_KEY_AES with 128, 192 or 256 bits (the
 * leftmost bytes); suid 0 or equal to the one the key gets. SEA_ERR_ARGS for bad input. */
sea_rv sea_derive_onem2m(sea_se *se, sea_obj base, const sea_derive_params *d,
                         const sea_key_params *key, sea_obj *out);

/* ---- sensitive data objects (TS-0016 7.4 <sensitiveDataObject>) ---- */

typedef struct sea_data_info {
    char resource_id[256]; /* resourceID, chosen by the creator, unique in the SE */
    char creator[256];     /* creator: AE-ID or CSE-ID */
    char acp_ids[512];     /* accessControlPolicyIDs, space separated ("" = parent's) */
    size_t size;           /* currentByteSize (cbs) */
    int64_t creation_time; /* creationTime */
    int64_t last_modified; /* lastModifiedTime */
} sea_data_info;

/* Store data in the SE (needs the user logged in; the data is encrypted in the store).
 * SEA_ERR_EXISTS if resource_id is taken. acp_ids may be NULL. */
sea_rv sea_data_create(sea_se *se, const char *resource_id, const char *creator,
                       const char *acp_ids, const uint8_t *data, size_t len);
/* Read it back. buf == NULL: *len gets the size. info may be NULL. */
sea_rv sea_data_retrieve(sea_se *se, const char *resource_id, uint8_t *buf, size_t *len,
                         sea_data_info *info);
/* Replace the data (the only updatable attribute besides the ACP ids). */
sea_rv sea_data_update(sea_se *se, const char *resource_id, const uint8_t *data, size_t len);
sea_rv sea_data_delete(sea_se *se, const char *resource_id);

/* Free a list returned by libsea. */
void sea_free(void *p);

#ifdef __cplusplus
}
#endif

#endif

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

/* TS-0016 7.2.1 SE type codes (SEType, seT). The spec defines 1..4 and leaves every other value
 * RFU; TPMs and HSMs have no code, so libsea uses vendor codes from a range of its own, 901..999,
 * whose first digit 9 cannot be mistaken for a spec code by a reader that only looks at the first
 * digit (doc/mcs-json.md "SE types and security levels"). A TPM or HSM simulator (swtpm,
 * SoftHSMv2) is software and reports SEA_SE_SOFTWARE. Highest securityLevel per type: UICC 3,
 * GP SE 3, GP TEE 2, software 1, discrete TPM 3, firmware TPM 2, PKCS#11 HSM 3. */
enum sea_se_type {
    SEA_SE_UICC = 1,
    SEA_SE_GP_SE = 2,
    SEA_SE_GP_TEE = 3,
    SEA_SE_SOFTWARE = 4,
    SEA_SE_TPM2_DISCRETE = 901, /* vendor: TPM 2.0 chip (independent hardware) */
    SEA_SE_TPM2_FIRMWARE = 902, /* vendor: firmware TPM 2.0 (integrated hardware) */
    SEA_SE_PKCS11_HSM = 903,    /* vendor: a token of a hardware HSM's PKCS#11 module */
};

/* Split an M2M-SE-ID (sID) into its SE type code and unique part (TS-0016 7.2.1: the type code,
 * then a unique ID). A first character 1..8 is a one-digit code; '9' starts a three-digit vendor
 * code (901..999); the unique part is the rest, 1 or more characters of [0-9A-Za-z._-].
 * *unique (optional) points into se_id. SEA_ERR_ARGS if se_id is not of that form. */
sea_rv sea_se_id_parse(const char *se_id, unsigned *se_type, const char **unique);

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
    const uint8_t *id; /* CKA_ID, optional (links a key pair and its certificate; names a TLS
                        * PSK for sea_psk_find), at most SEA_ID_MAX bytes */
    size_t id_len;
    unsigned usage;     /* SEA_USE_*; 0: what the key type can do */
    int extractable;    /* default 0: the key never leaves the SE, in any form */
    unsigned long suid; /* oneM2M SUID (TS-0004 m2m:suid): 10..99 (else SEA_ERR_ARGS), or 0:
                         * none. Its second digit binds
                         * the key to one security feature: a use that feature does not have
                         * is SEA_ERR_DENIED (doc/usage-constraints.md) */
    /* Validity (CKA_START_DATE, CKA_END_DATE): "YYYYMMDD", UTC, both days included; NULL: no
     * limit. Outside them every use of the key is SEA_ERR_DENIED; a malformed date is
     * SEA_ERR_ARGS. A derived key ends no later than its base key. */
    const char *start_date;
    const char *end_date;
    /* With extractable: the key is not sensitive (CKA_SENSITIVE false), so its value itself may
     * leave the SE in clear — what a TLS stack needs of a pre-shared key (sea_psk_find,
     * doc/tls-psk.md). Default 0: sensitive. SEA_ERR_ARGS without extractable. */
    int clear_export;
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
    size_t id_len;  /* 0 when the id is longer than 64 bytes (a long TLS PSK identity) */
    unsigned usage; /* SEA_USE_* */
    int extractable, sensitive, local, is_private;
    unsigned long suid;
    char uri[512]; /* a PKCS#11 URI naming the object */
    char start_date[9], end_date[9]; /* "YYYYMMDD" (keys), "" when the key has none */
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

/* ---- identity (TS-0016 7.7 <identity>: F18 generation, F19 authentication) ----
 * An identity is a key pair generated inside the SE and named by its idName: the private and
 * the public key both carry idName as CKA_LABEL and as CKA_ID. Its idData is the RFC 6920 raw
 * public key identifier of the public key (TS-0003 10.1.2), its keyData a PKCS#11 URI of the
 * private key: a reference, never the key. Authentication signs the receiver's challenge with
 * the private key; the receiver checks it with the public key (sea_public_key, or the
 * certificate issued for it). */
typedef struct sea_identity_info {
    char id_name[65];  /* idName (idN): 1..64 bytes of UTF-8 without control characters */
    char id_data[64];  /* idData (idDt): "ni:///sha-256;" + base64url(SHA-256(SPKI)), no padding */
    char key_uri[512]; /* keyData (kDt): "pkcs11:...;type=private" */
    sea_key_type type; /* the key type */
    sea_alg alg;       /* what sea_identity_authenticate signs with (see there) */
    sea_obj key, pub;  /* the private and the public key in this sea_se */
} sea_identity_info;

/* Generate an identity: type 0 means SEA_KEY_EC_P256 (the TS-0003 10.1.1.1 profile); P-384,
 * Ed25519 and RSA are accepted too. SEA_ERR_EXISTS if a private key already carries the label.
 * Both halves are labelled id_name and get CKA_ID "sea-identity:" + id_name, the identity marker
 * sea_identity_authenticate requires. */
sea_rv sea_identity_create(sea_se *se, const char *id_name, sea_key_type type,
                           sea_identity_info *out);

/* Look up an existing identity (a private key labelled id_name with its public key). */
sea_rv sea_identity_get(sea_se *se, const char *id_name, sea_identity_info *out);

/* Authenticate the identity to a receiver: out (originatorAuthenticationData, oAD) gets the
 * signature over the challenge (receiverAuthenticationData, rAD) made in the SE with the
 * identity's private key, by the key type's algorithm: ECDSA with SHA-256 (P-256) or SHA-384
 * (P-384), raw r||s as in JWS ES256/ES384; Ed25519 (pure EdDSA); RSASSA-PSS with SHA-256 (RSA,
 * JWS PS256). out == NULL: *out_len gets the size. SEA_ERR_DENIED if the key labelled id_name
 * lacks the marker of sea_identity_create (an ordinary key is never used to answer a challenge). */
sea_rv sea_identity_authenticate(sea_se *se, const char *id_name, const uint8_t *challenge,
                                 size_t challenge_len, uint8_t *out, size_t *out_len);

/* ---- secure connection key material (TS-0016 7.6 <secureConnection>, F16) ----
 * The key-material mode: the SE generates what a (D)TLS 1.2 cipher suite of TS-0003 10.2 needs
 * and the caller's TLS stack uses it through the SE (PKCS#11). The SE-as-endpoint mode
 * (<connectionInstance>, F17: the SE runs the connection itself) has no backend in libsea. */
typedef struct sea_conn_key_info {
    char key_uri[512]; /* keyData (kDt): the PSK, or the private key for ECDHE_ECDSA suites */
    sea_key_type type; /* SEA_KEY_GENERIC_SECRET (256 bits) or SEA_KEY_EC_P256 */
    sea_obj key, pub;  /* pub: the public key (ECDHE_ECDSA), 0 for PSK suites */
} sea_conn_key_info;

/* connection_type (connectionType, cnT): "TLS" (TLS 1.2 over TCP) or "DTLS" (DTLS 1.2 over
 * UDP). cipher_suite (cipherSuite, aCS), its IANA name: TLS_PSK_WITH_AES_128_CBC_SHA256 and
 * TLS_PSK_WITH_AES_128_CCM_8 get a 32-byte generic secret (the PSK: non-extractable, usable to
 * sign/MAC and derive); TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 and
 * TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 get a P-256 key pair for ECDSA signatures (the ECDHE
 * key is ephemeral, made by the TLS stack). label names the key(s), 1..64 bytes; their CKA_ID
 * is "sea-conn:" + label (never a TLS PSK identity of sea_psk_find).
 * SEA_ERR_UNSUPPORTED for another suite, SEA_ERR_ARGS for another connection type. */
sea_rv sea_secure_connection_generate_key(sea_se *se, const char *connection_type,
                                          const char *cipher_suite, const char *label,
                                          sea_conn_key_info *out);

/* ---- oneM2M key derivations inside the SE (TS-0003 10.3) ----
 * The same derivations as the PKCS#11 mechanisms CKM_SEA_ONEM2M_* (sea/pkcs11-sea.h), with the
 * choices of doc/onem2m-derivations.md. The new key never leaves the SE unless `key`->extractable
 * is set (and then only wrapped); it carries the SUID (the derivation's for SEA_KDF_USAGE; from a
 * base key with a SUID, the base key's — `key`->suid may only repeat it, except 5/4 as second
 * digit for the E2E authentication/confidentiality keys from a Ke2e_master of SUID x2; else
 * `key`->suid) and expires no later than the base key. Km, Kpsa and the usage-constrained key
 * refuse a base key with a SUID. The split key is sensitive / not extractable when its base key
 * is (its value is base bytes). A conflicting `key` is SEA_ERR_ARGS. */
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

/* Replace the accessControlPolicyIDs of a data object (space separated; "" or NULL: none, the
 * parent's apply). Changes lastModifiedTime. */
sea_rv sea_data_set_acp(sea_se *se, const char *resource_id, const char *acp_ids);

/* ---- the Mcs reference point: TS-0016 resources as JSON (doc/mcs-json.md) ----
 * A CSE exposes its SEs over Mcs by handing each request on an SE resource to sea_mcs_execute and
 * answering with the body and response status code it gets. Bodies are JSON with the exact
 * TS-0016 short names ({"m2m:sensitiveDataObject": {"ri": ..., "msg": ...}}); binary values are
 * base64, times "YYYYMMDDTHHMMSS" (UTC). */

typedef enum sea_mcs_op {
    SEA_MCS_CREATE = 1,
    SEA_MCS_RETRIEVE = 2,
    SEA_MCS_UPDATE = 3,
    SEA_MCS_DELETE = 4,
} sea_mcs_op; /* TS-0004 operation codes */

/* Access decision the CSE plugs in (it owns the <accessControlPolicy> resources): return 1 to
 * allow. acp_ids: the resource's accessControlPolicyIDs (NULL-terminated; empty = the parent's,
 * always so for CREATE). Called with no libsea lock held. */
typedef int (*sea_acp_check_fn)(void *arg, const char *originator, sea_mcs_op op,
                                const char *resource_type, const char *const *acp_ids);

typedef struct sea_mcs_request {
    sea_mcs_op op;
    const char *resource_type; /* long name without "m2m:" ("SE", "sensitiveDataObject", ...) */
    const char *resource_id;   /* the resourceID (ri) of the target of RETRIEVE/UPDATE/DELETE;
                                * NULL for CREATE and for "SE" (the open SE itself) */
    const char *originator;    /* the requester's AE-ID/CSE-ID (required) */
    const char *content;       /* JSON body ({"m2m:<type>": {...}}), NULL for RETRIEVE/DELETE */
    size_t content_len;        /* at most 1 MiB */
    /* The CSE's access decision. NULL: only the creator may touch a sensitiveDataObject it
     * created, and every function resource request (cipher, encrypt, decrypt, signature, hash,
     * rand, identity, authenticate, secureConnection, connectionInstance) is ALLOWED to any
     * originator: the SE login is then the only gate. With a callback, it is asked for every
     * function request (empty acp_ids: the parent's policy) before any key is used; give one. */
    sea_acp_check_fn acp_check;
    void *acp_arg;
} sea_mcs_request;

/* Execute one Mcs request on an open SE (logged in as the user for sensitive data objects).
 * *response gets a malloc'd JSON body or NULL: the resource on success, {"m2m:dbg": "why"} on
 * failure. A body holding sensitive data (RETRIEVE of a sensitiveDataObject) is the caller's to
 * wipe before sea_free. *rsc gets the TS-0004 response status code: 2001 CREATED, 2000 OK,
 * 2004 UPDATED, 2002 DELETED; 4000 BAD_REQUEST (malformed JSON, wrong types, unknown or
 * read-only attributes, unknown resource type), 4004 NOT_FOUND, 4005 OPERATION_NOT_ALLOWED,
 * 4103 ORIGINATOR_HAS_NO_PRIVILEGE, 4105 CONFLICT, 5001 NOT_IMPLEMENTED, others as
 * sea_rv_onem2m. Returns SEA_OK or the failure's status (also in sea_last_error). */
sea_rv sea_mcs_execute(sea_se *se, const sea_mcs_request *req, char **response, int *rsc);

/* The <SE> resource of one SE (by name or M2M-SE-ID) as JSON:
 * {"m2m:SE": {"rn", "ct", "sID", "seT", "seL", "srt": [...], "hcl"?, "hal"?: [...]}}.
 * hosted_cse_link (hcl) and hosted_ae_links (hal, NULL-terminated) are the CSE's to give; NULL or
 * empty leaves them out. srt lists the resource types the SE's device supports. *json is
 * malloc'd (sea_free). */
sea_rv sea_se_resource_json(sea_ctx *ctx, const char *name_or_id, const char *hosted_cse_link,
                            const char *const *hosted_ae_links, char **json);

/* An <SE> resource read back (from libsea or another implementation). Strings are malloc'd;
 * absent optional attributes are NULL / 0 entries. */
typedef struct sea_se_resource {
    char *ri;                /* resourceID, if present */
    char *rn;                /* resourceName, if present */
    char *ct;                /* creationTime, if present */
    char *se_id;             /* m2mSeID (sID), mandatory */
    unsigned se_type;        /* SEType (seT), mandatory; matches the code in se_id */
    unsigned security_level; /* securityLevel (seL), mandatory, 0..3 */
    char **srt;              /* supportedResourceType, nsrt entries */
    size_t nsrt;
    char *hcl;  /* hostedCSELink */
    char **hal; /* hostedAELinks, nhal entries */
    size_t nhal;
    char *esi; /* e2eSecInfo as JSON text, kept verbatim */
} sea_se_resource;

/* Parse {"m2m:SE": {...}}. Unknown short names, wrong types, a missing sID/seT/seL, seL > 3 or an
 * sID whose type code differs from seT: SEA_ERR_ARGS with a message naming the attribute.
 * Common TS-0004 attributes (ri rn ct ty pi lt et acpi lbl) are accepted. Clear *out with
 * sea_se_resource_clear even after a failure. */
sea_rv sea_se_resource_parse(const char *json, size_t len, sea_se_resource *out);
void sea_se_resource_clear(sea_se_resource *r);
/* ---- oneM2M identifiers (TS-0003 10.1.2, 10.3.4, 10.3.5, 10.4, 10.5, 10.6) ----
 * Validators, canonical forms and builders of the identifiers a CSE gives its SE and its TLS
 * stack. They are ASCII (the specification's character sets): an identifier has 1..SEA_ID_MAX
 * bytes; a NUL inside the given length, a byte above 0x7e, a control character or a space is
 * SEA_ERR_ARGS. Every SEA_ERR_ARGS leaves a message (sea_last_error) naming the identifier, what
 * is wrong and the byte offset. The rules and their reasons: doc/onem2m-identifiers.md.
 *   FQDN parts: labels of 1..63 letters, digits and '-' (no '-' first or last), separated by
 *   single dots, 253 bytes at most, no trailing dot, last label not all digits (an IPv4 address
 *   is no FQDN); case-insensitive.
 *   Relative parts (KpsaID, KmID): 1 or more letters, digits, '.', '_', '-'.
 * The canonical form lower-cases what the specification makes case-insensitive: the FQDN, the
 * whole of a KmID, hexBinary digits, an ni URI's scheme and algorithm. Two identifiers of one kind
 * are the same identifier exactly when their canonical forms are equal (sea_id_compare). The
 * builders write canonical forms: store one as a key's CKA_ID (sea_key_params.id) and
 * sea_psk_find finds the key whatever case the peer uses.
 * Output strings: *out_len is the size of out on entry; on SEA_OK and on SEA_ERR_BUFFER_TOO_SMALL
 * it is set to the size needed, terminating NUL included; out == NULL asks for that size. */

#define SEA_ID_MAX 1024 /* bytes of an identifier (without a terminating NUL) */

typedef enum sea_id_kind {
    SEA_ID_FQDN = 1,       /* a bare FQDN (MEF-FQDN, MAF-FQDN, Issuer-FQDN) */
    SEA_ID_KPSA = 2,       /* KpsaID: Issuer_Relative_KpsaID@Issuer-FQDN (10.5) */
    SEA_ID_KM = 3,         /* KmID: MAF_RELATIVE_KmID@MAF-FQDN, case-insensitive (10.6) */
    SEA_ID_KE = 4,         /* KeID: hexBinary(RelativeKeID)@MEF-FQDN (10.3.4) */
    SEA_ID_MAF_KEY = 5,    /* MAF Key Identifier: hexBinary(KcID)@MAF-FQDN (10.3.5) */
    SEA_ID_CREDENTIAL = 6, /* Credential-ID: <credIDTypeID>-<value> (10.4, 12.3.2.1) */
    SEA_ID_NI = 7,         /* raw public key identifier: RFC 6920 ni URI (10.1.2) */
} sea_id_kind;

/* SEA_OK if s (len bytes) is a well-formed identifier of the kind, else SEA_ERR_ARGS. */
sea_rv sea_id_valid(sea_id_kind kind, const char *s, size_t len);
/* The canonical form of an identifier of the kind (SEA_ERR_ARGS if it is malformed). */
sea_rv sea_id_canonical(sea_id_kind kind, const char *in, size_t in_len, char *out,
                        size_t *out_len);
/* *equal = 1 if a and b (NUL-terminated) are the same identifier of the kind, else 0.
 * SEA_ERR_ARGS if either is malformed (*equal is then 0). */
sea_rv sea_id_compare(sea_id_kind kind, const char *a, const char *b, int *equal);

/* KpsaID from its relative part (case kept) and the issuer's FQDN (lower-cased). */
sea_rv sea_id_kpsa(const char *relative, const char *issuer_fqdn, char *out, size_t *out_len);
/* KmID from its relative part and the MAF's FQDN, all lower-cased (the KmID is case-insensitive).
 */
sea_rv sea_id_km(const char *relative, const char *maf_fqdn, char *out, size_t *out_len);
/* KeID = hexBinary(RelativeKeID)@MEF-FQDN and MAF Key Identifier = hexBinary(KcID)@MAF-FQDN, in
 * lower-case hex (digest G-16), from the raw identifier: 1..64 bytes, 16 from the TLS exporter
 * split (sea_derive_onem2m SEA_KDF_EXPORTER_SPLIT id_out). The validators take either case. */
sea_rv sea_id_ke(const uint8_t *relative_ke_id, size_t id_len, const char *mef_fqdn, char *out,
                 size_t *out_len);
sea_rv sea_id_maf_key(const uint8_t *kc_id, size_t id_len, const char *maf_fqdn, char *out,
                      size_t *out_len);

/* Credential-ID types (TS-0003 12.3.2.1 sec:credIDTypeID): 10 KpmID (MEF), 11 KmID (MAF), 12 SAEF
 * key (KpsaID or MAF key identifier), 13 ESPrim key, 14..16 ESData symmetric keys; 30..34 TLS
 * raw public key / device / CSE-ID / AE-ID / Node-ID certificate; 41..45 and 51..55 the same
 * five for ESData key management and ESData signatures. */
enum {
    SEA_CRED_KPM = 10,
    SEA_CRED_KM = 11,
    SEA_CRED_SAEF = 12,
    SEA_CRED_ESPRIM = 13,
    SEA_CRED_TLS_RAW_KEY = 30,
};
/* Credential-ID "<type>-<value>": type one of 10..16, 30..34, 41..45, 51..55; value 1 or more
 * letters, digits, '.', '_', '-', '@' — for the raw public key types (30, 41, 51) an ni URI
 * (SEA_ID_NI). The value is written in its canonical form (see doc/onem2m-identifiers.md). */
sea_rv sea_id_credential(unsigned type, const char *value, char *out, size_t *out_len);
/* Split a Credential-ID: *type and the value (canonical form). value may be NULL (only the
 * type and validity are wanted; value_len is then ignored). */
sea_rv sea_id_credential_parse(const char *cred, size_t len, unsigned *type, char *value,
                               size_t *value_len);

/* RFC 6920 hash suites allowed for the raw public key identifier (TS-0003 10.1.2); the values
 * are RFC 6920's suite IDs. sha-256 is recommended (the longer, the fewer collisions). */
typedef enum sea_ni_alg {
    SEA_NI_SHA256 = 1,     /* ni:///sha-256;  43 base64url characters */
    SEA_NI_SHA256_128 = 2, /* ni:///sha-256-128; the first 16 bytes, 22 characters */
    SEA_NI_SHA256_120 = 3, /* ni:///sha-256-120; the first 15 bytes, 20 characters */
} sea_ni_alg;

/* The ni URI (no authority, no query; base64url without padding) of a DER SubjectPublicKeyInfo
 * (the bytes are hashed as given; their outer DER structure is checked). */
sea_rv sea_id_ni(const uint8_t *spki_der, size_t der_len, sea_ni_alg alg, char *out,
                 size_t *out_len);
/* The same for a key of an SE (a public key, or a private key whose public half it holds). */
sea_rv sea_id_ni_key(sea_se *se, sea_obj key, sea_ni_alg alg, char *out, size_t *out_len);
/* Parse an ni URI: *alg and the (truncated) digest; digest may be NULL; *digest_len in/out like
 * other outputs (32, 16 or 15 bytes). */
sea_rv sea_id_ni_parse(const char *ni, size_t len, sea_ni_alg *alg, uint8_t *digest,
                       size_t *digest_len);

/* ---- TLS-PSK for the security association frameworks (TS-0003 8.2.2.1, 8.2.2.3, 8.8.2.2,
 * 8.3.5.2.2) ----
 * A TLS stack's PSK callback asks the SE for the key a psk_identity names. The key is a generic
 * secret of the SE whose CKA_ID is the identity's canonical form (sea_id_canonical; the sea_id_*
 * builders write it): store Kpsa with id = its KpsaID, Kc with id = hexBinary(KcID)@MAF-FQDN, Km
 * with its KmID, Kpm with its KpmID. Its value is released only if the key's template lets it
 * leave the SE in clear — extractable and not sensitive (sea_key_params .extractable and
 * .clear_export; PKCS#11: CKA_EXTRACTABLE true, CKA_SENSITIVE false) — and its SUID and validity
 * dates allow the use: SUID x2 (SAEF) for KPSA and KC, x1 (MAF) for KM, x0 (MEF) for KPM, or no
 * SUID; not expired. Why the PSK has to leave the SE at all: doc/tls-psk.md. */
typedef enum sea_psk_kind {
    SEA_PSK_KPSA = 1, /* PSK-SAEF (8.2.2.1): psk_identity = KpsaID, psk = Kpsa */
    SEA_PSK_KC = 2,   /* MAF-SAEF (8.2.2.3): psk_identity = hexBinary(KcID)@MAF-FQDN, psk = Kc */
    SEA_PSK_KM = 3,   /* MAF handshake (8.8.2.2): psk_identity = KmID, psk = Km */
    SEA_PSK_KPM = 4,  /* MEF handshake (8.3.5.2.2): psk_identity = KpmID (format unspecified:
                       * matched byte for byte, 1..SEA_ID_MAX bytes without NUL), psk = Kpm */
} sea_psk_kind;

/* Find the key of psk_identity (identity_len bytes) and copy its value to psk; *psk_len is the
 * size of psk on entry and the PSK's length on return (psk == NULL or too small: the size
 * needed, with SEA_ERR_BUFFER_TOO_SMALL for the latter). Needs the user logged in.
 * SEA_ERR_ARGS: a malformed identity for the kind; SEA_ERR_NOT_FOUND: no such key;
 * SEA_ERR_EXISTS: several; SEA_ERR_DENIED: the key may not leave the SE, is not a generic secret,
 * serves another security feature or is expired (the message says which). The caller wipes its
 * copy (OPENSSL_cleanse) as soon as the TLS stack has it. */
sea_rv sea_psk_find(sea_se *se, sea_psk_kind kind, const char *psk_identity, size_t identity_len,
                    uint8_t *psk, size_t *psk_len);
/* ---- identity: CSRs and certificates (TS-0003 10.1.1, 10.1.4; doc/identity-csr.md) ---- */

/* Which oneM2M identifier a CSR's subjectAltName carries, and in which GeneralName form. */
typedef enum sea_san_kind {
    SEA_SAN_AE_ID = 1,   /* uniformResourceIdentifier: the full URI representation of the
                          * Absolute-AE-ID, "https:" + "//SP-FQDN/CSE-ID/C..." or
                          * "//SP-FQDN/S..." (or the caller's own "scheme://...") */
    SEA_SAN_CSE_ID = 2,  /* dNSName: the CSE's public domain name (TS-0001 6.5.1.1), e.g.
                          * "mn-cse1.in-cse.m2m.example.com" */
    SEA_SAN_NODE_ID = 3, /* uniformResourceIdentifier: the M2M-Node-ID as a URN
                          * ("urn:gsma:imei:..."); a dotted OID becomes "urn:oid:..." */
} sea_san_kind;

typedef struct sea_csr_params {
    sea_san_kind san_kind;
    const char *san_value;  /* the identifier, at most 512 bytes, checked per kind */
    const char *subject_cn; /* the subject's commonName (1..64 bytes of UTF-8); NULL: the
                             * identifier as given (refused if it is longer than 64 bytes) */
} sea_csr_params;

/* The subjectAltName entry a CSR carries for an identifier, in OpenSSL's text form
 * ("URI:https://m2m.example.com/CSE1/Cae1", "DNS:cse1.in.example.com"), NUL-terminated in
 * out[*out_len]; *out_len gets the size with the NUL (strlen + 1), as for sea_id_canonical;
 * out == NULL: only that size. SEA_ERR_ARGS (with the reason) for an identifier that is
 * malformed for its kind; SEA_ERR_BUFFER_TOO_SMALL with the size needed. */
sea_rv sea_san_name(sea_san_kind kind, const char *value, char *out, size_t *out_len);

/* A PKCS#10 CSR (DER) for an EC key pair of the SE, signed inside the SE by `key` (the private
 * key, SEA_USE_SIGN): subject CN, the key's SubjectPublicKeyInfo, and an extensionRequest with
 * the subjectAltName above and keyUsage digitalSignature (critical). P-256 keys sign with
 * ecdsa-with-SHA256 (TS-0003 10.1.1.1); P-384 keys with ecdsa-with-SHA384; other keys are
 * SEA_ERR_UNSUPPORTED. der == NULL: *der_len gets the largest size the CSR can have (ECDSA
 * signatures vary in length); a buffer smaller than that is SEA_ERR_BUFFER_TOO_SMALL with
 * *der_len set, before anything is signed. On success *der_len is the CSR's length. */
sea_rv sea_csr_create(sea_se *se, sea_obj key, const sea_csr_params *p, uint8_t *der,
                      size_t *der_len);

/* Store an X.509 certificate (PEM or DER, at most 64 KiB) next to its key: a public token
 * certificate object (CKO_CERTIFICATE, CKC_X_509) with the value, subject, issuer, serial
 * number and validity dates, labelled `label` (NULL: the key's label), whose CKA_ID is the
 * key's. `key` is either half of the key pair. A key pair without a CKA_ID first gets the
 * SHA-1 of its public point as CKA_ID on both halves (what OpenSC and NSS use). A certificate
 * whose public key is not the key's is SEA_ERR_DATA_INVALID and nothing is written;
 * SEA_ERR_EXISTS if the same certificate is already in the SE. *cert may be NULL. */
sea_rv sea_cert_import(sea_se *se, sea_obj key, const uint8_t *pem_or_der, size_t len,
                       const char *label, sea_obj *cert);

/* Free a list returned by libsea. */
void sea_free(void *p);

#ifdef __cplusplus
}
#endif

#endif

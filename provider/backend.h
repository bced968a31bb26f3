/* The backend interface (TS-0003 6.3.2 "SE plug-in"): one ops table per kind of device.
 * The core owns PKCS#11 semantics — templates, attribute rules, sessions, login state, find
 * visibility, multi-part framing, error mapping. A backend only does what its device must do:
 * keep SEs and objects, verify PINs, hold key material and run the primitive operations.
 * Each backend exports exactly one `const struct sea_backend_ops` and is registered in core.c. */
#ifndef SEA_BACKEND_H
#define SEA_BACKEND_H

#include "attrs.h"
#include "common.h"

struct config_section; /* config.h */

/* ---- what a device can do ---- */

enum {
    DEVCAP_CREATE_SE = 1u << 0,  /* C_InitToken on a free slot creates an SE */
    DEVCAP_DELETE_SE = 1u << 1,  /* SEs can be deleted */
    DEVCAP_STORE_DATA = 1u << 2, /* CKO_DATA objects (sensitive data objects) */
    DEVCAP_ATTEST = 1u << 3,     /* attestation statements */
    DEVCAP_RNG = 1u << 4,        /* random numbers from the device */
    DEVCAP_SESSION_OBJ = 1u << 5 /* session (non-token) objects */
};

/* One mechanism the device implements itself. The core adds what it can compose on top (for
 * example CKM_ECDSA_SHA256 from CKM_ECDSA plus a host-side digest). */
struct bmech {
    CK_MECHANISM_TYPE type;
    CK_ULONG min_key, max_key; /* as CK_MECHANISM_INFO: bytes for AES/HMAC, bits for EC/RSA */
    CK_FLAGS flags;            /* CKF_SIGN, CKF_ENCRYPT, CKF_GENERATE_KEY_PAIR, CKF_EC_* ... */
};

struct dev_caps {
    unsigned flags;            /* DEVCAP_* */
    unsigned max_se;           /* how many SEs the device can hold (0: fixed set) */
    unsigned se_type;          /* TS-0016 SE type code of SEs on this device */
    unsigned max_level;        /* highest security level this device can honestly claim */
    const struct bmech *mechs; /* implemented mechanisms */
    size_t nmechs;
    const char *manufacturer;  /* CK_TOKEN_INFO.manufacturerID */
    const char *model;         /* CK_TOKEN_INFO.model */
    CK_ULONG min_pin, max_pin; /* PIN length limits */
};

/* SE type codes (dev_caps.se_type) and the highest TS-0003 protection level (Table 6.3.1-1,
 * annex C; SEA-R49) a device of each type may claim in dev_caps.max_level. TS-0016 7.2.1 defines
 * 1..4 and leaves the rest RFU; 901..903 are libsea's vendor codes for the devices the spec has
 * no code for. The core refuses a device that claims more than its type allows
 * (se_type_max_level). Reasoning: doc/mcs-json.md "SE types and security levels". */
#define SE_TYPE_UICC          1   /* independent hardware: UICC (ETSI) */
#define SE_TYPE_GP_SE         2   /* independent hardware: GlobalPlatform secure element */
#define SE_TYPE_GP_TEE        3   /* integrated hardware: GlobalPlatform TEE */
#define SE_TYPE_SOFTWARE      4   /* software: security library (also TPM/HSM simulators) */
#define SE_TYPE_TPM2_DISCRETE 901 /* vendor: a TPM 2.0 chip (independent hardware) */
#define SE_TYPE_TPM2_FIRMWARE 902 /* vendor: a firmware TPM 2.0 (integrated: TEE, CSME, PSP) */
#define SE_TYPE_PKCS11_HSM    903 /* vendor: a token of an HSM's PKCS#11 module */

#define SE_LEVEL_MAX_UICC          3
#define SE_LEVEL_MAX_GP_SE         3
#define SE_LEVEL_MAX_GP_TEE        2
#define SE_LEVEL_MAX_SOFTWARE      1
#define SE_LEVEL_MAX_TPM2_DISCRETE 3 /* claimed only for a certified chip, see the doc */
#define SE_LEVEL_MAX_TPM2_FIRMWARE 2
#define SE_LEVEL_MAX_PKCS11_HSM    3 /* claimed only when sea.conf vouches for the HSM, else 1 */

/* The highest level a device of SE type `se_type` may claim; -1 for a type libsea does not
 * know (the device is then refused). core.c. */
int se_type_max_level(unsigned se_type);

/* ---- SEs ---- */

enum se_lifecycle { SE_PERSONALIZATION = 0, SE_OPERATIONAL = 1, SE_BLOCKED = 2 };

/* PIN state flags in se_desc.pin_flags. */
enum {
    PINF_USER_INIT = 1u << 0,
    PINF_USER_COUNT_LOW = 1u << 1,
    PINF_USER_FINAL_TRY = 1u << 2,
    PINF_USER_LOCKED = 1u << 3,
    PINF_SO_COUNT_LOW = 1u << 4,
    PINF_SO_FINAL_TRY = 1u << 5,
    PINF_SO_LOCKED = 1u << 6,
};

#define SE_NAME_MAX 32 /* CK_TOKEN_INFO.label */
#define SE_ID_MAX   16 /* CK_TOKEN_INFO.serialNumber */

/* The descriptor of one SE as its device keeps it. `seq` is the device-local number that never
 * changes and is never reused; slot ids are derived from it. */
struct se_desc {
    uint32_t seq;
    char name[SE_NAME_MAX + 1];
    char se_id[SE_ID_MAX + 1]; /* M2M-SE-ID: type code digit + unique part */
    unsigned se_type;          /* TS-0016 7.2.1 code */
    unsigned level;            /* TS-0003 protection level 0..3 */
    unsigned lifecycle;        /* enum se_lifecycle */
    unsigned pin_flags;        /* PINF_* */
    unsigned max_retries;
    unsigned user_retries_left, so_retries_left;
    int64_t created;
    /* Changes whenever the SE is re-initialised (its objects and key replaced), never on PIN
     * changes: the core drops this process's login on the SE when it sees a new epoch. */
    uint32_t epoch;
};

struct se_create_params {
    const char *name;  /* label, at most SE_NAME_MAX bytes */
    const char *se_id; /* M2M-SE-ID, chosen by the core */
    unsigned level;
    unsigned max_retries;
    const uint8_t *so_pin;
    size_t so_pin_len;
};

/* ---- objects ---- */

/* Object handles are chosen by the backend; they must be unique within the device, must fit
 * in 32 bits (CK_ULONG is 32-bit on some gateways) and must never be reused for another object
 * while the device is open. The core never interprets them. */

enum {
    OBJ_SESSION = 1u << 0,      /* a session object: in memory, gone at close */
    OBJ_UNIQUE_LABEL = 1u << 1, /* refuse a second object of the same class and label */
};

/* ---- operations ---- */

enum sea_op { OP_ENCRYPT = 0, OP_DECRYPT, OP_SIGN, OP_VERIFY, OP_DIGEST, OP__COUNT };

/* Phases for output sizing. */
enum { PHASE_SINGLE = 0, PHASE_UPDATE, PHASE_FINAL };

struct bdev; /* a backend's device instance, opaque to the core */
struct bop;  /* a backend's running operation, opaque to the core */

struct sea_backend_ops {
    const char *name; /* "soft", "mock", later "tpm2", "pkcs11", "pcsc" */

    /* Open the device described by a config section (keys: backend, path, ...). `name` is the
     * section's device name. On failure return a CK_RV and record why with err_set; the core
     * then shows the device as a slot without a token. */
    CK_RV (*dev_open)(const char *name, const struct config_section *cfg, struct bdev **out);
    void (*dev_close)(struct bdev *dev);
    /* Forget this device: called in a forked child for a context inherited from the parent.
     * Wipe secrets; change nothing the parent still uses. A handle shared with the parent is
     * closed only where that leaves the parent's side intact (the soft backend closes its
     * SQLite connections, which fork could not copy mid-transaction); else it is left open. */
    void (*dev_abandon)(struct bdev *dev);
    void (*dev_caps)(struct bdev *dev, struct dev_caps *caps);

    /* The SEs of the device, freshly read if another process changed them (cheap otherwise).
     * *out is malloc'd by the backend, freed by the caller with free(). *next_seq is the seq
     * the next created SE will get (the core offers it as the free slot). */
    CK_RV (*se_list)(struct bdev *dev, struct se_desc **out, size_t *n, uint32_t *next_seq);
    /* Create an SE at exactly seq `expect_seq`; CKR_SLOT_ID_INVALID if another process took it
     * meanwhile, CKR_DEVICE_MEMORY if the device is full. */
    CK_RV (*se_create)
    (struct bdev *dev, uint32_t expect_seq, const struct se_create_params *p, struct se_desc *out);
    /* Re-initialise an existing SE (C_InitToken on its slot): verify the SO PIN (counting
     * failures), destroy its objects, forget the user PIN, set the new name. */
    CK_RV (*se_reinit)
    (struct bdev *dev, uint32_t seq, const uint8_t *so_pin, size_t len, const char *name);
    CK_RV (*se_delete)(struct bdev *dev, uint32_t seq, const uint8_t *so_pin, size_t len);

    /* PINs. login verifies the PIN of `user` (CKU_SO or CKU_USER), counting failures
     * persistently *before* the check so that killing the process cannot win extra tries, and
     * unlocks the SE's secrets for this process. Returns CKR_PIN_INCORRECT, CKR_PIN_LOCKED,
     * CKR_USER_PIN_NOT_INITIALIZED. It may be called again while logged in (the core does so
     * for CKU_CONTEXT_SPECIFIC): it then verifies the PIN again, counting failures.
     * logout wipes what login unlocked and destroys the SE's private session objects (PKCS#11:
     * they end with the login). */
    CK_RV (*login)
    (struct bdev *dev, uint32_t seq, CK_USER_TYPE user, const uint8_t *pin, size_t len);
    void (*logout)(struct bdev *dev, uint32_t seq);
    CK_RV (*init_pin)(struct bdev *dev, uint32_t seq, const uint8_t *pin, size_t len);
    CK_RV (*set_pin)
    (struct bdev *dev, uint32_t seq, CK_USER_TYPE user, const uint8_t *old_pin, size_t old_len,
     const uint8_t *new_pin, size_t new_len);

    /* Private objects (CKA_PRIVATE true) are the user's: obj_attrs, obj_secret, obj_update,
     * obj_destroy and op_init refuse them with CKR_USER_NOT_LOGGED_IN and obj_find leaves them
     * out unless the user (not the SO) is logged in to the SE in this process *as the backend
     * sees it*. The core checks the same, but only the backend learns at once that another
     * process re-initialised the SE; the core then resynchronises its login state.
     *
     * Objects. `a` is complete and validated by the core (schema.c), secret attributes
     * included; the backend decides how to protect them (schema_is_secret says which).
     * OBJ_UNIQUE_LABEL: fail with CKR_SEA_EXISTS and leave nothing behind if an object of the
     * same class and label already exists in the SE (atomic across processes). */
    CK_RV (*obj_create)
    (struct bdev *dev, uint32_t seq, const struct attrs *a, unsigned flags, CK_OBJECT_HANDLE *out);
    CK_RV (*obj_destroy)(struct bdev *dev, uint32_t seq, CK_OBJECT_HANDLE h);
    /* The object's non-secret attributes as a shared snapshot (attrs_unref when done).
     * CKR_OBJECT_HANDLE_INVALID if the handle is unknown or belongs to another SE. */
    CK_RV (*obj_attrs)(struct bdev *dev, uint32_t seq, CK_OBJECT_HANDLE h, struct attrs **out);
    /* One secret attribute's value, for the core to reveal (it has decided the caller may
     * read it) or to copy the object within the SE. Requires the user to be logged in for
     * private objects; CKR_ATTRIBUTE_TYPE_INVALID if the object has no such attribute. */
    CK_RV (*obj_secret)
    (struct bdev *dev, uint32_t seq, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE t, struct attrs **out);
    /* Replace attribute values (validated by the core; may include secret ones, e.g. the
     * value of a data object). Atomic: all or nothing. */
    CK_RV (*obj_update)
    (struct bdev *dev, uint32_t seq, CK_OBJECT_HANDLE h, const struct attrs *changes);
    /* Every object of the SE (token and session) matching the template exactly (attrs_match
     * on non-secret attributes), private ones only if with_private. *out malloc'd. */
    CK_RV (*obj_find)
    (struct bdev *dev, uint32_t seq, const CK_ATTRIBUTE *tmpl, CK_ULONG n, bool with_private,
     CK_OBJECT_HANDLE **out, size_t *count);

    /* Generate. For a key pair both pub and priv are given; for a secret key only priv. The
     * templates are complete and validated; the backend adds the value attributes
     * (CKA_EC_POINT, CKA_VALUE ...) and stores the objects with `flags` (OBJ_SESSION) each. */
    CK_RV (*generate)
    (struct bdev *dev, uint32_t seq, const CK_MECHANISM *m, struct attrs *pub, unsigned pub_flags,
     struct attrs *priv, unsigned priv_flags, CK_OBJECT_HANDLE *hpub, CK_OBJECT_HANDLE *hpriv);

    /* Operations on key h. The core has checked the key's purpose, type and the mechanism
     * against the device's mechanisms. op_outlen gives the exact or upper-bound output size of
     * a phase for inlen input bytes; the core calls op_update/op_final only with room enough.
     * For OP_VERIFY, op_final's `in` is the signature and it returns CKR_SIGNATURE_INVALID or
     * CKR_SIGNATURE_LEN_RANGE. `checked` is the attribute snapshot obj_attrs gave the core for
     * this key during the same call (or NULL): a backend may take it as proof that its view of
     * the object was current a moment ago and skip a second freshness check of its store. */
    CK_RV (*op_init)
    (struct bdev *dev, uint32_t seq, CK_OBJECT_HANDLE h, enum sea_op op, const CK_MECHANISM *m,
     const struct attrs *checked, struct bop **out);
    size_t (*op_outlen)(struct bop *op, int phase, size_t inlen);
    CK_RV (*op_update)
    (struct bop *op, const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen);
    CK_RV (*op_final)
    (struct bop *op, const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen);
    void (*op_free)(struct bop *op);

    /* Random bytes from the device (DEVCAP_RNG). */
    CK_RV (*random)(struct bdev *dev, uint8_t *out, size_t len);

    /* Wrapping and derivation: optional (NULL: the core answers CKR_FUNCTION_NOT_SUPPORTED for
     * C_WrapKey, C_UnwrapKey or C_DeriveKey on this device). Key material never reaches the
     * core: the backend reads the keys, runs the mechanism and stores the result itself. The
     * core has already checked the session (RO/RW), the login, every key's handle, class, type,
     * purpose (CKA_WRAP, CKA_UNWRAP, CKA_DERIVE), CKA_EXTRACTABLE, CKA_WRAP_WITH_TRUSTED against
     * CKA_TRUSTED, CKA_WRAP_TEMPLATE, CKA_ALLOWED_MECHANISMS and size, and the mechanism
     * against the device's rows (CKF_WRAP, CKF_UNWRAP, CKF_DERIVE); a backend checks only what
     * the device itself must. Private keys and the user login are as for op_init.
     *
     * wrap: encrypt the wrapped form of key hk (a secret key's CKA_VALUE, a private key's
     * PKCS#8 PrivateKeyInfo DER: crypto_wrap_format) in one part with mechanism m under key hw.
     * out == NULL: *outlen = the size (exact or an upper bound). *outlen too small:
     * CKR_BUFFER_TOO_SMALL with *outlen the size, nothing written. Else the wrapped key and its
     * length. CKR_WRAPPING_KEY_TYPE_INCONSISTENT, CKR_WRAPPING_KEY_SIZE_RANGE,
     * CKR_KEY_NOT_WRAPPABLE, CKR_MECHANISM_PARAM_INVALID. */
    CK_RV (*wrap)
    (struct bdev *dev, uint32_t seq, CK_OBJECT_HANDLE hw, const CK_MECHANISM *m,
     CK_OBJECT_HANDLE hk, uint8_t *out, size_t *outlen);
    /* unwrap: decrypt `in` in one part with mechanism m under key hu and store the key it holds
     * as a new object. `tmpl` is complete (class, key type, defaults, unwrap template merged,
     * LOCAL, ALWAYS_SENSITIVE and NEVER_EXTRACTABLE false) but for the value attributes, which
     * the backend adds (crypto_unwrap_format) before storing with `flags` as obj_create does.
     * CKR_WRAPPED_KEY_INVALID (does not decrypt or authenticate; not a key of the template's
     * type), CKR_WRAPPED_KEY_LEN_RANGE, CKR_TEMPLATE_INCONSISTENT (the key contradicts the
     * template), CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT, CKR_UNWRAPPING_KEY_SIZE_RANGE. */
    CK_RV (*unwrap)
    (struct bdev *dev, uint32_t seq, CK_OBJECT_HANDLE hu, const CK_MECHANISM *m,
     const uint8_t *in, size_t inlen, struct attrs *tmpl, unsigned flags, CK_OBJECT_HANDLE *out);
    /* derive: derive `len` bytes (0: the mechanism's own length) from base key hb with
     * mechanism m (parameters as the caller gave them; a salt key they name, CK_HKDF_PARAMS
     * hSaltKey, was checked by the core to be a secret key of the SE the session may use) into
     * tmpl, complete but for the value (a secret key, or for CKM_HKDF_DATA a data object, whose
     * template carries no CKA_VALUE_LEN), and store it with `flags`: crypto_derive.
     * CKR_MECHANISM_PARAM_INVALID, CKR_TEMPLATE_INCOMPLETE, CKR_TEMPLATE_INCONSISTENT. */
    CK_RV (*derive)
    (struct bdev *dev, uint32_t seq, CK_OBJECT_HANDLE hb, const CK_MECHANISM *m, size_t len,
     struct attrs *tmpl, unsigned flags, CK_OBJECT_HANDLE *out);

    /* Restarting an operation: optional (NULL: the core always calls obj_attrs + op_init), both
     * or neither. For a caller that starts operation after operation on the same key, without
     * writing memory the device shares between callers (locks, caches, reference counts).
     * state_tag: a non-zero value that stays the same only while every answer obj_attrs and
     * op_init gave for key h of SE seq still holds: it must change with any change of the
     * object (attributes, destruction), of the store by any process (re-initialisation,
     * deletion of the SE), and with any login or logout; 0 when the device cannot vouch for
     * that now. It must write no shared memory.
     * op_restart: start `op` again, an operation of this caller that has ended (or is
     * abandoned), as op_init would with mechanism m (the same mechanism type, key and kind as
     * op was started with), reusing its key material and contexts. The core calls it only
     * when state_tag is still the value it read before the obj_attrs and op_init that made op,
     * after checking the attributes obj_attrs gave then again (login, purpose, mechanism). On
     * failure op may only be freed. */
    uint64_t (*state_tag)(struct bdev *dev, uint32_t seq, CK_OBJECT_HANDLE h);
    CK_RV (*op_restart)(struct bop *op, const CK_MECHANISM *m);
};

/* The registered backends (core.c). */
const struct sea_backend_ops *backend_find(const char *name);

/* Test hook: make a backend known to backend_find (the mock backend of the unit tests). */
void backend_register_extra(const struct sea_backend_ops *ops);

#endif

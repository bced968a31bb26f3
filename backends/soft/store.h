/* The software backend's SQLite store: one database per device holding the SE profiles (with
 * their wrapped SE keys and PIN retry counters) and the objects (non-secret attributes in
 * indexed columns and an encoded blob, secret ones sealed). Private to backends/soft. A struct
 * store is one connection: the backend opens two per device (reads and writes). */
#ifndef SEA_SOFT_STORE_H
#define SEA_SOFT_STORE_H

#include "common.h"
#include "crypto.h"

#define STORE_SEK_LEN        32                              /* the per-SE key (AES-256) */
#define STORE_SALT_LEN       16                              /* PBKDF2 salt per PIN */
#define STORE_WRAP_LEN       (STORE_SEK_LEN + SEAL_OVERHEAD) /* the SEK sealed under a PIN's KEK */
#define STORE_MAC_LEN        32                              /* HMAC-SHA256 binding an object row */
#define STORE_SCHEMA_VERSION 1

/* What an SE row may hold; anything else is damage. */
#define STORE_SE_TYPE     4   /* TS-0016: software library */
#define STORE_MAX_LEVEL   1   /* a software SE cannot honestly claim more */
#define STORE_MAX_RETRIES 100 /* PIN tries before lockout, as [sea] pin_retries allows */

enum store_role { ROLE_SO = 0, ROLE_USER = 1 };

/* One PIN of an SE: what derives its KEK, the SEK sealed under it, its failure counter. */
struct pin_rec {
    bool set; /* false: no PIN of this role (user before init_pin) */
    uint8_t salt[STORE_SALT_LEN];
    unsigned iter;
    uint8_t wrap[STORE_WRAP_LEN];
    unsigned fail;
};

struct se_row {
    uint32_t seq;
    char name[SE_NAME_MAX + 1];
    char se_id[SE_ID_MAX + 1];
    unsigned se_type, level, lifecycle, max_retries;
    int64_t created;
    uint32_t epoch;        /* 1 at creation, one more at every re-initialisation */
    struct pin_rec pin[2]; /* indexed by enum store_role */
};

/* An object row. For store_obj_insert/update every field is an input; store_obj_get fills every
 * column, with malloc'd copies of the blobs (free with store_obj_row_clear). */
struct obj_row {
    int64_t oid;
    uint32_t se;
    CK_OBJECT_CLASS cls;
    bool has_key_type;
    CK_KEY_TYPE key_type;
    const uint8_t *id, *label; /* NULL: attribute absent */
    size_t id_len, label_len;
    bool priv;
    uint8_t *attrs; /* attrs_encode of the non-secret attributes */
    size_t attrs_len;
    uint8_t *secret; /* sealed secret attributes, NULL when the object has none */
    size_t secret_len;
    uint8_t *mac; /* STORE_MAC_LEN bytes binding the row to its SE key; NULL without secret */
    size_t mac_len;
    uint8_t *owned; /* store_obj_get: the buffer id and label point into */
};

/* Which indexed columns a find constrains (STORE_F_*), the values, and whether the encoded
 * attributes are wanted for further matching. */
enum {
    STORE_F_CLASS = 1u << 0,
    STORE_F_KEY_TYPE = 1u << 1,
    STORE_F_ID = 1u << 2,
    STORE_F_LABEL = 1u << 3,
    STORE_F_PRIVATE = 1u << 4,
    STORE_F_PUBLIC_ONLY = 1u << 5, /* private = 0 (the caller may not see private objects) */
    STORE_F_ATTRS = 1u << 6,       /* return the attrs blob with each oid */
    STORE_F__ALL = (1u << 7) - 1
};

struct store_query {
    unsigned flags;
    uint32_t se;
    CK_OBJECT_CLASS cls;
    CK_KEY_TYPE key_type;
    const void *id, *label;
    size_t id_len, label_len;
    bool priv;
};

/* Called for every row a find returns; a status other than CKR_OK stops the find. attrs is
 * NULL unless STORE_F_ATTRS was asked for, and only valid during the call. */
typedef CK_RV (*store_row_fn)(void *ctx, int64_t oid, const uint8_t *attrs, size_t attrs_len);

struct store;

/* Open (creating directory and database if needed) `dir`/sea.db. A damaged file gives
 * CKR_DEVICE_ERROR "store ... is damaged: ..." and is left exactly as it was. sync_full selects
 * synchronous=FULL (survives power loss) over NORMAL (survives process crashes). */
CK_RV store_open(const char *dir, bool sync_full, struct store **out);
void store_close(struct store *s);
/* The database's path, for messages. */
const char *store_path(const struct store *s);
/* Has this connection met damage? A damaged connection never checkpoints the WAL into the file
 * when it closes; mark the device's other connection too before closing both. */
bool store_damaged(const struct store *s);
void store_set_damaged(struct store *s);

/* PRAGMA data_version: changes whenever another connection committed a write. */
CK_RV store_data_version(struct store *s, int64_t *out);
/* The first 32 KiB page of the connection's WAL index (sea.db-shm) as SQLite itself has it
 * mapped, read-only for the caller; valid until the store is closed. NULL if there is none yet
 * or the VFS has no shared-memory mapping. */
const volatile void *store_wal_index(struct store *s);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK; never nested. Rollback is safe to call when the
 * transaction is already gone. */
CK_RV store_begin(struct store *s);
CK_RV store_commit(struct store *s);
void store_rollback(struct store *s);

CK_RV store_next_seq(struct store *s, uint32_t *out);
CK_RV store_set_next_seq(struct store *s, uint32_t seq);

/* SEs. *rows malloc'd (free()). */
CK_RV store_se_list(struct store *s, struct se_row **rows, size_t *n);
CK_RV store_se_get(struct store *s, uint32_t seq, struct se_row *row, bool *found);
CK_RV store_se_count(struct store *s, unsigned *out);
CK_RV store_se_insert(struct store *s, const struct se_row *row);
/* One more failed try of a role's PIN (counted before checking the PIN). */
CK_RV store_pin_fail(struct store *s, uint32_t seq, enum store_role role);
/* A successful check: counter back to 0 if the PIN is still the one verified (its wrap). */
CK_RV store_pin_reset(struct store *s, uint32_t seq, enum store_role role,
                      const uint8_t wrap[STORE_WRAP_LEN], bool *changed);
/* lifecycle = SE_BLOCKED when the SO counter is exhausted. */
CK_RV store_se_block(struct store *s, uint32_t seq);
/* A new PIN of `role` in place of the one whose wrap is old_wrap (counter reset). */
CK_RV store_pin_set(struct store *s, uint32_t seq, enum store_role role, const struct pin_rec *p,
                    const uint8_t old_wrap[STORE_WRAP_LEN], bool *changed);
/* The user PIN set by the SO (counter reset, the SE operational), provided the SE is still in
 * `epoch` (the SE key the new wrap holds is still the SE's). */
CK_RV store_user_pin_init(struct store *s, uint32_t seq, const struct pin_rec *p, uint32_t epoch,
                          bool *changed);
/* Re-initialise (new name and SO wrap, no user PIN, personalization, epoch new_epoch) if the SO
 * wrap is still old_wrap and the epoch new_epoch - 1. */
CK_RV store_se_reinit(struct store *s, uint32_t seq, const char *name,
                      const uint8_t new_wrap[STORE_WRAP_LEN],
                      const uint8_t old_wrap[STORE_WRAP_LEN], uint32_t new_epoch, bool *changed);
CK_RV store_se_delete(struct store *s, uint32_t seq, const uint8_t so_wrap[STORE_WRAP_LEN],
                      bool *changed);

/* Objects. */
CK_RV store_obj_insert(struct store *s, const struct obj_row *row, int64_t *oid);
CK_RV store_obj_get(struct store *s, int64_t oid, struct obj_row *row, bool *found);
/* The SE and private column of an object, without its blobs. */
CK_RV store_obj_info(struct store *s, int64_t oid, uint32_t *se, bool *priv, bool *found);
void store_obj_row_clear(struct obj_row *row);
CK_RV store_obj_update(struct store *s, const struct obj_row *row);
CK_RV store_obj_delete(struct store *s, uint32_t se, int64_t oid, bool *found);
CK_RV store_obj_delete_se(struct store *s, uint32_t se);
CK_RV store_obj_label_exists(struct store *s, uint32_t se, CK_OBJECT_CLASS cls, const void *label,
                             size_t len, bool *exists);
CK_RV store_obj_find(struct store *s, const struct store_query *q, store_row_fn fn, void *ctx);

#endif

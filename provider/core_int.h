/* Private structures of the core, shared by core.c (devices, SEs, slots), session.c (sessions,
 * login), object.c (objects, find) and ops.c (keys and cryptographic operations). */
#ifndef SEA_CORE_INT_H
#define SEA_CORE_INT_H

#include <pthread.h>

#include "core.h"
#include "mech.h"

#define NO_USER CK_UNAVAILABLE_INFORMATION

/* Slot ids: 11 bits from the device name, 20 bits of the SE's never-reused seq. */
#define SLOT_SEQ_BITS 20u
#define SLOT_SEQ_MAX  ((1u << SLOT_SEQ_BITS) - 1u)

struct device;

/* One SE as this context knows it. Never freed before the context, so sessions may point
 * at it even after another process deleted the SE (present turns false). */
struct se {
    struct device *dev;
    uint32_t seq;
    CK_SLOT_ID slot;
    struct se_desc desc;
    bool present;
    bool event;                 /* appeared, vanished or changed since the last slot event */
    CK_USER_TYPE login;         /* NO_USER, CKU_USER or CKU_SO; written under core lock with
                                 * se_set_login, read without it by sess_user (atomics) */
    unsigned nsess, nro;        /* sessions of this context on the SE (and read-only ones) */
    bool closing;               /* being re-initialised or deleted: no new session */
    pthread_mutex_t login_lock; /* serialises logins, PIN changes and re-init of this SE */
    struct se *next;
};

struct device {
    char name[32];
    const struct sea_backend_ops *ops;
    struct bdev *bdev; /* NULL when the device failed to open */
    struct dev_caps caps;
    struct bmech *own_mechs; /* caps.mechs less what the backend has no op for, or NULL */
    CK_RV open_rv;
    char open_err[256];
    CK_SLOT_ID slot_base;
    uint32_t next_seq;
    bool free_event; /* the free slot changed */
    struct se *ses;
};

/* A running operation of one kind in a session. */
struct opstate {
    bool active;
    bool multi;              /* an Update was made: the single-part call is no longer allowed */
    bool need_context_login; /* CKA_ALWAYS_AUTHENTICATE key awaiting CKU_CONTEXT_SPECIFIC */
    const struct mech_desc *md;
    struct bop *bop;    /* the device's part, NULL for core-only digests */
    struct cop *digest; /* core-side digest: C_Digest, or the prehash of a composed mechanism */
    /* The running operation may be restarted (backend.h state_tag, op_restart): the device's
     * tag read before its key was checked (0: no), the key, the mechanism and the attributes
     * checked (a reference). */
    uint64_t tag;
    CK_OBJECT_HANDLE key;
    CK_MECHANISM_TYPE mech;
    struct attrs *ka;
};

/* The last ended operation of a kind, kept to be restarted by the next C_xxxInit on the same
 * key and mechanism while the device's state tag is unchanged (ops.c). */
struct spare {
    struct bop *bop; /* NULL: none */
    uint64_t tag;
    CK_OBJECT_HANDLE key;
    CK_MECHANISM_TYPE mech;
    struct attrs *ka;
};

/* A message-based encryption or decryption process (PKCS#11 3.0 C_MessageEncryptInit ...):
 * the key is checked once at init; each message then runs as one device operation. */
enum { MSG_ENCRYPT = 0, MSG_DECRYPT, MSG__COUNT };

struct msgstate {
    bool active;
    const struct mech_desc *md;
    CK_OBJECT_HANDLE key;
    uint64_t counter;  /* CKG_GENERATE_COUNTER: the next value */
    bool counter_set;  /* counter drawn (a random start in 0..2^63-1, once per process) */
    struct bop *bop;   /* the message of a Begin/Next sequence in progress, or NULL */
    CK_ULONG tag_bits; /* that message's tag length */
};

struct findstate {
    bool active;
    CK_OBJECT_HANDLE *h;
    size_t n, pos;
};

struct session {
    CK_SESSION_HANDLE h;
    struct se *se;
    CK_FLAGS flags;
    pthread_mutex_t lock; /* one call at a time on a session */
    unsigned refs;        /* atomic; raised under its bucket's lock while the table holds it */
    bool closed;          /* set under core + bucket lock; read with atomics elsewhere */
    struct opstate op[OP__COUNT];
    struct spare spare[OP__COUNT];
    struct findstate find;
    struct msgstate msg[MSG__COUNT];
    CK_OBJECT_HANDLE *objs; /* session objects this session created */
    size_t nobjs, capobjs;
    struct session *next;
};

#define SESS_BUCKETS 64

/* One chain of the session table with its own lock, so that calls on two sessions in
 * different chains write no memory in common. Padded to 128 bytes: two chains never share a
 * cache line whatever the struct core's alignment. Changing a chain (or a session's closed
 * flag) takes the core lock, then the chain's lock; a lookup takes the chain's lock only. */
union sess_bucket {
    struct {
        pthread_mutex_t lock;
        struct session *head;
    };
    char line[128];
};

struct core {
    unsigned long forkgen;
    struct config *cfg;
    pthread_mutex_t lock; /* devices' SE lists, session table changes, login states */
    struct device *devs;
    size_t ndevs;
    unsigned pin_retries;
    union sess_bucket buckets[SESS_BUCKETS];
    CK_SESSION_HANDLE next_handle;
    struct core *abandoned_next; /* see core_abandon */
    CK_SLOT_ID *snap;            /* the slot list last returned */
    CK_ULONG nsnap;
};

/* core.c */
void core_lock(struct core *c);
void core_unlock(struct core *c);
/* Re-read the SE lists of all devices (call without the core lock). */
CK_RV core_refresh(struct core *c);
/* The SE or device behind a slot id (under core lock). free_dev: the slot is a device's free
 * slot. */
struct se *core_slot_se(struct core *c, CK_SLOT_ID slot, struct device **free_dev);

/* session.c */
/* Look up a session and take a reference and its lock; CKR_SESSION_HANDLE_INVALID if none. */
CK_RV sess_acquire(struct core *c, CK_SESSION_HANDLE h, struct session **out);
void sess_release(struct core *c, struct session *s);
/* The login state of the session's SE (CKU_USER, CKU_SO or NO_USER): one atomic load. */
CK_USER_TYPE sess_user(struct core *c, const struct session *s);
/* Change an SE's login state (core lock held). */
void se_set_login(struct se *se, CK_USER_TYPE u);
/* A backend answered CKR_USER_NOT_LOGGED_IN: it no longer holds the user's login (another
 * process re-initialised the SE), so the core forgets it too. Returns rv. */
CK_RV sess_sync_login(struct core *c, struct session *s, CK_RV rv);
/* Refuse changes to a blocked SE's token objects and PINs (CKR_TOKEN_WRITE_PROTECTED). */
CK_RV sess_check_writable(struct core *c, struct session *s);
/* End the operation of a kind (a restartable one becomes the kind's spare). */
void op_reset(struct session *s, enum sea_op op);
/* Free the spare of a kind, or of every kind (OP__COUNT). */
void spare_drop(struct session *s, int op);
/* Free the spares of every session of this SE in this context (call with no session lock
 * held): a login state change ends what they hold. */
void spares_drop_se(struct core *c, struct se *se);
void sessions_free_all(struct core *c);

/* msgops.c: end a message-based process (and the message in progress). */
void msg_reset(struct session *s, int kind);

/* ops.c: the key checks of C_xxxInit, for the message-based functions. */
CK_RV op_check_key(struct core *c, struct session *s, enum sea_op op, const struct mech_desc *md,
                   const struct bmech *b, CK_OBJECT_HANDLE key, struct attrs **out);

/* ops.c: a key's size in the unit CK_MECHANISM_INFO uses (bits for EC and RSA, bytes for
 * secret keys; 0 if unknown), and whether its CKA_ALLOWED_MECHANISMS lets it use m. */
CK_ULONG op_key_size(const struct attrs *a);
bool op_mechanism_allowed(const struct attrs *a, CK_MECHANISM_TYPE m);

/* object.c */
/* Is the object visible to this session (private objects need the user logged in)? */
bool obj_visible(CK_USER_TYPE user, const struct attrs *a);
/* The attributes of a visible object; CKR_OBJECT_HANDLE_INVALID otherwise. */
CK_RV obj_get_visible(struct core *c, struct session *s, CK_OBJECT_HANDLE h, struct attrs **out);
CK_RV obj_track(struct session *s, CK_OBJECT_HANDLE h);
void obj_untrack(struct session *s, CK_OBJECT_HANDLE h);
/* May this session create/modify an object with these attributes (token vs RO session,
 * private vs login)? */
CK_RV obj_check_write(struct core *c, struct session *s, const struct attrs *a);

#endif

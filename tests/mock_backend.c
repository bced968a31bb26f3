/* The mock backend of the core's unit tests: SEs, PINs and objects in process memory, keyed by
 * device name so that they outlive core_free/core_new, the cryptography of crypto.c, and fault
 * injection and call counters for the tests. Linked into tests only, never into the library. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "crypto.h"
#include "error.h"
#include "log.h"
#include "mock_backend.h"
#include "schema.h"

#define MOCK_SE_TYPE        4 /* TS-0016 "software library" */
#define MOCK_MAX_LEVEL      1
#define MOCK_MIN_PIN        4
#define MOCK_MAX_PIN        32
#define MOCK_DEFAULT_MAX_SE 8
#define MOCK_MAX_SE_LIMIT   1000
#define PIN_ROOM            64 /* stored PINs are zero-padded to this; longer input never matches */
#define SESSION_BIT         0x80000000u
#define HANDLE_LAST         0x7FFFFFFFu
#define NO_LOGIN            CK_UNAVAILABLE_INFORMATION

/* ---- call counters and fault injection ---- */

enum mop {
    M_DEV_OPEN,
    M_DEV_CLOSE,
    M_DEV_ABANDON,
    M_DEV_CAPS,
    M_SE_LIST,
    M_SE_CREATE,
    M_SE_REINIT,
    M_SE_DELETE,
    M_LOGIN,
    M_LOGOUT,
    M_INIT_PIN,
    M_SET_PIN,
    M_OBJ_CREATE,
    M_OBJ_DESTROY,
    M_OBJ_ATTRS,
    M_OBJ_SECRET,
    M_OBJ_UPDATE,
    M_OBJ_FIND,
    M_GENERATE,
    M_OP_INIT,
    M_OP_OUTLEN,
    M_OP_UPDATE,
    M_OP_FINAL,
    M_OP_FREE,
    M_RANDOM,
    M__COUNT
};

static const char *const mop_names[M__COUNT] = {
    "dev_open",  "dev_close",  "dev_abandon", "dev_caps", "se_list",  "se_create",  "se_reinit",
    "se_delete", "login",      "logout",      "init_pin", "set_pin",  "obj_create", "obj_destroy",
    "obj_attrs", "obj_secret", "obj_update",  "obj_find", "generate", "op_init",    "op_outlen",
    "op_update", "op_final",   "op_free",     "random",
};

/* ---- state ---- */

struct pin {
    uint8_t v[PIN_ROOM];
    size_t len;
    bool set;
    unsigned fail; /* failed tries since the last success */
};

struct mobj {
    CK_OBJECT_HANDLE h;
    struct attrs *pub;   /* replaced, never changed in place: obj_attrs hands out snapshots */
    struct attrs *sec;   /* secret values, in the secure heap */
    unsigned long owner; /* session objects: the opening that made them; 0: token */
    struct mobj *next;
};

struct mse {
    struct se_desc desc; /* pin_flags and retries are computed by se_list */
    struct pin so, user;
    CK_USER_TYPE login; /* NO_LOGIN, CKU_USER or CKU_SO */
    struct mobj *objs;  /* in creation order */
    struct mse *next;
};

/* One device name's state; survives dev_close so that a new core finds it again. */
struct mdev {
    char name[32];
    uint32_t next_seq;
    uint32_t next_token, next_session;
    unsigned opened;
    struct mse *ses; /* ordered by seq */
    struct mdev *next;
};

struct bdev {
    struct mdev *m;
    unsigned long id; /* this opening, never reused: owns its session objects */
    unsigned max_se;
    bool session_objects;
    const struct bmech *mechs;
    size_t nmechs;
    struct bmech raw[2]; /* only_raw_ecdsa: CKM_EC_KEY_PAIR_GEN and CKM_ECDSA */
};

struct bop {
    struct cop *c;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mdev *g_devs;
static unsigned g_calls[M__COUNT];
static CK_RV g_fail[M__COUNT]; /* CKR_OK: nothing pending */
static unsigned long g_opens;  /* numbers the openings */

static void lock(void)
{
    pthread_mutex_lock(&g_lock);
}

static void unlock(void)
{
    pthread_mutex_unlock(&g_lock);
}

static int mop_find(const char *name)
{
    for (int i = 0; name && i < M__COUNT; i++)
        if (strcmp(mop_names[i], name) == 0)
            return i;
    return -1;
}

/* Count a call of op (lock held) and fire a pending injected failure. */
static CK_RV enter(enum mop op)
{
    g_calls[op]++;
    CK_RV rv = g_fail[op];
    if (rv == CKR_OK)
        return CKR_OK;
    g_fail[op] = CKR_OK;
    LOGD("mock: injecting 0x%lx into %s", rv, mop_names[op]);
    return err_set(ORIGIN_DEVICE, rv, "mock: injected failure of %s", mop_names[op]);
}

void mock_fail_next(const char *op_name, CK_RV rv)
{
    int i = mop_find(op_name);
    if (i < 0)
        return;
    lock();
    g_fail[i] = rv;
    unlock();
}

unsigned mock_calls(const char *op_name)
{
    int i = mop_find(op_name);
    if (i < 0)
        return 0;
    lock();
    unsigned n = g_calls[i];
    unlock();
    return n;
}

void mock_forget_login(const char *device, uint32_t seq)
{
    lock();
    for (struct mdev *m = g_devs; m; m = m->next)
        if (strcmp(m->name, device) == 0)
            for (struct mse *se = m->ses; se; se = se->next)
                if (se->desc.seq == seq)
                    se->login = NO_LOGIN;
    unlock();
}

unsigned mock_object_count(const char *device)
{
    unsigned n = 0;
    lock();
    for (const struct mdev *m = g_devs; m; m = m->next)
        if (device && strcmp(m->name, device) == 0)
            for (const struct mse *se = m->ses; se; se = se->next)
                for (const struct mobj *o = se->objs; o; o = o->next)
                    n++;
    unlock();
    return n;
}

/* ---- freeing ---- */

static void obj_free(struct mobj *o)
{
    if (!o)
        return;
    attrs_unref(o->pub);
    attrs_unref(o->sec);
    free(o);
}

static void se_free(struct mse *se)
{
    struct mobj *o = se->objs;
    while (o) {
        struct mobj *n = o->next;
        obj_free(o);
        o = n;
    }
    sea_wipe(se, sizeof(*se)); /* the PINs */
    free(se);
}

void mock_reset(void)
{
    lock();
    struct mdev *m = g_devs;
    while (m) {
        struct mdev *n = m->next;
        struct mse *se = m->ses;
        while (se) {
            struct mse *sn = se->next;
            se_free(se);
            se = sn;
        }
        free(m);
        m = n;
    }
    g_devs = NULL;
    memset(g_calls, 0, sizeof(g_calls));
    memset(g_fail, 0, sizeof(g_fail));
    unlock();
}

/* ---- lookups (lock held) ---- */

static CK_RV find_se(struct bdev *d, uint32_t seq, struct mse **out)
{
    for (struct mse *se = d->m->ses; se; se = se->next) {
        if (se->desc.seq == seq) {
            *out = se;
            return CKR_OK;
        }
    }
    return err_set(ORIGIN_BACKEND, CKR_TOKEN_NOT_PRESENT, "mock: device %s has no SE %u",
                   d->m->name, seq);
}

/* Token objects are seen by every opener of the device, session objects by theirs only. */
static bool reachable(const struct bdev *d, const struct mobj *o)
{
    return !o->owner || o->owner == d->id;
}

static CK_RV find_obj(struct bdev *d, struct mse *se, CK_OBJECT_HANDLE h, struct mobj **out)
{
    for (struct mobj *o = se->objs; o; o = o->next) {
        if (o->h == h && reachable(d, o)) {
            *out = o;
            return CKR_OK;
        }
    }
    return err_set(ORIGIN_BACKEND, CKR_OBJECT_HANDLE_INVALID, "mock: SE %u has no object %lu",
                   se->desc.seq, h);
}

static bool is_private(const struct mobj *o)
{
    return attrs_get_bool(o->pub, CKA_PRIVATE, true);
}

static void unlink_obj(struct mse *se, struct mobj *o);

/* backend.h: private objects are the logged-in user's only. */
static CK_RV user_gate(const struct mse *se, const struct mobj *o)
{
    if (is_private(o) && se->login != CKU_USER)
        return err_set(ORIGIN_BACKEND, CKR_USER_NOT_LOGGED_IN,
                       "mock: object %lu of SE %s is private and the user is not logged in", o->h,
                       se->desc.name);
    return CKR_OK;
}

static const struct bmech *dev_mech(const struct bdev *d, CK_MECHANISM_TYPE t, CK_FLAGS flag)
{
    for (size_t i = 0; i < d->nmechs; i++)
        if (d->mechs[i].type == t && (d->mechs[i].flags & flag))
            return &d->mechs[i];
    return NULL;
}

/* ---- PINs ---- */

static bool pin_matches(const struct pin *p, const uint8_t *pin, size_t len)
{
    uint8_t given[PIN_ROOM] = {0};
    if (len > PIN_ROOM)
        return false;
    if (len)
        memcpy(given, pin, len);
    /* whole buffers, so the time does not depend on where they differ */
    int diff = sea_ct_memcmp(given, p->v, PIN_ROOM);
    sea_wipe(given, sizeof(given));
    return (diff == 0) & (len == p->len);
}

static void pin_store(struct pin *p, const uint8_t *pin, size_t len)
{
    sea_wipe(p->v, sizeof(p->v));
    memcpy(p->v, pin, len);
    p->len = len;
    p->set = true;
    p->fail = 0;
}

static CK_RV check_pin_len(size_t len)
{
    if (len < MOCK_MIN_PIN || len > MOCK_MAX_PIN)
        return err_set(ORIGIN_BACKEND, CKR_PIN_LEN_RANGE, "mock: a PIN has %d to %d bytes",
                       MOCK_MIN_PIN, MOCK_MAX_PIN);
    return CKR_OK;
}

/* Verify the PIN of `who`, counting the try before the comparison (backend.h). */
static CK_RV verify(struct mse *se, CK_USER_TYPE who, const uint8_t *pin, size_t len)
{
    struct pin *p = who == CKU_SO ? &se->so : &se->user;
    const char *role = who == CKU_SO ? "SO" : "user";
    unsigned max = se->desc.max_retries;
    if (!p->set)
        return err_set(ORIGIN_BACKEND, CKR_USER_PIN_NOT_INITIALIZED,
                       "mock: SE %s has no user PIN yet", se->desc.name);
    if (p->fail >= max)
        return err_set(ORIGIN_BACKEND, CKR_PIN_LOCKED, "mock: the %s PIN of SE %s is locked", role,
                       se->desc.name);
    p->fail++;
    if (!pin_matches(p, pin, len)) {
        if (who == CKU_SO && p->fail >= max)
            se->desc.lifecycle = SE_BLOCKED;
        return err_set(ORIGIN_BACKEND, CKR_PIN_INCORRECT, "mock: wrong %s PIN (%u tries left)",
                       role, max - p->fail);
    }
    p->fail = 0;
    return CKR_OK;
}

static unsigned left_of(const struct pin *p, unsigned max)
{
    return p->fail >= max ? 0 : max - p->fail;
}

static void desc_of(const struct mse *se, struct se_desc *out)
{
    unsigned max = se->desc.max_retries;
    *out = se->desc;
    out->pin_flags = 0;
    out->so_retries_left = left_of(&se->so, max);
    out->user_retries_left = se->user.set ? left_of(&se->user, max) : max;
    if (se->so.fail > 0)
        out->pin_flags |= PINF_SO_COUNT_LOW;
    if (out->so_retries_left == 1)
        out->pin_flags |= PINF_SO_FINAL_TRY;
    if (out->so_retries_left == 0)
        out->pin_flags |= PINF_SO_LOCKED;
    if (se->user.set) {
        out->pin_flags |= PINF_USER_INIT;
        if (se->user.fail > 0)
            out->pin_flags |= PINF_USER_COUNT_LOW;
        if (out->user_retries_left == 1)
            out->pin_flags |= PINF_USER_FINAL_TRY;
        if (out->user_retries_left == 0)
            out->pin_flags |= PINF_USER_LOCKED;
    }
}

/* ---- device lifecycle ---- */

static const char *const known_keys[] = {"backend", "max_se", "fail_open", "no_session_objects",
                                         "only_raw_ecdsa"};

static CK_RV check_keys(const char *name, const struct config_section *cfg)
{
    for (size_t i = 0; i < cfg->nkv; i++) {
        bool known = false;
        for (size_t j = 0; j < ARRAY_SIZE(known_keys); j++)
            known = known || strcmp(cfg->kv[i].key, known_keys[j]) == 0;
        if (!known)
            return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD,
                           "mock: unknown key '%s' in device %s (line %d)", cfg->kv[i].key, name,
                           cfg->kv[i].line);
    }
    return CKR_OK;
}

static struct mdev *mdev_get(const char *name)
{
    for (struct mdev *m = g_devs; m; m = m->next)
        if (strcmp(m->name, name) == 0)
            return m;
    struct mdev *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    snprintf(m->name, sizeof(m->name), "%s", name);
    m->next_seq = 1; /* the core reserves seq 0 */
    m->next = g_devs;
    g_devs = m;
    return m;
}

static CK_RV mock_dev_open(const char *name, const struct config_section *cfg, struct bdev **out)
{
    struct bdev *d = NULL;
    unsigned long max_se = 0;
    bool fail_open = false, no_sobj = false, only_raw = false;
    CK_RV rv;
    lock();
    if ((rv = enter(M_DEV_OPEN)) != CKR_OK)
        goto out;
    if (!name || !cfg || !out || strlen(name) >= sizeof(((struct mdev *)0)->name)) {
        rv = err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "mock dev_open: bad arguments");
        goto out;
    }
    if ((rv = check_keys(name, cfg)) != CKR_OK ||
        (rv = config_get_ulong(cfg, "max_se", MOCK_DEFAULT_MAX_SE, 1, MOCK_MAX_SE_LIMIT,
                               &max_se)) != CKR_OK ||
        (rv = config_get_bool(cfg, "fail_open", false, &fail_open)) != CKR_OK ||
        (rv = config_get_bool(cfg, "no_session_objects", false, &no_sobj)) != CKR_OK ||
        (rv = config_get_bool(cfg, "only_raw_ecdsa", false, &only_raw)) != CKR_OK)
        goto out;
    if (fail_open) {
        rv = err_set(ORIGIN_DEVICE, CKR_DEVICE_ERROR, "mock: device %s does not answer (fail_open)",
                     name);
        goto out;
    }
    struct mdev *m = mdev_get(name);
    if (!m || !(d = calloc(1, sizeof(*d)))) {
        rv = err_set(ORIGIN_BACKEND, CKR_HOST_MEMORY, "mock: out of memory");
        goto out;
    }
    d->m = m;
    d->id = ++g_opens;
    d->max_se = (unsigned)max_se;
    d->session_objects = !no_sobj;
    d->mechs = crypto_mechs;
    d->nmechs = crypto_nmechs;
    if (only_raw) {
        size_t k = 0;
        for (size_t i = 0; i < crypto_nmechs && k < ARRAY_SIZE(d->raw); i++)
            if (crypto_mechs[i].type == CKM_EC_KEY_PAIR_GEN || crypto_mechs[i].type == CKM_ECDSA)
                d->raw[k++] = crypto_mechs[i];
        d->mechs = d->raw;
        d->nmechs = k;
    }
    m->opened++;
    *out = d;
out:
    unlock();
    return rv;
}

static void mock_dev_close(struct bdev *d)
{
    if (!d)
        return;
    lock();
    g_calls[M_DEV_CLOSE]++;
    /* session objects belong to the opener, as on a real token */
    for (struct mse *se = d->m->ses; se; se = se->next) {
        struct mobj **pp = &se->objs;
        while (*pp) {
            struct mobj *o = *pp;
            if (o->owner == d->id) {
                *pp = o->next;
                obj_free(o);
            } else {
                pp = &o->next;
            }
        }
        if (d->m->opened == 1)
            se->login = NO_LOGIN;
    }
    d->m->opened--;
    unlock();
    free(d);
}

static void mock_dev_abandon(struct bdev *d)
{
    /* In a forked child: no lock (its owner may not exist here), nothing freed; forget what
     * the logins unlocked. */
    if (!d)
        return;
    g_calls[M_DEV_ABANDON]++;
    for (struct mse *se = d->m->ses; se; se = se->next)
        se->login = NO_LOGIN;
}

static void mock_dev_caps(struct bdev *d, struct dev_caps *caps)
{
    if (!d || !caps)
        return;
    lock();
    g_calls[M_DEV_CAPS]++;
    unlock();
    memset(caps, 0, sizeof(*caps));
    caps->flags = DEVCAP_CREATE_SE | DEVCAP_DELETE_SE | DEVCAP_STORE_DATA | DEVCAP_RNG;
    if (d->session_objects)
        caps->flags |= DEVCAP_SESSION_OBJ;
    caps->max_se = d->max_se;
    caps->se_type = MOCK_SE_TYPE;
    caps->max_level = MOCK_MAX_LEVEL;
    caps->mechs = d->mechs;
    caps->nmechs = d->nmechs;
    caps->manufacturer = "mock";
    caps->model = "mock";
    caps->min_pin = MOCK_MIN_PIN;
    caps->max_pin = MOCK_MAX_PIN;
}

/* ---- SEs ---- */

static unsigned count_ses(const struct mdev *m)
{
    unsigned n = 0;
    for (const struct mse *se = m->ses; se; se = se->next)
        n++;
    return n;
}

static CK_RV mock_se_list(struct bdev *d, struct se_desc **out, size_t *n, uint32_t *next_seq)
{
    struct se_desc *v = NULL;
    CK_RV rv;
    lock();
    if ((rv = enter(M_SE_LIST)) != CKR_OK)
        goto out;
    if (!d || !out || !n || !next_seq) {
        rv = err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "mock se_list: bad arguments");
        goto out;
    }
    unsigned cnt = count_ses(d->m);
    if (!(v = calloc(cnt ? cnt : 1, sizeof(*v)))) {
        rv = err_set(ORIGIN_BACKEND, CKR_HOST_MEMORY, "mock: out of memory");
        goto out;
    }
    size_t k = 0;
    for (const struct mse *se = d->m->ses; se; se = se->next)
        desc_of(se, &v[k++]);
    *out = v;
    *n = k;
    *next_seq = d->m->next_seq;
out:
    unlock();
    return rv;
}

static CK_RV check_create(const struct se_create_params *p)
{
    if (!p || !p->name || !p->se_id || (!p->so_pin && p->so_pin_len))
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "mock se_create: bad arguments");
    size_t nl = strlen(p->name), il = strlen(p->se_id);
    if (nl == 0 || nl > SE_NAME_MAX || il == 0 || il > SE_ID_MAX)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD,
                       "mock: an SE name has 1 to %d bytes, an SE id 1 to %d", SE_NAME_MAX,
                       SE_ID_MAX);
    if (p->level > MOCK_MAX_LEVEL)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "mock: security level %u is above %d",
                       p->level, MOCK_MAX_LEVEL);
    if (p->max_retries < 1)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "mock: max_retries must be 1 or more");
    return check_pin_len(p->so_pin_len);
}

static CK_RV mock_se_create(struct bdev *d, uint32_t expect_seq, const struct se_create_params *p,
                            struct se_desc *out)
{
    struct mse *se = NULL;
    CK_RV rv;
    lock();
    if ((rv = enter(M_SE_CREATE)) != CKR_OK)
        goto out;
    if (!d || !out) {
        rv = err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "mock se_create: bad arguments");
        goto out;
    }
    if ((rv = check_create(p)) != CKR_OK)
        goto out;
    struct mdev *m = d->m;
    if (expect_seq != m->next_seq) {
        rv = err_set(ORIGIN_BACKEND, CKR_SLOT_ID_INVALID,
                     "mock: slot %u of device %s is taken (next is %u)", expect_seq, m->name,
                     m->next_seq);
        goto out;
    }
    if (count_ses(m) >= d->max_se) {
        rv = err_set(ORIGIN_BACKEND, CKR_DEVICE_MEMORY, "mock: device %s holds %u SEs", m->name,
                     d->max_se);
        goto out;
    }
    if (!(se = calloc(1, sizeof(*se)))) {
        rv = err_set(ORIGIN_BACKEND, CKR_HOST_MEMORY, "mock: out of memory");
        goto out;
    }
    se->desc.seq = m->next_seq++;
    snprintf(se->desc.name, sizeof(se->desc.name), "%s", p->name);
    snprintf(se->desc.se_id, sizeof(se->desc.se_id), "%s", p->se_id);
    se->desc.se_type = MOCK_SE_TYPE;
    se->desc.level = p->level;
    se->desc.lifecycle = SE_PERSONALIZATION;
    se->desc.max_retries = p->max_retries;
    se->desc.created = sea_time();
    se->desc.epoch = 1;
    pin_store(&se->so, p->so_pin, p->so_pin_len);
    se->login = NO_LOGIN;
    struct mse **pp = &m->ses;
    while (*pp)
        pp = &(*pp)->next;
    *pp = se;
    desc_of(se, out);
out:
    unlock();
    return rv;
}

static void drop_objects(struct mse *se)
{
    struct mobj *o = se->objs;
    while (o) {
        struct mobj *n = o->next;
        obj_free(o);
        o = n;
    }
    se->objs = NULL;
}

static CK_RV mock_se_reinit(struct bdev *d, uint32_t seq, const uint8_t *so_pin, size_t len,
                            const char *name)
{
    struct mse *se = NULL;
    CK_RV rv;
    lock();
    if ((rv = enter(M_SE_REINIT)) != CKR_OK)
        goto out;
    if (!d || (!so_pin && len) || !name || !*name || strlen(name) > SE_NAME_MAX) {
        rv = err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "mock se_reinit: bad arguments");
        goto out;
    }
    if ((rv = find_se(d, seq, &se)) != CKR_OK || (rv = verify(se, CKU_SO, so_pin, len)) != CKR_OK)
        goto out;
    drop_objects(se);
    sea_wipe(&se->user, sizeof(se->user));
    snprintf(se->desc.name, sizeof(se->desc.name), "%s", name);
    se->desc.lifecycle = SE_PERSONALIZATION;
    se->desc.epoch++;
    se->login = NO_LOGIN;
out:
    unlock();
    return rv;
}

static CK_RV mock_se_delete(struct bdev *d, uint32_t seq, const uint8_t *so_pin, size_t len)
{
    struct mse *se = NULL;
    CK_RV rv;
    lock();
    if ((rv = enter(M_SE_DELETE)) != CKR_OK)
        goto out;
    if (!d || (!so_pin && len)) {
        rv = err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "mock se_delete: bad arguments");
        goto out;
    }
    if ((rv = find_se(d, seq, &se)) != CKR_OK || (rv = verify(se, CKU_SO, so_pin, len)) != CKR_OK)
        goto out;
    struct mse **pp = &d->m->ses;
    while (*pp != se)
        pp = &(*pp)->next;
    *pp = se->next;
    se_free(se);
out:
    unlock();
    return rv;
}

/* ---- PINs ---- */

static CK_RV mock_login(struct bdev *d, uint32_t seq, CK_USER_TYPE user, const uint8_t *pin,
                        size_t len)
{
    struct mse *se = NULL;
    CK_RV rv;
    lock();
    if ((rv = enter(M_LOGIN)) != CKR_OK)
        goto out;
    if (!d || (!pin && len)) {
        rv = err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "mock login: bad arguments");
        goto out;
    }
    if (user != CKU_SO && user != CKU_USER) {
        rv = err_set(ORIGIN_BACKEND, CKR_USER_TYPE_INVALID, "mock: unknown user type %lu", user);
        goto out;
    }
    if ((rv = find_se(d, seq, &se)) != CKR_OK)
        goto out;
    if (se->login != NO_LOGIN && se->login != user) {
        rv = err_set(ORIGIN_BACKEND, CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
                     "mock: the other role is logged in on SE %s", se->desc.name);
        goto out;
    }
    /* logging in again while logged in re-verifies (CKU_CONTEXT_SPECIFIC) */
    if ((rv = verify(se, user, pin, len)) == CKR_OK)
        se->login = user;
out:
    unlock();
    return rv;
}

static void mock_logout(struct bdev *d, uint32_t seq)
{
    struct mse *se = NULL;
    lock();
    g_calls[M_LOGOUT]++;
    if (d && find_se(d, seq, &se) == CKR_OK) {
        se->login = NO_LOGIN;
        /* PKCS#11: private session objects end with the login */
        for (struct mobj *o = se->objs, *n; o; o = n) {
            n = o->next;
            if (o->owner == d->id && is_private(o))
                unlink_obj(se, o);
        }
    }
    unlock();
}

static CK_RV mock_init_pin(struct bdev *d, uint32_t seq, const uint8_t *pin, size_t len)
{
    struct mse *se = NULL;
    CK_RV rv;
    lock();
    if ((rv = enter(M_INIT_PIN)) != CKR_OK)
        goto out;
    if (!d || (!pin && len)) {
        rv = err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "mock init_pin: bad arguments");
        goto out;
    }
    if ((rv = find_se(d, seq, &se)) != CKR_OK)
        goto out;
    if (se->login != CKU_SO) {
        rv = err_set(ORIGIN_BACKEND, CKR_USER_NOT_LOGGED_IN,
                     "mock: setting the user PIN of SE %s needs the SO", se->desc.name);
        goto out;
    }
    if ((rv = check_pin_len(len)) != CKR_OK)
        goto out;
    pin_store(&se->user, pin, len);
    if (se->desc.lifecycle == SE_PERSONALIZATION)
        se->desc.lifecycle = SE_OPERATIONAL;
out:
    unlock();
    return rv;
}

static CK_RV mock_set_pin(struct bdev *d, uint32_t seq, CK_USER_TYPE user, const uint8_t *old_pin,
                          size_t old_len, const uint8_t *new_pin, size_t new_len)
{
    struct mse *se = NULL;
    CK_RV rv;
    lock();
    if ((rv = enter(M_SET_PIN)) != CKR_OK)
        goto out;
    if (!d || (!old_pin && old_len) || (!new_pin && new_len)) {
        rv = err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "mock set_pin: bad arguments");
        goto out;
    }
    if (user != CKU_SO && user != CKU_USER) {
        rv = err_set(ORIGIN_BACKEND, CKR_USER_TYPE_INVALID, "mock: unknown user type %lu", user);
        goto out;
    }
    if ((rv = find_se(d, seq, &se)) != CKR_OK || (rv = check_pin_len(new_len)) != CKR_OK ||
        (rv = verify(se, user, old_pin, old_len)) != CKR_OK)
        goto out;
    pin_store(user == CKU_SO ? &se->so : &se->user, new_pin, new_len);
out:
    unlock();
    return rv;
}

/* ---- objects ---- */

/* Split a complete attribute set into public values and the secrets the schema names (or
 * that the core already placed in the secure heap). */
static CK_RV split(const struct attrs *a, struct attrs **pub, struct attrs **sec)
{
    CK_OBJECT_CLASS cls = attrs_get_ulong(a, CKA_CLASS, CK_UNAVAILABLE_INFORMATION);
    bool priv = attrs_get_bool(a, CKA_PRIVATE, true);
    CK_RV rv = CKR_OK;
    *pub = attrs_new();
    *sec = attrs_new();
    if (!*pub || !*sec) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    for (size_t i = 0; i < a->n && rv == CKR_OK; i++) {
        const struct attr *x = &a->v[i];
        if (x->secret || schema_is_secret(cls, priv, x->type))
            rv = attrs_set_secret(*sec, x->type, x->val, x->len);
        else
            rv = attrs_set(*pub, x->type, x->val, x->len);
    }
out:
    if (rv != CKR_OK) {
        attrs_unref(*pub);
        attrs_unref(*sec);
        *pub = *sec = NULL;
        err_set(ORIGIN_BACKEND, rv, "mock: out of memory for an object");
    }
    return rv;
}

static bool same_attr(const struct attrs *a, const struct attrs *b, CK_ATTRIBUTE_TYPE t)
{
    const struct attr *x = attrs_find(a, t), *y = attrs_find(b, t);
    if (!x || !y)
        return !x && !y;
    return x->len == y->len && memcmp(x->val, y->val, x->len) == 0;
}

/* Store a new object in se (lock held). */
static CK_RV store(struct bdev *d, struct mse *se, const struct attrs *a, unsigned flags,
                   CK_OBJECT_HANDLE *out)
{
    struct mobj *o = NULL;
    struct mdev *m = d->m;
    bool session = flags & OBJ_SESSION;
    CK_RV rv = CKR_OK;
    if (session && !d->session_objects)
        return err_set(ORIGIN_BACKEND, CKR_TEMPLATE_INCONSISTENT,
                       "mock: device %s keeps no session objects", m->name);
    if (flags & OBJ_UNIQUE_LABEL) {
        for (const struct mobj *x = se->objs; x; x = x->next)
            if (reachable(d, x) && same_attr(x->pub, a, CKA_CLASS) &&
                same_attr(x->pub, a, CKA_LABEL))
                return err_set(ORIGIN_BACKEND, CKR_SEA_EXISTS,
                               "mock: an object of that class and label exists");
    }
    if ((session ? m->next_session : m->next_token) >= HANDLE_LAST)
        return err_set(ORIGIN_BACKEND, CKR_DEVICE_MEMORY, "mock: no object handles left");
    if (!(o = calloc(1, sizeof(*o)))) {
        rv = err_set(ORIGIN_BACKEND, CKR_HOST_MEMORY, "mock: out of memory");
        goto out;
    }
    if ((rv = split(a, &o->pub, &o->sec)) != CKR_OK)
        goto out;
    o->owner = session ? d->id : 0;
    o->h = session ? (SESSION_BIT | ++m->next_session) : ++m->next_token;
    struct mobj **pp = &se->objs;
    while (*pp)
        pp = &(*pp)->next;
    *pp = o;
    *out = o->h;
    o = NULL;
out:
    obj_free(o);
    return rv;
}

static void unlink_obj(struct mse *se, struct mobj *o)
{
    struct mobj **pp = &se->objs;
    while (*pp && *pp != o)
        pp = &(*pp)->next;
    if (*pp)
        *pp = o->next;
    obj_free(o);
}

static CK_RV mock_obj_create(struct bdev *d, uint32_t seq, const struct attrs *a, unsigned flags,
                             CK_OBJECT_HANDLE *out)
{
    struct mse *se = NULL;
    CK_RV rv;
    lock();
    if ((rv = enter(M_OBJ_CREATE)) != CKR_OK)
        goto out;
    if (!d || !a || !out) {
        rv = err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "mock obj_create: bad arguments");
        goto out;
    }
    if ((rv = find_se(d, seq, &se)) != CKR_OK)
        goto out;
    rv = store(d, se, a, flags, out);
out:
    unlock();
    return rv;
}

static CK_RV mock_obj_destroy(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h)
{
    struct mse *se = NULL;
    struct mobj *o = NULL;
    CK_RV rv;
    lock();
    if ((rv = enter(M_OBJ_DESTROY)) != CKR_OK)
        goto out;
    if (!d) {
        rv = err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "mock obj_destroy: bad arguments");
        goto out;
    }
    if ((rv = find_se(d, seq, &se)) != CKR_OK || (rv = find_obj(d, se, h, &o)) != CKR_OK ||
        (rv = user_gate(se, o)) != CKR_OK)
        goto out;
    unlink_obj(se, o);
out:
    unlock();
    return rv;
}

static CK_RV mock_obj_attrs(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h, struct attrs **out)
{
    struct mse *se = NULL;
    struct mobj *o = NULL;
    CK_RV rv;
    lock();
    if ((rv = enter(M_OBJ_ATTRS)) != CKR_OK)
        goto out;
    if (!d || !out) {
        rv = err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "mock obj_attrs: bad arguments");
        goto out;
    }
    if ((rv = find_se(d, seq, &se)) != CKR_OK || (rv = find_obj(d, se, h, &o)) != CKR_OK ||
        (rv = user_gate(se, o)) != CKR_OK)
        goto out;
    *out = attrs_ref(o->pub);
out:
    unlock();
    return rv;
}

static CK_RV mock_obj_secret(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE t,
                             struct attrs **out)
{
    struct mse *se = NULL;
    struct mobj *o = NULL;
    struct attrs *a = NULL;
    CK_RV rv;
    lock();
    if ((rv = enter(M_OBJ_SECRET)) != CKR_OK)
        goto out;
    if (!d || !out) {
        rv = err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "mock obj_secret: bad arguments");
        goto out;
    }
    if ((rv = find_se(d, seq, &se)) != CKR_OK || (rv = find_obj(d, se, h, &o)) != CKR_OK)
        goto out;
    const struct attr *x = attrs_find(o->sec, t);
    if (!x) {
        rv = err_set(ORIGIN_BACKEND, CKR_ATTRIBUTE_TYPE_INVALID,
                     "mock: object %lu has no secret 0x%lx", h, t);
        goto out;
    }
    if (is_private(o) && se->login != CKU_USER) {
        rv = err_set(ORIGIN_BACKEND, CKR_USER_NOT_LOGGED_IN,
                     "mock: reading a secret of a private object needs the user");
        goto out;
    }
    if (!(a = attrs_new()) || (rv = attrs_set_secret(a, t, x->val, x->len)) != CKR_OK) {
        rv = err_set(ORIGIN_BACKEND, CKR_HOST_MEMORY, "mock: out of memory");
        goto out;
    }
    *out = a;
    a = NULL;
out:
    attrs_unref(a);
    unlock();
    return rv;
}

static CK_RV mock_obj_update(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h,
                             const struct attrs *changes)
{
    struct mse *se = NULL;
    struct mobj *o = NULL;
    struct attrs *pub = NULL, *sec = NULL;
    bool touches_secret = false;
    CK_RV rv;
    lock();
    if ((rv = enter(M_OBJ_UPDATE)) != CKR_OK)
        goto out;
    if (!d || !changes) {
        rv = err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "mock obj_update: bad arguments");
        goto out;
    }
    if ((rv = find_se(d, seq, &se)) != CKR_OK || (rv = find_obj(d, se, h, &o)) != CKR_OK ||
        (rv = user_gate(se, o)) != CKR_OK)
        goto out;
    if (!(pub = attrs_dup(o->pub)) || !(sec = attrs_dup(o->sec))) {
        rv = err_set(ORIGIN_BACKEND, CKR_HOST_MEMORY, "mock: out of memory");
        goto out;
    }
    CK_OBJECT_CLASS cls = attrs_get_ulong(o->pub, CKA_CLASS, CK_UNAVAILABLE_INFORMATION);
    bool priv = is_private(o);
    /* Build the new sets aside and swap them in: all or nothing. */
    for (size_t i = 0; i < changes->n && rv == CKR_OK; i++) {
        const struct attr *x = &changes->v[i];
        if (x->secret || schema_is_secret(cls, priv, x->type)) {
            touches_secret = true;
            attrs_remove(pub, x->type);
            rv = attrs_set_secret(sec, x->type, x->val, x->len);
        } else {
            attrs_remove(sec, x->type);
            rv = attrs_set(pub, x->type, x->val, x->len);
        }
    }
    if (rv != CKR_OK) {
        err_set(ORIGIN_BACKEND, rv, "mock: out of memory");
        goto out;
    }
    if (touches_secret && priv && se->login != CKU_USER) {
        rv = err_set(ORIGIN_BACKEND, CKR_USER_NOT_LOGGED_IN,
                     "mock: changing a secret of a private object needs the user");
        goto out;
    }
    struct attrs *old_pub = o->pub, *old_sec = o->sec;
    o->pub = pub;
    o->sec = sec;
    pub = old_pub;
    sec = old_sec;
out:
    attrs_unref(pub);
    attrs_unref(sec);
    unlock();
    return rv;
}

static CK_RV mock_obj_find(struct bdev *d, uint32_t seq, const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                           bool with_private, CK_OBJECT_HANDLE **out, size_t *count)
{
    struct mse *se = NULL;
    CK_OBJECT_HANDLE *v = NULL;
    CK_RV rv;
    lock();
    if ((rv = enter(M_OBJ_FIND)) != CKR_OK)
        goto out;
    if (!d || (!tmpl && n) || !out || !count) {
        rv = err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "mock obj_find: bad arguments");
        goto out;
    }
    if ((rv = find_se(d, seq, &se)) != CKR_OK)
        goto out;
    size_t cap = 0, k = 0;
    for (const struct mobj *o = se->objs; o; o = o->next)
        cap++;
    if (!(v = calloc(cap ? cap : 1, sizeof(*v)))) {
        rv = err_set(ORIGIN_BACKEND, CKR_HOST_MEMORY, "mock: out of memory");
        goto out;
    }
    for (const struct mobj *o = se->objs; o; o = o->next)
        if (reachable(d, o) && ((with_private && se->login == CKU_USER) || !is_private(o)) &&
            attrs_match(o->pub, tmpl, n))
            v[k++] = o->h;
    *out = v;
    *count = k;
    v = NULL;
out:
    free(v);
    unlock();
    return rv;
}

/* ---- key generation ---- */

static CK_RV mock_generate(struct bdev *d, uint32_t seq, const CK_MECHANISM *m, struct attrs *pub,
                           unsigned pub_flags, struct attrs *priv, unsigned priv_flags,
                           CK_OBJECT_HANDLE *hpub, CK_OBJECT_HANDLE *hpriv)
{
    struct mse *se = NULL;
    CK_OBJECT_HANDLE hp = 0;
    bool pair = pub != NULL;
    CK_RV rv;
    lock();
    if ((rv = enter(M_GENERATE)) != CKR_OK)
        goto out;
    if (!d || !m || !priv || !hpriv || (pair && !hpub)) {
        rv = err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "mock generate: bad arguments");
        goto out;
    }
    if ((rv = find_se(d, seq, &se)) != CKR_OK)
        goto out;
    if (!dev_mech(d, m->mechanism, pair ? CKF_GENERATE_KEY_PAIR : CKF_GENERATE)) {
        rv = err_set(ORIGIN_BACKEND, CKR_MECHANISM_INVALID,
                     "mock: device %s does not generate with mechanism 0x%lx", d->m->name,
                     m->mechanism);
        goto out;
    }
    if (attrs_get_bool(priv, CKA_PRIVATE, true) && se->login != CKU_USER) {
        rv = err_set(ORIGIN_BACKEND, CKR_USER_NOT_LOGGED_IN,
                     "mock: a private key needs the user logged in");
        goto out;
    }
    rv = pair ? crypto_generate_key_pair(m, pub, priv) : crypto_generate_key(m, priv);
    if (rv != CKR_OK)
        goto out;
    if (pair && (rv = store(d, se, pub, pub_flags, &hp)) != CKR_OK)
        goto out;
    if ((rv = store(d, se, priv, priv_flags, hpriv)) != CKR_OK) {
        if (pair) {
            struct mobj *o = NULL;
            if (find_obj(d, se, hp, &o) == CKR_OK)
                unlink_obj(se, o);
        }
        goto out;
    }
    if (pair)
        *hpub = hp;
out:
    unlock();
    return rv;
}

/* ---- operations ---- */

static const CK_FLAGS op_flags[OP__COUNT] = {CKF_ENCRYPT, CKF_DECRYPT, CKF_SIGN, CKF_VERIFY,
                                             CKF_DIGEST};

static bool is_key_class(CK_OBJECT_CLASS cls)
{
    return cls == CKO_SECRET_KEY || cls == CKO_PRIVATE_KEY || cls == CKO_PUBLIC_KEY;
}

static CK_RV mock_op_init(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h, enum sea_op op,
                          const CK_MECHANISM *m, const struct attrs *checked, struct bop **out)
{
    struct mse *se = NULL;
    struct mobj *o = NULL;
    struct keymat *k = NULL;
    struct cop *c = NULL;
    struct bop *b = NULL;
    CK_RV rv;
    lock();
    if ((rv = enter(M_OP_INIT)) != CKR_OK)
        goto out;
    if (!d || !m || !out || (unsigned)op >= OP__COUNT) {
        rv = err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "mock op_init: bad arguments");
        goto out;
    }
    if (op != OP_DIGEST) {
        if (!dev_mech(d, m->mechanism, op_flags[op])) {
            rv = err_set(ORIGIN_BACKEND, CKR_MECHANISM_INVALID,
                         "mock: device %s has no mechanism 0x%lx for this operation", d->m->name,
                         m->mechanism);
            goto out;
        }
        if ((rv = find_se(d, seq, &se)) != CKR_OK || (rv = find_obj(d, se, h, &o)) != CKR_OK)
            goto out;
        if (!is_key_class(attrs_get_ulong(o->pub, CKA_CLASS, CK_UNAVAILABLE_INFORMATION))) {
            rv =
                err_set(ORIGIN_BACKEND, CKR_KEY_HANDLE_INVALID, "mock: object %lu is not a key", h);
            goto out;
        }
        if (is_private(o) && se->login != CKU_USER) {
            rv = err_set(ORIGIN_BACKEND, CKR_USER_NOT_LOGGED_IN,
                         "mock: using a private key needs the user");
            goto out;
        }
        if ((rv = keymat_from_attrs(o->pub, o->sec, &k)) != CKR_OK)
            goto out;
    }
    if ((rv = cop_new(k, op, m, &c)) != CKR_OK)
        goto out;
    if (!(b = malloc(sizeof(*b)))) {
        rv = err_set(ORIGIN_BACKEND, CKR_HOST_MEMORY, "mock: out of memory");
        goto out;
    }
    b->c = c;
    c = NULL;
    *out = b;
out:
    cop_free(c);
    keymat_unref(k);
    unlock();
    return rv;
}

static size_t mock_op_outlen(struct bop *op, int phase, size_t inlen)
{
    lock();
    g_calls[M_OP_OUTLEN]++;
    unlock();
    return op ? cop_outlen(op->c, phase, inlen) : 0;
}

static CK_RV mock_op_update(struct bop *op, const uint8_t *in, size_t inlen, uint8_t *out,
                            size_t *outlen)
{
    lock();
    CK_RV rv = enter(M_OP_UPDATE);
    unlock();
    if (rv != CKR_OK)
        return rv;
    if (!op || (!in && inlen) || !outlen)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "mock op_update: bad arguments");
    return cop_update(op->c, in, inlen, out, outlen);
}

static CK_RV mock_op_final(struct bop *op, const uint8_t *in, size_t inlen, uint8_t *out,
                           size_t *outlen)
{
    lock();
    CK_RV rv = enter(M_OP_FINAL);
    unlock();
    if (rv != CKR_OK)
        return rv;
    if (!op || (!in && inlen) || !outlen)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "mock op_final: bad arguments");
    return cop_final(op->c, in, inlen, out, outlen);
}

static void mock_op_free(struct bop *op)
{
    lock();
    g_calls[M_OP_FREE]++;
    unlock();
    if (!op)
        return;
    cop_free(op->c);
    free(op);
}

static CK_RV mock_random(struct bdev *d, uint8_t *out, size_t len)
{
    lock();
    CK_RV rv = enter(M_RANDOM);
    unlock();
    if (rv != CKR_OK)
        return rv;
    if (!d || (!out && len))
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "mock random: bad arguments");
    return len ? crypto_random(out, len) : CKR_OK;
}

const struct sea_backend_ops mock_backend_ops = {
    .name = "mock",
    .dev_open = mock_dev_open,
    .dev_close = mock_dev_close,
    .dev_abandon = mock_dev_abandon,
    .dev_caps = mock_dev_caps,
    .se_list = mock_se_list,
    .se_create = mock_se_create,
    .se_reinit = mock_se_reinit,
    .se_delete = mock_se_delete,
    .login = mock_login,
    .logout = mock_logout,
    .init_pin = mock_init_pin,
    .set_pin = mock_set_pin,
    .obj_create = mock_obj_create,
    .obj_destroy = mock_obj_destroy,
    .obj_attrs = mock_obj_attrs,
    .obj_secret = mock_obj_secret,
    .obj_update = mock_obj_update,
    .obj_find = mock_obj_find,
    .generate = mock_generate,
    .op_init = mock_op_init,
    .op_outlen = mock_op_outlen,
    .op_update = mock_op_update,
    .op_final = mock_op_final,
    .op_free = mock_op_free,
    .random = mock_random,
};

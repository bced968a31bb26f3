/* Sessions and login state: the session table, opening and closing, C_Login/C_Logout with the
 * standard's role rules, PIN initialisation and change, and cancelling operations. */
#include <stdlib.h>

#include "core_int.h"
#include "crypto.h"
#include "error.h"
#include "log.h"

static size_t bucket(CK_SESSION_HANDLE h)
{
    return (size_t)(h % SESS_BUCKETS);
}

static void spare_free(struct session *s, struct spare *sp)
{
    if (sp->bop)
        s->se->dev->ops->op_free(sp->bop);
    attrs_unref(sp->ka);
    memset(sp, 0, sizeof(*sp));
}

void spare_drop(struct session *s, int op)
{
    for (int i = 0; i < OP__COUNT; i++)
        if (op == OP__COUNT || op == i)
            spare_free(s, &s->spare[i]);
}

void op_reset(struct session *s, enum sea_op op)
{
    struct opstate *o = &s->op[op];
    if (o->bop && o->tag) {
        /* kept for the next C_xxxInit on the same key: it checks the tag again */
        struct spare *sp = &s->spare[op];
        spare_free(s, sp);
        *sp = (struct spare){
            .bop = o->bop, .tag = o->tag, .key = o->key, .mech = o->mech, .ka = o->ka};
        o->bop = NULL;
        o->ka = NULL;
    }
    if (o->bop)
        s->se->dev->ops->op_free(o->bop);
    if (o->digest)
        cop_free(o->digest);
    attrs_unref(o->ka);
    memset(o, 0, sizeof(*o));
}

/* End every operation of the session: the classic ones and the message-based processes, and
 * free the spares. */
static void ops_reset_all(struct session *s)
{
    for (int i = 0; i < OP__COUNT; i++)
        op_reset(s, (enum sea_op)i);
    spare_drop(s, OP__COUNT);
    for (int i = 0; i < MSG__COUNT; i++)
        msg_reset(s, i);
}

static void find_reset(struct session *s)
{
    free(s->find.h);
    memset(&s->find, 0, sizeof(s->find));
}

static void session_free(struct session *s)
{
    ops_reset_all(s);
    find_reset(s);
    free(s->objs);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static bool is_closed(const struct session *s)
{
    return __atomic_load_n(&s->closed, __ATOMIC_ACQUIRE);
}

/* The open session with handle h, its count raised; NULL if none. Takes the chain's lock only:
 * every change of a chain holds it too (with the core lock), so two calls on sessions of
 * different chains share no lock. */
static struct session *lookup(struct core *c, CK_SESSION_HANDLE h)
{
    union sess_bucket *b = &c->buckets[bucket(h)];
    struct session *s;
    pthread_mutex_lock(&b->lock);
    for (s = b->head; s; s = s->next)
        if (s->h == h && !s->closed)
            break;
    if (s)
        __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&b->lock);
    return s;
}

CK_RV sess_acquire(struct core *c, CK_SESSION_HANDLE h, struct session **out)
{
    struct session *s = lookup(c, h);
    if (!s)
        return err_set(ORIGIN_API, CKR_SESSION_HANDLE_INVALID, "there is no session %lu", h);
    pthread_mutex_lock(&s->lock);
    if (is_closed(s)) {
        sess_release(c, s);
        return err_set(ORIGIN_API, CKR_SESSION_CLOSED, "session %lu was closed meanwhile", h);
    }
    *out = s;
    return CKR_OK;
}

void sess_release(struct core *c, struct session *s)
{
    pthread_mutex_unlock(&s->lock);
    /* without any table lock: a session is found (and its count raised) only while the table
     * holds its reference, so the count cannot rise again once it reached zero */
    bool last = __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0;
    if (last)
        session_free(s);
}

CK_USER_TYPE sess_user(struct core *c, const struct session *s)
{
    (void)c;
    /* An atomic load rather than the core lock: every C_xxxInit reads it, and a lock written by
     * every session's calls is a cache line the CPUs take from each other. The writers hold the
     * core lock (and the SE's login lock) as before; a reader racing with a login or logout sees
     * the state before or after it, as it did when it took the lock just before or after. */
    return __atomic_load_n(&s->se->login, __ATOMIC_ACQUIRE);
}

void se_set_login(struct se *se, CK_USER_TYPE u)
{
    __atomic_store_n(&se->login, u, __ATOMIC_RELEASE);
}

CK_RV sess_sync_login(struct core *c, struct session *s, CK_RV rv)
{
    if (rv == CKR_USER_NOT_LOGGED_IN) {
        core_lock(c);
        if (s->se->login == CKU_USER)
            se_set_login(s->se, NO_USER);
        core_unlock(c);
    }
    return rv;
}

CK_RV sess_check_writable(struct core *c, struct session *s)
{
    core_refresh(c);
    core_lock(c);
    bool blocked = s->se->desc.lifecycle == SE_BLOCKED;
    core_unlock(c);
    return blocked ? err_set(ORIGIN_CORE, CKR_TOKEN_WRITE_PROTECTED,
                             "the SE is blocked (its SO PIN is locked)")
                   : CKR_OK;
}

CK_RV core_open_session(struct core *c, CK_SLOT_ID slot, CK_FLAGS flags, CK_SESSION_HANDLE *h)
{
    struct device *fd;
    if (!(flags & CKF_SERIAL_SESSION))
        return err_set(ORIGIN_API, CKR_SESSION_PARALLEL_NOT_SUPPORTED,
                       "CKF_SERIAL_SESSION must be set");
    if (flags & ~(CK_FLAGS)(CKF_SERIAL_SESSION | CKF_RW_SESSION))
        return err_set(ORIGIN_API, CKR_ARGUMENTS_BAD, "unknown session flags 0x%lx", flags);
    struct session *s = calloc(1, sizeof(*s));
    if (!s)
        return CKR_HOST_MEMORY;
    pthread_mutex_init(&s->lock, NULL);
    s->flags = flags;
    s->refs = 1;
    core_lock(c);
    struct se *se = core_slot_se(c, slot, &fd);
    CK_RV rv = CKR_OK;
    if (!se) {
        if (fd && fd->bdev)
            rv = err_set(ORIGIN_CORE, CKR_TOKEN_NOT_RECOGNIZED,
                         "slot %lu is free: initialise a token there first", slot);
        else if (fd)
            rv = err_set(ORIGIN_CORE, CKR_TOKEN_NOT_PRESENT, "%s", fd->open_err);
        else
            rv = err_set(ORIGIN_CORE, CKR_SLOT_ID_INVALID, "there is no slot %lu", slot);
    } else if (se->closing) {
        rv = err_set(ORIGIN_CORE, CKR_TOKEN_NOT_RECOGNIZED,
                     "slot %lu is being re-initialised or deleted", slot);
    } else if (!(flags & CKF_RW_SESSION) && se->login == CKU_SO) {
        rv = err_set(ORIGIN_CORE, CKR_SESSION_READ_WRITE_SO_EXISTS,
                     "the SO is logged in: only read/write sessions can be opened");
    }
    if (rv != CKR_OK) {
        core_unlock(c);
        session_free(s);
        return rv;
    }
    s->se = se;
    s->h = c->next_handle++;
    if (c->next_handle > 0x7FFFFFFFu)
        c->next_handle = 1;
    union sess_bucket *b = &c->buckets[bucket(s->h)];
    pthread_mutex_lock(&b->lock);
    s->next = b->head;
    b->head = s;
    pthread_mutex_unlock(&b->lock);
    se->nsess++;
    if (!(flags & CKF_RW_SESSION))
        se->nro++;
    *h = s->h;
    core_unlock(c);
    return CKR_OK;
}

/* Remove a session from the table (under core lock); returns whether it was the last one of
 * its SE in this context. */
static bool unlink_session(struct core *c, struct session *s)
{
    union sess_bucket *b = &c->buckets[bucket(s->h)];
    pthread_mutex_lock(&b->lock);
    struct session **pp = &b->head;
    while (*pp && *pp != s)
        pp = &(*pp)->next;
    if (*pp)
        *pp = s->next;
    __atomic_store_n(&s->closed, true, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&b->lock);
    s->se->nsess--;
    if (!(s->flags & CKF_RW_SESSION))
        s->se->nro--;
    return s->se->nsess == 0;
}

void spares_drop_se(struct core *c, struct se *se)
{
    struct session **list = NULL;
    size_t n = 0, cap = 0;
    bool short_of_memory = false;
    /* the chains change under the core lock (and their own): the core lock is enough to read */
    core_lock(c);
    for (size_t b = 0; b < SESS_BUCKETS; b++)
        for (struct session *s = c->buckets[b].head; s; s = s->next) {
            if (s->se != se || s->closed)
                continue;
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 16;
                struct session **l = realloc(list, nc * sizeof(*l));
                if (!l) {
                    short_of_memory = true;
                    continue;
                }
                list = l;
                cap = nc;
            }
            __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
            list[n++] = s;
        }
    core_unlock(c);
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&list[i]->lock);
        spare_drop(list[i], OP__COUNT);
        sess_release(c, list[i]);
    }
    free(list);
    if (short_of_memory)
        LOGW("out of memory: some sessions keep an idle operation until their next use");
}

static void logout_se(struct core *c, struct se *se)
{
    pthread_mutex_lock(&se->login_lock);
    core_lock(c);
    bool was = se->login != NO_USER && se->nsess == 0;
    if (was)
        se_set_login(se, NO_USER);
    core_unlock(c);
    if (was)
        se->dev->ops->logout(se->dev->bdev, se->seq);
    pthread_mutex_unlock(&se->login_lock);
}

/* Close a session the caller took a reference to under the core lock; the reference is
 * consumed. Whoever unlinks the session from the table tears it down; a concurrent closer
 * only drops its reference. */
static void close_one(struct core *c, struct session *s)
{
    core_lock(c);
    bool mine = !s->closed;
    bool last = mine && unlink_session(c, s);
    core_unlock(c);
    if (mine) {
        /* Wait for a call running on the session, then tear down what it holds. */
        pthread_mutex_lock(&s->lock);
        ops_reset_all(s);
        find_reset(s);
        struct se *se = s->se;
        for (size_t i = 0; i < s->nobjs; i++)
            if (se->present)
                se->dev->ops->obj_destroy(se->dev->bdev, se->seq, s->objs[i]);
        s->nobjs = 0;
        if (last)
            logout_se(c, se);
        pthread_mutex_unlock(&s->lock);
    }
    /* ours, and the table's if we unlinked it */
    bool gone = __atomic_sub_fetch(&s->refs, mine ? 2u : 1u, __ATOMIC_ACQ_REL) == 0;
    if (gone)
        session_free(s);
}

CK_RV core_close_session(struct core *c, CK_SESSION_HANDLE h)
{
    struct session *s = lookup(c, h);
    if (!s)
        return err_set(ORIGIN_API, CKR_SESSION_HANDLE_INVALID, "there is no session %lu", h);
    close_one(c, s);
    return CKR_OK;
}

CK_RV core_close_all(struct core *c, CK_SLOT_ID slot)
{
    struct device *fd;
    core_lock(c);
    struct se *se = core_slot_se(c, slot, &fd);
    if (!se && !fd) {
        core_unlock(c);
        return err_set(ORIGIN_CORE, CKR_SLOT_ID_INVALID, "there is no slot %lu", slot);
    }
    core_unlock(c);
    for (;;) {
        struct session *victim = NULL;
        core_lock(c);
        for (size_t b = 0; b < SESS_BUCKETS && !victim; b++)
            for (struct session *s = c->buckets[b].head; s && !victim; s = s->next)
                if (s->se == se && !s->closed)
                    victim = s;
        if (victim)
            __atomic_add_fetch(&victim->refs, 1, __ATOMIC_RELAXED);
        core_unlock(c);
        if (!victim)
            break;
        close_one(c, victim);
    }
    return CKR_OK;
}

void sessions_free_all(struct core *c)
{
    for (size_t b = 0; b < SESS_BUCKETS; b++) {
        struct session *s = c->buckets[b].head;
        while (s) {
            struct session *n = s->next;
            s->se->nsess = 0;
            session_free(s);
            s = n;
        }
        c->buckets[b].head = NULL;
    }
}

CK_RV core_session_info(struct core *c, CK_SESSION_HANDLE h, CK_SESSION_INFO *info)
{
    struct session *s;
    core_refresh(c); /* notice a re-initialisation by another process */
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    CK_USER_TYPE u = sess_user(c, s);
    bool rw = s->flags & CKF_RW_SESSION;
    info->slotID = s->se->slot;
    info->flags = s->flags;
    info->ulDeviceError = 0;
    if (u == CKU_SO)
        info->state = CKS_RW_SO_FUNCTIONS;
    else if (u == CKU_USER)
        info->state = rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
    else
        info->state = rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
    sess_release(c, s);
    return CKR_OK;
}

CK_RV core_session_slot(struct core *c, CK_SESSION_HANDLE h, CK_SLOT_ID *slot)
{
    struct session *s;
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    *slot = s->se->slot;
    sess_release(c, s);
    return CKR_OK;
}

static CK_RV context_login(struct core *c, struct session *s, const uint8_t *pin, size_t len)
{
    struct opstate *o = NULL;
    for (int i = 0; i < OP__COUNT; i++)
        if (s->op[i].active && s->op[i].need_context_login)
            o = &s->op[i];
    if (!o)
        return err_set(ORIGIN_CORE, CKR_OPERATION_NOT_INITIALIZED,
                       "no operation is waiting for CKU_CONTEXT_SPECIFIC");
    if (sess_user(c, s) != CKU_USER)
        return err_set(ORIGIN_CORE, CKR_USER_NOT_LOGGED_IN, "the user is not logged in");
    struct se *se = s->se;
    pthread_mutex_lock(&se->login_lock);
    /* Logging in again while logged in re-verifies the PIN, counting failures. */
    CK_RV rv = se->dev->ops->login(se->dev->bdev, se->seq, CKU_USER, pin, len);
    if (rv == CKR_PIN_LOCKED) {
        /* PKCS#11 3.0, private key objects: a re-authentication that locks the PIN logs the user
         * out. */
        core_lock(c);
        bool was = se->login != NO_USER;
        se_set_login(se, NO_USER);
        core_unlock(c);
        if (was)
            se->dev->ops->logout(se->dev->bdev, se->seq);
        ops_reset_all(s);
    }
    pthread_mutex_unlock(&se->login_lock);
    if (rv == CKR_OK)
        o->need_context_login = false;
    return err_default(ORIGIN_BACKEND, rv, "the PIN was not accepted");
}

CK_RV core_login(struct core *c, CK_SESSION_HANDLE h, CK_USER_TYPE user, const uint8_t *pin,
                 size_t len)
{
    struct session *s;
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    struct se *se = s->se;
    core_refresh(c); /* notice a re-initialisation by another process */
    if (user == CKU_CONTEXT_SPECIFIC) {
        rv = context_login(c, s, pin, len);
        goto out;
    }
    if (user != CKU_SO && user != CKU_USER) {
        rv = err_set(ORIGIN_API, CKR_USER_TYPE_INVALID, "unknown user type %lu", user);
        goto out;
    }
    pthread_mutex_lock(&se->login_lock);
    core_lock(c);
    CK_USER_TYPE cur = se->login;
    unsigned nro = se->nro;
    core_unlock(c);
    if (cur == user)
        rv = err_set(ORIGIN_CORE, CKR_USER_ALREADY_LOGGED_IN, "already logged in");
    else if (cur != NO_USER)
        rv = err_set(ORIGIN_CORE, CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
                     "the other role is logged in on this token");
    else if (user == CKU_SO && nro > 0)
        rv = err_set(ORIGIN_CORE, CKR_SESSION_READ_ONLY_EXISTS,
                     "the SO cannot log in while read-only sessions are open");
    else
        rv = se->dev->ops->login(se->dev->bdev, se->seq, user, pin, len);
    if (rv == CKR_OK) {
        core_lock(c);
        se_set_login(se, user);
        core_unlock(c);
    }
    pthread_mutex_unlock(&se->login_lock);
    err_default(ORIGIN_BACKEND, rv, "login failed");
out:
    sess_release(c, s);
    return rv;
}

CK_RV core_logout(struct core *c, CK_SESSION_HANDLE h)
{
    struct session *s;
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    struct se *se = s->se;
    pthread_mutex_lock(&se->login_lock);
    core_lock(c);
    bool was = se->login != NO_USER;
    se_set_login(se, NO_USER);
    core_unlock(c);
    if (was)
        se->dev->ops->logout(se->dev->bdev, se->seq);
    pthread_mutex_unlock(&se->login_lock);
    /* What this session was doing with the user's keys ends with the login; the idle
     * operations every session of the SE keeps are freed (the device's state tag changed, so
     * none would be restarted, but they hold key material). */
    ops_reset_all(s);
    sess_release(c, s);
    if (was)
        spares_drop_se(c, se);
    return was ? CKR_OK : err_set(ORIGIN_CORE, CKR_USER_NOT_LOGGED_IN, "nobody is logged in");
}

static CK_RV check_pin_len(const struct se *se, size_t len)
{
    const struct dev_caps *k = &se->dev->caps;
    if (len < k->min_pin || len > k->max_pin)
        return err_set(ORIGIN_CORE, CKR_PIN_LEN_RANGE, "a PIN must have %lu to %lu characters",
                       k->min_pin, k->max_pin);
    return CKR_OK;
}

CK_RV core_init_pin(struct core *c, CK_SESSION_HANDLE h, const uint8_t *pin, size_t len)
{
    struct session *s;
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    struct se *se = s->se;
    if (sess_user(c, s) != CKU_SO)
        rv = err_set(ORIGIN_CORE, CKR_USER_NOT_LOGGED_IN, "C_InitPIN needs the SO logged in");
    else if (!(s->flags & CKF_RW_SESSION))
        rv = err_set(ORIGIN_CORE, CKR_SESSION_READ_ONLY, "the session is read-only");
    else if ((rv = check_pin_len(se, len)) == CKR_OK) {
        pthread_mutex_lock(&se->login_lock);
        rv = se->dev->ops->init_pin(se->dev->bdev, se->seq, pin, len);
        pthread_mutex_unlock(&se->login_lock);
        err_default(ORIGIN_BACKEND, rv, "the user PIN could not be set");
    }
    sess_release(c, s);
    if (rv == CKR_OK)
        core_refresh(c);
    return rv;
}

CK_RV core_set_pin(struct core *c, CK_SESSION_HANDLE h, const uint8_t *old_pin, size_t old_len,
                   const uint8_t *new_pin, size_t new_len)
{
    struct session *s;
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    struct se *se = s->se;
    CK_USER_TYPE who = sess_user(c, s) == CKU_SO ? CKU_SO : CKU_USER;
    if (!(s->flags & CKF_RW_SESSION))
        rv = err_set(ORIGIN_CORE, CKR_SESSION_READ_ONLY, "the session is read-only");
    else if ((rv = sess_check_writable(c, s)) == CKR_OK &&
             (rv = check_pin_len(se, new_len)) == CKR_OK) {
        pthread_mutex_lock(&se->login_lock);
        rv = se->dev->ops->set_pin(se->dev->bdev, se->seq, who, old_pin, old_len, new_pin, new_len);
        pthread_mutex_unlock(&se->login_lock);
        err_default(ORIGIN_BACKEND, rv, "the PIN could not be changed");
    }
    sess_release(c, s);
    core_refresh(c);
    return rv;
}

CK_RV core_session_cancel(struct core *c, CK_SESSION_HANDLE h, CK_FLAGS flags)
{
    static const struct {
        CK_FLAGS flag;
        enum sea_op op;
    } map[] = {{CKF_ENCRYPT, OP_ENCRYPT},
               {CKF_DECRYPT, OP_DECRYPT},
               {CKF_SIGN, OP_SIGN},
               {CKF_VERIFY, OP_VERIFY},
               {CKF_DIGEST, OP_DIGEST}};
    struct session *s;
    CK_RV rv = sess_acquire(c, h, &s);
    if (rv != CKR_OK)
        return rv;
    for (size_t i = 0; i < ARRAY_SIZE(map); i++)
        if (flags & map[i].flag)
            op_reset(s, map[i].op);
    /* Message-based signing and verification never run: nothing to cancel for them. */
    if (flags & CKF_MESSAGE_ENCRYPT)
        msg_reset(s, MSG_ENCRYPT);
    if (flags & CKF_MESSAGE_DECRYPT)
        msg_reset(s, MSG_DECRYPT);
    if (flags & CKF_FIND_OBJECTS)
        find_reset(s);
    sess_release(c, s);
    return CKR_OK;
}

/* The library context: configuration, devices and their SEs, stable slot ids, slot and token
 * information, SE creation and deletion, and fork detection. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "core_int.h"
#include "crypto.h"
#include "error.h"
#include "log.h"

#ifdef ENABLE_SOFT
#include "../backends/soft/soft.h"
#endif

/* ---- backends ---- */

static const struct sea_backend_ops *const builtin[] = {
#ifdef ENABLE_SOFT
    &soft_backend_ops,
#endif
    NULL,
};

static const struct sea_backend_ops *extra[4];
static pthread_mutex_t extra_lock = PTHREAD_MUTEX_INITIALIZER;

void backend_register_extra(const struct sea_backend_ops *ops)
{
    pthread_mutex_lock(&extra_lock);
    for (size_t i = 0; i < ARRAY_SIZE(extra); i++) {
        if (!extra[i] || extra[i] == ops) {
            extra[i] = ops;
            break;
        }
    }
    pthread_mutex_unlock(&extra_lock);
}

const struct sea_backend_ops *backend_find(const char *name)
{
    for (size_t i = 0; builtin[i]; i++)
        if (strcmp(builtin[i]->name, name) == 0)
            return builtin[i];
    const struct sea_backend_ops *found = NULL;
    pthread_mutex_lock(&extra_lock);
    for (size_t i = 0; i < ARRAY_SIZE(extra) && extra[i] && !found; i++)
        if (strcmp(extra[i]->name, name) == 0)
            found = extra[i];
    pthread_mutex_unlock(&extra_lock);
    return found;
}

/* ---- fork detection ---- */

static unsigned long g_forkgen;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void)
{
    __atomic_add_fetch(&g_forkgen, 1, __ATOMIC_SEQ_CST);
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, on_fork_child);
}

unsigned long core_fork_generation(void)
{
    return __atomic_load_n(&g_forkgen, __ATOMIC_SEQ_CST);
}

const char *core_config_path(const struct core *c, bool *embedded)
{
    if (embedded)
        *embedded = c->cfg->embedded;
    return c->cfg->path;
}

bool core_stale(const struct core *c)
{
    return c->forkgen != core_fork_generation();
}

/* ---- locking ---- */

void core_lock(struct core *c)
{
    pthread_mutex_lock(&c->lock);
}

void core_unlock(struct core *c)
{
    pthread_mutex_unlock(&c->lock);
}

/* ---- slot ids ---- */

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* Each device gets 11 bits of slot id from its name; a clash moves the later device on. */
static void assign_slot_bases(struct core *c)
{
    for (size_t i = 0; i < c->ndevs; i++) {
        uint32_t b = name_hash(c->devs[i].name) & 0x7FFu;
        for (bool clash = true; clash;) {
            clash = false;
            for (size_t j = 0; j < i; j++)
                if (c->devs[j].slot_base == ((CK_SLOT_ID)b << SLOT_SEQ_BITS))
                    clash = true;
            if (clash)
                b = (b + 1) & 0x7FFu;
        }
        c->devs[i].slot_base = (CK_SLOT_ID)b << SLOT_SEQ_BITS;
    }
}

/* ---- configuration ---- */

static CK_RV global_options(struct core *c, size_t *secure_heap)
{
    const struct config_section *g = config_global(c->cfg);
    unsigned long v;
    CK_RV rv;
    c->pin_retries = 10;
    *secure_heap = 1u << 20;
    if (!g)
        return CKR_OK;
    for (size_t i = 0; i < g->nkv; i++) {
        const char *k = g->kv[i].key;
        if (strcmp(k, "log") && strcmp(k, "secure_heap") && strcmp(k, "pin_retries"))
            return err_set(ORIGIN_CORE, CKR_ARGUMENTS_BAD, "%s:%d: unknown key '%s' in [sea]",
                           c->cfg->path, g->kv[i].line, k);
    }
    const char *lvl = config_get(g, "log");
    if (lvl && !log_set_level_name(lvl))
        return err_set(ORIGIN_CORE, CKR_ARGUMENTS_BAD,
                       "%s: log must be none, error, warn, info or debug", c->cfg->path);
    if ((rv = config_get_ulong(g, "pin_retries", 10, 1, 100, &v)) != CKR_OK)
        return rv;
    c->pin_retries = (unsigned)v;
    if ((rv = config_get_ulong(g, "secure_heap", 1u << 20, 0, 1u << 30, &v)) != CKR_OK)
        return rv;
    /* OpenSSL wants a power of two. */
    size_t p = v ? 4096 : 0;
    while (p && p < v)
        p <<= 1;
    *secure_heap = p;
    return CKR_OK;
}

/* A backend without the wrap, unwrap or derive op offers no mechanism for it, whatever its rows
 * say (soft and mock share crypto_mechs): the core keeps its own copy of the rows without
 * those flags, so C_GetMechanismList/Info tell the truth. */
static void mask_key_ops(struct device *d)
{
    CK_FLAGS gone = (d->ops->wrap ? 0 : CKF_WRAP) | (d->ops->unwrap ? 0 : CKF_UNWRAP) |
                    (d->ops->derive ? 0 : CKF_DERIVE);
    bool any = false;
    for (size_t i = 0; i < d->caps.nmechs; i++)
        any = any || (d->caps.mechs[i].flags & gone);
    if (!any || !(d->own_mechs = calloc(d->caps.nmechs, sizeof(*d->own_mechs))))
        return; /* without the copy the core still refuses the calls themselves */
    for (size_t i = 0; i < d->caps.nmechs; i++) {
        d->own_mechs[i] = d->caps.mechs[i];
        d->own_mechs[i].flags &= ~gone;
    }
    d->caps.mechs = d->own_mechs;
}

static void open_device(struct device *d, const struct config_section *sec)
{
    const char *bname = config_get(sec, "backend");
    snprintf(d->name, sizeof(d->name), "%s", sec->name);
    d->open_rv = CKR_OK;
    if (!bname) {
        d->open_rv = CKR_ARGUMENTS_BAD;
        snprintf(d->open_err, sizeof(d->open_err), "device '%s' has no backend key", d->name);
        return;
    }
    d->ops = backend_find(bname);
    if (!d->ops) {
        d->open_rv = CKR_ARGUMENTS_BAD;
        snprintf(d->open_err, sizeof(d->open_err),
                 "device '%s': backend '%s' is not built into this libsea", d->name, bname);
        return;
    }
    err_clear();
    d->open_rv = d->ops->dev_open(d->name, sec, &d->bdev);
    if (d->open_rv != CKR_OK) {
        const struct err_rec *e = err_get();
        snprintf(d->open_err, sizeof(d->open_err), "device '%s': %.200s", d->name,
                 e->msg[0] ? e->msg : "cannot be opened");
        d->bdev = NULL;
        err_clear();
        return;
    }
    d->ops->dev_caps(d->bdev, &d->caps);
    mask_key_ops(d);
    /* SEA-R49: an SE advertises no more protection than its kind of device gives. */
    int top = se_type_max_level(d->caps.se_type);
    if (top < 0 || d->caps.max_level > (unsigned)top) {
        snprintf(d->open_err, sizeof(d->open_err),
                 "device '%s': SE type %u cannot claim security level %u", d->name, d->caps.se_type,
                 d->caps.max_level);
        d->open_rv = CKR_GENERAL_ERROR;
        d->ops->dev_close(d->bdev);
        d->bdev = NULL;
    }
}

int se_type_max_level(unsigned se_type)
{
    static const struct {
        unsigned type;
        int max_level;
    } table[] = {
        {SE_TYPE_UICC, SE_LEVEL_MAX_UICC},
        {SE_TYPE_GP_SE, SE_LEVEL_MAX_GP_SE},
        {SE_TYPE_GP_TEE, SE_LEVEL_MAX_GP_TEE},
        {SE_TYPE_SOFTWARE, SE_LEVEL_MAX_SOFTWARE},
        {SE_TYPE_TPM2_DISCRETE, SE_LEVEL_MAX_TPM2_DISCRETE},
        {SE_TYPE_TPM2_FIRMWARE, SE_LEVEL_MAX_TPM2_FIRMWARE},
        {SE_TYPE_PKCS11_HSM, SE_LEVEL_MAX_PKCS11_HSM},
    };
    for (size_t i = 0; i < ARRAY_SIZE(table); i++)
        if (table[i].type == se_type)
            return table[i].max_level;
    return -1;
}

CK_RV core_new(struct config *cfg, struct core **out)
{
    CK_RV rv;
    size_t secure_heap;
    struct core *c = calloc(1, sizeof(*c));
    if (!c) {
        config_free(cfg);
        return CKR_HOST_MEMORY;
    }
    pthread_once(&atfork_once, register_atfork);
    c->forkgen = core_fork_generation();
    c->cfg = cfg;
    c->next_handle = 1;
    pthread_mutex_init(&c->lock, NULL);
    for (size_t b = 0; b < SESS_BUCKETS; b++)
        pthread_mutex_init(&c->buckets[b].lock, NULL);
    log_init_from_env();
    if ((rv = global_options(c, &secure_heap)) != CKR_OK)
        goto fail;
    log_init_from_env(); /* the environment wins over the file */
    if ((rv = crypto_init()) != CKR_OK) {
        err_set(ORIGIN_CORE, rv, "OpenSSL could not be set up");
        goto fail;
    }
    if (secure_heap && !crypto_secure_heap(secure_heap))
        LOGW("the secure heap could not be set up: key material uses the normal heap");
    size_t ndev = 0;
    for (size_t i = 0; i < cfg->nsec; i++)
        if (strcmp(cfg->sec[i].kind, "device") == 0)
            ndev++;
    if (ndev == 0) {
        rv = err_set(ORIGIN_CORE, CKR_ARGUMENTS_BAD, "%s has no [device] section", cfg->path);
        goto fail_crypto;
    }
    if (!(c->devs = calloc(ndev, sizeof(*c->devs)))) {
        rv = CKR_HOST_MEMORY;
        goto fail_crypto;
    }
    for (size_t i = 0; i < cfg->nsec; i++)
        if (strcmp(cfg->sec[i].kind, "device") == 0)
            open_device(&c->devs[c->ndevs++], &cfg->sec[i]);
    assign_slot_bases(c);
    core_refresh(c);
    /* What exists at start is not an event. */
    for (size_t i = 0; i < c->ndevs; i++) {
        c->devs[i].free_event = false;
        for (struct se *s = c->devs[i].ses; s; s = s->next)
            s->event = false;
    }
    err_clear();
    *out = c;
    return CKR_OK;
fail_crypto:
    crypto_fini();
fail:
    config_free(cfg);
    pthread_mutex_destroy(&c->lock);
    for (size_t b = 0; b < SESS_BUCKETS; b++)
        pthread_mutex_destroy(&c->buckets[b].lock);
    free(c);
    return rv;
}

static void free_ses(struct device *d)
{
    struct se *s = d->ses;
    while (s) {
        struct se *n = s->next;
        pthread_mutex_destroy(&s->login_lock);
        free(s);
        s = n;
    }
    d->ses = NULL;
}

void core_free(struct core *c)
{
    if (!c)
        return;
    sessions_free_all(c);
    for (size_t i = 0; i < c->ndevs; i++) {
        struct device *d = &c->devs[i];
        if (d->bdev) {
            for (struct se *s = d->ses; s; s = s->next)
                if (s->login != NO_USER)
                    d->ops->logout(d->bdev, s->seq);
            d->ops->dev_close(d->bdev);
        }
        free_ses(d);
        free(d->own_mechs);
    }
    free(c->devs);
    free(c->snap);
    config_free(c->cfg);
    pthread_mutex_destroy(&c->lock);
    for (size_t b = 0; b < SESS_BUCKETS; b++)
        pthread_mutex_destroy(&c->buckets[b].lock);
    free(c);
    crypto_fini();
}

/* Contexts inherited through fork and given up: kept reachable (the memory is the parent's
 * image; freeing it would touch state shared with the parent, OpenSSL's, and a backend's that
 * dev_abandon does not release itself). */
static struct core *g_abandoned;

void core_abandon(struct core *c)
{
    /* Runs in a forked child: the parent's locks may be held by threads that do not exist
     * here, so take none; wipe what the devices unlocked and keep the rest. */
    if (!c)
        return;
    c->abandoned_next = __atomic_load_n(&g_abandoned, __ATOMIC_ACQUIRE);
    while (!__atomic_compare_exchange_n(&g_abandoned, &c->abandoned_next, c, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        ;
    /* Operations the parent's sessions had running hold key material: free it (this is the
     * child's copy of the memory; nothing shared is touched). */
    for (size_t b = 0; b < SESS_BUCKETS; b++)
        for (struct session *s = c->buckets[b].head; s; s = s->next) {
            for (int i = 0; i < OP__COUNT; i++)
                op_reset(s, (enum sea_op)i);
            spare_drop(s, OP__COUNT);
            for (int i = 0; i < MSG__COUNT; i++)
                msg_reset(s, i);
        }
    for (size_t i = 0; i < c->ndevs; i++)
        if (c->devs[i].bdev && c->devs[i].ops->dev_abandon)
            c->devs[i].ops->dev_abandon(c->devs[i].bdev);
}

/* ---- SE registry ---- */

static struct se *find_se(struct device *d, uint32_t seq)
{
    for (struct se *s = d->ses; s; s = s->next)
        if (s->seq == seq)
            return s;
    return NULL;
}

static bool desc_equal(const struct se_desc *a, const struct se_desc *b)
{
    return strcmp(a->name, b->name) == 0 && strcmp(a->se_id, b->se_id) == 0 &&
           a->lifecycle == b->lifecycle && a->pin_flags == b->pin_flags && a->level == b->level &&
           a->epoch == b->epoch;
}

/* Merge a fresh SE list into the device's registry (under core lock). */
static void merge_ses(struct device *d, struct se_desc *list, size_t n, uint32_t next_seq)
{
    for (struct se *s = d->ses; s; s = s->next) {
        bool found = false;
        for (size_t i = 0; i < n; i++)
            if (list[i].seq == s->seq)
                found = true;
        if (!found && s->present) {
            s->present = false;
            s->event = true;
            se_set_login(s, NO_USER);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (list[i].seq == 0 || list[i].seq > SLOT_SEQ_MAX)
            continue;
        struct se *s = find_se(d, list[i].seq);
        if (!s) {
            if (!(s = calloc(1, sizeof(*s))))
                continue;
            s->dev = d;
            s->seq = list[i].seq;
            s->slot = d->slot_base | s->seq;
            se_set_login(s, NO_USER);
            pthread_mutex_init(&s->login_lock, NULL);
            /* keep the list ordered by seq: slots are listed in creation order */
            struct se **pp = &d->ses;
            while (*pp && (*pp)->seq < s->seq)
                pp = &(*pp)->next;
            s->next = *pp;
            *pp = s;
            s->event = true;
        } else if (!s->present || !desc_equal(&s->desc, &list[i])) {
            s->event = true;
        }
        if (s->present && s->desc.epoch != list[i].epoch) {
            /* re-initialised elsewhere: a new owner, new objects; our login is void */
            se_set_login(s, NO_USER);
            s->event = true;
        }
        s->desc = list[i];
        s->present = true;
    }
    if (d->next_seq != next_seq)
        d->free_event = true;
    d->next_seq = next_seq;
}

CK_RV core_refresh(struct core *c)
{
    CK_RV first = CKR_OK;
    for (size_t i = 0; i < c->ndevs; i++) {
        struct device *d = &c->devs[i];
        struct se_desc *list = NULL;
        size_t n = 0;
        uint32_t next = 0;
        if (!d->bdev)
            continue;
        CK_RV rv = d->ops->se_list(d->bdev, &list, &n, &next);
        if (rv != CKR_OK) {
            if (first == CKR_OK)
                first = rv;
            continue;
        }
        core_lock(c);
        merge_ses(d, list, n, next);
        core_unlock(c);
        free(list);
    }
    return first;
}

static unsigned count_present(const struct device *d)
{
    unsigned n = 0;
    for (const struct se *s = d->ses; s; s = s->next)
        n += s->present;
    return n;
}

static bool has_free_slot(const struct device *d)
{
    return d->bdev && (d->caps.flags & DEVCAP_CREATE_SE) && count_present(d) < d->caps.max_se &&
           d->next_seq > 0 && d->next_seq <= SLOT_SEQ_MAX;
}

struct se *core_slot_se(struct core *c, CK_SLOT_ID slot, struct device **free_dev)
{
    *free_dev = NULL;
    for (size_t i = 0; i < c->ndevs; i++) {
        struct device *d = &c->devs[i];
        if ((slot & ~(CK_SLOT_ID)SLOT_SEQ_MAX) != d->slot_base)
            continue;
        uint32_t seq = (uint32_t)(slot & SLOT_SEQ_MAX);
        struct se *s = find_se(d, seq);
        if (s && s->present)
            return s;
        if (has_free_slot(d) && seq == d->next_seq)
            *free_dev = d;
        else if (!d->bdev && seq == 0)
            *free_dev = d; /* the slot of a device that failed: no token */
        return NULL;
    }
    return NULL;
}

/* ---- slots and tokens ---- */

static CK_RV build_slot_list(struct core *c, bool present, CK_SLOT_ID **out, CK_ULONG *n)
{
    size_t cap = 0;
    for (size_t i = 0; i < c->ndevs; i++)
        cap += 2 + count_present(&c->devs[i]);
    CK_SLOT_ID *v = calloc(cap ? cap : 1, sizeof(*v));
    if (!v)
        return CKR_HOST_MEMORY;
    CK_ULONG k = 0;
    for (size_t i = 0; i < c->ndevs; i++) {
        struct device *d = &c->devs[i];
        if (!d->bdev) {
            if (!present)
                v[k++] = d->slot_base;
            continue;
        }
        for (struct se *s = d->ses; s; s = s->next)
            if (s->present)
                v[k++] = s->slot;
        if (has_free_slot(d))
            v[k++] = d->slot_base | d->next_seq;
    }
    *out = v;
    *n = k;
    return CKR_OK;
}

CK_RV core_slot_list(struct core *c, bool token_present, CK_SLOT_ID *list, CK_ULONG *count)
{
    CK_RV rv = CKR_OK;
    CK_SLOT_ID *v;
    CK_ULONG n;
    /* Every call sees the devices as they are now: if an SE appeared since the caller's size
     * query, the buffer call answers CKR_BUFFER_TOO_SMALL with the new count, as PKCS#11 lets
     * it. */
    core_refresh(c);
    core_lock(c);
    if ((rv = build_slot_list(c, token_present, &v, &n)) != CKR_OK)
        goto out;
    free(c->snap);
    c->snap = v;
    c->nsnap = n;
    if (list) {
        if (*count < c->nsnap) {
            rv = CKR_BUFFER_TOO_SMALL;
        } else {
            memcpy(list, c->snap, c->nsnap * sizeof(*list));
        }
    }
    *count = c->nsnap;
out:
    core_unlock(c);
    return rv;
}

/* The SE (NULL for a free or failed slot) and device behind a slot, under core lock; NULL and
 * CKR_SLOT_ID_INVALID recorded if there is no such slot. */
static struct device *lookup_slot(struct core *c, CK_SLOT_ID slot, struct se **se)
{
    struct device *fd;
    struct se *s = core_slot_se(c, slot, &fd);
    struct device *d = s ? s->dev : fd;
    if (!d)
        err_set(ORIGIN_CORE, CKR_SLOT_ID_INVALID, "there is no slot %lu", slot);
    *se = s;
    return d;
}

static void version_of_lib(CK_VERSION *v)
{
    v->major = SEA_VERSION_MAJOR;
    v->minor = SEA_VERSION_MINOR;
}

CK_RV core_slot_info(struct core *c, CK_SLOT_ID slot, CK_SLOT_INFO *info)
{
    struct se *s;
    core_refresh(c);
    core_lock(c);
    struct device *d = lookup_slot(c, slot, &s);
    if (!d) {
        core_unlock(c);
        return CKR_SLOT_ID_INVALID;
    }
    memset(info, 0, sizeof(*info));
    char desc[96];
    if (d->bdev)
        snprintf(desc, sizeof(desc), "libsea %s device %s", d->ops->name, d->name);
    else
        snprintf(desc, sizeof(desc), "libsea device %s (unavailable, see sea-tool info)", d->name);
    sea_pad(info->slotDescription, sizeof(info->slotDescription), desc);
    sea_pad(info->manufacturerID, sizeof(info->manufacturerID), "libsea");
    info->flags = d->bdev ? CKF_TOKEN_PRESENT : 0;
    version_of_lib(&info->hardwareVersion);
    version_of_lib(&info->firmwareVersion);
    core_unlock(c);
    return CKR_OK;
}

static CK_FLAGS pin_flags(unsigned f)
{
    CK_FLAGS r = 0;
    if (f & PINF_USER_INIT)
        r |= CKF_USER_PIN_INITIALIZED;
    if (f & PINF_USER_COUNT_LOW)
        r |= CKF_USER_PIN_COUNT_LOW;
    if (f & PINF_USER_FINAL_TRY)
        r |= CKF_USER_PIN_FINAL_TRY;
    if (f & PINF_USER_LOCKED)
        r |= CKF_USER_PIN_LOCKED;
    if (f & PINF_SO_COUNT_LOW)
        r |= CKF_SO_PIN_COUNT_LOW;
    if (f & PINF_SO_FINAL_TRY)
        r |= CKF_SO_PIN_FINAL_TRY;
    if (f & PINF_SO_LOCKED)
        r |= CKF_SO_PIN_LOCKED;
    return r;
}

CK_RV core_token_info(struct core *c, CK_SLOT_ID slot, CK_TOKEN_INFO *info)
{
    struct se *s;
    core_refresh(c);
    core_lock(c);
    struct device *d = lookup_slot(c, slot, &s);
    if (!d) {
        core_unlock(c);
        return CKR_SLOT_ID_INVALID;
    }
    if (!d->bdev) {
        core_unlock(c);
        return err_set(ORIGIN_CORE, CKR_TOKEN_NOT_PRESENT, "%s", d->open_err);
    }
    memset(info, 0, sizeof(*info));
    sea_pad(info->manufacturerID, sizeof(info->manufacturerID), d->caps.manufacturer);
    sea_pad(info->model, sizeof(info->model), d->caps.model);
    info->flags = CKF_RNG | CKF_RESTORE_KEY_NOT_NEEDED;
    if (s) {
        sea_pad(info->label, sizeof(info->label), s->desc.name);
        sea_pad(info->serialNumber, sizeof(info->serialNumber), s->desc.se_id);
        info->flags |= CKF_TOKEN_INITIALIZED | CKF_LOGIN_REQUIRED | pin_flags(s->desc.pin_flags);
        if (s->desc.lifecycle == SE_BLOCKED)
            info->flags |= CKF_WRITE_PROTECTED;
        info->ulSessionCount = s->nsess;
        info->ulRwSessionCount = s->nsess - s->nro;
    } else {
        sea_pad(info->label, sizeof(info->label), "");
        sea_pad(info->serialNumber, sizeof(info->serialNumber), "");
    }
    info->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
    info->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
    info->ulMaxPinLen = d->caps.max_pin;
    info->ulMinPinLen = d->caps.min_pin;
    info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
    version_of_lib(&info->hardwareVersion);
    version_of_lib(&info->firmwareVersion);
    sea_pad(info->utcTime, sizeof(info->utcTime), "");
    core_unlock(c);
    return CKR_OK;
}

/* The device behind a slot with a usable device (SE or free slot). */
static CK_RV slot_device(struct core *c, CK_SLOT_ID slot, struct device **out)
{
    struct se *s;
    core_lock(c);
    struct device *d = lookup_slot(c, slot, &s);
    core_unlock(c);
    if (!d)
        return CKR_SLOT_ID_INVALID;
    if (!d->bdev)
        return err_set(ORIGIN_CORE, CKR_TOKEN_NOT_PRESENT, "%s", d->open_err);
    *out = d;
    return CKR_OK;
}

CK_RV core_mech_list(struct core *c, CK_SLOT_ID slot, CK_MECHANISM_TYPE *list, CK_ULONG *count)
{
    struct device *d;
    CK_RV rv = slot_device(c, slot, &d);
    return rv != CKR_OK ? rv : mech_list(&d->caps, list, count);
}

CK_RV core_mech_info(struct core *c, CK_SLOT_ID slot, CK_MECHANISM_TYPE t, CK_MECHANISM_INFO *info)
{
    struct device *d;
    CK_RV rv = slot_device(c, slot, &d);
    return rv != CKR_OK ? rv : mech_info(&d->caps, t, info);
}

CK_RV core_slot_devcaps(struct core *c, CK_SLOT_ID slot, unsigned *flags)
{
    struct device *d;
    CK_RV rv = slot_device(c, slot, &d);
    if (rv == CKR_OK)
        *flags = d->caps.flags;
    return rv;
}

/* ---- SE creation and deletion ---- */

static CK_RV check_pin_len(const struct device *d, size_t len)
{
    if (len < d->caps.min_pin || len > d->caps.max_pin)
        return err_set(ORIGIN_CORE, CKR_PIN_LEN_RANGE, "a PIN must have %lu to %lu characters",
                       d->caps.min_pin, d->caps.max_pin);
    return CKR_OK;
}

/* M2M-SE-ID (TS-0016 7.2.1): the SE type code, then a unique part; 16 characters so that it
 * is also the token serial number. */
static CK_RV make_se_id(unsigned se_type, char out[SE_ID_MAX + 1])
{
    uint8_t r[8];
    CK_RV rv = crypto_random(r, sizeof(r));
    if (rv != CKR_OK)
        return rv;
    int n = snprintf(out, SE_ID_MAX + 1, "%u", se_type);
    for (size_t i = 0; n < SE_ID_MAX; i++, n++)
        out[n] = "0123456789ABCDEF"[(r[i / 2] >> (i % 2 ? 0 : 4)) & 0xF];
    out[SE_ID_MAX] = '\0';
    return CKR_OK;
}

static bool se_id_valid(const char *id, unsigned se_type)
{
    char prefix[12];
    int n = snprintf(prefix, sizeof(prefix), "%u", se_type);
    size_t l = strlen(id);
    if (l <= (size_t)n || l > SE_ID_MAX || strncmp(id, prefix, (size_t)n) != 0)
        return false;
    for (size_t i = 0; i < l; i++) {
        char ch = id[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
              ch == '-' || ch == '.' || ch == '_'))
            return false;
    }
    return true;
}

static bool name_valid(const char *name)
{
    size_t l = strlen(name);
    if (l == 0 || l > SE_NAME_MAX)
        return false;
    for (size_t i = 0; i < l; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return false;
    return true;
}

static struct device *device_by_name(struct core *c, const char *name)
{
    for (size_t i = 0; i < c->ndevs; i++) {
        struct device *d = &c->devs[i];
        if (name ? strcmp(d->name, name) == 0 : (d->bdev && (d->caps.flags & DEVCAP_CREATE_SE)))
            return d;
    }
    return NULL;
}

static void fill_se_info(const struct se *s, struct core_se_info *out)
{
    memset(out, 0, sizeof(*out));
    out->slot = s->slot;
    out->desc = s->desc;
    snprintf(out->device, sizeof(out->device), "%s", s->dev->name);
    snprintf(out->backend, sizeof(out->backend), "%s", s->dev->ops->name);
    out->logged_in = s->login != NO_USER;
    out->user = s->login;
}

/* Create an SE at the device's next seq (the free slot). */
static CK_RV create_se(struct core *c, struct device *d, uint32_t expect_seq,
                       const struct core_se_create *p, struct core_se_info *out)
{
    CK_RV rv;
    char se_id[SE_ID_MAX + 1];
    if (!(d->caps.flags & DEVCAP_CREATE_SE))
        return err_set(ORIGIN_CORE, CKR_FUNCTION_NOT_SUPPORTED,
                       "device %s cannot create secure environments", d->name);
    if (!name_valid(p->name))
        return err_set(ORIGIN_API, CKR_ARGUMENTS_BAD, "an SE name has 1 to %d printable characters",
                       SE_NAME_MAX);
    if ((rv = check_pin_len(d, p->so_pin_len)) != CKR_OK)
        return rv;
    unsigned level = d->caps.max_level;
    if (p->level >= 0) {
        if ((unsigned)p->level > d->caps.max_level)
            return err_set(ORIGIN_API, CKR_ARGUMENTS_BAD,
                           "device %s cannot honestly claim security level %d (at most %u)",
                           d->name, p->level, d->caps.max_level);
        level = (unsigned)p->level;
    }
    if (p->se_id) {
        if (!se_id_valid(p->se_id, d->caps.se_type))
            return err_set(ORIGIN_API, CKR_ARGUMENTS_BAD,
                           "an M2M-SE-ID starts with the SE type code %u and has at most %d "
                           "characters of [0-9A-Za-z._-]",
                           d->caps.se_type, SE_ID_MAX);
        snprintf(se_id, sizeof(se_id), "%s", p->se_id);
    } else if ((rv = make_se_id(d->caps.se_type, se_id)) != CKR_OK) {
        return rv;
    }
    if (p->max_retries > 100)
        return err_set(ORIGIN_API, CKR_ARGUMENTS_BAD, "PIN tries before lockout: 1 to 100");
    if (expect_seq == 0 || expect_seq > SLOT_SEQ_MAX)
        return err_set(ORIGIN_CORE, CKR_DEVICE_MEMORY, "device %s has no free slot", d->name);
    struct se_create_params cp = {
        .name = p->name,
        .se_id = se_id,
        .level = level,
        .max_retries = p->max_retries ? p->max_retries : c->pin_retries,
        .so_pin = p->so_pin,
        .so_pin_len = p->so_pin_len,
    };
    struct se_desc desc;
    if ((rv = d->ops->se_create(d->bdev, expect_seq, &cp, &desc)) != CKR_OK)
        return err_default(ORIGIN_BACKEND, rv, "device %s could not create the SE", d->name);
    core_refresh(c);
    if (out) {
        core_lock(c);
        struct se *s = find_se(d, desc.seq);
        if (s)
            fill_se_info(s, out);
        core_unlock(c);
        if (!s)
            return err_set(ORIGIN_CORE, CKR_GENERAL_ERROR, "the new SE vanished");
    }
    LOGI("created SE %s (%s) on device %s", desc.name, desc.se_id, d->name);
    return CKR_OK;
}

CK_RV core_se_create(struct core *c, const struct core_se_create *p, struct core_se_info *out)
{
    core_refresh(c);
    core_lock(c);
    struct device *d = device_by_name(c, p->device);
    uint32_t seq = d ? d->next_seq : 0;
    bool room = d && has_free_slot(d);
    core_unlock(c);
    if (!d)
        return err_set(ORIGIN_API, CKR_ARGUMENTS_BAD,
                       p->device ? "there is no device '%s'" : "no device can create an SE%s",
                       p->device ? p->device : "");
    if (!d->bdev)
        return err_set(ORIGIN_CORE, CKR_TOKEN_NOT_PRESENT, "%s", d->open_err);
    if (!room)
        return err_set(ORIGIN_CORE, CKR_DEVICE_MEMORY, "device %s holds no more SEs", d->name);
    return create_se(c, d, seq, p, out);
}

/* Re-initialising or deleting an SE needs it free of sessions, and no session may open
 * while it happens. */
static CK_RV begin_closing(struct core *c, struct se *s, const char *what)
{
    CK_RV rv = CKR_OK;
    core_lock(c);
    if (s->nsess > 0 || s->closing)
        rv = err_set(ORIGIN_CORE, CKR_SESSION_EXISTS, "close the sessions on this SE before %s it",
                     what);
    else
        s->closing = true;
    core_unlock(c);
    return rv;
}

static void end_closing(struct core *c, struct se *s)
{
    core_lock(c);
    s->closing = false;
    core_unlock(c);
}

CK_RV core_init_token(struct core *c, CK_SLOT_ID slot, const uint8_t *pin, size_t len,
                      const char *label)
{
    struct device *fd;
    CK_RV rv;
    core_refresh(c);
    core_lock(c);
    struct se *s = core_slot_se(c, slot, &fd);
    core_unlock(c);
    if (!s && !fd)
        return err_set(ORIGIN_CORE, CKR_SLOT_ID_INVALID, "there is no slot %lu", slot);
    if (!s) {
        if (!fd->bdev)
            return err_set(ORIGIN_CORE, CKR_TOKEN_NOT_PRESENT, "%s", fd->open_err);
        struct core_se_create p = {.name = label, .level = -1, .so_pin = pin, .so_pin_len = len};
        return create_se(c, fd, (uint32_t)(slot & SLOT_SEQ_MAX), &p, NULL);
    }
    if (!name_valid(label))
        return err_set(ORIGIN_API, CKR_ARGUMENTS_BAD, "a token label must not be empty");
    if ((rv = check_pin_len(s->dev, len)) != CKR_OK)
        return rv;
    if ((rv = begin_closing(c, s, "re-initialising")) != CKR_OK)
        return rv;
    pthread_mutex_lock(&s->login_lock);
    rv = s->dev->ops->se_reinit(s->dev->bdev, s->seq, pin, len, label);
    pthread_mutex_unlock(&s->login_lock);
    end_closing(c, s);
    core_refresh(c);
    return err_default(ORIGIN_BACKEND, rv, "the token could not be re-initialised");
}

CK_RV core_se_delete(struct core *c, CK_SLOT_ID slot, const uint8_t *so_pin, size_t len)
{
    struct device *fd;
    CK_RV rv;
    core_refresh(c);
    core_lock(c);
    struct se *s = core_slot_se(c, slot, &fd);
    core_unlock(c);
    if (!s)
        return err_set(ORIGIN_API, CKR_SLOT_ID_INVALID, "there is no SE in slot %lu", slot);
    if (!(s->dev->caps.flags & DEVCAP_DELETE_SE))
        return err_set(ORIGIN_CORE, CKR_FUNCTION_NOT_SUPPORTED,
                       "device %s cannot delete secure environments", s->dev->name);
    if ((rv = begin_closing(c, s, "deleting")) != CKR_OK)
        return rv;
    pthread_mutex_lock(&s->login_lock);
    rv = s->dev->ops->se_delete(s->dev->bdev, s->seq, so_pin, len);
    pthread_mutex_unlock(&s->login_lock);
    end_closing(c, s);
    core_refresh(c);
    return err_default(ORIGIN_BACKEND, rv, "the SE could not be deleted");
}

CK_RV core_se_list(struct core *c, struct core_se_info **out, size_t *n)
{
    core_refresh(c);
    core_lock(c);
    size_t cnt = 0;
    for (size_t i = 0; i < c->ndevs; i++)
        cnt += count_present(&c->devs[i]);
    struct core_se_info *v = calloc(cnt ? cnt : 1, sizeof(*v));
    if (!v) {
        core_unlock(c);
        return CKR_HOST_MEMORY;
    }
    size_t k = 0;
    for (size_t i = 0; i < c->ndevs; i++)
        for (struct se *s = c->devs[i].ses; s; s = s->next)
            if (s->present)
                fill_se_info(s, &v[k++]);
    core_unlock(c);
    *out = v;
    *n = k;
    return CKR_OK;
}

CK_RV core_device_status(struct core *c, struct core_device_status *out, size_t *n)
{
    core_refresh(c);
    core_lock(c);
    size_t have = *n;
    for (size_t i = 0; i < c->ndevs && i < have; i++) {
        struct device *d = &c->devs[i];
        memset(&out[i], 0, sizeof(out[i]));
        snprintf(out[i].name, sizeof(out[i].name), "%s", d->name);
        snprintf(out[i].backend, sizeof(out[i].backend), "%s", d->ops ? d->ops->name : "?");
        out[i].rv = d->open_rv;
        snprintf(out[i].error, sizeof(out[i].error), "%s", d->open_err);
        out[i].nses = count_present(d);
        out[i].max_se = d->bdev ? d->caps.max_se : 0;
    }
    *n = c->ndevs;
    core_unlock(c);
    return have < c->ndevs ? CKR_BUFFER_TOO_SMALL : CKR_OK;
}

CK_RV core_slot_event(struct core *c, CK_SLOT_ID *slot)
{
    core_refresh(c);
    core_lock(c);
    for (size_t i = 0; i < c->ndevs; i++) {
        struct device *d = &c->devs[i];
        for (struct se *s = d->ses; s; s = s->next) {
            if (s->event) {
                s->event = false;
                *slot = s->slot;
                core_unlock(c);
                return CKR_OK;
            }
        }
        if (d->free_event) {
            d->free_event = false;
            *slot = d->slot_base | d->next_seq;
            core_unlock(c);
            return CKR_OK;
        }
    }
    core_unlock(c);
    return CKR_NO_EVENT;
}

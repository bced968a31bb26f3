/* The software SE backend ("soft"): SE profiles and objects in a SQLite store (store.c), secrets
 * sealed under a per-SE key (SEK) that each PIN wraps, PIN retry counters counted before the
 * check and shared by every process, caches dropped when another process writes, and the
 * mechanisms of crypto.c run outside the device lock. */
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "crypto.h"
#include "error.h"
#include "log.h"
#include "schema.h"
#include "soft.h"
#include "store.h"

#define SESSION_BIT    0x80000000u /* handles of session objects; token objects are their oid */
#define ATTR_CACHE_MAX 4096
#define UPDATE_RETRIES 8 /* obj_update retries when another writer changed the object */

static const char *const config_keys[] = {
    "backend", "path", "max_se", "kdf_iterations", "sync", "key_cache", "pin_min", "pin_max",
};

static CK_RV oom(void)
{
    return err_set(ORIGIN_BACKEND, CKR_HOST_MEMORY, "soft backend: out of memory");
}

/* ---- a small LRU map from handle to a refcounted value ---- */

struct centry {
    uint32_t key, seq;
    void *val;
    struct centry *hnext;       /* hash chain */
    struct centry *prev, *next; /* recency, most recent first */
};

struct cache {
    struct centry **bucket;
    size_t nbucket, n, max;
    struct centry *head, *tail;
    void (*drop)(void *val);
};

static CK_RV cache_init(struct cache *c, size_t max, void (*drop)(void *))
{
    size_t nb = 16;
    while (nb < max && nb < (1u << 16))
        nb *= 2;
    c->bucket = calloc(nb, sizeof(*c->bucket));
    if (!c->bucket)
        return oom();
    c->nbucket = nb;
    c->max = max;
    c->drop = drop;
    return CKR_OK;
}

static struct centry **chain(struct cache *c, uint32_t key)
{
    return &c->bucket[(key * 2654435761u) & (c->nbucket - 1)];
}

static void unlink_lru(struct cache *c, struct centry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void push_lru(struct cache *c, struct centry *e)
{
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    c->head = e;
    if (!c->tail)
        c->tail = e;
}

static void cache_del(struct cache *c, uint32_t key)
{
    if (!c->bucket)
        return;
    for (struct centry **p = chain(c, key); *p; p = &(*p)->hnext) {
        struct centry *e = *p;
        if (e->key == key) {
            *p = e->hnext;
            unlink_lru(c, e);
            c->drop(e->val);
            free(e);
            c->n--;
            return;
        }
    }
}

/* The value for key (not referenced) and the SE it belongs to, or NULL. */
static void *cache_get(struct cache *c, uint32_t key, uint32_t *seq)
{
    for (struct centry *e = *chain(c, key); e; e = e->hnext) {
        if (e->key == key) {
            unlink_lru(c, e);
            push_lru(c, e);
            *seq = e->seq;
            return e->val;
        }
    }
    return NULL;
}

/* Takes over the caller's reference to val (dropped at once when the cache is off or memory is
 * short: a cache is only ever an optimisation). */
static void cache_put(struct cache *c, uint32_t key, uint32_t seq, void *val)
{
    cache_del(c, key);
    struct centry *e = c->max ? calloc(1, sizeof(*e)) : NULL;
    if (!e) {
        c->drop(val);
        return;
    }
    if (c->n >= c->max)
        cache_del(c, c->tail->key);
    *e = (struct centry){.key = key, .seq = seq, .val = val};
    struct centry **p = chain(c, key);
    e->hnext = *p;
    *p = e;
    push_lru(c, e);
    c->n++;
}

/* Drop the entries of one SE, or all when all is true. */
static void cache_drop(struct cache *c, bool all, uint32_t seq)
{
    for (struct centry *e = c->head, *next; e; e = next) {
        next = e->next;
        if (all || e->seq == seq)
            cache_del(c, e->key);
    }
}

static void cache_free(struct cache *c)
{
    if (c->bucket)
        cache_drop(c, true, 0);
    free(c->bucket);
    c->bucket = NULL;
}

static void drop_attrs(void *v)
{
    attrs_unref(v);
}

static void drop_keymat(void *v)
{
    keymat_unref(v);
}

/* ---- the device ---- */

/* An unlocked SE key, kept from login to logout. so_wrap is the SE's SO wrap when it was
 * unlocked: if it changes the SE was re-initialised (or its SO PIN changed) elsewhere, and the
 * key may be stale. */
struct sek {
    uint32_t seq;
    uint8_t *key; /* STORE_SEK_LEN bytes in the secure heap */
    uint8_t so_wrap[STORE_WRAP_LEN];
};

/* A session object. pub and sec are never changed once published (an update swaps them), so
 * that a reference taken under the lock stays valid outside it. */
struct sobj {
    uint32_t handle, seq;
    bool priv;
    struct attrs *pub, *sec;
};

struct bdev {
    pthread_mutex_t mu;
    char *name;
    struct store *st;
    unsigned max_se, kdf_iter, pin_min, pin_max;
    int64_t dv;   /* last PRAGMA data_version seen */
    uint64_t gen; /* bumped whenever cached state is dropped */
    bool se_valid;
    struct se_row *se;
    size_t nse;
    uint32_t next_seq;
    struct sek *sek;
    size_t nsek;
    struct cache attrs, keys;
    struct sobj **sobj;
    size_t nsobj, capsobj;
    uint32_t next_session;
};

static const char *role_name(enum store_role r)
{
    return r == ROLE_SO ? "so" : "user";
}

static void lock(struct bdev *d)
{
    pthread_mutex_lock(&d->mu);
}

static void unlock(struct bdev *d)
{
    pthread_mutex_unlock(&d->mu);
}

/* A STORE_SEK_LEN buffer in the secure heap. */
static uint8_t *key_alloc(void)
{
    return OPENSSL_secure_malloc(STORE_SEK_LEN);
}

static void key_free(uint8_t *k)
{
    if (k)
        OPENSSL_secure_clear_free(k, STORE_SEK_LEN);
}

/* Blobs from attrs_encode live in the secure heap when they hold secret values. */
static void blob_free(uint8_t *p, size_t n)
{
    if (!p)
        return;
    if (CRYPTO_secure_allocated(p))
        OPENSSL_secure_clear_free(p, n);
    else
        OPENSSL_clear_free(p, n);
}

static struct sek *find_sek(struct bdev *d, uint32_t seq)
{
    for (size_t i = 0; i < d->nsek; i++)
        if (d->sek[i].seq == seq)
            return &d->sek[i];
    return NULL;
}

static void drop_sek(struct bdev *d, uint32_t seq)
{
    struct sek *k = find_sek(d, seq);
    if (!k)
        return;
    key_free(k->key);
    *k = d->sek[--d->nsek];
}

/* Forget what this process holds for an SE: its key and the key material made with it. */
static void forget_se(struct bdev *d, uint32_t seq)
{
    drop_sek(d, seq);
    cache_drop(&d->keys, false, seq);
    d->gen++;
}

static CK_RV load_se(struct bdev *d)
{
    struct se_row *rows = NULL;
    size_t n = 0;
    uint32_t next = 0;
    if (d->se_valid)
        return CKR_OK;
    CK_RV rv = store_se_list(d->st, &rows, &n);
    if (rv == CKR_OK)
        rv = store_next_seq(d->st, &next);
    if (rv != CKR_OK) {
        free(rows);
        return rv;
    }
    free(d->se);
    d->se = rows;
    d->nse = n;
    d->next_seq = next;
    d->se_valid = true;
    return CKR_OK;
}

static const struct se_row *find_se(struct bdev *d, uint32_t seq)
{
    for (size_t i = 0; i < d->nse; i++)
        if (d->se[i].seq == seq)
            return &d->se[i];
    return NULL;
}

/* Called with the lock held before serving anything cached: if another process wrote since we
 * last looked, drop every cache and every SE key whose SE was re-initialised or deleted. */
static CK_RV refresh(struct bdev *d)
{
    int64_t dv = 0;
    CK_RV rv = store_data_version(d->st, &dv);
    if (rv != CKR_OK || dv == d->dv)
        return rv;
    d->dv = dv;
    d->se_valid = false;
    cache_drop(&d->attrs, true, 0);
    cache_drop(&d->keys, true, 0);
    d->gen++;
    if ((rv = load_se(d)) != CKR_OK)
        return rv;
    for (size_t i = d->nsek; i > 0; i--) {
        struct sek *k = &d->sek[i - 1];
        const struct se_row *r = find_se(d, k->seq);
        if (!r || memcmp(r->pin[ROLE_SO].wrap, k->so_wrap, STORE_WRAP_LEN) != 0) {
            LOGI("SE %u changed in another process: its key is forgotten", k->seq);
            drop_sek(d, k->seq);
        }
    }
    return CKR_OK;
}

/* refresh + the SE row of seq (CKR_TOKEN_NOT_PRESENT if it is gone). Lock held. */
/* The SE row as this process last saw it (no data_version read). */
static CK_RV known_se(struct bdev *d, uint32_t seq, const struct se_row **out)
{
    CK_RV rv = load_se(d);
    if (rv != CKR_OK)
        return rv;
    *out = find_se(d, seq);
    if (!*out)
        return err_set(ORIGIN_BACKEND, CKR_TOKEN_NOT_PRESENT, "device %s has no SE %u", d->name,
                       seq);
    return CKR_OK;
}

static CK_RV fresh_se(struct bdev *d, uint32_t seq, const struct se_row **out)
{
    CK_RV rv = refresh(d);
    return rv != CKR_OK ? rv : known_se(d, seq, out);
}

/* Commit on success, roll back otherwise; returns the final status. */
static CK_RV end_txn(struct bdev *d, CK_RV rv)
{
    if (rv == CKR_OK)
        rv = store_commit(d->st);
    if (rv != CKR_OK)
        store_rollback(d->st);
    return rv;
}

static void desc_from_row(const struct se_row *r, struct se_desc *o)
{
    const struct pin_rec *so = &r->pin[ROLE_SO], *user = &r->pin[ROLE_USER];
    unsigned max = r->max_retries;
    memset(o, 0, sizeof(*o));
    o->seq = r->seq;
    snprintf(o->name, sizeof(o->name), "%s", r->name);
    snprintf(o->se_id, sizeof(o->se_id), "%s", r->se_id);
    o->se_type = r->se_type;
    o->level = r->level;
    o->max_retries = max;
    o->created = r->created;
    /* a process killed between the last failed try and marking the SE blocked */
    o->lifecycle = so->fail >= max ? SE_BLOCKED : r->lifecycle;
    o->so_retries_left = so->fail >= max ? 0 : max - so->fail;
    o->user_retries_left = user->fail >= max ? 0 : max - user->fail;
    if (so->fail > 0)
        o->pin_flags |= PINF_SO_COUNT_LOW;
    if (o->so_retries_left == 1)
        o->pin_flags |= PINF_SO_FINAL_TRY;
    if (o->so_retries_left == 0)
        o->pin_flags |= PINF_SO_LOCKED;
    if (user->set) {
        o->pin_flags |= PINF_USER_INIT;
        if (user->fail > 0)
            o->pin_flags |= PINF_USER_COUNT_LOW;
        if (o->user_retries_left == 1)
            o->pin_flags |= PINF_USER_FINAL_TRY;
        if (o->user_retries_left == 0)
            o->pin_flags |= PINF_USER_LOCKED;
    }
}

/* ---- device lifecycle ---- */

static void sobj_free(struct sobj *o)
{
    if (!o)
        return;
    attrs_unref(o->pub);
    attrs_unref(o->sec);
    free(o);
}

static void dev_free(struct bdev *d)
{
    if (!d)
        return;
    while (d->nsek > 0)
        drop_sek(d, d->sek[0].seq);
    free(d->sek);
    cache_free(&d->attrs);
    cache_free(&d->keys);
    for (size_t i = 0; i < d->nsobj; i++)
        sobj_free(d->sobj[i]);
    free(d->sobj);
    free(d->se);
    store_close(d->st);
    pthread_mutex_destroy(&d->mu);
    free(d->name);
    free(d);
}

/* Every key of the section must be one we know: a typo must not pass silently. */
static CK_RV check_keys(const char *name, const struct config_section *cfg)
{
    for (size_t i = 0; i < cfg->nkv; i++) {
        bool known = false;
        for (size_t k = 0; k < ARRAY_SIZE(config_keys) && !known; k++)
            known = strcmp(cfg->kv[i].key, config_keys[k]) == 0;
        if (!known)
            return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD,
                           "device %s, line %d: unknown key '%s' for the soft backend "
                           "(known: backend, path, max_se, kdf_iterations, sync, key_cache, "
                           "pin_min, pin_max)",
                           name, cfg->kv[i].line, cfg->kv[i].key);
    }
    return CKR_OK;
}

static CK_RV read_config(struct bdev *d, const struct config_section *cfg, const char **path,
                         bool *sync_full, unsigned long *key_cache)
{
    unsigned long max_se, iter, pin_min, pin_max;
    CK_RV rv = check_keys(d->name, cfg);
    if (rv != CKR_OK)
        return rv;
    *path = config_get(cfg, "path");
    if (!*path || !**path)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "device %s: no 'path' for the store",
                       d->name);
    const char *sync = config_get(cfg, "sync");
    if (sync && strcmp(sync, "normal") != 0 && strcmp(sync, "full") != 0)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD,
                       "device %s: sync must be 'normal' or 'full'", d->name);
    *sync_full = sync && strcmp(sync, "full") == 0;
    if ((rv = config_get_ulong(cfg, "max_se", 64, 1, 4096, &max_se)) != CKR_OK ||
        (rv = config_get_ulong(cfg, "kdf_iterations", 600000, 1000, 10000000, &iter)) != CKR_OK ||
        (rv = config_get_ulong(cfg, "key_cache", 128, 0, 65536, key_cache)) != CKR_OK ||
        (rv = config_get_ulong(cfg, "pin_min", 4, 1, 255, &pin_min)) != CKR_OK ||
        (rv = config_get_ulong(cfg, "pin_max", 64, pin_min, 255, &pin_max)) != CKR_OK)
        return rv;
    d->max_se = (unsigned)max_se;
    d->kdf_iter = (unsigned)iter;
    d->pin_min = (unsigned)pin_min;
    d->pin_max = (unsigned)pin_max;
    return CKR_OK;
}

static CK_RV soft_dev_open(const char *name, const struct config_section *cfg, struct bdev **out)
{
    const char *path = NULL;
    bool sync_full = false, crypto = false;
    unsigned long key_cache = 0;
    CK_RV rv;
    if (!cfg || !out)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "soft dev_open: bad arguments");
    struct bdev *d = calloc(1, sizeof(*d));
    if (!d)
        return oom();
    pthread_mutex_init(&d->mu, NULL);
    d->name = strdup(name ? name : "soft");
    if (!d->name) {
        rv = oom();
        goto out;
    }
    if ((rv = read_config(d, cfg, &path, &sync_full, &key_cache)) != CKR_OK ||
        (rv = crypto_init()) != CKR_OK)
        goto out;
    crypto = true;
    if ((rv = cache_init(&d->attrs, ATTR_CACHE_MAX, drop_attrs)) != CKR_OK ||
        (rv = cache_init(&d->keys, key_cache, drop_keymat)) != CKR_OK ||
        (rv = store_open(path, sync_full, &d->st)) != CKR_OK ||
        (rv = store_data_version(d->st, &d->dv)) != CKR_OK || (rv = load_se(d)) != CKR_OK)
        goto out;
    LOGD("device %s: soft store %s, %zu SEs", d->name, store_path(d->st), d->nse);
    *out = d;
    d = NULL;
out:
    dev_free(d);
    if (rv != CKR_OK && crypto)
        crypto_fini();
    return rv;
}

static void soft_dev_close(struct bdev *d)
{
    if (!d)
        return;
    dev_free(d);
    crypto_fini();
}

/* In a forked child: wipe what we hold in place. No lock is taken (another thread of the parent
 * may have held it at fork time), nothing is freed or closed (the database connection and
 * OpenSSL state belong to the parent). */
static void soft_dev_abandon(struct bdev *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nsek; i++)
        sea_wipe(d->sek[i].key, STORE_SEK_LEN);
    for (struct centry *e = d->keys.head; e; e = e->next) {
        struct keymat *k = e->val;
        sea_wipe(k->secret, k->secret_len);
    }
    for (size_t i = 0; i < d->nsobj; i++) {
        struct attrs *sec = d->sobj[i]->sec;
        for (size_t j = 0; sec && j < sec->n; j++)
            sea_wipe(sec->v[j].val, sec->v[j].len);
    }
}

static void soft_dev_caps(struct bdev *d, struct dev_caps *caps)
{
    if (!d || !caps)
        return;
    memset(caps, 0, sizeof(*caps));
    caps->flags =
        DEVCAP_CREATE_SE | DEVCAP_DELETE_SE | DEVCAP_STORE_DATA | DEVCAP_RNG | DEVCAP_SESSION_OBJ;
    caps->max_se = d->max_se;
    caps->se_type = 4; /* TS-0016: software library */
    caps->max_level = 1;
    caps->mechs = crypto_mechs;
    caps->nmechs = crypto_nmechs;
    caps->manufacturer = "libsea";
    caps->model = "software SE";
    caps->min_pin = d->pin_min;
    caps->max_pin = d->pin_max;
}

/* ---- SEs ---- */

static CK_RV soft_se_list(struct bdev *d, struct se_desc **out, size_t *n, uint32_t *next_seq)
{
    if (!d || !out || !n || !next_seq)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "soft se_list: bad arguments");
    lock(d);
    CK_RV rv = refresh(d);
    if (rv == CKR_OK)
        rv = load_se(d);
    if (rv != CKR_OK)
        goto out;
    struct se_desc *v = calloc(d->nse ? d->nse : 1, sizeof(*v));
    if (!v) {
        rv = oom();
        goto out;
    }
    for (size_t i = 0; i < d->nse; i++)
        desc_from_row(&d->se[i], &v[i]);
    *out = v;
    *n = d->nse;
    *next_seq = d->next_seq;
out:
    unlock(d);
    return rv;
}

static CK_RV check_pin_arg(struct bdev *d, const uint8_t *pin, size_t len, bool new_pin)
{
    if (!pin && len)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "a PIN pointer is NULL");
    if (new_pin && (len < d->pin_min || len > d->pin_max))
        return err_set(ORIGIN_BACKEND, CKR_PIN_LEN_RANGE, "a PIN must have %u to %u characters",
                       d->pin_min, d->pin_max);
    return CKR_OK;
}

/* "sea/sek/v1/<role>/<se_id>": the AAD that binds a wrapped SEK to its SE and role. */
static size_t sek_aad(char *buf, size_t size, enum store_role role, const char *se_id)
{
    int n = snprintf(buf, size, "sea/sek/v1/%s/%s", role_name(role), se_id);
    return n < 0 ? 0 : (size_t)n;
}

/* A new PIN record for `role`: fresh salt, KEK = PBKDF2(pin), the SEK sealed under it. Runs
 * PBKDF2: never call with the lock held. */
static CK_RV make_pin(struct bdev *d, enum store_role role, const char *se_id, const uint8_t *pin,
                      size_t len, const uint8_t *sek, struct pin_rec *p)
{
    char aad[64];
    size_t wlen = 0;
    uint8_t *kek = key_alloc();
    CK_RV rv = kek ? CKR_OK : oom();
    memset(p, 0, sizeof(*p));
    p->iter = d->kdf_iter;
    if (rv == CKR_OK)
        rv = crypto_random(p->salt, sizeof(p->salt));
    if (rv == CKR_OK)
        rv = crypto_pbkdf2(pin ? pin : (const uint8_t *)"", len, p->salt, sizeof(p->salt), p->iter,
                           kek, STORE_SEK_LEN);
    if (rv == CKR_OK)
        rv = crypto_seal(kek, (const uint8_t *)aad, sek_aad(aad, sizeof(aad), role, se_id), sek,
                         STORE_SEK_LEN, p->wrap, &wlen);
    if (rv == CKR_OK && wlen != STORE_WRAP_LEN)
        rv = err_set(ORIGIN_BACKEND, CKR_GENERAL_ERROR, "unexpected wrapped key size %zu", wlen);
    p->set = rv == CKR_OK;
    key_free(kek);
    return rv;
}

static CK_RV check_create_params(struct bdev *d, const struct se_create_params *p)
{
    if (!p->name || strlen(p->name) > SE_NAME_MAX)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "an SE name has at most %d bytes",
                       SE_NAME_MAX);
    if (!p->se_id || !*p->se_id || strlen(p->se_id) > SE_ID_MAX)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "an SE id has 1 to %d characters",
                       SE_ID_MAX);
    if (p->level > 1)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD,
                       "a software SE cannot claim security level %u (at most 1)", p->level);
    if (p->max_retries < 1 || p->max_retries > 255)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "max_retries must be 1 to 255");
    return check_pin_arg(d, p->so_pin, p->so_pin_len, true);
}

static CK_RV soft_se_create(struct bdev *d, uint32_t expect_seq, const struct se_create_params *p,
                            struct se_desc *out)
{
    struct se_row row;
    uint8_t *sek = NULL;
    uint32_t next = 0;
    unsigned count = 0;
    CK_RV rv;
    if (!d || !p || !out)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "soft se_create: bad arguments");
    if ((rv = check_create_params(d, p)) != CKR_OK)
        return rv;
    memset(&row, 0, sizeof(row));
    snprintf(row.name, sizeof(row.name), "%s", p->name);
    snprintf(row.se_id, sizeof(row.se_id), "%s", p->se_id);
    row.se_type = 4;
    row.level = p->level;
    row.lifecycle = SE_PERSONALIZATION;
    row.max_retries = p->max_retries;
    row.created = sea_time();
    /* the expensive part first, outside lock and transaction */
    if (!(sek = key_alloc())) {
        rv = oom();
        goto out;
    }
    if ((rv = crypto_random(sek, STORE_SEK_LEN)) != CKR_OK ||
        (rv = make_pin(d, ROLE_SO, row.se_id, p->so_pin, p->so_pin_len, sek, &row.pin[ROLE_SO])) !=
            CKR_OK)
        goto out;
    lock(d);
    if ((rv = store_begin(d->st)) == CKR_OK) {
        if ((rv = store_next_seq(d->st, &next)) == CKR_OK && next != expect_seq)
            rv = err_set(ORIGIN_BACKEND, CKR_SLOT_ID_INVALID,
                         "slot %u of device %s was taken by another process (next is %u)",
                         expect_seq, d->name, next);
        if (rv == CKR_OK && (rv = store_se_count(d->st, &count)) == CKR_OK && count >= d->max_se)
            rv = err_set(ORIGIN_BACKEND, CKR_DEVICE_MEMORY, "device %s holds %u SEs (max_se)",
                         d->name, count);
        if (rv == CKR_OK && next == UINT32_MAX)
            rv = err_set(ORIGIN_BACKEND, CKR_DEVICE_MEMORY, "device %s: no SE numbers left",
                         d->name);
        row.seq = next;
        if (rv == CKR_OK && (rv = store_se_insert(d->st, &row)) == CKR_OK)
            rv = store_set_next_seq(d->st, next + 1);
        rv = end_txn(d, rv);
    }
    d->se_valid = false;
    unlock(d);
    if (rv == CKR_OK) {
        desc_from_row(&row, out);
        LOGI("device %s: created SE %u (%s)", d->name, row.seq, row.se_id);
    }
out:
    key_free(sek);
    return rv;
}

/* ---- PINs ---- */

/* What a verified PIN gives: the SEK, the KEK it was unwrapped with, the wrap that was opened
 * (to detect a concurrent change) and the SE's SO wrap (to detect a re-initialisation). */
struct verified {
    uint8_t *sek, *kek; /* secure heap */
    uint8_t wrap[STORE_WRAP_LEN];
    uint8_t so_wrap[STORE_WRAP_LEN];
    char se_id[SE_ID_MAX + 1];
};

static void verified_clear(struct verified *v)
{
    key_free(v->sek);
    key_free(v->kek);
    v->sek = v->kek = NULL;
}

/* Transaction 1 of a PIN check: refuse a locked PIN, else count the try and commit, so that a
 * process killed during PBKDF2 has still used it up. Copies what the check needs into v. */
static CK_RV count_try(struct bdev *d, uint32_t seq, enum store_role role, struct pin_rec *pin,
                       unsigned *max, struct verified *v)
{
    struct se_row row;
    bool found = false;
    lock(d);
    CK_RV rv = refresh(d);
    if (rv == CKR_OK && (rv = store_begin(d->st)) == CKR_OK) {
        rv = store_se_get(d->st, seq, &row, &found);
        if (rv == CKR_OK && !found)
            rv = err_set(ORIGIN_BACKEND, CKR_TOKEN_NOT_PRESENT, "device %s has no SE %u", d->name,
                         seq);
        else if (rv == CKR_OK && !row.pin[role].set)
            rv = err_set(ORIGIN_BACKEND, CKR_USER_PIN_NOT_INITIALIZED, "SE %s has no user PIN yet",
                         row.name);
        else if (rv == CKR_OK && row.pin[role].fail >= row.max_retries)
            rv = err_set(ORIGIN_BACKEND, CKR_PIN_LOCKED,
                         "the %s PIN of SE %s is locked after %u failed tries", role_name(role),
                         row.name, row.max_retries);
        if (rv == CKR_OK)
            rv = store_pin_fail(d->st, seq, role);
        rv = end_txn(d, rv);
    }
    d->se_valid = false;
    unlock(d);
    if (rv != CKR_OK)
        return rv;
    *pin = row.pin[role];
    *max = row.max_retries;
    memcpy(v->wrap, pin->wrap, STORE_WRAP_LEN);
    memcpy(v->so_wrap, row.pin[ROLE_SO].wrap, STORE_WRAP_LEN);
    snprintf(v->se_id, sizeof(v->se_id), "%s", row.se_id);
    return CKR_OK;
}

/* Verify the PIN of `role` (counted before the check; see count_try). On success v holds the
 * SEK and KEK (verified_clear them) and the counter is back to 0. */
static CK_RV verify_pin(struct bdev *d, uint32_t seq, enum store_role role, const uint8_t *pin,
                        size_t len, struct verified *v)
{
    struct pin_rec rec;
    unsigned max = 0;
    size_t sek_len = 0;
    char aad[64];
    bool changed = false;
    memset(v, 0, sizeof(*v));
    CK_RV rv = count_try(d, seq, role, &rec, &max, v);
    if (rv != CKR_OK)
        return rv;
    v->sek = key_alloc();
    v->kek = key_alloc();
    uint8_t *pt = OPENSSL_secure_malloc(STORE_WRAP_LEN);
    if (!v->sek || !v->kek || !pt) {
        rv = oom();
        goto out;
    }
    /* no lock, no transaction: PBKDF2 takes its time */
    if ((rv = crypto_pbkdf2(pin ? pin : (const uint8_t *)"", len, rec.salt, sizeof(rec.salt),
                            rec.iter, v->kek, STORE_SEK_LEN)) != CKR_OK)
        goto out;
    bool clean = err_get()->rv == CKR_OK;
    rv = crypto_open(v->kek, (const uint8_t *)aad, sek_aad(aad, sizeof(aad), role, v->se_id),
                     rec.wrap, STORE_WRAP_LEN, pt, &sek_len);
    if (rv == CKR_ENCRYPTED_DATA_INVALID) {
        unsigned left = rec.fail + 1 >= max ? 0 : max - rec.fail - 1;
        if (role == ROLE_SO && left == 0) {
            lock(d);
            CK_RV brv = store_begin(d->st);
            if (brv == CKR_OK)
                brv = end_txn(d, store_se_block(d->st, seq));
            d->se_valid = false;
            unlock(d);
            if (brv == CKR_OK)
                LOGI("device %s: SE %u is blocked (SO PIN locked)", d->name, seq);
        }
        if (clean)
            err_clear(); /* a seal that does not open means a wrong PIN here */
        rv = err_set(ORIGIN_BACKEND, CKR_PIN_INCORRECT, "wrong %s PIN (%u tries left)",
                     role_name(role), left);
        goto out;
    }
    if (rv != CKR_OK)
        goto out;
    if (sek_len != STORE_SEK_LEN) {
        rv =
            err_set(ORIGIN_BACKEND, CKR_DEVICE_ERROR, "SE %u: the wrapped key has a bad size", seq);
        goto out;
    }
    memcpy(v->sek, pt, STORE_SEK_LEN);
    lock(d);
    if ((rv = store_begin(d->st)) == CKR_OK)
        rv = end_txn(d, store_pin_reset(d->st, seq, role, rec.wrap, &changed));
    d->se_valid = false;
    unlock(d);
    if (rv == CKR_OK && !changed)
        rv = err_set(ORIGIN_BACKEND, CKR_PIN_INCORRECT,
                     "the %s PIN of SE %u was changed by another process meanwhile",
                     role_name(role), seq);
out:
    if (pt)
        OPENSSL_secure_clear_free(pt, STORE_WRAP_LEN);
    if (rv != CKR_OK)
        verified_clear(v);
    return rv;
}

static CK_RV role_of(CK_USER_TYPE user, bool context_ok, enum store_role *role)
{
    if (user == CKU_SO)
        *role = ROLE_SO;
    else if (user == CKU_USER || (context_ok && user == CKU_CONTEXT_SPECIFIC))
        *role = ROLE_USER;
    else
        return err_set(ORIGIN_BACKEND, CKR_USER_TYPE_INVALID, "unknown user type %lu", user);
    return CKR_OK;
}

/* Keep the SEK of a verified PIN for this process (replacing an older one). */
static CK_RV keep_sek(struct bdev *d, uint32_t seq, struct verified *v)
{
    struct sek *k = find_sek(d, seq);
    if (!k) {
        struct sek *nv = realloc(d->sek, (d->nsek + 1) * sizeof(*nv));
        if (!nv)
            return oom();
        d->sek = nv;
        k = &d->sek[d->nsek++];
        k->seq = seq;
        k->key = NULL;
    }
    key_free(k->key);
    k->key = v->sek; /* ownership moves */
    v->sek = NULL;
    memcpy(k->so_wrap, v->so_wrap, STORE_WRAP_LEN);
    return CKR_OK;
}

static CK_RV soft_login(struct bdev *d, uint32_t seq, CK_USER_TYPE user, const uint8_t *pin,
                        size_t len)
{
    struct verified v;
    enum store_role role = ROLE_USER;
    if (!d)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "soft login: bad arguments");
    CK_RV rv = role_of(user, true, &role);
    if (rv == CKR_OK)
        rv = check_pin_arg(d, pin, len, false);
    if (rv != CKR_OK)
        return rv;
    if ((rv = verify_pin(d, seq, role, pin, len, &v)) != CKR_OK)
        return rv;
    lock(d);
    rv = keep_sek(d, seq, &v);
    unlock(d);
    verified_clear(&v);
    return rv;
}

static void soft_logout(struct bdev *d, uint32_t seq)
{
    if (!d)
        return;
    lock(d);
    forget_se(d, seq);
    unlock(d);
}

static CK_RV soft_init_pin(struct bdev *d, uint32_t seq, const uint8_t *pin, size_t len)
{
    struct pin_rec rec;
    uint8_t guard[STORE_WRAP_LEN];
    char se_id[SE_ID_MAX + 1];
    const struct se_row *r;
    bool changed = false;
    if (!d)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "soft init_pin: bad arguments");
    CK_RV rv = check_pin_arg(d, pin, len, true);
    if (rv != CKR_OK)
        return rv;
    uint8_t *sek = key_alloc();
    if (!sek)
        return oom();
    lock(d);
    rv = fresh_se(d, seq, &r);
    struct sek *k = rv == CKR_OK ? find_sek(d, seq) : NULL;
    if (rv == CKR_OK && !k)
        rv = err_set(ORIGIN_BACKEND, CKR_USER_NOT_LOGGED_IN,
                     "setting the user PIN needs the SO logged in on SE %s", r->name);
    if (rv == CKR_OK) {
        memcpy(sek, k->key, STORE_SEK_LEN);
        memcpy(guard, k->so_wrap, STORE_WRAP_LEN);
        snprintf(se_id, sizeof(se_id), "%s", r->se_id);
    }
    unlock(d);
    if (rv != CKR_OK || (rv = make_pin(d, ROLE_USER, se_id, pin, len, sek, &rec)) != CKR_OK)
        goto out;
    lock(d);
    if ((rv = store_begin(d->st)) == CKR_OK)
        rv = end_txn(d, store_pin_set(d->st, seq, ROLE_USER, &rec, ROLE_SO, guard, &changed));
    d->se_valid = false;
    if (rv == CKR_OK && !changed) {
        forget_se(d, seq);
        rv = err_set(ORIGIN_BACKEND, CKR_USER_NOT_LOGGED_IN,
                     "SE %u was re-initialised by another process: log in again", seq);
    }
    unlock(d);
out:
    key_free(sek);
    return rv;
}

static CK_RV soft_set_pin(struct bdev *d, uint32_t seq, CK_USER_TYPE user, const uint8_t *old_pin,
                          size_t old_len, const uint8_t *new_pin, size_t new_len)
{
    struct verified v = {0};
    struct pin_rec rec;
    enum store_role role = ROLE_USER;
    bool changed = false;
    if (!d)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "soft set_pin: bad arguments");
    CK_RV rv = role_of(user, false, &role);
    if (rv == CKR_OK)
        rv = check_pin_arg(d, old_pin, old_len, false);
    if (rv == CKR_OK)
        rv = check_pin_arg(d, new_pin, new_len, true);
    if (rv != CKR_OK || (rv = verify_pin(d, seq, role, old_pin, old_len, &v)) != CKR_OK ||
        (rv = make_pin(d, role, v.se_id, new_pin, new_len, v.sek, &rec)) != CKR_OK)
        goto out;
    lock(d);
    if ((rv = store_begin(d->st)) == CKR_OK)
        rv = end_txn(d, store_pin_set(d->st, seq, role, &rec, role, v.wrap, &changed));
    d->se_valid = false;
    if (rv == CKR_OK && !changed)
        rv = err_set(ORIGIN_BACKEND, CKR_FUNCTION_FAILED,
                     "the %s PIN of SE %u was changed by another process meanwhile",
                     role_name(role), seq);
    /* our own SO wrap changed: keep the key we hold valid */
    struct sek *k = find_sek(d, seq);
    if (rv == CKR_OK && role == ROLE_SO && k)
        memcpy(k->so_wrap, rec.wrap, STORE_WRAP_LEN);
    unlock(d);
out:
    verified_clear(&v);
    return rv;
}

/* Session objects of an SE go with it (re-initialised or deleted). Lock held. */
static void drop_sobjs(struct bdev *d, uint32_t seq)
{
    for (size_t i = d->nsobj; i > 0; i--) {
        if (d->sobj[i - 1]->seq != seq)
            continue;
        cache_del(&d->keys, d->sobj[i - 1]->handle);
        sobj_free(d->sobj[i - 1]);
        d->sobj[i - 1] = d->sobj[--d->nsobj];
    }
}

static CK_RV soft_se_reinit(struct bdev *d, uint32_t seq, const uint8_t *so_pin, size_t len,
                            const char *name)
{
    struct verified v = {0};
    uint8_t new_wrap[STORE_WRAP_LEN];
    char aad[64];
    size_t wlen = 0;
    bool changed = false;
    uint8_t *sek = NULL;
    if (!d || !name || strlen(name) > SE_NAME_MAX)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD,
                       "soft se_reinit: bad arguments (a name has at most %d bytes)", SE_NAME_MAX);
    CK_RV rv = check_pin_arg(d, so_pin, len, false);
    if (rv != CKR_OK || (rv = verify_pin(d, seq, ROLE_SO, so_pin, len, &v)) != CKR_OK)
        goto out;
    /* a new SEK under the same SO PIN: every old secret becomes unreadable */
    if (!(sek = key_alloc())) {
        rv = oom();
        goto out;
    }
    if ((rv = crypto_random(sek, STORE_SEK_LEN)) != CKR_OK ||
        (rv = crypto_seal(v.kek, (const uint8_t *)aad, sek_aad(aad, sizeof(aad), ROLE_SO, v.se_id),
                          sek, STORE_SEK_LEN, new_wrap, &wlen)) != CKR_OK)
        goto out;
    lock(d);
    if ((rv = store_begin(d->st)) == CKR_OK) {
        rv = store_obj_delete_se(d->st, seq);
        if (rv == CKR_OK)
            rv = store_se_reinit(d->st, seq, name, new_wrap, v.wrap, &changed);
        if (rv == CKR_OK && !changed)
            rv = err_set(ORIGIN_BACKEND, CKR_FUNCTION_FAILED,
                         "SE %u was changed by another process meanwhile", seq);
        rv = end_txn(d, rv);
    }
    if (rv == CKR_OK) {
        forget_se(d, seq);
        drop_sobjs(d, seq);
        cache_drop(&d->attrs, false, seq);
    }
    d->se_valid = false;
    unlock(d);
    if (rv == CKR_OK)
        LOGI("device %s: SE %u re-initialised", d->name, seq);
out:
    key_free(sek);
    verified_clear(&v);
    return rv;
}

static CK_RV soft_se_delete(struct bdev *d, uint32_t seq, const uint8_t *so_pin, size_t len)
{
    struct verified v = {0};
    bool changed = false;
    if (!d)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "soft se_delete: bad arguments");
    CK_RV rv = check_pin_arg(d, so_pin, len, false);
    if (rv != CKR_OK || (rv = verify_pin(d, seq, ROLE_SO, so_pin, len, &v)) != CKR_OK)
        goto out;
    lock(d);
    if ((rv = store_begin(d->st)) == CKR_OK) {
        rv = store_obj_delete_se(d->st, seq);
        if (rv == CKR_OK)
            rv = store_se_delete(d->st, seq, v.wrap, &changed);
        if (rv == CKR_OK && !changed)
            rv = err_set(ORIGIN_BACKEND, CKR_FUNCTION_FAILED,
                         "SE %u was changed by another process meanwhile", seq);
        rv = end_txn(d, rv);
    }
    if (rv == CKR_OK) {
        forget_se(d, seq);
        drop_sobjs(d, seq);
        cache_drop(&d->attrs, false, seq);
    }
    d->se_valid = false;
    unlock(d);
    if (rv == CKR_OK)
        LOGI("device %s: SE %u deleted", d->name, seq);
out:
    verified_clear(&v);
    return rv;
}

/* ---- object encoding ---- */

/* Which attributes of an object a store must protect: what the schema calls secret, and any
 * value the core already placed in the secure heap. */
struct split {
    const struct attrs *a;
    CK_OBJECT_CLASS cls;
    bool priv;
};

static struct split split_of(const struct attrs *a)
{
    return (struct split){
        .a = a,
        .cls = attrs_get_ulong(a, CKA_CLASS, CKO_DATA),
        .priv = attrs_get_bool(a, CKA_PRIVATE, true),
    };
}

static bool is_secret(const struct split *sp, CK_ATTRIBUTE_TYPE t)
{
    const struct attr *x = attrs_find(sp->a, t);
    return schema_is_secret(sp->cls, sp->priv, t) || (x && x->secret);
}

static bool keep_public(CK_ATTRIBUTE_TYPE t, void *ctx)
{
    return !is_secret(ctx, t);
}

static bool keep_secret(CK_ATTRIBUTE_TYPE t, void *ctx)
{
    return is_secret(ctx, t);
}

static bool has_secret(const struct split *sp)
{
    for (size_t i = 0; i < sp->a->n; i++)
        if (is_secret(sp, sp->a->v[i].type))
            return true;
    return false;
}

/* "sea/obj/v1/<se_id>/<CKA_UNIQUE_ID>": binds a sealed blob to its SE and its object, so that
 * a blob copied onto another row (or into another SE) does not open. */
static CK_RV obj_aad(const char *se_id, const struct attrs *a, uint8_t **out, size_t *len)
{
    static const char prefix[] = "sea/obj/v1/";
    const struct attr *uid = attrs_find(a, CKA_UNIQUE_ID);
    if (!uid || uid->len == 0)
        return err_set(ORIGIN_BACKEND, CKR_TEMPLATE_INCOMPLETE,
                       "an object with secret attributes needs a CKA_UNIQUE_ID");
    size_t plen = strlen(prefix), slen = strlen(se_id);
    size_t n = plen + slen + 1 + uid->len;
    uint8_t *p = malloc(n);
    if (!p)
        return oom();
    memcpy(p, prefix, plen);
    memcpy(p + plen, se_id, slen);
    p[plen + slen] = '/';
    memcpy(p + plen + slen + 1, uid->val, uid->len);
    *out = p;
    *len = n;
    return CKR_OK;
}

/* Rows built by make_row hold an attrs_encode blob and a malloc'd sealed blob. */
static void made_row_clear(struct obj_row *r)
{
    blob_free(r->attrs, r->attrs_len);
    free(r->secret);
    r->attrs = r->secret = NULL;
}

/* The row of an object: indexed columns, the encoded public attributes and, when it has secret
 * ones, those sealed under sek (CKR_USER_NOT_LOGGED_IN without one). Runs AES-GCM: call
 * without the lock. r->id and r->label point into a. */
static CK_RV make_row(const struct attrs *a, uint32_t seq, const char *se_id, const uint8_t *sek,
                      struct obj_row *r)
{
    struct split sp = split_of(a);
    uint8_t *plain = NULL, *aad = NULL;
    size_t plen = 0, alen = 0;
    CK_RV rv;
    memset(r, 0, sizeof(*r));
    r->se = seq;
    r->cls = sp.cls;
    r->priv = sp.priv;
    const struct attr *kt = attrs_find(a, CKA_KEY_TYPE), *id = attrs_find(a, CKA_ID),
                      *label = attrs_find(a, CKA_LABEL);
    if (kt && kt->len == sizeof(CK_ULONG)) {
        r->has_key_type = true;
        memcpy(&r->key_type, kt->val, sizeof(CK_ULONG));
    }
    if (id) {
        r->id = id->val;
        r->id_len = id->len;
    }
    if (label) {
        r->label = label->val;
        r->label_len = label->len;
    }
    if ((rv = attrs_encode(a, keep_public, &sp, &r->attrs, &r->attrs_len)) != CKR_OK ||
        !has_secret(&sp))
        goto out;
    if (!sek) {
        rv = err_set(ORIGIN_BACKEND, CKR_USER_NOT_LOGGED_IN,
                     "storing secret attributes needs the user (or SO) logged in");
        goto out;
    }
    if ((rv = obj_aad(se_id, a, &aad, &alen)) != CKR_OK ||
        (rv = attrs_encode(a, keep_secret, &sp, &plain, &plen)) != CKR_OK)
        goto out;
    if (!(r->secret = malloc(plen + SEAL_OVERHEAD))) {
        rv = oom();
        goto out;
    }
    rv = crypto_seal(sek, aad, alen, plain, plen, r->secret, &r->secret_len);
out:
    blob_free(plain, plen);
    free(aad);
    if (rv != CKR_OK)
        made_row_clear(r);
    return rv;
}

static CK_RV integrity_err(const char *se_name, int64_t oid)
{
    return err_set(ORIGIN_BACKEND, CKR_DEVICE_ERROR,
                   "object %lld in SE %s: stored data fails its integrity check", (long long)oid,
                   se_name);
}

/* Decode a row's public attributes, checking them against the row's class column. */
static CK_RV decode_pub(const struct obj_row *row, const char *se_name, struct attrs **out)
{
    struct attrs *a = NULL;
    if (attrs_decode(row->attrs, row->attrs_len, false, &a) != CKR_OK ||
        attrs_get_ulong(a, CKA_CLASS, (CK_ULONG)-1) != row->cls) {
        attrs_unref(a);
        LOGE("object %lld: public attributes do not decode", (long long)row->oid);
        return integrity_err(se_name, row->oid);
    }
    *out = a;
    return CKR_OK;
}

/* Open a row's sealed secret attributes (values in the secure heap). Runs AES-GCM: call
 * without the lock. */
static CK_RV open_secret(const struct obj_row *row, const struct attrs *pub, const char *se_id,
                         const char *se_name, const uint8_t *sek, struct attrs **out)
{
    uint8_t *aad = NULL, *pt = NULL;
    size_t alen = 0, ptlen = 0;
    CK_RV rv = CKR_OK;
    if (row->secret_len < SEAL_OVERHEAD || obj_aad(se_id, pub, &aad, &alen) != CKR_OK) {
        rv = integrity_err(se_name, row->oid);
        goto out;
    }
    if (!(pt = OPENSSL_secure_malloc(row->secret_len))) {
        rv = oom();
        goto out;
    }
    bool clean = err_get()->rv == CKR_OK;
    rv = crypto_open(sek, aad, alen, row->secret, row->secret_len, pt, &ptlen);
    if (rv == CKR_ENCRYPTED_DATA_INVALID ||
        (rv == CKR_OK && attrs_decode(pt, ptlen, true, out) != CKR_OK)) {
        LOGE("object %lld: secret attributes do not open", (long long)row->oid);
        if (clean)
            err_clear(); /* say which object is damaged, not that a seal failed */
        rv = integrity_err(se_name, row->oid);
    }
out:
    if (pt)
        OPENSSL_secure_clear_free(pt, row->secret_len);
    free(aad);
    return rv;
}

/* ---- object lookup (lock held) ---- */

static bool token_handle(CK_OBJECT_HANDLE h)
{
    return h > 0 && h < SESSION_BIT;
}

static struct sobj *find_sobj(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h, size_t *idx)
{
    for (size_t i = 0; i < d->nsobj; i++) {
        if (d->sobj[i]->handle == h) {
            if (idx)
                *idx = i;
            return d->sobj[i]->seq == seq ? d->sobj[i] : NULL;
        }
    }
    return NULL;
}

static CK_RV handle_err(CK_OBJECT_HANDLE h, uint32_t seq)
{
    return err_set(ORIGIN_BACKEND, CKR_OBJECT_HANDLE_INVALID, "no object %lu in SE %u", h, seq);
}

/* Token object h of SE se: its public attributes (a new reference, from the cache when there
 * and no row is wanted) and, when row is given, its row. CKR_OBJECT_HANDLE_INVALID if h is not an
 * object of se. */
static CK_RV get_obj(struct bdev *d, const struct se_row *se, CK_OBJECT_HANDLE h,
                     struct obj_row *row, struct attrs **pub)
{
    struct obj_row tmp = {0};
    struct obj_row *r = row ? row : &tmp;
    uint32_t cseq = 0;
    bool found = false;
    CK_RV rv;
    if (!token_handle(h))
        return handle_err(h, se->seq);
    struct attrs *cached = cache_get(&d->attrs, (uint32_t)h, &cseq);
    if (cached && cseq != se->seq)
        return handle_err(h, se->seq);
    if (cached && !row) {
        *pub = attrs_ref(cached);
        return CKR_OK;
    }
    /* with the row, the attributes come from that same row (a writer may have been faster than
     * our data_version check) */
    if ((rv = store_obj_get(d->st, (int64_t)h, r, &found)) != CKR_OK)
        return rv;
    if (!found || r->se != se->seq) {
        rv = handle_err(h, se->seq);
        goto out;
    }
    if ((rv = decode_pub(r, se->name, pub)) != CKR_OK)
        goto out;
    cache_put(&d->attrs, (uint32_t)h, se->seq, attrs_ref(*pub));
out:
    if (rv != CKR_OK || !row)
        store_obj_row_clear(r);
    return rv;
}

/* Is there an object of the same class and label in the SE, token or session? */
static CK_RV label_taken(struct bdev *d, uint32_t seq, const struct attrs *a, bool *taken)
{
    CK_OBJECT_CLASS cls = attrs_get_ulong(a, CKA_CLASS, CKO_DATA);
    const struct attr *label = attrs_find(a, CKA_LABEL);
    CK_RV rv = store_obj_label_exists(d->st, seq, cls, label ? label->val : NULL,
                                      label ? label->len : 0, taken);
    for (size_t i = 0; rv == CKR_OK && !*taken && i < d->nsobj; i++) {
        const struct sobj *o = d->sobj[i];
        const struct attr *l = attrs_find(o->pub, CKA_LABEL);
        if (o->seq != seq || attrs_get_ulong(o->pub, CKA_CLASS, CKO_DATA) != cls)
            continue;
        *taken =
            label ? (l && l->len == label->len && memcmp(l->val, label->val, l->len) == 0) : !l;
    }
    return rv;
}

/* ---- creating objects ---- */

/* A session object's attribute sets: public values, and secret ones in the secure heap. */
static CK_RV split_sets(const struct attrs *a, struct attrs **pub, struct attrs **sec)
{
    struct split sp = split_of(a);
    CK_RV rv = CKR_OK;
    *pub = attrs_new();
    *sec = has_secret(&sp) ? attrs_new() : NULL;
    if (!*pub || (has_secret(&sp) && !*sec))
        rv = oom();
    for (size_t i = 0; rv == CKR_OK && i < a->n; i++) {
        const struct attr *x = &a->v[i];
        rv = is_secret(&sp, x->type) ? attrs_set_secret(*sec, x->type, x->val, x->len)
                                     : attrs_set(*pub, x->type, x->val, x->len);
    }
    if (rv != CKR_OK) {
        attrs_unref(*pub);
        attrs_unref(*sec);
        *pub = *sec = NULL;
    }
    return rv;
}

static CK_RV make_sobj(const struct attrs *a, uint32_t seq, struct sobj **out)
{
    struct sobj *o = calloc(1, sizeof(*o));
    if (!o)
        return oom();
    CK_RV rv = split_sets(a, &o->pub, &o->sec);
    if (rv != CKR_OK) {
        free(o);
        return rv;
    }
    o->seq = seq;
    o->priv = attrs_get_bool(a, CKA_PRIVATE, true);
    *out = o;
    return CKR_OK;
}

/* An object to store: the caller's attributes and OBJ_* flags in, its handle out. */
struct newobj {
    const struct attrs *a;
    unsigned flags;
    CK_OBJECT_HANDLE h;
    struct obj_row row; /* token object */
    struct sobj *so;    /* session object */
};

static CK_RV check_new(const struct newobj *o)
{
    const struct attr *cls = o->a ? attrs_find(o->a, CKA_CLASS) : NULL;
    if (!o->a || (o->flags & ~(unsigned)(OBJ_SESSION | OBJ_UNIQUE_LABEL)))
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "soft: bad object arguments");
    if (!cls || cls->len != sizeof(CK_ULONG))
        return err_set(ORIGIN_BACKEND, CKR_TEMPLATE_INCOMPLETE, "an object needs a CKA_CLASS");
    return CKR_OK;
}

/* Inside a write transaction: is the SEK we sealed with still the SE's? guard is the SE's SO
 * wrap when the SEK was unlocked; it changes when another process re-initialises the SE. */
static CK_RV sek_current(struct bdev *d, uint32_t seq, const uint8_t *guard)
{
    struct se_row cur;
    bool found = false;
    CK_RV rv = store_se_get(d->st, seq, &cur, &found);
    if (rv == CKR_OK && (!found || memcmp(cur.pin[ROLE_SO].wrap, guard, STORE_WRAP_LEN) != 0))
        rv = err_set(ORIGIN_BACKEND, CKR_USER_NOT_LOGGED_IN,
                     "SE %u was re-initialised by another process: log in again", seq);
    return rv;
}

/* Inside the write transaction (lock held): uniqueness, the SEK still being the SE's, the
 * token inserts and room for the session objects. */
static CK_RV insert_objects(struct bdev *d, uint32_t seq, struct newobj *o, size_t n,
                            const uint8_t *guard)
{
    bool taken = false;
    size_t nsession = 0;
    CK_RV rv = CKR_OK;
    for (size_t i = 0; i < n && rv == CKR_OK; i++) {
        if ((o[i].flags & OBJ_UNIQUE_LABEL) &&
            (rv = label_taken(d, seq, o[i].a, &taken)) == CKR_OK && taken)
            rv = err_set(ORIGIN_BACKEND, CKR_SEA_EXISTS,
                         "SE %u already has an object of that class and label", seq);
    }
    if (rv == CKR_OK && guard)
        rv = sek_current(d, seq, guard);
    for (size_t i = 0; i < n && rv == CKR_OK; i++) {
        int64_t oid = 0;
        if (o[i].so) {
            nsession++;
            continue;
        }
        if ((rv = store_obj_insert(d->st, &o[i].row, &oid)) == CKR_OK && oid >= SESSION_BIT)
            rv = err_set(ORIGIN_BACKEND, CKR_DEVICE_MEMORY,
                         "device %s has used up its object numbers", d->name);
        o[i].h = (CK_OBJECT_HANDLE)oid;
    }
    if (rv == CKR_OK && nsession > SESSION_BIT - 1 - d->next_session)
        rv = err_set(ORIGIN_BACKEND, CKR_DEVICE_MEMORY,
                     "device %s has used up its session object handles", d->name);
    if (rv == CKR_OK && d->nsobj + nsession > d->capsobj) {
        size_t cap = d->capsobj ? d->capsobj * 2 : 16;
        while (cap < d->nsobj + nsession)
            cap *= 2;
        struct sobj **nv = realloc(d->sobj, cap * sizeof(*nv));
        if (!nv)
            rv = oom();
        else {
            d->sobj = nv;
            d->capsobj = cap;
        }
    }
    return rv;
}

/* Store objects of one SE: token ones in one transaction, session ones in memory; all or
 * nothing. Sealing runs before the lock is taken. */
static CK_RV add_objects(struct bdev *d, uint32_t seq, struct newobj *o, size_t n)
{
    const struct se_row *r;
    char se_id[SE_ID_MAX + 1] = "";
    uint8_t guard[STORE_WRAP_LEN];
    bool have_sek = false, use_sek = false, any_token = false;
    CK_RV rv = CKR_OK;
    uint8_t *sek = key_alloc();
    if (!sek)
        return oom();
    for (size_t i = 0; i < n && rv == CKR_OK; i++)
        rv = check_new(&o[i]);
    if (rv != CKR_OK)
        goto out;
    lock(d);
    rv = fresh_se(d, seq, &r);
    struct sek *k = rv == CKR_OK ? find_sek(d, seq) : NULL;
    if (rv == CKR_OK)
        snprintf(se_id, sizeof(se_id), "%s", r->se_id);
    if (k) {
        memcpy(sek, k->key, STORE_SEK_LEN);
        memcpy(guard, k->so_wrap, STORE_WRAP_LEN);
        have_sek = true;
    }
    unlock(d);
    for (size_t i = 0; i < n && rv == CKR_OK; i++) {
        if (o[i].flags & OBJ_SESSION) {
            rv = make_sobj(o[i].a, seq, &o[i].so);
        } else {
            any_token = true;
            rv = make_row(o[i].a, seq, se_id, have_sek ? sek : NULL, &o[i].row);
            use_sek |= o[i].row.secret != NULL;
        }
    }
    if (rv != CKR_OK)
        goto out;
    lock(d);
    if (!any_token || (rv = store_begin(d->st)) == CKR_OK) {
        rv = insert_objects(d, seq, o, n, use_sek ? guard : NULL);
        if (any_token)
            rv = end_txn(d, rv);
    }
    for (size_t i = 0; i < n && rv == CKR_OK; i++) {
        if (!o[i].so)
            continue;
        o[i].so->handle = SESSION_BIT | ++d->next_session;
        o[i].h = o[i].so->handle;
        d->sobj[d->nsobj++] = o[i].so;
        o[i].so = NULL;
    }
    unlock(d);
out:
    for (size_t i = 0; i < n; i++) {
        made_row_clear(&o[i].row);
        sobj_free(o[i].so);
        o[i].so = NULL;
    }
    key_free(sek);
    return rv;
}

static CK_RV soft_obj_create(struct bdev *d, uint32_t seq, const struct attrs *a, unsigned flags,
                             CK_OBJECT_HANDLE *out)
{
    struct newobj o = {.a = a, .flags = flags};
    if (!d || !out)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "soft obj_create: bad arguments");
    CK_RV rv = add_objects(d, seq, &o, 1);
    if (rv == CKR_OK)
        *out = o.h;
    return rv;
}

static CK_RV soft_generate(struct bdev *d, uint32_t seq, const CK_MECHANISM *m, struct attrs *pub,
                           unsigned pub_flags, struct attrs *priv, unsigned priv_flags,
                           CK_OBJECT_HANDLE *hpub, CK_OBJECT_HANDLE *hpriv)
{
    struct newobj o[2] = {{.a = pub, .flags = pub_flags}, {.a = priv, .flags = priv_flags}};
    const struct se_row *r;
    if (!d || !m || !priv || !hpriv || (pub && !hpub))
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "soft generate: bad arguments");
    /* a token key will be sealed: refuse before generating rather than after */
    lock(d);
    CK_RV rv = fresh_se(d, seq, &r);
    if (rv == CKR_OK && !(priv_flags & OBJ_SESSION) && !find_sek(d, seq))
        rv = err_set(ORIGIN_BACKEND, CKR_USER_NOT_LOGGED_IN,
                     "storing a generated key needs the user logged in on SE %s", r->name);
    unlock(d);
    if (rv != CKR_OK)
        return rv;
    rv = pub ? crypto_generate_key_pair(m, pub, priv) : crypto_generate_key(m, priv);
    if (rv != CKR_OK)
        return rv;
    if ((rv = add_objects(d, seq, pub ? o : o + 1, pub ? 2 : 1)) != CKR_OK)
        return rv;
    if (pub)
        *hpub = o[0].h;
    *hpriv = o[1].h;
    return CKR_OK;
}

/* ---- reading, changing and destroying objects ---- */

static CK_RV soft_obj_destroy(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h)
{
    struct sobj *so = NULL;
    size_t idx = 0;
    bool found = false;
    CK_RV rv = CKR_OK;
    if (!d)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "soft obj_destroy: bad arguments");
    lock(d);
    if (!token_handle(h)) {
        if ((so = find_sobj(d, seq, h, &idx)) != NULL)
            d->sobj[idx] = d->sobj[--d->nsobj];
        else
            rv = handle_err(h, seq);
    } else if ((rv = store_begin(d->st)) == CKR_OK) {
        rv = end_txn(d, store_obj_delete(d->st, seq, (int64_t)h, &found));
        cache_del(&d->attrs, (uint32_t)h);
        if (rv == CKR_OK && !found)
            rv = handle_err(h, seq);
    }
    cache_del(&d->keys, (uint32_t)h);
    unlock(d);
    sobj_free(so);
    return rv;
}

static CK_RV soft_obj_attrs(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h, struct attrs **out)
{
    const struct se_row *r;
    if (!d || !out)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "soft obj_attrs: bad arguments");
    lock(d);
    CK_RV rv = CKR_OK;
    if (!token_handle(h)) {
        struct sobj *so = find_sobj(d, seq, h, NULL);
        if (so)
            *out = attrs_ref(so->pub);
        else
            rv = handle_err(h, seq);
    } else if ((rv = fresh_se(d, seq, &r)) == CKR_OK) {
        rv = get_obj(d, r, h, NULL, out);
    }
    unlock(d);
    return rv;
}

/* A new set holding only attribute t of src (secret, in the secure heap). */
static CK_RV one_secret(const struct attrs *src, CK_ATTRIBUTE_TYPE t, struct attrs **out)
{
    const struct attr *x = attrs_find(src, t);
    if (!x)
        return err_set(ORIGIN_BACKEND, CKR_ATTRIBUTE_TYPE_INVALID,
                       "the object has no secret attribute 0x%lx", t);
    struct attrs *a = attrs_new();
    CK_RV rv = a ? attrs_set_secret(a, t, x->val, x->len) : oom();
    if (rv != CKR_OK) {
        attrs_unref(a);
        return rv;
    }
    *out = a;
    return CKR_OK;
}

/* What reading a token object's secrets needs, gathered under the lock. */
struct secret_ctx {
    struct obj_row row;
    struct attrs *pub;
    uint8_t *sek;                  /* secure heap; NULL when not logged in */
    uint8_t guard[STORE_WRAP_LEN]; /* the SE's SO wrap when sek was unlocked */
    char se_id[SE_ID_MAX + 1];
    char se_name[SE_NAME_MAX + 1];
};

static void secret_ctx_clear(struct secret_ctx *c)
{
    store_obj_row_clear(&c->row);
    attrs_unref(c->pub);
    key_free(c->sek);
    c->pub = NULL;
    c->sek = NULL;
}

/* Lock held: the row, public attributes and (if this process holds it) the SEK of object h. */
static CK_RV gather(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h, struct secret_ctx *c)
{
    const struct se_row *r;
    memset(c, 0, sizeof(*c));
    CK_RV rv = fresh_se(d, seq, &r);
    if (rv != CKR_OK || (rv = get_obj(d, r, h, &c->row, &c->pub)) != CKR_OK)
        return rv;
    snprintf(c->se_id, sizeof(c->se_id), "%s", r->se_id);
    snprintf(c->se_name, sizeof(c->se_name), "%s", r->name);
    struct sek *k = find_sek(d, seq);
    if (k) {
        if (!(c->sek = key_alloc()))
            return oom();
        memcpy(c->sek, k->key, STORE_SEK_LEN);
        memcpy(c->guard, k->so_wrap, STORE_WRAP_LEN);
    }
    return CKR_OK;
}

static CK_RV soft_obj_secret(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE t,
                             struct attrs **out)
{
    struct secret_ctx c = {0};
    struct attrs *sec = NULL;
    CK_RV rv = CKR_OK;
    if (!d || !out)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "soft obj_secret: bad arguments");
    lock(d);
    if (!token_handle(h)) {
        struct sobj *so = find_sobj(d, seq, h, NULL);
        if (!so)
            rv = handle_err(h, seq);
        else if (so->priv && !find_sek(d, seq))
            rv = err_set(ORIGIN_BACKEND, CKR_USER_NOT_LOGGED_IN, "the object is private");
        else
            sec = attrs_ref(so->sec);
        unlock(d);
        goto out;
    }
    rv = gather(d, seq, h, &c);
    unlock(d);
    if (rv != CKR_OK)
        goto out;
    if (!c.row.secret)
        rv = err_set(ORIGIN_BACKEND, CKR_ATTRIBUTE_TYPE_INVALID, "the object has no secrets");
    else if (!c.sek)
        rv = err_set(ORIGIN_BACKEND, CKR_USER_NOT_LOGGED_IN,
                     "reading a secret needs the user logged in on SE %s", c.se_name);
    else
        rv = open_secret(&c.row, c.pub, c.se_id, c.se_name, c.sek, &sec);
out:
    if (rv == CKR_OK)
        rv = one_secret(sec, t, out);
    attrs_unref(sec);
    secret_ctx_clear(&c);
    return rv;
}

/* Does applying `changes` touch what is sealed: a secret value, or what decides which values
 * are secret or what the seal is bound to (class, CKA_PRIVATE, CKA_UNIQUE_ID)? */
static bool touches_secrets(const struct split *after, const struct attrs *changes)
{
    for (size_t i = 0; i < changes->n; i++) {
        CK_ATTRIBUTE_TYPE t = changes->v[i].type;
        if (t == CKA_CLASS || t == CKA_PRIVATE || t == CKA_UNIQUE_ID || changes->v[i].secret ||
            is_secret(after, t))
            return true;
    }
    return false;
}

/* The updated row of a token object, built outside the lock. Secrets are opened and sealed
 * again only when the change touches them; otherwise the sealed blob is kept as it is. The row
 * points into *full, which the caller keeps until the row is written. */
static CK_RV updated_row(const struct secret_ctx *c, uint32_t seq, const struct attrs *changes,
                         struct obj_row *nr, bool *resealed, struct attrs **full_out)
{
    struct attrs *full = attrs_dup(c->pub), *sec = NULL;
    CK_RV rv = full ? attrs_merge(full, changes) : oom();
    memset(nr, 0, sizeof(*nr));
    if (rv != CKR_OK)
        goto out;
    struct split after = split_of(full);
    *resealed = touches_secrets(&after, changes);
    if (*resealed && c->row.secret) {
        if (!c->sek) {
            rv = err_set(ORIGIN_BACKEND, CKR_USER_NOT_LOGGED_IN,
                         "changing a secret needs the user logged in on SE %s", c->se_name);
            goto out;
        }
        /* rebuild as public + old secrets + changes, the changes winning */
        attrs_unref(full);
        full = NULL;
        if ((rv = open_secret(&c->row, c->pub, c->se_id, c->se_name, c->sek, &sec)) != CKR_OK)
            goto out;
        full = attrs_dup(c->pub);
        rv = full ? attrs_merge(full, sec) : oom();
        if (rv == CKR_OK)
            rv = attrs_merge(full, changes);
        if (rv != CKR_OK)
            goto out;
    }
    if ((rv = make_row(full, seq, c->se_id, *resealed ? c->sek : NULL, nr)) != CKR_OK)
        goto out;
    nr->oid = c->row.oid;
    if (!*resealed && c->row.secret) {
        if (!(nr->secret = malloc(c->row.secret_len))) {
            rv = oom();
            goto out;
        }
        memcpy(nr->secret, c->row.secret, c->row.secret_len);
        nr->secret_len = c->row.secret_len;
    }
    *full_out = full;
    full = NULL;
out:
    if (rv != CKR_OK)
        made_row_clear(nr);
    attrs_unref(sec);
    attrs_unref(full);
    return rv;
}

static bool same_blob(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return (a == NULL) == (b == NULL) && alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* Inside the write transaction: is the row still the one the update was computed from? */
static CK_RV still_same(struct bdev *d, const struct obj_row *old, bool *same)
{
    struct obj_row cur;
    bool found = false;
    CK_RV rv = store_obj_get(d->st, old->oid, &cur, &found);
    if (rv != CKR_OK)
        return rv;
    if (!found || cur.se != old->se)
        rv = handle_err((CK_OBJECT_HANDLE)old->oid, old->se);
    *same = rv == CKR_OK && same_blob(cur.attrs, cur.attrs_len, old->attrs, old->attrs_len) &&
            same_blob(cur.secret, cur.secret_len, old->secret, old->secret_len);
    store_obj_row_clear(&cur);
    return rv;
}

static CK_RV update_sobj(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h,
                         const struct attrs *changes)
{
    struct attrs *full = NULL, *pub = NULL, *sec = NULL;
    struct sobj *so = find_sobj(d, seq, h, NULL);
    if (!so)
        return handle_err(h, seq);
    full = attrs_dup(so->pub);
    CK_RV rv = full ? attrs_merge(full, so->sec) : oom();
    if (rv == CKR_OK)
        rv = attrs_merge(full, changes);
    if (rv == CKR_OK)
        rv = split_sets(full, &pub, &sec);
    if (rv == CKR_OK) {
        /* swap, never modify: op_init may hold references to the old sets */
        attrs_unref(so->pub);
        attrs_unref(so->sec);
        so->pub = pub;
        so->sec = sec;
        so->priv = attrs_get_bool(full, CKA_PRIVATE, true);
        cache_del(&d->keys, (uint32_t)h);
    }
    attrs_unref(full);
    return rv;
}

static CK_RV soft_obj_update(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h,
                             const struct attrs *changes)
{
    struct secret_ctx c = {0};
    struct obj_row nr = {0};
    struct attrs *full = NULL;
    CK_RV rv = CKR_OK;
    if (!d || !changes)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "soft obj_update: bad arguments");
    if (!token_handle(h)) {
        lock(d);
        rv = update_sobj(d, seq, h, changes);
        unlock(d);
        return rv;
    }
    /* Optimistic: compute outside the lock, write if the row did not change meanwhile. */
    for (int tries = 0;; tries++) {
        bool same = false, resealed = false;
        lock(d);
        rv = gather(d, seq, h, &c);
        unlock(d);
        if (rv != CKR_OK || (rv = updated_row(&c, seq, changes, &nr, &resealed, &full)) != CKR_OK)
            break;
        lock(d);
        if ((rv = store_begin(d->st)) == CKR_OK) {
            rv = still_same(d, &c.row, &same);
            if (rv == CKR_OK && same && resealed && nr.secret)
                rv = sek_current(d, seq, c.guard);
            if (rv == CKR_OK && same)
                rv = store_obj_update(d->st, &nr);
            rv = end_txn(d, rv);
        }
        if (rv == CKR_OK && same) {
            cache_del(&d->attrs, (uint32_t)h);
            cache_del(&d->keys, (uint32_t)h);
        }
        unlock(d);
        made_row_clear(&nr);
        attrs_unref(full);
        full = NULL;
        secret_ctx_clear(&c);
        if (rv != CKR_OK || same)
            break;
        if (tries + 1 >= UPDATE_RETRIES) {
            rv = err_set(ORIGIN_BACKEND, CKR_FUNCTION_FAILED,
                         "object %lu kept changing in another process", h);
            break;
        }
    }
    made_row_clear(&nr);
    attrs_unref(full);
    secret_ctx_clear(&c);
    return rv;
}

/* ---- finding objects ---- */

struct find_ctx {
    struct bdev *d;
    const CK_ATTRIBUTE *tmpl;
    CK_ULONG n;
    bool match; /* attributes beyond the indexed columns: attrs_match each candidate */
    CK_OBJECT_HANDLE *v;
    size_t cnt, cap;
};

static CK_RV push(struct find_ctx *f, CK_OBJECT_HANDLE h)
{
    if (f->cnt == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        CK_OBJECT_HANDLE *nv = realloc(f->v, cap * sizeof(*nv));
        if (!nv)
            return oom();
        f->v = nv;
        f->cap = cap;
    }
    f->v[f->cnt++] = h;
    return CKR_OK;
}

static CK_RV find_row(void *ctx, int64_t oid, const uint8_t *blob, size_t len)
{
    struct find_ctx *f = ctx;
    uint32_t cseq = 0;
    if (oid <= 0 || oid >= SESSION_BIT)
        return CKR_OK;
    if (f->match) {
        struct attrs *a = cache_get(&f->d->attrs, (uint32_t)oid, &cseq), *decoded = NULL;
        if (!a && attrs_decode(blob, len, false, &decoded) != CKR_OK) {
            /* reported when the object itself is used; the find goes on */
            LOGW("object %lld does not decode: left out of the find", (long long)oid);
            return CKR_OK;
        }
        bool ok = attrs_match(a ? a : decoded, f->tmpl, f->n);
        attrs_unref(decoded);
        if (!ok)
            return CKR_OK;
    }
    return push(f, (CK_OBJECT_HANDLE)oid);
}

/* The indexed attributes of a template as query columns. false: nothing can match (a value of
 * a size no stored attribute has). *match: other attributes remain for attrs_match. */
static bool plan_query(const CK_ATTRIBUTE *t, CK_ULONG n, struct store_query *q, bool *match)
{
    *match = false;
    for (CK_ULONG i = 0; i < n; i++) {
        const CK_ATTRIBUTE *x = &t[i];
        unsigned bit = x->type == CKA_CLASS      ? STORE_F_CLASS
                       : x->type == CKA_KEY_TYPE ? STORE_F_KEY_TYPE
                       : x->type == CKA_ID       ? STORE_F_ID
                       : x->type == CKA_LABEL    ? STORE_F_LABEL
                       : x->type == CKA_PRIVATE  ? STORE_F_PRIVATE
                                                 : 0;
        if (!bit || (q->flags & bit)) {
            *match = true;
            continue;
        }
        if (x->ulValueLen == CK_UNAVAILABLE_INFORMATION || (!x->pValue && x->ulValueLen))
            return false;
        if (bit == STORE_F_CLASS || bit == STORE_F_KEY_TYPE) {
            if (x->ulValueLen != sizeof(CK_ULONG))
                return false;
            memcpy(bit == STORE_F_CLASS ? &q->cls : &q->key_type, x->pValue, sizeof(CK_ULONG));
        } else if (bit == STORE_F_PRIVATE) {
            if (x->ulValueLen != sizeof(CK_BBOOL))
                return false;
            q->priv = *(const CK_BBOOL *)x->pValue != CK_FALSE;
        } else if (bit == STORE_F_ID) {
            q->id = x->pValue;
            q->id_len = x->ulValueLen;
        } else {
            q->label = x->pValue;
            q->label_len = x->ulValueLen;
        }
        q->flags |= bit;
    }
    return true;
}

static CK_RV soft_obj_find(struct bdev *d, uint32_t seq, const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                           bool with_private, CK_OBJECT_HANDLE **out, size_t *count)
{
    struct store_query q = {.se = seq};
    struct find_ctx f = {.d = d, .tmpl = tmpl, .n = n};
    const struct se_row *r;
    if (!d || !out || !count || (n && !tmpl))
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "soft obj_find: bad arguments");
    bool possible = plan_query(tmpl, n, &q, &f.match);
    if (!with_private)
        q.flags |= STORE_F_PUBLIC_ONLY;
    if (f.match)
        q.flags |= STORE_F_ATTRS;
    lock(d);
    CK_RV rv = fresh_se(d, seq, &r);
    if (rv == CKR_OK && possible)
        rv = store_obj_find(d->st, &q, find_row, &f);
    for (size_t i = 0; rv == CKR_OK && possible && i < d->nsobj; i++) {
        const struct sobj *o = d->sobj[i];
        if (o->seq == seq && (with_private || !o->priv) && attrs_match(o->pub, tmpl, n))
            rv = push(&f, o->handle);
    }
    unlock(d);
    if (rv == CKR_OK && !f.v && !(f.v = malloc(sizeof(*f.v))))
        rv = oom();
    if (rv != CKR_OK) {
        free(f.v);
        return rv;
    }
    *out = f.v;
    *count = f.cnt;
    return CKR_OK;
}

/* ---- operations ---- */

struct bop {
    struct cop *c;
};

static bool is_key_class(CK_OBJECT_CLASS c)
{
    return c == CKO_PUBLIC_KEY || c == CKO_PRIVATE_KEY || c == CKO_SECRET_KEY;
}

static CK_RV not_a_key(CK_OBJECT_HANDLE h)
{
    return err_set(ORIGIN_BACKEND, CKR_KEY_HANDLE_INVALID, "object %lu is not a key", h);
}

/* The key material of a session object (lock held on entry, released on return). */
static CK_RV sobj_keymat(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h, struct keymat **out)
{
    struct attrs *pub = NULL, *sec = NULL;
    uint32_t cseq = 0;
    uint64_t gen = d->gen;
    struct sobj *so = find_sobj(d, seq, h, NULL);
    CK_OBJECT_CLASS cls = so ? attrs_get_ulong(so->pub, CKA_CLASS, CKO_DATA) : CKO_DATA;
    bool logged_in = find_sek(d, seq) != NULL;
    CK_RV rv = CKR_OK;
    struct keymat *k = so ? cache_get(&d->keys, (uint32_t)h, &cseq) : NULL;
    if (!so)
        rv = handle_err(h, seq);
    else if (!is_key_class(cls))
        rv = not_a_key(h);
    else if (cls != CKO_PUBLIC_KEY && so->priv && !logged_in)
        rv = err_set(ORIGIN_BACKEND, CKR_USER_NOT_LOGGED_IN, "the key is private");
    else if (k)
        *out = keymat_ref(k);
    else {
        pub = attrs_ref(so->pub);
        sec = attrs_ref(so->sec);
    }
    unlock(d);
    if (rv != CKR_OK || k)
        return rv;
    rv = keymat_from_attrs(pub, sec, &k);
    attrs_unref(pub);
    attrs_unref(sec);
    if (rv != CKR_OK)
        return rv;
    lock(d);
    if (logged_in && d->gen == gen && find_sobj(d, seq, h, NULL) && find_sek(d, seq))
        cache_put(&d->keys, (uint32_t)h, seq, keymat_ref(k));
    unlock(d);
    *out = k;
    return CKR_OK;
}

/* The key material of token object h: from the cache, or read, opened and built outside the
 * lock (and cached if the SE is logged in and nothing was dropped meanwhile). */
/* Key material for an operation. `checked` (see backend.h op_init) spares the data_version read
 * when it is still the attribute cache's entry for h: the cache is dropped whenever another
 * process's write is seen, so an unchanged entry means nothing newer has been seen since. */
static CK_RV get_keymat(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h,
                        const struct attrs *checked, struct keymat **out)
{
    struct secret_ctx c = {0};
    struct attrs *sec = NULL;
    struct keymat *k = NULL;
    const struct se_row *r;
    uint32_t cseq = 0;
    lock(d);
    if (!token_handle(h))
        return sobj_keymat(d, seq, h, out); /* releases the lock */
    uint32_t aseq = 0;
    bool current = checked && cache_get(&d->attrs, (uint32_t)h, &aseq) == checked && aseq == seq;
    CK_RV rv = current ? known_se(d, seq, &r) : fresh_se(d, seq, &r);
    if (rv == CKR_OK && (k = cache_get(&d->keys, (uint32_t)h, &cseq)) != NULL) {
        if (cseq == seq)
            *out = keymat_ref(k);
        else
            rv = handle_err(h, seq);
        unlock(d);
        return rv;
    }
    uint64_t gen = d->gen;
    if (rv == CKR_OK)
        rv = gather(d, seq, h, &c);
    unlock(d);
    if (rv != CKR_OK)
        goto out;
    CK_OBJECT_CLASS cls = attrs_get_ulong(c.pub, CKA_CLASS, CKO_DATA);
    if (!is_key_class(cls)) {
        rv = not_a_key(h);
        goto out;
    }
    if ((c.row.secret || cls != CKO_PUBLIC_KEY) && !c.sek) {
        rv = err_set(ORIGIN_BACKEND, CKR_USER_NOT_LOGGED_IN,
                     "using this key needs the user logged in on SE %s", c.se_name);
        goto out;
    }
    if ((c.row.secret &&
         (rv = open_secret(&c.row, c.pub, c.se_id, c.se_name, c.sek, &sec)) != CKR_OK) ||
        (rv = keymat_from_attrs(c.pub, sec, &k)) != CKR_OK)
        goto out;
    lock(d);
    if (c.sek && d->gen == gen && find_sek(d, seq))
        cache_put(&d->keys, (uint32_t)h, seq, keymat_ref(k));
    unlock(d);
    *out = k;
out:
    attrs_unref(sec);
    secret_ctx_clear(&c);
    return rv;
}

static CK_RV soft_op_init(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h, enum sea_op op,
                          const CK_MECHANISM *m, const struct attrs *checked, struct bop **out)
{
    struct keymat *k = NULL;
    struct cop *c = NULL;
    struct bop *b = NULL;
    CK_RV rv;
    if (!d || !m || !out || (unsigned)op >= OP__COUNT)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "soft op_init: bad arguments");
    /* the crypto runs without the device lock: keymats are refcounted */
    if ((op != OP_DIGEST && (rv = get_keymat(d, seq, h, checked, &k)) != CKR_OK) ||
        (rv = cop_new(k, op, m, &c)) != CKR_OK)
        goto out;
    if (!(b = malloc(sizeof(*b)))) {
        rv = oom();
        goto out;
    }
    b->c = c;
    c = NULL;
    *out = b;
out:
    cop_free(c);
    keymat_unref(k);
    return rv;
}

static size_t soft_op_outlen(struct bop *op, int phase, size_t inlen)
{
    return op ? cop_outlen(op->c, phase, inlen) : 0;
}

static CK_RV soft_op_update(struct bop *op, const uint8_t *in, size_t inlen, uint8_t *out,
                            size_t *outlen)
{
    if (!op || (!in && inlen) || !outlen)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "soft op_update: bad arguments");
    return cop_update(op->c, in, inlen, out, outlen);
}

static CK_RV soft_op_final(struct bop *op, const uint8_t *in, size_t inlen, uint8_t *out,
                           size_t *outlen)
{
    if (!op || (!in && inlen) || !outlen)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "soft op_final: bad arguments");
    return cop_final(op->c, in, inlen, out, outlen);
}

static void soft_op_free(struct bop *op)
{
    if (!op)
        return;
    cop_free(op->c);
    free(op);
}

static CK_RV soft_random(struct bdev *d, uint8_t *out, size_t len)
{
    if (!d || (!out && len))
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "soft random: bad arguments");
    return len ? crypto_random(out, len) : CKR_OK;
}

const struct sea_backend_ops soft_backend_ops = {
    .name = "soft",
    .dev_open = soft_dev_open,
    .dev_close = soft_dev_close,
    .dev_abandon = soft_dev_abandon,
    .dev_caps = soft_dev_caps,
    .se_list = soft_se_list,
    .se_create = soft_se_create,
    .se_reinit = soft_se_reinit,
    .se_delete = soft_se_delete,
    .login = soft_login,
    .logout = soft_logout,
    .init_pin = soft_init_pin,
    .set_pin = soft_set_pin,
    .obj_create = soft_obj_create,
    .obj_destroy = soft_obj_destroy,
    .obj_attrs = soft_obj_attrs,
    .obj_secret = soft_obj_secret,
    .obj_update = soft_obj_update,
    .obj_find = soft_obj_find,
    .generate = soft_generate,
    .op_init = soft_op_init,
    .op_outlen = soft_op_outlen,
    .op_update = soft_op_update,
    .op_final = soft_op_final,
    .op_free = soft_op_free,
    .random = soft_random,
};

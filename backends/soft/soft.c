/* The software SE backend ("soft"): SE profiles and objects in a SQLite store (store.c), secrets
 * sealed under a per-SE key (SEK) that each PIN wraps, PIN retry counters counted before the
 * check and shared by every process, caches dropped when another process writes, and the
 * mechanisms of crypto.c run outside every lock.
 *
 * What the store's protection is worth (threat model). The store is a file, and whoever can
 * write it is assumed able to change any byte of it. Such a writer
 *  - cannot read a secret: secret attributes are sealed (AES-256-GCM) under the SEK, which only
 *    a PIN unwraps. But anyone with a copy of the file can attack the PINs offline from their
 *    wraps; PBKDF2 (kdf_iterations) only slows that down, so PINs must not be short;
 *  - can reset the retry counters (and the lifecycle state they decide), getting unlimited
 *    online PIN tries: counters in a file its attacker can write bind nothing;
 *  - can delete rows, roll a whole row back to an earlier version of itself, or plant public
 *    objects: without a PIN there is no key to check anything with, so public objects (no
 *    secret, CKA_PRIVATE false) carry no integrity protection at all;
 *  - cannot make this library use an object with secrets whose row it changed, once the SE key
 *    is held: such a row carries an HMAC, under a key derived from the SEK, over all its columns
 *    and its public attributes, checked whenever the row is served while the SEK is held, and
 *    its sealed blob's AAD binds the same digest, checked whenever it is opened. A secret is
 *    never taken from the public attributes: a row of a class that must have a sealed blob
 *    without one, or with a secret attribute among its public ones, is damaged;
 *  - cannot unlock an SE whose type, level, retry limit, name, id or epoch it changed: they are
 *    bound into the AAD of the SEK's wraps. Values no SE can have are refused as damage. */
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

#define WAL_HDR 96 /* the two copies of SQLite's WalIndexHdr at the start of -shm */

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
    bool priv; /* the entry belongs to a private object: served to the user only */
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

/* The value for key (not referenced), the SE it belongs to and its private tag, or NULL. */
static void *cache_get(struct cache *c, uint32_t key, uint32_t *seq, bool *priv)
{
    for (struct centry *e = *chain(c, key); e; e = e->hnext) {
        if (e->key == key) {
            if (c->head != e) { /* no writes when it is the most recent already */
                unlink_lru(c, e);
                push_lru(c, e);
            }
            *seq = e->seq;
            if (priv)
                *priv = e->priv;
            return e->val;
        }
    }
    return NULL;
}

/* Takes over the caller's reference to val (dropped at once when the cache is off or memory is
 * short: a cache is only ever an optimisation). */
static void cache_put(struct cache *c, uint32_t key, uint32_t seq, bool priv, void *val)
{
    cache_del(c, key);
    struct centry *e = c->max ? calloc(1, sizeof(*e)) : NULL;
    if (!e) {
        c->drop(val);
        return;
    }
    if (c->n >= c->max)
        cache_del(c, c->tail->key);
    *e = (struct centry){.key = key, .seq = seq, .priv = priv, .val = val};
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

/* An unlocked SE key, kept from login to logout, with the role that unlocked it (an SO login
 * holds it too, to set the user PIN, but must not open the user's private objects) and the
 * SE's epoch then: when the epoch changes the SE was re-initialised elsewhere and the key is
 * stale. A PIN change elsewhere leaves the key as it is. */
struct sek {
    uint32_t seq, epoch;
    enum store_role role;
    uint8_t *key;       /* STORE_SEK_LEN bytes, sea_secret_alloc */
    struct keymat *mac; /* HMAC key derived from key: the MACs of object rows */
};

/* A session object. pub and sec are never changed once published (an update swaps them), so
 * that a reference taken under cmu stays valid outside it. */
struct sobj {
    uint32_t handle, seq;
    uint32_t epoch; /* of the SE at creation: a re-initialisation elsewhere ends the object */
    bool priv;
    struct attrs *pub, *sec;
};

static void sobj_free(struct sobj *o)
{
    if (!o)
        return;
    attrs_unref(o->pub);
    attrs_unref(o->sec);
    free(o);
}

/* Three locks, always taken in this order and never the other way round:
 *  wmu: the write connection. A writer holds it while SQLite waits (up to its busy timeout)
 *       for another process to release the database's write lock; nothing else waits on it.
 *  rmu: the read connection (WAL readers never wait for writers) and what is read through it:
 *       data_version and the SE rows.
 *  cmu: what this process holds in memory: SE keys, caches, session objects. Held for
 *       memory work only, never across an SQLite call or a slow computation. */
struct bdev {
    char *name;
    unsigned max_se, kdf_iter, pin_min, pin_max;
    unsigned long forks; /* fork generation of the process that opened the device */
    struct bdev *next;   /* in the list of open devices, under devs_mu */

    pthread_mutex_t wmu;
    struct store *wr;

    pthread_mutex_t rmu;
    struct store *rd;
    int64_t dv; /* last PRAGMA data_version seen on rd */

    const uint64_t *wal_index; /* the read connection's mapping of sea.db-shm (store_wal_index),
                                * only read here; NULL without one or once rd is closed */
    /* Its header as it was when dv was last read, written under rmu and read without it: a
     * sequence lock, wal_seq odd while wal_hdr changes, 0 until there is a copy (atomics). */
    unsigned long wal_seq;
    uint64_t wal_hdr[WAL_HDR / 8];
    bool se_valid;
    struct se_row *se;
    size_t nse;
    uint32_t next_seq;

    pthread_mutex_t cmu;
    uint64_t gen; /* bumped whenever cached state is dropped: a value read before must not be
                   * cached after. Written under cmu with gen_bump, read without it by
                   * soft_state_tag (atomics) */
    struct sek *sek;
    size_t nsek;
    struct cache attrs, keys;
    struct sobj **sobj;
    size_t nsobj, capsobj, sreserved;
    uint32_t next_session;
};

static void gen_bump(struct bdev *d)
{
    __atomic_add_fetch(&d->gen, 1, __ATOMIC_RELEASE);
}

static const char *role_name(enum store_role r)
{
    return r == ROLE_SO ? "so" : "user";
}

static void lock_w(struct bdev *d)
{
    pthread_mutex_lock(&d->wmu);
}

static void unlock_w(struct bdev *d)
{
    pthread_mutex_unlock(&d->wmu);
}

static void lock_r(struct bdev *d)
{
    pthread_mutex_lock(&d->rmu);
}

static void unlock_r(struct bdev *d)
{
    pthread_mutex_unlock(&d->rmu);
}

static void lock_c(struct bdev *d)
{
    pthread_mutex_lock(&d->cmu);
}

static void unlock_c(struct bdev *d)
{
    pthread_mutex_unlock(&d->cmu);
}

/* ---- fork ----
 * SQLite keeps, per process, a record of the locks it holds on each database file. A forked
 * child inherits the record but not the locks: a connection it opens while the parent's are
 * still open in its memory believes it holds locks it does not, and the next process to close
 * the database checkpoints and removes the WAL under the child's commits. So before a process
 * opens a device it closes the connections it inherited (close_inherited), which SQLite allows
 * when no transaction was running at the fork: fork_prepare makes fork() wait until every
 * device's transactions have ended by taking all its locks, in their order; both sides let
 * them go after the fork. Nothing SQLite is called in the atfork handlers themselves: a child
 * that only execs pays nothing. */
static pthread_mutex_t devs_mu = PTHREAD_MUTEX_INITIALIZER;
static struct bdev *devs;   /* every device open in this process or inherited */
static unsigned long forks; /* how many forks made this process, under devs_mu */
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void fork_prepare(void)
{
    pthread_mutex_lock(&devs_mu);
    for (struct bdev *d = devs; d; d = d->next) {
        lock_w(d);
        lock_r(d);
        lock_c(d);
    }
}

static void fork_release(void)
{
    for (struct bdev *d = devs; d; d = d->next) {
        unlock_c(d);
        unlock_r(d);
        unlock_w(d);
    }
    pthread_mutex_unlock(&devs_mu);
}

static void fork_child(void)
{
    forks++;
    fork_release();
}

static void register_fork_handlers(void)
{
    pthread_atfork(fork_prepare, fork_release, fork_child);
}

static void unlink_dev(struct bdev *d)
{
    for (struct bdev **p = &devs; *p; p = &(*p)->next)
        if (*p == d) {
            *p = d->next;
            break;
        }
    d->next = NULL;
}

static void close_stores(struct bdev *d)
{
    d->wal_index = NULL; /* SQLite's mapping goes with the read connection */
    /* damage either connection met: the last one to close must not checkpoint either */
    if (store_damaged(d->rd) || store_damaged(d->wr)) {
        store_set_damaged(d->rd);
        store_set_damaged(d->wr);
    }
    store_close(d->rd);
    store_close(d->wr);
    d->rd = d->wr = NULL;
}

/* In a process made by fork, with devs_mu held: close the connections of the devices the
 * parent had open and forget them here (their memory stays: the core still points at them
 * until the application gives up its stale context). */
static void close_inherited(void)
{
    for (struct bdev **p = &devs; *p;) {
        struct bdev *d = *p;
        if (d->forks == forks) {
            p = &d->next;
            continue;
        }
        *p = d->next;
        d->next = NULL;
        lock_w(d);
        lock_r(d);
        close_stores(d);
        unlock_r(d);
        unlock_w(d);
    }
}

/* A STORE_SEK_LEN buffer for key material. */
static uint8_t *key_alloc(void)
{
    return sea_secret_alloc(STORE_SEK_LEN);
}

static void key_free(uint8_t *k)
{
    sea_secret_free(k, STORE_SEK_LEN);
}

/* ---- digests and MACs, through crypto.c's mechanisms like every other primitive ---- */

/* A SHA-256 (or HMAC-SHA256) over fields fed one at a time; the first failure sticks. */
struct hasher {
    struct cop *c;
    CK_RV rv;
};

static void h_start(struct hasher *h, struct keymat *mac)
{
    CK_MECHANISM m = {mac ? CKM_SHA256_HMAC : CKM_SHA256, NULL, 0};
    h->c = NULL;
    h->rv = cop_new(mac, mac ? OP_SIGN : OP_DIGEST, &m, &h->c);
}

static void h_raw(struct hasher *h, const void *p, size_t n)
{
    size_t got = 0;
    if (h->rv == CKR_OK && n)
        h->rv = cop_update(h->c, p, n, NULL, &got);
}

static void h_u64(struct hasher *h, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    h_raw(h, b, sizeof(b));
}

/* A length-prefixed field, so that no two field lists hash alike; absent (NULL) is not empty. */
static void h_field(struct hasher *h, const void *p, size_t n)
{
    h_u64(h, p ? (uint64_t)n : UINT64_MAX);
    h_raw(h, p, n);
}

static void h_str(struct hasher *h, const char *s)
{
    h_field(h, s, strlen(s));
}

static CK_RV h_finish(struct hasher *h, uint8_t out[32])
{
    size_t len = 32;
    if (h->rv == CKR_OK)
        h->rv = cop_final(h->c, NULL, 0, out, &len);
    if (h->rv == CKR_OK && len != 32)
        h->rv = err_set(ORIGIN_BACKEND, CKR_GENERAL_ERROR, "unexpected digest size %zu", len);
    cop_free(h->c);
    h->c = NULL;
    return h->rv;
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Key material for CKM_SHA256_HMAC. */
static CK_RV hmac_key(const uint8_t *val, size_t len, struct keymat **out)
{
    struct attrs *pub = attrs_new(), *sec = attrs_new();
    CK_RV rv = pub && sec ? CKR_OK : oom();
    if (rv == CKR_OK)
        rv = attrs_set_ulong(pub, CKA_CLASS, CKO_SECRET_KEY);
    if (rv == CKR_OK)
        rv = attrs_set_ulong(pub, CKA_KEY_TYPE, CKK_GENERIC_SECRET);
    if (rv == CKR_OK)
        rv = attrs_set_secret(sec, CKA_VALUE, val, len);
    if (rv == CKR_OK)
        rv = keymat_from_attrs(pub, sec, out);
    attrs_unref(pub);
    attrs_unref(sec);
    return rv;
}

/* The key of the object rows' MACs, HMAC-SHA256(SEK, label): the SEK itself only ever serves
 * AES-GCM. */
static CK_RV derive_mac_key(const uint8_t *sek, struct keymat **out)
{
    struct keymat *k = NULL;
    struct hasher h;
    uint8_t *mk = key_alloc();
    CK_RV rv = mk ? hmac_key(sek, STORE_SEK_LEN, &k) : oom();
    if (rv == CKR_OK) {
        h_start(&h, k);
        h_str(&h, "sea/obj-mac-key/v2");
        rv = h_finish(&h, mk);
    }
    if (rv == CKR_OK)
        rv = hmac_key(mk, STORE_SEK_LEN, out);
    keymat_unref(k);
    key_free(mk);
    return rv;
}

/* ---- what this process holds (cmu held) ---- */

static struct sek *find_sek(struct bdev *d, uint32_t seq)
{
    for (size_t i = 0; i < d->nsek; i++)
        if (d->sek[i].seq == seq)
            return &d->sek[i];
    return NULL;
}

/* Private objects are the user's: an SO login holds the key but does not open them. */
static bool user_holds(struct bdev *d, uint32_t seq)
{
    const struct sek *k = find_sek(d, seq);
    return k && k->role == ROLE_USER;
}

static void sek_clear(struct sek *k)
{
    key_free(k->key);
    keymat_unref(k->mac);
    k->key = NULL;
    k->mac = NULL;
}

static void drop_sek(struct bdev *d, uint32_t seq)
{
    struct sek *k = find_sek(d, seq);
    if (!k)
        return;
    sek_clear(k);
    *k = d->sek[--d->nsek];
}

static void remove_sobj(struct bdev *d, size_t i)
{
    cache_del(&d->keys, d->sobj[i]->handle);
    sobj_free(d->sobj[i]);
    d->sobj[i] = d->sobj[--d->nsobj];
}

/* The session objects of an SE: its private ones (they end with the login) or all of them
 * (the SE was re-initialised or deleted). */
static void drop_sobjs(struct bdev *d, uint32_t seq, bool private_only)
{
    for (size_t i = d->nsobj; i > 0; i--)
        if (d->sobj[i - 1]->seq == seq && (!private_only || d->sobj[i - 1]->priv))
            remove_sobj(d, i - 1);
}

/* Forget what a login gave this process: the SE key, the key material made with it, and the
 * private session objects. */
static void forget_se(struct bdev *d, uint32_t seq)
{
    drop_sek(d, seq);
    cache_drop(&d->keys, false, seq);
    drop_sobjs(d, seq, true);
    gen_bump(d);
}

/* A copy of the key held for an SE, for use outside the locks. */
struct keycopy {
    uint8_t *sek; /* NULL: no key held */
    struct keymat *mac;
    uint32_t epoch;
    bool user; /* held for the user */
};

static CK_RV copy_key(struct bdev *d, uint32_t seq, struct keycopy *kc)
{
    const struct sek *k = find_sek(d, seq);
    memset(kc, 0, sizeof(*kc));
    if (!k)
        return CKR_OK;
    if (!(kc->sek = key_alloc()))
        return oom();
    memcpy(kc->sek, k->key, STORE_SEK_LEN);
    kc->mac = keymat_ref(k->mac);
    kc->epoch = k->epoch;
    kc->user = k->role == ROLE_USER;
    return CKR_OK;
}

static void keycopy_clear(struct keycopy *kc)
{
    key_free(kc->sek);
    keymat_unref(kc->mac);
    memset(kc, 0, sizeof(*kc));
}

/* ---- the SE rows (rmu held) ---- */

static CK_RV load_se(struct bdev *d)
{
    struct se_row *rows = NULL;
    size_t n = 0;
    uint32_t next = 0;
    if (d->se_valid)
        return CKR_OK;
    CK_RV rv = store_se_list(d->rd, &rows, &n);
    if (rv == CKR_OK)
        rv = store_next_seq(d->rd, &next);
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

/* Reading data_version opens an SQLite read transaction (two fcntl locks on the WAL index): about
 * half the cost of a C_EncryptInit + C_Encrypt of 1 KiB, and a section that kept two threads from
 * running side by side. So refresh first compares the WAL index header (the two copies of the
 * WalIndexHdr at the start of sea.db-shm, https://sqlite.org/walformat.html) with the copy taken
 * at the last read: every commit, by any process or tool, rewrites it (iChange, mxFrame, the
 * salts after a WAL restart) before the commit returns, so an unchanged header means nothing was
 * committed since. A torn read while a writer updates it only differs, which means a read. The
 * header is read through the read connection's own mapping (store_wal_index), valid while that
 * connection is open. Without it, data_version is read every time. */
static bool wal_unchanged(struct bdev *d)
{
    bool same = true;
    if (!d->wal_index)
        return false;
    unsigned long seq = __atomic_load_n(&d->wal_seq, __ATOMIC_ACQUIRE);
    if (seq == 0 || (seq & 1))
        return false;
    for (size_t i = 0; i < WAL_HDR / 8; i++)
        same = same && __atomic_load_n(&d->wal_index[i], __ATOMIC_RELAXED) ==
                           __atomic_load_n(&d->wal_hdr[i], __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return same && __atomic_load_n(&d->wal_seq, __ATOMIC_RELAXED) == seq;
}

/* The WAL index header now, into h (read before data_version, see refresh). */
static void wal_read(struct bdev *d, uint64_t h[WAL_HDR / 8])
{
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    for (size_t i = 0; i < WAL_HDR / 8; i++)
        h[i] = __atomic_load_n(&d->wal_index[i], __ATOMIC_RELAXED);
}

/* Keep h as the header of the last data_version read (rmu held, every cache consistent with it). */
static void wal_keep(struct bdev *d, const uint64_t h[WAL_HDR / 8])
{
    unsigned long seq = d->wal_seq;
    __atomic_store_n(&d->wal_seq, seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    for (size_t i = 0; i < WAL_HDR / 8; i++)
        __atomic_store_n(&d->wal_hdr[i], h[i], __ATOMIC_RELAXED);
    __atomic_store_n(&d->wal_seq, seq + 2, __ATOMIC_RELEASE);
}

/* Called before serving anything cached: if a write was committed since we last looked (by
 * another process, or by this one through its write connection), drop every cache, every SE
 * key whose SE was re-initialised or deleted (its epoch changed or it is gone: not when only a
 * PIN changed, the key is the same) and the session objects of such SEs. */
static CK_RV refresh(struct bdev *d)
{
    int64_t dv = 0;
    uint64_t hdr[WAL_HDR / 8];
    if (wal_unchanged(d))
        return CKR_OK;
    /* copied before data_version: a commit this read misses changes the header after it */
    if (d->wal_index)
        wal_read(d, hdr);
    CK_RV rv = store_data_version(d->rd, &dv);
    if (rv == CKR_OK && dv == d->dv && d->wal_index)
        wal_keep(d, hdr);
    if (rv != CKR_OK || dv == d->dv)
        return rv;
    d->se_valid = false;
    if ((rv = load_se(d)) != CKR_OK)
        return rv;
    d->dv = dv;
    lock_c(d);
    cache_drop(&d->attrs, true, 0);
    cache_drop(&d->keys, true, 0);
    gen_bump(d);
    for (size_t i = d->nsek; i > 0; i--) {
        const struct sek *k = &d->sek[i - 1];
        const struct se_row *r = find_se(d, k->seq);
        if (!r || r->epoch != k->epoch) {
            LOGI("SE %u was re-initialised or deleted elsewhere: its key is forgotten", k->seq);
            forget_se(d, k->seq);
        }
    }
    for (size_t i = d->nsobj; i > 0; i--) {
        const struct se_row *r = find_se(d, d->sobj[i - 1]->seq);
        if (!r || r->epoch != d->sobj[i - 1]->epoch)
            remove_sobj(d, i - 1);
    }
    unlock_c(d);
    if (d->wal_index)
        wal_keep(d, hdr);
    return CKR_OK;
}

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

/* refresh + the SE row of seq (CKR_TOKEN_NOT_PRESENT if it is gone). */
static CK_RV fresh_se(struct bdev *d, uint32_t seq, const struct se_row **out)
{
    CK_RV rv = refresh(d);
    return rv != CKR_OK ? rv : known_se(d, seq, out);
}

/* After a committed write of this process: the SE rows are read again. */
static void se_changed(struct bdev *d)
{
    lock_r(d);
    d->se_valid = false;
    unlock_r(d);
}

/* Commit on success, roll back otherwise (wmu held); returns the final status. */
static CK_RV end_txn(struct bdev *d, CK_RV rv)
{
    if (rv == CKR_OK)
        rv = store_commit(d->wr);
    if (rv != CKR_OK)
        store_rollback(d->wr);
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
    o->epoch = r->epoch;
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
    close_stores(d);
    pthread_mutex_destroy(&d->wmu);
    pthread_mutex_destroy(&d->rmu);
    pthread_mutex_destroy(&d->cmu);
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
    pthread_mutex_init(&d->wmu, NULL);
    pthread_mutex_init(&d->rmu, NULL);
    pthread_mutex_init(&d->cmu, NULL);
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
        (rv = cache_init(&d->keys, key_cache, drop_keymat)) != CKR_OK)
        goto out;
    pthread_once(&fork_once, register_fork_handlers);
    /* connections are opened and closed under devs_mu, so that no fork copies one half made */
    pthread_mutex_lock(&devs_mu);
    close_inherited();
    d->forks = forks;
    if ((rv = store_open(path, sync_full, &d->wr)) == CKR_OK &&
        (rv = store_open(path, sync_full, &d->rd)) == CKR_OK &&
        (rv = store_data_version(d->rd, &d->dv)) == CKR_OK && (rv = load_se(d)) == CKR_OK) {
        /* after the first reads: the read connection has its WAL index mapped */
        d->wal_index = (const uint64_t *)store_wal_index(d->rd);
        if (!d->wal_index)
            LOGI("device %s: no WAL index mapping: every freshness check reads the store", d->name);
        LOGD("device %s: soft store %s, %zu SEs", d->name, store_path(d->rd), d->nse);
        d->next = devs;
        devs = d;
        *out = d;
        d = NULL;
    }
    dev_free(d);
    pthread_mutex_unlock(&devs_mu);
    if (rv != CKR_OK)
        crypto_fini();
    return rv;
out:
    dev_free(d);
    if (crypto)
        crypto_fini();
    return rv;
}

static void soft_dev_close(struct bdev *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&devs_mu);
    unlink_dev(d);
    dev_free(d);
    pthread_mutex_unlock(&devs_mu);
    crypto_fini();
}

/* In a forked child: drop every secret this process's copy of the device holds — SE keys, the
 * key material of the key cache (EC private keys included: freeing a keymat clears its key),
 * session objects — free that memory, which is the child's own copy, and close the inherited
 * SQLite connections (see close_inherited). The device's locks are free: fork_prepare let
 * them go on both sides of the fork. Every structure is left empty but valid. */
static void soft_dev_abandon(struct bdev *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&devs_mu);
    close_inherited();
    pthread_mutex_unlock(&devs_mu);
    lock_c(d);
    for (size_t i = 0; i < d->nsek; i++)
        sek_clear(&d->sek[i]);
    d->nsek = 0;
    cache_drop(&d->keys, true, 0);
    cache_drop(&d->attrs, true, 0);
    for (size_t i = 0; i < d->nsobj; i++)
        sobj_free(d->sobj[i]);
    d->nsobj = 0;
    gen_bump(d);
    unlock_c(d);
}

static void soft_dev_caps(struct bdev *d, struct dev_caps *caps)
{
    if (!d || !caps)
        return;
    memset(caps, 0, sizeof(*caps));
    caps->flags =
        DEVCAP_CREATE_SE | DEVCAP_DELETE_SE | DEVCAP_STORE_DATA | DEVCAP_RNG | DEVCAP_SESSION_OBJ;
    caps->max_se = d->max_se;
    caps->se_type = STORE_SE_TYPE;
    caps->max_level = STORE_MAX_LEVEL;
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
    lock_r(d);
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
    unlock_r(d);
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

#define SEK_AAD_MAX 128

/* The AAD of a wrapped SEK: "sea/sek/v2/<role>/<se_id>/" and the hex SHA-256 of the SE's
 * profile values that nothing but a re-initialisation changes (seq, id, type, level, retry
 * limit, name, epoch), so that a row whose values were changed does not unlock. The lifecycle
 * cannot be among them: it turns BLOCKED on a failed SO try, when no key is at hand (read_se
 * checks that it agrees with the user PIN; see the threat model at the top). */
static CK_RV sek_aad(enum store_role role, const struct se_row *r, char *buf, size_t *len)
{
    uint8_t dg[32];
    char hx[65];
    struct hasher h;
    h_start(&h, NULL);
    h_str(&h, "sea/se-profile/v2");
    h_u64(&h, r->seq);
    h_str(&h, r->se_id);
    h_u64(&h, r->se_type);
    h_u64(&h, r->level);
    h_u64(&h, r->max_retries);
    h_str(&h, r->name);
    h_u64(&h, r->epoch);
    CK_RV rv = h_finish(&h, dg);
    if (rv != CKR_OK)
        return rv;
    hex(dg, sizeof(dg), hx);
    int n = snprintf(buf, SEK_AAD_MAX, "sea/sek/v2/%s/%s/%s", role_name(role), r->se_id, hx);
    *len = n < 0 || n >= SEK_AAD_MAX ? 0 : (size_t)n;
    return *len ? CKR_OK : err_set(ORIGIN_BACKEND, CKR_GENERAL_ERROR, "SE id too long");
}

/* A new PIN record for `role` of the SE described by r: fresh salt, KEK = PBKDF2(pin), the
 * SEK sealed under it. Runs PBKDF2: never call with a lock held. */
static CK_RV make_pin(struct bdev *d, enum store_role role, const struct se_row *r,
                      const uint8_t *pin, size_t len, const uint8_t *sek, struct pin_rec *p)
{
    char aad[SEK_AAD_MAX];
    size_t wlen = 0, alen = 0;
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
        rv = sek_aad(role, r, aad, &alen);
    if (rv == CKR_OK)
        rv = crypto_seal(kek, (const uint8_t *)aad, alen, sek, STORE_SEK_LEN, p->wrap, &wlen);
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
    if (p->level > STORE_MAX_LEVEL)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD,
                       "a software SE cannot claim security level %u (at most %d)", p->level,
                       STORE_MAX_LEVEL);
    if (p->max_retries < 1 || p->max_retries > STORE_MAX_RETRIES)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "max_retries must be 1 to %d",
                       STORE_MAX_RETRIES);
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
    row.seq = expect_seq; /* the wrap is bound to it; the transaction checks it is still free */
    row.se_type = STORE_SE_TYPE;
    row.level = p->level;
    row.lifecycle = SE_PERSONALIZATION;
    row.max_retries = p->max_retries;
    row.created = sea_time();
    row.epoch = 1;
    /* the expensive part first, outside lock and transaction */
    if (!(sek = key_alloc())) {
        rv = oom();
        goto out;
    }
    if ((rv = crypto_random(sek, STORE_SEK_LEN)) != CKR_OK ||
        (rv = make_pin(d, ROLE_SO, &row, p->so_pin, p->so_pin_len, sek, &row.pin[ROLE_SO])) !=
            CKR_OK)
        goto out;
    lock_w(d);
    if ((rv = store_begin(d->wr)) == CKR_OK) {
        if ((rv = store_next_seq(d->wr, &next)) == CKR_OK && next != expect_seq)
            rv = err_set(ORIGIN_BACKEND, CKR_SLOT_ID_INVALID,
                         "slot %u of device %s was taken by another process (next is %u)",
                         expect_seq, d->name, next);
        if (rv == CKR_OK && (rv = store_se_count(d->wr, &count)) == CKR_OK && count >= d->max_se)
            rv = err_set(ORIGIN_BACKEND, CKR_DEVICE_MEMORY, "device %s holds %u SEs (max_se)",
                         d->name, count);
        if (rv == CKR_OK && next == UINT32_MAX)
            rv = err_set(ORIGIN_BACKEND, CKR_DEVICE_MEMORY, "device %s: no SE numbers left",
                         d->name);
        if (rv == CKR_OK && (rv = store_se_insert(d->wr, &row)) == CKR_OK)
            rv = store_set_next_seq(d->wr, next + 1);
        rv = end_txn(d, rv);
    }
    unlock_w(d);
    se_changed(d);
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
 * (to detect a concurrent change) and the SE's row as it was checked (its epoch among it). */
struct verified {
    uint8_t *sek, *kek; /* key_alloc */
    uint8_t wrap[STORE_WRAP_LEN];
    struct se_row row;
};

static void verified_clear(struct verified *v)
{
    key_free(v->sek);
    key_free(v->kek);
    v->sek = v->kek = NULL;
}

/* Transaction 1 of a PIN check: refuse a locked PIN, else count the try and commit, so that a
 * process killed during PBKDF2 has still used it up. Copies the SE's row into v. */
static CK_RV count_try(struct bdev *d, uint32_t seq, enum store_role role, struct verified *v)
{
    struct se_row *row = &v->row;
    bool found = false;
    lock_w(d);
    CK_RV rv = store_begin(d->wr);
    if (rv == CKR_OK) {
        rv = store_se_get(d->wr, seq, row, &found);
        if (rv == CKR_OK && !found)
            rv = err_set(ORIGIN_BACKEND, CKR_TOKEN_NOT_PRESENT, "device %s has no SE %u", d->name,
                         seq);
        else if (rv == CKR_OK && !row->pin[role].set)
            rv = err_set(ORIGIN_BACKEND, CKR_USER_PIN_NOT_INITIALIZED, "SE %s has no user PIN yet",
                         row->name);
        else if (rv == CKR_OK && row->pin[role].fail >= row->max_retries)
            rv = err_set(ORIGIN_BACKEND, CKR_PIN_LOCKED,
                         "the %s PIN of SE %s is locked after %u failed tries", role_name(role),
                         row->name, row->max_retries);
        if (rv == CKR_OK)
            rv = store_pin_fail(d->wr, seq, role);
        rv = end_txn(d, rv);
    }
    unlock_w(d);
    if (rv == CKR_OK)
        memcpy(v->wrap, row->pin[role].wrap, STORE_WRAP_LEN);
    return rv;
}

/* Verify the PIN of `role` (counted before the check; see count_try). On success v holds the
 * SEK and KEK (verified_clear them) and the counter is back to 0. */
static CK_RV verify_pin(struct bdev *d, uint32_t seq, enum store_role role, const uint8_t *pin,
                        size_t len, struct verified *v)
{
    size_t sek_len = 0, alen = 0;
    char aad[SEK_AAD_MAX];
    bool changed = false;
    memset(v, 0, sizeof(*v));
    CK_RV rv = count_try(d, seq, role, v);
    if (rv != CKR_OK)
        return rv;
    const struct pin_rec *rec = &v->row.pin[role];
    unsigned max = v->row.max_retries;
    v->sek = key_alloc();
    v->kek = key_alloc();
    uint8_t *pt = sea_secret_alloc(STORE_WRAP_LEN);
    if (!v->sek || !v->kek || !pt) {
        rv = oom();
        goto out;
    }
    /* no lock, no transaction: PBKDF2 takes its time */
    if ((rv = crypto_pbkdf2(pin ? pin : (const uint8_t *)"", len, rec->salt, sizeof(rec->salt),
                            rec->iter, v->kek, STORE_SEK_LEN)) != CKR_OK ||
        (rv = sek_aad(role, &v->row, aad, &alen)) != CKR_OK)
        goto out;
    bool clean = err_get()->rv == CKR_OK;
    rv = crypto_open(v->kek, (const uint8_t *)aad, alen, rec->wrap, STORE_WRAP_LEN, pt, &sek_len);
    if (rv == CKR_ENCRYPTED_DATA_INVALID) {
        unsigned left = rec->fail + 1 >= max ? 0 : max - rec->fail - 1;
        if (role == ROLE_SO && left == 0) {
            lock_w(d);
            CK_RV brv = store_begin(d->wr);
            if (brv == CKR_OK)
                brv = end_txn(d, store_se_block(d->wr, seq));
            unlock_w(d);
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
    lock_w(d);
    if ((rv = store_begin(d->wr)) == CKR_OK)
        rv = end_txn(d, store_pin_reset(d->wr, seq, role, rec->wrap, &changed));
    unlock_w(d);
    if (rv == CKR_OK && !changed)
        rv = err_set(ORIGIN_BACKEND, CKR_PIN_INCORRECT,
                     "the %s PIN of SE %u was changed by another process meanwhile",
                     role_name(role), seq);
out:
    sea_secret_free(pt, STORE_WRAP_LEN);
    if (rv != CKR_OK)
        verified_clear(v);
    se_changed(d);
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

/* Keep the SEK of a verified PIN for this process (replacing an older one), unless the SE was
 * re-initialised since the PIN was checked. Public attributes cached while no key was held
 * were served unchecked: they are read (and checked) again. */
static CK_RV keep_sek(struct bdev *d, uint32_t seq, enum store_role role, struct verified *v)
{
    const struct se_row *r = NULL;
    struct keymat *mac = NULL;
    CK_RV rv = derive_mac_key(v->sek, &mac);
    if (rv != CKR_OK)
        return rv;
    lock_r(d);
    rv = fresh_se(d, seq, &r);
    if (rv == CKR_OK && r->epoch != v->row.epoch)
        rv = err_set(ORIGIN_BACKEND, CKR_FUNCTION_FAILED,
                     "SE %u was re-initialised by another process meanwhile", seq);
    lock_c(d);
    struct sek *k = rv == CKR_OK ? find_sek(d, seq) : NULL;
    if (rv == CKR_OK && !k) {
        struct sek *nv = realloc(d->sek, (d->nsek + 1) * sizeof(*nv));
        if (!nv) {
            rv = oom();
        } else {
            d->sek = nv;
            k = &d->sek[d->nsek++];
            memset(k, 0, sizeof(*k));
        }
    }
    if (rv == CKR_OK) {
        if (k->key && k->role == ROLE_USER && role != ROLE_USER)
            drop_sobjs(d, seq, true); /* the user's login is over */
        sek_clear(k);
        *k = (struct sek){
            .seq = seq, .epoch = v->row.epoch, .role = role, .key = v->sek, .mac = mac};
        v->sek = NULL; /* ownership moves */
        mac = NULL;
        cache_drop(&d->attrs, false, seq);
        cache_drop(&d->keys, false, seq);
        gen_bump(d);
    }
    unlock_c(d);
    unlock_r(d);
    keymat_unref(mac);
    return rv;
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
    rv = keep_sek(d, seq, role, &v);
    verified_clear(&v);
    return rv;
}

static void soft_logout(struct bdev *d, uint32_t seq)
{
    if (!d)
        return;
    lock_c(d);
    forget_se(d, seq);
    unlock_c(d);
}

static CK_RV soft_init_pin(struct bdev *d, uint32_t seq, const uint8_t *pin, size_t len)
{
    struct pin_rec rec;
    struct se_row row;
    struct keycopy kc = {0};
    const struct se_row *r;
    bool changed = false, so = false;
    if (!d)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "soft init_pin: bad arguments");
    CK_RV rv = check_pin_arg(d, pin, len, true);
    if (rv != CKR_OK)
        return rv;
    lock_r(d);
    rv = fresh_se(d, seq, &r);
    if (rv == CKR_OK) {
        row = *r;
        lock_c(d);
        const struct sek *k = find_sek(d, seq);
        so = k && k->role == ROLE_SO;
        if (so)
            rv = copy_key(d, seq, &kc);
        unlock_c(d);
    }
    unlock_r(d);
    if (rv == CKR_OK && !so)
        rv = err_set(ORIGIN_BACKEND, CKR_USER_NOT_LOGGED_IN,
                     "setting the user PIN needs the SO logged in on SE %s", row.name);
    /* the user PIN wraps the same SEK; the SE it is bound to turns operational */
    if (rv != CKR_OK || (rv = make_pin(d, ROLE_USER, &row, pin, len, kc.sek, &rec)) != CKR_OK)
        goto out;
    lock_w(d);
    if ((rv = store_begin(d->wr)) == CKR_OK)
        rv = end_txn(d, store_user_pin_init(d->wr, seq, &rec, kc.epoch, &changed));
    unlock_w(d);
    se_changed(d);
    if (rv == CKR_OK && !changed) {
        lock_c(d);
        forget_se(d, seq);
        unlock_c(d);
        rv = err_set(ORIGIN_BACKEND, CKR_USER_NOT_LOGGED_IN,
                     "SE %u was re-initialised by another process: log in again", seq);
    }
out:
    keycopy_clear(&kc);
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
        (rv = make_pin(d, role, &v.row, new_pin, new_len, v.sek, &rec)) != CKR_OK)
        goto out;
    /* the SEK stays the same: keys held here and elsewhere remain valid */
    lock_w(d);
    if ((rv = store_begin(d->wr)) == CKR_OK)
        rv = end_txn(d, store_pin_set(d->wr, seq, role, &rec, v.wrap, &changed));
    unlock_w(d);
    se_changed(d);
    if (rv == CKR_OK && !changed)
        rv = err_set(ORIGIN_BACKEND, CKR_FUNCTION_FAILED,
                     "the %s PIN of SE %u was changed by another process meanwhile",
                     role_name(role), seq);
out:
    verified_clear(&v);
    return rv;
}

/* After this process re-initialised or deleted an SE: nothing of it is left in memory. */
static void drop_se(struct bdev *d, uint32_t seq)
{
    lock_c(d);
    forget_se(d, seq);
    drop_sobjs(d, seq, false);
    cache_drop(&d->attrs, false, seq);
    unlock_c(d);
}

static CK_RV soft_se_reinit(struct bdev *d, uint32_t seq, const uint8_t *so_pin, size_t len,
                            const char *name)
{
    struct verified v = {0};
    uint8_t new_wrap[STORE_WRAP_LEN];
    char aad[SEK_AAD_MAX];
    size_t wlen = 0, alen = 0;
    bool changed = false;
    uint8_t *sek = NULL;
    if (!d || !name || strlen(name) > SE_NAME_MAX)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD,
                       "soft se_reinit: bad arguments (a name has at most %d bytes)", SE_NAME_MAX);
    CK_RV rv = check_pin_arg(d, so_pin, len, false);
    if (rv != CKR_OK || (rv = verify_pin(d, seq, ROLE_SO, so_pin, len, &v)) != CKR_OK)
        goto out;
    if (v.row.epoch == UINT32_MAX) {
        rv =
            err_set(ORIGIN_BACKEND, CKR_DEVICE_MEMORY, "SE %u cannot be re-initialised again", seq);
        goto out;
    }
    /* a new SEK under the same SO PIN, bound to the new name and epoch: every old secret
     * becomes unreadable and every login elsewhere stale */
    struct se_row next = v.row;
    snprintf(next.name, sizeof(next.name), "%s", name);
    next.epoch = v.row.epoch + 1;
    if (!(sek = key_alloc())) {
        rv = oom();
        goto out;
    }
    if ((rv = crypto_random(sek, STORE_SEK_LEN)) != CKR_OK ||
        (rv = sek_aad(ROLE_SO, &next, aad, &alen)) != CKR_OK ||
        (rv = crypto_seal(v.kek, (const uint8_t *)aad, alen, sek, STORE_SEK_LEN, new_wrap,
                          &wlen)) != CKR_OK)
        goto out;
    lock_w(d);
    if ((rv = store_begin(d->wr)) == CKR_OK) {
        rv = store_obj_delete_se(d->wr, seq);
        if (rv == CKR_OK)
            rv = store_se_reinit(d->wr, seq, next.name, new_wrap, v.wrap, next.epoch, &changed);
        if (rv == CKR_OK && !changed)
            rv = err_set(ORIGIN_BACKEND, CKR_FUNCTION_FAILED,
                         "SE %u was changed by another process meanwhile", seq);
        rv = end_txn(d, rv);
    }
    unlock_w(d);
    se_changed(d);
    if (rv == CKR_OK) {
        drop_se(d, seq);
        LOGI("device %s: SE %u re-initialised (epoch %u)", d->name, seq, next.epoch);
    }
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
    lock_w(d);
    if ((rv = store_begin(d->wr)) == CKR_OK) {
        rv = store_obj_delete_se(d->wr, seq);
        if (rv == CKR_OK)
            rv = store_se_delete(d->wr, seq, v.wrap, &changed);
        if (rv == CKR_OK && !changed)
            rv = err_set(ORIGIN_BACKEND, CKR_FUNCTION_FAILED,
                         "SE %u was changed by another process meanwhile", seq);
        rv = end_txn(d, rv);
    }
    unlock_w(d);
    se_changed(d);
    if (rv == CKR_OK) {
        drop_se(d, seq);
        LOGI("device %s: SE %u deleted", d->name, seq);
    }
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

/* Must an object of this class have a sealed blob? Key values and private data are secret by
 * the schema, so such an object without one was tampered with. */
static bool needs_secret(CK_OBJECT_CLASS cls, bool priv)
{
    return cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY || (cls == CKO_DATA && priv);
}

/* The indexed columns of an object (pointing into a), as they are stored. */
static void columns_of(const struct attrs *a, struct obj_row *r)
{
    struct split sp = split_of(a);
    const struct attr *kt = attrs_find(a, CKA_KEY_TYPE), *id = attrs_find(a, CKA_ID),
                      *label = attrs_find(a, CKA_LABEL);
    r->cls = sp.cls;
    r->priv = sp.priv;
    r->has_key_type = kt && kt->len == sizeof(CK_ULONG);
    r->key_type = 0;
    if (r->has_key_type)
        memcpy(&r->key_type, kt->val, sizeof(CK_ULONG));
    r->id = id ? id->val : NULL;
    r->id_len = id ? id->len : 0;
    r->label = label ? label->val : NULL;
    r->label_len = label ? label->len : 0;
}

/* SHA-256 of everything a row says in public: its SE, its indexed columns and its encoded
 * public attributes. */
static CK_RV row_digest(const struct obj_row *r, const char *se_id, uint8_t out[32])
{
    struct hasher h;
    h_start(&h, NULL);
    h_str(&h, "sea/obj-row/v2");
    h_u64(&h, r->se);
    h_str(&h, se_id);
    h_u64(&h, r->cls);
    h_u64(&h, r->has_key_type);
    h_u64(&h, r->has_key_type ? r->key_type : 0);
    h_field(&h, r->id, r->id_len);
    h_field(&h, r->label, r->label_len);
    h_u64(&h, r->priv);
    h_field(&h, r->attrs, r->attrs_len);
    return h_finish(&h, out);
}

/* "sea/obj/v2/<se_id>/<CKA_UNIQUE_ID>/<hex row_digest>": the AAD of a row's sealed blob, so
 * that it opens only on the row it was made for, in its SE, with every public value as it was
 * (v1 bound only the SE and the unique id). CKR_TEMPLATE_INCOMPLETE, unrecorded, without a
 * unique id: the caller says what that means. */
static CK_RV obj_aad(const struct obj_row *r, const char *se_id, const struct attrs *pub,
                     uint8_t **out, size_t *len)
{
    static const char prefix[] = "sea/obj/v2/";
    const struct attr *uid = attrs_find(pub, CKA_UNIQUE_ID);
    uint8_t dg[32];
    char hx[65];
    if (!uid || uid->len == 0)
        return CKR_TEMPLATE_INCOMPLETE;
    CK_RV rv = row_digest(r, se_id, dg);
    if (rv != CKR_OK)
        return rv;
    hex(dg, sizeof(dg), hx);
    size_t plen = strlen(prefix), slen = strlen(se_id);
    size_t n = plen + slen + 1 + uid->len + 1 + 64;
    uint8_t *p = malloc(n);
    if (!p)
        return oom();
    memcpy(p, prefix, plen);
    memcpy(p + plen, se_id, slen);
    p[plen + slen] = '/';
    memcpy(p + plen + slen + 1, uid->val, uid->len);
    p[plen + slen + 1 + uid->len] = '/';
    memcpy(p + n - 64, hx, 64);
    *out = p;
    *len = n;
    return CKR_OK;
}

/* crypto_seal's output is nonce || ciphertext || tag (crypto.h). */
#define SEAL_NONCE_LEN 12
#define SEAL_TAG_LEN   (SEAL_OVERHEAD - SEAL_NONCE_LEN)

/* A row's MAC: HMAC-SHA256 under the key derived from the SEK over the seal's AAD (so the whole
 * public row) and the seal's nonce and tag (so this very seal, which its tag authenticates). It
 * lets the public part be checked without opening the seal. */
static CK_RV row_mac(struct keymat *mac, const uint8_t *aad, size_t alen, const uint8_t *sealed,
                     size_t slen, uint8_t out[STORE_MAC_LEN])
{
    struct hasher h;
    h_start(&h, mac);
    h_str(&h, "sea/obj-mac/v2");
    h_field(&h, aad, alen);
    h_field(&h, sealed, SEAL_NONCE_LEN);
    h_field(&h, sealed + slen - SEAL_TAG_LEN, SEAL_TAG_LEN);
    return h_finish(&h, out);
}

/* Rows built by make_row hold an attrs_encode blob and malloc'd sealed blob and MAC. */
static void made_row_clear(struct obj_row *r)
{
    sea_secret_free(r->attrs, r->attrs_len);
    free(r->secret);
    free(r->mac);
    r->attrs = r->secret = r->mac = NULL;
}

/* The row of an object: indexed columns, the encoded public attributes and, when it has secret
 * ones, those sealed under the SEK with the row's MAC (CKR_USER_NOT_LOGGED_IN without a key).
 * Runs AES-GCM: call without a lock. r->id and r->label point into a. */
static CK_RV make_row(const struct attrs *a, uint32_t seq, const char *se_id,
                      const struct keycopy *kc, struct obj_row *r)
{
    struct split sp = split_of(a);
    uint8_t *plain = NULL, *aad = NULL;
    size_t plen = 0, alen = 0;
    CK_RV rv;
    memset(r, 0, sizeof(*r));
    r->se = seq;
    columns_of(a, r);
    if ((rv = attrs_encode(a, keep_public, &sp, &r->attrs, &r->attrs_len)) != CKR_OK ||
        !has_secret(&sp))
        goto out;
    if (!kc || !kc->sek) {
        rv = err_set(ORIGIN_BACKEND, CKR_USER_NOT_LOGGED_IN,
                     "storing secret attributes needs the user (or SO) logged in");
        goto out;
    }
    if ((rv = obj_aad(r, se_id, a, &aad, &alen)) == CKR_TEMPLATE_INCOMPLETE)
        rv = err_set(ORIGIN_BACKEND, rv, "an object with secret attributes needs a CKA_UNIQUE_ID");
    if (rv != CKR_OK || (rv = attrs_encode(a, keep_secret, &sp, &plain, &plen)) != CKR_OK)
        goto out;
    r->secret = malloc(plen + SEAL_OVERHEAD);
    r->mac = malloc(STORE_MAC_LEN);
    if (!r->secret || !r->mac) {
        rv = oom();
        goto out;
    }
    r->mac_len = STORE_MAC_LEN;
    if ((rv = crypto_seal(kc->sek, aad, alen, plain, plen, r->secret, &r->secret_len)) == CKR_OK)
        rv = row_mac(kc->mac, aad, alen, r->secret, r->secret_len, r->mac);
out:
    sea_secret_free(plain, plen);
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

static bool same_opt(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return (a == NULL) == (b == NULL) && alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* The checks of a row that need no key: its columns agree with its public attributes, none of
 * which is a secret for its class, and it has a sealed blob and a MAC when its class says it
 * must, and both or neither. */
static bool row_consistent(const struct obj_row *row, const struct attrs *pub)
{
    struct obj_row c = {0};
    if (!attrs_has(pub, CKA_CLASS))
        return false;
    columns_of(pub, &c);
    if (c.cls != row->cls || c.priv != row->priv || c.has_key_type != row->has_key_type ||
        c.key_type != row->key_type || !same_opt(c.id, c.id_len, row->id, row->id_len) ||
        !same_opt(c.label, c.label_len, row->label, row->label_len))
        return false;
    for (size_t i = 0; i < pub->n; i++)
        if (schema_is_secret(row->cls, row->priv, pub->v[i].type))
            return false; /* never take a secret from the public attributes */
    if ((needs_secret(row->cls, row->priv) && !row->secret) || (!row->secret != !row->mac))
        return false;
    return !row->secret || (row->secret_len >= SEAL_OVERHEAD && row->mac_len == STORE_MAC_LEN);
}

/* Is the row's MAC the one the SE key gives it? */
static CK_RV mac_matches(const struct obj_row *row, const struct attrs *pub, const char *se_id,
                         struct keymat *mac, bool *ok)
{
    uint8_t *aad = NULL, m[STORE_MAC_LEN];
    size_t alen = 0;
    CK_RV rv = obj_aad(row, se_id, pub, &aad, &alen);
    *ok = false;
    if (rv == CKR_TEMPLATE_INCOMPLETE)
        return CKR_OK; /* no unique id: every object with secrets has one, so *ok stays false */
    if (rv == CKR_OK && (rv = row_mac(mac, aad, alen, row->secret, row->secret_len, m)) == CKR_OK)
        *ok = sea_ct_memcmp(m, row->mac, STORE_MAC_LEN) == 0;
    free(aad);
    return rv;
}

/* Decode a row's public attributes, checking what can be checked: always row_consistent, and
 * the MAC of a row with secrets whenever the SE key is held (mac, any role). */
static CK_RV decode_pub(const struct obj_row *row, const char *se_id, const char *se_name,
                        struct keymat *mac, struct attrs **out)
{
    struct attrs *a = NULL;
    CK_RV rv = CKR_OK;
    bool ok =
        attrs_decode(row->attrs, row->attrs_len, false, &a) == CKR_OK && row_consistent(row, a);
    if (ok && row->secret && mac)
        rv = mac_matches(row, a, se_id, mac, &ok);
    if (rv == CKR_OK && !ok) {
        LOGE("object %lld: its row does not check out", (long long)row->oid);
        rv = integrity_err(se_name, row->oid);
    }
    if (rv != CKR_OK) {
        attrs_unref(a);
        return rv;
    }
    *out = a;
    return CKR_OK;
}

/* Open a row's sealed secret attributes (with the AAD rebuilt from the row as it is now).
 * Runs AES-GCM: call without a lock. */
static CK_RV open_secret(const struct obj_row *row, const struct attrs *pub, const char *se_id,
                         const char *se_name, const uint8_t *sek, struct attrs **out)
{
    uint8_t *aad = NULL, *pt = NULL;
    size_t alen = 0, ptlen = 0;
    CK_RV rv = CKR_OK;
    if (!row->secret || row->secret_len < SEAL_OVERHEAD ||
        obj_aad(row, se_id, pub, &aad, &alen) != CKR_OK) {
        rv = integrity_err(se_name, row->oid);
        goto out;
    }
    if (!(pt = sea_secret_alloc(row->secret_len))) {
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
    sea_secret_free(pt, row->secret_len);
    free(aad);
    return rv;
}

/* ---- object lookup ---- */

static bool token_handle(CK_OBJECT_HANDLE h)
{
    return h > 0 && h < SESSION_BIT;
}

/* Session object h of SE seq (cmu held). */
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

/* Token object h of SE se (rmu held): its public attributes (a new reference, from the cache
 * when there and no row is wanted) and, when row is given, its row. CKR_OBJECT_HANDLE_INVALID
 * if h is not an object of se. A row read is checked by decode_pub, with the SE's MAC key when
 * this process holds it (the cache is dropped at login, so what it holds was checked whenever
 * a key was held); a row read before the caches were last dropped is not cached. */
static CK_RV get_obj(struct bdev *d, const struct se_row *se, CK_OBJECT_HANDLE h,
                     struct obj_row *row, struct attrs **pub)
{
    struct obj_row tmp = {0};
    struct obj_row *r = row ? row : &tmp;
    struct keymat *mac = NULL;
    uint32_t cseq = 0;
    bool found = false;
    CK_RV rv = CKR_OK;
    if (!token_handle(h))
        return handle_err(h, se->seq);
    lock_c(d);
    struct attrs *cached = cache_get(&d->attrs, (uint32_t)h, &cseq, NULL);
    if (cached && cseq != se->seq)
        rv = handle_err(h, se->seq);
    else if (cached && !row)
        *pub = attrs_ref(cached);
    uint64_t gen = d->gen;
    const struct sek *k = find_sek(d, se->seq);
    if (k)
        mac = keymat_ref(k->mac);
    unlock_c(d);
    if (rv != CKR_OK || (cached && !row))
        goto out;
    /* with the row, the attributes come from that same row (a writer may have been faster than
     * our data_version check) */
    if ((rv = store_obj_get(d->rd, (int64_t)h, r, &found)) != CKR_OK)
        goto out;
    if (!found || r->se != se->seq) {
        rv = handle_err(h, se->seq);
        goto out;
    }
    if ((rv = decode_pub(r, se->se_id, se->name, mac, pub)) != CKR_OK)
        goto out;
    lock_c(d);
    if (d->gen == gen)
        cache_put(&d->attrs, (uint32_t)h, se->seq, r->priv, attrs_ref(*pub));
    unlock_c(d);
out:
    keymat_unref(mac);
    if (rv != CKR_OK || !row)
        store_obj_row_clear(r);
    return rv;
}

/* Is there an object of the same class and label in the SE, token (through st, its lock held)
 * or session? */
static CK_RV label_taken(struct bdev *d, struct store *st, uint32_t seq, const struct attrs *a,
                         bool *taken)
{
    CK_OBJECT_CLASS cls = attrs_get_ulong(a, CKA_CLASS, CKO_DATA);
    const struct attr *label = attrs_find(a, CKA_LABEL);
    CK_RV rv = store_obj_label_exists(st, seq, cls, label ? label->val : NULL,
                                      label ? label->len : 0, taken);
    lock_c(d);
    for (size_t i = 0; rv == CKR_OK && !*taken && i < d->nsobj; i++) {
        const struct sobj *o = d->sobj[i];
        const struct attr *l = attrs_find(o->pub, CKA_LABEL);
        if (o->seq != seq || attrs_get_ulong(o->pub, CKA_CLASS, CKO_DATA) != cls)
            continue;
        *taken =
            label ? (l && l->len == label->len && memcmp(l->val, label->val, l->len) == 0) : !l;
    }
    unlock_c(d);
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

static CK_RV make_sobj(const struct attrs *a, uint32_t seq, uint32_t epoch, struct sobj **out)
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
    o->epoch = epoch;
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

static bool is_private(const struct attrs *a)
{
    return attrs_get_bool(a, CKA_PRIVATE, true);
}

static CK_RV not_user(const char *se_name)
{
    return err_set(ORIGIN_BACKEND, CKR_USER_NOT_LOGGED_IN,
                   "private objects of SE %s need the user logged in", se_name);
}

/* Inside a write transaction: is the SE still in the epoch of the key this process holds, that
 * is, not re-initialised by another process since the login? */
static CK_RV epoch_current(struct bdev *d, uint32_t seq, uint32_t epoch)
{
    struct se_row cur;
    bool found = false;
    CK_RV rv = store_se_get(d->wr, seq, &cur, &found);
    if (rv == CKR_OK && (!found || cur.epoch != epoch))
        rv = err_set(ORIGIN_BACKEND, CKR_USER_NOT_LOGGED_IN,
                     "SE %u was re-initialised by another process: log in again", seq);
    return rv;
}

/* OBJ_UNIQUE_LABEL, through connection st (its lock held). */
static CK_RV check_labels(struct bdev *d, struct store *st, uint32_t seq, struct newobj *o,
                          size_t n)
{
    bool taken = false;
    CK_RV rv = CKR_OK;
    for (size_t i = 0; i < n && rv == CKR_OK; i++) {
        if ((o[i].flags & OBJ_UNIQUE_LABEL) &&
            (rv = label_taken(d, st, seq, o[i].a, &taken)) == CKR_OK && taken)
            rv = err_set(ORIGIN_BACKEND, CKR_SEA_EXISTS,
                         "SE %u already has an object of that class and label", seq);
    }
    return rv;
}

static CK_RV insert_rows(struct bdev *d, struct newobj *o, size_t n)
{
    CK_RV rv = CKR_OK;
    for (size_t i = 0; i < n && rv == CKR_OK; i++) {
        int64_t oid = 0;
        if (o[i].so)
            continue;
        if ((rv = store_obj_insert(d->wr, &o[i].row, &oid)) == CKR_OK && oid >= SESSION_BIT)
            rv = err_set(ORIGIN_BACKEND, CKR_DEVICE_MEMORY,
                         "device %s has used up its object numbers", d->name);
        o[i].h = (CK_OBJECT_HANDLE)oid;
    }
    return rv;
}

/* Room and handles for n more session objects, reserved until add_objects publishes them (the
 * token rows of the same call are committed in between, without cmu). */
static CK_RV reserve_sobjs(struct bdev *d, size_t n)
{
    CK_RV rv = CKR_OK;
    if (n == 0)
        return CKR_OK;
    lock_c(d);
    size_t want = d->nsobj + d->sreserved + n;
    if (n > SESSION_BIT - 1 - d->next_session - d->sreserved)
        rv = err_set(ORIGIN_BACKEND, CKR_DEVICE_MEMORY,
                     "device %s has used up its session object handles", d->name);
    if (rv == CKR_OK && want > d->capsobj) {
        size_t cap = d->capsobj ? d->capsobj * 2 : 16;
        while (cap < want)
            cap *= 2;
        struct sobj **nv = realloc(d->sobj, cap * sizeof(*nv));
        if (!nv) {
            rv = oom();
        } else {
            d->sobj = nv;
            d->capsobj = cap;
        }
    }
    if (rv == CKR_OK)
        d->sreserved += n;
    unlock_c(d);
    return rv;
}

/* Store objects of one SE: token ones in one transaction, session ones in memory; all or
 * nothing. Sealing runs before any lock is taken. */
static CK_RV add_objects(struct bdev *d, uint32_t seq, struct newobj *o, size_t n)
{
    const struct se_row *r;
    struct keycopy kc = {0};
    char se_id[SE_ID_MAX + 1] = "", se_name[SE_NAME_MAX + 1] = "";
    uint32_t epoch = 0;
    bool any_token = false, guard = false, reserved = false;
    size_t nsession = 0;
    CK_RV rv = CKR_OK;
    for (size_t i = 0; i < n && rv == CKR_OK; i++)
        rv = check_new(&o[i]);
    if (rv != CKR_OK)
        goto out;
    lock_r(d);
    if ((rv = fresh_se(d, seq, &r)) == CKR_OK) {
        snprintf(se_id, sizeof(se_id), "%s", r->se_id);
        snprintf(se_name, sizeof(se_name), "%s", r->name);
        epoch = r->epoch;
        lock_c(d);
        rv = copy_key(d, seq, &kc);
        unlock_c(d);
    }
    unlock_r(d);
    for (size_t i = 0; i < n && rv == CKR_OK; i++) {
        if (is_private(o[i].a) && !kc.user) {
            rv = not_user(se_name);
        } else if (o[i].flags & OBJ_SESSION) {
            rv = make_sobj(o[i].a, seq, epoch, &o[i].so);
            nsession++;
        } else {
            any_token = true;
            rv = make_row(o[i].a, seq, se_id, &kc, &o[i].row);
            /* sealed with the key, or private: the login must still be the SE's own */
            guard |= o[i].row.secret != NULL || o[i].row.priv;
        }
    }
    if (rv != CKR_OK)
        goto out;
    if (any_token) {
        lock_w(d);
        if ((rv = store_begin(d->wr)) == CKR_OK) {
            rv = check_labels(d, d->wr, seq, o, n);
            if (rv == CKR_OK && guard)
                rv = epoch_current(d, seq, kc.epoch);
            if (rv == CKR_OK)
                rv = insert_rows(d, o, n);
            if (rv == CKR_OK && (rv = reserve_sobjs(d, nsession)) == CKR_OK)
                reserved = true;
            rv = end_txn(d, rv);
        }
        unlock_w(d);
    } else {
        lock_r(d);
        rv = check_labels(d, d->rd, seq, o, n);
        unlock_r(d);
        if (rv == CKR_OK && (rv = reserve_sobjs(d, nsession)) == CKR_OK)
            reserved = true;
    }
    lock_c(d);
    if (reserved)
        d->sreserved -= nsession;
    for (size_t i = 0; i < n && rv == CKR_OK; i++) {
        if (!o[i].so)
            continue;
        o[i].h = o[i].so->handle = SESSION_BIT | ++d->next_session;
        /* a logout meanwhile ended the login this private object belongs to */
        if (o[i].so->priv && !user_holds(d, seq))
            sobj_free(o[i].so);
        else
            d->sobj[d->nsobj++] = o[i].so;
        o[i].so = NULL;
    }
    unlock_c(d);
out:
    for (size_t i = 0; i < n; i++) {
        made_row_clear(&o[i].row);
        sobj_free(o[i].so);
        o[i].so = NULL;
    }
    keycopy_clear(&kc);
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
    char name[SE_NAME_MAX + 1] = "";
    bool held = false, user = false;
    if (!d || !m || !priv || !hpriv || (pub && !hpub))
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "soft generate: bad arguments");
    /* refuse what add_objects would refuse before generating rather than after */
    lock_r(d);
    CK_RV rv = fresh_se(d, seq, &r);
    if (rv == CKR_OK) {
        snprintf(name, sizeof(name), "%s", r->name);
        lock_c(d);
        held = find_sek(d, seq) != NULL;
        user = user_holds(d, seq);
        unlock_c(d);
    }
    unlock_r(d);
    if (rv == CKR_OK && !user && (is_private(priv) || (pub && is_private(pub))))
        rv = not_user(name);
    else if (rv == CKR_OK && !(priv_flags & OBJ_SESSION) && !held)
        rv = err_set(ORIGIN_BACKEND, CKR_USER_NOT_LOGGED_IN,
                     "storing a generated key needs the user logged in on SE %s", name);
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

/* After a committed write to token object h: nothing cached of it may be served again, and
 * nothing read before may be cached. */
static void invalidate(struct bdev *d, CK_OBJECT_HANDLE h)
{
    lock_c(d);
    cache_del(&d->attrs, (uint32_t)h);
    cache_del(&d->keys, (uint32_t)h);
    gen_bump(d);
    unlock_c(d);
}

/* Before serving a session object: a re-initialisation elsewhere ends it (refresh). */
static CK_RV sobj_refresh(struct bdev *d, uint32_t seq)
{
    const struct se_row *r;
    lock_r(d);
    CK_RV rv = fresh_se(d, seq, &r);
    unlock_r(d);
    return rv;
}

static CK_RV private_err(CK_OBJECT_HANDLE h)
{
    return err_set(ORIGIN_BACKEND, CKR_USER_NOT_LOGGED_IN,
                   "object %lu is private and the user is not logged in", h);
}

/* Session object h of SE seq, refused if it is private and the user is not logged in (cmu
 * held). */
static CK_RV user_sobj(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h, size_t *idx,
                       struct sobj **out)
{
    struct sobj *so = find_sobj(d, seq, h, idx);
    if (!so)
        return handle_err(h, seq);
    if (so->priv && !user_holds(d, seq))
        return private_err(h);
    *out = so;
    return CKR_OK;
}

static CK_RV soft_obj_destroy(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h)
{
    const struct se_row *r;
    struct sobj *so = NULL;
    size_t idx = 0;
    uint32_t se = 0, epoch = 0;
    bool found = false, priv = false, user = false;
    if (!d)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "soft obj_destroy: bad arguments");
    if (!token_handle(h)) {
        CK_RV rv = sobj_refresh(d, seq);
        lock_c(d);
        if (rv == CKR_OK && (rv = user_sobj(d, seq, h, &idx, &so)) == CKR_OK) {
            d->sobj[idx] = d->sobj[--d->nsobj];
            cache_del(&d->keys, (uint32_t)h);
        }
        unlock_c(d);
        sobj_free(rv == CKR_OK ? so : NULL);
        return rv;
    }
    lock_r(d);
    CK_RV rv = fresh_se(d, seq, &r);
    lock_c(d);
    const struct sek *k = find_sek(d, seq);
    user = k && k->role == ROLE_USER;
    epoch = k ? k->epoch : 0;
    unlock_c(d);
    unlock_r(d);
    if (rv != CKR_OK)
        return rv;
    lock_w(d);
    if ((rv = store_begin(d->wr)) == CKR_OK) {
        rv = store_obj_info(d->wr, (int64_t)h, &se, &priv, &found);
        if (rv == CKR_OK && (!found || se != seq))
            rv = handle_err(h, seq);
        else if (rv == CKR_OK && priv && !user)
            rv = private_err(h);
        else if (rv == CKR_OK && priv) /* the login must be the SE's own, not a stale one */
            rv = epoch_current(d, seq, epoch);
        if (rv == CKR_OK)
            rv = store_obj_delete(d->wr, seq, (int64_t)h, &found);
        rv = end_txn(d, rv);
    }
    unlock_w(d);
    invalidate(d, h);
    return rv;
}

static CK_RV soft_obj_attrs(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h, struct attrs **out)
{
    const struct se_row *r;
    struct sobj *so = NULL;
    struct attrs *a = NULL;
    if (!d || !out)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "soft obj_attrs: bad arguments");
    if (!token_handle(h)) {
        CK_RV rv = sobj_refresh(d, seq);
        lock_c(d);
        if (rv == CKR_OK && (rv = user_sobj(d, seq, h, NULL, &so)) == CKR_OK)
            *out = attrs_ref(so->pub);
        unlock_c(d);
        return rv;
    }
    /* The usual case, without the read lock: nothing was committed since the last freshness
     * check (the WAL index header is as it was then), so the attribute cache is current and an
     * entry of this SE is the object's as the store has it; the SE exists, or its deletion
     * would have dropped the cache. */
    if (wal_unchanged(d)) {
        uint32_t cseq = 0;
        lock_c(d);
        struct attrs *cached = cache_get(&d->attrs, (uint32_t)h, &cseq, NULL);
        if (cached && cseq == seq && (!is_private(cached) || user_holds(d, seq)))
            a = attrs_ref(cached);
        unlock_c(d);
        if (a) {
            *out = a;
            return CKR_OK;
        }
    }
    lock_r(d);
    CK_RV rv = fresh_se(d, seq, &r);
    if (rv == CKR_OK && (rv = get_obj(d, r, h, NULL, &a)) == CKR_OK && is_private(a)) {
        lock_c(d);
        if (!user_holds(d, seq))
            rv = private_err(h);
        unlock_c(d);
    }
    unlock_r(d);
    if (rv == CKR_OK)
        *out = a;
    else
        attrs_unref(a);
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

/* What reading a token object's secrets needs, gathered under the locks. */
struct secret_ctx {
    struct obj_row row;
    struct attrs *pub;
    struct keycopy kc; /* the key this process holds, if any */
    char se_id[SE_ID_MAX + 1];
    char se_name[SE_NAME_MAX + 1];
};

static void secret_ctx_clear(struct secret_ctx *c)
{
    store_obj_row_clear(&c->row);
    attrs_unref(c->pub);
    keycopy_clear(&c->kc);
    c->pub = NULL;
}

/* rmu held: the row, public attributes and (if this process holds it) the key of object h. */
static CK_RV gather(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h, struct secret_ctx *c)
{
    const struct se_row *r;
    memset(c, 0, sizeof(*c));
    CK_RV rv = fresh_se(d, seq, &r);
    if (rv != CKR_OK || (rv = get_obj(d, r, h, &c->row, &c->pub)) != CKR_OK)
        return rv;
    snprintf(c->se_id, sizeof(c->se_id), "%s", r->se_id);
    snprintf(c->se_name, sizeof(c->se_name), "%s", r->name);
    lock_c(d);
    rv = copy_key(d, seq, &c->kc);
    unlock_c(d);
    return rv;
}

/* Every secret attribute of object h (a shared set: attrs_unref it), for obj_secret and for
 * wrapping. */
static CK_RV obj_secrets(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h, struct attrs **out)
{
    struct secret_ctx c = {0};
    struct attrs *sec = NULL;
    struct sobj *so = NULL;
    CK_RV rv = CKR_OK;
    if (!token_handle(h)) {
        rv = sobj_refresh(d, seq);
        lock_c(d);
        if (rv == CKR_OK && (rv = user_sobj(d, seq, h, NULL, &so)) == CKR_OK)
            sec = attrs_ref(so->sec);
        unlock_c(d);
        goto out;
    }
    lock_r(d);
    rv = gather(d, seq, h, &c);
    unlock_r(d);
    if (rv != CKR_OK)
        goto out;
    if (is_private(c.pub) && !c.kc.user)
        rv = private_err(h);
    else if (!c.row.secret)
        rv = err_set(ORIGIN_BACKEND, CKR_ATTRIBUTE_TYPE_INVALID, "the object has no secrets");
    else if (!c.kc.sek)
        rv = err_set(ORIGIN_BACKEND, CKR_USER_NOT_LOGGED_IN,
                     "reading a secret needs a login on SE %s", c.se_name);
    else
        rv = open_secret(&c.row, c.pub, c.se_id, c.se_name, c.kc.sek, &sec);
out:
    if (rv == CKR_OK && !sec)
        rv = err_set(ORIGIN_BACKEND, CKR_ATTRIBUTE_TYPE_INVALID, "the object has no secrets");
    if (rv == CKR_OK)
        *out = sec;
    else
        attrs_unref(sec);
    secret_ctx_clear(&c);
    return rv;
}

static CK_RV soft_obj_secret(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE t,
                             struct attrs **out)
{
    struct attrs *sec = NULL;
    if (!d || !out)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "soft obj_secret: bad arguments");
    CK_RV rv = obj_secrets(d, seq, h, &sec);
    if (rv == CKR_OK)
        rv = one_secret(sec, t, out);
    attrs_unref(sec);
    return rv;
}

/* The updated row of a token object, built outside the locks. The seal and the MAC bind every
 * public value, so an object with secrets is opened and sealed again whatever changes (which
 * needs the SE key). The row points into *full, which the caller keeps until it is written. */
static CK_RV updated_row(const struct secret_ctx *c, uint32_t seq, const struct attrs *changes,
                         struct obj_row *nr, struct attrs **full_out)
{
    struct attrs *full = attrs_dup(c->pub), *sec = NULL;
    CK_RV rv = full ? CKR_OK : oom();
    memset(nr, 0, sizeof(*nr));
    if (rv == CKR_OK && c->row.secret) {
        if (!c->kc.sek)
            rv = err_set(ORIGIN_BACKEND, CKR_USER_NOT_LOGGED_IN,
                         "changing an object with secrets needs a login on SE %s", c->se_name);
        else if ((rv = open_secret(&c->row, c->pub, c->se_id, c->se_name, c->kc.sek, &sec)) ==
                 CKR_OK)
            rv = attrs_merge(full, sec);
    }
    /* the changes win */
    if (rv == CKR_OK)
        rv = attrs_merge(full, changes);
    if (rv == CKR_OK && is_private(full) && !c->kc.user)
        rv = not_user(c->se_name);
    if (rv != CKR_OK || (rv = make_row(full, seq, c->se_id, &c->kc, nr)) != CKR_OK)
        goto out;
    nr->oid = c->row.oid;
    *full_out = full;
    full = NULL;
out:
    attrs_unref(sec);
    attrs_unref(full);
    return rv;
}

/* Inside the write transaction: is the row still the one the update was computed from? */
static CK_RV still_same(struct bdev *d, const struct obj_row *old, bool *same)
{
    struct obj_row cur;
    bool found = false;
    CK_RV rv = store_obj_get(d->wr, old->oid, &cur, &found);
    if (rv != CKR_OK)
        return rv;
    if (!found || cur.se != old->se)
        rv = handle_err((CK_OBJECT_HANDLE)old->oid, old->se);
    *same = rv == CKR_OK && same_opt(cur.attrs, cur.attrs_len, old->attrs, old->attrs_len) &&
            same_opt(cur.secret, cur.secret_len, old->secret, old->secret_len) &&
            same_opt(cur.mac, cur.mac_len, old->mac, old->mac_len);
    store_obj_row_clear(&cur);
    return rv;
}

/* cmu held. */
static CK_RV update_sobj(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h,
                         const struct attrs *changes)
{
    struct attrs *full = NULL, *pub = NULL, *sec = NULL;
    struct sobj *so = NULL;
    CK_RV rv = user_sobj(d, seq, h, NULL, &so);
    if (rv != CKR_OK)
        return rv;
    full = attrs_dup(so->pub);
    rv = full ? attrs_merge(full, so->sec) : oom();
    if (rv == CKR_OK)
        rv = attrs_merge(full, changes);
    if (rv == CKR_OK && is_private(full) && !user_holds(d, seq))
        rv = private_err(h);
    if (rv == CKR_OK)
        rv = split_sets(full, &pub, &sec);
    if (rv == CKR_OK) {
        /* swap, never modify: op_init may hold references to the old sets */
        attrs_unref(so->pub);
        attrs_unref(so->sec);
        so->pub = pub;
        so->sec = sec;
        so->priv = is_private(full);
        cache_del(&d->keys, (uint32_t)h);
        gen_bump(d);
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
        rv = sobj_refresh(d, seq);
        lock_c(d);
        if (rv == CKR_OK)
            rv = update_sobj(d, seq, h, changes);
        unlock_c(d);
        return rv;
    }
    /* Optimistic: compute outside the locks, write if the row did not change meanwhile. */
    for (int tries = 0;; tries++) {
        bool same = false;
        lock_r(d);
        rv = gather(d, seq, h, &c);
        unlock_r(d);
        if (rv == CKR_OK && is_private(c.pub) && !c.kc.user)
            rv = private_err(h);
        if (rv != CKR_OK || (rv = updated_row(&c, seq, changes, &nr, &full)) != CKR_OK)
            break;
        lock_w(d);
        if ((rv = store_begin(d->wr)) == CKR_OK) {
            rv = still_same(d, &c.row, &same);
            /* written with the key, or private: the login must still be the SE's own */
            if (rv == CKR_OK && same && (nr.secret || nr.priv || c.row.priv))
                rv = epoch_current(d, seq, c.kc.epoch);
            if (rv == CKR_OK && same)
                rv = store_obj_update(d->wr, &nr);
            rv = end_txn(d, rv);
        }
        unlock_w(d);
        if (rv == CKR_OK && same)
            invalidate(d, h);
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

/* One row of a find (rmu held). Rows are matched on what they say without any check: a find
 * returns handles only, and whatever is then read of an object goes through get_obj. */
static CK_RV find_row(void *ctx, int64_t oid, const uint8_t *blob, size_t len)
{
    struct find_ctx *f = ctx;
    uint32_t cseq = 0;
    if (oid <= 0 || oid >= SESSION_BIT)
        return CKR_OK;
    if (f->match) {
        struct attrs *a = NULL;
        lock_c(f->d);
        a = attrs_ref(cache_get(&f->d->attrs, (uint32_t)oid, &cseq, NULL));
        unlock_c(f->d);
        if (!a && attrs_decode(blob, len, false, &a) != CKR_OK) {
            /* reported when the object itself is used; the find goes on */
            LOGW("object %lld does not decode: left out of the find", (long long)oid);
            return CKR_OK;
        }
        bool ok = attrs_match(a, f->tmpl, f->n);
        attrs_unref(a);
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
    if (f.match)
        q.flags |= STORE_F_ATTRS;
    lock_r(d);
    CK_RV rv = fresh_se(d, seq, &r);
    /* private objects only for the user, as this process holds the login (backend.h) */
    lock_c(d);
    bool priv_ok = with_private && user_holds(d, seq);
    unlock_c(d);
    if (!priv_ok)
        q.flags |= STORE_F_PUBLIC_ONLY;
    if (rv == CKR_OK && possible)
        rv = store_obj_find(d->rd, &q, find_row, &f);
    lock_c(d);
    for (size_t i = 0; rv == CKR_OK && possible && i < d->nsobj; i++) {
        const struct sobj *o = d->sobj[i];
        if (o->seq == seq && (priv_ok || !o->priv) && attrs_match(o->pub, tmpl, n))
            rv = push(&f, o->handle);
    }
    unlock_c(d);
    unlock_r(d);
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

/* The key material of a session object: from the cache, or built outside the locks (and
 * cached while the SE's key is held, so that logout drops it). */
static CK_RV sobj_keymat(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h, struct keymat **out)
{
    struct attrs *pub = NULL, *sec = NULL;
    struct keymat *k = NULL;
    struct sobj *so = NULL;
    uint32_t cseq = 0;
    bool priv = false;
    CK_RV rv = sobj_refresh(d, seq);
    lock_c(d);
    uint64_t gen = d->gen;
    if (rv == CKR_OK)
        rv = user_sobj(d, seq, h, NULL, &so);
    if (rv == CKR_OK && !is_key_class(attrs_get_ulong(so->pub, CKA_CLASS, CKO_DATA)))
        rv = not_a_key(h);
    if (rv == CKR_OK && (k = cache_get(&d->keys, (uint32_t)h, &cseq, NULL)) != NULL) {
        *out = keymat_ref(k);
    } else if (rv == CKR_OK) {
        pub = attrs_ref(so->pub);
        sec = attrs_ref(so->sec);
        priv = so->priv;
    }
    unlock_c(d);
    if (rv != CKR_OK || k)
        return rv;
    rv = keymat_from_attrs(pub, sec, &k);
    attrs_unref(pub);
    attrs_unref(sec);
    if (rv != CKR_OK)
        return rv;
    lock_c(d);
    if (d->gen == gen && find_sek(d, seq) && find_sobj(d, seq, h, NULL))
        cache_put(&d->keys, (uint32_t)h, seq, priv, keymat_ref(k));
    unlock_c(d);
    *out = k;
    return CKR_OK;
}

/* Key material for an operation on object h: from the cache, or read, checked, opened and built
 * outside the locks (and cached while the key that opened it is still held and nothing was
 * dropped meanwhile). `checked` (see backend.h op_init) spares the data_version read when it is
 * still the attribute cache's entry for h: the cache is dropped whenever a write is seen, so an
 * unchanged entry means nothing newer has been seen since. */
static CK_RV get_keymat(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h,
                        const struct attrs *checked, struct keymat **out)
{
    struct secret_ctx c = {0};
    struct attrs *sec = NULL;
    struct keymat *k = NULL;
    const struct se_row *r;
    uint32_t cseq = 0, aseq = 0;
    bool kpriv = false;
    if (!token_handle(h))
        return sobj_keymat(d, seq, h, out);
    /* The usual case, without the read lock: `checked` is still the cache's entry, so nothing
     * was dropped since obj_attrs served it in this call, with the SE row checked then; a key
     * cached under the same SE is as current as that. */
    if (checked) {
        CK_RV rv = CKR_OK;
        lock_c(d);
        if (cache_get(&d->attrs, (uint32_t)h, &aseq, NULL) == checked && aseq == seq &&
            (k = cache_get(&d->keys, (uint32_t)h, &cseq, &kpriv)) != NULL) {
            if (cseq != seq)
                rv = handle_err(h, seq);
            else if (kpriv && !user_holds(d, seq))
                rv = private_err(h);
            else
                *out = keymat_ref(k);
        }
        unlock_c(d);
        if (k)
            return rv;
    }
    lock_r(d);
    lock_c(d);
    bool current =
        checked && cache_get(&d->attrs, (uint32_t)h, &aseq, NULL) == checked && aseq == seq;
    unlock_c(d);
    CK_RV rv = current ? known_se(d, seq, &r) : fresh_se(d, seq, &r);
    lock_c(d);
    uint64_t gen = d->gen;
    if (rv == CKR_OK && (k = cache_get(&d->keys, (uint32_t)h, &cseq, &kpriv)) != NULL) {
        if (cseq != seq)
            rv = handle_err(h, seq);
        else if (kpriv && !user_holds(d, seq))
            rv = private_err(h);
        else
            *out = keymat_ref(k);
    }
    unlock_c(d);
    if (rv == CKR_OK && !k)
        rv = gather(d, seq, h, &c);
    unlock_r(d);
    if (rv != CKR_OK || k)
        goto out;
    CK_OBJECT_CLASS cls = attrs_get_ulong(c.pub, CKA_CLASS, CKO_DATA);
    bool priv = is_private(c.pub);
    if (!is_key_class(cls))
        rv = not_a_key(h);
    else if (priv && !c.kc.user)
        rv = private_err(h);
    else if ((c.row.secret || cls != CKO_PUBLIC_KEY) && !c.kc.sek)
        rv = err_set(ORIGIN_BACKEND, CKR_USER_NOT_LOGGED_IN,
                     "using this key needs a login on SE %s", c.se_name);
    else if (cls != CKO_PUBLIC_KEY && !c.row.secret) /* never a key value from public data */
        rv = integrity_err(c.se_name, c.row.oid);
    else if (c.row.secret)
        rv = open_secret(&c.row, c.pub, c.se_id, c.se_name, c.kc.sek, &sec);
    if (rv != CKR_OK || (rv = keymat_from_attrs(c.pub, sec, &k)) != CKR_OK)
        goto out;
    lock_c(d);
    const struct sek *held = find_sek(d, seq);
    if (c.kc.sek && d->gen == gen && held && held->epoch == c.kc.epoch)
        cache_put(&d->keys, (uint32_t)h, seq, priv, keymat_ref(k));
    unlock_c(d);
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
    /* the crypto runs without any lock: keymats are refcounted */
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

/* Non-zero while nothing was committed to the store since the last freshness check (the WAL
 * index header is as it was then: any commit, by any process, changes it before it returns)
 * and nothing cached was dropped since (gen: logins, logouts, objects changed or destroyed
 * here, and every refresh that saw a commit bump it, refresh before it publishes the new
 * header copy). Only reads: the caller's steady state writes nothing this device shares.
 * Session objects change without a commit: no tag for them. */
static uint64_t soft_state_tag(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE h)
{
    (void)seq;
    if (!d || !token_handle(h) || !wal_unchanged(d))
        return 0;
    return __atomic_load_n(&d->gen, __ATOMIC_ACQUIRE) + 1; /* never 0 */
}

static CK_RV soft_op_restart(struct bop *op, const CK_MECHANISM *m)
{
    if (!op || !m)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "soft op_restart: bad arguments");
    return cop_restart(op->c, m);
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

/* ---- wrapping, unwrapping and derivation ----
 * Keys are read as op_init reads them (get_keymat) and the wrapped key's value through
 * obj_secret; new keys are stored as generated ones are (add_objects). Nothing in clear leaves
 * the backend: C_WrapKey's output is encrypted under the wrapping key. */

/* Refuse what add_objects would refuse for a new object, before any work (as soft_generate). */
static CK_RV can_store(struct bdev *d, uint32_t seq, const struct attrs *a, unsigned flags)
{
    const struct se_row *r;
    char name[SE_NAME_MAX + 1] = "";
    bool held = false, user = false;
    lock_r(d);
    CK_RV rv = fresh_se(d, seq, &r);
    if (rv == CKR_OK) {
        snprintf(name, sizeof(name), "%s", r->name);
        lock_c(d);
        held = find_sek(d, seq) != NULL;
        user = user_holds(d, seq);
        unlock_c(d);
    }
    unlock_r(d);
    if (rv == CKR_OK && !user && is_private(a))
        rv = not_user(name);
    else if (rv == CKR_OK && !(flags & OBJ_SESSION) && !held)
        rv = err_set(ORIGIN_BACKEND, CKR_USER_NOT_LOGGED_IN,
                     "storing a new key needs the user logged in on SE %s", name);
    return rv;
}

/* cop_new's and cop_final's codes in C_WrapKey's and C_UnwrapKey's terms. */
static CK_RV wrap_rv(CK_RV rv, bool unwrap)
{
    switch (rv) {
    case CKR_KEY_TYPE_INCONSISTENT:
        rv = unwrap ? CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT : CKR_WRAPPING_KEY_TYPE_INCONSISTENT;
        break;
    case CKR_KEY_SIZE_RANGE:
        rv = unwrap ? CKR_UNWRAPPING_KEY_SIZE_RANGE : CKR_WRAPPING_KEY_SIZE_RANGE;
        break;
    case CKR_ENCRYPTED_DATA_INVALID:
        rv = unwrap ? CKR_WRAPPED_KEY_INVALID : rv;
        break;
    case CKR_ENCRYPTED_DATA_LEN_RANGE:
    case CKR_DATA_LEN_RANGE:
        rv = unwrap ? CKR_WRAPPED_KEY_LEN_RANGE : CKR_KEY_SIZE_RANGE;
        break;
    default:
        return rv;
    }
    return err_default(ORIGIN_BACKEND, rv, "the key could not be %s", unwrap ? "unwrapped" : "wrapped");
}

static CK_RV soft_wrap(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE hw, const CK_MECHANISM *m,
                       CK_OBJECT_HANDLE hk, uint8_t *out, size_t *outlen)
{
    struct keymat *wk = NULL;
    struct attrs *pub = NULL, *sec = NULL;
    struct cop *c = NULL;
    uint8_t *pt = NULL;
    size_t ptlen = 0, need = 0;
    CK_RV rv;
    if (!d || !m || !outlen)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "soft wrap: bad arguments");
    if ((rv = get_keymat(d, seq, hw, NULL, &wk)) != CKR_OK ||
        (rv = soft_obj_attrs(d, seq, hk, &pub)) != CKR_OK)
        goto out;
    if ((rv = obj_secrets(d, seq, hk, &sec)) != CKR_OK) {
        if (rv == CKR_ATTRIBUTE_TYPE_INVALID)
            rv = err_set(ORIGIN_BACKEND, CKR_KEY_NOT_WRAPPABLE, "the key has no value to wrap");
        goto out;
    }
    if ((rv = crypto_wrap_format(pub, sec, &pt, &ptlen)) != CKR_OK)
        goto out;
    if ((rv = cop_new(wk, OP_ENCRYPT, m, &c)) != CKR_OK) {
        rv = wrap_rv(rv, false);
        goto out;
    }
    need = cop_outlen(c, PHASE_SINGLE, ptlen);
    if (out && *outlen < need)
        rv = err_set(ORIGIN_BACKEND, CKR_BUFFER_TOO_SMALL, "the wrapped key needs %zu bytes", need);
    if (!out || rv != CKR_OK) {
        *outlen = need;
        goto out;
    }
    size_t got = *outlen;
    if ((rv = cop_final(c, pt, ptlen, out, &got)) != CKR_OK) {
        sea_wipe(out, need);
        rv = wrap_rv(rv, false);
        goto out;
    }
    *outlen = got;
out:
    cop_free(c);
    if (pt)
        OPENSSL_secure_clear_free(pt, ptlen);
    attrs_unref(sec);
    attrs_unref(pub);
    keymat_unref(wk);
    return rv;
}

static CK_RV soft_unwrap(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE hu, const CK_MECHANISM *m,
                         const uint8_t *in, size_t inlen, struct attrs *tmpl, unsigned flags,
                         CK_OBJECT_HANDLE *out)
{
    struct keymat *uk = NULL;
    struct cop *c = NULL;
    uint8_t *pt = NULL;
    size_t need = 0, got = 0;
    struct newobj o = {.a = tmpl, .flags = flags};
    CK_RV rv;
    if (!d || !m || (!in && inlen) || !tmpl || !out)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "soft unwrap: bad arguments");
    if ((rv = can_store(d, seq, tmpl, flags)) != CKR_OK ||
        (rv = get_keymat(d, seq, hu, NULL, &uk)) != CKR_OK)
        goto out;
    if ((rv = cop_new(uk, OP_DECRYPT, m, &c)) != CKR_OK) {
        rv = wrap_rv(rv, true);
        goto out;
    }
    need = cop_outlen(c, PHASE_SINGLE, inlen);
    if (!(pt = OPENSSL_secure_malloc(need ? need : 1))) {
        rv = oom();
        goto out;
    }
    got = need;
    if ((rv = cop_final(c, in, inlen, pt, &got)) != CKR_OK) {
        rv = wrap_rv(rv, true);
        goto out;
    }
    if ((rv = crypto_unwrap_format(tmpl, pt, got)) != CKR_OK ||
        (rv = add_objects(d, seq, &o, 1)) != CKR_OK)
        goto out;
    *out = o.h;
out:
    cop_free(c);
    if (pt)
        OPENSSL_secure_clear_free(pt, need ? need : 1);
    keymat_unref(uk);
    return rv;
}

static CK_RV soft_derive(struct bdev *d, uint32_t seq, CK_OBJECT_HANDLE hb, const CK_MECHANISM *m,
                         size_t len, struct attrs *tmpl, unsigned flags, CK_OBJECT_HANDLE *out)
{
    struct keymat *bk = NULL, *sk = NULL;
    struct newobj o = {.a = tmpl, .flags = flags};
    const CK_HKDF_PARAMS *hp = m ? m->pParameter : NULL;
    CK_RV rv;
    if (!d || !m || !tmpl || !out)
        return err_set(ORIGIN_BACKEND, CKR_ARGUMENTS_BAD, "soft derive: bad arguments");
    if ((rv = can_store(d, seq, tmpl, flags)) != CKR_OK ||
        (rv = get_keymat(d, seq, hb, NULL, &bk)) != CKR_OK)
        goto out;
    /* the salt of HKDF may be a second key of the SE */
    if ((m->mechanism == CKM_HKDF_DERIVE || m->mechanism == CKM_HKDF_DATA) && hp &&
        m->ulParameterLen == sizeof(*hp) && hp->ulSaltType == CKF_HKDF_SALT_KEY &&
        (rv = get_keymat(d, seq, hp->hSaltKey, NULL, &sk)) != CKR_OK)
        goto out;
    if ((rv = crypto_derive(bk, m, sk, len, tmpl)) != CKR_OK ||
        (rv = add_objects(d, seq, &o, 1)) != CKR_OK)
        goto out;
    *out = o.h;
out:
    keymat_unref(sk);
    keymat_unref(bk);
    return rv;
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
    .wrap = soft_wrap,
    .unwrap = soft_unwrap,
    .derive = soft_derive,
    .state_tag = soft_state_tag,
    .op_restart = soft_op_restart,
};

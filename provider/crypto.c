/* libsea's own cryptography: a private OpenSSL 3 library context that loads only the default
 * provider, whose algorithms run straight through their dispatch tables (OpenSSL 3.0's EVP
 * contexts still consult the host's ENGINE tables), random numbers from the kernel (the
 * context's generators are SEA-OS-RNG, a provider built into libsea that calls getrandom), key
 * material in the secure heap, and the mechanism implementations (cop_*) that software-style
 * backends run.
 *
 * What an ENGINE the host made its default can still reach, because OpenSSL 3.0 does it inside
 * the default provider where libsea cannot intervene (tests/check_crypto.c pins the rest):
 * - ECDSA signing derives its nonce with SHA-512 through EVP_DigestInit_ex (the ENGINE digest
 *   table for SHA-512) and mixes in RAND_priv_bytes_ex (a RAND_METHOD set by the host; without
 *   one, the bytes come from SEA-OS-RNG);
 * - an EC_KEY calls the default EC ENGINE's init hook when it is created (empty: libsea detaches
 *   the method before any key material goes in); the keys the decoder builds for
 *   crypto_parse_private_key keep that method, whose set_group and finish hooks then run;
 * - the same holds for RSA: the RSA the provider's key generation makes has the default RSA
 *   ENGINE's method while the primes are made (its keygen hook, if it has one, would run), and
 *   a parsed RSA key keeps it until it is freed; libsea only reads the parts from either and
 *   uses a detached copy;
 * - RSA key generation and blinding, OAEP seeds and PSS salts draw from RAND_priv_bytes_ex /
 *   RAND_bytes_ex (a host RAND_METHOD, like ECDSA nonces); PSS, OAEP and MGF1 hash, and Ed25519
 *   hashes its key and message, with EVP_DigestInit_ex (the ENGINE digest tables). */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>
#include <sys/random.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <uninorm.h>
#include <unistr.h>

#include "crypto.h"
#include "error.h"
#include "log.h"

/* crypto.c runs inside the software backends (and for the core's digests); to the caller a
 * failure here is the backend's. */
#define ORIGIN ORIGIN_BACKEND

#define FAIL(code, ...)                                                                            \
    do {                                                                                           \
        rv = err_set(ORIGIN, (code), __VA_ARGS__);                                                 \
        goto out;                                                                                  \
    } while (0)

/* ---- the default provider's algorithms, by dispatch table ----
 * One table per algorithm family holds the functions libsea calls; crypto_init fills each from
 * the provider's own dispatch table and fails if one is missing. A new algorithm of a known
 * family is a name in the lists below. */

struct md_impl {
    OSSL_FUNC_digest_newctx_fn *newctx;
    OSSL_FUNC_digest_init_fn *init;
    OSSL_FUNC_digest_update_fn *update;
    OSSL_FUNC_digest_final_fn *final;
    OSSL_FUNC_digest_dupctx_fn *dupctx;
    OSSL_FUNC_digest_freectx_fn *freectx;
    OSSL_FUNC_digest_get_params_fn *get_params;
    size_t size, block;
};

struct cipher_impl {
    OSSL_FUNC_cipher_newctx_fn *newctx;
    OSSL_FUNC_cipher_encrypt_init_fn *encrypt_init;
    OSSL_FUNC_cipher_decrypt_init_fn *decrypt_init;
    OSSL_FUNC_cipher_update_fn *update;
    OSSL_FUNC_cipher_final_fn *final;
    OSSL_FUNC_cipher_get_ctx_params_fn *get_ctx_params;
    OSSL_FUNC_cipher_set_ctx_params_fn *set_ctx_params;
    OSSL_FUNC_cipher_freectx_fn *freectx;
};

struct keymgmt_impl {
    OSSL_FUNC_keymgmt_new_fn *newdata;
    OSSL_FUNC_keymgmt_import_fn *import;
    OSSL_FUNC_keymgmt_export_fn *export;
    OSSL_FUNC_keymgmt_free_fn *free;
    /* key generation (RSA only: the others draw their private values from our generator) */
    OSSL_FUNC_keymgmt_gen_init_fn *gen_init;
    OSSL_FUNC_keymgmt_gen_fn *gen;
    OSSL_FUNC_keymgmt_gen_cleanup_fn *gen_cleanup;
};

struct sig_impl {
    OSSL_FUNC_signature_newctx_fn *newctx;
    OSSL_FUNC_signature_sign_init_fn *sign_init;
    OSSL_FUNC_signature_sign_fn *sign;
    OSSL_FUNC_signature_verify_init_fn *verify_init;
    OSSL_FUNC_signature_verify_fn *verify;
    OSSL_FUNC_signature_freectx_fn *freectx;
    /* one-shot message signatures (EdDSA has no other form) */
    OSSL_FUNC_signature_digest_sign_init_fn *digest_sign_init;
    OSSL_FUNC_signature_digest_sign_fn *digest_sign;
    OSSL_FUNC_signature_digest_verify_init_fn *digest_verify_init;
    OSSL_FUNC_signature_digest_verify_fn *digest_verify;
};

struct asym_impl {
    OSSL_FUNC_asym_cipher_newctx_fn *newctx;
    OSSL_FUNC_asym_cipher_encrypt_init_fn *encrypt_init;
    OSSL_FUNC_asym_cipher_encrypt_fn *encrypt;
    OSSL_FUNC_asym_cipher_decrypt_init_fn *decrypt_init;
    OSSL_FUNC_asym_cipher_decrypt_fn *decrypt;
    OSSL_FUNC_asym_cipher_freectx_fn *freectx;
};

struct kex_impl {
    OSSL_FUNC_keyexch_newctx_fn *newctx;
    OSSL_FUNC_keyexch_init_fn *init;
    OSSL_FUNC_keyexch_set_peer_fn *set_peer;
    OSSL_FUNC_keyexch_derive_fn *derive;
    OSSL_FUNC_keyexch_freectx_fn *freectx;
};

static const struct digest {
    CK_MECHANISM_TYPE mech;
    const char *name;
    size_t len;
} digests[] = {
    {CKM_SHA_1, "SHA1", 20},      {CKM_SHA224, "SHA2-224", 28}, {CKM_SHA256, "SHA2-256", 32},
    {CKM_SHA384, "SHA2-384", 48}, {CKM_SHA512, "SHA2-512", 64},
};

/* AES key sizes, indexing the cipher arrays below. */
static const size_t aes_sizes[] = {16, 24, 32};
static const char *const gcm_names[] = {"AES-128-GCM", "AES-192-GCM", "AES-256-GCM"};
static const char *const ecb_names[] = {"AES-128-ECB", "AES-192-ECB", "AES-256-ECB"};
/* The other AES modes: CBC (also the engine of CMAC), CTR, and the key wraps of RFC 3394 and
 * RFC 5649, whose providers call AES directly (no EVP inside, so no ENGINE either). */
static const char *const cbc_names[] = {"AES-128-CBC", "AES-192-CBC", "AES-256-CBC"};
static const char *const ctr_names[] = {"AES-128-CTR", "AES-192-CTR", "AES-256-CTR"};
static const char *const kw_names[] = {"AES-128-WRAP", "AES-192-WRAP", "AES-256-WRAP"};
static const char *const kwp_names[] = {"AES-128-WRAP-PAD", "AES-192-WRAP-PAD", "AES-256-WRAP-PAD"};

/* Key types and signature schemes. */
enum { KM_EC, KM_RSA, KM_ED25519, KM__COUNT };
static const char *const keymgmt_names[KM__COUNT] = {"EC", "RSA", "ED25519"};
enum { SIG_ECDSA, SIG_RSA, SIG_ED25519, SIG__COUNT };
static const char *const sig_names[SIG__COUNT] = {"ECDSA", "RSA", "ED25519"};

#define HMAC_BLOCK_MAX 128 /* SHA-384/512 */
#define MD_MAX         64

static struct {
    pthread_mutex_t lock; /* guards refs and the setup/teardown below */
    unsigned refs;
    OSSL_LIB_CTX *ctx;
    OSSL_PROVIDER *prov;
    OSSL_PROVIDER *rand_prov; /* sea-rand, the source of the context's generators */
    void *provctx;
    struct md_impl md[ARRAY_SIZE(digests)];
    struct cipher_impl gcm[ARRAY_SIZE(aes_sizes)];
    struct cipher_impl ecb[ARRAY_SIZE(aes_sizes)];
    struct cipher_impl cbc[ARRAY_SIZE(aes_sizes)];
    struct cipher_impl ctr[ARRAY_SIZE(aes_sizes)];
    struct cipher_impl kw[ARRAY_SIZE(aes_sizes)];
    struct cipher_impl kwp[ARRAY_SIZE(aes_sizes)];
    struct keymgmt_impl km[KM__COUNT];
    struct sig_impl sig[SIG__COUNT];
    struct kex_impl ecdh; /* CKM_ECDH1_DERIVE */
    struct asym_impl rsa_cipher;
} g = {.lock = PTHREAD_MUTEX_INITIALIZER};

static pthread_mutex_t heap_lock = PTHREAD_MUTEX_INITIALIZER;

/* Does a provider's "NAME1:NAME2:..." list hold name? */
static bool names_have(const char *names, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = names; p && *p;) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncasecmp(p, name, n) == 0)
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

static void take_md(void *dst, const OSSL_DISPATCH *f)
{
    struct md_impl *d = dst;
    for (; f->function_id != 0; f++) {
        switch (f->function_id) {
        case OSSL_FUNC_DIGEST_NEWCTX:
            d->newctx = OSSL_FUNC_digest_newctx(f);
            break;
        case OSSL_FUNC_DIGEST_INIT:
            d->init = OSSL_FUNC_digest_init(f);
            break;
        case OSSL_FUNC_DIGEST_UPDATE:
            d->update = OSSL_FUNC_digest_update(f);
            break;
        case OSSL_FUNC_DIGEST_FINAL:
            d->final = OSSL_FUNC_digest_final(f);
            break;
        case OSSL_FUNC_DIGEST_DUPCTX:
            d->dupctx = OSSL_FUNC_digest_dupctx(f);
            break;
        case OSSL_FUNC_DIGEST_FREECTX:
            d->freectx = OSSL_FUNC_digest_freectx(f);
            break;
        case OSSL_FUNC_DIGEST_GET_PARAMS:
            d->get_params = OSSL_FUNC_digest_get_params(f);
            break;
        default:
            break;
        }
    }
}

static void take_cipher(void *dst, const OSSL_DISPATCH *f)
{
    struct cipher_impl *c = dst;
    for (; f->function_id != 0; f++) {
        switch (f->function_id) {
        case OSSL_FUNC_CIPHER_NEWCTX:
            c->newctx = OSSL_FUNC_cipher_newctx(f);
            break;
        case OSSL_FUNC_CIPHER_ENCRYPT_INIT:
            c->encrypt_init = OSSL_FUNC_cipher_encrypt_init(f);
            break;
        case OSSL_FUNC_CIPHER_DECRYPT_INIT:
            c->decrypt_init = OSSL_FUNC_cipher_decrypt_init(f);
            break;
        case OSSL_FUNC_CIPHER_UPDATE:
            c->update = OSSL_FUNC_cipher_update(f);
            break;
        case OSSL_FUNC_CIPHER_FINAL:
            c->final = OSSL_FUNC_cipher_final(f);
            break;
        case OSSL_FUNC_CIPHER_GET_CTX_PARAMS:
            c->get_ctx_params = OSSL_FUNC_cipher_get_ctx_params(f);
            break;
        case OSSL_FUNC_CIPHER_SET_CTX_PARAMS:
            c->set_ctx_params = OSSL_FUNC_cipher_set_ctx_params(f);
            break;
        case OSSL_FUNC_CIPHER_FREECTX:
            c->freectx = OSSL_FUNC_cipher_freectx(f);
            break;
        default:
            break;
        }
    }
}

static void take_keymgmt(void *dst, const OSSL_DISPATCH *f)
{
    struct keymgmt_impl *k = dst;
    for (; f->function_id != 0; f++) {
        switch (f->function_id) {
        case OSSL_FUNC_KEYMGMT_NEW:
            k->newdata = OSSL_FUNC_keymgmt_new(f);
            break;
        case OSSL_FUNC_KEYMGMT_IMPORT:
            k->import = OSSL_FUNC_keymgmt_import(f);
            break;
        case OSSL_FUNC_KEYMGMT_FREE:
            k->free = OSSL_FUNC_keymgmt_free(f);
            break;
        case OSSL_FUNC_KEYMGMT_EXPORT:
            k->export = OSSL_FUNC_keymgmt_export(f);
            break;
        case OSSL_FUNC_KEYMGMT_GEN_INIT:
            k->gen_init = OSSL_FUNC_keymgmt_gen_init(f);
            break;
        case OSSL_FUNC_KEYMGMT_GEN:
            k->gen = OSSL_FUNC_keymgmt_gen(f);
            break;
        case OSSL_FUNC_KEYMGMT_GEN_CLEANUP:
            k->gen_cleanup = OSSL_FUNC_keymgmt_gen_cleanup(f);
            break;
        default:
            break;
        }
    }
}

static void take_sig(void *dst, const OSSL_DISPATCH *f)
{
    struct sig_impl *s = dst;
    for (; f->function_id != 0; f++) {
        switch (f->function_id) {
        case OSSL_FUNC_SIGNATURE_NEWCTX:
            s->newctx = OSSL_FUNC_signature_newctx(f);
            break;
        case OSSL_FUNC_SIGNATURE_SIGN_INIT:
            s->sign_init = OSSL_FUNC_signature_sign_init(f);
            break;
        case OSSL_FUNC_SIGNATURE_SIGN:
            s->sign = OSSL_FUNC_signature_sign(f);
            break;
        case OSSL_FUNC_SIGNATURE_VERIFY_INIT:
            s->verify_init = OSSL_FUNC_signature_verify_init(f);
            break;
        case OSSL_FUNC_SIGNATURE_VERIFY:
            s->verify = OSSL_FUNC_signature_verify(f);
            break;
        case OSSL_FUNC_SIGNATURE_FREECTX:
            s->freectx = OSSL_FUNC_signature_freectx(f);
            break;
        case OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT:
            s->digest_sign_init = OSSL_FUNC_signature_digest_sign_init(f);
            break;
        case OSSL_FUNC_SIGNATURE_DIGEST_SIGN:
            s->digest_sign = OSSL_FUNC_signature_digest_sign(f);
            break;
        case OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_INIT:
            s->digest_verify_init = OSSL_FUNC_signature_digest_verify_init(f);
            break;
        case OSSL_FUNC_SIGNATURE_DIGEST_VERIFY:
            s->digest_verify = OSSL_FUNC_signature_digest_verify(f);
            break;
        default:
            break;
        }
    }
}

static void take_asym(void *dst, const OSSL_DISPATCH *f)
{
    struct asym_impl *a = dst;
    for (; f->function_id != 0; f++) {
        switch (f->function_id) {
        case OSSL_FUNC_ASYM_CIPHER_NEWCTX:
            a->newctx = OSSL_FUNC_asym_cipher_newctx(f);
            break;
        case OSSL_FUNC_ASYM_CIPHER_ENCRYPT_INIT:
            a->encrypt_init = OSSL_FUNC_asym_cipher_encrypt_init(f);
            break;
        case OSSL_FUNC_ASYM_CIPHER_ENCRYPT:
            a->encrypt = OSSL_FUNC_asym_cipher_encrypt(f);
            break;
        case OSSL_FUNC_ASYM_CIPHER_DECRYPT_INIT:
            a->decrypt_init = OSSL_FUNC_asym_cipher_decrypt_init(f);
            break;
        case OSSL_FUNC_ASYM_CIPHER_DECRYPT:
            a->decrypt = OSSL_FUNC_asym_cipher_decrypt(f);
            break;
        case OSSL_FUNC_ASYM_CIPHER_FREECTX:
            a->freectx = OSSL_FUNC_asym_cipher_freectx(f);
            break;
        default:
            break;
        }
    }
}

static void take_kex(void *dst, const OSSL_DISPATCH *f)
{
    struct kex_impl *x = dst;
    for (; f->function_id != 0; f++) {
        switch (f->function_id) {
        case OSSL_FUNC_KEYEXCH_NEWCTX:
            x->newctx = OSSL_FUNC_keyexch_newctx(f);
            break;
        case OSSL_FUNC_KEYEXCH_INIT:
            x->init = OSSL_FUNC_keyexch_init(f);
            break;
        case OSSL_FUNC_KEYEXCH_SET_PEER:
            x->set_peer = OSSL_FUNC_keyexch_set_peer(f);
            break;
        case OSSL_FUNC_KEYEXCH_DERIVE:
            x->derive = OSSL_FUNC_keyexch_derive(f);
            break;
        case OSSL_FUNC_KEYEXCH_FREECTX:
            x->freectx = OSSL_FUNC_keyexch_freectx(f);
            break;
        default:
            break;
        }
    }
}

/* Copy the functions of the algorithm the default provider offers as `name` for operation op
 * into dst. Only a query, no fetch: nothing here goes through the EVP method stores. */
static bool resolve(int op, const char *name, void (*take)(void *, const OSSL_DISPATCH *),
                    void *dst)
{
    int no_cache = 0;
    bool found = false;
    const OSSL_ALGORITHM *algs = OSSL_PROVIDER_query_operation(g.prov, op, &no_cache);
    for (const OSSL_ALGORITHM *a = algs; a && a->algorithm_names && !found; a++) {
        if (names_have(a->algorithm_names, name)) {
            take(dst, a->implementation);
            found = true;
        }
    }
    if (algs)
        OSSL_PROVIDER_unquery_operation(g.prov, op, algs);
    if (!found)
        LOGE("the default provider has no %s", name);
    return found;
}

/* A table with every function libsea calls, else a logged reason. */
static bool complete(bool ok, const char *name)
{
    if (!ok)
        LOGE("the default provider's %s lacks a function libsea calls", name);
    return ok;
}

static bool md_ready(struct md_impl *d, const struct digest *want)
{
    OSSL_PARAM q[] = {OSSL_PARAM_construct_size_t(OSSL_DIGEST_PARAM_SIZE, &d->size),
                      OSSL_PARAM_construct_size_t(OSSL_DIGEST_PARAM_BLOCK_SIZE, &d->block),
                      OSSL_PARAM_END};
    return complete(d->newctx && d->init && d->update && d->final && d->dupctx && d->freectx &&
                        d->get_params && d->get_params(q) && d->size == want->len &&
                        d->size <= MD_MAX && d->block >= d->size && d->block <= HMAC_BLOCK_MAX,
                    want->name);
}

static bool cipher_ready(const struct cipher_impl *c, const char *name)
{
    return complete(c->newctx && c->encrypt_init && c->decrypt_init && c->update && c->final &&
                        c->get_ctx_params && c->set_ctx_params && c->freectx,
                    name);
}

/* ---- random numbers from the kernel ----
 * OpenSSL's CTR-DRBG sets up AES-256-ECB/CTR through EVP_CipherInit_ex, where an ENGINE the
 * host registered for those ciphers takes over, and the default provider draws ECDSA nonces
 * from the same generators. So the context's seed source, primary and per-thread generators
 * are SEA-OS-RNG instead, from "sea-rand", a provider registered only in libsea's context:
 * every request is a getrandom(2) call. No state means nothing to lock, reseed or redo after
 * fork, and no setup per call. */

#define OS_RNG_NAME     "SEA-OS-RNG"
#define OS_RNG_PROVIDER "sea-rand"
#define OS_RNG_PROPQ    "provider=" OS_RNG_PROVIDER
#define OS_RNG_STRENGTH 256 /* bits: what the kernel's ChaCha20 generator offers */
/* The most one generate call is given; EVP_RAND_generate splits larger requests. */
#define OS_RNG_MAX_REQUEST 65536

struct os_rng {
    atomic_int state; /* EVP_RAND_STATE_*: instantiated or not, the only state there is */
};

/* len bytes from the kernel, or an error: never anything weaker in their place. */
static bool kernel_random(uint8_t *out, size_t len)
{
    while (len > 0) {
        ssize_t n = getrandom(out, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            ERR_raise_data(ERR_LIB_SYS, e, "calling getrandom()");
            err_set(ORIGIN, CKR_FUNCTION_FAILED,
                    "the kernel's random generator failed (getrandom: errno %d)", e);
            return false;
        }
        /* a large request comes back short when a signal arrives */
        out += n;
        len -= (size_t)n;
    }
    return true;
}

static void *os_rng_new(void *provctx, void *parent, const OSSL_DISPATCH *parent_calls)
{
    /* The per-thread generators get the primary as their parent; none of them needs it. */
    struct os_rng *r = OPENSSL_zalloc(sizeof(*r));
    if (r)
        atomic_init(&r->state, EVP_RAND_STATE_UNINITIALISED);
    return r;
}

static void os_rng_free(void *vctx)
{
    OPENSSL_free(vctx);
}

static int os_rng_instantiate(void *vctx, unsigned int strength, int prediction_resistance,
                              const unsigned char *pstr, size_t pstr_len, const OSSL_PARAM params[])
{
    /* OpenSSL passes CTR-DRBG's settings (cipher, reseed intervals) to whatever generator it
     * runs, expecting it to ignore what does not apply: here, all of them. A personalisation
     * string has no state to go into. A first draw shows the kernel can serve. */
    struct os_rng *r = vctx;
    uint8_t probe[1];
    if (strength > OS_RNG_STRENGTH || !kernel_random(probe, sizeof(probe)))
        return 0;
    atomic_store(&r->state, EVP_RAND_STATE_READY);
    return 1;
}

static int os_rng_uninstantiate(void *vctx)
{
    struct os_rng *r = vctx;
    atomic_store(&r->state, EVP_RAND_STATE_UNINITIALISED);
    return 1;
}

/* C_SeedRandom (crypto_seed): a caller's seed is additional input, never a replacement for the
 * kernel's entropy. Seeds are folded into a 32-byte pool with SHA-256; once there is one,
 * every draw is the kernel's bytes XOR SHA-256(pool || draw number || block number), which is
 * as uniform as the kernel's bytes whatever the seeds were. */
static struct {
    pthread_mutex_t lock;
    atomic_bool set;
    uint8_t pool[32];
    uint64_t draws;
} seed_pool = {.lock = PTHREAD_MUTEX_INITIALIZER};

static bool seed_mix(uint8_t *out, size_t len);

static int os_rng_generate(void *vctx, unsigned char *out, size_t outlen, unsigned int strength,
                           int prediction_resistance, const unsigned char *addin, size_t addin_len)
{
    /* Every byte is fresh from the kernel, which is what prediction resistance asks for;
     * additional input, like a personalisation string, has nowhere to go. */
    struct os_rng *r = vctx;
    if (atomic_load(&r->state) != EVP_RAND_STATE_READY || strength > OS_RNG_STRENGTH)
        return 0;
    if (!kernel_random(out, outlen) || (atomic_load(&seed_pool.set) && !seed_mix(out, outlen))) {
        OPENSSL_cleanse(out, outlen);
        return 0;
    }
    return 1;
}

static int os_rng_reseed(void *vctx, int prediction_resistance, const unsigned char *ent,
                         size_t ent_len, const unsigned char *addin, size_t addin_len)
{
    /* The kernel reseeds itself; what a caller offers cannot be added to its pool from here. */
    struct os_rng *r = vctx;
    return atomic_load(&r->state) == EVP_RAND_STATE_READY;
}

/* The primary generator is shared by every thread, and OpenSSL refuses a primary that cannot
 * be locked; with no state beyond an atomic, the locks have nothing to guard. */
static int os_rng_enable_locking(void *vctx)
{
    return 1;
}

static int os_rng_lock(void *vctx)
{
    return 1;
}

static void os_rng_unlock(void *vctx)
{
}

static const OSSL_PARAM *os_rng_gettable_ctx_params(void *vctx, void *provctx)
{
    static const OSSL_PARAM known[] = {
        OSSL_PARAM_int(OSSL_RAND_PARAM_STATE, NULL),
        OSSL_PARAM_uint(OSSL_RAND_PARAM_STRENGTH, NULL),
        OSSL_PARAM_size_t(OSSL_RAND_PARAM_MAX_REQUEST, NULL),
        OSSL_PARAM_END,
    };
    return known;
}

static int os_rng_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    struct os_rng *r = vctx;
    OSSL_PARAM *p;
    if ((p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_STATE)) &&
        !OSSL_PARAM_set_int(p, atomic_load(&r->state)))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_STRENGTH)) &&
        !OSSL_PARAM_set_uint(p, OS_RNG_STRENGTH))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_MAX_REQUEST)) &&
        !OSSL_PARAM_set_size_t(p, OS_RNG_MAX_REQUEST))
        return 0;
    return 1;
}

/* What OpenSSL 3.0's EVP_RAND needs: newctx, freectx and get_ctx_params; instantiate,
 * uninstantiate and generate; enable_locking, and lock with unlock (crypto/evp/evp_rand.c). */
static const OSSL_DISPATCH os_rng_functions[] = {
    {OSSL_FUNC_RAND_NEWCTX, (void (*)(void))os_rng_new},
    {OSSL_FUNC_RAND_FREECTX, (void (*)(void))os_rng_free},
    {OSSL_FUNC_RAND_INSTANTIATE, (void (*)(void))os_rng_instantiate},
    {OSSL_FUNC_RAND_UNINSTANTIATE, (void (*)(void))os_rng_uninstantiate},
    {OSSL_FUNC_RAND_GENERATE, (void (*)(void))os_rng_generate},
    {OSSL_FUNC_RAND_RESEED, (void (*)(void))os_rng_reseed},
    {OSSL_FUNC_RAND_ENABLE_LOCKING, (void (*)(void))os_rng_enable_locking},
    {OSSL_FUNC_RAND_LOCK, (void (*)(void))os_rng_lock},
    {OSSL_FUNC_RAND_UNLOCK, (void (*)(void))os_rng_unlock},
    {OSSL_FUNC_RAND_GETTABLE_CTX_PARAMS, (void (*)(void))os_rng_gettable_ctx_params},
    {OSSL_FUNC_RAND_GET_CTX_PARAMS, (void (*)(void))os_rng_get_ctx_params},
    {0, NULL},
};

static const OSSL_ALGORITHM os_rng_algorithms[] = {
    {OS_RNG_NAME, OS_RNG_PROPQ, os_rng_functions, "the kernel's getrandom(2)"},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM *os_rng_query(void *provctx, int op, int *no_cache)
{
    *no_cache = 0;
    return op == OSSL_OP_RAND ? os_rng_algorithms : NULL;
}

static const OSSL_DISPATCH os_rng_provider[] = {
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))os_rng_query},
    {0, NULL},
};

static int os_rng_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                                const OSSL_DISPATCH **out, void **provctx)
{
    *out = os_rng_provider;
    *provctx = NULL; /* the generators need nothing from the provider */
    return 1;
}

/* Is this generator SEA-OS-RNG from sea-rand? */
static bool is_os_rng(EVP_RAND_CTX *rc)
{
    const EVP_RAND *rand = rc ? EVP_RAND_CTX_get0_rand(rc) : NULL;
    const OSSL_PROVIDER *prov = rand ? EVP_RAND_get0_provider(rand) : NULL;
    return prov && strcmp(EVP_RAND_get0_name(rand), OS_RNG_NAME) == 0 &&
           strcmp(OSSL_PROVIDER_get0_name(prov), OS_RNG_PROVIDER) == 0;
}

/* Make SEA-OS-RNG the context's generators before anything draws from them, then create the
 * primary and check it is one: a setting that did not take would leave CTR-DRBG in place. The
 * per-thread generators, made from the same setting on each thread's first draw, follow. */
static bool rand_setup(void)
{
    if (!OSSL_PROVIDER_add_builtin(g.ctx, OS_RNG_PROVIDER, os_rng_provider_init) ||
        !(g.rand_prov = OSSL_PROVIDER_load(g.ctx, OS_RNG_PROVIDER)) ||
        !RAND_set_seed_source_type(g.ctx, OS_RNG_NAME, OS_RNG_PROPQ) ||
        !RAND_set_DRBG_type(g.ctx, OS_RNG_NAME, OS_RNG_PROPQ, NULL, NULL))
        return false;
    if (!is_os_rng(RAND_get0_primary(g.ctx))) {
        LOGE("the private context's random generator is not " OS_RNG_NAME);
        return false;
    }
    return true;
}

static void teardown(void)
{
    /* Our handles first: the generators hold references of their own to sea-rand, and
     * OSSL_LIB_CTX_free frees the generators before the providers (OpenSSL orders its
     * per-context data so), then the context. */
    OSSL_PROVIDER_unload(g.prov);
    OSSL_PROVIDER_unload(g.rand_prov);
    OSSL_LIB_CTX_free(g.ctx);
    pthread_mutex_lock(&seed_pool.lock); /* seeds given to this setup end with it */
    atomic_store(&seed_pool.set, false);
    OPENSSL_cleanse(seed_pool.pool, sizeof(seed_pool.pool));
    pthread_mutex_unlock(&seed_pool.lock);
    g.ctx = NULL;
    g.prov = NULL;
    g.rand_prov = NULL;
    g.provctx = NULL;
    /* The function tables stay (the next setup writes the same values): an operation or key
     * freed after the last crypto_fini still finds its free function, which is libcrypto's. */
}

/* Everything is looked up once here: the dispatch tables are immutable and the functions safe
 * to call from any thread, each operation on its own provider context. */
static bool setup(void)
{
    /* A fresh context reads no openssl.cnf: the host's configuration never reaches it. */
    g.ctx = OSSL_LIB_CTX_new();
    if (!g.ctx || !rand_setup() || !(g.prov = OSSL_PROVIDER_load(g.ctx, "default")) ||
        !(g.provctx = OSSL_PROVIDER_get0_provider_ctx(g.prov)))
        return false;
    for (size_t i = 0; i < ARRAY_SIZE(digests); i++)
        if (!resolve(OSSL_OP_DIGEST, digests[i].name, take_md, &g.md[i]) ||
            !md_ready(&g.md[i], &digests[i]))
            return false;
    for (size_t i = 0; i < ARRAY_SIZE(aes_sizes); i++)
        if (!resolve(OSSL_OP_CIPHER, gcm_names[i], take_cipher, &g.gcm[i]) ||
            !cipher_ready(&g.gcm[i], gcm_names[i]) ||
            !resolve(OSSL_OP_CIPHER, ecb_names[i], take_cipher, &g.ecb[i]) ||
            !cipher_ready(&g.ecb[i], ecb_names[i]))
            return false;
    for (size_t i = 0; i < ARRAY_SIZE(aes_sizes); i++)
        if (!resolve(OSSL_OP_CIPHER, cbc_names[i], take_cipher, &g.cbc[i]) ||
            !cipher_ready(&g.cbc[i], cbc_names[i]) ||
            !resolve(OSSL_OP_CIPHER, ctr_names[i], take_cipher, &g.ctr[i]) ||
            !cipher_ready(&g.ctr[i], ctr_names[i]) ||
            !resolve(OSSL_OP_CIPHER, kw_names[i], take_cipher, &g.kw[i]) ||
            !cipher_ready(&g.kw[i], kw_names[i]) ||
            !resolve(OSSL_OP_CIPHER, kwp_names[i], take_cipher, &g.kwp[i]) ||
            !cipher_ready(&g.kwp[i], kwp_names[i]))
            return false;
    for (size_t i = 0; i < KM__COUNT; i++) {
        const struct keymgmt_impl *k = &g.km[i];
        if (!resolve(OSSL_OP_KEYMGMT, keymgmt_names[i], take_keymgmt, &g.km[i]) ||
            !complete(k->newdata && k->import && k->export && k->free &&
                          (i != KM_RSA || (k->gen_init && k->gen && k->gen_cleanup)),
                      keymgmt_names[i]))
            return false;
    }
    for (size_t i = 0; i < SIG__COUNT; i++) {
        const struct sig_impl *v = &g.sig[i];
        bool oneshot = i == SIG_ED25519; /* EdDSA signs messages, the others digests */
        if (!resolve(OSSL_OP_SIGNATURE, sig_names[i], take_sig, &g.sig[i]) ||
            !complete(v->newctx && v->freectx &&
                          (oneshot ? v->digest_sign_init && v->digest_sign &&
                                         v->digest_verify_init && v->digest_verify
                                   : v->sign_init && v->sign && v->verify_init && v->verify),
                      sig_names[i]))
            return false;
    }
    const struct kex_impl *x = &g.ecdh;
    if (!resolve(OSSL_OP_KEYEXCH, "ECDH", take_kex, &g.ecdh) ||
        !complete(x->newctx && x->init && x->set_peer && x->derive && x->freectx, "ECDH"))
        return false;
    const struct asym_impl *a = &g.rsa_cipher;
    if (!resolve(OSSL_OP_ASYM_CIPHER, "RSA", take_asym, &g.rsa_cipher) ||
        !complete(a->newctx && a->encrypt_init && a->encrypt && a->decrypt_init && a->decrypt &&
                      a->freectx,
                  "RSA cipher"))
        return false;
    return true;
}

CK_RV crypto_init(void)
{
    CK_RV rv = CKR_OK;
    pthread_mutex_lock(&g.lock);
    if (g.refs == 0) {
        ERR_set_mark();
        bool ok = setup();
        ERR_pop_to_mark();
        if (!ok) {
            teardown();
            rv = err_set(ORIGIN, CKR_GENERAL_ERROR,
                         "cannot set up OpenSSL's default provider in a private context");
            goto out;
        }
        LOGD("private OpenSSL library context ready");
    }
    g.refs++;
out:
    pthread_mutex_unlock(&g.lock);
    return rv;
}

void crypto_fini(void)
{
    pthread_mutex_lock(&g.lock);
    if (g.refs > 0 && --g.refs == 0)
        teardown();
    pthread_mutex_unlock(&g.lock);
}

OSSL_LIB_CTX *crypto_libctx(void)
{
    return g.ctx;
}

bool crypto_secure_heap(size_t bytes)
{
    pthread_mutex_lock(&heap_lock);
    if (bytes && !CRYPTO_secure_malloc_initialized()) {
        /* OpenSSL wants a power of two (it asserts on anything else). */
        size_t size = 4096;
        while (size < bytes && size <= SIZE_MAX / 2)
            size *= 2;
        if (size >= bytes && CRYPTO_secure_malloc_init(size, 16) == 0)
            LOGW("secure heap of %zu bytes unavailable", size);
    }
    bool on = CRYPTO_secure_malloc_initialized() != 0;
    pthread_mutex_unlock(&heap_lock);
    return on;
}

static CK_RV need_init(void)
{
    return g.ctx ? CKR_OK : err_set(ORIGIN, CKR_GENERAL_ERROR, "crypto_init was not called");
}

CK_RV crypto_random(uint8_t *out, size_t len)
{
    CK_RV rv = CKR_OK;
    if (!out && len)
        return err_set(ORIGIN, CKR_ARGUMENTS_BAD, "no buffer for random bytes");
    if (len == 0)
        return CKR_OK;
    if ((rv = need_init()) != CKR_OK)
        return rv;
    ERR_set_mark();
    /* The generator itself (SEA-OS-RNG), not RAND_bytes_ex: that one defers to a RAND_METHOD
     * set by the host. */
    EVP_RAND_CTX *drbg = RAND_get0_private(g.ctx);
    size_t max = 0;
    OSSL_PARAM q[] = {OSSL_PARAM_construct_size_t(OSSL_RAND_PARAM_MAX_REQUEST, &max),
                      OSSL_PARAM_END};
    if (!drbg)
        FAIL(CKR_FUNCTION_FAILED, "no random generator");
    if (!EVP_RAND_CTX_get_params(drbg, q) || max == 0)
        max = 4096;
    unsigned strength = EVP_RAND_get_strength(drbg);
    for (size_t done = 0; done < len;) {
        size_t n = len - done < max ? len - done : max;
        if (!EVP_RAND_generate(drbg, out + done, n, strength, 0, NULL, 0)) {
            sea_wipe(out, len);
            FAIL(CKR_FUNCTION_FAILED, "random generator failed");
        }
        done += n;
    }
out:
    ERR_pop_to_mark();
    return rv;
}

static const struct digest *digest_find(CK_MECHANISM_TYPE mech)
{
    for (size_t i = 0; i < ARRAY_SIZE(digests); i++)
        if (digests[i].mech == mech)
            return &digests[i];
    return NULL;
}

size_t crypto_md_len(CK_MECHANISM_TYPE digest)
{
    const struct digest *d = digest_find(digest);
    return d ? d->len : 0;
}

static const struct md_impl *md_of(CK_MECHANISM_TYPE mech)
{
    const struct digest *d = digest_find(mech);
    return d ? &g.md[d - digests] : NULL;
}

/* A started digest of the provider's, or NULL. */
static void *md_start(const struct md_impl *md)
{
    void *c = md->newctx(g.provctx);
    if (c && !md->init(c, NULL)) {
        md->freectx(c);
        c = NULL;
    }
    return c;
}

static bool md_add(const struct md_impl *md, void *c, const uint8_t *in, size_t len)
{
    return len == 0 || md->update(c, in, len);
}

/* The digest into out, md->size bytes. */
static bool md_finish(const struct md_impl *md, void *c, uint8_t *out)
{
    size_t got = 0;
    return md->final(c, out, &got, md->size) && got == md->size;
}

/* XOR the seed pool's stream into out (see seed_pool). */
static bool seed_mix(uint8_t *out, size_t len)
{
    const struct md_impl *md = md_of(CKM_SHA256);
    uint8_t key[32], pad[32], ctr[16];
    bool ok = md != NULL;
    pthread_mutex_lock(&seed_pool.lock);
    memcpy(key, seed_pool.pool, sizeof(key));
    uint64_t draw = seed_pool.draws++;
    pthread_mutex_unlock(&seed_pool.lock);
    for (uint64_t blk = 0; ok && len > 0; blk++) {
        void *c = md_start(md);
        for (int i = 0; i < 8; i++) {
            ctr[i] = (uint8_t)(draw >> (56 - 8 * i));
            ctr[8 + i] = (uint8_t)(blk >> (56 - 8 * i));
        }
        ok = c && md_add(md, c, key, sizeof(key)) && md_add(md, c, ctr, sizeof(ctr)) &&
             md_finish(md, c, pad);
        if (c)
            md->freectx(c);
        size_t n = len < sizeof(pad) ? len : sizeof(pad);
        for (size_t i = 0; ok && i < n; i++)
            out[i] ^= pad[i];
        out += n;
        len -= n;
    }
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(pad, sizeof(pad));
    return ok;
}

CK_RV crypto_seed(const uint8_t *seed, size_t len)
{
    static const char label[] = "libsea C_SeedRandom pool v1";
    CK_RV rv;
    if (!seed && len)
        return err_set(ORIGIN, CKR_ARGUMENTS_BAD, "no seed");
    if ((rv = need_init()) != CKR_OK)
        return rv;
    const struct md_impl *md = md_of(CKM_SHA256);
    void *c = md ? md_start(md) : NULL;
    uint8_t next[32];
    pthread_mutex_lock(&seed_pool.lock);
    bool ok = c && md_add(md, c, (const uint8_t *)label, sizeof(label)) &&
              md_add(md, c, seed_pool.pool, sizeof(seed_pool.pool)) && md_add(md, c, seed, len) &&
              md_finish(md, c, next);
    if (ok) {
        memcpy(seed_pool.pool, next, sizeof(next));
        atomic_store(&seed_pool.set, true);
    }
    pthread_mutex_unlock(&seed_pool.lock);
    if (c)
        md->freectx(c);
    OPENSSL_cleanse(next, sizeof(next));
    return ok ? CKR_OK : err_set(ORIGIN, CKR_FUNCTION_FAILED, "SHA-256 failed on the seed");
}

/* ---- HMAC (RFC 2104) on the digests above ----
 * The default provider's HMAC, and its PBKDF2 with it, start their digest with
 * EVP_DigestInit_ex, where an ENGINE registered for that digest takes over. Built here from the
 * digest functions themselves, it cannot. */

struct hmac {
    const struct md_impl *md;
    void *inner, *outer; /* digest states after the padded key block */
};

static void hmac_clear(struct hmac *h)
{
    if (h->inner)
        h->md->freectx(h->inner); /* the provider clears digest states as it frees them */
    if (h->outer)
        h->md->freectx(h->outer);
    h->inner = h->outer = NULL;
}

static bool hmac_start(struct hmac *h, const struct md_impl *md, const uint8_t *key, size_t len)
{
    bool ok = false;
    uint8_t pad[HMAC_BLOCK_MAX] = {0};
    void *c = NULL;
    h->md = md;
    h->inner = h->outer = NULL;
    if (len > md->block) { /* a key longer than a block is its digest */
        if (!(c = md_start(md)) || !md_add(md, c, key, len) || !md_finish(md, c, pad))
            goto out;
    } else if (len) {
        memcpy(pad, key, len);
    }
    for (size_t i = 0; i < md->block; i++)
        pad[i] ^= 0x36;
    if (!(h->inner = md_start(md)) || !md->update(h->inner, pad, md->block))
        goto out;
    for (size_t i = 0; i < md->block; i++)
        pad[i] ^= 0x36 ^ 0x5c;
    if (!(h->outer = md_start(md)) || !md->update(h->outer, pad, md->block))
        goto out;
    ok = true;
out:
    if (c)
        md->freectx(c);
    OPENSSL_cleanse(pad, sizeof(pad));
    if (!ok)
        hmac_clear(h);
    return ok;
}

/* A second HMAC with the same key, without going through the key again. */
static bool hmac_dup(struct hmac *dst, const struct hmac *src)
{
    dst->md = src->md;
    dst->inner = src->md->dupctx(src->inner);
    dst->outer = src->md->dupctx(src->outer);
    if (dst->inner && dst->outer)
        return true;
    hmac_clear(dst);
    return false;
}

/* The MAC into out (md->size bytes); the states are spent afterwards. */
static bool hmac_finish(struct hmac *h, uint8_t *out)
{
    uint8_t ih[MD_MAX];
    bool ok = md_finish(h->md, h->inner, ih) && h->md->update(h->outer, ih, h->md->size) &&
              md_finish(h->md, h->outer, out);
    OPENSSL_cleanse(ih, sizeof(ih));
    return ok;
}

/* ---- small helpers ---- */

static int aes_index(size_t len)
{
    for (size_t i = 0; i < ARRAY_SIZE(aes_sizes); i++)
        if (aes_sizes[i] == len)
            return (int)i;
    return -1;
}

/* The first attribute of type t found in a, else in b. */
static const struct attr *pick(const struct attrs *a, const struct attrs *b, CK_ATTRIBUTE_TYPE t)
{
    const struct attr *x = attrs_find(a, t);
    return x ? x : attrs_find(b, t);
}

static bool get_ulong(const struct attr *x, CK_ULONG *v)
{
    if (!x || x->len != sizeof(CK_ULONG))
        return false;
    memcpy(v, x->val, sizeof(*v));
    return true;
}

/* Apply the additions to each destination set, or to none: all are built on copies first and
 * swapped in only when every merge succeeded. */
static CK_RV commit(struct attrs *const dst[], const struct attrs *const add[], size_t n)
{
    struct attrs *next[2] = {NULL, NULL};
    CK_RV rv = CKR_OK;
    if (n > ARRAY_SIZE(next))
        return CKR_GENERAL_ERROR;
    for (size_t i = 0; i < n && rv == CKR_OK; i++) {
        next[i] = attrs_dup(dst[i]);
        rv = next[i] ? attrs_merge(next[i], add[i]) : CKR_HOST_MEMORY;
    }
    for (size_t i = 0; i < n && rv == CKR_OK; i++) {
        struct attrs tmp = *dst[i];
        dst[i]->n = next[i]->n;
        dst[i]->cap = next[i]->cap;
        dst[i]->v = next[i]->v;
        next[i]->n = tmp.n;
        next[i]->cap = tmp.cap;
        next[i]->v = tmp.v;
    }
    for (size_t i = 0; i < n; i++)
        attrs_unref(next[i]);
    if (rv != CKR_OK)
        err_set(ORIGIN, rv, "out of memory for key attributes");
    return rv;
}

/* ---- DER, as much as EC keys need ---- */

/* The single DER TLV that spans exactly [p, p + len). */
static bool der_one(const uint8_t *p, size_t len, uint8_t *tag, const uint8_t **val, size_t *vlen)
{
    if (!p || len < 2)
        return false;
    size_t n = p[1], hdr = 2;
    if (n & 0x80) {
        size_t k = n & 0x7f;
        if (k == 0 || k > 2 || len < 2 + k)
            return false;
        n = 0;
        for (size_t i = 0; i < k; i++)
            n = n << 8 | p[2 + i];
        if (n < 0x80 || (k == 2 && n < 0x100)) /* DER lengths are minimal */
            return false;
        hdr += k;
    }
    if (len - hdr != n)
        return false;
    *tag = p[0];
    *val = p + hdr;
    *vlen = n;
    return true;
}

static size_t der_header_len(size_t n)
{
    return n < 0x80 ? 2 : n < 0x100 ? 3 : 4;
}

/* Write a DER header for n content bytes (n < 65536); returns its length. */
static size_t der_header(uint8_t *p, uint8_t tag, size_t n)
{
    p[0] = tag;
    if (n < 0x80) {
        p[1] = (uint8_t)n;
        return 2;
    }
    if (n < 0x100) {
        p[1] = 0x81;
        p[2] = (uint8_t)n;
        return 3;
    }
    p[1] = 0x82;
    p[2] = (uint8_t)(n >> 8);
    p[3] = (uint8_t)n;
    return 4;
}

static bool oid_well_formed(const uint8_t *v, size_t n)
{
    if (n == 0 || (v[n - 1] & 0x80))
        return false;
    for (size_t i = 0; i < n; i++)
        if (v[i] == 0x80 && (i == 0 || !(v[i - 1] & 0x80))) /* sub-identifier padded with 0 */
            return false;
    return true;
}

/* ---- elliptic curves ---- */

static const uint8_t oid_p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t oid_p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
static const uint8_t oid_p521[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23};

#define EC_MAX_BYTES 66 /* P-521 */

static const struct curve {
    const char *name; /* OpenSSL group name */
    int nid;
    CK_ULONG bits;
    size_t len; /* bytes of a coordinate or a scalar */
    const uint8_t *oid;
    size_t oid_len;
} curves[] = {
    {"prime256v1", NID_X9_62_prime256v1, 256, 32, oid_p256, sizeof(oid_p256)},
    {"secp384r1", NID_secp384r1, 384, 48, oid_p384, sizeof(oid_p384)},
    {"secp521r1", NID_secp521r1, 521, 66, oid_p521, sizeof(oid_p521)},
};

/* CKA_EC_PARAMS to a curve: CKR_CURVE_NOT_SUPPORTED for well-formed parameters naming
 * anything else, CKR_ATTRIBUTE_VALUE_INVALID for what is not DER at all. */
static CK_RV ec_params_curve(const uint8_t *der, size_t len, const struct curve **out)
{
    uint8_t tag;
    const uint8_t *v;
    size_t vlen;
    if (!der_one(der, len, &tag, &v, &vlen))
        return CKR_ATTRIBUTE_VALUE_INVALID;
    for (size_t i = 0; i < ARRAY_SIZE(curves); i++) {
        if (curves[i].oid_len == len && memcmp(curves[i].oid, der, len) == 0) {
            *out = &curves[i];
            return CKR_OK;
        }
    }
    switch (tag) {
    case 0x06: /* another named curve */
        return oid_well_formed(v, vlen) ? CKR_CURVE_NOT_SUPPORTED : CKR_ATTRIBUTE_VALUE_INVALID;
    case 0x30: /* explicit ECParameters */
    case 0x13: /* curve name as PrintableString (PKCS#11 3.0, Edwards curves) */
        return CKR_CURVE_NOT_SUPPORTED;
    case 0x05: /* implicitlyCA */
        return vlen == 0 ? CKR_CURVE_NOT_SUPPORTED : CKR_ATTRIBUTE_VALUE_INVALID;
    default:
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
}

const char *crypto_ec_curve(const uint8_t *der, size_t len, CK_ULONG *bits)
{
    const struct curve *cv = NULL;
    if (ec_params_curve(der, len, &cv) != CKR_OK)
        return NULL;
    if (bits)
        *bits = cv->bits;
    return cv->name;
}

/* One EC key worked out from its parts. */
struct eckey {
    const struct curve *cv;
    EC_GROUP *grp;
    BIGNUM *d; /* the private scalar (secure heap), NULL for a public key */
    uint8_t point[1 + 2 * EC_MAX_BYTES]; /* uncompressed: 04 || X || Y */
    size_t point_len;
};

static void eckey_clear(struct eckey *e)
{
    EC_GROUP_free(e->grp);
    BN_clear_free(e->d);
    memset(e, 0, sizeof(*e));
}

static CK_RV eckey_begin(struct eckey *e, const struct attr *params)
{
    CK_RV rv;
    memset(e, 0, sizeof(*e));
    if (!params)
        return err_set(ORIGIN, CKR_TEMPLATE_INCOMPLETE, "CKA_EC_PARAMS missing");
    if ((rv = ec_params_curve(params->val, params->len, &e->cv)) != CKR_OK)
        return err_set(ORIGIN, rv,
                       rv == CKR_CURVE_NOT_SUPPORTED ? "curve not supported (P-256/384/521 are)"
                                                     : "CKA_EC_PARAMS is not a DER curve");
    e->grp = EC_GROUP_new_by_curve_name_ex(g.ctx, NULL, e->cv->nid);
    if (!e->grp)
        return err_set(ORIGIN, CKR_HOST_MEMORY, "cannot set up curve %s", e->cv->name);
    return CKR_OK;
}

static CK_RV eckey_derive_point(struct eckey *e)
{
    CK_RV rv = CKR_OK;
    EC_POINT *pt = EC_POINT_new(e->grp);
    BN_CTX *bn = BN_CTX_secure_new_ex(g.ctx);
    if (!pt || !bn || !EC_POINT_mul(e->grp, pt, e->d, NULL, NULL, bn))
        FAIL(CKR_FUNCTION_FAILED, "cannot compute the public point");
    e->point_len = EC_POINT_point2oct(e->grp, pt, POINT_CONVERSION_UNCOMPRESSED, e->point,
                                      sizeof(e->point), bn);
    if (e->point_len != 1 + 2 * e->cv->len)
        FAIL(CKR_FUNCTION_FAILED, "cannot encode the public point");
out:
    EC_POINT_free(pt);
    BN_CTX_free(bn);
    return rv;
}

/* The private scalar from big-endian bytes: 1 <= d < n, else CKR_ATTRIBUTE_VALUE_INVALID. */
static CK_RV eckey_set_scalar(struct eckey *e, const uint8_t *val, size_t len)
{
    CK_RV rv = CKR_OK;
    if (!val || len == 0 || len > 2 * EC_MAX_BYTES)
        FAIL(CKR_ATTRIBUTE_VALUE_INVALID, "EC private value has a wrong length");
    if (!(e->d = BN_secure_new()) || !BN_bin2bn(val, (int)len, e->d))
        FAIL(CKR_HOST_MEMORY, "out of memory for an EC private value");
    BN_set_flags(e->d, BN_FLG_CONSTTIME);
    if (BN_is_zero(e->d) || BN_cmp(e->d, EC_GROUP_get0_order(e->grp)) >= 0)
        FAIL(CKR_ATTRIBUTE_VALUE_INVALID, "EC private value out of range for %s", e->cv->name);
    rv = eckey_derive_point(e);
out:
    return rv;
}

/* A fresh scalar by rejection sampling (FIPS 186-5 A.2.2) from our generator: OpenSSL's own key
 * generation would draw from a RAND_METHOD the host may have replaced. */
static CK_RV eckey_generate(struct eckey *e)
{
    CK_RV rv = CKR_OK;
    size_t len = e->cv->len;
    const BIGNUM *order = EC_GROUP_get0_order(e->grp);
    int excess = (int)(len * 8) - BN_num_bits(order);
    uint8_t *buf = OPENSSL_secure_malloc(len);
    if (!buf || !(e->d = BN_secure_new()))
        FAIL(CKR_HOST_MEMORY, "out of memory for an EC private value");
    BN_set_flags(e->d, BN_FLG_CONSTTIME);
    for (int tries = 0;; tries++) {
        if (tries == 64) /* a working generator gets here with probability < 2^-64 */
            FAIL(CKR_FUNCTION_FAILED, "no valid EC private value from the random generator");
        if ((rv = crypto_random(buf, len)) != CKR_OK)
            goto out;
        buf[0] &= (uint8_t)(0xff >> excess);
        if (!BN_bin2bn(buf, (int)len, e->d))
            FAIL(CKR_HOST_MEMORY, "out of memory for an EC private value");
        if (!BN_is_zero(e->d) && BN_cmp(e->d, order) < 0)
            break;
    }
    rv = eckey_derive_point(e);
out:
    OPENSSL_secure_clear_free(buf, len);
    return rv;
}

/* CKA_EC_POINT: the standard says DER OCTET STRING, some applications pass the bare point;
 * compressed or uncompressed. The four forms never have the same length. */
static CK_RV eckey_set_point(struct eckey *e, const uint8_t *val, size_t len)
{
    CK_RV rv = CKR_OK;
    size_t n = e->cv->len;
    uint8_t tag;
    const uint8_t *v;
    size_t vlen;
    EC_POINT *pt = NULL;
    BN_CTX *bn = NULL;
    if (der_one(val, len, &tag, &v, &vlen) && tag == 0x04 && (vlen == 1 + n || vlen == 1 + 2 * n)) {
        val = v;
        len = vlen;
    }
    if (!val ||
        !((len == 1 + n && (val[0] == 2 || val[0] == 3)) || (len == 1 + 2 * n && val[0] == 4)))
        FAIL(CKR_ATTRIBUTE_VALUE_INVALID, "CKA_EC_POINT is not a point encoding for %s",
             e->cv->name);
    if (!(pt = EC_POINT_new(e->grp)) || !(bn = BN_CTX_new_ex(g.ctx)))
        FAIL(CKR_HOST_MEMORY, "out of memory for an EC point");
    if (!EC_POINT_oct2point(e->grp, pt, val, len, bn) || EC_POINT_is_at_infinity(e->grp, pt))
        FAIL(CKR_ATTRIBUTE_VALUE_INVALID, "CKA_EC_POINT is not on %s", e->cv->name);
    e->point_len = EC_POINT_point2oct(e->grp, pt, POINT_CONVERSION_UNCOMPRESSED, e->point,
                                      sizeof(e->point), bn);
    if (e->point_len != 1 + 2 * n)
        FAIL(CKR_FUNCTION_FAILED, "cannot encode the public point");
out:
    EC_POINT_free(pt);
    BN_CTX_free(bn);
    return rv;
}

/* The default provider keeps an EC key as an EC_KEY, and the EC_KEY constructor adopts the
 * EC_KEY_METHOD of the ENGINE the host made its default for EC: its set_private, sign and
 * verify hooks would then run for libsea's keys, and libp11's routes back into PKCS#11.
 * OpenSSL 3.0 offers no non-deprecated way to refuse that, hence the one deprecated call,
 * made before any key material goes in. Without ENGINE support there is nothing to detach. */
#if !defined(OPENSSL_NO_ENGINE) && !defined(OPENSSL_NO_DEPRECATED_3_0)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static bool ec_keydata_detach(void *keydata)
{
    return EC_KEY_set_method(keydata, EC_KEY_OpenSSL()) == 1;
}
#pragma GCC diagnostic pop
#else
static bool ec_keydata_detach(void *keydata)
{
    return true;
}
#endif

/* The key as the default provider's own key object, imported through its key management. */
static CK_RV eckey_keydata(const struct eckey *e, void **out)
{
    CK_RV rv = CKR_OK;
    const struct keymgmt_impl *km = &g.km[KM_EC];
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    void *kd = NULL;
    int sel = OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS |
              (e->d ? OSSL_KEYMGMT_SELECT_KEYPAIR : OSSL_KEYMGMT_SELECT_PUBLIC_KEY);
    *out = NULL;
    /* A secure BN puts the scalar into the secure half of the built parameters. */
    if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, e->cv->name, 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, e->point, e->point_len) ||
        (e->d && !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, e->d)) ||
        !(params = OSSL_PARAM_BLD_to_param(bld)))
        FAIL(CKR_HOST_MEMORY, "out of memory for an EC key");
    if (!(kd = km->newdata(g.provctx)))
        FAIL(CKR_HOST_MEMORY, "out of memory for an EC key");
    if (!ec_keydata_detach(kd) || !km->import(kd, sel, params))
        FAIL(CKR_FUNCTION_FAILED, "OpenSSL refused the EC key on %s", e->cv->name);
    *out = kd;
    kd = NULL;
out:
    if (kd)
        km->free(kd);
    OSSL_PARAM_free(params); /* clears the secure half */
    OSSL_PARAM_BLD_free(bld);
    return rv;
}

/* id-ecPublicKey, 1.2.840.10045.2.1 */
static const uint8_t oid_ec_public_key[] = {0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};

#define SPKI_MAX 256 /* P-521: 158 */

/* SubjectPublicKeyInfo on a named curve (RFC 5480 2): SEQUENCE { SEQUENCE { id-ecPublicKey,
 * namedCurve }, BIT STRING { no unused bits, the uncompressed point } }. Written here rather
 * than by an encoder, which would want the key as an EVP_PKEY. */
static size_t eckey_spki(const struct eckey *e, uint8_t out[SPKI_MAX])
{
    size_t alg = sizeof(oid_ec_public_key) + e->cv->oid_len, bits = 1 + e->point_len;
    size_t body = der_header_len(alg) + alg + der_header_len(bits) + bits;
    size_t n = der_header(out, 0x30, body);
    n += der_header(out + n, 0x30, alg);
    memcpy(out + n, oid_ec_public_key, sizeof(oid_ec_public_key));
    n += sizeof(oid_ec_public_key);
    memcpy(out + n, e->cv->oid, e->cv->oid_len);
    n += e->cv->oid_len;
    n += der_header(out + n, 0x03, bits);
    out[n++] = 0;
    memcpy(out + n, e->point, e->point_len);
    return n + e->point_len;
}

/* The public attributes of an EC key (CKA_EC_POINT as DER, CKA_PUBLIC_KEY_INFO) into pub, and
 * for a private key CKA_EC_PARAMS and the padded scalar as CKA_VALUE into priv. */
static CK_RV eckey_attrs(const struct eckey *e, struct attrs *pub, struct attrs *priv)
{
    CK_RV rv = CKR_OK;
    uint8_t *scalar = NULL;
    size_t n = e->cv->len;
    uint8_t spki[SPKI_MAX], point[4 + sizeof(e->point)];
    size_t spki_len = eckey_spki(e, spki);
    size_t point_len = der_header(point, 0x04, e->point_len);
    memcpy(point + point_len, e->point, e->point_len);
    point_len += e->point_len;
    for (int i = 0; i < 2; i++) {
        struct attrs *a = i == 0 ? pub : priv;
        if (a && ((rv = attrs_set(a, CKA_EC_POINT, point, point_len)) != CKR_OK ||
                  (rv = attrs_set(a, CKA_PUBLIC_KEY_INFO, spki, spki_len)) != CKR_OK))
            FAIL(rv, "out of memory for key attributes");
    }
    if (priv && e->d) {
        if (!(scalar = OPENSSL_secure_malloc(n)) || BN_bn2binpad(e->d, scalar, (int)n) != (int)n)
            FAIL(CKR_HOST_MEMORY, "out of memory for an EC private value");
        if ((rv = attrs_set(priv, CKA_EC_PARAMS, e->cv->oid, e->cv->oid_len)) != CKR_OK ||
            (rv = attrs_set_secret(priv, CKA_VALUE, scalar, n)) != CKR_OK)
            FAIL(rv, "out of memory for key attributes");
    }
out:
    OPENSSL_secure_clear_free(scalar, n);
    return rv;
}

static bool same_or_absent(const struct attrs *a, CK_ATTRIBUTE_TYPE t, const struct attrs *add);

/* ---- DER output, in the secure heap (private keys pass through it) ---- */

struct dbuf {
    uint8_t *p;
    size_t len, cap;
    bool fail;
};

static void dbuf_free(struct dbuf *b)
{
    OPENSSL_secure_clear_free(b->p, b->cap);
    memset(b, 0, sizeof(*b));
}

static uint8_t *dbuf_room(struct dbuf *b, size_t n)
{
    if (b->fail || n > 65536 - b->len) {
        b->fail = true;
        return NULL;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *q = OPENSSL_secure_malloc(cap);
        if (!q) {
            b->fail = true;
            return NULL;
        }
        if (b->len)
            memcpy(q, b->p, b->len);
        OPENSSL_secure_clear_free(b->p, b->cap);
        b->p = q;
        b->cap = cap;
    }
    uint8_t *at = b->p + b->len;
    b->len += n;
    return at;
}

static void dbuf_add(struct dbuf *b, const uint8_t *v, size_t n)
{
    uint8_t *at = dbuf_room(b, n);
    if (at && n)
        memcpy(at, v, n);
}

/* One TLV; a content of nested TLVs comes from another dbuf. */
static void dbuf_tlv(struct dbuf *b, uint8_t tag, const uint8_t *v, size_t n)
{
    uint8_t hdr[4];
    if (n >= 65536) {
        b->fail = true;
        return;
    }
    dbuf_add(b, hdr, der_header(hdr, tag, n));
    dbuf_add(b, v, n);
}

static void dbuf_wrap(struct dbuf *b, uint8_t tag, const struct dbuf *inner)
{
    if (inner->fail)
        b->fail = true;
    else
        dbuf_tlv(b, tag, inner->p, inner->len);
}

/* A non-negative INTEGER. */
static void dbuf_int(struct dbuf *b, const BIGNUM *v)
{
    int n = v ? BN_num_bytes(v) : -1;
    uint8_t *tmp = n >= 0 ? OPENSSL_secure_zalloc((size_t)n + 1) : NULL;
    if (!tmp || BN_bn2bin(v, tmp + 1) != n) {
        b->fail = true;
    } else {
        /* a leading zero when the top bit is set, or for zero itself */
        bool pad = n == 0 || (tmp[1] & 0x80);
        dbuf_tlv(b, 0x02, pad ? tmp : tmp + 1, (size_t)n + pad);
    }
    OPENSSL_secure_clear_free(tmp, n >= 0 ? (size_t)n + 1 : 0);
}

/* ---- RSA ---- */

/* rsaEncryption, 1.2.840.113549.1.1.1, with its NULL parameters */
static const uint8_t alg_rsa[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                  0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};

#define RSA_MIN_BITS 512   /* smallest modulus imported (the mechanisms want 2048) */
#define RSA_MAX_BITS 16384 /* OpenSSL's OPENSSL_RSA_MAX_MODULUS_BITS */
#define RSA_GEN_MIN  2048
#define RSA_GEN_MAX  4096

/* The parts of an RSA key: attribute, the provider's parameter name. 0 and 1 are public. */
enum { RSA_N, RSA_E, RSA_D, RSA_P, RSA_Q, RSA_DP, RSA_DQ, RSA_QINV, RSA__PARTS };
static const struct {
    CK_ATTRIBUTE_TYPE attr;
    const char *param;
} rsa_parts[RSA__PARTS] = {
    {CKA_MODULUS, OSSL_PKEY_PARAM_RSA_N},
    {CKA_PUBLIC_EXPONENT, OSSL_PKEY_PARAM_RSA_E},
    {CKA_PRIVATE_EXPONENT, OSSL_PKEY_PARAM_RSA_D},
    {CKA_PRIME_1, OSSL_PKEY_PARAM_RSA_FACTOR1},
    {CKA_PRIME_2, OSSL_PKEY_PARAM_RSA_FACTOR2},
    {CKA_EXPONENT_1, OSSL_PKEY_PARAM_RSA_EXPONENT1},
    {CKA_EXPONENT_2, OSSL_PKEY_PARAM_RSA_EXPONENT2},
    {CKA_COEFFICIENT, OSSL_PKEY_PARAM_RSA_COEFFICIENT1},
};

/* One RSA key: v[RSA_D..] are NULL for a public key; the CRT parts are all there or none
 * (a private key from n, e, d alone works, slowly). Private parts live in the secure heap. */
struct rsakey {
    BIGNUM *v[RSA__PARTS];
};

static void rsakey_clear(struct rsakey *r)
{
    for (int i = 0; i < RSA__PARTS; i++)
        BN_clear_free(r->v[i]);
    memset(r, 0, sizeof(*r));
}

static bool rsakey_private(const struct rsakey *r)
{
    return r->v[RSA_D] != NULL;
}

static bool rsakey_crt(const struct rsakey *r)
{
    return r->v[RSA_P] != NULL;
}

static BIGNUM *rsa_bn(int part)
{
    BIGNUM *b = part <= RSA_E ? BN_new() : BN_secure_new();
    if (b && part > RSA_E)
        BN_set_flags(b, BN_FLG_CONSTTIME);
    return b;
}

/* The key's parts from attributes (public ones from pub first, private ones from secret
 * first); priv says a private key is wanted. */
static CK_RV rsakey_from(struct rsakey *r, const struct attrs *pub, const struct attrs *secret,
                         bool priv)
{
    CK_RV rv = CKR_OK;
    int crt = 0;
    memset(r, 0, sizeof(*r));
    for (int i = 0; i < (priv ? RSA__PARTS : RSA_D); i++) {
        const struct attr *x = i <= RSA_E ? pick(pub, secret, rsa_parts[i].attr)
                                          : pick(secret, pub, rsa_parts[i].attr);
        if (!x) {
            if (i <= RSA_D)
                FAIL(CKR_TEMPLATE_INCOMPLETE, "RSA key without attribute 0x%lx",
                     (unsigned long)rsa_parts[i].attr);
            continue;
        }
        if (x->len == 0 || x->len > RSA_MAX_BITS / 8)
            FAIL(CKR_ATTRIBUTE_VALUE_INVALID, "RSA attribute 0x%lx has a wrong length",
                 (unsigned long)rsa_parts[i].attr);
        if (!(r->v[i] = rsa_bn(i)) || !BN_bin2bn(x->val, (int)x->len, r->v[i]))
            FAIL(CKR_HOST_MEMORY, "out of memory for an RSA key");
        crt += i > RSA_D;
    }
    if (crt != 0 && crt != RSA__PARTS - RSA_P)
        FAIL(CKR_TEMPLATE_INCONSISTENT,
             "an RSA private key needs all of CKA_PRIME_1/2, CKA_EXPONENT_1/2, CKA_COEFFICIENT "
             "or none");
    int bits = BN_num_bits(r->v[RSA_N]);
    if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS || !BN_is_odd(r->v[RSA_N]))
        FAIL(CKR_ATTRIBUTE_VALUE_INVALID, "RSA modulus of %d bits not supported (%d..%d)", bits,
             RSA_MIN_BITS, RSA_MAX_BITS);
    if (!BN_is_odd(r->v[RSA_E]) || BN_is_one(r->v[RSA_E]) || BN_num_bits(r->v[RSA_E]) > 256 ||
        BN_cmp(r->v[RSA_E], r->v[RSA_N]) >= 0)
        FAIL(CKR_ATTRIBUTE_VALUE_INVALID, "RSA public exponent not acceptable");
out:
    return rv;
}

/* Do the parts make one key? CRT parts against n and d, then a round trip 2^(ed) = 2 mod n
 * (which also catches a public exponent that is not d's). */
static CK_RV rsakey_check(const struct rsakey *r)
{
    CK_RV rv = CKR_OK;
    BN_CTX *bn = BN_CTX_secure_new_ex(g.ctx);
    BIGNUM *t = NULL, *u = NULL, *two = NULL;
    const BIGNUM *const *v = (const BIGNUM *const *)r->v;
    if (!bn || !(t = BN_secure_new()) || !(u = BN_secure_new()) || !(two = BN_new()) ||
        !BN_set_word(two, 2))
        FAIL(CKR_HOST_MEMORY, "out of memory checking an RSA key");
    if (!rsakey_private(r))
        goto out;
    if (BN_cmp(v[RSA_D], v[RSA_N]) >= 0 || BN_is_zero(v[RSA_D]))
        FAIL(CKR_ATTRIBUTE_VALUE_INVALID, "RSA private exponent out of range");
    if (rsakey_crt(r)) {
        bool ok = BN_mul(t, v[RSA_P], v[RSA_Q], bn) && BN_cmp(t, v[RSA_N]) == 0;
        ok = ok && BN_sub(u, v[RSA_P], BN_value_one()) && BN_mod(t, v[RSA_D], u, bn) &&
             BN_cmp(t, v[RSA_DP]) == 0;
        ok = ok && BN_sub(u, v[RSA_Q], BN_value_one()) && BN_mod(t, v[RSA_D], u, bn) &&
             BN_cmp(t, v[RSA_DQ]) == 0;
        ok = ok && BN_mod_mul(t, v[RSA_QINV], v[RSA_Q], v[RSA_P], bn) && BN_is_one(t);
        if (!ok)
            FAIL(CKR_ATTRIBUTE_VALUE_INVALID, "the RSA key's parts do not belong together");
    }
    if (!BN_mod_exp(t, two, v[RSA_E], v[RSA_N], bn) ||
        !BN_mod_exp_mont_consttime(u, t, v[RSA_D], v[RSA_N], bn, NULL) || BN_cmp(u, two) != 0)
        FAIL(CKR_ATTRIBUTE_VALUE_INVALID, "the RSA private and public exponents do not match");
out:
    BN_clear_free(t);
    BN_clear_free(u);
    BN_free(two);
    BN_CTX_free(bn);
    return rv;
}

/* The default provider keeps an RSA key as an RSA, whose constructor adopts the default RSA
 * ENGINE's method (libp11's routes back into PKCS#11): detached like EC keys above. */
#if !defined(OPENSSL_NO_ENGINE) && !defined(OPENSSL_NO_DEPRECATED_3_0)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static bool rsa_keydata_detach(void *keydata)
{
    return RSA_set_method(keydata, RSA_PKCS1_OpenSSL()) == 1;
}
#pragma GCC diagnostic pop
#else
static bool rsa_keydata_detach(void *keydata)
{
    return true;
}
#endif

static CK_RV rsakey_keydata(const struct rsakey *r, void **out)
{
    CK_RV rv = CKR_OK;
    const struct keymgmt_impl *km = &g.km[KM_RSA];
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    void *kd = NULL;
    int sel = rsakey_private(r) ? OSSL_KEYMGMT_SELECT_KEYPAIR : OSSL_KEYMGMT_SELECT_PUBLIC_KEY;
    *out = NULL;
    if (!bld)
        FAIL(CKR_HOST_MEMORY, "out of memory for an RSA key");
    for (int i = 0; i < RSA__PARTS; i++) /* secure BNs go to the secure half */
        if (r->v[i] && !OSSL_PARAM_BLD_push_BN(bld, rsa_parts[i].param, r->v[i]))
            FAIL(CKR_HOST_MEMORY, "out of memory for an RSA key");
    if (!(params = OSSL_PARAM_BLD_to_param(bld)) || !(kd = km->newdata(g.provctx)))
        FAIL(CKR_HOST_MEMORY, "out of memory for an RSA key");
    if (!rsa_keydata_detach(kd) || !km->import(kd, sel, params))
        FAIL(CKR_FUNCTION_FAILED, "OpenSSL refused the RSA key");
    *out = kd;
    kd = NULL;
out:
    if (kd)
        km->free(kd);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return rv;
}

/* Collect the parts the provider exports into an rsakey (OSSL_CALLBACK). */
static int rsa_export_cb(const OSSL_PARAM params[], void *arg)
{
    struct rsakey *r = arg;
    for (int i = 0; i < RSA__PARTS; i++) {
        const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, rsa_parts[i].param);
        if (!p)
            continue;
        if ((!r->v[i] && !(r->v[i] = rsa_bn(i))) || !OSSL_PARAM_get_BN(p, &r->v[i]))
            return 0;
    }
    return 1;
}

/* SubjectPublicKeyInfo of an RSA key (RFC 3279 2.3.1). */
static CK_RV rsakey_spki(const struct rsakey *r, struct dbuf *out)
{
    struct dbuf rpk = {0}, bits = {0}, body = {0};
    dbuf_int(&rpk, r->v[RSA_N]);
    dbuf_int(&rpk, r->v[RSA_E]);
    dbuf_add(&bits, (const uint8_t *)"", 1); /* no unused bits */
    dbuf_wrap(&bits, 0x30, &rpk);
    dbuf_add(&body, alg_rsa, sizeof(alg_rsa));
    dbuf_wrap(&body, 0x03, &bits);
    dbuf_wrap(out, 0x30, &body);
    dbuf_free(&rpk);
    dbuf_free(&bits);
    dbuf_free(&body);
    return out->fail ? err_set(ORIGIN, CKR_HOST_MEMORY, "cannot encode the RSA public key")
                     : CKR_OK;
}

/* Big-endian bytes of a part as an attribute (secret ones through the secure heap). */
static CK_RV rsa_set_part(struct attrs *a, const struct rsakey *r, int i)
{
    CK_RV rv = CKR_OK;
    size_t n = (size_t)BN_num_bytes(r->v[i]);
    uint8_t *buf = OPENSSL_secure_malloc(n ? n : 1);
    if (!buf || BN_bn2bin(r->v[i], buf) != (int)n)
        FAIL(CKR_HOST_MEMORY, "out of memory for an RSA key");
    /* attrs_set keeps CKA_PRIVATE_EXPONENT and the CRT parts secret by their type */
    if ((rv = attrs_set(a, rsa_parts[i].attr, buf, n)) != CKR_OK)
        FAIL(rv, "out of memory for key attributes");
out:
    OPENSSL_secure_clear_free(buf, n ? n : 1);
    return rv;
}

/* The value attributes: CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_PUBLIC_KEY_INFO into pub (and
 * CKA_MODULUS_BITS if bits), the same and the private parts into priv. */
static CK_RV rsakey_attrs(const struct rsakey *r, struct attrs *pub, struct attrs *priv, bool bits)
{
    CK_RV rv = CKR_OK;
    struct dbuf spki = {0};
    if ((rv = rsakey_spki(r, &spki)) != CKR_OK)
        goto out;
    for (int k = 0; k < 2; k++) {
        struct attrs *a = k == 0 ? pub : priv;
        if (!a)
            continue;
        for (int i = 0; i < (k == 0 ? RSA_D : RSA__PARTS); i++)
            if (r->v[i] && (rv = rsa_set_part(a, r, i)) != CKR_OK)
                goto out;
        if ((rv = attrs_set(a, CKA_PUBLIC_KEY_INFO, spki.p, spki.len)) != CKR_OK)
            FAIL(rv, "out of memory for key attributes");
    }
    if (pub && bits &&
        (rv = attrs_set_ulong(pub, CKA_MODULUS_BITS, (CK_ULONG)BN_num_bits(r->v[RSA_N]))) != CKR_OK)
        FAIL(rv, "out of memory for key attributes");
out:
    dbuf_free(&spki);
    return rv;
}

/* Progress reports of the provider's key generation (it calls this unconditionally). */
static int gen_progress(const OSSL_PARAM params[], void *arg)
{
    return 1;
}

/* RSA key generation by the default provider, then exported: the key used later is always
 * one imported (and detached) by rsakey_keydata. */
static CK_RV rsa_generate(struct attrs *pub, struct attrs *priv)
{
    CK_RV rv = CKR_OK;
    const struct keymgmt_impl *km = &g.km[KM_RSA];
    struct rsakey r = {0};
    struct attrs *add_pub = NULL, *add_priv = NULL;
    void *gctx = NULL, *kd = NULL;
    BIGNUM *e = NULL;
    CK_ULONG bits = 0;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    if (!attrs_has(pub, CKA_MODULUS_BITS))
        FAIL(CKR_TEMPLATE_INCOMPLETE, "CKA_MODULUS_BITS missing");
    if (!get_ulong(attrs_find(pub, CKA_MODULUS_BITS), &bits))
        FAIL(CKR_ATTRIBUTE_VALUE_INVALID, "CKA_MODULUS_BITS is not a CK_ULONG");
    if (bits < RSA_GEN_MIN || bits > RSA_GEN_MAX)
        FAIL(CKR_KEY_SIZE_RANGE, "RSA keys of %lu bits are not generated (%d..%d)",
             (unsigned long)bits, RSA_GEN_MIN, RSA_GEN_MAX);
    const struct attr *ex = attrs_find(pub, CKA_PUBLIC_EXPONENT);
    if (!(e = BN_new()) || (ex ? !BN_bin2bn(ex->val, (int)ex->len, e) : !BN_set_word(e, 65537)))
        FAIL(CKR_HOST_MEMORY, "out of memory for an RSA key");
    /* FIPS 186-5 A.1.1: odd, 2^16 < e < 2^256 */
    if (!BN_is_odd(e) || BN_num_bits(e) <= 16 || BN_num_bits(e) > 256)
        FAIL(CKR_ATTRIBUTE_VALUE_INVALID, "CKA_PUBLIC_EXPONENT must be odd and above 65536");
    size_t nbits = bits;
    if (!(bld = OSSL_PARAM_BLD_new()) ||
        !OSSL_PARAM_BLD_push_size_t(bld, OSSL_PKEY_PARAM_RSA_BITS, nbits) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
        !(params = OSSL_PARAM_BLD_to_param(bld)))
        FAIL(CKR_HOST_MEMORY, "out of memory for an RSA key");
    if (!(gctx = km->gen_init(g.provctx, OSSL_KEYMGMT_SELECT_KEYPAIR, params)) ||
        !(kd = km->gen(gctx, gen_progress, NULL)))
        FAIL(CKR_FUNCTION_FAILED, "RSA key generation failed");
    if (!km->export(kd, OSSL_KEYMGMT_SELECT_KEYPAIR, rsa_export_cb, &r) || !r.v[RSA_N] ||
        !r.v[RSA_E] || !r.v[RSA_D] || !r.v[RSA_QINV] || !r.v[RSA_DQ] || !r.v[RSA_DP] ||
        !r.v[RSA_Q] || !r.v[RSA_P] || BN_num_bits(r.v[RSA_N]) != (int)bits)
        FAIL(CKR_FUNCTION_FAILED, "the generated RSA key is incomplete");
    if (!(add_pub = attrs_new()) || !(add_priv = attrs_new()))
        FAIL(CKR_HOST_MEMORY, "out of memory for key attributes");
    if ((rv = rsakey_attrs(&r, add_pub, add_priv, true)) != CKR_OK)
        goto out;
    struct attrs *dst[] = {pub, priv};
    const struct attrs *src[] = {add_pub, add_priv};
    rv = commit(dst, src, 2);
out:
    if (kd)
        km->free(kd);
    if (gctx)
        km->gen_cleanup(gctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(e);
    rsakey_clear(&r);
    attrs_unref(add_pub);
    attrs_unref(add_priv);
    return rv;
}

static CK_RV import_rsa(struct attrs *a, CK_OBJECT_CLASS cls, struct attrs *add)
{
    CK_RV rv = CKR_OK;
    struct rsakey r;
    bool priv = cls == CKO_PRIVATE_KEY;
    if ((rv = rsakey_from(&r, a, NULL, priv)) != CKR_OK || (rv = rsakey_check(&r)) != CKR_OK)
        goto out;
    /* only the value-derived attributes: the given ones stay as they are */
    struct dbuf spki = {0};
    rv = rsakey_spki(&r, &spki);
    if (rv == CKR_OK)
        rv = attrs_set(add, CKA_PUBLIC_KEY_INFO, spki.p, spki.len);
    dbuf_free(&spki);
    if (rv == CKR_OK && !priv)
        rv = attrs_set_ulong(add, CKA_MODULUS_BITS, (CK_ULONG)BN_num_bits(r.v[RSA_N]));
    if (rv != CKR_OK)
        goto out;
    if (!same_or_absent(a, CKA_PUBLIC_KEY_INFO, add))
        FAIL(CKR_ATTRIBUTE_VALUE_INVALID, "CKA_PUBLIC_KEY_INFO does not match the key");
out:
    rsakey_clear(&r);
    return rv;
}

/* ---- Ed25519 (RFC 8032) ---- */

/* CKA_EC_PARAMS of Ed25519: the OID id-Ed25519 (RFC 8410) or PKCS#11 3.0's curve name. */
static const uint8_t oid_ed25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
static const uint8_t name_ed25519[] = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r',
                                       'd',  's',  '2', '5', '5', '1', '9'};
/* AlgorithmIdentifier { id-Ed25519 } */
static const uint8_t alg_ed25519[] = {0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70};

#define ED_LEN  32
#define ED_SIG  64
#define ED_BITS 255

static CK_RV ed_params(const struct attr *params)
{
    uint8_t tag;
    const uint8_t *v;
    size_t vlen;
    if (!params)
        return err_set(ORIGIN, CKR_TEMPLATE_INCOMPLETE, "CKA_EC_PARAMS missing");
    if ((params->len == sizeof(oid_ed25519) &&
         memcmp(params->val, oid_ed25519, sizeof(oid_ed25519)) == 0) ||
        (params->len == sizeof(name_ed25519) &&
         memcmp(params->val, name_ed25519, sizeof(name_ed25519)) == 0))
        return CKR_OK;
    if (der_one(params->val, params->len, &tag, &v, &vlen) && (tag == 0x06 || tag == 0x13))
        return err_set(ORIGIN, CKR_CURVE_NOT_SUPPORTED, "Edwards curve not supported (Ed25519 is)");
    return err_set(ORIGIN, CKR_ATTRIBUTE_VALUE_INVALID, "CKA_EC_PARAMS is not a DER curve");
}

/* CKA_EC_POINT of Ed25519: DER OCTET STRING of the 32-byte key, or those bytes bare. */
static CK_RV ed_point(const struct attr *x, uint8_t pub[ED_LEN])
{
    uint8_t tag;
    const uint8_t *v = x ? x->val : NULL;
    size_t vlen = x ? x->len : 0;
    if (x && x->len != ED_LEN && (!der_one(x->val, x->len, &tag, &v, &vlen) || tag != 0x04))
        vlen = 0;
    if (vlen != ED_LEN)
        return err_set(ORIGIN, CKR_ATTRIBUTE_VALUE_INVALID,
                       "CKA_EC_POINT is not a 32-byte Ed25519 public key");
    memcpy(pub, v, ED_LEN);
    return CKR_OK;
}

struct ed_export {
    uint8_t pub[ED_LEN];
    bool got;
};

static int ed_export_cb(const OSSL_PARAM params[], void *arg)
{
    struct ed_export *x = arg;
    const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PUB_KEY);
    void *dst = x->pub;
    size_t n = 0;
    x->got = p && OSSL_PARAM_get_octet_string(p, &dst, ED_LEN, &n) && n == ED_LEN;
    return 1;
}

/* The provider's key from a seed (private) or a public key; pub_out (if not NULL) gets the
 * public key, out (if not NULL) the key. */
static CK_RV edkey_keydata(const uint8_t *seed, const uint8_t *pub, uint8_t pub_out[ED_LEN],
                           void **out)
{
    CK_RV rv = CKR_OK;
    const struct keymgmt_impl *km = &g.km[KM_ED25519];
    struct ed_export x = {{0}, false};
    void *kd = NULL;
    /* pointing at the caller's (secure) buffer: the provider copies into its own */
    OSSL_PARAM q[] = {
        seed ? OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, (void *)seed, ED_LEN)
             : OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pub, ED_LEN),
        OSSL_PARAM_END};
    if (out)
        *out = NULL;
    if (!(kd = km->newdata(g.provctx)))
        FAIL(CKR_HOST_MEMORY, "out of memory for an Ed25519 key");
    if (!km->import(kd, seed ? OSSL_KEYMGMT_SELECT_KEYPAIR : OSSL_KEYMGMT_SELECT_PUBLIC_KEY, q))
        FAIL(CKR_FUNCTION_FAILED, "OpenSSL refused the Ed25519 key");
    if (pub_out) {
        if (!km->export(kd, OSSL_KEYMGMT_SELECT_PUBLIC_KEY, ed_export_cb, &x) || !x.got)
            FAIL(CKR_FUNCTION_FAILED, "cannot compute the Ed25519 public key");
        memcpy(pub_out, x.pub, ED_LEN);
    }
    if (out) {
        *out = kd;
        kd = NULL;
    }
out:
    if (kd)
        km->free(kd);
    return rv;
}

/* CKA_EC_POINT (DER) and CKA_PUBLIC_KEY_INFO (RFC 8410) into pub and priv; for a private key
 * also CKA_EC_PARAMS (params) and the seed as CKA_VALUE into priv. */
static CK_RV edkey_attrs(const uint8_t pk[ED_LEN], const uint8_t *seed, const struct attr *params,
                         struct attrs *pub, struct attrs *priv)
{
    CK_RV rv = CKR_OK;
    uint8_t point[2 + ED_LEN], spki[sizeof(alg_ed25519) + 5 + ED_LEN];
    size_t n = der_header(point, 0x04, ED_LEN);
    memcpy(point + n, pk, ED_LEN);
    n = der_header(spki, 0x30, sizeof(spki) - 2);
    memcpy(spki + n, alg_ed25519, sizeof(alg_ed25519));
    n += sizeof(alg_ed25519);
    n += der_header(spki + n, 0x03, ED_LEN + 1);
    spki[n++] = 0;
    memcpy(spki + n, pk, ED_LEN);
    for (int i = 0; i < 2; i++) {
        struct attrs *a = i == 0 ? pub : priv;
        if (a && ((rv = attrs_set(a, CKA_EC_POINT, point, sizeof(point))) != CKR_OK ||
                  (rv = attrs_set(a, CKA_PUBLIC_KEY_INFO, spki, sizeof(spki))) != CKR_OK))
            FAIL(rv, "out of memory for key attributes");
    }
    if (priv && seed &&
        ((params && (rv = attrs_set(priv, CKA_EC_PARAMS, params->val, params->len)) != CKR_OK) ||
         (rv = attrs_set_secret(priv, CKA_VALUE, seed, ED_LEN)) != CKR_OK))
        FAIL(rv, "out of memory for key attributes");
out:
    return rv;
}

/* A fresh seed from our generator (OpenSSL's own generation would draw from a RAND_METHOD the
 * host may have replaced). */
static CK_RV ed_generate(struct attrs *pub, struct attrs *priv)
{
    CK_RV rv = CKR_OK;
    uint8_t *seed = OPENSSL_secure_malloc(ED_LEN), pk[ED_LEN];
    struct attrs *add_pub = NULL, *add_priv = NULL;
    const struct attr *params = attrs_find(pub, CKA_EC_PARAMS);
    const struct attr *other = attrs_find(priv, CKA_EC_PARAMS);
    if (!seed)
        FAIL(CKR_HOST_MEMORY, "out of secure memory for an Ed25519 key");
    if ((rv = ed_params(params)) != CKR_OK)
        goto out;
    if (other && (params->len != other->len || memcmp(params->val, other->val, params->len) != 0) &&
        ed_params(other) != CKR_OK)
        FAIL(CKR_TEMPLATE_INCONSISTENT, "the two templates name different curves");
    if ((rv = crypto_random(seed, ED_LEN)) != CKR_OK ||
        (rv = edkey_keydata(seed, NULL, pk, NULL)) != CKR_OK)
        goto out;
    if (!(add_pub = attrs_new()) || !(add_priv = attrs_new()))
        FAIL(CKR_HOST_MEMORY, "out of memory for key attributes");
    if ((rv = edkey_attrs(pk, seed, other ? other : params, add_pub, add_priv)) != CKR_OK)
        goto out;
    struct attrs *dst[] = {pub, priv};
    const struct attrs *src[] = {add_pub, add_priv};
    rv = commit(dst, src, 2);
out:
    OPENSSL_secure_clear_free(seed, ED_LEN);
    attrs_unref(add_pub);
    attrs_unref(add_priv);
    return rv;
}

static CK_RV import_ed(struct attrs *a, CK_OBJECT_CLASS cls, struct attrs *add)
{
    CK_RV rv = CKR_OK;
    uint8_t pk[ED_LEN], given[ED_LEN];
    if ((rv = ed_params(attrs_find(a, CKA_EC_PARAMS))) != CKR_OK)
        goto out;
    if (cls == CKO_PRIVATE_KEY) {
        const struct attr *v = attrs_find(a, CKA_VALUE);
        if (!v)
            FAIL(CKR_TEMPLATE_INCOMPLETE, "Ed25519 private key without CKA_VALUE");
        if (v->len != ED_LEN)
            FAIL(CKR_ATTRIBUTE_VALUE_INVALID, "an Ed25519 private key has 32 bytes");
        if ((rv = edkey_keydata(v->val, NULL, pk, NULL)) != CKR_OK)
            goto out;
        const struct attr *p = attrs_find(a, CKA_EC_POINT);
        if (p && ((rv = ed_point(p, given)) != CKR_OK || memcmp(given, pk, ED_LEN) != 0))
            FAIL(CKR_ATTRIBUTE_VALUE_INVALID, "CKA_EC_POINT does not match CKA_VALUE");
    } else {
        const struct attr *p = attrs_find(a, CKA_EC_POINT);
        if (!p)
            FAIL(CKR_TEMPLATE_INCOMPLETE, "Ed25519 public key without CKA_EC_POINT");
        if ((rv = ed_point(p, pk)) != CKR_OK)
            goto out;
    }
    if ((rv = edkey_attrs(pk, NULL, NULL, add, cls == CKO_PRIVATE_KEY ? add : NULL)) != CKR_OK)
        goto out;
    if (!same_or_absent(a, CKA_PUBLIC_KEY_INFO, add))
        FAIL(CKR_ATTRIBUTE_VALUE_INVALID, "CKA_PUBLIC_KEY_INFO does not match the key");
out:
    return rv;
}

/* ---- key material ---- */

/* Generic secrets and the HMAC-specific types, which are generic secrets in all but name. */
static bool generic_secret_type(CK_KEY_TYPE type)
{
    switch (type) {
    case CKK_GENERIC_SECRET:
    case CKK_SHA_1_HMAC:
    case CKK_SHA224_HMAC:
    case CKK_SHA256_HMAC:
    case CKK_SHA384_HMAC:
    case CKK_SHA512_HMAC:
    case CKK_HKDF:
        return true;
    default:
        return false;
    }
}

static bool secret_len_ok(CK_KEY_TYPE type, size_t len)
{
    if (type == CKK_AES)
        return aes_index(len) >= 0;
    return generic_secret_type(type) && len >= 1 && len <= 512;
}

CK_RV keymat_from_attrs(const struct attrs *pub, const struct attrs *secret, struct keymat **out)
{
    CK_RV rv = CKR_OK;
    struct keymat *k = NULL;
    struct eckey e = {0};
    CK_ULONG cls, type;
    if (!pub || !out)
        return err_set(ORIGIN, CKR_ARGUMENTS_BAD, "keymat_from_attrs: no attributes");
    *out = NULL;
    if ((rv = need_init()) != CKR_OK)
        return rv;
    ERR_set_mark();
    if (!get_ulong(pick(pub, secret, CKA_CLASS), &cls) ||
        !get_ulong(pick(pub, secret, CKA_KEY_TYPE), &type))
        FAIL(CKR_TEMPLATE_INCOMPLETE, "key without CKA_CLASS or CKA_KEY_TYPE");
    if (!(k = OPENSSL_zalloc(sizeof(*k))))
        FAIL(CKR_HOST_MEMORY, "out of memory for key material");
    k->refs = 1;
    k->cls = cls;
    k->type = type;
    if (cls == CKO_SECRET_KEY && (type == CKK_AES || generic_secret_type(type))) {
        /* Lengths are the mechanisms' business (CKR_KEY_SIZE_RANGE at cop_new). */
        const struct attr *v = pick(secret, pub, CKA_VALUE);
        if (!v)
            FAIL(CKR_TEMPLATE_INCOMPLETE, "secret key without CKA_VALUE");
        if (v->len == 0)
            FAIL(CKR_ATTRIBUTE_VALUE_INVALID, "empty secret key");
        if (!(k->secret = OPENSSL_secure_malloc(v->len)))
            FAIL(CKR_HOST_MEMORY, "out of secure memory for a secret key");
        memcpy(k->secret, v->val, v->len);
        k->secret_len = v->len;
    } else if ((cls == CKO_PRIVATE_KEY || cls == CKO_PUBLIC_KEY) && type == CKK_EC) {
        if ((rv = eckey_begin(&e, pick(pub, secret, CKA_EC_PARAMS))) != CKR_OK)
            goto out;
        const struct attr *v =
            cls == CKO_PRIVATE_KEY ? pick(secret, pub, CKA_VALUE) : pick(pub, secret, CKA_EC_POINT);
        if (!v)
            FAIL(CKR_TEMPLATE_INCOMPLETE, "EC key without %s",
                 cls == CKO_PRIVATE_KEY ? "CKA_VALUE" : "CKA_EC_POINT");
        rv = cls == CKO_PRIVATE_KEY ? eckey_set_scalar(&e, v->val, v->len)
                                    : eckey_set_point(&e, v->val, v->len);
        if (rv != CKR_OK || (rv = eckey_keydata(&e, &k->keydata)) != CKR_OK)
            goto out;
        k->keydata_free = g.km[KM_EC].free;
        k->bits = e.cv->bits;
    } else if ((cls == CKO_PRIVATE_KEY || cls == CKO_PUBLIC_KEY) && type == CKK_RSA) {
        /* checked for consistency when it was imported (crypto_complete_import) */
        struct rsakey r;
        rv = rsakey_from(&r, pub, secret, cls == CKO_PRIVATE_KEY);
        if (rv == CKR_OK)
            rv = rsakey_keydata(&r, &k->keydata);
        if (rv == CKR_OK)
            k->bits = (size_t)BN_num_bits(r.v[RSA_N]);
        rsakey_clear(&r);
        if (rv != CKR_OK)
            goto out;
        k->keydata_free = g.km[KM_RSA].free;
    } else if ((cls == CKO_PRIVATE_KEY || cls == CKO_PUBLIC_KEY) && type == CKK_EC_EDWARDS) {
        uint8_t pk[ED_LEN];
        const struct attr *v =
            cls == CKO_PRIVATE_KEY ? pick(secret, pub, CKA_VALUE) : pick(pub, secret, CKA_EC_POINT);
        if ((rv = ed_params(pick(pub, secret, CKA_EC_PARAMS))) != CKR_OK)
            goto out;
        if (!v)
            FAIL(CKR_TEMPLATE_INCOMPLETE, "Ed25519 key without %s",
                 cls == CKO_PRIVATE_KEY ? "CKA_VALUE" : "CKA_EC_POINT");
        if (cls == CKO_PRIVATE_KEY && v->len != ED_LEN)
            FAIL(CKR_ATTRIBUTE_VALUE_INVALID, "an Ed25519 private key has 32 bytes");
        if (cls == CKO_PUBLIC_KEY && (rv = ed_point(v, pk)) != CKR_OK)
            goto out;
        rv = cls == CKO_PRIVATE_KEY ? edkey_keydata(v->val, NULL, NULL, &k->keydata)
                                    : edkey_keydata(NULL, pk, NULL, &k->keydata);
        if (rv != CKR_OK)
            goto out;
        k->keydata_free = g.km[KM_ED25519].free;
        k->bits = ED_BITS;
    } else {
        FAIL(CKR_KEY_TYPE_INCONSISTENT, "no key material for class %lu key type %lu",
             (unsigned long)cls, (unsigned long)type);
    }
    *out = k;
    k = NULL;
out:
    eckey_clear(&e);
    keymat_unref(k);
    ERR_pop_to_mark();
    return rv;
}

struct keymat *keymat_ref(struct keymat *k)
{
    if (k)
        __atomic_add_fetch(&k->refs, 1, __ATOMIC_RELAXED);
    return k;
}

void keymat_unref(struct keymat *k)
{
    if (!k || __atomic_sub_fetch(&k->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (size_t i = 0; i < KEYMAT_SPARES; i++) /* the provider wipes contexts as it frees them */
        if (k->spare_gcm[i])
            g.gcm[aes_index(k->secret_len)].freectx(k->spare_gcm[i]);
    if (k->mac_start) {
        hmac_clear(k->mac_start);
        OPENSSL_free(k->mac_start);
    }
    if (k->keydata)
        k->keydata_free(k->keydata);
    OPENSSL_secure_clear_free(k->secret, k->secret_len);
    OPENSSL_free(k);
}

/* ---- key generation and import ---- */

/* CKA_CHECK_VALUE of an AES key: the first 3 bytes of AES-ECB(key, 16 zero bytes). */
static CK_RV aes_check_value(const uint8_t *key, size_t len, uint8_t kcv[3])
{
    CK_RV rv = CKR_OK;
    static const uint8_t zero[16];
    uint8_t block[32];
    size_t got = 0;
    unsigned padding = 0;
    int i = aes_index(len);
    const struct cipher_impl *ci = i >= 0 ? &g.ecb[i] : NULL;
    void *cc = ci ? ci->newctx(g.provctx) : NULL;
    OSSL_PARAM q[] = {OSSL_PARAM_construct_uint(OSSL_CIPHER_PARAM_PADDING, &padding),
                      OSSL_PARAM_END};
    if (!cc || !ci->encrypt_init(cc, key, len, NULL, 0, q) ||
        !ci->update(cc, block, &got, sizeof(block), zero, sizeof(zero)) || got != 16)
        FAIL(CKR_FUNCTION_FAILED, "cannot compute the AES check value");
    memcpy(kcv, block, 3);
out:
    sea_wipe(block, sizeof(block));
    if (cc)
        ci->freectx(cc);
    return rv;
}

static bool no_params(const CK_MECHANISM *m)
{
    return m->ulParameterLen == 0;
}

CK_RV crypto_generate_key(const CK_MECHANISM *m, struct attrs *priv)
{
    CK_RV rv = CKR_OK;
    struct attrs *add = NULL;
    uint8_t *val = NULL;
    CK_ULONG len = 0, type, cls;
    if (!m || !priv)
        return err_set(ORIGIN, CKR_ARGUMENTS_BAD, "crypto_generate_key: missing argument");
    if ((rv = need_init()) != CKR_OK)
        return rv;
    ERR_set_mark();
    bool aes = m->mechanism == CKM_AES_KEY_GEN;
    if (!aes && m->mechanism != CKM_GENERIC_SECRET_KEY_GEN)
        FAIL(CKR_MECHANISM_INVALID, "mechanism 0x%lx does not generate secret keys",
             (unsigned long)m->mechanism);
    if (!no_params(m))
        FAIL(CKR_MECHANISM_PARAM_INVALID, "key generation takes no parameter");
    if (get_ulong(attrs_find(priv, CKA_CLASS), &cls) && cls != CKO_SECRET_KEY)
        FAIL(CKR_TEMPLATE_INCONSISTENT, "secret key generation for another class");
    type = attrs_get_ulong(priv, CKA_KEY_TYPE, aes ? CKK_AES : CKK_GENERIC_SECRET);
    if (aes ? type != CKK_AES : !generic_secret_type(type))
        FAIL(CKR_TEMPLATE_INCONSISTENT, "key type %lu does not suit the mechanism",
             (unsigned long)type);
    if (!attrs_has(priv, CKA_VALUE_LEN))
        FAIL(CKR_TEMPLATE_INCOMPLETE, "CKA_VALUE_LEN missing");
    if (!get_ulong(attrs_find(priv, CKA_VALUE_LEN), &len) || !secret_len_ok(type, len))
        FAIL(CKR_ATTRIBUTE_VALUE_INVALID, "CKA_VALUE_LEN %lu not allowed for this key type",
             (unsigned long)len);
    if (!(val = OPENSSL_secure_malloc(len)) || !(add = attrs_new()))
        FAIL(CKR_HOST_MEMORY, "out of memory for a secret key");
    if ((rv = crypto_random(val, len)) != CKR_OK)
        goto out;
    if ((rv = attrs_set_secret(add, CKA_VALUE, val, len)) != CKR_OK)
        FAIL(rv, "out of memory for key attributes");
    if (aes) {
        uint8_t kcv[3];
        if ((rv = aes_check_value(val, len, kcv)) != CKR_OK)
            goto out;
        if ((rv = attrs_set(add, CKA_CHECK_VALUE, kcv, sizeof(kcv))) != CKR_OK)
            FAIL(rv, "out of memory for key attributes");
    }
    struct attrs *dst[] = {priv};
    const struct attrs *src[] = {add};
    rv = commit(dst, src, 1);
out:
    OPENSSL_secure_clear_free(val, len);
    attrs_unref(add);
    ERR_pop_to_mark();
    return rv;
}

CK_RV crypto_generate_key_pair(const CK_MECHANISM *m, struct attrs *pub, struct attrs *priv)
{
    CK_RV rv = CKR_OK;
    struct eckey e = {0};
    struct attrs *add_pub = NULL, *add_priv = NULL;
    if (!m || !pub || !priv)
        return err_set(ORIGIN, CKR_ARGUMENTS_BAD, "crypto_generate_key_pair: missing argument");
    if ((rv = need_init()) != CKR_OK)
        return rv;
    ERR_set_mark();
    if (m->mechanism != CKM_EC_KEY_PAIR_GEN && m->mechanism != CKM_RSA_PKCS_KEY_PAIR_GEN &&
        m->mechanism != CKM_EC_EDWARDS_KEY_PAIR_GEN)
        FAIL(CKR_MECHANISM_INVALID, "mechanism 0x%lx does not generate key pairs",
             (unsigned long)m->mechanism);
    if (!no_params(m))
        FAIL(CKR_MECHANISM_PARAM_INVALID, "key generation takes no parameter");
    if (m->mechanism != CKM_EC_KEY_PAIR_GEN) {
        rv = m->mechanism == CKM_RSA_PKCS_KEY_PAIR_GEN ? rsa_generate(pub, priv)
                                                       : ed_generate(pub, priv);
        goto out;
    }
    const struct attr *params = attrs_find(pub, CKA_EC_PARAMS);
    const struct attr *other = attrs_find(priv, CKA_EC_PARAMS);
    if (params && other &&
        (params->len != other->len || memcmp(params->val, other->val, params->len) != 0))
        FAIL(CKR_TEMPLATE_INCONSISTENT, "the two templates name different curves");
    if ((rv = eckey_begin(&e, params)) != CKR_OK || (rv = eckey_generate(&e)) != CKR_OK)
        goto out;
    if (!(add_pub = attrs_new()) || !(add_priv = attrs_new()))
        FAIL(CKR_HOST_MEMORY, "out of memory for key attributes");
    if ((rv = eckey_attrs(&e, add_pub, add_priv)) != CKR_OK)
        goto out;
    struct attrs *dst[] = {pub, priv};
    const struct attrs *src[] = {add_pub, add_priv};
    rv = commit(dst, src, 2);
out:
    eckey_clear(&e);
    attrs_unref(add_pub);
    attrs_unref(add_priv);
    ERR_pop_to_mark();
    return rv;
}

/* A value the caller supplied along with the key must equal what we derive. */
static bool same_or_absent(const struct attrs *a, CK_ATTRIBUTE_TYPE t, const struct attrs *add)
{
    const struct attr *given = attrs_find(a, t), *ours = attrs_find(add, t);
    if (!given)
        return true;
    return ours && given->len == ours->len && CRYPTO_memcmp(given->val, ours->val, ours->len) == 0;
}

static CK_RV import_ec(struct attrs *a, CK_OBJECT_CLASS cls, struct attrs *add)
{
    CK_RV rv = CKR_OK;
    struct eckey e = {0};
    struct eckey given = {0};
    if ((rv = eckey_begin(&e, attrs_find(a, CKA_EC_PARAMS))) != CKR_OK)
        goto out;
    const struct attr *v = attrs_find(a, cls == CKO_PRIVATE_KEY ? CKA_VALUE : CKA_EC_POINT);
    if (!v)
        FAIL(CKR_TEMPLATE_INCOMPLETE, "EC key without %s",
             cls == CKO_PRIVATE_KEY ? "CKA_VALUE" : "CKA_EC_POINT");
    rv = cls == CKO_PRIVATE_KEY ? eckey_set_scalar(&e, v->val, v->len)
                                : eckey_set_point(&e, v->val, v->len);
    if (rv != CKR_OK)
        goto out;
    if ((rv = eckey_attrs(&e, add, cls == CKO_PRIVATE_KEY ? add : NULL)) != CKR_OK)
        goto out;
    if (cls == CKO_PRIVATE_KEY) {
        /* A public point given with a private key must be the scalar's. */
        const struct attr *p = attrs_find(a, CKA_EC_POINT);
        if (p) {
            given.cv = e.cv;
            given.grp = e.grp;
            rv = eckey_set_point(&given, p->val, p->len);
            given.grp = NULL; /* borrowed */
            if (rv != CKR_OK)
                goto out;
            if (given.point_len != e.point_len || memcmp(given.point, e.point, e.point_len) != 0)
                FAIL(CKR_ATTRIBUTE_VALUE_INVALID, "CKA_EC_POINT does not match CKA_VALUE");
        }
    }
    if (!same_or_absent(a, CKA_PUBLIC_KEY_INFO, add))
        FAIL(CKR_ATTRIBUTE_VALUE_INVALID, "CKA_PUBLIC_KEY_INFO does not match the key");
out:
    eckey_clear(&given);
    eckey_clear(&e);
    return rv;
}

static CK_RV import_secret(struct attrs *a, CK_KEY_TYPE type, struct attrs *add)
{
    CK_RV rv = CKR_OK;
    CK_ULONG vlen;
    const struct attr *v = attrs_find(a, CKA_VALUE);
    if (!v)
        FAIL(CKR_TEMPLATE_INCOMPLETE, "secret key without CKA_VALUE");
    if (!secret_len_ok(type, v->len))
        FAIL(CKR_ATTRIBUTE_VALUE_INVALID, "a key of %lu bytes is not allowed for this key type",
             (unsigned long)v->len);
    if (attrs_has(a, CKA_VALUE_LEN) &&
        (!get_ulong(attrs_find(a, CKA_VALUE_LEN), &vlen) || vlen != v->len))
        FAIL(CKR_TEMPLATE_INCONSISTENT, "CKA_VALUE_LEN does not match CKA_VALUE");
    if ((rv = attrs_set_ulong(add, CKA_VALUE_LEN, v->len)) != CKR_OK)
        FAIL(rv, "out of memory for key attributes");
    if (type == CKK_AES) {
        uint8_t kcv[3];
        const struct attr *given = attrs_find(a, CKA_CHECK_VALUE);
        if ((rv = aes_check_value(v->val, v->len, kcv)) != CKR_OK)
            goto out;
        /* An empty check value asks for none (PKCS#11 3.0 4.10). */
        if (given && given->len == 0)
            goto out;
        if (given && (given->len != sizeof(kcv) || CRYPTO_memcmp(given->val, kcv, 3) != 0))
            FAIL(CKR_ATTRIBUTE_VALUE_INVALID, "CKA_CHECK_VALUE does not match the key");
        if ((rv = attrs_set(add, CKA_CHECK_VALUE, kcv, sizeof(kcv))) != CKR_OK)
            FAIL(rv, "out of memory for key attributes");
    }
out:
    return rv;
}

CK_RV crypto_complete_import(struct attrs *a)
{
    CK_RV rv = CKR_OK;
    struct attrs *add = NULL;
    CK_ULONG cls, type;
    if (!a)
        return err_set(ORIGIN, CKR_ARGUMENTS_BAD, "crypto_complete_import: no attributes");
    if ((rv = need_init()) != CKR_OK)
        return rv;
    ERR_set_mark();
    if (!get_ulong(attrs_find(a, CKA_CLASS), &cls))
        FAIL(CKR_TEMPLATE_INCOMPLETE, "object without CKA_CLASS");
    if (cls != CKO_SECRET_KEY && cls != CKO_PRIVATE_KEY && cls != CKO_PUBLIC_KEY)
        goto out; /* certificates and data carry no key material */
    if (!get_ulong(attrs_find(a, CKA_KEY_TYPE), &type))
        FAIL(CKR_TEMPLATE_INCOMPLETE, "key without CKA_KEY_TYPE");
    if (!(add = attrs_new()))
        FAIL(CKR_HOST_MEMORY, "out of memory for key attributes");
    if (cls == CKO_SECRET_KEY && (type == CKK_AES || generic_secret_type(type)))
        rv = import_secret(a, type, add);
    else if (cls != CKO_SECRET_KEY && type == CKK_EC)
        rv = import_ec(a, cls, add);
    else if (cls != CKO_SECRET_KEY && type == CKK_RSA)
        rv = import_rsa(a, cls, add);
    else if (cls != CKO_SECRET_KEY && type == CKK_EC_EDWARDS)
        rv = import_ed(a, cls, add);
    else
        FAIL(CKR_ATTRIBUTE_VALUE_INVALID, "key type %lu not supported", (unsigned long)type);
    if (rv == CKR_OK) {
        struct attrs *dst[] = {a};
        const struct attrs *src[] = {add};
        rv = commit(dst, src, 1);
    }
out:
    attrs_unref(add);
    ERR_pop_to_mark();
    return rv;
}

/* The private scalar of a decoded key, copied through the secure heap only. */
static CK_RV pkey_scalar(EVP_PKEY *pkey, struct eckey *e)
{
    CK_RV rv = CKR_OK;
    size_t cap = 2 * EC_MAX_BYTES;
    uint8_t *buf = OPENSSL_secure_zalloc(cap);
    OSSL_PARAM q[] = {OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_PRIV_KEY, buf, cap), OSSL_PARAM_END};
    if (!buf || !(e->d = BN_secure_new()))
        FAIL(CKR_HOST_MEMORY, "out of memory for an EC private value");
    if (!EVP_PKEY_get_params(pkey, q) || !OSSL_PARAM_modified(q) || !OSSL_PARAM_get_BN(q, &e->d))
        FAIL(CKR_ARGUMENTS_BAD, "the key has no private part");
    BN_set_flags(e->d, BN_FLG_CONSTTIME);
    if (BN_is_zero(e->d) || BN_cmp(e->d, EC_GROUP_get0_order(e->grp)) >= 0)
        FAIL(CKR_ARGUMENTS_BAD, "EC private value out of range");
    rv = eckey_derive_point(e);
out:
    OPENSSL_secure_clear_free(buf, cap);
    return rv;
}

/* Class and key type of both halves of a parsed key. */
static CK_RV parsed_types(struct attrs *pub, struct attrs *priv, CK_KEY_TYPE kt)
{
    CK_RV rv;
    if ((rv = attrs_set_ulong(pub, CKA_CLASS, CKO_PUBLIC_KEY)) != CKR_OK ||
        (rv = attrs_set_ulong(priv, CKA_CLASS, CKO_PRIVATE_KEY)) != CKR_OK ||
        (rv = attrs_set_ulong(pub, CKA_KEY_TYPE, kt)) != CKR_OK ||
        (rv = attrs_set_ulong(priv, CKA_KEY_TYPE, kt)) != CKR_OK)
        return err_set(ORIGIN, rv, "out of memory for key attributes");
    return CKR_OK;
}

static CK_RV parse_rsa(EVP_PKEY *pkey, struct attrs *add_pub, struct attrs *add_priv)
{
    CK_RV rv = CKR_OK;
    struct rsakey r = {0};
    if (!EVP_PKEY_export(pkey, EVP_PKEY_KEYPAIR, rsa_export_cb, &r) || !r.v[RSA_N] || !r.v[RSA_E] ||
        !r.v[RSA_D])
        FAIL(CKR_ARGUMENTS_BAD, "the RSA key has no private part");
    /* all CRT parts or none, as rsakey_from wants */
    if (!(r.v[RSA_P] && r.v[RSA_Q] && r.v[RSA_DP] && r.v[RSA_DQ] && r.v[RSA_QINV]))
        for (int i = RSA_P; i < RSA__PARTS; i++) {
            BN_clear_free(r.v[i]);
            r.v[i] = NULL;
        }
    int bits = BN_num_bits(r.v[RSA_N]);
    if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS)
        FAIL(CKR_ARGUMENTS_BAD, "RSA modulus of %d bits not supported", bits);
    if ((rv = rsakey_check(&r)) != CKR_OK)
        goto out; /* a multi-prime key ends here: p * q is not n */
    if ((rv = parsed_types(add_pub, add_priv, CKK_RSA)) != CKR_OK)
        goto out;
    rv = rsakey_attrs(&r, add_pub, add_priv, false);
out:
    rsakey_clear(&r);
    return rv;
}

static CK_RV parse_ed(EVP_PKEY *pkey, struct attrs *add_pub, struct attrs *add_priv)
{
    CK_RV rv = CKR_OK;
    uint8_t *seed = OPENSSL_secure_zalloc(ED_LEN), pk[ED_LEN];
    size_t n = 0;
    struct attr params = {CKA_EC_PARAMS, sizeof(oid_ed25519), (void *)oid_ed25519, false};
    if (!seed)
        FAIL(CKR_HOST_MEMORY, "out of secure memory for an Ed25519 key");
    if (!EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, seed, ED_LEN, &n) ||
        n != ED_LEN)
        FAIL(CKR_ARGUMENTS_BAD, "the Ed25519 key has no private part");
    if ((rv = edkey_keydata(seed, NULL, pk, NULL)) != CKR_OK ||
        (rv = parsed_types(add_pub, add_priv, CKK_EC_EDWARDS)) != CKR_OK)
        goto out;
    if ((rv = attrs_set(add_pub, CKA_EC_PARAMS, oid_ed25519, sizeof(oid_ed25519))) != CKR_OK)
        FAIL(rv, "out of memory for key attributes");
    rv = edkey_attrs(pk, seed, &params, add_pub, add_priv);
out:
    OPENSSL_secure_clear_free(seed, ED_LEN);
    return rv;
}

CK_RV crypto_parse_private_key(const uint8_t *data, size_t len, struct attrs *pub,
                               struct attrs *priv)
{
    CK_RV rv = CKR_OK;
    EVP_PKEY *pkey = NULL;
    OSSL_DECODER_CTX *dc = NULL;
    struct eckey e = {0};
    struct attrs *add_pub = NULL, *add_priv = NULL;
    char group[64];
    if (!data || len == 0 || !pub || !priv)
        return err_set(ORIGIN, CKR_ARGUMENTS_BAD, "crypto_parse_private_key: missing argument");
    if ((rv = need_init()) != CKR_OK)
        return rv;
    ERR_set_mark();
    const unsigned char *p = data;
    size_t left = len;
    /* Any input type (PEM, DER) and structure (PKCS#8, SEC1, traditional). No passphrase is
     * set, so an encrypted key fails instead of prompting. */
    dc = OSSL_DECODER_CTX_new_for_pkey(&pkey, NULL, NULL, NULL, EVP_PKEY_KEYPAIR, g.ctx, NULL);
    if (!dc || !OSSL_DECODER_from_data(dc, &p, &left) || !pkey)
        FAIL(CKR_ARGUMENTS_BAD, "not an unencrypted private key in PEM or DER");
    if (EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_is_a(pkey, "ED25519")) {
        bool rsa = EVP_PKEY_is_a(pkey, "RSA");
        if (!(add_pub = attrs_new()) || !(add_priv = attrs_new()))
            FAIL(CKR_HOST_MEMORY, "out of memory for key attributes");
        if ((rv = rsa ? parse_rsa(pkey, add_pub, add_priv) : parse_ed(pkey, add_pub, add_priv)) !=
            CKR_OK)
            goto out;
        struct attrs *dst[] = {pub, priv};
        const struct attrs *src[] = {add_pub, add_priv};
        rv = commit(dst, src, 2);
        goto out;
    }
    if (!EVP_PKEY_is_a(pkey, "EC")) {
        const char *name = EVP_PKEY_get0_type_name(pkey);
        FAIL(CKR_KEY_TYPE_INCONSISTENT, "not an EC, RSA or Ed25519 key (%s)",
             name ? name : "unknown type");
    }
    int nid = NID_undef;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       NULL))
        nid = OBJ_txt2nid(group) != NID_undef ? OBJ_txt2nid(group) : EC_curve_nist2nid(group);
    for (size_t i = 0; i < ARRAY_SIZE(curves); i++)
        if (curves[i].nid == nid)
            e.cv = &curves[i];
    if (!e.cv)
        FAIL(CKR_CURVE_NOT_SUPPORTED, "curve not supported (P-256/384/521 are)");
    if (!(e.grp = EC_GROUP_new_by_curve_name_ex(g.ctx, NULL, e.cv->nid)))
        FAIL(CKR_HOST_MEMORY, "cannot set up curve %s", e.cv->name);
    if ((rv = pkey_scalar(pkey, &e)) != CKR_OK)
        goto out;
    if (!(add_pub = attrs_new()) || !(add_priv = attrs_new()))
        FAIL(CKR_HOST_MEMORY, "out of memory for key attributes");
    if ((rv = attrs_set_ulong(add_pub, CKA_CLASS, CKO_PUBLIC_KEY)) != CKR_OK ||
        (rv = attrs_set_ulong(add_priv, CKA_CLASS, CKO_PRIVATE_KEY)) != CKR_OK ||
        (rv = attrs_set_ulong(add_pub, CKA_KEY_TYPE, CKK_EC)) != CKR_OK ||
        (rv = attrs_set_ulong(add_priv, CKA_KEY_TYPE, CKK_EC)) != CKR_OK ||
        (rv = attrs_set(add_pub, CKA_EC_PARAMS, e.cv->oid, e.cv->oid_len)) != CKR_OK)
        FAIL(rv, "out of memory for key attributes");
    if ((rv = eckey_attrs(&e, add_pub, add_priv)) != CKR_OK)
        goto out;
    struct attrs *dst[] = {pub, priv};
    const struct attrs *src[] = {add_pub, add_priv};
    rv = commit(dst, src, 2);
out:
    eckey_clear(&e);
    attrs_unref(add_pub);
    attrs_unref(add_priv);
    OSSL_DECODER_CTX_free(dc);
    EVP_PKEY_free(pkey);
    ERR_pop_to_mark();
    return rv;
}

/* ---- private keys out as PKCS#8 (for key wrapping) ---- */

static void pkcs8_finish(struct dbuf *out, const uint8_t *alg, size_t alg_len,
                         const struct dbuf *key)
{
    static const uint8_t version0[] = {0x02, 0x01, 0x00};
    struct dbuf body = {0};
    dbuf_add(&body, version0, sizeof(version0));
    dbuf_add(&body, alg, alg_len);
    dbuf_wrap(&body, 0x04, key);
    dbuf_wrap(out, 0x30, &body);
    dbuf_free(&body);
}

static CK_RV pkcs8_rsa(const struct attrs *pub, const struct attrs *secret, struct dbuf *out)
{
    CK_RV rv;
    struct rsakey r;
    struct dbuf seq = {0}, key = {0};
    static const uint8_t version0[] = {0x02, 0x01, 0x00};
    if ((rv = rsakey_from(&r, pub, secret, true)) != CKR_OK)
        goto out;
    if (!rsakey_crt(&r))
        FAIL(CKR_KEY_UNEXTRACTABLE, "an RSA key without its CRT parts cannot be encoded");
    dbuf_add(&seq, version0, sizeof(version0)); /* RFC 8017 A.1.2, two primes */
    for (int i = 0; i < RSA__PARTS; i++)
        dbuf_int(&seq, r.v[i]);
    dbuf_wrap(&key, 0x30, &seq);
    pkcs8_finish(out, alg_rsa, sizeof(alg_rsa), &key);
out:
    dbuf_free(&seq);
    dbuf_free(&key);
    rsakey_clear(&r);
    return rv;
}

static CK_RV pkcs8_ed(const struct attrs *pub, const struct attrs *secret, struct dbuf *out)
{
    CK_RV rv;
    struct dbuf key = {0};
    const struct attr *v = pick(secret, pub, CKA_VALUE);
    if ((rv = ed_params(pick(pub, secret, CKA_EC_PARAMS))) != CKR_OK)
        return rv;
    if (!v || v->len != ED_LEN)
        return err_set(ORIGIN, CKR_KEY_TYPE_INCONSISTENT, "not an Ed25519 private key");
    dbuf_tlv(&key, 0x04, v->val, v->len); /* RFC 8410 7: CurvePrivateKey */
    pkcs8_finish(out, alg_ed25519, sizeof(alg_ed25519), &key);
    dbuf_free(&key);
    return CKR_OK;
}

static CK_RV pkcs8_ec(const struct attrs *pub, const struct attrs *secret, struct dbuf *out)
{
    CK_RV rv;
    struct eckey e = {0};
    struct dbuf alg = {0}, algseq = {0}, seq = {0}, key = {0}, bits = {0}, ctx = {0};
    uint8_t *scalar = NULL;
    static const uint8_t version1[] = {0x02, 0x01, 0x01};
    const struct attr *v = pick(secret, pub, CKA_VALUE);
    if ((rv = eckey_begin(&e, pick(pub, secret, CKA_EC_PARAMS))) != CKR_OK)
        goto out;
    if (!v)
        FAIL(CKR_KEY_TYPE_INCONSISTENT, "not an EC private key");
    if ((rv = eckey_set_scalar(&e, v->val, v->len)) != CKR_OK)
        goto out;
    size_t n = e.cv->len;
    if (!(scalar = OPENSSL_secure_malloc(n)) || BN_bn2binpad(e.d, scalar, (int)n) != (int)n)
        FAIL(CKR_HOST_MEMORY, "out of memory for an EC private value");
    /* RFC 5915 3: ECPrivateKey with the public key, the curve in the algorithm */
    dbuf_add(&seq, version1, sizeof(version1));
    dbuf_tlv(&seq, 0x04, scalar, n);
    dbuf_add(&bits, (const uint8_t *)"", 1);
    dbuf_add(&bits, e.point, e.point_len);
    dbuf_wrap(&ctx, 0x03, &bits);
    dbuf_wrap(&seq, 0xa1, &ctx);
    dbuf_wrap(&key, 0x30, &seq);
    dbuf_add(&alg, oid_ec_public_key, sizeof(oid_ec_public_key));
    dbuf_add(&alg, e.cv->oid, e.cv->oid_len);
    dbuf_wrap(&algseq, 0x30, &alg);
    if (algseq.fail)
        FAIL(CKR_HOST_MEMORY, "out of memory for a PKCS#8 key");
    pkcs8_finish(out, algseq.p, algseq.len, &key);
out:
    OPENSSL_secure_clear_free(scalar, e.cv ? e.cv->len : 0);
    dbuf_free(&alg);
    dbuf_free(&algseq);
    dbuf_free(&seq);
    dbuf_free(&key);
    dbuf_free(&bits);
    dbuf_free(&ctx);
    eckey_clear(&e);
    return rv;
}

CK_RV crypto_private_key_pkcs8(const struct attrs *pub, const struct attrs *secret, uint8_t **der,
                               size_t *len)
{
    CK_RV rv = CKR_OK;
    struct dbuf out = {0};
    CK_ULONG cls, type;
    if (!pub || !der || !len)
        return err_set(ORIGIN, CKR_ARGUMENTS_BAD, "crypto_private_key_pkcs8: missing argument");
    *der = NULL;
    *len = 0;
    if ((rv = need_init()) != CKR_OK)
        return rv;
    ERR_set_mark();
    if (!get_ulong(pick(pub, secret, CKA_CLASS), &cls) || cls != CKO_PRIVATE_KEY ||
        !get_ulong(pick(pub, secret, CKA_KEY_TYPE), &type))
        FAIL(CKR_KEY_TYPE_INCONSISTENT, "not a private key");
    switch (type) {
    case CKK_RSA:
        rv = pkcs8_rsa(pub, secret, &out);
        break;
    case CKK_EC_EDWARDS:
        rv = pkcs8_ed(pub, secret, &out);
        break;
    case CKK_EC:
        rv = pkcs8_ec(pub, secret, &out);
        break;
    default:
        FAIL(CKR_KEY_TYPE_INCONSISTENT, "no PKCS#8 form for key type %lu", (unsigned long)type);
    }
    if (rv == CKR_OK && out.fail)
        FAIL(CKR_HOST_MEMORY, "out of memory for a PKCS#8 key");
    if (rv != CKR_OK)
        goto out;
    /* exactly len bytes, so the caller frees what it was told */
    if (!(*der = OPENSSL_secure_malloc(out.len)))
        FAIL(CKR_HOST_MEMORY, "out of secure memory for a PKCS#8 key");
    memcpy(*der, out.p, out.len);
    *len = out.len;
out:
    dbuf_free(&out);
    ERR_pop_to_mark();
    return rv;
}

/* ---- store protection ---- */

/* PBKDF2-HMAC-SHA256 as RFC 8018 5.2 has it: SP 800-132's lower bounds are the caller's policy.
 * The HMAC is the one above, keyed once; each iteration starts from a copy of that state. */
CK_RV crypto_pbkdf2(const uint8_t *pin, size_t pin_len, const uint8_t *salt, size_t salt_len,
                    unsigned iter, uint8_t *out, size_t outlen)
{
    CK_RV rv = CKR_OK;
    struct hmac key = {0}, h = {0};
    uint8_t u[MD_MAX], t[MD_MAX];
    if ((!pin && pin_len) || (!salt && salt_len) || iter < 1 || !out || outlen == 0 ||
        outlen / 32 >= UINT32_MAX)
        return err_set(ORIGIN, CKR_ARGUMENTS_BAD, "crypto_pbkdf2: bad argument");
    if ((rv = need_init()) != CKR_OK)
        return rv;
    ERR_set_mark();
    const struct md_impl *md = md_of(CKM_SHA256);
    if (!hmac_start(&key, md, pin, pin_len))
        FAIL(CKR_FUNCTION_FAILED, "PBKDF2 failed");
    uint32_t block = 1;
    for (size_t done = 0; done < outlen; block++) {
        const uint8_t be[4] = {(uint8_t)(block >> 24), (uint8_t)(block >> 16),
                               (uint8_t)(block >> 8), (uint8_t)block};
        if (!hmac_dup(&h, &key) || !md_add(md, h.inner, salt, salt_len) ||
            !md_add(md, h.inner, be, sizeof(be)) || !hmac_finish(&h, u))
            FAIL(CKR_FUNCTION_FAILED, "PBKDF2 failed");
        hmac_clear(&h);
        memcpy(t, u, md->size);
        for (unsigned j = 1; j < iter; j++) {
            if (!hmac_dup(&h, &key) || !md_add(md, h.inner, u, md->size) || !hmac_finish(&h, u))
                FAIL(CKR_FUNCTION_FAILED, "PBKDF2 failed");
            hmac_clear(&h);
            for (size_t i = 0; i < md->size; i++)
                t[i] ^= u[i];
        }
        size_t n = outlen - done < md->size ? outlen - done : md->size;
        memcpy(out + done, t, n);
        done += n;
    }
out:
    hmac_clear(&h);
    hmac_clear(&key);
    OPENSSL_cleanse(u, sizeof(u));
    OPENSSL_cleanse(t, sizeof(t));
    if (rv != CKR_OK)
        sea_wipe(out, outlen);
    ERR_pop_to_mark();
    return rv;
}

#define SEAL_NONCE 12
#define SEAL_TAG   16

/* GCM's additional data: input without output. */
static bool gcm_aad(const struct cipher_impl *ci, void *cc, const uint8_t *aad, size_t len)
{
    size_t got = 0;
    return len == 0 || ci->update(cc, NULL, &got, len, aad, len);
}

CK_RV crypto_seal(const uint8_t key[32], const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                  size_t pt_len, uint8_t *out, size_t *outlen)
{
    CK_RV rv = CKR_OK;
    const struct cipher_impl *ci = &g.gcm[2];
    void *cc = NULL;
    uint8_t rest[16];
    size_t got = 0;
    if (!key || (!aad && aad_len) || (!pt && pt_len) || !out || !outlen ||
        pt_len > SIZE_MAX - SEAL_OVERHEAD)
        return err_set(ORIGIN, CKR_ARGUMENTS_BAD, "crypto_seal: bad argument");
    if ((rv = need_init()) != CKR_OK)
        return rv;
    ERR_set_mark();
    uint8_t *ct = out + SEAL_NONCE, *tag = out + SEAL_NONCE + pt_len;
    OSSL_PARAM q[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, SEAL_TAG),
                      OSSL_PARAM_END};
    if ((rv = crypto_random(out, SEAL_NONCE)) != CKR_OK)
        goto out;
    if (!(cc = ci->newctx(g.provctx)) || !ci->encrypt_init(cc, key, 32, out, SEAL_NONCE, NULL) ||
        !gcm_aad(ci, cc, aad, aad_len) || !ci->update(cc, ct, &got, pt_len, pt, pt_len) ||
        got != pt_len || !ci->final(cc, rest, &got, sizeof(rest)) || !ci->get_ctx_params(cc, q))
        FAIL(CKR_FUNCTION_FAILED, "AES-GCM sealing failed");
    *outlen = pt_len + SEAL_OVERHEAD;
out:
    if (rv != CKR_OK)
        sea_wipe(out, pt_len + SEAL_OVERHEAD);
    if (cc)
        ci->freectx(cc);
    ERR_pop_to_mark();
    return rv;
}

CK_RV crypto_open(const uint8_t key[32], const uint8_t *aad, size_t aad_len, const uint8_t *in,
                  size_t in_len, uint8_t *pt, size_t *pt_len)
{
    CK_RV rv = CKR_OK;
    const struct cipher_impl *ci = &g.gcm[2];
    void *cc = NULL;
    uint8_t tag[SEAL_TAG], rest[16];
    size_t got = 0;
    if (!key || (!aad && aad_len) || !in || !pt_len || (!pt && in_len > SEAL_OVERHEAD))
        return err_set(ORIGIN, CKR_ARGUMENTS_BAD, "crypto_open: bad argument");
    if (in_len < SEAL_OVERHEAD)
        return err_set(ORIGIN, CKR_ENCRYPTED_DATA_INVALID, "sealed data too short");
    if ((rv = need_init()) != CKR_OK)
        return rv;
    ERR_set_mark();
    size_t n = in_len - SEAL_OVERHEAD;
    memcpy(tag, in + SEAL_NONCE + n, SEAL_TAG);
    OSSL_PARAM q[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, SEAL_TAG),
                      OSSL_PARAM_END};
    if (!(cc = ci->newctx(g.provctx)) || !ci->decrypt_init(cc, key, 32, in, SEAL_NONCE, NULL) ||
        !gcm_aad(ci, cc, aad, aad_len) || !ci->update(cc, pt, &got, n, in + SEAL_NONCE, n) ||
        got != n || !ci->set_ctx_params(cc, q))
        FAIL(CKR_FUNCTION_FAILED, "AES-GCM opening failed");
    if (!ci->final(cc, rest, &got, sizeof(rest)))
        FAIL(CKR_ENCRYPTED_DATA_INVALID, "sealed data does not authenticate");
    *pt_len = n;
out:
    if (rv != CKR_OK && pt)
        sea_wipe(pt, n); /* never leave unauthenticated plaintext behind */
    if (cc)
        ci->freectx(cc);
    ERR_pop_to_mark();
    return rv;
}

/* ---- mechanisms ----
 * A row per mechanism says which operations and keys it takes; a family per kind of algorithm
 * holds the code. New mechanisms are a row, and a family when the algorithm kind is new. */

#define OPB(op)         (1u << (op))
#define ECDSA_MAX_INPUT 1024
#define ECDSA_MAX_DER   160          /* P-521: 3 + 2 * (2 + 67) = 141 */
#define GCM_IV_MAX      128          /* OpenSSL 3.0 takes no longer IV */
#define GCM_MAX_HELD    (64ul << 20) /* ciphertext a decryption holds until its tag */

struct cop;

struct family {
    CK_RV (*init)(struct cop *c, const CK_MECHANISM *m);
    size_t (*outlen)(const struct cop *c, int phase, size_t inlen);
    CK_RV (*update)(struct cop *c, const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen);
    CK_RV (*final)(struct cop *c, const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen);
};

struct impl {
    CK_MECHANISM_TYPE type;
    unsigned ops;         /* OPB(OP_SIGN) | ... */
    CK_KEY_TYPE ktype[2]; /* accepted key types */
    unsigned nktype;      /* 0: no key (digests) */
    bool asym;            /* key pair: private key signs/decrypts, public verifies/encrypts */
    bool no_params;       /* pParameter must be absent */
    const struct family *fam;
};

struct cop {
    const struct impl *im;
    enum sea_op op;
    struct keymat *k;
    bool done;   /* finished or failed: no more calls */
    size_t size; /* signature, MAC, digest or tag length */
    /* the provider's operation context, by family, with the table it came from */
    const struct sig_impl *sig;
    void *sctx;
    const struct cipher_impl *ci;
    void *cctx;
    const struct md_impl *md;
    void *dctx;
    const struct asym_impl *ac;
    void *actx;
    size_t max_in; /* RSA: the longest input the padding takes */
    int salt;      /* RSA-PSS: salt length, read by the provider at init */
    struct hmac mac;
    bool park;     /* cctx ended cleanly: it may become the key's spare_gcm */
    uint8_t *held; /* input kept until final */
    size_t held_len, held_cap;
    /* AES block modes, CTR and CMAC */
    bool pad;           /* CBC_PAD: the provider pads and unpads */
    size_t buffered;    /* block modes: bytes the provider holds; CMAC: bytes in last[] */
    uint64_t ctr_left;  /* CTR: bytes left before the counter wraps (saturating) */
    uint8_t last[16];   /* CMAC: the block that may turn out to be the last one */
    uint8_t sub[2][16]; /* CMAC: the subkeys K1 and K2 */
};

static CK_RV hold(struct cop *c, const uint8_t *in, size_t n, size_t max, CK_RV too_long)
{
    if (n == 0)
        return CKR_OK;
    if (n > max - c->held_len)
        return err_set(ORIGIN, too_long, "more than %zu bytes of input", max);
    if (c->held_len + n > c->held_cap) {
        size_t cap = c->held_cap ? c->held_cap : 256;
        while (cap < c->held_len + n)
            cap *= 2;
        uint8_t *p = OPENSSL_clear_realloc(c->held, c->held_cap, cap);
        if (!p)
            return err_set(ORIGIN, CKR_HOST_MEMORY, "out of memory for operation input");
        c->held = p;
        c->held_cap = cap;
    }
    memcpy(c->held + c->held_len, in, n);
    c->held_len += n;
    return CKR_OK;
}

/* Sign, verify and digest produce their result at the end only. */
static size_t tail_outlen(const struct cop *c, int phase, size_t inlen)
{
    return phase == PHASE_UPDATE || c->op == OP_VERIFY ? 0 : c->size;
}

/* ECDSA over a caller-supplied hash: raw r || s signatures. */

static CK_RV ecdsa_init(struct cop *c, const CK_MECHANISM *m)
{
    CK_RV rv = CKR_OK;
    c->sig = &g.sig[SIG_ECDSA];
    c->size = 2 * ((c->k->bits + 7) / 8);
    if (!(c->sctx = c->sig->newctx(g.provctx, NULL)) ||
        !(c->op == OP_SIGN ? c->sig->sign_init : c->sig->verify_init)(c->sctx, c->k->keydata, NULL))
        FAIL(CKR_FUNCTION_FAILED, "cannot start ECDSA");
out:
    return rv;
}

static CK_RV ecdsa_update(struct cop *c, const uint8_t *in, size_t inlen, uint8_t *out,
                          size_t *outlen)
{
    *outlen = 0;
    return hold(c, in, inlen, ECDSA_MAX_INPUT, CKR_DATA_LEN_RANGE);
}

static CK_RV ecdsa_sign(struct cop *c, const uint8_t *in, size_t inlen, uint8_t *out,
                        size_t *outlen)
{
    CK_RV rv = CKR_OK;
    static const uint8_t empty[1];
    uint8_t der[ECDSA_MAX_DER];
    size_t der_len = sizeof(der), n = c->size / 2;
    ECDSA_SIG *sig = NULL;
    const BIGNUM *r, *s;
    const uint8_t *data = inlen ? in : empty;
    size_t len = inlen;
    if (c->held_len) {
        if ((rv = hold(c, in, inlen, ECDSA_MAX_INPUT, CKR_DATA_LEN_RANGE)) != CKR_OK)
            goto out;
        data = c->held;
        len = c->held_len;
    } else if (inlen > ECDSA_MAX_INPUT) {
        FAIL(CKR_DATA_LEN_RANGE, "ECDSA input longer than %d bytes", ECDSA_MAX_INPUT);
    }
    if (!c->sig->sign(c->sctx, der, &der_len, sizeof(der), data, len))
        FAIL(CKR_FUNCTION_FAILED, "ECDSA signing failed");
    const unsigned char *p = der;
    if (!(sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len)))
        FAIL(CKR_FUNCTION_FAILED, "cannot decode the ECDSA signature");
    ECDSA_SIG_get0(sig, &r, &s);
    if (BN_bn2binpad(r, out, (int)n) != (int)n || BN_bn2binpad(s, out + n, (int)n) != (int)n)
        FAIL(CKR_FUNCTION_FAILED, "ECDSA signature does not fit the curve size");
    *outlen = c->size;
out:
    ECDSA_SIG_free(sig);
    return rv;
}

static CK_RV ecdsa_verify(struct cop *c, const uint8_t *in, size_t inlen)
{
    CK_RV rv = CKR_OK;
    static const uint8_t empty[1];
    size_t n = c->size / 2;
    ECDSA_SIG *sig = NULL;
    BIGNUM *r = NULL, *s = NULL;
    unsigned char *der = NULL;
    if (inlen != c->size)
        FAIL(CKR_SIGNATURE_LEN_RANGE, "ECDSA signature of %zu bytes, expected %zu", inlen, c->size);
    if (!(sig = ECDSA_SIG_new()) || !(r = BN_bin2bn(in, (int)n, NULL)) ||
        !(s = BN_bin2bn(in + n, (int)n, NULL)) || !ECDSA_SIG_set0(sig, r, s))
        FAIL(CKR_HOST_MEMORY, "out of memory for an ECDSA signature");
    r = s = NULL; /* owned by sig now */
    int der_len = i2d_ECDSA_SIG(sig, &der);
    if (der_len <= 0)
        FAIL(CKR_HOST_MEMORY, "cannot encode the ECDSA signature");
    /* 1 is valid; 0 invalid, -1 malformed: both are a signature that does not verify */
    int valid =
        c->sig->verify(c->sctx, der, (size_t)der_len, c->held_len ? c->held : empty, c->held_len);
    if (valid != 1)
        FAIL(CKR_SIGNATURE_INVALID, "ECDSA signature does not verify");
out:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    OPENSSL_free(der);
    return rv;
}

static CK_RV ecdsa_final(struct cop *c, const uint8_t *in, size_t inlen, uint8_t *out,
                         size_t *outlen)
{
    *outlen = 0;
    return c->op == OP_SIGN ? ecdsa_sign(c, in, inlen, out, outlen) : ecdsa_verify(c, in, inlen);
}

static const struct family fam_ecdsa = {ecdsa_init, tail_outlen, ecdsa_update, ecdsa_final};

/* AES-GCM: encryption streams, decryption holds everything until the tag has verified
 * (PKCS#11 3.0 5.2: no plaintext before the tag is checked). */

static CK_RV gcm_init(struct cop *c, const CK_MECHANISM *m)
{
    CK_RV rv = CKR_OK;
    const CK_GCM_PARAMS *gp = m->pParameter;
    bool enc = c->op == OP_ENCRYPT;
    if (!gp || m->ulParameterLen != sizeof(*gp))
        FAIL(CKR_MECHANISM_PARAM_INVALID, "CKM_AES_GCM needs a CK_GCM_PARAMS");
    if (!gp->pIv || gp->ulIvLen < 1 || gp->ulIvLen > GCM_IV_MAX)
        FAIL(CKR_MECHANISM_PARAM_INVALID, "GCM IV of %lu bytes (1..%d allowed)",
             (unsigned long)gp->ulIvLen, GCM_IV_MAX);
    if (!gp->pAAD && gp->ulAADLen)
        FAIL(CKR_MECHANISM_PARAM_INVALID, "GCM AAD length without data");
    switch (gp->ulTagBits) {
    case 32:
    case 64:
    case 96:
    case 104:
    case 112:
    case 120:
    case 128:
        break;
    default:
        FAIL(CKR_MECHANISM_PARAM_INVALID, "GCM tag of %lu bits", (unsigned long)gp->ulTagBits);
    }
    c->size = gp->ulTagBits / 8;
    c->ci = &g.gcm[aes_index(c->k->secret_len)];
    /* The context this operation kept from its previous run (cop_restart), or an idle context
     * of the key, if one is free, has the key set up already (the AES key schedule and GHASH
     * table): a new IV starts it afresh, as EVP_EncryptInit_ex2 with only an IV does. Else a
     * new context. The provider takes any IV length up to GCM_IV_MAX with the IV itself. */
    for (size_t i = 0; i < KEYMAT_SPARES && !c->cctx; i++)
        if (__atomic_load_n(&c->k->spare_gcm[i], __ATOMIC_RELAXED))
            c->cctx = __atomic_exchange_n(&c->k->spare_gcm[i], NULL, __ATOMIC_ACQ_REL);
    const uint8_t *key = c->cctx ? NULL : c->k->secret;
    if ((!c->cctx && !(c->cctx = c->ci->newctx(g.provctx))) ||
        !(enc ? c->ci->encrypt_init : c->ci->decrypt_init)(c->cctx, key, key ? c->k->secret_len : 0,
                                                           gp->pIv, gp->ulIvLen, NULL) ||
        !gcm_aad(c->ci, c->cctx, gp->pAAD, gp->ulAADLen))
        FAIL(CKR_FUNCTION_FAILED, "cannot start AES-GCM");
out:
    return rv;
}

static size_t gcm_outlen(const struct cop *c, int phase, size_t inlen)
{
    if (c->op == OP_ENCRYPT) {
        if (phase == PHASE_UPDATE)
            return inlen;
        return inlen > SIZE_MAX - c->size ? SIZE_MAX : inlen + c->size;
    }
    if (phase == PHASE_UPDATE)
        return 0;
    size_t total = c->held_len + inlen;
    return total > c->size ? total - c->size : 0;
}

static CK_RV gcm_update(struct cop *c, const uint8_t *in, size_t inlen, uint8_t *out,
                        size_t *outlen)
{
    CK_RV rv = CKR_OK;
    *outlen = 0;
    size_t got = 0;
    if (c->op == OP_DECRYPT)
        return hold(c, in, inlen, GCM_MAX_HELD, CKR_ENCRYPTED_DATA_LEN_RANGE);
    if (!c->ci->update(c->cctx, out, &got, inlen, in, inlen) || got != inlen)
        FAIL(CKR_FUNCTION_FAILED, "AES-GCM encryption failed");
    *outlen = inlen;
out:
    return rv;
}

static CK_RV gcm_encrypt_final(struct cop *c, const uint8_t *in, size_t inlen, uint8_t *out,
                               size_t *outlen)
{
    CK_RV rv = CKR_OK;
    uint8_t rest[16];
    size_t got = 0, last = 0;
    OSSL_PARAM q[] = {
        OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, out + inlen, c->size),
        OSSL_PARAM_END};
    if (!c->ci->update(c->cctx, out, &got, inlen, in, inlen) || got != inlen ||
        !c->ci->final(c->cctx, rest, &last, sizeof(rest)) || last != 0 ||
        !c->ci->get_ctx_params(c->cctx, q))
        FAIL(CKR_FUNCTION_FAILED, "AES-GCM encryption failed");
    *outlen = inlen + c->size;
    c->park = true;
out:
    return rv;
}

static CK_RV gcm_decrypt_final(struct cop *c, const uint8_t *in, size_t inlen, uint8_t *out,
                               size_t *outlen)
{
    CK_RV rv = CKR_OK;
    uint8_t tag[16], rest[16];
    uint8_t *pt = NULL;
    size_t n = 0, got = 0;
    if ((rv = hold(c, in, inlen, GCM_MAX_HELD, CKR_ENCRYPTED_DATA_LEN_RANGE)) != CKR_OK)
        goto out;
    if (c->held_len < c->size)
        FAIL(CKR_ENCRYPTED_DATA_LEN_RANGE, "GCM input shorter than its tag");
    n = c->held_len - c->size;
    memcpy(tag, c->held + n, c->size);
    OSSL_PARAM q[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, c->size),
                      OSSL_PARAM_END};
    /* Into a private buffer first: the caller sees plaintext only once the tag checked out. */
    if (!(pt = OPENSSL_malloc(n ? n : 1)))
        FAIL(CKR_HOST_MEMORY, "out of memory for plaintext");
    if (!c->ci->update(c->cctx, pt, &got, n, c->held, n) || got != n ||
        !c->ci->set_ctx_params(c->cctx, q))
        FAIL(CKR_FUNCTION_FAILED, "AES-GCM decryption failed");
    if (!c->ci->final(c->cctx, rest, &got, sizeof(rest)))
        FAIL(CKR_ENCRYPTED_DATA_INVALID, "GCM tag does not verify");
    if (n)
        memcpy(out, pt, n);
    *outlen = n;
    c->park = true;
out:
    OPENSSL_clear_free(pt, n ? n : 1);
    return rv;
}

static CK_RV gcm_final(struct cop *c, const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen)
{
    *outlen = 0;
    return c->op == OP_ENCRYPT ? gcm_encrypt_final(c, in, inlen, out, outlen)
                               : gcm_decrypt_final(c, in, inlen, out, outlen);
}

static const struct family fam_gcm = {gcm_init, gcm_outlen, gcm_update, gcm_final};

/* HMAC on SHA-1 and SHA-2: streams; verify compares in constant time. The _GENERAL variants
 * truncate the MAC to the length their CK_MAC_GENERAL_PARAMS asks for. */

static const struct hmac_kind {
    CK_MECHANISM_TYPE mech, digest;
    bool general;
} hmac_kinds[] = {
    {CKM_SHA_1_HMAC, CKM_SHA_1, false},   {CKM_SHA_1_HMAC_GENERAL, CKM_SHA_1, true},
    {CKM_SHA224_HMAC, CKM_SHA224, false}, {CKM_SHA224_HMAC_GENERAL, CKM_SHA224, true},
    {CKM_SHA256_HMAC, CKM_SHA256, false}, {CKM_SHA256_HMAC_GENERAL, CKM_SHA256, true},
    {CKM_SHA384_HMAC, CKM_SHA384, false}, {CKM_SHA384_HMAC_GENERAL, CKM_SHA384, true},
    {CKM_SHA512_HMAC, CKM_SHA512, false}, {CKM_SHA512_HMAC_GENERAL, CKM_SHA512, true},
};

/* The MAC length a CK_MAC_GENERAL_PARAMS asks for: 1..max bytes. */
static CK_RV mac_general_len(const CK_MECHANISM *m, size_t max, size_t *len)
{
    CK_MAC_GENERAL_PARAMS v = 0;
    if (!m->pParameter || m->ulParameterLen != sizeof(v))
        return err_set(ORIGIN, CKR_MECHANISM_PARAM_INVALID,
                       "a _GENERAL MAC needs a CK_MAC_GENERAL_PARAMS");
    memcpy(&v, m->pParameter, sizeof(v));
    if (v < 1 || v > max)
        return err_set(ORIGIN, CKR_MECHANISM_PARAM_INVALID, "MAC length %lu outside 1..%zu",
                       (unsigned long)v, max);
    *len = v;
    return CKR_OK;
}

static CK_RV hmac_init(struct cop *c, const CK_MECHANISM *m)
{
    CK_RV rv = CKR_OK;
    struct hmac *st = __atomic_load_n(&c->k->mac_start, __ATOMIC_ACQUIRE), *mine = NULL;
    const struct hmac_kind *hk = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(hmac_kinds); i++)
        if (hmac_kinds[i].mech == c->im->type)
            hk = &hmac_kinds[i];
    const struct md_impl *md = hk ? md_of(hk->digest) : NULL;
    if (!md)
        FAIL(CKR_MECHANISM_INVALID, "no HMAC for mechanism 0x%lx", (unsigned long)c->im->type);
    c->size = md->size;
    if (hk->general && (rv = mac_general_len(m, md->size, &c->size)) != CKR_OK)
        goto out;
    /* From the key's HMAC states after the padded key blocks when it has them (a copy of two
     * digest states instead of two compressions and the key padding); else from the key, and
     * those states are kept with the key for the next operation (the first to publish wins). */
    if (st && st->md == md) {
        if (!hmac_dup(&c->mac, st))
            FAIL(CKR_FUNCTION_FAILED, "cannot start HMAC");
        goto out;
    }
    if (!hmac_start(&c->mac, md, c->k->secret, c->k->secret_len))
        FAIL(CKR_FUNCTION_FAILED, "cannot start HMAC");
    if (!st && (mine = OPENSSL_zalloc(sizeof(*mine))) && hmac_dup(mine, &c->mac) &&
        __atomic_compare_exchange_n(&c->k->mac_start, &st, mine, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        mine = NULL;
    if (mine) {
        hmac_clear(mine);
        OPENSSL_free(mine);
    }
out:
    return rv;
}

static CK_RV hmac_update(struct cop *c, const uint8_t *in, size_t inlen, uint8_t *out,
                         size_t *outlen)
{
    *outlen = 0;
    if (!md_add(c->mac.md, c->mac.inner, in, inlen))
        return err_set(ORIGIN, CKR_FUNCTION_FAILED, "HMAC failed");
    return CKR_OK;
}

static CK_RV hmac_final(struct cop *c, const uint8_t *in, size_t inlen, uint8_t *out,
                        size_t *outlen)
{
    CK_RV rv = CKR_OK;
    uint8_t mac[MD_MAX];
    *outlen = 0;
    if (c->op == OP_VERIFY && inlen != c->size)
        FAIL(CKR_SIGNATURE_LEN_RANGE, "HMAC of %zu bytes, expected %zu", inlen, c->size);
    if (c->op == OP_SIGN && (rv = hmac_update(c, in, inlen, out, outlen)) != CKR_OK)
        goto out;
    if (!hmac_finish(&c->mac, mac))
        FAIL(CKR_FUNCTION_FAILED, "HMAC failed");
    if (c->op == OP_VERIFY) {
        if (CRYPTO_memcmp(mac, in, c->size) != 0)
            FAIL(CKR_SIGNATURE_INVALID, "HMAC does not verify");
    } else {
        memcpy(out, mac, c->size);
        *outlen = c->size;
    }
out:
    sea_wipe(mac, sizeof(mac));
    return rv;
}

static const struct family fam_hmac = {hmac_init, tail_outlen, hmac_update, hmac_final};

/* ---- AES block modes (ECB, CBC, CBC_PAD), CTR, key wrap, CMAC ----
 * The provider's ciphers do the work; libsea checks parameters and lengths first so that the
 * output sizes it promises (cop_outlen) are exact and a bad length fails before any output. */

#define AES_BLOCK   16
#define KW_MAX_HELD (1ul << 20) /* what a key wrap holds until its single call ends */
#define CMAC_CHUNK  1024        /* CBC-MAC input per provider call */

/* Start the provider's AES in the table matching the key size. */
static CK_RV aes_start(struct cop *c, const struct cipher_impl *table, bool enc, const uint8_t *iv,
                       size_t ivlen, const OSSL_PARAM *params)
{
    c->ci = &table[aes_index(c->k->secret_len)];
    if (!(c->cctx = c->ci->newctx(g.provctx)) ||
        !(enc ? c->ci->encrypt_init : c->ci->decrypt_init)(c->cctx, c->k->secret, c->k->secret_len,
                                                           iv, ivlen, params))
        return err_set(ORIGIN, CKR_FUNCTION_FAILED, "cannot start AES");
    return CKR_OK;
}

/* Whole blocks through the provider (n a multiple of 16, out room for n). */
static bool aes_run(struct cop *c, const uint8_t *in, size_t n, uint8_t *out)
{
    size_t got = 0;
    return n == 0 || (c->ci->update(c->cctx, out, &got, n, in, n) && got == n);
}

/* ECB, CBC, CBC_PAD. The provider buffers partial blocks (and, decrypting with padding, the
 * last whole block, whose padding is known only at the end); `buffered` mirrors what it holds
 * so that every phase's output size is known in advance. */

static CK_RV block_init(struct cop *c, const CK_MECHANISM *m)
{
    unsigned int pad = c->im->type == CKM_AES_CBC_PAD;
    OSSL_PARAM p[] = {OSSL_PARAM_construct_uint(OSSL_CIPHER_PARAM_PADDING, &pad), OSSL_PARAM_END};
    bool ecb = c->im->type == CKM_AES_ECB;
    c->pad = pad;
    if (!ecb && (!m->pParameter || m->ulParameterLen != AES_BLOCK))
        return err_set(ORIGIN, CKR_MECHANISM_PARAM_INVALID, "AES-CBC needs a 16-byte IV");
    return aes_start(c, ecb ? g.ecb : g.cbc, c->op == OP_ENCRYPT, ecb ? NULL : m->pParameter,
                     ecb ? 0 : AES_BLOCK, p);
}

static size_t block_outlen(const struct cop *c, int phase, size_t inlen)
{
    if (inlen > SIZE_MAX - 2 * AES_BLOCK)
        return SIZE_MAX;
    size_t total = c->buffered + inlen;
    bool keep_last = c->pad && c->op == OP_DECRYPT;
    if (phase == PHASE_UPDATE)
        return keep_last ? (total ? (total - 1) / AES_BLOCK * AES_BLOCK : 0)
                         : total / AES_BLOCK * AES_BLOCK;
    if (c->pad && c->op == OP_ENCRYPT)
        return total / AES_BLOCK * AES_BLOCK + AES_BLOCK;
    return total; /* exact, or at most 16 more than the unpadded plaintext */
}

static CK_RV block_update(struct cop *c, const uint8_t *in, size_t inlen, uint8_t *out,
                          size_t *outlen)
{
    size_t emit = block_outlen(c, PHASE_UPDATE, inlen), got = 0;
    *outlen = 0;
    if (inlen > SIZE_MAX - 2 * AES_BLOCK)
        return err_set(ORIGIN,
                       c->op == OP_ENCRYPT ? CKR_DATA_LEN_RANGE : CKR_ENCRYPTED_DATA_LEN_RANGE,
                       "input too long");
    if (inlen && (!c->ci->update(c->cctx, out, &got, emit, in, inlen) || got != emit))
        return err_set(ORIGIN, CKR_FUNCTION_FAILED, "AES failed");
    c->buffered = c->buffered + inlen - emit;
    *outlen = emit;
    return CKR_OK;
}

static CK_RV block_final(struct cop *c, const uint8_t *in, size_t inlen, uint8_t *out,
                         size_t *outlen)
{
    CK_RV rv = CKR_OK;
    bool enc = c->op == OP_ENCRYPT;
    size_t total = c->buffered + inlen, need = block_outlen(c, PHASE_FINAL, inlen), got = 0,
           last = 0;
    *outlen = 0;
    /* Lengths first: nothing is written for input that cannot be right. */
    if (inlen > SIZE_MAX - 2 * AES_BLOCK)
        FAIL(enc ? CKR_DATA_LEN_RANGE : CKR_ENCRYPTED_DATA_LEN_RANGE, "input too long");
    if (!(enc && c->pad) && (total % AES_BLOCK || (c->pad && total == 0)))
        FAIL(enc ? CKR_DATA_LEN_RANGE : CKR_ENCRYPTED_DATA_LEN_RANGE,
             "%zu bytes are not a whole number of AES blocks", total);
    if ((rv = block_update(c, in, inlen, out, &got)) != CKR_OK)
        goto out;
    if (c->pad && !c->ci->final(c->cctx, out + got, &last, need - got)) {
        sea_wipe(out, got); /* no plaintext from a message whose padding is wrong */
        got = 0;
        FAIL(enc ? CKR_FUNCTION_FAILED : CKR_ENCRYPTED_DATA_INVALID,
             enc ? "AES-CBC padding failed" : "the CBC padding is not valid");
    }
    *outlen = got + last;
out:
    return rv;
}

static const struct family fam_block = {block_init, block_outlen, block_update, block_final};

/* CTR (CK_AES_CTR_PARAMS): the low ulCounterBits of cb count blocks; a message that would
 * take the counter past its last value is refused rather than wrapped. */

/* Bytes that can be encrypted before the counter in the low `bits` bits of cb wraps:
 * 16 * (2^bits - counter), saturating. */
static uint64_t ctr_room(const uint8_t cb[16], unsigned bits)
{
    uint8_t inv[16];
    uint64_t high = 0, low = 0;
    for (unsigned i = 0; i < 16; i++) {
        unsigned lsb = (15 - i) * 8; /* the position of this byte's lowest bit */
        inv[i] = (uint8_t)~cb[i];
        if (lsb >= bits)
            inv[i] = 0;
        else if (bits - lsb < 8)
            inv[i] &= (uint8_t)((1u << (bits - lsb)) - 1);
    }
    for (unsigned i = 0; i < 8; i++) {
        high |= inv[i];
        low = low << 8 | inv[8 + i];
    }
    /* blocks left = ~counter + 1 */
    if (high || low >= (UINT64_MAX >> 4))
        return UINT64_MAX;
    return (low + 1) * AES_BLOCK;
}

static CK_RV ctr_init(struct cop *c, const CK_MECHANISM *m)
{
    const CK_AES_CTR_PARAMS *cp = m->pParameter;
    if (!cp || m->ulParameterLen != sizeof(*cp))
        return err_set(ORIGIN, CKR_MECHANISM_PARAM_INVALID, "CKM_AES_CTR needs CK_AES_CTR_PARAMS");
    if (cp->ulCounterBits < 1 || cp->ulCounterBits > 128)
        return err_set(ORIGIN, CKR_MECHANISM_PARAM_INVALID, "counter of %lu bits (1..128)",
                       (unsigned long)cp->ulCounterBits);
    c->ctr_left = ctr_room(cp->cb, (unsigned)cp->ulCounterBits);
    /* CTR is its own inverse: the provider encrypts either way. */
    return aes_start(c, g.ctr, true, cp->cb, AES_BLOCK, NULL);
}

static size_t ctr_outlen(const struct cop *c, int phase, size_t inlen)
{
    return inlen;
}

static CK_RV ctr_update(struct cop *c, const uint8_t *in, size_t inlen, uint8_t *out,
                        size_t *outlen)
{
    size_t got = 0;
    *outlen = 0;
    if ((uint64_t)inlen > c->ctr_left)
        return err_set(ORIGIN,
                       c->op == OP_ENCRYPT ? CKR_DATA_LEN_RANGE : CKR_ENCRYPTED_DATA_LEN_RANGE,
                       "the message would wrap the %s counter", "CTR");
    if (inlen && (!c->ci->update(c->cctx, out, &got, inlen, in, inlen) || got != inlen))
        return err_set(ORIGIN, CKR_FUNCTION_FAILED, "AES-CTR failed");
    c->ctr_left -= inlen;
    *outlen = inlen;
    return CKR_OK;
}

static const struct family fam_ctr = {ctr_init, ctr_outlen, ctr_update, ctr_update};

/* Key wrap, RFC 3394 (CKM_AES_KEY_WRAP, optional 8-byte IV) and RFC 5649 (CKM_AES_KEY_WRAP_KWP
 * and CKM_AES_KEY_WRAP_PAD, optional 4-byte alternative IV): single-part, the input is held
 * until the call ends. */

static CK_RV kw_init(struct cop *c, const CK_MECHANISM *m)
{
    bool padded = c->im->type != CKM_AES_KEY_WRAP;
    size_t ivlen = padded ? 4 : 8;
    c->pad = padded;
    if (m->pParameter && m->ulParameterLen != ivlen)
        return err_set(ORIGIN, CKR_MECHANISM_PARAM_INVALID,
                       "the key wrap IV has %zu bytes, or none for the default", ivlen);
    return aes_start(c, padded ? g.kwp : g.kw, c->op == OP_ENCRYPT,
                     m->pParameter ? m->pParameter : NULL, m->pParameter ? ivlen : 0, NULL);
}

static size_t kw_outlen(const struct cop *c, int phase, size_t inlen)
{
    if (phase == PHASE_UPDATE)
        return 0;
    if (inlen > KW_MAX_HELD)
        return SIZE_MAX;
    size_t total = c->held_len + inlen;
    if (c->op == OP_DECRYPT)
        return total > 8 ? total - 8 : 0; /* exact for KW, at most 7 more for KWP */
    return (c->pad ? (total + 7) / 8 * 8 : total) + 8;
}

static CK_RV kw_update(struct cop *c, const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen)
{
    *outlen = 0;
    return hold(c, in, inlen, KW_MAX_HELD,
                c->op == OP_ENCRYPT ? CKR_DATA_LEN_RANGE : CKR_ENCRYPTED_DATA_LEN_RANGE);
}

static CK_RV kw_final(struct cop *c, const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen)
{
    CK_RV rv = CKR_OK;
    uint8_t *pt = NULL;
    size_t n = 0, got = 0, need;
    *outlen = 0;
    if ((rv = kw_update(c, in, inlen, out, outlen)) != CKR_OK)
        goto out;
    n = c->held_len;
    need = kw_outlen(c, PHASE_FINAL, 0);
    if (c->op == OP_ENCRYPT) {
        /* RFC 3394: two or more 64-bit blocks; RFC 5649: at least a byte (KW_MAX_HELD keeps
         * it far below its 2^32 limit) */
        if (c->pad ? n == 0 : n < 16 || n % 8)
            FAIL(CKR_DATA_LEN_RANGE, "%zu bytes cannot be wrapped by %s", n,
                 c->pad ? "RFC 5649" : "RFC 3394 (a multiple of 8, at least 16)");
        if (!c->ci->update(c->cctx, out, &got, need, c->held, n) || got != need)
            FAIL(CKR_FUNCTION_FAILED, "AES key wrap failed");
        *outlen = got;
        goto out;
    }
    if (n % 8 || n < (c->pad ? 16u : 24u))
        FAIL(CKR_ENCRYPTED_DATA_LEN_RANGE, "%zu bytes are not a wrapped key", n);
    /* The provider wants room for the whole input; the plaintext stays here until it checks. */
    if (!(pt = OPENSSL_malloc(n)))
        FAIL(CKR_HOST_MEMORY, "out of memory for an unwrapped key");
    if (!c->ci->update(c->cctx, pt, &got, n, c->held, n) || got > need)
        FAIL(CKR_ENCRYPTED_DATA_INVALID, "the wrapped key does not verify");
    if (got)
        memcpy(out, pt, got);
    *outlen = got;
out:
    OPENSSL_clear_free(pt, pt ? n : 0);
    return rv;
}

static const struct family fam_kw = {kw_init, kw_outlen, kw_update, kw_final};

/* CMAC (SP 800-38B) on AES-CBC with a zero IV, whose last output block is the CBC-MAC so far;
 * built here like HMAC, from the cipher itself. The block that may be the message's last is
 * kept back until the end, when it is masked with K1 (whole) or padded and masked with K2. */

static void cmac_double(const uint8_t in[16], uint8_t out[16])
{
    uint8_t carry = in[0] >> 7;
    for (unsigned i = 0; i < 15; i++)
        out[i] = (uint8_t)(in[i] << 1 | in[i + 1] >> 7);
    out[15] = (uint8_t)(in[15] << 1) ^ (uint8_t)(0x87 & -carry);
}

static CK_RV cmac_init(struct cop *c, const CK_MECHANISM *m)
{
    CK_RV rv = CKR_OK;
    static const uint8_t zero[AES_BLOCK];
    uint8_t l[AES_BLOCK];
    unsigned int pad = 0;
    OSSL_PARAM p[] = {OSSL_PARAM_construct_uint(OSSL_CIPHER_PARAM_PADDING, &pad), OSSL_PARAM_END};
    c->size = AES_BLOCK;
    if (c->im->type == CKM_AES_CMAC_GENERAL &&
        (rv = mac_general_len(m, AES_BLOCK, &c->size)) != CKR_OK)
        goto out;
    if ((rv = aes_start(c, g.cbc, true, zero, AES_BLOCK, p)) != CKR_OK)
        goto out;
    /* L = AES(K, 0), then the chain starts again from a zero IV */
    if (!aes_run(c, zero, AES_BLOCK, l) ||
        !c->ci->encrypt_init(c->cctx, NULL, 0, zero, AES_BLOCK, p))
        FAIL(CKR_FUNCTION_FAILED, "cannot start AES-CMAC");
    cmac_double(l, c->sub[0]);
    cmac_double(c->sub[0], c->sub[1]);
out:
    OPENSSL_cleanse(l, sizeof(l));
    return rv;
}

/* Chain the input in, always keeping 1..16 bytes back in last[]. */
static CK_RV cmac_absorb(struct cop *c, const uint8_t *in, size_t inlen)
{
    CK_RV rv = CKR_OK;
    uint8_t scratch[CMAC_CHUNK];
    while (inlen > 0) {
        if (c->buffered == AES_BLOCK) { /* more follows: that block was not the last */
            if (!aes_run(c, c->last, AES_BLOCK, scratch))
                FAIL(CKR_FUNCTION_FAILED, "AES-CMAC failed");
            c->buffered = 0;
        }
        if (c->buffered > 0 || inlen <= AES_BLOCK) {
            size_t take = AES_BLOCK - c->buffered < inlen ? AES_BLOCK - c->buffered : inlen;
            memcpy(c->last + c->buffered, in, take);
            c->buffered += take;
            in += take;
            inlen -= take;
            continue;
        }
        size_t bulk = (inlen - 1) / AES_BLOCK * AES_BLOCK;
        if (bulk > sizeof(scratch))
            bulk = sizeof(scratch);
        if (!aes_run(c, in, bulk, scratch))
            FAIL(CKR_FUNCTION_FAILED, "AES-CMAC failed");
        in += bulk;
        inlen -= bulk;
    }
out:
    OPENSSL_cleanse(scratch, sizeof(scratch));
    return rv;
}

static CK_RV cmac_update(struct cop *c, const uint8_t *in, size_t inlen, uint8_t *out,
                         size_t *outlen)
{
    *outlen = 0;
    return cmac_absorb(c, in, inlen);
}

static CK_RV cmac_final(struct cop *c, const uint8_t *in, size_t inlen, uint8_t *out,
                        size_t *outlen)
{
    CK_RV rv = CKR_OK;
    uint8_t blk[AES_BLOCK] = {0}, mac[AES_BLOCK];
    *outlen = 0;
    if (c->op == OP_VERIFY && inlen != c->size)
        FAIL(CKR_SIGNATURE_LEN_RANGE, "CMAC of %zu bytes, expected %zu", inlen, c->size);
    if (c->op == OP_SIGN && (rv = cmac_absorb(c, in, inlen)) != CKR_OK)
        goto out;
    const uint8_t *k = c->sub[c->buffered == AES_BLOCK ? 0 : 1];
    memcpy(blk, c->last, c->buffered);
    if (c->buffered < AES_BLOCK)
        blk[c->buffered] = 0x80;
    for (unsigned i = 0; i < AES_BLOCK; i++)
        blk[i] ^= k[i];
    if (!aes_run(c, blk, AES_BLOCK, mac))
        FAIL(CKR_FUNCTION_FAILED, "AES-CMAC failed");
    if (c->op == OP_VERIFY) {
        if (CRYPTO_memcmp(mac, in, c->size) != 0)
            FAIL(CKR_SIGNATURE_INVALID, "CMAC does not verify");
    } else {
        memcpy(out, mac, c->size);
        *outlen = c->size;
    }
out:
    OPENSSL_cleanse(blk, sizeof(blk));
    OPENSSL_cleanse(mac, sizeof(mac));
    return rv;
}

static const struct family fam_cmac = {cmac_init, tail_outlen, cmac_update, cmac_final};

/* Digests. */

static CK_RV digest_init(struct cop *c, const CK_MECHANISM *m)
{
    CK_RV rv = CKR_OK;
    c->md = md_of(c->im->type);
    c->size = c->md ? c->md->size : 0;
    if (!c->md || !(c->dctx = md_start(c->md)))
        FAIL(CKR_FUNCTION_FAILED, "cannot start the digest");
out:
    return rv;
}

static CK_RV digest_update(struct cop *c, const uint8_t *in, size_t inlen, uint8_t *out,
                           size_t *outlen)
{
    *outlen = 0;
    if (!md_add(c->md, c->dctx, in, inlen))
        return err_set(ORIGIN, CKR_FUNCTION_FAILED, "digest failed");
    return CKR_OK;
}

static CK_RV digest_final(struct cop *c, const uint8_t *in, size_t inlen, uint8_t *out,
                          size_t *outlen)
{
    CK_RV rv = digest_update(c, in, inlen, out, outlen);
    if (rv != CKR_OK)
        return rv;
    if (!md_finish(c->md, c->dctx, out))
        return err_set(ORIGIN, CKR_FUNCTION_FAILED, "digest failed");
    *outlen = c->size;
    return CKR_OK;
}

static const struct family fam_digest = {digest_init, tail_outlen, digest_update, digest_final};

/* RSA (RFC 8017). The caller's input is held until the final call (single-part
 * mechanisms); the provider pads: PKCS#1 v1.5 over a caller-made DigestInfo, PSS over a
 * digest, PKCS#1 v1.5 and OAEP encryption. */

#define RSA_PARAM_MAX 5

/* The digest named by a CKG_MGF1_* value, or NULL. */
static const struct digest *mgf1_digest(CK_RSA_PKCS_MGF_TYPE mgf)
{
    switch (mgf) {
    case CKG_MGF1_SHA1:
        return digest_find(CKM_SHA_1);
    case CKG_MGF1_SHA224:
        return digest_find(CKM_SHA224);
    case CKG_MGF1_SHA256:
        return digest_find(CKM_SHA256);
    case CKG_MGF1_SHA384:
        return digest_find(CKM_SHA384);
    case CKG_MGF1_SHA512:
        return digest_find(CKM_SHA512);
    default:
        return NULL;
    }
}

/* The padding settings for the provider from the mechanism and its parameters. */
static CK_RV rsa_settings(struct cop *c, const CK_MECHANISM *m, OSSL_PARAM q[RSA_PARAM_MAX],
                          bool cipher)
{
    CK_RV rv = CKR_OK;
    size_t k = c->size, n = 0;
    const char *pad_key = cipher ? OSSL_ASYM_CIPHER_PARAM_PAD_MODE : OSSL_SIGNATURE_PARAM_PAD_MODE;
    switch (m->mechanism) {
    case CKM_RSA_PKCS:
        q[n++] =
            OSSL_PARAM_construct_utf8_string(pad_key, (char *)OSSL_PKEY_RSA_PAD_MODE_PKCSV15, 0);
        c->max_in = k - 11; /* RFC 8017 7.2.1 and 8.2.1: k - 11 */
        break;
    case CKM_RSA_X_509: /* raw RSA: the input, left-padded to k bytes, must be below n */
        q[n++] = OSSL_PARAM_construct_utf8_string(pad_key, (char *)OSSL_PKEY_RSA_PAD_MODE_NONE, 0);
        c->max_in = k;
        break;
    case CKM_RSA_PKCS_PSS: {
        const CK_RSA_PKCS_PSS_PARAMS *pp = m->pParameter;
        const struct digest *h, *mgf;
        if (!pp || m->ulParameterLen != sizeof(*pp))
            FAIL(CKR_MECHANISM_PARAM_INVALID, "CKM_RSA_PKCS_PSS needs a CK_RSA_PKCS_PSS_PARAMS");
        if (!(h = digest_find(pp->hashAlg)) || !(mgf = mgf1_digest(pp->mgf)))
            FAIL(CKR_MECHANISM_PARAM_INVALID, "PSS hash or MGF not supported");
        /* RFC 8017 9.1.1: emLen = ceil((modBits - 1) / 8) >= hLen + sLen + 2 */
        size_t em = (c->k->bits - 1 + 7) / 8;
        if (pp->sLen > INT_MAX || em < h->len + 2 || pp->sLen > em - h->len - 2)
            FAIL(CKR_MECHANISM_PARAM_INVALID, "PSS salt of %lu bytes too long for the key",
                 (unsigned long)pp->sLen);
        q[n++] = OSSL_PARAM_construct_utf8_string(pad_key, (char *)OSSL_PKEY_RSA_PAD_MODE_PSS, 0);
        q[n++] = OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, (char *)h->name, 0);
        q[n++] = OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST,
                                                  (char *)mgf->name, 0);
        c->salt = (int)pp->sLen;
        q[n++] = OSSL_PARAM_construct_int(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, &c->salt);
        c->max_in = h->len; /* the input is the hash, exactly */
        break;
    }
    case CKM_RSA_PKCS_OAEP: {
        const CK_RSA_PKCS_OAEP_PARAMS *op = m->pParameter;
        const struct digest *h, *mgf;
        if (!op || m->ulParameterLen != sizeof(*op))
            FAIL(CKR_MECHANISM_PARAM_INVALID, "CKM_RSA_PKCS_OAEP needs a CK_RSA_PKCS_OAEP_PARAMS");
        if (!(h = digest_find(op->hashAlg)) || !(mgf = mgf1_digest(op->mgf)))
            FAIL(CKR_MECHANISM_PARAM_INVALID, "OAEP hash or MGF not supported");
        /* CKZ_DATA_SPECIFIED is the only source; some callers leave it 0 without a label */
        if (!(op->source == CKZ_DATA_SPECIFIED || (op->source == 0 && op->ulSourceDataLen == 0)) ||
            (!op->pSourceData && op->ulSourceDataLen))
            FAIL(CKR_MECHANISM_PARAM_INVALID, "OAEP label source not supported");
        if (k < 2 * h->len + 2)
            FAIL(CKR_KEY_SIZE_RANGE, "the key is too short for OAEP with this hash");
        q[n++] = OSSL_PARAM_construct_utf8_string(pad_key, (char *)OSSL_PKEY_RSA_PAD_MODE_OAEP, 0);
        q[n++] = OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST,
                                                  (char *)h->name, 0);
        q[n++] = OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST,
                                                  (char *)mgf->name, 0);
        if (op->ulSourceDataLen)
            q[n++] = OSSL_PARAM_construct_octet_string(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL,
                                                       op->pSourceData, op->ulSourceDataLen);
        c->max_in = k - 2 * h->len - 2; /* RFC 8017 7.1.1 */
        break;
    }
    default:
        FAIL(CKR_MECHANISM_INVALID, "not an RSA mechanism");
    }
    q[n] = OSSL_PARAM_construct_end();
out:
    return rv;
}

static CK_RV rsa_sig_init(struct cop *c, const CK_MECHANISM *m)
{
    CK_RV rv = CKR_OK;
    OSSL_PARAM q[RSA_PARAM_MAX];
    c->size = (c->k->bits + 7) / 8;
    c->sig = &g.sig[SIG_RSA];
    if ((rv = rsa_settings(c, m, q, false)) != CKR_OK)
        goto out;
    if (!(c->sctx = c->sig->newctx(g.provctx, NULL)) ||
        !(c->op == OP_SIGN ? c->sig->sign_init : c->sig->verify_init)(c->sctx, c->k->keydata, q))
        FAIL(CKR_FUNCTION_FAILED, "cannot start the RSA signature");
out:
    return rv;
}

static CK_RV rsa_update(struct cop *c, const uint8_t *in, size_t inlen, uint8_t *out,
                        size_t *outlen)
{
    *outlen = 0;
    return hold(c, in, inlen, c->size,
                c->op == OP_DECRYPT ? CKR_ENCRYPTED_DATA_LEN_RANGE : CKR_DATA_LEN_RANGE);
}

/* CKM_RSA_X_509 works on exactly k bytes: the held input gets leading zeros (PKCS#11 3.0
 * 2.1.8). The others take the input as it is. */
static CK_RV rsa_input(struct cop *c, const uint8_t **data, size_t *len)
{
    static const uint8_t empty[1];
    *data = c->held_len ? c->held : empty;
    *len = c->held_len;
    if (c->im->type != CKM_RSA_X_509 || c->held_len == c->size)
        return CKR_OK;
    uint8_t *p = OPENSSL_zalloc(c->size);
    if (!p)
        return err_set(ORIGIN, CKR_HOST_MEMORY, "out of memory for RSA input");
    if (c->held_len)
        memcpy(p + c->size - c->held_len, c->held, c->held_len);
    OPENSSL_clear_free(c->held, c->held_cap);
    c->held = p;
    c->held_len = c->held_cap = c->size;
    *data = p;
    *len = c->size;
    return CKR_OK;
}

static CK_RV rsa_sig_final(struct cop *c, const uint8_t *in, size_t inlen, uint8_t *out,
                           size_t *outlen)
{
    CK_RV rv = CKR_OK;
    const uint8_t *data;
    size_t got = 0, len;
    *outlen = 0;
    if (c->op == OP_SIGN && (rv = rsa_update(c, in, inlen, out, &got)) != CKR_OK)
        goto out;
    bool pss = c->im->type == CKM_RSA_PKCS_PSS, raw = c->im->type == CKM_RSA_X_509;
    if (pss ? c->held_len != c->max_in : c->held_len > c->max_in)
        FAIL(CKR_DATA_LEN_RANGE, "%zu bytes of input, %s %zu", c->held_len,
             pss ? "the hash has" : "at most", c->max_in);
    if ((rv = rsa_input(c, &data, &len)) != CKR_OK)
        goto out;
    if (c->op == OP_SIGN) {
        /* raw RSA fails only for an input not below the modulus */
        if (!c->sig->sign(c->sctx, out, &got, c->size, data, len) || got != c->size)
            FAIL(raw ? CKR_DATA_INVALID : CKR_FUNCTION_FAILED, "RSA signing failed");
        *outlen = got;
    } else {
        if (inlen != c->size)
            FAIL(CKR_SIGNATURE_LEN_RANGE, "RSA signature of %zu bytes, expected %zu", inlen,
                 c->size);
        if (c->sig->verify(c->sctx, in, inlen, data, len) != 1)
            FAIL(CKR_SIGNATURE_INVALID, "RSA signature does not verify");
    }
out:
    return rv;
}

static const struct family fam_rsa_sig = {rsa_sig_init, tail_outlen, rsa_update, rsa_sig_final};

static CK_RV rsa_enc_init(struct cop *c, const CK_MECHANISM *m)
{
    CK_RV rv = CKR_OK;
    OSSL_PARAM q[RSA_PARAM_MAX];
    c->size = (c->k->bits + 7) / 8;
    c->ac = &g.rsa_cipher;
    if ((rv = rsa_settings(c, m, q, true)) != CKR_OK)
        goto out;
    if (!(c->actx = c->ac->newctx(g.provctx)) ||
        !(c->op == OP_ENCRYPT ? c->ac->encrypt_init : c->ac->decrypt_init)(c->actx, c->k->keydata,
                                                                           q))
        FAIL(CKR_FUNCTION_FAILED, "cannot start RSA %s",
             c->op == OP_ENCRYPT ? "encryption" : "decryption");
out:
    return rv;
}

static CK_RV rsa_enc_final(struct cop *c, const uint8_t *in, size_t inlen, uint8_t *out,
                           size_t *outlen)
{
    CK_RV rv = CKR_OK;
    static const uint8_t empty[1];
    uint8_t *pt = NULL;
    size_t got = 0, len;
    *outlen = 0;
    if ((rv = rsa_update(c, in, inlen, out, &got)) != CKR_OK)
        goto out;
    const uint8_t *data = c->held_len ? c->held : empty;
    if (c->op == OP_ENCRYPT) {
        bool raw = c->im->type == CKM_RSA_X_509;
        if (c->held_len > c->max_in)
            FAIL(CKR_DATA_LEN_RANGE, "%zu bytes to encrypt, at most %zu", c->held_len, c->max_in);
        if ((rv = rsa_input(c, &data, &len)) != CKR_OK)
            goto out;
        if (!c->ac->encrypt(c->actx, out, &got, c->size, data, len) || got != c->size)
            FAIL(raw ? CKR_DATA_INVALID : CKR_FUNCTION_FAILED, "RSA encryption failed");
        *outlen = got;
        goto out;
    }
    if (c->held_len != c->size)
        FAIL(CKR_ENCRYPTED_DATA_LEN_RANGE, "RSA ciphertext of %zu bytes, expected %zu", c->held_len,
             c->size);
    /* into the secure heap first: nothing reaches the caller unless the padding checks out */
    if (!(pt = OPENSSL_secure_malloc(c->size)))
        FAIL(CKR_HOST_MEMORY, "out of secure memory for plaintext");
    if (!c->ac->decrypt(c->actx, pt, &got, c->size, data, c->held_len) || got > c->max_in)
        FAIL(CKR_ENCRYPTED_DATA_INVALID, "RSA decryption failed");
    if (got)
        memcpy(out, pt, got);
    *outlen = got;
out:
    OPENSSL_secure_clear_free(pt, c->size);
    return rv;
}

static const struct family fam_rsa_enc = {rsa_enc_init, tail_outlen, rsa_update, rsa_enc_final};

/* EdDSA (Ed25519, RFC 8032 5.1): pure, over the whole message, no context. */

#define EDDSA_MAX_INPUT (64ul << 20)

static CK_RV eddsa_init(struct cop *c, const CK_MECHANISM *m)
{
    CK_RV rv = CKR_OK;
    const CK_EDDSA_PARAMS *ep = m->pParameter;
    if (m->ulParameterLen != 0) {
        if (!ep || m->ulParameterLen != sizeof(*ep))
            FAIL(CKR_MECHANISM_PARAM_INVALID, "CKM_EDDSA takes a CK_EDDSA_PARAMS or nothing");
        if (ep->phFlag || ep->ulContextDataLen)
            FAIL(CKR_MECHANISM_PARAM_INVALID, "Ed25519ph and Ed25519ctx are not supported");
    }
    c->sig = &g.sig[SIG_ED25519];
    c->size = ED_SIG;
    if (!(c->sctx = c->sig->newctx(g.provctx, NULL)) ||
        !(c->op == OP_SIGN ? c->sig->digest_sign_init
                           : c->sig->digest_verify_init)(c->sctx, NULL, c->k->keydata, NULL))
        FAIL(CKR_FUNCTION_FAILED, "cannot start EdDSA");
out:
    return rv;
}

static CK_RV eddsa_update(struct cop *c, const uint8_t *in, size_t inlen, uint8_t *out,
                          size_t *outlen)
{
    *outlen = 0;
    return hold(c, in, inlen, EDDSA_MAX_INPUT, CKR_DATA_LEN_RANGE);
}

static CK_RV eddsa_final(struct cop *c, const uint8_t *in, size_t inlen, uint8_t *out,
                         size_t *outlen)
{
    CK_RV rv = CKR_OK;
    static const uint8_t empty[1];
    size_t got = 0;
    *outlen = 0;
    if (c->op == OP_SIGN && (rv = eddsa_update(c, in, inlen, out, &got)) != CKR_OK)
        goto out;
    const uint8_t *data = c->held_len ? c->held : empty;
    if (c->op == OP_SIGN) {
        if (!c->sig->digest_sign(c->sctx, out, &got, ED_SIG, data, c->held_len) || got != ED_SIG)
            FAIL(CKR_FUNCTION_FAILED, "EdDSA signing failed");
        *outlen = got;
    } else {
        if (inlen != ED_SIG)
            FAIL(CKR_SIGNATURE_LEN_RANGE, "Ed25519 signature of %zu bytes, expected 64", inlen);
        if (c->sig->digest_verify(c->sctx, in, inlen, data, c->held_len) != 1)
            FAIL(CKR_SIGNATURE_INVALID, "EdDSA signature does not verify");
    }
out:
    return rv;
}

static const struct family fam_eddsa = {eddsa_init, tail_outlen, eddsa_update, eddsa_final};

#define SIGVER (OPB(OP_SIGN) | OPB(OP_VERIFY))
#define ENCDEC (OPB(OP_ENCRYPT) | OPB(OP_DECRYPT))

/* clang-format off */
static const struct impl impls[] = {
    {CKM_ECDSA,       SIGVER,         {CKK_EC},  1, true,  true,  &fam_ecdsa},
    {CKM_AES_GCM,     ENCDEC,         {CKK_AES}, 1, false, false, &fam_gcm},
    {CKM_SHA256_HMAC, SIGVER,         {CKK_GENERIC_SECRET, CKK_SHA256_HMAC}, 2, false, true,
     &fam_hmac},
    {CKM_AES_ECB,          ENCDEC, {CKK_AES}, 1, false, true,  &fam_block},
    {CKM_AES_CBC,          ENCDEC, {CKK_AES}, 1, false, false, &fam_block},
    {CKM_AES_CBC_PAD,      ENCDEC, {CKK_AES}, 1, false, false, &fam_block},
    {CKM_AES_CTR,          ENCDEC, {CKK_AES}, 1, false, false, &fam_ctr},
    {CKM_AES_KEY_WRAP,     ENCDEC, {CKK_AES}, 1, false, false, &fam_kw},
    {CKM_AES_KEY_WRAP_PAD, ENCDEC, {CKK_AES}, 1, false, false, &fam_kw},
    {CKM_AES_KEY_WRAP_KWP, ENCDEC, {CKK_AES}, 1, false, false, &fam_kw},
    {CKM_AES_CMAC,         SIGVER, {CKK_AES}, 1, false, true,  &fam_cmac},
    {CKM_AES_CMAC_GENERAL, SIGVER, {CKK_AES}, 1, false, false, &fam_cmac},
    {CKM_SHA_1_HMAC,          SIGVER, {CKK_GENERIC_SECRET, CKK_SHA_1_HMAC},  2, false, true,
     &fam_hmac},
    {CKM_SHA_1_HMAC_GENERAL,  SIGVER, {CKK_GENERIC_SECRET, CKK_SHA_1_HMAC},  2, false, false,
     &fam_hmac},
    {CKM_SHA224_HMAC,         SIGVER, {CKK_GENERIC_SECRET, CKK_SHA224_HMAC}, 2, false, true,
     &fam_hmac},
    {CKM_SHA224_HMAC_GENERAL, SIGVER, {CKK_GENERIC_SECRET, CKK_SHA224_HMAC}, 2, false, false,
     &fam_hmac},
    {CKM_SHA256_HMAC_GENERAL, SIGVER, {CKK_GENERIC_SECRET, CKK_SHA256_HMAC}, 2, false, false,
     &fam_hmac},
    {CKM_SHA384_HMAC,         SIGVER, {CKK_GENERIC_SECRET, CKK_SHA384_HMAC}, 2, false, true,
     &fam_hmac},
    {CKM_SHA384_HMAC_GENERAL, SIGVER, {CKK_GENERIC_SECRET, CKK_SHA384_HMAC}, 2, false, false,
     &fam_hmac},
    {CKM_SHA512_HMAC,         SIGVER, {CKK_GENERIC_SECRET, CKK_SHA512_HMAC}, 2, false, true,
     &fam_hmac},
    {CKM_SHA512_HMAC_GENERAL, SIGVER, {CKK_GENERIC_SECRET, CKK_SHA512_HMAC}, 2, false, false,
     &fam_hmac},
    {CKM_SHA_1,       OPB(OP_DIGEST), {0},       0, false, true,  &fam_digest},
    {CKM_SHA224,      OPB(OP_DIGEST), {0},       0, false, true,  &fam_digest},
    {CKM_SHA256,      OPB(OP_DIGEST), {0},       0, false, true,  &fam_digest},
    {CKM_SHA384,      OPB(OP_DIGEST), {0},       0, false, true,  &fam_digest},
    {CKM_SHA512,      OPB(OP_DIGEST), {0},       0, false, true,  &fam_digest},
    {CKM_RSA_PKCS,      SIGVER, {CKK_RSA}, 1, true, true,  &fam_rsa_sig},
    {CKM_RSA_PKCS_PSS,  SIGVER, {CKK_RSA}, 1, true, false, &fam_rsa_sig},
    {CKM_RSA_X_509,     SIGVER, {CKK_RSA}, 1, true, true,  &fam_rsa_sig},
    {CKM_EDDSA,         SIGVER, {CKK_EC_EDWARDS}, 1, true, false, &fam_eddsa},
};

/* CKM_RSA_PKCS encrypts as well as signs: a second row, found for OP_ENCRYPT/OP_DECRYPT. */
static const struct impl enc_impls[] = {
    {CKM_RSA_PKCS,      ENCDEC, {CKK_RSA}, 1, true, true,  &fam_rsa_enc},
    {CKM_RSA_PKCS_OAEP, ENCDEC, {CKK_RSA}, 1, true, false, &fam_rsa_enc},
    {CKM_RSA_X_509,     ENCDEC, {CKK_RSA}, 1, true, true,  &fam_rsa_enc},
};

#define EC_FLAGS (CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS)

const struct bmech crypto_mechs[] = {
    {CKM_EC_KEY_PAIR_GEN,        256, 521, CKF_GENERATE_KEY_PAIR | EC_FLAGS},
    {CKM_ECDSA,                  256, 521, CKF_SIGN | CKF_VERIFY | EC_FLAGS},
    {CKM_AES_KEY_GEN,            16,  32,  CKF_GENERATE},
    {CKM_AES_GCM,                16,  32,  CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP},
    {CKM_GENERIC_SECRET_KEY_GEN, 1,   512, CKF_GENERATE},
    {CKM_SHA256_HMAC,            16,  512, CKF_SIGN | CKF_VERIFY},
    {CKM_AES_ECB,                16,  32,  CKF_ENCRYPT | CKF_DECRYPT},
    {CKM_AES_CBC,                16,  32,  CKF_ENCRYPT | CKF_DECRYPT},
    {CKM_AES_CBC_PAD,            16,  32,  CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP},
    {CKM_AES_CTR,                16,  32,  CKF_ENCRYPT | CKF_DECRYPT},
    {CKM_AES_KEY_WRAP,           16,  32,  CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP},
    {CKM_AES_KEY_WRAP_PAD,       16,  32,  CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP},
    {CKM_AES_KEY_WRAP_KWP,       16,  32,  CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP},
    {CKM_AES_CMAC,               16,  32,  CKF_SIGN | CKF_VERIFY},
    {CKM_AES_CMAC_GENERAL,       16,  32,  CKF_SIGN | CKF_VERIFY},
    {CKM_SHA_1_HMAC,             16,  512, CKF_SIGN | CKF_VERIFY},
    {CKM_SHA_1_HMAC_GENERAL,     16,  512, CKF_SIGN | CKF_VERIFY},
    {CKM_SHA224_HMAC,            16,  512, CKF_SIGN | CKF_VERIFY},
    {CKM_SHA224_HMAC_GENERAL,    16,  512, CKF_SIGN | CKF_VERIFY},
    {CKM_SHA256_HMAC_GENERAL,    16,  512, CKF_SIGN | CKF_VERIFY},
    {CKM_SHA384_HMAC,            16,  512, CKF_SIGN | CKF_VERIFY},
    {CKM_SHA384_HMAC_GENERAL,    16,  512, CKF_SIGN | CKF_VERIFY},
    {CKM_SHA512_HMAC,            16,  512, CKF_SIGN | CKF_VERIFY},
    {CKM_SHA512_HMAC_GENERAL,    16,  512, CKF_SIGN | CKF_VERIFY},
    /* derivations (crypto_derive) */
    {CKM_ECDH1_DERIVE,           256, 521, CKF_DERIVE | EC_FLAGS},
    {CKM_HKDF_DERIVE,            1,   512, CKF_DERIVE},
    {CKM_HKDF_DATA,              1,   512, CKF_DERIVE},
    {CKM_SP800_108_COUNTER_KDF,  1,   512, CKF_DERIVE},
    /* oneM2M (TS-0003 10.3): Ke, Kpsa, Ke2e_master, pairwiseESPrimKey; a 48-byte exporter output */
    {CKM_SEA_ONEM2M_KM,             16, 64, CKF_DERIVE},
    {CKM_SEA_ONEM2M_KPSA,           16, 64, CKF_DERIVE},
    {CKM_SEA_ONEM2M_USAGE_KEY,      16, 64, CKF_DERIVE},
    {CKM_SEA_ONEM2M_KE2E_MASTER,    16, 64, CKF_DERIVE},
    {CKM_SEA_ONEM2M_KE2E_KEY,       32, 32, CKF_DERIVE},
    {CKM_SEA_ONEM2M_SESSION_ESPRIM, 16, 64, CKF_DERIVE},
    {CKM_SEA_ONEM2M_EXPORTER_SPLIT, 48, 48, CKF_DERIVE},
    /* RSA: 2048..4096-bit keys for every operation, verification included */
    {CKM_RSA_PKCS_KEY_PAIR_GEN,  2048, 4096, CKF_GENERATE_KEY_PAIR},
    /* no unwrap with PKCS#1 v1.5 or raw RSA, nor with AES-CBC-PAD: whether a chosen blob
     * unwraps (an object appears) or not would be a padding oracle (Bleichenbacher, Vaudenay)
     * on a key that may not even decrypt; raw RSA would unwrap c^d itself. Unwrap with OAEP,
     * AES key wrap or AES-GCM. */
    {CKM_RSA_PKCS,               2048, 4096, CKF_SIGN | CKF_VERIFY | CKF_ENCRYPT | CKF_DECRYPT |
                                             CKF_WRAP},
    {CKM_RSA_PKCS_PSS,           2048, 4096, CKF_SIGN | CKF_VERIFY},
    {CKM_RSA_PKCS_OAEP,          2048, 4096, CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP},
    {CKM_RSA_X_509,              2048, 4096, CKF_SIGN | CKF_VERIFY | CKF_ENCRYPT | CKF_DECRYPT},
    /* Ed25519 only: sizes in bits of the curve, as SoftHSM and OpenSC report them */
    {CKM_EC_EDWARDS_KEY_PAIR_GEN, 255, 255,  CKF_GENERATE_KEY_PAIR},
    {CKM_EDDSA,                  255, 255,   CKF_SIGN | CKF_VERIFY},
};
/* clang-format on */

const size_t crypto_nmechs = ARRAY_SIZE(crypto_mechs);

static const struct impl *impl_find(CK_MECHANISM_TYPE t, enum sea_op op)
{
    for (size_t i = 0; i < ARRAY_SIZE(enc_impls); i++)
        if (enc_impls[i].type == t && (enc_impls[i].ops & OPB(op)))
            return &enc_impls[i];
    for (size_t i = 0; i < ARRAY_SIZE(impls); i++)
        if (impls[i].type == t)
            return &impls[i];
    return NULL;
}

static const struct bmech *bmech_find(CK_MECHANISM_TYPE t)
{
    for (size_t i = 0; i < crypto_nmechs; i++)
        if (crypto_mechs[i].type == t)
            return &crypto_mechs[i];
    return NULL;
}

/* Does key k suit mechanism row im for op? Type, class and material, then its size against
 * the range crypto_mechs declares. */
static CK_RV key_check(const struct impl *im, const struct keymat *k, enum sea_op op)
{
    if (im->nktype == 0)
        return k ? err_set(ORIGIN, CKR_ARGUMENTS_BAD, "digests take no key") : CKR_OK;
    if (!k)
        return err_set(ORIGIN, CKR_ARGUMENTS_BAD, "mechanism needs a key");
    bool type_ok = false;
    for (unsigned i = 0; i < im->nktype; i++)
        type_ok = type_ok || k->type == im->ktype[i];
    CK_OBJECT_CLASS want = CKO_SECRET_KEY;
    if (im->asym)
        want = op == OP_SIGN || op == OP_DECRYPT ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY;
    bool material = im->asym ? k->keydata != NULL : k->secret != NULL;
    if (!type_ok || k->cls != want || !material)
        return err_set(ORIGIN, CKR_KEY_TYPE_INCONSISTENT,
                       "key (class %lu, type %lu) does not suit mechanism 0x%lx",
                       (unsigned long)k->cls, (unsigned long)k->type, (unsigned long)im->type);
    size_t size = im->asym ? k->bits : k->secret_len;
    const struct bmech *b = bmech_find(im->type);
    /* AES takes three sizes only, not the whole range between them. */
    if ((b && (size < b->min_key || size > b->max_key)) ||
        (k->type == CKK_AES && aes_index(size) < 0))
        return err_set(ORIGIN, CKR_KEY_SIZE_RANGE, "key size %zu out of range", size);
    return CKR_OK;
}

CK_RV cop_new(struct keymat *k, enum sea_op op, const CK_MECHANISM *m, struct cop **out)
{
    CK_RV rv = CKR_OK;
    struct cop *c = NULL;
    if (!m || !out || (unsigned)op >= OP__COUNT)
        return err_set(ORIGIN, CKR_ARGUMENTS_BAD, "cop_new: bad argument");
    *out = NULL;
    if ((rv = need_init()) != CKR_OK)
        return rv;
    ERR_set_mark();
    const struct impl *im = impl_find(m->mechanism, op);
    if (!im || !(im->ops & OPB(op)))
        FAIL(CKR_MECHANISM_INVALID, "mechanism 0x%lx not available for this operation",
             (unsigned long)m->mechanism);
    if ((rv = key_check(im, k, op)) != CKR_OK)
        goto out;
    if (im->no_params && m->ulParameterLen != 0)
        FAIL(CKR_MECHANISM_PARAM_INVALID, "mechanism 0x%lx takes no parameter",
             (unsigned long)m->mechanism);
    if (!(c = OPENSSL_zalloc(sizeof(*c))))
        FAIL(CKR_HOST_MEMORY, "out of memory for an operation");
    c->im = im;
    c->op = op;
    c->k = keymat_ref(k);
    if ((rv = im->fam->init(c, m)) != CKR_OK)
        goto out;
    *out = c;
    c = NULL;
out:
    cop_free(c);
    ERR_pop_to_mark();
    return rv;
}

size_t cop_outlen(struct cop *c, int phase, size_t inlen)
{
    return c ? c->im->fam->outlen(c, phase, inlen) : 0;
}

static CK_RV step(struct cop *c, bool final, const uint8_t *in, size_t inlen, uint8_t *out,
                  size_t *outlen)
{
    CK_RV rv = CKR_OK;
    if (!c || !outlen || (!in && inlen))
        return err_set(ORIGIN, CKR_ARGUMENTS_BAD, "bad operation argument");
    if (c->done)
        return err_set(ORIGIN, CKR_OPERATION_NOT_INITIALIZED, "operation already finished");
    /* Room for cop_outlen bytes is the caller's promise (backend.h); a NULL buffer is not. */
    size_t need = c->im->fam->outlen(c, final ? PHASE_FINAL : PHASE_UPDATE, inlen);
    if (!out && need)
        return err_set(ORIGIN, CKR_ARGUMENTS_BAD, "no output buffer");
    ERR_set_mark();
    rv = final ? c->im->fam->final(c, in, inlen, out, outlen)
               : c->im->fam->update(c, in, inlen, out, outlen);
    /* PKCS#11: a failed step, or the last one, ends the operation. */
    if (final || rv != CKR_OK)
        c->done = true;
    ERR_pop_to_mark();
    return rv;
}

CK_RV cop_update(struct cop *c, const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen)
{
    return step(c, false, in, inlen, out, outlen);
}

CK_RV cop_final(struct cop *c, const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen)
{
    return step(c, true, in, inlen, out, outlen);
}

/* Free what an operation holds, except its key reference. */
static void cop_release(struct cop *c)
{
    if (c->sctx)
        c->sig->freectx(c->sctx);
    /* an AES-GCM context that ended cleanly becomes a spare of the key, in a free slot */
    for (size_t i = 0; c->cctx && c->park && c->im->fam == &fam_gcm && i < KEYMAT_SPARES; i++) {
        void *idle = NULL;
        if (__atomic_compare_exchange_n(&c->k->spare_gcm[i], &idle, c->cctx, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            c->cctx = NULL;
    }
    if (c->cctx)
        c->ci->freectx(c->cctx);
    if (c->dctx)
        c->md->freectx(c->dctx);
    if (c->actx)
        c->ac->freectx(c->actx);
    hmac_clear(&c->mac);
    OPENSSL_clear_free(c->held, c->held_cap);
}

void cop_free(struct cop *c)
{
    if (!c)
        return;
    cop_release(c);
    keymat_unref(c->k);
    OPENSSL_free(c);
}

CK_RV cop_restart(struct cop *c, const CK_MECHANISM *m)
{
    CK_RV rv = CKR_OK;
    if (!c || !m || m->mechanism != c->im->type)
        return err_set(ORIGIN, CKR_ARGUMENTS_BAD, "cop_restart: bad argument");
    const struct impl *im = c->im;
    enum sea_op op = c->op;
    struct keymat *k = c->k;
    /* An AES-GCM context that ended cleanly stays with this operation rather than going back to
     * the key's spares: no write to the key, which other sessions may be using. */
    bool keep = c->cctx && c->park && im->fam == &fam_gcm;
    void *cctx = keep ? c->cctx : NULL;
    const struct cipher_impl *ci = c->ci;
    if (keep)
        c->cctx = NULL;
    cop_release(c);
    memset(c, 0, sizeof(*c));
    c->im = im;
    c->op = op;
    c->k = k;
    c->cctx = cctx;
    c->ci = keep ? ci : NULL;
    ERR_set_mark();
    if (im->no_params && m->ulParameterLen != 0)
        FAIL(CKR_MECHANISM_PARAM_INVALID, "mechanism 0x%lx takes no parameter",
             (unsigned long)m->mechanism);
    rv = im->fam->init(c, m);
out:
    if (rv != CKR_OK)
        c->done = true;
    ERR_pop_to_mark();
    return rv;
}

/* ---- wrapping formats and key derivation (C_WrapKey, C_UnwrapKey, C_DeriveKey) ----
 * The backend encrypts a key's wrapped form (and decrypts one) with the cop_* mechanisms
 * above; the formats and derivations are here. ECDH runs in the default provider's key
 * exchange. The KDFs on top of it (ANSI X9.63, HKDF, SP 800-108) are built from the digest and
 * HMAC above rather than taken from the provider's KDFs, which start their digests through
 * EVP_DigestInit_ex where an ENGINE the host registered takes over (the reason HMAC and PBKDF2
 * are built here too). */

#define DERIVE_MAX      (64ul << 10) /* bytes one derivation may produce (data objects) */
#define KBKDF_MAX_PARAM 32           /* data parameters of one SP 800-108 derivation */

CK_RV crypto_wrap_format(const struct attrs *pub, const struct attrs *secret, uint8_t **out,
                         size_t *len)
{
    CK_RV rv = CKR_OK;
    CK_ULONG cls, type;
    if (!pub || !out || !len)
        return err_set(ORIGIN, CKR_ARGUMENTS_BAD, "crypto_wrap_format: missing argument");
    *out = NULL;
    *len = 0;
    if ((rv = need_init()) != CKR_OK)
        return rv;
    ERR_set_mark();
    const struct attr *v = pick(secret, pub, CKA_VALUE);
    if (!get_ulong(pick(pub, secret, CKA_CLASS), &cls) ||
        !get_ulong(pick(pub, secret, CKA_KEY_TYPE), &type))
        FAIL(CKR_KEY_NOT_WRAPPABLE, "not a key");
    if (cls == CKO_SECRET_KEY) {
        if (!v || v->len == 0)
            FAIL(CKR_KEY_NOT_WRAPPABLE, "the secret key has no value");
        if (!(*out = OPENSSL_secure_malloc(v->len)))
            FAIL(CKR_HOST_MEMORY, "out of memory for a wrapped key");
        memcpy(*out, v->val, v->len);
        *len = v->len;
    } else if (cls == CKO_PRIVATE_KEY) {
        if ((rv = crypto_private_key_pkcs8(pub, secret, out, len)) == CKR_KEY_TYPE_INCONSISTENT)
            FAIL(CKR_KEY_NOT_WRAPPABLE, "private keys of type %lu have no wrapped form",
                 (unsigned long)type);
    } else {
        FAIL(CKR_KEY_NOT_WRAPPABLE, "keys of class %lu type %lu have no wrapped form",
             (unsigned long)cls, (unsigned long)type);
    }
out:
    ERR_pop_to_mark();
    return rv;
}

/* Give the secret key of template a the value val: CKA_VALUE, CKA_VALUE_LEN and (AES) its check
 * value, all or nothing. */
static CK_RV set_secret_value(struct attrs *a, CK_KEY_TYPE type, const uint8_t *val, size_t n)
{
    CK_RV rv;
    struct attrs *add = attrs_new(), *tmp = attrs_dup(a);
    if (!add || !tmp)
        FAIL(CKR_HOST_MEMORY, "out of memory for key attributes");
    if ((rv = attrs_set_secret(add, CKA_VALUE, val, n)) != CKR_OK ||
        (rv = attrs_merge(tmp, add)) != CKR_OK)
        FAIL(rv, "out of memory for key attributes");
    if ((rv = import_secret(tmp, type, add)) != CKR_OK)
        goto out;
    struct attrs *dst[] = {a};
    const struct attrs *src[] = {add};
    rv = commit(dst, src, 1);
out:
    attrs_unref(add);
    attrs_unref(tmp);
    return rv;
}

/* A private key from its PKCS#8 form into template a: the parsed key's attributes (the class
 * and key type must be the template's; what else the template names must agree), then the
 * checks and computed attributes of an import. */
static CK_RV unwrap_private(struct attrs *a, CK_KEY_TYPE type, const uint8_t *in, size_t len)
{
    CK_RV rv = CKR_OK;
    struct attrs *pub = attrs_new(), *priv = attrs_new(), *tmp = NULL;
    if (!pub || !priv)
        FAIL(CKR_HOST_MEMORY, "out of memory for key attributes");
    if ((rv = crypto_parse_private_key(in, len, pub, priv)) != CKR_OK)
        FAIL(rv == CKR_HOST_MEMORY ? rv : CKR_WRAPPED_KEY_INVALID,
             "the unwrapped data is not a private key in PKCS#8");
    if (attrs_get_ulong(priv, CKA_KEY_TYPE, CK_UNAVAILABLE_INFORMATION) != type)
        FAIL(CKR_WRAPPED_KEY_INVALID, "the wrapped key is not of the template's key type");
    for (size_t i = 0; i < priv->n; i++) {
        const struct attr *x = &priv->v[i], *y = attrs_find(a, x->type);
        if (y && (y->len != x->len || memcmp(y->val, x->val, x->len) != 0))
            FAIL(CKR_TEMPLATE_INCONSISTENT, "attribute 0x%lx of the template contradicts the key",
                 (unsigned long)x->type);
    }
    if (!(tmp = attrs_dup(a)) || (rv = attrs_merge(tmp, priv)) != CKR_OK)
        FAIL(rv == CKR_OK ? CKR_HOST_MEMORY : rv, "out of memory for key attributes");
    if ((rv = crypto_complete_import(tmp)) != CKR_OK)
        FAIL(rv == CKR_HOST_MEMORY ? rv : CKR_WRAPPED_KEY_INVALID,
             "the unwrapped key is not acceptable");
    struct attrs *dst[] = {a};
    const struct attrs *src[] = {tmp};
    rv = commit(dst, src, 1);
out:
    attrs_unref(pub);
    attrs_unref(priv);
    attrs_unref(tmp);
    return rv;
}

CK_RV crypto_unwrap_format(struct attrs *a, const uint8_t *in, size_t len)
{
    CK_RV rv = CKR_OK;
    CK_ULONG cls, type;
    if (!a || (!in && len))
        return err_set(ORIGIN, CKR_ARGUMENTS_BAD, "crypto_unwrap_format: missing argument");
    if ((rv = need_init()) != CKR_OK)
        return rv;
    ERR_set_mark();
    if (!get_ulong(attrs_find(a, CKA_CLASS), &cls) || !get_ulong(attrs_find(a, CKA_KEY_TYPE), &type))
        FAIL(CKR_TEMPLATE_INCOMPLETE, "the unwrap template names no class or key type");
    if (len == 0)
        FAIL(CKR_WRAPPED_KEY_LEN_RANGE, "nothing was unwrapped");
    if (cls == CKO_SECRET_KEY) {
        if (!secret_len_ok(type, len))
            FAIL(CKR_WRAPPED_KEY_LEN_RANGE, "a key of %zu bytes is not allowed for key type %lu",
                 len, (unsigned long)type);
        rv = set_secret_value(a, type, in, len);
    } else if (cls == CKO_PRIVATE_KEY) {
        rv = unwrap_private(a, type, in, len);
    } else {
        FAIL(CKR_TEMPLATE_INCONSISTENT, "keys of class %lu type %lu cannot be unwrapped",
             (unsigned long)cls, (unsigned long)type);
    }
out:
    ERR_pop_to_mark();
    return rv;
}

/* ANSI X9.63 KDF (SEC 1 3.6.1): K = H(Z || 1 || shared) || H(Z || 2 || shared) || ... */
static CK_RV x963(const struct md_impl *md, const uint8_t *z, size_t zlen, const uint8_t *shared,
                  size_t slen, uint8_t *out, size_t len)
{
    CK_RV rv = CKR_OK;
    uint8_t blk[MD_MAX];
    void *c = NULL;
    for (uint32_t i = 1, done = 0; done < len; i++) {
        const uint8_t be[4] = {(uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8),
                               (uint8_t)i};
        if (!(c = md_start(md)) || !md_add(md, c, z, zlen) || !md_add(md, c, be, 4) ||
            !md_add(md, c, shared, slen) || !md_finish(md, c, blk))
            FAIL(CKR_FUNCTION_FAILED, "the X9.63 KDF failed");
        md->freectx(c);
        c = NULL;
        size_t n = len - done < md->size ? len - done : md->size;
        memcpy(out + done, blk, n);
        done += (uint32_t)n;
    }
out:
    if (c)
        md->freectx(c);
    OPENSSL_cleanse(blk, sizeof(blk));
    return rv;
}

static const struct md_impl *ecdh_kdf(CK_EC_KDF_TYPE kdf, bool *ok)
{
    static const struct {
        CK_EC_KDF_TYPE kdf;
        CK_MECHANISM_TYPE md;
    } map[] = {{CKD_SHA1_KDF, CKM_SHA_1},     {CKD_SHA224_KDF, CKM_SHA224},
               {CKD_SHA256_KDF, CKM_SHA256}, {CKD_SHA384_KDF, CKM_SHA384},
               {CKD_SHA512_KDF, CKM_SHA512}};
    *ok = kdf == CKD_NULL;
    for (size_t i = 0; i < ARRAY_SIZE(map); i++)
        if (map[i].kdf == kdf) {
            *ok = true;
            return md_of(map[i].md);
        }
    return NULL;
}

/* CKM_ECDH1_DERIVE: Z = x-coordinate of d * Q (the provider's ECDH), then CKD_NULL (Z itself,
 * its trailing *len bytes when shorter) or the X9.63 KDF with the SHA named by kdf. */
static CK_RV ecdh_derive(struct keymat *base, const CK_MECHANISM *m, size_t *len, uint8_t **out)
{
    CK_RV rv = CKR_OK;
    const CK_ECDH1_DERIVE_PARAMS *p = m->pParameter;
    struct eckey peer = {0};
    void *peer_kd = NULL, *ctx = NULL;
    uint8_t z[EC_MAX_BYTES];
    size_t zlen = 0;
    bool kdf_ok;
    if (!p || m->ulParameterLen != sizeof(*p))
        FAIL(CKR_MECHANISM_PARAM_INVALID, "CKM_ECDH1_DERIVE needs a CK_ECDH1_DERIVE_PARAMS");
    const struct md_impl *md = ecdh_kdf(p->kdf, &kdf_ok);
    if (!kdf_ok)
        FAIL(CKR_MECHANISM_PARAM_INVALID, "KDF 0x%lx is not supported", (unsigned long)p->kdf);
    if ((!p->pSharedData && p->ulSharedDataLen) || (!md && p->ulSharedDataLen))
        FAIL(CKR_MECHANISM_PARAM_INVALID, "shared data %s",
             md ? "has a length but no bytes" : "is not taken with CKD_NULL");
    if (!p->pPublicData || p->ulPublicDataLen == 0)
        FAIL(CKR_MECHANISM_PARAM_INVALID, "no public data (the peer's point)");
    if (base->cls != CKO_PRIVATE_KEY || base->type != CKK_EC || !base->keydata)
        FAIL(CKR_KEY_TYPE_INCONSISTENT, "ECDH needs an EC private key");
    for (size_t i = 0; i < ARRAY_SIZE(curves); i++)
        if (curves[i].bits == base->bits)
            peer.cv = &curves[i];
    if (!peer.cv || !(peer.grp = EC_GROUP_new_by_curve_name_ex(g.ctx, NULL, peer.cv->nid)))
        FAIL(CKR_FUNCTION_FAILED, "cannot set up the base key's curve");
    /* raw or DER OCTET STRING, compressed or not; off the curve is a bad parameter */
    if (eckey_set_point(&peer, p->pPublicData, p->ulPublicDataLen) != CKR_OK)
        FAIL(CKR_MECHANISM_PARAM_INVALID, "the public data is not a point on %s", peer.cv->name);
    if ((rv = eckey_keydata(&peer, &peer_kd)) != CKR_OK)
        goto out;
    if (!(ctx = g.ecdh.newctx(g.provctx)) || !g.ecdh.init(ctx, base->keydata, NULL) ||
        !g.ecdh.set_peer(ctx, peer_kd) || !g.ecdh.derive(ctx, z, &zlen, sizeof(z)) ||
        zlen != peer.cv->len)
        FAIL(CKR_FUNCTION_FAILED, "ECDH failed");
    if (*len == 0 && md)
        FAIL(CKR_TEMPLATE_INCOMPLETE, "CKA_VALUE_LEN is needed with a KDF");
    if (*len == 0)
        *len = zlen;
    if (!md && *len > zlen)
        FAIL(CKR_TEMPLATE_INCONSISTENT, "CKD_NULL gives at most %zu bytes", zlen);
    if (!(*out = OPENSSL_secure_malloc(*len)))
        FAIL(CKR_HOST_MEMORY, "out of memory for a derived key");
    if (md)
        rv = x963(md, z, zlen, p->pSharedData, p->ulSharedDataLen, *out, *len);
    else
        memcpy(*out, z + zlen - *len, *len);
out:
    if (ctx)
        g.ecdh.freectx(ctx);
    if (peer_kd)
        g.km[KM_EC].free(peer_kd);
    eckey_clear(&peer);
    OPENSSL_cleanse(z, sizeof(z));
    return rv;
}

static bool hmac_once(const struct md_impl *md, const uint8_t *key, size_t klen,
                      const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint8_t *out)
{
    struct hmac h;
    bool ok = hmac_start(&h, md, key, klen) && md_add(md, h.inner, a, alen) &&
              md_add(md, h.inner, b, blen) && hmac_finish(&h, out);
    hmac_clear(&h);
    return ok;
}

/* CKM_HKDF_DERIVE and CKM_HKDF_DATA (RFC 5869): extract, expand or both. */
static CK_RV hkdf_derive(struct keymat *base, const CK_MECHANISM *m, struct keymat *salt_key,
                         size_t *len, uint8_t **out)
{
    CK_RV rv = CKR_OK;
    const CK_HKDF_PARAMS *p = m->pParameter;
    static const uint8_t zeros[MD_MAX];
    uint8_t prk[MD_MAX], t[MD_MAX];
    const struct md_impl *md = NULL;
    if (!p || m->ulParameterLen != sizeof(*p))
        FAIL(CKR_MECHANISM_PARAM_INVALID, "HKDF needs a CK_HKDF_PARAMS");
    if (!p->bExtract && !p->bExpand)
        FAIL(CKR_MECHANISM_PARAM_INVALID, "HKDF with neither extract nor expand");
    if (p->prfHashMechanism == CKM_SHA_1 || p->prfHashMechanism == CKM_SHA224 ||
        p->prfHashMechanism == CKM_SHA256 || p->prfHashMechanism == CKM_SHA384 ||
        p->prfHashMechanism == CKM_SHA512)
        md = md_of(p->prfHashMechanism);
    if (!md)
        FAIL(CKR_MECHANISM_PARAM_INVALID, "HKDF hash 0x%lx is not supported",
             (unsigned long)p->prfHashMechanism);
    if (!p->pInfo && p->ulInfoLen)
        FAIL(CKR_MECHANISM_PARAM_INVALID, "HKDF info has a length but no bytes");
    const uint8_t *salt = zeros;
    size_t salt_len = md->size;
    switch (p->ulSaltType) {
    case CKF_HKDF_SALT_NULL:
        break;
    case CKF_HKDF_SALT_DATA:
        if (!p->pSalt || p->ulSaltLen == 0)
            FAIL(CKR_MECHANISM_PARAM_INVALID, "CKF_HKDF_SALT_DATA without salt");
        salt = p->pSalt;
        salt_len = p->ulSaltLen;
        break;
    case CKF_HKDF_SALT_KEY:
        if (!salt_key || !salt_key->secret)
            FAIL(CKR_MECHANISM_PARAM_INVALID, "CKF_HKDF_SALT_KEY without a secret salt key");
        salt = salt_key->secret;
        salt_len = salt_key->secret_len;
        break;
    default:
        FAIL(CKR_MECHANISM_PARAM_INVALID, "HKDF salt type 0x%lx", (unsigned long)p->ulSaltType);
    }
    if (!base->secret)
        FAIL(CKR_KEY_TYPE_INCONSISTENT, "HKDF needs a secret base key");
    const uint8_t *key = base->secret;
    size_t key_len = base->secret_len;
    if (p->bExtract) {
        if (!hmac_once(md, salt, salt_len, base->secret, base->secret_len, NULL, 0, prk))
            FAIL(CKR_FUNCTION_FAILED, "HKDF-Extract failed");
        key = prk;
        key_len = md->size;
    }
    if (!p->bExpand) {
        if (*len == 0)
            *len = md->size;
        if (*len != md->size)
            FAIL(CKR_TEMPLATE_INCONSISTENT, "HKDF-Extract gives exactly %zu bytes", md->size);
    } else if (*len == 0) {
        FAIL(CKR_TEMPLATE_INCOMPLETE, "CKA_VALUE_LEN is needed for HKDF-Expand");
    } else if (*len > 255 * md->size) {
        FAIL(CKR_TEMPLATE_INCONSISTENT, "HKDF-Expand gives at most %zu bytes", 255 * md->size);
    }
    if (!(*out = OPENSSL_secure_malloc(*len)))
        FAIL(CKR_HOST_MEMORY, "out of memory for a derived key");
    if (!p->bExpand) {
        memcpy(*out, prk, md->size);
        goto out;
    }
    size_t tlen = 0;
    for (size_t done = 0, i = 1; done < *len; i++) {
        struct hmac h;
        const uint8_t ctr = (uint8_t)i;
        bool ok = hmac_start(&h, md, key, key_len) && md_add(md, h.inner, t, tlen) &&
                  md_add(md, h.inner, p->pInfo, p->ulInfoLen) && md_add(md, h.inner, &ctr, 1) &&
                  hmac_finish(&h, t);
        hmac_clear(&h);
        if (!ok)
            FAIL(CKR_FUNCTION_FAILED, "HKDF-Expand failed");
        tlen = md->size;
        size_t n = *len - done < tlen ? *len - done : tlen;
        memcpy(*out + done, t, n);
        done += n;
    }
out:
    OPENSSL_cleanse(prk, sizeof(prk));
    OPENSSL_cleanse(t, sizeof(t));
    return rv;
}

/* AES-CMAC (NIST SP 800-38B, RFC 4493) of one message, on the provider's AES-ECB. */
static bool cmac_once(const uint8_t *key, size_t klen, const uint8_t *msg, size_t mlen,
                      uint8_t mac[16])
{
    int i = aes_index(klen);
    const struct cipher_impl *ci = i >= 0 ? &g.ecb[i] : NULL;
    unsigned padding = 0;
    OSSL_PARAM q[] = {OSSL_PARAM_construct_uint(OSSL_CIPHER_PARAM_PADDING, &padding),
                      OSSL_PARAM_END};
    uint8_t k1[16] = {0}, k2[16], x[16] = {0}, blk[16], y[32];
    size_t got = 0;
    bool ok = false;
    void *cc = ci ? ci->newctx(g.provctx) : NULL;
    if (!cc || !ci->encrypt_init(cc, key, klen, NULL, 0, q) ||
        !ci->update(cc, y, &got, sizeof(y), k1, 16) || got != 16)
        goto out;
    /* subkeys: doubling in GF(2^128) */
    for (int s = 0; s < 2; s++) {
        uint8_t *src = s == 0 ? y : k1, *dst = s == 0 ? k1 : k2;
        uint8_t carry = src[0] & 0x80;
        for (int j = 0; j < 15; j++)
            dst[j] = (uint8_t)(src[j] << 1 | src[j + 1] >> 7);
        dst[15] = (uint8_t)(src[15] << 1) ^ (carry ? 0x87 : 0);
    }
    size_t nblk = mlen == 0 ? 1 : (mlen + 15) / 16;
    for (size_t b = 0; b < nblk; b++) {
        size_t off = b * 16, n = mlen - off < 16 ? mlen - off : 16;
        if (mlen == 0)
            n = 0;
        memset(blk, 0, 16);
        if (n)
            memcpy(blk, msg + off, n);
        if (b == nblk - 1) {
            if (n < 16)
                blk[n] = 0x80;
            for (int j = 0; j < 16; j++)
                blk[j] ^= n == 16 ? k1[j] : k2[j];
        }
        for (int j = 0; j < 16; j++)
            blk[j] ^= x[j];
        if (!ci->update(cc, y, &got, sizeof(y), blk, 16) || got != 16)
            goto out;
        memcpy(x, y, 16);
    }
    memcpy(mac, x, 16);
    ok = true;
out:
    if (cc)
        ci->freectx(cc);
    OPENSSL_cleanse(k1, sizeof(k1));
    OPENSSL_cleanse(k2, sizeof(k2));
    OPENSSL_cleanse(x, sizeof(x));
    OPENSSL_cleanse(blk, sizeof(blk));
    OPENSSL_cleanse(y, sizeof(y));
    return ok;
}

/* An unsigned integer as `width` bits, big- or little-endian. */
static size_t put_uint(uint8_t *p, uint64_t v, CK_ULONG width, bool little)
{
    size_t n = width / 8;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = (uint8_t)(v >> (8 * (n - 1 - i)));
        p[little ? n - 1 - i : i] = b;
    }
    return n;
}

/* The data parameters of an SP 800-108 counter-mode derivation, checked. */
static CK_RV kbkdf_check(const CK_SP800_108_KDF_PARAMS *p, size_t *msg_len)
{
    size_t iter = 0, dkm = 0, total = 0;
    if (!p->pDataParams || p->ulNumberOfDataParams == 0 ||
        p->ulNumberOfDataParams > KBKDF_MAX_PARAM)
        return err_set(ORIGIN, CKR_MECHANISM_PARAM_INVALID, "SP 800-108: 1..%d data parameters",
                       KBKDF_MAX_PARAM);
    for (CK_ULONG i = 0; i < p->ulNumberOfDataParams; i++) {
        const CK_PRF_DATA_PARAM *d = &p->pDataParams[i];
        if (d->type == CK_SP800_108_ITERATION_VARIABLE) {
            const CK_SP800_108_COUNTER_FORMAT *f = d->pValue;
            if (!f || d->ulValueLen != sizeof(*f) ||
                (f->ulWidthInBits != 8 && f->ulWidthInBits != 16 && f->ulWidthInBits != 24 &&
                 f->ulWidthInBits != 32))
                return err_set(ORIGIN, CKR_MECHANISM_PARAM_INVALID,
                               "SP 800-108: bad counter format");
            iter++;
            total += f->ulWidthInBits / 8;
        } else if (d->type == CK_SP800_108_DKM_LENGTH) {
            const CK_SP800_108_DKM_LENGTH_FORMAT *f = d->pValue;
            if (!f || d->ulValueLen != sizeof(*f) || f->ulWidthInBits < 8 ||
                f->ulWidthInBits > 64 || f->ulWidthInBits % 8 ||
                (f->dkmLengthMethod != CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS &&
                 f->dkmLengthMethod != CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS))
                return err_set(ORIGIN, CKR_MECHANISM_PARAM_INVALID,
                               "SP 800-108: bad DKM length format");
            dkm++;
            total += f->ulWidthInBits / 8;
        } else if (d->type == CK_SP800_108_BYTE_ARRAY) {
            if (!d->pValue || d->ulValueLen == 0 || d->ulValueLen > SEA_MAX_ATTR_LEN)
                return err_set(ORIGIN, CKR_MECHANISM_PARAM_INVALID,
                               "SP 800-108: byte array without bytes");
            total += d->ulValueLen;
        } else {
            /* CK_SP800_108_OPTIONAL_COUNTER belongs to the feedback and pipeline modes */
            return err_set(ORIGIN, CKR_MECHANISM_PARAM_INVALID,
                           "SP 800-108: data parameter type 0x%lx not allowed in counter mode",
                           (unsigned long)d->type);
        }
        if (total > KBKDF_MAX_PARAM * (size_t)SEA_MAX_ATTR_LEN)
            return err_set(ORIGIN, CKR_MECHANISM_PARAM_INVALID, "SP 800-108: too much data");
    }
    if (iter != 1 || dkm > 1)
        return err_set(ORIGIN, CKR_MECHANISM_PARAM_INVALID,
                       "SP 800-108: one iteration variable and at most one DKM length");
    *msg_len = total;
    return CKR_OK;
}

/* CKM_SP800_108_COUNTER_KDF: K(i) = PRF(KI, the data parameters in order, with the counter i
 * and the DKM length in their formats). Additional derived keys are refused. */
static CK_RV kbkdf_derive(struct keymat *base, const CK_MECHANISM *m, size_t *len, uint8_t **out)
{
    CK_RV rv = CKR_OK;
    const CK_SP800_108_KDF_PARAMS *p = m->pParameter;
    const struct md_impl *md = NULL;
    uint8_t *msg = NULL, blk[MD_MAX];
    size_t msg_len = 0, h;
    if (!p || m->ulParameterLen != sizeof(*p))
        FAIL(CKR_MECHANISM_PARAM_INVALID, "SP 800-108 needs a CK_SP800_108_KDF_PARAMS");
    if (p->ulAdditionalDerivedKeys || p->pAdditionalDerivedKeys)
        FAIL(CKR_MECHANISM_PARAM_INVALID, "additional derived keys are not supported");
    switch (p->prfType) {
    case CKM_SHA_1_HMAC:
        md = md_of(CKM_SHA_1);
        break;
    case CKM_SHA224_HMAC:
        md = md_of(CKM_SHA224);
        break;
    case CKM_SHA256_HMAC:
        md = md_of(CKM_SHA256);
        break;
    case CKM_SHA384_HMAC:
        md = md_of(CKM_SHA384);
        break;
    case CKM_SHA512_HMAC:
        md = md_of(CKM_SHA512);
        break;
    case CKM_AES_CMAC:
        break;
    default:
        FAIL(CKR_MECHANISM_PARAM_INVALID, "SP 800-108 PRF 0x%lx is not supported",
             (unsigned long)p->prfType);
    }
    if ((rv = kbkdf_check(p, &msg_len)) != CKR_OK)
        goto out;
    if (!base->secret || (md ? base->type == CKK_AES
                             : base->type != CKK_AES || aes_index(base->secret_len) < 0))
        FAIL(CKR_KEY_TYPE_INCONSISTENT, "the base key does not suit the PRF");
    if (*len == 0)
        FAIL(CKR_TEMPLATE_INCOMPLETE, "CKA_VALUE_LEN is needed for SP 800-108");
    h = md ? md->size : 16;
    size_t blocks = (*len + h - 1) / h;
    for (CK_ULONG i = 0; i < p->ulNumberOfDataParams; i++) {
        const CK_PRF_DATA_PARAM *d = &p->pDataParams[i];
        const CK_SP800_108_COUNTER_FORMAT *f = d->pValue;
        if (d->type == CK_SP800_108_ITERATION_VARIABLE && f->ulWidthInBits < 32 &&
            blocks >= (1ul << f->ulWidthInBits))
            FAIL(CKR_TEMPLATE_INCONSISTENT, "the counter is too narrow for %zu bytes", *len);
        if (d->type == CK_SP800_108_DKM_LENGTH) {
            /* the length field must hold the length in bits, never a truncation of it */
            const CK_SP800_108_DKM_LENGTH_FORMAT *df = d->pValue;
            uint64_t bits = df->dkmLengthMethod == CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS
                                ? (uint64_t)*len * 8
                                : (uint64_t)blocks * h * 8;
            if (df->ulWidthInBits < 64 && bits >= (UINT64_C(1) << df->ulWidthInBits))
                FAIL(CKR_MECHANISM_PARAM_INVALID,
                     "SP 800-108: a %lu-bit DKM length field cannot hold %llu bits",
                     (unsigned long)df->ulWidthInBits, (unsigned long long)bits);
        }
    }
    if (!(msg = OPENSSL_malloc(msg_len ? msg_len : 1)) ||
        !(*out = OPENSSL_secure_malloc(*len)))
        FAIL(CKR_HOST_MEMORY, "out of memory for a derivation");
    for (size_t i = 1, done = 0; done < *len; i++) {
        size_t k = 0;
        for (CK_ULONG j = 0; j < p->ulNumberOfDataParams; j++) {
            const CK_PRF_DATA_PARAM *d = &p->pDataParams[j];
            if (d->type == CK_SP800_108_ITERATION_VARIABLE) {
                const CK_SP800_108_COUNTER_FORMAT *f = d->pValue;
                k += put_uint(msg + k, i, f->ulWidthInBits, f->bLittleEndian);
            } else if (d->type == CK_SP800_108_DKM_LENGTH) {
                const CK_SP800_108_DKM_LENGTH_FORMAT *f = d->pValue;
                uint64_t bits = f->dkmLengthMethod == CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS
                                    ? (uint64_t)*len * 8
                                    : (uint64_t)blocks * h * 8;
                k += put_uint(msg + k, bits, f->ulWidthInBits, f->bLittleEndian);
            } else {
                memcpy(msg + k, d->pValue, d->ulValueLen);
                k += d->ulValueLen;
            }
        }
        bool ok = md ? hmac_once(md, base->secret, base->secret_len, msg, k, NULL, 0, blk)
                     : cmac_once(base->secret, base->secret_len, msg, k, blk);
        if (!ok)
            FAIL(CKR_FUNCTION_FAILED, "the SP 800-108 PRF failed");
        size_t n = *len - done < h ? *len - done : h;
        memcpy(*out + done, blk, n);
        done += n;
    }
out:
    OPENSSL_free(msg);
    OPENSSL_cleanse(blk, sizeof(blk));
    return rv;
}

/* ---- oneM2M key derivations (TS-0003 10.3; the open points are decided in
 * doc/onem2m-derivations.md) ----
 * All are HMAC-SHA-256 over byte strings: labels are the ASCII strings of the specification
 * without a terminator, identities UTF-8 after NFKC normalisation (libunistring). */

static const char ONEM2M_L_KM[] = "oneM2M Enrolment Key to Master Credential derivation";
static const char ONEM2M_L_KPSA[] =
    "oneM2M Enrolment Key to Provisioned Secure Connection Key derivation";
static const char ONEM2M_L_USAGE[] =
    "oneM2M Enrolment Key to Usage-Constrained Symmetric Key derivation";
static const char ONEM2M_L_ESPRIM[] = "oneM2M HMAC-SHA256 sessionESPrimKey derivation algorithm";
static const char *const ONEM2M_L_E2E[4] = {
    "E2E Message Authentication Key", "E2E Message Confidentiality Key",
    "E2E Attribute Authenticity Key", "E2E Attribute Confidentiality Key"};

#define ONEM2M_OUT     32 /* HMAC-SHA-256 */
#define ONEM2M_RAND    16 /* esprimRandValue: 128 bits */
#define ONEM2M_EXPORT  48 /* RFC 5705 exporter output of 10.3.1 */
#define ONEM2M_ID_PART 16 /* its identifier part */

/* An identity string: UTF-8 without NUL, 1..CK_SEA_ONEM2M_ID_MAX bytes before and after NFKC
 * normalisation, normalised into *out (free() it). */
static CK_RV onem2m_id(const CK_UTF8CHAR *s, CK_ULONG len, const char *what, uint8_t **out,
                       size_t *outlen)
{
    *out = NULL;
    if (!s || len == 0 || len > CK_SEA_ONEM2M_ID_MAX)
        return err_set(ORIGIN, CKR_MECHANISM_PARAM_INVALID, "the %s takes 1..%lu bytes (%lu given)",
                       what, CK_SEA_ONEM2M_ID_MAX, (unsigned long)len);
    if (u8_check(s, len) || memchr(s, 0, len))
        return err_set(ORIGIN, CKR_MECHANISM_PARAM_INVALID, "the %s is not UTF-8 text", what);
    size_t n = 0;
    uint8_t *r = u8_normalize(UNINORM_NFKC, s, len, NULL, &n);
    if (!r)
        return err_set(ORIGIN, errno == ENOMEM ? CKR_HOST_MEMORY : CKR_MECHANISM_PARAM_INVALID,
                       "the %s cannot be NFKC normalised", what);
    if (n == 0 || n > CK_SEA_ONEM2M_ID_MAX) {
        free(r);
        return err_set(ORIGIN, CKR_MECHANISM_PARAM_INVALID,
                       "the %s takes 1..%lu bytes after NFKC normalisation (%zu)", what,
                       CK_SEA_ONEM2M_ID_MAX, n);
    }
    *out = r;
    *outlen = n;
    return CKR_OK;
}

/* HMAC-SHA-256 of the concatenation of up to 4 byte strings (a NULL one ends the list). */
static bool onem2m_hmac(const uint8_t *key, size_t klen, const void *const part[4],
                        const size_t plen[4], uint8_t out[ONEM2M_OUT])
{
    const struct md_impl *md = md_of(CKM_SHA256);
    struct hmac h = {0};
    bool ok = md && hmac_start(&h, md, key, klen);
    for (size_t i = 0; ok && i < 4 && part[i]; i++)
        ok = md_add(md, h.inner, part[i], plen[i]);
    ok = ok && hmac_finish(&h, out);
    hmac_clear(&h);
    return ok;
}

#define PARAMS(type, name, what)                                                                   \
    const type *name = m->pParameter;                                                              \
    if (!name || m->ulParameterLen != sizeof(type))                                                \
    FAIL(CKR_MECHANISM_PARAM_INVALID, "%s needs a " #type, what)

/* The CKM_SEA_ONEM2M_* derivations from base key `base` into *out (*len bytes; 0: 32). */
static CK_RV onem2m_derive(struct keymat *base, const CK_MECHANISM *m, size_t *len, uint8_t **out)
{
    CK_RV rv = CKR_OK;
    uint8_t t[ONEM2M_OUT], *id = NULL;
    size_t idlen = 0;
    char suid[24];
    const void *part[4] = {0};
    size_t plen[4] = {0};
    bool truncate_ok = false; /* AES-128/192 keys from the leftmost bytes */
    const uint8_t *key = base->secret;
    size_t klen = base->secret_len;
    static const uint8_t zeros[ONEM2M_OUT];
    if (!key || !klen)
        FAIL(CKR_KEY_TYPE_INCONSISTENT, "oneM2M derivations need a secret base key");
    switch (m->mechanism) {
    case CKM_SEA_ONEM2M_KM:
    case CKM_SEA_ONEM2M_KPSA: {
        bool km = m->mechanism == CKM_SEA_ONEM2M_KM;
        PARAMS(CK_SEA_ONEM2M_ID_PARAMS, p, km ? "Km" : "Kpsa");
        if ((rv = onem2m_id(p->pId, p->ulIdLen, km ? "MAF-ID" : "Enrolee-B-ID", &id, &idlen)) !=
            CKR_OK)
            goto out;
        part[0] = km ? ONEM2M_L_KM : ONEM2M_L_KPSA;
        plen[0] = km ? sizeof(ONEM2M_L_KM) - 1 : sizeof(ONEM2M_L_KPSA) - 1;
        part[1] = id, plen[1] = idlen;
        break;
    }
    case CKM_SEA_ONEM2M_USAGE_KEY: {
        PARAMS(CK_SEA_ONEM2M_USAGE_PARAMS, p, "the usage-constrained key");
        if (p->ulSuid < 10 || p->ulSuid > 99)
            FAIL(CKR_MECHANISM_PARAM_INVALID, "SUID %lu is not a TS-0004 m2m:suid (10..99)",
                 (unsigned long)p->ulSuid);
        if ((rv = onem2m_id(p->pTargetId, p->ulTargetIdLen, "Enrolment-Target-ID", &id, &idlen)) !=
            CKR_OK)
            goto out;
        snprintf(suid, sizeof(suid), "%lu", (unsigned long)p->ulSuid);
        part[0] = ONEM2M_L_USAGE, plen[0] = sizeof(ONEM2M_L_USAGE) - 1;
        part[1] = suid, plen[1] = strlen(suid);
        part[2] = id, plen[2] = idlen;
        break;
    }
    case CKM_SEA_ONEM2M_KE2E_MASTER: {
        PARAMS(CK_SEA_ONEM2M_KE2E_MASTER_PARAMS, p, "Ke2e_master");
        if ((!p->pSalt && p->ulSaltLen) || p->ulSaltLen > CK_SEA_ONEM2M_SALT_MAX)
            FAIL(CKR_MECHANISM_PARAM_INVALID, "the Ke2e_master salt takes 0..%lu bytes",
                 CK_SEA_ONEM2M_SALT_MAX);
        /* HKDF-Extract: the salt is the HMAC key, the base key the message */
        part[0] = key, plen[0] = klen;
        key = p->ulSaltLen ? p->pSalt : zeros;
        klen = p->ulSaltLen ? p->ulSaltLen : sizeof(zeros);
        break;
    }
    case CKM_SEA_ONEM2M_KE2E_KEY: {
        PARAMS(CK_SEA_ONEM2M_KE2E_KEY_PARAMS, p, "an E2E key");
        if (p->ulKey < CK_SEA_KE2E_MSG_AUTH || p->ulKey > CK_SEA_KE2E_ATT_CONF)
            FAIL(CKR_MECHANISM_PARAM_INVALID, "E2E key %lu: 1..4 are defined",
                 (unsigned long)p->ulKey);
        /* T(i) = HMAC(Ke2e_master, T(i-1) || label(i) || i), T(0) empty: the chain up to ulKey */
        for (size_t i = 1; i <= p->ulKey; i++) {
            uint8_t ctr = (uint8_t)i;
            const void *q[4] = {t, ONEM2M_L_E2E[i - 1], &ctr, NULL};
            size_t ql[4] = {i == 1 ? 0 : sizeof(t), strlen(ONEM2M_L_E2E[i - 1]), 1, 0};
            if (!onem2m_hmac(key, klen, q, ql, t))
                FAIL(CKR_FUNCTION_FAILED, "HMAC-SHA-256 failed");
        }
        truncate_ok = true;
        break;
    }
    case CKM_SEA_ONEM2M_SESSION_ESPRIM: {
        PARAMS(CK_SEA_ONEM2M_ESPRIM_PARAMS, p, "sessionESPrimKey");
        if (!p->pReceiverRand || p->ulReceiverRandLen != ONEM2M_RAND || !p->pOriginatorRand ||
            p->ulOriginatorRandLen != ONEM2M_RAND)
            FAIL(CKR_MECHANISM_PARAM_INVALID, "each esprimRandValue takes %d bytes", ONEM2M_RAND);
        part[0] = p->pReceiverRand, plen[0] = ONEM2M_RAND;
        part[1] = p->pOriginatorRand, plen[1] = ONEM2M_RAND;
        part[2] = ONEM2M_L_ESPRIM, plen[2] = sizeof(ONEM2M_L_ESPRIM) - 1;
        truncate_ok = true;
        break;
    }
    case CKM_SEA_ONEM2M_EXPORTER_SPLIT: {
        PARAMS(CK_SEA_ONEM2M_SPLIT_PARAMS, p, "the exporter split");
        if (!p->pIdentifier || p->ulIdentifierLen != ONEM2M_ID_PART)
            FAIL(CKR_MECHANISM_PARAM_INVALID, "the identifier buffer takes %d bytes",
                 ONEM2M_ID_PART);
        if (klen != ONEM2M_EXPORT)
            FAIL(CKR_KEY_SIZE_RANGE, "the exporter output has %d bytes (the key %zu)",
                 ONEM2M_EXPORT, klen);
        break;
    }
    default:
        FAIL(CKR_MECHANISM_INVALID, "not a oneM2M derivation");
    }
    if (*len == 0)
        *len = ONEM2M_OUT;
    if (*len != ONEM2M_OUT && !(truncate_ok && (*len == 16 || *len == 24)))
        FAIL(CKR_TEMPLATE_INCONSISTENT, "this derivation gives %s32 bytes (%zu asked)",
             truncate_ok ? "16, 24 or " : "", *len);
    if (m->mechanism == CKM_SEA_ONEM2M_EXPORTER_SPLIT)
        memcpy(t, key + ONEM2M_ID_PART, ONEM2M_OUT); /* first bytes = most significant */
    else if (m->mechanism != CKM_SEA_ONEM2M_KE2E_KEY && !onem2m_hmac(key, klen, part, plen, t))
        FAIL(CKR_FUNCTION_FAILED, "HMAC-SHA-256 failed");
    if (!(*out = OPENSSL_secure_malloc(*len)))
        FAIL(CKR_HOST_MEMORY, "out of memory for a derived key");
    memcpy(*out, t, *len); /* a shorter key keeps the leftmost bytes */
    if (m->mechanism == CKM_SEA_ONEM2M_EXPORTER_SPLIT) {
        const CK_SEA_ONEM2M_SPLIT_PARAMS *p = m->pParameter;
        memcpy(p->pIdentifier, key, ONEM2M_ID_PART); /* not secret: it names the key */
    }
out:
    free(id);
    OPENSSL_cleanse(t, sizeof(t));
    return rv;
}
#undef PARAMS

CK_RV crypto_derive(struct keymat *base, const CK_MECHANISM *m, struct keymat *salt, size_t len,
                    struct attrs *a)
{
    CK_RV rv = CKR_OK;
    uint8_t *val = NULL;
    CK_ULONG cls, type = CK_UNAVAILABLE_INFORMATION;
    if (!base || !m || !a)
        return err_set(ORIGIN, CKR_ARGUMENTS_BAD, "crypto_derive: missing argument");
    if ((rv = need_init()) != CKR_OK)
        return rv;
    ERR_set_mark();
    if (!get_ulong(attrs_find(a, CKA_CLASS), &cls) ||
        (cls != CKO_DATA && !get_ulong(attrs_find(a, CKA_KEY_TYPE), &type)))
        FAIL(CKR_TEMPLATE_INCOMPLETE, "the derived object has no class or key type");
    if (cls != CKO_DATA && cls != CKO_SECRET_KEY)
        FAIL(CKR_TEMPLATE_INCONSISTENT, "derivations make secret keys or data objects");
    if (len > DERIVE_MAX || (cls == CKO_SECRET_KEY && len && !secret_len_ok(type, len)))
        FAIL(CKR_ATTRIBUTE_VALUE_INVALID, "%zu bytes are not allowed for this object", len);
    size_t want = len;
    switch (m->mechanism) {
    case CKM_ECDH1_DERIVE:
        rv = ecdh_derive(base, m, &len, &val);
        break;
    case CKM_HKDF_DERIVE:
    case CKM_HKDF_DATA:
        if ((m->mechanism == CKM_HKDF_DATA) != (cls == CKO_DATA))
            FAIL(CKR_TEMPLATE_INCONSISTENT, "CKM_HKDF_DATA makes data objects, HKDF_DERIVE keys");
        rv = hkdf_derive(base, m, salt, &len, &val);
        break;
    case CKM_SP800_108_COUNTER_KDF:
        rv = kbkdf_derive(base, m, &len, &val);
        break;
    case CKM_SEA_ONEM2M_KM:
    case CKM_SEA_ONEM2M_KPSA:
    case CKM_SEA_ONEM2M_USAGE_KEY:
    case CKM_SEA_ONEM2M_KE2E_MASTER:
    case CKM_SEA_ONEM2M_KE2E_KEY:
    case CKM_SEA_ONEM2M_SESSION_ESPRIM:
    case CKM_SEA_ONEM2M_EXPORTER_SPLIT:
        if (cls != CKO_SECRET_KEY)
            FAIL(CKR_TEMPLATE_INCONSISTENT, "oneM2M derivations make secret keys");
        rv = onem2m_derive(base, m, &len, &val);
        break;
    default:
        FAIL(CKR_MECHANISM_INVALID, "mechanism 0x%lx derives nothing",
             (unsigned long)m->mechanism);
    }
    if (rv != CKR_OK)
        goto out;
    if (cls == CKO_SECRET_KEY && want == 0 && !secret_len_ok(type, len))
        FAIL(CKR_TEMPLATE_INCOMPLETE, "give CKA_VALUE_LEN: %zu bytes do not suit key type %lu",
             len, (unsigned long)type);
    if (cls == CKO_SECRET_KEY) {
        rv = set_secret_value(a, type, val, len);
    } else {
        struct attrs *add = attrs_new();
        rv = !add ? CKR_HOST_MEMORY
             : attrs_get_bool(a, CKA_PRIVATE, false) ? attrs_set_secret(add, CKA_VALUE, val, len)
                                                     : attrs_set(add, CKA_VALUE, val, len);
        if (rv == CKR_OK) {
            struct attrs *dst[] = {a};
            const struct attrs *src[] = {add};
            rv = commit(dst, src, 1);
        } else {
            err_set(ORIGIN, rv, "out of memory for a derived value");
        }
        attrs_unref(add);
    }
out:
    if (val)
        OPENSSL_secure_clear_free(val, len);
    ERR_pop_to_mark();
    return rv;
}

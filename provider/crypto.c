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
 *   crypto_parse_private_key keep that method, whose set_group and finish hooks then run. */
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
    OSSL_FUNC_keymgmt_free_fn *free;
};

struct sig_impl {
    OSSL_FUNC_signature_newctx_fn *newctx;
    OSSL_FUNC_signature_sign_init_fn *sign_init;
    OSSL_FUNC_signature_sign_fn *sign;
    OSSL_FUNC_signature_verify_init_fn *verify_init;
    OSSL_FUNC_signature_verify_fn *verify;
    OSSL_FUNC_signature_freectx_fn *freectx;
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

/* Key types and signature schemes (RSA and EdDSA would be rows here). */
enum { KM_EC, KM__COUNT };
static const char *const keymgmt_names[KM__COUNT] = {"EC"};
enum { SIG_ECDSA, SIG__COUNT };
static const char *const sig_names[SIG__COUNT] = {"ECDSA"};

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
    struct keymgmt_impl km[KM__COUNT];
    struct sig_impl sig[SIG__COUNT];
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

static int os_rng_generate(void *vctx, unsigned char *out, size_t outlen, unsigned int strength,
                           int prediction_resistance, const unsigned char *addin, size_t addin_len)
{
    /* Every byte is fresh from the kernel, which is what prediction resistance asks for;
     * additional input, like a personalisation string, has nowhere to go. */
    struct os_rng *r = vctx;
    if (atomic_load(&r->state) != EVP_RAND_STATE_READY || strength > OS_RNG_STRENGTH)
        return 0;
    if (!kernel_random(out, outlen)) {
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
    for (size_t i = 0; i < KM__COUNT; i++) {
        const struct keymgmt_impl *k = &g.km[i];
        if (!resolve(OSSL_OP_KEYMGMT, keymgmt_names[i], take_keymgmt, &g.km[i]) ||
            !complete(k->newdata && k->import && k->free, keymgmt_names[i]))
            return false;
    }
    for (size_t i = 0; i < SIG__COUNT; i++) {
        const struct sig_impl *v = &g.sig[i];
        if (!resolve(OSSL_OP_SIGNATURE, sig_names[i], take_sig, &g.sig[i]) ||
            !complete(v->newctx && v->sign_init && v->sign && v->verify_init && v->verify &&
                          v->freectx,
                      sig_names[i]))
            return false;
    }
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

/* ---- key material ---- */

static bool secret_len_ok(CK_KEY_TYPE type, size_t len)
{
    switch (type) {
    case CKK_AES:
        return aes_index(len) >= 0;
    case CKK_GENERIC_SECRET:
    case CKK_SHA256_HMAC:
        return len >= 1 && len <= 512;
    default:
        return false;
    }
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
    if (cls == CKO_SECRET_KEY &&
        (type == CKK_AES || type == CKK_GENERIC_SECRET || type == CKK_SHA256_HMAC)) {
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
    if (aes ? type != CKK_AES : (type != CKK_GENERIC_SECRET && type != CKK_SHA256_HMAC))
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
    if (m->mechanism != CKM_EC_KEY_PAIR_GEN)
        FAIL(CKR_MECHANISM_INVALID, "mechanism 0x%lx does not generate key pairs",
             (unsigned long)m->mechanism);
    if (!no_params(m))
        FAIL(CKR_MECHANISM_PARAM_INVALID, "key generation takes no parameter");
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
    if (cls == CKO_SECRET_KEY &&
        (type == CKK_AES || type == CKK_GENERIC_SECRET || type == CKK_SHA256_HMAC))
        rv = import_secret(a, type, add);
    else if (cls != CKO_SECRET_KEY && type == CKK_EC)
        rv = import_ec(a, cls, add);
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
    if (!EVP_PKEY_is_a(pkey, "EC")) {
        const char *name = EVP_PKEY_get0_type_name(pkey);
        FAIL(CKR_KEY_TYPE_INCONSISTENT, "not an EC key (%s)", name ? name : "unknown type");
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
    struct hmac mac;
    bool park;     /* cctx ended cleanly: it may become the key's spare_gcm */
    uint8_t *held; /* input kept until final */
    size_t held_len, held_cap;
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
    /* An idle context of the key, if one is free, has the key set up already (the AES key
     * schedule and GHASH table): a new IV starts it afresh, as EVP_EncryptInit_ex2 with only an
     * IV does. Else a new context. The provider takes any IV length up to GCM_IV_MAX with the
     * IV itself. */
    c->cctx = NULL;
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

/* HMAC-SHA256: streams; verify compares in constant time. */

static CK_RV hmac_init(struct cop *c, const CK_MECHANISM *m)
{
    CK_RV rv = CKR_OK;
    const struct md_impl *md = md_of(CKM_SHA256);
    struct hmac *st = __atomic_load_n(&c->k->mac_start, __ATOMIC_ACQUIRE), *mine = NULL;
    c->size = md->size;
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

#define SIGVER (OPB(OP_SIGN) | OPB(OP_VERIFY))
#define ENCDEC (OPB(OP_ENCRYPT) | OPB(OP_DECRYPT))

/* clang-format off */
static const struct impl impls[] = {
    {CKM_ECDSA,       SIGVER,         {CKK_EC},  1, true,  true,  &fam_ecdsa},
    {CKM_AES_GCM,     ENCDEC,         {CKK_AES}, 1, false, false, &fam_gcm},
    {CKM_SHA256_HMAC, SIGVER,         {CKK_GENERIC_SECRET, CKK_SHA256_HMAC}, 2, false, true,
     &fam_hmac},
    {CKM_SHA_1,       OPB(OP_DIGEST), {0},       0, false, true,  &fam_digest},
    {CKM_SHA224,      OPB(OP_DIGEST), {0},       0, false, true,  &fam_digest},
    {CKM_SHA256,      OPB(OP_DIGEST), {0},       0, false, true,  &fam_digest},
    {CKM_SHA384,      OPB(OP_DIGEST), {0},       0, false, true,  &fam_digest},
    {CKM_SHA512,      OPB(OP_DIGEST), {0},       0, false, true,  &fam_digest},
};

#define EC_FLAGS (CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS)

const struct bmech crypto_mechs[] = {
    {CKM_EC_KEY_PAIR_GEN,        256, 521, CKF_GENERATE_KEY_PAIR | EC_FLAGS},
    {CKM_ECDSA,                  256, 521, CKF_SIGN | CKF_VERIFY | EC_FLAGS},
    {CKM_AES_KEY_GEN,            16,  32,  CKF_GENERATE},
    {CKM_AES_GCM,                16,  32,  CKF_ENCRYPT | CKF_DECRYPT},
    {CKM_GENERIC_SECRET_KEY_GEN, 1,   512, CKF_GENERATE},
    {CKM_SHA256_HMAC,            16,  512, CKF_SIGN | CKF_VERIFY},
};
/* clang-format on */

const size_t crypto_nmechs = ARRAY_SIZE(crypto_mechs);

static const struct impl *impl_find(CK_MECHANISM_TYPE t)
{
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
    const struct impl *im = impl_find(m->mechanism);
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

void cop_free(struct cop *c)
{
    if (!c)
        return;
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
    hmac_clear(&c->mac);
    OPENSSL_clear_free(c->held, c->held_cap);
    keymat_unref(c->k);
    OPENSSL_free(c);
}

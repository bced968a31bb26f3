/* The libsea benchmark (`make bench`; not a test): ECDSA P-256, RSA-2048, HMAC-SHA256 and AES-GCM
 * through sea-pkcs11.so against raw OpenSSL in the same run (and two threads against one),
 * find-by-label latency with 100 to 100,000 token objects, and the cost
 * of C_Initialize on a large store, each printed against its target. Exit status 0 means it ran;
 * whether the targets were met is printed, because it depends on the machine. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/rsa.h>

#include "p11util.h" /* includes sea/pkcs11.h and sea/pkcs11-sea.h */

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* SEs are made with p11util's PINs: the store holds nothing but generated test objects. */
static const char SIGN_SE[] = "bench-sign";
static const char KEY_LABEL[] = "bench-p256";

/* DER of the P-256 curve OID 1.2.840.10045.3.1.7 (CKA_EC_PARAMS). */
static const CK_BYTE P256_OID[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

/* The targets (doc/benchmarks.md). Speed is a ratio against a reference measured in the same
 * run, because the machines are shared and noisy. */
#define TARGET_SIGN_RATIO   0.8
#define TARGET_TP_RATIO     0.8 /* RSA, HMAC, GCM: libsea / OpenSSL */
#define TARGET_TP_SCALING   1.6 /* 2 threads on 2 sessions / 1 thread */
#define TARGET_FIND_P50_US  100.0
#define TARGET_FIND_SCALING 2.0
#define TARGET_INIT_MS      50.0
#define TARGET_RSS_KB       (50.0 * 1024.0)

#define CHILD_FINDS 1000
#define MAX_SIZES   3

struct opts {
    bool quick;
    bool tp_only;      /* --throughput: section 2 only */
    const char *store; /* --store DIR: kept between runs; NULL: a private temporary one */
    const char *module;
    /* the hidden --child-init mode */
    bool child;
    const char *child_se;
    size_t child_objects;
};

/* What one run measures, per mode. */
struct plan {
    size_t sizes[MAX_SIZES];
    unsigned sign_rounds;   /* rounds per side, interleaved A/B/A/B */
    uint64_t sign_round_ns; /* duration of one round */
    unsigned tp_rounds;     /* RSA/HMAC/GCM: rounds per side, and 1-/2-thread round pairs */
    uint64_t tp_round_ns;
    unsigned lookups;        /* timed find-by-label lookups per size */
    unsigned warmup_lookups; /* untimed ones before them */
    unsigned init_runs;      /* fresh processes for the C_Initialize figures */
};

static const struct plan FULL = {
    .sizes = {100, 10000, 100000},
    .sign_rounds = 20,
    .sign_round_ns = 125000000ull,
    .tp_rounds = 10,
    .tp_round_ns = 100000000ull,
    .lookups = 5000,
    .warmup_lookups = 500,
    .init_runs = 5,
};
static const struct plan QUICK = {
    .sizes = {100, 1000, 10000},
    .sign_rounds = 6,
    .sign_round_ns = 50000000ull,
    .tp_rounds = 3,
    .tp_round_ns = 30000000ull,
    .lookups = 2000,
    .warmup_lookups = 200,
    .init_runs = 3,
};

/* Pass/fail tally for the summary line. */
struct tally {
    unsigned checked, passed;
};

/* ---- small utilities ---- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double secs(uint64_t ns)
{
    return (double)ns / 1e9;
}

/* splitmix64: a fixed seed so that two runs look up the same labels. */
static uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* The OpenSSL error queue as one line, then cleared. */
static void fail_ossl(const char *what)
{
    char buf[256] = "";
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    fail("%s failed%s%s", what, buf[0] ? ": " : "", buf);
}

/* Report a failed PKCS#11 call with the module's own explanation (C_SEA_GetLastError). */
static void fail_ck(const struct p11 *m, const char *what, CK_RV rv)
{
    char why[512];
    fail("%s failed: %s", what, p11_explain(m, rv, why, sizeof(why)));
}

/* Check a CK_RV; on failure report it and leave through `out` (ret stays -1). */
#define CHECK(m, what, expr)                                                                       \
    do {                                                                                           \
        CK_RV rv_ = (expr);                                                                        \
        if (rv_ != CKR_OK) {                                                                       \
            fail_ck((m), (what), rv_);                                                             \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

/* Call a function of the module's 3.0 list, the same way. */
#define CALL(m, fn, args) CHECK((m), #fn, (m)->f->fn args)

/* VmRSS and VmHWM of this process in kB (from /proc/self/status). */
static int read_mem(unsigned long *rss_kb, unsigned long *hwm_kb)
{
    int ret = -1, found = 0;
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) {
        fail("/proc/self/status: %s", strerror(errno));
        goto out;
    }
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "VmRSS: %lu kB", rss_kb) == 1)
            found |= 1;
        else if (sscanf(line, "VmHWM: %lu kB", hwm_kb) == 1)
            found |= 2;
    }
    if (found != 3) {
        fail("/proc/self/status has no VmRSS/VmHWM");
        goto out;
    }
    ret = 0;
out:
    if (f)
        fclose(f);
    return ret;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The nearest-rank percentile (pct in 1..100) of a sorted array of n > 0 values. */
static uint64_t percentile(const uint64_t *sorted, size_t n, unsigned pct)
{
    size_t rank = (pct * n + 99) / 100;
    return sorted[rank ? rank - 1 : 0];
}

static double median_of(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static const char *verdict(struct tally *t, bool ok)
{
    t->checked++;
    t->passed += ok;
    return ok ? "PASS" : "FAIL";
}

/* ---- SEs and sessions ---- */

/* The slot of the SE labelled `label` and its token flags; *found false if there is none. */
static int find_se(const struct p11 *m, const char *label, CK_SLOT_ID *slot, CK_FLAGS *flags,
                   bool *found)
{
    int ret = -1;
    CK_SLOT_ID *list = NULL;
    CK_ULONG n = 0;
    CK_UTF8CHAR want[32];
    CK_TOKEN_INFO ti;
    p11_pad32(want, label);
    *found = false;
    CALL(m, C_GetSlotList, (CK_TRUE, NULL, &n));
    if (!(list = calloc(n ? n : 1, sizeof(*list)))) {
        fail("out of memory");
        goto out;
    }
    CALL(m, C_GetSlotList, (CK_TRUE, list, &n));
    for (CK_ULONG i = 0; i < n && !*found; i++) {
        CALL(m, C_GetTokenInfo, (list[i], &ti));
        if ((ti.flags & CKF_TOKEN_INITIALIZED) && memcmp(ti.label, want, 32) == 0) {
            *slot = list[i];
            *flags = ti.flags;
            *found = true;
        }
    }
    ret = 0;
out:
    free(list);
    return ret;
}

/* The slot of the SE `label`, creating the SE (SO PIN P11_SO_PIN, user PIN P11_USER_PIN) if
 * the store lacks it, or only its user PIN if an earlier run stopped in between. */
static int ensure_se(const struct p11 *m, const char *label, CK_SLOT_ID *slot)
{
    int ret = -1;
    CK_FLAGS flags = 0;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    bool found;
    if (find_se(m, label, slot, &flags, &found) != 0)
        goto out;
    if (!found) {
        CHECK(m, "creating the SE", p11_make_token(m, label, NULL, slot));
    } else if (!(flags & CKF_USER_PIN_INITIALIZED)) {
        CALL(m, C_OpenSession, (*slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
        CALL(m, C_Login, (s, CKU_SO, (CK_UTF8CHAR_PTR)P11_SO_PIN, strlen(P11_SO_PIN)));
        CALL(m, C_InitPIN, (s, (CK_UTF8CHAR_PTR)P11_USER_PIN, strlen(P11_USER_PIN)));
        CALL(m, C_Logout, (s));
    }
    ret = 0;
out:
    if (s != CK_INVALID_HANDLE)
        m->f->C_CloseSession(s);
    return ret;
}

/* A read-write session on the SE `label` with the user logged in. */
static int user_session(const struct p11 *m, const char *label, CK_SESSION_HANDLE *s)
{
    int ret = -1;
    CK_SLOT_ID slot;
    if (ensure_se(m, label, &slot) != 0)
        goto out;
    CHECK(m, "C_OpenSession + C_Login", p11_user_session(m, slot, NULL, s));
    ret = 0;
out:
    return ret;
}

/* ---- 1. ECDSA P-256 signatures: sea-pkcs11.so against raw OpenSSL ---- */

#define SIG_MAX    128
#define MAX_ROUNDS 32

struct sign_case {
    const char *name;
    bool hashed; /* CKM_ECDSA_SHA256 and EVP_DigestSign over a message; else a bare digest */
    const uint8_t *in;
    size_t inlen;
};

struct signer {
    const struct p11 *m;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE key;
    EVP_PKEY *sea_pub; /* the SE key's public half, to check the SE's signatures */
    EVP_PKEY *ref;     /* the reference key, in OpenSSL's default library context */
    EVP_MD *sha256;
    const struct sign_case *c;
};

typedef int (*sign_fn)(const struct signer *x, uint8_t *sig, size_t *siglen);

/* One signature through the module: C_SignInit + C_Sign, as an application does it. */
static int sea_sign(const struct signer *x, uint8_t *sig, size_t *siglen)
{
    int ret = -1;
    CK_MECHANISM mech = {x->c->hashed ? CKM_ECDSA_SHA256 : CKM_ECDSA, NULL, 0};
    CK_ULONG len = SIG_MAX;
    const struct p11 *m = x->m;
    CALL(m, C_SignInit, (x->s, &mech, x->key));
    CALL(m, C_Sign, (x->s, (CK_BYTE_PTR)x->c->in, x->c->inlen, sig, &len));
    *siglen = len;
    ret = 0;
out:
    return ret;
}

/* The same signature with OpenSSL in this process, a fresh context per signature as well. */
static int ossl_sign(const struct signer *x, uint8_t *sig, size_t *siglen)
{
    int ret = -1;
    EVP_PKEY_CTX *pc = NULL;
    EVP_MD_CTX *mc = NULL;
    *siglen = SIG_MAX;
    if (x->c->hashed) {
        if (!(mc = EVP_MD_CTX_new()) ||
            EVP_DigestSignInit(mc, NULL, x->sha256, NULL, x->ref) != 1 ||
            EVP_DigestSign(mc, sig, siglen, x->c->in, x->c->inlen) != 1) {
            fail_ossl("EVP_DigestSign");
            goto out;
        }
    } else {
        if (!(pc = EVP_PKEY_CTX_new(x->ref, NULL)) || EVP_PKEY_sign_init(pc) != 1 ||
            EVP_PKEY_sign(pc, sig, siglen, x->c->in, x->c->inlen) != 1) {
            fail_ossl("EVP_PKEY_sign");
            goto out;
        }
    }
    ret = 0;
out:
    EVP_PKEY_CTX_free(pc);
    EVP_MD_CTX_free(mc);
    return ret;
}

/* A PKCS#11 ECDSA signature (r || s) as the DER ECDSA-Sig-Value OpenSSL verifies. */
static int rs_to_der(const uint8_t *rs, size_t len, uint8_t **der, size_t *derlen)
{
    int ret = -1, n;
    ECDSA_SIG *es = NULL;
    BIGNUM *r = NULL, *s = NULL;
    *der = NULL;
    if (len == 0 || len % 2 != 0) {
        fail("an ECDSA signature of %zu bytes is not r || s", len);
        goto out;
    }
    if (!(es = ECDSA_SIG_new()) || !(r = BN_bin2bn(rs, (int)(len / 2), NULL)) ||
        !(s = BN_bin2bn(rs + len / 2, (int)(len / 2), NULL)) || !ECDSA_SIG_set0(es, r, s)) {
        fail_ossl("ECDSA_SIG_set0");
        goto out;
    }
    r = s = NULL; /* owned by es now */
    if ((n = i2d_ECDSA_SIG(es, der)) <= 0) {
        fail_ossl("i2d_ECDSA_SIG");
        goto out;
    }
    *derlen = (size_t)n;
    ret = 0;
out:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return ret;
}

/* Does the DER signature verify over `in` (a digest, or a message when hashed)? */
static bool verifies(EVP_PKEY *pub, const EVP_MD *md, bool hashed, const uint8_t *in, size_t inlen,
                     const uint8_t *der, size_t derlen)
{
    int r = 0;
    EVP_PKEY_CTX *pc = NULL;
    EVP_MD_CTX *mc = NULL;
    if (hashed) {
        if ((mc = EVP_MD_CTX_new()) && EVP_DigestVerifyInit(mc, NULL, md, NULL, pub) == 1)
            r = EVP_DigestVerify(mc, der, derlen, in, inlen);
    } else {
        if ((pc = EVP_PKEY_CTX_new(pub, NULL)) && EVP_PKEY_verify_init(pc) == 1)
            r = EVP_PKEY_verify(pc, der, derlen, in, inlen);
    }
    ERR_clear_error();
    EVP_PKEY_CTX_free(pc);
    EVP_MD_CTX_free(mc);
    return r == 1;
}

/* Check a signature just made: it must verify over the input and not over a changed input,
 * so that the benchmark is known to have measured real signatures. */
static int check_sig(const struct signer *x, bool from_sea, const uint8_t *sig, size_t siglen)
{
    int ret = -1;
    uint8_t *der = NULL, other[1024];
    const uint8_t *d = sig;
    size_t derlen = siglen;
    const struct sign_case *c = x->c;
    EVP_PKEY *pub = from_sea ? x->sea_pub : x->ref;
    if (from_sea) {
        if (rs_to_der(sig, siglen, &der, &derlen) != 0)
            goto out;
        d = der;
    }
    if (!verifies(pub, x->sha256, c->hashed, c->in, c->inlen, d, derlen)) {
        fail("%s: a %s signature does not verify", c->name, from_sea ? "libsea" : "OpenSSL");
        goto out;
    }
    if (c->inlen > sizeof(other)) {
        fail("%s: input too long", c->name);
        goto out;
    }
    memcpy(other, c->in, c->inlen);
    other[0] ^= 0x01;
    if (verifies(pub, x->sha256, c->hashed, other, c->inlen, d, derlen)) {
        fail("%s: a signature verifies over a different input", c->name);
        goto out;
    }
    ret = 0;
out:
    OPENSSL_free(der);
    return ret;
}

/* Sign for at least `ns` nanoseconds; the rate in signatures per second, the last one kept. */
static int sign_round(sign_fn fn, const struct signer *x, uint64_t ns, double *rate, uint8_t *sig,
                      size_t *siglen)
{
    int ret = -1;
    unsigned long n = 0;
    uint64_t t0 = now_ns(), t;
    do {
        if (fn(x, sig, siglen) != 0)
            goto out;
        n++;
        t = now_ns();
    } while (t - t0 < ns);
    *rate = (double)n / secs(t - t0);
    ret = 0;
out:
    return ret;
}

struct sign_result {
    double sea_best, sea_median, ref_best, ref_median;
    double pair_median; /* median of the ratios of adjacent libsea/OpenSSL rounds */
    unsigned checked;   /* signatures verified with OpenSSL */
};

/* Many short rounds, libsea and OpenSSL interleaved (A/B/A/B), so that a slow moment of a shared
 * machine hits both sides alike. The best round of each side is the figure least disturbed by
 * other load; the median ratio of adjacent rounds is a cross-check printed beside it. */
static int sign_case_run(const struct signer *x, const struct plan *p, struct sign_result *r)
{
    int ret = -1;
    uint8_t sig[SIG_MAX];
    size_t siglen;
    double sea[MAX_ROUNDS] = {0}, ref[MAX_ROUNDS] = {0}, pair[MAX_ROUNDS] = {0};
    unsigned rounds = p->sign_rounds < 1            ? 1
                      : p->sign_rounds < MAX_ROUNDS ? p->sign_rounds
                                                    : MAX_ROUNDS;
    memset(r, 0, sizeof(*r));
    /* warm up both paths (first-use key loading, OpenSSL's algorithm fetches) */
    if (sign_round(sea_sign, x, p->sign_round_ns / 10, &sea[0], sig, &siglen) != 0 ||
        sign_round(ossl_sign, x, p->sign_round_ns / 10, &ref[0], sig, &siglen) != 0)
        goto out;
    for (unsigned i = 0; i < rounds; i++) {
        if (sign_round(sea_sign, x, p->sign_round_ns, &sea[i], sig, &siglen) != 0 ||
            check_sig(x, true, sig, siglen) != 0)
            goto out;
        if (sign_round(ossl_sign, x, p->sign_round_ns, &ref[i], sig, &siglen) != 0 ||
            check_sig(x, false, sig, siglen) != 0)
            goto out;
        r->checked += 2;
    }
    for (unsigned i = 0; i < rounds; i++) {
        r->sea_best = sea[i] > r->sea_best ? sea[i] : r->sea_best;
        r->ref_best = ref[i] > r->ref_best ? ref[i] : r->ref_best;
    }
    for (unsigned i = 0; i < rounds; i++)
        pair[i] = sea[i] / ref[i];
    r->pair_median = median_of(pair, rounds);
    r->sea_median = median_of(sea, rounds);
    r->ref_median = median_of(ref, rounds);
    ret = 0;
out:
    return ret;
}

/* A P-256 token key pair generated in the SE. */
static int make_key(const struct p11 *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *pub,
                    CK_OBJECT_HANDLE *priv)
{
    int ret = -1;
    CK_BBOOL yes = CK_TRUE;
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pt[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_VERIFY, &yes, sizeof(yes)},
        {CKA_EC_PARAMS, (void *)P256_OID, sizeof(P256_OID)},
        {CKA_LABEL, (void *)KEY_LABEL, sizeof(KEY_LABEL) - 1},
    };
    CK_ATTRIBUTE kt[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &yes, sizeof(yes)},
        {CKA_SIGN, &yes, sizeof(yes)},
        {CKA_LABEL, (void *)KEY_LABEL, sizeof(KEY_LABEL) - 1},
    };
    CALL(m, C_GenerateKeyPair, (s, &mech, pt, ARRAY_LEN(pt), kt, ARRAY_LEN(kt), pub, priv));
    ret = 0;
out:
    return ret;
}

/* The SE key's public half (CKA_EC_POINT) as an OpenSSL key. */
static int public_key(const struct p11 *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, EVP_PKEY **out)
{
    int ret = -1;
    uint8_t buf[128];
    char group[] = "prime256v1";
    CK_ATTRIBUTE a = {CKA_EC_POINT, buf, sizeof(buf)};
    EVP_PKEY_CTX *pc = NULL;
    const uint8_t *pt = buf;
    size_t len;
    OSSL_PARAM params[3];
    CALL(m, C_GetAttributeValue, (s, h, &a, 1));
    len = a.ulValueLen;
    /* The standard's form is a DER OCTET STRING around the uncompressed point. */
    if (len == 67 && buf[0] == 0x04 && buf[1] == 65) {
        pt += 2;
        len -= 2;
    }
    if (len != 65 || pt[0] != 0x04) {
        fail("CKA_EC_POINT of %lu bytes is not an uncompressed P-256 point",
             (unsigned long)a.ulValueLen);
        goto out;
    }
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pt, len);
    params[2] = OSSL_PARAM_construct_end();
    if (!(pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) || EVP_PKEY_fromdata_init(pc) != 1 ||
        EVP_PKEY_fromdata(pc, out, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        fail_ossl("importing the SE's public key");
        goto out;
    }
    ret = 0;
out:
    EVP_PKEY_CTX_free(pc);
    return ret;
}

static void print_rate_row(struct tally *t, const struct sign_case *c, const struct sign_result *r)
{
    double ratio = r->sea_best / r->ref_best;
    printf("  %-34s %12.0f %12.0f %7.2f   >= %.2f   %s\n", c->name, r->sea_best, r->ref_best, ratio,
           TARGET_SIGN_RATIO, verdict(t, ratio >= TARGET_SIGN_RATIO));
    printf("  %-34s %12.0f %12.0f %7.2f   (medians; ratio: median of round pairs)\n", "",
           r->sea_median, r->ref_median, r->pair_median);
}

static int section_sign(const struct p11 *m, const struct plan *p, struct tally *t)
{
    int ret = -1;
    uint8_t msg[1024];
    uint8_t digest[32];
    CK_OBJECT_HANDLE hpub = CK_INVALID_HANDLE, hpriv = CK_INVALID_HANDLE;
    struct signer x = {.m = m, .s = CK_INVALID_HANDLE};
    struct sign_result res[2];
    unsigned checked = 0;
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i * 131u + 7u);
    const struct sign_case cases[] = {
        {"CKM_ECDSA, 32-byte digest", false, digest, sizeof(digest)},
        {"CKM_ECDSA_SHA256, 1 KiB message", true, msg, sizeof(msg)},
    };

    printf("1. ECDSA P-256 sign: sea-pkcs11.so (token key, user logged in) vs raw OpenSSL\n");
    printf("   %u interleaved rounds of %.3f s per side (%.1f s per side and case); ops/s of the "
           "best round\n",
           p->sign_rounds, secs(p->sign_round_ns), p->sign_rounds * secs(p->sign_round_ns));
    fflush(stdout);
    if (!(x.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) ||
        EVP_Digest(msg, sizeof(msg), digest, NULL, x.sha256, NULL) != 1 ||
        !(x.ref = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"))) {
        fail_ossl("setting up the OpenSSL reference");
        goto out;
    }
    if (user_session(m, SIGN_SE, &x.s) != 0 || make_key(m, x.s, &hpub, &hpriv) != 0 ||
        public_key(m, x.s, hpub, &x.sea_pub) != 0)
        goto out;
    x.key = hpriv;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        x.c = &cases[i];
        if (sign_case_run(&x, p, &res[i]) != 0)
            goto out;
        checked += res[i].checked;
    }
    printf("  %-34s %12s %12s %7s   %-7s   %s\n", "operation", "libsea/s", "OpenSSL/s", "ratio",
           "target", "result");
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        print_rate_row(t, &cases[i], &res[i]);
    printf("  %u signatures checked with OpenSSL (each verifies; a changed input does not)\n\n",
           checked);
    ret = 0;
out:
    if (x.s != CK_INVALID_HANDLE) {
        /* token keys: remove them so that a reused store does not collect one per run */
        if (hpriv != CK_INVALID_HANDLE)
            m->f->C_DestroyObject(x.s, hpriv);
        if (hpub != CK_INVALID_HANDLE)
            m->f->C_DestroyObject(x.s, hpub);
        m->f->C_CloseSession(x.s);
    }
    EVP_PKEY_free(x.sea_pub);
    EVP_PKEY_free(x.ref);
    EVP_MD_free(x.sha256);
    return ret;
}

/* ---- 2. RSA-2048 sign, HMAC-SHA256, AES-256-GCM: throughput and two-thread scaling ---- */

#define TP_MSG_MAX  (64 * 1024)
#define TP_OUT_MAX  (TP_MSG_MAX + 64)
#define TP_THREADS  2
#define GCM_IV_LEN  12
#define GCM_TAG_LEN 16
#define RSA_BITS    2048

static const char TP_SE[] = "bench-tp";
static const char RSA_LABEL[] = "bench-rsa2048";
static const char HMAC_LABEL[] = "bench-hmac";
static const char AES_LABEL[] = "bench-aes256";

enum tp_kind { TP_RSA_PKCS, TP_RSA_PSS, TP_HMAC, TP_GCM };

struct tp_case {
    const char *name;
    enum tp_kind kind;
    size_t len; /* message bytes */
    bool own;   /* HMAC, GCM: each worker uses its own key object (same value) */
};

/* Set up once per run: the SE's keys and their OpenSSL counterparts. The HMAC and AES keys
 * are imported into the SE with a value known here, so that the module's output can be
 * compared byte for byte with OpenSSL's; the RSA key is generated in the SE (its public half
 * checks the module's signatures) and the reference signs with a 2048-bit key of its own. */
struct tp_setup {
    const struct p11 *m;
    CK_SLOT_ID slot;
    bool have_rsa, have_pss; /* the module offers CKM_SHA256_RSA_PKCS / _PSS */
    CK_OBJECT_HANDLE rsa_pub, rsa_priv, hmac_key, aes_key;
    /* one more HMAC and AES key object per worker, same value: the "own keys" cases, where
     * two threads share no key object (only the module's own shared state) */
    CK_OBJECT_HANDLE hmac_own[TP_THREADS], aes_own[TP_THREADS];
    EVP_PKEY *rsa_sea_pub, *rsa_ref;
    EVP_MD *sha256;
    EVP_MAC *hmac;
    EVP_CIPHER *gcm;
    uint8_t key[32]; /* the HMAC key and the AES-256 key (one value: they are separate objects) */
    uint8_t msg[TP_MSG_MAX];
};

/* One thread's state: its own session and OpenSSL contexts, as two independent callers. */
struct tp_worker {
    const struct tp_setup *x;
    const struct tp_case *c;
    CK_SESSION_HANDLE s;
    EVP_MAC_CTX *mac;     /* HMAC-SHA256, digest set once; keyed per message */
    EVP_CIPHER_CTX *cctx; /* AES-256-GCM, cipher set once; key and IV per message */
    uint64_t ctr;         /* GCM IVs: a per-worker counter, as a real sender's */
    uint8_t tag;          /* which worker: first IV byte, so two workers never share an IV */
    unsigned idx;         /* which worker: 0, 1 */
    uint8_t iv[GCM_IV_LEN];
    uint8_t out[TP_OUT_MAX];
    size_t outlen;
    /* one timed run (the thread's arguments and results) */
    int (*fn)(struct tp_worker *w);
    uint64_t ns;
    pthread_barrier_t *start;
    unsigned long n;
    uint64_t elapsed;
    int rc;
};

static void next_iv(struct tp_worker *w)
{
    memset(w->iv, 0, sizeof(w->iv));
    w->iv[0] = w->tag;
    w->ctr++;
    for (int i = 0; i < 8; i++)
        w->iv[GCM_IV_LEN - 1 - i] = (uint8_t)(w->ctr >> (8 * i));
}

/* One operation through the module, as an application does it: Init + the single-part call. */
static int tp_sea(struct tp_worker *w)
{
    int ret = -1;
    const struct p11 *m = w->x->m;
    const struct tp_case *c = w->c;
    CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
    CK_GCM_PARAMS gp = {NULL, GCM_IV_LEN, GCM_IV_LEN * 8, NULL, 0, GCM_TAG_LEN * 8};
    CK_MECHANISM mech = {CKM_SHA256_RSA_PKCS, NULL, 0};
    CK_ULONG len = sizeof(w->out);
    switch (c->kind) {
    case TP_RSA_PSS:
        mech = (CK_MECHANISM){CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof(pss)};
        /* fall through */
    case TP_RSA_PKCS:
        CALL(m, C_SignInit, (w->s, &mech, w->x->rsa_priv));
        CALL(m, C_Sign, (w->s, (CK_BYTE_PTR)w->x->msg, c->len, w->out, &len));
        break;
    case TP_HMAC:
        mech = (CK_MECHANISM){CKM_SHA256_HMAC, NULL, 0};
        CALL(m, C_SignInit, (w->s, &mech, c->own ? w->x->hmac_own[w->idx] : w->x->hmac_key));
        CALL(m, C_Sign, (w->s, (CK_BYTE_PTR)w->x->msg, c->len, w->out, &len));
        break;
    case TP_GCM:
        next_iv(w);
        gp.pIv = w->iv;
        mech = (CK_MECHANISM){CKM_AES_GCM, &gp, sizeof(gp)};
        CALL(m, C_EncryptInit, (w->s, &mech, c->own ? w->x->aes_own[w->idx] : w->x->aes_key));
        CALL(m, C_Encrypt, (w->s, (CK_BYTE_PTR)w->x->msg, c->len, w->out, &len));
        break;
    }
    w->outlen = len;
    ret = 0;
out:
    return ret;
}

/* The same operation with OpenSSL's EVP API in this process: a fresh signing context per RSA
 * signature (as for ECDSA), and for HMAC and GCM a context made once and initialised with the
 * key (and IV) per message, then update + final: what an efficient EVP caller does. */
static int tp_ref(struct tp_worker *w)
{
    int ret = -1;
    const struct tp_setup *x = w->x;
    const struct tp_case *c = w->c;
    EVP_MD_CTX *mc = NULL;
    EVP_PKEY_CTX *pc = NULL;
    size_t len = sizeof(w->out);
    int got = 0, last = 0;
    uint8_t *tag;
    switch (c->kind) {
    case TP_RSA_PKCS:
    case TP_RSA_PSS:
        if (!(mc = EVP_MD_CTX_new()) ||
            EVP_DigestSignInit(mc, &pc, x->sha256, NULL, x->rsa_ref) != 1 ||
            (c->kind == TP_RSA_PSS &&
             (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) != 1 ||
              EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 32) != 1)) ||
            EVP_DigestSign(mc, w->out, &len, x->msg, c->len) != 1) {
            fail_ossl("EVP_DigestSign (RSA)");
            goto out;
        }
        break;
    case TP_HMAC:
        if (EVP_MAC_init(w->mac, x->key, sizeof(x->key), NULL) != 1 ||
            EVP_MAC_update(w->mac, x->msg, c->len) != 1 ||
            EVP_MAC_final(w->mac, w->out, &len, sizeof(w->out)) != 1) {
            fail_ossl("EVP_MAC (HMAC-SHA256)");
            goto out;
        }
        break;
    case TP_GCM:
        next_iv(w);
        if (EVP_EncryptInit_ex2(w->cctx, NULL, x->key, w->iv, NULL) != 1 ||
            EVP_EncryptUpdate(w->cctx, w->out, &got, x->msg, (int)c->len) != 1 ||
            EVP_EncryptFinal_ex(w->cctx, w->out + got, &last) != 1 ||
            !(tag = w->out + got + last) ||
            EVP_CIPHER_CTX_ctrl(w->cctx, EVP_CTRL_AEAD_GET_TAG, GCM_TAG_LEN, tag) != 1) {
            fail_ossl("EVP_Encrypt (AES-256-GCM)");
            goto out;
        }
        len = (size_t)got + (size_t)last + GCM_TAG_LEN;
        break;
    }
    w->outlen = len;
    ret = 0;
out:
    EVP_MD_CTX_free(mc);
    return ret;
}

/* Does an RSA signature verify over msg (PKCS #1 v1.5 or PSS with SHA-256)? */
static bool rsa_verifies(EVP_PKEY *pub, const EVP_MD *md, bool pss, const uint8_t *msg, size_t len,
                         const uint8_t *sig, size_t siglen)
{
    int r = 0;
    EVP_PKEY_CTX *pc = NULL;
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    if (mc && EVP_DigestVerifyInit(mc, &pc, md, NULL, pub) == 1 &&
        (!pss || (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) == 1 &&
                  EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 32) == 1)))
        r = EVP_DigestVerify(mc, sig, siglen, msg, len);
    ERR_clear_error();
    EVP_MD_CTX_free(mc);
    return r == 1;
}

/* Check a worker's last output, so that the figures are known to be of real operations: RSA
 * signatures verify (and not over a changed message), MACs and ciphertexts + tags equal what
 * OpenSSL's one-shot functions compute on the same key, message and IV. */
static int tp_check(const struct tp_worker *w, bool from_sea)
{
    int ret = -1;
    const struct tp_setup *x = w->x;
    const struct tp_case *c = w->c;
    uint8_t other[1024], want[TP_OUT_MAX];
    size_t wantlen = 0;
    int got = 0, last = 0;
    EVP_CIPHER_CTX *cc = NULL;
    const char *who = from_sea ? "libsea" : "OpenSSL";
    switch (c->kind) {
    case TP_RSA_PKCS:
    case TP_RSA_PSS: {
        EVP_PKEY *pub = from_sea ? x->rsa_sea_pub : x->rsa_ref;
        bool pss = c->kind == TP_RSA_PSS;
        size_t n = c->len < sizeof(other) ? c->len : sizeof(other);
        if (w->outlen != RSA_BITS / 8 ||
            !rsa_verifies(pub, x->sha256, pss, x->msg, c->len, w->out, w->outlen)) {
            fail("%s: a %s signature does not verify", c->name, who);
            goto out;
        }
        memcpy(other, x->msg, n);
        other[0] ^= 0x01;
        if (rsa_verifies(pub, x->sha256, pss, other, n, w->out, w->outlen)) {
            fail("%s: a %s signature verifies over a different message", c->name, who);
            goto out;
        }
        break;
    }
    case TP_HMAC:
        if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, x->key, sizeof(x->key), x->msg, c->len,
                       want, sizeof(want), &wantlen)) {
            fail_ossl("EVP_Q_mac");
            goto out;
        }
        break;
    case TP_GCM:
        if (!(cc = EVP_CIPHER_CTX_new()) ||
            EVP_EncryptInit_ex2(cc, x->gcm, x->key, w->iv, NULL) != 1 ||
            EVP_EncryptUpdate(cc, want, &got, x->msg, (int)c->len) != 1 ||
            EVP_EncryptFinal_ex(cc, want + got, &last) != 1 ||
            EVP_CIPHER_CTX_ctrl(cc, EVP_CTRL_AEAD_GET_TAG, GCM_TAG_LEN, want + got + last) != 1) {
            fail_ossl("EVP_Encrypt (check)");
            goto out;
        }
        wantlen = (size_t)got + (size_t)last + GCM_TAG_LEN;
        break;
    }
    if (c->kind == TP_HMAC || c->kind == TP_GCM) {
        if (w->outlen != wantlen || memcmp(w->out, want, wantlen) != 0) {
            fail("%s: the %s output differs from OpenSSL's one-shot result", c->name, who);
            goto out;
        }
    }
    ret = 0;
out:
    EVP_CIPHER_CTX_free(cc);
    return ret;
}

/* Run fn for at least ns nanoseconds. */
static int tp_run(struct tp_worker *w)
{
    unsigned long n = 0;
    uint64_t t0 = now_ns(), t;
    do {
        if (w->fn(w) != 0)
            return -1;
        n++;
        t = now_ns();
    } while (t - t0 < w->ns);
    w->n = n;
    w->elapsed = t - t0;
    return 0;
}

static void *tp_thread(void *arg)
{
    struct tp_worker *w = arg;
    pthread_barrier_wait(w->start);
    w->rc = tp_run(w);
    return NULL;
}

/* One round of `threads` workers running fn together for ns; their combined rate in ops/s.
 * One worker runs in the calling thread; two run in two new threads started together. */
static int tp_round(struct tp_worker *ws, unsigned threads, int (*fn)(struct tp_worker *),
                    uint64_t ns, double *rate)
{
    int ret = -1;
    pthread_t th[TP_THREADS];
    pthread_barrier_t start;
    unsigned started = 0;
    unsigned long n = 0;
    uint64_t longest = 0;
    for (unsigned i = 0; i < threads; i++) {
        ws[i].fn = fn;
        ws[i].ns = ns;
        ws[i].rc = -1;
    }
    if (threads == 1) {
        if (tp_run(&ws[0]) != 0)
            goto out;
    } else {
        if (pthread_barrier_init(&start, NULL, threads) != 0) {
            fail("pthread_barrier_init failed");
            goto out;
        }
        for (; started < threads; started++) {
            ws[started].start = &start;
            if (pthread_create(&th[started], NULL, tp_thread, &ws[started]) != 0)
                break;
        }
        if (started < threads) {
            /* cannot happen with a sane machine; the started ones wait forever otherwise */
            fail("pthread_create failed");
            abort();
        }
        for (unsigned i = 0; i < started; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&start);
        for (unsigned i = 0; i < threads; i++)
            if (ws[i].rc != 0)
                goto out;
    }
    for (unsigned i = 0; i < threads; i++) {
        n += ws[i].n;
        longest = ws[i].elapsed > longest ? ws[i].elapsed : longest;
    }
    *rate = (double)n / secs(longest);
    ret = 0;
out:
    return ret;
}

struct tp_result {
    bool measured;
    double sea_best, ref_best, pair_median;    /* libsea vs OpenSSL, one thread */
    double sea1, sea2, ref1, ref2;             /* best rounds: 1 and 2 threads */
    double sea_scale_median, ref_scale_median; /* median of 2-thread / 1-thread round pairs */
    unsigned checked;
};

static int tp_check_workers(const struct tp_worker *ws, unsigned threads, bool from_sea,
                            unsigned *checked)
{
    for (unsigned i = 0; i < threads; i++) {
        if (tp_check(&ws[i], from_sea) != 0)
            return -1;
        (*checked)++;
    }
    return 0;
}

/* Best-of and median of interleaved round pairs: A/B/A/B as in section 1. */
static int tp_pairs(struct tp_worker *ws, unsigned ta, int (*fa)(struct tp_worker *), unsigned tb,
                    int (*fb)(struct tp_worker *), const struct plan *p, double *best_a,
                    double *best_b, double *median, unsigned *checked)
{
    int ret = -1;
    double a[MAX_ROUNDS], b[MAX_ROUNDS], pair[MAX_ROUNDS];
    unsigned rounds = p->tp_rounds < 1 ? 1 : p->tp_rounds < MAX_ROUNDS ? p->tp_rounds : MAX_ROUNDS;
    *best_a = *best_b = 0;
    for (unsigned i = 0; i < rounds; i++) {
        if (tp_round(ws, ta, fa, p->tp_round_ns, &a[i]) != 0 ||
            tp_check_workers(ws, ta, fa == tp_sea, checked) != 0 ||
            tp_round(ws, tb, fb, p->tp_round_ns, &b[i]) != 0 ||
            tp_check_workers(ws, tb, fb == tp_sea, checked) != 0)
            goto out;
        *best_a = a[i] > *best_a ? a[i] : *best_a;
        *best_b = b[i] > *best_b ? b[i] : *best_b;
        pair[i] = a[i] / b[i];
    }
    *median = median_of(pair, rounds);
    ret = 0;
out:
    return ret;
}

static int tp_case_run(struct tp_worker *ws, const struct tp_case *c, const struct plan *p,
                       struct tp_result *r)
{
    int ret = -1;
    double warm;
    for (unsigned i = 0; i < TP_THREADS; i++)
        ws[i].c = c;
    /* warm up both paths (first use of the key, OpenSSL's fetches) */
    if (tp_round(ws, 1, tp_sea, p->tp_round_ns / 10, &warm) != 0 ||
        tp_round(ws, 1, tp_ref, p->tp_round_ns / 10, &warm) != 0)
        goto out;
    if (tp_pairs(ws, 1, tp_sea, 1, tp_ref, p, &r->sea_best, &r->ref_best, &r->pair_median,
                 &r->checked) != 0 ||
        tp_pairs(ws, TP_THREADS, tp_sea, 1, tp_sea, p, &r->sea2, &r->sea1, &r->sea_scale_median,
                 &r->checked) != 0 ||
        tp_pairs(ws, TP_THREADS, tp_ref, 1, tp_ref, p, &r->ref2, &r->ref1, &r->ref_scale_median,
                 &r->checked) != 0)
        goto out;
    r->measured = true;
    ret = 0;
out:
    return ret;
}

/* Does the slot's device offer mechanism t for flag? */
static bool offers(const struct p11 *m, CK_SLOT_ID slot, CK_MECHANISM_TYPE t, CK_FLAGS flag)
{
    CK_MECHANISM_INFO mi;
    return m->f->C_GetMechanismInfo(slot, t, &mi) == CKR_OK && (mi.flags & flag);
}

/* A big-endian CK_ATTRIBUTE value as a BIGNUM. */
static BIGNUM *attr_bn(const struct p11 *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                       CK_ATTRIBUTE_TYPE t)
{
    uint8_t buf[1024];
    CK_ATTRIBUTE a = {t, buf, sizeof(buf)};
    CK_RV rv = m->f->C_GetAttributeValue(s, h, &a, 1);
    if (rv != CKR_OK) {
        fail_ck(m, "C_GetAttributeValue (RSA public key)", rv);
        return NULL;
    }
    return BN_bin2bn(buf, (int)a.ulValueLen, NULL);
}

/* The SE's RSA key pair (generated in the SE, token objects) and its public half for OpenSSL. */
static int tp_rsa_key(struct tp_setup *x, CK_SESSION_HANDLE s)
{
    int ret = -1;
    const struct p11 *m = x->m;
    CK_BBOOL yes = CK_TRUE;
    CK_ULONG bits = RSA_BITS;
    static const CK_BYTE f4[] = {0x01, 0x00, 0x01};
    CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pt[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_VERIFY, &yes, sizeof(yes)},
        {CKA_MODULUS_BITS, &bits, sizeof(bits)},
        {CKA_PUBLIC_EXPONENT, (void *)f4, sizeof(f4)},
        {CKA_LABEL, (void *)RSA_LABEL, sizeof(RSA_LABEL) - 1},
    };
    CK_ATTRIBUTE kt[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &yes, sizeof(yes)},
        {CKA_SIGN, &yes, sizeof(yes)},
        {CKA_LABEL, (void *)RSA_LABEL, sizeof(RSA_LABEL) - 1},
    };
    BIGNUM *n = NULL, *e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pc = NULL;
    CALL(m, C_GenerateKeyPair,
         (s, &mech, pt, ARRAY_LEN(pt), kt, ARRAY_LEN(kt), &x->rsa_pub, &x->rsa_priv));
    if (!(n = attr_bn(m, s, x->rsa_pub, CKA_MODULUS)) ||
        !(e = attr_bn(m, s, x->rsa_pub, CKA_PUBLIC_EXPONENT)))
        goto out;
    if (BN_num_bits(n) != RSA_BITS) {
        fail("the SE's RSA key has %d bits, not %d", BN_num_bits(n), RSA_BITS);
        goto out;
    }
    if (!(bld = OSSL_PARAM_BLD_new()) || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
        !(params = OSSL_PARAM_BLD_to_param(bld)) ||
        !(pc = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) || EVP_PKEY_fromdata_init(pc) != 1 ||
        EVP_PKEY_fromdata(pc, &x->rsa_sea_pub, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        fail_ossl("importing the SE's RSA public key");
        goto out;
    }
    ret = 0;
out:
    BN_free(n);
    BN_free(e);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(pc);
    return ret;
}

/* A secret token key in the SE with the value x->key (sensitive, the user's). */
static int tp_secret_key(struct tp_setup *x, CK_SESSION_HANDLE s, CK_KEY_TYPE kt, const char *label,
                         CK_OBJECT_HANDLE *h)
{
    int ret = -1;
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_BBOOL yes = CK_TRUE;
    bool aes = kt == CKK_AES;
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &yes, sizeof(yes)},
        {aes ? CKA_ENCRYPT : CKA_SIGN, &yes, sizeof(yes)},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_VALUE, x->key, sizeof(x->key)},
    };
    CALL(x->m, C_CreateObject, (s, t, ARRAY_LEN(t), h));
    ret = 0;
out:
    return ret;
}

static void tp_workers_free(const struct p11 *m, struct tp_worker *ws)
{
    for (unsigned i = 0; i < TP_THREADS; i++) {
        if (ws[i].s != CK_INVALID_HANDLE)
            m->f->C_CloseSession(ws[i].s);
        EVP_MAC_CTX_free(ws[i].mac);
        EVP_CIPHER_CTX_free(ws[i].cctx);
    }
}

static int tp_workers_make(struct tp_setup *x, struct tp_worker *ws)
{
    int ret = -1;
    const struct p11 *m = x->m;
    OSSL_PARAM dp[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                       OSSL_PARAM_END};
    for (unsigned i = 0; i < TP_THREADS; i++) {
        ws[i].x = x;
        ws[i].tag = (uint8_t)(0x10 + i);
        ws[i].idx = i;
        /* the user is logged in to the SE already: the login is the token's */
        CALL(m, C_OpenSession, (x->slot, CKF_SERIAL_SESSION, NULL, NULL, &ws[i].s));
        if (!(ws[i].mac = EVP_MAC_CTX_new(x->hmac)) || EVP_MAC_CTX_set_params(ws[i].mac, dp) != 1 ||
            !(ws[i].cctx = EVP_CIPHER_CTX_new()) ||
            EVP_EncryptInit_ex2(ws[i].cctx, x->gcm, NULL, NULL, NULL) != 1) {
            fail_ossl("setting up the OpenSSL contexts");
            goto out;
        }
    }
    ret = 0;
out:
    return ret;
}

static long usable_cpus(void)
{
    cpu_set_t set;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) < online)
        return CPU_COUNT(&set);
    return online;
}

static void tp_print(struct tally *t, const struct tp_case *c, const struct tp_result *r)
{
    double ratio = r->sea_best / r->ref_best;
    double mib = (double)c->len / (1024.0 * 1024.0);
    if (c->kind == TP_HMAC || c->kind == TP_GCM)
        printf("  %-34s %10.0f %10.0f %7.2f   >= %.2f   %s   (%.0f / %.0f MiB/s)\n", c->name,
               r->sea_best, r->ref_best, ratio, TARGET_TP_RATIO,
               verdict(t, ratio >= TARGET_TP_RATIO), r->sea_best * mib, r->ref_best * mib);
    else
        printf("  %-34s %10.0f %10.0f %7.2f   >= %.2f   %s\n", c->name, r->sea_best, r->ref_best,
               ratio, TARGET_TP_RATIO, verdict(t, ratio >= TARGET_TP_RATIO));
    printf("  %-34s %10s %10s %7.2f   (median of round pairs)\n", "", "", "", r->pair_median);
}

static void tp_print_scale(struct tally *t, const struct tp_case *c, const struct tp_result *r,
                           long cpus)
{
    double s = r->sea2 / r->sea1, o = r->ref2 / r->ref1;
    const char *v = cpus < TP_THREADS ? "n/a (1 CPU)" : verdict(t, s >= TARGET_TP_SCALING);
    printf("  %-34s %9.0f %9.0f %6.2f  %6.2f   >= %.1f  %-6s OpenSSL %.2f / %.2f\n", c->name,
           r->sea1, r->sea2, s, r->sea_scale_median, TARGET_TP_SCALING, v, o, r->ref_scale_median);
}

static int section_tp(const struct p11 *m, const struct plan *p, struct tally *t)
{
    int ret = -1;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    struct tp_setup *x = NULL;
    struct tp_worker ws[TP_THREADS];
    unsigned checked = 0;
    long cpus = usable_cpus();
    const struct tp_case cases[] = {
        {"CKM_SHA256_RSA_PKCS, 1 KiB", TP_RSA_PKCS, 1024, false},
        {"CKM_SHA256_RSA_PKCS_PSS, 1 KiB", TP_RSA_PSS, 1024, false},
        {"CKM_SHA256_HMAC, 1 KiB", TP_HMAC, 1024, false},
        {"CKM_SHA256_HMAC, 64 KiB", TP_HMAC, 64 * 1024, false},
        {"CKM_AES_GCM (256-bit key), 1 KiB", TP_GCM, 1024, false},
        {"CKM_AES_GCM (256-bit key), 64 KiB", TP_GCM, 64 * 1024, false},
        {"CKM_SHA256_HMAC, 1 KiB, own keys", TP_HMAC, 1024, true},
        {"CKM_SHA256_HMAC, 64 KiB, own keys", TP_HMAC, 64 * 1024, true},
        {"CKM_AES_GCM, 1 KiB, own keys", TP_GCM, 1024, true},
        {"CKM_AES_GCM, 64 KiB, own keys", TP_GCM, 64 * 1024, true},
    };
    struct tp_result res[ARRAY_LEN(cases)];
    memset(ws, 0, sizeof(ws));
    memset(res, 0, sizeof(res));
    for (unsigned i = 0; i < TP_THREADS; i++)
        ws[i].s = CK_INVALID_HANDLE;

    printf("2. RSA-2048 sign, HMAC-SHA256, AES-256-GCM through sea-pkcs11.so (token keys, user "
           "logged in) vs raw OpenSSL\n");
    printf("   per operation: C_xxxInit + C_Sign/C_Encrypt vs EVP init + update + final; %u "
           "interleaved rounds of %.3f s per side; ops/s of the best round\n",
           p->tp_rounds, secs(p->tp_round_ns));
    fflush(stdout);
    if (!(x = calloc(1, sizeof(*x)))) {
        fail("out of memory");
        goto out;
    }
    x->m = m;
    x->rsa_pub = x->rsa_priv = x->hmac_key = x->aes_key = CK_INVALID_HANDLE;
    for (unsigned i = 0; i < TP_THREADS; i++)
        x->hmac_own[i] = x->aes_own[i] = CK_INVALID_HANDLE;
    for (size_t i = 0; i < sizeof(x->msg); i++)
        x->msg[i] = (uint8_t)(i * 131u + 7u);
    for (size_t i = 0; i < sizeof(x->key); i++)
        x->key[i] = (uint8_t)(0xa5 ^ (i * 29u));
    if (!(x->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) ||
        !(x->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL)) ||
        !(x->gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL)) ||
        !(x->rsa_ref = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)RSA_BITS))) {
        fail_ossl("setting up the OpenSSL reference");
        goto out;
    }
    if (user_session(m, TP_SE, &s) != 0)
        goto out;
    {
        CK_SESSION_INFO si;
        CALL(m, C_GetSessionInfo, (s, &si));
        x->slot = si.slotID;
    }
    x->have_rsa = offers(m, x->slot, CKM_RSA_PKCS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR) &&
                  offers(m, x->slot, CKM_SHA256_RSA_PKCS, CKF_SIGN);
    x->have_pss = x->have_rsa && offers(m, x->slot, CKM_SHA256_RSA_PKCS_PSS, CKF_SIGN);
    if ((x->have_rsa && tp_rsa_key(x, s) != 0) ||
        tp_secret_key(x, s, CKK_GENERIC_SECRET, HMAC_LABEL, &x->hmac_key) != 0 ||
        tp_secret_key(x, s, CKK_AES, AES_LABEL, &x->aes_key) != 0 || tp_workers_make(x, ws) != 0)
        goto out;
    for (unsigned i = 0; i < TP_THREADS; i++)
        if (tp_secret_key(x, s, CKK_GENERIC_SECRET, HMAC_LABEL, &x->hmac_own[i]) != 0 ||
            tp_secret_key(x, s, CKK_AES, AES_LABEL, &x->aes_own[i]) != 0)
            goto out;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        if ((cases[i].kind == TP_RSA_PKCS && !x->have_rsa) ||
            (cases[i].kind == TP_RSA_PSS && !x->have_pss))
            continue;
        if (tp_case_run(ws, &cases[i], p, &res[i]) != 0)
            goto out;
        checked += res[i].checked;
    }
    printf("  %-34s %10s %10s %7s   %-7s   %s\n", "operation", "libsea/s", "OpenSSL/s", "ratio",
           "target", "result");
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        if (res[i].measured)
            tp_print(t, &cases[i], &res[i]);
        else
            printf("  %-34s not measured: the module does not offer %s\n", cases[i].name,
                   cases[i].kind == TP_RSA_PSS && x->have_rsa ? "CKM_SHA256_RSA_PKCS_PSS"
                                                              : "RSA key generation and signing");
    }
    printf("\n  two threads, each on its own session (and, for OpenSSL, its own contexts): "
           "%u interleaved 1-thread / 2-thread rounds; %ld CPUs usable\n"
           "  (rows without \"own keys\": both threads use the same key object; with it, each "
           "thread its own object of the same value)\n",
           p->tp_rounds, cpus);
    if (cpus < TP_THREADS)
        printf("  this machine has fewer than %d CPUs: the scaling target cannot be met here and "
               "is not judged\n",
               TP_THREADS);
    printf("  %-34s %9s %9s %6s  %6s   %-6s %-6s %s\n", "operation (libsea)", "1 thr/s", "2 thr/s",
           "x", "median", "target", "result", "same for OpenSSL (best / median)");
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        if (res[i].measured)
            tp_print_scale(t, &cases[i], &res[i], cpus);
    printf("  %u outputs checked with OpenSSL (signatures verify, and not over a changed message; "
           "MACs and ciphertexts + tags equal OpenSSL's)\n\n",
           checked);
    ret = 0;
out:
    tp_workers_free(m, ws);
    if (s != CK_INVALID_HANDLE) {
        /* token objects: remove them so that a reused store does not collect them */
        CK_OBJECT_HANDLE hs[] = {
            x ? x->rsa_priv : CK_INVALID_HANDLE, x ? x->rsa_pub : CK_INVALID_HANDLE,
            x ? x->hmac_key : CK_INVALID_HANDLE, x ? x->aes_key : CK_INVALID_HANDLE};
        for (size_t i = 0; i < ARRAY_LEN(hs); i++)
            if (hs[i] != CK_INVALID_HANDLE)
                m->f->C_DestroyObject(s, hs[i]);
        for (unsigned i = 0; x && i < TP_THREADS; i++) {
            if (x->hmac_own[i] != CK_INVALID_HANDLE)
                m->f->C_DestroyObject(s, x->hmac_own[i]);
            if (x->aes_own[i] != CK_INVALID_HANDLE)
                m->f->C_DestroyObject(s, x->aes_own[i]);
        }
        m->f->C_CloseSession(s);
    }
    if (x) {
        EVP_PKEY_free(x->rsa_sea_pub);
        EVP_PKEY_free(x->rsa_ref);
        EVP_MD_free(x->sha256);
        EVP_MAC_free(x->hmac);
        EVP_CIPHER_free(x->gcm);
        OPENSSL_cleanse(x->key, sizeof(x->key));
        free(x);
    }
    return ret;
}

/* ---- 3. find by label ---- */

#define LABEL_MAX 32

struct find_result {
    size_t objects;
    size_t created;    /* objects this run had to add */
    double populate_s; /* time it took */
    unsigned lookups;
    uint64_t p50, p90, p99, max; /* ns */
};

static int obj_label(char *buf, size_t i)
{
    return snprintf(buf, LABEL_MAX, "obj-%07zu", i);
}

static void se_label(char *buf, size_t objects)
{
    snprintf(buf, LABEL_MAX, "bench-find-%zu", objects);
}

/* End a find, reporting a failure only if nothing failed before. */
static int find_final(const struct p11 *m, CK_SESSION_HANDLE s, int ret)
{
    CK_RV rv = m->f->C_FindObjectsFinal(s);
    if (rv != CKR_OK && ret == 0) {
        fail_ck(m, "C_FindObjectsFinal", rv);
        return -1;
    }
    return ret;
}

/* How many objects of the session match a template. */
static int count_matches(const struct p11 *m, CK_SESSION_HANDLE s, CK_ATTRIBUTE *t, CK_ULONG nt,
                         size_t *count)
{
    int ret = -1;
    bool active = false;
    CK_OBJECT_HANDLE h[1024];
    CK_ULONG got;
    *count = 0;
    CALL(m, C_FindObjectsInit, (s, t, nt));
    active = true;
    do {
        CALL(m, C_FindObjects, (s, h, ARRAY_LEN(h), &got));
        *count += got;
    } while (got > 0);
    ret = 0;
out:
    return active ? find_final(m, s, ret) : ret;
}

static int count_label(const struct p11 *m, CK_SESSION_HANDLE s, size_t i, size_t *count)
{
    char label[LABEL_MAX];
    CK_ATTRIBUTE t = {CKA_LABEL, label, (CK_ULONG)obj_label(label, i)};
    return count_matches(m, s, &t, 1, count);
}

/* Add objects have..want-1 as private CKO_DATA token objects with unique labels. */
static int populate(const struct p11 *m, CK_SESSION_HANDLE s, const char *se, size_t have,
                    size_t want)
{
    int ret = -1;
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL yes = CK_TRUE;
    CK_OBJECT_HANDLE h;
    char label[LABEL_MAX];
    static const char app[] = "libsea bench";
    uint8_t value[32];
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_LABEL, label, 0},
        {CKA_APPLICATION, (void *)app, sizeof(app) - 1},
        {CKA_VALUE, value, sizeof(value)},
    };
    const size_t batch = 1000;
    /* a line per tenth on a log, a rewritten line per batch on a terminal */
    bool tty = isatty(STDERR_FILENO);
    size_t every = tty || want / 10 < batch ? batch : want / 10;
    uint64_t t0 = now_ns();
    for (size_t i = have; i < want; i++) {
        t[3].ulValueLen = (CK_ULONG)obj_label(label, i);
        for (size_t k = 0; k < sizeof(value); k++)
            value[k] = (uint8_t)(i >> (8 * (k % 4))) ^ (uint8_t)k;
        CALL(m, C_CreateObject, (s, t, ARRAY_LEN(t), &h));
        if ((i + 1) % every == 0 || i + 1 == want)
            fprintf(stderr, "%s  populating %s: %zu/%zu objects, %.1f s%s", tty ? "\r" : "", se,
                    i + 1, want, secs(now_ns() - t0), tty && i + 1 < want ? "" : "\n");
    }
    ret = 0;
out:
    return ret;
}

/* Make sure the SE holds exactly objects 0..want-1, adding what a reused store lacks. */
static int ensure_objects(const struct p11 *m, CK_SESSION_HANDLE s, const char *se, size_t want,
                          struct find_result *r)
{
    int ret = -1;
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_ATTRIBUTE t = {CKA_CLASS, &cls, sizeof(cls)};
    size_t have, last = 1, next = 0;
    uint64_t t0;
    if (count_matches(m, s, &t, 1, &have) != 0)
        goto out;
    /* objects are added in label order, so a partial store holds 0..have-1 */
    if (have > 0 &&
        (count_label(m, s, have - 1, &last) != 0 || count_label(m, s, have, &next) != 0))
        goto out;
    if (have > want || last != 1 || next != 0) {
        fail("SE %s holds %zu data objects that are not obj-0..obj-%zu: remove the store", se, have,
             want - 1);
        goto out;
    }
    t0 = now_ns();
    if (populate(m, s, se, have, want) != 0)
        goto out;
    r->created = want - have;
    r->populate_s = secs(now_ns() - t0);
    ret = 0;
out:
    return ret;
}

/* One timed lookup: C_FindObjectsInit({CKA_LABEL}) + C_FindObjects + C_FindObjectsFinal. It
 * must find exactly one object, the one with that label. */
static int lookup(const struct p11 *m, CK_SESSION_HANDLE s, size_t i, uint64_t *ns)
{
    int ret = -1;
    char label[LABEL_MAX], back[LABEL_MAX];
    CK_ULONG len = (CK_ULONG)obj_label(label, i);
    CK_ATTRIBUTE t = {CKA_LABEL, label, len};
    CK_ATTRIBUTE a = {CKA_LABEL, back, sizeof(back)};
    CK_OBJECT_HANDLE h[2];
    CK_ULONG got = 0;
    CK_RV rv, rv_final = CKR_OK;
    uint64_t t0 = now_ns();
    rv = m->f->C_FindObjectsInit(s, &t, 1);
    if (rv == CKR_OK) {
        rv = m->f->C_FindObjects(s, h, ARRAY_LEN(h), &got);
        rv_final = m->f->C_FindObjectsFinal(s);
    }
    *ns = now_ns() - t0;
    if (rv != CKR_OK || rv_final != CKR_OK) {
        fail_ck(m, rv != CKR_OK ? "C_FindObjectsInit/C_FindObjects" : "C_FindObjectsFinal",
                rv != CKR_OK ? rv : rv_final);
        goto out;
    }
    if (got != 1) {
        fail("looking up label %s found %lu objects, not exactly one", label, (unsigned long)got);
        goto out;
    }
    CALL(m, C_GetAttributeValue, (s, h[0], &a, 1));
    if (a.ulValueLen != len || memcmp(back, label, len) != 0) {
        fail("looking up label %s found an object with another label", label);
        goto out;
    }
    ret = 0;
out:
    return ret;
}

/* A label no object has must find nothing: the find really filters on the label. */
static int lookup_missing(const struct p11 *m, CK_SESSION_HANDLE s)
{
    int ret = -1;
    static const char label[] = "obj-missing";
    CK_ATTRIBUTE t = {CKA_LABEL, (void *)label, sizeof(label) - 1};
    size_t count;
    if (count_matches(m, s, &t, 1, &count) != 0)
        goto out;
    if (count != 0) {
        fail("looking up label %s, which no object has, found %zu objects", label, count);
        goto out;
    }
    ret = 0;
out:
    return ret;
}

/* `count` lookups of random existing labels; latencies sorted into lat. */
static int lookups(const struct p11 *m, CK_SESSION_HANDLE s, size_t objects, unsigned count,
                   uint64_t *seed, uint64_t *lat)
{
    int ret = -1;
    for (unsigned i = 0; i < count; i++)
        if (lookup(m, s, (size_t)(rng_next(seed) % objects), &lat[i]) != 0)
            goto out;
    qsort(lat, count, sizeof(*lat), cmp_u64);
    ret = 0;
out:
    return ret;
}

static int find_one_size(const struct p11 *m, const struct plan *p, size_t objects,
                         struct find_result *r)
{
    int ret = -1;
    char se[LABEL_MAX];
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    uint64_t seed = 0x5EA0000000000000ull ^ objects;
    uint64_t *lat =
        calloc(p->lookups > p->warmup_lookups ? p->lookups : p->warmup_lookups, sizeof(*lat));
    memset(r, 0, sizeof(*r));
    r->objects = objects;
    se_label(se, objects);
    if (!lat) {
        fail("out of memory");
        goto out;
    }
    if (user_session(m, se, &s) != 0 || ensure_objects(m, s, se, objects, r) != 0)
        goto out;
    /* untimed first: SQLite's page cache and the core's caches as a running service has them */
    if (lookups(m, s, objects, p->warmup_lookups, &seed, lat) != 0 ||
        lookups(m, s, objects, p->lookups, &seed, lat) != 0 || lookup_missing(m, s) != 0)
        goto out;
    r->lookups = p->lookups;
    r->p50 = percentile(lat, p->lookups, 50);
    r->p90 = percentile(lat, p->lookups, 90);
    r->p99 = percentile(lat, p->lookups, 99);
    r->max = lat[p->lookups - 1];
    ret = 0;
out:
    if (s != CK_INVALID_HANDLE)
        m->f->C_CloseSession(s);
    free(lat);
    return ret;
}

static int section_find(const struct p11 *m, const struct plan *p, struct tally *t)
{
    int ret = -1;
    struct find_result r[MAX_SIZES];
    printf("3. find by label: C_FindObjectsInit({CKA_LABEL}) + C_FindObjects + "
           "C_FindObjectsFinal\n");
    printf("   private CKO_DATA token objects with unique labels, one SE per size; %u random "
           "lookups each\n   (added: objects this run had to create; a reused --store needs "
           "none)\n",
           p->lookups);
    fflush(stdout);
    for (size_t i = 0; i < MAX_SIZES; i++)
        if (find_one_size(m, p, p->sizes[i], &r[i]) != 0)
            goto out;
    printf("  %8s %7s %8s %7s %8s %8s %8s %9s   %-9s  %s\n", "objects", "added", "in", "add/s",
           "p50 us", "p90 us", "p99 us", "max us", "target", "result");
    for (size_t i = 0; i < MAX_SIZES; i++) {
        char took[16] = "-", rate[16] = "-";
        if (r[i].created) {
            snprintf(took, sizeof(took), "%.2f s", r[i].populate_s);
            snprintf(rate, sizeof(rate), "%.0f", (double)r[i].created / r[i].populate_s);
        }
        double p50 = (double)r[i].p50 / 1e3;
        printf("  %8zu %7zu %8s %7s %8.1f %8.1f %8.1f %9.1f   p50 < %.0f  %s\n", r[i].objects,
               r[i].created, took, rate, p50, (double)r[i].p90 / 1e3, (double)r[i].p99 / 1e3,
               (double)r[i].max / 1e3, TARGET_FIND_P50_US, verdict(t, p50 < TARGET_FIND_P50_US));
    }
    double scaling = (double)r[MAX_SIZES - 1].p50 / (double)r[0].p50;
    printf("  each lookup found exactly the object with its label; a label no object has found "
           "none\n");
    printf("  p50 with %zu objects / p50 with %zu objects = %.2f   target <= %.1f   %s\n\n",
           r[MAX_SIZES - 1].objects, r[0].objects, scaling, TARGET_FIND_SCALING,
           verdict(t, scaling <= TARGET_FIND_SCALING));
    ret = 0;
out:
    return ret;
}

/* ---- 4. C_Initialize on a large store, in a fresh process ---- */

struct child_result {
    double load_ms, init_ms, login_ms, finds_ms;
    unsigned long base_rss_kb, rss_kb, hwm_kb;
};

/* The hidden --child-init mode: load the module, initialise, log in, look up CHILD_FINDS
 * labels and report the times and memory on one line of stdout. */
static int child_main(const struct opts *o)
{
    int ret = -1;
    struct p11 m;
    bool initialized = false;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    struct child_result r;
    uint64_t seed = 0x5EA0C0DEull, ns, t0, t1, t2, t3, t4;
    unsigned long hwm0;
    memset(&m, 0, sizeof(m));
    if (read_mem(&r.base_rss_kb, &hwm0) != 0)
        goto out;
    t0 = now_ns();
    if (p11_load(&m, o->module) != 0)
        goto out;
    t1 = now_ns();
    CALL(&m, C_Initialize, (NULL));
    t2 = now_ns();
    initialized = true;
    if (user_session(&m, o->child_se, &s) != 0)
        goto out;
    t3 = now_ns();
    for (unsigned i = 0; i < CHILD_FINDS; i++)
        if (lookup(&m, s, (size_t)(rng_next(&seed) % o->child_objects), &ns) != 0)
            goto out;
    t4 = now_ns();
    if (read_mem(&r.rss_kb, &r.hwm_kb) != 0)
        goto out;
    printf("load_ms=%.3f init_ms=%.3f login_ms=%.3f finds_ms=%.3f base_rss_kb=%lu rss_kb=%lu "
           "hwm_kb=%lu\n",
           (double)(t1 - t0) / 1e6, (double)(t2 - t1) / 1e6, (double)(t3 - t2) / 1e6,
           (double)(t4 - t3) / 1e6, r.base_rss_kb, r.rss_kb, r.hwm_kb);
    ret = 0;
out:
    if (s != CK_INVALID_HANDLE)
        m.f->C_CloseSession(s);
    if (initialized)
        m.f->C_Finalize(NULL);
    p11_unload(&m);
    return ret;
}

/* Run this program again with --child-init (fork + exec, so that nothing of this process is
 * inherited but the environment) and read its figures. */
static int run_child(const char *module, const char *se, size_t objects, struct child_result *r)
{
    int ret = -1, fds[2] = {-1, -1}, status;
    char self[4096], nobj[32], line[512];
    ssize_t len;
    size_t used = 0;
    pid_t pid;
    char *argv[] = {self,        "--child-init", "--module", (char *)module, "--se", (char *)se,
                    "--objects", nobj,           NULL};
    if ((len = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0) {
        fail("/proc/self/exe: %s", strerror(errno));
        goto out;
    }
    self[len] = '\0';
    snprintf(nobj, sizeof(nobj), "%zu", objects);
    if (pipe2(fds, O_CLOEXEC) != 0) {
        fail("pipe: %s", strerror(errno));
        goto out;
    }
    fflush(NULL);
    if ((pid = fork()) < 0) {
        fail("fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        if (dup2(fds[1], STDOUT_FILENO) >= 0)
            execv(self, argv);
        _exit(127);
    }
    close(fds[1]);
    fds[1] = -1;
    /* read to the end (keeping the first line's worth) so that the child never blocks */
    for (;;) {
        char chunk[512];
        if ((len = read(fds[0], chunk, sizeof(chunk))) < 0 && errno == EINTR)
            continue;
        if (len <= 0)
            break;
        size_t take = (size_t)len < sizeof(line) - 1 - used ? (size_t)len : sizeof(line) - 1 - used;
        memcpy(line + used, chunk, take);
        used += take;
    }
    line[used] = '\0';
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            fail("waitpid: %s", strerror(errno));
            goto out;
        }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fail("the --child-init process failed (status 0x%x)", (unsigned)status);
        goto out;
    }
    if (sscanf(line,
               "load_ms=%lf init_ms=%lf login_ms=%lf finds_ms=%lf base_rss_kb=%lu rss_kb=%lu "
               "hwm_kb=%lu",
               &r->load_ms, &r->init_ms, &r->login_ms, &r->finds_ms, &r->base_rss_kb, &r->rss_kb,
               &r->hwm_kb) != 7) {
        fail("the --child-init process printed no figures");
        goto out;
    }
    ret = 0;
out:
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    return ret;
}

static int section_init(const char *module, const struct plan *p, struct tally *t)
{
    int ret = -1;
    size_t objects = p->sizes[MAX_SIZES - 1];
    char se[LABEL_MAX];
    struct child_result r[8];
    double load[8] = {0}, init[8] = {0}, total[8] = {0}, login[8] = {0}, finds[8] = {0};
    unsigned long rss = 0, hwm = 0, base = 0;
    unsigned runs = p->init_runs < 1 ? 1 : p->init_runs < 8 ? p->init_runs : 8;
    se_label(se, objects);
    printf("4. C_Initialize with %zu objects in the store: %u fresh processes (fork + exec), "
           "median\n",
           objects, runs);
    fflush(stdout);
    for (unsigned i = 0; i < runs; i++) {
        if (run_child(module, se, objects, &r[i]) != 0)
            goto out;
        load[i] = r[i].load_ms;
        init[i] = r[i].init_ms;
        total[i] = r[i].load_ms + r[i].init_ms;
        login[i] = r[i].login_ms;
        finds[i] = r[i].finds_ms;
        rss = r[i].rss_kb > rss ? r[i].rss_kb : rss;
        hwm = r[i].hwm_kb > hwm ? r[i].hwm_kb : hwm;
        base = r[i].base_rss_kb > base ? r[i].base_rss_kb : base;
    }
    double tmed = median_of(total, runs);
    printf("  %-44s %9.2f ms\n", "dlopen + C_GetInterface", median_of(load, runs));
    printf("  %-44s %9.2f ms\n", "C_Initialize", median_of(init, runs));
    printf("  %-44s %9.2f ms   target < %.0f ms     %s\n", "dlopen + C_GetInterface + C_Initialize",
           tmed, TARGET_INIT_MS, verdict(t, tmed < TARGET_INIT_MS));
    printf("  %-44s %9.2f ms   (not a target; kdf_iterations = 1000)\n", "C_OpenSession + C_Login",
           median_of(login, runs));
    printf("  %-44s %9.2f ms\n", "1000 finds by label (checked)", median_of(finds, runs));
    printf("  %-44s %9.1f MiB  target <= %.0f MiB   %s\n", "VmRSS after init, login, 1000 finds",
           rss / 1024.0, TARGET_RSS_KB / 1024.0, verdict(t, rss <= TARGET_RSS_KB));
    printf("  %-44s %9.1f MiB  target <= %.0f MiB   %s\n", "VmHWM (peak RSS)", hwm / 1024.0,
           TARGET_RSS_KB / 1024.0, verdict(t, hwm <= TARGET_RSS_KB));
    printf("  (worst of the runs; the bench process itself, before dlopen: %.1f MiB)\n\n",
           base / 1024.0);
    ret = 0;
out:
    return ret;
}

/* ---- the run ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* The store directory and its sea.conf (SEA_CONF points at it for this process and the
 * children). kdf_iterations = 1000: login speed is not measured, and logins stay fast. */
static int setup_store(const char *want, char *dir, size_t cap, bool *temporary)
{
    int ret = -1;
    char conf[4200];
    FILE *f = NULL;
    *temporary = !want;
    if (want) {
        if (mkdir(want, 0700) != 0 && errno != EEXIST) {
            fail("%s: %s", want, strerror(errno));
            goto out;
        }
        if (!realpath(want, dir)) {
            fail("%s: %s", want, strerror(errno));
            goto out;
        }
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, cap, "%s/sea-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir)) {
            fail("%s: %s", dir, strerror(errno));
            goto out;
        }
    }
    snprintf(conf, sizeof(conf), "%s/sea.conf", dir);
    if (!(f = fopen(conf, "w"))) {
        fail("%s: %s", conf, strerror(errno));
        goto out;
    }
    fprintf(f,
            "# written by tests/bench\n[device soft]\nbackend = soft\npath = %s/store\n"
            "kdf_iterations = 1000\n",
            dir);
    if (fclose(f) != 0) {
        f = NULL;
        fail("%s: %s", conf, strerror(errno));
        goto out;
    }
    f = NULL;
    if (setenv("SEA_CONF", conf, 1) != 0) {
        fail("setenv: %s", strerror(errno));
        goto out;
    }
    ret = 0;
out:
    if (f)
        fclose(f);
    return ret;
}

static void cpu_model(char *out, size_t cap)
{
    char line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    snprintf(out, cap, "unknown CPU");
    while (f && fgets(line, sizeof(line), f)) {
        char *v = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && v) {
            v += strspn(v + 1, " \t") + 1;
            v[strcspn(v, "\n")] = '\0';
            snprintf(out, cap, "%s", v);
            break;
        }
    }
    if (f)
        fclose(f);
}

/* The 1-minute load average: other work on a shared machine shows up in the figures. */
static double load_average(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f && fscanf(f, "%lf", &l) != 1)
        l = -1;
    if (f)
        fclose(f);
    return l;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench [--quick] [--throughput] [--store DIR] [--module PATH]\n"
               "  --quick        100/1,000/10,000 objects and short timings (a smoke run)\n"
               "  --throughput   section 2 only (RSA, HMAC, GCM throughput and scaling)\n"
               "  --store DIR    keep the store in DIR and reuse it (adds only what is missing)\n"
               "  --module PATH  sea-pkcs11.so to measure (default: $SEA_MODULE)\n"
               "Prints the figures and whether each target is met; the exit status is 0 when\n"
               "the benchmark ran, whatever the figures.\n");
}

/* 0: parsed; 1: --help; -1: bad arguments (said on stderr). */
static int parse_args(int argc, char **argv, struct opts *o)
{
    int ret = -1;
    memset(o, 0, sizeof(*o));
    o->module = getenv("SEA_MODULE");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(a, "--quick") == 0) {
            o->quick = true;
        } else if (strcmp(a, "--throughput") == 0) {
            o->tp_only = true;
        } else if (strcmp(a, "--store") == 0 && has_value) {
            o->store = argv[++i];
        } else if (strcmp(a, "--module") == 0 && has_value) {
            o->module = argv[++i];
        } else if (strcmp(a, "--child-init") == 0) {
            o->child = true;
        } else if (strcmp(a, "--se") == 0 && has_value) {
            o->child_se = argv[++i];
        } else if (strcmp(a, "--objects") == 0 && has_value) {
            char *end;
            o->child_objects = strtoul(argv[++i], &end, 10);
            if (*end || o->child_objects == 0) {
                fail("--objects needs a positive number");
                goto out;
            }
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            ret = 1;
            goto out;
        } else {
            fail("unknown argument, or one without its value: %s", a);
            goto out;
        }
    }
    if (!o->module || !*o->module) {
        fail("no module: give --module PATH or set SEA_MODULE");
        goto out;
    }
    if (o->child && (!o->child_se || !o->child_objects)) {
        fail("--child-init needs --se and --objects");
        goto out;
    }
    ret = 0;
out:
    return ret;
}

int main(int argc, char **argv)
{
    int ret = -1, parsed;
    struct opts o;
    struct p11 m;
    struct tally t = {0, 0};
    char dir[4096] = "", cpu[256];
    bool temporary = false, initialized = false;
    const struct plan *p;
    memset(&m, 0, sizeof(m));
    if ((parsed = parse_args(argc, argv, &o)) != 0) {
        usage(parsed > 0 ? stdout : stderr);
        return parsed > 0 ? 0 : 2;
    }
    if (o.child)
        return child_main(&o) == 0 ? 0 : 1;
    p = o.quick ? &QUICK : &FULL;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (setup_store(o.store, dir, sizeof(dir), &temporary) != 0)
        goto out;
    cpu_model(cpu, sizeof(cpu));
    printf("libsea benchmark: %s\n",
           o.quick ? "quick run (a smoke run: smaller store, short timings)" : "full run");
    printf("  module:  %s\n", o.module);
    printf("  store:   %s/store (%s)\n", dir, temporary ? "private, removed afterwards" : "kept");
    printf("  machine: %ld CPUs online, %s; %s; load average %.2f at start\n\n",
           sysconf(_SC_NPROCESSORS_ONLN), cpu, OpenSSL_version(OPENSSL_VERSION), load_average());
    if (p11_load(&m, o.module) != 0)
        goto out;
    CALL(&m, C_Initialize, (NULL));
    initialized = true;
    if (o.tp_only) {
        if (section_tp(&m, p, &t) != 0)
            goto out;
        printf("targets met: %u of %u (section 2 only)\n", t.passed, t.checked);
        ret = 0;
        goto out;
    }
    if (section_sign(&m, p, &t) != 0 || section_tp(&m, p, &t) != 0 || section_find(&m, p, &t) != 0)
        goto out;
    /* close the store before the children open it, as a service starting afresh finds it */
    m.f->C_Finalize(NULL);
    initialized = false;
    p11_unload(&m);
    if (section_init(o.module, p, &t) != 0)
        goto out;
    printf("targets met: %u of %u%s; load average %.2f at the end\n", t.passed, t.checked,
           o.quick ? " (quick run: smaller store and short timings)" : "", load_average());
    ret = 0;
out:
    if (initialized)
        m.f->C_Finalize(NULL);
    p11_unload(&m);
    if (temporary && dir[0] && nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fail("could not remove %s", dir);
    if (ret != 0)
        fail("stopped by the error above: no figures for the remaining sections");
    return ret == 0 ? 0 : 1;
}

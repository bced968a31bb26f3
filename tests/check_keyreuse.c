/* Unit tests of the per-key state crypto.c keeps between operations for speed (struct keymat's
 * spare_gcm and mac_start): many operations on one key, in every order that could leave stale
 * state behind (encryption after decryption, after a failed tag check, after an abandoned
 * operation, two operations at once, other IV and AAD lengths), must each give what OpenSSL
 * computes on its own for the same key and input; and operations from several threads on one
 * key at once likewise. */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "crypto.h"
#include "error.h"

#define MSG_MAX 4096

static const uint8_t key32[32] = {
    0x60, 0x3d, 0xeb, 0x10, 0x15, 0xca, 0x71, 0xbe, 0x2b, 0x73, 0xae, 0xf0, 0x85, 0x7d, 0x77, 0x81,
    0x1f, 0x35, 0x2c, 0x07, 0x3b, 0x61, 0x08, 0xd7, 0x2d, 0x98, 0x10, 0xa3, 0x09, 0x14, 0xdf, 0xf4,
};

static struct keymat *secret_key(CK_KEY_TYPE type, const uint8_t *v, size_t n)
{
    struct attrs *pub = attrs_new(), *sec = attrs_new();
    struct keymat *k = NULL;
    ck_assert_ptr_nonnull(pub);
    ck_assert_ptr_nonnull(sec);
    ck_assert_int_eq(attrs_set_ulong(pub, CKA_CLASS, CKO_SECRET_KEY), CKR_OK);
    ck_assert_int_eq(attrs_set_ulong(pub, CKA_KEY_TYPE, type), CKR_OK);
    ck_assert_int_eq(attrs_set_secret(sec, CKA_VALUE, v, (CK_ULONG)n), CKR_OK);
    ck_assert_int_eq(keymat_from_attrs(pub, sec, &k), CKR_OK);
    attrs_unref(pub);
    attrs_unref(sec);
    return k;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 131u + seed * 29u + 7u);
}

/* AES-GCM with OpenSSL's EVP API: ciphertext || tag (tag bytes), the reference. */
static size_t evp_gcm(const uint8_t *key, size_t klen, const uint8_t *iv, size_t ivlen,
                      const uint8_t *aad, size_t aadlen, const uint8_t *pt, size_t n, size_t tag,
                      uint8_t *out)
{
    const char *name = klen == 16 ? "AES-128-GCM" : klen == 24 ? "AES-192-GCM" : "AES-256-GCM";
    EVP_CIPHER *ci = EVP_CIPHER_fetch(NULL, name, NULL);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    size_t ivl = ivlen;
    OSSL_PARAM p[] = {OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN, &ivl),
                      OSSL_PARAM_END};
    int got = 0, last = 0;
    ck_assert_ptr_nonnull(ci);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(EVP_EncryptInit_ex2(c, ci, NULL, NULL, p), 1);
    ck_assert_int_eq(EVP_EncryptInit_ex2(c, NULL, key, iv, NULL), 1);
    if (aadlen)
        ck_assert_int_eq(EVP_EncryptUpdate(c, NULL, &got, aad, (int)aadlen), 1);
    ck_assert_int_eq(EVP_EncryptUpdate(c, out, &got, pt, (int)n), 1);
    ck_assert_int_eq(EVP_EncryptFinal_ex(c, out + got, &last), 1);
    ck_assert_int_eq(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, (int)tag, out + got + last), 1);
    EVP_CIPHER_CTX_free(c);
    EVP_CIPHER_free(ci);
    return (size_t)(got + last) + tag;
}

static void evp_hmac(const uint8_t *key, size_t klen, const uint8_t *msg, size_t n, uint8_t out[32])
{
    size_t len = 0;
    ck_assert_ptr_nonnull(
        EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, klen, msg, n, out, 32, &len));
    ck_assert_uint_eq(len, 32);
}

struct gcm_case {
    uint8_t iv[64];
    size_t ivlen;
    uint8_t aad[40];
    size_t aadlen;
    size_t tag; /* bytes */
    CK_GCM_PARAMS gp;
    CK_MECHANISM m;
};

static void gcm_case(struct gcm_case *g, unsigned seed, size_t ivlen, size_t aadlen, size_t tag)
{
    memset(g, 0, sizeof(*g));
    fill(g->iv, sizeof(g->iv), seed);
    fill(g->aad, sizeof(g->aad), seed + 100);
    g->ivlen = ivlen;
    g->aadlen = aadlen;
    g->tag = tag;
    g->gp = (CK_GCM_PARAMS){g->iv, ivlen, ivlen * 8, aadlen ? g->aad : NULL, aadlen, tag * 8};
    g->m = (CK_MECHANISM){CKM_AES_GCM, &g->gp, sizeof(g->gp)};
}

/* Encrypt with the module's cop in two parts; returns the output length. */
static size_t cop_gcm_encrypt(struct keymat *k, struct gcm_case *g, const uint8_t *pt, size_t n,
                              uint8_t *out)
{
    struct cop *c = NULL;
    size_t a = MSG_MAX + 16, b;
    ck_assert_int_eq(cop_new(k, OP_ENCRYPT, &g->m, &c), CKR_OK);
    ck_assert_int_eq(cop_update(c, pt, n / 3, out, &a), CKR_OK);
    b = MSG_MAX + 16 - a;
    ck_assert_int_eq(cop_final(c, pt + n / 3, n - n / 3, out + a, &b), CKR_OK);
    cop_free(c);
    return a + b;
}

static CK_RV cop_gcm_decrypt(struct keymat *k, struct gcm_case *g, const uint8_t *in, size_t n,
                             uint8_t *out, size_t *outlen)
{
    struct cop *c = NULL;
    CK_RV rv = cop_new(k, OP_DECRYPT, &g->m, &c);
    *outlen = MSG_MAX + 16;
    if (rv == CKR_OK)
        rv = cop_final(c, in, n, out, outlen);
    cop_free(c);
    return rv;
}

static void check_encrypt(struct keymat *k, const uint8_t *kv, size_t klen, unsigned seed, size_t n,
                          size_t ivlen, size_t aadlen, size_t tag)
{
    static uint8_t pt[MSG_MAX], got[MSG_MAX + 16], want[MSG_MAX + 16];
    struct gcm_case g;
    fill(pt, n, seed + 7);
    gcm_case(&g, seed, ivlen, aadlen, tag);
    size_t gl = cop_gcm_encrypt(k, &g, pt, n, got);
    size_t wl = evp_gcm(kv, klen, g.iv, ivlen, g.aad, aadlen, pt, n, tag, want);
    ck_assert_uint_eq(gl, wl);
    ck_assert_mem_eq(got, want, wl);
}

static void setup(void)
{
    ck_assert_int_eq(crypto_init(), CKR_OK);
}

static void teardown(void)
{
    crypto_fini();
}

/* One key, many GCM operations: each must equal OpenSSL's result on its own. */
START_TEST(gcm_reuse_matches_openssl)
{
    static uint8_t pt[MSG_MAX], ct[MSG_MAX + 16], back[MSG_MAX + 16];
    size_t n;
    struct gcm_case g;
    struct cop *c1 = NULL, *c2 = NULL;
    for (int klen = 16; klen <= 32; klen += 8) {
        struct keymat *k = secret_key(CKK_AES, key32, (size_t)klen);
        /* plain repeats, various sizes, IV and AAD lengths, tag lengths */
        check_encrypt(k, key32, (size_t)klen, 1, 1024, 12, 0, 16);
        check_encrypt(k, key32, (size_t)klen, 2, 1024, 12, 0, 16); /* from the spare */
        check_encrypt(k, key32, (size_t)klen, 3, 17, 1, 13, 12);
        check_encrypt(k, key32, (size_t)klen, 4, 0, 60, 40, 4);
        check_encrypt(k, key32, (size_t)klen, 5, MSG_MAX, 12, 5, 16);
        /* a decryption in between, then a decryption that fails its tag check */
        gcm_case(&g, 6, 12, 8, 16);
        fill(pt, 300, 6);
        size_t cl = cop_gcm_encrypt(k, &g, pt, 300, ct);
        ck_assert_int_eq(cop_gcm_decrypt(k, &g, ct, cl, back, &n), CKR_OK);
        ck_assert_uint_eq(n, 300);
        ck_assert_mem_eq(back, pt, 300);
        check_encrypt(k, key32, (size_t)klen, 7, 100, 12, 0, 16);
        ct[cl - 1] ^= 1;
        ck_assert_int_eq(cop_gcm_decrypt(k, &g, ct, cl, back, &n), CKR_ENCRYPTED_DATA_INVALID);
        check_encrypt(k, key32, (size_t)klen, 8, 100, 12, 3, 16);
        ct[cl - 1] ^= 1;
        ck_assert_int_eq(cop_gcm_decrypt(k, &g, ct, cl, back, &n), CKR_OK);
        ck_assert_mem_eq(back, pt, 300);
        /* an encryption abandoned half-way, then two at once */
        gcm_case(&g, 9, 12, 0, 16);
        size_t a = sizeof(ct);
        ck_assert_int_eq(cop_new(k, OP_ENCRYPT, &g.m, &c1), CKR_OK);
        ck_assert_int_eq(cop_update(c1, pt, 50, ct, &a), CKR_OK);
        cop_free(c1);
        check_encrypt(k, key32, (size_t)klen, 10, 64, 12, 0, 16);
        struct gcm_case g1, g2;
        uint8_t o1[200], o2[200], w[200];
        size_t l1 = sizeof(o1), l2 = sizeof(o2);
        gcm_case(&g1, 11, 12, 0, 16);
        gcm_case(&g2, 12, 16, 4, 16);
        ck_assert_int_eq(cop_new(k, OP_ENCRYPT, &g1.m, &c1), CKR_OK);
        ck_assert_int_eq(cop_new(k, OP_ENCRYPT, &g2.m, &c2), CKR_OK);
        ck_assert_int_eq(cop_final(c2, pt, 100, o2, &l2), CKR_OK);
        ck_assert_int_eq(cop_final(c1, pt, 100, o1, &l1), CKR_OK);
        cop_free(c2);
        cop_free(c1);
        ck_assert_uint_eq(evp_gcm(key32, (size_t)klen, g1.iv, 12, NULL, 0, pt, 100, 16, w), l1);
        ck_assert_mem_eq(o1, w, l1);
        ck_assert_uint_eq(evp_gcm(key32, (size_t)klen, g2.iv, 16, g2.aad, 4, pt, 100, 16, w), l2);
        ck_assert_mem_eq(o2, w, l2);
        check_encrypt(k, key32, (size_t)klen, 13, 33, 12, 0, 16);
        keymat_unref(k);
    }
}
END_TEST

/* More operations at once than the key keeps idle contexts for (KEYMAT_SPARES), finished in
 * another order than started, twice over: every result is right, whichever context it got. */
START_TEST(gcm_more_at_once_than_spares)
{
    enum { N = KEYMAT_SPARES + 2 };
    struct keymat *k = secret_key(CKK_AES, key32, 32);
    uint8_t pt[100], out[N][200], want[200];
    fill(pt, sizeof(pt), 3);
    for (unsigned round = 0; round < 2; round++) {
        struct gcm_case g[N];
        struct cop *c[N];
        size_t len[N];
        for (unsigned i = 0; i < N; i++) {
            gcm_case(&g[i], round * 100 + i, 12, i % 2 ? 7 : 0, 16);
            ck_assert_int_eq(cop_new(k, OP_ENCRYPT, &g[i].m, &c[i]), CKR_OK);
        }
        for (unsigned j = 0; j < N; j++) {
            unsigned i = (j * 5 + round) % N; /* 5 is prime to N: each once */
            len[i] = sizeof(out[i]);
            ck_assert_int_eq(cop_final(c[i], pt, sizeof(pt), out[i], &len[i]), CKR_OK);
            cop_free(c[i]);
        }
        for (unsigned i = 0; i < N; i++) {
            size_t wl =
                evp_gcm(key32, 32, g[i].iv, 12, g[i].aad, g[i].aadlen, pt, sizeof(pt), 16, want);
            ck_assert_uint_eq(len[i], wl);
            ck_assert_mem_eq(out[i], want, wl);
        }
    }
    keymat_unref(k);
}
END_TEST

/* Two keys never share state: the second key's results are its own. */
START_TEST(gcm_keys_do_not_mix)
{
    uint8_t other[32];
    fill(other, sizeof(other), 99);
    struct keymat *a = secret_key(CKK_AES, key32, 32), *b = secret_key(CKK_AES, other, 32);
    for (unsigned i = 0; i < 4; i++) {
        check_encrypt(a, key32, 32, i, 64, 12, 0, 16);
        check_encrypt(b, other, 32, i, 64, 12, 0, 16);
    }
    keymat_unref(a);
    keymat_unref(b);
}
END_TEST

static void cop_hmac(struct keymat *k, const uint8_t *msg, size_t n, bool split, uint8_t out[32])
{
    CK_MECHANISM m = {CKM_SHA256_HMAC, NULL, 0};
    struct cop *c = NULL;
    size_t z = 0, len = 32;
    ck_assert_int_eq(cop_new(k, OP_SIGN, &m, &c), CKR_OK);
    if (split)
        ck_assert_int_eq(cop_update(c, msg, n / 2, NULL, &z), CKR_OK);
    ck_assert_int_eq(cop_final(c, msg + (split ? n / 2 : 0), n - (split ? n / 2 : 0), out, &len),
                     CKR_OK);
    ck_assert_uint_eq(len, 32);
    cop_free(c);
}

/* One HMAC key, many MACs (short, block-sized and long keys): each equals OpenSSL's; a
 * verification and an abandoned MAC in between change nothing. */
START_TEST(hmac_reuse_matches_openssl)
{
    static uint8_t msg[MSG_MAX];
    uint8_t kv[100], got[32], want[32];
    const size_t klens[] = {16, 32, 64, 100};
    CK_MECHANISM m = {CKM_SHA256_HMAC, NULL, 0};
    fill(kv, sizeof(kv), 5);
    for (size_t i = 0; i < sizeof(klens) / sizeof(klens[0]); i++) {
        struct keymat *k = secret_key(CKK_GENERIC_SECRET, kv, klens[i]);
        for (unsigned r = 0; r < 6; r++) {
            size_t n = r == 5 ? MSG_MAX : 1u << (2 * r);
            fill(msg, n, r);
            cop_hmac(k, msg, n, r % 2, got);
            evp_hmac(kv, klens[i], msg, n, want);
            ck_assert_mem_eq(got, want, 32);
            if (r == 2) {
                struct cop *c = NULL;
                size_t z = 0;
                /* verify the MAC just made, then leave a MAC half done */
                ck_assert_int_eq(cop_new(k, OP_VERIFY, &m, &c), CKR_OK);
                ck_assert_int_eq(cop_update(c, msg, n, NULL, &z), CKR_OK);
                ck_assert_int_eq(cop_final(c, want, 32, NULL, &z), CKR_OK);
                cop_free(c);
                ck_assert_int_eq(cop_new(k, OP_SIGN, &m, &c), CKR_OK);
                ck_assert_int_eq(cop_update(c, msg, 7, NULL, &z), CKR_OK);
                cop_free(c);
            }
        }
        keymat_unref(k);
    }
}
END_TEST

struct worker {
    struct keymat *gcm, *mac;
    unsigned id;
    int bad;
};

static void *worker(void *arg)
{
    struct worker *w = arg;
    uint8_t pt[256], got[300], want[300], mac[32], wmac[32];
    for (unsigned i = 0; i < 300 && !w->bad; i++) {
        struct gcm_case g;
        struct cop *c = NULL;
        size_t len = sizeof(got);
        unsigned seed = w->id * 1000 + i;
        fill(pt, sizeof(pt), seed);
        gcm_case(&g, seed, 12, i % 3, 16);
        if (cop_new(w->gcm, OP_ENCRYPT, &g.m, &c) != CKR_OK ||
            cop_final(c, pt, sizeof(pt), got, &len) != CKR_OK)
            w->bad = 1;
        cop_free(c);
        size_t wl = evp_gcm(key32, 32, g.iv, 12, g.aad, i % 3, pt, sizeof(pt), 16, want);
        if (w->bad || len != wl || memcmp(got, want, wl) != 0)
            w->bad = 2;
        CK_MECHANISM m = {CKM_SHA256_HMAC, NULL, 0};
        len = sizeof(mac);
        c = NULL;
        if (cop_new(w->mac, OP_SIGN, &m, &c) != CKR_OK ||
            cop_final(c, pt, sizeof(pt), mac, &len) != CKR_OK)
            w->bad = 3;
        cop_free(c);
        evp_hmac(key32, 32, pt, sizeof(pt), wmac);
        if (!w->bad && (len != 32 || memcmp(mac, wmac, 32) != 0))
            w->bad = 4;
    }
    return NULL;
}

/* Four threads on the same two keys at once: every result is right. */
START_TEST(threads_share_keys)
{
    struct keymat *gk = secret_key(CKK_AES, key32, 32);
    struct keymat *mk = secret_key(CKK_GENERIC_SECRET, key32, 32);
    pthread_t th[4];
    struct worker w[4];
    for (unsigned i = 0; i < 4; i++) {
        w[i] = (struct worker){gk, mk, i, 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, worker, &w[i]), 0);
    }
    for (unsigned i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(w[i].bad == 0, "thread %u: failure kind %d", i, w[i].bad);
    }
    keymat_unref(gk);
    keymat_unref(mk);
}
END_TEST

static Suite *keyreuse_suite(void)
{
    Suite *s = suite_create("keyreuse");
    TCase *t = tcase_create("reuse");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 60);
    tcase_add_test(t, gcm_reuse_matches_openssl);
    tcase_add_test(t, gcm_more_at_once_than_spares);
    tcase_add_test(t, gcm_keys_do_not_mix);
    tcase_add_test(t, hmac_reuse_matches_openssl);
    tcase_add_test(t, threads_share_keys);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(keyreuse_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

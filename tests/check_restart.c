/* The restart of a session's last operation (provider/ops.c "Restarting", backend.h state_tag
 * and op_restart) through the real module on a soft SE: C_xxxInit on the key of the previous
 * operation of the same kind reuses that operation without reading the device's shared caches.
 * Each test can fail if the scheme is wrong: outputs must equal OpenSSL's through every order of
 * calls that could leave stale state behind, and a kept operation must never serve a key whose
 * attributes changed (CKA_SIGN set false), that was destroyed, whose login ended, or whose SE
 * another process re-initialised; sessions closed by one thread while another thread uses the
 * same key must neither crash nor give wrong output. */
#include <check.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/wait.h>

#include "p11check.h"



#define MSG_LEN 1024

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static CK_OBJECT_CLASS cls_secret = CKO_SECRET_KEY;
static const uint8_t KEY[32] = {0x4a, 0x65, 0x66, 0x65, 0x0b, 0x0b, 0x0b, 0x0b, 0x11, 0x22, 0x33,
                                0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
                                0xff, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
static uint8_t MSG[MSG_LEN];

static void setup(void)
{
    p11_setup();
    for (size_t i = 0; i < sizeof(MSG); i++)
        MSG[i] = (uint8_t)(i * 131u + 7u);
}

static CK_SESSION_HANDLE user_session(CK_SLOT_ID *slot_out)
{
    return p11_token_session("restart", slot_out);
}

static CK_SESSION_HANDLE another_session(CK_SLOT_ID slot)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    OK(F->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
    return s;
}

/* A private token secret key with value KEY: only token objects have a state tag. */
static CK_OBJECT_HANDLE token_key(CK_SESSION_HANDLE s, CK_KEY_TYPE kt)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    bool aes = kt == CKK_AES;
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &cls_secret, sizeof(cls_secret)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_TOKEN, &yes, 1},
        {CKA_PRIVATE, &yes, 1},
        {CKA_SENSITIVE, &yes, 1},
        {aes ? CKA_ENCRYPT : CKA_SIGN, &yes, 1},
        {aes ? CKA_DECRYPT : CKA_VERIFY, &yes, 1},
        {CKA_VALUE, (void *)KEY, sizeof(KEY)},
    };
    OK(F->C_CreateObject(s, t, sizeof(t) / sizeof(t[0]), &h));
    return h;
}

static void evp_hmac(const uint8_t *msg, size_t n, uint8_t out[32])
{
    size_t len = 0;
    ck_assert_ptr_nonnull(
        EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, KEY, sizeof(KEY), msg, n, out, 32, &len));
    ck_assert_uint_eq(len, 32);
}

/* AES-256-GCM, 12-byte IV, 16-byte tag: ciphertext || tag into out (n + 16 bytes). */
static void evp_gcm(const uint8_t iv[12], const uint8_t *msg, size_t n, uint8_t *out)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int got = 0, last = 0;
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(EVP_EncryptInit_ex2(c, EVP_aes_256_gcm(), KEY, iv, NULL), 1);
    ck_assert_int_eq(EVP_EncryptUpdate(c, out, &got, msg, (int)n), 1);
    ck_assert_int_eq(EVP_EncryptFinal_ex(c, out + got, &last), 1);
    ck_assert_int_eq(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, out + got + last), 1);
    EVP_CIPHER_CTX_free(c);
}

/* C_SignInit + C_Sign with CKM_SHA256_HMAC over MSG[0..n): the CK_RV, the MAC in out. */
static CK_RV hmac_sign(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE k, size_t n, uint8_t out[32])
{
    CK_MECHANISM m = {CKM_SHA256_HMAC, NULL, 0};
    CK_ULONG len = 32;
    CK_RV rv = F->C_SignInit(s, &m, k);
    if (rv != CKR_OK)
        return rv;
    rv = F->C_Sign(s, MSG, n, out, &len);
    if (rv == CKR_OK && len != 32)
        rv = CKR_GENERAL_ERROR;
    return rv;
}

static void hmac_right(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE k, size_t n)
{
    uint8_t got[32], want[32];
    OK(hmac_sign(s, k, n, got));
    evp_hmac(MSG, n, want);
    ck_assert_mem_eq(got, want, 32);
}

static void gcm_iv(uint8_t iv[12], unsigned i)
{
    memset(iv, 0, 12);
    iv[0] = 0x5a;
    iv[8] = (uint8_t)(i >> 24);
    iv[9] = (uint8_t)(i >> 16);
    iv[10] = (uint8_t)(i >> 8);
    iv[11] = (uint8_t)i;
}

static void gcm_right(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE k, unsigned i, size_t n)
{
    uint8_t iv[12], got[MSG_LEN + 16], want[MSG_LEN + 16], back[MSG_LEN + 16];
    CK_GCM_PARAMS gp = {iv, 12, 96, NULL, 0, 128};
    CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
    CK_ULONG len = sizeof(got), blen = sizeof(back);
    gcm_iv(iv, i);
    OK(F->C_EncryptInit(s, &m, k));
    OK(F->C_Encrypt(s, MSG, n, got, &len));
    ck_assert_uint_eq(len, n + 16);
    evp_gcm(iv, MSG, n, want);
    ck_assert_mem_eq(got, want, n + 16);
    OK(F->C_DecryptInit(s, &m, k));
    OK(F->C_Decrypt(s, got, len, back, &blen));
    ck_assert_uint_eq(blen, n);
    ck_assert_mem_eq(back, MSG, n);
}

/* Operation after operation on one key, in orders that could leave stale state in a kept
 * operation: other lengths and IVs, a failed parameter check, a failed tag check, an
 * abandoned operation, a size query, two keys in turn. */
START_TEST(test_restarted_operations_equal_openssl)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    CK_OBJECT_HANDLE hk = token_key(s, CKK_GENERIC_SECRET), ak = token_key(s, CKK_AES);
    CK_OBJECT_HANDLE hk2 = token_key(s, CKK_GENERIC_SECRET);
    CK_MECHANISM hm = {CKM_SHA256_HMAC, NULL, 0};
    uint8_t mac[32], iv[12], ct[MSG_LEN + 16], pt[MSG_LEN];
    for (unsigned i = 0; i < 40; i++) {
        size_t n = (i * 97u) % MSG_LEN + 1;
        hmac_right(s, hk, n);
        hmac_right(s, i % 3 ? hk : hk2, MSG_LEN - n);
        gcm_right(s, ak, i, n);
        switch (i % 5) {
        case 0: { /* a bad IV length: the restart fails as op_init would, then a good one */
            CK_GCM_PARAMS bad = {iv, 0, 0, NULL, 0, 128};
            CK_MECHANISM m = {CKM_AES_GCM, &bad, sizeof(bad)};
            gcm_iv(iv, i);
            EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_EncryptInit(s, &m, ak));
            break;
        }
        case 1: { /* a tag that does not verify ends the decryption */
            CK_GCM_PARAMS gp = {iv, 12, 96, NULL, 0, 128};
            CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
            CK_ULONG len = sizeof(pt);
            gcm_iv(iv, i);
            evp_gcm(iv, MSG, 64, ct);
            ct[70] ^= 1;
            OK(F->C_DecryptInit(s, &m, ak));
            EXPECT_RV(CKR_ENCRYPTED_DATA_INVALID, F->C_Decrypt(s, ct, 80, pt, &len));
            break;
        }
        case 2: /* abandoned: C_SignInit with a NULL mechanism ends it */
            OK(F->C_SignInit(s, &hm, hk));
            OK(F->C_SignUpdate(s, MSG, 100));
            OK(F->C_SignInit(s, NULL, hk));
            break;
        case 3: { /* a size query keeps the operation, then it finishes */
            CK_ULONG len = 0;
            uint8_t want[32];
            OK(F->C_SignInit(s, &hm, hk));
            OK(F->C_Sign(s, MSG, 10, NULL, &len));
            ck_assert_uint_eq(len, 32);
            len = sizeof(mac);
            OK(F->C_Sign(s, MSG, 10, mac, &len));
            evp_hmac(MSG, 10, want);
            ck_assert_mem_eq(mac, want, 32);
            break;
        }
        default: { /* multi-part, and a verification */
            CK_ULONG len = sizeof(mac);
            OK(F->C_SignInit(s, &hm, hk));
            OK(F->C_SignUpdate(s, MSG, 300));
            OK(F->C_SignUpdate(s, MSG + 300, 200));
            OK(F->C_SignFinal(s, mac, &len));
            OK(F->C_VerifyInit(s, &hm, hk));
            OK(F->C_Verify(s, MSG, 500, mac, 32));
            mac[0] ^= 1;
            OK(F->C_VerifyInit(s, &hm, hk));
            EXPECT_RV(CKR_SIGNATURE_INVALID, F->C_Verify(s, MSG, 500, mac, 32));
            break;
        }
        }
    }
}
END_TEST

/* Composed mechanisms (a core-side digest before the device's operation): a restart after a
 * call refused for its parameters (once the kept operation was taken) must still sign right. */
START_TEST(test_restart_of_composed_mechanisms)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    CK_MECHANISM gen = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    CK_ULONG bits = 2048;
    CK_BYTE f4[] = {1, 0, 1};
    CK_ATTRIBUTE pt[] = {{CKA_TOKEN, &yes, 1},
                         {CKA_VERIFY, &yes, 1},
                         {CKA_MODULUS_BITS, &bits, sizeof(bits)},
                         {CKA_PUBLIC_EXPONENT, f4, sizeof(f4)}};
    CK_ATTRIBUTE qt[] = {{CKA_TOKEN, &yes, 1}, {CKA_PRIVATE, &yes, 1}, {CKA_SIGN, &yes, 1}};
    CK_OBJECT_HANDLE pub, priv;
    OK(F->C_GenerateKeyPair(s, &gen, pt, 4, qt, 3, &pub, &priv));
    CK_RSA_PKCS_PSS_PARAMS good = {CKM_SHA256, CKG_MGF1_SHA256, 32};
    CK_RSA_PKCS_PSS_PARAMS bad = {CKM_SHA384, CKG_MGF1_SHA256, 32};
    CK_MECHANISM mg = {CKM_SHA256_RSA_PKCS_PSS, &good, sizeof(good)};
    CK_MECHANISM mb = {CKM_SHA256_RSA_PKCS_PSS, &bad, sizeof(bad)};
    CK_MECHANISM m15 = {CKM_SHA256_RSA_PKCS, NULL, 0};
    uint8_t sig[256];
    for (int i = 0; i < 4; i++) {
        CK_ULONG len = sizeof(sig);
        OK(F->C_SignInit(s, &mg, priv));
        OK(F->C_Sign(s, MSG, 100 + i, sig, &len));
        ck_assert_uint_eq(len, 256);
        OK(F->C_VerifyInit(s, &mg, pub));
        OK(F->C_Verify(s, MSG, 100 + i, sig, len));
        OK(F->C_VerifyInit(s, &mg, pub));
        EXPECT_RV(CKR_SIGNATURE_INVALID, F->C_Verify(s, MSG, 99 + i, sig, len));
        if (i == 1)
            EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_SignInit(s, &mb, priv));
        if (i == 2) { /* another mechanism on the same key, then back */
            len = sizeof(sig);
            OK(F->C_SignInit(s, &m15, priv));
            OK(F->C_Sign(s, MSG, 50, sig, &len));
            OK(F->C_VerifyInit(s, &m15, pub));
            OK(F->C_Verify(s, MSG, 50, sig, len));
        }
    }
}
END_TEST

/* CKA_SIGN set false from another session after a signature: the next C_SignInit of the first
 * session must see it (its kept operation and attributes are stale). */
START_TEST(test_restart_honours_an_attribute_change)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s = user_session(&slot), o = another_session(slot);
    CK_OBJECT_HANDLE k = token_key(s, CKK_GENERIC_SECRET);
    CK_ATTRIBUTE off = {CKA_SIGN, &no, 1}, on = {CKA_SIGN, &yes, 1};
    uint8_t mac[32];
    hmac_right(s, k, 100);
    hmac_right(s, k, 100);
    OK(F->C_SetAttributeValue(o, k, &off, 1));
    EXPECT_RV(CKR_KEY_FUNCTION_NOT_PERMITTED, hmac_sign(s, k, 100, mac));
    OK(F->C_SetAttributeValue(o, k, &on, 1));
    hmac_right(s, k, 100);
    /* the same from the session itself */
    OK(F->C_SetAttributeValue(s, k, &off, 1));
    EXPECT_RV(CKR_KEY_FUNCTION_NOT_PERMITTED, hmac_sign(s, k, 100, mac));
}
END_TEST

START_TEST(test_restart_honours_a_destroy)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s = user_session(&slot), o = another_session(slot);
    CK_OBJECT_HANDLE k = token_key(s, CKK_GENERIC_SECRET), a = token_key(s, CKK_AES);
    uint8_t mac[32];
    hmac_right(s, k, 200);
    hmac_right(s, k, 200);
    gcm_right(s, a, 1, 200);
    OK(F->C_DestroyObject(o, k));
    EXPECT_RV(CKR_KEY_HANDLE_INVALID, hmac_sign(s, k, 200, mac));
    OK(F->C_DestroyObject(s, a));
    uint8_t iv[12] = {0};
    CK_GCM_PARAMS gp = {iv, 12, 96, NULL, 0, 128};
    CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
    EXPECT_RV(CKR_KEY_HANDLE_INVALID, F->C_EncryptInit(s, &m, a));
}
END_TEST

/* A logout from another session ends the user's keys for every session, kept operations too;
 * after a new login they work again. */
START_TEST(test_restart_honours_a_logout)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s = user_session(&slot), o = another_session(slot);
    CK_OBJECT_HANDLE k = token_key(s, CKK_GENERIC_SECRET);
    uint8_t mac[32];
    hmac_right(s, k, 300);
    hmac_right(s, k, 300);
    OK(F->C_Logout(o));
    CK_RV rv = hmac_sign(s, k, 300, mac);
    ck_assert_msg(rv == CKR_USER_NOT_LOGGED_IN, "C_SignInit after a logout: %s", p11_rv_name(rv));
    OK(F->C_Login(o, CKU_USER, (CK_UTF8CHAR_PTR)P11_USER_PIN, strlen(P11_USER_PIN)));
    hmac_right(s, k, 300);
    /* and a logout in the session itself */
    OK(F->C_Logout(s));
    rv = hmac_sign(s, k, 300, mac);
    ck_assert_msg(rv == CKR_USER_NOT_LOGGED_IN, "C_SignInit after a logout: %s", p11_rv_name(rv));
}
END_TEST

/* Another process re-initialises the SE while this one holds a kept operation on one of its
 * keys: the key is gone and must not be used. */
START_TEST(test_restart_honours_a_reinit_by_another_process)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s = user_session(&slot);
    CK_OBJECT_HANDLE k = token_key(s, CKK_GENERIC_SECRET);
    uint8_t mac[32];
    hmac_right(s, k, 400);
    hmac_right(s, k, 400);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* the parent's context is stale here: a child initialises its own */
        CK_UTF8CHAR lab[32];
        p11_pad32(lab, "reinit");
        int ok = F->C_Initialize(NULL) == CKR_OK &&
                 F->C_InitToken(slot, (CK_UTF8CHAR_PTR)P11_SO_PIN, 8, lab) == CKR_OK;
        F->C_Finalize(NULL);
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CK_RV rv = hmac_sign(s, k, 400, mac);
    ck_assert_msg(rv != CKR_OK, "a key of a re-initialised SE was used");
}
END_TEST

/* Two threads, one key, each on its own session (the kept operations of both hold the same key
 * material), while a third session on the same key is opened, used and closed again and again:
 * every output must be right. Then one thread's session is closed under it. */
struct worker {
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE hk, ak;
    unsigned rounds;
    int bad;   /* a wrong output */
    CK_RV end; /* the call that ended the loop */
    unsigned done;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    uint8_t want[32];
    evp_hmac(MSG, 512, want);
    w->end = CKR_OK;
    for (unsigned i = 0; w->rounds == 0 || i < w->rounds; i++) {
        uint8_t mac[32];
        CK_RV rv = hmac_sign(w->s, w->hk, 512, mac);
        if (rv != CKR_OK) {
            w->end = rv;
            break;
        }
        if (memcmp(mac, want, 32) != 0)
            w->bad++;
        w->done++;
    }
    return NULL;
}

START_TEST(test_restart_under_threads_and_closes)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s = user_session(&slot);
    CK_OBJECT_HANDLE hk = token_key(s, CKK_GENERIC_SECRET), ak = token_key(s, CKK_AES);
    struct worker w[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i] = (struct worker){.slot = slot,
                               .s = another_session(slot),
                               .hk = hk,
                               .ak = ak,
                               .rounds = i == 0 ? 500 : 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (unsigned i = 0; i < 40; i++) {
        CK_SESSION_HANDLE t = another_session(slot);
        hmac_right(t, hk, 64);
        hmac_right(t, hk, 64);
        gcm_right(t, ak, i, 64);
        OK(F->C_CloseSession(t));
    }
    pthread_join(th[0], NULL);
    ck_assert_uint_eq(w[0].done, 500);
    ck_assert_int_eq(w[0].bad, 0);
    /* close the second worker's session while it runs */
    OK(F->C_CloseSession(w[1].s));
    pthread_join(th[1], NULL);
    ck_assert_int_eq(w[1].bad, 0);
    ck_assert_msg(w[1].end == CKR_SESSION_HANDLE_INVALID || w[1].end == CKR_SESSION_CLOSED,
                  "the worker ended with %s", p11_rv_name(w[1].end));
    ck_assert_int_eq(w[0].end, CKR_OK);
    OK(F->C_CloseSession(w[0].s));
}
END_TEST

static Suite *restart_suite(void)
{
    Suite *su = suite_create("restart");
    TCase *tc = tcase_create("restart");
    tcase_add_checked_fixture(tc, setup, p11_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_restarted_operations_equal_openssl);
    tcase_add_test(tc, test_restart_of_composed_mechanisms);
    tcase_add_test(tc, test_restart_honours_an_attribute_change);
    tcase_add_test(tc, test_restart_honours_a_destroy);
    tcase_add_test(tc, test_restart_honours_a_logout);
    tcase_add_test(tc, test_restart_honours_a_reinit_by_another_process);
    tcase_add_test(tc, test_restart_under_threads_and_closes);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    return p11_check_main("check_restart", &M, restart_suite);
}

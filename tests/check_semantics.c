/* PKCS#11 3.0 semantics through the real module (sea-pkcs11.so from $SEA_MODULE) on a soft SE:
 * the message-based AES-GCM functions (known answers, generated IVs, interplay with C_Encrypt /
 * C_Decrypt, multi-part messages, tag failures, state rules), C_LoginUser, C_SessionCancel,
 * C_WaitForSlotEvent, C_SeedRandom, C_GetOperationState, the attribute rules, context-specific
 * login, session states and the end of operations on errors, each with the exact CK_RV. */
#include <check.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>

#include "p11check.h"



static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static CK_OBJECT_CLASS cls_secret = CKO_SECRET_KEY, cls_data = CKO_DATA;
static CK_KEY_TYPE kt_aes = CKK_AES;
static const CK_BYTE P256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

/* ---- helpers ---- */

static CK_SESSION_HANDLE user_session(CK_SLOT_ID *slot_out)
{
    return p11_token_session("semantics", slot_out);
}

static CK_FLAGS token_flags(CK_SLOT_ID slot)
{
    CK_TOKEN_INFO ti;
    OK(F->C_GetTokenInfo(slot, &ti));
    return ti.flags;
}

static CK_STATE session_state(CK_SESSION_HANDLE s)
{
    CK_SESSION_INFO si;
    OK(F->C_GetSessionInfo(s, &si));
    return si.state;
}

static CK_RV login(CK_SESSION_HANDLE s, CK_USER_TYPE u, const char *pin)
{
    return F->C_Login(s, u, (CK_UTF8CHAR_PTR)pin, strlen(pin));
}

/* An AES key with a known value, usable for encryption and decryption (session object unless
 * token), sensitive and not extractable. */
static CK_OBJECT_HANDLE aes_key(CK_SESSION_HANDLE s, const uint8_t *val, size_t len)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                        {CKA_KEY_TYPE, &kt_aes, sizeof(kt_aes)},
                        {CKA_ENCRYPT, &yes, 1},
                        {CKA_DECRYPT, &yes, 1},
                        {CKA_VALUE, (void *)val, len}};
    OK(F->C_CreateObject(s, t, 5, &h));
    return h;
}

static CK_OBJECT_HANDLE gen_aes(CK_SESSION_HANDLE s, CK_ATTRIBUTE *extra, CK_ULONG nextra)
{
    CK_MECHANISM m = {CKM_AES_KEY_GEN, NULL, 0};
    CK_ULONG len = 32;
    CK_ATTRIBUTE defaults[] = {
        {CKA_VALUE_LEN, &len, sizeof(len)}, {CKA_ENCRYPT, &yes, 1}, {CKA_DECRYPT, &yes, 1}};
    CK_ATTRIBUTE t[16];
    CK_ULONG n = 0;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    ck_assert_uint_le(nextra, 13);
    /* the extras win over the defaults */
    for (size_t i = 0; i < 3; i++) {
        bool given = false;
        for (CK_ULONG j = 0; j < nextra; j++)
            given |= extra[j].type == defaults[i].type;
        if (!given)
            t[n++] = defaults[i];
    }
    for (CK_ULONG j = 0; j < nextra; j++)
        t[n++] = extra[j];
    OK(F->C_GenerateKey(s, &m, t, n, &h));
    return h;
}

static void gen_ec(CK_SESSION_HANDLE s, CK_ATTRIBUTE *extra, CK_ULONG nextra, CK_OBJECT_HANDLE *pub,
                   CK_OBJECT_HANDLE *priv)
{
    CK_MECHANISM m = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pt[] = {{CKA_VERIFY, &yes, 1}, {CKA_EC_PARAMS, (void *)P256, sizeof(P256)}};
    CK_ATTRIBUTE qt[8] = {{CKA_SIGN, &yes, 1}};
    ck_assert_uint_le(nextra, 7);
    for (CK_ULONG j = 0; j < nextra; j++)
        qt[1 + j] = extra[j];
    OK(F->C_GenerateKeyPair(s, &m, pt, 2, qt, 1 + nextra, pub, priv));
}

static CK_BBOOL get_bool(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE t)
{
    CK_BBOOL v = 0xAA;
    CK_ATTRIBUTE a = {t, &v, 1};
    OK(F->C_GetAttributeValue(s, h, &a, 1));
    ck_assert_uint_eq(a.ulValueLen, 1);
    return v;
}

static void set_bool(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE t, CK_BBOOL v,
                     CK_RV want)
{
    CK_ATTRIBUTE a = {t, &v, 1};
    EXPECT_RV(want, F->C_SetAttributeValue(s, h, &a, 1));
}

static size_t hex2bin(const char *hex, uint8_t *out)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

static CK_MECHANISM gcm_msg = {CKM_AES_GCM, NULL, 0};

static CK_GCM_MESSAGE_PARAMS msg_params(uint8_t *iv, CK_ULONG ivlen, CK_ULONG fixed_bits,
                                        CK_GENERATOR_FUNCTION gen, uint8_t *tag)
{
    CK_GCM_MESSAGE_PARAMS p = {iv, ivlen, fixed_bits, gen, tag, 128};
    return p;
}

/* Plain C_Decrypt of ct||tag with CKM_AES_GCM: the normal API reading a message's output. */
static CK_RV plain_decrypt(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE k, const uint8_t *iv, size_t ivlen,
                           const uint8_t *aad, size_t aadlen, const uint8_t *ct, size_t ctlen,
                           const uint8_t tag[16], uint8_t *out, CK_ULONG *outlen)
{
    uint8_t buf[512];
    ck_assert_uint_le(ctlen + 16, sizeof(buf));
    memcpy(buf, ct, ctlen);
    memcpy(buf + ctlen, tag, 16);
    CK_GCM_PARAMS gp = {(CK_BYTE_PTR)iv, ivlen, ivlen * 8, (CK_BYTE_PTR)aad, aadlen, 128};
    CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
    CK_RV rv = F->C_DecryptInit(s, &m, k);
    if (rv != CKR_OK)
        return rv;
    return F->C_Decrypt(s, buf, ctlen + 16, out, outlen);
}

/* ======================================================================================= */
/* Message-based encryption                                                                 */
/* ======================================================================================= */

/* The GCM specification's test case 4 (D. McGrew, J. Viega, "The Galois/Counter Mode of
 * Operation (GCM)", revised 2005, Appendix B): AES-128, 96-bit IV, 20 bytes of AAD, 60 bytes of
 * plaintext. */
static const char TC4_K[] = "feffe9928665731c6d6a8f9467308308";
static const char TC4_P[] = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                            "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
static const char TC4_A[] = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
static const char TC4_IV[] = "cafebabefacedbaddecaf888";
static const char TC4_C[] = "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
                            "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091";
static const char TC4_T[] = "5bc94fbc3221a5db94fae95ae7121a47";

START_TEST(test_message_gcm_known_answer_test_case_4)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s = user_session(&slot);
    uint8_t k[16], p[60], a[20], iv[12], c[60], t[16], tag[16], out[80], back[80];
    hex2bin(TC4_K, k);
    hex2bin(TC4_P, p);
    hex2bin(TC4_A, a);
    hex2bin(TC4_IV, iv);
    hex2bin(TC4_C, c);
    hex2bin(TC4_T, t);
    CK_OBJECT_HANDLE key = aes_key(s, k, sizeof(k));
    CK_MECHANISM_INFO mi;
    OK(F->C_GetMechanismInfo(slot, CKM_AES_GCM, &mi));
    ck_assert_uint_eq(mi.flags & (CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT | CKF_MULTI_MESSAGE),
                      CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT | CKF_MULTI_MESSAGE);

    CK_GCM_MESSAGE_PARAMS mp = msg_params(iv, 12, 0, CKG_NO_GENERATE, tag);
    CK_ULONG len = 0;
    OK(F->C_MessageEncryptInit(s, &gcm_msg, key));
    /* size query: the ciphertext is as long as the plaintext (the tag goes to pTag) */
    OK(F->C_EncryptMessage(s, &mp, sizeof(mp), a, sizeof(a), p, sizeof(p), NULL, &len));
    ck_assert_uint_eq(len, 60);
    len = sizeof(out);
    OK(F->C_EncryptMessage(s, &mp, sizeof(mp), a, sizeof(a), p, sizeof(p), out, &len));
    ck_assert_uint_eq(len, 60);
    ck_assert_mem_eq(out, c, 60);
    ck_assert_mem_eq(tag, t, 16);
    OK(F->C_MessageEncryptFinal(s));

    OK(F->C_MessageDecryptInit(s, &gcm_msg, key));
    len = sizeof(back);
    OK(F->C_DecryptMessage(s, &mp, sizeof(mp), a, sizeof(a), c, sizeof(c), back, &len));
    ck_assert_uint_eq(len, 60);
    ck_assert_mem_eq(back, p, 60);
    OK(F->C_MessageDecryptFinal(s));
    /* the published ciphertext with its tag appended decrypts through C_Decrypt as well */
    len = sizeof(back);
    OK(plain_decrypt(s, key, iv, 12, a, sizeof(a), c, 60, t, back, &len));
    ck_assert_mem_eq(back, p, 60);
}
END_TEST

/* n messages with a generator; checks every IV is distinct, written back, decrypts with both
 * C_DecryptMessage and plain C_Decrypt, and (fixed_bits) keeps the fixed part. */
static void encrypt_with_generator(CK_GENERATOR_FUNCTION gen, CK_ULONG fixed_bits,
                                   uint8_t ivs[][12], int n)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    uint8_t key[32], pt[40], ct[40], tags[16][16], back[64];
    const uint8_t aad[] = "header";
    const uint8_t fixed[12] = {0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6,
                               0x07, 0x18, 0x29, 0x3A, 0x4B, 0x5C};
    uint8_t cts[16][40];
    ck_assert_int_le(n, 16);
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(i * 7 + 1);
    for (size_t i = 0; i < sizeof(pt); i++)
        pt[i] = (uint8_t)i;
    CK_OBJECT_HANDLE k = aes_key(s, key, sizeof(key));
    OK(F->C_MessageEncryptInit(s, &gcm_msg, k));
    for (int i = 0; i < n; i++) {
        memcpy(ivs[i], fixed, 12);
        CK_GCM_MESSAGE_PARAMS mp = msg_params(ivs[i], 12, fixed_bits, gen, tags[i]);
        CK_ULONG len = sizeof(ct);
        OK(F->C_EncryptMessage(s, &mp, sizeof(mp), (CK_BYTE_PTR)aad, sizeof(aad), pt, sizeof(pt),
                               cts[i], &len));
        ck_assert_uint_eq(len, sizeof(pt));
        /* the fixed bits stay */
        for (CK_ULONG b = 0; b < fixed_bits; b++) {
            int bit = 7 - (int)(b % 8);
            ck_assert_msg(((ivs[i][b / 8] ^ fixed[b / 8]) >> bit & 1) == 0,
                          "message %d: fixed IV bit %lu changed", i, b);
        }
        for (int j = 0; j < i; j++)
            ck_assert_msg(memcmp(ivs[i], ivs[j], 12) != 0, "messages %d and %d share an IV", i, j);
    }
    OK(F->C_MessageEncryptFinal(s));
    OK(F->C_MessageDecryptInit(s, &gcm_msg, k));
    for (int i = 0; i < n; i++) {
        CK_GCM_MESSAGE_PARAMS mp = msg_params(ivs[i], 12, 0, CKG_NO_GENERATE, tags[i]);
        CK_ULONG len = sizeof(back);
        OK(F->C_DecryptMessage(s, &mp, sizeof(mp), (CK_BYTE_PTR)aad, sizeof(aad), cts[i],
                               sizeof(pt), back, &len));
        ck_assert_uint_eq(len, sizeof(pt));
        ck_assert_mem_eq(back, pt, sizeof(pt));
        len = sizeof(back);
        OK(plain_decrypt(s, k, ivs[i], 12, aad, sizeof(aad), cts[i], sizeof(pt), tags[i], back,
                         &len));
        ck_assert_mem_eq(back, pt, sizeof(pt));
    }
    OK(F->C_MessageDecryptFinal(s));
}

/* The low 64 bits of a 12-byte IV, big-endian. */
static uint64_t iv_low64(const uint8_t iv[12])
{
    uint64_t v = 0;
    for (int i = 4; i < 12; i++)
        v = v << 8 | iv[i];
    return v;
}

START_TEST(test_message_counter_ivs_count_up_from_a_random_start_after_the_fixed_part)
{
    uint8_t ivs[8][12], again[8][12];
    static const uint8_t fixed[4] = {0xA1, 0xB2, 0xC3, 0xD4};
    encrypt_with_generator(CKG_GENERATE_COUNTER, 32, ivs, 8);
    /* 32 fixed bits, then the counter big-endian in the 64 free bits, one up per message */
    for (int i = 0; i < 8; i++) {
        ck_assert_mem_eq(ivs[i], fixed, 4);
        ck_assert_uint_eq(iv_low64(ivs[i]), iv_low64(ivs[0]) + (uint64_t)i);
    }
    ck_assert_uint_lt(iv_low64(ivs[0]), UINT64_C(1) << 63);
    /* a second init on the same key and fixed part does not start where the first did (a zero
     * start would repeat every IV), here after the module was finalised and loaded again as
     * by a new process; equal starts have probability 2^-63 */
    OK(F->C_Finalize(NULL));
    encrypt_with_generator(CKG_GENERATE_COUNTER, 32, again, 8);
    ck_assert_msg(iv_low64(again[0]) != iv_low64(ivs[0]), "two inits started the counter alike");
}
END_TEST

START_TEST(test_message_random_ivs_differ_and_keep_unaligned_fixed_bits)
{
    uint8_t ivs[8][12];
    encrypt_with_generator(CKG_GENERATE_RANDOM, 20, ivs, 8);
}
END_TEST

START_TEST(test_message_generate_makes_distinct_ivs)
{
    uint8_t ivs[8][12];
    encrypt_with_generator(CKG_GENERATE, 0, ivs, 8);
}
END_TEST

START_TEST(test_message_decrypts_what_c_encrypt_made)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    uint8_t key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    uint8_t iv[12] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2}, aad[5] = "hello";
    uint8_t pt[33], ct[64], back[64];
    for (size_t i = 0; i < sizeof(pt); i++)
        pt[i] = (uint8_t)(0xF0 ^ i);
    CK_OBJECT_HANDLE k = aes_key(s, key, sizeof(key));
    CK_GCM_PARAMS gp = {iv, 12, 96, aad, sizeof(aad), 128};
    CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
    CK_ULONG len = sizeof(ct);
    OK(F->C_EncryptInit(s, &m, k));
    OK(F->C_Encrypt(s, pt, sizeof(pt), ct, &len));
    ck_assert_uint_eq(len, sizeof(pt) + 16);
    /* the tag C_Encrypt appended is the message's pTag */
    CK_GCM_MESSAGE_PARAMS mp = msg_params(iv, 12, 0, CKG_NO_GENERATE, ct + sizeof(pt));
    OK(F->C_MessageDecryptInit(s, &gcm_msg, k));
    len = sizeof(back);
    OK(F->C_DecryptMessage(s, &mp, sizeof(mp), aad, sizeof(aad), ct, sizeof(pt), back, &len));
    ck_assert_uint_eq(len, sizeof(pt));
    ck_assert_mem_eq(back, pt, sizeof(pt));
    /* and the message encryption of the same input gives C_Encrypt's bytes */
    uint8_t ct2[64], tag[16];
    CK_GCM_MESSAGE_PARAMS ep = msg_params(iv, 12, 0, CKG_NO_GENERATE, tag);
    OK(F->C_MessageEncryptInit(s, &gcm_msg, k));
    len = sizeof(ct2);
    OK(F->C_EncryptMessage(s, &ep, sizeof(ep), aad, sizeof(aad), pt, sizeof(pt), ct2, &len));
    ck_assert_mem_eq(ct2, ct, sizeof(pt));
    ck_assert_mem_eq(tag, ct + sizeof(pt), 16);
    /* a given IV is only read: it may be a constant in read-only memory */
    static const uint8_t const_iv[12] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2};
    CK_GCM_MESSAGE_PARAMS cp = msg_params((uint8_t *)const_iv, 12, 0, CKG_NO_GENERATE, tag);
    len = sizeof(ct2);
    OK(F->C_EncryptMessage(s, &cp, sizeof(cp), aad, sizeof(aad), pt, sizeof(pt), ct2, &len));
    ck_assert_mem_eq(ct2, ct, sizeof(pt));
    OK(F->C_EncryptMessageBegin(s, &cp, sizeof(cp), aad, sizeof(aad)));
    len = sizeof(ct2);
    OK(F->C_EncryptMessageNext(s, &cp, sizeof(cp), pt, sizeof(pt), ct2, &len, CKF_END_OF_MESSAGE));
    ck_assert_mem_eq(ct2, ct, sizeof(pt));
    ck_assert_mem_eq(tag, ct + sizeof(pt), 16);
}
END_TEST

START_TEST(test_message_multi_part_begin_next)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    uint8_t key[32], iv[12], pt[100], ref[100], reftag[16], ct[100], tag[16], back[128];
    const uint8_t aad[] = "multi-part aad";
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(0x40 + i);
    for (size_t i = 0; i < sizeof(pt); i++)
        pt[i] = (uint8_t)(i * 11);
    CK_OBJECT_HANDLE k = aes_key(s, key, sizeof(key));
    OK(F->C_MessageEncryptInit(s, &gcm_msg, k));
    /* a generated IV comes back from Begin; the tag from the last Next */
    memset(iv, 0, sizeof(iv));
    memset(tag, 0, sizeof(tag));
    CK_GCM_MESSAGE_PARAMS mp = msg_params(iv, 12, 0, CKG_GENERATE_RANDOM, tag);
    OK(F->C_EncryptMessageBegin(s, &mp, sizeof(mp), (CK_BYTE_PTR)aad, sizeof(aad)));
    static const uint8_t zero[12];
    ck_assert_mem_ne(iv, zero, 12);
    /* no single-part message while this one runs */
    CK_ULONG len = sizeof(ct);
    EXPECT_RV(CKR_OPERATION_ACTIVE,
              F->C_EncryptMessage(s, &mp, sizeof(mp), NULL, 0, pt, 10, ct, &len));
    EXPECT_RV(CKR_OPERATION_ACTIVE, F->C_EncryptMessageBegin(s, &mp, sizeof(mp), NULL, 0));
    /* size query and short buffer keep the message */
    len = 0;
    OK(F->C_EncryptMessageNext(s, &mp, sizeof(mp), pt, 30, NULL, &len, 0));
    ck_assert_uint_eq(len, 30);
    len = 10;
    EXPECT_RV(CKR_BUFFER_TOO_SMALL,
              F->C_EncryptMessageNext(s, &mp, sizeof(mp), pt, 30, ct, &len, 0));
    ck_assert_uint_eq(len, 30);
    len = 30;
    OK(F->C_EncryptMessageNext(s, &mp, sizeof(mp), pt, 30, ct, &len, 0));
    ck_assert_uint_eq(len, 30);
    len = 45;
    OK(F->C_EncryptMessageNext(s, &mp, sizeof(mp), pt + 30, 45, ct + 30, &len, 0));
    ck_assert_uint_eq(len, 45);
    len = 25;
    OK(F->C_EncryptMessageNext(s, &mp, sizeof(mp), pt + 75, 25, ct + 75, &len, CKF_END_OF_MESSAGE));
    ck_assert_uint_eq(len, 25);
    ck_assert_mem_ne(tag, zero, 12);
    /* the message is over */
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED,
              F->C_EncryptMessageNext(s, &mp, sizeof(mp), pt, 1, ct, &len, 0));
    /* the same IV in one part gives the same bytes, the same as OpenSSL's */
    CK_GCM_MESSAGE_PARAMS one = msg_params(iv, 12, 0, CKG_NO_GENERATE, reftag);
    len = sizeof(ref);
    OK(F->C_EncryptMessage(s, &one, sizeof(one), (CK_BYTE_PTR)aad, sizeof(aad), pt, sizeof(pt), ref,
                           &len));
    ck_assert_mem_eq(ref, ct, sizeof(pt));
    ck_assert_mem_eq(reftag, tag, 16);
    {
        EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
        uint8_t o[100], ot[16];
        int n = 0;
        ck_assert_int_eq(EVP_EncryptInit_ex(x, EVP_aes_256_gcm(), NULL, key, iv), 1);
        ck_assert_int_eq(EVP_EncryptUpdate(x, NULL, &n, aad, sizeof(aad)), 1);
        ck_assert_int_eq(EVP_EncryptUpdate(x, o, &n, pt, sizeof(pt)), 1);
        ck_assert_int_eq(EVP_EncryptFinal_ex(x, o + n, &n), 1);
        ck_assert_int_eq(EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, 16, ot), 1);
        EVP_CIPHER_CTX_free(x);
        ck_assert_mem_eq(o, ct, sizeof(pt));
        ck_assert_mem_eq(ot, tag, 16);
    }
    OK(F->C_MessageEncryptFinal(s));

    /* decryption in parts: nothing comes out before the tag has verified */
    CK_GCM_MESSAGE_PARAMS dp = msg_params(iv, 12, 0, CKG_NO_GENERATE, tag);
    OK(F->C_MessageDecryptInit(s, &gcm_msg, k));
    OK(F->C_DecryptMessageBegin(s, &dp, sizeof(dp), (CK_BYTE_PTR)aad, sizeof(aad)));
    len = sizeof(back);
    OK(F->C_DecryptMessageNext(s, &dp, sizeof(dp), ct, 60, back, &len, 0));
    ck_assert_uint_eq(len, 0);
    len = 0;
    OK(F->C_DecryptMessageNext(s, &dp, sizeof(dp), ct + 60, 40, NULL, &len, CKF_END_OF_MESSAGE));
    ck_assert_uint_eq(len, 100);
    len = 99;
    EXPECT_RV(CKR_BUFFER_TOO_SMALL, F->C_DecryptMessageNext(s, &dp, sizeof(dp), ct + 60, 40, back,
                                                            &len, CKF_END_OF_MESSAGE));
    len = sizeof(back);
    OK(F->C_DecryptMessageNext(s, &dp, sizeof(dp), ct + 60, 40, back, &len, CKF_END_OF_MESSAGE));
    ck_assert_uint_eq(len, 100);
    ck_assert_mem_eq(back, pt, 100);
    /* a wrong tag fails the last part and ends that message, not the process */
    tag[3] ^= 0x10;
    OK(F->C_DecryptMessageBegin(s, &dp, sizeof(dp), (CK_BYTE_PTR)aad, sizeof(aad)));
    len = sizeof(back);
    OK(F->C_DecryptMessageNext(s, &dp, sizeof(dp), ct, 50, back, &len, 0));
    len = sizeof(back);
    memset(back, 0x77, sizeof(back));
    EXPECT_RV(CKR_AEAD_DECRYPT_FAILED, F->C_DecryptMessageNext(s, &dp, sizeof(dp), ct + 50, 50,
                                                               back, &len, CKF_END_OF_MESSAGE));
    for (size_t i = 0; i < sizeof(back); i++)
        ck_assert_uint_eq(back[i], 0x77);
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED,
              F->C_DecryptMessageNext(s, &dp, sizeof(dp), ct, 1, back, &len, CKF_END_OF_MESSAGE));
    tag[3] ^= 0x10;
    len = sizeof(back);
    OK(F->C_DecryptMessage(s, &dp, sizeof(dp), (CK_BYTE_PTR)aad, sizeof(aad), ct, 100, back, &len));
    ck_assert_mem_eq(back, pt, 100);
    OK(F->C_MessageDecryptFinal(s));
}
END_TEST

START_TEST(test_message_wrong_tag_or_aad_is_aead_decrypt_failed)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    uint8_t key[16] = {0x11}, iv[12] = {0x22}, tag[16], pt[20] = "twenty bytes of data", ct[20],
            back[20];
    uint8_t aad[4] = {1, 2, 3, 4};
    CK_OBJECT_HANDLE k = aes_key(s, key, sizeof(key));
    CK_GCM_MESSAGE_PARAMS mp = msg_params(iv, 12, 0, CKG_NO_GENERATE, tag);
    CK_ULONG len = sizeof(ct);
    OK(F->C_MessageEncryptInit(s, &gcm_msg, k));
    OK(F->C_EncryptMessage(s, &mp, sizeof(mp), aad, 4, pt, sizeof(pt), ct, &len));
    OK(F->C_MessageDecryptInit(s, &gcm_msg, k));
    /* a flipped tag bit: PKCS#11 3.0 C_DecryptMessage names CKR_AEAD_DECRYPT_FAILED, no plaintext
     * given */
    tag[15] ^= 0x01;
    memset(back, 0x55, sizeof(back));
    len = sizeof(back);
    EXPECT_RV(CKR_AEAD_DECRYPT_FAILED,
              F->C_DecryptMessage(s, &mp, sizeof(mp), aad, 4, ct, sizeof(ct), back, &len));
    for (size_t i = 0; i < sizeof(back); i++)
        ck_assert_uint_eq(back[i], 0x55);
    tag[15] ^= 0x01;
    /* other AAD, other ciphertext, other IV */
    aad[0] ^= 1;
    len = sizeof(back);
    EXPECT_RV(CKR_AEAD_DECRYPT_FAILED,
              F->C_DecryptMessage(s, &mp, sizeof(mp), aad, 4, ct, sizeof(ct), back, &len));
    aad[0] ^= 1;
    ct[0] ^= 1;
    len = sizeof(back);
    EXPECT_RV(CKR_AEAD_DECRYPT_FAILED,
              F->C_DecryptMessage(s, &mp, sizeof(mp), aad, 4, ct, sizeof(ct), back, &len));
    ct[0] ^= 1;
    iv[0] ^= 1;
    len = sizeof(back);
    EXPECT_RV(CKR_AEAD_DECRYPT_FAILED,
              F->C_DecryptMessage(s, &mp, sizeof(mp), aad, 4, ct, sizeof(ct), back, &len));
    iv[0] ^= 1;
    /* the process survived all of that */
    len = sizeof(back);
    OK(F->C_DecryptMessage(s, &mp, sizeof(mp), aad, 4, ct, sizeof(ct), back, &len));
    ck_assert_mem_eq(back, pt, sizeof(pt));
    /* the classic API keeps its 2.40 code for the same failure */
    tag[0] ^= 0x80;
    len = sizeof(back);
    EXPECT_RV(CKR_ENCRYPTED_DATA_INVALID,
              plain_decrypt(s, k, iv, 12, aad, 4, ct, sizeof(ct), tag, back, &len));
}
END_TEST

START_TEST(test_message_state_rules)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s = user_session(&slot);
    uint8_t key[16] = {3}, iv[12] = {4}, tag[16], pt[8] = "abcdefgh", ct[8];
    CK_OBJECT_HANDLE k = aes_key(s, key, sizeof(key));
    CK_GCM_MESSAGE_PARAMS mp = msg_params(iv, 12, 0, CKG_NO_GENERATE, tag);
    CK_ULONG len = sizeof(ct);
    /* nothing before the init */
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED,
              F->C_EncryptMessage(s, &mp, sizeof(mp), NULL, 0, pt, 8, ct, &len));
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED, F->C_EncryptMessageBegin(s, &mp, sizeof(mp), NULL, 0));
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED, F->C_MessageEncryptFinal(s));
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED, F->C_MessageDecryptFinal(s));
    /* init checks the key and mechanism like C_EncryptInit */
    CK_MECHANISM hmac = {CKM_SHA256_HMAC, NULL, 0};
    EXPECT_RV(CKR_MECHANISM_INVALID, F->C_MessageEncryptInit(s, &hmac, k));
    EXPECT_RV(CKR_KEY_HANDLE_INVALID, F->C_MessageEncryptInit(s, &gcm_msg, 0x7777777));
    CK_ATTRIBUTE noenc[] = {{CKA_ENCRYPT, &no, 1}};
    CK_OBJECT_HANDLE k2 = gen_aes(s, noenc, 1);
    EXPECT_RV(CKR_KEY_FUNCTION_NOT_PERMITTED, F->C_MessageEncryptInit(s, &gcm_msg, k2));
    OK(F->C_MessageDecryptInit(s, &gcm_msg, k2)); /* decryption is allowed */
    OK(F->C_MessageDecryptFinal(s));
    uint8_t junk[3] = {0};
    CK_MECHANISM badparam = {CKM_AES_GCM, junk, sizeof(junk)};
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_MessageEncryptInit(s, &badparam, k));
    /* the init may carry a CK_GCM_MESSAGE_PARAMS (the standard's own example does) */
    CK_MECHANISM withparam = {CKM_AES_GCM, &mp, sizeof(mp)};
    OK(F->C_MessageEncryptInit(s, &withparam, k));
    EXPECT_RV(CKR_OPERATION_ACTIVE, F->C_MessageEncryptInit(s, &gcm_msg, k));
    /* the classic encryption is another kind of operation: it may run beside */
    CK_GCM_PARAMS gp = {iv, 12, 96, NULL, 0, 128};
    CK_MECHANISM classic = {CKM_AES_GCM, &gp, sizeof(gp)};
    OK(F->C_EncryptInit(s, &classic, k));
    OK(F->C_EncryptMessage(s, &mp, sizeof(mp), NULL, 0, pt, 8, ct, &len));
    CK_ULONG clen = 0;
    OK(F->C_Encrypt(s, pt, 8, NULL, &clen));
    ck_assert_uint_eq(clen, 24);
    OK(F->C_EncryptInit(s, NULL, k));
    /* Next without Begin */
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED,
              F->C_EncryptMessageNext(s, &mp, sizeof(mp), pt, 8, ct, &len, CKF_END_OF_MESSAGE));
    /* per-message parameters are checked */
    len = sizeof(ct);
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID,
              F->C_EncryptMessage(s, NULL, 0, NULL, 0, pt, 8, ct, &len));
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID,
              F->C_EncryptMessage(s, &mp, sizeof(mp) - 1, NULL, 0, pt, 8, ct, &len));
    CK_GCM_MESSAGE_PARAMS notag = msg_params(iv, 12, 0, CKG_NO_GENERATE, NULL);
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID,
              F->C_EncryptMessage(s, &notag, sizeof(notag), NULL, 0, pt, 8, ct, &len));
    CK_GCM_MESSAGE_PARAMS oddtag = mp;
    oddtag.ulTagBits = 100;
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID,
              F->C_EncryptMessage(s, &oddtag, sizeof(oddtag), NULL, 0, pt, 8, ct, &len));
    /* a short tag is fine when whole bytes */
    CK_GCM_MESSAGE_PARAMS t96 = mp;
    t96.ulTagBits = 96;
    OK(F->C_EncryptMessage(s, &t96, sizeof(t96), NULL, 0, pt, 8, ct, &len));
    /* Final ends the process; a NULL mechanism too; so does C_SessionCancel and C_Logout */
    OK(F->C_MessageEncryptFinal(s));
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED,
              F->C_EncryptMessage(s, &mp, sizeof(mp), NULL, 0, pt, 8, ct, &len));
    OK(F->C_MessageEncryptInit(s, &gcm_msg, k));
    OK(F->C_EncryptMessageBegin(s, &mp, sizeof(mp), NULL, 0));
    OK(F->C_MessageEncryptInit(s, NULL, k));
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED,
              F->C_EncryptMessageNext(s, &mp, sizeof(mp), pt, 8, ct, &len, 0));
    OK(F->C_MessageEncryptInit(s, &gcm_msg, k));
    OK(F->C_MessageDecryptInit(s, &gcm_msg, k));
    OK(F->C_SessionCancel(s, CKF_MESSAGE_ENCRYPT));
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED,
              F->C_EncryptMessage(s, &mp, sizeof(mp), NULL, 0, pt, 8, ct, &len));
    OK(F->C_MessageEncryptInit(s, &gcm_msg, k)); /* the decryption process was not touched */
    EXPECT_RV(CKR_OPERATION_ACTIVE, F->C_MessageDecryptInit(s, &gcm_msg, k));
    OK(F->C_Logout(s));
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED,
              F->C_EncryptMessage(s, &mp, sizeof(mp), NULL, 0, pt, 8, ct, &len));
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED, F->C_MessageDecryptFinal(s));
    /* the logout destroyed the private session key too */
    EXPECT_RV(CKR_KEY_HANDLE_INVALID, F->C_MessageEncryptInit(s, &gcm_msg, k));
    /* message-based signing and verification are not offered */
    CK_BYTE buf[32] = {0};
    CK_ULONG blen = sizeof(buf);
    OK(login(s, CKU_USER, P11_USER_PIN));
    EXPECT_RV(CKR_FUNCTION_NOT_SUPPORTED, F->C_MessageSignInit(s, &hmac, k));
    EXPECT_RV(CKR_FUNCTION_NOT_SUPPORTED, F->C_SignMessage(s, NULL, 0, buf, 4, buf, &blen));
    EXPECT_RV(CKR_FUNCTION_NOT_SUPPORTED, F->C_SignMessageBegin(s, NULL, 0));
    EXPECT_RV(CKR_FUNCTION_NOT_SUPPORTED, F->C_SignMessageNext(s, NULL, 0, buf, 4, buf, &blen));
    EXPECT_RV(CKR_FUNCTION_NOT_SUPPORTED, F->C_MessageSignFinal(s));
    EXPECT_RV(CKR_FUNCTION_NOT_SUPPORTED, F->C_MessageVerifyInit(s, &hmac, k));
    EXPECT_RV(CKR_FUNCTION_NOT_SUPPORTED, F->C_VerifyMessage(s, NULL, 0, buf, 4, buf, 32));
    EXPECT_RV(CKR_FUNCTION_NOT_SUPPORTED, F->C_VerifyMessageBegin(s, NULL, 0));
    EXPECT_RV(CKR_FUNCTION_NOT_SUPPORTED, F->C_VerifyMessageNext(s, NULL, 0, buf, 4, buf, 32));
    EXPECT_RV(CKR_FUNCTION_NOT_SUPPORTED, F->C_MessageVerifyFinal(s));
    (void)slot;
}
END_TEST

START_TEST(test_message_iv_generator_limits)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    uint8_t key[16] = {5}, iv[16], tag[16], pt[4] = "abcd", ct[4];
    CK_OBJECT_HANDLE k = aes_key(s, key, sizeof(key));
    CK_ULONG len = sizeof(ct);
    OK(F->C_MessageEncryptInit(s, &gcm_msg, k));
    /* a counter needs 64 free bits: with fewer, IVs would soon repeat */
    memset(iv, 0xFF, sizeof(iv));
    CK_GCM_MESSAGE_PARAMS c2 = msg_params(iv, 12, 33, CKG_GENERATE_COUNTER, tag);
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID,
              F->C_EncryptMessage(s, &c2, sizeof(c2), NULL, 0, pt, 4, ct, &len));
    c2.ulIvFixedBits = 32;
    OK(F->C_EncryptMessage(s, &c2, sizeof(c2), NULL, 0, pt, 4, ct, &len));
    ck_assert_uint_eq(iv[0], 0xFF); /* the fixed part stays */
    /* random IVs need 64 free bits, generated IVs 12 bytes */
    CK_GCM_MESSAGE_PARAMS r = msg_params(iv, 12, 40, CKG_GENERATE_RANDOM, tag);
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID,
              F->C_EncryptMessage(s, &r, sizeof(r), NULL, 0, pt, 4, ct, &len));
    r.ulIvFixedBits = 32;
    OK(F->C_EncryptMessage(s, &r, sizeof(r), NULL, 0, pt, 4, ct, &len));
    CK_GCM_MESSAGE_PARAMS shortiv = msg_params(iv, 8, 0, CKG_GENERATE, tag);
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID,
              F->C_EncryptMessage(s, &shortiv, sizeof(shortiv), NULL, 0, pt, 4, ct, &len));
    CK_GCM_MESSAGE_PARAMS toomany = msg_params(iv, 12, 97, CKG_GENERATE_COUNTER, tag);
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID,
              F->C_EncryptMessage(s, &toomany, sizeof(toomany), NULL, 0, pt, 4, ct, &len));
    /* an explicit IV of another length is the caller's business */
    CK_GCM_MESSAGE_PARAMS iv16 = msg_params(iv, 16, 0, CKG_NO_GENERATE, tag);
    OK(F->C_EncryptMessage(s, &iv16, sizeof(iv16), NULL, 0, pt, 4, ct, &len));
    /* CKG_GENERATE_COUNTER_XOR and unknown generators are refused */
    CK_GCM_MESSAGE_PARAMS x = msg_params(iv, 12, 0, CKG_GENERATE_COUNTER_XOR, tag);
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID,
              F->C_EncryptMessage(s, &x, sizeof(x), NULL, 0, pt, 4, ct, &len));
    x.ivGenerator = 0x99;
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID,
              F->C_EncryptMessage(s, &x, sizeof(x), NULL, 0, pt, 4, ct, &len));
    /* a size query generates nothing: the IV buffer is left alone */
    OK(F->C_MessageEncryptFinal(s));
    OK(F->C_MessageEncryptInit(s, &gcm_msg, k));
    memset(iv, 0, sizeof(iv));
    CK_GCM_MESSAGE_PARAMS c = msg_params(iv, 12, 0, CKG_GENERATE_COUNTER, tag);
    len = 0;
    memset(iv, 0xEE, 12);
    OK(F->C_EncryptMessage(s, &c, sizeof(c), NULL, 0, pt, 4, NULL, &len));
    static const uint8_t ee[12] = {0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE,
                                   0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE};
    ck_assert_mem_eq(iv, ee, 12);
    len = sizeof(ct);
    OK(F->C_EncryptMessage(s, &c, sizeof(c), NULL, 0, pt, 4, ct, &len));
    ck_assert_msg(memcmp(iv, ee, 12) != 0, "no IV was written back");
}
END_TEST

struct msg_worker {
    CK_SLOT_ID slot;
    CK_OBJECT_HANDLE key;
    int ok;
};

/* One session, its own message processes, many messages. */
static void *msg_worker(void *arg)
{
    struct msg_worker *w = arg;
    CK_SESSION_HANDLE s;
    uint8_t iv[12], tag[16], pt[64], ct[64], back[64];
    if (F->C_OpenSession(w->slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK ||
        F->C_MessageEncryptInit(s, &gcm_msg, w->key) != CKR_OK ||
        F->C_MessageDecryptInit(s, &gcm_msg, w->key) != CKR_OK)
        return NULL;
    for (int i = 0; i < 40; i++) {
        memset(pt, i, sizeof(pt));
        CK_GCM_MESSAGE_PARAMS mp = msg_params(iv, 12, 0, CKG_GENERATE, tag);
        CK_ULONG len = sizeof(ct), blen = sizeof(back);
        if (F->C_EncryptMessage(s, &mp, sizeof(mp), NULL, 0, pt, sizeof(pt), ct, &len) != CKR_OK ||
            F->C_DecryptMessage(s, &mp, sizeof(mp), NULL, 0, ct, len, back, &blen) != CKR_OK ||
            blen != sizeof(pt) || memcmp(back, pt, sizeof(pt)) != 0)
            return NULL;
    }
    w->ok = F->C_CloseSession(s) == CKR_OK;
    return NULL;
}

START_TEST(test_message_processes_of_two_sessions_run_in_parallel)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s = user_session(&slot);
    uint8_t key[32] = {0x42};
    struct msg_worker w[2] = {{slot, aes_key(s, key, sizeof(key)), 0},
                              {slot, aes_key(s, key, sizeof(key)), 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, msg_worker, &w[i]), 0);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
        ck_assert_msg(w[i].ok, "worker %d failed", i);
    }
}
END_TEST

/* ======================================================================================= */
/* Session functions of 3.0, slot events, random, operation state                           */
/* ======================================================================================= */

START_TEST(test_login_user_without_a_name_is_c_login_and_names_are_refused)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s;
    OK(F->C_Initialize(NULL));
    OK(p11_make_token(&M, "loginuser", NULL, &slot));
    OK(F->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
    CK_UTF8CHAR *pin = (CK_UTF8CHAR *)P11_USER_PIN;
    /* libsea tokens have no user names: a name is an argument the token cannot honour */
    EXPECT_RV(CKR_ARGUMENTS_BAD, F->C_LoginUser(s, CKU_USER, pin, 4, (CK_UTF8CHAR *)"alice", 5));
    EXPECT_RV(CKR_ARGUMENTS_BAD, F->C_LoginUser(s, CKU_USER, pin, 4, NULL, 3));
    ck_assert_uint_eq(session_state(s), CKS_RW_PUBLIC_SESSION);
    /* no PIN try was spent on them */
    ck_assert_uint_eq(token_flags(slot) & CKF_USER_PIN_COUNT_LOW, 0);
    /* empty or NULL: C_Login */
    EXPECT_RV(CKR_PIN_INCORRECT, F->C_LoginUser(s, CKU_USER, (CK_UTF8CHAR *)"9999", 4, NULL, 0));
    ck_assert_uint_ne(token_flags(slot) & CKF_USER_PIN_COUNT_LOW, 0);
    OK(F->C_LoginUser(s, CKU_USER, pin, 4, (CK_UTF8CHAR *)"", 0));
    ck_assert_uint_eq(session_state(s), CKS_RW_USER_FUNCTIONS);
    EXPECT_RV(CKR_USER_ALREADY_LOGGED_IN, F->C_LoginUser(s, CKU_USER, pin, 4, NULL, 0));
    EXPECT_RV(CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
              F->C_LoginUser(s, CKU_SO, (CK_UTF8CHAR *)P11_SO_PIN, 8, NULL, 0));
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED,
              F->C_LoginUser(s, CKU_CONTEXT_SPECIFIC, pin, 4, NULL, 0));
    EXPECT_RV(CKR_USER_TYPE_INVALID, F->C_LoginUser(s, 77, pin, 4, NULL, 0));
    OK(F->C_Logout(s));
    OK(F->C_LoginUser(s, CKU_SO, (CK_UTF8CHAR *)P11_SO_PIN, 8, NULL, 0));
    ck_assert_uint_eq(session_state(s), CKS_RW_SO_FUNCTIONS);
}
END_TEST

START_TEST(test_session_cancel_ends_the_named_operations_only)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    uint8_t key[16] = {9}, iv[12] = {1}, buf[64];
    CK_ULONG len = sizeof(buf);
    CK_OBJECT_HANDLE k = aes_key(s, key, sizeof(key));
    CK_GCM_PARAMS gp = {iv, 12, 96, NULL, 0, 128};
    CK_MECHANISM gcm = {CKM_AES_GCM, &gp, sizeof(gp)}, sha = {CKM_SHA256, NULL, 0};
    CK_ATTRIBUTE none[1];
    OK(F->C_EncryptInit(s, &gcm, k));
    OK(F->C_DecryptInit(s, &gcm, k));
    OK(F->C_DigestInit(s, &sha));
    OK(F->C_FindObjectsInit(s, none, 0));
    /* no flag: nothing changes */
    OK(F->C_SessionCancel(s, 0));
    EXPECT_RV(CKR_OPERATION_ACTIVE, F->C_EncryptInit(s, &gcm, k));
    /* flags of operations that are not running are ignored */
    OK(F->C_SessionCancel(s, CKF_SIGN | CKF_VERIFY | CKF_MESSAGE_SIGN | CKF_MESSAGE_VERIFY));
    EXPECT_RV(CKR_OPERATION_ACTIVE, F->C_DigestInit(s, &sha));
    OK(F->C_SessionCancel(s, CKF_ENCRYPT | CKF_FIND_OBJECTS));
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED, F->C_Encrypt(s, buf, 4, buf, &len));
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED, F->C_FindObjectsFinal(s));
    /* the others run on */
    EXPECT_RV(CKR_OPERATION_ACTIVE, F->C_DecryptInit(s, &gcm, k));
    len = sizeof(buf);
    OK(F->C_Digest(s, (CK_BYTE_PTR) "abc", 3, buf, &len));
    ck_assert_uint_eq(len, 32);
    OK(F->C_SessionCancel(s, CKF_DECRYPT));
    OK(F->C_DecryptInit(s, &gcm, k));
    EXPECT_RV(CKR_SESSION_HANDLE_INVALID, F->C_SessionCancel(s + 1000, CKF_DECRYPT));
}
END_TEST

/* Make a token from a forked child, as another process would (reinit: re-initialise that
 * slot's token instead). Returns its slot. */
static CK_SLOT_ID token_from_another_process(const char *label, CK_SLOT_ID reinit)
{
    int fds[2];
    CK_SLOT_ID slot = 0;
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        CK_SLOT_ID made = 0;
        /* the parent's context is stale here: a child initialises its own */
        CK_UTF8CHAR lab[32];
        p11_pad32(lab, label);
        made = reinit;
        int ok = F->C_Initialize(NULL) == CKR_OK &&
                 (reinit ? F->C_InitToken(reinit, (CK_UTF8CHAR_PTR)P11_SO_PIN, 8, lab)
                         : p11_make_token(&M, label, NULL, &made)) == CKR_OK;
        if (ok && write(fds[1], &made, sizeof(made)) != (ssize_t)sizeof(made))
            ok = 0;
        F->C_Finalize(NULL);
        _exit(ok ? 0 : 1);
    }
    close(fds[1]);
    ck_assert_int_eq(read(fds[0], &slot, sizeof(slot)), (ssize_t)sizeof(slot));
    close(fds[0]);
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return slot;
}

START_TEST(test_slot_event_reports_an_se_made_by_another_process)
{
    CK_SLOT_ID ev = 0;
    OK(F->C_Initialize(NULL));
    EXPECT_RV(CKR_NO_EVENT, F->C_WaitForSlotEvent(CKF_DONT_BLOCK, &ev, NULL));
    CK_SLOT_ID made = token_from_another_process("elsewhere", 0);
    /* the SE's slot, and the device's next free slot, each once */
    int seen_made = 0, events = 0;
    for (CK_RV rv; (rv = F->C_WaitForSlotEvent(CKF_DONT_BLOCK, &ev, NULL)) != CKR_NO_EVENT;) {
        ck_assert_msg(rv == CKR_OK, "C_WaitForSlotEvent: %s", p11_rv_name(rv));
        seen_made += ev == made;
        ck_assert_int_lt(++events, 4);
    }
    ck_assert_int_eq(seen_made, 1);
    EXPECT_RV(CKR_NO_EVENT, F->C_WaitForSlotEvent(CKF_DONT_BLOCK, &ev, NULL));
    /* the token is there for this process */
    CK_TOKEN_INFO ti;
    OK(F->C_GetTokenInfo(made, &ti));
    ck_assert_mem_eq(ti.label, "elsewhere ", 10);
    /* re-initialised elsewhere: that slot changed */
    ck_assert_uint_eq(token_from_another_process("renamed", made), made);
    OK(F->C_WaitForSlotEvent(CKF_DONT_BLOCK, &ev, NULL));
    ck_assert_uint_eq(ev, made);
    EXPECT_RV(CKR_NO_EVENT, F->C_WaitForSlotEvent(CKF_DONT_BLOCK, &ev, NULL));
    OK(F->C_GetTokenInfo(made, &ti));
    ck_assert_mem_eq(ti.label, "renamed ", 8);
    /* deleted by another process (sea-tool): that slot again, and its token is gone */
    const char *tool = getenv("SEA_TOOL");
    char cmd[512];
    ck_assert_msg(tool != NULL, "SEA_TOOL is not set (run through make check)");
    snprintf(cmd, sizeof(cmd), "SEA_SO_PIN=%s '%s' --quiet delete --se renamed >/dev/null",
             P11_SO_PIN, tool);
    ck_assert_int_eq(system(cmd), 0);
    seen_made = 0;
    for (CK_RV rv; (rv = F->C_WaitForSlotEvent(CKF_DONT_BLOCK, &ev, NULL)) != CKR_NO_EVENT;)
        seen_made += rv == CKR_OK && ev == made;
    ck_assert_int_eq(seen_made, 1);
    EXPECT_RV(CKR_SLOT_ID_INVALID, F->C_GetTokenInfo(made, &ti));
}
END_TEST

struct waiter {
    CK_FLAGS flags;
    CK_SLOT_ID slot;
    CK_RV rv;
};

static void *wait_thread(void *arg)
{
    struct waiter *w = arg;
    w->rv = F->C_WaitForSlotEvent(w->flags, &w->slot, NULL);
    return NULL;
}

START_TEST(test_blocking_slot_event_wakes_for_another_process)
{
    CK_SLOT_ID ev;
    pthread_t t;
    OK(F->C_Initialize(NULL));
    struct waiter w = {0, 0, CKR_GENERAL_ERROR};
    ck_assert_int_eq(pthread_create(&t, NULL, wait_thread, &w), 0);
    usleep(300 * 1000); /* let it block a while */
    CK_SLOT_ID made = token_from_another_process("blocking", 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    OK(w.rv);
    /* either the new SE or the free slot that moved; both are reported */
    while (F->C_WaitForSlotEvent(CKF_DONT_BLOCK, &ev, NULL) == CKR_OK)
        if (ev == made)
            w.slot = made;
    ck_assert_uint_eq(w.slot, made);
}
END_TEST

START_TEST(test_finalize_wakes_a_blocked_slot_event_wait)
{
    pthread_t t;
    OK(F->C_Initialize(NULL));
    struct waiter w = {0, 0, CKR_GENERAL_ERROR};
    ck_assert_int_eq(pthread_create(&t, NULL, wait_thread, &w), 0);
    usleep(300 * 1000);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    OK(F->C_Finalize(NULL));
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    EXPECT_RV(CKR_CRYPTOKI_NOT_INITIALIZED, w.rv);
    ck_assert_int_lt(b.tv_sec - a.tv_sec, 3);
    /* and a new context works */
    OK(F->C_Initialize(NULL));
    CK_SLOT_ID ev;
    EXPECT_RV(CKR_NO_EVENT, F->C_WaitForSlotEvent(CKF_DONT_BLOCK, &ev, NULL));
}
END_TEST

START_TEST(test_seed_random_is_mixed_in_and_random_stays_random)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    uint8_t seed[32] = {0}, a[64], b[64], z[64] = {0};
    OK(F->C_SeedRandom(s, seed, sizeof(seed)));
    OK(F->C_SeedRandom(s, (CK_BYTE_PTR) "more", 4));
    OK(F->C_SeedRandom(s, NULL, 0));
    EXPECT_RV(CKR_ARGUMENTS_BAD, F->C_SeedRandom(s, NULL, 4));
    EXPECT_RV(CKR_SESSION_HANDLE_INVALID, F->C_SeedRandom(s + 1000, seed, 4));
    OK(F->C_GenerateRandom(s, a, sizeof(a)));
    OK(F->C_GenerateRandom(s, b, sizeof(b)));
    ck_assert_mem_ne(a, b, sizeof(a));
    ck_assert_mem_ne(a, z, sizeof(a));
    /* keys made after seeding still differ */
    CK_ATTRIBUTE ex[] = {{CKA_SENSITIVE, &no, 1}, {CKA_EXTRACTABLE, &yes, 1}};
    CK_OBJECT_HANDLE k1 = gen_aes(s, ex, 2), k2 = gen_aes(s, ex, 2);
    uint8_t full1[32], full2[32];
    CK_ATTRIBUTE r1 = {CKA_VALUE, full1, 32}, r2 = {CKA_VALUE, full2, 32};
    OK(F->C_GetAttributeValue(s, k1, &r1, 1));
    OK(F->C_GetAttributeValue(s, k2, &r2, 1));
    ck_assert_mem_ne(full1, full2, 32);
}
END_TEST

START_TEST(test_operation_state_is_not_supported)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    CK_MECHANISM sha = {CKM_SHA256, NULL, 0};
    CK_BYTE buf[256];
    CK_ULONG len = sizeof(buf);
    OK(F->C_DigestInit(s, &sha));
    OK(F->C_DigestUpdate(s, (CK_BYTE_PTR) "abc", 3));
    EXPECT_RV(CKR_FUNCTION_NOT_SUPPORTED, F->C_GetOperationState(s, NULL, &len));
    EXPECT_RV(CKR_FUNCTION_NOT_SUPPORTED, F->C_GetOperationState(s, buf, &len));
    EXPECT_RV(CKR_FUNCTION_NOT_SUPPORTED, F->C_SetOperationState(s, buf, 16, 0, 0));
    /* asking did not disturb the digest */
    len = sizeof(buf);
    OK(F->C_DigestFinal(s, buf, &len));
    ck_assert_uint_eq(len, 32);
}
END_TEST

/* ======================================================================================= */
/* Attribute rules                                                                          */
/* ======================================================================================= */

START_TEST(test_read_only_attributes_are_refused_everywhere)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    uint8_t val[16] = {1};
    CK_OBJECT_HANDLE k = aes_key(s, val, sizeof(val)), h;
    CK_ULONG kgm = CKM_AES_KEY_GEN;
    char uid[] = "0123456789abcdef0123456789abcdef";
    CK_ATTRIBUTE ro[] = {
        {CKA_LOCAL, &yes, 1},
        {CKA_ALWAYS_SENSITIVE, &yes, 1},
        {CKA_NEVER_EXTRACTABLE, &yes, 1},
        {CKA_KEY_GEN_MECHANISM, &kgm, sizeof(kgm)},
        {CKA_UNIQUE_ID, uid, 32},
    };
    for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
        CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                            {CKA_KEY_TYPE, &kt_aes, sizeof(kt_aes)},
                            {CKA_VALUE, val, sizeof(val)},
                            ro[i]};
        EXPECT_RV(CKR_ATTRIBUTE_READ_ONLY, F->C_CreateObject(s, t, 4, &h));
        EXPECT_RV(CKR_ATTRIBUTE_READ_ONLY, F->C_SetAttributeValue(s, k, &ro[i], 1));
        EXPECT_RV(CKR_ATTRIBUTE_READ_ONLY, F->C_CopyObject(s, k, &ro[i], 1, &h));
    }
    /* generation templates cannot claim them either */
    CK_MECHANISM gen = {CKM_AES_KEY_GEN, NULL, 0};
    CK_ULONG len = 16;
    CK_ATTRIBUTE gt[] = {{CKA_VALUE_LEN, &len, sizeof(len)}, {CKA_LOCAL, &no, 1}};
    EXPECT_RV(CKR_ATTRIBUTE_READ_ONLY, F->C_GenerateKey(s, &gen, gt, 2, &h));
    /* class and key type never change */
    CK_ATTRIBUTE cls = {CKA_CLASS, &cls_data, sizeof(cls_data)};
    EXPECT_RV(CKR_ATTRIBUTE_READ_ONLY, F->C_SetAttributeValue(s, k, &cls, 1));
}
END_TEST

START_TEST(test_sensitive_only_rises_and_extractable_only_falls)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    CK_ATTRIBUTE open[] = {{CKA_SENSITIVE, &no, 1}, {CKA_EXTRACTABLE, &yes, 1}};
    CK_OBJECT_HANDLE k = gen_aes(s, open, 2), c;
    ck_assert_uint_eq(get_bool(s, k, CKA_ALWAYS_SENSITIVE), CK_FALSE);
    ck_assert_uint_eq(get_bool(s, k, CKA_NEVER_EXTRACTABLE), CK_FALSE);
    ck_assert_uint_eq(get_bool(s, k, CKA_LOCAL), CK_TRUE);
    /* a copy may only make it stricter */
    CK_ATTRIBUTE loosen_ext = {CKA_EXTRACTABLE, &yes, 1};
    CK_ATTRIBUTE tighten = {CKA_SENSITIVE, &yes, 1};
    OK(F->C_CopyObject(s, k, &tighten, 1, &c));
    ck_assert_uint_eq(get_bool(s, c, CKA_SENSITIVE), CK_TRUE);
    ck_assert_uint_eq(get_bool(s, c, CKA_ALWAYS_SENSITIVE), CK_FALSE); /* it was not always */
    ck_assert_uint_eq(get_bool(s, c, CKA_LOCAL), CK_TRUE);
    CK_ATTRIBUTE loosen_sens = {CKA_SENSITIVE, &no, 1};
    EXPECT_RV(CKR_ATTRIBUTE_READ_ONLY, F->C_CopyObject(s, c, &loosen_sens, 1, &c));
    /* C_SetAttributeValue: SENSITIVE false -> true, never back; EXTRACTABLE true -> false */
    set_bool(s, k, CKA_SENSITIVE, CK_FALSE, CKR_OK); /* no change is fine */
    set_bool(s, k, CKA_SENSITIVE, CK_TRUE, CKR_OK);
    set_bool(s, k, CKA_SENSITIVE, CK_FALSE, CKR_ATTRIBUTE_READ_ONLY);
    ck_assert_uint_eq(get_bool(s, k, CKA_ALWAYS_SENSITIVE), CK_FALSE);
    set_bool(s, k, CKA_EXTRACTABLE, CK_FALSE, CKR_OK);
    set_bool(s, k, CKA_EXTRACTABLE, CK_TRUE, CKR_ATTRIBUTE_READ_ONLY);
    ck_assert_uint_eq(get_bool(s, k, CKA_NEVER_EXTRACTABLE), CK_FALSE); /* it was extractable */
    EXPECT_RV(CKR_ATTRIBUTE_READ_ONLY, F->C_CopyObject(s, k, &loosen_ext, 1, &c));
    /* a key generated sensitive and unextractable is always/never so, and its copy too */
    CK_OBJECT_HANDLE g = gen_aes(s, NULL, 0);
    ck_assert_uint_eq(get_bool(s, g, CKA_ALWAYS_SENSITIVE), CK_TRUE);
    ck_assert_uint_eq(get_bool(s, g, CKA_NEVER_EXTRACTABLE), CK_TRUE);
    OK(F->C_CopyObject(s, g, NULL, 0, &c));
    ck_assert_uint_eq(get_bool(s, c, CKA_ALWAYS_SENSITIVE), CK_TRUE);
    ck_assert_uint_eq(get_bool(s, c, CKA_NEVER_EXTRACTABLE), CK_TRUE);
    /* an imported key was in clear once: neither, and not local */
    uint8_t val[16] = {2};
    CK_OBJECT_HANDLE imp = aes_key(s, val, sizeof(val));
    ck_assert_uint_eq(get_bool(s, imp, CKA_SENSITIVE), CK_TRUE);
    ck_assert_uint_eq(get_bool(s, imp, CKA_ALWAYS_SENSITIVE), CK_FALSE);
    ck_assert_uint_eq(get_bool(s, imp, CKA_NEVER_EXTRACTABLE), CK_FALSE);
    ck_assert_uint_eq(get_bool(s, imp, CKA_LOCAL), CK_FALSE);
    /* EC pair: the private half tracks them, the public half has none of them */
    CK_OBJECT_HANDLE pub, priv;
    gen_ec(s, NULL, 0, &pub, &priv);
    ck_assert_uint_eq(get_bool(s, priv, CKA_ALWAYS_SENSITIVE), CK_TRUE);
    ck_assert_uint_eq(get_bool(s, priv, CKA_NEVER_EXTRACTABLE), CK_TRUE);
    ck_assert_uint_eq(get_bool(s, priv, CKA_LOCAL), CK_TRUE);
    ck_assert_uint_eq(get_bool(s, pub, CKA_LOCAL), CK_TRUE);
    CK_BBOOL v;
    CK_ATTRIBUTE as = {CKA_ALWAYS_SENSITIVE, &v, 1};
    EXPECT_RV(CKR_ATTRIBUTE_TYPE_INVALID, F->C_GetAttributeValue(s, pub, &as, 1));
    ck_assert_uint_eq(as.ulValueLen, CK_UNAVAILABLE_INFORMATION);
}
END_TEST

START_TEST(test_modifiable_copyable_destroyable_false_prohibit_the_action)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    CK_OBJECT_HANDLE h, c;
    CK_ATTRIBUTE label = {CKA_LABEL, "x", 1};
    /* CKA_MODIFIABLE false */
    CK_ATTRIBUTE fixed[] = {{CKA_MODIFIABLE, &no, 1}};
    h = gen_aes(s, fixed, 1);
    EXPECT_RV(CKR_ACTION_PROHIBITED, F->C_SetAttributeValue(s, h, &label, 1));
    set_bool(s, h, CKA_ENCRYPT, CK_FALSE, CKR_ACTION_PROHIBITED);
    /* ...and it cannot be turned back by C_SetAttributeValue nor by a copy */
    set_bool(s, h, CKA_MODIFIABLE, CK_TRUE, CKR_ACTION_PROHIBITED);
    CK_ATTRIBUTE mod = {CKA_MODIFIABLE, &yes, 1};
    EXPECT_RV(CKR_ATTRIBUTE_READ_ONLY, F->C_CopyObject(s, h, &mod, 1, &c));
    /* a copy of a modifiable object may be made unmodifiable */
    CK_OBJECT_HANDLE m = gen_aes(s, NULL, 0);
    CK_ATTRIBUTE unmod = {CKA_MODIFIABLE, &no, 1};
    OK(F->C_CopyObject(s, m, &unmod, 1, &c));
    EXPECT_RV(CKR_ACTION_PROHIBITED, F->C_SetAttributeValue(s, c, &label, 1));
    /* CKA_COPYABLE false: no copy, and it never becomes true again */
    CK_ATTRIBUTE nocopy[] = {{CKA_COPYABLE, &no, 1}};
    h = gen_aes(s, nocopy, 1);
    EXPECT_RV(CKR_ACTION_PROHIBITED, F->C_CopyObject(s, h, NULL, 0, &c));
    CK_ATTRIBUTE copy_again = {CKA_COPYABLE, &yes, 1};
    EXPECT_RV(CKR_ACTION_PROHIBITED, F->C_CopyObject(s, h, &copy_again, 1, &c));
    set_bool(s, h, CKA_COPYABLE, CK_TRUE, CKR_ATTRIBUTE_READ_ONLY);
    /* a copyable one may be made uncopyable, by C_SetAttributeValue or in its copy */
    h = gen_aes(s, NULL, 0);
    CK_ATTRIBUTE uncopy = {CKA_COPYABLE, &no, 1};
    OK(F->C_CopyObject(s, h, &uncopy, 1, &c));
    EXPECT_RV(CKR_ACTION_PROHIBITED, F->C_CopyObject(s, c, NULL, 0, &c));
    set_bool(s, h, CKA_COPYABLE, CK_FALSE, CKR_OK);
    EXPECT_RV(CKR_ACTION_PROHIBITED, F->C_CopyObject(s, h, NULL, 0, &c));
    /* CKA_DESTROYABLE false */
    CK_ATTRIBUTE keep[] = {{CKA_DESTROYABLE, &no, 1}};
    h = gen_aes(s, keep, 1);
    EXPECT_RV(CKR_ACTION_PROHIBITED, F->C_DestroyObject(s, h));
    set_bool(s, h, CKA_DESTROYABLE, CK_TRUE, CKR_ATTRIBUTE_READ_ONLY);
    EXPECT_RV(CKR_ACTION_PROHIBITED, F->C_DestroyObject(s, h));
    ck_assert_uint_eq(get_bool(s, h, CKA_ENCRYPT), CK_TRUE); /* still there */
    h = gen_aes(s, NULL, 0);
    set_bool(s, h, CKA_DESTROYABLE, CK_FALSE, CKR_OK);
    EXPECT_RV(CKR_ACTION_PROHIBITED, F->C_DestroyObject(s, h));
}
END_TEST

START_TEST(test_sensitive_values_are_withheld_and_the_rest_is_filled)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    CK_OBJECT_HANDLE k = gen_aes(s, NULL, 0);
    uint8_t value[32], label[16], checkv[3];
    CK_KEY_TYPE kt = 0;
    CK_ATTRIBUTE t[] = {{CKA_LABEL, label, sizeof(label)},
                        {CKA_VALUE, value, sizeof(value)},
                        {CKA_KEY_TYPE, &kt, sizeof(kt)},
                        {CKA_CHECK_VALUE, checkv, sizeof(checkv)}};
    memset(value, 0x5C, sizeof(value));
    EXPECT_RV(CKR_ATTRIBUTE_SENSITIVE, F->C_GetAttributeValue(s, k, t, 4));
    ck_assert_uint_eq(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    for (size_t i = 0; i < sizeof(value); i++)
        ck_assert_uint_eq(value[i], 0x5C);
    ck_assert_uint_eq(t[0].ulValueLen, 0);
    ck_assert_uint_eq(t[2].ulValueLen, sizeof(kt));
    ck_assert_uint_eq(kt, CKK_AES);
    ck_assert_uint_eq(t[3].ulValueLen, 3);
    /* the private half of an EC key too */
    CK_OBJECT_HANDLE pub, priv;
    gen_ec(s, NULL, 0, &pub, &priv);
    CK_BYTE params[16];
    CK_ATTRIBUTE q[] = {{CKA_VALUE, NULL, 0}, {CKA_EC_PARAMS, params, sizeof(params)}};
    EXPECT_RV(CKR_ATTRIBUTE_SENSITIVE, F->C_GetAttributeValue(s, priv, q, 2));
    ck_assert_uint_eq(q[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    ck_assert_uint_eq(q[1].ulValueLen, sizeof(P256));
    ck_assert_mem_eq(params, P256, sizeof(P256));
    /* libsea's stricter rule: not sensitive but not extractable is still withheld */
    CK_ATTRIBUTE ns[] = {{CKA_SENSITIVE, &no, 1}};
    CK_OBJECT_HANDLE k2 = gen_aes(s, ns, 1);
    CK_ATTRIBUTE v = {CKA_VALUE, value, sizeof(value)};
    EXPECT_RV(CKR_ATTRIBUTE_SENSITIVE, F->C_GetAttributeValue(s, k2, &v, 1));
    ck_assert_uint_eq(v.ulValueLen, CK_UNAVAILABLE_INFORMATION);
}
END_TEST

START_TEST(test_unique_id_is_present_stable_and_read_only)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s = user_session(&slot);
    char id1[64], id2[64], idc[64];
    CK_ATTRIBUTE tok[] = {{CKA_TOKEN, &yes, 1}, {CKA_LABEL, "uid", 3}};
    CK_OBJECT_HANDLE k = gen_aes(s, tok, 2), c, d;
    CK_ATTRIBUTE a = {CKA_UNIQUE_ID, id1, sizeof(id1)};
    OK(F->C_GetAttributeValue(s, k, &a, 1));
    ck_assert_uint_eq(a.ulValueLen, 32);
    CK_ULONG len1 = a.ulValueLen;
    /* after a restart it is the same */
    OK(F->C_Finalize(NULL));
    OK(F->C_Initialize(NULL));
    OK(p11_user_session(&M, slot, NULL, &s));
    CK_ULONG n = 0;
    OK(p11_find_label(&M, s, CKO_SECRET_KEY, "uid", &k, &n));
    ck_assert_uint_eq(n, 1);
    a.pValue = id2;
    a.ulValueLen = sizeof(id2);
    OK(F->C_GetAttributeValue(s, k, &a, 1));
    ck_assert_uint_eq(a.ulValueLen, len1);
    ck_assert_mem_eq(id1, id2, len1);
    /* a copy is another object with another id */
    OK(F->C_CopyObject(s, k, NULL, 0, &c));
    a.pValue = idc;
    a.ulValueLen = sizeof(idc);
    OK(F->C_GetAttributeValue(s, c, &a, 1));
    ck_assert_uint_eq(a.ulValueLen, 32);
    ck_assert_mem_ne(idc, id1, 32);
    /* found by it, set by nobody */
    CK_ATTRIBUTE by = {CKA_UNIQUE_ID, id1, len1};
    CK_OBJECT_HANDLE found[4];
    OK(F->C_FindObjectsInit(s, &by, 1));
    OK(F->C_FindObjects(s, found, 4, &n));
    OK(F->C_FindObjectsFinal(s));
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(found[0], k);
    EXPECT_RV(CKR_ATTRIBUTE_READ_ONLY, F->C_SetAttributeValue(s, k, &by, 1));
    EXPECT_RV(CKR_ATTRIBUTE_READ_ONLY, F->C_CopyObject(s, k, &by, 1, &d));
    /* data objects have one too */
    CK_ATTRIBUTE dt[] = {{CKA_CLASS, &cls_data, sizeof(cls_data)}, {CKA_VALUE, "v", 1}};
    OK(F->C_CreateObject(s, dt, 2, &d));
    a.pValue = NULL;
    OK(F->C_GetAttributeValue(s, d, &a, 1));
    ck_assert_uint_eq(a.ulValueLen, 32);
}
END_TEST

/* ======================================================================================= */
/* CKA_ALWAYS_AUTHENTICATE, sessions, logins                                                */
/* ======================================================================================= */

START_TEST(test_always_authenticate_needs_a_context_login_per_use)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s = user_session(&slot);
    CK_ATTRIBUTE aa[] = {{CKA_ALWAYS_AUTHENTICATE, &yes, 1}};
    CK_OBJECT_HANDLE pub, priv, plain_pub, plain_priv;
    gen_ec(s, aa, 1, &pub, &priv);
    gen_ec(s, NULL, 0, &plain_pub, &plain_priv);
    CK_MECHANISM ecdsa = {CKM_ECDSA, NULL, 0};
    uint8_t digest[32] = {1, 2, 3}, sig[64];
    CK_ULONG n = sizeof(sig);
    CK_UTF8CHAR *pin = (CK_UTF8CHAR *)P11_USER_PIN;
    /* a context login with nothing to authenticate for, and for a key that does not need it */
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED, F->C_Login(s, CKU_CONTEXT_SPECIFIC, pin, 4));
    OK(F->C_SignInit(s, &ecdsa, plain_priv));
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED, F->C_Login(s, CKU_CONTEXT_SPECIFIC, pin, 4));
    OK(F->C_Sign(s, digest, 32, sig, &n)); /* ...and that left the operation alone */
    /* each use of the key asks for the PIN */
    for (int use = 0; use < 2; use++) {
        OK(F->C_SignInit(s, &ecdsa, priv));
        OK(F->C_Login(s, CKU_CONTEXT_SPECIFIC, pin, 4));
        n = sizeof(sig);
        OK(F->C_Sign(s, digest, 32, sig, &n));
        OK(F->C_VerifyInit(s, &ecdsa, pub));
        OK(F->C_Verify(s, digest, 32, sig, n));
    }
    /* without it: CKR_USER_NOT_LOGGED_IN, which ends the operation */
    OK(F->C_SignInit(s, &ecdsa, priv));
    n = sizeof(sig);
    EXPECT_RV(CKR_USER_NOT_LOGGED_IN, F->C_Sign(s, digest, 32, sig, &n));
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED, F->C_Sign(s, digest, 32, sig, &n));
    /* not even a size query works before the login, and it too ends the operation */
    OK(F->C_SignInit(s, &ecdsa, priv));
    EXPECT_RV(CKR_USER_NOT_LOGGED_IN, F->C_Sign(s, digest, 32, NULL, &n));
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED, F->C_Login(s, CKU_CONTEXT_SPECIFIC, pin, 4));
    /* a wrong PIN counts a try and leaves the operation waiting */
    OK(F->C_SignInit(s, &ecdsa, priv));
    EXPECT_RV(CKR_PIN_INCORRECT, F->C_Login(s, CKU_CONTEXT_SPECIFIC, (CK_UTF8CHAR *)"0000", 4));
    ck_assert_uint_ne(token_flags(slot) & CKF_USER_PIN_COUNT_LOW, 0);
    ck_assert_uint_eq(session_state(s), CKS_RW_USER_FUNCTIONS); /* still logged in */
    OK(F->C_Login(s, CKU_CONTEXT_SPECIFIC, pin, 4));
    ck_assert_uint_eq(token_flags(slot) & CKF_USER_PIN_COUNT_LOW, 0);
    n = sizeof(sig);
    OK(F->C_Sign(s, digest, 32, sig, &n));
    /* locking the PIN by context logins logs the user out (3.0, private key objects) */
    OK(F->C_SignInit(s, &ecdsa, priv));
    CK_RV rv = CKR_OK;
    for (int i = 0; i < 20 && rv != CKR_PIN_LOCKED; i++) {
        rv = F->C_Login(s, CKU_CONTEXT_SPECIFIC, (CK_UTF8CHAR *)"0000", 4);
        ck_assert_msg(rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED, "try %d: %s", i,
                      p11_rv_name(rv));
    }
    EXPECT_RV(CKR_PIN_LOCKED, rv);
    ck_assert_uint_ne(token_flags(slot) & CKF_USER_PIN_LOCKED, 0);
    ck_assert_uint_eq(session_state(s), CKS_RW_PUBLIC_SESSION);
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED, F->C_Sign(s, digest, 32, sig, &n));
}
END_TEST

START_TEST(test_session_states_and_login_errors)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE ro, rw, rw2, h;
    OK(F->C_Initialize(NULL));
    OK(p11_make_token(&M, "states", NULL, &slot));
    OK(F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &ro));
    OK(F->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &rw));
    ck_assert_uint_eq(session_state(ro), CKS_RO_PUBLIC_SESSION);
    ck_assert_uint_eq(session_state(rw), CKS_RW_PUBLIC_SESSION);
    EXPECT_RV(CKR_USER_NOT_LOGGED_IN, F->C_Logout(rw));
    EXPECT_RV(CKR_USER_TYPE_INVALID, login(rw, 5, P11_USER_PIN));
    /* the SO cannot log in while a read-only session is open */
    EXPECT_RV(CKR_SESSION_READ_ONLY_EXISTS, login(rw, CKU_SO, P11_SO_PIN));
    /* token objects need a read/write session; session objects do not */
    CK_ATTRIBUTE tokdata[] = {{CKA_CLASS, &cls_data, sizeof(cls_data)},
                              {CKA_TOKEN, &yes, 1},
                              {CKA_PRIVATE, &no, 1},
                              {CKA_VALUE, "d", 1}};
    CK_ATTRIBUTE sessdata[] = {
        {CKA_CLASS, &cls_data, sizeof(cls_data)}, {CKA_PRIVATE, &no, 1}, {CKA_VALUE, "d", 1}};
    EXPECT_RV(CKR_SESSION_READ_ONLY, F->C_CreateObject(ro, tokdata, 4, &h));
    OK(F->C_CreateObject(ro, sessdata, 3, &h));
    CK_OBJECT_HANDLE tok;
    OK(F->C_CreateObject(rw, tokdata, 4, &tok));
    CK_ATTRIBUTE lab = {CKA_LABEL, "new", 3};
    EXPECT_RV(CKR_SESSION_READ_ONLY, F->C_SetAttributeValue(ro, tok, &lab, 1));
    EXPECT_RV(CKR_SESSION_READ_ONLY, F->C_DestroyObject(ro, tok));
    CK_ATTRIBUTE astoken = {CKA_TOKEN, &yes, 1};
    EXPECT_RV(CKR_SESSION_READ_ONLY, F->C_CopyObject(ro, h, &astoken, 1, &h));
    CK_MECHANISM gen = {CKM_AES_KEY_GEN, NULL, 0};
    CK_ULONG len = 16;
    CK_ATTRIBUTE gt[] = {
        {CKA_VALUE_LEN, &len, sizeof(len)}, {CKA_TOKEN, &yes, 1}, {CKA_PRIVATE, &no, 1}};
    EXPECT_RV(CKR_SESSION_READ_ONLY, F->C_GenerateKey(ro, &gen, gt, 3, &h));
    OK(F->C_SetAttributeValue(rw, tok, &lab, 1));
    /* private objects need the user */
    CK_ATTRIBUTE privdata[] = {{CKA_CLASS, &cls_data, sizeof(cls_data)}, {CKA_PRIVATE, &yes, 1}};
    EXPECT_RV(CKR_USER_NOT_LOGGED_IN, F->C_CreateObject(rw, privdata, 2, &h));
    /* the user: both sessions change state */
    OK(login(ro, CKU_USER, P11_USER_PIN));
    ck_assert_uint_eq(session_state(ro), CKS_RO_USER_FUNCTIONS);
    ck_assert_uint_eq(session_state(rw), CKS_RW_USER_FUNCTIONS);
    EXPECT_RV(CKR_USER_ALREADY_LOGGED_IN, login(rw, CKU_USER, P11_USER_PIN));
    EXPECT_RV(CKR_USER_ANOTHER_ALREADY_LOGGED_IN, login(rw, CKU_SO, P11_SO_PIN));
    EXPECT_RV(CKR_SESSION_READ_ONLY, F->C_CreateObject(ro, tokdata, 4, &h));
    OK(F->C_CreateObject(ro, privdata, 2, &h)); /* a private session object is fine */
    OK(F->C_Logout(ro));
    ck_assert_uint_eq(session_state(rw), CKS_RW_PUBLIC_SESSION);
    /* the SO, once the read-only session is gone */
    OK(F->C_CloseSession(ro));
    OK(login(rw, CKU_SO, P11_SO_PIN));
    ck_assert_uint_eq(session_state(rw), CKS_RW_SO_FUNCTIONS);
    EXPECT_RV(CKR_SESSION_READ_WRITE_SO_EXISTS,
              F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &ro));
    OK(F->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &rw2));
    ck_assert_uint_eq(session_state(rw2), CKS_RW_SO_FUNCTIONS);
    EXPECT_RV(CKR_USER_ALREADY_LOGGED_IN, login(rw2, CKU_SO, P11_SO_PIN));
    EXPECT_RV(CKR_USER_ANOTHER_ALREADY_LOGGED_IN, login(rw2, CKU_USER, P11_USER_PIN));
    /* the SO can make public token objects, not private ones */
    OK(F->C_CreateObject(rw2, tokdata, 4, &h));
    EXPECT_RV(CKR_USER_NOT_LOGGED_IN, F->C_CreateObject(rw2, privdata, 2, &h));
    OK(F->C_Logout(rw2));
    /* a token whose user PIN was never set */
    CK_SLOT_ID fresh;
    CK_UTF8CHAR label[32];
    CK_SESSION_HANDLE fs;
    p11_pad32(label, "nopin");
    OK(p11_free_slot(&M, &fresh));
    OK(F->C_InitToken(fresh, (CK_UTF8CHAR_PTR)P11_SO_PIN, 8, label));
    OK(F->C_OpenSession(fresh, CKF_SERIAL_SESSION, NULL, NULL, &fs));
    EXPECT_RV(CKR_USER_PIN_NOT_INITIALIZED, login(fs, CKU_USER, P11_USER_PIN));
}
END_TEST

/* ======================================================================================= */
/* The end of operations                                                                    */
/* ======================================================================================= */

START_TEST(test_every_error_but_a_short_buffer_ends_the_operation)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    uint8_t key[16] = {7}, iv[12] = {8}, pt[16] = "sixteen bytes!!", ct[64], back[64];
    CK_OBJECT_HANDLE k = aes_key(s, key, sizeof(key));
    CK_GCM_PARAMS gp = {iv, 12, 96, NULL, 0, 128};
    CK_MECHANISM gcm = {CKM_AES_GCM, &gp, sizeof(gp)}, sha = {CKM_SHA256, NULL, 0};
    CK_ULONG len;
    /* C_Encrypt: size query and short buffer keep it, an argument error ends it */
    OK(F->C_EncryptInit(s, &gcm, k));
    len = 0;
    OK(F->C_Encrypt(s, pt, 16, NULL, &len));
    ck_assert_uint_eq(len, 32);
    len = 31;
    EXPECT_RV(CKR_BUFFER_TOO_SMALL, F->C_Encrypt(s, pt, 16, ct, &len));
    EXPECT_RV(CKR_ARGUMENTS_BAD, F->C_Encrypt(s, pt, 16, ct, NULL));
    len = sizeof(ct);
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED, F->C_Encrypt(s, pt, 16, ct, &len));
    OK(F->C_EncryptInit(s, &gcm, k));
    len = sizeof(ct);
    OK(F->C_Encrypt(s, pt, 16, ct, &len));
    /* C_Decrypt with a bad tag ends it; so does C_DecryptFinal with NULL length */
    ct[20] ^= 1;
    OK(F->C_DecryptInit(s, &gcm, k));
    CK_ULONG blen = sizeof(back);
    EXPECT_RV(CKR_ENCRYPTED_DATA_INVALID, F->C_Decrypt(s, ct, len, back, &blen));
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED, F->C_Decrypt(s, ct, len, back, &blen));
    ct[20] ^= 1;
    OK(F->C_DecryptInit(s, &gcm, k));
    blen = sizeof(back);
    OK(F->C_DecryptUpdate(s, ct, len, back, &blen));
    EXPECT_RV(CKR_ARGUMENTS_BAD, F->C_DecryptFinal(s, back, NULL));
    blen = sizeof(back);
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED, F->C_DecryptFinal(s, back, &blen));
    /* C_Sign after C_SignUpdate is refused and ends the signature */
    CK_MECHANISM ecdsa_sha = {CKM_ECDSA_SHA256, NULL, 0}, ecdsa = {CKM_ECDSA, NULL, 0};
    CK_OBJECT_HANDLE pub, priv;
    gen_ec(s, NULL, 0, &pub, &priv);
    uint8_t sig[64];
    CK_ULONG slen = sizeof(sig);
    OK(F->C_SignInit(s, &ecdsa_sha, priv));
    OK(F->C_SignUpdate(s, pt, 8));
    EXPECT_RV(CKR_OPERATION_ACTIVE, F->C_Sign(s, pt, 8, sig, &slen));
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED, F->C_SignFinal(s, sig, &slen));
    /* C_SignUpdate on a single-part mechanism ends it */
    OK(F->C_SignInit(s, &ecdsa, priv));
    EXPECT_RV(CKR_FUNCTION_NOT_SUPPORTED, F->C_SignUpdate(s, pt, 8));
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED, F->C_Sign(s, pt, 16, sig, &slen));
    /* C_Verify with CKR_SIGNATURE_INVALID ends the verification (3.0 C_Verify) */
    OK(F->C_SignInit(s, &ecdsa_sha, priv));
    slen = sizeof(sig);
    OK(F->C_Sign(s, pt, 16, sig, &slen));
    sig[5] ^= 1;
    OK(F->C_VerifyInit(s, &ecdsa_sha, pub));
    EXPECT_RV(CKR_SIGNATURE_INVALID, F->C_Verify(s, pt, 16, sig, slen));
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED, F->C_Verify(s, pt, 16, sig, slen));
    OK(F->C_VerifyInit(s, &ecdsa_sha, pub));
    OK(F->C_VerifyUpdate(s, pt, 16));
    EXPECT_RV(CKR_SIGNATURE_INVALID, F->C_VerifyFinal(s, sig, slen));
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED, F->C_VerifyFinal(s, sig, slen));
    sig[5] ^= 1;
    OK(F->C_VerifyInit(s, &ecdsa_sha, pub));
    EXPECT_RV(CKR_ARGUMENTS_BAD, F->C_Verify(s, pt, 16, NULL, slen));
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED, F->C_Verify(s, pt, 16, sig, slen));
    OK(F->C_VerifyInit(s, &ecdsa_sha, pub));
    OK(F->C_Verify(s, pt, 16, sig, slen));
    /* C_Digest: the size query keeps it, a NULL length ends it */
    OK(F->C_DigestInit(s, &sha));
    len = 0;
    OK(F->C_Digest(s, pt, 16, NULL, &len));
    ck_assert_uint_eq(len, 32);
    EXPECT_RV(CKR_ARGUMENTS_BAD, F->C_Digest(s, pt, 16, back, NULL));
    len = sizeof(back);
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED, F->C_Digest(s, pt, 16, back, &len));
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED, F->C_DigestUpdate(s, pt, 16));
    /* a NULL mechanism cancels, a second init while one runs is refused */
    OK(F->C_DigestInit(s, &sha));
    EXPECT_RV(CKR_OPERATION_ACTIVE, F->C_DigestInit(s, &sha));
    OK(F->C_DigestInit(s, NULL));
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED, F->C_DigestUpdate(s, pt, 16));
    OK(F->C_EncryptInit(s, &gcm, k));
    OK(F->C_EncryptInit(s, NULL, k));
    len = sizeof(ct);
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED, F->C_EncryptFinal(s, ct, &len));
}
END_TEST

/* ---- the suite ---- */

/* A use defaults to true only where the key type has a mechanism for it: an EC key is not
 * shown as able to decrypt or wrap, a generic secret not as able to encrypt, and nothing
 * defaults to the recover functions. */
START_TEST(test_use_defaults_follow_what_the_key_type_can_do)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    CK_OBJECT_HANDLE pub, priv, h;
    CK_ATTRIBUTE none[1];
    CK_MECHANISM ec = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE ept[] = {{CKA_EC_PARAMS, (void *)P256, sizeof(P256)}};
    OK(F->C_GenerateKeyPair(s, &ec, ept, 1, none, 0, &pub, &priv));
    ck_assert_uint_eq(get_bool(s, priv, CKA_SIGN), CK_TRUE);
    ck_assert_uint_eq(get_bool(s, priv, CKA_DECRYPT), CK_FALSE);
    ck_assert_uint_eq(get_bool(s, priv, CKA_UNWRAP), CK_FALSE);
    ck_assert_uint_eq(get_bool(s, priv, CKA_SIGN_RECOVER), CK_FALSE);
    ck_assert_uint_eq(get_bool(s, pub, CKA_VERIFY), CK_TRUE);
    ck_assert_uint_eq(get_bool(s, pub, CKA_ENCRYPT), CK_FALSE);
    ck_assert_uint_eq(get_bool(s, pub, CKA_WRAP), CK_FALSE);
    ck_assert_uint_eq(get_bool(s, pub, CKA_VERIFY_RECOVER), CK_FALSE);

    CK_MECHANISM rsa = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    CK_ULONG bits = 2048;
    CK_ATTRIBUTE rpt[] = {{CKA_MODULUS_BITS, &bits, sizeof(bits)}};
    OK(F->C_GenerateKeyPair(s, &rsa, rpt, 1, none, 0, &pub, &priv));
    ck_assert_uint_eq(get_bool(s, priv, CKA_SIGN), CK_TRUE);
    ck_assert_uint_eq(get_bool(s, priv, CKA_DECRYPT), CK_TRUE);
    ck_assert_uint_eq(get_bool(s, priv, CKA_UNWRAP), CK_TRUE);
    ck_assert_uint_eq(get_bool(s, priv, CKA_SIGN_RECOVER), CK_FALSE);
    ck_assert_uint_eq(get_bool(s, pub, CKA_ENCRYPT), CK_TRUE);
    ck_assert_uint_eq(get_bool(s, pub, CKA_WRAP), CK_TRUE);
    ck_assert_uint_eq(get_bool(s, pub, CKA_VERIFY_RECOVER), CK_FALSE);

    CK_MECHANISM gm = {CKM_GENERIC_SECRET_KEY_GEN, NULL, 0};
    CK_ULONG len = 32;
    CK_ATTRIBUTE gt[] = {{CKA_VALUE_LEN, &len, sizeof(len)}};
    OK(F->C_GenerateKey(s, &gm, gt, 1, &h));
    ck_assert_uint_eq(get_bool(s, h, CKA_SIGN), CK_TRUE);
    ck_assert_uint_eq(get_bool(s, h, CKA_VERIFY), CK_TRUE);
    ck_assert_uint_eq(get_bool(s, h, CKA_ENCRYPT), CK_FALSE);
    ck_assert_uint_eq(get_bool(s, h, CKA_WRAP), CK_FALSE);

    CK_MECHANISM am = {CKM_AES_KEY_GEN, NULL, 0};
    OK(F->C_GenerateKey(s, &am, gt, 1, &h));
    ck_assert_uint_eq(get_bool(s, h, CKA_ENCRYPT), CK_TRUE);
    ck_assert_uint_eq(get_bool(s, h, CKA_DECRYPT), CK_TRUE);
    ck_assert_uint_eq(get_bool(s, h, CKA_WRAP), CK_TRUE);
    ck_assert_uint_eq(get_bool(s, h, CKA_SIGN), CK_TRUE);
}
END_TEST

static Suite *semantics_suite(void)
{
    Suite *su = suite_create("semantics");
    TCase *tc = p11_tcase(su, "message", 60);
    tcase_add_test(tc, test_message_gcm_known_answer_test_case_4);
    tcase_add_test(tc, test_message_counter_ivs_count_up_from_a_random_start_after_the_fixed_part);
    tcase_add_test(tc, test_message_random_ivs_differ_and_keep_unaligned_fixed_bits);
    tcase_add_test(tc, test_message_generate_makes_distinct_ivs);
    tcase_add_test(tc, test_message_decrypts_what_c_encrypt_made);
    tcase_add_test(tc, test_message_multi_part_begin_next);
    tcase_add_test(tc, test_message_wrong_tag_or_aad_is_aead_decrypt_failed);
    tcase_add_test(tc, test_message_state_rules);
    tcase_add_test(tc, test_message_iv_generator_limits);
    tcase_add_test(tc, test_message_processes_of_two_sessions_run_in_parallel);
    tc = p11_tcase(su, "functions", 60);
    tcase_add_test(tc, test_login_user_without_a_name_is_c_login_and_names_are_refused);
    tcase_add_test(tc, test_session_cancel_ends_the_named_operations_only);
    tcase_add_test(tc, test_slot_event_reports_an_se_made_by_another_process);
    tcase_add_test(tc, test_blocking_slot_event_wakes_for_another_process);
    tcase_add_test(tc, test_finalize_wakes_a_blocked_slot_event_wait);
    tcase_add_test(tc, test_seed_random_is_mixed_in_and_random_stays_random);
    tcase_add_test(tc, test_operation_state_is_not_supported);
    tc = p11_tcase(su, "attributes", 60);
    tcase_add_test(tc, test_read_only_attributes_are_refused_everywhere);
    tcase_add_test(tc, test_sensitive_only_rises_and_extractable_only_falls);
    tcase_add_test(tc, test_modifiable_copyable_destroyable_false_prohibit_the_action);
    tcase_add_test(tc, test_sensitive_values_are_withheld_and_the_rest_is_filled);
    tcase_add_test(tc, test_unique_id_is_present_stable_and_read_only);
    tcase_add_test(tc, test_use_defaults_follow_what_the_key_type_can_do);
    tc = p11_tcase(su, "sessions", 60);
    tcase_add_test(tc, test_always_authenticate_needs_a_context_login_per_use);
    tcase_add_test(tc, test_session_states_and_login_errors);
    tcase_add_test(tc, test_every_error_but_a_short_buffer_ends_the_operation);
    return su;
}

int main(void)
{
    return p11_check_main("check_semantics", &M, semantics_suite);
}

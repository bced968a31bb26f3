/* Symmetric mechanisms through the real module (sea-pkcs11.so from $SEA_MODULE) on the software
 * SE: AES ECB/CBC/CBC_PAD/CTR, AES key wrap (RFC 3394, RFC 5649), AES-CMAC and HMAC-SHA-1/2
 * with their _GENERAL variants. Known answers from the published examples (each named where
 * it is typed in), single-part against multi-part in odd chunk sizes, OpenSSL where no vector
 * exists, and the error codes PKCS#11 names for bad lengths, parameters, keys and MACs. */
#include <check.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "p11check.h"


#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static CK_OBJECT_CLASS cls_secret = CKO_SECRET_KEY;

static CK_SESSION_HANDLE user_session(void)
{
    return p11_token_session("sym", NULL);
}

/* Hex (spaces allowed) into out; returns the byte count. */
static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (; *h; h++) {
        int v;
        if (*h == ' ')
            continue;
        if (*h >= '0' && *h <= '9')
            v = *h - '0';
        else if (*h >= 'a' && *h <= 'f')
            v = *h - 'a' + 10;
        else if (*h >= 'A' && *h <= 'F')
            v = *h - 'A' + 10;
        else
            ck_abort_msg("bad hex digit '%c'", *h);
        if (hi < 0) {
            hi = v;
        } else {
            ck_assert_uint_lt(n, cap);
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    ck_assert_int_lt(hi, 0);
    return n;
}

/* A session secret key with every usage allowed except those listed false. */
static CK_OBJECT_HANDLE import_key_ex(CK_SESSION_HANDLE s, CK_KEY_TYPE kt, const uint8_t *key,
                                      size_t len, CK_BBOOL encrypt)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                        {CKA_KEY_TYPE, &kt, sizeof(kt)},
                        {CKA_TOKEN, &no, 1},
                        {CKA_PRIVATE, &yes, 1},
                        {CKA_SENSITIVE, &yes, 1},
                        {CKA_ENCRYPT, &encrypt, 1},
                        {CKA_DECRYPT, &yes, 1},
                        {CKA_SIGN, &yes, 1},
                        {CKA_VERIFY, &yes, 1},
                        {CKA_WRAP, &yes, 1},
                        {CKA_UNWRAP, &yes, 1},
                        {CKA_VALUE, (void *)key, len}};
    OK(F->C_CreateObject(s, t, NELEM(t), &h));
    return h;
}

static CK_OBJECT_HANDLE import_key(CK_SESSION_HANDLE s, CK_KEY_TYPE kt, const char *hexkey)
{
    uint8_t k[256];
    size_t n = unhex(hexkey, k, sizeof(k));
    return import_key_ex(s, kt, k, n, CK_TRUE);
}

/* ---- running operations ---- */

/* Odd chunk sizes, cycled: every block boundary case comes up. */
static const size_t chunks[] = {1, 5, 17, 3, 16, 0, 31, 7, 2, 33};

/* C_Encrypt/C_Decrypt in one call, after a size query that must give `exact` bytes when exact
 * is set (else at least the result). Returns the output length. */
static CK_ULONG crypt_single(CK_SESSION_HANDLE s, bool enc, CK_MECHANISM *m, CK_OBJECT_HANDLE k,
                             const uint8_t *in, size_t len, uint8_t *out, size_t cap, bool exact)
{
    CK_ULONG q = 0, l = cap;
    if (enc) {
        OK(F->C_EncryptInit(s, m, k));
        OK(F->C_Encrypt(s, (CK_BYTE_PTR)in, len, NULL, &q));
        OK(F->C_Encrypt(s, (CK_BYTE_PTR)in, len, out, &l));
    } else {
        OK(F->C_DecryptInit(s, m, k));
        OK(F->C_Decrypt(s, (CK_BYTE_PTR)in, len, NULL, &q));
        OK(F->C_Decrypt(s, (CK_BYTE_PTR)in, len, out, &l));
    }
    if (exact)
        ck_assert_uint_eq(q, l);
    else
        ck_assert_uint_ge(q, l);
    return l;
}

/* The same in parts of the sizes above; each update's size query must be exact (updates return
 * whole blocks), the final's as for crypt_single. */
static CK_ULONG crypt_multi(CK_SESSION_HANDLE s, bool enc, CK_MECHANISM *m, CK_OBJECT_HANDLE k,
                            const uint8_t *in, size_t len, uint8_t *out, size_t cap, bool exact)
{
    CK_ULONG total = 0, q, l;
    size_t off = 0;
    if (enc)
        OK(F->C_EncryptInit(s, m, k));
    else
        OK(F->C_DecryptInit(s, m, k));
    for (size_t i = 0; off < len; i++) {
        size_t n = chunks[i % NELEM(chunks)];
        if (n > len - off)
            n = len - off;
        q = 0;
        l = cap - total;
        if (enc) {
            OK(F->C_EncryptUpdate(s, (CK_BYTE_PTR)in + off, n, NULL, &q));
            OK(F->C_EncryptUpdate(s, (CK_BYTE_PTR)in + off, n, out + total, &l));
        } else {
            OK(F->C_DecryptUpdate(s, (CK_BYTE_PTR)in + off, n, NULL, &q));
            OK(F->C_DecryptUpdate(s, (CK_BYTE_PTR)in + off, n, out + total, &l));
        }
        ck_assert_uint_eq(q, l);
        ck_assert_uint_eq(l % 16, 0); /* block modes return whole blocks; CTR is checked apart */
        off += n;
        total += l;
    }
    q = 0;
    l = cap - total;
    if (enc) {
        OK(F->C_EncryptFinal(s, NULL, &q));
        OK(F->C_EncryptFinal(s, out + total, &l));
    } else {
        OK(F->C_DecryptFinal(s, NULL, &q));
        OK(F->C_DecryptFinal(s, out + total, &l));
    }
    if (exact)
        ck_assert_uint_eq(q, l);
    else
        ck_assert_uint_ge(q, l);
    return total + l;
}

/* Encrypt pt to ct and decrypt back, single and multi-part (unless single_only). */
static void check_cipher(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_OBJECT_HANDLE k,
                         const uint8_t *pt, size_t ptlen, const uint8_t *ct, size_t ctlen,
                         bool multi)
{
    uint8_t out[512];
    ck_assert_uint_le(ctlen, sizeof(out));
    memset(out, 0, sizeof(out));
    ck_assert_uint_eq(crypt_single(s, true, m, k, pt, ptlen, out, sizeof(out), true), ctlen);
    ck_assert_mem_eq(out, ct, ctlen);
    memset(out, 0, sizeof(out));
    ck_assert_uint_eq(crypt_single(s, false, m, k, ct, ctlen, out, sizeof(out), false), ptlen);
    ck_assert_mem_eq(out, pt, ptlen);
    if (!multi)
        return;
    memset(out, 0, sizeof(out));
    ck_assert_uint_eq(crypt_multi(s, true, m, k, pt, ptlen, out, sizeof(out), true), ctlen);
    ck_assert_mem_eq(out, ct, ctlen);
    memset(out, 0, sizeof(out));
    ck_assert_uint_eq(crypt_multi(s, false, m, k, ct, ctlen, out, sizeof(out), false), ptlen);
    ck_assert_mem_eq(out, pt, ptlen);
}

/* Sign single and multi-part, compare with want, verify both ways, and a flipped MAC fails. */
static void check_mac(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_OBJECT_HANDLE k, const uint8_t *msg,
                      size_t len, const uint8_t *want, size_t wantlen)
{
    uint8_t mac[64], bad[64];
    CK_ULONG l = 0;
    OK(F->C_SignInit(s, m, k));
    OK(F->C_Sign(s, (CK_BYTE_PTR)msg, len, NULL, &l));
    ck_assert_uint_eq(l, wantlen);
    OK(F->C_Sign(s, (CK_BYTE_PTR)msg, len, mac, &l));
    ck_assert_uint_eq(l, wantlen);
    ck_assert_mem_eq(mac, want, wantlen);

    memset(mac, 0, sizeof(mac));
    OK(F->C_SignInit(s, m, k));
    size_t off = 0;
    for (size_t i = 0; off < len; i++) {
        size_t n = chunks[i % NELEM(chunks)];
        if (n > len - off)
            n = len - off;
        OK(F->C_SignUpdate(s, (CK_BYTE_PTR)msg + off, n));
        off += n;
    }
    l = sizeof(mac);
    OK(F->C_SignFinal(s, mac, &l));
    ck_assert_uint_eq(l, wantlen);
    ck_assert_mem_eq(mac, want, wantlen);

    OK(F->C_VerifyInit(s, m, k));
    OK(F->C_Verify(s, (CK_BYTE_PTR)msg, len, (CK_BYTE_PTR)want, wantlen));
    OK(F->C_VerifyInit(s, m, k));
    if (len > 3) {
        OK(F->C_VerifyUpdate(s, (CK_BYTE_PTR)msg, 3));
        OK(F->C_VerifyUpdate(s, (CK_BYTE_PTR)msg + 3, len - 3));
    } else {
        OK(F->C_VerifyUpdate(s, (CK_BYTE_PTR)msg, len));
    }
    OK(F->C_VerifyFinal(s, (CK_BYTE_PTR)want, wantlen));
    memcpy(bad, want, wantlen);
    bad[wantlen - 1] ^= 0x01;
    OK(F->C_VerifyInit(s, m, k));
    EXPECT_RV(CKR_SIGNATURE_INVALID, F->C_Verify(s, (CK_BYTE_PTR)msg, len, bad, wantlen));
}

/* ---- NIST SP 800-38A: ECB, CBC, CTR ---- */

/* SP 800-38A F.1-F.5: the shared plaintext and keys */
static const char *const PT_38A = "6bc1bee22e409f96e93d7e117393172a"
                                  "ae2d8a571e03ac9c9eb76fac45af8e51"
                                  "30c81c46a35ce411e5fbc1191a0a52ef"
                                  "f69f2445df4f9b17ad2b417be66c3710";
static const char *const K128_38A = "2b7e151628aed2a6abf7158809cf4f3c";
static const char *const K256_38A =
    "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";

static void check_38a(CK_MECHANISM_TYPE mt, const char *key, void *param, size_t plen,
                      const char *ct_hex)
{
    CK_SESSION_HANDLE s = user_session();
    uint8_t pt[64], ct[64];
    size_t n = unhex(PT_38A, pt, sizeof(pt));
    ck_assert_uint_eq(unhex(ct_hex, ct, sizeof(ct)), n);
    CK_MECHANISM m = {mt, param, plen};
    CK_OBJECT_HANDLE k = import_key(s, CKK_AES, key);
    check_cipher(s, &m, k, pt, n, ct, n, true);
}

START_TEST(test_ecb_aes128_sp800_38a_f11_f12)
{
    /* SP 800-38A F.1.1 ECB-AES128.Encrypt, F.1.2 ECB-AES128.Decrypt */
    check_38a(CKM_AES_ECB, K128_38A, NULL, 0,
              "3ad77bb40d7a3660a89ecaf32466ef97f5d3d58503b9699de785895a96fdbaaf"
              "43b1cd7f598ece23881b00e3ed0306887b0c785e27e8ad3f8223207104725dd4");
}
END_TEST

static uint8_t iv_38a[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

START_TEST(test_cbc_aes128_sp800_38a_f21_f22)
{
    /* SP 800-38A F.2.1 CBC-AES128.Encrypt, F.2.2 CBC-AES128.Decrypt */
    check_38a(CKM_AES_CBC, K128_38A, iv_38a, 16,
              "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"
              "73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7");
}
END_TEST

START_TEST(test_cbc_aes256_sp800_38a_f25_f26)
{
    /* SP 800-38A F.2.5 CBC-AES256.Encrypt, F.2.6 CBC-AES256.Decrypt */
    check_38a(CKM_AES_CBC, K256_38A, iv_38a, 16,
              "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
              "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b");
}
END_TEST

static CK_AES_CTR_PARAMS ctr_params(CK_ULONG bits)
{
    /* SP 800-38A F.5: initial counter block f0f1...feff */
    CK_AES_CTR_PARAMS p = {bits, {0}};
    for (int i = 0; i < 16; i++)
        p.cb[i] = (CK_BYTE)(0xf0 + i);
    return p;
}

/* CTR in parts: any chunk size gives the same stream. */
static void check_ctr_multi(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_OBJECT_HANDLE k,
                            const uint8_t *pt, size_t n, const uint8_t *ct)
{
    uint8_t out[64];
    CK_ULONG total = 0, l;
    OK(F->C_EncryptInit(s, m, k));
    for (size_t off = 0, i = 0; off < n; i++) {
        size_t c = chunks[i % NELEM(chunks)];
        if (c > n - off)
            c = n - off;
        l = sizeof(out) - total;
        OK(F->C_EncryptUpdate(s, (CK_BYTE_PTR)pt + off, c, out + total, &l));
        ck_assert_uint_eq(l, c);
        off += c;
        total += l;
    }
    l = sizeof(out) - total;
    OK(F->C_EncryptFinal(s, out + total, &l));
    ck_assert_uint_eq(total + l, n);
    ck_assert_mem_eq(out, ct, n);
}

START_TEST(test_ctr_aes128_sp800_38a_f51_f52)
{
    CK_SESSION_HANDLE s = user_session();
    uint8_t pt[64], ct[64];
    size_t n = unhex(PT_38A, pt, sizeof(pt));
    /* SP 800-38A F.5.1 CTR-AES128.Encrypt (F.5.2 decrypts it back) */
    unhex("874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"
          "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee",
          ct, sizeof(ct));
    CK_OBJECT_HANDLE k = import_key(s, CKK_AES, K128_38A);
    /* a 128-bit and a 32-bit counter give the same stream here (no carry past 32 bits) */
    CK_ULONG bits[] = {128, 32};
    for (size_t i = 0; i < NELEM(bits); i++) {
        CK_AES_CTR_PARAMS p = ctr_params(bits[i]);
        CK_MECHANISM m = {CKM_AES_CTR, &p, sizeof(p)};
        uint8_t out[64];
        ck_assert_uint_eq(crypt_single(s, true, &m, k, pt, n, out, sizeof(out), true), n);
        ck_assert_mem_eq(out, ct, n);
        ck_assert_uint_eq(crypt_single(s, false, &m, k, ct, n, out, sizeof(out), true), n);
        ck_assert_mem_eq(out, pt, n);
        check_ctr_multi(s, &m, k, pt, n, ct);
    }
}
END_TEST

START_TEST(test_ctr_aes256_sp800_38a_f55)
{
    CK_SESSION_HANDLE s = user_session();
    uint8_t pt[64], ct[64], out[64];
    size_t n = unhex(PT_38A, pt, sizeof(pt));
    /* SP 800-38A F.5.5 CTR-AES256.Encrypt */
    unhex("601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5"
          "2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6",
          ct, sizeof(ct));
    CK_OBJECT_HANDLE k = import_key(s, CKK_AES, K256_38A);
    CK_AES_CTR_PARAMS p = ctr_params(64);
    CK_MECHANISM m = {CKM_AES_CTR, &p, sizeof(p)};
    ck_assert_uint_eq(crypt_single(s, true, &m, k, pt, n, out, sizeof(out), true), n);
    ck_assert_mem_eq(out, ct, n);
    ck_assert_uint_eq(crypt_single(s, false, &m, k, ct, n, out, sizeof(out), true), n);
    ck_assert_mem_eq(out, pt, n);
    check_ctr_multi(s, &m, k, pt, n, ct);
}
END_TEST

START_TEST(test_ctr_refuses_to_wrap_the_counter)
{
    CK_SESSION_HANDLE s = user_session();
    uint8_t pt[64] = {0}, out[80];
    CK_ULONG l;
    CK_OBJECT_HANDLE k = import_key(s, CKK_AES, K128_38A);
    /* an 8-bit counter at 0xfe has two blocks left: 32 bytes pass, 33 do not */
    CK_AES_CTR_PARAMS p = {8, {0}};
    p.cb[15] = 0xfe;
    CK_MECHANISM m = {CKM_AES_CTR, &p, sizeof(p)};
    OK(F->C_EncryptInit(s, &m, k));
    l = sizeof(out);
    OK(F->C_Encrypt(s, pt, 32, out, &l));
    ck_assert_uint_eq(l, 32);
    OK(F->C_EncryptInit(s, &m, k));
    l = sizeof(out);
    EXPECT_RV(CKR_DATA_LEN_RANGE, F->C_Encrypt(s, pt, 33, out, &l));
    /* the same across parts */
    OK(F->C_EncryptInit(s, &m, k));
    l = sizeof(out);
    OK(F->C_EncryptUpdate(s, pt, 20, out, &l));
    l = sizeof(out);
    EXPECT_RV(CKR_DATA_LEN_RANGE, F->C_EncryptUpdate(s, pt, 13, out, &l));
    /* a 1-bit counter at 0: two blocks */
    CK_AES_CTR_PARAMS p1 = {1, {0}};
    CK_MECHANISM m1 = {CKM_AES_CTR, &p1, sizeof(p1)};
    OK(F->C_EncryptInit(s, &m1, k));
    l = sizeof(out);
    EXPECT_RV(CKR_DATA_LEN_RANGE, F->C_Encrypt(s, pt, 33, out, &l));
    /* counter bits 0 and 129 are not a counter */
    CK_ULONG badbits[] = {0, 129};
    for (size_t i = 0; i < NELEM(badbits); i++) {
        CK_AES_CTR_PARAMS pb = ctr_params(badbits[i]);
        CK_MECHANISM mb = {CKM_AES_CTR, &pb, sizeof(pb)};
        EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_EncryptInit(s, &mb, k));
    }
    CK_MECHANISM none = {CKM_AES_CTR, NULL, 0};
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_EncryptInit(s, &none, k));
}
END_TEST

/* ---- CBC_PAD ---- */

START_TEST(test_cbc_pad_round_trips_lengths_0_to_33)
{
    CK_SESSION_HANDLE s = user_session();
    static const char *keys[] = {K128_38A, "000102030405060708090a0b0c0d0e0f1011121314151617",
                                 K256_38A};
    static const EVP_CIPHER *(*ciphers[])(void) = {EVP_aes_128_cbc, EVP_aes_192_cbc,
                                                   EVP_aes_256_cbc};
    uint8_t pt[33], ref[64];
    for (size_t i = 0; i < sizeof(pt); i++)
        pt[i] = (uint8_t)(i * 7 + 3);
    CK_MECHANISM m = {CKM_AES_CBC_PAD, iv_38a, 16};
    for (size_t ki = 0; ki < NELEM(keys); ki++) {
        uint8_t kb[32];
        size_t kl = unhex(keys[ki], kb, sizeof(kb));
        CK_OBJECT_HANDLE k = import_key(s, CKK_AES, keys[ki]);
        for (size_t len = 0; len <= sizeof(pt); len++) {
            /* OpenSSL's PKCS#7-padded CBC on the same key, in the test */
            int l1 = 0, l2 = 0;
            EVP_CIPHER_CTX *cc = EVP_CIPHER_CTX_new();
            ck_assert_ptr_nonnull(cc);
            ck_assert_int_eq(EVP_EncryptInit_ex(cc, ciphers[ki](), NULL, kb, iv_38a), 1);
            ck_assert_int_eq(EVP_EncryptUpdate(cc, ref, &l1, pt, (int)len), 1);
            ck_assert_int_eq(EVP_EncryptFinal_ex(cc, ref + l1, &l2), 1);
            EVP_CIPHER_CTX_free(cc);
            ck_assert_uint_eq((size_t)(l1 + l2), (len / 16 + 1) * 16);
            check_cipher(s, &m, k, pt, len, ref, (size_t)(l1 + l2), true);
        }
        (void)kl;
    }
}
END_TEST

START_TEST(test_cbc_pad_bad_padding_is_encrypted_data_invalid)
{
    CK_SESSION_HANDLE s = user_session();
    uint8_t pt[32], ct[48], out[64];
    CK_ULONG l;
    memset(pt, 0x11, sizeof(pt));
    CK_OBJECT_HANDLE k = import_key(s, CKK_AES, K128_38A);
    CK_MECHANISM pad = {CKM_AES_CBC_PAD, iv_38a, 16}, raw = {CKM_AES_CBC, iv_38a, 16};
    /* CBC without padding of 32 bytes whose last byte is 0x11: padding longer than a block */
    ck_assert_uint_eq(crypt_single(s, true, &raw, k, pt, 32, ct, sizeof(ct), true), 32);
    OK(F->C_DecryptInit(s, &pad, k));
    memset(out, 0, sizeof(out));
    l = sizeof(out);
    EXPECT_RV(CKR_ENCRYPTED_DATA_INVALID, F->C_Decrypt(s, ct, 32, out, &l));
    /* no plaintext is left behind in the caller's buffer */
    for (size_t i = 0; i < sizeof(out); i++)
        ck_assert_uint_eq(out[i], 0);
    /* the operation ended */
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED, F->C_Decrypt(s, ct, 32, out, &l));
    /* padding bytes that disagree: ...02 03 */
    pt[30] = 0x02;
    pt[31] = 0x03;
    ck_assert_uint_eq(crypt_single(s, true, &raw, k, pt, 32, ct, sizeof(ct), true), 32);
    OK(F->C_DecryptInit(s, &pad, k));
    l = sizeof(out);
    OK(F->C_DecryptUpdate(s, ct, 32, out, &l));
    ck_assert_uint_eq(l, 16); /* the last block is held back until the padding is known */
    l = sizeof(out);
    EXPECT_RV(CKR_ENCRYPTED_DATA_INVALID, F->C_DecryptFinal(s, out, &l));
    /* a zero pad byte */
    pt[31] = 0x00;
    ck_assert_uint_eq(crypt_single(s, true, &raw, k, pt, 32, ct, sizeof(ct), true), 32);
    OK(F->C_DecryptInit(s, &pad, k));
    l = sizeof(out);
    EXPECT_RV(CKR_ENCRYPTED_DATA_INVALID, F->C_Decrypt(s, ct, 32, out, &l));
    /* ciphertext that is not whole blocks, or none */
    OK(F->C_DecryptInit(s, &pad, k));
    l = sizeof(out);
    EXPECT_RV(CKR_ENCRYPTED_DATA_LEN_RANGE, F->C_Decrypt(s, ct, 31, out, &l));
    OK(F->C_DecryptInit(s, &pad, k));
    l = sizeof(out);
    EXPECT_RV(CKR_ENCRYPTED_DATA_LEN_RANGE, F->C_Decrypt(s, ct, 0, out, &l));
}
END_TEST

START_TEST(test_cbc_refuses_partial_blocks_and_bad_ivs)
{
    CK_SESSION_HANDLE s = user_session();
    uint8_t buf[64] = {0}, out[80];
    CK_ULONG l;
    CK_OBJECT_HANDLE k = import_key(s, CKK_AES, K128_38A);
    CK_MECHANISM cbc = {CKM_AES_CBC, iv_38a, 16};
    OK(F->C_EncryptInit(s, &cbc, k));
    l = sizeof(out);
    EXPECT_RV(CKR_DATA_LEN_RANGE, F->C_Encrypt(s, buf, 17, out, &l));
    OK(F->C_DecryptInit(s, &cbc, k));
    l = sizeof(out);
    EXPECT_RV(CKR_ENCRYPTED_DATA_LEN_RANGE, F->C_Decrypt(s, buf, 33, out, &l));
    /* multi-part: the updates take any length, the final refuses a partial block */
    OK(F->C_EncryptInit(s, &cbc, k));
    l = sizeof(out);
    OK(F->C_EncryptUpdate(s, buf, 20, out, &l));
    ck_assert_uint_eq(l, 16);
    l = sizeof(out);
    EXPECT_RV(CKR_DATA_LEN_RANGE, F->C_EncryptFinal(s, out, &l));
    /* ECB too */
    CK_MECHANISM ecb = {CKM_AES_ECB, NULL, 0};
    OK(F->C_EncryptInit(s, &ecb, k));
    l = sizeof(out);
    EXPECT_RV(CKR_DATA_LEN_RANGE, F->C_Encrypt(s, buf, 15, out, &l));
    /* IVs of the wrong length, or none */
    CK_MECHANISM_TYPE types[] = {CKM_AES_CBC, CKM_AES_CBC_PAD};
    size_t ivlens[] = {0, 8, 15, 17, 32};
    for (size_t t = 0; t < NELEM(types); t++) {
        for (size_t i = 0; i < NELEM(ivlens); i++) {
            CK_MECHANISM m = {types[t], ivlens[i] ? buf : NULL, ivlens[i]};
            EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_EncryptInit(s, &m, k));
            EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_DecryptInit(s, &m, k));
        }
    }
    CK_MECHANISM ecb_param = {CKM_AES_ECB, buf, 16};
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_EncryptInit(s, &ecb_param, k));
}
END_TEST

/* ---- key wrap ---- */

struct kw_case {
    const char *kek, *data, *wrapped;
};

START_TEST(test_aes_key_wrap_rfc3394_4_1_to_4_6)
{
    /* RFC 3394 section 4.1 to 4.6 */
    static const struct kw_case v[] = {
        {"000102030405060708090A0B0C0D0E0F", "00112233445566778899AABBCCDDEEFF",
         "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"},
        {"000102030405060708090A0B0C0D0E0F1011121314151617", "00112233445566778899AABBCCDDEEFF",
         "96778B25AE6CA435F92B5B97C050AED2468AB8A17AD84E5D"},
        {"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
         "00112233445566778899AABBCCDDEEFF", "64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7"},
        {"000102030405060708090A0B0C0D0E0F1011121314151617",
         "00112233445566778899AABBCCDDEEFF0001020304050607",
         "031D33264E15D33268F24EC260743EDCE1C6C7DDEE725A936BA814915C6762D2"},
        {"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
         "00112233445566778899AABBCCDDEEFF0001020304050607",
         "A8F9BC1612C68B3FF6E6F4FBE30E71E4769C8B80A32CB8958CD5D17D6B254DA1"},
        {"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
         "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
         "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21"},
    };
    CK_SESSION_HANDLE s = user_session();
    uint8_t a6[8];
    memset(a6, 0xA6, sizeof(a6));
    for (size_t i = 0; i < NELEM(v); i++) {
        uint8_t pt[64], ct[64], out[64];
        size_t pn = unhex(v[i].data, pt, sizeof(pt)), cn = unhex(v[i].wrapped, ct, sizeof(ct));
        CK_OBJECT_HANDLE k = import_key(s, CKK_AES, v[i].kek);
        CK_MECHANISM m = {CKM_AES_KEY_WRAP, NULL, 0};
        check_cipher(s, &m, k, pt, pn, ct, cn, false);
        /* the default IV given explicitly is the same mechanism */
        CK_MECHANISM mi = {CKM_AES_KEY_WRAP, a6, sizeof(a6)};
        check_cipher(s, &mi, k, pt, pn, ct, cn, false);
        /* single-part only */
        CK_ULONG l = sizeof(out);
        OK(F->C_EncryptInit(s, &m, k));
        EXPECT_RV(CKR_FUNCTION_NOT_SUPPORTED, F->C_EncryptUpdate(s, pt, pn, out, &l));
    }
}
END_TEST

START_TEST(test_aes_key_wrap_refuses_tampering_and_bad_lengths)
{
    CK_SESSION_HANDLE s = user_session();
    uint8_t pt[40], ct[64], out[64], iv[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    CK_ULONG l;
    memset(pt, 0x42, sizeof(pt));
    CK_OBJECT_HANDLE k = import_key(s, CKK_AES, "000102030405060708090A0B0C0D0E0F");
    CK_MECHANISM m = {CKM_AES_KEY_WRAP, NULL, 0}, mi = {CKM_AES_KEY_WRAP, iv, sizeof(iv)};
    size_t cn = crypt_single(s, true, &m, k, pt, 32, ct, sizeof(ct), true);
    ck_assert_uint_eq(cn, 40);
    for (size_t pos = 0; pos < cn; pos += 13) {
        ct[pos] ^= 0x80;
        OK(F->C_DecryptInit(s, &m, k));
        memset(out, 0, sizeof(out));
        l = sizeof(out);
        EXPECT_RV(CKR_ENCRYPTED_DATA_INVALID, F->C_Decrypt(s, ct, cn, out, &l));
        for (size_t i = 0; i < sizeof(out); i++)
            ck_assert_uint_eq(out[i], 0);
        ct[pos] ^= 0x80;
    }
    /* another IV does not unwrap it; the same IV both ways does */
    OK(F->C_DecryptInit(s, &mi, k));
    l = sizeof(out);
    EXPECT_RV(CKR_ENCRYPTED_DATA_INVALID, F->C_Decrypt(s, ct, cn, out, &l));
    size_t cn2 = crypt_single(s, true, &mi, k, pt, 32, ct, sizeof(ct), true);
    ck_assert_uint_eq(crypt_single(s, false, &mi, k, ct, cn2, out, sizeof(out), true), 32);
    ck_assert_mem_eq(out, pt, 32);
    /* input not a multiple of 8, or shorter than 16 */
    size_t bad[] = {0, 8, 15, 17, 33};
    for (size_t i = 0; i < NELEM(bad); i++) {
        OK(F->C_EncryptInit(s, &m, k));
        l = sizeof(out);
        EXPECT_RV(CKR_DATA_LEN_RANGE, F->C_Encrypt(s, pt, bad[i], out, &l));
    }
    size_t badc[] = {16, 23, 25};
    for (size_t i = 0; i < NELEM(badc); i++) {
        OK(F->C_DecryptInit(s, &m, k));
        l = sizeof(out);
        EXPECT_RV(CKR_ENCRYPTED_DATA_LEN_RANGE, F->C_Decrypt(s, ct, badc[i], out, &l));
    }
    /* an IV of the wrong length */
    CK_MECHANISM m4 = {CKM_AES_KEY_WRAP, iv, 4};
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_EncryptInit(s, &m4, k));
}
END_TEST

START_TEST(test_aes_key_wrap_pad_rfc5649_section6)
{
    /* RFC 5649 section 6: the 20-octet and the 7-octet example */
    static const struct kw_case v[] = {
        {"5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8",
         "c37b7e6492584340bed12207808941155068f738",
         "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"},
        {"5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", "466f7250617369",
         "afbeb0f07dfbf5419200f2ccb50bb24f"},
    };
    /* the PKCS#11 3.0 name and the value SoftHSMv2 and others use (doc/design.md) */
    CK_MECHANISM_TYPE types[] = {CKM_AES_KEY_WRAP_KWP, CKM_AES_KEY_WRAP_PAD};
    uint8_t aiv[4] = {0xA6, 0x59, 0x59, 0xA6}, other[4] = {1, 2, 3, 4};
    CK_SESSION_HANDLE s = user_session();
    for (size_t t = 0; t < NELEM(types); t++) {
        for (size_t i = 0; i < NELEM(v); i++) {
            uint8_t pt[64], ct[64], out[64];
            CK_ULONG l;
            size_t pn = unhex(v[i].data, pt, sizeof(pt)), cn = unhex(v[i].wrapped, ct, sizeof(ct));
            CK_OBJECT_HANDLE k = import_key(s, CKK_AES, v[i].kek);
            CK_MECHANISM m = {types[t], NULL, 0}, ma = {types[t], aiv, 4},
                         mo = {types[t], other, 4};
            check_cipher(s, &m, k, pt, pn, ct, cn, false);
            check_cipher(s, &ma, k, pt, pn, ct, cn, false);
            /* tampering, or another alternative IV, fails the integrity check */
            ct[cn - 1] ^= 1;
            OK(F->C_DecryptInit(s, &m, k));
            l = sizeof(out);
            EXPECT_RV(CKR_ENCRYPTED_DATA_INVALID, F->C_Decrypt(s, ct, cn, out, &l));
            ct[cn - 1] ^= 1;
            OK(F->C_DecryptInit(s, &mo, k));
            l = sizeof(out);
            EXPECT_RV(CKR_ENCRYPTED_DATA_INVALID, F->C_Decrypt(s, ct, cn, out, &l));
            /* empty input and an 8-byte IV */
            OK(F->C_EncryptInit(s, &m, k));
            l = sizeof(out);
            EXPECT_RV(CKR_DATA_LEN_RANGE, F->C_Encrypt(s, pt, 0, out, &l));
            CK_MECHANISM m8 = {types[t], ct, 8};
            EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_EncryptInit(s, &m8, k));
        }
    }
}
END_TEST

START_TEST(test_key_wrap_mechanisms_announce_wrap_and_unwrap)
{
    CK_SESSION_HANDLE s = user_session();
    CK_SESSION_INFO si;
    CK_MECHANISM_INFO mi;
    OK(F->C_GetSessionInfo(s, &si));
    /* CBC_PAD wraps but does not unwrap: a padding oracle (design.md) */
    OK(F->C_GetMechanismInfo(si.slotID, CKM_AES_CBC_PAD, &mi));
    ck_assert_uint_eq(mi.flags & (CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP),
                      CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP);
    CK_MECHANISM_TYPE wrap[] = {CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_PAD, CKM_AES_KEY_WRAP_KWP,
                                CKM_AES_GCM};
    for (size_t i = 0; i < NELEM(wrap); i++) {
        OK(F->C_GetMechanismInfo(si.slotID, wrap[i], &mi));
        ck_assert_uint_eq(mi.flags & (CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP),
                          CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP);
        ck_assert_uint_eq(mi.ulMinKeySize, 16);
        ck_assert_uint_eq(mi.ulMaxKeySize, 32);
    }
    CK_MECHANISM_TYPE mac[] = {
        CKM_AES_CMAC,    CKM_AES_CMAC_GENERAL,    CKM_SHA_1_HMAC,  CKM_SHA_1_HMAC_GENERAL,
        CKM_SHA224_HMAC, CKM_SHA224_HMAC_GENERAL, CKM_SHA256_HMAC, CKM_SHA256_HMAC_GENERAL,
        CKM_SHA384_HMAC, CKM_SHA384_HMAC_GENERAL, CKM_SHA512_HMAC, CKM_SHA512_HMAC_GENERAL};
    for (size_t i = 0; i < NELEM(mac); i++) {
        OK(F->C_GetMechanismInfo(si.slotID, mac[i], &mi));
        ck_assert_uint_eq(mi.flags, CKF_SIGN | CKF_VERIFY);
    }
    CK_MECHANISM_TYPE plain[] = {CKM_AES_ECB, CKM_AES_CBC, CKM_AES_CTR};
    for (size_t i = 0; i < NELEM(plain); i++) {
        OK(F->C_GetMechanismInfo(si.slotID, plain[i], &mi));
        ck_assert_uint_eq(mi.flags, CKF_ENCRYPT | CKF_DECRYPT);
    }
}
END_TEST

/* ---- CMAC ---- */

static void check_cmac_examples(const char *key, const char *const macs[4])
{
    /* SP 800-38B D.1 / D.3: messages of 0, 16, 40 and 64 bytes of the SP 800-38A plaintext */
    static const size_t lens[] = {0, 16, 40, 64};
    CK_SESSION_HANDLE s = user_session();
    uint8_t msg[64], want[16];
    unhex(PT_38A, msg, sizeof(msg));
    CK_OBJECT_HANDLE k = import_key(s, CKK_AES, key);
    CK_MECHANISM m = {CKM_AES_CMAC, NULL, 0};
    for (size_t i = 0; i < 4; i++) {
        ck_assert_uint_eq(unhex(macs[i], want, sizeof(want)), 16);
        if (lens[i] == 0) {
            /* no update at all: single-part only */
            uint8_t mac[16];
            CK_ULONG l = sizeof(mac);
            OK(F->C_SignInit(s, &m, k));
            OK(F->C_Sign(s, msg, 0, mac, &l));
            ck_assert_uint_eq(l, 16);
            ck_assert_mem_eq(mac, want, 16);
            OK(F->C_SignInit(s, &m, k));
            l = sizeof(mac);
            OK(F->C_SignFinal(s, mac, &l));
            ck_assert_mem_eq(mac, want, 16);
            OK(F->C_VerifyInit(s, &m, k));
            OK(F->C_Verify(s, msg, 0, want, 16));
        } else {
            check_mac(s, &m, k, msg, lens[i], want, 16);
        }
        /* CMAC_GENERAL truncates: 4 and 16 bytes */
        CK_MAC_GENERAL_PARAMS gl[] = {4, 16};
        for (size_t j = 0; j < NELEM(gl); j++) {
            CK_MECHANISM mg = {CKM_AES_CMAC_GENERAL, &gl[j], sizeof(gl[j])};
            if (lens[i])
                check_mac(s, &mg, k, msg, lens[i], want, gl[j]);
        }
    }
}

START_TEST(test_cmac_aes128_sp800_38b_d1)
{
    /* SP 800-38B D.1 AES-128, examples 1 to 4 */
    static const char *const macs[4] = {
        "bb1d6929e95937287fa37d129b756746", "070a16b46b4d4144f79bdd9dd04a287c",
        "dfa66747de9ae63030ca32611497c827", "51f0bebf7e3b9d92fc49741779363cfe"};
    check_cmac_examples(K128_38A, macs);
}
END_TEST

START_TEST(test_cmac_aes256_sp800_38b_d3)
{
    /* SP 800-38B D.3 AES-256, examples 9 to 12 */
    static const char *const macs[4] = {
        "028962f61b7bf89efc6b551f4667d983", "28a7023f452e8f82bd4bf28d8c37c35c",
        "aaf3d8f1de5640c232f5b169b9c911e6", "e1992190549f6ed5696a2c056c315410"};
    check_cmac_examples(K256_38A, macs);
}
END_TEST

START_TEST(test_cmac_general_length_and_verify_rules)
{
    CK_SESSION_HANDLE s = user_session();
    CK_OBJECT_HANDLE k = import_key(s, CKK_AES, K128_38A);
    CK_MAC_GENERAL_PARAMS bad[] = {0, 17};
    for (size_t i = 0; i < NELEM(bad); i++) {
        CK_MECHANISM m = {CKM_AES_CMAC_GENERAL, &bad[i], sizeof(bad[i])};
        EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_SignInit(s, &m, k));
        EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_VerifyInit(s, &m, k));
    }
    CK_MECHANISM none = {CKM_AES_CMAC_GENERAL, NULL, 0};
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_SignInit(s, &none, k));
    /* a MAC of the wrong length */
    uint8_t mac[16] = {0};
    CK_MECHANISM m = {CKM_AES_CMAC, NULL, 0};
    OK(F->C_VerifyInit(s, &m, k));
    EXPECT_RV(CKR_SIGNATURE_LEN_RANGE, F->C_Verify(s, mac, 3, mac, 15));
}
END_TEST

/* ---- HMAC: RFC 4231 ---- */

struct hmac_tc {
    const char *key;  /* hex */
    const char *data; /* text, or hex when hex_data */
    bool hex_data;
    const char *mac[3]; /* SHA-256, SHA-384, SHA-512 */
};

/* RFC 4231 section 4: test cases 1, 3, 4, 6, 7 (case 2's 4-byte key is below the module's
 * 16-byte minimum; case 5 is the truncation case, below) */
static const struct hmac_tc rfc4231[] = {
    {"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
     "Hi There",
     false,
     {"b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
      "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
      "faea9ea9076ede7f4af152e8b2fa9cb6",
      "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
      "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"}},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
     "dddddddddddddddd",
     true,
     {"773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
      "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b"
      "2a5ab39dc13814b94e3ab6e101a34f27",
      "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39"
      "bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb"}},
    {"0102030405060708090a0b0c0d0e0f10111213141516171819",
     "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
     "cdcdcdcdcdcdcdcd",
     true,
     {"82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
      "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e"
      "6801dd23c4a7d679ccf8a386c674cffb",
      "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3db"
      "a91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd"}},
    {NULL,
     "Test Using Larger Than Block-Size Key - Hash Key First",
     false,
     {"60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
      "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6"
      "0c2ef6ab4030fe8296248df163f44952",
      "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
      "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"}},
    {NULL,
     "This is a test using a larger than block-size key and a larger than block-size data. "
     "The key needs to be hashed before being used by the HMAC algorithm.",
     false,
     {"9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
      "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5"
      "a678cc31e799176d3860e6110c46523e",
      "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944"
      "b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58"}},
};

static const CK_MECHANISM_TYPE hmac_mechs[3] = {CKM_SHA256_HMAC, CKM_SHA384_HMAC, CKM_SHA512_HMAC};
static const CK_MECHANISM_TYPE hmac_general[3] = {CKM_SHA256_HMAC_GENERAL, CKM_SHA384_HMAC_GENERAL,
                                                  CKM_SHA512_HMAC_GENERAL};
static const CK_KEY_TYPE hmac_types[3] = {CKK_SHA256_HMAC, CKK_SHA384_HMAC, CKK_SHA512_HMAC};
static const size_t hmac_lens[3] = {32, 48, 64};

START_TEST(test_hmac_sha2_rfc4231)
{
    CK_SESSION_HANDLE s = user_session();
    for (size_t t = 0; t < NELEM(rfc4231); t++) {
        uint8_t key[131], data[200], want[64];
        size_t kl, dl;
        if (rfc4231[t].key) {
            kl = unhex(rfc4231[t].key, key, sizeof(key));
        } else { /* cases 6 and 7: 131 bytes of 0xaa */
            kl = 131;
            memset(key, 0xaa, kl);
        }
        if (rfc4231[t].hex_data) {
            dl = unhex(rfc4231[t].data, data, sizeof(data));
        } else {
            dl = strlen(rfc4231[t].data);
            memcpy(data, rfc4231[t].data, dl);
        }
        for (size_t h = 0; h < 3; h++) {
            ck_assert_uint_eq(unhex(rfc4231[t].mac[h], want, sizeof(want)), hmac_lens[h]);
            /* a generic secret and the digest's own HMAC key type */
            CK_KEY_TYPE kts[] = {CKK_GENERIC_SECRET, hmac_types[h]};
            for (size_t i = 0; i < NELEM(kts); i++) {
                CK_OBJECT_HANDLE k = import_key_ex(s, kts[i], key, kl, CK_TRUE);
                CK_MECHANISM m = {hmac_mechs[h], NULL, 0};
                check_mac(s, &m, k, data, dl, want, hmac_lens[h]);
                /* _GENERAL at full length and truncated to 16 bytes */
                CK_MAC_GENERAL_PARAMS full = hmac_lens[h], half = 16;
                CK_MECHANISM g1 = {hmac_general[h], &full, sizeof(full)},
                             g2 = {hmac_general[h], &half, sizeof(half)};
                check_mac(s, &g1, k, data, dl, want, hmac_lens[h]);
                check_mac(s, &g2, k, data, dl, want, 16);
            }
        }
    }
}
END_TEST

START_TEST(test_hmac_general_truncation_rfc4231_case5)
{
    /* RFC 4231 4.6, test case 5: truncated to 128 bits */
    static const char *const want_hex[3] = {"a3b6167473100ee06e0c796c2955552b",
                                            "3abf34c3503b2a23a46efc619baef897",
                                            "415fad6271580a531d4179bc891d87a6"};
    static const char data[] = "Test With Truncation";
    CK_SESSION_HANDLE s = user_session();
    uint8_t key[20], want[16];
    memset(key, 0x0c, sizeof(key));
    CK_OBJECT_HANDLE k = import_key_ex(s, CKK_GENERIC_SECRET, key, sizeof(key), CK_TRUE);
    for (size_t h = 0; h < 3; h++) {
        unhex(want_hex[h], want, sizeof(want));
        CK_MAC_GENERAL_PARAMS len = 16;
        CK_MECHANISM m = {hmac_general[h], &len, sizeof(len)};
        check_mac(s, &m, k, (const uint8_t *)data, strlen(data), want, 16);
        /* lengths 0 and digest size + 1 are refused */
        CK_MAC_GENERAL_PARAMS bad[] = {0, hmac_lens[h] + 1};
        for (size_t i = 0; i < NELEM(bad); i++) {
            CK_MECHANISM mb = {hmac_general[h], &bad[i], sizeof(bad[i])};
            EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_SignInit(s, &mb, k));
            EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_VerifyInit(s, &mb, k));
        }
        /* the parameter of the wrong size, or a parameter where none belongs */
        CK_BYTE one = 16;
        CK_MECHANISM mw = {hmac_general[h], &one, 1}, mp = {hmac_mechs[h], &len, sizeof(len)};
        EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_SignInit(s, &mw, k));
        EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_SignInit(s, &mp, k));
    }
}
END_TEST

START_TEST(test_hmac_sha1_and_sha224_match_openssl)
{
    CK_SESSION_HANDLE s = user_session();
    static const CK_MECHANISM_TYPE mechs[] = {CKM_SHA_1_HMAC, CKM_SHA224_HMAC};
    static const CK_MECHANISM_TYPE gens[] = {CKM_SHA_1_HMAC_GENERAL, CKM_SHA224_HMAC_GENERAL};
    static const CK_KEY_TYPE kts[] = {CKK_SHA_1_HMAC, CKK_SHA224_HMAC};
    static const char *const names[] = {"SHA1", "SHA224"};
    uint8_t key[40], data[300], want[64];
    size_t wl = 0;
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(i * 5 + 1);
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i ^ 0x33);
    for (size_t h = 0; h < NELEM(mechs); h++) {
        ck_assert_ptr_nonnull(EVP_Q_mac(NULL, "HMAC", NULL, names[h], NULL, key, sizeof(key), data,
                                        sizeof(data), want, sizeof(want), &wl));
        CK_OBJECT_HANDLE k = import_key_ex(s, kts[h], key, sizeof(key), CK_TRUE);
        CK_MECHANISM m = {mechs[h], NULL, 0};
        check_mac(s, &m, k, data, sizeof(data), want, wl);
        CK_MAC_GENERAL_PARAMS ten = 10;
        CK_MECHANISM g = {gens[h], &ten, sizeof(ten)};
        check_mac(s, &g, k, data, sizeof(data), want, 10);
    }
    /* RFC 4231 case 2's 4-byte key: below the 16-byte minimum */
    CK_OBJECT_HANDLE jefe =
        import_key_ex(s, CKK_GENERIC_SECRET, (const uint8_t *)"Jefe", 4, CK_TRUE);
    CK_MECHANISM m = {CKM_SHA384_HMAC, NULL, 0};
    EXPECT_RV(CKR_KEY_SIZE_RANGE, F->C_SignInit(s, &m, jefe));
}
END_TEST

START_TEST(test_generated_hmac_keys_match_openssl)
{
    /* CKM_GENERIC_SECRET_KEY_GEN makes keys of every HMAC key type; each works with its
     * mechanism and gives what OpenSSL computes on the same (extractable) key value */
    CK_SESSION_HANDLE s = user_session();
    static const char *const names[] = {"SHA256", "SHA384", "SHA512"};
    CK_MECHANISM gen = {CKM_GENERIC_SECRET_KEY_GEN, NULL, 0};
    uint8_t msg[100], want[64], val[64];
    memset(msg, 0x5c, sizeof(msg));
    for (size_t h = 0; h < 3; h++) {
        CK_KEY_TYPE kt = hmac_types[h];
        CK_ULONG len = hmac_lens[h];
        CK_OBJECT_HANDLE k;
        CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                            {CKA_KEY_TYPE, &kt, sizeof(kt)},
                            {CKA_VALUE_LEN, &len, sizeof(len)},
                            {CKA_SENSITIVE, &no, 1},
                            {CKA_EXTRACTABLE, &yes, 1},
                            {CKA_SIGN, &yes, 1},
                            {CKA_VERIFY, &yes, 1}};
        OK(F->C_GenerateKey(s, &gen, t, NELEM(t), &k));
        CK_ATTRIBUTE g[] = {{CKA_VALUE, val, sizeof(val)}, {CKA_KEY_TYPE, &kt, sizeof(kt)}};
        OK(F->C_GetAttributeValue(s, k, g, 2));
        ck_assert_uint_eq(g[0].ulValueLen, len);
        ck_assert_uint_eq(kt, hmac_types[h]);
        size_t wl = 0;
        ck_assert_ptr_nonnull(EVP_Q_mac(NULL, "HMAC", NULL, names[h], NULL, val, len, msg,
                                        sizeof(msg), want, sizeof(want), &wl));
        CK_MECHANISM m = {hmac_mechs[h], NULL, 0};
        check_mac(s, &m, k, msg, sizeof(msg), want, wl);
        /* the key type of another digest is not this mechanism's */
        CK_MECHANISM other = {hmac_mechs[(h + 1) % 3], NULL, 0};
        EXPECT_RV(CKR_KEY_TYPE_INCONSISTENT, F->C_SignInit(s, &other, k));
    }
}
END_TEST

/* ---- keys and their attributes ---- */

START_TEST(test_key_rules)
{
    CK_SESSION_HANDLE s = user_session();
    uint8_t k20[20] = {1}, buf[32] = {0}, out[64];
    CK_ULONG l;
    /* an AES key of 20 bytes is refused at import */
    CK_KEY_TYPE aes = CKK_AES;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                        {CKA_KEY_TYPE, &aes, sizeof(aes)},
                        {CKA_TOKEN, &no, 1},
                        {CKA_VALUE, k20, sizeof(k20)}};
    EXPECT_RV(CKR_ATTRIBUTE_VALUE_INVALID, F->C_CreateObject(s, t, NELEM(t), &h));
    /* CKA_ENCRYPT false: no encryption, but decryption still */
    uint8_t kb[16];
    unhex(K128_38A, kb, sizeof(kb));
    CK_OBJECT_HANDLE k = import_key_ex(s, CKK_AES, kb, sizeof(kb), CK_FALSE);
    CK_MECHANISM cbc = {CKM_AES_CBC, iv_38a, 16}, kw = {CKM_AES_KEY_WRAP, NULL, 0};
    CK_AES_CTR_PARAMS cp = ctr_params(128);
    CK_MECHANISM ctr = {CKM_AES_CTR, &cp, sizeof(cp)};
    EXPECT_RV(CKR_KEY_FUNCTION_NOT_PERMITTED, F->C_EncryptInit(s, &cbc, k));
    EXPECT_RV(CKR_KEY_FUNCTION_NOT_PERMITTED, F->C_EncryptInit(s, &kw, k));
    EXPECT_RV(CKR_KEY_FUNCTION_NOT_PERMITTED, F->C_EncryptInit(s, &ctr, k));
    OK(F->C_DecryptInit(s, &cbc, k));
    l = sizeof(out);
    OK(F->C_Decrypt(s, buf, 32, out, &l));
    /* an AES key is no HMAC key, a generic secret no AES key */
    CK_MECHANISM hm = {CKM_SHA512_HMAC, NULL, 0}, cmac = {CKM_AES_CMAC, NULL, 0};
    EXPECT_RV(CKR_KEY_TYPE_INCONSISTENT, F->C_SignInit(s, &hm, k));
    CK_OBJECT_HANDLE gk = import_key_ex(s, CKK_GENERIC_SECRET, kb, sizeof(kb), CK_TRUE);
    EXPECT_RV(CKR_KEY_TYPE_INCONSISTENT, F->C_SignInit(s, &cmac, gk));
    EXPECT_RV(CKR_KEY_TYPE_INCONSISTENT, F->C_EncryptInit(s, &cbc, gk));
}
END_TEST

/* Encrypting 64 KiB in one call and in parts agrees with OpenSSL (CBC and CTR with AES-192). */
START_TEST(test_large_messages_match_openssl)
{
    CK_SESSION_HANDLE s = user_session();
    enum { N = 65536 + 16 };
    uint8_t *pt = malloc(N), *ref = malloc(N + 16), *out = malloc(N + 16);
    uint8_t key[24];
    ck_assert_ptr_nonnull(pt);
    ck_assert_ptr_nonnull(ref);
    ck_assert_ptr_nonnull(out);
    for (size_t i = 0; i < N; i++)
        pt[i] = (uint8_t)(i * 31 + (i >> 8));
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(0x40 + i);
    CK_OBJECT_HANDLE k = import_key_ex(s, CKK_AES, key, sizeof(key), CK_TRUE);
    CK_AES_CTR_PARAMS cp = ctr_params(128);
    CK_MECHANISM mechs[] = {{CKM_AES_CBC, iv_38a, 16}, {CKM_AES_CTR, &cp, sizeof(cp)}};
    const EVP_CIPHER *ciphers[] = {EVP_aes_192_cbc(), EVP_aes_192_ctr()};
    const uint8_t *ivs[] = {iv_38a, cp.cb};
    for (size_t i = 0; i < NELEM(mechs); i++) {
        int l1 = 0, l2 = 0;
        EVP_CIPHER_CTX *cc = EVP_CIPHER_CTX_new();
        ck_assert_ptr_nonnull(cc);
        ck_assert_int_eq(EVP_EncryptInit_ex(cc, ciphers[i], NULL, key, ivs[i]), 1);
        EVP_CIPHER_CTX_set_padding(cc, 0);
        ck_assert_int_eq(EVP_EncryptUpdate(cc, ref, &l1, pt, N), 1);
        ck_assert_int_eq(EVP_EncryptFinal_ex(cc, ref + l1, &l2), 1);
        EVP_CIPHER_CTX_free(cc);
        ck_assert_int_eq(l1 + l2, N);
        CK_ULONG l = N + 16;
        OK(F->C_EncryptInit(s, &mechs[i], k));
        OK(F->C_Encrypt(s, pt, N, out, &l));
        ck_assert_uint_eq(l, N);
        ck_assert_mem_eq(out, ref, N);
        /* in three uneven parts */
        CK_ULONG a = N + 16, b, c;
        OK(F->C_EncryptInit(s, &mechs[i], k));
        OK(F->C_EncryptUpdate(s, pt, 1000, out, &a));
        b = N + 16 - a;
        OK(F->C_EncryptUpdate(s, pt + 1000, N - 1001, out + a, &b));
        c = N + 16 - a - b;
        OK(F->C_EncryptUpdate(s, pt + N - 1, 1, out + a + b, &c));
        CK_ULONG d = N + 16 - a - b - c;
        OK(F->C_EncryptFinal(s, out + a + b + c, &d));
        ck_assert_uint_eq(a + b + c + d, N);
        ck_assert_mem_eq(out, ref, N);
    }
    free(pt);
    free(ref);
    free(out);
}
END_TEST

static Suite *sym_suite(void)
{
    Suite *su = suite_create("sym");
    TCase *tc = p11_tcase(su, "aes", 120);
    tcase_add_test(tc, test_ecb_aes128_sp800_38a_f11_f12);
    tcase_add_test(tc, test_cbc_aes128_sp800_38a_f21_f22);
    tcase_add_test(tc, test_cbc_aes256_sp800_38a_f25_f26);
    tcase_add_test(tc, test_ctr_aes128_sp800_38a_f51_f52);
    tcase_add_test(tc, test_ctr_aes256_sp800_38a_f55);
    tcase_add_test(tc, test_ctr_refuses_to_wrap_the_counter);
    tcase_add_test(tc, test_cbc_pad_round_trips_lengths_0_to_33);
    tcase_add_test(tc, test_cbc_pad_bad_padding_is_encrypted_data_invalid);
    tcase_add_test(tc, test_cbc_refuses_partial_blocks_and_bad_ivs);
    tcase_add_test(tc, test_large_messages_match_openssl);
    tc = p11_tcase(su, "keywrap", 120);
    tcase_add_test(tc, test_aes_key_wrap_rfc3394_4_1_to_4_6);
    tcase_add_test(tc, test_aes_key_wrap_refuses_tampering_and_bad_lengths);
    tcase_add_test(tc, test_aes_key_wrap_pad_rfc5649_section6);
    tcase_add_test(tc, test_key_wrap_mechanisms_announce_wrap_and_unwrap);
    tc = p11_tcase(su, "mac", 120);
    tcase_add_test(tc, test_cmac_aes128_sp800_38b_d1);
    tcase_add_test(tc, test_cmac_aes256_sp800_38b_d3);
    tcase_add_test(tc, test_cmac_general_length_and_verify_rules);
    tcase_add_test(tc, test_hmac_sha2_rfc4231);
    tcase_add_test(tc, test_hmac_general_truncation_rfc4231_case5);
    tcase_add_test(tc, test_hmac_sha1_and_sha224_match_openssl);
    tcase_add_test(tc, test_generated_hmac_keys_match_openssl);
    tc = p11_tcase(su, "keys", 120);
    tcase_add_test(tc, test_key_rules);
    return su;
}

int main(void)
{
    return p11_check_main("check_sym", &M, sym_suite);
}

/* Tests of the PKCS#11 face through the real module (sea-pkcs11.so from $SEA_MODULE): function
 * lists and interfaces, initialisation rules, argument checks, tokens and slots, PINs, objects,
 * and every cryptographic mechanism checked against OpenSSL. Each test has its own store. */
#include <check.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "p11check.h"


/* Assert a call's CK_RV; on failure say what the module recorded about it. The message
 * arguments are evaluated only on failure, right after the call. */

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static CK_OBJECT_CLASS cls_data = CKO_DATA, cls_secret = CKO_SECRET_KEY;
static CK_KEY_TYPE kt_aes = CKK_AES, kt_generic = CKK_GENERIC_SECRET;

/* DER OIDs of the named curves (CKA_EC_PARAMS). */
static const CK_BYTE P256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const CK_BYTE P384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};

/* ---- helpers ---- */

static CK_SLOT_ID make_token(const char *label)
{
    CK_SLOT_ID slot = 0;
    OK(p11_make_token(&M, label, NULL, &slot));
    return slot;
}

/* Initialise the module, make a token and return a logged-in read/write session on it. */
static CK_SESSION_HANDLE user_session(CK_SLOT_ID *slot_out)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    OK(F->C_Initialize(NULL));
    CK_SLOT_ID slot = make_token("test");
    OK(p11_user_session(&M, slot, NULL, &s));
    if (slot_out)
        *slot_out = slot;
    return s;
}

static CK_FLAGS token_flags(CK_SLOT_ID slot)
{
    CK_TOKEN_INFO ti;
    OK(F->C_GetTokenInfo(slot, &ti));
    return ti.flags;
}

static CK_ULONG count_objects(CK_SESSION_HANDLE s)
{
    CK_OBJECT_HANDLE h[64];
    CK_ULONG n = 0, got;
    OK(F->C_FindObjectsInit(s, NULL, 0));
    do {
        OK(F->C_FindObjects(s, h, 64, &got));
        n += got;
    } while (got == 64);
    OK(F->C_FindObjectsFinal(s));
    return n;
}

static void gen_ec(CK_SESSION_HANDLE s, const CK_BYTE *params, size_t plen, const char *label,
                   CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
    CK_MECHANISM m = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pt[] = {{CKA_TOKEN, &yes, 1},
                         {CKA_VERIFY, &yes, 1},
                         {CKA_EC_PARAMS, (void *)params, plen},
                         {CKA_LABEL, (void *)label, strlen(label)}};
    CK_ATTRIBUTE qt[] = {{CKA_TOKEN, &yes, 1},
                         {CKA_PRIVATE, &yes, 1},
                         {CKA_SENSITIVE, &yes, 1},
                         {CKA_SIGN, &yes, 1},
                         {CKA_LABEL, (void *)label, strlen(label)}};
    OK(F->C_GenerateKeyPair(s, &m, pt, 4, qt, 5, pub, priv));
}

static CK_OBJECT_HANDLE import_secret(CK_SESSION_HANDLE s, CK_KEY_TYPE *kt, const uint8_t *key,
                                      size_t len, CK_BBOOL sensitive)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_BBOOL extractable = !sensitive;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
                        {CKA_KEY_TYPE, kt, sizeof(*kt)},
                        {CKA_TOKEN, &no, 1},
                        {CKA_PRIVATE, &yes, 1},
                        {CKA_SENSITIVE, &sensitive, 1},
                        {CKA_EXTRACTABLE, &extractable, 1},
                        {CKA_ENCRYPT, &yes, 1},
                        {CKA_DECRYPT, &yes, 1},
                        {CKA_SIGN, &yes, 1},
                        {CKA_VERIFY, &yes, 1},
                        {CKA_VALUE, (void *)key, len}};
    OK(F->C_CreateObject(s, t, sizeof(t) / sizeof(t[0]), &h));
    return h;
}

static CK_OBJECT_HANDLE create_data(CK_SESSION_HANDLE s, const char *label, const void *val,
                                    size_t len, CK_BBOOL priv)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_data, sizeof(cls_data)},
                        {CKA_TOKEN, &yes, 1},
                        {CKA_PRIVATE, &priv, 1},
                        {CKA_LABEL, (void *)label, strlen(label)},
                        {CKA_APPLICATION, "check_p11", 9},
                        {CKA_VALUE, (void *)val, len}};
    OK(F->C_CreateObject(s, t, 6, &h));
    return h;
}

/* An attribute's value into buf (at most cap bytes); returns its length. */
static CK_ULONG get_attr(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, void *buf,
                         CK_ULONG cap)
{
    CK_ATTRIBUTE a = {type, buf, cap};
    OK(F->C_GetAttributeValue(s, h, &a, 1));
    return a.ulValueLen;
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

/* ---- OpenSSL references ---- */

static EVP_PKEY *pkey_of(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub)
{
    uint8_t spki[256], point[160], enc[160];
    size_t enclen = 0;
    CK_ULONG spki_len = get_attr(s, pub, CKA_PUBLIC_KEY_INFO, spki, sizeof(spki));
    CK_ULONG point_len = get_attr(s, pub, CKA_EC_POINT, point, sizeof(point));
    const unsigned char *p = spki;
    EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)spki_len);
    ck_assert_msg(pk != NULL, "CKA_PUBLIC_KEY_INFO is not a SubjectPublicKeyInfo");
    ck_assert_int_eq(
        EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, enc, sizeof(enc), &enclen), 1);
    /* CKA_EC_POINT is the DER OCTET STRING of the same uncompressed point */
    ck_assert_uint_eq(point_len, enclen + 2);
    ck_assert_uint_eq(point[0], 0x04);
    ck_assert_uint_eq(point[1], enclen);
    ck_assert_uint_eq(enc[0], 0x04);
    ck_assert_mem_eq(point + 2, enc, enclen);
    return pk;
}

/* Verify a raw r||s ECDSA signature over a digest with OpenSSL: 1 good, 0 bad. */
static int ossl_ecdsa_verify(EVP_PKEY *pk, const uint8_t *dgst, size_t dlen, const uint8_t *rs,
                             size_t rslen)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs, (int)(rslen / 2), NULL);
    BIGNUM *sv = BN_bin2bn(rs + rslen / 2, (int)(rslen / 2), NULL);
    unsigned char *der = NULL;
    int derlen, ok = -1;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pk, NULL);
    ck_assert(sig && r && sv && ctx);
    ck_assert_int_eq(ECDSA_SIG_set0(sig, r, sv), 1);
    derlen = i2d_ECDSA_SIG(sig, &der);
    ck_assert_int_gt(derlen, 0);
    ck_assert_int_eq(EVP_PKEY_verify_init(ctx), 1);
    ok = EVP_PKEY_verify(ctx, der, (size_t)derlen, dgst, dlen);
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    EVP_PKEY_CTX_free(ctx);
    return ok == 1;
}

static size_t ossl_digest(const char *name, const uint8_t *in, size_t len, uint8_t *out)
{
    unsigned int n = 0;
    ck_assert_int_eq(EVP_Digest(in, len, out, &n, EVP_get_digestbyname(name), NULL), 1);
    return n;
}

/* AES-256-GCM with a 12-byte IV and a 16-byte tag: out = ciphertext || tag. */
static void ossl_gcm_encrypt(const uint8_t *key, const uint8_t *iv, const uint8_t *aad,
                             size_t aadlen, const uint8_t *pt, size_t len, uint8_t *out)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0;
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv), 1);
    ck_assert_int_eq(EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aadlen), 1);
    ck_assert_int_eq(EVP_EncryptUpdate(ctx, out, &n, pt, (int)len), 1);
    ck_assert_int_eq(EVP_EncryptFinal_ex(ctx, out + n, &n), 1);
    ck_assert_int_eq(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out + len), 1);
    EVP_CIPHER_CTX_free(ctx);
}

/* ---- function lists and interfaces ---- */

typedef CK_RV (*any_fn)(void);

/* Every function pointer of a list after its version; returns how many there are. */
static size_t check_all_set(const void *list, size_t first, size_t size, const char *what)
{
    size_t n = 0;
    for (size_t off = first; off + sizeof(any_fn) <= size; off += sizeof(any_fn), n++) {
        any_fn fn;
        memcpy(&fn, (const char *)list + off, sizeof(fn));
        ck_assert_msg(fn != NULL, "function #%zu of the %s list is NULL", n, what);
    }
    return n;
}

static void *module_sym(const char *name)
{
    void *p = dlsym(M.dl, name);
    ck_assert_msg(p != NULL, "the module does not export %s", name);
    return p;
}

static CK_FUNCTION_LIST *list_2_40(void)
{
    CK_C_GetFunctionList get;
    CK_FUNCTION_LIST *l = NULL;
    void *p = module_sym("C_GetFunctionList");
    memcpy(&get, &p, sizeof(get));
    OK(get(&l));
    ck_assert_ptr_nonnull(l);
    return l;
}

START_TEST(test_function_lists_are_complete)
{
    CK_FUNCTION_LIST *l240 = list_2_40(), *again = NULL;
    ck_assert_uint_eq(F->version.major, 3);
    ck_assert_uint_eq(F->version.minor, 0);
    ck_assert_uint_eq(l240->version.major, 2);
    ck_assert_uint_eq(l240->version.minor, 40);
    ck_assert_uint_eq(check_all_set(F, offsetof(CK_FUNCTION_LIST_3_0, C_Initialize),
                                    sizeof(CK_FUNCTION_LIST_3_0), "3.0"),
                      92);
    ck_assert_uint_eq(check_all_set(l240, offsetof(CK_FUNCTION_LIST, C_Initialize),
                                    sizeof(CK_FUNCTION_LIST), "2.40"),
                      68);
    OK(l240->C_GetFunctionList(&again));
    ck_assert_ptr_eq(again, l240);
    /* the 3.0 list's C_GetFunctionList answers with the 2.40 list too */
    again = NULL;
    OK(F->C_GetFunctionList(&again));
    ck_assert_ptr_eq(again, l240);
    EXPECT_RV(CKR_ARGUMENTS_BAD, l240->C_GetFunctionList(NULL));
}
END_TEST

START_TEST(test_interface_list_offers_3_0_2_40_and_sea)
{
    CK_INTERFACE list[8];
    CK_ULONG n = 0;
    int p30 = 0, p240 = 0, sea = 0;
    OK(F->C_GetInterfaceList(NULL, &n));
    ck_assert_uint_eq(n, 3);
    n = 2;
    EXPECT_RV(CKR_BUFFER_TOO_SMALL, F->C_GetInterfaceList(list, &n));
    ck_assert_uint_eq(n, 3);
    EXPECT_RV(CKR_ARGUMENTS_BAD, F->C_GetInterfaceList(list, NULL));
    n = 8;
    OK(F->C_GetInterfaceList(list, &n));
    ck_assert_uint_eq(n, 3);
    for (CK_ULONG i = 0; i < n; i++) {
        const char *name = (const char *)list[i].pInterfaceName;
        const CK_VERSION *v = list[i].pFunctionList;
        ck_assert_ptr_nonnull(v);
        ck_assert_msg(!(list[i].flags & CKF_INTERFACE_FORK_SAFE),
                      "interface %s %u.%u claims to be fork-safe", name, v->major, v->minor);
        if (strcmp(name, "PKCS 11") == 0 && v->major == 3 && v->minor == 0)
            p30++;
        else if (strcmp(name, "PKCS 11") == 0 && v->major == 2 && v->minor == 40)
            p240++;
        else if (strcmp(name, "SEA") == 0 && v->major == 1 && v->minor == 0)
            sea++;
        else
            ck_abort_msg("unexpected interface %s %u.%u", name, v->major, v->minor);
    }
    ck_assert_int_eq(p30, 1);
    ck_assert_int_eq(p240, 1);
    ck_assert_int_eq(sea, 1);
}
END_TEST

START_TEST(test_get_interface_defaults_to_3_0_and_is_not_fork_safe)
{
    CK_INTERFACE *it = NULL;
    CK_VERSION v240 = {2, 40};
    OK(F->C_GetInterface(NULL, NULL, &it, 0));
    ck_assert_str_eq((const char *)it->pInterfaceName, "PKCS 11");
    ck_assert_ptr_eq(it->pFunctionList, F);
    it = NULL;
    OK(F->C_GetInterface((CK_UTF8CHAR_PTR) "PKCS 11", &v240, &it, 0));
    ck_assert_ptr_eq(it->pFunctionList, list_2_40());
    it = NULL;
    OK(F->C_GetInterface((CK_UTF8CHAR_PTR) "SEA", NULL, &it, 0));
    ck_assert_ptr_eq(it->pFunctionList, M.sea);
    /* libsea is not fork-safe: a child must call C_Initialize again */
    it = NULL;
    ck_assert_uint_ne(F->C_GetInterface(NULL, NULL, &it, CKF_INTERFACE_FORK_SAFE), CKR_OK);
    ck_assert_ptr_null(it);
    ck_assert_uint_ne(
        F->C_GetInterface((CK_UTF8CHAR_PTR) "PKCS 11", NULL, &it, CKF_INTERFACE_FORK_SAFE), CKR_OK);
    ck_assert_ptr_null(it);
    ck_assert_uint_ne(F->C_GetInterface((CK_UTF8CHAR_PTR) "NO SUCH", NULL, &it, 0), CKR_OK);
    ck_assert_ptr_null(it);
    EXPECT_RV(CKR_ARGUMENTS_BAD, F->C_GetInterface(NULL, NULL, NULL, 0));
}
END_TEST

START_TEST(test_get_info_says_3_0)
{
    CK_INFO info;
    memset(&info, 0xA5, sizeof(info));
    OK(F->C_Initialize(NULL));
    OK(F->C_GetInfo(&info));
    ck_assert_uint_eq(info.cryptokiVersion.major, 3);
    ck_assert_uint_eq(info.cryptokiVersion.minor, 0);
    ck_assert_uint_eq(info.flags, 0);
    ck_assert_mem_eq(info.manufacturerID, "libsea ", 7);
    /* the 2.40 list reaches the same, already initialised library */
    memset(&info, 0, sizeof(info));
    OK(list_2_40()->C_GetInfo(&info));
    ck_assert_mem_eq(info.manufacturerID, "libsea ", 7);
    EXPECT_RV(CKR_CRYPTOKI_ALREADY_INITIALIZED, list_2_40()->C_Initialize(NULL));
}
END_TEST

/* ---- initialisation ---- */

#define NI(call) EXPECT_RV(CKR_CRYPTOKI_NOT_INITIALIZED, call)

/* Every function but the four that must work before C_Initialize, with plausible arguments so
 * that only the missing initialisation can be the reason. */
static void expect_all_not_initialized(void)
{
    CK_BYTE buf[64] = {0}, buf2[64] = {0};
    CK_ULONG len = sizeof(buf), len2 = sizeof(buf2);
    CK_ATTRIBUTE attr = {CKA_LABEL, buf, 4};
    CK_MECHANISM mech = {CKM_SHA256, NULL, 0};
    CK_OBJECT_HANDLE oh = 0, oh2 = 0;
    CK_SLOT_ID slot = 0;
    CK_SESSION_HANDLE sh = 1;
    CK_INFO info;
    CK_SLOT_INFO si;
    CK_TOKEN_INFO ti;
    CK_MECHANISM_INFO mi;
    CK_SESSION_INFO ssi;
    CK_MECHANISM_TYPE mt[8];
    CK_UTF8CHAR label[32];
    CK_UTF8CHAR *pin = (CK_UTF8CHAR *)"12345678";
    memset(label, ' ', sizeof(label));

    NI(F->C_Finalize(NULL));
    NI(F->C_GetInfo(&info));
    NI(F->C_GetSlotList(CK_TRUE, &slot, &len));
    NI(F->C_GetSlotInfo(slot, &si));
    NI(F->C_GetTokenInfo(slot, &ti));
    NI(F->C_GetMechanismList(slot, mt, &len));
    NI(F->C_GetMechanismInfo(slot, CKM_SHA256, &mi));
    NI(F->C_InitToken(slot, pin, 8, label));
    NI(F->C_InitPIN(sh, pin, 8));
    NI(F->C_SetPIN(sh, pin, 8, pin, 8));
    NI(F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &sh));
    NI(F->C_CloseSession(sh));
    NI(F->C_CloseAllSessions(slot));
    NI(F->C_GetSessionInfo(sh, &ssi));
    NI(F->C_GetOperationState(sh, buf, &len));
    NI(F->C_SetOperationState(sh, buf, len, 0, 0));
    NI(F->C_Login(sh, CKU_USER, pin, 8));
    NI(F->C_Logout(sh));
    NI(F->C_CreateObject(sh, &attr, 1, &oh));
    NI(F->C_CopyObject(sh, oh, &attr, 1, &oh2));
    NI(F->C_DestroyObject(sh, oh));
    NI(F->C_GetObjectSize(sh, oh, &len));
    NI(F->C_GetAttributeValue(sh, oh, &attr, 1));
    NI(F->C_SetAttributeValue(sh, oh, &attr, 1));
    NI(F->C_FindObjectsInit(sh, &attr, 1));
    NI(F->C_FindObjects(sh, &oh, 1, &len));
    NI(F->C_FindObjectsFinal(sh));
    NI(F->C_EncryptInit(sh, &mech, oh));
    NI(F->C_Encrypt(sh, buf, 16, buf2, &len2));
    NI(F->C_EncryptUpdate(sh, buf, 16, buf2, &len2));
    NI(F->C_EncryptFinal(sh, buf2, &len2));
    NI(F->C_DecryptInit(sh, &mech, oh));
    NI(F->C_Decrypt(sh, buf, 16, buf2, &len2));
    NI(F->C_DecryptUpdate(sh, buf, 16, buf2, &len2));
    NI(F->C_DecryptFinal(sh, buf2, &len2));
    NI(F->C_DigestInit(sh, &mech));
    NI(F->C_Digest(sh, buf, 16, buf2, &len2));
    NI(F->C_DigestUpdate(sh, buf, 16));
    NI(F->C_DigestKey(sh, oh));
    NI(F->C_DigestFinal(sh, buf2, &len2));
    NI(F->C_SignInit(sh, &mech, oh));
    NI(F->C_Sign(sh, buf, 16, buf2, &len2));
    NI(F->C_SignUpdate(sh, buf, 16));
    NI(F->C_SignFinal(sh, buf2, &len2));
    NI(F->C_SignRecoverInit(sh, &mech, oh));
    NI(F->C_SignRecover(sh, buf, 16, buf2, &len2));
    NI(F->C_VerifyInit(sh, &mech, oh));
    NI(F->C_Verify(sh, buf, 16, buf2, 16));
    NI(F->C_VerifyUpdate(sh, buf, 16));
    NI(F->C_VerifyFinal(sh, buf2, 16));
    NI(F->C_VerifyRecoverInit(sh, &mech, oh));
    NI(F->C_VerifyRecover(sh, buf, 16, buf2, &len2));
    NI(F->C_DigestEncryptUpdate(sh, buf, 16, buf2, &len2));
    NI(F->C_DecryptDigestUpdate(sh, buf, 16, buf2, &len2));
    NI(F->C_SignEncryptUpdate(sh, buf, 16, buf2, &len2));
    NI(F->C_DecryptVerifyUpdate(sh, buf, 16, buf2, &len2));
    NI(F->C_GenerateKey(sh, &mech, &attr, 1, &oh));
    NI(F->C_GenerateKeyPair(sh, &mech, &attr, 1, &attr, 1, &oh, &oh2));
    NI(F->C_WrapKey(sh, &mech, oh, oh2, buf, &len));
    NI(F->C_UnwrapKey(sh, &mech, oh, buf, 16, &attr, 1, &oh2));
    NI(F->C_DeriveKey(sh, &mech, oh, &attr, 1, &oh2));
    NI(F->C_SeedRandom(sh, buf, 16));
    NI(F->C_GenerateRandom(sh, buf, 16));
    NI(F->C_GetFunctionStatus(sh));
    NI(F->C_CancelFunction(sh));
    NI(F->C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, NULL));
    NI(F->C_LoginUser(sh, CKU_USER, pin, 8, NULL, 0));
    NI(F->C_SessionCancel(sh, CKF_SIGN));
    NI(F->C_MessageEncryptInit(sh, &mech, oh));
    NI(F->C_EncryptMessage(sh, buf, 16, buf, 4, buf, 16, buf2, &len2));
    NI(F->C_EncryptMessageBegin(sh, buf, 16, buf, 4));
    NI(F->C_EncryptMessageNext(sh, buf, 16, buf, 16, buf2, &len2, 0));
    NI(F->C_MessageEncryptFinal(sh));
    NI(F->C_MessageDecryptInit(sh, &mech, oh));
    NI(F->C_DecryptMessage(sh, buf, 16, buf, 4, buf, 16, buf2, &len2));
    NI(F->C_DecryptMessageBegin(sh, buf, 16, buf, 4));
    NI(F->C_DecryptMessageNext(sh, buf, 16, buf, 16, buf2, &len2, 0));
    NI(F->C_MessageDecryptFinal(sh));
    NI(F->C_MessageSignInit(sh, &mech, oh));
    NI(F->C_SignMessage(sh, buf, 16, buf, 16, buf2, &len2));
    NI(F->C_SignMessageBegin(sh, buf, 16));
    NI(F->C_SignMessageNext(sh, buf, 16, buf, 16, buf2, &len2));
    NI(F->C_MessageSignFinal(sh));
    NI(F->C_MessageVerifyInit(sh, &mech, oh));
    NI(F->C_VerifyMessage(sh, buf, 16, buf, 16, buf2, 16));
    NI(F->C_VerifyMessageBegin(sh, buf, 16));
    NI(F->C_VerifyMessageNext(sh, buf, 16, buf, 16, buf2, 16));
    NI(F->C_MessageVerifyFinal(sh));
}

START_TEST(test_every_function_needs_initialize)
{
    expect_all_not_initialized();
    /* and again once a C_Initialize has been undone by C_Finalize */
    OK(F->C_Initialize(NULL));
    OK(F->C_Finalize(NULL));
    expect_all_not_initialized();
}
END_TEST

static CK_RV mutex_create(CK_VOID_PTR_PTR m)
{
    *m = malloc(1);
    return *m ? CKR_OK : CKR_HOST_MEMORY;
}

static CK_RV mutex_destroy(CK_VOID_PTR m)
{
    free(m);
    return CKR_OK;
}

static CK_RV mutex_noop(CK_VOID_PTR m)
{
    (void)m;
    return CKR_OK;
}

START_TEST(test_initialize_checks_its_arguments)
{
    CK_C_INITIALIZE_ARGS a;
    int dummy;
    memset(&a, 0, sizeof(a));
    a.pReserved = &dummy;
    EXPECT_RV(CKR_ARGUMENTS_BAD, F->C_Initialize(&a));
    memset(&a, 0, sizeof(a));
    a.CreateMutex = mutex_create;
    EXPECT_RV(CKR_ARGUMENTS_BAD, F->C_Initialize(&a));
    a.flags = CKF_OS_LOCKING_OK;
    a.DestroyMutex = mutex_destroy;
    a.LockMutex = mutex_noop;
    EXPECT_RV(CKR_ARGUMENTS_BAD, F->C_Initialize(&a)); /* three of four */
    a.UnlockMutex = mutex_noop;
    a.flags = 0;
    EXPECT_RV(CKR_CANT_LOCK, F->C_Initialize(&a));
    /* none of the refused calls initialised anything */
    CK_INFO info;
    NI(F->C_GetInfo(&info));
    a.flags = CKF_OS_LOCKING_OK;
    OK(F->C_Initialize(&a));
    OK(F->C_GetInfo(&info));
    EXPECT_RV(CKR_CRYPTOKI_ALREADY_INITIALIZED, F->C_Initialize(NULL));
    EXPECT_RV(CKR_CRYPTOKI_ALREADY_INITIALIZED, F->C_Initialize(&a));
    EXPECT_RV(CKR_ARGUMENTS_BAD, F->C_Finalize(&dummy));
    OK(F->C_GetInfo(&info)); /* the refused C_Finalize left it running */
    OK(F->C_Finalize(NULL));
    NI(F->C_Finalize(NULL));
    /* OS locking without callbacks, then plain NULL */
    memset(&a, 0, sizeof(a));
    a.flags = CKF_OS_LOCKING_OK;
    OK(F->C_Initialize(&a));
    OK(F->C_Finalize(NULL));
    OK(F->C_Initialize(NULL));
}
END_TEST

/* ---- argument checks ---- */

#define BAD(call) EXPECT_RV(CKR_ARGUMENTS_BAD, call)

START_TEST(test_null_pointers_are_arguments_bad)
{
    CK_SLOT_ID slot, free_slot;
    CK_SESSION_HANDLE s = user_session(&slot);
    CK_BYTE buf[64] = {0};
    CK_ULONG len = sizeof(buf), n = 0;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE, h2 = CK_INVALID_HANDLE;
    CK_UTF8CHAR label[32];
    CK_UTF8CHAR *pin = (CK_UTF8CHAR *)P11_USER_PIN;
    CK_MECHANISM gen = {CKM_AES_KEY_GEN, NULL, 0};
    CK_MECHANISM ecgen = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ULONG keylen = 32;
    CK_ATTRIBUTE kt[] = {{CKA_VALUE_LEN, &keylen, sizeof(keylen)}, {CKA_TOKEN, &yes, 1}};
    CK_ATTRIBUTE pubt[] = {{CKA_EC_PARAMS, (void *)P256, sizeof(P256)}, {CKA_TOKEN, &yes, 1}};
    CK_ATTRIBUTE privt[] = {{CKA_TOKEN, &yes, 1}};
    CK_OBJECT_HANDLE obj = create_data(s, "args", "v", 1, CK_TRUE);
    CK_ATTRIBUTE attr = {CKA_LABEL, buf, sizeof(buf)};
    p11_pad32(label, "x");
    OK(p11_free_slot(&M, &free_slot));
    CK_ULONG before = count_objects(s);

    BAD(F->C_GetInfo(NULL));
    BAD(F->C_GetSlotList(CK_TRUE, NULL, NULL));
    BAD(F->C_GetSlotList(CK_FALSE, (CK_SLOT_ID *)buf, NULL));
    BAD(F->C_GetSlotInfo(slot, NULL));
    BAD(F->C_GetTokenInfo(slot, NULL));
    BAD(F->C_GetMechanismList(slot, NULL, NULL));
    BAD(F->C_GetMechanismInfo(slot, CKM_SHA256, NULL));
    BAD(F->C_InitToken(free_slot, NULL, 8, label));
    BAD(F->C_InitToken(free_slot, (CK_UTF8CHAR_PTR)P11_SO_PIN, 8, NULL));
    BAD(F->C_InitPIN(s, NULL, 4));
    BAD(F->C_SetPIN(s, NULL, 4, pin, 4));
    BAD(F->C_SetPIN(s, pin, 4, NULL, 4));
    BAD(F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, NULL));
    BAD(F->C_GetSessionInfo(s, NULL));
    BAD(F->C_Login(s, CKU_USER, NULL, 4));
    BAD(F->C_LoginUser(s, CKU_USER, NULL, 4, NULL, 0));
    BAD(F->C_CreateObject(s, NULL, 2, &h));
    BAD(F->C_CreateObject(s, &attr, 1, NULL));
    BAD(F->C_CopyObject(s, obj, NULL, 1, &h));
    BAD(F->C_CopyObject(s, obj, NULL, 0, NULL));
    BAD(F->C_GetObjectSize(s, obj, NULL));
    BAD(F->C_GetAttributeValue(s, obj, NULL, 1));
    BAD(F->C_SetAttributeValue(s, obj, NULL, 1));
    BAD(F->C_FindObjectsInit(s, NULL, 1));
    OK(F->C_FindObjectsInit(s, NULL, 0));
    BAD(F->C_FindObjects(s, NULL, 1, &n));
    BAD(F->C_FindObjects(s, &h, 1, NULL));
    OK(F->C_FindObjectsFinal(s));
    BAD(F->C_Encrypt(s, NULL, 4, buf, &len));
    BAD(F->C_Encrypt(s, buf, 4, buf, NULL));
    BAD(F->C_EncryptUpdate(s, NULL, 4, buf, &len));
    BAD(F->C_EncryptUpdate(s, buf, 4, buf, NULL));
    BAD(F->C_EncryptFinal(s, buf, NULL));
    BAD(F->C_Decrypt(s, NULL, 4, buf, &len));
    BAD(F->C_Decrypt(s, buf, 4, buf, NULL));
    BAD(F->C_DecryptUpdate(s, NULL, 4, buf, &len));
    BAD(F->C_DecryptUpdate(s, buf, 4, buf, NULL));
    BAD(F->C_DecryptFinal(s, buf, NULL));
    BAD(F->C_Digest(s, NULL, 4, buf, &len));
    BAD(F->C_Digest(s, buf, 4, buf, NULL));
    BAD(F->C_DigestUpdate(s, NULL, 4));
    BAD(F->C_DigestFinal(s, buf, NULL));
    BAD(F->C_Sign(s, NULL, 4, buf, &len));
    BAD(F->C_Sign(s, buf, 4, buf, NULL));
    BAD(F->C_SignUpdate(s, NULL, 4));
    BAD(F->C_SignFinal(s, buf, NULL));
    BAD(F->C_Verify(s, NULL, 4, buf, 4));
    BAD(F->C_Verify(s, buf, 4, NULL, 4));
    BAD(F->C_VerifyUpdate(s, NULL, 4));
    BAD(F->C_VerifyFinal(s, NULL, 4));
    BAD(F->C_GenerateKey(s, NULL, kt, 2, &h));
    BAD(F->C_GenerateKey(s, &gen, NULL, 2, &h));
    BAD(F->C_GenerateKey(s, &gen, kt, 2, NULL));
    BAD(F->C_GenerateKeyPair(s, NULL, pubt, 2, privt, 1, &h, &h2));
    BAD(F->C_GenerateKeyPair(s, &ecgen, NULL, 2, privt, 1, &h, &h2));
    BAD(F->C_GenerateKeyPair(s, &ecgen, pubt, 2, NULL, 1, &h, &h2));
    BAD(F->C_GenerateKeyPair(s, &ecgen, pubt, 2, privt, 1, NULL, &h2));
    BAD(F->C_GenerateKeyPair(s, &ecgen, pubt, 2, privt, 1, &h, NULL));
    BAD(F->C_SeedRandom(s, NULL, 4));
    BAD(F->C_GenerateRandom(s, NULL, 4));
    BAD(F->C_WaitForSlotEvent(CKF_DONT_BLOCK, NULL, NULL));
    BAD(F->C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, buf));
    /* no refused call left anything behind: same objects, same slots */
    ck_assert_uint_eq(count_objects(s), before);
    CK_SLOT_ID again;
    OK(p11_free_slot(&M, &again));
    ck_assert_uint_eq(again, free_slot);
    /* and the session still works */
    OK(F->C_GenerateKey(s, &gen, kt, 2, &h));
    ck_assert_uint_eq(count_objects(s), before + 1);
}
END_TEST

/* ---- unsupported functions and the vendor interface ---- */

#define NS(call) EXPECT_RV(CKR_FUNCTION_NOT_SUPPORTED, call)

START_TEST(test_unsupported_functions_say_so)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s = user_session(&slot);
    CK_BYTE buf[64] = {0}, out[64];
    CK_ULONG len = sizeof(buf), outlen = sizeof(out);
    CK_MECHANISM mech = {CKM_AES_GCM, NULL, 0};
    CK_OBJECT_HANDLE key = import_secret(s, &kt_aes, buf, 32, CK_TRUE);
    NS(F->C_GetOperationState(s, buf, &len));
    NS(F->C_SetOperationState(s, buf, len, 0, 0));
    NS(F->C_DigestKey(s, key));
    NS(F->C_SignRecoverInit(s, &mech, key));
    NS(F->C_VerifyRecoverInit(s, &mech, key));
    NS(F->C_DigestEncryptUpdate(s, buf, 16, out, &outlen));
    NS(F->C_DecryptDigestUpdate(s, buf, 16, out, &outlen));
    NS(F->C_SignEncryptUpdate(s, buf, 16, out, &outlen));
    NS(F->C_DecryptVerifyUpdate(s, buf, 16, out, &outlen));
    /* message-based encryption: check_semantics; wrap, unwrap, derive: check_kdfwrap */
    NS(F->C_MessageSignInit(s, &mech, key));
    NS(F->C_SignMessage(s, buf, 16, buf, 16, out, &outlen));
    NS(F->C_SignMessageBegin(s, buf, 16));
    NS(F->C_SignMessageNext(s, buf, 16, buf, 16, out, &outlen));
    NS(F->C_MessageSignFinal(s));
    NS(F->C_MessageVerifyInit(s, &mech, key));
    NS(F->C_VerifyMessage(s, buf, 16, buf, 16, out, 16));
    NS(F->C_VerifyMessageBegin(s, buf, 16));
    NS(F->C_VerifyMessageNext(s, buf, 16, buf, 16, out, 16));
    NS(F->C_MessageVerifyFinal(s));
    EXPECT_RV(CKR_FUNCTION_NOT_PARALLEL, F->C_GetFunctionStatus(s));
    EXPECT_RV(CKR_FUNCTION_NOT_PARALLEL, F->C_CancelFunction(s));
}
END_TEST

static void *thread_last_error(void *arg)
{
    CK_RV *rv = arg;
    CK_ULONG origin = 99;
    M.sea->C_SEA_GetLastError(&origin, rv, NULL, NULL);
    return NULL;
}

START_TEST(test_last_error_reports_origin_and_message)
{
    static const char wrong[] = "wrongpin-7391";
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s;
    CK_ULONG origin = 0, msglen = 0;
    CK_RV last = CKR_OK, other = CKR_GENERAL_ERROR;
    CK_UTF8CHAR msg[256];
    CK_INFO info;
    pthread_t t;
    ck_assert_ptr_nonnull(M.sea);
    ck_assert_uint_eq(M.sea->version.major, 1);
    ck_assert_uint_eq(M.sea->version.minor, 0);
    OK(F->C_Initialize(NULL));
    slot = make_token("errors");
    OK(F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s));
    EXPECT_RV(CKR_PIN_INCORRECT,
              F->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)wrong, sizeof(wrong) - 1));
    msglen = sizeof(msg);
    OK(M.sea->C_SEA_GetLastError(&origin, &last, msg, &msglen));
    ck_assert_uint_eq(last, CKR_PIN_INCORRECT);
    ck_assert_uint_eq(origin, CKO_SEA_ORIGIN_BACKEND);
    ck_assert_uint_gt(msglen, 1);
    ck_assert_uint_eq(msglen, strlen((char *)msg) + 1);
    ck_assert_ptr_null(strstr((char *)msg, wrong));
    ck_assert_ptr_null(strstr((char *)msg, P11_USER_PIN));
    /* the record is per thread: another thread has none */
    ck_assert_int_eq(pthread_create(&t, NULL, thread_last_error, &other), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_uint_eq(other, CKR_OK);
    /* length query, then truncation to the buffer */
    CK_ULONG need = 0;
    OK(M.sea->C_SEA_GetLastError(NULL, NULL, NULL, &need));
    ck_assert_uint_eq(need, msglen);
    CK_UTF8CHAR small[5];
    CK_ULONG smalllen = sizeof(small);
    OK(M.sea->C_SEA_GetLastError(NULL, NULL, small, &smalllen));
    ck_assert_uint_eq(smalllen, 5);
    ck_assert_uint_eq(small[4], '\0');
    ck_assert_mem_eq(small, msg, 4);
    /* a rejected argument is the API's doing */
    BAD(F->C_GetInfo(NULL));
    OK(M.sea->C_SEA_GetLastError(&origin, &last, NULL, NULL));
    ck_assert_uint_eq(origin, CKO_SEA_ORIGIN_API);
    ck_assert_uint_eq(last, CKR_ARGUMENTS_BAD);
    /* and a call that succeeds clears the record */
    OK(F->C_GetInfo(&info));
    OK(M.sea->C_SEA_GetLastError(&origin, &last, NULL, NULL));
    ck_assert_uint_eq(last, CKR_OK);
    ck_assert_uint_eq(origin, CKO_SEA_ORIGIN_NONE);
}
END_TEST

/* ---- slots and tokens ---- */

struct slotrec {
    CK_SLOT_ID id;
    bool initialized;
    char serial[17];
};

/* The slots with a token, in list order; returns how many. */
static CK_ULONG snapshot(struct slotrec *v, CK_ULONG cap)
{
    CK_SLOT_ID ids[16];
    CK_ULONG n = 0;
    OK(F->C_GetSlotList(CK_TRUE, NULL, &n));
    ck_assert_uint_le(n, cap);
    OK(F->C_GetSlotList(CK_TRUE, ids, &n));
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        OK(F->C_GetTokenInfo(ids[i], &ti));
        v[i].id = ids[i];
        v[i].initialized = ti.flags & CKF_TOKEN_INITIALIZED;
        memcpy(v[i].serial, ti.serialNumber, 16);
        v[i].serial[16] = '\0';
    }
    return n;
}

static void assert_same_slots(const struct slotrec *a, CK_ULONG na, const struct slotrec *b,
                              CK_ULONG nb)
{
    ck_assert_uint_eq(na, nb);
    for (CK_ULONG i = 0; i < na; i++) {
        ck_assert_uint_eq(a[i].id, b[i].id);
        ck_assert_int_eq(a[i].initialized, b[i].initialized);
        ck_assert_str_eq(a[i].serial, b[i].serial);
    }
}

static void assert_serial_is_se_id(const char *serial)
{
    ck_assert_uint_eq(strlen(serial), 16);
    ck_assert_msg(serial[0] == '4', "M2M-SE-ID %s does not start with SE type 4", serial);
    for (size_t i = 0; i < 16; i++)
        ck_assert_msg(strchr("0123456789ABCDEFabcdef", serial[i]) != NULL,
                      "M2M-SE-ID %s has a stray character", serial);
}

START_TEST(test_fresh_store_has_one_free_slot)
{
    CK_SLOT_ID ids[4];
    CK_ULONG n = 4;
    CK_SLOT_INFO si;
    CK_TOKEN_INFO ti;
    CK_SESSION_HANDLE s;
    static const char blanks[16] = "                ";
    OK(F->C_Initialize(NULL));
    OK(F->C_GetSlotList(CK_TRUE, NULL, &n));
    ck_assert_uint_eq(n, 1);
    OK(F->C_GetSlotList(CK_TRUE, ids, &n));
    ck_assert_uint_eq(n, 1);
    n = 0;
    EXPECT_RV(CKR_BUFFER_TOO_SMALL, F->C_GetSlotList(CK_TRUE, ids, &n));
    ck_assert_uint_eq(n, 1);
    OK(F->C_GetSlotList(CK_FALSE, NULL, &n));
    ck_assert_uint_eq(n, 1);
    OK(F->C_GetSlotList(CK_FALSE, ids + 1, &n));
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(ids[1], ids[0]);
    OK(F->C_GetSlotInfo(ids[0], &si));
    ck_assert(si.flags & CKF_TOKEN_PRESENT);
    OK(F->C_GetTokenInfo(ids[0], &ti));
    ck_assert(!(ti.flags & CKF_TOKEN_INITIALIZED));
    ck_assert(!(ti.flags & CKF_USER_PIN_INITIALIZED));
    ck_assert_mem_eq(ti.serialNumber, blanks, 16);
    ck_assert_uint_eq(ti.ulMinPinLen, 4);
    ck_assert_uint_eq(ti.ulMaxPinLen, 64);
    /* nothing to open a session on yet */
    ck_assert_uint_ne(F->C_OpenSession(ids[0], CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK);
    EXPECT_RV(CKR_SLOT_ID_INVALID, F->C_GetTokenInfo(ids[0] + 12345, &ti));
    EXPECT_RV(CKR_SLOT_ID_INVALID, F->C_GetSlotInfo(ids[0] + 12345, &si));
}
END_TEST

START_TEST(test_init_token_takes_over_the_free_slot)
{
    CK_SLOT_ID free_slot, next_free;
    CK_UTF8CHAR label[32];
    CK_TOKEN_INFO ti;
    struct slotrec v[4];
    OK(F->C_Initialize(NULL));
    OK(p11_free_slot(&M, &free_slot));
    p11_pad32(label, "alpha");
    OK(F->C_InitToken(free_slot, (CK_UTF8CHAR_PTR)P11_SO_PIN, strlen(P11_SO_PIN), label));
    CK_ULONG n = snapshot(v, 4);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(v[0].id, free_slot);
    ck_assert(v[0].initialized);
    ck_assert(!v[1].initialized);
    ck_assert_uint_ne(v[1].id, free_slot);
    OK(p11_free_slot(&M, &next_free));
    ck_assert_uint_eq(next_free, v[1].id);
    OK(F->C_GetTokenInfo(free_slot, &ti));
    ck_assert_mem_eq(ti.label, label, 32);
    assert_serial_is_se_id(v[0].serial);
    CK_FLAGS want = CKF_TOKEN_INITIALIZED | CKF_LOGIN_REQUIRED | CKF_RNG;
    ck_assert_uint_eq(ti.flags & want, want);
    ck_assert(!(ti.flags & CKF_USER_PIN_INITIALIZED));
    /* the SO sets the user PIN */
    CK_SESSION_HANDLE s;
    OK(F->C_OpenSession(free_slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
    OK(F->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)P11_SO_PIN, strlen(P11_SO_PIN)));
    OK(F->C_InitPIN(s, (CK_UTF8CHAR_PTR)P11_USER_PIN, strlen(P11_USER_PIN)));
    ck_assert(token_flags(free_slot) & CKF_USER_PIN_INITIALIZED);
    OK(F->C_CloseSession(s));
    /* a second token gets its own serial */
    CK_SLOT_ID second = make_token("beta");
    ck_assert_uint_eq(second, next_free);
    n = snapshot(v, 4);
    ck_assert_uint_eq(n, 3);
    assert_serial_is_se_id(v[1].serial);
    ck_assert_str_ne(v[0].serial, v[1].serial);
    /* a bad label is refused without making a token */
    OK(p11_free_slot(&M, &next_free));
    ck_assert_uint_ne(F->C_InitToken(next_free, (CK_UTF8CHAR_PTR)P11_SO_PIN, 8,
                                     (CK_UTF8CHAR_PTR) "                                "),
                      CKR_OK);
    ck_assert_uint_eq(snapshot(v, 4), 3);
}
END_TEST

START_TEST(test_slot_ids_are_stable)
{
    struct slotrec a[8], b[8];
    OK(F->C_Initialize(NULL));
    CK_SLOT_ID first = make_token("one");
    CK_ULONG na = snapshot(a, 8);
    ck_assert_uint_eq(na, 2);
    OK(F->C_Finalize(NULL));
    OK(F->C_Initialize(NULL));
    assert_same_slots(a, na, b, snapshot(b, 8));
    /* two more tokens: the old one keeps its id, the new ones take the free ids in turn */
    CK_SLOT_ID free1 = a[1].id;
    CK_SLOT_ID second = make_token("two");
    ck_assert_uint_eq(second, free1);
    CK_SLOT_ID free2;
    OK(p11_free_slot(&M, &free2));
    CK_SLOT_ID third = make_token("three");
    ck_assert_uint_eq(third, free2);
    CK_ULONG nb = snapshot(b, 8);
    ck_assert_uint_eq(nb, 4);
    ck_assert_uint_eq(b[0].id, first);
    ck_assert_str_eq(b[0].serial, a[0].serial);
    for (CK_ULONG i = 0; i < nb; i++)
        for (CK_ULONG j = i + 1; j < nb; j++)
            ck_assert_uint_ne(b[i].id, b[j].id);
    OK(F->C_Finalize(NULL));
    OK(F->C_Initialize(NULL));
    assert_same_slots(b, nb, a, snapshot(a, 8));
}
END_TEST

static bool in_list(const CK_MECHANISM_TYPE *v, CK_ULONG n, CK_MECHANISM_TYPE t)
{
    for (CK_ULONG i = 0; i < n; i++)
        if (v[i] == t)
            return true;
    return false;
}

START_TEST(test_mechanisms_listed_with_their_info)
{
    static const struct {
        CK_MECHANISM_TYPE type;
        CK_FLAGS flags;
        CK_ULONG min_at_most, max_at_least; /* key sizes: bits for EC, bytes for secrets */
    } want[] = {
        {CKM_EC_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR, 256, 384},
        {CKM_ECDSA, CKF_SIGN | CKF_VERIFY, 256, 384},
        {CKM_ECDSA_SHA256, CKF_SIGN | CKF_VERIFY, 256, 384},
        {CKM_ECDSA_SHA384, CKF_SIGN | CKF_VERIFY, 256, 384},
        {CKM_AES_KEY_GEN, CKF_GENERATE, 16, 32},
        {CKM_AES_GCM, CKF_ENCRYPT | CKF_DECRYPT, 16, 32},
        {CKM_GENERIC_SECRET_KEY_GEN, CKF_GENERATE, 16, 32},
        {CKM_SHA256_HMAC, CKF_SIGN | CKF_VERIFY, 16, 32},
        {CKM_SHA256, CKF_DIGEST, 0, 0},
    };
    CK_MECHANISM_TYPE list[64];
    CK_MECHANISM_INFO mi;
    CK_ULONG n = 0;
    OK(F->C_Initialize(NULL));
    CK_SLOT_ID slot = make_token("mechs");
    OK(F->C_GetMechanismList(slot, NULL, &n));
    ck_assert_uint_ge(n, sizeof(want) / sizeof(want[0]));
    ck_assert_uint_le(n, 64);
    CK_ULONG full = n;
    n = full - 1;
    EXPECT_RV(CKR_BUFFER_TOO_SMALL, F->C_GetMechanismList(slot, list, &n));
    ck_assert_uint_eq(n, full);
    OK(F->C_GetMechanismList(slot, list, &n));
    ck_assert_uint_eq(n, full);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        ck_assert_msg(in_list(list, n, want[i].type), "mechanism 0x%lx is not listed",
                      want[i].type);
        OK(F->C_GetMechanismInfo(slot, want[i].type, &mi));
        ck_assert_msg((mi.flags & want[i].flags) == want[i].flags,
                      "mechanism 0x%lx has flags 0x%lx", want[i].type, mi.flags);
        ck_assert_uint_le(mi.ulMinKeySize, want[i].min_at_most);
        ck_assert_uint_ge(mi.ulMaxKeySize, want[i].max_at_least);
    }
    /* every listed mechanism has info, and no unlisted one does */
    for (CK_ULONG i = 0; i < n; i++)
        OK(F->C_GetMechanismInfo(slot, list[i], &mi));
    OK(F->C_GetMechanismInfo(slot, CKM_EC_KEY_PAIR_GEN, &mi));
    ck_assert(mi.flags & CKF_EC_NAMEDCURVE);
    EXPECT_RV(CKR_MECHANISM_INVALID, F->C_GetMechanismInfo(slot, CKM_DSA, &mi));
    EXPECT_RV(CKR_SLOT_ID_INVALID, F->C_GetMechanismList(slot + 999, list, &n));
}
END_TEST

START_TEST(test_slot_event_after_init_token)
{
    CK_SLOT_ID ev = 0, free_slot, seen[8];
    CK_UTF8CHAR label[32];
    int nseen = 0;
    bool token_seen = false;
    OK(F->C_Initialize(NULL));
    EXPECT_RV(CKR_NO_EVENT, F->C_WaitForSlotEvent(CKF_DONT_BLOCK, &ev, NULL));
    OK(p11_free_slot(&M, &free_slot));
    p11_pad32(label, "events");
    OK(F->C_InitToken(free_slot, (CK_UTF8CHAR_PTR)P11_SO_PIN, strlen(P11_SO_PIN), label));
    for (CK_RV rv; (rv = F->C_WaitForSlotEvent(CKF_DONT_BLOCK, &ev, NULL)) != CKR_NO_EVENT;) {
        ck_assert_msg(rv == CKR_OK, "C_WaitForSlotEvent: %s", p11_rv_name(rv));
        ck_assert_int_lt(nseen, 8);
        seen[nseen++] = ev;
        token_seen |= ev == free_slot;
    }
    ck_assert_msg(token_seen, "no event for the new token's slot (%d events)", nseen);
    for (int i = 0; i < nseen; i++)
        for (int j = i + 1; j < nseen; j++)
            ck_assert_uint_ne(seen[i], seen[j]); /* each change is reported once */
    EXPECT_RV(CKR_NO_EVENT, F->C_WaitForSlotEvent(CKF_DONT_BLOCK, &ev, NULL));
}
END_TEST

/* ---- PINs ---- */

static CK_RV login(CK_SESSION_HANDLE s, CK_USER_TYPE who, const char *pin)
{
    return F->C_Login(s, who, (CK_UTF8CHAR_PTR)pin, strlen(pin));
}

START_TEST(test_wrong_pin_ten_times_locks_the_user_pin)
{
    CK_SESSION_HANDLE s;
    OK(F->C_Initialize(NULL));
    CK_SLOT_ID slot = make_token("locks");
    OK(F->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
    ck_assert(!(token_flags(slot) &
                (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED)));
    for (int i = 1; i <= 10; i++) {
        EXPECT_RV(CKR_PIN_INCORRECT, login(s, CKU_USER, "0000"));
        CK_FLAGS f = token_flags(slot);
        ck_assert_msg(f & CKF_USER_PIN_COUNT_LOW, "try %d: COUNT_LOW not set", i);
        ck_assert_msg(!(f & CKF_USER_PIN_FINAL_TRY) == (i != 9), "try %d: FINAL_TRY is %s", i,
                      f & CKF_USER_PIN_FINAL_TRY ? "set" : "not set");
        ck_assert_msg(!(f & CKF_USER_PIN_LOCKED) == (i != 10), "try %d: LOCKED is %s", i,
                      f & CKF_USER_PIN_LOCKED ? "set" : "not set");
    }
    EXPECT_RV(CKR_PIN_LOCKED, login(s, CKU_USER, P11_USER_PIN));
    EXPECT_RV(CKR_PIN_LOCKED, login(s, CKU_USER, "0000"));
    /* the lock is in the store, not in this process */
    OK(F->C_Finalize(NULL));
    OK(F->C_Initialize(NULL));
    ck_assert(token_flags(slot) & CKF_USER_PIN_LOCKED);
    OK(F->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
    EXPECT_RV(CKR_PIN_LOCKED, login(s, CKU_USER, P11_USER_PIN));
    /* the SO resets it */
    OK(login(s, CKU_SO, P11_SO_PIN));
    OK(F->C_InitPIN(s, (CK_UTF8CHAR_PTR) "4321", 4));
    OK(F->C_Logout(s));
    CK_FLAGS f = token_flags(slot);
    ck_assert(!(f & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED)));
    ck_assert(f & CKF_USER_PIN_INITIALIZED);
    EXPECT_RV(CKR_PIN_INCORRECT, login(s, CKU_USER, P11_USER_PIN));
    OK(login(s, CKU_USER, "4321"));
    /* a success resets the counter */
    ck_assert(!(token_flags(slot) & CKF_USER_PIN_COUNT_LOW));
}
END_TEST

START_TEST(test_set_pin_changes_user_and_so_pins)
{
    CK_SESSION_HANDLE s;
    OK(F->C_Initialize(NULL));
    CK_SLOT_ID slot = make_token("setpin");
    OK(F->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
    OK(login(s, CKU_USER, P11_USER_PIN));
    EXPECT_RV(CKR_PIN_INCORRECT,
              F->C_SetPIN(s, (CK_UTF8CHAR_PTR) "9999", 4, (CK_UTF8CHAR_PTR) "5555", 4));
    OK(F->C_SetPIN(s, (CK_UTF8CHAR_PTR)P11_USER_PIN, 4, (CK_UTF8CHAR_PTR) "5555", 4));
    OK(F->C_Logout(s));
    EXPECT_RV(CKR_PIN_INCORRECT, login(s, CKU_USER, P11_USER_PIN));
    OK(login(s, CKU_USER, "5555"));
    OK(F->C_Logout(s));
    OK(login(s, CKU_SO, P11_SO_PIN));
    OK(F->C_SetPIN(s, (CK_UTF8CHAR_PTR)P11_SO_PIN, 8, (CK_UTF8CHAR_PTR) "so-secret", 9));
    OK(F->C_Logout(s));
    EXPECT_RV(CKR_PIN_INCORRECT, login(s, CKU_SO, P11_SO_PIN));
    OK(login(s, CKU_SO, "so-secret"));
    OK(F->C_Logout(s));
    /* the user PIN did not change with the SO's */
    OK(login(s, CKU_USER, "5555"));
    /* the new PINs hold across a restart */
    OK(F->C_Finalize(NULL));
    OK(F->C_Initialize(NULL));
    OK(F->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
    OK(login(s, CKU_SO, "so-secret"));
}
END_TEST

START_TEST(test_pin_length_is_checked)
{
    static const char long_pin[] =
        "12345678901234567890123456789012345678901234567890123456789012345"; /* 65 */
    CK_SLOT_ID free_slot;
    CK_SESSION_HANDLE s;
    CK_UTF8CHAR label[32];
    struct slotrec v[4];
    OK(F->C_Initialize(NULL));
    OK(p11_free_slot(&M, &free_slot));
    p11_pad32(label, "short");
    EXPECT_RV(CKR_PIN_LEN_RANGE, F->C_InitToken(free_slot, (CK_UTF8CHAR_PTR) "123", 3, label));
    EXPECT_RV(CKR_PIN_LEN_RANGE, F->C_InitToken(free_slot, (CK_UTF8CHAR_PTR)long_pin, 65, label));
    ck_assert_uint_eq(snapshot(v, 4), 1); /* no token was made */
    ck_assert(!v[0].initialized);
    OK(F->C_InitToken(free_slot, (CK_UTF8CHAR_PTR)long_pin, 64, label)); /* 64 is fine */
    OK(F->C_OpenSession(free_slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
    OK(F->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)long_pin, 64));
    EXPECT_RV(CKR_PIN_LEN_RANGE, F->C_InitPIN(s, (CK_UTF8CHAR_PTR) "123", 3));
    EXPECT_RV(CKR_PIN_LEN_RANGE, F->C_InitPIN(s, (CK_UTF8CHAR_PTR)long_pin, 65));
    ck_assert(!(token_flags(free_slot) & CKF_USER_PIN_INITIALIZED));
    OK(F->C_InitPIN(s, (CK_UTF8CHAR_PTR) "1234", 4));
    OK(F->C_Logout(s));
    OK(login(s, CKU_USER, "1234"));
    EXPECT_RV(CKR_PIN_LEN_RANGE,
              F->C_SetPIN(s, (CK_UTF8CHAR_PTR) "1234", 4, (CK_UTF8CHAR_PTR) "123", 3));
    EXPECT_RV(CKR_PIN_LEN_RANGE,
              F->C_SetPIN(s, (CK_UTF8CHAR_PTR) "1234", 4, (CK_UTF8CHAR_PTR)long_pin, 65));
    OK(F->C_Logout(s));
    OK(login(s, CKU_USER, "1234")); /* unchanged */
}
END_TEST

/* ---- signatures, checked with OpenSSL ---- */

/* C_Verify accepts sig over data, refuses it with one bit flipped and one byte short. */
static void check_verify(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_OBJECT_HANDLE key,
                         const uint8_t *data, size_t len, const uint8_t *sig, size_t siglen)
{
    uint8_t bad[160];
    ck_assert_uint_le(siglen, sizeof(bad));
    memcpy(bad, sig, siglen);
    bad[siglen / 3] ^= 0x01;
    OK(F->C_VerifyInit(s, m, key));
    OK(F->C_Verify(s, (CK_BYTE_PTR)data, len, (CK_BYTE_PTR)sig, siglen));
    OK(F->C_VerifyInit(s, m, key));
    EXPECT_RV(CKR_SIGNATURE_INVALID, F->C_Verify(s, (CK_BYTE_PTR)data, len, bad, siglen));
    OK(F->C_VerifyInit(s, m, key));
    EXPECT_RV(CKR_SIGNATURE_LEN_RANGE,
              F->C_Verify(s, (CK_BYTE_PTR)data, len, (CK_BYTE_PTR)sig, siglen - 1));
    /* a failed verification ended the operation */
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED,
              F->C_Verify(s, (CK_BYTE_PTR)data, len, (CK_BYTE_PTR)sig, siglen));
}

/* The same in three C_VerifyUpdate parts. */
static void check_verify_multi(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_OBJECT_HANDLE key,
                               const uint8_t *data, size_t len, const uint8_t *sig, size_t siglen)
{
    uint8_t bad[160];
    size_t a = len / 3, b = len / 2;
    memcpy(bad, sig, siglen);
    bad[siglen - 1] ^= 0x80;
    for (int round = 0; round < 2; round++) {
        OK(F->C_VerifyInit(s, m, key));
        OK(F->C_VerifyUpdate(s, (CK_BYTE_PTR)data, a));
        OK(F->C_VerifyUpdate(s, (CK_BYTE_PTR)data + a, b - a));
        OK(F->C_VerifyUpdate(s, (CK_BYTE_PTR)data + b, len - b));
        if (round == 0)
            OK(F->C_VerifyFinal(s, (CK_BYTE_PTR)sig, siglen));
        else
            EXPECT_RV(CKR_SIGNATURE_INVALID, F->C_VerifyFinal(s, bad, siglen));
    }
}

/* Sign msg with m in one part and in three, check both with OpenSSL against the digest and
 * with C_Verify. */
static void sign_both_ways(CK_SESSION_HANDLE s, CK_MECHANISM_TYPE mt, CK_OBJECT_HANDLE priv,
                           CK_OBJECT_HANDLE pub, EVP_PKEY *pk, const uint8_t *msg, size_t len,
                           const uint8_t *dgst, size_t dlen, size_t rslen)
{
    CK_MECHANISM m = {mt, NULL, 0};
    uint8_t sig[160], bad[160];
    CK_ULONG siglen = 0;
    OK(F->C_SignInit(s, &m, priv));
    OK(F->C_Sign(s, (CK_BYTE_PTR)msg, len, NULL, &siglen)); /* size query keeps it running */
    ck_assert_uint_eq(siglen, rslen);
    siglen = rslen - 1;
    EXPECT_RV(CKR_BUFFER_TOO_SMALL, F->C_Sign(s, (CK_BYTE_PTR)msg, len, sig, &siglen));
    siglen = sizeof(sig);
    OK(F->C_Sign(s, (CK_BYTE_PTR)msg, len, sig, &siglen));
    ck_assert_uint_eq(siglen, rslen);
    ck_assert_msg(ossl_ecdsa_verify(pk, dgst, dlen, sig, siglen),
                  "OpenSSL rejects the single-part signature of mechanism 0x%lx", mt);
    memcpy(bad, sig, siglen);
    bad[5] ^= 0x10;
    ck_assert_msg(!ossl_ecdsa_verify(pk, dgst, dlen, bad, siglen), "the reference is blind");
    check_verify(s, &m, pub, msg, len, sig, siglen);

    OK(F->C_SignInit(s, &m, priv));
    OK(F->C_SignUpdate(s, (CK_BYTE_PTR)msg, 100));
    OK(F->C_SignUpdate(s, (CK_BYTE_PTR)msg + 100, 0));
    OK(F->C_SignUpdate(s, (CK_BYTE_PTR)msg + 100, len - 100));
    siglen = 0;
    OK(F->C_SignFinal(s, NULL, &siglen));
    ck_assert_uint_eq(siglen, rslen);
    siglen = sizeof(sig);
    OK(F->C_SignFinal(s, sig, &siglen));
    ck_assert_uint_eq(siglen, rslen);
    ck_assert_msg(ossl_ecdsa_verify(pk, dgst, dlen, sig, siglen),
                  "OpenSSL rejects the multi-part signature of mechanism 0x%lx", mt);
    check_verify(s, &m, pub, msg, len, sig, siglen);
    check_verify_multi(s, &m, pub, msg, len, sig, siglen);
}

static void exercise_ecdsa(const CK_BYTE *params, size_t plen, size_t rslen)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    CK_OBJECT_HANDLE pub, priv;
    CK_MECHANISM raw = {CKM_ECDSA, NULL, 0};
    uint8_t msg[300], d256[32], d384[48], sig[160];
    CK_ULONG siglen = sizeof(sig);
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i * 7 + 3);
    ck_assert_uint_eq(ossl_digest("SHA256", msg, sizeof(msg), d256), 32);
    ck_assert_uint_eq(ossl_digest("SHA384", msg, sizeof(msg), d384), 48);
    gen_ec(s, params, plen, "ecdsa", &pub, &priv);
    EVP_PKEY *pk = pkey_of(s, pub);

    /* CKM_ECDSA over a SHA-256 digest the caller made */
    OK(F->C_SignInit(s, &raw, priv));
    OK(F->C_Sign(s, d256, sizeof(d256), sig, &siglen));
    ck_assert_uint_eq(siglen, rslen);
    ck_assert(ossl_ecdsa_verify(pk, d256, sizeof(d256), sig, siglen));
    check_verify(s, &raw, pub, d256, sizeof(d256), sig, siglen);
    /* two signatures of the same digest differ (random k) and both verify */
    uint8_t sig2[160];
    CK_ULONG siglen2 = sizeof(sig2);
    OK(F->C_SignInit(s, &raw, priv));
    OK(F->C_Sign(s, d256, sizeof(d256), sig2, &siglen2));
    ck_assert_mem_ne(sig, sig2, rslen);
    ck_assert(ossl_ecdsa_verify(pk, d256, sizeof(d256), sig2, siglen2));

    sign_both_ways(s, CKM_ECDSA_SHA256, priv, pub, pk, msg, sizeof(msg), d256, 32, rslen);
    sign_both_ways(s, CKM_ECDSA_SHA384, priv, pub, pk, msg, sizeof(msg), d384, 48, rslen);

    /* the public key cannot sign, the private key cannot verify */
    EXPECT_RV(CKR_KEY_TYPE_INCONSISTENT, F->C_SignInit(s, &raw, pub));
    EXPECT_RV(CKR_KEY_TYPE_INCONSISTENT, F->C_VerifyInit(s, &raw, priv));
    EVP_PKEY_free(pk);
}

START_TEST(test_ecdsa_p256_signatures_verify_with_openssl)
{
    exercise_ecdsa(P256, sizeof(P256), 64);
}
END_TEST

START_TEST(test_ecdsa_p384_signatures_verify_with_openssl)
{
    exercise_ecdsa(P384, sizeof(P384), 96);
}
END_TEST

/* ---- AES-GCM, HMAC, digest, random ---- */

/* Run an encrypt or decrypt in parts of the given sizes (summing to len); returns the output
 * length. */
static CK_ULONG crypt_parts(CK_SESSION_HANDLE s, bool enc, const uint8_t *in, size_t len,
                            const size_t *parts, size_t nparts, uint8_t *out, size_t cap)
{
    CK_ULONG total = 0, l;
    size_t off = 0;
    for (size_t i = 0; i < nparts; i++) {
        l = cap - total;
        if (enc)
            OK(F->C_EncryptUpdate(s, (CK_BYTE_PTR)in + off, parts[i], out + total, &l));
        else
            OK(F->C_DecryptUpdate(s, (CK_BYTE_PTR)in + off, parts[i], out + total, &l));
        off += parts[i];
        total += l;
    }
    ck_assert_uint_eq(off, len);
    l = cap - total;
    if (enc)
        OK(F->C_EncryptFinal(s, out + total, &l));
    else
        OK(F->C_DecryptFinal(s, out + total, &l));
    return total + l;
}

START_TEST(test_aes_gcm_matches_openssl)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    uint8_t key[32], iv[12], aad[20], pt[100], ref[116], ct[200], back[200];
    static const size_t enc_parts[] = {33, 0, 67}, dec_parts[] = {50, 66};
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(i * 11 + 1);
    for (size_t i = 0; i < sizeof(iv); i++)
        iv[i] = (uint8_t)(0xA0 + i);
    for (size_t i = 0; i < sizeof(aad); i++)
        aad[i] = (uint8_t)(i ^ 0x5A);
    for (size_t i = 0; i < sizeof(pt); i++)
        pt[i] = (uint8_t)(i * 3);
    CK_GCM_PARAMS gp = {iv, sizeof(iv), 96, aad, sizeof(aad), 128};
    CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
    CK_OBJECT_HANDLE k = import_secret(s, &kt_aes, key, sizeof(key), CK_TRUE);
    ossl_gcm_encrypt(key, iv, aad, sizeof(aad), pt, sizeof(pt), ref);
    CK_ULONG len = 0;

    /* single-part, with a size query first */
    OK(F->C_EncryptInit(s, &m, k));
    OK(F->C_Encrypt(s, pt, sizeof(pt), NULL, &len));
    ck_assert_uint_eq(len, sizeof(ref));
    len = sizeof(ct);
    OK(F->C_Encrypt(s, pt, sizeof(pt), ct, &len));
    ck_assert_uint_eq(len, sizeof(ref));
    ck_assert_mem_eq(ct, ref, sizeof(ref));
    /* multi-part gives the same bytes */
    memset(ct, 0, sizeof(ct));
    OK(F->C_EncryptInit(s, &m, k));
    len = crypt_parts(s, true, pt, sizeof(pt), enc_parts, 3, ct, sizeof(ct));
    ck_assert_uint_eq(len, sizeof(ref));
    ck_assert_mem_eq(ct, ref, sizeof(ref));
    /* decryption, single and multi-part */
    OK(F->C_DecryptInit(s, &m, k));
    len = sizeof(back);
    OK(F->C_Decrypt(s, ref, sizeof(ref), back, &len));
    ck_assert_uint_eq(len, sizeof(pt));
    ck_assert_mem_eq(back, pt, sizeof(pt));
    memset(back, 0, sizeof(back));
    OK(F->C_DecryptInit(s, &m, k));
    len = crypt_parts(s, false, ref, sizeof(ref), dec_parts, 2, back, sizeof(back));
    ck_assert_uint_eq(len, sizeof(pt));
    ck_assert_mem_eq(back, pt, sizeof(pt));
    /* a changed ciphertext or AAD does not decrypt */
    ref[10] ^= 0x01;
    OK(F->C_DecryptInit(s, &m, k));
    len = sizeof(back);
    EXPECT_RV(CKR_ENCRYPTED_DATA_INVALID, F->C_Decrypt(s, ref, sizeof(ref), back, &len));
    ref[10] ^= 0x01;
    aad[0] ^= 0x01;
    OK(F->C_DecryptInit(s, &m, k));
    len = sizeof(back);
    EXPECT_RV(CKR_ENCRYPTED_DATA_INVALID, F->C_Decrypt(s, ref, sizeof(ref), back, &len));
    aad[0] ^= 0x01;
    /* a generated AES-256 key round-trips and is not the imported one */
    CK_MECHANISM gen = {CKM_AES_KEY_GEN, NULL, 0};
    CK_ULONG klen = 32;
    CK_ATTRIBUTE gt[] = {
        {CKA_VALUE_LEN, &klen, sizeof(klen)}, {CKA_ENCRYPT, &yes, 1}, {CKA_DECRYPT, &yes, 1}};
    CK_OBJECT_HANDLE k2;
    OK(F->C_GenerateKey(s, &gen, gt, 3, &k2));
    OK(F->C_EncryptInit(s, &m, k2));
    len = sizeof(ct);
    OK(F->C_Encrypt(s, pt, sizeof(pt), ct, &len));
    ck_assert_mem_ne(ct, ref, sizeof(ref));
    OK(F->C_DecryptInit(s, &m, k2));
    CK_ULONG blen = sizeof(back);
    OK(F->C_Decrypt(s, ct, len, back, &blen));
    ck_assert_mem_eq(back, pt, sizeof(pt));
    OK(F->C_DecryptInit(s, &m, k2));
    blen = sizeof(back);
    EXPECT_RV(CKR_ENCRYPTED_DATA_INVALID, F->C_Decrypt(s, ref, sizeof(ref), back, &blen));
    /* GCM without its parameters is refused */
    CK_MECHANISM noparam = {CKM_AES_GCM, NULL, 0};
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_EncryptInit(s, &noparam, k));
}
END_TEST

START_TEST(test_hmac_sha256_matches_openssl)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    uint8_t key[32], data[200], ref[32], mac[64];
    size_t reflen = 0;
    CK_ULONG len = sizeof(mac);
    CK_MECHANISM m = {CKM_SHA256_HMAC, NULL, 0};
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(0x0b + i);
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 5);
    ck_assert_ptr_nonnull(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, sizeof(key), data,
                                    sizeof(data), ref, sizeof(ref), &reflen));
    ck_assert_uint_eq(reflen, 32);
    CK_OBJECT_HANDLE k = import_secret(s, &kt_generic, key, sizeof(key), CK_TRUE);
    OK(F->C_SignInit(s, &m, k));
    OK(F->C_Sign(s, data, sizeof(data), mac, &len));
    ck_assert_uint_eq(len, 32);
    ck_assert_mem_eq(mac, ref, 32);
    memset(mac, 0, sizeof(mac));
    OK(F->C_SignInit(s, &m, k));
    OK(F->C_SignUpdate(s, data, 1));
    OK(F->C_SignUpdate(s, data + 1, 150));
    OK(F->C_SignUpdate(s, data + 151, sizeof(data) - 151));
    len = sizeof(mac);
    OK(F->C_SignFinal(s, mac, &len));
    ck_assert_uint_eq(len, 32);
    ck_assert_mem_eq(mac, ref, 32);
    check_verify(s, &m, k, data, sizeof(data), ref, 32);
    check_verify_multi(s, &m, k, data, sizeof(data), ref, 32);
}
END_TEST

START_TEST(test_digest_sha256_known_answers)
{
    static const char abc_hex[] =
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    static const char empty_hex[] =
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    uint8_t abc[32], empty[32], out[64];
    CK_MECHANISM m = {CKM_SHA256, NULL, 0};
    CK_SESSION_HANDLE s;
    CK_ULONG len;
    hex2bin(abc_hex, abc);
    hex2bin(empty_hex, empty);
    OK(F->C_Initialize(NULL));
    CK_SLOT_ID slot = make_token("digest");
    /* no login needed */
    OK(F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s));
    OK(F->C_DigestInit(s, &m));
    len = 0;
    OK(F->C_Digest(s, (CK_BYTE_PTR) "abc", 3, NULL, &len));
    ck_assert_uint_eq(len, 32);
    len = 31;
    EXPECT_RV(CKR_BUFFER_TOO_SMALL, F->C_Digest(s, (CK_BYTE_PTR) "abc", 3, out, &len));
    ck_assert_uint_eq(len, 32);
    len = sizeof(out);
    OK(F->C_Digest(s, (CK_BYTE_PTR) "abc", 3, out, &len)); /* still running after the query */
    ck_assert_uint_eq(len, 32);
    ck_assert_mem_eq(out, abc, 32);
    EXPECT_RV(CKR_OPERATION_NOT_INITIALIZED, F->C_Digest(s, (CK_BYTE_PTR) "abc", 3, out, &len));
    OK(F->C_DigestInit(s, &m));
    OK(F->C_DigestUpdate(s, (CK_BYTE_PTR) "a", 1));
    OK(F->C_DigestUpdate(s, (CK_BYTE_PTR) "bc", 2));
    len = sizeof(out);
    OK(F->C_DigestFinal(s, out, &len));
    ck_assert_uint_eq(len, 32);
    ck_assert_mem_eq(out, abc, 32);
    OK(F->C_DigestInit(s, &m));
    len = sizeof(out);
    OK(F->C_Digest(s, NULL, 0, out, &len));
    ck_assert_mem_eq(out, empty, 32);
    /* a digest with a parameter, or an unknown digest, is refused */
    CK_MECHANISM bad = {CKM_SHA256, out, 4};
    EXPECT_RV(CKR_MECHANISM_PARAM_INVALID, F->C_DigestInit(s, &bad));
    CK_MECHANISM md5 = {CKM_MD5, NULL, 0};
    EXPECT_RV(CKR_MECHANISM_INVALID, F->C_DigestInit(s, &md5));
}
END_TEST

START_TEST(test_random_is_not_constant)
{
    CK_SESSION_HANDLE s;
    uint8_t a[32], b[32], zero[32] = {0};
    OK(F->C_Initialize(NULL));
    CK_SLOT_ID slot = make_token("random");
    OK(F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s));
    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    OK(F->C_GenerateRandom(s, a, sizeof(a)));
    OK(F->C_GenerateRandom(s, b, sizeof(b)));
    ck_assert_mem_ne(a, zero, sizeof(a));
    ck_assert_mem_ne(b, zero, sizeof(b));
    ck_assert_mem_ne(a, b, sizeof(a));
    OK(F->C_GenerateRandom(s, a, 0));
    EXPECT_RV(CKR_SESSION_HANDLE_INVALID, F->C_GenerateRandom(s + 1000, a, sizeof(a)));
}
END_TEST

/* ---- objects ---- */

static CK_ULONG count_label(CK_SESSION_HANDLE s, const char *label)
{
    CK_OBJECT_HANDLE h;
    CK_ULONG n = 0;
    OK(p11_find_label(&M, s, CK_UNAVAILABLE_INFORMATION, label, &h, &n));
    return n;
}

START_TEST(test_data_objects_create_read_update_destroy)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s = user_session(&slot), pub_s;
    CK_BYTE buf[64];
    CK_OBJECT_CLASS cls = 0;
    CK_BBOOL tok = CK_FALSE;
    CK_OBJECT_HANDLE h = create_data(s, "doc", "first value", 11, CK_TRUE);
    CK_ATTRIBUTE a = {CKA_VALUE, NULL, 0};
    OK(F->C_GetAttributeValue(s, h, &a, 1));
    ck_assert_uint_eq(a.ulValueLen, 11);
    a.pValue = buf;
    a.ulValueLen = 5;
    EXPECT_RV(CKR_BUFFER_TOO_SMALL, F->C_GetAttributeValue(s, h, &a, 1));
    ck_assert_uint_eq(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    ck_assert_uint_eq(get_attr(s, h, CKA_VALUE, buf, sizeof(buf)), 11);
    ck_assert_mem_eq(buf, "first value", 11);
    ck_assert_uint_eq(get_attr(s, h, CKA_LABEL, buf, sizeof(buf)), 3);
    ck_assert_mem_eq(buf, "doc", 3);
    ck_assert_uint_eq(get_attr(s, h, CKA_APPLICATION, buf, sizeof(buf)), 9);
    ck_assert_mem_eq(buf, "check_p11", 9);
    get_attr(s, h, CKA_CLASS, &cls, sizeof(cls));
    ck_assert_uint_eq(cls, CKO_DATA);
    get_attr(s, h, CKA_TOKEN, &tok, 1);
    ck_assert_uint_eq(tok, CK_TRUE);
    /* update value and label together */
    CK_ATTRIBUTE upd[] = {{CKA_VALUE, "second, longer value", 20}, {CKA_LABEL, "doc2", 4}};
    OK(F->C_SetAttributeValue(s, h, upd, 2));
    ck_assert_uint_eq(get_attr(s, h, CKA_VALUE, buf, sizeof(buf)), 20);
    ck_assert_mem_eq(buf, "second, longer value", 20);
    ck_assert_uint_eq(count_label(s, "doc"), 0);
    ck_assert_uint_eq(count_label(s, "doc2"), 1);
    /* what cannot change is refused and nothing changes */
    CK_OBJECT_CLASS other = CKO_SECRET_KEY;
    CK_ATTRIBUTE ro[] = {{CKA_VALUE, "third", 5}, {CKA_CLASS, &other, sizeof(other)}};
    EXPECT_RV(CKR_ATTRIBUTE_READ_ONLY, F->C_SetAttributeValue(s, h, ro, 2));
    ck_assert_uint_eq(get_attr(s, h, CKA_VALUE, buf, sizeof(buf)), 20);
    CK_ATTRIBUTE unknown = {CKA_MODULUS, buf, 4};
    EXPECT_RV(CKR_ATTRIBUTE_TYPE_INVALID, F->C_GetAttributeValue(s, h, &unknown, 1));
    /* private: invisible without the user, visible again after login */
    CK_OBJECT_HANDLE pubh = create_data(s, "open", "public", 6, CK_FALSE);
    OK(F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &pub_s));
    OK(F->C_Logout(s));
    ck_assert_uint_eq(count_label(pub_s, "doc2"), 0);
    ck_assert_uint_eq(count_label(pub_s, "open"), 1);
    a.pValue = buf;
    a.ulValueLen = sizeof(buf);
    EXPECT_RV(CKR_OBJECT_HANDLE_INVALID, F->C_GetAttributeValue(pub_s, h, &a, 1));
    ck_assert_uint_eq(get_attr(pub_s, pubh, CKA_VALUE, buf, sizeof(buf)), 6);
    ck_assert_mem_eq(buf, "public", 6);
    OK(login(s, CKU_USER, P11_USER_PIN));
    ck_assert_uint_eq(count_label(pub_s, "doc2"), 1); /* login is per token, not per session */
    /* read-only sessions cannot destroy token objects */
    EXPECT_RV(CKR_SESSION_READ_ONLY, F->C_DestroyObject(pub_s, h));
    OK(F->C_DestroyObject(s, h));
    EXPECT_RV(CKR_OBJECT_HANDLE_INVALID, F->C_GetAttributeValue(s, h, &a, 1));
    EXPECT_RV(CKR_OBJECT_HANDLE_INVALID, F->C_DestroyObject(s, h));
    ck_assert_uint_eq(count_label(s, "doc2"), 0);
    ck_assert_uint_eq(count_label(s, "open"), 1);
}
END_TEST

START_TEST(test_secret_values_are_sensitive)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    CK_OBJECT_HANDLE pub, priv;
    uint8_t key[32], buf[128];
    memset(key, 0x42, sizeof(key));
    gen_ec(s, P256, sizeof(P256), "sens", &pub, &priv);
    CK_OBJECT_HANDLE aes = import_secret(s, &kt_aes, key, sizeof(key), CK_TRUE);
    CK_OBJECT_HANDLE open = import_secret(s, &kt_aes, key, sizeof(key), CK_FALSE);
    CK_OBJECT_HANDLE targets[] = {priv, aes};
    for (size_t i = 0; i < 2; i++) {
        CK_ATTRIBUTE t[] = {{CKA_VALUE, buf, sizeof(buf)}, {CKA_LABEL, buf + 64, 64}};
        memset(buf, 0, sizeof(buf));
        EXPECT_RV(CKR_ATTRIBUTE_SENSITIVE, F->C_GetAttributeValue(s, targets[i], t, 2));
        ck_assert_uint_eq(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
        ck_assert_uint_ne(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION); /* others still come */
        t[0].pValue = NULL;
        EXPECT_RV(CKR_ATTRIBUTE_SENSITIVE, F->C_GetAttributeValue(s, targets[i], t, 1));
        ck_assert_uint_eq(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
        uint8_t zero[64] = {0};
        ck_assert_mem_eq(buf, zero, 64); /* nothing leaked into the buffer */
    }
    /* CKA_SENSITIVE cannot be turned off again */
    CK_ATTRIBUTE off = {CKA_SENSITIVE, &no, 1};
    EXPECT_RV(CKR_ATTRIBUTE_READ_ONLY, F->C_SetAttributeValue(s, aes, &off, 1));
    /* the contrast: a non-sensitive, extractable key does show its value */
    ck_assert_uint_eq(get_attr(s, open, CKA_VALUE, buf, sizeof(buf)), 32);
    ck_assert_mem_eq(buf, key, 32);
    /* and the public half of a pair has nothing secret */
    CK_ATTRIBUTE v = {CKA_VALUE, buf, sizeof(buf)};
    EXPECT_RV(CKR_ATTRIBUTE_TYPE_INVALID, F->C_GetAttributeValue(s, pub, &v, 1));
}
END_TEST

START_TEST(test_objects_persist_across_reinitialize)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s = user_session(&slot);
    CK_OBJECT_HANDLE pub, priv, h;
    CK_ULONG n;
    uint8_t point1[160], point2[160], buf[64], d[32], sig[96];
    gen_ec(s, P256, sizeof(P256), "kept-key", &pub, &priv);
    create_data(s, "kept-data", "persistent", 10, CK_TRUE);
    CK_ULONG plen = get_attr(s, pub, CKA_EC_POINT, point1, sizeof(point1));
    OK(F->C_Finalize(NULL));
    OK(F->C_Initialize(NULL));
    OK(p11_user_session(&M, slot, NULL, &s));
    OK(p11_find_label(&M, s, CKO_DATA, "kept-data", &h, &n));
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(get_attr(s, h, CKA_VALUE, buf, sizeof(buf)), 10);
    ck_assert_mem_eq(buf, "persistent", 10);
    OK(p11_find_label(&M, s, CKO_PUBLIC_KEY, "kept-key", &pub, &n));
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(get_attr(s, pub, CKA_EC_POINT, point2, sizeof(point2)), plen);
    ck_assert_mem_eq(point1, point2, plen);
    OK(p11_find_label(&M, s, CKO_PRIVATE_KEY, "kept-key", &priv, &n));
    ck_assert_uint_eq(n, 1);
    /* the private key still signs, for the same public key */
    CK_MECHANISM m = {CKM_ECDSA, NULL, 0};
    CK_ULONG siglen = sizeof(sig);
    memset(d, 0x33, sizeof(d));
    OK(F->C_SignInit(s, &m, priv));
    OK(F->C_Sign(s, d, sizeof(d), sig, &siglen));
    EVP_PKEY *pk = pkey_of(s, pub);
    ck_assert(ossl_ecdsa_verify(pk, d, sizeof(d), sig, siglen));
    EVP_PKEY_free(pk);
}
END_TEST

START_TEST(test_find_by_label_among_1000_objects)
{
    CK_SESSION_HANDLE s = user_session(NULL);
    char label[32], val[32];
    CK_OBJECT_HANDLE h;
    CK_ULONG n;
    uint8_t buf[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(label, sizeof(label), "obj-%04d", i);
        snprintf(val, sizeof(val), "value %d", i);
        create_data(s, label, val, strlen(val), i % 2 == 0);
    }
    OK(p11_find_label(&M, s, CKO_DATA, "obj-0777", &h, &n));
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(get_attr(s, h, CKA_VALUE, buf, sizeof(buf)), 9);
    ck_assert_mem_eq(buf, "value 777", 9);
    OK(p11_find_label(&M, s, CKO_DATA, "obj-0000", &h, &n));
    ck_assert_uint_eq(n, 1);
    OK(p11_find_label(&M, s, CKO_DATA, "obj-1000", &h, &n));
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(h, CK_INVALID_HANDLE);
    OK(p11_find_label(&M, s, CKO_SECRET_KEY, "obj-0777", &h, &n)); /* class counts too */
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(count_objects(s), 1000);
    /* without the user only the 500 public ones remain */
    OK(F->C_Logout(s));
    ck_assert_uint_eq(count_objects(s), 500);
    OK(p11_find_label(&M, s, CKO_DATA, "obj-0777", &h, &n));
    ck_assert_uint_eq(n, 1); /* odd: public */
    OK(p11_find_label(&M, s, CKO_DATA, "obj-0778", &h, &n));
    ck_assert_uint_eq(n, 0);
}
END_TEST

/* ---- threads ---- */

#define WORK_ROUNDS 200

struct worker {
    pthread_t t;
    int id;
    CK_SLOT_ID slot;
    CK_OBJECT_HANDLE priv, pub, aes;
    int rounds;
    int *stop;
    char fail[600]; /* the first failure, empty if none */
};

#define WORKER_OK(w, call)                                                                         \
    do {                                                                                           \
        CK_RV r_ = (call);                                                                         \
        if (r_ != CKR_OK) {                                                                        \
            char b_[512];                                                                          \
            snprintf((w)->fail, sizeof((w)->fail), "%s: %s", #call,                                \
                     p11_explain(&M, r_, b_, sizeof(b_)));                                         \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

static void *sign_and_crypt(void *arg)
{
    struct worker *w = arg;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_MECHANISM ecdsa = {CKM_ECDSA_SHA256, NULL, 0};
    uint8_t iv[12] = {0}, msg[64], sig[64], ct[96], pt[96];
    CK_GCM_PARAMS gp = {iv, sizeof(iv), 96, NULL, 0, 128};
    CK_MECHANISM gcm = {CKM_AES_GCM, &gp, sizeof(gp)};
    WORKER_OK(w, F->C_OpenSession(w->slot, CKF_SERIAL_SESSION, NULL, NULL, &s));
    for (int i = 0; i < WORK_ROUNDS; i++) {
        int n = snprintf((char *)msg, sizeof(msg), "thread %d round %d", w->id, i);
        CK_ULONG siglen = sizeof(sig), ctlen = sizeof(ct), ptlen = sizeof(pt);
        WORKER_OK(w, F->C_SignInit(s, &ecdsa, w->priv));
        WORKER_OK(w, F->C_Sign(s, msg, (CK_ULONG)n, sig, &siglen));
        WORKER_OK(w, F->C_VerifyInit(s, &ecdsa, w->pub));
        WORKER_OK(w, F->C_Verify(s, msg, (CK_ULONG)n, sig, siglen));
        iv[0] = (uint8_t)w->id;
        iv[1] = (uint8_t)i;
        iv[2] = (uint8_t)(i >> 8);
        WORKER_OK(w, F->C_EncryptInit(s, &gcm, w->aes));
        WORKER_OK(w, F->C_Encrypt(s, msg, (CK_ULONG)n, ct, &ctlen));
        WORKER_OK(w, F->C_DecryptInit(s, &gcm, w->aes));
        WORKER_OK(w, F->C_Decrypt(s, ct, ctlen, pt, &ptlen));
        if (ptlen != (CK_ULONG)n || memcmp(pt, msg, (size_t)n) != 0) {
            snprintf(w->fail, sizeof(w->fail), "round %d: decryption gave other bytes", i);
            goto out;
        }
        w->rounds++;
    }
out:
    if (s != CK_INVALID_HANDLE)
        F->C_CloseSession(s);
    return NULL;
}

static void *create_and_destroy(void *arg)
{
    struct worker *w = arg;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    char label[32];
    WORKER_OK(w, F->C_OpenSession(w->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
    while (!__atomic_load_n(w->stop, __ATOMIC_ACQUIRE)) {
        CK_OBJECT_HANDLE h;
        snprintf(label, sizeof(label), "churn-%d", w->rounds);
        CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_data, sizeof(cls_data)},
                            {CKA_TOKEN, &yes, 1},
                            {CKA_PRIVATE, &yes, 1},
                            {CKA_LABEL, label, strlen(label)},
                            {CKA_VALUE, label, strlen(label)}};
        WORKER_OK(w, F->C_CreateObject(s, t, 5, &h));
        WORKER_OK(w, F->C_DestroyObject(s, h));
        __atomic_add_fetch(&w->rounds, 1, __ATOMIC_RELEASE);
    }
out:
    if (s != CK_INVALID_HANDLE)
        F->C_CloseSession(s);
    return NULL;
}

START_TEST(test_threads_sign_and_encrypt_while_objects_churn)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s = user_session(&slot); /* stays open: it holds the login */
    CK_OBJECT_HANDLE pub, priv;
    uint8_t key[32];
    int stop = 0;
    struct worker w[5];
    memset(key, 0x17, sizeof(key));
    memset(w, 0, sizeof(w));
    gen_ec(s, P256, sizeof(P256), "shared", &pub, &priv);
    CK_OBJECT_HANDLE aes = import_secret(s, &kt_aes, key, sizeof(key), CK_TRUE);
    CK_ULONG before = count_objects(s);
    for (int i = 0; i < 5; i++) {
        w[i] = (struct worker){
            .id = i, .slot = slot, .priv = priv, .pub = pub, .aes = aes, .stop = &stop};
    }
    ck_assert_int_eq(pthread_create(&w[4].t, NULL, create_and_destroy, &w[4]), 0);
    /* the workers start once the churn is under way, so that they really overlap */
    for (int i = 0; i < 10000 && __atomic_load_n(&w[4].rounds, __ATOMIC_ACQUIRE) == 0; i++)
        usleep(1000);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&w[i].t, NULL, sign_and_crypt, &w[i]), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_join(w[i].t, NULL), 0);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    ck_assert_int_eq(pthread_join(w[4].t, NULL), 0);
    for (int i = 0; i < 5; i++)
        ck_assert_msg(w[i].fail[0] == '\0', "thread %d: %s", i, w[i].fail);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(w[i].rounds, WORK_ROUNDS);
    ck_assert_int_gt(w[4].rounds, 0);
    ck_assert_uint_eq(count_objects(s), before);
}
END_TEST

/* ---- the suite ---- */

static Suite *p11_suite(void)
{
    Suite *su = suite_create("p11");
    TCase *tc = p11_tcase(su, "interfaces", 30);
    tcase_add_test(tc, test_function_lists_are_complete);
    tcase_add_test(tc, test_interface_list_offers_3_0_2_40_and_sea);
    tcase_add_test(tc, test_get_interface_defaults_to_3_0_and_is_not_fork_safe);
    tcase_add_test(tc, test_get_info_says_3_0);
    tc = p11_tcase(su, "init", 30);
    tcase_add_test(tc, test_every_function_needs_initialize);
    tcase_add_test(tc, test_initialize_checks_its_arguments);
    tc = p11_tcase(su, "args", 30);
    tcase_add_test(tc, test_null_pointers_are_arguments_bad);
    tcase_add_test(tc, test_unsupported_functions_say_so);
    tcase_add_test(tc, test_last_error_reports_origin_and_message);
    tc = p11_tcase(su, "tokens", 30);
    tcase_add_test(tc, test_fresh_store_has_one_free_slot);
    tcase_add_test(tc, test_init_token_takes_over_the_free_slot);
    tcase_add_test(tc, test_slot_ids_are_stable);
    tcase_add_test(tc, test_mechanisms_listed_with_their_info);
    tcase_add_test(tc, test_slot_event_after_init_token);
    tc = p11_tcase(su, "pins", 60);
    tcase_add_test(tc, test_wrong_pin_ten_times_locks_the_user_pin);
    tcase_add_test(tc, test_set_pin_changes_user_and_so_pins);
    tcase_add_test(tc, test_pin_length_is_checked);
    tc = p11_tcase(su, "crypto", 60);
    tcase_add_test(tc, test_ecdsa_p256_signatures_verify_with_openssl);
    tcase_add_test(tc, test_ecdsa_p384_signatures_verify_with_openssl);
    tcase_add_test(tc, test_aes_gcm_matches_openssl);
    tcase_add_test(tc, test_hmac_sha256_matches_openssl);
    tcase_add_test(tc, test_digest_sha256_known_answers);
    tcase_add_test(tc, test_random_is_not_constant);
    tc = p11_tcase(su, "objects", 120);
    tcase_add_test(tc, test_data_objects_create_read_update_destroy);
    tcase_add_test(tc, test_secret_values_are_sensitive);
    tcase_add_test(tc, test_objects_persist_across_reinitialize);
    tcase_add_test(tc, test_find_by_label_among_1000_objects);
    tc = p11_tcase(su, "threads", 120);
    tcase_add_test(tc, test_threads_sign_and_encrypt_while_objects_churn);
    return su;
}

int main(void)
{
    return p11_check_main("check_p11", &M, p11_suite);
}

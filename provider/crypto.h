/* libsea's own cryptography on OpenSSL 3: a private library context with only the default
 * provider, whose algorithms are called straight through their dispatch tables, never through
 * EVP_PKEY_CTX/EVP_MD_CTX/EVP_CIPHER_CTX (OpenSSL 3.0 still consults the host's ENGINE tables
 * there), and whose random generators are libsea's own, drawing from the kernel (getrandom)
 * rather than running AES through those tables. So an ENGINE or provider the host made its
 * default (OpenSSL's libp11 engine routes back into libsea) neither runs libsea's operations
 * nor changes its algorithms or random numbers; the few gaps OpenSSL 3.0 leaves inside the
 * default provider are listed in crypto.c.
 * Used by the core (digest sizes, PIN KDF helpers) and by software-style backends (soft, mock)
 * for key material and mechanism implementations. */
#ifndef SEA_CRYPTO_H
#define SEA_CRYPTO_H

#include <openssl/evp.h>

#include "attrs.h"
#include "backend.h"
#include "common.h"

/* Reference-counted process-wide setup: the private OSSL_LIB_CTX with the default provider.
 * crypto_init is cheap after the first call; crypto_fini frees at the last reference. */
CK_RV crypto_init(void);
void crypto_fini(void);
OSSL_LIB_CTX *crypto_libctx(void);

/* Set up OpenSSL's secure heap (CRYPTO_secure_malloc_init) once per process unless someone
 * already did; bytes == 0 leaves it off. Returns whether a secure heap is in use. */
bool crypto_secure_heap(size_t bytes);

/* Random bytes from the kernel, through the private context's generator (EVP_RAND) directly
 * (a RAND_METHOD set by an ENGINE is never used). */
CK_RV crypto_random(uint8_t *out, size_t len);

/* C_SeedRandom: mix a caller's seed into the generator as additional input (every later draw is
 * the kernel's bytes XOR a stream keyed by the seeds). Never replaces the kernel's entropy. */
CK_RV crypto_seed(const uint8_t *seed, size_t len);

/* ---- digests (CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384, CKM_SHA512) ---- */

size_t crypto_md_len(CK_MECHANISM_TYPE digest); /* 0 if unknown */

/* ---- store protection (used by stores, not by mechanisms) ---- */

/* PBKDF2-HMAC-SHA256(pin, salt, iter) -> out[outlen]. */
CK_RV crypto_pbkdf2(const uint8_t *pin, size_t pin_len, const uint8_t *salt, size_t salt_len,
                    unsigned iter, uint8_t *out, size_t outlen);

#define SEAL_OVERHEAD 28 /* 12-byte random nonce + 16-byte tag */

/* AES-256-GCM: out = nonce || ciphertext || tag, *outlen = ptlen + SEAL_OVERHEAD. */
CK_RV crypto_seal(const uint8_t key[32], const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                  size_t pt_len, uint8_t *out, size_t *outlen);
/* Inverse; CKR_ENCRYPTED_DATA_INVALID when the input is short or the tag does not verify
 * (wrong key, wrong AAD or tampering). *ptlen = inlen - SEAL_OVERHEAD. */
CK_RV crypto_open(const uint8_t key[32], const uint8_t *aad, size_t aad_len, const uint8_t *in,
                  size_t in_len, uint8_t *pt, size_t *pt_len);

/* ---- elliptic curves ---- */

/* The curve named by DER-encoded CKA_EC_PARAMS (namedCurve OID): its OpenSSL group name
 * ("prime256v1", "secp384r1", "secp521r1") and size in bits, or NULL if unsupported. */
const char *crypto_ec_curve(const uint8_t *der, size_t len, CK_ULONG *bits);

/* ---- key material of software-style backends ---- */

#define KEYMAT_SPARES 4

struct keymat {
    unsigned refs;
    CK_OBJECT_CLASS cls;
    CK_KEY_TYPE type;
    /* Asymmetric keys (private or public): the default provider's own key object and the
     * function that frees it; bits is the key size (the curve's). */
    void *keydata;
    void (*keydata_free)(void *keydata);
    size_t bits;
    uint8_t *secret; /* symmetric keys, in the secure heap */
    size_t secret_len;
    /* Per-key state kept between operations so that each C_xxxInit need not start from the key
     * (crypto.c, atomic; freed and wiped with the key): an idle AES-GCM context of the provider
     * keyed with `secret` per slot (one per thread that may use the key at once), and the HMAC
     * states after the padded key blocks. */
    void *spare_gcm[KEYMAT_SPARES];
    struct hmac *mac_start;
};

/* Build key material from an object's public attributes and its secret ones (NULL for public
 * keys). CKR_KEY_TYPE_INCONSISTENT / CKR_ATTRIBUTE_VALUE_INVALID / CKR_CURVE_NOT_SUPPORTED on
 * bad input. */
CK_RV keymat_from_attrs(const struct attrs *pub, const struct attrs *secret, struct keymat **out);
struct keymat *keymat_ref(struct keymat *k);
void keymat_unref(struct keymat *k); /* wipes the secret at zero */

/* Key generation. `priv` (secret key: class, CKK_AES/CKK_GENERIC_SECRET, CKA_VALUE_LEN) gets
 * CKA_VALUE (secret) and CKA_CHECK_VALUE for AES. For CKM_EC_KEY_PAIR_GEN, `pub` carries
 * CKA_EC_PARAMS; both get CKA_EC_POINT (DER OCTET STRING, uncompressed) and
 * CKA_PUBLIC_KEY_INFO (SubjectPublicKeyInfo DER); priv also gets CKA_EC_PARAMS and CKA_VALUE
 * (secret scalar, big-endian, field-size bytes). CKM_EC_EDWARDS_KEY_PAIR_GEN (Ed25519, `pub`
 * has CKA_EC_PARAMS: OID or "edwards25519") likewise, CKA_VALUE being the 32-byte seed.
 * CKM_RSA_PKCS_KEY_PAIR_GEN: `pub` has CKA_MODULUS_BITS (2048..4096, else CKR_KEY_SIZE_RANGE)
 * and optionally CKA_PUBLIC_EXPONENT (default 65537); both get CKA_MODULUS,
 * CKA_PUBLIC_EXPONENT and CKA_PUBLIC_KEY_INFO, priv the private and CRT parts (secret). */
CK_RV crypto_generate_key(const CK_MECHANISM *m, struct attrs *priv);
CK_RV crypto_generate_key_pair(const CK_MECHANISM *m, struct attrs *pub, struct attrs *priv);

/* Check imported material (C_CreateObject) and add derived public attributes: for an EC
 * private key, check the scalar is in range and add CKA_EC_POINT and CKA_PUBLIC_KEY_INFO; for
 * an EC public key, check the point is on the curve (accepting raw or DER-wrapped CKA_EC_POINT,
 * normalising to DER) and add CKA_PUBLIC_KEY_INFO; for AES, check 16/24/32 bytes and add
 * CKA_CHECK_VALUE. RSA: checks the parts belong together (CKA_PUBLIC_EXPONENT is required on
 * private keys too; the CRT parts all or none) and adds CKA_PUBLIC_KEY_INFO, and
 * CKA_MODULUS_BITS to a public key. Ed25519 (CKK_EC_EDWARDS): a 32-byte seed or public key
 * (raw or DER), adds CKA_EC_POINT (DER) and CKA_PUBLIC_KEY_INFO.
 * `a` holds the full template including secret values. */
CK_RV crypto_complete_import(struct attrs *a);

/* Parse a private key in PEM or DER (PKCS#8, SEC1, traditional; unencrypted) into the
 * attributes an imported key of that type has (pub: a CKO_PUBLIC_KEY set, priv: a
 * CKO_PRIVATE_KEY set with CKA_VALUE secret). Supported: EC on the curves above, RSA (two
 * primes) and Ed25519. */
CK_RV crypto_parse_private_key(const uint8_t *data, size_t len, struct attrs *pub,
                               struct attrs *priv);

/* A private key (its public attributes and its secret ones, as keymat_from_attrs takes them)
 * as DER PKCS#8 PrivateKeyInfo (RFC 5208), for wrapping: RSA (RFC 8017 A.1.2, needs the CRT
 * parts), Ed25519 (RFC 8410) and EC (RFC 5915, with the public key). *der is in the secure
 * heap, exactly *len bytes: free it with OPENSSL_secure_clear_free(*der, *len).
 * CKR_KEY_TYPE_INCONSISTENT for anything else. */
CK_RV crypto_private_key_pkcs8(const struct attrs *pub, const struct attrs *secret, uint8_t **der,
                               size_t *len);

/* ---- mechanisms on key material ---- */

struct cop;

/* Start an operation. Base mechanisms: CKM_ECDSA (sign/verify over a caller-supplied digest,
 * raw r||s signature), CKM_RSA_PKCS (sign/verify over a caller-made DigestInfo, encrypt/
 * decrypt), CKM_RSA_PKCS_PSS (input: the hash), CKM_RSA_PKCS_OAEP, CKM_EDDSA (Ed25519, the
 * whole message), CKM_AES_GCM (CK_GCM_PARAMS; encrypt streams, decrypt buffers until the
 * tag is verified), CKM_SHA256_HMAC (sign/verify), CKM_SHA_1/SHA224/SHA256/SHA384/SHA512 with
 * k == NULL and op == OP_DIGEST. CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID,
 * CKR_KEY_TYPE_INCONSISTENT, CKR_KEY_SIZE_RANGE on bad input. */
CK_RV cop_new(struct keymat *k, enum sea_op op, const CK_MECHANISM *m, struct cop **out);
size_t cop_outlen(struct cop *c, int phase, size_t inlen);
CK_RV cop_update(struct cop *c, const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen);
CK_RV cop_final(struct cop *c, const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen);
void cop_free(struct cop *c);
/* Start c again for mechanism m (the same mechanism type, key and operation kind) as cop_new
 * would, reusing what it holds: no allocation and no write to the key material in the usual
 * case. c may have finished, failed or still be running (it is abandoned). On failure c is
 * finished (any further step fails) and may only be freed. */
CK_RV cop_restart(struct cop *c, const CK_MECHANISM *m);

/* ---- wrapping formats and derivations (C_WrapKey, C_UnwrapKey, C_DeriveKey) ---- */

/* The bytes C_WrapKey encrypts for a key: a secret key's CKA_VALUE; a private key's PKCS#8
 * PrivateKeyInfo DER (crypto_private_key_pkcs8: RSA, Ed25519, EC). `pub` is the key's public
 * attribute set, `secret` its secret attributes. *out is in the secure
 * heap: free it with OPENSSL_secure_clear_free(*out, *len). CKR_KEY_NOT_WRAPPABLE for keys with
 * no wrapped form. */
CK_RV crypto_wrap_format(const struct attrs *pub, const struct attrs *secret, uint8_t **out,
                         size_t *len);

/* The inverse (C_UnwrapKey): give the complete template `a` (class and key type set) the key
 * in `in` (a private key through crypto_parse_private_key): its value attributes (secret) and
 * what crypto_complete_import adds. CKR_WRAPPED_KEY_LEN_RANGE
 * for a secret of a length the key type does not take, CKR_WRAPPED_KEY_INVALID for a private
 * key that does not parse, CKR_TEMPLATE_INCONSISTENT where the template contradicts the key. */
CK_RV crypto_unwrap_format(struct attrs *a, const uint8_t *in, size_t len);

/* C_DeriveKey from base key material: CKM_ECDH1_DERIVE (CK_ECDH1_DERIVE_PARAMS, CKD_NULL and
 * CKD_SHA1/224/256/384/512_KDF), CKM_HKDF_DERIVE and CKM_HKDF_DATA (CK_HKDF_PARAMS; `salt` is
 * the key material of hSaltKey for CKF_HKDF_SALT_KEY, else NULL), CKM_SP800_108_COUNTER_KDF
 * (CK_SP800_108_KDF_PARAMS, HMAC-SHA-1/2 or AES-CMAC PRF, no additional derived keys). `len`:
 * bytes to derive, 0 for the mechanism's own length (ECDH with CKD_NULL: the shared secret;
 * HKDF extract only: the hash size). `a` is the complete template of the new secret key or
 * data object; it gets CKA_VALUE (and for keys CKA_VALUE_LEN, CKA_CHECK_VALUE for AES).
 * CKR_MECHANISM_PARAM_INVALID for bad parameters (a peer point off the curve included),
 * CKR_TEMPLATE_INCOMPLETE when a length is needed and missing. */
CK_RV crypto_derive(struct keymat *base, const CK_MECHANISM *m, struct keymat *salt, size_t len,
                    struct attrs *a);

/* The mechanisms cop_new implements, as a backend declares them (soft and mock use this). */
extern const struct bmech crypto_mechs[];
extern const size_t crypto_nmechs;

#endif

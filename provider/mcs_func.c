/* The TS-0016 function resources over Mcs as JSON: <cipher> (<encrypt>, <decrypt>),
 * <signature>, <hash>, <rand>, <identity> (<authenticate>) and <secureConnection>
 * (<connectionInstance>). TS-0016's procedures for them were not reachable (digest G-1), so each
 * is run statelessly: a CREATE carries the inputs under the TS-0016 short names and the response
 * carries the outputs (doc/mcs-json.md, "Function resources"). Keys are named by reference (kDt:
 * a label or a PKCS#11 URI) and never travel in these documents. */
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "error.h"
#include "mcs.h"

#define RSC_CREATED   2001
#define RAND_MAX_SIZE 1024          /* Dsz: the most random bytes one request may ask for */
#define MBS_MAX       (1024 * 1024) /* mbs: a request body is at most 1 MiB anyway */
#define GCM_IV_MIN    12            /* iV: 96 bits (SP 800-38D 8.2; JWE's "iv") ... */
#define GCM_IV_MAX    64            /* ... up to 512 bits */
#define GCM_TAG       16            /* the 128-bit tag follows the ciphertext in cD */

/* ---- errors ---- */

static sea_rv fail_args(const char *res, const char *fmt, ...) SEA_PRINTF(2, 3);

static sea_rv fail_args(const char *res, const char *fmt, ...)
{
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    err_set(ORIGIN_API, CKR_ARGUMENTS_BAD, "m2m:%s: %s", res, what);
    return SEA_ERR_ARGS;
}

static sea_rv fail_unsup(const char *res, const char *what)
{
    err_set(ORIGIN_CORE, CKR_FUNCTION_NOT_SUPPORTED, "m2m:%s: %s", res, what);
    return SEA_ERR_UNSUPPORTED;
}

/* Prefix the error a native call left with the resource and the attribute it came from. */
static sea_rv about(sea_rv r, const char *res, const char *attr)
{
    if (r == SEA_OK)
        return r;
    struct err_rec e = *err_get();
    err_clear();
    err_set(e.origin ? e.origin : ORIGIN_CORE, e.rv ? e.rv : CKR_GENERAL_ERROR, "m2m:%s: %s: %s",
            res, attr, e.msg);
    return r;
}

/* ---- attribute tables ---- */

enum { A_MAND = 1u, A_OUT = 2u, A_UNSUP = 4u };

struct attr {
    const char *name; /* the TS-0016 Table 10.1-1 short name */
    json_type type;
    unsigned flags; /* A_MAND: mandatory; A_OUT: answered, never taken; A_UNSUP: not offered */
};

/* TS-0004 common attributes: set by the hosting CSE, never by a request. */
static const char *const read_only_common[] = {"ty", "ri", "pi", "ct", "lt", "cr", "st"};
/* Common attributes a stored resource would keep; the function resources are not stored. */
static const char *const stateless_common[] = {"acpi", "et", "lbl", "at", "aa", "daci"};

static bool in_list(const char *s, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, v[i]) == 0)
            return true;
    return false;
}

/* Every member of `in` must be a known attribute of the right JSON type that a request may
 * carry; every mandatory one must be there. */
static sea_rv check_attrs(const char *res, json_object *in, const struct attr *tab, size_t n)
{
    if (!in || !json_object_is_type(in, json_type_object))
        return fail_args(res, "the content is not a JSON object");
    json_object_object_foreach(in, key, val)
    {
        const struct attr *a = NULL;
        for (size_t i = 0; i < n && !a; i++)
            if (strcmp(key, tab[i].name) == 0)
                a = &tab[i];
        if (!a) {
            if (in_list(key, read_only_common, ARRAY_SIZE(read_only_common)))
                return fail_args(res, "'%s' is read-only: the SE sets it", key);
            if (in_list(key, stateless_common, ARRAY_SIZE(stateless_common)))
                return fail_args(res,
                                 "'%s' has no use: function resources are not stored, each "
                                 "request runs at once",
                                 key);
            return fail_args(res, "unknown attribute '%s'", key);
        }
        if (a->flags & A_UNSUP) {
            char msg[160];
            snprintf(msg, sizeof(msg),
                     "'%s' belongs to the SE-as-endpoint mode (<connectionInstance>), which no "
                     "libsea backend offers",
                     key);
            return fail_unsup(res, msg);
        }
        if (a->flags & A_OUT)
            return fail_args(res, "'%s' is an output of the SE, not an input", key);
        if (!json_object_is_type(val, a->type))
            return fail_args(res, "'%s' must be a JSON %s", key, json_type_to_name(a->type));
    }
    for (size_t i = 0; i < n; i++)
        if ((tab[i].flags & A_MAND) && !json_object_object_get_ex(in, tab[i].name, NULL))
            return fail_args(res, "the mandatory attribute '%s' is missing", tab[i].name);
    return SEA_OK;
}

static const char *get_str(json_object *in, const char *name)
{
    json_object *v;
    return json_object_object_get_ex(in, name, &v) ? json_object_get_string(v) : NULL;
}

/* An integer attribute in [lo, hi]; *present false if absent. */
static sea_rv get_int(const char *res, json_object *in, const char *name, int64_t lo, int64_t hi,
                      int64_t *out, bool *present)
{
    json_object *v;
    *present = json_object_object_get_ex(in, name, &v);
    if (!*present)
        return SEA_OK;
    errno = 0;
    int64_t x = json_object_get_int64(v);
    if (errno == 0 && x >= lo && x <= hi) {
        *out = x;
        return SEA_OK;
    }
    char range[64];
    snprintf(range, sizeof(range), "%lld..%lld", (long long)lo, (long long)hi);
    return fail_args(res, "'%s' must be an integer in %s", name, range);
}

/* A base64 attribute: *buf NULL if absent. */
static sea_rv get_b64(const char *res, json_object *in, const char *name, uint8_t **buf,
                      size_t *len)
{
    json_object *v;
    *buf = NULL;
    *len = 0;
    if (!json_object_object_get_ex(in, name, &v))
        return SEA_OK;
    /* the Mcs files' strict codec (mcs.c): whole quanta, padding only at the end, no stray bits */
    sea_rv r = mcs_b64_decode(json_object_get_string(v), (size_t)json_object_get_string_len(v),
                              name, buf, len);
    if (r == SEA_ERR_ARGS)
        return fail_args(res, "'%s' is not base64 (RFC 4648, with padding)", name);
    return r;
}

static void free_secret(uint8_t *p, size_t n)
{
    if (p) {
        sea_wipe(p, n);
        free(p);
    }
}

/* ---- building answers ---- */

/* Add a member; false (and v released) when v could not be made or added. */
static bool put(json_object *o, const char *key, json_object *v)
{
    if (!v)
        return false;
    if (json_object_object_add(o, key, v) != 0) {
        json_object_put(v);
        return false;
    }
    return true;
}

static bool put_str(json_object *o, const char *key, const char *s)
{
    return put(o, key, json_object_new_string(s));
}

static bool put_b64(json_object *o, const char *key, const uint8_t *p, size_t n)
{
    /* mcs_b64_string wipes its buffer: the value may be plaintext (cD of a decryption) */
    return put(o, key, mcs_b64_string(p, n));
}

static sea_rv no_memory(json_object **o)
{
    json_object_put(*o);
    *o = NULL;
    err_set(ORIGIN_API, CKR_HOST_MEMORY, "out of memory building the response");
    return SEA_ERR_NO_MEMORY;
}

/* What every handler checks first: a CREATE with a body. */
static sea_rv enter(const char *res, sea_se *se, const sea_mcs_request *req, json_object *in,
                    json_object **out, int *rsc)
{
    err_clear();
    if (!se || !req || !out || !rsc)
        return fail_args(res, "se, req, out or rsc is NULL");
    *out = NULL;
    if (req->op != SEA_MCS_CREATE)
        return fail_unsup(res, "only CREATE runs a function resource (it is not stored, so "
                               "there is nothing to retrieve, update or delete)");
    if (!in)
        return fail_args(res, "the request has no content");
    return SEA_OK;
}

/* ---- <hash> ---- */

static const struct {
    const char *name;
    sea_alg alg;
    size_t len;
} halgs[] = {
    {"SHA-256", SEA_ALG_SHA256, 32},
    {"SHA-384", SEA_ALG_SHA384, 48},
    {"SHA-512", SEA_ALG_SHA512, 64},
};

sea_rv mcs_hash(sea_se *se, const sea_mcs_request *req, json_object *in, json_object **out,
                int *rsc)
{
    static const char res[] = "hash";
    static const struct attr tab[] = {
        {"Halg", json_type_string, A_MAND},
        {"msg", json_type_string, A_MAND},
        {"Hv", json_type_string, A_OUT},
    };
    sea_rv r = enter(res, se, req, in, out, rsc);
    if (r == SEA_OK)
        r = check_attrs(res, in, tab, ARRAY_SIZE(tab));
    if (r != SEA_OK)
        return r;
    const char *halg = get_str(in, "Halg");
    size_t k = 0;
    while (k < ARRAY_SIZE(halgs) && strcmp(halgs[k].name, halg) != 0)
        k++;
    if (k == ARRAY_SIZE(halgs))
        return fail_args(res, "Halg '%s' is none of %s", halg, "SHA-256, SHA-384, SHA-512");
    uint8_t *msg = NULL, md[64];
    size_t msglen = 0, mdlen = sizeof(md);
    if ((r = get_b64(res, in, "msg", &msg, &msglen)) != SEA_OK)
        return r;
    r = about(sea_digest(se, halgs[k].alg, msg, msglen, md, &mdlen), res, "hashing");
    free_secret(msg, msglen);
    if (r != SEA_OK)
        return r;
    json_object *o = json_object_new_object();
    if (!o || !put_str(o, "Halg", halgs[k].name) || !put_b64(o, "Hv", md, mdlen))
        return no_memory(&o);
    *out = o;
    *rsc = RSC_CREATED;
    return SEA_OK;
}

/* ---- <rand> ---- */

sea_rv mcs_rand(sea_se *se, const sea_mcs_request *req, json_object *in, json_object **out,
                int *rsc)
{
    static const char res[] = "rand";
    static const struct attr tab[] = {
        {"rgT", json_type_string, 0},
        {"Dsz", json_type_int, A_MAND},
        {"rndD", json_type_string, A_OUT},
    };
    sea_rv r = enter(res, se, req, in, out, rsc);
    if (r == SEA_OK)
        r = check_attrs(res, in, tab, ARRAY_SIZE(tab));
    if (r != SEA_OK)
        return r;
    const char *rgt = get_str(in, "rgT");
    if (rgt && strcmp(rgt, "DRBG") != 0)
        return fail_args(res, "rgT '%s' is not offered: libsea's SEs have one generator, %s", rgt,
                         "\"DRBG\"");
    int64_t dsz = 0;
    bool have;
    if ((r = get_int(res, in, "Dsz", 1, RAND_MAX_SIZE, &dsz, &have)) != SEA_OK)
        return r;
    uint8_t buf[RAND_MAX_SIZE];
    if ((r = about(sea_random(se, buf, (size_t)dsz), res, "drawing random bytes")) != SEA_OK)
        return r;
    json_object *o = json_object_new_object();
    bool ok = o && put_str(o, "rgT", "DRBG") && put(o, "Dsz", json_object_new_int64(dsz)) &&
              put_b64(o, "rndD", buf, (size_t)dsz);
    sea_wipe(buf, sizeof(buf));
    if (!ok)
        return no_memory(&o);
    *out = o;
    *rsc = RSC_CREATED;
    return SEA_OK;
}

/* ---- <signature> ---- */

static const struct {
    const char *name; /* JWS "alg" (RFC 7518 section 3.1, RFC 8037) */
    sea_alg alg;
    bool secret; /* the key is a secret key (MAC) */
} salgs[] = {
    {"ES256", SEA_ALG_ECDSA_SHA256, false},     {"ES384", SEA_ALG_ECDSA_SHA384, false},
    {"HS256", SEA_ALG_HMAC_SHA256, true},       {"PS256", SEA_ALG_RSA_PSS_SHA256, false},
    {"RS256", SEA_ALG_RSA_PKCS1_SHA256, false}, {"EdDSA", SEA_ALG_ED25519, false},
};

/* The public key that verifies for a kDt naming a key pair (either of its halves). */
static sea_rv verifying_key(sea_se *se, const char *kdt, sea_obj *key)
{
    sea_rv r = sea_object_find(se, kdt, SEA_CLASS_PUBLIC_KEY, key);
    if (r != SEA_ERR_NOT_FOUND)
        return r;
    struct err_rec saved = *err_get();
    sea_obj priv;
    sea_object_info oi;
    if (sea_object_find(se, kdt, SEA_CLASS_PRIVATE_KEY, &priv) == SEA_OK &&
        sea_object_info_get(se, priv, &oi) == SEA_OK &&
        sea_object_find(se, oi.label, SEA_CLASS_PUBLIC_KEY, key) == SEA_OK)
        return SEA_OK;
    err_clear();
    err_set(saved.origin, saved.rv, "%s", saved.msg);
    return SEA_ERR_NOT_FOUND;
}

sea_rv mcs_signature(sea_se *se, const sea_mcs_request *req, json_object *in, json_object **out,
                     int *rsc)
{
    static const char res[] = "signature";
    static const struct attr tab[] = {
        {"Salg", json_type_string, A_MAND}, {"kDt", json_type_string, A_MAND},
        {"msg", json_type_string, A_MAND},  {"Sgn", json_type_string, 0},
        {"kInf", json_type_string, A_OUT},  {"vR", json_type_boolean, A_OUT},
    };
    sea_rv r = enter(res, se, req, in, out, rsc);
    if (r == SEA_OK)
        r = check_attrs(res, in, tab, ARRAY_SIZE(tab));
    if (r != SEA_OK)
        return r;
    const char *salg = get_str(in, "Salg"), *kdt = get_str(in, "kDt");
    size_t k = 0;
    while (k < ARRAY_SIZE(salgs) && strcmp(salgs[k].name, salg) != 0)
        k++;
    if (k == ARRAY_SIZE(salgs))
        return fail_args(res, "Salg '%s' is none of %s", salg,
                         "ES256, ES384, HS256, PS256, RS256, "
                         "EdDSA");
    uint8_t *msg = NULL, *sgn = NULL, *sig = NULL;
    size_t msglen = 0, sgnlen = 0, siglen = 0;
    json_object *o = NULL;
    sea_obj key = 0;
    if ((r = get_b64(res, in, "msg", &msg, &msglen)) != SEA_OK ||
        (r = get_b64(res, in, "Sgn", &sgn, &sgnlen)) != SEA_OK)
        goto out;
    bool verify = sgn != NULL;
    if (salgs[k].secret)
        r = sea_object_find(se, kdt, SEA_CLASS_SECRET_KEY, &key);
    else if (verify)
        r = verifying_key(se, kdt, &key);
    else
        r = sea_object_find(se, kdt, SEA_CLASS_PRIVATE_KEY, &key);
    if ((r = about(r, res, "kDt")) != SEA_OK)
        goto out;
    o = json_object_new_object();
    if (!o || !put_str(o, "Salg", salgs[k].name) || !put_str(o, "kDt", kdt))
        goto nomem;
    if (verify) {
        r = sea_verify(se, key, salgs[k].alg, msg, msglen, sgn, sgnlen);
        if (r != SEA_OK && r != SEA_ERR_SIGNATURE_INVALID) {
            r = about(r, res, "verifying");
            goto out;
        }
        bool good = r == SEA_OK;
        err_clear(); /* a bad signature is an answer, not an error */
        r = SEA_OK;
        if (!put(o, "vR", json_object_new_boolean(good)))
            goto nomem;
    } else {
        if ((r = about(sea_sign(se, key, salgs[k].alg, msg, msglen, NULL, &siglen), res,
                       "signing")) != SEA_OK)
            goto out;
        if (!(sig = malloc(siglen ? siglen : 1)))
            goto nomem;
        if ((r = about(sea_sign(se, key, salgs[k].alg, msg, msglen, sig, &siglen), res,
                       "signing")) != SEA_OK)
            goto out;
        if (!put_b64(o, "Sgn", sig, siglen))
            goto nomem;
        if (!salgs[k].secret) {
            /* keyInformation: the public key that verifies, so the receiver needs no lookup */
            uint8_t spki[2048];
            size_t spkilen = sizeof(spki);
            if ((r = about(sea_public_key(se, key, spki, &spkilen), res, "kInf")) != SEA_OK)
                goto out;
            if (!put_b64(o, "kInf", spki, spkilen))
                goto nomem;
        }
    }
    *out = o;
    o = NULL;
    *rsc = RSC_CREATED;
    goto out;
nomem:
    r = no_memory(&o);
out:
    json_object_put(o);
    free_secret(msg, msglen);
    free(sgn);
    free(sig);
    return r;
}

/* ---- <cipher>, <encrypt>, <decrypt> ---- */

static const struct {
    const char *name; /* JWE "enc" (RFC 7518 section 5.1) */
    unsigned bits;
} calgs[] = {{"A128GCM", 128}, {"A192GCM", 192}, {"A256GCM", 256}};

sea_rv mcs_cipher(sea_se *se, const sea_mcs_request *req, json_object *in, json_object **out,
                  int *rsc)
{
    const char *res = req && req->resource_type ? req->resource_type : "cipher";
    static const struct attr tab[] = {
        {"Calg", json_type_string, A_MAND}, {"kDt", json_type_string, A_MAND},
        {"mbs", json_type_int, 0},          {"msg", json_type_string, 0},
        {"cbs", json_type_int, 0},          {"iV", json_type_string, 0},
        {"nc", json_type_string, 0},        {"aD", json_type_string, 0},
        {"Clab", json_type_string, 0},      {"cD", json_type_string, A_OUT},
    };
    sea_rv r = enter(res, se, req, in, out, rsc);
    if (r != SEA_OK)
        return r;
    int op = strcmp(res, "encrypt") == 0 ? 1 : strcmp(res, "decrypt") == 0 ? 2 : 0;
    if (!op && strcmp(res, "cipher") != 0)
        return fail_args(res,
                         "the cipher handler runs m2m:cipher, m2m:encrypt or m2m:decrypt, "
                         "not m2m:%s",
                         res);
    if ((r = check_attrs(res, in, tab, ARRAY_SIZE(tab))) != SEA_OK)
        return r;
    const char *calg = get_str(in, "Calg"), *kdt = get_str(in, "kDt");
    size_t k = 0;
    while (k < ARRAY_SIZE(calgs) && strcmp(calgs[k].name, calg) != 0)
        k++;
    if (k == ARRAY_SIZE(calgs))
        return fail_args(res, "Calg '%s' is none of %s", calg, "A128GCM, A192GCM, A256GCM");
    if (json_object_object_get_ex(in, "nc", NULL))
        return fail_args(res, "'nc': AES-GCM takes its nonce as the initialVector 'iV' (as JWE's "
                              "\"iv\")");
    if (json_object_object_get_ex(in, "Clab", NULL))
        return fail_args(res, "'Clab' (label) has no use with %s", calg);
    int64_t mbs = MBS_MAX, cbs = 0;
    bool have_mbs, have_cbs;
    if ((r = get_int(res, in, "mbs", 1, MBS_MAX, &mbs, &have_mbs)) != SEA_OK ||
        (r = get_int(res, in, "cbs", 0, MBS_MAX, &cbs, &have_cbs)) != SEA_OK)
        return r;
    bool have_msg = json_object_object_get_ex(in, "msg", NULL);
    if (!op && (have_msg || have_cbs || json_object_object_get_ex(in, "iV", NULL) ||
                json_object_object_get_ex(in, "aD", NULL)))
        return fail_args(res, "m2m:cipher only checks the key and algorithm: send the data to "
                              "m2m:encrypt or m2m:decrypt");
    if (op && !have_msg)
        return fail_args(res, "the mandatory attribute '%s' is missing", "msg");
    sea_obj key = 0;
    sea_object_info oi;
    if ((r = about(sea_object_find(se, kdt, SEA_CLASS_SECRET_KEY, &key), res, "kDt")) != SEA_OK ||
        (r = about(sea_object_info_get(se, key, &oi), res, "kDt")) != SEA_OK)
        return r;
    if (oi.key_type != SEA_KEY_AES || oi.bits != calgs[k].bits) {
        char want[64];
        snprintf(want, sizeof(want), "a %u-bit AES key", calgs[k].bits);
        return fail_args(res, "'kDt' does not name %s, as %s needs", want, calg);
    }
    json_object *o = NULL;
    uint8_t *msg = NULL, *iv = NULL, *aad = NULL, *cd = NULL;
    size_t msglen = 0, ivlen = 0, aadlen = 0, cdlen = 0;
    if (op == 1 && json_object_object_get_ex(in, "iV", NULL))
        /* a caller's IV could repeat a GCM nonce under the key: the SE draws every IV */
        return fail_args(res, "'iV': the SE draws the IV of an encryption and returns it; "
                              "only m2m:decrypt takes one");
    if (op) {
        if ((r = get_b64(res, in, "msg", &msg, &msglen)) != SEA_OK ||
            (r = get_b64(res, in, "iV", &iv, &ivlen)) != SEA_OK ||
            (r = get_b64(res, in, "aD", &aad, &aadlen)) != SEA_OK)
            goto out;
        char n[32];
        snprintf(n, sizeof(n), "%zu", msglen);
        if (have_cbs && (size_t)cbs != msglen) {
            r = fail_args(res, "'cbs' is not the size of 'msg' (%s bytes)", n);
            goto out;
        }
        if (msglen > (size_t)mbs) {
            r = fail_args(res, "'msg' has %s bytes, more than 'mbs' allows", n);
            goto out;
        }
        if (iv && (ivlen < GCM_IV_MIN || ivlen > GCM_IV_MAX)) {
            r = fail_args(res, "'iV' has 12 to 64 bytes (12 recommended)");
            goto out;
        }
        if (op == 2 && !iv) {
            r = fail_args(res, "decryption needs the 'iV' the encryption used");
            goto out;
        }
        if (op == 2 && msglen < GCM_TAG) {
            r = fail_args(res, "'msg' is shorter than the 16-byte tag");
            goto out;
        }
        if (!iv) {
            /* a fresh 96-bit IV from the SE, returned with the ciphertext */
            ivlen = GCM_IV_MIN;
            if (!(iv = malloc(ivlen)))
                goto nomem;
            if ((r = about(sea_random(se, iv, ivlen), res, "iV")) != SEA_OK)
                goto out;
        }
        sea_aead aead = {iv, ivlen, aad, aadlen, 0};
        cdlen = msglen + GCM_TAG;
        if (!(cd = malloc(cdlen)))
            goto nomem;
        if (op == 1)
            r = sea_encrypt(se, key, SEA_ALG_AES_GCM, &aead, msg, msglen, cd, &cdlen);
        else
            r = sea_decrypt(se, key, SEA_ALG_AES_GCM, &aead, msg, msglen, cd, &cdlen);
        if ((r = about(r, res, op == 1 ? "encrypting" : "decrypting")) != SEA_OK)
            goto out;
    }
    o = json_object_new_object();
    if (!o || !put_str(o, "Calg", calg) || !put_str(o, "kDt", kdt))
        goto nomem;
    if (have_mbs && !put(o, "mbs", json_object_new_int64(mbs)))
        goto nomem;
    if (op &&
        (!put_b64(o, "cD", cd, cdlen) || !put(o, "cbs", json_object_new_int64((int64_t)cdlen))))
        goto nomem;
    if (op == 1 && !put_b64(o, "iV", iv, ivlen))
        goto nomem;
    *out = o;
    o = NULL;
    *rsc = RSC_CREATED;
    goto out;
nomem:
    r = no_memory(&o);
out:
    json_object_put(o);
    free_secret(msg, msglen);
    free_secret(cd, cdlen);
    free(iv);
    free(aad);
    return r;
}

/* ---- <identity>, <authenticate> ---- */

static bool put_identity(json_object *o, const sea_identity_info *id)
{
    return put_str(o, "idN", id->id_name) && put_str(o, "idDt", id->id_data) &&
           put_str(o, "kDt", id->key_uri);
}

sea_rv mcs_identity(sea_se *se, const sea_mcs_request *req, json_object *in, json_object **out,
                    int *rsc)
{
    const char *res = req && req->resource_type ? req->resource_type : "identity";
    static const struct attr tab[] = {
        {"idN", json_type_string, A_MAND}, {"rAD", json_type_string, 0},
        {"idDt", json_type_string, A_OUT}, {"kDt", json_type_string, A_OUT},
        {"oAD", json_type_string, A_OUT},
    };
    sea_rv r = enter(res, se, req, in, out, rsc);
    if (r != SEA_OK)
        return r;
    bool auth_only = strcmp(res, "authenticate") == 0;
    if (!auth_only && strcmp(res, "identity") != 0)
        return fail_args(res,
                         "the identity handler runs m2m:identity or m2m:authenticate, "
                         "not m2m:%s",
                         res);
    if ((r = check_attrs(res, in, tab, ARRAY_SIZE(tab))) != SEA_OK)
        return r;
    const char *idn = get_str(in, "idN");
    uint8_t *rad = NULL, *oad = NULL;
    size_t radlen = 0, oadlen = 0;
    json_object *o = NULL;
    sea_identity_info id;
    if ((r = get_b64(res, in, "rAD", &rad, &radlen)) != SEA_OK)
        goto out;
    if (auth_only && !rad) {
        r = fail_args(res, "the mandatory attribute '%s' is missing", "rAD");
        goto out;
    }
    if (!rad) {
        if ((r = about(sea_identity_create(se, idn, SEA_KEY_EC_P256, &id), res, "idN")) != SEA_OK)
            goto out;
    } else {
        if ((r = about(sea_identity_get(se, idn, &id), res, "idN")) != SEA_OK)
            goto out;
        if ((r = about(sea_identity_authenticate(se, idn, rad, radlen, NULL, &oadlen), res,
                       "rAD")) != SEA_OK)
            goto out;
        if (!(oad = malloc(oadlen ? oadlen : 1)))
            goto nomem;
        if ((r = about(sea_identity_authenticate(se, idn, rad, radlen, oad, &oadlen), res,
                       "rAD")) != SEA_OK)
            goto out;
    }
    o = json_object_new_object();
    if (!o || !put_identity(o, &id) || (oad && !put_b64(o, "oAD", oad, oadlen)))
        goto nomem;
    *out = o;
    o = NULL;
    *rsc = RSC_CREATED;
    goto out;
nomem:
    r = no_memory(&o);
out:
    json_object_put(o);
    free(rad);
    free(oad);
    return r;
}

/* ---- <secureConnection>, <connectionInstance> ---- */

sea_rv mcs_secure_connection(sea_se *se, const sea_mcs_request *req, json_object *in,
                             json_object **out, int *rsc)
{
    const char *res = req && req->resource_type ? req->resource_type : "secureConnection";
    static const struct attr tab[] = {
        {"cnT", json_type_string, A_MAND},  {"aCS", json_type_string, A_MAND},
        {"mni", json_type_int, 0},          {"rn", json_type_string, 0},
        {"kDt", json_type_string, A_OUT},   {"kInf", json_type_string, A_OUT},
        {"cni", json_type_int, A_OUT},      {"dst", json_type_string, A_UNSUP},
        {"oD", json_type_string, A_UNSUP},  {"iD", json_type_string, A_UNSUP},
        {"ngK", json_type_string, A_UNSUP}, {"ngCS", json_type_string, A_UNSUP},
    };
    if (req && req->resource_type && strcmp(req->resource_type, "connectionInstance") == 0) {
        err_clear();
        if (out)
            *out = NULL;
        return fail_unsup(res, "the SE-as-endpoint mode (the SE running the connection itself) "
                               "is not offered by any libsea backend: create m2m:secureConnection "
                               "for key material and run the connection in the caller's TLS "
                               "stack");
    }
    sea_rv r = enter(res, se, req, in, out, rsc);
    if (r != SEA_OK)
        return r;
    if (strcmp(res, "secureConnection") != 0)
        return fail_args(res,
                         "the secureConnection handler runs m2m:secureConnection, not "
                         "m2m:%s",
                         res);
    if ((r = check_attrs(res, in, tab, ARRAY_SIZE(tab))) != SEA_OK)
        return r;
    const char *cnt = get_str(in, "cnT"), *acs = get_str(in, "aCS"), *rn = get_str(in, "rn");
    if (strcmp(cnt, "TLS") != 0 && strcmp(cnt, "DTLS") != 0)
        return fail_args(res, "cnT '%s' is neither %s", cnt, "\"TLS\" nor \"DTLS\"");
    int64_t mni = 0;
    bool have_mni;
    if ((r = get_int(res, in, "mni", 0, INT32_MAX, &mni, &have_mni)) != SEA_OK)
        return r;
    char label[64];
    if (!rn) {
        /* no resourceName: a label no other key has, from the SE's generator */
        uint8_t rnd[8];
        if ((r = about(sea_random(se, rnd, sizeof(rnd)), res, "rn")) != SEA_OK)
            return r;
        int n = snprintf(label, sizeof(label), "secureConnection-");
        for (size_t i = 0; i < sizeof(rnd); i++)
            n += snprintf(label + n, sizeof(label) - (size_t)n, "%02x", rnd[i]);
        rn = label;
    }
    sea_conn_key_info ki;
    r = sea_secure_connection_generate_key(se, cnt, acs, rn, &ki);
    if (r != SEA_OK) /* an unsupported suite is the fault of aCS */
        return about(r, res, r == SEA_ERR_UNSUPPORTED ? "aCS" : "generating the key");
    json_object *o = json_object_new_object();
    if (!o || !put_str(o, "cnT", cnt) || !put_str(o, "aCS", acs) || !put_str(o, "rn", rn) ||
        !put_str(o, "kDt", ki.key_uri) || !put(o, "cni", json_object_new_int64(0)) ||
        (have_mni && !put(o, "mni", json_object_new_int64(mni)))) {
        r = no_memory(&o);
        goto undo;
    }
    if (ki.pub) {
        uint8_t spki[512];
        size_t spkilen = sizeof(spki);
        if ((r = about(sea_public_key(se, ki.pub, spki, &spkilen), res, "kInf")) != SEA_OK)
            goto undo;
        if (!put_b64(o, "kInf", spki, spkilen)) {
            r = no_memory(&o);
            goto undo;
        }
    }
    *out = o;
    *rsc = RSC_CREATED;
    return SEA_OK;
undo:
    /* no answer, no key: the caller could never learn the key's name */
    json_object_put(o);
    {
        struct err_rec saved = *err_get();
        sea_object_destroy(se, ki.key);
        if (ki.pub)
            sea_object_destroy(se, ki.pub);
        err_clear();
        err_set(saved.origin, saved.rv, "%s", saved.msg);
    }
    return r;
}

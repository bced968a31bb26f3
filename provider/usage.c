/* Usage constraints (TS-0003 3.1, 8.2.2.3, 8.3.5; TS-0004 m2m:suid) and key lifetime
 * (CKA_START_DATE, CKA_END_DATE; TS-0003 10.7). PKCS#11 calls the dates informational; a oneM2M
 * SE refuses a key outside them. doc/usage-constraints.md explains each rule. */
#include <stdio.h>
#include <time.h>

#include "error.h"
#include "mech.h"
#include "usage.h"

/* The security features the second digit of an SUID names (TS-0004 6.3.4.2.39). */
enum feature { F_MEF, F_MAF, F_SAEF, F_ESPRIM, F_ESDATA_ENC, F_ESDATA_SIG, F__COUNT };

static const char *const feature_names[F__COUNT] = {
    "MEF ((D)TLS with the MEF)",
    "MAF ((D)TLS with the MAF)",
    "SAEF ((D)TLS security association)",
    "ESPrim",
    "ESData encryption",
    "ESData signature-only",
};

/* What the mechanism does with the key, as far as the features differ on it. */
enum kind {
    K_MAC,         /* HMAC, CMAC: a symmetric signature */
    K_ASYM_SIG,    /* RSA, ECDSA, EdDSA signatures */
    K_GCM,         /* AES-GCM (the ESPrim and ESData content encryption) */
    K_CIPHER,      /* any other encryption or key wrap, AES or RSA */
    K_ECDH,        /* key agreement */
    K_KE2E_MASTER, /* Ke2e_master from Kpsa (10.3.6.1) */
    K_KE2E_KEY,    /* the E2E keys from Ke2e_master (10.3.6.2), which keeps Kpsa's SUID */
    K_ESPRIM,      /* sessionESPrimKey from the pairwise ESPrim key (10.3.8) */
    K_KDF,         /* any other derivation (from Ke, generic HKDF, SP 800-108) */
    K_PSK,         /* release as a TLS pre-shared key */
};

static bool asymmetric(const struct attrs *key)
{
    CK_OBJECT_CLASS cls = attrs_get_ulong(key, CKA_CLASS, CK_UNAVAILABLE_INFORMATION);
    CK_KEY_TYPE kt = attrs_get_ulong(key, CKA_KEY_TYPE, CK_UNAVAILABLE_INFORMATION);
    return cls == CKO_PRIVATE_KEY || cls == CKO_PUBLIC_KEY || kt == CKK_RSA || kt == CKK_EC ||
           kt == CKK_EC_EDWARDS;
}

static enum kind kind_of(const struct attrs *key, enum usage_op op, CK_MECHANISM_TYPE mech)
{
    switch (op) {
    case USE_SIGN:
    case USE_VERIFY:
        return asymmetric(key) ? K_ASYM_SIG : K_MAC;
    case USE_ENCRYPT:
    case USE_DECRYPT:
        return mech == CKM_AES_GCM ? K_GCM : K_CIPHER;
    case USE_WRAP:
    case USE_UNWRAP:
        return K_CIPHER;
    case USE_DERIVE:
        if (mech == CKM_ECDH1_DERIVE || mech == CKM_ECDH1_COFACTOR_DERIVE)
            return K_ECDH;
        if (mech == CKM_SEA_ONEM2M_KE2E_MASTER)
            return K_KE2E_MASTER;
        if (mech == CKM_SEA_ONEM2M_KE2E_KEY)
            return K_KE2E_KEY;
        if (mech == CKM_SEA_ONEM2M_SESSION_ESPRIM)
            return K_ESPRIM;
        return K_KDF;
    default:
        return K_PSK;
    }
}

/* Does feature f allow this use? The (D)TLS frameworks: their own PSK, certificate
 * authentication and ECDH; SAEF also Ke2e_master from Kpsa and the E2E keys from Ke2e_master
 * (which inherits Kpsa's SAEF SUID). ESPrim: its session key
 * derivation, the AES-GCM that key does, ESCertKE signatures and ECDH. ESData encryption: any
 * encryption and key wrap, and ECDH. ESData signature-only: any signature. */
static bool allows(enum feature f, enum usage_op op, enum kind k)
{
    bool sign = op == USE_SIGN || op == USE_VERIFY;
    bool crypt = op == USE_ENCRYPT || op == USE_DECRYPT;
    switch (f) {
    case F_MEF:
    case F_MAF:
    case F_SAEF:
        if (k == K_PSK)
            return (f == F_MEF && op == USE_PSK_MEF) || (f == F_MAF && op == USE_PSK_MAF) ||
                   (f == F_SAEF && op == USE_PSK_SAEF);
        return (sign && k == K_ASYM_SIG) || k == K_ECDH ||
               (f == F_SAEF && (k == K_KE2E_MASTER || k == K_KE2E_KEY));
    case F_ESPRIM:
        return k == K_ESPRIM || k == K_ECDH || (crypt && k == K_GCM) || (sign && k == K_ASYM_SIG);
    case F_ESDATA_ENC:
        return crypt || op == USE_WRAP || op == USE_UNWRAP || k == K_ECDH;
    case F_ESDATA_SIG:
        return sign;
    default:
        return false;
    }
}

static const char *use_words(enum usage_op op)
{
    static const char *const w[] = {"encryption",
                                    "decryption",
                                    "signing",
                                    "verification",
                                    "wrapping",
                                    "unwrapping",
                                    "derivation",
                                    "release as a MEF TLS-PSK",
                                    "release as a MAF TLS-PSK",
                                    "release as a SAEF TLS-PSK"};
    return (size_t)op < ARRAY_SIZE(w) ? w[op] : "use";
}

/* "ESPrim or ESData encryption": the features that would allow the use. */
static void served_by(enum usage_op op, enum kind k, char *buf, size_t n)
{
    size_t used = 0;
    int count = 0;
    buf[0] = '\0';
    for (int f = 0; f < F__COUNT; f++) {
        if (!allows((enum feature)f, op, k))
            continue;
        int w = snprintf(buf + used, n - used, "%s%s", count ? " or " : "", feature_names[f]);
        if (w < 0 || (size_t)w >= n - used)
            break;
        used += (size_t)w;
        count++;
    }
    if (!count)
        snprintf(buf, n, "no oneM2M security feature (only a key without SUID may do it)");
}

/* ---- dates ---- */

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

bool usage_date_valid(const void *v, size_t len)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const unsigned char *s = v;
    int y = 0, m = 0, d = 0;
    if (len == 0)
        return true;
    if (len != sizeof(CK_DATE))
        return false;
    for (size_t i = 0; i < 8; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    for (size_t i = 0; i < 4; i++)
        y = y * 10 + (s[i] - '0');
    m = (s[4] - '0') * 10 + (s[5] - '0');
    d = (s[6] - '0') * 10 + (s[7] - '0');
    if (y < 1900 || m < 1 || m > 12 || d < 1)
        return false;
    return d <= days[m - 1] + (m == 2 && leap(y));
}

void usage_today(CK_DATE *out)
{
    time_t t = (time_t)sea_time();
    struct tm tm;
    char buf[16];
    if (!gmtime_r(&t, &tm) || strftime(buf, sizeof(buf), "%Y%m%d", &tm) != 8)
        memcpy(buf, "99991231", 8); /* no clock: nothing dated is valid */
    memcpy(out->year, buf, 4);
    memcpy(out->month, buf + 4, 2);
    memcpy(out->day, buf + 6, 2);
}

bool usage_date_past(const CK_DATE *d)
{
    CK_DATE today;
    usage_today(&today);
    return memcmp(d, &today, sizeof(today)) < 0;
}

/* "2026-01-31" */
static void date_text(const void *v, char out[11])
{
    const char *s = v;
    snprintf(out, 11, "%.4s-%.2s-%.2s", s, s + 4, s + 6);
}

CK_RV usage_check_dates(const struct attrs *key)
{
    const struct attr *st = attrs_find(key, CKA_START_DATE), *en = attrs_find(key, CKA_END_DATE);
    CK_DATE today;
    char txt[11];
    if ((st && !usage_date_valid(st->val, st->len)) || (en && !usage_date_valid(en->val, en->len)))
        return err_set(ORIGIN_CORE, CKR_KEY_FUNCTION_NOT_PERMITTED,
                       "the key's %s is not a valid date (YYYYMMDD)",
                       st && !usage_date_valid(st->val, st->len) ? "CKA_START_DATE"
                                                                 : "CKA_END_DATE");
    usage_today(&today);
    if (en && en->len && memcmp(en->val, &today, sizeof(today)) < 0) {
        date_text(en->val, txt);
        return err_set(ORIGIN_CORE, CKR_KEY_FUNCTION_NOT_PERMITTED, "the key expired on %s", txt);
    }
    if (st && st->len && memcmp(st->val, &today, sizeof(today)) > 0) {
        date_text(st->val, txt);
        return err_set(ORIGIN_CORE, CKR_KEY_FUNCTION_NOT_PERMITTED, "the key is valid from %s",
                       txt);
    }
    return CKR_OK;
}

/* ---- the check ---- */

CK_RV usage_check(const struct attrs *key, enum usage_op op, CK_MECHANISM_TYPE mech)
{
    CK_RV rv = usage_check_dates(key);
    if (rv != CKR_OK)
        return rv;
    const struct attr *x = attrs_find(key, CKA_SEA_SUID);
    CK_ULONG suid = 0;
    if (x && x->len == sizeof(suid))
        memcpy(&suid, x->val, sizeof(suid));
    else if (x && x->len != 0)
        return err_set(ORIGIN_CORE, CKR_KEY_FUNCTION_NOT_PERMITTED,
                       "the key's CKA_SEA_SUID is malformed");
    if (suid == 0)
        return CKR_OK; /* unconstrained */
    unsigned f = (unsigned)(suid % 10);
    if (f >= F__COUNT)
        return err_set(ORIGIN_CORE, CKR_KEY_FUNCTION_NOT_PERMITTED,
                       "the key's SUID %lu names no security feature: it cannot be used", suid);
    enum kind k = kind_of(key, op, mech);
    if (allows((enum feature)f, op, k))
        return CKR_OK;
    char served[160];
    served_by(op, k, served, sizeof(served));
    const char *name = k == K_PSK ? NULL : mech_name(mech);
    return err_set(ORIGIN_CORE, CKR_KEY_FUNCTION_NOT_PERMITTED,
                   "the key's SUID %lu binds it to %s; %s%s%s serves %s", suid, feature_names[f],
                   name ? name : "", name ? " " : "", use_words(op), served);
}

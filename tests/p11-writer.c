/* A PKCS#11 client for the multi-process tests (test-multiprocess.sh): writes token objects and
 * reports each committed one on stdout, checks them later from another process, and looks
 * labels up on demand in a process that stays initialised. Reads SEA_CONF, SEA_PIN and
 * SEA_MODULE from the environment. Exits 0 on success, 1 on a failed check or call, 2 on usage.
 *
 *   p11-writer --init-token LABEL             make a token on the free slot, user PIN $SEA_PIN
 *   p11-writer [--count N] [--prefix P] [--label-file F]
 *                                             N private data objects P-<i> and N/10 AES keys
 *                                             P-key-<i>; "ok <label>" after each CKR_OK
 *   p11-writer --check F                      every label in F exists with its right value
 *   p11-writer --lookup                       print "ready", then answer each label read on
 *                                             stdin with "found <label>" or "missing <label>"
 *                                             (exit 1 only if a call fails)
 */
#include <errno.h>
#include <stdint.h>

#include "p11util.h"

#define LABEL_MAX 128
#define VALUE_MAX 96

static struct p11 M;

struct options {
    enum { MODE_WRITE, MODE_INIT, MODE_CHECK, MODE_LOOKUP } mode;
    unsigned long count;
    const char *prefix;
    const char *label_file;
    const char *check_file;
    const char *token_label;
};

/* The value of a data object, derived from its label only so that --check can recompute it. */
static size_t value_for(const char *label, CK_BYTE *out)
{
    uint32_t h = 2166136261u;
    for (const char *p = label; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    int n = snprintf((char *)out, VALUE_MAX, "value of %s #%08x", label, (unsigned)h);
    return n < 0 ? 0 : (size_t)n >= VALUE_MAX ? VALUE_MAX - 1 : (size_t)n;
}

static int fail(CK_RV rv, const char *what)
{
    char buf[512];
    fprintf(stderr, "p11-writer: %s: %s\n", what, p11_explain(&M, rv, buf, sizeof(buf)));
    return 1;
}

/* The first slot with an initialised token. */
static CK_RV token_slot(CK_SLOT_ID *slot)
{
    CK_SLOT_ID ids[64];
    CK_ULONG n = 0;
    CK_TOKEN_INFO ti;
    CK_RV rv = M.f->C_GetSlotList(CK_TRUE, NULL, &n);
    if (rv == CKR_OK && n > 64)
        rv = CKR_BUFFER_TOO_SMALL;
    if (rv == CKR_OK)
        rv = M.f->C_GetSlotList(CK_TRUE, ids, &n);
    for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++) {
        if ((rv = M.f->C_GetTokenInfo(ids[i], &ti)) == CKR_OK &&
            (ti.flags & CKF_TOKEN_INITIALIZED)) {
            *slot = ids[i];
            return CKR_OK;
        }
    }
    return rv != CKR_OK ? rv : CKR_TOKEN_NOT_RECOGNIZED;
}

static CK_RV create_data(CK_SESSION_HANDLE s, const char *label)
{
    static CK_OBJECT_CLASS cls = CKO_DATA;
    static CK_BBOOL yes = CK_TRUE;
    CK_BYTE value[VALUE_MAX];
    CK_OBJECT_HANDLE h;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
                        {CKA_TOKEN, &yes, 1},
                        {CKA_PRIVATE, &yes, 1},
                        {CKA_LABEL, (void *)label, strlen(label)},
                        {CKA_VALUE, value, value_for(label, value)}};
    return M.f->C_CreateObject(s, t, 5, &h);
}

static CK_RV create_aes_key(CK_SESSION_HANDLE s, const char *label)
{
    static CK_BBOOL yes = CK_TRUE;
    static CK_ULONG len = 32;
    CK_MECHANISM m = {CKM_AES_KEY_GEN, NULL, 0};
    CK_OBJECT_HANDLE h;
    CK_ATTRIBUTE t[] = {{CKA_TOKEN, &yes, 1},
                        {CKA_PRIVATE, &yes, 1},
                        {CKA_ENCRYPT, &yes, 1},
                        {CKA_DECRYPT, &yes, 1},
                        {CKA_VALUE_LEN, &len, sizeof(len)},
                        {CKA_LABEL, (void *)label, strlen(label)}};
    return M.f->C_GenerateKey(s, &m, t, 6, &h);
}

/* Report a committed object: stdout (flushed at once, a kill may follow) and the label file. */
static void report(const char *label, FILE *lf)
{
    printf("ok %s\n", label);
    fflush(stdout);
    if (lf) {
        fprintf(lf, "%s\n", label);
        fflush(lf);
    }
}

static int write_objects(CK_SESSION_HANDLE s, const struct options *o)
{
    char label[LABEL_MAX];
    FILE *lf = NULL;
    int rc = 0;
    CK_RV rv;
    if (o->label_file && !(lf = fopen(o->label_file, "a"))) {
        fprintf(stderr, "p11-writer: %s: %s\n", o->label_file, strerror(errno));
        return 1;
    }
    for (unsigned long i = 0; i < o->count; i++) {
        snprintf(label, sizeof(label), "%s-%lu", o->prefix, i);
        if ((rv = create_data(s, label)) != CKR_OK) {
            rc = fail(rv, label);
            goto out;
        }
        report(label, lf);
        if (i % 10 == 9) {
            snprintf(label, sizeof(label), "%s-key-%lu", o->prefix, i);
            if ((rv = create_aes_key(s, label)) != CKR_OK) {
                rc = fail(rv, label);
                goto out;
            }
            report(label, lf);
        }
    }
out:
    if (lf)
        fclose(lf);
    return rc;
}

/* A found AES key must encrypt and decrypt. */
static CK_RV check_key(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
    CK_BYTE iv[12] = {1, 2, 3}, pt[] = "sixteen bytes!!", ct[64], back[64];
    CK_ULONG ctlen = sizeof(ct), backlen = sizeof(back), vlen = 0;
    CK_GCM_PARAMS gp = {iv, sizeof(iv), 96, NULL, 0, 128};
    CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
    CK_ATTRIBUTE a = {CKA_VALUE_LEN, &vlen, sizeof(vlen)};
    CK_RV rv;
    if ((rv = M.f->C_GetAttributeValue(s, h, &a, 1)) != CKR_OK ||
        (rv = M.f->C_EncryptInit(s, &m, h)) != CKR_OK ||
        (rv = M.f->C_Encrypt(s, pt, sizeof(pt), ct, &ctlen)) != CKR_OK ||
        (rv = M.f->C_DecryptInit(s, &m, h)) != CKR_OK ||
        (rv = M.f->C_Decrypt(s, ct, ctlen, back, &backlen)) != CKR_OK)
        return rv;
    return vlen == 32 && backlen == sizeof(pt) && memcmp(back, pt, sizeof(pt)) == 0
               ? CKR_OK
               : CKR_GENERAL_ERROR;
}

/* One label: 0 right, 1 missing or wrong (reason printed), -1 a call failed. */
static int check_label(CK_SESSION_HANDLE s, const char *label)
{
    CK_OBJECT_HANDLE h;
    CK_ULONG n = 0;
    CK_OBJECT_CLASS cls = 0;
    CK_BYTE want[VALUE_MAX], got[VALUE_MAX];
    CK_ATTRIBUTE a[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_VALUE, got, sizeof(got)}};
    const char *wrong = NULL;
    CK_RV rv;
    if ((rv = p11_find_label(&M, s, CK_UNAVAILABLE_INFORMATION, label, &h, &n)) != CKR_OK)
        goto out;
    if (n != 1) {
        wrong = n ? "more than one object" : "no such object";
        goto out;
    }
    if ((rv = M.f->C_GetAttributeValue(s, h, a, 1)) != CKR_OK)
        goto out;
    if (cls == CKO_SECRET_KEY) {
        CK_RV krv = check_key(s, h);
        if (krv != CKR_OK)
            wrong = krv == CKR_GENERAL_ERROR ? "the key gives wrong results" : p11_rv_name(krv);
        goto out;
    }
    if (cls != CKO_DATA) {
        wrong = "not a data object";
        goto out;
    }
    if ((rv = M.f->C_GetAttributeValue(s, h, a + 1, 1)) != CKR_OK)
        goto out;
    size_t wlen = value_for(label, want);
    if (a[1].ulValueLen != wlen || memcmp(got, want, wlen) != 0)
        wrong = "wrong value";
out:
    if (rv != CKR_OK) {
        fail(rv, label);
        return -1;
    }
    if (wrong)
        fprintf(stderr, "p11-writer: %s: %s\n", label, wrong);
    return wrong ? 1 : 0;
}

/* Read one label per line; "ok <label>" lines (a writer's output) are accepted too. */
static bool read_label(FILE *fp, char *label)
{
    char line[LABEL_MAX];
    while (fgets(line, sizeof(line), fp)) {
        line[strcspn(line, "\r\n")] = '\0';
        const char *l = strncmp(line, "ok ", 3) == 0 ? line + 3 : line;
        if (*l) {
            memcpy(label, l, strlen(l) + 1); /* shorter than line, so than LABEL_MAX */
            return true;
        }
    }
    return false;
}

static int check_file(CK_SESSION_HANDLE s, const char *path)
{
    char label[LABEL_MAX];
    unsigned long total = 0, bad = 0;
    FILE *fp = fopen(path, "r");
    if (!fp) {
        fprintf(stderr, "p11-writer: %s: %s\n", path, strerror(errno));
        return 1;
    }
    int r = 0;
    while (r >= 0 && read_label(fp, label)) {
        total++;
        if ((r = check_label(s, label)) != 0)
            bad++;
    }
    fclose(fp);
    printf("checked %lu labels: %lu ok, %lu missing or wrong%s\n", total, total - bad, bad,
           r < 0 ? " (stopped at a failed call)" : "");
    return bad == 0 && r >= 0 ? 0 : 1;
}

static int lookup(CK_SESSION_HANDLE s)
{
    char label[LABEL_MAX];
    CK_RV rv = CKR_OK;
    printf("ready\n");
    fflush(stdout);
    while (rv == CKR_OK && read_label(stdin, label)) {
        CK_OBJECT_HANDLE h;
        CK_ULONG n = 0;
        if ((rv = p11_find_label(&M, s, CK_UNAVAILABLE_INFORMATION, label, &h, &n)) != CKR_OK)
            break;
        printf("%s %s\n", n == 1 ? "found" : "missing", label);
        fflush(stdout);
    }
    return rv == CKR_OK ? 0 : fail(rv, label);
}

static int usage(void)
{
    fprintf(stderr, "usage: p11-writer [--count N] [--prefix P] [--label-file F]\n"
                    "       p11-writer --check F | --lookup | --init-token LABEL\n"
                    "environment: SEA_PIN (user PIN), SEA_CONF, SEA_MODULE\n");
    return 2;
}

static int parse(int argc, char **argv, struct options *o)
{
    *o = (struct options){.mode = MODE_WRITE, .count = 100, .prefix = "obj"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end;
        if (strcmp(a, "--lookup") == 0) {
            o->mode = MODE_LOOKUP;
            continue;
        }
        if (!v)
            return -1;
        i++;
        if (strcmp(a, "--count") == 0) {
            errno = 0;
            o->count = strtoul(v, &end, 10);
            if (errno || *end || !*v)
                return -1;
        } else if (strcmp(a, "--prefix") == 0 && *v && strlen(v) < LABEL_MAX / 2) {
            o->prefix = v;
        } else if (strcmp(a, "--label-file") == 0) {
            o->label_file = v;
        } else if (strcmp(a, "--check") == 0) {
            o->mode = MODE_CHECK;
            o->check_file = v;
        } else if (strcmp(a, "--init-token") == 0 && *v && strlen(v) <= 32) {
            o->mode = MODE_INIT;
            o->token_label = v;
        } else {
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct options o;
    const char *pin = getenv("SEA_PIN");
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s;
    CK_RV rv;
    int rc = 1;
    if (parse(argc, argv, &o) != 0)
        return usage();
    if (!pin || strlen(pin) < 4) {
        fprintf(stderr, "p11-writer: set SEA_PIN to the user PIN (4 or more characters)\n");
        return 2;
    }
    if (p11_load(&M, NULL) != 0)
        return 1;
    if ((rv = M.f->C_Initialize(NULL)) != CKR_OK) {
        rc = fail(rv, "C_Initialize");
        goto out;
    }
    if (o.mode == MODE_INIT) {
        rv = p11_make_token(&M, o.token_label, pin, &slot);
        rc = rv == CKR_OK ? 0 : fail(rv, "making the token");
        if (rc == 0)
            printf("token %s in slot %lu\n", o.token_label, slot);
        goto fin;
    }
    if ((rv = token_slot(&slot)) != CKR_OK) {
        rc = fail(rv, "finding the token");
        goto fin;
    }
    if ((rv = p11_user_session(&M, slot, pin, &s)) != CKR_OK) {
        rc = fail(rv, "opening a session and logging in");
        goto fin;
    }
    switch (o.mode) {
    case MODE_CHECK:
        rc = check_file(s, o.check_file);
        break;
    case MODE_LOOKUP:
        rc = lookup(s);
        break;
    default:
        rc = write_objects(s, &o);
        break;
    }
fin:
    if ((rv = M.f->C_Finalize(NULL)) != CKR_OK)
        rc = fail(rv, "C_Finalize");
out:
    p11_unload(&M);
    return rc;
}

/* Fork behaviour of sea-pkcs11.so, run by test-fork.sh: in a forked child every call answers
 * CKR_CRYPTOKI_NOT_INITIALIZED (never the parent's sessions or login) until the child calls
 * C_Initialize, after which it works on its own; the parent keeps signing throughout.
 * Usage: fork-child [--busy-thread] [MODULE]   (MODULE defaults to $SEA_MODULE) */
#include <pthread.h>
#include <sys/wait.h>

#include "p11util.h"

static struct p11 M;
static const char KEY_LABEL[] = "fork-key";
static int failures;

#define CHECK(m, call, want)                                                                       \
    do {                                                                                           \
        if (!p11_expect((m), (call), (want), #call))                                               \
            failures++;                                                                            \
    } while (0)

/* Sign a message with CKM_ECDSA_SHA256 and verify it; false (with the reason printed) if
 * either fails. */
static bool sign_verify(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE pub,
                        const char *who)
{
    CK_MECHANISM m = {CKM_ECDSA_SHA256, NULL, 0};
    CK_BYTE msg[] = "signed across a fork", sig[64];
    CK_ULONG siglen = sizeof(sig);
    bool ok = P11_OK(&M, M.f->C_SignInit(s, &m, priv)) &&
              P11_OK(&M, M.f->C_Sign(s, msg, sizeof(msg), sig, &siglen)) &&
              P11_OK(&M, M.f->C_VerifyInit(s, &m, pub)) &&
              P11_OK(&M, M.f->C_Verify(s, msg, sizeof(msg), sig, siglen));
    if (!ok)
        fprintf(stderr, "fork-child: %s could not sign and verify\n", who);
    return ok;
}

static bool find_key(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE *h)
{
    CK_ULONG n = 0;
    if (!P11_OK(&M, p11_find_label(&M, s, cls, KEY_LABEL, h, &n)))
        return false;
    if (n != 1)
        fprintf(stderr, "fork-child: %lu keys of class %lu labelled %s\n", n, cls, KEY_LABEL);
    return n == 1;
}

/* The child: first the inherited module must refuse everything, then it must work anew. */
static int child(CK_SLOT_ID slot, CK_SESSION_HANDLE parent_s, CK_OBJECT_HANDLE parent_priv)
{
    CK_MECHANISM m = {CKM_ECDSA_SHA256, NULL, 0};
    CK_BYTE msg[] = "x", sig[64];
    CK_ULONG n = 0, siglen = sizeof(sig);
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_TOKEN_INFO ti;
    CK_OBJECT_HANDLE priv, pub;

    CHECK(&M, M.f->C_GetSlotList(CK_TRUE, NULL, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK(&M, M.f->C_GetTokenInfo(slot, &ti), CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK(&M, M.f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s),
          CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK(&M, M.f->C_SignInit(parent_s, &m, parent_priv), CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK(&M, M.f->C_Sign(parent_s, msg, 1, sig, &siglen), CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK(&M, M.f->C_Logout(parent_s), CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK(&M, M.f->C_CloseSession(parent_s), CKR_CRYPTOKI_NOT_INITIALIZED);
    if (failures)
        return 1;
    if (!P11_OK(&M, M.f->C_Initialize(NULL)) || !P11_OK(&M, p11_user_session(&M, slot, NULL, &s)))
        return 1;
    if (!find_key(s, CKO_PRIVATE_KEY, &priv) || !find_key(s, CKO_PUBLIC_KEY, &pub) ||
        !sign_verify(s, priv, pub, "the re-initialised child"))
        return 1;
    CHECK(&M, M.f->C_Finalize(NULL), CKR_OK);
    return failures ? 1 : 0;
}

/* --busy-thread: another thread of the parent signs while the fork happens. */
struct busy {
    CK_SLOT_ID slot;
    CK_OBJECT_HANDLE priv, pub;
    int stop;
    int rounds;
    bool failed;
};

static void *busy_signer(void *arg)
{
    struct busy *b = arg;
    CK_SESSION_HANDLE s;
    if (!P11_OK(&M, M.f->C_OpenSession(b->slot, CKF_SERIAL_SESSION, NULL, NULL, &s))) {
        b->failed = true;
        return NULL;
    }
    while (!__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE)) {
        if (!sign_verify(s, b->priv, b->pub, "the parent's busy thread")) {
            b->failed = true;
            break;
        }
        __atomic_add_fetch(&b->rounds, 1, __ATOMIC_RELEASE);
    }
    M.f->C_CloseSession(s);
    return NULL;
}

static int run(bool busy_thread)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE pub, priv;
    CK_MECHANISM gen = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    static const CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE pt[] = {{CKA_TOKEN, &yes, 1},
                         {CKA_EC_PARAMS, (void *)p256, sizeof(p256)},
                         {CKA_LABEL, (void *)KEY_LABEL, strlen(KEY_LABEL)}};
    CK_ATTRIBUTE qt[] = {{CKA_TOKEN, &yes, 1},
                         {CKA_PRIVATE, &yes, 1},
                         {CKA_SIGN, &yes, 1},
                         {CKA_LABEL, (void *)KEY_LABEL, strlen(KEY_LABEL)}};
    struct busy b = {0};
    pthread_t t;
    bool thread = false, ok = false;
    int status = 0, verdict[2] = {-1, -1};

    if (!P11_OK(&M, M.f->C_Initialize(NULL)) ||
        !P11_OK(&M, p11_make_token(&M, "fork", NULL, &slot)) ||
        !P11_OK(&M, p11_user_session(&M, slot, NULL, &s)) ||
        !P11_OK(&M, M.f->C_GenerateKeyPair(s, &gen, pt, 3, qt, 4, &pub, &priv)) ||
        !sign_verify(s, priv, pub, "the parent before the fork"))
        goto out;
    if (busy_thread) {
        b = (struct busy){.slot = slot, .priv = priv, .pub = pub};
        if (pthread_create(&t, NULL, busy_signer, &b) != 0) {
            perror("fork-child: pthread_create");
            goto out;
        }
        thread = true;
        /* fork only once the thread is really inside the module */
        while (__atomic_load_n(&b.rounds, __ATOMIC_ACQUIRE) < 3 && !b.failed)
            usleep(1000);
    }
    /* The child's verdict comes through a pipe, not only its exit status: under valgrind the
     * exit status also counts the parent's context the child had to abandon. */
    if (pipe(verdict) != 0) {
        perror("fork-child: pipe");
        goto out;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork-child: fork");
        goto out;
    }
    if (pid == 0) {
        int rc = child(slot, s, priv);
        char v = rc == 0 ? 'P' : 'F';
        fflush(NULL);
        if (write(verdict[1], &v, 1) != 1)
            rc = 1;
        _exit(rc); /* the parent owns the temp dir and the module's exit-time cleanup */
    }
    close(verdict[1]);
    verdict[1] = -1;
    /* the parent goes on signing while the child works, and after it has gone */
    ok = true;
    for (int i = 0; i < 20 && ok; i++)
        ok = sign_verify(s, priv, pub, "the parent while the child runs");
    char v = 0;
    if (read(verdict[0], &v, 1) != 1 || v != 'P') {
        fprintf(stderr, "fork-child: the child's checks failed\n");
        ok = false;
    }
    if (waitpid(pid, &status, 0) != pid) {
        perror("fork-child: waitpid");
        ok = false;
    } else if (!WIFEXITED(status)) {
        fprintf(stderr, "fork-child: the child died (status 0x%x)\n", status);
        ok = false;
    } else if (WEXITSTATUS(status) != 0 && v == 'P') {
        fprintf(stderr, "fork-child: note: the child passed but exited with %d (valgrind?)\n",
                WEXITSTATUS(status));
    }
    ok = sign_verify(s, priv, pub, "the parent after the child exited") && ok;
out:
    if (thread) {
        __atomic_store_n(&b.stop, 1, __ATOMIC_RELEASE);
        pthread_join(t, NULL);
        if (b.failed) {
            fprintf(stderr, "fork-child: the parent's busy thread failed\n");
            ok = false;
        }
    }
    for (int i = 0; i < 2; i++)
        if (verdict[i] >= 0)
            close(verdict[i]);
    /* C_Finalize also when something failed: the busy thread is gone, nothing runs */
    ok = P11_OK(&M, M.f->C_Finalize(NULL)) && ok;
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct p11_env env;
    bool busy = false;
    const char *module = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--busy-thread") == 0)
            busy = true;
        else if (argv[i][0] == '-' || module) {
            fprintf(stderr, "usage: fork-child [--busy-thread] [MODULE]\n");
            return 2;
        } else
            module = argv[i];
    }
    if (p11_env_make(&env) != 0)
        return 1;
    int rc = p11_load(&M, module) == 0 ? run(busy) : 1;
    p11_unload(&M);
    p11_env_remove(&env);
    printf("fork-child%s: %s\n", busy ? " --busy-thread" : "", rc == 0 ? "PASS" : "FAIL");
    return rc;
}

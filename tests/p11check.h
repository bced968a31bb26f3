/* What the Check programs that drive the module through PKCS#11 share (check_p11, check_sym,
 * check_asym, check_kdfwrap, check_semantics, check_restart, check_onem2m): the fixture, the
 * result assertions and main(). Each includes it once. */
#ifndef SEA_TESTS_P11CHECK_H
#define SEA_TESTS_P11CHECK_H

#include <check.h>

#include "p11util.h"

/* ---- the fixture every one of these programs shares ---- */

static struct p11 M;           /* the module under test */
static struct p11_env E;       /* its private configuration and store */
static CK_FUNCTION_LIST_3_0 *F; /* M.f */

#define EXPECT_RV(want, call)                                                                      \
    do {                                                                                           \
        CK_RV rv_ = (call);                                                                        \
        char b_[512];                                                                              \
        ck_assert_msg(rv_ == (CK_RV)(want), "%s: expected %s, got %s", #call, p11_rv_name(want),   \
                      p11_explain(&M, rv_, b_, sizeof(b_)));                                       \
    } while (0)

#define OK(call) EXPECT_RV(CKR_OK, call)

/* Each test: a fresh store and configuration, the module loaded (not initialised). */
static inline void p11_setup(void)
{
    ck_assert_int_eq(p11_env_make(&E), 0);
    ck_assert_int_eq(p11_load(&M, NULL), 0);
    F = M.f;
}

static inline void p11_teardown(void)
{
    if (F)
        F->C_Finalize(NULL); /* a test that failed half-way may have left it initialised */
    p11_unload(&M);
    p11_env_remove(&E);
    F = NULL;
}

/* A test case with the fixture above and a timeout, added to su. */
static inline TCase *p11_tcase(Suite *su, const char *name, double timeout)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, p11_setup, p11_teardown);
    tcase_set_timeout(tc, timeout);
    suite_add_tcase(su, tc);
    return tc;
}

/* Initialise the module, make a token labelled `label` and return a logged-in read/write user
 * session on it (its slot in *slot_out if not NULL). */
static inline CK_SESSION_HANDLE p11_token_session(const char *label, CK_SLOT_ID *slot_out)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_SLOT_ID slot = 0;
    OK(F->C_Initialize(NULL));
    OK(p11_make_token(&M, label, NULL, &slot));
    OK(p11_user_session(&M, slot, NULL, &s));
    if (slot_out)
        *slot_out = slot;
    return s;
}

/* Check that SEA_MODULE loads, put every test's store under one fresh directory (removed at the
 * end, even when a failed test never reached its teardown), run the suite. */
static inline int p11_check_main(const char *prog, struct p11 *m, Suite *(*make_suite)(void))
{
    const char *tmp = getenv("TMPDIR");
    char base[256];
    /* One clear message rather than every test failing the same way. */
    if (!getenv("SEA_MODULE") || p11_load(m, NULL) != 0) {
        fprintf(stderr, "%s: cannot use the module: set SEA_MODULE to the path of a built "
                        "sea-pkcs11.so\n", prog);
        return EXIT_FAILURE;
    }
    p11_unload(m);
    snprintf(base, sizeof(base), "%s/%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", prog);
    if (!mkdtemp(base) || setenv("TMPDIR", base, 1) != 0) {
        fprintf(stderr, "%s: cannot make a temporary directory under %s\n", prog, base);
        return EXIT_FAILURE;
    }
    SRunner *sr = srunner_create(make_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nftw(base, p11_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif

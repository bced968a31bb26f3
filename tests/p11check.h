/* The main() of the Check programs that drive the module through PKCS#11 (check_p11, check_sym,
 * check_asym, check_kdfwrap, check_semantics). */
#ifndef SEA_TESTS_P11CHECK_H
#define SEA_TESTS_P11CHECK_H

#include <check.h>

#include "p11util.h"

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

/* Unit tests of the soft store's WAL index check (refresh in backends/soft/soft.c): reading the
 * header must leave SQLite's own locks on sea.db-shm alone. SQLite keeps a shared fcntl lock on
 * the index's DMS byte while a connection uses it (os_unix.c: UNIX_SHM_DMS, byte 128 of the
 * file); a process that can take that byte exclusively believes nobody uses the index and
 * truncates and rebuilds it. Closing any descriptor of the file drops all of a process's fcntl
 * locks on it, which an earlier version of the check did. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../backends/soft/soft.h"
#include "config.h"
#include "crypto.h"
#include "error.h"

#define SHM_DMS 128 /* SQLite's os_unix.c: (22 + SQLITE_SHM_NLOCK) * 4 + SQLITE_SHM_NLOCK */

static const struct sea_backend_ops *ops = &soft_backend_ops;
static char tmpdir[64];
static char store_dir[128];

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/sea-wal-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(store_dir, sizeof(store_dir), "%s/store", tmpdir);
    ck_assert_int_eq(crypto_init(), CKR_OK);
    err_clear();
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    crypto_fini();
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static struct bdev *open_dev(void)
{
    char text[512];
    struct config *cfg = NULL;
    struct bdev *d = NULL;
    snprintf(text, sizeof(text), "[device t]\nbackend = soft\npath = %s\nkdf_iterations = 1000\n",
             store_dir);
    ck_assert_int_eq(config_parse(text, strlen(text), "test.conf", &cfg), CKR_OK);
    const struct config_section *sec = NULL;
    for (size_t i = 0; i < cfg->nsec; i++)
        if (cfg->sec[i].name && strcmp(cfg->sec[i].name, "t") == 0)
            sec = &cfg->sec[i];
    ck_assert_ptr_nonnull(sec);
    CK_RV rv = ops->dev_open("t", sec, &d);
    config_free(cfg);
    ck_assert_msg(rv == CKR_OK, "dev_open: 0x%lx %s", rv, err_get()->msg);
    return d;
}

/* In a child process (whose own descriptors do not touch the parent's locks): the lock type
 * another process holds on the DMS byte, F_UNLCK if none. */
static int dms_lock_elsewhere(void)
{
    char path[256];
    int fds[2];
    int got = -1;
    snprintf(path, sizeof(path), "%s/sea.db-shm", store_dir);
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int t = -1;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = SHM_DMS, .l_len = 1};
        if (fd >= 0 && fcntl(fd, F_GETLK, &fl) == 0)
            t = fl.l_type;
        _exit(write(fds[1], &t, sizeof(t)) == (ssize_t)sizeof(t) ? 0 : 1);
    }
    close(fds[1]);
    ck_assert_int_eq(read(fds[0], &got, sizeof(got)), (ssize_t)sizeof(got));
    close(fds[0]);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return got;
}

START_TEST(open_device_keeps_sqlite_shm_lock)
{
    struct bdev *d = open_dev();
    struct se_desc *list = NULL;
    size_t n = 0;
    uint32_t next = 0;
    /* SQLite's shared lock on the DMS byte, held for the open connections */
    ck_assert_int_eq(dms_lock_elsewhere(), F_RDLCK);
    /* still after more reads through the device (each a freshness check) */
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(ops->se_list(d, &list, &n, &next), CKR_OK);
        free(list);
        list = NULL;
    }
    ck_assert_int_eq(dms_lock_elsewhere(), F_RDLCK);
    /* and with a second instance opened and closed in the same process */
    struct bdev *e = open_dev();
    ops->dev_close(e);
    ck_assert_int_eq(ops->se_list(d, &list, &n, &next), CKR_OK);
    free(list);
    ck_assert_int_eq(dms_lock_elsewhere(), F_RDLCK);
    ops->dev_close(d);
    /* nothing holds it once the last connection is closed: the check above can fail */
    ck_assert_int_ne(dms_lock_elsewhere(), F_RDLCK);
}
END_TEST

static Suite *walindex_suite(void)
{
    Suite *s = suite_create("walindex");
    TCase *t = tcase_create("locks");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 30);
    tcase_add_test(t, open_device_keeps_sqlite_shm_lock);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(walindex_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* The fixture of the Check programs that drive the native API (sea/sea.h): a private store in a
 * temporary directory with a context on it, and SEs created, opened and logged in with the test
 * PINs. Include it once, in the test program, after check.h. */
#ifndef SEA_TESTS_APICHECK_H
#define SEA_TESTS_APICHECK_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sea/sea.h"

#define SO  "so-secret-1"
#define PIN "user-pin-1"

static char dir[256], conf[300];
static sea_ctx *ctx;

/* A fresh store in /tmp/sea-<tag>-XXXXXX (a fast PIN KDF) and the context ctx on it. */
static inline void api_store_open(const char *tag)
{
    snprintf(dir, sizeof(dir), "/tmp/sea-%s-XXXXXX", tag);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(conf, sizeof(conf), "%s/sea.conf", dir);
    FILE *f = fopen(conf, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "[device soft]\nbackend = soft\npath = %s/store\nkdf_iterations = 1000\n", dir);
    fclose(f);
    ck_assert_int_eq(sea_open(&ctx, conf), SEA_OK);
}

/* Close ctx and remove the store. */
static inline void api_store_close(void)
{
    sea_close(ctx);
    ctx = NULL;
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Create an SE named `name` (se_id NULL: generated) with SO and PIN, open it, log the user in. */
static inline sea_se *api_se_new(const char *name, const char *se_id)
{
    sea_se_params p = {.name = name,
                       .se_id = se_id,
                       .security_level = -1,
                       .so_pin = SO,
                       .so_pin_len = strlen(SO),
                       .user_pin = PIN,
                       .user_pin_len = strlen(PIN)};
    sea_se_info info;
    sea_se *s = NULL;
    ck_assert_int_eq(sea_se_create(ctx, &p, &info), SEA_OK);
    ck_assert_int_eq(sea_se_open(ctx, name, &s), SEA_OK);
    ck_assert_int_eq(sea_login(s, SEA_USER, PIN, strlen(PIN)), SEA_OK);
    return s;
}

#endif

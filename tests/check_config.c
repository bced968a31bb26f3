/* Unit tests of sea.conf parsing (provider/config.c): syntax, every syntax error with its line,
 * ${VAR} and ~/ expansion, the search order, the embedded default and the typed getters. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "error.h"

/* Every variable the module reads, saved before and restored after each test, so tests can run
 * in one process (CK_FORK=no under valgrind). */
static const char *const env_names[] = {"HOME",      "XDG_CONFIG_HOME", "XDG_DATA_HOME", "SEA_CONF",
                                        "SEA_STORE", "SEA_TEST_DIR",    "SEA_TEST_EMPTY"};
static char *env_saved[ARRAY_SIZE(env_names)];
static char tmpdir[64];

static void setup(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(env_names); i++) {
        const char *v = getenv(env_names[i]);
        env_saved[i] = v ? strdup(v) : NULL;
    }
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_config.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    err_clear();
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void teardown(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(env_names); i++) {
        if (env_saved[i])
            setenv(env_names[i], env_saved[i], 1);
        else
            unsetenv(env_names[i]);
        free(env_saved[i]);
        env_saved[i] = NULL;
    }
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* char var[] = "<tmpdir>/rel" */
#define TPATH(var, rel)                                                                            \
    char var[256];                                                                                 \
    snprintf(var, sizeof(var), "%s/%s", tmpdir, rel)

static void write_file(const char *path, const char *text, size_t len)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    for (char *p = dir + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0700);
            *p = '/';
        }
    }
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static struct config *parse_ok(const char *text)
{
    struct config *c = NULL;
    err_clear();
    CK_RV rv = config_parse(text, strlen(text), "t.conf", &c);
    ck_assert_msg(rv == CKR_OK, "parse failed: %s", err_get()->msg);
    ck_assert_ptr_nonnull(c);
    return c;
}

/* Parse must fail with CKR_ARGUMENTS_BAD, a message starting "t.conf:LINE:" and containing what. */
static void parse_fails(const char *text, size_t len, int line, const char *what)
{
    struct config *c = (struct config *)0x1;
    char prefix[64];
    err_clear();
    ck_assert_uint_eq(config_parse(text, len, "t.conf", &c), CKR_ARGUMENTS_BAD);
    ck_assert_ptr_eq(c, (struct config *)0x1); /* no partial write */
    ck_assert_int_eq(err_get()->rv, CKR_ARGUMENTS_BAD);
    ck_assert_int_eq(err_get()->origin, ORIGIN_CORE);
    snprintf(prefix, sizeof(prefix), "t.conf:%d: ", line);
    ck_assert_msg(strncmp(err_get()->msg, prefix, strlen(prefix)) == 0, "'%s' lacks '%s'",
                  err_get()->msg, prefix);
    ck_assert_msg(strstr(err_get()->msg, what), "'%s' lacks '%s'", err_get()->msg, what);
}

static const struct config_section *device(const struct config *c, const char *name)
{
    for (size_t i = 0; i < c->nsec; i++)
        if (c->sec[i].name && strcmp(c->sec[i].name, name) == 0)
            return &c->sec[i];
    return NULL;
}

/* ---- syntax ---- */

START_TEST(full_file_gives_sections_keys_and_lines)
{
    static const char text[] = "# libsea configuration\n"
                               "; another comment style\n"
                               "\n"
                               "[sea]\n"
                               "log = debug\n"
                               "   max_sessions=  64   \n"
                               "[device soft]\n"
                               "backend = soft\n"
                               "path = \"/var/lib/sea store\"\n"
                               "label = \"say \\\"hi\\\" \\\\ bye\"\n"
                               "note = a # not a comment\n"
                               "empty =\n"
                               "  [ device \"hsm-1.a_b\" ]  \n"
                               "backend = pkcs11\r\n"
                               "backend = pkcs11-last\n"
                               "quoted_empty = \"\"";
    struct config *c = parse_ok(text);
    ck_assert_str_eq(c->path, "t.conf");
    ck_assert(!c->embedded);
    ck_assert_uint_eq(c->nsec, 3);

    const struct config_section *g = config_global(c);
    ck_assert_ptr_nonnull(g);
    ck_assert_str_eq(g->kind, "sea");
    ck_assert_ptr_null(g->name);
    ck_assert_int_eq(g->line, 4);
    ck_assert_str_eq(config_get(g, "log"), "debug");
    ck_assert_str_eq(config_get(g, "max_sessions"), "64");
    ck_assert_int_eq(g->kv[1].line, 6);

    const struct config_section *s = device(c, "soft");
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s->kind, "device");
    ck_assert_int_eq(s->line, 7);
    ck_assert_str_eq(config_get(s, "backend"), "soft");
    ck_assert_str_eq(config_get(s, "path"), "/var/lib/sea store");
    ck_assert_str_eq(config_get(s, "label"), "say \"hi\" \\ bye");
    ck_assert_str_eq(config_get(s, "note"), "a # not a comment");
    ck_assert_str_eq(config_get(s, "empty"), "");
    ck_assert_ptr_null(config_get(s, "log")); /* keys belong to their section */

    const struct config_section *h = device(c, "hsm-1.a_b");
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(h->line, 13);
    ck_assert_str_eq(config_get(h, "backend"), "pkcs11-last"); /* last one wins, CR dropped */
    ck_assert_str_eq(h->kv[0].value, "pkcs11");
    ck_assert_str_eq(config_get(h, "quoted_empty"), "");
    config_free(c);
}
END_TEST

START_TEST(second_sea_section_continues_the_first)
{
    struct config *c = parse_ok("[sea]\na = 1\n[device x]\nb = 2\n[sea]\nc = 3\n");
    ck_assert_uint_eq(c->nsec, 2);
    const struct config_section *g = config_global(c);
    ck_assert_str_eq(config_get(g, "a"), "1");
    ck_assert_str_eq(config_get(g, "c"), "3");
    ck_assert_ptr_null(config_get(device(c, "x"), "c"));
    config_free(c);
}
END_TEST

START_TEST(empty_text_and_no_global_section)
{
    struct config *c = NULL;
    ck_assert_uint_eq(config_parse(NULL, 0, "t.conf", &c), CKR_OK);
    ck_assert_uint_eq(c->nsec, 0);
    ck_assert_ptr_null(config_global(c));
    config_free(c);
    c = parse_ok("[device a]\n");
    ck_assert_ptr_null(config_global(c));
    ck_assert_ptr_null(config_get(NULL, "x"));
    ck_assert_ptr_null(config_global(NULL));
    config_free(c);
    config_free(NULL);
}
END_TEST

START_TEST(device_name_limits)
{
    struct config *c = parse_ok("[device a]\n[device 0123456789012345678901234567890]\n");
    ck_assert_uint_eq(c->nsec, 2);
    ck_assert_uint_eq(strlen(c->sec[1].name), 31);
    config_free(c);
    const char *t = "[device 01234567890123456789012345678901]\n"; /* 32 characters */
    parse_fails(t, strlen(t), 1, "bad device name");
}
END_TEST

/* ---- syntax errors, each with its line ---- */

START_TEST(error_unknown_section_kind)
{
    const char *t = "[sea]\n\n[module x]\n";
    parse_fails(t, strlen(t), 3, "unknown section kind 'module'");
}
END_TEST

START_TEST(error_duplicate_device_name)
{
    const char *t = "[device a]\nk = v\n[device \"a\"]\n";
    parse_fails(t, strlen(t), 3, "duplicate device 'a' (first at line 1)");
}
END_TEST

START_TEST(error_key_outside_a_section)
{
    const char *t = "# top\nbackend = soft\n[sea]\n";
    parse_fails(t, strlen(t), 2, "outside a section");
}
END_TEST

START_TEST(error_missing_equals)
{
    const char *t = "[sea]\nlog debug\n";
    parse_fails(t, strlen(t), 2, "missing '='");
}
END_TEST

START_TEST(error_bad_names)
{
    const char *t;
    t = "[sea]\nLog = x\n";
    parse_fails(t, strlen(t), 2, "bad key name");
    t = "[sea]\n = x\n";
    parse_fails(t, strlen(t), 2, "bad key name");
    t = "[sea]\nmy-key = x\n";
    parse_fails(t, strlen(t), 2, "bad key name");
    t = "[device]\n";
    parse_fails(t, strlen(t), 1, "bad device name");
    t = "[sea]\n[device a/b]\n";
    parse_fails(t, strlen(t), 2, "bad device name");
    t = "[device \"\"]\n";
    parse_fails(t, strlen(t), 1, "bad device name");
    t = "[device a b]\n";
    parse_fails(t, strlen(t), 1, "bad device name");
    t = "[sea x]\n";
    parse_fails(t, strlen(t), 1, "takes no name");
    t = "[]\n";
    parse_fails(t, strlen(t), 1, "empty section header");
    t = "[sea\n";
    parse_fails(t, strlen(t), 1, "without closing ']'");
    t = "[sea] junk\n";
    parse_fails(t, strlen(t), 1, "without closing ']'");
}
END_TEST

START_TEST(error_unterminated_quote)
{
    const char *t;
    t = "[sea]\na = 1\nb = \"open\n";
    parse_fails(t, strlen(t), 3, "unterminated quote");
    t = "[sea]\nb = \"ends in escape\\\"\n";
    parse_fails(t, strlen(t), 2, "unterminated quote");
    t = "[device \"abc]\n";
    parse_fails(t, strlen(t), 1, "unterminated quote");
    t = "[sea]\nb = \"x\" y\n";
    parse_fails(t, strlen(t), 2, "after the closing quote");
    t = "[sea]\nb = \"a\\nb\"\n";
    parse_fails(t, strlen(t), 2, "unknown escape");
}
END_TEST

/* "[sea]\nk = vvv...\n" whose second line is exactly n bytes long (malloc'd). */
static char *long_line_text(size_t n)
{
    char *t = malloc(6 + n + 2);
    ck_assert_ptr_nonnull(t);
    memcpy(t, "[sea]\nk = ", 10);
    memset(t + 10, 'v', n - 4);
    memcpy(t + 6 + n, "\n", 2);
    return t;
}

START_TEST(error_line_too_long)
{
    char *t = long_line_text(4096);
    struct config *c = parse_ok(t);
    ck_assert_uint_eq(strlen(config_get(config_global(c), "k")), 4092);
    config_free(c);
    free(t);
    t = long_line_text(4097);
    parse_fails(t, strlen(t), 2, "longer than 4096");
    free(t);
}
END_TEST

START_TEST(error_nul_byte)
{
    static const char t[] = "[sea]\na = 1\nb = x\0y\n";
    parse_fails(t, sizeof(t) - 1, 3, "NUL byte");
}
END_TEST

START_TEST(error_file_over_1_mib)
{
    size_t n = (1u << 20) + 1;
    char *t = malloc(n);
    ck_assert_ptr_nonnull(t);
    for (size_t i = 0; i < n; i++) /* short comment lines */
        t[i] = i % 64 == 63 ? '\n' : '#';
    struct config *c = (struct config *)0x1;
    err_clear();
    ck_assert_uint_eq(config_parse(t, n, "big.conf", &c), CKR_ARGUMENTS_BAD);
    ck_assert_ptr_eq(c, (struct config *)0x1);
    ck_assert_str_eq(err_get()->msg, "big.conf: file larger than 1 MiB");

    /* Through config_load: the same limit, and a file of exactly 1 MiB is fine. */
    TPATH(p, "big.conf");
    write_file(p, t, n);
    err_clear();
    ck_assert_uint_eq(config_load(p, &c), CKR_ARGUMENTS_BAD);
    ck_assert_ptr_nonnull(strstr(err_get()->msg, "larger than 1 MiB"));
    ck_assert_ptr_nonnull(strstr(err_get()->msg, p));
    write_file(p, t, n - 1);
    ck_assert_uint_eq(config_load(p, &c), CKR_OK);
    ck_assert_uint_eq(c->nsec, 0);
    config_free(c);
    free(t);
}
END_TEST

START_TEST(bad_arguments_are_refused)
{
    struct config *c = NULL;
    err_clear();
    ck_assert_uint_eq(config_parse("x", 1, "t", NULL), CKR_ARGUMENTS_BAD);
    ck_assert_int_eq(err_get()->rv, CKR_ARGUMENTS_BAD);
    ck_assert_uint_eq(config_parse(NULL, 3, "t", &c), CKR_ARGUMENTS_BAD);
    ck_assert_uint_eq(config_load(NULL, &c), CKR_ARGUMENTS_BAD);
    ck_assert_uint_eq(config_load("/x", NULL), CKR_ARGUMENTS_BAD);
    ck_assert_uint_eq(config_default(NULL), CKR_ARGUMENTS_BAD);
    ck_assert_uint_eq(config_open(NULL, NULL), CKR_ARGUMENTS_BAD);
    ck_assert_ptr_null(c);
}
END_TEST

/* ---- expansion ---- */

START_TEST(variables_expand_from_the_environment)
{
    setenv("SEA_TEST_DIR", "/srv/sea", 1);
    setenv("SEA_TEST_EMPTY", "", 1);
    struct config *c = parse_ok("[sea]\n"
                                "a = ${SEA_TEST_DIR}/store\n"
                                "b = \"${SEA_TEST_DIR}:${SEA_TEST_DIR}\"\n"
                                "c = x${SEA_TEST_EMPTY}y\n"
                                "d = cost $5 and $ {not}\n");
    const struct config_section *g = config_global(c);
    ck_assert_str_eq(config_get(g, "a"), "/srv/sea/store");
    ck_assert_str_eq(config_get(g, "b"), "/srv/sea:/srv/sea");
    ck_assert_str_eq(config_get(g, "c"), "xy");
    ck_assert_str_eq(config_get(g, "d"), "cost $5 and $ {not}");
    config_free(c);

    /* An expanded value is not rescanned. */
    setenv("SEA_TEST_DIR", "${HOME}", 1);
    c = parse_ok("[sea]\na = ${SEA_TEST_DIR}\n");
    ck_assert_str_eq(config_get(config_global(c), "a"), "${HOME}");
    config_free(c);
}
END_TEST

START_TEST(undefined_variable_is_an_error_naming_it)
{
    unsetenv("SEA_TEST_DIR");
    const char *t = "[sea]\n\na = ${SEA_TEST_DIR}/x\n";
    parse_fails(t, strlen(t), 3, "undefined variable SEA_TEST_DIR");
    t = "[sea]\na = ${SEA_TEST_DIR\n";
    parse_fails(t, strlen(t), 2, "unterminated ${");
    t = "[sea]\na = ${}\n";
    parse_fails(t, strlen(t), 2, "bad variable name");
    t = "[sea]\na = ${1X}\n";
    parse_fails(t, strlen(t), 2, "bad variable name");
}
END_TEST

START_TEST(leading_tilde_expands_to_home)
{
    setenv("HOME", "/home/alice", 1);
    struct config *c = parse_ok("[sea]\n"
                                "a = ~/store\n"
                                "b = \"~/quoted\"\n"
                                "c = /x/~/y\n"
                                "d = ~alice/x\n"
                                "e = ~\n");
    const struct config_section *g = config_global(c);
    ck_assert_str_eq(config_get(g, "a"), "/home/alice/store");
    ck_assert_str_eq(config_get(g, "b"), "/home/alice/quoted");
    ck_assert_str_eq(config_get(g, "c"), "/x/~/y");
    ck_assert_str_eq(config_get(g, "d"), "~alice/x");
    ck_assert_str_eq(config_get(g, "e"), "~");
    config_free(c);

    unsetenv("HOME");
    const char *t = "[sea]\na = ~/store\n";
    parse_fails(t, strlen(t), 2, "HOME is not set");
}
END_TEST

/* ---- files and the search order ---- */

START_TEST(load_reads_a_file_and_reports_unreadable_ones)
{
    TPATH(p, "sea.conf");
    write_file(p, "[device a]\nbackend = soft\n", 26);
    struct config *c = NULL;
    ck_assert_uint_eq(config_load(p, &c), CKR_OK);
    ck_assert_str_eq(c->path, p);
    ck_assert_str_eq(config_get(device(c, "a"), "backend"), "soft");
    config_free(c);

    c = NULL;
    err_clear();
    TPATH(missing, "missing.conf");
    ck_assert_uint_eq(config_load(missing, &c), CKR_ARGUMENTS_BAD);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(strstr(err_get()->msg, "missing.conf: cannot open"));
    err_clear();
    ck_assert_uint_eq(config_load(tmpdir, &c), CKR_ARGUMENTS_BAD);
    ck_assert_ptr_nonnull(strstr(err_get()->msg, "is a directory"));

    /* Errors in a loaded file name the file. */
    write_file(p, "[sea]\nbad\n", 10);
    err_clear();
    ck_assert_uint_eq(config_load(p, &c), CKR_ARGUMENTS_BAD);
    char want[PATH_MAX + 16];
    snprintf(want, sizeof(want), "%s:2: missing '='", p);
    ck_assert_ptr_nonnull(strstr(err_get()->msg, want));
}
END_TEST

static bool etc_conf_exists(void)
{
    return access("/etc/sea/sea.conf", F_OK) == 0;
}

/* What the search ends with when no user file exists: /etc/sea/sea.conf if present, else none. */
static void assert_system_fallback(char *found)
{
    if (etc_conf_exists())
        ck_assert_str_eq(found, "/etc/sea/sea.conf");
    else
        ck_assert_ptr_null(found);
    free(found);
}

START_TEST(search_order_sea_conf_xdg_home)
{
    TPATH(home, "home");
    TPATH(home_conf, "home/.config/sea/sea.conf");
    TPATH(xdg, "xdg");
    TPATH(xdg_conf, "xdg/sea/sea.conf");
    TPATH(nowhere, "nowhere.conf");
    unsetenv("SEA_CONF");
    unsetenv("XDG_CONFIG_HOME");
    setenv("HOME", home, 1);
    assert_system_fallback(config_find_path());

    /* $HOME/.config/sea/sea.conf when XDG_CONFIG_HOME is unset */
    write_file(home_conf, "[sea]\n", 6);
    char *f = config_find_path();
    ck_assert_str_eq(f, home_conf);
    free(f);

    /* XDG_CONFIG_HOME replaces $HOME/.config: without a file there, the user file is not used */
    setenv("XDG_CONFIG_HOME", xdg, 1);
    assert_system_fallback(config_find_path());
    write_file(xdg_conf, "[sea]\n", 6);
    f = config_find_path();
    ck_assert_str_eq(f, xdg_conf);
    free(f);

    /* a relative XDG_CONFIG_HOME is ignored (XDG spec): back to $HOME/.config */
    setenv("XDG_CONFIG_HOME", "relative/dir", 1);
    f = config_find_path();
    ck_assert_str_eq(f, home_conf);
    free(f);

    /* SEA_CONF wins, and is returned even when missing */
    setenv("SEA_CONF", nowhere, 1);
    f = config_find_path();
    ck_assert_str_eq(f, nowhere);
    free(f);
    /* an empty SEA_CONF counts as unset */
    setenv("SEA_CONF", "", 1);
    f = config_find_path();
    ck_assert_str_eq(f, home_conf);
    free(f);
}
END_TEST

START_TEST(open_uses_explicit_then_search_then_default)
{
    TPATH(home, "home");
    TPATH(nowhere, "nowhere.conf");
    TPATH(mine, "mine.conf");
    TPATH(explicit, "explicit.conf");
    TPATH(store, "home/.local/share/sea");
    unsetenv("XDG_CONFIG_HOME");
    unsetenv("SEA_STORE");
    unsetenv("XDG_DATA_HOME");
    setenv("HOME", home, 1);
    struct config *c = NULL;

    /* SEA_CONF pointing nowhere: the error names the file */
    setenv("SEA_CONF", nowhere, 1);
    err_clear();
    ck_assert_uint_eq(config_open(NULL, &c), CKR_ARGUMENTS_BAD);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(strstr(err_get()->msg, nowhere));

    /* SEA_CONF pointing at a file */
    write_file(mine, "[device mine]\n", 14);
    setenv("SEA_CONF", mine, 1);
    ck_assert_uint_eq(config_open(NULL, &c), CKR_OK);
    ck_assert_str_eq(c->path, mine);
    ck_assert_ptr_nonnull(device(c, "mine"));
    config_free(c);

    /* an explicit path beats SEA_CONF */
    write_file(explicit, "[device other]\n", 15);
    ck_assert_uint_eq(config_open(explicit, &c), CKR_OK);
    ck_assert_str_eq(c->path, explicit);
    ck_assert_ptr_nonnull(device(c, "other"));
    config_free(c);

    /* nothing found: the embedded default */
    unsetenv("SEA_CONF");
    if (!etc_conf_exists()) {
        ck_assert_uint_eq(config_open(NULL, &c), CKR_OK);
        ck_assert(c->embedded);
        ck_assert_str_eq(config_get(device(c, "soft"), "path"), store);
        config_free(c);
    }
}
END_TEST

/* ---- embedded default ---- */

static void assert_default_store(const char *want)
{
    struct config *c = NULL;
    ck_assert_uint_eq(config_default(&c), CKR_OK);
    ck_assert(c->embedded);
    ck_assert_str_eq(c->path, "(embedded default)");
    ck_assert_uint_eq(c->nsec, 1);
    ck_assert_ptr_null(config_global(c));
    ck_assert_str_eq(c->sec[0].kind, "device");
    ck_assert_str_eq(c->sec[0].name, "soft");
    ck_assert_str_eq(config_get(&c->sec[0], "backend"), "soft");
    ck_assert_str_eq(config_get(&c->sec[0], "path"), want);
    config_free(c);
}

START_TEST(default_store_from_sea_store)
{
    setenv("SEA_STORE", "/data/sea-store", 1);
    setenv("XDG_DATA_HOME", "/xdg/data", 1);
    setenv("HOME", "/home/bob", 1);
    assert_default_store("/data/sea-store");
}
END_TEST

START_TEST(default_store_from_xdg_data_home)
{
    unsetenv("SEA_STORE");
    setenv("XDG_DATA_HOME", "/xdg/data", 1);
    setenv("HOME", "/home/bob", 1);
    assert_default_store("/xdg/data/sea");
    setenv("SEA_STORE", "", 1); /* empty counts as unset */
    assert_default_store("/xdg/data/sea");
}
END_TEST

START_TEST(default_store_from_home_only)
{
    unsetenv("SEA_STORE");
    unsetenv("XDG_DATA_HOME");
    setenv("HOME", "/home/bob", 1);
    assert_default_store("/home/bob/.local/share/sea");
    setenv("XDG_DATA_HOME", "not/absolute", 1); /* ignored, as the XDG spec says */
    assert_default_store("/home/bob/.local/share/sea");
}
END_TEST

START_TEST(default_without_any_location_is_an_error)
{
    unsetenv("SEA_STORE");
    unsetenv("XDG_DATA_HOME");
    unsetenv("HOME");
    struct config *c = (struct config *)0x1;
    err_clear();
    ck_assert_uint_eq(config_default(&c), CKR_ARGUMENTS_BAD);
    ck_assert_ptr_eq(c, (struct config *)0x1);
    ck_assert_int_eq(err_get()->origin, ORIGIN_CORE);
    ck_assert_ptr_nonnull(strstr(err_get()->msg, "SEA_STORE"));
}
END_TEST

/* ---- typed getters ---- */

START_TEST(ulong_accepts_decimal_hex_and_default)
{
    struct config *c = parse_ok("[sea]\na = 42\nb = 0x1F\nc = 0XfF\nd = 007\n"
                                "e = 18446744073709551615\nf = 0\n");
    const struct config_section *g = config_global(c);
    unsigned long v = 0;
    ck_assert_uint_eq(config_get_ulong(g, "a", 1, 0, 100, &v), CKR_OK);
    ck_assert_uint_eq(v, 42);
    ck_assert_uint_eq(config_get_ulong(g, "b", 1, 0, 100, &v), CKR_OK);
    ck_assert_uint_eq(v, 31);
    ck_assert_uint_eq(config_get_ulong(g, "c", 1, 0, 1000, &v), CKR_OK);
    ck_assert_uint_eq(v, 255);
    ck_assert_uint_eq(config_get_ulong(g, "d", 1, 0, 100, &v), CKR_OK);
    ck_assert_uint_eq(v, 7); /* decimal, not octal */
    ck_assert_uint_eq(config_get_ulong(g, "e", 1, 0, ULONG_MAX, &v), CKR_OK);
    ck_assert_uint_eq(v, ULONG_MAX);
    ck_assert_uint_eq(config_get_ulong(g, "f", 1, 0, 5, &v), CKR_OK);
    ck_assert_uint_eq(v, 0);
    ck_assert_uint_eq(config_get_ulong(g, "absent", 77, 0, 5, &v), CKR_OK);
    ck_assert_uint_eq(v, 77);
    ck_assert_uint_eq(config_get_ulong(NULL, "a", 9, 0, 5, &v), CKR_OK); /* no section */
    ck_assert_uint_eq(v, 9);
    config_free(c);
}
END_TEST

/* The getter must fail, leave *out alone and name file, line, key and range. */
static void ulong_fails(const struct config_section *s, const char *key, unsigned long min,
                        unsigned long max, const char *want)
{
    unsigned long v = 12345;
    err_clear();
    ck_assert_uint_eq(config_get_ulong(s, key, 1, min, max, &v), CKR_ARGUMENTS_BAD);
    ck_assert_uint_eq(v, 12345);
    ck_assert_msg(strstr(err_get()->msg, want), "'%s' lacks '%s'", err_get()->msg, want);
}

START_TEST(ulong_rejects_junk_signs_overflow_and_range)
{
    struct config *c = parse_ok("[sea]\n"
                                "junk = 12abc\n"                  /* 2 */
                                "neg = -1\n"                      /* 3 */
                                "pos = +1\n"                      /* 4 */
                                "hexonly = 0x\n"                  /* 5 */
                                "badhex = 0xg1\n"                 /* 6 */
                                "over = 18446744073709551616\n"   /* 7 */
                                "overhex = 0x10000000000000000\n" /* 8 */
                                "blank = \" 5\"\n"                /* 9 */
                                "empty =\n"                       /* 10 */
                                "big = 101\n"                     /* 11 */
                                "small = 2\n");                   /* 12 */
    const struct config_section *g = config_global(c);
    ulong_fails(g, "junk", 0, 100, "t.conf:2: junk: not a number");
    ulong_fails(g, "neg", 0, 100, "t.conf:3: neg: not a number");
    ulong_fails(g, "pos", 0, 100, "t.conf:4: pos:");
    ulong_fails(g, "hexonly", 0, 100, "t.conf:5: hexonly:");
    ulong_fails(g, "badhex", 0, 100, "t.conf:6: badhex:");
    ulong_fails(g, "over", 0, ULONG_MAX, "t.conf:7: over:");
    ulong_fails(g, "overhex", 0, ULONG_MAX, "t.conf:8: overhex:");
    ulong_fails(g, "blank", 0, 100, "t.conf:9: blank:");
    ulong_fails(g, "empty", 0, 100, "t.conf:10: empty:");
    ulong_fails(g, "big", 1, 100, "t.conf:11: big: out of range [1, 100]");
    ulong_fails(g, "small", 3, 100, "t.conf:12: small: out of range [3, 100]");
    ulong_fails(g, "junk", 0, 100, "[0, 100]");
    unsigned long v;
    err_clear();
    ck_assert_uint_eq(config_get_ulong(g, NULL, 1, 0, 5, &v), CKR_ARGUMENTS_BAD);
    ck_assert_uint_eq(config_get_ulong(g, "big", 1, 0, 5, NULL), CKR_ARGUMENTS_BAD);
    ck_assert_uint_eq(config_get_ulong(g, "big", 1, 6, 5, &v), CKR_ARGUMENTS_BAD);
    config_free(c);
}
END_TEST

START_TEST(bool_accepts_every_spelling_case_insensitively)
{
    static const char *const yes[] = {"yes", "TRUE", "On", "1"};
    static const char *const no[] = {"NO", "false", "oFF", "0"};
    char text[64];
    for (size_t i = 0; i < 4; i++) {
        for (int want = 0; want <= 1; want++) {
            snprintf(text, sizeof(text), "[sea]\nb = %s\n", want ? yes[i] : no[i]);
            struct config *c = parse_ok(text);
            bool v = !want;
            ck_assert_uint_eq(config_get_bool(config_global(c), "b", !want, &v), CKR_OK);
            ck_assert_int_eq(v, want);
            config_free(c);
        }
    }
    struct config *c = parse_ok("[sea]\n");
    bool v = false;
    ck_assert_uint_eq(config_get_bool(config_global(c), "absent", true, &v), CKR_OK);
    ck_assert(v);
    config_free(c);
}
END_TEST

START_TEST(bool_rejects_other_words)
{
    struct config *c = parse_ok("[sea]\n[device d]\nx = 1\nflag = maybe\nnum = 2\n");
    const struct config_section *d = device(c, "d");
    bool v = true;
    err_clear();
    ck_assert_uint_eq(config_get_bool(d, "flag", false, &v), CKR_ARGUMENTS_BAD);
    ck_assert(v);
    ck_assert_ptr_nonnull(strstr(err_get()->msg, "t.conf:4: flag: not a boolean"));
    ck_assert_uint_eq(config_get_bool(d, "num", false, &v), CKR_ARGUMENTS_BAD);
    ck_assert_uint_eq(config_get_bool(d, NULL, false, &v), CKR_ARGUMENTS_BAD);
    ck_assert_uint_eq(config_get_bool(d, "x", false, NULL), CKR_ARGUMENTS_BAD);
    config_free(c);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("syntax");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, full_file_gives_sections_keys_and_lines);
    tcase_add_test(tc, second_sea_section_continues_the_first);
    tcase_add_test(tc, empty_text_and_no_global_section);
    tcase_add_test(tc, device_name_limits);
    tcase_add_test(tc, error_unknown_section_kind);
    tcase_add_test(tc, error_duplicate_device_name);
    tcase_add_test(tc, error_key_outside_a_section);
    tcase_add_test(tc, error_missing_equals);
    tcase_add_test(tc, error_bad_names);
    tcase_add_test(tc, error_unterminated_quote);
    tcase_add_test(tc, error_line_too_long);
    tcase_add_test(tc, error_nul_byte);
    tcase_add_test(tc, error_file_over_1_mib);
    tcase_add_test(tc, bad_arguments_are_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("expansion");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, variables_expand_from_the_environment);
    tcase_add_test(tc, undefined_variable_is_an_error_naming_it);
    tcase_add_test(tc, leading_tilde_expands_to_home);
    suite_add_tcase(s, tc);

    tc = tcase_create("files");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, load_reads_a_file_and_reports_unreadable_ones);
    tcase_add_test(tc, search_order_sea_conf_xdg_home);
    tcase_add_test(tc, open_uses_explicit_then_search_then_default);
    tcase_add_test(tc, default_store_from_sea_store);
    tcase_add_test(tc, default_store_from_xdg_data_home);
    tcase_add_test(tc, default_store_from_home_only);
    tcase_add_test(tc, default_without_any_location_is_an_error);
    suite_add_tcase(s, tc);

    tc = tcase_create("getters");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, ulong_accepts_decimal_hex_and_default);
    tcase_add_test(tc, ulong_rejects_junk_signs_overflow_and_range);
    tcase_add_test(tc, bool_accepts_every_spelling_case_insensitively);
    tcase_add_test(tc, bool_rejects_other_words);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

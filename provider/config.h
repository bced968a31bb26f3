/* sea.conf: an INI file of [sea] options and [device NAME] sections, found through SEA_CONF,
 * $XDG_CONFIG_HOME/sea/sea.conf, /etc/sea/sea.conf; without one, the embedded default (one
 * software device in $SEA_STORE or $XDG_DATA_HOME/sea). Documented in sea.conf(5). */
#ifndef SEA_CONFIG_H
#define SEA_CONFIG_H

#include "common.h"

struct config_kv {
    char *key;
    char *value;
    int line;
};

struct config_section {
    const char *file; /* the file it came from (the owning config's path) */
    char *kind;       /* "sea" or "device" */
    char *name;       /* the device name for [device NAME], NULL for [sea] */
    struct config_kv *kv;
    size_t nkv;
    int line;
};

struct config {
    char *path; /* file it came from, or "(embedded default)" */
    bool embedded;
    struct config_section *sec;
    size_t nsec;
};

/* Parse text (name is used in error messages). Syntax errors give CKR_ARGUMENTS_BAD and an
 * error record "NAME:LINE: what is wrong" (origin core). */
CK_RV config_parse(const char *text, size_t len, const char *name, struct config **out);

/* Load and parse a file; CKR_ARGUMENTS_BAD if unreadable or invalid. */
CK_RV config_load(const char *path, struct config **out);

/* The embedded default: [device soft] backend = soft, path = $SEA_STORE, else
 * $XDG_DATA_HOME/sea, else $HOME/.local/share/sea. CKR_ARGUMENTS_BAD if none of them is set. */
CK_RV config_default(struct config **out);

/* The config file the search order finds (malloc'd), or NULL when there is none. */
char *config_find_path(void);

/* explicit_path if given, else the search order, else the embedded default. */
CK_RV config_open(const char *explicit_path, struct config **out);

void config_free(struct config *c);

/* The [sea] section, or NULL. */
const struct config_section *config_global(const struct config *c);

/* The value of key in a section (the last one wins), or NULL. Values have ${VAR} and a leading
 * ~/ expanded at parse time. */
const char *config_get(const struct config_section *s, const char *key);

/* Typed getters: dflt when the key is absent; CKR_ARGUMENTS_BAD (with an error record naming
 * the file, line and key) when the value is malformed or outside [min, max]. */
CK_RV config_get_ulong(const struct config_section *s, const char *key, unsigned long dflt,
                       unsigned long min, unsigned long max, unsigned long *out);
CK_RV config_get_bool(const struct config_section *s, const char *key, bool dflt, bool *out);

#endif

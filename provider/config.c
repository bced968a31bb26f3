/* sea.conf(5): the INI parser, the search order (SEA_CONF, XDG, /etc), the embedded default and
 * typed getters. Every error names the file and line at fault, never a value: values may hold
 * PINs, so they are also wiped when freed. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "error.h"
#include "log.h"

#define CONF_MAX_FILE (1UL << 20)
#define CONF_MAX_LINE 4096
#define CONF_MAX_NAME 31
#define CONF_MAX_VAR  255 /* longest ${NAME} */
#define EMBEDDED_PATH "(embedded default)"

/* Where the system-wide file lives; the build may point it elsewhere. */
#ifndef SEA_SYSCONFDIR
#define SEA_SYSCONFDIR "/etc"
#endif

struct parser {
    const char *name;
    int line;
    struct config *c;
    size_t cur; /* index of the open section; only valid when in_section */
    bool in_section;
};

/* A growing string that wipes what it leaves behind (values may be secrets). */
struct sbuf {
    char *p;
    size_t n, cap;
};

static bool sbuf_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = malloc(cap);
        if (!p)
            return false;
        if (b->p) {
            memcpy(p, b->p, b->n);
            sea_wipe(b->p, b->cap);
            free(b->p);
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return true;
}

static void sbuf_clear(struct sbuf *b)
{
    if (b->p) {
        sea_wipe(b->p, b->cap);
        free(b->p);
    }
    b->p = NULL;
    b->n = b->cap = 0;
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t';
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static bool is_alpha(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_key_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || is_digit(ch) || ch == '_';
}

static bool is_name_char(char ch)
{
    return is_alpha(ch) || is_digit(ch) || ch == '.' || ch == '_' || ch == '-';
}

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && is_space(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && is_space((*s)[*n - 1]))
        (*n)--;
}

static bool span_is(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(s, word, n) == 0;
}

/* getenv, treating an empty value as unset. */
static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* XDG base directories must be absolute; relative values are ignored (XDG Base Directory spec). */
static const char *xdg_env(const char *name)
{
    const char *v = env(name);
    return v && v[0] == '/' ? v : NULL;
}

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 1);
    if (p) {
        memcpy(p, a, la);
        memcpy(p + la, b, lb + 1);
    }
    return p;
}

static CK_RV perr(struct parser *p, const char *fmt, ...) SEA_PRINTF(2, 3);

static CK_RV perr(struct parser *p, const char *fmt, ...)
{
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return err_set(ORIGIN_CORE, CKR_ARGUMENTS_BAD, "%s:%d: %s", p->name, p->line, what);
}

static CK_RV oom(void)
{
    return err_set(ORIGIN_CORE, CKR_HOST_MEMORY, "out of memory reading the configuration");
}

static struct config *config_new(const char *path, bool embedded)
{
    struct config *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->path = strdup(path);
    if (!c->path) {
        free(c);
        return NULL;
    }
    c->embedded = embedded;
    return c;
}

/* The file a section came from, or NULL for a section this module did not make. */
static const char *section_file(const struct config_section *s)
{
    return s->file;
}

void config_free(struct config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nsec; i++) {
        struct config_section *s = &c->sec[i];
        for (size_t j = 0; j < s->nkv; j++) {
            free(s->kv[j].key);
            if (s->kv[j].value) {
                sea_wipe(s->kv[j].value, strlen(s->kv[j].value));
                free(s->kv[j].value);
            }
        }
        free(s->kv);
        free(s->kind);
        free(s->name);
    }
    free(c->sec);
    free(c->path);
    free(c);
}

static CK_RV add_section(struct parser *p, const char *kind, const char *name)
{
    struct config *c = p->c;
    struct config_section *sec = realloc(c->sec, (c->nsec + 1) * sizeof(*sec));
    if (!sec)
        return oom();
    c->sec = sec;
    struct config_section *s = &sec[c->nsec];
    memset(s, 0, sizeof(*s));
    s->line = p->line;
    s->file = c->path;
    s->kind = strdup(kind);
    s->name = name ? strdup(name) : NULL;
    c->nsec++; /* counted now so that config_free releases whatever was allocated */
    if (!s->kind || (name && !s->name))
        return oom();
    p->cur = c->nsec - 1;
    p->in_section = true;
    return CKR_OK;
}

/* Takes ownership of value (wiping and freeing it on failure). */
static CK_RV add_kv(struct parser *p, const char *key, size_t keylen, char *value)
{
    struct config_section *s = &p->c->sec[p->cur];
    struct config_kv *kv = realloc(s->kv, (s->nkv + 1) * sizeof(*kv));
    char *k = strndup(key, keylen);
    if (kv)
        s->kv = kv;
    if (!kv || !k) {
        free(k);
        sea_wipe(value, strlen(value));
        free(value);
        return oom();
    }
    kv[s->nkv].key = k;
    kv[s->nkv].value = value;
    kv[s->nkv].line = p->line;
    s->nkv++;
    return CKR_OK;
}

static bool valid_device_name(const char *s, size_t n)
{
    if (n < 1 || n > CONF_MAX_NAME)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_name_char(s[i]))
            return false;
    return true;
}

/* "[sea]", "[device NAME]" or "[device \"NAME\"]"; s/n is the trimmed line. */
static CK_RV parse_header(struct parser *p, const char *s, size_t n)
{
    if (n < 2 || s[n - 1] != ']')
        return perr(p, "section header without closing ']'");
    const char *in = s + 1;
    size_t inlen = n - 2;
    trim(&in, &inlen);
    size_t kl = 0;
    while (kl < inlen && !is_space(in[kl]))
        kl++;
    const char *rest = in + kl;
    size_t rlen = inlen - kl;
    trim(&rest, &rlen);

    if (kl == 0)
        return perr(p, "empty section header");
    if (span_is(in, kl, "sea")) {
        if (rlen)
            return perr(p, "[sea] takes no name");
        /* A second [sea] continues the first: the global options are one section. */
        for (size_t i = 0; i < p->c->nsec; i++) {
            if (!p->c->sec[i].name && strcmp(p->c->sec[i].kind, "sea") == 0) {
                p->cur = i;
                p->in_section = true;
                return CKR_OK;
            }
        }
        return add_section(p, "sea", NULL);
    }
    if (!span_is(in, kl, "device"))
        return perr(p, "unknown section kind '%.*s' (expected sea or device)",
                    (int)(kl > 32 ? 32 : kl), in);

    if (rlen && rest[0] == '"') {
        if (rlen < 2 || rest[rlen - 1] != '"')
            return perr(p, "unterminated quote in device name");
        rest++;
        rlen -= 2;
    }
    if (!valid_device_name(rest, rlen))
        return perr(p, "bad device name (1-%d characters of A-Z a-z 0-9 . _ -)", CONF_MAX_NAME);
    for (size_t i = 0; i < p->c->nsec; i++) {
        const struct config_section *o = &p->c->sec[i];
        if (o->name && span_is(rest, rlen, o->name))
            return perr(p, "duplicate device '%s' (first at line %d)", o->name, o->line);
    }
    char name[CONF_MAX_NAME + 1];
    memcpy(name, rest, rlen);
    name[rlen] = '\0';
    return add_section(p, "device", name);
}

/* Strip the quotes of a quoted value, resolving \" and \\. */
static CK_RV unquote(struct parser *p, const char *v, size_t n, struct sbuf *out)
{
    for (size_t i = 1; i < n; i++) {
        char ch = v[i];
        if (ch == '"') {
            if (i != n - 1)
                return perr(p, "text after the closing quote");
            return CKR_OK;
        }
        if (ch == '\\') {
            if (i + 1 >= n)
                break;
            ch = v[++i];
            if (ch != '"' && ch != '\\')
                return perr(p, "unknown escape in quoted value (only \\\" and \\\\)");
        }
        if (!sbuf_add(out, &ch, 1))
            return oom();
    }
    return perr(p, "unterminated quote");
}

/* Expand ${VAR} from the environment and a leading ~/ to $HOME. The result is not rescanned. */
static CK_RV expand(struct parser *p, const char *v, size_t n, struct sbuf *out)
{
    size_t i = 0;
    if (n >= 2 && v[0] == '~' && v[1] == '/') {
        const char *home = env("HOME");
        if (!home)
            return perr(p, "value starts with ~/ but HOME is not set");
        if (!sbuf_add(out, home, strlen(home)))
            return oom();
        i = 1;
    }
    while (i < n) {
        if (v[i] == '$' && i + 1 < n && v[i + 1] == '{') {
            size_t start = i + 2, end = start;
            while (end < n && v[end] != '}')
                end++;
            if (end >= n)
                return perr(p, "unterminated ${ in value");
            bool ok = end > start && end - start <= CONF_MAX_VAR &&
                      (is_alpha(v[start]) || v[start] == '_');
            for (size_t k = start; ok && k < end; k++)
                ok = is_alpha(v[k]) || is_digit(v[k]) || v[k] == '_';
            if (!ok)
                return perr(p, "bad variable name in ${...}");
            char var[CONF_MAX_VAR + 1];
            memcpy(var, v + start, end - start);
            var[end - start] = '\0';
            const char *val = getenv(var);
            if (!val)
                return perr(p, "undefined variable %.64s", var);
            if (!sbuf_add(out, val, strlen(val)))
                return oom();
            i = end + 1;
            continue;
        }
        if (!sbuf_add(out, v + i, 1))
            return oom();
        i++;
    }
    if (!out->p && !sbuf_add(out, "", 0)) /* an empty value is "", not NULL */
        return oom();
    return CKR_OK;
}

/* "key = value"; s/n is the trimmed line. */
static CK_RV parse_assignment(struct parser *p, const char *s, size_t n)
{
    struct sbuf raw = {0}, val = {0};
    CK_RV rv = CKR_OK;
    const char *eq = memchr(s, '=', n);
    if (!eq) {
        rv = perr(p, "missing '=' (expected key = value)");
        goto out;
    }
    const char *key = s;
    size_t keylen = (size_t)(eq - s);
    trim(&key, &keylen);
    bool ok = keylen > 0;
    for (size_t i = 0; ok && i < keylen; i++)
        ok = is_key_char(key[i]);
    if (!ok) {
        rv = perr(p, "bad key name (expected [a-z0-9_]+)");
        goto out;
    }
    if (!p->in_section) {
        rv = perr(p, "key '%.*s' outside a section", (int)keylen, key);
        goto out;
    }
    const char *v = eq + 1;
    size_t vlen = n - (size_t)(v - s);
    trim(&v, &vlen);
    if (vlen && v[0] == '"') {
        rv = unquote(p, v, vlen, &raw);
        if (rv != CKR_OK)
            goto out;
        v = raw.p ? raw.p : "";
        vlen = raw.n;
    }
    rv = expand(p, v, vlen, &val);
    if (rv != CKR_OK)
        goto out;
    rv = add_kv(p, key, keylen, val.p);
    val.p = NULL; /* add_kv owns it now */
out:
    sbuf_clear(&raw);
    sbuf_clear(&val);
    return rv;
}

static CK_RV parse_line(struct parser *p, const char *s, size_t n)
{
    if (n > CONF_MAX_LINE)
        return perr(p, "line longer than %d bytes", CONF_MAX_LINE);
    if (memchr(s, '\0', n))
        return perr(p, "NUL byte in the file");
    if (n && s[n - 1] == '\r')
        n--;
    trim(&s, &n);
    if (n == 0 || s[0] == '#' || s[0] == ';')
        return CKR_OK;
    if (s[0] == '[')
        return parse_header(p, s, n);
    return parse_assignment(p, s, n);
}

CK_RV config_parse(const char *text, size_t len, const char *name, struct config **out)
{
    struct parser p = {.name = name ? name : "(config)"};
    CK_RV rv = CKR_OK;
    if (!out || (!text && len)) {
        rv = err_set(ORIGIN_CORE, CKR_ARGUMENTS_BAD, "config_parse: NULL argument");
        goto out;
    }
    if (len > CONF_MAX_FILE) {
        rv = err_set(ORIGIN_CORE, CKR_ARGUMENTS_BAD, "%s: file larger than 1 MiB", p.name);
        goto out;
    }
    p.c = config_new(p.name, false);
    if (!p.c) {
        rv = oom();
        goto out;
    }
    size_t pos = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) /* a UTF-8 byte order mark */
        pos = 3;
    while (pos < len && rv == CKR_OK) {
        const char *ln = text + pos;
        const char *nl = memchr(ln, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - ln) : len - pos;
        pos += n + (nl ? 1 : 0);
        p.line++;
        rv = parse_line(&p, ln, n);
    }
out:
    if (rv != CKR_OK) {
        config_free(p.c);
        return rv;
    }
    *out = p.c;
    return CKR_OK;
}

CK_RV config_load(const char *path, struct config **out)
{
    CK_RV rv = CKR_OK;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int fd = -1;
    if (!path || !out) {
        rv = err_set(ORIGIN_CORE, CKR_ARGUMENTS_BAD, "config_load: NULL argument");
        goto out;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        rv = err_set(ORIGIN_CORE, CKR_ARGUMENTS_BAD, "%s: cannot open: %s", path, strerror(errno));
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        rv = err_set(ORIGIN_CORE, CKR_ARGUMENTS_BAD, "%s: is a directory", path);
        goto out;
    }
    for (;;) {
        if (len == cap) {
            /* One byte beyond the limit tells a too-large file from one exactly at it. */
            if (cap > CONF_MAX_FILE) {
                rv = err_set(ORIGIN_CORE, CKR_ARGUMENTS_BAD, "%s: file larger than 1 MiB", path);
                goto out;
            }
            size_t ncap = cap ? cap * 4 : 4096;
            if (ncap > CONF_MAX_FILE + 1)
                ncap = CONF_MAX_FILE + 1;
            char *nb = malloc(ncap);
            if (!nb) {
                rv = oom();
                goto out;
            }
            if (buf) {
                memcpy(nb, buf, len);
                sea_wipe(buf, cap);
                free(buf);
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rv = err_set(ORIGIN_CORE, CKR_ARGUMENTS_BAD, "%s: cannot read: %s", path,
                         strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    LOGD("parsing %s (%zu bytes)", path, len);
    rv = config_parse(buf, len, path, out);
out:
    if (fd >= 0)
        close(fd);
    if (buf) {
        sea_wipe(buf, cap);
        free(buf);
    }
    return rv;
}

CK_RV config_default(struct config **out)
{
    CK_RV rv = CKR_OK;
    struct config *c = NULL;
    char *store = NULL;
    const char *v;
    struct parser p = {.name = EMBEDDED_PATH};
    if (!out) {
        rv = err_set(ORIGIN_CORE, CKR_ARGUMENTS_BAD, "config_default: NULL argument");
        goto out;
    }
    if ((v = env("SEA_STORE")))
        store = strdup(v);
    else if ((v = xdg_env("XDG_DATA_HOME")))
        store = join(v, "/sea");
    else if ((v = env("HOME")))
        store = join(v, "/.local/share/sea");
    else {
        rv = err_set(ORIGIN_CORE, CKR_ARGUMENTS_BAD,
                     "no configuration file and none of SEA_STORE, XDG_DATA_HOME, HOME is set "
                     "to place the default store");
        goto out;
    }
    c = config_new(EMBEDDED_PATH, true);
    if (!store || !c) {
        rv = oom();
        goto out;
    }
    p.c = c;
    rv = add_section(&p, "device", "soft");
    if (rv != CKR_OK)
        goto out;
    char *backend = strdup("soft");
    if (!backend) {
        rv = oom();
        goto out;
    }
    rv = add_kv(&p, "backend", strlen("backend"), backend);
    if (rv != CKR_OK)
        goto out;
    rv = add_kv(&p, "path", strlen("path"), store);
    store = NULL; /* add_kv owns it now */
    if (rv != CKR_OK)
        goto out;
    LOGD("embedded default: store in %s", config_get(&c->sec[0], "path"));
out:
    free(store);
    if (rv != CKR_OK) {
        config_free(c);
        return rv;
    }
    *out = c;
    return CKR_OK;
}

char *config_find_path(void)
{
    const char *v = env("SEA_CONF");
    if (v) /* returned even when missing, so that the caller reports it */
        return strdup(v);
    char *user = NULL;
    if ((v = xdg_env("XDG_CONFIG_HOME")))
        user = join(v, "/sea/sea.conf");
    else if ((v = env("HOME")))
        user = join(v, "/.config/sea/sea.conf");
    if (user && access(user, F_OK) == 0)
        return user;
    free(user);
    if (access(SEA_SYSCONFDIR "/sea/sea.conf", F_OK) == 0)
        return strdup(SEA_SYSCONFDIR "/sea/sea.conf");
    return NULL;
}

CK_RV config_open(const char *explicit_path, struct config **out)
{
    if (!out)
        return err_set(ORIGIN_CORE, CKR_ARGUMENTS_BAD, "config_open: NULL argument");
    if (explicit_path)
        return config_load(explicit_path, out);
    char *path = config_find_path();
    if (!path) {
        LOGD("no sea.conf found; using the embedded default");
        return config_default(out);
    }
    CK_RV rv = config_load(path, out);
    free(path);
    return rv;
}

const struct config_section *config_global(const struct config *c)
{
    if (!c)
        return NULL;
    for (size_t i = 0; i < c->nsec; i++)
        if (!c->sec[i].name && c->sec[i].kind && strcmp(c->sec[i].kind, "sea") == 0)
            return &c->sec[i];
    return NULL;
}

static const struct config_kv *find_kv(const struct config_section *s, const char *key)
{
    if (!s || !key)
        return NULL;
    for (size_t i = s->nkv; i > 0; i--) /* the last one wins */
        if (strcmp(s->kv[i - 1].key, key) == 0)
            return &s->kv[i - 1];
    return NULL;
}

const char *config_get(const struct config_section *s, const char *key)
{
    const struct config_kv *kv = find_kv(s, key);
    return kv ? kv->value : NULL;
}

static CK_RV value_err(const struct config_section *s, const struct config_kv *kv, const char *fmt,
                       ...) SEA_PRINTF(3, 4);

static CK_RV value_err(const struct config_section *s, const struct config_kv *kv, const char *fmt,
                       ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    const char *file = section_file(s);
    return err_set(ORIGIN_CORE, CKR_ARGUMENTS_BAD, "%s:%d: %s: %s", file ? file : "sea.conf",
                   kv->line, kv->key, what);
}

/* Decimal or 0x hexadecimal, nothing else: no sign, no blanks, no trailing text. */
static bool parse_ulong(const char *s, unsigned long *out)
{
    unsigned base = 10;
    unsigned long v = 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!*s)
        return false;
    for (; *s; s++) {
        unsigned d;
        if (is_digit(*s))
            d = (unsigned)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else
            return false;
        if (v > (ULONG_MAX - d) / base)
            return false;
        v = v * base + d;
    }
    *out = v;
    return true;
}

CK_RV config_get_ulong(const struct config_section *s, const char *key, unsigned long dflt,
                       unsigned long min, unsigned long max, unsigned long *out)
{
    if (!key || !out || min > max)
        return err_set(ORIGIN_CORE, CKR_ARGUMENTS_BAD, "config_get_ulong: bad arguments");
    const struct config_kv *kv = find_kv(s, key);
    if (!kv) {
        *out = dflt;
        return CKR_OK;
    }
    unsigned long v;
    if (!parse_ulong(kv->value, &v))
        return value_err(s, kv, "not a number (decimal or 0x hex) in the range [%lu, %lu]", min,
                         max);
    if (v < min || v > max)
        return value_err(s, kv, "out of range [%lu, %lu]", min, max);
    *out = v;
    return CKR_OK;
}

CK_RV config_get_bool(const struct config_section *s, const char *key, bool dflt, bool *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    if (!key || !out)
        return err_set(ORIGIN_CORE, CKR_ARGUMENTS_BAD, "config_get_bool: bad arguments");
    const struct config_kv *kv = find_kv(s, key);
    if (!kv) {
        *out = dflt;
        return CKR_OK;
    }
    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        if (strcasecmp(kv->value, yes[i]) == 0) {
            *out = true;
            return CKR_OK;
        }
        if (strcasecmp(kv->value, no[i]) == 0) {
            *out = false;
            return CKR_OK;
        }
    }
    return value_err(s, kv, "not a boolean (yes/no, true/false, on/off, 1/0)");
}

/* sea-tool's PINs: from a file (--pin-file, --so-pin-file), the environment ($SEA_PIN,
 * $SEA_SO_PIN) or a prompt on /dev/tty with echo off. A PIN never comes from argv, is never
 * printed and is wiped (explicit_bzero) as soon as it has been used. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "tool.h"

/* Set by the signal handler while the terminal has echo off: the prompt restores the terminal
 * first, then re-raises the signal. */
static volatile sig_atomic_t caught_signal;

static const int prompt_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP};
#define NSIGNALS (sizeof(prompt_signals) / sizeof(prompt_signals[0]))

static void on_signal(int sig)
{
    caught_signal = sig;
}

static const char *role_env(enum pin_role role)
{
    return role == PIN_SO ? "SEA_SO_PIN" : "SEA_PIN";
}

static const char *role_file(const struct tool *t, enum pin_role role)
{
    return role == PIN_SO ? t->so_pin_file : t->pin_file;
}

void pin_wipe(struct pin *p)
{
    explicit_bzero(p, sizeof(*p));
}

bool pin_available(const struct tool *t, enum pin_role role)
{
    const char *env = getenv(role_env(role));
    return role_file(t, role) || (env && *env);
}

/* The first line of the file, without its line ending. */
static int pin_from_file(struct tool *t, const char *path, struct pin *out)
{
    char buf[PIN_MAX + 3]; /* the PIN, "\r\n" and one byte to see that it was too long */
    size_t n = 0;
    int rc = TOOL_FAIL;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        rc = tool_error(t, "cannot open the PIN file %s: %s", path, strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) == 0 && (st.st_mode & (S_IROTH | S_IWOTH)))
        tool_warn("the PIN file %s is accessible to other users (chmod 600 it)", path);
    while (n < sizeof(buf) && !memchr(buf, '\n', n)) {
        ssize_t r = read(fd, buf + n, sizeof(buf) - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = tool_error(t, "cannot read the PIN file %s: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    char *nl = memchr(buf, '\n', n);
    size_t len = nl ? (size_t)(nl - buf) : n;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    if (len > PIN_MAX) {
        rc = tool_error(t, "the PIN in %s is longer than %d characters", path, PIN_MAX);
        goto out;
    }
    if (len == 0) {
        rc = tool_error(t, "the PIN file %s is empty", path);
        goto out;
    }
    memcpy(out->v, buf, len);
    out->v[len] = '\0';
    out->len = len;
    rc = TOOL_OK;
out:
    explicit_bzero(buf, sizeof(buf));
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Best effort: a prompt the terminal does not take still leaves the PIN readable. */
static void tty_write(int fd, const char *s)
{
    ssize_t r = write(fd, s, strlen(s));
    (void)r;
}

/* One line from the terminal, echo off. Returns TOOL_OK, or TOOL_FAIL with *why set. */
static int read_tty_line(int fd, const char *prompt, struct pin *out, const char **why)
{
    struct termios old, quiet;
    struct sigaction sa, saved[NSIGNALS];
    bool too_long = false, eof = false;
    int rc = TOOL_FAIL;
    char c;
    out->len = 0;
    if (tcgetattr(fd, &old) != 0) {
        *why = "the terminal settings cannot be read";
        return TOOL_FAIL;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: read() returns EINTR */
    sigemptyset(&sa.sa_mask);
    caught_signal = 0;
    for (size_t i = 0; i < NSIGNALS; i++)
        sigaction(prompt_signals[i], &sa, &saved[i]);
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
    quiet.c_lflag |= ECHONL | ICANON;
    if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0) {
        *why = "echo cannot be switched off on the terminal";
        goto restore;
    }
    tty_write(fd, prompt);
    for (;;) {
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR && !caught_signal)
            continue;
        if (r < 0) {
            *why = caught_signal ? "interrupted" : "the terminal cannot be read";
            goto restore;
        }
        if (r == 0) {
            eof = true;
            break;
        }
        if (c == '\n' || c == '\r')
            break;
        if (out->len < PIN_MAX)
            out->v[out->len++] = c;
        else
            too_long = true;
    }
    out->v[out->len] = '\0';
    if (eof) /* ECHONL echoed no newline: keep the terminal tidy */
        tty_write(fd, "\n");
    if (too_long)
        *why = "the PIN is too long";
    else if (out->len == 0)
        *why = "the PIN is empty";
    else
        rc = TOOL_OK;
restore:
    explicit_bzero(&c, sizeof(c));
    tcsetattr(fd, TCSAFLUSH, &old);
    for (size_t i = 0; i < NSIGNALS; i++)
        sigaction(prompt_signals[i], &saved[i], NULL);
    if (caught_signal) {
        pin_wipe(out);
        raise(caught_signal);
    }
    if (rc != TOOL_OK)
        pin_wipe(out);
    return rc;
}

/* Equal lengths and contents, in time independent of where they differ. */
static bool pin_equal(const struct pin *a, const struct pin *b)
{
    unsigned char diff = a->len != b->len;
    size_t n = a->len < b->len ? a->len : b->len;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(a->v[i] ^ b->v[i]);
    return diff == 0;
}

static int pin_from_tty(struct tool *t, enum pin_role role, bool confirm, const char *what,
                        struct pin *out)
{
    const char *name = role == PIN_SO ? "SO PIN" : "user PIN";
    char prompt[160];
    struct pin again;
    const char *why = NULL;
    int rc = TOOL_FAIL;
    memset(&again, 0, sizeof(again));
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        rc = tool_error(t, "no %s given: use %s, $%s or run on a terminal", name,
                        role == PIN_SO ? "--so-pin-file" : "--pin-file", role_env(role));
        goto out;
    }
    snprintf(prompt, sizeof(prompt), "%s%s%s: ", confirm ? "New " : "",
             confirm || role == PIN_SO ? name : "User PIN", what ? what : "");
    if (read_tty_line(fd, prompt, out, &why) != TOOL_OK) {
        rc = tool_error(t, "reading the %s: %s", name, why ? why : "failed");
        goto out;
    }
    if (confirm) {
        snprintf(prompt, sizeof(prompt), "Repeat the new %s: ", name);
        if (read_tty_line(fd, prompt, &again, &why) != TOOL_OK) {
            rc = tool_error(t, "reading the %s: %s", name, why ? why : "failed");
            goto out;
        }
        if (!pin_equal(out, &again)) {
            rc = tool_error(t, "the two %ss do not match", name);
            goto out;
        }
    }
    rc = TOOL_OK;
out:
    pin_wipe(&again);
    if (rc != TOOL_OK)
        pin_wipe(out);
    if (fd >= 0)
        close(fd);
    return rc;
}

int pin_get(struct tool *t, enum pin_role role, bool confirm, const char *what, struct pin *out)
{
    memset(out, 0, sizeof(*out));
    const char *file = role_file(t, role);
    if (file)
        return pin_from_file(t, file, out);
    const char *env = getenv(role_env(role));
    if (env && *env) {
        size_t len = strlen(env);
        if (len > PIN_MAX)
            return tool_error(t, "$%s is longer than %d characters", role_env(role), PIN_MAX);
        memcpy(out->v, env, len + 1);
        out->len = len;
        return TOOL_OK;
    }
    return pin_from_tty(t, role, confirm, what, out);
}

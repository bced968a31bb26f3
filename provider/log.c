/* Opt-in logging to stderr or SEA_LOG_FILE. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include "log.h"

static int g_level = LOG_NONE;
static FILE *g_out;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"none", "error", "warn", "info", "debug"};

bool log_set_level_name(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(level_names); i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            __atomic_store_n(&g_level, (int)i, __ATOMIC_RELAXED);
            return true;
        }
    }
    return false;
}

void log_set_level(int level)
{
    if (level < LOG_NONE)
        level = LOG_NONE;
    if (level > LOG_DEBUG)
        level = LOG_DEBUG;
    __atomic_store_n(&g_level, level, __ATOMIC_RELAXED);
}

int log_level(void)
{
    return __atomic_load_n(&g_level, __ATOMIC_RELAXED);
}

void log_init_from_env(void)
{
    const char *lvl = getenv("SEA_LOG");
    if (lvl && *lvl && !log_set_level_name(lvl))
        log_set_level(LOG_DEBUG);
    const char *file = getenv("SEA_LOG_FILE");
    pthread_mutex_lock(&g_lock);
    if (file && *file && !g_out)
        g_out = fopen(file, "ae");
    pthread_mutex_unlock(&g_lock);
}

void log_msg(int level, const char *func, const char *fmt, ...)
{
    if (level > log_level() || level <= LOG_NONE)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    pthread_mutex_lock(&g_lock);
    FILE *out = g_out ? g_out : stderr;
    fprintf(out, "sea[%ld.%03ld] %s %s: %s\n", (long)ts.tv_sec, ts.tv_nsec / 1000000L,
            level_names[level], func ? func : "", line);
    fflush(out);
    pthread_mutex_unlock(&g_lock);
}

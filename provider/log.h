/* Opt-in diagnostics. The library never prints unless SEA_LOG (or `log =` in sea.conf) asks;
 * lines go to stderr or to SEA_LOG_FILE. Never log secrets. */
#ifndef SEA_LOG_H
#define SEA_LOG_H

#include "common.h"

enum log_level { LOG_NONE = 0, LOG_ERROR = 1, LOG_WARN = 2, LOG_INFO = 3, LOG_DEBUG = 4 };

/* Set the level from a name ("none", "error", "warn", "info", "debug"); false if unknown. */
bool log_set_level_name(const char *name);
void log_set_level(int level);
int log_level(void);

/* (Re)read SEA_LOG and SEA_LOG_FILE; the environment wins over the configuration. */
void log_init_from_env(void);

void log_msg(int level, const char *func, const char *fmt, ...) SEA_PRINTF(3, 4);

#define LOGE(...) log_msg(LOG_ERROR, __func__, __VA_ARGS__)
#define LOGW(...) log_msg(LOG_WARN, __func__, __VA_ARGS__)
#define LOGI(...) log_msg(LOG_INFO, __func__, __VA_ARGS__)
#define LOGD(...)                                                                                  \
    do {                                                                                           \
        if (log_level() >= LOG_DEBUG)                                                              \
            log_msg(LOG_DEBUG, __func__, __VA_ARGS__);                                             \
    } while (0)

#endif

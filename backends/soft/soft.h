/* The software SE backend ("soft"): SEs and objects kept in a SQLite store per device directory,
 * secrets sealed under a per-SE key that the SO and user PINs wrap. */
#ifndef SEA_SOFT_H
#define SEA_SOFT_H

#include "backend.h"

extern const struct sea_backend_ops soft_backend_ops;

#endif

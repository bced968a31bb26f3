/* Internal definitions shared by every part of libsea: the PKCS#11 types, visibility,
 * precondition macros and the small helpers the core, the backends and the faces all use. */
#ifndef SEA_COMMON_H
#define SEA_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sea/pkcs11.h"
#include "sea/pkcs11-sea.h"

/* Everything is hidden unless marked; the symbol maps then export only the public entry points. */
#define SEA_EXPORT __attribute__((visibility("default")))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define SEA_UNUSED __attribute__((unused))

/* printf-style checking for our own formatters. */
#define SEA_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Internal status: an object with that class and label exists already (sensitive data objects
 * have unique resource ids). Never returned through the PKCS#11 face. */
#define CKR_SEA_EXISTS (CKR_VENDOR_DEFINED | 0x5EA00001UL)

/* Boolean attribute value helpers. */
#define CKB(x) ((CK_BBOOL)((x) ? CK_TRUE : CK_FALSE))

/* Wipe memory in a way the compiler may not drop (OPENSSL_cleanse). */
void sea_wipe(void *p, size_t n);

/* Memory for secret values: OpenSSL's secure heap for small ones (keys), the normal heap for
 * large ones (a sensitive data object can be as large as the secure heap) or when the secure
 * heap is full; wiped when freed either way. */
void *sea_secret_alloc(size_t n);
void sea_secret_free(void *p, size_t n);

/* Constant-time comparison; returns 0 when equal. */
int sea_ct_memcmp(const void *a, const void *b, size_t n);

/* Copy s into a space-padded, not NUL-terminated PKCS#11 field of n bytes. */
void sea_pad(CK_UTF8CHAR *dst, size_t n, const char *s);

/* Trim a space-padded PKCS#11 field into a NUL-terminated string (dst has n+1 bytes). */
void sea_unpad(char *dst, const CK_UTF8CHAR *src, size_t n);

/* Monotonic time in microseconds and wall-clock seconds since the epoch. */
uint64_t sea_now_us(void);
int64_t sea_time(void);

#endif

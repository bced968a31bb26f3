/* Small helpers: wiping, constant-time comparison, padded PKCS#11 strings, clocks. */
#include <openssl/crypto.h>
#include <time.h>

#include "common.h"

void sea_wipe(void *p, size_t n)
{
    if (p && n)
        OPENSSL_cleanse(p, n);
}

/* Above this, secrets go to the normal heap: the secure heap (1 MiB by default) is kept for
 * key material. */
#define SECURE_HEAP_MAX_ALLOC 4096

void *sea_secret_alloc(size_t n)
{
    void *p = NULL;
    if (n == 0)
        n = 1;
    if (n <= SECURE_HEAP_MAX_ALLOC && CRYPTO_secure_malloc_initialized())
        p = OPENSSL_secure_malloc(n);
    return p ? p : OPENSSL_malloc(n);
}

void sea_secret_free(void *p, size_t n)
{
    if (!p)
        return;
    if (n == 0)
        n = 1;
    if (CRYPTO_secure_allocated(p))
        OPENSSL_secure_clear_free(p, n);
    else
        OPENSSL_clear_free(p, n);
}

int sea_ct_memcmp(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n);
}

void sea_pad(CK_UTF8CHAR *dst, size_t n, const char *s)
{
    size_t l = s ? strlen(s) : 0;
    if (l > n)
        l = n;
    memset(dst, ' ', n);
    if (l)
        memcpy(dst, s, l);
}

void sea_unpad(char *dst, const CK_UTF8CHAR *src, size_t n)
{
    while (n > 0 && (src[n - 1] == ' ' || src[n - 1] == '\0'))
        n--;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

uint64_t sea_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int64_t sea_time(void)
{
    return (int64_t)time(NULL);
}

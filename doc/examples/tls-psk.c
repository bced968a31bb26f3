/* TLS 1.2 PSK-SAEF (TS-0003 8.2.2.1) with the Kpsa inside libsea: Entity A (client) and Entity B
 * (server) each have an SE holding the same Ke; each derives Kpsa = HMAC-SHA-256(Ke, label ||
 * Enrolee-B-ID) inside its SE, as a key that may leave the SE in clear (extractable, not
 * sensitive), SUID 12, CKA_ID = the KpsaID; OpenSSL's PSK callbacks get it with sea_psk_find.
 * Cipher suite TLS_PSK_WITH_AES_128_CBC_SHA256 (TS-0003 10.2.2). doc/tls-psk.md explains it.
 *
 *   tls-psk CONF selftest      both ends in this process (two threads over a socketpair), then
 *                              the refusals: another Ke, a non-extractable Kpsa, SUID 13, expired
 *   tls-psk CONF server FILE   Entity B alone: listens on 127.0.0.1, writes its port to FILE,
 *                              serves one client (e.g. openssl s_client -psk), answers "pong"
 * CONF is a sea.conf whose first device can create SEs (the example creates its own SEs). */
#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sea/sea.h>

#define SO_PIN   "so-pin-1234"
#define USER_PIN "user-pin-1234"
#define CIPHER   "PSK-AES128-CBC-SHA256"

static const char ENROLEE_B_ID[] = "CAE0001";           /* the Enrolee-B-ID of the derivation */
static const char ISSUER_FQDN[] = "in-cse.example.com"; /* the KpsaID's issuer */
static char kpsa_id[SEA_ID_MAX + 1];                    /* CAE0001@in-cse.example.com */

static sea_ctx *ctx;
static sea_se *client_se, *server_se; /* the SE each PSK callback asks */
static char server_error[256];        /* why the server's callback refused, if it did */

static int fail(const char *what, sea_rv r)
{
    fprintf(stderr, "%s: %s (%s)\n", what, sea_rv_name(r), sea_last_error(NULL));
    return -1;
}

/* Create and open an SE; import Ke (a pre-provisioned key, here 00 01 .. 1f as in the TS-0016
 * digest section 7, or its last byte changed if other_ke) and derive Kpsa in it. */
static int make_se(const char *name, int other_ke, int extractable, unsigned long suid,
                   const char *end_date, sea_se **out)
{
    sea_se_params p = {.name = name,
                       .security_level = -1,
                       .so_pin = SO_PIN,
                       .so_pin_len = strlen(SO_PIN),
                       .user_pin = USER_PIN,
                       .user_pin_len = strlen(USER_PIN)};
    sea_rv r = sea_se_create(ctx, &p, NULL);
    if (r != SEA_OK || (r = sea_se_open(ctx, name, out)) != SEA_OK ||
        (r = sea_login(*out, SEA_USER, USER_PIN, strlen(USER_PIN))) != SEA_OK)
        return fail(name, r);
    uint8_t ke[32];
    for (int i = 0; i < 32; i++)
        ke[i] = (uint8_t)i;
    if (other_ke)
        ke[31] ^= 0x80;
    sea_key_params kp = {.type = SEA_KEY_GENERIC_SECRET, .label = "Ke", .usage = SEA_USE_DERIVE};
    sea_obj k = 0, kpsa = 0;
    r = sea_key_import_secret(*out, &kp, ke, sizeof(ke), &k);
    OPENSSL_cleanse(ke, sizeof(ke));
    if (r != SEA_OK)
        return fail("importing Ke", r);
    /* Kpsa: a PSK for a TLS stack, so extractable and not sensitive (clear_export), bound to the
     * SAEF (SUID 12), named by its KpsaID */
    sea_derive_params d = {.kdf = SEA_KDF_KPSA,
                           .input = (const uint8_t *)ENROLEE_B_ID,
                           .input_len = strlen(ENROLEE_B_ID)};
    sea_key_params kk = {.type = SEA_KEY_GENERIC_SECRET,
                         .label = "Kpsa",
                         .id = (const uint8_t *)kpsa_id,
                         .id_len = strlen(kpsa_id),
                         .extractable = extractable,
                         .clear_export = extractable,
                         .suid = suid,
                         .end_date = end_date};
    if ((r = sea_derive_onem2m(*out, k, &d, &kk, &kpsa)) != SEA_OK)
        return fail("deriving Kpsa", r);
    return 0;
}

/* ---- OpenSSL's PSK callbacks ---- */

static unsigned int client_cb(SSL *ssl, const char *hint, char *identity,
                              unsigned int max_identity_len, unsigned char *psk,
                              unsigned int max_psk_len)
{
    (void)ssl;
    (void)hint;
    size_t n = strlen(kpsa_id), len = max_psk_len;
    if (n + 1 > max_identity_len)
        return 0;
    sea_rv r = sea_psk_find(client_se, SEA_PSK_KPSA, kpsa_id, n, psk, &len);
    if (r != SEA_OK) {
        fail("client: no PSK", r);
        return 0;
    }
    memcpy(identity, kpsa_id, n + 1);
    return (unsigned int)len;
}

static unsigned int server_cb(SSL *ssl, const char *identity, unsigned char *psk,
                              unsigned int max_psk_len)
{
    (void)ssl;
    size_t len = max_psk_len;
    sea_rv r = sea_psk_find(server_se, SEA_PSK_KPSA, identity, strlen(identity), psk, &len);
    if (r != SEA_OK) {
        snprintf(server_error, sizeof(server_error), "%s: %s", sea_rv_name(r),
                 sea_last_error(NULL));
        fprintf(stderr, "server: PSK refused: %s\n", server_error);
        return 0; /* the handshake fails: unknown_psk_identity */
    }
    return (unsigned int)len;
}

static SSL_CTX *tls_ctx(int server)
{
    SSL_CTX *c = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!c || !SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) ||
        !SSL_CTX_set_max_proto_version(c, TLS1_2_VERSION) || !SSL_CTX_set_cipher_list(c, CIPHER)) {
        SSL_CTX_free(c);
        return NULL;
    }
    if (server)
        SSL_CTX_set_psk_server_callback(c, server_cb);
    else
        SSL_CTX_set_psk_client_callback(c, client_cb);
    return c;
}

/* One end of a connection: handshake, check the suite, then exchange a line each way. */
struct end {
    int server, fd, ok;
};

static void *run_end(void *arg)
{
    struct end *e = arg;
    SSL_CTX *c = tls_ctx(e->server);
    SSL *s = c ? SSL_new(c) : NULL;
    char buf[64] = {0};
    if (!s || !SSL_set_fd(s, e->fd))
        goto out;
    if ((e->server ? SSL_accept(s) : SSL_connect(s)) != 1) {
        fprintf(stderr, "%s: handshake failed\n", e->server ? "server" : "client");
        goto out;
    }
    const char *suite = SSL_CIPHER_get_name(SSL_get_current_cipher(s));
    if (strcmp(suite, CIPHER) != 0 || SSL_version(s) != TLS1_2_VERSION) {
        fprintf(stderr, "unexpected suite %s\n", suite);
        goto out;
    }
    const char *say = e->server ? "pong\n" : "ping\n", *want = e->server ? "ping" : "pong";
    if (!e->server && SSL_write(s, say, 5) != 5)
        goto out;
    if (SSL_read(s, buf, sizeof(buf) - 1) <= 0 || strncmp(buf, want, 4) != 0)
        goto out;
    if (e->server && SSL_write(s, say, 5) != 5)
        goto out;
    printf("%s: TLS 1.2 %s, got \"%.4s\"\n", e->server ? "server" : "client", suite, buf);
    e->ok = 1;
    SSL_shutdown(s);
out:
    ERR_clear_error();
    SSL_free(s);
    SSL_CTX_free(c);
    close(e->fd); /* the peer sees the end of the connection if this end failed */
    return NULL;
}

/* Client and server in two threads over a socketpair; 1 if both completed. */
static int handshake(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return 0;
    struct end a = {0, sv[0], 0}, b = {1, sv[1], 0};
    pthread_t ta, tb;
    server_error[0] = '\0';
    pthread_create(&tb, NULL, run_end, &b);
    pthread_create(&ta, NULL, run_end, &a);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    return a.ok && b.ok;
}

/* A refused case: the handshake must fail and the server's refusal must say `why`. */
static int refused(const char *name, const char *why)
{
    if (handshake()) {
        fprintf(stderr, "FAIL: %s: the handshake succeeded\n", name);
        return 1;
    }
    if (why && !strstr(server_error, why)) {
        fprintf(stderr, "FAIL: %s: the server's error \"%s\" lacks \"%s\"\n", name, server_error,
                why);
        return 1;
    }
    printf("refused as expected: %s%s%s\n", name, why ? ": " : "", why ? server_error : "");
    return 0;
}

static int selftest(void)
{
    int bad = 0;
    if (make_se("entity-a", 0, 1, 12, NULL, &client_se) ||
        make_se("entity-b", 0, 1, 12, NULL, &server_se))
        return 1;
    if (!handshake()) {
        fprintf(stderr, "FAIL: the PSK handshake did not complete\n");
        return 1;
    }
    printf("PSK handshake OK with %s\n", kpsa_id);
    sea_se *good = server_se, *other;
    /* B's Kpsa from another Ke: the Finished messages do not verify */
    if (make_se("b-other-ke", 1, 1, 12, NULL, &other))
        return 1;
    server_se = other;
    bad |= refused("a Kpsa from another Ke", NULL);
    sea_se_close(other);
    /* B's Kpsa made the default way: it may not leave the SE */
    if (make_se("b-sensitive", 0, 0, 12, NULL, &other))
        return 1;
    server_se = other;
    bad |= refused("a sensitive, non-extractable Kpsa", "may not leave the SE in clear");
    sea_se_close(other);
    /* SUID 13: a key for ESPrim */
    if (make_se("b-esprim", 0, 1, 13, NULL, &other))
        return 1;
    server_se = other;
    bad |= refused("a Kpsa with SUID 13", "SUID 13");
    sea_se_close(other);
    /* expired yesterday or earlier */
    if (make_se("b-expired", 0, 1, 12, "20200101", &other))
        return 1;
    server_se = other;
    bad |= refused("an expired Kpsa", "SEA_ERR_DENIED");
    sea_se_close(other);
    server_se = good;
    return bad;
}

/* Entity B for an outside client: one connection on 127.0.0.1, port written to portfile. */
static int serve(const char *portfile)
{
    if (make_se("entity-b", 0, 1, 12, NULL, &server_se))
        return 1;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(l, 1) != 0 ||
        getsockname(l, (struct sockaddr *)&a, &al) != 0)
        return 1;
    FILE *f = fopen(portfile, "w");
    if (!f)
        return 1;
    fprintf(f, "%u\n", ntohs(a.sin_port));
    fclose(f);
    struct end b = {1, accept(l, NULL, NULL), 0};
    close(l);
    if (b.fd < 0)
        return 1;
    run_end(&b);
    return b.ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 3 ||
        (strcmp(argv[2], "selftest") != 0 && !(strcmp(argv[2], "server") == 0 && argc == 4))) {
        fprintf(stderr, "usage: %s CONF selftest | %s CONF server PORTFILE\n", argv[0], argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* a peer that gave up must not kill us: SSL_write reports it */
    size_t n = sizeof(kpsa_id);
    sea_rv r = sea_open(&ctx, argv[1]);
    if (r != SEA_OK || (r = sea_id_kpsa(ENROLEE_B_ID, ISSUER_FQDN, kpsa_id, &n)) != SEA_OK)
        return fail("setting up", r) ? 1 : 1; /* fail() is -1 */
    int rc = strcmp(argv[2], "selftest") == 0 ? selftest() : serve(argv[3]);
    sea_se_close(client_se);
    sea_se_close(server_se);
    sea_close(ctx);
    return rc;
}

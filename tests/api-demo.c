/* The README's example: how a CSE uses libsea at enrolment and afterwards. It creates an SE,
 * generates its P-256 key, stores a pre-provisioned symmetric key, signs and verifies, and keeps
 * a sensitive data object — printing each step. Run by `make demo` and by the test suite. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sea/sea.h>

#define CHECK(call)                                                                                \
    do {                                                                                           \
        sea_rv rv_ = (call);                                                                       \
        if (rv_ != SEA_OK) {                                                                       \
            fprintf(stderr, "%s failed: %s: %s\n", #call, sea_rv_name(rv_), sea_last_error(NULL)); \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

int main(void)
{
    const char *so_pin = "so-pin-1234", *pin = "user-pin-1234";
    sea_ctx *ctx;
    sea_se *se;

    /* No sea.conf: the embedded default, one software device under $SEA_STORE. */
    CHECK(sea_open(&ctx, NULL));

    /* Enrolment: create the CSE's secure environment and personalise it. */
    sea_se_params p = {.name = "cse-demo",
                       .security_level = -1,
                       .so_pin = so_pin,
                       .so_pin_len = strlen(so_pin),
                       .user_pin = pin,
                       .user_pin_len = strlen(pin)};
    sea_se_info info;
    CHECK(sea_se_create(ctx, &p, &info));
    printf("created SE %s: M2M-SE-ID %s, SE type %u, security level %u, backend %s, slot %lu\n",
           info.name, info.se_id, info.se_type, info.security_level, info.backend, info.slot_id);

    CHECK(sea_se_open(ctx, "cse-demo", &se));
    CHECK(sea_login(se, SEA_USER, pin, strlen(pin)));

    /* The CSE's certificate key (TS-0003 10.1.1.1: ECDSA P-256), generated inside the SE. */
    sea_key_params ec = {.type = SEA_KEY_EC_P256, .label = "cse-cert-key"};
    sea_obj key, pub;
    CHECK(sea_key_generate(se, &ec, &key, &pub));
    sea_object_info oi;
    CHECK(sea_object_info_get(se, key, &oi));
    printf("generated P-256 key %s (extractable: %s)\n", oi.uri, oi.extractable ? "yes" : "no");

    /* A pre-provisioned symmetric key (Kpsa for the PSK security association), imported once. */
    unsigned char kpsa[32];
    for (size_t i = 0; i < sizeof(kpsa); i++)
        kpsa[i] = (unsigned char)(0xA0 + i);
    sea_key_params sym = {.type = SEA_KEY_GENERIC_SECRET, .label = "kpsa", .suid = 12};
    sea_obj psk;
    CHECK(sea_key_import_secret(se, &sym, kpsa, sizeof(kpsa), &psk));
    memset(kpsa, 0, sizeof(kpsa)); /* the only copy now lives in the SE */
    printf("stored pre-provisioned symmetric key \"kpsa\" (SUID 12)\n");

    /* Operation: sign a request and verify it. */
    const char *req = "{\"m2m:rqp\":{\"op\":1,\"to\":\"//in-cse/in-name\"}}";
    unsigned char sig[64];
    size_t siglen = sizeof(sig);
    CHECK(sea_sign(se, key, SEA_ALG_ECDSA_SHA256, (const unsigned char *)req, strlen(req), sig,
                   &siglen));
    CHECK(sea_verify(se, pub, SEA_ALG_ECDSA_SHA256, (const unsigned char *)req, strlen(req), sig,
                     siglen));
    printf("signed a %zu-byte request (%zu-byte ECDSA signature) and verified it\n", strlen(req),
           siglen);
    sig[0] ^= 1;
    if (sea_verify(se, pub, SEA_ALG_ECDSA_SHA256, (const unsigned char *)req, strlen(req), sig,
                   siglen) != SEA_ERR_SIGNATURE_INVALID) {
        fprintf(stderr, "a tampered signature verified\n");
        return 1;
    }
    printf("a tampered signature is rejected\n");

    /* A sensitive data object (TS-0016 <sensitiveDataObject>), stored and read back. */
    const char *cred = "maf.example.com:CAE0001";
    CHECK(sea_data_create(se, "maf-credential", "CAE0001", NULL, (const unsigned char *)cred,
                          strlen(cred)));
    char back[64];
    size_t len = sizeof(back) - 1;
    sea_data_info di;
    CHECK(sea_data_retrieve(se, "maf-credential", (unsigned char *)back, &len, &di));
    back[len] = '\0';
    printf("stored and read back sensitive data object \"%s\" (creator %s, %zu bytes): %s\n",
           di.resource_id, di.creator, di.size, back);
    if (strcmp(back, cred) != 0) {
        fprintf(stderr, "the data read back differs\n");
        return 1;
    }

    sea_se_close(se);
    sea_close(ctx);
    printf("done\n");
    return 0;
}

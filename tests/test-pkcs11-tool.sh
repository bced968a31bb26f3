#!/bin/bash
# Interoperability with OpenSC's pkcs11-tool: token creation on the free slot, stable slot ids,
# EC and RSA key pairs and signatures (RSA-PSS, RSA-OAEP) checked by plain OpenSSL, AES/HMAC,
# digests, random, PIN and sensitivity errors, and pkcs11-tool's own --test and --test-threads.

# automake runs .sh tests with $(SHELL), which may not be bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail
# shellcheck source=tests/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

require_cmd pkcs11-tool opensc
require_cmd openssl openssl
require_cmd sha256sum coreutils

SO_PIN=87654321
PIN=24681357
TOK=sea-interop
TOK2=sea-second
W=$SEA_T/work
mkdir -p "$W"

# The token's objects as "header|label|id" lines (header: "Private Key Object; EC", ...).
objects()
{
    p11 --token-label "$1" --login --pin "$PIN" --list-objects 2>&1 | awk '
        function flush() { if (h != "") print h "|" lab "|" id }
        /^[A-Z][A-Za-z ]* Object;/ { flush(); h = $0; lab = ""; id = "" }
        /^  label: /               { lab = $0; sub(/^  label: +/, "", lab) }
        /^  ID: /                  { id = $0; sub(/^  ID: +/, "", id) }
        END                        { flush() }'
}

# has_object LABEL EREGEX: an object line of token LABEL matches.
has_object()
{
    objects "$1" >"$W/objects"
    cat "$W/objects"
    grep -qE -- "$2" "$W/objects" || die "no object matching /$2/ on token $1"
}

size_of()
{
    stat -c %s "$1"
}

# ---------------------------------------------------------------------------------------
step "a fresh store shows one slot, without a token"
run p11 --list-slots
expect "token state:   uninitialized"
FREE1=$(free_slot)
echo "free slot: $FREE1"

step "--init-token on the free slot creates token $TOK there"
init_token "$TOK" "$SO_PIN" "$PIN"
[ "$INIT_SLOT" = "$FREE1" ] || die "init_token used slot $INIT_SLOT, not the free slot $FREE1"
SLOT1=$(slot_of "$TOK")
[ "$SLOT1" = "$FREE1" ] || die "token $TOK is in slot $SLOT1, not where it was created ($FREE1)"
SERIAL1=$(token_field "$TOK" "serial num")
echo "serial: $SERIAL1"
[[ "$SERIAL1" =~ ^4[0-9A-Za-z._-]{15}$ ]] ||
    die "serial '$SERIAL1' is not a 16-character M2M-SE-ID of type 4 (software)"

step "--list-token-slots shows the token with its PIN initialised"
run p11 --list-token-slots
expect "token label        : $TOK"
expect "token manufacturer : libsea"
FLAGS=$(token_field "$TOK" "token flags")
echo "flags: $FLAGS"
for f in "login required" "token initialized" "PIN initialized"; do
    [[ "$FLAGS" == *"$f"* ]] || die "token flags of $TOK lack '$f': $FLAGS"
done

step "a second token on the new free slot leaves the first token's slot id alone"
FREE2=$(free_slot)
[ "$FREE2" != "$SLOT1" ] || die "the free slot is still $SLOT1, which holds $TOK"
init_token "$TOK2" "$SO_PIN" "$PIN"
[ "$(slot_of "$TOK")" = "$SLOT1" ] || die "token $TOK moved from slot $SLOT1 to $(slot_of "$TOK")"
[ "$(slot_of "$TOK2")" = "$FREE2" ] || die "token $TOK2 is not in slot $FREE2 where it was created"
SERIAL2=$(token_field "$TOK2" "serial num")
[ "$SERIAL2" != "$SERIAL1" ] || die "both tokens have serial $SERIAL1"
[ "$(token_field "$TOK" "serial num")" = "$SERIAL1" ] || die "the serial of $TOK changed"

# ---------------------------------------------------------------------------------------
step "EC key pairs on P-256 and P-384"
run p11 --token-label "$TOK" --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 \
    --id 01 --label ec256
expect "Key pair generated"
run p11 --token-label "$TOK" --login --pin "$PIN" --keypairgen --key-type EC:secp384r1 \
    --id 02 --label ec384
expect "Key pair generated"

step "--list-objects shows both halves of both pairs"
has_object "$TOK" '^Private Key Object; EC\|ec256\|01$'
has_object "$TOK" '^Public Key Object; EC +EC_POINT 256 bits\|ec256\|01$'
has_object "$TOK" '^Private Key Object; EC\|ec384\|02$'
has_object "$TOK" '^Public Key Object; EC +EC_POINT 384 bits\|ec384\|02$'
[ "$(wc -l <"$W/objects")" -eq 4 ] || die "expected exactly 4 objects on $TOK"

step "the second token does not see the first token's keys"
objects "$TOK2" >"$W/objects2"
cat "$W/objects2"
[ ! -s "$W/objects2" ] || die "token $TOK2 shows objects of another token"

{
    echo "libsea interoperability test data"
    openssl rand -hex 512
} >"$W/data"
sed 's/^libsea/LIBSEA/' "$W/data" >"$W/data.bad"
! cmp -s "$W/data" "$W/data.bad" || die "the tampered copy equals the data"

# pkcs11-tool's own public-key export (--read-object --type pubkey) is not used: OpenSC 0.23
# frees the OSSL_PARAM block it builds the EC key from and then passes it to
# EVP_PKEY_fromdata (valgrind: "Invalid read ... in a block free'd by pkcs11-tool"), so whether
# it works depends on the heap layout, with any module. The public key is rebuilt from
# CKA_EC_POINT and CKA_EC_PARAMS by openssl instead (ec_pubkey_pem).

# sign_and_verify ID CURVE-NAME HASH RS-SIZE
sign_and_verify()
{
    local id=$1 curve=$2 hash=$3 rs=$4 hup
    hup=${hash^^}

    step "key $id: the public key in PEM, from its CKA_EC_POINT and CKA_EC_PARAMS"
    ec_pubkey_pem "$TOK" "$id" "$W/pub$id.pem"
    run openssl pkey -pubin -in "$W/pub$id.pem" -noout -text
    expect "ASN1 OID: $curve"

    step "key $id: --mechanism ECDSA over a $hash digest, verified by openssl"
    run openssl dgst "-$hash" -binary -out "$W/data.$hash" "$W/data"
    run p11 --token-label "$TOK" --login --pin "$PIN" --sign --mechanism ECDSA --id "$id" \
        -i "$W/data.$hash" -o "$W/sig$id.der" --signature-format openssl
    run openssl dgst "-$hash" -verify "$W/pub$id.pem" -signature "$W/sig$id.der" "$W/data"
    expect "Verified OK"
    run openssl pkeyutl -verify -pubin -inkey "$W/pub$id.pem" -in "$W/data.$hash" \
        -sigfile "$W/sig$id.der"
    expect "Signature Verified Successfully"
    run_fails openssl dgst "-$hash" -verify "$W/pub$id.pem" -signature "$W/sig$id.der" \
        "$W/data.bad"
    expect "Verification failure"

    step "key $id: --mechanism ECDSA-$hup over the data, verified by openssl"
    run p11 --token-label "$TOK" --login --pin "$PIN" --sign --mechanism "ECDSA-$hup" \
        --id "$id" -i "$W/data" -o "$W/sigh$id.der" --signature-format openssl
    run openssl dgst "-$hash" -verify "$W/pub$id.pem" -signature "$W/sigh$id.der" "$W/data"
    expect "Verified OK"
    run_fails openssl dgst "-$hash" -verify "$W/pub$id.pem" -signature "$W/sigh$id.der" \
        "$W/data.bad"
    expect "Verification failure"

    step "key $id: pkcs11-tool --verify accepts the signatures (r|s and DER) and rejects tampering"
    run p11 --token-label "$TOK" --login --pin "$PIN" --sign --mechanism ECDSA --id "$id" \
        -i "$W/data.$hash" -o "$W/sig$id.rs"
    [ "$(size_of "$W/sig$id.rs")" -eq "$rs" ] ||
        die "raw r|s signature is $(size_of "$W/sig$id.rs") bytes, expected $rs"
    run p11 --token-label "$TOK" --verify --mechanism ECDSA --id "$id" -i "$W/data.$hash" \
        --signature-file "$W/sig$id.rs"
    expect "Signature is valid"
    run p11 --token-label "$TOK" --verify --mechanism ECDSA --id "$id" -i "$W/data.$hash" \
        --signature-file "$W/sig$id.der" --signature-format openssl
    expect "Signature is valid"
    run p11 --token-label "$TOK" --verify --mechanism "ECDSA-$hup" --id "$id" -i "$W/data" \
        --signature-file "$W/sigh$id.der" --signature-format openssl
    expect "Signature is valid"
    # pkcs11-tool 0.23 exits 0 on a bad signature: its message is what counts.
    p11 --token-label "$TOK" --verify --mechanism "ECDSA-$hup" --id "$id" -i "$W/data.bad" \
        --signature-file "$W/sigh$id.der" --signature-format openssl >"$SEA_OUT" 2>&1 || true
    cat "$SEA_OUT"
    no_sanitizer_report "$SEA_OUT"
    expect "Invalid signature"
    expect_not "Signature is valid"
}

sign_and_verify 01 prime256v1 sha256 64
sign_and_verify 02 secp384r1 sha384 96

# ---------------------------------------------------------------------------------------
step "an AES-256 secret key"
run p11 --token-label "$TOK" --login --pin "$PIN" --keygen --key-type AES:32 \
    --id 10 --label aeskey
expect "Key generated"
has_object "$TOK" '^Secret Key Object; AES length 32\|aeskey\|10$'

step "AES-GCM encrypt/decrypt, if this pkcs11-tool can drive it"
printf 'secret message for AES-GCM\n' >"$W/plain"
rc=0
p11 --token-label "$TOK" --login --pin "$PIN" --encrypt --mechanism AES-GCM --id 10 \
    --iv 000102030405060708090a0b -i "$W/plain" -o "$W/gcm.ct" >"$SEA_OUT" 2>&1 || rc=$?
cat "$SEA_OUT"
no_sanitizer_report "$SEA_OUT"
if grep -qF "Mechanism AES-GCM illegal or not supported" "$SEA_OUT"; then
    # OpenSC before 0.24 has no GCM parameters: the tool refuses before calling the module.
    echo "this pkcs11-tool cannot do AES-GCM: checking HMAC and digests instead"
else
    [ "$rc" -eq 0 ] || die "AES-GCM encryption failed"
    [ "$(size_of "$W/gcm.ct")" -eq $(($(size_of "$W/plain") + 16)) ] ||
        die "AES-GCM ciphertext is not plaintext + 16-byte tag"
    ! cmp -s "$W/plain" "$W/gcm.ct" || die "AES-GCM output equals the plaintext"
    run p11 --token-label "$TOK" --login --pin "$PIN" --decrypt --mechanism AES-GCM \
        --id 10 --iv 000102030405060708090a0b -i "$W/gcm.ct" -o "$W/gcm.pt"
    same_file "$W/plain" "$W/gcm.pt"
fi

# pkcs11-tool 0.23 picks a secret key for --sign/--verify by CKA_ID only (it ignores --label
# there), so every secret key gets its own id.
step "HMAC-SHA256 with a generated generic secret"
run p11 --token-label "$TOK" --login --pin "$PIN" --keygen --key-type GENERIC:32 \
    --id 11 --label mackey
expect "Key generated"
run p11 --token-label "$TOK" --login --pin "$PIN" --sign --mechanism SHA256-HMAC \
    --id 11 -i "$W/data" -o "$W/mac1"
run p11 --token-label "$TOK" --login --pin "$PIN" --sign --mechanism SHA256-HMAC \
    --id 11 -i "$W/data" -o "$W/mac2"
[ "$(size_of "$W/mac1")" -eq 32 ] || die "HMAC-SHA256 is $(size_of "$W/mac1") bytes, not 32"
same_file "$W/mac1" "$W/mac2"
run p11 --token-label "$TOK" --login --pin "$PIN" --sign --mechanism SHA256-HMAC \
    --id 11 -i "$W/data.bad" -o "$W/mac.bad"
! cmp -s "$W/mac1" "$W/mac.bad" || die "HMAC of different data is the same"
run p11 --token-label "$TOK" --login --pin "$PIN" --verify --mechanism SHA256-HMAC \
    --id 11 -i "$W/data" --signature-file "$W/mac1"
expect "Signature is valid"
run p11 --token-label "$TOK" --login --pin "$PIN" --verify --mechanism SHA256-HMAC \
    --id 11 -i "$W/data.bad" --signature-file "$W/mac1"
expect "Invalid signature"

step "HMAC-SHA256 with an extractable key equals OpenSSL's HMAC over its exported value"
run p11 --token-label "$TOK" --login --pin "$PIN" --keygen --key-type GENERIC:32 \
    --id 12 --label mackey-x --extractable
expect "Key generated"
run p11 --token-label "$TOK" --login --pin "$PIN" --read-object --type secrkey \
    --id 12 -o "$W/mackey-x.bin"
[ "$(size_of "$W/mackey-x.bin")" -eq 32 ] || die "the exported HMAC key is not 32 bytes"
run p11 --token-label "$TOK" --login --pin "$PIN" --sign --mechanism SHA256-HMAC \
    --id 12 -i "$W/data" -o "$W/macx"
MACX=$(od -An -v -tx1 "$W/macx" | tr -d ' \n')
KEYX=$(od -An -v -tx1 "$W/mackey-x.bin" | tr -d ' \n')
run openssl mac -digest SHA256 -macopt "hexkey:$KEYX" -in "$W/data" HMAC
[ "$(tr 'A-F' 'a-f' <"$SEA_OUT" | tr -d ' \n')" = "$MACX" ] ||
    die "the token's HMAC ($MACX) differs from OpenSSL's"
! cmp -s "$W/macx" "$W/mac1" || die "two different keys gave the same HMAC"

step "--hash with SHA-256 and SHA-512 matches coreutils"
run p11 --token-label "$TOK" --hash --mechanism SHA256 -i "$W/data" -o "$W/h256"
[ "$(od -An -v -tx1 "$W/h256" | tr -d ' \n')" = "$(sha256sum "$W/data" | cut -d' ' -f1)" ] ||
    die "pkcs11-tool --hash SHA256 differs from sha256sum"
run p11 --token-label "$TOK" --hash --mechanism SHA512 -i "$W/data" -o "$W/h512"
[ "$(od -An -v -tx1 "$W/h512" | tr -d ' \n')" = "$(sha512sum "$W/data" | cut -d' ' -f1)" ] ||
    die "pkcs11-tool --hash SHA512 differs from sha512sum"

step "--generate-random 32 gives 32 fresh bytes"
run p11 --token-label "$TOK" --generate-random 32 -o "$W/rand1"
run p11 --token-label "$TOK" --generate-random 32 -o "$W/rand2"
[ "$(size_of "$W/rand1")" -eq 32 ] || die "got $(size_of "$W/rand1") random bytes, not 32"
! cmp -s "$W/rand1" "$W/rand2" || die "two random draws are equal"

# ---------------------------------------------------------------------------------------
step "a wrong PIN is refused with CKR_PIN_INCORRECT; the right one still works"
run_fails p11 --token-label "$TOK" --login --pin 99999999 --list-objects
expect "CKR_PIN_INCORRECT"
run p11 --token-label "$TOK" --login --pin "$PIN" --list-objects
expect "ec256"

step "secret values do not leave the token"
# pkcs11-tool 0.23 itself refuses to read an EC private key ("not (yet) supported"), so the
# module's refusal is checked on the secret keys' CKA_VALUE and on the attributes the private
# key reports.
p11 --token-label "$TOK" --login --pin "$PIN" --read-object --type privkey --id 01 \
    -o "$W/priv.out" >"$SEA_OUT" 2>&1 || true
cat "$SEA_OUT"
no_sanitizer_report "$SEA_OUT"
[ ! -s "$W/priv.out" ] || die "a private key value was written out"
run_fails p11 --token-label "$TOK" --login --pin "$PIN" --read-object --type secrkey \
    --id 10 -o "$W/aes.out"
expect "CKR_ATTRIBUTE_SENSITIVE"
[ ! -s "$W/aes.out" ] || die "the AES key value was written out"
run_fails p11 --token-label "$TOK" --login --pin "$PIN" --read-object --type secrkey \
    --id 11 -o "$W/mac.out"
expect "CKR_ATTRIBUTE_SENSITIVE"
[ ! -s "$W/mac.out" ] || die "the HMAC key value was written out"
run p11 --token-label "$TOK" --login --pin "$PIN" --list-objects --type privkey
# every private key reports CKA_SENSITIVE, CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE
awk '/^[A-Z][A-Za-z ]* Object;/ { priv = /^Private Key Object/ }
     priv && /^  Access: / { n++; if ($0 ~ /[ :]sensitive,/ && /always sensitive/ &&
                                    /never extractable/) ok++ }
     END { exit !(n == 2 && ok == n) }' "$SEA_OUT" ||
    die "the two private keys are not all sensitive and never extractable"

# ---------------------------------------------------------------------------------------
step "pkcs11-tool --test on a token holding EC and AES keys"
run p11 --token-label "$TOK" --test --login --pin "$PIN"
expect "No errors"

# ---------------------------------------------------------------------------------------
step "an RSA-2048 key pair"
run p11 --token-label "$TOK" --login --pin "$PIN" --keypairgen --key-type rsa:2048 \
    --id 03 --label rsa2048
expect "Key pair generated"
has_object "$TOK" '^Private Key Object; RSA *\|rsa2048\|03$'
has_object "$TOK" '^Public Key Object; RSA 2048 bits\|rsa2048\|03$'

step "the RSA public key, read by pkcs11-tool, in PEM"
run p11 --token-label "$TOK" --read-object --type pubkey --id 03 -o "$W/rsa.der"
run openssl pkey -pubin -inform DER -in "$W/rsa.der" -out "$W/rsa.pem"
run openssl pkey -pubin -in "$W/rsa.pem" -noout -text
expect "Public-Key: (2048 bit)"
expect "Exponent: 65537 (0x10001)"

step "RSA-PSS: --mechanism SHA256-RSA-PKCS-PSS, verified by openssl"
run p11 --token-label "$TOK" --login --pin "$PIN" --sign --mechanism SHA256-RSA-PKCS-PSS \
    --id 03 -i "$W/data" -o "$W/pss.sig"
[ "$(size_of "$W/pss.sig")" -eq 256 ] || die "the PSS signature is not 256 bytes"
run openssl dgst -sha256 -verify "$W/rsa.pem" -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:32 -sigopt rsa_mgf1_md:sha256 -signature "$W/pss.sig" "$W/data"
expect "Verified OK"
run_fails openssl dgst -sha256 -verify "$W/rsa.pem" -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:32 -signature "$W/pss.sig" "$W/data.bad"
expect "Verification failure"

step "RSA-PSS over a digest: --mechanism RSA-PKCS-PSS --hash-algorithm SHA384, verified by openssl"
run openssl dgst -sha384 -binary -out "$W/data.sha384" "$W/data"
run p11 --token-label "$TOK" --login --pin "$PIN" --sign --mechanism RSA-PKCS-PSS \
    --hash-algorithm SHA384 --mgf MGF1-SHA384 --id 03 -i "$W/data.sha384" -o "$W/pss384.sig"
run openssl dgst -sha384 -verify "$W/rsa.pem" -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:48 -sigopt rsa_mgf1_md:sha384 -signature "$W/pss384.sig" "$W/data"
expect "Verified OK"

step "RSA PKCS#1 v1.5: --mechanism SHA512-RSA-PKCS, verified by openssl"
run p11 --token-label "$TOK" --login --pin "$PIN" --sign --mechanism SHA512-RSA-PKCS \
    --id 03 -i "$W/data" -o "$W/pkcs1.sig"
run openssl dgst -sha512 -verify "$W/rsa.pem" -signature "$W/pkcs1.sig" "$W/data"
expect "Verified OK"

step "RSA-OAEP-SHA256: openssl encrypts, pkcs11-tool decrypts in the SE"
head -c 190 /dev/urandom >"$W/oaep.plain"
run openssl pkeyutl -encrypt -pubin -inkey "$W/rsa.pem" -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 -in "$W/oaep.plain" \
    -out "$W/oaep.ct"
run p11 --token-label "$TOK" --login --pin "$PIN" --decrypt --mechanism RSA-PKCS-OAEP \
    --hash-algorithm SHA256 --mgf MGF1-SHA256 --id 03 -i "$W/oaep.ct" -o "$W/oaep.pt"
same_file "$W/oaep.plain" "$W/oaep.pt"
step "RSA-OAEP with the wrong hash does not decrypt"
run_fails p11 --token-label "$TOK" --login --pin "$PIN" --decrypt --mechanism RSA-PKCS-OAEP \
    --hash-algorithm SHA384 --mgf MGF1-SHA384 --id 03 -i "$W/oaep.ct" -o "$W/oaep.bad"
! cmp -s "$W/oaep.plain" "$W/oaep.bad" || die "OAEP with SHA-384 gave the SHA-256 plaintext"

# ---------------------------------------------------------------------------------------
step "pkcs11-tool --test on a token holding EC, RSA and AES keys"
run p11 --token-label "$TOK" --test --login --pin "$PIN"
expect "No errors"
expect_not "ERR:"

# pkcs11-tool looks for signature mechanisms flagged CKF_HW unless --allow-sw is given: the
# software SE does not claim hardware, so the run above skips its signature tests ("Signatures:
# not implemented"). With --allow-sw they run on every key.
step "pkcs11-tool --test --allow-sw runs its signature tests on the EC and RSA keys too"
run p11 --token-label "$TOK" --test --allow-sw --login --pin "$PIN"
expect "No errors"
expect_not "ERR:"
expect_not "Signatures: not implemented"
expect "Signatures (currently only for RSA)"
grep -qE '^  testing key 0 \(rsa2048\)' "$SEA_OUT" || die "no signature test ran on the RSA key"

# OpenSC 0.23's --test-threads ARG starts a thread per option running two-letter commands: IN
# C_Initialize(NULL), IL C_Initialize with CKF_OS_LOCKING_OK, GI C_GetInfo, SL C_GetSlotList,
# Tn C_GetTokenInfo on slot index n, Pn pause n seconds. The main thread meanwhile runs --test.
step "pkcs11-tool --test-threads (4 threads) while the main thread runs --test"
run p11 --token-label "$TOK" --test-threads ILGISLT0 --test-threads ILGISLT0GISLT0 \
    --test-threads INGISLT0 --test-threads ILSLT1GI --test --login --pin "$PIN"
expect "No errors"
for t in 0 1 2 3; do
    expect "Test thread $t returning rv = 0"
    grep -qE "^test_threads thread:$t state:-1, rv:CKR_OK$" "$SEA_OUT" ||
        die "thread $t did not end with CKR_OK"
done
expect_not "Unknown test"
if grep -E '^Test thread [0-9]+ .* returned ' "$SEA_OUT" |
    grep -vE 'returned (CKR_OK|CKR_CRYPTOKI_ALREADY_INITIALIZED)$'; then
    die "a thread got an error from the module"
fi

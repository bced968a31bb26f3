#!/bin/bash
# Interoperability with NSS: modutil adds the module to a fresh NSS database, lists it with its
# token, and certutil -K -h all logs in to the SE token with the user PIN and lists its private
# keys (EC P-256, EC P-384, RSA-2048) by CKA_ID and label; a wrong PIN lists nothing.

# automake runs .sh tests with $(SHELL), which may not be bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail
# shellcheck source=tests/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

require_cmd pkcs11-tool opensc
require_cmd modutil libnss3-tools
require_cmd certutil libnss3-tools

SO_PIN=87654321
PIN=27182818
TOK=sea-nss
W=$SEA_T/work
DB=$SEA_T/nssdb
mkdir -p "$W" "$DB"

step "a token with EC P-256, EC P-384 and RSA-2048 key pairs and an AES key"
init_token "$TOK" "$SO_PIN" "$PIN"
run p11 --token-label "$TOK" --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 \
    --id a1 --label nss-ec256
expect "Key pair generated"
run p11 --token-label "$TOK" --login --pin "$PIN" --keypairgen --key-type EC:secp384r1 \
    --id a2 --label nss-ec384
expect "Key pair generated"
run p11 --token-label "$TOK" --login --pin "$PIN" --keypairgen --key-type rsa:2048 \
    --id a3 --label nss-rsa
expect "Key pair generated"
run p11 --token-label "$TOK" --login --pin "$PIN" --keygen --key-type AES:16 \
    --id a4 --label nss-aes
expect "Key generated"

step "modutil creates a fresh NSS database and adds the module"
run modutil -create -dbdir "sql:$DB" -force
run with_module modutil -add libsea -libfile "$SEA_MODULE" -dbdir "sql:$DB" -force
expect 'Module "libsea" added to database.'

step "modutil -list shows the module, its library and our token"
run with_module modutil -list -dbdir "sql:$DB"
expect "libsea"
expect "library name: $SEA_MODULE"
expect "token: $TOK"
expect "pkcs11:token=$TOK;manufacturer=libsea;"
expect "library-manufacturer=libsea"

step "certutil -K -h all logs in to every token and lists the SE's private keys"
printf '%s\n' "$PIN" >"$W/pin.txt"
run with_module certutil -K -d "sql:$DB" -h all -f "$W/pin.txt"
expect "Checking token \"$TOK\""
# NSS prints "< n> type ckaid label"; the ckaid column is CKA_ID in hex.
grep -qE '^< *[0-9]+> ec +a1 +nss-ec256$' "$SEA_OUT" || die "certutil -K does not list nss-ec256"
grep -qE '^< *[0-9]+> ec +a2 +nss-ec384$' "$SEA_OUT" || die "certutil -K does not list nss-ec384"
grep -qE '^< *[0-9]+> rsa +a3 +nss-rsa$' "$SEA_OUT" || die "certutil -K does not list nss-rsa"
# three private keys on our token, no more (secret and public keys are not listed)
[ "$(awk -v t="$TOK" '/^certutil: Checking token/ { mine = index($0, "\"" t "\"") > 0 }
                      mine && /^< *[0-9]+>/ { n++ } END { print n + 0 }' "$SEA_OUT")" -eq 3 ] ||
    die "certutil -K lists other than 3 keys on $TOK"

step "certutil -K -h $TOK (the token by name) lists the same keys"
run with_module certutil -K -d "sql:$DB" -h "$TOK" -f "$W/pin.txt"
expect "nss-ec256"
expect "nss-ec384"
expect "nss-rsa"

step "certutil -K with a wrong PIN lists no key of the SE"
printf '00000000\n' >"$W/bad.txt"
run_fails with_module certutil -K -d "sql:$DB" -h "$TOK" -f "$W/bad.txt"
expect_not "nss-ec256"
expect_not "nss-rsa"

step "modutil -delete removes the module from the database"
run with_module modutil -delete libsea -dbdir "sql:$DB" -force
expect 'Module "libsea" deleted from database.'
run modutil -list -dbdir "sql:$DB"
expect_not "libsea"

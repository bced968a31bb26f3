#!/bin/sh
# The main job, printing what it does: create an SE on the embedded software device, generate a
# P-256 key, store a pre-provisioned symmetric key, sign and verify, store and read back a
# sensitive data object — first with sea-tool, then with the C API (tests/api-demo.c).
set -eu
build=${1:-.}
tool="$build/sea-tool"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The embedded default: no sea.conf anywhere, the store in $SEA_STORE.
unset SEA_CONF
export XDG_CONFIG_HOME="$work/config"
export SEA_STORE="$work/store"
export SEA_SO_PIN="so-pin-1234" SEA_PIN="user-pin-1234"

run() {
    echo "\$ $*"
    "$@"
}

echo "== 1. sea-tool: enrolment of a CSE on the software SE (store: $SEA_STORE)"
run "$tool" init --name cse-gateway
run "$tool" keygen --type ec-p256 --label cse-cert-key --id 01
run "$tool" import --label kpsa --type generic --suid 12 \
    --secret-hex a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf
echo "== 2. sea-tool: sign a request and verify it (also with openssl)"
printf '{"m2m:rqp":{"op":1,"to":"//in-cse/in-name"}}' > "$work/request.json"
run "$tool" sign --key cse-cert-key --in "$work/request.json" --out "$work/request.sig" --format der
run "$tool" verify --key cse-cert-key --in "$work/request.json" --sig "$work/request.sig" --format der
run "$tool" pubkey --key cse-cert-key --out "$work/cse.pub.pem"
run openssl dgst -sha256 -verify "$work/cse.pub.pem" -signature "$work/request.sig" "$work/request.json"
echo "== 3. sea-tool: a sensitive data object"
run "$tool" data put --id maf-credential --creator CAE0001 --value "maf.example.com:CAE0001"
run "$tool" data get --id maf-credential
echo
run "$tool" list
echo "== 4. the same through the C API (tests/api-demo.c), on a fresh store"
export SEA_STORE="$work/store2"
run "$build/tests/api-demo"

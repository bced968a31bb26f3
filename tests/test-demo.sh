#!/bin/bash
# The README's main job (scripts/demo.sh, run by `make demo` and quickstart.sh) works and does
# what it prints: an SE created on the embedded software device, a P-256 key, a pre-provisioned
# symmetric key, a signature verified by sea-tool and by openssl, a sensitive data object read
# back — with sea-tool and through the C API.
set -euo pipefail
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! sh "$SEA_TOP_SRCDIR/scripts/demo.sh" "$SEA_TOP_BUILDDIR" >"$out" 2>&1; then
    cat "$out"
    echo "FAIL: the main job exited with an error"
    exit 1
fi
cat "$out"
fail=0
expect() {
    if ! grep -qF -- "$1" "$out"; then
        echo "FAIL: the main job's output lacks: $1"
        fail=1
    fi
}
expect "seT:       4 (software security library)"
expect "pkcs11:token=cse-gateway;"
expect "object=cse-cert-key;id=%01;type=private"
expect "object=kpsa;type=secret-key"
expect "Signature OK"
expect "Verified OK"
expect "maf.example.com:CAE0001"
expect "created SE cse-demo: M2M-SE-ID 4"
expect "a tampered signature is rejected"
expect "stored and read back sensitive data object \"maf-credential\" (creator CAE0001, 23 bytes): maf.example.com:CAE0001"
expect "done"
[ "$fail" -eq 0 ] && echo "PASS: the main job"
exit "$fail"

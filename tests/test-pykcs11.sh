#!/bin/bash
# Interoperability with Python through PyKCS11 (Debian's python3-pykcs11, under
# /usr/bin/python3): tests/pykcs11_suite.py runs key generation (EC, RSA, AES), signatures
# checked by openssl, RSA-OAEP with a label, AES-GCM, HMAC, AES key wrap/unwrap, HKDF, ECDH and
# data objects on a fresh token, each check against a published vector or openssl.

# automake runs .sh tests with $(SHELL), which may not be bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail
# shellcheck source=tests/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

require_cmd pkcs11-tool opensc
require_cmd openssl openssl
# Debian's python3-* packages are seen by /usr/bin/python3 only (a python3 earlier on PATH
# may be another build)
PY=/usr/bin/python3
[ -x "$PY" ] || die "$PY is missing (Debian package: python3)"
"$PY" -c 'import PyKCS11' 2>/dev/null ||
    die "$PY cannot import PyKCS11 (Debian package: python3-pykcs11)"

SO_PIN=87654321
PIN=16180339
TOK=sea-python
W=$SEA_T/work
mkdir -p "$W"

step "a fresh token for PyKCS11"
init_token "$TOK" "$SO_PIN" "$PIN"

# PyKCS11's _LowLevel is C++ (SWIG): its iterators throw C++ exceptions. With only libasan
# preloaded into python (a C program), ASan's __cxa_throw interceptor finds no libstdc++ at
# start-up and aborts at the first throw ("CHECK failed: ... real___cxa_throw"). Under ASan
# libstdc++ is preloaded too, after libasan.
PY_ENV=()
if [ -n "${SEA_ASAN_PRELOAD:-}" ]; then
    STDCXX=$(ldd /usr/lib/python3/dist-packages/PyKCS11/_LowLevel*.so |
        awk '$1 ~ /^libstdc\+\+\.so/ { print $3; exit }')
    [ -f "$STDCXX" ] || die "cannot find the libstdc++ that PyKCS11 links"
    PY_ENV=(env "LD_PRELOAD=$SEA_ASAN_PRELOAD:$STDCXX${LD_PRELOAD:+:$LD_PRELOAD}")
fi

step "tests/pykcs11_suite.py: keygen, sign/verify, AES-GCM, HMAC, wrap/unwrap, HKDF, data objects"
run with_module "${PY_ENV[@]}" "$PY" "$SEA_TESTS_DIR/pykcs11_suite.py" "$SEA_MODULE" "$TOK" "$PIN" "$W"
expect "checks passed"
expect_not "not ok"

step "the objects PyKCS11 left on the token are visible to pkcs11-tool"
run p11 --token-label "$TOK" --login --pin "$PIN" --list-objects
expect "label:      py-ec"
expect "label:      py-rsa"
expect "label:      py-aes"
expect_not "py-data"

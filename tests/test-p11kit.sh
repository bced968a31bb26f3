#!/bin/bash
# Interoperability with p11-kit and GnuTLS: the built .module file, module registration in a
# private p11-kit user config, the p11-kit proxy module (EC and RSA signatures through it), and
# p11tool's token listing and sign/verify self-test (--test-sign) on an EC and an RSA key, by URI,
# with --provider and through the p11-kit registration.

# automake runs .sh tests with $(SHELL), which may not be bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail
# shellcheck source=tests/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

require_cmd pkcs11-tool opensc
require_cmd p11-kit p11-kit
require_cmd p11tool gnutls-bin
require_cmd openssl openssl

# p11-kit ignores the user config of a process running as root ("skipping user config in
# program running as root"). As root, the p11-kit consumers run in a user namespace where
# getuid() is not 0; the kernel uid, and so access to the temp dir, stays the same.
if [ "$(id -u)" -eq 0 ]; then
    require_cmd unshare util-linux
    unshare --user -- true ||
        die "as root, 'unshare --user' must work: p11-kit ignores user config for root"
fi
user_side()
{
    if [ "$(id -u)" -eq 0 ]; then
        with_module unshare --user -- "$@"
    else
        with_module "$@"
    fi
}

# Programs linked with libp11-kit that call setlocale() (the p11-kit CLI; p11tool, through
# GnuTLS) hang on Debian 12 when the ASan runtime is preloaded, also with no libsea module
# loaded (glibc's __libc_setlocale_lock is left with a negative reader count; even
# `p11-kit --help` hangs). Under ASan those steps cannot run and say so; the p11-kit proxy
# steps, driven by pkcs11-tool, still run.
runs_under_asan()
{
    [ -z "${SEA_ASAN_PRELOAD:-}" ] && return 0
    echo "NOT RUN under ASan: $1 (links libp11-kit; hangs with a preloaded ASan runtime)"
    return 1
}

SO_PIN=87654321
PIN=11223344
TOK=sea-p11kit
W=$SEA_T/work
mkdir -p "$W"

step "a token with an EC P-256 and an RSA-2048 key pair"
init_token "$TOK" "$SO_PIN" "$PIN"
run p11 --token-label "$TOK" --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 \
    --id 01 --label p11kitkey
expect "Key pair generated"
run p11 --token-label "$TOK" --login --pin "$PIN" --keypairgen --key-type rsa:2048 \
    --id 02 --label p11kitrsa
expect "Key pair generated"

# ---------------------------------------------------------------------------------------
step "the built sea-pkcs11.module names the module"
MODFILE="$SEA_TOP_BUILDDIR/sea-pkcs11.module"
[ -f "$MODFILE" ] || die "$MODFILE is missing (make sea-pkcs11.module)"
cat "$MODFILE"
grep -qE '^module: *[^ ]*/sea-pkcs11\.so *$' "$MODFILE" ||
    die "$MODFILE has no 'module: .../sea-pkcs11.so' line"

step "registered in a private p11-kit user config, p11-kit list-modules shows our token"
# p11-kit reads ~/.config/pkcs11/modules (merged with the system modules by default)
mkdir -p "$HOME/.config/pkcs11/modules"
USER_MODFILE="$HOME/.config/pkcs11/modules/sea-pkcs11.module"
sed "s|^module:.*|module: $SEA_MODULE|" "$MODFILE" >"$USER_MODFILE"
cat "$USER_MODFILE"
grep -qxF "module: $SEA_MODULE" "$USER_MODFILE" ||
    die "the private module file does not point at $SEA_MODULE"
if runs_under_asan "p11-kit list-modules"; then
    run user_side p11-kit list-modules
    expect "sea-pkcs11: $SEA_MODULE"
    # the token line must sit inside our module's block ("name: path" starts a block)
    awk -v tok="$TOK" '
        /^[^ ]/                { mine = ($1 == "sea-pkcs11:") }
        mine && /^    token: / { t = $0; sub(/^    token: /, "", t); if (t == tok) found = 1 }
        END                    { exit !found }' "$SEA_OUT" ||
        die "p11-kit list-modules does not show token $TOK under module sea-pkcs11"
    expect "library-manufacturer: libsea"
fi

step "pkcs11-tool through the p11-kit proxy module lists the token and signs"
PROXY=$(pkg-config --variable=proxy_module p11-kit-1 2>/dev/null || true)
[ -n "$PROXY" ] && [ -f "$PROXY" ] || PROXY=/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so
[ -f "$PROXY" ] || die "the p11-kit proxy module is missing (Debian package: p11-kit-modules)"
run user_side pkcs11-tool --module "$PROXY" --list-token-slots
expect "token label        : $TOK"
expect "token manufacturer : libsea"
printf 'signed through the p11-kit proxy %s\n' "$RANDOM" >"$W/data"
openssl dgst -sha256 -binary -out "$W/data.sha256" "$W/data"
run user_side pkcs11-tool --module "$PROXY" --token-label "$TOK" --login --pin "$PIN" \
    --sign --mechanism ECDSA --id 01 -i "$W/data.sha256" -o "$W/sig.der" \
    --signature-format openssl
ec_pubkey_pem "$TOK" 01 "$W/pub.pem"
run openssl dgst -sha256 -verify "$W/pub.pem" -signature "$W/sig.der" "$W/data"
expect "Verified OK"

step "an RSA-PSS signature through the p11-kit proxy, verified by openssl"
run user_side pkcs11-tool --module "$PROXY" --token-label "$TOK" --login --pin "$PIN" \
    --sign --mechanism SHA256-RSA-PKCS-PSS --id 02 -i "$W/data" -o "$W/rsa-pss.sig"
run user_side pkcs11-tool --module "$PROXY" --token-label "$TOK" --read-object \
    --type pubkey --id 02 -o "$W/rsa.der"
run openssl pkey -pubin -inform DER -in "$W/rsa.der" -out "$W/rsa.pem"
run openssl dgst -sha256 -verify "$W/rsa.pem" -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:32 -signature "$W/rsa-pss.sig" "$W/data"
expect "Verified OK"

# ---------------------------------------------------------------------------------------
KEY_URL="pkcs11:token=$TOK;object=p11kitkey;type=private"
SERIAL=$(token_field "$TOK" "serial num")
if runs_under_asan p11tool; then
    step "p11tool --provider lists the token"
    run with_module p11tool --provider "$SEA_MODULE" --list-tokens
    expect "Label: $TOK"
    expect "Manufacturer: libsea"
    expect "Serial: $SERIAL"
    expect "URL: pkcs11:model=software%20SE;manufacturer=libsea;serial=$SERIAL;token=$TOK"

    step "p11tool --login --test-sign passes on the EC key"
    GNUTLS_PIN=$PIN run with_module p11tool --provider "$SEA_MODULE" --login \
        --test-sign "$KEY_URL"
    expect "Signing using ECDSA-SHA256... ok"
    expect "Verifying against private key parameters... ok"
    expect "Verifying against public key in the token... ok"

    RSA_URL="pkcs11:token=$TOK;object=p11kitrsa;type=private"
    step "p11tool --login --test-sign passes on the RSA key (PKCS#1 v1.5 and RSA-PSS)"
    GNUTLS_PIN=$PIN run with_module p11tool --provider "$SEA_MODULE" --login \
        --test-sign "$RSA_URL"
    expect "Signing using RSA-SHA256... ok"
    expect "Verifying against private key parameters... ok"
    expect "Verifying against public key in the token... ok"
    GNUTLS_PIN=$PIN run with_module p11tool --provider "$SEA_MODULE" --login \
        --test-sign --sign-params RSA-PSS "$RSA_URL"
    expect "Signing using RSA-PSS-SHA256... ok"
    expect "Verifying against private key parameters... ok"
    expect "Verifying against public key in the token... ok"

    step "p11tool --list-privkeys names both keys by URI"
    GNUTLS_PIN=$PIN run with_module p11tool --provider "$SEA_MODULE" --login \
        --list-privkeys "pkcs11:token=$TOK"
    expect ";id=%01;object=p11kitkey;type=private"
    expect ";id=%02;object=p11kitrsa;type=private"

    step "p11tool without --provider finds the token through p11-kit's registration"
    run user_side p11tool --list-tokens
    expect "Label: $TOK"
    expect "Manufacturer: libsea"
    expect "Module: $SEA_MODULE"
    GNUTLS_PIN=$PIN run user_side p11tool --login --test-sign \
        "pkcs11:token=$TOK;serial=$SERIAL;object=p11kitkey;type=private"
    expect "Signing using ECDSA-SHA256... ok"
    expect "Verifying against public key in the token... ok"

    step "p11tool --test-sign with a wrong PIN fails"
    GNUTLS_PIN=00000000 run_fails with_module p11tool --provider "$SEA_MODULE" --login \
        --test-sign "$KEY_URL"
    expect "Wrong PIN has been provided"
    expect_not "Signing using ECDSA-SHA256... ok"
fi

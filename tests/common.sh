# Shared setup for the interoperability tests (sourced, bash): a private temp dir holding the
# store, sea.conf, HOME and XDG dirs so that no client writes outside it; helpers to run the
# real PKCS#11 clients against $SEA_MODULE and to check what they print.
#
# Knobs: SEA_MODULE (the module under test), SEA_ASAN_PRELOAD (the ASan runtime to preload into
# clients when the module was built with -fsanitize=address), SEA_KEEP_TMP=1 (keep the temp dir).

# shellcheck shell=bash
set -euo pipefail
shopt -s inherit_errexit

die()
{
    echo "FAIL: $*" >&2
    exit 1
}

step()
{
    echo
    echo "== $*"
}

# require_cmd CMD PACKAGE: a missing client is a failure, never a skip (CI installs them all).
require_cmd()
{
    command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed (Debian package: $2)"
}

# ---- where things are ----

SEA_TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${SEA_TOP_SRCDIR:=$(dirname "$SEA_TESTS_DIR")}"
: "${SEA_TOP_BUILDDIR:=$SEA_TOP_SRCDIR}"
: "${SEA_MODULE:=$SEA_TOP_BUILDDIR/.libs/sea-pkcs11.so}"
export SEA_TOP_SRCDIR SEA_TOP_BUILDDIR SEA_MODULE
[ -f "$SEA_MODULE" ] || die "the module under test is missing: $SEA_MODULE (build sea-pkcs11.la)"
if [ -n "${SEA_ASAN_PRELOAD:-}" ] && [ ! -f "$SEA_ASAN_PRELOAD" ]; then
    die "SEA_ASAN_PRELOAD names a missing file: $SEA_ASAN_PRELOAD"
fi

# ---- the private temp dir and its cleanup ----

SEA_T=$(mktemp -d "${TMPDIR:-/tmp}/sea-test.XXXXXX")
SEA_MAIN_PID=$BASHPID
SEA_PIDS=()

# Background processes registered with track_pid are stopped by PID, then the dir goes.
# Command substitutions are subshells: only the main shell cleans up.
sea_cleanup()
{
    local rc=$?
    [ "$BASHPID" = "$SEA_MAIN_PID" ] || return 0
    local pid
    for pid in "${SEA_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ "${SEA_KEEP_TMP:-0}" = 1 ]; then
        echo "kept $SEA_T"
    else
        rm -rf "$SEA_T"
    fi
    if [ "$rc" -eq 0 ]; then
        echo "PASS: $(basename "$0")"
    else
        echo "FAIL: $(basename "$0") (exit $rc)" >&2
    fi
    return "$rc"
}
trap sea_cleanup EXIT

track_pid()
{
    SEA_PIDS+=("$1")
}

# stop_pid PID: stop a tracked process now and forget it (its PID may be reused later).
stop_pid()
{
    local pid keep=()
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    for pid in "${SEA_PIDS[@]}"; do
        [ "$pid" = "$1" ] || keep+=("$pid")
    done
    SEA_PIDS=("${keep[@]}")
}

# ---- an environment that sees only this test's state ----

export HOME="$SEA_T/home"
export XDG_CONFIG_HOME="$HOME/.config"
export XDG_DATA_HOME="$HOME/.local/share"
export XDG_CACHE_HOME="$HOME/.cache"
export XDG_STATE_HOME="$HOME/.local/state"
export XDG_RUNTIME_DIR="$SEA_T/run"
mkdir -p "$XDG_CONFIG_HOME" "$XDG_DATA_HOME" "$XDG_CACHE_HOME" "$XDG_STATE_HOME"
mkdir -p "$XDG_RUNTIME_DIR"
chmod 0700 "$XDG_RUNTIME_DIR"
# The tests write their own OpenSSL configs; a PIN left in the environment would log in for us.
unset SEA_STORE OPENSSL_CONF GNUTLS_PIN GNUTLS_SO_PIN

# p11-kit loads every registered module. SoftHSM then reads its token dir and tpm2-pkcs11
# creates ~/.tpm2_pkcs11/tpm2_pkcs11.sqlite3: point both into the temp dir.
if compgen -G '/usr/lib/softhsm/libsofthsm2.so' >/dev/null ||
    compgen -G '/usr/lib/*/softhsm/libsofthsm2.so' >/dev/null; then
    mkdir -p "$SEA_T/softhsm2/tokens"
    printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
        "$SEA_T/softhsm2/tokens" >"$SEA_T/softhsm2/softhsm2.conf"
    export SOFTHSM2_CONF="$SEA_T/softhsm2/softhsm2.conf"
fi
if compgen -G '/usr/lib/*/pkcs11/libtpm2_pkcs11.so*' >/dev/null ||
    compgen -G '/usr/share/p11-kit/modules/tpm2_pkcs11.module' >/dev/null; then
    mkdir -p "$SEA_T/tpm2-pkcs11"
    export TPM2_PKCS11_STORE="$SEA_T/tpm2-pkcs11"
    export TSS2_LOG=all+none
fi

# libsea's own state: one software device in the temp dir, fast PIN hashing for tests.
mkdir -p "$SEA_T/store"
cat >"$SEA_T/sea.conf" <<EOF
[device soft]
backend = soft
path = $SEA_T/store
kdf_iterations = 1000
EOF
export SEA_CONF="$SEA_T/sea.conf"

# ---- running commands ----

# Under ASan the clients get the runtime preloaded; they leak themselves, so leak checks are off.
# UBSan reports stop the program so that the exit status shows them.
if [ -n "${SEA_ASAN_PRELOAD:-}" ]; then
    SEA_ASAN_ENV=(LD_PRELOAD="$SEA_ASAN_PRELOAD${LD_PRELOAD:+:$LD_PRELOAD}"
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
        UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}")
else
    SEA_ASAN_ENV=()
fi

# with_module CMD...: run a program that loads the module (under ASan: with its runtime).
with_module()
{
    env "${SEA_ASAN_ENV[@]}" "$@"
}

# no_sanitizer_report FILE: a sanitizer report in a program's output is a failure even when
# the program was expected to fail.
no_sanitizer_report()
{
    if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error: ' "$1"; then
        die "sanitizer report in the output above"
    fi
}

SEA_OUT="$SEA_T/last.out"

# run CMD...: echo it, run it, show its output (kept in $SEA_OUT); a non-zero exit is fatal.
run()
{
    echo "+ $*"
    local rc=0
    "$@" >"$SEA_OUT" 2>&1 || rc=$?
    cat "$SEA_OUT"
    no_sanitizer_report "$SEA_OUT"
    [ "$rc" -eq 0 ] || die "exit status $rc from: $*"
}

# run_fails CMD...: like run, but the command must fail.
run_fails()
{
    echo "+ (must fail) $*"
    local rc=0
    "$@" >"$SEA_OUT" 2>&1 || rc=$?
    cat "$SEA_OUT"
    no_sanitizer_report "$SEA_OUT"
    [ "$rc" -ne 0 ] || die "succeeded but must fail: $*"
}

# expect STRING / expect_not STRING: the last command's output holds (does not hold) STRING.
expect()
{
    grep -qF -- "$1" "$SEA_OUT" || die "expected '$1' in the output above"
}

expect_not()
{
    if grep -qF -- "$1" "$SEA_OUT"; then
        die "did not expect '$1' in the output above"
    fi
}

# spawn IN OUT CMD...: start a program that loads the module in the background, stdin from IN,
# output to OUT. SPAWN_PID is its own PID (no wrapper shell), stopped at exit if still running.
spawn()
{
    local in=$1 out=$2
    shift 2
    env "${SEA_ASAN_ENV[@]}" "$@" <"$in" >"$out" 2>&1 &
    SPAWN_PID=$!
    track_pid "$SPAWN_PID"
}

# same_file A B: byte-identical files.
same_file()
{
    cmp -s "$1" "$2" || die "$1 and $2 differ"
}

# ---- pkcs11-tool ----

p11()
{
    with_module pkcs11-tool --module "$SEA_MODULE" "$@"
}

# --list-slots parsed into "slot-id<TAB>label" lines; an empty slot has the label "-".
slot_table()
{
    p11 --list-slots 2>/dev/null | awk '
        /^Slot [0-9]+ \(0x[0-9a-fA-F]+\)/ { if (id != "") print id "\t" lab
                                           id = $3; gsub(/[():]/, "", id); lab = "?" }
        /^  token state: +uninitialized/ { lab = "-" }
        /^  token label +: /              { lab = $0; sub(/^  token label +: /, "", lab) }
        END                               { if (id != "") print id "\t" lab }'
}

# free_slot: the id of the first slot without a token (where --init-token creates one).
free_slot()
{
    local id
    id=$(slot_table | awk -F '\t' '$2 == "-" { print $1; exit }')
    [ -n "$id" ] || die "no free slot in: $(p11 --list-slots 2>&1)"
    echo "$id"
}

# slot_of LABEL: the id of the slot holding the token LABEL (exactly one).
slot_of()
{
    local ids
    ids=$(slot_table | awk -F '\t' -v l="$1" '$2 == l { print $1 }')
    [ -n "$ids" ] || die "no token labelled '$1' in: $(p11 --list-slots 2>&1)"
    [ "$(echo "$ids" | wc -l)" -eq 1 ] || die "several tokens labelled '$1': $ids"
    echo "$ids"
}

# token_field LABEL FIELD: a field of that token in --list-slots ("serial num", "token flags").
token_field()
{
    p11 --list-slots 2>/dev/null | awk -v l="$1" -v f="$2" '
        /^Slot /                 { mine = 0 }
        /^  token label +: /     { v = $0; sub(/^  token label +: /, "", v); mine = (v == l) }
        mine && index($0, "  " f) == 1 { v = $0; sub(/^[^:]*: /, "", v); print v; exit }'
}

# init_token LABEL SO_PIN PIN: create a token on the free slot, then set its user PIN.
# Sets INIT_SLOT to the slot it was created on; the token is addressed by label afterwards.
init_token()
{
    local label=$1 so_pin=$2 pin=$3
    INIT_SLOT=$(free_slot)
    run p11 --slot "$INIT_SLOT" --init-token --label "$label" --so-pin "$so_pin"
    expect "Token successfully initialized"
    run p11 --token-label "$label" --init-pin --so-pin "$so_pin" --pin "$pin"
    expect "User PIN successfully initialized"
}

# ec_pubkey_pem TOKEN ID OUT.pem: the EC public key with CKA_ID ID, built by plain OpenSSL from
# the CKA_EC_POINT and CKA_EC_PARAMS that --list-objects prints (independent of the module's
# own SPKI encoding, and of pkcs11-tool's EC export, which is broken in OpenSC 0.23).
ec_pubkey_pem()
{
    local tok=$1 id=$2 out=$3 point params curve
    run p11 --token-label "$tok" --list-objects --type pubkey
    read -r point params < <(awk -v want="$id" '
        function flush() { if (id == want && pt != "") print pt, par; pt = par = id = "" }
        /^[A-Z][A-Za-z ]* Object;/ { flush() }
        /^  EC_POINT: /            { pt = $2 }
        /^  EC_PARAMS: /           { par = $2 }
        /^  ID: /                  { id = $2 }
        END                        { flush() }' "$SEA_OUT") || true
    [ -n "${point:-}" ] || die "no CKA_EC_POINT for public key $id"
    case "$params" in
    06082a8648ce3d030107) curve=prime256v1 ;;
    06052b81040022) curve=secp384r1 ;;
    *) die "public key $id has unexpected CKA_EC_PARAMS $params" ;;
    esac
    # CKA_EC_POINT is a DER OCTET STRING (04 len point); the key is its content.
    case "$point" in
    04[0-7]?*) point=${point:4} ;;
    0481*) point=${point:6} ;;
    *) die "CKA_EC_POINT of key $id is not a DER OCTET STRING: $point" ;;
    esac
    cat >"$SEA_T/spki$id.cnf" <<EOF
asn1 = SEQUENCE:spki
[spki]
alg = SEQUENCE:alg
key = FORMAT:HEX,BITSTRING:$point
[alg]
oid = OID:id-ecPublicKey
curve = OID:$curve
EOF
    OPENSSL_CONF=/dev/null run openssl asn1parse -genconf "$SEA_T/spki$id.cnf" \
        -out "$SEA_T/spki$id.der" -noout
    OPENSSL_CONF=/dev/null run openssl pkey -pubin -inform DER -in "$SEA_T/spki$id.der" -out "$out"
}

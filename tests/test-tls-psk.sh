#!/bin/bash
# The TLS-PSK example of doc/tls-psk.md (doc/examples/tls-psk.c, built as tests/tls-psk): a
# TLS 1.2 PSK-AES128-CBC-SHA256 handshake between two SEs whose Kpsa was derived inside each from
# the same Ke, the refusals (another Ke, a non-extractable Kpsa, SUID 13, an expired Kpsa), and
# interoperability: the libsea-backed server accepts openssl s_client given the PSK that Python's
# hmac computes from the TS-0003 10.3.3 formula, and refuses a wrong one.
source "$(dirname "$0")/common.sh"

prog="${SEA_BUILD_TESTS:-$SEA_TOP_BUILDDIR/tests}/tls-psk"
[ -x "$prog" ] || die "missing $prog (make check builds it)"
require_cmd openssl openssl
PY=/usr/bin/python3
[ -x "$PY" ] || die "/usr/bin/python3 is missing"

conf() # a fresh store and its sea.conf
{
    mkdir -p "$SEA_T/$1"
    printf '[device soft]\nbackend = soft\npath = %s/%s/store\nkdf_iterations = 1000\n' \
        "$SEA_T" "$1" >"$SEA_T/$1/sea.conf"
    echo "$SEA_T/$1/sea.conf"
}

step "both ends in libsea, and the refusals"
"$prog" "$(conf self)" selftest | tee "$SEA_T/self.out"
grep -q "client: TLS 1.2 PSK-AES128-CBC-SHA256" "$SEA_T/self.out" || die "no client handshake"
grep -q "server: TLS 1.2 PSK-AES128-CBC-SHA256" "$SEA_T/self.out" || die "no server handshake"
[ "$(grep -c 'refused as expected' "$SEA_T/self.out")" = 4 ] || die "a refusal is missing"

step "Kpsa from the formula, with Python's hmac"
kpsa=$("$PY" -c '
import hmac, hashlib
ke = bytes(range(32))
label = b"oneM2M Enrolment Key to Provisioned Secure Connection Key derivation"
print(hmac.new(ke, label + "CAE0001".encode("utf-8"), hashlib.sha256).hexdigest())')
# the TS-0016 digest section 7 value of the same formula
[ "$kpsa" = 4aa40ce942df42e7da3ceec83c87292bf8a3d3d2b93208701d3eb3defc338b7c ] ||
    die "python computed $kpsa"

serve_once() # $1: store name; starts the libsea server, sets $port and $spid
{
    rm -f "$SEA_T/$1.port"
    "$prog" "$(conf "$1")" server "$SEA_T/$1.port" >"$SEA_T/$1.srv" 2>&1 &
    spid=$!
    track_pid "$spid"
    for _ in $(seq 100); do
        [ -s "$SEA_T/$1.port" ] && break
        sleep 0.1
    done
    port=$(cat "$SEA_T/$1.port") || die "the server did not start"
}

s_client() # $1: psk hex
{
    (echo ping; sleep 2) | timeout 20 openssl s_client -connect "127.0.0.1:$port" -tls1_2 \
        -cipher PSK-AES128-CBC-SHA256 -psk "$1" -psk_identity "CAE0001@in-cse.example.com" \
        -ign_eof 2>&1 || true
}

step "openssl s_client against the libsea server"
serve_once good
s_client "$kpsa" >"$SEA_T/good.cli"
wait "$spid" || { cat "$SEA_T/good.srv" "$SEA_T/good.cli"; die "the libsea server failed"; }
grep -q "^pong" "$SEA_T/good.cli" || { cat "$SEA_T/good.cli"; die "no answer from the server"; }
grep -q "Cipher is PSK-AES128-CBC-SHA256" "$SEA_T/good.cli" || die "another suite"
cat "$SEA_T/good.srv"

step "openssl s_client with a wrong PSK is refused"
serve_once wrong
s_client "${kpsa%??}00" >"$SEA_T/wrong.cli"
if wait "$spid"; then
    die "the server accepted a wrong PSK"
fi
grep -q "^pong" "$SEA_T/wrong.cli" && die "a client with a wrong PSK got an answer"
echo "refused as expected"

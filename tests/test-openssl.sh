#!/bin/bash
# Interoperability with OpenSSL 3 through the libp11 engine: signatures with an SE key checked by
# plain OpenSSL, RSA-PSS signatures and RSA-OAEP-SHA256 decryption by URI, self-signed
# certificates on the EC and RSA keys, and TLS 1.3 / 1.2 servers (EC and RSA) whose private
# key never leaves the SE, also with the engine as the default for every algorithm.

# automake runs .sh tests with $(SHELL), which may not be bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail
# shellcheck source=tests/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

require_cmd pkcs11-tool opensc
require_cmd openssl openssl
require_cmd timeout coreutils

SO_PIN=87654321
PIN=13572468
TOK=sea-openssl
W=$SEA_T/work
mkdir -p "$W"

ENGINES_DIR=$(openssl version -e | sed -n 's/^ENGINESDIR: "\(.*\)"$/\1/p')
ENGINE="$ENGINES_DIR/pkcs11.so"
[ -f "$ENGINE" ] ||
    die "the libp11 engine is missing: $ENGINE (Debian package: libengine-pkcs11-openssl)"

KEY_URI="pkcs11:token=$TOK;object=tlskey;type=private;pin-value=$PIN"

# write_conf FILE EXTRA: an OpenSSL config loading the engine on our module; EXTRA goes into
# the engine section.
write_conf()
{
    cat >"$1" <<EOF
openssl_conf = openssl_init
[openssl_init]
engines = engine_section
[engine_section]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
dynamic_path = $ENGINE
MODULE_PATH = $SEA_MODULE
$2
[req]
distinguished_name = req_dn
[req_dn]
EOF
}
write_conf "$W/engine.cnf" "init = 0"
write_conf "$W/engine-default.cnf" "default_algorithms = ALL"
: >"$W/plain.cnf"
export OPENSSL_CONF="$W/engine.cnf"

# plain ARGS...: OpenSSL without the engine, to check what the engine produced.
plain()
{
    OPENSSL_CONF="$W/plain.cnf" openssl "$@"
}

# sslmod ARGS...: OpenSSL with the engine (it loads the module).
sslmod()
{
    with_module openssl "$@"
}

# ---------------------------------------------------------------------------------------
step "a token with an EC P-256 key pair"
init_token "$TOK" "$SO_PIN" "$PIN"
run p11 --token-label "$TOK" --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 \
    --id 01 --label tlskey
expect "Key pair generated"
ec_pubkey_pem "$TOK" 01 "$W/pub.pem"
run plain pkey -pubin -in "$W/pub.pem" -noout -text
expect "ASN1 OID: prime256v1"

{
    echo "data signed through the libp11 engine"
    plain rand -hex 256
} >"$W/data"
sed 's/^data/DATA/' "$W/data" >"$W/data.bad"
! cmp -s "$W/data" "$W/data.bad" || die "the tampered copy equals the data"
plain dgst -sha256 -binary -out "$W/data.sha256" "$W/data"

step "openssl pkeyutl -engine pkcs11 signs a digest; plain openssl verifies it"
run sslmod pkeyutl -engine pkcs11 -keyform engine -inkey "$KEY_URI" -sign \
    -in "$W/data.sha256" -out "$W/sig.pkeyutl"
run plain pkeyutl -verify -pubin -inkey "$W/pub.pem" -in "$W/data.sha256" \
    -sigfile "$W/sig.pkeyutl"
expect "Signature Verified Successfully"
run plain dgst -sha256 -verify "$W/pub.pem" -signature "$W/sig.pkeyutl" "$W/data"
expect "Verified OK"
run_fails plain dgst -sha256 -verify "$W/pub.pem" -signature "$W/sig.pkeyutl" "$W/data.bad"
expect "Verification failure"

step "openssl dgst -engine pkcs11 -sign; plain openssl verifies it"
run sslmod dgst -engine pkcs11 -keyform engine -sign "$KEY_URI" -sha256 -out "$W/sig.dgst" \
    "$W/data"
run plain dgst -sha256 -verify "$W/pub.pem" -signature "$W/sig.dgst" "$W/data"
expect "Verified OK"
run_fails plain dgst -sha256 -verify "$W/pub.pem" -signature "$W/sig.dgst" "$W/data.bad"
expect "Verification failure"

step "a wrong PIN in the URI does not sign"
run_fails sslmod dgst -engine pkcs11 -keyform engine \
    -sign "pkcs11:token=$TOK;object=tlskey;type=private;pin-value=00000000" -sha256 \
    -out "$W/sig.wrongpin" "$W/data"
[ ! -s "$W/sig.wrongpin" ] || die "a signature was written with a wrong PIN"

# ---------------------------------------------------------------------------------------
step "a self-signed certificate whose key is in the SE"
run sslmod req -new -x509 -engine pkcs11 -keyform engine -key "$KEY_URI" -sha256 -days 2 \
    -subj "/CN=libsea TLS test" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,digitalSignature,keyCertSign" \
    -addext "subjectAltName=IP:127.0.0.1" -out "$W/cert.pem"
run plain verify -CAfile "$W/cert.pem" "$W/cert.pem"
expect "$W/cert.pem: OK"
plain x509 -in "$W/cert.pem" -noout -pubkey >"$W/cert-pub.pem"
plain pkey -pubin -in "$W/cert-pub.pem" -outform DER -out "$W/cert-pub.der"
plain pkey -pubin -in "$W/pub.pem" -outform DER -out "$W/se-pub.der"
same_file "$W/cert-pub.der" "$W/se-pub.der"
plain x509 -in "$W/cert.pem" -outform DER -out "$W/cert.der"

# ---------------------------------------------------------------------------------------
# free_port: a TCP port on 127.0.0.1 nobody listens on now.
free_port()
{
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    die "found no free TCP port"
}

# The server's key and certificate, and the signature type the client must see: the EC key
# first, the RSA key later.
SRV_KEY=$KEY_URI
SRV_CERT=$W/cert.pem
SRV_SIG=ECDSA

# start_server NAME CONF: s_server on the SE key $SRV_KEY with the certificate $SRV_CERT in the background, once it is listening.
# Sets SERVER_PID, SERVER_PORT, SERVER_LOG. Its stdin is a FIFO held open on fd 7, so that the
# server does not see end-of-file and hang up.
start_server()
{
    local name=$1 conf=$2
    SERVER_PORT=$(free_port)
    SERVER_LOG="$W/$name.server.log"
    mkfifo "$W/$name.in"
    echo "+ openssl s_server (config $(basename "$conf")) on 127.0.0.1:$SERVER_PORT"
    OPENSSL_CONF=$conf spawn "$W/$name.in" "$SERVER_LOG" timeout 120 openssl s_server \
        -engine pkcs11 -keyform engine -key "$SRV_KEY" -cert "$SRV_CERT" \
        -accept "127.0.0.1:$SERVER_PORT"
    SERVER_PID=$SPAWN_PID
    exec 7>"$W/$name.in"
    for _ in $(seq 1 600); do
        grep -q '^ACCEPT' "$SERVER_LOG" && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$SERVER_LOG"
    die "s_server did not start listening"
}

stop_server()
{
    exec 7>&-
    stop_pid "$SERVER_PID"
    echo "-- server output:"
    cat "$SERVER_LOG"
    no_sanitizer_report "$SERVER_LOG"
}

# tls_exchange NAME CLIENT-ARGS...: connect, check the handshake and the chain, send a line
# and check that the server printed it.
tls_exchange()
{
    local name=$1 msg
    shift
    msg="hello from the client, $name, $RANDOM$RANDOM"
    echo "+ openssl s_client $* (sending: $msg)"
    local rc=0
    printf '%s\n' "$msg" | OPENSSL_CONF="$W/plain.cnf" timeout 60 openssl s_client \
        -connect "127.0.0.1:$SERVER_PORT" -CAfile "$SRV_CERT" -verify_return_error \
        -showcerts "$@" >"$W/$name.client.log" 2>&1 || rc=$?
    cp "$W/$name.client.log" "$SEA_OUT"
    cat "$SEA_OUT"
    no_sanitizer_report "$SEA_OUT"
    [ "$rc" -eq 0 ] || die "s_client exited with status $rc"
    expect "Verify return code: 0 (ok)"
    grep -qxF "Peer signature type: $SRV_SIG" "$SEA_OUT" ||
        die "expected 'Peer signature type: $SRV_SIG' in the output above"
    # the chain the server sent is our one certificate
    awk '/-----BEGIN CERTIFICATE-----/ { n++ } n { print } /-----END CERTIFICATE-----/ { exit }' \
        "$W/$name.client.log" >"$W/$name.peer.pem"
    [ "$(grep -c 'BEGIN CERTIFICATE' "$W/$name.client.log")" -eq 1 ] ||
        die "the server sent more than one certificate"
    plain x509 -in "$W/$name.peer.pem" -outform DER -out "$W/$name.peer.der"
    plain x509 -in "$SRV_CERT" -outform DER -out "$W/$name.srv.der"
    same_file "$W/$name.peer.der" "$W/$name.srv.der"
    for _ in $(seq 1 100); do
        grep -qF -- "$msg" "$SERVER_LOG" && return 0
        sleep 0.1
    done
    cat "$SERVER_LOG"
    die "the server did not receive the client's line"
}

step "TLS 1.3 and TLS 1.2 (ECDHE-ECDSA) with the server key in the SE"
start_server tls "$W/engine.cnf"
tls_exchange tls13 -tls1_3
expect "New, TLSv1.3, Cipher is TLS_"
tls_exchange tls12 -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256
expect "New, TLSv1.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256"
stop_server

# The openssl commands' -engine option already makes the engine the default for everything
# once the app starts (so every step above runs libsea under a host-wide default ENGINE);
# default_algorithms = ALL does it from the config, when the engine is loaded and initialised.
# libsea's own crypto must stay in its private library context: no recursion into the engine,
# no deadlock (both ends bounded by timeouts).
step "TLS 1.3 with the engine as the default for all algorithms (no recursion, no deadlock)"
start_server tlsdef "$W/engine-default.cnf"
tls_exchange tlsdef13 -tls1_3
expect "New, TLSv1.3, Cipher is TLS_"
stop_server

# ---------------------------------------------------------------------------------------
RSA_URI="pkcs11:token=$TOK;object=tlsrsa;type=private;pin-value=$PIN"

step "an RSA-2048 key pair in the SE, its public key read by pkcs11-tool"
run p11 --token-label "$TOK" --login --pin "$PIN" --keypairgen --key-type rsa:2048 \
    --id 02 --label tlsrsa
expect "Key pair generated"
run p11 --token-label "$TOK" --read-object --type pubkey --id 02 -o "$W/rsa.der"
run plain pkey -pubin -inform DER -in "$W/rsa.der" -out "$W/rsa.pem"
run plain pkey -pubin -in "$W/rsa.pem" -noout -text
expect "Public-Key: (2048 bit)"

step "RSA-PSS: openssl pkeyutl -engine pkcs11 signs by URI; plain openssl verifies"
run sslmod pkeyutl -sign -engine pkcs11 -keyform engine -inkey "$RSA_URI" \
    -pkeyopt rsa_padding_mode:pss -pkeyopt digest:sha256 -pkeyopt rsa_pss_saltlen:32 \
    -in "$W/data.sha256" -out "$W/rsa-pss.sig"
[ "$(stat -c %s "$W/rsa-pss.sig")" -eq 256 ] || die "the PSS signature is not 256 bytes"
run plain pkeyutl -verify -pubin -inkey "$W/rsa.pem" -pkeyopt rsa_padding_mode:pss \
    -pkeyopt digest:sha256 -pkeyopt rsa_pss_saltlen:32 -in "$W/data.sha256" \
    -sigfile "$W/rsa-pss.sig"
expect "Signature Verified Successfully"
run plain dgst -sha256 -verify "$W/rsa.pem" -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:32 -signature "$W/rsa-pss.sig" "$W/data"
expect "Verified OK"
run_fails plain dgst -sha256 -verify "$W/rsa.pem" -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:32 -signature "$W/rsa-pss.sig" "$W/data.bad"
expect "Verification failure"

step "RSA-PSS through openssl dgst -engine pkcs11 -sign; plain openssl verifies"
run sslmod dgst -engine pkcs11 -keyform engine -sign "$RSA_URI" -sha256 \
    -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -out "$W/rsa-pss2.sig" "$W/data"
run plain dgst -sha256 -verify "$W/rsa.pem" -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:32 -signature "$W/rsa-pss2.sig" "$W/data"
expect "Verified OK"

step "RSA-OAEP-SHA256: plain openssl encrypts, openssl -engine pkcs11 decrypts by URI"
printf 'an OAEP secret for the SE %s\n' "$RANDOM$RANDOM" >"$W/oaep.plain"
run plain pkeyutl -encrypt -pubin -inkey "$W/rsa.pem" -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 -in "$W/oaep.plain" \
    -out "$W/oaep.ct"
run sslmod pkeyutl -decrypt -engine pkcs11 -keyform engine -inkey "$RSA_URI" \
    -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 \
    -in "$W/oaep.ct" -out "$W/oaep.pt"
same_file "$W/oaep.plain" "$W/oaep.pt"
step "RSA-OAEP: a changed ciphertext does not decrypt"
cp "$W/oaep.ct" "$W/oaep.bad"
printf '\x01' | dd of="$W/oaep.bad" bs=1 seek=100 conv=notrunc status=none
cmp -s "$W/oaep.ct" "$W/oaep.bad" && printf '\x02' |
    dd of="$W/oaep.bad" bs=1 seek=100 conv=notrunc status=none
run_fails sslmod pkeyutl -decrypt -engine pkcs11 -keyform engine -inkey "$RSA_URI" \
    -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 \
    -in "$W/oaep.bad" -out "$W/oaep.badpt"
[ ! -s "$W/oaep.badpt" ] || die "a changed OAEP ciphertext gave a plaintext"

step "a self-signed certificate on the SE's RSA key"
run sslmod req -new -x509 -engine pkcs11 -keyform engine -key "$RSA_URI" -sha256 -days 2 \
    -subj "/CN=libsea TLS RSA test" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,digitalSignature,keyCertSign" \
    -addext "subjectAltName=IP:127.0.0.1" -out "$W/rsacert.pem"
run plain verify -CAfile "$W/rsacert.pem" "$W/rsacert.pem"
expect "$W/rsacert.pem: OK"
plain x509 -in "$W/rsacert.pem" -noout -pubkey | plain pkey -pubin -outform DER -out "$W/rsacert-pub.der"
same_file "$W/rsacert-pub.der" "$W/rsa.der"

step "TLS 1.3 (RSA-PSS) and TLS 1.2 (ECDHE-RSA, PKCS#1 v1.5) with the server's RSA key in the SE"
SRV_KEY=$RSA_URI
SRV_CERT=$W/rsacert.pem
start_server tlsrsa "$W/engine.cnf"
SRV_SIG=RSA-PSS
tls_exchange rsa13 -tls1_3
expect "New, TLSv1.3, Cipher is TLS_"
SRV_SIG=RSA
tls_exchange rsa12 -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 -sigalgs RSA+SHA256
expect "New, TLSv1.2, Cipher is ECDHE-RSA-AES128-GCM-SHA256"
SRV_SIG=RSA-PSS
tls_exchange rsa12pss -tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384 -sigalgs rsa_pss_rsae_sha256
expect "New, TLSv1.2, Cipher is ECDHE-RSA-AES256-GCM-SHA384"
stop_server

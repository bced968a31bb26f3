#!/bin/bash
# sea-tool csr and cert import end to end (TS-0003 10.1.4): a P-256 key generated in the SE, CSRs
# for a CSE-ID, an AE-ID and a Node-ID that `openssl req -verify` accepts and whose
# subjectAltName is the exact identifier, a certificate issued by a throwaway CA with
# `openssl x509 -req`, imported next to the key and seen by pkcs11-tool with the key's CKA_ID;
# a certificate for another key is refused and leaves nothing behind.
# Needs $SEA_TOOL, $SEA_MODULE, openssl, pkcs11-tool (opensc) and /usr/bin/python3.
set -euo pipefail
: "${SEA_TOOL:?SEA_TOOL must name the sea-tool under test}"
# shellcheck source=tests/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_cmd openssl openssl
require_cmd pkcs11-tool opensc
PY=/usr/bin/python3
[ -x "$PY" ] || die "/usr/bin/python3 is missing"

export SEA_PIN=24682468 SEA_SO_PIN=87654321
T=$SEA_T
tool() { "$SEA_TOOL" "$@"; }
# openssl with no configuration of the host's (no ENGINE, no provider of its own)
ossl() { OPENSSL_CONF=/dev/null openssl "$@"; }
# The number of certificate objects pkcs11-tool lists on the token.
count_certs()
{
    p11 --token-label id-se --list-objects --type cert 2>/dev/null | grep -c '^Certificate Object' || true
}

step "an SE and a P-256 key with CKA_ID 0a0b"
run tool init --name id-se
run tool keygen --type ec-p256 --label cse-key --id 0a0b

step "a CSR for the CSE's public domain name: openssl verifies it, the SAN is the dNSName"
CSE=mn-cse1.in-cse.m2m.example.com
run tool csr --key cse-key --cse-id "$CSE" --out "$T/csr.pem"
run ossl req -in "$T/csr.pem" -verify -noout
expect "verify OK"
run ossl req -in "$T/csr.pem" -text -noout
expect "DNS:$CSE"
expect "Subject: CN = $CSE"
expect "ecdsa-with-SHA256"
expect "Digital Signature"
expect "ASN1 OID: prime256v1"
[ "$(grep -c 'DNS:\|URI:' "$SEA_OUT")" -eq 1 ] || die "the SAN holds more than one name"
# the CSR's public key is the SE key's
run ossl req -in "$T/csr.pem" -pubkey -noout -out "$T/csr-pub.pem"
run tool pubkey --key cse-key --out "$T/key-pub.pem"
same_file "$T/csr-pub.pem" "$T/key-pub.pem"
# a CSR changed by one byte no longer verifies
ossl req -in "$T/csr.pem" -outform DER -out "$T/csr.der"
"$PY" - "$T/csr.der" "$T/bad.der" "$CSE" <<'EOF'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
i = d.find(sys.argv[3].encode())
assert i > 0
d[i] ^= 1
open(sys.argv[2], "wb").write(d)
EOF
# (openssl 3.0 req -verify exits 0 even when the signature is bad: read what it says)
ossl req -inform DER -in "$T/bad.der" -verify -noout >"$SEA_OUT" 2>&1 || true
cat "$SEA_OUT"
expect "verify failure"
expect_not "verify OK"

step "a throwaway CA issues the certificate (openssl x509 -req, the SAN copied)"
run ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/ca.key"
run ossl req -x509 -new -key "$T/ca.key" -subj "/CN=test CA" -days 2 -out "$T/ca.pem"
cat >"$T/ext.cnf" <<EOF
[v3]
subjectAltName = DNS:$CSE
keyUsage = critical, digitalSignature
EOF
run ossl x509 -req -in "$T/csr.pem" -CA "$T/ca.pem" -CAkey "$T/ca.key" -set_serial 7 -days 1 \
    -extfile "$T/ext.cnf" -extensions v3 -out "$T/cert.pem"
run ossl verify -CAfile "$T/ca.pem" "$T/cert.pem"

step "cert import: the certificate lands next to the key with its CKA_ID"
run tool cert import --key cse-key --in "$T/cert.pem"
expect "type=cert"
expect "id=%0A%0B"
run p11 --token-label id-se --list-objects --type cert
expect "Certificate Object; type = X.509 cert"
expect "label:      cse-key"
expect "ID:         0a0b"
run p11 --token-label id-se --login --pin "$SEA_PIN" --list-objects --type privkey
expect "ID:         0a0b"
# the value is the certificate, byte for byte
run p11 --token-label id-se --read-object --type cert --id 0a0b --output-file "$T/got.der"
ossl x509 -in "$T/cert.pem" -outform DER -out "$T/cert.der"
same_file "$T/got.der" "$T/cert.der"
run tool info --se id-se
expect "certificate"
expect 'label="cse-key" id=0a0b'
run_fails tool cert import --key cse-key --in "$T/cert.pem"
expect "already holds this certificate"
[ "$(count_certs)" -eq 1 ] || die "expected one certificate"

step "a certificate for another key is refused and nothing is written"
run tool keygen --type ec-p256 --label other
run tool csr --key other --cse-id other.example.com --out "$T/other.csr"
run ossl x509 -req -in "$T/other.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -set_serial 8 -days 1 \
    -out "$T/other.pem"
run_fails tool cert import --key cse-key --in "$T/other.pem"
expect "not for the key 'cse-key'"
[ "$(count_certs)" -eq 1 ] || die "the refused certificate was stored"
run_fails tool cert import --key cse-key --in "$T/ca.key"
expect "no CERTIFICATE block"

step "AE-ID and Node-ID CSRs; a key without CKA_ID gets the SHA-1 of its point"
run tool keygen --type ec-p256 --label ae-key
run tool csr --key ae-key --ae-id //m2m.example.com/CSE1/Cae1 --der --out "$T/ae.der"
run ossl req -inform DER -in "$T/ae.der" -verify -noout
expect "verify OK"
run ossl req -inform DER -in "$T/ae.der" -text -noout
expect "URI:https://m2m.example.com/CSE1/Cae1"
run tool --json csr --key ae-key --node-id urn:gsma:imei:90420156-025763-0 --cn "node 7"
"$PY" - "$SEA_OUT" "$T/node.pem" <<'EOF' || die "csr --json is not as expected"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["subjectAltName"] == "URI:urn:gsma:imei:90420156-025763-0", d
assert d["pem"].startswith("-----BEGIN CERTIFICATE REQUEST-----\n")
assert d["key"].startswith("pkcs11:")
open(sys.argv[2], "w").write(d["pem"])
EOF
run ossl req -in "$T/node.pem" -verify -noout
run ossl req -in "$T/node.pem" -text -noout
expect "URI:urn:gsma:imei:90420156-025763-0"
expect "Subject: CN = node 7"
run ossl x509 -req -in "$T/node.pem" -CA "$T/ca.pem" -CAkey "$T/ca.key" -set_serial 9 -days 1 \
    -copy_extensions copy -out "$T/node-cert.pem" 2>/dev/null ||
    run ossl x509 -req -in "$T/node.pem" -CA "$T/ca.pem" -CAkey "$T/ca.key" -set_serial 9 \
        -days 1 -out "$T/node-cert.pem"
run tool pubkey --key ae-key --out "$T/ae-pub.pem"
run tool --json cert import --key ae-key --in "$T/node-cert.pem" --label "node 7 cert"
WANT_ID=$(ossl pkey -pubin -in "$T/ae-pub.pem" -outform DER | tail -c 65 | sha1sum | cut -c1-40)
"$PY" - "$SEA_OUT" "$WANT_ID" <<'EOF' || die "cert import --json is not as expected"
import json, sys
d = json.load(open(sys.argv[1]))
c = d["certificate"]
assert c["class"] == "certificate" and c["label"] == "node 7 cert", d
assert c["id"] == sys.argv[2], (c["id"], sys.argv[2])
assert c["private"] is False
EOF
run p11 --token-label id-se --login --pin "$SEA_PIN" --list-objects --type privkey
expect "ID:         $WANT_ID"
run p11 --token-label id-se --list-objects --type pubkey
expect "ID:         $WANT_ID"
[ "$(count_certs)" -eq 2 ] || die "expected two certificates"

step "usage errors: exit status 2, the reason, no PIN asked"
for args in "--key cse-key" "--key cse-key --cse-id a.example.com --node-id urn:x:y" \
    "--cse-id a.example.com"; do
    rc=0
    # shellcheck disable=SC2086
    env -u SEA_PIN "$SEA_TOOL" csr $args >"$SEA_OUT" 2>&1 || rc=$?
    cat "$SEA_OUT"
    [ "$rc" -eq 2 ] || die "csr $args: exit $rc, expected 2"
done
rc=0
env -u SEA_PIN "$SEA_TOOL" csr --key cse-key --cse-id /CSE1 >"$SEA_OUT" 2>&1 || rc=$?
cat "$SEA_OUT"
[ "$rc" -eq 2 ] || die "a CSE-ID instead of a domain name: exit $rc, expected 2"
expect "public domain name"
rc=0
env -u SEA_PIN "$SEA_TOOL" csr --key cse-key --ae-id C123 >"$SEA_OUT" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || die "an AE-ID-Stem: exit $rc, expected 2"
expect "Absolute-AE-ID"
run_fails tool cert import --key cse-key
expect "--in FILE is required"
run_fails tool cert
run tool cert --help
expect "Usage: sea-tool cert import"
run tool help csr
expect "--node-id"

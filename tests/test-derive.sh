#!/bin/bash
# sea-tool derive end to end on a software SE: every oneM2M derivation (TS-0003 10.3) made from
# an imported Ke, its value read back through the PKCS#11 module with pkcs11-tool (the derived
# keys made --extractable --no-sensitive for that) and compared with what Python's hmac/hashlib/
# unicodedata compute here from the formulas, and with the vectors of the TS-0016 digest §7;
# NFKC normalisation; non-extractable keys that cannot be read; the SUID the keys carry; usage
# errors and failures that leave the SE as it was.
# Needs $SEA_TOOL, $SEA_MODULE (tests/common.sh), pkcs11-tool and /usr/bin/python3.

# shellcheck source=tests/common.sh
. "$(dirname "$0")/common.sh"

: "${SEA_TOOL:=$SEA_TOP_BUILDDIR/sea-tool}"
PY=/usr/bin/python3
require_cmd pkcs11-tool opensc
[ -x "$PY" ] || die "$PY is not installed (Debian package: python3)"

T=$SEA_T
unset SEA_PIN SEA_SO_PIN
USER_PIN=24682468
printf '87654321\n' >"$T/so.pin"
printf '%s\n' "$USER_PIN" >"$T/user.pin"
chmod 600 "$T/so.pin" "$T/user.pin"

# tool ARGS...: run sea-tool (under ASan: as built); stdout in $T/out, stderr in $T/err, rc.
rc=0
tool()
{
    echo "+ sea-tool $*"
    rc=0
    "$SEA_TOOL" "$@" >"$T/out" 2>"$T/err" || rc=$?
    sed 's/^/#   /' "$T/out" "$T/err"
    no_sanitizer_report "$T/err"
}

# ok ARGS...: the tool succeeds.
ok()
{
    tool "$@"
    [ "$rc" -eq 0 ] || die "exit status $rc from: sea-tool $*"
}

# fails STATUS MESSAGE ARGS...: the tool exits with STATUS and says MESSAGE (a fixed string, in
# any case) on stderr, and the SE holds the same objects as before.
fails()
{
    local want=$1 msg=$2
    shift 2
    objects >"$T/before"
    tool "$@"
    [ "$rc" -eq "$want" ] || die "exit status $rc, expected $want, from: sea-tool $*"
    grep -qiF -- "$msg" "$T/err" || die "expected '$msg' on stderr from: sea-tool $*"
    objects >"$T/after"
    cmp -s "$T/before" "$T/after" || die "the objects of the SE changed after: sea-tool $*"
}

# objects: the labels of the SE's objects with their class, sorted (sea-tool info --json).
objects()
{
    "$SEA_TOOL" --json info --se gw |
        "$PY" -c 'import json, sys; [print(o["class"], o["label"]) for o in sorted(json.load(sys.stdin)["objects"], key=lambda o: (o["class"], o["label"]))]'
}

# jq_ EXPR: a Python expression over the JSON document in $T/out (as d) must hold.
jq_()
{
    "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
        "$T/out" "$1" || die "not true of the output: $1"
}

# value LABEL: the value of a secret key in hex, read by pkcs11-tool through the module.
value()
{
    rm -f "$T/value.bin"
    p11 --login --pin "$USER_PIN" --read-object --type secrkey --label "$1" \
        --output-file "$T/value.bin" >"$T/p11.out" 2>&1 || {
        cat "$T/p11.out"
        die "pkcs11-tool could not read the value of '$1'"
    }
    no_sanitizer_report "$T/p11.out"
    od -An -v -tx1 "$T/value.bin" | tr -d ' \n'
}

# same WHAT GOT WANT: two hex strings are equal.
same()
{
    [ "$2" = "$3" ] || die "$1: got $2, expected $3"
    echo "ok - $1"
}

# The formulas of TS-0003 10.3 (the labels typed in from the TS-0016 digest §5.5),
# computed by Python's hmac and hashlib; identities NFKC-normalised by unicodedata.
cat >"$T/expect.py" <<'EOF'
import hashlib, hmac, sys, unicodedata
def H(k, m):
    return hmac.new(k, m, hashlib.sha256).digest()
def ident(s):
    return unicodedata.normalize("NFKC", s).encode("utf-8")
x = bytes.fromhex
what, a = sys.argv[1], sys.argv[2:]
if what == "km":
    out = H(x(a[0]), b"oneM2M Enrolment Key to Master Credential derivation" + ident(a[1]))
elif what == "kpsa":
    out = H(x(a[0]), b"oneM2M Enrolment Key to Provisioned Secure Connection Key derivation" + ident(a[1]))
elif what == "usage":
    out = H(x(a[0]), b"oneM2M Enrolment Key to Usage-Constrained Symmetric Key derivation" +
            a[1].encode("ascii") + ident(a[2]))
elif what == "master":
    salt = x(a[1]) if a[1] else bytes(32)
    out = H(salt, x(a[0]))
elif what == "e2e":
    labels = [b"E2E Message Authentication Key", b"E2E Message Confidentiality Key",
              b"E2E Attribute Authenticity Key", b"E2E Attribute Confidentiality Key"]
    t = b""
    for i in range(int(a[1])):
        t = H(x(a[0]), t + labels[i] + bytes([i + 1]))
    out = t
elif what == "session":
    out = H(x(a[0]), x(a[1]) + x(a[2]) +
            b"oneM2M HMAC-SHA256 sessionESPrimKey derivation algorithm")
else:
    sys.exit("unknown derivation " + what)
nbytes = int(a[-1]) // 8 if what in ("e2e", "session") and len(a) > 3 else 32
print(out[:nbytes].hex())
EOF
expect_()
{
    "$PY" "$T/expect.py" "$@"
}

KE=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f # digest §7

step "an SE with a pre-provisioned Ke (non-extractable, derive)"
ok init --name gw --so-pin-file "$T/so.pin" --pin-file "$T/user.pin"
export SEA_PIN=$USER_PIN
printf '%s\n' "$KE" >"$T/ke.hex"
ok --json import --label ke --secret-hex-file "$T/ke.hex" --usage derive
jq_ 'd["key"]["extractable"] is False and d["key"]["usage"] == ["derive"]'
run_fails p11 --login --pin "$USER_PIN" --read-object --type secrkey --label ke -o "$T/ke.bin"
[ ! -s "$T/ke.bin" ] || die "the value of Ke was read"

step "help"
ok derive --help
for s in km kpsa usage e2e session split --no-sensitive --which --fqdn; do
    grep -qF -- "$s" "$T/out" || die "derive --help does not mention $s"
done
ok help derive
grep -qF "derive km" "$T/out" || die "help derive does not show derive km"

step "Km (10.3.2)"
ok --json derive km --key ke --maf-id maf.example.com --label km --extractable --no-sensitive \
    --id "km1@maf.example.com" --suid 12
jq_ 'd["derived"] == "Km" and d["key"]["label"] == "km" and d["key"]["suid"] == 12 and d["key"]["extractable"] and not d["key"]["sensitive"] and d["key"]["keyType"] == "generic" and d["key"]["bits"] == 256'
jq_ 'bytes.fromhex(d["key"]["id"]) == b"km1@maf.example.com" and d["uri"].startswith("pkcs11:") and "object=km" in d["uri"]'
KM=$(value km)
same "Km = Python's HMAC" "$KM" "$(expect_ km "$KE" maf.example.com)"
same "Km = digest §7" "$KM" 3055bf32dd9c95586aaffa2ae2e165dfeffd0803566e16bdd343171457da8a5e
lacks_key() { ! grep -qiF -- "$1" "$T/out" "$T/err"; }
lacks_key "$KM" || die "the tool printed the value of Km"
# the base key by its PKCS#11 URI (which also chooses the SE), and the SE by a token URI
KE_URI=$("$SEA_TOOL" --json info --se gw |
    "$PY" -c 'import json, sys; print([o["uri"] for o in json.load(sys.stdin)["objects"] if o["label"] == "ke"][0])')
ok derive km --key "$KE_URI" --maf-id maf.example.com --label km-uri --extractable --no-sensitive
same "Km from Ke named by URI" "$(value km-uri)" "$KM"
ok --se pkcs11:token=gw derive km --key ke --maf-id maf.example.com --label km-se \
    --extractable --no-sensitive
same "Km in the SE named by a token URI" "$(value km-se)" "$KM"

step "Kpsa (10.3.3), text output"
ok derive kpsa --key ke --enrolee-id CAE0001 --label kpsa --extractable --no-sensitive
grep -qF 'Kpsa "kpsa" derived from "ke"' "$T/out" || die "derive kpsa does not say what it made"
grep -qF 'pkcs11:token=gw;' "$T/out" || die "derive kpsa does not print the URI"
KPSA=$(value kpsa)
lacks_key "$KPSA" || die "the tool printed the value of Kpsa"
same "Kpsa = Python's HMAC" "$KPSA" "$(expect_ kpsa "$KE" CAE0001)"
same "Kpsa = digest §7" "$KPSA" 4aa40ce942df42e7da3ceec83c87292bf8a3d3d2b93208701d3eb3defc338b7c

step "usage-constrained key (10.3.7), SUID 22"
ok --json derive usage --key ke --suid 22 --target in-cse.example.com --label uck \
    --extractable --no-sensitive
jq_ 'd["key"]["suid"] == 22'
UCK=$(value uck)
same "usage key = Python's HMAC" "$UCK" "$(expect_ usage "$KE" 22 in-cse.example.com)"
same "usage key = digest §7" "$UCK" da9e86dc2f0ed07026ce7fe015d905ee0a1c7551568ae507c8927cd6747b17a5

step "Ke2e_master and the four E2E keys (10.3.6)"
SALT=404142434445464748494a4b4c4d4e4f
ok derive e2e --key kpsa --salt "$SALT" --label m --extractable --no-sensitive
M=$(value m)
same "Ke2e_master = Python's HMAC" "$M" "$(expect_ master "$KPSA" "$SALT")"
same "Ke2e_master = digest §7" "$M" bda28658061ba7da13d9356e56107fadba19b3b61e3c9d3ef7b30b6ad388326c
ok derive e2e --key kpsa --salt '' --label m0 --extractable --no-sensitive
same "Ke2e_master with no salt = Python's HMAC (32 zero bytes)" "$(value m0)" \
    "$(expect_ master "$KPSA" '')"
VEC=(61ed3a221b4be24a8554d4382b2a6d6f6677089fe84c8d54d9484105c7b67ab5
    c0767686dbe671055ceaa4fe9813e06f9912393bfe52c359cc0c04e886bc3a68
    3bd12f52be1a310745843e288d8879ce1bcef3425c8fc6f392ea75f75b92ede4
    44cdd848e3864b2ff5d11170af740ea589ecaae1478e9793bc4109ccca3c390f)
WHICH=(msg-auth msg-conf att-auth att-conf)
for i in 0 1 2 3; do
    w=${WHICH[$i]}
    ok --json derive e2e --key m --which "$w" --label "one-$w" --extractable --no-sensitive
    jq_ 'd["key"]["keyType"] == "aes" and d["key"]["bits"] == 256'
    v=$(value "one-$w")
    same "Ke2e $w = Python's HMAC" "$v" "$(expect_ e2e "$M" $((i + 1)))"
    same "Ke2e $w = digest §7" "$v" "${VEC[$i]}"
done
ok --json derive e2e --key m --which all --label all --type generic --extractable --no-sensitive
jq_ 'len(d["keys"]) == 4 and [k["key"]["label"] for k in d["keys"]] == ["all-msg-auth", "all-msg-conf", "all-att-auth", "all-att-conf"] and all(k["key"]["keyType"] == "generic" for k in d["keys"])'
for i in 0 1 2 3; do
    same "Ke2e ${WHICH[$i]} of --which all = digest §7" "$(value "all-${WHICH[$i]}")" "${VEC[$i]}"
done
ok --json derive e2e --key m --which msg-conf --bits 128 --label conf128 --extractable --no-sensitive
jq_ 'd["key"]["keyType"] == "aes" and d["key"]["bits"] == 128'
same "Ke2e msg-conf, AES-128 = Python's leftmost 16 bytes" "$(value conf128)" \
    "$(expect_ e2e "$M" 2 x 128)"

step "sessionESPrimKey (10.3.8)"
PAIR=0000000000000000000000000000000000000000000000000000000000000001
RR=101112131415161718191a1b1c1d1e1f
OR=202122232425262728292a2b2c2d2e2f
ok import --label pair --secret-hex "$PAIR" --usage derive --quiet
ok derive session --key pair --receiver-rand "$RR" --originator-rand "$OR" --label sess \
    --extractable --no-sensitive
S=$(value sess)
same "sessionESPrimKey = Python's HMAC" "$S" "$(expect_ session "$PAIR" "$RR" "$OR")"
same "sessionESPrimKey = digest §7" "$S" 703ebe6e1d9a5f9fc288f0c671f5be66b2454ab07e6e9b5255e3e5ec5aa4a32b
ok --json derive session --key pair --receiver-rand "$RR" --originator-rand "$OR" --label s192 \
    --bits 192 --extractable --no-sensitive
jq_ 'd["key"]["keyType"] == "aes" and d["key"]["bits"] == 192'
same "sessionESPrimKey AES-192 = Python's leftmost 24 bytes" "$(value s192)" \
    "$(expect_ session "$PAIR" "$RR" "$OR" 192)"
ok derive session --key pair --receiver-rand "$OR" --originator-rand "$RR" --label swap \
    --extractable --no-sensitive
[ "$(value swap)" != "$S" ] || die "swapping the rands gave the same key"

step "TLS-exporter split (10.3.1)"
EXP=$("$PY" -c 'print(bytes(range(0x80, 0xb0)).hex())')
# the exporter output comes from the host's TLS stack: imported readable, as the split keeps
# its base key's protection (a sensitive base gives a sensitive split)
ok import --label exp --secret-hex "$EXP" --usage derive --extractable --no-sensitive --quiet
ok derive split --key exp --label kesplit --fqdn mef.example.com --extractable --no-sensitive
grep -qx 'identifier: 808182838485868788898a8b8c8d8e8f' "$T/out" || die "no split identifier"
grep -qx 'key identifier: 808182838485868788898a8b8c8d8e8f@mef.example.com' "$T/out" ||
    die "no KeID"
same "split key = last 32 bytes (digest §7)" "$(value kesplit)" "${EXP:32}"
ok --json derive split --key exp --label kesplit2 --extractable --no-sensitive
jq_ 'd["identifier"] == "808182838485868788898a8b8c8d8e8f" and "keyIdentifier" not in d'
ok import --label expsens --secret-hex "$EXP" --usage derive --quiet
fails 1 "the new key must be sensitive" derive split --key expsens --label leak --extractable \
    --no-sensitive

step "identities are NFKC-normalised"
# full-width letters and a full-width full stop (U+FF0E): NFKC gives maf.example.com
FW=$("$PY" -c 'print("".join(chr(ord(c) + 0xfee0) for c in "maf.example.com"))')
[ "$FW" != maf.example.com ] || die "the full-width MAF-ID is plain ASCII"
ok derive km --key ke --maf-id "$FW" --label km-fw --extractable --no-sensitive
same "Km of a full-width MAF-ID = Km of its NFKC form" "$(value km-fw)" "$KM"
# a decomposed e + U+0301 against the precomposed U+00E9
DEC=$("$PY" -c 'print("CAE-cafe\u0301")')
PRE=$("$PY" -c 'print("CAE-caf\u00e9")')
[ "$DEC" != "$PRE" ] || die "the decomposed and the precomposed IDs are the same bytes"
ok derive kpsa --key ke --enrolee-id "$DEC" --label kpsa-dec --extractable --no-sensitive
ok derive kpsa --key ke --enrolee-id "$PRE" --label kpsa-pre --extractable --no-sensitive
same "Kpsa of a decomposed ID = Kpsa of the precomposed one" "$(value kpsa-dec)" "$(value kpsa-pre)"
same "Kpsa of a decomposed ID = Python's HMAC over NFKC" "$(value kpsa-dec)" \
    "$(expect_ kpsa "$KE" "$PRE")"
[ "$(value kpsa-dec)" != "$KPSA" ] || die "a different ID gave the same Kpsa"

step "keys made without --extractable stay in the SE and carry their SUID"
ok --json derive km --key ke --maf-id maf.example.com --label km-locked --suid 21
jq_ 'd["key"]["extractable"] is False and d["key"]["sensitive"] is True and d["key"]["suid"] == 21'
run_fails p11 --login --pin "$USER_PIN" --read-object --type secrkey --label km-locked \
    -o "$T/locked.bin"
[ ! -s "$T/locked.bin" ] || die "the value of a non-extractable key was read"
ok --json derive usage --key ke --suid 33 --target in-cse.example.com --label uck-locked
jq_ 'd["key"]["suid"] == 33 and d["key"]["extractable"] is False'
ok --json derive kpsa --key ke --enrolee-id CAE0002 --label kpsa-locked --extractable
run_fails p11 --login --pin "$USER_PIN" --read-object --type secrkey --label kpsa-locked \
    -o "$T/locked2.bin"
[ ! -s "$T/locked2.bin" ] || die "the value of an extractable but sensitive key was read"
# what the SE says afterwards, by another command
ok --json info --se gw
jq_ '{o["label"]: o.get("suid") for o in d["objects"]}["km-locked"] == 21'
jq_ '{o["label"]: o.get("suid") for o in d["objects"]}["uck-locked"] == 33'
jq_ '{o["label"]: o.get("suid") for o in d["objects"]}["uck"] == 22'
jq_ '{o["label"]: o.get("suid") for o in d["objects"]}["kpsa"] is None'

step "end dates: given, inherited, never after the base key's"
ok --json derive kpsa --key ke --enrolee-id CAE0003 --label kpsa-end --end-date 20991231
jq_ 'd["endDate"] == "20991231"'
ok derive e2e --key kpsa-end --salt 00 --label m-end
grep -qx 'end date: 20991231' "$T/out" || die "the derived key did not inherit its base key's end date"
fails 1 "CKA_END_DATE" derive e2e --key kpsa-end --salt 00 --label n --end-date 21000101
fails 2 "YYYYMMDD" derive km --key ke --maf-id m --label n --end-date 2099-12-31

step "usage errors and failures leave the SE as it was"
ok keygen --type ec-p256 --label ec1
ok import --label aeskey --type aes --secret-hex "$KE" --quiet
ok import --label nodrv --secret-hex "$KE" --usage sign,verify --quiet
fails 2 "km, kpsa, usage, e2e, session or split" derive
fails 2 "unknown derive command" derive kx --key ke --label n
fails 2 "--key" derive km --maf-id m --label n
fails 2 "--label" derive km --key ke --maf-id m
fails 2 "--maf-id" derive km --key ke --label n
fails 2 "--maf-id" derive km --key ke --label n --maf-id ''
fails 2 "--enrolee-id" derive kpsa --key ke --label n
fails 2 "takes no --salt" derive km --key ke --maf-id m --label n --salt 00
fails 2 "--suid SUID is required" derive usage --key ke --target t --label n
fails 2 "10 to 99" derive usage --key ke --suid 100 --target t --label n
fails 2 "10 to 99" derive usage --key ke --suid 9 --target t --label n
fails 2 "positive number" derive usage --key ke --suid 0 --target t --label n
fails 2 "positive number" derive usage --key ke --suid -22 --target t --label n
fails 2 "--target" derive usage --key ke --suid 22 --label n
fails 2 "odd number of hex digits" derive e2e --key kpsa --salt 404 --label n
fails 2 "'g' is not a hex digit" derive e2e --key kpsa --salt 4g --label n
fails 2 "0 to 255 bytes" derive e2e --key kpsa --salt "$("$PY" -c 'print("00" * 256)')" --label n
fails 2 "not both" derive e2e --key kpsa --label n
fails 2 "not both" derive e2e --key kpsa --salt 00 --which msg-auth --label n
fails 2 "--which takes" derive e2e --key m --which msg --label n
fails 2 "no --bits" derive e2e --key kpsa --salt 00 --bits 128 --label n
fails 2 "--bits takes 128, 192 or 256" derive e2e --key m --which msg-auth --bits 64 --label n
fails 2 "needs --type aes" derive e2e --key m --which msg-auth --bits 128 --type generic --label n
fails 2 "16 bytes (32 hex digits), not 15" derive session --key pair --receiver-rand "${RR:2}" \
    --originator-rand "$OR" --label n
fails 2 "odd number of hex digits" derive session --key pair --receiver-rand "$RR" \
    --originator-rand "${OR}0" --label n
fails 2 "are required" derive session --key pair --receiver-rand "$RR" --label n
fails 2 "--no-sensitive needs --extractable" derive km --key ke --maf-id m --label n --no-sensitive
fails 2 "--fqdn takes a domain name" derive split --key exp --label n --fqdn "a@b"
fails 2 "--id takes 1 to 64 bytes" derive km --key ke --maf-id m --label n \
    --id "$("$PY" -c 'print("i" * 65)')"
fails 2 "'z' is not a hex digit" derive km --key ke --maf-id m --label n --id-hex 0z
# refused by the SE
fails 1 "is a private key" derive km --key ec1 --maf-id m --label n
fails 1 "no object matches" derive km --key nosuchkey --maf-id m --label n
fails 1 "deriving the Km 'n'" derive km --key aeskey --maf-id m --label n
fails 1 "deriving the Km 'n'" derive km --key nodrv --maf-id m --label n
fails 1 "km" derive km --key ke --maf-id m --label km
fails 1 "deriving the Ke2e_msg_auth" derive e2e --key exp --which msg-auth --label n # 48 bytes
# invalid UTF-8 in an identity: refused by the SE, not by the tool
fails 1 "deriving the Km 'n'" derive km --key ke --maf-id "$(printf 'maf\xff')" --label n
# all four or none: the third label is taken
ok derive e2e --key m --which att-auth --label taken-att-auth
fails 1 "taken-att-auth" derive e2e --key m --which all --label taken
# --json errors are a JSON document
fails 2 "10 to 99" --json derive usage --key ke --suid 100 --target t --label n
jq_ 'd["error"]["status"] == "usage" and d["error"]["exitStatus"] == 2'
fails 1 "is a private key" --json derive km --key ec1 --maf-id m --label n
jq_ 'd["error"]["exitStatus"] == 1'

echo "all derive checks passed"

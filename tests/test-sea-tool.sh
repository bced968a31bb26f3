#!/bin/bash
# sea-tool end to end on a software SE: an enrolment (init, list, keygen, import), signatures
# checked by openssl and MACs by Python, sensitive data round trips, PIN errors and tries left,
# PIN files, the no-echo PIN prompt on a pseudo-terminal, JSON output and usage errors, secret
# keys kept off the command line, and output files that are replaced, never written in place.
# Needs $SEA_TOOL (the sea-tool to test), openssl and /usr/bin/python3. SEA_KEEP_TMP=1 keeps
# the temp dir.
set -euo pipefail

: "${SEA_TOOL:?SEA_TOOL must name the sea-tool under test}"
PY=/usr/bin/python3
for cmd in openssl "$PY" setsid cmp mkfifo timeout; do
    command -v "$cmd" >/dev/null 2>&1 || {
        echo "FAIL: '$cmd' is not installed" >&2
        exit 1
    }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/sea-tool-test.XXXXXX")
cleanup()
{
    if [ "${SEA_KEEP_TMP:-0}" = 1 ]; then
        echo "# kept $T"
    else
        rm -rf "$T"
    fi
}
trap cleanup EXIT

cat >"$T/sea.conf" <<EOF
[device soft]
backend = soft
path = $T/store
kdf_iterations = 1000
EOF
export SEA_CONF="$T/sea.conf"
unset SEA_PIN SEA_SO_PIN SEA_STORE SEA_LOG
SO_PIN=87654321
USER_PIN=24682468

# ---- a small TAP-like harness: every check is counted, a failure does not stop the run ----

n=0
failed=0
ok()
{
    n=$((n + 1))
    echo "ok $n - $1"
}
# not_ok WHAT [show]: with show, the stderr of the last run goes with it.
not_ok()
{
    n=$((n + 1))
    failed=$((failed + 1))
    echo "not ok $n - $1"
    if [ "${2:-}" = show ] && [ -s "$T/err" ]; then sed 's/^/#   stderr: /' "$T/err" | head -5; fi
}
check()
{
    local what=$1
    shift
    if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# run ARGS...: the tool's stdout in $T/out, stderr in $T/err, exit status in $rc.
rc=0
run()
{
    run_cmd "$SEA_TOOL" "$@"
}

# run_cmd CMD...: like run, for any command (e.g. env -u SEA_PIN "$SEA_TOOL" ...).
run_cmd()
{
    set +e
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    set -e
}

# expect STATUS WHAT ARGS...: run the tool and check its exit status.
expect()
{
    local want=$1 what=$2
    shift 2
    expect_cmd "$want" "$what" "$SEA_TOOL" "$@"
}

# expect_cmd STATUS WHAT CMD...: the same for any command.
expect_cmd()
{
    local want=$1 what=$2
    shift 2
    run_cmd "$@"
    if [ "$rc" -eq "$want" ]; then ok "$what"; else not_ok "$what (exit $rc, expected $want)" show; fi
}

out_has() { grep -q -- "$1" "$T/out"; }
err_has() { grep -qi -- "$1" "$T/err"; }
not() { ! "$@"; }

# lacks TEXT FILE...: none of the files contains TEXT (a fixed string).
lacks() { ! grep -qF -- "$1" "${@:2}"; }

# matches STRING GLOB...: STRING matches every glob.
matches()
{
    local s=$1 g
    shift
    for g in "$@"; do
        # shellcheck disable=SC2053 # the glob is meant to match
        [[ $s == $g ]] || return 1
    done
}

# ossl_verifies DIGEST PUBKEY SIG FILE: openssl dgst -verify accepts the DER signature.
ossl_verifies() { openssl dgst "-$1" -verify "$2" -signature "$3" "$4" 2>/dev/null | grep -q "Verified OK"; }

# json EXPR [ARGS...]: evaluate a Python expression over the JSON document in $T/out (as d;
# the ARGS as the list a; b64 is base64.b64decode, raw(path) a file's bytes).
json()
{
    "$PY" -c '
import base64, json, sys
d = json.load(open(sys.argv[1]))
a = sys.argv[3:]
b64 = base64.b64decode
def raw(path):
    return open(path, "rb").read()
sys.exit(0 if eval(sys.argv[2]) else 1)' "$T/out" "$@"
}

# hmac_ok KEYFILE MSGFILE MACFILE: MACFILE holds the HMAC-SHA256 of MSGFILE under the raw key in
# KEYFILE, as Python computes it.
hmac_ok()
{
    "$PY" -c '
import hmac, hashlib, sys
key, msg, mac = (open(p, "rb").read() for p in sys.argv[1:4])
sys.exit(0 if mac == hmac.new(key, msg, hashlib.sha256).digest() else 1)' "$@"
}

# mode_is MODE FILE: FILE (not a symlink) has the octal permissions MODE.
mode_is() { [ ! -L "$2" ] && [ -f "$2" ] && [ "$(stat -c %a "$2")" = "$1" ]; }

# tries_left SE FIELD: a PIN counter of an SE (userTriesLeft, soTriesLeft) from list --json.
tries_left()
{
    env -u SEA_PIN "$SEA_TOOL" list --json |
        "$PY" -c 'import json, sys; print([s for s in json.load(sys.stdin)["ses"] if s["name"] == sys.argv[1]][0]["pin"][sys.argv[2]])' "$1" "$2"
}

echo "# sea-tool under test: $SEA_TOOL"

# ---- usage errors exit 2, help exits 0 ----

expect 2 "no command is a usage error"
expect 2 "an unknown command is a usage error" frobnicate
expect 2 "an unknown global option is a usage error" --frob list
expect 2 "an unknown command option is a usage error" list --frob
expect 2 "a stray argument is a usage error" list extra
expect 2 "a missing option value is a usage error" keygen --label
expect 2 "keygen without --type is a usage error" keygen --label x
expect 2 "keygen with an unknown type is a usage error" keygen --type rsa-1024 --label x
expect 2 "keygen generic with bits not a multiple of 8 is a usage error" keygen --type generic-12 --label x
expect 2 "keygen with a bad --id is a usage error" keygen --type ec-p256 --label x --id 0g
expect 2 "keygen with an unknown usage is a usage error" keygen --type ec-p256 --label x --usage sign,fly
expect 2 "import with two key sources is a usage error" import --label x --secret-hex 00 --secret-file /dev/null
expect 2 "sign without --out is a usage error" sign --key x --in /dev/null
expect 2 "sign with an unknown --alg is a usage error" sign --key x --in /dev/null --out /dev/null --alg md5
expect 2 "der format of an HMAC is a usage error" sign --key x --in /dev/null --out /dev/null --alg hmac-sha256 --format der
expect 2 "verify without --sig is a usage error" verify --key x --in /dev/null
expect 2 "init without --name is a usage error" init
expect 2 "init with a level above 3 is a usage error" init --name x --level 4
expect 2 "delete without --se is a usage error" delete
expect 2 "data without a subcommand is a usage error" data
expect 2 "an unknown data subcommand is a usage error" data frob --id x
expect 2 "data put with --in and --value is a usage error" data put --id x --creator C --in /dev/null --value v
expect 2 "data get without --id is a usage error" data get
expect 2 "--json usage error exits 2" --json keygen --label x
check "--json usage error is a JSON error document" json 'd["error"]["status"] == "usage" and d["error"]["exitStatus"] == 2'
expect 0 "--help exits 0" --help
check "--help lists the commands" out_has "keygen"
expect 0 "a command's --help exits 0" sign --help
check "sign --help documents --format" out_has "--format"
expect 0 "help COMMAND exits 0" help data
check "help data documents data put" out_has "data put"
expect 0 "--version exits 0" --version
check "--version names libsea" out_has "libsea"

# ---- an empty store ----

expect 0 "list on an empty store" list --json
check "list --json of an empty store has no SEs" json 'd == {"ses": []}'
run keygen --type ec-p256 --label x
check "keygen with no SE fails with exit 1" [ "$rc" -eq 1 ]
check "keygen with no SE says to create one" err_has "init"

# ---- enrolment: init with PIN files ----

printf '%s\n' "$SO_PIN" >"$T/so.pin"
printf '%s\n' "$USER_PIN" >"$T/user.pin"
chmod 600 "$T/so.pin" "$T/user.pin"
expect 0 "init with --so-pin-file and --pin-file" --json init --name gw --so-pin-file "$T/so.pin" --pin-file "$T/user.pin" --max-tries 5
check "init --json prints the new SE's descriptor" \
    json 'd["se"]["name"] == "gw" and d["se"]["seT"] == 4 and d["se"]["sID"].startswith("4") and d["se"]["lifecycle"] == "operational" and d["se"]["pin"]["userSet"] and d["se"]["pin"]["maxTries"] == 5'
check "init prints no PIN" lacks "$SO_PIN" "$T/out" "$T/err"
check "init prints no user PIN" lacks "$USER_PIN" "$T/out" "$T/err"
expect 1 "init of a second SE with the same name fails" init --name gw --so-pin-file "$T/so.pin" --pin-file "$T/user.pin"
expect 1 "init with a too short PIN fails" init --name short --so-pin-file "$T/so.pin" --pin-file <(echo 12)
check "a too short PIN is reported as such" err_has "PIN length"

expect 0 "list --json" list --json
check "list --json has the TS-0016 descriptor of gw" \
    json 'len(d["ses"]) == 1 and d["ses"][0]["name"] == "gw" and d["ses"][0]["seT"] == 4 and d["ses"][0]["seL"] in (0, 1) and d["ses"][0]["backend"] == "soft" and d["ses"][0]["device"] == "soft" and isinstance(d["ses"][0]["slotId"], int) and d["ses"][0]["pin"]["userTriesLeft"] == 5 and d["ses"][0]["pin"]["soTriesLeft"] == 5 and d["ses"][0]["pin"]["userLocked"] is False'
SID=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["ses"][0]["sID"])' "$T/out")
expect 0 "list in text" list
check "list in text shows the sID" out_has "$SID"

# ---- keys ----

export SEA_PIN=$USER_PIN
expect 0 "keygen ec-p256" keygen --type ec-p256 --label ec1 --id 01
EC1_URI=$(cat "$T/out")
check "keygen prints the private key's PKCS#11 URI" \
    matches "$EC1_URI" 'pkcs11:*' '*object=ec1*' '*type=private*' '*id=%01*'
expect 0 "keygen aes-256 --json" --json keygen --type aes-256 --label aes1
check "keygen aes-256 --json describes an AES-256 secret key" \
    json 'd["key"]["class"] == "secret-key" and d["key"]["keyType"] == "aes" and d["key"]["bits"] == 256 and d["key"]["extractable"] is False and d["uri"].startswith("pkcs11:")'
expect 0 "keygen generic-256 with a SUID" --json keygen --type generic-256 --label hm1 --suid 15 --usage sign,verify
check "keygen generic-256 --json has its bits, SUID and usage" \
    json 'd["key"]["keyType"] == "generic" and d["key"]["bits"] == 256 and d["key"]["suid"] == 15 and d["key"]["usage"] == ["sign", "verify"]'
expect 0 "keygen ec-p384" keygen --type ec-p384 --label ec384
expect 1 "keygen with a label already taken fails" keygen --type ec-p256 --label ec1

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/imp.pem" 2>/dev/null
openssl pkey -in "$T/imp.pem" -pubout -out "$T/imp-openssl.pub" 2>/dev/null
expect 0 "import an openssl EC key (PEM)" import --label imp --id 0a0b --key-file "$T/imp.pem"
check "import prints the key's URI" out_has "object=imp"
expect 0 "pubkey of the imported key" pubkey --key imp --out "$T/imp.pub"
check "the imported key's public key is openssl's" cmp -s "$T/imp.pub" "$T/imp-openssl.pub"
openssl pkey -in "$T/imp.pem" -outform DER -out "$T/imp.der" 2>/dev/null
expect 0 "import an EC key in DER" import --label impder --key-file "$T/imp.der"
expect 1 "import of a file that is no key fails" import --label junk --key-file "$SEA_CONF"

AES_HEX=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
expect 0 "import a hex AES key" --json import --label aesimp --type aes --secret-hex "$AES_HEX"
check "the imported hex key is an AES-256 key" json 'd["key"]["keyType"] == "aes" and d["key"]["bits"] == 256'
HMAC_HEX=4a656665204a656665204a656665204a656665204a656665204a656665204a65
expect 0 "import a generic secret (default type)" import --label hk --secret-hex "$HMAC_HEX"
head -c 20 /dev/urandom >"$T/secret.bin"
expect 0 "import a secret from a file" --json import --label filekey --secret-file "$T/secret.bin"
check "the secret from the file has its size" json 'd["key"]["keyType"] == "generic" and d["key"]["bits"] == 160'

# ---- secret keys off the command line: stdin, hex files; --secret-hex warns ----

printf 'a message to MAC\n' >"$T/macmsg"
head -c 32 /dev/urandom >"$T/k-stdin.bin"
expect 0 "import --secret-file - reads the key from stdin" --json import --label kstdin --secret-file - <"$T/k-stdin.bin"
check "the key read from stdin has its size" json 'd["key"]["keyType"] == "generic" and d["key"]["bits"] == 256'
check "import --secret-file draws no warning" lacks warning "$T/err"
expect 0 "HMAC with the key read from stdin" sign --key kstdin --in "$T/macmsg" --out "$T/kstdin.mac"
check "the key read from stdin is the bytes given" hmac_ok "$T/k-stdin.bin" "$T/macmsg" "$T/kstdin.mac"
head -c 40 /dev/urandom >"$T/k-hexfile.bin"
"$PY" -c 'import sys; h = open(sys.argv[1], "rb").read().hex(); print(h[:30]); print(h[30:60]); print(h[60:])' \
    "$T/k-hexfile.bin" >"$T/k.hex"
expect 0 "import --secret-hex-file of hex in lines (as xxd -p writes it)" --json import --label khexfile --secret-hex-file "$T/k.hex"
check "the key from the hex file has its size" json 'd["key"]["bits"] == 320'
check "import --secret-hex-file draws no warning" lacks warning "$T/err"
expect 0 "HMAC with the key from the hex file" sign --key khexfile --in "$T/macmsg" --out "$T/khexfile.mac"
check "the key from the hex file is the bytes it spells" hmac_ok "$T/k-hexfile.bin" "$T/macmsg" "$T/khexfile.mac"
head -c 16 /dev/urandom >"$T/k-hexstdin.bin"
"$PY" -c 'import sys; print("  0x" + open(sys.argv[1], "rb").read().hex(":").upper() + "\r")' "$T/k-hexstdin.bin" >"$T/k-colon.hex"
expect 0 "import --secret-hex-file - reads hex (0x, ':' and CRLF) from stdin" --json import --label khexstdin --secret-hex-file - <"$T/k-colon.hex"
check "the key from hex on stdin has its size" json 'd["key"]["bits"] == 128'
expect 0 "HMAC with the key from hex on stdin" sign --key khexstdin --in "$T/macmsg" --out "$T/khexstdin.mac"
check "the key from hex on stdin is the bytes it spells" hmac_ok "$T/k-hexstdin.bin" "$T/macmsg" "$T/khexstdin.mac"
printf '%s\n' "$AES_HEX" >"$T/aes.hex"
expect 0 "import an AES key from a hex file" --json import --label aeshexfile --type aes --secret-hex-file "$T/aes.hex"
check "the AES key from the hex file is an AES-256 key" json 'd["key"]["keyType"] == "aes" and d["key"]["bits"] == 256'
printf '00112233SECRETISH44\n' >"$T/nohex.hex"
expect 1 "import --secret-hex-file of a file that is no hex fails" import --label nohex --secret-hex-file "$T/nohex.hex"
check "a bad hex file is named in the error" err_has "nohex.hex"
check "the error does not show the file's content" lacks "SECRETISH" "$T/out" "$T/err"
printf '\n\n' >"$T/blank.hex"
expect 1 "import --secret-hex-file of a blank file fails" import --label blank --secret-hex-file "$T/blank.hex"
expect 1 "import --secret-hex-file of a missing file fails" import --label missing --secret-hex-file "$T/nosuch.hex"
expect 2 "--secret-hex-file with --secret-hex is a usage error" import --label x --secret-hex-file "$T/k.hex" --secret-hex 00
expect 2 "--secret-hex-file with --secret-file is a usage error" import --label x --secret-hex-file "$T/k.hex" --secret-file "$T/k-stdin.bin"
expect 0 "import --secret-hex still works" import --label kwarn --secret-hex "$HMAC_HEX"
check "--secret-hex draws a warning on stderr" err_has "warning.*--secret-hex.*process list"
check "the warning does not show the key" lacks "$HMAC_HEX" "$T/err" "$T/out"
expect 0 "import --secret-hex with --quiet" --quiet import --label kquiet --secret-hex "$HMAC_HEX"
check "--quiet silences the --secret-hex warning" lacks warning "$T/err"
expect 0 "import --secret-hex with --quiet after the command" import --label kquiet2 --secret-hex "$HMAC_HEX" --quiet
check "--quiet after the command silences it too" lacks warning "$T/err"
expect 0 "import --secret-hex with --json" --json import --label kjson --secret-hex "$HMAC_HEX"
check "--json silences the --secret-hex warning" lacks warning "$T/err"
expect 2 "--quiet: a bad --secret-hex is still a usage error" --quiet import --label x --secret-hex 0g
check "--quiet does not silence errors" err_has "takes the key in hex"

# The key in argv is wiped before the login (a prompt here): ps no longer shows it while the
# slow part runs.
cat >"$T/cmdline-at-prompt.py" <<'EOF'
# Run argv[3:] on a pseudo-terminal; at its PIN prompt, print whether argv[1] and the program's
# name are in its /proc/PID/cmdline, then answer the prompt with argv[2]; exit with its status.
import os, pty, select, sys, time
secret, pin, argv = sys.argv[1].encode(), sys.argv[2], sys.argv[3:]
env = {k: v for k, v in os.environ.items() if k not in ("SEA_PIN", "SEA_SO_PIN")}
pid, fd = pty.fork()
if pid == 0:
    os.execvpe(argv[0], argv, env)
seen, deadline, cmdline = b"", time.time() + 60, None
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 1)
    if r:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    if cmdline is None and b"PIN" in seen and seen.rstrip(b" ").endswith(b":"):
        cmdline = open("/proc/%d/cmdline" % pid, "rb").read()
        os.write(fd, pin.encode() + b"\n")
_, status = os.waitpid(pid, 0)
if cmdline is not None:
    print("secret in cmdline:", "yes" if secret in cmdline else "no")
    print("tool in cmdline:", "yes" if os.path.basename(argv[0]).encode() in cmdline else "no")
sys.exit(os.waitstatus_to_exitcode(status))
EOF
WIPE_HEX=00112233445566778899aabbccddeeff
expect_cmd 0 "import --secret-hex with the PIN typed at a prompt" \
    "$PY" "$T/cmdline-at-prompt.py" "$WIPE_HEX" "$USER_PIN" "$SEA_TOOL" --quiet import --label kwipe --secret-hex "$WIPE_HEX"
check "the PIN prompt came and the tool's command line could be read" out_has "tool in cmdline: yes"
check "at the PIN prompt the key is gone from the command line" out_has "secret in cmdline: no"

expect 0 "info --se lists the objects" --json info --se gw
check "info --json shows the version, the config file and the device" \
    json 'd["version"] and d["config"] == a[0] and d["embeddedDefault"] is False and d["devices"][0]["name"] == "soft" and d["devices"][0]["status"] == "SEA_OK" and d["devices"][0]["seCount"] == 1' "$SEA_CONF"
check "info --json lists every key with its type, bits and URI" \
    json '{(o["label"], o["class"], o.get("keyType"), o.get("bits")) for o in d["objects"]} >= {("ec1", "private-key", "ec-p256", 256), ("ec1", "public-key", "ec-p256", 256), ("aes1", "secret-key", "aes", 256), ("hm1", "secret-key", "generic", 256), ("ec384", "private-key", "ec-p384", 384), ("imp", "private-key", "ec-p256", 256), ("aesimp", "secret-key", "aes", 256)} and all(o["uri"].startswith("pkcs11:") for o in d["objects"])'
check "info --json shows the CKA_ID in hex" json '[o["id"] for o in d["objects"] if o["label"] == "imp" and o["class"] == "private-key"] == ["0a0b"]'
expect_cmd 0 "info --se without a PIN" env -u SEA_PIN "$SEA_TOOL" --json info --se gw
check "info --se without a PIN lists only public objects" \
    json 'd["loggedIn"] is False and d["objects"] and all(o["class"] == "public-key" for o in d["objects"])'

# ---- sign and verify ----

printf 'oneM2M enrolment request\n' >"$T/msg"
printf 'oneM2M enrolment requesT\n' >"$T/msg.bad"
expect 0 "pubkey of ec1" pubkey --key ec1 --out "$T/ec1.pub"
check "pubkey writes a PEM public key openssl reads" \
    openssl pkey -pubin -in "$T/ec1.pub" -noout
expect 0 "pubkey by URI to stdout" pubkey --key "$EC1_URI"
check "pubkey by URI is the same key" cmp -s "$T/out" "$T/ec1.pub"

expect 0 "sign raw (default ecdsa-sha256)" sign --key ec1 --in "$T/msg" --out "$T/sig.raw"
check "a raw P-256 signature has 64 bytes" [ "$(stat -c %s "$T/sig.raw")" -eq 64 ]
expect 0 "verify raw" verify --key ec1 --in "$T/msg" --sig "$T/sig.raw"
check "verify prints Signature OK" out_has "Signature OK"
expect 1 "verify of tampered data exits 1" verify --key ec1 --in "$T/msg.bad" --sig "$T/sig.raw"
check "verify of tampered data prints Signature INVALID" out_has "Signature INVALID"

expect 0 "sign der" sign --key ec1 --in "$T/msg" --out "$T/sig.der" --format der
check "openssl dgst -verify accepts the DER signature" \
    ossl_verifies sha256 "$T/ec1.pub" "$T/sig.der" "$T/msg"
check "openssl dgst -verify rejects it on tampered data" \
    not ossl_verifies sha256 "$T/ec1.pub" "$T/sig.der" "$T/msg.bad"
expect 0 "verify der" verify --key ec1 --in "$T/msg" --sig "$T/sig.der" --format der
expect 1 "verify der of tampered data exits 1" verify --key ec1 --in "$T/msg.bad" --sig "$T/sig.der" --format der
cp "$T/sig.raw" "$T/sig.flip"
# flip every bit of byte 10 (writing a fixed byte left the signature unchanged when it already
# held that byte, 1 run in 256)
b10=$(od -An -tx1 -j10 -N1 "$T/sig.raw" | tr -d ' \n')
printf %b "\\x$(printf %02x $((0x$b10 ^ 0xff)))" | dd of="$T/sig.flip" bs=1 seek=10 conv=notrunc status=none
check "the tampered signature differs from the original" not cmp -s "$T/sig.raw" "$T/sig.flip"
expect 1 "verify of a tampered signature exits 1" verify --key ec1 --in "$T/msg" --sig "$T/sig.flip"
expect 1 "verify of a DER signature read as raw exits 1" verify --key ec1 --in "$T/msg" --sig "$T/sig.der"
expect 1 "verify of garbage as DER exits 1" verify --key ec1 --in "$T/msg" --sig "$T/sig.raw" --format der
check "garbage as DER is an invalid signature" out_has "Signature INVALID"
expect_cmd 0 "verify with the public key needs no PIN" env -u SEA_PIN "$SEA_TOOL" verify --key ec1 --in "$T/msg" --sig "$T/sig.raw" </dev/null

expect 0 "sign with the imported key (der, stdin)" sign --key imp --in - --out "$T/imp.sig" --format der <"$T/msg"
check "openssl verifies the imported key's signature with its own public key" \
    ossl_verifies sha256 "$T/imp-openssl.pub" "$T/imp.sig" "$T/msg"

expect 0 "sign ecdsa-sha384 with P-384, der" sign --key ec384 --alg ecdsa-sha384 --in "$T/msg" --out "$T/sig384.der" --format der
expect 0 "pubkey of ec384" pubkey --key ec384 --out "$T/ec384.pub"
check "openssl verifies the P-384 signature" \
    ossl_verifies sha384 "$T/ec384.pub" "$T/sig384.der" "$T/msg"
openssl dgst -sha256 -binary "$T/msg" >"$T/msg.sha256"
expect 0 "sign a digest with --alg ecdsa" sign --key ec1 --alg ecdsa --in "$T/msg.sha256" --out "$T/sigd.der" --format der
check "openssl verifies the digest signature over the message" \
    ossl_verifies sha256 "$T/ec1.pub" "$T/sigd.der" "$T/msg"
expect 2 "--alg hmac-sha256 with an EC key is a usage error" sign --key ec1 --alg hmac-sha256 --in "$T/msg" --out "$T/x"

# RSA and Ed25519 keys: generated and imported, signatures checked by openssl
expect 0 "keygen rsa-2048" keygen --type rsa-2048 --label rsa1
expect 0 "pubkey of rsa1" pubkey --key rsa1 --out "$T/rsa1.pub"
expect 0 "sign with rsa1 (default rsa-pss-sha256)" sign --key rsa1 --in "$T/msg" --out "$T/rsa1.sig"
check "openssl verifies the RSA-PSS signature" \
    sh -c 'openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -verify "$1" -signature "$2" "$3" | grep -q "Verified OK"' \
    _ "$T/rsa1.pub" "$T/rsa1.sig" "$T/msg"
expect 0 "sign with rsa1 rsa-pkcs1-sha256" sign --key rsa1 --alg rsa-pkcs1-sha256 --in "$T/msg" --out "$T/rsa1p.sig"
check "openssl verifies the RSA PKCS#1 v1.5 signature" ossl_verifies sha256 "$T/rsa1.pub" "$T/rsa1p.sig" "$T/msg"
expect 0 "verify the RSA signature" verify --key rsa1 --in "$T/msg" --sig "$T/rsa1.sig"
expect 2 "--alg ed25519 with an RSA key is a usage error" sign --key rsa1 --alg ed25519 --in "$T/msg" --out "$T/x"
expect 0 "keygen ed25519" keygen --type ed25519 --label ed1
expect 0 "pubkey of ed1" pubkey --key ed1 --out "$T/ed1.pub"
expect 0 "sign with ed1" sign --key ed1 --in "$T/msg" --out "$T/ed1.sig"
check "openssl verifies the Ed25519 signature" \
    sh -c 'openssl pkeyutl -verify -pubin -inkey "$1" -rawin -in "$3" -sigfile "$2" | grep -q "Signature Verified Successfully"' \
    _ "$T/ed1.pub" "$T/ed1.sig" "$T/msg"
openssl genpkey -algorithm ed25519 -out "$T/ed-openssl.pem" 2>/dev/null
openssl pkey -in "$T/ed-openssl.pem" -pubout -out "$T/ed-openssl.pub" 2>/dev/null
expect 0 "import an Ed25519 key file" import --label edimp --key-file "$T/ed-openssl.pem"
expect 0 "sign with the imported Ed25519 key" sign --key edimp --in "$T/msg" --out "$T/edimp.sig"
check "openssl verifies it with its own public key" \
    sh -c 'openssl pkeyutl -verify -pubin -inkey "$1" -rawin -in "$3" -sigfile "$2" | grep -q "Signature Verified Successfully"' \
    _ "$T/ed-openssl.pub" "$T/edimp.sig" "$T/msg"
expect 1 "sign with a key that does not exist fails" sign --key nosuchkey --in "$T/msg" --out "$T/x"
expect 1 "sign with an AES key fails" sign --key aes1 --in "$T/msg" --out "$T/x"

expect 0 "HMAC with the imported generic secret" --json sign --key hk --in "$T/msg" --out "$T/hk.mac"
check "the HMAC-SHA256 is what Python's hmac computes" "$PY" -c '
import hmac, hashlib, sys
key = bytes.fromhex(sys.argv[1]); msg = open(sys.argv[2], "rb").read()
sys.exit(0 if open(sys.argv[3], "rb").read() == hmac.new(key, msg, hashlib.sha256).digest() else 1)' \
    "$HMAC_HEX" "$T/msg" "$T/hk.mac"
check "sign --json has the MAC in base64" \
    json 'd["Salg"] == "hmac-sha256" and b64(d["Sgn"]) == raw(a[0])' "$T/hk.mac"
expect 0 "HMAC with a generated key" sign --key hm1 --in "$T/msg" --out "$T/hm1.mac"
expect 0 "verify the HMAC" verify --key hm1 --in "$T/msg" --sig "$T/hm1.mac"
expect 1 "verify the HMAC over tampered data exits 1" verify --key hm1 --in "$T/msg.bad" --sig "$T/hm1.mac"
expect 0 "verify --json of a good signature" --json verify --key ec1 --in "$T/msg" --sig "$T/sig.raw"
check "verify --json says vR true" json 'd["vR"] is True and d["Salg"] == "ecdsa-sha256"'
expect 1 "verify --json of a bad signature exits 1" --json verify --key ec1 --in "$T/msg.bad" --sig "$T/sig.raw"
check "verify --json says vR false" json 'd["vR"] is False'

# ---- sensitive data objects ----

{
    head -c 700 /dev/urandom
    printf '\x00\xff\x00\n\r"\x5c'
    head -c 300 /dev/urandom
} >"$T/blob"
expect 0 "data put of binary data" data put --id rid1 --creator CAE01 --acp "acp1 acp2" --in "$T/blob"
expect 0 "data get to a file" data get --id rid1 --out "$T/blob.back"
check "data get returns the binary data unchanged" cmp -s "$T/blob" "$T/blob.back"
check "data get --out writes a private file" [ "$(stat -c %a "$T/blob.back")" = 600 ]
expect 0 "data get to stdout" data get --id rid1
check "data get to stdout returns the data unchanged" cmp -s "$T/blob" "$T/out"
expect 0 "data get --json" --json data get --id rid1
check "data get --json has the attributes and the data in base64" \
    json 'b64(d["data"]) == raw(a[0]) and d["resourceID"] == "rid1" and d["creator"] == "CAE01" and d["cbs"] == len(raw(a[0])) and d["accessControlPolicyIDs"] == ["acp1", "acp2"] and len(d["creationTime"]) == 15 and d["creationTime"][8] == "T" and d["lastModifiedTime"] >= d["creationTime"]' "$T/blob"
expect 1 "data put on an existing id fails" data put --id rid1 --creator CAE01 --value other
check "data put on an existing id says it exists" err_has "exist\|already"
expect 0 "data put --replace on an existing id" data put --id rid1 --creator CAE01 --value replaced --replace
expect 0 "data get after replace" data get --id rid1
check "data get returns the replaced data" [ "$(cat "$T/out")" = replaced ]
expect 0 "data put --value" data put --id rid2 --creator /CSE01 --value "héllo"
expect 0 "data get --value data" data get --id rid2
check "a --value round trips" [ "$(cat "$T/out")" = "héllo" ]
expect 0 "data put of empty data from stdin" data put --id empty --creator C --in - </dev/null
expect 0 "data get of empty data" --json data get --id empty
check "empty data has cbs 0" json 'd["cbs"] == 0 and d["data"] == ""'
expect 1 "data get of a missing id fails" data get --id nosuch
check "data get of a missing id names it" err_has "nosuch"
expect 1 "data get --json of a missing id fails" --json data get --id nosuch
check "the JSON error document of a missing id" \
    json 'd["error"]["status"] == "SEA_ERR_NOT_FOUND" and d["error"]["rsc"] == 4004 and d["error"]["exitStatus"] == 1 and "nosuch" in d["error"]["message"]'
expect 0 "data rm" data rm --id rid1
expect 1 "data get after rm fails" data get --id rid1
expect 1 "data rm of a missing id fails" data rm --id rid1
expect_cmd 1 "data put without a PIN and without a terminal fails" env -u SEA_PIN setsid -w "$SEA_TOOL" data put --id x --creator C --value v </dev/null
check "without a PIN the tool says how to give one" err_has "pin-file"

# ---- data get --json of large data ----

head -c 307200 /dev/urandom >"$T/big"
expect 0 "data put of 300 KiB" data put --id big --creator C --in "$T/big"
expect 0 "data get --json of 300 KiB" --json data get --id big
check "data get --json returns the 300 KiB unchanged, and nothing else" \
    json 'b64(d["data"]) == raw(a[0]) and d["cbs"] == 307200 and d["resourceID"] == "big"' "$T/big"
expect 0 "data get --out of 300 KiB" data get --id big --out "$T/big.back"
check "data get --out returns the 300 KiB unchanged" cmp -s "$T/big" "$T/big.back"
for size in 1 2 3; do
    head -c "$size" /dev/urandom >"$T/small$size"
    expect 0 "data put of $size bytes" data put --id "small$size" --creator C --in "$T/small$size"
    expect 0 "data get --json of $size bytes" --json data get --id "small$size"
    check "data get --json of $size bytes has them in padded base64" \
        json 'd["data"] == base64.b64encode(raw(a[0])).decode() and d["cbs"] == int(a[1])' "$T/small$size" "$size"
done

# ---- --out replaces the file, never writes into it ----

O=$T/outdir
mkdir "$O"
printf 'the data behind outdata\n' >"$T/outdata"
expect 0 "data put for the output tests" data put --id outdata --creator C --in "$T/outdata"
printf 'old\n' >"$O/shared"
chmod 644 "$O/shared"
ln "$O/shared" "$O/shared.hardlink"
expect 0 "data get --out onto an existing 0644 file" data get --id outdata --out "$O/shared"
check "the file it replaced ends with mode 0600" mode_is 600 "$O/shared"
check "the file it replaced has the new data" cmp -s "$T/outdata" "$O/shared"
check "the old file (a hard link to it) never received the data" [ "$(cat "$O/shared.hardlink")" = old ]
check "the old file kept its mode" mode_is 644 "$O/shared.hardlink"
printf 'target\n' >"$O/target"
chmod 644 "$O/target"
ln -s target "$O/link"
expect 0 "data get --out onto a symlink" data get --id outdata --out "$O/link"
check "the symlink was replaced by a 0600 file" mode_is 600 "$O/link"
check "the file that replaced the symlink has the data" cmp -s "$T/outdata" "$O/link"
check "the symlink's target is untouched" [ "$(cat "$O/target")" = target ]
check "the symlink's target kept its mode" mode_is 644 "$O/target"
ln -s "$O/made-through-link" "$O/dangling"
expect 0 "data get --out onto a dangling symlink" data get --id outdata --out "$O/dangling"
check "nothing was created where the dangling symlink pointed" [ ! -e "$O/made-through-link" ]
check "the dangling symlink was replaced by the data" cmp -s "$T/outdata" "$O/dangling"
printf 'x\n' >"$O/pub.pem"
chmod 600 "$O/pub.pem"
saved_umask=$(umask)
umask 022
expect 0 "pubkey --out onto a 0600 file (umask 022)" pubkey --key ec1 --out "$O/pub.pem"
check "a public key file gets mode 0644 under umask 022" mode_is 644 "$O/pub.pem"
check "the replaced public key file holds the key" openssl pkey -pubin -in "$O/pub.pem" -noout
expect 0 "sign --out onto a symlink (umask 022)" sign --key ec1 --in "$T/outdata" --out "$O/link" --format der
check "the signature replaced the symlink with a 0644 file" mode_is 644 "$O/link"
umask 077
expect 0 "pubkey --out under umask 077" pubkey --key ec1 --out "$O/pub077.pem"
check "a public key file gets mode 0600 under umask 077" mode_is 600 "$O/pub077.pem"
umask "$saved_umask"
check "the replacing leaves no temporary file behind" [ -z "$(find "$O" -name '.sea-tool-*')" ]

mkfifo "$O/fifo"
timeout 30 cat "$O/fifo" >"$O/fifo.out" &
reader=$!
expect 0 "data get --out into a FIFO writes through it" data get --id outdata --out "$O/fifo"
wait "$reader" || true
check "the FIFO's reader got the data" cmp -s "$T/outdata" "$O/fifo.out"
check "the FIFO is still a FIFO" [ -p "$O/fifo" ]
ln -s /dev/null "$O/devlink"
expect 1 "data get --out onto a symlink to a device is refused" data get --id outdata --out "$O/devlink"
check "the refusal says why" err_has "symbolic link to a device"
check "the symlink to the device is left as it was" [ "$(readlink "$O/devlink")" = /dev/null ]
expect 1 "data get --out onto a directory fails" data get --id outdata --out "$O"
check "the error says it is a directory" err_has "directory"
expect 1 "data get --out into a missing directory fails" data get --id outdata --out "$O/nodir/f"
check "the error names the file" err_has "nodir/f"
printf 'kept\n' >"$O/kept"
# A write that fails half way (the file size limit: EFBIG) must leave the file as it was.
expect_cmd 1 "data get --out failing half way exits 1" \
    bash -c 'trap "" XFSZ; ulimit -f 64; exec "$@"' sh "$SEA_TOOL" data get --id big --out "$O/kept"
check "the failed write says why" err_has "too large"
check "a failed write leaves the file as it was" [ "$(cat "$O/kept")" = kept ]
check "a failed write leaves no temporary file behind" [ -z "$(find "$O" -name '.sea-tool-*')" ]

# ---- JSON strings: escaping and UTF-8 ----

WEIRD=$(printf 'q"b\\t\tn\nu\xc3\xbc')
expect 0 "keygen with a label of quotes, backslash, control characters and UTF-8" keygen --type generic-128 --label "$WEIRD"
expect 0 "info --json with that label" --json info --se gw
check "the JSON parses and the label comes back exactly" \
    "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if sys.argv[2] in [o["label"] for o in d["objects"]] else 1)' "$T/out" "$WEIRD"

# ---- wrong PINs and tries left ----

expect_cmd 1 "a wrong user PIN fails" env SEA_PIN=99999999 "$SEA_TOOL" keygen --type aes-128 --label never
check "a wrong PIN is reported as incorrect" err_has "PIN is incorrect"
check "the tries left go down after a wrong PIN" [ "$(tries_left gw userTriesLeft)" = 4 ]
expect_cmd 1 "a second wrong user PIN fails" env SEA_PIN=99999999 "$SEA_TOOL" data get --id rid2
check "the tries left go down again" [ "$(tries_left gw userTriesLeft)" = 3 ]
expect 0 "the right PIN still works" data get --id rid2
check "the right PIN resets the tries left" [ "$(tries_left gw userTriesLeft)" = 5 ]
expect_cmd 1 "--json: a wrong PIN fails" env SEA_PIN=99999999 "$SEA_TOOL" --json data get --id rid2
check "--json: a wrong PIN is SEA_ERR_PIN_INCORRECT" json 'd["error"]["status"] == "SEA_ERR_PIN_INCORRECT" and "PIN is incorrect" in d["error"]["message"]'

# ---- PIN files ----

unset SEA_PIN
expect 0 "--pin-file works without \$SEA_PIN" --pin-file "$T/user.pin" sign --key ec1 --in "$T/msg" --out "$T/x"
check "a private PIN file draws no warning" lacks warning "$T/err"
printf '%s\r\n' "$USER_PIN" >"$T/crlf.pin"
chmod 644 "$T/crlf.pin"
expect 0 "--pin-file after the command, CRLF line ending" sign --key ec1 --in "$T/msg" --out "$T/x" --pin-file "$T/crlf.pin"
check "a world-readable PIN file draws a warning" err_has "warning.*other users"
expect 0 "--quiet with a world-readable PIN file" --quiet sign --key ec1 --in "$T/msg" --out "$T/x" --pin-file "$T/crlf.pin"
check "--quiet silences the PIN file warning" lacks warning "$T/err"
printf '11111111\n' >"$T/wrong.pin"
expect 1 "--pin-file with a wrong PIN fails" --pin-file "$T/wrong.pin" sign --key ec1 --in "$T/msg" --out "$T/x"
check "the PIN file's wrong PIN is reported as incorrect" err_has "PIN is incorrect"
expect 1 "--pin-file of a missing file fails" --pin-file "$T/nope.pin" sign --key ec1 --in "$T/msg" --out "$T/x"
: >"$T/empty.pin"
expect 1 "--pin-file of an empty file fails" --pin-file "$T/empty.pin" sign --key ec1 --in "$T/msg" --out "$T/x"
check "the PIN file's PIN was not printed" lacks "$USER_PIN" "$T/out" "$T/err"

# ---- the PIN prompt does not echo (a pseudo-terminal) ----

cat >"$T/tty-driver.py" <<'EOF'
# Run argv[3:] on a pseudo-terminal, answer each PIN prompt with the next of argv[1] (comma
# separated), write everything the terminal showed to argv[2], exit with the child's status.
import os, pty, select, sys, time
pins, log, argv = sys.argv[1].split(","), sys.argv[2], sys.argv[3:]
env = {k: v for k, v in os.environ.items() if k not in ("SEA_PIN", "SEA_SO_PIN")}
pid, fd = pty.fork()
if pid == 0:
    os.execvpe(argv[0], argv, env)
seen, answered, deadline = b"", 0, time.time() + 60
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 1)
    if r:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    if answered < len(pins) and seen.count(b"PIN") > answered and seen.rstrip(b" ").endswith(b":"):
        os.write(fd, pins[answered].encode() + b"\n")
        answered += 1
_, status = os.waitpid(pid, 0)
open(log, "wb").write(seen)
sys.exit(os.waitstatus_to_exitcode(status))
EOF
PTY_SO=13572468
PTY_USER=97531135
set +e
"$PY" "$T/tty-driver.py" "$PTY_SO,$PTY_SO,$PTY_USER,$PTY_USER" "$T/tty.log" "$SEA_TOOL" init --name ptyse
rc=$?
set -e
check "init with PINs typed on a terminal succeeds" [ "$rc" -eq 0 ]
check "the terminal showed the PIN prompts" grep -q "Repeat the new user PIN" "$T/tty.log"
check "the terminal showed the new SE" grep -q "SE ptyse" "$T/tty.log"
check "the typed SO PIN was not echoed" lacks "$PTY_SO" "$T/tty.log"
check "the typed user PIN was not echoed" lacks "$PTY_USER" "$T/tty.log"
set +e
"$PY" "$T/tty-driver.py" "$PTY_USER" "$T/tty2.log" "$SEA_TOOL" data put --se ptyse --id tty --creator C --value v
rc=$?
set -e
check "the PIN typed on a terminal logs in" [ "$rc" -eq 0 ]
check "the login PIN was not echoed" lacks "$PTY_USER" "$T/tty2.log"
set +e
"$PY" "$T/tty-driver.py" "$PTY_SO,24242424" "$T/tty3.log" "$SEA_TOOL" init --name mismatch
rc=$?
set -e
check "init with two different PINs typed fails" [ "$rc" -eq 1 ]
check "two different PINs are reported as not matching" grep -q "do not match" "$T/tty3.log"

# ---- several SEs, and delete ----

export SEA_PIN=$USER_PIN
expect 2 "with two SEs a command needs --se" keygen --type aes-128 --label k
check "the tool asks for --se" err_has "\-\-se"
expect 0 "--se by M2M-SE-ID" --se "$SID" data get --id rid2
expect 1 "--se of an unknown SE fails" --se nosuch data get --id rid2

# ---- RFC 7512 URIs: every option naming an SE or an object takes one ----
expect 0 "with two SEs, pubkey by URI needs no --se (its token= chooses the SE)" \
    pubkey --key "$EC1_URI"
check "pubkey by URI with two SEs gives ec1's key" cmp -s "$T/out" "$T/ec1.pub"
expect 0 "sign --key URI with two SEs" sign --key "$EC1_URI" --in "$T/msg" --out "$T/sig.uri" \
    --format der
check "openssl verifies the signature made by URI" \
    ossl_verifies sha256 "$T/ec1.pub" "$T/sig.uri" "$T/msg"
expect 0 "verify --key URI (serial= and type=public)" \
    verify --key "pkcs11:serial=$SID;object=ec1;type=public" --in "$T/msg" --sig "$T/sig.uri" \
    --format der
check "verify by URI prints Signature OK" out_has "Signature OK"
expect 1 "verify --key URI rejects tampered data" \
    verify --key "pkcs11:serial=$SID;object=ec1;type=public" --in "$T/msg.bad" \
    --sig "$T/sig.uri" --format der
expect 0 "--se as a token URI (token=)" --se "pkcs11:token=gw" data get --id rid2
check "--se by token URI reads gw's data" out_has "héllo"
expect 0 "--se as a token URI (serial=, percent-encoded manufacturer)" \
    --se "pkcs11:manufacturer=lib%73ea;serial=$SID" data get --id rid2
expect 0 "info --se as a token URI lists that SE's objects" --se "pkcs11:token=gw" info
check "info by URI lists ec1 with its URI" out_has "$EC1_URI"
expect 0 "data put, then get by the URI info prints for it" \
    data put --se gw --id "rid uri" --creator CAE02 --value "by uri"
expect 0 "data get --id URI (percent-encoded resourceID) without --se" \
    data get --id "pkcs11:token=gw;serial=$SID;object=rid%20uri;type=data"
check "data get by URI returns the data" out_has "by uri"
expect 0 "data put --id URI (the URI's token chooses the SE)" \
    data put --id "pkcs11:token=gw;object=rid%2Fput;type=data" --creator CAE03 --value "put by uri"
expect 0 "the data put by URI is there under its resourceID" --se gw data get --id "rid/put"
check "data put by URI stored the data" out_has "put by uri"
expect 0 "keygen with --se as a token URI" \
    --se "pkcs11:serial=$SID" keygen --type aes-128 --label uri-aes
check "keygen by --se URI prints the new key's URI on gw" out_has "pkcs11:token=gw;serial=$SID;object=uri-aes"
expect 0 "data rm --id URI" data rm --id "pkcs11:token=gw;object=rid%20uri"
expect 1 "the data object removed by URI is gone" --se gw data get --id "rid uri"
expect 2 "--se with a URI several SEs match is a usage error" \
    --se "pkcs11:manufacturer=libsea" data get --id rid2
check "the tool asks for token= or serial=" err_has "token= or serial="
expect 1 "--se with a URI no SE matches fails" --se "pkcs11:token=nosuch" data get --id rid2
expect 2 "--se with an object's URI is a usage error" --se "$EC1_URI" data get --id rid2
expect 2 "--se with a malformed URI is a usage error" --se "pkcs11:token=g%w" data get --id rid2
expect 1 "a key URI naming another SE than --se fails" --se ptyse pubkey --key "$EC1_URI"
expect 2 "data --id URI of another object type is a usage error" \
    data get --id "pkcs11:token=gw;object=rid2;type=private"
expect 1 "--se with a URI holding a pin-value query, no SE matching" \
    --se "pkcs11:token=nosuch?pin-value=13572468" data get --id rid2
check "the URI's pin-value never shows in a message" \
    lacks 13572468 "$T/err" "$T/out"
expect_cmd 0 "init a third SE to delete by URI" \
    env SEA_SO_PIN=11112222 SEA_PIN=33334444 "$SEA_TOOL" init --name urise
expect_cmd 0 "delete --se token URI" env SEA_SO_PIN=11112222 "$SEA_TOOL" delete \
    --se "pkcs11:token=urise"
check "delete by URI names the SE" out_has "deleted SE urise"
expect_cmd 1 "delete with a wrong SO PIN fails" env SEA_SO_PIN=00000000 "$SEA_TOOL" delete --se ptyse
check "a wrong SO PIN is reported as incorrect" err_has "PIN is incorrect"
check "the SO tries left go down" [ "$(tries_left ptyse soTriesLeft)" = 9 ]
expect 0 "delete with the SO PIN" --json delete --se ptyse --so-pin-file <(echo "$PTY_SO")
check "delete --json names the deleted SE" json 'd["deleted"]["name"] == "ptyse"'
expect 0 "list after delete" list --json
check "the deleted SE is gone, the other stays" json '[s["name"] for s in d["ses"]] == ["gw"]'

# se show: the TS-0016 <SE> resource (issue 5, doc/mcs-json.md)
expect 0 "se show --json with --hcl and two --hal" --json se show --se gw --hcl /in-cse --hal /in-cse/CAE1 --hal /in-cse/CAE2
check "se show --json is the <SE> resource of gw" \
    json 'list(d) == ["m2m:SE"] and d["m2m:SE"]["rn"] == "gw" and d["m2m:SE"]["seT"] == 4 and d["m2m:SE"]["seL"] == 1 and d["m2m:SE"]["sID"].startswith("4") and "sensitiveDataObject" in d["m2m:SE"]["srt"] and d["m2m:SE"]["hcl"] == "/in-cse" and d["m2m:SE"]["hal"] == ["/in-cse/CAE1", "/in-cse/CAE2"]'
expect 1 "se show with a link containing a space fails" se show --se gw --hcl "a b"
expect 2 "se without a subcommand is a usage error" se

echo "1..$n"
if [ "$failed" -ne 0 ]; then
    echo "# $failed of $n checks failed"
    exit 1
fi
echo "# all $n checks passed"

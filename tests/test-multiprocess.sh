#!/bin/sh
# Several processes on one store through sea-pkcs11.so (p11-writer): two writers at once, a
# writer killed with SIGKILL in the middle of a burst (three times) after which the store opens
# and holds every object the writer reported, and a write seen at once by a process that was
# initialised before it happened.
set -eu

fail() {
    echo "test-multiprocess: FAIL: $*" >&2
    exit 1
}

writer=${SEA_BUILD_TESTS:-$(dirname "$0")}/p11-writer
[ -x "$writer" ] || fail "$writer is missing (make tests/p11-writer)"
[ -n "${SEA_MODULE:-}" ] || fail "SEA_MODULE is not set (the path of sea-pkcs11.so)"
[ -f "$SEA_MODULE" ] || fail "SEA_MODULE=$SEA_MODULE does not exist"
command -v mkfifo >/dev/null 2>&1 || fail "mkfifo is missing (coreutils)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sea-mp.XXXXXX")
pids=
cleanup() {
    for p in $pids; do
        kill -9 "$p" 2>/dev/null || :
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

cat >"$tmp/sea.conf" <<EOF
[device soft]
backend = soft
path = $tmp/store
kdf_iterations = 1000
EOF
SEA_CONF=$tmp/sea.conf
SEA_PIN=1234
export SEA_CONF SEA_PIN

show() { # file...
    for f in "$@"; do
        [ -s "$f" ] && sed "s|^|    $(basename "$f"): |" "$f" | tail -n 20 >&2
    done
    return 0
}

# Wait (up to 20 s) until a file has a line matching a pattern.
wait_for() { # file pattern
    i=0
    while ! grep -q "$2" "$1" 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -le 400 ] || return 1
        sleep 0.05
    done
}

# --check over a label file; the summary must count exactly what was reported.
check() { # label-file what
    n=$(grep -c '^ok ' "$1" || :)
    if ! "$writer" --check "$1" >"$tmp/check.out" 2>"$tmp/check.err"; then
        show "$tmp/check.out" "$tmp/check.err"
        fail "$2: --check failed"
    fi
    grep -q "^checked $n labels: $n ok, 0 missing or wrong$" "$tmp/check.out" ||
        fail "$2: unexpected summary: $(cat "$tmp/check.out")"
}

"$writer" --init-token multiprocess >"$tmp/init.out" 2>&1 || {
    show "$tmp/init.out"
    fail "could not make the token"
}

# ---- 1. two writers at the same time ----
"$writer" --count 300 --prefix A >"$tmp/a.out" 2>"$tmp/a.err" &
pa=$!
"$writer" --count 300 --prefix B >"$tmp/b.out" 2>"$tmp/b.err" &
pb=$!
pids="$pa $pb"
sa=0
sb=0
wait "$pa" || sa=$?
wait "$pb" || sb=$?
pids=
[ "$sa" -eq 0 ] || { show "$tmp/a.err"; fail "writer A exited with $sa"; }
[ "$sb" -eq 0 ] || { show "$tmp/b.err"; fail "writer B exited with $sb"; }
for p in A B; do
    f=$tmp/$(echo "$p" | tr AB ab).out
    [ "$(grep -c "^ok $p-[0-9]*\$" "$f")" -eq 300 ] || fail "writer $p reported too few objects"
    [ "$(grep -c "^ok $p-key-[0-9]*\$" "$f")" -eq 30 ] || fail "writer $p reported too few keys"
done
cat "$tmp/a.out" "$tmp/b.out" >"$tmp/both.out"
check "$tmp/both.out" "two writers"
echo "test-multiprocess: two concurrent writers: ok (600 objects, 60 keys)"

# ---- 2. a writer killed with SIGKILL in the middle of a burst, three times ----
for round in 1 2 3; do
    out=$tmp/kill$round.out
    "$writer" --count 100000 --prefix "K$round" >"$out" 2>"$tmp/kill.err" &
    pk=$!
    pids=$pk
    wait_for "$out" '^ok ' || { show "$tmp/kill.err"; fail "round $round: the writer never wrote"; }
    sleep 1
    kill -9 "$pk" 2>/dev/null || :
    st=0
    { wait "$pk"; } 2>/dev/null || st=$? # no "Killed" notice from the shell
    pids=
    [ "$st" -eq 137 ] || { show "$tmp/kill.err"; fail "round $round: the writer ended with $st, not by SIGKILL"; }
    n=$(grep -c '^ok ' "$out" || :)
    [ "$n" -lt 110000 ] || fail "round $round: the writer finished before the kill"
    check "$out" "after kill $round"
    echo "test-multiprocess: kill -9 round $round: ok ($n objects reported and found)"
done
check "$tmp/both.out" "the first writers' objects after the kills"

# ---- 3. a write is visible at once to a process initialised before it ----
mkfifo "$tmp/in"
"$writer" --lookup <"$tmp/in" >"$tmp/lookup.out" 2>"$tmp/lookup.err" &
pl=$!
pids=$pl
exec 3>"$tmp/in"
wait_for "$tmp/lookup.out" '^ready$' || { show "$tmp/lookup.err"; fail "the reader did not start"; }
echo V-0 >&3
wait_for "$tmp/lookup.out" '^missing V-0$' || { show "$tmp/lookup.out" "$tmp/lookup.err"; fail "the reader found V-0 before it existed"; }
"$writer" --count 1 --prefix V >"$tmp/v.out" 2>"$tmp/v.err" || { show "$tmp/v.err"; fail "writing V-0 failed"; }
grep -q '^ok V-0$' "$tmp/v.out" || fail "the writer did not report V-0"
echo V-0 >&3
exec 3>&-
st=0
wait "$pl" || st=$?
pids=
[ "$st" -eq 0 ] || { show "$tmp/lookup.err"; fail "the reader exited with $st"; }
grep -q '^found V-0$' "$tmp/lookup.out" || {
    show "$tmp/lookup.out"
    fail "the reader, initialised before the write, does not see V-0"
}
echo "test-multiprocess: a write is visible at once to an initialised process: ok"
echo "test-multiprocess: PASS"

#!/bin/sh
# fork() and sea-pkcs11.so: runs fork-child plain and with a parent thread signing while it
# forks. The child must get CKR_CRYPTOKI_NOT_INITIALIZED until it re-initialises, then work;
# the parent must keep working. Set SEA_TEST_WRAPPER (e.g. valgrind) to wrap fork-child.
set -eu

fail() {
    echo "test-fork: FAIL: $*" >&2
    exit 1
}

bin=${SEA_BUILD_TESTS:-$(dirname "$0")}/fork-child
[ -x "$bin" ] || fail "$bin is missing (make tests/fork-child)"
[ -n "${SEA_MODULE:-}" ] || fail "SEA_MODULE is not set (the path of sea-pkcs11.so)"
[ -f "$SEA_MODULE" ] || fail "SEA_MODULE=$SEA_MODULE does not exist"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sea-fork.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
# fork-child makes its private store under TMPDIR and removes it itself
mkdir "$tmp/stores"

for mode in plain --busy-thread; do
    arg=
    [ "$mode" = plain ] || arg=$mode
    st=0
    TMPDIR=$tmp/stores ${SEA_TEST_WRAPPER:-} "$bin" $arg >"$tmp/out" 2>&1 || st=$?
    if [ "$st" -ne 0 ] || ! grep -q ': PASS$' "$tmp/out"; then
        sed 's/^/    /' "$tmp/out" >&2
        fail "fork-child ($mode) exited with $st"
    fi
    if [ -n "$(ls -A "$tmp/stores")" ]; then
        fail "fork-child ($mode) left files behind: $(ls "$tmp/stores")"
    fi
    echo "test-fork: $mode: ok"
done
echo "test-fork: PASS"

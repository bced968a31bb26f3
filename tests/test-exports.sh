#!/bin/sh
# Exported symbols: libsea.so exports exactly the sea_* functions that include/sea/sea.h declares
# (no C_*, no internal helper), sea-pkcs11.so exactly C_GetFunctionList, C_GetInterfaceList and
# C_GetInterface. Fails with the offending symbols listed.
set -eu

fail() {
    echo "test-exports: FAIL: $*" >&2
    exit 1
}

build=${SEA_TOP_BUILDDIR:-.}
src=${SEA_TOP_SRCDIR:-$build}
lib=$build/.libs/libsea.so
module=${SEA_MODULE:-$build/.libs/sea-pkcs11.so}
header=$src/include/sea/sea.h
cc=${CC:-cc}

command -v nm >/dev/null 2>&1 || fail "nm is missing (install binutils)"
command -v "$cc" >/dev/null 2>&1 || fail "no C compiler '$cc' to read $header"
for f in "$lib" "$module" "$header"; do
    [ -f "$f" ] || fail "$f does not exist (build libsea.la and sea-pkcs11.la first)"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sea-exports.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

# The defined dynamic symbols of a library, without version suffixes or version nodes (type A).
exports() {
    nm -D --defined-only "$1" >"$tmp/nm" || fail "nm cannot read $1"
    awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' "$tmp/nm" | sort -u
}

status=0
report() { # title file
    if [ -s "$2" ]; then
        echo "test-exports: $1:" >&2
        sed 's/^/    /' "$2" >&2
        status=1
    fi
}

# ---- the module ----
exports "$module" >"$tmp/module"
printf '%s\n' C_GetFunctionList C_GetInterface C_GetInterfaceList | sort >"$tmp/module.want"
comm -23 "$tmp/module" "$tmp/module.want" >"$tmp/module.extra"
comm -13 "$tmp/module" "$tmp/module.want" >"$tmp/module.missing"
report "$module exports more than the three entry points" "$tmp/module.extra"
report "$module does not export" "$tmp/module.missing"

# ---- libsea ----
exports "$lib" >"$tmp/lib"
grep -v '^sea_' "$tmp/lib" >"$tmp/lib.foreign" || :
report "$lib exports symbols outside sea_*" "$tmp/lib.foreign"
# The API is what the header declares; comments are gone after the preprocessor.
"$cc" -E -P -I"$src/include" "$header" >"$tmp/sea.i" || fail "cannot preprocess $header"
grep -oE '\bsea_[A-Za-z0-9_]+[[:space:]]*\(' "$tmp/sea.i" | tr -d ' \t(' | sort -u >"$tmp/api"
[ -s "$tmp/api" ] || fail "found no sea_* function in $header"
grep '^sea_' "$tmp/lib" | comm -23 - "$tmp/api" >"$tmp/lib.extra"
comm -13 "$tmp/lib" "$tmp/api" >"$tmp/lib.missing"
report "$lib exports sea_* symbols that $header does not declare (internal helpers?)" \
    "$tmp/lib.extra"
report "$lib does not export these functions of $header" "$tmp/lib.missing"

[ "$status" -eq 0 ] || fail "see the lists above"
echo "test-exports: PASS ($(wc -l <"$tmp/api") sea_* functions; 3 module entry points)"

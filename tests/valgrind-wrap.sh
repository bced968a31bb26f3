#!/bin/sh
# Runs one unit test program under valgrind (Check must not fork there); fails on any error or
# definite leak. Forked children (which inherit the parent's memory and _exit) report through
# pipes, not through valgrind. Used by `make check-unit SEA_TEST_WRAPPER=tests/valgrind-wrap.sh`.
here=$(cd "$(dirname "$0")/.." && pwd)
CK_FORK=no exec "$here/libtool" --mode=execute valgrind -q --error-exitcode=1 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
    --child-silent-after-fork=yes "$@"

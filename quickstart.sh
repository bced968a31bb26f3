#!/bin/sh
# libsea quickstart for a fresh Debian 12 machine: install what is missing, build, and run the
# main job — an enrolment and an operation on the embedded software SE.
set -eu
cd "$(dirname "$0")"
sh scripts/install-deps.sh autoconf automake libtool pkg-config make gcc check libssl-dev \
    libsqlite3-dev libunistring-dev libjson-c-dev openssl

echo "== building libsea"
[ -x configure ] || autoreconf -fi
[ -f Makefile ] || ./configure
make -j"$(nproc)"

echo "== running the main job"
make demo

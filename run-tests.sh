#!/bin/sh
# libsea's whole test suite on a fresh Debian 12 machine: install what is missing (build tools and
# the real PKCS#11 clients the tests drive), build, and run `make check` (unit tests with Check,
# interoperability with pkcs11-tool, OpenSSL's libp11 engine, GnuTLS, p11-kit, NSS, Java's
# SunPKCS11 and PyKCS11, multi-process, kill -9 and fork tests).
set -eu
cd "$(dirname "$0")"
sh scripts/install-deps.sh autoconf automake libtool pkg-config make gcc check libssl-dev \
    libsqlite3-dev libunistring-dev libjson-c-dev sqlite3 openssl opensc gnutls-bin libengine-pkcs11-openssl p11-kit p11-kit-modules \
    python3 python3-pykcs11 libnss3-tools openjdk-17-jdk-headless xxd binutils procps iproute2 \
    util-linux coreutils diffutils valgrind

[ -x configure ] || autoreconf -fi
[ -f Makefile ] || ./configure ${SEA_CONFIGURE_FLAGS:-}
make -j"$(nproc)"
make -j"$(nproc)" check

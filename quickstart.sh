#!/bin/sh
# libsea quickstart for a fresh Debian 12 machine: install what is missing, build, and run the
# main job — an enrolment and an operation on the embedded software SE.
set -eu
cd "$(dirname "$0")"

pkgs="autoconf automake libtool pkg-config make gcc check libssl-dev libsqlite3-dev openssl"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "== installing:$missing"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q $missing
fi

echo "== building libsea"
[ -x configure ] || autoreconf -fi
[ -f Makefile ] || ./configure
make -j"$(nproc)"

echo "== running the main job"
make demo

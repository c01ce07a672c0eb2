#!/usr/bin/env bash
# Installs the Debian packages annal needs when one is missing. Run by `make`
# and `make test`; does nothing when everything is present.
set -eu
need=()
for pkg in liblmdb-dev libzstd-dev libmicrohttpd-dev libssl-dev libjansson-dev zstd; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ "${WANT_CLANG:-0}" = 1 ]; then
    for pkg in clang-14 libclang-rt-14-dev; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
    done
fi
[ ${#need[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${need[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages ${need[*]}; run as root or: sudo apt-get install -y ${need[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null

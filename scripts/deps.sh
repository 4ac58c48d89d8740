#!/usr/bin/env bash
# deps.sh - installs what signet needs to build, test and demo, from Debian
# 12's packages, only when something is missing.  Safe to run repeatedly.
set -euo pipefail

pkgs=(
	build-essential cmake pkg-config
	libssl-dev openssl libsqlite3-dev sqlite3 libjansson-dev libevent-dev
	libcmocka-dev libpq-dev
	# signet-net's allocator (tcmalloc), optional but measured faster
	libgoogle-perftools-dev
	# oracles and peers used by the tests
	gnutls-bin python3 python3-cryptography nginx-light curl postgresql
	# robustness tooling: libFuzzer/ASan runtimes, leak checks
	clang libclang-rt-14-dev valgrind
)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# nginx-light's package starts a system nginx on port 80; the tests start
# their own on 127.0.0.1 and do not need it.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true; fi
$SUDO pkill -x nginx >/dev/null 2>&1 || true

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Install the Debian packages kvmmu needs, when they are missing.
# Idempotent: with everything installed it does nothing.
# Usage: deps.sh [fuzz]   (fuzz: also clang and its libFuzzer runtime, for
# the fuzz targets only; the library and the tests build with gcc)
set -eu

PKGS="gcc make meson ninja-build pkg-config python3 liburcu-dev libcmocka-dev linux-libc-dev"
# Optional: 'deps.sh plot' installs what scripts/plot needs (make plot), and
# nothing else; the build and the tests never need it.
if [ "${1:-}" = plot ]; then
	PKGS="python3 python3-matplotlib"
elif [ "${1:-}" = fuzz ]; then
	# libclang-rt-14-dev is only a recommendation of clang's, and holds
	# libFuzzer and the sanitizer runtimes.
	PKGS="$PKGS clang libclang-rt-14-dev"
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
	# Not Debian: accept the machine if the tools are there, else explain.
	if [ "${1:-}" = plot ]; then
		python3 -c 'import matplotlib' 2>/dev/null && exit 0
		echo "kvmmu: install matplotlib for python3, then run make plot again" >&2
		exit 1
	fi
	if command -v meson >/dev/null 2>&1 && command -v python3 >/dev/null 2>&1 &&
	   pkg-config --exists liburcu-memb cmocka 2>/dev/null &&
	   { [ "${1:-}" != fuzz ] || command -v clang >/dev/null 2>&1; }; then
		exit 0
	fi
	echo "kvmmu: this is not a Debian machine; install meson, ninja, pkg-config, python3," >&2
	echo "kvmmu: liburcu (urcu-memb) and cmocka development files (and clang with libFuzzer" >&2
	echo "kvmmu: for the fuzzers), then run make again" >&2
	exit 1
fi

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "kvmmu: missing Debian packages:$missing" >&2
	if [ "${1:-}" = plot ]; then
		echo "kvmmu: run 'sudo scripts/deps.sh plot' (it uses apt-get), then run make plot again" >&2
	else
		echo "kvmmu: run 'sudo make deps' (it uses apt-get), then run make again" >&2
	fi
	exit 1
fi

echo "kvmmu: installing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing

#!/usr/bin/env bash
# Install the Debian packages of the lists given (default: debian-run.txt and debian.txt, the main
# job's and the tests') that are missing. Runs as root (CI does), or through sudo; otherwise prints
# the one line to run and fails, so nothing silently skips.
set -euo pipefail
cd "$(dirname "$0")"
[ $# -gt 0 ] || set -- debian-run.txt debian.txt
mapfile -t wanted < <(cat "$@" | grep -v '^\s*#' | grep -v '^\s*$')
missing=()
for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "==> installing Debian packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then SUDO=(); elif command -v sudo >/dev/null; then SUDO=(sudo -n); else
    echo "run as root: apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2; exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# Installs the Debian packages named in the given lists (default:
# scripts/packages.txt) that are not installed yet.  Needs root.
#
#   scripts/deps.sh [LIST...]
#
# A line is a package name, or a package name and a command: "npm npm"
# means "install npm unless an npm command is on PATH".  That is for
# programs another source may provide (node and npm from a nodesource
# package, whose nodejs conflicts with Debian's npm): dpkg would call them
# missing and apt-get would pull Debian's in over them.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
[ $# -gt 0 ] || set -- "$here/packages.txt"

missing=()
while read -r pkg cmd _; do
    [ -n "$pkg" ] || continue
    if [ -n "$cmd" ]; then
        command -v "$cmd" > /dev/null && continue
    elif dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null \
            | grep -q "install ok installed"; then
        continue
    fi
    missing+=("$pkg")
done < <(sed 's/#.*//' "$@")

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages (run as root to install): ${missing[*]}" >&2
    exit 1
fi

echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

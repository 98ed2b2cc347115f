#!/bin/bash
# Install the Debian packages named in the given list files (one package per line, '#' comments),
# skipping those already present. As root this runs apt-get; otherwise it prints the exact
# command to run and fails, so nothing half-installed is left behind.
set -euo pipefail

missing=()
for list in "$@"; do
    while read -r pkg; do
        pkg=${pkg%%#*}; pkg=${pkg//[[:space:]]/}
        [ -z "$pkg" ] && continue
        # A package counts as present if dpkg has it, or if a command of that name exists
        # (e.g. npm from NodeSource rather than Debian: installing Debian's would conflict).
        if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed"; then continue; fi
        if command -v "$pkg" >/dev/null 2>&1; then continue; fi
        missing+=("$pkg")
    done < "$list"
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "system packages: all present ($*)"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "Missing Debian packages: ${missing[*]}" >&2
    echo "Install them as root, then run this command again:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi

echo "system packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"

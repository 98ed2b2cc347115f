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
# Services a package would start must not start: docker.io's postinst runs
# `invoke-rc.d docker start` (which, without systemd, starts dockerd from /etc/init.d) and, with
# systemd, `deb-systemd-invoke start docker.service`; containerd's does the same. Both ask
# /usr/sbin/policy-rc.d first, and exit code 101 means "denied" (invoke-rc.d(8)), so one is put
# in place for the install and the machine's own (if any) is put back afterwards. The units are
# then disabled, so none starts at the next boot either: the tests run dockerd only in a world,
# and BIRD (bird2's bird.service) only in a world's node.
policy=/usr/sbin/policy-rc.d
saved=""
if [ -e "$policy" ]; then saved=$(mktemp); cp -p "$policy" "$saved"; fi
restore_policy() { if [ -n "$saved" ]; then mv "$saved" "$policy"; else rm -f "$policy"; fi; }
trap restore_policy EXIT
printf '#!/bin/sh\n# netlab: no service starts while test packages install\nexit 101\n' > "$policy"
chmod 755 "$policy"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
# `systemctl --root=/` edits the unit links offline, with or without systemd running
# (deb-systemd-helper refuses to run outside a maintainer script).
for unit in docker.service docker.socket containerd.service bird.service; do
    if command -v systemctl >/dev/null && [ -e "/lib/systemd/system/$unit" ]; then
        systemctl --root=/ --quiet disable "$unit" >/dev/null 2>&1 || true
    fi
done
if [ -e /etc/init.d/docker ]; then update-rc.d docker disable >/dev/null 2>&1 || true; fi

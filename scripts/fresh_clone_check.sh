#!/bin/bash
# What CI does, on this machine: clone the committed HEAD into a temporary folder (so nothing
# uncommitted, no .venv and no built site can help), run the README's two commands there, and
# print each one's wall time. Run it before calling any work done.
#
# Usage: bash scripts/fresh_clone_check.sh [--keep]   (--keep leaves the clone for a look)
set -uo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
clone="$(mktemp -d /tmp/netlab-fresh-XXXXXX)"
keep=0; [ "${1:-}" = "--keep" ] && keep=1
cleanup() { [ "$keep" = 1 ] && echo "the clone is kept at $clone" || rm -rf "$clone"; }
trap cleanup EXIT

git clone --quiet "$repo" "$clone" || exit 1
echo "fresh clone of $(git -C "$repo" rev-parse --short HEAD) in $clone"
[ -z "$(git -C "$repo" status --porcelain)" ] || echo "note: uncommitted changes in $repo are not in the clone"

status=0
for target in book test; do
    start=$(date +%s)
    (cd "$clone" && CI=true make "$target" </dev/null)
    rc=$?
    echo "== make $target: exit $rc in $(( $(date +%s) - start )) s"
    [ "$rc" = 0 ] || { status=$rc; break; }
done
exit $status

"""Shared test fixtures, and the guard that the machine's own network is never changed.

The session-scoped autouse fixture snapshots the root network namespace (links,
addresses, routes, neighbours, iptables, nftables, /run/netns) before the run
and fails the run if anything differs afterwards.
"""

import os
import re
import shutil
import subprocess

import pytest

IS_ROOT = os.geteuid() == 0


def _cmd(argv):
    if shutil.which(argv[0]) is None:
        return f"<{argv[0]} not installed>"
    p = subprocess.run(argv, capture_output=True, text=True, env={"PATH": os.environ["PATH"], "LC_ALL": "C"})
    return p.stdout + (f"<exit {p.returncode}: {p.stderr.strip()}>" if p.returncode else "")


def _links():
    # Without -s no counters are printed; every line stays, so a new device or flag shows.
    return _cmd(["ip", "-d", "link"])


def _neighbours(uplinks):
    """(dst, dev) pairs; entries on pre-existing uplinks may change state on their own."""
    pairs = set()
    for family in ("-4", "-6"):
        for line in _cmd(["ip", family, "neigh", "show"]).splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[1] == "dev":
                if parts[2] in uplinks and parts[-1] in ("FAILED", "INCOMPLETE"):
                    continue  # transient resolution attempts by the machine itself
                pairs.add((parts[0], parts[2], "" if parts[2] in uplinks else " ".join(parts[3:])))
    return pairs


def _iptables():
    out = []
    for tool in ("iptables-save", "ip6tables-save"):
        text = _cmd([tool])
        out += [re.sub(r"\[\d+:\d+\]", "[0:0]", l) for l in text.splitlines() if not l.startswith("#")]
    return "\n".join(out)


def snapshot(uplinks=frozenset()):
    return {
        "ip -d link": _links(),
        "ip addr": re.sub(r"_lft \d+sec", "_lft Nsec", _cmd(["ip", "addr"])),
        "ip route show table all": _cmd(["ip", "route", "show", "table", "all"]),
        "ip -6 route show table all": _cmd(["ip", "-6", "route", "show", "table", "all"]),
        "neighbours": _neighbours(uplinks),
        "iptables-save": _iptables(),
        "nft list ruleset": _cmd(["nft", "list", "ruleset"]),
        "ls /run/netns": sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else [],
    }


def _uplinks():
    return frozenset(l.split(":")[1].strip().split("@")[0]
                     for l in _cmd(["ip", "-o", "link"]).splitlines() if ":" in l)


def diff_snapshots(before, after):
    return [key for key in before if before[key] != after[key]]


@pytest.fixture(scope="session", autouse=True)
def root_namespace_unchanged():
    """Fail the run if the machine's own network namespace changed."""
    uplinks = _uplinks()
    before = snapshot(uplinks)
    yield before
    after = snapshot(uplinks)
    changed = diff_snapshots(before, after)
    if changed:
        details = "\n".join(f"--- {k} before:\n{before[k]}\n--- {k} after:\n{after[k]}" for k in changed)
        pytest.fail(f"the root network namespace changed during the tests: {', '.join(changed)}\n{details}",
                    pytrace=False)


@pytest.fixture
def root_only():
    if not IS_ROOT:
        pytest.skip("needs real root (uid 0) to build root-mode worlds; run the root tests in CI or a lab VM")


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="needs real root (uid 0): run as root in CI or a lab VM")
    for item in items:
        if "root" in item.keywords and not IS_ROOT:
            item.add_marker(skip)
        if "userns" in item.keywords and (not IS_ROOT or shutil.which("setpriv") is None):
            item.add_marker(pytest.mark.skip(reason="needs root to drop to uid 65534 with setpriv"))

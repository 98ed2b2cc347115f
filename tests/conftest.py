"""Shared test fixtures, and the guard that the machine's own network is never changed.

The session-scoped autouse fixture snapshots the root network namespace (links,
addresses, routes, neighbours, iptables, nftables, /run/netns) before the run
and fails the run if anything differs afterwards.
"""

import os
import re
import shutil
import subprocess
import tempfile

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


# ---------------------------------------------------------------- one live run per notebook
# nbval's run of a notebook is its one live run: its kernel records every world it opens into a
# session folder, and tests/test_recordings.py compares that set of worlds with the committed one
# after the last notebook (instead of executing every notebook live a second time to record it).
LIVE_RECORDINGS = pytest.StashKey[str]()
LIVE_NOTEBOOKS = pytest.StashKey[set]()
RECORDINGS_CHECK = "test_notebooks_record_exactly_the_committed_worlds"


class LiveRecording:
    """A plugin, registered for the whole session: a conftest's own run-test hooks would only
    see the tests in its folder, and nbval's cells live in book/ and labs/."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        """Before nbval starts a notebook's kernel (in the setup of its first cell), let the kernel
        inherit the recording settings; every other test runs without them."""
        if is_nbval_cell(item):
            os.environ["NETLAB_RECORD"] = "1"
            os.environ["NETLAB_RECORDINGS"] = item.config.stash[LIVE_RECORDINGS]
            item.config.stash[LIVE_NOTEBOOKS].add(os.path.realpath(str(item.fspath)))
        else:
            os.environ.pop("NETLAB_RECORD", None)
            os.environ.pop("NETLAB_RECORDINGS", None)


def pytest_configure(config):
    config.stash[LIVE_RECORDINGS] = tempfile.mkdtemp(prefix="netlab-live-recordings-")
    config.stash[LIVE_NOTEBOOKS] = set()
    config.pluginmanager.register(LiveRecording(), "netlab-live-recording")


def pytest_unconfigure(config):
    shutil.rmtree(config.stash.get(LIVE_RECORDINGS, ""), ignore_errors=True)


def is_nbval_cell(item) -> bool:
    return type(item).__module__.startswith("nbval")


@pytest.fixture
def live_recordings(request):
    """(folder the nbval kernels recorded into, real paths of the notebooks nbval ran)."""
    return request.config.stash[LIVE_RECORDINGS], request.config.stash[LIVE_NOTEBOOKS]


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.name == RECORDINGS_CHECK)  # stable: only moves that one last
    skip = pytest.mark.skip(reason="needs real root (uid 0): run as root in CI or a lab VM")
    for item in items:
        if "root" in item.keywords and not IS_ROOT:
            item.add_marker(skip)
        if "userns" in item.keywords and (not IS_ROOT or shutil.which("setpriv") is None):
            item.add_marker(pytest.mark.skip(reason="needs root to drop to uid 65534 with setpriv"))

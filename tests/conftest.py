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
from pathlib import Path

import pytest

from netlab.engine import recording
from netlab.engine.probe import probe

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
# folder of this session, and when the session ends (after every worker, under pytest-xdist) the
# set of worlds recorded must equal the committed set: none missing, none orphaned. This replaces
# executing every notebook live a second time just to record it.
ROOT = Path(__file__).resolve().parent.parent
LIVE_DIR = "NETLAB_TEST_LIVE_RECORDINGS"  # set by the controller; xdist's workers inherit it
WORLD_NOTEBOOKS = sorted(p for d in ("book", "labs") for p in (ROOT / d).rglob("*.ipynb")
                         if ".ipynb_checkpoints" not in p.parts and "netlab.World(" in p.read_text())


def is_nbval_cell(item) -> bool:
    return type(item).__module__.startswith("nbval")


def _marker(path) -> str:
    return Path(path).resolve().relative_to(ROOT).as_posix().replace("/", "__")


class LiveRecording:
    """A plugin registered for the whole session: a conftest's own run-test hooks would only see
    the tests in its folder, and nbval's cells live in book/ and labs/."""

    def __init__(self, folder: str, controller: bool):
        self.worlds, self.ran = Path(folder, "worlds"), Path(folder, "ran")
        self.folder, self.controller, self.verdict = folder, controller, None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        """Before nbval starts a notebook's kernel (in the setup of its first cell), let the kernel
        inherit the recording settings; every other test runs without them."""
        if is_nbval_cell(item):
            os.environ.update(recording.environment(str(self.worlds)))
            self.ran.mkdir(parents=True, exist_ok=True)
            (self.ran / _marker(item.fspath)).touch()
        else:
            for name in recording.environment(""):
                os.environ.pop(name, None)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session):
        if not self.controller:
            return
        ran = {p.name for p in self.ran.glob("*")} if self.ran.is_dir() else set()
        wanted = {_marker(p) for p in WORLD_NOTEBOOKS}
        if not ran & wanted:
            self.verdict = None  # no notebook ran: nothing to say
        elif probe().mode == "none":
            self.verdict = (True, f"not checked: the notebooks replayed recordings here ({probe().reason})")
        elif wanted - ran:
            self.verdict = (True, f"not checked: only {len(ran & wanted)} of the {len(wanted)} notebooks"
                                  " with worlds ran live in this session")
        else:
            self.verdict = self.compare()
            if not self.verdict[0] and session.exitstatus == 0:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
        shutil.rmtree(self.folder, ignore_errors=True)

    def compare(self) -> tuple[bool, str]:
        produced = recording.names(str(self.worlds))
        committed = recording.names(recording.COMMITTED)
        if not produced:
            return False, "FAILED: the notebooks ran live and recorded no world"
        if produced - committed:
            return False, f"FAILED: recorded but not committed (run `make record`): {sorted(produced - committed)}"
        if committed - produced:
            return False, f"FAILED: committed but no notebook records them any more: {sorted(committed - produced)}"
        return True, f"passed: the notebooks' live run recorded exactly the {len(committed)} committed worlds"

    def pytest_terminal_summary(self, terminalreporter):
        if self.controller and self.verdict:
            ok, text = self.verdict
            terminalreporter.write_line(f"recordings check {text}", green=ok, red=not ok, bold=True)


def pytest_configure(config):
    controller = not hasattr(config, "workerinput")
    if controller:
        os.environ[LIVE_DIR] = tempfile.mkdtemp(prefix="netlab-live-recordings-")
    config.pluginmanager.register(LiveRecording(os.environ[LIVE_DIR], controller), "netlab-live-recording")


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="needs real root (uid 0): run as root in CI or a lab VM")
    for item in items:
        if "root" in item.keywords and not IS_ROOT:
            item.add_marker(skip)
        if "userns" in item.keywords and (not IS_ROOT or shutil.which("setpriv") is None):
            item.add_marker(pytest.mark.skip(reason="needs root to drop to uid 65534 with setpriv"))

"""Recorded worlds: for machines that cannot create network namespaces.

A live world run with ``NETLAB_RECORD=1`` (or ``World(..., record=True)``)
writes its transcript to ``<recordings>/<world name>.json`` when it closes:
every command, its output and exit code, background-process output and
captures (pcap, base64), with the kernel release and the UTC date.
Round-trip times and timestamps are sanitized (:mod:`netlab.engine.sanitize`).

Where namespaces are impossible, ``World`` replays that file: the same
commands, in the same order, print the same transcripts, after one banner
saying they were recorded, where and why. A command that was not recorded
raises :class:`ReplayError`; nothing is ever imitated.

:func:`verify_recording` re-runs a scenario live and fails on any difference
from the stored recording, so committed recordings cannot go stale.
The recordings directory is ``netlab/recordings`` unless ``NETLAB_RECORDINGS``
or a ``recordings_dir`` argument says otherwise.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import platform
import tempfile

from ..inputs import check_name
from .sanitize import sanitize


class ReplayError(LookupError):
    """A replayed world was asked for something that was not recorded."""


class RecordingMismatch(AssertionError):
    """A live re-run differs from the stored recording."""


def recordings_dir(path: str | None = None) -> str:
    return path or os.environ.get("NETLAB_RECORDINGS") or os.path.join(os.path.dirname(os.path.dirname(__file__)), "recordings")


def recording_path(name: str, path: str | None = None) -> str:
    """``<recordings>/<name>.json``; a name that could leave the folder ('../x') raises ReplayError."""
    check_name(name, "a recording's name", ReplayError)
    return os.path.join(recordings_dir(path), f"{name}.json")


def _clean(entry: dict) -> dict:
    e = dict(entry)
    for key in ("stdout", "stderr"):
        if isinstance(e.get(key), str):
            e[key] = sanitize(e[key])
    return e


def write_recording(name: str, transcript: list[dict], path: str | None = None) -> str:
    """Write a world's transcript as ``<name>.json`` (sanitized, stable key order)."""
    data = {
        "name": name,
        "kernel": platform.release(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "entries": [_clean(e) for e in transcript],
    }
    target = recording_path(name, path)
    try:  # an unchanged re-recording keeps its file (and its date), so `make record` is quiet in git
        with open(target) as f:
            old = json.load(f)
        if old.get("kernel") == data["kernel"] and list(map(_comparable, old["entries"])) == list(map(_comparable, data["entries"])):
            return target
    except (OSError, ValueError, KeyError):
        pass
    os.makedirs(os.path.dirname(target), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)
    return target


class Replayer:
    """Serves a recording's entries in order for (kind, node, command)."""

    def __init__(self, data: dict, reason: str):
        self.data = data
        self.entries = data["entries"]
        self.used = [False] * len(self.entries)
        self.banner = (f"RECORDED on {data['kernel']} at {data['date']}: this machine cannot create network"
                       f" namespaces ({reason}); outputs below were captured from a live kernel by `make record`")

    @classmethod
    def load(cls, name: str, path: str | None = None, reason: str = "") -> "Replayer":
        target = recording_path(name, path)
        try:
            with open(target) as f:
                data = json.load(f)
        except FileNotFoundError:
            raise ReplayError(f"this machine cannot build live worlds ({reason}) and there is no recording"
                              f" of world {name!r} at {target}; run `make record` on a machine that can") from None
        return cls(data, reason)

    def _take(self, kind: str, what: str, **keys) -> dict:
        for i, e in enumerate(self.entries):
            if not self.used[i] and e.get("kind") == kind and all(e.get(k) == v for k, v in keys.items()):
                self.used[i] = True
                return e
        raise ReplayError(f"{what} was not recorded in world {self.data['name']!r} (or was already replayed as"
                          f" often as it was recorded); only recorded commands can be replayed on this machine")

    def run(self, node, command):
        from .world import CommandResult
        shown = f"ip netns exec {node} {command}" if node else command
        e = self._take("run", f"`{shown}`", node=node, command=command)
        return CommandResult(node, command, e["stdout"], e["stderr"], e["returncode"], recorded=True)

    def start(self, node, command, name):
        self._take("start", f"starting `{command}` in {node}", node=node, command=command, name=name)

    def stop(self, name):
        from .world import CommandResult
        e = self._take("stop", f"stopping {name!r}", name=name)
        return CommandResult(e["node"], e["command"], e["stdout"], e["stderr"], e["returncode"], recorded=True)

    def capture(self, node, iface, filter):
        e = self._take("capture", f"a capture on {node}:{iface} with filter {filter!r}",
                       node=node, iface=iface, filter=filter)
        return base64.b64decode(e["pcap_b64"])


def _comparable(entry: dict) -> dict:
    e = _clean(entry)
    e.pop("pcap_b64", None)  # packets carry kernel-chosen ids and checksums; compare the commands
    return e


def record(topology, scenario, recordings_dir: str | None = None) -> str:
    """Build ``topology`` live, run ``scenario(world)``, and write the recording. Returns its path."""
    from .world import World
    with World(topology, mode="live", record=True, recordings_dir=recordings_dir) as w:
        scenario(w)
    return recording_path(w.name, recordings_dir)


def verify_recording(topology, scenario, recordings_dir: str | None = None, name: str | None = None) -> int:
    """Re-run ``scenario`` on a live world and compare with the stored recording.

    Raises :class:`RecordingMismatch` naming the first differing command and both
    outputs; returns the number of entries compared.
    """
    from .world import World
    name = name or topology.name
    with open(recording_path(name, recordings_dir)) as f:
        stored = json.load(f)["entries"]
    with World(topology, mode="live", name=name) as w:
        scenario(w)
        live = w.transcript
    if len(live) != len(stored):
        raise RecordingMismatch(f"recording {name!r} has {len(stored)} entries but the live run made {len(live)};"
                                f" re-record it with `make record`")
    for i, (a, b) in enumerate(zip(map(_comparable, stored), map(_comparable, live))):
        if a != b:
            shown = b.get("command") or b.get("iface")
            raise RecordingMismatch(f"recording {name!r}, entry {i} (`{shown}` in {b.get('node')}) differs:\n"
                                    f"recorded: {json.dumps(a, sort_keys=True)}\nlive:     {json.dumps(b, sort_keys=True)}")
    return len(stored)

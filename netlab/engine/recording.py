"""The recording format, in one place: where recordings live, what a file holds, how it is written
and read. Everything else (the live backend writing, the replay backend reading, the verifier, the
test session's live-recording plugin, ``make execute``) calls this module.

A recording is ``<recordings>/<world name>.json``: ``{"name", "kernel", "date", "entries"}``,
written with one-space indents and sorted keys, then a newline, so an unchanged world makes an
unchanged file. Each entry is one thing the world did, in order:

* ``{"kind": "run", "node", "command", "stdout", "stderr", "returncode"}``
* ``{"kind": "start", "node", "command", "name"}`` (a background process)
* ``{"kind": "stop", "name", "node", "command", "stdout", "stderr", "returncode"}``
* ``{"kind": "capture", "node", "iface", "filter", "pcap_b64"}`` (the packets, base64 pcap)

stdout and stderr are sanitized when written (:mod:`.sanitize`). The recordings directory is
``netlab/recordings`` (:data:`COMMITTED`) unless ``NETLAB_RECORDINGS`` or a ``recordings_dir``
argument says otherwise; ``NETLAB_RECORD=1`` makes every live world record itself.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import platform
import tempfile

from ..inputs import check_name
from .result import CommandResult, ReplayError
from .sanitize import sanitize

RECORD_ENV = "NETLAB_RECORD"  # "1": every live world writes its recording when it closes
DIR_ENV = "NETLAB_RECORDINGS"  # where recordings are written and read instead of COMMITTED
COMMITTED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "recordings")
SUFFIX = ".json"


# ------------------------------------------------------------------ where
def requested() -> bool:
    """Whether the environment asks every live world to record itself (``make record``, nbval's run)."""
    return os.environ.get(RECORD_ENV) == "1"


def environment(folder: str) -> dict[str, str]:
    """The environment that makes a process's live worlds record themselves into FOLDER."""
    return {RECORD_ENV: "1", DIR_ENV: str(folder)}


def recordings_dir(path: str | None = None) -> str:
    return path or os.environ.get(DIR_ENV) or COMMITTED


def recording_path(name: str, path: str | None = None) -> str:
    """``<recordings>/<name>.json``; a name that could leave the folder ('../x') raises ReplayError."""
    check_name(name, "a recording's name", ReplayError)
    return os.path.join(recordings_dir(path), f"{name}{SUFFIX}")


def files(folder: str | None = None) -> list[str]:
    """The recordings in FOLDER (default: the recordings directory), sorted by path."""
    folder = recordings_dir(folder)
    if not os.path.isdir(folder):
        return []
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(SUFFIX))


def names(folder: str | None = None) -> set[str]:
    """The names of the worlds recorded in FOLDER."""
    return {os.path.basename(p)[:-len(SUFFIX)] for p in files(folder)}


# ------------------------------------------------------------------ entries
def run_entry(result: CommandResult) -> dict:
    return dict(result.as_dict(), kind="run")


def start_entry(node: str | None, command: str, name: str) -> dict:
    return {"kind": "start", "node": node, "command": command, "name": name}


def stop_entry(result: CommandResult, name: str) -> dict:
    return dict(result.as_dict(), kind="stop", name=name)


def capture_entry(node: str, iface: str, filter: str | None, pcap: bytes) -> dict:
    return {"kind": "capture", "node": node, "iface": iface, "filter": filter,
            "pcap_b64": base64.b64encode(pcap).decode()}


def result(entry: dict) -> CommandResult:
    """A run or stop entry as the result a live world returned."""
    return CommandResult(entry["node"], entry["command"], entry["stdout"], entry["stderr"],
                         entry["returncode"], recorded=True)


def pcap(entry: dict) -> bytes:
    """A capture entry's packets, as pcap bytes."""
    return base64.b64decode(entry["pcap_b64"])


def step(entry: dict) -> tuple:
    """What an entry did, without what it printed: (kind, node, command, iface, filter)."""
    return (entry.get("kind"), entry.get("node"), entry.get("command"), entry.get("iface"), entry.get("filter"))


def _clean(entry: dict) -> dict:
    e = dict(entry)
    for key in ("stdout", "stderr"):
        if isinstance(e.get(key), str):
            e[key] = sanitize(e[key])
    return e


def comparable(entry: dict) -> dict:
    """An entry as two runs of the same scenario must agree on it: sanitized, packets left out."""
    e = _clean(entry)
    e.pop("pcap_b64", None)  # packets carry kernel-chosen ids and checksums; compare the commands
    return e


# ------------------------------------------------------------------ files
def write(name: str, entries: list[dict], path: str | None = None) -> str:
    """Write a world's entries as ``<name>.json`` (sanitized, stable key order); returns the path."""
    data = {
        "name": name,
        "kernel": platform.release(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "entries": [_clean(e) for e in entries],
    }
    target = recording_path(name, path)
    try:  # an unchanged re-recording keeps its file (and its date), so `make record` is quiet in git
        with open(target) as f:
            old = json.load(f)
        if old.get("kernel") == data["kernel"] and \
                list(map(comparable, old["entries"])) == list(map(comparable, data["entries"])):
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


def read(name: str, path: str | None = None) -> dict:
    """The recording of world NAME; FileNotFoundError if there is none."""
    with open(recording_path(name, path)) as f:
        return json.load(f)


def entries(data: bytes | str) -> list[dict]:
    """The entries of a recording file's contents."""
    return json.loads(data).get("entries", [])

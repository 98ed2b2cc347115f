"""Recording a scenario on a live world, and re-running it to prove a stored recording is not stale.

:func:`verify_recording` re-runs a scenario live and fails on any difference from the stored
recording (outputs sanitized, packets left out: :func:`.recording.comparable`), so committed
recordings cannot go stale.
"""

from __future__ import annotations

import json

from . import recording
from .world import World


class RecordingMismatch(AssertionError):
    """A live re-run differs from the stored recording."""


def record(topology, scenario, recordings_dir: str | None = None) -> str:
    """Build ``topology`` live, run ``scenario(world)``, and write the recording. Returns its path."""
    with World(topology, mode="live", record=True, recordings_dir=recordings_dir) as w:
        scenario(w)
    return recording.recording_path(w.name, recordings_dir)


def verify_recording(topology, scenario, recordings_dir: str | None = None, name: str | None = None) -> int:
    """Re-run ``scenario`` on a live world and compare with the stored recording.

    Raises :class:`RecordingMismatch` naming the first differing command and both
    outputs; returns the number of entries compared.
    """
    name = name or topology.name
    stored = recording.read(name, recordings_dir)["entries"]
    with World(topology, mode="live", name=name) as w:
        scenario(w)
        live = w.transcript
    if len(live) != len(stored):
        raise RecordingMismatch(f"recording {name!r} has {len(stored)} entries but the live run made {len(live)};"
                                f" re-record it with `make record`")
    for i, (a, b) in enumerate(zip(map(recording.comparable, stored), map(recording.comparable, live))):
        if a != b:
            shown = b.get("command") or b.get("iface")
            raise RecordingMismatch(f"recording {name!r}, entry {i} (`{shown}` in {b.get('node')}) differs:\n"
                                    f"recorded: {json.dumps(a, sort_keys=True)}\nlive:     {json.dumps(b, sort_keys=True)}")
    return len(stored)

"""Re-run the course's notebooks on this machine's kernel and save them, ready to commit.

Usage: python scripts/execute_notebooks.py [NOTEBOOK ...]   (default: every notebook in book/ and labs/)

What makes a second run a no-op in git:
- ipywidgets state is saved (the static site renders it), with the random model ids renamed to ids
  derived from the notebook's path and the widget's order of creation;
- volatile metadata (execution timestamps, the Python patch version) is dropped, and a print that
  the kernel happened to split into several stream messages is stored as one;
- a cell's new output replaces the committed one only when they differ after the sanitizing regexes
  nbval uses (netlab.engine.sanitize, which tests/nbval_sanitize.cfg is generated from): a new
  round-trip time alone does not rewrite a recorded run;
- under NETLAB_RECORD=1, a notebook that comes out unchanged keeps the committed recording of a
  world when the new one ran the same commands in the same order: both come from live runs that
  printed exactly the same, and what differs is only what the world read behind the page (how often
  a daemon's log was polled, process ids, bridge timers). tests/test_recordings.py replays them
  against the committed outputs.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from netlab.engine import recording
from netlab.engine.sanitize import PATTERNS

ROOT = Path(__file__).resolve().parent.parent
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def sanitizers() -> list[tuple[re.Pattern, str]]:
    return [(re.compile(pattern), replacement) for _, pattern, replacement in PATTERNS]


def sanitized(outputs: list, rules) -> str:
    text = json.dumps(outputs, sort_keys=True)
    for pattern, replacement in rules:
        text = pattern.sub(replacement, text)
    # Widget model ids are compared too: they are renamed deterministically before this runs, and a
    # kept output must point at a model in the newly saved state.
    return text


def rename_widget_ids(nb, relpath: str) -> None:
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    if not state:
        return
    mapping = {}
    for index, old in enumerate(state):
        mapping[old] = hashlib.md5(f"{relpath}:{index}".encode()).hexdigest()
    text = json.dumps(nb)
    for old, new in mapping.items():
        text = text.replace(old, new)
    renamed = nbformat.from_dict(json.loads(text))
    nb.clear()
    nb.update(renamed)


def coalesce_streams(nb) -> None:
    """Merge a cell's consecutive stream outputs: ipykernel may split one print across messages."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        merged = []
        for out in cell.get("outputs", []):
            if merged and out.output_type == "stream" and merged[-1].output_type == "stream" \
                    and merged[-1].name == out.name:
                merged[-1].text += out.text
            else:
                merged.append(out)
        cell.outputs = merged


def strip_volatile(nb) -> None:
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.metadata.pop("collapsed", None)
    nb.metadata.get("language_info", {}).pop("version", None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}


def recordings() -> dict[Path, bytes]:
    """The world recordings `make record` writes (netlab/recordings unless NETLAB_RECORDINGS moves them)."""
    if not recording.requested() or os.environ.get(recording.DIR_ENV):
        return {}
    return {Path(p): Path(p).read_bytes() for p in recording.files(recording.COMMITTED)}


def same_steps(new: bytes, old: bytes) -> bool:
    """Whether two recordings ran the same commands in the same order, counting a command repeated
    back to back once (a wait loop polls a log as often as the machine's speed asks) and any process
    id in a /proc path as the same (a walk reads the daemons' /proc entries). An edited
    cell that runs other commands, or the same ones in another order, must be recorded anew even
    when the page prints the same."""
    def steps(data):
        out = []
        for e in recording.entries(data):
            kind, node, command, iface, filter = recording.step(e)
            command = re.sub(r"/proc/\d+/", "/proc/PID/", command or "")  # a walk reads daemons' /proc
            step = (kind, node, command, iface, filter)
            if not out or out[-1] != step:
                out.append(step)
        return out
    return steps(new) == steps(old)


def execute(path: Path, rules) -> bool:
    relpath = path.relative_to(ROOT).as_posix()
    before = recordings()
    committed = nbformat.read(path, as_version=4)
    nb = copy.deepcopy(committed)
    client = NotebookClient(
        nb, timeout=900, kernel_name="python3", store_widget_state=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    rename_widget_ids(nb, relpath)
    coalesce_streams(nb)
    strip_volatile(nb)
    for old, new in zip(committed.cells, nb.cells):
        if new.cell_type == "code" and old.get("outputs") and sanitized(old.outputs, rules) == sanitized(new.outputs, rules):
            new.outputs = old.outputs
    changed = nbformat.writes(nb) != nbformat.writes(committed)
    if changed:
        nbformat.write(nb, path)
    else:  # same page: keep the recordings of the run that made it (see the module's docstring)
        for rec, data in before.items():
            if rec.exists() and rec.read_bytes() != data and same_steps(rec.read_bytes(), data):
                rec.write_bytes(data)
    print(f"{'updated  ' if changed else 'unchanged'} {relpath}")
    return changed


def main(argv: list[str]) -> int:
    paths = [Path(a).resolve() for a in argv] or sorted(
        p for d in ("book", "labs") for p in (ROOT / d).rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
    )
    rules = sanitizers()
    for path in paths:
        execute(path, rules)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

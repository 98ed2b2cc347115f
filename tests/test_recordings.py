"""The committed recordings (netlab/recordings/) cannot go stale: replayed, they print what a live
kernel prints today. Each notebook runs live once and replayed once in `make test`:

1. Live: nbval executes every notebook (and compares it with the committed outputs); its kernels
   record every world they open into a session folder. When the session ends, that set of worlds
   must equal the committed set, none missing and none orphaned: the `LiveRecording` plugin in
   tests/conftest.py checks it (after every xdist worker is done) and prints "recordings check".
2. Replayed: each notebook is executed with NETLAB_MODE=replay from the committed recordings: no
   cell may fail, and every command transcript must equal the committed notebook's output.
   With nbval's comparison of the committed outputs with the live run: replay = live.

A recording is not compared entry by entry with a new live run: it also holds the kernel reads a
walk or a daemon's wait loop made behind the page (how often a log was polled, bridge timers in
`ip -d link`, process ids), which differ run to run without changing anything the reader sees.
"""
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from netlab.engine import recording
from netlab.engine.sanitize import sanitize

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p for d in ("book", "labs") for p in (ROOT / d).rglob("*.ipynb")
                   if ".ipynb_checkpoints" not in p.parts and "netlab.World(" in p.read_text())


def execute(path: Path, env: dict) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return nb


def transcripts(nb) -> list[str]:
    """Per cell, everything printed that shows a command run in a world, sanitized, banner lines dropped.

    A cell's outputs are joined first: the kernel may split one print into several messages.
    """
    out = []
    for cell in nb.cells:
        text = "".join(o.get("text") or o.get("data", {}).get("text/plain", "") for o in cell.get("outputs", []))
        if "$ ip netns exec" in text:
            text = "\n".join(l for l in text.splitlines() if not l.startswith("RECORDED on "))
            out.append(sanitize(text))
    return out


def test_there_are_notebooks_with_worlds():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_notebook_replays_its_recordings(path):
    replayed = execute(path, {"NETLAB_MODE": "replay", recording.DIR_ENV: recording.COMMITTED})
    errors = [(c.source, o.get("evalue")) for c in replayed.cells for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors, f"{path.name} fails in replay mode: {errors[0]}"
    banners = [o for c in replayed.cells for o in c.get("outputs", [])
               if re.search(r"^RECORDED on ", o.get("text", ""), re.M)]
    assert banners, "a replayed world must say that it is recorded"
    assert transcripts(replayed) == transcripts(nbformat.read(path, as_version=4))

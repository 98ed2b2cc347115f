"""What every lab's blank-copy test shares: run the learners' copy, and the rules it must keep.

A blank copy (scripts/make_student_labs.py) run top to bottom must never show a traceback: an
error is one line saying what to do first; and every graded cell must show a ✗ or such an error
(a blank that passes is a shortcut). Each lab's test then checks what its ✗ lines say.
"""

import os
import re
from pathlib import Path

import nbformat

from test_notebooks import load_script

ROOT = Path(__file__).resolve().parent.parent
labs = load_script("make_student_labs")
# Commands that would hand the learner the answer; a failing check never prints one.
FIX = re.compile(r"ip (route|neigh|addr|-n \w+ link) (add|replace|del|flush)|nud permanent")
# What a one-line error in a blank lab says: the step to do first.
NOTICES = ("first", "run the cell again", "no command for", "waits for your answer", "is not defined yet")


def run_blank(name: str, tmp_path: Path, monkeypatch):
    """The learners' copy of NAME, executed top to bottom in a fresh kernel (errors allowed)."""
    from nbclient import NotebookClient

    nb = labs.student_version(nbformat.read(ROOT / "labs" / f"{name}.ipynb", as_version=4))
    for key in [k for k in os.environ if k.startswith("NETLAB_RECORD")]:  # the kernel records nothing
        monkeypatch.delenv(key)
    NotebookClient(nb, timeout=120, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb


def graded_failures(nb, name: str, graded_at_least: int = 1) -> list[str]:
    """The ✗ lines of NB's graded cells, after asserting the rules every blank lab keeps."""
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.output_type == "error":
                assert len(out.traceback) == 1, (cell.source, out.traceback)
                assert any(w in out.traceback[0] for w in NOTICES), out.traceback
            assert "Traceback" not in out.get("text", ""), cell.source
    graded = [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]
    assert len(graded) >= graded_at_least, f"{name} has {len(graded)} graded cells"
    failures = []
    for cell in graded:
        errors = [o for o in cell.outputs if o.output_type == "error"]
        fails = [line.strip() for line in labs.shown_text(cell).splitlines() if "✗" in line]
        assert errors or fails, f"a blank {name} passes {cell.source!r}"
        failures += fails
    return failures

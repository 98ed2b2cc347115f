"""The labs' two derived forms, from the markers the authors write: nbgrader's cell metadata, and
the learners' blank copies.

Usage:
    python scripts/make_student_labs.py [OUTDIR]   the learners' copies (default: student/), which
                                                   the site's Labs part and Binder show
    python scripts/make_student_labs.py --metadata write nbgrader's cell metadata into labs/*.ipynb
    python scripts/make_student_labs.py --check    exit 1 if a lab's metadata is not what --metadata
                                                   would write (an author added a cell or a check)

The committed labs in labs/ are the instructor's copies, executed with their solutions so that the
checks are shown passing on a live kernel. Authors mark solutions as nbgrader marks them:

    ### BEGIN SOLUTION
    ip_route_add = "ip route add default via 192.168.0.1"
    ### END SOLUTION

and write nothing else for grading: the cell's role follows from its source and its committed
output (nbgrader's metadata schema v3, nbgrader/nbgraderformat/v3.json):

- a cell holding a marked block (markers on lines of their own) is a solution cell ("autograded
  answer": solution, not graded; a Markdown one is also graded, by hand, as nbgrader requires);
- a code cell without markers that calls a check (``check_...(``, ``Check(``, ``diagnose_...(``)
  and whose committed output shows only passing checks (✓, no ✗) is a test cell ("autograder
  tests": graded and locked), worth one point per ✓ it shows. A check shown failing in the
  instructor's copy is a "before" check that shows what is missing, not a test; a check written in
  the same cell as a solution is feedback, not graded (nbgrader grades such a cell by hand);
- every other cell is read-only (locked), as nbgrader's LockCells expects of the text and set-up.

grade_id is the cell's id, unique in a notebook as nbgrader requires.

In the learners' copy each marked block becomes "# YOUR CODE HERE" plus `raise NotImplementedError()`;
in a `%%node NODE` cell (shell commands, netlab.magic) it becomes "# YOUR COMMANDS HERE" alone, and
running the cell empty says "the cell has no command for NODE"; a Markdown cell holding
"### BEGIN SOLUTION" (a written answer) becomes "YOUR ANSWER HERE". The "**For instructors.**"
paragraph goes, and the outputs. deploy/nbgrader/nbgrader_config.py makes nbgrader's
generate_assignment write the same sources (tests/test_nbgrader.py compares them).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
LABS = ROOT / "labs"
STUDENT = ROOT / "student"
BLOCK = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION[ \t]*$", re.M | re.S)
CHECK_CALL = re.compile(r"\b(check_\w+|Check|diagnose_\w+)\(")
INSTRUCTOR_NOTE = re.compile(r"\n\n\*\*For instructors\.\*\*.*?(?=\n\n|\Z)", re.S)


def strip_solutions(source: str, cell_type: str) -> str:
    if cell_type == "markdown":
        return BLOCK.sub("YOUR ANSWER HERE", source)
    if source.startswith("%%node"):  # the cell's lines are shell commands: no Python placeholder
        return BLOCK.sub(lambda m: f"{m.group(1)}# YOUR COMMANDS HERE (one a line, as in a terminal)", source)
    return BLOCK.sub(lambda m: f"{m.group(1)}# YOUR CODE HERE\n{m.group(1)}raise NotImplementedError()", source)


def drop_instructor_note(source: str) -> str:
    """The lab's "**For instructors.**" paragraph, which says the copy holds the solutions, goes."""
    return INSTRUCTOR_NOTE.sub("", source)


def shown_text(cell) -> str:
    """What a code cell's committed outputs show as text (streams and text/plain results)."""
    return "".join(o.get("text", "") if o.output_type == "stream" else o.get("data", {}).get("text/plain", "")
                   for o in cell.get("outputs", []))


def nbgrader_metadata(cell) -> dict:
    """nbgrader's metadata (schema v3) for CELL, from its markers and committed output."""
    meta = {"schema_version": 3, "grade": False, "solution": False, "locked": False, "grade_id": cell.id}
    shown = shown_text(cell) if cell.cell_type == "code" else ""
    if BLOCK.search(cell.source):
        # nbgrader grades a written (Markdown) answer by hand: solution and grade cell both
        meta.update(solution=True, **({"grade": True, "points": 1} if cell.cell_type == "markdown" else {}))
    elif CHECK_CALL.search(cell.source) and "✓" in shown and "✗" not in shown:
        meta.update(grade=True, locked=True, points=shown.count("✓"))
    else:
        meta["locked"] = True
    return meta


def with_metadata(nb):
    """NB with every cell's nbgrader metadata written (other metadata, sources, outputs untouched)."""
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        cell.metadata["nbgrader"] = nbgrader_metadata(cell)
    return nb


def student_version(nb):
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if BLOCK.search(cell.source):
            cell.source = strip_solutions(cell.source, cell.cell_type)
        if cell.cell_type == "markdown":
            cell.source = drop_instructor_note(cell.source)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("widgets", None)
    return nb


def write_metadata(check_only: bool) -> int:
    stale = []
    for lab in sorted(LABS.glob("*.ipynb")):
        committed = nbformat.read(lab, as_version=4)
        wanted = with_metadata(committed)
        if nbformat.writes(wanted) != nbformat.writes(committed):
            stale.append(lab.relative_to(ROOT).as_posix())
            if not check_only:
                nbformat.write(wanted, lab)
    verb = "stale nbgrader metadata (run scripts/make_student_labs.py --metadata)" if check_only else "wrote"
    for name in stale:
        print(f"{verb}: {name}")
    return 1 if stale and check_only else 0


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("--metadata", "--check"):
        return write_metadata(check_only=argv[0] == "--check")
    if argv and argv[0].startswith("-"):
        print(__doc__.strip())
        return 0 if argv[0] in ("-h", "--help") else 2
    outdir = Path(argv[0]) if argv else STUDENT
    outdir.mkdir(parents=True, exist_ok=True)
    for lab in sorted(LABS.glob("*.ipynb")):
        nbformat.write(student_version(nbformat.read(lab, as_version=4)), outdir / lab.name)
        print(f"{outdir / lab.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

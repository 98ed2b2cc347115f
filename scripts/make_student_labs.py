"""Write the hand-out version of every lab: solutions removed, outputs cleared.

Usage: python scripts/make_student_labs.py [OUTDIR]   (default: _build/student/)

The committed labs in labs/ are the instructor's copies, executed with their solutions so that
the checks are shown passing on a live kernel. Solutions are marked the way nbgrader marks them,
so an instructor can also use nbgrader directly:

    ### BEGIN SOLUTION
    ip_route_add = "ip route add default via 192.168.0.1"
    ### END SOLUTION

Each marked block becomes "# YOUR CODE HERE" plus `raise NotImplementedError()`; in a `%%node NODE`
cell (shell commands, netlab.magic) it becomes "# YOUR COMMANDS HERE" alone, and running the cell
empty says "the cell has no command for NODE"; a Markdown cell holding "### BEGIN SOLUTION" (a
written answer) becomes "YOUR ANSWER HERE".
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION[ \t]*$", re.M | re.S)


def strip_solutions(source: str, cell_type: str) -> str:
    if cell_type == "markdown":
        return BLOCK.sub("YOUR ANSWER HERE", source)
    if source.startswith("%%node"):  # the cell's lines are shell commands: no Python placeholder
        return BLOCK.sub(lambda m: f"{m.group(1)}# YOUR COMMANDS HERE (one a line, as in a terminal)", source)
    return BLOCK.sub(lambda m: f"{m.group(1)}# YOUR CODE HERE\n{m.group(1)}raise NotImplementedError()", source)


def student_version(nb):
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if "### BEGIN SOLUTION" in cell.source:
            cell.source = strip_solutions(cell.source, cell.cell_type)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("widgets", None)
    return nb


def main(argv: list[str]) -> int:
    if argv and argv[0].startswith("-"):
        print(__doc__.strip())
        return 0 if argv[0] in ("-h", "--help") else 2
    outdir = Path(argv[0]) if argv else ROOT / "_build" / "student"
    outdir.mkdir(parents=True, exist_ok=True)
    for lab in sorted((ROOT / "labs").glob("*.ipynb")):
        nbformat.write(student_version(nbformat.read(lab, as_version=4)), outdir / lab.name)
        print(f"{outdir / lab.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

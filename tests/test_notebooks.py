"""The committed notebooks are executed (nbval alone passes an unexecuted one vacuously),
listed in the table of contents, and the project's notebook scripts do what they promise."""
import importlib.util
import json
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p for d in ("book", "labs") for p in (ROOT / d).rglob("*.ipynb")
                   if ".ipynb_checkpoints" not in p.parts)


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found in book/ or labs/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_code_cell_was_executed_in_order(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    counts = [c.execution_count for c in code]
    assert None not in counts, f"{path.name}: code cells never executed: run `make execute`"
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: cells executed out of order: {counts}"
    for cell in code:
        assert not any(o.output_type == "error" for o in cell.outputs), f"{path.name}: a cell raised:\n{cell.source}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_widget_state_is_saved_for_every_displayed_widget(path):
    nb = nbformat.read(path, as_version=4)
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get("application/vnd.jupyter.widget-view+json")
            if view:
                assert view["model_id"] in state, f"{path.name}: widget {view['model_id']} has no saved state"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_notebook_is_in_the_table_of_contents(path):
    """A chapter is listed as itself; a lab (the instructor's copy) as its learners' copy in student/,
    which scripts/make_student_labs.py writes before the site is built."""
    toc = (ROOT / "_toc.yml").read_text()
    entry = path.relative_to(ROOT).with_suffix("").as_posix()
    if entry.startswith("labs/"):
        assert "file: labs/" not in toc, "the site's Labs part shows the learners' copies, not labs/"
        entry = f"student/{path.stem}"
    assert f"file: {entry}\n" in toc or f"root: {entry}\n" in toc, f"{entry} is not in _toc.yml"


def test_widget_ids_are_renamed_deterministically():
    execute = load_script("execute_notebooks")

    def notebook(ids):
        nb = nbformat.v4.new_notebook()
        nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
            "state": {i: {"state": {"children": [f"IPY_MODEL_{j}" for j in ids if j != i]}} for i in ids}}}
        nb.cells.append(nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output(
            "display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": ids[0]}})]))
        nb.cells[0].id = "cell-00"
        return nb

    first, second = notebook(["a" * 32, "b" * 32]), notebook(["c" * 32, "d" * 32])
    execute.rename_widget_ids(first, "book/x.ipynb")
    execute.rename_widget_ids(second, "book/x.ipynb")
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert "a" * 32 not in json.dumps(first)


def test_student_labs_lose_solutions_and_outputs():
    student = load_script("make_student_labs")
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 1\n### BEGIN SOLUTION\nanswer = '10.233.64.0'\n### END SOLUTION\ncheck(answer)",
                                  execution_count=1, outputs=[nbformat.v4.new_output("stream", text="ok")]),
        nbformat.v4.new_markdown_cell("Why?\n\n### BEGIN SOLUTION\nBecause of the mask.\n### END SOLUTION"),
        nbformat.v4.new_markdown_cell("# Lab\n\n**For instructors.** This is the instructor's copy,\nexecuted."
                                      "\n\nRun the cells in order."),
    ])
    out = student.student_version(nb)
    assert out.cells[0].source == "x = 1\n# YOUR CODE HERE\nraise NotImplementedError()\ncheck(answer)"
    assert out.cells[0].outputs == [] and out.cells[0].execution_count is None
    assert out.cells[1].source == "Why?\n\nYOUR ANSWER HERE"
    assert out.cells[2].source == "# Lab\n\nRun the cells in order."


@pytest.mark.parametrize("path", sorted((ROOT / "labs").glob("*.ipynb")), ids=lambda p: p.name)
def test_every_lab_has_solutions_to_strip(path):
    code = "".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    assert code.count("### BEGIN SOLUTION") == code.count("### END SOLUTION") > 0
    assert "raise NotImplementedError" not in code, "the committed lab is the instructor's copy"


def test_recordings_are_kept_only_when_the_same_commands_ran_in_the_same_order():
    execute = load_script("execute_notebooks")

    def recording(*commands):
        return json.dumps({"entries": [{"kind": "run", "node": "n1", "command": c, "stdout": str(i)}
                                       for i, c in enumerate(commands)]}).encode()

    committed = recording("ip route", "cat /run/log", "readlink /proc/60/ns/net", "ip neigh flush dev en0", "ping")
    polled_more = recording("ip route", "cat /run/log", "cat /run/log", "readlink /proc/66/ns/net",
                            "ip neigh flush dev en0", "ping")
    reordered = recording("ip neigh flush dev en0", "ip route", "cat /run/log", "readlink /proc/60/ns/net", "ping")
    assert execute.same_steps(polled_more, committed)
    assert not execute.same_steps(reordered, committed)
    assert not execute.same_steps(recording("ip route"), committed)

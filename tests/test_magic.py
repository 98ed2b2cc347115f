"""%%node / %node: a learner's shell lines in a notebook cell print exactly what world.run prints.

The notebook test runs a small notebook in a real kernel (nbclient) live, recording its world, then
again in replay mode, and finally under nbval: the cells that must fail (a failing command, a node
that does not exist, no open world) fail there, with one line each and no traceback.
"""

import os
import subprocess
import sys
import textwrap

import nbformat
import pytest
from nbclient import NotebookClient

from netlab import magic

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IS_ROOT = os.geteuid() == 0


# ------------------------------------------------------------------ parsing
def test_parse_line():
    assert magic.parse_line("node3") == ("node3", None, True, "")
    assert magic.parse_line("  --world lab06 --no-check node3  ") == ("node3", "lab06", False, "")
    assert magic.parse_line("--world=lab06 node1 ip route get 10.1.17.4") == ("node1", "lab06", True,
                                                                              "ip route get 10.1.17.4")
    # the command is kept as typed: quotes and spacing go to world.run untouched
    assert magic.parse_line("pc1 sh -c 'echo  a'")[3] == "sh -c 'echo  a'"
    for bad, why in [("", "name a node"), ("--world", "needs a world"), ("-x pc1", "unknown option '-x'"),
                     ("--no-check", "name a node")]:
        with pytest.raises(magic.NodeUsageError, match=why):
            magic.parse_line(bad)


def test_commands_skip_comments_and_join_continued_lines():
    cell = textwrap.dedent("""\
        ### BEGIN SOLUTION
        ip link add flannel.1 address 5e:f8:4f:00:e3:38 type vxlan id 1 local 10.168.0.4 \\
            dev eth0 nolearning dstport 8472

          # an indented comment
        ip link set flannel.1 up   # trailing comment
        echo 'a # not a comment' "b #c" d#e
        ec\\
        ho joined
        ### END SOLUTION
    """)
    assert magic.commands(cell) == [
        "ip link add flannel.1 address 5e:f8:4f:00:e3:38 type vxlan id 1 local 10.168.0.4 dev eth0 nolearning dstport 8472",
        "ip link set flannel.1 up",
        "echo 'a # not a comment' \"b #c\" d#e",
        "echo joined",
    ]
    assert magic.commands("echo a\\\\\n") == ["echo a\\\\"]  # an escaped backslash does not continue
    assert magic.commands("# only\n\n") == []


def test_errors_render_as_one_line():
    err = magic.NodeCommandFailed("`ip link add x` exited with code 2 in node3")
    assert err._render_traceback_() == ["NodeCommandFailed: `ip link add x` exited with code 2 in node3"]


def test_no_open_world_is_one_sentence():
    with pytest.raises(magic.NodeUsageError, match="no world is open in this notebook"):
        magic.node("pc1", "ip route\n")


def test_import_netlab_never_imports_ipython():
    code = "import sys, netlab; assert 'IPython' not in sys.modules, 'IPython imported'; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "ok", out.stderr


# ---------------------------------------------------------------- a notebook
CELLS = [
    "import netlab\nworld = netlab.World(netlab.pc_pair(), name='magic_pc_pair')",
    # 1: a %%node cell as a lab writes it
    "%%node pc1\n### BEGIN SOLUTION\nip -br link \\\n    show dev eth0\n\n# the routes\nip route  # all of them\n"
    "### END SOLUTION",
    # 2: the same commands through world.run: the output must be the same
    "print(world.run('pc1', 'ip -br link show dev eth0'))\nprint(world.run('pc1', 'ip route'))",
    # 3: the line magic
    "%node pc2 ip -br addr show dev eth0",
    # 4: a failing command stops the cell
    "%%node pc1\nip route get 10.9.9.9\nip -br link show dev eth0",
    # 5: unless --no-check
    "%%node --no-check pc1\nip route get 10.9.9.9\nip -br link show dev eth0",
    # 6: a node that does not exist
    "%%node pc9\nip route",
    # 7: loaded by %load_ext too, and a second world becomes the current one; --world picks another
    "%load_ext netlab\nother = netlab.World(netlab.pc_pair(), name='magic_other')",
    "%%node --world magic_pc_pair pc1\nip -br link show dev eth0",
    "other.close()\nworld.close()",
    # 10: no open world any more
    "%node pc1 ip route",
]
FAILING = {4: "NodeCommandFailed", 6: "NodeUsageError", 10: "NodeUsageError"}


def run_notebook(tmp_path, env: dict) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    return nb


def text(cell, kind="stream") -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == kind)


def errors(nb) -> dict:
    return {i: o for i, c in enumerate(nb.cells) for o in c.outputs if o.output_type == "error"}


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    if not IS_ROOT:
        pytest.skip("a live world in a notebook kernel: run as root (userns is tested below)")
    folder = tmp_path_factory.mktemp("magic")
    live = run_notebook(folder, {"NETLAB_RECORD": "1", "NETLAB_RECORDINGS": str(folder), "NETLAB_MODE": "live"})
    replayed = run_notebook(folder, {"NETLAB_MODE": "replay", "NETLAB_RECORDINGS": str(folder)})
    nbformat.write(live, folder / "magic.ipynb")
    return folder, live, replayed


@pytest.mark.root
def test_magic_prints_what_world_run_prints(executed):
    _, nb, _ = executed
    assert text(nb.cells[1]) == text(nb.cells[2])
    assert text(nb.cells[1]).startswith("$ ip netns exec pc1 ip -br link show dev eth0\neth0@if")
    assert "$ ip netns exec pc1 ip route\n192.168.0.0/26 dev eth0" in text(nb.cells[1])
    assert text(nb.cells[3]).startswith("$ ip netns exec pc2 ip -br addr show dev eth0\neth0@if")
    assert text(nb.cells[8]).startswith("$ ip netns exec pc1 ip -br link show dev eth0\neth0@if")


@pytest.mark.root
def test_magic_fails_with_one_line(executed):
    _, nb, _ = executed
    errs = errors(nb)
    assert {i: e.ename for i, e in errs.items()} == FAILING
    for e in errs.values():
        assert len(e.traceback) == 1 and e.traceback[0] == f"{e.ename}: {e.evalue}"
    # the failing command's own error is printed, and the cell stopped before the next command
    assert text(nb.cells[4]) == "$ ip netns exec pc1 ip route get 10.9.9.9\nRTNETLINK answers: Network is unreachable\n"
    assert errs[4].evalue.startswith("`ip route get 10.9.9.9` exited with code 2 in pc1, so the cell stopped there")
    assert text(nb.cells[5]).startswith(text(nb.cells[4]) + "$ ip netns exec pc1 ip -br link show dev eth0\n")
    assert errs[6].evalue == "no node named 'pc9' in world 'magic_pc_pair'; its nodes are pc1, pc2, lan"
    assert errs[10].evalue.startswith("no world is open in this notebook")


@pytest.mark.root
def test_magic_in_replay_prints_the_recorded_transcript(executed):
    _, live, replayed = executed
    assert text(replayed.cells[0]).startswith("RECORDED on ")
    assert {i: e.ename for i, e in errors(replayed).items()} == FAILING
    for i in (1, 3, 4, 5, 8):
        assert text(replayed.cells[i]) == text(live.cells[i]), i


@pytest.mark.root
def test_nbval_fails_exactly_the_failing_cells(executed):
    folder, _, _ = executed
    # A pytest of its own: none of the outer session's settings (xdist's worker variables, addopts,
    # the recording plugin's folders) may leak into it.
    inner_env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "NETLAB_"))}
    inner_env["NETLAB_MODE"] = "live"
    out = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--nbval", "-q",
                          "--nbval-sanitize-with", os.path.join(ROOT, "tests", "nbval_sanitize.cfg"),
                          str(folder / "magic.ipynb")],
                         capture_output=True, text=True, cwd=folder, timeout=300, env=inner_env)
    failed = sorted(int(l.split("::Cell ")[1].split()[0]) for l in out.stdout.splitlines()
                    if l.startswith("FAILED") and "::Cell " in l)
    assert failed == sorted(FAILING), out.stdout[-3000:] + out.stderr[-2000:]


# ----------------------------------------------------- a user-namespace world
@pytest.mark.userns
def test_magic_in_a_userns_world(tmp_path):
    from test_world_userns import run_unprivileged
    out = run_unprivileged(tmp_path, """
        import io, contextlib
        import netlab
        from netlab import magic
        with netlab.World(netlab.pc_pair(), name="magic_userns") as w:
            print("MODE", w.mode)
            cell = io.StringIO()
            with contextlib.redirect_stdout(cell):
                magic.node("pc1", "ip -br link \\\\\\n  show dev eth0\\n# comment\\nip route\\n")
            direct = str(w.run("pc1", "ip -br link show dev eth0")) + "\\n" + str(w.run("pc1", "ip route")) + "\\n"
            print("SAME", cell.getvalue() == direct)
            print(cell.getvalue())
            try:
                magic.node("pc1", "ip link del nosuch\\nip route\\n")
            except magic.NodeCommandFailed as e:
                print("FAILED", e)
    """)
    assert "MODE userns" in out
    assert "SAME True" in out
    assert "$ ip netns exec pc1 ip -br link show dev eth0\neth0@if" in out
    assert "FAILED `ip link del nosuch` exited with code 1 in pc1" in out


def test_student_copy_of_a_node_cell_is_empty_and_says_so():
    import importlib.util
    spec = importlib.util.spec_from_file_location("make_student_labs", os.path.join(ROOT, "scripts", "make_student_labs.py"))
    student = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(student)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "%%node node3\n### BEGIN SOLUTION\nip link set flannel.1 up\n### END SOLUTION")])
    source = student.student_version(nb).cells[0].source
    assert source == "%%node node3\n# YOUR COMMANDS HERE (one a line, as in a terminal)"
    assert "NotImplementedError" not in source  # it would run as a shell command
    with pytest.raises(magic.NodeUsageError, match="the cell has no command for node3"):
        magic.node(source.split("\n", 1)[0][len("%%node "):], source.split("\n", 1)[1])


def test_a_name_missing_in_the_cell_is_one_line_but_a_librarys_error_keeps_its_traceback(tmp_path):
    """`import netlab` turns a NameError or NotImplementedError raised by the cell itself (a blank lab's
    answer, a variable no cell set yet) into one line; the same errors raised inside a library are not
    the learner's order of cells, and keep their whole traceback."""
    (tmp_path / "libx.py").write_text("def boom():\n    return missing_in_lib\n")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import netlab, libx"),
                nbformat.v4.new_code_cell("pc2_address"),
                nbformat.v4.new_code_cell("raise NotImplementedError()"),
                nbformat.v4.new_code_cell("libx.boom()")]
    NotebookClient(nb, allow_errors=True, kernel_name="python3", timeout=60).execute()
    errors = [[o for o in c.outputs if o.output_type == "error"][0] for c in nb.cells[1:]]
    assert [len(e.traceback) for e in errors[:2]] == [1, 1]
    assert "`pc2_address` is not defined yet" in errors[0].traceback[0]
    assert "waits for your answer" in errors[1].traceback[0]
    assert errors[2].ename == "NameError" and len(errors[2].traceback) > 1
    assert "missing_in_lib" in errors[2].traceback[-1] and "not defined yet" not in "".join(errors[2].traceback)

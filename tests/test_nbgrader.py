"""The labs work in nbgrader (0.9, tests/requirements-instructor.txt): the committed metadata is what
scripts/make_student_labs.py derives from the markers, `nbgrader generate_assignment` releases every
lab as the learners' copy the site shows, and `nbgrader autograde` gives a submission with the
solutions written back full points on every test cell and a blank submission zero, run for real in
a temporary course directory with the course's deploy/nbgrader/nbgrader_config.py.

Autograde runs a lab from scratch, live worlds and all, so it needs root. `make test` grades
AUTOGRADED (one lab of each world kind); `make test-nbgrader` grades every lab (NETLAB_GRADE_ALL=1).
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from test_notebooks import load_script

ROOT = Path(__file__).resolve().parent.parent
LABS = sorted((ROOT / "labs").glob("*.ipynb"))
# One lab per kind of world: namespaces and veths (lab01), flannel's daemons, etcd and TUN (lab05).
AUTOGRADED = ["lab01_cidr", "lab05_flannel_udp"]
GRADED = [p.stem for p in LABS] if os.environ.get("NETLAB_GRADE_ALL") == "1" else AUTOGRADED
NBGRADER = [sys.executable, "-m", "nbgrader"]
labs = load_script("make_student_labs")


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    # The kernels autograde starts must not write recordings into the test session's folder.
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETLAB_RECORD")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}"  # nbgrader runs alembic
    proc = subprocess.run(NBGRADER + list(args), cwd=course, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def make_course(root: Path, names) -> Path:
    """A course directory holding each named lab as an assignment of one notebook."""
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"load_subconfig({str(ROOT / 'deploy' / 'nbgrader' / 'nbgrader_config.py')!r})\n"
        f"c.CourseDirectory.root = {str(root)!r}\n")
    for name in names:
        (root / "source" / name).mkdir(parents=True)
        shutil.copy(ROOT / "labs" / f"{name}.ipynb", root / "source" / name)
    return root


@pytest.mark.parametrize("path", LABS, ids=lambda p: p.name)
def test_committed_metadata_is_what_the_markers_say(path):
    committed = nbformat.read(path, as_version=4)
    assert nbformat.writes(labs.with_metadata(committed)) == nbformat.writes(committed), \
        f"{path.name}: run `python scripts/make_student_labs.py --metadata`"
    graded = [c for c in committed.cells if c.metadata["nbgrader"]["grade"]]
    assert graded, f"{path.name} has no test cell for nbgrader to grade"


def test_check_cells_are_tests_and_before_checks_are_not():
    def cell(source, shown):
        c = nbformat.v4.new_code_cell(source, outputs=[nbformat.v4.new_output("stream", text=shown)])
        c.id = "cell-1"
        return c

    test = labs.nbgrader_metadata(cell("print(netlab.kernel.check_route(w, 'a', 'b'))", "✓ a\n✓ b\n"))
    assert test == {"schema_version": 3, "grade": True, "solution": False, "locked": True,
                    "grade_id": "cell-1", "points": 2}
    before = labs.nbgrader_metadata(cell("print(netlab.kernel.check_link(w, 'pc1', 'eth0'))", "✗ no eth0\n"))
    answer = labs.nbgrader_metadata(cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\nnetlab.Check(x)", "✓ x\n"))
    assert (before["grade"], before["locked"]) == (False, True)
    assert (answer["grade"], answer["solution"], answer["locked"]) == (False, True, False)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course directory with every lab released, by one `nbgrader generate_assignment` run."""
    course = make_course(tmp_path_factory.mktemp("course"), [p.stem for p in LABS])
    nbgrader(course, "generate_assignment", "*", "--force")
    return course


def test_generate_assignment_releases_every_lab_as_the_learners_copy(course):
    for lab in LABS:
        release = nbformat.read(course / "release" / lab.stem / lab.name, as_version=4)
        student = labs.student_version(nbformat.read(lab, as_version=4))
        assert [c.source for c in release.cells] == [c.source for c in student.cells]
        text = "".join(c.source for c in release.cells)
        assert "### BEGIN SOLUTION" not in text and "instructor's copy" not in text


def submit(course: Path, name: str, student: str, solutions: bool) -> None:
    """STUDENT hands in the released NAME, blank or with the instructor's solutions typed back in."""
    release = nbformat.read(course / "release" / name / f"{name}.ipynb", as_version=4)
    if solutions:
        answers = {c.id: c.source for c in nbformat.read(ROOT / "labs" / f"{name}.ipynb", as_version=4).cells}
        for cell in release.cells:
            if cell.metadata.get("nbgrader", {}).get("solution"):
                cell.source = answers[cell.id]
    (course / "submitted" / student / name).mkdir(parents=True, exist_ok=True)
    nbformat.write(release, course / "submitted" / student / name / f"{name}.ipynb")


def graded_cells(course: Path, name: str, student: str) -> dict:
    """{grade_id: (score, max_score)} of every test cell nbgrader graded for STUDENT's NAME."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(name, name, student)
        return {g.name: (g.score, g.max_score) for g in nb.grades}


@pytest.mark.root
@pytest.mark.parametrize("name", GRADED)
def test_autograde_gives_the_solution_full_points_and_a_blank_lab_none(root_only, course, name):
    submit(course, name, "solved", solutions=True)
    submit(course, name, "blank", solutions=False)
    nbgrader(course, "autograde", name, "--force")  # both submissions, each in a fresh kernel
    solved, blank = graded_cells(course, name, "solved"), graded_cells(course, name, "blank")
    assert solved and set(solved) == set(blank)
    short = {cell: score for cell, score in solved.items() if score[0] != score[1]}
    assert not short, f"{name}: the solution lost points in {short}; see autograded/solved/{name}"
    scored = {cell: score for cell, score in blank.items() if score[0] != 0}
    assert not scored, f"{name}: a blank submission scored in {scored}"


CHECK_CELLS = ['import netlab\nfrom netlab.checks.docker import Diagnosis',
               'netlab.Check(False, "docker0 has no address; expected 172.17.0.1/16")',
               'print(netlab.Check(True, "docker0 has 172.17.0.1/16"))',
               'print(Diagnosis(False, "x", steps=(netlab.Check(False, "nginx-1 has no default route"),)))']


def run_check_cells(grading: str | None):
    """CHECK_CELLS run in a fresh kernel, with NETLAB_GRADING set to GRADING (or unset): each cell's outputs."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in CHECK_CELLS])
    saved = os.environ.pop("NETLAB_GRADING", None)
    try:
        if grading is not None:
            os.environ["NETLAB_GRADING"] = grading
        NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    finally:
        os.environ.pop("NETLAB_GRADING", None)
        if saved is not None:
            os.environ["NETLAB_GRADING"] = saved
    return [c.outputs for c in nb.cells]


def stderr(outputs) -> str:
    return "".join(o.get("text", "") for o in outputs if o.output_type == "stream" and o.name == "stderr")


def test_grading_mode_scores_a_failing_check_zero_and_leaves_the_learners_view_alone():
    """nbgrader's config turns netlab's grading mode on (NETLAB_GRADING=1, inherited by autograde's
    kernels): a failing check shown writes one stderr line, which nbgrader.utils.determine_grade scores
    zero; a passing one writes nothing. Without it (the learner's kernel), outputs carry no stderr."""
    from nbgrader.utils import determine_grade

    config = (ROOT / "deploy" / "nbgrader" / "nbgrader_config.py").read_text()
    assert 'os.environ["NETLAB_GRADING"] = "1"' in config and "exec_files" not in config
    learner, graded, off = run_check_cells(None), run_check_cells("1"), run_check_cells("0")
    for outputs in learner + off:
        assert not stderr(outputs)
    assert [bool(stderr(o)) for o in graded] == [False, True, False, True]
    for cell in (1, 3):
        assert stderr(graded[cell]).strip() == "(a check failed: this test cell scores no points)"
        shown = [o for o in graded[cell] if o.get("name") != "stderr"]
        assert shown == [o for o in learner[cell] if o.get("name") != "stderr"]  # the same ✗ and sentence
        cell_nb = nbformat.v4.new_code_cell(CHECK_CELLS[cell], metadata={"nbgrader": {"grade": True, "points": 1}})
        cell_nb.outputs = graded[cell]
        assert determine_grade(cell_nb, None)[0] == 0
        cell_nb.outputs = learner[cell]
        assert determine_grade(cell_nb, None)[0] == 1

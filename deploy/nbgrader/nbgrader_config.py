"""The course's nbgrader configuration: copy it into the course directory (the folder holding
source/, release/, submitted/ ...), or load it from there with
``load_subconfig("<repository>/deploy/nbgrader/nbgrader_config.py")`` (tests/test_nbgrader.py does).

Three things differ from nbgrader's defaults (nbgrader 0.9):

- generate_assignment writes the same learners' copy as scripts/make_student_labs.py (the one the
  site and Binder show): a ``%%node`` cell's placeholder is a comment, not ``raise
  NotImplementedError()``, which the cell would run as a shell command; the "For instructors"
  paragraph goes.
- autograde scores a test cell zero when a check in it shows ✗: this file sets NETLAB_GRADING=1,
  which the kernels autograde starts inherit, and in that grading mode (netlab.checks.base) a
  failing check shown also writes one line to stderr; nbgrader gives no points to a test cell with
  an error or any stderr output (nbgrader.utils.determine_grade). A check returns its verdict
  instead of raising, so that a learner reads ✗ and a sentence, not a traceback; the learner's
  own kernel, without the variable, shows exactly that.
- the per-cell timeout, 90 s instead of 30: see TIMEOUT.
"""
import os
import sys

from nbgrader.converters import GenerateAssignment
from nbgrader.preprocessors import ClearSolutions

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import make_student_labs as labs  # noqa: E402  (the one place the learners' copy is defined)

c = get_config()  # noqa: F821  (traitlets defines it in a config file's namespace)

# nbgrader's default per-cell timeout, 30 s, is enough as root: lab06, the slowest lab, runs whole
# in 25 s. In User-mode Linux (a hub's usual case, docs/jupyterhub.md) a packet walk is slower:
# measured on a 2-core machine under load, lab06's slowest cell (world.trace) took 34 s and two
# more 18-21 s. 90 s leaves room for a busier node; it costs nothing unless a cell hangs.
TIMEOUT = int(os.environ.get("NETLAB_GRADING_TIMEOUT", "90"))
c.Execute.timeout = TIMEOUT
c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:"]
# netlab's grading mode in every kernel autograde starts (they inherit this process's environment).
os.environ["NETLAB_GRADING"] = "1"


class NetlabClearSolutions(ClearSolutions):
    """nbgrader's ClearSolutions with make_student_labs' placeholders (per cell, not per language)."""

    def _replace_solution_region(self, cell, language):
        stripped = labs.strip_solutions(cell.source, cell.cell_type)
        replaced, cell.source = stripped != cell.source, stripped
        return replaced

    def preprocess_cell(self, cell, resources, index):
        cell, resources = super().preprocess_cell(cell, resources, index)
        if cell.cell_type == "markdown":
            cell.source = labs.drop_instructor_note(cell.source)
        return cell, resources


c.GenerateAssignment.preprocessors = [NetlabClearSolutions if p is ClearSolutions else p
                                      for p in GenerateAssignment.class_traits()["preprocessors"].default()]

"""Run by every kernel nbgrader's autograde starts (deploy/nbgrader/nbgrader_config.py passes it
with --IPKernelApp.exec_files): a check shown failing also writes one line to stderr.

nbgrader scores a test cell zero when its outputs hold an error or any stderr stream
(nbgrader.utils.determine_grade), and full points otherwise; netlab's checks return a verdict
(✓ or ✗ and a sentence) rather than raise, so without this a cell showing ✗ would score full
points. Every kind of check is covered: Check, and its subclasses with their own text (the Docker
diagnosis), those already imported and those imported later. The learner's own notebook never runs
this file: it changes nothing but grading.
"""
import sys

from netlab.checks.base import Check


def _grade_when_shown(cls):
    shown = cls.__dict__.get("__repr__")
    if shown is None or getattr(shown, "graded", False):
        return

    def text(check):
        if not check.ok:
            print("(a check failed: this test cell scores no points)", file=sys.stderr)
        return shown(check)

    text.graded = True
    cls.__repr__ = cls.__str__ = text  # print(check) and a cell's last value both come here


def _everywhere(cls):
    _grade_when_shown(cls)
    for sub in cls.__subclasses__():
        _everywhere(sub)


_everywhere(Check)
Check.__init_subclass__ = classmethod(lambda cls, **kwargs: _grade_when_shown(cls))

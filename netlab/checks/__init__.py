"""Checks that say ✓ or ✗ in one sentence: :class:`~.base.Check`, the answer checkers of the
calculators' exercises (:mod:`.answers`)."""

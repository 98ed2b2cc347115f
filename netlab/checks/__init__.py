"""Checks that say ✓ or ✗ in one sentence (:class:`~.base.Check`): the answer checkers of the
calculators' exercises (:mod:`.answers`) and the lab checks that read the kernel, in one vocabulary,
``check_<thing>(world, node, *, ...)``: links, routes, neighbours, FDB, gateways, paths and walks
(:mod:`.network`), a Docker host (:mod:`.docker`), flannel (:mod:`.flannel`)."""

"""The lab engine: a topology declared as data (:mod:`.topology`), built on a real kernel as a
:class:`~.world.World` (:mod:`.world`) whose agent (:mod:`._agent`, stdlib only) runs as PID 1 of
the world, in namespaces on this kernel or inside a User-mode Linux kernel (:mod:`.uml`,
:mod:`.uml_init`, :mod:`.uml_guard`), or replayed from a recording (:mod:`.replay`); captures
(:mod:`.capture`), which of those this machine allows (:mod:`.probe`), the output sanitizer
(:mod:`.sanitize`) and the node shells (:mod:`.shell`).

Stdlib only: the daemons in the nodes and an unprivileged world's system Python import it too.
"""

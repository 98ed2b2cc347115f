"""The lab engine: a topology declared as data (:mod:`.topology`) and its build plan
(:mod:`.build`), built on a real kernel as a :class:`~.world.World` (:mod:`.world`) over one of
interchangeable backends (:mod:`.backend`): live (:mod:`.live`), whose agent (:mod:`._agent`,
stdlib only, reached through :mod:`.connection`) runs as PID 1 of the world in namespaces on this
kernel or inside a User-mode Linux kernel (:mod:`.uml`, :mod:`.uml_init`, :mod:`.uml_guard`), or
replayed from a recording (:mod:`.replay`; the format in :mod:`.recording`, kept honest by
:mod:`.verify`). Commands (:mod:`.command`) and what they return or raise (:mod:`.result`),
captures (:mod:`.capture`), which backends this machine allows (:mod:`.probe`), the output
sanitizer (:mod:`.sanitize`) and the node shells (:mod:`.shell`).

Stdlib only: the daemons in the nodes and an unprivileged world's system Python import it too.
"""

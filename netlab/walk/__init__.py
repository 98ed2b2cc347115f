"""The packet walk: one packet followed hop by hop through a world, with the kernel's reason for every move.

:mod:`.trace` is the entry (``netlab.trace``, ``World.trace``); it runs the steps below, one module each:

- :mod:`.observe`: capture on every interface, send the packet, recognise it (request, reply, ICMP error);
  :mod:`.links` holds the interfaces as the kernels report them, :mod:`.counters` the iptables counters.
- :mod:`.order`: the sightings in causal order, cable by cable, each with its direction (the hops).
- :mod:`.decide`: each hop's decisions, read from the kernel by :mod:`.reads`, kept as data
  (:mod:`.decisions`: a route, a neighbour, an FDB entry, an iptables rule, a TUN reader, ...).
- :mod:`.fate`: delivered, or where and why it stopped, computed from that data.

:mod:`.model` holds the result (:class:`Walk`, :class:`Hop`), :mod:`.headers` the packet's dissection,
:mod:`.summary` its short table, :mod:`.draw` its pictures on the topology that :mod:`.scene` draws
(``netlab.draw_topology``; :mod:`.figure` makes every picture the same PNG bytes on every run), and
:mod:`.widgets` the explorer.
"""

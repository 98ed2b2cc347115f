"""How fast does Calico's mesh converge here? Prints figures; run as root: python benchmarks/bench_calico.py

For N = 2, 3 and 5 nodes on one LAN (netlab.calico_nodes, a pod each, wired as Calico's CNI plugin
wires them): the seconds from the first ``bird`` started to every BGP session Established and every
other node's block installed (``proto bird``) on every node, with the lab timers of chapter 7
(``connect delay time 1``, ``hold time 9``; Calico's ``scan time 2`` for the kernel table). Then the
seconds until a stopped node's block is gone from every other node (its BIRD sends a NOTIFICATION,
Cease). Five runs each; median and range. Figures, not assertions: they vary with the machine.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import netlab  # noqa: E402
from netlab import calico  # noqa: E402


def one_run(n: int) -> tuple[float, float]:
    t = calico.calico_nodes(n)
    with netlab.World(t, name=f"bench_calico_{n}", mode="live", record=False, leave_out=calico.pod_cables(t)) as w:
        mesh = calico.mesh(n)
        calico.plumb_pods(w, n)
        up = calico.start_mesh(w, mesh)
        t0 = time.monotonic()
        calico.stop_bird(w, mesh[-1])
        for node in mesh[:-1]:
            calico.wait_routes(w, node.name, [mesh[-1].block], present=False)
        return up, time.monotonic() - t0


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("run as root: the benchmark builds root-mode worlds")
    calico.require_bird()
    print(f"{'nodes':>5} {'start to all routes (s)':>26} {'withdrawn everywhere (s)':>26}")
    for n in (2, 3, 5):
        ups, downs = zip(*(one_run(n) for _ in range(5)))
        print(f"{n:>5} {statistics.median(ups):>12.2f} ({min(ups):.2f}-{max(ups):.2f})"
              f" {statistics.median(downs):>12.3f} ({min(downs):.3f}-{max(downs):.3f})")
    print("benchmark: time from BIRD start to all routes installed on three nodes is the row nodes=3")


if __name__ == "__main__":
    main()

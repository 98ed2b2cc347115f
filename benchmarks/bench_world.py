"""How fast are lab worlds? Prints a table; run as root: python benchmarks/bench_world.py

Measures: world start-to-ready (unshare + agent + private /run); build and tear-down of the
seed's two-node Flannel VXLAN topology (two nodes, each a bridge and two containers, VTEPs,
neighbour + FDB entries, routes); scaling to 10/50/100 nodes (each a bridge and one container,
a ring of routes so each container reaches the next, one sampled ping per pair checked);
and the naive one-process-per-command build beside the batched one; one run() round trip.

Then the same in User-mode Linux worlds (netlab.engine.uml; where the kernel is installed), as a machine
that forbids namespaces runs them: start-to-ready (a kernel boot each), the VXLAN topology build,
one run() round trip, and every lab notebook end to end (nbclient, a fresh kernel each, outputs
not compared: tests/test_world_uml.py does that). ``--uml`` measures the UML part alone. Run it as
root or not: UML needs no privileges.
"""

from __future__ import annotations

import glob
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from netlab.engine.probe import probe  # noqa: E402
from netlab.topologies import flannel_vxlan  # noqa: E402
from netlab.engine.topology import End, Topology  # noqa: E402
from netlab.engine.world import World  # noqa: E402

TARGETS = {"ready": 0.050, "vxlan": 0.300, "100 nodes": 10.0, "teardown": 0.100,
           "uml ready": 2.5, "uml vxlan": 1.5, "uml round trip": 0.040, "uml lab": 90.0}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def scaled(n: int) -> Topology:
    """n hosts on one LAN switch; host i: bridge cni0 172.16.i.1/24 and container c<i> (.2)."""
    t = Topology(f"scale{n}")
    t.add_node("lan")
    t.add_bridge("lan", "br0")
    for i in range(1, n + 1):
        h, c = f"h{i}", f"c{i}"
        t.add_node(h, sysctls={"net.ipv4.ip_forward": 1})
        t.add_node(c)
        t.add_link(End(h, "eth0", f"10.255.{i // 256}.{i % 256}/16"), End("lan", f"p{i}", master="br0"))
        t.add_bridge(h, "cni0", address=f"172.16.{i}.1/24")
        t.add_link(End(c, "eth0", f"172.16.{i}.2/24"), End(h, "veth0", master="cni0"))
        t.add_route(c, "default", via=f"172.16.{i}.1")
    for i in range(1, n + 1):
        for j in {i % n + 1, (i - 2) % n + 1} - {i}:
            t.add_route(f"h{i}", f"172.16.{j}.0/24", via=f"10.255.{j // 256}.{j % 256}")
    return t


def build_and_close(topo, batched=True, check=None):
    t0 = time.perf_counter()
    w = World(topo, mode="live", batched=batched)
    built = time.perf_counter() - t0
    if check:
        check(w)
    t1 = time.perf_counter()
    w.close()
    return built, time.perf_counter() - t1


def ring_check(n):
    def check(w):
        for i in sorted({1, n // 2, n}):
            j = i % n + 1
            w.run(f"c{i}", f"ping -c 1 -W 2 172.16.{j}.2")
    return check


def round_trip(world, node: str, n: int = 20) -> float:
    """Median time of ``run(node, "true")``: one request to the agent, one process, one answer."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        world.run(node, "true")
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def uml_rows(labs: list[str]) -> list:
    """The User-mode Linux figures: NETLAB_MODE=uml for this part, so the probe picks UML."""
    from netlab.engine import uml
    why = uml.check()
    if why is not None:
        return [(f"UML: not measured ({why})", None, None)]
    os.environ["NETLAB_MODE"] = "uml"
    try:
        rows, ready, builds, trips = [], [], [], []
        vx = flannel_vxlan(containers_per_node=2)
        for _ in range(3):
            t0 = time.perf_counter()
            w = World(vx, build=False)
            ready.append(time.perf_counter() - t0)
            t1 = time.perf_counter()
            w.build()
            builds.append(time.perf_counter() - t1)
            w.run("container-1-1", "ping -c 1 -W 1 10.1.16.2")
            trips.append(round_trip(w, "node1"))
            w.close()
        rows.append(("UML world start-to-ready (kernel boot; median of 3)", statistics.median(ready), TARGETS["uml ready"]))
        rows.append(("UML VXLAN topology build, batched (median of 3)", statistics.median(builds), TARGETS["uml vxlan"]))
        rows.append(("UML run() round trip, `true` in a node (median)", statistics.median(trips), TARGETS["uml round trip"]))
        for path in labs:
            rows.append((f"UML {os.path.relpath(path, ROOT)} end to end", run_notebook(path), TARGETS["uml lab"]))
        return rows
    finally:
        del os.environ["NETLAB_MODE"]


def run_notebook(path: str) -> float:
    """Seconds to execute a notebook in a fresh kernel (which inherits NETLAB_MODE); fails on an error."""
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.read(path, as_version=4)
    t0 = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": os.path.dirname(path)}}).execute()
    return time.perf_counter() - t0


def main():
    p = probe()
    labs = sorted(glob.glob(os.path.join(ROOT, "labs", "lab*.ipynb")))
    if p.mode in ("none", "uml") or "--uml" in sys.argv:
        rows = uml_rows(labs)
        print(f"mode: {p}; kernel {os.uname().release}; {os.cpu_count()} CPUs")
        return report(rows)
    rows = []
    empty = Topology("empty")
    ready, first, closes = [], [], []
    for _ in range(10):
        t0 = time.perf_counter()
        w = World(empty, mode="live", build=False)
        ready.append(time.perf_counter() - t0)
        w.run(None, "true")
        first.append(time.perf_counter() - t0)
        t1 = time.perf_counter()
        w.close()
        closes.append(time.perf_counter() - t1)
    rows.append(("world start-to-ready (median of 10)", statistics.median(ready), TARGETS["ready"]))
    rows.append(("world start to first command answered", statistics.median(first), None))
    rows.append(("empty world tear-down", statistics.median(closes), TARGETS["teardown"]))

    vx = flannel_vxlan(containers_per_node=2)
    vx_check = lambda w: w.run("container-1-1", "ping -c 1 -W 1 10.1.16.2")  # noqa: E731
    builds, closes = zip(*[build_and_close(vx) for _ in range(5)])
    build_and_close(vx, check=vx_check)
    rows.append(("VXLAN topology build, batched (median of 5)", statistics.median(builds), TARGETS["vxlan"]))
    rows.append(("VXLAN topology tear-down (median of 5)", statistics.median(closes), TARGETS["teardown"]))
    nb = [build_and_close(vx, batched=False)[0] for _ in range(3)]
    rows.append(("VXLAN topology build, naive 1 process/command", statistics.median(nb), None))

    with World(vx, mode="live") as w:
        rows.append(("run() round trip, `true` in a node (median of 20)", round_trip(w, "node1"), None))

    for n in (10, 50, 100):
        topo = scaled(n)
        built, closed = build_and_close(topo, check=ring_check(n))
        rows.append((f"{n} nodes ({len(topo.nodes)} netns) build, 3 pings checked", built,
                     TARGETS["100 nodes"] if n == 100 else None))
        rows.append((f"{n} nodes tear-down", closed, TARGETS["teardown"] if n == 100 else None))
        if n in (10, 50):
            rows.append((f"{n} nodes build, naive 1 process/command", build_and_close(topo, batched=False)[0], None))

    rows += uml_rows(labs)
    print(f"mode: {p}; kernel {os.uname().release}; {os.cpu_count()} CPUs")
    report(rows)


def report(rows) -> None:
    print(f"{'measure':<56} {'seconds':>9} {'target':>8}  ")
    for name, value, target in rows:
        if value is None:
            print(name)
            continue
        verdict = "" if target is None else ("ok" if value <= target else "MISSED")
        print(f"{name:<56} {value:>9.3f} {'' if target is None else f'{target:.3f}':>8}  {verdict}")


if __name__ == "__main__":
    main()

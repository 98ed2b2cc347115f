"""Measure container-to-container data paths with iperf3 inside worlds: flannel UDP and its rivals.

Four paths between a process in one network namespace and one in another, each built fresh:

- ``veth``: two namespaces joined by one veth pair (the ceiling);
- ``host-gw``: the flannel_udp topology routed by netlab's flanneld with the host-gw backend
  (chapter 7: ``100.96.2.0/24 via 10.168.0.3 dev eth0`` on node1 and back), no encapsulation;
- ``vxlan``: :func:`netlab.flannel_vxlan`, the kernel's VXLAN device programmed as flanneld does;
- ``udp``: :func:`netlab.flannel_udp` with netlab's Python flanneld on both nodes.

Figures differ from run to run, so these worlds are not recorded command by command, and the book
measures once per build: chapter 5's :func:`measure_all` runs all four paths, and under
``make record`` (NETLAB_RECORD=1) saves the figures to ``netlab/recordings/perf.measured``. Both
chapters print the figures from that one file (:func:`saved`, :func:`report`), so chapter 6 shows the
same numbers as chapter 5 without measuring again. A new measurement replaces the saved one only
when the kernel differs or the facts that hold on any machine (:func:`verdict`) changed, so a second
``make record`` leaves git quiet. Where namespaces cannot be created, :func:`measure_all` returns the
saved figures after a banner saying when and where they were measured.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform
import re
import time
from dataclasses import dataclass

from ..topologies import flannel_udp, flannel_vxlan
from ..engine.topology import End, Topology
from ..engine.probe import probe
from ..engine.recording import recordings_dir
from ..engine.result import ReplayError
from ..engine.world import World
from .lab import NETWORK_CONFIG, put_config, start_flanneld, start_store, wait_for_entries, wait_for_peers

PATHS = ("veth", "host-gw", "vxlan", "udp")
LABELS = {"veth": "plain veth pair", "host-gw": "host-gw routing", "vxlan": "kernel VXLAN (flannel.1)",
          "udp": "flannel UDP (netlab's Python flanneld)"}


@dataclass
class Result:
    path: str
    gbits: float
    rtt_ms: float
    retransmits: int


def _veth() -> Topology:
    t = Topology("perf_veth")
    t.add_node("container-1")
    t.add_node("container-2")
    t.add_link(End("container-1", "eth0", "100.96.1.2/24"), End("container-2", "eth0", "100.96.1.3/24"))
    return t


def _iperf(w: World, src: str, dst: str, ip: str, seconds: float) -> Result:
    w.start(dst, "iperf3 -s -1", name=f"iperf3-{dst}")
    for _ in range(100):
        if ":5201" in w.run(dst, "ss -ltn").stdout:
            break
        time.sleep(0.02)
    out = w.run(src, f"iperf3 -c {ip} -t {seconds:g} -J", timeout=seconds + 30).stdout
    w.stop(f"iperf3-{dst}")
    data = json.loads(out)["end"]
    ping = w.run(src, f"ping -q -c 50 -i 0.01 {ip}").stdout
    rtt = float(re.search(r"= [0-9.]+/([0-9.]+)/", ping).group(1))
    return Result("", data["sum_received"]["bits_per_second"] / 1e9, rtt, data["sum_sent"].get("retransmits", 0))


def measure(path: str, seconds: float = 3) -> Result:
    """One path's iperf3 throughput (Gbit/s, one TCP stream) and mean ping RTT (ms)."""
    if path == "veth":
        with World(_veth(), name="perf_veth", mode="live", record=False) as w:
            r = _iperf(w, "container-1", "container-2", "100.96.1.3", seconds)
    elif path == "host-gw":
        with World(flannel_udp(), name="perf_hostgw", mode="live", record=False) as w:
            store = start_store(w)
            put_config(w, store, config=dict(NETWORK_CONFIG, Backend={"Type": "host-gw"}))
            for i in (1, 2):
                start_flanneld(w, f"node{i}", store, backend="host-gw", subnet=f"100.96.{i}.0/24")
            wait_for_entries(w, "node1", ["100.96.2.0/24"], dev="eth0")
            wait_for_entries(w, "node2", ["100.96.1.0/24"], dev="eth0")
            r = _iperf(w, "container-1", "container-2", "100.96.2.3", seconds)
    elif path == "vxlan":
        with World(flannel_vxlan(), name="perf_vxlan", mode="live", record=False) as w:
            r = _iperf(w, "container-1", "container-2", "10.1.16.2", seconds)
    elif path == "udp":
        with World(flannel_udp(container_mtu=1472), name="perf_udp", mode="live", record=False) as w:
            store = start_store(w)
            put_config(w, store)
            for node in ("node1", "node2"):
                start_flanneld(w, node, store)
            wait_for_peers(w, ["node1", "node2"])
            r = _iperf(w, "container-1", "container-2", "100.96.2.3", seconds)
    else:
        raise ValueError(f"unknown path {path!r}; choose from {', '.join(PATHS)}")
    r.path = path
    return r


SAVED = "perf.measured"


def _committed() -> str:
    """The figures the book prints: the package's own recordings, whatever NETLAB_RECORDINGS says."""
    return os.path.join(os.path.dirname(os.path.dirname(__file__)), "recordings", SAVED)


def _load(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def saved(paths=PATHS, path: str | None = None) -> list[Result]:
    """The figures measured by the last ``make record`` (one set for the whole book), for PATHS."""
    path = path or _committed()
    try:
        data = _load(path)
    except FileNotFoundError:
        raise ReplayError(f"no measurement was saved at {path}; run `make record` on a machine that can"
                          f" build worlds") from None
    by = {r["path"]: Result(**r) for r in data["results"]}
    return [by[p] for p in paths]


def measured_on(path: str | None = None) -> str:
    """Where and when the saved figures were measured, one line."""
    data = _load(path or _committed())
    return f"measured by `make record` on Linux {data['kernel']} at {data['date']} (netlab/recordings/{SAVED})"


def report(paths=PATHS) -> str:
    """The saved figures as a table, under the line saying where and when they were measured."""
    return measured_on() + "\n" + table(saved(paths))


def save(results: list[Result], path: str | None = None) -> bool:
    """Save RESULTS unless the saved figures are from this kernel and say the same (:func:`verdict`).

    Returns whether the file was written. Keeping an equivalent measurement keeps a second
    ``make record`` quiet in git, as an unchanged world recording keeps its file.
    """
    path = path or os.path.join(recordings_dir(), SAVED)
    try:
        old = _load(path)
        if old["kernel"] == platform.release() and \
                verdict([Result(**r) for r in old["results"]]) == verdict(results) and \
                [r["path"] for r in old["results"]] == [r.path for r in results]:
            return False
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        pass
    with open(path, "w") as f:
        json.dump({"kernel": platform.release(),
                   "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                   "results": [dataclasses.asdict(r) for r in results]}, f, indent=1)
        f.write("\n")
    return True


def measure_all(seconds: float = 3, paths=PATHS) -> list[Result]:
    """Measure PATHS live (under NETLAB_RECORD=1, :func:`save` them); without namespaces, the saved figures."""
    paths = tuple(paths)
    if probe().mode == "none":
        path = os.path.join(recordings_dir(), SAVED)
        results = saved(paths, path)
        data = _load(path)
        print(f"RECORDED on {data['kernel']} at {data['date']}: this machine cannot create network namespaces;"
              f" these figures were measured on a live kernel by `make record`")
        return results
    results = [measure(p, seconds) for p in paths]
    if os.environ.get("NETLAB_RECORD") == "1" and paths == PATHS:
        save(results)
    return results


def table(results: list[Result]) -> str:
    """A text table: throughput, RTT, and ratios to host-gw and to the plain veth."""
    by = {r.path: r for r in results}
    lines = [f"{'path':40} {'Gbit/s':>8} {'RTT ms':>8} {'vs host-gw':>11}" + (f" {'vs veth':>8}" if "veth" in by else "")]
    for r in results:
        hg = f"{r.gbits / by['host-gw'].gbits:10.0%}" if "host-gw" in by else ""
        ve = f" {r.gbits / by['veth'].gbits:7.0%}" if "veth" in by else ""
        lines.append(f"{LABELS[r.path]:40} {r.gbits:8.2f} {r.rtt_ms:8.3f} {hg:>11}{ve:>9}".rstrip())
    if "udp" in by and "vxlan" in by:
        lines.append(f"flannel UDP moves {1 - by['udp'].gbits / by['vxlan'].gbits:.0%} less than kernel VXLAN"
                     f" here (kubernetes PR #17877 measured about 40% less with flannel's C daemon)")
    return "\n".join(lines)


def verdict(results: list[Result]) -> str:
    """The facts about RESULTS that hold on any machine (the figures themselves vary run to run)."""
    by = {r.path: r for r in results}
    slowest = min(results, key=lambda r: r.gbits)
    lines = [f"slowest path: {LABELS[slowest.path]}"]
    if "udp" in by:
        kernel = [r for r in results if r.path != "udp"]
        below = all(by["udp"].gbits < 0.5 * r.gbits for r in kernel)
        lines.append(f"netlab's Python flanneld moves less than half of every in-kernel path: {below}")
        lines.append(f"its round trip is longer than every in-kernel path's: "
                     f"{all(by['udp'].rtt_ms > r.rtt_ms for r in kernel)}")
    return "\n".join(lines)

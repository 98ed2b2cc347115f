"""Run the store and the daemons inside a world: what a chapter or a lab cell calls.

::

    with netlab.World(netlab.flannel_udp()) as w:
        store = flannel.start_store(w)                 # etcd in node "lan" (or the embedded store)
        flannel.put_config(w, store)                   # /coreos.com/network/config
        flannel.start_flanneld(w, "node1", store)      # python3 -m netlab.flannel udp ... in node1
        flannel.start_flanneld(w, "node2", store)
        flannel.etcdctl(w, "node1", store, "ls", "--sort", "/coreos.com/network/subnets")

Every process runs inside the world's namespaces with this Python (``sys.executable -m
netlab.flannel``) and dies with the world.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass

from .store import CONFIG_KEY

NETWORK_CONFIG = {"Network": "100.96.0.0/16", "SubnetLen": 24, "Backend": {"Type": "udp", "Port": 8285}}


@dataclass(frozen=True)
class StoreInfo:
    """Which store runs, where: kind is "etcd" (the real server) or "embedded" (netlab's stand-in)."""

    kind: str
    node: str
    url: str
    version: str

    def __str__(self) -> str:
        if self.kind == "etcd":
            return (f"etcd {self.version} in node {self.node}, client URL {self.url}, serving the v2 keys API"
                    f" (--enable-v2) that flannel's etcd registry and the seed's etcdctl ls/get use")
        return (f"etcd is not installed here: netlab's embedded store in node {self.node}, client URL {self.url},"
                f" serving the same v2 keys API subset (keys, values, prevExist, TTL, long-poll watches)")

    __repr__ = __str__


def etcd_version() -> str | None:
    """The installed etcd's version (``etcd --version``), or None when the binary is missing."""
    if shutil.which("etcd") is None:
        return None
    out = subprocess.run(["etcd", "--version"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("etcd Version:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def _py(*args) -> list[str]:
    return [sys.executable, "-m", "netlab.flannel", *args]


def start_store(world, node: str = "lan", address: str = "10.168.0.1", port: int = 2379,
                embedded: bool | None = None) -> StoreInfo:
    """Start etcd (v2 API on) in NODE, or the embedded store when etcd is missing or ``embedded=True``."""
    url = f"http://{address}:{port}"
    version = etcd_version()
    if embedded or (embedded is None and version is None):
        world.start(node, _py("store", "--listen", address, "--port", str(port)), name=f"store-{node}")
        info = StoreInfo("embedded", node, url, "netlab")
    else:
        world.start(node, ["etcd", "--name", "etcd0", "--data-dir", f"/run/etcd-{node}", "--enable-v2",
                           "--listen-client-urls", f"{url},http://127.0.0.1:{port}",
                           "--advertise-client-urls", url,
                           "--listen-peer-urls", "http://127.0.0.1:2380",
                           "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
                           "--initial-cluster", "etcd0=http://127.0.0.1:2380"], name=f"etcd-{node}")
        info = StoreInfo("etcd", node, url, version)
    world.run(node, _py("wait", "--etcd", url, "--timeout", "20"))
    return info


def etcdctl(world, node: str, store: StoreInfo, *args: str, check: bool = True):
    """etcdctl's v2 commands (``ETCDCTL_API=2``) run in NODE against the store; the embedded store's
    stand-in (``python3 -m netlab.flannel etcdctl``) when etcd is not installed."""
    if store.kind == "etcd":
        return world.run(node, ["env", "ETCDCTL_API=2", "etcdctl", "--endpoints", store.url, *args], check=check)
    args = [a for a in args if a != "--sort"]  # the stand-in always sorts
    return world.run(node, _py("etcdctl", "--endpoints", store.url, *args), check=check)


def put_config(world, store: StoreInfo, node: str = "node1", config: dict | None = None):
    """Write flannel's network config, as its docs say: ``etcdctl set /coreos.com/network/config '{...}'``."""
    return etcdctl(world, node, store, "set", CONFIG_KEY, json.dumps(config or NETWORK_CONFIG))


def log_path(node: str) -> str:
    return f"/run/flannel/{node}.log"


def flanneld_log(world, node: str):
    """The daemon's log in NODE (``cat /run/flannel/NODE.log``)."""
    return world.run(node, f"cat {log_path(node)}")


def wait_for_log(world, node: str, text: str, timeout: float = 10) -> None:
    """Wait until NODE's flanneld log contains TEXT; raise with the log if it stops with an error."""
    deadline = time.monotonic() + timeout
    while True:
        log = world.run(node, ["cat", log_path(node)], check=False).stdout
        if text in log:
            return
        if "flanneld: error:" in log or time.monotonic() > deadline:
            raise RuntimeError(f"flanneld in {node} did not log {text!r}; its log:\n{log or '(empty)'}")
        time.sleep(0.05)


def start_flanneld(world, node: str, store: StoreInfo, iface: str = "eth0", subnet: str | None = None,
                   mtu: int | None = None, wait: bool = True) -> str:
    """Start ``python3 -m netlab.flannel udp`` in NODE; wait until flannel0 is up. Returns its name."""
    world.run(node, ["mkdir", "-p", "/run/flannel"])
    args = ["udp", "--etcd", store.url, "--iface", iface, "--log", log_path(node)]
    if subnet:
        args += ["--subnet", subnet]
    if mtu:
        args += ["--mtu", str(mtu)]
    name = world.start(node, _py(*args), name=f"flanneld-{node}")
    if wait:
        wait_for_log(world, node, "flanneld: ready:")
    return name


def wait_for_peers(world, nodes: list[str], timeout: float = 10) -> None:
    """Wait until every daemon in NODES forwards to every other node's lease."""
    for node in nodes:
        for other in nodes:
            if other != node:
                ip = world.run(other, ["cat", log_path(other)]).stdout.split("using interface ", 1)[1].split()[3]
                wait_for_log(world, node, f"-> {ip}: forwarding", timeout)

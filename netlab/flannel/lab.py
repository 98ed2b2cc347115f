"""Run the store and the daemons inside a world: what a chapter or a lab cell calls.

::

    with netlab.World(netlab.flannel_udp()) as w:
        store = flannel.start_store(w)                 # etcd in node "lan" (or the embedded store)
        flannel.put_config(w, store)                   # /coreos.com/network/config
        flannel.start_flanneld(w, "node1", store)      # python3 -m netlab.flannel udp ... in node1
        flannel.start_flanneld(w, "node2", store)
        flannel.etcdctl(w, "node1", store, "ls", "--sort", "/coreos.com/network/subnets")

Chapter 6 runs the VXLAN backend the same way: ``put_config(w, store, config=VXLAN_NETWORK_CONFIG)``,
``start_flanneld(w, "node1", store, backend="vxlan")``, then :func:`wait_for_entries`.

Every process runs inside the world's namespaces as ``python3 -m netlab.flannel`` (the notebook's
own interpreter: it leads the world's PATH) and dies with the world.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
import time
from dataclasses import dataclass

from .store import CONFIG_KEY, SUBNETS, key_subnet, subnet_key

NETWORK_CONFIG = {"Network": "100.96.0.0/16", "SubnetLen": 24, "Backend": {"Type": "udp", "Port": 8285}}
VXLAN_NETWORK_CONFIG = {"Network": "10.1.0.0/16", "SubnetLen": 24, "Backend": {"Type": "vxlan", "VNI": 1}}
#: The seed's Node 2 VTEP MAC; Node 1's is fixed next to it so that every page shows the same bytes.
SEED_VTEP_MAC = "5e:f8:4f:00:e3:37"
NODE1_VTEP_MAC = "5e:f8:4f:00:e3:36"


@dataclass(frozen=True)
class StoreInfo:
    """Which store runs, where: kind is "etcd" (the real server) or "embedded" (netlab's stand-in)."""

    kind: str
    node: str
    url: str
    version: str

    def text(self) -> str:
        if self.kind == "etcd":
            return (f"etcd {self.version} in node {self.node}, client URL {self.url}, serving the v2 keys API"
                    f" (--enable-v2) that flannel's etcd registry and the seed's etcdctl ls/get use")
        return (f"etcd is not installed here: netlab's embedded store in node {self.node}, client URL {self.url},"
                f" serving the same v2 keys API subset (keys, values, prevExist, TTL, long-poll watches)")

    __str__ = __repr__ = text  # the notebook shows it as the cell's value: repr, not an object address


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
    return ["python3", "-m", "netlab.flannel", *args]


def start_store(world, node: str = "lan", address: str = "10.168.0.1", port: int = 2379,
                embedded: bool | None = None, timeout: float = 20) -> StoreInfo:
    """Start etcd (v2 API on) in NODE, or the embedded store when etcd is missing or ``embedded=True``.

    If it does not answer within TIMEOUT seconds it is stopped, and the error quotes what it printed.
    """
    url = f"http://{address}:{port}"
    version = etcd_version()
    if embedded or (embedded is None and version is None):
        name = world.start(node, _py("store", "--listen", address, "--port", str(port)), name=f"store-{node}")
        info = StoreInfo("embedded", node, url, "netlab")
    else:
        name = world.start(node, ["etcd", "--name", "etcd0", "--data-dir", f"/run/etcd-{node}", "--enable-v2",
                           "--listen-client-urls", f"{url},http://127.0.0.1:{port}",
                           "--advertise-client-urls", url,
                           "--listen-peer-urls", "http://127.0.0.1:2380",
                           "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
                           "--initial-cluster", "etcd0=http://127.0.0.1:2380"], name=f"etcd-{node}")
        info = StoreInfo("etcd", node, url, version)
    waited = world.run(node, _py("wait", "--etcd", url, "--timeout", f"{timeout:g}"), check=False)
    if not waited.ok:
        said = world.stop(name)
        last = "\n".join(("    " + l) for l in (said.stderr + said.stdout).strip().splitlines()[-6:])
        raise RuntimeError(f"{info.kind} in {node} never came up: {(waited.stdout + waited.stderr).strip()};"
                           f" it was stopped, and the last lines it printed were:\n{last or '    (nothing)'}")
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


class NotYet(str):
    """What a cell shows instead of an error when it runs before what it reads exists: one sentence."""

    def __repr__(self) -> str:
        return str(self)


def flanneld_log(world, node: str):
    """The daemon's log in NODE (``cat /run/flannel/NODE.log``); a sentence saying to start flanneld
    first when NODE has no log yet (a lab's cell run before the daemon's, with no traceback)."""
    log = world.run(node, f"cat {log_path(node)}", check=False)
    return log if log.ok else NotYet(f"{node} has no {log_path(node)} yet: start flanneld in {node} first")


def wait_for_log(world, node: str, text: str, timeout: float = 10, after: int = 0) -> None:
    """Wait until NODE's flanneld log contains TEXT past offset AFTER; raise with the log on an error."""
    deadline = time.monotonic() + timeout
    while True:
        log = world.run(node, ["cat", log_path(node)], check=False).stdout[after:]
        if text in log:
            return
        if "flanneld: error:" in log or time.monotonic() > deadline:
            raise RuntimeError(f"flanneld in {node} did not log {text!r}; its log:\n{log or '(empty)'}")
        time.sleep(0.05)


def start_flanneld(world, node: str, store: StoreInfo, iface: str = "eth0", subnet: str | None = None,
                   mtu: int | None = None, wait: bool = True, backend: str = "udp", **options) -> str:
    """Start ``python3 -m netlab.flannel BACKEND`` in NODE; wait until its device is up. Returns its name.

    OPTIONS are the backend's own flags. UDP: ``tun_standin`` "veth" forces the veth stand-in for
    flannel0, "no" forbids it (by default the daemon uses TUN and falls back to the stand-in only
    where /dev/net/tun cannot be opened); ``tun_prefix32=True`` gives flannel0 a /32 address, as
    flannel does since v0.11 (default: the overlay's prefix, as the seed). VXLAN: ``vtep_mac``
    (flannel.1's MAC) and ``vni`` (overriding the config's).
    """
    world.run(node, ["mkdir", "-p", "/run/flannel"])
    offset = len(world.run(node, ["sh", "-c", f"cat {log_path(node)} 2>/dev/null || true"]).stdout)
    args = [backend, "--etcd", store.url, "--iface", iface, "--log", log_path(node)]
    for opt, val in (("subnet", subnet), ("mtu", mtu), *options.items()):
        if val is None or val is False or val == "":
            continue
        args += [f"--{opt.replace('_', '-')}"] + ([] if val is True else [str(val)])
    name = world.start(node, _py(*args), name=f"flanneld-{node}")
    if wait:
        wait_for_log(world, node, "flanneld: ready:", after=offset)
    return name


def flannel0_device(world, node: str) -> str:
    """Which flannel0 ran in NODE, and why, as one sentence read from the kernel and the daemon's log."""
    link = json.loads(world.run(node, ["ip", "-j", "-d", "link", "show", "dev", "flannel0"]).stdout)[0]
    kind = link.get("linkinfo", {}).get("info_kind")
    log = world.run(node, ["cat", log_path(node)]).stdout
    if kind == "tun":
        # In User-mode Linux the world runs as that kernel's real root, not a user namespace's.
        who = ("this world runs as real root" if world.mode in ("root", "uml") else
               "this kernel lets the user namespace's root open it")
        return (f"flannel0 in {node} is a TUN device: the daemon opened /dev/net/tun ({who})"
                f" and reads and writes bare IP packets on its file descriptor")
    why = [l for l in log.splitlines() if "using the stand-in" in l]
    reason = why[-1].split("flanneld: ", 1)[1].split(": using the stand-in")[0] if why else "unknown"
    return (f"flannel0 in {node} is the veth stand-in ({kind}): {reason}; the daemon reads and writes raw IP on"
            f" flannel0-raw through an AF_PACKET socket, and the kernel's side (address, route, MTU) is the same")


def wait_for_peers(world, nodes: list[str], timeout: float = 10) -> None:
    """Wait until every daemon in NODES forwards to every other node's lease (a node whose flanneld
    has not started, with no log, is left out: a lab's cell run early waits for the others)."""
    logs = {n: world.run(n, ["cat", log_path(n)], check=False) for n in nodes}
    started = [n for n in nodes if logs[n].ok and "using interface " in logs[n].stdout]
    for node in started:
        for other in started:
            if other != node:
                ip = logs[other].stdout.split("using interface ", 1)[1].split()[3]
                wait_for_log(world, node, f"-> {ip}: forwarding", timeout)


def counters(world, node: str) -> dict:
    """The daemon's crossing counters: ``kill -USR1`` makes it log them; the last such line is parsed."""
    before = world.run(node, ["cat", log_path(node)]).stdout.count("counters:")
    world.run(node, ["sh", "-c", f"kill -USR1 $(cat /run/flannel/{node}.pid)"])
    deadline = time.monotonic() + 5
    while True:
        log = world.run(node, ["cat", log_path(node)]).stdout
        if log.count("counters:") > before or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    line = [l for l in log.splitlines() if "counters:" in l][-1]
    return {k: int(v) for k, v in (f.split("=") for f in line.split("counters:", 1)[1].split())}


def counters_delta(before: dict, after: dict) -> str:
    """One line per counter that moved: how many more calls happened between two readings."""
    return "\n".join(f"{k:15} +{after[k] - before[k]}" for k in after if after[k] != before[k])


def wait_for_entries(world, node: str, subnets, present: bool = True, timeout: float = 10,
                     dev: str = "flannel.1") -> None:
    """Wait until NODE's routes to every one of SUBNETS on DEV exist (or, present=False, are gone)."""
    want = {str(ipaddress.IPv4Network(s)) for s in subnets}
    deadline = time.monotonic() + timeout
    while True:
        out = world.run(node, ["ip", "-j", "route", "show", "dev", dev], check=False).stdout or "[]"
        have = {r["dst"] for r in json.loads(out)}
        if (want <= have) if present else not (want & have):
            return
        if time.monotonic() > deadline:
            log = world.run(node, ["sh", "-c", f"cat {log_path(node)} 2>/dev/null || true"]).stdout
            raise RuntimeError(f"{node}: routes {sorted(want)} on {dev} did not {'appear' if present else 'go'}"
                               f" within {timeout:g} s; flanneld's log:\n{log or '(empty)'}")
        time.sleep(0.05)


def remove_lease(world, store: StoreInfo, subnet: str, node: str = "lan"):
    """Delete a node's lease from the store, as when it leaves: ``etcdctl rm KEY`` (v2)."""
    key = subnet_key(ipaddress.IPv4Network(subnet))
    if store.kind == "etcd":
        return world.run(node, ["env", "ETCDCTL_API=2", "etcdctl", "--endpoints", store.url, "rm", key])
    code = f"from netlab.flannel.store import EtcdV2Client; EtcdV2Client({store.url!r}).delete({key!r})"
    return world.run(node, ["python3", "-c", code])


def vtep_tables(world, node: str, dev: str = "flannel.1") -> str:
    """NODE's three tables for DEV, as the commands print them: neighbours, FDB, routes."""
    parts = []
    for cmd in (f"ip neigh show dev {dev}", f"bridge fdb show dev {dev}", f"ip route show dev {dev}"):
        out = world.run(node, cmd, check=False)
        parts.append(f"$ {cmd}\n{out.stdout.rstrip() or '(none)'}")
    return "\n".join(parts)


def tx_dropped(world, node: str, dev: str = "flannel.1") -> int:
    """DEV's transmit-drop counter in NODE (``ip -j -s link``): where a VTEP counts frames it cannot send."""
    return json.loads(world.run(node, ["ip", "-j", "-s", "link", "show", dev]).stdout)[0]["stats64"]["tx"]["dropped"]


def rx_dropped(world, node: str, dev: str) -> int:
    """DEV's receive-drop counter in NODE (a veth drops frames larger than its MTU here)."""
    return json.loads(world.run(node, ["ip", "-j", "-s", "link", "show", dev]).stdout)[0]["stats64"]["rx"]["dropped"]


# ------------------------------------------------------------------ reading the store (its lab check: netlab.checks.flannel)
def leases(world, store: StoreInfo, node: str = "node1") -> dict[str, dict]:
    """{subnet: lease value as a dict} read with etcdctl's ``ls`` and ``get`` in NODE, sorted by subnet."""
    listing = etcdctl(world, node, store, "ls", "--sort", SUBNETS, check=False)
    out = {}
    for key in listing.stdout.split():
        got = etcdctl(world, node, store, "get", key, check=False)
        try:
            out[key_subnet(key)] = json.loads(got.stdout)
        except ValueError:
            out[key_subnet(key)] = {"PublicIP": None, "error": (got.stderr or got.stdout).strip()}
    return out

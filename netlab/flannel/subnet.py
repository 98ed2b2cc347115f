"""What every flanneld backend shares: the network config, the subnet lease, subnet.env and the daemon's life.

flannel splits itself the same way: ``pkg/subnet`` (config, leases, the etcd registry) and
``main.go`` (start, renew, watch, stop) are the same whichever backend moves the packets; a backend
(``pkg/backend/udp``, ``vxlan``, ``hostgw``) only sets up its device and programs what one remote
lease needs. :class:`Daemon` is that skeleton; :class:`.udp.Flanneld` and :class:`.vxlan.VxlanFlanneld`
fill in its hooks, and a host-gw backend needs little more than :meth:`Daemon.add_peer` (``ip route
replace SUBNET via PUBLIC_IP``) and :meth:`Daemon.remove_peer`.

Stdlib only: the daemon runs on a node's system Python.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import select
import shlex
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

from .store import CONFIG_KEY, SUBNETS, StoreError, key_subnet, subnet_key

LEASE_TTL = 24 * 3600  # flannel's lease lifetime (Documentation/reservations.md)
MASQ_CHAIN = "FLANNEL-POSTRTG"  # flannel-io/flannel pkg/trafficmngr/iptables/iptables.go
MASQ_COMMENT = "flanneld masq"
KUBE_PROXY_MARK = "0x4000/0x4000"  # pkg/trafficmngr/trafficmngr.go KubeProxyMark: kube-proxy's masquerade bit


class FlannelError(RuntimeError):
    """The daemon cannot start: no config, no free subnet, no device; the message says which."""


# ------------------------------------------------------------------- the network config
@dataclass(frozen=True)
class Config:
    """flannel's network config (``/coreos.com/network/config``), with its defaults filled in.

    PORT is ``Backend.Port`` as written, 0 when absent: each backend has its own default (UDP 8285,
    VXLAN the kernel's 8472). VNI is ``Backend.VNI`` (VXLAN only; default 1).
    """

    network: ipaddress.IPv4Network
    subnet_len: int = 24
    subnet_min: ipaddress.IPv4Network | None = None
    subnet_max: ipaddress.IPv4Network | None = None
    backend: str = "udp"
    port: int = 0
    vni: int = 1
    direct_routing: bool = False  # VXLAN's Backend.DirectRouting (chapter 7)

    @classmethod
    def parse(cls, text: str | None) -> "Config":
        if text is None:
            raise FlannelError(f"no network config at {CONFIG_KEY}: write it first (etcdctl set {CONFIG_KEY} ...)")
        try:
            raw = json.loads(text)
            network = ipaddress.IPv4Network(raw["Network"])
        except (ValueError, KeyError, TypeError) as e:
            raise FlannelError(f"bad network config {text!r}: {e}") from None
        n = int(raw.get("SubnetLen", 24))
        backend = raw.get("Backend") or {}
        subnets = list(network.subnets(new_prefix=n)) if n > network.prefixlen else [network]
        # flannel's defaults: SubnetMin is the second subnet (the first is left out), SubnetMax the last.
        lo = ipaddress.IPv4Network(f"{raw['SubnetMin']}/{n}") if raw.get("SubnetMin") else subnets[min(1, len(subnets) - 1)]
        hi = ipaddress.IPv4Network(f"{raw['SubnetMax']}/{n}") if raw.get("SubnetMax") else subnets[-1]
        return cls(network, n, lo, hi, backend.get("Type", "udp"), int(backend.get("Port", 0)),
                   int(backend.get("VNI", 1)), bool(backend.get("DirectRouting", False)))

    def candidates(self):
        """The leasable subnets, lowest first."""
        for s in self.network.subnets(new_prefix=self.subnet_len):
            if self.subnet_min.network_address <= s.network_address <= self.subnet_max.network_address:
                yield s


# ------------------------------------------------------------------- the lease
def lease_value(public_ip: str, backend: str = "udp", data: dict | None = None) -> str:
    """The JSON a lease holds, field for field as flannel writes it; DATA is the backend's BackendData
    (the UDP backend has none; VXLAN's is ``{"VNI": 1, "VtepMAC": "..."}``)."""
    return json.dumps({"PublicIP": public_ip, "PublicIPv6": None, "BackendType": backend, "BackendData": data},
                      separators=(",", ":"))


def acquire_lease(store, config: Config, public_ip: str, value: str | None = None, preferred: str | None = None,
                  log=lambda msg: None) -> ipaddress.IPv4Network:
    """Lease a subnet holding VALUE (default: a UDP lease for PUBLIC_IP): ours again after a restart
    (its value and TTL renewed), else the preferred or lowest free one, created atomically
    (``prevExist=false``) so two nodes can never take the same one."""
    value = value or lease_value(public_ip, config.backend)
    for _ in range(100):
        leases, _ = store.items(SUBNETS)
        ours = _lease_of(leases, public_ip)
        if ours is not None:
            store.set(ours, value, ttl=LEASE_TTL)
            subnet = ipaddress.IPv4Network(key_subnet(ours))
            log(f"found our lease {subnet} in the store (a restart): reusing it")
            return subnet
        taken = {ipaddress.IPv4Network(key_subnet(k)) for k in leases}
        wanted = ([ipaddress.IPv4Network(preferred)] if preferred else []) + list(config.candidates())
        for subnet in wanted:
            if subnet in taken or not subnet.subnet_of(config.network):
                continue
            if store.create(subnet_key(subnet), value, ttl=LEASE_TTL):
                log(f"leased {subnet} for {public_ip}: created {subnet_key(subnet)}")
                return subnet
            log(f"{subnet} was taken by another node just now; trying again")
            break  # someone else won the race: list again
        else:
            raise FlannelError(f"no free subnet left in {config.network} (SubnetLen {config.subnet_len})")
    raise FlannelError("could not lease a subnet after 100 attempts")


def _lease_of(leases: dict[str, str], public_ip: str) -> str | None:
    """The key of the first lease carrying PUBLIC_IP, or None."""
    for key, value in leases.items():
        try:
            if json.loads(value).get("PublicIP") == public_ip:
                return key
        except ValueError:
            continue
    return None


def routes_from_leases(leases: dict[str, str], own: ipaddress.IPv4Network | None) -> dict:
    """{subnet: PublicIP} for every lease but our own."""
    table = {}
    for key, value in leases.items():
        try:
            subnet = ipaddress.IPv4Network(key_subnet(key))
            ip = json.loads(value)["PublicIP"]
        except (ValueError, KeyError, TypeError):
            continue
        if subnet != own:
            table[subnet] = ip
    return table


# ------------------------------------------------------------------- --ip-masq
def masq_rules(network, lease, random_fully: bool = True) -> list[tuple[str, list[str]]]:
    """The nat rules ``flanneld --ip-masq`` installs, as (chain, rulespec) in flannel's order.

    flannel-io/flannel ``pkg/trafficmngr/iptables/iptables.go`` ``masqRules`` (NETWORK is the cluster
    CIDR, LEASE this node's subnet), each with the comment "flanneld masq":

    1. POSTROUTING jumps to FLANNEL-POSTRTG (appended: after kube-proxy's own inserted jump);
    2. RETURN for packets kube-proxy marked (0x4000/0x4000): kube-proxy masquerades those itself;
    3. RETURN for this node's pods to the pod network, and 4. the pod network to this node's pods:
       pod-to-pod traffic keeps its addresses (Kubernetes' network model, no NAT between pods);
    5. RETURN for traffic from outside the pod network to this node's pods (a node owning the
       pod's address must not hide the outside client);
    6. MASQUERADE from the pod network to anything but multicast 224.0.0.0/4: pods going out;
    7. MASQUERADE from outside the pod network to the pod network: the node itself reaching pods.

    RANDOM_FULLY adds ``--random-fully`` (flannel: when iptables supports it and
    ``--ip-masq-fully-random-disable`` is not given).
    """
    net, sub = str(ipaddress.IPv4Network(network)), str(ipaddress.IPv4Network(lease))
    tag = ["-m", "comment", "--comment", MASQ_COMMENT]
    masq = ["-j", "MASQUERADE"] + (["--random-fully"] if random_fully else [])
    return [("POSTROUTING", tag + ["-j", MASQ_CHAIN]),
            (MASQ_CHAIN, ["-m", "mark", "--mark", KUBE_PROXY_MARK] + tag + ["-j", "RETURN"]),
            (MASQ_CHAIN, ["-s", sub, "-d", net] + tag + ["-j", "RETURN"]),
            (MASQ_CHAIN, ["-s", net, "-d", sub] + tag + ["-j", "RETURN"]),
            (MASQ_CHAIN, ["!", "-s", net, "-d", sub] + tag + ["-j", "RETURN"]),
            (MASQ_CHAIN, ["-s", net, "!", "-d", "224.0.0.0/4"] + tag + masq),
            (MASQ_CHAIN, ["!", "-s", net, "-d", net] + tag + masq)]


def iptables_has_random_fully(version_text: str) -> bool:
    """Whether ``iptables --version`` says 1.6.2 or later, the test go-iptables' ``HasRandomFully`` makes."""
    m = re.search(r"v(\d+)\.(\d+)\.(\d+)", version_text)
    return bool(m) and tuple(int(x) for x in m.groups()) >= (1, 6, 2)


def iface_info(iface: str) -> tuple[str, int]:
    """(first IPv4 address, MTU) of IFACE, from ``ip -j addr show``."""
    out = subprocess.run(["ip", "-j", "addr", "show", "dev", iface], capture_output=True, text=True)
    if out.returncode != 0:
        raise FlannelError(f"no interface {iface!r}: {out.stderr.strip()}")
    data = json.loads(out.stdout)[0]
    addrs = [a["local"] for a in data.get("addr_info", []) if a.get("family") == "inet"]
    if not addrs:
        raise FlannelError(f"interface {iface} has no IPv4 address")
    return addrs[0], int(data["mtu"])


# ------------------------------------------------------------------- the daemon's skeleton
class Daemon:
    """One node's flanneld, whatever the backend: start, lease, watch the other leases, stop.

    ``run()`` blocks until SIGTERM/SIGINT. A backend sets BACKEND, DEFAULT_PORT and OVERHEAD (what its
    encapsulation takes from the external MTU) and fills in the hooks, called in this order:
    :meth:`config_text`, :meth:`prepare` (before the lease: VXLAN's lease carries its device's MAC),
    :meth:`backend_data`, :meth:`configure` (after it), then :meth:`peers_from` and
    :meth:`add_peer` / :meth:`remove_peer` for each other node's lease as it comes and goes,
    :meth:`serve` (the daemon's own work until a signal), :meth:`device_text` and :meth:`what_stays`.
    """

    BACKEND = "udp"
    DEFAULT_PORT = 0
    OVERHEAD = 0

    def __init__(self, store, iface: str = "eth0", public_ip: str | None = None, subnet: str | None = None,
                 mtu: int | None = None, log_path: str | None = None):
        self.store, self.iface, self.public_ip, self.subnet = store, iface, public_ip, subnet
        self.mtu, self.log_path = mtu, log_path
        self.peers: dict = {}
        self.stopping = False
        self.ip_masq = False  # flanneld --ip-masq: its own nat rules, and FLANNEL_IPMASQ=true

    def log(self, msg: str) -> None:
        line = f"flanneld: {msg}\n"
        os.write(2, line.encode())
        if self.log_path:
            with open(self.log_path, "a") as f:
                f.write(line)

    def sh(self, cmd: str, check: bool = True) -> bool:
        """Run CMD, logged as ``$ CMD``; a failure raises (CHECK) or is logged in brackets."""
        self.log(f"$ {cmd}")
        res = subprocess.run(cmd.split(), capture_output=True, text=True)
        if res.returncode:
            if check:
                raise FlannelError(f"`{cmd}` failed: {res.stderr.strip()}")
            self.log(f"  ({res.stderr.strip()})")
        return res.returncode == 0

    # -- start up
    def start(self) -> None:
        ext_ip, ext_mtu = iface_info(self.iface)
        self.public_ip = self.public_ip or ext_ip
        self.log(f"using interface {self.iface} with address {self.public_ip} (MTU {ext_mtu})")
        self.config = Config.parse(self.store.get(CONFIG_KEY))
        if self.config.backend != self.BACKEND:
            raise FlannelError(f"the network config asks for backend {self.config.backend!r}, not {self.BACKEND!r}")
        self.port = self.config.port or self.DEFAULT_PORT
        self.mtu = self.mtu or ext_mtu - self.OVERHEAD
        self.log(f"network config: {self.config.network}, /{self.config.subnet_len} per node, {self.config_text()}")
        self.prepare()
        self.lease = acquire_lease(self.store, self.config, self.public_ip,
                                   lease_value(self.public_ip, self.BACKEND, self.backend_data()), self.subnet,
                                   self.log)
        self.configure()
        if self.ip_masq:
            self.setup_masq()
        leases, self.index = self.store.items(SUBNETS)
        self.set_peers(self.peers_from(leases))
        self.write_subnet_env()

    def write_subnet_env(self) -> None:
        """What flanneld hands to Docker (``/run/flannel/subnet.env``), one file per node in a world."""
        directory = "/run/flannel"
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, f"subnet-{self.public_ip}.env"), "w") as f:
            f.write(f"FLANNEL_NETWORK={self.config.network}\nFLANNEL_SUBNET={self.lease.network_address + 1}"
                    f"/{self.lease.prefixlen}\nFLANNEL_MTU={self.mtu}\nFLANNEL_IPMASQ={str(self.ip_masq).lower()}\n")

    def setup_masq(self) -> None:
        """Install :func:`masq_rules` in the node's nat table as flannel's ``ipTablesBootstrap`` does:
        the chain created when missing, each rule already there deleted, then all appended in order
        (flannel feeds the same list to ``iptables-restore --noflush``: the order matters).

        flannel also checks them every ``--iptables-resync`` seconds (5) and rebuilds them all when one
        is missing (``ensureIPTables``), and leaves them in place when it stops; netlab's daemon installs
        them once, and leaves them too."""
        version = subprocess.run(["iptables", "--version"], capture_output=True, text=True).stdout
        rules = masq_rules(self.config.network, self.lease, iptables_has_random_fully(version))
        if subprocess.run(["iptables", "-t", "nat", "-S", MASQ_CHAIN], capture_output=True).returncode:
            self.iptables(["-N", MASQ_CHAIN])
        for chain, spec in rules:
            if subprocess.run(["iptables", "-t", "nat", "-C", chain, *spec], capture_output=True).returncode == 0:
                self.iptables(["-D", chain, *spec])
        for chain, spec in rules:
            self.iptables(["-A", chain, *spec])

    def iptables(self, args: list[str]) -> None:
        """``iptables -t nat ARGS``, logged; a failure stops the daemon with iptables' own words."""
        cmd = ["iptables", "-t", "nat", *args]
        self.log(f"$ {shlex.join(cmd)}")
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode:
            raise FlannelError(f"`{shlex.join(cmd)}` failed: {res.stderr.strip()}")

    # -- the other nodes' leases
    def set_peers(self, table: dict) -> None:
        """Install TABLE ({subnet: entry}): entries gone are removed, then new or changed ones added.

        One assignment replaces the table, so a thread reading ``self.peers`` sees old or new, never half.
        """
        old, self.peers = self.peers, table
        for subnet in sorted(set(old) - set(table)):
            self.remove_peer(subnet, old[subnet])
        for subnet in sorted(table):
            if old.get(subnet) != table[subnet]:
                if subnet in old:
                    self.remove_peer(subnet, old[subnet])
                self.add_peer(subnet, table[subnet])

    def watch(self) -> None:
        """Keep the table of the other nodes' leases current, until ``self.stopping``.

        Long-polls the store's subnets from ``self.index`` (etcd v2 ``?wait=true&waitIndex=``), and lists
        them all again when etcd answers that the index is too old (401).
        """
        while not self.stopping:
            try:
                events = self.store.watch(SUBNETS, self.index, timeout=5)
            except StoreError as e:
                if e.code == 401:
                    leases, self.index = self.store.items(SUBNETS)
                    self.set_peers(self.peers_from(leases))
                elif not self.stopping:
                    self.log(f"watch failed ({e}); retrying")
                    time.sleep(1)
                continue
            for ev in events:
                self.index = max(self.index, ev.index)
                self.apply_event(ev)

    def apply_event(self, ev) -> None:
        """One change to another node's lease: its entry replaced, or gone when the lease is."""
        subnet = ipaddress.IPv4Network(key_subnet(ev.key))
        if subnet == self.lease:
            return
        table = dict(self.peers)
        table.pop(subnet, None)
        if ev.action not in ("delete", "expire"):
            table.update(self.peers_from({ev.key: ev.value}))
        self.set_peers(table)

    # -- life
    def run(self) -> None:
        self.stopping = False
        self.wake_r, wake_w = os.pipe()  # a byte here wakes serve()'s select when a signal comes

        def stop(signum, frame):
            self.stopping = True
            os.write(wake_w, b"x")
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.start()
        self.started()
        threading.Thread(target=self.watch, daemon=True).start()
        self.log(f"ready: {self.device_text()}, lease {self.lease}")
        self.serve()
        self.shutdown()

    def serve(self) -> None:
        """Wait for SIGTERM/SIGINT: the kernel does the backend's work (VXLAN, host-gw)."""
        while not self.stopping:
            select.select([self.wake_r], [], [])

    def shutdown(self) -> None:
        self.log(f"stopping: {self.what_stays()}; the lease {self.lease} stays in the store until its TTL runs out")

    # -- the backend's hooks
    def config_text(self) -> str:
        """The end of the log's "network config" line: the backend and its settings."""
        return f"backend {self.BACKEND}"

    def prepare(self) -> None:
        """What must exist before the lease is taken."""

    def backend_data(self) -> dict | None:
        """The lease's BackendData."""
        return None

    def configure(self) -> None:
        """Set up the node's side once the lease is known."""

    def started(self) -> None:
        """After start, before the watch begins and "ready" is logged."""

    def peers_from(self, leases: dict[str, str]) -> dict:
        """{subnet: entry} for every other node's lease this backend can use."""
        return routes_from_leases(leases, self.lease)

    def add_peer(self, subnet, entry) -> None:
        """Program what reaching SUBNET needs (ENTRY from :meth:`peers_from`)."""

    def remove_peer(self, subnet, entry) -> None:
        """Undo :meth:`add_peer`."""

    def device_text(self) -> str:
        """The device, address and MTU, for the "ready" line."""
        return f"mtu {self.mtu}"

    def what_stays(self) -> str:
        """What the node keeps when the daemon stops, for the "stopping" line."""
        return "the kernel's entries stay"

"""flanneld's VXLAN backend, rebuilt small: the kernel encapsulates, the daemon only programs it.

What it does, in the order flannel's ``pkg/backend/vxlan`` does it:

1. read the network config at ``/coreos.com/network/config`` (``Backend.VNI``, default 1;
   ``Backend.Port``, default 0 = the kernel's default, 8472);
2. create the VTEP ``flannel.<VNI>`` (``ip link add flannel.1 type vxlan id 1 local PUBLIC_IP dev
   IFACE nolearning dstport 8472``), MTU = IFACE's MTU - 50; the device exists before the lease
   because the lease carries its MAC;
3. lease a subnet with ``BackendType`` "vxlan" and ``BackendData`` ``{"VNI":1,"VtepMAC":"..."}``
   (lowest free /24, or the one asked for with ``--subnet``), and give ``flannel.1`` the subnet's
   ``.0`` address as a /32 (no connected route: every remote subnet gets its own route);
4. for every other node's lease, in flannel's order (``vxlan_network.go``, ``handleSubnetEvents``):

   a. the permanent neighbour entry ``REMOTE.0 lladdr REMOTE_VTEP_MAC`` (the inner frame's
      destination MAC);
   b. the FDB entry ``REMOTE_VTEP_MAC dst REMOTE_PUBLIC_IP self permanent`` (the outer IP
      destination);
   c. last, the route ``REMOTE_SUBNET via REMOTE.0 dev flannel.1 onlink``: "the kernel would ARP
      for the Gw IP address if it hadn't already been set above so make sure this is done last";

   and when a lease goes, the same three are removed (neighbour, FDB, route);
5. nothing else: no packet ever passes through this process. ``nolearning`` means the kernel
   neither learns remote MACs from received frames nor floods; what is not programmed is dropped.

Run: ``python3 -m netlab.flannel vxlan --etcd http://10.168.0.1:2379 --iface eth0 [--subnet
10.1.16.0/24] [--vtep-mac 5e:f8:4f:00:e3:37]``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field

from .store import CONFIG_KEY, SUBNETS, follow_leases, key_subnet, subnet_key
from .udp import LEASE_TTL, FlannelError, iface_info

KERNEL_DEFAULT_PORT = 8472  # drivers/net/vxlan: IANA's 4789 came later; Linux kept 8472
IANA_PORT = 4789
#: 14 (inner Ethernet) + 8 (VXLAN) + 8 (UDP) + 20 (outer IPv4): what flannel subtracts from the MTU.
VXLAN_OVERHEAD = 50
DEFAULT_VNI = 1
NETWORK_CONFIG = {"Network": "10.1.0.0/16", "SubnetLen": 24, "Backend": {"Type": "vxlan", "VNI": 1}}
#: The seed's Node 2 VTEP MAC; Node 1's is fixed next to it so that every page shows the same bytes.
SEED_VTEP_MAC = "5e:f8:4f:00:e3:37"
NODE1_VTEP_MAC = "5e:f8:4f:00:e3:36"


def device_name(vni: int) -> str:
    """flannel names the VTEP after its VNI: ``flannel.1``."""
    return f"flannel.{vni}"


def lease_value(public_ip: str, vni: int, vtep_mac: str) -> str:
    """The lease JSON the VXLAN backend writes, field for field as flannel does."""
    return json.dumps({"PublicIP": public_ip, "PublicIPv6": None, "BackendType": "vxlan",
                       "BackendData": {"VNI": vni, "VtepMAC": vtep_mac}}, separators=(",", ":"))


@dataclass(frozen=True)
class Peer:
    """What a remote lease tells this node: its subnet, its node IP and its VTEP's MAC."""

    subnet: ipaddress.IPv4Network
    public_ip: str
    vtep_mac: str
    vni: int

    @property
    def gateway(self) -> str:
        """The remote VTEP's address: the subnet's ``.0``."""
        return str(self.subnet.network_address)


def parse_peer(key: str, value: str | None) -> Peer | None:
    """A Peer from one lease, or None when it is not a usable VXLAN lease (UDP, no MAC, bad JSON)."""
    try:
        raw = json.loads(value or "")
        data = raw.get("BackendData") or {}
        if raw.get("BackendType") != "vxlan" or not data.get("VtepMAC"):
            return None
        return Peer(ipaddress.IPv4Network(key_subnet(key)), raw["PublicIP"], data["VtepMAC"].lower(),
                    int(data.get("VNI", DEFAULT_VNI)))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def peers_from_leases(leases: dict[str, str], own) -> dict:
    """{subnet: Peer} for every VXLAN lease but our own."""
    out = {}
    for key, value in leases.items():
        peer = parse_peer(key, value)
        if peer is not None and peer.subnet != own:
            out[peer.subnet] = peer
    return out


def add_commands(peer: Peer, dev: str = "flannel.1") -> list[str]:
    """The three entries for one remote node, in flannel's order: neighbour, FDB, then the route."""
    return [f"ip neigh replace {peer.gateway} lladdr {peer.vtep_mac} dev {dev} nud permanent",
            f"bridge fdb replace {peer.vtep_mac} dev {dev} dst {peer.public_ip} self permanent",
            f"ip route replace {peer.subnet} via {peer.gateway} dev {dev} onlink"]


def del_commands(peer: Peer, dev: str = "flannel.1") -> list[str]:
    """What flannel removes when a lease goes, in its order: neighbour, FDB, route."""
    return [f"ip neigh del {peer.gateway} dev {dev}",
            f"bridge fdb del {peer.vtep_mac} dev {dev} dst {peer.public_ip} self",
            f"ip route del {peer.subnet} via {peer.gateway} dev {dev} onlink"]


def parse_config(text: str | None) -> dict:
    """Network, SubnetLen, VNI and port from flannel's config; FlannelError when it is not VXLAN."""
    if text is None:
        raise FlannelError(f"no network config at {CONFIG_KEY}: write it first (etcdctl set {CONFIG_KEY} ...)")
    try:
        raw = json.loads(text)
        network = ipaddress.IPv4Network(raw["Network"])
    except (ValueError, KeyError, TypeError) as e:
        raise FlannelError(f"bad network config {text!r}: {e}") from None
    backend = raw.get("Backend") or {}
    if backend.get("Type", "udp") != "vxlan":
        raise FlannelError(f"the network config asks for backend {backend.get('Type', 'udp')!r}, not 'vxlan'")
    n = int(raw.get("SubnetLen", 24))
    subnets = list(network.subnets(new_prefix=n))
    lo = ipaddress.IPv4Network(f"{raw['SubnetMin']}/{n}") if raw.get("SubnetMin") else subnets[min(1, len(subnets) - 1)]
    hi = ipaddress.IPv4Network(f"{raw['SubnetMax']}/{n}") if raw.get("SubnetMax") else subnets[-1]
    return {"network": network, "subnet_len": n, "vni": int(backend.get("VNI", DEFAULT_VNI)),
            "port": int(backend.get("Port", 0)), "candidates": [s for s in subnets if lo.network_address
                                                               <= s.network_address <= hi.network_address]}


def acquire(store, config: dict, public_ip: str, value: str, preferred: str | None = None,
            log=lambda msg: None) -> ipaddress.IPv4Network:
    """Lease a subnet holding VALUE: ours again after a restart, else the preferred or lowest free one,
    created atomically (``prevExist=false``)."""
    for _ in range(100):
        leases, _ = store.items(SUBNETS)
        for key, old in leases.items():
            try:
                if json.loads(old).get("PublicIP") == public_ip:
                    subnet = ipaddress.IPv4Network(key_subnet(key))
                    store.set(key, value, ttl=LEASE_TTL)
                    log(f"found our lease {subnet} in the store (a restart): reusing it")
                    return subnet
            except ValueError:
                continue
        taken = {ipaddress.IPv4Network(key_subnet(k)) for k in leases}
        wanted = ([ipaddress.IPv4Network(preferred)] if preferred else []) + config["candidates"]
        for subnet in wanted:
            if subnet in taken or not subnet.subnet_of(config["network"]):
                continue
            if store.create(subnet_key(subnet), value, ttl=LEASE_TTL):
                log(f"leased {subnet} for {public_ip}: created {subnet_key(subnet)}")
                return subnet
            log(f"{subnet} was taken by another node just now; trying again")
            break
        else:
            raise FlannelError(f"no free subnet left in {config['network']}")
    raise FlannelError("could not lease a subnet after 100 attempts")


@dataclass
class VxlanFlanneld:
    """flanneld's VXLAN backend for one node. ``run()`` blocks until SIGTERM/SIGINT."""

    store: object
    iface: str = "eth0"
    public_ip: str | None = None
    subnet: str | None = None
    vtep_mac: str | None = None
    vni: int | None = None
    mtu: int | None = None
    log_path: str | None = None
    peers: dict = field(default_factory=dict)

    def log(self, msg: str) -> None:
        line = f"flanneld: {msg}\n"
        os.write(2, line.encode())
        if self.log_path:
            with open(self.log_path, "a") as f:
                f.write(line)

    def sh(self, cmd: str, check: bool = True) -> bool:
        self.log(f"$ {cmd}")
        res = subprocess.run(cmd.split(), capture_output=True, text=True)
        if res.returncode:
            if check:
                raise FlannelError(f"`{cmd}` failed: {res.stderr.strip()}")
            self.log(f"  ({res.stderr.strip()})")
        return res.returncode == 0

    def create_vtep(self, ext_mtu: int) -> None:
        """flannel.1: VNI, local address, the external device, no learning, the kernel's default port."""
        exists = subprocess.run(["ip", "link", "show", self.dev], capture_output=True).returncode == 0
        if exists:  # flannel reuses a compatible device; ours is recreated so its settings are known
            self.sh(f"ip link del {self.dev}")
        port = f" dstport {self.port}" if self.port else f" dstport {KERNEL_DEFAULT_PORT}"
        mac = f" address {self.vtep_mac}" if self.vtep_mac else ""
        self.sh(f"ip link add {self.dev}{mac} type vxlan id {self.vni} local {self.public_ip}"
                f" dev {self.iface} nolearning{port}")
        self.sh(f"ip link set dev {self.dev} mtu {self.mtu}")
        out = subprocess.run(["ip", "-j", "link", "show", self.dev], capture_output=True, text=True).stdout
        self.vtep_mac = json.loads(out)[0]["address"]

    def start(self) -> None:
        ext_ip, ext_mtu = iface_info(self.iface)
        self.public_ip = self.public_ip or ext_ip
        self.log(f"using interface {self.iface} with address {self.public_ip} (MTU {ext_mtu})")
        self.config = parse_config(self.store.get(CONFIG_KEY))
        self.vni = self.vni if self.vni is not None else self.config["vni"]
        self.port = self.config["port"] or KERNEL_DEFAULT_PORT
        self.dev = device_name(self.vni)
        self.mtu = self.mtu or ext_mtu - VXLAN_OVERHEAD
        self.log(f"network config: {self.config['network']}, /{self.config['subnet_len']} per node,"
                 f" backend vxlan, VNI {self.vni}, UDP port {self.port}")
        self.create_vtep(ext_mtu)
        self.lease = acquire(self.store, self.config, self.public_ip,
                             lease_value(self.public_ip, self.vni, self.vtep_mac), self.subnet, self.log)
        self.sh(f"ip addr add {self.lease.network_address}/32 dev {self.dev}")
        self.sh(f"ip link set dev {self.dev} up")
        leases, self.index = self.store.items(SUBNETS)
        self.set_peers(peers_from_leases(leases, self.lease))
        self.write_subnet_env()

    def write_subnet_env(self) -> None:
        os.makedirs("/run/flannel", exist_ok=True)
        with open(f"/run/flannel/subnet-{self.public_ip}.env", "w") as f:
            f.write(f"FLANNEL_NETWORK={self.config['network']}\nFLANNEL_SUBNET={self.lease.network_address + 1}"
                    f"/{self.lease.prefixlen}\nFLANNEL_MTU={self.mtu}\nFLANNEL_IPMASQ=false\n")

    def add_peer(self, peer: Peer) -> None:
        self.log(f"lease {peer.subnet} -> {peer.public_ip}, VtepMAC {peer.vtep_mac}: programming flannel.{self.vni}")
        cmds = add_commands(peer, self.dev)
        self.sh(cmds[0])
        if not self.sh(cmds[1], check=False):
            self.sh(del_commands(peer, self.dev)[0], check=False)  # as flannel: undo the neighbour entry
            return
        self.sh(cmds[2])
        self.log(f"{peer.subnet} reachable via {peer.gateway} on {self.dev}, sent to {peer.public_ip}")

    def remove_peer(self, peer: Peer) -> None:
        self.log(f"lease {peer.subnet} gone: removing its entries")
        for cmd in del_commands(peer, self.dev):
            self.sh(cmd, check=False)

    def set_peers(self, table: dict) -> None:
        old, self.peers = self.peers, table
        for subnet in sorted(set(old) - set(table)):
            self.remove_peer(old[subnet])
        for subnet in sorted(table):
            if old.get(subnet) != table[subnet]:
                if subnet in old:
                    self.remove_peer(old[subnet])
                self.add_peer(table[subnet])

    @property
    def table(self) -> dict:
        return self.peers

    def watch(self) -> None:
        """Follow lease changes with the store's long poll (:func:`.store.follow_leases`)."""
        follow_leases(self, lambda leases: peers_from_leases(leases, self.lease), self.set_peers)

    def run(self) -> None:
        self.stopping = False
        done = threading.Event()

        def stop(signum, frame):
            self.stopping = True
            done.set()
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.start()
        threading.Thread(target=self.watch, daemon=True).start()
        self.log(f"ready: {self.dev} {self.lease.network_address}/32 mtu {self.mtu} mac {self.vtep_mac},"
                 f" lease {self.lease}")
        while not done.wait(0.5):
            pass
        self.log(f"stopping: {self.dev} and its entries stay (the kernel keeps forwarding);"
                 f" the lease {self.lease} stays in the store until its TTL runs out")


# ------------------------------------------------------------------- in a world
def start_flanneld(world, node: str, store, iface: str = "eth0", subnet: str | None = None,
                   vtep_mac: str | None = None, vni: int | None = None, mtu: int | None = None,
                   wait: bool = True) -> str:
    """Start ``python3 -m netlab.flannel vxlan`` in NODE; wait until flannel.1 is up. Returns its name."""
    from .lab import _py, log_path, wait_for_log
    world.run(node, ["mkdir", "-p", "/run/flannel"])
    offset = len(world.run(node, ["sh", "-c", f"cat {log_path(node)} 2>/dev/null || true"]).stdout)
    args = ["vxlan", "--etcd", store.url, "--iface", iface, "--log", log_path(node)]
    for opt, val in (("--subnet", subnet), ("--vtep-mac", vtep_mac), ("--vni", vni), ("--mtu", mtu)):
        if val is not None:
            args += [opt, str(val)]
    name = world.start(node, _py(*args), name=f"flanneld-{node}")
    if wait:
        wait_for_log(world, node, "flanneld: ready:", after=offset)
    return name


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
            log = world.run(node, ["sh", "-c", f"cat /run/flannel/{node}.log 2>/dev/null || true"]).stdout
            raise RuntimeError(f"{node}: routes {sorted(want)} on {dev} did not {'appear' if present else 'go'}"
                               f" within {timeout:g} s; flanneld's log:\n{log or '(empty)'}")
        time.sleep(0.05)


def remove_lease(world, store, subnet: str, node: str = "lan"):
    """Delete a node's lease from the store, as when it leaves: ``etcdctl rm KEY`` (v2)."""
    key = subnet_key(ipaddress.IPv4Network(subnet))
    if store.kind == "etcd":
        return world.run(node, ["env", "ETCDCTL_API=2", "etcdctl", "--endpoints", store.url, "rm", key])
    code = f"from netlab.flannel.store import EtcdV2Client; EtcdV2Client({store.url!r}).delete({key!r})"
    return world.run(node, ["python3", "-c", code])


def tables(world, node: str, dev: str = "flannel.1") -> str:
    """NODE's three tables for DEV, as the commands print them: neighbours, FDB, routes."""
    parts = []
    for cmd in (f"ip neigh show dev {dev}", f"bridge fdb show dev {dev}", f"ip route show dev {dev}"):
        out = world.run(node, cmd, check=False)
        parts.append(f"$ {cmd}\n{out.stdout.rstrip() or '(none)'}")
    return "\n".join(parts)


# ------------------------------------------------------------------- the frame on the wire
def dissect(frame):
    """FRAME with its UDP payload decoded as VXLAN when it is not already: a local bind, for this
    packet only (a global ``bind_layers(UDP, VXLAN, dport=8472)`` would change every dissection)."""
    from scapy.layers.inet import UDP
    from scapy.layers.l2 import Ether
    from scapy.layers.vxlan import VXLAN
    pkt = Ether(bytes(frame))
    udp = pkt.getlayer(UDP)
    if udp is not None and udp.dport in (KERNEL_DEFAULT_PORT, IANA_PORT) and not isinstance(udp.payload, VXLAN):
        udp.remove_payload()
        udp.add_payload(VXLAN(bytes(frame)[len(bytes(pkt)) - len(bytes(udp)) + 8:]))
    return pkt


def build_frame(inner_ip, *, lan_src_mac: str, lan_dst_mac: str, src: str, dst: str, vtep_src_mac: str,
                vtep_dst_mac: str, vni: int = 1, sport: int, ip_id: int, port: int = KERNEL_DEFAULT_PORT,
                forwarded: int = 1):
    """The frame Linux's VXLAN device sends for INNER_IP (as it left the container), built with scapy.

    From the tables: outer MACs (eth0's neighbour), outer IPs (``local`` and the FDB's ``dst``), VNI
    and port (the device), inner MACs (flannel.1's own and the neighbour entry). Chosen by the
    kernel per packet and passed in: SPORT (the flow hash) and IP_ID. The outer UDP checksum is
    computed by scapy (the device has ``udpcsum``); :func:`compare_frames` says how the kernel's compares.
    FORWARDED is how many times the inner TTL was decremented (node1 routing it: 1).
    """
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.layers.vxlan import VXLAN
    inner = IP(bytes(inner_ip))
    inner.ttl -= forwarded
    inner.chksum = None
    return (Ether(src=lan_src_mac, dst=lan_dst_mac) / IP(src=src, dst=dst, id=ip_id, flags=0, ttl=64)
            / UDP(sport=sport, dport=port) / VXLAN(flags="Instance", vni=vni)
            / Ether(src=vtep_src_mac, dst=vtep_dst_mac) / IP(bytes(inner)))


def header_sizes() -> list[tuple[str, int]]:
    """The headers VXLAN adds around an inner IP packet, outer first, with their sizes in bytes."""
    return [("outer Ethernet", 14), ("outer IPv4", 20), ("outer UDP", 8), ("VXLAN", 8), ("inner Ethernet", 14)]


def overhead_text(lan_mtu: int = 1500) -> str:
    """The derivation of flannel.1's MTU from the header sizes."""
    counted = [(n, s) for n, s in header_sizes() if n != "outer Ethernet"]
    total = sum(s for _, s in counted)
    return (" + ".join(f"{n} {s}" for n, s in counted) + f" = {total} bytes inside the LAN's IP MTU;\n"
            f"flannel.1 MTU = {lan_mtu} - {total} = {lan_mtu - total} (the outer Ethernet header, 14 more,"
            f" is not part of any MTU)")


def tx_dropped(world, node: str, dev: str = "flannel.1") -> int:
    """DEV's transmit-drop counter in NODE (``ip -j -s link``): where a VTEP counts frames it cannot send."""
    return json.loads(world.run(node, ["ip", "-j", "-s", "link", "show", dev]).stdout)[0]["stats64"]["tx"]["dropped"]


def rx_dropped(world, node: str, dev: str) -> int:
    """DEV's receive-drop counter in NODE (a veth drops frames larger than its MTU here)."""
    return json.loads(world.run(node, ["ip", "-j", "-s", "link", "show", dev]).stdout)[0]["stats64"]["rx"]["dropped"]


def header_stack_image(frame):
    """:func:`netlab.header_stack` of FRAME as a PNG image for a notebook (fixed metadata: same frame,
    same bytes)."""
    from IPython.display import Image
    from ..walk.draw import header_stack
    from ..walk.draw import figure_png
    return Image(data=figure_png(header_stack(frame)))

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

With ``"DirectRouting": true`` in the config (``vxlan_network.go``, ``handleSubnetEvents``), a peer whose
public IP the kernel reaches without a gateway (``ip route get`` gives one route with no ``via``: the
same subnet) gets host-gw's plain route ``REMOTE_SUBNET via REMOTE_PUBLIC_IP dev IFACE`` instead of
the three VXLAN entries; the others still go through ``flannel.1`` (chapter 7, section 7.2).

Config, lease, subnet.env and the daemon's life are :mod:`.subnet`'s; this module is what VXLAN
adds. Run: ``python3 -m netlab.flannel vxlan --etcd http://10.168.0.1:2379 --iface eth0 [--subnet
10.1.16.0/24] [--vtep-mac 5e:f8:4f:00:e3:37]``.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from dataclasses import dataclass

from ..packets.vxlan import KERNEL_DEFAULT_PORT, VXLAN_OVERHEAD, dissect
from .store import key_subnet
from .subnet import Daemon

DEFAULT_VNI = 1


def device_name(vni: int) -> str:
    """flannel names the VTEP after its VNI: ``flannel.1``."""
    return f"flannel.{vni}"


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


class VxlanFlanneld(Daemon):
    """flanneld's VXLAN backend for one node: it programs the kernel, which moves every packet."""

    BACKEND = "vxlan"
    DEFAULT_PORT = KERNEL_DEFAULT_PORT
    OVERHEAD = VXLAN_OVERHEAD

    def __init__(self, store, iface: str = "eth0", public_ip: str | None = None, subnet: str | None = None,
                 vtep_mac: str | None = None, vni: int | None = None, mtu: int | None = None,
                 log_path: str | None = None):
        super().__init__(store, iface, public_ip, subnet, mtu, log_path)
        self.vtep_mac = vtep_mac
        self.vni_asked = vni  # overrides the config's VNI (the chapter shows a mismatch with it)

    @property
    def vni(self) -> int:
        return self.vni_asked if self.vni_asked is not None else self.config.vni

    @property
    def dev(self) -> str:
        return device_name(self.vni)

    def config_text(self) -> str:
        return f"backend vxlan, VNI {self.vni}, UDP port {self.port}" + (", DirectRouting" if self.config.direct_routing else "")

    def prepare(self) -> None:
        """flannel.1: VNI, local address, the external device, no learning, the kernel's default port.

        Made before the lease, which carries its MAC.
        """
        exists = subprocess.run(["ip", "link", "show", self.dev], capture_output=True).returncode == 0
        if exists:  # flannel reuses a compatible device; ours is recreated so its settings are known
            self.sh(f"ip link del {self.dev}")
        mac = f" address {self.vtep_mac}" if self.vtep_mac else ""
        self.sh(f"ip link add {self.dev}{mac} type vxlan id {self.vni} local {self.public_ip}"
                f" dev {self.iface} nolearning dstport {self.port}")
        self.sh(f"ip link set dev {self.dev} mtu {self.mtu}")
        out = subprocess.run(["ip", "-j", "link", "show", self.dev], capture_output=True, text=True).stdout
        self.vtep_mac = json.loads(out)[0]["address"]

    def backend_data(self) -> dict:
        return {"VNI": self.vni, "VtepMAC": self.vtep_mac}

    def configure(self) -> None:
        self.sh(f"ip addr add {self.lease.network_address}/32 dev {self.dev}")
        self.sh(f"ip link set dev {self.dev} up")

    def peers_from(self, leases: dict[str, str]) -> dict:
        return peers_from_leases(leases, self.lease)

    def direct(self, peer: Peer) -> bool:
        """DirectRouting's test: is PEER's public IP reached without a gateway (one route, no ``via``)?"""
        if not self.config.direct_routing:
            return False
        out = subprocess.run(["ip", "-j", "route", "get", peer.public_ip], capture_output=True, text=True)
        routes = json.loads(out.stdout or "[]") if out.returncode == 0 else []
        return len(routes) == 1 and "gateway" not in routes[0]

    def add_peer(self, subnet, peer: Peer) -> None:
        if self.direct(peer):
            self.log(f"lease {peer.subnet} -> {peer.public_ip}: on our subnet, DirectRouting: a plain route")
            self.sh(f"ip route replace {peer.subnet} via {peer.public_ip} dev {self.iface}")
            return
        self.log(f"lease {peer.subnet} -> {peer.public_ip}, VtepMAC {peer.vtep_mac}: programming flannel.{self.vni}")
        cmds = add_commands(peer, self.dev)
        self.sh(cmds[0])
        if not self.sh(cmds[1], check=False):
            self.sh(del_commands(peer, self.dev)[0], check=False)  # as flannel: undo the neighbour entry
            return
        self.sh(cmds[2])
        self.log(f"{peer.subnet} reachable via {peer.gateway} on {self.dev}, sent to {peer.public_ip}")

    def remove_peer(self, subnet, peer: Peer) -> None:
        if self.direct(peer):
            self.log(f"lease {peer.subnet} gone: removing its direct route")
            self.sh(f"ip route del {peer.subnet} via {peer.public_ip} dev {self.iface}", check=False)
            return
        self.log(f"lease {peer.subnet} gone: removing its entries")
        for cmd in del_commands(peer, self.dev):
            self.sh(cmd, check=False)

    def device_text(self) -> str:
        return f"{self.dev} {self.lease.network_address}/32 mtu {self.mtu} mac {self.vtep_mac}"

    def what_stays(self) -> str:
        return f"{self.dev} and its entries stay (the kernel keeps forwarding)"

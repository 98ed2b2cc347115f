"""The course's small Felix: the routes between nodes that need a tunnel, programmed as Calico's Felix does.

Calico's BIRD programs unencapsulated routes only; with an IP pool in VXLAN mode, Felix programs the
routes to other nodes' blocks itself (``confd/etc/calico/confd/templates/bird_ipam.cfg.template``:
"Don't program VXLAN routes into the kernel - these are handled by Felix"), from the datastore's
blocks and nodes. For each other node (``felix/dataplane/linux/vxlan_mgr.go``, ``felix/config/
config_params.go``):

- the device ``vxlan.calico`` (VNI 4096, UDP port 4789, MTU 1450 on a 1500-byte LAN), whose address
  is the node's VXLAN tunnel address, taken from its block;
- a remote node on the same subnet, in ``CrossSubnet`` mode: a plain route ``<block> via <node IP>
  dev eth0``, as BIRD would install (no encapsulation);
- any other remote node: the permanent neighbour entry ``<its tunnel address> lladdr <its VTEP
  MAC>``, the FDB entry ``<its VTEP MAC> dst <its node IP>``, and ``<block> via <its tunnel address>
  dev vxlan.calico onlink``, the same three entries flannel's VXLAN backend writes (chapter 6).

IPIP (``tunl0``, 20 bytes per packet) needs a kernel built with ``CONFIG_NET_IPIP``;
:func:`ipip_route_command` gives the route Felix or Calico's BIRD writes there (``<block> via <node
IP> dev tunl0 onlink``). The MACs here are fixed so that pages are the same on every run (Felix
picks one per node and stores it in the datastore).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from .names import VXLAN_DEVICE, VXLAN_PORT, VXLAN_VNI

MODES = ("Always", "CrossSubnet")


@dataclass(frozen=True)
class Endpoint:
    """What Felix knows of one node: its name, its IP with prefix, its block, its VXLAN tunnel address and MAC."""

    node: str
    ip: str  # with its prefix: 10.168.0.2/24
    block: str
    vtep_mac: str

    @property
    def address(self) -> str:
        return self.ip.split("/")[0]

    @property
    def tunnel_address(self) -> str:
        """The node's VXLAN tunnel address: the first address of its block, as Calico's IPAM assigns it."""
        return str(ipaddress.IPv4Network(self.block).network_address)

    def same_subnet(self, other: "Endpoint") -> bool:
        return ipaddress.IPv4Address(other.address) in ipaddress.IPv4Interface(self.ip).network


def device_commands(me: Endpoint, mtu: int = 1450) -> list[str]:
    """vxlan.calico on ME: VNI 4096, port 4789, its MAC and tunnel address, up."""
    return [f"ip link add {VXLAN_DEVICE} address {me.vtep_mac} type vxlan id {VXLAN_VNI} local {me.address}"
            f" dev eth0 dstport {VXLAN_PORT} nolearning",
            f"ip link set {VXLAN_DEVICE} mtu {mtu}",
            f"ip addr add {me.tunnel_address}/32 dev {VXLAN_DEVICE}",
            f"ip link set {VXLAN_DEVICE} up"]


def peer_commands(me: Endpoint, peer: Endpoint, mode: str = "CrossSubnet") -> list[str]:
    """What ME programs to reach PEER's block in MODE (Always: always VXLAN; CrossSubnet: VXLAN only
    to a node on another subnet)."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: choose one of {', '.join(MODES)} (Calico's vxlanMode values)")
    if mode == "CrossSubnet" and me.same_subnet(peer):
        return [f"ip route replace {peer.block} via {peer.address} dev eth0"]
    return [f"ip neigh replace {peer.tunnel_address} lladdr {peer.vtep_mac} dev {VXLAN_DEVICE} nud permanent",
            f"bridge fdb replace {peer.vtep_mac} dev {VXLAN_DEVICE} dst {peer.address} self permanent",
            f"ip route replace {peer.block} via {peer.tunnel_address} dev {VXLAN_DEVICE} onlink"]


def ipip_route_command(peer: Endpoint) -> str:
    """The IPIP route to PEER's block (what a calico/node shows with ``proto bird`` in IPIP mode)."""
    return f"ip route replace {peer.block} via {peer.address} dev tunl0 onlink"


def program(world, me: Endpoint, peers: list[Endpoint], mode: str = "CrossSubnet") -> list[str]:
    """Make vxlan.calico on ME's node (once) and program every peer; returns the commands run."""
    ran = []
    if not world.run(me.node, f"ip link show {VXLAN_DEVICE}", check=False).ok:
        ran += device_commands(me)
    for peer in peers:
        if peer.node != me.node:
            ran += peer_commands(me, peer, mode)
    for cmd in ran:
        world.run(me.node, cmd)
    return ran


def endpoints(topology) -> list[Endpoint]:
    """One Endpoint per node of a Calico topology (node<i>: eth0's address, block 10.244.<i>.0/26)."""
    out = []
    for name, node in sorted(topology.nodes.items()):
        if name.startswith("node") and "eth0" in node.interfaces:
            i = int(name[4:])
            out.append(Endpoint(name, node.interfaces["eth0"].addresses[0], f"10.244.{i}.0/26",
                                f"02:ca:11:c0:00:{i:02x}"))
    return out


def ipip_commands(me: Endpoint, peers: list[Endpoint], mode: str = "CrossSubnet") -> list[str]:
    """IPIP's version of :func:`program`'s commands: tunl0 up with ME's tunnel address, then per peer a
    plain route (CrossSubnet, same subnet) or ``<block> via <node IP> dev tunl0 onlink``."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: choose one of {', '.join(MODES)} (Calico's ipipMode values)")
    cmds = [f"ip addr add {me.tunnel_address}/32 dev tunl0", "ip link set tunl0 up"]
    for peer in peers:
        if peer.node == me.node:
            continue
        if mode == "CrossSubnet" and me.same_subnet(peer):
            cmds.append(f"ip route replace {peer.block} via {peer.address} dev eth0")
        else:
            cmds.append(ipip_route_command(peer))
    return cmds


def program_ipip(world, me: Endpoint, peers: list[Endpoint], mode: str = "CrossSubnet") -> list[str]:
    """Run :func:`ipip_commands` in ME's node (its kernel must have IPIP: ``tunl0`` exists); returns them."""
    if not world.run(me.node, "ip link show tunl0", check=False).ok:
        raise RuntimeError(f"{me.node} has no tunl0: this kernel is built without IPIP (CONFIG_NET_IPIP);"
                           f" build the world with netlab.calico.ipip_world, which uses User-mode Linux then")
    cmds = ipip_commands(me, peers, mode)
    for cmd in cmds:
        world.run(me.node, cmd)
    return cmds

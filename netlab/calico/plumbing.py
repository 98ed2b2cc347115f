"""A pod wired as Calico's CNI plugin wires it, command by command (chapter 7, section 7.3).

From projectcalico/calico ``cni-plugin/pkg/dataplane/linux/dataplane_linux.go``:

- a veth pair: ``eth0`` in the pod, ``cali`` + 11 hex characters on the host (:func:`.names.veth_name`),
  the host side with the MAC ``ee:ee:ee:ee:ee:ee``;
- in the pod, the address as a /32 (no subnet, so no neighbour is "on link"), then
  ``169.254.1.1 dev eth0 scope link`` and ``default via 169.254.1.1 dev eth0``: every packet goes
  to a gateway that no interface owns;
- on the host side (``configureSysctls``): ``route_localnet=1``, ``neigh/<if>/proxy_delay=0``,
  ``proxy_arp=1`` ("this makes the host respond to all ARP requests with its own MAC") and
  ``forwarding=1``;
- on the host, ``<pod IP> dev cali... scope link`` (``SetupRoutes``: ``Scope: netlink.SCOPE_LINK``).

The commands are data (:func:`pod_commands`), so the page prints exactly what :func:`plumb_pod` runs.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from .names import HOST_VETH_MAC, POD_GATEWAY, veth_name


@dataclass(frozen=True)
class Pod:
    """One pod: its name and namespace, the node it runs on, its address and its eth0's MAC."""

    name: str
    node: str
    ip: str
    mac: str
    namespace: str = "default"

    @property
    def host_veth(self) -> str:
        return veth_name(self.name, self.namespace)


def pod_commands(pod: Pod) -> list[tuple[str, str]]:
    """[(node, command)] that wire POD, in the CNI plugin's order: the pair, the pod's side, the host's."""
    try:
        ip = ipaddress.IPv4Address(pod.ip)
    except ValueError:
        raise ValueError(f"pod {pod.name}: {pod.ip!r} is not an IPv4 address such as 10.244.1.2") from None
    cali = pod.host_veth
    return [
        (pod.node, f"ip link add {cali} address {HOST_VETH_MAC} type veth peer name eth0 netns {pod.name}"
                   f" address {pod.mac}"),
        (pod.name, f"ip addr add {ip}/32 dev eth0"),
        (pod.name, "ip link set eth0 up"),
        (pod.name, f"ip route add {POD_GATEWAY} dev eth0 scope link"),
        (pod.name, f"ip route add default via {POD_GATEWAY} dev eth0"),
        (pod.node, f"sysctl -qw net.ipv4.conf.{cali}.route_localnet=1"),
        (pod.node, f"sysctl -qw net.ipv4.neigh.{cali}.proxy_delay=0"),
        (pod.node, f"sysctl -qw net.ipv4.conf.{cali}.proxy_arp=1"),
        (pod.node, f"sysctl -qw net.ipv4.conf.{cali}.forwarding=1"),
        (pod.node, f"ip link set {cali} up"),
        (pod.node, f"ip route add {ip} dev {cali} scope link"),
    ]


def commands_text(pod: Pod) -> str:
    """The commands as a reader would type them, each under the node it runs in."""
    lines, last = [], None
    for node, cmd in pod_commands(pod):
        if node != last:
            lines.append(f"# in {node}")
            last = node
        lines.append(cmd)
    return "\n".join(lines)


def plumb_pod(world, pod: Pod) -> None:
    """Run :func:`pod_commands` in WORLD; a pod already wired (its host veth exists) is left as it is."""
    have = world.run(pod.node, f"ip link show {pod.host_veth}", check=False)
    if have.ok:
        return
    for node, cmd in pod_commands(pod):
        world.run(node, cmd)

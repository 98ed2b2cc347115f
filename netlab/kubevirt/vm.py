"""The virt-launcher pod, both ways: bind the pod's network for a VM, serve it DHCP, boot it.

What KubeVirt does when a VMI starts (virt-handler's ``pkg/network/setup/netpod/netpod.go`` for the
devices, ``pkg/network/dhcp`` for the DHCP server virt-launcher runs, ``masquerade.go`` for NAT),
in that order, in the pod's node of a world built from :func:`netlab.kubevirt.pods.pod_network`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..inputs import quote
from . import binding, dhcp, guest as guest_mod
from .names import (MASQUERADE_CIDR, MASQUERADE_GATEWAY, MASQUERADE_GUEST, KubevirtError, bridge_name,
                    fake_bridge_ip)
from .pods import pod_interface

BINDINGS = ("bridge", "masquerade")
DNS = "10.96.0.10"  # the cluster DNS service's address (kube-dns), what the pod's resolv.conf names
HOSTNAME = "testvm"
#: The guest's MAC in the masquerade binding (KubeVirt lets libvirt pick one; fixed here).
MASQUERADE_VM_MAC = "02:00:0a:00:02:02"


@dataclass
class VirtLauncher:
    """A VM on the pod network: the binding's commands, the DHCP server's settings, the guest."""

    world: object
    node: str
    binding: str
    pod_ip: str
    pod_mac: str
    vm_mac: str
    commands: list = field(default_factory=list)
    nat: list = field(default_factory=list)
    nat_backend: str = ""
    dhcp_args: dict = field(default_factory=dict)
    guest: object = None
    boot_seconds: float | None = None  # from starting the guest's kernel to its init reporting the lease

    @property
    def vm_ip(self) -> str:
        return self.pod_ip.split("/")[0] if self.binding == "bridge" else MASQUERADE_GUEST

    def text(self) -> str:
        lines = [f"virt-launcher pod {self.node} ({self.binding} binding): pod {self.pod_ip} {self.pod_mac},"
                 f" VM {self.vm_ip} {self.vm_mac}"]
        lines += ["  $ " + c for c in self.commands]
        if self.nat:
            lines += [f"  {self.nat_backend}:"] + ["    " + r for r in self.nat]
        return "\n".join(lines)

    __str__ = text


def dhcp_settings(binding_name: str, pod_ip: str, vm_mac: str, mtu: int = 1450, routes=None,
                  gateway: str | None = None) -> dict:
    """The DHCP server's settings for a binding, as KubeVirt derives them.

    Bridge: the pod's address, its gateway and routes (ROUTES, as :func:`pod_interface` reads them;
    default: the gateway .1 of the pod's subnet as the default route), the fake bridge address as
    server identifier (``BridgeConfigGenerator``, ``discoverbridge.go``). Masquerade: 10.0.2.2/24 with
    the gateway 10.0.2.1 as router and server (``MasqueradeConfigGenerator``), no routes.
    """
    gw = gateway or pod_ip.split("/")[0].rsplit(".", 1)[0] + ".1"
    if binding_name == "bridge":
        return {"client_mac": vm_mac, "client_ip": pod_ip, "server_ip": fake_bridge_ip(0).split("/")[0],
                "router": gw, "dns": [DNS], "routes": [tuple(r) for r in (routes or [("0.0.0.0/0", gw)])],
                "mtu": mtu, "hostname": HOSTNAME}
    return {"client_mac": vm_mac, "client_ip": f"{MASQUERADE_GUEST}/{MASQUERADE_CIDR.split('/')[1]}",
            "server_ip": MASQUERADE_GATEWAY, "router": MASQUERADE_GATEWAY, "dns": [DNS], "routes": [], "mtu": mtu,
            "hostname": HOSTNAME}


def _check_binding(name) -> str:
    if name not in BINDINGS:
        raise KubevirtError(f"the binding is 'bridge' or 'masquerade', not {quote(name)}")
    return name


def bind(world, node: str = "virt-launcher", binding_name: str = "bridge", ports=(80,),
         iface: str = "eth0", nat: bool = True) -> VirtLauncher:
    """Apply a binding in NODE (devices, and NAT for masquerade) and start its DHCP server. No guest yet.

    ``nat=False`` leaves the masquerade binding's NAT rules out (lab09 has the learner write them).
    """
    _check_binding(binding_name)
    if node not in world.topology.nodes:
        raise KubevirtError(f"{quote(node)} is not a pod in world {world.name!r}; its nodes are {', '.join(world.nodes)}")
    pod = pod_interface(world, node, iface)
    pod_ip, pod_mac = pod.address, pod.mac
    if binding_name == "bridge":
        cmds = binding.bridge_binding_commands(pod_ip, pod_mac, pod.mtu, iface,
                                               dummy=binding.dummy_kind(world, node))
        vm_mac = pod_mac
    else:
        cmds = binding.masquerade_binding_commands(pod.mtu, iface)
        vm_mac = MASQUERADE_VM_MAC
    launcher = VirtLauncher(world, node, binding_name, pod_ip, pod_mac, vm_mac, cmds)
    binding.run_commands(world, node, cmds)
    if binding_name == "masquerade" and nat:
        launcher.nat_backend = binding.apply_nat(world, node, ports, iface)
        launcher.nat = (binding.nft_commands(ports, iface) if launcher.nat_backend == "nft"
                        else binding.iptables_rules(ports, iface))
    launcher.dhcp_args = dhcp_settings(binding_name, pod_ip, vm_mac, pod.mtu, pod.routes, pod.gateway)
    start_dhcp(world, node, launcher.dhcp_args, iface)
    world.settle([node])  # the renamed port's carrier reaches its state and the bridge's
    return launcher


def start_dhcp(world, node: str, settings: dict, iface: str = "eth0", name: str = "dhcp") -> str:
    """Start the single-client DHCP server on ``k6t-<iface>`` in NODE (validated first); wait until it listens."""
    if not isinstance(settings, dict):
        raise KubevirtError(f"the DHCP server's settings are a dict (client_mac, client_ip, server_ip, router,"
                            f" dns, routes, mtu, hostname), not {quote(settings)}")
    try:
        dhcp.Config(**settings)  # bad settings say so here, before anything starts
    except TypeError as e:
        raise KubevirtError(f"the DHCP server's settings {quote(sorted(settings))} do not fit: {e}") from None
    if bridge_name(iface) not in binding.link_names(world, node):
        raise KubevirtError(f"{node} has no bridge {bridge_name(iface)} for the DHCP server to listen on:"
                            f" build the binding first")
    argv = dhcp.command(bridge_name(iface), settings)
    started = world.start(node, argv, name=name)
    world.run(node, ["sh", "-c", "for i in $(seq 100); do ss -lun | grep -q ':67 ' && exit 0; sleep 0.05; done;"
                                 " echo 'the DHCP server is not listening on port 67'; exit 1"])
    return started


def boot_vm(launcher: VirtLauncher, name: str = "vm"):
    """Boot the guest on the launcher's tap0 with the VM's MAC; it takes its address by DHCP."""
    t0 = time.perf_counter()
    launcher.guest = guest_mod.boot(launcher.world, launcher.node, "tap0", launcher.vm_mac, HOSTNAME, name=name)
    launcher.boot_seconds = time.perf_counter() - t0
    return launcher.guest


def start_vm(world, node: str = "virt-launcher", binding_name: str = "bridge", ports=(80,)) -> VirtLauncher:
    """:func:`bind`, then :func:`boot_vm`: the whole virt-launcher pod."""
    launcher = bind(world, node, binding_name, ports)
    boot_vm(launcher)
    return launcher

"""The names KubeVirt gives the devices of a virt-launcher pod, and the addresses it uses.

From kubevirt/kubevirt ``pkg/network/link/names.go``: the primary interface's tap device is
``tap0`` (``tapNameForPrimaryIface``), the in-pod bridge is ``k6t-`` plus the pod interface's name
(``GenerateBridgeName``) and the pod's own NIC, once the bridge binding takes it over, is renamed
``<name>-nic`` (``GenerateNewBridgedVmiInterfaceName``). From ``pkg/network/setup/netpod/netpod.go``:
the bridge binding's fake link-local address is ``169.254.75.1`` followed by the interface's index,
as a /32 (``bridgeFakeIPBase``); from ``pkg/network/link/mac.go``: the masquerade bridge's MAC
``02:00:00:00:00:00`` (``StaticMasqueradeBridgeMAC``); the masquerade guest network 10.0.2.0/24 with
the gateway .1 and the VM .2 (``api.DefaultVMCIDR``, ``GenerateMasqueradeGatewayAndVmIPAddrs``).
"""

from __future__ import annotations

from ..engine.topology import check_ifname
from ..inputs import InputError, quote, whole_number

PRIMARY_TAP = "tap0"
BRIDGE_PREFIX = "k6t-"
NIC_SUFFIX = "-nic"
FAKE_BRIDGE_IP_BASE = "169.254.75.1"
MASQUERADE_BRIDGE_MAC = "02:00:00:00:00:00"
MASQUERADE_CIDR = "10.0.2.0/24"
MASQUERADE_GATEWAY = "10.0.2.1"
MASQUERADE_GUEST = "10.0.2.2"


class KubevirtError(InputError):
    """Bad input to a chapter 9 function, or a step taken before the one it needs: one sentence
    saying what was given and what is expected (shown in a notebook without a traceback)."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


def _pod_iface(name) -> str:
    # The kernel's limit is 15 characters; "k6t-" and "-nic" need 4 of them.
    name = check_ifname(name, "the pod interface's name", KubevirtError)
    if len(name) > 11:
        raise KubevirtError(f"the pod interface's name {quote(name)} is too long: KubeVirt adds 'k6t-' or"
                            f" '-nic' and a Linux interface name has at most 15 characters; use one such as 'eth0'")
    return name


def tap_name(pod_iface: str = "eth0") -> str:
    """The tap device of the pod's primary interface: always ``tap0``."""
    _pod_iface(pod_iface)
    return PRIMARY_TAP


def bridge_name(pod_iface: str = "eth0") -> str:
    """``k6t-eth0``: the in-pod bridge between the pod's NIC and the VM's tap."""
    return BRIDGE_PREFIX + _pod_iface(pod_iface)


def nic_name(pod_iface: str = "eth0") -> str:
    """``eth0-nic``: the pod's own NIC after the bridge binding renamed it."""
    return _pod_iface(pod_iface) + NIC_SUFFIX


def fake_bridge_ip(index: int = 0) -> str:
    """The bridge binding's link-local /32 on ``k6t-<iface>``: ``169.254.75.10`` for the first interface."""
    index = whole_number(index, "the interface's index in the VM spec", lo=0, hi=9, error=KubevirtError)
    return f"{FAKE_BRIDGE_IP_BASE}{index}/32"

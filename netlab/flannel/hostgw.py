"""flanneld's host-gw backend, rebuilt small: no device, no encapsulation, one route per remote node.

What it does, as flannel's ``pkg/backend/hostgw/hostgw.go`` and ``pkg/backend/route_network.go`` do:

1. refuse to start when the public IP differs from the external interface's address: "your PublicIP
   differs from interface IP, meaning that probably you're on a NAT, which is not supported by host-gw
   backend" (``hostgw.go``, ``New``);
2. lease a subnet with ``BackendType`` "host-gw" and no ``BackendData``; the MTU is the interface's
   own (nothing is added to a packet);
3. for every other node's host-gw lease, the route ``REMOTE_SUBNET via REMOTE_PUBLIC_IP dev IFACE``
   (``GetRoute``: ``Dst``, ``Gw``, ``LinkIndex``, no ``onlink``). ``routeAdd`` first looks for a route
   to the same destination: one with another gateway or device is deleted ("Replacing existing route
   to ...") and the right one added; the same route already there is kept ("Route to ... already
   exists, skipping."); a refused one is logged ("Error adding route to ...") and left;
4. every 10 s (``routeCheckRetries * time.Second``) ``routeCheck`` re-adds any of its routes that
   has gone missing ("Route recovered ..."), so a route deleted by hand comes back;
5. when a lease goes, its route is deleted ("Subnet removed: ...").

The kernel refuses a gateway that is not on a connected subnet of IFACE: "Error: Nexthop has invalid
gateway." That is the whole of host-gw's limit ("Requires direct layer2 connectivity between hosts
running flannel", flannel's ``Documentation/backends.md``), and the chapter shows it with a router
between the nodes.

Config, lease, subnet.env and the daemon's life are :mod:`.subnet`'s. Run: ``python3 -m netlab.flannel
host-gw --etcd http://10.168.0.1:2379 --iface eth0 [--subnet 10.1.15.0/24] [--check-every 10]``.
"""

from __future__ import annotations

import json
import select
import subprocess

from .subnet import Daemon, FlannelError, routes_from_leases

#: The network config chapter 7 writes: chapter 6's network, with the host-gw backend.
HOSTGW_NETWORK_CONFIG = {"Network": "10.1.0.0/16", "SubnetLen": 24, "Backend": {"Type": "host-gw"}}
#: flannel's ``routeCheckRetries`` seconds between two checks of its routes (``route_network.go``).
ROUTE_CHECK_SECONDS = 10
NAT_MESSAGE = ("your PublicIP differs from interface IP, meaning that probably you're on a NAT,"
               " which is not supported by host-gw backend")


def route_command(subnet, public_ip: str, iface: str, verb: str = "add") -> str:
    """The one route host-gw programs for a remote lease, as ``ip`` spells it."""
    return f"ip route {verb} {subnet} via {public_ip} dev {iface}"


def hostgw_leases(leases: dict[str, str], own) -> dict:
    """{subnet: PublicIP} for every other node's lease of type host-gw (flannel ignores the others:
    "Ignoring non-host-gw subnet")."""
    wanted = {}
    for key, value in leases.items():
        try:
            if json.loads(value).get("BackendType") != "host-gw":
                continue
        except (ValueError, AttributeError):
            continue
        wanted[key] = value
    return routes_from_leases(wanted, own)


def current_route(subnet) -> dict | None:
    """The main table's route to exactly SUBNET (``ip -j route show exact``), or None."""
    out = subprocess.run(["ip", "-j", "route", "show", "exact", str(subnet)], capture_output=True, text=True)
    routes = json.loads(out.stdout or "[]") if out.returncode == 0 else []
    return routes[0] if routes else None


class HostgwFlanneld(Daemon):
    """flanneld's host-gw backend for one node: a route per remote lease, checked again every 10 s."""

    BACKEND = "host-gw"
    OVERHEAD = 0

    def __init__(self, store, iface: str = "eth0", public_ip: str | None = None, subnet: str | None = None,
                 mtu: int | None = None, log_path: str | None = None, check_every: float = ROUTE_CHECK_SECONDS):
        super().__init__(store, iface, public_ip, subnet, mtu, log_path)
        self.check_every = check_every

    def prepare(self) -> None:
        """host-gw's one refusal: a public IP that is not the interface's own (a NAT in between)."""
        from_iface = subprocess.run(["ip", "-j", "-4", "addr", "show", "dev", self.iface],
                                    capture_output=True, text=True).stdout
        mine = {a["local"] for link in json.loads(from_iface or "[]") for a in link.get("addr_info", [])}
        if self.public_ip not in mine:
            raise FlannelError(NAT_MESSAGE)

    def peers_from(self, leases: dict[str, str]) -> dict:
        return hostgw_leases(leases, self.lease)

    def add_peer(self, subnet, public_ip: str) -> None:
        """``routeAdd``: replace a conflicting route, keep an equal one, log a refused one."""
        self.log(f"Subnet added: {subnet} via {public_ip}")
        have = current_route(subnet)
        if have is not None and (have.get("gateway"), have.get("dev")) != (public_ip, self.iface):
            shown = f"{subnet} via {have.get('gateway')} dev {have.get('dev')}" if have.get("gateway") \
                else f"{subnet} dev {have.get('dev')}"
            self.log(f"Replacing existing route to {shown} with {subnet} via {public_ip} dev {self.iface}")
            self.sh(f"ip route del {subnet}", check=False)
            have = None
        if have is not None:
            self.log(f"Route to {subnet} via {public_ip} already exists, skipping.")
            return
        if not self.sh(route_command(subnet, public_ip, self.iface), check=False):
            self.log(f"Error adding route to {subnet} via {public_ip} dev {self.iface}")

    def remove_peer(self, subnet, public_ip: str) -> None:
        self.log(f"Subnet removed: {subnet}")
        self.sh(route_command(subnet, public_ip, self.iface, "del"), check=False)

    def check_routes(self) -> None:
        """``checkSubnetExistInRoutes``: re-add every route of ours that is missing."""
        for subnet, public_ip in sorted(self.peers.items()):
            have = current_route(subnet)
            if have is not None and (have.get("gateway"), have.get("dev")) == (public_ip, self.iface):
                continue
            if have is None and self.sh(route_command(subnet, public_ip, self.iface), check=False):
                self.log(f"Route recovered {subnet} : {public_ip}")

    def serve(self) -> None:
        """Check the routes every CHECK_EVERY seconds until SIGTERM/SIGINT (flannel's ``routeCheck``)."""
        while not self.stopping:
            ready, _, _ = select.select([self.wake_r], [], [], self.check_every)
            if not ready and not self.stopping:
                self.check_routes()

    def config_text(self) -> str:
        return f"backend host-gw, routes checked every {self.check_every:g} s"

    def device_text(self) -> str:
        return f"no device: routes via {self.iface} ({self.public_ip}), mtu {self.mtu}"

    def what_stays(self) -> str:
        return "its routes stay in the kernel"

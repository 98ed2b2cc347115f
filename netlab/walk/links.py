"""The interfaces of a world as its kernels report them during a walk, over what the topology declared."""

from __future__ import annotations

import dataclasses
import json

from ..engine.topology import Interface


class Links:
    """node -> interface name -> :class:`Interface`, starting from the topology's declaration."""

    def __init__(self, world):
        self.w, self.topo = world, world.topology
        self.ifaces: dict[str, dict] = {n: dict(node.interfaces) for n, node in self.topo.nodes.items()}
        self.kernel: dict[str, dict[str, dict]] = {}  # node -> ifname -> `ip -j -d link` object
        self.addrs = {n: [a.split("/")[0] for i in node.interfaces.values() for a in i.addresses]
                      for n, node in self.topo.nodes.items()}

    def iface(self, node, name):
        return self.ifaces.get(node, {}).get(name)

    def macs(self, node) -> set:
        """Every MAC of NODE's interfaces (None for a TUN device)."""
        return {x.mac for x in self.ifaces[node].values()}

    def read(self, node) -> list[str]:
        """Read NODE's links from the kernel (``ip -j -d link show``); return the names of those that are up.

        The topology declares the interfaces the world was built with, but daemons make more at run
        time (flanneld's ``flannel0`` TUN and ``flannel.1`` VXLAN device): they are added here, with
        their kind (``info_kind``), MAC, master and VXLAN VNI/port (``info_data.id``/``port``) as the
        kernel reports them, so they are captured and explained like declared ones.
        """
        r = self.w.run(node, "ip -j -d link show", check=False)
        try:
            links = json.loads(r.stdout) if r.ok and r.stdout.strip() else []
        except ValueError:
            links = []
        self.kernel[node] = {l["ifname"]: l for l in links if "ifname" in l}
        if not self.topo.nodes[node].interfaces and len(self.kernel[node]) > 1:
            # a pod declared bare, whose eth0 a CNI plugin made at run time (chapter 8): its addresses too
            a = self.w.run(node, "ip -j addr show", check=False)
            try:
                self.addrs[node] = [i["local"] for l in json.loads(a.stdout or "[]") if l.get("ifname") != "lo"
                                    for i in l.get("addr_info", []) if i.get("family") == "inet"]
            except ValueError:
                pass
        up = []
        for name, l in self.kernel[node].items():
            if name == "lo":
                continue
            self.ifaces[node][name] = self._merged(node, name, l)
            if "UP" in l.get("flags", []):
                up.append(name)
        self._pair_run_time_veths(node)
        return up

    def _pair_run_time_veths(self, node) -> None:
        """Give a veth made at run time (a CNI plugin's pod veth, chapter 8) its peer: the veth in another
        node read so far whose ifindex and peer index (``link_index``) mirror its own."""
        for name, l in self.kernel[node].items():
            i = self.ifaces[node].get(name)
            if i is None or i.kind != "veth" or i.peer or "link_netnsid" not in l:
                continue
            # ifindexes are per namespace, so two pods' eth0 may mirror two nodes' veths alike: the first
            # node read (the topology's order) wins, and each end is paired once
            found = next(((other, oname) for other, links in self.kernel.items() if other != node
                          for oname, ol in links.items()
                          if (o := self.ifaces[other].get(oname)) is not None and o.kind == "veth" and not o.peer
                          and "link_netnsid" in ol and ol.get("ifindex") == l.get("link_index")
                          and ol.get("link_index") == l.get("ifindex")), None)
            if found:
                self.ifaces[node][name] = dataclasses.replace(i, peer=found)
                self.ifaces[found[0]][found[1]] = dataclasses.replace(self.ifaces[found[0]][found[1]], peer=(node, name))

    def _merged(self, node, name, l) -> Interface:
        declared = self.ifaces[node].get(name)
        info = l.get("linkinfo", {})
        kind = info.get("info_kind") or "device"
        if declared is not None:
            # the kernel, not the declaration, says which bridge a port is in (``ip link set X master
            # docker0`` at run time, or ``nomaster``) and what MAC a device has
            mac = l.get("address") if declared.kind != "tun" else declared.mac
            return dataclasses.replace(declared, master=l.get("master"), mac=mac or declared.mac)
        data = info.get("info_data", {})
        opts = {"vni": data["id"], "dstport": data.get("port"), "local": data.get("local"),
                "dev": l.get("link")} if kind == "vxlan" and "id" in data else {}
        if kind == "tun" and l.get("master"):
            opts = {"behind": self._learned(node, name)}
        return Interface(node, name, kind, mac=l.get("address") if kind != "tun" else None,
                         mtu=l.get("mtu"), master=l.get("master"), options=opts)

    def _learned(self, node, name) -> tuple:
        """The MACs a bridge learned on tap port NAME: the VM's NIC behind it (chapter 9's ``tap0``)."""
        r = self.w.run(node, f"bridge -j fdb show brport {name}", check=False)
        try:
            entries = json.loads(r.stdout) if r.ok and r.stdout.strip() else []
        except ValueError:
            entries = []
        return tuple(sorted(e["mac"] for e in entries if "mac" in e and e.get("state") != "permanent"
                            and "self" not in e.get("flags", [])))

    def behind_tap(self, node, name) -> tuple:
        """The MACs behind a tap bridge port (the VM's), () for any other interface."""
        i = self.iface(node, name)
        return i.options.get("behind", ()) if i is not None and i.kind == "tun" else ()

    def made_at_run_time(self) -> tuple[Interface, ...]:
        """The interfaces read from the kernels that the topology does not declare, node by node."""
        return tuple(i for n, ifaces in self.ifaces.items() for name, i in ifaces.items()
                     if name not in self.topo.nodes[n].interfaces)

    def mtu(self, node, name):
        """The MTU the kernel reported for NODE's NAME, or None."""
        return self.kernel.get(node, {}).get(name, {}).get("mtu")

    def vxlan_devices(self, node) -> list[tuple[str, int, int]]:
        """(name, VNI, UDP port) of every VXLAN device in NODE, as the kernel reports them."""
        out = []
        for name, l in self.kernel.get(node, {}).items():
            info = l.get("linkinfo", {})
            if info.get("info_kind") == "vxlan" and "id" in info.get("info_data", {}):
                out.append((name, info["info_data"]["id"], info["info_data"].get("port", 8472)))
        return sorted(out)

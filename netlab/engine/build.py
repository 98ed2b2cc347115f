"""How a world builds a topology: the plan as phases of batches, one ``ip -batch``,
``bridge -batch``, ``iptables-restore`` or sysctl batch per node, and the same plan rendered as the
shell commands it stands for (``Topology.script``), so the script shown and the build run cannot drift.

Pure data in, data out: it reads a :class:`~.topology.Topology` and runs nothing; the live backend
(:mod:`.live`) runs the batches.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from .command import sh_join


@dataclass
class Batch:
    """Lines for one tool run once in one node (node None: the world's top namespace)."""

    node: str | None
    tool: str  # "ip", "bridge", "iptables", "sysctl"
    lines: list = field(default_factory=list)
    read: bool = False  # only reads the kernel (the linkwatch sync): no part of the script

    def commands(self) -> list[str]:
        """Each line as the shell command it stands for, one process per line (``Topology.script``).

        ``ip -batch`` and ``bridge -batch`` lines become ``ip -n NODE LINE``; sysctls become
        ``ip netns exec NODE sysctl -w KEY=VALUE`` (what the agent writes under /proc/sys); an
        iptables-restore batch becomes one ``ip netns exec NODE iptables -t TABLE RULE`` per rule.
        """
        if self.tool == "sysctl":
            return [sh_join(["ip", "netns", "exec", node, "sysctl", "-w", f"{key}={value}"])
                    for node, key, value in self.lines]
        if self.tool == "iptables":
            out, table = [], None
            for line in self.lines:
                if line.startswith("*"):
                    table = line[1:]
                elif line.startswith(":"):  # ":CHAIN - [0:0]" makes a chain, ":CHAIN DROP [0:0]" sets a policy
                    chain, policy = line[1:].split()[:2]
                    out.append(sh_join(["ip", "netns", "exec", self.node, "iptables", "-t", table]
                                       + (["-N", chain] if policy == "-" else ["-P", chain, policy])))
                elif line != "COMMIT":
                    out.append(sh_join(["ip", "netns", "exec", self.node, "iptables", "-t", table]
                                          + shlex.split(line)))
            return out
        return [sh_join([self.tool] + (["-n", self.node] if self.node else []) + shlex.split(line))
                for line in self.lines]

    def argv(self) -> list[str]:
        if self.tool == "iptables":
            return ["ip", "netns", "exec", self.node, "iptables-restore", "--noflush"]
        return [self.tool] + (["-n", self.node] if self.node else []) + ["-batch", "-"]

    def shown(self, line: str) -> str:
        prefix = {"ip": "ip", "bridge": "bridge"}[self.tool]
        return f"{prefix} -n {self.node} {line}" if self.node else f"{prefix} {line}"


def build_plan(topo) -> list[list[Batch]]:
    """The build of TOPO (a :class:`~.topology.Topology`) as phases; batches within a phase are
    independent and run concurrently."""
    nodes = topo.nodes.values()
    top_netns = Batch(None, "ip", [f"netns add {n.name}" for n in nodes])
    early = Batch(None, "sysctl", [(n.name, k, v) for n in nodes if not n.ipv6
                                    for k, v in (("net.ipv6.conf.all.disable_ipv6", "1"),
                                                 ("net.ipv6.conf.default.disable_ipv6", "1"))])
    veths = Batch(None, "ip")
    for ea, eb in topo.links:
        ia, ib = topo.nodes[ea.node].interfaces[ea.ifname], topo.nodes[eb.node].interfaces[eb.ifname]
        veths.lines.append(f"link add {ia.name} netns {ia.node} address {ia.mac} type veth"
                           f" peer name {ib.name} netns {ib.node} address {ib.mac}")
    per_node = [[b for b in _node_batches(n) if b.lines] for n in nodes]
    late = [[_iptables_batch(n)] for n in nodes if n.iptables]
    sysctls = Batch(None, "sysctl", [(n.name, k, v) for n in nodes for k, v in n.sysctls])
    sync = [[b] for b in map(_linkwatch_sync, nodes) if b.lines]
    phases = [[[top_netns]], [[early]], [[veths]], per_node, [[sysctls]] + late, sync]
    # A phase is a list of chains; the batches of one chain run in order.
    return [[chain for chain in phase if any(b.lines for b in chain)] for phase in phases]


def _node_batches(n) -> tuple[Batch, Batch]:
    """A node's own devices, addresses, links up, neighbours and routes (ip), and FDB entries (bridge)."""
    ip, br = Batch(n.name, "ip"), Batch(n.name, "bridge")
    for i in n.interfaces.values():
        if i.kind == "bridge":
            ip.lines.append(f"link add {i.name} address {i.mac} type bridge")
        elif i.kind == "vxlan":
            o = i.options
            ip.lines.append(f"link add {i.name} address {i.mac} type vxlan id {o['vni']} local {o['local']}"
                            f" dev {o['dev']} dstport {o['dstport']}" + ("" if o["learning"] else " nolearning"))
        elif i.kind == "tun":
            ip.lines.append(f"tuntap add dev {i.name} mode tun")
    for i in n.interfaces.values():
        ip.lines += _link_settings(i)
    ip.lines.append("link set dev lo up")
    order = sorted(n.interfaces.values(), key=lambda i: i.kind != "bridge")
    ip.lines += [f"link set dev {i.name} up" for i in order]
    ip.lines += [f"neigh add {addr} lladdr {mac} dev {dev} nud permanent" for dev, addr, mac in n.neighbours]
    ip.lines += [f"route add {r.ip_args()}" for r in n.routes]
    br.lines += [f"fdb add {mac} dev {dev} dst {dst} self permanent" for dev, mac, dst in n.fdb]
    return ip, br


def _link_settings(i) -> list[str]:
    """An interface's settings after it exists: MTU, queue length, bridge port, hairpin, addresses."""
    lines = [f"link set dev {i.name} mtu {i.mtu}"] if i.mtu else []
    if i.txqueuelen is not None:
        lines.append(f"link set dev {i.name} txqueuelen {i.txqueuelen}")
    if i.master:
        lines.append(f"link set dev {i.name} master {i.master}")
    if i.hairpin:  # a port setting: only once the device is a port
        lines.append(f"link set dev {i.name} type bridge_slave hairpin on")
    return lines + [f"addr add {a}{' brd +' if i.broadcast and ':' not in a else ''} dev {i.name}"
                    for a in i.addresses]


def _iptables_batch(n) -> Batch:
    """A node's iptables rules as one ``iptables-restore --noflush`` input, table by table."""
    ipt = Batch(n.name, "iptables")
    tables: dict[str, list[str]] = {}
    for table, rule in n.iptables:
        words = rule.split()  # iptables-restore declares a chain, or a built-in chain's policy, with ":"
        tables.setdefault(table, []).append(f":{words[1]} - [0:0]" if words[0] == "-N" else
                                            f":{words[1]} {words[2]} [0:0]" if words[0] == "-P" else rule)
    for table, rules in tables.items():
        ipt.lines += [f"*{table}"] + rules + ["COMMIT"]
    return ipt


def _linkwatch_sync(n) -> Batch:
    """Reads that make the kernel apply a node's carrier changes now.

    Carrier changes reach the bridge and the routes through the kernel's linkwatch, up to a
    second later. A single-device RTM_GETLINK (`ip link show dev X`) syncs linkwatch for that
    device, so ports are forwarding and routes are not "linkdown" when build() returns.
    """
    kinds = [i for i in n.interfaces.values() if i.kind == "veth"] + \
            [i for i in n.interfaces.values() if i.kind == "bridge"]
    return Batch(n.name, "ip", [f"link show dev {i.name}" for i in kinds], read=True)


def build_script(topo) -> str:
    """The shell commands the build runs, one per line, in build order (``Topology.script``).

    Rendered from :func:`build_plan`, the batches :meth:`World.build` runs, so the two cannot
    drift: run as ``sh -e`` in an empty world's top namespace, it leaves the same kernel state.
    """
    return "\n".join(cmd for phase in build_plan(topo) for chain in phase for b in chain if not b.read
                     for cmd in b.commands()) + "\n"

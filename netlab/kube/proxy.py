"""kube-proxy's sync on one node of a world: the jump rules, then one ``iptables-restore`` of the rendered rules.

As ``syncProxyRules`` does a full sync (kubernetes/kubernetes ``pkg/proxy/iptables/proxier.go``):
ensure each jump (``iptables -C``, and ``-I`` when missing: ``EnsureChain`` + ``EnsureRule(Prepend)``),
list the nat table's chains to delete the service chains no longer used (a chain line flushes one,
``-X`` deletes it), then ``iptables-restore --noflush --counters`` (``RestoreAll(NoFlushTables,
RestoreCounters)``). With localhost NodePorts on (the default) it sets ``route_localnet``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import kernel
from ..engine.command import sh_join
from . import names
from .rules import JUMP_CHAINS, ProxyConfig, Service, ServiceError, jump_rule_args, render


@dataclass
class SyncResult:
    node: str
    restore_input: str
    deleted_chains: list
    jumps_added: int

    def text(self) -> str:
        return (f"kube-proxy sync on {self.node}: {self.jumps_added} jump rule(s) added, "
                f"{len(self.deleted_chains)} stale chain(s) deleted, {self.restore_input.count(chr(10) + '-A ')}"
                f" rules restored")

    __str__ = __repr__ = text


def sync(world, node: str, services, config: ProxyConfig | None = None) -> SyncResult:
    """Write SERVICES into NODE's iptables as kube-proxy on NODE would. Idempotent; returns what it did."""
    if node not in world.nodes:
        raise ServiceError(f"node must be one of {', '.join(world.nodes)}, not {node!r}")
    services = list(services)
    if not all(isinstance(s, Service) for s in services):
        raise ServiceError("services must be a list of netlab.kube.Service values")
    config = config or ProxyConfig(node)
    rendered = render(services, config)   # bad input fails here, before anything is written
    added = 0
    for table, chain, to, comment, extra in JUMP_CHAINS:
        world.run(node, ["iptables", "-w", "-t", table, "-N", to], check=False)
        args = jump_rule_args(extra, comment, to)
        if not world.run(node, ["iptables", "-w", "-t", table, "-C", chain, *args], check=False).ok:
            world.run(node, ["iptables", "-w", "-t", table, "-I", chain, *args])
            added += 1
    if config.localhost_nodeports:
        world.run(node, ["sysctl", "-qw", "net.ipv4.conf.all.route_localnet=1"])
    existing = {c.name for c in kernel.iptables(world, node).chains if c.table == "nat"}
    stale = sorted(c for c in existing - set(rendered.nat_chains) if names.is_service_chain(c))
    text = rendered.text
    if stale:
        head, _, tail = text.rpartition("COMMIT\n")
        body_head, _, rules = head.partition("*nat\n")
        chain_lines = [l for l in rules.splitlines() if l.startswith(":")] + [f":{c} - [0:0]" for c in stale]
        rule_lines = [l for l in rules.splitlines() if not l.startswith(":")] + [f"-X {c}" for c in stale]
        text = body_head + "*nat\n" + "\n".join(chain_lines + rule_lines) + "\nCOMMIT\n" + tail
    world.run(node, ["iptables-restore", "-w", "--noflush", "--counters"], input=text)
    return SyncResult(node, text, stale, added)


def sync_all(world, services, nodes=("node1", "node2"), cluster_cidr: str = "10.244.0.0/16") -> dict:
    """Every node's kube-proxy syncs the same Services (each knows its own name for Local policy)."""
    return {n: sync(world, n, services, ProxyConfig(n, cluster_cidr)) for n in nodes}


def restore_command() -> str:
    return sh_join(["iptables-restore", "-w", "--noflush", "--counters"])

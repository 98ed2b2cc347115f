"""Calico's IPAM blocks: a pool cut into fixed-size blocks, each held by one node.

Calico's IPAM (projectcalico/calico ``libcalico-go/lib/ipam/ipam.go``) gives a node a whole block of
the pool (a /26 unless the IPPool's ``blockSize`` says otherwise: the IPPool resource's reference,
``reference/resources/ippool.md`` in projectcalico/calico's docs: "20 to 32 (inclusive) for IPv4",
default ``26``) and hands the node's pods addresses from it; BIRD then announces the block, not
the pods' /32s (``confd/etc/calico/confd/templates/bird_aggr.cfg.template``: ``route <block>
blackhole`` and ``calico_aggr``: accept the block, reject what lies beneath it). The calculator below
answers what a reader asks of a pool: how many blocks, how many pods in one, which block an address
is in and who holds it, what a node's blackhole covers.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from .names import DEFAULT_BLOCK_SIZE


class IpamError(ValueError):
    """A pool, block size or address the calculator cannot use; the message says which and why."""


def _pool(pool) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(str(pool).strip())
    except ValueError as e:
        raise IpamError(f"pool {pool!r} is not an IPv4 network such as 10.244.0.0/16 ({e})") from None


@dataclass(frozen=True)
class BlockPlan:
    """POOL cut into /BLOCK_SIZE blocks; HELD maps a node to the index of the block it holds."""

    pool: ipaddress.IPv4Network
    block_size: int
    held: tuple[tuple[str, int], ...]

    @classmethod
    def make(cls, pool="10.244.0.0/16", block_size=DEFAULT_BLOCK_SIZE, nodes=("node1", "node2", "node3"),
             held: dict | None = None) -> "BlockPlan":
        """NODES hold the first blocks in order, unless HELD ({node: block address or index}) says which."""
        net = _pool(pool)
        if isinstance(block_size, bool) or not isinstance(block_size, int):
            raise IpamError(f"block size {block_size!r} must be a whole number of prefix bits such as 26")
        if not net.prefixlen <= block_size <= 32:
            raise IpamError(f"block size /{block_size} must lie between the pool's own /{net.prefixlen} and /32")
        count = 2 ** (block_size - net.prefixlen)
        per = 2 ** (32 - block_size)
        pairs = []
        for k, node in enumerate(held or nodes):
            where = held[node] if held else k
            if isinstance(where, str):
                try:
                    where = (int(ipaddress.IPv4Network(where).network_address) - int(net.network_address)) // per
                except ValueError:
                    raise IpamError(f"{node}'s block {where!r} is not a network such as 10.244.1.0/26") from None
            if not 0 <= where < count:
                raise IpamError(f"{net} has {count} blocks of /{block_size}: no block {where} for {node}")
            pairs.append((node, where))
        return cls(net, block_size, tuple(pairs))

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.held)

    @property
    def count(self) -> int:
        """How many blocks the pool holds."""
        return 2 ** (self.block_size - self.pool.prefixlen)

    @property
    def per_block(self) -> int:
        """Addresses in one block: each can be a pod (Calico routes /32s, so no network or broadcast)."""
        return 2 ** (32 - self.block_size)

    def block(self, index: int) -> ipaddress.IPv4Network:
        size = self.per_block
        return ipaddress.IPv4Network(f"{self.pool.network_address + index * size}/{self.block_size}")

    def holder(self, index: int) -> str | None:
        return next((n for n, i in self.held if i == index), None)

    def node_block(self, node: str) -> ipaddress.IPv4Network:
        for n, i in self.held:
            if n == node:
                return self.block(i)
        raise IpamError(f"no node {node!r} in this plan; its nodes are {', '.join(self.nodes)}")

    def locate(self, address) -> str:
        """Which block ADDRESS is in, and which node holds that block."""
        try:
            ip = ipaddress.IPv4Address(str(address).strip())
        except ValueError:
            raise IpamError(f"{address!r} is not an IPv4 address such as 10.244.0.70") from None
        if ip not in self.pool:
            return f"{ip} is not in the pool {self.pool}: no node's block holds it"
        index = (int(ip) - int(self.pool.network_address)) // self.per_block
        blk, who = self.block(index), self.holder(index)
        return (f"{ip} is in block {index} ({blk}), " +
                (f"held by {who}: the other nodes reach it by that block's BGP route, via {who}" if who else
                 "which no node holds yet: the first node that needs a new block gets it"))

    def text(self) -> str:
        lines = [f"pool {self.pool}: {self.count} blocks of /{self.block_size}, {self.per_block} addresses each"]
        for node in self.nodes:
            blk = self.node_block(node)
            lines.append(f"  {node:8} {str(blk):18} {blk[0]} - {blk[-1]}   blackhole {blk} proto bird")
        return "\n".join(lines)

    __str__ = __repr__ = text

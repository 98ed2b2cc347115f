"""Which iptables rules the walked packet hit: the difference of ``iptables-save -c`` before and after.

A rule that jumps to a user-defined chain (``-j DOCKER``) is followed by the moved rules of that chain,
in ``iptables-save`` order, so a DNAT in Docker's chain is named where the packet met it.
"""

from __future__ import annotations

from .. import kernel
from .decisions import IptablesHit

ALL_CHAINS = ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")


def _chain(key_text: str) -> str:
    """The chain of a counter key's text: ``-A CHAIN ...`` or ``CHAIN policy POLICY``."""
    words = key_text.split()
    return words[1] if words[0] == "-A" else words[0]


class Counters:
    """The rules whose counters moved in each node between two readings (node -> :class:`kernel.Iptables`)."""

    def __init__(self, before: dict[str, kernel.Iptables], after: dict[str, kernel.Iptables]):
        self.moved, self.user_chains = {}, {}
        self.named: set = set()  # (node, rule key) already named on a hop
        for n in after:
            b, a = before[n].counters(), after[n].counters()
            self.moved[n] = [(k, b.get(k, (0, 0)), v) for k, v in a.items() if v[0] > b.get(k, (0, 0))[0]]
            self.user_chains[n] = after[n].user_chains

    def hits(self, node, chains, once: bool = True) -> list[IptablesHit]:
        """The rules of CHAINS whose counters moved, each followed by the moved rules of the user-defined
        chain it jumps to (``-j DOCKER`` then ``-A DOCKER ... -j DNAT``), in ``iptables-save`` order.

        With ``once`` a rule is named at the first hop that asks for its chain only (a packet crosses
        a chain once per node; later hops in the same node do not repeat it).
        """
        out: list[IptablesHit] = []
        for table in dict.fromkeys(k[0] for k, _, _ in self.moved.get(node, [])):
            for chain in chains:
                self._emit(node, table, chain, once, out, 0)
        return out

    def _emit(self, node, table, chain, once, out, depth):
        user = self.user_chains.get(node, set())
        for key, b, a in self.moved.get(node, []):
            t, rule = key[0], key[1]
            c = _chain(rule)
            if t != table or c != chain or (once and (node, key) in self.named):
                continue
            if once:
                self.named.add((node, key))
            out.append(IptablesHit(t, rule, b, a))
            target = kernel.jump_target(rule)
            if target is not None and (t, target) in user and depth < 16:
                self._emit(node, t, target, once, out, depth + 1)

    def drops(self, node, chains=ALL_CHAINS) -> list[IptablesHit]:
        """The moved rules of CHAINS that drop or reject (or a DROP policy that was applied)."""
        return [h for h in self.hits(node, chains, once=False) if h.drops]

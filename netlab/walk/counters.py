"""Which iptables rules the walked packet hit: the difference of ``iptables-save -c`` before and after.

A rule that jumps to a user-defined chain (``-j DOCKER``) is followed by the moved rules of that chain,
in ``iptables-save`` order, so a DNAT in Docker's chain is named where the packet met it.
"""

from __future__ import annotations

import re

from .decisions import IptablesHit

IPTABLES_SAVE = "iptables-save -c | grep -v '^#'"
ALL_CHAINS = ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")


def _ipt_parse(text: str) -> dict:
    """iptables-save -c -> {(table, chain-or-rule text, n): (packets, bytes)}."""
    out, table, seen = {}, None, {}
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif line.startswith(":"):
            m = re.match(r":(\S+) (\S+) \[(\d+):(\d+)\]", line)
            if m and m.group(2) != "-":
                out[(table, f"{m.group(1)} policy {m.group(2)}", 0)] = (int(m.group(3)), int(m.group(4)))
        elif line.startswith("["):
            m = re.match(r"\[(\d+):(\d+)\] (.*)", line)
            if m:
                rule = m.group(3).strip()
                n = seen[(table, rule)] = seen.get((table, rule), 0) + 1
                out[(table, rule, n)] = (int(m.group(1)), int(m.group(2)))
    return out


def _chain(rule: str) -> str:
    m = re.match(r"-A (\S+)", rule)
    return m.group(1) if m else rule.split()[0]


def _target(rule: str) -> str | None:
    """The chain a rule jumps (``-j``) or goes (``-g``) to, or its target (ACCEPT, DNAT, ...)."""
    m = re.search(r"\s-[jg] (\S+)", rule)
    return m.group(1) if m else None


def _user_chains(text: str) -> set[tuple[str, str]]:
    """(table, chain) of every user-defined chain in an ``iptables-save`` dump (``:NAME - [0:0]``)."""
    out, table = set(), None
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif line.startswith(":"):
            m = re.match(r":(\S+) - ", line)
            if m:
                out.add((table, m.group(1)))
    return out


class Counters:
    """The rules whose counters moved in each node between two dumps (node -> ``iptables-save -c`` text)."""

    def __init__(self, before: dict[str, str], after: dict[str, str]):
        self.moved, self.user_chains = {}, {}
        self.named: set = set()  # (node, rule key) already named on a hop
        for n in after:
            b, a = _ipt_parse(before[n]), _ipt_parse(after[n])
            self.moved[n] = [(k, b.get(k, (0, 0)), v) for k, v in a.items() if v[0] > b.get(k, (0, 0))[0]]
            self.user_chains[n] = _user_chains(after[n])

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
            c = rule.split()[0] if " policy " in rule else _chain(rule)
            if t != table or c != chain or (once and (node, key) in self.named):
                continue
            if once:
                self.named.add((node, key))
            out.append(IptablesHit(t, rule, b, a))
            target = _target(rule)
            if target is not None and (t, target) in user and depth < 16:
                self._emit(node, t, target, once, out, depth + 1)

    def drops(self, node, chains=ALL_CHAINS) -> list[IptablesHit]:
        """The moved rules of CHAINS that drop or reject (or a DROP policy that was applied)."""
        return [h for h in self.hits(node, chains, once=False) if h.drops]

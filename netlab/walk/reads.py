"""The kernel reads behind a walk's decisions, each read once per walk and returned as decision data.

Every read goes through ``world.run``, so it is in the world's transcript and replays from a recording;
the cache keeps a walk from asking the same question twice (and a recording from holding it twice).
"""

from __future__ import annotations

import re
import shlex

from .decisions import BridgeFdb, Neighbour, Route, TunHandoff, VxlanFdb


class Reads:
    def __init__(self, world, links):
        self.w, self.links = world, links
        self._cache: dict = {}

    def run(self, node, cmd):
        key = (node, cmd)
        if key not in self._cache:
            self._cache[key] = self.w.run(node, cmd, check=False)
        return self._cache[key]

    def route(self, node, dst, src=None, iif=None) -> tuple[bool, Route]:
        """``ip route get DST [from SRC iif IIF]``: did the kernel find a route, and what it said."""
        cmd = f"ip route get {dst}" + (f" from {src} iif {iif}" if iif else "")
        r = self.run(node, cmd)
        out = " ".join((r.stdout if r.ok else r.stderr).split())
        # a cached path MTU (learned from an ICMP "fragmentation needed") carries a countdown:
        # the number depends on when the walk ran, so the text names it instead
        out = re.sub(r"\bexpires -?\d+sec\b", "expires <timer>", out)
        return r.ok, Route.parse(out)

    def neighbour(self, node, dev, ip) -> Neighbour:
        line = self.run(node, f"ip neigh show {ip} dev {dev}").stdout.strip()
        if not line:
            return Neighbour(ip, dev)
        parts = line.split()
        state = parts[-1]
        if state in ("FAILED", "INCOMPLETE"):
            return Neighbour(ip, dev, state="failed")
        mac = parts[parts.index("lladdr") + 1] if "lladdr" in parts else "?"
        return Neighbour(ip, dev, mac, "permanent" if state == "PERMANENT" else "learned")

    def bridge_fdb(self, node, bridge, mac) -> BridgeFdb:
        br = self.links.iface(node, bridge)
        if br is not None and br.mac == mac:
            return BridgeFdb(bridge, mac, node, own=True)
        for line in self.run(node, f"bridge fdb show br {bridge}").stdout.splitlines():
            p = line.split()
            if p and p[0] == mac and "master" in p:
                return BridgeFdb(bridge, mac, node, entry=" ".join(p[:p.index("master") + 2]), port=p[2])
        return BridgeFdb(bridge, mac, node)

    def vxlan_fdb(self, node, dev, mac) -> VxlanFdb:
        out = self.run(node, f"bridge fdb show dev {dev}").stdout
        for line in out.splitlines():
            p = line.split()
            if p and p[0] == mac and "dst" in p:
                return VxlanFdb(dev, mac, " ".join(p), p[p.index("dst") + 1])
        default = [l.split() for l in out.splitlines() if l.startswith("00:00:00:00:00:00") and " dst " in l]
        return VxlanFdb(dev, mac, defaults=tuple(p[p.index("dst") + 1] for p in default))

    def process(self, pid) -> str:
        """A process named by its command line, stably: ``python -m netlab.flannel udp`` (no path, no pid)."""
        argv = [a for a in self.run(None, f"cat /proc/{pid}/cmdline").stdout.split("\0") if a]
        if not argv:
            return self.run(None, f"cat /proc/{pid}/comm").stdout.strip() or "?"
        words = [argv[0].rsplit("/", 1)[-1]]
        if len(argv) > 2 and argv[1] == "-m":
            words += argv[1:4]
        return " ".join(words)

    def socket_owners(self, node, port) -> list[str] | None:
        """Processes holding a UDP socket on PORT in NODE (``ss -Hulpn``); [] for a kernel socket, None for none."""
        r = self.run(node, f"ss -Hulpn 'sport = :{port}'")
        lines = [l for l in r.stdout.splitlines() if l.strip()]
        if not lines:
            return None
        return sorted({self.process(pid) for pid in re.findall(r"pid=(\d+)", r.stdout)})

    def tun_pids(self, node, dev) -> list[str]:
        """The processes in NODE holding TUN device DEV open."""
        r = self.run(None, f"grep -l '^iff:[[:space:]]*{dev}$' /proc/[0-9]*/fdinfo/*")
        pids = sorted({p.split("/")[2] for p in r.stdout.split()}, key=int)
        # every node's daemon may call its device flannel0: keep the processes in this node's netns
        here = self.run(node, "readlink /proc/self/ns/net").stdout.strip()
        return [p for p in pids if self.run(None, f"readlink /proc/{p}/ns/net").stdout.strip() == here]

    def tun_handoff(self, node, dev, wrote: bool = False) -> TunHandoff:
        pids = self.tun_pids(node, dev)
        # a process that ended between the two reads ("?": a short-lived helper, such as User-mode
        # Linux forks) held the device no longer
        return TunHandoff(dev, tuple(sorted({self.process(pid) for pid in pids} - {"?"})), wrote)

    def process_log(self, node, dev, dst) -> str | None:
        """The last line about DST in the log of the process reading TUN DEV (its ``--log FILE``), if any."""
        for pid in self.tun_pids(node, dev):
            argv = self.run(None, f"cat /proc/{pid}/cmdline").stdout.split("\0")
            if "--log" in argv[:-1]:
                log = self.run(node, f"cat {shlex.quote(argv[argv.index('--log') + 1])}").stdout
                lines = [l for l in log.splitlines() if re.search(rf"\b{re.escape(dst)}\b", l)]
                if lines:
                    return lines[-1]
        return None

    def no_route(self, node, dst, said, cmd=None, lead="no route: ", arrived=None) -> str:
        """Why the kernel has no route to DST: what it said (to CMD), the route that matched, and, for a
        packet that ARRIVED as (source, interface), whether its source is one of the node's own addresses."""
        m = self.run(node, f"ip route show match {dst}")
        routes = [l.strip() for l in m.stdout.splitlines() if l.strip()]
        hole = [r for r in routes if r.split()[0] in ("blackhole", "unreachable", "prohibit")]
        text = f"{lead}`{cmd or 'ip route get ' + dst}` says '{said}'"
        if hole:
            text += f"; the route that matched is '{hole[-1]}'"
        if arrived and self.run(node, f"ip route show table local {arrived[0]}").stdout.startswith("local "):
            text += (f"; its source {arrived[0]} is {node}'s own address, a martian to Linux when it arrives"
                     f" on {arrived[1]}, dropped unless that interface has accept_local=1")
        return text

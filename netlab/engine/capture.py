"""Packet capture in a lab world: tcpdump in a node, packets back as a scapy PacketList.

::

    with w.capture("pc2", "eth0", "icmp") as cap:
        w.run("pc1", "ping -c 1 192.168.0.4")
    cap.packets.summary()

scapy is imported only when packets are parsed, so the engine itself runs on a
stdlib-only Python.
"""

from __future__ import annotations

import base64
import io
import signal
import subprocess
import time

from ..inputs import quote
from .topology import check_ifname

#: pcap-filter expressions are short; a bound keeps a message quoting one short too.
MAX_FILTER = 4096


class CaptureError(RuntimeError):
    """tcpdump could not start or stop; the message quotes it."""


def check_filter(filter, error=ValueError):
    """FILTER if it can only be read as a pcap-filter(7) expression, else ``error``, one sentence.

    tcpdump takes options anywhere before ``--``: a "filter" such as ``-w/some/path`` would make it
    write a file on the host. So a leading '-' is refused here, and the filter is passed after
    ``--`` as well.
    """
    if filter is None:
        return None
    if not isinstance(filter, str):
        raise error(f"a capture filter must be a string such as 'icmp or arp', not {type(filter).__name__}"
                    f" {quote(filter)}")
    if filter.lstrip().startswith("-"):
        raise error(f"capture filter {quote(filter)} starts with '-', so tcpdump would read it as an option;"
                    f" write a filter expression such as 'icmp or arp' (options are not allowed)")
    if "\0" in filter or len(filter) > MAX_FILTER:
        raise error(f"capture filter {quote(filter)} must be at most {MAX_FILTER} characters with no NUL")
    return filter


def parse_pcap(data: bytes):
    """pcap bytes -> scapy PacketList (an empty one for an empty capture)."""
    # Register scapy's Ethernet/ARP/IP and VXLAN dissectors: without them, in a process where
    # nothing else has imported them yet, every frame would decode as Raw.
    import scapy.layers.inet  # noqa: F401
    import scapy.layers.l2  # noqa: F401
    import scapy.layers.vxlan  # noqa: F401
    from scapy.plist import PacketList
    from scapy.utils import rdpcap
    if not data:
        return PacketList([], name="capture")
    return rdpcap(io.BytesIO(data))


class Capture:
    """tcpdump -U -w - running on one interface of one node until :meth:`stop`.

    In an unprivileged world tcpdump cannot drop its privileges (a user namespace denies
    setgroups), so the world's agent captures with an AF_PACKET socket instead, and the filter is
    applied afterwards by tcpdump reading that capture (``tcpdump -r - -w - FILTER``).
    """

    def __init__(self, world, node: str, iface: str, filter: str | None = None, timeout: float = 5):
        from .world import WorldInputError, _seconds
        world._node_arg(node)
        check_ifname(iface, f"capture on {node}: interface", WorldInputError)
        filter = check_filter(filter, WorldInputError)
        timeout = _seconds(timeout, "timeout")
        self.world, self.node, self.iface, self.filter = world, node, iface, filter
        self._packets = None
        self.pcap = b""
        self._stopped = False
        self.name = f"capture-{next(world._caps)}"
        if world._replayer is not None:
            self._replayed = world._replayer.capture(node, iface, filter)
            return
        world._check_node(node)
        agent = world._live()
        self._sniff = world.mode == "userns"
        self._ops = ("sniff_peek", "sniff_stop") if self._sniff else ("peek", "stop")
        if self._sniff:
            res = agent.request("sniff_start", name=self.name, node=node, iface=iface)
            if res["rc"] != 0:
                raise CaptureError(f"could not capture on {node}:{iface}: {res['stderr']}")
            return
        argv = ["ip", "netns", "exec", node, "tcpdump", "-i", iface, "-n", "-U", "-w", "-",
                "--immediate-mode", "-Z", "root"] + (["--", filter] if filter else [])
        res = agent.request("start", name=self.name, argv=argv)
        if res["rc"] != 0:
            raise CaptureError(f"could not start tcpdump on {node}:{iface}: {res['stderr']}")
        deadline = time.monotonic() + timeout
        while True:  # wait until tcpdump's socket is attached
            peek = agent.request("peek", name=self.name)
            if "listening on" in peek["stderr"]:
                break
            if not peek["running"] or time.monotonic() > deadline:
                agent.request("stop", name=self.name, timeout=1)
                raise CaptureError(f"tcpdump on {node}:{iface} did not start: "
                                   f"{peek['stderr'].strip() or 'no message within %s s' % timeout}")
            time.sleep(0.005)

    def __enter__(self) -> "Capture":
        return self

    def __exit__(self, *exc) -> None:
        self._finish()

    @property
    def packets(self):
        """The captured packets as a scapy PacketList (parsed on first use; None while running)."""
        if self._stopped and self._packets is None:
            self._packets = parse_pcap(self.pcap)
        return self._packets

    def stop(self, settle: float = 0.03):
        """Stop tcpdump once its output stops growing; return the packets as a scapy PacketList."""
        self._finish(settle)
        return self.packets

    def _finish(self, settle: float = 0.03) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.world._replayer is not None:
            self.pcap = self._replayed
        else:
            agent = self.world._live()
            last, deadline = -1, time.monotonic() + 2
            while time.monotonic() < deadline:  # let packets still in flight reach the file
                size = agent.request(self._ops[0], name=self.name)["size"]
                if size == last:
                    break
                last = size
                time.sleep(settle)
            res = agent.request(self._ops[1], name=self.name, signal=int(signal.SIGINT), binary=True)
            self.pcap = base64.b64decode(res.get("stdout_b64", ""))
            if self._sniff and self.filter:
                self.pcap = self._filtered(self.pcap)
            if res["rc"] not in (0, -signal.SIGINT):
                raise CaptureError(f"tcpdump on {self.node}:{self.iface} failed: {res['stderr'].strip()}")
            self.world.transcript.append({"kind": "capture", "node": self.node, "iface": self.iface,
                                          "filter": self.filter, "pcap_b64": base64.b64encode(self.pcap).decode()})

    def _filtered(self, pcap: bytes) -> bytes:
        """Apply the capture filter to a finished capture, with tcpdump reading it (no privileges)."""
        p = subprocess.run(["tcpdump", "-r", "-", "-w", "-", "--", self.filter], input=pcap, capture_output=True)
        if p.returncode != 0:
            raise CaptureError(f"filter {self.filter!r} on {self.node}:{self.iface}: "
                               f"{p.stderr.decode(errors='replace').strip()}")
        return p.stdout

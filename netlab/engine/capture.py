"""Packet capture in a lab world: tcpdump in a node, packets back as a scapy PacketList.

::

    with w.capture("pc2", "eth0", "icmp") as cap:
        w.run("pc1", "ping -c 1 192.168.0.4")
    cap.packets.summary()

scapy is imported only when packets are parsed, so the engine itself runs on a
stdlib-only Python.
"""

from __future__ import annotations

import io

from ..inputs import quote
from .command import seconds
from .result import WorldInputError
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
    # scapy is imported here, on first use, so the engine runs on a stdlib-only Python.
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
    """A capture running on one interface of one node until :meth:`stop`; made by ``World.capture``.

    Where the packets come from is the world's backend's business (:meth:`.backend.Backend.capture_start`):
    tcpdump in the node, the agent's AF_PACKET socket in an unprivileged world, or a recording.
    """

    def __init__(self, world, name: str, node: str, iface: str, filter: str | None = None, timeout: float = 5):
        """Start capture NAME on NODE's IFACE of WORLD (NODE already checked by the world)."""
        check_ifname(iface, f"capture on {node}: interface", WorldInputError)
        filter = check_filter(filter, WorldInputError)
        timeout = seconds(timeout, "timeout")
        self.world, self.name, self.node, self.iface, self.filter = world, name, node, iface, filter
        self._packets = None
        self.pcap = b""
        self._stopped = False
        world.backend.capture_start(name, node, iface, filter, timeout)

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
        """Stop the capture once its output stops growing; return the packets as a scapy PacketList."""
        self._finish(settle)
        return self.packets

    def _finish(self, settle: float = 0.03) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.pcap = self.world.backend.capture_stop(self.name, settle)

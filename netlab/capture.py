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
import time


class CaptureError(RuntimeError):
    """tcpdump could not start or stop; the message quotes it."""


def parse_pcap(data: bytes):
    """pcap bytes -> scapy PacketList (an empty one for an empty capture)."""
    from scapy.plist import PacketList
    from scapy.utils import rdpcap
    if not data:
        return PacketList([], name="capture")
    return rdpcap(io.BytesIO(data))


class Capture:
    """tcpdump -U -w - running on one interface of one node until :meth:`stop`."""

    def __init__(self, world, node: str, iface: str, filter: str | None = None, timeout: float = 5):
        self.world, self.node, self.iface, self.filter = world, node, iface, filter
        self.packets = None
        self.pcap = b""
        self._stopped = False
        self.name = f"capture-{next(world._caps)}"
        if world._replayer is not None:
            self._replayed = world._replayer.capture(node, iface, filter)
            return
        world._check_node(node)
        if "tcpdump" in world.probe.unavailable and world.mode == "userns":
            raise CaptureError(f"captures do not work in this unprivileged world"
                               f" ({world.probe.unavailable['tcpdump']}); run the lab as root to capture")
        argv = ["ip", "netns", "exec", node, "tcpdump", "-i", iface, "-n", "-U", "-w", "-",
                "--immediate-mode", "-Z", "root"] + ([filter] if filter else [])
        agent = world._live()
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
        if not self._stopped:
            self.stop()

    def stop(self, settle: float = 0.03):
        """Stop tcpdump once its output stops growing; return the packets as a scapy PacketList."""
        if self._stopped:
            return self.packets
        self._stopped = True
        if self.world._replayer is not None:
            self.pcap = self._replayed
        else:
            agent = self.world._live()
            last, deadline = -1, time.monotonic() + 2
            while time.monotonic() < deadline:  # let packets still in flight reach the file
                size = agent.request("peek", name=self.name)["size"]
                if size == last:
                    break
                last = size
                time.sleep(settle)
            res = agent.request("stop", name=self.name, signal=int(signal.SIGINT), binary=True)
            self.pcap = base64.b64decode(res.get("stdout_b64", ""))
            if res["rc"] not in (0, -signal.SIGINT):
                raise CaptureError(f"tcpdump on {self.node}:{self.iface} failed: {res['stderr'].strip()}")
            self.world.transcript.append({"kind": "capture", "node": self.node, "iface": self.iface,
                                          "filter": self.filter, "pcap_b64": base64.b64encode(self.pcap).decode()})
        self.packets = parse_pcap(self.pcap)
        return self.packets

"""A small flanneld with the UDP backend: a TUN device, a lease in the store, a forwarding loop.

What it does, in the order the real flanneld does it (flannel-io/flannel ``pkg/backend/udp``):

1. read the network config at ``/coreos.com/network/config``;
2. lease a subnet for this node: reuse one that already carries our PublicIP (a restart), else
   create the lowest free /24 with ``prevExist=false`` so two nodes can never take the same one
   (the real flanneld picks a random free one; lowest-free keeps the book's output fixed);
3. create ``flannel0``: open ``/dev/net/tun`` with ``IFF_TUN | IFF_NO_PI`` (raw IP packets, no
   4-byte header), give it the lease's first address with the overlay's prefix (``100.96.1.0/16``),
   MTU = external MTU - 28 (20 IP + 8 UDP), and bring it up. Then add the route to the whole
   overlay, ``ip route add 100.96.0.0/16 dev flannel0 scope global``, as ``configureIface`` does (netlink
   RouteAdd), tolerating "File exists": with a /16 address the kernel has already added
   ``100.96.0.0/16 dev flannel0 proto kernel scope link src 100.96.1.0`` (flannel up to v0.10,
   the seed's output). Since v0.11 flannel gives flannel0 a /32 (``tun_prefix32``), so the
   kernel adds nothing and the route is flanneld's own;
4. watch the store for other nodes' leases (an etcd v2 long poll) and keep a table
   subnet -> PublicIP;
5. forward, as ``proxy_amd64.c`` does: a packet read from flannel0 goes, TTL decremented, in a
   UDP datagram to port 8285 of the node owning its destination (``tun_to_udp``); a datagram
   received on 8285 has its inner TTL decremented again and is written to flannel0
   (``udp_to_tun``). A packet whose TTL runs out is dropped without an ICMP error. No owner: an
   ICMP "net unreachable" (from flannel0's address, TTL 8) is written back into flannel0, except
   when the packet is itself ICMP (RFC 792: no ICMP about ICMP) or a non-first fragment: then
   nothing at all (``send_net_unreachable``).

Each packet thus enters user space once on each node: ``read(tun)`` then ``sendto(udp)`` on the
sender, ``recvfrom(udp)`` then ``write(tun)`` on the receiver. The counters count those calls.

Without real root ``/dev/net/tun`` cannot be opened (it belongs to the machine's root, not to a
user namespace's). Then the daemon uses a stand-in (``--tun-standin veth``, or automatically): a veth
pair whose end ``flannel0`` carries the address and the route, like the TUN device, and whose
other end ``flannel0-raw`` the daemon reads and writes through an AF_PACKET socket, taking off and
putting on the 14-byte Ethernet header. The kernel's side of the lesson is the same.

Steps 1, 2 and 4 (config, lease, watching the other leases) and the daemon's life are the shared
skeleton's (:mod:`.subnet`); this module is what the UDP backend adds: flannel0 and the loop.
"""

from __future__ import annotations

import array
import errno
import fcntl
import ipaddress
import os
import select
import signal
import socket
import struct
import subprocess
from dataclasses import dataclass

from ..packets.flannel import DEFAULT_PORT, ENCAP_OVERHEAD
from .subnet import Daemon, FlannelError

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
SOCKET_BUFFER = 4 * 1024 * 1024  # bytes asked for SO_RCVBUF/SO_SNDBUF (the kernel's default is 208 KiB)
TXQUEUELEN = 5000  # packets flannel0 may queue for the daemon (a TUN device's default is 500)
ETH_P_IP = 0x0800
PACKET_OUTGOING = 4  # sll_pkttype of a frame the socket itself sent
SIOCETHTOOL, ETHTOOL_STXCSUM = 0x8946, 0x17  # <linux/sockios.h>, <linux/ethtool.h>
SO_SNDBUFFORCE, SO_RCVBUFFORCE = 32, 33  # <asm-generic/socket.h>; Python's socket module lacks them


# ------------------------------------------------------------------- packets
def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def decrement_ttl(packet: bytes) -> bytes | None:
    """The packet with TTL - 1 and its header checksum fixed, or None when the TTL runs out.

    The checksum is updated, not recomputed (RFC 1141, as Linux's ``ip_decrease_ttl``): the TTL is
    the high byte of one 16-bit word, so the sum drops by 0x0100 and the checksum grows by it.
    """
    if packet[8] <= 1:
        return None
    check = int.from_bytes(packet[10:12], "big") + 0x0100
    check = (check + (check >= 0xFFFF)) & 0xFFFF
    return packet[:8] + bytes([packet[8] - 1]) + packet[9:10] + check.to_bytes(2, "big") + packet[12:]


def no_error_reason(packet: bytes) -> str | None:
    """Why ``send_net_unreachable`` sends nothing about PACKET, or None when it answers.

    flannel's ``proxy_amd64.c`` returns without a reply for a header it deems malformed (60 bytes or
    more: its buffer holds 20 + MAX_IPOPTLEN 40, and it tests ``>=``), for any ICMP packet, echo
    requests included ("RFC 792 instructs not to send ICMPs about ICMPs"), and for every fragment
    but the first (a non-zero fragment offset).
    """
    ihl = (packet[0] & 0x0F) * 4
    if ihl >= 60:
        return f"its IP header of {ihl} bytes looks malformed to flannel"
    if packet[9] == 1:
        return "it is ICMP, and flannel sends no ICMP error about ICMP (RFC 792)"
    if int.from_bytes(packet[6:8], "big") & 0x1FFF:
        return "it is not the first fragment, and ICMP errors are sent only for the first"
    return None


def net_unreachable(packet: bytes, source: str) -> bytes | None:
    """ICMP destination unreachable, code 0 (net), from SOURCE back to the packet's sender, or None.

    As ``send_net_unreachable`` in flannel's ``proxy_amd64.c``: TTL 8, the offender's IP header and
    first 8 payload bytes quoted; None where flannel sends nothing (:func:`no_error_reason`).
    """
    if no_error_reason(packet) is not None:
        return None
    ihl = (packet[0] & 0x0F) * 4
    quoted = packet[:ihl + 8]
    icmp = bytearray(struct.pack("!BBHI", 3, 0, 0, 0) + quoted)
    icmp[2:4] = struct.pack("!H", checksum(bytes(icmp)))
    total = 20 + len(icmp)
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0, 8, 1, 0,
                               socket.inet_aton(source), packet[12:16]))
    ip[10:12] = struct.pack("!H", checksum(bytes(ip)))
    return bytes(ip) + bytes(icmp)


@dataclass
class Counters:
    """How often each crossing between kernel and the daemon happened."""

    tun_reads: int = 0
    udp_sends: int = 0
    udp_recvs: int = 0
    tun_writes: int = 0
    unreachable: int = 0
    ttl_expired: int = 0
    dropped_not_up: int = 0

    def text(self) -> str:
        """``tun_reads=3 udp_sends=3 ...``: the form ``kill -USR1`` logs and :func:`.lab.counters` parses."""
        return " ".join(f"{k}={v}" for k, v in self.__dict__.items())

    __str__ = text


@dataclass
class Decision:
    """What the daemon does with one packet: ``send`` (to a node), ``reply`` (into the TUN) or ``drop``."""

    action: str
    data: bytes = b""
    peer: tuple[str, int] | None = None
    reason: str = ""


def lookup(routes: dict, dst: str) -> str | None:
    """PublicIP of the node whose lease holds DST (longest prefix first), or None."""
    addr = ipaddress.IPv4Address(dst)
    best = None
    for subnet, ip in routes.items():
        if addr in subnet and (best is None or subnet.prefixlen > best[0].prefixlen):
            best = (subnet, ip)
    return best[1] if best else None


def decide(packet: bytes, routes: dict, tun_address: str, port: int = DEFAULT_PORT) -> Decision:
    """The forwarding decision for one packet read from flannel0 (pure: no sockets)."""
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return Decision("drop", reason="not an IPv4 packet")
    dst = socket.inet_ntoa(packet[16:20])
    peer = lookup(routes, dst)
    if peer is None:
        src = socket.inet_ntoa(packet[12:16])
        why = no_error_reason(packet)
        if why is not None:
            return Decision("drop", reason=f"no lease holds {dst}: dropped {src} > {dst} without a reply, as {why}")
        return Decision("reply", net_unreachable(packet, tun_address),
                        reason=f"no lease holds {dst}: ICMP net unreachable from {tun_address} to {src}")
    out = decrement_ttl(packet)
    if out is None:
        return Decision("drop", reason=f"TTL expired for {dst}")
    return Decision("send", out, (peer, port), reason=f"{dst} -> {peer}:{port}")


def decide_from_udp(packet: bytes) -> Decision:
    """What happens to a datagram's payload received on port 8285: TTL - 1, then into flannel0.

    As ``udp_to_tun`` in ``proxy_amd64.c``: the receiving daemon decrements the TTL too, so a packet
    loses two in the daemons besides the two kernels' forwards (64 - 4 = 60 container to container).
    """
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return Decision("drop", reason="not an IPv4 packet")
    out = decrement_ttl(packet)
    if out is None:
        return Decision("drop", reason=f"TTL expired for {socket.inet_ntoa(packet[16:20])}")
    return Decision("write", out)


# ------------------------------------------------------------------- flannel0: TUN, or its stand-in
def open_tun(name: str = "flannel0") -> int:
    """Create (or attach to) TUN device NAME with IFF_TUN | IFF_NO_PI; returns the file descriptor."""
    fd = os.open("/dev/net/tun", os.O_RDWR)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd


class TunDevice:
    """flannel0 as flannel makes it: a TUN device; each read or write is one bare IP packet."""

    kind = "tun"

    def __init__(self, name: str = "flannel0"):
        self.name = name
        self.fd = open_tun(name)
        os.set_blocking(self.fd, False)

    def describe(self) -> str:
        return f"opened /dev/net/tun as {self.name} (IFF_TUN|IFF_NO_PI)"

    def fileno(self) -> int:
        return self.fd

    def read(self) -> bytes | None:
        """One IP packet, or None when none is waiting."""
        try:
            return os.read(self.fd, 65535)
        except BlockingIOError:
            return None

    def write(self, packet: bytes) -> None:
        os.write(self.fd, packet)

    def close(self) -> None:
        os.close(self.fd)  # flannel0 is not persistent: it goes with the descriptor


class VethStandin:
    """flannel0 where /dev/net/tun cannot be opened: a veth pair NAME <-> NAME-raw in this namespace.

    NAME gets the address and the route, like the TUN device, and no ARP (a TUN device has none
    either: the kernel then sends every frame to NAME's own MAC). NAME's checksum offload is turned
    off (``ethtool -K NAME tx off``), which also turns off its segmentation offload: the kernel then
    finishes every checksum and cuts TCP into MTU-sized packets before they leave NAME, as it does
    for a TUN device; a veth would otherwise pass 64 KiB TCP chunks with half-made checksums. The daemon holds an AF_PACKET socket
    on the other end: what the kernel sends into NAME comes out there as an Ethernet frame, whose
    14-byte header the daemon strips; a packet for the kernel gets a header put on (destination
    NAME's MAC, type IPv4) and is sent into the raw end, so it arrives on NAME.
    """

    kind = "veth"

    def __init__(self, name: str = "flannel0", reason: str = ""):
        self.name, self.peer, self.reason = name, f"{name}-raw", reason
        for cmd in (f"ip link add {name} type veth peer name {self.peer}",
                    f"ip link set dev {name} arp off", f"ip link set dev {self.peer} up"):
            _ip(cmd)
        _tx_checksum_off(name)
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
        self.sock.bind((self.peer, ETH_P_IP))
        self.sock.setblocking(False)
        self.header = (_mac(name) + _mac(self.peer) + struct.pack("!H", ETH_P_IP))

    def describe(self) -> str:
        return (f"{self.reason}: using the stand-in, a veth pair {self.name} <-> {self.peer};"
                f" the daemon reads and writes raw IP on {self.peer} through an AF_PACKET socket")

    def fileno(self) -> int:
        return self.sock.fileno()

    def read(self) -> bytes | None:
        """One IP packet the kernel sent into NAME (Ethernet header stripped), or None."""
        while True:
            try:
                frame, addr = self.sock.recvfrom(65535)
            except BlockingIOError:
                return None
            if addr[2] != PACKET_OUTGOING:  # not our own writes, which the socket sees leave
                return frame[14:]

    def write(self, packet: bytes) -> None:
        self.sock.send(self.header + packet)

    def close(self) -> None:
        self.sock.close()
        subprocess.run(["ip", "link", "del", self.name], capture_output=True)  # the pair goes as one


def _ip(cmd: str) -> None:
    res = subprocess.run(cmd.split(), capture_output=True, text=True)
    if res.returncode:
        raise FlannelError(f"`{cmd}` failed: {res.stderr.strip()}")


def _tx_checksum_off(ifname: str) -> None:
    """``ethtool -K IFNAME tx off`` through the ethtool ioctl (the ethtool program may be missing)."""
    value = array.array("I", [ETHTOOL_STXCSUM, 0])  # struct ethtool_value {cmd, data}
    ifreq = struct.pack("16sP", ifname.encode(), value.buffer_info()[0])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s, SIOCETHTOOL, ifreq)


def _mac(ifname: str) -> bytes:
    with open(f"/sys/class/net/{ifname}/address") as f:
        return bytes.fromhex(f.read().strip().replace(":", ""))


def open_flannel0(name: str = "flannel0", standin: str = "auto"):
    """flannel0 as a TUN device; with STANDIN "auto", the veth stand-in if /dev/net/tun cannot be
    opened; with "veth", the stand-in whatever the machine allows; with "no", TUN or an error."""
    if standin == "veth":
        return VethStandin(name, "the stand-in was asked for (--tun-standin veth)")
    try:
        return TunDevice(name)
    except OSError as e:
        if standin == "no":
            raise FlannelError(f"cannot open /dev/net/tun: {e.strerror}") from None
        why = ("it belongs to the machine's real root, and this is a user namespace"
               if e.errno in (errno.EPERM, errno.EACCES) else "the machine has no TUN driver")
        return VethStandin(name, f"cannot open /dev/net/tun ({e.strerror}: {why})")


def set_buffers(sock: socket.socket, size: int = SOCKET_BUFFER) -> tuple[int, int]:
    """Ask for SIZE-byte receive and send buffers; returns what the kernel granted (it doubles the ask).

    SO_RCVBUFFORCE/SO_SNDBUFFORCE pass net.core.rmem_max/wmem_max but need CAP_NET_ADMIN over the
    machine (real root); otherwise SO_RCVBUF/SO_SNDBUF, which the kernel caps at those maxima.
    """
    for force, plain in ((SO_RCVBUFFORCE, socket.SO_RCVBUF), (SO_SNDBUFFORCE, socket.SO_SNDBUF)):
        try:
            sock.setsockopt(socket.SOL_SOCKET, force, size)
        except PermissionError:
            sock.setsockopt(socket.SOL_SOCKET, plain, size)
    return (sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF),
            sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))


class Flanneld(Daemon):
    """flanneld's UDP backend for one node: flannel0, a UDP socket, and the loop between them."""

    BACKEND = "udp"
    DEFAULT_PORT = DEFAULT_PORT
    OVERHEAD = ENCAP_OVERHEAD
    BATCH = 64  # packets handled from one side before looking at the other again

    def __init__(self, store, iface: str = "eth0", public_ip: str | None = None, subnet: str | None = None,
                 tun_name: str = "flannel0", mtu: int | None = None, log_path: str | None = None,
                 tun_standin: str = "auto", tun_prefix32: bool = False):
        super().__init__(store, iface, public_ip, subnet, mtu, log_path)
        self.tun_name = tun_name
        self.tun_standin = tun_standin  # "auto": TUN, else the veth stand-in; "veth": the stand-in; "no": TUN only
        self.tun_prefix32 = tun_prefix32  # flannel >= v0.11: flannel0 gets a /32, so only our RouteAdd makes the route
        self.counters = Counters()

    @property
    def routes(self) -> dict:
        """{subnet: PublicIP}: where the loop sends a packet for each other node's subnet."""
        return self.peers

    # -- start up
    def config_text(self) -> str:
        return f"backend {self.config.backend} on UDP {self.port}"

    def configure(self) -> None:
        self.tun_address = str(self.lease.network_address)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rcv, snd = set_buffers(self.sock)
        self.sock.bind((self.public_ip, self.port))
        self.sock.setblocking(False)
        self.log(f"listening on UDP {self.public_ip}:{self.port} (socket buffers {rcv} bytes in, {snd} out)")
        self.dev = open_flannel0(self.tun_name, self.tun_standin)
        self.log(self.dev.describe())
        self.configure_iface()

    def configure_iface(self) -> None:
        """Address, MTU, up, then the route to the whole overlay, as flannel's ``configureIface``.

        flannel adds the route itself (netlink RouteAdd, scope universe) "since there might be a route
        for a subnet already installed by Docker and then it won't get auto added", and takes EEXIST
        as success. With the overlay's prefix on the address the kernel's own prefix route is there
        first, so the add finds "File exists"; with a /32 (flannel >= v0.11) the add makes the route.
        """
        prefix = 32 if self.tun_prefix32 else self.config.network.prefixlen
        self.sh(f"ip addr add {self.tun_address}/{prefix} dev {self.tun_name}")
        self.sh(f"ip link set dev {self.tun_name} mtu {self.mtu} txqueuelen {TXQUEUELEN} up")
        cmd = f"ip route add {self.config.network} dev {self.tun_name} scope global"  # SCOPE_UNIVERSE, as flannel
        self.log(f"$ {cmd}")
        res = subprocess.run(cmd.split(), capture_output=True, text=True)
        if res.returncode and "File exists" not in res.stderr:
            raise FlannelError(f"`{cmd}` failed: {res.stderr.strip()}")
        if res.returncode:
            self.log(f"{res.stderr.strip()}: the kernel added that route with the address; taken as success,"
                     f" as flannel takes EEXIST")

    def started(self) -> None:
        if self.log_path:  # so that `kill -USR1 $(cat NODE.pid)` can ask for the counters
            with open(os.path.splitext(self.log_path)[0] + ".pid", "w") as f:
                f.write(f"{os.getpid()}\n")

    def add_peer(self, subnet, public_ip: str) -> None:
        self.log(f"lease {subnet} -> {public_ip}: forwarding to {public_ip}:{self.port}")

    def remove_peer(self, subnet, public_ip: str) -> None:
        self.log(f"lease {subnet} gone: no longer forwarding")

    # -- the loop
    def forward_from_tun(self) -> None:
        """Up to BATCH packets from flannel0: each goes to its node in a datagram (or an ICMP error back)."""
        for _ in range(self.BATCH):
            packet = self.dev.read()
            if packet is None:
                return
            self.counters.tun_reads += 1
            d = decide(packet, self.routes, self.tun_address, self.port)
            if d.action == "send":
                try:
                    self.sock.sendto(d.data, d.peer)
                    self.counters.udp_sends += 1
                except OSError as e:
                    self.log(f"sendto {d.peer[0]}: {e.strerror}")
            elif d.action == "reply":
                self.counters.unreachable += 1
                self.log(d.reason)
                self.write_tun(d.data)
            elif "TTL" in d.reason:
                self.counters.ttl_expired += 1
            elif d.reason.startswith("no lease"):
                self.log(d.reason)

    def write_tun(self, data: bytes) -> None:
        try:
            self.dev.write(data)
            self.counters.tun_writes += 1
        except OSError as e:
            if e.errno not in (errno.EIO, errno.ENETDOWN, errno.EAGAIN):
                raise
            self.counters.dropped_not_up += 1  # EIO/ENETDOWN: not up (yet); EAGAIN: its queue is full
            self.log(f"{self.tun_name} did not take a packet ({e.strerror}): dropped it")

    def forward_from_udp(self) -> None:
        """Up to BATCH datagrams from other nodes: each one's payload, TTL decremented, into flannel0."""
        for _ in range(self.BATCH):
            try:
                data = self.sock.recv(65535)
            except BlockingIOError:
                return
            self.counters.udp_recvs += 1
            d = decide_from_udp(data)
            if d.action == "write":
                self.write_tun(d.data)
            elif "TTL" in d.reason:
                self.counters.ttl_expired += 1

    def run(self) -> None:
        signal.signal(signal.SIGUSR1, lambda s, f: self.log(f"counters: {self.counters}"))
        super().run()

    def serve(self) -> None:
        while not self.stopping:
            try:
                ready, _, _ = select.select([self.dev, self.sock, self.wake_r], [], [])
            except InterruptedError:
                continue
            if self.dev in ready:
                self.forward_from_tun()
            if self.sock in ready:
                self.forward_from_udp()

    def device_text(self) -> str:
        return f"{self.tun_name} {self.tun_address}/{self.config.network.prefixlen} mtu {self.mtu}"

    def what_stays(self) -> str:
        return f"{self.tun_name} goes away with its file descriptor"

    def shutdown(self) -> None:
        self.log(f"counters: {self.counters}")
        super().shutdown()
        self.dev.close()

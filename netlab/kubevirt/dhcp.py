"""virt-launcher's single-client DHCP server, rebuilt small in the standard library.

KubeVirt's (kubevirt/kubevirt ``pkg/network/dhcp/server/server.go``, ``SingleClientDHCPServer``)
listens on the in-pod bridge, UDP port 67 (``NewUDP4FilterListener(serverIface, ":67")``), and
answers one client only: a request whose client hardware address is not the VM's MAC gets no
reply (``ServeDHCP``: "The request is not from our client"). DISCOVER gets an OFFER and REQUEST an
ACK, both for the one address it was started with (the pod's, in the bridge binding:
``pkg/network/setup/netpod/discoverbridge.go``; 10.0.2.2 in the masquerade binding:
``pkg/network/dhcp/masquerade.go``), with a 999-day lease (``infiniteLease``) and the options
``prepareDHCPOptions`` builds: subnet mask (1), router (3), DNS servers (6), hostname (12),
interface MTU (26) and classless static routes (121, RFC 3442, the default route last as
``sortRoutes`` puts it). The reply is built as krolaw/dhcp4's ``ReplyPacket`` builds it (xid, flags,
yiaddr, giaddr and chaddr of the request; message type 53, server identifier 54, lease time 51,
then the options) and padded to the minimum BOOTP size; KubeVirt's Go map gives the options in any
order, this server gives them in numeric order so the bytes are the same on every run.

Run in a node as ``python3 -m netlab.kubevirt.dhcp --iface k6t-eth0 --server-ip 169.254.75.10
--client-mac ... --client-ip 10.244.1.2/24 --router 10.244.1.1 ...``; standard library only.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import struct
import sys

from ..inputs import quote
from .names import KubevirtError

SERVER_PORT, CLIENT_PORT = 67, 68
MAGIC = b"\x63\x82\x53\x63"
LEASE_SECONDS = 999 * 24 * 3600  # infiniteLease = 999 * 24 * time.Hour
MIN_SIZE = 272  # krolaw/dhcp4 PadToMinSize: 236-byte BOOTP header + magic + 32 bytes
DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE = 1, 2, 3, 4, 5, 6, 7
MESSAGE_TYPES = {1: "DISCOVER", 2: "OFFER", 3: "REQUEST", 4: "DECLINE", 5: "ACK", 6: "NAK", 7: "RELEASE",
                 8: "INFORM"}
OPTION_NAMES = {1: "subnet mask", 3: "router", 6: "DNS servers", 12: "hostname", 15: "domain name",
                26: "interface MTU", 50: "requested address", 51: "lease time", 53: "message type",
                54: "server identifier", 55: "parameter request list", 57: "max message size",
                61: "client identifier", 121: "classless static routes"}
SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)


def _ipv4(value, what: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(value)
    except (ValueError, TypeError):
        raise KubevirtError(f"{what} must be an IPv4 address such as '10.244.1.1', not {quote(value)}") from None


def _mac(value, what: str = "the VM's MAC") -> bytes:
    parts = value.split(":") if isinstance(value, str) else []
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts):
        raise KubevirtError(f"{what} must be six hex pairs such as '0a:58:0a:f4:01:02', not {quote(value)}")
    return bytes(int(p, 16) for p in parts)


def classless_routes(routes) -> bytes:
    """Option 121's value (RFC 3442) for ``[(destination CIDR, gateway), ...]``, the default route last.

    Each route is the prefix length, the destination's significant octets, the gateway: as
    KubeVirt's ``formClasslessRoutes``; ``0.0.0.0/0`` via 10.244.1.1 is ``00 0a f4 01 01``.
    """
    out, default = b"", b""
    for dst, gw in routes:
        try:
            net = ipaddress.IPv4Network(dst)
        except (ValueError, TypeError):
            raise KubevirtError(f"a route's destination must be an IPv4 network such as '10.1.0.0/16',"
                                f" not {quote(dst)}") from None
        width = net.prefixlen
        entry = bytes([width]) + net.network_address.packed[:(width + 7) // 8] + _ipv4(gw, "a route's gateway").packed
        if width == 0:
            default += entry
        else:
            out += entry
    return out + default


class Config:
    """What the server hands out: one client's MAC and address, and the options KubeVirt sends.

    ``client_ip`` carries its prefix (``10.244.1.2/24``): the prefix becomes option 1.
    """

    def __init__(self, client_mac: str, client_ip: str, server_ip: str, router: str | None = None,
                 dns=("10.96.0.10",), routes=(), mtu: int = 1450, hostname: str = "testvm"):
        self.client_mac = _mac(client_mac)
        try:
            self.client = ipaddress.IPv4Interface(client_ip)
        except (ValueError, TypeError):
            raise KubevirtError(f"the client's address must be IPv4 with its prefix, such as '10.244.1.2/24',"
                                f" not {quote(client_ip)}") from None
        if "/" not in str(client_ip):
            raise KubevirtError(f"the client's address {quote(client_ip)} needs its prefix (e.g. '10.244.1.2/24'):"
                                f" the prefix becomes option 1, the subnet mask")
        self.server_ip = _ipv4(server_ip, "the server's address")
        self.router = _ipv4(router, "the router") if router else None
        self.dns = [_ipv4(d, "a DNS server") for d in dns]
        self.routes = classless_routes(routes)
        if not isinstance(mtu, int) or isinstance(mtu, bool) or not 68 <= mtu <= 65535:
            raise KubevirtError(f"the MTU must be a whole number from 68 to 65535, not {quote(mtu)}")
        self.mtu = mtu
        if not isinstance(hostname, str) or not hostname or len(hostname) > 63:
            raise KubevirtError(f"the hostname must be 1 to 63 characters, not {quote(hostname)}")
        self.hostname = hostname

    def options(self) -> dict[int, bytes]:
        """The options every reply carries beyond 53, 54 and 51, as ``prepareDHCPOptions`` builds them."""
        opts = {1: self.client.netmask.packed, 6: b"".join(d.packed for d in self.dns),
                12: self.hostname.encode(), 26: struct.pack("!H", self.mtu)}
        if self.router:
            opts[3] = self.router.packed
        if self.routes:
            opts[121] = self.routes
        return dict(sorted(opts.items()))


def parse(data: bytes) -> dict:
    """A BOOTP/DHCP message as a dict: op, xid, flags, ciaddr, yiaddr, giaddr, chaddr, options, type."""
    if not isinstance(data, (bytes, bytearray)) or len(data) < 240 or data[236:240] != MAGIC:
        raise KubevirtError("not a DHCP message: it needs the 236-byte BOOTP header and the magic cookie 63 82 53 63")
    op, htype, hlen, hops, xid, secs, flags = struct.unpack("!BBBBIHH", data[:12])
    msg = {"op": op, "xid": xid, "secs": secs, "flags": flags,
           "ciaddr": str(ipaddress.IPv4Address(data[12:16])), "yiaddr": str(ipaddress.IPv4Address(data[16:20])),
           "siaddr": str(ipaddress.IPv4Address(data[20:24])), "giaddr": str(ipaddress.IPv4Address(data[24:28])),
           "chaddr": data[28:28 + min(hlen, 16)], "options": {}}
    i = 240
    while i < len(data):
        code = data[i]
        if code == 0:
            i += 1
            continue
        if code == 255 or i + 1 >= len(data):
            break
        n = data[i + 1]
        msg["options"][code] = bytes(data[i + 2:i + 2 + n])
        i += 2 + n
    mt = msg["options"].get(53, b"\0")
    msg["type"] = MESSAGE_TYPES.get(mt[0], f"type {mt[0]}") if mt else "none"
    return msg


def reply(request: bytes, config: Config) -> bytes | None:
    """The server's answer to one request, or None: KubeVirt's ``ServeDHCP`` as bytes.

    Not our client (another chaddr), not a BOOTREQUEST, or a type other than DISCOVER or REQUEST:
    no answer. DISCOVER: OFFER. REQUEST: ACK (KubeVirt acknowledges any REQUEST from its client).
    """
    try:
        msg = parse(request)
    except KubevirtError:
        return None
    if msg["op"] != 1 or msg["chaddr"][:6] != config.client_mac:
        return None
    kind = {DISCOVER: OFFER, REQUEST: ACK}.get(msg["options"].get(53, b"\0")[0])
    if kind is None:
        return None
    head = struct.pack("!BBBBIHH", 2, 1, 6, 0, msg["xid"], 0, msg["flags"])
    head += bytes(4) + config.client.ip.packed + bytes(4) + ipaddress.IPv4Address(msg["giaddr"]).packed
    head += config.client_mac + bytes(10) + bytes(64) + bytes(128)
    opts = {53: bytes([kind]), 54: config.server_ip.packed, 51: struct.pack("!I", LEASE_SECONDS), **config.options()}
    body = b"".join(bytes([code, len(v)]) + v for code, v in opts.items()) + b"\xff"
    packet = head + MAGIC + body
    return packet + bytes(max(0, MIN_SIZE - len(packet)))


def describe_options(options: dict) -> list[tuple[int, str, str]]:
    """``(code, name, value as text)`` for a parsed message's options, for the chapter's tables."""
    rows = []
    for code, v in options.items():
        if code in (1, 3, 50, 54) and len(v) == 4:
            text = str(ipaddress.IPv4Address(v))
        elif code == 6:
            text = ", ".join(str(ipaddress.IPv4Address(v[i:i + 4])) for i in range(0, len(v) - 3, 4))
        elif code == 53:
            text = MESSAGE_TYPES.get(v[0], str(v[0])) if v else ""
        elif code in (26, 57) and len(v) == 2:
            text = str(struct.unpack("!H", v)[0])
        elif code == 51 and len(v) == 4:
            secs = struct.unpack("!I", v)[0]
            text = f"{secs} s ({secs // 86400} days)"
        elif code in (12, 15):
            text = v.decode("ascii", "replace")
        elif code == 121:
            text = "; ".join(f"{dst} via {gw}" for dst, gw in _routes_of(v))
        else:
            text = v.hex(" ")
        rows.append((code, OPTION_NAMES.get(code, ""), text))
    return rows


def _routes_of(v: bytes):
    i = 0
    while i < len(v):
        width = v[i]
        n = (width + 7) // 8
        dst = ipaddress.IPv4Network((bytes(v[i + 1:i + 1 + n]) + bytes(4 - n), width))
        gw = ipaddress.IPv4Address(v[i + 1 + n:i + 5 + n])
        yield str(dst), str(gw)
        i += 5 + n


def serve(iface: str, config: Config, once: bool = False) -> None:
    """Listen on IFACE port 67 and answer the one client until killed (``once``: after one ACK).

    Replies go to 255.255.255.255:68 out of IFACE, as krolaw/dhcp4 sends them to a client that has
    no address yet (its ciaddr is 0.0.0.0), so no ARP is needed.
    """
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, iface.encode())
    s.bind(("", SERVER_PORT))
    print(f"dhcp: serving {config.client.ip} to {config.client_mac.hex(':')} on {iface}:{SERVER_PORT}", flush=True)
    while True:
        data, _ = s.recvfrom(2048)
        answer = reply(data, config)
        msg = parse(data) if len(data) >= 240 and data[236:240] == MAGIC else None
        if answer is None:
            if msg:
                print(f"dhcp: ignored {msg['type']} from {msg['chaddr'][:6].hex(':')}", flush=True)
            continue
        out = parse(answer)
        s.sendto(answer, ("255.255.255.255", CLIENT_PORT))
        print(f"dhcp: {msg['type']} from {msg['chaddr'][:6].hex(':')} -> {out['type']} {out['yiaddr']}", flush=True)
        if once and out["type"] == "ACK":
            return


def command(iface: str, config_args: dict) -> list[str]:
    """The argv that starts this server in a node (``world.start(node, command(...))``)."""
    argv = ["python3", "-m", "netlab.kubevirt.dhcp", "--iface", iface]
    for key, value in config_args.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            for v in value:
                argv += [f"--{key.replace('_', '-')}", v if isinstance(v, str) else "=".join(v)]
        else:
            argv += [f"--{key.replace('_', '-')}", str(value)]
    return argv


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m netlab.kubevirt.dhcp", description=__doc__.split("\n")[0])
    p.add_argument("--iface", required=True)
    p.add_argument("--client-mac", required=True)
    p.add_argument("--client-ip", required=True)
    p.add_argument("--server-ip", required=True)
    p.add_argument("--router")
    p.add_argument("--dns", action="append")
    p.add_argument("--routes", action="append", default=[], help="DST=GATEWAY")
    p.add_argument("--mtu", type=int, default=1450)
    p.add_argument("--hostname", default="testvm")
    p.add_argument("--once", action="store_true")
    a = p.parse_args(argv)
    try:
        config = Config(a.client_mac, a.client_ip, a.server_ip, a.router, a.dns or ["10.96.0.10"],
                        [r.split("=", 1) for r in a.routes], a.mtu, a.hostname)
        serve(a.iface, config, a.once)
    except (KubevirtError, OSError) as e:
        print(f"dhcp: {e}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())

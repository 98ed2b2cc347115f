"""``python3 -m netlab.flannel``: the daemon, the embedded store, and a v2 etcdctl stand-in.

    python3 -m netlab.flannel udp --etcd http://10.168.0.1:2379 --iface eth0 [--subnet 100.96.1.0/24]
    python3 -m netlab.flannel vxlan --etcd http://10.168.0.1:2379 --iface eth0 [--vtep-mac 5e:f8:4f:00:e3:37] [--ip-masq]
    python3 -m netlab.flannel host-gw --etcd http://10.168.0.1:2379 --iface eth0 [--check-every 10]
    python3 -m netlab.flannel store --listen 10.168.0.1 --port 2379
    python3 -m netlab.flannel etcdctl --endpoints http://10.168.0.1:2379 ls|get|set KEY [VALUE]
    python3 -m netlab.flannel wait --etcd http://10.168.0.1:2379 [--key KEY] [--timeout 10]
"""

from __future__ import annotations

import argparse
import sys
import time

from .store import EtcdV2Client, StoreError, serve
from ..packets.vxlan import VXLAN_OVERHEAD
from .subnet import FlannelError
from .hostgw import ROUTE_CHECK_SECONDS, HostgwFlanneld
from .udp import ENCAP_OVERHEAD, Flanneld
from .vxlan import VxlanFlanneld


def _daemon_parser(sub, backend: str, help: str, device: str, overhead: int):
    """A daemon's subcommand with the options every backend takes."""
    d = sub.add_parser(backend, help=help)
    d.add_argument("--etcd", default="http://127.0.0.1:2379", help="the store's client URL")
    d.add_argument("--iface", default="eth0", help="the node's external interface")
    d.add_argument("--public-ip", help="the address other nodes send to (default: IFACE's)")
    d.add_argument("--subnet", help="ask for this subnet (as flanneld does with its previous subnet.env)")
    d.add_argument("--mtu", type=int, help=f"{device}'s MTU (default: IFACE's MTU - {overhead})")
    d.add_argument("--log", help="also append the log to this file")
    d.add_argument("--ip-masq", action="store_true",
                   help="install flannel's masquerade rules (FLANNEL-POSTRTG) and write FLANNEL_IPMASQ=true")
    return d


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python3 -m netlab.flannel", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    u = _daemon_parser(sub, "udp", "run flanneld with the UDP backend", "flannel0", ENCAP_OVERHEAD)
    u.add_argument("--tun-standin", choices=["auto", "veth", "no"], default="auto",
                   help="flannel0 as a veth pair read through AF_PACKET: when /dev/net/tun cannot be opened"
                        " (auto), always (veth) or never (no)")
    u.add_argument("--tun-prefix32", action="store_true",
                   help="give flannel0 a /32 address, as flannel does since v0.11 (the route is then flanneld's only)")
    x = _daemon_parser(sub, "vxlan", "run flanneld with the VXLAN backend (it only programs the kernel)",
                       "flannel.1", VXLAN_OVERHEAD)
    x.add_argument("--vtep-mac", help="flannel.1's MAC (default: the kernel's random one)")
    x.add_argument("--vni", type=int, help="override the config's VNI (to show a mismatch)")
    h = _daemon_parser(sub, "host-gw", "run flanneld with the host-gw backend (a route per remote node)",
                       "the routes", 0)
    h.add_argument("--check-every", type=float, default=ROUTE_CHECK_SECONDS,
                   help=f"seconds between two checks of the routes (flannel: {ROUTE_CHECK_SECONDS})")
    s = sub.add_parser("store", help="serve the embedded store (etcd's v2 keys API subset)")
    s.add_argument("--listen", default="0.0.0.0")
    s.add_argument("--port", type=int, default=2379)
    e = sub.add_parser("etcdctl", help="ls / get / set against the store, as etcdctl's v2 commands print")
    e.add_argument("--endpoints", default="http://127.0.0.1:2379")
    e.add_argument("verb", choices=["ls", "get", "set"])
    e.add_argument("key")
    e.add_argument("value", nargs="?")
    w = sub.add_parser("wait", help="wait until the store answers (and KEY exists)")
    w.add_argument("--etcd", default="http://127.0.0.1:2379")
    w.add_argument("--key")
    w.add_argument("--timeout", type=float, default=10)
    return p


def wait(args) -> int:
    client, deadline = EtcdV2Client(args.etcd, timeout=1), time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        try:
            if args.key is None and client.health() or args.key and client.get(args.key) is not None:
                return 0
        except StoreError:
            pass
        time.sleep(0.05)
    print(f"the store at {args.etcd} did not answer{' with ' + args.key if args.key else ''}"
          f" within {args.timeout:g} s", file=sys.stderr)
    return 1


def etcdctl(args) -> int:
    client = EtcdV2Client(args.endpoints)
    try:
        if args.verb == "ls":
            print("\n".join(client.ls(args.key)))
        elif args.verb == "get":
            value = client.get(args.key)
            if value is None:
                print(f"Error:  100: Key not found ({args.key})", file=sys.stderr)
                return 4
            print(value)
        else:
            client.set(args.key, args.value or "")
            print(args.value)
    except StoreError as err:
        print(f"Error: {err}", file=sys.stderr)
        return 4
    return 0


def flanneld(args) -> int:
    common = dict(iface=args.iface, public_ip=args.public_ip, subnet=args.subnet, mtu=args.mtu, log_path=args.log)
    if args.cmd == "host-gw":
        daemon = HostgwFlanneld(EtcdV2Client(args.etcd), check_every=args.check_every, **common)
    elif args.cmd == "vxlan":
        daemon = VxlanFlanneld(EtcdV2Client(args.etcd), vtep_mac=args.vtep_mac, vni=args.vni, **common)
    else:
        daemon = Flanneld(EtcdV2Client(args.etcd), tun_standin=args.tun_standin, tun_prefix32=args.tun_prefix32,
                          **common)
    daemon.ip_masq = args.ip_masq
    try:
        daemon.run()
    except (FlannelError, StoreError, OSError) as err:
        daemon.log(f"error: {err}")
        return 1
    return 0


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if args.cmd == "store":
        serve(args.listen, args.port)
        return 0
    return {"wait": wait, "etcdctl": etcdctl}.get(args.cmd, flanneld)(args)


if __name__ == "__main__":
    sys.exit(main())

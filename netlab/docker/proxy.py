"""docker-proxy as a small real process: the userland proxy behind ``docker run -p``.

With its default ``--userland-proxy=true``, dockerd's port mapper starts one ``docker-proxy``
per published port and host address family (moby/libnetwork ``portmapper/mapper.go`` and
``portmapper/proxy_linux.go``; the program is ``cmd/proxy`` there, ``cmd/docker-proxy`` in
moby/moby today), e.g. for ``-p 8080:80``::

    /usr/sbin/docker-proxy -proto tcp -host-ip 0.0.0.0 -host-port 8080 -container-ip 172.17.0.2 -container-port 80
    /usr/sbin/docker-proxy -proto tcp -host-ip :: -host-port 8080 -container-ip 172.17.0.2 -container-port 80

(the second because a container without IPv6 gets the host's IPv6 traffic through the proxy,
``drivers/bridge/port_mapping.go``; on a host with IPv6 switched off, as the book's nodes are,
docker.io 20.10.24 runs only the first, as ``tests/test_docker_engine.py`` sees). Each listens on the host's port and, for every connection,
opens its own to the container (``cmd/proxy/tcp_proxy.go``: copy both ways, half-close on EOF;
``udp_proxy.go``: one socket per client address, forgotten after 90 s). So the container sees the
proxy's address (docker0's, 172.17.0.1) as the client. It answers every request the nat rules let
through to the host's own stack: from a container (``-A DOCKER -i docker0 -j RETURN``) and to
127.0.0.1 (``-A OUTPUT ! -d 127.0.0.0/8 ...``).

With ``--userland-proxy=false`` the port mapper starts no proxy; it only binds the host's port
(``newDummyProxy``: listen, never accept) so no other program can take it, and the nat rules do
all the work (:func:`netlab.docker.bridge.docker_node` with ``userland_proxy=False``).

This module is that program, stdlib only, run in a node as
``python3 -m netlab.docker.proxy -proto tcp -host-ip 0.0.0.0 -host-port 8080 -container-ip
172.17.0.2 -container-port 80`` (docker-proxy's own flags; ``-dummy`` for the port-holding
listener). :func:`start_docker_proxy` starts what dockerd would for one published port;
:func:`published_port_paths` sends chapter 4's four requests and says which path answered each.
"""

from __future__ import annotations

import argparse
import html
import re
import select
import socket
import threading
import time
from dataclasses import dataclass

UDP_TIMEOUT = 90.0  # cmd/proxy/udp_proxy.go: UDPConnTrackTimeout
UDP_BUFFER = 65507  # cmd/proxy/udp_proxy.go: UDPBufSize


def _listener(proto: str, host_ip: str, host_port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:  # Go's listener on "::" beside one on 0.0.0.0: IPv6 only
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.bind((host_ip, host_port))
    if proto == "tcp":
        sock.listen(128)
    return sock


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    """Copy SRC to DST until EOF, then half-close DST's sending side (tcp_proxy.go's CloseWrite)."""
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    for sock, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
        try:
            sock.shutdown(how)
        except OSError:
            pass


def _serve_tcp(listener: socket.socket, backend: tuple[str, int]) -> None:
    while True:
        client, _ = listener.accept()
        try:
            upstream = socket.create_connection(backend, timeout=10)
            upstream.settimeout(None)
        except OSError as e:  # docker-proxy logs and drops the client
            print(f"Can't forward traffic to backend tcp/{backend[0]}:{backend[1]}: {e}", flush=True)
            client.close()
            continue

        def both(a=client, b=upstream):
            t = threading.Thread(target=_pipe, args=(b, a), daemon=True)
            t.start()
            _pipe(a, b)
            t.join()
            a.close()
            b.close()
        threading.Thread(target=both, daemon=True).start()


def _serve_udp(listener: socket.socket, backend: tuple[str, int]) -> None:
    """One upstream socket per client address; a reply goes back to that client.

    The listener is bound to 0.0.0.0, so a reply's source address is the one the kernel picks for
    the route back (docker0's 172.17.0.1 towards a container), whatever address the client asked.
    """
    upstreams: dict[tuple, tuple[socket.socket, float]] = {}
    while True:
        socks = [listener] + [s for s, _ in upstreams.values()]
        ready, _, _ = select.select(socks, [], [], 1.0)
        now = time.monotonic()
        for sock in ready:
            if sock is listener:
                data, client = listener.recvfrom(UDP_BUFFER)
                up = upstreams.get(client, (None, 0))[0] or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                upstreams[client] = (up, now)
                up.sendto(data, backend)
            else:
                client = next(c for c, (s, _) in upstreams.items() if s is sock)
                data = sock.recv(UDP_BUFFER)
                listener.sendto(data, client)
                upstreams[client] = (sock, now)
        for client, (sock, seen) in list(upstreams.items()):
            if now - seen > UDP_TIMEOUT:
                sock.close()
                del upstreams[client]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python3 -m netlab.docker.proxy", description=__doc__.splitlines()[0])
    p.add_argument("-proto", default="tcp", choices=("tcp", "udp"))
    p.add_argument("-host-ip", required=True)
    p.add_argument("-host-port", type=int, required=True)
    p.add_argument("-container-ip", required=True)
    p.add_argument("-container-port", type=int, required=True)
    p.add_argument("-dummy", action="store_true", help="only hold the port, as dockerd does without the proxy")
    a = p.parse_args(argv)
    listener = _listener(a.proto, a.host_ip, a.host_port)
    if a.dummy:
        threading.Event().wait()
    serve = _serve_tcp if a.proto == "tcp" else _serve_udp
    serve(listener, (a.container_ip, a.container_port))


def start_docker_proxy(world, container_ip: str, host_port: int, container_port: int, proto: str = "tcp",
                       node: str = "node1", userland_proxy: bool = True) -> list[str]:
    """Start in NODE what dockerd starts for ``-p HOST_PORT:CONTAINER_PORT``; return the processes' names.

    userland_proxy: a proxy on 0.0.0.0, and one on ``::`` when NODE has IPv6. Without it: one
    listener on 0.0.0.0 that only holds the port. Waits until they listen, so the first request
    does not race them.
    """
    ipv6 = world.topology.nodes[node].ipv6
    hosts = ("0.0.0.0", "::") if userland_proxy and ipv6 else ("0.0.0.0",)
    names = []
    for host in hosts:
        argv = ["python3", "-m", "netlab.docker.proxy", "-proto", proto, "-host-ip", host,
                "-host-port", str(host_port), "-container-ip", container_ip, "-container-port", str(container_port)]
        name = f"docker-proxy-{proto}-{'v6' if ':' in host else 'v4'}-{host_port}"
        names.append(world.start(node, argv + ([] if userland_proxy else ["-dummy"]), name=name))
    listing = "-Hln" + ("t" if proto == "tcp" else "u")
    world.run(node, f"sh -c 'for i in $(seq 100); do [ $(ss {listing} \"sport = :{host_port}\" | wc -l) -ge"
                    f" {len(hosts)} ] && exit 0; sleep 0.05; done; exit 1'")
    return names


#: Chapter 4's four requests to a published port: (client node, address), all to port 8080.
REQUESTS = (("nginx-2", "10.168.0.2"), ("nginx-2", "172.17.0.1"), ("nginx-1", "10.168.0.2"), ("node1", "127.0.0.1"))
_COUNTED = re.compile(r"^\[(\d+):\d+\] (-A .*)$", re.M)


@dataclass(frozen=True)
class PortPath:
    """One request: who asked whom, what came back, and the nat rules whose packet counters moved."""

    client: str
    address: str
    answer: str  # the page's first line, or "" when nothing answered
    rules: tuple[str, ...]

    @property
    def path(self) -> str:
        if not self.answer:
            return "nobody (refused)"
        return "DNAT" if any("-j DNAT" in r for r in self.rules) else "docker-proxy"


@dataclass(frozen=True)
class PortPaths:
    """The four requests' paths; ``text()`` and ``html()`` render them as a table."""

    port: int
    rows: tuple[PortPath, ...]

    def text(self) -> str:
        lines = []
        for r in self.rows:
            lines.append(f"{r.client} -> {r.address}:{self.port}: {r.answer or 'no answer'}; answered by {r.path}")
            lines += [f"    nat rule matched: {rule}" for rule in r.rules] or ["    nat rule matched: none"]
        return "\n".join(lines)

    def html(self) -> str:
        rows = "".join(f"<tr><td>{html.escape(r.client)} &rarr; {r.address}:{self.port}</td>"
                       f"<td>{html.escape(r.answer or 'no answer')}</td><td><b>{r.path}</b></td>"
                       f"<td><code>{'<br>'.join(html.escape(x) for x in r.rules) or 'none'}</code></td></tr>"
                       for r in self.rows)
        return ("<table><tr><th>request</th><th>answer</th><th>answered by</th><th>nat rules matched"
                f"</th></tr>{rows}</table>")

    __str__ = text

    def _repr_html_(self) -> str:
        return self.html()


def _nat_counters(world, node: str) -> dict[str, int]:
    return {rule: int(n) for n, rule in _COUNTED.findall(world.run(node, "iptables-save -c -t nat").stdout)}


def published_port_paths(world, port: int = 8080, node: str = "node1", requests=REQUESTS) -> PortPaths:
    """Send each request (``curl -s -m 2 http://ADDRESS:PORT/`` from its client) and read NODE's nat counters
    before and after: a request that moved the DNAT rule was answered by the kernel's translation, one
    that was answered without it by a process listening on the host's port (docker-proxy)."""
    # docker0's own IGMP report (172.17.0.1 to 224.0.0.22), sent up to a second after it comes up,
    # leaves with a local source: the --src-type LOCAL MASQUERADE counts its first packet. Wait
    # until the counters have been still for a second, so no request is charged with it.
    quiet, deadline = _nat_counters(world, node), time.monotonic() + 5
    while time.monotonic() < deadline:
        time.sleep(1)
        now = _nat_counters(world, node)
        if now == quiet:
            break
        quiet = now
    rows = []
    for client, address in requests:
        before = _nat_counters(world, node)
        res = world.run(client, f"curl -s -m 2 http://{address}:{port}/", check=False)
        after = _nat_counters(world, node)
        moved = tuple(rule for rule, n in after.items() if n > before.get(rule, 0))
        rows.append(PortPath(client, address, res.stdout.strip().split("\n")[0] if res.ok else "", moved))
    return PortPaths(port, tuple(rows))


if __name__ == "__main__":
    main()

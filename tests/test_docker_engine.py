"""The real Docker engine as the oracle for :func:`netlab.docker_node`, in both port-publishing modes.

Where Debian's ``docker.io`` and ``busybox-static`` are installed (tests/apt.txt), dockerd runs
inside a world, never in the machine's own namespaces: in node1's network namespace (entered
with nsenter, so /sys stays the one runc needs for cgroups), inside the world's private mount
namespace, with tmpfs over its data and exec roots, /var/lib/docker and /etc/docker (dockerd
writes key.json there), ``--storage-driver=vfs``, a cgroup parent of its own that the test
removes afterwards, and an image imported from busybox-static with ``docker import`` (no
registry). The same world then holds netlab's build of the node, and everything that can be
compared is: iptables-save of every table (counters stripped), addresses with their broadcast,
MACs and veth names (Docker's random parts by pattern), txqueuelen, route_localnet, hairpin, the
listening sockets, and who answers the four requests to a published port that chapter 4 shows.
tests/conftest.py fails the run if the machine's own namespace changed; this test also checks
that no cgroup of the engine's is left behind.
"""

import glob
import json
import os
import re
import shutil
import time

import pytest

import netlab
from netlab.docker.proxy import start_docker_proxy
from netlab.engine.topology import End, Topology

PAGE = "Welcome to nginx-1"
GET = "GET / HTTP/1.0\r\n\r\n"
#: (client, address) of the four requests to the published port 8080: chapter 4, section 4.7.
REQUESTS = (("nginx-2", "10.168.0.2"), ("nginx-2", "172.17.0.1"), ("nginx-1", "10.168.0.2"), ("node1", "127.0.0.1"))
DNAT = re.compile(r"^\[(\d+):\d+\] -A DOCKER .*-j DNAT", re.M)

pytestmark = [pytest.mark.root]


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root (dockerd and the worlds)"
    for tool in ("dockerd", "docker", "docker-proxy", "containerd", "runc", "busybox", "nsenter"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (tests/apt.txt: docker.io, busybox-static)"
    if not os.path.isdir("/sys/fs/cgroup"):
        return "no /sys/fs/cgroup for runc"
    return None


def _topology(userland_proxy):
    """What the engine runs in: node1 and node2 as docker_node has them, with no Docker parts."""
    t = Topology("docker_engine_" + ("proxy" if userland_proxy else "noproxy"))
    t.add_node("node1", sysctls={"net.ipv4.ip_forward": 0})
    t.add_node("node2")
    t.add_link(End("node1", "eth0", netlab.docker.NODE_ADDRESS, mac="02:42:0a:a8:00:02"),
               End("node2", "eth0", netlab.docker.REMOTE_ADDRESS, mac="02:42:0a:a8:00:03"))
    return t


class Engine:
    """dockerd in node1 of a world, with nginx-1 (-p 8080:80, busybox httpd) and nginx-2."""

    def __init__(self, world, userland_proxy, parent):
        self.w, self.parent = world, parent
        d = "/run/dk"
        for path in (d, "/var/lib/docker", "/etc/docker"):
            world.run(None, f"sh -c 'mkdir -p {path} && mount -t tmpfs tmpfs {path}'")
        self.net = ["nsenter", "--net=/run/netns/node1"]
        self.sock = f"unix://{d}/docker.sock"
        world.start(None, self.net + ["dockerd", "--data-root", f"{d}/data", "--exec-root", f"{d}/exec",
                                      "-H", self.sock, "--pidfile", f"{d}/docker.pid", "--storage-driver=vfs",
                                      f"--cgroup-parent={self.parent}",
                                      f"--userland-proxy={str(userland_proxy).lower()}"], name="dockerd")
        self.docker("sh -c 'for i in $(seq 120); do docker -H {sock} info >/dev/null 2>&1 && exit 0; sleep 0.25;"
                    " done; exit 1'".format(sock=self.sock), raw=True)
        img = f"{d}/img"
        world.run(None, f"sh -c 'mkdir -p {img}/bin {img}/www && cp $(command -v busybox) {img}/bin/busybox"
                        f" && for a in sh ip nc httpd sleep; do ln -s busybox {img}/bin/$a; done"
                        f" && echo {PAGE} > {img}/www/index.html'")
        self.docker(f"sh -c 'tar -C {img} -c . | docker -H {self.sock} import - busybox:local'", raw=True)
        self.docker("run -d --name nginx-1 -p 8080:80 busybox:local httpd -f -p 80 -h /www")
        self.docker("run -d --name nginx-2 busybox:local sleep 1000")

    def docker(self, args, raw=False, **kw):
        return self.w.run(None, args if raw else f"docker -H {self.sock} {args}", **kw)

    def run(self, where, command, **kw):
        """COMMAND in node1 or in a container's network namespace (the host's own tools)."""
        if where == "node1":
            return self.w.run("node1", command, **kw)
        pid = self.docker(f"inspect -f {{{{.State.Pid}}}} {where}").stdout.strip()
        return self.w.run(None, ["nsenter", "-t", pid, "-n"] + command.split(), **kw)

    def request(self, client, address):
        if client == "node1":
            return self.w.run("node1", f"busybox nc -w 2 {address} 8080", input=GET, check=False)
        return self.docker(f"exec -i {client} nc -w 2 {address} 8080", input=GET, check=False)

    def close(self):
        self.docker("rm -f nginx-1 nginx-2", check=False)
        self.w.stop("dockerd", timeout=15)


class Built:
    """netlab's docker_node, with the processes dockerd would start for -p 8080:80."""

    def __init__(self, world):
        self.w = world
        netlab.docker.start_http_server(world, "nginx-1", text=PAGE)

    def run(self, where, command, **kw):
        return self.w.run(where, command, **kw)

    def request(self, client, address):
        return self.w.run(client, f"busybox nc -w 2 {address} 8080", input=GET, check=False)


def _iptables(side):
    text = side.run("node1", "iptables-save").stdout
    return [re.sub(r"\[\d+:\d+\]", "[0:0]", l) for l in text.splitlines() if not l.startswith("#")]


def _links(side, where):
    return {l["ifname"]: l for l in json.loads(side.run(where, "ip -d -j addr show").stdout)}


def _addr(link):
    return [(a["local"], a["prefixlen"], a.get("broadcast")) for a in link.get("addr_info", []) if a["family"] == "inet"]


def _state(side):
    """Everything comparable, with Docker's random names and MACs replaced by what they must look like."""
    node = _links(side, "node1")
    ports = sorted((l for l in node.values() if l.get("master") == "docker0"), key=lambda l: l["ifindex"])
    out = {"iptables-save": _iptables(side),
           "docker0": (_addr(node["docker0"]), node["docker0"].get("txqlen", 0), node["docker0"]["address"][:6]),
           "ports": [(bool(re.fullmatch(r"veth[0-9a-f]{7}", p["ifname"])), p.get("txqlen", 0),
                      int(p["address"][:2], 16) & 3 == 2,  # locally administered, unicast
                      p["linkinfo"]["info_slave_data"]["hairpin"]) for p in ports],
           "sysctl": side.run("node1", "sysctl -n net.ipv4.ip_forward net.ipv4.conf.docker0.route_localnet").stdout,
           "listening": sorted(l.split()[3] for l in side.run("node1", "ss -Htln").stdout.splitlines())}
    for c in ("nginx-1", "nginx-2"):
        eth0 = _links(side, c)["eth0"]
        out[c] = (_addr(eth0), eth0.get("txqlen", 0), eth0["address"])
    return out


def _matrix(side):
    """(client, address, answered, by DNAT) for the four requests: DNAT when the rule's counter moved."""
    rows = []
    for client, address in REQUESTS:
        before = sum(map(int, DNAT.findall(side.run("node1", "iptables-save -c -t nat").stdout)))
        answered = PAGE in side.request(client, address).stdout
        after = sum(map(int, DNAT.findall(side.run("node1", "iptables-save -c -t nat").stdout)))
        rows.append((client, address, answered, after > before))
    return rows


def _leftover_cgroups(parent):
    return glob.glob(f"/sys/fs/cgroup/*/{parent}") + glob.glob(f"/sys/fs/cgroup/{parent}")


def _remove_cgroups(parent):
    """runc removes a container's cgroup when it is deleted; the parent is the engine's to remove."""
    for top in _leftover_cgroups(parent):
        for root, dirs, _ in sorted(os.walk(top), key=lambda x: -x[0].count("/")):
            try:
                os.rmdir(root)
            except OSError:
                pass


@pytest.mark.parametrize("userland_proxy", [True, False], ids=["userland-proxy", "no-userland-proxy"])
def test_docker_node_is_what_dockerd_builds(userland_proxy):
    reason = _missing()
    if reason:
        pytest.skip(reason)
    t0 = time.monotonic()
    topo = _topology(userland_proxy)
    parent = f"netlab-oracle-{os.getpid()}-{int(userland_proxy)}"
    try:
        with netlab.World(topo, record=False) as w:
            engine = Engine(w, userland_proxy, parent)
            try:
                want, want_matrix = _state(engine), _matrix(engine)
            finally:
                engine.close()
    finally:
        _remove_cgroups(parent)
    assert _leftover_cgroups(parent) == []
    built_topo = netlab.docker_node(publish=[("nginx-1", 8080, 80)], userland_proxy=userland_proxy)
    with netlab.World(built_topo, name=f"{topo.name}_built", record=False) as w:
        start_docker_proxy(w, "172.17.0.2", 8080, 80, userland_proxy=userland_proxy)
        built = Built(w)
        got, got_matrix = _state(built), _matrix(built)
    for key in want:
        assert got[key] == want[key], f"{key}: netlab {got[key]!r} != dockerd {want[key]!r}"
    assert got_matrix == want_matrix
    # The chapter's claims: every request is answered; by DNAT only without the proxy (127.0.0.1 too).
    assert [row[2:] for row in want_matrix] == [(True, not userland_proxy)] * 4
    print(f"oracle and build compared in {time.monotonic() - t0:.1f} s")

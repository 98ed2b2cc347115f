"""``Topology.script()``: the printed commands, run in an empty world, build what the engine builds.

Each topology is built twice on the live kernel: by the engine (batched ``ip -batch``, sysctls written
by the agent, ``iptables-restore``) and by ``sh -e`` running ``topology.script()`` in a world made with
``build=False``. The kernel state of every node is read back and compared: links (kind, master, MAC,
MTU, flags, state), addresses, routes of every table, neighbour and FDB entries, ``iptables-save``
without counters, and the sysctls the topology sets.
"""

import json
import re
import time

import pytest

from netlab import End, Topology, TopologyError, World, check_link, flannel_vxlan, office_network, pc_pair, pc_pair_with_router
from netlab.docker.bridge import docker_node
from netlab.engine.build import build_plan


def tun_node():
    t = Topology("tun_script")
    t.add_node("node1", ipv6=True)
    t.add_node("node2")
    t.add_tun("node1", "flannel0", address=["100.96.1.0/16", "fd00:96::1/64"], mtu=1472)
    t.add_link(End("node1", "eth0", "10.168.0.2/24"), End("node2", "eth0", "10.168.0.3/24"), mtu=1500)
    t.add_route("node2", "100.96.0.0/16", via="10.168.0.2")
    return t


TOPOLOGIES = {
    "pc_pair": pc_pair,
    "pc_pair_with_router": pc_pair_with_router,
    "office_network": office_network,
    "docker_node": lambda: docker_node(publish=[("nginx-1", 8080, 80)]),
    "flannel_vxlan": flannel_vxlan,
    "tun": tun_node,
}

LINK_KEYS = ("ifname", "flags", "mtu", "master", "operstate", "link_type", "address", "broadcast", "txqlen")
VXLAN_KEYS = ("id", "local", "port", "learning")


def _json(world, node, command):
    return json.loads(world.run(node, command).stdout or "[]")


def _links(world, node):
    out = []
    for link in _json(world, node, "ip -j -d link show"):
        info = link.get("linkinfo", {})
        row = {k: link.get(k) for k in LINK_KEYS}
        row["kind"] = info.get("info_kind")
        row["slave_kind"] = info.get("info_slave_kind")
        if row["kind"] == "vxlan":
            row["vxlan"] = {k: info.get("info_data", {}).get(k) for k in VXLAN_KEYS}
        out.append(row)
    return sorted(out, key=lambda r: r["ifname"])


def _addresses(world, node):
    return sorted((a["ifname"], i["family"], i["local"], i["prefixlen"], i.get("broadcast"), i.get("scope"))
                  for a in _json(world, node, "ip -j addr show") for i in a["addr_info"])


def _routes(world, node):
    rows = _json(world, node, "ip -j route show table all") + _json(world, node, "ip -j -6 route show table all")
    return sorted(json.dumps(r, sort_keys=True) for r in rows)


def _iptables(world, node):
    text = world.run(node, "iptables-save").stdout
    return [re.sub(r"\[\d+:\d+\]", "[0:0]", l) for l in text.splitlines() if not l.startswith("#")]


def _sysctls(world, topo, node):
    n = topo.nodes[node]
    keys = [k for k, _ in n.sysctls] + ([] if n.ipv6 else ["net.ipv6.conf.all.disable_ipv6",
                                                            "net.ipv6.conf.default.disable_ipv6"])
    return {k: world.run(node, ["sysctl", "-n", k]).stdout.strip() for k in keys}


def state(world, topo):
    """Everything the build leaves in the kernel, node by node, free of kernel-chosen numbers."""
    return {node: {
        "links": _links(world, node),
        "addresses": _addresses(world, node),
        "routes": _routes(world, node),
        "neighbours": sorted(json.dumps(r, sort_keys=True)
                             for r in _json(world, node, "ip -j neigh show nud permanent")),
        "fdb": sorted(json.dumps(r, sort_keys=True) for r in _json(world, node, "bridge -j fdb show")),
        "iptables": _iptables(world, node),
        "sysctls": _sysctls(world, topo, node),
    } for node in topo.nodes}


def settled_state(world, topo, want=None, seconds=3.0):
    """The state once linkwatch has caught up (carrier reaches operstate and routes up to a second later)."""
    deadline = time.monotonic() + seconds
    while True:
        got = state(world, topo)
        if want is None or got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def test_script_is_the_build_plan_one_command_a_line():
    topo = docker_node(publish=[("nginx-1", 8080, 80)])
    lines = topo.script().splitlines()
    assert lines[:4] == [f"ip netns add {n}" for n in ("node1", "nginx-1", "nginx-2", "node2")]
    assert ("ip link add eth0 netns nginx-1 address 02:42:ac:11:00:02 type veth"
            " peer name veth9c02e56 netns node1 address 52:81:0b:24:3d:da") in lines
    assert "ip -n node1 link set dev veth9c02e56 master docker0" in lines
    assert "ip netns exec node1 sysctl -w net.ipv4.ip_forward=1" in lines
    assert "ip netns exec node1 iptables -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE" in lines
    assert "ip netns exec node1 iptables -t nat -N DOCKER" in lines
    # Every write of the plan is one line, in the plan's order; only the linkwatch reads are left out.
    writes = sum(len(b.lines) for phase in build_plan(topo) for chain in phase for b in chain
                 if not b.read and b.tool != "iptables")
    writes += sum(1 for node in topo.nodes.values() for _ in node.iptables)
    assert len(lines) == writes
    assert not any("link show" in l for l in lines)


@pytest.mark.root
@pytest.mark.parametrize("name", list(TOPOLOGIES))
def test_script_builds_what_the_engine_builds(name):
    topo = TOPOLOGIES[name]()
    try:
        engine = World(topo, name=f"{topo.name}_engine")
    except Exception as e:  # a TUN device this machine refuses
        if name == "tun" and "TUN" in str(e):
            pytest.skip(str(e))
        raise
    with engine:
        want = settled_state(engine, topo)
    with World(topo, name=f"{topo.name}_script", build=False) as w:
        assert w.run(None, "ip netns list").stdout == ""  # an empty top namespace
        w.run(None, ["sh", "-e", "-c", topo.script()], timeout=120)
        got = settled_state(w, topo, want)
    for node in topo.nodes:
        for what in want[node]:
            assert got[node][what] == want[node][what], f"{name}: {node} {what} differs"


def test_without_link_leaves_out_one_cable_and_its_routes():
    topo = docker_node()
    rest = topo.without_link("nginx-2", "eth0")
    assert "eth0" in topo.nodes["nginx-2"].interfaces  # the original is untouched
    assert "eth0" not in rest.nodes["nginx-2"].interfaces and "veth49a9513" not in rest.nodes["node1"].interfaces
    assert rest.nodes["nginx-2"].routes == [] and len(rest.links) == len(topo.links) - 1
    assert "veth49a9513" not in rest.script() and "veth49a9513" in topo.script()
    with pytest.raises(TopologyError, match="not one end of a veth pair"):
        topo.without_link("node1", "docker0")


@pytest.mark.root
def test_a_cable_made_by_hand_completes_the_world():
    """A lab leaves one veth pair out; check_link says what is missing until the learner's commands
    make the world equal to the engine's whole build."""
    topo = pc_pair()
    with World(topo, name="by_engine") as engine:
        want = settled_state(engine, topo)
    with World(topo, name="by_hand", leave_out="pc1:eth0") as w:
        first = check_link(w, "pc1", dev="eth0")
        assert not first and "pc1 has no eth0: expected one end of a veth pair (Veth Pair) whose other end is lan's port1" in first.message
        assert "ip link" not in first.message
        steps = [("pc1", "ip link add eth0 address 02:42:c0:a8:00:03 type veth"
                         " peer name port1 netns lan address 02:0f:32:75:c3:35", "expected 192.168.0.3/26"),
                 ("pc1", "ip addr add 192.168.0.3/26 dev eth0", "pc1's eth0 is down; expected it up"),
                 ("pc1", "ip link set eth0 up", "lan's port1 is in no bridge; expected it to be a port of br0"),
                 ("lan", "ip link set port1 master br0", "lan's port1 is down; expected it up"),
                 ("lan", "ip link set port1 up", None)]
        for node, command, missing in steps:
            w.run(node, command)
            check = check_link(w, "pc1", dev="eth0")
            assert bool(check) is (missing is None) and (missing is None or missing in check.message), check
        assert settled_state(w, topo, want) == want
    with World(docker_node(), name="by_hand", leave_out="nginx-2:eth0") as w:
        assert "node1 has no veth49a9513" in check_link(w, "node1", dev="veth49a9513").message
        assert "route" not in w.run("nginx-2", "ip route").stdout

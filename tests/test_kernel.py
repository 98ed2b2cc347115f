"""netlab.kernel: the one reader of kernel state. Parsers on recorded command output (no privileges):
each reader runs exactly the command recordings hold, and returns typed records."""

import json

import pytest

import netlab
from netlab import kernel

SAVE = """*nat
:PREROUTING ACCEPT [3:180]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [1:60]
:POSTROUTING ACCEPT [1:60]
:DOCKER - [0:0]
[2:120] -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
[0:0] -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
[0:0] -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
[1:60] -A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
COMMIT
*filter
:INPUT ACCEPT [10:840]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [10:840]
[4:336] -A FORWARD -o docker0 -g DOCKER-ISOLATION
COMMIT
"""


class World:
    """Answers each (node, command) with recorded output, and remembers what was asked."""

    def __init__(self, answers: dict):
        self.answers, self.asked = answers, []

    def run(self, node, command, check=True):
        self.asked.append((node, command))
        out = self.answers[node, command]
        rc, out = (out if isinstance(out, tuple) else (0, out))
        res = netlab.CommandResult(node, command, out, "" if rc == 0 else "Device does not exist", rc)
        if check and rc:
            raise netlab.CommandError(res)
        return res


def test_iptables_save_gives_rules_chains_and_targets():
    """What the walk reads (walk/counters.py): user chains, jump targets, identical rules told apart."""
    parsed = kernel.parse_iptables_save(SAVE)
    assert parsed.user_chains == {("nat", "DOCKER")}
    assert [kernel.jump_target(r.text) for r in parsed.rules] == [r.target for r in parsed.rules]
    assert [r.target for r in parsed.rules] == ["DOCKER", "MASQUERADE", "MASQUERADE", "DNAT", "DOCKER-ISOLATION"]
    twice = [r for r in parsed.rules if r.chain == "POSTROUTING"]
    assert [r.n for r in twice] == [1, 2]
    assert parsed.chains[0] == kernel.Chain("nat", "PREROUTING", "ACCEPT", 3, 180)


def test_iptables_reader_runs_the_walks_command():
    w = World({("node1", kernel.IPTABLES_SAVE): SAVE})
    assert kernel.iptables(w, "node1").rules[-1].packets == 4
    assert w.asked == [("node1", "iptables-save -c | grep -v '^#'")]


def test_iptables_rules_strip_counters():
    out = ("-P PREROUTING ACCEPT -c 3 180\n-N DOCKER\n"
           "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE -c 5 420\n"
           "-A DOCKER -i docker0 -j RETURN -c 0 0\n")
    rules = kernel.iptables_rules(World({("node1", "iptables -t nat -S -v"): out}), "node1", "nat")
    assert rules == [kernel.Rule("nat", "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE", 5, 420),
                     kernel.Rule("nat", "-A DOCKER -i docker0 -j RETURN", 0, 0)]
    assert rules[0].chain == "POSTROUTING" and rules[1].target == "RETURN"


def test_conntrack_entries():
    line = ("icmp     1 29 src=172.17.0.2 dst=10.168.0.3 type=8 code=0 id=7 src=10.168.0.3 dst=10.168.0.2"
            " type=0 code=0 id=7 mark=0 use=1\n"
            "tcp      6 431999 ESTABLISHED src=10.168.0.3 dst=10.168.0.2 sport=40000 dport=8080"
            " src=172.17.0.2 dst=10.168.0.3 sport=80 dport=40000 [ASSURED] mark=0 use=1\n"
            "conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown.\n")
    w = World({("node1", "conntrack -L"): line, ("node1", "conntrack -L -p tcp"): ""})
    icmp, tcp = kernel.conntrack(w, "node1")
    assert (icmp.proto, icmp.state, icmp.original["dst"], icmp.reply["src"]) == ("icmp", "", "10.168.0.3", "10.168.0.3")
    assert (tcp.state, tcp.flags, tcp.reply["sport"]) == ("ESTABLISHED", ("ASSURED",), "80")
    assert kernel.conntrack(w, "node1", proto="tcp") == []


LINKS = [{"ifindex": 5, "link_index": 4, "ifname": "veth9c02e56", "flags": ["BROADCAST", "UP", "LOWER_UP"],
          "mtu": 1500, "master": "docker0", "link_type": "ether", "address": "52:81:0b:24:3d:da",
          "linkinfo": {"info_kind": "veth"},
          "addr_info": [{"family": "inet6", "local": "fe80::5081:bff:fe24:3dda", "prefixlen": 64}]},
         {"ifindex": 3, "ifname": "docker0", "flags": ["UP"], "mtu": 1500, "link_type": "ether",
          "address": "02:42:15:82:98:cb",
          "addr_info": [{"family": "inet", "local": "172.17.0.1", "prefixlen": 16}]}]


def test_links_and_addresses():
    w = World({("node1", "ip -j -d addr show dev veth9c02e56"): json.dumps(LINKS[:1]),
               ("node1", "ip -j addr show"): json.dumps(LINKS),
               ("node1", "ip -j link show master docker0"): json.dumps(LINKS[:1]),
               ("node1", "ip -j -d link show flannel.1"): (1, "")})
    veth = kernel.link(w, "node1", "dev veth9c02e56", details=True, addresses=True)
    assert (veth.kind, veth.peer_index, veth.master, veth.up) == ("veth", 4, "docker0", True)
    assert kernel.link(w, "node1", "flannel.1", details=True) is None
    assert kernel.addresses(w, "node1") == {"veth9c02e56": ["fe80::5081:bff:fe24:3dda/64"], "docker0": ["172.17.0.1/16"]}
    assert [l.ifname for l in kernel.links(w, "node1", "master docker0")] == ["veth9c02e56"]


def test_routes_neighbours_fdb():
    w = World({
        ("A", "ip -j route show table main"): json.dumps([{"dst": "default", "gateway": "10.64.1.1", "dev": "en0",
                                                          "flags": []}]),
        ("A", "ip -j route show default"): json.dumps([{"dst": "default", "gateway": "10.64.1.254", "metric": 200},
                                                      {"dst": "default", "gateway": "10.64.1.1"}]),
        ("A", "ip -j route get 10.6.8.1"): json.dumps([{"dst": "10.6.8.1", "gateway": "10.64.1.1", "dev": "en0",
                                                       "prefsrc": "10.64.1.46", "flags": [], "uid": 0}]),
        ("A", "ip -j neigh show dev en0"): json.dumps([{"dst": "10.64.1.1", "dev": "en0", "lladdr": "02:00:0a:40:01:01",
                                                       "state": ["REACHABLE"]}]),
        ("node1", "bridge -j fdb show br docker0"): json.dumps([
            {"mac": "02:42:ac:11:00:02", "ifname": "veth9c02e56", "master": "docker0", "state": ""},
            {"mac": "52:81:0b:24:3d:da", "ifname": "veth9c02e56", "vlan": 1, "master": "docker0", "state": "permanent"},
            {"mac": "33:33:00:00:00:01", "ifname": "veth9c02e56", "state": "permanent"}]),
    })
    assert kernel.routes(w, "A") == [kernel.Route("default", "10.64.1.1", "en0")]
    assert kernel.default_gateways(w, "A") == ["10.64.1.1", "10.64.1.254"]
    assert kernel.route_get(w, "A", "10.6.8.1").prefsrc == "10.64.1.46"
    assert kernel.neighbours(w, "A", "en0")[0].state == ("REACHABLE",)
    assert [e.learned for e in kernel.fdb(w, "node1", "br docker0")] == [True, False, False]


def test_route_get_unreachable_is_none_and_other_errors_raise():
    class W(World):
        def run(self, node, command, check=True):
            err = {"10.9.9.9": "RTNETLINK answers: Network is unreachable\n", "x": "Error: any valid prefix is expected\n"}
            return netlab.CommandResult(node, command, "", err[command.split()[-1]], 2)
    assert kernel.route_get(W({}), "A", "10.9.9.9") is None
    with pytest.raises(netlab.CommandError):
        kernel.route_get(W({}), "A", "x")

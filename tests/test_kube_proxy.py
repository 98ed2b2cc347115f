"""kube-proxy's iptables mode as netlab renders it (netlab.kube) and its lab checks (netlab.checks.kube).

The chain names are checked against the values kubernetes/kubernetes' own tests expect
(pkg/proxy/iptables/proxier_test.go), and the nat rules of one Service against upstream's
TestParseIPTablesData input, rule for rule. Live tests load the rules into a world's node and read
them back; a rule in the wrong chain fails its check with the chain it belongs in.
"""
import pytest

import netlab
from netlab import kube
from netlab.checks import kube as checks

# Upstream's values (proxier_test.go, and the well-known chains of every cluster).
UPSTREAM = [
    ("ns1/svc1:p80", "tcp", "XPGD46QRK7WJZT7O"),
    ("kube-system/kube-dns:dns", "udp", "TCOU7JCQXEZGVUNU"),
    ("kube-system/kube-dns:dns-tcp", "tcp", "ERIFXISQEP7F7OF4"),
    ("default/kubernetes:https", "tcp", "NPX46M4PTMTKRN6Y"),
]


@pytest.mark.parametrize("name,proto,expected", UPSTREAM)
def test_port_proto_hash_matches_upstream(name, proto, expected):
    assert kube.port_proto_hash(name, proto) == expected
    assert kube.cluster_chain(name, proto) == "KUBE-SVC-" + expected


def test_endpoint_chain_matches_upstream():
    assert kube.endpoint_chain("ns1/svc1:p80", "tcp", "10.180.0.1:80") == "KUBE-SEP-SXIVWICOYRO3J4NJ"
    assert kube.endpoint_chain("ns1/svc1:p80", "udp", "10.180.0.1:80") != "KUBE-SEP-SXIVWICOYRO3J4NJ"


def test_probability_is_written_with_ten_decimals():
    assert kube.probability(2) == "0.5000000000"
    assert kube.probability(3) == "0.3333333333"


def test_render_matches_upstreams_one_endpoint_service():
    """TestParseIPTablesData's nat table: ns1/svc1:p80 at 10.20.30.41:80, endpoint 10.180.0.1:80,
    cluster CIDR 10.0.0.0/24, the test's mark 0x4000 and no --random-fully."""
    svc = kube.Service("ns1", "svc1", "10.20.30.41", 80, port_name="p80",
                       endpoints=(kube.Endpoint("10.180.0.1", 80, "node1"),))
    cfg = kube.ProxyConfig("node1", cluster_cidr="10.0.0.0/24", mark_text="0x4000", random_fully=False)
    nat = kube.render([svc], cfg).text.split("*nat\n")[1]
    upstream = [
        "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
        "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000",
        '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE',
        "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000",
        '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 10.20.30.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O',
        '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 10.20.30.41 --dport 80 ! -s 10.0.0.0/24 -j KUBE-MARK-MASQ',
        "-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment ns1/svc1:p80 -j KUBE-SEP-SXIVWICOYRO3J4NJ",
        "-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ",
        "-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80",
        '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
    ]
    ours = [l for l in nat.splitlines() if l.startswith("-A")]
    # upstream's jump comment is the bare name in that (older) test; today's writes "name -> endpoint"
    ours = [l.replace('--comment "ns1/svc1:p80 -> 10.180.0.1:80"', "--comment ns1/svc1:p80") for l in ours]
    assert ours == upstream


def test_two_endpoints_get_probability_then_the_rest():
    svc = kube.Service("default", "web", "10.96.0.10", 80, endpoints=(
        kube.Endpoint("10.244.2.2", 8080, "node2"), kube.Endpoint("10.244.1.2", 8080, "node1")))
    rules = [l for l in kube.render([svc], kube.ProxyConfig("node1")).text.splitlines() if l.startswith(f"-A {svc.svc_chain} -m comment --comment \"default/web:http ->")]
    assert "--probability 0.5000000000" in rules[0] and "10.244.1.2:8080" in rules[0]
    assert "--probability" not in rules[1] and "10.244.2.2:8080" in rules[1]


def test_no_endpoints_rejects_in_filter_and_writes_nothing_in_nat():
    svc = kube.Service("default", "empty", "10.96.0.12", 80, node_port=30082)
    text = kube.render([svc], kube.ProxyConfig("node1")).text
    filt, nat = text.split("*nat\n")
    assert '"default/empty:http has no endpoints"' in filt and "-j REJECT" in filt
    assert "default/empty" not in nat


def test_external_traffic_policy_local_without_local_endpoint_drops():
    svc = kube.Service("default", "loc", "10.96.0.11", 80, node_port=30081, external_traffic_policy="Local",
                       endpoints=(kube.Endpoint("10.244.1.2", 8080, "node1"),))
    on2 = kube.render([svc], kube.ProxyConfig("node2")).text
    assert '"default/loc:http has no local endpoints"' in on2 and "--dport 30081 -j DROP" in on2
    on1 = kube.render([svc], kube.ProxyConfig("node1")).text
    assert f"-A {svc.ext_chain} -j {svc.svl_chain}" in on1 and "KUBE-EXTERNAL-SERVICES -m comment" not in on1


@pytest.mark.parametrize("kwargs,words", [
    (dict(namespace="Default"), "lower-case"), (dict(cluster_ip="10.96.0.300"), "cluster_ip"),
    (dict(port=0), "port"), (dict(protocol="tcp"), "protocol"), (dict(node_port=80), "node_port"),
    (dict(external_traffic_policy="local"), "external_traffic_policy"), (dict(endpoints=("10.0.0.1:80",)), "Endpoint"),
])
def test_bad_service_input_says_what(kwargs, words):
    base = dict(namespace="default", name="web", cluster_ip="10.96.0.10", port=80)
    with pytest.raises(kube.ServiceError) as e:
        kube.Service(**{**base, **kwargs})
    assert words in str(e.value)


def test_bad_endpoint_input_says_what():
    with pytest.raises(kube.ServiceError, match="IPv4"):
        kube.Endpoint("pod-1", 80)


@pytest.mark.root
def test_sync_then_checks_on_a_live_node(root_only):
    topo = netlab.Topology("kube_proxy_unit")
    topo.add_node("node1", sysctls={"net.ipv4.ip_forward": 1})
    web = kube.Service("default", "web", "10.96.0.10", 80, node_port=30080,
                       endpoints=(kube.Endpoint("10.244.1.2", 8080, "node1"),))
    two = web.with_endpoints(kube.Endpoint("10.244.1.2", 8080, "node1"), kube.Endpoint("10.244.2.2", 8080, "node2"))
    with netlab.World(topo, record=False) as w:
        res = kube.sync(w, "node1", [web])
        assert res.jumps_added == 14
        assert checks.check_service_rules(w, "node1", service=web).ok
        missing = checks.check_service_rules(w, "node1", service=two)
        assert not missing.ok and "KUBE-SEP-" in missing.message and "expected" in missing.message
        # a learner's DNAT in the Service's chain instead of the endpoint's own
        w.run("node1", f"iptables -t nat -A {two.svc_chain} -p tcp -j DNAT --to-destination 10.244.2.2:8080")
        wrong = checks.check_service_rules(w, "node1", service=two)
        sep = two.sep_chain(kube.Endpoint("10.244.2.2", 8080))
        assert not wrong.ok and f"is in chain {two.svc_chain}" in wrong.message and f"in chain {sep}" in wrong.message
        assert "iptables -t nat -A" not in wrong.message  # says where, never the command
        again = kube.sync(w, "node1", [two])  # kube-proxy's sync leaves the chain as it writes it
        assert again.jumps_added == 0
        assert checks.check_service_rules(w, "node1", service=two).ok
        gone = kube.sync(w, "node1", [])
        assert two.svc_chain in gone.deleted_chains
        assert not checks.check_service_spread(w, "node1", service=two).ok

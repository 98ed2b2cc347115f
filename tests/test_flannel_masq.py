"""flanneld --ip-masq: the rules flannel installs (checked against upstream's list) and, on a live kernel,
chapter 8's cluster with them: pod-to-pod across nodes unNATed, pod to outside masqueraded."""
import shlex

import pytest

import netlab
from netlab import cni, kube
from netlab.flannel import __main__ as cli
from netlab.flannel.subnet import iptables_has_random_fully, masq_rules

# flannel-io/flannel pkg/trafficmngr/iptables/iptables.go masqRules, in its order, for cluster_cidr
# 10.244.0.0/16 and this node's lease 10.244.1.0/24 (KubeProxyMark from pkg/trafficmngr/trafficmngr.go).
UPSTREAM = [
    "-A POSTROUTING -m comment --comment 'flanneld masq' -j FLANNEL-POSTRTG",
    "-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment 'flanneld masq' -j RETURN",
    "-A FLANNEL-POSTRTG -s 10.244.1.0/24 -d 10.244.0.0/16 -m comment --comment 'flanneld masq' -j RETURN",
    "-A FLANNEL-POSTRTG -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment 'flanneld masq' -j RETURN",
    "-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment 'flanneld masq' -j RETURN",
    "-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment 'flanneld masq' -j MASQUERADE --random-fully",
    "-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment 'flanneld masq' -j MASQUERADE --random-fully",
]


def _as_text(rules):
    return [f"-A {chain} " + " ".join(a if a == "!" else shlex.quote(a) for a in spec) for chain, spec in rules]


def test_masq_rules_are_upstreams_in_upstreams_order():
    assert _as_text(masq_rules("10.244.0.0/16", "10.244.1.0/24")) == UPSTREAM


def test_masq_rules_without_random_fully():
    plain = _as_text(masq_rules("10.244.0.0/16", "10.244.1.0/24", random_fully=False))
    assert plain == [r.removesuffix(" --random-fully") for r in UPSTREAM]
    assert sum("MASQUERADE" in r for r in plain) == 2 and not any("random" in r for r in plain)


def test_random_fully_needs_iptables_1_6_2():
    assert iptables_has_random_fully("iptables v1.8.9 (nf_tables)")
    assert iptables_has_random_fully("iptables v1.6.2")
    assert not iptables_has_random_fully("iptables v1.6.1")
    assert not iptables_has_random_fully("")


def test_ip_masq_flag_defaults_off():
    p = cli.parser()
    assert p.parse_args(["vxlan"]).ip_masq is False  # chapters 5-7 run flanneld as before
    assert p.parse_args(["vxlan", "--ip-masq"]).ip_masq is True
    assert p.parse_args(["udp", "--ip-masq"]).ip_masq is True


@pytest.mark.root
def test_cluster_with_ip_masq_keeps_pod_addresses(root_only):
    with netlab.World(cni.cni_cluster(), record=False) as w:
        c = cni.start_cluster(w)
        assert "FLANNEL_IPMASQ=true" in w.run("node1", "cat /run/flannel/subnet-10.168.0.2.env").stdout
        saved = w.run("node1", "iptables-save -t nat").stdout.splitlines()
        ours = [line.replace('"', "'") for line in saved if "flanneld masq" in line]
        assert ours == UPSTREAM  # iptables-save's spelling is upstream's, double quotes for single
        delegate = cni.node_state(w, "node1", f"cat /var/lib/cni/flannel/{c.pods['web-1'].container_id}").stdout
        assert '"ipMasq": false' in delegate  # FLANNEL_IPMASQ=true: the bridge plugin does not masquerade
        assert not any(line.startswith("-A CNI-") for line in saved)
        kube.start_web(w, "web-2")
        kube.start_web(w, "lan")
        across = kube.fetch(w, "client", "http://10.244.2.2:8080/").stdout
        assert "10.244.1.3" in across, across  # pod to pod on another node: the pod's own source address
        out = kube.fetch(w, "client", "http://10.168.0.1:8080/").stdout
        assert "10.168.0.2" in out and "10.244.1.3" not in out, out  # leaving the pod network: node1's address
        counted = w.run("node1", "iptables -t nat -L FLANNEL-POSTRTG -v -n -x").stdout
        assert any("MASQUERADE" in line and line.split()[0] != "0" and "224.0.0.0/4" in line
                   for line in counted.splitlines()), counted
        assert "node2: counters of nat POSTROUTING rule" in cni.zero_masq_jump(w)
        jump = [line for line in w.run("node1", "iptables -t nat -L POSTROUTING -v -n -x").stdout.splitlines()
                if "FLANNEL-POSTRTG" in line]
        assert len(jump) == 1 and jump[0].split()[0] == "0", jump  # only that rule zeroed:
        assert counted == w.run("node1", "iptables -t nat -L FLANNEL-POSTRTG -v -n -x").stdout  # the chain's kept



@pytest.mark.root
def test_cluster_without_ip_masq_is_the_bridge_plugins_masquerade(root_only):
    with netlab.World(cni.cni_cluster(), record=False) as w:
        cni.start_cluster(w, ip_masq=False)
        assert "FLANNEL_IPMASQ=false" in w.run("node1", "cat /run/flannel/subnet-10.168.0.2.env").stdout
        assert "flanneld masq" not in w.run("node1", "iptables-save -t nat").stdout
        kube.start_web(w, "web-2")
        assert "web-2 saw 10.244.1.0" in kube.fetch(w, "client", "http://10.244.2.2:8080/").stdout
        assert cni.zero_masq_jump(w, missing_ok=True) == ""
        with pytest.raises(RuntimeError, match="no jump to FLANNEL-POSTRTG"):
            cni.zero_masq_jump(w)

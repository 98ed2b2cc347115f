"""netlab.cni: flannel's CNI plugin (its delegate configuration, as flannel-io/cni-plugin builds it),
the runtime that runs the real plugin binaries, and chapter 8's two-node cluster on a live kernel."""
import json
import os

import pytest

import netlab
from netlab import cni
from netlab.cni import flannel_plugin as fp

FENV = {"network": ["10.244.0.0/16"], "subnet": "10.244.1.0/24", "mtu": 1450, "ipmasq": False}


def test_delegate_config_as_flannel_builds_it():
    conf = {"name": "cbr0", "cniVersion": "0.3.1", "type": "flannel",
            "delegate": {"hairpinMode": True, "isDefaultGateway": True}}
    d = fp.delegate_config(conf, FENV)
    assert d["name"] == "cbr0" and d["type"] == "bridge" and d["cniVersion"] == "0.3.1"
    assert d["ipMasq"] is True  # FLANNEL_IPMASQ=false: "if flannel is not doing ipmasq, we should"
    assert d["mtu"] == 1450 and d["isGateway"] is True and d["hairpinMode"] is True
    assert d["ipam"] == {"type": "host-local", "ranges": [[{"subnet": "10.244.1.0/24"}]],
                         "routes": [{"dst": "10.244.0.0/16"}]}
    assert fp.delegate_config(conf, {**FENV, "ipmasq": True})["ipMasq"] is False
    assert fp.delegate_config({**conf, "delegate": {"ipMasq": True}}, {**FENV, "ipmasq": True})["ipMasq"] is True


@pytest.mark.parametrize("delegate,words", [({"name": "x"}, "must not have 'name'"),
                                            ({"ipam": {}}, "must not have 'ipam'"), ({"type": 3}, "(string) 'type'")])
def test_delegate_config_refuses_what_flannel_refuses(delegate, words):
    with pytest.raises(fp.PluginError) as e:
        fp.delegate_config({"name": "cbr0", "delegate": delegate}, FENV)
    assert words in e.value.msg


def test_subnet_env_missing_keys_are_named(tmp_path):
    f = tmp_path / "subnet.env"
    f.write_text("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\n")
    with pytest.raises(fp.PluginError) as e:
        fp.load_subnet_env(str(f))
    assert "is missing FLANNEL_MTU, FLANNEL_IPMASQ" in e.value.msg
    f.write_text("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n")
    assert fp.load_subnet_env(str(f)) == {**FENV, "ipmasq": True}


def test_container_ids_are_fixed_and_64_hex():
    assert cni.container_id("web-1") == cni.container_id("web-1") != cni.container_id("web-2")
    assert len(cni.container_id("web-1")) == 64


@pytest.mark.root
def test_the_cluster_by_the_real_plugins(root_only):
    had_var_lib_cni = os.path.exists("/var/lib/cni")
    with netlab.World(cni.cni_cluster(), record=False) as w:
        c = cni.start_cluster(w)
        assert {p: r.address for p, r in c.pods.items()} == {"web-1": "10.244.1.2", "client": "10.244.1.3",
                                                              "web-2": "10.244.2.2"}
        r = c.pods["web-1"].result
        assert r["cniVersion"] == "0.3.1" and r["ips"][0]["gateway"] == "10.244.1.1"
        assert {"dst": "0.0.0.0/0", "gw": "10.244.1.1"} in r["routes"]
        assert w.run("client", "ping -c 1 -W 2 10.244.2.2").ok
        listing = cni.node_state(w, "node1", "ls /var/lib/cni/networks/cbr0").stdout.split()
        assert {"10.244.1.2", "10.244.1.3"} <= set(listing)
        assert cni.del_pod(w, "node1", "client") == [("portmap", "DEL"), ("flannel", "DEL")]
        assert "10.244.1.3" not in cni.node_state(w, "node1", "ls /var/lib/cni/networks/cbr0").stdout.split()
        assert not w.run("node1", "ip link show veth-client", check=False).ok
        with pytest.raises(cni.CniError) as e:  # the plugin's own error JSON, and the ADD undone
            cni.add_pod(w, "node1", "client", cni.flannel_conflist(w, "node1", "10.168.0.9"))
        assert e.value.code == 999 and "subnet-10.168.0.9.env" in e.value.msg and json.loads(e.value.raw)["code"] == 999
        assert "10.244.1" not in w.run("client", "ip -br addr").stdout
        with pytest.raises(cni.CniError, match="does not support the CHECK command"):
            cni.check_pod(w, "node1", "web-1")
        with pytest.raises(cni.CniInputError, match="network namespace the world declared"):
            cni.add_pod(w, "node1", "nobody")
        with pytest.raises(cni.CniInputError, match="hostPort"):
            cni.add_pod(w, "node1", "client", port_mappings=[{"hostPort": 8080}])
    assert os.path.exists("/var/lib/cni") == had_var_lib_cni  # the machine's own /var/lib is untouched

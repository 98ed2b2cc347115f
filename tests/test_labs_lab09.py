"""Lab 9 needs the work and teaches when it is missing.

The learners' blank copy runs top to bottom in a real kernel with no traceback: a cell run before
what it needs says so in one line, and every graded check shows ✗ with what the kernel (or the
guest) shows and what was expected, never the command that fixes it. Shortcuts are done for real on
a kernel and fail their checks: a bridge binding with learning left on or the address left on the
port, a DHCP server that offers another address, a ping the pod answers itself, a DNAT to the wrong
port or without the jump that reaches it. The solution passing is nbval's run of labs/.
"""
import shutil

import pytest

import netlab
from netlab.checks import kubevirt as checks
from netlab.kubevirt import binding, pods, vm

from blank_lab import FIX, graded_failures, run_blank

GUEST = pytest.mark.skipif(not shutil.which("linux.uml") or not shutil.which("busybox"),
                           reason="the guest needs user-mode-linux and busybox-static")
POD_IP, POD_MAC = "10.244.1.2/24", "0a:58:0a:f4:01:02"
NFT_FIX = ("nft add", "ip link set", "bridge link set", "sysctl -w")


@pytest.mark.root
@GUEST
def test_the_blank_copy_runs_without_a_traceback_and_its_checks_fail_helpfully(root_only, tmp_path, monkeypatch):
    nb = run_blank("lab09_kubevirt", tmp_path, monkeypatch)
    for line in graded_failures(nb, "lab09", 3):
        assert not FIX.search(line) and not any(w in line for w in NFT_FIX), line
        assert any(w in line for w in ("expected", "first", "no ", "not ")), line


def _bind_without(w, skip: str):
    """The bridge binding with one of its commands left out (a learner's shortcut)."""
    cmds = binding.bridge_binding_commands(POD_IP, POD_MAC, dummy=binding.dummy_kind(w, "virt-launcher"))
    # leaving out a device leaves out the commands that use it too
    dummy = skip.startswith("type ")
    binding.run_commands(w, "virt-launcher", [c for c in cmds if skip not in c and not (dummy and c.endswith("dev eth0"))])
    w.settle(["virt-launcher"])


@pytest.mark.root
@pytest.mark.parametrize("skip, words", [
    ("learning off", "learning on"),
    ("ip addr flush", "still has 10.244.1.2/24"),
    ("arp_ignore", "arp_ignore is 0, expected 1"),
    ("tap0", "no tap device tap0"),
    ("type ifb", "no eth0 to keep the pod's address"),
])
def test_a_bridge_binding_with_a_step_left_out_fails_and_names_it(root_only, skip, words):
    with netlab.World(pods.pod_network(), name="t_lab09_skip") as w:
        pods.start_pod_network(w)
        if skip == "type ifb" and binding.dummy_kind(w, "virt-launcher") == "dummy":
            skip = "type dummy"
        _bind_without(w, skip)
        c = checks.check_bridge_binding(w, "virt-launcher")
        assert not c.ok and words in c.message and "chapter 9" in c.message, c


@pytest.mark.root
@GUEST
def test_a_dhcp_server_for_another_address_or_mac_fails_the_lease_check(root_only):
    with netlab.World(pods.pod_network(), name="t_lab09_lease") as w:
        pods.start_pod_network(w)
        _bind_without(w, "no step is skipped")
        wrong = vm.dhcp_settings("bridge", "10.244.1.7/24", POD_MAC, gateway="10.244.1.1")
        vm.start_dhcp(w, "virt-launcher", wrong)
        g = netlab.boot_guest(w, "virt-launcher", "tap0", mac=POD_MAC)
        c = checks.check_guest_lease(g, ip=POD_IP, router="10.244.1.1")
        assert not c.ok and "leased 10.244.1.7/24, expected 10.244.1.2/24" in c.message, c
        # the VM answers at the wrong address; the pod's address reaches nobody now
        assert not checks.check_vm_ping(w, "client", dst="10.244.1.2")
        w.stop("vm")
        w.stop("dhcp")
        vm.start_dhcp(w, "virt-launcher", vm.dhcp_settings("bridge", POD_IP, "02:00:00:00:00:99"))
        g = netlab.boot_guest(w, "virt-launcher", "tap0", mac=POD_MAC, name="vm2")
        c = checks.check_guest_lease(g, ip=POD_IP)
        assert not c.ok and "no lease" in c.message, c  # the server answers only its one MAC


@pytest.mark.root
@pytest.mark.parametrize("rules, words", [
    (["add rule ip nat KUBEVIRT_PREINBOUND tcp dport 8080 dnat to 10.0.2.2"], "none sends TCP port 80"),
    (["add rule ip nat KUBEVIRT_PREINBOUND tcp dport 80 dnat to 10.0.2.2"], "does not send packets that come in by eth0"),
    (["add rule ip nat prerouting iifname eth0 jump KUBEVIRT_PREINBOUND",
      "add rule ip nat KUBEVIRT_PREINBOUND tcp dport 80 dnat to 10.0.2.2"], "does not masquerade"),
])
def test_masquerade_shortcuts_fail(root_only, rules, words):
    base = ["add table ip nat", "add chain ip nat prerouting { type nat hook prerouting priority -100; }",
            "add chain ip nat postrouting { type nat hook postrouting priority 100; }",
            "add chain ip nat KUBEVIRT_PREINBOUND"]
    with netlab.World(pods.pod_network(), name="t_lab09_nat") as w:
        pods.start_pod_network(w)
        binding.run_commands(w, "virt-launcher", binding.masquerade_binding_commands())
        w.run("virt-launcher", ["nft", "-f", "-"], input="\n".join(base + rules) + "\n")
        c = checks.check_masquerade_port(w, "virt-launcher", port=80)
        assert not c.ok and words in c.message and not any(x in c.message for x in NFT_FIX), c

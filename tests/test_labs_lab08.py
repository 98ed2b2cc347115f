"""Lab 8 (be kube-proxy for a Service) needs the work and teaches when it is missing.

The learners' blank copy runs top to bottom on a real kernel with no traceback but the one-line ones a
cell raises itself, and every graded check shows ✗ with what was expected, never the command. The
solution passing is nbval's run of labs/lab08_services.ipynb. A rule written in the wrong chain fails
with the chain it belongs in.
"""
import pytest

import netlab
from netlab import cni, kube

from blank_lab import graded_failures, run_blank

FIX = "iptables -t nat"


@pytest.mark.root
def test_the_blank_copy_runs_without_a_traceback_and_its_checks_fail_helpfully(root_only, tmp_path, monkeypatch):
    nb = run_blank("lab08_services", tmp_path, monkeypatch)
    for line in graded_failures(nb, "lab08", 4):
        assert FIX not in line and "expected" in line, line


@pytest.mark.root
def test_a_dnat_in_the_services_chain_says_where_it_belongs(root_only):
    with netlab.World(cni.cni_cluster(), name="lab08_wrong_chain", record=False) as w:
        cni.start_cluster(w)
        e1, e2 = kube.Endpoint("10.244.1.2", 8080, "node1"), kube.Endpoint("10.244.2.2", 8080, "node2")
        web = kube.Service("default", "web", "10.96.0.10", 80, endpoints=(e1,))
        kube.sync_all(w, [web])
        both = web.with_endpoints(e1, e2)
        sep = both.sep_chain(e2)
        w.run("node1", f"iptables -t nat -N {sep}")
        w.run("node1", f"iptables -t nat -A {sep} -s 10.244.2.2/32 -j KUBE-MARK-MASQ")
        w.run("node1", f"iptables -t nat -A KUBE-SERVICES -p tcp -j DNAT --to-destination 10.244.2.2:8080")
        c = netlab.check_service_rules(w, "node1", service=both)
        assert not c.ok
        assert "the DNAT to 10.244.2.2:8080 is in chain KUBE-SERVICES" in c.message
        assert f"expected it in chain {sep}" in c.message and FIX not in c.message
        # the shortcut of a DNAT with no statistic split: web-2 never chosen
        w.run("node1", "iptables -t nat -D KUBE-SERVICES -p tcp -j DNAT --to-destination 10.244.2.2:8080")
        w.run("node1", f"iptables -t nat -A {sep} -p tcp -m tcp -j DNAT --to-destination 10.244.2.2:8080")
        w.run("node1", f"iptables -t nat -A {both.svc_chain} -j {sep}")
        c = netlab.check_service_rules(w, "node1", service=both)
        assert not c.ok and "probability" in c.message, c.message

"""netlab.kube.views: which chain counts the endpoint choice makes random (marked, and only those
sanitized), and the sanitizer's kube patterns hiding nothing deterministic."""
import netlab
from netlab.engine.sanitize import sanitize
from netlab.kube.views import ChainView, random_chains

E = netlab.Endpoint
WEB = netlab.Service("default", "web", "10.96.0.10", 80,
                     endpoints=(E("10.244.1.2", 8080, "node1"), E("10.244.2.3", 8080, "node2")))
ONE = netlab.Service("default", "one", "10.96.0.11", 80, endpoints=(E("10.244.1.2", 8080, "node1"),))


def _view(svc, counts):
    seps = [svc.sep_chain(e) for e in svc.endpoints]
    chains = [("KUBE-SERVICES", [(sum(counts), f"-A KUBE-SERVICES -d {svc.cluster_ip}/32 -j {svc.svc_chain}")]),
              (svc.svc_chain, [(0, f"-A {svc.svc_chain} ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ")]
               + [(n, f"-A {svc.svc_chain} -j {sep}") for n, sep in zip(counts, seps)])]
    chains += [(sep, [(0, f"-A {sep} -s 10.244.1.2/32 -j KUBE-MARK-MASQ"), (n, f"-A {sep} -p tcp -j DNAT")])
               for n, sep in zip(counts, seps)]
    return ChainView("node1", svc, chains, random_chains(chains))


def test_two_endpoints_mark_the_split_and_only_the_split():
    text = _view(WEB, [12, 8]).text()
    assert "20 pkts  -A KUBE-SERVICES" in text and "0 pkts  -A KUBE-SVC" in text  # exact: the total, the mark
    assert "12 pkts*  -A KUBE-SVC" in text and "8 pkts*  -A KUBE-SEP" in text
    clean = sanitize(text)
    assert "20 pkts  -A KUBE-SERVICES" in clean and "12 pkts" not in clean and "N pkts*  -A KUBE-SEP" in clean
    assert sanitize(_view(WEB, [3, 17]).text()) == sanitize(_view(WEB, [12, 8]).text())
    assert sanitize(_view(WEB, [3, 18]).text()) != sanitize(_view(WEB, [12, 8]).text())  # the total is compared
    assert "split among the endpoints at random" in text and "pkts*" in _view(WEB, [12, 8]).html()


def test_one_endpoint_is_not_random():
    view = _view(ONE, [20])
    assert view.random == frozenset() and "*" not in view.text() and sanitize(view.text()) == view.text()


def test_spread_pattern_keeps_all_to_one():
    assert sanitize("  web-1: 12 of 20 connections") == "  web-1: N of 20 connections"
    assert sanitize("  web-1: 20 of 20 connections") == "  web-1: 20 of 20 connections"
    assert sanitize("reply from 10.244.2.3:8080: 8 of 20 connections") == "reply from 10.244.2.3:8080: N of 20 connections"

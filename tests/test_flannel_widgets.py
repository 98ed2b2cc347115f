"""Chapter 5's widgets: the encapsulation explorer and the etcd lease table (netlab.flannel.widgets)."""

import json
import os

import ipywidgets as widgets
import pytest

import netlab
from netlab import flannel
from netlab.flannel import widgets as fw


def test_explorer_shows_the_seed_datagram():
    box = netlab.encapsulation_explorer()
    out = box.children[-1]
    assert isinstance(out, widgets.HTML)
    assert "10.168.0.2 &rarr; 10.168.0.3" in out.value and "8285 &rarr; 8285" in out.value
    assert "<b>84</b> bytes + outer IP 20 + UDP 8 = <b>112</b>" in out.value and "<b>28</b> bytes" in out.value
    assert "length 92" in out.value and "TTL 62" in out.value


def test_explorer_recomputes_on_change():
    box = netlab.encapsulation_explorer()
    src, dst, size = box.children[0].children
    out = box.children[-1]
    dst.value = "container-2"  # a name from the list is accepted as well as an address
    assert "100.96.1.2 &rarr; 100.96.2.3" in out.value
    src.value = "100.96.2.3"
    dst.value = "100.96.1.2"
    assert "10.168.0.3 &rarr; 10.168.0.2" in out.value  # the outer addresses follow the leases
    size.value = 1472
    assert "<b>1500</b> bytes + outer IP 20 + UDP 8 = <b>1528</b>" in out.value and "Frag needed" in out.value


def test_explorer_outer_addresses_come_from_the_leases():
    leases = {"100.96.1.0/24": json.loads(flannel.lease_value("10.168.0.2")),
              "100.96.3.0/24": json.loads(flannel.lease_value("10.168.0.4"))}
    box = netlab.encapsulation_explorer(leases, dst="100.96.3.4")
    assert "10.168.0.2 &rarr; 10.168.0.4" in box.children[-1].value
    box.children[0].children[1].value = "100.96.2.3"  # no lease for 100.96.2.0/24 in this table
    assert "net unreachable" in box.children[-1].value and "nothing goes on the LAN" in box.children[-1].value


@pytest.mark.parametrize("src,dst,needle", [
    ("100.96.1.2", "100.96.1.9", "same node"),
    ("100.96.1.2", "10.168.0.1", "outside the overlay"),
    ("100.96.7.7", "100.96.2.3", "No flannel node holds the source"),
    ("100.96.1.2", "100.96.2", "Not an address."),
    ("", "100.96.2.3", "Not an address."),
])
def test_explorer_explains_bad_or_unusual_input(src, dst, needle):
    box = netlab.encapsulation_explorer()
    box.children[0].children[0].value = src
    box.children[0].children[1].value = dst
    html = box.children[-1].value
    assert needle in html and "Traceback" not in html


def test_lease_table_render():
    html = fw.lease_table_html({"100.96.2.0/24": flannel.lease_value("10.168.0.3"),
                                  "100.96.1.0/24": "10.168.0.2"})
    assert html.index("100.96.1.0-24") < html.index("100.96.2.0-24")  # sorted by subnet
    assert "<b>2 leases</b>" in html and "10.168.0.3" in html and "100.96.2.0/16" in html
    assert "no lease yet" in fw.lease_table_html({})


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="the store runs in a world; this test builds one as root")
def test_lease_table_rereads_the_store():
    with netlab.World(netlab.flannel_udp(), name="test_flannel_widgets") as w:
        store = flannel.start_store(w, embedded=True)
        flannel.put_config(w, store)
        flannel.etcdctl(w, "node1", store, "set", flannel.subnet_key("100.96.1.0/24"), flannel.lease_value("10.168.0.2"))
        box = netlab.lease_table(w, store)
        button, out = box.children
        assert isinstance(out, widgets.HTML) and "<b>1 lease</b>" in out.value and "read 1 time)" in out.value
        flannel.etcdctl(w, "node1", store, "set", flannel.subnet_key("100.96.2.0/24"), flannel.lease_value("10.168.0.3"))
        assert "10.168.0.3" not in out.value  # saved state until the button is pressed
        button.click()
        assert "<b>2 leases</b>" in out.value and "10.168.0.3" in out.value and "read 2 times" in out.value
    button.click()  # the world is gone: an inline message, not a traceback
    assert "Cannot read the store." in out.value

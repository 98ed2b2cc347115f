"""netlab.cidr_widgets: drive the widgets by setting .value, assert the HTML."""

import re

import ipywidgets as widgets

from netlab.calc.cidr import HOST_STYLE, NET_STYLE
from netlab.calc.cidr_widgets import cidr_calculator, same_subnet_checker, subnet_splitter, supernet_finder


def _is_error(html):
    return "class='netlab-error'" in html and "Traceback" not in html


def test_calculator_initial_state_is_computed():
    box = cidr_calculator()
    assert isinstance(box, widgets.VBox) and isinstance(box.output, widgets.HTML)
    assert box.output in box.children and box.cidr in box.children
    assert not any(isinstance(c, widgets.Output) for c in box.children)
    h = box.output.value
    for s in ["10.233.64.0", "255.255.192.0", "0.0.63.255", "10.233.127.255", "10.233.127.254", "16,382"]:
        assert s in h
    assert NET_STYLE in h and HOST_STYLE in h
    assert re.search(r"<span class='netbits'[^>]*>00001010\.11101001\.01</span>", h)
    # saved widget state carries the computed HTML (what the static site renders)
    assert box.output.get_state()["value"] == h


def test_calculator_recomputes_on_change():
    box = cidr_calculator()
    box.cidr.value = "192.168.0.3/26"
    h = box.output.value
    assert "192.168.0.63" in h and "192.168.0.0/26" in h and "10.233" not in h
    assert re.search(r"<span class='hostbits'[^>]*>000011</span>", h)  # .3 has host bits 000011


def test_calculator_errors_inline():
    box = cidr_calculator()
    for bad, needle in [("10.233.64.0/33", "out of range 0-32"), ("300.1.1.1/8", "octet 300"),
                        ("", "empty input"), ("abc", "not an IP address")]:
        box.cidr.value = bad
        assert _is_error(box.output.value) and needle in box.output.value
    box.cidr.value = "10.233.64.0/18"
    assert not _is_error(box.output.value)


def test_calculator_ipv6():
    box = cidr_calculator("2001:db8::/64")
    assert "no broadcast" in box.output.value and "2001:db8::1" in box.output.value


def test_same_subnet_checker():
    box = same_subnet_checker()
    assert "Same subnet: no" in box.output.value and "192.168.0.192" in box.output.value
    box.b.value = "192.168.0.60/26"
    assert "Same subnet: yes" in box.output.value
    box.a.value = "2001:db8::1/64"
    assert _is_error(box.output.value) and "cannot compare IPv4" in box.output.value


def test_subnet_splitter():
    box = subnet_splitter()
    h = box.output.value
    assert "10.233.112.0/20" in h and "4 &times; /20" in h
    box.number.value = 3
    assert "rounded up to 4" in box.output.value
    box.mode.value = "new prefix"
    box.number.value = 24
    assert "64 &times; /24" in box.output.value
    box.number.value = 16
    assert _is_error(box.output.value) and "shorter than" in box.output.value
    box.prefix.value = "10.233.64.1/18"
    assert "the network is 10.233.64.0/18" in box.output.value
    box = subnet_splitter(new_prefix=19)
    assert box.mode.value == "new prefix" and "2 &times; /19" in box.output.value


def test_supernet_finder():
    box = supernet_finder()
    assert "<code class='supernet'>10.233.0.0/16</code>" in box.output.value
    box.networks.value = "10.0.0.0/24\n10.0.1.0/24"
    assert "<code class='supernet'>10.0.0.0/23</code>" in box.output.value
    box.networks.value = "10.0.0.0/24\nnope"
    assert _is_error(box.output.value) and "'nope'" in box.output.value.replace("&#x27;", "'")
    box = supernet_finder(["192.168.0.0/26", "192.168.0.64/26"])
    assert "192.168.0.0/25" in box.output.value

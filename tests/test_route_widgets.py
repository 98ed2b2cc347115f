"""netlab.route_widgets: the route-lookup explorer, driven by setting widget values."""

import ipywidgets as widgets
import pytest

from netlab.calc.route_widgets import EXPLORER_TABLES, render_route_lookup, route_lookup_explorer
from netlab.calc.routetable import SEED_TABLES


def parts(box):
    dropdown, textarea, text, html = box.children
    return dropdown, textarea, text, html


def test_shape_and_initial_state_is_computed():
    box = route_lookup_explorer()
    assert isinstance(box, widgets.VBox)
    dropdown, textarea, text, html = parts(box)
    assert isinstance(dropdown, widgets.Dropdown) and isinstance(textarea, widgets.Textarea)
    assert isinstance(text, widgets.Text) and type(html) is widgets.HTML
    assert not any(isinstance(c, widgets.Output) for c in box.children)
    assert dropdown.value == "mac-host-a" and textarea.value == SEED_TABLES["mac-host-a"]
    assert text.value == "10.6.8.1"
    # saved state must already hold the answer
    assert "macOS netstat -nr" in html.value
    assert "gateway 10.64.1.1 on en0" in html.value
    assert 'class="netlab-route-chosen"' in html.value
    assert "RTF_GATEWAY" in html.value and "RTF_PRCLONING" in html.value


def test_dropdown_offers_four_seed_tables_and_paste():
    dropdown = parts(route_lookup_explorer())[0]
    assert [v for _, v in dropdown.options] == ["mac-host-a", "vm-b", "node1", "node2", "custom"]
    assert len(EXPLORER_TABLES) == 5


@pytest.mark.parametrize("key,dest,expect", [
    ("vm-b", "10.6.8.1", "directly connected network 10.6.0.0/16"),
    ("node1", "100.96.2.3", "flannel0"),
    ("node2", "100.96.2.3", "docker0"),
])
def test_choosing_a_seed_table_updates_text_and_result(key, dest, expect):
    box = route_lookup_explorer()
    dropdown, textarea, text, html = parts(box)
    dropdown.value = key
    assert textarea.value == SEED_TABLES[key]
    assert dropdown.value == key
    text.value = dest
    assert expect in html.value


def test_vm_b_shows_linux_flags_and_metric():
    box = route_lookup_explorer()
    dropdown, _, text, html = parts(box)
    dropdown.value = "vm-b"
    assert "Linux route -n" in html.value and "Metric" in html.value
    assert "gateway: packets are sent to the gateway" in html.value


def test_editing_text_switches_to_paste_your_own():
    box = route_lookup_explorer()
    dropdown, textarea, text, html = parts(box)
    textarea.value = "default via 192.0.2.1 dev eth0\n192.0.2.0/24 dev eth0\n"
    assert dropdown.value == "custom"
    assert "ip route" in html.value and "gateway 192.0.2.1 on eth0" in html.value
    text.value = "192.0.2.9"
    assert "directly connected network 192.0.2.0/24" in html.value


def test_table_text_argument_starts_custom():
    box = route_lookup_explorer(SEED_TABLES["node1"], destination="100.96.1.2")
    dropdown, textarea, _, html = parts(box)
    assert dropdown.value == "custom" and textarea.value == SEED_TABLES["node1"]
    assert "docker0" in html.value and "chosen" in html.value


def test_bad_table_inline_message():
    box = route_lookup_explorer()
    _, textarea, _, html = parts(box)
    textarea.value = "Kernel IP routing table\nDestination Gateway Genmask Flags Metric Ref Use Iface\n" \
                     "10.0.0.0 0.0.0.0 255.0.0.0 U 0 0 eth0\n"
    assert "Could not read the table" in html.value and "Line 3" in html.value
    assert "Traceback" not in html.value
    textarea.value = ""
    assert "empty" in html.value


@pytest.mark.parametrize("dest,words", [
    ("10.6.8.256", "256 is larger than 255"),
    ("", "Enter a destination"),
    ("10.0.0.0/8", "is a network"),
    ("hello", "not an IPv4 address"),
])
def test_bad_destination_inline_message(dest, words):
    box = route_lookup_explorer()
    _, _, text, html = parts(box)
    text.value = dest
    assert "Check the destination" in html.value and words in html.value
    assert "netlab-route-chosen" not in html.value
    assert "Detected format" in html.value


def test_unreachable_shown():
    box = route_lookup_explorer("10.0.0.0/24 dev eth0\n", destination="8.8.8.8")
    html = parts(box)[3]
    assert "Network is unreachable" in html.value and "No route matches" in html.value


def test_candidates_listed():
    html = render_route_lookup(SEED_TABLES["mac-host-a"], "10.64.1.1")
    block = html.split('class="netlab-route-candidates"')[1].split("</ul>")[0]
    assert block.count("<li>") == 3 and "(chosen)" in block


def test_html_escaped():
    html = render_route_lookup("default via 10.0.0.1 dev <script>\n", "1.1.1.1")
    assert "<script>" not in html and "&lt;script&gt;" in html

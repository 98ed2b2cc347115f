"""netlab.quiz: answer checkers for the labs."""

import pytest

from netlab.calc.cidr import CidrError
from netlab.checks.answers import (
    Check,
    check_broadcast,
    check_host_range,
    check_hostmask,
    check_netmask,
    check_network,
    check_same_subnet,
    check_split,
    check_supernet,
    check_usable_hosts,
)

SEED = "10.233.64.0/18"


def test_check_protocol():
    ok, bad = check_network(SEED, "10.233.64.0"), check_network(SEED, "10.233.64.1")
    assert isinstance(ok, Check) and ok and ok.ok and not bad and not bad.ok
    assert repr(ok).startswith("✓ ") and repr(bad).startswith("✗ ")
    assert "✓" in ok._repr_html_() and "#1b5e20" in ok._repr_html_()
    assert "✗" in bad._repr_html_() and "#8b0000" in bad._repr_html_()


def test_seed_network_and_mistakes():
    assert check_network(SEED, " 10.233.64.0 ")
    assert check_network(SEED, "10.233.64.0/18")
    m = check_network(SEED, "10.233.127.255").message
    assert "10.233.127.255 is the broadcast address" in m and "not the network address" in m
    assert "subnet mask" in check_network(SEED, "255.255.192.0").message
    assert "the address you were given" in check_network("192.168.0.3/26", "192.168.0.3").message
    assert check_network("192.168.0.3/26", "192.168.0.0")


def test_masks():
    assert check_netmask(SEED, "255.255.192.0") and check_hostmask(SEED, "0.0.63.255")
    assert "subnet mask" in check_hostmask(SEED, "255.255.192.0").message


def test_broadcast():
    assert check_broadcast(SEED, "10.233.127.255")
    m = check_broadcast(SEED, "10.233.127.254").message
    assert "10.233.127.254 is the last usable host" in m
    assert check_broadcast("10.0.0.0/31", None) and check_broadcast("2001:db8::/64", "none")
    assert "no broadcast" in check_broadcast("2001:db8::/64", "2001:db8::ffff:ffff:ffff:ffff").message


def test_host_range_spec_example():
    m = check_host_range(SEED, "10.233.64.1", "10.233.127.255").message
    assert m == "Right first host, but 10.233.127.255 is the broadcast address (the max IP), not the last usable host."
    assert check_host_range(SEED, "10.233.64.1", "10.233.127.254")
    assert check_host_range(SEED, "10.233.64.1 - 10.233.127.254")
    assert "network address, not the first usable host" in check_host_range(SEED, "10.233.64.0", "10.233.127.254").message
    assert "Both ends" in check_host_range(SEED, "10.233.64.0", "10.233.127.255").message
    assert "Couldn't read" in check_host_range(SEED, "10.233.64.1").message


def test_usable_hosts():
    assert check_usable_hosts(SEED, 16382) and check_usable_hosts(SEED, "16,382")
    assert "every address" in check_usable_hosts(SEED, 16384).message
    assert "Subnet-Router anycast" in check_usable_hosts("2001:db8::/120", 256).message
    assert "whole number" in check_usable_hosts(SEED, "lots").message


def test_same_subnet_seed():
    c = check_same_subnet("192.168.0.3/26", "192.168.0.192/26", False)
    assert c and "192.168.0.0" in c.message and "192.168.0.192" in c.message and "gateway" in c.message
    assert check_same_subnet("192.168.0.3/26", "192.168.0.192/26", "no")
    assert check_same_subnet("192.168.0.3/26", "192.168.0.192/26", "否")
    wrong = check_same_subnet("192.168.0.3/26", "192.168.0.192/26", "yes")
    assert not wrong and "they differ" in wrong.message
    assert "True/False" in check_same_subnet("192.168.0.3/26", "192.168.0.192/26", "maybe").message


def test_split():
    good = ["10.233.64.0/20", "10.233.80.0/20", "10.233.96.0/20", "10.233.112.0/20"]
    c = check_split(SEED, good, count=3)
    assert c and "rounds up to 4" in c.message
    assert check_split(SEED, ", ".join(reversed(good)), new_prefix=20)
    assert "wrong length" in check_split(SEED, ["10.233.64.0/19", "10.233.96.0/19"], count=4).message
    assert "missing e.g. 10.233.112.0/20" in check_split(SEED, good[:3], count=4).message
    assert "more than once" in check_split(SEED, good + good[:1], count=4).message
    assert "not inside" in check_split(SEED, ["10.0.0.0/20"] + good[1:], count=4).message
    assert "host bits set" in check_split(SEED, ["10.233.64.1/20"] + good[1:], count=4).message
    assert "Couldn't read '10.233.64/20'" in check_split(SEED, ["10.233.64/20"], count=4).message
    # large splits are checked without listing every subnet
    assert "there are 65536" in check_split("10.0.0.0/8", ["10.0.0.0/24"], new_prefix=24).message


def test_supernet():
    nets = ["10.233.64.0/18", "10.233.128.0/18"]
    assert check_supernet(nets, "10.233.0.0/16")
    assert "too big" in check_supernet(nets, "10.0.0.0/8").message
    assert "does not cover 10.233.128.0/18" in check_supernet(nets, "10.233.64.0/18").message
    assert "Give one prefix" in check_supernet(nets, ["10.233.0.0/16", "10.0.0.0/8"]).message


@pytest.mark.parametrize("answer", [None, "", "abc", "10.233.64", "300.1.1.1", 42, "10.233.64.0/33x"])
def test_unparseable_answers_never_raise(answer):
    c = check_network(SEED, answer)
    assert not c and c.message and "\n" not in c.message


def test_bad_question_raises_loudly():
    with pytest.raises(CidrError):
        check_network("10.233.64.0/33", "10.233.64.0")


def test_network_answer_with_wrong_prefix():
    c = check_network(SEED, "10.233.64.0/17")
    assert not c and "/17" in c.message and "/18" in c.message

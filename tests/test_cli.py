"""netlab.cli via `python -m netlab` (subprocess) and main(argv)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from netlab import cli

ROOT = Path(__file__).resolve().parents[1]


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "netlab", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_cidr_tables_and_summary():
    r = run("cidr", "10.233.64.0/18")
    assert r.returncode == 0 and r.stderr == ""
    for s in ["00001010.11101001.01000000.00000000", "11111111.11111111.11000000.00000000",
              "00000000.00000000.00111111.11111111", "00001010.11101001.01111111.11111111",
              "0.0.63.255", "10.233.127.255", "10.233.127.254", "最大IP地址", "子网掩码中主机地址"]:
        assert s in r.stdout


def test_cidr_json():
    r = run("cidr", "10.233.64.0/18", "--json")
    assert r.returncode == 0
    d = json.loads(r.stdout)
    assert {k: d[k] for k in ["network", "netmask", "hostmask", "broadcast", "first_host", "last_host",
                              "num_addresses", "usable_hosts", "prefixlen", "version"]} == {
        "network": "10.233.64.0", "netmask": "255.255.192.0", "hostmask": "0.0.63.255",
        "broadcast": "10.233.127.255", "first_host": "10.233.64.1", "last_host": "10.233.127.254",
        "num_addresses": 16384, "usable_hosts": 16382, "prefixlen": 18, "version": 4}


def test_cidr_json_ipv6_broadcast_null():
    d = json.loads(run("cidr", "2001:db8::/64", "--json").stdout)
    assert d["broadcast"] is None and d["first_host"] == "2001:db8::1"


def test_same_subnet_no_exits_zero():
    r = run("same-subnet", "192.168.0.3/26", "192.168.0.192/26")
    assert r.returncode == 0
    assert r.stdout.startswith("Same subnet: no")
    assert "192.168.0.0" in r.stdout and "192.168.0.192" in r.stdout


def test_same_subnet_yes_json():
    r = run("same-subnet", "192.168.0.3/26", "192.168.0.60/26", "--json")
    assert r.returncode == 0
    d = json.loads(r.stdout)
    assert d["same_subnet"] is True and d["a_network"] == d["b_network"] == "192.168.0.0"


def test_split_and_supernet():
    r = run("split", "10.233.64.0/18", "--count", "3", "--json")
    d = json.loads(r.stdout)
    assert r.returncode == 0 and d["new_prefix"] == 20 and len(d["subnets"]) == 4
    assert any("rounded up" in n for n in d["notes"])
    r = run("supernet", "10.233.64.0/18", "10.233.128.0/18")
    assert r.returncode == 0 and "Supernet:        10.233.0.0/16" in r.stdout


@pytest.mark.parametrize(
    "args, needle",
    [
        (["cidr", "10.233.64.0/33"], "prefix length /33 is out of range 0-32"),
        (["cidr", "300.1.1.1/8"], "octet 300 is out of range 0-255"),
        (["cidr", "abc"], "is not an IP address"),
        (["cidr", ""], "empty input"),
        (["cidr", "1.2.3/24", "--json"], "exactly 4 octets"),
        (["cidr"], "the following arguments are required: cidr"),
        ([], "give a command"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["cidr", "10.0.0.0/8", "--bogus"], "unrecognized arguments: --bogus"),
        (["same-subnet", "192.168.0.3/26", "2001:db8::1/64"], "cannot compare IPv4"),
        (["split", "10.0.0.0/30", "-n", "8"], "needs /33"),
        (["split", "10.0.0.0/8"], "one of the arguments --count/-n --new-prefix/-p is required"),
        (["split", "10.0.0.0/8", "-n", "x"], "the count 'x' is not a whole number"),
        (["split", "10.0.0.0/8", "-n", "2", "--limit", "0"], "--limit 0 is out of range: it must be 1 to 4096"),
        (["supernet", "10.0.0.0/8", "::/0"], "cannot mix IPv4"),
    ],
)
def test_bad_input_exit_2_one_line(args, needle):
    r = run(*args)
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("netlab") and "error:" in lines[0] and needle in lines[0]
    assert "Traceback" not in r.stderr


def test_help_exits_zero():
    r = run("--help")
    assert r.returncode == 0 and "cidr" in r.stdout and "same-subnet" in r.stdout


def test_main_returns_code_in_process(capsys):
    assert cli.main(["cidr", "10.233.64.0/18", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["broadcast"] == "10.233.127.255"
    assert cli.main(["cidr", "nope"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_register_adds_a_subcommand(monkeypatch, capsys):
    monkeypatch.setattr(cli, "_COMMANDS", dict(cli._COMMANDS))

    def args(p):
        p.add_argument("node")

    @cli.subcommand("echo-node", "test command", args)
    def _run(a):
        print(f"node={a.node}")
        return 3

    assert cli.main(["echo-node", "node1"]) == 3
    assert capsys.readouterr().out == "node=node1\n"
    with pytest.raises(ValueError, match="already registered"):
        cli.register("echo-node", "again", args, _run)

"""Recordings: made live, replayed where namespaces are impossible, and verified against the kernel."""

import json
import os

import pytest

from netlab import RecordingMismatch, ReplayError, World, pc_pair_with_router, sanitize, verify_recording
from netlab.engine.recording import recording_path
from netlab.engine.sanitize import nbval_config
from netlab.engine.verify import record

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def scenario(w):
    w.run("pc1", "ip route")
    w.run("pc1", "ping -c 2 -i 0.01 -W 1 192.168.0.192")
    w.run("r1", "ip route get 10.0.0.1", check=False)
    w.run("r1", "ip -br addr")
    with w.capture("r1", "eth1", "icmp"):
        w.run("pc1", "ping -c 1 -W 1 192.168.0.192")


def test_sanitize_is_narrow():
    text = ("64 bytes from 172.17.0.1: icmp_seq=1 ttl=64 time=0.113 ms\n"
            "3 packets transmitted, 3 received, 0% packet loss, time 2003ms\n"
            "rtt min/avg/max/mdev = 0.048/0.110/0.171/0.050 ms\n"
            "22:31:05.123456 IP 10.0.0.1.45678 > 10.0.0.2.80: Flags [S]\n")
    assert sanitize(text) == ("64 bytes from 172.17.0.1: icmp_seq=1 ttl=64 time=TIME ms\n"
                              "3 packets transmitted, 3 received, 0% packet loss, time TIMEms\n"
                              "rtt min/avg/max/mdev = RTT ms\n"
                              "HH:MM:SS.USEC IP 10.0.0.1.45678 > 10.0.0.2.80: Flags [S]\n")
    assert "10.0.0.1.PORT > 10.0.0.2.80" in sanitize(text, ephemeral_ports=True)
    kept = "default via 192.168.0.1 dev eth0 \n10.1.16.0 lladdr 5e:f8:4f:00:e3:37 PERMANENT\nttl=63 mtu 1450\n"
    assert sanitize(kept, ephemeral_ports=True) == kept


def test_nbval_sanitize_cfg_is_generated_from_the_sanitizer():
    with open(os.path.join(ROOT, "tests", "nbval_sanitize.cfg")) as f:
        committed = f.read()
    assert committed == nbval_config(), "run `python scripts/write_nbval_sanitize.py` and commit the result"


@pytest.mark.root
def test_record_then_replay(tmp_path, monkeypatch, capsys):
    path = record(pc_pair_with_router(), scenario, str(tmp_path))
    assert path == recording_path("pc_pair_with_router", str(tmp_path))
    data = json.load(open(path))
    assert data["kernel"] == os.uname().release and data["date"].endswith("UTC")
    assert [e["kind"] for e in data["entries"]] == ["run"] * 5 + ["capture"]
    assert "time=TIME ms" in data["entries"][1]["stdout"]

    monkeypatch.setenv("NETLAB_MODE", "replay")
    monkeypatch.setenv("NETLAB_RECORDINGS", str(tmp_path))
    with World(pc_pair_with_router()) as w:
        banner = capsys.readouterr().out
        assert banner.startswith(f"RECORDED on {data['kernel']} at {data['date']}: this machine cannot create"
                                 " network namespaces (NETLAB_MODE=replay forces replay of recordings);"
                                 " outputs below were captured from a live kernel by `make record`")
        assert w.mode == "replay"
        r = w.run("pc1", "ip route")
        assert r.recorded and str(r).startswith("$ ip netns exec pc1 ip route\ndefault via 192.168.0.1 dev eth0")
        assert "2 received" in w.run("pc1", "ping -c 2 -i 0.01 -W 1 192.168.0.192").stdout
        unreachable = w.run("r1", "ip route get 10.0.0.1", check=False)
        assert unreachable.returncode == 2 and unreachable.stderr == "RTNETLINK answers: Network is unreachable\n"
        with pytest.raises(ReplayError, match=r"`ip netns exec r1 ip route` was not recorded"):
            w.run("r1", "ip route")
        w.run("r1", "ip -br addr")
        with pytest.raises(ReplayError, match="was not recorded"):
            w.run("r1", "ip -br addr")  # recorded once, replayed once
        with w.capture("r1", "eth1", "icmp") as cap:
            w.run("pc1", "ping -c 1 -W 1 192.168.0.192")
        assert [p["IP"].ttl for p in cap.packets] == [63, 64]


@pytest.mark.root
def test_replay_prints_what_live_printed(tmp_path, monkeypatch, capsys):
    with World(pc_pair_with_router(), record=True, recordings_dir=str(tmp_path)) as w:
        live = [str(w.run("pc1", "ip -br link")), str(w.run("pc1", "ping -c 1 -W 1 192.168.0.192"))]
    monkeypatch.setenv("NETLAB_MODE", "replay")
    with World(pc_pair_with_router(), recordings_dir=str(tmp_path)) as w:
        replayed = [str(w.run("pc1", "ip -br link")), str(w.run("pc1", "ping -c 1 -W 1 192.168.0.192"))]
    assert replayed == [sanitize(t) for t in live]


@pytest.mark.root
def test_verify_recording_catches_a_stale_recording(tmp_path):
    topo = pc_pair_with_router()
    record(topo, scenario, str(tmp_path))
    assert verify_recording(topo, scenario, str(tmp_path)) == 6
    path = recording_path(topo.name, str(tmp_path))
    data = json.load(open(path))
    data["entries"][0]["stdout"] = data["entries"][0]["stdout"].replace("192.168.0.1", "192.168.0.62")
    json.dump(data, open(path, "w"))
    with pytest.raises(RecordingMismatch, match=r"entry 0 \(`ip route` in pc1\) differs"):
        verify_recording(topo, scenario, str(tmp_path))
    del data["entries"][3]
    json.dump(data, open(path, "w"))
    with pytest.raises(RecordingMismatch, match="has 5 entries but the live run made 6"):
        verify_recording(topo, scenario, str(tmp_path))


def test_missing_recording_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("NETLAB_MODE", "replay")
    with pytest.raises(ReplayError, match=r"no recording of world 'pc_pair_with_router' at .*make record"):
        World(pc_pair_with_router(), recordings_dir=str(tmp_path))

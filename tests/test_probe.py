"""probe(): find out by trying whether this machine can build worlds."""

import os
import subprocess
import sys

import pytest

from netlab import probe

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_forced_replay(monkeypatch):
    monkeypatch.setenv("NETLAB_MODE", "replay")
    p = probe()
    assert p.mode == "none" and "NETLAB_MODE=replay" in p.reason


@pytest.mark.root
def test_root_mode():
    p = probe()
    assert p.mode == "root", p
    assert p.unavailable == {}, p
    assert str(p).startswith("root: ")


def test_none_mode_quotes_the_error(tmp_path):
    """A PATH whose 'unshare' refuses, like a host that forbids namespaces: mode none, with the error."""
    fake = tmp_path / "unshare"
    fake.write_text("#!/bin/sh\necho 'unshare: unshare failed: Operation not permitted' >&2\nexit 1\n")
    fake.chmod(0o755)
    code = "from netlab.probe import probe; r = probe(); print(r.mode); print(r.reason)"
    env = dict(os.environ, PATH=f"{tmp_path}:{os.environ['PATH']}", PYTHONPATH=HERE)
    env.pop("NETLAB_MODE", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    mode, reason = out.splitlines()
    assert mode == "none"
    assert "unshare failed: Operation not permitted" in reason


@pytest.mark.userns
def test_userns_mode_reports_reason_and_missing_features(tmp_path):
    import sys; sys.path.insert(0, os.path.dirname(__file__))
    from test_world_userns import run_unprivileged
    out = run_unprivileged(tmp_path, "from netlab.probe import probe; p = probe(); print(p.mode); print(p.reason)")
    mode, reason = out.splitlines()[-2:]
    assert mode == "userns"
    assert "not root (uid 65534), but unprivileged user namespaces work" in reason
    # Everything a lab needs works in a user namespace here (captures use the agent's packet socket).
    assert "unavailable" not in reason

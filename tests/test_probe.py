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
    """A PATH whose 'unshare' refuses, like a host that forbids namespaces, and no User-mode Linux
    kernel: mode none, with both reasons."""
    fake = tmp_path / "unshare"
    fake.write_text("#!/bin/sh\necho 'unshare: unshare failed: Operation not permitted' >&2\nexit 1\n")
    fake.chmod(0o755)
    code = "from netlab.engine.probe import probe; r = probe(); print(r.mode); print(r.reason)"
    env = dict(os.environ, PATH=f"{tmp_path}:{os.environ['PATH']}", PYTHONPATH=HERE,
               NETLAB_UML_KERNEL=str(tmp_path / "no-linux.uml"))
    env.pop("NETLAB_MODE", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    mode, reason = out.splitlines()
    assert mode == "none"
    assert "unshare failed: Operation not permitted" in reason
    assert "the User-mode Linux kernel (linux.uml) is not installed" in reason

# The unprivileged cases (TUN openable or refused, both forced on every machine) are in
# tests/test_world_userns.py, which drops to uid 65534; User-mode Linux where namespaces are
# refused, and why it cannot run (no kernel, noexec or small TMPDIR, no ptrace), in
# tests/test_world_uml.py.

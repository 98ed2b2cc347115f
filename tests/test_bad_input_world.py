"""Issue 20 on a live world: bad arguments to World.run/start/stop/capture raise WorldInputError
before anything reaches the world (nothing left running, no stale request), and the two file-write
holes are closed."""

import glob
import math
import os

import pytest

from netlab import CommandError, World, WorldError, pc_pair
from netlab.engine.result import WorldInputError

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def world():
    with World(pc_pair()) as w:
        yield w


@pytest.mark.parametrize("node, command, kw, needle", [
    ("pc1", "", {}, "the command is empty"),
    ("pc1", "   ", {}, "the command is empty"),
    ("pc1", [], {}, "the command is empty"),
    ("pc1", None, {}, "not NoneType None"),
    ("pc1", b"ls", {}, "not bytes b'ls'"),
    ("pc1", 5, {}, "not int 5"),
    ("pc1", ["echo", None], {}, "each argument"),
    ("pc1", "echo a\x00b", {}, "NUL character"),
    ("pc1", "sleep 30", {"timeout": "abc"}, "timeout must be a number of seconds"),
    ("pc1", "sleep 30", {"timeout": math.nan}, "not float nan"),
    ("pc1", "sleep 30", {"timeout": -1}, "above 0"),
    ("pc1", "sleep 30", {"timeout": True}, "not bool True"),
    ("pc1", "cat", {"input": b"abc"}, "decode it first"),
    (["pc1"], "ls", {}, "node must be a node's name"),
])
def test_run_refuses_bad_arguments_before_the_world(world, node, command, kw, needle):
    with pytest.raises(WorldInputError) as exc:
        world.run(node, command, **kw)
    assert needle in str(exc.value) and "\n" not in str(exc.value)
    assert isinstance(exc.value, WorldError) and isinstance(exc.value, ValueError)
    assert world.backend.agent._pending == {}  # no request was sent and left waiting
    assert "sleep" not in world.run(None, "ps -eo comm").stdout  # nothing left running


def test_command_error_message_is_bounded(world):
    with pytest.raises(CommandError) as exc:
        world.run("pc1", ["sh", "-c", "printf %s \"$0\" >&2; exit 3", "x" * 100_000])
    assert len(str(exc.value)) < 800 and "exited with code 3" in str(exc.value)


@pytest.mark.parametrize("name", ["../x", "a/b", "x\n", "..", ""])
def test_start_refuses_names_that_are_paths(world, name):
    with pytest.raises(WorldInputError, match="becomes a file name"):
        world.start("pc1", "sleep 5", name=name)
    with pytest.raises(WorldInputError):
        world.stop(["x"])


def test_capture_filter_cannot_become_a_tcpdump_option(world, tmp_path):
    target = tmp_path / "written.pcap"
    for bad in (f"-w{target}", f" -w {target}", f"-w {target} icmp"):
        with pytest.raises(WorldInputError, match="starts with '-'"):
            world.capture("pc1", "eth0", bad)
    with pytest.raises(WorldInputError, match="may use only"):
        world.capture("pc1", "eth0\n", "icmp")
    cap = world.capture("pc1", "eth0", "icmp")  # a real filter still works (passed after --)
    assert len(cap.stop()) == 0
    assert not target.exists()


def test_world_named_like_a_path_is_refused_before_anything_is_written(tmp_path):
    folder = tmp_path / "recordings"
    for name in ("../x", "a/../../x", "x\n"):
        with pytest.raises(WorldInputError, match="world name"):
            World(pc_pair(), name=name, record=True, recordings_dir=str(folder))
    assert glob.glob(str(tmp_path / "**"), recursive=True) == [str(tmp_path) + os.sep]

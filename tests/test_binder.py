"""Binder's files agree with the top-level requirements and the package (no Docker engine here to run repo2docker)."""
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            names.add(re.split(r"[<>=!~\[ ;]", line)[0].lower())
    return names


def test_binder_requirements_point_at_the_top_level_file():
    lines = [l.strip() for l in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
             if l.strip() and not l.startswith("#")]
    assert lines == ["-r ../requirements.txt"]


def test_package_dependencies_are_in_requirements():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    required = requirement_names(ROOT / "requirements.txt")
    for dep in project["dependencies"]:
        name = re.split(r"[<>=!~\[ ;]", dep)[0].lower()
        assert name in required, f"{name} is a netlab dependency but not in requirements.txt"


def test_jupyter_book_is_pinned_below_2():
    text = (ROOT / "requirements.txt").read_text()
    assert re.search(r"^jupyter-book>=1\.0\.4,<2$", text, re.M)


def test_runtime_matches_the_python_the_package_needs():
    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-(\d+)\.(\d+)", runtime)
    assert match, f"runtime.txt must read python-X.Y, not {runtime!r}"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    minimum = re.search(r">=(\d+)\.(\d+)", project["requires-python"]).groups()
    assert tuple(map(int, match.groups())) >= tuple(map(int, minimum))


def test_postbuild_installs_the_package_and_stops_on_error():
    text = (ROOT / "binder" / "postBuild").read_text()
    assert text.startswith("#!/bin/bash") and "\nset -e\n" in text
    assert re.search(r"pip install .*-e \.", text)
    assert (ROOT / "binder" / "postBuild").stat().st_mode & 0o111


def test_apt_lists_hold_the_tools_the_labs_call():
    packages = {l.split("#")[0].strip() for l in (ROOT / "binder" / "apt.txt").read_text().splitlines()} - {""}
    for needed in ("iproute2", "iptables", "iputils-ping", "tcpdump", "iperf3", "etcd-server"):
        assert needed in packages
    for pkg in packages:
        assert re.fullmatch(r"[a-z0-9][a-z0-9.+-]+", pkg), f"{pkg!r} is not a Debian package name"

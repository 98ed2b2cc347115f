"""Binder's image (binder/Dockerfile) installs the lists the Makefile installs, as mybinder.org expects
(no Docker engine here to build it; tests/test_world_uml.py plays Binder's sandbox instead)."""
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


def dockerfile() -> str:
    return (ROOT / "binder" / "Dockerfile").read_text()


def test_binder_is_a_dockerfile_and_one_package_list():
    """With a Dockerfile repo2docker ignores every other file in binder/: none may sit there unread."""
    assert sorted(p.name for p in (ROOT / "binder").iterdir()) == ["Dockerfile", "apt.txt"]


def test_dockerfile_installs_the_lists_the_makefile_installs():
    text = dockerfile()
    assert "COPY binder/apt.txt " in text and "xargs apt-get install -y -qq --no-install-recommends" in text
    assert "COPY requirements.txt " in text and re.search(r"pip install --no-cache-dir -r /tmp/requirements.txt", text)
    assert re.search(r"pip install .*--no-deps -e \.", text)
    makefile = (ROOT / "Makefile").read_text()
    assert "install_system_packages.sh binder/apt.txt" in makefile


def test_dockerfile_follows_mybinders_rules():
    """A pinned Debian bookworm Python base, NB_USER/NB_UID, the repository owned by that user in
    its home, Jupyter's server installed (mybinder.org's "Use a Dockerfile" page)."""
    text = dockerfile()
    base = re.search(r"^FROM python:(\d+)\.(\d+)-slim-bookworm$", text, re.M)
    assert base, "the base must be a pinned python:X.Y-slim-bookworm (the distribution the course is tested on)"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    minimum = re.search(r">=(\d+)\.(\d+)", project["requires-python"]).groups()
    assert tuple(map(int, base.groups())) >= tuple(map(int, minimum))
    for line in ("ARG NB_USER=jovyan", "ARG NB_UID=1000", "HOME=/home/${NB_USER}", "COPY . ${HOME}",
                 "chown -R ${NB_UID} ${HOME}", "USER ${NB_USER}"):
        assert line in text, line
    assert '"notebook>=' in text and text.rstrip().endswith("USER ${NB_USER}")


def test_package_dependencies_are_in_requirements():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    required = requirement_names(ROOT / "requirements.txt")
    for dep in project["dependencies"]:
        name = re.split(r"[<>=!~\[ ;]", dep)[0].lower()
        assert name in required, f"{name} is a netlab dependency but not in requirements.txt"


def test_jupyter_book_is_pinned_below_2():
    text = (ROOT / "requirements.txt").read_text()
    assert re.search(r"^jupyter-book>=1\.0\.4,<2$", text, re.M)


def test_apt_lists_hold_the_tools_the_labs_call():
    packages = {l.split("#")[0].strip() for l in (ROOT / "binder" / "apt.txt").read_text().splitlines()} - {""}
    for needed in ("iproute2", "iptables", "iputils-ping", "tcpdump", "iperf3", "etcd-server",
                   "user-mode-linux", "kmod"):  # the last two: worlds where namespaces are forbidden
        assert needed in packages
    for pkg in packages:
        assert re.fullmatch(r"[a-z0-9][a-z0-9.+-]+", pkg), f"{pkg!r} is not a Debian package name"

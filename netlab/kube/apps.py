"""Start the pods' web servers and fetch from them: what chapter 8 and lab08 call.

Each server is ``python3 -m netlab.kube.echo serve`` in its pod (it dies with the world); a fetch runs
``python3 -m netlab.kube.echo get`` in a pod or a node, and a spread reading counts which endpoint
answered N fresh connections.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..inputs import quote
from .rules import ServiceError


def start_web(world, pod: str, port: int = 8080) -> str:
    """Serve HTTP on PORT in POD (idempotent: a second call keeps the first server); returns its name."""
    name = f"web-{pod}-{port}"
    if name not in getattr(world, "_bg", {}):
        world.start(pod, ["python3", "-m", "netlab.kube.echo", "serve", "--name", pod, "--port", str(port)], name=name)
        # one command that waits in the pod (a recording then holds one entry, however long it took)
        world.run(pod, ["sh", "-c", f"for i in $(seq 100); do ss -Hltn 'sport = :{port}' | grep -q LISTEN && exit 0;"
                                    f" sleep 0.05; done; exit 1"], check=False)
    return name


def fetch(world, where: str, url: str, count: int = 1, timeout: float = 2):
    """GET URL COUNT times from WHERE (a pod or a node); the command's result, one answer per line."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 200:
        raise ServiceError(f"count must be a whole number of connections from 1 to 200, not {quote(count)}")
    return world.run(where, ["python3", "-m", "netlab.kube.echo", "get", url, "--count", str(count),
                             "--timeout", f"{timeout:g}"], check=False, timeout=count * timeout + 10)


@dataclass
class Spread:
    """Which pod answered how many of COUNT connections to one URL."""

    url: str
    count: int
    answers: dict

    def text(self) -> str:
        lines = [f"{self.count} connections to {self.url}:"]
        for who, n in sorted(self.answers.items()):
            lines.append(f"  {who}: {n} of {self.count} connections")
        return "\n".join(lines)

    __str__ = __repr__ = text


def spread(world, where: str, url: str, count: int = 20) -> Spread:
    """Fetch COUNT times and count the answers by the pod that gave them (``error: ...`` lines as such)."""
    out = fetch(world, where, url, count).stdout
    answers = Counter(line.split(" saw ")[0] if " saw " in line else line for line in out.splitlines() if line)
    return Spread(url, count, dict(answers))

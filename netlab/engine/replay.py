"""The replay backend: a world served from a recording, for machines that cannot create network
namespaces.

A live world run with ``NETLAB_RECORD=1`` (or ``World(..., record=True)``) writes its transcript
as a recording when it closes (:mod:`.recording`: every command, its output and exit code,
background-process output and captures, with the kernel release and the UTC date). Where
namespaces are impossible, ``World`` replays that file: the same commands, in the same order, print
the same transcripts, after one banner saying they were recorded, where and why. A command that
was not recorded raises :class:`~.result.ReplayError`; nothing is ever imitated.
:mod:`.verify` keeps committed recordings honest.
"""

from __future__ import annotations

from . import recording
from .backend import Backend
from .result import CommandResult, ReplayError, WorldError


class ReplayBackend(Backend):
    """Serves a recording's entries in order for (kind, node, command)."""

    mode = "replay"
    shell_unavailable = "a replayed world has no kernel to open a shell in"

    def __init__(self, name: str, recordings_dir: str | None = None, reason: str = ""):
        """Load the recording of world NAME and print the banner that says it is one."""
        try:
            self.data = recording.read(name, recordings_dir)
        except FileNotFoundError:
            raise ReplayError(f"this machine cannot build live worlds ({reason}) and there is no recording"
                              f" of world {name!r} at {recording.recording_path(name, recordings_dir)};"
                              f" run `make record` on a machine that can") from None
        self.entries = self.data["entries"]
        self.used = [False] * len(self.entries)
        self.transcript: list[dict] = []  # a replay makes no new recording
        self._captures: dict[str, bytes] = {}
        self.banner = (f"RECORDED on {self.data['kernel']} at {self.data['date']}: this machine cannot create"
                       f" network namespaces ({reason}); outputs below were captured from a live kernel by"
                       f" `make record`")
        print(self.banner)

    def _take(self, kind: str, what: str, **keys) -> dict:
        for i, e in enumerate(self.entries):
            if not self.used[i] and e.get("kind") == kind and all(e.get(k) == v for k, v in keys.items()):
                self.used[i] = True
                return e
        raise ReplayError(f"{what} was not recorded in world {self.data['name']!r} (or was already replayed as"
                          f" often as it was recorded); only recorded commands can be replayed on this machine")

    def build(self, plan, batched) -> None:
        """Nothing to build: the recording holds what the built world printed."""

    def settle(self, nodes) -> None:
        """Nothing to wait for: the recording was made after the kernel settled."""

    def info(self) -> dict:
        raise WorldError("this is a replayed world; it has no live kernel behind it")

    def run(self, node, argv, text, timeout, input) -> CommandResult:
        shown = f"ip netns exec {node} {text}" if node else text
        return recording.result(self._take("run", f"`{shown}`", node=node, command=text))

    def start(self, node, argv, text, name) -> None:
        self._take("start", f"starting `{text}` in {node}", node=node, command=text, name=name)

    def stop(self, name, node, text, timeout) -> CommandResult:
        return recording.result(self._take("stop", f"stopping {name!r}", name=name))

    def capture_start(self, name, node, iface, filter, timeout) -> None:
        entry = self._take("capture", f"a capture on {node}:{iface} with filter {filter!r}",
                           node=node, iface=iface, filter=filter)
        self._captures[name] = recording.pcap(entry)

    def capture_stop(self, name, settle) -> bytes:
        return self._captures.pop(name)

    def close(self) -> None:
        pass

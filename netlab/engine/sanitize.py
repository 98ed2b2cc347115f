"""The one narrow sanitizer for what is truly volatile in a lab's output.

Only round-trip times printed by ping and traceroute, tcpdump's timestamps, BIRD's times of day (chapter 7),
the CNI bridge plugin's random veth names and MACs (and cni0's MAC in the first result) and kube-proxy's
random endpoint counts (chapter 8), the pixels of a
PNG inlined in HTML (a walk's drawing), and (when asked) ports the kernel chose. Everything else
must match exactly. Pixels depend on the matplotlib and FreeType at hand, which is why nbval skips
``image/png`` outputs; an inlined PNG is treated the same, and the drawings' bytes are proved
deterministic by ``tests/test_walk_draw.py`` instead.
nbval reads the same patterns from ``tests/nbval_sanitize.cfg``, which is generated from
:data:`PATTERNS` (``scripts/write_nbval_sanitize.py``);
``tests/test_replay.py`` fails if the committed file is not what :func:`nbval_config` makes.
"""

import re

# (name, pattern, replacement); order matters: the rtt summary before single times.
PATTERNS = [
    ("ping-rtt-summary", r"(rtt|round-trip) min/avg/max(/mdev|/stddev)? = [0-9.]+/[0-9.]+/[0-9.]+(/[0-9.]+)? ms",
     r"\1 min/avg/max\2 = RTT ms"),
    ("ping-time", r"time[=<][0-9.]+ ?ms", "time=TIME ms"),
    ("ping-total-time", r"(packet loss(, \+[0-9]+ errors)?), time [0-9]+ms", r"\1, time TIMEms"),
    ("traceroute-times", r"(\s)[0-9]+\.[0-9]{3} ms", r"\1TIME ms"),
    ("tcpdump-timestamp", r"(?m)^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}", "HH:MM:SS.USEC"),
    # birdc's "Since" column and route ages (chapter 7): when BIRD started a protocol or learned a route,
    # to the millisecond (BIRD 2's default "timeformat protocol/route iso short ms")
    ("bird-time", r"\b[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}\b", "HH:MM:SS.MSEC"),
    ("inline-png", r"data:image/png;base64,[A-Za-z0-9+/=]+", "data:image/png;base64,PNG"),
    # Chapter 8: the bridge CNI plugin names a pod's host-side veth with 4 random bytes
    # (containernetworking/plugins pkg/ip RandomVethName) and the kernel gives it a random MAC;
    # kube-proxy's `--probability` picks endpoints at random, so per-endpoint counts vary: a split among
    # two or more endpoints ("N of M connections"; all M to one endpoint is kept, as with a single
    # endpoint), and the counts netlab.kube's chain view marks "N pkts*" (netlab/kube/views.py); the
    # Service's total and every other count stay exact.
    ("cni-veth-mac", r'(?s)(veth[0-9a-f]{8}|"cni0)(.{1,40}?mac.{1,12}?)[0-9a-f]{2}(?::[0-9a-f]{2}){5}', r"\1\2MAC"),
    ("cni-veth-name", r"\bveth[0-9a-f]{8}\b", "vethXXXXXXXX"),
    ("kube-spread", r"\b(?!([0-9]+) of \1 connections\b)[0-9]+ of ([0-9]+) connections\b", r"N of \2 connections"),
    ("kube-chain-packets", r"\b[0-9]+ pkts\*", "N pkts*"),
]
EPHEMERAL_PORT = ("ephemeral-port", r"\b((?:[0-9]{1,3}\.){3}[0-9]{1,3})([.:])(3276[89]|327[7-9][0-9]|32[89][0-9]{2}|3[3-9][0-9]{3}|[45][0-9]{4}|60[0-9]{3})\b",
                  r"\1\2PORT")

_COMPILED = [(re.compile(p), r) for _, p, r in PATTERNS]
_PORT = (re.compile(EPHEMERAL_PORT[1]), EPHEMERAL_PORT[2])


def sanitize(text: str, ephemeral_ports: bool = False) -> str:
    """Replace round-trip times and timestamps (and, if asked, ports 32768-60999 after an IPv4 address)."""
    for rx, repl in _COMPILED:
        text = rx.sub(repl, text)
    if ephemeral_ports:
        text = _PORT[0].sub(_PORT[1], text)
    return text


def nbval_config() -> str:
    """The same patterns in nbval's sanitize-file format: the whole of ``tests/nbval_sanitize.cfg``."""
    out = ["# Generated from PATTERNS in netlab/engine/sanitize.py by scripts/write_nbval_sanitize.py;"
           " do not edit.\n# tests/test_replay.py fails if this file is not what it generates."]
    for name, pattern, repl in PATTERNS:
        # nbval uses re.sub too; it reads Python replacement syntax (\1 groups).
        out.append(f"[{name}]\nregex: {pattern}\nreplace: {repl}\n")
    return "\n".join(out)


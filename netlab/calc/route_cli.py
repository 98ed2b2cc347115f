"""``python -m netlab routes FILE --lookup ADDRESS``: chapter 2's table reader in a terminal."""

from __future__ import annotations

import argparse
import sys

from ..inputs import one_line, quote
from .route_lookup import lookup
from .routes import FORMATS, MAX_TABLE_CHARS, RouteTableError, explain_flags
from .routetable import parse_routes

def add_routes_command(subparsers) -> argparse.ArgumentParser:
    """Add the ``routes`` sub-command to an ``argparse`` sub-parsers object."""
    p = subparsers.add_parser(
        "routes", help="parse a routing table and explain route lookups",
        description="Read a table printed by `route -n`, `netstat -nr`, `ip route` or "
                    "`ip -j route` (from FILE, or standard input when FILE is - or left out), "
                    "print it in canonical form and explain each --lookup.")
    p.add_argument("file", nargs="?", default="-", help="file holding the table; - for stdin")
    p.add_argument("--lookup", "-l", action="append", default=[], metavar="ADDRESS",
                   help="explain which route carries ADDRESS (repeatable)")
    p.add_argument("--format", "-f", choices=sorted(FORMATS), default=None,
                   help="the table's format (default: detect it)")
    p.add_argument("--explain-flags", action="store_true",
                   help="explain the flags of every route")
    p.set_defaults(func=run_routes_command)
    return p


def _read_table(name: str, shown: str) -> str:
    """The table's text from a file or standard input ('-'), reading at most one byte more than
    :data:`MAX_TABLE_CHARS` (so /dev/zero or a disk image costs a megabyte, not the memory)."""
    if "\0" in name:  # open() would raise ValueError, which no caller expects
        raise RouteTableError("the file name has a NUL character in it; give the path of a text file.")
    try:
        if name == "-":
            stream = getattr(sys.stdin, "buffer", None)  # a StringIO (tests) has no buffer
            data = stream.read(MAX_TABLE_CHARS + 1) if stream else sys.stdin.read(MAX_TABLE_CHARS + 1)
        else:
            with open(name, "rb") as fh:
                data = fh.read(MAX_TABLE_CHARS + 1)
    except OSError as exc:
        raise RouteTableError(f"cannot read it: {exc.strerror or exc}.") from None
    if len(data) > MAX_TABLE_CHARS:
        raise RouteTableError(f"it is larger than {MAX_TABLE_CHARS // 1024:,} KiB, far more than a routing "
                              "table: is it the right file?")
    if isinstance(data, str):
        return data
    if b"\0" in data:
        raise RouteTableError("it is a binary file (it has NUL bytes), not a table a tool printed; "
                              "save the output of `ip route` (or route -n, netstat -nr) as text.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise RouteTableError("it is not UTF-8 text; save the table as plain text.") from None


def run_routes_command(args, stdout=None, stderr=None) -> int:
    """Run ``routes``: 0 when every lookup finds a usable route, 1 when one does
    not (no route, blackhole, reject), 2 when the input cannot be read."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    name = getattr(args, "file", "-") or "-"
    shown = "standard input" if name == "-" else quote(name)
    try:
        text = _read_table(name, shown)
        table = parse_routes(text, getattr(args, "format", None))
        results = [lookup(table, a) for a in (getattr(args, "lookup", None) or [])]
    except RouteTableError as exc:
        # one line: file names and table text in the message are quoted, and the line is bounded
        print(one_line(f"netlab routes: {shown}: {exc}"), file=stderr)
        return 2
    print(f"# {table.format_name}, {len(table)} routes", file=stdout)
    for note in table.notes:
        print(f"# {note}", file=stdout)
    stdout.write(table.text())
    if getattr(args, "explain_flags", False):
        fmt = table.format
        seen: list[str] = []
        for r in table:
            items = r.flags.split() if fmt.startswith("iproute2") else list(r.flags)
            seen += [x for x in items if x not in seen]
        if seen:
            print("\nFlags:", file=stdout)
            print(explain_flags((" " if fmt.startswith("iproute2") else "").join(seen), fmt),
                  file=stdout)
    status = 0
    for res in results:
        print(f"\n{res.text()}", file=stdout)
        if not res.delivered:
            status = 1
    return status

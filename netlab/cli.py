"""``netlab`` command line: the book's calculators in a terminal.

    python -m netlab cidr 10.233.64.0/18 [--json]
    python -m netlab same-subnet 192.168.0.3/26 192.168.0.192/26 [--json]
    python -m netlab split 10.233.64.0/18 --count 4 | --new-prefix 20 [--json]
    python -m netlab supernet 10.233.64.0/18 10.233.128.0/18 [--json]
    python -m netlab shell [WORLD] NODE         (a shell in a node of a running lab world)

Exit status: 0 on success (``same-subnet`` exits 0 whether the answer is yes or no),
2 on bad input, with exactly one line on stderr naming the problem.

Adding a subcommand is a few lines: a function declaring its arguments and a
decorated ``run(args) -> int`` that prints and returns the exit status::

    def _routes_args(p):
        p.add_argument("node")

    @subcommand("routes", "show a node's routing table", _routes_args)
    def _routes_run(args):
        ...
        return 0

(or call ``register(name, help, add_arguments, run)`` from another module before
``main`` runs).  Exceptions listed in :data:`USER_ERRORS` raised by ``run`` become
the one-line message and exit status 2; append your own error class to it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from typing import Callable

from .calc.cidr import MAX_SPLIT_LIMIT, CidrError, describe, same_subnet, seed_tables, split, supernet
from .calc.route_cli import add_routes_command, run_routes_command
from .engine.shell import ShellError, main as shell_main
from .inputs import InputError, one_line, whole_number

__all__ = ["main", "register", "subcommand", "USER_ERRORS", "UsageError", "build_parser"]

PROG = "netlab"


class UsageError(Exception):
    """A command-line usage problem; printed as one line, exit status 2.

    ``prog`` is the (sub)command it concerns, e.g. ``netlab split``; ``main`` prints
    ``<prog>: error: <message>`` once.
    """

    def __init__(self, message: str, prog: str = PROG):
        super().__init__(message)
        self.prog = prog


#: Exceptions a subcommand may raise for bad user input (one line, exit 2).
#: Other modules extend this tuple when they register a subcommand.
USER_ERRORS: tuple[type[BaseException], ...] = (CidrError, InputError, UsageError)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error raises instead of printing usage and exiting."""

    def error(self, message):  # noqa: D401 - argparse API
        raise UsageError(message, prog=self.prog)


def _number(what: str, lo: int = 0, hi: int | None = None):
    """An argparse ``type`` for a whole number: ASCII digits only, in lo..hi (argparse's own
    ``int`` takes '١٠' and 5,000-digit strings, and quotes the whole value back)."""

    def convert(text: str) -> int:
        try:
            return whole_number(text, what, lo=lo, hi=hi)
        except InputError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


@dataclass(frozen=True)
class _Command:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


_COMMANDS: dict[str, _Command] = {}


def register(name: str, help: str, add_arguments, run) -> None:
    """Add a subcommand: ``add_arguments(parser)`` declares its options, and
    ``run(args)`` does the work, prints, and returns the exit status."""
    if name in _COMMANDS:
        raise ValueError(f"subcommand {name!r} is already registered")
    _COMMANDS[name] = _Command(name, help, add_arguments, run)


def subcommand(name: str, help: str, add_arguments=None):
    """Decorator form of :func:`register` for the ``run`` function."""

    def deco(run):
        register(name, help, add_arguments or (lambda p: None), run)
        return run

    return deco


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Calculators from the networking textbook (netlab).",
    )
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for cmd in _COMMANDS.values():
        p = subs.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        cmd.add_arguments(p)
        p.set_defaults(_run=cmd.run)
    # Chapter 2's routing-table reader keeps its own parser next to its code.
    add_routes_command(subs).set_defaults(_run=run_routes_command)
    return parser


def _print_json(data) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


# --------------------------------------------------------------------------- cidr


def _cidr_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("cidr", help="address/prefix, e.g. 10.233.64.0/18 or 192.168.0.3/26")
    p.add_argument("--json", action="store_true", help="print a JSON object instead of tables")


@subcommand("cidr", "network address, masks, broadcast and host range of a prefix", _cidr_args)
def _cidr_run(args) -> int:
    d = describe(args.cidr)
    if args.json:
        _print_json(d.to_dict())
        return 0
    print(seed_tables(args.cidr).text())
    print()
    print(d.text())
    return 0


# --------------------------------------------------------------------------- same-subnet


def _same_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("a", help="first address/prefix, e.g. 192.168.0.3/26")
    p.add_argument("b", help="second address/prefix, e.g. 192.168.0.192/26")
    p.add_argument("--json", action="store_true", help="print a JSON object")


@subcommand("same-subnet", "are two addresses on the same subnet? (exit 0 either way)", _same_args)
def _same_run(args) -> int:
    r = same_subnet(args.a, args.b)
    if args.json:
        _print_json(r.to_dict())
    else:
        print(r.text())
    return 0


# --------------------------------------------------------------------------- split


def _split_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("prefix", help="the network to split, e.g. 10.233.64.0/18")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--count", "-n", type=_number("the count", 1, 1 << 128),
                     help="how many subnets (rounded up to a power of two)")
    how.add_argument("--new-prefix", "-p", type=_number("the new prefix", 0, 128),
                     help="the subnets' prefix length, e.g. 20")
    p.add_argument("--limit", type=_number("--limit", 1, MAX_SPLIT_LIMIT), default=256,
                   help=f"list at most this many subnets (default 256, at most {MAX_SPLIT_LIMIT})")
    p.add_argument("--json", action="store_true", help="print a JSON object")


@subcommand("split", "split a prefix into equal subnets", _split_args)
def _split_run(args) -> int:
    r = split(args.prefix, count=args.count, new_prefix=args.new_prefix, limit=args.limit)
    if args.json:
        _print_json(r.to_dict())
    else:
        print(r.text())
    return 0


# --------------------------------------------------------------------------- supernet


def _supernet_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("networks", nargs="+", help="prefixes to aggregate, e.g. 10.233.64.0/18 10.233.128.0/18")
    p.add_argument("--json", action="store_true", help="print a JSON object")


@subcommand("supernet", "smallest prefix covering several, and their exact CIDR merge", _supernet_args)
def _supernet_run(args) -> int:
    r = supernet(args.networks)
    if args.json:
        _print_json(r.to_dict())
    else:
        print(r.text())
    return 0


# --------------------------------------------------------------------------- shell


def _shell_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", metavar="[WORLD] NODE",
                   help="a running world (optional when only one runs) and one of its nodes;"
                        " with neither, list the running worlds and their nodes")


@subcommand("shell", "an interactive shell in a node of a running lab world (netlab.engine.shell)", _shell_args)
def _shell_run(args) -> int:
    try:
        return shell_main(args.names)
    except ShellError as e:
        raise UsageError(str(e)) from None


# --------------------------------------------------------------------------- main


def main(argv=None) -> int:
    """Run the CLI; returns the exit status (never calls ``sys.exit``)."""
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help / --version print and "exit"
            return exc.code if isinstance(exc.code, int) else 0
        if getattr(args, "_run", None) is None:
            raise UsageError(f"give a command: {', '.join([*_COMMANDS, 'routes'])} (see {PROG} --help)")
        return int(args._run(args) or 0)
    except USER_ERRORS as exc:
        # One line, once prefixed: user text in the message is escaped and cut (one_line).
        print(one_line(f"{getattr(exc, 'prog', PROG)}: error: {exc}"), file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `netlab split ... | head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0

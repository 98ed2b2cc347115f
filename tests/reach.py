"""Let uid 65534 reach this checkout and its interpreter, inside a private mount namespace.

Tests that act as another user run the checkout's own Python (its .venv, netlab installed
editable) as uid 65534. Where a folder on the way is private (a clone in a 0700 temporary folder,
an interpreter under /root), that user cannot enter it. Changing the folder's mode would change the
machine; instead, in a mount namespace of the test's own, a tmpfs (mode 755) is laid over the
private folder and each of its entries is bound back onto the same path, so every path stays what
it was and only the folder's own mode differs, for that namespace alone.
"""

import os
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def private_folders(*paths: str) -> list[str]:
    """Every folder on the way to PATHS (and the last folder itself) that others cannot enter."""
    found = []
    for path in paths:
        parts = Path(path).parts
        for i in range(1, len(parts)):
            folder = os.path.join(*parts[:i + 1])
            if os.path.isdir(folder) and not os.stat(folder).st_mode & 0o001 and folder not in found:
                found.append(folder)
    return found


def reach_lines(stash: Path, *paths: str) -> list[str]:
    """Shell lines, run as root in a private mount namespace, that open PATHS' private folders.
    STASH: an empty folder the lines may use (one subfolder per private folder)."""
    lines = []
    for n, folder in enumerate(private_folders(*paths)):
        keep = stash / f"keep{n}"
        keep.mkdir(parents=True, exist_ok=True)
        q = shlex.quote
        lines += [f"mount --bind {q(folder)} {q(str(keep))}",
                  f"mount -t tmpfs -o mode=755 tmpfs {q(folder)}"]
        for entry in sorted(os.listdir(folder)):  # read now, as root, before anything is mounted
            inside, saved = os.path.join(folder, entry), os.path.join(str(keep), entry)
            if os.path.islink(inside):
                lines.append(f"cp -P {q(saved)} {q(inside)}")
            else:
                make = "mkdir" if os.path.isdir(inside) else "touch"
                lines += [f"{make} {q(inside)}", f"mount --bind {q(saved)} {q(inside)}"]
    return lines


def checkout_paths() -> tuple[str, ...]:
    """What a test run as another user needs: the checkout and the interpreter behind its venv."""
    return (str(ROOT / "netlab"), sys.executable, os.path.realpath(sys.executable))

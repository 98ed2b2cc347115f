"""Start a User-mode Linux kernel and make sure none of its processes outlives it (stdlib only).

Usage: ``python3 -I -S uml_guard.py KERNEL ARG...``, started with PDEATHSIG set to SIGTERM.

A UML kernel is several host processes: the kernel itself, helper processes that share its memory
(they poll its consoles), and one traced process per guest address space. When the kernel is
SIGKILLed, or even when it handles SIGTERM, a helper can survive, blocked in poll(2) and holding
the kernel's memory. So the kernel runs as the leader of a process group of its own, and this
guard SIGKILLs that whole group when the kernel exits, or when the guard is told to stop
(SIGTERM, SIGHUP, SIGINT: from :meth:`netlab.engine.uml.Machine.kill`, or from PDEATHSIG when the
notebook that owns the world dies). The guard holds none of the kernel's file descriptors, so the
notebook sees the consoles close when the kernel goes.
"""

import os
import signal
import sys

STOP = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


def main():
    kernel = sys.argv[1:]
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP)  # no stop request between fork and setpgid
    child = os.fork()
    if child == 0:
        os.setpgid(0, 0)
        for sig in STOP:
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP)
        os.execv(kernel[0], kernel)
    try:
        os.setpgid(child, child)  # both sides set it, so it is set whichever runs first
    except PermissionError:
        pass  # the child has already set it and gone on to exec the kernel

    def stop(signum, frame):
        kill_group()
        os._exit(128 + signum)

    def kill_group():
        try:
            os.killpg(child, signal.SIGKILL)
        except ProcessLookupError:
            pass

    for sig in STOP:
        signal.signal(sig, stop)
    fd = os.open(os.devnull, os.O_RDWR)
    for std in (0, 1, 2):
        os.dup2(fd, std)
    os.closerange(3, 1 << 16)  # the consoles' pipes belong to the kernel alone
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP)
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    kill_group()  # helpers that outlived the kernel
    return os.waitstatus_to_exitcode(status) & 0xFF


if __name__ == "__main__":
    sys.exit(main())

"""Chapter 9's guest, measured: boot to a bound DHCP lease, and the host memory it takes.

Run as root: .venv/bin/python benchmarks/bench_kubevirt.py [RUNS] [--qemu-kernel VMLINUZ --qemu-modules DIR]

Each run builds a fresh world (netlab.kubevirt_pods, its pods wired by chapter 8's CNI plugins), applies the bridge binding, starts the
single-client DHCP server and boots the User-mode Linux guest on tap0 (netlab.kubevirt.guest):
the time from starting its kernel to its init reporting the lease, the guest's own uptime when its
kernel handed over to init and when udhcpc had the lease, and the largest RSS of its host processes.

With --qemu-kernel (a distribution kernel, e.g. Debian's linux-image-cloud-amd64 unpacked with
``dpkg-deb -x``) and --qemu-modules (its lib/modules/<release>/kernel folder, for virtio-net), the
same busybox initramfs boots under qemu-system-x86_64 with TCG (no KVM) on the same tap0, and the
time to the DHCP server's ACK is measured the same way. Chapter 9's table quotes one such run.
"""

import argparse
import gzip
import os
import re
import statistics
import tempfile
import time

import netlab
from netlab.kubevirt import guest, pods, vm

QEMU_MODULES = ["drivers/virtio/virtio_ring.ko", "drivers/virtio/virtio.ko",
                "drivers/virtio/virtio_pci_modern_dev.ko", "drivers/virtio/virtio_pci_legacy_dev.ko",
                "drivers/virtio/virtio_pci.ko", "net/core/failover.ko", "drivers/net/net_failover.ko",
                "drivers/net/virtio_net.ko"]


def max_rss_kb(world, node: str, program: str) -> int:
    out = world.run(node, ["ps", "-o", "rss=", "-C", program], check=False).stdout.split()
    return max(map(int, out)) if out else 0


def uml_run(i: int) -> tuple[float, float, float, int]:
    with netlab.World(netlab.kubevirt_pods(), name=f"bench_kubevirt_{i}") as w:
        pods.start_pod_network(w)
        launcher = vm.bind(w, "virt-launcher", "bridge")
        vm.boot_vm(launcher)
        console = w.run("virt-launcher", ["cat", f"{guest.guest_dir('virt-launcher')}/console"]).stdout
        up, lease = (float(x) for x in re.findall(r"at ([\d.]+) s", console)[:2])
        return launcher.boot_seconds, up, lease, max_rss_kb(w, "virt-launcher", "linux.uml")


def qemu_initramfs(modules_dir: str) -> bytes:
    """The guest's initramfs plus the virtio-net modules, its init loading them first."""
    body = gzip.decompress(guest.initramfs())[:-124]  # drop the trailer entry (110-byte header + name + pad)
    init = guest.INIT.replace("mount -t sysfs sys /sys\n", "mount -t sysfs sys /sys\n"
                              + "".join(f"insmod /{os.path.basename(m)}\n" for m in QEMU_MODULES))
    init = init.replace('mkdir -p /host && mount -t hostfs none /host -o "$netlab_dir"', "mkdir -p /host")
    extra = [guest._cpio_entry("init", 0o100755, init.encode(), 900)]
    for k, m in enumerate(QEMU_MODULES):
        with open(os.path.join(modules_dir, m), "rb") as f:
            extra.append(guest._cpio_entry(os.path.basename(m), 0o100644, f.read(), 901 + k))
    return gzip.compress(body + b"".join(extra) + guest._cpio_entry("TRAILER!!!", 0, b"", 0), 1, mtime=0)


def qemu_run(i: int, kernel: str, modules: str) -> tuple[float, int]:
    with netlab.World(netlab.kubevirt_pods(), name=f"bench_qemu_{i}") as w:
        pods.start_pod_network(w)
        launcher = vm.bind(w, "virt-launcher", "bridge")
        initrd = tempfile.NamedTemporaryFile(prefix="bench-kubevirt-", suffix=".gz")  # the world sees /tmp
        initrd.write(qemu_initramfs(modules))
        initrd.flush()
        t0 = time.perf_counter()
        w.start("virt-launcher", ["qemu-system-x86_64", "-accel", "tcg", "-m", "256", "-nographic", "-no-reboot",
                                  "-kernel", kernel, "-initrd", initrd.name, "-append", "console=ttyS0 quiet",
                                  "-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no",
                                  "-device", f"virtio-net-pci,netdev=n0,mac={launcher.vm_mac}"], name="qemu")
        w.run("virt-launcher", ["sh", "-c", "until grep -q ACK /run/netlab/bg-dhcp.out; do sleep 0.02; done"],
              timeout=120)
        seconds = time.perf_counter() - t0
        return seconds, max_rss_kb(w, "virt-launcher", "qemu-system-x86_64")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("runs", nargs="?", type=int, default=3)
    p.add_argument("--qemu-kernel")
    p.add_argument("--qemu-modules")
    a = p.parse_args()
    uml = [uml_run(i) for i in range(a.runs)]
    for boot, up, lease, rss in uml:
        print(f"measured UML guest: boot to bound lease {boot:.2f} s (guest uptime: init at {up:.2f} s,"
              f" lease at {lease:.2f} s), max RSS {rss / 1024:.0f} MB", flush=True)
    print(f"benchmark: UML guest boot to bound DHCP lease, median of {a.runs}:"
          f" {statistics.median(u[0] for u in uml):.2f} s (aim < 10 s)")
    if a.qemu_kernel and a.qemu_modules:
        runs = [qemu_run(i, a.qemu_kernel, a.qemu_modules) for i in range(a.runs)]
        for seconds, rss in runs:
            print(f"measured QEMU TCG guest: start to DHCP ACK {seconds:.2f} s, max RSS {rss / 1024:.0f} MB",
                  flush=True)
        print(f"benchmark: QEMU TCG guest start to DHCP ACK, median of {a.runs}:"
              f" {statistics.median(r[0] for r in runs):.2f} s")


if __name__ == "__main__":
    main()

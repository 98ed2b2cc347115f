"""CNI ADD for 50 pods on one node: the real bridge/host-local/loopback/portmap binaries and netlab's
flannel plugin, each pod's loopback and network list run as a runtime runs them (netlab.cni).

    sudo .venv/bin/python benchmarks/bench_cni.py [PODS]
"""
import sys
import time

import netlab
from netlab import cni


def main(pods: int = 50) -> None:
    names = tuple(f"pod-{i:02d}" for i in range(pods))
    with netlab.World(cni.cni_cluster({"node1": names}, name=f"bench_cni_{pods}"), record=False) as w:
        cluster = cni.start_flannel(w)
        t0 = time.perf_counter()
        for name in names:
            cni.add_pod(w, "node1", name)
        add = time.perf_counter() - t0
        t0 = time.perf_counter()
        for name in names:
            cni.del_pod(w, "node1", name)
        delete = time.perf_counter() - t0
    print(f"CNI ADD for {pods} pods on one node: {add:.2f} s ({add / pods * 1000:.0f} ms a pod: loopback,"
          f" flannel -> bridge -> host-local, portmap); DEL: {delete:.2f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)

"""Container-to-container throughput and latency: flannel UDP vs kernel VXLAN vs host-gw vs veth.

Run as root: .venv/bin/python benchmarks/bench_flannel.py [SECONDS]
Each path is built in a fresh world (netlab.flannel.perf); iperf3 runs one TCP stream for SECONDS.
Published figures to compare with (book/references.md): kubernetes PR #17877
(qperf, 2015): flannel UDP 28.7 MB/s vs VXLAN 47.8 MB/s; flannel #976/#1816: VXLAN 20-30% below host.
"""

import sys

from netlab.flannel import perf


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3
    results = []
    for path in perf.PATHS:
        r = perf.measure(path, seconds)
        print(f"measured {perf.LABELS[path]}: {r.gbits:.2f} Gbit/s, RTT {r.rtt_ms:.3f} ms,"
              f" {r.retransmits} retransmits", flush=True)
        results.append(r)
    print()
    print(perf.table(results))


if __name__ == "__main__":
    main()

"""flannel's UDP backend, rebuilt small: the lease store (:mod:`.store`), the daemon (:mod:`.udp`),
running them in a world (:mod:`.lab`) and measuring the data paths (:mod:`.perf`).

Run the daemon as ``python3 -m netlab.flannel udp --etcd http://10.168.0.1:2379 --iface eth0``.
"""

from .lab import (NETWORK_CONFIG, StoreInfo, counters, counters_delta, etcd_version, etcdctl, flanneld_log, put_config, start_flanneld,
                  start_store, wait_for_log, wait_for_peers)
from .store import (CONFIG_KEY, PREFIX, SUBNETS, EtcdV2Client, Event, MemoryStore, StoreError, StoreServer,
                    key_subnet, subnet_key)
from . import perf
from .udp import (DEFAULT_PORT, ENCAP_OVERHEAD, Config, Counters, Decision, FlannelError, Flanneld,
                  acquire_lease, checksum, decide, decrement_ttl, lease_value, lookup, net_unreachable,
                  routes_from_leases)


def __getattr__(name):
    # The VXLAN backend and the widgets load on first use (netlab.flannel.vxlan...), so the UDP
    # daemon starts without ipywidgets or scapy.
    if name in ("vxlan", "vxlan_widgets", "widgets"):
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

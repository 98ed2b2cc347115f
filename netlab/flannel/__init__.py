"""flannel rebuilt small: the lease store (:mod:`.store`), what every backend shares (:mod:`.subnet`),
the UDP, VXLAN and host-gw daemons (:mod:`.udp`, :mod:`.vxlan`, :mod:`.hostgw`), running them in a world (:mod:`.lab`) and
measuring the data paths (:mod:`.perf`).

Run a daemon as ``python3 -m netlab.flannel udp --etcd http://10.168.0.1:2379 --iface eth0`` (or ``vxlan``).
"""

import importlib

from .lab import (NETWORK_CONFIG, NODE1_VTEP_MAC, SEED_VTEP_MAC, VXLAN_NETWORK_CONFIG, StoreInfo, counters,
                  counters_delta, etcd_version, etcdctl, flannel0_device, flanneld_log, leases, put_config,
                  remove_lease, rx_dropped, start_flanneld, start_store, tx_dropped, vtep_tables, wait_for_entries,
                  wait_for_log, wait_for_peers)
from .store import (CONFIG_KEY, PREFIX, SUBNETS, EtcdV2Client, Event, MemoryStore, StoreError, StoreServer,
                    key_subnet, subnet_key)
from . import perf
# perf's names, prefixed so that they say what they measure beside the daemons' names
from .perf import (measure_all as measure_paths, report as paths_report, saved as saved_paths,
                   table as paths_table, verdict as paths_verdict)
from .subnet import Config, FlannelError, acquire_lease, lease_value, routes_from_leases
from .udp import (DEFAULT_PORT, ENCAP_OVERHEAD, Counters, Decision, Flanneld, checksum, decide, decrement_ttl,
                  lookup, net_unreachable)
from .vxlan import VxlanFlanneld
from .hostgw import HOSTGW_NETWORK_CONFIG, HostgwFlanneld  # chapter 7


def __getattr__(name):
    # The widgets load on first use (netlab.flannel.widgets...): ipywidgets is the notebook's, and
    # the daemons in the nodes start without it.
    if name in ("vxlan_widgets", "widgets"):
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

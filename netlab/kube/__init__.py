"""Chapter 8: Services as kube-proxy's iptables mode writes them (names, rules, the sync, the explorer).

:mod:`.names` computes the chain names as ``proxier.go`` does, :mod:`.rules` renders the
``iptables-restore`` input of a full sync, :mod:`.proxy` applies it to a node of a world.
"""

from .names import port_proto_hash, endpoint_chain, cluster_chain, external_chain, local_chain, service_port_name
from .rules import Endpoint, ProxyConfig, Service, ServiceError, probability, render
from .proxy import SyncResult, sync, sync_all
from .apps import Spread, fetch, spread, start_web
from .views import ChainView, ConntrackView, conntrack_view, service_chains

__all__ = ["ConntrackView", "conntrack_view", "ChainView", "Spread", "fetch", "service_chains", "spread", "start_web", "Endpoint", "ProxyConfig", "Service", "ServiceError", "SyncResult", "cluster_chain", "endpoint_chain",
           "external_chain", "local_chain", "port_proto_hash", "probability", "render", "service_port_name",
           "sync", "sync_all"]

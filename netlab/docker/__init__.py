"""Chapters 3 and 4: Docker's bridge, veths and NAT built by hand (:mod:`.bridge`) and the bridge
explorer (:mod:`.widgets`). The checks of such a host are in :mod:`netlab.checks.docker`."""

from .bridge import (  # noqa: F401  (netlab.docker.<name> in the chapters)
    DOCKER_SUBNET, DOCKER0_ADDRESS, DOCKER0_MAC, NODE_ADDRESS, REMOTE_ADDRESS, SEED_VETH,
    SEED_VETH_MAC, DOCKER_NAT_RULES, DOCKER_NAT_RULES_NO_PROXY, DOCKER_FILTER_RULES, MASQUERADE_RULE,
    CONTAINERS, container_mac, veth_name, docker_rules,
    publish_rules, docker_node, docker_two_nodes, start_http_server, host_veth, format_conntrack,
    PING_ID, echo_frames
)

"""kube-proxy's chain names, computed as its iptables proxier computes them.

kubernetes/kubernetes ``pkg/proxy/iptables/proxier.go``: ``portProtoHash(servicePortName, protocol)`` is
the SHA-256 of the service port's name followed by the protocol, base32-encoded with Go's
``base32.StdEncoding`` (RFC 4648, A-Z 2-7), first 16 characters ("IPTables Chain Names must be <= 28
chars long"). The prefixes are ``KUBE-SVC-`` (Cluster policy), ``KUBE-SVL-`` (Local policy),
``KUBE-EXT-`` (external destinations), ``KUBE-FW-`` (load-balancer source ranges), and ``KUBE-SEP-``
for one endpoint, whose hash also covers the endpoint's ``ip:port``
(``servicePortEndpointChainName``). The name is ``ServicePortName.String()``: ``namespace/name`` and,
when the port has a name, ``:portname`` (``pkg/proxy/types.go``); the protocol is lower case
(``strings.ToLower(string(svcInfo.Protocol()))``).

Upstream's own tests pin the values: ``"ns1/svc1:p80"`` + ``"tcp"`` is ``XPGD46QRK7WJZT7O``, and its
endpoint ``10.180.0.1:80`` is ``KUBE-SEP-SXIVWICOYRO3J4NJ`` (``pkg/proxy/iptables/proxier_test.go``).
"""

from __future__ import annotations

import base64
import hashlib

SVC, SVL, EXT, FW, SEP = "KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-"
SERVICE_CHAIN_PREFIXES = (SVC, SVL, SEP, FW, EXT)  # isServiceChainName


def port_proto_hash(service_port_name: str, protocol: str) -> str:
    """``portProtoHash``: base32(sha256(name + protocol))[:16]."""
    digest = hashlib.sha256((service_port_name + protocol).encode()).digest()
    return base64.b32encode(digest).decode()[:16]


def service_port_name(namespace: str, name: str, port_name: str = "") -> str:
    """``ServicePortName.String()``: ``ns/name`` plus ``:port`` when the port is named."""
    return f"{namespace}/{name}" + (f":{port_name}" if port_name else "")


def cluster_chain(spn: str, protocol: str) -> str:
    return SVC + port_proto_hash(spn, protocol)


def local_chain(spn: str, protocol: str) -> str:
    return SVL + port_proto_hash(spn, protocol)


def external_chain(spn: str, protocol: str) -> str:
    return EXT + port_proto_hash(spn, protocol)


def firewall_chain(spn: str, protocol: str) -> str:
    return FW + port_proto_hash(spn, protocol)


def endpoint_chain(spn: str, protocol: str, endpoint: str) -> str:
    """``servicePortEndpointChainName``: base32(sha256(name + protocol + "ip:port"))[:16]."""
    digest = hashlib.sha256((spn + protocol + endpoint).encode()).digest()
    return SEP + base64.b32encode(digest).decode()[:16]


def is_service_chain(chain: str) -> bool:
    return chain.startswith(SERVICE_CHAIN_PREFIXES)

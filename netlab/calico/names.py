"""Calico's names and fixed values, each from the file that sets it.

- Host-side veth: ``cali`` + the first 11 hex characters of sha1("<namespace>.<pod>")
  (projectcalico/calico ``libcalico-go/lib/backend/k8s/conversion/conversion.go``,
  ``VethNameForWorkload(namespace, podname)``: sha1 of ``"%s.%s"``, hex-encoded, ``[:11]``, after the
  prefix "cali" unless ``FELIX_INTERFACEPREFIX`` says otherwise): 15 characters, Linux's IFNAMSIZ limit.
- Its MAC ``ee:ee:ee:ee:ee:ee`` and the pod's gateway ``169.254.1.1`` (``cni-plugin/pkg/dataplane/
  linux/dataplane_linux.go``: the host side gets the fixed MAC so pods never see a host's real one;
  the gateway is a link-local address no host owns, answered by proxy ARP).
- Felix's tunnel devices: ``tunl0`` (IPIP) and ``vxlan.calico`` (VXLAN, port 4789, VNI 4096)
  (``felix/config/config_params.go``: ``VXLANPort `config:"int;4789"```, ``VXLANVNI `config:"int;4096"```).
- The IPAM block size: /26 by default (the IPPool reference, ``reference/resources/ippool.md``:
  ``blockSize`` 20 to 32 for IPv4, default 26).
"""

from __future__ import annotations

import hashlib

HOST_VETH_MAC = "ee:ee:ee:ee:ee:ee"
POD_GATEWAY = "169.254.1.1"
IPIP_DEVICE = "tunl0"
VXLAN_DEVICE = "vxlan.calico"
VXLAN_PORT = 4789
VXLAN_VNI = 4096
DEFAULT_BLOCK_SIZE = 26
#: Calico's default AS number for the node-to-node mesh (``BGPConfiguration`` asNumber default 64512).
DEFAULT_AS = 64512


def veth_name(pod: str, namespace: str = "default") -> str:
    """The host side of a pod's veth, as Calico names it: ``cali`` + sha1("NAMESPACE.POD")[:11]."""
    for what, value in (("pod", pod), ("namespace", namespace)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{what} must be a non-empty name such as 'pod-1', not {value!r}")
    return "cali" + hashlib.sha1(f"{namespace}.{pod}".encode()).hexdigest()[:11]

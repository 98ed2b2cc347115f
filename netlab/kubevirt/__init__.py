"""Chapter 9: virtual machines on the pod network, as KubeVirt puts them there.

:mod:`.names` (tap0, k6t-eth0, eth0-nic and the fixed addresses), :mod:`.dhcp` (virt-launcher's
single-client DHCP server), :mod:`.guest` (a real guest kernel, User-mode Linux, on a tap device),
:mod:`.binding` (the bridge and masquerade bindings as commands, the nftables NAT), :mod:`.pods`
(the virt-launcher pod on chapter 8's pod network, wired by the real CNI plugins), :mod:`.vm` (the whole virt-launcher pod in a
world, both ways).
"""

"""Packets built and compared with scapy: the first frame a host sends (:mod:`.frames`) and
flannel's UDP encapsulation (:mod:`.flannel`). scapy is imported by these modules, never by the
engine."""

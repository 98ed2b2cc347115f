"""Packets built and compared with scapy: the first frame a host sends (:mod:`.frames`),
flannel's UDP encapsulation (:mod:`.flannel`), and one comparison of a captured packet with a
built one (:mod:`.compare`). scapy is imported by these modules, never by the engine."""

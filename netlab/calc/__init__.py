"""The calculators (pure Python, no privileges): CIDR arithmetic (:mod:`.cidr`), routing tables and
lookups (:mod:`.routetable`), and their widgets."""

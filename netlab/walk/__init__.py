"""The packet walk: one packet followed hop by hop through a world (:mod:`.trace`), drawn on its
topology (:mod:`.draw`) and explored with a widget (:mod:`.widgets`)."""

"""Many runs, one record each: the backend ``matrix`` (and its ``shared_tree`` trials), the
fault campaign (``torture``), the ``catalog`` of the bug family, the benchmarks (``bench``),
and the guided ``demo``; ``claims``: the bars a campaign is held to. Every campaign takes a
``lab.run.Lab`` and writes a campaign directory (``lab.rundir.CampaignDir``)."""

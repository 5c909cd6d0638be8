"""Reductions of stored attributions (accumulators over chunks): :mod:`.influence`; what a folder of them holds:
:mod:`.inventory`."""

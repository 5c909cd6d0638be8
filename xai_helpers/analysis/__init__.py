"""Reductions of stored attributions (accumulators over chunks): :mod:`.influence`."""

"""Notebook 02's table (one row per explained file) and its summary: what was explained, what was written, and
whether the attributions add up (the convergence deltas)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from IPython.display import Markdown
from pandas.io.formats.style import Styler

from ..attribution.explain import ExplainConfig, ExplainResult
from .tables import captioned

COMPLETE_WITHIN = 1e-4
"""Largest |delta| (units of the explained output) read as "the attributions add up": float32 rounding
of a complete method stays orders of magnitude below it."""


def results_table(results: Sequence[ExplainResult]) -> Styler:
    """One row per explained file (segment files first, then whole files), captioned; |delta| in scientific
    notation; the long file names written may wrap, so the table fits the page."""
    table = pd.DataFrame(
        [result.summary() for result in results]
    )  # a file explained twice (segment, whole) has two rows
    return (
        captioned(
            table,
            "One row per explained file: what was done (computed, skipped as complete, recomputed), the "
            "stored shape, seconds, the file written, and the median and largest |delta| (sum of an output's "
            "attributions minus its change from the baseline) over its explained outputs.",
            precision=2,
            formats={"|delta| median": "{:.1e}", "|delta| max": "{:.1e}"},
        )
        .hide(axis="index")
        .set_properties(subset=["written"], **{"overflow-wrap": "anywhere", "min-width": "12em"})
    )


def summary(
    results: Sequence[ExplainResult], whole_results: Sequence[ExplainResult], config: ExplainConfig
) -> Markdown:
    """What notebook 02 shows and what it found (Markdown): the configuration, how many files were
    computed or were already complete (``results``: the segments; ``whole_results``: the whole files
    explained as maps), the megabytes on disk, and the median and largest |delta| over every explained
    output of ``results``, read as adding up (below :data:`COMPLETE_WITHIN`) or not."""
    segment = (
        f"the {config.segment_duration_s:g} s segment from {config.segment_start_s:g} s"
        if config.segment_duration_s
        else "whole files"
    )
    rule = f" (DeepLIFT rule `{config.applied_deeplift_rule}`)" if config.applied_deeplift_rule else ""
    whole = f", and {len(whole_results)} whole file(s) as influence maps" if whole_results else ""
    shows = (
        f"**What this shows.** `{config.method}`{rule} attributions of {config.model}'s {config.target} "
        f"({config.outputs}) over "
        f"input {config.features}, `{config.baseline}` baseline, on {segment} of {len(results)} file(s){whole}."
    )
    every = [*results, *whole_results]
    statuses = pd.Series([result.status for result in every]).value_counts()
    size_mb = sum(result.path.stat().st_size for result in every if result.path.is_file()) / 1e6
    done = ", ".join(f"{count} {status}" for status, count in statuses.items())
    deltas = [np.abs(np.asarray(result.deltas, dtype=float)).ravel() for result in results if result.deltas is not None]
    if not deltas:
        completeness = f"`{config.method}` has no convergence delta."
    else:
        values = np.concatenate(deltas)
        median, largest = float(np.median(values)), float(values.max())
        verdict = (
            "they add up to float32 rounding"
            if largest < COMPLETE_WITHIN
            else f"they do not add up: the largest miss is {largest:.2f} {config.target} units"
        )
        completeness = (
            f"Over the {values.size:,} explained outputs ({segment}), |sum of attributions − change from the "
            f"baseline| has median {median:.1e} and maximum {largest:.1e}: {verdict}."
        )
    return Markdown(f"{shows}\n\n**What we found.** Files: {done}; {size_mb:.1f} MB of `.h5` on disk. {completeness}")

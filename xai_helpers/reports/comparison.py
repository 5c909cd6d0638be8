"""Notebook 07's tables, figures assembled from its jobs, the reading generated from its numbers and its summary.

Every table and sentence is computed from the long results (``model, condition, file, metric, value``), so a
finished batch's ``comparison.csv`` files read back (``results_path``) give the same report without the maps.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from IPython.display import Markdown
from matplotlib.figure import Figure
from pandas.io.formats.style import Styler

from ..experiments.comparison import ComparisonSettings, JobResult, context_curves, map_view
from ..experiments.comparison_corpus import Comparison
from ..experiments.relation import MIN_FILES, POOLED, relation_table
from ..plots.comparison import plot_context_curves, plot_map_grid
from ..plots.style import NA
from .tables import captioned

QUALITY = tuple(
    f"{score}_{stage}"
    for score in ("pesq", "stoi", "estoi", "si_sdr")
    for stage in ("noisy", "enhanced", "improvement")
)
RELEVANCE = (
    "speech_relevance",
    "speech_area_share",
    "speech_energy_share",
    "speech_enrichment",
    "noise_relevance",
    "noise_area_share",
    "noise_energy_share",
    "noise_enrichment",
    "speech_relevance_output",
    "speech_enrichment_output",
    "noise_relevance_output",
    "noise_enrichment_output",
)
CONTEXT = (
    "lookback_50_ms",
    "lookback_90_ms",
    "spread_50_hz",
    "spread_90_hz",
    "spread_50_erb",
    "spread_90_erb",
    "low_band_share",
    "low_band_energy_share",
)
SENSITIVITY = (
    "top_amplification_effect",
    "flop_amplification_effect",
    "top_mask_change",
    "flop_mask_change",
    "random_mask_change",
    "top_pesq_change",
    "flop_pesq_change",
    "random_pesq_change",
    "top_stoi_change",
    "flop_stoi_change",
    "random_stoi_change",
    "top_si_sdr_change",
    "random_si_sdr_change",
)
TRUST = ("shapley_spearman", "shapley_sign_agreement", "shapley_top3")
RELATION_X = ("speech_relevance", "speech_enrichment")
RELATION_Y = ("pesq_improvement", "stoi_improvement", "si_sdr_improvement")
ERB_GRID = np.linspace(0.0, 30.0, 61)
"""Distances of the spectral context curves, ERB (8 kHz lies at 33 ERB)."""


def availability(comparison: Comparison) -> Styler | Markdown:
    """The (model, target) configurations of a computed comparison that could not be computed, and why (a table),
    or a line saying that all were, or where read numbers came from."""
    if not comparison.results:
        return Markdown(
            f"{comparison.source}: the settings of that run apply (this notebook's parameters only label it)."
        )
    missing = comparison.settings.unavailable()
    if not missing:
        return Markdown("Every model and target was computed.")
    frame = pd.DataFrame([{"model": m, "target": t, "why": why} for (m, t), why in missing.items()])
    return captioned(
        frame,
        "Not computed: models without the mask target are left out of the comparison; a "
        "missing output target leaves its *_output metrics empty.",
    )


def model_order(frame: pd.DataFrame) -> list[str]:
    """The models in order of first appearance."""
    return list(dict.fromkeys(frame["model"]))


def metric_table(frame: pd.DataFrame, metrics: Sequence[str], caption: str, precision: int = 3) -> Styler:
    """Rows: the ``metrics`` present; columns: per model the mean and standard deviation over conditions and
    files, and the count."""
    present = [m for m in metrics if m in set(frame["metric"])]
    subset = frame[frame["metric"].isin(present)]
    stats = subset.groupby(["metric", "model"])["value"].agg(["mean", "std", "count"]).unstack("model")
    columns = [(m, s) for m in model_order(frame) for s in ("mean", "std", "count")]
    stats = stats.swaplevel(axis=1).reindex(columns=columns)
    return captioned(stats.reindex(present), caption, precision=precision)


def condition_table(frame: pd.DataFrame, metric: str, caption: str, precision: int = 3) -> Styler:
    """Rows: conditions (in order of appearance); columns: models; cells: mean of ``metric`` over files."""
    subset = frame[frame["metric"] == metric]
    table = subset.pivot_table(index="condition", columns="model", values="value", aggfunc="mean")
    table = table.reindex(index=list(dict.fromkeys(subset["condition"])), columns=model_order(subset))
    return captioned(table, caption, precision=precision)


def relations(frame: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """:func:`~xai_helpers.experiments.relation.relation_table` of every :data:`RELATION_X` with every
    :data:`RELATION_Y`."""
    return pd.concat([relation_table(frame, x, RELATION_Y, n_boot, seed) for x in RELATION_X], ignore_index=True)


def relation_display(table: pd.DataFrame, seed: int, n_boot: int) -> Styler:
    """The relation table, captioned."""
    return captioned(
        table,
        f"Spearman correlation across (condition, file) points per model and pooled, with a 95 % "
        f"bootstrap interval from {n_boot} resamples of files (seed {seed}); evidence 'weak' below "
        f"{MIN_FILES} files.",
        precision=2,
    )


def maps_figure(results: Sequence[JobResult], settings: ComparisonSettings, target: str = "mask") -> Figure:
    """The side-by-side maps of the first file: a row per condition, a column per model."""
    first_file = results[0].job.file
    views: dict[str, list] = {}
    for result in results:
        if result.job.file == first_file and target in result.maps:
            views.setdefault(result.job.condition, []).append(map_view(result, settings, target))
    return plot_map_grid(
        views, f"{first_file}: where each model's {target} attribution lies (white: speech-dominant bins)"
    )


def context_figure(results: Sequence[JobResult], settings: ComparisonSettings) -> Figure:
    """Every job's context curves (look-backs up to the segment's duration, 1 ms apart), one line per model."""
    lag_grid_ms = np.arange(0.0, settings.segment_duration_s * 1000.0 + 1.0)
    curves: dict[str, list] = {}
    for result in results:
        curves.setdefault(result.job.model, []).append(context_curves(result, lag_grid_ms, ERB_GRID))
    return plot_context_curves(curves, lag_grid_ms, ERB_GRID)


def _means(frame: pd.DataFrame, metric: str) -> pd.Series:
    """Mean of ``metric`` per model over conditions and files, highest first (NaN left out)."""
    return frame[frame["metric"] == metric].groupby("model")["value"].mean().dropna().sort_values(ascending=False)


def _ranking(means: pd.Series, unit: str = "", precision: int = 2) -> str:
    return ", ".join(f"{model} {value:.{precision}f}{unit}" for model, value in means.items())


def _number(value: float) -> str:
    return f"{value:.2f}" if np.isfinite(value) else NA


def _relation_sentence(table: pd.DataFrame) -> str:
    main = table[(table["x"] == "speech_relevance") & (table["y"] == "pesq_improvement")]
    if main.empty:
        return "- Relevance against quality: no model has both speech_relevance and pesq_improvement."
    parts = [
        f"{row.model} ρ = {_number(row.rho)} [{_number(row.ci_low)}, {_number(row.ci_high)}]"
        for row in main.itertuples()
    ]
    pooled = main[main["model"] == POOLED].iloc[0]
    if pooled["evidence"] == "weak":
        verdict = (
            f"the evidence is weak: {pooled['n_files']} file(s) and {pooled['n_points']} points, fewer than "
            f"{MIN_FILES} files, so these numbers show no relation either way"
        )
    elif pooled["evidence"] == "no clear relation":
        verdict = "the pooled interval holds 0: no clear relation"
    else:
        verdict = f"pooled over models the relation is {pooled['evidence']}"
    return (
        "- Does attention to speech go with better enhancement? Spearman of speech_relevance with the PESQ "
        f"improvement across conditions and files (95 % bootstrap over files): {'; '.join(parts)}; {verdict}."
    )


def _lead(means: pd.Series, most: str, only: str) -> str:
    """``"**model** most ..."`` for the first of several models, ``"**model** (the only model compared) only ..."``."""
    return f"**{means.index[0]}** " + (most if len(means) > 1 else f"(the only model compared) {only}")


def headline(frame: pd.DataFrame, relation: pd.DataFrame) -> list[str]:
    """The reading's opening points: reliance on speech bins (relative to their energy), look-back, spread, and
    whether relevance tracks quality."""
    lines = []
    enrichment = _means(frame, "speech_enrichment")
    if not enrichment.empty:
        relevance, energy = _means(frame, "speech_relevance"), _means(frame, "speech_energy_share")
        best = enrichment.index[0]
        lines.append(
            f"- {_lead(enrichment, 'relies most on', 'relies on')} speech-dominant bins relative to their "
            f"energy: enrichment {enrichment[best]:.2f} ({relevance.get(best, np.nan):.2f} of its "
            f"|attribution| on bins holding {energy.get(best, np.nan):.2f} of the input's energy; 1 = as "
            "much as the energy share)" + (f". All models: {_ranking(enrichment)}." if len(enrichment) > 1 else ".")
        )
    lookback = _means(frame, "lookback_90_ms")
    if not lookback.empty:
        lines.append(
            f"- {_lead(lookback, 'looks furthest back', 'looks back')}: 90 % of an output frame's "
            f"|attribution| lies within {lookback.iloc[0]:.0f} ms (all: {_ranking(lookback, ' ms', 0)}; 50 %: "
            f"{_ranking(_means(frame, 'lookback_50_ms'), ' ms', 0)})."
        )
    spread = _means(frame, "spread_90_erb")
    if not spread.empty:
        hz = _means(frame, "spread_90_hz")
        lines.append(
            f"- {_lead(spread, 'reaches widest', 'reaches')} across frequency: 90 % within "
            f"{spread.iloc[0]:.1f} ERB of the output frequency (all: {_ranking(spread, ' ERB', 1)}; in Hz: "
            f"{_ranking(hz, ' Hz', 0)})."
        )
    lines.append(_relation_sentence(relation))
    return lines


def reading(frame: pd.DataFrame, relation: pd.DataFrame, settings: ComparisonSettings) -> str:
    """The whole reading (Markdown list): :func:`headline`, then the low band, output target, sensitivity, trust,
    and the caveats."""
    lines = headline(frame, relation)
    low, low_energy = _means(frame, "low_band_share"), _means(frame, "low_band_energy_share")
    if not low.empty:
        lines.append(
            f"- Share of |attribution| from below 1 kHz: {_ranking(low)} (the input's energy there: "
            f"{_ranking(low_energy)})."
        )
    output = _means(frame, "speech_enrichment_output")
    if not output.empty:
        lines.append(f"- Explaining the enhanced output instead of the mask, speech enrichment: {_ranking(output)}.")
    effect = _means(frame, "top_amplification_effect")
    if not effect.empty:
        flop = _ranking(_means(frame, "flop_amplification_effect"))
        lines.append(
            f"- Amplifying the top {settings.top_percent:g} % of bins by {settings.gain_db:g} dB moves the "
            f"mask by this multiple of a random selection's change: {_ranking(effect)} (above 1: the "
            f"attributed bins matter more than random ones); the flop bins: {flop}."
        )
    trust = _means(frame, "shapley_spearman")
    if not trust.empty:
        lines.append(
            f"- Agreement of each model's map with the exact Shapley values of "
            f"{(len(settings.shapley_band_edges_hz) + 1) * settings.shapley_spans} tiles (Spearman, 1 best): "
            f"{_ranking(trust)}; a map that disagrees there should be read with care for that model."
        )
    n_files, n_conditions = frame["file"].nunique(), frame["condition"].nunique()
    caveats = [f"{n_files} file(s) x {n_conditions} condition(s)"]
    if n_files < MIN_FILES:
        caveats.append(f"with fewer than {MIN_FILES} files every difference between models is indicative only")
    caveats.append(
        f"look-back is measured inside a {settings.segment_duration_s * 1000:.0f} ms segment (output frames "
        f"of its second half), so values near half of it mean 'at least that far'"
    )
    caveats.append(
        "the models' grids differ (NSNet2 161 bins x 10 ms, DTLN 257 x 8 ms, GTCRN 257 x 16 ms): "
        "distances are in ms, Hz and ERB, shares of totals, never per bin"
    )
    missing = settings.unavailable()
    if missing:
        caveats.append("not computed: " + ", ".join(f"{m} {t}" for m, t in missing))
    lines.append("- Caveats: " + "; ".join(caveats) + ".")
    return "\n".join(lines)


def summary(settings: ComparisonSettings, frame: pd.DataFrame, relation: pd.DataFrame) -> Markdown:
    """What notebook 07 shows and what it found (Markdown): the setting, then :func:`headline`."""
    shows = (
        f"**What this shows.** {frame['model'].nunique()} speech enhancer(s) explained on the same noisy files "
        f"({frame['condition'].nunique()} noise condition(s), {frame['file'].nunique()} file(s)) with "
        f"{settings.method}: how much each relies on speech-dominant bins, how far back and across frequency it "
        "looks, how its mask reacts to its most attributed bins, how well its maps agree with exact Shapley "
        "values, and whether relevance tracks enhancement quality."
    )
    return Markdown(
        f"{shows}\n\n**What we found.**\n\n"
        + "\n".join(headline(frame, relation))
        + "\n\nThe full reading closes the report."
    )

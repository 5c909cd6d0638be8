"""Notebook 01's sections: each noisy file through the denoiser, and the quality table (PESQ, STOI, SI-SDR)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from IPython.display import HTML, display
from pandas.io.formats.style import Styler

from ..experiments.quality import QUALITY_FILE, QUALITY_METRICS, STAGES, quality_scores, score_column
from ..io.atomic import write_atomically
from ..io.noisy_corpus import NoisyFile
from ..models.enhance import enhance_details
from ..plots.overview import plot_enhancement_overview
from .audio import audio_players


def show_enhancements(
    corpus: Sequence[NoisyFile], sample_rate: int, segment_s: tuple[float, float] | None = None
) -> list[dict[str, object]]:
    """Run the denoiser on every noisy file, display its overview figure and players (clean, noisy,
    enhanced), and return one row per file: its condition and every score of
    :func:`~xai_helpers.experiments.quality.quality_scores` for the noisy input and the enhanced
    output against the clean speech (NaN where a score cannot apply; the reason is logged).
    ``segment_s`` ``(start_s, duration_s)``: notebook 02's explained segment, marked on each figure."""
    scores = []
    for item in corpus:
        result = enhance_details(item.noisy, sample_rate)
        display(plot_enhancement_overview(result, clean=item.clean, title=item.name, segment_s=segment_s))
        display(HTML(audio_players({"clean": item.clean, "noisy": item.noisy, "enhanced": result.enhanced}, sample_rate)))
        noisy = quality_scores(item.clean, item.noisy, sample_rate, source=item.noisy_path.name)
        enhanced = quality_scores(item.clean, result.enhanced, sample_rate, source=f"{item.noisy_path.name} (enhanced)")
        row = {"file": item.name, "condition": item.params.get("condition", "")}
        for metric in QUALITY_METRICS:
            row[score_column(metric, "noisy")] = noisy[metric]
            row[score_column(metric, "enhanced")] = enhanced[metric]
        scores.append(row)
    return scores


def quality_table(scores: list[dict[str, object]]) -> pd.DataFrame:
    """The rows of :func:`show_enhancements` by file: condition, then for PESQ, STOI and SI-SDR (dB) the
    noisy score, the enhanced score and the improvement (enhanced - noisy); NaN where n/a."""
    table = pd.DataFrame(scores).set_index("file")
    columns = ["condition"]
    for metric in QUALITY_METRICS:
        noisy, enhanced, improvement = (score_column(metric, stage) for stage in STAGES)
        table[improvement] = table[enhanced] - table[noisy]
        columns += [noisy, enhanced, improvement]
    return table[columns]


def style_quality_table(table: pd.DataFrame) -> Styler:
    """``table`` for display: 2 decimals (3 for STOI), ``n/a`` where a score could not apply."""
    stoi_columns = [score_column("STOI", stage) for stage in STAGES]
    styler = table.style.format(precision=2, na_rep="n/a")
    return styler.format(precision=3, na_rep="n/a", subset=[c for c in stoi_columns if c in table.columns])


def write_quality_table(table: pd.DataFrame, output_dir: str | os.PathLike) -> Path:
    """``output_dir/enhancement_quality.csv`` (atomically): ``table`` with its ``file`` index as a column, NaN as empty."""
    return write_atomically(Path(output_dir) / QUALITY_FILE, lambda temporary: table.to_csv(temporary))


def corpus_table(corpus: Sequence[NoisyFile]) -> pd.DataFrame:
    """One row per noisy file: its name, derived seed and achieved SNR (dB)."""
    return pd.DataFrame(
        [{"file": item.noisy_path.name, "seed": item.params["derived_seed"], "achieved SNR (dB)": item.params["achieved_snr_db"]}
         for item in corpus]
    )

"""Notebook 01's sections: each noisy file through the denoiser, the quality table (PESQ, STOI, SI-SDR) and the
summary."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import HTML, Markdown, display
from pandas.io.formats.style import Styler

from ..experiments.quality import QUALITY_FILE, QUALITY_METRICS, QUALITY_UNITS, STAGES, quality_scores, score_column
from ..io.atomic import write_atomically
from ..io.noisy_corpus import NoisyFile
from ..models.enhance import enhance_details
from ..models.registry import DEFAULT_MODEL
from ..plots.overview import plot_enhancement_overview
from .audio import audio_players
from .html import section
from ..plots.style import NA
from .tables import captioned


def show_enhancements(
    corpus: Sequence[NoisyFile],
    sample_rate: int,
    segment_s: tuple[float, float] | None = None,
    model: str = DEFAULT_MODEL,
) -> list[dict[str, object]]:
    """Run the enhancer ``model`` (a registered name or an import path) on every noisy file, display its overview figure
    and players (clean, noisy, enhanced) in a section of its own (the report folds all but the first), and return one
    row per file: its condition and every score of :func:`~xai_helpers.experiments.quality.quality_scores` for the noisy
    input and the enhanced output against the clean speech (NaN where a score cannot apply; the reason is logged).
    ``segment_s`` ``(start_s, duration_s)``: notebook 02's explained segment, marked on each figure."""
    scores = []
    for index, item in enumerate(corpus):
        result = enhance_details(item.noisy, sample_rate, model)
        folded = section(item.name, opened=index == 0)
        display(
            plot_enhancement_overview(result, clean=item.clean, title=item.name, segment_s=segment_s), metadata=folded
        )
        display(
            HTML(audio_players({"clean": item.clean, "noisy": item.noisy, "enhanced": result.enhanced}, sample_rate)),
            metadata=folded,
        )
        noisy = quality_scores(item.clean, item.noisy, sample_rate, source=item.noisy_path.name)
        enhanced = quality_scores(item.clean, result.enhanced, sample_rate, source=f"{item.noisy_path.name} (enhanced)")
        row = {"file": item.name, "model": result.model, "condition": item.params.get("condition", "")}
        for metric in QUALITY_METRICS:
            row[score_column(metric, "noisy")] = noisy[metric]
            row[score_column(metric, "enhanced")] = enhanced[metric]
        scores.append(row)
    return scores


def quality_table(scores: list[dict[str, object]]) -> pd.DataFrame:
    """The rows of :func:`show_enhancements` by file: model, condition, then for PESQ, STOI and SI-SDR (dB) the
    noisy score, the enhanced score and the improvement (enhanced - noisy); NaN where n/a."""
    table = pd.DataFrame(scores).set_index("file")
    columns = ["model", "condition"]
    for metric in QUALITY_METRICS:
        noisy, enhanced, improvement = (score_column(metric, stage) for stage in STAGES)
        table[improvement] = table[enhanced] - table[noisy]
        columns += [noisy, enhanced, improvement]
    return table[columns]


def style_quality_table(table: pd.DataFrame) -> Styler:
    """``table`` for display, captioned: 2 decimals (3 for STOI), ``n/a`` where a score could not apply."""
    models = ", ".join(sorted(set(table["model"]))) if "model" in table else "the model"
    return captioned(
        table,
        f"PESQ, STOI and SI-SDR of the noisy input and of {models}'s output against the clean speech, "
        "and the improvement (enhanced - noisy), per file.",
        precision=2,
        formats={score_column("STOI", stage): "{:.3f}" for stage in STAGES},
    )


def write_quality_table(table: pd.DataFrame, output_dir: str | os.PathLike) -> Path:
    """``output_dir/enhancement_quality.csv`` (atomically): ``table`` with its ``file`` index as a column, NaN as
    empty."""
    return write_atomically(Path(output_dir) / QUALITY_FILE, lambda temporary: table.to_csv(temporary))


def corpus_table(corpus: Sequence[NoisyFile]) -> Styler:
    """One row per noisy file, captioned: its name, derived seed and achieved SNR (dB)."""
    table = pd.DataFrame(
        [
            {
                "file": item.noisy_path.name,
                "seed": item.params["derived_seed"],
                "achieved SNR (dB)": item.params["achieved_snr_db"],
            }
            for item in corpus
        ],
        columns=["file", "seed", "achieved SNR (dB)"],
    ).set_index("file")
    return captioned(
        table, "The noisy files written: the seed each noise was drawn with and the SNR it reached.", precision=2
    )


def _mean_change(table: pd.DataFrame, metric: str) -> str:
    """``"PESQ 1.23 -> 1.87 (+0.64, higher in 8 of 8 files)"``: means over the files where the score applies."""
    noisy, enhanced, improvement = (table[score_column(metric, stage)].astype(float) for stage in STAGES)
    valid = improvement.notna()
    if not valid.any():
        return f"{metric} {NA}"
    digits = 3 if metric == "STOI" else 2
    unit = " dB" if QUALITY_UNITS[metric] == "dB" else ""
    return (
        f"{metric} {noisy[valid].mean():.{digits}f} → {enhanced[valid].mean():.{digits}f}{unit} "
        f"({improvement[valid].mean():+.{digits}f}, higher in {int((improvement[valid] > 0).sum())} of "
        f"{int(valid.sum())} files)"
    )


def summary(
    corpus: Sequence[NoisyFile], quality: pd.DataFrame, noise_type: str, noise_options: dict[str, object]
) -> Markdown:
    """What notebook 01 shows and what it found, read off the run's numbers (Markdown): the files and
    the noise, the achieved SNRs, and the mean PESQ, STOI and SI-SDR of noisy and enhanced speech with
    the number of files the model improved (``quality`` as :func:`quality_table` gives it)."""
    options = "; ".join(f"{name} {value}" for name, value in noise_options.items())
    snrs = np.array(
        [float(item.params["achieved_snr_db"]) for item in corpus if item.params.get("achieved_snr_db") is not None],
        dtype=float,
    )
    snrs = snrs[np.isfinite(snrs)]
    snr = f", achieved SNR {snrs.min():.1f} to {snrs.max():.1f} dB" if snrs.size else ""
    shows = (
        f"**What this shows.** {len(corpus)} noisy file(s): clean speech with `{noise_type}` noise ({options}{snr}), "
        f"denoised by {', '.join(sorted(set(quality['model']))) if 'model' in quality else 'the model'}. Per file: "
        "waveforms, spectrograms, the gain mask and players; then PESQ, STOI and "
        "SI-SDR of the noisy input and of the enhanced output against the clean speech."
    )
    if quality.empty:
        return Markdown(shows + "\n\n**What we found.** No file was processed.")
    found = "; ".join(_mean_change(quality, metric) for metric in QUALITY_METRICS)
    return Markdown(f"{shows}\n\n**What we found.** Means over files, noisy → enhanced: {found}.")

"""Notebook 04's sections: the figures (written as PNG and returned), the players, the captioned tables
and the summary of the perturbation test."""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import HTML, Markdown, display
from pandas.io.formats.style import Styler

from ..experiments.perturbation import FilePerturbation, PerturbationSettings, quality_column
from ..experiments.quality import QUALITY_METRICS
from ..plots.perturbation import plot_curves, plot_mask_change, plot_selection
from ..plots.style import save_png
from .audio import audio_grid
from .html import section
from .tables import captioned

PANELS = {"top": "top", "flop": "flop", "random": "random (first seed)"}
"""Order key -> panel title of the selection and mask-change figures."""


PLAYER_ROWS = {
    "original": "original",
    "top": "top amplified",
    "flop": "flop amplified",
    "random": "random amplified (first seed)",
}
"""Wave key -> row label of the players."""
PLAYER_COLUMNS = ("input", "enhanced output")
CONTEXT_S = 0.25
"""Seconds of the file kept on each side of the explained segment in the players."""


def _panels(values: dict) -> dict:
    return {title: values[order] for order, title in PANELS.items()}


def segment_span_s(result: FilePerturbation) -> tuple[float, float]:
    """Start and end (s, in the file) of the samples the explained segment's frames cover: from the first
    frame's first sample to the last frame's last (the bins amplified live there and nowhere else)."""
    starts = result.stft.frame_starts(result.first_frame + result.scores.shape[1])
    start, end = max(int(starts[result.first_frame]), 0), int(starts[-1]) + result.stft.win_length
    return start / result.sample_rate, end / result.sample_rate


@dataclass(frozen=True)
class PlayerClips:
    """The players' clips of one file: the segment with ``context_s`` either side, cut from each wave."""

    segment_s: tuple[float, float]
    """The explained segment in the file (:func:`segment_span_s`), s."""
    clip_s: tuple[float, float]
    """What the clips hold: the segment widened by the context and kept inside the file, s."""
    clips: dict[str, dict[str, np.ndarray]]
    """Row label (:data:`PLAYER_ROWS`) -> {``"input"``, ``"enhanced output"``} -> clip ``[n]``, unscaled."""

    def describe(self, name: str) -> str:
        """Where the clips sit in the file, in words."""
        (seg_start, seg_end), (clip_start, clip_end) = self.segment_s, self.clip_s
        return (
            f"{name}: the explained segment is {seg_start:.2f} to {seg_end:.2f} s of the file; the clips play "
            f"{clip_start:.2f} to {clip_end:.2f} s, all scaled alike (true relative loudness)."
        )


def player_clips(result: FilePerturbation, context_s: float = CONTEXT_S) -> PlayerClips:
    """The explained segment (with ``context_s`` s either side, inside the file) of the original and of the
    top, flop and first random amplified inputs, and of the model's enhanced output of each; samples as they
    are (no normalisation, :func:`~xai_helpers.reports.audio.audio_grid` scales the set alike)."""
    if context_s < 0:
        raise ValueError(f"context_s must be 0 or more seconds, got {context_s}")
    seg_start, seg_end = segment_span_s(result)
    n_samples = len(result.waves["original"])
    first = max(0, int(round((seg_start - context_s) * result.sample_rate)))
    last = min(n_samples, int(round((seg_end + context_s) * result.sample_rate)))
    clips = {
        label: {
            PLAYER_COLUMNS[0]: np.asarray(result.waves[key])[first:last],
            PLAYER_COLUMNS[1]: np.asarray(result.enhanced[key])[first:last],
        }
        for key, label in PLAYER_ROWS.items()
        if key in result.waves and key in result.enhanced
    }
    return PlayerClips((seg_start, seg_end), (first / result.sample_rate, last / result.sample_rate), clips)


def show_selections(
    done: Sequence[FilePerturbation], gain_db: float, ranking: str, output_dir: str | os.PathLike, underlay: bool = True
) -> None:
    """Per file (a section of its own; the report folds all but the first): the amplified bins of top, flop
    and the first random selection, over the segment's input spectrogram in grey if ``underlay``; written to
    ``{file}_selection.png``."""
    for index, result in enumerate(done):
        fig = plot_selection(
            _panels(result.selections),
            result.freqs_hz,
            result.times_s,
            gain_db,
            title=f"{result.basename}: amplified bins ({ranking} ranking)",
            underlay=result.features if underlay else None,
        )
        save_png(fig, Path(output_dir) / f"{result.basename}_selection.png")
        display(fig, metadata=section(result.basename, opened=index == 0))


def show_mask_changes(
    done: Sequence[FilePerturbation], gain_db: float, output_dir: str | os.PathLike, context_s: float = CONTEXT_S
) -> None:
    """Per file (a section of its own; the report folds all but the first): the mask change of each selection
    (``{file}_mask_change.png``), its amplification table and the players of :func:`player_clips` (inputs
    and the model's outputs, cut to the segment)."""
    for index, result in enumerate(done):
        folded = section(result.basename, opened=index == 0)
        fig = plot_mask_change(
            _panels(result.changes),
            result.freqs_hz,
            result.times_s,
            title=f"{result.basename}: mask change after +{gain_db:g} dB",
        )
        save_png(fig, Path(output_dir) / f"{result.basename}_mask_change.png")
        display(fig, metadata=folded)
        display(
            captioned(
                result.amplification.set_index("order"),
                f"{result.basename}: amplification by {gain_db:g} dB. Mean |mask change| and mean signed change over "
                "the segment (random: mean over seeds, with their std), and the gain the selected bins realise "
                "after resynthesis.",
                precision=4,
            ),
            metadata=folded,
        )
        clips = player_clips(result, context_s)
        display(
            HTML(audio_grid(clips.clips, result.sample_rate, html.escape(clips.describe(result.basename)))),
            metadata=folded,
        )


def status_table(results: Sequence[FilePerturbation]) -> Styler:
    """One row per input file, captioned: perturbed, skipped or failed, the attribution file used, and why."""
    table = pd.DataFrame(
        [result.status_row() for result in results], columns=["file", "status", "attributions", "message"]
    )
    return captioned(
        table.set_index("file"),
        "Every input file: perturbed, skipped (no attribution file for the method) "
        "or failed (the message says why), and the attribution file used.",
    )


def reference_table(done: Sequence[FilePerturbation]) -> Styler | None:
    """Per file, captioned: mean mask of the input and of the baseline, their difference, and the attribution sum per
    output bin."""
    if not done:
        return None
    table = pd.DataFrame([{"file": result.source.name, **result.reference} for result in done]).set_index("file")
    return captioned(
        table,
        "Per file: the mean mask of the input and of the baseline over the segment, their difference, "
        "and the attributions' sum per output bin (a complete method makes it equal to the difference).",
        precision=4,
    )


def show_curves(done: Sequence[FilePerturbation], method: str, ranking: str, output_dir: str | os.PathLike) -> None:
    """Per file (a section of its own; the report folds all but the first): deletion and insertion curves
    (``{file}_curves.png``)."""
    for index, result in enumerate(done):
        fig = plot_curves(result.curves, result.areas, title=f"{result.basename}: {method}, {ranking} ranking")
        save_png(fig, Path(output_dir) / f"{result.basename}_curves.png")
        display(fig, metadata=section(result.basename, opened=index == 0))


def show_areas(done: Sequence[FilePerturbation]) -> None:
    """Areas under the curves per file and order, then their mean over files per method and order."""
    if not done:
        return
    areas = pd.concat([result.areas.assign(file=result.source.name) for result in done], ignore_index=True)
    display(
        captioned(
            areas.set_index(["file", "order"]),
            "Areas under the deletion and insertion curves per file and "
            "order (random: mean over seeds, with their std).",
            precision=4,
        )
    )
    display(
        captioned(
            areas.groupby(["method", "order"], sort=False)[["deletion_area", "insertion_area"]].mean(),
            "Areas under the curves, mean over files.",
            precision=4,
        )
    )


def amplification_table(done: Sequence[FilePerturbation]) -> pd.DataFrame | None:
    """Mean |mask change| after amplifying top, flop and random selections: files x orders."""
    if not done:
        return None
    amplification = pd.concat([result.amplification.assign(file=result.source.name) for result in done])
    return amplification.pivot(index="file", columns="order", values="mean |mask change|")[["top", "flop", "random"]]


def show_amplification(done: Sequence[FilePerturbation]) -> None:
    """:func:`amplification_table`, captioned (nothing when no file was perturbed)."""
    table = amplification_table(done)
    if table is not None:
        display(
            captioned(
                table,
                "Mean |mask change| after amplifying the top, flop and random selections, per file "
                "(random: mean over seeds).",
                precision=4,
            )
        )


def quality_change_table(done: Sequence[FilePerturbation]) -> pd.DataFrame | None:
    """The enhanced output's scores when the top, flop and random bins are amplified: rows (file, order).

    Columns: the reference (``clean`` or ``enhanced original``), per score (PESQ, STOI, SI-SDR dB)
    the enhanced original's value, the value after amplification (random: mean over seeds) and the
    change; NaN where a score cannot apply.
    """
    if not done:
        return None
    rows = []
    for result in done:
        for record in result.quality.to_dict("records"):
            row = {"file": result.source.name, "order": record["order"], "reference": result.quality_reference}
            for metric in QUALITY_METRICS:
                amplified = quality_column(metric, "amplified")
                row[amplified.replace("(amplified)", "(original)")] = result.quality_original[metric]
                row[amplified] = record[amplified]
                row[quality_column(metric, "change")] = record[quality_column(metric, "change")]
            rows.append(row)
    return pd.DataFrame(rows).set_index(["file", "order"])


def mean_quality_changes(table: pd.DataFrame | None) -> pd.DataFrame | None:
    """Mean over files of each score's change, per order (top, flop, random): the closing summary."""
    if table is None:
        return None
    changes = [quality_column(metric, "change") for metric in QUALITY_METRICS]
    return table.groupby(level="order", sort=False)[changes].mean()


def show_quality_changes(done: Sequence[FilePerturbation]) -> pd.DataFrame | None:
    """Display :func:`quality_change_table` and :func:`mean_quality_changes`, captioned; return the first
    (``None`` when no file was perturbed)."""
    table = quality_change_table(done)
    if table is None:
        return None
    display(
        captioned(
            table,
            "The enhanced output's PESQ, STOI and SI-SDR per file and order: the enhanced original's "
            "score, the score after amplification (random: mean over seeds) and the change.",
            precision=3,
        )
    )
    display(
        captioned(
            mean_quality_changes(table), "Change of each score after amplification, mean over files.", precision=3
        )
    )
    return table


def _mean_by_order(done: Sequence[FilePerturbation], frame: str, column: str) -> pd.Series:
    values = pd.concat([getattr(result, frame).assign(file=result.source.name) for result in done])
    return values.groupby("order")[column].mean()


def summary(results: Sequence[FilePerturbation], settings: PerturbationSettings) -> Markdown:
    """What notebook 04 shows and what it found (Markdown): the test, where the segment lies, the mean
    |mask change| of top, flop and random (and in how many files top and flop beat random), the mean
    signed change, the deletion areas and the enhanced output's PESQ change, all from ``results``."""
    done = [result for result in results if result.status == "perturbed"]
    shows = (
        f"**What this shows.** In each file's explained segment, the top and the flop {settings.top_percent:g} % of "
        "the "
        f"bins by `{settings.method}` attribution ({settings.ranking} ranking) are amplified by {settings.gain_db:g} "
        "dB, "
        f"against {settings.n_random} random selections of the same size: how {settings.model}'s mask moves, what its "
        "output "
        "sounds like (players) and scores (PESQ, STOI, SI-SDR), and deletion / insertion curves."
    )
    left = len(results) - len(done)
    left_text = f" {left} file(s) skipped or failed (first table)." if left else ""
    if not done:
        return Markdown(f"{shows}\n\n**What we found.** No file was perturbed.{left_text}")
    spans = sorted({tuple(round(v, 2) for v in segment_span_s(result)) for result in done})
    where = ", ".join(f"{a:.2f} to {b:.2f} s" for a, b in spans)
    by_file = amplification_table(done)
    mean_abs = by_file.mean()
    signed = _mean_by_order(done, "amplification", "mean mask change")
    deletion = _mean_by_order(done, "areas", "deletion_area")
    pesq = mean_quality_changes(quality_change_table(done))[quality_column("PESQ", "change")]
    orders = ("top", "flop", "random")
    found = (
        f"Segment{'s' if len(spans) > 1 else ''} at {where} of the file. Mean |mask change| over {len(done)} file(s): "
        + ", ".join(f"{o} {mean_abs[o]:.4f}" for o in orders)
        + f"; more than random in {int((by_file['top'] > by_file['random']).sum())} of {len(done)} files for top and "
        f"{int((by_file['flop'] > by_file['random']).sum())} for flop. Mean signed change: "
        + ", ".join(f"{o} {signed[o]:+.4f}" for o in orders)
        + ". Deletion area: "
        + ", ".join(f"{o} {deletion[o]:.3f}" for o in orders)
        + ". Enhanced output's PESQ change: "
        + ", ".join(f"{o} {pesq[o]:+.3f}" if np.isfinite(pesq[o]) else f"{o} n/a" for o in orders)
        + "."
    )
    return Markdown(f"{shows}\n\n**What we found.** {found}{left_text}")

"""The speech-enhancement field's quality scores of one signal, where they apply: PESQ, STOI, SI-SDR.

:func:`quality_scores` never raises for a signal a metric cannot score (too short, silent, no
speech found, a rate PESQ cannot use): that score is NaN and the reason is logged (warning, with
the file name). Scores (see :mod:`xai_helpers.dsp.metrics`):

* ``PESQ``: wide band (ITU-T P.862.2, MOS-LQO about 1.04 to 4.64) at 16 kHz; 48 kHz signals are
  resampled to 16 kHz first; below 16 kHz it cannot apply (NaN);
* ``STOI``: short-time objective intelligibility, about 0 to 1;
* ``SI-SDR``: scale-invariant signal-to-distortion ratio, dB.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import numpy as np

from ..dsp.metrics import pesq, si_sdr, stoi

logger = logging.getLogger(__name__)

QUALITY_METRICS: dict[str, Callable[..., float]] = {
    "PESQ": lambda reference, degraded, rate, source: pesq(reference, degraded, rate, "wb", source=source),
    "STOI": lambda reference, degraded, rate, source: stoi(reference, degraded, rate, source=source),
    "SI-SDR": lambda reference, degraded, rate, source: si_sdr(degraded, reference),
}
"""Score name -> ``score(reference [N], degraded [N], sample_rate, source)``."""
QUALITY_UNITS = {"PESQ": "MOS", "STOI": "", "SI-SDR": "dB"}
"""Unit of each score (STOI is a fraction)."""
QUALITY_FILE = "enhancement_quality.csv"
"""Notebook 01's quality table (columns :func:`score_column`), written in its ``output_dir``."""
PERTURBATION_SUMMARY_FILE = "perturbation_summary.csv"
"""Notebook 04's long-form numbers (``file, order, metric, value``), written in its ``output_dir``."""
STAGES = ("noisy", "enhanced", "improvement")
"""Notebook 01's columns per score: the noisy input, the enhanced output, enhanced - noisy."""


def score_column(metric: str, stage: str) -> str:
    """Notebook 01's column of ``metric`` at ``stage``: ``"PESQ noisy"``, ``"SI-SDR improvement (dB)"``."""
    return f"{metric} {stage}" + (" (dB)" if QUALITY_UNITS[metric] == "dB" else "")


def summary_metric_name(metric: str, change: bool = False) -> str:
    """Notebook 04's name of an enhanced-output score in its summary CSV: ``enhanced_pesq``,
    ``enhanced_si_sdr_db_change``."""
    unit = "_db" if QUALITY_UNITS[metric] == "dB" else ""
    return f"enhanced_{metric.lower().replace('-', '_')}{unit}" + ("_change" if change else "")


def quality_scores(
    reference: np.ndarray, degraded: np.ndarray, sample_rate: int, *, source: str | os.PathLike | None = None
) -> dict[str, float]:
    """``{"PESQ": ..., "STOI": ..., "SI-SDR": ...}`` of ``degraded`` ``[N]`` against ``reference`` ``[N]`` at
    ``sample_rate`` Hz.

    A score that cannot apply is ``nan``; its reason (the metric's ``ValueError``, naming
    ``source``) is logged as a warning.
    """
    scores = {}
    for name, score in QUALITY_METRICS.items():
        try:
            scores[name] = float(score(reference, degraded, sample_rate, source))
        except ValueError as error:
            about = "" if source is None or os.fspath(source) in str(error) else f"{os.fspath(source)}: "
            logger.warning("%s n/a: %s%s", name, about, error)
            scores[name] = float("nan")
    return scores

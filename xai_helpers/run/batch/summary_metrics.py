"""Quality scores of a batch task for ``summary.csv``: read from the CSV files its notebooks wrote.

* notebook 01 (``files/<task>/noisy/enhancement_quality.csv``): PESQ, STOI and SI-SDR (dB) of the
  noisy input and of the enhanced output, and the improvement; means over the task's noisy files
  (one per noise condition): ``pesq_noisy``, ``pesq_enhanced``, ``pesq_improvement``, ``stoi_*``,
  ``si_sdr_noisy_db``, ``si_sdr_enhanced_db``, ``si_sdr_improvement_db``;
* notebook 04 (``files/<task>/perturbation/perturbation_summary.csv``): the change of the enhanced
  output's scores when the top, flop and random bins are amplified, means over files:
  ``enhanced_pesq_change_top``, ..., ``enhanced_si_sdr_db_change_random``.

A missing or unreadable file (the notebook did not run, or failed) leaves its cells empty; a
score that could not apply to any file is empty too.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pandas as pd

from ...experiments.quality import (
    PERTURBATION_SUMMARY_FILE,
    QUALITY_FILE,
    QUALITY_METRICS,
    STAGES,
    score_column,
    summary_metric_name,
)
from .planning import OUTPUT_FOLDERS

logger = logging.getLogger(__name__)

ORDERS = ("top", "flop", "random")


def _snake(metric: str, stage: str) -> str:
    return score_column(metric, stage).lower().replace("-", "_").replace(" (db)", "_db").replace(" ", "_")


ENHANCEMENT_COLUMNS = {(metric, stage): _snake(metric, stage) for metric in QUALITY_METRICS for stage in STAGES}
"""(score, stage) -> ``summary.csv`` column of notebook 01's means."""
PERTURBATION_COLUMNS = {
    (metric, order): f"{summary_metric_name(metric, change=True)}_{order}"
    for metric in QUALITY_METRICS
    for order in ORDERS
}
"""(score, order) -> ``summary.csv`` column of notebook 04's mean changes."""
QUALITY_SUMMARY_COLUMNS = tuple(ENHANCEMENT_COLUMNS.values()) + tuple(PERTURBATION_COLUMNS.values())


def _read_csv(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path)
    except (OSError, ValueError) as error:  # pandas' parser errors are ValueErrors
        logger.warning("%s: unreadable (%s); its scores are left out of summary.csv", path, error)
        return None


def _cell(value: float) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:.4g}"


def task_quality(task_dir: Path) -> dict[str, str]:
    """Every :data:`QUALITY_SUMMARY_COLUMNS` cell of the task in ``task_dir`` (4 significant digits, or empty)."""
    cells = dict.fromkeys(QUALITY_SUMMARY_COLUMNS, "")
    enhancement = _read_csv(task_dir / OUTPUT_FOLDERS["01"] / QUALITY_FILE)
    if enhancement is not None:
        for (metric, stage), column in ENHANCEMENT_COLUMNS.items():
            source = score_column(metric, stage)
            if source in enhancement:
                cells[column] = _cell(pd.to_numeric(enhancement[source], errors="coerce").mean())
    perturbation = _read_csv(task_dir / OUTPUT_FOLDERS["04"] / PERTURBATION_SUMMARY_FILE)
    if perturbation is not None and {"order", "metric", "value"} <= set(perturbation.columns):
        for (metric, order), column in PERTURBATION_COLUMNS.items():
            rows = perturbation[
                (perturbation["order"] == order) & (perturbation["metric"] == summary_metric_name(metric, change=True))
            ]
            cells[column] = _cell(pd.to_numeric(rows["value"], errors="coerce").mean())
    return cells

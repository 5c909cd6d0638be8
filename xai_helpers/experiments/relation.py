"""Does attention to speech go with better enhancement? Rank correlation across files and conditions, with a
bootstrap over files.

Points are ``(condition, file)`` pairs of one model (or of every model, pooled). :func:`spearman` is the rank
correlation of two metrics over them; :func:`bootstrap_spearman` resamples *files* with replacement (every
condition of a drawn file comes along, so the interval reflects how many independent utterances there are,
not how many points) from ``numpy.random.default_rng(seed)`` and takes the percentile interval. The evidence
is called ``"weak"`` below :data:`MIN_FILES` files (an interval from a handful of files says little however
narrow it looks), ``"no clear relation"`` when the interval holds 0, and ``"positive"`` / ``"negative"``
otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

MIN_FILES = 10
"""Below this many files the evidence is called weak, whatever the interval."""
MIN_POINTS = 3
"""A correlation needs at least this many points (NaN otherwise)."""
POOLED = "pooled"
RELATION_COLUMNS = ["model", "x", "y", "rho", "ci_low", "ci_high", "n_points", "n_files", "evidence"]
"""The ``model`` label of the rows computed over every model's points together."""


def spearman(x, y) -> float:
    """Spearman correlation of ``x`` and ``y`` ``[n]`` over the pairs where both are finite; NaN with fewer than
    :data:`MIN_POINTS` pairs or a constant side."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < MIN_POINTS or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(spearmanr(x, y).statistic)


@dataclass(frozen=True)
class Correlation:
    """A Spearman correlation with its bootstrap interval over files."""

    rho: float
    ci_low: float
    ci_high: float
    n_points: int
    n_files: int
    n_resamples: int
    """Resamples that gave a correlation (a resample of one file's points may be constant: left out)."""

    @property
    def evidence(self) -> str:
        """``"weak"``, ``"no clear relation"``, ``"positive"`` or ``"negative"`` (module docstring)."""
        if not np.isfinite(self.rho) or self.n_files < MIN_FILES or not np.isfinite(self.ci_low):
            return "weak"
        if self.ci_low <= 0.0 <= self.ci_high:
            return "no clear relation"
        return "positive" if self.rho > 0 else "negative"


def bootstrap_spearman(
    x, y, files: Sequence[str], n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> Correlation:
    """:func:`spearman` of ``x`` and ``y`` ``[n]`` and its ``level`` percentile interval from ``n_boot``
    resamples of the distinct ``files`` ``[n]`` (each point's file) with replacement, seeded by ``seed``."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    files = np.asarray(files, dtype=object)
    if not x.shape == y.shape == files.shape or x.ndim != 1:
        raise ValueError(f"x, y and files must be 1-D of one length, got {x.shape}, {y.shape}, {files.shape}")
    if not 0 < level < 1 or n_boot < 1:
        raise ValueError(f"level must lie in (0, 1) and n_boot be >= 1, got {level} and {n_boot}")
    keep = np.isfinite(x) & np.isfinite(y)
    x, y, files = x[keep], y[keep], files[keep]
    names = sorted(set(files.tolist()))
    members = [np.flatnonzero(files == name) for name in names]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot if names else 0):
        drawn = np.concatenate([members[i] for i in rng.integers(0, len(names), len(names))])
        values.append(spearman(x[drawn], y[drawn]))
    finite = np.asarray([v for v in values if np.isfinite(v)])
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail]) if finite.size else (np.nan, np.nan)
    return Correlation(spearman(x, y), float(low), float(high), int(x.size), len(names), int(finite.size))


def wide(frame: pd.DataFrame) -> pd.DataFrame:
    """The long results ``model, condition, file, metric, value`` as one row per ``(model, condition, file)``
    and one column per metric."""
    return frame.pivot_table(
        index=["model", "condition", "file"], columns="metric", values="value", aggfunc="mean"
    ).reset_index()


def relation_table(
    frame: pd.DataFrame, x_metric: str, y_metrics: Sequence[str], n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> pd.DataFrame:
    """Per model (in order of appearance) and :data:`POOLED`, per ``y`` of ``y_metrics``: Spearman of
    ``x_metric`` and ``y`` over ``(condition, file)`` points, its bootstrap interval over files and the
    evidence; columns ``model, x, y, rho, ci_low, ci_high, n_points, n_files, evidence``."""
    table = wide(frame)
    rows = []
    groups = [(model, table[table["model"] == model]) for model in dict.fromkeys(frame["model"])]
    for model, points in groups + [(POOLED, table)]:
        for y_metric in y_metrics:
            if x_metric not in points or y_metric not in points:
                continue
            result = bootstrap_spearman(
                points[x_metric], points[y_metric], points["file"].astype(str).tolist(), n_boot, seed, level
            )
            rows.append(
                {
                    "model": model,
                    "x": x_metric,
                    "y": y_metric,
                    "rho": result.rho,
                    "ci_low": result.ci_low,
                    "ci_high": result.ci_high,
                    "n_points": result.n_points,
                    "n_files": result.n_files,
                    "evidence": result.evidence,
                }
            )
    return pd.DataFrame(rows, columns=RELATION_COLUMNS)

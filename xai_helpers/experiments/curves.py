"""Deletion and insertion curves on the model input, and the areas under them.

Bins of the features ``[F, T]`` are taken in a ranked order (``top``, ``flop`` of a score, or a
random order per seed); *deletion* replaces the first ``k`` of them by the baseline, *insertion*
starts from the baseline and puts them back, and the mask change against the unperturbed input
is measured (gain units). Ranking conventions: :mod:`.perturbation`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..models.base import MaskModel, predict_masks
from .ranking import ORDERS, count_for_fraction, derived_seeds, rank_order
from .road import DEFAULT_NOISE_STD, road_impute

DEFAULT_FRACTIONS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
REMOVALS = ("baseline", "road")
"""How removed bins are filled: the baseline's values, or ROAD's noisy linear imputation (:mod:`.road`)."""


def check_fractions(fractions: Sequence[float]) -> np.ndarray:
    f = np.asarray(fractions, dtype=np.float64)
    if f.ndim != 1 or f.size < 2:
        raise ValueError(f"fractions must be 1-D with at least two values, got {fractions!r}")
    if np.any(f < 0) or np.any(f > 1) or np.any(np.diff(f) <= 0):
        raise ValueError(f"fractions must increase strictly within [0, 1], got {fractions!r}")
    return f


def deletion_insertion_curves(
    model: MaskModel,
    features: np.ndarray,
    baseline: np.ndarray,
    scores: np.ndarray,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    orders: Sequence[str] = ORDERS,
    n_random: int = 5,
    seed: int = 0,
    region: np.ndarray | None = None,
    removal: str = "baseline",
    noise_std: float = DEFAULT_NOISE_STD,
    phase: np.ndarray | None = None,
) -> pd.DataFrame:
    """Deletion and insertion curves of ``features`` ``[F, T]`` against ``baseline`` ``[F, T]`` (log10 power).

    For each order (``"top"``/``"flop"`` of ``scores`` ``[F, T]``, and ``"random"`` with each of the
    ``n_random`` :func:`derived_seeds` of ``seed``) and fraction ``p`` (``k = round(p * F * T)``
    bins): *deletion* puts the baseline's values into the first ``k`` ranked bins of the input,
    *insertion* starts from the baseline and puts the input's values back into them. Each value
    is ``mean |mask(x') - mask(x)|`` over the segment (gain units) or, with a boolean ``region``
    ``[F, T]`` (an explained output region), ``|mean over the region of mask(x') - mask(x)|``; the model running on each
    ``x'`` as a sequence of its own (batched forward passes). Deletion at 0 and insertion at 1
    are 0 exactly (``x' = x``). The input is perturbed directly, no resynthesis: exact and fast. ``phase``
    ``[F, T]`` (radians) is the input's, held fixed, for models that read it.

    ``removal="road"`` fills the removed bins (deletion: the chosen ones; insertion: the others) by
    :func:`~.road.road_impute` from the bins kept, with noise ``noise_std`` (log10 power) seeded from
    ``seed``, the run and the fraction; where no bin is kept (deletion at 1, insertion at 0) there is
    nothing to impute from and the baseline is used.

    Returns a long table: ``order, run, seed, fraction, n_bins, deletion, insertion`` (``seed`` is
    ``<NA>`` and ``run`` 0 for the deterministic orders).
    """
    x = np.asarray(features, dtype=np.float32)
    b = np.asarray(baseline, dtype=np.float32)
    if x.ndim != 2 or b.shape != x.shape or np.shape(scores) != x.shape:
        raise ValueError(
            f"features, baseline and scores must share one [F, T] shape; got {x.shape}, {b.shape}, {np.shape(scores)}"
        )
    fractions = check_fractions(fractions)
    if removal not in REMOVALS:
        raise ValueError(f"removal: unknown {removal!r}; choose one of {', '.join(REMOVALS)}")
    runs: list[tuple[str, int, int | None]] = []
    for order in orders:
        if order == "random":
            runs += [("random", run, s) for run, s in enumerate(derived_seeds(seed, n_random))]
        elif order in ORDERS:
            runs.append((order, 0, None))
        else:
            raise ValueError(f"order: unknown {order!r}; choose one of {', '.join(ORDERS)}")
    x_flat, b_flat = x.ravel(), b.ravel()
    rows, variants = [], [x]
    for run_index, (order, run, run_seed) in enumerate(runs):
        ranked = rank_order(scores, order, run_seed)
        for fraction_index, fraction in enumerate(fractions):
            k = count_for_fraction(float(fraction), x.size)
            chosen = ranked[:k]
            deleted = x_flat.copy()
            deleted[chosen] = b_flat[chosen]
            inserted = b_flat.copy()
            inserted[chosen] = x_flat[chosen]
            if removal == "road":
                fill_seed = int(np.random.SeedSequence([seed, run_index, fraction_index]).generate_state(1)[0])
                removed = np.zeros(x.size, dtype=bool)
                removed[chosen] = True
                if 0 < k < x.size:
                    deleted = _road(x, removed, noise_std, fill_seed)
                    inserted = _road(x, ~removed, noise_std, fill_seed)
            rows.append({"order": order, "run": run, "seed": run_seed, "fraction": float(fraction), "n_bins": k})
            variants += [deleted.reshape(x.shape), inserted.reshape(x.shape)]
    # Identical inputs run once (the whole baseline ends every deletion curve and starts every
    # insertion curve); x' identical to x (0 bins deleted, all inserted) has the change 0 exactly.
    unique: dict[bytes, int] = {}
    slots = np.array([unique.setdefault(v.tobytes(), len(unique)) for v in variants])
    first_of = {slot: index for index, slot in reversed(list(enumerate(slots)))}
    masks = predict_masks(np.stack([variants[first_of[slot]] for slot in range(len(unique))]), model, phase=phase)
    differences = masks[slots[1:]] - masks[0]
    if region is None:
        changes = np.mean(np.abs(differences), axis=(1, 2))
    else:
        changes = np.abs(differences[:, np.asarray(region, dtype=bool)].mean(axis=1))
    changes[slots[1:] == 0] = 0.0
    for index, row in enumerate(rows):
        row["deletion"], row["insertion"] = float(changes[2 * index]), float(changes[2 * index + 1])
    table = pd.DataFrame(rows)
    table["seed"] = table["seed"].astype("Int64")
    return table


def _road(x: np.ndarray, removed_flat: np.ndarray, noise_std: float, seed: int) -> np.ndarray:
    """``x`` ``[F, T]`` with the flat bins ``removed_flat`` imputed by ROAD, flattened, float32."""
    return road_impute(x, removed_flat.reshape(x.shape), noise_std=noise_std, seed=seed).astype(np.float32).ravel()


def area_under_curve(fractions: Sequence[float], values: Sequence[float]) -> float:
    """Trapezoid area under ``values`` over ``fractions``, which must run from 0 to 1 (strictly increasing)."""
    f = check_fractions(fractions)
    v = np.asarray(values, dtype=np.float64)
    if v.shape != f.shape:
        raise ValueError(f"values must match fractions' shape {f.shape}, got {v.shape}")
    if f[0] != 0.0 or f[-1] != 1.0:
        raise ValueError(f"the area needs fractions from 0 to 1, got {f[0]:g} .. {f[-1]:g}")
    return float(np.sum(np.diff(f) * (v[1:] + v[:-1]) / 2.0))


def curve_areas(curves: pd.DataFrame, method: str | None = None) -> pd.DataFrame:
    """Areas under each run's deletion and insertion curve, mean and std (ddof 1) over runs per order.

    ``curves`` is :func:`deletion_insertion_curves`' table. Returns ``method, order,
    deletion_area, deletion_area_std, insertion_area, insertion_area_std, n_runs``, the std NaN for
    a single run (top, flop).
    """
    per_run = []
    for (order, run), group in curves.groupby(["order", "run"], sort=False):
        group = group.sort_values("fraction")
        per_run.append(
            {
                "order": order,
                "run": run,
                "deletion_area": area_under_curve(group["fraction"], group["deletion"]),
                "insertion_area": area_under_curve(group["fraction"], group["insertion"]),
            }
        )
    per_run = pd.DataFrame(per_run)
    rows = []
    for order, group in per_run.groupby("order", sort=False):
        rows.append(
            {
                "method": method,
                "order": order,
                "deletion_area": group["deletion_area"].mean(),
                "deletion_area_std": group["deletion_area"].std(ddof=1) if len(group) > 1 else np.nan,
                "insertion_area": group["insertion_area"].mean(),
                "insertion_area_std": group["insertion_area"].std(ddof=1) if len(group) > 1 else np.nan,
                "n_runs": len(group),
            }
        )
    return pd.DataFrame(rows)


def curve_summary(curves: pd.DataFrame) -> pd.DataFrame:
    """Mean and std (ddof 1; 0 for a single run) of each curve over runs, per order and fraction."""
    grouped = curves.groupby(["order", "fraction"], sort=False)[["deletion", "insertion"]]
    spread = grouped.std(ddof=1).fillna(0.0).add_suffix("_std")
    summary = pd.concat([grouped.mean(), spread], axis=1)
    return summary.reset_index()

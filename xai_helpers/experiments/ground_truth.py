"""Notebook 05's ground truths, scored per condition: exact Shapley values of tiles, the burst's causal
effect, and a lesioned model's blind band.

* **Tiles** (:func:`burst_tiles`): a grid of frequency bands (``band_edges_hz``, interior edges; 0 Hz
  and the top bin are added) by time spans (the context before the burst, then the burst's span cut
  into ``n_spans`` equal spans), with the burst's bins cut out as a tile of their own named ``burst``.
* **Shapley rows** (:func:`shapley_rows`): every map's tile sums against the exact values
  (:func:`~.agreement.shapley_agreement`), plus the controls of :mod:`.agreement`; ``flipped`` is the
  map of the method with the highest ``shapley_spearman`` in that condition, negated.
* **Burst rows** (:func:`burst_rows`): ``burst_effect`` = ``y(x) - y(x without the burst)``,
  ``burst_shapley`` = the burst tile's exact Shapley value, ``burst_effect_share`` = effect over the
  explained change ``y(x) - y(b)``, and ``burst_material`` = 1 when ``|share| >= material_share``.
* **Lesion rows** (:func:`lesion_rows`): the share of each map's ``|attribution|`` on the lesioned
  band, for maps computed on :func:`~xai_helpers.models.lesion.lesioned_model`.

Rows are long form: ``method, metric, value`` plus the condition's context columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..attribution.regions import Region, region_bins
from .agreement import CONTROLS, METRICS, control_map, shapley_agreement
from .shapley import ShapleyResult, Tiles, grid_tiles, with_event
from ..models.lesion import lesion_false_positive_share

BURST_TILE = "burst"
BURST = "burst"
"""Method name of the rows that describe the burst itself (effect, Shapley value, materiality)."""


def burst_tiles(
    freqs_hz: np.ndarray, times_s: np.ndarray, burst_region: Region, band_edges_hz: Sequence[float], n_spans: int
) -> Tiles:
    """Tiles over the segment ``freqs_hz`` ``[F]`` x ``times_s`` ``[T]``: bands cut at ``band_edges_hz`` (Hz,
    interior edges) by the context span and ``n_spans`` equal spans of the burst (``burst_region`` Hz, Hz,
    s, s), the burst's own bins appended as the tile ``burst``."""
    if n_spans < 1:
        raise ValueError(f"shapley_spans must be at least 1, got {n_spans}")
    edges = [0.0, *sorted(float(e) for e in band_edges_hz), float(freqs_hz[-1]) + 1.0]
    if edges[1] <= 0.0 or edges[-2] > freqs_hz[-1]:
        raise ValueError(f"shapley band edges {list(band_edges_hz)} Hz must lie within (0, {freqs_hz[-1]:g}] Hz")
    start, stop = burst_region[2], burst_region[3]
    if not times_s[0] < start < times_s[-1]:
        raise ValueError(
            f"the burst starts at {start:g} s, outside the explained segment {times_s[0]:g}-{times_s[-1]:g} s"
        )
    spans = [
        np.floor(times_s[0] * 100) / 100,
        *np.linspace(start, stop, n_spans + 1)[:-1],
        max(stop, times_s[-1] + 1e-6),
    ]
    grid = grid_tiles(freqs_hz, times_s, edges, spans)
    return with_event(grid, region_bins(burst_region, freqs_hz, times_s), BURST_TILE)


def with_controls(
    maps: Mapping[str, np.ndarray], exact: ShapleyResult, features: np.ndarray, seed: int, best: str | None = None
) -> tuple[dict[str, np.ndarray], str]:
    """``maps`` ``{method: [F, T]}`` plus the controls ``random``, ``energy`` and ``flipped`` (the negated
    map of ``best``, by default the method agreeing best with ``exact`` by ``shapley_spearman``); returns
    (maps, that method)."""

    def spearman(method: str) -> float:
        value = shapley_agreement(maps[method], exact.values, exact.tiles)["shapley_spearman"]
        return -np.inf if np.isnan(value) else value

    best = max(maps, key=spearman) if best is None else best
    controls = {name: control_map(name, features, seed, reference=maps[best]) for name in CONTROLS}
    return {**maps, **controls}, best


def shapley_rows(maps: Mapping[str, np.ndarray], exact: ShapleyResult, context: dict) -> list[dict]:
    """Rows of the metrics :data:`~.agreement.METRICS` for each map ``[F, T]`` against ``exact``."""
    rows = []
    for method, weights in maps.items():
        scores = shapley_agreement(weights, exact.values, exact.tiles)
        rows += [{"method": method, "metric": metric, "value": scores[metric], **context} for metric in METRICS]
    return rows


def burst_rows(effect: float, exact: ShapleyResult, material_share: float, context: dict) -> list[dict]:
    """The burst's rows (method ``burst``): effect, Shapley value, share of the explained change, materiality."""
    change = exact.output_input - exact.output_baseline
    share = effect / change if change != 0 else float("nan")
    burst_phi = float(exact.values[exact.tiles.names.index(BURST_TILE)])
    values = {
        "burst_effect": effect,
        "burst_shapley": burst_phi,
        "burst_effect_share": share,
        "burst_material": float(abs(share) >= material_share),
    }
    return [{"method": BURST, "metric": metric, "value": value, **context} for metric, value in values.items()]


def lesion_rows(maps: Mapping[str, np.ndarray], band: np.ndarray, context: dict) -> list[dict]:
    """``lesion_false_positive_share`` of each map ``[F, T]`` (made on the lesioned model) on ``band`` (boolean
    ``[F]``)."""
    return [
        {
            "method": method,
            "metric": "lesion_false_positive_share",
            "value": lesion_false_positive_share(weights, band),
            **context,
        }
        for method, weights in maps.items()
    ]

"""Ranking input bins by their attribution and selecting the top / flop / random ones.

Rankings (``ranking``):

* ``"signed"`` (the original project's): score = sum of the signed attributions over all output
  bins. ``top`` = the most positive bins (present, they raise the mask relative to the
  baseline), ``flop`` = the most negative ones (they lower it).
* ``"abs"``: score = sum of ``|attribution|`` over all output bins (magnitude of involvement,
  signs cannot cancel). ``top`` = the most involved bins, ``flop`` = the least involved ones.
  This is the usual order for deletion curves.

Bin counts are ``round(percent / 100 * F * T)`` rounded half up; ties in the score are broken by
the flat (frequency-major, ``f * T + t``) index, lower first, in both directions, so every
selection is deterministic. Random selections and orders come from
``numpy.random.default_rng(seed)``; :func:`derived_seeds` turns one seed into ``n`` of them.
"""

from __future__ import annotations

import numpy as np

from ..analysis.influence import aggregate, output_sums
from ..store.reader import AttributionFile, AttributionFileError

RANKINGS = ("signed", "abs")
ORDERS = ("top", "flop", "random")
READ_CHUNK_BYTES = 64 * 1024 * 1024
"""Attributions are summed over their outputs in chunks of at most this many bytes (float32)."""


def check_ranking(ranking: str) -> str:
    if ranking not in RANKINGS:
        raise ValueError(f"ranking: unknown {ranking!r}; choose one of {', '.join(RANKINGS)}")
    return ranking


def _aggregation(ranking: str) -> str:
    return "signed_sum" if check_ranking(ranking) == "signed" else "abs_sum"


def rank_bins(attributions: np.ndarray, ranking: str = "signed") -> np.ndarray:
    """Score ``[F, T]`` (float64, mask units) of every input bin: its attribution summed over all outputs.

    ``attributions`` is ``[f_out, t_out, f_in, t_in]`` (or any leading target axes before
    ``[f_in, t_in]``). ``"signed"`` sums the signed values, ``"abs"`` sums ``|attribution|``.
    Higher score = ranked first by ``"top"``.
    """
    a = np.asarray(attributions)
    if a.ndim < 3:
        raise ValueError(
            f"attributions must be [*targets, f_in, t_in] (e.g. [f_out, t_out, f_in, t_in]), got shape {a.shape}"
        )
    return aggregate(a, _aggregation(ranking), axis=tuple(range(a.ndim - 2)))


def global_sums(stored: AttributionFile) -> tuple[np.ndarray, np.ndarray]:
    """Signed and absolute sums ``[F, T]`` (float64) over all targets of a stored file's attributions, in one
    pass (a file's stored maps ``global_signed`` and ``global_abs`` when it has them)."""
    if stored.has_maps:
        maps = stored.maps
        return maps["global_signed"], maps["global_abs"]
    if "attributions" not in stored or stored.dims()[-2:] != ("f_in", "t_in"):
        found = stored.dims() if "attributions" in stored else "no 'attributions' dataset"
        raise AttributionFileError(
            f"{stored.path}: attributions over input bins (..., f_in, t_in) needed, found {found}"
        )
    sums = output_sums(stored, "attributions", READ_CHUNK_BYTES)
    return sums.signed, sums.absolute


def count_for_fraction(fraction: float, n_bins: int) -> int:
    """``round(fraction * n_bins)`` rounded half up (``0 <= fraction <= 1``)."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must lie in [0, 1], got {fraction}")
    return min(n_bins, int(np.floor(fraction * n_bins + 0.5)))


def derived_seeds(seed: int, n: int) -> list[int]:
    """``n`` reproducible seeds derived from ``seed`` (:class:`numpy.random.SeedSequence`)."""
    return [int(value) for value in np.random.SeedSequence(seed).generate_state(n)] if n > 0 else []


def rank_order(scores: np.ndarray, order: str, seed: int | None = None) -> np.ndarray:
    """Flat indices (``f * T + t``) of every bin of ``scores`` ``[F, T]``, in ``order``.

    ``"top"``: highest score first; ``"flop"``: lowest first; ties by lower flat index in both.
    ``"random"``: a permutation from ``default_rng(seed)``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(f"scores must be [F, T], got shape {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores contain NaN or infinite values")
    flat = scores.ravel()
    if order == "top":
        return np.lexsort((np.arange(flat.size), -flat))
    if order == "flop":
        return np.lexsort((np.arange(flat.size), flat))
    if order == "random":
        return np.random.default_rng(seed).permutation(flat.size)
    raise ValueError(f"order: unknown {order!r}; choose one of {', '.join(ORDERS)}")


def select_bins(scores: np.ndarray, percent: float, which: str = "top", seed: int | None = None) -> np.ndarray:
    """Boolean selection ``[F, T]`` of exactly ``round(percent / 100 * F * T)`` bins.

    ``which`` is ``"top"`` (highest scores), ``"flop"`` (lowest) or ``"random"`` (from ``seed``),
    as in :func:`rank_order`.
    """
    if not 0.0 <= percent <= 100.0:
        raise ValueError(f"percent must lie in [0, 100], got {percent}")
    scores = np.asarray(scores)
    order = rank_order(scores, which, seed)
    selection = np.zeros(scores.size, dtype=bool)
    selection[order[: count_for_fraction(percent / 100.0, scores.size)]] = True
    return selection.reshape(scores.shape)

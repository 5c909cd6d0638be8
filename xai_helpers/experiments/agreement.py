"""How well an attribution map agrees with exact Shapley values of tiles, and the controls scored beside the methods.

A map ``[F, T]`` over the input bins (or one value per tile ``[k]``, a group map) is reduced to its
tile sums ``m`` ``[k]`` and compared with the exact values ``phi`` ``[k]``
(:func:`xai_helpers.experiments.shapley.exact_shapley`):

===========================  =======================================================================
metric                       definition
===========================  =======================================================================
``shapley_spearman``         Spearman rank correlation of ``m`` and ``phi`` (signed values)
``shapley_pearson``          Pearson correlation of ``m`` and ``phi``
``shapley_sign_agreement``   ``sum |phi_i| [sign m_i = sign phi_i] / sum |phi_i|``: the share of the
                             Shapley mass whose tiles get the right sign (1 best, 0 every sign wrong)
``shapley_l1``               ``sum |c m_i - phi_i| / sum |phi_i|`` with ``c = sum |phi| / sum |m|`` > 0: the
                             map rescaled to the Shapley values' L1 norm, sign kept (maps of
                             non-complete methods have arbitrary units); 0 best, 2 = ``-phi``;
                             an all-zero map scores 1
``shapley_top3``             overlap ``|A & B| / 3`` of the three tiles ranked highest by ``phi_i * d``
                             (A) and by ``m_i * d`` (B), ``d = sign(sum phi)`` (+1 if 0): the tiles that move
                             the output most in the direction it moved; ties broken by tile index
===========================  =======================================================================

Correlations of a constant ``m`` are undefined (``nan``). Controls (:func:`control_map`), computed
by the same code as the methods: ``random`` (i.i.d. standard normal map, seeded: signed, so every
signed metric sees chance), ``energy`` (each bin's log-power rank, 1..F*T: "loud bins matter") and
``flipped`` (a given map with its sign reversed: must come out worst on the signed metrics).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import pearsonr, spearmanr

from .shapley import Tiles

METRICS = ("shapley_spearman", "shapley_pearson", "shapley_sign_agreement", "shapley_l1", "shapley_top3")
CONTROLS = ("random", "energy", "flipped")
TOP = 3


def tile_sums(attribution: np.ndarray, tiles: Tiles) -> np.ndarray:
    """Sum ``[k]`` of a map ``[F, T]`` over each tile; a ``[k]`` array is taken as tile values already."""
    attribution = np.asarray(attribution, dtype=np.float64)
    if attribution.shape == (tiles.count,):
        return attribution
    if attribution.shape != tiles.masks.shape[1:]:
        raise ValueError(
            f"attribution must be a map {tiles.masks.shape[1:]} or tile values ({tiles.count},), got "
            f"{attribution.shape}"
        )
    return np.einsum("kft,ft->k", tiles.masks.astype(np.float64), attribution)


def shapley_agreement(attribution: np.ndarray, phi: np.ndarray, tiles: Tiles) -> dict[str, float]:
    """The metrics :data:`METRICS` (module docstring) of ``attribution`` (``[F, T]`` or ``[k]``) against ``phi``
    ``[k]``."""
    phi = np.asarray(phi, dtype=np.float64)
    if phi.shape != (tiles.count,):
        raise ValueError(f"phi must hold one value per tile ({tiles.count},), got {phi.shape}")
    if tiles.count < TOP:
        raise ValueError(f"tiles: the top-{TOP} agreement needs at least {TOP} tiles, got {tiles.count}")
    sums = tile_sums(attribution, tiles)
    mass = np.abs(phi).sum()
    if mass == 0:
        raise ValueError("phi is all zero: the explained output does not depend on any tile")
    constant = np.ptp(sums) == 0
    direction = 1.0 if phi.sum() >= 0 else -1.0
    scale = mass / np.abs(sums).sum() if np.abs(sums).any() else 0.0
    top_phi = set(np.argsort(-phi * direction, kind="stable")[:TOP])
    top_map = set(np.argsort(-sums * direction, kind="stable")[:TOP])
    return {
        "shapley_spearman": float("nan") if constant else float(spearmanr(sums, phi).statistic),
        "shapley_pearson": float("nan") if constant else float(pearsonr(sums, phi).statistic),
        "shapley_sign_agreement": float(np.abs(phi)[np.sign(sums) == np.sign(phi)].sum() / mass),
        "shapley_l1": float(np.abs(scale * sums - phi).sum() / mass),
        "shapley_top3": len(top_phi & top_map) / TOP,
    }


def energy_map(features: np.ndarray) -> np.ndarray:
    """Each bin's log-power rank ``[F, T]`` (1 = quietest .. F*T = loudest; ties by flat index)."""
    features = np.asarray(features)
    return (
        np.argsort(np.argsort(features, axis=None, kind="stable"), kind="stable").reshape(features.shape) + 1
    ).astype(np.float64)


def control_map(name: str, features: np.ndarray, seed: int, reference: np.ndarray | None = None) -> np.ndarray:
    """Map ``[F, T]`` of the control ``name`` for log-power ``features`` ``[F, T]``: ``random`` (standard normal,
    ``seed``), ``energy`` (:func:`energy_map`) or ``flipped`` (``-reference``, a method's map ``[F, T]``)."""
    features = np.asarray(features)
    if name == "random":
        return np.random.default_rng(seed).standard_normal(features.shape)
    if name == "energy":
        return energy_map(features)
    if name == "flipped":
        if reference is None or np.shape(reference) != features.shape:
            raise ValueError(
                f"control 'flipped' needs the reference map shaped {features.shape}, got "
                f"{None if reference is None else np.shape(reference)}"
            )
        return -np.asarray(reference, dtype=np.float64)
    raise ValueError(f"control: unknown {name!r}; choose one of {', '.join(CONTROLS)}")

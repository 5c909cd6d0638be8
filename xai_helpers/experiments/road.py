"""ROAD-style removal of input bins: noisy linear imputation (Rong et al., 2022, "A Consistent and
Efficient Evaluation Strategy for Attribution Methods", ICML).

Replacing removed bins by a baseline leaves their shape visible to the model (a hole at -12 in the
log-power plane is itself informative). ROAD fills them from their neighbours instead: each removed
bin takes the weighted mean of its 8 neighbours in the ``[F, T]`` plane (weight 1/6 for the four
direct neighbours, 1/12 for the four diagonal ones, normalised over the neighbours that exist at
the plane's edges), solved jointly for all removed bins as one sparse linear system, plus
Gaussian noise of standard deviation ``noise_std`` (log10-power units, seeded). Used for deletion
curves beside baseline replacement: delete the top-ranked bins by imputing them.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import spsolve

NEIGHBOURS = (
    ((-1, 0), 1 / 6),
    ((1, 0), 1 / 6),
    ((0, -1), 1 / 6),
    ((0, 1), 1 / 6),
    ((-1, -1), 1 / 12),
    ((-1, 1), 1 / 12),
    ((1, -1), 1 / 12),
    ((1, 1), 1 / 12),
)
"""(offset in (bins, frames), weight) of the 8-neighbourhood, as in ROAD's NoisyLinearImputer."""
DEFAULT_NOISE_STD = 0.01
"""ROAD's default noise magnitude, here in log10-power units (0.1 dB)."""


def road_impute(
    features: np.ndarray, removed: np.ndarray, *, noise_std: float = DEFAULT_NOISE_STD, seed: int = 0
) -> np.ndarray:
    """``features`` ``[F, T]`` with the bins of ``removed`` (boolean ``[F, T]``) imputed from their neighbours.

    Each removed value equals the weighted mean of its existing neighbours' values (kept bins at
    their own value, removed ones at their imputed value), plus ``N(0, noise_std^2)`` noise from
    ``numpy.random.default_rng(seed)``. Kept bins are returned unchanged. ``ValueError`` when the
    shapes differ, ``noise_std < 0``, or every bin is removed (nothing to impute from).
    """
    features = np.asarray(features, dtype=np.float64)
    removed = np.asarray(removed)
    if features.ndim != 2 or removed.shape != features.shape or removed.dtype != bool:
        raise ValueError(
            f"removed must be a boolean mask shaped like features {features.shape}, got {removed.dtype} {removed.shape}"
        )
    if noise_std < 0:
        raise ValueError(f"noise_std must be >= 0 (log10-power units), got {noise_std}")
    if removed.all():
        raise ValueError("removed covers every bin: nothing is left to impute from")
    out = features.copy()
    if not removed.any():
        return out
    n_bins, n_frames = features.shape
    rows_f, rows_t = np.nonzero(removed)
    unknown = np.full(features.shape, -1)
    unknown[rows_f, rows_t] = np.arange(len(rows_f))
    diagonal = np.zeros(len(rows_f))
    rhs = np.zeros(len(rows_f))
    entries_i, entries_j, entries_w = [], [], []
    for (d_f, d_t), weight in NEIGHBOURS:
        f, t = rows_f + d_f, rows_t + d_t
        inside = (f >= 0) & (f < n_bins) & (t >= 0) & (t < n_frames)
        diagonal[inside] += weight
        index = np.flatnonzero(inside)
        neighbour = unknown[f[index], t[index]]
        known = neighbour < 0
        np.add.at(rhs, index[known], weight * features[f[index][known], t[index][known]])
        entries_i.append(index[~known])
        entries_j.append(neighbour[~known])
        entries_w.append(np.full((~known).sum(), -weight))
    size = len(rows_f)
    matrix = coo_matrix(
        (
            np.concatenate([diagonal, *entries_w]),
            (np.concatenate([np.arange(size), *entries_i]), np.concatenate([np.arange(size), *entries_j])),
        ),
        shape=(size, size),
    ).tocsc()
    values = np.atleast_1d(spsolve(matrix, rhs))
    out[rows_f, rows_t] = values + np.random.default_rng(seed).normal(scale=noise_std, size=size)
    return out

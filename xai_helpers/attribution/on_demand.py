"""Exact single output bins' maps on demand, from a stored file's input and baselines.

A file stored with ``store="maps"`` has no 4-D tensor; :func:`bin_map` recomputes any output bin's
map ``[f_in, t_in]`` with the engine (:func:`~xai_helpers.attribution.engine.weighted_output_attributions`
with a one-hot weight: one backward sweep up to the bin's frame) from the stored ``input_features``
and ``baselines``, with the file's method, target and DeepLIFT rule, on the model of its sample
rate. For a full file it reads the stored slice, which the recomputation equals (the engine is
deterministic; tests check it).
"""

from __future__ import annotations

import numpy as np

from ..models.cache import cached_model
from ..store.reader import AttributionFile, AttributionFileError
from .engine import ENGINE_METHODS, weighted_output_attributions


def recompute_bin_map(stored: AttributionFile, f_out: int, t_out: int, device: str = "cpu") -> np.ndarray:
    """The attribution map ``[f_in, t_in]`` (float32) of output bin ``(f_out, t_out)`` of ``stored``,
    recomputed by the engine on ``device`` (input frames after ``t_out`` are zero).

    Raises :class:`~xai_helpers.store.reader.AttributionFileError` naming the file if its method has no
    engine (only ``deeplift``, ``deepliftshap``, ``saliency`` and ``inputxgradient`` do), ``IndexError``
    if the bin lies outside it."""
    if stored.method not in ENGINE_METHODS:
        raise AttributionFileError(
            f"{stored.path}: method {stored.method!r} has no engine to recompute single bins (engine methods: {ENGINE_METHODS}); "
            "store it with store='full'"
        )
    features = stored.input_features
    n_bins, n_frames = features.shape
    if not (0 <= f_out < n_bins and 0 <= t_out < n_frames):
        raise IndexError(f"{stored.path}: output bin ({f_out}, {t_out}) outside [0, {n_bins}) x [0, {n_frames})")
    # The engine only needs the frames up to t_out (causality); the rest of the map is zero.
    frames = t_out + 1
    weights = np.zeros((1, n_bins, frames), dtype=np.float32)
    weights[0, f_out, t_out] = 1.0
    baselines = stored.baselines[:, :, :frames] if stored.method in ("deeplift", "deepliftshap") else None
    model = cached_model(stored.sample_rate, device)
    values, _ = weighted_output_attributions(
        model, features[:, :frames], baselines, stored.method, weights, stored.target,
        stored.deeplift_rule or "captum",  # files written before the rule was stored used Captum's
    )
    out = np.zeros((n_bins, n_frames), dtype=np.float32)
    out[:, :frames] = values[0]
    return out


def bin_map(stored: AttributionFile, f_out: int, t_out: int, device: str = "cpu") -> np.ndarray:
    """Output bin ``(f_out, t_out)``'s map ``[f_in, t_in]`` of an all-bins file: the stored slice of a
    full file, else :func:`recompute_bin_map`."""
    if stored.has_full:
        return stored.read_attributions((f_out, t_out))
    return recompute_bin_map(stored, f_out, t_out, device)

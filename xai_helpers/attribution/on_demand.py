"""Exact single output bins' maps on demand, from a stored file's input and baselines.

A file stored with ``store="maps"`` has no 4-D tensor; its output bins' maps ``[f_in, t_in]`` are
recomputed with the engine from the stored ``input_features`` and ``baselines``, with the file's
method, target and DeepLIFT rule, on the model of its sample rate. :class:`BinMaps` keeps one
file's forward pass and multipliers (:class:`~xai_helpers.attribution.engine.single.BinSweeper`),
so that after the first request each bin costs one backward sweep of row vectors up to its frame
(what the explorer uses); :func:`recompute_bin_map` and :func:`bin_map` serve one-off requests.
For a full file the stored slice is read, which the recomputation equals (tests check it).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..models.cache import cached_model
from ..store.reader import AttributionFile, AttributionFileError
from .engine import ENGINE_METHODS
from .engine.single import BinSweeper, check_output_bin
from .fast_engine import uses_hand_engine, weighted_output_attributions


def _check_engine_method(stored: AttributionFile) -> None:
    if stored.method not in ENGINE_METHODS:
        raise AttributionFileError(
            f"{stored.path}: method {stored.method!r} has no engine to recompute single bins "
            f"(engine methods: {ENGINE_METHODS}); "
            "store it with store='full'"
        )


class WeightedBins:
    """Single bins' maps of any model from the generic engine: one weighted backward pass per request, every
    requested bin a one-hot output weighting (:func:`~.fast_engine.weighted_output_attributions`); the same
    ``bin_map`` / ``bin_maps`` as :class:`~.engine.single.BinSweeper`, which the hand-derived engine keeps for
    NSNet2."""

    def __init__(
        self,
        model,
        features: np.ndarray,
        baselines: np.ndarray | None,
        method: str,
        target: str,
        rule: str,
        phase: np.ndarray | None,
        product_rule: str,
    ) -> None:
        self.model, self.features, self.baselines, self.phase = model, features, baselines, phase
        self.method, self.target, self.rule, self.product_rule = method, target, rule, product_rule

    def bin_maps(self, bins: Sequence[tuple[int, int]]) -> np.ndarray:
        """Maps ``[M, f_in, t_in]`` (float32) of the output bins ``bins``; input frames after each bin are zero."""
        weights = np.zeros((len(bins), *self.features.shape), dtype=np.float32)
        for index, (f_out, t_out) in enumerate(bins):
            weights[index, f_out, t_out] = 1.0
        values, _ = weighted_output_attributions(
            self.model,
            self.features,
            self.baselines,
            self.method,
            weights,
            self.target,
            self.rule,
            phase=self.phase,
            product_rule=self.product_rule,
        )
        return np.asarray(values, dtype=np.float32)

    def bin_map(self, f_out: int, t_out: int) -> np.ndarray:
        return self.bin_maps([(f_out, t_out)])[0]


def _bin_sweeper(stored: AttributionFile, device: str = "cpu", frames: int | None = None) -> BinSweeper | WeightedBins:
    """What recomputes ``stored``'s single bins from its input, baselines, phase, method, target and DeepLIFT rules
    on ``device`` over the file's first ``frames`` frames (``None``: all of them): NSNet2's :class:`BinSweeper` (its
    forward pass and multipliers computed here once) where the hand-derived engine applies, else
    :class:`WeightedBins`. Callers have checked the method (:func:`_check_engine_method`)."""
    cut = slice(None, frames)
    baselines = stored.baselines[:, :, cut] if stored.method in ("deeplift", "deepliftshap") else None
    model = cached_model(stored.sample_rate, device, stored.model)
    rule = stored.deeplift_rule or "captum"  # files written before the rule was stored used Captum's
    product_rule = str(stored.attrs.get("product_rule", "shapley"))
    if uses_hand_engine(model, stored.target, product_rule):
        return BinSweeper(model, stored.input_features[:, cut], baselines, stored.method, stored.target, rule)
    phase = None if stored.input_phase is None else stored.input_phase[:, cut]
    return WeightedBins(
        model, stored.input_features[:, cut], baselines, stored.method, stored.target, rule, phase, product_rule
    )


def recompute_bin_map(stored: AttributionFile, f_out: int, t_out: int, device: str = "cpu") -> np.ndarray:
    """The attribution map ``[f_in, t_in]`` (float32) of output bin ``(f_out, t_out)`` of ``stored``,
    recomputed by the engine on ``device`` (input frames after ``t_out`` are zero).

    Raises :class:`~xai_helpers.store.reader.AttributionFileError` naming the file if its method has no
    engine (only ``deeplift``, ``deepliftshap``, ``saliency`` and ``inputxgradient`` do), ``IndexError``
    naming the file if the bin lies outside it. Several bins of one file: :class:`BinMaps` (the forward pass
    is then done once)."""
    _check_engine_method(stored)
    n_bins, n_frames = stored.maps_shape[:2]
    check_output_bin(f_out, t_out, n_bins, n_frames, stored.path)
    # The models are causal: the frames up to t_out give the bin's map; the later input frames' columns are zero.
    out = np.zeros((n_bins, n_frames), dtype=np.float32)
    out[:, : t_out + 1] = _bin_sweeper(stored, device, t_out + 1).bin_map(f_out, t_out)
    return out


def bin_map(stored: AttributionFile, f_out: int, t_out: int, device: str = "cpu") -> np.ndarray:
    """Output bin ``(f_out, t_out)``'s map ``[f_in, t_in]`` of an all-bins file: the stored slice of a
    full file, else :func:`recompute_bin_map`."""
    if stored.has_full:
        return stored.read_attributions((f_out, t_out))
    return recompute_bin_map(stored, f_out, t_out, device)


class BinMaps:
    """One all-bins attribution file's output-bin maps on request, fast after the first.

    A full file's maps are read from its tensor; a maps-only file's are recomputed by the engine, its
    forward pass and multipliers computed at the first request and kept (a few MB for a 2 s file), so
    each later bin costs one backward sweep up to its frame. ``path`` is the ``.h5``; ``device`` the
    engine's. Attributes read once: ``freqs_hz`` ``[F]`` (Hz), ``times_s`` ``[T]`` (s from the segment
    start), ``input_features`` and ``mask`` ``[F, T]``, ``method``, ``target``, ``has_full``.
    """

    def __init__(self, path: str | os.PathLike, device: str = "cpu") -> None:
        self.path, self.device = Path(path), device
        with AttributionFile(self.path) as stored:
            self.method, self.target, self.has_full = stored.method, stored.target, stored.has_full
            self.freqs_hz, self.times_s = stored.freqs_hz, stored.times_s
            self.input_features, self.mask = stored.input_features, stored.mask
            if not self.has_full:
                _check_engine_method(stored)
        self._sweeper: BinSweeper | WeightedBins | None = None

    def bin_maps(self, bins: Sequence[tuple[int, int]]) -> np.ndarray:
        """Maps ``[M, f_in, t_in]`` (float32) of the output bins ``bins`` (``M`` pairs ``(f_out, t_out)``);
        recomputed ones in one backward sweep. ``IndexError`` naming the file for a bin outside it."""
        bins = [(int(f), int(t)) for f, t in bins]
        for f_out, t_out in bins:
            check_output_bin(f_out, t_out, *self.input_features.shape, self.path)
        if self.has_full:
            with AttributionFile(self.path) as stored:
                return np.stack([stored.read_attributions(pair) for pair in bins]).astype(np.float32, copy=False)
        if self._sweeper is None:
            with AttributionFile(self.path) as stored:
                self._sweeper = _bin_sweeper(stored, self.device)  # the method was checked in __init__
        return self._sweeper.bin_maps(bins)

    def bin_map(self, f_out: int, t_out: int) -> np.ndarray:
        """Output bin ``(f_out, t_out)``'s map ``[f_in, t_in]`` (float32)."""
        return self.bin_maps([(f_out, t_out)])[0]

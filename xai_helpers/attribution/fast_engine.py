"""The fast all-bins engine for any model: the hand-derived NSNet2 engine where it applies, the generic one elsewhere.

Both compute ``deeplift``, ``deepliftshap``, ``saliency`` and ``inputxgradient`` with the same entry points and
results (the generic engine equals the hand-derived one on NSNet2, both DeepLIFT rules; tests). The hand-derived
engine (:mod:`.engine`, closed-form GRU Jacobians) is NSNet2's fast path for its ``mask`` and ``logit`` with the
Shapley product rule; everything else (DTLN, GTCRN, a user's model, NSNet2's ``output`` target, the other product
rules) runs on the generic rule engine (:mod:`.deeplift`). :func:`uses_hand_engine` says which.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn

from ..models.base import MaskModel
from ..models.nsnet2 import NSNet2
from . import deeplift, engine
from .engine import AttributionChunk
from .maps import InfluenceMaps

HAND_TARGETS = ("mask", "logit")
"""The targets of NSNet2 that the hand-derived engine computes."""


def uses_hand_engine(model: MaskModel | nn.Module, target: str, product_rule: str = "shapley") -> bool:
    """True when the hand-derived NSNet2 engine computes this (NSNet2, ``mask`` or ``logit``, Shapley products)."""
    return isinstance(model, NSNet2) and target in HAND_TARGETS and product_rule == "shapley"


def all_bins_attributions(
    model: MaskModel | nn.Module,
    features: torch.Tensor | np.ndarray,
    baselines: torch.Tensor | np.ndarray | None,
    method: str,
    target: str = "mask",
    frames_per_chunk: int = 8,
    max_lookback_frames: int | None = None,
    rule: str = "complete",
    to_numpy: bool = True,
    phase: np.ndarray | None = None,
    product_rule: str = "shapley",
) -> Iterator[AttributionChunk]:
    """Every output bin's attributions ``[F_out, n, F_in, T]`` chunk by chunk (:func:`.engine.all_bins_attributions`,
    :func:`.deeplift.all_bins_attributions`); ``phase`` ``[F, T]`` for models that read it."""
    if uses_hand_engine(model, target, product_rule):
        return engine.all_bins_attributions(
            model, features, baselines, method, target, frames_per_chunk, max_lookback_frames, rule, to_numpy
        )
    return deeplift.all_bins_attributions(
        model,
        features,
        baselines,
        method,
        target,
        frames_per_chunk,
        max_lookback_frames,
        rule,
        to_numpy,
        phase,
        product_rule,
    )


def all_bins_maps(
    model: MaskModel | nn.Module,
    features: torch.Tensor | np.ndarray,
    baselines: torch.Tensor | np.ndarray | None,
    method: str,
    target: str = "mask",
    frames_per_chunk: int = 8,
    max_lookback_frames: int | None = None,
    rule: str = "complete",
    on_chunk: Callable[[slice], None] | None = None,
    phase: np.ndarray | None = None,
    product_rule: str = "shapley",
) -> tuple[InfluenceMaps, np.ndarray | None]:
    """The influence maps and deltas ``[F_out, T_out]`` of every output bin, reduced on the model's device."""
    if uses_hand_engine(model, target, product_rule):
        return engine.all_bins_maps(
            model, features, baselines, method, target, frames_per_chunk, max_lookback_frames, rule, on_chunk
        )
    return deeplift.all_bins_maps(
        model,
        features,
        baselines,
        method,
        target,
        frames_per_chunk,
        max_lookback_frames,
        rule,
        on_chunk,
        phase,
        product_rule,
    )


def weighted_output_attributions(
    model: MaskModel | nn.Module,
    features: torch.Tensor | np.ndarray,
    baselines: torch.Tensor | np.ndarray | None,
    method: str,
    weights: torch.Tensor | np.ndarray,
    target: str = "mask",
    rule: str = "complete",
    frames_per_chunk: int = 8,
    phase: np.ndarray | None = None,
    product_rule: str = "shapley",
) -> tuple[np.ndarray, np.ndarray | None]:
    """Attributions ``[M, F_in, T_in]`` (and deltas ``[M]``) of ``M`` weighted sums of outputs (``weights``
    ``[M, F, T]``: one-hot for a bin, 0/1 for a region): one weighted backward pass each."""
    if uses_hand_engine(model, target, product_rule):
        return engine.weighted_output_attributions(
            model, features, baselines, method, weights, target, rule, frames_per_chunk
        )
    return deeplift.weighted_output_attributions(
        model, features, baselines, method, weights, target, rule, frames_per_chunk, phase, product_rule
    )

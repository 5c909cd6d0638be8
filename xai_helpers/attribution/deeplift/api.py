"""The generic engine's entry points, with the hand engine's signatures (:mod:`..engine.api`) plus ``phase`` and
``product_rule``: every output bin chunk by chunk (:func:`all_bins_attributions`), influence maps
(:func:`all_bins_maps`) and weighted sums of outputs (:func:`weighted_output_attributions`), for any model.

How: the model is prepared once per call (:func:`.recurrent.prepare`: a copy, fused RNNs unrolled) and explained
through :class:`~xai_helpers.models.base.MaskFromLogPower`. For each chunk of output frames ``[t0, t1)`` one paired
forward pass (:class:`.trace.PairedFunction`) runs on the input frames ``[:t1 + lookahead]`` only (the model's
``lookahead_frames``; without it, on the whole clip, once), the input repeated once per baseline (row ``k`` is
paired with baseline ``k``), under ``torch.func.vjp``; its vector-Jacobian product, vectorised by
``torch.func.vmap`` over the one-hot cotangents of the chunk's ``F_out * n`` output bins, gives every bin's
multipliers at once; attribution = multiplier * (input - baseline), averaged over baselines. Saliency and
InputXGradient take plain gradients of the same prepared model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ...models.base import MaskFromLogPower, MaskModel
from ..engine.api import ENGINE_METHODS, AttributionChunk
from ..maps import InfluenceMaps, MapAccumulator
from .recurrent import prepare
from .rules import PRODUCT_RULES
from .trace import DEEPLIFT_RULES, GRADIENT, PairedFunction

DEEPLIFT_METHODS = ("deeplift", "deepliftshap")

MEMORY_BUDGET = 2 * 2**30
"""Default ``memory_budget`` (bytes) of each batched backward pass. A pass over ``M`` cotangents needs about ``M``
times a quarter of the bytes of the forward pass's input-dependent intermediates (measured 0.07 to 0.25 on the
three models), so the cotangents of a chunk are split into passes of at most ``budget / that`` each."""


@dataclass
class _Forward:
    """One forward pass on the input frames ``[:stop]``: the outputs ``[K, F_out, stop]``, their vector-Jacobian
    product ``vjp(cotangents [K, F_out, stop]) -> (multipliers [K, F_in, stop],)`` (``torch.func.vjp``; the rule's
    multipliers) and, for DeepLIFT, the baselines' outputs."""

    stop: int
    out: torch.Tensor
    vjp: Callable
    out_ref: torch.Tensor | None
    nbytes: int
    """Bytes of the input-dependent intermediates of the input's run (all K rows)."""


class _Setup:
    """Checked arguments and the prepared model of one call."""

    def __init__(
        self,
        model: nn.Module,
        features,
        baselines,
        method: str,
        target: str,
        rule: str,
        product_rule: str,
        frames_per_chunk: int,
        max_lookback_frames: int | None,
        phase,
        memory_budget: int | None,
    ) -> None:
        if method not in ENGINE_METHODS:
            raise ValueError(f"method must be one of {ENGINE_METHODS}, not {method!r}")
        if rule not in DEEPLIFT_RULES:
            raise ValueError(f"rule must be one of {DEEPLIFT_RULES} (DeepLIFT's rules), not {rule!r}")
        if product_rule not in PRODUCT_RULES:
            raise ValueError(f"product_rule must be one of {PRODUCT_RULES}, not {product_rule!r}")
        if int(frames_per_chunk) < 1:
            raise ValueError(f"frames_per_chunk must be >= 1, not {frames_per_chunk}")
        if max_lookback_frames is not None and int(max_lookback_frames) < 0:
            raise ValueError(f"max_lookback_frames must be >= 0 or None, not {max_lookback_frames}")
        parameter = next((p for p in model.parameters() if p.is_floating_point()), None)
        if parameter is None:  # a model without parameters runs in the features' dtype and on their device
            parameter = torch.as_tensor(features)
            parameter = parameter if parameter.is_floating_point() else parameter.float()
        self.device, self.dtype = parameter.device, parameter.dtype
        self.x = _as_tensor(features, self.device, self.dtype)
        n_bins = getattr(model, "n_bins", None)
        if self.x.ndim != 2 or self.x.shape[1] < 1 or (n_bins is not None and self.x.shape[0] != n_bins):
            raise ValueError(f"features must be log-power [F={n_bins or 'F'}, T>=1], got shape {tuple(self.x.shape)}")
        self.F, self.T = self.x.shape
        self.method, self.deeplift = method, method in DEEPLIFT_METHODS
        self.b = _baselines(baselines, self.x, method) if self.deeplift else None
        self.K = 1 if self.b is None else self.b.shape[0]
        self.chunk = int(frames_per_chunk)
        self.budget = MEMORY_BUDGET if memory_budget is None else int(memory_budget)
        self.lookback = None if max_lookback_frames is None else int(max_lookback_frames)
        lookahead = getattr(model, "lookahead_frames", None)
        self.lookahead = None if lookahead is None else int(lookahead)
        prepared = prepare(model)
        function = MaskFromLogPower(prepared, target, phase)
        self.paired = PairedFunction(function, prepared, rule if self.deeplift else GRADIENT, product_rule)
        self._last: _Forward | None = None

    def stop(self, last: int) -> int:
        """Input frames that output frames ``[:last]`` read: ``last + lookahead``, all without a lookahead."""
        return self.T if self.lookahead is None else min(self.T, last + self.lookahead)

    def forward(self, stop: int) -> _Forward:
        """The forward pass on input frames ``[:stop]`` (the last one is kept: without a lookahead every chunk reuses
        the whole clip's)."""
        if self._last is not None and self._last.stop == stop:
            return self._last
        self._last = None
        leaf = self.x[None, :, :stop].expand(self.K, -1, -1).clone()
        refs = self.b[:, :, :stop] if self.deeplift else leaf

        def run(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            out, out_ref = self.paired(x, refs)
            if out.ndim != 3 or out.shape[0] != self.K or out.shape[2] != stop:
                raise ValueError(
                    f"the explained output must be [B, F_out, T] with T = the input's {stop} frames, "
                    f"got {tuple(out.shape)}"
                )
            return out, out_ref

        out, vjp, out_ref = torch.func.vjp(run, leaf, has_aux=True)
        self._last = _Forward(stop, out.detach(), vjp, out_ref if self.deeplift else None, self.paired.nbytes)
        return self._last

    def attributions(
        self, forward: _Forward, rows: int, cotangents: Callable[[slice], torch.Tensor], most: int
    ) -> torch.Tensor:
        """Attributions ``[rows, F_in, stop]`` of ``rows`` weighted sums of the outputs (``cotangents(rows slice)``
        ``[m, F_out, stop]``): batched vector-Jacobian products of at most ``most`` rows (fewer if the memory budget
        says so), each times the input's difference from the baselines (or as the method says)."""
        x = self.x[:, : forward.stop]
        difference = x[None] - self.b[:, :, : forward.stop] if self.deeplift else None
        out = torch.empty((rows,) + x.shape, dtype=self.dtype, device=self.device)
        per_pass = max(1, min(most, int(self.budget // max(1, forward.nbytes // 4))))
        for start in range(0, rows, per_pass):
            part = slice(start, min(start + per_pass, rows))
            grads = torch.func.vmap(forward.vjp)(cotangents(part)[:, None].expand(-1, self.K, -1, -1))[0]
            if self.deeplift:  # grads [m, K, F_in, stop]
                out[part] = torch.einsum("mkft,kft->mft", grads, difference) / self.K
            else:
                out[part] = grads[:, 0].abs() if self.method == "saliency" else grads[:, 0] * x
        return out

    def change(self, forward: _Forward, frames: slice) -> torch.Tensor | None:
        """``out(input) - mean_k out(baseline_k)`` ``[F_out, n]`` of the output frames ``frames`` (DeepLIFT)."""
        if forward.out_ref is None:
            return None
        return forward.out[0, :, frames] - forward.out_ref[:, :, frames].mean(dim=0)


def _as_tensor(value, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(np.ascontiguousarray(value))
    return torch.as_tensor(value).detach().to(device=device, dtype=dtype)


def _baselines(baselines, x: torch.Tensor, method: str) -> torch.Tensor:
    """Baselines ``[K, F, T]`` (Captum's all-zero baseline for ``deeplift`` without any)."""
    if baselines is None:
        if method == "deepliftshap":
            raise ValueError("deepliftshap needs baselines [K, F, T]")
        return torch.zeros_like(x)[None]
    b = _as_tensor(baselines, x.device, x.dtype)
    b = b[None] if b.ndim == 2 else b
    if b.ndim != 3 or b.shape[1:] != x.shape or b.shape[0] < 1:
        raise ValueError(f"baselines must be [K, {x.shape[0]}, {x.shape[1]}], got shape {tuple(b.shape)}")
    if method == "deeplift" and b.shape[0] != 1:
        raise ValueError(f"deeplift takes one baseline (K=1), got K={b.shape[0]}; use deepliftshap")
    return b


def _chunks(setup: _Setup) -> Iterator[tuple[slice, torch.Tensor, torch.Tensor | None]]:
    """``(output frames, attributions [F_out, n, F_in, stop], change [F_out, n] or None)`` chunk by chunk, the
    lookback mask applied; input frames from ``stop`` on are zero."""
    for start in range(0, setup.T, setup.chunk):
        frames = slice(start, min(start + setup.chunk, setup.T))
        n = frames.stop - frames.start
        forward = setup.forward(setup.stop(frames.stop))
        f_out = forward.out.shape[1]

        def one_hot(rows: slice) -> torch.Tensor:
            """Cotangents of output bins ``rows`` of the chunk (bin ``f * n + j`` is ``(f, frames.start + j)``)."""
            index = torch.arange(rows.start, rows.stop, device=setup.device)
            out = torch.zeros((len(index), f_out, forward.stop), dtype=setup.dtype, device=setup.device)
            out[torch.arange(len(index), device=setup.device), index // n, frames.start + index % n] = 1.0
            return out

        tile = setup.attributions(forward, f_out * n, one_hot, f_out * n).view(f_out, n, setup.F, forward.stop)
        if setup.lookback is not None:
            lag = torch.arange(frames.start, frames.stop, device=setup.device)[:, None] - torch.arange(
                forward.stop, device=setup.device
            )
            tile.masked_fill_((lag > setup.lookback)[None, :, None, :], 0.0)
        yield frames, tile, setup.change(forward, frames)


def _deltas(sums: torch.Tensor, change: torch.Tensor, dtype: torch.dtype) -> np.ndarray:
    """``sums`` (float64) minus ``change``, in ``dtype``, on the host."""
    return (sums - change.double()).to(dtype).cpu().numpy()


def _generate(setup: _Setup, to_numpy: bool) -> Iterator[AttributionChunk]:
    for frames, tile, change in _chunks(setup):
        out = tile.new_zeros(tile.shape[:3] + (setup.T,))
        out[..., : tile.shape[3]] = tile
        deltas = None if change is None else _deltas(out.sum(dim=(2, 3), dtype=torch.float64), change, setup.dtype)
        yield AttributionChunk(t_out=frames, attributions=out.cpu().numpy() if to_numpy else out, deltas=deltas)


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
    phase: np.ndarray | torch.Tensor | None = None,
    product_rule: str = "shapley",
    memory_budget: int | None = None,
) -> Iterator[AttributionChunk]:
    """Attributions of every output bin of a clip to every input bin, chunk by chunk of output frames, for any model.

    ``model``: a :class:`~xai_helpers.models.base.MaskModel` or a plain ``nn.Module`` (frames ``[B, T, F]`` in, mask
    out, seen through :class:`~xai_helpers.models.base.FrameModel`); the explained function is
    ``MaskFromLogPower(model, target, phase)`` (``phase`` ``[F, T]``, radians, for the targets that read it).
    ``features``: log-power ``[F, T]``; ``baselines``: ``[K, F, T]`` (``K = 1`` for ``"deeplift"``, ``None``
    meaning the all-zero baseline; ``K >= 1`` averaged for ``"deepliftshap"``; unused by ``"saliency"`` and
    ``"inputxgradient"``). ``rule`` (:data:`.trace.DEEPLIFT_RULES`): ``"complete"`` applies DeepLIFT's rule to
    every op, so each output bin's attributions sum to ``out(input) - mean_k out(baseline_k)`` (the deltas are
    rounding; products follow ``product_rule``, :data:`.rules.PRODUCT_RULES`); ``"captum"`` equals Captum 0.9's
    ``DeepLift`` / ``DeepLiftShap``. An op without a rule raises ``ValueError`` naming it.

    Yields one :class:`~xai_helpers.attribution.engine.api.AttributionChunk` per ``frames_per_chunk`` output frames
    (``attributions`` ``[F_out, n, F_in, T]``; ``deltas`` ``[F_out, n]`` for DeepLIFT). Output frames ``[t0, t1)``
    are computed from input frames ``[:t1 + model.lookahead_frames]`` (later ones are zero); a model without
    ``lookahead_frames`` runs on the whole clip once. ``max_lookback_frames`` zeroes input frames more than that
    many frames before the output frame. Arguments are checked, and ops without a rule refused, before the first
    chunk. Runs in the dtype and on the device of the model's parameters (of
    ``features`` for a model without any), on a copy of the model (fused RNNs unrolled, eval mode). Memory: the
    chunk ``[F_out, n, F_in, T]`` plus about ``memory_budget`` bytes (default :data:`MEMORY_BUDGET`) per batched
    backward pass, into which the chunk's ``F_out * n`` cotangents are split. ``to_numpy=False`` leaves each chunk's
    attributions on the device.
    """
    setup = _Setup(
        model,
        features,
        baselines,
        method,
        target,
        rule,
        product_rule,
        frames_per_chunk,
        max_lookback_frames,
        phase,
        memory_budget,
    )
    setup.forward(setup.stop(min(setup.chunk, setup.T)))  # the first chunk's, now: errors before the first chunk
    return _generate(setup, to_numpy)


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
    phase: np.ndarray | torch.Tensor | None = None,
    product_rule: str = "shapley",
    memory_budget: int | None = None,
) -> tuple[InfluenceMaps, np.ndarray | None]:
    """The influence maps (:mod:`~xai_helpers.attribution.maps`) of :func:`all_bins_attributions`, reduced chunk
    by chunk on the model's device (nothing dense goes to the host). Arguments as there (``on_chunk(t_out)`` after
    each chunk; ``frames_per_chunk`` sets the frames reduced at once, ``memory_budget`` the backward passes).
    Returns the maps and the deltas ``[F_out, T]`` (``None`` for saliency and inputxgradient)."""
    setup = _Setup(
        model,
        features,
        baselines,
        method,
        target,
        rule,
        product_rule,
        frames_per_chunk,
        max_lookback_frames,
        phase,
        memory_budget,
    )
    accumulator, deltas = None, []
    with torch.no_grad():
        for frames, tile, change in _chunks(setup):
            if accumulator is None:
                accumulator = MapAccumulator((tile.shape[0], setup.T, setup.F, setup.T), setup.device)
            accumulator.begin(frames)
            accumulator.add(slice(0, tile.shape[3]), tile, consume=True)
            totals = accumulator.end()
            if change is not None:
                deltas.append(_deltas(totals, change, setup.dtype))
            if on_chunk is not None:
                on_chunk(frames)
    return accumulator.result(), np.concatenate(deltas, axis=1) if deltas else None


def weighted_output_attributions(
    model: MaskModel | nn.Module,
    features: torch.Tensor | np.ndarray,
    baselines: torch.Tensor | np.ndarray | None,
    method: str,
    weights: torch.Tensor | np.ndarray,
    target: str = "mask",
    rule: str = "complete",
    frames_per_chunk: int = 8,
    phase: np.ndarray | torch.Tensor | None = None,
    product_rule: str = "shapley",
    memory_budget: int | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Attributions of ``M`` weighted sums of outputs ``sum_{f, t} weights[m, f, t] * out[f, t]`` (one-hot maps:
    single bins; 0/1 masks: regions), for any model.

    ``weights`` ``[M, F_out, T]``; other arguments as in :func:`all_bins_attributions`. One forward pass on the
    input frames up to the last weighted frame (plus the lookahead) and batched backward passes of at most
    ``frames_per_chunk * F_out`` weighted sums each (fewer where ``memory_budget`` says so; all baselines in every
    pass). Returns attributions
    ``[M, F_in, T]`` (model's dtype) and, for DeepLIFT, deltas ``[M]`` = sum of the attributions minus the weighted
    sum of ``out(input) - mean_k out(baseline_k)`` (else ``None``)."""
    setup = _Setup(
        model, features, baselines, method, target, rule, product_rule, frames_per_chunk, None, phase, memory_budget
    )
    w = _as_tensor(weights, setup.device, setup.dtype)
    if w.ndim != 3 or w.shape[2] != setup.T or w.shape[0] < 1:
        raise ValueError(
            f"weights must be [M, F_out, {setup.T}] (M >= 1 weighted sums of outputs), got shape {tuple(w.shape)}"
        )
    weighted = torch.nonzero(w.abs().sum(dim=(0, 1)))
    last = int(weighted.max()) + 1 if len(weighted) else 1
    forward = setup.forward(setup.stop(last))
    if forward.out.shape[1] != w.shape[1]:
        raise ValueError(f"weights must be [M, F_out={forward.out.shape[1]}, T], got shape {tuple(w.shape)}")
    cotangents = w[:, :, : forward.stop]
    out = torch.zeros((w.shape[0], setup.F, setup.T), dtype=setup.dtype, device=setup.device)
    most = setup.chunk * w.shape[1]
    out[:, :, : forward.stop] = setup.attributions(forward, w.shape[0], cotangents.__getitem__, most)
    deltas = None
    change = setup.change(forward, slice(0, forward.stop))
    if change is not None:
        sums = out.sum(dim=(1, 2), dtype=torch.float64)
        deltas = (sums - (cotangents.double() * change.double()).sum(dim=(1, 2))).to(setup.dtype).cpu().numpy()
    return out.cpu().numpy(), deltas

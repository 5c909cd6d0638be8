"""The engine's entry points: argument checks, one :class:`~.sweeps._Engine` per part, and the
results chunk by chunk (:func:`all_bins_attributions`), as influence maps (:func:`all_bins_maps`) or
for weighted sums of outputs (:func:`weighted_output_attributions`)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch

from ...models.nsnet2 import NSNet2
from ..maps import InfluenceMaps, MapAccumulator
from ..registry import names
from .multipliers import DEEPLIFT_RULES
from .setup import _setup, _setup_complete
from .sweeps import _Engine

ENGINE_METHODS = names(engine=True)


@dataclass
class AttributionChunk:
    """Attributions of the output frames ``t_out`` to every input bin.

    ``attributions[f_out, k, f_in, t_in]`` is the attribution of output bin
    ``(f_out, t_out.start + k)`` to input bin ``(f_in, t_in)``; it is exactly zero where
    ``t_in > t_out`` (causality) and where ``max_lookback_frames`` skipped the input frame.
    """

    t_out: slice
    """Output frames covered, e.g. ``slice(8, 16)``."""
    attributions: np.ndarray | torch.Tensor
    """``[F_out, n_frames_in_chunk, F_in, T_in]`` in the model's dtype (float32); a tensor on the
    model's device when the chunks were asked for with ``to_numpy=False``."""
    deltas: np.ndarray | None
    """``[F_out, n]`` (model's dtype): sum over ``(f_in, t_in)`` of the attribution minus
    ``out(input) - mean_k out(baseline_k)`` (Captum's convergence delta, averaged over baselines);
    ``None`` for saliency and inputxgradient."""


def _frames(engine: _Engine, index: int) -> slice:
    """Output frames of chunk ``index``."""
    return slice(index * engine.chunk, min((index + 1) * engine.chunk, engine.T))


def _chunk_frames(engine: _Engine) -> Iterator[tuple[int, slice]]:
    """``(index, output frames)`` of every chunk, in order."""
    for index in range(-(-engine.T // engine.chunk)):
        yield index, _frames(engine, index)


def _chunk_deltas(engine: _Engine, frames: slice, sums: torch.Tensor) -> np.ndarray:
    """Deltas ``[F_out, n]`` (numpy, model's dtype) of the output frames ``frames``: each output bin's attribution sum
    (``sums`` ``[F_out, n]``, float64) minus ``out(input) - mean_k out(baseline_k)``; for methods that have deltas."""
    return (sums - engine.s.out_delta[frames].t().double()).to(engine.s.weight.dtype).cpu().numpy()


def _tiles(engines: list[_Engine], index: int) -> Iterator[tuple[slice, torch.Tensor]]:
    """All parts' attributions of chunk ``index``'s output frames summed, tile by tile of input frames:
    ``(t_in, tile [n, F_out, F_in, m])`` with the lookback mask and saliency's ``|.|`` applied; the chunk's
    own frames first (zero where ``t_in > t_out``), then earlier blocks, latest first (input frames not
    yielded are zero). Each tile is a buffer that the next one overwrites."""
    first = engines[0]
    frames = _frames(first, index)
    n = frames.stop - frames.start
    own, earlier = first.new(n, first.F, first.F, n).zero_(), first.new(n * first.F, first.F * first.chunk)
    parts = [engine.tiles(index, own, earlier, accumulate=part > 0) for part, engine in enumerate(engines)]
    while True:
        steps = [next(part, None) for part in parts]  # every part adds its share to the same tile
        if steps[0] is None:
            return
        t_in, tile = steps[0]
        if first.lookback is not None:
            lag = torch.arange(frames.start, frames.stop, device=tile.device)[:, None] - torch.arange(
                t_in.start, t_in.stop, device=tile.device
            )
            tile.masked_fill_((lag > first.lookback)[:, None, None, :], 0.0)
        if first.s.absolute:
            tile.abs_()
        yield t_in, tile


def _chunks(engines: list[_Engine], to_numpy: bool = True) -> Iterator[AttributionChunk]:
    """All parts' attributions summed, chunk by chunk of output frames (numpy, or tensors on the device)."""
    first = engines[0]
    F, T = first.F, first.T
    with torch.no_grad():
        for index, frames in _chunk_frames(first):
            out = first.new(F, frames.stop - frames.start, F, T)
            out_nf = out.transpose(0, 1)  # [n, F_out, F_in, T] view
            covered = frames.stop
            for t_in, tile in _tiles(engines, index):
                out_nf[..., t_in] = tile
                covered = t_in.start
            out[..., frames.stop :] = 0  # t_in > t_out (causality)
            out[..., :covered] = 0  # beyond the lookback
            deltas = None
            if first.s.out_delta is not None:
                deltas = _chunk_deltas(first, frames, out.sum(dim=3).sum(dim=2, dtype=torch.float64))
            yield AttributionChunk(t_out=frames, attributions=out.cpu().numpy() if to_numpy else out, deltas=deltas)


def _as_tensor(value, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(np.ascontiguousarray(value))
    return value.detach().to(device=device, dtype=dtype)


def _engines(
    model: NSNet2,
    features,
    baselines,
    method: str,
    target: str,
    rule: str,
    frames_per_chunk: int,
    max_lookback_frames: int | None,
) -> list[_Engine]:
    """Checked arguments -> one engine per part (one part, or one per baseline for the complete rule)."""
    if method not in ENGINE_METHODS:
        raise ValueError(f"method must be one of {ENGINE_METHODS}, not {method!r}")
    if target not in ("mask", "logit"):
        raise ValueError(f"target must be 'mask' or 'logit', not {target!r}")
    if rule not in DEEPLIFT_RULES:
        raise ValueError(f"rule must be one of {DEEPLIFT_RULES} (DeepLIFT's rules), not {rule!r}")
    if int(frames_per_chunk) < 1:
        raise ValueError(f"frames_per_chunk must be >= 1, not {frames_per_chunk}")
    if max_lookback_frames is not None and int(max_lookback_frames) < 0:
        raise ValueError(f"max_lookback_frames must be >= 0 or None, not {max_lookback_frames}")
    parameter = next(model.parameters())
    device, dtype = parameter.device, parameter.dtype
    x = _as_tensor(features, device, dtype)
    if x.ndim != 2 or x.shape[0] != model.n_bins or x.shape[1] < 1:
        raise ValueError(f"features must be log-power [F={model.n_bins}, T>=1], got shape {tuple(x.shape)}")
    if method in ("deeplift", "deepliftshap"):
        if baselines is None:
            if method == "deepliftshap":
                raise ValueError("deepliftshap needs baselines [K, F, T]")
            b = torch.zeros_like(x)[None]
        else:
            b = _as_tensor(baselines, device, dtype)
            if b.ndim == 2:
                b = b[None]
            if b.ndim != 3 or b.shape[1:] != x.shape or b.shape[0] < 1:
                raise ValueError(f"baselines must be [K, {x.shape[0]}, {x.shape[1]}], got shape {tuple(b.shape)}")
            if method == "deeplift" and b.shape[0] != 1:
                raise ValueError(f"deeplift takes one baseline (K=1), got K={b.shape[0]}; use deepliftshap")
        b = b.transpose(1, 2).contiguous()
    else:
        b = None
    if device.type == "cuda" and (
        torch.backends.cuda.matmul.allow_tf32 or torch.get_float32_matmul_precision() != "highest"
    ):
        warnings.warn(
            "TF32 matrix products are enabled (torch.backends.cuda.matmul.allow_tf32 / set_float32_matmul_precision): "
            "the engine's attributions will differ from Captum's float32 ones by about 1e-3 relative",
            stacklevel=3,
        )
    with torch.no_grad():
        frames = x.t().contiguous()
        if b is not None and rule == "complete":
            setups = _setup_complete(model, frames, b, target)
        else:
            setups = [_setup(model, frames, b, method, target)]
    lookback = None if max_lookback_frames is None else int(max_lookback_frames)
    return [_Engine(model, setup, int(frames_per_chunk), lookback) for setup in setups]


def all_bins_attributions(
    model: NSNet2,
    features: torch.Tensor | np.ndarray,
    baselines: torch.Tensor | np.ndarray | None,
    method: str,
    target: str = "mask",
    frames_per_chunk: int = 8,
    max_lookback_frames: int | None = None,
    rule: str = "complete",
    to_numpy: bool = True,
) -> Iterator[AttributionChunk]:
    """Attributions of every output bin of a clip to every input bin, chunk by chunk of output frames.

    ``features``: log-power ``[F, T]`` (the explained segment, model state starting at its first
    frame); ``baselines``: ``[K, F, T]`` (``K = 1`` for ``"deeplift"``, ``None`` meaning Captum's
    all-zero baseline; ``K >= 1`` averaged for ``"deepliftshap"``; ignored by ``"saliency"`` and
    ``"inputxgradient"``). ``method`` is one of :data:`ENGINE_METHODS`; ``target`` is ``"mask"``
    (after the sigmoid and floor) or ``"logit"``. ``rule`` (one of :data:`DEEPLIFT_RULES`, for
    ``"deeplift"`` and ``"deepliftshap"``): ``"complete"`` carries DeepLIFT's rules through the GRUs,
    so each output bin's attributions sum to ``out(input) - mean_k out(baseline_k)`` (the deltas are
    rounding); ``"captum"`` equals Captum 0.9's ``DeepLift`` / ``DeepLiftShap`` (see
    :mod:`.multipliers`). Saliency (``abs=True``) and InputXGradient equal Captum's. Captum's reference is
    ``MaskFromLogPower(model, target)`` with input ``features[None]`` and target ``(f_out, t_out)``.

    Yields one :class:`AttributionChunk` per ``frames_per_chunk`` output frames, in order.
    ``max_lookback_frames`` (optional) skips input frames with ``t_out - t_in`` above it (zeros).
    Runs in the dtype and on the device of the model's parameters; arguments are checked before the
    first chunk. ``to_numpy=False`` leaves each chunk's attributions a tensor on the model's device
    (reduce them there: :class:`~xai_helpers.attribution.maps.MapAccumulator`); deltas are numpy either way.
    """
    return _chunks(
        _engines(model, features, baselines, method, target, rule, frames_per_chunk, max_lookback_frames), to_numpy
    )


def all_bins_maps(
    model: NSNet2,
    features: torch.Tensor | np.ndarray,
    baselines: torch.Tensor | np.ndarray | None,
    method: str,
    target: str = "mask",
    frames_per_chunk: int = 8,
    max_lookback_frames: int | None = None,
    rule: str = "complete",
    on_chunk: Callable[[slice], None] | None = None,
) -> tuple[InfluenceMaps, np.ndarray | None]:
    """The influence maps (:mod:`~xai_helpers.attribution.maps`) of :func:`all_bins_attributions`'s
    4-D tensor, reduced tile by tile (one chunk's output frames by one block of input frames, while it is in
    cache) on the model's device: no chunk is assembled and nothing dense is copied to the host.

    Arguments as in :func:`all_bins_attributions` (``on_chunk(t_out)`` is called after each chunk,
    e.g. for progress). Returns the maps and the deltas ``[F_out, T_out]`` (``None`` for saliency and
    inputxgradient). Memory: two tiles ``[F, n, F, n]`` on the device plus the maps and what the sweeps
    keep; choose ``frames_per_chunk`` to fill the device (e.g. 64 or more on a GPU).
    """
    engines = _engines(model, features, baselines, method, target, rule, frames_per_chunk, max_lookback_frames)
    first = engines[0]
    accumulator = MapAccumulator((first.F, first.T, first.F, first.T), first.s.weight.device)
    deltas = []
    with torch.no_grad():
        for index, frames in _chunk_frames(first):
            accumulator.begin(frames)
            for t_in, tile in _tiles(engines, index):
                accumulator.add(t_in, tile.transpose(0, 1), consume=True)
            totals = accumulator.end()
            if first.s.out_delta is not None:
                deltas.append(_chunk_deltas(first, frames, totals))
            if on_chunk is not None:
                on_chunk(frames)
    return accumulator.result(), np.concatenate(deltas, axis=1) if deltas else None


def weighted_output_attributions(
    model: NSNet2,
    features: torch.Tensor | np.ndarray,
    baselines: torch.Tensor | np.ndarray | None,
    method: str,
    weights: torch.Tensor | np.ndarray,
    target: str = "mask",
    rule: str = "complete",
    frames_per_chunk: int = 8,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Attributions of ``M`` weighted sums of outputs ``sum_{f, t} weights[m, f, t] * out[f, t]``.

    ``weights`` ``[M, F, T]``: a one-hot map explains one bin, a 0/1 region mask a region's sum
    (any real weights are allowed). ``features``, ``baselines``, ``method``, ``target`` and ``rule``
    as in :func:`all_bins_attributions`; ``frames_per_chunk`` only sets how many frames' matrices are
    held at once. Returns attributions ``[M, F_in, T_in]`` (zero after the last weighted frame) and,
    for ``"deeplift"`` / ``"deepliftshap"``, deltas ``[M]`` = sum of the attributions minus the
    weighted sum of ``out(input) - mean_k out(baseline_k)`` (else ``None``); in the model's dtype.
    One backward sweep per part: cost ``O(T M K H^2)``, much less than all bins.
    """
    engines = _engines(model, features, baselines, method, target, rule, frames_per_chunk, None)
    first = engines[0]
    w = _as_tensor(weights, first.s.weight.device, first.s.weight.dtype)
    if w.ndim != 3 or w.shape[1:] != (first.F, first.T) or w.shape[0] < 1:
        raise ValueError(
            f"weights must be [M, {first.F}, {first.T}] (M >= 1 weighted sums of outputs), got shape {tuple(w.shape)}"
        )
    w = w.transpose(1, 2).contiguous()  # [M, T, F_out]
    with torch.no_grad():
        out = first.new(w.shape[0], first.T, first.F).zero_()  # [M, T, F_in]
        for part, engine in enumerate(engines):
            engine.weighted(w, out, accumulate=part > 0)
        if first.s.absolute:
            out.abs_()
        deltas = None
        if first.s.out_delta is not None:
            sums = out.sum(dim=(1, 2), dtype=torch.float64)
            deltas = (sums - (w * first.s.out_delta).sum(dim=(1, 2), dtype=torch.float64)).to(out.dtype).cpu().numpy()
        return out.transpose(1, 2).contiguous().cpu().numpy(), deltas


def concatenate_chunks(chunks) -> tuple[np.ndarray, np.ndarray | None]:
    """All chunks' attributions ``[F_out, T_out, F_in, T_in]`` and deltas ``[F_out, T_out]`` (or None)."""
    chunks = list(chunks)
    attributions = np.concatenate([c.attributions for c in chunks], axis=1)
    deltas = None if chunks[0].deltas is None else np.concatenate([c.deltas for c in chunks], axis=1)
    return attributions, deltas


def lookback_mass_share(chunk: AttributionChunk, max_lookback_frames: int) -> np.ndarray:
    """Share ``[F_out, n]`` of each output bin's total |attribution| that lies more than
    ``max_lookback_frames`` frames back (``t_out - t_in > max_lookback_frames``), from an untruncated chunk."""
    start = chunk.t_out.start
    n, t_in = chunk.attributions.shape[1], chunk.attributions.shape[3]
    lag = (start + np.arange(n))[:, None] - np.arange(t_in)[None]
    mass = np.abs(chunk.attributions, dtype=np.float64)
    total = mass.sum(axis=(2, 3))
    beyond = (mass * (lag > max_lookback_frames)[None, :, None, :]).sum(axis=(2, 3))
    return np.divide(beyond, total, out=np.zeros_like(total), where=total > 0)

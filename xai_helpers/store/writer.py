"""Writing the HDF5 attribution store: one file per input file and configuration, streamed, atomic.

Layout (``F`` bins, ``T`` frames of the explained segment; ``K`` baselines; ``R`` output regions;
``G`` input groups; ``E`` FGSM steps)::

    attributions      float32 (or float16, see below), one of
                      [f_out, t_out, f_in, t_in]   outputs="all_bins" / "bin", features="bins"
                      [region, f_in, t_in]         outputs="regions",          features="bins"
                      [f_out, t_out, group] / [region, group]    features="regions"
    latent/<layer>    [f_out, t_out, unit, t_in] / [region, unit, t_in]   features="latent"
    input_features    [f, t]      log10 power of the explained segment: exactly what the model saw
    baselines         [K, f, t]   log10 power
    mask              [f, t]      predicted gain mask of the segment (0..1)
    explained_output  [f, t]      the explained quantity (mask or pre-sigmoid logit)
    deltas            [*targets]  convergence delta per target (methods that have one)
    sensitivity       [*targets, E]  FGSM: change of the explained output per step (fgsm only)
    maps/<name>       float64 influence maps of the 4-D tensor over all output bins (outputs="all_bins",
                      features="bins"); alone with store="maps", whose size is linear in duration:
                      global_abs, global_signed,        [f_in, t_in]   sum of |a| / a over f_out, t_out
                      global_positive, global_negative  [f_in, t_in]   sums of max(a, 0) / min(a, 0)
                      time_abs, time_signed             [t_out, t_in]  sum over f_out and f_in
                      freq_abs, freq_signed             [f_out, f_in]  sum over t_out and t_in
                      output_totals                     [f_out, t_out] sum of |a| over f_in, t_in
                      frame_gram_*, frame_sum_*, frame_peak_*  [t_in, t_in], [t_in], [t_in]: moments of
                      the per-output-bin vectors sum_f_in a (or |a|) giving the temporal correlation
                      (definitions: xai_helpers.attribution.maps). Any single output bin's map is
                      recomputed exactly from input_features and baselines on demand
                      (xai_helpers.attribution.on_demand).
    freqs_hz [f], times_s [t]     bin centre frequencies; frame centre times from the segment start
    output_regions [R, 4], feature_groups [G, 4], feature_mask [f, t]   where used
                                  (regions as f_lo_hz, f_hi_hz, t_lo_s, t_hi_s)

Attributes hold everything needed to reproduce the file (method, target, outputs, features,
baseline, K, seed, segment, ``backend`` (engine or captum), ``deeplift_rule`` (complete or captum; DeepLift
and DeepLiftShap only), ``store`` (maps or full), model file and SHA-256, sample rate, STFT settings, package
versions) and ``complete = True``, set last. Axes carry ``dims`` labels.

float16 storage scales each target's map by its own largest magnitude (``scale/<dataset>``
``[*targets]``, float32, e.g. ``scale/attributions``, ``scale/latent/gru1``) so every map keeps about 3 significant
digits relative to its peak;
:meth:`~xai_helpers.store.reader.AttributionFile.read_attributions` undoes it.

Every dataset is chunked and carries HDF5's Fletcher32 checksum per chunk (after compression: Blosc2 +
Zstd for the attribution tensor, gzip for the maps, none for the small datasets, which are chunked
whole), so a damaged chunk fails to read instead of returning wrong numbers; the reader turns that into
:class:`~xai_helpers.store.reader.AttributionFileError` naming the file.

One writer per output: the caller holds :func:`output_lock` (``.NAME.lock`` beside the file, recording
the holder's pid, host and start time) while it checks, computes and writes; a second run on the same
output waits for it or stops with a message naming it. The file is written under a unique temporary name
(``.NAME.<host>.<pid>.<random>.partial``) and renamed when complete, so a crash leaves no file that looks
complete; :func:`~xai_helpers.io.locks.remove_stale_partials` removes the temporary files of dead runs only,
never a live run's. :func:`~xai_helpers.store.reader.check_complete` (with ``verify=True``: every chunk read) tells a
re-run what to redo.

Reuse rule (:func:`xai_helpers.attribution.explain.explain_file`): the file name carries a readable tag
of the main settings (:meth:`~xai_helpers.attribution.explain_config.ExplainConfig.file_tag`); every
setting that changes the result is stored in the attribute ``request`` (JSON) and compared on reuse,
with the source's and the model's SHA-256 and the versions that matter (``store_version``,
``nsnet2-xai``, torch and captum major.minor). Any difference, or a damaged chunk, means recompute, and
the log names the field that differs.
"""

from __future__ import annotations

import logging
import os
import sys
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import h5py
import hdf5plugin
import numpy as np

from ..io.atomic import temporary_path
from ..io.locks import LockOwner, hold_lock, lock_path
from .reader import check_complete

logger = logging.getLogger(__name__)

STORE_VERSION = 2
"""Layout version written as the attribute ``store_version`` (2: Fletcher32 checksums on every dataset and the
``request`` attribute); files of another version are recomputed rather than reused."""
CHECKSUM = {"fletcher32": True}
"""HDF5's Fletcher32 checksum on every chunk of every dataset the writer makes."""
LARGE_WRITE_WARNING_BYTES = 500e6
"""Raw size above which :func:`warn_if_large` warns before a 4-D tensor is written."""
CHUNK_TARGET_BYTES = 256 * 1024
LARGE_COMPRESSION = hdf5plugin.Blosc2(cname="zstd", clevel=3, filters=hdf5plugin.Blosc2.SHUFFLE)
"""Filter of the large datasets (the attribution tensor): Blosc2 with Zstd level 3 and byte shuffle, which
wrote a 0.5 s tensor (259 MB) smaller (108.6 MB) and twice as fast as gzip 4 + shuffle (118.2 MB) and read it
back twice as fast (``benchmarks/maps.py --only compression``). Readers need ``import hdf5plugin``
(:mod:`.reader` does it) or ``HDF5_PLUGIN_PATH`` pointing at its filters."""


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset to stream: its shape, axis labels, and whether it holds attributions (scaled in float16)."""

    shape: tuple[int, ...]
    dims: tuple[str, ...]
    is_attribution: bool = False


def _chunks(shape: tuple[int, ...], n_target_axes: int, itemsize: int) -> tuple[int, ...]:
    """Chunks shaped like one target's map, grown along the first target axis to about 256 KiB."""
    per_target = int(np.prod(shape[n_target_axes:])) * itemsize
    first = max(1, min(shape[0], CHUNK_TARGET_BYTES // max(per_target, 1))) if n_target_axes else shape[0]
    return (first,) + (1,) * max(n_target_axes - 1, 0) + tuple(shape[n_target_axes:])


class AttributionWriter:
    """Streams datasets into ``path`` under a temporary name; :meth:`commit` makes it final.

    Use as a context manager: leaving the block by an exception removes the temporary file.
    """

    def __init__(
        self, path: str | os.PathLike, attrs: dict[str, object], n_target_axes: int, dtype: str = "float32"
    ) -> None:
        if dtype not in ("float32", "float16"):
            raise ValueError(f"dtype must be 'float32' or 'float16', not {dtype!r}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.temporary = temporary_path(self.path)
        self.dtype = np.dtype(dtype)
        self.n_target_axes = n_target_axes
        self.file = h5py.File(self.temporary, "w")
        try:
            for key, value in {
                **attrs,
                "store_version": STORE_VERSION,
                "complete": False,
                "storage_dtype": dtype,
            }.items():
                self.file.attrs[key] = "" if value is None else value
        except Exception:
            self.__exit__(*sys.exc_info())
            raise

    def __enter__(self) -> AttributionWriter:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if self.file.id.valid:
            self.file.close()
        if kind is not None and self.temporary.exists():
            self.temporary.unlink()

    def put(self, name: str, values: np.ndarray, dims: Sequence[str] = ()) -> None:
        """Write a small dataset whole (float32 for floats), as one chunk with its checksum."""
        values = np.asarray(values)
        data = values.astype(np.float32) if values.dtype.kind == "f" else values
        dataset = self.file.create_dataset(name, data=data, **_whole_chunk(data.shape))
        self._label(dataset, dims)

    def put_map(self, name: str, values: np.ndarray, dims: Sequence[str] = ()) -> None:
        """Write one influence map whole as ``maps/<name>``, float64, gzip-compressed, with its checksum."""
        data = np.asarray(values, dtype=np.float64)
        dataset = self.file.create_dataset(
            f"maps/{name}", data=data, compression="gzip", compression_opts=4, shuffle=True, **_whole_chunk(data.shape)
        )
        self._label(dataset, dims)

    def create(self, name: str, spec: DatasetSpec) -> None:
        """Create a large dataset to be filled by :meth:`write` (chunked, :data:`LARGE_COMPRESSION`)."""
        dtype = self.dtype if spec.is_attribution else np.float32
        dataset = self.file.create_dataset(
            name,
            shape=spec.shape,
            dtype=dtype,
            chunks=_chunks(spec.shape, self.n_target_axes, dtype.itemsize),
            fillvalue=0,
            **LARGE_COMPRESSION,
            **CHECKSUM,
        )
        self._label(dataset, spec.dims)
        if spec.is_attribution and self.dtype == np.float16:
            shape = spec.shape[: self.n_target_axes]
            self.file.create_dataset(f"scale/{name}", shape=shape, dtype=np.float32, **_whole_chunk(shape))

    def write(self, name: str, index: tuple, values: np.ndarray) -> None:
        """Write ``values`` into ``name[index]`` (``index`` selects along the target axes)."""
        dataset = self.file[name]
        if dataset.dtype == np.float16:
            axes = tuple(range(self.n_target_axes, values.ndim))
            scale = np.abs(values).max(axis=axes)
            self.file[f"scale/{name}"][index] = scale
            values = values / np.where(scale > 0, scale, 1.0).reshape(scale.shape + (1,) * len(axes))
        dataset[index] = values

    @staticmethod
    def _label(dataset: h5py.Dataset, dims: Sequence[str]) -> None:
        for axis, label in enumerate(dims):
            dataset.dims[axis].label = label

    def commit(self) -> Path:
        """Mark complete, close, verify it reads back, and rename into place."""
        self.file.attrs["complete"] = True
        self.file.close()
        check_complete(self.temporary)
        os.replace(self.temporary, self.path)
        return self.path


def _whole_chunk(shape: tuple[int, ...]) -> dict[str, object]:
    """Chunk settings storing a small dataset as one chunk, with its checksum; a scalar (which HDF5 cannot chunk)
    gets none, and an empty array h5py's own chunks."""
    if not shape:
        return {}
    return {"chunks": tuple(shape), **CHECKSUM} if all(shape) else dict(CHECKSUM)


def output_lock(path: str | os.PathLike, timeout_s: float | None = None) -> AbstractContextManager[LockOwner]:
    """Hold the lock of the attribution file ``path`` (``.NAME.lock`` beside it) while checking, computing and
    writing it: a second run waits up to ``timeout_s`` seconds (``None``: as long as it takes; ``0``: not at all),
    then :class:`~xai_helpers.io.locks.LockHeldError` names the run (pid, host, start) that holds it."""
    return hold_lock(lock_path(path), timeout_s, what=f"writing {Path(path).name}")


def full_size_estimate(shape: Sequence[int], itemsize: int = 4) -> tuple[int, int]:
    """``(raw, about on disk)`` bytes of an attribution tensor of ``shape`` (e.g. ``[F, T, F, T]``) of ``itemsize``
    bytes per value (4: float32, 2: float16).

    Raw is the product of the shape and the item size. On disk it is about half: causality leaves every input frame
    after its output frame zero (close to half of ``[t_out, t_in]``) and those compress to almost nothing, while the
    rest compresses little (a 0.5 s float32 tensor, 259 MB raw, took 109 MB with Blosc2 + Zstd).
    """
    raw = int(np.prod([int(n) for n in shape], dtype=np.int64)) * int(itemsize)
    return raw, raw // 2


def warn_if_large(path: str | os.PathLike, shape: Sequence[int], itemsize: int = 4) -> bool:
    """Log a warning with :func:`full_size_estimate` before writing a tensor of ``shape`` to ``path`` when its raw
    size exceeds :data:`LARGE_WRITE_WARNING_BYTES`; True if it warned."""
    raw, disk = full_size_estimate(shape, itemsize)
    if raw <= LARGE_WRITE_WARNING_BYTES:
        return False
    logger.warning(
        "%s: the attribution tensor %s will take %.2f GB raw, about %.2f GB on disk; store='maps' keeps only "
        "the influence maps (a few MB), or choose a shorter segment",
        Path(path).name,
        list(shape),
        raw / 1e9,
        disk / 1e9,
    )
    return True

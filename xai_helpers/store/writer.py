"""The HDF5 attribution store: one file per input file and configuration, streamed, atomic.

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
    freqs_hz [f], times_s [t]     bin centre frequencies; frame centre times from the segment start
    output_regions [R, 4], feature_groups [G, 4], feature_mask [f, t]   where used
                                  (regions as f_lo_hz, f_hi_hz, t_lo_s, t_hi_s)

Attributes hold everything needed to reproduce the file (method, target, outputs, features,
baseline, K, seed, segment, model file and SHA-256, sample rate, STFT settings, package versions)
and ``complete = True``, set last. Axes carry ``dims`` labels.

float16 storage scales each target's map by its own largest magnitude (``scale/<dataset>``
``[*targets]``, float32, e.g. ``scale/attributions``, ``scale/latent/gru1``) so every map keeps about 3 significant digits relative to its peak;
:meth:`AttributionFile.read_attributions` undoes it.

The file is written under a temporary name (``.NAME.partial``) and renamed when complete, so a
crash leaves no file that looks complete; :func:`check_complete` tells a re-run what to redo.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import h5py
import numpy as np

from ..io.atomic import PARTIAL_SUFFIX

logger = logging.getLogger(__name__)

STORE_VERSION = 1
CHUNK_TARGET_BYTES = 256 * 1024
REQUIRED = ("input_features", "baselines", "mask", "freqs_hz", "times_s")


class AttributionFileError(ValueError):
    """A damaged, incomplete or foreign attribution file (the message names it)."""


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

    def __init__(self, path: str | os.PathLike, attrs: dict[str, object], n_target_axes: int, dtype: str = "float32") -> None:
        if dtype not in ("float32", "float16"):
            raise ValueError(f"dtype must be 'float32' or 'float16', not {dtype!r}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.temporary = self.path.with_name(f".{self.path.name}{PARTIAL_SUFFIX}")
        self.dtype = np.dtype(dtype)
        self.n_target_axes = n_target_axes
        self.file = h5py.File(self.temporary, "w")
        try:
            for key, value in {**attrs, "store_version": STORE_VERSION, "complete": False, "storage_dtype": dtype}.items():
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
        """Write a small dataset whole (float32 for floats)."""
        values = np.asarray(values)
        data = values.astype(np.float32) if values.dtype.kind == "f" else values
        dataset = self.file.create_dataset(name, data=data)
        self._label(dataset, dims)

    def create(self, name: str, spec: DatasetSpec) -> None:
        """Create a large dataset to be filled by :meth:`write` (chunked, gzip + shuffle)."""
        dtype = self.dtype if spec.is_attribution else np.float32
        dataset = self.file.create_dataset(
            name, shape=spec.shape, dtype=dtype, chunks=_chunks(spec.shape, self.n_target_axes, dtype.itemsize),
            compression="gzip", compression_opts=4, shuffle=True, fillvalue=0,
        )
        self._label(dataset, spec.dims)
        if spec.is_attribution and self.dtype == np.float16:
            self.file.create_dataset(f"scale/{name}", shape=spec.shape[: self.n_target_axes], dtype=np.float32)

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


def check_complete(path: str | os.PathLike) -> None:
    """Raise :class:`AttributionFileError` naming ``path`` unless it is a complete attribution file."""
    path = Path(path)
    if not path.is_file():
        raise AttributionFileError(f"{path}: no such attribution file")
    try:
        with h5py.File(path, "r") as file:
            if not file.attrs.get("complete", False):
                raise AttributionFileError(f"{path}: incomplete attribution file (the run that wrote it did not finish)")
            missing = [name for name in REQUIRED if name not in file]
            if "attributions" not in file and "latent" not in file:
                missing.append("attributions or latent/")
            if missing:
                raise AttributionFileError(f"{path}: damaged attribution file, missing {missing}")
    except (OSError, KeyError) as error:
        raise AttributionFileError(f"{path}: unreadable attribution file ({error})") from error


def discard_partial(path: str | os.PathLike) -> bool:
    """Delete the temporary file an interrupted run left for ``path``; True if there was one."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}{PARTIAL_SUFFIX}")
    if temporary.exists():
        temporary.unlink()
        return True
    return False


class AttributionFile:
    """Read access to a complete attribution file (use as a context manager, or :meth:`close`)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        check_complete(self.path)
        self.file = h5py.File(self.path, "r")
        self.attrs = dict(self.file.attrs)

    def __enter__(self) -> AttributionFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the HDF5 file."""
        self.file.close()

    def __getitem__(self, name: str) -> np.ndarray:
        """A whole dataset as a numpy array (for the small ones: features, mask, deltas, ...)."""
        if name not in self.file:
            raise KeyError(f"{self.path}: no dataset {name!r} (has {sorted(self.file)})")
        return self.file[name][()]

    def __contains__(self, name: str) -> bool:
        return name in self.file

    def dims(self, name: str = "attributions") -> tuple[str, ...]:
        """Axis labels of a dataset, e.g. ``('f_out', 't_out', 'f_in', 't_in')``."""
        return tuple(axis.label for axis in self.file[name].dims)

    def read_attributions(self, index: tuple | slice = (), name: str = "attributions") -> np.ndarray:
        """``name[index]`` as float32, with float16 storage scaled back."""
        dataset = self.file[name]
        values = dataset[index].astype(np.float32)
        if dataset.dtype == np.float16:
            scale = self.file[f"scale/{name}"][index if isinstance(index, tuple) else (index,)]
            values = values * np.asarray(scale).reshape(np.shape(scale) + (1,) * (values.ndim - np.ndim(scale)))
        return values

"""Reading the HDF5 attribution store: the layout of a file and typed accessors (layout: :mod:`.writer`).

Nothing outside :mod:`xai_helpers.store` opens an attribution file with h5py. A file's ``layout`` is
one of :data:`LAYOUTS`:

* ``"all_bins"``: ``attributions [f_out, t_out, f_in, t_in]`` for every output bin, or only the
  influence maps of that tensor (group ``maps/``, ``store="maps"``; :attr:`AttributionFile.has_full` is False);
* ``"bin"``: ``attributions [1, 1, f_in, t_in]`` for one explained output bin (:attr:`AttributionFile.output_bin`);
* ``"regions"``: ``attributions [region, f_in, t_in]`` for the explained output regions;
* ``"groups"``: attributions over grouped input features ``[..., group]`` (``features="regions"``);
* ``"latent"``: ``latent/<layer> [..., unit, t_in]`` (``features="latent"``).

For ``groups`` and ``latent``, :attr:`AttributionFile.outputs` says what was explained
(``all_bins``, ``bin`` or ``regions``), as for the other layouts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import h5py
import hdf5plugin  # noqa: F401 - registers the Blosc2 / Zstd filters of the attribution tensor
import numpy as np

from ..io.hashing import file_sha256

REQUIRED = ("input_features", "baselines", "mask", "freqs_hz", "times_s")
LAYOUTS = ("all_bins", "bin", "regions", "groups", "latent")
TARGET_AXES = ("f_out", "t_out", "region")
"""Axis labels of the explained outputs (the leading axes of an attribution dataset)."""


class AttributionFileError(ValueError):
    """A damaged, incomplete or foreign attribution file (the message names it)."""


def _damaged(path: Path, name: str, error: BaseException) -> AttributionFileError:
    return AttributionFileError(
        f"{path}: damaged attribution file, dataset {name!r} cannot be read (checksum or decompression failed: {error})"
    )


def verify_data(path: str | os.PathLike) -> None:
    """Read every chunk of every dataset of ``path`` (checking each chunk's Fletcher32 checksum, written since
    ``store_version`` 2); :class:`AttributionFileError` naming the file and the dataset at the first damaged one.

    Cheap for maps files (a few MB); for a ``store="full"`` tensor it reads (and decompresses) the whole tensor:
    2.0 s for a 0.5 s segment's tensor (112 MB on disk)
    on a loaded 2-core CPU."""
    path = Path(path)
    names: list[str] = []
    with h5py.File(path, "r") as file:
        file.visititems(lambda name, item: names.append(name) if isinstance(item, h5py.Dataset) else None)
        for name in names:
            dataset = file[name]
            try:
                if dataset.chunks is None or dataset.size == 0:
                    dataset[()]
                else:
                    for selection in dataset.iter_chunks():
                        dataset[selection]
            except OSError as error:
                raise _damaged(path, name, error) from error


def check_complete(path: str | os.PathLike, verify: bool = False) -> None:
    """Raise :class:`AttributionFileError` naming ``path`` unless it is a complete attribution file; with
    ``verify`` also read every chunk (:func:`verify_data`), so a damaged chunk is found too."""
    path = Path(path)
    if not path.is_file():
        raise AttributionFileError(f"{path}: no such attribution file")
    try:
        with h5py.File(path, "r") as file:
            if not file.attrs.get("complete", False):
                raise AttributionFileError(
                    f"{path}: incomplete attribution file (the run that wrote it did not finish)"
                )
            missing = [name for name in REQUIRED if name not in file]
            if "attributions" not in file and "latent" not in file and "maps" not in file:
                missing.append("attributions, latent/ or maps/")
            if missing:
                raise AttributionFileError(f"{path}: damaged attribution file, missing {missing}")
        if verify:
            verify_data(path)
    except (OSError, KeyError) as error:
        raise AttributionFileError(f"{path}: unreadable attribution file ({error})") from error


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
        """A whole dataset as a numpy array (for the small ones: features, mask, deltas, ...); a damaged chunk
        raises :class:`AttributionFileError` naming the file."""
        if name not in self.file:
            raise KeyError(f"{self.path}: no dataset {name!r} (has {sorted(self.file)})")
        return self._read(name, ())

    def _read(self, name: str, index: tuple | slice) -> np.ndarray:
        """``name[index]``; a chunk that fails its checksum or decompression raises :class:`AttributionFileError`."""
        try:
            return self.file[name][index]
        except OSError as error:
            raise _damaged(self.path, name, error) from error

    def check_source(self, audio_path: str | os.PathLike) -> None:
        """Raise :class:`AttributionFileError` naming both files unless this file was computed from ``audio_path``:
        the stored ``source_sha256`` must be the audio file's SHA-256 (files without it: the stored source file's
        name must be the audio file's). Catches an ``.h5`` renamed to another input's name, or an input whose
        content changed since."""
        audio_path = Path(audio_path)
        stored_name = Path(str(self.attrs.get("source_file", ""))).name
        stored_hash = str(self.attrs.get("source_sha256", ""))
        if stored_hash:
            actual = file_sha256(audio_path)
            if stored_hash != actual:
                raise AttributionFileError(
                    f"{self.path}: computed from another input "
                    f"({stored_name or 'unknown'}, SHA-256 {stored_hash[:12]}...), "
                    f"not from {audio_path} (SHA-256 {actual[:12]}...): renamed, or the audio changed since"
                )
        elif stored_name and stored_name != audio_path.name:
            raise AttributionFileError(f"{self.path}: computed from {stored_name}, not from {audio_path}")

    def __contains__(self, name: str) -> bool:
        return name in self.file

    def dims(self, name: str = "attributions") -> tuple[str, ...]:
        """Axis labels of a dataset, e.g. ``('f_out', 't_out', 'f_in', 't_in')``."""
        return tuple(axis.label for axis in self.file[name].dims)

    # ---------------------------------------------------------------- layout

    @property
    def datasets(self) -> list[str]:
        """The attribution datasets: ``["attributions"]``, ``["latent/<layer>", ...]``, or ``[]`` (maps only)."""
        if "attributions" in self.file:
            return ["attributions"]
        if "latent" in self.file:
            return [f"latent/{layer}" for layer in self.file["latent"]]
        return []

    @property
    def has_full(self) -> bool:
        """True when the 4-D (or other) attribution tensor is stored (``store="full"``)."""
        return bool(self.datasets)

    @property
    def has_maps(self) -> bool:
        """True when the influence maps of all output bins are stored (group ``maps/``, ``store="maps"``)."""
        return "maps" in self.file

    @property
    def maps(self) -> dict[str, np.ndarray]:
        """Every stored map by name (float64; names and axes: :mod:`.writer`), or ``{}``."""
        return {name: self._read(f"maps/{name}", ()) for name in self.file["maps"]} if self.has_maps else {}

    @property
    def maps_shape(self) -> tuple[int, int, int, int]:
        """``(F_out, T_out, F_in, T_in)`` of the tensor the maps reduce."""
        n_bins, n_frames = self.file["input_features"].shape
        return (n_bins, n_frames, n_bins, n_frames)

    @property
    def store_mode(self) -> str:
        """``"maps"`` (influence maps only), or ``"full"`` (the attribution tensor, maybe with maps too)."""
        return "full" if self.has_full else "maps"

    @property
    def latent_layers(self) -> list[str]:
        """Names of the stored latent layers (empty unless ``features="latent"``)."""
        return [name.split("/", 1)[1] for name in self.datasets if name.startswith("latent/")]

    def shape(self, name: str = "attributions") -> tuple[int, ...]:
        """Shape of dataset ``name``."""
        return tuple(self.file[name].shape)

    @property
    def features(self) -> str:
        """The input features: ``"bins"``, ``"regions"`` (groups) or ``"latent"``."""
        return str(self.attrs.get("features", "bins"))

    @property
    def outputs(self) -> str:
        """What was explained: ``"all_bins"`` (every output bin), ``"bin"`` (one) or ``"regions"``."""
        declared = str(self.attrs.get("outputs", ""))
        if not self.has_full:
            return "all_bins"
        shape = self.shape(self.datasets[0])
        if declared == "regions" or (self.n_target_axes(self.datasets[0]) == 1):
            return "regions"
        if declared != "bin" and shape[:2] == (len(self.freqs_hz), len(self.times_s)):
            return "all_bins"
        return "bin"

    @property
    def layout(self) -> str:
        """One of :data:`LAYOUTS` (see the module docstring)."""
        if self.features == "latent":
            return "latent"
        if self.features == "regions":
            return "groups"
        return self.outputs

    def n_target_axes(self, name: str = "attributions") -> int:
        """Number of leading axes of ``name`` that index explained outputs."""
        return sum(label in TARGET_AXES for label in self.dims(name))

    def attributions_size_bytes(self, name: str = "attributions") -> int:
        """Size of dataset ``name`` as float32, in bytes."""
        return 4 * int(np.prod(self.shape(name)))

    # ---------------------------------------------------------------- typed accessors

    @property
    def freqs_hz(self) -> np.ndarray:
        """Bin centre frequencies ``[F]``, Hz (float64)."""
        return np.asarray(self["freqs_hz"], dtype=np.float64)

    @property
    def times_s(self) -> np.ndarray:
        """Frame centre times ``[T]``, seconds from the segment start (float64)."""
        return np.asarray(self["times_s"], dtype=np.float64)

    @property
    def input_features(self) -> np.ndarray:
        """Log10 power ``[F, T]`` of the explained segment: exactly what the model saw."""
        return self["input_features"]

    @property
    def mask(self) -> np.ndarray:
        """Predicted gain mask ``[F, T]`` (0..1)."""
        return self["mask"]

    @property
    def baselines(self) -> np.ndarray:
        """Baselines ``[K, F, T]``, log10 power."""
        return self["baselines"]

    @property
    def deltas(self) -> np.ndarray | None:
        """Convergence delta per explained output, or ``None`` for methods without one."""
        return self["deltas"] if "deltas" in self else None

    @property
    def output_regions(self) -> np.ndarray:
        """Explained output regions ``[R, 4]`` (f_lo_hz, f_hi_hz, t_lo_s, t_hi_s)."""
        if "output_regions" in self:
            return np.asarray(self["output_regions"], dtype=np.float64)
        return np.asarray(json.loads(self.attrs["output_regions"]), dtype=np.float64)

    @property
    def feature_groups(self) -> np.ndarray:
        """Input groups ``[G, 4]`` (f_lo_hz, f_hi_hz, t_lo_s, t_hi_s) of ``features="regions"``."""
        return np.asarray(self["feature_groups"], dtype=np.float64)

    @property
    def output_bin(self) -> tuple[int, int]:
        """Indices ``(f_out, t_out)`` of the single explained bin (``outputs="bin"``)."""
        indices = json.loads(str(self.attrs.get("output_bin_indices", "null")))
        if indices is None:
            raise AttributionFileError(f"{self.path}: outputs='bin' but no output_bin_indices attribute")
        return int(indices[0]), int(indices[1])

    @property
    def method(self) -> str:
        return str(self.attrs.get("method", "?"))

    @property
    def target(self) -> str:
        """The explained quantity: ``"mask"``, ``"logit"`` or ``"output"``."""
        return str(self.attrs.get("target", "mask"))

    @property
    def model(self) -> str:
        """The explained model's name (files written before models were recorded are NSNet2's)."""
        return str(self.attrs.get("model", "nsnet2"))

    def check_model(self, model: str) -> None:
        """:class:`AttributionFileError` naming the file and both models unless the file explains ``model``."""
        if self.model != model:
            raise AttributionFileError(
                f"{self.path}: explains model {self.model!r}, not {model!r}; "
                f"read it with model={self.model!r} or compute {model!r}'s attributions"
            )

    @property
    def input_phase(self) -> np.ndarray | None:
        """``[F, T]`` phase of the explained input, radians (held fixed by models that read it); ``None`` in files
        written before it was stored."""
        return self["input_phase"] if "input_phase" in self else None

    @property
    def deeplift_rule(self) -> str | None:
        """DeepLift / DeepLiftShap's rule: ``"complete"`` (DeepLIFT's rules inside the GRUs; the attributions add
        up) or ``"captum"`` (Captum's DeepLift); ``None`` for other methods and for files written before the
        rule was stored (those DeepLift files used ``"captum"``)."""
        rule = self.attrs.get("deeplift_rule")
        return None if rule is None else str(rule)

    @property
    def sample_rate(self) -> int:
        return int(self.attrs.get("sample_rate", 16000))

    @property
    def first_frame(self) -> int:
        """Frame of the file where the explained segment starts."""
        return int(self.attrs["segment_first_frame"])

    @property
    def start_s(self) -> float:
        """Start of the explained segment in its file, s: :attr:`first_frame` times the stored hop
        (``stft_hop_length / sample_rate``); 0 for files written without ``segment_first_frame``."""
        first = int(self.attrs.get("segment_first_frame", 0))
        if first == 0:
            return 0.0
        return first * int(self.attrs["stft_hop_length"]) / self.sample_rate

    # ---------------------------------------------------------------- attribution values

    def target_chunks(
        self, name: str = "attributions", chunk_bytes: float = float("inf")
    ) -> Iterator[tuple[tuple, np.ndarray]]:
        """``(index, values)`` over the explained outputs of ``name``, each chunk at most ``chunk_bytes``
        (float32; at least one output frame or region): along ``t_out`` for ``[f_out, t_out, ...]``,
        along the first axis otherwise. ``index`` selects the chunk (slices); one chunk when it all fits."""
        shape = self.shape(name)
        axis = 1 if self.n_target_axes(name) >= 2 else 0
        per_step = 4 * int(np.prod(shape)) // max(shape[axis], 1)
        step = int(max(1, min(shape[axis], chunk_bytes // max(per_step, 1))))
        for start in range(0, shape[axis], step):
            index = (slice(None),) * axis + (slice(start, min(start + step, shape[axis])),)
            yield index, self.read_attributions(index, name=name)

    def read_attributions(self, index: tuple | slice = (), name: str = "attributions") -> np.ndarray:
        """``name[index]`` as float32, with float16 storage scaled back."""
        dataset = self.file[name]
        values = self._read(name, index).astype(np.float32)
        if dataset.dtype == np.float16:
            scale = self._read(f"scale/{name}", index if isinstance(index, tuple) else (index,))
            values = values * np.asarray(scale).reshape(np.shape(scale) + (1,) * (values.ndim - np.ndim(scale)))
        return values


def stored_model(path: str | os.PathLike) -> str | None:
    """The model the ``.h5`` at ``path`` explains (``"nsnet2"`` for files written before models were recorded), or
    ``None`` if its attributes cannot be read."""
    try:
        with h5py.File(path, "r") as handle:
            return str(handle.attrs.get("model", "nsnet2"))
    except OSError:
        return None

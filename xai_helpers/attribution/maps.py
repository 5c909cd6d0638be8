"""Every influence map of the 4-D attribution tensor, accumulated on the tensor's device, chunk by chunk.

The tensor ``a[f_out, t_out, f_in, t_in]`` (every output bin's attribution over every input bin)
grows with the square of the duration; the maps that notebooks 03 and 04 draw and rank by do not.
:class:`MapAccumulator` takes chunks of output frames (``update(t_out slice, chunk [F_out, n, F_in,
T_in])``, a torch tensor on any device or a numpy array), or a chunk tile by tile of input frames
(``begin``, ``add``, ``end``), and keeps only the maps, in float64 on the
chunk's device; :meth:`MapAccumulator.result` moves them to the host once. The same class serves the
engine (:func:`~xai_helpers.attribution.engine.all_bins_maps`, the dense chunk never leaves the
device), Captum-backend results (one output frame per chunk) and stored 4-D files
(:func:`~xai_helpers.analysis.influence.reduce_file`), so every map has one definition.

Maps (:data:`MAP_DIMS`; ``abs`` sums ``|a|``, ``signed`` sums ``a``; float64)::

    global_abs, global_signed         [f_in, t_in]    sum over f_out, t_out
    global_positive, global_negative  [f_in, t_in]    sums of max(a, 0) and min(a, 0) (= (abs +- signed) / 2)
    time_abs, time_signed             [t_out, t_in]   sum over f_out, f_in
    freq_abs, freq_signed             [f_out, f_in]   sum over t_out, t_in (rows <= a frequency: the low-frequency view)
    output_totals                     [f_out, t_out]  sum over f_in, t_in of |a| (the representative output bin)
    frame_gram_abs, frame_gram_signed [t_in, t_in]    sum over output bins b of v[b, i] v[b, j]
    frame_sum_abs, frame_sum_signed   [t_in]          sum over output bins of v[b, i]
    frame_peak_abs, frame_peak_signed [t_in]          max over output bins of |v[b, i]|

where ``v[(f_out, t_out), t_in] = sum_f_in a`` (or ``|a|``) is the per-output-bin vector of each
input frame that the temporal correlation correlates: the Gram matrix, sums and peaks give it
exactly (:func:`correlation_from_moments`) without the ``[f_out, t_out, t_in]`` array. All maps
are linear in duration except the ``[t, t]`` ones (``8 T^2`` bytes each: 0.4 MB for 2.2 s).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

MAP_DIMS: dict[str, tuple[str, ...]] = {
    "global_abs": ("f_in", "t_in"),
    "global_signed": ("f_in", "t_in"),
    "global_positive": ("f_in", "t_in"),
    "global_negative": ("f_in", "t_in"),
    "time_abs": ("t_out", "t_in"),
    "time_signed": ("t_out", "t_in"),
    "freq_abs": ("f_out", "f_in"),
    "freq_signed": ("f_out", "f_in"),
    "output_totals": ("f_out", "t_out"),
    "frame_gram_abs": ("t_in", "t_in"),
    "frame_gram_signed": ("t_in", "t_in"),
    "frame_sum_abs": ("t_in",),
    "frame_sum_signed": ("t_in",),
    "frame_peak_abs": ("t_in",),
    "frame_peak_signed": ("t_in",),
}
"""Every map's name and axis labels (the datasets of the store's ``maps/`` group)."""

KINDS = ("abs", "signed")


@dataclass
class InfluenceMaps:
    """The maps of one 4-D tensor ``shape = (F_out, T_out, F_in, T_in)`` (names: :data:`MAP_DIMS`), numpy float64."""

    shape: tuple[int, int, int, int]
    arrays: dict[str, np.ndarray]

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.arrays:
            raise KeyError(f"no map {name!r}; maps are {sorted(self.arrays)}")
        return self.arrays[name]

    @property
    def n_output_bins(self) -> int:
        return self.shape[0] * self.shape[1]

    def correlation(self, kind: str) -> np.ndarray:
        """Pearson correlation ``[t_in, t_in]`` between input frames' vectors (``kind`` ``"abs"`` or ``"signed"``)."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        return correlation_from_moments(
            self[f"frame_gram_{kind}"], self[f"frame_sum_{kind}"], self[f"frame_peak_{kind}"], self.n_output_bins
        )


def correlation_from_moments(gram: np.ndarray, sums: np.ndarray, peaks: np.ndarray, n: int) -> np.ndarray:
    """Pearson correlation ``[t, t]`` of ``t`` vectors of length ``n`` from their Gram matrix ``[t, t]``,
    sums ``[t]`` and largest ``|entry|`` ``[t]``.

    As :func:`~xai_helpers.analysis.influence.frame_correlation`: a vector whose centred norm is rounding
    residue (below ``1e-6`` of its peak times ``sqrt(n)``: constant, e.g. all zero) has NaN in its row and
    column; valid vectors have exactly 1 on the diagonal; values are clipped to ``[-1, 1]``.
    """
    gram = np.asarray(gram, dtype=np.float64)
    sums = np.asarray(sums, dtype=np.float64)
    mean = sums / max(n, 1)
    covariance = gram - n * np.outer(mean, mean)
    variance = np.clip(np.diag(covariance), 0.0, None)
    norms = np.sqrt(variance)
    # Centring through moments cancels about sqrt(eps) of the raw norm: a tolerance well above it.
    valid = (norms > 1e-6 * np.sqrt(max(n, 1)) * np.asarray(peaks, dtype=np.float64)) & (norms > 0)
    scale = np.where(valid, norms, 1.0)
    c = np.clip(covariance / np.outer(scale, scale), -1.0, 1.0)
    c[~valid, :] = np.nan
    c[:, ~valid] = np.nan
    idx = np.flatnonzero(valid)
    c[idx, idx] = 1.0
    return c


def as_tensor(chunk, device: torch.device | None = None) -> torch.Tensor:
    """``chunk`` (numpy array or tensor) as a tensor, on ``device`` (default: where it is)."""
    tensor = torch.from_numpy(np.ascontiguousarray(chunk)) if isinstance(chunk, np.ndarray) else chunk
    return tensor if device is None else tensor.to(device)


class MapAccumulator:
    """Accumulates :class:`InfluenceMaps` of a tensor ``shape = (F_out, T_out, F_in, T_in)`` over chunks
    of output frames, in float64 on ``device`` (default: the first chunk's device).

    A chunk comes whole (:meth:`update`) or in tiles of input frames (:meth:`begin`, :meth:`add` per
    tile, :meth:`end`): the engine reduces each tile while it is hot in cache and never assembles the
    chunk ``[F_out, n, F_in, T_in]``. Tiles a chunk does not get are zero (e.g. ``t_in > t_out``)."""

    def __init__(self, shape: tuple[int, int, int, int], device: torch.device | str | None = None) -> None:
        if len(shape) != 4:
            raise ValueError(f"shape must be (F_out, T_out, F_in, T_in), got {shape}")
        self.shape = tuple(int(s) for s in shape)
        self.device = None if device is None else torch.device(device)
        self.maps: dict[str, torch.Tensor] | None = None
        self._t_out: slice | None = None
        self._frames: dict[str, torch.Tensor] = {}  # per kind: [F_out, n, T_in] sums over f_in of the open chunk

    def _allocate(self, device: torch.device) -> dict[str, torch.Tensor]:
        f_out, t_out, f_in, t_in = self.shape
        shapes = {
            "global": (f_in, t_in),
            "time": (t_out, t_in),
            "freq": (f_out, f_in),
            "frame_gram": (t_in, t_in),
            "frame_sum": (t_in,),
            "frame_peak": (t_in,),
        }
        maps = {
            f"{name}_{kind}": torch.zeros(s, dtype=torch.float64, device=device)
            for name, s in shapes.items()
            for kind in KINDS
        }
        maps["output_totals"] = torch.zeros((f_out, t_out), dtype=torch.float64, device=device)
        return maps

    def begin(self, t_out: slice, device: torch.device | str | None = None) -> None:
        """Open the chunk of output frames ``t_out`` (on ``device``: default the accumulator's, else the CPU)."""
        if self._t_out is not None:
            raise ValueError(
                f"chunk of output frames {self._t_out.start}:{self._t_out.stop} is still open: end() it first"
            )
        if not 0 <= t_out.start < t_out.stop <= self.shape[1]:
            raise ValueError(f"t_out must be a slice within 0:{self.shape[1]}, got {t_out.start}:{t_out.stop}")
        if self.maps is None:
            self.maps = self._allocate(self.device or torch.device(device or "cpu"))
        device = self.maps["freq_abs"].device
        f_out, _, _, t_in = self.shape
        n = t_out.stop - t_out.start
        self._t_out = t_out
        self._frames = {kind: torch.zeros((f_out, n, t_in), dtype=torch.float64, device=device) for kind in KINDS}

    def add(self, t_in: slice, tile, consume: bool = False) -> None:
        """Add the tile ``[F_out, n, F_in, m]`` of the open chunk: the attributions to the input frames ``t_in``
        (each input frame at most once per chunk).

        The tile is reduced in its own dtype (memory-bound passes; float32 sums of at most ``n T_in`` or
        ``F_in`` terms), the results added in float64. ``consume=True`` lets it be overwritten (``|a|`` in
        place: one tile-sized allocation less)."""
        if self._t_out is None:
            raise ValueError("no open chunk: begin(t_out) first")
        f_out, _, f_in, _ = self.shape
        a = as_tensor(tile, self.maps["freq_abs"].device)
        n, m = self._t_out.stop - self._t_out.start, t_in.stop - t_in.start
        if tuple(a.shape) != (f_out, n, f_in, m):
            raise ValueError(
                f"tile of output frames {self._t_out.start}:{self._t_out.stop} "
                f"and input frames {t_in.start}:{t_in.stop} "
                f"must be [{f_out}, {n}, {f_in}, {m}], got {tuple(a.shape)}"
            )
        maps = self.maps
        for kind in KINDS[::-1]:  # signed first, then |a| (in place when consumed)
            if kind == "abs":
                a = a.abs_() if consume else a.abs()
            over_n = a.sum(dim=1)  # [F_out, F_in, m]
            maps[f"global_{kind}"][:, t_in] += over_n.sum(dim=0).double()
            maps[f"freq_{kind}"] += over_n.sum(dim=2).double()
            self._frames[kind][:, :, t_in] += a.sum(dim=2).double()

    def end(self) -> torch.Tensor:
        """Close the open chunk; returns its output bins' signed totals ``[F_out, n]`` (sum over ``f_in, t_in``,
        float64)."""
        if self._t_out is None:
            raise ValueError("no open chunk: begin(t_out) first")
        t_out, maps = self._t_out, self.maps
        for kind in KINDS:
            per_frame = self._frames[kind]  # [F_out, n, T_in]
            maps[f"time_{kind}"][t_out] = per_frame.sum(dim=0)
            rows = per_frame.reshape(-1, per_frame.shape[2])
            maps[f"frame_gram_{kind}"] += rows.t() @ rows
            maps[f"frame_sum_{kind}"] += rows.sum(dim=0)
            torch.maximum(maps[f"frame_peak_{kind}"], rows.abs().amax(dim=0), out=maps[f"frame_peak_{kind}"])
        maps["output_totals"][:, t_out] = self._frames["abs"].sum(dim=2)
        totals = self._frames["signed"].sum(dim=2)
        self._t_out, self._frames = None, {}
        return totals

    def update(self, t_out: slice, chunk, consume: bool = False) -> None:
        """Add the attributions ``chunk`` ``[F_out, n, F_in, T_in]`` of the output frames ``t_out`` (one tile)."""
        a = as_tensor(chunk, self.device)
        f_out, _, f_in, t_in = self.shape
        n = t_out.stop - t_out.start
        if tuple(a.shape) != (f_out, n, f_in, t_in):
            raise ValueError(
                f"chunk of output frames {t_out.start}:{t_out.stop} must be [{f_out}, {n}, {f_in}, {t_in}], "
                f"got {tuple(a.shape)}"
            )
        self.begin(t_out, a.device)
        self.add(slice(0, t_in), a, consume)
        self.end()

    def result(self) -> InfluenceMaps:
        """The maps, on the host (all zero if no chunk came)."""
        maps = self.maps if self.maps is not None else self._allocate(torch.device("cpu"))
        arrays = {name: value.cpu().numpy() for name, value in maps.items()}
        arrays["global_positive"] = (arrays["global_abs"] + arrays["global_signed"]) / 2
        arrays["global_negative"] = (arrays["global_signed"] - arrays["global_abs"]) / 2
        return InfluenceMaps(self.shape, {name: arrays[name] for name in MAP_DIMS})

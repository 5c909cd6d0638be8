"""Every reduction of the attribution tensor, written once as an accumulator over chunks of outputs.

The 4-D tensor ``[f_out, t_out, f_in, t_in]`` holds, for every output bin of the mask, the
attribution over every input bin. Its reductions are computed chunk by chunk of output frames by
:class:`InfluenceAccumulator` (``update(t_out slice, chunk [F_out, n, F_in, T_in])``, then
``result()``); a tensor in memory is one chunk. :class:`OutputSums` sums any attribution array
``[*targets, *inputs]`` over its explained outputs (the global influence, the perturbation ranking,
the group and latent influence). :func:`reduce_file` and :func:`output_sums` feed them from a stored file.

Aggregation is always explicit: ``"abs_sum"`` sums ``|attribution|`` (magnitude of involvement,
signs cannot cancel) and ``"signed_sum"`` sums the signed values (net effect). Sums are float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..store.reader import AttributionFile

AGGREGATIONS = ("abs_sum", "signed_sum")
ATTRIBUTION_SHAPE = "[f_out, t_out, f_in, t_in]"


def check_aggregation(aggregation: str) -> str:
    """Return ``aggregation`` if it is one of :data:`AGGREGATIONS`, else raise ``ValueError``."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {aggregation!r}; expected one of {AGGREGATIONS}")
    return aggregation


def aggregate(attributions, aggregation: str, axis=None) -> np.ndarray:
    """Reduce ``attributions`` over ``axis`` (``None``: everything): ``"abs_sum"`` sums ``|value|``,
    ``"signed_sum"`` the values; float64 sums, arrays of any shape."""
    check_aggregation(aggregation)
    a = np.asarray(attributions)
    if aggregation == "abs_sum":
        a = np.abs(a)
    return np.sum(a, axis=axis, dtype=np.float64)


def check_attributions(attributions) -> np.ndarray:
    """``attributions`` as an array of shape ``[f_out, t_out, f_in, t_in]``, else ``ValueError``."""
    a = np.asarray(attributions)
    if a.ndim != 4:
        raise ValueError(f"attributions must have shape {ATTRIBUTION_SHAPE} (4-D), got an array with shape {a.shape}")
    return a


def normalise_peak(values: np.ndarray) -> np.ndarray:
    """``values`` divided by their largest ``|value|`` (an all-zero or non-finite peak leaves them as they are)."""
    peak = np.max(np.abs(values)) if values.size else 0.0
    return values / peak if peak > 0 and np.isfinite(peak) else values


class OutputSums:
    """Sums over the explained outputs of attributions ``[*targets, *inputs]``, chunk by chunk.

    ``signed`` and ``absolute`` ``[*inputs]``: the signed and ``|.|`` sums over every target;
    ``totals`` ``[*targets]``: each target's total ``|attribution|`` over its inputs.
    """

    def __init__(self, shape: tuple[int, ...], n_target_axes: int) -> None:
        self.n_target_axes = n_target_axes
        self.signed = np.zeros(shape[n_target_axes:])
        self.absolute = np.zeros(shape[n_target_axes:])
        self.totals = np.zeros(shape[:n_target_axes])

    def update(self, index: tuple, chunk: np.ndarray) -> None:
        """Add ``chunk``, the values at ``index`` (slices over the target axes)."""
        targets = tuple(range(self.n_target_axes))
        magnitude = np.abs(chunk)
        self.signed += np.sum(chunk, axis=targets, dtype=np.float64)
        self.absolute += np.sum(magnitude, axis=targets, dtype=np.float64)
        self.totals[index] = magnitude.sum(axis=tuple(range(self.n_target_axes, chunk.ndim)), dtype=np.float64)

    def summed(self, aggregation: str) -> np.ndarray:
        """The sum over every target with ``aggregation``."""
        return self.absolute if check_aggregation(aggregation) == "abs_sum" else self.signed

    def representative(self) -> tuple[int, ...]:
        """Index of the target with the largest total ``|attribution|`` (first one on ties)."""
        return tuple(int(i) for i in np.unravel_index(int(np.argmax(self.totals)), self.totals.shape))


@dataclass
class Influence:
    """The reductions of a 4-D tensor ``[f_out, t_out, f_in, t_in]`` (float64)."""

    aggregation: str
    global_influence: np.ndarray
    """``[f_in, t_in]``: each input bin's contribution to the whole mask, normalised to max ``|value|`` = 1."""
    time_influence: np.ndarray
    """``[t_out, t_in]`` in attribution units."""
    frequency_influence: np.ndarray
    """``[f_out, f_in]`` in attribution units (all output frequencies)."""
    frame_vectors: np.ndarray | None
    """``[f_out, t_out, t_in]``: aggregated over ``f_in`` (the vectors :func:`frame_correlation` correlates)."""
    output_totals: np.ndarray
    """``[f_out, t_out]``: total ``|attribution|`` of each output bin over all input bins."""

    def representative_bin(self) -> tuple[int, int]:
        """The output bin ``(f_out, t_out)`` with the largest total ``|attribution|`` (first one on ties)."""
        f_out, t_out = np.unravel_index(int(np.argmax(self.output_totals)), self.output_totals.shape)
        return int(f_out), int(t_out)

    def time_correlation(self) -> np.ndarray:
        """:func:`frame_correlation` of :attr:`frame_vectors` ``[t_in, t_in]``."""
        if self.frame_vectors is None:
            raise ValueError("the frame vectors were not accumulated (frame_vectors=False)")
        return frame_correlation(self.frame_vectors)


class InfluenceAccumulator:
    """Accumulates :class:`Influence` of a tensor ``shape = (F_out, T_out, F_in, T_in)`` over chunks of output frames.

    ``frame_vectors=False`` skips the ``[f_out, t_out, t_in]`` array of the temporal correlation.
    """

    def __init__(self, shape: tuple[int, int, int, int], aggregation: str = "abs_sum", frame_vectors: bool = True) -> None:
        self.aggregation = check_aggregation(aggregation)
        f_out, t_out, f_in, t_in = shape
        self.sums = OutputSums(shape, 2)
        self.time = np.zeros((t_out, t_in))
        self.frequency = np.zeros((f_out, f_in))
        self.frame_vectors = np.zeros((f_out, t_out, t_in)) if frame_vectors else None

    def update(self, t_out: slice, chunk: np.ndarray) -> None:
        """Add the attributions ``chunk`` ``[F_out, n, F_in, T_in]`` of the output frames ``t_out``."""
        self.sums.update((slice(None), t_out), chunk)
        values = np.abs(chunk) if self.aggregation == "abs_sum" else chunk
        per_frame = values.sum(axis=2, dtype=np.float64)  # [f_out, n, t_in]
        self.frequency += values.sum(axis=(1, 3), dtype=np.float64)
        self.time[t_out] = per_frame.sum(axis=0)
        if self.frame_vectors is not None:
            self.frame_vectors[:, t_out] = per_frame

    def result(self) -> Influence:
        return Influence(
            self.aggregation, normalise_peak(self.sums.summed(self.aggregation)), self.time, self.frequency,
            self.frame_vectors, self.sums.totals,
        )


def influence(attributions, aggregation: str = "abs_sum", frame_vectors: bool = True) -> Influence:
    """:class:`Influence` of a tensor ``[f_out, t_out, f_in, t_in]`` in memory (one chunk)."""
    a = check_attributions(attributions)
    accumulator = InfluenceAccumulator(a.shape, aggregation, frame_vectors)
    accumulator.update(slice(0, a.shape[1]), a)
    return accumulator.result()


def global_influence(attributions, aggregation: str = "abs_sum") -> np.ndarray:
    """Total contribution of each input bin to the whole mask -> ``[f_in, t_in]``, normalised so the
    largest ``|value|`` is 1 (an all-zero result stays all zero)."""
    return influence(attributions, aggregation, frame_vectors=False).global_influence


def time_influence(attributions, aggregation: str = "abs_sum") -> np.ndarray:
    """Input-time to output-time influence -> ``[t_out, t_in]`` (over ``f_out`` and ``f_in``; attribution
    units). For a causal model entries with ``t_in > t_out`` are zero."""
    return influence(attributions, aggregation, frame_vectors=False).time_influence


def low_outputs(freqs_hz: np.ndarray, max_output_hz: float) -> np.ndarray:
    """Boolean mask of the output frequencies ``<= max_output_hz`` (at least one, else ``ValueError``)."""
    keep = np.asarray(freqs_hz) <= max_output_hz
    if not np.any(keep):
        raise ValueError(f"no output frequency <= max_output_hz={max_output_hz} Hz (lowest is {freqs_hz[0]} Hz)")
    return keep


def frequency_influence(attributions, aggregation: str = "abs_sum", freqs_hz=None, max_output_hz: float | None = None) -> np.ndarray:
    """Input-frequency to output-frequency influence -> ``[f_out, f_in]`` (over ``t_out`` and ``t_in``;
    attribution units). With ``max_output_hz`` (requires ``freqs_hz`` ``[F]``) only the output rows with
    ``freqs_hz <= max_output_hz`` are kept (the "low frequency" view)."""
    a = check_attributions(attributions)
    check_aggregation(aggregation)
    if freqs_hz is not None:
        freqs_hz = np.asarray(freqs_hz, dtype=np.float64)
        if freqs_hz.ndim != 1 or freqs_hz.size != a.shape[0]:
            raise ValueError(f"freqs_hz must be 1-D with {a.shape[0]} entries, got shape {freqs_hz.shape}")
    if max_output_hz is not None and freqs_hz is None:
        raise ValueError("max_output_hz requires freqs_hz")
    fi = influence(a, aggregation, frame_vectors=False).frequency_influence
    return fi if max_output_hz is None else fi[low_outputs(freqs_hz, max_output_hz)]


def time_correlation(attributions, aggregation: str = "signed_sum") -> np.ndarray:
    """Pearson correlation between input frames' attribution vectors -> ``[t_in, t_in]``.

    The vector of input frame ``t_in`` is the attribution aggregated over ``f_in`` (``aggregation``,
    signed by default), one entry per output bin ``(f_out, t_out)``: see :func:`frame_correlation`.
    """
    return influence(attributions, aggregation).time_correlation()


def frame_correlation(frame_vectors) -> np.ndarray:
    """Pearson correlation between input frames' vectors -> ``[t_in, t_in]``.

    ``frame_vectors`` ``[..., t_in]``: the attribution of every input frame, already aggregated over
    ``f_in``, one entry per output bin along the leading axes (e.g. ``[f_out, t_out, t_in]``).
    Frames whose vector is constant (e.g. all zero) have an undefined correlation: their row and
    column are NaN (no warning). Valid frames have exactly 1 on the diagonal; values are clipped to ``[-1, 1]``.
    """
    v = np.asarray(frame_vectors, dtype=np.float64)
    if v.ndim < 1:
        raise ValueError("frame_vectors must have shape [..., t_in]")
    x = v.reshape(-1, v.shape[-1]).T  # [t_in, n_output_bins]
    n = x.shape[1]
    xc = x - x.mean(axis=1, keepdims=True)
    norms = np.sqrt(np.sum(xc * xc, axis=1))
    # A constant row leaves only rounding residue after centring.
    scale = np.max(np.abs(x), axis=1) if n else np.zeros(x.shape[0])
    valid = norms > 10 * np.finfo(np.float64).eps * np.sqrt(max(n, 1)) * scale
    valid &= norms > 0
    z = np.zeros_like(xc)
    z[valid] = xc[valid] / norms[valid, None]
    c = np.clip(z @ z.T, -1.0, 1.0)
    c[~valid, :] = np.nan
    c[:, ~valid] = np.nan
    idx = np.flatnonzero(valid)
    c[idx, idx] = 1.0
    return c


def reduce_file(
    stored: AttributionFile, aggregation: str, chunk_bytes: float = float("inf"), frame_vectors: bool = True
) -> Influence:
    """:class:`Influence` of ``stored``'s 4-D ``attributions``, read chunk by chunk of output frames
    (at most ``chunk_bytes`` as float32 each; one chunk when it all fits)."""
    accumulator = InfluenceAccumulator(stored.shape("attributions"), aggregation, frame_vectors)
    for index, chunk in stored.target_chunks("attributions", chunk_bytes):
        accumulator.update(index[1], chunk)
    return accumulator.result()


def output_sums(stored: AttributionFile, name: str = "attributions", chunk_bytes: float = float("inf")) -> OutputSums:
    """:class:`OutputSums` of dataset ``name`` of ``stored`` (any layout), read chunk by chunk."""
    sums = OutputSums(stored.shape(name), stored.n_target_axes(name))
    for index, chunk in stored.target_chunks(name, chunk_bytes):
        sums.update(index, chunk)
    return sums

"""Every reduction of the attribution tensor, written once as an accumulator over chunks of outputs.

The 4-D tensor ``[f_out, t_out, f_in, t_in]`` holds, for every output bin of the mask, the
attribution over every input bin. Its reductions are computed chunk by chunk of output frames by
:class:`InfluenceAccumulator` (``update(t_out slice, chunk [F_out, n, F_in, T_in])``, then
``result()``), built on :class:`~xai_helpers.attribution.maps.MapAccumulator` (the maps' one definition,
also used by the engine on its device); a tensor in memory is one chunk. :class:`OutputSums` sums any attribution array
``[*targets, *inputs]`` over its explained outputs (the global influence, the perturbation ranking,
the group and latent influence). :func:`reduce_file` and :func:`output_sums` feed them from a stored file (a file's
stored ``maps/`` when it has them).

Aggregation is always explicit: ``"abs_sum"`` sums ``|attribution|`` (magnitude of involvement,
signs cannot cancel) and ``"signed_sum"`` sums the signed values (net effect). Sums are float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..attribution.maps import InfluenceMaps, MapAccumulator
from ..store.reader import AttributionFile

AGGREGATIONS = ("abs_sum", "signed_sum")
ATTRIBUTION_SHAPE = "[f_out, t_out, f_in, t_in]"


def check_choice(value: str, choices: tuple[str, ...], name: str) -> str:
    """``value`` if it is one of ``choices``, else ``ValueError`` naming the parameter ``name``."""
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of {choices}")
    return value


def check_aggregation(aggregation: str) -> str:
    """Return ``aggregation`` if it is one of :data:`AGGREGATIONS`, else raise ``ValueError``."""
    return check_choice(aggregation, AGGREGATIONS, "aggregation")


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
    """The reductions of a 4-D tensor ``[f_out, t_out, f_in, t_in]`` with one aggregation (float64),
    read off its :class:`~xai_helpers.attribution.maps.InfluenceMaps`."""

    aggregation: str
    time_influence: np.ndarray
    """``[t_out, t_in]`` in attribution units."""
    frequency_influence: np.ndarray
    """``[f_out, f_in]`` in attribution units (all output frequencies)."""
    correlation: np.ndarray
    """``[t_in, t_in]``: Pearson correlation of the input frames' vectors (see :func:`frame_correlation`)."""
    output_totals: np.ndarray
    """``[f_out, t_out]``: total ``|attribution|`` of each output bin over all input bins."""
    global_maps: dict[str, np.ndarray]
    """Every map of :data:`GLOBAL_MAPS` ``[f_in, t_in]``, peak 1 (see :func:`global_map`), whatever the aggregation."""

    @property
    def global_influence(self) -> np.ndarray:
        """``[f_in, t_in]``: each input bin's contribution to the whole mask with :attr:`aggregation`, normalised to
        max ``|value|`` = 1 (the global map of that name)."""
        return self.global_maps[self.aggregation]

    def representative_bin(self) -> tuple[int, int]:
        """The output bin ``(f_out, t_out)`` with the largest total ``|attribution|`` (first one on ties)."""
        f_out, t_out = np.unravel_index(int(np.argmax(self.output_totals)), self.output_totals.shape)
        return int(f_out), int(t_out)

    def time_correlation(self) -> np.ndarray:
        """:attr:`correlation` ``[t_in, t_in]``."""
        return self.correlation


def influence_from_maps(maps: InfluenceMaps, aggregation: str = "abs_sum") -> Influence:
    """:class:`Influence` with ``aggregation`` of the maps of a 4-D tensor (streamed, stored or reduced)."""
    kind = "abs" if check_aggregation(aggregation) == "abs_sum" else "signed"
    return Influence(
        aggregation,
        maps[f"time_{kind}"],
        maps[f"freq_{kind}"],
        maps.correlation(kind),
        maps["output_totals"],
        all_global_maps(maps),
    )


class InfluenceAccumulator:
    """Accumulates :class:`Influence` of a tensor ``shape = (F_out, T_out, F_in, T_in)`` over chunks of output
    frames (numpy arrays or tensors): :class:`~xai_helpers.attribution.maps.MapAccumulator` with an aggregation."""

    def __init__(self, shape: tuple[int, int, int, int], aggregation: str = "abs_sum") -> None:
        self.aggregation = check_aggregation(aggregation)
        self.maps = MapAccumulator(shape)

    def update(self, t_out: slice, chunk) -> None:
        """Add the attributions ``chunk`` ``[F_out, n, F_in, T_in]`` of the output frames ``t_out``."""
        self.maps.update(t_out, chunk)

    def result(self) -> Influence:
        return influence_from_maps(self.maps.result(), self.aggregation)


def influence(attributions, aggregation: str = "abs_sum") -> Influence:
    """:class:`Influence` of a tensor ``[f_out, t_out, f_in, t_in]`` in memory (one chunk)."""
    a = check_attributions(attributions)
    accumulator = InfluenceAccumulator(a.shape, aggregation)
    accumulator.update(slice(0, a.shape[1]), a)
    return accumulator.result()


def global_influence(attributions, aggregation: str = "abs_sum") -> np.ndarray:
    """Total contribution of each input bin to the whole mask -> ``[f_in, t_in]``, normalised so the
    largest ``|value|`` is 1 (an all-zero result stays all zero)."""
    return influence(attributions, aggregation).global_influence


def time_influence(attributions, aggregation: str = "abs_sum") -> np.ndarray:
    """Input-time to output-time influence -> ``[t_out, t_in]`` (over ``f_out`` and ``f_in``; attribution
    units). For a causal model entries with ``t_in > t_out`` are zero."""
    return influence(attributions, aggregation).time_influence


ROW_NORMALISATIONS = ("rows", "none")
"""How the time and frequency maps are scaled: ``"rows"`` divides each output row by its total ``|value|``
(the original project's; rows of a non-negative map sum to 1), ``"none"`` keeps the sums in attribution units."""

NET_GLOBAL_MAPS = ("net_abs", "net_positive", "net_negative")
"""The original project's global maps, of the signed sum ``S = sum over output bins of a``: ``|S|``, ``max(S, 0)``
and ``max(-S, 0)``."""
GLOBAL_MAPS = (*AGGREGATIONS, *NET_GLOBAL_MAPS)
"""Every global map by name: ``"abs_sum"`` (``sum |a|``, signs cannot cancel), ``"signed_sum"`` (``sum a``), then
:data:`NET_GLOBAL_MAPS`."""


def normalise_rows(values) -> np.ndarray:
    """Each row of ``values`` ``[rows, columns]`` divided by the sum of its ``|values|`` (float64): rows of a
    non-negative map sum to exactly 1 (up to rounding), rows of a signed map have ``|values|`` summing to 1;
    an all-zero row stays zero."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"values must be a 2-D map [rows, columns], got shape {v.shape}")
    totals = np.sum(np.abs(v), axis=1, keepdims=True)
    return np.divide(v, totals, out=np.zeros_like(v), where=totals > 0)


def normalise_map(values, normalisation: str) -> np.ndarray:
    """A time or frequency map ``[rows, columns]`` scaled by ``normalisation`` (:data:`ROW_NORMALISATIONS`)."""
    if check_choice(normalisation, ROW_NORMALISATIONS, "normalisation") == "rows":
        return normalise_rows(values)
    return np.asarray(values, dtype=np.float64)


def net_global_maps(global_signed) -> dict[str, np.ndarray]:
    """The original project's three global maps of the signed sum ``S`` ``[f_in, t_in]`` (``global_signed``):
    ``net_abs`` = ``|S|``, ``net_positive`` = ``max(S, 0)``, ``net_negative`` = ``max(-S, 0)``, all divided by
    the one peak ``max |S|`` (so ``net_abs`` reaches 1 and the two parts share its scale; an all-zero ``S``
    stays zero). Unlike ``sum |a|``, opposite attributions of one input bin to different outputs cancel."""
    s = normalise_peak(np.asarray(global_signed, dtype=np.float64))
    return {"net_abs": np.abs(s), "net_positive": np.clip(s, 0, None), "net_negative": np.clip(-s, 0, None)}


def global_map(maps: InfluenceMaps, name: str) -> np.ndarray:
    """Global map ``name`` (:data:`GLOBAL_MAPS`) ``[f_in, t_in]`` of ``maps``, scaled to a peak ``|value|`` of 1:
    ``"abs_sum"`` and ``"signed_sum"`` are ``maps["global_abs"]`` and ``maps["global_signed"]`` over their own
    peak, the others :func:`net_global_maps`."""
    if check_choice(name, GLOBAL_MAPS, "global map") in AGGREGATIONS:
        return normalise_peak(maps["global_abs" if name == "abs_sum" else "global_signed"])
    return net_global_maps(maps["global_signed"])[name]


def all_global_maps(maps: InfluenceMaps) -> dict[str, np.ndarray]:
    """Every map of :data:`GLOBAL_MAPS` by name, as :func:`global_map` gives each, :func:`net_global_maps` computed
    once."""
    return {
        "abs_sum": normalise_peak(maps["global_abs"]),
        "signed_sum": normalise_peak(maps["global_signed"]),
        **net_global_maps(maps["global_signed"]),
    }


def low_inputs(frequency_map, freqs_hz, max_input_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """The original project's low-frequency view: the columns of ``frequency_map`` ``[f_out, f_in]`` whose input
    frequency is ``<= max_input_hz``, every output row kept -> ``(map [f_out, f_low], freqs_hz [f_low])``.
    ``ValueError`` when no input frequency is that low or ``freqs_hz`` does not match the columns."""
    fm = np.asarray(frequency_map, dtype=np.float64)
    f = np.asarray(freqs_hz, dtype=np.float64)
    if fm.ndim != 2 or f.ndim != 1 or f.size != fm.shape[1]:
        raise ValueError(
            f"frequency_map [f_out, f_in] and freqs_hz [f_in] do not match: shapes {fm.shape} and {f.shape}"
        )
    keep = f <= max_input_hz
    if not np.any(keep):
        raise ValueError(f"no input frequency <= low_freq_hz={max_input_hz} Hz (lowest is {f[0]} Hz)")
    return fm[:, keep], f[keep]


def low_outputs(freqs_hz: np.ndarray, max_output_hz: float) -> np.ndarray:
    """Boolean mask of the output frequencies ``<= max_output_hz`` (at least one, else ``ValueError``)."""
    keep = np.asarray(freqs_hz) <= max_output_hz
    if not np.any(keep):
        raise ValueError(f"no output frequency <= max_output_hz={max_output_hz} Hz (lowest is {freqs_hz[0]} Hz)")
    return keep


def frequency_influence(
    attributions, aggregation: str = "abs_sum", freqs_hz=None, max_output_hz: float | None = None
) -> np.ndarray:
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
    fi = influence(a, aggregation).frequency_influence
    return fi if max_output_hz is None else fi[low_outputs(freqs_hz, max_output_hz)]


def time_correlation(attributions, aggregation: str = "signed_sum") -> np.ndarray:
    """Pearson correlation between input frames' attribution vectors -> ``[t_in, t_in]``.

    The vector of input frame ``t_in`` is the attribution aggregated over ``f_in`` (``aggregation``,
    signed by default), one entry per output bin ``(f_out, t_out)``: see :func:`frame_correlation`.
    """
    a = check_attributions(attributions)
    check_aggregation(aggregation)
    return frame_correlation(aggregate(a, aggregation, axis=2))


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


def file_maps(stored: AttributionFile, chunk_bytes: float = float("inf")) -> InfluenceMaps:
    """The :class:`~xai_helpers.attribution.maps.InfluenceMaps` of a file over all output bins: its stored
    ``maps/`` group, else reduced from its 4-D ``attributions`` chunk by chunk of output frames (at most
    ``chunk_bytes`` as float32 each; one chunk when it all fits)."""
    if stored.has_maps:
        return InfluenceMaps(stored.maps_shape, stored.maps)
    accumulator = MapAccumulator(stored.shape("attributions"))
    for index, chunk in stored.target_chunks("attributions", chunk_bytes):
        accumulator.update(index[1], chunk)
    return accumulator.result()


def reduce_file(stored: AttributionFile, aggregation: str, chunk_bytes: float = float("inf")) -> Influence:
    """:class:`Influence` of ``stored`` (all output bins): :func:`file_maps` with ``aggregation``."""
    return influence_from_maps(file_maps(stored, chunk_bytes), aggregation)


def output_sums(stored: AttributionFile, name: str = "attributions", chunk_bytes: float = float("inf")) -> OutputSums:
    """:class:`OutputSums` of dataset ``name`` of ``stored`` (any layout), read chunk by chunk."""
    sums = OutputSums(stored.shape(name), stored.n_target_axes(name))
    for index, chunk in stored.target_chunks(name, chunk_bytes):
        sums.update(index, chunk)
    return sums

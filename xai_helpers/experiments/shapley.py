"""Exact Shapley values of time-frequency tiles: the ground truth that attribution maps are scored against.

**The game.** An explained output is a weighted sum of the model's output bins,
``y(x) = sum_{f,t} weights[f, t] * out(x)[f, t]`` (``weights`` ``[F, T]``: a region's 0/1 mask for a
region sum, a one-hot for one bin). The players are ``k`` tiles, disjoint boolean masks ``[k, F, T]``
over the input bins of the explained segment. For a coalition ``S``, the input takes the tiles in
``S`` from the features ``x`` and every other bin from the baseline ``b``; ``v(S) = y(that input)``.
Bins in no tile would be a player nobody accounts for, so :func:`exact_shapley` appends them as one
more tile named ``"rest"``: the game is complete, ``v(all) = y(x)`` and ``v(none) = y(b)``. With
``K`` baselines ``[K, F, T]`` the game is the mean of the ``K`` per-baseline games (Shapley values
are linear in the game, so they are the mean of the per-baseline values).

**Exact values.** All ``2^k`` coalitions are evaluated (``k <= MAX_TILES``) and
``phi_i = sum_{S not containing i} |S|! (k - |S| - 1)! / k! * (v(S + i) - v(S))``. Efficiency,
``sum phi = v(all) - v(none)``, is checked against plain forward passes of the model on ``x`` and ``b``.

**Speed (NSNet2).** The model is causal, so frames after the last explained frame are never run.
For :class:`~xai_helpers.models.base.MaskFromLogPower` around :class:`~xai_helpers.models.nsnet2.NSNet2` (targets
``mask`` and ``logit``), the
coalitions share their time prefix: tiles are ordered by their first frame, and before the first
frame of tile ``j`` the inputs of coalitions that differ only in tiles ``j, j+1, ...`` are the same,
so their GRU states are computed once and copied when a later tile starts (``2^a`` states while
``a`` tiles have started instead of ``2^k``). The GRUs run as explicit matrix products
(PyTorch's GRU equations), the output layers only at the explained frames and bins. Any other
model (a causal module ``[B, F, T] -> [B, F, T]``) runs every coalition in full, truncated.

Coalition indices: bit ``i`` of the index is set when tile ``i`` (in the order given) is present.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import factorial
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..models.base import MaskFromLogPower
from ..models.nsnet2 import NSNet2
from ..attribution.regions import region_bins

MAX_TILES = 20
"""At most this many tiles (players): 2^20 coalitions."""
REST = "rest"
"""Name of the tile appended for bins that no given tile covers."""

Model = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Tiles:
    """Players of the game: disjoint boolean masks ``masks`` ``[k, F, T]`` and their ``names`` ``[k]``."""

    masks: np.ndarray
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        masks = np.asarray(self.masks)
        if masks.ndim != 3 or masks.dtype != bool:
            raise ValueError(f"tiles: masks must be boolean [k, F, T], got {masks.dtype} {masks.shape}")
        if len(self.names) != masks.shape[0]:
            raise ValueError(f"tiles: {masks.shape[0]} masks but {len(self.names)} names")
        overlap = int((masks.sum(axis=0) > 1).sum())
        if overlap:
            raise ValueError(f"tiles: {overlap} bins lie in more than one tile; tiles must be disjoint")

    @property
    def count(self) -> int:
        """Number of tiles ``k``."""
        return self.masks.shape[0]


def grid_tiles(
    freqs_hz: np.ndarray, times_s: np.ndarray, f_edges_hz: Sequence[float], t_edges_s: Sequence[float]
) -> Tiles:
    """The grid of bands ``f_edges_hz`` by spans ``t_edges_s`` over bins ``freqs_hz`` ``[F]`` x frames ``times_s``
    ``[T]``.

    A bin is in ``[lo, hi)`` of its band and span (centre frequency, frame centre time, as in
    :mod:`xai_helpers.regions`); the edges must be increasing and cover every bin. Tiles are ordered
    band-major (all spans of the lowest band first) and named ``"LO-HIHz@START-ENDs"``.
    """
    f_edges, t_edges = np.asarray(f_edges_hz, dtype=float), np.asarray(t_edges_s, dtype=float)
    for name, edges, centres, unit in (("f_edges_hz", f_edges, freqs_hz, "Hz"), ("t_edges_s", t_edges, times_s, "s")):
        if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
            raise ValueError(f"{name} must be at least 2 increasing edges, got {edges.tolist()}")
        if edges[0] > centres[0] or edges[-1] <= centres[-1]:
            raise ValueError(
                f"{name} {edges.tolist()} must cover every bin, {centres[0]:g}-{centres[-1]:g} {unit} (last edge "
                "exclusive)"
            )
    masks, names = [], []
    for f_lo, f_hi in zip(f_edges[:-1], f_edges[1:]):
        for t_lo, t_hi in zip(t_edges[:-1], t_edges[1:]):
            masks.append(region_bins((f_lo, f_hi, t_lo, t_hi), freqs_hz, times_s))
            names.append(f"{f_lo:g}-{f_hi:g}Hz@{t_lo:g}-{t_hi:g}s")
    return Tiles(np.stack(masks), tuple(names))


def with_event(tiles: Tiles, event: np.ndarray, name: str = "event") -> Tiles:
    """``tiles`` with the bins of ``event`` ``[F, T]`` (boolean, e.g. a planted burst) cut out of them and
    appended as a tile of their own, named ``name``; tiles left empty are dropped."""
    event = np.asarray(event)
    if event.dtype != bool or event.shape != tiles.masks.shape[1:]:
        raise ValueError(
            f"event must be a boolean mask shaped like the tiles {tiles.masks.shape[1:]}, got {event.dtype} "
            f"{event.shape}"
        )
    if not event.any():
        raise ValueError("event holds no bin")
    cut = tiles.masks & ~event
    keep = cut.any(axis=(1, 2))
    return Tiles(np.concatenate([cut[keep], event[None]]), (*np.asarray(tiles.names)[keep].tolist(), name))


def _check_inputs(
    features: np.ndarray, baselines: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    features = np.asarray(features, dtype=np.float64)
    baselines = np.asarray(baselines, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(f"features must be [F, T], got shape {features.shape}")
    if baselines.ndim != 3 or baselines.shape[1:] != features.shape:
        raise ValueError(f"baselines must be [K, F, T] with [F, T] = {features.shape}, got shape {baselines.shape}")
    if weights.shape != features.shape:
        raise ValueError(
            f"weights (the explained output's weights over output bins) must be {features.shape}, got {weights.shape}"
        )
    if not np.any(weights):
        raise ValueError("weights are all zero: no output is explained")
    return features, baselines, weights


def complete_tiles(tiles: Tiles | np.ndarray, shape: tuple[int, int]) -> Tiles:
    """``tiles`` (a :class:`Tiles` or boolean masks ``[k, F, T]``) checked against the segment ``shape``
    ``(F, T)``, with a tile named ``"rest"`` appended for bins no tile covers; ``ValueError`` for a
    shape mismatch or more than :data:`MAX_TILES` tiles."""
    if not isinstance(tiles, Tiles):
        masks = np.asarray(tiles)
        tiles = Tiles(masks, tuple(f"tile {i}" for i in range(len(masks))))
    if tiles.masks.shape[1:] != tuple(shape):
        raise ValueError(
            f"tiles: masks [k, F, T] must match the features' [F, T] = {tuple(shape)}, got {tiles.masks.shape}"
        )
    if (~tiles.masks.any(axis=(1, 2))).any():
        raise ValueError(f"tiles: empty tiles {[n for n, m in zip(tiles.names, tiles.masks) if not m.any()]}")
    rest = ~tiles.masks.any(axis=0)
    if rest.any():
        tiles = Tiles(np.concatenate([tiles.masks, rest[None]]), (*tiles.names, REST))
    if tiles.count > MAX_TILES:
        raise ValueError(
            f"tiles: {tiles.count} tiles (with any 'rest') give 2^{tiles.count} coalitions; at most {MAX_TILES} are "
            "allowed"
        )
    return tiles


def explained_output(model: Model, features: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The explained output ``sum weights * model(x)`` ``[B]`` (float64) for log-power ``features`` ``[B, F, T]``
    (or ``[F, T]``), run in the dtype of the model's parameters (float64 for a module without any)."""
    batch = np.asarray(features)[None] if np.ndim(features) == 2 else np.asarray(features)
    reference = next(iter(model.parameters()), None) if isinstance(model, nn.Module) else None
    device = reference.device if reference is not None else torch.device("cpu")
    dtype = reference.dtype if reference is not None else torch.float64  # parameter-free modules: float64
    with torch.no_grad():
        out = model(torch.as_tensor(batch, dtype=dtype, device=device)).double().cpu().numpy()
    return np.einsum("bft,ft->b", out, np.asarray(weights, dtype=np.float64))


def burst_effect(model: Model, with_burst: np.ndarray, without_burst: np.ndarray, weights: np.ndarray) -> float:
    """Causal effect of a planted event on the explained output: ``y(with_burst) - y(without_burst)``
    for log-power features ``[F, T]`` of the same segment with and without it (output units: mask or logit)."""
    if np.shape(with_burst) != np.shape(without_burst):
        raise ValueError(
            f"with_burst {np.shape(with_burst)} and without_burst {np.shape(without_burst)} must share one [F, T] shape"
        )
    outputs = explained_output(model, np.stack([with_burst, without_burst]), weights)
    return float(outputs[0] - outputs[1])


def coalition_values(
    model: Model,
    features: np.ndarray,
    baselines: np.ndarray,
    tiles: Tiles | np.ndarray,
    weights: np.ndarray,
    *,
    batch_size: int = 1024,
) -> np.ndarray:
    """``v(S)`` ``[2^k]`` (float64) of every coalition of ``tiles`` after :func:`complete_tiles` (a ``"rest"``
    tile, if any, is the last bit).

    ``model``: a causal module, log-power ``[B, F, T]`` -> output ``[B, F, T]``
    (:class:`~xai_helpers.models.base.MaskFromLogPower` around NSNet2 takes the prefix-sharing path).
    ``features`` ``[F, T]``, ``baselines`` ``[K, F, T]``, ``weights`` ``[F, T]``; the value is the mean
    over the ``K`` baselines. ``batch_size`` bounds the coalitions (or GRU states) run at once.
    """
    features, baselines, weights = _check_inputs(features, baselines, weights)
    tiles = complete_tiles(tiles, features.shape)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    n_frames = int(np.flatnonzero(weights.any(axis=0))[-1]) + 1  # causal: later frames cannot matter
    features, baselines, weights = features[:, :n_frames], baselines[:, :, :n_frames], weights[:, :n_frames]
    masks = tiles.masks[:, :, :n_frames]
    first = np.array([np.flatnonzero(m.any(axis=0))[0] if m.any() else n_frames for m in masks])
    order = np.argsort(first, kind="stable")
    n_active = int((first < n_frames).sum())  # tiles with no bin before the end are null players
    prefix_shared = (
        isinstance(model, MaskFromLogPower) and isinstance(model.model, NSNet2) and model.target in ("mask", "logit")
    )
    run = _prefix_shared if prefix_shared else _in_full
    values = np.mean(
        [
            run(model, features, baseline, masks[order[:n_active]], first[order[:n_active]], weights, batch_size)
            for baseline in baselines
        ],
        axis=0,
    )
    # Null players (indices above n_active in sorted order) leave v unchanged; then back to the given order.
    sorted_values = np.tile(values, 2 ** (tiles.count - n_active))
    index = np.arange(2**tiles.count)
    sorted_index = np.zeros_like(index)
    for position, tile in enumerate(order):
        sorted_index |= ((index >> tile) & 1) << position
    return sorted_values[sorted_index]


def _in_full(model, features, baseline, masks, first, weights, batch_size) -> np.ndarray:
    """Every coalition of ``masks`` ``[a, F, T]`` run through ``model`` in full (any causal module)."""
    n_tiles = masks.shape[0]
    delta = (features - baseline)[None] * masks
    values = []
    for start in range(0, 2**n_tiles, batch_size):
        index = np.arange(start, min(start + batch_size, 2**n_tiles))
        bits = ((index[:, None] >> np.arange(n_tiles)) & 1).astype(np.float64)
        inputs = baseline + np.einsum("sk,kft->sft", bits, delta)
        values.append(explained_output(model, inputs, weights))
    return np.concatenate(values)


def _prefix_shared(model: MaskFromLogPower, features, baseline, masks, first, weights, batch_size) -> np.ndarray:
    """Values ``[2^a]`` of the coalitions of ``masks`` ``[a, F, T]`` (ordered by ``first`` frame) on NSNet2,
    sharing GRU states over common time prefixes (module docstring)."""
    net: NSNet2 = model.model
    parameter = next(net.parameters())
    device, dtype = parameter.device, parameter.dtype

    def tensor(array: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(array), dtype=dtype, device=device)

    n_frames = features.shape[1]
    delta = tensor(((features - baseline)[None] * masks).transpose(0, 2, 1))  # [a, T, F]
    base = tensor(baseline.T)  # [T, F]
    explained_bins = np.flatnonzero(weights.any(axis=1))
    head_weights = tensor(weights[explained_bins].T)  # [T, F_explained]
    grus = [_gru_weights(net.gru1), _gru_weights(net.gru2)]
    hidden = net.hidden
    states = [torch.zeros(1, hidden, dtype=dtype, device=device) for _ in grus]
    values = torch.zeros(1, dtype=torch.float64, device=device)
    n_started = 0
    boundaries = np.unique(np.concatenate([[0], first, [n_frames]]))
    with torch.no_grad():
        for start, stop in zip(boundaries[:-1], boundaries[1:]):
            started = int((first <= start).sum())
            copies = 2 ** (started - n_started)
            states = [s.repeat(copies, 1) for s in states]  # new tiles take the high bits
            values = values.repeat(copies)
            n_started = started
            touching = [j for j in range(started) if masks[j][:, start:stop].any()]
            out_frames = [t for t in range(start, stop) if weights[:, t].any()]
            for lo in range(0, len(values), batch_size):
                index = torch.arange(lo, min(lo + batch_size, len(values)), device=device)
                local = torch.zeros_like(index)
                for position, tile in enumerate(touching):
                    local |= ((index >> tile) & 1) << position
                patterns, inverse = torch.unique(local, return_inverse=True)
                bits = ((patterns[:, None] >> torch.arange(len(touching), device=device)) & 1).to(dtype)
                chunk = base[start:stop] + torch.einsum("pk,ktf->ptf", bits, delta[touching, start:stop])
                # GRU-1's input projection depends on the local pattern only: computed once per pattern.
                sequence = _project(net.relu_in(net.fc_in(chunk)), grus[0])[inverse]
                sequence, states[0][index] = _gru_run(sequence, states[0][index], grus[0])
                sequence, states[1][index] = _gru_run(_project(sequence, grus[1]), states[1][index], grus[1])
                if out_frames:
                    values[index] += _head(
                        net,
                        model.target,
                        sequence[:, [t - start for t in out_frames]],
                        explained_bins,
                        head_weights[out_frames],
                    )
    return values.cpu().numpy()


def _gru_weights(gru: nn.GRU) -> tuple[torch.Tensor, ...]:
    return gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0


def _project(inputs: torch.Tensor, weights) -> torch.Tensor:
    """A GRU's input projection ``W_ih x + b_ih`` ``[B, L, 3H]`` of ``inputs`` ``[B, L, I]``."""
    w_ih, _, b_ih, _ = weights
    return torch.nn.functional.linear(inputs, w_ih, b_ih)


def _gru_run(projected: torch.Tensor, state: torch.Tensor, weights) -> tuple[torch.Tensor, torch.Tensor]:
    """PyTorch's GRU (gates r, z, n; reset applied after the hidden projection) over projected inputs
    ``[B, L, 3H]`` (:func:`_project`) from ``state`` ``[B, H]``: ``(outputs [B, L, H], last state [B, H])``."""
    _, w_hh, _, b_hh = weights
    outputs = []
    for step in range(projected.shape[1]):
        gh = torch.nn.functional.linear(state, w_hh, b_hh)
        i_r, i_z, i_n = projected[:, step].chunk(3, dim=1)
        h_r, h_z, h_n = gh.chunk(3, dim=1)
        reset, update = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
        candidate = torch.tanh(i_n + reset * h_n)
        state = candidate + update * (state - candidate)
        outputs.append(state)
    return torch.stack(outputs, dim=1), state


def _head(net: NSNet2, target: str, hidden: torch.Tensor, bins: np.ndarray, weights: torch.Tensor) -> torch.Tensor:
    """Weighted sum ``[B]`` of NSNet2's output (``target``) at the explained ``bins``, from GRU-2
    outputs ``[B, L, H]``."""
    dense = net.relu_out2(net.fc_out2(net.relu_out1(net.fc_out1(hidden))))
    logit = torch.nn.functional.linear(dense, net.fc_out3.weight[bins], net.fc_out3.bias[bins])
    out = logit if target == "logit" else net.mask_floor(net.sigmoid(logit))
    return torch.einsum("blf,lf->b", out.double(), weights.double())


def shapley_from_values(values: np.ndarray) -> np.ndarray:
    """Exact Shapley values ``[k]`` from the values ``[2^k]`` of every coalition (bit ``i`` = player ``i``)."""
    values = np.asarray(values, dtype=np.float64)
    n_players = int(np.log2(len(values))) if len(values) else -1
    if values.ndim != 1 or n_players < 1 or 2**n_players != len(values):
        raise ValueError(f"values must hold 2^k coalition values (k >= 1), got shape {values.shape}")
    index = np.arange(2**n_players)
    size = _popcount(index)
    weight = np.array([factorial(s) * factorial(n_players - s - 1) / factorial(n_players) for s in range(n_players)])
    phi = np.empty(n_players)
    for player in range(n_players):
        without = index[(index >> player) & 1 == 0]
        phi[player] = np.sum(weight[size[without]] * (values[without | (1 << player)] - values[without]))
    return phi


def _popcount(index: np.ndarray) -> np.ndarray:
    """Number of set bits of each index."""
    count = np.zeros_like(index)
    for bit in range(int(index.max()).bit_length()):
        count += (index >> bit) & 1
    return count


@dataclass
class ShapleyResult:
    """Exact Shapley values of a tile game and its checks (output units: mask or logit, summed)."""

    values: np.ndarray
    """``phi`` ``[k]``, one per tile of ``tiles``."""
    tiles: Tiles
    """The players, with ``"rest"`` appended where the given tiles left bins uncovered."""
    v_all: float
    """``v(all tiles)`` from the game."""
    v_none: float
    """``v(no tile)`` from the game."""
    output_input: float
    """The explained output on the features, from a plain forward pass."""
    output_baseline: float
    """The explained output on the baselines (mean over K), from plain forward passes."""

    @property
    def efficiency_error(self) -> float:
        """``|sum phi - (y(x) - y(b))|`` against the plain forward passes."""
        return float(abs(self.values.sum() - (self.output_input - self.output_baseline)))


def exact_shapley(
    model: Model,
    features: np.ndarray,
    baselines: np.ndarray,
    tiles: Tiles | np.ndarray,
    weights: np.ndarray,
    *,
    batch_size: int = 1024,
    tolerance: float = 1e-4,
) -> ShapleyResult:
    """Exact Shapley values of ``tiles`` for the explained output ``weights`` ``[F, T]`` (module docstring).

    ``model`` maps log-power ``[B, F, T]`` to the explained quantity ``[B, F, T]`` and must be causal;
    ``features`` ``[F, T]``, ``baselines`` ``[K, F, T]``, ``tiles`` a :class:`Tiles` or boolean masks
    ``[k, F, T]`` (disjoint; bins in none become the tile ``"rest"``). Raises ``RuntimeError`` when
    ``v(all)`` or ``v(none)`` differs from a plain forward pass by more than ``tolerance`` times
    ``max(1, |y(x) - y(b)|)`` (the prefix-sharing path is checked on every call).
    """
    features, baselines, weights = _check_inputs(features, baselines, weights)
    tiles = complete_tiles(tiles, features.shape)
    values = coalition_values(model, features, baselines, tiles, weights, batch_size=batch_size)
    phi = shapley_from_values(values)
    output_input = float(explained_output(model, features, weights)[0])
    output_baseline = float(explained_output(model, baselines, weights).mean())
    scale = max(1.0, abs(output_input - output_baseline))
    for name, game, direct in (("v(all)", values[-1], output_input), ("v(none)", values[0], output_baseline)):
        if abs(game - direct) > tolerance * scale:
            raise RuntimeError(f"{name} = {game:.6g} from the coalition game differs from the model's {direct:.6g}")
    return ShapleyResult(phi, tiles, float(values[-1]), float(values[0]), output_input, output_baseline)

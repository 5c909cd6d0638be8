"""How the choice of features changes an explanation: one explained output, three feature definitions.

The same explained outputs (output regions' mask sums and single output bins, as weights ``[F, T]``
over the output bins of a short segment of speech in pink noise) are explained with

* **bins** (definition ``"bins"``): a map over every input bin ``[F, T]``; ``deeplift`` is the exact
  engine's DeepLIFT with the complete rule (:mod:`xai_helpers.attribution.engine`), ``saliency`` the
  engine's |gradient|, ``deepliftshap``, ``integratedgradients`` and ``gradientshap`` Captum's
  (Captum's DeepLIFT rule: plain gradients inside the GRUs). Region scores are the sums of the map
  over each tile;
* **regions** (``"regions"``): the tiles of a grid are the players: Captum's ``kernelshap``, ``lime``
  and ``occlusion`` (ablation of one whole tile) with the tiles as feature groups, and ``shapley``,
  the exact Shapley values of the tiles (:func:`xai_helpers.experiments.shapley.exact_shapley`), the
  reference every other score is compared with;
* **latent units** (``"latent"``): Captum's layer methods on the model's latent layers (NSNet2's ``fc_in``, ``gru1`` and
  ``gru2``)
  units (``[units, T]`` per output), summed into groups of units that share an input band
  (:mod:`xai_helpers.attribution.unit_profiles`).

Grids (:func:`make_grid`): bands of ``band_hz`` up to ``max_hz`` (or ``mel_bands`` mel-spaced
bands over the whole range) by spans of ``span_s``; bins above ``max_hz`` form one more player,
``"rest"``. Exact Shapley values cost ``2^k`` coalitions: at most :data:`MAX_PLAYERS` players.
Times inside a segment are frame indices times the hop (the first frame at 0 s).

Every method uses one single baseline ``[1, F, T]`` (``zero`` or ``mean``): KernelShap, Lime and
occlusion replace removed tiles by one reference, and the exact game uses the same one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
import torch

from ..attribution.baselines import make_baselines
from ..attribution.captum_backend import attribute_targets
from ..attribution.fast_engine import weighted_output_attributions
from ..attribution.latent import layer_attributions
from ..attribution.methods import MethodOptions
from ..attribution.regions import parse_region, region_bins
from ..attribution.targets import ExplainedOutputs
from ..attribution.unit_profiles import group_by_band, layer_activations, unit_profiles
from ..dsp import mel
from ..dsp.noise.broadband import pink_noise
from ..dsp.noise.mixing import mix_at_snr
from ..dsp.stft import StftConfig, log_power, stft
from ..models.base import MaskFromLogPower, MaskModel
from .shapley import Tiles, complete_tiles, exact_shapley

MAX_PLAYERS = 12
"""At most this many players (tiles and ``rest``) per grid: 4096 coalitions."""
BIN_METHODS = ("deeplift", "deepliftshap", "integratedgradients", "gradientshap", "saliency")
ENGINE_BIN_METHODS = {"deeplift": "deeplift", "saliency": "saliency"}
"""Bin methods computed by the exact engine (complete DeepLIFT rule); the others through Captum."""
REGION_METHODS = ("kernelshap", "lime", "occlusion", "shapley")
LATENT_METHODS = ("deeplift", "integratedgradients")
SINGLE_BASELINES = ("zero", "mean")


@dataclass(frozen=True)
class Grid:
    """Players of one grid: ``tiles`` (with ``rest`` if any), each tile's ``bands`` index (``-1`` for
    ``rest``) and the band edges ``band_edges_hz``."""

    name: str
    tiles: Tiles
    bands: np.ndarray
    band_edges_hz: np.ndarray

    @property
    def labels(self) -> np.ndarray:
        """Tile index ``[F, T]`` of every bin (Captum's feature mask)."""
        return np.argmax(self.tiles.masks, axis=0)

    def band_tiles(self) -> tuple[Tiles, np.ndarray]:
        """``(tiles, sum matrix [bands, k])``: each band's bins over all spans (no ``rest``), and the
        0/1 matrix that sums tile values into band values."""
        n_bands = len(self.band_edges_hz) - 1
        summing = (self.bands[None, :] == np.arange(n_bands)[:, None]).astype(float)
        masks = np.einsum("bk,kft->bft", summing, self.tiles.masks.astype(float)) > 0
        names = tuple(f"{lo:g}-{hi:g}Hz" for lo, hi in zip(self.band_edges_hz[:-1], self.band_edges_hz[1:]))
        return Tiles(masks, names), summing


def mel_edges_hz(n_bands: int, top_hz: float) -> np.ndarray:
    """``n_bands + 1`` band edges from 0 to ``top_hz`` equally spaced on the mel scale (O'Shaughnessy,
    :func:`~xai_helpers.dsp.mel.mel_edges_hz`)."""
    if n_bands < 1:
        raise ValueError(f"mel_bands must be at least 1, got {n_bands}")
    return mel.mel_edges_hz(n_bands, top_hz)


def make_grid(spec: dict, freqs_hz: np.ndarray, n_frames: int, hop_s: float) -> Grid:
    """The :class:`Grid` of ``spec`` over a segment of ``n_frames`` frames (bins ``freqs_hz`` ``[F]``).

    ``spec``: ``{"name", "span_s"}`` (the segment is cut into the whole number of spans nearest to ``span_s``
    s each) plus ``"band_hz"`` (and optionally ``"max_hz"``; bins above
    it become ``rest``) or ``"mel_bands"`` (mel-spaced over the whole range). ``ValueError`` for a
    missing key, or more than :data:`MAX_PLAYERS` players.
    """
    known = {"name", "span_s", "band_hz", "max_hz", "mel_bands"}
    if not {"name", "span_s"} <= set(spec) or ("band_hz" in spec) == ("mel_bands" in spec) or set(spec) - known:
        raise ValueError(
            f"grid {spec!r}: needs 'name', 'span_s' and one of 'band_hz' (with optional 'max_hz') or 'mel_bands'"
        )
    top = float(freqs_hz[-1]) + 1.0
    if "mel_bands" in spec:
        edges = mel_edges_hz(int(spec["mel_bands"]), top)
    else:
        band, limit = float(spec["band_hz"]), min(float(spec.get("max_hz", top)), top)
        edges = np.arange(0.0, limit + band / 2, band)
        edges = np.append(edges[edges < limit], limit)
    # The segment cut into the whole number of spans nearest to span_s each, as equal as frames allow (a model's
    # hop need not divide span_s: 100 ms of DTLN's 8 ms hops is 12.5 frames).
    n_spans = max(1, int(round(n_frames * hop_s / float(spec["span_s"]))))
    bounds = np.round(np.linspace(0, n_frames, n_spans + 1)).astype(int)
    masks, names, bands = [], [], []
    for b, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        in_band = (freqs_hz >= lo) & (freqs_hz < hi)
        for start, stop in zip(bounds[:-1], bounds[1:]):
            mask = np.zeros((len(freqs_hz), n_frames), dtype=bool)
            mask[in_band, start:stop] = True
            if mask.any():
                masks.append(mask)
                names.append(f"{lo:.0f}-{hi:.0f}Hz@{start * hop_s:.2f}-{stop * hop_s:.2f}s")
                bands.append(b)
    tiles = complete_tiles(Tiles(np.stack(masks), tuple(names)), (len(freqs_hz), n_frames))
    if tiles.count > MAX_PLAYERS:
        raise ValueError(
            f"grid {spec['name']!r}: {tiles.count} players (with 'rest'); at most {MAX_PLAYERS} keep exact Shapley "
            "values tractable"
        )
    bands += [-1] * (tiles.count - len(bands))
    return Grid(str(spec["name"]), tiles, np.array(bands), edges)


@dataclass(frozen=True)
class Output:
    """One explained output: ``weights`` ``[F, T]`` over the output bins (a region's 0/1 mask or a one-hot bin)."""

    name: str
    weights: np.ndarray


def make_outputs(
    regions: Sequence[str], bins: Sequence[Sequence[float]], freqs_hz: np.ndarray, times_s: np.ndarray
) -> list[Output]:
    """Explained outputs: ``regions`` (``"LO-HIHz@START-ENDs"``, times from the segment start) and
    ``bins`` (``[Hz, s]``: the nearest output bin; ``s`` must lie inside the segment's frames, ``[-hop / 2,
    T * hop)``, so a time in the last frame's hop counts on any model's grid)."""
    outputs = [Output(str(r), region_bins(parse_region(r), freqs_hz, times_s).astype(float)) for r in regions]
    hop = times_s[1] - times_s[0] if len(times_s) > 1 else 1.0
    for hz, s in bins:
        if not (0 <= hz <= freqs_hz[-1] and -hop / 2 <= s < times_s[-1] + hop):
            raise ValueError(
                f"output bin [{hz} Hz, {s} s] lies outside the segment (0-{freqs_hz[-1]:g} Hz, "
                f"0-{times_s[-1] + hop:.2f} s)"
            )
        weights = np.zeros((len(freqs_hz), len(times_s)))
        f, t = int(np.argmin(np.abs(freqs_hz - hz))), int(np.argmin(np.abs(times_s - s)))
        weights[f, t] = 1.0
        outputs.append(Output(f"bin {freqs_hz[f]:.0f}Hz@{times_s[t]:.2f}s", weights))
    if not outputs:
        raise ValueError("no explained output: give output_regions or output_bins")
    return outputs


@dataclass
class Segment:
    """One explained segment: log-power ``features`` ``[F, T]`` of ``file`` in pink noise (``seed``),
    its single baseline ``[1, F, T]``, bin frequencies (Hz), frame times from its start (s) and its start in
    the file (``start_s``, s: the first frame's index times the hop)."""

    file: str
    seed: int
    features: np.ndarray
    baselines: np.ndarray
    freqs_hz: np.ndarray
    times_s: np.ndarray
    start_s: float = 0.0
    phase: np.ndarray | None = None
    """``[F, T]`` the input's phase (radians), held fixed for models that read it."""


def noisy_segment(
    name: str,
    clean: np.ndarray,
    config: StftConfig,
    snr_db: float,
    seed: int,
    start_s: float,
    duration_s: float,
    baseline: str,
) -> Segment:
    """``clean`` ``[N]`` plus pink noise (``seed``) at ``snr_db``, cut to ``duration_s`` from ``start_s``
    (the model sees the segment alone); ``baseline`` one of :data:`SINGLE_BASELINES`."""
    if baseline not in SINGLE_BASELINES:
        raise ValueError(
            f"baseline {baseline!r}: use one of {SINGLE_BASELINES} (one reference shared by every feature definition)"
        )
    noisy = mix_at_snr(clean, pink_noise(len(clean), seed), snr_db)[0]
    spectrum = stft(noisy, config)
    features = log_power(spectrum).astype(np.float32)
    first, count = int(round(start_s / config.hop_s)), int(round(duration_s / config.hop_s))
    if count < 1 or first + count > features.shape[1]:
        raise ValueError(
            f"segment {start_s}+{duration_s} s does not fit {name!r} ({features.shape[1] * config.hop_s:.2f} s)"
        )
    features = features[:, first : first + count]
    return Segment(
        name,
        seed,
        features,
        make_baselines(baseline, features),
        config.frequencies_hz(),
        np.arange(count) * config.hop_s,
        first * config.hop_s,
        np.angle(spectrum[:, first : first + count]).astype(np.float32),
    )


@dataclass
class Score:
    """One method's explanation of one output on one segment: ``values`` ``[k]`` over the players of
    ``grid`` (bin methods: tile sums; latent: unit groups), ``map`` ``[F, T]`` (bins) or ``[units, T]``
    (latent) where there is one, and ``seconds`` of compute for this output."""

    definition: str
    grid: str
    method: str
    file: str
    seed: int
    output: str
    values: np.ndarray
    seconds: float
    map: np.ndarray | None = None


@dataclass
class Settings:
    """What the study runs; every field is a notebook 06 parameter."""

    bin_methods: Sequence[str] = BIN_METHODS
    region_methods: Sequence[str] = REGION_METHODS
    latent_methods: Sequence[str] = LATENT_METHODS
    latent_layers: Sequence[str] | None = None
    """Latent layers whose units are explained (``None``: all of the model's)."""
    unit_group_grid: str = "mel x 100ms"
    """Name of the grid whose bands group the latent units (its bands must cover every bin)."""
    target: str = "mask"
    n_samples: int = 16
    """GradientShap samples, IG steps, KernelShap / Lime perturbations."""
    seed: int = 0

    def options(self) -> MethodOptions:
        return MethodOptions(n_samples=self.n_samples, seed=self.seed)


def _timed(run: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    result = run()
    return result, time.perf_counter() - start


def bin_scores(
    model: MaskModel, segment: Segment, outputs: Sequence[Output], grids: Sequence[Grid], settings: Settings
) -> list[Score]:
    """Bin-level maps ``[F, T]`` of every output for each of ``settings.bin_methods``, summed over each
    grid's tiles (one :class:`Score` per method, grid and output; ``grid="bins"`` holds the map). DeepLift (the
    complete rule) and Saliency come from the engine (:mod:`~xai_helpers.attribution.fast_engine`, any model)."""
    weights = np.stack([o.weights for o in outputs])
    module = ExplainedOutputs(model, settings.target, torch.as_tensor(weights, dtype=torch.float32), segment.phase)
    features, baselines = torch.as_tensor(segment.features), torch.as_tensor(segment.baselines)
    scores = []
    for method in settings.bin_methods:
        if method in ENGINE_BIN_METHODS:
            (maps, _), seconds = _timed(
                lambda: weighted_output_attributions(
                    model,
                    segment.features,
                    segment.baselines,
                    ENGINE_BIN_METHODS[method],
                    weights,
                    settings.target,
                    rule="complete",
                    phase=segment.phase,
                )
            )
        else:
            result, seconds = _timed(
                lambda: attribute_targets(
                    module, features, baselines, method, range(len(outputs)), options=settings.options()
                )
            )
            maps = result.values
        for output, bin_map in zip(outputs, np.asarray(maps, dtype=np.float64)):
            common = dict(definition="bins", method=method, file=segment.file, seed=segment.seed, output=output.name)
            scores.append(
                Score(grid="bins", values=bin_map.ravel(), seconds=seconds / len(outputs), map=bin_map, **common)
            )
            scores += [
                Score(grid=g.name, values=np.einsum("kft,ft->k", g.tiles.masks, bin_map), seconds=0.0, **common)
                for g in grids
            ]
    return scores


def region_scores(
    model: MaskModel, segment: Segment, outputs: Sequence[Output], grids: Sequence[Grid], settings: Settings
) -> list[Score]:
    """Scores of each grid's tiles as players for ``settings.region_methods`` (``shapley``: exact values)."""
    weights = np.stack([o.weights for o in outputs])
    module = ExplainedOutputs(model, settings.target, torch.as_tensor(weights, dtype=torch.float32), segment.phase)
    features, baselines = torch.as_tensor(segment.features), torch.as_tensor(segment.baselines)
    game = MaskFromLogPower(model, settings.target, segment.phase)
    scores = []
    for grid in grids:
        labels = torch.as_tensor(grid.labels)
        for method in settings.region_methods:
            if method == "shapley":
                results = [
                    _timed(
                        lambda o=o: (
                            exact_shapley(game, segment.features, segment.baselines, grid.tiles, o.weights).values
                        )
                    )
                    for o in outputs
                ]
            else:
                result, seconds = _timed(
                    lambda: attribute_targets(
                        module,
                        features,
                        baselines,
                        method,
                        range(len(outputs)),
                        feature_mask=labels,
                        options=settings.options(),
                    )
                )
                results = [(values, seconds / len(outputs)) for values in result.values]
            scores += [
                Score(
                    "regions", grid.name, method, segment.file, segment.seed, o.name, np.asarray(v, dtype=np.float64), s
                )
                for o, (v, s) in zip(outputs, results)
            ]
    return scores


def segment_profiles(model: MaskModel, segment: Segment, layers: Sequence[str]) -> dict[str, np.ndarray]:
    """Unit input profiles ``{layer: [units, F]}`` on one segment
    (:func:`xai_helpers.attribution.unit_profiles.unit_profiles`)."""
    return {
        layer: unit_profiles(layer_activations(model, layer, segment.phase), segment.features, segment.baselines)
        for layer in layers
    }


def latent_scores(
    model: MaskModel,
    segment: Segment,
    outputs: Sequence[Output],
    unit_groups: dict[str, np.ndarray],
    n_groups: int,
    settings: Settings,
) -> list[Score]:
    """Attributions ``[units, T]`` of every output to each layer's units, summed into the unit groups
    ``unit_groups`` (``{layer: [units]}`` group index ``0..n_groups-1``); ``grid`` is the layer name."""
    weights = torch.as_tensor(np.stack([o.weights for o in outputs]), dtype=torch.float32)
    module = ExplainedOutputs(model, settings.target, weights, segment.phase)
    features, baselines = torch.as_tensor(segment.features), torch.as_tensor(segment.baselines)
    scores = []
    for method in settings.latent_methods:
        for layer in latent_layers(model, settings):
            result, seconds = _timed(
                lambda: layer_attributions(
                    module, features, baselines, method, range(len(outputs)), [layer], settings.options()
                )[layer]
            )
            summing = (unit_groups[layer][None, :] == np.arange(n_groups)[:, None]).astype(float)  # [groups, units]
            for output, unit_map in zip(outputs, np.asarray(result, dtype=np.float64)):
                scores.append(
                    Score(
                        "latent",
                        layer,
                        method,
                        segment.file,
                        segment.seed,
                        output.name,
                        summing @ unit_map.sum(axis=1),
                        seconds / len(outputs),
                        unit_map,
                    )
                )
    return scores


@dataclass
class Study:
    """Everything one run computed: the :class:`Score` list, the grids, the outputs' names, the mean unit
    profiles ``{layer: [units, F]}``, the unit groups ``{layer: [units]}``, one segment for figures, the
    outputs and the mean seconds of the unit profiles per segment."""

    scores: list[Score]
    grids: list[Grid]
    profiles: dict[str, np.ndarray]
    unit_groups: dict[str, np.ndarray]
    example: Segment
    outputs: list[Output]
    profile_seconds: float
    unit_group_grid: str
    """Name of the grid whose bands group the latent units."""
    model: str = "nsnet2"
    """Name of the explained model."""


def latent_layers(model: MaskModel, settings: Settings) -> tuple[str, ...]:
    """``settings.latent_layers``, or, when ``None``, all of ``model``'s that ``settings.target`` depends on."""
    return model.latent_layers_of(settings.target) if settings.latent_layers is None else tuple(settings.latent_layers)


def run_study(
    model: MaskModel,
    clean_waves: dict[str, np.ndarray],
    config: StftConfig,
    grid_specs: Sequence[dict],
    output_regions: Sequence[str],
    output_bins: Sequence[Sequence[float]],
    noise_seeds: Sequence[int],
    snr_db: float,
    segment_start_s: float,
    segment_duration_s: float,
    baseline: str,
    settings: Settings,
    progress: Callable[[Iterable], Iterable] = lambda items: items,
) -> Study:
    """Every file of ``clean_waves`` (``{name: [N]}``) x noise seed: segments, then the three feature
    definitions on the same outputs. Unit profiles are averaged over all segments before the units
    are grouped by the bands of ``settings.unit_group_grid``; latent scores follow."""
    segments = [
        noisy_segment(name, wave, config, snr_db, seed, segment_start_s, segment_duration_s, baseline)
        for name in clean_waves
        for seed in noise_seeds
        for wave in [clean_waves[name]]
    ]
    first = segments[0]
    grids = [make_grid(spec, first.freqs_hz, first.features.shape[1], config.hop_s) for spec in grid_specs]
    by_name = {g.name: g for g in grids}
    if settings.latent_methods and (
        settings.unit_group_grid not in by_name or (by_name[settings.unit_group_grid].bands < 0).any()
    ):
        raise ValueError(
            f"unit_group_grid {settings.unit_group_grid!r} must name a grid whose bands cover every bin (no 'rest'); "
            f"grids: {list(by_name)}"
        )
    outputs = make_outputs(output_regions, output_bins, first.freqs_hz, first.times_s)
    scores: list[Score] = []
    profile_sums: dict[str, np.ndarray] = {}
    profile_seconds = 0.0
    for segment in progress(segments):
        scores += bin_scores(model, segment, outputs, grids, settings)
        scores += region_scores(model, segment, outputs, grids, settings)
        if settings.latent_methods:
            profiles, seconds = _timed(lambda: segment_profiles(model, segment, latent_layers(model, settings)))
            profile_seconds += seconds / len(segments)
            for layer, profile in profiles.items():
                profile_sums[layer] = profile_sums.get(layer, 0.0) + profile / len(segments)
    unit_groups = {}
    if settings.latent_methods:
        group_grid = by_name[settings.unit_group_grid]
        unit_groups = {
            layer: group_by_band(p, first.freqs_hz, group_grid.band_edges_hz) for layer, p in profile_sums.items()
        }
        for segment in segments:
            scores += latent_scores(model, segment, outputs, unit_groups, len(group_grid.band_edges_hz) - 1, settings)
    return Study(
        scores, grids, profile_sums, unit_groups, first, outputs, profile_seconds, settings.unit_group_grid, model.name
    )

"""Can the maps be trusted? Ground truths built in (exact Shapley values, a lesioned model, a planted
burst whose effect is measured), localisation and sanity checks, scored per condition.

**Conditions.** Speech in pink noise plus a narrowband noise burst (known band, span, level relative
to the speech). The explained output is the mask summed over a band *beside* the burst
(``explained_offset_hz`` from the burst's centre, not overlapping it) over the burst's span: there
the burst moves the output materially (``benchmarks/burst_placement_search.py``), while explaining
the burst region itself would reward any method for returning mass to the cell asked about.

**Ground truth** (:mod:`.ground_truth`): exact Shapley values of a grid of tiles plus the burst's
tile (the same removal and baseline as the methods), scored as ``shapley_*`` per method; the burst's
causal effect ``burst_effect`` and Shapley value ``burst_shapley`` with every condition, flagged
``burst_material`` 0/1 (at least ``material_share`` of the explained change); and maps of a model
lesioned in ``lesion_band_hz`` (``lesion_false_positive_share``: any mass there is wrong).

**Localisation** (kept beside the ground truth, read with ``burst_material``):

    enrichment = (share of |attribution| inside the burst region) / (share of the plane it covers)

**Controls**, computed by the same code: ``random``, ``energy`` (log-power rank) and ``flipped``
(the best method's map, negated; :mod:`.agreement`). **Sanity checks**: cascading model
randomisation (Adebayo et al., 2018), completeness (relative convergence delta), agreement with a
brute-force occlusion map, deletion/insertion areas with baseline or ROAD removal.

DeepLift and DeepLiftShap are scored with both rules inside the GRUs (the exact engine,
:func:`~xai_helpers.attribution.engine.weighted_output_attributions`): ``deeplift`` /
``deepliftshap`` the complete rule, ``deeplift_captum`` / ``deepliftshap_captum`` Captum's rule.
Maps are ``[F, T]`` over the input bins of the explained segment, for one region target.
"""

from __future__ import annotations

import copy
import re
import zlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from scipy.stats import spearmanr

from ..attribution.registry import names
from ..attribution.methods import MethodOptions
from ..attribution.captum_backend import attribute_targets
from ..attribution.baselines import make_baselines
from ..attribution.fast_engine import weighted_output_attributions
from ..models.base import MaskFromLogPower, MaskModel, model_device
from ..models.lesion import DEFAULT_BAND_HZ, band_bins, lesioned_model
from ..attribution.regions import Region, feature_mask, region_bins, region_grid
from ..dsp.noise.broadband import pink_noise
from ..dsp.noise.bursts import gaussian_burst
from ..dsp.noise.mixing import mix_at_snr
from ..dsp.stft import StftConfig, log_power, stft
from .curves import curve_areas, deletion_insertion_curves
from .ground_truth import burst_rows, burst_tiles, lesion_rows, shapley_rows, with_controls
from .shapley import burst_effect, exact_shapley
from ..attribution.targets import ExplainedOutputs


DEEPLIFT_RULES = {
    "deeplift": ("deeplift", "complete", "shapley"),
    "deepliftshap": ("deepliftshap", "complete", "shapley"),
    "deeplift_gate_as_weight": ("deeplift", "complete", "gate_as_weight"),
    "deeplift_gradient": ("deeplift", "complete", "gradient"),
    "deeplift_captum": ("deeplift", "captum", "shapley"),
    "deepliftshap_captum": ("deepliftshap", "captum", "shapley"),
}
"""Benchmark method name -> (engine method, DeepLIFT rule, product rule of the complete rule)."""
PRODUCT_RULE_METHODS = {
    "shapley": "deeplift",
    "gate_as_weight": "deeplift_gate_as_weight",
    "gradient": "deeplift_gradient",
}
"""The complete rule's product rules -> their benchmark method names (notebook 05's rule study)."""
GROUPS_ONLY = names(groups_only=True)


@dataclass(frozen=True)
class Burst:
    """A narrowband noise burst: ``width_hz`` around ``center_hz``, from ``start_s`` for ``duration_s``,
    at ``level_db`` relative to the speech (RMS of the burst over its span / RMS of the speech)."""

    center_hz: float = 3000.0
    width_hz: float = 300.0
    start_s: float = 0.8
    duration_s: float = 0.6
    level_db: float = 0.0

    @property
    def region(self) -> Region:
        """The burst's time-frequency region (Hz, Hz, s, s), times from the file start."""
        half = self.width_hz / 2
        return (self.center_hz - half, self.center_hz + half, self.start_s, self.start_s + self.duration_s)


def add_burst(wave: np.ndarray, sample_rate: int, burst: Burst, reference: np.ndarray, seed: int) -> np.ndarray:
    """``wave`` ``[N]`` plus the burst: band-limited Gaussian noise (FFT band mask), level set
    against the RMS of ``reference`` (the clean speech)."""
    start, stop = int(burst.start_s * sample_rate), int((burst.start_s + burst.duration_s) * sample_rate)
    if stop > len(wave) or burst.center_hz + burst.width_hz / 2 > sample_rate / 2:
        raise ValueError(f"burst {burst} does not fit a {len(wave) / sample_rate:.2f} s file at {sample_rate} Hz")
    band = gaussian_burst(stop - start, np.random.default_rng(seed), burst.region[:2], sample_rate)
    band *= np.sqrt(np.mean(reference**2) / np.mean(band**2)) * 10 ** (burst.level_db / 20)
    out = np.array(wave, dtype=np.float64)
    out[start:stop] += band
    return out


def enrichment(weights: np.ndarray, inside: np.ndarray) -> float:
    """Share of ``|weights|`` ``[F, T]`` inside the boolean ``inside`` ``[F, T]``, over its area share."""
    magnitude = np.abs(weights)
    total = magnitude.sum()
    if total <= 0:
        return float("nan")
    return float(magnitude[inside].sum() / total / inside.mean())


@dataclass
class RegionProblem:
    """One explained region on one segment: features ``[F, T]``, baselines ``[K, F, T]``, region mask ``[F, T]``."""

    features: np.ndarray
    baselines: np.ndarray
    target_bins: np.ndarray
    freqs_hz: np.ndarray
    times_s: np.ndarray
    phase: np.ndarray | None = None
    """``[F, T]`` the input's phase (radians), held fixed for models that read it."""

    def module(self, model: MaskModel, target: str = "mask") -> ExplainedOutputs:
        """The model explaining the sum of its output over the region."""
        masks = torch.as_tensor(self.target_bins[None].astype(np.float32))
        return ExplainedOutputs(model, target, masks, self.phase)

    def game(self, model: MaskModel, target: str = "mask") -> MaskFromLogPower:
        """The model as the exact Shapley game reads it: log power ``[B, F, T]`` in, ``target`` out, this
        problem's phase held."""
        return MaskFromLogPower(model, target, self.phase)


def region_problem(
    wave: np.ndarray, config: StftConfig, region: Region, context_s: float, baseline: str = "zero", seed: int = 0
) -> RegionProblem:
    """The segment from ``context_s`` before ``region`` to its end (later frames cannot matter: causality),
    as in notebook 02 (the model runs on the segment alone), with its baselines. Times (``times_s``,
    ``region``) count from the file start."""
    spectrum = stft(wave, config)
    features = log_power(spectrum).astype(np.float32)
    times = config.frame_times_s(features.shape[1])
    first = int(np.searchsorted(times, max(region[2] - context_s, 0.0)))
    last = int(np.searchsorted(times, region[3]))
    features = features[:, first:last]
    freqs, times = config.frequencies_hz(), times[first:last]
    baselines = make_baselines(baseline, features, seed=seed)
    phase = np.angle(spectrum[:, first:last]).astype(np.float32)
    return RegionProblem(features, baselines, region_bins(region, freqs, times), freqs, times, phase)


def method_map(
    model: MaskModel,
    problem: RegionProblem,
    method: str,
    options: MethodOptions,
    group_hz: float = 500.0,
    group_s: float = 0.1,
) -> tuple[np.ndarray, float | None]:
    """``(signed attribution map [F, T], relative convergence delta or None)`` of ``method`` for the region.

    Groups-only methods (KernelShap, Lime) work on a ``group_hz`` x ``group_s`` grid; each group's
    value is spread evenly over its bins so maps compare bin for bin. The names of
    :data:`DEEPLIFT_RULES` run on the engine (:mod:`~xai_helpers.attribution.fast_engine`: any model, each rule and
    product rule), the rest through Captum.
    """
    device = model_device(model)
    module = problem.module(model).to(device)
    features = torch.as_tensor(problem.features, device=device)
    baselines = torch.as_tensor(problem.baselines, device=device)
    if method in DEEPLIFT_RULES:
        engine_method, rule, product_rule = DEEPLIFT_RULES[method]
        values, deltas = weighted_output_attributions(
            model,
            problem.features,
            problem.baselines,
            engine_method,
            problem.target_bins[None].astype(np.float32),
            rule=rule,
            phase=problem.phase,
            product_rule=product_rule,
        )
        with torch.no_grad():
            change = float(module(features[None])[0, 0] - module(baselines).mean())
        return values[0].astype(np.float64), float(abs(deltas[0]) / max(abs(change), 1e-12))
    labels = None
    if method in GROUPS_ONLY:
        groups = region_grid(problem.freqs_hz, problem.times_s, group_hz, group_s)
        labels = feature_mask(groups, problem.freqs_hz, problem.times_s)
    result = attribute_targets(
        module,
        features,
        baselines,
        method,
        [0],
        feature_mask=None if labels is None else torch.as_tensor(labels, device=device),
        options=options,
    )
    values = result.values[0] if labels is None else (result.values[0] / np.bincount(labels.ravel()))[labels]
    relative_delta = None
    if result.deltas is not None:
        with torch.no_grad():
            change = module(features[None]) - module(baselines).mean(dim=0, keepdim=True)
        relative_delta = float(abs(result.deltas[0]) / max(abs(float(change[0, 0])), 1e-12))
    return values, relative_delta


def randomised_model(model: MaskModel, layers: Sequence[str], seed: int) -> MaskModel:
    """A copy of ``model`` whose modules ``layers`` (names as ``get_submodule`` takes them) are re-initialised:
    every module inside each that has ``reset_parameters`` (PyTorch's default initialisation), seeded."""
    copied = copy.deepcopy(model)
    torch.manual_seed(seed)
    for name in layers:
        for module in copied.get_submodule(name).modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
    return copied


def level_condition(level_db: float) -> str:
    """``condition`` of the rows of a burst at ``level_db`` (dB): ``"level -20 dB"``; :func:`condition_level_db` reads
    the number back."""
    return f"level {level_db:g} dB"


_NUMBER = re.compile(r"[-+\u2212]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def condition_level_db(condition: object) -> float | None:
    """The number a condition label holds: the burst level (dB) of :func:`level_condition`'s ``"level -20 dB"``, read as
    the label's first number (a sign, the minus sign ``−``, decimals and exponents read, so ``"level −20 dB"`` and
    ``"level 2.5e1 dB"`` too); ``None`` for a label without a number. The one parser of such labels: the reports'
    :func:`~xai_helpers.reports.tables.numeric_key` orders levels with it."""
    match = _NUMBER.search(str(condition))
    return None if match is None else float(match.group(0).replace("\u2212", "-"))


def randomised_condition(layer: str) -> str:
    """``condition`` of the cascading randomisation's rows with every module from the top down to ``layer``
    re-initialised."""
    return f"randomised down to {layer}"


def rank_correlation(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman correlation of two maps (flattened)."""
    return float(spearmanr(first.ravel(), second.ravel()).statistic)


@dataclass
class BenchmarkSettings:
    """What the benchmark runs; every field is a notebook 05 parameter."""

    methods: Sequence[str] = (
        "deeplift",
        "deeplift_captum",
        "integratedgradients",
        "gradientshap",
        "saliency",
        "inputxgradient",
        "occlusion",
    )
    levels_db: Sequence[float] = (20.0, 10.0, 0.0)
    placements: Sequence[tuple[float, float]] = ((3000.0, 0.8),)
    """(burst centre Hz, burst start s) pairs."""
    burst_width_hz: float = 300.0
    burst_duration_s: float = 0.3
    explained_offset_hz: tuple[float, float] = (-650.0, -150.0)
    """The explained output band relative to the burst's centre (Hz), over the burst's time span; must
    not overlap the burst band."""
    snr_db: float = 10.0
    """Speech to pink-noise ratio of the background, dB."""
    context_s: float = 0.2
    """Input before the burst that the explained segment starts with, s."""
    baseline: str = "zero"
    seeds: Sequence[int] = (0,)
    n_samples: int = 25
    occlusion_window: tuple[int, int] = (8, 4)
    """Occlusion patch (bins, frames) of the brute-force reference map."""
    shapley_band_edges_hz: Sequence[float] = (2000.0, 3500.0)
    """Interior band edges of the Shapley tile grid (0 Hz and the top bin are added), Hz."""
    shapley_spans: int = 3
    """Equal time spans the burst's span is cut into for the tile grid (plus the context span)."""
    material_share: float = 0.1
    """A burst is material when ``|burst_effect|`` is at least this share of the explained change."""
    lesion_band_hz: tuple[float, float] = DEFAULT_BAND_HZ
    """The band the lesioned model is blind to, Hz."""
    removal: str = "baseline"
    """Deletion/insertion curves: ``"baseline"`` replacement or ``"road"`` imputation."""
    randomisation_files: int | None = 1
    """How many files the cascading randomisation runs on (``None``: all)."""

    def options(self, seed: int) -> MethodOptions:
        """Method settings for one seed."""
        return MethodOptions(n_samples=self.n_samples, occlusion_window=tuple(self.occlusion_window), seed=seed)


def burst_conditions(settings: BenchmarkSettings) -> list[tuple[Burst, Region]]:
    """(burst, explained region) for every placement and level; ``ValueError`` if a region overlaps its burst."""
    conditions = []
    for center_hz, start_s in settings.placements:
        for level in settings.levels_db:
            burst = Burst(center_hz, settings.burst_width_hz, start_s, settings.burst_duration_s, level)
            f_lo, f_hi = (center_hz + offset for offset in settings.explained_offset_hz)
            if f_lo < burst.region[1] and burst.region[0] < f_hi:
                raise ValueError(
                    f"explained band {f_lo:g}-{f_hi:g} Hz (explained_offset_hz {settings.explained_offset_hz}) "
                    f"overlaps the burst band {burst.region[:2]} Hz"
                )
            if not 0 <= f_lo < f_hi:
                raise ValueError(
                    f"explained_offset_hz {settings.explained_offset_hz} gives the band {f_lo:g}-{f_hi:g} Hz "
                    f"for a burst at {center_hz:g} Hz; it must be increasing and above 0 Hz"
                )
            conditions.append((burst, (f_lo, f_hi, start_s, start_s + settings.burst_duration_s)))
    return conditions


def speech_in_noise(clean: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    """Clean speech ``[N]`` plus pink noise at ``snr_db``."""
    return mix_at_snr(clean, pink_noise(len(clean), seed), snr_db)[0]


def burst_problem(
    clean: np.ndarray, burst: Burst, region: Region, config: StftConfig, settings: BenchmarkSettings, seed: int
) -> RegionProblem:
    """Speech in pink noise plus ``burst``, explained over ``region``."""
    return burst_pair(clean, burst, region, config, settings, seed)[0]


def burst_pair(
    clean: np.ndarray, burst: Burst, region: Region, config: StftConfig, settings: BenchmarkSettings, seed: int
) -> tuple[RegionProblem, np.ndarray]:
    """(the :func:`burst_problem`, the features ``[F, T]`` of the same segment without the burst)."""
    background_seed, burst_seed = (int(s) for s in np.random.SeedSequence(seed).generate_state(2))
    background = speech_in_noise(clean, settings.snr_db, background_seed)
    noisy = add_burst(background, config.sample_rate, burst, clean, burst_seed)
    problem = region_problem(noisy, config, region, settings.context_s, settings.baseline, seed=seed)
    quiet = region_problem(background, config, region, settings.context_s, settings.baseline, seed=seed)
    return problem, quiet.features


def _maps(model, problem, settings, seed, methods) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    maps, deltas = {}, {}
    for method in methods:
        maps[method], delta = method_map(model, problem, method, settings.options(seed))
        if delta is not None:
            deltas[method] = delta
    return maps, deltas


def localisation_rows(
    clean_waves: dict[str, np.ndarray], model: MaskModel, config: StftConfig, settings: BenchmarkSettings, progress=None
) -> list[dict]:
    """Long-form rows (method, metric, condition, value, sample, placement, seed) of every condition:
    the ground truth (``shapley_*`` per method and control, the burst's ``burst_effect``,
    ``burst_shapley``, ``burst_effect_share``, ``burst_material``; ``lesion_false_positive_share`` at
    each file's first condition), enrichment, relative convergence delta, Spearman agreement with
    occlusion, deletion and insertion areas. Every row of a condition carries ``burst_material``."""
    rows = []
    lesioned, lesion_band = lesioned_model(model, settings.lesion_band_hz), band_bins(config, settings.lesion_band_hz)
    tasks = [
        (name, wave, seed, index, burst, region)
        for name, wave in clean_waves.items()
        for seed in settings.seeds
        for index, (burst, region) in enumerate(burst_conditions(settings))
    ]
    for name, clean, seed, index, burst, region in progress(tasks) if progress else tasks:
        # a random map of its own per condition (file, seed, placement and level), the same on every run
        control_seed = int(np.random.SeedSequence([seed, index, zlib.crc32(name.encode())]).generate_state(1)[0])
        problem, quiet = burst_pair(clean, burst, region, config, settings, seed)
        inside = region_bins(burst.region, problem.freqs_hz, problem.times_s)
        weights_out = problem.target_bins.astype(np.float64)
        tiles = burst_tiles(
            problem.freqs_hz, problem.times_s, burst.region, settings.shapley_band_edges_hz, settings.shapley_spans
        )
        game = problem.game(model)
        exact = exact_shapley(game, problem.features, problem.baselines, tiles, weights_out)
        effect = burst_effect(game, problem.features, quiet, weights_out)  # the burst's phase held in both
        context = {
            "condition": level_condition(burst.level_db),
            "sample": name,
            "placement": f"{burst.center_hz:g} Hz @ {burst.start_s:g} s",
            "seed": seed,
        }
        described = burst_rows(effect, exact, settings.material_share, context)
        context["burst_material"] = int(described[-1]["value"])
        rows += [{**row, "burst_material": context["burst_material"]} for row in described]
        methods = list(dict.fromkeys([*settings.methods, "occlusion"]))
        maps, deltas = _maps(model, problem, settings, seed, methods)
        occlusion = maps["occlusion"]
        maps, best = with_controls({m: maps[m] for m in settings.methods}, exact, problem.features, control_seed)
        rows += shapley_rows(maps, exact, {**context, "flipped_of": best})
        if index == 0:
            lesion_maps, _ = _maps(lesioned, problem, settings, seed, settings.methods)
            lesion_maps, _ = with_controls(lesion_maps, exact, problem.features, control_seed, best=best)
            rows += lesion_rows(lesion_maps, lesion_band, {**context, "flipped_of": best})
        for method, weights in maps.items():
            rows += _deletion_rows(model, problem, method, weights, seed, context, settings.removal)
            rows.append({"method": method, "metric": "enrichment", "value": enrichment(weights, inside), **context})
            if method in deltas:
                rows.append({"method": method, "metric": "relative_delta", "value": deltas[method], **context})
            if method != "occlusion":
                rows.append(
                    {
                        "method": method,
                        "metric": "occlusion_spearman",
                        "value": rank_correlation(np.abs(weights), np.abs(occlusion)),
                        **context,
                    }
                )
    return rows


def _deletion_rows(
    model, problem: RegionProblem, method: str, weights: np.ndarray, seed: int, context: dict, removal: str = "baseline"
) -> list[dict]:
    """Deletion and insertion areas of the explained region's output, bins ranked by ``|weights|``
    (the ``random`` control is the method named ``random``, whose map is random)."""
    curves = deletion_insertion_curves(
        model,
        problem.features,
        problem.baselines.mean(axis=0),
        np.abs(weights),
        orders=("top",),
        seed=seed,
        region=problem.target_bins,
        removal=removal,
        phase=problem.phase,
    )
    areas = curve_areas(curves).iloc[0]
    return [
        {"method": method, "metric": f"{kind}_area", "value": float(areas[f"{kind}_area"]), **context}
        for kind in ("deletion", "insertion")
    ]


def randomisation_rows(
    clean_waves: dict[str, np.ndarray], model: MaskModel, config: StftConfig, settings: BenchmarkSettings
) -> list[dict]:
    """Cascading randomisation: Spearman correlation between each method's original map and its map
    with the model's modules re-initialised from the top down to each (``model.randomisation_order``), at the
    first condition. Rows carry ``layer`` and ``depth`` (1: the top module only)."""
    burst, region = burst_conditions(settings)[0]
    seed = settings.seeds[0]
    methods = [m for m in settings.methods if m not in GROUPS_ONLY]
    rows = []
    for name, clean in list(clean_waves.items())[: settings.randomisation_files]:
        problem = burst_problem(clean, burst, region, config, settings, seed)
        original, _ = _maps(model, problem, settings, seed, methods)
        order = model.randomisation_order
        for depth in range(1, len(order) + 1):
            randomised = randomised_model(model, order[:depth], seed)
            maps, _ = _maps(randomised, problem, settings, seed, methods)
            context = {
                "condition": randomised_condition(order[depth - 1]),
                "layer": order[depth - 1],
                "depth": depth,
                "sample": name,
                "placement": f"{burst.center_hz:g} Hz @ {burst.start_s:g} s",
                "seed": seed,
            }
            for method in methods:
                rows.append(
                    {
                        "method": method,
                        "metric": "randomisation_spearman_abs",
                        "value": rank_correlation(np.abs(original[method]), np.abs(maps[method])),
                        **context,
                    }
                )
                rows.append(
                    {
                        "method": method,
                        "metric": "randomisation_spearman_signed",
                        "value": rank_correlation(original[method], maps[method]),
                        **context,
                    }
                )
    return rows

"""Can the maps be trusted? Localisation against a ground truth built in, and sanity checks.

**Localisation.** A narrowband noise burst with a known band and time span is added to speech in
noise at a level relative to the speech. An output region that does *not* overlap the burst (another
band, the same time) is explained, and the attribution mass landing on the burst is measured:

    enrichment = (share of |attribution| inside the burst region) / (share of the plane it covers)

1.0 is chance. Two controls go through the same code: ``random`` (i.i.d. uniform map: must come out
at 1.0) and ``energy`` (each bin weighted by its own log-power rank: a detector of loud bins, which a
map must beat to show more than "the model looks at energy"). Explaining the burst region itself
would be circular (any method returns mass to the cell asked about), so it is not done.

**Sanity checks.** Cascading model randomisation (Adebayo et al., 2018: re-initialise layers from the
top, report the Spearman correlation between original and randomised maps), completeness (convergence
delta relative to the explained change), and agreement with a brute-force occlusion map.

Maps here are ``[F, T]`` over the input bins of the explained segment, for one region target.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from scipy.stats import spearmanr

from ..attribution.registry import names
from ..attribution.methods import MethodOptions
from ..attribution.captum_backend import attribute_targets
from ..attribution.baselines import make_baselines
from ..models.nsnet2 import NSNet2
from ..attribution.regions import Region, feature_mask, region_bins, region_grid
from ..dsp.noise.broadband import pink_noise
from ..dsp.noise.bursts import gaussian_burst
from ..dsp.noise.mixing import mix_at_snr
from ..dsp.stft import StftConfig, log_power, stft
from .curves import curve_areas, deletion_insertion_curves
from ..attribution.targets import ExplainedOutputs

CONTROLS = ("random", "energy")
RANDOMISATION_ORDER = NSNet2.randomisation_order
"""Cascading randomisation, top layer first."""
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


def control_map(name: str, features: np.ndarray, seed: int) -> np.ndarray:
    """Non-negative map ``[F, T]`` of a control: ``random`` (uniform) or ``energy`` (log-power rank, 1..F*T)."""
    if name == "random":
        return np.random.default_rng(seed).uniform(size=features.shape)
    if name == "energy":
        return (np.argsort(np.argsort(features, axis=None)).reshape(features.shape) + 1).astype(np.float64)
    raise ValueError(f"unknown control {name!r}; choose one of {CONTROLS}")


@dataclass
class RegionProblem:
    """One explained region on one segment: features ``[F, T]``, baselines ``[K, F, T]``, region mask ``[F, T]``."""

    features: np.ndarray
    baselines: np.ndarray
    target_bins: np.ndarray
    freqs_hz: np.ndarray
    times_s: np.ndarray

    def module(self, model: NSNet2, target: str = "mask") -> ExplainedOutputs:
        """The model explaining the sum of its output over the region."""
        masks = torch.as_tensor(self.target_bins[None].astype(np.float32))
        return ExplainedOutputs(model, target, masks)


def region_problem(
    wave: np.ndarray, config: StftConfig, region: Region, context_s: float, baseline: str = "zero", seed: int = 0
) -> RegionProblem:
    """The segment from ``context_s`` before ``region`` to its end (later frames cannot matter: causality),
    as in notebook 02 (the model runs on the segment alone), with its baselines. Times (``times_s``,
    ``region``) count from the file start."""
    features = log_power(stft(wave, config)).astype(np.float32)
    times = config.frame_times_s(features.shape[1])
    first = int(np.searchsorted(times, max(region[2] - context_s, 0.0)))
    last = int(np.searchsorted(times, region[3]))
    features = features[:, first:last]
    freqs, times = config.frequencies_hz(), times[first:last]
    baselines = make_baselines(baseline, features, seed=seed)
    return RegionProblem(features, baselines, region_bins(region, freqs, times), freqs, times)


def method_map(
    model: NSNet2, problem: RegionProblem, method: str, options: MethodOptions, group_hz: float = 500.0, group_s: float = 0.1
) -> tuple[np.ndarray, float | None]:
    """``(signed attribution map [F, T], relative convergence delta or None)`` of ``method`` for the region.

    Groups-only methods (KernelShap, Lime) work on a ``group_hz`` x ``group_s`` grid; each group's
    value is spread evenly over its bins so maps compare bin for bin.
    """
    device = next((parameter.device for parameter in model.parameters()), torch.device("cpu"))
    module = problem.module(model).to(device)
    features = torch.as_tensor(problem.features, device=device)
    baselines = torch.as_tensor(problem.baselines, device=device)
    labels = None
    if method in GROUPS_ONLY:
        groups = region_grid(problem.freqs_hz, problem.times_s, group_hz, group_s)
        labels = feature_mask(groups, problem.freqs_hz, problem.times_s)
    result = attribute_targets(
        module, features, baselines, method, [0], feature_mask=None if labels is None else torch.as_tensor(labels, device=device),
        options=options,
    )
    values = result.values[0] if labels is None else (result.values[0] / np.bincount(labels.ravel()))[labels]
    relative_delta = None
    if result.deltas is not None:
        with torch.no_grad():
            change = module(features[None]) - module(baselines).mean(dim=0, keepdim=True)
        relative_delta = float(abs(result.deltas[0]) / max(abs(float(change[0, 0])), 1e-12))
    return values, relative_delta


def randomised_model(model: NSNet2, layers: Sequence[str], seed: int) -> NSNet2:
    """A copy of ``model`` whose ``layers`` are re-initialised (PyTorch's default initialisation)."""
    copied = copy.deepcopy(model)
    torch.manual_seed(seed)
    for name in layers:
        getattr(copied, name).reset_parameters()
    return copied


def rank_correlation(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman correlation of two maps (flattened)."""
    return float(spearmanr(first.ravel(), second.ravel()).statistic)


@dataclass
class BenchmarkSettings:
    """What the benchmark runs; every field is a notebook 05 parameter."""

    methods: Sequence[str] = names(benchmarked=True)
    levels_db: Sequence[float] = (0.0, -10.0, -20.0)
    placements: Sequence[tuple[float, float]] = ((3000.0, 0.8),)
    """(burst centre Hz, burst start s) pairs."""
    burst_width_hz: float = 300.0
    burst_duration_s: float = 0.6
    explained_band_hz: tuple[float, float] = (500.0, 1500.0)
    """The explained output band, over the burst's time span; must not overlap the burst band."""
    snr_db: float = 10.0
    """Speech to pink-noise ratio of the background, dB."""
    context_s: float = 0.2
    """Input before the burst that the explained segment starts with, s."""
    baseline: str = "zero"
    seeds: Sequence[int] = (0,)
    n_samples: int = 25
    occlusion_window: tuple[int, int] = (8, 4)
    """Occlusion patch (bins, frames) of the brute-force reference map."""

    def options(self, seed: int) -> MethodOptions:
        """Method settings for one seed."""
        return MethodOptions(n_samples=self.n_samples, occlusion_window=tuple(self.occlusion_window), seed=seed)


def burst_conditions(settings: BenchmarkSettings) -> list[tuple[Burst, Region]]:
    """(burst, explained region) for every placement and level; ``ValueError`` if a region overlaps its burst."""
    conditions = []
    for center_hz, start_s in settings.placements:
        for level in settings.levels_db:
            burst = Burst(center_hz, settings.burst_width_hz, start_s, settings.burst_duration_s, level)
            f_lo, f_hi = settings.explained_band_hz
            if f_lo < burst.region[1] and burst.region[0] < f_hi:
                raise ValueError(f"explained band {settings.explained_band_hz} Hz overlaps the burst band {burst.region[:2]} Hz")
            conditions.append((burst, (f_lo, f_hi, start_s, start_s + settings.burst_duration_s)))
    return conditions


def speech_in_noise(clean: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    """Clean speech ``[N]`` plus pink noise at ``snr_db``."""
    return mix_at_snr(clean, pink_noise(len(clean), seed), snr_db)[0]


def burst_problem(
    clean: np.ndarray, burst: Burst, region: Region, config: StftConfig, settings: BenchmarkSettings, seed: int
) -> RegionProblem:
    """Speech in pink noise plus ``burst``, explained over ``region``."""
    background_seed, burst_seed = (int(s) for s in np.random.SeedSequence(seed).generate_state(2))
    noisy = add_burst(speech_in_noise(clean, settings.snr_db, background_seed), config.sample_rate, burst, clean, burst_seed)
    return region_problem(noisy, config, region, settings.context_s, settings.baseline, seed=seed)


def _maps(model, problem, settings, seed, methods) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    maps, deltas = {}, {}
    for method in methods:
        maps[method], delta = method_map(model, problem, method, settings.options(seed))
        if delta is not None:
            deltas[method] = delta
    return maps, deltas


def localisation_rows(
    clean_waves: dict[str, np.ndarray], model: NSNet2, config: StftConfig, settings: BenchmarkSettings, progress=None
) -> list[dict]:
    """Long-form rows (method, metric, condition, value, sample, placement, seed) of enrichment,
    relative convergence delta and Spearman agreement with occlusion, for every condition."""
    rows = []
    tasks = [(name, wave, seed, burst, region) for name, wave in clean_waves.items() for seed in settings.seeds
             for burst, region in burst_conditions(settings)]
    for name, clean, seed, burst, region in progress(tasks) if progress else tasks:
        problem = burst_problem(clean, burst, region, config, settings, seed)
        inside = region_bins(burst.region, problem.freqs_hz, problem.times_s)
        methods = list(dict.fromkeys([*settings.methods, "occlusion"]))
        maps, deltas = _maps(model, problem, settings, seed, methods)
        maps.update({control: control_map(control, problem.features, seed) for control in CONTROLS})
        context = {"condition": f"level {burst.level_db:g} dB", "sample": name,
                   "placement": f"{burst.center_hz:g} Hz @ {burst.start_s:g} s", "seed": seed}
        for method, weights in maps.items():
            if method not in settings.methods and method not in CONTROLS:
                continue
            rows += _deletion_rows(model, problem, method, weights, seed, context)
            rows.append({"method": method, "metric": "enrichment", "value": enrichment(weights, inside), **context})
            if method in deltas:
                rows.append({"method": method, "metric": "relative_delta", "value": deltas[method], **context})
            if method != "occlusion":
                rows.append({"method": method, "metric": "occlusion_spearman",
                             "value": rank_correlation(np.abs(weights), np.abs(maps["occlusion"])), **context})
    return rows


def _deletion_rows(model, problem: RegionProblem, method: str, weights: np.ndarray, seed: int, context: dict) -> list[dict]:
    """Deletion and insertion areas of the explained region's output, bins ranked by ``|weights|``
    (the ``random`` control is the method named ``random``, whose map is random)."""
    curves = deletion_insertion_curves(
        model, problem.features, problem.baselines.mean(axis=0), np.abs(weights), orders=("top",), seed=seed,
        region=problem.target_bins,
    )
    areas = curve_areas(curves).iloc[0]
    return [{"method": method, "metric": f"{kind}_area", "value": float(areas[f"{kind}_area"]), **context}
            for kind in ("deletion", "insertion")]


def randomisation_rows(
    clean_waves: dict[str, np.ndarray], model: NSNet2, config: StftConfig, settings: BenchmarkSettings
) -> list[dict]:
    """Cascading randomisation: Spearman correlation between each method's original map and its map
    with the layers re-initialised from the top down to each layer, at the first condition."""
    burst, region = burst_conditions(settings)[0]
    seed = settings.seeds[0]
    methods = [m for m in settings.methods if m not in GROUPS_ONLY]
    rows = []
    for name, clean in clean_waves.items():
        problem = burst_problem(clean, burst, region, config, settings, seed)
        original, _ = _maps(model, problem, settings, seed, methods)
        for depth in range(1, len(RANDOMISATION_ORDER) + 1):
            randomised = randomised_model(model, RANDOMISATION_ORDER[:depth], seed)
            maps, _ = _maps(randomised, problem, settings, seed, methods)
            context = {"condition": f"randomised down to {RANDOMISATION_ORDER[depth - 1]}", "sample": name,
                       "placement": f"{burst.center_hz:g} Hz @ {burst.start_s:g} s", "seed": seed}
            for method in methods:
                rows.append({"method": method, "metric": "randomisation_spearman_abs",
                             "value": rank_correlation(np.abs(original[method]), np.abs(maps[method])), **context})
                rows.append({"method": method, "metric": "randomisation_spearman_signed",
                             "value": rank_correlation(original[method], maps[method]), **context})
    return rows


def summary_table(rows: list[dict], metric: str) -> "pandas.DataFrame":
    """Mean and standard deviation of ``metric`` per method (rows) and condition (columns)."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    frame = frame[frame["metric"] == metric]
    return frame.pivot_table(index="method", columns="condition", values="value", aggfunc=["mean", "std"])


def reading(rows: list[dict]) -> str:
    """A few sentences (Markdown) that read the enrichment and randomisation results off the numbers."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    enrich = frame[frame["metric"] == "enrichment"].groupby(["method", "condition"])["value"].mean().unstack()
    loudest = max(enrich.columns, key=lambda c: float(c.split()[1]))
    column = enrich[loudest].sort_values(ascending=False)
    methods = column.drop(list(CONTROLS), errors="ignore")
    energy, random = enrich.loc["energy", loudest], enrich.loc["random", loudest]
    above = [m for m in methods.index if methods[m] > energy]
    lines = [
        f"- At the loudest burst ({loudest}), the random control comes out at {random:.2f} (chance is 1.0) and the "
        f"energy detector at {energy:.2f}. {len(above)} of {len(methods)} methods put more mass on the burst than "
        f"the energy detector: {', '.join(f'{m} ({methods[m]:.2f})' for m in above) or 'none'}.",
        f"- Highest enrichment: {methods.index[0]} ({methods.iloc[0]:.2f}); lowest: {methods.index[-1]} ({methods.iloc[-1]:.2f}).",
    ]
    by_level = sorted(enrich.columns, key=lambda c: float(c.split()[1]))
    trend = [m for m in methods.index if (np.diff(enrich.loc[m, by_level].to_numpy()) > 0.01).all()]
    lines.append(f"- Enrichment rises (by more than 0.01 at each step) with the burst level for: {', '.join(trend) or 'no method'}.")
    randomised = frame[(frame["metric"] == "randomisation_spearman_signed")]
    if not randomised.empty:
        last = randomised[randomised["condition"] == f"randomised down to {RANDOMISATION_ORDER[-1]}"]
        kept = last.groupby("method")["value"].mean().sort_values()
        lines.append(
            "- With every layer re-initialised, the signed maps' rank correlation with the original falls to "
            + ", ".join(f"{m} {v:.2f}" for m, v in kept.items())
            + ": values near 0 mean the map depends on the trained weights, as it should."
        )
    return "\n".join(lines)

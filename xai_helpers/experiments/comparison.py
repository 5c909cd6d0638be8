"""Comparing enhancers (notebook 07): the numbers of one job, a model on one noisy file, in grid-independent units.

A **job** is one model (:mod:`xai_helpers.models.registry`) on one noisy file of the corpus that
:mod:`.comparison_corpus` writes (clean speech, one noise condition, the clean and noise stems beside it).
:func:`run_job` explains the same segment of the file in the model's own STFT and returns long rows
``model, condition, file, metric, value``:

* **quality** (whole file, against the clean speech): ``pesq``, ``stoi``, ``estoi``, ``si_sdr`` (dB), each as
  ``_noisy``, ``_enhanced`` and ``_improvement`` (enhanced - noisy);
* **speech relevance** (:mod:`.relevance`, SNR of every bin in the model's STFT): ``speech_relevance``,
  ``speech_area_share``, ``speech_energy_share``, ``speech_enrichment`` and the ``noise_*`` four, for the mask
  target; ``speech_relevance_output``, ``speech_enrichment_output``, ``noise_relevance_output`` and
  ``noise_enrichment_output`` for the ``"output"`` target (the enhanced spectrum's log power);
* **context** (:mod:`.context`, mask target): ``lookback_50_ms``, ``lookback_90_ms`` (output frames of the
  segment's second half), ``spread_50_hz``, ``spread_90_hz``, ``spread_50_erb``, ``spread_90_erb``,
  ``low_band_share`` (``|attribution|`` from below 1 kHz) beside ``low_band_energy_share`` (the input's power
  there);
* **sensitivity** (notebook 04's experiment, :func:`~.perturbation.perturb_file`): the top, flop and random
  ``top_percent`` % of bins by attribution amplified by ``gain_db``: ``{order}_mask_change`` (mean |mask
  change|), ``top_amplification_effect`` and ``flop_amplification_effect`` (that change over the random
  selection's: above 1, the attributed bins move the mask more than as many random ones) and
  ``{order}_pesq_change``, ``{order}_stoi_change``, ``{order}_si_sdr_change`` of the enhanced output;
* **trust** (notebook 05's game, :mod:`.shapley`): the mask summed over ``shapley_output_hz`` in the last
  time span is explained once more with the method, and its tile sums are compared with the exact Shapley
  values of a grid of ``len(shapley_band_edges_hz) + 1`` bands by ``shapley_spans`` spans of the segment
  (:mod:`.agreement`): ``shapley_spearman``, ``shapley_sign_agreement``, ``shapley_top3``.

Attribution files (:func:`~xai_helpers.attribution.explain.explain_file`, reused when complete and current) go
to ``work_dir/attributions/MODEL/TAG/``; each finished job's rows are kept in ``work_dir/jobs/`` with a key
of every setting that changes them and the noisy file's SHA-256, so a rerun reuses finished jobs.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..analysis.influence import file_maps
from ..attribution.explain import ExplainConfig, explain_file
from ..attribution.regions import region_bins
from ..dsp.metrics import stoi
from ..dsp.snr import snr_map_db
from ..dsp.stft import StftConfig
from ..io.atomic import write_text_atomically
from ..io.audio import load_audio
from ..io.hashing import file_sha256
from ..io.noisy_corpus import read_record
from ..models.base import MaskFromLogPower, MaskModel
from ..models.cache import cached_model, weights_sha256
from ..models.registry import check_model_name, model_class
from ..io.hashing import digest
from ..store.reader import AttributionFile
from .agreement import shapley_agreement
from .context import (
    LOW_BAND_HZ,
    QUANTILES,
    cumulative_profile,
    frequency_distances,
    lag_distances,
    low_band_share,
    lookback_quantiles,
    spread_quantiles,
)
from .perturbation import FilePerturbation, PerturbationSettings, perturb_file, quality_column
from .quality import QUALITY_METRICS, quality_scores
from .relevance import dominance_masks, dominance_shares
from .shapley import exact_shapley, grid_tiles

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
"""Every registered model runs at 16 kHz (NSNet2 also at 48 kHz): the comparison runs there."""
TARGETS = ("mask", "output")
SCORES = {"PESQ": "pesq", "STOI": "stoi", "ESTOI": "estoi", "SI-SDR": "si_sdr"}
"""Quality score -> metric prefix."""
ORDERS = ("top", "flop", "random")
TARGET_SHARES = ("_relevance", "_enrichment")
"""The speech-relevance metrics that depend on the explained target (the others describe the input)."""


@dataclass(frozen=True)
class ComparisonSettings:
    """Notebook 07's settings of every job (see the module docstring)."""

    models: tuple[str, ...] = ("nsnet2", "dtln", "gtcrn")
    method: str = "deeplift"
    deeplift_rule: str = "complete"
    baseline: str = "zero"
    segment_start_s: float = 0.8
    segment_duration_s: float = 0.2
    targets: tuple[str, ...] = TARGETS
    """Explained quantities; ``"mask"`` is required (context, sensitivity and trust read it)."""
    seed: int = 0
    snr_threshold_db: float = 0.0
    top_percent: float = 10.0
    gain_db: float = 6.0
    n_random: int = 1
    shapley_band_edges_hz: tuple[float, ...] = (1000.0, 3000.0)
    """Interior band edges of the Shapley tile grid, Hz."""
    shapley_spans: int = 3
    shapley_output_hz: tuple[float, float] = (250.0, 2000.0)
    """The band whose mask sum (over the last span) is the game's explained output, Hz."""
    device: str = "cpu"

    def __post_init__(self) -> None:
        for name in self.models:
            check_model_name(name)
        if not self.models or len(set(self.models)) != len(self.models):
            raise ValueError(f"models: give each model once, at least one; got {list(self.models)}")
        if "mask" not in self.targets or set(self.targets) - set(TARGETS):
            raise ValueError(f"targets: choose from {TARGETS}, 'mask' included; got {list(self.targets)}")
        if self.segment_duration_s is None or self.segment_duration_s <= 0:
            raise ValueError(f"segment_duration_s must be a positive number of seconds, got {self.segment_duration_s}")
        if self.shapley_spans < 1 or len(self.shapley_band_edges_hz) + 1 < 2:
            raise ValueError("the Shapley grid needs at least 2 bands and 1 span")
        PerturbationSettings(
            method=self.method,
            top_percent=self.top_percent,
            gain_db=self.gain_db,
            n_random=self.n_random,
            seed=self.seed,
        )

    def explain_config(self, model: str, target: str) -> ExplainConfig:
        """The :class:`ExplainConfig` of ``model``'s ``target`` over the segment (maps of every output bin);
        ``ValueError`` where that configuration does not exist (the message says why)."""
        return ExplainConfig(
            method=self.method,
            target=target,
            baseline=self.baseline,
            seed=self.seed,
            segment_start_s=self.segment_start_s,
            segment_duration_s=self.segment_duration_s,
            deeplift_rule=self.deeplift_rule,
            model=model,
            sample_rate=SAMPLE_RATE,
            store="maps",
        )

    def unavailable(self) -> dict[tuple[str, str], str]:
        """``{(model, target): why}`` for the configurations that cannot be computed (checked before any work)."""
        missing = {}
        for model in self.models:
            for target in self.targets:
                try:
                    self.explain_config(model, target)
                except ValueError as error:
                    missing[(model, target)] = str(error)
        return missing

    def available_models(self) -> tuple[str, ...]:
        """The models whose mask target can be computed (the others are left out, :meth:`unavailable` says why)."""
        missing = self.unavailable()
        return tuple(model for model in self.models if (model, "mask") not in missing)

    def key(self) -> dict[str, object]:
        """Every setting that changes a job's rows (not the model list, nor the device), numbers as floats (a
        parameter given as ``10`` or ``10.0`` is one setting)."""
        return {k: _as_float(v) for k, v in dataclasses.asdict(self).items() if k not in ("models", "device")}


def _as_float(value: object) -> object:
    if isinstance(value, (list, tuple)):
        return [_as_float(v) for v in value]
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


@dataclass(frozen=True)
class Job:
    """One model on one noisy file: ``condition`` (the noise condition's name) and ``file`` (the clean file's stem)."""

    model: str
    condition: str
    file: str
    noisy_path: Path


@dataclass
class JobResult:
    """A job's long rows and its attribution files (``target -> .h5``); ``reused`` when read from the job cache."""

    job: Job
    rows: list[dict] = field(default_factory=list)
    maps: dict[str, Path] = field(default_factory=dict)
    reused: bool = False


def _row(job: Job, metric: str, value: float) -> dict:
    return {"model": job.model, "condition": job.condition, "file": job.file, "metric": metric, "value": float(value)}


def run_job(job: Job, settings: ComparisonSettings, work_dir: str | os.PathLike) -> JobResult:
    """The rows of ``job`` (module docstring), from the job cache in ``work_dir/jobs/`` when its key matches and
    its attribution files exist, else computed and cached. The key holds :meth:`ComparisonSettings.key`, the job,
    the noisy file's SHA-256, the model's weights' SHA-256 and this package's version."""
    work_dir = Path(work_dir)
    cache = work_dir / "jobs" / f"{job.model}__{job.condition}__{job.file}.json"
    key = digest(
        {
            "settings": settings.key(),
            "model": job.model,
            "condition": job.condition,
            "file": job.file,
            "noisy_sha256": file_sha256(job.noisy_path),
            "package": _package_version(),
            "weights_sha256": weights_sha256(cached_model(SAMPLE_RATE, settings.device, job.model)),
        }
    )
    stored = _read_cache(cache)
    if stored.get("key") == key and all(Path(p).is_file() for p in stored.get("maps", {}).values()):
        return JobResult(job, stored["rows"], {t: Path(p) for t, p in stored["maps"].items()}, reused=True)
    result = compute_job(job, settings, work_dir)
    write_text_atomically(
        cache,
        json.dumps({"key": key, "rows": result.rows, "maps": {t: str(p) for t, p in result.maps.items()}}, indent=1),
    )
    return result


def _package_version() -> str | None:
    try:
        return importlib.metadata.version("nsnet2-xai")
    except importlib.metadata.PackageNotFoundError:
        return None


def _read_cache(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return {}


def compute_job(job: Job, settings: ComparisonSettings, work_dir: Path) -> JobResult:
    """Every metric of ``job``, computed (attribution files reused by :func:`explain_file` where current)."""
    model = cached_model(SAMPLE_RATE, settings.device, job.model)
    result = JobResult(job)
    for target in settings.targets:
        try:
            config = settings.explain_config(job.model, target)
        except ValueError:
            continue  # listed by settings.unavailable() before any work
        folder = work_dir / "attributions" / job.model / config.file_tag()
        result.maps[target] = explain_file(job.noisy_path, folder, config, settings.device, progress=False).path
    clean, noise = _stems(job.noisy_path)
    for target, path in result.maps.items():
        metrics = map_metrics(path, model, clean, noise, settings, suffix="" if target == "mask" else "_output")
        result.rows += [_row(job, metric, value) for metric, value in metrics.items()]
    with tempfile.TemporaryDirectory(prefix="comparison_perturbation_") as scratch:
        perturbed = perturb_file(
            job.noisy_path,
            result.maps["mask"].parent,
            scratch,
            PerturbationSettings(
                method=settings.method,
                top_percent=settings.top_percent,
                gain_db=settings.gain_db,
                n_random=settings.n_random,
                seed=settings.seed,
                model=job.model,
            ),
            model,
        )
    if perturbed.status != "perturbed":
        raise RuntimeError(
            f"{job.noisy_path}: the perturbation test did not run ({perturbed.status}: {perturbed.message})"
        )
    noisy = load_audio(job.noisy_path, SAMPLE_RATE)
    result.rows += [
        _row(job, m, v)
        for m, v in quality_metrics(clean, noisy, perturbed.enhanced["original"], job.noisy_path.name).items()
    ]
    result.rows += [_row(job, m, v) for m, v in sensitivity_metrics(perturbed).items()]
    result.rows += [_row(job, m, v) for m, v in trust_metrics(job, model, settings, work_dir).items()]
    return result


def map_metrics(
    path: Path, model: MaskModel, clean: np.ndarray, noise: np.ndarray, settings: ComparisonSettings, suffix: str = ""
) -> dict[str, float]:
    """Speech relevance (with ``suffix`` on every name) and, for the mask (no suffix), the context metrics of the
    all-bins attribution file ``path`` of ``model``; ``clean`` and ``noise`` ``[N]`` are the file's stems."""
    with AttributionFile(path) as stored:
        maps, features, freqs = file_maps(stored), stored.input_features, stored.freqs_hz
        first = stored.first_frame
    config = model.stft_config(SAMPLE_RATE)
    snr = snr_map_db(clean, noise, config)[:, first : first + features.shape[1]]  # the segment's frames of the file
    shares = dominance_shares(maps["global_abs"], snr, features, settings.snr_threshold_db)
    if suffix:  # the area and energy shares are the input's, the same for every target
        return {f"{name}{suffix}": value for name, value in shares.items() if name.endswith(TARGET_SHARES)}
    metrics = dict(shares)
    for q, value in lookback_quantiles(maps["time_abs"], config.hop_s, QUANTILES, features.shape[1] // 2).items():
        metrics[f"lookback_{round(q * 100)}_ms"] = value
    for scale in ("hz", "erb"):
        for q, value in spread_quantiles(maps["freq_abs"], freqs, QUANTILES, scale).items():
            metrics[f"spread_{round(q * 100)}_{scale}"] = value
    metrics["low_band_share"] = low_band_share(maps["global_abs"], freqs, LOW_BAND_HZ)
    metrics["low_band_energy_share"] = low_band_share(10.0**features, freqs, LOW_BAND_HZ)
    return metrics


def quality_metrics(clean: np.ndarray, noisy: np.ndarray, enhanced: np.ndarray, source: str) -> dict[str, float]:
    """PESQ, STOI, ESTOI and SI-SDR (dB) of ``noisy`` and ``enhanced`` ``[N]`` against ``clean`` ``[N]``, and the
    improvement (enhanced - noisy); a score that cannot apply is NaN (logged, naming ``source``)."""
    scores = {}
    for stage, wave in (("noisy", noisy), ("enhanced", enhanced)):
        values = quality_scores(clean, wave, SAMPLE_RATE, source=f"{source} ({stage})")
        try:
            values["ESTOI"] = float(stoi(clean, wave, SAMPLE_RATE, extended=True, source=f"{source} ({stage})"))
        except ValueError as error:
            logger.warning("ESTOI n/a: %s", error)
            values["ESTOI"] = float("nan")
        scores[stage] = values
    metrics = {}
    for score, prefix in SCORES.items():
        metrics[f"{prefix}_noisy"] = scores["noisy"][score]
        metrics[f"{prefix}_enhanced"] = scores["enhanced"][score]
        metrics[f"{prefix}_improvement"] = scores["enhanced"][score] - scores["noisy"][score]
    return metrics


def sensitivity_metrics(perturbed: FilePerturbation) -> dict[str, float]:
    """The sensitivity metrics (module docstring) of a :class:`~.perturbation.FilePerturbation`."""
    change = perturbed.amplification.set_index("order")["mean |mask change|"]
    quality = perturbed.quality.set_index("order")
    metrics = {f"{order}_mask_change": float(change[order]) for order in ORDERS}
    for order in ("top", "flop"):
        metrics[f"{order}_amplification_effect"] = (
            metrics[f"{order}_mask_change"] / metrics["random_mask_change"]
            if metrics["random_mask_change"] > 0
            else float("nan")
        )
    for order in ORDERS:
        for score in QUALITY_METRICS:
            metrics[f"{order}_{SCORES[score]}_change"] = float(quality.loc[order, quality_column(score, "change")])
    return metrics


def shapley_layout(freqs_hz: np.ndarray, times_s: np.ndarray, settings: ComparisonSettings) -> tuple:
    """``(tiles, explained region)`` of the trust game on a segment of bins ``freqs_hz`` ``[F]`` and frame times
    ``times_s`` ``[T]`` (s from the segment start): bands cut at ``shapley_band_edges_hz`` by ``shapley_spans``
    equal spans of the frames; the region is ``shapley_output_hz`` over the last span."""
    hop = float(times_s[1] - times_s[0]) if len(times_s) > 1 else settings.segment_duration_s
    if len(times_s) < settings.shapley_spans:
        raise ValueError(f"the segment has {len(times_s)} frames, fewer than shapley_spans={settings.shapley_spans}")
    f_edges = [0.0, *sorted(float(e) for e in settings.shapley_band_edges_hz), float(freqs_hz[-1]) + 1.0]
    t_edges = np.linspace(times_s[0], times_s[-1] + hop, settings.shapley_spans + 1) - hop / 2
    tiles = grid_tiles(freqs_hz, times_s, f_edges, t_edges)
    f_lo, f_hi = settings.shapley_output_hz
    return tiles, (float(f_lo), float(f_hi), float(max(t_edges[-2], 0.0)), float(t_edges[-1]))


def trust_metrics(job: Job, model: MaskModel, settings: ComparisonSettings, work_dir: Path) -> dict[str, float]:
    """Agreement of the method's map of the trust game's explained output with its exact Shapley values."""
    stft_config = model.stft_config(SAMPLE_RATE)
    times = stft_config.frame_times_s(int(round(settings.segment_duration_s / stft_config.hop_s)))
    tiles, region = shapley_layout(stft_config.frequencies_hz(), times, settings)
    config = dataclasses.replace(
        settings.explain_config(job.model, "mask"), outputs="regions", output_regions=(region,), store="full"
    )
    path = explain_file(
        job.noisy_path,
        work_dir / "attributions" / job.model / config.file_tag(),
        config,
        settings.device,
        progress=False,
    ).path
    with AttributionFile(path) as stored:
        attribution, features, baselines = stored["attributions"][0], stored.input_features, stored.baselines
        phase = stored.input_phase
    weights = region_bins(region, stft_config.frequencies_hz(), times).astype(np.float64)
    exact = exact_shapley(MaskFromLogPower(model, "mask", phase), features, baselines, tiles, weights)
    scores = shapley_agreement(attribution, exact.values, exact.tiles)
    return {name: scores[name] for name in ("shapley_spearman", "shapley_sign_agreement", "shapley_top3")}


def job_rows(results: Sequence[JobResult]) -> list[dict]:
    """Every row of ``results``, in order."""
    return [row for result in results for row in result.rows]


@dataclass
class MapView:
    """A job's global map as the side-by-side figure draws it, in units that compare across grids."""

    model: str
    freqs_hz: np.ndarray
    """``[F]`` bin centres, Hz."""
    times_s: np.ndarray
    """``[T]`` frame centres, seconds in the file."""
    density: np.ndarray
    """``[F, T]`` share of the map's ``sum |a|`` per kHz per second (a bin's share over its area ``df x hop``)."""
    speech: np.ndarray
    """``[F, T]`` speech-dominant bins (bool)."""


def model_stft(name: str) -> StftConfig:
    """Model ``name``'s STFT at :data:`SAMPLE_RATE` (from its class; an import-path model is loaded)."""
    cls = model_class(name)
    return (cls or cached_model(SAMPLE_RATE, "cpu", name)).stft_config(SAMPLE_RATE)


def _stems(noisy_path: Path) -> tuple[np.ndarray, np.ndarray]:
    record = read_record(noisy_path)
    if not record or not record.get("clean_path") or not record.get("noise_path"):
        raise ValueError(f"{noisy_path}: no noise record naming its clean and noise files (written by the corpus)")
    return load_audio(record["clean_path"], SAMPLE_RATE), load_audio(record["noise_path"], SAMPLE_RATE, check=False)


def map_view(result: JobResult, settings: ComparisonSettings, target: str = "mask") -> MapView:
    """The :class:`MapView` of ``result``'s ``target`` map (its attribution file), speech bins at the settings'
    threshold."""
    config = model_stft(result.job.model)
    with AttributionFile(result.maps[target]) as stored:
        global_abs, freqs, times = file_maps(stored)["global_abs"], stored.freqs_hz, stored.times_s
        first, start_s = stored.first_frame, stored.start_s
    clean, noise = _stems(result.job.noisy_path)
    snr = snr_map_db(clean, noise, config)[:, first : first + global_abs.shape[1]]
    total = global_abs.sum()
    area_khz_s = config.sample_rate / config.n_fft / 1000.0 * config.hop_s
    density = global_abs / total / area_khz_s if total > 0 else np.zeros_like(global_abs)
    speech = dominance_masks(snr, settings.snr_threshold_db)["speech"]
    return MapView(result.job.model, freqs, times + start_s, density, speech)


def context_curves(result: JobResult, lag_grid_ms: np.ndarray, erb_grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(lag curve [len(lag_grid_ms)], spread curve [len(erb_grid)])`` of ``result``'s mask map: the mean share of
    each output frame's ``|attribution|`` within each look-back (ms; frames of the segment's second half, as
    :func:`map_metrics`) and of each output frequency's within each distance (ERB)."""
    with AttributionFile(result.maps["mask"]) as stored:
        maps, freqs = file_maps(stored), stored.freqs_hz
    hop_ms = model_stft(result.job.model).hop_s * 1000.0
    time_abs = maps["time_abs"]
    rows = slice(time_abs.shape[0] // 2, None)
    lag = cumulative_profile(lag_distances(*time_abs.shape)[rows] * hop_ms, time_abs[rows], lag_grid_ms)
    spread = cumulative_profile(frequency_distances(freqs, "erb"), maps["freq_abs"], erb_grid)
    return lag, spread

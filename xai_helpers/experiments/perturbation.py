"""The causal test of the attributions (notebook 04): perturb the bins they rank and watch the mask.

Two experiments per file, both on the segment that notebook 02 explained (``F`` bins by ``T``
frames, log10-power features, frame ``first_frame`` of the file onwards):

1. **Amplification in the audio.** The input bins are ranked by their global attribution (summed
   over every output bin, :func:`rank_bins`); the top ``X`` % and the bottom ("flop") ``X`` % are
   multiplied by ``10 ** (Y / 20)`` in the file's complex STFT (:func:`amplify_bins`), the whole
   file is resynthesised with the inverse STFT (same length) and analysed again, and the model
   runs on the segment alone, as in notebook 02. :func:`mask_change` is the new mask minus the
   original one. ``n_random`` random selections of the same size are the control.
2. **Deletion / insertion curves on the model input** (:func:`deletion_insertion_curves`):
   replace the first ``k`` ranked bins of the features by the baseline (deletion), or start from
   the baseline and put the first ``k`` ranked bins back (insertion), and measure the mean
   absolute mask change against the unperturbed input; :func:`curve_areas` integrates them.

A listener-level reading of experiment 1: the whole denoiser runs on the original and on each
amplified file, and PESQ (wide band), STOI and SI-SDR of the enhanced outputs are taken against a
reference (:func:`quality_reference`: the clean speech named by notebook 01's JSON record, else
the enhanced original); ``FilePerturbation.quality`` holds the scores after amplification and
their changes (:mod:`.quality`; NaN where a score cannot apply). For the players, the original,
the top, the flop and the first random selection's amplified input and the model's enhanced output of
each are kept (``FilePerturbation.waves`` and ``.enhanced``) and written as WAVs.

Rankings and selections: :mod:`.ranking`; the curves: :mod:`.curves`; the figures:
:mod:`xai_helpers.plots.perturbation`.
"""

from __future__ import annotations

import dataclasses
import numbers
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis.inventory import check_attributions_found, check_something_done
from ..attribution.explain import attribution_paths
from ..dsp.stft import StftConfig, istft, log_power, stft
from ..io.atomic import write_atomically, write_text_atomically
from ..io.audio import load_audio, write_audio
from ..io.noisy_corpus import read_record
from ..io.paths import check_output_dir
from ..models.enhance import enhance_details
from ..models.base import MaskModel
from ..models.cache import cached_model
from ..models.registry import DEFAULT_MODEL, check_model_name
from ..store.reader import AttributionFile, AttributionFileError
from .curves import DEFAULT_FRACTIONS, check_fractions, curve_areas, deletion_insertion_curves
from .quality import PERTURBATION_SUMMARY_FILE, QUALITY_METRICS, QUALITY_UNITS, quality_scores, summary_metric_name
from .ranking import ORDERS, check_ranking, derived_seeds, global_sums, select_bins

logger = logging.getLogger(__name__)

MASK_CHANGE_LABEL = "mask change (new - original)"
REFERENCE_CLEAN = "clean"
REFERENCE_ENHANCED = "enhanced original"


# ---------------------------------------------------------------------------
# amplification in the STFT domain and re-analysis
# ---------------------------------------------------------------------------


def amplify_bins(spectrum: np.ndarray, selection: np.ndarray, gain_db: float, first_frame: int = 0) -> np.ndarray:
    """Copy of the file's complex ``spectrum`` ``[F, T_file]`` with the selected bins times ``10 ** (gain_db / 20)``.

    ``selection`` ``[F, T]`` (bool) covers the segment's frames ``first_frame .. first_frame + T - 1``;
    every other bin is left exactly as it was. Phases are kept.
    """
    spectrum = np.asarray(spectrum)
    selection = np.asarray(selection, dtype=bool)
    n_bins, n_frames = selection.shape
    if spectrum.ndim != 2 or spectrum.shape[0] != n_bins:
        raise ValueError(f"spectrum must be [{n_bins}, T_file], got shape {spectrum.shape}")
    if first_frame < 0 or first_frame + n_frames > spectrum.shape[1]:
        raise ValueError(
            f"segment frames {first_frame}..{first_frame + n_frames - 1} lie outside the spectrum's "
            f"{spectrum.shape[1]} frames"
        )
    out = spectrum.astype(np.complex128, copy=True)
    segment = out[:, first_frame : first_frame + n_frames]
    segment[selection] *= 10.0 ** (gain_db / 20.0)
    return out


def resynthesise(
    wave: np.ndarray, config: StftConfig, selection: np.ndarray, gain_db: float, first_frame: int
) -> np.ndarray:
    """Waveform ``[N]`` (float32, same length as ``wave``) with the selected segment bins amplified by ``gain_db``."""
    amplified = amplify_bins(stft(wave, config), selection, gain_db, first_frame)
    return istft(amplified, config, len(wave)).astype(np.float32)


def segment_spectrum(wave: np.ndarray, config: StftConfig, first_frame: int, n_frames: int) -> np.ndarray:
    """Complex spectrum ``[F, n_frames]`` of frames ``first_frame ...`` of ``wave`` ``[N]``."""
    spectrum = stft(wave, config)
    if first_frame < 0 or first_frame + n_frames > spectrum.shape[1]:
        raise ValueError(
            f"segment frames {first_frame}..{first_frame + n_frames - 1} lie outside the wave's {spectrum.shape[1]} "
            "frames"
        )
    return spectrum[:, first_frame : first_frame + n_frames]


def segment_features(wave: np.ndarray, config: StftConfig, first_frame: int, n_frames: int) -> np.ndarray:
    """Re-analysed features ``[F, n_frames]`` (log10 power, float32) of frames ``first_frame ...`` of ``wave``."""
    return log_power(segment_spectrum(wave, config, first_frame, n_frames)).astype(np.float32)


def mask_change(
    wave: np.ndarray, original_mask: np.ndarray, model: MaskModel, config: StftConfig, first_frame: int
) -> np.ndarray:
    """New mask minus ``original_mask`` ``[F, T]`` for the segment of ``wave`` ``[N]``, model on the segment alone
    (with the re-analysed segment's own phase, for models that read it)."""
    original_mask = np.asarray(original_mask, dtype=np.float64)
    spectrum = segment_spectrum(wave, config, first_frame, original_mask.shape[1])
    return model.predict(log_power(spectrum).astype(np.float32), "mask", np.angle(spectrum)) - original_mask


def realised_gain_db(
    original: np.ndarray, amplified: np.ndarray, config: StftConfig, selection: np.ndarray, first_frame: int
) -> float:
    """Power gain (dB) of the selected segment bins after resynthesis and re-analysis:
    ``10 log10(sum|Y|^2 / sum|X|^2)``.

    Below the requested gain when the selection is scattered: the inverse STFT cannot keep an
    isolated bin's gain (overlapping frames and windows spread it to neighbours).
    """
    n_frames = selection.shape[1]
    frames = slice(first_frame, first_frame + n_frames)
    before = np.abs(stft(original, config)[:, frames][selection]) ** 2
    after = np.abs(stft(amplified, config)[:, frames][selection]) ** 2
    return float(10.0 * np.log10(after.sum() / before.sum())) if before.sum() > 0 else float("nan")


def quality_reference(
    source: Path, wave: np.ndarray, sample_rate: int, enhanced_original: np.ndarray
) -> tuple[np.ndarray, str]:
    """The reference ``[N]`` of the enhanced outputs' scores, and its kind (:data:`REFERENCE_CLEAN` or
    :data:`REFERENCE_ENHANCED`).

    The clean speech named by ``source``'s JSON record (notebook 01's noisy files) when it exists
    and has ``wave``'s length at ``sample_rate``; else ``enhanced_original`` (why is logged when a
    record names a clean file that cannot serve).
    """
    try:
        record = read_record(source)
    except ValueError as error:
        logger.warning("%s; the enhanced original is the quality reference", error)
        record = None
    clean_path = record.get("clean_path") if record else None
    if clean_path is not None:
        try:
            clean = load_audio(clean_path, sample_rate)
        except (OSError, ValueError) as error:
            logger.warning(
                "%s: clean file %s unusable (%s); the enhanced original is the quality reference",
                source.name,
                clean_path,
                error,
            )
        else:
            if len(clean) == len(wave):
                return clean, REFERENCE_CLEAN
            logger.warning(
                "%s: clean file %s has %d samples, the file %d; the enhanced original is the quality reference",
                source.name,
                clean_path,
                len(clean),
                len(wave),
            )
    return enhanced_original, REFERENCE_ENHANCED


def quality_column(metric: str, kind: str) -> str:
    """``"PESQ (amplified)"``, ``"SI-SDR change (dB)"``: ``kind`` is ``"amplified"`` (score) or ``"change"``
    (amplified - original)."""
    unit = " (dB)" if QUALITY_UNITS[metric] == "dB" else ""
    return f"{metric} (amplified){unit}" if kind == "amplified" else f"{metric} change{unit}"


def _nanmean(values: Sequence[float]) -> float:
    """Mean of the finite ``values``; NaN when none is."""
    finite = [value for value in values if np.isfinite(value)]
    return float(np.mean(finite)) if finite else float("nan")


def amplified_name(basename: str, which: str, percent: float, gain_db: float) -> str:
    """``{basename}_{which}_{percent:g}_amplified_{gain_db:g}dB.wav``."""
    return f"{basename}_{which}_{percent:g}_amplified_{gain_db:g}dB.wav"


def enhanced_name(basename: str, which: str, percent: float, gain_db: float) -> str:
    """The model's output on the original file (``{basename}_original_enhanced.wav``) or on an amplified
    one (:func:`amplified_name` with ``_enhanced`` before ``.wav``)."""
    if which == "original":
        return f"{basename}_original_enhanced.wav"
    return amplified_name(basename, which, percent, gain_db).removesuffix(".wav") + "_enhanced.wav"


# ---------------------------------------------------------------------------
# one file
# ---------------------------------------------------------------------------


MAX_GAIN_DB = 60.0
"""Largest |amplification| (dB) notebook 04 accepts: x1000 in amplitude; full-scale speech then still fits float WAV
samples and stays finite through the STFT, where +1000 dB wrote thousands of ``inf`` samples."""


@dataclass(frozen=True)
class PerturbationSettings:
    """Notebook 04's parameters (percent of the segment's bins, gain in dB)."""

    method: str = "deepliftshap"
    ranking: str = "signed"
    top_percent: float = 10.0
    gain_db: float = 6.0
    n_random: int = 5
    seed: int = 0
    fractions: tuple[float, ...] = DEFAULT_FRACTIONS
    model: str = DEFAULT_MODEL
    """The model whose attribution files are perturbed and which enhances the perturbed audio."""

    def __post_init__(self) -> None:
        check_model_name(self.model)
        check_ranking(self.ranking)
        if not 0.0 < self.top_percent <= 50.0:
            raise ValueError(f"top_percent must lie in (0, 50] so top and flop do not overlap, got {self.top_percent}")
        if self.n_random < 1:
            raise ValueError(f"n_random must be at least 1, got {self.n_random}")
        if isinstance(self.gain_db, bool) or not (
            isinstance(self.gain_db, numbers.Real) and abs(self.gain_db) <= MAX_GAIN_DB
        ):
            raise ValueError(
                f"dB_amplification (gain_db) must be a number in [-{MAX_GAIN_DB:g}, {MAX_GAIN_DB:g}] dB, got "
                f"{self.gain_db!r}: "
                "beyond that the resynthesised audio leaves the float WAV range or is silenced"
            )
        check_fractions(self.fractions)


@dataclass
class FilePerturbation:
    """What :func:`perturb_file` did for one audio file (``F`` bins, ``T`` segment frames)."""

    source: Path
    status: str
    """``"perturbed"``, ``"skipped"`` (no attribution file) or ``"failed"`` (damaged, unusable, mismatched)."""
    message: str = ""
    attribution_path: Path | None = None
    settings: PerturbationSettings | None = None
    sample_rate: int = 16000
    stft: StftConfig | None = None
    """The explained model's STFT."""
    first_frame: int = 0
    freqs_hz: np.ndarray | None = None
    """``[F]`` bin centre frequencies, Hz."""
    times_s: np.ndarray | None = None
    """``[T]`` frame centre times of the segment, seconds from the start of the file."""
    scores: np.ndarray | None = None
    """``[F, T]`` ranking score (mask units)."""
    features: np.ndarray | None = None
    """``[F, T]`` the segment's stored input features (log10 power), for a spectrogram underlay."""
    selections: dict[str, np.ndarray] = field(default_factory=dict)
    """``top``, ``flop``, ``random`` (first seed): bool ``[F, T]`` of the amplified bins."""
    changes: dict[str, np.ndarray] = field(default_factory=dict)
    """Same keys: new mask minus original mask ``[F, T]`` after amplification."""
    reference: dict[str, float] = field(default_factory=dict)
    """Means over the segment: mask of the input, mask of the baseline, their difference, and the
    attribution sum per output bin (which a complete method makes equal to that difference)."""
    amplification: pd.DataFrame | None = None
    """``order, n_bins, mean |mask change|, std over seeds, mean mask change, realised gain (dB)``."""
    quality_reference: str = ""
    """What the enhanced outputs are scored against: ``"clean"`` or ``"enhanced original"``."""
    quality_original: dict[str, float] = field(default_factory=dict)
    """PESQ, STOI, SI-SDR (dB) of the enhanced original against the reference (SI-SDR NaN when the
    reference is the enhanced original itself: unbounded)."""
    quality: pd.DataFrame | None = None
    """``order``, then per score its value after amplification (``PESQ (amplified)``, ...) and its
    change (``PESQ change``, ``STOI change``, ``SI-SDR change (dB)``); random: means over seeds."""
    curves: pd.DataFrame | None = None
    areas: pd.DataFrame | None = None
    waves: dict[str, np.ndarray] = field(default_factory=dict)
    """``original``, then ``top``, ``flop`` and ``random`` (first seed) amplified: float32 ``[N]``."""
    enhanced: dict[str, np.ndarray] = field(default_factory=dict)
    """Same keys: the model's enhanced output of each wave (:func:`~xai_helpers.models.enhance.enhance`), ``[N]``."""
    written: list[Path] = field(default_factory=list)

    @property
    def basename(self) -> str:
        """The source file's stem, the prefix of every written file."""
        return self.source.stem

    def status_row(self) -> dict[str, object]:
        """One row of the notebook's status table."""
        return {
            "file": self.source.name,
            "status": self.status,
            "attributions": self.attribution_path.name if self.attribution_path else "",
            "message": self.message,
        }


def _usable_attribution_file(
    source: Path, attributions_dir: Path, method: str, model: str
) -> tuple[Path | None, list[str]]:
    """The first complete .h5 of ``source`` for ``method`` and ``model`` with input-bin attributions, and why others
    were passed over."""
    problems = []
    candidates = attribution_paths(source, attributions_dir, method)
    for path in candidates:
        try:
            with AttributionFile(path) as stored:
                stored.check_model(model)
                stored.check_source(source)  # an .h5 renamed to another input's name
                if stored.has_maps or ("attributions" in stored and stored.dims()[-2:] == ("f_in", "t_in")):
                    if len(candidates) > 1:
                        logger.warning(
                            "%s: %d %s attribution files; using %s (the first by name)",
                            source.name,
                            len(candidates),
                            method,
                            path.name,
                        )
                    return path, problems
                problems.append(f"{path.name}: not input-bin attributions (features={stored.features})")
        except (AttributionFileError, OSError) as error:
            problems.append(str(error))
    return None, problems


def perturb_file(
    source: str | os.PathLike,
    attributions_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    settings: PerturbationSettings,
    model: MaskModel | None = None,
) -> FilePerturbation:
    """Both experiments of the module docstring on one audio file; writes the amplified WAVs and JSON sidecars.

    ``model`` defaults to ``settings.model`` loaded at the sample rate the attributions were computed at.

    A file without a ``.h5`` for ``settings.method`` is ``"skipped"``; one whose files are all
    damaged, incomplete or not over input bins, or whose audio no longer gives the stored
    features, is ``"failed"``; the message says why. Nothing raises for those.
    """
    source = Path(source)
    output_dir = Path(output_dir)
    candidates = attribution_paths(source, attributions_dir, settings.method)
    if not candidates:
        return FilePerturbation(
            source, "skipped", f"no {settings.method} attribution file in {attributions_dir}", settings=settings
        )
    path, problems = _usable_attribution_file(source, Path(attributions_dir), settings.method, settings.model)
    if path is None:
        return FilePerturbation(source, "failed", "; ".join(problems), settings=settings)
    for problem in problems:
        logger.warning("%s", problem)
    try:
        with AttributionFile(path) as stored:
            sample_rate, first_frame = stored.sample_rate, stored.first_frame
            model = model if model is not None else cached_model(sample_rate, "cpu", settings.model)
            phase = stored.input_phase
            signed, absolute = global_sums(stored)
            n_targets = int(np.prod(stored.maps_shape[:2] if stored.has_maps else stored.shape()[:-2]))
            features = stored.input_features.astype(np.float32)
            baseline = stored.baselines.astype(np.float32).mean(axis=0)
            original_mask = model.predict(features, "mask", phase)
            freqs = stored.freqs_hz
            segment_times = stored.times_s
    except (AttributionFileError, OSError, KeyError) as error:
        return FilePerturbation(source, "failed", str(error), path, settings)
    config = model.stft_config(sample_rate)
    try:
        wave = load_audio(source, sample_rate)
        current = segment_features(wave, config, first_frame, features.shape[1])
    except ValueError as error:
        return FilePerturbation(
            source, "failed", str(error) if str(source) in str(error) else f"{source}: {error}", path, settings
        )
    if not np.allclose(current, features, atol=1e-3):
        return FilePerturbation(
            source,
            "failed",
            f"{source}: the audio no longer gives the features stored in {path.name} (changed since notebook 02?)",
            path,
            settings,
        )

    scores = signed if settings.ranking == "signed" else absolute
    result = FilePerturbation(
        source,
        "perturbed",
        "",
        path,
        settings,
        sample_rate,
        config,
        first_frame,
        freqs,
        segment_times + first_frame * config.hop_s,
        scores,
        features,
    )
    baseline_mask = model.predict(baseline, "mask", phase)
    result.reference = {
        "mean mask (input)": float(original_mask.mean()),
        "mean mask (baseline)": float(baseline_mask.mean()),
        "mean mask(input) - mask(baseline)": float((original_mask - baseline_mask).mean()),
        "mean attribution sum per output bin": float(signed.sum() / n_targets),
    }
    result.waves["original"] = wave
    enhanced_original = enhance_details(wave, sample_rate, model).enhanced
    result.enhanced["original"] = enhanced_original
    result.written.append(
        write_audio(
            output_dir / enhanced_name(result.basename, "original", settings.top_percent, settings.gain_db),
            enhanced_original,
            sample_rate,
        )
    )
    reference, result.quality_reference = quality_reference(source, wave, sample_rate, enhanced_original)
    result.quality_original = quality_scores(
        reference, enhanced_original, sample_rate, source=f"{source.name} (enhanced)"
    )
    if result.quality_reference == REFERENCE_ENHANCED:
        result.quality_original["SI-SDR"] = float("nan")
    seeds = derived_seeds(settings.seed, settings.n_random)
    rows, quality_rows = [], []
    for which, run_seeds in (("top", [None]), ("flop", [None]), ("random", seeds)):
        stats, after = [], []
        for run, run_seed in enumerate(run_seeds):
            selection = select_bins(scores, settings.top_percent, which, run_seed)
            amplified = resynthesise(wave, config, selection, settings.gain_db, first_frame)
            change = mask_change(amplified, original_mask, model, config, first_frame)
            gain = realised_gain_db(wave, amplified, config, selection, first_frame)
            stats.append((float(np.mean(np.abs(change))), float(np.mean(change)), gain))
            enhanced = enhance_details(amplified, sample_rate, model).enhanced
            after.append(
                quality_scores(reference, enhanced, sample_rate, source=f"{source.name} ({which} amplified, enhanced)")
            )
            if run == 0:  # the figures, players and WAVs show the first random selection
                result.selections[which], result.changes[which] = selection, change
                result.waves[which], result.enhanced[which] = amplified, enhanced
                result.written += _write_amplified(
                    output_dir,
                    result,
                    which,
                    amplified,
                    enhanced,
                    int(selection.sum()),
                    gain,
                    stats[-1],
                    after[-1],
                    run_seed,
                )
        quality_row = {"order": which}
        for metric in QUALITY_METRICS:
            quality_row[quality_column(metric, "amplified")] = _nanmean([scores_[metric] for scores_ in after])
            quality_row[quality_column(metric, "change")] = _nanmean(
                [scores_[metric] - result.quality_original[metric] for scores_ in after]
            )
        quality_rows.append(quality_row)
        values = np.array(stats)
        rows.append(
            {
                "order": which,
                "n_bins": int(result.selections[which].sum()),
                "runs": len(run_seeds),
                "mean |mask change|": values[:, 0].mean(),
                "std over seeds": values[:, 0].std(ddof=1) if len(values) > 1 else np.nan,
                "mean mask change": values[:, 1].mean(),
                "realised gain (dB)": values[:, 2].mean(),
            }
        )
    result.amplification = pd.DataFrame(rows)
    result.quality = pd.DataFrame(quality_rows)
    result.curves = deletion_insertion_curves(
        model, features, baseline, scores, settings.fractions, ORDERS, settings.n_random, settings.seed, phase=phase
    )
    result.areas = curve_areas(result.curves, settings.method)
    return result


def perturb_files(
    sources: Sequence[str | os.PathLike],
    attributions_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    settings: PerturbationSettings,
    model: MaskModel | None = None,
) -> list[FilePerturbation]:
    """:func:`perturb_file` on every file of ``sources`` (notebook 04), refusing to perturb nothing.

    Before any work: ``ValueError`` when ``output_dir`` is an existing file, ``FileNotFoundError``
    when no file of ``sources`` has an attribution file of ``settings.method`` in
    ``attributions_dir`` (the message lists the methods found there). After:
    :class:`~xai_helpers.analysis.inventory.NothingDoneError` when every file was skipped or failed,
    with each file's reason.
    """
    check_output_dir(output_dir)
    check_attributions_found(sources, attributions_dir, settings.method, settings.model)
    results = [perturb_file(source, attributions_dir, output_dir, settings, model) for source in sources]
    left_out = [
        (result.source.name, f"{result.status}, {result.message}") for result in results if result.status != "perturbed"
    ]
    check_something_done(len(results) - len(left_out), left_out, "perturbed")
    return results


def _write_amplified(
    output_dir: Path,
    result: FilePerturbation,
    which: str,
    wave: np.ndarray,
    enhanced: np.ndarray,
    n_bins: int,
    gain: float,
    stats: tuple,
    quality: dict[str, float],
    random_seed: int | None,
) -> list[Path]:
    """The amplified WAV, its JSON sidecar and the enhanced output's WAV."""
    settings = result.settings
    wav = output_dir / amplified_name(result.basename, which, settings.top_percent, settings.gain_db)
    write_audio(wav, wave, result.sample_rate)
    enhanced_wav = write_audio(
        output_dir / enhanced_name(result.basename, which, settings.top_percent, settings.gain_db),
        enhanced,
        result.sample_rate,
    )
    sidecar = {
        "source_file": str(result.source),
        "attribution_file": str(result.attribution_path),
        "which": which,
        **dataclasses.asdict(settings),
        "random_seed": random_seed,
        "selected_bins": n_bins,
        "segment_bins": int(result.scores.size),
        "segment_first_frame": result.first_frame,
        "segment_n_frames": int(result.scores.shape[1]),
        "sample_rate": result.sample_rate,
        "gain_factor": 10.0 ** (settings.gain_db / 20.0),
        "realised_gain_db": gain,
        "mean_abs_mask_change": stats[0],
        "mean_mask_change": stats[1],
        "quality_reference": result.quality_reference,
        "enhanced_quality": {metric: (value if np.isfinite(value) else None) for metric, value in quality.items()},
        "enhanced_file": enhanced_wav.name,
    }
    json_path = write_text_atomically(wav.with_suffix(".json"), json.dumps(sidecar, indent=2) + "\n")
    return [wav, json_path, enhanced_wav]


def summary_rows(result: FilePerturbation) -> list[dict[str, object]]:
    """Long-form rows ``file, order, metric, value`` of one perturbed file (none for a skipped one).

    ``order`` is ``top``, ``flop``, ``random`` (areas, amplification; ``*_std`` over the random
    seeds; the enhanced output's scores after amplification and their changes:
    ``enhanced_pesq``, ``enhanced_pesq_change``, ``enhanced_stoi[_change]``,
    ``enhanced_si_sdr_db[_change]``) or ``all`` (the file's reference means: ``mean_mask_input``,
    ``mean_mask_baseline``, ``mean_attribution_sum_per_output``; the enhanced original's scores
    ``enhanced_pesq`` ... and ``quality_reference_is_clean``, 1 or 0). NaN scores are left out.
    """
    if result.status != "perturbed":
        return []
    rows = [
        {"file": result.source.name, "order": "all", "metric": metric, "value": value}
        for metric, value in (
            ("mean_mask_input", result.reference["mean mask (input)"]),
            ("mean_mask_baseline", result.reference["mean mask (baseline)"]),
            ("mean_attribution_sum_per_output", result.reference["mean attribution sum per output bin"]),
        )
    ]
    for record in result.amplification.to_dict("records"):
        for metric, column in (
            ("n_bins", "n_bins"),
            ("amplified_mean_abs_mask_change", "mean |mask change|"),
            ("amplified_mean_abs_mask_change_std", "std over seeds"),
            ("amplified_mean_mask_change", "mean mask change"),
            ("realised_gain_db", "realised gain (dB)"),
        ):
            if not pd.isna(record[column]):
                rows.append(
                    {
                        "file": result.source.name,
                        "order": record["order"],
                        "metric": metric,
                        "value": float(record[column]),
                    }
                )
    rows.append(
        {
            "file": result.source.name,
            "order": "all",
            "metric": "quality_reference_is_clean",
            "value": float(result.quality_reference == REFERENCE_CLEAN),
        }
    )
    for metric in QUALITY_METRICS:
        rows.append(
            {
                "file": result.source.name,
                "order": "all",
                "metric": summary_metric_name(metric),
                "value": result.quality_original[metric],
            }
        )
    for record in result.quality.to_dict("records"):
        for metric in QUALITY_METRICS:
            rows.append(
                {
                    "file": result.source.name,
                    "order": record["order"],
                    "metric": summary_metric_name(metric),
                    "value": record[quality_column(metric, "amplified")],
                }
            )
            rows.append(
                {
                    "file": result.source.name,
                    "order": record["order"],
                    "metric": summary_metric_name(metric, change=True),
                    "value": record[quality_column(metric, "change")],
                }
            )
    rows = [row for row in rows if not pd.isna(row["value"])]
    for record in result.areas.to_dict("records"):
        for metric in ("deletion_area", "deletion_area_std", "insertion_area", "insertion_area_std"):
            if not pd.isna(record[metric]):
                rows.append(
                    {
                        "file": result.source.name,
                        "order": record["order"],
                        "metric": metric,
                        "value": float(record[metric]),
                    }
                )
    return rows


def write_summary(results: Sequence[FilePerturbation], output_dir: str | os.PathLike) -> Path:
    """``output_dir/perturbation_summary.csv``: :func:`summary_rows` of every file (columns file, order, metric,
    value)."""
    table = pd.DataFrame(
        [row for result in results for row in summary_rows(result)], columns=["file", "order", "metric", "value"]
    )
    return write_atomically(
        Path(output_dir) / PERTURBATION_SUMMARY_FILE, lambda temporary: table.to_csv(temporary, index=False)
    )

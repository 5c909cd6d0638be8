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

Rankings (``ranking``):

* ``"signed"`` (the original project's): score = sum of the signed attributions over all output
  bins. ``top`` = the most positive bins (present, they raise the mask relative to the
  baseline), ``flop`` = the most negative ones (they lower it).
* ``"abs"``: score = sum of ``|attribution|`` over all output bins (magnitude of involvement,
  signs cannot cancel: :func:`xai_helpers.plots.aggregate` with ``"abs_sum"``). ``top`` = the most
  involved bins, ``flop`` = the least involved ones. This is the usual order for deletion curves.

Bin counts are ``round(percent / 100 * F * T)`` rounded half up; ties in the score are broken by
the flat (frequency-major, ``f * T + t``) index, lower first, in both directions, so every
selection is deterministic. Random selections and orders come from
``numpy.random.default_rng(seed)``; :func:`derived_seeds` turns one seed into ``n`` of them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure

from ..io.atomic import write_atomically, write_text_atomically
from ..io.audio import cached_model, load_audio, predict_mask, write_audio
from ..attribution.explain import attribution_paths
from ..models.nsnet2 import NSNet2
from ..plots.maps import aggregate
from ..dsp.stft import StftConfig, istft, log_power, stft, stft_config
from ..store.writer import AttributionFile, AttributionFileError

logger = logging.getLogger(__name__)

__all__ = [
    "RANKINGS",
    "ORDERS",
    "DEFAULT_FRACTIONS",
    "MASK_CHANGE_LABEL",
    "FilePerturbation",
    "PerturbationSettings",
    "amplified_name",
    "amplify_bins",
    "area_under_curve",
    "count_for_fraction",
    "curve_areas",
    "curve_summary",
    "deletion_insertion_curves",
    "derived_seeds",
    "global_sums",
    "mask_change",
    "perturb_file",
    "plot_curves",
    "plot_mask_change",
    "plot_selection",
    "rank_bins",
    "rank_order",
    "realised_gain_db",
    "resynthesise",
    "segment_features",
    "select_bins",
    "summary_rows",
    "write_summary",
]

RANKINGS = ("signed", "abs")
ORDERS = ("top", "flop", "random")
DEFAULT_FRACTIONS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
MASK_CHANGE_LABEL = "mask change (new - original)"
_ORDER_COLOURS = {"top": "tab:red", "flop": "tab:blue", "random": "0.35"}
_READ_BLOCK_BYTES = 64 * 1024 * 1024


# ---------------------------------------------------------------------------
# ranking and selection
# ---------------------------------------------------------------------------


def _check_ranking(ranking: str) -> str:
    if ranking not in RANKINGS:
        raise ValueError(f"ranking: unknown {ranking!r}; choose one of {', '.join(RANKINGS)}")
    return ranking


def _aggregation(ranking: str) -> str:
    return "signed_sum" if _check_ranking(ranking) == "signed" else "abs_sum"


def rank_bins(attributions: np.ndarray, ranking: str = "signed") -> np.ndarray:
    """Score ``[F, T]`` (float64, mask units) of every input bin: its attribution summed over all outputs.

    ``attributions`` is ``[f_out, t_out, f_in, t_in]`` (or any leading target axes before
    ``[f_in, t_in]``). ``"signed"`` sums the signed values, ``"abs"`` sums ``|attribution|``.
    Higher score = ranked first by ``"top"``.
    """
    a = np.asarray(attributions)
    if a.ndim < 3:
        raise ValueError(f"attributions must be [*targets, f_in, t_in] (e.g. [f_out, t_out, f_in, t_in]), got shape {a.shape}")
    return aggregate(a, _aggregation(ranking), axis=tuple(range(a.ndim - 2)))


def global_sums(stored: AttributionFile) -> tuple[np.ndarray, np.ndarray]:
    """Signed and absolute sums ``[F, T]`` (float64) over all targets of a stored file's attributions, in one pass."""
    if "attributions" not in stored or stored.dims()[-2:] != ("f_in", "t_in"):
        found = stored.dims() if "attributions" in stored else "no 'attributions' dataset"
        raise AttributionFileError(f"{stored.path}: attributions over input bins (..., f_in, t_in) needed, found {found}")
    shape = stored.file["attributions"].shape
    per_row = int(np.prod(shape[1:])) * 4
    step = max(1, _READ_BLOCK_BYTES // max(per_row, 1))
    signed = np.zeros(shape[-2:], dtype=np.float64)
    absolute = np.zeros(shape[-2:], dtype=np.float64)
    for start in range(0, shape[0], step):
        block = stored.read_attributions((slice(start, min(start + step, shape[0])),))
        axes = tuple(range(block.ndim - 2))
        signed += aggregate(block, "signed_sum", axis=axes)
        absolute += aggregate(block, "abs_sum", axis=axes)
    return signed, absolute


def count_for_fraction(fraction: float, n_bins: int) -> int:
    """``round(fraction * n_bins)`` rounded half up (``0 <= fraction <= 1``)."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must lie in [0, 1], got {fraction}")
    return min(n_bins, int(np.floor(fraction * n_bins + 0.5)))


def derived_seeds(seed: int, n: int) -> list[int]:
    """``n`` reproducible seeds derived from ``seed`` (:class:`numpy.random.SeedSequence`)."""
    return [int(value) for value in np.random.SeedSequence(seed).generate_state(n)] if n > 0 else []


def rank_order(scores: np.ndarray, order: str, seed: int | None = None) -> np.ndarray:
    """Flat indices (``f * T + t``) of every bin of ``scores`` ``[F, T]``, in ``order``.

    ``"top"``: highest score first; ``"flop"``: lowest first; ties by lower flat index in both.
    ``"random"``: a permutation from ``default_rng(seed)``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(f"scores must be [F, T], got shape {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores contain NaN or infinite values")
    flat = scores.ravel()
    if order == "top":
        return np.lexsort((np.arange(flat.size), -flat))
    if order == "flop":
        return np.lexsort((np.arange(flat.size), flat))
    if order == "random":
        return np.random.default_rng(seed).permutation(flat.size)
    raise ValueError(f"order: unknown {order!r}; choose one of {', '.join(ORDERS)}")


def select_bins(scores: np.ndarray, percent: float, which: str = "top", seed: int | None = None) -> np.ndarray:
    """Boolean selection ``[F, T]`` of exactly ``round(percent / 100 * F * T)`` bins.

    ``which`` is ``"top"`` (highest scores), ``"flop"`` (lowest) or ``"random"`` (from ``seed``),
    as in :func:`rank_order`.
    """
    if not 0.0 <= percent <= 100.0:
        raise ValueError(f"percent must lie in [0, 100], got {percent}")
    scores = np.asarray(scores)
    order = rank_order(scores, which, seed)
    selection = np.zeros(scores.size, dtype=bool)
    selection[order[: count_for_fraction(percent / 100.0, scores.size)]] = True
    return selection.reshape(scores.shape)


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
        raise ValueError(f"segment frames {first_frame}..{first_frame + n_frames - 1} lie outside the spectrum's {spectrum.shape[1]} frames")
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


def segment_features(wave: np.ndarray, config: StftConfig, first_frame: int, n_frames: int) -> np.ndarray:
    """Re-analysed features ``[F, n_frames]`` (log10 power, float32) of frames ``first_frame ...`` of ``wave``."""
    features = log_power(stft(wave, config))
    if first_frame < 0 or first_frame + n_frames > features.shape[1]:
        raise ValueError(f"segment frames {first_frame}..{first_frame + n_frames - 1} lie outside the wave's {features.shape[1]} frames")
    return features[:, first_frame : first_frame + n_frames].astype(np.float32)


def mask_change(
    wave: np.ndarray, original_mask: np.ndarray, model: NSNet2, config: StftConfig, first_frame: int
) -> np.ndarray:
    """New mask minus ``original_mask`` ``[F, T]`` for the segment of ``wave`` ``[N]``, model on the segment alone."""
    original_mask = np.asarray(original_mask, dtype=np.float64)
    features = segment_features(wave, config, first_frame, original_mask.shape[1])
    return predict_mask(features, model) - original_mask


def realised_gain_db(
    original: np.ndarray, amplified: np.ndarray, config: StftConfig, selection: np.ndarray, first_frame: int
) -> float:
    """Power gain (dB) of the selected segment bins after resynthesis and re-analysis: ``10 log10(sum|Y|^2 / sum|X|^2)``.

    Below the requested gain when the selection is scattered: the inverse STFT cannot keep an
    isolated bin's gain (overlapping frames and windows spread it to neighbours).
    """
    n_frames = selection.shape[1]
    frames = slice(first_frame, first_frame + n_frames)
    before = np.abs(stft(original, config)[:, frames][selection]) ** 2
    after = np.abs(stft(amplified, config)[:, frames][selection]) ** 2
    return float(10.0 * np.log10(after.sum() / before.sum())) if before.sum() > 0 else float("nan")


def amplified_name(basename: str, which: str, percent: float, gain_db: float) -> str:
    """``{basename}_{which}_{percent:g}_amplified_{gain_db:g}dB.wav``."""
    return f"{basename}_{which}_{percent:g}_amplified_{gain_db:g}dB.wav"


# ---------------------------------------------------------------------------
# deletion / insertion curves on the model input
# ---------------------------------------------------------------------------


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    f = np.asarray(fractions, dtype=np.float64)
    if f.ndim != 1 or f.size < 2:
        raise ValueError(f"fractions must be 1-D with at least two values, got {fractions!r}")
    if np.any(f < 0) or np.any(f > 1) or np.any(np.diff(f) <= 0):
        raise ValueError(f"fractions must increase strictly within [0, 1], got {fractions!r}")
    return f


def deletion_insertion_curves(
    model: NSNet2,
    features: np.ndarray,
    baseline: np.ndarray,
    scores: np.ndarray,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    orders: Sequence[str] = ORDERS,
    n_random: int = 5,
    seed: int = 0,
    region: np.ndarray | None = None,
) -> pd.DataFrame:
    """Deletion and insertion curves of ``features`` ``[F, T]`` against ``baseline`` ``[F, T]`` (log10 power).

    For each order (``"top"``/``"flop"`` of ``scores`` ``[F, T]``, and ``"random"`` with each of the
    ``n_random`` :func:`derived_seeds` of ``seed``) and fraction ``p`` (``k = round(p * F * T)``
    bins): *deletion* puts the baseline's values into the first ``k`` ranked bins of the input,
    *insertion* starts from the baseline and puts the input's values back into them. Each value
    is ``mean |mask(x') - mask(x)|`` over the segment (gain units) or, with a boolean ``region``
    ``[F, T]`` (an explained output region), ``|mean over the region of mask(x') - mask(x)|``; the model running on each
    ``x'`` as a sequence of its own (batched forward passes). Deletion at 0 and insertion at 1
    are 0 exactly (``x' = x``). The input is perturbed directly, no resynthesis: exact and fast.

    Returns a long table: ``order, run, seed, fraction, n_bins, deletion, insertion`` (``seed`` is
    ``<NA>`` and ``run`` 0 for the deterministic orders).
    """
    x = np.asarray(features, dtype=np.float32)
    b = np.asarray(baseline, dtype=np.float32)
    if x.ndim != 2 or b.shape != x.shape or np.shape(scores) != x.shape:
        raise ValueError(f"features, baseline and scores must share one [F, T] shape; got {x.shape}, {b.shape}, {np.shape(scores)}")
    fractions = _check_fractions(fractions)
    runs: list[tuple[str, int, int | None]] = []
    for order in orders:
        if order == "random":
            runs += [("random", run, s) for run, s in enumerate(derived_seeds(seed, n_random))]
        elif order in ORDERS:
            runs.append((order, 0, None))
        else:
            raise ValueError(f"order: unknown {order!r}; choose one of {', '.join(ORDERS)}")
    x_flat, b_flat = x.ravel(), b.ravel()
    rows, variants = [], [x]
    for order, run, run_seed in runs:
        ranked = rank_order(scores, order, run_seed)
        for fraction in fractions:
            k = count_for_fraction(float(fraction), x.size)
            chosen = ranked[:k]
            deleted = x_flat.copy()
            deleted[chosen] = b_flat[chosen]
            inserted = b_flat.copy()
            inserted[chosen] = x_flat[chosen]
            rows.append({"order": order, "run": run, "seed": run_seed, "fraction": float(fraction), "n_bins": k})
            variants += [deleted.reshape(x.shape), inserted.reshape(x.shape)]
    # Identical inputs run once (the whole baseline ends every deletion curve and starts every
    # insertion curve); x' identical to x (0 bins deleted, all inserted) has the change 0 exactly.
    unique: dict[bytes, int] = {}
    slots = np.array([unique.setdefault(v.tobytes(), len(unique)) for v in variants])
    first_of = {slot: index for index, slot in reversed(list(enumerate(slots)))}
    masks = _predict_batch(np.stack([variants[first_of[slot]] for slot in range(len(unique))]), model)
    differences = masks[slots[1:]] - masks[0]
    if region is None:
        changes = np.mean(np.abs(differences), axis=(1, 2))
    else:
        changes = np.abs(differences[:, np.asarray(region, dtype=bool)].mean(axis=1))
    changes[slots[1:] == 0] = 0.0
    for index, row in enumerate(rows):
        row["deletion"], row["insertion"] = float(changes[2 * index]), float(changes[2 * index + 1])
    table = pd.DataFrame(rows)
    table["seed"] = table["seed"].astype("Int64")
    return table


def _predict_batch(features: np.ndarray, model: NSNet2, batch: int = 256) -> np.ndarray:
    """Masks ``[B, F, T]`` of ``B`` feature maps ``[B, F, T]``, each a separate sequence (batched forward passes)."""
    device = next(model.parameters()).device
    out = []
    with torch.no_grad():
        for start in range(0, len(features), batch):
            frames = torch.as_tensor(np.ascontiguousarray(features[start : start + batch].transpose(0, 2, 1)), dtype=torch.float32, device=device)
            out.append(model(frames).transpose(1, 2).cpu().numpy().astype(np.float64))
    return np.concatenate(out)


def area_under_curve(fractions: Sequence[float], values: Sequence[float]) -> float:
    """Trapezoid area under ``values`` over ``fractions``, which must run from 0 to 1 (strictly increasing)."""
    f = _check_fractions(fractions)
    v = np.asarray(values, dtype=np.float64)
    if v.shape != f.shape:
        raise ValueError(f"values must match fractions' shape {f.shape}, got {v.shape}")
    if f[0] != 0.0 or f[-1] != 1.0:
        raise ValueError(f"the area needs fractions from 0 to 1, got {f[0]:g} .. {f[-1]:g}")
    return float(np.sum(np.diff(f) * (v[1:] + v[:-1]) / 2.0))


def curve_areas(curves: pd.DataFrame, method: str | None = None) -> pd.DataFrame:
    """Areas under each run's deletion and insertion curve, mean and std (ddof 1) over runs per order.

    ``curves`` is :func:`deletion_insertion_curves`' table. Returns ``method, order,
    deletion_area, deletion_area_std, insertion_area, insertion_area_std, n_runs``, the std NaN for
    a single run (top, flop).
    """
    per_run = []
    for (order, run), group in curves.groupby(["order", "run"], sort=False):
        group = group.sort_values("fraction")
        per_run.append({
            "order": order, "run": run,
            "deletion_area": area_under_curve(group["fraction"], group["deletion"]),
            "insertion_area": area_under_curve(group["fraction"], group["insertion"]),
        })
    per_run = pd.DataFrame(per_run)
    rows = []
    for order, group in per_run.groupby("order", sort=False):
        rows.append({
            "method": method, "order": order,
            "deletion_area": group["deletion_area"].mean(),
            "deletion_area_std": group["deletion_area"].std(ddof=1) if len(group) > 1 else np.nan,
            "insertion_area": group["insertion_area"].mean(),
            "insertion_area_std": group["insertion_area"].std(ddof=1) if len(group) > 1 else np.nan,
            "n_runs": len(group),
        })
    return pd.DataFrame(rows)


def curve_summary(curves: pd.DataFrame) -> pd.DataFrame:
    """Mean and std (ddof 1; 0 for a single run) of each curve over runs, per order and fraction."""
    grouped = curves.groupby(["order", "fraction"], sort=False)[["deletion", "insertion"]]
    spread = grouped.std(ddof=1).fillna(0.0).add_suffix("_std")
    summary = pd.concat([grouped.mean(), spread], axis=1)
    return summary.reset_index()


# ---------------------------------------------------------------------------
# one file
# ---------------------------------------------------------------------------


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

    def __post_init__(self) -> None:
        _check_ranking(self.ranking)
        if not 0.0 < self.top_percent <= 50.0:
            raise ValueError(f"top_percent must lie in (0, 50] so top and flop do not overlap, got {self.top_percent}")
        if self.n_random < 1:
            raise ValueError(f"n_random must be at least 1, got {self.n_random}")
        _check_fractions(self.fractions)


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
    first_frame: int = 0
    freqs_hz: np.ndarray | None = None
    """``[F]`` bin centre frequencies, Hz."""
    times_s: np.ndarray | None = None
    """``[T]`` frame centre times of the segment, seconds from the start of the file."""
    scores: np.ndarray | None = None
    """``[F, T]`` ranking score (mask units)."""
    selections: dict[str, np.ndarray] = field(default_factory=dict)
    """``top``, ``flop``, ``random`` (first seed): bool ``[F, T]`` of the amplified bins."""
    changes: dict[str, np.ndarray] = field(default_factory=dict)
    """Same keys: new mask minus original mask ``[F, T]`` after amplification."""
    reference: dict[str, float] = field(default_factory=dict)
    """Means over the segment: mask of the input, mask of the baseline, their difference, and the
    attribution sum per output bin (which a complete method makes equal to that difference)."""
    amplification: pd.DataFrame | None = None
    """``order, n_bins, mean |mask change|, std over seeds, mean mask change, realised gain (dB)``."""
    curves: pd.DataFrame | None = None
    areas: pd.DataFrame | None = None
    waves: dict[str, np.ndarray] = field(default_factory=dict)
    """``original``, ``top``, ``flop`` amplified: float32 ``[N]``."""
    written: list[Path] = field(default_factory=list)

    @property
    def basename(self) -> str:
        """The source file's stem, the prefix of every written file."""
        return self.source.stem

    def status_row(self) -> dict[str, object]:
        """One row of the notebook's status table."""
        return {"file": self.source.name, "status": self.status, "attributions": self.attribution_path.name if self.attribution_path else "",
                "message": self.message}


def _usable_attribution_file(source: Path, attributions_dir: Path, method: str) -> tuple[Path | None, list[str]]:
    """The first complete .h5 of ``source`` for ``method`` with input-bin attributions, and why others were passed over."""
    problems = []
    candidates = attribution_paths(source, attributions_dir, method)
    for path in candidates:
        try:
            with AttributionFile(path) as stored:
                if "attributions" in stored and stored.dims()[-2:] == ("f_in", "t_in"):
                    if len(candidates) > 1:
                        logger.warning("%s: %d %s attribution files; using %s (the first by name)",
                                       source.name, len(candidates), method, path.name)
                    return path, problems
                problems.append(f"{path.name}: not input-bin attributions (features={stored.attrs.get('features')})")
        except (AttributionFileError, OSError) as error:
            problems.append(str(error))
    return None, problems


def perturb_file(
    source: str | os.PathLike,
    attributions_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    settings: PerturbationSettings,
    model: NSNet2 | None = None,
) -> FilePerturbation:
    """Both experiments of the module docstring on one audio file; writes the amplified WAVs and JSON sidecars.

    ``model`` defaults to the NSNet2 of the sample rate the attributions were computed at.

    A file without a ``.h5`` for ``settings.method`` is ``"skipped"``; one whose files are all
    damaged, incomplete or not over input bins, or whose audio no longer gives the stored
    features, is ``"failed"``; the message says why. Nothing raises for those.
    """
    source = Path(source)
    output_dir = Path(output_dir)
    candidates = attribution_paths(source, attributions_dir, settings.method)
    if not candidates:
        return FilePerturbation(source, "skipped", f"no {settings.method} attribution file in {attributions_dir}", settings=settings)
    path, problems = _usable_attribution_file(source, Path(attributions_dir), settings.method)
    if path is None:
        return FilePerturbation(source, "failed", "; ".join(problems), settings=settings)
    for problem in problems:
        logger.warning("%s", problem)
    try:
        with AttributionFile(path) as stored:
            attrs = stored.attrs
            model = model if model is not None else cached_model(int(attrs.get("sample_rate", 16000)))
            signed, absolute = global_sums(stored)
            n_targets = int(np.prod(stored.file["attributions"].shape[:-2]))
            features = stored["input_features"].astype(np.float32)
            baseline = stored["baselines"].astype(np.float32).mean(axis=0)
            original_mask = predict_mask(features, model)
            freqs = stored["freqs_hz"].astype(np.float64)
            segment_times = stored["times_s"].astype(np.float64)
    except (AttributionFileError, OSError, KeyError) as error:
        return FilePerturbation(source, "failed", str(error), path, settings)
    sample_rate = int(attrs.get("sample_rate", 16000))
    config = stft_config(sample_rate)
    first_frame = int(attrs["segment_first_frame"])
    try:
        wave = load_audio(source, sample_rate)
        current = segment_features(wave, config, first_frame, features.shape[1])
    except ValueError as error:
        return FilePerturbation(source, "failed", str(error) if str(source) in str(error) else f"{source}: {error}", path, settings)
    if not np.allclose(current, features, atol=1e-3):
        return FilePerturbation(source, "failed", f"{source}: the audio no longer gives the features stored in {path.name} (changed since notebook 02?)", path, settings)

    scores = signed if settings.ranking == "signed" else absolute
    result = FilePerturbation(source, "perturbed", "", path, settings, sample_rate, first_frame, freqs,
                              segment_times + first_frame * config.hop_s, scores)
    baseline_mask = predict_mask(baseline, model)
    result.reference = {
        "mean mask (input)": float(original_mask.mean()), "mean mask (baseline)": float(baseline_mask.mean()),
        "mean mask(input) - mask(baseline)": float((original_mask - baseline_mask).mean()),
        "mean attribution sum per output bin": float(signed.sum() / n_targets),
    }
    result.waves["original"] = wave
    seeds = derived_seeds(settings.seed, settings.n_random)
    rows = []
    for which, run_seeds in (("top", [None]), ("flop", [None]), ("random", seeds)):
        stats = []
        for run, run_seed in enumerate(run_seeds):
            selection = select_bins(scores, settings.top_percent, which, run_seed)
            amplified = resynthesise(wave, config, selection, settings.gain_db, first_frame)
            change = mask_change(amplified, original_mask, model, config, first_frame)
            gain = realised_gain_db(wave, amplified, config, selection, first_frame)
            stats.append((float(np.mean(np.abs(change))), float(np.mean(change)), gain))
            if run == 0:
                result.selections[which], result.changes[which] = selection, change
            if which != "random":
                result.waves[which] = amplified
                result.written += _write_amplified(output_dir, result, which, amplified, int(selection.sum()), gain, stats[-1])
        values = np.array(stats)
        rows.append({
            "order": which, "n_bins": int(result.selections[which].sum()), "runs": len(run_seeds),
            "mean |mask change|": values[:, 0].mean(),
            "std over seeds": values[:, 0].std(ddof=1) if len(values) > 1 else np.nan,
            "mean mask change": values[:, 1].mean(),
            "realised gain (dB)": values[:, 2].mean(),
        })
    result.amplification = pd.DataFrame(rows)
    result.curves = deletion_insertion_curves(model, features, baseline, scores, settings.fractions, ORDERS,
                                              settings.n_random, settings.seed)
    result.areas = curve_areas(result.curves, settings.method)
    return result


def _write_amplified(
    output_dir: Path, result: FilePerturbation, which: str, wave: np.ndarray, n_bins: int, gain: float, stats: tuple
) -> list[Path]:
    settings = result.settings
    wav = output_dir / amplified_name(result.basename, which, settings.top_percent, settings.gain_db)
    write_audio(wav, wave, result.sample_rate)
    sidecar = {
        "source_file": str(result.source), "attribution_file": str(result.attribution_path),
        "which": which, **dataclasses.asdict(settings), "selected_bins": n_bins,
        "segment_bins": int(result.scores.size), "segment_first_frame": result.first_frame,
        "segment_n_frames": int(result.scores.shape[1]), "sample_rate": result.sample_rate,
        "gain_factor": 10.0 ** (settings.gain_db / 20.0), "realised_gain_db": gain,
        "mean_abs_mask_change": stats[0], "mean_mask_change": stats[1],
    }
    json_path = write_text_atomically(wav.with_suffix(".json"), json.dumps(sidecar, indent=2) + "\n")
    return [wav, json_path]


def summary_rows(result: FilePerturbation) -> list[dict[str, object]]:
    """Long-form rows ``file, order, metric, value`` of one perturbed file (none for a skipped one).

    ``order`` is ``top``, ``flop``, ``random`` (areas, amplification; ``*_std`` over the random
    seeds) or ``all`` (the file's reference means: ``mean_mask_input``, ``mean_mask_baseline``,
    ``mean_attribution_sum_per_output``).
    """
    if result.status != "perturbed":
        return []
    rows = [{"file": result.source.name, "order": "all", "metric": metric, "value": value}
            for metric, value in (("mean_mask_input", result.reference["mean mask (input)"]),
                                  ("mean_mask_baseline", result.reference["mean mask (baseline)"]),
                                  ("mean_attribution_sum_per_output", result.reference["mean attribution sum per output bin"]))]
    for record in result.amplification.to_dict("records"):
        for metric, column in (("n_bins", "n_bins"), ("amplified_mean_abs_mask_change", "mean |mask change|"),
                               ("amplified_mean_abs_mask_change_std", "std over seeds"),
                               ("amplified_mean_mask_change", "mean mask change"), ("realised_gain_db", "realised gain (dB)")):
            if not pd.isna(record[column]):
                rows.append({"file": result.source.name, "order": record["order"], "metric": metric, "value": float(record[column])})
    for record in result.areas.to_dict("records"):
        for metric in ("deletion_area", "deletion_area_std", "insertion_area", "insertion_area_std"):
            if not pd.isna(record[metric]):
                rows.append({"file": result.source.name, "order": record["order"], "metric": metric, "value": float(record[metric])})
    return rows


def write_summary(results: Sequence[FilePerturbation], output_dir: str | os.PathLike) -> Path:
    """``output_dir/perturbation_summary.csv``: :func:`summary_rows` of every file (columns file, order, metric, value)."""
    table = pd.DataFrame([row for result in results for row in summary_rows(result)], columns=["file", "order", "metric", "value"])
    return write_atomically(Path(output_dir) / "perturbation_summary.csv", lambda temporary: table.to_csv(temporary, index=False))


# ---------------------------------------------------------------------------
# plots (matplotlib Figures, never pyplot)
# ---------------------------------------------------------------------------


def _extent(freqs_hz: np.ndarray, times_s: np.ndarray) -> tuple[float, float, float, float]:
    """Pixel edges half a step either side of the (uniform) centres."""
    dt = times_s[1] - times_s[0] if len(times_s) > 1 else 0.01
    df = freqs_hz[1] - freqs_hz[0] if len(freqs_hz) > 1 else 1.0
    return (times_s[0] - dt / 2, times_s[-1] + dt / 2, freqs_hz[0] - df / 2, freqs_hz[-1] + df / 2)


def _panels(n: int, height: float = 3.4) -> tuple[Figure, list]:
    fig = Figure(figsize=(4.2 * n + 1.2, height), layout="constrained")
    axes = fig.subplots(1, n, sharex=True, sharey=True, squeeze=False)[0]
    return fig, list(axes)


def plot_selection(
    selections: Mapping[str, np.ndarray], freqs_hz: np.ndarray, times_s: np.ndarray, gain_db: float | None = None, title: str = ""
) -> Figure:
    """One panel per boolean selection ``[F, T]``: the amplified bins (axes: time s, frequency Hz)."""
    fig, axes = _panels(len(selections))
    cmap = ListedColormap(["#f2f2f2", "#b2182b"])
    image = None
    for ax, (name, selection) in zip(axes, selections.items()):
        selection = np.asarray(selection, dtype=bool)
        image = ax.imshow(selection.astype(float), origin="lower", aspect="auto", interpolation="nearest",
                          extent=_extent(freqs_hz, times_s), cmap=cmap, norm=Normalize(0, 1))
        ax.set_title(f"{name}: {int(selection.sum())} of {selection.size} bins")
        ax.set_xlabel("time in file (s)")
    axes[0].set_ylabel("frequency (Hz)")
    bar = fig.colorbar(image, ax=axes, ticks=[0.25, 0.75], fraction=0.03)
    bar.ax.set_yticklabels(["kept", "amplified" if gain_db is None else f"+{gain_db:g} dB"])
    if title:
        fig.suptitle(title)
    return fig


def plot_mask_change(
    changes: Mapping[str, np.ndarray], freqs_hz: np.ndarray, times_s: np.ndarray, title: str = ""
) -> Figure:
    """New minus original mask ``[F, T]`` per panel, diverging colormap on one symmetric range shared by all panels."""
    fig, axes = _panels(len(changes))
    peak = max(float(np.max(np.abs(c))) for c in changes.values()) or 1.0
    image = None
    for ax, (name, change) in zip(axes, changes.items()):
        image = ax.imshow(change, origin="lower", aspect="auto", interpolation="nearest", extent=_extent(freqs_hz, times_s),
                          cmap="RdBu_r", norm=Normalize(-peak, peak))
        ax.set_title(f"{name}: mean |change| {np.mean(np.abs(change)):.4f}")
        ax.set_xlabel("time in file (s)")
    axes[0].set_ylabel("frequency (Hz)")
    fig.colorbar(image, ax=axes, label=MASK_CHANGE_LABEL, fraction=0.03)
    if title:
        fig.suptitle(title)
    return fig


def plot_curves(curves: pd.DataFrame, areas: pd.DataFrame | None = None, title: str = "") -> Figure:
    """Deletion and insertion curves (mean |mask change| vs fraction of bins) per order; random as mean ± std band."""
    summary = curve_summary(curves)
    fig = Figure(figsize=(11, 3.8), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    area_of = {} if areas is None else areas.set_index("order").to_dict("index")
    for ax, kind, caption in ((axes[0], "deletion", "deletion: first k ranked bins -> baseline"),
                              (axes[1], "insertion", "insertion: baseline + first k ranked bins of the input")):
        for order, group in summary.groupby("order", sort=False):
            colour = _ORDER_COLOURS.get(order, "k")
            label = order if order != "random" else f"random (mean ± std, {int(curves[curves.order == 'random'].run.nunique())} seeds)"
            if order in area_of:
                label += f", area {area_of[order][f'{kind}_area']:.4f}"
            ax.plot(group["fraction"], group[kind], marker="o", ms=3, color=colour, label=label)
            if order == "random":
                ax.fill_between(group["fraction"], group[kind] - group[f"{kind}_std"], group[kind] + group[f"{kind}_std"],
                                color=colour, alpha=0.25, lw=0)
        ax.set_title(caption)
        ax.set_xlabel("fraction of the segment's bins (ranked order)")
        ax.set_xlim(0, 1)
        ax.legend(fontsize="small")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("mean |mask(x') - mask(x)| (gain)")
    if title:
        fig.suptitle(title)
    return fig



"""Notebook 01's per-file views: what goes into the model, what it predicts, and what comes out
(:func:`plot_enhancement_overview`); the SNR of every bin, the speech-dominant binary mask and the mask
the model predicts for the zero signal (:func:`plot_snr_overview`); the explained segment of notebook 02
marked on both (:func:`mark_segment`)."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from ..dsp.snr import speech_dominant_mask
from ..dsp.stft import log_power, stft
from ..models.enhance import Enhancement
from .style import MASK_CMAP, SIGNED_CMAP, SPECTROGRAM_CMAP, draw_image, extent, file_times, new_figure, time_label

LOG_POWER_RANGE = 8.0
"""Spectrograms show the top 8 decades (80 dB) of power below the loudest bin of the noisy input."""
SNR_RANGE_DB = 30.0
"""The SNR map's colour scale: -30..+30 dB (beyond is clipped to the end colours)."""
SEGMENT_GID = "explained_segment"
"""``gid`` of the explained-segment marker (to find it in tests)."""


def mark_segment(
    ax, start_s: float, duration_s: float, colour: str = "white", label: str = "explained segment (notebook 02)"
):
    """Mark the explained segment ``[start_s, start_s + duration_s]`` (s in the file) on a
    time-frequency or waveform axes: a dashed, unfilled span over the whole height; returns it."""
    if not (np.isfinite(start_s) and np.isfinite(duration_s)) or start_s < 0 or duration_s <= 0:
        raise ValueError(f"segment: start_s must be >= 0 and duration_s > 0 (s), got {start_s} and {duration_s}")
    span = ax.axvspan(start_s, start_s + duration_s, facecolor="none", edgecolor=colour, lw=1.4, ls="--", label=label)
    span.set_gid(SEGMENT_GID)
    return span


def plot_enhancement_overview(
    result: Enhancement, clean: np.ndarray | None = None, title: str = "", segment_s: tuple[float, float] | None = None
) -> Figure:
    """Waveforms, log-power spectrograms (clean, noisy, enhanced) and the predicted mask of one file.

    All spectrograms share one colour scale (log10 power, top :data:`LOG_POWER_RANGE` decades of the
    noisy input); the mask uses 0..1. Axes are in seconds (in the file) and Hz. ``segment_s``
    ``(start_s, duration_s)``: notebook 02's explained segment, marked on every panel (:func:`mark_segment`).
    """
    config = result.config
    times = file_times(config.frame_times_s(result.features.shape[1]))  # the whole file: its frames from 0 s
    freqs = config.frequencies_hz()
    pixels = extent(freqs, times)
    vmax = float(result.features.max())
    vmin = vmax - LOG_POWER_RANGE
    panels = [("noisy input (model features)", result.features)]
    if clean is not None:
        panels.insert(0, ("clean", log_power(stft(clean, config))))
    panels.append(("enhanced", log_power(stft(result.enhanced, config))))

    fig, axes = new_figure((11, 2.3 * (len(panels) + 2)), nrows=len(panels) + 2, ncols=1, sharex=True)
    seconds = np.arange(len(result.enhanced)) / config.sample_rate
    axes[0].plot(seconds, result.wave, lw=0.5, color="0.6", label="noisy")
    if clean is not None:
        axes[0].plot(seconds, clean, lw=0.5, color="tab:blue", label="clean")
    axes[0].plot(seconds, result.enhanced, lw=0.5, color="tab:orange", label="enhanced")
    axes[0].set_ylabel("amplitude (full scale)")
    axes[0].legend(loc="upper right", ncols=3, fontsize="small")
    axes[0].set_title("waveforms")

    spectrogram_image = None
    for ax, (name, image) in zip(axes[1:], panels):
        spectrogram_image = ax.imshow(
            image, origin="lower", aspect="auto", extent=pixels, vmin=vmin, vmax=vmax, cmap=SPECTROGRAM_CMAP
        )
        ax.set_title(f"{name}: log10 power")
        ax.set_ylabel("frequency (Hz)")
    fig.colorbar(spectrogram_image, ax=list(axes[1 : len(panels) + 1]), label="log10 power (10 dB per unit)")

    mask_image = axes[-1].imshow(
        result.mask, origin="lower", aspect="auto", extent=pixels, vmin=0, vmax=1, cmap=MASK_CMAP
    )
    axes[-1].set_title("predicted gain mask (before the -80 dB floor)")
    axes[-1].set_ylabel("frequency (Hz)")
    axes[-1].set_xlabel(time_label())
    fig.colorbar(mask_image, ax=axes[-1], label="gain (linear, 0..1)")
    if segment_s is not None:
        for ax in axes:
            mark_segment(ax, *segment_s, colour="black" if ax is axes[0] else "white")
        axes[0].legend(loc="upper right", ncols=4, fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def plot_snr_overview(
    snr_db: np.ndarray,
    zero_mask: np.ndarray,
    freqs_hz: np.ndarray,
    times_s: np.ndarray,
    threshold_db: float = 0.0,
    segment_s: tuple[float, float] | None = None,
    title: str = "",
    model: str = "NSNet2",
) -> Figure:
    """Three panels of one file on the time axis of the file (s) and Hz: the SNR of every bin
    ``snr_db`` ``[F, T]`` (dB, diverging scale of ±:data:`SNR_RANGE_DB` centred on 0 dB), the
    speech-dominant binary mask (SNR > ``threshold_db``, on the mask's 0..1 scale) and ``zero_mask``
    ``[F, T]``, the mask ``model`` predicts for the zero signal (the ``zero`` baseline). ``segment_s``
    ``(start_s, duration_s)``: notebook 02's explained segment, marked on each."""
    snr_db, zero_mask = np.asarray(snr_db, dtype=np.float64), np.asarray(zero_mask, dtype=np.float64)
    if zero_mask.shape != snr_db.shape or snr_db.ndim != 2:
        raise ValueError(f"snr_db and zero_mask must be [F, T] of one shape, got {snr_db.shape} and {zero_mask.shape}")
    fig, axes = new_figure((11, 7.2), nrows=3, ncols=1, sharex=True)
    dominant = speech_dominant_mask(snr_db, threshold_db).astype(np.float64)
    panels = [
        (
            snr_db,
            SIGNED_CMAP,
            Normalize(-SNR_RANGE_DB, SNR_RANGE_DB),
            "SNR = 10 log10 |S|^2 / |N|^2 per bin",
            f"SNR (dB, clipped at ±{SNR_RANGE_DB:g})",
        ),
        (
            dominant,
            MASK_CMAP,
            Normalize(0.0, 1.0),
            f"speech-dominant bins: SNR > {threshold_db:g} dB ({100 * dominant.mean():.0f} % of bins)",
            "1 = speech dominates",
        ),
        (
            zero_mask,
            MASK_CMAP,
            Normalize(0.0, 1.0),
            f"{model}'s mask for the zero signal (the `zero` baseline: log-power floor in every bin)",
            "gain (linear, 0..1)",
        ),
    ]
    for ax, (values, cmap, norm, name, label) in zip(axes, panels):
        image = draw_image(ax, values, times_s, freqs_hz, cmap, norm)
        ax.set_title(name)
        ax.set_ylabel("frequency (Hz)")
        fig.colorbar(image, ax=ax, label=label)
        if segment_s is not None:
            mark_segment(ax, *segment_s, colour="lime" if ax is axes[0] else "red")
    axes[-1].set_xlabel(time_label())
    if segment_s is not None:
        axes[0].legend(loc="upper right", fontsize="small")
    if title:
        fig.suptitle(title)
    return fig

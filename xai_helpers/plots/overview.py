"""Notebook 01's per-file view: what goes into NSNet2, what it predicts, and what comes out."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..dsp.stft import log_power, stft
from ..models.enhance import Enhancement
from .style import MASK_CMAP, SPECTROGRAM_CMAP, extent, new_figure

LOG_POWER_RANGE = 8.0
"""Spectrograms show the top 8 decades (80 dB) of power below the loudest bin of the noisy input."""


def plot_enhancement_overview(result: Enhancement, clean: np.ndarray | None = None, title: str = "") -> Figure:
    """Waveforms, log-power spectrograms (clean, noisy, enhanced) and the predicted mask of one file.

    All spectrograms share one colour scale (log10 power, top :data:`LOG_POWER_RANGE` decades of the
    noisy input); the mask uses 0..1. Axes are in seconds and Hz.
    """
    config = result.config
    times = config.frame_times_s(result.features.shape[1])
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
        spectrogram_image = ax.imshow(image, origin="lower", aspect="auto", extent=pixels, vmin=vmin, vmax=vmax, cmap=SPECTROGRAM_CMAP)
        ax.set_title(f"{name}: log10 power")
        ax.set_ylabel("frequency (Hz)")
    fig.colorbar(spectrogram_image, ax=list(axes[1 : len(panels) + 1]), label="log10 power (10 dB per unit)")

    mask_image = axes[-1].imshow(result.mask, origin="lower", aspect="auto", extent=pixels, vmin=0, vmax=1, cmap=MASK_CMAP)
    axes[-1].set_title("predicted gain mask (before the -80 dB floor)")
    axes[-1].set_ylabel("frequency (Hz)")
    axes[-1].set_xlabel("time (s)")
    fig.colorbar(mask_image, ax=axes[-1], label="gain (linear, 0..1)")
    if title:
        fig.suptitle(title)
    return fig

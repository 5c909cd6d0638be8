"""The short-time Fourier transform and log-power features of NSNet2-style mask models.

The settings of a model (FFT size per sample rate) come from the model: ``models.nsnet2.stft_config``.

The framing is the DNS-challenge baseline's (``featurelib.stft`` with ``nodelay=True``): frame
``k`` covers samples ``[k * hop, k * hop + win)``, the signal is zero-padded at the end, and a
signal of ``N`` samples gives ``ceil(N / hop)`` frames. The window is the periodic sqrt-Hann
(``scipy.signal.windows.hann(win, sym=False) ** 0.5``) that the official ``NSnet2Enhancer``
builds; with a hop of half a window its square sums to one, so the inverse is a plain
overlap-add with the same window. Only the first hop of samples is covered by a single window:
it fades in on resynthesis, exactly as in the reference pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import windows

from .wave import FRAME_S

LOG_POWER_FLOOR = 1e-12
"""Power floor of the features: ``log10(max(|X|^2, 1e-12))``, i.e. -12 in feature units."""


@dataclass(frozen=True)
class StftConfig:
    """STFT settings in samples; ``win_length / sample_rate`` is 20 ms at every rate."""

    sample_rate: int
    win_length: int
    hop_length: int
    n_fft: int

    @property
    def n_bins(self) -> int:
        """Number of frequency bins, ``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    @property
    def hop_s(self) -> float:
        """Hop in seconds."""
        return self.hop_length / self.sample_rate

    def window(self) -> np.ndarray:
        """Periodic sqrt-Hann window ``[win_length]``."""
        return np.sqrt(windows.hann(self.win_length, sym=False))

    def frequencies_hz(self) -> np.ndarray:
        """Centre frequency of each bin ``[F]`` in Hz."""
        return np.fft.rfftfreq(self.n_fft, d=1.0 / self.sample_rate)

    def frame_times_s(self, n_frames: int) -> np.ndarray:
        """Centre time of each frame ``[T]`` in seconds."""
        return (np.arange(n_frames) * self.hop_length + self.win_length / 2) / self.sample_rate

    def n_frames(self, n_samples: int) -> int:
        """Frames produced for a signal of ``n_samples`` samples."""
        return -(-n_samples // self.hop_length)

    @classmethod
    def with_window(cls, sample_rate: int, n_fft: int, window_s: float = FRAME_S) -> StftConfig:
        """A ``window_s`` window (20 ms) with a hop of half a window and an FFT of ``n_fft`` points."""
        win = int(window_s * sample_rate)
        return cls(sample_rate=sample_rate, win_length=win, hop_length=win // 2, n_fft=n_fft)

    def as_attrs(self) -> dict[str, object]:
        """Settings as flat metadata (for HDF5 attributes and JSON)."""
        return {
            "sample_rate": self.sample_rate,
            "win_length": self.win_length,
            "hop_length": self.hop_length,
            "n_fft": self.n_fft,
            "window": "sqrt-hann (periodic)",
            "features": "log10(max(|X|^2, 1e-12))",
        }


def stft(wave: np.ndarray, config: StftConfig) -> np.ndarray:
    """Complex spectrum ``[F, T]`` of ``wave`` ``[N]`` (``T = ceil(N / hop)``)."""
    wave = np.asarray(wave, dtype=np.float64)
    if wave.ndim != 1:
        raise ValueError(f"stft expects a 1-D wave [n_samples], got shape {wave.shape}")
    n_frames = config.n_frames(len(wave))
    padded = np.zeros((n_frames - 1) * config.hop_length + config.win_length)
    padded[: len(wave)] = wave
    frames = np.lib.stride_tricks.sliding_window_view(padded, config.win_length)[:: config.hop_length]
    return np.fft.rfft(frames * config.window(), n=config.n_fft, axis=1).T


def log_power(spectrum: np.ndarray) -> np.ndarray:
    """NSNet2's input features ``[F, T]``: ``log10(max(|X|^2, 1e-12))`` of a complex spectrum."""
    return np.log10(np.maximum(np.abs(spectrum) ** 2, LOG_POWER_FLOOR))


def istft(spectrum: np.ndarray, config: StftConfig, length: int) -> np.ndarray:
    """Waveform ``[length]`` from a complex spectrum ``[F, T]`` by windowed overlap-add."""
    if spectrum.ndim != 2 or spectrum.shape[0] != config.n_bins:
        raise ValueError(f"istft expects a spectrum [{config.n_bins}, T], got shape {spectrum.shape}")
    frames = np.fft.irfft(spectrum.T, n=config.n_fft, axis=1)[:, : config.win_length] * config.window()
    n_frames = frames.shape[0]
    out = np.zeros((n_frames - 1) * config.hop_length + config.win_length)
    for index in range(config.win_length // config.hop_length):
        # Frames that start at multiples of the window do not overlap: add them in one strided write.
        chunk = frames[index :: config.win_length // config.hop_length].reshape(-1)
        start = index * config.hop_length
        out[start : start + len(chunk)] += chunk
    if length > len(out):
        out = np.pad(out, (0, length - len(out)))
    return out[:length]

"""The short-time Fourier transform and log-power features of the mask models.

Each model declares its own STFT (``MaskModel.stft_config``); three framings exist (``padding``):

- ``"end"`` (NSNet2, the DNS-challenge baseline's ``featurelib.stft`` with ``nodelay=True``): frame
  ``k`` covers samples ``[k * hop, k * hop + win)``, the signal is zero-padded at the end, and a
  signal of ``N`` samples gives ``ceil(N / hop)`` frames.
- ``"causal"`` (DTLN's streaming buffer): frame ``k`` covers ``[(k + 1) * hop - win, (k + 1) * hop)``,
  zeros before the signal's start; ``N`` samples give ``floor(N / hop)`` frames, so a frame never reads a
  sample after its last hop.
- ``"center"`` (GTCRN, ``torch.stft(center=True)``): frame ``k`` is centred on sample ``k * hop``, the
  signal reflect-padded by ``n_fft // 2`` on both sides; ``N`` samples give ``N // hop + 1`` frames.

Windows (``window``): the periodic sqrt-Hann (``scipy.signal.windows.hann(win, sym=False) ** 0.5``;
NSNet2, GTCRN) or a rectangle (DTLN). For NSNet2 the square of the window sums to one at a hop of half a
window, so :func:`istft` is a plain overlap-add with the same window; only the first hop of samples is
covered by a single window and fades in on resynthesis, exactly as in the reference pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import windows

from .wave import FRAME_S

LOG_POWER_FLOOR = 1e-12
"""Power floor of the features: ``log10(max(|X|^2, 1e-12))``, i.e. -12 in feature units."""


WINDOWS = ("sqrt-hann", "rect")
PADDINGS = ("end", "causal", "center")


@dataclass(frozen=True)
class StftConfig:
    """STFT settings in samples (see the module docstring for ``window`` and ``padding``)."""

    sample_rate: int
    win_length: int
    hop_length: int
    n_fft: int
    window_type: str = "sqrt-hann"
    padding: str = "end"

    def __post_init__(self) -> None:
        if self.window_type not in WINDOWS:
            raise ValueError(f"window_type must be one of {WINDOWS}, not {self.window_type!r}")
        if self.padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, not {self.padding!r}")

    @property
    def n_bins(self) -> int:
        """Number of frequency bins, ``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    @property
    def hop_s(self) -> float:
        """Hop in seconds."""
        return self.hop_length / self.sample_rate

    def window(self) -> np.ndarray:
        """The analysis window ``[win_length]``: periodic sqrt-Hann, or ones for ``"rect"``."""
        if self.window_type == "rect":
            return np.ones(self.win_length)
        return np.sqrt(windows.hann(self.win_length, sym=False))

    def frequencies_hz(self) -> np.ndarray:
        """Centre frequency of each bin ``[F]`` in Hz."""
        return np.fft.rfftfreq(self.n_fft, d=1.0 / self.sample_rate)

    def frame_starts(self, n_frames: int) -> np.ndarray:
        """First sample of each frame ``[T]`` (negative where the frame starts in the padding)."""
        offset = {"end": 0, "causal": self.hop_length - self.win_length, "center": -(self.n_fft // 2)}[self.padding]
        return np.arange(n_frames) * self.hop_length + offset

    def frame_times_s(self, n_frames: int) -> np.ndarray:
        """Centre time of each frame ``[T]`` in seconds."""
        return (self.frame_starts(n_frames) + self.win_length / 2) / self.sample_rate

    def n_frames(self, n_samples: int) -> int:
        """Frames produced for a signal of ``n_samples`` samples."""
        if self.padding == "causal":
            return n_samples // self.hop_length
        if self.padding == "center":
            return n_samples // self.hop_length + 1
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
            "window": "sqrt-hann (periodic)" if self.window_type == "sqrt-hann" else "rectangular",
            "padding": self.padding,
            "features": "log10(max(|X|^2, 1e-12))",
        }


def stft(wave: np.ndarray, config: StftConfig) -> np.ndarray:
    """Complex spectrum ``[F, T]`` of ``wave`` ``[N]`` (``T = config.n_frames(N)``)."""
    wave = np.asarray(wave, dtype=np.float64)
    if wave.ndim != 1:
        raise ValueError(f"stft expects a 1-D wave [n_samples], got shape {wave.shape}")
    n_frames = config.n_frames(len(wave))
    if n_frames < 1:
        raise ValueError(f"stft: a wave of {len(wave)} samples is shorter than one hop ({config.hop_length} samples)")
    padded = padded_wave(wave, config, n_frames)
    frames = np.lib.stride_tricks.sliding_window_view(padded, config.win_length)[:: config.hop_length]
    return np.fft.rfft(frames * config.window(), n=config.n_fft, axis=1).T


def padded_wave(wave: np.ndarray, config: StftConfig, n_frames: int) -> np.ndarray:
    """``wave`` ``[N]`` padded as ``config.padding`` says, to the ``(n_frames - 1) * hop + win`` samples that
    ``n_frames`` frames read (frame ``k`` starts at sample ``k * hop`` of the result)."""
    length = (n_frames - 1) * config.hop_length + config.win_length
    if config.padding == "center":
        pad = config.n_fft // 2
        padded = np.pad(wave, (pad, pad), mode="reflect")
        if config.win_length != config.n_fft:
            raise ValueError("centred framing needs win_length == n_fft")
        return padded[:length]
    padded = np.zeros(length)
    start = config.win_length - config.hop_length if config.padding == "causal" else 0
    used = wave[: length - start]
    padded[start : start + len(used)] = used
    return padded


def log_power(spectrum: np.ndarray) -> np.ndarray:
    """NSNet2's input features ``[F, T]``: ``log10(max(|X|^2, 1e-12))`` of a complex spectrum."""
    return np.log10(np.maximum(np.abs(spectrum) ** 2, LOG_POWER_FLOOR))


def istft(spectrum: np.ndarray, config: StftConfig, length: int) -> np.ndarray:
    """Waveform ``[length]`` from a complex spectrum ``[F, T]`` by windowed overlap-add at the frames' places.

    ``"end"`` framing (NSNet2) is the plain overlap-add of the reference enhancer (the window's square sums
    to one, the first hop fades in); the other framings are divided by the summed squared window, as
    ``torch.istft`` does, so that ``istft(stft(x)) == x``.
    """
    if spectrum.ndim != 2 or spectrum.shape[0] != config.n_bins:
        raise ValueError(f"istft expects a spectrum [{config.n_bins}, T], got shape {spectrum.shape}")
    window = config.window()
    frames = np.fft.irfft(spectrum.T, n=config.n_fft, axis=1)[:, : config.win_length] * window
    out = _overlap_add(frames, config.hop_length)
    if config.padding != "end":
        envelope = _overlap_add(np.broadcast_to(window**2, frames.shape), config.hop_length)
        out = out / np.maximum(envelope, 1e-11)
        start = -int(config.frame_starts(1)[0])
        out = out[start:]
    if length > len(out):
        out = np.pad(out, (0, length - len(out)))
    return out[:length]


def _overlap_add(frames: np.ndarray, hop: int) -> np.ndarray:
    """Frames ``[T, W]`` placed ``hop`` samples apart and summed: ``[(T - 1) * hop + W]``."""
    n_frames, width = frames.shape
    step = -(-width // hop)
    if step * hop != width:  # zero-pad each frame to a whole number of hops
        frames = np.pad(frames, ((0, 0), (0, step * hop - width)))
    out = np.zeros((n_frames - 1 + step) * hop)
    for index in range(step):
        # Frames ``step`` apart do not overlap: add them in one strided write.
        chunk = frames[index::step].reshape(-1)
        out[index * hop : index * hop + len(chunk)] += chunk
    return out[: (n_frames - 1) * hop + width]

"""Planted mechanisms: small recurrent mask models whose answer is known, a ground truth where energy says nothing.

Each model reads log10-power frames ``[B, T, F]`` on NSNet2's 16 kHz grid (161 bins, 10 ms hop) and its output at
*every* bin ``(f, t)`` depends on one input bin only: band ``band`` at lag ``lag`` frames, ``x[t - lag, band]``
(before the clip starts, on nothing: the output there is a constant). The weights are set by hand so that this holds
exactly in float32, not approximately: gates that must be shut or open get biases of ``±GATE_BIAS``, where the sigmoid
is exactly 0 or 1, and every other input weight is zero. Three mechanisms carry the value through time:

- ``"gru"`` (:class:`PlantedGRU`): an ``nn.GRU`` whose units form a shift register (update gate shut, reset gate
  open): unit 0 takes ``tanh(x[t, band] / SCALE)``, unit ``j`` takes ``tanh`` of unit ``j - 1`` one frame earlier;
- ``"lstm"`` (:class:`PlantedLSTM`): an ``nn.LSTM`` shift register (forget gate shut, input and output gates open);
- ``"gate"`` (:class:`PlantedGate`): the same GRU register, then a multiplicative gate of two factors that both vary
  with the planted bin: ``sigmoid(2 h) * tanh(h)`` of the register's last unit ``h`` (the product rules differ here).

The mask is ``sigmoid(READOUT * r + bias_f)`` with ``r`` the register's last unit at frame ``t``: every output bin
depends on the planted bin alone. A complete attribution method must put all of each bin's attribution on
``(band, t - lag)``; :func:`planted_share` measures the share it does, and the exact Shapley value of the tile holding
that bin equals the whole change (every other tile is a null player). Tests and notebook 05 use them
(:mod:`.planted_games`: each method's share on the planted bin, a game where the ``energy`` control must fail).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from ..dsp.stft import StftConfig
from ..models.base import MaskModel, output_log_power
from ..models.nsnet2 import stft_config

GATE_BIAS = 1e4
"""Bias that shuts (``-GATE_BIAS``) or opens (``+GATE_BIAS``) a sigmoid gate exactly in float32 and float64."""
SCALE = 6.0
"""Log10-power units divided by this before the register's first ``tanh`` (speech spans about -12 to +2)."""
READOUT = 4.0
"""Weight of the register's last unit in the mask's logit."""
MECHANISMS = ("gru", "lstm", "gate")


class Planted(MaskModel):
    """Common part of the planted models: the grid (NSNet2's 16 kHz STFT), the readout and the targets; subclasses
    build the register (:meth:`register`, frames ``[B, T, F]`` -> the last unit ``[B, T, 1]``)."""

    targets = ("mask", "logit", "output")
    latent_layers: ClassVar[dict[str, str]] = {}
    mechanism: ClassVar[str] = ""

    def __init__(self, band: int, lag: int, n_bins: int = 161) -> None:
        super().__init__()
        if not 0 <= band < n_bins or lag < 0:
            raise ValueError(f"band must lie in 0..{n_bins - 1} and lag be >= 0 frames, got band {band}, lag {lag}")
        self.band, self.lag, self.n_bins, self.sample_rate = int(band), int(lag), int(n_bins), 16000
        self.name = f"planted_{self.mechanism}"
        self.readout = nn.Linear(1, n_bins)
        self.sigmoid = nn.Sigmoid()
        with torch.no_grad():
            self.readout.weight.fill_(READOUT)
            self.readout.bias.copy_(torch.linspace(-1.0, 1.0, n_bins))  # a different mask level per output bin

    @classmethod
    def stft_config(cls, sample_rate: int) -> StftConfig:
        """NSNet2's STFT (16 kHz: 161 bins, 10 ms hop)."""
        return stft_config(sample_rate)

    def latent_units(self, layer: str) -> int:
        self.check_latent_layers([layer])
        return 0

    @abstractmethod
    def register(self, features: torch.Tensor) -> torch.Tensor:
        """The register's last unit ``[B, T, 1]``: a function of ``features[:, t - lag, band]`` alone."""

    def explained(
        self, features: torch.Tensor, target: str = "mask", phase: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``"logit"``, ``"mask"`` or ``"output"`` (``log10(mask^2 * 10**features)``) ``[B, T, F]``."""
        self.check_target(target)
        logit = self.readout(self.register(features))
        if target == "logit":
            return logit
        mask = self.sigmoid(logit)
        return mask if target == "mask" else output_log_power(features, mask * mask)


def _shift_register_gru(band: int, units: int, n_bins: int) -> nn.GRU:
    """A GRU (PyTorch gates r, z, n) whose unit 0 is ``tanh(x[band] / SCALE)`` and unit ``j`` is ``tanh`` of unit
    ``j - 1`` at the previous frame: update gate shut (``z = 0``), reset gate open (``r = 1``)."""
    gru = nn.GRU(n_bins, units, batch_first=True)
    with torch.no_grad():
        for parameter in gru.parameters():
            parameter.zero_()
        gru.bias_ih_l0[:units] = GATE_BIAS  # r = 1
        gru.bias_ih_l0[units : 2 * units] = -GATE_BIAS  # z = 0: h_t = n_t
        gru.weight_ih_l0[2 * units, band] = 1.0 / SCALE  # n_0 = tanh(x[band] / SCALE)
        for unit in range(1, units):
            gru.weight_hh_l0[2 * units + unit, unit - 1] = 1.0  # n_j = tanh(r * h_{j-1})
    return gru


class PlantedGRU(Planted):
    """The planted bin carried through an ``nn.GRU`` shift register of ``lag + 1`` units (module docstring)."""

    mechanism = "gru"
    randomisation_order = ("readout", "gru")

    def __init__(self, band: int, lag: int, n_bins: int = 161) -> None:
        super().__init__(band, lag, n_bins)
        self.gru = _shift_register_gru(self.band, self.lag + 1, self.n_bins)

    def register(self, features: torch.Tensor) -> torch.Tensor:
        return self.gru(features)[0][..., -1:]


class PlantedLSTM(Planted):
    """The planted bin carried through an ``nn.LSTM`` shift register of ``lag + 1`` units: forget gate shut, input and
    output gates open, so ``c_t = tanh(...)`` of the unit before and ``h_t = tanh(c_t)``."""

    mechanism = "lstm"
    randomisation_order = ("readout", "lstm")

    def __init__(self, band: int, lag: int, n_bins: int = 161) -> None:
        super().__init__(band, lag, n_bins)
        units = self.lag + 1
        self.lstm = nn.LSTM(self.n_bins, units, batch_first=True)
        with torch.no_grad():
            for parameter in self.lstm.parameters():
                parameter.zero_()
            self.lstm.bias_ih_l0[:units] = GATE_BIAS  # input gate open
            self.lstm.bias_ih_l0[units : 2 * units] = -GATE_BIAS  # forget gate shut
            self.lstm.bias_ih_l0[3 * units :] = GATE_BIAS  # output gate open
            self.lstm.weight_ih_l0[2 * units, self.band] = 1.0 / SCALE  # g_0 = tanh(x[band] / SCALE)
            for unit in range(1, units):
                self.lstm.weight_hh_l0[2 * units + unit, unit - 1] = 1.0  # g_j = tanh(h_{j-1})

    def register(self, features: torch.Tensor) -> torch.Tensor:
        return self.lstm(features)[0][..., -1:]


class PlantedGate(Planted):
    """The GRU register, then ``sigmoid(2 h) * tanh(h)``: a product of two factors that both vary with the planted
    bin (where DeepLIFT's product rules part ways)."""

    mechanism = "gate"
    randomisation_order = ("readout", "gru")

    def __init__(self, band: int, lag: int, n_bins: int = 161) -> None:
        super().__init__(band, lag, n_bins)
        self.gru = _shift_register_gru(self.band, self.lag + 1, self.n_bins)
        self.gate, self.signal = nn.Sigmoid(), nn.Tanh()

    def register(self, features: torch.Tensor) -> torch.Tensor:
        last = self.gru(features)[0][..., -1:]
        return self.gate(2.0 * last) * self.signal(last)


PLANTED = {cls.mechanism: cls for cls in (PlantedGRU, PlantedLSTM, PlantedGate)}
"""Mechanism name -> model class."""


def planted_model(mechanism: str, band: int, lag: int) -> Planted:
    """The planted model of ``mechanism`` (one of :data:`MECHANISMS`) reading input ``band`` at ``lag`` frames, in eval
    mode; ``ValueError`` naming the valid mechanisms otherwise."""
    if mechanism not in PLANTED:
        raise ValueError(f"mechanism: unknown {mechanism!r}; choose one of {', '.join(MECHANISMS)}")
    return PLANTED[mechanism](band, lag).eval()


def planted_bins(model: Planted, n_frames: int, t_out: int) -> np.ndarray:
    """Boolean ``[F, n_frames]``: the one input bin output frame ``t_out`` depends on (none before ``lag``)."""
    bins = np.zeros((model.n_bins, n_frames), dtype=bool)
    if t_out - model.lag >= 0:
        bins[model.band, t_out - model.lag] = True
    return bins


def planted_share(attribution: np.ndarray, model: Planted, t_out: int) -> float:
    """Share of ``|attribution|`` ``[F, T]`` (one output frame's map) on the planted bin; ``nan`` for an all-zero
    map."""
    magnitude = np.abs(np.asarray(attribution, dtype=np.float64))
    total = magnitude.sum()
    return float(magnitude[planted_bins(model, magnitude.shape[1], t_out)].sum() / total) if total > 0 else float("nan")


def planted_reading(frame) -> list[str]:
    """Sentences on the planted games (``frame``: notebook 05's rows as a DataFrame): each method's smallest share on
    the planted bin over the mechanisms, and the energy control's (empty without planted rows)."""
    planted = frame[frame["metric"] == "planted_share"]
    if planted.empty:
        return []
    worst = planted.groupby("method")["value"].min().sort_values(ascending=False)
    passed = [m for m, v in worst.items() if v >= 0.99]
    return [
        f"- Planted mechanisms (GRU, LSTM and gate models whose every output depends on one input bin, in a band "
        f"speech barely fills, so energy says nothing): at least 99 % of |attribution| on that bin, on every "
        f"mechanism, for {', '.join(passed) or 'no method'}; smallest share per method: "
        + ", ".join(f"{m} {v:.3f}" for m, v in worst.items())
        + "."
    ]

"""The mask-model interface: what the rest of the package needs of a speech-enhancement model.

Every model is explained through the same input: the log10 power spectrogram of the noisy input in the
model's *own* STFT (:meth:`MaskModel.stft_config`: window, FFT size, hop, framing), frame-major
``[B, T, F]`` inside the model. A model that reads magnitudes (DTLN) or complex spectra (GTCRN) rebuilds
them from the log power with the input's phase held fixed (``phase`` ``[B or 1, T, F]``, radians), so the
baselines (``zero`` = the log-power floor, ``noise``, ``clean``) mean the same for every model and the maps
of different models compare. What is explained (:meth:`MaskModel.explained`, ``target``):

- ``"mask"``: the model's time-frequency gain on the magnitude ``[B, T, F]`` (NSNet2's mask, DTLN's stage-1
  mask, GTCRN's ``|M|``, the modulus of its complex mask);
- ``"logit"``: the pre-sigmoid mask, where a model has one (NSNet2, DTLN);
- ``"output"``: ``log10(max(|Y|^2, 1e-12))`` of the model's enhanced spectrum ``Y`` per frame, before
  overlap-add (NSNet2 ``|M X|^2``, GTCRN ``|M (x) X|^2``, DTLN the ``|rfft|^2`` of stage 2's output block).

A model also declares: ``name`` (its registry name, :mod:`.registry`), ``targets`` (those it has),
``lookahead_frames`` (how many input frames after ``t`` an output frame ``t`` may read; 0 for the causal
models here), ``phase_targets`` (the targets that depend on the input's phase), its latent layers
(name -> the registered module whose output Captum's layer methods explain), the order in which a cascading
randomisation re-initialises its modules (top first), and :meth:`MaskModel.enhance_wave`, the whole enhancer
as upstream runs it. :class:`MaskFromLogPower` turns any model into the spectrogram layout ``[B, F, T]`` that
the attribution code works in.

To add a model: a module beside :mod:`.nsnet2` with a :class:`MaskModel` subclass and its loader, and one
entry in :data:`xai_helpers.models.registry.MODELS`.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import torch
from torch import nn

from ..dsp.stft import LOG_POWER_FLOOR, StftConfig, istft, log_power, stft

Target = Literal["mask", "logit", "output"]
TARGETS = ("mask", "logit", "output")

MIN_GAIN_DB = -80.0
"""A real gain mask is clipped below at -80 dB before resynthesis, as in NSNet2's reference enhancer."""


class MaskModel(nn.Module, ABC):
    """Interface of a mask model (subclasses set the class attributes and implement the abstract methods;
    a subclass missing one cannot be instantiated). See the module docstring."""

    name: ClassVar[str] = ""
    """Registry name (``"nsnet2"``, ``"dtln"``, ``"gtcrn"``)."""
    targets: ClassVar[tuple[str, ...]] = TARGETS
    """The explained quantities this model has."""
    lookahead_frames: ClassVar[int] = 0
    """Input frames after ``t`` that output frame ``t`` may depend on (0: causal)."""
    latency_samples: ClassVar[int] = 0
    """Samples by which the upstream streaming enhancer's output lags its input (DTLN: 384); :meth:`enhance_wave`
    returns its output advanced by them, aligned with the input."""
    phase_targets: ClassVar[tuple[str, ...]] = ()
    """The targets that depend on the input's phase (for them :meth:`explained` needs ``phase``)."""
    latent_layers: ClassVar[dict[str, str]] = {}
    """Latent layer name -> name of the registered module whose output it is."""
    randomisation_order: ClassVar[tuple[str, ...]] = ()
    """Modules re-initialised by a cascading randomisation, top layer first."""
    n_bins: int
    sample_rate: int
    source_paths: tuple[Path, ...] = ()
    """The weights file(s) the model was built from (hashed into every attribution file)."""

    @classmethod
    @abstractmethod
    def stft_config(cls, sample_rate: int) -> StftConfig:
        """The model's STFT at ``sample_rate`` (Hz); ``ValueError`` for a rate it does not exist for."""

    @abstractmethod
    def explained(
        self, features: torch.Tensor, target: str = "mask", phase: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The explained quantity ``target`` ``[B, T, F]`` for log10-power ``features`` ``[B, T, F]`` with the
        input's ``phase`` ``[B or 1, T, F]`` (radians; needed for the targets in :attr:`phase_targets`)."""

    @abstractmethod
    def latent_units(self, layer: str) -> int:
        """Number of units of latent ``layer``."""

    def forward(self, features: torch.Tensor, phase: torch.Tensor | None = None) -> torch.Tensor:
        """The gain mask ``[B, T, F]`` for log10-power ``features`` ``[B, T, F]`` (``explained(..., "mask")``)."""
        return self.explained(features, "mask", phase)

    def enhance_wave(self, wave: np.ndarray) -> np.ndarray:
        """The whole enhancer on ``wave`` ``[N]`` at :attr:`sample_rate`: enhanced waveform ``[N]`` (float64).

        Default (a real gain on the magnitude): STFT, mask, gain clipped to ``[-80 dB, 1]``, windowed
        overlap-add. Models with another resynthesis override it."""
        config = self.stft_config(self.sample_rate)
        spectrum = stft(wave, config)
        mask = self.predict(log_power(spectrum), "mask", np.angle(spectrum))
        return istft(spectrum * np.clip(mask, 10 ** (MIN_GAIN_DB / 20), 1.0), config, len(wave))

    def predict(self, features: np.ndarray, target: str = "mask", phase: np.ndarray | None = None) -> np.ndarray:
        """``explained(target)`` ``[F, T]`` (float64) for log-power ``features`` ``[F, T]`` and ``phase``
        ``[F, T]``, computed on the model's device without gradients."""
        device = model_device(self)
        with torch.no_grad():
            return (
                self.explained(frame_major(features, device), target, frame_major(phase, device))[0]
                .T.cpu()
                .numpy()
                .astype(np.float64)
            )

    def lesioned(self, bins: np.ndarray) -> MaskModel:
        """A copy of the model blind to the input bins ``bins`` (boolean ``[F]``) in every frame: its ``"mask"``
        target provably does not depend on them (notebook 05's lesion check). Each model says how; a model
        without a lesion raises ``ValueError`` naming it."""
        raise ValueError(
            f"{self.name or type(self).__name__} has no lesion: notebook 05's lesion check needs "
            "MaskModel.lesioned(bins)"
        )

    def check_target(self, target: str) -> str:
        """``target`` if this model has it, else ``ValueError`` naming the model and its targets."""
        check_target(target)
        if target not in self.targets:
            raise ValueError(
                f"target {target!r} does not exist for {self.name or type(self).__name__}; "
                f"it has {', '.join(self.targets)}"
            )
        return target

    @classmethod
    def latent_layers_of(cls, target: str) -> tuple[str, ...]:
        """The latent layers that ``target`` depends on (all of them, unless a model says otherwise)."""
        return tuple(cls.latent_layers)

    def check_latent_layers(self, layers: Sequence[str]) -> None:
        """``ValueError`` naming the unknown layers and the valid ones."""
        unknown = set(layers) - set(self.latent_layers)
        if unknown:
            raise ValueError(f"unknown latent layers {sorted(unknown)}; choose from {', '.join(self.latent_layers)}")

    def latent_module(self, layer: str) -> nn.Module:
        """The registered module whose output is latent ``layer``."""
        self.check_latent_layers([layer])
        return self.get_submodule(self.latent_layers[layer])


def frame_major(array: np.ndarray | torch.Tensor | None, device: str | torch.device = "cpu") -> torch.Tensor | None:
    """A spectrogram-layout ``[F, T]`` array (features or phase) as the frame-major batch of one ``[1, T, F]``
    (float32, on ``device``) that :meth:`MaskModel.explained` reads; ``None`` stays ``None``."""
    if array is None:
        return None
    return torch.as_tensor(np.ascontiguousarray(np.asarray(array).T[None]), dtype=torch.float32, device=device)


def blind_copy(model: MaskModel, bins: np.ndarray) -> MaskModel:
    """A deep copy of ``model`` to lesion, after checking ``bins`` (boolean ``[n_bins]``, at least one set); records
    them as ``lesioned_bins``."""
    bins = np.asarray(bins)
    if bins.dtype != bool or bins.shape != (model.n_bins,) or not bins.any():
        raise ValueError(
            f"bins must be a boolean [{model.n_bins}] array with at least one True, got {bins.dtype} {bins.shape}"
        )
    lesioned = copy.deepcopy(model)
    lesioned.lesioned_bins = bins.copy()
    return lesioned


GAIN_POWER_FLOOR = 1e-30
"""Gains below this power give the log-power floor anyway (the features stay below log10(1e18) in every model)."""


def output_log_power(features: torch.Tensor, gain_power: torch.Tensor) -> torch.Tensor:
    """``log10(max(gain_power * 10**features, 1e-12))`` ``[B, T, F]``: the log power of a spectrum whose power
    is the input's (log10-power ``features``) times ``gain_power`` (``|M|^2``), on the features' floor.

    Computed as ``max(log10(gain_power) + features, -12)``: the same value, written as a sum, so that DeepLIFT does
    not split a product of two nearly cancelling terms (``10**features`` reaches 1e5) and the attributions of the
    ``output`` target add up in float32."""
    gain_db = torch.log10(torch.clamp(gain_power, min=GAIN_POWER_FLOOR))
    return torch.clamp(gain_db + features, min=float(np.log10(LOG_POWER_FLOOR)))


class FrameModel(nn.Module):
    """Any ``nn.Module`` that maps log10-power frames ``[B, T, F]`` to a gain mask ``[B, T, F]`` (its ``forward``;
    optionally a pre-sigmoid ``logit`` method), seen through :meth:`MaskModel.explained`'s contract: ``"mask"``,
    ``"logit"`` (if it has one) and ``"output"`` (``log10(mask^2 * 10**features)``). No phase is read."""

    phase_targets: tuple[str, ...] = ()

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module
        self.name = type(module).__name__
        self.targets = ("mask", "logit", "output") if callable(getattr(module, "logit", None)) else ("mask", "output")

    def check_target(self, target: str) -> str:
        return MaskModel.check_target(self, target)

    def explained(
        self, features: torch.Tensor, target: str = "mask", phase: torch.Tensor | None = None
    ) -> torch.Tensor:
        self.check_target(target)
        if target == "logit":
            return self.module.logit(features)
        mask = self.module(features)
        return mask if target == "mask" else output_log_power(features, mask * mask)


def check_target(target: str) -> str:
    """``target`` if it is one of ``"mask"``, ``"logit"``, ``"output"``, else ``ValueError``."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(repr(t) for t in TARGETS)}, not {target!r}")
    return target


class MaskFromLogPower(nn.Module):
    """Log-power ``[B, F, T]`` in, explained quantity ``[B, F, T]`` out (the attribution layout).

    Attribution code works in the spectrogram layout ``[F, T]`` (frequency first), so this wrapper transposes
    around the :class:`MaskModel`, which works frame-major ``[B, T, F]``. ``phase`` ``[F, T]`` (radians) is the
    explained input's phase, held fixed for every batch row (baselines included); required by models that
    read it. A plain ``nn.Module`` (frames ``[B, T, F]`` in, mask out) is taken as a :class:`FrameModel`.
    """

    def __init__(
        self, model: MaskModel | nn.Module, target: Target = "mask", phase: torch.Tensor | np.ndarray | None = None
    ) -> None:
        super().__init__()
        self.model = model
        model = model if isinstance(model, MaskModel) else FrameModel(model)
        model.check_target(target)
        self.mask_model = model
        self.target = target
        if phase is None and target in model.phase_targets:
            raise ValueError(f"{model.name}: target {target!r} reads the input's phase; pass phase= ([F, T], radians)")
        self.phase = frame_major(phase)

    def forward(self, log_power: torch.Tensor) -> torch.Tensor:
        # A segment cut short (causal truncation) keeps the phase of its first frames.
        phase = None if self.phase is None else self.phase[:, : log_power.shape[2]].to(log_power.device)
        return self.mask_model.explained(log_power.transpose(1, 2), self.target, phase).transpose(1, 2)


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a :class:`torch.device` that exists on this machine; ``ValueError`` naming
    ``device`` and what is accepted otherwise (checked before any work, not inside a library call)."""
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device: {device!r} is not a device name; use 'cpu', 'cuda' or 'cuda:N'") from error
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device: {device!r} was asked for, but this machine has no CUDA GPU usable by torch; use 'cpu'"
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"device: {device!r} does not exist; this machine has {torch.cuda.device_count()} CUDA device(s)"
            )
    elif resolved.type != "cpu":
        raise ValueError(f"device: {device!r} is not supported; use 'cpu', 'cuda' or 'cuda:N'")
    return resolved


def model_device(model: nn.Module) -> torch.device:
    """Device of the model's parameters (CPU for a model without parameters)."""
    return next((parameter.device for parameter in model.parameters()), torch.device("cpu"))


def predict_mask(
    features: np.ndarray, model: MaskModel, target: Target = "mask", phase: np.ndarray | None = None
) -> np.ndarray:
    """Explained quantity ``target`` ``[F, T]`` (the gain mask by default) for log-power ``features`` ``[F, T]``
    (and the input's ``phase`` ``[F, T]`` where the model reads it), computed on the model's device (float64)."""
    return model.predict(features, target, phase)


def predict_masks(
    features: np.ndarray, model: MaskModel, batch: int = 256, target: Target = "mask", phase: np.ndarray | None = None
) -> np.ndarray:
    """Explained quantity ``target`` (masks by default) ``[B, F, T]`` (float64) of ``B`` feature maps
    ``[B, F, T]``, each a separate sequence, all with the input's ``phase`` ``[F, T]`` where the model reads it
    (forward passes of ``batch`` sequences)."""
    device = model_device(model)
    angle = frame_major(phase, device)
    out = []
    with torch.no_grad():
        for start in range(0, len(features), batch):
            frames = torch.as_tensor(
                np.ascontiguousarray(features[start : start + batch].transpose(0, 2, 1)),
                dtype=torch.float32,
                device=device,
            )
            out.append(model.explained(frames, target, angle).transpose(1, 2).cpu().numpy().astype(np.float64))
    return np.concatenate(out)

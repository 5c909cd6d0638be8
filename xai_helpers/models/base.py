"""The mask-model interface: what the rest of the package needs of a speech-enhancement model.

A mask model reads log10-power frames ``[B, T, F]`` and predicts a gain mask ``[B, T, F]`` (0..1)
through a pre-sigmoid ``logit`` ``[B, T, F]``. Besides the two forward passes it declares its STFT
settings per sample rate, its bin count ``n_bins``, its latent layers (name -> the registered module
whose output Captum's layer methods explain) and the order in which a cascading randomisation
re-initialises its layers (top first). :class:`MaskFromLogPower` turns any of them into the
spectrogram layout ``[B, F, T]`` that the attribution code works in; :func:`predict_mask` runs one.

To add a model: a module beside :mod:`.nsnet2` with a :class:`MaskModel` subclass and its loader,
and the loader named in :func:`~xai_helpers.models.cache.cached_model`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from collections.abc import Sequence
from typing import ClassVar, Literal

import numpy as np
import torch
from torch import nn

from ..dsp.stft import StftConfig

Target = Literal["mask", "logit"]
TARGETS = ("mask", "logit")


class MaskModel(nn.Module, ABC):
    """Interface of a mask model (subclasses set the class attributes and implement the abstract methods;
    a subclass missing one cannot be instantiated)."""

    latent_layers: ClassVar[dict[str, str]] = {}
    """Latent layer name -> name of the registered module whose output it is."""
    randomisation_order: ClassVar[tuple[str, ...]] = ()
    """Modules re-initialised by a cascading randomisation, top layer first."""
    n_bins: int
    sample_rate: int

    @classmethod
    @abstractmethod
    def stft_config(cls, sample_rate: int) -> StftConfig:
        """The model's STFT at ``sample_rate`` (Hz); ``ValueError`` for a rate it does not exist for."""

    @abstractmethod
    def logit(self, features: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid output ``[B, T, F]`` for log10-power ``features`` ``[B, T, F]``."""

    @abstractmethod
    def latent_units(self, layer: str) -> int:
        """Number of units of latent ``layer``."""

    def check_latent_layers(self, layers: Sequence[str]) -> None:
        """``ValueError`` naming the unknown layers and the valid ones."""
        unknown = set(layers) - set(self.latent_layers)
        if unknown:
            raise ValueError(f"unknown latent layers {sorted(unknown)}; choose from {', '.join(self.latent_layers)}")

    def latent_module(self, layer: str) -> nn.Module:
        """The registered module whose output is latent ``layer``."""
        self.check_latent_layers([layer])
        return getattr(self, self.latent_layers[layer])


def check_target(target: str) -> str:
    """``target`` if it is ``"mask"`` or ``"logit"``, else ``ValueError``."""
    if target not in TARGETS:
        raise ValueError(f"target must be 'mask' or 'logit', not {target!r}")
    return target


class MaskFromLogPower(nn.Module):
    """The original project's wrapper: log-power ``[B, F, T]`` in, explained quantity ``[B, F, T]`` out.

    Attribution code works in the spectrogram layout ``[F, T]`` (frequency first), so this wrapper
    transposes around the :class:`MaskModel`, which works frame-major ``[B, T, F]``. ``target="mask"``
    explains the gain mask (after the sigmoid), ``target="logit"`` the pre-sigmoid logit.
    """

    def __init__(self, model: MaskModel, target: Target = "mask") -> None:
        super().__init__()
        check_target(target)
        self.model = model
        self.target = target

    def forward(self, log_power: torch.Tensor) -> torch.Tensor:
        frames = log_power.transpose(1, 2)
        out = self.model(frames) if self.target == "mask" else self.model.logit(frames)
        return out.transpose(1, 2)


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a :class:`torch.device` that exists on this machine; ``ValueError`` naming
    ``device`` and what is accepted otherwise (checked before any work, not inside a library call)."""
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device: {device!r} is not a device name; use 'cpu', 'cuda' or 'cuda:N'") from error
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device: {device!r} was asked for, but this machine has no CUDA GPU usable by torch; use 'cpu'")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(f"device: {device!r} does not exist; this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif resolved.type != "cpu":
        raise ValueError(f"device: {device!r} is not supported; use 'cpu', 'cuda' or 'cuda:N'")
    return resolved


def model_device(model: nn.Module) -> torch.device:
    """Device of the model's parameters (CPU for a model without parameters)."""
    return next((parameter.device for parameter in model.parameters()), torch.device("cpu"))


def predict_mask(features: np.ndarray, model: MaskModel, target: Target = "mask") -> np.ndarray:
    """Gain mask ``[F, T]`` (or, with ``target="logit"``, its pre-sigmoid logit) for log-power
    ``features`` ``[F, T]``, computed on the model's device (float64)."""
    device = next(model.parameters()).device
    with torch.no_grad():
        frames = torch.as_tensor(features.T[None], dtype=torch.float32, device=device)
        out = model(frames) if target == "mask" else model.logit(frames)
        return out[0].T.cpu().numpy().astype(np.float64)


def predict_masks(features: np.ndarray, model: MaskModel, batch: int = 256) -> np.ndarray:
    """Masks ``[B, F, T]`` (float64) of ``B`` feature maps ``[B, F, T]``, each a separate sequence
    (forward passes of ``batch`` sequences)."""
    device = next(model.parameters()).device
    out = []
    with torch.no_grad():
        for start in range(0, len(features), batch):
            frames = torch.as_tensor(np.ascontiguousarray(features[start : start + batch].transpose(0, 2, 1)), dtype=torch.float32, device=device)
            out.append(model(frames).transpose(1, 2).cpu().numpy().astype(np.float64))
    return np.concatenate(out)

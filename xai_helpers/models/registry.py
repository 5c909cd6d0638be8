"""Every model the book explains, one entry each: the single place that says which models exist.

======== =========================================== ============== ==========================================
name     loader                                      sample rates   what it is
======== =========================================== ============== ==========================================
nsnet2   :func:`xai_helpers.models.nsnet2.load_nsnet2` 16000, 48000 GRU mask on log power (Microsoft, DNS 2020)
dtln     :func:`xai_helpers.models.dtln.load_dtln`     16000        two-stage LSTM on magnitudes (Interspeech 2020)
gtcrn    :func:`xai_helpers.models.gtcrn.load_gtcrn`   16000        conv-recurrent complex mask (ICASSP 2024)
======== =========================================== ============== ==========================================

A model can also be named by an import path, ``"package.module:function"``: ``function(sample_rate=...,
device=...)`` must return a :class:`~xai_helpers.models.base.MaskModel` (a user's own model). Loaders are
imported when first used, so naming a model costs nothing until it is loaded.

To add a model: its module (a :class:`~xai_helpers.models.base.MaskModel` subclass and a loader) and one
:class:`ModelSpec` below.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .base import MaskModel

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "nsnet2"


@dataclass(frozen=True)
class ModelSpec:
    """One model: its registry name, loader (``"module:function"``), sample rates (Hz, the default first) and a
    one-line description for tables and report headers."""

    name: str
    loader: str
    model_class: str
    sample_rates: tuple[int, ...]
    description: str

    def load_function(self) -> Callable[..., MaskModel]:
        return import_object(self.loader, "model")

    def mask_model_class(self) -> type[MaskModel]:
        """The :class:`~xai_helpers.models.base.MaskModel` subclass (its class attributes: targets, latent layers,
        ...)."""
        return import_object(self.model_class, "model")


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "nsnet2",
            "xai_helpers.models.nsnet2:load_nsnet2",
            "xai_helpers.models.nsnet2:NSNet2",
            (16000, 48000),
            "NSNet2: GRU gain mask on log power (Microsoft, DNS Challenge 2020)",
        ),
        ModelSpec(
            "dtln",
            "xai_helpers.models.dtln:load_dtln",
            "xai_helpers.models.dtln:DTLN",
            (16000,),
            "DTLN: two-stage LSTM, magnitude mask then learned-basis mask (Westhausen & Meyer 2020)",
        ),
        ModelSpec(
            "gtcrn",
            "xai_helpers.models.gtcrn:load_gtcrn",
            "xai_helpers.models.gtcrn:GTCRN",
            (16000,),
            "GTCRN: grouped temporal conv-recurrent network, complex ratio mask (Rong et al. 2024)",
        ),
    )
}


SAMPLE_RATES = tuple(sorted({rate for spec in MODELS.values() for rate in spec.sample_rates}))
"""Every sample rate some registered model runs at (Hz)."""


def import_object(path: str, what: str) -> object:
    """The object named by ``"package.module:attribute"``; ``ValueError`` naming ``path`` if it does not resolve."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ValueError(
            f"{what}: {path!r} is neither a model name ({', '.join(MODELS)}) nor an import path "
            f"'package.module:function'"
        )
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"{what}: cannot import {path!r} ({type(error).__name__}: {error})") from error


def check_model_name(name: str) -> str:
    """``name`` if it is a registered model or an import path ``"module:function"``; ``ValueError`` naming the
    valid models otherwise."""
    if not isinstance(name, str) or (name not in MODELS and ":" not in name):
        raise ValueError(
            f"model: unknown {name!r}; choose one of {', '.join(MODELS)}, or give an import path "
            f"'package.module:function' returning a MaskModel"
        )
    return name


def model_tag(name: str) -> str:
    """``name`` made safe for file names (an import path's ``.`` and ``:`` become ``-``)."""
    return check_model_name(name).replace(":", "-").replace(".", "-")


def model_class(name: str) -> type[MaskModel] | None:
    """The class of registered model ``name`` (without loading weights); ``None`` for an import path."""
    check_model_name(name)
    return MODELS[name].mask_model_class() if name in MODELS else None


def model_sample_rates(name: str) -> tuple[int, ...] | None:
    """The sample rates (Hz) registered model ``name`` runs at (default first); ``None`` for an import path."""
    check_model_name(name)
    return MODELS[name].sample_rates if name in MODELS else None


def model_sample_rate(name: str, sample_rate: int) -> int:
    """The rate model ``name`` runs at for audio wanted at ``sample_rate`` Hz: ``sample_rate`` if the model has it,
    else the model's default rate, with a logged warning (the audio is then resampled to it, and each file's own
    rate is recorded as ``source_sample_rate``)."""
    rates = model_sample_rates(name)
    if rates is None or int(sample_rate) in rates:
        return int(sample_rate)
    logger.warning(
        "model %s runs at %s Hz, not %d Hz: audio is resampled to %d Hz",
        name,
        " or ".join(str(r) for r in rates),
        sample_rate,
        rates[0],
    )
    return rates[0]


def load_model(name: str = DEFAULT_MODEL, sample_rate: int = 16000, device: str | torch.device = "cpu") -> MaskModel:
    """Model ``name`` (a key of :data:`MODELS` or an import path) with its official weights, in eval mode on
    ``device``, at ``sample_rate`` Hz (``ValueError`` for a rate it does not run at; see :func:`model_sample_rate`).

    The returned model's ``name`` is the name asked for (import paths included), so files and reports say which
    model ran."""
    check_model_name(name)
    rates = model_sample_rates(name)
    if rates is not None and int(sample_rate) not in rates:
        raise ValueError(f"model {name} runs at {' or '.join(str(r) for r in rates)} Hz, not {sample_rate} Hz")
    load = MODELS[name].load_function() if name in MODELS else import_object(name, "model")
    model = load(sample_rate=int(sample_rate), device=device)
    if not isinstance(model, MaskModel):
        raise TypeError(
            f"model: {name} returned a {type(model).__name__}, not a MaskModel (see xai_helpers.models.base)"
        )
    if name not in MODELS:
        model.name = name
    return model

"""What a latent unit stands for: its input profile, and units grouped by that profile.

A unit's **input profile** ``[F]`` is the occlusion attribution of the unit's activation, summed over
the segment's frames, to every input frequency bin over the whole segment (the bin's row replaced by
the baseline): which input bands raise (positive) or lower (negative) the unit. Averaged over files and
noise seeds it says what the unit "listens to". Units are then **grouped** by the band where their
``|profile|`` is most concentrated (:func:`group_by_band`), so an output's attribution to a layer's
units (``[units, T]``, :mod:`.latent`) can be summed into a few interpretable groups.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

from ..models.base import MaskModel, frame_major

Activations = Callable[[torch.Tensor], torch.Tensor]
"""Log-power ``[B, F, T]`` -> a layer's activations ``[B, units, T]``."""


class _Reached(Exception):
    """Raised by the forward hook once the layer has run: the layers above it are not computed."""

    def __init__(self, output: torch.Tensor) -> None:
        super().__init__("latent layer reached")
        self.output = output


def layer_activations(model: MaskModel, layer: str, phase: np.ndarray | None = None) -> Activations:
    """The activations ``[B, units, T]`` of the latent ``layer`` of ``model`` (e.g. NSNet2's ``fc_in``,
    ``gru1``, ``gru2``) for log-power ``[B, F, T]`` (with the input's ``phase`` ``[F, T]`` for models that read
    it), captured with a forward hook that stops the forward pass there."""
    angle = frame_major(phase)
    module = model.latent_module(layer)

    def stop(_module, _inputs, output):
        raise _Reached(output)

    def activations(log_power: torch.Tensor) -> torch.Tensor:
        handle = module.register_forward_hook(stop)
        try:
            # the target that runs every layer ("output" where the model has it: DTLN's stage 2 runs only there)
            target = "output" if "output" in model.targets else "mask"
            model.explained(log_power.transpose(1, 2), target, None if angle is None else angle.to(log_power.device))
        except _Reached as reached:
            return reached.output.transpose(1, 2)
        finally:
            handle.remove()
        raise RuntimeError(f"latent layer {layer!r} did not run in the model's forward pass")

    return activations


def unit_profiles(
    activations: Activations, features: np.ndarray, baselines: np.ndarray, batch_size: int = 64
) -> np.ndarray:
    """Input profile ``[units, F]`` of every unit (module docstring) on one segment.

    ``features`` ``[F, T]`` and ``baselines`` ``[K, F, T]`` (log10 power). The profile of unit ``u``
    at input bin ``f`` is the occlusion attribution ``sum_t a_u(x)[t] - sum_t a_u(x with row f from the
    baseline)[t]``: how much the input's frequency bin ``f`` (over the whole segment) raises the
    unit's activation above what the baseline would give; mean over the K baselines. One forward
    pass of ``F`` occluded inputs per baseline (in batches of ``batch_size``), no gradients, so every
    unit of a layer costs the same as one.
    """
    features = np.asarray(features, dtype=np.float32)
    baselines = np.asarray(baselines, dtype=np.float32)
    if features.ndim != 2 or baselines.ndim != 3 or baselines.shape[1:] != features.shape:
        raise ValueError(
            "features must be [F, T] and baselines [K, F, T] of the same [F, T]; "
            f"got {features.shape}, {baselines.shape}"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    x = torch.as_tensor(features)
    n_bins = x.shape[0]
    profiles = []
    with torch.no_grad():
        full = activations(x[None]).sum(dim=2)[0]  # [units]
        for baseline in torch.as_tensor(baselines):
            rows = []
            for lo in range(0, n_bins, batch_size):
                bins = torch.arange(lo, min(lo + batch_size, n_bins))
                occluded = x[None].repeat(len(bins), 1, 1)
                occluded[torch.arange(len(bins)), bins] = baseline[bins]
                rows.append(full[None] - activations(occluded).sum(dim=2))  # [bins, units]
            profiles.append(torch.cat(rows).T.double())
    return torch.stack(profiles).mean(dim=0).numpy()


def band_labels(freqs_hz: np.ndarray, band_edges_hz: Sequence[float]) -> np.ndarray:
    """Band index ``[F]`` of every bin: bin ``f`` is in band ``b`` when ``edges[b] <= freqs[f] < edges[b + 1]``."""
    edges = np.asarray(band_edges_hz, dtype=float)
    if (
        edges.ndim != 1
        or len(edges) < 2
        or np.any(np.diff(edges) <= 0)
        or edges[0] > freqs_hz[0]
        or edges[-1] <= freqs_hz[-1]
    ):
        raise ValueError(
            f"band_edges_hz {edges.tolist()} must increase and cover {freqs_hz[0]:g}-{freqs_hz[-1]:g} Hz "
            "(last edge exclusive)"
        )
    return np.searchsorted(edges, freqs_hz, side="right") - 1


def group_by_band(profiles: np.ndarray, freqs_hz: np.ndarray, band_edges_hz: Sequence[float]) -> np.ndarray:
    """Group ``[units]`` of each unit: the band (of ``band_edges_hz``) with the highest enrichment of its
    ``|profile|`` (share of the unit's mass in the band / share of the bins in the band), so wide bands
    do not win by width alone. ``profiles`` ``[units, F]``."""
    profiles = np.asarray(profiles, dtype=np.float64)
    if profiles.ndim != 2 or profiles.shape[1] != len(freqs_hz):
        raise ValueError(f"profiles must be [units, F={len(freqs_hz)}], got {profiles.shape}")
    labels = band_labels(freqs_hz, band_edges_hz)
    n_bands = len(band_edges_hz) - 1
    mass = np.zeros((profiles.shape[0], n_bands))
    np.add.at(mass.T, labels, np.abs(profiles).T)
    share = mass / np.maximum(mass.sum(axis=1, keepdims=True), np.finfo(float).tiny)
    return np.argmax(share / (np.bincount(labels, minlength=n_bands) / len(freqs_hz)), axis=1)

"""How each attribution method calls Captum: one runner per method family, for input bins and for latent layers.

An input runner gets the :class:`~xai_helpers.attribution.registry.MethodSpec`, the explained module
(log-power ``[B, F, T]`` -> ``[B, M]``), the segment's ``features`` ``[F, T]``, ``inputs`` ``[M, F, T]``
(one copy per explained target), ``baselines`` ``[K, F, T]``, the flat ``target`` indices ``[M]``, an
optional ``feature_mask`` ``[F, T]`` of group labels and the :class:`MethodOptions`; it returns a
:class:`Run`. A layer runner gets the module, the model layer, inputs, baselines, target and options
and returns the layer attributions ``[M, T, units]``. The registry says which runner a method uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from captum.attr import DeepLift, DeepLiftShap, FeatureAblation, Occlusion
from captum.robust import FGSM

DEFAULT_FGSM_EPS = (0.01, 0.1, 1.0)


@dataclass
class MethodOptions:
    """Method settings recorded with every result."""

    n_samples: int = 25
    """GradientShap samples, IntegratedGradients steps, KernelShap / Lime perturbations."""
    fgsm_eps: Sequence[float] = DEFAULT_FGSM_EPS
    """FGSM step sizes in log10-power units (0.1 = 1 dB)."""
    occlusion_window: tuple[int, int] = (1, 1)
    """Occlusion patch (bins, frames), also its stride; (1, 1) occludes single bins."""
    seed: int = 0


@dataclass
class Run:
    """What an input runner computed: ``values`` ``[M, F, T]`` (or ``[M, G]`` when ``grouped``)."""

    values: torch.Tensor
    deltas: torch.Tensor | None = None
    """Convergence delta per target ``[M]``."""
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    grouped: bool = False
    """True when ``values`` already hold one value per group of the feature mask."""


# --------------------------------------------------------------------------------------------
# Input features (bins, or groups of bins)


def deeplift(spec, module, features, inputs, baselines, target, feature_mask, options) -> Run:
    """DeepLift with one baseline; convergence delta per target."""
    if baselines.shape[0] != 1:
        raise ValueError(f"deeplift takes one baseline, got {baselines.shape[0]}: use deepliftshap for a distribution")
    return deepliftshap(spec, module, features, inputs, baselines, target, feature_mask, options)


def deepliftshap(spec, module, features, inputs, baselines, target, feature_mask, options) -> Run:
    """DeepLiftShap over K baselines (DeepLift when K = 1: Captum's class refuses it); mean delta."""
    n_targets = len(target)
    if baselines.shape[0] == 1:
        attributions, delta = DeepLift(module).attribute(
            inputs, baselines=baselines.expand(n_targets, *features.shape), target=target, return_convergence_delta=True
        )
    else:
        attributions, delta = DeepLiftShap(module).attribute(
            inputs, baselines=baselines, target=target, return_convergence_delta=True
        )
    return Run(attributions, delta.reshape(n_targets, -1).mean(dim=1))


def gradientshap(spec, module, features, inputs, baselines, target, feature_mask, options) -> Run:
    """GradientShap with ``n_samples`` draws between baselines and input (no noise); mean delta."""
    attributions, delta = spec.captum_class(module).attribute(
        inputs,
        baselines=baselines,
        n_samples=options.n_samples,
        stdevs=0.0,
        target=target,
        return_convergence_delta=True,
    )
    return Run(attributions, delta.reshape(len(target), -1).mean(dim=1))


def integrated_gradients(spec, module, features, inputs, baselines, target, feature_mask, options) -> Run:
    """Integrated gradients with ``n_samples`` steps from each baseline, averaged over the K baselines."""
    runs = [
        spec.captum_class(module).attribute(
            inputs,
            baselines=baseline[None].expand_as(inputs),
            n_steps=options.n_samples,
            target=target,
            return_convergence_delta=True,
        )
        for baseline in baselines
    ]
    return Run(torch.stack([a for a, _ in runs]).mean(dim=0), torch.stack([d for _, d in runs]).mean(dim=0))


def gradient(spec, module, features, inputs, baselines, target, feature_mask, options) -> Run:
    """A plain-gradient method without baselines (Saliency, InputXGradient)."""
    return Run(spec.captum_class(module).attribute(inputs, target=target))


def fgsm(spec, module, features, inputs, baselines, target, feature_mask, options) -> Run:
    """Sign map ``[M, F, T]`` and output change ``sensitivity`` ``[M, E]`` for FGSM steps lowering the explained
    output."""

    def explained(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return -output.gather(1, target[:, None]).squeeze(1)

    attack = FGSM(module, loss_func=explained)
    with torch.no_grad():
        before = module(inputs).gather(1, target[:, None]).squeeze(1)
    sensitivity, direction = [], None
    for step in options.fgsm_eps:
        perturbed = attack.perturb(inputs, epsilon=float(step), target=target)
        if direction is None:
            direction = (perturbed - inputs) / float(step)
        with torch.no_grad():
            sensitivity.append(module(perturbed).gather(1, target[:, None]).squeeze(1) - before)
    extras = {
        "sensitivity": torch.stack(sensitivity, dim=1).cpu().numpy(),
        "fgsm_eps": np.asarray(options.fgsm_eps, dtype=np.float32),
    }
    return Run(direction, extras=extras)


def _one_value_per_group(values: torch.Tensor, mask: torch.Tensor | None, feature_mask: torch.Tensor | None) -> Run:
    """Captum spreads each group's value over its bins; keep one value per group."""
    values = values.detach()
    if mask is None:
        return Run(values)
    groups = torch.zeros(values.shape[0], int(feature_mask.max()) + 1, dtype=values.dtype, device=values.device)
    values = groups.scatter_(1, mask.reshape(1, -1).expand(values.shape[0], -1), values.reshape(values.shape[0], -1))
    return Run(values, grouped=True)


def occlusion(spec, module, features, inputs, baselines, target, feature_mask, options) -> Run:
    """Occlusion of ``occlusion_window`` patches (all targets in one batch), or ablation of whole groups;
    perturbed bins take the mean of the baselines."""
    reference = baselines.mean(dim=0, keepdim=True)
    mask = None if feature_mask is None else feature_mask[None, :, : features.shape[1]]
    if mask is None:
        window = tuple(options.occlusion_window)
        values = Occlusion(module).attribute(
            inputs,
            sliding_window_shapes=window,
            strides=window,
            baselines=reference,
            target=target,
            perturbations_per_eval=8,
        )
    else:
        values = FeatureAblation(module).attribute(
            inputs, baselines=reference, feature_mask=mask, target=target, perturbations_per_eval=8
        )
    return _one_value_per_group(values, mask, feature_mask)


def surrogate(spec, module, features, inputs, baselines, target, feature_mask, options) -> Run:
    """KernelShap or Lime on groups, one target at a time (as Captum requires); ``n_samples`` perturbations."""
    reference = baselines.mean(dim=0, keepdim=True)
    mask = None if feature_mask is None else feature_mask[None, :, : features.shape[1]]
    explainer = spec.captum_class(module)
    values = torch.cat(
        [
            explainer.attribute(
                features[None], baselines=reference, feature_mask=mask, target=index, n_samples=options.n_samples
            )
            for index in target.tolist()
        ]
    )
    return _one_value_per_group(values, mask, feature_mask)


# --------------------------------------------------------------------------------------------
# Latent layers: [M, T, units]


def layer_deeplift(spec, module, layer, inputs, baselines, target, options) -> torch.Tensor:
    return spec.layer_class(module, layer).attribute(inputs, baselines=baselines.expand_as(inputs), target=target)


def layer_deepliftshap(spec, module, layer, inputs, baselines, target, options) -> torch.Tensor:
    return spec.layer_class(module, layer).attribute(inputs, baselines=baselines, target=target)


def layer_gradientshap(spec, module, layer, inputs, baselines, target, options) -> torch.Tensor:
    return spec.layer_class(module, layer).attribute(
        inputs, baselines=baselines, n_samples=options.n_samples, stdevs=0.0, target=target
    )


def layer_integrated_gradients(spec, module, layer, inputs, baselines, target, options) -> torch.Tensor:
    return torch.stack(
        [
            spec.layer_class(module, layer).attribute(
                inputs, baselines=baseline[None].expand_as(inputs), n_steps=options.n_samples, target=target
            )
            for baseline in baselines
        ]
    ).mean(dim=0)


def layer_gradient(spec, module, layer, inputs, baselines, target, options) -> torch.Tensor:
    """Gradient with respect to the layer's output (saliency)."""
    return spec.layer_class(module, layer, multiply_by_inputs=False).attribute(inputs, target=target)


def layer_gradient_x_activation(spec, module, layer, inputs, baselines, target, options) -> torch.Tensor:
    """Gradient times the layer's activation (inputxgradient)."""
    return spec.layer_class(module, layer, multiply_by_inputs=True).attribute(inputs, target=target)

"""Every attribution method, called by name, with one output layout (Captum is the reference).

:func:`attribute_targets` explains a batch of M scalar outputs of :class:`~xai_helpers.targets.ExplainedOutputs`
(output bins or region sums) with one method and returns attributions ``[M, F, T]`` over the input
log-power bins, or ``[M, G]`` over grouped input features when a ``feature_mask`` ``[F, T]`` is given
(gradient methods: the sum over each group's bins, which keeps completeness; perturbation methods:
the group is perturbed as one feature). Units: the explained quantity's (mask or logit) per input.

=====================  =======================================  ====================================
name                   Captum class                             convergence delta
=====================  =======================================  ====================================
``deepliftshap``       ``DeepLiftShap`` (K baselines)           mean over the K baselines
``deeplift``           ``DeepLift`` (one baseline)              yes
``gradientshap``       ``GradientShap`` (``n_samples``)         mean over the samples
``integratedgradients`` ``IntegratedGradients`` (``n_samples``   mean over the K baselines
                       steps, averaged over K baselines)
``saliency``           ``Saliency`` (``abs=True``)               none
``inputxgradient``     ``InputXGradient``                       none
``occlusion``          ``Occlusion`` (``occlusion_window``, 1x1 by default) / ``FeatureAblation`` on groups
``kernelshap``         ``KernelShap`` (groups only)             none
``lime``               ``Lime`` (groups only)                   none
``fgsm``               ``captum.robust.FGSM``                   none; ``sensitivity`` ``[M, E]``
=====================  =======================================  ====================================

FGSM's map is ``sign`` of the gradient of the explained output (the step direction that lowers
it; ``(x_adv - x) / eps``), and its ``sensitivity`` is the change of the explained output after a
step of each ``eps`` (log10-power units) in that direction.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from captum.attr import (
    DeepLift,
    DeepLiftShap,
    FeatureAblation,
    GradientShap,
    InputXGradient,
    IntegratedGradients,
    KernelShap,
    Lime,
    Occlusion,
    Saliency,
)
from captum.robust import FGSM
from sklearn.exceptions import ConvergenceWarning

from .targets import ExplainedOutputs

METHODS = (
    "deepliftshap",
    "deeplift",
    "gradientshap",
    "integratedgradients",
    "saliency",
    "inputxgradient",
    "occlusion",
    "kernelshap",
    "lime",
    "fgsm",
)
GROUPS_ONLY = ("kernelshap", "lime")
"""Methods whose cost grows with the number of features: per-bin use is refused."""
DEFAULT_FGSM_EPS = (0.01, 0.1, 1.0)
CAPTUM_NOTICES = ("Setting forward, backward hooks", "Input Tensor 0 did not already require gradients")
"""Captum's per-call notices, expected here (hooks on the model's activations; inputs made to need gradients)."""


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
class TargetAttributions:
    """Attributions of M explained outputs: ``values`` ``[M, F, T]`` (or ``[M, G]`` with groups)."""

    values: np.ndarray
    deltas: np.ndarray | None = None
    """Convergence delta per target ``[M]``: sum of attributions minus the explained change."""
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    """Method-specific results, e.g. FGSM's ``sensitivity`` ``[M, E]``."""


def check_method(method: str, grouped: bool) -> None:
    """``ValueError`` for an unknown method or a groups-only method asked for single bins."""
    if method not in METHODS:
        raise ValueError(f"method: unknown {method!r}; choose one of {', '.join(METHODS)}")
    if method in GROUPS_ONLY and not grouped:
        raise ValueError(
            f"method {method!r} on single bins is intractable (one feature per time-frequency bin): "
            f"use features='regions'"
        )


def attribute_targets(
    module: ExplainedOutputs,
    features: torch.Tensor,
    baselines: torch.Tensor,
    method: str,
    targets: Sequence[int],
    *,
    feature_mask: torch.Tensor | None = None,
    options: MethodOptions | None = None,
) -> TargetAttributions:
    """Attributions of the explained outputs ``targets`` (flat indices) to ``features`` ``[F, T]``.

    ``baselines`` ``[K, F, T]``; ``feature_mask`` ``[F, T]`` integer group labels ``0..G-1`` or ``None``
    for single bins. Runs on the device of ``features``.
    """
    options = options or MethodOptions()
    check_method(method, feature_mask is not None)
    with warnings.catch_warnings():
        for message in CAPTUM_NOTICES:
            warnings.filterwarnings("ignore", message=message)
        # Lime/KernelShap's surrogate fit with few perturbations: the answer is still returned; raise n_samples.
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        return _attribute(module, features, baselines, method, targets, feature_mask, options)


def _attribute(module, features, baselines, method, targets, feature_mask, options) -> TargetAttributions:
    n_targets = len(targets)
    inputs = features[None].expand(n_targets, *features.shape).contiguous()
    target = torch.as_tensor(list(targets), device=features.device)
    torch.manual_seed(options.seed)
    deltas = None
    extras: dict[str, np.ndarray] = {}
    if method in ("deeplift", "deepliftshap"):
        if method == "deeplift" and baselines.shape[0] != 1:
            raise ValueError(f"deeplift takes one baseline, got {baselines.shape[0]}: use deepliftshap for a distribution")
        if method == "deeplift" or baselines.shape[0] == 1:
            # DeepLiftShap is the mean of DeepLift over the baselines; Captum's class refuses K = 1.
            attributions, delta = DeepLift(module).attribute(
                inputs, baselines=baselines.expand(n_targets, *features.shape), target=target, return_convergence_delta=True
            )
        else:
            attributions, delta = DeepLiftShap(module).attribute(
                inputs, baselines=baselines, target=target, return_convergence_delta=True
            )
        deltas = delta.reshape(n_targets, -1).mean(dim=1)
    elif method == "gradientshap":
        attributions, delta = GradientShap(module).attribute(
            inputs, baselines=baselines, n_samples=options.n_samples, stdevs=0.0, target=target, return_convergence_delta=True
        )
        deltas = delta.reshape(n_targets, -1).mean(dim=1)
    elif method == "integratedgradients":
        runs = [
            IntegratedGradients(module).attribute(
                inputs, baselines=baseline[None].expand_as(inputs), n_steps=options.n_samples, target=target,
                return_convergence_delta=True,
            )
            for baseline in baselines
        ]
        attributions = torch.stack([a for a, _ in runs]).mean(dim=0)
        deltas = torch.stack([d for _, d in runs]).mean(dim=0)
    elif method == "saliency":
        attributions = Saliency(module).attribute(inputs, target=target)
    elif method == "inputxgradient":
        attributions = InputXGradient(module).attribute(inputs, target=target)
    elif method == "fgsm":
        attributions, extras["sensitivity"] = _fgsm(module, inputs, target, options.fgsm_eps)
        extras["fgsm_eps"] = np.asarray(options.fgsm_eps, dtype=np.float32)
    else:
        return TargetAttributions(_perturbation(module, features, baselines, method, target, feature_mask, options))
    values = attributions.detach()
    if feature_mask is not None:
        values = _sum_groups(values, feature_mask)
    return TargetAttributions(
        values.cpu().numpy(), None if deltas is None else deltas.detach().cpu().numpy(), extras
    )


def _sum_groups(values: torch.Tensor, feature_mask: torch.Tensor) -> torch.Tensor:
    """``[M, F, T]`` -> ``[M, G]``: the sum of each group's bins (frames beyond the input's are absent)."""
    labels = feature_mask[:, : values.shape[2]].reshape(-1)
    n_groups = int(feature_mask.max()) + 1
    summed = torch.zeros(values.shape[0], n_groups, dtype=values.dtype, device=values.device)
    return summed.index_add_(1, labels, values.reshape(values.shape[0], -1))


def _fgsm(module: ExplainedOutputs, inputs: torch.Tensor, target: torch.Tensor, eps: Sequence[float]):
    """Sign map ``[M, F, T]`` and output change ``[M, E]`` for FGSM steps lowering the explained output."""

    def explained(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return -output.gather(1, target[:, None]).squeeze(1)

    attack = FGSM(module, loss_func=explained)
    with torch.no_grad():
        before = module(inputs).gather(1, target[:, None]).squeeze(1)
    sensitivity, direction = [], None
    for step in eps:
        perturbed = attack.perturb(inputs, epsilon=float(step), target=target)
        if direction is None:
            direction = (perturbed - inputs) / float(step)
        with torch.no_grad():
            sensitivity.append(module(perturbed).gather(1, target[:, None]).squeeze(1) - before)
    return direction, torch.stack(sensitivity, dim=1).cpu().numpy()


def _perturbation(module, features, baselines, method, target, feature_mask, options) -> np.ndarray:
    """Occlusion (all targets in one batch), KernelShap and Lime (one target at a time, as Captum requires).

    Perturbed bins or groups are replaced by the mean of the baselines. Returns ``[M, F, T]`` or ``[M, G]``.
    """
    reference = baselines.mean(dim=0, keepdim=True)
    mask = None if feature_mask is None else feature_mask[None, :, : features.shape[1]]
    if method == "occlusion":
        inputs = features[None].expand(len(target), *features.shape).contiguous()
        if mask is None:
            window = tuple(options.occlusion_window)
            values = Occlusion(module).attribute(
                inputs, sliding_window_shapes=window, strides=window, baselines=reference, target=target,
                perturbations_per_eval=8,
            )
        else:
            values = FeatureAblation(module).attribute(
                inputs, baselines=reference, feature_mask=mask, target=target, perturbations_per_eval=8
            )
    else:
        explainer = KernelShap(module) if method == "kernelshap" else Lime(module)
        values = torch.cat([
            explainer.attribute(features[None], baselines=reference, feature_mask=mask, target=index, n_samples=options.n_samples)
            for index in target.tolist()
        ])
    values = values.detach()
    if mask is not None:
        # Captum spreads each group's value over its bins; keep one value per group.
        groups = torch.zeros(values.shape[0], int(feature_mask.max()) + 1, dtype=values.dtype, device=values.device)
        values = groups.scatter_(1, mask.reshape(1, -1).expand(values.shape[0], -1), values.reshape(values.shape[0], -1))
    return values.cpu().numpy()

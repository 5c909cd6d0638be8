"""Every attribution method, called by name through Captum (the reference), with one output layout.

:func:`attribute_targets` explains a batch of M scalar outputs of
:class:`~xai_helpers.attribution.targets.ExplainedOutputs`
(output bins or region sums) with one method and returns attributions ``[M, F, T]`` over the input
log-power bins, or ``[M, G]`` over grouped input features when a ``feature_mask`` ``[F, T]`` is given
(gradient methods: the sum over each group's bins, which keeps completeness; perturbation methods:
the group is perturbed as one feature). Units: the explained quantity's (mask or logit) per input.
The methods, what each returns and which Captum class computes it: :mod:`.registry`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from .methods import MethodOptions
from .registry import method_spec
from .seeding import seeded
from .targets import ExplainedOutputs

CAPTUM_NOTICES = ("Setting forward, backward hooks", "Input Tensor 0 did not already require gradients")
"""Captum's per-call notices, expected here (hooks on the model's activations; inputs made to need gradients)."""


def without_cudnn():
    """Context in which the GRUs run without cuDNN: cuDNN's RNN backward refuses eval mode
    (``cudnn RNN backward can only be called in training mode``), so every Captum call on CUDA runs
    in it; the model stays in eval mode. No effect on the CPU."""
    return torch.backends.cudnn.flags(enabled=False)


@dataclass
class TargetAttributions:
    """Attributions of M explained outputs: ``values`` ``[M, F, T]`` (or ``[M, G]`` with groups)."""

    values: np.ndarray
    deltas: np.ndarray | None = None
    """Convergence delta per target ``[M]``: sum of attributions minus the explained change."""
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    """Method-specific results, e.g. FGSM's ``sensitivity`` ``[M, E]``."""


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
    for single bins. Runs on the device of ``features`` (on CUDA without cuDNN: :func:`without_cudnn`).
    """
    options = options or MethodOptions()
    spec = method_spec(method, grouped=feature_mask is not None)
    inputs = features[None].expand(len(targets), *features.shape).contiguous()
    target = torch.as_tensor(list(targets), device=features.device)
    with warnings.catch_warnings(), without_cudnn():
        for message in CAPTUM_NOTICES:
            warnings.filterwarnings("ignore", message=message)
        # Lime/KernelShap's surrogate fit with few perturbations: the answer is still returned; raise n_samples.
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        with seeded(options.seed):
            run = spec.run(spec, module, features, inputs, baselines, target, feature_mask, options)
    values = run.values.detach()
    if feature_mask is not None and not run.grouped:
        values = _sum_groups(values, feature_mask)
    deltas = None if run.deltas is None else run.deltas.detach().cpu().numpy()
    return TargetAttributions(values.cpu().numpy(), deltas, run.extras)


def _sum_groups(values: torch.Tensor, feature_mask: torch.Tensor) -> torch.Tensor:
    """``[M, F, T]`` -> ``[M, G]``: the sum of each group's bins (frames beyond the input's are absent)."""
    labels = feature_mask[:, : values.shape[2]].reshape(-1)
    n_groups = int(feature_mask.max()) + 1
    summed = torch.zeros(values.shape[0], n_groups, dtype=values.dtype, device=values.device)
    return summed.index_add_(1, labels, values.reshape(values.shape[0], -1))

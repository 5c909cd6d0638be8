"""Latent features: attributions of explained outputs to NSNet2's hidden units (Captum layer methods).

Layers: ``fc_in`` (the first dense layer after its ReLU, H units), ``gru1`` and ``gru2`` (each
GRU's output sequence, H units); H = 400 at 16 kHz. The result for each layer is ``[M, units, T]``:
for each of the M explained outputs, the attribution to every unit at every frame.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from captum.attr import (
    LayerDeepLift,
    LayerDeepLiftShap,
    LayerGradientShap,
    LayerGradientXActivation,
    LayerIntegratedGradients,
)

from .captum_backend import MethodOptions
from .targets import ExplainedOutputs

LATENT_LAYERS = {"fc_in": "relu_in", "gru1": "gru1_out", "gru2": "gru2_out"}
"""Latent layer name -> the model module whose output it is."""
LAYER_METHODS = ("deepliftshap", "deeplift", "gradientshap", "integratedgradients", "inputxgradient", "saliency")


def layer_attributions(
    module: ExplainedOutputs,
    features: torch.Tensor,
    baselines: torch.Tensor,
    method: str,
    targets: Sequence[int],
    layers: Sequence[str] = tuple(LATENT_LAYERS),
    options: MethodOptions | None = None,
) -> dict[str, np.ndarray]:
    """Attributions ``{layer: [M, units, T]}`` of ``targets`` to each layer's units.

    ``saliency`` gives the gradient with respect to the layer, ``inputxgradient`` gradient x
    activation; the others are Captum's layer versions of the input methods.
    """
    options = options or MethodOptions()
    if method not in LAYER_METHODS:
        raise ValueError(f"latent features support the methods {', '.join(LAYER_METHODS)}, not {method!r}")
    unknown = set(layers) - set(LATENT_LAYERS)
    if unknown:
        raise ValueError(f"unknown latent layers {sorted(unknown)}; choose from {', '.join(LATENT_LAYERS)}")
    n_targets = len(targets)
    inputs = features[None].expand(n_targets, *features.shape).contiguous()
    target = torch.as_tensor(list(targets), device=features.device)
    model = module.explained.model
    results = {}
    for name in layers:
        layer = getattr(model, LATENT_LAYERS[name])
        torch.manual_seed(options.seed)
        if method == "deeplift":
            values = LayerDeepLift(module, layer).attribute(inputs, baselines=baselines.expand_as(inputs), target=target)
        elif method == "deepliftshap":
            values = LayerDeepLiftShap(module, layer).attribute(inputs, baselines=baselines, target=target)
        elif method == "gradientshap":
            values = LayerGradientShap(module, layer).attribute(
                inputs, baselines=baselines, n_samples=options.n_samples, stdevs=0.0, target=target
            )
        elif method == "integratedgradients":
            values = torch.stack([
                LayerIntegratedGradients(module, layer).attribute(
                    inputs, baselines=baseline[None].expand_as(inputs), n_steps=options.n_samples, target=target
                )
                for baseline in baselines
            ]).mean(dim=0)
        else:
            values = LayerGradientXActivation(module, layer, multiply_by_inputs=method == "inputxgradient").attribute(
                inputs, target=target
            )
        results[name] = values.detach().transpose(1, 2).cpu().numpy()  # [M, T, H] -> [M, H, T]
    return results


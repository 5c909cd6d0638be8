"""Latent features: attributions of explained outputs to a mask model's hidden units (Captum layer methods).

Layers are the model's ``latent_layers`` (NSNet2: ``fc_in``, the first dense layer after its ReLU,
H units; ``gru1`` and ``gru2``, each GRU's output sequence, H units; H = 400 at 16 kHz). The result
for each layer is ``[M, units, T]``: for each of the M explained outputs, the attribution to every
unit at every frame. Which methods have a layer version: :func:`~.registry.layer_methods`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .captum_backend import without_cudnn
from .methods import MethodOptions
from .registry import layer_methods, method_spec
from .seeding import seeded
from .targets import ExplainedOutputs


def layer_attributions(
    module: ExplainedOutputs,
    features: torch.Tensor,
    baselines: torch.Tensor,
    method: str,
    targets: Sequence[int],
    layers: Sequence[str] | None = None,
    options: MethodOptions | None = None,
) -> dict[str, np.ndarray]:
    """Attributions ``{layer: [M, units, T]}`` of ``targets`` to each layer's units (default: every latent layer).

    ``saliency`` gives the gradient with respect to the layer, ``inputxgradient`` gradient x
    activation; the others are Captum's layer versions of the input methods.
    """
    options = options or MethodOptions()
    if method not in layer_methods():
        raise ValueError(f"latent features support the methods {', '.join(layer_methods())}, not {method!r}")
    # DeepLiftShap over one baseline is DeepLift (Captum's LayerDeepLiftShap refuses a single baseline).
    spec = method_spec("deeplift" if method == "deepliftshap" and baselines.shape[0] == 1 else method)
    model = module.explained.model
    layers = tuple(model.latent_layers) if layers is None else tuple(layers)
    model.check_latent_layers(layers)
    inputs = features[None].expand(len(targets), *features.shape).contiguous()
    target = torch.as_tensor(list(targets), device=features.device)
    results = {}
    for name in layers:
        with seeded(options.seed), without_cudnn():
            values = spec.run_layer(spec, module, model.latent_module(name), inputs, baselines, target, options)
        results[name] = values.detach().transpose(1, 2).cpu().numpy()  # [M, T, H] -> [M, H, T]
    return results

"""What is explained: scalar outputs of a mask model for Captum's ``target`` argument.

:class:`ExplainedOutputs` turns the model into ``[B, F, T] -> [B, M]``: with no regions, the ``M = F*T``
output bins flattened frequency-major (index ``f * T + t``); with regions, the sum of the mask (or
logit) over each region's bins (``M = R``). Captum explains one of the M outputs per example.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..models.base import MaskFromLogPower, MaskModel, Target

OUTPUTS = ("all_bins", "bin", "regions")


class ExplainedOutputs(nn.Module):
    """A mask model with flattened scalar outputs: log-power ``[B, F, T]`` -> ``[B, M]``.

    ``region_masks`` ``[R, F, T]`` (0/1 float) selects region sums; ``None`` gives every bin. ``phase`` ``[F, T]``
    (radians) is the explained input's, for models that read it (:class:`~xai_helpers.models.base.MaskFromLogPower`).
    """

    def __init__(
        self,
        model: MaskModel,
        target: Target = "mask",
        region_masks: torch.Tensor | None = None,
        phase: np.ndarray | None = None,
    ) -> None:
        super().__init__()
        self.explained = MaskFromLogPower(model, target, phase)
        self.register_buffer("region_masks", region_masks, persistent=False)

    def forward(self, log_power: torch.Tensor) -> torch.Tensor:
        out = self.explained(log_power)
        if self.region_masks is None:
            return out.flatten(1)
        frames = out.shape[2]
        # A segment cut shorter (causal truncation) keeps the regions' first frames.
        return torch.einsum("bft,rft->br", out, self.region_masks[:, :, :frames])


def bin_index(f_out: int, t_out: int, n_frames: int) -> int:
    """Flat output index of bin ``(f_out, t_out)`` in a segment of ``n_frames`` frames."""
    return f_out * n_frames + t_out

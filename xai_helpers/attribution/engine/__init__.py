"""Per-bin attributions of a whole clip for NSNet2: DeepLIFT that adds up, and Captum's methods, fast.

For every output bin ``(f_out, t_out)`` of the mask (or logit), :func:`all_bins_attributions`
gives the attribution over every input bin ``(f_in, t_in)`` for ``DeepLift``, ``DeepLiftShap``,
``Saliency`` and ``InputXGradient`` applied to :class:`~xai_helpers.models.base.MaskFromLogPower` --
without one backward pass per target. :func:`all_bins_maps` reduces that 4-D tensor to its influence
maps (:mod:`~xai_helpers.attribution.maps`) chunk by chunk on the model's device, with no dense copy to the host.
:func:`weighted_output_attributions` explains any weighted sums of outputs (one bin, output regions)
with one backward sweep.

DeepLIFT rules (``rule``): ``"complete"`` (default) carries DeepLIFT's rules inside the GRUs, so every
explained output's attributions sum to its change from baseline to input; ``"captum"`` equals Captum
0.9's ``DeepLift``. Saliency and InputXGradient use plain derivatives (``rule`` does not apply).

Modules, lowest first: :mod:`.multipliers` (the local rules of both DeepLIFT variants),
:mod:`.gru` (GRU gates and Jacobian blocks), :mod:`.setup` (forward pass and per-part multipliers),
:mod:`.sweeps` (the backward sweeps and their maths), :mod:`.api` (the entry points below),
:mod:`.single` (single output bins of one clip by row-vector sweeps, its forward pass kept:
:class:`~.single.BinSweeper`).
"""

from .api import (
    ENGINE_METHODS,
    AttributionChunk,
    all_bins_attributions,
    all_bins_maps,
    concatenate_chunks,
    lookback_mass_share,
    weighted_output_attributions,
)
from .multipliers import CAPTUM_EPS, DEEPLIFT_RULES

__all__ = [
    "CAPTUM_EPS",
    "DEEPLIFT_RULES",
    "ENGINE_METHODS",
    "AttributionChunk",
    "all_bins_attributions",
    "all_bins_maps",
    "concatenate_chunks",
    "lookback_mass_share",
    "weighted_output_attributions",
]

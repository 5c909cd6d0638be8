"""Generic DeepLIFT: exact, complete attributions for any model written with ordinary PyTorch ops, all bins at once.

No per-model Jacobian code: the model runs once on the explained input and on its baselines together
(:mod:`.trace`, a ``TorchFunctionMode`` that pairs every intermediate with its value on the baseline run), and each
op's DeepLIFT rule (:mod:`.ops`, :mod:`.rules`) replaces its local derivative in autograd, so one backward pass gives
DeepLIFT's multipliers. Linear ops keep their gradient; single-input nonlinearities get the rescale multiplier;
products of two input-dependent tensors the Shapley split (or ``product_rule`` ``"gate_as_weight"`` /
``"gradient"``); LayerNorm is rewritten into those. Fused ``nn.GRU`` / ``nn.LSTM`` / ``nn.RNN`` run unrolled
(:mod:`.recurrent`). An op without a rule is refused by name. With ``rule="complete"`` every output's attributions
sum to its change from baseline to input (float32 rounding; 1e-11 in float64); ``rule="captum"`` equals Captum 0.9's
``DeepLift`` / ``DeepLiftShap``.

Entry points (:mod:`.api`), with the hand-derived NSNet2 engine's signatures (:mod:`..engine`) plus ``phase`` and
``product_rule``: :func:`all_bins_attributions`, :func:`all_bins_maps`, :func:`weighted_output_attributions`.
Modules, lowest first: :mod:`.rules` (local multipliers), :mod:`.ops` (which op gets which rule),
:mod:`.trace` (paired runs), :mod:`.recurrent` (unrolled RNNs), :mod:`.api`.
"""

from .api import all_bins_attributions, all_bins_maps, weighted_output_attributions
from .rules import PRODUCT_RULES
from .trace import DEEPLIFT_RULES

__all__ = ["DEEPLIFT_RULES", "PRODUCT_RULES", "all_bins_attributions", "all_bins_maps", "weighted_output_attributions"]

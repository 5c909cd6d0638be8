"""DeepLIFT's local multipliers for NSNet2's activations, under both rules of :data:`DEEPLIFT_RULES`.

DeepLIFT rules (``rule``)
-------------------------
Write ``dv = v(input run) - v(baseline run)`` for every intermediate value.

* ``rule="complete"`` (default): DeepLIFT (Shrikumar et al. 2017) carried inside the GRUs, on the
  whole baseline trajectory (both runs start from ``h = 0``). Linear maps keep their weights as
  multipliers; sigmoid and tanh get the rescale multiplier ``d out / d in``, or the derivative at
  the midpoint ``(in(x) + in(b)) / 2`` where ``|d in| <= eps ** (1/3)`` (``eps`` of the model's
  dtype: 4.9e-3 in float32, 6.1e-6 in float64 -- there the rescale quotient's rounding error,
  about ``eps / |d in|``, would exceed the midpoint derivative's error, about ``|d in|^2 / 24``);
  ReLU and the 48 kHz mask floor (``clamp`` below) are piecewise linear, their rescale quotient
  is exact and falls back to the derivative only where ``d in == 0``. A gate's input sum (input
  part plus hidden part) shares one multiplier. Products ``p = a * b`` are split the Shapley way,
  ``dp = da (b + b0) / 2 + db (a + a0) / 2`` (exact), which in PyTorch's GRU
  (``linear_before_reset``) applies to ``r * (W_hn h + b_hn)``, ``(1 - z) * n`` and ``z * h_prev``.
  Fan-out adds multipliers. Every local rule has ``sum(multiplier * d in) = d out``, so for every
  explained output the attributions sum to ``out(input) - out(baseline)`` (rounding aside);
  DeepLiftShap averages over the K baselines and sums to ``out(input) - mean_k out(baseline_k)``.
* ``rule="captum"``: Captum 0.9's ``DeepLift`` exactly: the rescale multiplier only for the
  registered ``nn.ReLU`` / ``nn.Sigmoid`` modules (fallback to the derivative at the input where
  ``|in(x) - in(b)| < 1e-10``), plain gradients along the *input's* trajectory everywhere else
  (the GRUs, the linear layers, the mask floor). Its deltas on NSNet2 are large.

Saliency and InputXGradient use plain derivatives everywhere (``rule`` does not apply).
"""

from __future__ import annotations

import torch

DEEPLIFT_RULES = ("complete", "captum")
"""``rule`` of DeepLift / DeepLiftShap: ``"complete"`` (DeepLIFT's rules inside the GRUs; attributions
sum to the output's change) or ``"captum"`` (Captum 0.9's DeepLift, plain gradients through the GRUs)."""

CAPTUM_EPS = 1e-10
"""Captum's DeepLift ``eps``: below this ``|in(x) - in(b)|`` the rescale multiplier falls back to the gradient."""


def _smooth_threshold(dtype: torch.dtype) -> float:
    """``|d in|`` at or below which a smooth activation's rescale multiplier falls back to the
    midpoint derivative: ``eps ** (1/3)`` of ``dtype`` (4.9e-3 for float32, 6.1e-6 for float64)."""
    return float(torch.finfo(dtype).eps) ** (1 / 3)


def _rescale_complete(in_x, in_b, out_x, out_b, derivative, threshold: float) -> torch.Tensor:
    """DeepLIFT's rescale multiplier ``(out(x) - out(b)) / (in(x) - in(b))``, replaced by
    ``derivative((in(x) + in(b)) / 2)`` where ``|in(x) - in(b)| <= threshold``."""
    delta_in = in_x - in_b
    fallback = delta_in.abs() <= threshold
    return torch.where(fallback, derivative((in_x + in_b) / 2), (out_x - out_b) / torch.where(fallback, 1, delta_in))


def _sigmoid_derivative(v: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(v)
    return s * (1 - s)


def _tanh_derivative(v: torch.Tensor) -> torch.Tensor:
    return 1 - torch.tanh(v) ** 2


def _relu_derivative(v: torch.Tensor) -> torch.Tensor:
    return (v > 0).to(v.dtype)


def _rescale(in_x: torch.Tensor, in_b: torch.Tensor, out_x: torch.Tensor, out_b: torch.Tensor, local: torch.Tensor):
    """Captum's rescale multiplier ``(out(x) - out(b)) / (in(x) - in(b))`` with its gradient fallback."""
    delta_in = in_x - in_b
    return torch.where(delta_in.abs() < CAPTUM_EPS, local, (out_x - out_b) / delta_in)

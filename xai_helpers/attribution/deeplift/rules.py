"""DeepLIFT's local rules as tensor maths: the multiplier of one op from its values at the input and at a baseline.

Every function here is plain PyTorch on tensors of the same shape (or broadcasting), with no knowledge of models or
of how ops are intercepted (:mod:`.trace` does that). Notation: ``x`` is an op's input on the explained input's run,
``b`` the same intermediate on a baseline's run, ``f`` the op; ``dv = v(x run) - v(b run)``.

* :func:`rescale_multiplier`: single-input nonlinearities, ``m = (f(x) - f(b)) / (x - b)``; where ``|x - b|`` is at
  the level of rounding (at most ``eps ** (1/3)`` times the op's scale, :func:`smooth_threshold`) the derivative at
  the midpoint ``(x + b) / 2`` replaces the quotient (the hand engine's rule, :mod:`..engine.multipliers`).
  Piecewise-linear ops (ReLU, PReLU, clamp, abs) have an exact quotient and fall back only where ``x == b``.
* :func:`captum_multiplier`: Captum 0.9's rescale rule for its registered activation modules (gradient where
  ``|x - b| < 1e-10``).
* :func:`elementwise_multipliers` (with :class:`ElementwiseProduct`) and :func:`bilinear_surrogate`: a product of
  two input-dependent tensors ``p = a * b`` (elementwise, or any bilinear op: matrix, convolution, complex), whose
  multipliers depend on :data:`PRODUCT_RULES`.
* :class:`Multiplier`, :class:`ElementwiseProduct` and :func:`with_gradient_of`: how a rule enters autograd. The
  op's value is the ordinary forward value, exactly; backpropagating through it multiplies by the rule's multipliers
  instead of the local derivative. Every rule (but ``"gradient"``) satisfies ``sum(m * d in) = d out`` exactly in
  real arithmetic, so chaining them gives attributions that sum to the output's change (completeness).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..engine.multipliers import CAPTUM_EPS, _smooth_threshold

PRODUCT_RULES = ("shapley", "gate_as_weight", "gradient")
"""``product_rule`` for a product of two input-dependent tensors ``p = a * b``:

* ``"shapley"`` (default): ``dp = da (b + b0) / 2 + db (a + a0) / 2`` (exact; the Shapley split of the two factors,
  also the derivative at the midpoint of any bilinear op);
* ``"gate_as_weight"`` (LRP for LSTMs, Arras et al. 2017): in an elementwise product where exactly one factor is a
  gate (a sigmoid's output, a view of it or ``1 - gate``), the whole change ``g s - g0 s0`` goes to the signal ``s``:
  ``m_s = (g s - g0 s0) / (s - s0)``, ``m_g = 0``, where that effective weight ``m_s`` is one a gate can take
  (``0 <= m_s <= 1``) and ``|s - s0| > eps ** (1/3)``; elsewhere (the gate's own change dominates, or the quotient is
  rounding) the Shapley split, so it always adds up and the signal's multiplier stays in a gate's range (an
  unbounded quotient compounds through the recurrence: 1e5-sized cancelling attributions, float32 overflow);
  products without exactly one gate keep the Shapley split;
* ``"gradient"``: each factor gets the plain derivative at the input (``m_a = b``, ``m_b = a``): the attributions
  no longer add up (for comparison only)."""


def smooth_threshold(dtype: torch.dtype) -> float:
    """``eps ** (1/3)`` of ``dtype`` (4.9e-3 for float32, 6.1e-6 for float64): the ``|x - b|`` (in units of the op's
    scale) at or below which a smooth op's rescale quotient gives way to the midpoint derivative: there the
    quotient's rounding error, about ``eps / |x - b|``, would exceed the midpoint's, about ``|x - b|^2 / 24``."""
    return _smooth_threshold(dtype)


def derivative(function: Callable[[torch.Tensor], torch.Tensor], at: torch.Tensor) -> torch.Tensor:
    """Elementwise derivative of the elementwise ``function`` at ``at`` (same shape): ``torch.func.grad`` of its sum
    (a functional transform, so it also runs inside the engine's ``torch.func.vjp``)."""
    return torch.func.grad(lambda point: function(point).sum())(at.detach())


def rescale_multiplier(
    x: torch.Tensor,
    b: torch.Tensor,
    fx: torch.Tensor,
    fb: torch.Tensor,
    function: Callable[[torch.Tensor], torch.Tensor],
    piecewise: bool = False,
    scale: torch.Tensor | float | None = None,
) -> torch.Tensor:
    """DeepLIFT's rescale multiplier of the elementwise ``function`` (``fx = function(x)``, ``fb = function(b)``).

    ``(fx - fb) / (x - b)``, except: for a ``piecewise``-linear function where ``x == b`` (its quotient is exact
    elsewhere), and for a smooth one where ``|x - b| <= eps ** (1/3) * scale`` (``scale`` 1 by default: ops that
    bend on a unit scale, e.g. sigmoid; ``|x|`` for power laws such as log or sqrt, whose curvature scale is the
    argument itself), the derivative at the midpoint ``(x + b) / 2`` (0 where that is infinite, e.g. sqrt at
    ``x == b == 0``: nothing changes there). All tensors have the same shape."""
    dx = x - b
    if piecewise:
        fallback = dx == 0
    else:
        limit = smooth_threshold(dx.dtype) * (1.0 if scale is None else scale)
        fallback = dx.abs() <= limit
    quotient = (fx - fb) / torch.where(fallback, torch.ones_like(dx), dx)
    if not bool(fallback.any()):
        return quotient
    slope = derivative(function, (x + b) / 2)
    return torch.where(fallback, torch.where(slope.isfinite(), slope, torch.zeros_like(slope)), quotient)


def captum_multiplier(
    x: torch.Tensor,
    b: torch.Tensor,
    fx: torch.Tensor,
    fb: torch.Tensor,
    function: Callable[[torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """Captum 0.9's rescale multiplier for a registered activation module: ``(fx - fb) / (x - b)``, the plain
    derivative at ``x`` where ``|x - b| < 1e-10`` (Captum's ``eps``)."""
    dx = x - b
    small = dx.abs() < CAPTUM_EPS
    quotient = (fx - fb) / torch.where(small, torch.ones_like(dx), dx)
    if not bool(small.any()):
        return quotient
    return torch.where(small, derivative(function, x), quotient)


class Multiplier(torch.autograd.Function):
    """``Multiplier.apply(x, value, m)``: returns ``value`` (an op's output, computed without autograd, the shape of
    ``x``); its gradient with respect to ``x`` is ``grad * m`` (the rule's multipliers, the shape of ``x``).
    Vectorises under ``torch.autograd.grad(..., is_grads_batched=True)``."""

    @staticmethod
    def forward(x: torch.Tensor, value: torch.Tensor, multiplier: torch.Tensor) -> torch.Tensor:
        return value.clone()

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        x, _, multiplier = inputs
        ctx.save_for_backward(multiplier)
        ctx.x_dtype = x.dtype

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (multiplier,) = ctx.saved_tensors
        return (grad * multiplier).to(ctx.x_dtype), None, None


class ElementwiseProduct(torch.autograd.Function):
    """``ElementwiseProduct.apply(a, b, value, m_a, m_b)``: returns ``value`` (``a * b``, computed without autograd);
    its gradients are ``grad * m_a`` and ``grad * m_b``, summed over the dims each factor was broadcast along. One
    backward node per product (a product's rule as a surrogate graph takes five)."""

    @staticmethod
    def forward(
        a: torch.Tensor, b: torch.Tensor, value: torch.Tensor, to_a: torch.Tensor, to_b: torch.Tensor
    ) -> torch.Tensor:
        return value.clone()

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        a, b, _, to_a, to_b = inputs
        ctx.save_for_backward(to_a, to_b)
        ctx.shapes = a.shape, b.shape

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        to_a, to_b = ctx.saved_tensors
        a_shape, b_shape = ctx.shapes
        return (grad * to_a).sum_to_size(a_shape), (grad * to_b).sum_to_size(b_shape), None, None, None


def elementwise_multipliers(
    a: torch.Tensor,
    a_ref: torch.Tensor,
    b: torch.Tensor,
    b_ref: torch.Tensor,
    rule: str,
    gate: str | None,
    value: torch.Tensor,
    ref_value: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(m_a, m_b)`` of the elementwise product ``value = a * b`` (``a``, ``b`` on the input's run, detached;
    ``ref_value = a_ref * b_ref``) under ``rule`` (not ``"gradient"``): Shapley ``((b + b0) / 2, (a + a0) / 2)``, or
    for ``"gate_as_weight"`` with ``gate`` (``"a"`` or ``"b"``) the gate-as-weight split of :data:`PRODUCT_RULES`."""
    mid_a, mid_b = (a + a_ref) / 2, (b + b_ref) / 2
    if rule == "shapley" or gate is None:
        return mid_b, mid_a
    signal, signal_ref = (b, b_ref) if gate == "a" else (a, a_ref)
    mid_gate, mid_signal = (mid_a, mid_b) if gate == "a" else (mid_b, mid_a)
    change = (signal - signal_ref).expand(value.shape)
    weight = (value - ref_value) / torch.where(change == 0, torch.ones_like(change), change)
    as_weight = (change.abs() > smooth_threshold(change.dtype)) & (weight >= 0) & (weight <= 1)
    to_signal = torch.where(as_weight, weight, mid_gate.expand(value.shape))
    to_gate = torch.where(as_weight, torch.zeros_like(change), mid_signal.expand(value.shape))
    return (to_gate, to_signal) if gate == "a" else (to_signal, to_gate)


def with_gradient_of(value: torch.Tensor, surrogate: torch.Tensor) -> torch.Tensor:
    """``value`` (exactly: ``surrogate - surrogate.detach()`` is zero) with the gradient of ``surrogate``."""
    return value.detach() + (surrogate - surrogate.detach())


def bilinear_surrogate(
    function: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    a: torch.Tensor,
    a_ref: torch.Tensor,
    b: torch.Tensor,
    b_ref: torch.Tensor,
) -> torch.Tensor:
    """A tensor whose gradient with respect to ``(a, b)`` is the Shapley split of ``function(a, b)`` (bilinear, or
    affine in each argument: a matrix product, a convolution with an input-dependent weight): ``function(a, mid_b) +
    function(mid_a, b)``, the derivative at the midpoint of the two runs. Its value is not the product's: pass it to
    :func:`with_gradient_of`."""
    mid_a, mid_b = (a.detach() + a_ref) / 2, (b.detach() + b_ref) / 2
    return function(a, mid_b) + function(mid_a, b)

"""Which DeepLIFT rule each PyTorch op gets, and the handlers that apply it on a paired run (:mod:`.trace`).

A handler is called for an op with at least one input-dependent ("varying") tensor argument, as
``handler(mode, func, args, kwargs)``: it computes the op on the explained input's run (``args``, with autograd) and
on the baselines' run (each varying tensor replaced by its baseline value, ``mode.ref``), registers the second as
the first's reference (``mode.register``) and returns the first, whose gradient is the rule's multiplier:

* :func:`plain` (linear ops: affine in their varying arguments jointly, e.g. reshapes, slices, ``cat``, sums and
  means, ``add``, products with constants, ``F.linear``, padding, FFTs, ``torch.complex``): autograd's own gradient,
  exact; :func:`moves` (the ops that only move values) also keeps the gate mark that ``"gate_as_weight"`` needs;
  :func:`convolution` (``conv*`` / ``conv_transpose*``, any stride, padding, dilation, groups) backpropagates as the
  transposed convolution and :func:`batch_norm` (eval mode) as an affine map, both of which vectorise over batched
  cotangents;
* :func:`univariate` (elementwise nonlinearities of one varying argument): the rescale multiplier
  (:func:`.rules.rescale_multiplier`); :func:`power` and :func:`divide` reduce ``pow`` and ``div`` to it;
* :func:`product` (two varying arguments of a bilinear op: ``mul``, ``matmul``, ``einsum``, ``F.linear`` or a
  convolution with an input-dependent weight): the product rule (:data:`.rules.PRODUCT_RULES`;
  :class:`.rules.ElementwiseProduct` for ``mul``, :func:`.rules.bilinear_surrogate` otherwise);
* :func:`layer_norm`, :func:`group_norm`: rewritten into the ops above (means, a square, ``rsqrt``, products);
* :func:`meta`: queries with no values (``size``, ``dim``, ``shape``...).

Every other op on a varying tensor has no rule (:func:`handler` returns ``None``) and the run refuses it by name.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils._pytree import tree_flatten, tree_unflatten

from .rules import (
    ElementwiseProduct,
    Multiplier,
    bilinear_surrogate,
    elementwise_multipliers,
    rescale_multiplier,
    with_gradient_of,
)

PairedMode = Any
"""The paired run a handler works in (:class:`.trace.PairedMode`, which imports this module: named here, not
imported)."""
Handler = Callable[[PairedMode, Callable, tuple, dict], Any]


def plain(mode: PairedMode, func: Callable, args: tuple, kwargs: dict) -> Any:
    """The op on both runs; autograd's gradient on the input's (a linear op's exact multiplier)."""
    out = func(*args, **kwargs)
    with torch.no_grad():
        ref = func(*mode.substitute(args), **mode.substitute(kwargs))
    mode.register(out, ref)
    return out


def moves(mode: PairedMode, func: Callable, args: tuple, kwargs: dict) -> Any:
    """:func:`plain` for an op that only moves values (reshape, slice, cat...): gates stay gates."""
    out = plain(mode, func, args, kwargs)
    varying = mode.varying_leaves(args, kwargs)
    if all(mode.is_gate(t) for t in varying):
        mode.mark_gates(out)
    return out


def meta(mode: PairedMode, func: Callable, args: tuple, kwargs: dict) -> Any:
    """A query that reads no values (shape, dtype, ...)."""
    return func(*args, **kwargs)


def rescale(
    mode: PairedMode,
    function: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    piecewise: bool = False,
    scale: Callable | float | None = None,
    gate: bool = False,
) -> torch.Tensor:
    """``function(x)`` (elementwise in ``x``) with DeepLIFT's rescale multiplier as its gradient; ``scale`` is a
    number or ``scale(x, b)`` (:func:`.rules.rescale_multiplier`); ``gate`` marks the result as a gate."""
    b = mode.ref(x)
    with torch.no_grad():
        value, ref_value = function(x.detach()), function(b)
    x_full = x if x.shape == value.shape else x.expand(value.shape)
    x_values, b_values = x_full.detach(), b.expand(value.shape)
    factor = scale(x_values, b_values) if callable(scale) else scale
    multiplier = rescale_multiplier(x_values, b_values, value, ref_value, function, piecewise, factor)
    out = Multiplier.apply(x_full, value, multiplier)
    mode.register(out, ref_value)
    if gate:
        mode.mark_gates(out)
    return out


def relative_scale(x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Curvature scale of a power law (log, sqrt, reciprocal, ``x ** p``): the larger of ``|x|`` and ``|b|``."""
    return torch.maximum(x.abs(), b.abs())


def log1p_scale(x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Curvature scale of ``log1p``: the larger of ``|1 + x|`` and ``|1 + b|``."""
    return torch.maximum((1 + x).abs(), (1 + b).abs())


def univariate(piecewise: bool = False, scale: Callable | float | None = None, gate: bool = False) -> Handler:
    """Handler of an elementwise op in its first argument (the only one that may vary)."""

    def handle(mode: PairedMode, func: Callable, args: tuple, kwargs: dict) -> torch.Tensor:
        varying = mode.varying_leaves(args[1:], kwargs)
        if varying or not args or not mode.is_varying(args[0]):
            raise mode.refuse(func, "only its first argument may depend on the input")
        if args[0].is_complex():
            raise mode.refuse(func, "its argument is complex (the rescale rule needs a real one)")
        rest = args[1:]
        return rescale(mode, lambda v: func(v, *rest, **kwargs), args[0], piecewise, scale, gate)

    return handle


def power(mode: PairedMode, func: Callable, args: tuple, kwargs: dict) -> torch.Tensor:
    """``base ** exponent`` with one of them input-dependent: a power law in the base, an exponential in the
    exponent (scale ``1 / |ln base|``)."""
    if func is torch.Tensor.__rpow__:
        exponent, base = args
    else:
        base = args[0] if args else kwargs.get("input", kwargs.get("self"))
        exponent = args[1] if len(args) > 1 else kwargs["exponent"]
    if mode.is_varying(base) and mode.is_varying(exponent):
        raise mode.refuse(func, "both its base and its exponent depend on the input")
    power_of = torch.float_power if func in (torch.float_power, torch.Tensor.float_power) else torch.pow
    if mode.is_varying(base):
        return rescale(mode, lambda v: power_of(v, exponent), base, scale=relative_scale)
    scale = 1 / abs(math.log(base)) if isinstance(base, (int, float)) and base > 0 and base != 1 else None
    return rescale(mode, lambda v: power_of(base, v), exponent, scale=scale)


def divide(mode: PairedMode, func: Callable, args: tuple, kwargs: dict) -> torch.Tensor:
    """``numerator / denominator``: linear for a constant denominator, else ``numerator * reciprocal(denominator)``
    (the reciprocal's rescale rule, then the product rule)."""
    if func in (torch.Tensor.__rdiv__, torch.Tensor.__rtruediv__):
        denominator, numerator = args
    else:
        numerator, denominator = args[0], args[1]
        if kwargs.get("rounding_mode", args[2] if len(args) > 2 else None) is not None:
            raise mode.refuse(func, "rounding division is not differentiable")
    if not mode.is_varying(denominator):
        return plain(mode, func, args, kwargs)
    with mode:
        return numerator * torch.reciprocal(denominator)


def reverse_subtract(mode: PairedMode, func: Callable, args: tuple, kwargs: dict) -> torch.Tensor:
    """``other - self`` (``1 - z``): linear; ``1 - gate`` is a gate."""
    out = plain(mode, func, args, kwargs)
    other = args[1] if len(args) > 1 else kwargs.get("other")
    if isinstance(other, (int, float)) and other == 1 and kwargs.get("alpha", 1) == 1 and mode.is_gate(args[0]):
        mode.mark_gates(out)
    return out


def product(elementwise: bool) -> Handler:
    """Handler of a bilinear op (``elementwise``: ``mul``, where ``"gate_as_weight"`` applies): linear when one
    argument varies, the product rule when two do."""

    def handle(mode: PairedMode, func: Callable, args: tuple, kwargs: dict) -> torch.Tensor:
        leaves, spec = tree_flatten((args, kwargs))
        varying = [index for index, leaf in enumerate(leaves) if mode.is_varying(leaf)]
        if len(varying) == 1:
            return plain(mode, func, args, kwargs)
        if len(varying) > 2:
            raise mode.refuse(func, "more than two of its arguments depend on the input")
        first, second = varying

        def function(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            values = list(leaves)
            values[first], values[second] = a, b
            call_args, call_kwargs = tree_unflatten(values, spec)
            return func(*call_args, **call_kwargs)

        a, b = leaves[first], leaves[second]
        a_ref, b_ref = mode.ref(a), mode.ref(b)
        with torch.no_grad():
            value, ref_value = function(a.detach(), b.detach()), function(a_ref, b_ref)
        rule = mode.product_rule
        if rule == "gradient":
            out = function(a, b)
        elif elementwise and a.dtype == b.dtype == value.dtype and not value.is_complex():
            gate = None
            if rule == "gate_as_weight" and mode.is_gate(a) != mode.is_gate(b):
                gate = "a" if mode.is_gate(a) else "b"
            to_a, to_b = elementwise_multipliers(a.detach(), a_ref, b.detach(), b_ref, rule, gate, value, ref_value)
            out = ElementwiseProduct.apply(a, b, value, to_a, to_b)
        else:
            out = with_gradient_of(value, bilinear_surrogate(function, a, a_ref, b, b_ref))
        mode.register(out, ref_value)
        return out

    return handle


def _bound(signature: inspect.Signature, args: tuple, kwargs: dict) -> dict:
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    return bound.arguments


def layer_norm(mode: PairedMode, func: Callable, args: tuple, kwargs: dict) -> torch.Tensor:
    """``F.layer_norm`` as ``(x - mean) * rsqrt(mean((x - mean)^2) + eps) * weight + bias``, through the rules."""
    arguments = _bound(inspect.signature(F.layer_norm), args, kwargs)
    x, weight, bias = arguments["input"], arguments["weight"], arguments["bias"]
    dims = tuple(range(-len(arguments["normalized_shape"]), 0))
    with mode:
        centred = x - x.mean(dims, keepdim=True)
        out = centred * torch.rsqrt(centred.square().mean(dims, keepdim=True) + arguments["eps"])
        out = out if weight is None else out * weight
        return out if bias is None else out + bias


def group_norm(mode: PairedMode, func: Callable, args: tuple, kwargs: dict) -> torch.Tensor:
    """``F.group_norm`` through the rules: :func:`layer_norm`'s formula over each group of channels."""
    arguments = _bound(inspect.signature(F.group_norm), args, kwargs)
    x, weight, bias = arguments["input"], arguments["weight"], arguments["bias"]
    channels = x.shape[1]
    affine_shape = (1, channels) + (1,) * (x.dim() - 2)
    with mode:
        grouped = x.reshape(x.shape[0], arguments["num_groups"], -1)
        centred = grouped - grouped.mean(-1, keepdim=True)
        out = (centred * torch.rsqrt(centred.square().mean(-1, keepdim=True) + arguments["eps"])).reshape(x.shape)
        out = out if weight is None else out * weight.reshape(affine_shape)
        return out if bias is None else out + bias.reshape(affine_shape)


class _TransposedBackward(torch.autograd.Function):
    """``forward(x)`` of a linear map with ``transpose(grad)`` as its backward: convolutions whose vector-Jacobian
    products run as the transposed convolution, which vectorises over batched cotangents (the native
    ``convolution_backward`` loops over them)."""

    @staticmethod
    def forward(x: torch.Tensor, forward: Callable, transpose: Callable) -> torch.Tensor:
        return forward(x)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        ctx.transpose = inputs[2]

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return ctx.transpose(grad), None, None


def _conv_arguments(func: Callable, args: tuple, kwargs: dict) -> dict:
    names = ["input", "weight", "bias", "stride", "padding"]
    names += ["output_padding", "groups", "dilation"] if "transpose" in func.__name__ else ["dilation", "groups"]
    arguments = {"bias": None, "stride": 1, "padding": 0, "output_padding": 0, "groups": 1, "dilation": 1}
    arguments.update(zip(names, args))
    arguments.update(kwargs)
    return arguments


_CONVOLUTIONS = {
    F.conv1d: (1, F.conv_transpose1d),
    F.conv2d: (2, F.conv_transpose2d),
    F.conv3d: (3, F.conv_transpose3d),
    F.conv_transpose1d: (1, F.conv1d),
    F.conv_transpose2d: (2, F.conv2d),
    F.conv_transpose3d: (3, F.conv3d),
}
"""Each convolution -> (spatial dims, its adjoint)."""


def convolution(mode: PairedMode, func: Callable, args: tuple, kwargs: dict) -> torch.Tensor:
    """A convolution: linear in its input when only the input varies (backward = the transposed convolution,
    :class:`_TransposedBackward`); otherwise :func:`product`."""
    a = _conv_arguments(func, args, kwargs)
    x = a["input"]
    if mode.varying_leaves((a["weight"], a["bias"])) or isinstance(a["padding"], str):
        return product(elementwise=False)(mode, func, args, kwargs)
    dims, adjoint = _CONVOLUTIONS[func]

    def expand(v):
        return (v,) * dims if isinstance(v, int) else tuple(v)

    stride, padding, dilation = expand(a["stride"]), expand(a["padding"]), expand(a["dilation"])
    kernel = a["weight"].shape[2:]
    with torch.no_grad():
        value, ref = func(*args, **kwargs), func(*mode.substitute(args), **mode.substitute(kwargs))
    if "transpose" in func.__name__:

        def transpose(g):
            return adjoint(g, a["weight"], None, stride, padding, dilation, a["groups"])

    else:
        # output_padding restores the input's size where the stride dropped trailing positions
        extra = tuple(
            x.shape[-dims + i]
            - ((value.shape[-dims + i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (kernel[i] - 1) + 1)
            for i in range(dims)
        )

        def transpose(g):
            return adjoint(g, a["weight"], None, stride, padding, extra, a["groups"], dilation)

    out = _TransposedBackward.apply(x, lambda v: func(v, *args[1:], **kwargs), transpose)
    mode.register(out, ref)
    return out


def batch_norm(mode: PairedMode, func: Callable, args: tuple, kwargs: dict) -> torch.Tensor:
    """Eval-mode ``F.batch_norm`` as the per-channel affine map ``x * scale + shift`` (vectorises in the backward)."""
    a = _bound(inspect.signature(F.batch_norm), args, kwargs)
    if a["training"] or a["running_mean"] is None:
        raise mode.refuse(func, "training=True (batch statistics); put the model in eval mode")
    x = a["input"]
    shape = (1, x.shape[1]) + (1,) * (x.dim() - 2)
    scale = torch.rsqrt(a["running_var"] + a["eps"])
    scale = scale if a["weight"] is None else scale * a["weight"]
    shift = -a["running_mean"] * scale if a["bias"] is None else a["bias"] - a["running_mean"] * scale
    return plain(mode, lambda v: v * scale.reshape(shape) + shift.reshape(shape), (x,), {})


def eval_only(flag: str) -> Handler:
    """Handler of a Python ``F`` op that is linear unless its ``flag`` (``training``) is set (BatchNorm, dropout)."""

    def handle(mode: PairedMode, func: Callable, args: tuple, kwargs: dict) -> Any:
        if _bound(inspect.signature(func), args, kwargs)[flag]:
            raise mode.refuse(func, f"{flag}=True (batch statistics or random masks); put the model in eval mode")
        return plain(mode, func, args, kwargs)

    return handle


def iterate(mode: PairedMode, func: Callable, args: tuple, kwargs: dict) -> Any:
    """``iter(tensor)``: its rows, each with its reference."""
    return iter(moves(mode, torch.Tensor.unbind, args[:1], {}))


_MOVES = """view view_as reshape reshape_as permute transpose t adjoint flatten unflatten squeeze unsqueeze expand
expand_as broadcast_to contiguous clone chunk split split_with_sizes tensor_split hsplit vsplit unbind narrow select
movedim moveaxis swapaxes swapdims flip fliplr flipud roll rot90 repeat tile repeat_interleave stack hstack vstack
dstack column_stack cat
concat concatenate __getitem__ index_select gather take_along_dim masked_select diagonal unfold fold pixel_shuffle
pixel_unshuffle to type_as float double half bfloat16 cpu cuda real imag view_as_real view_as_complex complex conj
conj_physical resolve_conj resolve_neg"""
_LINEAR = """add __add__ __radd__ sub __sub__ subtract neg negative __neg__ positive __pos__ sum mean cumsum diff trace
pad
constant_pad_nd where masked_fill scatter scatter_add index_add index_put diag diag_embed tril triu zeros_like ones_like
full_like empty_like new_zeros new_ones new_full new_empty avg_pool1d avg_pool2d avg_pool3d adaptive_avg_pool1d
adaptive_avg_pool2d adaptive_avg_pool3d interpolate stft istft type"""
_FFT = "fft ifft rfft irfft hfft ihfft fft2 ifft2 rfft2 irfft2 fftn ifftn rfftn irfftn fftshift ifftshift"
_ELEMENTWISE_PRODUCTS = "mul multiply __mul__ __rmul__"
_BILINEAR = """matmul __matmul__ __rmatmul__ mm bmm mv einsum linear bilinear outer ger dot vdot inner tensordot kron
cross addmm addbmm baddbmm addmv addr"""
_SMOOTH = """tanh exp expm1 exp2 sin cos sinh cosh atan arctan asinh arcsinh softplus elu selu celu gelu silu mish
log_sigmoid logsigmoid hardswish"""
_POWER_LAWS = "log log10 log2 sqrt rsqrt reciprocal square"
_PIECEWISE = "relu relu6 prelu leaky_relu hardtanh hardsigmoid abs absolute clamp clip clamp_min clamp_max"
_META = """size dim ndimension numel nelement stride is_contiguous is_complex is_floating_point is_signed element_size
__len__ get_device data_ptr storage_offset __repr__ __format__"""

_OWNERS = (torch, torch.Tensor, torch._C.TensorBase, F, torch._C._nn, torch.fft, torch.special)


def _callables(name: str) -> list[Callable]:
    found = [getattr(owner, name, None) for owner in _OWNERS]
    if name in _FFT.split():
        found.append(getattr(torch._C._fft, f"fft_{name}", None))
    return [item for item in found if callable(item) and not isinstance(item, torch.dtype)]


def _table() -> dict[Callable, Handler]:
    groups: list[tuple[str, Handler]] = [
        (_MOVES, moves),
        (_LINEAR + " " + _FFT, plain),
        (_META, meta),
        (_ELEMENTWISE_PRODUCTS, product(elementwise=True)),
        (_BILINEAR, product(elementwise=False)),
        ("sigmoid", univariate(gate=True)),
        (_SMOOTH, univariate()),
        (_POWER_LAWS, univariate(scale=relative_scale)),
        ("log1p", univariate(scale=log1p_scale)),
        (_PIECEWISE, univariate(piecewise=True)),
        ("pow float_power __pow__ __rpow__", power),
        ("div divide true_divide __truediv__ __rdiv__ __rtruediv__", divide),
        ("__rsub__ rsub", reverse_subtract),
        ("__iter__", iterate),
    ]
    table: dict[Callable, Handler] = {}
    for names, handle in groups:
        for name in names.split():
            for item in _callables(name):
                table.setdefault(item, handle)
    table[F.layer_norm] = layer_norm
    table[F.group_norm] = group_norm
    table[F.batch_norm] = batch_norm
    for conv in _CONVOLUTIONS:
        table[conv] = convolution
    for dropout in (F.dropout, F.dropout1d, F.dropout2d, F.dropout3d, F.alpha_dropout, F.feature_alpha_dropout):
        table[dropout] = eval_only("training")
    return table


TABLE = _table()
"""Every op with a rule -> its handler (keys are the callables PyTorch passes to ``__torch_function__``)."""

LINEAR_HANDLERS = (plain, moves, meta, convolution, batch_norm)
"""Handlers whose op is affine: its in-place form can run on both runs as it is."""

VIEW_ATTRIBUTES = {"real", "imag", "T", "mT", "H", "mH"}
"""Tensor attributes that are linear views of its values (others, e.g. ``shape``, read no values)."""


def handler(func: Callable) -> Handler | None:
    """The handler of ``func`` (a callable as ``__torch_function__`` receives it), ``None`` if it has no rule."""
    found = TABLE.get(func)
    if found is not None:
        return found
    owner = getattr(func, "__self__", None)
    if type(owner).__name__ == "getset_descriptor":  # a tensor attribute read: x.real, x.shape, ...
        return moves if owner.__name__ in VIEW_ATTRIBUTES else _attribute
    return None


def _attribute(mode: PairedMode, func: Callable, args: tuple, kwargs: dict) -> Any:
    """A tensor attribute that is not a view of its values: allowed if it holds no tensor (``shape``, ``dtype``)."""
    out = func(*args, **kwargs)
    if isinstance(out, torch.Tensor):
        raise mode.refuse(func, "it exposes values outside autograd (.data, .grad)")
    return out


def op_name(func: Callable) -> str:
    """A readable name of ``func`` for messages: ``torch.erf``, ``Tensor.mul``, ``torch.nn.functional.relu``."""
    owner = getattr(func, "__self__", None)
    if type(owner).__name__ == "getset_descriptor":
        return f"Tensor.{owner.__name__}"
    name = getattr(func, "__name__", repr(func))
    qualified = getattr(func, "__qualname__", name)
    module = getattr(func, "__module__", None)
    if qualified.startswith(("TensorBase.", "Tensor.")) or getattr(func, "__objclass__", None) is torch._C.TensorBase:
        return f"Tensor.{name}"
    if module in ("torch._C._nn", "torch.nn.functional"):
        return f"torch.nn.functional.{name}"
    if module == "torch._C._fft" or name.startswith("fft_"):
        return f"torch.fft.{name.removeprefix('fft_')}"
    if module in (None, "torch") or qualified.startswith("_VariableFunctions"):
        return f"torch.{name}"
    return f"{module}.{name}"


INPLACE_LINEAR = {
    "__setitem__",
    "copy_",
    "zero_",
    "fill_",
    "masked_fill_",
    "index_fill_",
    "index_copy_",
    "index_add_",
    "index_put_",
    "scatter_",
    "scatter_add_",
}
"""In-place ops that write values affine in their arguments (no out-of-place form needed)."""


def inplace_form(func: Callable, args: tuple, kwargs: dict) -> tuple[Callable | None, tuple, dict] | None:
    """``None`` if ``func`` is not in-place; else ``(op, args, kwargs)`` computing out of place what ``func`` writes
    into ``args[0]``: Python ops with ``inplace=True`` (``F.relu``) with ``inplace=False``, ``add_`` -> ``add``,
    ``__iadd__`` -> ``__add__``; ``op`` is ``None`` where there is no such form (``copy_``, ``__setitem__``)."""
    if inspect.isfunction(func):
        try:
            signature = inspect.signature(func)
        except (TypeError, ValueError):
            return None
        if "inplace" not in signature.parameters:
            return None
        arguments = _bound(signature, args, kwargs)
        if not arguments["inplace"]:
            return None
        arguments["inplace"] = False
        bound = signature.bind(**arguments)
        return func, bound.args, bound.kwargs
    name = getattr(func, "__name__", "")
    if name in INPLACE_LINEAR:
        return None, args, kwargs
    if name.startswith("__i") and name.endswith("__"):
        base = f"__{name[3:]}"
    elif name.endswith("_") and not name.endswith("__"):
        base = name[:-1]
    else:
        return None
    return (
        next(
            (getattr(owner, base) for owner in (torch.Tensor, torch, F) if callable(getattr(owner, base, None))), None
        ),
        args,
        kwargs,
    )

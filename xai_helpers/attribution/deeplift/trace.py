"""Paired runs: the model on the explained input and on its baselines at once, with DeepLIFT's rules in autograd.

:class:`PairedMode` is a ``torch.overrides.TorchFunctionMode``: while it is active every PyTorch call passes through
it. A tensor that depends on the explained input ("varying") has a *reference*, the same intermediate on the
baselines' run (``mode.refs``, keyed by tensor). A call with no varying argument runs as usual (parameters,
constants, the fixed phase); a call with one gets its rule from :mod:`.ops`, which computes it on both runs and
returns the input run's value with the rule's multiplier as its gradient, so a plain ``torch.autograd.grad`` of the
output with respect to the input gives DeepLIFT's multipliers. An op without a rule raises ``ValueError`` naming
the op and the module it ran in. Rules (``rule``):

* ``"complete"``: every op's rule (:mod:`.ops`); products follow ``product_rule`` (:data:`.rules.PRODUCT_RULES`);
* ``"captum"``: Captum 0.9's ``DeepLift``: every op keeps its plain gradient along the input's run, and only the
  outputs of registered activation modules of :data:`CAPTUM_RESCALED` (each used once per forward pass) get the
  rescale multiplier (:func:`.rules.captum_multiplier`), through a forward hook;
* ``"gradient"`` (:data:`GRADIENT`, internal): plain gradients everywhere (saliency, InputXGradient).

Linear ops keep their own handlers under every rule (their gradient is exact): convolutions then backpropagate as
transposed convolutions and eval BatchNorm as an affine map, which vectorise over batched cotangents.

In-place ops are computed out of place and written back (affine ones, e.g. ``x[i] = v``, run on both runs as they
are). :class:`PairedFunction` holds a prepared model (:func:`.recurrent.prepare`), its hooks, and runs it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils.weak import WeakTensorKeyDictionary

from .ops import INPLACE_LINEAR, LINEAR_HANDLERS, handler, inplace_form, op_name, plain
from .rules import PRODUCT_RULES, Multiplier, captum_multiplier

DEEPLIFT_RULES = ("complete", "captum")
"""``rule``: ``"complete"`` (every op's DeepLIFT rule; attributions add up) or ``"captum"`` (Captum 0.9's DeepLift)."""

GRADIENT = "gradient"
"""The rule of saliency and InputXGradient: plain gradients everywhere (no rescale hooks)."""

CAPTUM_RESCALED = (nn.ReLU, nn.ELU, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.Softplus)
"""The elementwise modules of Captum 0.9's ``SUPPORTED_NON_LINEAR``: its rescale rule applies at their outputs."""

CAPTUM_UNSUPPORTED = (nn.Softmax, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)
"""Modules of Captum's list whose special rules are not reproduced (``rule="captum"`` refuses them)."""


def _tensors(tree: Any) -> Iterator[torch.Tensor]:
    """The tensors in ``tree`` (nested tuples, lists and dict values)."""
    if isinstance(tree, torch.Tensor):
        yield tree
    elif isinstance(tree, (tuple, list)):
        for item in tree:
            yield from _tensors(item)
    elif isinstance(tree, dict):
        for item in tree.values():
            yield from _tensors(item)


class PairedMode(TorchFunctionMode):
    """The interception of one paired forward pass (module docstring). ``paths`` is the stack of the modules now
    running (for messages), shared with :class:`PairedFunction`'s hooks."""

    def __init__(self, rule: str, product_rule: str, paths: list[str]) -> None:
        super().__init__()
        self.rule, self.product_rule, self.paths = rule, product_rule, paths
        self.refs = WeakTensorKeyDictionary()
        self.nbytes = 0  # of the input-dependent intermediates registered so far (the backward's working set)
        self.gates = WeakTensorKeyDictionary()

    def is_varying(self, value: Any) -> bool:
        """Whether ``value`` is a tensor that depends on the explained input."""
        return isinstance(value, torch.Tensor) and value in self.refs

    def ref(self, value: Any) -> Any:
        """``value`` on the baselines' run (``value`` itself if it does not depend on the input)."""
        return self.refs[value] if self.is_varying(value) else value

    def substitute(self, tree: Any) -> Any:
        """``tree`` (args or kwargs) with every varying tensor replaced by its reference."""
        if isinstance(tree, torch.Tensor):
            return self.ref(tree)
        if isinstance(tree, (tuple, list)):
            return type(tree)(self.substitute(item) for item in tree)
        if isinstance(tree, dict):
            return {key: self.substitute(item) for key, item in tree.items()}
        return tree

    def varying_leaves(self, args: Any, kwargs: Any = None) -> list[torch.Tensor]:
        return [t for t in _tensors((args, kwargs)) if t in self.refs]

    def register(self, out: Any, ref: Any) -> None:
        """Record ``ref`` (same structure) as the reference of every tensor in ``out``."""
        for value, reference in zip(_tensors(out), _tensors(ref)):
            self.refs[value] = reference
            self.nbytes += value.numel() * value.element_size()

    def is_gate(self, value: torch.Tensor) -> bool:
        """Whether ``value`` is a gate: a sigmoid's output, a view of one, or ``1 -`` one."""
        return value in self.gates

    def mark_gates(self, out: Any) -> None:
        for value in _tensors(out):
            self.gates[value] = True

    def refuse(self, func: Callable, reason: str = "") -> ValueError:
        """The error for an op without a rule (or with arguments its rule does not cover), naming it and the module."""
        where = f" in module '{self.paths[-1]}'" if self.paths else " (outside any submodule)"
        detail = f" ({reason})" if reason else ""
        return ValueError(
            f"DeepLIFT (rule={self.rule!r}): no rule for {op_name(func)} on an input-dependent "
            f"tensor{where}{detail}; write it with supported ops "
            "(see xai_helpers.attribution.deeplift.ops)"
        )

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if not any(t in self.refs for t in _tensors((args, kwargs))):
            return func(*args, **kwargs)
        if "out" in kwargs and kwargs["out"] is not None:
            raise self.refuse(func, "out= arguments are not supported")
        form = inplace_form(func, args, kwargs)
        if form is not None:
            return self._inplace(func, args, kwargs, form)
        handle = handler(func)
        if self.rule != "complete" and handle not in LINEAR_HANDLERS:
            handle = plain
        if handle is None:
            raise self.refuse(func)
        return handle(self, func, args, kwargs)

    def _inplace(self, func: Callable, args: tuple, kwargs: dict, form: tuple) -> Any:
        """An in-place op on ``args[0]``: affine ones run on both runs as they are; others are computed out of place
        through their rule and copied into the target (autograd records the copy)."""
        base, base_args, base_kwargs = form
        target = args[0]
        affine = getattr(func, "__name__", "") in INPLACE_LINEAR or (
            base is not None and base is not func and handler(base) in LINEAR_HANDLERS
        )
        if self.rule != "complete" or affine:
            ref_target = self.ref(target) if self.is_varying(target) else target.detach().clone()
            with torch.no_grad():
                func(ref_target, *self.substitute(args[1:]), **self.substitute(kwargs))
            out = func(*args, **kwargs)
            self.refs[target] = ref_target
            return out
        if base is None:
            raise self.refuse(func, "an in-place op without an out-of-place form")
        result = self.__torch_function__(base, (), base_args, base_kwargs)
        ref_target = self.ref(target) if self.is_varying(target) else target.detach().clone()
        with torch.no_grad():
            ref_target.copy_(self.ref(result))
        target.copy_(result)
        self.refs[target] = ref_target
        return target


class PairedFunction:
    """A prepared explained function (:func:`.recurrent.prepare`) run on the explained input and its baselines.

    ``function`` maps a batch ``[K, ...]`` to outputs ``[K, ...]``, rows independent; ``root`` is the prepared
    model inside it, whose module names the messages use. ``rule`` is one of :data:`DEEPLIFT_RULES`,
    ``product_rule`` one of :data:`.rules.PRODUCT_RULES` (``"complete"`` only)."""

    def __init__(
        self, function: nn.Module, root: nn.Module, rule: str = "complete", product_rule: str = "shapley"
    ) -> None:
        if rule not in DEEPLIFT_RULES + (GRADIENT,):
            raise ValueError(f"rule must be one of {DEEPLIFT_RULES}, not {rule!r}")
        if product_rule not in PRODUCT_RULES:
            raise ValueError(f"product_rule must be one of {PRODUCT_RULES}, not {product_rule!r}")
        self.function, self.rule, self.product_rule = function, rule, product_rule
        self.paths: list[str] = []
        self.mode: PairedMode | None = None
        self.nbytes = 0
        self.calls: dict[str, int] = {}
        for name, module in root.named_modules():
            if not name:
                continue
            module.register_forward_pre_hook(self._enter_hook(name))
            module.register_forward_hook(self._exit_hook, always_call=True)
            if rule == "captum" and isinstance(module, CAPTUM_UNSUPPORTED):
                raise ValueError(
                    f"rule='captum': Captum's special rule for {type(module).__name__} ('{name}') is not "
                    "reproduced by the generic engine"
                )
            if rule == "captum" and type(module) in CAPTUM_RESCALED:
                module.register_forward_hook(self._captum_hook(name))

    def _enter_hook(self, name: str):
        """Forward pre-hook: module ``name`` starts (for messages)."""

        def hook(module: nn.Module, inputs: tuple) -> None:
            self.paths.append(name)

        return hook

    def _exit_hook(self, module: nn.Module, inputs: tuple, output: Any) -> None:
        """Forward hook: the innermost module has finished."""
        if self.paths:
            self.paths.pop()

    def _captum_hook(self, name: str):
        """Forward hook giving a registered activation module's output Captum's rescale multiplier."""

        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor):
            mode = self.mode
            if mode is None or not inputs or not mode.is_varying(inputs[0]):
                return None
            self.calls[name] = self.calls.get(name, 0) + 1
            if self.calls[name] > 1:
                raise ValueError(
                    f"rule='captum': module '{name}' ({type(module).__name__}) runs more than once per "
                    "forward pass; Captum's DeepLift requires each activation module to be used once"
                )
            x = inputs[0]
            with torch._C.DisableTorchFunction():
                value, ref_value = output.detach(), mode.ref(output)
                multiplier = captum_multiplier(x.detach(), mode.ref(x), value, ref_value, module.forward)
                out = Multiplier.apply(x, value, multiplier)
            mode.refs[out] = ref_value
            return out

        return hook

    def __call__(self, x: torch.Tensor, baselines: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(out, out_ref)``: the outputs on ``x`` ``[K, ...]`` (with the rule's multipliers as gradients) and,
        without gradients, on ``baselines`` (same shape, row ``k`` paired with ``x[k]``). Afterwards ``nbytes`` holds
        the bytes of the input-dependent intermediates of the input's run."""
        mode = PairedMode(self.rule, self.product_rule, self.paths)
        start = x.clone()
        mode.refs[start] = baselines.detach().clone()
        self.mode, self.calls = mode, {}
        self.paths.clear()
        try:
            with mode:
                out = self.function(start)
        finally:
            self.mode = None
        self.nbytes = mode.nbytes
        return out, mode.ref(out).detach()

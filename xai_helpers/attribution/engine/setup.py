"""The forward pass of one clip and its baselines, and everything one backward sweep needs: the GRU
gates, the activation multipliers and the attribution weights of every frame (:class:`_Setup`), by
Captum's rules (:func:`_setup`: one part) or the complete rule (:func:`_setup_complete`: one part per
baseline). Frames are frame-major ``[T, F]``; baselines ``[K, T, F]``."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ...models.nsnet2 import NSNet2
from .gru import _GruGates, _gru_gates, _gru_gates_complete
from .multipliers import _relu_derivative, _rescale, _rescale_complete, _sigmoid_derivative, _smooth_threshold


@dataclass
class _Setup:
    """Everything the backward sweeps of one part need, on the model's device (``T`` frames, ``K`` baselines)."""

    gates1: _GruGates
    gates2: _GruGates
    m_in: torch.Tensor  # [K, T, H] multiplier of relu_in
    m_1: torch.Tensor  # [K, T, D]
    m_2: torch.Tensor  # [K, T, D]
    m_s: torch.Tensor  # [K, T, F] multiplier of sigmoid times the floor's (ones for the logit)
    weight: torch.Tensor  # [K, T, F] factor of each gradient in the attribution (already / K)
    out_delta: torch.Tensor | None  # [T, F] out(x) - mean_k out(b_k), None without baselines
    absolute: bool  # Saliency: attribution = |gradient|


@torch.no_grad()
def _forward(model: NSNet2, frames: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every activation's input and output for ``frames`` ``[B, T, F]`` (the modules, in model order)."""
    acts = {"u": model.fc_in(frames)}
    acts["a"] = model.relu_in(acts["u"])
    acts["h1"], _ = model.gru1(acts["a"])
    acts["h2"], _ = model.gru2(acts["h1"])
    acts["v1"] = model.fc_out1(acts["h2"])
    acts["r1"] = model.relu_out1(acts["v1"])
    acts["v2"] = model.fc_out2(acts["r1"])
    acts["r2"] = model.relu_out2(acts["v2"])
    acts["logit"] = model.fc_out3(acts["r2"])
    acts["y"] = model.sigmoid(acts["logit"])
    acts["mask"] = model.mask_floor(acts["y"])
    return acts


def _floor_derivative(model: NSNet2, y: torch.Tensor) -> torch.Tensor:
    """Plain derivative of the (elementwise) ``mask_floor`` module at ``y``."""
    with torch.enable_grad():
        y = y.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(model.mask_floor(y).sum(), y)
    return grad


def _setup(model: NSNet2, x: torch.Tensor, baselines: torch.Tensor | None, method: str, target: str) -> _Setup:
    """Captum's rules: ``x`` ``[T, F]`` and ``baselines`` ``[K, T, F]`` (frame-major) -> multipliers and gates."""
    with_baselines = method in ("deeplift", "deepliftshap")
    batch = torch.cat([x[None], baselines]) if with_baselines else x[None]
    acts = _forward(model, batch)
    gates1 = _gru_gates(model.gru1, acts["a"][0], acts["h1"][0])
    gates2 = _gru_gates(model.gru2, acts["h1"][0], acts["h2"][0])
    out_key = "mask" if target == "mask" else "logit"

    def local_relu(name: str) -> torch.Tensor:
        # ReLU's backward passes the gradient where its output is positive.
        return (acts[name][:1] > 0).to(x.dtype)

    sig_local = acts["y"][:1] * (1 - acts["y"][:1])
    if with_baselines:
        k = baselines.shape[0]

        def mult(name_in: str, name_out: str, local: torch.Tensor) -> torch.Tensor:
            return _rescale(acts[name_in][:1], acts[name_in][1:], acts[name_out][:1], acts[name_out][1:], local)

        m_in, m_1, m_2 = (
            mult("u", "a", local_relu("a")),
            mult("v1", "r1", local_relu("r1")),
            mult("v2", "r2", local_relu("r2")),
        )
        m_s = mult("logit", "y", sig_local) if target == "mask" else None
        weight = (x[None] - baselines) / k
        out_delta = acts[out_key][0] - acts[out_key][1:].mean(0)
    else:
        m_in, m_1, m_2 = local_relu("a"), local_relu("r1"), local_relu("r2")
        m_s = sig_local if target == "mask" else None
        weight = torch.ones_like(x)[None] if method == "saliency" else x[None].clone()
        out_delta = None
    if m_s is None:
        m_s = torch.ones_like(weight)
    else:
        m_s = m_s * _floor_derivative(model, acts["y"][0])[None]
    return _Setup(gates1, gates2, m_in, m_1, m_2, m_s, weight, out_delta, method == "saliency")


def _setup_complete(model: NSNet2, x: torch.Tensor, baselines: torch.Tensor, target: str) -> list[_Setup]:
    """The complete rule: one part per baseline, each with its own trajectory's multipliers (``K = 1``
    each, weight ``(x - b_k) / K``). ``x`` ``[T, F]``, ``baselines`` ``[K, T, F]`` (frame-major)."""
    acts = _forward(model, torch.cat([x[None], baselines]))
    k = baselines.shape[0]
    threshold = _smooth_threshold(x.dtype)
    out_key = "mask" if target == "mask" else "logit"
    out_delta = acts[out_key][0] - acts[out_key][1:].mean(0)
    setups = []
    for j in range(1, k + 1):

        def pair(name: str) -> tuple[torch.Tensor, torch.Tensor]:
            return acts[name][0], acts[name][j]

        def piecewise(name_in: str, name_out: str, derivative) -> torch.Tensor:
            # Exact quotient of a piecewise-linear map; the derivative only where d in == 0.
            return _rescale_complete(*pair(name_in), *pair(name_out), derivative, 0.0)[None]

        if target == "mask":
            m_s = _rescale_complete(*pair("logit"), *pair("y"), _sigmoid_derivative, threshold)
            m_s = m_s * _rescale_complete(*pair("y"), *pair("mask"), lambda y: _floor_derivative(model, y), 0.0)
            m_s = m_s[None]
        else:
            m_s = torch.ones_like(x)[None]
        setups.append(
            _Setup(
                gates1=_gru_gates_complete(model.gru1, pair("a"), pair("h1")),
                gates2=_gru_gates_complete(model.gru2, pair("h1"), pair("h2")),
                m_in=piecewise("u", "a", _relu_derivative),
                m_1=piecewise("v1", "r1", _relu_derivative),
                m_2=piecewise("v2", "r2", _relu_derivative),
                m_s=m_s,
                weight=((x - baselines[j - 1]) / k)[None],
                out_delta=out_delta,
                absolute=False,
            )
        )
    return setups

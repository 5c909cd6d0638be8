"""Per-bin attributions of a whole clip for NSNet2: DeepLIFT that adds up, and Captum's methods, fast.

For every output bin ``(f_out, t_out)`` of the mask (or logit), :func:`all_bins_attributions`
gives the attribution over every input bin ``(f_in, t_in)`` for ``DeepLift``, ``DeepLiftShap``,
``Saliency`` and ``InputXGradient`` applied to :class:`~xai_helpers.models.base.MaskFromLogPower` --
without one backward pass per target. :func:`all_bins_maps` reduces that 4-D tensor to its influence
maps (:mod:`.maps`) chunk by chunk on the model's device, with no dense copy to the host.
:func:`weighted_output_attributions` explains any weighted sums of outputs (one bin, output regions)
with one backward sweep.

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

How
---
NSNet2 is ``x_t -> fc_in -> ReLU -> GRU1 -> GRU2 -> fc_out1 -> ReLU -> fc_out2 -> ReLU -> fc_out3
[-> Sigmoid -> floor]``, applied frame by frame with the two GRU states carried in time. Every
method above is "a gradient with some derivatives replaced by multipliers", and a GRU's
multipliers have the form of its Jacobian with the gate values and derivatives replaced: with the
complete rule ``z, n, r, h_prev, W_hn h + b_hn`` become the means of the two runs and
``sigma'``, ``tanh'`` the gates' rescale multipliers. So the "gradient" of output frame ``t_out``
with respect to input frame ``t_in <= t_out`` is a product of per-frame matrices on the stacked
state ``s_t = [h1_t, h2_t]`` (``2H`` values)::

    d out(t_out) / d x(t_in) = C(t_out) . A(t_out) ... A(t_in + 1) . B(t_in)

    A(t) = [[J1h, 0], [J2x J1h, J2h]]            (ds_t / ds_{t-1}, block lower triangular)
    B(t) = [J1x; J2x J1x] . diag(m_in) . W_in    (ds_t / dx_t)
    C(t) = [0, diag(m_s) W3 diag(m2) W2 diag(m1) W1]

with ``J1h = dh1_t/dh1_{t-1}``, ``J1x = dh1_t/da_t``, ``J2x = dh2_t/dh1_t``, ``J2h = dh2_t/dh2_{t-1}``
in closed form from the gates, and ``m_*`` the activation multipliers. Output frames are processed
in chunks of ``frames_per_chunk`` (``n``) frames. For a chunk, the row-stacked adjoint
``G(t_out, s) = C(t_out) A(t_out) ... A(s + 1)`` (``[n F, 2H]``) is stepped backwards frame by frame
inside the chunk (``U = G1 + G2 J2x``; ``grad = U Bt``; ``G <- [U J1h, G2 J2h]`` with
``Bt = J1x diag(m_in) W_in``), then block by block through earlier chunks' frames using, per
earlier block ``I`` of frames ``[s_I, e_I]``, its precomputed

* ``RR_I = [A(e_I) ... A(t_in + 1) B(t_in)]_{t_in in I}`` (``[2H, n F]``): ``grad = G RR_I``, and
* ``Phi_I = A(e_I) ... A(s_I)`` (``[2H, 2H]``, block lower triangular): ``G <- G Phi_I``,

which costs ``2H F^2 + 3 F H^2 / n`` multiply-adds per (output frame, input frame) pair instead of
``3 F H^2 + H F^2`` for frame-by-frame stepping. Only inputs and multipliers differ between the
methods. With the Captum rule the GRU Jacobians are the input trajectory's, shared by all baselines:
DeepLiftShap carries one adjoint per baseline in one sweep and averages. With the complete rule each
baseline has its own trajectory and so its own ``A_k(t)``, ``B_k(t)``: the sweep runs once per
baseline (a "part") and the parts are summed, so the cost grows about linearly with K.
A weighted sum of outputs needs one adjoint row per sum, stepped backwards over the whole clip.
Everything runs in the model's dtype (float32; float64 after ``model.double()``) on its device.

Memory: the chunk's output ``[F, n, F, T]`` (83 MB for n = 8 and a 1 s clip at 16 kHz), the chunk's
adjoints and per-frame Jacobians (O(n H^2)), plus ``RR`` (``2H x F`` floats per frame and baseline,
about 0.5 MB at 16 kHz) and ``Phi`` (``3 H^2`` per block and part) for the frames explained so far --
freed beyond ``max_lookback_frames`` when that is set. Matrix shapes are ``[n F K, H] x [H, H]`` and
``[n F, K H] x [K H, n F]``; the cost per (output frame, input frame) pair is about
``2H F^2 + 3 F H^2 / n`` multiply-adds plus ``O(n)`` per-frame work, ``O(T^2)`` in all.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn

from ..models.nsnet2 import NSNet2
from .maps import InfluenceMaps, MapAccumulator
from .registry import names

ENGINE_METHODS = names(engine=True)

DEEPLIFT_RULES = ("complete", "captum")
"""``rule`` of DeepLift / DeepLiftShap: ``"complete"`` (DeepLIFT's rules inside the GRUs; attributions
sum to the output's change) or ``"captum"`` (Captum 0.9's DeepLift, plain gradients through the GRUs)."""

CAPTUM_EPS = 1e-10
"""Captum's DeepLift ``eps``: below this ``|in(x) - in(b)|`` the rescale multiplier falls back to the gradient."""


@dataclass
class AttributionChunk:
    """Attributions of the output frames ``t_out`` to every input bin.

    ``attributions[f_out, k, f_in, t_in]`` is the attribution of output bin
    ``(f_out, t_out.start + k)`` to input bin ``(f_in, t_in)``; it is exactly zero where
    ``t_in > t_out`` (causality) and where ``max_lookback_frames`` skipped the input frame.
    """

    t_out: slice
    """Output frames covered, e.g. ``slice(8, 16)``."""
    attributions: np.ndarray | torch.Tensor
    """``[F_out, n_frames_in_chunk, F_in, T_in]`` in the model's dtype (float32); a tensor on the
    model's device when the chunks were asked for with ``to_numpy=False``."""
    deltas: np.ndarray | None
    """``[F_out, n]`` (model's dtype): sum over ``(f_in, t_in)`` of the attribution minus
    ``out(input) - mean_k out(baseline_k)`` (Captum's convergence delta, averaged over baselines);
    ``None`` for saliency and inputxgradient."""


# --------------------------------------------------------------------------------------------
# Forward pass: trajectories, multipliers and the GRU gates needed for closed-form Jacobians.


@dataclass
class _GruGates:
    """Per-frame coefficients of one GRU's Jacobian (or DeepLIFT multipliers), each ``[T, H]``.

    ``dh_t = diag(z) dh_{t-1} + diag(alpha) W_z d[.] + diag(c) W_in da + diag(beta) W_r d[.]
    + diag(gamma) W_hn dh_{t-1}``, where ``d[.]`` is the gate's input (and hidden) part."""

    z: torch.Tensor  # update gate (diagonal of dh_t / dh_{t-1})
    alpha: torch.Tensor  # (h_prev - n) * z (1 - z)          (row scale of W_z)
    c: torch.Tensor  # (1 - z) (1 - n^2)                      (row scale of W_n, input side)
    beta: torch.Tensor  # c * (W_hn h_prev + b_hn) * r (1 - r) (row scale of W_r)
    gamma: torch.Tensor  # c * r                              (row scale of W_hn, hidden side)


@dataclass
class _GruValues:
    """One run of a one-layer GRU, recomputed from its inputs and outputs (each ``[T, H]``)."""

    h_prev: torch.Tensor
    pre_r: torch.Tensor  # input of the reset gate's sigmoid
    pre_z: torch.Tensor
    hn: torch.Tensor  # W_hn h_prev + b_hn
    pre_n: torch.Tensor  # input of the candidate's tanh: W_in a + b_in + r * hn
    r: torch.Tensor
    z: torch.Tensor
    n: torch.Tensor


def _gru_values(gru: nn.GRU, inputs: torch.Tensor, outputs: torch.Tensor) -> _GruValues:
    """Gate values of a one-layer ``gru`` that read ``inputs`` ``[T, I]`` and produced ``outputs`` ``[T, H]`` (h0 = 0)."""
    hidden = gru.hidden_size
    h_prev = torch.cat([outputs.new_zeros(1, hidden), outputs[:-1]])
    gi = torch.addmm(gru.bias_ih_l0, inputs, gru.weight_ih_l0.t())
    gh = torch.addmm(gru.bias_hh_l0, h_prev, gru.weight_hh_l0.t())
    i_r, i_z, i_n = gi.split(hidden, dim=1)
    h_r, h_z, h_n = gh.split(hidden, dim=1)
    pre_r, pre_z = i_r + h_r, i_z + h_z
    r, z = torch.sigmoid(pre_r), torch.sigmoid(pre_z)
    pre_n = i_n + r * h_n
    return _GruValues(h_prev, pre_r, pre_z, h_n, pre_n, r, z, torch.tanh(pre_n))


def _gru_gates(gru: nn.GRU, inputs: torch.Tensor, outputs: torch.Tensor) -> _GruGates:
    """Jacobian coefficients of a one-layer ``gru`` along one run (``inputs`` ``[T, I]``, ``outputs`` ``[T, H]``)."""
    v = _gru_values(gru, inputs, outputs)
    c = (1 - v.z) * (1 - v.n * v.n)
    return _GruGates(z=v.z, alpha=(v.h_prev - v.n) * v.z * (1 - v.z), c=c, beta=c * v.hn * v.r * (1 - v.r), gamma=c * v.r)


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


def _gru_gates_complete(gru: nn.GRU, inputs: tuple[torch.Tensor, torch.Tensor], outputs: tuple[torch.Tensor, torch.Tensor]) -> _GruGates:
    """DeepLIFT multipliers of a one-layer ``gru`` between the input run and one baseline run
    (``inputs`` and ``outputs`` are (input run, baseline run) pairs of ``[T, I]`` and ``[T, H]``).

    ``dh = dz (h_prev~ - n~) + dn (1 - z~) + dh_prev z~`` with ``v~`` the mean of the two runs
    (Shapley split of ``(1 - z) n`` and ``z h_prev``), ``dz = m_z (W_iz da + W_hz dh_prev)``,
    ``dr = m_r (...)``, ``dn = m_n (W_in da + dr hn~ + r~ W_hn dh_prev)`` (Shapley split of ``r hn``)."""
    vx, vb = _gru_values(gru, inputs[0], outputs[0]), _gru_values(gru, inputs[1], outputs[1])
    threshold = _smooth_threshold(outputs[0].dtype)
    m_r = _rescale_complete(vx.pre_r, vb.pre_r, vx.r, vb.r, _sigmoid_derivative, threshold)
    m_z = _rescale_complete(vx.pre_z, vb.pre_z, vx.z, vb.z, _sigmoid_derivative, threshold)
    m_n = _rescale_complete(vx.pre_n, vb.pre_n, vx.n, vb.n, _tanh_derivative, threshold)
    z, n, h_prev, hn, r = ((getattr(vx, k) + getattr(vb, k)) / 2 for k in ("z", "n", "h_prev", "hn", "r"))
    c = (1 - z) * m_n
    return _GruGates(z=z, alpha=(h_prev - n) * m_z, c=c, beta=c * hn * m_r, gamma=c * r)


def _gru_weights(gru: nn.GRU) -> dict[str, torch.Tensor]:
    hidden = gru.hidden_size
    w_ir, w_iz, w_in = gru.weight_ih_l0.split(hidden, dim=0)
    w_hr, w_hz, w_hn = gru.weight_hh_l0.split(hidden, dim=0)
    return {"ir": w_ir, "iz": w_iz, "in": w_in, "hr": w_hr, "hz": w_hz, "hn": w_hn}


def _jac_hidden(g: _GruGates, w: dict[str, torch.Tensor], frames: slice) -> torch.Tensor:
    """``dh_t / dh_{t-1}`` for ``frames``: ``[m, H, H]``."""
    z, alpha, beta, gamma = (v[frames, :, None] for v in (g.z, g.alpha, g.beta, g.gamma))
    jac = alpha * w["hz"]
    jac.addcmul_(gamma, w["hn"]).addcmul_(beta, w["hr"])
    jac.diagonal(dim1=1, dim2=2).add_(z[..., 0])
    return jac


def _jac_input(g: _GruGates, w: dict[str, torch.Tensor], frames: slice) -> torch.Tensor:
    """``dh_t / d(input_t)`` for ``frames``: ``[m, H, I]``."""
    alpha, c, beta = (v[frames, :, None] for v in (g.alpha, g.c, g.beta))
    jac = alpha * w["iz"]
    return jac.addcmul_(c, w["in"]).addcmul_(beta, w["ir"])


def _rescale(in_x: torch.Tensor, in_b: torch.Tensor, out_x: torch.Tensor, out_b: torch.Tensor, local: torch.Tensor):
    """Captum's rescale multiplier ``(out(x) - out(b)) / (in(x) - in(b))`` with its gradient fallback."""
    delta_in = in_x - in_b
    return torch.where(delta_in.abs() < CAPTUM_EPS, local, (out_x - out_b) / delta_in)


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

        m_in, m_1, m_2 = mult("u", "a", local_relu("a")), mult("v1", "r1", local_relu("r1")), mult("v2", "r2", local_relu("r2"))
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


# --------------------------------------------------------------------------------------------
# Per-block Jacobians and the backward sweeps.


class _Engine:
    """Backward sweeps for one clip. Row layouts put the baselines innermost so that the sum over
    baselines is part of the matrix product (``[G_1 .. G_K] @ [RR_1; ..; RR_K]``); the attribution
    weights (``(x - b_k) / K``, ``x`` or ``1``) are folded into ``Bt`` and ``RR``."""

    def __init__(self, model: NSNet2, setup: _Setup, chunk: int, lookback: int | None) -> None:
        self.model, self.s, self.chunk, self.lookback = model, setup, chunk, lookback
        self.H = model.gru1.hidden_size
        self.K, self.T, self.F = setup.weight.shape
        self.w1, self.w2 = _gru_weights(model.gru1), _gru_weights(model.gru2)
        ref = setup.weight
        self.new = lambda *shape: torch.empty(*shape, dtype=ref.dtype, device=ref.device)
        # block index -> (RR1^T, RR2^T) each [F_in * m, K * H] (rows ordered (f_in, t_in)), and
        # Phi^T blocks (Phi11^T, Phi21^T, Phi22^T) each [H, H].
        self.rr: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.phi: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def _block(self, frames: slice) -> dict[str, torch.Tensor]:
        """Per-frame matrices of ``frames``: J1h, J2h, J2x ``[m, H, H]``, weighted Bt ``[m, K, H, F_in]``,
        Cout ``[m, F_out, K, H]``."""
        s, model = self.s, self.model
        j1x = _jac_input(s.gates1, self.w1, frames)  # [m, H, H]
        # Bt_k = J1x diag(m_in_k) W_in diag(weight_k)
        scaled_in = (s.m_in[:, frames].transpose(0, 1)[..., None] * model.fc_in.weight) * s.weight[:, frames].transpose(0, 1)[:, :, None]
        bt = torch.matmul(j1x[:, None], scaled_in)  # [m, K, H, F]
        del j1x, scaled_in
        # Cout_k = diag(m_s) W3 diag(m2) W2 diag(m1) W1
        cout = s.m_s[:, frames].transpose(0, 1)[..., None] * model.fc_out3.weight  # [m, K, F, D]
        cout = torch.matmul(cout * s.m_2[:, frames].transpose(0, 1)[:, :, None], model.fc_out2.weight)
        cout = torch.matmul(cout * s.m_1[:, frames].transpose(0, 1)[:, :, None], model.fc_out1.weight)
        return {
            "j1h": _jac_hidden(s.gates1, self.w1, frames),
            "j2h": _jac_hidden(s.gates2, self.w2, frames),
            "j2x": _jac_input(s.gates2, self.w2, frames),
            "bt": bt,
            "cout": cout.transpose(1, 2).contiguous(),
        }

    def _direct(self, s0: int, n: int, mats: dict[str, torch.Tensor], out_nf: torch.Tensor, accumulate: bool):
        """Frame-by-frame backward sweep over the chunk's own frames, writing (or adding to) ``out_nf``;
        returns G1, G2 ``[n, F, K, H]`` (the adjoints at the state before frame ``s0``)."""
        H, K, F = self.H, self.K, self.F
        g1, g2, g1n, g2n = (self.new(n, F, K, H) for _ in range(4))
        u_buf = self.new(n * F * K, H)
        for i in range(n - 1, -1, -1):
            s = s0 + i
            g1[i] = 0
            g2[i] = mats["cout"][i]
            r1, r2 = g1[i:].view(-1, H), g2[i:].view(-1, H)
            u = torch.addmm(r1, r2, mats["j2x"][i], out=u_buf[: r1.shape[0]])
            grad = u.view(-1, K * H) @ mats["bt"][i].reshape(K * H, F)  # [(n-i) F_out, F_in], summed over k
            if accumulate:
                out_nf[i:, :, :, s] += grad.view(n - i, F, F)
            else:
                out_nf[i:, :, :, s] = grad.view(n - i, F, F)
            torch.mm(u, mats["j1h"][i], out=g1n[i:].view(-1, H))
            torch.mm(r2, mats["j2h"][i], out=g2n[i:].view(-1, H))
            g1, g1n, g2, g2n = g1n, g1, g2n, g2
        return g1, g2

    def _build_rr_phi(self, index: int, frames: slice, mats: dict[str, torch.Tensor]) -> None:
        """``RR`` and ``Phi`` of block ``index`` by forward accumulation, in transposed (row) form:
        a column ``c`` of ``A(s) Z`` is the row ``Z^T[c] A(s)^T``."""
        H, K, F = self.H, self.K, self.F
        m = frames.stop - frames.start
        rows = H + m * K * F  # Phi's first block column (H), then (t_in, k, f_in)
        z1, z2, z1n, z2n = (self.new(rows, H) for _ in range(4))
        z1[:H] = torch.eye(H, dtype=z1.dtype, device=z1.device)
        z2[:H] = 0
        phi22 = torch.eye(H, dtype=z1.dtype, device=z1.device)
        for i in range(m):
            used = H + i * K * F
            j1h, j2h, j2x = mats["j1h"][i].t(), mats["j2h"][i].t(), mats["j2x"][i].t()
            torch.mm(z1[:used], j1h, out=z1n[:used])
            torch.mm(z2[:used], j2h, out=z2n[:used])
            z2n[:used].addmm_(z1n[:used], j2x)
            phi22 = phi22 @ j2h
            new = slice(used, used + K * F)
            z1n[new] = mats["bt"][i].transpose(1, 2).reshape(K * F, H)
            torch.mm(z1n[new], j2x, out=z2n[new])
            z1, z1n, z2, z2n = z1n, z1, z2n, z2
        # RR rows (t_in, k, f_in) -> RR^T [F_in * m, K * H] with rows (f_in, t_in).
        def regroup(z: torch.Tensor) -> torch.Tensor:
            return z[H:].view(m, K, F, H).permute(2, 0, 1, 3).reshape(F * m, K * H)

        self.rr[index] = (regroup(z1), regroup(z2))
        self.phi[index] = (z1[:H].clone(), z2[:H].clone(), phi22)

    def _cross(self, index: int, g1: torch.Tensor, g2: torch.Tensor, out_nf: torch.Tensor, accumulate: bool) -> None:
        """Earlier blocks: ``grad = G RR_I``, then ``G <- G Phi_I``, for I = index-1 .. 0."""
        H, K, F, n_chunk = self.H, self.K, self.F, self.chunk
        n = g1.shape[0]
        s0 = index * n_chunk
        g1n, g2n = torch.empty_like(g1), torch.empty_like(g2)
        grad = self.new(n * F, F * n_chunk)
        for block in range(index - 1, -1, -1):
            b0, b1 = block * n_chunk, (block + 1) * n_chunk
            if self.lookback is not None and s0 - (b1 - 1) > self.lookback:
                out_nf[:, :, :, :b1] = 0  # this block and all earlier ones are beyond the lookback
                break
            rr1, rr2 = self.rr[block]
            torch.mm(g1.view(n * F, K * H), rr1.t(), out=grad)
            grad.addmm_(g2.view(n * F, K * H), rr2.t())
            if accumulate:
                out_nf[:, :, :, b0:b1] += grad.view(n, F, F, n_chunk)
            else:
                out_nf[:, :, :, b0:b1] = grad.view(n, F, F, n_chunk)
            if block > 0:
                phi11t, phi21t, phi22t = self.phi[block]
                r1, r2 = g1.view(-1, H), g2.view(-1, H)
                torch.mm(r1, phi11t.t(), out=g1n.view(-1, H))
                g1n.view(-1, H).addmm_(r2, phi21t.t())
                torch.mm(r2, phi22t.t(), out=g2n.view(-1, H))
                g1, g1n, g2, g2n = g1n, g1, g2n, g2

    def fill(self, index: int, out_nf: torch.Tensor, accumulate: bool) -> None:
        """Write (or add) this part's attributions of the output frames of chunk ``index`` into
        ``out_nf`` ``[n, F_out, F_in, T]``, except where ``t_in > t_out``; keep what later chunks need."""
        s0, e0 = index * self.chunk, min((index + 1) * self.chunk, self.T)
        mats = self._block(slice(s0, e0))
        g1, g2 = self._direct(s0, e0 - s0, mats, out_nf, accumulate)
        self._cross(index, g1, g2, out_nf, accumulate)
        del g1, g2
        if e0 < self.T:
            self._build_rr_phi(index, slice(s0, e0), mats)
        del mats
        self._forget(index + 1)

    def _forget(self, next_index: int) -> None:
        """Drop blocks no later chunk reaches within ``max_lookback_frames``."""
        if self.lookback is None:
            return
        first_needed = next_index * self.chunk - self.lookback
        for block in [b for b in self.rr if (b + 1) * self.chunk - 1 < first_needed]:
            del self.rr[block], self.phi[block]

    def weighted(self, weights: torch.Tensor, out: torch.Tensor, accumulate: bool) -> None:
        """Write (or add) this part's attributions of the ``M`` weighted output sums ``weights``
        ``[M, T, F_out]`` into ``out`` ``[M, T, F_in]``: one backward sweep over the clip, adjoint
        rows ``[M, K, H]``. Frames after the last weighted one are left as they are."""
        H, K, F, n_chunk = self.H, self.K, self.F, self.chunk
        m_rows = weights.shape[0]
        used = torch.nonzero(weights.abs().sum(dim=(0, 2)))
        if used.numel() == 0:
            return
        end = int(used.max()) + 1
        g1, g2 = self.new(m_rows, K, H).zero_(), self.new(m_rows, K, H).zero_()
        for s0 in range((end - 1) // n_chunk * n_chunk, -1, -n_chunk):
            frames = slice(s0, min(s0 + n_chunk, end))
            mats = self._block(frames)
            for i in range(frames.stop - s0 - 1, -1, -1):
                s = s0 + i
                g2.view(m_rows, K * H).addmm_(weights[:, s], mats["cout"][i].view(F, K * H))
                u = torch.addmm(g1.view(-1, H), g2.view(-1, H), mats["j2x"][i])
                grad = u.view(m_rows, K * H) @ mats["bt"][i].reshape(K * H, F)
                if accumulate:
                    out[:, s] += grad
                else:
                    out[:, s] = grad
                g1 = (u @ mats["j1h"][i]).view(m_rows, K, H)
                g2 = (g2.view(-1, H) @ mats["j2h"][i]).view(m_rows, K, H)
            del mats


def _chunks(engines: list[_Engine], to_numpy: bool = True) -> Iterator[AttributionChunk]:
    """All parts' attributions summed, chunk by chunk of output frames (numpy, or tensors on the device)."""
    first = engines[0]
    F, T, n_chunk = first.F, first.T, first.chunk
    with torch.no_grad():
        for index in range(-(-T // n_chunk)):
            s0, e0 = index * n_chunk, min((index + 1) * n_chunk, T)
            n = e0 - s0
            out = first.new(F, n, F, T)
            out_nf = out.transpose(0, 1)  # [n, F_out, F_in, T] view
            # Zero what the sweeps do not write: t_in > t_out (causality).
            out[..., e0:] = 0
            for k in range(n - 1):
                out_nf[k, :, :, s0 + k + 1 : e0] = 0
            for part, engine in enumerate(engines):
                engine.fill(index, out_nf, accumulate=part > 0)
            yield _finish(first, slice(s0, e0), out, to_numpy)


def _finish(engine: _Engine, frames: slice, out: torch.Tensor, to_numpy: bool) -> AttributionChunk:
    """``out`` ``[F_out, n, F_in, T]``: lookback mask, |.| for saliency, deltas (numpy); ``out`` to numpy if ``to_numpy``."""
    if engine.lookback is not None:
        t_out = torch.arange(frames.start, frames.stop, device=out.device)[:, None]
        lag = t_out - torch.arange(engine.T, device=out.device)[None]
        out.masked_fill_((lag > engine.lookback)[None, :, None, :], 0.0)
    if engine.s.absolute:
        out.abs_()
    deltas = None
    if engine.s.out_delta is not None:
        sums = out.sum(dim=3).sum(dim=2, dtype=torch.float64)  # [F_out, n]
        deltas = (sums - engine.s.out_delta[frames].t().double()).to(out.dtype).cpu().numpy()
    return AttributionChunk(t_out=frames, attributions=out.cpu().numpy() if to_numpy else out, deltas=deltas)


# --------------------------------------------------------------------------------------------
# Public entry points.


def _as_tensor(value, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(np.ascontiguousarray(value))
    return value.detach().to(device=device, dtype=dtype)


def _engines(
    model: NSNet2,
    features,
    baselines,
    method: str,
    target: str,
    rule: str,
    frames_per_chunk: int,
    max_lookback_frames: int | None,
) -> list[_Engine]:
    """Checked arguments -> one engine per part (one part, or one per baseline for the complete rule)."""
    if method not in ENGINE_METHODS:
        raise ValueError(f"method must be one of {ENGINE_METHODS}, not {method!r}")
    if target not in ("mask", "logit"):
        raise ValueError(f"target must be 'mask' or 'logit', not {target!r}")
    if rule not in DEEPLIFT_RULES:
        raise ValueError(f"rule must be one of {DEEPLIFT_RULES} (DeepLIFT's rules), not {rule!r}")
    if int(frames_per_chunk) < 1:
        raise ValueError(f"frames_per_chunk must be >= 1, not {frames_per_chunk}")
    if max_lookback_frames is not None and int(max_lookback_frames) < 0:
        raise ValueError(f"max_lookback_frames must be >= 0 or None, not {max_lookback_frames}")
    parameter = next(model.parameters())
    device, dtype = parameter.device, parameter.dtype
    x = _as_tensor(features, device, dtype)
    if x.ndim != 2 or x.shape[0] != model.n_bins or x.shape[1] < 1:
        raise ValueError(f"features must be log-power [F={model.n_bins}, T>=1], got shape {tuple(x.shape)}")
    if method in ("deeplift", "deepliftshap"):
        if baselines is None:
            if method == "deepliftshap":
                raise ValueError("deepliftshap needs baselines [K, F, T]")
            b = torch.zeros_like(x)[None]
        else:
            b = _as_tensor(baselines, device, dtype)
            if b.ndim == 2:
                b = b[None]
            if b.ndim != 3 or b.shape[1:] != x.shape or b.shape[0] < 1:
                raise ValueError(f"baselines must be [K, {x.shape[0]}, {x.shape[1]}], got shape {tuple(b.shape)}")
            if method == "deeplift" and b.shape[0] != 1:
                raise ValueError(f"deeplift takes one baseline (K=1), got K={b.shape[0]}; use deepliftshap")
        b = b.transpose(1, 2).contiguous()
    else:
        b = None
    if device.type == "cuda" and (torch.backends.cuda.matmul.allow_tf32 or torch.get_float32_matmul_precision() != "highest"):
        warnings.warn(
            "TF32 matrix products are enabled (torch.backends.cuda.matmul.allow_tf32 / set_float32_matmul_precision): "
            "the engine's attributions will differ from Captum's float32 ones by about 1e-3 relative",
            stacklevel=3,
        )
    with torch.no_grad():
        frames = x.t().contiguous()
        if b is not None and rule == "complete":
            setups = _setup_complete(model, frames, b, target)
        else:
            setups = [_setup(model, frames, b, method, target)]
    lookback = None if max_lookback_frames is None else int(max_lookback_frames)
    return [_Engine(model, setup, int(frames_per_chunk), lookback) for setup in setups]


def all_bins_attributions(
    model: NSNet2,
    features: torch.Tensor | np.ndarray,
    baselines: torch.Tensor | np.ndarray | None,
    method: str,
    target: str = "mask",
    frames_per_chunk: int = 8,
    max_lookback_frames: int | None = None,
    rule: str = "complete",
    to_numpy: bool = True,
) -> Iterator[AttributionChunk]:
    """Attributions of every output bin of a clip to every input bin, chunk by chunk of output frames.

    ``features``: log-power ``[F, T]`` (the explained segment, model state starting at its first
    frame); ``baselines``: ``[K, F, T]`` (``K = 1`` for ``"deeplift"``, ``None`` meaning Captum's
    all-zero baseline; ``K >= 1`` averaged for ``"deepliftshap"``; ignored by ``"saliency"`` and
    ``"inputxgradient"``). ``method`` is one of :data:`ENGINE_METHODS`; ``target`` is ``"mask"``
    (after the sigmoid and floor) or ``"logit"``. ``rule`` (one of :data:`DEEPLIFT_RULES`, for
    ``"deeplift"`` and ``"deepliftshap"``): ``"complete"`` carries DeepLIFT's rules through the GRUs,
    so each output bin's attributions sum to ``out(input) - mean_k out(baseline_k)`` (the deltas are
    rounding); ``"captum"`` equals Captum 0.9's ``DeepLift`` / ``DeepLiftShap`` (see the module
    docstring). Saliency (``abs=True``) and InputXGradient equal Captum's. Captum's reference is
    ``MaskFromLogPower(model, target)`` with input ``features[None]`` and target ``(f_out, t_out)``.

    Yields one :class:`AttributionChunk` per ``frames_per_chunk`` output frames, in order.
    ``max_lookback_frames`` (optional) skips input frames with ``t_out - t_in`` above it (zeros).
    Runs in the dtype and on the device of the model's parameters; arguments are checked before the
    first chunk. ``to_numpy=False`` leaves each chunk's attributions a tensor on the model's device
    (reduce them there: :class:`~xai_helpers.attribution.maps.MapAccumulator`); deltas are numpy either way.
    """
    return _chunks(_engines(model, features, baselines, method, target, rule, frames_per_chunk, max_lookback_frames), to_numpy)


def all_bins_maps(
    model: NSNet2,
    features: torch.Tensor | np.ndarray,
    baselines: torch.Tensor | np.ndarray | None,
    method: str,
    target: str = "mask",
    frames_per_chunk: int = 8,
    max_lookback_frames: int | None = None,
    rule: str = "complete",
    on_chunk: Callable[[slice], None] | None = None,
) -> tuple[InfluenceMaps, np.ndarray | None]:
    """The influence maps (:mod:`~xai_helpers.attribution.maps`) of :func:`all_bins_attributions`'s
    4-D tensor, reduced chunk by chunk on the model's device: no dense chunk is copied to the host.

    Arguments as in :func:`all_bins_attributions` (``on_chunk(t_out)`` is called after each chunk,
    e.g. for progress). Returns the maps and the deltas ``[F_out, T_out]`` (``None`` for saliency and
    inputxgradient). Memory: one chunk ``[F, n, F, T]`` on the device plus the maps; choose
    ``frames_per_chunk`` to fill the device (e.g. 64 or more on a GPU).
    """
    chunks = all_bins_attributions(model, features, baselines, method, target, frames_per_chunk, max_lookback_frames, rule, to_numpy=False)
    n_bins, n_frames = int(model.n_bins), int(np.shape(features)[1])
    accumulator = MapAccumulator((n_bins, n_frames, n_bins, n_frames))
    deltas = []
    for chunk in chunks:
        accumulator.update(chunk.t_out, chunk.attributions, consume=True)
        if chunk.deltas is not None:
            deltas.append(chunk.deltas)
        if on_chunk is not None:
            on_chunk(chunk.t_out)
    return accumulator.result(), np.concatenate(deltas, axis=1) if deltas else None


def weighted_output_attributions(
    model: NSNet2,
    features: torch.Tensor | np.ndarray,
    baselines: torch.Tensor | np.ndarray | None,
    method: str,
    weights: torch.Tensor | np.ndarray,
    target: str = "mask",
    rule: str = "complete",
    frames_per_chunk: int = 8,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Attributions of ``M`` weighted sums of outputs ``sum_{f, t} weights[m, f, t] * out[f, t]``.

    ``weights`` ``[M, F, T]``: a one-hot map explains one bin, a 0/1 region mask a region's sum
    (any real weights are allowed). ``features``, ``baselines``, ``method``, ``target`` and ``rule``
    as in :func:`all_bins_attributions`; ``frames_per_chunk`` only sets how many frames' matrices are
    held at once. Returns attributions ``[M, F_in, T_in]`` (zero after the last weighted frame) and,
    for ``"deeplift"`` / ``"deepliftshap"``, deltas ``[M]`` = sum of the attributions minus the
    weighted sum of ``out(input) - mean_k out(baseline_k)`` (else ``None``); in the model's dtype.
    One backward sweep per part: cost ``O(T M K H^2)``, much less than all bins.
    """
    engines = _engines(model, features, baselines, method, target, rule, frames_per_chunk, None)
    first = engines[0]
    w = _as_tensor(weights, first.s.weight.device, first.s.weight.dtype)
    if w.ndim != 3 or w.shape[1:] != (first.F, first.T) or w.shape[0] < 1:
        raise ValueError(f"weights must be [M, {first.F}, {first.T}] (M >= 1 weighted sums of outputs), got shape {tuple(w.shape)}")
    w = w.transpose(1, 2).contiguous()  # [M, T, F_out]
    with torch.no_grad():
        out = first.new(w.shape[0], first.T, first.F).zero_()  # [M, T, F_in]
        for part, engine in enumerate(engines):
            engine.weighted(w, out, accumulate=part > 0)
        if first.s.absolute:
            out.abs_()
        deltas = None
        if first.s.out_delta is not None:
            sums = out.sum(dim=(1, 2), dtype=torch.float64)
            deltas = (sums - (w * first.s.out_delta).sum(dim=(1, 2), dtype=torch.float64)).to(out.dtype).cpu().numpy()
        return out.transpose(1, 2).contiguous().cpu().numpy(), deltas


def concatenate_chunks(chunks) -> tuple[np.ndarray, np.ndarray | None]:
    """All chunks' attributions ``[F_out, T_out, F_in, T_in]`` and deltas ``[F_out, T_out]`` (or None)."""
    chunks = list(chunks)
    attributions = np.concatenate([c.attributions for c in chunks], axis=1)
    deltas = None if chunks[0].deltas is None else np.concatenate([c.deltas for c in chunks], axis=1)
    return attributions, deltas


def lookback_mass_share(chunk: AttributionChunk, max_lookback_frames: int) -> np.ndarray:
    """Share ``[F_out, n]`` of each output bin's total |attribution| that lies more than
    ``max_lookback_frames`` frames back (``t_out - t_in > max_lookback_frames``), from an untruncated chunk."""
    start = chunk.t_out.start
    n, t_in = chunk.attributions.shape[1], chunk.attributions.shape[3]
    lag = (start + np.arange(n))[:, None] - np.arange(t_in)[None]
    mass = np.abs(chunk.attributions, dtype=np.float64)
    total = mass.sum(axis=(2, 3))
    beyond = (mass * (lag > max_lookback_frames)[None, :, None, :]).sum(axis=(2, 3))
    return np.divide(beyond, total, out=np.zeros_like(total), where=total > 0)

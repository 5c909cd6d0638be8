"""A one-layer GRU's gate values, Jacobian coefficients (plain, or DeepLIFT multipliers with the
complete rule) and per-frame Jacobian blocks ``dh_t / dh_{t-1}`` ``[m, H, H]`` and ``dh_t / d(input_t)``
``[m, H, I]``, in closed form from the gates (PyTorch's ``linear_before_reset`` GRU, ``h0 = 0``)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .multipliers import _rescale_complete, _sigmoid_derivative, _smooth_threshold, _tanh_derivative


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
    """Gate values of a one-layer ``gru`` that read ``inputs`` ``[T, I]`` and produced ``outputs`` ``[T, H]``
    (h0 = 0)."""
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
    return _GruGates(
        z=v.z, alpha=(v.h_prev - v.n) * v.z * (1 - v.z), c=c, beta=c * v.hn * v.r * (1 - v.r), gamma=c * v.r
    )


def _gru_gates_complete(
    gru: nn.GRU, inputs: tuple[torch.Tensor, torch.Tensor], outputs: tuple[torch.Tensor, torch.Tensor]
) -> _GruGates:
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

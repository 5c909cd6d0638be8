"""Single output bins of one clip, fast on repeated requests: the forward pass and every multiplier
computed once (:class:`BinSweeper`), then each output bin's map by one backward sweep of row vectors.

The maths is :meth:`.sweeps._Engine.weighted`'s with one adjoint row per part and baseline, but the
per-frame matrices (GRU Jacobians ``[H, H]``, ``Bt`` ``[H, F]``, ``Cout`` ``[F, H]``) are never
formed: a row vector times a GRU Jacobian ``diag(z) + diag(alpha) W_z + diag(gamma) W_hn +
diag(beta) W_r`` is ``v z + [v alpha, v gamma, v beta] @ [W_z; W_hn; W_r]``, one product with the
stacked weights (``3 H^2`` multiply-adds), and the output row ``Cout[f_out]`` is a chain of
vector-matrix products. A bin at frame ``t_out`` costs ``O((t_out + 1) R H^2)`` (``R`` rows: one
per baseline for DeepLIFT's complete rule and Captum's DeepLiftShap, else one), instead of forming
``3 H^2 + H F`` matrices per frame and part.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from ...models.nsnet2 import NSNet2
from .api import _engines
from .gru import _GruGates


@dataclass
class _Rows:
    """Everything one row sweep needs, stacked over the ``R`` rows (parts x baselines), frame-major."""

    gru1: (
        torch.Tensor
    )  # [T, 2, R, 3H] coefficients of GRU1's dh1_t / da_t (alpha, c, beta) and dh1_t / dh1_{t-1} (alpha, gamma, beta)
    gru2: torch.Tensor  # [T, 2, R, 3H] the same for GRU2 (its input is h1)
    z1: torch.Tensor  # [T, R, H] diagonal of dh1_t / dh1_{t-1}
    z2: torch.Tensor  # [T, R, H]
    m_in: torch.Tensor  # [T, R, H]
    m_1: torch.Tensor  # [T, R, D]
    m_2: torch.Tensor  # [T, R, D]
    m_s: torch.Tensor  # [T, R, F]
    weight: torch.Tensor  # [T, R, F]


def _expand(gates: _GruGates, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(coefficients [T, 2, k, 3H], z [T, k, H])`` of one part's gates, repeated over its ``k`` baselines."""

    def stack(*values: torch.Tensor) -> torch.Tensor:
        return torch.cat(values, dim=1)[:, None].expand(-1, k, -1)

    coefficients = torch.stack(
        [stack(gates.alpha, gates.c, gates.beta), stack(gates.alpha, gates.gamma, gates.beta)], dim=1
    )
    return coefficients, gates.z[:, None].expand(-1, k, -1)


def check_output_bin(
    f_out: int, t_out: int, n_bins: int, n_frames: int, where: str | os.PathLike | None = None
) -> None:
    """``IndexError`` if output bin ``(f_out, t_out)`` lies outside ``[0, n_bins) x [0, n_frames)``; the message
    starts with ``where`` (a file) when given."""
    if not (0 <= f_out < n_bins and 0 <= t_out < n_frames):
        prefix = "" if where is None else f"{where}: "
        raise IndexError(f"{prefix}output bin ({f_out}, {t_out}) outside [0, {n_bins}) x [0, {n_frames})")


class BinSweeper:
    """Exact attribution maps of single output bins of one clip, one backward sweep each.

    Built once per clip with the arguments of :func:`~.api.weighted_output_attributions`
    (``features`` log-power ``[F, T]``, ``baselines`` ``[K, F, T]`` or ``None``, ``method`` one of
    :data:`~.api.ENGINE_METHODS`, ``target``, ``rule``): the forward passes and multipliers of the whole
    clip are computed here (frame ``t``'s depend only on frames ``<= t``: causality). Then
    :meth:`bin_map` gives output bin ``(f_out, t_out)``'s map ``[F_in, T_in]``, equal to
    ``weighted_output_attributions`` with a one-hot weight up to float32 rounding.
    """

    def __init__(
        self, model: NSNet2, features, baselines, method: str, target: str = "mask", rule: str = "complete"
    ) -> None:
        engines = _engines(model, features, baselines, method, target, rule, 1, None)
        setups = [engine.s for engine in engines]
        self.n_bins, self.n_frames = engines[0].F, engines[0].T
        self.absolute = setups[0].absolute
        parts = []
        for s in setups:
            k = s.weight.shape[0]
            (gru1, z1), (gru2, z2) = _expand(s.gates1, k), _expand(s.gates2, k)
            multipliers = (m.transpose(0, 1).expand(-1, k, -1) for m in (s.m_in, s.m_1, s.m_2, s.m_s, s.weight))
            parts.append((gru1, gru2, z1, z2, *multipliers))
        # Rows are the parts' baselines side by side: axis 2 of the coefficients, axis 1 of the rest.
        self._rows = _Rows(
            *(torch.cat(values, dim=2 if index < 2 else 1).contiguous() for index, values in enumerate(zip(*parts)))
        )

        def stacked(gru: torch.nn.GRU, kind: str) -> torch.Tensor:
            w_r, w_z, w_n = getattr(gru, f"weight_{kind}_l0").split(gru.hidden_size, dim=0)
            return torch.cat([w_z, w_n, w_r])  # rows in the order of (alpha, gamma or c, beta)

        # [input Jacobian, hidden Jacobian] weights of each GRU, [2, 3H, H] (NSNet2's GRU2 reads H values).
        self._w_gru1 = torch.stack([stacked(model.gru1, "ih"), stacked(model.gru1, "hh")])
        self._w_gru2 = torch.stack([stacked(model.gru2, "ih"), stacked(model.gru2, "hh")])
        self._w_in, self._w1, self._w2, self._w3 = (
            m.weight for m in (model.fc_in, model.fc_out1, model.fc_out2, model.fc_out3)
        )

    @torch.no_grad()
    def bin_maps(self, bins) -> np.ndarray:
        """Maps ``[M, F_in, T_in]`` (model's dtype, numpy; each zero after its ``t_out``) of the output
        bins ``bins`` (``M`` pairs ``(f_out, t_out)``), all in one backward sweep from the latest
        ``t_out``. ``IndexError`` if a bin lies outside the clip, ``ValueError`` if ``bins`` is empty."""
        bins = [(int(f), int(t)) for f, t in bins]
        if not bins:
            raise ValueError("bins must hold at least one (f_out, t_out) pair")
        for f_out, t_out in bins:
            check_output_bin(f_out, t_out, self.n_bins, self.n_frames)
        rows = self._rows
        n_rows, hidden = rows.z1.shape[1], rows.z1.shape[2]
        out = rows.weight.new_zeros(len(bins), self.n_frames, self.n_bins)
        g1 = rows.weight.new_zeros(len(bins), n_rows, hidden)
        g2 = torch.zeros_like(g1)
        starts: dict[int, list[int]] = {}
        for index, (_, t_out) in enumerate(bins):
            starts.setdefault(t_out, []).append(index)
        for s in range(max(starts), -1, -1):
            for index in starts.get(s, ()):
                # Cout[f_out] = m_s W3[f_out] diag(m2) W2 diag(m1) W1, one row per part and baseline.
                f_out = bins[index][0]
                cout = (rows.m_s[s, :, f_out, None] * self._w3[f_out]) * rows.m_2[s]
                g2[index] += ((cout @ self._w2) * rows.m_1[s]) @ self._w1
            # u = g1 + g2 J2x and g2 J2h share their left factor: one batched product; likewise u J1x and u J1h.
            u_part, g2_next = self._times(g2, rows.gru2[s], self._w_gru2)
            u = g1 + u_part
            a, g1_next = self._times(u, rows.gru1[s], self._w_gru1)
            out[:, s] = ((a * rows.m_in[s]) @ self._w_in * rows.weight[s]).sum(dim=1)
            g1, g2 = g1_next + u * rows.z1[s], g2_next + g2 * rows.z2[s]
        if self.absolute:
            out.abs_()
        return out.transpose(1, 2).contiguous().cpu().numpy()

    def bin_map(self, f_out: int, t_out: int) -> np.ndarray:
        """Output bin ``(f_out, t_out)``'s attribution map ``[F_in, T_in]`` (:meth:`bin_maps` of one bin)."""
        return self.bin_maps([(f_out, t_out)])[0]

    @staticmethod
    def _times(v: torch.Tensor, coefficients: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """Rows ``v`` ``[M, R, H]`` times two Jacobians ``sum_g diag(c_g) W_g`` (``coefficients``
        ``[2, R, 3H]``, ``weights`` ``[2, 3H, H]``): ``[2, M, R, H]``."""
        m, r, h = v.shape
        scaled = v[None, :, :, None, :] * coefficients.view(2, 1, r, 3, h)
        return torch.bmm(scaled.view(2, m * r, 3 * h), weights).view(2, m, r, h)

"""The backward sweeps of the all-bins engine (:class:`_Engine`): per-block Jacobians, the chunk's own
frames stepped frame by frame, earlier chunks reached through their precomputed ``RR`` and ``Phi``
blocks, and one sweep per weighted sum of outputs.

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

The results come out tile by tile (:meth:`_Engine.tiles`): ``[n, F_out, F_in, m]`` for one chunk of
output frames and one block of input frames, every part adding into the same buffer, so a caller can
reduce each tile while it is in cache (maps mode) or copy it into a dense chunk ``[F, n, F, T]``.

Memory: two tiles ``[n, F, F, n]`` (17 MB for n = 8 at 16 kHz; a dense chunk is 83 MB for a 1 s clip), the chunk's
adjoints and per-frame Jacobians (O(n H^2)), plus ``RR`` (``2H x F`` floats per frame and baseline,
about 0.5 MB at 16 kHz) and ``Phi`` (``3 H^2`` per block and part) for the frames explained so far --
freed beyond ``max_lookback_frames`` when that is set. Matrix shapes are ``[n F K, H] x [H, H]`` and
``[n F, K H] x [K H, n F]``; the cost per (output frame, input frame) pair is about
``2H F^2 + 3 F H^2 / n`` multiply-adds plus ``O(n)`` per-frame work, ``O(T^2)`` in all.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from ...models.nsnet2 import NSNet2
from .gru import _gru_weights, _jac_hidden, _jac_input
from .setup import _Setup


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
        scaled_in = (s.m_in[:, frames].transpose(0, 1)[..., None] * model.fc_in.weight) * s.weight[:, frames].transpose(
            0, 1
        )[:, :, None]
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

    def _direct(self, n: int, mats: dict[str, torch.Tensor], tile: torch.Tensor, accumulate: bool):
        """Frame-by-frame backward sweep over the chunk's own ``n`` frames, writing (or adding to) the tile
        ``[n, F_out, F_in, n]`` (``t_in <= t_out`` only); returns G1, G2 ``[n, F, K, H]`` (the adjoints at
        the state before the chunk's first frame)."""
        H, K, F = self.H, self.K, self.F
        g1, g2, g1n, g2n = (self.new(n, F, K, H) for _ in range(4))
        u_buf = self.new(n * F * K, H)
        for i in range(n - 1, -1, -1):
            g1[i] = 0
            g2[i] = mats["cout"][i]
            r1, r2 = g1[i:].view(-1, H), g2[i:].view(-1, H)
            u = torch.addmm(r1, r2, mats["j2x"][i], out=u_buf[: r1.shape[0]])
            grad = u.view(-1, K * H) @ mats["bt"][i].reshape(K * H, F)  # [(n-i) F_out, F_in], summed over k
            if accumulate:
                tile[i:, :, :, i] += grad.view(n - i, F, F)
            else:
                tile[i:, :, :, i] = grad.view(n - i, F, F)
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

    def _cross(
        self, index: int, g1: torch.Tensor, g2: torch.Tensor, tile: torch.Tensor, accumulate: bool
    ) -> Iterator[tuple[slice, torch.Tensor]]:
        """Earlier blocks: ``grad = G RR_I`` written to (or added to) ``tile`` ``[n F_out, F_in * chunk]``, then
        ``G <- G Phi_I``, for I = index-1 .. 0 (up to ``max_lookback_frames``); yields each block's input
        frames and the tile as ``[n, F_out, F_in, chunk]``."""
        H, K, F, n_chunk = self.H, self.K, self.F, self.chunk
        n = g1.shape[0]
        s0 = index * n_chunk
        g1n, g2n = torch.empty_like(g1), torch.empty_like(g2)
        for block in range(index - 1, -1, -1):
            b0, b1 = block * n_chunk, (block + 1) * n_chunk
            if self.lookback is not None and s0 - (b1 - 1) > self.lookback:
                return  # this block and all earlier ones are beyond the lookback
            rr1, rr2 = self.rr[block]
            if accumulate:
                tile.addmm_(g1.view(n * F, K * H), rr1.t())
            else:
                torch.mm(g1.view(n * F, K * H), rr1.t(), out=tile)
            tile.addmm_(g2.view(n * F, K * H), rr2.t())
            yield slice(b0, b1), tile.view(n, F, F, n_chunk)
            if block > 0:
                phi11t, phi21t, phi22t = self.phi[block]
                r1, r2 = g1.view(-1, H), g2.view(-1, H)
                torch.mm(r1, phi11t.t(), out=g1n.view(-1, H))
                g1n.view(-1, H).addmm_(r2, phi21t.t())
                torch.mm(r2, phi22t.t(), out=g2n.view(-1, H))
                g1, g1n, g2, g2n = g1n, g1, g2n, g2

    def tiles(
        self, index: int, own: torch.Tensor, earlier: torch.Tensor, accumulate: bool
    ) -> Iterator[tuple[slice, torch.Tensor]]:
        """This part's attributions of the output frames of chunk ``index``, tile by tile of input frames:
        yields ``(t_in, tile [n, F_out, F_in, m])`` after writing (or adding) them into the caller's buffers,
        ``own`` ``[n, F_out, F_in, n]`` for the chunk's own frames (``t_in > t_out`` left as it is), then
        ``earlier`` ``[n F_out, F_in * chunk]`` for each earlier block, latest first. Run it to the end: it
        then keeps what later chunks need."""
        s0, e0 = index * self.chunk, min((index + 1) * self.chunk, self.T)
        mats = self._block(slice(s0, e0))
        g1, g2 = self._direct(e0 - s0, mats, own, accumulate)
        yield slice(s0, e0), own
        yield from self._cross(index, g1, g2, earlier, accumulate)
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

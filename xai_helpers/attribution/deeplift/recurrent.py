"""Fused recurrent modules rewritten as their cells, step by step, in ordinary ops the DeepLIFT rules cover.

``nn.GRU``, ``nn.LSTM`` and ``nn.RNN`` run as one fused op (cuDNN on a GPU), which no rule can see into.
:func:`prepare` copies a model and replaces each of them (and ``nn.GRUCell``, ``nn.LSTMCell``, ``nn.RNNCell``) by
:class:`UnrolledRNN` / :class:`UnrolledCell`, which compute the same thing with the same parameters (PyTorch's
gate order and formulas; any number of layers, bidirectional, ``batch_first``, initial states, unbatched input).
Each gate's input part and hidden part are summed before its sigmoid or tanh (one rescale multiplier per gate),
and the products are PyTorch's: GRU ``r * (W_hn h + b_hn)``, ``(1 - z) * n``, ``z * h``; LSTM ``f * c``,
``i * g``, ``o * tanh(c)``. The user's model is not modified; no cuDNN is needed.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import PackedSequence

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


def _gru_step(
    projected: torch.Tensor, h: torch.Tensor, weight_hh: torch.Tensor, bias_hh: torch.Tensor | None
) -> torch.Tensor:
    """One GRU step: ``projected`` = ``W_i x + b_i`` ``[B, 3H]`` (gates r, z, n), ``h`` ``[B, H]`` -> new ``h``.
    (Splits, not slices: their backward is one ``cat``, a slice's a zero fill of the whole tensor.)"""
    hidden = h.shape[-1]
    input_rz, input_n = projected.split([2 * hidden, hidden], dim=-1)
    recurrent_rz, recurrent_n = F.linear(h, weight_hh, bias_hh).split([2 * hidden, hidden], dim=-1)
    r, z = torch.sigmoid(input_rz + recurrent_rz).chunk(2, dim=-1)
    n = torch.tanh(input_n + r * recurrent_n)
    return (1 - z) * n + z * h


def _lstm_step(
    projected: torch.Tensor,
    state: tuple[torch.Tensor, torch.Tensor],
    weight_hh: torch.Tensor,
    bias_hh: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM step: ``projected`` ``[B, 4H]`` (gates i, f, g, o), state ``(h, c)`` -> new ``(h, c)``."""
    h, c = state
    hidden = h.shape[-1]
    gates = projected + F.linear(h, weight_hh, bias_hh)
    input_forget, cell, output = gates.split([2 * hidden, hidden, hidden], dim=-1)
    i, f = torch.sigmoid(input_forget).chunk(2, dim=-1)
    c = f * c + i * torch.tanh(cell)
    return torch.sigmoid(output) * torch.tanh(c), c


def _rnn_step(
    projected: torch.Tensor, h: torch.Tensor, weight_hh: torch.Tensor, bias_hh: torch.Tensor | None, nonlinearity: str
) -> torch.Tensor:
    """One Elman RNN step (``tanh`` or ``relu``)."""
    total = projected + F.linear(h, weight_hh, bias_hh)
    return torch.tanh(total) if nonlinearity == "tanh" else torch.relu(total)


def _step(
    module: nn.Module, projected: torch.Tensor, state: State, weight_hh: torch.Tensor, bias_hh: torch.Tensor | None
) -> State:
    if isinstance(module, (nn.GRU, nn.GRUCell)):
        return _gru_step(projected, state, weight_hh, bias_hh)
    if isinstance(module, (nn.LSTM, nn.LSTMCell)):
        return _lstm_step(projected, state, weight_hh, bias_hh)
    return _rnn_step(projected, state, weight_hh, bias_hh, module.nonlinearity)


class UnrolledRNN(nn.Module):
    """``nn.GRU`` / ``nn.LSTM`` / ``nn.RNN`` (``rnn``, whose parameters it uses) computed step by step; same
    inputs and outputs: ``(output, h_n)`` or ``(output, (h_n, c_n))``. Packed sequences and LSTM projections are
    refused (``ValueError``)."""

    def __init__(self, rnn: nn.RNNBase) -> None:
        super().__init__()
        if getattr(rnn, "proj_size", 0):
            raise ValueError(f"{type(rnn).__name__} with proj_size > 0 is not supported by the generic DeepLIFT engine")
        self.rnn = rnn

    def forward(self, input: torch.Tensor, hx: State | None = None):
        rnn = self.rnn
        if isinstance(input, PackedSequence):
            raise ValueError(
                f"{type(rnn).__name__} on a PackedSequence is not supported by the generic DeepLIFT engine"
            )
        lstm = isinstance(rnn, nn.LSTM)
        unbatched = input.dim() == 2
        x = input.unsqueeze(0) if unbatched else (input if rnn.batch_first else input.transpose(0, 1))  # [B, T, I]
        directions = 2 if rnn.bidirectional else 1
        batch, steps, hidden = x.shape[0], x.shape[1], rnn.hidden_size
        if hx is None:
            zeros = rnn.weight_hh_l0.new_zeros((rnn.num_layers * directions, batch, hidden))
            hx = (zeros, zeros) if lstm else zeros
        elif unbatched:
            hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1)) if lstm else hx.unsqueeze(1)
        finals = []
        for layer in range(rnn.num_layers):
            sequences = []
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                index = layer * directions + direction
                state = (hx[0][index], hx[1][index]) if lstm else hx[index]
                weight_hh = getattr(rnn, f"weight_hh{suffix}")
                bias_ih, bias_hh = (getattr(rnn, f"bias_{kind}{suffix}") if rnn.bias else None for kind in ("ih", "hh"))
                projected = F.linear(x, getattr(rnn, f"weight_ih{suffix}"), bias_ih)
                outputs, frames = [None] * steps, projected.unbind(1)
                for t in reversed(range(steps)) if direction else range(steps):
                    state = _step(rnn, frames[t], state, weight_hh, bias_hh)
                    outputs[t] = state[0] if lstm else state
                sequences.append(torch.stack(outputs, dim=1))
                finals.append(state)
            x = torch.cat(sequences, dim=2) if directions == 2 else sequences[0]
        output = x.squeeze(0) if unbatched else (x if rnn.batch_first else x.transpose(0, 1))
        if lstm:
            h_n, c_n = torch.stack([s[0] for s in finals]), torch.stack([s[1] for s in finals])
            return output, ((h_n.squeeze(1), c_n.squeeze(1)) if unbatched else (h_n, c_n))
        h_n = torch.stack(finals)
        return output, (h_n.squeeze(1) if unbatched else h_n)


class UnrolledCell(nn.Module):
    """``nn.GRUCell`` / ``nn.LSTMCell`` / ``nn.RNNCell`` (``cell``, whose parameters it uses) as ordinary ops."""

    def __init__(self, cell: nn.RNNCellBase) -> None:
        super().__init__()
        self.cell = cell

    def forward(self, input: torch.Tensor, hx: State | None = None):
        cell = self.cell
        lstm = isinstance(cell, nn.LSTMCell)
        unbatched = input.dim() == 1
        x = input.unsqueeze(0) if unbatched else input
        if hx is None:
            zeros = cell.weight_hh.new_zeros((x.shape[0], cell.hidden_size))
            hx = (zeros, zeros) if lstm else zeros
        elif unbatched:
            hx = (hx[0].unsqueeze(0), hx[1].unsqueeze(0)) if lstm else hx.unsqueeze(0)
        projected = F.linear(x, cell.weight_ih, cell.bias_ih)
        state = _step(cell, projected, hx, cell.weight_hh, cell.bias_hh)
        if unbatched:
            return (state[0].squeeze(0), state[1].squeeze(0)) if lstm else state.squeeze(0)
        return state


RECURRENT = {
    nn.GRU: UnrolledRNN,
    nn.LSTM: UnrolledRNN,
    nn.RNN: UnrolledRNN,
    nn.GRUCell: UnrolledCell,
    nn.LSTMCell: UnrolledCell,
    nn.RNNCell: UnrolledCell,
}
"""Fused recurrent module type -> its unrolled replacement."""


def prepare(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode, parameters without gradients, every fused recurrent module of
    :data:`RECURRENT` replaced by its unrolled form (same parameters). ``model`` itself is left as it is."""
    prepared = copy.deepcopy(model).eval().requires_grad_(False)
    if type(prepared) in RECURRENT:
        return RECURRENT[type(prepared)](prepared)
    for name, module in list(prepared.named_modules()):
        if type(module) in RECURRENT:
            prepared.set_submodule(name, RECURRENT[type(module)](module))
    return prepared

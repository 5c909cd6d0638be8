"""DTLN (Westhausen & Meyer 2020, the dual-signal transformation LSTM network) ported to PyTorch.

The weights are read at load time from upstream's two streaming ONNX files (``breizhn/DTLN``, MIT; shipped in
``onnx_files/``, SHA-256 checked by :func:`.weights.weights_path`), by following their graphs. Architecture,
16 kHz, blocks of 512 samples every 128 samples (rectangular window, causal framing: frame ``k`` covers samples
``[128 k - 384, 128 k + 128)``)::

    stage 1: |rfft(block)| [257] -> LSTM(128) -> LSTM(128) -> Linear(257) (logit) -> Sigmoid = mask [257]
    irfft(mask |X| e^{i phase(X)}, 512) [512]
    stage 2: Linear(512 -> 256, no bias) = encoded -> instant layer norm -> LSTM(128) -> LSTM(128)
             -> Linear(256) -> Sigmoid = mask_2;  Linear(256 -> 512, no bias)(encoded * mask_2) = output block [512]

and the output blocks overlap-added every 128 samples. Each activation is its own registered module, used once,
so Captum's DeepLIFT rescale rule applies to it. All frames are processed at once (the LSTMs run over the whole
sequence from zero states, which is what upstream's streaming loop computes block by block).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper
from torch import nn

from ..dsp.stft import LOG_POWER_FLOOR, StftConfig, stft
from .base import MaskModel, blind_copy, check_device, model_device
from .weights import weights_path

SAMPLE_RATE = 16000
"""The only rate DTLN exists for (Hz)."""
BLOCK_LEN = 512
"""Samples per block (the FFT length and stage 2's block)."""
BLOCK_SHIFT = 128
"""Samples between blocks."""
N_BINS = BLOCK_LEN // 2 + 1
UNITS = 128
"""Units of every LSTM."""
ENCODER_SIZE = 256
"""Channels of stage 2's learned encoder."""

_PASS_THROUGH = ("Transpose", "Squeeze", "Unsqueeze", "Reshape", "Identity")
_LSTM_ACTIVATIONS = [b"Sigmoid", b"Tanh", b"Tanh"]


class _Graph:
    """An ONNX graph read for its weights: producers, consumers and initializers, looked up by tensor name."""

    def __init__(self, path: Path, label: str) -> None:
        graph = onnx.load(str(path)).graph
        self.path, self.label = path, label
        self.nodes = list(graph.node)
        self.values = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
        self.inputs = [value.name for value in graph.input if value.name not in self.values]
        self.outputs = [value.name for value in graph.output]
        self.producer = {name: node for node in self.nodes for name in node.output}
        self.check(len(self.inputs) == 2 and len(self.outputs) == 2, "two inputs (block, states) and two outputs")

    def check(self, condition: bool, expected: str) -> None:
        """``ValueError`` naming the file and what was ``expected`` unless ``condition``."""
        if not condition:
            raise ValueError(f"{self.path}: not the DTLN {self.label} graph: expected {expected}")

    def passes(self, node: onnx.NodeProto) -> bool:
        """Whether ``node`` only moves its first input's values (a reshape, a one-way split or concat, a zero pad)."""
        if node.op_type == "Pad":
            return not np.any(self.values.get(node.input[1], np.ones(1)))
        if node.op_type == "Split":
            return len(node.output) == 1
        if node.op_type == "Concat":
            return len(node.input) == 1
        return node.op_type in _PASS_THROUGH

    def origin(self, name: str) -> str:
        """The tensor that ``name`` is a reshaped view of (itself if computed there, or a graph input)."""
        node = self.producer.get(name)
        while node is not None and self.passes(node):
            name = node.input[0]
            node = self.producer.get(name)
        return name

    def source(self, name: str) -> onnx.NodeProto | None:
        """The node computing the values of ``name`` (looking through reshapes), ``None`` for a graph input."""
        return self.producer.get(self.origin(name))

    def consumer(self, name: str, op_type: str | None = None) -> onnx.NodeProto:
        """The single node reading ``name`` (of type ``op_type`` where given)."""
        found = [node for node in self.nodes if name in node.input and op_type in (None, node.op_type)]
        self.check(len(found) == 1, f"one {op_type or ''} node reading {name!r}, found {len(found)}")
        return found[0]

    def nodes_of(self, op_type: str) -> list[onnx.NodeProto]:
        """The ``op_type`` nodes in graph (topological) order."""
        return [node for node in self.nodes if node.op_type == op_type]

    def weight(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """Initializer ``name``, checked to have ``shape``."""
        value = self.values.get(name)
        self.check(
            value is not None and value.shape == shape,
            f"a weight of shape {shape} as {name!r}, found {None if value is None else value.shape}",
        )
        return value

    def initializer_input(self, node: onnx.NodeProto, shape: tuple[int, ...]) -> np.ndarray:
        """The one initializer input of ``node``, checked to have ``shape``."""
        names = [name for name in node.input if name in self.values]
        self.check(len(names) == 1, f"one weight input of {node.op_type} node {node.name!r}")
        return self.weight(names[0], shape)

    def state_slot(self, name: str) -> tuple[int, int] | None:
        """``(layer, h=0 / c=1)`` if ``name`` is a slice ``states[:, layer, :, slot]`` of the states input."""
        node = self.source(name)
        if node is None or node.op_type != "Slice" or self.origin(node.input[0]) != self.inputs[1]:
            return None
        starts, axes = self.values.get(node.input[1]), self.values.get(node.input[3])
        self.check(
            starts is not None and axes is not None and list(axes) == [0, 1, 2, 3],
            f"a constant 4-D slice of the states input at {node.name!r}",
        )
        return int(starts[1]), int(starts[3])


def _gates_to_torch(stacked: np.ndarray, order: tuple[int, int, int, int], axis: int = 0) -> np.ndarray:
    """Gate blocks of ``stacked`` (4 x 128 along ``axis``) reordered to PyTorch's ``(i, f, g, o)``; ``order``
    holds the block index of i, f, g and o in ``stacked``."""
    blocks = np.split(stacked, 4, axis=axis)
    return np.concatenate([blocks[index] for index in order], axis=axis)


def read_stage1_weights(path: Path) -> dict[str, np.ndarray]:
    """Stage 1 (``lstm1``, ``lstm2``, ``dense1``) as a :class:`DTLN` state dict, from upstream's ``model_1.onnx``.

    The graph has two ONNX ``LSTM`` nodes (gate blocks ``i, o, f, c``; input bias then recurrent bias), fed the
    magnitude and the slices ``states[:, layer, :, 0]`` (h) and ``[..., 1]`` (c), then ``MatMul`` + ``Add`` +
    ``Sigmoid``; ``ValueError`` naming the file where it differs."""
    graph = _Graph(path, "model_1 (stage 1)")
    lstms = graph.nodes_of("LSTM")
    graph.check(len(lstms) == 2, f"2 LSTM nodes, found {len(lstms)}")
    state, previous = {}, graph.inputs[0]
    for layer, node in enumerate(lstms):
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        graph.check(
            attrs.get("hidden_size") == UNITS
            and attrs.get("direction", b"forward") == b"forward"
            and attrs.get("activations", _LSTM_ACTIVATIONS) == _LSTM_ACTIVATIONS
            and not attrs.get("input_forget")
            and "clip" not in attrs,
            f"LSTM {node.name!r}: forward, {UNITS} units, default activations, no clip or coupled gates",
        )
        inputs = list(node.input) + [""] * (8 - len(node.input))
        graph.check(not inputs[4] and not inputs[7], f"LSTM {node.name!r} without sequence lengths or peepholes")
        graph.check(graph.origin(inputs[0]) == previous, f"LSTM {node.name!r} reading {previous!r}")
        graph.check(
            graph.state_slot(inputs[5]) == (layer, 0) and graph.state_slot(inputs[6]) == (layer, 1),
            f"LSTM {node.name!r} starting from states[:, {layer}, :, 0] (h) and [..., 1] (c)",
        )
        size = N_BINS if layer == 0 else UNITS
        weights = graph.weight(inputs[1], (1, 4 * UNITS, size))[0]
        recurrent = graph.weight(inputs[2], (1, 4 * UNITS, UNITS))[0]
        bias = graph.weight(inputs[3], (1, 8 * UNITS))[0]
        iofc = (0, 2, 3, 1)
        state.update(
            {
                f"lstm{layer + 1}.weight_ih_l0": _gates_to_torch(weights, iofc),
                f"lstm{layer + 1}.weight_hh_l0": _gates_to_torch(recurrent, iofc),
                f"lstm{layer + 1}.bias_ih_l0": _gates_to_torch(bias[: 4 * UNITS], iofc),
                f"lstm{layer + 1}.bias_hh_l0": _gates_to_torch(bias[4 * UNITS :], iofc),
            }
        )
        previous = node.output[0]
    dense = [node for node in graph.nodes_of("MatMul") if graph.origin(node.input[0]) == previous]
    graph.check(len(dense) == 1, "one MatMul reading the second LSTM")
    add = graph.consumer(dense[0].output[0], "Add")
    sigmoid = graph.consumer(add.output[0], "Sigmoid")
    graph.check(graph.origin(graph.outputs[0]) == sigmoid.output[0], "the mask output computed by that Sigmoid")
    state["dense1.weight"] = graph.weight(dense[0].input[1], (UNITS, N_BINS)).T
    state["dense1.bias"] = graph.initializer_input(add, (N_BINS,))
    return state


def _read_unrolled_lstm(
    graph: _Graph, split: onnx.NodeProto, layer: int, previous: str, size: int, name: str
) -> tuple[dict[str, np.ndarray], str]:
    """One Keras LSTM step unrolled into ``MatMul``/``Split``/``Sigmoid``/``Tanh`` ops (``split`` cuts its four
    gate pre-activations): its PyTorch weights under ``name`` and the tensor holding its new h. The gate
    roles are read from the graph: the ``Tanh`` input is the cell candidate, the sigmoid multiplied by the old
    cell state the forget gate, the one multiplied by the candidate the input gate, the other the output gate."""
    bias_add = graph.producer.get(split.input[0])
    graph.check(bias_add is not None and bias_add.op_type == "Add", f"a bias Add before Split {split.name!r}")
    bias = graph.initializer_input(bias_add, (4 * UNITS,))
    product_sum = graph.producer.get(next(n for n in bias_add.input if n not in graph.values))
    matmuls = [] if product_sum is None else [graph.producer.get(n) for n in product_sum.input]
    graph.check(
        product_sum is not None
        and product_sum.op_type == "Add"
        and all(m is not None and m.op_type == "MatMul" for m in matmuls),
        f"input and recurrent MatMuls summed before Split {split.name!r}",
    )
    recurrent = [m for m in matmuls if graph.state_slot(m.input[0]) == (layer, 0)]
    feed = [m for m in matmuls if graph.origin(m.input[0]) == previous]
    graph.check(
        len(recurrent) == 1 and len(feed) == 1,
        f"LSTM {layer + 1} of stage 2 reading {previous!r} and states[:, {layer}, :, 0] (h)",
    )
    roles, h_out = {}, None
    for index, gate in enumerate(split.output):
        activation = graph.consumer(gate)
        graph.check(activation.op_type in ("Sigmoid", "Tanh"), f"a Sigmoid or Tanh on gate {gate!r}")
        if activation.op_type == "Tanh":
            roles["g"] = index
            continue
        product = graph.consumer(activation.output[0], "Mul")
        other = next(n for n in product.input if n != activation.output[0])
        other_node = graph.producer.get(other)
        if graph.state_slot(other) == (layer, 1):
            roles["f"] = index
        elif other_node is not None and other_node.op_type == "Tanh" and other_node.input[0] in split.output:
            roles["i"] = index
        elif other_node is not None and other_node.op_type == "Tanh":
            roles["o"], h_out = index, product.output[0]
    graph.check(sorted(roles) == ["f", "g", "i", "o"], f"the four LSTM gates after Split {split.name!r}")
    order = (roles["i"], roles["f"], roles["g"], roles["o"])
    weights = {
        f"{name}.weight_ih_l0": _gates_to_torch(graph.weight(feed[0].input[1], (size, 4 * UNITS)).T, order),
        f"{name}.weight_hh_l0": _gates_to_torch(graph.weight(recurrent[0].input[1], (UNITS, 4 * UNITS)).T, order),
        f"{name}.bias_ih_l0": _gates_to_torch(bias, order),
        f"{name}.bias_hh_l0": np.zeros(4 * UNITS, dtype=bias.dtype),
    }
    return weights, h_out


def read_stage2_weights(path: Path) -> dict[str, np.ndarray]:
    """Stage 2 (``encoder``, ``norm``, ``lstm3``, ``lstm4``, ``dense2``, ``decoder``) as a :class:`DTLN` state
    dict, from upstream's ``model_2.onnx``, whose LSTMs are unrolled into elementary ops; ``ValueError`` naming
    the file where the graph differs."""
    graph = _Graph(path, "model_2 (stage 2)")
    convs = graph.nodes_of("Conv")
    graph.check(len(convs) == 2, f"2 Conv nodes, found {len(convs)}")
    for conv in convs:
        attrs = {a.name: helper.get_attribute_value(a) for a in conv.attribute}
        graph.check(
            len(conv.input) == 2
            and attrs.get("kernel_shape") == [1]
            and attrs.get("group", 1) == 1
            and not any(attrs.get("pads", [])),
            f"Conv {conv.name!r}: 1x1, no bias, no padding",
        )
    encoder = next((conv for conv in convs if graph.origin(conv.input[0]) == graph.inputs[0]), None)
    decoder = graph.source(graph.outputs[0])
    graph.check(
        encoder is not None and decoder in convs and decoder is not encoder,
        "an encoder Conv reading the block and a decoder Conv computing the output",
    )
    encoded = encoder.output[0]
    state = {
        "encoder.weight": graph.weight(encoder.input[1], (ENCODER_SIZE, BLOCK_LEN, 1))[:, :, 0],
        "decoder.weight": graph.weight(decoder.input[1], (BLOCK_LEN, ENCODER_SIZE, 1))[:, :, 0],
    }
    means = [node for node in graph.nodes_of("ReduceMean") if graph.origin(node.input[0]) == encoded]
    sqrt = graph.nodes_of("Sqrt")
    graph.check(len(means) == 1 and len(sqrt) == 1, "an instant layer norm of the encoded block")
    add_eps = graph.producer.get(sqrt[0].input[0])
    graph.check(add_eps is not None and add_eps.op_type == "Add", "the variance plus epsilon under the Sqrt")
    state["norm.eps"] = np.float32(graph.initializer_input(add_eps, ()))
    scale = graph.consumer(graph.consumer(sqrt[0].output[0], "Div").output[0], "Mul")
    shift = graph.consumer(scale.output[0], "Add")
    state["norm.gamma"] = graph.initializer_input(scale, (ENCODER_SIZE,))
    state["norm.beta"] = graph.initializer_input(shift, (ENCODER_SIZE,))
    splits = [node for node in graph.nodes_of("Split") if len(node.output) == 4]
    graph.check(len(splits) == 2, f"2 unrolled LSTMs (4-way Splits), found {len(splits)}")
    previous = shift.output[0]
    for layer, (split, size) in enumerate(zip(splits, (ENCODER_SIZE, UNITS))):
        weights, previous = _read_unrolled_lstm(graph, split, layer, previous, size, f"lstm{layer + 3}")
        state.update(weights)
    dense = [node for node in graph.nodes_of("MatMul") if graph.origin(node.input[0]) == previous]
    graph.check(len(dense) == 1, "one MatMul reading the second LSTM")
    add = [node for node in graph.nodes_of("Add") if any(graph.source(n) is dense[0] for n in node.input)]
    graph.check(len(add) == 1, "the dense layer's bias Add")
    sigmoid = graph.consumer(add[0].output[0], "Sigmoid")
    masking = graph.consumer(sigmoid.output[0], "Mul")
    graph.check(
        graph.origin(next(n for n in masking.input if n != sigmoid.output[0])) == encoded
        and graph.source(decoder.input[0]) is masking,
        "the mask multiplying the encoded (not normalised) block, decoded by the decoder Conv",
    )
    state["dense2.weight"] = graph.weight(dense[0].input[1], (UNITS, ENCODER_SIZE)).T
    state["dense2.bias"] = graph.initializer_input(add[0], (ENCODER_SIZE,))
    return state


class InstantLayerNorm(nn.Module):
    """Per-frame layer norm over the last axis (channels): ``(x - mean) / sqrt(var + eps) * gamma + beta``,
    mean and (biased) variance of each frame's ``channels`` values; ``[..., channels]`` in and out."""

    def __init__(self, channels: int, eps: float = 1e-7) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))
        self.register_buffer("eps", torch.tensor(eps))

    def reset_parameters(self) -> None:
        """Back to the identity initialisation (gamma 1, beta 0), as Keras initialises it."""
        nn.init.ones_(self.gamma)
        nn.init.zeros_(self.beta)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        centred = frames - frames.mean(dim=-1, keepdim=True)
        variance = (centred * centred).mean(dim=-1, keepdim=True)
        return centred / torch.sqrt(variance + self.eps) * self.gamma + self.beta


def _packed_state(final: tuple[torch.Tensor, torch.Tensor], last: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Final ``(h, c)`` of two single-layer LSTMs as upstream's state ``[B, 2, 128, 2]`` (``[:, layer, :, 0]``
    h, ``[..., 1]`` c)."""
    return torch.stack(
        [torch.stack([final[0][0], final[1][0]], dim=-1), torch.stack([last[0][0], last[1][0]], dim=-1)], dim=1
    )


class DTLN(MaskModel):
    """DTLN: log10-power features ``[B, T, 257]`` (and the input's phase) in, stage-1 mask, its logit or the
    log power of stage 2's output blocks ``[B, T, 257]`` out (:meth:`explained`).

    Modules in order: ``lstm1`` (+ ``lstm1_out``, an identity on its output sequence, a hook point for layer
    attributions), ``lstm2`` (+ ``lstm2_out``), ``dense1`` (logit), ``sigmoid1`` (mask); ``encoder``, ``norm``,
    ``lstm3`` (+ ``lstm3_out``), ``lstm4`` (+ ``lstm4_out``), ``dense2``, ``sigmoid2``, ``decoder``.
    """

    name = "dtln"
    targets = ("mask", "logit", "output")
    lookahead_frames = 0
    latency_samples = BLOCK_LEN - BLOCK_SHIFT
    phase_targets = ("output",)
    latent_layers = {"lstm1": "lstm1_out", "lstm2": "lstm2_out", "lstm3": "lstm3_out", "lstm4": "lstm4_out"}
    randomisation_order = ("decoder", "dense2", "lstm4", "lstm3", "norm", "encoder", "dense1", "lstm2", "lstm1")

    def __init__(self) -> None:
        super().__init__()
        self.n_bins, self.sample_rate = N_BINS, SAMPLE_RATE
        self.lstm1 = nn.LSTM(N_BINS, UNITS, batch_first=True)
        self.lstm1_out = nn.Identity()
        self.lstm2 = nn.LSTM(UNITS, UNITS, batch_first=True)
        self.lstm2_out = nn.Identity()
        self.dense1 = nn.Linear(UNITS, N_BINS)
        self.sigmoid1 = nn.Sigmoid()
        self.encoder = nn.Linear(BLOCK_LEN, ENCODER_SIZE, bias=False)
        self.norm = InstantLayerNorm(ENCODER_SIZE)
        self.lstm3 = nn.LSTM(ENCODER_SIZE, UNITS, batch_first=True)
        self.lstm3_out = nn.Identity()
        self.lstm4 = nn.LSTM(UNITS, UNITS, batch_first=True)
        self.lstm4_out = nn.Identity()
        self.dense2 = nn.Linear(UNITS, ENCODER_SIZE)
        self.sigmoid2 = nn.Sigmoid()
        self.decoder = nn.Linear(ENCODER_SIZE, BLOCK_LEN, bias=False)

    @classmethod
    def stft_config(cls, sample_rate: int) -> StftConfig:
        """DTLN's framing: 512-sample rectangular blocks every 128 samples, causal; 16000 Hz only."""
        if sample_rate != SAMPLE_RATE:
            raise ValueError(f"DTLN runs at {SAMPLE_RATE} Hz only, not {sample_rate} Hz")
        return StftConfig(SAMPLE_RATE, BLOCK_LEN, BLOCK_SHIFT, BLOCK_LEN, window_type="rect", padding="causal")

    @classmethod
    def latent_layers_of(cls, target: str) -> tuple[str, ...]:
        """Stage 1's LSTMs for ``"mask"`` and ``"logit"``; all four for ``"output"``."""
        return tuple(cls.latent_layers) if target == "output" else ("lstm1", "lstm2")

    def latent_units(self, layer: str) -> int:
        """Every latent layer (an LSTM's output) has 128 units."""
        self.check_latent_layers([layer])
        return UNITS

    def lesioned(self, bins: np.ndarray) -> DTLN:
        """A copy whose first LSTM's input weights of ``bins`` (boolean ``[257]``) are zero: stage 1 reads the
        magnitudes only there, so ``"mask"`` and ``"logit"`` are independent of those bins (``"output"`` is not:
        stage 2 reads the masked spectrum of every bin)."""
        lesioned = blind_copy(self, bins)
        with torch.no_grad():
            lesioned.lstm1.weight_ih_l0[:, torch.as_tensor(bins, device=lesioned.lstm1.weight_ih_l0.device)] = 0.0
        return lesioned

    def stage1(self, magnitude: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Stage 1 on block magnitudes ``|rfft|`` ``[B, T, 257]`` (linear, not log): the mask's logit
        ``[B, T, 257]`` and the LSTM states after the last frame ``[B, 2, 128, 2]`` (upstream's layout)."""
        hidden, final1 = self.lstm1(magnitude)
        hidden, final2 = self.lstm2(self.lstm1_out(hidden))
        return self.dense1(self.lstm2_out(hidden)), _packed_state(final1, final2)

    def stage2(self, blocks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Stage 2 on time-domain blocks ``[B, T, 512]``: the output blocks ``[B, T, 512]`` (before
        overlap-add) and the LSTM states after the last frame ``[B, 2, 128, 2]`` (upstream's layout)."""
        encoded = self.encoder(blocks)
        hidden, final3 = self.lstm3(self.norm(encoded))
        hidden, final4 = self.lstm4(self.lstm3_out(hidden))
        mask = self.sigmoid2(self.dense2(self.lstm4_out(hidden)))
        return self.decoder(encoded * mask), _packed_state(final3, final4)

    def masked_blocks(self, magnitude: torch.Tensor, mask: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
        """Stage 2's input ``[B, T, 512]``: ``irfft(mask * magnitude * e^{i phase}, 512)`` of ``[B, T, 257]``
        magnitudes, masks and phases (radians; ``phase`` may have batch 1)."""
        gain = mask * magnitude
        return torch.fft.irfft(torch.complex(gain * torch.cos(phase), gain * torch.sin(phase)), n=BLOCK_LEN, dim=-1)

    def explained(
        self, features: torch.Tensor, target: str = "mask", phase: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``"logit"`` (stage 1's pre-sigmoid mask), ``"mask"`` (stage 1's mask) or ``"output"``
        (``log10(max(|rfft(y_t)|^2, 1e-12))`` of stage 2's output block ``y_t`` ``[512]``), each ``[B, T, 257]``,
        for log10-power ``features`` ``[B, T, 257]``; the magnitude is ``10**(features / 2)``. ``"output"``
        reads the input's ``phase`` ``[B or 1, T, 257]`` (radians)."""
        self.check_target(target)
        magnitude = torch.pow(10.0, features / 2)
        logit = self.stage1(magnitude)[0]
        if target == "logit":
            return logit
        mask = self.sigmoid1(logit)
        if target == "mask":
            return mask
        if phase is None:
            raise ValueError("DTLN: target 'output' reads the input's phase; pass phase ([B or 1, T, 257], radians)")
        blocks = self.stage2(self.masked_blocks(magnitude, mask, phase))[0]
        power = torch.view_as_real(torch.fft.rfft(blocks, dim=-1)).pow(2).sum(dim=-1)
        return torch.log10(torch.clamp(power, min=LOG_POWER_FLOOR))

    def output_blocks(self, magnitude: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
        """Stage 2's output blocks ``[B, T, 512]`` for block magnitudes and phases ``[B, T, 257]``."""
        mask = self.sigmoid1(self.stage1(magnitude)[0])
        return self.stage2(self.masked_blocks(magnitude, mask, phase))[0]

    def enhance_wave(self, wave: np.ndarray) -> np.ndarray:
        """DTLN on ``wave`` ``[N]`` (16 kHz): the enhanced waveform ``[N]`` (float64), time-aligned with the input.

        Upstream's ``real_time_processing_onnx.py`` adds output block ``k`` (from input samples
        ``[128 k - 384, 128 k + 128)``) at output samples ``[128 k, 128 k + 512)``: its output lags the input by
        :attr:`latency_samples` = 384 samples (24 ms), the streaming latency. This method returns that output
        advanced by 384 samples, so that sample ``n`` is the enhancement of input sample ``n`` and quality scores
        against the clean speech compare like with like: ``enhance_wave(x)[n] == upstream(x')[n + 384]`` with ``x'``
        the input followed by 384 zeros (which flush the streaming buffer, so the last samples get all four
        overlapping blocks) and upstream's loop run over all its ``len(x') // 128`` blocks."""
        latency = self.latency_samples
        padded = np.r_[np.asarray(wave, dtype=np.float64), np.zeros(latency)]
        spectrum = stft(padded, self.stft_config(SAMPLE_RATE)).T[None]
        device = model_device(self)
        with torch.no_grad():
            blocks = self.output_blocks(
                torch.as_tensor(np.abs(spectrum), dtype=torch.float32, device=device),
                torch.as_tensor(np.angle(spectrum), dtype=torch.float32, device=device),
            )
        blocks = blocks[0].cpu().numpy().astype(np.float64)
        n_frames, hops_per_block = len(blocks), BLOCK_LEN // BLOCK_SHIFT
        hops = np.zeros((n_frames + hops_per_block - 1, BLOCK_SHIFT))
        for index, part in enumerate(blocks.reshape(n_frames, hops_per_block, BLOCK_SHIFT).transpose(1, 0, 2)):
            hops[index : index + n_frames] += part
        aligned = hops[latency // BLOCK_SHIFT :].reshape(-1)
        return np.pad(aligned, (0, max(0, len(wave) - len(aligned))))[: len(wave)]


def load_dtln(sample_rate: int = 16000, device: str | torch.device = "cpu") -> DTLN:
    """The official DTLN (16000 Hz only), in eval mode on ``device``, its weights read from the shipped ONNX
    files ``dtln_model_1`` and ``dtln_model_2`` (SHA-256 checked)."""
    DTLN.stft_config(sample_rate)
    device = check_device(device)
    paths = (weights_path("dtln_model_1"), weights_path("dtln_model_2"))
    state = {**read_stage1_weights(paths[0]), **read_stage2_weights(paths[1])}
    model = DTLN()
    model.load_state_dict({key: torch.tensor(np.array(value, dtype=np.float32)) for key, value in state.items()})
    model.source_paths = paths
    return model.eval().to(device)

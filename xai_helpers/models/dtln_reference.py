"""DTLN as upstream runs it with onnxruntime: ``real_time_processing_onnx.py`` of ``breizhn/DTLN`` as functions.

The oracle that the PyTorch port (:mod:`.dtln`) is tested against: the official ONNX files (the shipped copies,
SHA-256 checked) run block by block, the states fed back, with upstream's float32 buffers and casts.
"""

from __future__ import annotations

import functools

import numpy as np
import onnxruntime as ort

from .dtln import BLOCK_LEN, BLOCK_SHIFT
from .weights import weights_path


@functools.lru_cache(maxsize=1)
def _sessions() -> tuple[ort.InferenceSession, ort.InferenceSession]:
    """onnxruntime sessions of ``model_1`` and ``model_2`` (CPU, one thread)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return tuple(
        ort.InferenceSession(str(weights_path(key)), options, providers=["CPUExecutionProvider"])
        for key in ("dtln_model_1", "dtln_model_2")
    )


def reference_dtln_blocks(magnitude: np.ndarray, phase: np.ndarray) -> dict[str, np.ndarray]:
    """Upstream's loop body over ``T`` blocks, from each input block's ``|rfft|`` and phase (radians) ``[T, 257]``.

    Returns (float32) ``"mask"`` ``[T, 257]`` (stage 1's mask), ``"states_1"`` and ``"states_2"``
    ``[T, 2, 128, 2]`` (each stage's LSTM states after block ``k``: ``[k, layer, :, 0]`` h, ``[..., 1]`` c) and
    ``"blocks"`` ``[T, 512]`` (stage 2's output blocks, before overlap-add)."""
    sessions = _sessions()
    names = [[value.name for value in session.get_inputs()] for session in sessions]
    states = [
        np.zeros([dim if isinstance(dim, int) else 1 for dim in session.get_inputs()[1].shape], np.float32)
        for session in sessions
    ]
    out: dict[str, list[np.ndarray]] = {"mask": [], "states_1": [], "states_2": [], "blocks": []}
    for block_magnitude, block_phase in zip(magnitude, phase):
        in_mag = np.reshape(block_magnitude, (1, 1, -1)).astype(np.float32)
        mask, states[0] = sessions[0].run(None, {names[0][0]: in_mag, names[0][1]: states[0]})
        estimated = np.fft.irfft(in_mag * mask * np.exp(1j * block_phase))
        estimated = np.reshape(estimated, (1, 1, -1)).astype(np.float32)
        block, states[1] = sessions[1].run(None, {names[1][0]: estimated, names[1][1]: states[1]})
        for key, value in zip(out, (mask.reshape(-1), states[0][0], states[1][0], block.reshape(-1))):
            out[key].append(value)
    return {key: np.stack(values) for key, values in out.items()}


def reference_dtln(wave: np.ndarray, num_blocks: int | None = None) -> dict[str, np.ndarray]:
    """Upstream's ``real_time_processing_onnx.py`` on ``wave`` ``[N]`` (16 kHz): :func:`reference_dtln_blocks`'
    arrays over the blocks run, plus ``"wave"`` ``[N]`` (float64), the enhanced ``out_file``.

    Block ``k`` reads samples ``[128 k - 384, 128 k + 128)`` (zeros before the start) and its output is written
    at ``[128 k, 128 k + 512)``; ``num_blocks`` defaults to upstream's ``(N - 384) // 128`` and may be up to
    ``N // 128``; the samples after ``128 * num_blocks`` stay 0."""
    audio = np.asarray(wave)
    most = len(audio) // BLOCK_SHIFT
    num_blocks = (len(audio) - (BLOCK_LEN - BLOCK_SHIFT)) // BLOCK_SHIFT if num_blocks is None else num_blocks
    if not 1 <= num_blocks <= most:
        raise ValueError(f"num_blocks: {num_blocks} blocks do not fit a wave of {len(audio)} samples (1..{most})")
    in_buffer = np.zeros(BLOCK_LEN, dtype=np.float32)
    spectra = []
    for idx in range(num_blocks):
        in_buffer[:-BLOCK_SHIFT] = in_buffer[BLOCK_SHIFT:]
        in_buffer[-BLOCK_SHIFT:] = audio[idx * BLOCK_SHIFT : (idx + 1) * BLOCK_SHIFT]
        spectra.append(np.fft.rfft(in_buffer))
    result = reference_dtln_blocks(np.abs(spectra), np.angle(spectra))
    out_file = np.zeros(len(audio))
    out_buffer = np.zeros(BLOCK_LEN, dtype=np.float32)
    for idx, block in enumerate(result["blocks"]):
        out_buffer[:-BLOCK_SHIFT] = out_buffer[BLOCK_SHIFT:]
        out_buffer[-BLOCK_SHIFT:] = 0.0
        out_buffer += block
        out_file[idx * BLOCK_SHIFT : (idx + 1) * BLOCK_SHIFT] = out_buffer[:BLOCK_SHIFT]
    return {**result, "wave": out_file}

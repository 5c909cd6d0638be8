"""The reference GTCRN: upstream's streaming loop (``stream/gtcrn_stream.py``) with onnxruntime on the official
``gtcrn_simple.onnx``, the test reference of the PyTorch port (:mod:`.gtcrn`).

As upstream: the whole utterance is transformed with ``torch.stft`` (512 points, hop 256, periodic sqrt-Hann
window, centred), the frames are fed one by one with the three caches (zeros at the start), and the enhanced
spectrum is transformed back with ``torch.istft`` (upstream's offline path; its ONNX demo uses librosa with
NumPy's *symmetric* Hann window instead, which this does not copy).

The graph outputs the enhanced frame ``enh`` ``[1, 257, 1, 2]``, not the mask; the complex mask is read from
the graph too, as an extra output: the tensor that the final complex product multiplies the input with (the
inverse-ERB concatenation after the decoder's ``Tanh``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import torch

from .weights import weights_path

N_FFT, HOP = 512, 256
CACHE_SHAPES = {"conv_cache": (2, 1, 16, 16, 33), "tra_cache": (2, 3, 1, 1, 16), "inter_cache": (2, 1, 33, 16)}
"""The streaming graph's caches: ``conv_cache[0 | 1]`` (encoder | decoder) holds, in time slots 0-1, 2-5 and
6-15, the last 2, 4 and 10 input frames of the depthwise convs dilated 1, 2 and 5 in time; ``tra_cache[0 | 1,
i]`` the TRA GRU state of encoder block ``2 + i`` | decoder block ``i``; ``inter_cache[k]`` dpgrnn``k + 1``'s
inter-frame GRU states ``[33 bands, 2 groups x 8]``."""


@functools.lru_cache(maxsize=1)
def _session() -> tuple[object, str]:
    """An onnxruntime session of the graph with the complex mask as an extra output, and that output's name."""
    import onnx
    import onnxruntime

    model = onnx.load(str(weights_path("gtcrn")))
    graph = model.graph
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    (tanh,) = [node for node in graph.node if node.op_type == "Tanh"]
    frontier, mask = list(tanh.output), None
    while frontier and mask is None:  # breadth-first from the decoder's Tanh to the inverse ERB's Concat
        following = [node for name in frontier for node in consumers.get(name, [])]
        mask = next((node.output[0] for node in following if node.op_type == "Concat"), None)
        frontier = [name for node in following for name in node.output]
    graph.output.append(onnx.helper.make_tensor_value_info(mask, onnx.TensorProto.FLOAT, None))
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1  # one frame of a tiny graph: threads only cost
    session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session, mask


def reference_frames(spectrum: np.ndarray, cache_frames: Sequence[int] = ()) -> dict:
    """The ONNX frame loop on a noisy spectrum ``[257, T]`` (complex, cast to float32), frame by frame.

    Returns ``"enhanced"`` (the graph's output) and ``"mask"`` (its complex mask), each ``[T, 257]`` complex128,
    and ``"caches"``: ``{t: {name: array}}``, the caches (:data:`CACHE_SHAPES`) after frame ``t`` for each
    ``t`` in ``cache_frames``."""
    session, mask_name = _session()
    mix = np.stack([spectrum.real, spectrum.imag], axis=-1).astype(np.float32)[None]  # [1, 257, T, 2]
    caches = {name: np.zeros(shape, dtype=np.float32) for name, shape in CACHE_SHAPES.items()}
    enhanced, mask, recorded = [], [], {}
    for t in range(spectrum.shape[1]):
        out, conv, tra, inter, frame_mask = session.run(
            ["enh", "conv_cache_out", "tra_cache_out", "inter_cache_out", mask_name],
            {"mix": mix[:, :, t : t + 1], **caches},
        )
        caches = {"conv_cache": conv, "tra_cache": tra, "inter_cache": inter}
        enhanced.append(out[0, :, 0, 0] + 1j * out[0, :, 0, 1])
        mask.append(frame_mask[0, 0, 0] + 1j * frame_mask[0, 1, 0])
        if t in cache_frames:
            recorded[t] = caches
    return {
        "enhanced": np.array(enhanced, dtype=np.complex128),
        "mask": np.array(mask, dtype=np.complex128),
        "caches": recorded,
    }


def reference_gtcrn(wave: np.ndarray, cache_frames: Sequence[int] = (5, 40)) -> dict:
    """Upstream's streaming GTCRN on ``wave`` ``[N]`` (16 kHz): ``"spectrum"`` (the noisy STFT), ``"enhanced"``
    and ``"mask"`` ``[T, 257]`` complex (:func:`reference_frames`), ``"caches"`` after the ``cache_frames`` and
    ``"wave"``, the enhanced waveform ``[N]`` (float64)."""
    window = torch.hann_window(N_FFT).pow(0.5)
    spectrum = torch.stft(
        torch.as_tensor(np.asarray(wave, dtype=np.float32)), N_FFT, HOP, N_FFT, window, return_complex=True
    ).numpy()
    result = reference_frames(spectrum, cache_frames)
    enhanced = torch.as_tensor(result["enhanced"].T.astype(np.complex64))
    output = torch.istft(enhanced, N_FFT, HOP, N_FFT, window, length=len(wave)).numpy().astype(np.float64)
    return {"spectrum": spectrum.T.astype(np.complex128), **result, "wave": output}

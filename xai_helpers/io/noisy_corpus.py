"""A noisy corpus made from clean files: noisy WAV, its noise alone, and a JSON record for each.

Layout written by :func:`make_noisy_corpus` in ``output_dir`` for a clean ``NAME.wav`` and a
noise condition ``COND`` (see :func:`xai_helpers.dsp.noise.registry.inject_noise`)::

    NAME_COND.wav        noisy speech, 32-bit float
    NAME_COND.noise.wav  the noise alone (noisy - clean)
    NAME_COND.rir.wav    the room impulse response (``room_reverberation`` only; 32-bit float,
                         propagation delay kept: direct path at ``room.direct_path_index``)
    NAME_COND.json       every parameter, the seed, the achieved SNR, and the clean file's path
                         (``room_reverberation``: the room's record under ``room``, measured RT60 included)

``COND`` names the condition: ``pink_snr5dB``, ``reverb_rt0.5s``, ``sinusoidal_1000-2000Hz_0.01_3000-3500Hz_0.02``
(``combine="pairs"``: every range at its amplitude in one file) or, with ``combine="grid"``, one file
per range and amplitude (``sinusoidal_1000-2000Hz_0.01``, ``sinusoidal_1000-2000Hz_0.02``, ...), each
record holding its own range and amplitude.

The JSON is written last, so a WAV without its JSON is the trace of an interrupted write;
every run rewrites all three files, byte for byte the same for the same seed (the WAVs carry no
time stamp, see :func:`~xai_helpers.io.audio.write_audio`). ``output_dir`` is never the folder of the
clean files, so a second run cannot take its noisy files for clean ones.
Later notebooks find the clean speech and the noise of a noisy file through :func:`read_record`.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..dsp.noise.examples import NoisyExample
from ..dsp.noise.registry import inject_noise, noise_spec
from .atomic import write_text_atomically
from .audio import load_audio, write_audio
from .datasets import NOISE_SUFFIX, RIR_SUFFIX
from .paths import check_output_dir

logger = logging.getLogger(__name__)


@dataclass
class NoisyFile:
    """One noisy file of the corpus with its clean source, in memory (waves ``[N]`` at ``sample_rate``)."""

    name: str
    noisy_path: Path
    clean: np.ndarray
    noisy: np.ndarray
    params: dict


def make_noisy_corpus(
    clean_files: Sequence[Path],
    output_dir: str | os.PathLike,
    noise_type: str,
    *,
    sample_rate: int = 16000,
    seed: int = 0,
    **noise_options: object,
) -> list[NoisyFile]:
    """Inject ``noise_type`` into every clean file and write the corpus to ``output_dir``.

    ``noise_options`` are passed to :func:`~xai_helpers.dsp.noise.registry.inject_noise` (``freq_ranges``,
    ``rms_amplitudes``, ``time_ranges``, ``reverberances``, ``snr_db``, ``room_dim_m``,
    ``source_mic_distance_m``, ``combine``); for ``babble_snr`` the other
    clean files are the talkers (types whose spec ``uses_other_files``; at least 2 files needed).
    Each file's seed is ``seed + its index`` (recorded).

    Raises ``ValueError`` before writing anything when ``output_dir`` is an existing file, when it is
    the folder of a clean file (the noisy files would sit among the clean ones and be taken as clean
    inputs by the next run over that folder), or when babble has no other file to draw talkers from.
    """
    output_dir = check_output_dir(output_dir)
    folders = sorted({str(Path(path).resolve().parent) for path in clean_files})
    if str(output_dir.resolve()) in folders:
        raise ValueError(
            f"output_dir: {output_dir} is the folder of the clean input files: the noisy files would be taken as clean "
            "inputs by the next run over it (noise added to noise); choose an output_dir outside the input folder"
        )
    uses_other_files = noise_spec(noise_type).uses_other_files
    if uses_other_files and len(clean_files) < 2:
        given = ", ".join(str(path) for path in clean_files) or "none"
        raise ValueError(
            f"noise_type {noise_type!r} makes its babble from the other input files, so input_path must give at least "
            f"2 clean files; it gave {len(clean_files)} ({given})"
        )
    cleans = [load_audio(path, sample_rate) for path in clean_files]
    corpus = []
    for index, (path, clean) in enumerate(zip(clean_files, cleans)):
        others = [wave for other, wave in enumerate(cleans) if other != index] if uses_other_files else None
        examples = inject_noise(
            clean, sample_rate, noise_type, seed=seed + index, babble_sources=others, **noise_options
        )
        for example in examples:
            noisy_path = _save(example, path, output_dir, sample_rate)
            corpus.append(NoisyFile(noisy_path.stem, noisy_path, clean, example.noisy, example.params))
    return corpus


def _save(example: NoisyExample, clean_path: Path, output_dir: Path, sample_rate: int) -> Path:
    """Write the noise alone (and the room impulse response, if any), then the noisy WAV and its JSON record (last)."""
    name = f"{clean_path.stem}_{example.condition}"
    noise_path = write_audio(output_dir / f"{name}{NOISE_SUFFIX}", example.noise, sample_rate)
    example.params.update(
        clean_file=os.path.relpath(clean_path.resolve(), output_dir.resolve()),
        noise_file=noise_path.name,
    )
    if example.rir is not None:
        example.params["rir_file"] = write_audio(output_dir / f"{name}{RIR_SUFFIX}", example.rir, sample_rate).name
    return save_noisy_example(example, output_dir, clean_path.stem, sample_rate)


def save_noisy_example(example: NoisyExample, out_dir: str | os.PathLike, basename: str, sample_rate: int) -> Path:
    """Write ``{basename}_{condition}.wav`` and its ``.json`` sidecar in ``out_dir``; return the WAV path.

    The WAV is 32-bit float (values above 1.0 are kept, not clipped); the JSON holds
    ``example.params`` plus the WAV's file name under ``"wav"``. Both are written atomically
    (temporary name in the same folder, then ``os.replace``), the JSON last, so a JSON's presence
    means its WAV is complete. Raises ``ValueError`` if ``sample_rate`` differs from the one
    recorded in the example or ``basename`` is empty or contains a path separator.
    """
    if not basename or "/" in basename or os.sep in basename:
        raise ValueError(f"basename: {basename!r} must be a non-empty file name without path separators")
    recorded = example.params.get("sample_rate")
    if recorded != sample_rate:
        raise ValueError(f"sample_rate: {sample_rate!r} Hz differs from the example's {recorded!r} Hz")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    wav_path = out_dir / f"{basename}_{example.condition}.wav"
    json_path = wav_path.with_suffix(".json")
    write_audio(wav_path, example.noisy, sample_rate)
    text = json.dumps({**example.params, "wav": wav_path.name}, indent=2, allow_nan=False)
    write_text_atomically(json_path, text + "\n")
    return wav_path


def read_record(noisy_path: str | os.PathLike) -> dict | None:
    """The JSON record of a noisy file written by :func:`make_noisy_corpus`, or ``None`` if it has none.

    Paths in the record are made absolute (``clean_path``, ``noise_path``, ``rir_path``). Raises ``ValueError``
    naming the file if the JSON is unreadable.
    """
    noisy_path = Path(noisy_path)
    json_path = noisy_path.with_suffix(".json")
    if not json_path.is_file():
        return None
    try:
        record = json.loads(json_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{json_path}: unreadable noise record ({error})") from error
    for key, path_key in (("clean_file", "clean_path"), ("noise_file", "noise_path"), ("rir_file", "rir_path")):
        if record.get(key):
            record[path_key] = (noisy_path.parent / record[key]).resolve()
    return record

"""A noisy corpus made from clean files: noisy WAV, its noise alone, and a JSON record for each.

Layout written by :func:`make_noisy_corpus` in ``output_dir`` for a clean ``NAME.wav`` and a
noise condition ``COND`` (see :func:`xai_helpers.noise.inject_noise`)::

    NAME_COND.wav        noisy speech, 32-bit float
    NAME_COND.noise.wav  the noise alone (noisy - clean)
    NAME_COND.json       every parameter, the seed, the achieved SNR, and the clean file's path

The JSON is written last, so a WAV without its JSON is the trace of an interrupted write;
every run rewrites all three files.
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

from .audio import load_audio, write_audio
from .datasets import NOISE_SUFFIX
from ..dsp.noise.registry import NoisyExample, inject_noise, save_noisy_example

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

    ``noise_options`` are passed to :func:`~xai_helpers.noise.inject_noise` (``freq_ranges``,
    ``rms_amplitudes``, ``time_ranges``, ``reverberances``, ``snr_db``); for ``babble_snr`` the other
    clean files are the talkers. Each file's seed is ``seed + its index`` (recorded).
    """
    output_dir = Path(output_dir)
    cleans = [load_audio(path, sample_rate) for path in clean_files]
    corpus = []
    for index, (path, clean) in enumerate(zip(clean_files, cleans)):
        others = [wave for other, wave in enumerate(cleans) if other != index] if noise_type == "babble_snr" else None
        examples = inject_noise(clean, sample_rate, noise_type, seed=seed + index, babble_sources=others, **noise_options)
        for example in examples:
            noisy_path = _save(example, path, output_dir, sample_rate)
            corpus.append(NoisyFile(noisy_path.stem, noisy_path, clean, example.noisy, example.params))
    return corpus


def _save(example: NoisyExample, clean_path: Path, output_dir: Path, sample_rate: int) -> Path:
    """Write the noise alone, then the noisy WAV and its JSON record (last)."""
    name = f"{clean_path.stem}_{example.condition}"
    noise_path = write_audio(output_dir / f"{name}{NOISE_SUFFIX}", example.noise, sample_rate)
    example.params.update(
        clean_file=os.path.relpath(clean_path.resolve(), output_dir.resolve()),
        noise_file=noise_path.name,
    )
    return save_noisy_example(example, output_dir, clean_path.stem, sample_rate)


def read_record(noisy_path: str | os.PathLike) -> dict | None:
    """The JSON record of a noisy file written by :func:`make_noisy_corpus`, or ``None`` if it has none.

    Paths in the record are made absolute (``clean_path``, ``noise_path``). Raises ``ValueError``
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
    for key, path_key in (("clean_file", "clean_path"), ("noise_file", "noise_path")):
        if record.get(key):
            record[path_key] = (noisy_path.parent / record[key]).resolve()
    return record

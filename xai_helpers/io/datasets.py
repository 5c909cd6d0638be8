"""Finding audio files, and pairing the VCTK + DEMAND noisy speech database's clean and noisy files."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from .audio import AUDIO_SUFFIXES

logger = logging.getLogger(__name__)

VCTK_DEMAND_URL = "https://datashare.ed.ac.uk/handle/10283/2791"
NOISE_SUFFIX = ".noise.wav"
"""Companion files holding the injected noise alone (see :mod:`xai_helpers.io.noisy_corpus`): not inputs."""
RIR_SUFFIX = ".rir.wav"
"""Companion files holding a simulated room's impulse response (see :mod:`xai_helpers.io.noisy_corpus`): not inputs."""
COMPANION_SUFFIXES = (NOISE_SUFFIX, RIR_SUFFIX)


def list_audio_files(input_path: str | os.PathLike) -> list[Path]:
    """The WAV/FLAC files named by ``input_path``: the file itself, or a folder's files, sorted by name.

    A folder's ``*.noise.wav`` and ``*.rir.wav`` companions (the injected noise alone, a room's
    impulse response) are not listed.

    Raises ``FileNotFoundError`` for a missing path and ``ValueError`` for a folder with no audio.
    """
    path = Path(input_path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.is_file():
        return [path]
    files = sorted(
        p
        for p in path.iterdir()
        if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES and not p.name.endswith(COMPANION_SUFFIXES)
    )
    if not files:
        raise ValueError(f"{path}: folder holds no {'/'.join(AUDIO_SUFFIXES)} files")
    return files


@dataclass(frozen=True)
class NoisyCleanPair:
    """One utterance of a parallel corpus: its name and the paths of its clean and noisy versions."""

    name: str
    clean: Path
    noisy: Path


def pair_vctk_demand(root: str | os.PathLike, split: str = "test") -> list[NoisyCleanPair]:
    """Pairs of the Valentini-Botinhao (2017) VCTK + DEMAND database unpacked under ``root``.

    Expects ``root/clean_{split}set_wav/`` and ``root/noisy_{split}set_wav/`` (48 kHz WAVs with the
    same file names, e.g. ``p232_001.wav``). Files present on one side only are left out with a
    warning. Download: :data:`VCTK_DEMAND_URL` (see ``data/README.md``).
    """
    root = Path(root)
    folders = {kind: root / f"{kind}_{split}set_wav" for kind in ("clean", "noisy")}
    for folder in folders.values():
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{folder}: missing; unpack the VCTK + DEMAND database ({VCTK_DEMAND_URL}) so that "
                f"{root} holds clean_{split}set_wav/ and noisy_{split}set_wav/"
            )
    names = {kind: {p.name: p for p in list_audio_files(folder)} for kind, folder in folders.items()}
    unmatched = sorted(set(names["clean"]) ^ set(names["noisy"]))
    if unmatched:
        logger.warning("%s: %d files have no partner and are left out: %s", root, len(unmatched), unmatched[:10])
    common = sorted(set(names["clean"]) & set(names["noisy"]))
    return [NoisyCleanPair(Path(n).stem, names["clean"][n], names["noisy"][n]) for n in common]

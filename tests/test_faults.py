"""Fault injection (issues #14 and #15): every bad input of the guarded cases gets an error of a known type
whose message names the file or parameter, before any work; notebooks that would plot or perturb nothing
exit non-zero.

Cases (issue #15's numbering): 5 ``dB_amplification 1000``; 6 notebook 01's ``output_dir`` equal to or
inside ``input_path``; 7 a manifest column with a typo; 8 ``--workers -2``; 10 notebook 04 with nothing
perturbed (and notebook 03 with a method notebook 02 did not compute, #14); and the unclear ones:
``output_dir`` an existing file (notebooks 01, 02, 03, 04), ``babble_snr`` with one input file, ``device``
``cuda`` / ``gpu`` without a GPU, ``output_regions`` as a bare string (now accepted), reverberance 50
(seconds expected). Package functions are called where the notebooks call them; two cases run the
notebooks themselves through papermill's command line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from xai_helpers.analysis.inventory import NothingDoneError
from xai_helpers.attribution.explain import explain_file
from xai_helpers.attribution.explain_config import ExplainConfig
from xai_helpers.dsp.noise.registry import inject_noise
from xai_helpers.experiments.perturbation import MAX_GAIN_DB, PerturbationSettings, perturb_files
from xai_helpers.io.audio import write_audio
from xai_helpers.io.datasets import list_audio_files
from xai_helpers.io.noisy_corpus import make_noisy_corpus
from xai_helpers.io.paths import check_output_dir
from xai_helpers.models.base import check_device
from xai_helpers.models.nsnet2 import load_nsnet2
from xai_helpers.plots.files import plot_batch
from xai_helpers.run.batch import cluster as batch_cluster

SR = 16000
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.fixture
def clean_dir(tmp_path) -> Path:
    """A folder with two short clean files ``a.wav``, ``b.wav`` (0.3 s of harmonics, 16 kHz)."""
    folder = tmp_path / "clean"
    time = np.arange(int(0.3 * SR)) / SR
    for name, f0 in (("a", 150.0), ("b", 210.0)):
        wave = sum(np.sin(2 * np.pi * f0 * k * time) / k for k in range(1, 8))
        write_audio(folder / f"{name}.wav", 0.1 * wave / np.max(np.abs(wave)), SR)
    return folder


def run_notebook_01(input_path: Path, output_dir: Path, seed: int = 0) -> list[Path]:
    """What notebook 01 does with pink noise at 5 dB: check the output folder, list the inputs, write the corpus."""
    check_output_dir(output_dir, input_path=input_path)
    corpus = make_noisy_corpus(list_audio_files(input_path), output_dir, "pink_snr", snr_db=[5.0], seed=seed)
    return [item.noisy_path for item in corpus]


def fake_attributions(folder: Path, *names: str) -> Path:
    """``folder`` holding files with notebook 02's names (``{stem}__{method}_...h5``); their content is
    never read by the checks that run before any work."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"not hdf5")
    return folder


# --------------------------------------------------------------------------- one call, one error


def case_5_gain_1000(tmp_path, clean_dir):
    PerturbationSettings(gain_db=1000.0)


def case_6_output_dir_is_input_path(tmp_path, clean_dir):
    run_notebook_01(clean_dir, clean_dir)


def case_6_output_dir_inside_input_path(tmp_path, clean_dir):
    run_notebook_01(clean_dir, clean_dir / "noisy")


def case_6_corpus_into_its_clean_folder(tmp_path, clean_dir):
    make_noisy_corpus(list_audio_files(clean_dir), clean_dir, "pink_snr", snr_db=5.0)


def case_7_manifest_column_typo(tmp_path, clean_dir):
    (tmp_path / "m.csv").write_text("path,metod,noise_type,clean_path\na.wav,saliency,white_snr,c.wav\n")
    batch_cluster.run_batch(["02"], tmp_path / "m.csv", tmp_path / "run")


def case_8_workers_minus_2(tmp_path, clean_dir):
    batch_cluster.run_batch(["01"], clean_dir, tmp_path / "run", workers=-2)


def case_10_nothing_of_the_method_to_perturb(tmp_path, clean_dir):
    attributions = fake_attributions(tmp_path / "attr", "a__deeplift_complete_mask.h5", "b__deeplift_complete_mask.h5")
    perturb_files(list_audio_files(clean_dir), attributions, tmp_path / "out", PerturbationSettings())


def case_10_every_file_failed(tmp_path, clean_dir):
    attributions = fake_attributions(tmp_path / "attr", "a__deepliftshap_broken.h5")
    perturb_files(list_audio_files(clean_dir), attributions, tmp_path / "out", PerturbationSettings())


def case_10_nothing_of_the_method_to_plot(tmp_path, clean_dir):
    attributions = fake_attributions(tmp_path / "attr", "a__saliency_mask.h5", "b__saliency_mask.h5")
    plot_batch(clean_dir, attributions, "deepliftshap", 1000.0, "abs_sum", tmp_path / "figures")


def case_10_no_attribution_of_these_inputs(tmp_path, clean_dir):
    attributions = fake_attributions(tmp_path / "attr", "other__deepliftshap_mask.h5")
    plot_batch(clean_dir, attributions, "deepliftshap", 1000.0, "abs_sum", tmp_path / "figures")


def _nsnet2_file(folder: Path, name: str) -> Path:
    """A readable ``.h5`` named as notebook 02 names NSNet2's, with no ``model`` attribute (as files written before
    models were recorded): read as NSNet2's."""
    import h5py

    folder.mkdir(parents=True, exist_ok=True)
    with h5py.File(folder / name, "w") as handle:
        handle.attrs["method"] = "deepliftshap"
    return folder


def case_wrong_model_to_plot(tmp_path, clean_dir):
    attributions = _nsnet2_file(tmp_path / "attr", "a__deepliftshap_complete_mask.h5")
    plot_batch(clean_dir / "a.wav", attributions, "deepliftshap", 1000.0, "abs_sum", tmp_path / "figures", model="dtln")


def case_wrong_model_to_perturb(tmp_path, clean_dir):
    attributions = _nsnet2_file(tmp_path / "attr", "a__deepliftshap_complete_mask.h5")
    perturb_files(list_audio_files(clean_dir), attributions, tmp_path / "out", PerturbationSettings(model="gtcrn"))


def case_unknown_model(tmp_path, clean_dir):
    ExplainConfig(model="dtln2")


def case_10_every_file_to_plot_damaged(tmp_path, clean_dir):
    attributions = fake_attributions(tmp_path / "attr", "a__deepliftshap_broken.h5")
    plot_batch(clean_dir, attributions, "deepliftshap", 1000.0, "abs_sum", tmp_path / "figures")


def _a_file(tmp_path) -> Path:
    (tmp_path / "taken").write_text("a file, not a folder\n")
    return tmp_path / "taken"


def case_output_dir_is_a_file_01(tmp_path, clean_dir):
    run_notebook_01(clean_dir, _a_file(tmp_path))


def case_output_dir_is_a_file_02(tmp_path, clean_dir):
    explain_file(clean_dir / "a.wav", _a_file(tmp_path), ExplainConfig(method="saliency"), progress=False)


def case_output_dir_is_a_file_03(tmp_path, clean_dir):
    attributions = fake_attributions(tmp_path / "attr", "a__deepliftshap_mask.h5")
    plot_batch(clean_dir, attributions, "deepliftshap", 1000.0, "abs_sum", _a_file(tmp_path))


def case_output_dir_is_a_file_04(tmp_path, clean_dir):
    attributions = fake_attributions(tmp_path / "attr", "a__deepliftshap_mask.h5")
    perturb_files(list_audio_files(clean_dir), attributions, _a_file(tmp_path), PerturbationSettings())


def case_babble_with_one_input_file(tmp_path, clean_dir):
    make_noisy_corpus(list_audio_files(clean_dir / "a.wav"), tmp_path / "noisy", "babble_snr", snr_db=[5.0])


def case_room_source_mic_distance_negative(tmp_path, clean_dir):
    inject_noise(
        np.random.default_rng(0).standard_normal(SR) * 0.1,
        SR,
        "room_reverberation",
        reverberances=[0.3],
        source_mic_distance_m=-1.0,
    )


def case_device_meta(tmp_path, clean_dir):
    load_nsnet2(16000, "meta")


def case_device_gpu(tmp_path, clean_dir):
    load_nsnet2(16000, "gpu")


def case_device_cuda_without_gpu(tmp_path, clean_dir):
    load_nsnet2(16000, "cuda" if not torch.cuda.is_available() else "cuda:99")


def case_malformed_bare_region(tmp_path, clean_dir):
    ExplainConfig(
        method="saliency", outputs="regions", output_regions="0-1000Hz", segment_start_s=0.5, segment_duration_s=0.05
    )


def case_reverberance_50(tmp_path, clean_dir):
    inject_noise(np.random.default_rng(0).standard_normal(SR) * 0.1, SR, "reverberation", reverberances=[0.5, 50])


def case_room_reverberance_50(tmp_path, clean_dir):
    inject_noise(np.random.default_rng(0).standard_normal(SR) * 0.1, SR, "room_reverberation", reverberances=[50])


CASES = [
    (case_5_gain_1000, ValueError, r"dB_amplification \(gain_db\) must be a number in \[-60, 60\] dB, got 1000"),
    (case_6_output_dir_is_input_path, ValueError, r"output_dir: .*clean is the input folder input_path .*clean"),
    (
        case_6_output_dir_inside_input_path,
        ValueError,
        r"output_dir: .*noisy lies inside the input folder input_path .*clean",
    ),
    (case_6_corpus_into_its_clean_folder, ValueError, r"output_dir: .*clean is the folder of the clean input files"),
    (
        case_7_manifest_column_typo,
        ValueError,
        r"m.csv: task 'a' has the column\(s\) \['metod'\].*valid manifest columns: .*'method'",
    ),
    (case_8_workers_minus_2, ValueError, r"workers must be a whole number of at least 1 .*not -2"),
    (
        case_10_nothing_of_the_method_to_perturb,
        FileNotFoundError,
        r"no attribution file of method 'deepliftshap' explaining model 'nsnet2' in .*attr for the 2 input files "
        r"\(a.wav, b.wav\); found methods: deeplift \(2 files\)",
    ),
    (
        case_wrong_model_to_plot,
        FileNotFoundError,
        r"no attribution file of method 'deepliftshap' explaining model 'dtln' in .*attr "
        r"for the 1 input file \(a.wav\); "
        r"its files explain nsnet2: run notebook 02 with model='dtln', or set model to one of these",
    ),
    (case_wrong_model_to_perturb, FileNotFoundError, r"explaining model 'gtcrn' .*its files explain nsnet2"),
    (
        case_unknown_model,
        ValueError,
        r"model: unknown 'dtln2'; choose one of nsnet2, dtln, gtcrn, or give an import path",
    ),
    (
        case_10_every_file_failed,
        NothingDoneError,
        r"nothing perturbed: .*a.wav: failed, .*a__deepliftshap_broken.h5.*b.wav: skipped",
    ),
    (
        case_10_nothing_of_the_method_to_plot,
        FileNotFoundError,
        r"no attribution file of method 'deepliftshap' in .*attr .*found methods: saliency \(2 files\)",
    ),
    (
        case_10_no_attribution_of_these_inputs,
        FileNotFoundError,
        r"for the 2 input files \(a.wav, b.wav\); "
        r"the folder holds 1 .h5 file of other audio files \(other__deepliftshap_mask.h5\)",
    ),
    (case_10_every_file_to_plot_damaged, NothingDoneError, r"nothing plotted: .*a__deepliftshap_broken.h5"),
    (case_output_dir_is_a_file_01, ValueError, r"output_dir: .*taken is an existing file, not a folder"),
    (case_output_dir_is_a_file_02, ValueError, r"output_dir: .*taken is an existing file, not a folder"),
    (
        case_output_dir_is_a_file_03,
        ValueError,
        r"output_dir \(figures_dir\): .*taken is an existing file, not a folder",
    ),
    (case_output_dir_is_a_file_04, ValueError, r"output_dir: .*taken is an existing file, not a folder"),
    (
        case_babble_with_one_input_file,
        ValueError,
        r"'babble_snr' makes its babble from the other input files, so input_path "
        r"must give at least 2 clean files; it gave 1 \(.*a.wav\)",
    ),
    (case_room_source_mic_distance_negative, ValueError, r"source_mic_distance_m"),
    (case_device_gpu, ValueError, r"device: 'gpu'.*is not a device name"),
    (case_device_meta, ValueError, r"device: 'meta'.*is not supported"),
    (
        case_device_cuda_without_gpu,
        ValueError,
        r"device: 'cuda'.*no CUDA GPU" if not torch.cuda.is_available() else r"device: 'cuda:99'.*does not exist",
    ),
    (
        case_malformed_bare_region,
        ValueError,
        r"output_regions: region '0-1000Hz' is malformed; expected 'LO-HIHz@START-ENDs' .* "
        r"or \[f_lo_hz, f_hi_hz, t_lo_s, t_hi_s\]",
    ),
    (case_reverberance_50, ValueError, r"reverberances: RT60 50(\.0)? is not .*seconds"),
    (
        case_room_reverberance_50,
        ValueError,
        r"reverberances: 50(\.0)? is not a plausible reverberation time in seconds \(it looks like a percentage",
    ),
]


@pytest.mark.parametrize(
    ("case", "error", "message"), CASES, ids=[case.__name__.removeprefix("case_") for case, _, _ in CASES]
)
def test_a_fault_gets_a_clear_error_naming_the_file_or_parameter(case, error, message, tmp_path, clean_dir):
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(error, match=message):
        case(tmp_path, clean_dir)
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    new = [p for p in written if p not in before and p.parts[0] not in ("attr", "m.csv", "taken")]
    assert new == [], f"{case.__name__} wrote {new} before failing"


# --------------------------------------------------------------------------- the edges of a few guards


@pytest.mark.parametrize("gain_db", [-61.0, float("nan"), float("inf"), "6", True])
def test_case_5_every_amplification_beyond_60_db_or_not_a_number_is_refused(gain_db):
    with pytest.raises(ValueError, match=r"dB_amplification \(gain_db\) must be a number in \[-60, 60\] dB"):
        PerturbationSettings(gain_db=gain_db)
    assert PerturbationSettings(gain_db=MAX_GAIN_DB).gain_db == MAX_GAIN_DB
    assert PerturbationSettings(gain_db=-MAX_GAIN_DB).gain_db == -MAX_GAIN_DB


@pytest.mark.parametrize("workers", [0, 1.5])
def test_case_8_workers_must_be_a_whole_number_of_at_least_1(workers, tmp_path):
    with pytest.raises(ValueError, match="workers must be a whole number of at least 1"):
        batch_cluster.run_batch(["01"], tmp_path, tmp_path / "run", workers=workers)
    assert not (tmp_path / "run").exists()


def test_the_cpu_device_is_accepted():
    assert check_device("cpu") == torch.device("cpu")


# --------------------------------------------------------------------------- what the guards still allow


def test_one_output_region_may_be_written_as_a_bare_string():
    bare = ExplainConfig(
        method="saliency",
        outputs="regions",
        output_regions="0-1000Hz@0.05-0.15s",
        segment_start_s=0.5,
        segment_duration_s=0.2,
    )
    listed = ExplainConfig(
        method="saliency",
        outputs="regions",
        output_regions=["0-1000Hz@0.05-0.15s"],
        segment_start_s=0.5,
        segment_duration_s=0.2,
    )
    assert bare.output_regions == listed.output_regions == ((0.0, 1000.0, 0.05, 0.15),)


def test_notebook_01_run_twice_never_adds_noise_to_its_own_outputs(tmp_path, clean_dir):
    """Case 6 in both nestings. Output inside the inputs: refused on the first run, before anything is
    written, and still refused once the folder holds an earlier run's noisy files. Inputs inside the
    output folder (the other order): allowed, and a second run reads the same two clean files and
    rewrites the same files byte for byte (no ``*_pink_snr5dB_pink_snr5dB.wav``)."""
    for output_dir in (clean_dir, clean_dir / "noisy"):
        with pytest.raises(ValueError, match="input_path"):
            run_notebook_01(clean_dir, output_dir)
        assert sorted(p.name for p in clean_dir.iterdir()) == ["a.wav", "b.wav"]
    first = run_notebook_01(clean_dir, tmp_path / "elsewhere")
    for path in (tmp_path / "elsewhere").iterdir():
        (clean_dir / path.name).write_bytes(path.read_bytes())  # the earlier run's outputs copied among the inputs
    with pytest.raises(ValueError, match="is the input folder"):
        run_notebook_01(clean_dir, clean_dir)

    outer = tmp_path / "corpus"
    inner = outer / "clean"
    inner.mkdir(parents=True)
    for name in ("a.wav", "b.wav"):
        (inner / name).write_bytes((clean_dir / name).read_bytes())
    written = run_notebook_01(inner, outer)
    snapshot = {p.name: p.read_bytes() for p in outer.iterdir() if p.is_file()}
    again = run_notebook_01(inner, outer)
    assert (
        [p.name for p in written]
        == [p.name for p in again]
        == [p.name for p in first]
        == ["a_pink_snr5dB.wav", "b_pink_snr5dB.wav"]
    )
    assert {p.name: p.read_bytes() for p in outer.iterdir() if p.is_file()} == snapshot
    assert not list(outer.rglob("*_pink_snr5dB_pink_snr5dB*"))


# --------------------------------------------------------------------------- notebooks: non-zero exit


def _papermill(notebook: str, executed: Path, **parameters: str) -> subprocess.CompletedProcess:
    arguments = [arg for name, value in parameters.items() for arg in ("-p", name, value)]
    command = [
        sys.executable,
        "-m",
        "papermill",
        str(NOTEBOOKS / notebook),
        str(executed),
        *arguments,
        "--cwd",
        str(NOTEBOOKS),
        "-k",
        "python3",
        "--no-progress-bar",
    ]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=environment, check=False)


@pytest.mark.parametrize(
    ("notebook", "output"), [("03_visualisation.ipynb", "figures"), ("04_perturbation_effects.ipynb", "perturbation")]
)
def test_a_notebook_with_nothing_of_its_method_exits_non_zero_naming_what_exists(notebook, output, tmp_path, clean_dir):
    attributions = fake_attributions(tmp_path / "attr", "a__deeplift_complete_mask.h5")
    executed = tmp_path / f"executed_{notebook}"
    done = _papermill(
        notebook,
        executed,
        input_path=str(clean_dir / "a.wav"),
        attributions_dir=str(attributions),
        method="deepliftshap",
        output_dir=str(tmp_path / output),
    )
    assert done.returncode != 0
    message = (
        f"no attribution file of method 'deepliftshap' explaining model 'nsnet2' in {attributions} for the 1 input "
        "file (a.wav); found methods: deeplift (1 file)"
    )
    assert message in done.stderr
    assert message in executed.read_text()  # the executed notebook, the run's log, shows the error too
    assert not (tmp_path / output).exists()

"""Notebook 07, comparing enhancers: speech relevance on hand-made maps, look-back and spread against analytic
maps on every model's grid, the correlation and its bootstrap, the results files, the batch form, and the
notebook itself under papermill (two models, one condition, one file, saliency)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from xai_helpers.experiments import comparison as comparison_module
from xai_helpers.experiments.comparison import ComparisonSettings, Job, run_job, shapley_layout
from xai_helpers.run.batch.tasks import comparison_manifest
from xai_helpers.experiments.comparison_corpus import (
    COLUMNS,
    check_condition,
    load_results,
    make_conditions,
    write_results,
)
from xai_helpers.experiments.context import (
    erb_number,
    low_band_share,
    lookback_quantiles,
    spread_quantiles,
)
from xai_helpers.experiments.relation import MIN_FILES, POOLED, bootstrap_spearman, relation_table, spearman
from xai_helpers.experiments.relevance import dominance_shares
from xai_helpers.models.registry import MODELS, model_class
from xai_helpers.reports.comparison import headline, reading
from xai_helpers.run.batch import planning, tasks as batch_tasks
from xai_helpers.run.book import notebook_parameters

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "07_comparing_enhancers.ipynb"
GRIDS = {name: model_class(name).stft_config(16000) for name in MODELS}
"""Every registered model's STFT at 16 kHz: NSNet2 161 bins x 10 ms, DTLN 257 x 8 ms, GTCRN 257 x 16 ms."""


# --------------------------------------------------------------------------- speech relevance


def _plane(seed: int = 0, shape: tuple[int, int] = (161, 20)) -> tuple[np.ndarray, np.ndarray]:
    """(SNR dB, log10 power) ``[F, T]`` with a mix of speech- and noise-dominant bins."""
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 10.0, shape), rng.normal(-3.0, 1.0, shape)


def test_a_map_entirely_on_speech_bins_has_relevance_one():
    snr, log_power = _plane()
    shares = dominance_shares((snr > 0).astype(float) * 3.0, snr, log_power)
    assert shares["speech_relevance"] == 1.0 and shares["noise_relevance"] == 0.0
    assert shares["speech_area_share"] == pytest.approx(np.mean(snr > 0))
    assert shares["speech_enrichment"] == pytest.approx(1.0 / shares["speech_energy_share"])


def test_a_map_equal_to_the_energy_gives_the_energy_share():
    snr, log_power = _plane(1)
    power = 10.0**log_power
    shares = dominance_shares(power * 7.0, snr, log_power)
    expected = power[snr > 0].sum() / power.sum()
    assert shares["speech_relevance"] == pytest.approx(expected) == pytest.approx(shares["speech_energy_share"])
    assert shares["speech_enrichment"] == pytest.approx(1.0)
    assert shares["noise_relevance"] == pytest.approx(power[snr < 0].sum() / power.sum())


def test_bins_near_the_threshold_are_neither_speech_nor_noise():
    snr = np.array([[-10.0, -2.0, 0.0, 2.0, 10.0]])
    shares = dominance_shares(np.ones_like(snr), snr, np.zeros_like(snr), threshold_db=3.0)
    assert shares["speech_relevance"] == shares["noise_relevance"] == pytest.approx(0.2)
    with pytest.raises(ValueError, match="snr_threshold_db"):
        dominance_shares(np.ones_like(snr), snr, np.zeros_like(snr), threshold_db=-1.0)


def test_models_are_ranked_by_speech_enrichment_on_synthetic_maps():
    """Three models on their own grids, attention to speech bins 90 %, 60 % and 20 % of the map: the reading names
    the first and ranks them in that order, whatever the grid."""
    rows = []
    for (name, config), speech_share in zip(GRIDS.items(), (0.2, 0.9, 0.6)):
        for file in ("a", "b"):
            snr, log_power = _plane({"a": 0, "b": 1}[file], (len(config.frequencies_hz()), 25))
            speech = snr > 0
            weights = np.where(speech, speech_share / speech.sum(), (1 - speech_share) / (~speech).sum())
            for metric, value in dominance_shares(weights, snr, np.zeros_like(log_power)).items():
                rows.append({"model": name, "condition": "pink", "file": file, "metric": metric, "value": value})
    frame = pd.DataFrame(rows)
    names = list(GRIDS)
    first = headline(frame, relation_table(frame, "speech_relevance", ["speech_area_share"], n_boot=10))[0]
    assert first.startswith(f"- **{names[1]}** relies most")
    ranking = first.split("All models: ")[1]
    assert ranking.index(names[1]) < ranking.index(names[2]) < ranking.index(names[0])


# --------------------------------------------------------------------------- look-back and spread


@pytest.mark.parametrize("name", list(GRIDS))
@pytest.mark.parametrize("lag", [0, 3, 7])
def test_a_delta_at_lag_l_looks_back_l_hops(name, lag):
    hop_s, n = GRIDS[name].hop_s, 20
    time_map = np.zeros((n, n))
    for t in range(lag, n):
        time_map[t, t - lag] = 2.5
    result = lookback_quantiles(time_map, hop_s, (0.5, 0.9), min_history=lag)
    assert result[0.5] == result[0.9] == pytest.approx(lag * hop_s * 1000)


@pytest.mark.parametrize("name", list(GRIDS))
def test_a_uniform_past_has_its_known_quantiles(name):
    """Row ``t`` spread evenly over inputs ``0..t``: the q-quantile lag is ``ceil(q (t + 1)) - 1``, averaged over the
    rows of the second half."""
    hop_s, n = GRIDS[name].hop_s, 16
    time_map = np.tril(np.ones((n, n)))
    result = lookback_quantiles(time_map, hop_s, (0.5, 0.9), min_history=n // 2)
    for q in (0.5, 0.9):
        expected = np.mean([math.ceil(q * (t + 1)) - 1 for t in range(n // 2, n)]) * hop_s * 1000
        assert result[q] == pytest.approx(expected)
    future = time_map + np.triu(np.ones((n, n)), 1) * 100  # inputs after the output frame are left out
    assert lookback_quantiles(future, hop_s, (0.5,), n // 2) == pytest.approx({0.5: result[0.5]})


@pytest.mark.parametrize("name", list(GRIDS))
def test_spread_of_a_delta_and_of_a_uniform_band(name):
    freqs = GRIDS[name].frequencies_hz()
    n, step = len(freqs), freqs[1] - freqs[0]
    k = 5
    shifted = np.zeros((n, n))
    rows = np.arange(n - k)
    shifted[rows, rows + k] = 1.0
    assert spread_quantiles(shifted, freqs, (0.5, 0.9), "hz") == pytest.approx({0.5: k * step, 0.9: k * step})
    erb = np.mean(erb_number(freqs[rows + k]) - erb_number(freqs[rows]))
    assert spread_quantiles(shifted, freqs, (0.9,), "erb")[0.9] == pytest.approx(erb)
    half = 10  # each output reads its own bin and 10 on either side, evenly (rows away from the edges only)
    band = np.zeros((n, n))
    for f in range(half, n - half):
        band[f, f - half : f + half + 1] = 1.0
    for q in (0.5, 0.9):
        m = math.ceil((q * (2 * half + 1) - 1) / 2)
        assert spread_quantiles(band, freqs, (q,), "hz")[q] == pytest.approx(m * step)


def test_low_band_share_of_a_uniform_map_is_the_share_of_low_bins():
    for config in GRIDS.values():
        freqs = config.frequencies_hz()
        assert low_band_share(np.ones((len(freqs), 7)), freqs) == pytest.approx(np.mean(freqs < 1000.0))


def test_shapley_tiles_cover_the_segment_on_every_grid():
    settings = ComparisonSettings(method="saliency", segment_duration_s=0.2)
    for config in GRIDS.values():
        times = config.frame_times_s(int(round(0.2 / config.hop_s)))
        tiles, region = shapley_layout(config.frequencies_hz(), times, settings)
        assert tiles.count == 9 and tiles.masks.sum() == tiles.masks[0].size  # 3 bands x 3 spans, every bin once
        assert region[:2] == (250.0, 2000.0) and region[2] < times[-1] < region[3]


# --------------------------------------------------------------------------- correlation and bootstrap


def test_spearman_of_known_data():
    x = np.arange(10.0)
    assert spearman(x, x**3) == pytest.approx(1.0)
    assert spearman(x, -x) == pytest.approx(-1.0)
    assert math.isnan(spearman(x, np.ones(10))) and math.isnan(spearman([1.0, 2.0], [2.0, 1.0]))
    assert spearman([1.0, np.nan, 3.0, 4.0], [3.0, 5.0, 1.0, 2.0]) == pytest.approx(-0.5)  # NaN pairs left out


def test_bootstrap_over_files_is_seeded_and_calls_few_files_weak():
    files = [f"f{i}" for i in range(12) for _ in range(3)]  # 12 files x 3 conditions
    x = np.arange(36.0)
    strong = bootstrap_spearman(x, 2 * x + 1, files, n_boot=200, seed=3)
    assert (strong.rho, strong.ci_low, strong.ci_high) == pytest.approx((1.0, 1.0, 1.0))
    assert strong.n_files == 12 and strong.n_points == 36 and strong.evidence == "positive"
    noise = np.random.default_rng(0).normal(size=36)
    first, again = (bootstrap_spearman(x, noise, files, n_boot=300, seed=5) for _ in range(2))
    assert first == again and first.ci_low < first.rho < first.ci_high
    assert bootstrap_spearman(x, noise, files, n_boot=300, seed=6) != first
    few = bootstrap_spearman(x[:6], x[:6], files[:6], n_boot=50, seed=0)
    assert few.rho == pytest.approx(1.0) and few.n_files == 2 < MIN_FILES and few.evidence == "weak"


def test_relation_table_per_model_and_pooled():
    rows = [
        {"model": m, "condition": c, "file": f, "metric": metric, "value": value}
        for m, sign in (("b", 1.0), ("a", -1.0))
        for c in range(3)
        for f in range(4)
        for metric, value in (("speech_relevance", c + 3 * f), ("pesq_improvement", sign * (c + 3 * f)))
    ]
    table = relation_table(pd.DataFrame(rows), "speech_relevance", ["pesq_improvement"], n_boot=50)
    assert list(table["model"]) == ["b", "a", POOLED]
    assert list(table["rho"][:2]) == pytest.approx([1.0, -1.0])
    assert list(table["n_points"]) == [12, 12, 24] and set(table["n_files"]) == {4}
    assert set(table["evidence"]) == {"weak"}


# --------------------------------------------------------------------------- conditions and results files


def test_conditions_are_checked_and_give_one_file_per_clean_file(tmp_path, sample_paths):
    with pytest.raises(ValueError, match="does not read snr_db"):
        check_condition({"noise_type": "white", "snr_db": 5})
    with pytest.raises(ValueError, match="noise_type"):
        check_condition({"snr_db": 5})
    with pytest.raises(ValueError, match="one value per option"):
        make_conditions(sample_paths[:1], [{"noise_type": "pink_snr", "snr_db": [0, 5]}], tmp_path / "a")
    inputs = make_conditions(
        sample_paths[:1], [{"noise_type": "babble_snr", "snr_db": 0}], tmp_path / "b", talkers=sample_paths[1:3]
    )  # one clean file: babble from the talkers
    assert [(i.condition, i.file) for i in inputs] == [("babble_snr0dB", sample_paths[0].stem)]
    assert json.loads(inputs[0].path.with_suffix(".json").read_text())["n_babble_sources"] == 2


def test_results_are_read_from_a_file_or_every_file_under_a_folder(tmp_path):
    def frame(model: str) -> pd.DataFrame:
        return pd.DataFrame(
            [{"model": model, "condition": "pink", "file": "a", "metric": "pesq_improvement", "value": 0.5}]
        )

    write_results(frame("nsnet2"), tmp_path / "run/files/t1/comparing_enhancers")
    write_results(frame("dtln"), tmp_path / "run/files/t2/comparing_enhancers")
    joined = load_results(tmp_path / "run")
    assert list(joined.columns) == COLUMNS and sorted(joined["model"]) == ["dtln", "nsnet2"]
    assert len(load_results(tmp_path / "run/files/t1/comparing_enhancers/comparison.csv")) == 1
    write_results(frame("dtln"), tmp_path / "run/files/t3/x")
    with pytest.raises(ValueError, match="read one run at a time"):
        load_results(tmp_path / "run")
    with pytest.raises(FileNotFoundError, match="no comparison.csv"):
        load_results(tmp_path / "empty")


def test_the_batch_form_wires_notebook_07_and_resumes(tmp_path, sample_paths):
    """A manifest of models x conditions x files becomes one task each; notebook 07 reads the task's clean file,
    gets its model, condition and talkers; a task whose done.json holds its hash is not run again."""
    manifest = comparison_manifest(
        sample_paths[:2], ["nsnet2", "dtln"], [{"noise_type": "pink_snr", "snr_db": 5}], tmp_path / "manifest.csv"
    )
    read = batch_tasks.read_manifest(manifest)
    assert len(read) == 4 and read[0].task_id == f"nsnet2__c0__{sample_paths[0].stem}"
    assert read[0].parameters["models"] == ["nsnet2"]
    assert read[0].parameters["noise_conditions"] == [{"noise_type": "pink_snr", "snr_db": 5}]
    declared = {NOTEBOOK: notebook_parameters(NOTEBOOK)}
    run_dir = tmp_path / "run"
    plan = planning.plan_task(read[0], [NOTEBOOK], declared, run_dir, {"segment_duration_s": 0.05})
    step = plan.steps[0]
    assert step.parameters["input_path"] == str(sample_paths[0].resolve())
    assert step.parameters["talkers_path"] == str(sample_paths[0].parent.resolve())
    assert step.parameters["segment_duration_s"] == 0.05 and plan.to_run == ["07"]
    done = Path(plan.task_dir) / planning.DONE_FILE
    done.parent.mkdir(parents=True)
    done.write_text(json.dumps({"notebooks": {"07": {"hash": step.hash}}}))
    assert planning.plan_task(read[0], [NOTEBOOK], declared, run_dir, {"segment_duration_s": 0.05}).to_run == []
    assert planning.plan_task(read[0], [NOTEBOOK], declared, run_dir, {"segment_duration_s": 0.1}).to_run == ["07"]


# --------------------------------------------------------------------------- the notebook


NOTEBOOK_SETTINGS = {
    "models": ["nsnet2", "dtln"],
    "method": "saliency",
    "targets": ["mask"],
    "n_files": 1,
    "noise_conditions": [{"noise_type": "pink_snr", "snr_db": 5.0}],
    "segment_duration_s": 0.05,
    "n_boot": 50,
}


def _papermill(executed: Path, **parameters: object) -> subprocess.CompletedProcess:
    arguments = [arg for name, value in parameters.items() for arg in ("-y", json.dumps({name: value}))]
    command = [
        sys.executable,
        "-m",
        "papermill",
        str(NOTEBOOK),
        str(executed),
        *arguments,
        "--cwd",
        str(NOTEBOOK.parent),
        "-k",
        "python3",
        "--no-progress-bar",
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=900, env=dict(os.environ), check=False)


@pytest.fixture(scope="module")
def notebook_run(tmp_path_factory) -> Path:
    """Notebook 07 run once with two models, one condition, one file and saliency; its output folder."""
    folder = tmp_path_factory.mktemp("nb07")
    done = _papermill(folder / "executed.ipynb", **NOTEBOOK_SETTINGS, output_dir=str(folder / "out"))
    assert done.returncode == 0, done.stderr[-3000:]
    return folder


def _outputs(executed: Path) -> str:
    cells = nbformat.read(executed, as_version=4).cells
    return "\n".join(str(output) for cell in cells for output in cell.get("outputs", []))


def test_the_notebook_compares_two_models_and_writes_comparison_csv(notebook_run):
    frame = pd.read_csv(notebook_run / "out/comparison.csv")
    assert list(frame.columns) == COLUMNS
    assert list(dict.fromkeys(frame["model"])) == ["nsnet2", "dtln"] and set(frame["condition"]) == {"pink_snr5dB"}
    for metric in (
        "speech_relevance",
        "speech_energy_share",
        "lookback_90_ms",
        "spread_50_erb",
        "low_band_share",
        "pesq_improvement",
        "estoi_improvement",
        "top_amplification_effect",
        "shapley_spearman",
    ):
        values = frame[frame["metric"] == metric]["value"]
        assert values.notna().all() and len(values) == 2, metric
    text = _outputs(notebook_run / "executed.ipynb")
    assert "relies most on speech-dominant bins" in text and "the evidence is weak" in text
    assert "'output_type': 'error'" not in text


def test_the_notebook_reads_a_finished_run_instead_of_computing(notebook_run):
    executed = notebook_run / "from_results.ipynb"
    done = _papermill(
        executed, **NOTEBOOK_SETTINGS, results_path=str(notebook_run / "out"), output_dir=str(notebook_run / "read")
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert pd.read_csv(notebook_run / "read/comparison.csv").equals(pd.read_csv(notebook_run / "out/comparison.csv"))
    assert "the maps stay in that run's attribution files" in _outputs(executed)
    assert not (notebook_run / "read/attributions").exists()


def test_a_finished_job_is_reused_and_a_changed_setting_recomputes_it(notebook_run, monkeypatch, sample_paths):
    settings = ComparisonSettings(
        models=("nsnet2", "dtln"), method="saliency", targets=("mask",), segment_duration_s=0.05, n_random=1
    )
    out = notebook_run / "out"
    noisy = next((out / "noisy").glob(f"{sample_paths[0].stem}_pink_snr5dB.wav"))
    job = Job("nsnet2", "pink_snr5dB", sample_paths[0].stem, noisy)

    def never(*args, **kwargs):
        raise AssertionError("computed again")

    monkeypatch.setattr(comparison_module, "compute_job", never)
    result = run_job(job, settings, out)
    assert result.reused and {row["metric"] for row in result.rows} >= {"speech_relevance", "shapley_spearman"}
    with pytest.raises(AssertionError, match="computed again"):
        run_job(
            job,
            ComparisonSettings(
                models=("nsnet2",), method="saliency", targets=("mask",), segment_duration_s=0.05, snr_threshold_db=3.0
            ),
            out,
        )


def test_settings_are_checked_before_any_work():
    with pytest.raises(ValueError, match="'mask' included"):
        ComparisonSettings(targets=("output",))
    with pytest.raises(ValueError, match="each model once"):
        ComparisonSettings(models=("nsnet2", "nsnet2"))
    with pytest.raises(ValueError, match="model"):
        ComparisonSettings(models=("nsnet3",))
    settings = ComparisonSettings(method="saliency")
    assert settings.unavailable() == {} and settings.available_models() == tuple(MODELS)


def test_reading_states_caveats_and_missing_numbers():
    rows = [{"model": "nsnet2", "condition": "pink", "file": "a", "metric": "speech_enrichment", "value": 1.2}]
    frame = pd.DataFrame(rows)
    text = reading(
        frame,
        relation_table(frame, "speech_relevance", ["pesq_improvement"], n_boot=5),
        ComparisonSettings(method="saliency"),
    )
    assert "**nsnet2** (the only model compared) relies on" in text and "no model has both" in text
    assert f"fewer than {MIN_FILES} files" in text and "inside a 200 ms segment" in text

"""Wall time of each stage of one notebook-07 job (a model on one noisy file), per model: what sizes the
notebook's defaults.

Stages: the all-bins attributions of each target (``explain_file``, maps only), the perturbation test
(``perturb_file``: the enhancer on the original and each amplified file, quality scores, deletion curves), the
noisy input's and enhanced output's quality, and the trust game (region attributions and exact Shapley values).
Prints one row per model with the seconds of each stage and of the job, then the estimated time of the
notebook's compute for ``--conditions`` x ``--files`` jobs per model. A configuration a model cannot run (e.g.
DeepLIFT's complete rule without an engine for it) is reported, not timed.

    python benchmarks/comparison.py
    python benchmarks/comparison.py --method saliency --segment-s 0.1 --models dtln gtcrn
    python benchmarks/comparison.py --method deeplift --rule captum --targets mask
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from xai_helpers.attribution.explain import explain_file  # noqa: E402
from xai_helpers.experiments.comparison import (  # noqa: E402
    SAMPLE_RATE,
    ComparisonSettings,
    Job,
    map_metrics,
    quality_metrics,
    trust_metrics,
)
from xai_helpers.experiments.comparison_corpus import make_conditions  # noqa: E402
from xai_helpers.experiments.perturbation import PerturbationSettings, perturb_file  # noqa: E402
from xai_helpers.io.audio import load_audio  # noqa: E402
from xai_helpers.io.noisy_corpus import read_record  # noqa: E402
from xai_helpers.models.cache import cached_model  # noqa: E402
from xai_helpers.models.registry import MODELS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=Path, default=REPO / "data" / "samples" / "harvard_01.wav")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--method", default="deeplift")
    parser.add_argument("--rule", default="complete", choices=("complete", "captum"))
    parser.add_argument("--targets", nargs="+", default=["mask", "output"])
    parser.add_argument("--segment-s", type=float, default=0.2)
    parser.add_argument("--conditions", type=int, default=5, help="conditions of the estimate")
    parser.add_argument("--files", type=int, default=2, help="files of the estimate")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    settings = ComparisonSettings(
        models=tuple(args.models),
        method=args.method,
        deeplift_rule=args.rule,
        targets=tuple(args.targets),
        segment_duration_s=args.segment_s,
        device=args.device,
    )
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        (noisy,) = make_conditions([args.sample], [{"noise_type": "pink_snr", "snr_db": 5.0}], work / "noisy")
        rule = f" ({args.rule})" if args.method in ("deeplift", "deepliftshap") else ""
        print(
            f"{args.method}{rule}, targets {args.targets}, segment {args.segment_s} s of {args.sample.name}, "
            f"pink noise 5 dB, device {args.device}"
        )
        missing = settings.unavailable()
        total = 0.0
        for model in args.models:
            if (model, "mask") in missing:
                print(f"{model:8s} not run: {missing[(model, 'mask')]}")
                continue
            seconds = job_stages(Job(model, noisy.condition, noisy.file, noisy.path), settings, work)
            total += seconds["job"]
            print(f"{model:8s} " + "  ".join(f"{stage} {value:6.1f} s" for stage, value in seconds.items()))
        jobs = args.conditions * args.files
        print(
            f"estimate for {args.conditions} condition(s) x {args.files} file(s): {total * jobs / 60:.1f} min of jobs"
        )


def job_stages(job: Job, settings: ComparisonSettings, work: Path) -> dict[str, float]:
    """Seconds of each stage of ``job`` (as :func:`~xai_helpers.experiments.comparison.compute_job` runs them)."""
    model = cached_model(SAMPLE_RATE, settings.device, job.model)
    seconds, paths = {}, {}
    record = read_record(job.noisy_path)
    clean = load_audio(record["clean_path"], SAMPLE_RATE)
    noise = load_audio(record["noise_path"], SAMPLE_RATE, check=False)
    for target in settings.targets:
        if (job.model, target) in settings.unavailable():
            continue
        config = settings.explain_config(job.model, target)
        start = time.perf_counter()
        paths[target] = explain_file(
            job.noisy_path, work / job.model / config.file_tag(), config, settings.device, progress=False
        ).path
        map_metrics(paths[target], model, clean, noise, settings, "" if target == "mask" else "_output")
        seconds[f"explain {target}"] = time.perf_counter() - start
    start = time.perf_counter()
    perturbation = PerturbationSettings(
        method=settings.method,
        top_percent=settings.top_percent,
        gain_db=settings.gain_db,
        n_random=settings.n_random,
        seed=settings.seed,
        model=job.model,
    )
    perturbed = perturb_file(
        job.noisy_path, paths["mask"].parent, work / "perturbation" / job.model, perturbation, model
    )
    seconds["perturbation"] = time.perf_counter() - start
    start = time.perf_counter()
    quality_metrics(clean, load_audio(job.noisy_path, SAMPLE_RATE), perturbed.enhanced["original"], job.noisy_path.name)
    seconds["quality"] = time.perf_counter() - start
    start = time.perf_counter()
    trust_metrics(job, model, settings, work)
    seconds["trust"] = time.perf_counter() - start
    seconds["job"] = sum(seconds.values())
    return seconds


if __name__ == "__main__":
    main()

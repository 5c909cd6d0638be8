"""The batch's command line: ``python -m xai_helpers.run.batch`` (see :mod:`xai_helpers.run.batch`)."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from ...io.locks import LockHeldError
from ...models.registry import MODELS, SAMPLE_RATES
from . import __doc__ as BATCH_DOC
from .cluster import run_batch
from .tasks import vctk_demand_manifest


def _manifest_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m xai_helpers.run.batch manifest",
        description="Write a batch manifest for the VCTK + DEMAND clean/noisy layout.",
    )
    parser.add_argument(
        "--vctk-demand",
        type=Path,
        required=True,
        metavar="ROOT",
        help="folder holding clean_{split}set_wav/ and noisy_{split}set_wav/",
    )
    parser.add_argument("--split", default="test", help="test (default) or train")
    parser.add_argument("--out", type=Path, required=True, help="manifest CSV to write")
    args = parser.parse_args(argv)
    out = vctk_demand_manifest(args.vctk_demand, args.out, args.split)
    with open(out, encoding="utf-8") as handle:
        count = sum(1 for _ in handle) - 1
    print(f"{out}: {count} row(s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; see the module docstring."""
    import yaml

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["manifest"]:
        return _manifest_main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m xai_helpers.run.batch",
        description=BATCH_DOC.split("\n\n")[0],
        epilog="Also: python -m xai_helpers.run.batch manifest --vctk-demand ROOT --out manifest.csv",
    )
    parser.add_argument("--notebooks", nargs="+", help="numbers of the notebooks to run, in order (default: all)")
    parser.add_argument(
        "--input", required=True, type=Path, help="a folder of audio files, an audio file, or a manifest .csv"
    )
    parser.add_argument("--output", required=True, type=Path, help="run folder")
    parser.add_argument("--workers", type=int, help="local Dask worker processes (default: cores / threads per worker)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="use a running Dask scheduler (tcp://host:port) instead")
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="notebook parameter for every file, value parsed as YAML (repeatable)",
    )
    parser.add_argument(
        "--model",
        help=f"model parameter: {', '.join(MODELS)} or an import path module:function "
        "(default: each notebook's own, nsnet2); a manifest column 'model' sets it per row",
    )
    parser.add_argument(
        "--sample-rate", type=int, choices=SAMPLE_RATES, help="model rate, for notebooks that declare sample_rate"
    )
    parser.add_argument(
        "--threads-per-worker", type=int, default=1, help="compute threads of each task's kernel (default 1)"
    )
    parser.add_argument("--device", default="cpu", help="device parameter: cpu (default), cuda, cuda:1, ...")
    parser.add_argument("--force", action="store_true", help="rerun complete tasks too")
    parser.add_argument(
        "--max-memory-gb",
        type=float,
        metavar="GB",
        help="fail a task whose notebook kernel's resident memory passes GB (the kernel is killed)",
    )
    parser.add_argument(
        "--max-disk-gb",
        type=float,
        metavar="GB",
        help="fail a task whose folder passes GB (checked during and after each notebook)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    try:
        summary = run_batch(
            args.notebooks,
            args.input,
            args.output,
            workers=args.workers,
            scheduler=args.scheduler,
            parameters={name: yaml.safe_load(value) for name, value in args.parameter},
            sample_rate=args.sample_rate,
            model=args.model,
            threads_per_worker=args.threads_per_worker,
            device=args.device,
            force=args.force,
            max_memory_gb=args.max_memory_gb,
            max_disk_gb=args.max_disk_gb,
        )
    except (
        ValueError,
        FileNotFoundError,
        LockHeldError,
    ) as error:  # bad arguments, inputs or manifest, a busy run folder: nothing ran
        parser.error(str(error))
    counts = ", ".join(f"{n} {s}" for s, n in summary.counts().items())
    print(f"{len(summary.results)} task(s): {counts} in {time.perf_counter() - started:.1f} s")
    for result in summary.results:
        if result.status == "failed":
            print(f"  failed {result.task_id}: {result.error}")
    print(f"summary: {summary.summary_path}\nindex: {summary.index_path}")
    return 1 if summary.failed else 0

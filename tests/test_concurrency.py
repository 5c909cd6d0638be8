"""One writer per output (issue 15, concurrent runs): two real processes on one output, in both orders and
started together; a second run that will not wait; stale and live temporary files; two batches on one run folder."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from xai_helpers.attribution.explain import ExplainConfig, explain_file, output_path
from xai_helpers.io.atomic import partial_paths, temporary_path
from xai_helpers.io.locks import LockHeldError, hold_lock, lock_path, read_owner, remove_stale_partials
from xai_helpers.store.reader import AttributionFile, check_complete

REPO = Path(__file__).resolve().parents[1]
CONFIG = {"method": "deeplift", "segment_start_s": 0.5, "segment_duration_s": 0.05, "frames_per_chunk": 1}

CHILD = """
import json, logging, sys, time
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
from xai_helpers.attribution import explain as module
from xai_helpers.attribution.explain import ExplainConfig, explain_file
from xai_helpers.io.locks import LockHeldError

from pathlib import Path

source, out, gate, timeout = sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4]
real = module.compute_blocks

def gated(*args, **kwargs):  # holds the lock and the open temporary file until the test opens the gate
    deadline = time.monotonic() + 300
    while sys.argv[3] != "-" and not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    yield from real(*args, **kwargs)

module.compute_blocks = gated
try:
    result = explain_file(source, out, ExplainConfig(**json.loads(sys.argv[5])), progress=False,
                          lock_timeout_s=None if timeout == "none" else float(timeout))
    print(json.dumps({"status": result.status}))
except LockHeldError as error:
    print(json.dumps({"status": "stopped", "message": str(error)}))
"""


class Run:
    """A child process running :func:`explain_file` on ``CONFIG``; its output goes to files beside ``out``."""

    def __init__(self, name: str, source: Path, out: Path, gate: Path | None = None, timeout: str = "none") -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        self.stdout, self.stderr = out.parent / f"{name}.out", out.parent / f"{name}.err"
        with open(self.stdout, "w") as stdout, open(self.stderr, "w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-c", CHILD, str(source), str(out), str(gate or "-"), timeout, json.dumps(CONFIG)],
                stdout=stdout,
                stderr=stderr,
                env=env,
                cwd=REPO,
            )
        self.pid = self.process.pid

    def log(self) -> str:
        return self.stderr.read_text()

    def finish(self) -> dict:
        assert self.process.wait(timeout=600) == 0, self.log()
        return json.loads(self.stdout.read_text().strip().splitlines()[-1])


def wait_until(done: Callable[[], object], *runs: Run) -> None:
    """Poll ``done()`` every 0.05 s until it is true, for at most 300 s; every one of ``runs`` must keep running
    meanwhile (else the test fails showing their logs)."""
    deadline = time.monotonic() + 300
    while not done():
        assert time.monotonic() < deadline and all(run.process.poll() is None for run in runs), [
            run.log() for run in runs
        ]
        time.sleep(0.05)


def _wait_for_partial(destination: Path, run: Run) -> Path:
    """The first run's temporary file, once it exists (the run then holds the lock, waiting at its gate)."""
    wait_until(lambda: partial_paths(destination), run)
    return partial_paths(destination)[0]


@pytest.mark.parametrize("second_waits", ["none", "300"])  # the two orders: each kind of run once second
def test_second_run_waits_then_reuses(tmp_path, wav, second_waits):
    out, gate = tmp_path / "attributions", tmp_path / "gate"
    destination = output_path(wav, out, ExplainConfig(**CONFIG))
    first = Run("first", wav, out, gate, timeout="300" if second_waits == "none" else "none")
    partial = _wait_for_partial(destination, first)
    second = Run("second", wav, out, timeout=second_waits)
    wait_until(lambda: "waiting" in second.log(), second)
    assert partial.exists()  # the waiting run did not touch the live run's temporary file
    gate.touch()
    assert first.finish()["status"] == "computed" and second.finish()["status"] == "skipped"
    assert f"held by pid {first.pid} on {socket.gethostname()}" in second.log()
    assert not partial.exists() and not partial_paths(destination)  # renamed into place by its own run
    check_complete(destination, verify=True)
    with AttributionFile(destination) as stored:
        assert stored.shape() == (161, 5, 161, 5)


def test_runs_started_together(tmp_path, wav):
    out, gate = tmp_path / "attributions", tmp_path / "gate"
    runs = [Run(name, wav, out, gate) for name in ("a", "b")]
    wait_until(
        lambda: any("waiting" in run.log() for run in runs), *runs
    )  # one holds the lock at its gate, the other waits
    gate.touch()
    assert sorted(run.finish()["status"] for run in runs) == ["computed", "skipped"]
    destination = output_path(wav, out, ExplainConfig(**CONFIG))
    check_complete(destination, verify=True)
    assert not partial_paths(destination)


def test_second_run_that_will_not_wait_stops_naming_the_holder(tmp_path, wav):
    out, gate = tmp_path / "attributions", tmp_path / "gate"
    destination = output_path(wav, out, ExplainConfig(**CONFIG))
    first = Run("first", wav, out, gate)
    partial = _wait_for_partial(destination, first)
    result = Run("second", wav, out, timeout="0").finish()
    assert partial.exists()  # the stopped run left the live run's file alone
    assert result["status"] == "stopped"
    message = result["message"]
    assert str(lock_path(destination)) in message and f"pid {first.pid}" in message and "started" in message
    gate.touch()
    assert first.finish()["status"] == "computed"
    check_complete(destination, verify=True)


def test_lock_held_in_this_process_stops_a_run_that_will_not_wait(tmp_path, wav):
    destination = output_path(wav, tmp_path, ExplainConfig(**CONFIG))
    with hold_lock(lock_path(destination), what="a test"):
        with pytest.raises(LockHeldError, match=rf"pid {os.getpid()} on .*started .*\(a test\)"):
            explain_file(wav, tmp_path, ExplainConfig(**CONFIG), progress=False, lock_timeout_s=0)
        with pytest.raises(LockHeldError, match="after waiting 0.3 s"):
            explain_file(wav, tmp_path, ExplainConfig(**CONFIG), progress=False, lock_timeout_s=0.3)
    assert read_owner(lock_path(destination)).what == "a test"
    assert explain_file(wav, tmp_path, ExplainConfig(**CONFIG), progress=False, lock_timeout_s=0).status == "computed"


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_stale_temporary_files_are_removed_and_live_ones_kept(tmp_path, wav):
    destination = output_path(wav, tmp_path, ExplainConfig(**CONFIG))
    host = socket.gethostname().replace(".", "-")
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        names = {
            "dead": f".{destination.name}.{host}.{_dead_pid()}.0badc0de.partial",
            "live": f".{destination.name}.{host}.{live.pid}.0badc0de.partial",
            "other_host": f".{destination.name}.elsewhere.{live.pid}.0badc0de.partial",
            "legacy": f".{destination.name}.partial",
        }
        for name in names.values():
            (tmp_path / name).write_bytes(b"half written")
        unrelated = temporary_path(tmp_path / "another.h5")
        unrelated.write_bytes(b"another output's")
        with hold_lock(lock_path(destination)):
            removed = {path.name for path in remove_stale_partials(destination)}
        assert removed == {names["dead"], names["other_host"], names["legacy"]}
        assert (tmp_path / names["live"]).exists() and unrelated.exists()
        for name in ("dead", "legacy"):
            (tmp_path / names[name]).write_bytes(b"half written")
        result = explain_file(wav, tmp_path, ExplainConfig(**CONFIG), progress=False)
        assert result.status == "recomputed" and "interrupted run" in result.reason
        assert (tmp_path / names["live"]).exists() and not (tmp_path / names["dead"]).exists()
    finally:
        live.kill()
        live.wait()


def test_second_batch_on_one_run_folder_stops_naming_the_first(tmp_path, sample_paths, capsys):
    from xai_helpers.run.batch.cli import main
    from xai_helpers.run.batch.cluster import run_batch

    run_dir = tmp_path / "run"
    with hold_lock(lock_path(run_dir), what="batch over data/samples"):
        with pytest.raises(LockHeldError, match=rf"\.run\.lock: held by pid {os.getpid()} .*batch over data/samples"):
            run_batch(["01"], sample_paths[0], run_dir, workers=1)
        with pytest.raises(SystemExit) as exit_info:
            main(["--notebooks", "01", "--input", str(sample_paths[0]), "--output", str(run_dir)])
    assert exit_info.value.code == 2 and f"pid {os.getpid()}" in capsys.readouterr().err
    assert not run_dir.exists()

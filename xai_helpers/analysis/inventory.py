"""What a folder of attribution files holds for a set of audio files, and the errors of a run that would do nothing.

Notebook 02 names each file ``{audio stem}__{method}_{configuration}.h5``
(:func:`~xai_helpers.attribution.explain.output_path`). Notebooks 03 and 04 read the files of one
method; when none of their input files has one, or when every file found was left out, they stop
with an error that says what the folder does hold (:func:`check_attributions_found`,
:func:`check_something_done`) instead of plotting or perturbing nothing and succeeding.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from ..attribution.explain import attribution_paths
from ..store.reader import stored_model

SHOWN = 3
"""How many file names an error message lists before saying how many more there are."""


class NothingDoneError(RuntimeError):
    """A notebook step found files to work on but every one was left out (the message says why, file by file)."""


def _names(items: Sequence[str]) -> str:
    shown = ", ".join(items[:SHOWN])
    return shown + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def methods_found(sources: Sequence[str | os.PathLike], attributions_dir: str | os.PathLike) -> Counter:
    """``method -> number of .h5 files`` of the audio files ``sources`` in ``attributions_dir``.

    The method is the first word of the configuration tag (``{stem}__{method}_...``).
    """
    found: Counter = Counter()
    for source in sources:
        stem = Path(source).stem
        for path in attribution_paths(source, attributions_dir):
            found[path.stem[len(stem) + 2 :].split("_", 1)[0]] += 1
    return found


def check_attributions_found(
    sources: Sequence[str | os.PathLike],
    attributions_dir: str | os.PathLike,
    method: str | None,
    model: str | None = None,
) -> None:
    """Raise ``FileNotFoundError`` unless some file of ``sources`` has an ``.h5`` of ``method`` (``None``: any)
    explaining ``model`` (``None``: any).

    The message names the folder, the method, the input files and what the folder holds instead:
    the methods found for these files with their counts, else how many ``.h5`` files of other
    audio files it holds (``input_path`` and ``attributions_dir`` of different runs?).
    """
    folder = Path(attributions_dir)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"attributions_dir: {folder} is not a folder of attribution files (run notebook 02 first)"
        )
    if any(attribution_paths(source, folder, method, model) for source in sources):
        return
    inputs = f"the {_count(len(sources), 'input file')} ({_names([Path(s).name for s in sources])})"
    wanted = (f"of method {method!r} " if method else "") + (f"explaining model {model!r} " if model else "")
    if model and any(attribution_paths(source, folder, method) for source in sources):
        others = sorted(
            {
                stored_model(path) or "unreadable"
                for source in sources
                for path in attribution_paths(source, folder, method)
            }
        )
        raise FileNotFoundError(
            f"no attribution file {wanted}in {folder} for {inputs}; its files explain "
            f"{', '.join(others)}: run notebook 02 with model={model!r}, or set model to one of these"
        )
    found = methods_found(sources, folder)
    if found:
        holds = "found methods: " + ", ".join(f"{name} ({_count(n, 'file')})" for name, n in sorted(found.items()))
        hint = f"run notebook 02 with method {method!r} or choose one of these" if method else "run notebook 02"
    else:
        others = sorted(path.name for path in folder.glob("*.h5"))
        holds = (
            f"the folder holds {_count(len(others), '.h5 file')} of other audio files ({_names(others)})"
            if others
            else "the folder holds no .h5 file"
        )
        hint = "run notebook 02 on these files first"
    raise FileNotFoundError(f"no attribution file {wanted}in {folder} for {inputs}; {holds}; {hint}")


def check_something_done(n_done: int, left_out: Sequence[tuple[str, str]], what: str) -> None:
    """Raise :class:`NothingDoneError` when ``n_done`` is 0: ``what`` (e.g. ``"plotted"``) names the step,
    ``left_out`` holds ``(file name, reason)`` of every file passed over (all listed in the message)."""
    if n_done:
        return
    reasons = "; ".join(f"{name}: {reason}" for name, reason in left_out) or "no input file"
    raise NothingDoneError(f"nothing {what}: every file was left out ({reasons})")

"""Run the numbered notebooks over a whole corpus with papermill, in parallel through Dask.

Usage::

    python -m xai_helpers.run.batch --notebooks 01 02 --input data/samples --workers 2 --output runs/demo \\
        -p segment_duration_s 0.2
    python -m xai_helpers.run.batch --notebooks 02 03 04 --input manifest.csv --output runs/vctk \\
        --scheduler tcp://host:8786 --sample-rate 48000
    python -m xai_helpers.run.batch manifest --vctk-demand ROOT --out manifest.csv

and from a notebook :func:`~xai_helpers.run.batch.cluster.run_batch` (same arguments). A *task* is one input file (a
file of the
folder ``--input``, or one row of a manifest) run through the chosen notebooks in order, with its
own folder ``RUN_DIR/files/<task id>/``::

    noisy/           notebook 01's output_dir (noisy WAVs, the noise alone, JSON records)
    attributions/    notebook 02's output_dir; 02 reads noisy/ (or the input file itself when 01
                     has never run for this task)
    figures/         notebook 03's output_dir; 03 and 04 read noisy/ (or the input) and attributions/
    perturbation/    notebook 04's output_dir
    faithfulness/    notebook 05's output_dir (05 reads the input file: clean speech); a later
                     notebook NN_name writes to name/ and reads noisy/ and attributions/
    executed/NN_name.ipynb, executed/NN_name.html   each executed notebook (the log) and its report
    started.json     parameters hash of each notebook's last attempt
    done.json        completion marker: one entry per notebook that finished, written atomically last

The task id is the input's file stem (with a short hash appended when two inputs share a stem, or
a manifest's ``id`` column). ``RUN_DIR/summary.csv`` has one row per task (``status`` ok / failed /
skipped, seconds, error message, the executed notebook holding the traceback as ``log``, output
paths, then the task's quality scores read from notebook 01's and 04's CSV files: see
:mod:`.summary_metrics`) and ``RUN_DIR/index.html`` links it and every report. Both are rewritten atomically after
each finished task, so they can be watched during a long run (tasks not finished yet: ``pending``).

Parameters: ``-p NAME VALUE`` (value parsed as YAML) goes to every chosen notebook that declares
``NAME``; a manifest's columns (any notebook parameter: noise_type, snr_db, method, baseline,
segment_start_s, deeplift_rule, ...; YAML values, so ``[5, 10]`` is a list; empty cells keep the command-line
value) override it for their row; ``--model`` sets ``model`` (``nsnet2``, ``dtln``, ``gtcrn``; a manifest
column ``model`` runs each row on its own model), ``--sample-rate`` sets ``sample_rate`` and ``--device`` sets
``device`` where declared (a name goes to every chosen notebook declaring it: ``method`` and ``model`` reach
02, 03 and 04 alike, so 03/04 read the files 02 wrote). ``input_path``, ``output_dir`` and ``attributions_dir`` are
set by the
wiring above and cannot be overridden. Names no chosen notebook declares are an error on the
command line; a manifest column must be a parameter of some numbered notebook (those of notebooks
not chosen are ignored) or one of ``path``, ``id``, ``clean_path``, ``notes``, else the run stops
before any work with the valid column names (a typo such as ``metod`` never runs the default).

Resuming: each notebook's hash covers the values its parameters run with (the ones passed, else the
notebook's defaults, so a changed default such as notebook 02's ``deeplift_rule`` redoes the work;
``device`` and the wired folders are left out; the notebook's code is not covered), the input
file's path, size and modification time, and the hashes of the notebooks whose outputs it reads.
A task whose chosen notebooks all have a matching ``done.json`` entry is skipped (and listed as
skipped); otherwise it reruns from its first out-of-date notebook on. A notebook rerun with
changed parameters first empties its output folder (so stale files of the old configuration are
not read downstream); a retry with unchanged parameters keeps it, so the
notebooks' own resumption (notebook 02 skips complete ``.h5`` files) still applies. A failing
notebook stops its task (the later notebooks read its outputs) but never the others; its executed
notebook is kept as the log. ``--force`` reruns everything.

Parallelism: ``--workers N`` starts a local Dask cluster of N single-threaded worker processes
(``distributed.LocalCluster``); ``--scheduler tcp://host:port`` connects to a running Dask
scheduler instead (``dask scheduler`` + ``dask worker tcp://host:port --nthreads 1`` on each node).
Both go through the same ``client.submit`` / ``as_completed`` code. Every task runs its notebooks
in a fresh kernel whose ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``, ... are set to
``--threads-per-worker`` (so PyTorch and NumPy use that many threads: N workers x T threads should
not exceed the cores) and gets ``device`` as a parameter. On a cluster every worker must see the
run folder, the inputs and this repository at the same paths (a shared file system) and have this
package installed; start one worker per GPU with ``CUDA_VISIBLE_DEVICES`` set and
``--device cuda`` to use several GPUs.

Bounds per task (:mod:`.limits`): ``--max-memory-gb GB`` kills a notebook kernel whose resident
memory passes GB, ``--max-disk-gb GB`` one whose task folder passes GB (checked about every second
while it runs and again after each notebook); the task fails with a message naming the bound and the
size reached, the other tasks go on. ``summary.csv`` reports ``disk_mb`` and ``peak_memory_mb`` per
task, ``index.html`` the total on disk. A whole file in ``store="maps"`` writes a few MB; a 4-D
``store="full"`` tensor grows with the square of the duration (about 1 GB x s^2 as float32).

The VCTK + DEMAND test set (Valentini-Botinhao 2017, 824 utterances at 48 kHz) already holds noisy
speech, and the notebooks' noise records (the ``.json`` beside each noisy file written by notebook
01) do not exist for it. ``python -m xai_helpers.run.batch manifest --vctk-demand ROOT --out
manifest.csv`` writes one row per noisy file (``path``), with its clean partner (``clean_path``, for
reference; no notebook reads it) and ``noise_type`` = ``not_added``. Run it without notebook 01
(``--notebooks 02 03 04``), so 02 reads the noisy file itself; if 01 is included, ``not_added``
makes it pass the noisy file through unchanged (its SI-SDR table then compares the noisy file
with itself). Add ``--sample-rate 48000`` to use the 48 kHz model where the notebooks offer it.

Modules: :mod:`.tasks` (inputs, manifests, task ids), :mod:`.planning` (wiring and hashes: what must
run), :mod:`.runner` (one task on a worker), :mod:`.limits` (memory and disk bounds), :mod:`.cluster` (Dask),
:mod:`.summary` (CSV and HTML),
:mod:`.summary_metrics` (quality columns), :mod:`.cli` (the command line; ``python -m xai_helpers.run.batch``).
"""

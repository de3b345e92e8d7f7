"""``acml report``: check every input, run the whole exercise session, write one HTML page.

A run writes each part's saved results under ``out/<part>/`` and the run's
metadata (configuration, provenance, data fingerprints, durations) to
``out/report_run.json``; :func:`build_page` then draws every figure from those
files alone, so ``--from DIR`` rebuilds the page (into another folder if asked)
without re-running anything.
"""

from __future__ import annotations

import io
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

from acmlkit.errors import DataError, RunFailed
from acmlkit.report.html import Figure, Section, render_page
from acmlkit.results import load_json, save_json

PAGE = "report.html"
RUN_FILE = "report_run.json"
FIGURES = "figures"
TITLE = "Exercise session 4, done properly"

# The parts of the page in order; each names the module that runs it and builds it.
PARTS = ("mixture", "mf", "nn")
PART_TITLES = {"mixture": "Mixture models", "mf": "Matrix factorisation", "nn": "Neural networks"}


class ReportError(RunFailed):
    """A part could not be run; the page was written with the others (exit code 1)."""


@dataclass(frozen=True)
class ReportConfig:
    """What the report runs on; the defaults need no download.

    ``images`` is ``synthetic``, ``cifar10``, ``cifar10:PATH`` or an image
    folder/archive; ``matrix`` is ``synthetic``, ``movielens-100k``,
    ``movielens-1m`` or a dense CSV / ratings file. ``quick`` runs one seed, fewer
    iterations, grid points and images: a smoke test that still shows what each
    section is for.
    """

    seed: int = 0
    images: str = "synthetic"
    matrix: str = "synthetic"
    quick: bool = False


def _module(part: str):
    import importlib

    return importlib.import_module(f"acmlkit.report.sections.{part}")


# ------------------------------------------------------------------- checks
@dataclass
class Inputs:
    """The data a run works on, loaded (and so checked) before anything runs.

    ``sources`` maps each data source's description to its fingerprint.
    """

    ratings: object
    images: object
    sources: dict[str, str]


def check_output(out: Path, label: str = "--out") -> None:
    """``out`` must be a folder this user can create or write to."""
    if out.exists() and not out.is_dir():
        raise OSError(f"{label} {out} is a file, expected a folder for the page and its results")
    parent = out
    while not parent.exists():
        parent = parent.parent
    import os

    if not os.access(parent, os.W_OK | os.X_OK):
        raise OSError(f"{label} {out}: cannot write to {parent}")


def check_inputs(config: ReportConfig, out: Path) -> Inputs:
    """Check the options and load both data sources, so a bad input stops the run first.

    Raises ValueError / OSError / DataError with one line naming the input.
    """
    if isinstance(config.seed, bool) or not isinstance(config.seed, int) or config.seed < 0:
        raise ValueError(f"--seed must be a non-negative integer, got {config.seed!r}")
    check_output(out)
    from acmlkit.report.sections import mf, nn

    ratings, matrix_print = mf.load_matrix(config)
    images, images_print = nn.load_images(config)
    return Inputs(ratings, images, {f"matrix {config.matrix}": matrix_print,
                                    f"images {config.images}": images_print})


# ---------------------------------------------------------------------- run
def _run_part(part: str, out: Path, config: ReportConfig, inputs: Inputs):
    """Run one part into ``out/<part>``; returns its wall and CPU seconds and its error
    line (None if it succeeded).

    A failure is kept (one line for the page, the traceback in ``error.txt``) so that
    the other parts still run and the page is still written.
    """
    import shutil

    folder = out / part
    # A fresh folder: the parts' trial stores would otherwise resume trials of an
    # earlier run whose data file had the same name.
    shutil.rmtree(folder, ignore_errors=True)
    start, cpu = time.perf_counter(), time.process_time()
    try:
        _module(part).run(folder, config, inputs)
        error = None
    except Exception as exc:  # noqa: BLE001 - the page records it; the CLI exits 1
        error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "error.txt").write_text(traceback.format_exc())
    return time.perf_counter() - start, time.process_time() - cpu, error


NETS_LOG = "nn-process.log"


def _start_nets(out: Path, config: ReportConfig, threads: int):
    """Start the networks part in a process of its own, on ``threads`` torch threads.

    It runs and draws its part while this process runs and draws the other parts:
    on a small machine one torch thread trains these small networks about as fast
    as two, and the other core is free for the rest of the report. A plain
    ``python -m`` process (not multiprocessing), so a caller's script is never
    re-imported.
    """
    import json
    import subprocess
    import sys

    out.mkdir(parents=True, exist_ok=True)
    log = (out / NETS_LOG).open("w")
    command = [sys.executable, "-m", "acmlkit.report.nets_process", str(out),
               json.dumps(asdict(config)), str(threads)]
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT), log


NETS_PAGE = "nn-page.pickle"


def _finish_nets(process, log, out: Path):
    """Wait for the networks process: ``(wall, cpu, error)`` as :func:`_run_part` gives,
    and the part's page blocks as :func:`_build_part` gives (None if it drew none)."""
    import pickle

    code = process.wait()
    log.close()
    if code == 0 and (out / NETS_LOG).stat().st_size == 0:
        (out / NETS_LOG).unlink()
    done, page = out / "nn" / "timing.json", out / NETS_PAGE
    if code != 0 or not done.is_file():
        error = f"the networks process exited with code {code} (see {out / NETS_LOG})"
        return 0.0, 0.0, error, None
    timing = load_json(done)
    built = None
    if page.is_file():
        # Written a moment ago by our own child process, for this process only.
        built = pickle.loads(page.read_bytes())
        page.unlink()
    return timing["wall"], timing["cpu"], timing["error"], built


def _record_nets(out: Path, config: ReportConfig, inputs: Inputs) -> int | None:
    """What the networks' run recorded: the generated images' fingerprint (into
    ``inputs.sources``) and the torch threads it trained on (returned)."""
    recorded = load_json(out / "nn" / "cnn" / "result.json")["provenance"]
    if config.images == "synthetic":
        inputs.sources[f"images {config.images}"] = (
            "generated; " + ", ".join(recorded["data"].values()))
    return recorded.get("threads", {}).get("torch")


def run_report(out_dir: str | Path, config: ReportConfig = ReportConfig(), echo=print) -> Path:
    """Run every part into ``out_dir/<part>/`` and write the page; returns its path.

    Every input is checked (and loaded) before any part runs. The networks run in
    a second process on half the cores while the mixture and factorisation parts
    run and draw in this one. A part that fails leaves its error on the page; the
    page is written, then :class:`ReportError` names the failed parts.
    """
    import os
    import shutil

    from acmlkit.results import provenance

    out = Path(out_dir)
    started, started_cpu = time.perf_counter(), time.process_time()
    inputs = check_inputs(config, out)
    durations = {"inputs": time.perf_counter() - started}
    cpu = {"inputs": time.process_time() - started_cpu}
    errors: dict[str, str] = {}
    built: dict[str, tuple] = {}
    shutil.rmtree(out / FIGURES, ignore_errors=True)
    drawer = Drawer(out / FIGURES)
    threads = max(1, (os.cpu_count() or 2) // 2)
    echo(f"[report] running neural networks in a second process ({threads} torch "
         f"thread{'s' * (threads > 1)}) ...")
    process, log = _start_nets(out, config, threads)
    try:
        for part in ("mixture", "mf"):
            echo(f"[report] running {PART_TITLES[part].lower()} ...")
            durations[part], cpu[part], error = _run_part(part, out, config, inputs)
            if error:
                errors[part] = error
            built[part] = _build_part(part, out, drawer, errors.get(part), config)
            echo(f"[report] {part}: {durations[part]:.1f} s run, {built[part][2]:.1f} s figures")
    except BaseException:
        process.kill()
        raise
    finally:
        durations["nn"], cpu["nn"], error, nets_page = _finish_nets(process, log, out)
    if error:
        errors["nn"] = error
    else:
        threads = _record_nets(out, config, inputs) or threads
    # The networks process draws its own figures (it has torch loaded already).
    built["nn"] = nets_page or _build_part("nn", out, drawer, errors.get("nn"), config)
    echo(f"[report] nn: {durations['nn']:.1f} s run (alongside), {built['nn'][2]:.1f} s figures")
    durations["wall"] = time.perf_counter() - started
    run = {
        "config": asdict(config),
        "provenance": provenance(data=inputs.sources, nets_torch_threads=threads),
        "durations": durations,
        "cpu_seconds": cpu,
        "errors": errors,
    }
    save_json(run, out / RUN_FILE)
    path = _write_page(run, built, out, out)
    if errors:
        raise ReportError(
            f"{', '.join(errors)} failed ({'; '.join(errors.values())}); the page with the "
            f"other sections is {path}"
        )
    return path


# --------------------------------------------------------------------- page
class Drawer:
    """Saves each figure as SVG under ``folder`` and returns the page block for it.

    SVG keeps text as text (``svg.fonttype = none``): it stays sharp at page
    width, is smaller than a 200-dpi PNG, and renders in a fraction of the time.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self.names: set[str] = set()

    def __call__(self, fig, name: str, caption: str) -> Figure:
        import matplotlib as mpl

        from acmlkit.results import atomic_write

        if name in self.names:
            raise RuntimeError(f"figure name {name!r} used twice on the page")
        self.names.add(name)
        buffer = io.BytesIO()
        # Text stays text; ids are salted, not random, so the bytes are reproducible.
        with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": "acmlkit"}):
            fig.savefig(buffer, format="svg", metadata={"Date": None})
        svg = buffer.getvalue()
        atomic_write(self.folder / f"{name}.svg", svg)
        return Figure(name, svg, caption)


def build_page(from_dir: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write the page from the results saved in ``from_dir``, redrawing every figure.

    The page and its figures go to ``out_dir`` (default: ``from_dir`` itself);
    ``from_dir`` is only read.
    """
    source = Path(from_dir)
    out = Path(out_dir) if out_dir is not None else source
    if not (source / RUN_FILE).is_file():
        raise FileNotFoundError(
            f"{source} holds no saved report run ({RUN_FILE}); run acml report --out {source}"
        )
    check_output(out)
    run, config = _load_run(source / RUN_FILE)
    drawer = Drawer(out / FIGURES)
    built = {part: _build_part(part, source, drawer, run["errors"].get(part), config)
             for part in PARTS}
    return _write_page(run, built, source, out)


def _load_run(path: Path) -> tuple[dict, ReportConfig]:
    """A saved ``report_run.json`` and its config, or one line naming what is wrong."""
    import dataclasses

    run = load_json(path)
    if not isinstance(run, dict):
        raise DataError(f"{path}: expected an object, got {type(run).__name__}")
    config = run.get("config")
    if not isinstance(config, dict):
        raise DataError(f"{path}: field 'config' must be an object, got "
                        f"{'nothing' if config is None else type(config).__name__}")
    fields = {f.name: f.type for f in dataclasses.fields(ReportConfig)}
    unknown = sorted(set(config) - set(fields))
    if unknown:
        raise DataError(f"{path}: unknown config key {unknown[0]!r} (expected "
                        f"{', '.join(fields)})")
    expected = {"seed": int, "images": str, "matrix": str, "quick": bool}
    for key, value in config.items():
        kind = expected[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise DataError(f"{path}: config.{key} must be {kind.__name__}, got {value!r}")
    for key in ("provenance", "durations", "cpu_seconds", "errors"):
        if not isinstance(run.setdefault(key, {}), dict):
            raise DataError(f"{path}: field {key!r} must be an object, got "
                            f"{type(run[key]).__name__}")
    return run, ReportConfig(**config)


def _build_part(part: str, source: Path, drawer: Drawer, error: str | None,
                config: ReportConfig):
    """``(sections, key numbers, seconds)`` of one part, from its saved results."""
    start = time.perf_counter()
    if error is None:
        try:
            with _figure_style():
                sections, numbers = _module(part).build(source / part, drawer, config)
        except (OSError, ValueError) as exc:
            error = f"its saved results could not be read: {exc}"
    if error is not None:
        sections, numbers = [_error_section(part, error)], []
    return sections, numbers, time.perf_counter() - start


def _figure_style():
    """Matplotlib's default style whatever the caller set, so a figure drawn here, in the
    networks process or in a later ``--from`` rebuild comes out the same, byte for byte."""
    import contextlib

    import matplotlib as mpl

    @contextlib.contextmanager
    def style():
        with mpl.rc_context():
            mpl.rcdefaults()
            mpl.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "acmlkit"})
            yield

    return style()


def _write_page(run: dict, built: dict, source: Path, out: Path) -> Path:
    from acmlkit.results import atomic_write

    sections = [s for part in PARTS for s in built[part][0]]
    key_numbers = [k for part in PARTS for k in built[part][1]]
    page_seconds = {part: built[part][2] for part in PARTS}
    path = out / PAGE
    atomic_write(
        path,
        render_page(
            TITLE,
            sections,
            key_numbers=key_numbers,
            metadata=_metadata(run, page_seconds, source, out),
            footer=f"acmlkit report; results in {source.resolve()}",
        ),
    )
    return path


def _error_section(part: str, error: str) -> Section:
    from acmlkit.report.html import Note

    return Section(
        f"{part}-error",
        f"{PART_TITLES[part]}: not run",
        "-",
        f"This part stopped with: {error}. The other sections are complete.",
        [Note("(no finding: this part produced no numbers)")],
    )


def _metadata(run: dict, page_seconds: dict, source: Path, out: Path) -> list[tuple[str, str]]:
    prov = run.get("provenance", {})
    versions = prov.get("versions", {})
    machine = prov.get("machine", {})
    config = run.get("config", {})
    durations = run.get("durations", {})
    cpu = run.get("cpu_seconds", {})
    rows = [
        ("acmlkit", versions.get("acmlkit", "?")),
        ("command", " ".join(prov.get("command", [])) or "(library call)"),
        ("seed", str(config.get("seed"))),
        ("quick", "yes" if config.get("quick") else "no"),
    ]
    rows += [(f"data: {name}", fp) for name, fp in prov.get("data", {}).items()]
    rows.append(("checking and loading the inputs", f"{durations.get('inputs', 0):.1f} s"))
    for part in PARTS:
        if part in durations:
            alongside = " (in a second process, alongside the others)" if part == "nn" else ""
            rows.append(
                (f"duration: {PART_TITLES[part].lower()}",
                 f"{durations[part]:.1f} s run (CPU {cpu.get(part, 0):.1f} s){alongside} + "
                 f"{page_seconds.get(part, 0):.1f} s figures and page")
            )
    if "wall" in durations:
        rows.append(("duration: whole run (wall clock)", f"{durations['wall']:.1f} s"))
    rows.append(("versions", ", ".join(f"{k} {v}" for k, v in versions.items())))
    rows.append(("machine", f"{machine.get('platform', '?')}, {machine.get('processor', '?')}, "
                            f"{machine.get('cpus', '?')} CPUs"))
    threads = prov.get("threads", {})
    described = ", ".join(f"{k} {v}" for k, v in threads.items() if k != "torch") or "?"
    if "nets_torch_threads" in prov:
        described += f"; networks: torch {prov['nets_torch_threads']} (their own process)"
    elif "torch" in threads:
        described += f", torch {threads['torch']}"
    rows.append(("threads", described))
    if source.resolve() != out.resolve():
        rows.append(("page rebuilt from", str(source.resolve())))
    return rows

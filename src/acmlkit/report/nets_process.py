"""The report's networks part as a process of its own (started by :mod:`acmlkit.report.build`).

``python -m acmlkit.report.nets_process OUT CONFIG_JSON THREADS`` loads the images
(already checked by the parent), runs the part into ``OUT/nn`` on THREADS torch
threads, writes ``OUT/nn/timing.json`` (wall and CPU seconds, error line), then
draws the part's figures and hands its page blocks to the parent as
``OUT/nn-page.pickle``.
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path


def main(out: str, config_json: str, threads: str) -> None:
    import torch

    from acmlkit.report.build import (
        FIGURES,
        NETS_PAGE,
        Drawer,
        Inputs,
        ReportConfig,
        _build_part,
        _run_part,
    )
    from acmlkit.report.sections import nn
    from acmlkit.results import atomic_write, save_json

    torch.set_num_threads(int(threads))
    config = ReportConfig(**json.loads(config_json))
    images, _ = nn.load_images(config)
    wall, cpu, error = _run_part("nn", Path(out), config, Inputs(None, images, {}))
    save_json({"wall": wall, "cpu": cpu, "error": error}, Path(out) / "nn" / "timing.json")
    if error is None:
        built = _build_part("nn", Path(out), Drawer(Path(out) / FIGURES), None, config)
        atomic_write(Path(out) / NETS_PAGE, pickle.dumps(built))


if __name__ == "__main__":
    main(*sys.argv[1:])

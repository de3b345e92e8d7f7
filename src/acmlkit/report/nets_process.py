"""The report's networks part as a process of its own (started by :mod:`acmlkit.report.build`).

``python -m acmlkit.report.nets_process OUT CONFIG_JSON THREADS`` loads the images
(already checked by the parent), runs the part into ``OUT/nn`` on THREADS torch
threads and writes ``OUT/nn/timing.json`` (wall and CPU seconds, error line).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(out: str, config_json: str, threads: str) -> None:
    import torch

    from acmlkit.report.build import Inputs, ReportConfig, _run_part
    from acmlkit.report.sections import nn
    from acmlkit.results import save_json

    torch.set_num_threads(int(threads))
    config = ReportConfig(**json.loads(config_json))
    images, _ = nn.load_images(config)
    wall, cpu, error = _run_part("nn", Path(out), config, Inputs(None, images, {}))
    save_json({"wall": wall, "cpu": cpu, "error": error}, Path(out) / "nn" / "timing.json")


if __name__ == "__main__":
    main(*sys.argv[1:])

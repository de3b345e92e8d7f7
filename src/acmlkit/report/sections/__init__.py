"""One module per part of the notebook: ``run`` its experiments into a folder, and
``build`` its sections of the page from what that folder holds.

Each module has ``run(out, config, inputs) -> None`` and
``build(folder, draw, config) -> (sections, key_numbers)``; ``draw(fig, name, caption)``
saves a figure and returns its page block, and ``config`` is the run's ReportConfig.
"""

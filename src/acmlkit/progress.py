"""Progress bars on stderr that stay quiet when stderr is not a terminal."""

from __future__ import annotations

import sys

from tqdm.auto import tqdm


def progress(iterable=None, *, total=None, desc: str = "", unit: str = "it", **kwargs):
    """``tqdm`` over ``iterable``, disabled unless stderr is a TTY."""
    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        disable=not sys.stderr.isatty(),
        leave=False,
        dynamic_ncols=True,
        **kwargs,
    )

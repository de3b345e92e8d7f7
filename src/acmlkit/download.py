"""Fetch official data files into a cache folder, with checksums and a clear offline error."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from acmlkit.errors import ChecksumError, DownloadError
from acmlkit.progress import progress

_CHUNK = 1 << 20


def cache_dir() -> Path:
    """``$ACMLKIT_DATA``, else ``$XDG_CACHE_HOME/acmlkit``, else ``~/.cache/acmlkit``."""
    if "ACMLKIT_DATA" in os.environ:
        return Path(os.environ["ACMLKIT_DATA"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "acmlkit"


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_checksum(path: str | Path, expected: str, algorithm: str = "sha256") -> None:
    actual = file_digest(path, algorithm)
    if actual != expected.lower():
        raise ChecksumError(
            f"{path}: {algorithm} is {actual}, expected {expected}; the file is corrupt or not "
            "the official release"
        )


def fetch(
    url: str,
    checksum: str,
    *,
    algorithm: str = "sha256",
    folder: str | Path | None = None,
    filename: str | None = None,
    local_hint: str = "",
) -> Path:
    """Return the path of ``url``'s file in the cache, downloading it if needed.

    A cached file is re-verified; a download goes to a ``.part`` file that is
    verified before it is renamed, and removed when the checksum does not match.
    ``local_hint`` tells an offline user how to point at a copy they have.
    """
    folder = Path(folder) if folder is not None else cache_dir()
    target = folder / (filename or url.rsplit("/", 1)[-1])
    if target.is_file():
        verify_checksum(target, checksum, algorithm)
        return target
    folder.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=30) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with progress(total=total, desc=target.name, unit="B", unit_scale=True) as bar:
                for block in iter(lambda: response.read(_CHUNK), b""):
                    out.write(block)
                    bar.update(len(block))
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        partial.unlink(missing_ok=True)
        hint = f" {local_hint}" if local_hint else ""
        raise DownloadError(
            f"could not download {url} ({exc}); this machine may be offline. Place the file at "
            f"{target} yourself, or set ACMLKIT_DATA to a folder that holds it.{hint}"
        ) from None
    try:
        verify_checksum(partial, checksum, algorithm)
    except ChecksumError:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
    return target

"""Fetch official data files into a cache folder, with checksums and a clear offline error.

:data:`DATASETS` is the one table of every data set acmlkit downloads: where it
comes from and the checksum its publisher gives.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from acmlkit.errors import ChecksumError, DownloadError
from acmlkit.progress import progress

_CHUNK = 1 << 16
# Seconds without a byte from the server before a download is abandoned.
TIMEOUT = 30.0


@dataclass(frozen=True)
class Dataset:
    """An official archive: its URL, the checksum its publisher gives, and what it holds."""

    url: str
    checksum: str
    algorithm: str
    description: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


# The publishers' own URLs and checksums (MD5 is what both publish).
DATASETS: dict[str, Dataset] = {
    "cifar10": Dataset(
        url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        checksum="c58f30108f718f92721af3b95e74349a",
        algorithm="md5",
        description="CIFAR-10, python version: 50,000 + 10,000 32x32 colour images",
    ),
    "movielens-100k": Dataset(
        url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
        checksum="0e33842e24a9c977be4e0107933c0723",
        algorithm="md5",
        description="MovieLens 100K: 100,000 ratings of 1,682 movies by 943 users",
    ),
    "movielens-1m": Dataset(
        url="https://files.grouplens.org/datasets/movielens/ml-1m.zip",
        checksum="c4d9eecfca2ab87c1945afe126590906",
        algorithm="md5",
        description="MovieLens 1M: 1,000,209 ratings of 3,706 movies by 6,040 users",
    ),
}


def cache_dir() -> Path:
    """``$ACMLKIT_DATA``, else ``$XDG_CACHE_HOME/acmlkit``, else ``~/.cache/acmlkit``."""
    if os.environ.get("ACMLKIT_DATA"):
        return Path(os.environ["ACMLKIT_DATA"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "acmlkit"


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_checksum(path: str | Path, expected: str, algorithm: str = "sha256") -> None:
    actual = file_digest(path, algorithm)
    if actual != expected.lower():
        raise ChecksumError(
            f"{path}: {algorithm} is {actual}, expected {expected}; the file is corrupt or not "
            "the official release"
        )


def fetch_dataset(name: str, *, folder: str | Path | None = None, local_hint: str = "") -> Path:
    """The cached archive of one of :data:`DATASETS`, downloaded and verified if needed."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    spec = DATASETS[name]
    return fetch(spec.url, spec.checksum, algorithm=spec.algorithm, folder=folder,
                 filename=spec.filename, local_hint=local_hint)


def fetch(
    url: str,
    checksum: str,
    *,
    algorithm: str = "sha256",
    folder: str | Path | None = None,
    filename: str | None = None,
    local_hint: str = "",
    timeout: float = TIMEOUT,
) -> Path:
    """Return the path of ``url``'s file in the cache, downloading it if needed.

    A cached file is re-verified. A download goes to a temporary file in the
    cache folder that is checked (length, then checksum) before it is renamed, so
    an interrupted or corrupt transfer never leaves a file under the final name.
    ``timeout`` bounds the wait for each block (a stalled server); ``local_hint``
    tells an offline user how to point at a copy they have.
    """
    folder = Path(folder) if folder is not None else cache_dir()
    target = folder / (filename or url.rsplit("/", 1)[-1])
    if target.is_file():
        verify_checksum(target, checksum, algorithm)
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, partial_name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.",
                                            suffix=".part")
    except OSError as exc:
        raise OSError(f"cannot write to the data cache {folder}: {exc.strerror or exc}") from None
    partial = Path(partial_name)
    hint = f" {local_hint}" if local_hint else ""
    manual = (f"Place the file at {target} yourself, or set ACMLKIT_DATA to a folder that "
              f"holds it.{hint}")
    try:
        with os.fdopen(fd, "wb") as out:
            _download(url, out, target.name, timeout, manual)
        verify_checksum(partial, checksum, algorithm)
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target


def _download(url: str, out, name: str, timeout: float, manual: str) -> None:
    """Copy ``url`` into ``out``; every network failure becomes one DownloadError."""
    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as exc:
        raise DownloadError(
            f"could not download {url}: the server answered HTTP {exc.code} {exc.reason}. "
            f"{manual}"
        ) from None
    except TimeoutError:
        raise DownloadError(
            f"could not download {url}: no answer within {timeout:g} s; this machine may be "
            f"offline. {manual}"
        ) from None
    except (urllib.error.URLError, ConnectionError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        reason = getattr(reason, "strerror", None) or reason
        raise DownloadError(
            f"could not download {url} ({reason}); this machine may be offline. {manual}"
        ) from None
    received = 0
    with response:
        total = int(response.headers.get("Content-Length") or 0) or None
        of_total = f" of {total}" if total else ""
        with progress(total=total, desc=name, unit="B", unit_scale=True) as bar:
            while True:
                try:
                    block = response.read1(_CHUNK)
                except TimeoutError:
                    raise DownloadError(
                        f"download of {url} stalled: no data for {timeout:g} s after "
                        f"{received}{of_total} bytes; rerun to try again. {manual}"
                    ) from None
                except (ConnectionError, http.client.HTTPException) as exc:
                    raise DownloadError(
                        f"download of {url} was interrupted after {received}{of_total} bytes "
                        f"({type(exc).__name__}); rerun to try again. {manual}"
                    ) from None
                if not block:
                    break
                out.write(block)  # a full cache disk is an OSError of its own
                received += len(block)
                bar.update(len(block))
    if total is not None and received != total:
        raise DownloadError(
            f"download of {url} was interrupted after {received} of {total} bytes; rerun to "
            f"try again. {manual}"
        )

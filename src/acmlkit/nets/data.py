"""Image datasets as whole uint8 arrays: official CIFAR-10, image folders and synthetic shapes.

Every loader returns an :class:`ImageDataset` whose images are one ``uint8`` array of
shape ``(n_images, channels, height, width)``; training turns it into one tensor and
never goes through a per-sample loader.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import shutil
import tarfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from zlib import error as zlib_error

import numpy as np

from acmlkit.download import cache_dir, fetch
from acmlkit.errors import DataError
from acmlkit.processes import pid_alive
from acmlkit.progress import progress
from acmlkit.rng import RunContext
from acmlkit.validation import check_int, check_memory

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
CIFAR10_FOLDER = "cifar-10-batches-py"
_CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR_TEST_BATCH = "test_batch"

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
# Bump when the decoded layout changes, so that stale cache files are never reused.
_IMAGE_CACHE_VERSION = "1"


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """A train/test split held as whole arrays.

    Attributes
    ----------
    x_train, x_test : ndarray of uint8, shape (n, channels, height, width)
    y_train, y_test : ndarray of int64, shape (n,)
        Class indices in ``[0, len(classes))``.
    classes : tuple of str
    name : str
        Where the data came from, for reports.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    name: str = ""

    def __post_init__(self):
        n_classes = len(self.classes)
        if n_classes < 2:
            raise DataError(f"a dataset needs at least 2 classes, got {n_classes}")
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x.dtype != np.uint8 or x.ndim != 4:
                raise DataError(
                    f"x_{split} must be uint8 of shape (n, channels, height, width), "
                    f"got {x.dtype} of shape {x.shape}"
                )
            if y.ndim != 1 or len(y) != len(x):
                raise DataError(
                    f"y_{split} must have one label per image ({len(x)}), got shape {y.shape}"
                )
            if len(y) and (y.min() < 0 or y.max() >= n_classes):
                bad = int(y.min()) if y.min() < 0 else int(y.max())
                raise DataError(
                    f"labels out of range: y_{split} holds {bad} but there are {n_classes} "
                    f"classes (expected 0..{n_classes - 1})"
                )
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise DataError(
                f"train images are {self.x_train.shape[1:]} but test images are "
                f"{self.x_test.shape[1:]} (channels, height, width)"
            )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(channels, height, width)``."""
        return tuple(int(s) for s in self.x_train.shape[1:])

    def fingerprint(self) -> str:
        """``sha256:...`` of the images and labels of both splits (see ``fingerprint_arrays``)."""
        from acmlkit.results import fingerprint_arrays

        return fingerprint_arrays(self.x_train, self.y_train, self.x_test, self.y_test)

    def torch(self, split: str = "train", **kwargs):
        """This split as a :class:`torch.utils.data.Dataset` (see :class:`ImageTensorDataset`)."""
        from acmlkit.nets.torchdata import ImageTensorDataset

        return ImageTensorDataset.from_dataset(self, split, **kwargs)

    def subsample(
        self, n_train: int | None, n_test: int | None, ctx: RunContext | None = None
    ) -> ImageDataset:
        """A random subset (image folders are sorted by class, so never take the head).

        Drawn from ``ctx``'s streams ``subsample-train`` and ``subsample-test``
        (default ``RunContext(0)``), so the test subset does not depend on ``n_train``.
        """
        ctx = ctx if ctx is not None else RunContext(0)
        parts = {}
        for split, n in (("train", n_train), ("test", n_test)):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if n is not None and n < len(x):
                check_int(n, f"n_{split}", low=1)
                rng = ctx.stream(f"subsample-{split}")
                keep = np.sort(rng.choice(len(x), size=n, replace=False))
                x, y = x[keep], y[keep]
            parts[split] = (x, y)
        return ImageDataset(
            parts["train"][0], parts["train"][1], parts["test"][0], parts["test"][1],
            self.classes, self.name,
        )


# --------------------------------------------------------------------------- CIFAR-10


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles only what CIFAR batches hold (dicts, lists, numpy arrays), nothing callable."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        # Python 3 writes bytes in protocol-2 pickles as _codecs.encode(str, "latin1").
        ("_codecs", "encode"),
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            obj = _ArrayUnpickler(fh, encoding="bytes").load()
    except FileNotFoundError:
        raise
    except Exception as exc:  # truncated pickles raise EOFError, ValueError, UnpicklingError...
        raise DataError(
            f"{path}: not a readable CIFAR-10 batch file, it is truncated or corrupt ({exc})"
        ) from None
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a pickled dict, got {type(obj).__name__}")
    # Official files are Python 2 pickles with bytes keys; accept str keys too.
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}


def read_cifar_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Parse one pickled CIFAR-10 batch (``data_batch_N`` or ``test_batch``).

    Returns
    -------
    images : ndarray of uint8, shape (n, 3, 32, 32)
    labels : ndarray of int64, shape (n,)
    """
    path = Path(path)
    batch = _unpickle(path)
    if "data" not in batch or "labels" not in batch:
        raise DataError(
            f"{path}: a CIFAR-10 batch needs 'data' and 'labels', got keys {sorted(batch)}"
        )
    data = np.asarray(batch["data"])
    labels = np.asarray(batch["labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(
            f"{path}: 'data' must be uint8 of shape (n, 3072), got {data.dtype} {data.shape}"
        )
    if labels.shape != (len(data),) or labels.dtype.kind not in "iu":
        raise DataError(
            f"{path}: 'labels' must be {len(data)} integers, got {labels.dtype} {labels.shape}"
        )
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{path}: labels out of range: expected 0..9, got {labels.max()}")
    # Rows are the red, green then blue planes, each 32 x 32 in row-major order.
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def read_cifar10_folder(folder: str | Path) -> ImageDataset:
    """Load the extracted ``cifar-10-batches-py`` folder."""
    folder = Path(folder)
    missing = [
        name
        for name in (*_CIFAR_TRAIN_BATCHES, _CIFAR_TEST_BATCH)
        if not (folder / name).is_file()
    ]
    if missing:
        raise DataError(f"{folder} is not a CIFAR-10 python folder: missing {', '.join(missing)}")
    train = [read_cifar_batch(folder / name) for name in _CIFAR_TRAIN_BATCHES]
    x_test, y_test = read_cifar_batch(folder / _CIFAR_TEST_BATCH)
    classes = CIFAR10_CLASSES
    meta = folder / "batches.meta"
    if meta.is_file():
        names = _unpickle(meta).get("label_names")
        if names is not None:
            classes = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
    return ImageDataset(
        np.concatenate([x for x, _ in train]),
        np.concatenate([y for _, y in train]),
        x_test,
        y_test,
        classes,
        name="cifar10",
    )


def load_cifar10(source: str | Path | None = None) -> ImageDataset:
    """Official CIFAR-10, python version.

    Parameters
    ----------
    source : path, optional
        A local ``cifar-10-python.tar.gz`` or an extracted ``cifar-10-batches-py``
        folder. By default the official archive is downloaded once into
        ``cache_dir()/cifar10`` (md5-checked) and extracted there.
    """
    if source is not None and Path(source).is_dir():
        inner = Path(source) / CIFAR10_FOLDER
        return read_cifar10_folder(inner if inner.is_dir() else source)
    folder = cache_dir() / "cifar10"
    if source is None:
        archive = fetch(
            CIFAR10_URL,
            CIFAR10_MD5,
            algorithm="md5",
            folder=folder,
            local_hint=(
                "Or pass a local copy: --data cifar10:/path/to/cifar-10-python.tar.gz "
                "(or the extracted cifar-10-batches-py folder)."
            ),
        )
    else:
        archive = Path(source)
        if not archive.is_file():
            raise FileNotFoundError(f"no CIFAR-10 archive or folder at {archive}")
    # Extracted once per archive (keyed by path, size and mtime), beside the download.
    # v2: extractions are renamed into place when complete (older folders may be partial).
    extracted = folder / f"extracted-v2-{_short_digest(archive)}"
    return read_cifar10_folder(_extract_cifar(archive, extracted))


def _extract_cifar(archive: Path, folder: Path) -> Path:
    """Extract ``archive`` into ``folder`` under a temporary name, renamed when complete.

    A process killed mid-extraction leaves only a ``.part`` folder, which later
    runs ignore (and remove once its process is gone), never a half-filled cache.
    """
    target = folder / CIFAR10_FOLDER
    if target.is_dir():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale_parts(folder)
    partial = folder / f".{CIFAR10_FOLDER}.{os.getpid()}.part"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = _complete_members(tar, archive)
            inner = [m for m in members if m.isfile() and _safe(m.name)]
            for member in inner:
                _with_member(archive, member.name, tar.extract, member, partial, filter="data")
        found = [p.parent for p in partial.rglob(_CIFAR_TEST_BATCH)]
        if len(found) != 1:
            raise DataError(f"{archive}: not a CIFAR-10 python archive (no single {CIFAR10_FOLDER}/"
                            f"{_CIFAR_TEST_BATCH} inside)")
        read_cifar10_folder(found[0])  # every batch present and readable before it is kept
        try:
            found[0].rename(target)
        except OSError:
            if not target.is_dir():  # else another process finished first: keep theirs
                raise
    except (tarfile.TarError, EOFError, OSError, zlib_error) as exc:
        raise DataError(f"{archive}: not a readable CIFAR-10 archive ({exc})") from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _remove_stale_parts(folder: Path) -> None:
    """Delete ``.part`` folders left by extractions whose process no longer runs."""
    for part in folder.glob(f".{CIFAR10_FOLDER}.*.part"):
        pid = part.name.split(".")[-2]
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(part, ignore_errors=True)


def _with_member(archive: Path, name: str, func, *args, **kwargs):
    """``func(*args)``, with a read error reported as the archive and member it hit."""
    try:
        return func(*args, **kwargs)
    except (tarfile.TarError, EOFError, OSError, zlib_error, zipfile.BadZipFile) as exc:
        raise DataError(
            f"{archive}: truncated or corrupt archive: member {name} cannot be read ({exc})"
        ) from None


def _complete_members(tar: tarfile.TarFile, archive: Path) -> list[tarfile.TarInfo]:
    """Every member of ``tar``, after checking that the archive ends with tar's end marker.

    Python's tarfile stops quietly at a member boundary when the file is cut
    there; a complete archive ends with a zero block, so its absence means
    members are missing.
    """
    members: list[tarfile.TarInfo] = []
    try:
        for member in tar:
            members.append(member)
    except (tarfile.TarError, EOFError, zlib_error) as exc:
        raise DataError(
            f"{archive}: truncated or corrupt archive: it breaks {_where(archive, members)} "
            f"({exc})"
        ) from None
    _check_end_marker(tar, archive, members)
    return members


def _where(archive: Path, members: list) -> str:
    """Where a tar stream broke off, from the members read so far."""
    if not members:
        return "at its first member"
    last = members[-1]
    if last.offset_data + last.size > archive.stat().st_size:  # plain tars only
        return f"inside member {last.name}"
    return f"in or after member {last.name}"


def _check_end_marker(tar: tarfile.TarFile, archive: Path, members: list) -> None:
    try:
        tar.fileobj.seek(tar.offset)
        block = tar.fileobj.read(tarfile.BLOCKSIZE)
    except (tarfile.TarError, EOFError, OSError, zlib_error) as exc:
        block, detail = b"", f" ({exc})"
    else:
        detail = ""
    if len(block) == tarfile.BLOCKSIZE and not any(block):
        return
    last = members[-1] if members else None
    if block:
        # A partial header still holds the next member's name in its first 100 bytes.
        name = block[:100].split(b"\0", 1)[0].decode(errors="replace")
        if name and not any(tag in name for tag in ("@PaxHeader", "PaxHeaders", "@LongLink")):
            where = f"inside the header of member {name}"
        else:  # an extended header, which names its member only further on
            where = "inside the header of the member after " + (
                last.name if last is not None else "the start")
    elif last is not None and last.offset_data + last.size > archive.stat().st_size:
        where = f"inside member {last.name}"
    else:
        where = f"after member {last.name}" if last is not None else "before any member"
    raise DataError(
        f"{archive}: truncated archive: it ends {where}, without tar's end-of-archive "
        f"marker{detail}; download or copy it again"
    )


def _safe(name: str) -> bool:
    return not (name.startswith(("/", "\\")) or ".." in Path(name).parts)


def _short_digest(path: Path) -> str:
    stat = path.stat()
    key = f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    return hashlib.sha256(key.encode()).hexdigest()[:12]


# ------------------------------------------------------------------ image folders


def load_image_folder(source: str | Path, *, cache: bool = True) -> ImageDataset:
    """Images laid out as ``ROOT/train/<class>/*`` and ``ROOT/test/<class>/*``.

    ``source`` is the folder ``ROOT`` (or a folder holding exactly one such root) or
    a ``.tar``, ``.tar.gz``/``.tgz`` or ``.zip`` archive of it. Images may have any
    size and channel count, but all must share one size; mixed channel counts are
    promoted (grey to RGB, missing alpha to opaque). Decoded arrays are cached under
    ``cache_dir()/images`` keyed by the content's sha256, so the second load of the
    same bytes only reads one ``.npz``.

    Class indices follow the sorted class-folder names of ``train``.
    """
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"no image folder or archive at {source}")
    # An archive's key needs only its bytes, so a cache hit never lists its members.
    files = None if source.is_file() else _list_folder(source)
    key = _content_key(source, files)
    cached = cache_dir() / "images" / f"{key}.npz"
    if cache and cached.is_file():
        try:
            with np.load(cached) as npz:
                return ImageDataset(
                    npz["x_train"], npz["y_train"], npz["x_test"], npz["y_test"],
                    tuple(str(c) for c in npz["classes"]), name=source.name,
                )
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            cached.unlink(missing_ok=True)  # a half-written cache file: decode again
    dataset = _decode_dataset(source, files if files is not None else _list_archive(source))
    if cache:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(cached.name + f".{os.getpid()}.part.npz")
        np.savez(
            partial,
            x_train=dataset.x_train, y_train=dataset.y_train,
            x_test=dataset.x_test, y_test=dataset.y_test,
            classes=np.array(dataset.classes),
        )
        partial.replace(cached)
    return dataset


@dataclass(frozen=True)
class _Entry:
    split: str
    label: str
    name: str  # shown in errors: path or "archive:member"
    locator: object  # a Path, or the member name inside the archive


def _split_path(parts: tuple[str, ...]) -> tuple[str, str] | None:
    """``(split, class)`` for ``.../train/<class>/<file>``, else None."""
    if len(parts) >= 3 and parts[-3] in ("train", "test"):
        return parts[-3], parts[-2]
    return None


def _is_image(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return name.lower().endswith(IMAGE_SUFFIXES) and not base.startswith(".")


def _list_folder(root: Path) -> list[_Entry]:
    if not (root / "train").is_dir():
        subdirs = [d for d in root.iterdir() if (d / "train").is_dir()]
        if len(subdirs) != 1:
            raise DataError(
                f"{root}: expected a train/ and a test/ folder of class folders "
                "(ROOT/train/<class>/*.png)"
            )
        root = subdirs[0]
    entries = []
    for split in ("train", "test"):
        split_dir = root / split
        if not split_dir.is_dir():
            raise DataError(f"{root}: no {split}/ folder (expected ROOT/{split}/<class>/*.png)")
        for class_dir in sorted(d for d in split_dir.iterdir() if d.is_dir()):
            images = sorted(p for p in class_dir.iterdir() if p.is_file() and _is_image(p.name))
            if not images:
                raise DataError(f"empty class folder: {class_dir} holds no images")
            entries += [_Entry(split, class_dir.name, str(p), p) for p in images]
    return entries


def _archive_kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")):
        return "tar"
    raise DataError(f"{path}: not an image folder or a .tar, .tar.gz or .zip archive")


def _member_names(path: Path) -> list[tuple[str, bool]]:
    """``(name, is_folder)`` of every member."""
    try:
        if _archive_kind(path) == "zip":
            with zipfile.ZipFile(path) as zf:
                return [(i.filename, i.is_dir()) for i in zf.infolist()]
        with tarfile.open(path, "r:*") as tar:
            members = _complete_members(tar, path)
            return [(m.name, m.isdir()) for m in members if m.isfile() or m.isdir()]
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, zlib_error) as exc:
        raise DataError(f"{path}: corrupt or truncated archive ({exc})") from None


def _list_archive(path: Path) -> list[_Entry]:
    entries = []
    class_dirs: dict[tuple[str, str], int] = {}
    for member, is_folder in _member_names(path):
        parts = tuple(p for p in member.split("/") if p not in ("", "."))
        if is_folder:
            # A class folder is .../train/<class>; count it even if it holds nothing.
            if len(parts) >= 2 and parts[-2] in ("train", "test"):
                class_dirs.setdefault((parts[-2], parts[-1]), 0)
            continue
        where = _split_path(parts)
        if where is None:
            continue
        class_dirs.setdefault(where, 0)
        if _is_image(member):
            class_dirs[where] += 1
            entries.append(_Entry(where[0], where[1], f"{path}:{member}", member))
    for (split, label), count in sorted(class_dirs.items()):
        if count == 0:
            raise DataError(f"empty class folder: {path}:{split}/{label} holds no images")
    for split in ("train", "test"):
        if not any(e.split == split for e in entries):
            raise DataError(
                f"{path}: no images under {split}/<class>/ (expected ROOT/{split}/<class>/*.png)"
            )
    return sorted(entries, key=lambda e: (e.split, e.label, e.name))


def _content_key(source: Path, files: list[_Entry] | None) -> str:
    digest = hashlib.sha256(f"acmlkit-images-v{_IMAGE_CACHE_VERSION}\0".encode())
    if source.is_file():
        with open(source, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    else:
        for entry in files:
            rel = os.path.relpath(entry.locator, source)
            digest.update(rel.encode() + b"\0" + Path(entry.locator).read_bytes())
    return digest.hexdigest()[:32]


def _read_all(source: Path, files: list[_Entry]) -> list[bytes]:
    if source.is_dir():
        return [Path(e.locator).read_bytes() for e in files]
    wanted = {e.locator: i for i, e in enumerate(files)}
    blobs: list[bytes | None] = [None] * len(files)
    try:
        if _archive_kind(source) == "zip":
            with zipfile.ZipFile(source) as zf:
                for member, i in wanted.items():
                    # ZipFile.read checks each member's CRC-32.
                    blobs[i] = _with_member(source, member, zf.read, member)
        else:
            # One sequential pass: random access into a .tar.gz would re-decompress.
            with tarfile.open(source, "r:*") as tar:
                members = []
                for member in _iter_members(tar, source, members):
                    i = wanted.get(member.name)
                    if i is not None:
                        blob = _with_member(source, member.name, _read_member, tar, member)
                        if len(blob) != member.size:
                            raise DataError(
                                f"{source}: truncated archive: member {member.name} holds "
                                f"{len(blob)} of its {member.size} bytes"
                            )
                        blobs[i] = blob
                _check_end_marker(tar, source, members)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, zlib_error) as exc:
        raise DataError(f"{source}: corrupt or truncated archive ({exc})") from None
    return blobs


def _iter_members(tar: tarfile.TarFile, archive: Path, seen: list):
    """The members of ``tar`` as it streams, appended to ``seen``; errors name the last one."""
    try:
        for member in tar:
            seen.append(member)
            yield member
    except (tarfile.TarError, EOFError, zlib_error) as exc:
        raise DataError(
            f"{archive}: truncated or corrupt archive: it breaks {_where(archive, seen)} ({exc})"
        ) from None


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    return tar.extractfile(member).read()


def _decode_one(blob: bytes, name: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(blob)) as img:
            img.load()
            if img.mode not in ("L", "RGB", "RGBA"):
                has_alpha = "A" in img.getbands() or "transparency" in img.info
                grey = img.mode in ("1", "I", "I;16", "F")
                img = img.convert("L" if grey else "RGBA" if has_alpha else "RGB")
            arr = np.asarray(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"corrupt or truncated image {name}: {exc}") from None
    return arr[None] if arr.ndim == 2 else np.moveaxis(arr, -1, 0)


def _promote(arr: np.ndarray, channels: int) -> np.ndarray:
    have = arr.shape[0]
    if have == channels:
        return arr
    rgb = np.repeat(arr, 3, axis=0) if have == 1 else arr[:3]
    if channels == 3:
        return rgb
    alpha = arr[3:] if have == 4 else np.full((1, *arr.shape[1:]), 255, np.uint8)
    return np.concatenate([rgb, alpha])


def _decode_dataset(source: Path, files: list[_Entry]) -> ImageDataset:
    blobs = _read_all(source, files)
    # Pillow releases the GIL while decoding, so threads give real parallelism.
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        arrays = list(
            progress(
                pool.map(_decode_one, blobs, [e.name for e in files], chunksize=256),
                total=len(files),
                desc="decoding images",
            )
        )
    sizes = {}
    for arr, entry in zip(arrays, files):
        sizes.setdefault(arr.shape[1:], entry.name)
    if len(sizes) > 1:
        (s1, f1), (s2, f2) = list(sizes.items())[:2]
        raise DataError(
            f"mixed image sizes: {f1} is {s1[1]}x{s1[0]} but {f2} is {s2[1]}x{s2[0]}; "
            "all images must share one size"
        )
    channels = {a.shape[0] for a in arrays}
    target = channels.pop() if len(channels) == 1 else (4 if 4 in channels else 3)
    classes = tuple(sorted({e.label for e in files if e.split == "train"}))
    index = {c: i for i, c in enumerate(classes)}
    parts = {}
    for split in ("train", "test"):
        chosen = [i for i, e in enumerate(files) if e.split == split]
        unknown = sorted({files[i].label for i in chosen} - set(index))
        if unknown:
            raise DataError(
                f"{source}: test classes {unknown} have no train/ folder; classes are {classes}"
            )
        x = np.stack([_promote(arrays[i], target) for i in chosen])
        y = np.array([index[files[i].label] for i in chosen], dtype=np.int64)
        parts[split] = (x, y)
    return ImageDataset(*parts["train"], *parts["test"], classes, name=source.name)


# --------------------------------------------------------------- synthetic shapes

SHAPE_CLASSES = (
    "disk", "square", "diamond", "ring", "plus", "cross", "h-bar", "v-bar", "triangle", "frame",
)


def _shape_mask(label: int, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Which pixels belong to shape ``label``; ``dx, dy`` are offsets in units of its radius."""
    ax, ay = np.abs(dx), np.abs(dy)
    box = np.maximum(ax, ay)
    r = np.sqrt(dx * dx + dy * dy)
    thin = 0.35
    return {
        0: r <= 1.0,
        1: box <= 0.8,
        2: ax + ay <= 1.0,
        3: (r <= 1.0) & (r >= 0.55),
        4: ((ax <= thin) | (ay <= thin)) & (box <= 1.0),
        5: (np.abs(ax - ay) <= thin) & (box <= 0.9),
        6: (ay <= thin) & (ax <= 1.0),
        7: (ax <= thin) & (ay <= 1.0),
        8: (ay <= 0.9) & (ax <= (dy + 0.9) / 1.8 * 0.9),
        9: (box <= 1.0) & (box >= 0.6),
    }[label]


def _shapes(n: int, size: int, noise: float, rng: np.random.Generator):
    y = rng.integers(0, len(SHAPE_CLASSES), size=n)
    radius = rng.uniform(0.13, 0.25, size=n) * size
    cx = rng.uniform(radius, size - radius)
    cy = rng.uniform(radius, size - radius)
    grid = np.arange(size, dtype=np.float32) + 0.5
    dx = (grid[None, None, :] - cx[:, None, None]) / radius[:, None, None]
    dy = (grid[None, :, None] - cy[:, None, None]) / radius[:, None, None]
    mask = np.zeros((n, size, size), dtype=bool)
    for label in range(len(SHAPE_CLASSES)):
        rows = y == label
        mask[rows] = _shape_mask(label, dx[rows], dy[rows])
    # A bright shape on a dark ground (by at least 35 levels in every channel): always
    # visible, while its colour, drawn independently of the class, says nothing.
    background = rng.uniform(0, 110, size=(n, 3, 1, 1))
    foreground = rng.uniform(145, 255, size=(n, 3, 1, 1))
    images = np.where(mask[:, None], foreground, background)
    images += rng.normal(0.0, noise, size=images.shape)
    return np.clip(images, 0, 255).astype(np.uint8), y.astype(np.int64)


def make_shapes(
    n_train: int = 10_000,
    n_test: int = 2_000,
    *,
    seed: int | RunContext = 0,
    image_size: int = 32,
    noise: float = 16.0,
) -> ImageDataset:
    """Ten shape classes at random positions, scales and colours over Gaussian noise.

    The class is carried only by the local arrangement of pixels (a disk and a
    square of the same colour and area differ only in their outline), so a CNN's
    local, translation-shared filters beat an MLP, and a fixed pixel permutation
    takes that advantage away. Images are drawn from the streams ``shapes-train``
    and ``shapes-test`` of ``seed`` (an int or a :class:`RunContext`).

    Returns
    -------
    ImageDataset
        ``uint8`` images of shape ``(n, 3, image_size, image_size)``.
    """
    check_int(n_train, "n_train", low=1)
    check_int(n_test, "n_test", low=1)
    check_int(image_size, "image_size", low=12)
    check_memory(
        # Per image: two float32 offset grids, a mask, and float64 images and noise.
        max(n_train, n_test) * image_size**2 * (4 + 4 + 1 + 2 * 3 * 8),
        f"generating {n_train:,} + {n_test:,} synthetic {image_size}x{image_size} images",
        "ask for fewer images",
    )
    ctx = seed if isinstance(seed, RunContext) else RunContext(seed)
    x_train, y_train = _shapes(n_train, image_size, noise, ctx.stream("shapes-train"))
    x_test, y_test = _shapes(n_test, image_size, noise, ctx.stream("shapes-test"))
    return ImageDataset(x_train, y_train, x_test, y_test, SHAPE_CLASSES, name="shapes")


def load_dataset(spec: str = "synthetic", *, cache: bool = True) -> ImageDataset:
    """Resolve a ``--data`` value.

    ``synthetic`` (the shapes), ``cifar10`` (official, downloaded into the cache),
    ``cifar10:PATH`` (a local official archive or ``cifar-10-batches-py`` folder), or
    the path of an image folder or archive.
    """
    if spec == "synthetic":
        return make_shapes()
    if spec == "cifar10":
        return load_cifar10()
    if spec.startswith("cifar10:"):
        return load_cifar10(spec.split(":", 1)[1])
    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(
            f"--data {spec!r}: expected 'synthetic', 'cifar10', 'cifar10:PATH' or the path of "
            "an image folder or .tar/.tar.gz/.zip archive, and no such path exists"
        )
    if path.is_dir() and ((path / CIFAR10_FOLDER).is_dir() or (path / _CIFAR_TEST_BATCH).is_file()):
        return load_cifar10(path)
    if path.is_file() and path.name == CIFAR10_URL.rsplit("/", 1)[-1]:
        return load_cifar10(path)
    return load_image_folder(path, cache=cache)

import hashlib

import pytest

from acmlkit.download import fetch
from acmlkit.errors import ChecksumError, DownloadError


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "remote" / "data.bin"
    path.parent.mkdir()
    path.write_bytes(b"acmlkit" * 1000)
    return path


def test_fetch_downloads_verifies_and_reuses_the_cache(source, tmp_path):
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    cache = tmp_path / "cache"
    got = fetch(source.as_uri(), digest, folder=cache)
    assert got == cache / "data.bin" and got.read_bytes() == source.read_bytes()
    source.unlink()  # a second call must not need the source any more
    assert fetch(source.as_uri(), digest, folder=cache) == got


def test_checksum_mismatch_removes_the_partial_download(source, tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumError, match="sha256 is .* expected 00ff"):
        fetch(source.as_uri(), "00ff", folder=cache)
    assert list(cache.iterdir()) == []


def test_md5_is_accepted(source, tmp_path):
    digest = hashlib.md5(source.read_bytes()).hexdigest()
    assert fetch(source.as_uri(), digest, algorithm="md5", folder=tmp_path).is_file()


def test_unreachable_source_says_how_to_work_offline(tmp_path):
    with pytest.raises(DownloadError, match="may be offline.*ACMLKIT_DATA.*use --data PATH"):
        fetch(
            (tmp_path / "missing.bin").as_uri(),
            "00",
            folder=tmp_path / "c",
            local_hint="Or use --data PATH.",
        )
    assert not (tmp_path / "c" / "missing.bin.part").exists()

"""The downloader end to end: a real HTTP server on 127.0.0.1 serving small files."""

import hashlib
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import acmlkit.download as download
from acmlkit.download import DATASETS, fetch, fetch_dataset
from acmlkit.errors import ChecksumError, DownloadError

PAYLOAD = bytes(range(256)) * 700  # 179,200 bytes: several read blocks
SHA256 = hashlib.sha256(PAYLOAD).hexdigest()
MD5 = hashlib.md5(PAYLOAD).hexdigest()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    release: threading.Event
    hits: list

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.hits.append(self.path)
        if self.path == "/data.bin":
            self._headers(len(PAYLOAD))
            self.wfile.write(PAYLOAD)
        elif self.path == "/no-length.bin":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(PAYLOAD)
            self.close_connection = True
        elif self.path == "/cut.bin":
            self._headers(len(PAYLOAD))
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 3])
            self.wfile.flush()
            self.close_connection = True
        elif self.path == "/stall.bin":
            self._headers(len(PAYLOAD))
            self.wfile.write(PAYLOAD[:1000])
            self.wfile.flush()
            self.release.wait(20)
        elif self.path == "/stall-headers.bin":
            self.release.wait(20)
        else:
            self.send_error(404, "Not Found")

    def _headers(self, length):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.end_headers()


@pytest.fixture
def server():
    release = threading.Event()
    handler = type("H", (Handler,), {"release": release, "hits": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield base, handler.hits
    finally:
        release.set()
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def bars(monkeypatch):
    """Record what the downloader tells its progress bar."""
    records = []

    class Bar:
        def __init__(self, total=None, **kwargs):
            self.record = {"total": total, "done": 0, "desc": kwargs.get("desc")}
            records.append(self.record)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, n):
            self.record["done"] += n

    monkeypatch.setattr(download, "progress", Bar)
    return records


def only_leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_reports_progress_verifies_and_reuses_the_cache(server, bars, tmp_path):
    base, hits = server
    got = fetch(f"{base}/data.bin", SHA256, folder=tmp_path)
    assert got == tmp_path / "data.bin" and got.read_bytes() == PAYLOAD
    assert bars == [{"total": len(PAYLOAD), "done": len(PAYLOAD), "desc": "data.bin"}]
    assert fetch(f"{base}/data.bin", SHA256, folder=tmp_path) == got
    assert hits == ["/data.bin"]  # the second call used the cache
    assert only_leftovers(tmp_path) == ["data.bin"]


def test_md5_and_a_server_without_content_length(server, bars, tmp_path):
    base, _ = server
    got = fetch(f"{base}/no-length.bin", MD5, algorithm="md5", folder=tmp_path)
    assert got.read_bytes() == PAYLOAD
    assert bars[0]["total"] is None and bars[0]["done"] == len(PAYLOAD)


def test_checksum_mismatch_keeps_nothing(server, tmp_path):
    base, _ = server
    wrong = hashlib.sha256(b"other").hexdigest()
    with pytest.raises(ChecksumError, match=f"sha256 is {SHA256}, expected {wrong}"):
        fetch(f"{base}/data.bin", wrong, folder=tmp_path)
    assert only_leftovers(tmp_path) == []


def test_a_corrupt_cached_file_is_reported(server, tmp_path):
    (tmp_path / "data.bin").write_bytes(PAYLOAD[:-1] + b"\x00")
    with pytest.raises(ChecksumError, match="data.bin: sha256 is .* corrupt"):
        fetch(f"{server[0]}/data.bin", SHA256, folder=tmp_path)


def test_interrupted_transfer_keeps_nothing_and_a_rerun_succeeds(server, tmp_path):
    base, _ = server
    with pytest.raises(DownloadError, match=f"interrupted after {len(PAYLOAD) // 3} of "
                                            f"{len(PAYLOAD)} bytes.*rerun"):
        fetch(f"{base}/cut.bin", SHA256, folder=tmp_path, filename="data.bin")
    assert only_leftovers(tmp_path) == []
    assert fetch(f"{base}/data.bin", SHA256, folder=tmp_path).read_bytes() == PAYLOAD


def test_404_names_the_status_not_the_network(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404 Not Found") as info:
        fetch(f"{server[0]}/gone.bin", SHA256, folder=tmp_path)
    assert "offline" not in str(info.value)
    assert only_leftovers(tmp_path) == []


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("path", "message"), [
    ("/stall.bin", "stalled: no data for 0.5 s after 1000 of 179200 bytes"),
    ("/stall-headers.bin", "no answer within 0.5 s"),
])
def test_a_stalled_server_is_abandoned_after_the_timeout(server, tmp_path, path, message):
    with pytest.raises(DownloadError, match=message):
        fetch(f"{server[0]}{path}", SHA256, folder=tmp_path, timeout=0.5)
    assert only_leftovers(tmp_path) == []


def test_offline_message_says_where_to_put_the_file(tmp_path):
    with socket.socket() as s:  # a port nobody listens on: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError) as info:
        fetch(f"http://127.0.0.1:{port}/data.bin", SHA256, folder=tmp_path / "c",
              local_hint="Or use --data PATH.")
    message = str(info.value)
    assert "may be offline" in message and "Connection refused" in message
    assert f"Place the file at {tmp_path / 'c' / 'data.bin'}" in message
    assert "ACMLKIT_DATA" in message and message.endswith("Or use --data PATH.")
    assert "\n" not in message


def test_unwritable_cache_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OSError, match="cannot write to the data cache .*file/sub"):
        fetch("http://127.0.0.1:9/x", SHA256, folder=blocker / "sub")


def test_fetch_dataset_uses_the_table(server, monkeypatch, tmp_path):
    monkeypatch.setitem(DATASETS, "tiny", download.Dataset(
        url=f"{server[0]}/data.bin", checksum=MD5, algorithm="md5",
        description="test",
    ))
    assert fetch_dataset("tiny", folder=tmp_path).read_bytes() == PAYLOAD
    with pytest.raises(ValueError, match="unknown data set 'nope'; choose one of"):
        fetch_dataset("nope")


def test_the_table_holds_every_official_archive_once():
    assert set(DATASETS) == {"cifar10", "movielens-100k", "movielens-1m"}
    for spec in DATASETS.values():
        assert spec.url.startswith("https://")
        assert re.fullmatch(r"[0-9a-f]{32}", spec.checksum) and spec.algorithm == "md5"
    assert len({d.url for d in DATASETS.values()}) == len(DATASETS)


def test_the_parts_use_the_same_urls_and_checksums():
    from acmlkit.factorization import data as ratings
    from acmlkit.nets import data as images

    assert (images.CIFAR10_URL, images.CIFAR10_MD5) == (
        DATASETS["cifar10"].url, DATASETS["cifar10"].checksum)
    for variant in ("100k", "1m"):
        table = DATASETS[f"movielens-{variant}"]
        assert (ratings.MOVIELENS[variant]["url"], ratings.MOVIELENS[variant]["md5"]) == (
            table.url, table.checksum)


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ACMLKIT_DATA", str(tmp_path / "d"))
    assert download.cache_dir() == tmp_path / "d"
    monkeypatch.delenv("ACMLKIT_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert download.cache_dir() == tmp_path / "x" / "acmlkit"

"""Weights on demand, against a loopback HTTP server only (never a real URL): the checksum is verified,
a wrong file is refused and removed, an interrupted download resumes (or restarts when the server
ignores ranges), and nothing half-written ever sits under the final name."""

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from eval import weights as weights_module
from eval.cli import main
from eval.download import ChecksumError, DownloadError, download_weights, fetch
from eval.weights import WeightsFile

PAYLOAD = bytes(range(256)) * 1000  # 256 kB
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class Handler(BaseHTTPRequestHandler):
    """Serves PAYLOAD at any path. server.cut_after: send only that many body bytes of the next response
    (with the full Content-Length) and drop the connection; server.ranges: honour Range requests."""

    def do_GET(self):  # noqa: N802
        self.server.requests.append(self.headers.get("Range"))
        start = 0
        if self.server.ranges and self.headers.get("Range"):
            start = int(self.headers["Range"].removeprefix("bytes=").split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.server.cut_after is not None:
            body, self.server.cut_after = body[:self.server.cut_after], None
            self.close_connection = True
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.requests, httpd.cut_after, httpd.ranges = [], None, True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def url(server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/weights.pt"


def test_right_checksum_is_stored(server, tmp_path):
    dest = tmp_path / "cache" / "weights.pt"
    assert fetch(url(server), dest, SHA, progress=False) == SHA
    assert dest.read_bytes() == PAYLOAD
    assert sorted(p.name for p in dest.parent.iterdir()) == ["weights.pt", "weights.pt.sha256"]  # no .part left


def test_a_pinned_prefix_in_upper_case_hex_is_the_same_digest(server, tmp_path):
    """Hex is case-insensitive and a pin may be a prefix (publishers print either)."""
    dest = tmp_path / "weights.pt"
    assert fetch(url(server), dest, SHA[:16].upper(), progress=False) == SHA
    assert dest.read_bytes() == PAYLOAD


def test_wrong_checksum_is_refused_and_removed(server, tmp_path):
    dest = tmp_path / "weights.pt"
    with pytest.raises(ChecksumError, match="not the pinned"):
        fetch(url(server), dest, "0" * 64, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_download_resumes_with_a_range_request(server, tmp_path):
    dest = tmp_path / "weights.pt"
    server.cut_after = 100_000
    with pytest.raises(DownloadError, match="interrupted after 100000 of 256000 bytes"):
        fetch(url(server), dest, SHA, progress=False)
    assert not dest.exists() and (tmp_path / "weights.pt.part").stat().st_size == 100_000
    assert fetch(url(server), dest, SHA, progress=False) == SHA
    assert server.requests == [None, "bytes=100000-"]
    assert dest.read_bytes() == PAYLOAD and sorted(p.name for p in tmp_path.iterdir()) == ["weights.pt", "weights.pt.sha256"]


def test_interrupted_download_restarts_when_the_server_ignores_ranges(server, tmp_path):
    dest = tmp_path / "weights.pt"
    server.ranges, server.cut_after = False, 50_000
    with pytest.raises(DownloadError, match="interrupted"):
        fetch(url(server), dest, SHA, progress=False)
    assert fetch(url(server), dest, SHA, progress=False) == SHA
    assert dest.read_bytes() == PAYLOAD


def test_unreachable_server_is_a_clear_error(tmp_path):
    with pytest.raises(DownloadError, match="cannot download"):
        fetch("http://127.0.0.1:9/none.pt", tmp_path / "x.pt", progress=False)  # port 9: discard, closed
    assert list(tmp_path.iterdir()) == []


def test_weights_download_command_and_metric_download_flag(server, tmp_path, monkeypatch, capsys):
    """The registry entry points at the loopback server; the real URLs are never contacted."""
    monkeypatch.setitem(weights_module.WEIGHTS, "i3d", (WeightsFile("i3d_torchscript.pt", url(server), "test", SHA),))
    root = tmp_path / "weights"
    assert main(["weights", "download", "i3d", "--weights-dir", str(root)]) == 0
    assert (root / "i3d_torchscript.pt").read_bytes() == PAYLOAD
    assert SHA in capsys.readouterr().err
    assert (root / "i3d_torchscript.pt.sha256").read_text().split()[0] == SHA  # recorded, checked at every load
    assert download_weights("i3d", root, progress=False) == root / "i3d_torchscript.pt"  # present: no request
    assert download_weights("i3d_torchscript.pt", root, progress=False) == root / "i3d_torchscript.pt"  # by file name
    assert len(server.requests) == 1
    assert main(["weights", "download", "nonsense", "--weights-dir", str(root)]) == 2
    assert "unknown weights 'nonsense'" in capsys.readouterr().err
    # --download on a metric command fetches what is missing, then the file is loaded (here: not a network)
    (root / "i3d_torchscript.pt").unlink()
    videos = tmp_path / "videos"
    videos.mkdir()
    assert main(["fvd", str(videos), str(videos), "--weights-dir", str(root), "--download", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert len(server.requests) == 2 and "not a usable i3d weights file" in err
    # offline (without --download) the error names what to download and how
    (root / "i3d_torchscript.pt").unlink()
    assert main(["fvd", str(videos), str(videos), "--weights-dir", str(root)]) == 2
    err = capsys.readouterr().err
    assert "python -m eval weights download i3d" in err and "--download" in err and len(server.requests) == 2


def test_download_flag_offline_says_how_to_get_the_file_by_hand(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(weights_module.WEIGHTS, "i3d", (WeightsFile("i3d_torchscript.pt", "http://127.0.0.1:9/x.pt", "test"),))
    videos = tmp_path / "videos"
    videos.mkdir()
    assert main(["fvd", str(videos), str(videos), "--weights-dir", str(tmp_path / "w"), "--download", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "cannot download" in err and str(tmp_path / "w" / "i3d_torchscript.pt") in err
    assert not (tmp_path / "w" / "i3d_torchscript.pt").exists()


def test_default_weights_dir_follows_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.delenv("STREAMDIT_EVAL_WEIGHTS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert weights_module.weights_dir() == tmp_path / "streamdit" / "eval-weights"


def test_a_file_changed_since_download_is_refused(tmp_path, capsys):
    """The digest recorded at download is checked when the metrics load the file."""
    from eval.cli import main as cli

    root = tmp_path / "weights"
    root.mkdir()
    (root / "i3d_torchscript.pt").write_bytes(PAYLOAD[:-1] + b"x")  # changed after download
    (root / "i3d_torchscript.pt.sha256").write_text(f"{SHA}  i3d_torchscript.pt\n")
    videos = tmp_path / "videos"
    videos.mkdir()
    assert cli(["fvd", str(videos), str(videos), "--weights-dir", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not the recorded" in err and "weights download i3d" in err

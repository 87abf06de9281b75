"""p2p_ref.datasets.download and `p2p-data download` against a local HTTP server (no internet)."""

import functools
import io
import socket
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from p2p_ref.datasets.aligned import AlignedDataset
from p2p_ref.datasets.data import main
from p2p_ref.datasets.download import DownloadError, download_dataset

FACADES_COUNTS = {"train": 400, "val": 100, "test": 106}


@functools.lru_cache(maxsize=None)
def tiny_png(i):
    buf = io.BytesIO()
    rgb = np.full((4, 8, 3), i % 251, np.uint8)
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def make_archive(name="facades", counts=FACADES_COUNTS, extra=()):
    """A .tar.gz laid out like the authors' archives: NAME/<split>/<i>.png, plus `extra`
    (member name, bytes) entries to build broken or malicious archives."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        def add(member, data=None):
            info = tarfile.TarInfo(member)
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        add(name)
        for split, n in counts.items():
            add(f"{name}/{split}")
            for i in range(1, n + 1):
                add(f"{name}/{split}/{i}.png", tiny_png(i))
        for member, data in extra:
            add(member, data)
    return buf.getvalue()


@pytest.fixture(scope="module")
def facades_tgz():
    return make_archive()


class Server:
    """A local HTTP server for /NAME.tar.gz that honours (or ignores) Range requests."""

    def __init__(self):
        self.files, self.ranges, self.honour_range = {}, [], True
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                data = server.files.get(self.path.lstrip("/"))
                if data is None:
                    self.send_error(404)
                    return
                rng = self.headers.get("Range")
                server.ranges.append(rng)
                start = 0
                if rng and server.honour_range:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(data):  # nothing left to send
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                self.wfile.write(data[start:])

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def server():
    with Server() as s:
        yield s


def closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def leftovers(root):
    """Anything but the finished dataset folders: temporary folders, archives, parts."""
    return sorted(p.name for p in root.iterdir() if p.name.startswith(".") or ".tar" in p.name)


def test_full_download_checks_and_unpacks(tmp_path, server, facades_tgz, capsys):
    server.files["facades.tar.gz"] = facades_tgz
    dest = download_dataset("facades", tmp_path, base_url=server.url)
    assert dest == tmp_path / "facades"
    for split, n in FACADES_COUNTS.items():
        assert len(list((dest / split).glob("*.png"))) == n
    assert (dest / "val" / "7.png").read_bytes() == tiny_png(7)
    assert leftovers(tmp_path) == []
    out = capsys.readouterr().out
    assert "CMP Facade Database" in out and "GCPR 2013" in out
    assert server.ranges == [None]
    assert len(AlignedDataset(dest, "test", "BtoA", 4, 4, flip=False)) == 106


def test_resume_sends_a_range_request(tmp_path, server, facades_tgz):
    server.files["facades.tar.gz"] = facades_tgz
    cut = len(facades_tgz) // 3
    (tmp_path / "facades.tar.gz.part").write_bytes(facades_tgz[:cut])
    download_dataset("facades", tmp_path, base_url=server.url)
    assert server.ranges == [f"bytes={cut}-"]
    assert len(list((tmp_path / "facades" / "train").glob("*.png"))) == 400
    assert (tmp_path / "facades" / "train" / "400.png").read_bytes() == tiny_png(400)
    assert leftovers(tmp_path) == []


def test_complete_part_file_is_not_downloaded_again(tmp_path, server, facades_tgz):
    server.files["facades.tar.gz"] = facades_tgz
    (tmp_path / "facades.tar.gz.part").write_bytes(facades_tgz)
    download_dataset("facades", tmp_path, base_url=server.url)
    assert server.ranges == [f"bytes={len(facades_tgz)}-"]  # answered 416: already complete
    assert len(list((tmp_path / "facades" / "train").glob("*.png"))) == 400


def test_server_ignoring_range_restarts_from_zero(tmp_path, server, facades_tgz):
    server.files["facades.tar.gz"] = facades_tgz
    server.honour_range = False
    (tmp_path / "facades.tar.gz.part").write_bytes(b"stale bytes that must not be kept")
    download_dataset("facades", tmp_path, base_url=server.url)
    assert server.ranges == ["bytes=33-"]  # asked to resume, got the whole file (200)
    assert len(list((tmp_path / "facades" / "test").glob("*.png"))) == 106


def test_existing_dataset_is_kept_without_network(tmp_path, server, facades_tgz):
    server.files["facades.tar.gz"] = facades_tgz
    download_dataset("facades", tmp_path, base_url=server.url)
    (tmp_path / "facades" / "train" / "1.png").write_bytes(b"mine")
    assert download_dataset("facades", tmp_path, base_url=closed_port_url()) == tmp_path / "facades"
    assert (tmp_path / "facades" / "train" / "1.png").read_bytes() == b"mine"


@pytest.mark.parametrize("archive, message", [
    (lambda: b"\x1f\x8b\x08 this is not gzip data at all" * 10, "not a readable .tar.gz"),
    (lambda: make_archive()[:2000], "not a readable .tar.gz"),
    (lambda: make_archive(counts={"train": 399, "val": 100, "test": 106}),
     "399 images in facades/train/, expected 400"),
    (lambda: make_archive(extra=[("../evil.png", b"x")]), "unsafe path '../evil.png'"),
    (lambda: make_archive(extra=[("/tmp/evil.png", b"x")]), "unsafe path '/tmp/evil.png'"),
    (lambda: make_archive(extra=[("other/1.png", b"x")]), "outside facades/"),
    (lambda: make_archive(extra=[("facades/extra/1.png", b"x")]), "only the split folders"),
    (lambda: make_archive(name="maps", counts={"train": 2}), "outside facades/"),
])
def test_bad_archive_is_rejected_and_nothing_is_left(tmp_path, server, archive, message):
    server.files["facades.tar.gz"] = archive()
    root = tmp_path / "datasets"
    with pytest.raises(DownloadError, match="facades") as err:
        download_dataset("facades", root, base_url=server.url)
    assert message in str(err.value) and "run the command again" in str(err.value)
    assert not (root / "facades").exists()
    assert leftovers(root) == []  # no half-extracted folder, no corrupt archive kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["datasets"]  # nothing escaped


def test_symlink_in_archive_is_rejected(tmp_path, server):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("facades/train/1.png")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)
    server.files["facades.tar.gz"] = buf.getvalue()
    with pytest.raises(DownloadError, match="not a plain file"):
        download_dataset("facades", tmp_path, base_url=server.url)
    assert not (tmp_path / "facades").exists()


def test_offline_message_keeps_the_partial_download(tmp_path):
    part = tmp_path / "facades.tar.gz.part"
    part.write_bytes(b"first bytes")
    url = closed_port_url()
    with pytest.raises(DownloadError) as err:
        download_dataset("facades", tmp_path, base_url=url)
    msg = str(err.value)
    assert f"{url}facades.tar.gz" in msg and "network seems unavailable" in msg
    assert str(part) in msg and "resumes" in msg and "p2p-data synthetic" in msg
    assert part.read_bytes() == b"first bytes"


def test_http_error_is_reported(tmp_path, server):
    with pytest.raises(DownloadError, match="404"):
        download_dataset("maps", tmp_path, base_url=server.url)


def test_hidden_files_are_skipped(tmp_path, server):
    extra = [("night2day/.DS_Store", b"x"), ("night2day/train/._1.png", b"x")]
    server.files["night2day.tar.gz"] = make_archive("night2day", {"train": 2}, extra)
    dest = download_dataset("night2day", tmp_path, base_url=server.url)
    assert sorted(p.name for p in dest.rglob("*")) == ["1.png", "2.png", "train"]


def test_unknown_name(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'facade'.*facades"):
        download_dataset("facade", tmp_path)


def test_dataset_without_known_counts_needs_only_nonempty_splits(tmp_path, server):
    server.files["night2day.tar.gz"] = make_archive("night2day", {"train": 3, "val": 2})
    dest = download_dataset("night2day", tmp_path, base_url=server.url)
    assert len(list((dest / "train").iterdir())) == 3 and len(list((dest / "val").iterdir())) == 2


def test_base_url_from_environment(tmp_path, server, monkeypatch, facades_tgz):
    server.files["facades.tar.gz"] = facades_tgz
    monkeypatch.setenv("P2P_DATA_URL", server.url)
    assert download_dataset("facades", tmp_path).is_dir()


def test_cli_download(tmp_path, server, facades_tgz, capsys):
    server.files["facades.tar.gz"] = facades_tgz
    assert main(["download", "facades", "--root", str(tmp_path), "--base-url", server.url]) == 0
    assert len(list((tmp_path / "facades" / "val").glob("*.png"))) == 100
    assert main(["list", "--root", str(tmp_path)]) == 0
    line = [l for l in capsys.readouterr().out.splitlines() if l.startswith("facades ")][0]
    assert "train 400, val 100, test 106" in line


def test_cli_download_offline_exits_1_with_a_message(tmp_path, capsys):
    code = main(["download", "facades", "--root", str(tmp_path), "--base-url", closed_port_url()])
    err = capsys.readouterr().err
    assert code == 1 and "p2p-data: error:" in err and "p2p-data synthetic" in err
    assert "network seems unavailable" in err and "once you are online" in err
    assert "Traceback" not in err


def test_cli_rejects_unknown_dataset():
    with pytest.raises(SystemExit) as exc:
        main(["download", "facade"])
    assert exc.value.code == 2


# SHA-256 and mirrors


def test_sha256_is_printed_and_verified(tmp_path, server, facades_tgz, capsys):
    import hashlib
    server.files["facades.tar.gz"] = facades_tgz
    digest = hashlib.sha256(facades_tgz).hexdigest()
    download_dataset("facades", tmp_path / "a", base_url=server.url)
    assert f"SHA-256 of facades.tar.gz: {digest} (no published checksum" in capsys.readouterr().out
    download_dataset("facades", tmp_path / "b", base_url=server.url, sha256=digest.upper())
    assert "(as expected)" in capsys.readouterr().out
    assert len(list((tmp_path / "b" / "facades" / "test").iterdir())) == 106


def test_wrong_sha256_refuses_the_archive(tmp_path, server, facades_tgz):
    server.files["facades.tar.gz"] = facades_tgz
    with pytest.raises(DownloadError, match=r"SHA-256 [0-9a-f]{64}, expected 0{64}") as err:
        download_dataset("facades", tmp_path, base_url=server.url, sha256="0" * 64)
    assert "deleted" in str(err.value)
    assert not (tmp_path / "facades").exists() and leftovers(tmp_path) == []
    with pytest.raises(ValueError, match="64 hexadecimal digits"):
        download_dataset("facades", tmp_path, base_url=server.url, sha256="abc")


def test_mirrors_are_tried_in_turn(tmp_path, server, facades_tgz, capsys, monkeypatch):
    server.files["facades.tar.gz"] = facades_tgz
    dead = closed_port_url()
    download_dataset("facades", tmp_path / "a", base_url=dead, mirrors=[server.url])
    assert "trying the next server" in capsys.readouterr().out
    assert len(list((tmp_path / "a" / "facades" / "train").iterdir())) == 400
    with Server() as bad:  # a mirror that serves a broken archive, then a good one
        bad.files["facades.tar.gz"] = facades_tgz[:2000]
        monkeypatch.setenv("P2P_DATA_MIRRORS", server.url)
        download_dataset("facades", tmp_path / "b", base_url=bad.url)
    assert (tmp_path / "b" / "facades" / "val").is_dir() and leftovers(tmp_path / "b") == []
    monkeypatch.delenv("P2P_DATA_MIRRORS")
    with pytest.raises(DownloadError, match="every server failed") as err:
        download_dataset("facades", tmp_path / "c", base_url=dead, mirrors=[closed_port_url()])
    assert str(err.value).count("network seems unavailable") == 2


def test_cli_sha256_and_mirror(tmp_path, server, facades_tgz):
    import hashlib
    server.files["facades.tar.gz"] = facades_tgz
    digest = hashlib.sha256(facades_tgz).hexdigest()
    assert main(["download", "facades", "--root", str(tmp_path), "--base-url", closed_port_url(),
                 "--mirror", server.url, "--sha256", digest]) == 0
    assert (tmp_path / "facades" / "train").is_dir()

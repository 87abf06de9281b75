"""Download the pix2pix datasets from the authors' server, resumably, and check them.

The archives live at http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/NAME.tar.gz and unpack
to NAME/{train,val,test}/*.jpg, each image an A|B pair side by side. A download goes to
ROOT/NAME.tar.gz.part (re-running resumes it with an HTTP Range request), its SHA-256 is printed
and compared with the one given (--sha256) or listed, the archive's listing is checked (every
member under NAME/, no absolute paths or "..", only split folders, the known image counts), and
it is unpacked into a temporary folder that is renamed to ROOT/NAME only once whole. Mirrors
(--mirror, $P2P_DATA_MIRRORS) are tried in turn when a server cannot be reached or sends an
archive that fails the checks. Only the standard library (urllib, tarfile, hashlib) and tqdm.
"""

import hashlib
import http.client
import os
import shutil
import socket
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from p2p_ref.datasets.images import IMAGE_EXTENSIONS, is_image_file

OFFICIAL_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets"
URL_ENV = "P2P_DATA_URL"
MIRRORS_ENV = "P2P_DATA_MIRRORS"  # more base URLs, separated by spaces, tried in turn
SPLITS = ("train", "val", "test")
CHUNK = 1 << 16

# Sizes are the archives' approximate download sizes. `counts` holds only image counts we know
# for sure; other splits just have to be non-empty. `direction` is the usual translation.
# `sha256`: None for every archive, because none could be measured: this table was made on a
# machine without access to the authors' server. The listing and count checks run regardless;
# `p2p-data download` prints each archive's SHA-256, and --sha256 HEX verifies a known one.
DATASETS = {
    "facades": dict(size="31 MB", counts={"train": 400, "val": 100, "test": 106},
                    direction="BtoA", what="label maps <-> photos of building facades",
                    sha256=None),
    "cityscapes": dict(size="113 MB", counts={"train": 2975}, direction="BtoA",
                       what="semantic labels <-> street photos", sha256=None),
    "maps": dict(size="246 MB", counts={"train": 1096}, direction="AtoB",
                 what="aerial photos <-> map tiles", sha256=None),
    "edges2shoes": dict(size="2.2 GB", counts={}, direction="AtoB",
                        what="edge maps -> shoe photos (~50k pairs)", sha256=None),
    "edges2handbags": dict(size="8.6 GB", counts={}, direction="AtoB",
                           what="edge maps -> handbag photos (~137k pairs)", sha256=None),
    "night2day": dict(size="?", counts={}, direction="AtoB",
                      what="night -> day webcam photos (~20k pairs)", sha256=None),
}

FACADES_CITATION = (
    "The facades come from the CMP Facade Database: R. Tylecek and R. Sara, \"Spatial Pattern "
    "Templates for Recognition of Objects with Regular Structure\", GCPR 2013. No license is "
    "published: use your download for study and do not redistribute it."
)


class DownloadError(RuntimeError):
    """A download, check or unpacking step failed; the message says what to do."""


def dataset_url(name, base_url=None):
    """The archive URL: base_url, else $P2P_DATA_URL, else the authors' server."""
    base = base_url or os.environ.get(URL_ENV) or OFFICIAL_URL
    return f"{base.rstrip('/')}/{name}.tar.gz"


def base_urls(base_url=None, mirrors=()):
    """The servers to try, in order: base_url (else $P2P_DATA_URL, else the authors' server),
    then `mirrors`, then the ones in $P2P_DATA_MIRRORS; duplicates dropped."""
    urls = [base_url or os.environ.get(URL_ENV) or OFFICIAL_URL, *mirrors,
            *os.environ.get(MIRRORS_ENV, "").split()]
    return list(dict.fromkeys(u.rstrip("/") for u in urls if u))


def sha256_of(path):
    """The SHA-256 of a file, as 64 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def normalize_sha256(text):
    """64 lower-case hex digits, or ValueError."""
    digest = text.strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"--sha256 {text!r}: expected 64 hexadecimal digits")
    return digest


def verify_sha256(path, expected):
    """Raise DownloadError unless the file's SHA-256 is `expected`; returns the digest."""
    expected = normalize_sha256(expected)
    actual = sha256_of(path)
    if actual != expected:
        raise DownloadError(f"{path} has SHA-256 {actual}, expected {expected}: the archive is "
                            f"corrupt or not the one expected")
    return actual


def count_images(folder):
    """Number of .jpg/.png files in a folder (0 if it is missing)."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    return sum(1 for p in folder.iterdir() if p.is_file() and is_image_file(p))


def is_present(path):
    """True if `path` holds a train/ folder with at least one image."""
    return count_images(Path(path) / "train") > 0


def _offline_message(url, part, reason):
    have = part.stat().st_size if part.exists() else 0
    kept = (f"The partial download ({have:,} bytes) is kept at {part}; re-running the same "
            f"command resumes it." if have else "Re-run the same command once you are online.")
    return (f"could not download {url}: {reason}. The network seems unavailable or the host "
            f"unreachable. {kept} To work offline, generate the synthetic set: p2p-data synthetic")


def fetch(url, part, desc=None, timeout=30):
    """Download `url` into the file `part`, resuming from its current size (HTTP Range).

    A server that ignores the Range header answers 200 with the whole file: the download then
    restarts from byte 0. Network errors raise DownloadError and keep `part` for the next try.
    """
    part = Path(part)
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "p2p-data"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # nothing left to send: check the total the server reports
            total = e.headers.get("Content-Range", "").rpartition("/")[2]
            if total.isdigit() and int(total) == have:
                return part
            part.unlink()
            raise DownloadError(f"{part} does not match {url} (server size {total or '?'}, "
                                f"ours {have}); it was deleted, run the command again") from None
        raise DownloadError(f"the server answered {e.code} {e.reason} for {url}") from None
    except (urllib.error.URLError, socket.timeout, ConnectionError, http.client.HTTPException,
            OSError) as e:
        reason = getattr(e, "reason", e)
        raise DownloadError(_offline_message(url, part, reason)) from None

    with response:
        length = response.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        if have and response.status == 206:
            start = response.headers.get("Content-Range", "").split(" ")[-1].split("-")[0]
            if start != str(have):
                raise DownloadError(f"{url} resumed at byte {start!r} instead of {have}: "
                                    f"delete {part} and run the command again")
            mode = "ab"
        else:  # a fresh download, or the server ignored Range and sends everything again
            have, mode = 0, "wb"
        total = have + length if length is not None else None
        try:
            with open(part, mode) as f, tqdm(total=total, initial=have, unit="B",
                                             unit_scale=True, unit_divisor=1024,
                                             desc=desc) as bar:
                while chunk := response.read(CHUNK):
                    f.write(chunk)
                    bar.update(len(chunk))
        except (socket.timeout, ConnectionError, http.client.HTTPException) as e:
            raise DownloadError(_offline_message(url, part, e)) from None
    size = part.stat().st_size
    if total is not None and size != total:
        raise DownloadError(f"the download of {url} stopped at {size} of {total} bytes; "
                            f"{part} is kept, re-run the command to resume")
    return part


def _hidden(member):
    return any(p.startswith(".") and p != "." for p in PurePosixPath(member.name).parts)


def check_archive(archive, name):
    """Check the listing of NAME.tar.gz before unpacking anything; return the image counts.

    Every member must be a folder or a regular file under NAME/, never an absolute path,
    "..", a link or a device; files must be images in NAME/<split>/ with split in train, val,
    test; train must exist, no split may be empty, and the counts we know must match.
    Hidden files (names starting with ".") are ignored here and not unpacked.
    """
    counts = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for m in tar:
                path = PurePosixPath(m.name)
                parts = [p for p in path.parts if p != "."]
                if path.is_absolute() or ".." in parts:
                    raise DownloadError(f"{archive} holds an unsafe path {m.name!r}; refusing "
                                        f"to unpack it")
                if _hidden(m):  # e.g. .DS_Store or ._1.jpg from a Mac: skipped, not unpacked
                    continue
                if not (m.isdir() or m.isfile()):
                    raise DownloadError(f"{archive} holds {m.name!r}, which is not a plain file "
                                        f"or folder; refusing to unpack it")
                if not parts or parts[0] != name:
                    raise DownloadError(f"{archive} holds {m.name!r} outside {name}/: expected "
                                        f"every member under {name}/")
                if len(parts) >= 2 and parts[1] not in SPLITS:
                    raise DownloadError(f"{archive} holds {m.name!r}: expected only the split "
                                        f"folders {', '.join(SPLITS)} in {name}/")
                if m.isfile():
                    if len(parts) != 3 or not parts[2].lower().endswith(IMAGE_EXTENSIONS):
                        raise DownloadError(f"{archive} holds {m.name!r}: expected only .jpg or "
                                            f".png images directly in {name}/<split>/")
                    counts[parts[1]] = counts.get(parts[1], 0) + 1
                elif len(parts) > 2:
                    raise DownloadError(f"{archive} holds the folder {m.name!r}: expected no "
                                        f"folders inside {name}/<split>/")
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise DownloadError(f"{archive} is not a readable .tar.gz ({e}): the download is "
                            f"corrupt") from None
    expected = DATASETS.get(name, {}).get("counts", {})
    if "train" not in counts:
        raise DownloadError(f"{archive} has no images in {name}/train/")
    for split, n in expected.items():
        if counts.get(split, 0) != n:
            raise DownloadError(f"{archive} has {counts.get(split, 0)} images in {name}/{split}/,"
                                f" expected {n}: the archive is incomplete or not {name}")
    return counts


def extract(archive, name, dest):
    """Unpack a checked archive to `dest` via a temporary folder next to it, then rename."""
    dest = Path(dest)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.extract-", dir=dest.parent))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = [m for m in tar if not _hidden(m)]
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tmp, members, filter="data")
            else:  # Python < 3.10.12: the listing was checked by check_archive
                tar.extractall(tmp, members)
        os.replace(tmp / name, dest)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise DownloadError(f"unpacking {archive} failed ({e}); nothing was written to "
                            f"{dest}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _fetch_checked(name, part, servers, expected):
    """Download the archive to `part` from the first server that gives a good one; return its
    SHA-256 and image counts. A network error keeps the part file (the next server resumes it);
    a bad archive is deleted. When every server fails, the error names each one."""
    failures = []

    def failed(url, error):
        failures.append(f"{url}: {error}")
        if len(failures) < len(servers):
            print(f"{url} failed ({error}); trying the next server")
            return
        if len(servers) > 1:
            raise DownloadError("every server failed:\n  " + "\n  ".join(failures)) from None
        raise error

    for base in servers:
        url = dataset_url(name, base)
        print(f"downloading {url} ({DATASETS[name]['size']}) to {part}")
        try:
            fetch(url, part, desc=name)  # network errors keep the part file for a resume
        except DownloadError as e:
            failed(url, e)
            continue
        try:
            digest = verify_sha256(part, expected) if expected else sha256_of(part)
            counts = check_archive(part, name)
        except DownloadError as e:
            part.unlink(missing_ok=True)  # a bad archive: never resumed
            failed(url, DownloadError(f"{e}. The archive was deleted; run the command again "
                                      f"to download it afresh"))
            continue
        return digest, counts


def download_dataset(name, root="datasets", base_url=None, sha256=None, mirrors=()):
    """Download, check and unpack dataset `name` into root/name; return that Path.

    base_url overrides the server (default: $P2P_DATA_URL, else the authors' server); `mirrors`
    (and $P2P_DATA_MIRRORS) are tried in turn when a server fails. sha256: the archive's
    expected SHA-256 (default: the table's, where known). An existing root/name with images is
    kept as it is.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}: expected one of {', '.join(DATASETS)} "
                         f"(or `p2p-data synthetic` for the offline set)")
    root = Path(root)
    dest = root / name
    if is_present(dest):
        print(f"{name} is already in {dest}")
        return dest
    if dest.exists():
        if not dest.is_dir() or any(dest.iterdir()):
            raise DownloadError(f"{dest} exists but holds no {name} images in train/: move it "
                                f"away, then run the command again")
        dest.rmdir()
    expected = sha256 or DATASETS[name].get("sha256")
    if expected:
        expected = normalize_sha256(expected)
    root.mkdir(parents=True, exist_ok=True)
    part = root / f"{name}.tar.gz.part"
    if name == "facades":
        print(FACADES_CITATION)
    digest, counts = _fetch_checked(name, part, base_urls(base_url, mirrors), expected)
    print(f"SHA-256 of {name}.tar.gz: {digest}" + (" (as expected)" if expected else
          " (no published checksum to compare with; the listing and image counts were checked)"))
    try:
        extract(part, name, dest)
    except DownloadError as e:
        part.unlink(missing_ok=True)
        raise DownloadError(f"{e}. The archive was deleted; run the command again to download "
                            f"it afresh") from None
    part.unlink()
    print(f"{name}: " + ", ".join(f"{n} {s}" for s, n in counts.items()) + f" images in {dest}")
    return dest

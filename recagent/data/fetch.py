"""Public datasets downloaded and verified into the data folder (`recagent data fetch NAME`).

The data folder is `$RECAGENT_DATA`, else `$XDG_DATA_HOME/recagent`, else `~/.local/share/recagent`;
a dataset lands in `<data folder>/<name>/`. A scenario whose `dataset.path` does not exist looks
there too (scenario_loading.resolve), so `scenarios/movielens_cocoon.yaml` runs from a clone once
`recagent data fetch ml-100k` has run.

The archive is streamed to a temporary file beside the data folder (at most `max_bytes`), and only
the files this module knows are taken from it: each one by its exact member name, checked for size
and sha256 while it is written into a temporary folder, which replaces the dataset folder in one
rename when every file matched. Nothing else in the archive is written, so a member name cannot
escape the folder, and a failed or interrupted fetch leaves the previous folder (or none) as it was.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError


@dataclass(frozen=True)
class Remote:
    """Where a dataset is published, and the files it must contain (name -> (bytes, sha256))."""

    url: str
    prefix: str  # folder of the files inside the zip
    files: dict[str, tuple[int, str]]
    terms: str
    max_bytes: int = 100_000_000


# sha256 and sizes of the files in GroupLens' ml-100k.zip (the copy the project's tests use);
# the zip also holds scripts and the ua/ub splits, which no loader reads and which are not kept.
ML_100K = Remote(
    url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
    prefix="ml-100k/",
    terms="GroupLens' terms (ml-100k/README): research use, cite Harper and Konstan 2015, do not redistribute",
    files={
        "README": (6750, "4883b8cf340ed0059971b33f56ad3adc88a40792108ebca3d24aafc4c82e8b52"),
        "u.data": (1979173, "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"),
        "u.genre": (202, "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb"),
        "u.info": (36, "5b0a40b2e47a729ee6203063f6dcf8790c2e63f5a18663e6ee318a72c5f3c27b"),
        "u.item": (236344, "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701"),
        "u.occupation": (193, "cd5fbec9afe345d993a62fc7817df1a4a9079c4feb267b3118763b8fd942137d"),
        "u.user": (22629, "8677fe7565ea60a10918eb4b297da546e41c49e33b0e858aade4a05260a9fd34"),
        "u1.base": (1586544, "ce253ec86c448b44fb3ba9a30d12dcfc2e9210cbde71efada3730c22e9ac212a"),
        "u1.test": (392629, "18c6014a4b2c7324f250a63f8904a7b16b2b19f911129e346141507b0cbac950"),
        "u2.base": (1583948, "6c06f0b5df4b256da1a994f3ac66edc8da4d3f09bc9282df6b14d893366d703e"),
        "u2.test": (395225, "4de658d1e04ed9104629509a2e2528fce833ac8e048280183f1df167632038c3"),
        "u3.base": (1582546, "afdc155c291c6edc41c0407e39d7462eb98d341e064f0b0a12175b80b3c4af5d"),
        "u3.test": (396627, "0f548b51c78327de4c156461d3e430b7e5579fe2b5681586a59416e48fd35f6d"),
        "u4.base": (1581878, "219f0f4d40dfe9c5141d425f53fa91ee23ed275f14e280bbf1b50117afb064ca"),
        "u4.test": (397295, "7c02ad0a1e7ab1083c8b9d4b627203a051dd7b5eab46d99fa44de33470de8db9"),
        "u5.base": (1581776, "a9574e59ce961eec2121627760b6e9b0974ce1637b3fe69ac32cb14a4bfab485"),
        "u5.test": (397397, "351cc52e0d15b6c721466276fc24671d40936899e3d01fadeaf312915b8c5634"),
    },
)

DATASETS: dict[str, Remote] = {"ml-100k": ML_100K}
CHUNK = 1 << 20
TIMEOUT_S = 60


def data_home() -> Path:
    """The folder fetched datasets go to (see the module doc)."""
    if os.environ.get("RECAGENT_DATA"):
        return Path(os.environ["RECAGENT_DATA"]).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share") / "recagent"


def fetched_path(name: str) -> Path:
    return data_home() / name


def remote(name: str) -> Remote:
    if name not in DATASETS:
        raise UserError(f"dataset {name!r} cannot be fetched; known: {', '.join(sorted(DATASETS))}")
    return DATASETS[name]


def _download(url: str, to: Path, max_bytes: int) -> None:
    """Stream `url` into the file `to`, refusing more than `max_bytes`."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, open(to, "wb") as out:
            total = 0
            while chunk := response.read(CHUNK):
                total += len(chunk)
                if total > max_bytes:
                    raise UserError(f"{url}: more than {max_bytes:,} bytes; this is not the expected archive")
                out.write(chunk)
    except urllib.error.HTTPError as e:
        raise UserError(f"{url}: download failed: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", None) or e.strerror or e
        raise UserError(f"{url}: download failed: {reason}") from None


def _extract_verified(archive: Path, spec: Remote, into: Path, where: str) -> None:
    """Write each known file of the zip into `into`, checking its size and sha256 on the way."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as e:
        raise UserError(f"{where}: not a zip archive ({e})") from None
    with zf:
        members = {info.filename: info for info in zf.infolist()}
        for name, (size, sha256) in spec.files.items():
            info = members.get(spec.prefix + name)
            if info is None or info.is_dir():
                raise UserError(f"{where}: {spec.prefix + name} is missing from the archive")
            if info.file_size != size:
                raise UserError(f"{where}: {spec.prefix + name} has {info.file_size:,} bytes, expected {size:,}")
            digest = hashlib.sha256()
            written = 0
            try:
                with zf.open(info) as src, open(into / name, "wb") as dst:
                    while chunk := src.read(CHUNK):
                        written += len(chunk)
                        if written > size:  # the header lied about the size
                            raise UserError(f"{where}: {spec.prefix + name} is longer than {size:,} bytes")
                        digest.update(chunk)
                        dst.write(chunk)
            except (zipfile.BadZipFile, EOFError, OSError) as e:  # a CRC error, a cut archive
                raise UserError(f"{where}: {spec.prefix + name} cannot be read ({e})") from None
            if digest.hexdigest() != sha256:
                raise UserError(f"{where}: {spec.prefix + name} has sha256 {digest.hexdigest()}, expected {sha256}")


def fetch(name: str, *, url: str | None = None, dest: Path | None = None, force: bool = False) -> Path:
    """Download dataset `name` (from `url`, default its publisher) into `dest` (default the data
    folder), verify every file and place the folder atomically; the folder. An already fetched,
    complete folder is kept unless `force`."""
    spec = remote(name)
    dest = Path(dest) if dest is not None else fetched_path(name)
    url = url or spec.url
    if not force and is_complete(dest, spec):
        return dest
    parent = dest.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"{parent}: cannot create the data folder ({e.strerror or e})") from None
    work = Path(tempfile.mkdtemp(prefix=f".{name}-fetch-", dir=parent))
    try:
        archive = work / "download.zip"
        _download(url, archive, spec.max_bytes)
        files = work / name
        files.mkdir()
        _extract_verified(archive, spec, files, url)
        if dest.exists() or dest.is_symlink():  # moved aside, removed with the work folder
            os.replace(dest, work / "previous")
        os.replace(files, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest


def is_complete(folder: Path, spec: Remote) -> bool:
    """Every known file is there with its size (a cheap check; `fetch` verified the contents)."""
    return folder.is_dir() and all((folder / n).is_file() and (folder / n).stat().st_size == size
                                   for n, (size, _) in spec.files.items())

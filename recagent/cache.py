"""Where prepared artefacts (keywords, trained models, embeddings, the LLM prompt cache) are kept, and
how a cache entry is written and trusted.

A cache folder may be shared or handed over, so what is read back is input, not recagent's own:
an entry holds arrays in `.npz` files without object arrays (loaded with `allow_pickle=False`),
torch weights as safetensors and everything else as JSON, under a `manifest.json` that names the
entry's format version, the recagent version that wrote it and the sha256 of each file. Nothing
in an entry is unpickled or executed. An entry that does not match its manifest (a truncated or
changed file, an old format) is reported in one line and rebuilt by its caller.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import UserError

VARIABLE = "RECAGENT_CACHE"
PATH_MARGIN = 160  # characters the entries add below the cache folder (ensemble/<name>-<hash>/<file>)
MAX_MANIFEST_BYTES = 4 << 20


def cache_dir() -> Path:
    """$RECAGENT_CACHE (an empty value means unset), else ~/.cache/recagent; checked (see check_cache_dir)."""
    value = os.environ.get(VARIABLE, "")
    if value.strip():
        return check_cache_dir(Path(value).expanduser(), VARIABLE)
    return check_cache_dir(Path("~/.cache/recagent").expanduser(), f"HOME; set {VARIABLE} to a writable folder")


def chosen_cache(option: Path | None, name: str = "--cache") -> Path:
    """The folder a command's cache option names (checked like the variable), else `cache_dir()`."""
    return check_cache_dir(option.expanduser(), name) if option is not None else cache_dir()


def check_cache_dir(path: Path, source: str) -> Path:
    """`path` when it is, or can become, a writable folder; else one UserError naming it and `source`
    (the variable or option it came from). Nothing is created here."""
    def refuse(why: str) -> UserError:
        return UserError(f"cache folder {why} (from {source})", path)

    text = str(path)
    if len(os.fsencode(text)) + PATH_MARGIN > _limit("PC_PATH_MAX", 4096):
        raise refuse(f"path is too long ({len(text):,} characters; the system allows "
                     f"{_limit('PC_PATH_MAX', 4096) - PATH_MARGIN:,} for a cache folder)")
    if any(len(os.fsencode(part)) > _limit("PC_NAME_MAX", 255) for part in path.parts):
        raise refuse(f"path has a name longer than {_limit('PC_NAME_MAX', 255)} bytes")
    if path.is_symlink() and not path.exists():
        raise refuse(f"is a dangling symlink (to {os.readlink(path)})")
    if path.exists():
        if not path.is_dir():
            raise refuse("is a file, not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise refuse("is not writable")
        return path
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        if ancestor.is_symlink():
            raise refuse(f"lies under a dangling symlink {ancestor}")
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise refuse(f"cannot be created: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise refuse(f"cannot be created: {ancestor} is not writable")
    return path


def _limit(name: str, default: int) -> int:
    try:
        return int(os.pathconf("/", name))
    except (OSError, ValueError):
        return default


def publish_folder(folder: Path, write: Callable[[Path], object], marker: str) -> None:
    """Write a cache folder whole or not at all.

    `write(tmp)` fills a temporary sibling, which is then renamed to `folder`, so a crash or an
    error leaves no half-written entry. A `folder` without its `marker` file (half-written by an
    older version) is replaced; one with it (another process finished the same entry first) is
    kept and this one dropped. A folder that cannot be written is one UserError naming it.
    """
    tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}"
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        write(tmp)
        if folder.is_symlink() or (folder.exists() and not (folder / marker).is_file()):
            remove_entry(folder)
        try:
            os.rename(tmp, folder)
        except OSError:
            if not (folder / marker).is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UserError(f"cannot write the cache entry ({e.strerror or e}); set {VARIABLE} to a writable folder",
                        folder) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def remove_entry(folder: Path) -> None:
    """Remove a cache entry; a symlink is unlinked, never followed."""
    if folder.is_symlink() or folder.is_file():
        folder.unlink()
    elif folder.exists():
        shutil.rmtree(folder)


# ===== entries: files under a manifest ===============================================================
def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_manifest(folder: Path, manifest: dict, files: list[str], kind: str, format_version: int) -> None:
    """manifest.json of an entry: its kind, format, the recagent version and each file's sha256."""
    from . import __version__

    body = {"kind": kind, "format": format_version, "recagent": __version__,
            "files": {name: sha256_file(folder / name) for name in files}, **manifest}
    (folder / "manifest.json").write_text(json.dumps(body, indent=2, default=_json_default))


def read_manifest(folder: Path, kind: str, format_version: int) -> tuple[dict | None, str | None]:
    """(manifest, None) for an entry whose files all match it, else (None, why not).

    Only plain files directly in `folder` count: a listed name with a path separator, or a file
    that is a symlink, is a mismatch, so an entry never makes recagent read outside itself.
    """
    path = folder / "manifest.json"
    if path.is_symlink() or not path.is_file():
        return None, "no manifest.json"
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            return None, "manifest.json is too large"
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        return None, f"manifest.json is not readable JSON ({str(e)[:60]})"
    if not isinstance(manifest, dict) or manifest.get("kind") != kind:
        return None, f"manifest.json is not a {kind} entry"
    if manifest.get("format") != format_version:
        return None, f"format {manifest.get('format')!r}, this recagent reads format {format_version}"
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return None, "manifest.json lists no files"
    for name, digest in files.items():
        target = folder / str(name)
        if not isinstance(name, str) or "/" in name or "\\" in name or name in ("", ".", ".."):
            return None, f"manifest.json names a file outside the entry ({str(name)[:40]!r})"
        if target.is_symlink() or not target.is_file():
            return None, f"{name} is missing"
        try:
            if sha256_file(target) != digest:
                return None, f"{name} does not match its sha256 in manifest.json (truncated or changed)"
        except OSError as e:
            return None, f"{name} is not readable ({e.strerror})"
    return manifest, None


def say_rebuilding(folder: Path, why: str) -> None:
    """The one line for an entry that is there but cannot be used."""
    print(f"cache entry {folder} is not usable ({why}); rebuilding it", file=sys.stderr)


# ===== state: arrays + JSON ==============================================================================
def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An .npz of plain (numeric, bool or fixed-width text) arrays: refuses object arrays."""
    for name, a in arrays.items():
        if np.asarray(a).dtype.hasobject:
            raise TypeError(f"array {name!r} holds Python objects; cache entries store plain arrays only")
    with open(path, "wb") as f:
        np.savez(f, **{k: np.asarray(v) for k, v in arrays.items()})


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an .npz, never unpickling (an object array is a ValueError)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:  # truncated, or an object array (ValueError)
        raise ValueError(f"{Path(path).name}: {str(e)[:80]}") from None


def split_state(state, arrays: dict[str, np.ndarray], prefix: str = ""):
    """A state tree -> a JSON-able tree, its arrays moved into `arrays` (replaced by {"__array__": key})."""
    if isinstance(state, np.ndarray) and state.ndim > 0:
        arrays[prefix] = state
        return {"__array__": prefix}
    if isinstance(state, dict):
        return {str(k): split_state(v, arrays, f"{prefix}/{k}" if prefix else str(k)) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return [split_state(v, arrays, f"{prefix}/{n}") for n, v in enumerate(state)]
    return _json_default(state) if isinstance(state, np.generic | np.ndarray) else state


def join_state(tree, arrays: dict[str, np.ndarray]):
    """The inverse of split_state."""
    if isinstance(tree, dict):
        if set(tree) == {"__array__"}:
            return arrays[tree["__array__"]]
        return {k: join_state(v, arrays) for k, v in tree.items()}
    if isinstance(tree, list):
        return [join_state(v, arrays) for v in tree]
    return tree


def _json_default(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")

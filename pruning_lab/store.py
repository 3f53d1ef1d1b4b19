"""Content-addressed storage: the baseline cache and the result store.

Files are written to a temporary name and renamed, so a reader never sees half a file; each
carries a SHA-256 checksum, so a truncated or edited file is detected and rebuilt rather than
used. Tensors are loaded with ``weights_only=True``: nothing in a cache file can run code.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Callable

import torch
from filelock import FileLock

log = logging.getLogger(__name__)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that it either appears whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def dump_json(obj: dict) -> bytes:
    """Pretty JSON with a checksum over the canonical form of everything else."""
    body = {k: v for k, v in obj.items() if k != "checksum"}
    return (json.dumps({**body, "checksum": sha256(canonical(body))}, indent=1, sort_keys=True) + "\n").encode()


def load_json(path: Path) -> dict | None:
    """The JSON at ``path`` if it is whole and its checksum matches, else None (and a warning)."""
    try:
        obj = json.loads(path.read_bytes())
        checksum = obj.pop("checksum")
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, AttributeError, TypeError, OSError) as e:
        log.warning("ignoring unreadable file %s (%s)", path, type(e).__name__)
        return None
    if sha256(canonical(obj)) != checksum:
        log.warning("ignoring %s: checksum mismatch (truncated or edited)", path)
        return None
    return obj


class BaselineCache:
    """Trained + pruned baselines under a hash of exactly the config that determines them."""

    def __init__(self, root: Path | str):
        self.root = Path(root) / "baselines"

    def paths(self, key: str) -> tuple[Path, Path, Path]:
        return self.root / f"{key}.pt", self.root / f"{key}.json", self.root / f"{key}.lock"

    def read(self, key: str) -> dict[str, torch.Tensor] | None:
        tensors, meta_path, _ = self.paths(key)
        meta = load_json(meta_path)
        if meta is None:
            return None
        try:
            blob = tensors.read_bytes()
        except FileNotFoundError:
            return None
        if sha256(blob) != meta.get("sha256"):
            log.warning("baseline cache entry %s is corrupt; rebuilding it", tensors)
            return None
        return torch.load(io.BytesIO(blob), weights_only=True)

    def write(self, key: str, state: dict[str, torch.Tensor], about: dict) -> None:
        tensors, meta_path, _ = self.paths(key)
        buf = io.BytesIO()
        torch.save(state, buf)
        blob = buf.getvalue()
        atomic_write(tensors, blob)
        # the metadata names the tensors' checksum, so it is written last: its presence commits
        atomic_write(meta_path, dump_json({"key": key, "sha256": sha256(blob), "config": about}))

    def get_or_create(self, key: str, build: Callable[[], dict[str, torch.Tensor]], about: dict
                      ) -> tuple[dict[str, torch.Tensor], bool]:
        """The cached state for ``key`` (hit=True) or a freshly built one; one builder at a time."""
        self.root.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.paths(key)[2])):
            state = self.read(key)
            if state is not None:
                return state, True
            state = build()
            self.write(key, state, about)
            return state, False


class ResultStore:
    """One JSON per job under the hash of its result-relevant config."""

    def __init__(self, root: Path | str):
        self.root = Path(root) / "results"

    def path(self, config_hash: str) -> Path:
        return self.root / f"{config_hash}.json"

    def load(self, config_hash: str) -> dict | None:
        return load_json(self.path(config_hash))

    def save(self, result: dict) -> Path:
        path = self.path(result["config_hash"])
        atomic_write(path, dump_json(result))
        return path

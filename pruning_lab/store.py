"""Content-addressed storage: the baseline cache and the result store, and a job's result
from them (``Store.result_of``: stored, or computed by ``sim.protocol.run`` and stored).

Files are written to a temporary name and renamed, so a reader never sees half a file; each
carries a SHA-256 checksum, so a truncated or edited file is detected, reported and rebuilt
rather than used. Tensors are loaded with ``weights_only=True``: nothing in a cache file can
run code. Whoever builds an entry holds its file lock, so concurrent sweeps build it once.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from filelock import FileLock, Timeout

from . import numerics
from .config import SCHEMA, ConfigError, Job, job_hash, shown

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

# the result schemas a stored result may have and still be its job's: schema 1 differs only in
# what its reader labels it by (``labelled``), not in its numbers, so it is reused, never computed again
READABLE = (SCHEMA, "pruning-lab/result/1")


class BadDirectory(ConfigError):
    """A directory no store, sweep or report can be written to; the message is one line."""


def check_dir(value: object, key: str, existing_read_only: bool = False) -> Path:
    """The directory ``value`` names, for ``key`` to write into; ``BadDirectory`` (naming ``key``) if
    it is empty, a file, or cannot be created or written (``existing_read_only``: an existing
    directory may be read-only, as a store that serves its results)."""
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise BadDirectory(f"{key} must name a directory, got {shown(value)}")
    path = Path(value)
    if "\0" in str(path):
        raise BadDirectory(f"{key} must name a directory, got {str(path)!r} (a NUL character)")
    try:
        exists = path.exists() or path.is_symlink()
    except OSError as e:  # a name too long, a loop of links
        raise BadDirectory(f"{key} {str(path)[:80]!r}... cannot be a directory ({e.strerror})") from None
    if exists:
        if not path.is_dir():
            what = "a file" if path.exists() else "a broken symbolic link"
            raise BadDirectory(f"{key} {path} is {what}, not a directory")
        if existing_read_only:
            return path
        parent = path
    else:
        parent = path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise BadDirectory(f"{key} {path} cannot be created: {parent} is a file")
        longest = max(len(os.fsencode(part)) for part in path.relative_to(parent).parts)
        if longest > os.pathconf(parent, "PC_NAME_MAX") or len(os.fsencode(path)) >= os.pathconf(parent, "PC_PATH_MAX"):
            raise BadDirectory(f"{key} {str(path)[:80]!r}... cannot be created: its name is too long")
    verb = "written to" if parent == path else "created"
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BadDirectory(f"{key} {path} cannot be {verb}: {parent} is not writable")
    try:  # modes do not tell it all (root, /proc, /sys, a full or read-only filesystem): try, leave nothing
        tempfile.TemporaryDirectory(dir=parent, prefix=".pruning-lab-probe-").cleanup()
    except OSError as e:
        raise BadDirectory(f"{key} {path} cannot be {verb}: {parent} takes no new directory "
                       f"({e.strerror or type(e).__name__})") from None
    return path


def check_root(value: object) -> Path:
    """The store directory ``value`` names (it may be read-only: it serves its results); ``BadDirectory``
    if it is empty, a file or cannot be created."""
    return check_dir(value, "paths.store", existing_read_only=True)


def writable(root: Path | str) -> bool:
    """False for a store that can only be read (an archive, a shared results directory)."""
    root = Path(root)
    return not root.exists() or all(os.access(p, os.W_OK) for p in (root, root / "results", root / "locks")
                                    if p.exists())


class Corrupt(ValueError):
    """A store file that exists but cannot be trusted; the message says why, in one line.

    ``path`` names the damaged file when it is not the entry's main one (a baseline's metadata).
    """

    def __init__(self, why: str, path: Path | None = None):
        super().__init__(why)
        self.path = path


def _report(path: Path, why: str, repaired: list[str]) -> None:
    line = f"{path}: {why}"
    log.warning("corrupt store entry %s; rebuilding it", line)
    repaired.append(line)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, data: bytes, durable: bool = True) -> None:
    """Write ``data`` to ``path`` so that it either appears whole or not at all.

    ``durable=False`` skips the fsync, for copies the store can rebuild (a sweep's job dirs).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would hide a shared store from the group
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def clear_temporaries(path: Path) -> None:
    """Remove what an interrupted ``atomic_write`` of ``path`` left; call it holding ``path``'s lock."""
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        tmp.unlink(missing_ok=True)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def dump_json(obj: dict) -> bytes:
    """Pretty JSON with a checksum over the canonical form of everything else."""
    body = {k: v for k, v in obj.items() if k != "checksum"}
    return (json.dumps({**body, "checksum": sha256(canonical(body))}, indent=1, sort_keys=True) + "\n").encode()


def read_json(path: Path) -> dict | None:
    """The checksummed JSON at ``path``; None if there is none; ``Corrupt`` if it is damaged."""
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise Corrupt(f"unreadable ({e.strerror or type(e).__name__})") from None
    try:
        obj = json.loads(blob)
    except ValueError:
        raise Corrupt("not valid JSON (truncated or damaged)") from None
    return checked(obj)


def checked(obj) -> dict:
    """``obj`` without its checksum if the checksum matches the rest, else ``Corrupt``."""
    if not isinstance(obj, dict) or not isinstance(obj.get("checksum"), str):
        raise Corrupt("no checksum")
    body = {k: v for k, v in obj.items() if k != "checksum"}
    if sha256(canonical(body)) != obj["checksum"]:
        raise Corrupt("checksum mismatch (truncated or edited)")
    return body


@contextmanager
def locked(path: Path, what: str) -> Iterator[None]:
    """Hold the file lock ``path``; say so when another process holds it first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("waiting for another process that is building %s", what)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


class BaselineCache:
    """Healthy (trained, not yet pruned) networks under a hash of exactly the config that
    determines them; ``get_or_create`` is a ``sim.protocol.BaselineProvider``."""

    def __init__(self, root: Path | str, repaired: list[str] | None = None):
        self.root = Path(root) / "baselines"
        self.repaired = [] if repaired is None else repaired  # corrupt entries found, one line each

    def paths(self, key: str) -> tuple[Path, Path, Path]:
        return self.root / f"{key}.pt", self.root / f"{key}.json", self.root / f"{key}.lock"

    def check(self, key: str) -> dict[str, torch.Tensor] | None:
        """The cached state for ``key``; None if absent; ``Corrupt`` if damaged in any way."""
        import torch  # here, so that a refused command line never waits for torch to load

        tensors, meta_path, _ = self.paths(key)
        try:
            meta = read_json(meta_path)
        except Corrupt as e:
            raise Corrupt(str(e), meta_path) from None
        if meta is None:
            return None  # the metadata is written last: without it the entry was never committed
        if meta.get("key") != key or not isinstance(meta.get("sha256"), str):
            raise Corrupt(f"metadata names another entry ({meta.get('key')!r})", meta_path)
        try:
            blob = tensors.read_bytes()
        except FileNotFoundError:
            raise Corrupt("tensor file missing") from None
        except OSError as e:
            raise Corrupt(f"tensor file unreadable ({e.strerror or type(e).__name__})") from None
        if sha256(blob) != meta["sha256"]:
            raise Corrupt("tensor file checksum mismatch (truncated or edited)")
        try:
            state = torch.load(io.BytesIO(blob), weights_only=True)
        except Exception as e:  # a checksummed file torch cannot read is still not to be trusted
            raise Corrupt(f"tensor file unreadable by torch ({type(e).__name__})") from None
        if not (isinstance(state, dict) and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                for k, v in state.items())):
            raise Corrupt("tensor file does not hold a dict of tensors")
        return state

    def read(self, key: str) -> dict[str, torch.Tensor] | None:
        """The cached state for ``key``, or None if absent or damaged (reported, not used)."""
        try:
            return self.check(key)
        except Corrupt as e:
            _report(e.path or self.paths(key)[0], str(e), self.repaired)
            return None

    def write(self, key: str, state: dict[str, torch.Tensor], about: dict) -> None:
        import torch

        tensors, meta_path, _ = self.paths(key)
        buf = io.BytesIO()
        torch.save(state, buf)
        blob = buf.getvalue()
        atomic_write(tensors, blob)
        # the metadata names the tensors' checksum, so it is written last: its presence commits
        atomic_write(meta_path, dump_json({"key": key, "sha256": sha256(blob), "config": about}))

    def get_or_create(self, key: str, about: dict, build: Callable[[], dict[str, torch.Tensor]]
                      ) -> tuple[dict[str, torch.Tensor], bool]:
        """The cached state for ``key`` (hit=True) or a freshly built one; one builder at a time."""
        with locked(self.paths(key)[2], f"baseline {key}"):
            state = self.read(key)
            if state is not None:
                return state, True
            for path in self.paths(key)[:2]:
                clear_temporaries(path)
            state = build()
            self.write(key, state, about)
            return state, False


class ResultStore:
    """One JSON per job under the hash of its result-relevant config."""

    def __init__(self, root: Path | str, repaired: list[str] | None = None):
        self.root = Path(root) / "results"
        self.repaired = [] if repaired is None else repaired  # corrupt entries found, one line each

    def path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def lock(self, key: str):
        """The lock its builder holds while computing ``key``'s result."""
        return locked(self.root.parent / "locks" / f"result-{key}.lock", f"result {key}")

    def check(self, key: str) -> dict | None:
        """The stored result; None if absent; ``Corrupt`` if damaged or not this job's."""
        obj = read_json(self.path(key))
        if obj is None:
            return None
        if obj.get("schema") not in READABLE:
            raise Corrupt(f"schema {obj.get('schema')!r}, expected {' or '.join(map(repr, READABLE))}")
        config = obj.get("config")
        if obj.get("config_hash") != key or not isinstance(config, dict) or job_hash(config) != key:
            raise Corrupt("holds the result of another config")
        return obj

    def load(self, key: str) -> dict | None:
        """The valid stored result, or None if absent or damaged (reported, not used)."""
        try:
            return self.check(key)
        except Corrupt as e:
            _report(self.path(key), str(e), self.repaired)
            return None

    def save(self, result: dict) -> Path:
        path = self.path(result["config_hash"])
        atomic_write(path, dump_json(result))
        return path


class ReadOnlyStore(RuntimeError):
    """The store can only be read and does not hold the result asked for."""


class Store:
    """A store directory: its results and its baseline cache; ``repaired`` lists the corrupt
    entries found (and rebuilt) through it, one line each."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.repaired: list[str] = []
        self.results = ResultStore(self.root, self.repaired)
        self.baselines = BaselineCache(self.root, self.repaired)

    def result_of(self, job: Job, force: bool = False, knobs: dict | None = None,
                  isa: str | None = None) -> tuple[dict, bool]:
        """The job's result, from the store when a valid one is there (reused=True), else computed and stored.

        A stored result is read without a lock (files appear whole or not at all), so a read-only
        store serves its results. The job's lock is held while it is computed, so a concurrent
        sweep that reaches the same job waits and then reuses the result instead of computing it twice.
        ``knobs``: the treatment's knobs as typed (``config.Config.knobs``), recorded in a result computed here.
        ``isa``: the portable products' tiles (numerics.prepare), if not this process's.
        """
        numerics.prepare(job.numerics, isa)  # before this process first loads torch and numba, if it has not
        from .sim.protocol import run  # here, so that a refused command line never waits for torch to load

        if not force:
            try:
                if (stored := self.results.check(job.hash)) is not None:
                    return stored, True
            except Corrupt:
                pass  # reported and rebuilt below, under the lock
        if not writable(self.root):
            raise ReadOnlyStore(f"the store {self.root} is read-only and does not hold this job's result")
        with self.results.lock(job.hash):
            if not force and (stored := self.results.load(job.hash)) is not None:
                return stored, True
            clear_temporaries(self.results.path(job.hash))  # a write cut short by a kill
            result = labelled(run(job, self.baselines.get_or_create), job, knobs)
            self.results.save(result)
            return result, False


def labelled(result: dict, job: Job, knobs: dict | None) -> dict:
    """A computed result with what its reader labels it by: the arm it belongs to (its treatment's) and
    the treatment's knobs as typed, each with its value and the phase keys it feeds (``config.knob_record``)."""
    return {**result, "arm": job.treatment.name, "knobs": knobs or {}}

"""The config folders Hydra searches: the shipped ``conf/``, then the user's own.

The user's folder is laid out as ``conf/`` is (``treatment/mine.yaml``, ``experiment/mine.yaml``,
any other group). It is ``$PRUNING_LAB_CONF`` when that is set, else ``./conf`` of the working
directory when there is one. Given once, it serves the command line, ``pruning_lab.simulate``
and ``pruning_lab.sweep`` alike, and every launcher: a sweep plans its jobs where it is started,
and a SLURM task runs the planned job without reading a config again. A file of the user's
folder with a shipped file's name is refused, as is a chain of treatments that extend one
another in a cycle (Hydra would recurse until Python's stack ran out).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..config import ConfigError

ENV = "PRUNING_LAB_CONF"
SHIPPED = Path(__file__).resolve().parents[2] / "conf"


def own_folder() -> Path | None:
    """The user's config folder, checked (``ConfigError`` for one missing or shadowing a shipped
    file); None when there is none."""
    given = os.environ.get(ENV, "")
    if given:
        folder = Path(given).expanduser()
        if not folder.is_dir():
            raise ConfigError(f"{ENV}={given}: no such folder")
    else:
        folder = Path("conf")
        if not folder.is_dir():
            return None
    folder = folder.resolve()
    if folder == SHIPPED:
        return None
    shipped = {p.relative_to(SHIPPED) for p in _yaml_files(SHIPPED)}
    for path in _yaml_files(folder):
        name = path.relative_to(folder)
        if name in shipped:
            what = f"the shipped {name.parent.as_posix()} {name.stem!r}" if name.parent.parts else "a shipped file"
            raise ConfigError(f"{path} shadows {what} (conf/{name.as_posix()}): give it another name"
                              + (f" (a treatment derived from it starts with defaults: [{name.stem}, _self_])"
                                 if name.parent.parts else ""))
    return folder


def _yaml_files(folder: Path) -> list[Path]:
    """The config files under ``folder``, hidden directories (a job's ``.hydra/``) left out."""
    return sorted(p for p in folder.rglob("*.yaml") if not any(part.startswith(".")
                                                               for part in p.relative_to(folder).parts[:-1]))


def check_extensions(folders: list[Path]) -> None:
    """``ConfigError`` naming the file where a chain of group options that extend one another
    (``defaults: [ketamine, _self_]``) comes back to itself."""
    import yaml

    parents: dict[str, list[str]] = {}  # "treatment/consolidate_only" -> ["treatment/ketamine"]
    files: dict[str, Path] = {}
    for folder in folders:
        for path in _yaml_files(folder):
            name = path.relative_to(folder).with_suffix("").as_posix()
            text = path.read_text(errors="replace")
            if "/" not in name or "defaults" not in text:
                continue
            try:
                defaults = (yaml.safe_load(text) or {}).get("defaults") or []
            except (yaml.YAMLError, AttributeError):
                continue  # Hydra names a file it cannot read itself
            group = name.rsplit("/", 1)[0]
            files.setdefault(name, path)
            parents.setdefault(name, []).extend(f"{group}/{d}" for d in defaults
                                                if isinstance(d, str) and d != "_self_" and "/" not in d)
    done: set[str] = set()

    def visit(name: str, chain: list[str]) -> None:
        if name in chain:
            loop = chain[chain.index(name):] + [name]
            raise ConfigError(f"{files[chain[-1]]}: a cycle of extensions: "
                              f"{' -> '.join(n.rsplit('/', 1)[1] for n in loop)}")
        if name in done:
            return
        for parent in parents.get(name, []):
            visit(parent, chain + [name])
        done.add(name)

    for name in sorted(parents):
        visit(name, [])


def add_own_folder(search_path) -> None:
    """Hydra's config search path with the user's folder after the shipped ``conf/``, when the
    shipped one is on it (another Hydra application is left alone)."""
    mine = [e for e in search_path.get_path() if _is_shipped(e.path)]
    if not mine:
        return
    own = own_folder()
    check_extensions([SHIPPED] + ([own] if own else []))
    if own is not None:
        search_path.append(provider="pruning-lab-own", path=f"file://{own}")


def _is_shipped(path: str | None) -> bool:
    if not path or path.startswith("pkg://"):
        return False
    try:
        return Path(path.removeprefix("file://")).resolve() == SHIPPED
    except OSError:
        return False

"""CLI: ``python -m pruning_lab.run [-m] [overrides...]`` runs one job per (seed, treatment).

The result goes to the content-addressed store (``paths.store``) and, as ``result.json``,
into Hydra's job directory. A job whose valid result is already stored is not recomputed.
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from .config import Job
from .protocol import run
from .store import ResultStore, atomic_write, dump_json

log = logging.getLogger("pruning_lab")


def execute(job: Job, store: Path, force: bool = False) -> tuple[dict, bool]:
    """The job's result, from the store when a valid one is there (reused=True), else computed."""
    results = ResultStore(store)
    if not force and (stored := results.load(job.hash)) is not None:
        return stored, True
    result = run(job, store)
    results.save(result)
    return result, False


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> dict:
    job = Job.from_config(cfg)
    result, reused = execute(job, Path(cfg.paths.store), force=bool(cfg.force))
    if reused:
        log.info("[%s seed %d] reused stored result %s", job.treatment.name, job.seed, job.hash)
    atomic_write(Path(HydraConfig.get().runtime.output_dir) / "result.json", dump_json(result))
    return {"config_hash": job.hash, "reused": reused}


if __name__ == "__main__":
    main()
